/* Weight standardization (Qiao et al. 2019), a parameter normalizer row: a
 * layer's weight is used as w_hat = (w - mean) / sqrt(var + eps) per output
 * unit over its fan-in, with the biased variance (timm's StdConv2d). That
 * is the norm family's layer-norm geometry on the weight seen as (out
 * units, 1, fan-in): no new kernels, and the weight gradient chains back
 * through norm_backward. */
#include "layers/param_norm.h"

static void ws_plan(nl_builder *b, nl_param_norm *pn, nl_param *weight,
                    const nl_param_norm_spec *spec)
{
    (void)weight;
    pn->geom = (nl_norm_geom){.n = pn->units, .c = 1, .hw = pn->fan_in, .groups = 1,
                              .center = true, .eps = spec->eps};
    const size_t weights = (size_t)pn->units * pn->fan_in * sizeof(float);
    nl_builder_saved(b, (void **)&pn->weight, weights);
    nl_builder_saved(b, (void **)&pn->grad, weights);
    nl_builder_saved(b, (void **)&pn->save_mean, (size_t)pn->units * sizeof(float));
    nl_builder_saved(b, (void **)&pn->save_rstd, (size_t)pn->units * sizeof(float));
    nl_builder_norm_workspace(b, &pn->geom);
}

static void ws_forward(nl_param_norm *pn, const nl_pass *pass, const nl_param *weight)
{
    pass->be->ops->norm_forward(pass->be, &pn->geom, weight->data, NULL, NULL, pn->weight,
                                pn->save_mean, pn->save_rstd, NULL, NULL, NULL);
}

static void ws_backward(nl_param_norm *pn, const nl_pass *pass, nl_param *weight)
{
    pass->be->ops->norm_backward(pass->be, &pn->geom, weight->data, pn->grad, NULL,
                                 pn->save_mean, pn->save_rstd, weight->grad, false, NULL, NULL,
                                 pass->workspace);
}

const nl_param_norm_row nl_param_norm_row_standardization = {
    .id = {"standardization",
           "weight standardization (Qiao et al. 2019): (w - mean) / sqrt(var + eps) per output "
           "unit over its fan-in"},
    .plan = ws_plan,
    .forward = ws_forward,
    .backward = ws_backward,
};
