/* The fusion pass (plan.h): a ReLU after a normalizer folded into the
 * normalizer's apply pass and backward, a post-activation block's residual
 * add into the normalizer before it, a CNN stage's last ReLU into its max
 * pooling. Each gives the same numbers without the tensor it folds away, so
 * each stays apart where a probe observes that tensor. */
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"

bool nl_normlab_fuse_off(void)
{
    const char *v = getenv("NORMLAB_FUSE");
    return v && (strcmp(v, "0") == 0 || strcmp(v, "off") == 0);
}

nl_code nl_normlab_fuse_check(nl_error *err)
{
    const char *v = getenv("NORMLAB_FUSE");
    static const char *const accepted[] = {"", "0", "off", "1", "on"};
    for (size_t i = 0; v && i < sizeof accepted / sizeof *accepted; i++)
        if (!strcmp(v, accepted[i]))
            return NL_OK;
    return v ? nl_fail(err, NL_ERR_USAGE, "NORMLAB_FUSE=%s: accepted: 1 or on (a ReLU and a residual add "
                       "fused into the normalizer, the default), 0 or off (not fused)", v)
             : NL_OK;
}

void nl_plan_fuse(nl_model_spec *spec, const nl_plan_run *run)
{
    /* a traced activation must be a tensor: no ReLU folded into a pooling
     * or a normalizer (the trace may name any activation) */
    if (run->traces_activation)
        spec->fuse_relu_pool = false;
    if (run->traces_activation || run->fuse_off)
        spec->fuse_norm_relu = false;
    if (run->observes_adds)
        spec->fuse_residual_add = false;
}
