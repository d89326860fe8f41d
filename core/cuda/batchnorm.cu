/* BatchNorm on the GPU: forward (train, eval) and backward.
 *
 * Images (hw > 1): a channel is the group of planes (0, c) ... (n-1, c), see
 * norm_common.cuh.
 * - forward (train and eval) is nl_cuda_norm_forward_launch in groupnorm.cu: with
 *   few channels each is split over several blocks (stats, then apply),
 *   with many channels whole channels go to slots of a block, read once.
 * - backward has the same two shapes:
 *   split: bn_bwd_reduce_kernel writes each (channel, split) block's
 *          sum(dy) and sum(dy * (x - mean)) in double to the backend's
 *          scratch; bn_bwd_apply_kernel (same grid, reverse order) has warp
 *          0 re-add the channel's partials in split order, the split-0 block
 *          writes dgamma/dbeta, and every block writes its slice of dx.
 *   fused: bn_bwd_fused_kernel, whole channels per block (a slot of threads
 *          each, as in the forward), keeping x and dy in shared memory
 *          between the reduction and dx when they fit.
 * Feature vectors (hw == 1, x is (N, D)): a feature's values are D apart,
 * so the channel walk would not coalesce. bn_features_*_kernel use blocks
 * of 32 features x 8 row lanes: a warp reads 32 consecutive features of a
 * row; lane t adds rows t, t+8, ... in order, then the 8 lanes are added in
 * lane order, and the same threads then write y (or dx).
 * All sums are in double and in a fixed order for a given shape and GPU, so
 * runs repeat bit for bit; the per-element formulas are those of
 * core/cpu/batchnorm.c, so results match it to rounding. */
#include <math.h>

#include "cuda/norm_common.cuh"

using namespace nlk;

enum { FEAT_X = COLUMN_BLOCK_X, FEAT_Y = COLUMN_BLOCK_Y };

/* ------------------------------------------------------------------------ */
/* feature vectors (hw == 1)                                                 */

/* the forward's variants as nl_cuda_norm_forward_launch takes them (c features) */
__global__ void __launch_bounds__(FEAT_X *FEAT_Y)
    bn_features_forward_kernel(nl_cuda_norm_fwd_args a)
{
    __shared__ float s_mean[FEAT_X], s_scale[FEAT_X], s_shift[FEAT_X];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * FEAT_X + tx;
    const bool valid = j < a.c;
    const int n = a.n, d = a.c;
    if (!a.eval_mean) {
        const double K = valid ? (double)a.x[j] : 0.0;
        double sum = 0.0, sum2 = 0.0;
        if (valid) {
#pragma unroll 4
            for (int r = ty; r < n; r += FEAT_Y) {
                const double v = (double)__ldg(a.x + (size_t)r * d + j) - K;
                sum += v;
                sum2 = fma(v, v, sum2);
            }
        }
        column_sums2(sum, sum2);
        if (ty == 0 && valid) {
            double mean, var, rstd;
            finalize_stats(K, sum, sum2, (double)n, a.eps, mean, var, rstd);
            if (a.save_mean)
                a.save_mean[j] = (float)mean;
            if (a.save_rstd)
                a.save_rstd[j] = (float)rstd;
            if (a.save_var)
                a.save_var[j] = (float)var;
            if (a.running_mean) {
                const double unbiased = n > 1 ? var * (double)n / (double)(n - 1) : var;
                const float m = *a.momentum;
                a.running_mean[j] = (1.0f - m) * a.running_mean[j] + m * (float)mean;
                a.running_var[j] = (1.0f - m) * a.running_var[j] + m * (float)unbiased;
            }
            s_mean[tx] = (float)mean;
            s_scale[tx] = (float)(rstd * (a.gamma ? (double)a.gamma[j] : 1.0));
            s_shift[tx] = a.beta ? a.beta[j] : 0.0f;
        }
    } else if (ty == 0 && valid) {
        const double rstd = 1.0 / sqrt((double)a.eval_var[j] + (double)a.eps);
        if (a.save_rstd)
            a.save_rstd[j] = (float)rstd;
        s_mean[tx] = a.eval_mean[j];
        s_scale[tx] = (float)(rstd * (a.gamma ? (double)a.gamma[j] : 1.0));
        s_shift[tx] = a.beta ? a.beta[j] : 0.0f;
    }
    __syncthreads();
    if (!valid || !a.y)
        return;
    const float mean_f = s_mean[tx], scale = s_scale[tx], shift = s_shift[tx];
#pragma unroll 4
    for (int r = ty; r < n; r += FEAT_Y) {
        const size_t o = (size_t)r * d + j;
        float t = (__ldg(a.x + o) - mean_f) * scale + shift;
        if (a.relu) { /* the fused residual add and ReLU, rounded as their ops */
            if (a.skip)
                t = t + __ldg(a.skip + o);
            t = t <= 0.0f ? 0.0f : t; /* NaN kept, as torch.relu */
        }
        a.y[o] = t;
    }
}

struct BnBwdArgs {
    int n, c, hw;
    const float *x, *dy, *gamma, *save_mean, *save_rstd;
    float *dx;
    int accumulate;
    float *dgamma, *dbeta;
    /* a fused ReLU (norm_backward_act): dy counts where its output y > 0
     * only, and that masked dy goes to dskip too (written, or added with
     * accumulate_skip; NULL: not asked for, and then dx is not NULL) */
    const float *y;
    float *dskip;
    int accumulate_skip;
};

/* dy where the fused ReLU's output is > 0 (y NULL: dy) */
__device__ __forceinline__ float bn_masked(float dy, const float *y, long long o)
{
    return y && !(__ldg(y + o) > 0.0f) ? 0.0f : dy;
}
template <int V>
__device__ __forceinline__ Vec<V> bn_masked_vec(Vec<V> dv, const float *y, long long off)
{
    if (!y)
        return dv;
    const Vec<V> yv = ld<V>(y, off);
#pragma unroll
    for (int e = 0; e < V; e++)
        dv.v[e] = yv.v[e] <= 0.0f ? 0.0f : dv.v[e];
    return dv;
}

/* the per-channel constants of dx = af*dy + bf*(x - mean) + kf, as
 * core/cpu/batchnorm.c forms them; also writes dgamma/dbeta when `write` */
__device__ __forceinline__ void bn_bwd_constants(const BnBwdArgs &a, int ch, double sum_dy,
                                                 double sum_dyxm, double count, bool write,
                                                 float &af, float &bf, float &kf, float &mean_f)
{
    const double mean = a.save_mean[ch], rstd = a.save_rstd[ch];
    const double sum_dy_xhat = sum_dyxm * rstd;
    if (write)
        write_affine_grads(a.dgamma, a.dbeta, ch, sum_dy_xhat, sum_dy);
    const double g = a.gamma ? (double)a.gamma[ch] : 1.0;
    const double ad = g * rstd;
    af = (float)ad;
    mean_f = (float)mean;
    bf = (float)(-ad * rstd * (sum_dy_xhat / count));
    kf = (float)(-ad * (sum_dy / count));
}

__global__ void __launch_bounds__(FEAT_X *FEAT_Y) bn_features_backward_kernel(BnBwdArgs a)
{
    __shared__ float s_af[FEAT_X], s_bf[FEAT_X], s_kf[FEAT_X], s_mean[FEAT_X];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * FEAT_X + tx;
    const bool valid = j < a.c;
    const int n = a.n, d = a.c;
    double sum_dy = 0.0, sum_dyxm = 0.0;
    if (valid) {
        const double mean = a.save_mean[j];
#pragma unroll 4
        for (int r = ty; r < n; r += FEAT_Y) {
            const size_t o = (size_t)r * d + j;
            const double g = (double)bn_masked(__ldg(a.dy + o), a.y, (long long)o);
            sum_dy += g;
            sum_dyxm = fma(g, (double)__ldg(a.x + o) - mean, sum_dyxm);
        }
    }
    column_sums2(sum_dy, sum_dyxm);
    if (ty == 0 && valid)
        bn_bwd_constants(a, j, sum_dy, sum_dyxm, (double)n, true, s_af[tx], s_bf[tx], s_kf[tx],
                         s_mean[tx]);
    __syncthreads();
    if (!valid || !a.dx)
        return;
    const float af = s_af[tx], bf = s_bf[tx], kf = s_kf[tx], mean_f = s_mean[tx];
#pragma unroll 4
    for (int r = ty; r < n; r += FEAT_Y) {
        const size_t o = (size_t)r * d + j;
        const float g = bn_masked(__ldg(a.dy + o), a.y, (long long)o);
        const float t = af * g + bf * (__ldg(a.x + o) - mean_f) + kf;
        a.dx[o] = a.accumulate ? a.dx[o] + t : t;
        if (a.dskip)
            a.dskip[o] = a.accumulate_skip ? a.dskip[o] + g : g;
    }
}

/* ------------------------------------------------------------------------ */
/* images: backward                                                          */

/* sum(dy), sum(dy * (x - mean)) over vectors [j0, j1) of channel i; with
 * `cache`, x and dy are also kept in shared memory (fused path, j0 = 0) */
template <int V>
__device__ __forceinline__ void bn_bwd_sums(const BnBwdArgs &a, const GroupGeom &g,
                                            long long base, long long j0, long long j1,
                                            double mean, bool cache, double &sum_dy,
                                            double &sum_dyxm, int lt, int cache_base, int len)
{
    Cursor c;
    c.init(g, j0 + lt);
    while (c.j < j1) {
        Vec<V> xv[UNROLL], dv[UNROLL];
        long long jj[UNROLL];
        bool ok[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            ok[u] = c.j < j1;
            jj[u] = c.j;
            const long long off = c.at(g, base);
            xv[u] = ok[u] ? ld<V>(a.x, off) : zero_vec<V>();
            dv[u] = ok[u] ? bn_masked_vec<V>(ld<V>(a.dy, off), a.y, off) : zero_vec<V>();
            c.next(g);
        }
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            if (!ok[u])
                continue;
            if (cache) {
                sm_st<V>(cache_base + (int)jj[u], xv[u], 0, len);
                sm_st<V>(cache_base + (int)jj[u], dv[u], 1, len);
            }
#pragma unroll
            for (int e = 0; e < V; e++) {
                const double d = (double)dv[u].v[e];
                sum_dy += d;
                sum_dyxm = fma(d, (double)xv[u].v[e] - mean, sum_dyxm);
            }
        }
    }
}

template <int V>
__device__ __forceinline__ void bn_bwd_dx(const BnBwdArgs &a, const GroupGeom &g, long long base,
                                          long long j0, long long j1, float af, float bf,
                                          float kf, float mean_f, bool cached, int lt,
                                          int cache_base, int len)
{
    Cursor c;
    c.init(g, j0 + lt);
    while (c.j < j1) {
        Vec<V> xv[BWD_UNROLL], dv[BWD_UNROLL], ov[BWD_UNROLL];
        long long off[BWD_UNROLL];
        bool ok[BWD_UNROLL];
#pragma unroll
        for (int u = 0; u < BWD_UNROLL; u++) {
            ok[u] = c.j < j1;
            off[u] = c.at(g, base);
            if (!ok[u]) {
                xv[u] = zero_vec<V>();
                dv[u] = zero_vec<V>();
            } else if (cached) {
                xv[u] = sm_ld<V>(cache_base + (int)c.j, 0, len);
                dv[u] = sm_ld<V>(cache_base + (int)c.j, 1, len);
            } else {
                xv[u] = ld_last<V>(a.x, off[u]);
                dv[u] = bn_masked_vec<V>(ld_last<V>(a.dy, off[u]), a.y, off[u]);
            }
            ov[u] = (ok[u] && a.accumulate) ? ld_rw<V>(a.dx, off[u]) : zero_vec<V>();
            c.next(g);
        }
#pragma unroll
        for (int u = 0; u < BWD_UNROLL; u++) {
            if (!ok[u])
                continue;
            Vec<V> o;
#pragma unroll
            for (int e = 0; e < V; e++) {
                const float t = af * dv[u].v[e] + bf * (xv[u].v[e] - mean_f) + kf;
                o.v[e] = a.accumulate ? ov[u].v[e] + t : t;
            }
            st<V>(a.dx, off[u], o);
            if (a.dskip) { /* the fused residual add's other input: the masked dy */
                Vec<V> sk = dv[u];
                if (a.accumulate_skip) {
                    const Vec<V> had = ld_rw<V>(a.dskip, off[u]);
#pragma unroll
                    for (int e = 0; e < V; e++)
                        sk.v[e] = had.v[e] + dv[u].v[e];
                }
                st<V>(a.dskip, off[u], sk);
            }
        }
    }
}

template <int V>
__global__ void __launch_bounds__(256, 4)
    bn_bwd_reduce_kernel(BnBwdArgs a, GroupGeom g, double *__restrict__ partial)
{
    const long long b = blockIdx.x;
    const auto [i, s, j0, j1] = split_block(g, b);
    double sum_dy = 0.0, sum_dyxm = 0.0;
    bn_bwd_sums<V>(a, g, i * g.gstride, j0, j1, (double)a.save_mean[i], false, sum_dy, sum_dyxm,
                   threadIdx.x, 0, 0);
    block_sum2(sum_dy, sum_dyxm);
    store_partial2(partial, b, sum_dy, sum_dyxm);
}

template <int V>
__global__ void __launch_bounds__(256, 4)
    bn_bwd_apply_kernel(BnBwdArgs a, GroupGeom g, const double *__restrict__ partial)
{
    const long long b = (long long)gridDim.x - 1 - blockIdx.x; /* reverse: L2-resident first */
    const auto [i, s, j0, j1] = split_block(g, b);
    __shared__ float s_af, s_bf, s_kf, s_mean;
    if (threadIdx.x < 32) {
        double sum_dy = 0.0, sum_dyxm = 0.0;
        sum_partials2(partial, g, i, sum_dy, sum_dyxm);
        if (threadIdx.x == 0)
            bn_bwd_constants(a, (int)i, sum_dy, sum_dyxm, g.count, s == 0, s_af, s_bf, s_kf,
                             s_mean);
    }
    if (!a.dx)
        return; /* uniform over the block */
    __syncthreads();
    bn_bwd_dx<V>(a, g, i * g.gstride, j0, j1, s_af, s_bf, s_kf, s_mean, false, threadIdx.x, 0, 0);
}

/* whole channels per block, a slot of 2^tpg_log2 threads each, keeping x and
 * dy in shared memory between the sums and dx when they fit (`cached`) */
template <int V>
__global__ void __launch_bounds__(256, 4)
    bn_bwd_fused_kernel(BnBwdArgs a, GroupGeom g, int tpg_log2, int cached)
{
    const int slot = threadIdx.x >> tpg_log2;
    const int lt = threadIdx.x & ((1 << tpg_log2) - 1);
    const long long i = (long long)blockIdx.x * (blockDim.x >> tpg_log2) + slot;
    const bool active = i < g.groups; /* uniform over the slot */
    const long long base = i * g.gstride;
    const int len = cached ? (blockDim.x >> tpg_log2) * (int)g.Lv : 0;
    const int cache_base = cached ? slot * (int)g.Lv : 0;
    __shared__ float s_af[8], s_bf[8], s_kf[8], s_mean[8];
    double sum_dy = 0.0, sum_dyxm = 0.0;
    if (active)
        bn_bwd_sums<V>(a, g, base, 0, g.Lv, (double)a.save_mean[i], cached != 0, sum_dy,
                       sum_dyxm, lt, cache_base, len);
    slot_sum2(sum_dy, sum_dyxm, tpg_log2);
    if (lt == 0 && active)
        bn_bwd_constants(a, (int)i, sum_dy, sum_dyxm, g.count, true, s_af[slot], s_bf[slot],
                         s_kf[slot], s_mean[slot]);
    if (!a.dx)
        return; /* uniform over the block */
    __syncthreads();
    if (active)
        bn_bwd_dx<V>(a, g, base, 0, g.Lv, s_af[slot], s_bf[slot], s_kf[slot], s_mean[slot],
                     cached != 0, lt, cache_base, len);
}

template <int V> static void bn_backward_v(nl_cuda *cu, const BnBwdArgs &a, const NormPlan &pl)
{
    if (pl.S == 1) {
        bn_bwd_fused_kernel<V><<<pl.blocks, pl.T, pl.smem, cu->stream>>>(a, pl.g, pl.tpg_log2,
                                                                        pl.smem > 0);
        NL_CU_LAUNCHED(cu, "bn_bwd_fused_kernel");
        return;
    }
    bn_bwd_reduce_kernel<V><<<pl.blocks, pl.T, 0, cu->stream>>>(a, pl.g, cu->scratch);
    NL_CU_LAUNCHED(cu, "bn_bwd_reduce_kernel");
    bn_bwd_apply_kernel<V><<<pl.blocks, pl.T, 0, cu->stream>>>(a, pl.g, cu->scratch);
    NL_CU_LAUNCHED(cu, "bn_bwd_apply_kernel");
}

/* ------------------------------------------------------------------------ */
/* ops                                                                       */

void nl_cuda_batchnorm_run(nl_backend *be, const nl_cuda_norm_fwd_args *a)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (a->n <= 0 || a->c <= 0 || a->hw <= 0)
        return;
    if (a->hw > 1) {
        nl_cuda_norm_forward_launch(cu, a);
        return;
    }
    bn_features_forward_kernel<<<(unsigned)((a->c + FEAT_X - 1) / FEAT_X), dim3(FEAT_X, FEAT_Y),
                                 0, cu->stream>>>(*a);
    NL_CU_LAUNCHED(cu, "bn_features_forward_kernel");
}

void nl_cuda_batchnorm_backward(nl_backend *be, int n, int c, int hw, const float *x,
                                const float *dy, const float *gamma, const float *save_mean,
                                const float *save_rstd, float *dx, bool accumulate_dx,
                                float *dgamma, float *dbeta)
{
    nl_cuda_batchnorm_backward_act(be, n, c, hw, x, NULL, dy, gamma, save_mean, save_rstd, dx,
                                   accumulate_dx, NULL, false, dgamma, dbeta);
}

void nl_cuda_batchnorm_backward_act(nl_backend *be, int n, int c, int hw, const float *x,
                                    const float *y, const float *dy, const float *gamma,
                                    const float *save_mean, const float *save_rstd, float *dx,
                                    bool accumulate_dx, float *dskip, bool accumulate_dskip,
                                    float *dgamma, float *dbeta)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || c <= 0 || hw <= 0 || (!dx && !dgamma && !dbeta))
        return;
    BnBwdArgs a = {n,      c,     hw, x,       dy, gamma, save_mean, save_rstd, dx,
                   accumulate_dx ? 1 : 0, dgamma, dbeta, y, dskip, accumulate_dskip ? 1 : 0};
    if (hw == 1) {
        bn_features_backward_kernel<<<(unsigned)((c + FEAT_X - 1) / FEAT_X), dim3(FEAT_X, FEAT_Y),
                                      0, cu->stream>>>(a);
        NL_CU_LAUNCHED(cu, "bn_features_backward_kernel");
        return;
    }
    const NormPlan pl = nl_cuda_plan_norm(cu, c, n, hw, 1, c, 0, 1,
                                          nl_cuda_aligned16(x, dy, dx, y) &&
                                              nl_cuda_aligned16(dskip),
                                          2);
    if (pl.V == 4)
        bn_backward_v<4>(cu, a, pl);
    else
        bn_backward_v<1>(cu, a, pl);
}

/* ------------------------------------------------------------------------ */
/* batch renormalization's per-channel correction (backend.h): one thread a
 * channel, the arithmetic of core/cpu/norm.c                                 */

__device__ __forceinline__ float clipf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

__global__ void renorm_correction_kernel(int c, float eps, const float *limits,
                                         const float *mean, const float *var,
                                         const float *running_mean, const float *running_var,
                                         const float *gamma, const float *beta, float *r,
                                         float *d, float *scale, float *shift)
{
    const int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c)
        return;
    const float r_max = limits[0], d_max = limits[1];
    const double sigma_running = sqrt((double)running_var[ch] + (double)eps);
    const float rc = clipf((float)(sqrt((double)var[ch] + (double)eps) / sigma_running),
                           1.0f / r_max, r_max);
    const float dc = clipf((float)(((double)mean[ch] - running_mean[ch]) / sigma_running),
                           -d_max, d_max);
    const float gm = gamma ? gamma[ch] : 1.0f;
    r[ch] = rc;
    d[ch] = dc;
    scale[ch] = gm * rc;
    shift[ch] = fmaf(gm, dc, beta ? beta[ch] : 0.0f);
}

__global__ void renorm_param_grads_kernel(int c, const float *r, const float *d, float *dgamma,
                                          const float *dbeta)
{
    const int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch < c)
        dgamma[ch] = fmaf(r[ch], dgamma[ch], d[ch] * dbeta[ch]);
}

void nl_cuda_renorm_correction(nl_backend *be, int c, float eps, const float *limits,
                               const float *mean, const float *var, const float *running_mean,
                               const float *running_var, const float *gamma, const float *beta,
                               float *r, float *d, float *scale, float *shift)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (c <= 0)
        return;
    renorm_correction_kernel<<<(unsigned)((c + 255) / 256), 256, 0, cu->stream>>>(
        c, eps, limits, mean, var, running_mean, running_var, gamma, beta, r, d, scale,
        shift);
    NL_CU_LAUNCHED(cu, "renorm_correction_kernel");
}

void nl_cuda_renorm_param_grads(nl_backend *be, int c, const float *r, const float *d,
                                float *dgamma, const float *dbeta)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (c <= 0)
        return;
    renorm_param_grads_kernel<<<(unsigned)((c + 255) / 256), 256, 0, cu->stream>>>(c, r, d, dgamma,
                                                                                  dbeta);
    NL_CU_LAUNCHED(cu, "renorm_param_grads_kernel");
}

cudaError_t nl_cuda_batchnorm_setup(size_t smem_bytes)
{
    cudaError_t e = cudaFuncSetAttribute(bn_bwd_fused_kernel<4>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)smem_bytes);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(bn_bwd_fused_kernel<1>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem_bytes);
    return e;
}
