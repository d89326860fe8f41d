/* The backward of batch statistics in two steps (backend.h,
 * norm_backward_reduce and norm_backward_apply): synchronized batch norm
 * adds every rank's per-channel sums between them. Each channel is reduced
 * by one thread, in double, so nothing depends on the thread count. */
#include <assert.h>

#include "cpu/cpu.h"
#include "cpu/norm_blocked.h"

void nl_cpu_norm_backward_reduce(nl_backend *be, const nl_norm_geom *g, const float *x,
                                 const float *dy, const float *save_mean, const float *save_rstd,
                                 float *sum_dy, float *sum_dy_xhat)
{
    if (g->block) {
        nl_cpu_norm_blocked_backward_reduce(be, g, x, dy, save_mean, save_rstd, sum_dy,
                                            sum_dy_xhat);
        return;
    }
    (void)be;
    assert(g->groups == 0);
    const int n = g->n, c = g->c, hw = g->hw;
    NL_PARALLEL_FOR_IF((long)n * c * hw >= NL_PARALLEL_MIN,
    for (int ch = 0; ch < c; ch++) {
        const float mean = save_mean[ch];
        double s_dy = 0.0, s_dy_xc = 0.0; /* xc: x - mean */
        for (int i = 0; i < n; i++) {
            const float *xp = x + ((size_t)i * c + ch) * hw;
            const float *dp = dy + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) {
                s_dy += dp[j];
                s_dy_xc += (double)dp[j] * (double)(xp[j] - mean);
            }
        }
        sum_dy[ch] = (float)s_dy;
        sum_dy_xhat[ch] = (float)(s_dy_xc * save_rstd[ch]);
    });
}

void nl_cpu_norm_backward_apply(nl_backend *be, const nl_norm_geom *g, const float *x,
                                const float *dy, const float *gamma, const float *save_mean,
                                const float *save_rstd, const float *sum_dy,
                                const float *sum_dy_xhat, double count, float *dx,
                                bool accumulate_dx)
{
    if (g->block) {
        nl_cpu_norm_blocked_backward_apply(be, g, x, dy, gamma, save_mean, save_rstd, sum_dy,
                                           sum_dy_xhat, count, dx, accumulate_dx);
        return;
    }
    (void)be;
    assert(g->groups == 0);
    const int n = g->n, c = g->c, hw = g->hw;
    NL_PARALLEL_FOR_IF((long)n * c * hw >= NL_PARALLEL_MIN,
    for (long plane = 0; plane < (long)n * c; plane++) {
        const int ch = (int)(plane % c);
        const float rstd = save_rstd[ch], mean = save_mean[ch];
        const float scale = rstd * (gamma ? gamma[ch] : 1.0f);
        const float mean_dy = (float)(sum_dy[ch] / count);
        const float mean_dy_xhat = (float)(sum_dy_xhat[ch] / count);
        const float *xp = x + (size_t)plane * hw, *dp = dy + (size_t)plane * hw;
        float *dxp = dx + (size_t)plane * hw;
        for (int j = 0; j < hw; j++) {
            const float xhat = (xp[j] - mean) * rstd;
            const float d = scale * (dp[j] - mean_dy - xhat * mean_dy_xhat);
            dxp[j] = accumulate_dx ? dxp[j] + d : d;
        }
    });
}
