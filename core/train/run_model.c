#include "train/run_model.h"

#include "plan/plan.h"

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

nl_code nl_run_model_plan(const nl_config *cfg, nl_device device, nl_model_spec *spec,
                          nl_error *err)
{
    const nl_plan_run run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    nl_code rc = nl_plan_model(&cfg->model, &run, device, spec, NULL, err);
    spec->norm.freezable = cfg->train.freeze_bn_after > 0 ||
                           cfg->train.init_bn.policy == NL_BN_POLICY_FREEZE;
    return rc;
}

void nl_run_model_spec(const nl_config *cfg, nl_model_spec *spec)
{
    /* validation planned this config for its device and refused what the
     * plan cannot run, so no error is left here */
    nl_error ignored = {0};
    nl_run_model_plan(cfg, cfg->device, spec, &ignored);
}

int nl_run_capacity(const nl_config *cfg)
{
    const nl_train_spec *t = &cfg->train;
    return t->batch_size > t->eval_batch_size ? t->batch_size : t->eval_batch_size;
}
