/* 2-D convolution on the CPU: im2col + sgemm, one sample per thread.
 *
 * Each thread lowers its samples into its own column buffer and calls a
 * single-threaded sgemm (the OpenMP OpenBLAS runs serially inside a parallel
 * region), which keeps both cores busy even at batch 2 where one sample's
 * GEMM is too small to split. Weight gradients are summed per thread and the
 * per-thread sums are added in thread order, so a given thread count always
 * gives the same bits. With fewer samples than threads the samples run one
 * after another with a threaded sgemm instead.
 *
 * Workspace per thread: column buffer, column-gradient buffer, weight and
 * bias gradient partials. */
#include <cblas.h>
#include <string.h>

#include "cpu/cpu.h"

typedef struct {
    size_t col_floats;  /* in_c*k*k * out_h*out_w */
    size_t dw_floats;   /* out_c * in_c*k*k */
    size_t per_thread;  /* floats */
} conv_layout;

static conv_layout layout_of(const nl_conv_geom *g)
{
    conv_layout l;
    const size_t rows = (size_t)g->in_c * g->kernel * g->kernel;
    l.col_floats = rows * g->out_h * g->out_w;
    l.dw_floats = (size_t)g->out_c * rows;
    /* col + dcol + dW + dbias, each rounded to a cache line */
    size_t round = 16;
    l.per_thread = ((l.col_floats + round - 1) / round) * round * 2 +
                   ((l.dw_floats + round - 1) / round) * round +
                   (((size_t)g->out_c + round - 1) / round) * round;
    return l;
}

size_t nl_cpu_conv2d_workspace(nl_backend *be, const nl_conv_geom *g, int n)
{
    (void)n;
    return layout_of(g).per_thread * sizeof(float) * (size_t)be->threads;
}

/* Input column range [lo, hi) of output positions whose input x index
 * ow*stride - pad + kw lies inside [0, width): everything else reads padding. */
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

static void im2col(const nl_conv_geom *g, const float *x, float *col)
{
    const int k = g->kernel, s = g->stride, p = g->pad;
    const int oh_n = g->out_h, ow_n = g->out_w, ih_n = g->in_h, iw_n = g->in_w;
    for (int c = 0; c < g->in_c; c++) {
        const float *xc = x + (size_t)c * ih_n * iw_n;
        for (int kh = 0; kh < k; kh++) {
            for (int kw = 0; kw < k; kw++) {
                float *dst = col + ((size_t)(c * k + kh) * k + kw) * oh_n * ow_n;
                int lo, hi;
                valid_range(ow_n, iw_n, s, p, kw, &lo, &hi);
                for (int oh = 0; oh < oh_n; oh++) {
                    const int ih = oh * s - p + kh;
                    float *row = dst + (size_t)oh * ow_n;
                    if (ih < 0 || ih >= ih_n) {
                        memset(row, 0, (size_t)ow_n * sizeof *row);
                        continue;
                    }
                    /* xr[j] is the input under output column lo + j */
                    const float *xr = xc + (size_t)ih * iw_n + (lo * s + kw - p);
                    for (int ow = 0; ow < lo; ow++)
                        row[ow] = 0.0f;
                    if (s == 1) {
                        memcpy(row + lo, xr, (size_t)(hi - lo) * sizeof *row);
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

/* adds the column gradients back onto the input positions they came from */
static void col2im_add(const nl_conv_geom *g, const float *col, float *dx)
{
    const int k = g->kernel, s = g->stride, p = g->pad;
    const int oh_n = g->out_h, ow_n = g->out_w, ih_n = g->in_h, iw_n = g->in_w;
    for (int c = 0; c < g->in_c; c++) {
        float *dxc = dx + (size_t)c * ih_n * iw_n;
        for (int kh = 0; kh < k; kh++) {
            for (int kw = 0; kw < k; kw++) {
                const float *src = col + ((size_t)(c * k + kh) * k + kw) * oh_n * ow_n;
                int lo, hi;
                valid_range(ow_n, iw_n, s, p, kw, &lo, &hi);
                for (int oh = 0; oh < oh_n; oh++) {
                    const int ih = oh * s - p + kh;
                    if (ih < 0 || ih >= ih_n)
                        continue;
                    const float *row = src + (size_t)oh * ow_n;
                    float *dxr = dxc + (size_t)ih * iw_n + (lo * s + kw - p);
                    const float *rr = row + lo;
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

static void forward_sample(const nl_conv_geom *g, const float *x, const float *weight,
                           const float *bias, float *y, float *col)
{
    const int rows = g->in_c * g->kernel * g->kernel;
    const int pixels = g->out_h * g->out_w;
    float beta = 0.0f;
    if (bias) {
        for (int co = 0; co < g->out_c; co++) {
            float *yc = y + (size_t)co * pixels;
            for (int q = 0; q < pixels; q++)
                yc[q] = bias[co];
        }
        beta = 1.0f;
    }
    const bool pointwise = g->kernel == 1 && g->stride == 1 && g->pad == 0;
    const float *b_matrix = x;
    if (!pointwise) {
        im2col(g, x, col);
        b_matrix = col;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->out_c, pixels, rows, 1.0f, weight,
                rows, b_matrix, pixels, beta, y, pixels);
}

void nl_cpu_conv2d_forward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                           const float *weight, const float *bias, float *y, void *workspace)
{
    const conv_layout l = layout_of(g);
    const size_t in_stride = (size_t)g->in_c * g->in_h * g->in_w;
    const size_t out_stride = (size_t)g->out_c * g->out_h * g->out_w;
    float *ws = workspace;
    if (n < be->threads) {
        for (int i = 0; i < n; i++)
            forward_sample(g, x + i * in_stride, weight, bias, y + i * out_stride, ws);
        return;
    }
    #pragma omp parallel num_threads(be->threads)
    {
        float *col = ws + l.per_thread * (size_t)omp_get_thread_num_safe();
        #pragma omp for schedule(static)
        for (int i = 0; i < n; i++)
            forward_sample(g, x + i * in_stride, weight, bias, y + i * out_stride, col);
    }
}

/* dW += dy_i col_i^T; dcol = W^T dy_i; dx_i (+)= col2im(dcol) */
static void backward_sample(const nl_conv_geom *g, const float *x, const float *weight,
                            const float *dy, float *dx, bool accumulate_dx, float *dw_acc,
                            float *db_acc, float *col, float *dcol, bool first)
{
    const int rows = g->in_c * g->kernel * g->kernel;
    const int pixels = g->out_h * g->out_w;
    const bool pointwise = g->kernel == 1 && g->stride == 1 && g->pad == 0;
    const float *b_matrix = x;
    if (!pointwise) {
        im2col(g, x, col);
        b_matrix = col;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->out_c, rows, pixels, 1.0f, dy, pixels,
                b_matrix, pixels, first ? 0.0f : 1.0f, dw_acc, rows);
    if (db_acc) {
        for (int co = 0; co < g->out_c; co++) {
            const float *dyc = dy + (size_t)co * pixels;
            float s = 0.0f;
            for (int q = 0; q < pixels; q++)
                s += dyc[q];
            db_acc[co] = first ? s : db_acc[co] + s;
        }
    }
    if (!dx)
        return;
    const size_t in_count = (size_t)g->in_c * g->in_h * g->in_w;
    if (pointwise) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, pixels, g->out_c, 1.0f, weight,
                    rows, dy, pixels, accumulate_dx ? 1.0f : 0.0f, dx, pixels);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, pixels, g->out_c, 1.0f, weight,
                rows, dy, pixels, 0.0f, dcol, pixels);
    if (!accumulate_dx)
        memset(dx, 0, in_count * sizeof *dx);
    col2im_add(g, dcol, dx);
}

void nl_cpu_conv2d_backward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                            const float *weight, const float *dy, float *dx, bool accumulate_dx,
                            float *dweight, float *dbias, void *workspace)
{
    const conv_layout l = layout_of(g);
    const size_t in_stride = (size_t)g->in_c * g->in_h * g->in_w;
    const size_t out_stride = (size_t)g->out_c * g->out_h * g->out_w;
    const size_t round = 16;
    const size_t col_span = ((l.col_floats + round - 1) / round) * round;
    const size_t dw_span = ((l.dw_floats + round - 1) / round) * round;
    float *ws = workspace;
    if (n < be->threads) {
        float *col = ws, *dcol = ws + col_span;
        for (int i = 0; i < n; i++)
            backward_sample(g, x + i * in_stride, weight, dy + i * out_stride,
                            dx ? dx + i * in_stride : NULL, accumulate_dx, dweight, dbias, col,
                            dcol, i == 0);
        return;
    }
    #pragma omp parallel num_threads(be->threads)
    {
        const int t = omp_get_thread_num_safe();
        /* the team may be smaller than asked (nested regions): sum what ran */
        const int threads = omp_get_num_threads_safe();
        float *base = ws + l.per_thread * (size_t)t;
        float *col = base, *dcol = base + col_span, *dw = base + 2 * col_span;
        float *db = dbias ? dw + dw_span : NULL;
        bool first = true;
        #pragma omp for schedule(static)
        for (int i = 0; i < n; i++) {
            backward_sample(g, x + i * in_stride, weight, dy + i * out_stride,
                            dx ? dx + i * in_stride : NULL, accumulate_dx, dw, db, col, dcol,
                            first);
            first = false;
        }
        if (first) { /* a thread without samples contributes zeros */
            memset(dw, 0, l.dw_floats * sizeof *dw);
            if (db)
                memset(db, 0, (size_t)g->out_c * sizeof *db);
        }
        #pragma omp barrier
        /* sum the partials in thread order, split over the weight elements */
        #pragma omp for schedule(static)
        for (size_t e = 0; e < l.dw_floats; e++) {
            float s = 0.0f;
            for (int u = 0; u < threads; u++)
                s += ws[l.per_thread * (size_t)u + 2 * col_span + e];
            dweight[e] = s;
        }
        if (dbias) {
            #pragma omp for schedule(static)
            for (int co = 0; co < g->out_c; co++) {
                float s = 0.0f;
                for (int u = 0; u < threads; u++)
                    s += ws[l.per_thread * (size_t)u + 2 * col_span + dw_span + co];
                dbias[co] = s;
            }
        }
    }
}
