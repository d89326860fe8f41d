/* GroupNorm on the GPU (LayerNorm with groups = 1, InstanceNorm with
 * groups = C), and the normalizing forward it shares with BatchNorm.
 *
 * Forward (nl_cuda_norm_forward_launch; groups of planes as in norm_common.cuh):
 * - many groups (IN, GN with many groups, BN with many channels): the fused
 *   path, norm_fused_kernel. Each group gets a slot of 32..256 threads
 *   sized to it (about four vectors per thread, loaded in one batch), 256 /
 *   slot groups per block. A slot reads its group once, keeping it in
 *   shared memory when it fits the budget (else it re-reads it, mostly from
 *   L2), reduces it, finalizes the statistics and normalizes.
 * - few groups (BN with few channels, LN): each group is split over S
 *   blocks so ~4 blocks per SM run. norm_stats_kernel writes each block's
 *   partial sums to the backend's scratch; norm_apply_kernel (same grid)
 *   has every block re-add its group's S partials in split order (so all S
 *   blocks get identical statistics; the split-0 block writes save_mean,
 *   save_rstd and the running statistics) and normalize its slice. The
 *   apply grid runs in reverse block order, so the slices the stats pass
 *   read last, still in L2, are normalized first; x is read there with an
 *   evict-first hint since it is not needed again.
 * The same kernels serve norm_stats (y NULL: statistics only, written as
 * mean and biased variance) and norm_apply (given per-group statistics, as
 * BatchNorm's eval mode).
 * Statistics: each thread accumulates (x - K) and (x - K)^2 in double,
 * K being the group's first value; see finalize_stats. mean, rstd, scale
 * and y are then formed exactly as core/cpu/groupnorm.c forms them.
 *
 * Backward (dgamma/dbeta need per-plane sums: the workspace, (N, C, 2)):
 * - many groups: gn_bwd_fused_kernel, whole groups per block in one pass
 *   over DRAM: a slot's warps take the group's planes in turn (a segment of
 *   lanes per plane, so small planes share a warp), keep x and dy in shared
 *   memory when they fit, write each plane's sum(dy) and sum(dy * xhat)
 *   (sub-warp shuffle tree), then the slot's first warp forms the group's
 *   gamma-weighted sums from them and the slot writes dx.
 * - few groups: gn_plane_sums_kernel (per plane, a power-of-two number of
 *   threads sized to hw), then gn_bwd_apply_kernel per (group, split)
 *   block, whose warp 0 forms the group's sums the same way.
 * - gn_param_grads_kernel: dgamma, dbeta per channel, the planes' sums
 *   added over the batch in a fixed order (8 lanes by sample residue, then
 *   lane order).
 * InstanceNorm's running statistics (instance_running_kernel): one block
 * per channel recomputes each instance's unbiased variance around the saved
 * mean (as the CPU backend does) and adds them over the batch in order; it
 * runs only with tracked statistics, a rarely used setting.
 * Every sum has a fixed order given the shape and the SM count, so runs
 * repeat bit for bit; no atomics. */
#include <math.h>

#include "cuda/norm_common.cuh"

using namespace nlk;

/* ------------------------------------------------------------------------ */
/* forward, shared with BatchNorm                                            */

/* thread 0 of a group's block: the statistics to normalize with; with
 * `write`, also those of save_mean/save_rstd/save_var that are not NULL and
 * the running statistics */
__device__ __forceinline__ void finish_group(const nl_cuda_norm_fwd_args &p, const GroupGeom &g,
                                             long long i, double K, double sum, double sum2,
                                             bool write, float &mean_f, double &rstd)
{
    if (p.eval_mean) {
        mean_f = p.eval_mean[i];
        rstd = 1.0 / sqrt((double)p.eval_var[i] + (double)p.eps);
        if (write && p.save_rstd)
            p.save_rstd[i] = (float)rstd;
        return;
    }
    double mean, var;
    if (p.center) {
        finalize_stats(K, sum, sum2, g.count, p.eps, mean, var, rstd);
    } else { /* K = 0: sum2 is the plain sum of squares */
        mean = 0.0;
        var = sum2 / g.count;
        rstd = 1.0 / sqrt(var + (double)p.eps);
    }
    mean_f = (float)mean;
    if (!write)
        return;
    if (p.save_mean)
        p.save_mean[i] = mean_f;
    if (p.save_rstd)
        p.save_rstd[i] = (float)rstd;
    if (p.save_var)
        p.save_var[i] = (float)var;
    if (p.running_mean) {
        /* PyTorch: the unbiased variance; count > 1 is checked at build time */
        const double cnt = g.count;
        const double unbiased = cnt > 1.0 ? var * cnt / (cnt - 1.0) : var;
        const float m = *p.momentum;
        p.running_mean[i] = (1.0f - m) * p.running_mean[i] + m * (float)mean;
        p.running_var[i] = (1.0f - m) * p.running_var[i] + m * (float)unbiased;
    }
}

/* y = (x - mean) * (rstd * gamma_c) + beta_c over vectors [j0, j1) of group i */
template <int V>
__device__ __forceinline__ void apply_range(const nl_cuda_norm_fwd_args &p, const GroupGeom &g,
                                            long long i, long long base, long long j0,
                                            long long j1, float mean_f, double rstd, bool cached,
                                            int lt, int cache_base)
{
    int ch0, chstep;
    group_channels(g, i, ch0, chstep);
    int cur = -1;
    float scale = 0.0f, shift = 0.0f;
    Cursor c;
    c.init(g, j0 + lt);
    while (c.j < j1) {
        Vec<V> v[UNROLL];
        long long off[UNROLL];
        int kk[UNROLL];
        bool ok[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            ok[u] = c.j < j1;
            off[u] = c.at(g, base);
            kk[u] = c.k;
            v[u] = !ok[u]   ? zero_vec<V>()
                   : cached ? sm_ld<V>(cache_base + (int)c.j, 0, 0)
                            : ld_last<V>(p.x, off[u]);
            c.next(g);
        }
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            if (!ok[u])
                continue;
            if (kk[u] != cur) { /* a new plane: its channel's scale and shift */
                cur = kk[u];
                const int ch = ch0 + cur * chstep;
                scale = (float)(rstd * (p.gamma ? (double)__ldg(p.gamma + ch) : 1.0));
                shift = p.beta ? __ldg(p.beta + ch) : 0.0f;
            }
            Vec<V> o;
#pragma unroll
            for (int e = 0; e < V; e++)
                o.v[e] = (v[u].v[e] - mean_f) * scale + shift;
            if (p.relu) { /* the fused residual add and ReLU, rounded as their ops */
                const Vec<V> sk = p.skip ? ld_last<V>(p.skip, off[u]) : zero_vec<V>();
#pragma unroll
                for (int e = 0; e < V; e++) {
                    const float t = p.skip ? o.v[e] + sk.v[e] : o.v[e];
                    o.v[e] = t <= 0.0f ? 0.0f : t; /* NaN kept, as torch.relu */
                }
            }
            st<V>(p.y, off[u], o);
        }
    }
}

/* split path, stage 1: partial sums of one (group, split) */
template <int V>
__global__ void __launch_bounds__(256, 4)
    norm_stats_kernel(const float *x, GroupGeom g, int center, double *__restrict__ partial)
{
    const long long b = blockIdx.x;
    const auto [i, s, j0, j1] = split_block(g, b);
    const long long base = i * g.gstride;
    const double K = center ? (double)__ldg(x + base * V) : 0.0;
    double sum = 0.0, sum2 = 0.0;
    Cursor c;
    c.init(g, j0 + threadIdx.x);
    while (c.j < j1) {
        Vec<V> v[UNROLL];
        bool ok[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) { /* all loads first: they overlap */
            ok[u] = c.j < j1;
            v[u] = ok[u] ? ld<V>(x, c.at(g, base)) : zero_vec<V>();
            c.next(g);
        }
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            if (!ok[u])
                continue;
#pragma unroll
            for (int e = 0; e < V; e++) {
                const double d = (double)v[u].v[e] - K;
                sum += d;
                sum2 = fma(d, d, sum2);
            }
        }
    }
    block_sum2(sum, sum2);
    store_partial2(partial, b, sum, sum2);
}

/* split path, stage 2 (also BatchNorm eval with any S: no partials then) */
template <int V>
__global__ void __launch_bounds__(256, 4)
    norm_apply_kernel(nl_cuda_norm_fwd_args p, GroupGeom g, const double *__restrict__ partial)
{
    const long long b = (long long)gridDim.x - 1 - blockIdx.x; /* reverse: L2-resident first */
    const auto [i, s, j0, j1] = split_block(g, b);
    const long long base = i * g.gstride;
    __shared__ float s_mean;
    __shared__ double s_rstd;
    if (threadIdx.x < 32) {
        double sum = 0.0, sum2 = 0.0;
        if (!p.eval_mean)
            sum_partials2(partial, g, i, sum, sum2);
        if (threadIdx.x == 0) {
            float mean_f;
            double rstd;
            const double K = p.eval_mean || !p.center ? 0.0 : (double)__ldg(p.x + base * V);
            finish_group(p, g, i, K, sum, sum2, s == 0, mean_f, rstd);
            s_mean = mean_f;
            s_rstd = rstd;
        }
    }
    __syncthreads();
    if (p.y)
        apply_range<V>(p, g, i, base, j0, j1, s_mean, s_rstd, false, threadIdx.x, 0);
}

/* whole groups per block, 2^tpg_log2 threads (a slot) each: statistics and
 * normalization in one pass over DRAM when the slot's group fits in shared
 * memory (`cached`) */
template <int V>
__global__ void __launch_bounds__(256, 4)
    norm_fused_kernel(nl_cuda_norm_fwd_args p, GroupGeom g, int tpg_log2, int cached)
{
    const int slot = threadIdx.x >> tpg_log2;
    const int lt = threadIdx.x & ((1 << tpg_log2) - 1);
    const long long i = (long long)blockIdx.x * (blockDim.x >> tpg_log2) + slot;
    const bool active = i < g.groups; /* uniform over the slot */
    const long long base = i * g.gstride;
    const int cache_base = cached ? slot * (int)g.Lv : 0;
    __shared__ float s_mean[8];
    __shared__ double s_rstd[8];
    double sum = 0.0, sum2 = 0.0, K = 0.0;
    if (!p.eval_mean) {
        if (active) {
            K = p.center ? (double)__ldg(p.x + base * V) : 0.0;
            Cursor c;
            c.init(g, lt);
            while (c.j < g.Lv) {
                Vec<V> v[UNROLL];
                long long jj[UNROLL];
                bool ok[UNROLL];
#pragma unroll
                for (int u = 0; u < UNROLL; u++) { /* all loads first: they overlap */
                    ok[u] = c.j < g.Lv;
                    jj[u] = c.j;
                    v[u] = ok[u] ? ld<V>(p.x, c.at(g, base)) : zero_vec<V>();
                    c.next(g);
                }
#pragma unroll
                for (int u = 0; u < UNROLL; u++) {
                    if (!ok[u])
                        continue;
                    if (cached)
                        sm_st<V>(cache_base + (int)jj[u], v[u], 0, 0);
#pragma unroll
                    for (int e = 0; e < V; e++) {
                        const double d = (double)v[u].v[e] - K;
                        sum += d;
                        sum2 = fma(d, d, sum2);
                    }
                }
            }
        }
        slot_sum2(sum, sum2, tpg_log2);
    }
    if (lt == 0 && active) {
        float mean_f;
        double rstd;
        finish_group(p, g, i, K, sum, sum2, true, mean_f, rstd);
        s_mean[slot] = mean_f;
        s_rstd[slot] = rstd;
    }
    __syncthreads();
    if (active && p.y)
        apply_range<V>(p, g, i, base, 0, g.Lv, s_mean[slot], s_rstd[slot], cached != 0, lt,
                       cache_base);
}

template <int V> static void norm_forward_v(nl_cuda *cu, const nl_cuda_norm_fwd_args *a,
                                            const NormPlan &pl)
{
    const bool eval = a->eval_mean != NULL;
    if (pl.S == 1) {
        const size_t smem = eval || !a->y ? 0 : pl.smem; /* nothing read twice */
        norm_fused_kernel<V><<<pl.blocks, pl.T, smem, cu->stream>>>(*a, pl.g, pl.tpg_log2,
                                                                   smem > 0);
        NL_CU_LAUNCHED(cu, "norm_fused_kernel");
        return;
    }
    if (!eval) {
        norm_stats_kernel<V><<<pl.blocks, pl.T, 0, cu->stream>>>(a->x, pl.g, a->center,
                                                                  cu->scratch);
        NL_CU_LAUNCHED(cu, "norm_stats_kernel");
    }
    norm_apply_kernel<V><<<pl.blocks, pl.T, 0, cu->stream>>>(*a, pl.g, cu->scratch);
    NL_CU_LAUNCHED(cu, "norm_apply_kernel");
}

void nl_cuda_norm_forward_launch(nl_cuda *cu, const nl_cuda_norm_fwd_args *a)
{
    const int n = a->n, c = a->c, hw = a->hw;
    if (n <= 0 || c <= 0 || hw <= 0)
        return;
    long long groups, gstride, pstride;
    int planes, G, cpg;
    if (a->groups == 0) { /* BatchNorm: channel c is planes (i, c) over the batch */
        groups = c;
        planes = n;
        gstride = 1;
        pstride = c;
        G = 0;
        cpg = 1;
    } else { /* GroupNorm: (i, g) is cpg contiguous planes */
        G = a->groups;
        cpg = c / G;
        groups = (long long)n * G;
        planes = cpg;
        gstride = cpg;
        pstride = 1;
    }
    const NormPlan pl = nl_cuda_plan_norm(cu, groups, planes, hw, gstride, pstride, G, cpg,
                                          nl_cuda_aligned16(a->x, a->y, a->skip), 1);
    if (groups * pl.S > 0x7fffffffLL) {
        nl_cuda_record(cu, NL_ERR_UNSUPPORTED, "CUDA normalization: %lld groups is too many",
                       groups);
        return;
    }
    if (pl.V == 4)
        norm_forward_v<4>(cu, a, pl);
    else
        norm_forward_v<1>(cu, a, pl);
}

/* ------------------------------------------------------------------------ */
/* InstanceNorm's running statistics                                         */

__global__ void __launch_bounds__(256)
    instance_running_kernel(const float *__restrict__ x, int n, int c, int hw,
                            const float *__restrict__ save_mean, float *running_mean,
                            float *running_var, const float *momentum_slot)
{
    const int ch = blockIdx.x;
    double mean_sum = 0.0, var_sum = 0.0; /* meaningful in thread 0 */
    for (int i = 0; i < n; i++) {
        const double mean = (double)save_mean[(size_t)i * c + ch];
        const float *xp = x + ((size_t)i * c + ch) * hw;
        double sq = 0.0, unused = 0.0;
#pragma unroll 4
        for (int k = threadIdx.x; k < hw; k += blockDim.x) {
            const double d = (double)__ldg(xp + k) - mean;
            sq = fma(d, d, sq);
        }
        block_sum2(sq, unused);
        if (threadIdx.x == 0) {
            mean_sum += mean;
            var_sum += hw > 1 ? sq / (double)(hw - 1) : sq;
        }
    }
    if (threadIdx.x == 0) {
        const float momentum = *momentum_slot;
        running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * (float)(mean_sum / n);
        running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * (float)(var_sum / n);
    }
}

void nl_cuda_groupnorm_run(nl_backend *be, const nl_cuda_norm_fwd_args *a)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (a->n <= 0 || a->c <= 0 || a->hw <= 0 || a->groups <= 0)
        return;
    /* running statistics are per channel: not finish_group's per group */
    nl_cuda_norm_fwd_args per_group = *a;
    per_group.running_mean = per_group.running_var = NULL;
    nl_cuda_norm_forward_launch(cu, &per_group);
    if (!a->running_mean)
        return;
    int t = (a->hw + 31) / 32 * 32;
    t = t < 32 ? 32 : t > 256 ? 256 : t;
    instance_running_kernel<<<a->c, t, 0, cu->stream>>>(a->x, a->n, a->c, a->hw, a->save_mean,
                                                        a->running_mean, a->running_var,
                                                        a->momentum);
    NL_CU_LAUNCHED(cu, "instance_running_kernel");
}

/* ------------------------------------------------------------------------ */
/* backward                                                                  */

size_t nl_cuda_groupnorm_backward_workspace(nl_backend *be, const nl_norm_geom *g)
{
    (void)be;
    return (size_t)g->n * g->c * 2 * sizeof(double); /* per plane: sum dy, sum dy*xhat */
}

/* per plane: sum(dy), sum(dy * xhat); 2^tpp_log2 threads per plane */
template <int V>
__global__ void __launch_bounds__(256, 4)
    gn_plane_sums_kernel(const float *x, const float *dy, const float *__restrict__ save_mean,
                         const float *__restrict__ save_rstd, int c, int cpg, int Q,
                         long long planes, int tpp_log2, double *__restrict__ partial)
{
    const int tpp = 1 << tpp_log2;
    const long long p = (long long)blockIdx.x * (blockDim.x >> tpp_log2) + (threadIdx.x >> tpp_log2);
    const int l = threadIdx.x & (tpp - 1);
    double s_dy = 0.0, s_dyxm = 0.0, rstd = 0.0;
    if (p < planes) {
        const long long ni = p / c;
        const int ch = (int)(p - ni * c);
        const long long grp = ni * (c / cpg) + ch / cpg;
        const double mean = (double)save_mean[grp];
        rstd = (double)save_rstd[grp];
        const long long base = p * Q;
        for (int v0 = l; v0 < Q; v0 += UNROLL * tpp) {
            Vec<V> xv[UNROLL], dv[UNROLL];
            bool ok[UNROLL];
#pragma unroll
            for (int u = 0; u < UNROLL; u++) {
                const int v = v0 + u * tpp;
                ok[u] = v < Q;
                xv[u] = ok[u] ? ld<V>(x, base + v) : zero_vec<V>();
                dv[u] = ok[u] ? ld<V>(dy, base + v) : zero_vec<V>();
            }
#pragma unroll
            for (int u = 0; u < UNROLL; u++) {
                if (!ok[u])
                    continue;
#pragma unroll
                for (int e = 0; e < V; e++) {
                    const double d = (double)dv[u].v[e];
                    s_dy += d;
                    s_dyxm = fma(d, (double)xv[u].v[e] - mean, s_dyxm);
                }
            }
        }
    }
    /* the plane's threads: a sub-warp shuffle tree, or warps then shared memory */
    if (tpp <= 32) {
        for (int off = tpp >> 1; off > 0; off >>= 1) {
            s_dy += __shfl_down_sync(0xffffffffu, s_dy, off, tpp);
            s_dyxm += __shfl_down_sync(0xffffffffu, s_dyxm, off, tpp);
        }
    } else {
        __shared__ double sh[2][32];
        s_dy = warp_sum(s_dy);
        s_dyxm = warp_sum(s_dyxm);
        const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
        if (lane == 0) {
            sh[0][w] = s_dy;
            sh[1][w] = s_dyxm;
        }
        __syncthreads();
        if (l == 0) { /* lane 0 of the plane's first warp */
            s_dy = 0.0;
            s_dyxm = 0.0;
            for (int t = 0; t < (tpp >> 5); t++) {
                s_dy += sh[0][w + t];
                s_dyxm += sh[1][w + t];
            }
        }
    }
    if (l == 0 && p < planes) {
        partial[2 * p] = s_dy;
        partial[2 * p + 1] = s_dyxm * rstd; /* sum dy * xhat */
    }
}

struct GnBwdArgs {
    const float *x, *dy, *gamma, *save_mean, *save_rstd;
    float *dx;
    int accumulate;
    int center; /* 0: the mean was not subtracted, so dx has no mean term (kf = 0) */
};

/* dx = rstd*gamma_c*dy + bf*(x - mean) + kf per (group, split) block */
template <int V>
__global__ void __launch_bounds__(256, 4)
    gn_bwd_apply_kernel(GnBwdArgs a, GroupGeom g, const double *__restrict__ partial)
{
    const long long b = (long long)gridDim.x - 1 - blockIdx.x;
    const auto [i, s, j0, j1] = split_block(g, b);
    const long long base = i * g.gstride;
    int ch0, chstep;
    group_channels(g, i, ch0, chstep);
    __shared__ float s_mean, s_bf, s_kf;
    __shared__ double s_rstd;
    if (threadIdx.x < 32) {
        const long long ni = i / g.G;
        const long long plane0 = ni * (long long)g.G * g.cpg + ch0;
        double sd = 0.0, sdx = 0.0;
        for (int t = threadIdx.x; t < g.cpg; t += 32) {
            const double gm = a.gamma ? (double)a.gamma[ch0 + t] : 1.0;
            sd += gm * partial[2 * (plane0 + t)];
            sdx += gm * partial[2 * (plane0 + t) + 1];
        }
        sd = warp_sum(sd);
        sdx = warp_sum(sdx);
        if (threadIdx.x == 0) {
            const double mean = a.save_mean[i], rstd = a.save_rstd[i];
            const double block = g.count;
            s_mean = (float)mean;
            s_rstd = rstd;
            s_bf = (float)(-rstd * rstd * sdx / block);
            s_kf = a.center ? (float)(-rstd * sd / block) : 0.0f;
        }
    }
    __syncthreads();
    const float mean_f = s_mean, bf = s_bf, kf = s_kf;
    const double rstd = s_rstd;
    int cur = -1;
    float af = 0.0f;
    Cursor c;
    c.init(g, j0 + threadIdx.x);
    while (c.j < j1) {
        Vec<V> xv[BWD_UNROLL], dv[BWD_UNROLL], ov[BWD_UNROLL];
        long long off[BWD_UNROLL];
        int kk[BWD_UNROLL];
        bool ok[BWD_UNROLL];
#pragma unroll
        for (int u = 0; u < BWD_UNROLL; u++) {
            ok[u] = c.j < j1;
            off[u] = c.at(g, base);
            kk[u] = c.k;
            xv[u] = ok[u] ? ld_last<V>(a.x, off[u]) : zero_vec<V>();
            dv[u] = ok[u] ? ld_last<V>(a.dy, off[u]) : zero_vec<V>();
            ov[u] = (ok[u] && a.accumulate) ? ld_rw<V>(a.dx, off[u]) : zero_vec<V>();
            c.next(g);
        }
#pragma unroll
        for (int u = 0; u < BWD_UNROLL; u++) {
            if (!ok[u])
                continue;
            if (kk[u] != cur) {
                cur = kk[u];
                af = (float)(rstd * (a.gamma ? (double)__ldg(a.gamma + ch0 + cur * chstep) : 1.0));
            }
            Vec<V> o;
#pragma unroll
            for (int e = 0; e < V; e++) {
                const float t = af * dv[u].v[e] + bf * (xv[u].v[e] - mean_f) + kf;
                o.v[e] = a.accumulate ? ov[u].v[e] + t : t;
            }
            st<V>(a.dx, off[u], o);
        }
    }
}

/* dbeta_c = sum_n sum(dy), dgamma_c = sum_n sum(dy*xhat): block (32 channels
 * x 8 lanes); lane t adds samples t, t+8, ... in order, then lanes 0..7 are
 * added in order */
__global__ void __launch_bounds__(256)
    gn_param_grads_kernel(int n, int c, const double *__restrict__ partial, float *dgamma,
                          float *dbeta)
{
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int ch = blockIdx.x * COLUMN_BLOCK_X + tx;
    double s0 = 0.0, s1 = 0.0;
    if (ch < c) {
#pragma unroll 4
        for (int i = ty; i < n; i += COLUMN_BLOCK_Y) {
            s0 += partial[2 * ((size_t)i * c + ch)];
            s1 += partial[2 * ((size_t)i * c + ch) + 1];
        }
    }
    column_sums2(s0, s1);
    if (ty == 0 && ch < c)
        write_affine_grads(dgamma, dbeta, ch, s1, s0);
}

/* many groups: whole groups per block, a slot of 2^tpg_log2 threads each, in
 * one pass over DRAM when x and dy fit in shared memory (`cached`).
 * Pass 1: the slot's warps take the group's planes in turn, each warp
 * 32 / 2^tpp_log2 planes at a time (a segment of lanes per plane, lanes
 * striding over the plane), and write every plane's sums to the workspace
 * (a sub-warp shuffle tree). After a barrier the slot's first warp forms the
 * group's gamma-weighted sums from them (lane-strided, then a shuffle tree,
 * as gn_bwd_apply_kernel does), and pass 2 writes dx with the same
 * (plane, lane) assignment, so a thread reads back only what it cached. */
template <int V>
__global__ void __launch_bounds__(256, 3) /* 4 would spill; shared memory limits it anyway */
    gn_bwd_fused_kernel(GnBwdArgs a, GroupGeom g, int tpg_log2, int tpp_log2, int cached,
                        double *partial /* written and read here: no restrict, no __ldg */)
{
    const int slot = threadIdx.x >> tpg_log2;
    const int lt = threadIdx.x & ((1 << tpg_log2) - 1);
    const int wpg = 1 << (tpg_log2 - 5), wi = lt >> 5, lane = threadIdx.x & 31;
    const int tpp = 1 << tpp_log2, segs = 32 >> tpp_log2;
    const int seg = lane >> tpp_log2, sl = lane & (tpp - 1);
    const long long i = (long long)blockIdx.x * (blockDim.x >> tpg_log2) + slot;
    const bool active = i < g.groups; /* uniform over the slot */
    const int len = cached ? (blockDim.x >> tpg_log2) * (int)g.Lv : 0;
    const int cbase = cached ? slot * (int)g.Lv : 0;
    int ch0 = 0, chstep = 1;
    long long base = 0, plane0 = 0;
    double mean = 0.0, rstd = 0.0;
    if (active) {
        group_channels(g, i, ch0, chstep);
        base = i * g.gstride;
        plane0 = (i / g.G) * (long long)g.G * g.cpg + ch0;
        mean = (double)a.save_mean[i];
        rstd = (double)a.save_rstd[i];
    }
    __shared__ float s_mean[8], s_bf[8], s_kf[8];
    for (int k0 = wi * segs; k0 < g.cpg; k0 += wpg * segs) { /* uniform over the warp */
        const int k = k0 + seg;
        const bool okp = active && k < g.cpg;
        double s_dy = 0.0, s_dyxm = 0.0;
        if (okp) {
            const long long pbase = base + (long long)k * g.Q;
            for (int q0 = sl; q0 < g.Q; q0 += tpp * UNROLL) {
                Vec<V> xv[UNROLL], dv[UNROLL];
                bool ok[UNROLL];
#pragma unroll
                for (int u = 0; u < UNROLL; u++) {
                    const int q = q0 + u * tpp;
                    ok[u] = q < g.Q;
                    xv[u] = ok[u] ? ld<V>(a.x, pbase + q) : zero_vec<V>();
                    dv[u] = ok[u] ? ld<V>(a.dy, pbase + q) : zero_vec<V>();
                }
#pragma unroll
                for (int u = 0; u < UNROLL; u++) {
                    if (!ok[u])
                        continue;
                    if (cached) {
                        const int ci = cbase + k * g.Q + q0 + u * tpp;
                        sm_st<V>(ci, xv[u], 0, len);
                        sm_st<V>(ci, dv[u], 1, len);
                    }
#pragma unroll
                    for (int e = 0; e < V; e++) {
                        const double d = (double)dv[u].v[e];
                        s_dy += d;
                        s_dyxm = fma(d, (double)xv[u].v[e] - mean, s_dyxm);
                    }
                }
            }
        }
        for (int off = tpp >> 1; off > 0; off >>= 1) {
            s_dy += __shfl_down_sync(0xffffffffu, s_dy, off, tpp);
            s_dyxm += __shfl_down_sync(0xffffffffu, s_dyxm, off, tpp);
        }
        if (sl == 0 && okp) {
            partial[2 * (plane0 + k)] = s_dy;
            partial[2 * (plane0 + k) + 1] = s_dyxm * rstd;
        }
    }
    __syncthreads(); /* the planes' sums are visible to the whole block */
    if (wi == 0) {
        double sd = 0.0, sdx = 0.0;
        if (active)
            for (int t = lane; t < g.cpg; t += 32) {
                const double gm = a.gamma ? (double)a.gamma[ch0 + t] : 1.0;
                sd += gm * partial[2 * (plane0 + t)];
                sdx += gm * partial[2 * (plane0 + t) + 1];
            }
        sd = warp_sum(sd);
        sdx = warp_sum(sdx);
        if (lane == 0 && active) {
            s_mean[slot] = (float)mean;
            s_bf[slot] = (float)(-rstd * rstd * sdx / g.count);
            s_kf[slot] = a.center ? (float)(-rstd * sd / g.count) : 0.0f;
        }
    }
    __syncthreads();
    if (!a.dx || !active)
        return;
    const float mean_f = s_mean[slot], bf = s_bf[slot], kf = s_kf[slot];
    for (int k0 = wi * segs; k0 < g.cpg; k0 += wpg * segs) {
        const int k = k0 + seg;
        if (k >= g.cpg)
            continue;
        const float af =
            (float)(rstd * (a.gamma ? (double)__ldg(a.gamma + ch0 + k * chstep) : 1.0));
        const long long pbase = base + (long long)k * g.Q;
        for (int q0 = sl; q0 < g.Q; q0 += tpp * BWD_UNROLL) {
            Vec<V> xv[BWD_UNROLL], dv[BWD_UNROLL], ov[BWD_UNROLL];
            bool ok[BWD_UNROLL];
#pragma unroll
            for (int u = 0; u < BWD_UNROLL; u++) {
                const int q = q0 + u * tpp;
                ok[u] = q < g.Q;
                if (!ok[u]) {
                    xv[u] = zero_vec<V>();
                    dv[u] = zero_vec<V>();
                } else if (cached) {
                    xv[u] = sm_ld<V>(cbase + k * g.Q + q, 0, len);
                    dv[u] = sm_ld<V>(cbase + k * g.Q + q, 1, len);
                } else {
                    xv[u] = ld_last<V>(a.x, pbase + q);
                    dv[u] = ld_last<V>(a.dy, pbase + q);
                }
                ov[u] = (ok[u] && a.accumulate) ? ld_rw<V>(a.dx, pbase + q) : zero_vec<V>();
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
                st<V>(a.dx, pbase + q0 + u * tpp, o);
            }
        }
    }
}

template <int V>
static void gn_backward_v(nl_cuda *cu, int n, int c, int hw, int groups, const GnBwdArgs &a,
                          float *dgamma, float *dbeta, double *partial)
{
    const int Q = hw / V, cpg = c / groups;
    const long long ngroups = (long long)n * groups;
    const NormPlan pl = nl_cuda_plan_norm(cu, ngroups, cpg, hw, cpg, 1, groups, cpg, V == 4, 2);
    if (pl.S == 1) {
        /* lanes per plane: ~4 vectors each, and a whole warp on one plane when
         * the group has few planes */
        int tpp = nl_cuda_pow2_at_least((Q + UNROLL - 1) / UNROLL, 1, 32);
        const int by_planes = 32 / nl_cuda_pow2_at_least(cpg < 32 ? cpg : 32, 1, 32);
        if (tpp < by_planes)
            tpp = by_planes;
        const int segs = 32 / tpp;
        long long passes = (cpg + segs - 1) / segs;
        int wpg = 1;
        while (wpg < 8 && wpg * 2 <= passes)
            wpg *= 2;
        int tpp_log2 = 0, tpg_log2 = 5;
        while ((1 << tpp_log2) < tpp)
            tpp_log2++;
        while ((1 << tpg_log2) < 32 * wpg)
            tpg_log2++;
        const long long gpb = 256 / (32 * wpg);
        const size_t bytes = (size_t)cpg * Q * V * sizeof(float) * 2 * (size_t)gpb;
        const size_t smem = ((long long)cpg * Q < (1LL << 28) && bytes <= cu->smem_budget) ? bytes : 0;
        const unsigned blocks = (unsigned)((ngroups + gpb - 1) / gpb);
        gn_bwd_fused_kernel<V><<<blocks, 256, smem, cu->stream>>>(a, pl.g, tpg_log2, tpp_log2,
                                                                 smem > 0, partial);
        NL_CU_LAUNCHED(cu, "gn_bwd_fused_kernel");
    } else {
        const long long planes = (long long)n * c;
        /* threads per plane: a power of two near Q/4 (each thread ~4 vectors) */
        int tpp_log2 = 0;
        while (tpp_log2 < 8 && (1LL << tpp_log2) * 4 < Q)
            tpp_log2++;
        const long long ppb = 256 >> tpp_log2;
        const long long blocks = (planes + ppb - 1) / ppb;
        gn_plane_sums_kernel<V><<<(unsigned)blocks, 256, 0, cu->stream>>>(
            a.x, a.dy, a.save_mean, a.save_rstd, c, cpg, Q, planes, tpp_log2, partial);
        NL_CU_LAUNCHED(cu, "gn_plane_sums_kernel");
        if (a.dx) {
            gn_bwd_apply_kernel<V><<<pl.blocks, pl.T, 0, cu->stream>>>(a, pl.g, partial);
            NL_CU_LAUNCHED(cu, "gn_bwd_apply_kernel");
        }
    }
    if (dgamma || dbeta) {
        gn_param_grads_kernel<<<(unsigned)((c + 31) / 32), dim3(32, 8), 0, cu->stream>>>(
            n, c, partial, dgamma, dbeta);
        NL_CU_LAUNCHED(cu, "gn_param_grads_kernel");
    }
}

void nl_cuda_groupnorm_backward(nl_backend *be, const nl_norm_geom *g, const float *x,
                                const float *dy, const float *gamma, const float *save_mean,
                                const float *save_rstd, float *dx, bool accumulate_dx,
                                float *dgamma, float *dbeta, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    const int n = g->n, c = g->c, hw = g->hw, groups = g->groups;
    if (n <= 0 || c <= 0 || hw <= 0 || groups <= 0 || (!dx && !dgamma && !dbeta))
        return;
    GnBwdArgs a = {x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx ? 1 : 0,
                   g->center ? 1 : 0};
    double *partial = (double *)workspace;
    const bool vec = hw % 4 == 0 && nl_cuda_aligned16(x, dy, dx);
    if (vec)
        gn_backward_v<4>(cu, n, c, hw, groups, a, dgamma, dbeta, partial);
    else
        gn_backward_v<1>(cu, n, c, hw, groups, a, dgamma, dbeta, partial);
}

/* ------------------------------------------------------------------------ */

cudaError_t nl_cuda_groupnorm_setup(size_t smem_bytes)
{
    cudaError_t e = cudaFuncSetAttribute(norm_fused_kernel<4>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)smem_bytes);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(norm_fused_kernel<1>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 (int)smem_bytes);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(gn_bwd_fused_kernel<4>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem_bytes);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(gn_bwd_fused_kernel<1>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem_bytes);
    return e;
}
