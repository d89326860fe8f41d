/* The design space's points that the fused normalization kernels do not
 * compute (backend.h, norm_to_point and norm_backward_point; norm/custom.c
 * uses them): a mean subtracted with the values divided by their root mean
 * square about 0, a standard deviation divided by without the mean
 * subtracted, or nothing divided by. Plain loops, one statistics group or
 * one channel per thread, every sum in double in a fixed order, so nothing
 * depends on the thread count; tested against core/norm/reference.c. A
 * plane is read through nl_plane_of, so the channel-blocked layout (g->block)
 * takes the same sums in the same order. */
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

/* sum dy and sum dy * (x - shift) over one plane (nl_plane_of) */
static inline __attribute__((always_inline)) void
plane_sums(const float *x, const float *dy, size_t step, int hw, float shift, double *sum_dy,
           double *sum_dy_xc)
{
    double plane_dy = 0.0, plane_dy_xc = 0.0; /* xc: x - shift */
    for (int j = 0; j < hw; j++) {
        plane_dy += dy[j * step];
        plane_dy_xc += (double)dy[j * step] * (double)(x[j * step] - shift);
    }
    *sum_dy = plane_dy;
    *sum_dy_xc = plane_dy_xc;
}

static void plane_sums_at(const nl_norm_geom *g, long plane, const float *x, const float *dy,
                          float shift, double *sum_dy, double *sum_dy_xc)
{
    const nl_plane_at at = nl_plane_of(g->c, g->hw, g->block, plane);
    if (at.step == 1) /* the plain layout's loop, as it was */
        plane_sums(x + at.first, dy + at.first, 1, g->hw, shift, sum_dy, sum_dy_xc);
    else
        plane_sums(x + at.first, dy + at.first, at.step, g->hw, shift, sum_dy, sum_dy_xc);
}

/* dx = r * (gm * dy - a - u * b) over one plane, u = (x - centre) * r */
typedef struct {
    float r, gm, centre, a, b;
} plane_dx;

static inline __attribute__((always_inline)) void
plane_grad(const float *xp, const float *dp, float *dxp, size_t step, int hw, const plane_dx *k,
           bool accumulate)
{
    for (int j = 0; j < hw; j++) {
        const float u = (xp[j * step] - k->centre) * k->r;
        const float d = k->r * (k->gm * dp[j * step] - k->a - u * k->b);
        dxp[j * step] = accumulate ? dxp[j * step] + d : d;
    }
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
            double plane_dy, plane_dy_xc; /* xc: x - shift */
            plane_sums_at(g, (long)(p.first + (size_t)k * p.step), x, dy, sh, &plane_dy,
                          &plane_dy_xc);
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
            const plane_dx k = {r, gm, centre, (float)mean_dxhat[s], (float)mean_dxhat_xhat[s]};
            const nl_plane_at at = nl_plane_of(g->c, hw, g->block, plane);
            if (at.step == 1)
                plane_grad(x + at.first, dy + at.first, dx + at.first, 1, hw, &k, accumulate_dx);
            else
                plane_grad(x + at.first, dy + at.first, dx + at.first, at.step, hw, &k,
                           accumulate_dx);
        });
    if (dgamma || dbeta)
        NL_PARALLEL_FOR_IF(total >= NL_PARALLEL_MIN,
        for (int ch = 0; ch < g->c; ch++) {
            double s_dy = 0.0, s_dy_xhat = 0.0;
            for (int i = 0; i < g->n; i++) {
                const long s = group_of(g, i, ch);
                const double r = divides ? rstd[s] : 1.0;
                double plane_dy, plane_dy_xc;
                plane_sums_at(g, (long)i * g->c + ch, x, dy, shift[s], &plane_dy, &plane_dy_xc);
                s_dy += plane_dy;
                s_dy_xhat += plane_dy_xc * r;
            }
            if (dgamma)
                dgamma[ch] = (float)s_dy_xhat;
            if (dbeta)
                dbeta[ch] = (float)s_dy;
        });
}
