#include "train/run_model.h"

bool nl_trace_accepts(const nl_act *act) { return act->shape.ndim != 3; }

void nl_run_model_spec(const nl_config *cfg, nl_model_spec *spec)
{
    *spec = cfg->model;
    /* a traced activation must be a tensor: no ReLU folded into a pooling */
    if (cfg->train.trace.activation[0])
        spec->fuse_relu_pool = false;
    spec->norm.freezable = cfg->train.freeze_bn_after > 0 ||
                           cfg->train.init_bn.policy == NL_BN_POLICY_FREEZE;
}

int nl_run_capacity(const nl_config *cfg)
{
    const nl_train_spec *t = &cfg->train;
    return t->batch_size > t->eval_batch_size ? t->batch_size : t->eval_batch_size;
}
