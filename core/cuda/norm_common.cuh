/* Device helpers shared by the normalization kernels (batchnorm.cu,
 * groupnorm.cu), the bias reductions and the elementwise ops (elementwise.cu,
 * the optimizers): vector loads, the grid-stride elementwise walk,
 * deterministic warp and block sums, and the "group of planes" walk with its
 * launch planning.
 *
 * A plane is one (sample, channel) run of hw contiguous floats. Every
 * statistic is taken over a group of planes:
 *   BatchNorm: group c = planes (0, c), (1, c), ... (n-1, c)   (stride c*hw)
 *   GroupNorm: group (i, g) = planes (i, g*cpg) ... (i, g*cpg + cpg - 1)
 *              (contiguous; groups = 1 is LayerNorm, groups = c InstanceNorm)
 * A group is walked as a flat index j over its Lv = planes * Q vectors
 * (V floats each, V = 4 when hw % 4 == 0 and the pointers are 16-byte
 * aligned, else 1; Q = hw / V). Thread t of a block takes j = j0 + t,
 * j0 + t + T, ...; the cursor keeps (plane k, offset q) and steps it with a
 * precomputed (T / Q, T % Q) so the hot loops do no division.
 *
 * Determinism: a thread adds its values in j order; warps add lanes in a
 * fixed shuffle tree; blocks add warps in warp order; groups split over
 * several blocks add the blocks' partial sums in split order. Every one of
 * these depends only on the shape and the launch configuration, which the
 * planner derives from the shape and the device's SM count alone, so runs
 * repeat bit for bit. No atomics are used. */
#ifndef NL_CUDA_NORM_COMMON_CUH
#define NL_CUDA_NORM_COMMON_CUH

#include <string.h>

#include "cuda/cuda_common.h"

namespace nlk {

/* vectors loaded ahead per thread: 4 for one or two input streams, 2 for
 * the backward's dx pass (x, dy and dx: more would spill at 64 registers) */
enum { UNROLL = 4, BWD_UNROLL = 2, SPLIT_THREADS = 256 };

/* ---- vectors of V floats ---- */
template <int V> struct Vec {
    float v[V];
};

/* How a vector is read: through the read-only cache; as a last use,
 * evict-first (keeps data that will be read again in L2); or plainly, data
 * this kernel also writes (dx when accumulating). */
enum { LOAD_CACHED, LOAD_LAST, LOAD_PLAIN };

template <int HOW, class T> __device__ __forceinline__ T load_as(const T *p)
{
    if (HOW == LOAD_CACHED)
        return __ldg(p);
    if (HOW == LOAD_LAST)
        return __ldcs(p);
    return *p;
}

template <int V, int HOW> struct Load;
template <int HOW> struct Load<4, HOW> {
    static __device__ __forceinline__ Vec<4> at(const float *p, long long i)
    {
        const float4 t = load_as<HOW>(reinterpret_cast<const float4 *>(p) + i);
        Vec<4> r = {{t.x, t.y, t.z, t.w}};
        return r;
    }
};
template <int HOW> struct Load<1, HOW> {
    static __device__ __forceinline__ Vec<1> at(const float *p, long long i)
    {
        Vec<1> r = {{load_as<HOW>(p + i)}};
        return r;
    }
};

template <int V> __device__ __forceinline__ Vec<V> ld(const float *p, long long i)
{
    return Load<V, LOAD_CACHED>::at(p, i);
}
template <int V> __device__ __forceinline__ Vec<V> ld_last(const float *p, long long i)
{
    return Load<V, LOAD_LAST>::at(p, i);
}
template <int V> __device__ __forceinline__ Vec<V> ld_rw(const float *p, long long i)
{
    return Load<V, LOAD_PLAIN>::at(p, i);
}

template <int V> __device__ __forceinline__ void st(float *p, long long i, const Vec<V> &a);
template <> __device__ __forceinline__ void st<4>(float *p, long long i, const Vec<4> &a)
{
    reinterpret_cast<float4 *>(p)[i] = make_float4(a.v[0], a.v[1], a.v[2], a.v[3]);
}
template <> __device__ __forceinline__ void st<1>(float *p, long long i, const Vec<1> &a)
{
    p[i] = a.v[0];
}

template <int V> __device__ __forceinline__ Vec<V> zero_vec()
{
    Vec<V> r;
#pragma unroll
    for (int e = 0; e < V; e++)
        r.v[e] = 0.0f;
    return r;
}

/* ---- elementwise ops: one grid-stride walk for all of them ----
 * Thread t takes items t, t + stride, ...; an item is a float4 vector when
 * every pointer is 16-byte aligned (then the count % 4 tail goes as floats),
 * else a float. Op::run<V>(i) handles item i (floats V*i .. V*i + V-1); an
 * op whose every output reads only its own inputs gives results that do not
 * depend on this decomposition. */
template <class Op> __global__ void __launch_bounds__(256) ew_kernel(Op op, size_t n, int vec)
{
    const size_t tid = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t done = 0;
    if (vec) {
        const size_t n4 = n / 4;
        for (size_t i = tid; i < n4; i += stride)
            op.template run<4>(i);
        done = n4 * 4;
    }
    for (size_t i = done + tid; i < n; i += stride)
        op.template run<1>(i);
}

/* queues op over n floats; `what` names it in a launch error */
template <class Op>
static inline void ew_launch(nl_cuda *cu, const Op &op, size_t n, bool vec, const char *what)
{
    if (n == 0)
        return;
    const unsigned blocks = nl_cuda_grid(cu, vec ? (n + 3) / 4 : n, 256);
    ew_kernel<Op><<<blocks, 256, 0, cu->stream>>>(op, n, vec ? 1 : 0);
    NL_CU_STATUS(cu, cudaError_t, cudaSuccess, nl_cuda_record_cuda, cudaGetLastError(), what);
}

/* the dynamic shared memory of every kernel that has some: one declaration
 * and type for all of them (extern __shared__ arrays alias each other) */
extern __shared__ float4 nl_dyn_smem[];

/* the fused path's on-chip copy of a group: `array` selects x or dy, each
 * `len` vectors long; a thread reads back only what it wrote itself */
template <int V> __device__ __forceinline__ void sm_st(int i, const Vec<V> &a, int array, int len)
{
    float *base = reinterpret_cast<float *>(nl_dyn_smem) + (size_t)array * len * V;
    if constexpr (V == 4)
        reinterpret_cast<float4 *>(base)[i] = make_float4(a.v[0], a.v[1], a.v[2], a.v[3]);
    else
        base[i] = a.v[0];
}
template <int V> __device__ __forceinline__ Vec<V> sm_ld(int i, int array, int len)
{
    const float *base = reinterpret_cast<const float *>(nl_dyn_smem) + (size_t)array * len * V;
    Vec<V> r;
    if constexpr (V == 4) {
        const float4 t = reinterpret_cast<const float4 *>(base)[i];
        r.v[0] = t.x;
        r.v[1] = t.y;
        r.v[2] = t.z;
        r.v[3] = t.w;
    } else {
        r.v[0] = base[i];
    }
    return r;
}

/* ---- deterministic sums ---- */
/* lane 0 gets the warp's sum, always added in the same tree */
__device__ __forceinline__ double warp_sum(double v)
{
#pragma unroll
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, off);
    return v;
}

/* each warp's sums of a and b, as warp_sum leaves them in its lane 0, and
 * from there in sh[0][warp] and sh[1][warp]; ends with a barrier */
__device__ __forceinline__ void warp_sums2(double (&sh)[2][32], double &a, double &b)
{
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    a = warp_sum(a);
    b = warp_sum(b);
    if (lane == 0) {
        sh[0][w] = a;
        sh[1][w] = b;
    }
    __syncthreads();
}

/* thread 0 gets the block's sums; every thread of the block must call it and
 * blockDim.x must be a multiple of 32 (at most 1024). Ends with a barrier, so
 * it may be called again (in a loop) at once. */
__device__ __forceinline__ void block_sum2(double &a, double &b)
{
    __shared__ double sh[2][32];
    warp_sums2(sh, a, b);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (w == 0) {
        a = lane < nw ? sh[0][lane] : 0.0;
        b = lane < nw ? sh[1][lane] : 0.0;
        a = warp_sum(a);
        b = warp_sum(b);
    }
    __syncthreads();
}

/* Blocks of COLUMN_BLOCK_X columns (threadIdx.x) by COLUMN_BLOCK_Y row lanes
 * (threadIdx.y): thread (x, y)'s two sums of its rows, then, past a barrier,
 * in the lane-0 thread of each column the column's sums, its lanes added in
 * lane order (the other threads keep their own). Every thread of the block
 * must call it. */
enum { COLUMN_BLOCK_X = 32, COLUMN_BLOCK_Y = 8 };
__device__ __forceinline__ void column_sums2(double &a, double &b)
{
    __shared__ double sh[2][COLUMN_BLOCK_Y][COLUMN_BLOCK_X];
    const int tx = threadIdx.x, ty = threadIdx.y;
    sh[0][ty][tx] = a;
    sh[1][ty][tx] = b;
    __syncthreads();
    if (ty == 0) {
        a = 0.0;
        b = 0.0;
        for (int t = 0; t < COLUMN_BLOCK_Y; t++) {
            a += sh[0][t][tx];
            b += sh[1][t][tx];
        }
    }
}

/* channel ch's affine gradients, each where asked: dgamma the sum of
 * dy * xhat, dbeta the sum of dy */
__device__ __forceinline__ void write_affine_grads(float *dgamma, float *dbeta, int ch,
                                                   double sum_dy_xhat, double sum_dy)
{
    if (dgamma)
        dgamma[ch] = (float)sum_dy_xhat;
    if (dbeta)
        dbeta[ch] = (float)sum_dy;
}

/* The fused kernels put 256 / tpg groups in a block, tpg = 2^tpg_log2 >= 32
 * threads each (a "slot"). The slot's thread 0 gets the sums over its
 * threads: lanes in a shuffle tree, then the slot's warps in warp order.
 * Every thread of the block must call it; ends with a barrier. */
__device__ __forceinline__ void slot_sum2(double &a, double &b, int tpg_log2)
{
    __shared__ double sh[2][32];
    warp_sums2(sh, a, b);
    const int w = threadIdx.x >> 5;
    if ((threadIdx.x & ((1 << tpg_log2) - 1)) == 0) {
        const int wpg = 1 << (tpg_log2 - 5);
        a = 0.0;
        b = 0.0;
        for (int t = 0; t < wpg; t++) {
            a += sh[0][w + t];
            b += sh[1][w + t];
        }
    }
    __syncthreads();
}

/* ---- groups of planes ---- */
struct GroupGeom {
    long long Lv;      /* vectors per group */
    long long chunk;   /* vectors per split: ceil(Lv / S) */
    long long gstride; /* vectors from one group's first plane to the next group's */
    long long pstride; /* vectors between consecutive planes of a group */
    int Q;             /* vectors per plane */
    int S;             /* blocks (splits) per group */
    int G;             /* GroupNorm: groups per sample; 0: BatchNorm */
    int cpg;           /* GroupNorm: channels per group */
    int step;          /* threads walking one group: blockDim.x, or a slot of it */
    int dk, dq;        /* the cursor's step in (plane, vector): step / Q, step % Q */
    int hw;
    long long groups;  /* how many groups there are */
    double count;      /* elements per group */
};

/* Block b of a split pass (g.S blocks per group): its group i, its split s
 * and the group's vectors [j0, j1) that it walks */
struct SplitBlock {
    long long i, s, j0, j1;
};

__device__ __forceinline__ SplitBlock split_block(const GroupGeom &g, long long b)
{
    SplitBlock r;
    r.i = b / g.S;
    r.s = b - r.i * g.S;
    r.j0 = r.s * g.chunk;
    r.j1 = r.j0 + g.chunk < g.Lv ? r.j0 + g.chunk : g.Lv;
    return r;
}

/* a split block's two sums into its pair of partials, for the second stage */
__device__ __forceinline__ void store_partial2(double *partial, long long b, double a, double c)
{
    if (threadIdx.x == 0) {
        partial[2 * b] = a;
        partial[2 * b + 1] = c;
    }
}

/* the first warp's sums of group i's g.S partial pairs into a and c: every
 * block of the group adds the same partials in the same order */
__device__ __forceinline__ void sum_partials2(const double *partial, const GroupGeom &g,
                                              long long i, double &a, double &c)
{
    for (int t = threadIdx.x; t < g.S; t += 32) {
        a += partial[2 * (i * g.S + t)];
        c += partial[2 * (i * g.S + t) + 1];
    }
    a = warp_sum(a);
    c = warp_sum(c);
}

/* channel of plane k of group i: ch0 + k * chstep */
__device__ __forceinline__ void group_channels(const GroupGeom &g, long long i, int &ch0,
                                               int &chstep)
{
    if (g.G) {
        ch0 = (int)(i % g.G) * g.cpg;
        chstep = 1;
    } else {
        ch0 = (int)i;
        chstep = 0;
    }
}

struct Cursor {
    long long j; /* flat vector index within the group */
    int k, q;    /* plane within the group, vector within the plane */
    __device__ __forceinline__ void init(const GroupGeom &g, long long j0)
    {
        j = j0;
        k = (int)(j0 / g.Q);
        q = (int)(j0 - (long long)k * g.Q);
    }
    __device__ __forceinline__ long long at(const GroupGeom &g, long long base) const
    {
        return base + (long long)k * g.pstride + q;
    }
    __device__ __forceinline__ void next(const GroupGeom &g)
    {
        j += g.step;
        q += g.dq;
        k += g.dk;
        if (q >= g.Q) {
            q -= g.Q;
            ++k;
        }
    }
};

/* statistics from the sums of (x - K) and (x - K)^2 over `count` values;
 * shifting by a value of the group (K) keeps E[d^2] - E[d]^2 free of
 * cancellation when |mean| >> std */
__device__ __forceinline__ void finalize_stats(double K, double sum, double sum2, double count,
                                               float eps, double &mean, double &var, double &rstd)
{
    const double md = sum / count;
    mean = K + md;
    double v = sum2 / count - md * md;
    var = v > 0.0 ? v : 0.0;
    rstd = 1.0 / sqrt(var + (double)eps);
}

} /* namespace nlk */

/* ---- launch planning (host) ---- */
struct NormPlan {
    int V;          /* floats per vector */
    int S;          /* blocks (splits) per group; 1: the fused path */
    int T;          /* threads per block */
    int tpg_log2;   /* fused path: log2 of the threads per group (a slot) */
    unsigned blocks;
    size_t smem;    /* fused path: dynamic shared memory, 0 = re-read from global */
    nlk::GroupGeom g;
};

static inline int nl_cuda_pow2_at_least(long long x, int lo, int hi)
{
    int p = lo;
    while (p < hi && p < x)
        p *= 2;
    return p;
}

/* groups of `planes` planes of hw floats; `gstride_planes`/`pstride_planes`
 * as in GroupGeom but counted in planes. `arrays`: tensors the fused path
 * keeps on chip (1 forward, 2 backward). */
static inline NormPlan nl_cuda_plan_norm(const nl_cuda *cu, long long groups, int planes, int hw,
                                         long long gstride_planes, long long pstride_planes,
                                         int G, int cpg, bool vec4, int arrays)
{
    NormPlan p;
    memset(&p, 0, sizeof p);
    p.V = (vec4 && hw % 4 == 0) ? 4 : 1;
    const int Q = hw / p.V;
    const long long Lv = (long long)planes * Q;
    /* few groups: split each over several blocks so ~4 blocks per SM run;
     * many groups: whole groups per block (the fused path) */
    long long S;
    const long long target = 4LL * cu->sm_count;
    if (cu->force_splits > 0) {
        S = cu->force_splits;
    } else if (groups * 2 >= target) {
        S = 1;
    } else {
        S = (target + groups - 1) / groups;
        const long long by_size = (Lv + 1023) / 1024; /* >= 1024 vectors per block */
        if (S > by_size)
            S = by_size;
    }
    const long long cap = (long long)cu->scratch_pairs / (groups > 0 ? groups : 1);
    if (S > cap)
        S = cap;
    if (S > Lv)
        S = Lv;
    if (S < 1)
        S = 1;
    p.S = (int)S;
    p.T = nlk::SPLIT_THREADS;
    int step = p.T;
    if (p.S == 1) {
        /* a slot of tpg threads per group, ~4 vectors per thread (one batch
         * of loads), 256 / tpg groups per block */
        const int tpg = nl_cuda_pow2_at_least((Lv + 3) / 4, 32, 256);
        p.tpg_log2 = 0;
        while ((1 << p.tpg_log2) < tpg)
            p.tpg_log2++;
        step = tpg;
        const long long gpb = p.T / tpg;
        p.blocks = (unsigned)((groups + gpb - 1) / gpb);
        const size_t bytes = (size_t)Lv * p.V * sizeof(float) * arrays * (size_t)gpb;
        p.smem = (Lv < (1LL << 28) && bytes <= cu->smem_budget) ? bytes : 0;
    } else {
        p.blocks = (unsigned)(groups * p.S);
    }
    nlk::GroupGeom &g = p.g;
    g.Lv = Lv;
    g.S = p.S;
    g.chunk = (Lv + p.S - 1) / p.S;
    g.gstride = gstride_planes * Q;
    g.pstride = pstride_planes * Q;
    g.Q = Q;
    g.G = G;
    g.cpg = cpg;
    g.step = step;
    g.dk = step / Q;
    g.dq = step % Q;
    g.hw = hw;
    g.count = (double)planes * (double)hw;
    g.groups = groups;
    return p;
}

#endif
