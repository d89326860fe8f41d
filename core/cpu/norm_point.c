/* The design space's points that the fused normalization kernels do not
 * compute (backend.h, norm_to_point and norm_backward_point; norm/custom.c
 * uses them): a mean subtracted with the values divided by their root mean
 * square about 0, a standard deviation divided by without the mean
 * subtracted, or nothing divided by. Plain loops, one statistics group or
 * one channel per thread, every sum in double in a fixed order, so nothing
 * depends on the thread count; tested against core/norm/reference.c. */
#include "cpu/cpu.h"

void nl_cpu_norm_to_point(nl_backend *be, int count, bool center, nl_norm_scale scale,
                          const float *mean, const float *var, float *shift, float *divisor_var)
{
    (void)be;
    for (int s = 0; s < count; s++) {
        const float m = mean[s], v = var[s];
        shift[s] = center ? m : 0.0f;
        divisor_var[s] = scale == NL_SCALE_STD   ? v
                         : scale == NL_SCALE_RMS ? (float)((double)v + (double)m * m)
                                                 : 1.0f;
    }
}

/* where statistics group s's planes lie: plane k at x + plane_at(k) * hw */
typedef struct {
    size_t first, step; /* plane index of plane 0, and from one plane to the next */
    int ch0, chstep;    /* channel of plane 0, and from one plane to the next */
    int planes;
} group_planes;

static group_planes planes_of(const nl_norm_geom *g, long s)
{
    if (g->groups == 0) /* batch statistics: channel s of every sample */
        return (group_planes){.first = (size_t)s, .step = (size_t)g->c, .ch0 = (int)s,
                              .chstep = 0, .planes = g->n};
    const int cpg = g->c / g->groups;
    const long i = s / g->groups, q = s % g->groups;
    return (group_planes){.first = (size_t)i * g->c + (size_t)q * cpg, .step = 1,
                          .ch0 = (int)q * cpg, .chstep = 1, .planes = cpg};
}

/* the statistics group of plane (i, ch) */
static long group_of(const nl_norm_geom *g, int i, int ch)
{
    return g->groups == 0 ? ch : (long)i * g->groups + ch / (g->c / g->groups);
}

size_t nl_cpu_norm_backward_point_workspace(nl_backend *be, const nl_norm_geom *g)
{
    (void)be;
    return 2 * (size_t)nl_norm_stat_groups(g) * sizeof(double);
}

void nl_cpu_norm_backward_point(nl_backend *be, const nl_norm_geom *g, nl_norm_scale scale,
                                const float *x, const float *dy, const float *gamma,
                                const float *shift, const float *mean, const float *rstd,
                                float *dx, bool accumulate_dx, float *dgamma, float *dbeta,
                                void *workspace)
{
    (void)be;
    const long groups = nl_norm_stat_groups(g);
    const int hw = g->hw;
    const double count = (double)nl_norm_group_count(g);
    const bool divides = scale != NL_SCALE_NONE;
    /* per group: E[dxhat] (0 uncentred), E[dxhat * xhat] (0 for none) */
    double *mean_dxhat = workspace, *mean_dxhat_xhat = mean_dxhat + groups;
    const long total = (long)g->n * g->c * hw;
    NL_PARALLEL_FOR_IF(total >= NL_PARALLEL_MIN,
    for (long s = 0; s < groups; s++) {
        const group_planes p = planes_of(g, s);
        const double r = divides ? rstd[s] : 1.0;
        const float sh = shift[s];
        double sum = 0.0, sum_xhat = 0.0;
        for (int k = 0; k < p.planes; k++) {
            const int ch = p.ch0 + k * p.chstep;
            const double gm = gamma ? gamma[ch] : 1.0;
            const size_t at = (p.first + (size_t)k * p.step) * hw;
            double plane_dy = 0.0, plane_dy_xc = 0.0; /* xc: x - shift */
            for (int j = 0; j < hw; j++) {
                plane_dy += dy[at + j];
                plane_dy_xc += (double)dy[at + j] * (double)(x[at + j] - sh);
            }
            sum += gm * plane_dy;
            sum_xhat += gm * plane_dy_xc * r;
        }
        mean_dxhat[s] = g->center ? sum / count : 0.0;
        mean_dxhat_xhat[s] = divides ? sum_xhat / count : 0.0;
    });
    if (dx)
        NL_PARALLEL_FOR_IF(total >= NL_PARALLEL_MIN,
        for (long plane = 0; plane < (long)g->n * g->c; plane++) {
            const int i = (int)(plane / g->c), ch = (int)(plane % g->c);
            const long s = group_of(g, i, ch);
            const float r = divides ? rstd[s] : 1.0f;
            const float gm = gamma ? gamma[ch] : 1.0f;
            /* u = (x - centre) * r: the second moment's centre is the
             * mean for std, 0 for rms */
            const float centre = scale == NL_SCALE_STD ? mean[s] : 0.0f;
            const float a = (float)mean_dxhat[s], b = (float)mean_dxhat_xhat[s];
            const float *xp = x + (size_t)plane * hw, *dp = dy + (size_t)plane * hw;
            float *dxp = dx + (size_t)plane * hw;
            for (int j = 0; j < hw; j++) {
                const float u = (xp[j] - centre) * r;
                const float d = r * (gm * dp[j] - a - u * b);
                dxp[j] = accumulate_dx ? dxp[j] + d : d;
            }
        });
    if (dgamma || dbeta)
        NL_PARALLEL_FOR_IF(total >= NL_PARALLEL_MIN,
        for (int ch = 0; ch < g->c; ch++) {
            double s_dy = 0.0, s_dy_xhat = 0.0;
            for (int i = 0; i < g->n; i++) {
                const long s = group_of(g, i, ch);
                const double r = divides ? rstd[s] : 1.0;
                const float sh = shift[s];
                const size_t at = ((size_t)i * g->c + ch) * hw;
                double plane_dy = 0.0, plane_dy_xc = 0.0;
                for (int j = 0; j < hw; j++) {
                    plane_dy += dy[at + j];
                    plane_dy_xc += (double)dy[at + j] * (double)(x[at + j] - sh);
                }
                s_dy += plane_dy;
                s_dy_xhat += plane_dy_xc * r;
            }
            if (dgamma)
                dgamma[ch] = (float)s_dy_xhat;
            if (dbeta)
                dbeta[ch] = (float)s_dy;
        });
}
