/* The design space's points off the fused normalization kernels (backend.h,
 * norm_to_point and norm_backward_point), the twins of core/cpu/norm_point.c.
 * The backward runs one block per statistics group for its two sums
 * (block_sum2's fixed tree), then a grid-stride pass for dx, then one block
 * per channel for dgamma and dbeta; no atomics, so runs repeat bit for bit. */
#include "cuda/norm_common.cuh"

using namespace nlk;

enum { POINT_THREADS = 256 };

__global__ void __launch_bounds__(POINT_THREADS)
    norm_to_point_kernel(int count, int center, int scale, const float *mean, const float *var,
                         float *shift, float *divisor_var)
{
    const int s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= count)
        return;
    const float m = mean[s], v = var[s];
    shift[s] = center ? m : 0.0f;
    divisor_var[s] = scale == NL_SCALE_STD   ? v
                     : scale == NL_SCALE_RMS ? (float)((double)v + (double)m * m)
                                             : 1.0f;
}

void nl_cuda_norm_to_point(nl_backend *be, int count, bool center, nl_norm_scale scale,
                           const float *mean, const float *var, float *shift, float *divisor_var)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (count <= 0)
        return;
    norm_to_point_kernel<<<(count + POINT_THREADS - 1) / POINT_THREADS, POINT_THREADS, 0,
                           cu->stream>>>(count, center ? 1 : 0, (int)scale, mean, var, shift,
                                         divisor_var);
    NL_CU_LAUNCHED(cu, "norm_to_point_kernel");
}

/* the geometry as the kernels need it */
struct PointGeom {
    int n, c, hw, groups, cpg; /* groups 0: batch statistics */
    int center, divides, about_mean;
    double count;
};

/* plane k of statistics group s, and its channel */
__device__ __forceinline__ size_t group_plane(const PointGeom &g, long long s, int k, int &ch)
{
    if (g.groups == 0) {
        ch = (int)s;
        return (size_t)k * g.c + (size_t)s;
    }
    const long long i = s / g.groups, q = s % g.groups;
    ch = (int)q * g.cpg + k;
    return (size_t)i * g.c + (size_t)ch;
}

__device__ __forceinline__ long long group_of_plane(const PointGeom &g, int i, int ch)
{
    return g.groups == 0 ? ch : (long long)i * g.groups + ch / g.cpg;
}

__global__ void __launch_bounds__(POINT_THREADS)
    point_sums_kernel(PointGeom g, const float *x, const float *dy, const float *gamma,
                      const float *shift, const float *rstd, double *mean_dxhat,
                      double *mean_dxhat_xhat)
{
    const long long s = blockIdx.x;
    const int planes = g.groups == 0 ? g.n : g.cpg;
    const long long values = (long long)planes * g.hw;
    const float sh = shift[s];
    double sum = 0.0, sum_xc = 0.0; /* of dxhat, and of dxhat * (x - shift) */
    for (long long v = threadIdx.x; v < values; v += blockDim.x) {
        int ch;
        const size_t at = group_plane(g, s, (int)(v / g.hw), ch) * g.hw + (size_t)(v % g.hw);
        const double d = (double)(gamma ? gamma[ch] : 1.0f) * dy[at];
        sum += d;
        sum_xc += d * (double)(x[at] - sh);
    }
    block_sum2(sum, sum_xc);
    if (threadIdx.x == 0) {
        mean_dxhat[s] = g.center ? sum / g.count : 0.0;
        mean_dxhat_xhat[s] = g.divides ? sum_xc * rstd[s] / g.count : 0.0;
    }
}

__global__ void __launch_bounds__(POINT_THREADS)
    point_dx_kernel(PointGeom g, const float *x, const float *dy, const float *gamma,
                    const float *mean, const float *rstd, const double *mean_dxhat,
                    const double *mean_dxhat_xhat, float *dx, int accumulate)
{
    const size_t total = (size_t)g.n * g.c * g.hw;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t at = blockIdx.x * (size_t)blockDim.x + threadIdx.x; at < total; at += stride) {
        const size_t plane = at / g.hw;
        const int i = (int)(plane / g.c), ch = (int)(plane % g.c);
        const long long s = group_of_plane(g, i, ch);
        const float r = g.divides ? rstd[s] : 1.0f;
        const float gm = gamma ? gamma[ch] : 1.0f;
        const float centre = g.about_mean ? mean[s] : 0.0f;
        const float a = (float)mean_dxhat[s], b = (float)mean_dxhat_xhat[s];
        const float u = (x[at] - centre) * r;
        const float d = r * (gm * dy[at] - a - u * b);
        dx[at] = accumulate ? dx[at] + d : d;
    }
}

__global__ void __launch_bounds__(POINT_THREADS)
    point_params_kernel(PointGeom g, const float *x, const float *dy, const float *shift,
                        const float *rstd, float *dgamma, float *dbeta)
{
    const int ch = blockIdx.x;
    const long long values = (long long)g.n * g.hw;
    double s_dy = 0.0, s_dy_xhat = 0.0;
    for (long long v = threadIdx.x; v < values; v += blockDim.x) {
        const int i = (int)(v / g.hw);
        const long long s = group_of_plane(g, i, ch);
        const size_t at = ((size_t)i * g.c + ch) * g.hw + (size_t)(v % g.hw);
        const double r = g.divides ? rstd[s] : 1.0;
        s_dy += dy[at];
        s_dy_xhat += (double)dy[at] * (double)(x[at] - shift[s]) * r;
    }
    block_sum2(s_dy, s_dy_xhat);
    if (threadIdx.x == 0)
        write_affine_grads(dgamma, dbeta, ch, s_dy_xhat, s_dy);
}

size_t nl_cuda_norm_backward_point_workspace(nl_backend *be, const nl_norm_geom *g)
{
    (void)be;
    return 2 * (size_t)nl_norm_stat_groups(g) * sizeof(double);
}

void nl_cuda_norm_backward_point(nl_backend *be, const nl_norm_geom *g, nl_norm_scale scale,
                                 const float *x, const float *dy, const float *gamma,
                                 const float *shift, const float *mean, const float *rstd,
                                 float *dx, bool accumulate_dx, float *dgamma, float *dbeta,
                                 void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long groups = nl_norm_stat_groups(g);
    if (groups == 0 || (long long)g->n * g->c * g->hw == 0)
        return;
    PointGeom pg;
    pg.n = g->n;
    pg.c = g->c;
    pg.hw = g->hw;
    pg.groups = g->groups;
    pg.cpg = g->groups ? g->c / g->groups : 0;
    pg.center = g->center ? 1 : 0;
    pg.divides = scale != NL_SCALE_NONE ? 1 : 0;
    pg.about_mean = scale == NL_SCALE_STD ? 1 : 0;
    pg.count = (double)nl_norm_group_count(g);
    double *mean_dxhat = (double *)workspace, *mean_dxhat_xhat = mean_dxhat + groups;
    if (dx) {
        point_sums_kernel<<<(unsigned)groups, POINT_THREADS, 0, cu->stream>>>(
            pg, x, dy, gamma, shift, rstd, mean_dxhat, mean_dxhat_xhat);
        NL_CU_LAUNCHED(cu, "point_sums_kernel");
        const size_t total = (size_t)g->n * g->c * g->hw;
        point_dx_kernel<<<nl_cuda_grid(cu, total, POINT_THREADS), POINT_THREADS, 0,
                          cu->stream>>>(pg, x, dy, gamma, mean, rstd, mean_dxhat,
                                        mean_dxhat_xhat, dx, accumulate_dx ? 1 : 0);
        NL_CU_LAUNCHED(cu, "point_dx_kernel");
    }
    if (dgamma || dbeta) {
        point_params_kernel<<<(unsigned)g->c, POINT_THREADS, 0, cu->stream>>>(
            pg, x, dy, shift, rstd, dgamma, dbeta);
        NL_CU_LAUNCHED(cu, "point_params_kernel");
    }
}
