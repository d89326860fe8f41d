#include "train/loss_scale.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

nl_code nl_loss_scaling_open(nl_loss_scaling *ls, nl_model *m, bool scales, bool counts_zeros,
                             nl_error *err)
{
    nl_backend *be = m->be;
    *ls = (nl_loss_scaling){.scales = scales, .counts_zeros = counts_zeros};
    if (!scales && !counts_zeros)
        return NL_OK;
    nl_code rc = be->ops->alloc(be, NL_SCALE_FLOATS * sizeof(float), (void **)&ls->dev, err);
    if (rc == NL_OK)
        rc = be->ops->alloc(be, 2 * NL_UNSCALE_SLOTS * sizeof(double), (void **)&ls->slots, err);
    if (rc)
        return rc;
    const double zeros[2 * NL_UNSCALE_SLOTS] = {0};
    be->ops->upload(be, ls->slots, zeros, sizeof zeros);
    if ((rc = be->ops->synchronize(be, err)))
        return rc;
    double elements = 0.0;
    for (int i = 0; i < m->n_params; i++)
        elements += (double)m->params[i]->count;
    ls->grad_elements = elements;
    ls->padding_elements = (double)m->param_floats - elements;
    if (scales) {
        m->loss_scale = ls->dev + NL_SCALE_FACTOR;
        m->loss_scale_flag = ls->dev + NL_SCALE_SEED_FLAG;
        m->loss_scale_slots = ls->slots;
    }
    return NL_OK;
}

void nl_loss_scaling_close(nl_loss_scaling *ls, nl_model *m)
{
    nl_backend *be = m->be;
    if (ls->dev)
        be->ops->release(be, ls->dev);
    if (ls->slots)
        be->ops->release(be, ls->slots);
    ls->dev = NULL;
    ls->slots = NULL;
    m->loss_scale = NULL;
    m->loss_scale_flag = NULL;
    m->loss_scale_slots = NULL;
}

void nl_loss_scaling_prepare(nl_loss_scaling *ls, nl_model *m, const nl_loss_scaler *scaler)
{
    nl_backend *be = m->be;
    ls->host[NL_SCALE_FACTOR] = ls->scales ? (float)scaler->scale : 1.0f;
    ls->host[NL_SCALE_INVERSE] = ls->scales ? nl_loss_scaler_inverse(scaler) : 1.0f;
    ls->host[NL_SCALE_SEED_FLAG] = ls->host[NL_SCALE_FOUND_INF] = 0.0f;
    ls->zero_count = 0.0;
    be->ops->upload(be, ls->dev, ls->host, sizeof ls->host);
    be->ops->upload(be, ls->slots + NL_UNSCALE_SLOTS + NL_UNSCALE_ZEROS, &ls->zero_count,
                    sizeof ls->zero_count);
}

void nl_loss_scaling_unscale(nl_loss_scaling *ls, nl_model *m, bool *found_inf)
{
    nl_backend *be = m->be;
    be->ops->scale_check_finite(be, m->param_floats, m->grad_arena, ls->dev + NL_SCALE_INVERSE,
                                ls->dev + NL_SCALE_FOUND_INF, ls->slots + NL_UNSCALE_SLOTS);
    *found_inf = false;
    if (ls->scales) {
        float flag;
        be->ops->download(be, &flag, ls->dev + NL_SCALE_FOUND_INF, sizeof flag);
        *found_inf = flag != 0.0f;
    }
}

nl_code nl_loss_scaling_emit(const nl_loss_scaling *ls, nl_model *m, nl_series_fn series,
                             void *ctx, long step, double scale_used, long skipped_steps,
                             nl_error *err)
{
    nl_backend *be = m->be;
    double zeros;
    be->ops->download(be, &zeros, ls->slots + NL_UNSCALE_SLOTS + NL_UNSCALE_ZEROS, sizeof zeros);
    const double share = ls->grad_elements > 0
                             ? (zeros - ls->padding_elements) / ls->grad_elements : NAN;
    nl_code rc = NL_OK;
    if (ls->scales)
        rc = series(ctx, step, NL_SERIES_LOSS_SCALE, 0, "model", scale_used, err);
    if (rc == NL_OK && ls->scales)
        rc = series(ctx, step, NL_SERIES_SKIPPED_STEPS, 0, "model",
                          (double)skipped_steps, err);
    if (rc == NL_OK)
        rc = series(ctx, step, NL_SERIES_GRAD_ZERO_SHARE, 0, "model", share, err);
    return rc;
}
