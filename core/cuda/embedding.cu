/* Token + position embedding, as core/cpu/embedding.c, bit for bit.
 *
 * Forward is elementwise over the N*T*D outputs (grid-stride walk of
 * norm_common.cuh).
 *
 * Backward follows backend.h's order with no float atomics: the positions
 * are sorted by token, stably (each token's positions stay increasing), then
 * one thread per (token, column) adds its token's rows in that order, as the
 * CPU does. The stable counting sort runs in three integer kernels over tiles
 * of SORT_TILE positions:
 *   1. each position's rank among the earlier positions of its tile holding
 *      the same token (a scan of the tile in shared memory), and per tile
 *      the count of each token (written by the token's last position there);
 *   2. one block turns the counts into each token's first slot (prefix over
 *      tokens) and each (tile, token)'s offset from it (prefix over tiles);
 *   3. position p goes to slot start[v] + offset[tile][v] + rank.
 * All three are exact integer work, so the order is the same on every run. */
#include "cuda/norm_common.cuh"

using namespace nlk;

enum { SORT_TILE = 256, SCAN_THREADS = 1024, TABLE_THREADS = 256 };

struct EmbedOp {
    const int32_t *tokens;
    const float *token_table, *pos_table;
    float *y;
    int t, d;
    /* with V = 4, d % 4 == 0: a vector never crosses a row */
    template <int V> __device__ void run(size_t i) const
    {
        const long long f = (long long)i * V;
        const long long p = f / d;
        const int j = (int)(f - p * d);
        const int tok = __ldg(tokens + p);
        const Vec<V> e = ld<V>(token_table + (size_t)tok * d + j, 0);
        Vec<V> o = e;
        if (pos_table) {
            const Vec<V> q = ld<V>(pos_table + (size_t)(p % t) * d + j, 0);
#pragma unroll
            for (int k = 0; k < V; k++)
                o.v[k] = e.v[k] + q.v[k];
        }
        st<V>(y + (size_t)p * d + j, 0, o);
    }
};

void nl_cuda_embedding_forward(nl_backend *be, int n, int t, int d, const int32_t *tokens,
                               const float *token_table, const float *pos_table, float *y)
{
    const bool vec = d % 4 == 0 && nl_cuda_aligned16(token_table, pos_table, y);
    ew_launch(nl_cuda_of(be), EmbedOp{tokens, token_table, pos_table, y, t, d},
              (size_t)n * t * d, vec, "launch of embedding forward");
}

/* ---- backward ---- */

/* the workspace: int32 arrays, in this order */
struct SortLayout {
    long long rows, tiles;
    size_t counts;      /* tiles * vocab: per (tile, token) count, then offset */
    size_t rank;        /* rows: rank within the tile among the same token */
    size_t sorted;      /* rows: positions ordered by (token, position) */
    size_t start;       /* vocab + 1: token v's positions are sorted[start[v] .. start[v+1]) */
    size_t total;       /* int32 entries */
};

static SortLayout sort_layout(int n, int t, int vocab)
{
    SortLayout l;
    l.rows = (long long)n * t;
    l.tiles = (l.rows + SORT_TILE - 1) / SORT_TILE;
    l.counts = 0;
    l.rank = l.counts + (size_t)l.tiles * vocab;
    l.sorted = l.rank + (size_t)l.rows;
    l.start = l.sorted + (size_t)l.rows;
    l.total = l.start + (size_t)vocab + 1;
    return l;
}

size_t nl_cuda_embedding_backward_workspace(nl_backend *be, int n, int t, int vocab)
{
    (void)be;
    return sort_layout(n, t, vocab).total * sizeof(int32_t);
}

/* one block per tile; counts must be zero on entry */
__global__ void __launch_bounds__(SORT_TILE)
    embed_rank_kernel(const int32_t *tokens, long long rows, int vocab, int32_t *counts,
                      int32_t *rank)
{
    __shared__ int32_t tile_tok[SORT_TILE];
    const long long p0 = (long long)blockIdx.x * SORT_TILE;
    const int len = rows - p0 < SORT_TILE ? (int)(rows - p0) : SORT_TILE;
    const int me = threadIdx.x;
    tile_tok[me] = me < len ? tokens[p0 + me] : -1;
    __syncthreads();
    if (me >= len)
        return;
    const int v = tile_tok[me];
    int before = 0, after = 0;
    for (int q = 0; q < me; q++)
        before += tile_tok[q] == v;
    for (int q = me + 1; q < len; q++)
        after += tile_tok[q] == v;
    rank[p0 + me] = before;
    if (after == 0) /* the token's last position in this tile */
        counts[(size_t)blockIdx.x * vocab + v] = before + 1;
}

/* one block: counts become per-(tile, token) offsets within the token, and
 * start[v] the token's first slot. Thread k owns a contiguous range of
 * tokens, so the prefix over tokens is a block scan of the ranges' sums. */
__global__ void __launch_bounds__(SCAN_THREADS)
    embed_offsets_kernel(int32_t *counts, long long tiles, int vocab, int32_t *start)
{
    __shared__ int32_t sums[SCAN_THREADS];
    const int per = (vocab + SCAN_THREADS - 1) / SCAN_THREADS;
    const int lo = min((int)threadIdx.x * per, vocab), hi = min(lo + per, vocab);
    int32_t mine = 0;
    for (int v = lo; v < hi; v++) {
        int32_t off = 0;
        for (long long tl = 0; tl < tiles; tl++) {
            const int32_t c = counts[(size_t)tl * vocab + v];
            counts[(size_t)tl * vocab + v] = off;
            off += c;
        }
        start[v] = off; /* the token's total for now */
        mine += off;
    }
    sums[threadIdx.x] = mine;
    __syncthreads();
    /* inclusive scan of the ranges' sums (Hillis-Steele, two buffers' worth
     * of barriers so no thread reads a slot being overwritten) */
    for (int step = 1; step < SCAN_THREADS; step *= 2) {
        const int32_t add = (int)threadIdx.x >= step ? sums[threadIdx.x - step] : 0;
        __syncthreads();
        sums[threadIdx.x] += add;
        __syncthreads();
    }
    int32_t at = sums[threadIdx.x] - mine; /* exclusive */
    for (int v = lo; v < hi; v++) {
        const int32_t total = start[v];
        start[v] = at;
        at += total;
    }
    if (threadIdx.x == SCAN_THREADS - 1)
        start[vocab] = at;
}

__global__ void __launch_bounds__(256)
    embed_scatter_kernel(const int32_t *tokens, long long rows, int vocab, const int32_t *counts,
                         const int32_t *rank, const int32_t *start, int32_t *sorted)
{
    const long long p = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (p >= rows)
        return;
    const int v = tokens[p];
    sorted[start[v] + counts[(size_t)(p / SORT_TILE) * vocab + v] + rank[p]] = (int32_t)p;
}

/* one thread per (token, column): consecutive threads take consecutive
 * columns, so the rows of dy are read coalesced */
__global__ void __launch_bounds__(TABLE_THREADS)
    embed_token_grad_kernel(const float *dy, int d, int vocab, const int32_t *sorted,
                            const int32_t *start, float *dtable, int accumulate)
{
    const long long f = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (f >= (long long)vocab * d)
        return;
    const int v = (int)(f / d), j = (int)(f - (long long)v * d);
    float acc = accumulate ? dtable[f] : 0.0f;
    const int32_t end = start[v + 1];
#pragma unroll 4 /* the loads of a few rows in flight; the adds stay in order */
    for (int32_t at = start[v]; at < end; at++)
        acc += __ldg(dy + (size_t)sorted[at] * d + j);
    dtable[f] = acc;
}

/* one thread per (position, column): the samples added in order */
__global__ void __launch_bounds__(TABLE_THREADS)
    embed_pos_grad_kernel(const float *dy, int n, int t, int d, float *dpos)
{
    const long long f = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (f >= (long long)t * d)
        return;
    float acc = 0.0f;
    for (int i = 0; i < n; i++)
        acc += __ldg(dy + (size_t)i * t * d + f);
    dpos[f] = acc;
}

static unsigned blocks_for(long long count, int threads)
{
    return (unsigned)((count + threads - 1) / threads);
}

void nl_cuda_embedding_backward(nl_backend *be, int n, int t, int d, int vocab,
                                const int32_t *tokens, const float *dy, float *dtoken_table,
                                bool accumulate_dtoken, float *dpos_table, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    const SortLayout l = sort_layout(n, t, vocab);
    if (l.rows == 0 || d == 0)
        return;
    int32_t *ws = (int32_t *)workspace;
    int32_t *counts = ws + l.counts, *rank = ws + l.rank, *sorted = ws + l.sorted,
            *start = ws + l.start;
    NL_CU(cu, cudaMemsetAsync(counts, 0, (size_t)l.tiles * vocab * sizeof *counts, cu->stream));
    embed_rank_kernel<<<(unsigned)l.tiles, SORT_TILE, 0, cu->stream>>>(tokens, l.rows, vocab,
                                                                       counts, rank);
    NL_CU_LAUNCHED(cu, "embed_rank_kernel");
    embed_offsets_kernel<<<1, SCAN_THREADS, 0, cu->stream>>>(counts, l.tiles, vocab, start);
    NL_CU_LAUNCHED(cu, "embed_offsets_kernel");
    embed_scatter_kernel<<<blocks_for(l.rows, 256), 256, 0, cu->stream>>>(
        tokens, l.rows, vocab, counts, rank, start, sorted);
    NL_CU_LAUNCHED(cu, "embed_scatter_kernel");
    embed_token_grad_kernel<<<blocks_for((long long)vocab * d, TABLE_THREADS), TABLE_THREADS, 0,
                              cu->stream>>>(dy, d, vocab, sorted, start, dtoken_table,
                                            accumulate_dtoken ? 1 : 0);
    NL_CU_LAUNCHED(cu, "embed_token_grad_kernel");
    if (dpos_table) {
        embed_pos_grad_kernel<<<blocks_for((long long)t * d, TABLE_THREADS), TABLE_THREADS, 0,
                                cu->stream>>>(dy, n, t, d, dpos_table);
        NL_CU_LAUNCHED(cu, "embed_pos_grad_kernel");
    }
}
