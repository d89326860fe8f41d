/* Multi-head attention, causal or bidirectional (backend.h, nl_attn_geom),
 * the CUDA twin of core/cpu/attention.c. Query row s sees keys 0 .. last_key(s):
 * s under the causal mask, T - 1 otherwise.
 *
 * Every kernel gives a block one (sample, head) pair and a chunk of ROWS
 * consecutive rows (query rows s for the forward and dq, key rows u for dk
 * and dv). Its 8 warps take ROWS / 8 rows each. The other side of the
 * products is streamed through shared memory in tiles of TILE = 32 rows, so
 * in the logit loops lane l takes key u = u0 + l: the lane that writes a
 * logit is the one that later turns it into a probability (no cross-lane
 * hand-off), and in the value loops lane l takes columns l, l + 32, ...
 * Shared rows are head_dim + 1 floats apart so that 32 lanes reading 32
 * rows hit 32 banks. Any T and head_dim up to what a block's shared memory
 * holds (64 * (head_dim + 1) floats) run; nothing is sized for T.
 *
 * Forward: the logits go straight into probs (which is saved anyway), the
 * row's softmax is taken there in place (max and sum over the warp in a fixed
 * shuffle tree, broadcast from lane 0), then y = P V.
 *
 * Backward, from the saved probs, in two kernels as FlashAttention-2's:
 *   rows s:  dprobs = dY V^T and dlogit = P * (dprobs - rowsum(P * dprobs))
 *            into the workspace, then dq = scale * dlogit K;
 *   rows u:  dv = P^T dY and dk = scale * dlogit^T Q, reading P and dlogit
 *            down their columns.
 * Each output element is accumulated by one thread over u (or s) in
 * increasing order, across tiles through the output itself, so results
 * repeat bit for bit; against the CPU (sgemm) they differ by rounding.
 *
 * Under a low product precision (be->product_precision) QK^T, PV and their
 * gradients' products are autocast's, rounded where core/cpu/attention.c
 * rounds: the operands Q, K, V and dY as they are loaded into shared
 * memory, P as its weights are read (probs stays fp32, the softmax and its
 * backward too); the logits (before the scale, as the CPU's product writes
 * them), y, dprobs, dq, dk and dv as written; dlogit as written, with the
 * scale folded in first as the CPU folds it, so that dq and dk are plain
 * products of rounded operands. The kernels take the precision as a
 * template parameter (PREC, lowp.cuh): the fp32 instances are the kernels
 * as they were. */
#include <math.h>

#include "cuda/lowp.cuh"
#include "cuda/norm_common.cuh"

using namespace nlk;

enum { ROWS = 32, TILE = 32, WARPS = 8, THREADS = 32 * WARPS, ROWS_PER_WARP = ROWS / WARPS };

struct AttnDims {
    int T, hd, heads, D;
    int ld_q, ld_k, ld_v;
    int chunks; /* blocks per pair */
    float scale;
    bool bidirectional;
};

static AttnDims dims_of(const nl_attn_geom *g)
{
    AttnDims a;
    a.T = g->t;
    a.hd = g->head_dim;
    a.heads = g->heads;
    a.D = g->heads * g->head_dim;
    a.ld_q = g->ld_q;
    a.ld_k = g->ld_k;
    a.ld_v = g->ld_v;
    a.chunks = (g->t + ROWS - 1) / ROWS;
    a.scale = g->scale;
    a.bidirectional = g->bidirectional;
    return a;
}

/* the last key query row s sees */
__device__ __forceinline__ int last_key(const AttnDims &a, int s)
{
    return a.bidirectional ? a.T - 1 : s;
}

/* row 0 of head h of sample i in a tensor whose rows are ld floats apart */
__device__ __forceinline__ size_t head_base(const AttnDims &a, int ld, int pair)
{
    const int i = pair / a.heads, h = pair - i * a.heads;
    return (size_t)i * a.T * ld + (size_t)h * a.hd;
}

/* rows r0 .. r0 + count - 1 of a head into shared memory (rows past T: 0),
 * rounded to PREC */
template <int PREC>
__device__ __forceinline__ void load_rows(float *dst, const float *src, int ld, int r0, int count,
                                          const AttnDims &a)
{
    const int P = a.hd + 1;
    for (int idx = threadIdx.x; idx < count * a.hd; idx += THREADS) {
        const int r = idx / a.hd, j = idx - r * a.hd;
        dst[r * P + j] =
            r0 + r < a.T ? nl_lowp_round<PREC>(__ldg(src + (size_t)(r0 + r) * ld + j)) : 0.0f;
    }
}

/* the warp's rows r (ROWS_PER_WARP of them) of `rows` dotted with row
 * `lane` of the tile: one tile load serves all of them */
__device__ __forceinline__ void dot_rows(float dot[ROWS_PER_WARP], const float *rows,
                                         const float *tile, const AttnDims &a)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, P = a.hd + 1;
    const float *r0 = rows + warp * ROWS_PER_WARP * P, *t = tile + lane * P;
#pragma unroll
    for (int rr = 0; rr < ROWS_PER_WARP; rr++)
        dot[rr] = 0.0f;
    for (int j = 0; j < a.hd; j++) {
        const float tv = t[j];
#pragma unroll
        for (int rr = 0; rr < ROWS_PER_WARP; rr++)
            dot[rr] += r0[rr * P + j] * tv;
    }
}

/* every lane gets the warp's sum (lane 0's, from the fixed tree) */
__device__ __forceinline__ double warp_sum_all(double v)
{
    return __shfl_sync(0xffffffffu, warp_sum(v), 0);
}

__device__ __forceinline__ float warp_max_all(float v)
{
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
        const float o = __shfl_down_sync(0xffffffffu, v, off);
        v = o > v ? o : v;
    }
    return __shfl_sync(0xffffffffu, v, 0);
}

/* acc_row[j] (+)= sum over u in [u0, min(u0 + TILE - 1, s)] of w_row[u] *
 * tile[u - u0][j], for the lane's columns j; the first tile writes, the
 * last scales and rounds. The weights are read by every lane at once (a
 * broadcast), rounded to PREC. */
template <int PREC>
__device__ __forceinline__ void accumulate_rows(float *out, const float *w_row, const float *tile,
                                                int u0, int u_hi, bool first, float final_scale,
                                                bool last, const AttnDims &a)
{
    const int lane = threadIdx.x & 31, P = a.hd + 1;
    for (int j = lane; j < a.hd; j += 32) {
        float acc = first ? 0.0f : out[j];
        for (int u = u0; u <= u_hi; u++)
            acc += nl_lowp_round<PREC>(w_row[u]) * tile[(u - u0) * P + j];
        out[j] = last ? nl_lowp_round<PREC>(final_scale * acc) : acc;
    }
}

/* For the block's rows s0 .. s_last: the dot product of every row (in
 * shared memory) with every row u <= last_key(s) of src, streamed through ts
 * by tiles; on_dot(rr, s, u, dot) gets each, on the lane that owns key u. */
template <int PREC, class OnDot>
__device__ __forceinline__ void dots_by_tiles(const float *rows, float *ts, const float *src,
                                              int ld_src, int s0, int s_last, const AttnDims &a,
                                              OnDot on_dot)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int tiles = last_key(a, s_last) / TILE + 1;
    for (int tl = 0; tl < tiles; tl++) {
        const int u0 = tl * TILE, u = u0 + lane;
        __syncthreads();
        load_rows<PREC>(ts, src, ld_src, u0, TILE, a);
        __syncthreads();
        if (s0 + warp * ROWS_PER_WARP > s_last)
            continue; /* a warp past the last row */
        float dot[ROWS_PER_WARP];
        dot_rows(dot, rows, ts, a);
        for (int rr = 0; rr < ROWS_PER_WARP; rr++) {
            const int s = s0 + warp * ROWS_PER_WARP + rr;
            if (s <= s_last && u <= last_key(a, s))
                on_dot(rr, s, u, nl_lowp_round<PREC>(dot[rr]));
        }
    }
}

/* out[s] = scale * sum over u <= last_key(s) of w[s * T + u] * src[u] for the block's
 * rows s0 .. s_last, src streamed through ts by tiles; the barrier at each
 * tile also makes the weights other lanes wrote visible */
template <int PREC>
__device__ __forceinline__ void weights_times_rows(float *out, int ld_out, const float *w,
                                                  const float *src, int ld_src, float *ts,
                                                  int s0, int s_last, float scale,
                                                  const AttnDims &a)
{
    const int warp = threadIdx.x >> 5, tiles = last_key(a, s_last) / TILE + 1;
    for (int tl = 0; tl < tiles; tl++) {
        const int u0 = tl * TILE;
        __syncthreads();
        load_rows<PREC>(ts, src, ld_src, u0, TILE, a);
        __syncthreads();
        for (int rr = 0; rr < ROWS_PER_WARP; rr++) {
            const int s = s0 + warp * ROWS_PER_WARP + rr;
            if (s > s_last)
                continue;
            const int last = last_key(a, s);
            if (u0 > last)
                continue;
            accumulate_rows<PREC>(out + (size_t)s * ld_out, w + (size_t)s * a.T, ts, u0,
                            min(u0 + TILE - 1, last), tl == 0, scale, last < u0 + TILE, a);
        }
    }
}

/* ---- forward ---- */

template <int PREC>
__global__ void __launch_bounds__(THREADS)
    attn_fwd_kernel(AttnDims a, const float *q, const float *k, const float *v, float *probs,
                    float *y, float *block_max)
{
    const int pair = blockIdx.x / a.chunks, s0 = (blockIdx.x - pair * a.chunks) * ROWS;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, P = a.hd + 1;
    float *qs = reinterpret_cast<float *>(nl_dyn_smem), *ts = qs + ROWS * P;
    const float *qh = q + head_base(a, a.ld_q, pair), *kh = k + head_base(a, a.ld_k, pair),
                *vh = v + head_base(a, a.ld_v, pair);
    float *ph = probs + (size_t)pair * a.T * a.T;
    float *yh = y + head_base(a, a.D, pair);
    const int s_last = min(s0 + ROWS, a.T) - 1;
    load_rows<PREC>(qs, qh, a.ld_q, s0, ROWS, a);

    /* logits: lane takes key u = u0 + lane of each tile (the product's
     * output is rounded, then scaled) */
    float row_max[ROWS_PER_WARP];
    for (int rr = 0; rr < ROWS_PER_WARP; rr++)
        row_max[rr] = -INFINITY;
    dots_by_tiles<PREC>(qs, ts, kh, a.ld_k, s0, s_last, a, [&](int rr, int s, int u, float dot) {
        const float logit = a.scale * dot;
        ph[(size_t)s * a.T + u] = logit;
        row_max[rr] = logit > row_max[rr] ? logit : row_max[rr];
    });
    /* softmax in place; each lane touches the keys u = lane (mod 32) it wrote */
    float warp_largest = -INFINITY;
    for (int rr = 0; rr < ROWS_PER_WARP; rr++) {
        const int s = s0 + warp * ROWS_PER_WARP + rr;
        if (s > s_last) /* the same for the whole warp */
            break;
        float *row = ph + (size_t)s * a.T;
        const float m = warp_max_all(row_max[rr]);
        warp_largest = m > warp_largest ? m : warp_largest;
        const int last = last_key(a, s);
        float sum = 0.0f;
        for (int u = lane; u <= last; u += 32) {
            const float e = expf(row[u] - m);
            row[u] = e;
            sum += e;
        }
        const float inv = 1.0f / (float)warp_sum_all((double)sum);
        for (int u = lane; u < a.T; u += 32)
            row[u] = u <= last ? row[u] * inv : 0.0f;
    }
    /* y = P V */
    weights_times_rows<PREC>(yh, a.D, ph, vh, a.ld_v, ts, s0, s_last, 1.0f, a);
    if (block_max) {
        __shared__ float warp_max[WARPS];
        if (lane == 0)
            warp_max[warp] = warp_largest;
        __syncthreads();
        if (threadIdx.x == 0) {
            float m = warp_max[0];
            for (int w = 1; w < WARPS; w++)
                m = warp_max[w] > m ? warp_max[w] : m;
            block_max[blockIdx.x] = m;
        }
    }
}

/* one block: the largest of the blocks' maxima (a max is exact in any order) */
__global__ void __launch_bounds__(THREADS)
    attn_max_kernel(const float *block_max, int count, float *out)
{
    __shared__ float sh[THREADS];
    float m = -INFINITY;
    for (int b = threadIdx.x; b < count; b += THREADS)
        m = block_max[b] > m ? block_max[b] : m;
    sh[threadIdx.x] = m;
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half && sh[threadIdx.x + half] > sh[threadIdx.x])
            sh[threadIdx.x] = sh[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        *out = sh[0];
}

/* ---- backward ---- */

/* the scale dq and dk still take: all of it in fp32, none where dlogit
 * holds it already (a low precision) */
template <int PREC> __device__ __forceinline__ float dlogit_scale(const AttnDims &a)
{
    return PREC == NL_PRECISION_FP32 ? a.scale : 1.0f;
}

/* rows s: dlogit into the workspace, then dq */
template <int PREC>
__global__ void __launch_bounds__(THREADS)
    attn_bwd_q_kernel(AttnDims a, const float *k, const float *v, const float *probs,
                      const float *dy, float *dlogit, float *dq)
{
    const int pair = blockIdx.x / a.chunks, s0 = (blockIdx.x - pair * a.chunks) * ROWS;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, P = a.hd + 1;
    float *ds = reinterpret_cast<float *>(nl_dyn_smem), *ts = ds + ROWS * P;
    const float *kh = k + head_base(a, a.ld_k, pair), *vh = v + head_base(a, a.ld_v, pair);
    const float *ph = probs + (size_t)pair * a.T * a.T;
    float *lh = dlogit + (size_t)pair * a.T * a.T;
    float *dqh = dq + head_base(a, a.ld_q, pair);
    const int s_last = min(s0 + ROWS, a.T) - 1;
    load_rows<PREC>(ds, dy + head_base(a, a.D, pair), a.D, s0, ROWS, a);

    /* dprobs[s, u] = dy[s] . v[u], and each lane's part of sum_u P * dprobs */
    float weighted[ROWS_PER_WARP];
    for (int rr = 0; rr < ROWS_PER_WARP; rr++)
        weighted[rr] = 0.0f;
    dots_by_tiles<PREC>(ds, ts, vh, a.ld_v, s0, s_last, a, [&](int rr, int s, int u, float dot) {
        lh[(size_t)s * a.T + u] = dot;
        weighted[rr] += __ldg(ph + (size_t)s * a.T + u) * dot;
    });
    /* dlogit = P * (dprobs - weighted); entries above the diagonal are never
     * read, so they are not written. Under a low precision the scale is
     * folded in and the result rounded, the gradient the logits' product
     * receives on the CPU; dq and dk then take no scale. */
    for (int rr = 0; rr < ROWS_PER_WARP; rr++) {
        const int s = s0 + warp * ROWS_PER_WARP + rr;
        if (s > s_last)
            break;
        const float w = (float)warp_sum_all((double)weighted[rr]);
        float *row = lh + (size_t)s * a.T;
        for (int u = lane; u <= last_key(a, s); u += 32) {
            const float d = __ldg(ph + (size_t)s * a.T + u) * (row[u] - w);
            row[u] = PREC == NL_PRECISION_FP32 ? d : nl_lowp_round<PREC>(a.scale * d);
        }
    }
    /* dq = scale * dlogit K */
    weights_times_rows<PREC>(dqh, a.ld_q, lh, kh, a.ld_k, ts, s0, s_last, dlogit_scale<PREC>(a),
                             a);
}

/* out[u][j] (+)= sum over s in [max(s0, u), s_hi] (causal; [s0, s_hi]
 * bidirectional) of w[s * T + u] * tile[s - s0][j]: a column of the
 * weights (rounded to PREC), for the lane's columns j; the last tile
 * scales and rounds */
template <int PREC>
__device__ __forceinline__ void accumulate_cols(float *out, const float *w, int u,
                                                const float *tile, int s0, int s_hi, bool first,
                                                float final_scale, bool last, const AttnDims &a)
{
    const int lane = threadIdx.x & 31, P = a.hd + 1;
    const int s_lo = s0 > u || a.bidirectional ? s0 : u;
    for (int j = lane; j < a.hd; j += 32) {
        float acc = first ? 0.0f : out[j];
        for (int s = s_lo; s <= s_hi; s++)
            acc += nl_lowp_round<PREC>(w[(size_t)s * a.T + u]) * tile[(s - s0) * P + j];
        out[j] = last ? nl_lowp_round<PREC>(final_scale * acc) : acc;
    }
}

/* rows u: dv = P^T dY, dk = scale * dlogit^T Q, over the queries that see
 * key u (s >= u under the causal mask, every s otherwise) */
template <int PREC>
__global__ void __launch_bounds__(THREADS)
    attn_bwd_kv_kernel(AttnDims a, const float *q, const float *probs, const float *dy,
                       const float *dlogit, float *dk, float *dv)
{
    const int pair = blockIdx.x / a.chunks, u0 = (blockIdx.x - pair * a.chunks) * ROWS;
    const int warp = threadIdx.x >> 5, P = a.hd + 1;
    float *dys = reinterpret_cast<float *>(nl_dyn_smem), *qs = dys + TILE * P;
    const float *qh = q + head_base(a, a.ld_q, pair), *dyh = dy + head_base(a, a.D, pair);
    const float *ph = probs + (size_t)pair * a.T * a.T, *lh = dlogit + (size_t)pair * a.T * a.T;
    float *dkh = dk + head_base(a, a.ld_k, pair), *dvh = dv + head_base(a, a.ld_v, pair);
    const int first_tile = a.bidirectional ? 0 : u0 / TILE, tiles = (a.T + TILE - 1) / TILE;
    for (int tl = first_tile; tl < tiles; tl++) {
        const int s0 = tl * TILE, s_hi = min(s0 + TILE, a.T) - 1;
        __syncthreads();
        load_rows<PREC>(dys, dyh, a.D, s0, TILE, a);
        load_rows<PREC>(qs, qh, a.ld_q, s0, TILE, a);
        __syncthreads();
        for (int rr = 0; rr < ROWS_PER_WARP; rr++) {
            const int u = u0 + warp * ROWS_PER_WARP + rr;
            if (u >= a.T || (!a.bidirectional && u > s_hi))
                continue;
            const bool first = tl == first_tile, last = tl == tiles - 1;
            /* dv's scale is 1: in fp32 its last tile has nothing to do */
            accumulate_cols<PREC>(dvh + (size_t)u * a.ld_v, ph, u, dys, s0, s_hi, first, 1.0f,
                                  PREC != NL_PRECISION_FP32 && last, a);
            accumulate_cols<PREC>(dkh + (size_t)u * a.ld_k, lh, u, qs, s0, s_hi, first,
                                  dlogit_scale<PREC>(a), last, a);
        }
    }
}

/* ---- host side ---- */

/* dynamic shared memory of every kernel here: two blocks of 32 rows */
static size_t attn_smem(const AttnDims &a) { return (size_t)(ROWS + TILE) * (a.hd + 1) * sizeof(float); }

/* false (and the error recorded) when a block cannot hold the tiles */
template <int PREC> static bool attn_smem_ok(nl_cuda *cu, const AttnDims &a)
{
    const size_t need = attn_smem(a);
    if (need <= 48 * 1024)
        return true;
    if (need > cu->smem_optin) {
        nl_cuda_record(cu, NL_ERR_UNSUPPORTED,
                       "CUDA attention: head_dim %d needs %zu bytes of shared memory per block, "
                       "more than the %zu this GPU allows",
                       a.hd, need, cu->smem_optin);
        return false;
    }
    NL_CU(cu, cudaFuncSetAttribute(attn_fwd_kernel<PREC>,
                                   cudaFuncAttributeMaxDynamicSharedMemorySize, (int)need));
    NL_CU(cu, cudaFuncSetAttribute(attn_bwd_q_kernel<PREC>,
                                   cudaFuncAttributeMaxDynamicSharedMemorySize, (int)need));
    NL_CU(cu, cudaFuncSetAttribute(attn_bwd_kv_kernel<PREC>,
                                   cudaFuncAttributeMaxDynamicSharedMemorySize, (int)need));
    return true;
}

size_t nl_cuda_attention_workspace(nl_backend *be, const nl_attn_geom *g)
{
    (void)be;
    /* backward: dlogit, one T x T block per pair; forward: the blocks'
     * largest logits, fewer. A low precision needs nothing more: the
     * operands are rounded as they are loaded. */
    return (size_t)g->n * g->heads * g->t * g->t * sizeof(float);
}

template <int PREC>
static void attention_forward(nl_cuda *cu, const nl_attn_geom *g, const float *q, const float *k,
                              const float *v, float *probs, float *y, float *max_logit,
                              void *workspace)
{
    const AttnDims a = dims_of(g);
    const long long blocks = (long long)g->n * g->heads * a.chunks;
    if (blocks == 0 || a.hd == 0 || !attn_smem_ok<PREC>(cu, a))
        return;
    float *block_max = max_logit ? (float *)workspace : NULL;
    attn_fwd_kernel<PREC><<<(unsigned)blocks, THREADS, attn_smem(a), cu->stream>>>(
        a, q, k, v, probs, y, block_max);
    NL_CU_LAUNCHED(cu, "attn_fwd_kernel");
    if (max_logit) {
        attn_max_kernel<<<1, THREADS, 0, cu->stream>>>(block_max, (int)blocks, max_logit);
        NL_CU_LAUNCHED(cu, "attn_max_kernel");
    }
}

void nl_cuda_attention_forward(nl_backend *be, const nl_attn_geom *g, const float *q,
                               const float *k, const float *v, float *probs, float *y,
                               float *max_logit, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    switch (be->product_precision) {
    case NL_PRECISION_BF16:
        attention_forward<NL_PRECISION_BF16>(cu, g, q, k, v, probs, y, max_logit, workspace);
        break;
    case NL_PRECISION_FP16:
        attention_forward<NL_PRECISION_FP16>(cu, g, q, k, v, probs, y, max_logit, workspace);
        break;
    default:
        attention_forward<NL_PRECISION_FP32>(cu, g, q, k, v, probs, y, max_logit, workspace);
        break;
    }
}

template <int PREC>
static void attention_backward(nl_cuda *cu, const nl_attn_geom *g, const float *q,
                               const float *k, const float *v, const float *probs,
                               const float *dy, float *dq, float *dk, float *dv, void *workspace)
{
    const AttnDims a = dims_of(g);
    const long long blocks = (long long)g->n * g->heads * a.chunks;
    if (blocks == 0 || a.hd == 0 || !attn_smem_ok<PREC>(cu, a))
        return;
    float *dlogit = (float *)workspace;
    attn_bwd_q_kernel<PREC><<<(unsigned)blocks, THREADS, attn_smem(a), cu->stream>>>(
        a, k, v, probs, dy, dlogit, dq);
    NL_CU_LAUNCHED(cu, "attn_bwd_q_kernel");
    attn_bwd_kv_kernel<PREC><<<(unsigned)blocks, THREADS, attn_smem(a), cu->stream>>>(
        a, q, probs, dy, dlogit, dk, dv);
    NL_CU_LAUNCHED(cu, "attn_bwd_kv_kernel");
}

void nl_cuda_attention_backward(nl_backend *be, const nl_attn_geom *g, const float *q,
                                const float *k, const float *v, const float *probs,
                                const float *dy, float *dq, float *dk, float *dv, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    switch (be->product_precision) {
    case NL_PRECISION_BF16:
        attention_backward<NL_PRECISION_BF16>(cu, g, q, k, v, probs, dy, dq, dk, dv, workspace);
        break;
    case NL_PRECISION_FP16:
        attention_backward<NL_PRECISION_FP16>(cu, g, q, k, v, probs, dy, dq, dk, dv, workspace);
        break;
    default:
        attention_backward<NL_PRECISION_FP32>(cu, g, q, k, v, probs, dy, dq, dk, dv, workspace);
        break;
    }
}
