/* Switchable Normalization's own ops (backend.h, switch_mix and
 * switch_backward with its channel-blocked twin; norm/switchable.c): the
 * mix of the instance, layer and batch statistics that norm_stats took,
 * and the backward through it. Plain
 * loops: the per-plane sums one plane per thread, the cross-plane sums
 * (over channels for the layer statistics, over samples for the batch
 * ones, over everything for the mixture weights) on one thread in a fixed
 * order, every sum in double; tested against core/norm/reference.c. */
#include <math.h>

#include "base/switch_ops.h"
#include "cpu/cpu.h"

void nl_cpu_switch_mix(nl_backend *be, int n, int c, const float *lambda, const float *mean_in,
                       const float *var_in, const float *mean_ln, const float *var_ln,
                       const float *mean_bn, const float *var_bn, float *mean, float *var,
                       float *weights)
{
    (void)be;
    double a[3], b[3];
    nl_switch_softmax3(lambda, a);
    nl_switch_softmax3(lambda + 3, b);
    for (int k = 0; k < 3; k++) {
        weights[k] = (float)a[k];
        weights[3 + k] = (float)b[k];
    }
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            nl_switch_mix_plane(a, b, (size_t)i * c + ch, i, ch, mean_in, var_in, mean_ln, var_ln,
                                mean_bn, var_bn, mean, var);
}

/* sum dy and sum dy * (x - m) over one plane */
static inline __attribute__((always_inline)) void
plane_sums(const float *xp, const float *dp, size_t step, int hw, float m, double *sd_out,
           double *sdx_out)
{
    double sd = 0.0, sdx = 0.0;
    for (int j = 0; j < hw; j++) {
        sd += dp[j * step];
        sdx += (double)dp[j * step] * (double)(xp[j * step] - m);
    }
    *sd_out = sd;
    *sdx_out = sdx;
}

/* dx over one plane from its coefficients */
typedef struct {
    float scale, m, v_in, v_ln, v_bn, mu_in, mu_ln, mu_bn;
} plane_dx;

static inline __attribute__((always_inline)) void
plane_grad(const float *xp, const float *dp, float *dxp, size_t step, int hw, const plane_dx *k,
           bool accumulate)
{
    for (int j = 0; j < hw; j++) {
        const float d = k->scale * dp[j * step] + k->m + k->v_in * (xp[j * step] - k->mu_in) +
                        k->v_ln * (xp[j * step] - k->mu_ln) + k->v_bn * (xp[j * step] - k->mu_bn);
        dxp[j * step] = accumulate ? dxp[j * step] + d : d;
    }
}

size_t nl_cpu_switch_backward_workspace(nl_backend *be, int n, int c)
{
    (void)be;
    return nl_switch_work_bytes(n, c);
}

/* both layouts' backward: block 0 (N, C, HW), B > 0 channel-blocked; each
 * plane read through nl_plane_of in pixel order, so its sums and its dx
 * are the same bits in either */
static void switch_backward(int block, int n, int c, int hw, const float *x, const float *dy,
                            const float *gamma, const float *mean, const float *rstd,
                            const float *weights, const float *mean_in, const float *mean_ln,
                            const float *mean_bn, const float *var_in, const float *var_ln,
                            const float *var_bn, bool batch_grad, float *dx, bool accumulate_dx,
                            float *dgamma, float *dbeta, float *dlambda, void *workspace)
{
    const size_t planes = (size_t)n * c;
    const nl_switch_work work = nl_switch_work_of(workspace, n, c);
    double *s_dy = work.s_dy, *s_dy_xhat = work.s_dy_xhat, *gm = work.gm, *gv = work.gv,
           *ln_m = work.ln_m, *ln_v = work.ln_v, *bn_m = work.bn_m, *bn_v = work.bn_v;
    const long total = (long)planes * hw;
    NL_PARALLEL_FOR_IF(total >= NL_PARALLEL_MIN,
    for (long nc = 0; nc < (long)planes; nc++) {
        const double r = rstd[nc], g = gamma ? gamma[nc % c] : 1.0;
        const float m = mean[nc];
        const nl_plane_at at = nl_plane_of(c, hw, block, nc);
        double sd, sdx; /* sum dy, sum dy * (x - mean) */
        if (at.step == 1)
            plane_sums(x + at.first, dy + at.first, 1, hw, m, &sd, &sdx);
        else
            plane_sums(x + at.first, dy + at.first, at.step, hw, m, &sd, &sdx);
        s_dy[nc] = sd;
        s_dy_xhat[nc] = sdx * r;
        gm[nc] = -r * g * sd;
        gv[nc] = -0.5 * r * r * g * sdx * r;
    });
    double d[6] = {0}; /* the six mixture weights' gradients */
    for (int i = 0; i < n; i++)
        ln_m[i] = ln_v[i] = 0.0;
    for (int ch = 0; ch < c; ch++) {
        bn_m[ch] = bn_v[ch] = 0.0;
        double sg = 0.0, sb = 0.0;
        for (int i = 0; i < n; i++) {
            const size_t nc = (size_t)i * c + ch;
            sg += s_dy_xhat[nc];
            sb += s_dy[nc];
            bn_m[ch] += gm[nc];
            bn_v[ch] += gv[nc];
        }
        if (dgamma)
            dgamma[ch] = (float)sg;
        if (dbeta)
            dbeta[ch] = (float)sb;
    }
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const size_t nc = (size_t)i * c + ch;
            ln_m[i] += gm[nc];
            ln_v[i] += gv[nc];
            nl_switch_weight_grads(d, gm[nc], gv[nc], nc, i, ch, mean_in, mean_ln, mean_bn, var_in,
                                   var_ln, var_bn);
        }
    nl_switch_dlambda(weights, d, dlambda);
    if (!dx)
        return;
    const double a_in = weights[0], a_ln = weights[1], a_bn = batch_grad ? weights[2] : 0.0;
    const double b_in = weights[3], b_ln = weights[4], b_bn = batch_grad ? weights[5] : 0.0;
    const double in_count = hw, ln_count = (double)c * hw, bn_count = (double)n * hw;
    NL_PARALLEL_FOR_IF(total >= NL_PARALLEL_MIN,
    for (long nc = 0; nc < (long)planes; nc++) {
        const int i = (int)(nc / c), ch = (int)(nc % c);
        const float scale = rstd[nc] * (gamma ? gamma[ch] : 1.0f);
        /* each statistic's share: its mean's gradient, and its variance's
         * times 2 (x - its mean), taken about each mean so that an offset
         * input cancels exactly */
        const float m = (float)(a_in * gm[nc] / in_count + a_ln * ln_m[i] / ln_count +
                                a_bn * bn_m[ch] / bn_count);
        const float v_in = (float)(2.0 * b_in * gv[nc] / in_count);
        const float v_ln = (float)(2.0 * b_ln * ln_v[i] / ln_count);
        const float v_bn = (float)(2.0 * b_bn * bn_v[ch] / bn_count);
        const float mu_in = mean_in[nc], mu_ln = mean_ln[i], mu_bn = mean_bn[ch];
        const nl_plane_at at = nl_plane_of(c, hw, block, nc);
        const plane_dx k = {scale, m, v_in, v_ln, v_bn, mu_in, mu_ln, mu_bn};
        if (at.step == 1)
            plane_grad(x + at.first, dy + at.first, dx + at.first, 1, hw, &k, accumulate_dx);
        else
            plane_grad(x + at.first, dy + at.first, dx + at.first, at.step, hw, &k,
                       accumulate_dx);
    });
}

void nl_cpu_switch_backward(nl_backend *be, int n, int c, int hw, const float *x, const float *dy,
                            const float *gamma, const float *mean, const float *rstd,
                            const float *weights, const float *mean_in, const float *mean_ln,
                            const float *mean_bn, const float *var_in, const float *var_ln,
                            const float *var_bn, bool batch_grad, float *dx, bool accumulate_dx,
                            float *dgamma, float *dbeta, float *dlambda, void *workspace)
{
    (void)be;
    switch_backward(0, n, c, hw, x, dy, gamma, mean, rstd, weights, mean_in, mean_ln, mean_bn,
                    var_in, var_ln, var_bn, batch_grad, dx, accumulate_dx, dgamma, dbeta, dlambda,
                    workspace);
}

void nl_cpu_switch_backward_blocked(nl_backend *be, int block, int n, int c, int hw,
                                    const float *x, const float *dy, const float *gamma,
                                    const float *mean, const float *rstd, const float *weights,
                                    const float *mean_in, const float *mean_ln,
                                    const float *mean_bn, const float *var_in,
                                    const float *var_ln, const float *var_bn, bool batch_grad,
                                    float *dx, bool accumulate_dx, float *dgamma, float *dbeta,
                                    float *dlambda, void *workspace)
{
    (void)be;
    switch_backward(block, n, c, hw, x, dy, gamma, mean, rstd, weights, mean_in, mean_ln, mean_bn,
                    var_in, var_ln, var_bn, batch_grad, dx, accumulate_dx, dgamma, dbeta, dlambda,
                    workspace);
}
