/* nl_plan_model: the passes in order over the config's model (plan.h). */
#include "plan/plan.h"

nl_code nl_plan_model(const nl_model_spec *model, const nl_plan_run *run, nl_device device,
                      nl_model_spec *out, nl_error *err)
{
    *out = *model;
    out->product_precision = run->precision;
    nl_plan_fuse(out, run);
    const nl_device_caps caps = nl_device_caps_of(device);
    return nl_plan_layout(out, &caps, run->train_batch, err);
}
