/* The fusion pass (plan.h): a ReLU after a normalizer folded into the
 * normalizer's apply pass and backward, a post-activation block's residual
 * add into the normalizer before it, a CNN stage's last ReLU into its max
 * pooling. Each gives the same numbers without the tensor it folds away, so
 * each stays apart where a probe observes that tensor. */
#include "plan/plan.h"

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
