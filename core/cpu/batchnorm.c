/* BatchNorm on the CPU, forward (train, eval) and backward side by side.
 *
 * A channel's values are N segments of H*W floats, C*H*W apart. Channels are
 * taken in blocks of adjacent channels, so each sample contributes one
 * contiguous run of block * H*W floats: long runs stream faster than one
 * small channel at a time (results/bench/NOTES.md, "Moved from the kernel
 * comments"). Statistics
 * use the shifted one-pass sums of reduce.h (float lanes per chunk, double
 * across chunks). Each thread takes a contiguous range of blocks; a channel is
 * always reduced by one thread, in sample order, with the same float
 * operations whatever loop it is in, and block sizes depend on the shape
 * alone, so results do not depend on the thread count. Feature vectors
 * (hw == 1) are walked row by row, with partial sums per chunk of rows
 * (see forward_train_features). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "cpu/apply_planes.h"
#include "cpu/cpu.h"
#include "cpu/reduce.h"

enum { CHANNEL_TILE_MAX = 32 };

/* adjacent channels per tile (a cache tile, not the layout's channel block):
 * enough for runs of 16 KiB per sample, and at
 * least 8 blocks, so that every thread has several to pipeline (the first
 * block of a thread's range is not overlapped, see forward_train_spatial) */
static int channel_tile(int c, int hw)
{
    int cb = 1;
    while (cb < CHANNEL_TILE_MAX && (size_t)cb * hw * sizeof(float) < 16384)
        cb *= 2;
    while (cb > 1 && c / cb < 8)
        cb /= 2;
    return cb;
}

/* a thread's share of the channel tiles of (n, c, hw) data: tiles of cb
 * channels, this thread's range [first, last) of them, and the strides its
 * walk takes (values per channel, floats per sample) */
typedef struct {
    size_t count, plane_stride;
    int cb, first, last;
} bn_share;

static bn_share share_of(int n, int c, int hw)
{
    bn_share t = {(size_t)n * hw, (size_t)c * hw, channel_tile(c, hw), 0, 0};
    nl_thread_range((c + t.cb - 1) / t.cb, &t.first, &t.last);
    return t;
}

static inline float gamma_at(const float *gamma, int c) { return gamma ? gamma[c] : 1.0f; }
static inline float beta_at(const float *beta, int c) { return beta ? beta[c] : 0.0f; }

static void update_running(float *running_mean, float *running_var, int c, double mean,
                           double var_biased, size_t count, float momentum)
{
    if (!running_mean)
        return;
    /* running_var takes the unbiased variance (PyTorch); count > 1 is checked
     * when the model is built */
    double unbiased = count > 1 ? var_biased * (double)count / (double)(count - 1) : var_biased;
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mean;
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
}

/* with relu: yn = relu(that + skip) (skip NULL: no add), the fused
 * activation (norm_forward_act) rounded as the add and ReLU ops round it */
static inline void normalize_run(const float *xn, float *yn, float mean, float scale,
                                 float offset, size_t len, const float *skip, bool relu)
{
    if (!relu) {
        #pragma omp simd
        for (size_t k = 0; k < len; k++)
            yn[k] = nl_fmaf(xn[k] - mean, scale, offset);
    } else if (skip) {
        #pragma omp simd
        for (size_t k = 0; k < len; k++)
            yn[k] = nl_relu1(nl_fmaf(xn[k] - mean, scale, offset) + skip[k]);
    } else {
        #pragma omp simd
        for (size_t k = 0; k < len; k++)
            yn[k] = nl_relu1(nl_fmaf(xn[k] - mean, scale, offset));
    }
}

/* Per-channel state of a block between its statistics and its normalizing
 * pass. */
typedef struct {
    int c0, width;
    float shift[CHANNEL_TILE_MAX];
    double sum[CHANNEL_TILE_MAX], sum_sq[CHANNEL_TILE_MAX];
    float mean[CHANNEL_TILE_MAX], scale[CHANNEL_TILE_MAX], offset[CHANNEL_TILE_MAX];
} bn_block;

static void block_begin(bn_block *b, int blk, int cb, int c, int hw, const float *x)
{
    b->c0 = blk * cb;
    b->width = c - b->c0 < cb ? c - b->c0 : cb;
    for (int j = 0; j < b->width; j++) {
        b->shift[j] = x[(size_t)(b->c0 + j) * hw]; /* a value of the channel */
        b->sum[j] = b->sum_sq[j] = 0.0;
    }
}

static void block_finish_stats(bn_block *b, size_t count, float eps, const float *gamma,
                               const float *beta, float *save_mean, float *save_rstd,
                               float *running_mean, float *running_var, float momentum)
{
    for (int j = 0; j < b->width; j++) {
        const int ch = b->c0 + j;
        const double dmean = b->sum[j] / (double)count, mean = (double)b->shift[j] + dmean;
        double var = b->sum_sq[j] / (double)count - dmean * dmean;
        if (var < 0.0)
            var = 0.0;
        const double rstd = 1.0 / sqrt(var + (double)eps);
        b->mean[j] = (float)mean;
        b->scale[j] = (float)(rstd * gamma_at(gamma, ch));
        b->offset[j] = beta_at(beta, ch);
        save_mean[ch] = b->mean[j];
        save_rstd[ch] = (float)rstd;
        update_running(running_mean, running_var, ch, mean, var, count, momentum);
    }
}

/* Each thread takes a contiguous range of channel blocks and pipelines them:
 * the normalizing pass of block b runs in the same loop as the statistics of
 * block b+1, so that the statistics read overlaps the write traffic of y
 * instead of following it (one pass after the other, each waits on memory in
 * turn). The first block of a range is summed alone and the last normalized
 * alone; which blocks those are depends on the thread count, hence one
 * loop for both (reduce.h's nl_moments_normalizing, whose sums do not
 * change with the fused pass), and normalize_run rounds y as it does. Centring before scaling avoids the
 * cancellation of x*scale - mean*scale when |mean| >> std. */
static void forward_spatial_share(int n, int c, int hw, float eps, const float *x,
                                  const float *gamma, const float *beta, float *y,
                                  float *save_mean, float *save_rstd, float *running_mean,
                                  float *running_var, float momentum, const float *skip, bool relu)
{
    const bn_share t = share_of(n, c, hw);
    {
        bn_block cur, next;
        if (t.first < t.last) {
            block_begin(&next, t.first, t.cb, c, hw, x);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < next.width; j++)
                    nl_sum_shifted_moments(x + i * t.plane_stride + (size_t)(next.c0 + j) * hw,
                                           (size_t)hw, next.shift[j], &next.sum[j],
                                           &next.sum_sq[j]);
        }
        for (int blk = t.first; blk < t.last; blk++) {
            cur = next;
            block_finish_stats(&cur, t.count, eps, gamma, beta, save_mean, save_rstd,
                               running_mean, running_var, momentum);
            const bool more = blk + 1 < t.last;
            if (more)
                block_begin(&next, blk + 1, t.cb, c, hw, x);
            for (int i = 0; i < n; i++) {
                const size_t sample = i * t.plane_stride;
                int j = 0;
                for (; more && j < cur.width && j < next.width; j++) {
                    const size_t at = sample + (size_t)(cur.c0 + j) * hw;
                    const size_t at_next = sample + (size_t)(next.c0 + j) * hw;
                    nl_moments_normalizing_act(x + at_next, (size_t)hw, next.shift[j],
                                               &next.sum[j], &next.sum_sq[j], x + at, y + at,
                                               cur.mean[j], cur.scale[j], cur.offset[j], NULL,
                                               NULL, skip ? skip + at : NULL, relu);
                }
                for (int k = j; k < cur.width; k++) {
                    const size_t at = sample + (size_t)(cur.c0 + k) * hw;
                    normalize_run(x + at, y + at, cur.mean[k], cur.scale[k], cur.offset[k],
                                  (size_t)hw, skip ? skip + at : NULL, relu);
                }
                for (int k = j; more && k < next.width; k++)
                    nl_sum_shifted_moments(x + sample + (size_t)(next.c0 + k) * hw, (size_t)hw,
                                           next.shift[k], &next.sum[k], &next.sum_sq[k]);
            }
        }
    }
}

static void forward_train_spatial(int n, int c, int hw, float eps, const float *x,
                                  const float *gamma, const float *beta, float *y,
                                  float *save_mean, float *save_rstd, float *running_mean,
                                  float *running_var, float momentum, const float *skip, bool relu)
{
    NL_PARALLEL_CALL_IF((size_t)n * hw * c >= NL_PARALLEL_MIN,
                        forward_spatial_share(n, c, hw, eps, x, gamma, beta, y, save_mean,
                                              save_rstd, running_mean, running_var, momentum,
                                              skip, relu));
}

/* Feature vectors: a feature's values are d floats apart. Walking a block of
 * features down the rows (runs of 512 B, 4 KiB apart) put every run of a
 * 256-row block in the same few L2 sets, so the normalizing pass re-read x
 * from L3, and ran at 0.3 of copy. Rows are walked whole instead: the sums
 * are taken as float partials per 32-row chunk and column range (work items
 * spread over the threads), the chunks' partials added in double in chunk
 * order per feature (the bits do not depend on the thread count, nor on the
 * items' width), then the rows are normalized as contiguous runs. Features go
 * in panels of up to PANEL and rows in passes of CHUNKS_PER_PASS chunks, so
 * the partials fit a fixed buffer on the caller's stack. Splitting the
 * features between the threads instead (no barriers at all) ran at 0.75 of
 * the speed on two threads: each thread streamed half of every 4 KiB row. */
enum { ROW_CHUNK = 32, PANEL = 1024, CHUNKS_PER_PASS = 8, ITEM_WIDTH_MIN = 256, SUM_BLOCK = 64 };

/* The per-feature vectors (center, scale, offset, extra) are loaded in the
 * loop that stores y or dx, one vector a step behind the loads. Where their
 * offset within a page came just after the output row's, each load waited on
 * a store in flight with the same low 12 bits (4K aliasing), and the
 * forward's time swung with y's page offset alone. They are placed half a
 * page from the output's offset, out of reach of that window; the partials,
 * stored as x is read, half a page from x. */
typedef struct {
    float *partial; /* [CHUNKS_PER_PASS][2][PANEL] */
    double sum1[PANEL], sum2[PANEL];
    float *center, *scale, *offset, *extra;
    float vectors[4 * PANEL + NL_PAGE_FLOATS];
    float partial_store[CHUNKS_PER_PASS * 2 * PANEL + NL_PAGE_FLOATS];
} feature_panel;

static void panel_place(feature_panel *p, const float *in, const float *out)
{
    float *base = nl_half_page_from(p->vectors, out);
    p->center = base;
    p->scale = base + PANEL;
    p->offset = base + 2 * PANEL;
    p->extra = base + 3 * PANEL;
    p->partial = nl_half_page_from(p->partial_store, in);
}

static inline float *chunk_partial(const feature_panel *p, int chunk, int which)
{
    return p->partial + ((size_t)chunk * 2 + which) * PANEL;
}

/* one work item: the sums over `rows` rows (d apart) of `width` columns into
 * a1 and a2, in float, rows in a fixed order. Rows are read four at a time,
 * and their sums added to a1 and a2 in L1: walking 16 columns down the rows
 * instead (sums in registers) reads one 64-byte line per 4 KiB row, all in
 * one L1 set, and waits on every load. Each column's operations are the same
 * in the vector loop and
 * the scalar one, so an item's width does not change a bit. */
static void feature_item_sums(const float *x, const float *dy, int d, int rows, int width,
                              const float *center, float *a1, float *a2)
{
    const int vec_width = width - width % 8;
    for (int q = 0; q < width; q++)
        a1[q] = a2[q] = 0.0f;
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *x0 = x + (size_t)r * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        if (dy) {
            const float *g0 = dy + (size_t)r * d, *g1 = g0 + d, *g2 = g1 + d, *g3 = g2 + d;
            for (int q = 0; q < vec_width; q += 8) {
                const nl_v8 c = nl_v8_load(center + q);
                const nl_v8 d0 = nl_v8_load(g0 + q), d1 = nl_v8_load(g1 + q);
                const nl_v8 d2 = nl_v8_load(g2 + q), d3 = nl_v8_load(g3 + q);
                nl_v8 t = nl_v8_load(a2 + q);
                t = nl_v8_fma(d0, nl_v8_load(x0 + q) - c, t);
                t = nl_v8_fma(d1, nl_v8_load(x1 + q) - c, t);
                t = nl_v8_fma(d2, nl_v8_load(x2 + q) - c, t);
                t = nl_v8_fma(d3, nl_v8_load(x3 + q) - c, t);
                nl_v8_store(a1 + q, nl_v8_load(a1 + q) + ((d0 + d1) + (d2 + d3)));
                nl_v8_store(a2 + q, t);
            }
            for (int q = vec_width; q < width; q++) {
                const float c = center[q];
                float t = a2[q];
                t = nl_fmaf(g0[q], x0[q] - c, t);
                t = nl_fmaf(g1[q], x1[q] - c, t);
                t = nl_fmaf(g2[q], x2[q] - c, t);
                t = nl_fmaf(g3[q], x3[q] - c, t);
                a1[q] += (g0[q] + g1[q]) + (g2[q] + g3[q]);
                a2[q] = t;
            }
        } else {
            for (int q = 0; q < vec_width; q += 8) {
                const nl_v8 c = nl_v8_load(center + q);
                const nl_v8 v0 = nl_v8_load(x0 + q) - c, v1 = nl_v8_load(x1 + q) - c;
                const nl_v8 v2 = nl_v8_load(x2 + q) - c, v3 = nl_v8_load(x3 + q) - c;
                nl_v8 t = nl_v8_load(a2 + q);
                t = nl_v8_fma(v0, v0, t);
                t = nl_v8_fma(v1, v1, t);
                t = nl_v8_fma(v2, v2, t);
                t = nl_v8_fma(v3, v3, t);
                nl_v8_store(a1 + q, nl_v8_load(a1 + q) + ((v0 + v1) + (v2 + v3)));
                nl_v8_store(a2 + q, t);
            }
            for (int q = vec_width; q < width; q++) {
                const float c = center[q];
                const float v0 = x0[q] - c, v1 = x1[q] - c, v2 = x2[q] - c, v3 = x3[q] - c;
                float t = a2[q];
                t = nl_fmaf(v0, v0, t);
                t = nl_fmaf(v1, v1, t);
                t = nl_fmaf(v2, v2, t);
                t = nl_fmaf(v3, v3, t);
                a1[q] += (v0 + v1) + (v2 + v3);
                a2[q] = t;
            }
        }
    }
    for (; r < rows; r++) {
        const float *xr = x + (size_t)r * d, *gr = dy ? dy + (size_t)r * d : NULL;
        for (int q = 0; q < width; q++) {
            const float v = xr[q] - center[q];
            if (gr) {
                a1[q] += gr[q];
                a2[q] = nl_fmaf(gr[q], v, a2[q]);
            } else {
                a1[q] += v;
                a2[q] = nl_fmaf(v, v, a2[q]);
            }
        }
    }
}

/* Items as wide as still gives each thread four: whole 4 KiB rows stream
 * faster than 1 KiB runs of them, while at 8+ threads narrower items keep
 * every thread busy. */
static int item_width_for(int width, int chunks)
{
    const int threads = omp_get_num_threads_safe();
    int w = ITEM_WIDTH_MIN;
    while (w < width && (long)chunks * ((width + 2 * w - 1) / (2 * w)) >= 4L * threads)
        w *= 2;
    return w;
}

/* the sums over one block of features [b0, b0 + bw): the totals of earlier
 * passes (p->sum1, p->sum2, when `earlier`) plus the chunks' partials, in
 * chunk order, into sum1 and sum2 */
static void block_totals(const feature_panel *p, int b0, int bw, int chunks, bool earlier,
                         double *sum1, double *sum2)
{
    #pragma omp simd
    for (int j = 0; j < bw; j++) {
        sum1[j] = earlier ? p->sum1[b0 + j] : 0.0;
        sum2[j] = earlier ? p->sum2[b0 + j] : 0.0;
    }
    for (int chunk = 0; chunk < chunks; chunk++) {
        const float *part1 = chunk_partial(p, chunk, 0) + b0;
        const float *part2 = chunk_partial(p, chunk, 1) + b0;
        #pragma omp simd
        for (int j = 0; j < bw; j++) {
            sum1[j] += part1[j];
            sum2[j] += part2[j];
        }
    }
}

/* The chunk partials of the sums of (x - center) and (x - center)^2 (or,
 * with dy, of dy and dy * (x - center)) for the columns [j0, j0 + width),
 * center[j] given for column j0 + j: called by every thread of the team, work
 * shared with omp for, a barrier at the end. The partials of the last pass
 * are left in p for the caller to total with block_totals (in the loop that
 * also turns them into statistics, which saves a barrier); earlier passes
 * are totalled into p->sum1 and p->sum2. Returns the last pass's chunk
 * count and sets *earlier when there were earlier passes. */
static int feature_sums(feature_panel *p, int n, int d, int j0, int width, const float *center,
                        const float *x, const float *dy, bool *earlier)
{
    const int pass_rows = ROW_CHUNK * CHUNKS_PER_PASS;
    int chunks = 0;
    *earlier = false;
    for (int i0 = 0; i0 < n; i0 += pass_rows) {
        if (i0 > 0) {
            #pragma omp for schedule(static)
            for (int b0 = 0; b0 < width; b0 += SUM_BLOCK) {
                const int bw = width - b0 < SUM_BLOCK ? width - b0 : SUM_BLOCK;
                double sum1[SUM_BLOCK], sum2[SUM_BLOCK];
                block_totals(p, b0, bw, chunks, *earlier, sum1, sum2);
                for (int j = 0; j < bw; j++) {
                    p->sum1[b0 + j] = sum1[j];
                    p->sum2[b0 + j] = sum2[j];
                }
            }
            *earlier = true;
        }
        const int rows = n - i0 < pass_rows ? n - i0 : pass_rows;
        chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
        const int item_width = item_width_for(width, chunks);
        const int item_cols = (width + item_width - 1) / item_width;
        #pragma omp for schedule(static)
        for (int item = 0; item < chunks * item_cols; item++) {
            const int chunk = item / item_cols, q0 = (item % item_cols) * item_width;
            const int qw = width - q0 < item_width ? width - q0 : item_width;
            float *a1 = chunk_partial(p, chunk, 0) + q0, *a2 = chunk_partial(p, chunk, 1) + q0;
            const int r0 = i0 + chunk * ROW_CHUNK, r1 = n - r0 < ROW_CHUNK ? n : r0 + ROW_CHUNK;
            const float *x0 = x + (size_t)r0 * d + j0 + q0;
            const float *dy0 = dy ? dy + (size_t)r0 * d + j0 + q0 : NULL;
            feature_item_sums(x0, dy0, d, r1 - r0, qw, center + q0, a1, a2);
        }
    }
    return chunks;
}

/* Three barriers a panel: after the sums, after the statistics, and the
 * team's at the end (the normalizing loop of one panel and the sums of the
 * next touch different memory). The zeroing, the chunk totals and the
 * running statistics share those loops rather than each paying a barrier
 * of its own, which is a measurable share of a short forward. */
static void forward_features_share(int n, int d, float eps, const float *x, const float *gamma,
                                   const float *beta, float *y, float *save_mean,
                                   float *save_rstd, float *running_mean, float *running_var,
                                   float momentum, feature_panel *p)
{
    for (int j0 = 0; j0 < d; j0 += PANEL) {
        const int width = d - j0 < PANEL ? d - j0 : PANEL;
        /* shifted by the first row: a value of each feature */
        const float *center = x + j0;
        bool earlier;
        const int chunks = feature_sums(p, n, d, j0, width, center, x, NULL, &earlier);
        /* vector loops: a feature's divisions and square root one at a time
         * were most of a small batch's forward (256 features at batch 2) */
        #pragma omp for schedule(static)
        for (int b0 = 0; b0 < width; b0 += SUM_BLOCK) {
            const int bw = width - b0 < SUM_BLOCK ? width - b0 : SUM_BLOCK;
            double sum1[SUM_BLOCK], sum2[SUM_BLOCK], mean[SUM_BLOCK], var[SUM_BLOCK];
            block_totals(p, b0, bw, chunks, earlier, sum1, sum2);
            #pragma omp simd
            for (int j = 0; j < bw; j++) {
                const int f = j0 + b0 + j;
                const double dmean = sum1[j] / n;
                double v = sum2[j] / n - dmean * dmean;
                v = v < 0.0 ? 0.0 : v;
                const double rstd = 1.0 / sqrt(v + (double)eps);
                mean[j] = (double)center[b0 + j] + dmean;
                var[j] = v;
                p->extra[b0 + j] = (float)mean[j];
                p->scale[b0 + j] = (float)(rstd * (gamma ? gamma[f] : 1.0f));
                p->offset[b0 + j] = beta ? beta[f] : 0.0f;
                save_mean[f] = (float)mean[j];
                save_rstd[f] = (float)rstd;
            }
            if (running_mean) {
                /* update_running's arithmetic, as a vector loop */
                const double count = n, count_less_1 = n > 1 ? n - 1 : 1;
                #pragma omp simd
                for (int j = 0; j < bw; j++) {
                    const int f = j0 + b0 + j;
                    const double unbiased = n > 1 ? var[j] * count / count_less_1 : var[j];
                    running_mean[f] = (1.0f - momentum) * running_mean[f] + momentum * (float)mean[j];
                    running_var[f] = (1.0f - momentum) * running_var[f] + momentum * (float)unbiased;
                }
            }
        }
        #pragma omp for schedule(static) nowait
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * d + j0;
            float *yr = y + (size_t)i * d + j0;
            const float *mean_f = p->extra, *scale = p->scale, *shift = p->offset;
            #pragma omp simd
            for (int j = 0; j < width; j++)
                yr[j] = (xr[j] - mean_f[j]) * scale[j] + shift[j];
        }
    }
}

static void forward_train_features(int n, int d, float eps, const float *x, const float *gamma,
                                   const float *beta, float *y, float *save_mean,
                                   float *save_rstd, float *running_mean, float *running_var,
                                   float momentum)
{
    feature_panel panel; /* shared by the team */
    panel_place(&panel, x, y);
    NL_PARALLEL_CALL_IF((long)n * d >= NL_PARALLEL_MIN,
                        forward_features_share(n, d, eps, x, gamma, beta, y, save_mean,
                                               save_rstd, running_mean, running_var, momentum,
                                               &panel));
}

void nl_cpu_batchnorm_forward_train(nl_backend *be, int n, int c, int hw, float eps,
                                    const float *x, const float *gamma, const float *beta,
                                    float *y, float *save_mean, float *save_rstd,
                                    float *running_mean, float *running_var, float momentum)
{
    (void)be;
    if (hw == 1)
        forward_train_features(n, c, eps, x, gamma, beta, y, save_mean, save_rstd, running_mean,
                               running_var, momentum);
    else
        forward_train_spatial(n, c, hw, eps, x, gamma, beta, y, save_mean, save_rstd,
                              running_mean, running_var, momentum, NULL, false);
}

void nl_cpu_batchnorm_forward_train_act(int n, int c, int hw, float eps, const float *x,
                                        const float *gamma, const float *beta, const float *skip,
                                        float *y, float *save_mean, float *save_rstd,
                                        float *running_mean, float *running_var, float momentum)
{
    forward_train_spatial(n, c, hw, eps, x, gamma, beta, y, save_mean, save_rstd, running_mean,
                          running_var, momentum, skip, true);
}

void nl_cpu_batchnorm_forward_eval(nl_backend *be, int n, int c, int hw, float eps,
                                   const float *x, const float *gamma, const float *beta,
                                   const float *running_mean, const float *running_var, float *y)
{
    (void)be;
    /* per-channel constants once per call (c <= a few thousand: on the stack
     * in chunks), then a pure streaming pass */
    enum { CHUNK = 1024 };
    float mean[CHUNK], scale[CHUNK], shift[CHUNK];
    for (int c0 = 0; c0 < c; c0 += CHUNK) {
        const int width = c - c0 < CHUNK ? c - c0 : CHUNK;
        for (int j = 0; j < width; j++) {
            const double rstd = 1.0 / sqrt((double)running_var[c0 + j] + (double)eps);
            mean[j] = running_mean[c0 + j];
            scale[j] = (float)(rstd * gamma_at(gamma, c0 + j));
            shift[j] = beta_at(beta, c0 + j);
        }
        if (hw == 1) {
            NL_PARALLEL_FOR_IF((long)n * width >= NL_PARALLEL_MIN,
            for (int i = 0; i < n; i++) {
                const float *xr = x + (size_t)i * c + c0;
                float *yr = y + (size_t)i * c + c0;
                _Pragma("omp simd")
                for (int j = 0; j < width; j++)
                    yr[j] = (xr[j] - mean[j]) * scale[j] + shift[j];
            });
            continue;
        }
        nl_apply_planes(n, c, hw, c0, width, mean, scale, shift, x, y);
    }
}

/* dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
 * dbeta = sum(dy), dgamma = sum(dy * xhat), sums over N*HW per channel */
/* Per-channel state of a block between its gradient sums and its dx pass. */
typedef struct {
    int c0, width;
    double sum_dy[CHANNEL_TILE_MAX], sum_dy_xc[CHANNEL_TILE_MAX];
} bn_grad_block;

static void grad_block_begin(bn_grad_block *b, int blk, int cb, int c)
{
    b->c0 = blk * cb;
    b->width = c - b->c0 < cb ? c - b->c0 : cb;
    for (int j = 0; j < b->width; j++)
        b->sum_dy[j] = b->sum_dy_xc[j] = 0.0;
}

/* the sums of sample i's runs of the block's channels */
/* the sums of sample i's runs of the block's channels (dy where y > 0
 * with a fused ReLU's output y; NULL: all of dy) */
static void grad_block_sum_runs(bn_grad_block *b, int first_channel, size_t sample, int hw,
                                const float *x, const float *dy, const float *y,
                                const float *save_mean)
{
    for (int j = first_channel; j < b->width; j++) {
        const size_t at = sample + (size_t)(b->c0 + j) * hw;
        nl_sum_dy_dyx_act(x + at, dy + at, y ? y + at : NULL, (size_t)hw, save_mean[b->c0 + j],
                          &b->sum_dy[j], &b->sum_dy_xc[j]);
    }
}

/* The sums must be complete before any of a block's dx, which made the
 * backward two passes one after the other, each waiting on memory in turn.
 * As in the forward, each thread pipelines its range of channel blocks:
 * block b's dx is written in the loop that sums block b+1
 * (nl_dy_moments_writing, whose sums do not change with the fused write),
 * and a range's last block writes alone, rounding dx as the fused loop
 * does, since which block is last depends on the thread count. */
static void backward_spatial_share(int n, int c, int hw, const float *x, const float *dy,
                                   const float *gamma, const float *save_mean,
                                   const float *save_rstd, float *dx, bool accumulate_dx,
                                   float *dgamma, float *dbeta, const float *y, float *dskip,
                                   bool accumulate_dskip)
{
    const bn_share t = share_of(n, c, hw);
    {
        bn_grad_block cur, next;
        if (t.first < t.last) {
            grad_block_begin(&next, t.first, t.cb, c);
            for (int i = 0; i < n; i++)
                grad_block_sum_runs(&next, 0, i * t.plane_stride, hw, x, dy, y, save_mean);
        }
        for (int blk = t.first; blk < t.last; blk++) {
            cur = next;
            float af[CHANNEL_TILE_MAX], bf[CHANNEL_TILE_MAX], kf[CHANNEL_TILE_MAX];
            for (int j = 0; j < cur.width; j++) {
                const int ch = cur.c0 + j;
                const double rstd = save_rstd[ch], sum_dy_xhat = cur.sum_dy_xc[j] * rstd;
                if (dbeta)
                    dbeta[ch] = (float)cur.sum_dy[j];
                if (dgamma)
                    dgamma[ch] = (float)sum_dy_xhat;
                /* dx = a*dy + b*(x - mean) + k with the per-channel constants
                 * folded; centring first keeps precision when |mean| >> std */
                const double a = gamma_at(gamma, ch) * rstd;
                af[j] = (float)a;
                bf[j] = (float)(-a * rstd * (sum_dy_xhat / (double)t.count));
                kf[j] = (float)(-a * (cur.sum_dy[j] / (double)t.count));
            }
            const bool more = blk + 1 < t.last;
            if (more)
                grad_block_begin(&next, blk + 1, t.cb, c);
            for (int i = 0; i < n; i++) {
                const size_t sample = i * t.plane_stride;
                int j = 0;
                for (; dx && more && j < cur.width && j < next.width; j++) {
                    const size_t at = sample + (size_t)(cur.c0 + j) * hw;
                    const size_t at_next = sample + (size_t)(next.c0 + j) * hw;
                    nl_dy_moments_writing_act(
                        x + at_next, dy + at_next, y ? y + at_next : NULL, (size_t)hw,
                        save_mean[next.c0 + j], &next.sum_dy[j], &next.sum_dy_xc[j], x + at,
                        dy + at, y ? y + at : NULL, dx + at, dskip ? dskip + at : NULL,
                        accumulate_dx, accumulate_dskip, af[j], bf[j], save_mean[cur.c0 + j],
                        kf[j]);
                }
                for (int k = j; dx && k < cur.width; k++) {
                    const size_t at = sample + (size_t)(cur.c0 + k) * hw;
                    /* with y, the fused ReLU's mask and the residual add's other input */
                    nl_dx_plane(x + at, dy + at, y ? y + at : NULL, dx + at,
                                dskip ? dskip + at : NULL, hw, accumulate_dx,
                                accumulate_dskip, af[k], bf[k], save_mean[cur.c0 + k], kf[k]);
                }
                if (more)
                    grad_block_sum_runs(&next, j, sample, hw, x, dy, y, save_mean);
            }
        }
    }
}

static void backward_spatial(int n, int c, int hw, const float *x, const float *dy,
                             const float *gamma, const float *save_mean, const float *save_rstd,
                             float *dx, bool accumulate_dx, float *dgamma, float *dbeta,
                             const float *y, float *dskip, bool accumulate_dskip)
{
    NL_PARALLEL_CALL_IF((size_t)n * hw * c >= NL_PARALLEL_MIN,
                        backward_spatial_share(n, c, hw, x, dy, gamma, save_mean, save_rstd, dx,
                                               accumulate_dx, dgamma, dbeta, y, dskip,
                                               accumulate_dskip));
}

/* the sums as in the forward (feature_sums), then dx row by row; three
 * barriers a panel, as there */
static void backward_features_share(int n, int d, const float *x, const float *dy,
                                    const float *gamma, const float *save_mean,
                                    const float *save_rstd, float *dx, bool accumulate_dx,
                                    float *dgamma, float *dbeta, feature_panel *p)
{
    for (int j0 = 0; j0 < d; j0 += PANEL) {
        const int width = d - j0 < PANEL ? d - j0 : PANEL;
        /* sums of dy and dy * (x - mean) */
        bool earlier;
        const int chunks = feature_sums(p, n, d, j0, width, save_mean + j0, x, dy, &earlier);
        #pragma omp for schedule(static)
        for (int b0 = 0; b0 < width; b0 += SUM_BLOCK) {
            const int bw = width - b0 < SUM_BLOCK ? width - b0 : SUM_BLOCK;
            double sum_dy[SUM_BLOCK], sum_dy_xc[SUM_BLOCK];
            block_totals(p, b0, bw, chunks, earlier, sum_dy, sum_dy_xc);
            for (int j = 0; j < bw; j++) {
                const int f = j0 + b0 + j;
                const double rstd = save_rstd[f], sum_dy_xhat = sum_dy_xc[j] * rstd;
                if (dbeta)
                    dbeta[f] = (float)sum_dy[j];
                if (dgamma)
                    dgamma[f] = (float)sum_dy_xhat;
                const double a = gamma_at(gamma, f) * rstd;
                p->center[b0 + j] = save_mean[f];
                p->scale[b0 + j] = (float)a;
                p->offset[b0 + j] = (float)(-a * rstd * (sum_dy_xhat / n));
                p->extra[b0 + j] = (float)(-a * (sum_dy[j] / n));
            }
        }
        if (!dx)
            continue;
        #pragma omp for schedule(static) nowait
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * d + j0;
            const float *dyr = dy + (size_t)i * d + j0;
            float *dxr = dx + (size_t)i * d + j0;
            const float *mean_f = p->center, *af = p->scale, *bf = p->offset, *kf = p->extra;
            if (accumulate_dx) {
                #pragma omp simd
                for (int j = 0; j < width; j++)
                    dxr[j] += af[j] * dyr[j] + bf[j] * (xr[j] - mean_f[j]) + kf[j];
            } else {
                #pragma omp simd
                for (int j = 0; j < width; j++)
                    dxr[j] = af[j] * dyr[j] + bf[j] * (xr[j] - mean_f[j]) + kf[j];
            }
        }
    }
}

static void backward_features(int n, int d, const float *x, const float *dy, const float *gamma,
                              const float *save_mean, const float *save_rstd, float *dx,
                              bool accumulate_dx, float *dgamma, float *dbeta)
{
    feature_panel panel; /* shared by the team */
    panel_place(&panel, x, dx ? dx : x);
    NL_PARALLEL_CALL_IF((long)n * d >= NL_PARALLEL_MIN,
                        backward_features_share(n, d, x, dy, gamma, save_mean, save_rstd, dx,
                                                accumulate_dx, dgamma, dbeta, &panel));
}

void nl_cpu_batchnorm_backward(nl_backend *be, int n, int c, int hw, const float *x,
                               const float *dy, const float *gamma, const float *save_mean,
                               const float *save_rstd, float *dx, bool accumulate_dx,
                               float *dgamma, float *dbeta)
{
    (void)be;
    if (hw == 1)
        backward_features(n, c, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx, dgamma,
                          dbeta);
    else
        backward_spatial(n, c, hw, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx, dgamma,
                         dbeta, NULL, NULL, false);
}

void nl_cpu_batchnorm_backward_act(int n, int c, int hw, const float *x, const float *y,
                                   const float *dy, const float *gamma, const float *save_mean,
                                   const float *save_rstd, float *dx, bool accumulate_dx,
                                   float *dskip, bool accumulate_dskip, float *dgamma,
                                   float *dbeta)
{
    backward_spatial(n, c, hw, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx, dgamma,
                     dbeta, y, dskip, accumulate_dskip);
}
