#include "train/loss_scale.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

/* A factor as GradScaler receives it: the config's number is a float
 * here, a Python float (a double) there, so 0.3 would be 0.300000012 here
 * against 0.29999999999999999 there, and their products round apart. The
 * shortest decimal that reads back as the float is the number the config
 * wrote; read as a double, it is GradScaler's. */
static double as_written(float value)
{
    char text[32];
    for (int digits = 1; digits < 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)value);
        if ((float)strtod(text, NULL) == value)
            return strtod(text, NULL);
    }
    return value;
}

/* the arithmetic of torch._amp_update_scale_'s kernel: the scale a float,
 * the factors doubles, each product rounded to float */
void nl_loss_scaler_update(nl_loss_scaler *s, const nl_loss_scale_spec *spec, bool found_inf)
{
    if (found_inf) {
        s->scale = (float)(s->scale * as_written(spec->backoff_factor));
        s->growth_tracker = 0;
        s->skipped_steps++;
        return;
    }
    const long successful = s->growth_tracker + 1;
    if (successful < spec->growth_interval) {
        s->growth_tracker = successful;
        return;
    }
    const float grown = (float)(s->scale * as_written(spec->growth_factor));
    if (isfinite(grown))
        s->scale = grown;
    s->growth_tracker = 0;
}
