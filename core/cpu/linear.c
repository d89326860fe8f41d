/* Linear layer: y = x W^T + b with W (out, in), row-major.
 *
 * Large batches go to OpenBLAS. Small ones are a different problem: every
 * product is a pass over W with little arithmetic per weight, and sgemm
 * spends more time packing operands and clearing C (scalar stores, with
 * beta = 0) than multiplying. Below the thresholds here, measured on this machine's bench shapes
 * and on 1024- and 2048-wide layers, the forward pass streams W once per
 * four rows (skinny_forward) or, to a few dozen rows, runs as a register
 * tile over W and the transposed x (tiled_forward), and the backward uses
 * the register-tiled products of gemm.c or, at the smallest batches,
 * skinny_weight_grad. Each
 * output is then summed by one thread in a fixed order, so results do not
 * depend on the thread count.
 *
 * Under a low product precision (be->product_precision) both passes take
 * lowp_forward/lowp_backward instead, autocast's linear: x, W and the bias
 * (forward), dy, x and W (backward) rounded into the workspace, products of
 * the rounded copies with fp32 accumulation (nl_cpu_lowp_gemm), and y, dx,
 * dW and db rounded as they are written (dx added in fp32 into an
 * accumulating gradient). Where the kernel set packs its bf16 products
 * (vdpbf16ps, lowp.h) each product is one call over the whole batch with
 * the packing scratch from the workspace; the sgemm products run in the
 * shares below. fp32 takes the paths below unchanged. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/lowp.h"
#include "cpu/reduce.h"

/* Up to this batch the skinny forward beats sgemm on the bench shapes (784-256,
 * 256-256, 256-10, 3136-10), and the tiled input gradient beats both sgemm and a
 * skinny one at any width. The measurements behind this and the thresholds below:
 * results/bench/NOTES.md, "Moved from the kernel comments". */
#define NL_SKINNY_MAX_ROWS 12
/* Up to this many outputs narrow_forward beats sgemm at any batch above the
 * skinny one; at 16 outputs, sgemm's kernel width, they tie or sgemm wins */
#define NL_NARROW_MAX_OUT 12
/* Below this batch a weight-gradient row is too short a sum for a register tile. */
#define NL_SKINNY_DW_MAX_ROWS 7
/* The tiled backward keeps a 16-column panel of its right operand in L1
 * (depth x 64 bytes): up to 256-wide outputs it beats sgemm on dx to batch
 * 512 and on dW to batch 128, and loses at 1024 wide. Where gemm.c copies
 * x's panels (nl_cpu_gemm_tn_packs: 48 rows of dW or more, 32-256 deep), dW
 * beats sgemm to batch 256; unpacked, a few dozen rows at batch 256 lose. */
#define NL_TILED_MAX_OUT 256
#define NL_TILED_DX_MAX_ROWS 512
#define NL_TILED_DW_MAX_ROWS 128
/* The tiled forward (y^T = W x^T, tiled_forward) beats sgemm over shapes
 * from 64 -> 64 to 4096 -> 4096 up to 128 rows, ties at 192-256 rows on
 * 256-wide outputs and wins on narrower ones; from 512 rows sgemm's packed
 * kernel is ahead on the largest weights. On 16 outputs the few row tiles
 * split unevenly over threads. */
#define NL_TILED_FORWARD_MAX_ROWS 256
#define NL_TILED_FORWARD_MIN_OUT 24

/* y[r, o] = b[o] + sum_i x[r, i] W[o, i]: four rows of x against one row of
 * W at a time, W's row staying in L1 while the rows go by */
static void skinny_forward(int n, int in, int out, const float *x, const float *weight,
                           const float *bias, float *y)
{
    NL_PARALLEL_FOR_IF((long)out * in >= NL_PARALLEL_MIN,
    for (int o = 0; o < out; o++) {
        const float *wrow = weight + (size_t)o * in;
        for (int r = 0; r < n; r += 4) {
            /* past the last row, repeat it: the same register shape for a
             * ragged tail, its sums thrown away */
            const float *x0 = x + (size_t)r * in;
            const float *x1 = x + (size_t)(r + 1 < n ? r + 1 : n - 1) * in;
            const float *x2 = x + (size_t)(r + 2 < n ? r + 2 : n - 1) * in;
            const float *x3 = x + (size_t)(r + 3 < n ? r + 3 : n - 1) * in;
            nl_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            int i = 0;
            for (; i + 8 <= in; i += 8) {
                const nl_v8 w = nl_v8_load(wrow + i);
                a0 += w * nl_v8_load(x0 + i);
                a1 += w * nl_v8_load(x1 + i);
                a2 += w * nl_v8_load(x2 + i);
                a3 += w * nl_v8_load(x3 + i);
            }
            float s[4] = {nl_v8_sum(a0), nl_v8_sum(a1), nl_v8_sum(a2), nl_v8_sum(a3)};
            for (; i < in; i++) {
                s[0] += wrow[i] * x0[i];
                s[1] += wrow[i] * x1[i];
                s[2] += wrow[i] * x2[i];
                s[3] += wrow[i] * x3[i];
            }
            const float b = bias ? bias[o] : 0.0f;
            for (int k = 0; k < 4 && r + k < n; k++)
                y[(size_t)(r + k) * out + o] = s[k] + b;
        }
    });
}

/* y[r, o] = b[o] + sum_i x[r, i] W[o, i] for layers with few outputs (a
 * classifier), any batch: four rows of x against two rows of W at a time,
 * the rows of x staying in L1 while all of W (10 x 3136 floats for the bench
 * CNN's classifier: 125 KB) goes by from L2. sgemm ran these at 18-37
 * GFLOP/s (it packs W for ten columns), and skinny_forward, W row outermost,
 * streams all of x once per output. */
static void narrow_forward(int n, int in, int out, const float *x, const float *weight,
                           const float *bias, float *y)
{
    const int quads = (n + 3) / 4;
    NL_PARALLEL_FOR_IF((long)n * out * in >= NL_PARALLEL_MIN,
    for (int q = 0; q < quads; q++) {
        const int r = 4 * q;
        /* a ragged last quad or pair repeats its last row and drops the copies */
        const float *xr[4];
        for (int k = 0; k < 4; k++)
            xr[k] = x + (size_t)(r + k < n ? r + k : n - 1) * in;
        for (int o = 0; o < out; o += 2) {
            const float *w0 = weight + (size_t)o * in;
            const float *w1 = weight + (size_t)(o + 1 < out ? o + 1 : o) * in;
            nl_v8 a[4] = {{0}}, b[4] = {{0}};
            int i = 0;
            for (; i + 8 <= in; i += 8) {
                const nl_v8 u = nl_v8_load(w0 + i), v = nl_v8_load(w1 + i);
                for (int k = 0; k < 4; k++) {
                    const nl_v8 xv = nl_v8_load(xr[k] + i);
                    a[k] += u * xv;
                    b[k] += v * xv;
                }
            }
            for (int k = 0; k < 4 && r + k < n; k++) {
                float s0 = nl_v8_sum(a[k]), s1 = nl_v8_sum(b[k]);
                for (int t = i; t < in; t++) {
                    s0 += w0[t] * xr[k][t];
                    s1 += w1[t] * xr[k][t];
                }
                float *yr = y + (size_t)(r + k) * out;
                yr[o] = s0 + (bias ? bias[o] : 0.0f);
                if (o + 1 < out)
                    yr[o + 1] = s1 + (bias ? bias[o + 1] : 0.0f);
            }
        }
    });
}

/* an 8 x 8 block of x (rows at stride `in`) turned into 8 rows of 8 in a
 * panel of x_t (rows 16 floats apart) */
static inline void transpose_8x8(const float *x, size_t in, float *x_t)
{
    nl_v8 v[8];
    for (int k = 0; k < 8; k++)
        v[k] = nl_v8_load(x + k * in);
    nl_v8_transpose8(v);
    for (int k = 0; k < 8; k++)
        nl_v8_store(x_t + k * NL_GEMM_PANEL_COLS, v[k]);
}

/* This share of x_t = x^T (in x ld) in the product's panel layout, each
 * panel of 16 samples contiguous, so that the tiles stream it instead of
 * reading 16 floats a row apart (rows ld floats apart fell into a few L1
 * sets); by 8-row blocks of x_t. The product reads whole panels and drops
 * the sums of the columns past n; they are zeroed all the same, since
 * stale floats there could be subnormals that slow the multiply-adds. */
static void transpose_share(int n, int in, const float *x, float *x_t, int ld, int part,
                            int parts)
{
    const int blocks = (in + 7) / 8;
    const int first = (int)((long)blocks * part / parts);
    const int last = (int)((long)blocks * (part + 1) / parts);
    for (int cb = first; cb < last; cb++) {
        const int c0 = 8 * cb, width = in - c0 < 8 ? in - c0 : 8;
        int r0 = 0;
        if (width == 8)
            for (; r0 + 8 <= n; r0 += 8)
                transpose_8x8(x + (size_t)r0 * in + c0, (size_t)in,
                              x_t + NL_GEMM_PANEL_AT(in, c0, r0));
        for (int c = c0; c < c0 + width; c++) {
            for (int r = r0; r < n; r++)
                x_t[NL_GEMM_PANEL_AT(in, c, r)] = x[(size_t)r * in + c];
            for (int r = n; r < ld; r++)
                x_t[NL_GEMM_PANEL_AT(in, c, r)] = 0.0f;
        }
    }
}

static int padded_batch(int n) { return (n + 15) / 16 * 16; }

/* y^T = W x^T, both as register tiles: W's rows are read in place, and x,
 * the smaller operand at these batches, is transposed once into the
 * workspace. y is written once, bias included: sgemm packed W on every
 * call and made y a read-modify-write of the bias */
static void tiled_forward(int n, int in, int out, const float *x, const float *weight,
                          const float *bias, float *y, float *x_t)
{
    const int ld = padded_batch(n);
    if ((long)n * in * out >= 4L * NL_PARALLEL_MIN) {
        #pragma omp parallel
        {
            const int part = omp_get_thread_num_safe(), parts = omp_get_num_threads_safe();
            transpose_share(n, in, x, x_t, ld, part, parts);
            #pragma omp barrier
            nl_cpu_gemm_nn_transposed_share(out, n, in, weight, in, x_t, bias, y, out, part,
                                            parts);
        }
        return;
    }
    transpose_share(n, in, x, x_t, ld, 0, 1);
    nl_cpu_gemm_nn_transposed_share(out, n, in, weight, in, x_t, bias, y, out, 0, 1);
}

/* dW[o, i] = sum_r dy[r, o] x[r, i]: each row of dW written once, four at
 * a time so every load of x feeds four multiply-adds */
static void skinny_weight_grad(int n, int in, int out, const float *x, const float *dy,
                               float *dweight)
{
    const int quads = (out + 3) / 4;
    NL_PARALLEL_FOR_IF((long)out * in >= NL_PARALLEL_MIN,
    for (int q = 0; q < quads; q++) {
        const int o = q * 4;
        const int rows = out - o < 4 ? out - o : 4;
        /* a ragged last quad repeats its last row and drops the copies */
        const int o1 = o + 1 < out ? o + 1 : out - 1, o2 = o + 2 < out ? o + 2 : out - 1;
        const int o3 = o + 3 < out ? o + 3 : out - 1;
        float *w0 = dweight + (size_t)o * in;
        int i = 0;
        for (; i + 16 <= in; i += 16) {
            nl_v8 a0 = {0}, b0 = {0}, a1 = {0}, b1 = {0};
            nl_v8 a2 = {0}, b2 = {0}, a3 = {0}, b3 = {0};
            for (int r = 0; r < n; r++) {
                const float *xr = x + (size_t)r * in + i;
                const float *dr = dy + (size_t)r * out;
                const nl_v8 xl = nl_v8_load(xr), xh = nl_v8_load(xr + 8);
                const nl_v8 g0 = nl_v8_splat(dr[o]), g1 = nl_v8_splat(dr[o1]);
                const nl_v8 g2 = nl_v8_splat(dr[o2]), g3 = nl_v8_splat(dr[o3]);
                a0 += g0 * xl;
                b0 += g0 * xh;
                a1 += g1 * xl;
                b1 += g1 * xh;
                a2 += g2 * xl;
                b2 += g2 * xh;
                a3 += g3 * xl;
                b3 += g3 * xh;
            }
            const nl_v8 lo[4] = {a0, a1, a2, a3}, hi[4] = {b0, b1, b2, b3};
            for (int k = 0; k < rows; k++) {
                *(nl_v8u *)(w0 + (size_t)k * in + i) = lo[k];
                *(nl_v8u *)(w0 + (size_t)k * in + i + 8) = hi[k];
            }
        }
        for (; i < in; i++)
            for (int k = 0; k < rows; k++) {
                float s = 0.0f;
                for (int r = 0; r < n; r++)
                    s += dy[(size_t)r * out + o + k] * x[(size_t)r * in + i];
                w0[(size_t)k * in + i] = s;
            }
    });
}

/* The sgemm products split over our own team, one single-threaded sgemm a
 * thread on its share of the output's rows (OpenBLAS's OpenMP build runs
 * one thread inside a parallel region). Left to its own threads, OpenBLAS
 * synchronizes them many times a call, spinning and yielding, and on a
 * shared host a descheduled thread stalls every one of those points: the
 * LM's products at 4096 rows ran 2-7x slower on 2 threads than on 1 at
 * load 9 (experiments/bench/lm_gemm_ceiling.c). Here a call has one join. */
static bool sgemm_in_shares(int n, int in, int out)
{
    return (long)n * in * out >= 4L * NL_PARALLEL_MIN;
}

/* this thread's rows of `rows`, in whole 16-row blocks, when `split` (the
 * caller opened the team); all of them otherwise, also when the layer runs
 * inside a caller's team. As with OpenBLAS's own threads, the sums may round
 * differently on another thread count (sgemm's kernels depend on the
 * shape); on the same count they repeat. */
static void share_of(int rows, bool split, int *first, int *count)
{
    if (!split) {
        *first = 0;
        *count = rows;
        return;
    }
    const int blocks = (rows + 15) / 16, part = omp_get_thread_num_safe();
    const int parts = omp_get_num_threads_safe();
    const int lo = (int)((long)blocks * part / parts) * 16;
    const int hi = (int)((long)blocks * (part + 1) / parts) * 16;
    *first = lo < rows ? lo : rows;
    *count = (hi < rows ? hi : rows) - *first;
}

/* this thread's rows of y = x W^T + b; starting y at the bias lets sgemm
 * add the product in its own pass */
static void sgemm_forward_share(bool split, int n, int in, int out, const float *x,
                                const float *weight, const float *bias, float *y)
{
    int first, count;
    share_of(n, split, &first, &count);
    if (count <= 0)
        return;
    y += (size_t)first * out;
    if (bias)
        for (int i = 0; i < count; i++)
            memcpy(y + (size_t)i * out, bias, (size_t)out * sizeof *y);
    nl_cpu_sgemm(false, true, count, out, in, 1.0f, x + (size_t)first * in, in, weight, in,
                 bias ? 1.0f : 0.0f, y, out);
}

/* this thread's rows of dx (+)= dy W */
static void sgemm_input_grad_share(bool split, int n, int in, int out, const float *weight,
                                   const float *dy, float *dx, bool accumulate)
{
    int first, count;
    share_of(n, split, &first, &count);
    if (count > 0)
        nl_cpu_sgemm(false, false, count, in, out, 1.0f, dy + (size_t)first * out, out, weight,
                     in, accumulate ? 1.0f : 0.0f, dx + (size_t)first * in, in);
}

/* this thread's rows of dW = dy^T x (its outputs: dW's rows are W's) */
static void sgemm_weight_grad_share(bool split, int n, int in, int out, const float *x,
                                    const float *dy, float *dweight)
{
    int first, count;
    share_of(out, split, &first, &count);
    if (count > 0)
        nl_cpu_sgemm(true, false, count, in, n, 1.0f, dy + first, out, x, in, 0.0f,
                     dweight + (size_t)first * in, in);
}

/* The thresholds above were measured against OpenBLAS. oneDNN's sgemm
 * (cpu/products.c) beats the register tiles wherever its rule takes a
 * product: whole runs of the MLP at batch 128 took 0.62x the CPU time with
 * it in place of the tiles, at batch 16 0.92x, the ViT at batch 16 0.89x
 * (Ice Lake, results/speed.md "Products"); so a tile runs only where the
 * product would otherwise go to OpenBLAS. */
static bool tiles_beat_library(int m, int n, int k) { return !nl_cpu_gemm_uses_onednn(m, n, k); }

static bool tiled_forward_fits(int n, int out)
{
    return n > NL_SKINNY_MAX_ROWS && n <= NL_TILED_FORWARD_MAX_ROWS &&
           out >= NL_TILED_FORWARD_MIN_OUT;
}

static bool uses_tiled_forward(int n, int in, int out)
{
    return tiled_forward_fits(n, out) && tiles_beat_library(n, out, in);
}

/* The low-precision workspace, in floats: the rounded x, W, bias and dy,
 * dx's rounded product before it is added into an accumulating dx, and the
 * packing scratch of the products that pack (the largest of the three; 0
 * elsewhere). */
typedef struct {
    float *x, *weight, *bias, *dy, *dx, *pack;
} lowp_parts;

static size_t pack_floats(nl_precision p, int n, int in, int out)
{
    const size_t forward = nl_cpu_lowp_gemm_scratch(p, n, out, in);
    const size_t input_grad = nl_cpu_lowp_gemm_scratch(p, n, in, out);
    const size_t weight_grad = nl_cpu_lowp_gemm_scratch(p, out, in, n);
    size_t most = forward > input_grad ? forward : input_grad;
    most = most > weight_grad ? most : weight_grad;
    return nl_cpu_lowp_floats((most + sizeof(float) - 1) / sizeof(float));
}

static size_t lowp_layout(nl_precision p, int n, int in, int out, float *base,
                          lowp_parts *parts)
{
    const size_t sizes[6] = {
        nl_cpu_lowp_floats((size_t)n * in), nl_cpu_lowp_floats((size_t)out * in),
        nl_cpu_lowp_floats((size_t)out), nl_cpu_lowp_floats((size_t)n * out),
        nl_cpu_lowp_floats((size_t)n * in), pack_floats(p, n, in, out)};
    float **slots[6] = {&parts->x, &parts->weight, &parts->bias, &parts->dy, &parts->dx,
                        &parts->pack};
    size_t offset = 0;
    for (int k = 0; k < 6; k++) {
        if (base)
            *slots[k] = base + offset;
        offset += sizes[k];
    }
    return offset;
}

/* whether the products round; be may be NULL in the stand-alone benches
 * (experiments/bench), which time the fp32 kernels */
static bool rounds(const nl_backend *be) { return be && nl_cpu_lowp(be->product_precision); }

size_t nl_cpu_linear_workspace(nl_backend *be, int n, int in, int out)
{
    if (rounds(be)) {
        lowp_parts unused;
        return lowp_layout(be->product_precision, n, in, out, NULL, &unused) * sizeof(float);
    }
    /* any batch up to n may run, and the largest tiled one needs the most
     * (a smaller batch may take the tile where oneDNN takes the planned one) */
    const int rows = n < NL_TILED_FORWARD_MAX_ROWS ? n : NL_TILED_FORWARD_MAX_ROWS;
    return tiled_forward_fits(rows, out) ? (size_t)in * padded_batch(rows) * sizeof(float) : 0;
}

/* this thread's rows of the low-precision C = op(A) op(B) + beta C, split
 * as the sgemm shares are: rows of y or dx (A's rows are C's), or of dW
 * (trans_a: A = dy, C's rows are dy's columns). pack: the packing scratch,
 * only where the product packs, which is never split (lowp_split). */
static void lowp_share(nl_precision p, bool split, bool trans_a, bool trans_b, int rows, int cols,
                       int depth, const float *a, int lda, const float *b, int ldb, float beta,
                       float *c, int ldc, float *pack)
{
    int first, count;
    share_of(rows, split, &first, &count);
    if (count > 0)
        nl_cpu_lowp_gemm(p, trans_a, trans_b, count, cols, depth,
                         trans_a ? a + first : a + (size_t)first * lda, lda, b, ldb, beta,
                         c + (size_t)first * ldc, ldc, pack);
}

/* whether the low-precision products run in shares over a team opened here */
static bool lowp_split(nl_precision p, int n, int in, int out)
{
    return !nl_cpu_lowp_gemm_packs(p) && sgemm_in_shares(n, in, out);
}

/* An operand of a low-precision product as the product reads it: rounded
 * into `copy` for sgemm, whose fp32 products are exact only on rounded
 * values; where the product packs (lowp.h), as it is, since packing rounds
 * each element to bf16 the same way (gemm_bf16.c: bf16_bits), so the bits
 * are the same and a pass over the operand is saved. */
static const float *product_operand(nl_precision p, const float *src, float *copy, size_t count)
{
    if (nl_cpu_lowp_gemm_packs(p))
        return src;
    nl_cpu_round_parallel(p, src, copy, count);
    return copy;
}

static void lowp_forward(nl_backend *be, int n, int in, int out, const float *x,
                         const float *weight, const float *bias, float *y, void *workspace)
{
    const nl_precision p = be->product_precision;
    lowp_parts r;
    lowp_layout(p, n, in, out, workspace, &r);
    const float *x_op = product_operand(p, x, r.x, (size_t)n * in);
    const float *weight_op = product_operand(p, weight, r.weight, (size_t)out * in);
    if (bias) {
        /* y starts at the rounded bias and the product adds to it in fp32 */
        nl_cpu_round(p, bias, r.bias, (size_t)out);
        for (int i = 0; i < n; i++)
            memcpy(y + (size_t)i * out, r.bias, (size_t)out * sizeof *y);
    }
    const bool split = lowp_split(p, n, in, out);
    NL_PARALLEL_CALL_IF(split, lowp_share(p, split, false, true, n, out, in, x_op, in, weight_op,
                                          in, bias ? 1.0f : 0.0f, y, out, r.pack));
    nl_cpu_round_parallel(p, y, y, (size_t)n * out);
}

void nl_cpu_linear_forward(nl_backend *be, int n, int in, int out, const float *x,
                           const float *weight, const float *bias, float *y, void *workspace)
{
    if (rounds(be)) {
        lowp_forward(be, n, in, out, x, weight, bias, y, workspace);
        return;
    }
    if (n <= NL_SKINNY_MAX_ROWS) {
        skinny_forward(n, in, out, x, weight, bias, y);
        return;
    }
    if (out <= NL_NARROW_MAX_OUT) {
        narrow_forward(n, in, out, x, weight, bias, y);
        return;
    }
    if (uses_tiled_forward(n, in, out)) {
        tiled_forward(n, in, out, x, weight, bias, y, workspace);
        return;
    }
    const bool split = sgemm_in_shares(n, in, out);
    NL_PARALLEL_CALL_IF(split, sgemm_forward_share(split, n, in, out, x, weight, bias, y));
}

/* db[o] = sum over the batch of dy[r, o], in row order, independent of the
 * thread count. Each thread takes one contiguous share of the columns and
 * walks the rows, adding its share of each row to its sums as vectors
 * across the columns, so that the team together streams dy row after row,
 * which the prefetchers follow. (A pass per band of 64 columns, 4 cache
 * lines of every row, read the LSTM's 3584 x 512 gate gradients, cold from
 * the backward, at half the rate of one pass.) Each column's additions run
 * in row order whatever its share, so every bit of db is the same on any
 * number of threads. */
enum { BIAS_SPAN = 2048 }; /* the sums a thread keeps on its stack */

static void bias_grad_columns(int n, int out, const float *dy, float *dbias, int first, int last)
{
    for (int j0 = first; j0 < last; j0 += BIAS_SPAN) {
        const int width = last - j0 < BIAS_SPAN ? last - j0 : BIAS_SPAN;
        float sums[BIAS_SPAN];
        memset(sums, 0, (size_t)width * sizeof *sums);
        for (int i = 0; i < n; i++) {
            const float *row = dy + (size_t)i * out + j0;
            for (int j = 0; j < width; j++)
                sums[j] += row[j];
        }
        memcpy(dbias + j0, sums, (size_t)width * sizeof *dbias);
    }
}

/* this thread's share of the columns, in whole vectors of 8 */
static void bias_grad_share(int n, int out, const float *dy, float *dbias)
{
    int first, last;
    nl_thread_range((out + 7) / 8, &first, &last);
    bias_grad_columns(n, out, dy, dbias, first * 8, last * 8 < out ? last * 8 : out);
}

static void bias_grad(int n, int out, const float *dy, float *dbias)
{
    NL_PARALLEL_CALL_IF((long)n * out >= NL_PARALLEL_MIN, bias_grad_share(n, out, dy, dbias));
}

static void lowp_backward(nl_backend *be, int n, int in, int out, const float *x,
                          const float *weight, const float *dy, float *dx, bool accumulate_dx,
                          float *dweight, float *dbias, void *workspace)
{
    const nl_precision p = be->product_precision;
    lowp_parts r;
    lowp_layout(p, n, in, out, workspace, &r);
    /* the bias gradient sums the rounded dy, so it is rounded once for both
     * where there is a bias */
    const float *dy_op = dbias ? (nl_cpu_round_parallel(p, dy, r.dy, (size_t)n * out), r.dy)
                               : product_operand(p, dy, r.dy, (size_t)n * out);
    const float *x_op = product_operand(p, x, r.x, (size_t)n * in);
    const bool split = lowp_split(p, n, in, out);
    if (dx) {
        const float *weight_op = product_operand(p, weight, r.weight, (size_t)out * in);
        float *product = accumulate_dx ? r.dx : dx;
        NL_PARALLEL_CALL_IF(split, lowp_share(p, split, false, false, n, in, out, dy_op, out,
                                              weight_op, in, 0.0f, product, in, r.pack));
        if (accumulate_dx)
            nl_cpu_round_add(p, product, dx, (size_t)n * in);
        else
            nl_cpu_round_parallel(p, dx, dx, (size_t)n * in);
    }
    NL_PARALLEL_CALL_IF(split, lowp_share(p, split, true, false, out, in, n, dy_op, out, x_op, in,
                                          0.0f, dweight, in, r.pack));
    nl_cpu_round_parallel(p, dweight, dweight, (size_t)out * in);
    if (dbias) {
        bias_grad(n, out, dy_op, dbias);
        nl_cpu_round(p, dbias, dbias, (size_t)out);
    }
}

void nl_cpu_linear_backward(nl_backend *be, int n, int in, int out, const float *x,
                            const float *weight, const float *dy, float *dx, bool accumulate_dx,
                            float *dweight, float *dbias, void *workspace)
{
    if (rounds(be)) {
        lowp_backward(be, n, in, out, x, weight, dy, dx, accumulate_dx, dweight, dbias,
                      workspace);
        return;
    }
    const bool narrow = out <= NL_TILED_MAX_OUT, split = sgemm_in_shares(n, in, out);
    if (dx) {
        if (n <= NL_SKINNY_MAX_ROWS ||
            (narrow && n <= NL_TILED_DX_MAX_ROWS && tiles_beat_library(n, in, out)))
            nl_cpu_gemm_nn(n, in, out, dy, out, weight, in, NULL, dx, in, accumulate_dx);
        else
            NL_PARALLEL_CALL_IF(split, sgemm_input_grad_share(split, n, in, out, weight, dy, dx,
                                                              accumulate_dx));
    }
    if (n <= NL_SKINNY_DW_MAX_ROWS)
        skinny_weight_grad(n, in, out, x, dy, dweight);
    else if (n <= NL_SKINNY_MAX_ROWS ||
             (narrow && (n <= NL_TILED_DW_MAX_ROWS || nl_cpu_gemm_tn_packs(out, n)) &&
              tiles_beat_library(out, in, n)))
        nl_cpu_gemm_tn(out, in, n, dy, out, x, in, dweight, in);
    else
        NL_PARALLEL_CALL_IF(split, sgemm_weight_grad_share(split, n, in, out, x, dy, dweight));
    if (dbias)
        bias_grad(n, out, dy, dbias);
}
