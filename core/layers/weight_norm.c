/* Weight normalization (Salimans & Kingma 2016), a parameter normalizer
 * row: the layer uses w = g * v / ||v|| per output unit, v its weight
 * parameter ("<layer>.weight") and g a learned gain per unit
 * ("<layer>.weight_g"), as torch.nn.utils.weight_norm with dim 0 (a conv's
 * norm over in_c * k * k). g starts at ||v|| (NL_FILL_ROW_NORMS), so that
 * the initial w is v and the initial model that of no transform.
 *
 * No kernels of its own: the norm family's instance-norm geometry on the
 * weight seen as (1, units, fan_in) with no centring and no eps gives
 * g * v * rstd, rstd = 1 / sqrt(mean(v^2)) = sqrt(fan_in) / ||v||; a fixed
 * channel_affine by 1 / sqrt(fan_in) turns it into g * v / ||v||. Backward
 * takes the same two ops in reverse: the scale, then norm_backward, which
 * gives dL/dv and dL/dg (its dgamma). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "layers/param_norm.h"

/* host_constants: the affine map's scale and shift */
enum { WN_SCALE, WN_SHIFT, WN_CONSTANTS };
_Static_assert(WN_CONSTANTS <= NL_PARAM_NORM_CONSTANTS, "weight norm's constants fit nl_param_norm's");

static void wn_plan(nl_builder *b, nl_param_norm *pn, nl_param *weight,
                    const nl_param_norm_spec *spec)
{
    (void)spec;
    char name[sizeof weight->name + 8];
    snprintf(name, sizeof name, "%s_g", weight->name);
    /* a gain like a normalizer's: train.optimizer.decay_norm_and_bias decides its
     * weight decay, as for norm gammas */
    pn->gain = nl_builder_param(b, name, 1, (int[]){pn->units}, true, NL_FILL_ROW_NORMS, 0.0f);
    pn->gain->fill_rows_of = weight;
    pn->geom = (nl_norm_geom){.n = 1, .c = pn->units, .hw = pn->fan_in, .groups = pn->units,
                              .center = false, .eps = 0.0f};
    const size_t weights = (size_t)pn->units * pn->fan_in * sizeof(float);
    nl_builder_saved(b, (void **)&pn->weight, weights);
    nl_builder_saved(b, (void **)&pn->grad, weights);
    nl_builder_saved(b, (void **)&pn->save_mean, (size_t)pn->units * sizeof(float));
    nl_builder_saved(b, (void **)&pn->save_rstd, (size_t)pn->units * sizeof(float));
    pn->host_constants[WN_SCALE] = 1.0f / sqrtf((float)pn->fan_in);
    pn->host_constants[WN_SHIFT] = 0.0f;
    nl_builder_constant(b, (void **)&pn->constants, pn->host_constants,
                        sizeof pn->host_constants);
    nl_builder_norm_workspace(b, &pn->geom);
}

static void wn_forward(nl_param_norm *pn, const nl_pass *pass, const nl_param *weight)
{
    nl_backend *be = pass->be;
    be->ops->norm_forward(be, &pn->geom, weight->data, pn->gain->data, NULL, pn->weight,
                          pn->save_mean, pn->save_rstd, NULL, NULL, NULL);
    be->ops->channel_affine_forward(be, 1, 1, pn->units * pn->fan_in,
                                    pn->constants + WN_SCALE, pn->constants + WN_SHIFT,
                                    pn->weight, pn->weight);
}

static void wn_backward(nl_param_norm *pn, const nl_pass *pass, nl_param *weight)
{
    nl_backend *be = pass->be;
    be->ops->channel_affine_backward(be, 1, 1, pn->units * pn->fan_in, pn->constants + WN_SCALE,
                                     pn->grad, pn->grad, false);
    be->ops->norm_backward(be, &pn->geom, weight->data, pn->grad, pn->gain->data, pn->save_mean,
                           pn->save_rstd, weight->grad, false, pn->gain->grad, NULL,
                           pass->workspace);
}

/* Salimans & Kingma's data-dependent initialization (section 3): with t
 * the unit's output over the batch, g <- g / std(t) and b <- (b -
 * mean(t)) / std(t), so that the unit's output starts at zero mean and unit
 * variance (b = 0 before: the paper's -mean / std). On the host: it runs
 * once, before training. */
static nl_code wn_data_init(nl_param_norm *pn, nl_backend *be, const double *mean,
                            const double *std, nl_param *bias, nl_error *err)
{
    const int units = pn->units;
    float *g = malloc(2 * (size_t)units * sizeof *g);
    if (!g)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory initializing %s", pn->gain->name);
    float *b = g + units;
    be->ops->download(be, g, pn->gain->data, (size_t)units * sizeof *g);
    if (bias)
        be->ops->download(be, b, bias->data, (size_t)units * sizeof *b);
    for (int u = 0; u < units; u++) {
        if (!(std[u] > 0.0))
            continue;
        g[u] = (float)(g[u] / std[u]);
        if (bias)
            b[u] = (float)((b[u] - mean[u]) / std[u]);
    }
    be->ops->upload(be, pn->gain->data, g, (size_t)units * sizeof *g);
    if (bias)
        be->ops->upload(be, bias->data, b, (size_t)units * sizeof *b);
    nl_code rc = be->ops->synchronize(be, err);
    free(g);
    return rc;
}

const nl_param_norm_row nl_param_norm_row_weight = {
    .id = {"weight",
           "weight normalization (Salimans & Kingma 2016): g * v / ||v|| per output unit, g "
           "learned (\"<layer>.weight_g\") and starting at ||v||"},
    .plan = wn_plan,
    .forward = wn_forward,
    .backward = wn_backward,
    .data_init = wn_data_init,
};
