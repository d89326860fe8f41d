/* Weight standardization (Qiao et al. 2019): a layer's weight is used as
 * w_hat = (w - mean) / sqrt(var + eps) per output unit over its fan-in,
 * with the biased variance (timm's StdConv2d). That is the norm family's
 * layer-norm geometry on the weight seen as (out units, 1, fan-in): no new
 * kernels, and the weight gradient chains back through norm_backward. */
#include <stdio.h>

#include "layers/layer.h"

void nl_weight_std_plan(nl_builder *b, nl_weight_std *ws, int units, int fan_in, float eps)
{
    ws->geom = (nl_norm_geom){.n = units, .c = 1, .hw = fan_in, .groups = 1, .center = true,
                              .eps = eps};
    const size_t weights = (size_t)units * fan_in * sizeof(float);
    nl_builder_saved(b, (void **)&ws->weight, weights);
    nl_builder_saved(b, (void **)&ws->grad, weights);
    nl_builder_saved(b, (void **)&ws->save_mean, (size_t)units * sizeof(float));
    nl_builder_saved(b, (void **)&ws->save_rstd, (size_t)units * sizeof(float));
    nl_backend *be = nl_builder_backend(b);
    nl_builder_workspace(b, be->ops->norm_backward_workspace(be, &ws->geom));
}

const float *nl_weight_std_forward(nl_weight_std *ws, nl_backend *be, const float *weight)
{
    be->ops->norm_forward(be, &ws->geom, weight, NULL, NULL, ws->weight, ws->save_mean,
                          ws->save_rstd, NULL, NULL, NULL);
    return ws->weight;
}

void nl_weight_std_backward(nl_weight_std *ws, nl_backend *be, const float *weight,
                            float *dweight, void *workspace)
{
    be->ops->norm_backward(be, &ws->geom, weight, ws->grad, NULL, ws->save_mean, ws->save_rstd,
                           dweight, false, NULL, NULL, workspace);
}
