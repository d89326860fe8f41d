#include "train/run_model.h"

#include "plan/plan.h"

#include <stdlib.h>
#include <string.h>

bool nl_trace_accepts(const nl_act *act) { return act->shape.ndim != 3; }

nl_code nl_run_model_plan(const nl_config *cfg, nl_device device, nl_model_spec *spec,
                          nl_error *err)
{
    const nl_plan_run run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    return nl_plan_model(&cfg->model, &run, device, spec, err);
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
