/* Spectral normalization (Miyato et al. 2018), a parameter normalizer row:
 * the layer uses w / sigma(w), the weight seen as (units, fan_in) (a conv's
 * (out_c, in_c * k * k), as torch.nn.utils.spectral_norm with dim 0), and
 * sigma = u^T W v the estimate of its largest singular value from power
 * iteration. u ("<layer>.weight_u", units) and v ("<layer>.weight_v",
 * fan_in) are layer state: drawn N(0, 1) and normalized at build, kept
 * across steps and in checkpoints, not trained. A training forward first
 * takes model.param_norm.power_iterations updates
 *   v <- normalize(W^T u), u <- normalize(W v)
 * (normalize: x / max(||x||, 1e-12)); evaluation takes none and uses the
 * stored u, v. Backward treats u, v as constants, as torch does:
 *   dL/dW = (G - <G, W_hat> u v^T) / sigma,  G = dL/dW_hat, W_hat = W / sigma.
 *
 * No kernels of its own, so the CPU and CUDA backends share it: the
 * matrix-vector products are linear ops with a batch of one (W^T u is
 * linear_backward's dx, whose dweight output, unused, lands in pn->grad,
 * free until the layer's backward writes it), the dot products are linear
 * forwards with one output, normalize is the norm family's geometry on the
 * vector seen as (1, 1, len) with no centring (rstd = 1 / sqrt(mean(x^2) +
 * eps) times 1 / sqrt(len) is 1 / sqrt(||x||^2 + 1e-24), torch's
 * 1 / max(||x||, 1e-12) wherever that is not 0 / 0), and 1 / sigma is
 * the rstd the same geometry saves for the one-element "vector" sigma,
 * 1 / |sigma|, times its output, sign(sigma) (sigma is >= 0 after power
 * iteration, and may be of either sign with a stored or initial u, v). */
#include <math.h>
#include <stdio.h>

#include "layers/param_norm.h"

/* pn->state */
enum { SN_U, SN_V, SN_STATES };
/* pn->buffer: sigma, 1 / sigma, sign(sigma) and the unused mean of the
 * norm that gives it, the raw vector before normalize (the longer of u and v),
 * and the backward's <G, W_hat> then -<G, W_hat> u */
enum { SN_SIGMA, SN_INV_SIGMA, SN_SIGMA_SCRATCH, SN_RAW, SN_DOT, SN_SCALED_U, SN_BUFFERS };
/* pn->row_geom */
enum { SN_GEOM_U, SN_GEOM_V, SN_GEOM_SIGMA, SN_GEOMS };
/* host_constants */
enum { SN_INV_SQRT_UNITS, SN_INV_SQRT_FAN_IN, SN_ZERO, SN_MINUS_ONE, SN_CONSTANTS };
_Static_assert(SN_STATES <= NL_PARAM_NORM_STATES && SN_BUFFERS <= NL_PARAM_NORM_BUFFERS &&
                   SN_GEOMS <= NL_PARAM_NORM_GEOMS && SN_CONSTANTS <= NL_PARAM_NORM_CONSTANTS,
               "spectral norm's slots fit nl_param_norm's");

static nl_norm_geom vector_geom(int len)
{
    /* eps / len inside the mean: ||x||^2 + 1e-24 under the square root */
    return (nl_norm_geom){.n = 1, .c = 1, .hw = len, .groups = 1, .center = false,
                          .eps = 1e-24f / (float)len};
}

/* the power iteration's products' scratch, the largest of its three */
static size_t sn_workspace(nl_backend *be, void *what)
{
    const nl_param_norm *pn = what;
    const int units = pn->units, fan_in = pn->fan_in;
    const size_t ws[] = {be->ops->linear_workspace(be, 1, fan_in, units),
                         be->ops->linear_workspace(be, 1, units, 1),
                         be->ops->linear_workspace(be, 1, units * fan_in, 1)};
    size_t bytes = 0;
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
        bytes = ws[i] > bytes ? ws[i] : bytes;
    return bytes;
}

static void sn_plan(nl_builder *b, nl_param_norm *pn, nl_param *weight,
                    const nl_param_norm_spec *spec)
{
    const int units = pn->units, fan_in = pn->fan_in;
    char name[sizeof weight->name + 8];
    snprintf(name, sizeof name, "%s_u", weight->name);
    pn->state[SN_U] = nl_builder_state(b, name, (size_t)units, 0.0f);
    pn->state[SN_U]->unit_normal = true;
    snprintf(name, sizeof name, "%s_v", weight->name);
    pn->state[SN_V] = nl_builder_state(b, name, (size_t)fan_in, 0.0f);
    pn->state[SN_V]->unit_normal = true;
    pn->iterations = spec->power_iterations;
    pn->row_geom[SN_GEOM_U] = vector_geom(units);
    pn->row_geom[SN_GEOM_V] = vector_geom(fan_in);
    pn->row_geom[SN_GEOM_SIGMA] = (nl_norm_geom){.n = 1, .c = 1, .hw = 1, .groups = 1,
                                                 .center = false, .eps = 0.0f};

    const size_t weights = (size_t)units * fan_in * sizeof(float);
    nl_builder_saved(b, (void **)&pn->weight, weights);
    nl_builder_saved(b, (void **)&pn->grad, weights);
    const size_t raw = (size_t)(units > fan_in ? units : fan_in);
    const size_t buffer_floats[SN_BUFFERS] = {
        [SN_SIGMA] = 1, [SN_INV_SIGMA] = 1, [SN_SIGMA_SCRATCH] = 2,
        [SN_RAW] = raw, [SN_DOT] = 2, [SN_SCALED_U] = (size_t)units};
    for (int i = 0; i < SN_BUFFERS; i++)
        nl_builder_saved(b, (void **)&pn->buffer[i], buffer_floats[i] * sizeof(float));
    pn->host_constants[SN_INV_SQRT_UNITS] = 1.0f / sqrtf((float)units);
    pn->host_constants[SN_INV_SQRT_FAN_IN] = 1.0f / sqrtf((float)fan_in);
    pn->host_constants[SN_ZERO] = 0.0f;
    pn->host_constants[SN_MINUS_ONE] = -1.0f;
    nl_builder_constant(b, (void **)&pn->constants, pn->host_constants,
                        sizeof pn->host_constants);

    nl_builder_workspace_asked(b, sn_workspace, pn);
}

/* dst = raw / ||raw|| (torch's normalize), len floats */
static void normalize(nl_param_norm *pn, nl_backend *be, int geom, int inv_sqrt_len,
                      const float *raw, float *dst)
{
    float *scratch = pn->buffer[SN_SIGMA_SCRATCH];
    be->ops->norm_forward(be, &pn->row_geom[geom], raw, NULL, NULL, dst, scratch, scratch + 1,
                          NULL, NULL, NULL);
    be->ops->channel_affine_forward(be, 1, 1, pn->row_geom[geom].hw,
                                    pn->constants + inv_sqrt_len, pn->constants + SN_ZERO, dst,
                                    dst);
}

/* whether this pass updates u, v: torch's module.training */
static bool updates(const nl_pass *pass)
{
    return pass->mode == NL_MODE_TRAIN || pass->mode == NL_MODE_RUNNING_STATS;
}

/* The power iteration and sigma's products are not autocast products:
 * they run fp32 under any train.precision (torch's spectral_norm computes
 * them on the fp32 weight outside autocast's ops). */
static void sn_forward_fp32(nl_param_norm *pn, const nl_pass *pass, const nl_param *weight);
static void sn_backward_fp32(nl_param_norm *pn, const nl_pass *pass, nl_param *weight);

static void sn_forward(nl_param_norm *pn, const nl_pass *pass, const nl_param *weight)
{
    const nl_precision precision = pass->be->product_precision;
    pass->be->product_precision = NL_PRECISION_FP32;
    sn_forward_fp32(pn, pass, weight);
    pass->be->product_precision = precision;
}

static void sn_backward(nl_param_norm *pn, const nl_pass *pass, nl_param *weight)
{
    const nl_precision precision = pass->be->product_precision;
    pass->be->product_precision = NL_PRECISION_FP32;
    sn_backward_fp32(pn, pass, weight);
    pass->be->product_precision = precision;
}

static void sn_forward_fp32(nl_param_norm *pn, const nl_pass *pass, const nl_param *weight)
{
    nl_backend *be = pass->be;
    const int units = pn->units, fan_in = pn->fan_in;
    float *u = pn->state[SN_U]->data, *v = pn->state[SN_V]->data, *raw = pn->buffer[SN_RAW];
    const int iterations = updates(pass) ? pn->iterations : 0;
    for (int it = 0; it < iterations; it++) {
        be->ops->linear_backward(be, 1, fan_in, units, v, weight->data, u, raw, false, pn->grad,
                                 NULL, pass->workspace);
        normalize(pn, be, SN_GEOM_V, SN_INV_SQRT_FAN_IN, raw, v);
        be->ops->linear_forward(be, 1, fan_in, units, v, weight->data, NULL, raw,
                                pass->workspace);
        normalize(pn, be, SN_GEOM_U, SN_INV_SQRT_UNITS, raw, u);
    }
    /* sigma = u . (W v) */
    be->ops->linear_forward(be, 1, fan_in, units, v, weight->data, NULL, raw, pass->workspace);
    be->ops->linear_forward(be, 1, units, 1, u, raw, NULL, pn->buffer[SN_SIGMA], pass->workspace);
    /* 1 / sigma: the one-value norm's rstd is 1 / |sigma| and its output sign(sigma) */
    float *sign = pn->buffer[SN_SIGMA_SCRATCH], *inv_sigma = pn->buffer[SN_INV_SIGMA];
    be->ops->norm_forward(be, &pn->row_geom[SN_GEOM_SIGMA], pn->buffer[SN_SIGMA], NULL, NULL,
                          sign, sign + 1, inv_sigma, NULL, NULL, NULL);
    be->ops->channel_affine_forward(be, 1, 1, 1, sign, pn->constants + SN_ZERO, inv_sigma,
                                    inv_sigma);
    be->ops->channel_affine_forward(be, 1, 1, units * fan_in, pn->buffer[SN_INV_SIGMA],
                                    pn->constants + SN_ZERO, weight->data, pn->weight);
}

static void sn_backward_fp32(nl_param_norm *pn, const nl_pass *pass, nl_param *weight)
{
    nl_backend *be = pass->be;
    const int units = pn->units, fan_in = pn->fan_in;
    const float *u = pn->state[SN_U]->data, *v = pn->state[SN_V]->data;
    float *dot = pn->buffer[SN_DOT], *scaled_u = pn->buffer[SN_SCALED_U];
    /* -<G, W_hat> u */
    be->ops->linear_forward(be, 1, units * fan_in, 1, pn->grad, pn->weight, NULL, dot,
                            pass->workspace);
    be->ops->channel_affine_forward(be, 1, 1, 1, pn->constants + SN_MINUS_ONE,
                                    pn->constants + SN_ZERO, dot, dot + 1);
    be->ops->channel_affine_forward(be, 1, 1, units, dot + 1, pn->constants + SN_ZERO, u,
                                    scaled_u);
    /* (G - <G, W_hat> u v^T) / sigma: the outer product is linear_backward's
     * dweight of dy = scaled_u and x = v */
    be->ops->linear_backward(be, 1, fan_in, units, v, weight->data, scaled_u, NULL, false,
                             weight->grad, NULL, pass->workspace);
    be->ops->add_forward(be, (size_t)units * fan_in, pn->grad, weight->grad, weight->grad);
    be->ops->channel_affine_forward(be, 1, 1, units * fan_in, pn->buffer[SN_INV_SIGMA],
                                    pn->constants + SN_ZERO, weight->grad, weight->grad);
}

static const float *sn_estimate(const nl_param_norm *pn) { return pn->buffer[SN_SIGMA]; }

const nl_param_norm_row nl_param_norm_row_spectral = {
    .id = {"spectral",
           "spectral normalization (Miyato et al. 2018): w / sigma, sigma = u^T W v by power "
           "iteration on the weight as (out, fan-in), u, v the layer state "
           "\"<layer>.weight_u\", \"<layer>.weight_v\""},
    .plan = sn_plan,
    .forward = sn_forward,
    .backward = sn_backward,
    .estimate = sn_estimate,
};
