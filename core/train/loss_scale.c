#include "train/loss_scale.h"

#include <math.h>

void nl_loss_scale_spec_defaults(nl_loss_scale_spec *spec)
{
    /* GradScaler's defaults; enabled is resolved from train.precision */
    *spec = (nl_loss_scale_spec){.enabled = false, .init_scale = 65536.0f, .growth_factor = 2.0f,
                                 .backoff_factor = 0.5f, .growth_interval = 2000};
}

void nl_loss_scaler_start(nl_loss_scaler *s, const nl_loss_scale_spec *spec)
{
    *s = (nl_loss_scaler){.scale = spec->init_scale, .growth_tracker = 0, .skipped_steps = 0};
}

float nl_loss_scaler_inverse(const nl_loss_scaler *s) { return (float)(1.0 / s->scale); }

/* the arithmetic of torch._amp_update_scale_'s kernel: the scale a float,
 * the factors doubles (GradScaler passes Python floats), each product
 * rounded to float */
void nl_loss_scaler_update(nl_loss_scaler *s, const nl_loss_scale_spec *spec, bool found_inf)
{
    if (found_inf) {
        s->scale = (float)(s->scale * (double)spec->backoff_factor);
        s->growth_tracker = 0;
        s->skipped_steps++;
        return;
    }
    const long successful = s->growth_tracker + 1;
    if (successful < spec->growth_interval) {
        s->growth_tracker = successful;
        return;
    }
    const float grown = (float)(s->scale * (double)spec->growth_factor);
    if (isfinite(grown))
        s->scale = grown;
    s->growth_tracker = 0;
}
