/* Register-tiled matrix products for the linear layer at batches of a few
 * dozen to a few hundred rows (its forward as C^T, its backward as C).
 *
 * There sgemm spends much of an MLP step outside its multiply kernel: it
 * packs both operands on every call, and with beta = 0 it first clears C
 * with scalar stores (dW is large and has left L2 since the last step, so
 * the clearing alone is a pass to memory). The operands' natural layouts
 * already suit a register tile, so nothing is packed here: the products
 * read x, dy and W where they lie and write every output exactly once.
 *
 * Each output is summed by one thread in an order fixed by the shapes
 * alone, so results do not depend on the thread count. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/reduce.h"

enum { TILE_ROWS = 6, TILE_COLS = 16 };

/* The tile's six rows, each spelled once: FOR_EACH_ROW(STEP) expands STEP
 * for k = 0 .. 5, so each row's accumulators are named variables the
 * compiler keeps in registers. */
#define FOR_EACH_ROW(STEP) STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
#define ROW_START(k)               \
    const float *a##k = a_rows[k]; \
    nl_v8 l##k = {0}, h##k = {0};
#define ROW_FMA(k)                             \
    {                                          \
        const nl_v8 g = nl_v8_splat(a##k[ai]); \
        l##k = nl_v8_fma(g, lo, l##k);         \
        h##k = nl_v8_fma(g, hi, h##k);         \
    }
#define ROW_STORE(k) nl_v8_store(out[k], l##k), nl_v8_store(out[k] + 8, h##k);

/* out[k][0..16) = sum_d a_k[d * a_step] * b[d * ldb + 0..16), for the six
 * rows k: twelve accumulators, enough independent chains to keep both FMA
 * units busy through their latency */
static inline void tile_6x16(int depth, const float *const a_rows[TILE_ROWS], size_t a_step,
                             const float *b, size_t ldb, float out[TILE_ROWS][TILE_COLS])
{
    _Static_assert(TILE_ROWS == 6, "FOR_EACH_ROW names each row of the tile");
    FOR_EACH_ROW(ROW_START)
    size_t ai = 0;
    for (int d = 0; d < depth; d++, ai += a_step, b += ldb) {
        nl_v8 lo = nl_v8_load(b), hi = nl_v8_load(b + 8);
        NL_IN_REGISTER(lo);
        NL_IN_REGISTER(hi);
        FOR_EACH_ROW(ROW_FMA)
    }
    FOR_EACH_ROW(ROW_STORE)
}

/* the same sums for one column, for a ragged right edge */
static inline float column_sum(int depth, const float *a_row, size_t a_step, const float *b,
                               size_t ldb)
{
    float s = 0.0f;
    for (int d = 0; d < depth; d++)
        s += a_row[(size_t)d * a_step] * b[(size_t)d * ldb];
    return s;
}

/* A product whose A is read down its columns (the weight gradient, dy^T x)
 * copies each 16-column panel of B into one contiguous block first: B's
 * rows are a whole row of x apart, 1 KiB at 256 features, so the panel's
 * lines fall into a few L1 sets and are re-read from L2 for every row tile.
 * The copy pays off once enough row tiles reuse it over a deep enough panel
 * (a weight gradient of a few rows loses by it). Up to PACK_MAX_DEPTH the
 * block (64 bytes a row) sits on the stack. */
#define PACK_MIN_DEPTH 32
#define PACK_MAX_DEPTH 256
#define PACK_MIN_ROWS 48

bool nl_cpu_gemm_tn_packs(int rows, int depth)
{
    return rows >= PACK_MIN_ROWS && depth >= PACK_MIN_DEPTH && depth <= PACK_MAX_DEPTH;
}

/* Columns j0 .. j0 + width of C[rows x cols] (+)= A B (+ row_bias[row]),
 * where row k of A is read as a_row(k)[d * a_step] and b points at the
 * panel's first column: within a panel (depth x 64 bytes of B, in L1 for
 * depths up to a few hundred) the row tiles go by. A ragged last row tile
 * repeats its last row and drops the copies. */
static inline void panel_rows(int j0, int width, int rows, int depth, const float *a,
                              size_t a_row_step, size_t a_step, const float *b, size_t ldb,
                              const float *row_bias, float *c, size_t ldc, bool accumulate)
{
    for (int r = 0; r < rows; r += TILE_ROWS) {
        const int height = rows - r < TILE_ROWS ? rows - r : TILE_ROWS;
        float *c0 = c + (size_t)r * ldc + j0;
        if (width < TILE_COLS) {
            for (int k = 0; k < height; k++)
                for (int j = 0; j < width; j++) {
                    const float s =
                        column_sum(depth, a + (size_t)(r + k) * a_row_step, a_step, b + j,
                                   ldb) +
                        (row_bias ? row_bias[r + k] : 0.0f);
                    float *dst = c0 + (size_t)k * ldc + j;
                    *dst = accumulate ? *dst + s : s;
                }
            continue;
        }
        const float *a_rows[TILE_ROWS];
        for (int k = 0; k < TILE_ROWS; k++)
            a_rows[k] = a + (size_t)(r + (k < height ? k : height - 1)) * a_row_step;
        float out[TILE_ROWS][TILE_COLS];
        tile_6x16(depth, a_rows, a_step, b, ldb, out);
        for (int k = 0; k < height; k++) {
            float *dst = c0 + (size_t)k * ldc;
            nl_v8 lo = nl_v8_load(out[k]), hi = nl_v8_load(out[k] + 8);
            if (row_bias) {
                lo += nl_v8_splat(row_bias[r + k]);
                hi += nl_v8_splat(row_bias[r + k]);
            }
            if (accumulate) {
                nl_v8_store(dst, nl_v8_load(dst) + lo);
                nl_v8_store(dst + 8, nl_v8_load(dst + 8) + hi);
            } else {
                nl_v8_store(dst, lo);
                nl_v8_store(dst + 8, hi);
            }
        }
    }
}

/* panel_rows on a contiguous copy of the panel; not inlined, so that only
 * the calls that copy carry the block in their stack frame */
static __attribute__((noinline)) void packed_panel_rows(int j0, int rows, int depth,
                                                        const float *a, size_t a_row_step,
                                                        size_t a_step, const float *b,
                                                        size_t ldb, float *c, size_t ldc)
{
    float packed[PACK_MAX_DEPTH * TILE_COLS] __attribute__((aligned(32)));
    for (int d = 0; d < depth; d++) {
        nl_v8_store(packed + d * TILE_COLS, nl_v8_load(b + (size_t)d * ldb));
        nl_v8_store(packed + d * TILE_COLS + 8, nl_v8_load(b + (size_t)d * ldb + 8));
    }
    panel_rows(j0, TILE_COLS, rows, depth, a, a_row_step, a_step, packed, TILE_COLS, NULL, c,
               ldc, false);
}

/* 16-column panel p of the product */
static inline void product_panel(int p, int rows, int cols, int depth, const float *a,
                                 size_t a_row_step, size_t a_step, const float *b, size_t ldb,
                                 const float *row_bias, float *c, size_t ldc, bool accumulate)
{
    const int j0 = p * TILE_COLS;
    const int width = cols - j0 < TILE_COLS ? cols - j0 : TILE_COLS;
    if (a_step != 1 && width == TILE_COLS && nl_cpu_gemm_tn_packs(rows, depth) && !row_bias &&
        !accumulate) {
        packed_panel_rows(j0, rows, depth, a, a_row_step, a_step, b + j0, ldb, c, ldc);
        return;
    }
    panel_rows(j0, width, rows, depth, a, a_row_step, a_step, b + j0, ldb, row_bias, c, ldc,
               accumulate);
}

/* the panels split over threads, or all on the calling thread: not an
 * `omp parallel if (0)`, which still opens a team of one, and a team
 * allocates (libc's free showed in the Winograd weight gradient, which
 * calls this 16 times per chunk inside its own team) */
static void tiled_product(int rows, int cols, int depth, const float *a, size_t a_row_step,
                          size_t a_step, const float *b, size_t ldb, const float *row_bias,
                          float *c, size_t ldc, bool accumulate, bool parallel)
{
    const int panels = (cols + TILE_COLS - 1) / TILE_COLS;
    /* waking the second thread costs about as much as 128k multiply-adds */
    if (parallel && (long)rows * cols * depth >= 4 * NL_PARALLEL_MIN) {
        #pragma omp parallel for schedule(static)
        for (int p = 0; p < panels; p++)
            product_panel(p, rows, cols, depth, a, a_row_step, a_step, b, ldb, row_bias, c, ldc,
                          accumulate);
        return;
    }
    for (int p = 0; p < panels; p++)
        product_panel(p, rows, cols, depth, a, a_row_step, a_step, b, ldb, row_bias, c, ldc,
                      accumulate);
}

void nl_cpu_gemm_nn(int rows, int cols, int depth, const float *a, int lda, const float *b,
                    int ldb, const float *row_bias, float *c, int ldc, bool accumulate)
{
    tiled_product(rows, cols, depth, a, (size_t)lda, 1, b, (size_t)ldb, row_bias, c,
                  (size_t)ldc, accumulate, true);
}

void nl_cpu_gemm_nn_serial(int rows, int cols, int depth, const float *a, int lda,
                           const float *b, int ldb, const float *row_bias, float *c, int ldc,
                           bool accumulate)
{
    tiled_product(rows, cols, depth, a, (size_t)lda, 1, b, (size_t)ldb, row_bias, c,
                  (size_t)ldc, accumulate, false);
}

void nl_cpu_gemm_tn(int rows, int cols, int depth, const float *a, int lda, const float *b,
                    int ldb, float *c, int ldc)
{
    tiled_product(rows, cols, depth, a, 1, (size_t)lda, b, (size_t)ldb, NULL, c, (size_t)ldc,
                  false, true);
}

/* dst[j * ldc + k] = tile[k][j] (+ bias[k]): the tile turned in registers
 * (two 8 x 8 blocks, rows 6 and 7 unused), six contiguous floats a column
 * instead of 96 scalar stores */
static inline void store_transposed(float tile[TILE_ROWS][TILE_COLS], int height, int width,
                                    const float *bias, float *dst, size_t ldc)
{
    nl_v8 bias_lanes = {0};
    for (int k = 0; bias && k < height; k++)
        bias_lanes[k] = bias[k];
    for (int half = 0; half < 2 && half * 8 < width; half++) {
        nl_v8 v[8];
        for (int k = 0; k < 8; k++)
            v[k] = nl_v8_load(tile[k < TILE_ROWS ? k : TILE_ROWS - 1] + 8 * half);
        nl_v8_transpose8(v);
        const int columns = width - 8 * half < 8 ? width - 8 * half : 8;
        for (int j = 0; j < columns; j++) {
            float *d = dst + (size_t)(8 * half + j) * ldc;
            float lanes[8];
            nl_v8_store(lanes, v[j] + bias_lanes);
            if (height == TILE_ROWS)
                memcpy(d, lanes, TILE_ROWS * sizeof *d);
            else
                for (int k = 0; k < height; k++)
                    d[k] = lanes[k];
        }
    }
}

/* C^T = A B + row_bias: c[col * ldc + row], one output row of C^T per
 * column of B. This call does share `part` of `parts` of the (row tile,
 * panel) pairs, in equal runs. With at least 16 row tiles a thread the runs
 * go tile by tile, each tile through every panel: each row of W is then
 * read by one thread only (when both threads read all of W, the SGD step's
 * stores to it are slowed: every line is shared with the other core), and
 * an equal count of pairs, not of tiles, splits an odd tile count evenly.
 * With fewer tiles the runs go panel by panel, which keeps both threads
 * busy on a narrow A. B's panels are contiguous, so the whole depth runs in
 * one go: slicing the depth to keep a panel in L1 only costs once the
 * panel streams. */
void nl_cpu_gemm_nn_transposed_share(int rows, int cols, int depth, const float *a, int lda,
                                     const float *b_panels, const float *row_bias, float *c,
                                     int ldc, int part, int parts)
{
    const int row_tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
    const int panels = (cols + TILE_COLS - 1) / TILE_COLS;
    const long items = (long)row_tiles * panels;
    const long first = items * part / parts, last = items * (part + 1) / parts;
    const bool tile_major = row_tiles >= 16 * parts;
    for (long i = first; i < last; i++) {
        const int t = (int)(tile_major ? i / panels : i % row_tiles);
        const int p = (int)(tile_major ? i % panels : i / row_tiles);
        const int r = t * TILE_ROWS, height = rows - r < TILE_ROWS ? rows - r : TILE_ROWS;
        const int j0 = p * TILE_COLS, width = cols - j0 < TILE_COLS ? cols - j0 : TILE_COLS;
        const float *a_rows[TILE_ROWS];
        for (int k = 0; k < TILE_ROWS; k++)
            a_rows[k] = a + (size_t)(r + (k < height ? k : height - 1)) * lda;
        float out[TILE_ROWS][TILE_COLS];
        tile_6x16(depth, a_rows, 1, b_panels + (size_t)p * depth * TILE_COLS, TILE_COLS, out);
        store_transposed(out, height, width, row_bias ? row_bias + r : NULL,
                         c + (size_t)j0 * ldc + r, (size_t)ldc);
    }
}

enum { DOT_ROWS = 4, DOT_COLS = 3 };

/* C[r][j] (+)= sum_d A[r][d] B[j][d]: both operands run along the depth, so
 * a tile is 4 rows of A by 3 rows of B as dot products, 8 depths a step,
 * twelve horizontal sums at the end: for long depths and few outputs (the
 * weight gradient of a shallow lowering, 32 x 9 over thousands of pixels),
 * where sgemm's packing outweighs its arithmetic. A ragged edge repeats its last row and
 * drops the copies. */
void nl_cpu_gemm_nt_serial(int rows, int cols, int depth, const float *a, int lda,
                           const float *b, int ldb, float *c, int ldc, bool accumulate)
{
    const int vec_depth = depth - depth % 8;
    for (int j = 0; j < cols; j += DOT_COLS) {
        const int width = cols - j < DOT_COLS ? cols - j : DOT_COLS;
        const float *b0 = b + (size_t)j * ldb;
        const float *b1 = b + (size_t)(j + (width > 1 ? 1 : 0)) * ldb;
        const float *b2 = b + (size_t)(j + (width > 2 ? 2 : width - 1)) * ldb;
        for (int r = 0; r < rows; r += DOT_ROWS) {
            const int height = rows - r < DOT_ROWS ? rows - r : DOT_ROWS;
            const float *x0 = a + (size_t)r * lda;
            const float *x1 = a + (size_t)(r + (height > 1 ? 1 : 0)) * lda;
            const float *x2 = a + (size_t)(r + (height > 2 ? 2 : height - 1)) * lda;
            const float *x3 = a + (size_t)(r + (height > 3 ? 3 : height - 1)) * lda;
            nl_v8 s00 = {0}, s01 = {0}, s02 = {0}, s10 = {0}, s11 = {0}, s12 = {0};
            nl_v8 s20 = {0}, s21 = {0}, s22 = {0}, s30 = {0}, s31 = {0}, s32 = {0};
            for (int d = 0; d < vec_depth; d += 8) {
                nl_v8 w0 = nl_v8_load(b0 + d), w1 = nl_v8_load(b1 + d), w2 = nl_v8_load(b2 + d);
                NL_IN_REGISTER(w0);
                NL_IN_REGISTER(w1);
                NL_IN_REGISTER(w2);
                /* each x vector loaded once: left to itself gcc folds it into all
                 * three FMAs as a memory operand, 15 loads for 12 FMAs */
                nl_v8 v = nl_v8_load(x0 + d);
                NL_IN_REGISTER(v);
                s00 = nl_v8_fma(v, w0, s00), s01 = nl_v8_fma(v, w1, s01), s02 = nl_v8_fma(v, w2, s02);
                v = nl_v8_load(x1 + d);
                NL_IN_REGISTER(v);
                s10 = nl_v8_fma(v, w0, s10), s11 = nl_v8_fma(v, w1, s11), s12 = nl_v8_fma(v, w2, s12);
                v = nl_v8_load(x2 + d);
                NL_IN_REGISTER(v);
                s20 = nl_v8_fma(v, w0, s20), s21 = nl_v8_fma(v, w1, s21), s22 = nl_v8_fma(v, w2, s22);
                v = nl_v8_load(x3 + d);
                NL_IN_REGISTER(v);
                s30 = nl_v8_fma(v, w0, s30), s31 = nl_v8_fma(v, w1, s31), s32 = nl_v8_fma(v, w2, s32);
            }
            const float sums[DOT_ROWS][DOT_COLS] = {
                {nl_v8_sum(s00), nl_v8_sum(s01), nl_v8_sum(s02)},
                {nl_v8_sum(s10), nl_v8_sum(s11), nl_v8_sum(s12)},
                {nl_v8_sum(s20), nl_v8_sum(s21), nl_v8_sum(s22)},
                {nl_v8_sum(s30), nl_v8_sum(s31), nl_v8_sum(s32)},
            };
            const float *xs[DOT_ROWS] = {x0, x1, x2, x3}, *ws[DOT_COLS] = {b0, b1, b2};
            for (int k = 0; k < height; k++)
                for (int q = 0; q < width; q++) {
                    float s = sums[k][q];
                    for (int d = vec_depth; d < depth; d++)
                        s += xs[k][d] * ws[q][d];
                    float *dst = c + (size_t)(r + k) * ldc + j + q;
                    *dst = accumulate ? *dst + s : s;
                }
        }
    }
}
