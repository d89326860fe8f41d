#include "train/run_model.h"

#include <stdlib.h>
#include <string.h>

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

bool nl_trace_accepts(const nl_act *act) { return act->shape.ndim != 3; }

void nl_run_model_spec(const nl_config *cfg, nl_model_spec *spec)
{
    *spec = cfg->model;
    /* validation copies it too (config/resolve.c: derive); a config filled
     * without being loaded (a test's, a tool's) plans at its own as well */
    spec->product_precision = cfg->train.precision;
    /* a traced activation must be a tensor: no ReLU folded into a pooling */
    if (cfg->train.trace.activation[0])
        spec->fuse_relu_pool = false;
    /* a ReLU fused into its normalizer leaves no pre-activation tensor, and
     * a fused residual add no add layer: off where a probe observes them
     * (the trace may name any activation; signal propagation measures each
     * add's output, block removal drops each add's branch), and with
     * NORMLAB_FUSE=0 (the unfused model, the same numbers) */
    if (cfg->train.trace.activation[0] || nl_normlab_fuse_off())
        spec->fuse_norm_relu = false;
    if (cfg->train.log_signal_propagation || cfg->train.log_probe[NL_PROBE_LOG_blockskip])
        spec->fuse_residual_add = false;
    spec->norm.freezable = cfg->train.freeze_bn_after > 0 ||
                           cfg->train.init_bn.policy == NL_BN_POLICY_FREEZE;
}

int nl_run_capacity(const nl_config *cfg)
{
    const nl_train_spec *t = &cfg->train;
    return t->batch_size > t->eval_batch_size ? t->batch_size : t->eval_batch_size;
}
