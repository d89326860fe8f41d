/* 2-D convolution on the CPU: im2col + sgemm over chunks of samples.
 * (3x3 stride-1 convolutions with >= 8 channels in and out go to winograd.c
 * for all three products instead, and lowerings at most TILED_MAX_DEPTH
 * deep, a first layer's, to gemm.c's kernels.)
 *
 * OpenBLAS runs one sample's GEMM near full speed once it has a couple of
 * hundred columns, but thin maps (a ResNet's late 7x7 and 4x4 stages) lose
 * a fifth or more of it. So samples are lowered in chunks of k side by side into one column
 * matrix (rows = in_c*k*k, columns = k * out_h*out_w) with k aiming at 256
 * columns; a chunk needs one GEMM for the forward, one for the weight
 * gradient and one for the column gradient. A chunk of one sample skips the
 * gathering and scattering and works on the tensors directly. k is also
 * small enough that every thread gets a chunk.
 *
 * Chunks are split over threads; each thread runs its GEMMs single-threaded
 * (the OpenMP OpenBLAS does so inside a parallel region) and sums its weight
 * gradients privately; the per-thread sums are then added in thread order,
 * so a given thread count always gives the same bits. With a single chunk,
 * the GEMMs themselves use all threads.
 *
 * Workspace per thread: the chunk's column matrix, a buffer for the output
 * or the column gradient, the gathered output gradient, and the weight and
 * bias gradient partials.
 *
 * Under a low product precision (be->product_precision) that oneDNN does
 * not take (conv_onednn.h: it takes bf16 in a set with AVX512-BF16) the operands are
 * rounded into the workspace first (x, W and the bias forward; dy, x and W
 * backward), the same lowering multiplies the rounded copies with fp32
 * accumulation (its sgemm calls through nl_cpu_lowp_gemm: vdpbf16ps in a
 * set that packs its bf16 products, lowp.h, with a packing scratch in each
 * thread's block), and y, dx, dW and db are rounded as written: autocast's
 * convolution. Lowerings at most TILED_MAX_DEPTH deep keep gemm.c's fp32
 * kernels on the rounded operands in every set. Winograd is not
 * used there: its transforms of the rounded operands are not bf16 values,
 * so its products would not be the format's. */
#include <cblas.h>
#include <string.h>

#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"
#include "cpu/lowp.h"
#include "cpu/reduce.h"

enum { TARGET_COLUMNS = 256, ALIGN_FLOATS = 16 };

typedef struct {
    int k;           /* samples per chunk */
    int rows;        /* in_c * kernel * kernel */
    int pixels;      /* out_h * out_w */
    size_t cols;     /* floats of one column matrix: rows * k * pixels */
    size_t out;      /* floats of a chunk's output: out_c * k * pixels */
    size_t scratch;  /* max(cols, out): output in forward, column gradient in backward */
    size_t dw;       /* out_c * rows */
    size_t pack;     /* the low-precision products' packing scratch (0: they do not pack) */
    size_t per_thread; /* floats */
    nl_precision precision; /* the products' (be->product_precision) */
} conv_plan;

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

static conv_plan plan_of(const nl_conv_geom *g, int n, int threads, nl_precision precision)
{
    conv_plan p;
    p.precision = precision;
    p.rows = g->in_c * g->kernel * g->kernel;
    p.pixels = g->out_h * g->out_w;
    int k = (TARGET_COLUMNS + p.pixels - 1) / p.pixels;
    const int share = (n + threads - 1) / threads; /* every thread gets work */
    if (k > share)
        k = share;
    if (k < 1)
        k = 1;
    p.k = k;
    p.cols = round_up((size_t)p.rows * k * p.pixels);
    p.out = round_up((size_t)g->out_c * k * p.pixels);
    p.scratch = p.cols > p.out ? p.cols : p.out;
    p.dw = round_up((size_t)g->out_c * p.rows);
    /* the chunk's three products: forward, weight gradient, column gradient */
    const int cols = k * p.pixels;
    const size_t products[3] = {nl_cpu_lowp_gemm_scratch(precision, g->out_c, cols, p.rows),
                                nl_cpu_lowp_gemm_scratch(precision, g->out_c, p.rows, cols),
                                nl_cpu_lowp_gemm_scratch(precision, p.rows, cols, g->out_c)};
    size_t pack = 0;
    for (int i = 0; i < 3; i++)
        pack = products[i] > pack ? products[i] : pack;
    p.pack = round_up((pack + sizeof(float) - 1) / sizeof(float));
    p.per_thread = p.cols + p.scratch + p.out + p.dw + round_up((size_t)g->out_c) + p.pack;
    return p;
}

/* the rounded copies under a low precision, ahead of the lowering's
 * blocks: x, W, bias, dy, and dx's rounded product before it is added into
 * an accumulating dx */
typedef struct {
    float *x, *weight, *bias, *dy, *dx, *lowering;
} lowp_parts;

static size_t lowp_layout(const nl_conv_geom *g, int n, float *base, lowp_parts *parts)
{
    const size_t in = (size_t)n * g->in_c * g->in_h * g->in_w;
    const size_t out = (size_t)n * g->out_c * g->out_h * g->out_w;
    const size_t sizes[5] = {nl_cpu_lowp_floats(in),
                             nl_cpu_lowp_floats((size_t)g->out_c * g->in_c * g->kernel * g->kernel),
                             nl_cpu_lowp_floats((size_t)g->out_c), nl_cpu_lowp_floats(out),
                             nl_cpu_lowp_floats(in)};
    float **slots[5] = {&parts->x, &parts->weight, &parts->bias, &parts->dy, &parts->dx};
    size_t offset = 0;
    for (int k = 0; k < 5; k++) {
        if (base)
            *slots[k] = base + offset;
        offset += sizes[k];
    }
    parts->lowering = base ? base + offset : NULL;
    return offset;
}

/* Winograd for fp32 only (see the top) */
static bool winograd_for(const nl_backend *be, const nl_conv_geom *g)
{
    return !nl_cpu_lowp(be->product_precision) && nl_cpu_winograd_applies(g);
}

/* oneDNN where the rule (or NORMLAB_CONV) picks it and it runs the
 * product precision (conv_onednn.h: fp32, bf16 in a set with AVX512-BF16) */
static bool onednn_for(const nl_backend *be, const nl_conv_geom *g)
{
    return nl_cpu_onednn_runs(be, g);
}

/* Winograd in the block where the plan chose it (g->algorithm: F(2x2,
 * 3x3), or F(4x4, 3x3) for the forward and data gradient with F(2x2,
 * 3x3)'s weight gradient) and the geometry takes it; the blocked layout is
 * oneDNN's (its reorders, the other layers, the fallback of a batch whose
 * workspace falls short), so oneDNN must run g too */
static bool winograd_blocked_for(const nl_backend *be, const nl_conv_geom *g)
{
    return (g->algorithm == NL_CONV_WINOGRAD_F23 || g->algorithm == NL_CONV_WINOGRAD_F43) &&
           !nl_cpu_lowp(be->product_precision) && nl_cpu_winograd_blocked_applies(g) &&
           onednn_for(be, g);
}

/* the workspace Winograd takes for g: F(4x4, 3x3)'s products and F(2x2,
 * 3x3)'s weight gradient run in the same one, one after the other */
static size_t winograd_blocked_workspace(const nl_backend *be, const nl_conv_geom *g)
{
    const size_t f23 = nl_cpu_winograd_blocked_workspace(g, be->threads);
    if (g->algorithm != NL_CONV_WINOGRAD_F43)
        return f23;
    const size_t f43 = nl_cpu_winograd_blocked_f43_workspace(g, be->threads);
    return f43 > f23 ? f43 : f23;
}

static size_t own_workspace(nl_backend *be, const nl_conv_geom *g, int n);

int nl_cpu_conv_block(nl_backend *be) { return nl_cpu_onednn_block(be); }

static bool blocked(const nl_conv_geom *g) { return g->in_block || g->out_block; }

/* A blocked geometry is oneDNN's alone (nl_cpu_onednn_block), which runs
 * it at every batch; where it could not (its primitives refused), the
 * output is NaN, so that the run diverges rather than train on an NCHW
 * reading of blocked data, and the fallback is counted (summary.json). */
static void blocked_refused(nl_backend *be, float *out, size_t count)
{
    be->conv_fallbacks++;
    for (size_t i = 0; i < count; i++)
        out[i] = NAN;
}

size_t nl_cpu_conv2d_workspace(nl_backend *be, const nl_conv_geom *g, int n)
{
    const size_t own = own_workspace(be, g, n);
    if (!onednn_for(be, g))
        return own;
    /* room for both: a batch whose oneDNN buffers do not fit runs this file's path */
    const size_t onednn = nl_cpu_onednn_conv_workspace(be, g, n);
    size_t bytes = onednn > own ? onednn : own;
    if (winograd_blocked_for(be, g)) {
        const size_t winograd = winograd_blocked_workspace(be, g);
        bytes = winograd > bytes ? winograd : bytes;
        /* by shape, so that the summary says which layers it ran
         * (model.conv_algorithm auto chooses per layer) */
        char name[96];
        snprintf(name, sizeof name, "%s %d->%d@%dx%d",
                 g->algorithm == NL_CONV_WINOGRAD_F43 ? NL_CPU_WINOGRAD_F43_BLOCKED_KERNEL
                                                      : NL_CPU_WINOGRAD_BLOCKED_KERNEL,
                 g->in_c, g->out_c, g->in_h, g->in_w);
        nl_cpu_onednn_kernels_note(be, name);
    }
    return bytes;
}

static size_t own_workspace(nl_backend *be, const nl_conv_geom *g, int n)
{
    /* the plan for the largest batch needs the most; smaller batches use less */
    if (winograd_for(be, g))
        return nl_cpu_winograd_workspace(g, be->threads);
    const size_t lowering = plan_of(g, n, be->threads, be->product_precision).per_thread *
                            sizeof(float) * (size_t)be->threads;
    if (!nl_cpu_lowp(be->product_precision))
        return lowering;
    lowp_parts unused;
    return lowp_layout(g, n, NULL, &unused) * sizeof(float) + lowering;
}

/* the packing scratch at the end of a thread's block (from its column matrix) */
static float *pack_of(const conv_plan *p, float *col)
{
    return col + (p->per_thread - p->pack);
}

/* C = A B + beta C, as sgemm with alpha 1, or the low-precision product
 * of rounded operands (pack: the thread's packing scratch) */
static void plan_gemm(const conv_plan *p, bool trans_a, bool trans_b, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc, float *pack)
{
    if (nl_cpu_lowp(p->precision))
        nl_cpu_lowp_gemm(p->precision, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc,
                         pack);
    else
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c,
                    ldc);
}

/* Input column range [lo, hi) of output positions whose input index
 * ow*stride - pad + kw lies inside [0, width): everything else is padding. */
static inline void valid_range(int out_w, int width, int stride, int pad, int kw, int *lo, int *hi)
{
    int a = pad - kw, b = width + pad - kw; /* need a <= ow*stride < b */
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    *hi = b <= 0 ? 0 : (b + stride - 1) / stride;
    if (*hi > out_w)
        *hi = out_w;
    if (*lo > *hi)
        *lo = *hi;
}

/* lowers one sample into columns [0, pixels) of a matrix with row stride ld */
static void im2col(const nl_conv_geom *g, const float *x, float *col, size_t ld)
{
    const int k = g->kernel, s = g->stride, p = g->pad;
    const int oh_n = g->out_h, ow_n = g->out_w, ih_n = g->in_h, iw_n = g->in_w;
    for (int c = 0; c < g->in_c; c++) {
        const float *xc = x + (size_t)c * ih_n * iw_n;
        for (int kh = 0; kh < k; kh++) {
            for (int kw = 0; kw < k; kw++) {
                float *dst = col + (size_t)((c * k + kh) * k + kw) * ld;
                int lo, hi;
                valid_range(ow_n, iw_n, s, p, kw, &lo, &hi);
                for (int oh = 0; oh < oh_n; oh++) {
                    const int ih = oh * s - p + kh;
                    float *row = dst + (size_t)oh * ow_n;
                    /* rows are short (14-28 floats in the bench CNN) */
                    if (ih < 0 || ih >= ih_n) {
                        nl_zero_run(row, ow_n);
                        continue;
                    }
                    /* xr[j] is the input under output column lo + j */
                    const float *xr = xc + (size_t)ih * iw_n + (lo * s + kw - p);
                    for (int ow = 0; ow < lo; ow++)
                        row[ow] = 0.0f;
                    if (s == 1) {
                        nl_copy_run(row + lo, xr, hi - lo);
                    } else {
                        for (int ow = lo; ow < hi; ow++)
                            row[ow] = xr[(ow - lo) * s];
                    }
                    for (int ow = hi; ow < ow_n; ow++)
                        row[ow] = 0.0f;
                }
            }
        }
    }
}

/* adds columns [0, pixels) of a column-gradient matrix (row stride ld) back
 * onto the input positions they came from */
static void col2im_add(const nl_conv_geom *g, const float *col, size_t ld, float *dx)
{
    const int k = g->kernel, s = g->stride, p = g->pad;
    const int oh_n = g->out_h, ow_n = g->out_w, ih_n = g->in_h, iw_n = g->in_w;
    for (int c = 0; c < g->in_c; c++) {
        float *dxc = dx + (size_t)c * ih_n * iw_n;
        for (int kh = 0; kh < k; kh++) {
            for (int kw = 0; kw < k; kw++) {
                const float *src = col + (size_t)((c * k + kh) * k + kw) * ld;
                int lo, hi;
                valid_range(ow_n, iw_n, s, p, kw, &lo, &hi);
                for (int oh = 0; oh < oh_n; oh++) {
                    const int ih = oh * s - p + kh;
                    if (ih < 0 || ih >= ih_n)
                        continue;
                    const float *rr = src + (size_t)oh * ow_n + lo;
                    float *dxr = dxc + (size_t)ih * iw_n + (lo * s + kw - p);
                    if (s == 1) {
                        #pragma omp simd
                        for (int j = 0; j < hi - lo; j++)
                            dxr[j] += rr[j];
                    } else {
                        for (int j = 0; j < hi - lo; j++)
                            dxr[j * s] += rr[j];
                    }
                }
            }
        }
    }
}

/* 1x1, stride 1, no padding: the input already is its column matrix */
static bool is_pointwise(const nl_conv_geom *g)
{
    return g->kernel == 1 && g->stride == 1 && g->pad == 0;
}

/* Up to this depth (in_c * k * k; a first layer on 1-3 input channels has 9-27) the
 * lowered GEMMs are too small for sgemm, which packs both operands for a few
 * multiply-adds per output; gemm.c's
 * kernels read the weights, column matrix and output gradient in place: the forward
 * with its register tile, the weight gradient (few outputs, long sums) as dot products
 * when each thread already has its own chunk. */
#define TILED_MAX_DEPTH 32

/* y = W col + bias: W is (out_c, rows), col (rows, cols); bias may be NULL */
static void lowered_product(const conv_plan *p, int out_c, int cols, int rows,
                            const float *weight, const float *col, const float *bias, float *y,
                            float *pack)
{
    if (rows <= TILED_MAX_DEPTH) {
        /* the tile adds the bias as it stores: filling y with it first would
         * be a pass of its own and make every store a read-modify-write */
        /* inside the chunks' team a nested team would oversubscribe the cores */
        if (omp_in_parallel_safe())
            nl_cpu_gemm_nn_serial(out_c, cols, rows, weight, rows, col, cols, bias, y, cols,
                                  false);
        else
            nl_cpu_gemm_nn(out_c, cols, rows, weight, rows, col, cols, bias, y, cols, false);
        return;
    }
    if (bias) /* sgemm adds the product to the bias in its own pass */
        for (int co = 0; co < out_c; co++)
            for (int q = 0; q < cols; q++)
                y[(size_t)co * cols + q] = bias[co];
    plan_gemm(p, false, false, out_c, cols, rows, weight, rows, col, cols, bias ? 1.0f : 0.0f, y,
              cols, pack);
}

/* forward of samples [i0, i0 + m) */
static void forward_chunk(const nl_conv_geom *g, const conv_plan *p, int i0, int m,
                          const float *x, const float *weight, const float *bias, float *y,
                          float *col, float *out)
{
    const size_t in_stride = (size_t)g->in_c * g->in_h * g->in_w;
    const size_t ld = (size_t)m * p->pixels;
    float *pack = pack_of(p, col);
    if (m == 1) {
        /* straight into y */
        float *yi = y + (size_t)i0 * g->out_c * p->pixels;
        const float *b_matrix = x + (size_t)i0 * in_stride;
        if (!is_pointwise(g)) {
            im2col(g, b_matrix, col, ld);
            b_matrix = col;
        }
        lowered_product(p, g->out_c, p->pixels, p->rows, weight, b_matrix, bias, yi, pack);
        return;
    }
    for (int j = 0; j < m; j++)
        im2col(g, x + (size_t)(i0 + j) * in_stride, col + (size_t)j * p->pixels, ld);
    lowered_product(p, g->out_c, (int)ld, p->rows, weight, col, NULL, out, pack);
    /* (out_c, m*pixels) -> m samples of (out_c, pixels), adding the bias */
    for (int j = 0; j < m; j++) {
        float *yi = y + (size_t)(i0 + j) * g->out_c * p->pixels;
        for (int co = 0; co < g->out_c; co++) {
            const float *src = out + (size_t)co * ld + (size_t)j * p->pixels;
            float *dst = yi + (size_t)co * p->pixels;
            const float b = bias ? bias[co] : 0.0f;
            #pragma omp simd
            for (int q = 0; q < p->pixels; q++)
                dst[q] = src[q] + b;
        }
    }
}

static void lowered_forward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                            const float *weight, const float *bias, float *y, void *workspace);

void nl_cpu_conv2d_forward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                           const float *weight, const float *bias, float *y, void *workspace,
                           size_t workspace_bytes)
{
    if (winograd_blocked_for(be, g) && workspace_bytes >= winograd_blocked_workspace(be, g)) {
        if (g->algorithm == NL_CONV_WINOGRAD_F43)
            nl_cpu_winograd_blocked_f43_forward(g, n, x, weight, bias, y, be->threads, workspace);
        else
            nl_cpu_winograd_blocked_forward(g, n, x, weight, bias, y, be->threads, workspace);
        return;
    }
    if (nl_cpu_onednn_chosen(be, g) &&
        nl_cpu_onednn_conv_forward(be, g, n, x, weight, bias, y, workspace, workspace_bytes))
        return;
    if (blocked(g)) {
        /* 16-bit storage holds half the bytes: its words in pairs, NaN either way */
        const size_t values = (size_t)n * g->out_c * g->out_h * g->out_w;
        blocked_refused(be, y, values * nl_storage_bytes(g->io[NL_IO_Y]) / sizeof(float));
        return;
    }
    if (winograd_for(be, g)) {
        nl_cpu_winograd_forward(g, n, x, weight, bias, y, be->threads, workspace);
        return;
    }
    if (!nl_cpu_lowp(be->product_precision)) {
        lowered_forward(be, g, n, x, weight, bias, y, workspace);
        return;
    }
    const nl_precision precision = be->product_precision;
    lowp_parts r;
    lowp_layout(g, n, workspace, &r);
    nl_cpu_round_parallel(precision, x, r.x, (size_t)n * g->in_c * g->in_h * g->in_w);
    nl_cpu_round_parallel(precision, weight, r.weight,
                          (size_t)g->out_c * g->in_c * g->kernel * g->kernel);
    if (bias)
        nl_cpu_round(precision, bias, r.bias, (size_t)g->out_c);
    lowered_forward(be, g, n, r.x, r.weight, bias ? r.bias : NULL, y, r.lowering);
    nl_cpu_round_parallel(precision, y, y, (size_t)n * g->out_c * g->out_h * g->out_w);
}

static void lowered_forward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                            const float *weight, const float *bias, float *y, void *workspace)
{
    const conv_plan p = plan_of(g, n, be->threads, be->product_precision);
    const int chunks = (n + p.k - 1) / p.k;
    float *ws = workspace;
    #pragma omp parallel num_threads(be->threads) if (chunks > 1)
    {
        float *col = ws + p.per_thread * (size_t)omp_get_thread_num_safe();
        float *out = col + p.cols;
        #pragma omp for schedule(static)
        for (int ch = 0; ch < chunks; ch++) {
            const int i0 = ch * p.k, m = n - i0 < p.k ? n - i0 : p.k;
            forward_chunk(g, &p, i0, m, x, weight, bias, y, col, out);
        }
    }
}

/* backward of samples [i0, i0 + m): dW (+)= dY col^T, dbias (+)= row sums,
 * dcol = W^T dY, dx (+)= col2im(dcol) */
static void backward_chunk(const nl_conv_geom *g, const conv_plan *p, int i0, int m,
                           const float *x, const float *weight, const float *dy, float *dx,
                           bool accumulate_dx, float *dw, float *db, float *col, float *dcol,
                           float *dy_cat, bool first)
{
    const size_t in_stride = (size_t)g->in_c * g->in_h * g->in_w;
    const size_t out_stride = (size_t)g->out_c * p->pixels;
    const size_t ld = (size_t)m * p->pixels;
    float *pack = pack_of(p, col); /* before col may point into x below */
    if (m == 1) {
        /* one sample: its dy is already laid out as the chunk's, and a 1x1
         * convolution's input is its own column matrix */
        dy_cat = (float *)dy + (size_t)i0 * out_stride;
        if (is_pointwise(g))
            col = (float *)x + (size_t)i0 * in_stride;
        else
            im2col(g, x + (size_t)i0 * in_stride, col, ld);
    } else {
        for (int j = 0; j < m; j++) {
            im2col(g, x + (size_t)(i0 + j) * in_stride, col + (size_t)j * p->pixels, ld);
            const float *dyi = dy + (size_t)(i0 + j) * out_stride;
            for (int co = 0; co < g->out_c; co++)
                memcpy(dy_cat + (size_t)co * ld + (size_t)j * p->pixels,
                       dyi + (size_t)co * p->pixels, (size_t)p->pixels * sizeof *dy_cat);
        }
    }
    if (p->rows <= TILED_MAX_DEPTH && omp_in_parallel_safe())
        nl_cpu_gemm_nt_serial(g->out_c, p->rows, (int)ld, dy_cat, (int)ld, col, (int)ld, dw,
                              p->rows, !first);
    else
        plan_gemm(p, false, true, g->out_c, p->rows, (int)ld, dy_cat, (int)ld, col, (int)ld,
                  first ? 0.0f : 1.0f, dw, p->rows, pack);
    if (db) {
        for (int co = 0; co < g->out_c; co++) {
            const float *r = dy_cat + (size_t)co * ld;
            float s = 0.0f;
            #pragma omp simd reduction(+ : s)
            for (size_t q = 0; q < ld; q++)
                s += r[q];
            db[co] = first ? s : db[co] + s;
        }
    }
    if (!dx)
        return;
    if (m == 1 && is_pointwise(g)) {
        plan_gemm(p, true, false, p->rows, (int)ld, g->out_c, weight, p->rows, dy_cat, (int)ld,
                  accumulate_dx ? 1.0f : 0.0f, dx + (size_t)i0 * in_stride, (int)ld, pack);
        return;
    }
    plan_gemm(p, true, false, p->rows, (int)ld, g->out_c, weight, p->rows, dy_cat, (int)ld, 0.0f,
              dcol, (int)ld, pack);
    for (int j = 0; j < m; j++) {
        float *dxi = dx + (size_t)(i0 + j) * in_stride;
        if (!accumulate_dx)
            memset(dxi, 0, in_stride * sizeof *dxi);
        col2im_add(g, dcol + (size_t)j * p->pixels, ld, dxi);
    }
}

static void lowered_backward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                             const float *weight, const float *dy, float *dx, bool accumulate_dx,
                             float *dweight, float *dbias, void *workspace);

void nl_cpu_conv2d_backward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                            const float *weight, const float *dy, float *dx, bool accumulate_dx,
                            float *dweight, float *dbias, void *workspace, size_t workspace_bytes)
{
    if (winograd_blocked_for(be, g) && workspace_bytes >= winograd_blocked_workspace(be, g)) {
        nl_cpu_winograd_blocked_weight_grad(g, n, x, dy, dweight, dbias, be->threads, workspace);
        if (dx && g->algorithm == NL_CONV_WINOGRAD_F43)
            nl_cpu_winograd_blocked_f43_input_grad(g, n, weight, dy, dx, accumulate_dx,
                                                   be->threads, workspace);
        else if (dx)
            nl_cpu_winograd_blocked_input_grad(g, n, weight, dy, dx, accumulate_dx, be->threads,
                                               workspace);
        return;
    }
    if (nl_cpu_onednn_chosen(be, g) &&
        nl_cpu_onednn_conv_backward(be, g, n, x, weight, dy, dx, accumulate_dx, dweight, dbias,
                                    workspace, workspace_bytes))
        return;
    if (blocked(g)) {
        blocked_refused(be, dweight, (size_t)g->out_c * g->in_c * g->kernel * g->kernel);
        return;
    }
    if (winograd_for(be, g)) {
        nl_cpu_winograd_weight_grad(g, n, x, dy, dweight, dbias, be->threads, workspace);
        if (dx)
            nl_cpu_winograd_input_grad(g, n, weight, dy, dx, accumulate_dx, be->threads,
                                       workspace);
        return;
    }
    if (!nl_cpu_lowp(be->product_precision)) {
        lowered_backward(be, g, n, x, weight, dy, dx, accumulate_dx, dweight, dbias, workspace);
        return;
    }
    const nl_precision precision = be->product_precision;
    const size_t in_count = (size_t)n * g->in_c * g->in_h * g->in_w;
    const size_t w_count = (size_t)g->out_c * g->in_c * g->kernel * g->kernel;
    lowp_parts r;
    lowp_layout(g, n, workspace, &r);
    nl_cpu_round_parallel(precision, x, r.x, in_count);
    nl_cpu_round_parallel(precision, weight, r.weight, w_count);
    nl_cpu_round_parallel(precision, dy, r.dy, (size_t)n * g->out_c * g->out_h * g->out_w);
    float *product = dx && accumulate_dx ? r.dx : dx;
    lowered_backward(be, g, n, r.x, r.weight, r.dy, product, false, dweight, dbias, r.lowering);
    if (dx && accumulate_dx)
        nl_cpu_round_add(precision, product, dx, in_count);
    else if (dx)
        nl_cpu_round_parallel(precision, dx, dx, in_count);
    nl_cpu_round_parallel(precision, dweight, dweight, w_count);
    if (dbias)
        nl_cpu_round(precision, dbias, dbias, (size_t)g->out_c);
}

static void lowered_backward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                             const float *weight, const float *dy, float *dx, bool accumulate_dx,
                             float *dweight, float *dbias, void *workspace)
{
    const conv_plan p = plan_of(g, n, be->threads, be->product_precision);
    const int chunks = (n + p.k - 1) / p.k;
    float *ws = workspace;
    if (chunks == 1) {
        /* one chunk: straight into the gradients, the GEMMs use every thread */
        float *col = ws, *dcol = col + p.cols, *dy_cat = dcol + p.scratch;
        backward_chunk(g, &p, 0, n, x, weight, dy, dx, accumulate_dx, dweight, dbias, col, dcol,
                       dy_cat, true);
        return;
    }
    const size_t dw_offset = p.cols + p.scratch + p.out;
    #pragma omp parallel num_threads(be->threads)
    {
        const int t = omp_get_thread_num_safe();
        /* the team may be smaller than asked (nested regions): sum what ran */
        const int threads = omp_get_num_threads_safe();
        float *col = ws + p.per_thread * (size_t)t, *dcol = col + p.cols;
        float *dy_cat = dcol + p.scratch, *dw = col + dw_offset;
        float *db = dbias ? dw + p.dw : NULL;
        bool first = true;
        #pragma omp for schedule(static)
        for (int ch = 0; ch < chunks; ch++) {
            const int i0 = ch * p.k, m = n - i0 < p.k ? n - i0 : p.k;
            backward_chunk(g, &p, i0, m, x, weight, dy, dx, accumulate_dx, dw, db, col, dcol,
                           dy_cat, first);
            first = false;
        }
        if (first) { /* a thread without chunks contributes zeros */
            memset(dw, 0, (size_t)g->out_c * p.rows * sizeof *dw);
            if (db)
                memset(db, 0, (size_t)g->out_c * sizeof *db);
        }
        #pragma omp barrier
        /* sum the partials in thread order, split over the weight elements */
        const size_t dw_count = (size_t)g->out_c * p.rows;
        #pragma omp for schedule(static)
        for (size_t e = 0; e < dw_count; e++) {
            float s = 0.0f;
            for (int u = 0; u < threads; u++)
                s += ws[p.per_thread * (size_t)u + dw_offset + e];
            dweight[e] = s;
        }
        if (dbias) {
            #pragma omp for schedule(static)
            for (int co = 0; co < g->out_c; co++) {
                float s = 0.0f;
                for (int u = 0; u < threads; u++)
                    s += ws[p.per_thread * (size_t)u + dw_offset + p.dw + co];
                dbias[co] = s;
            }
        }
    }
}
