/* 2-D convolution: im2col + cuBLAS SGEMM, a chunk of samples at a time.
 *
 * Layouts (row-major): for a chunk of b samples, col is (R, b*P) with
 * R = in_c*k*k and P = out_h*out_w, column i*P + p holding sample i's
 * patch at output position p. The workspace holds col and dyT (out_c, b*P),
 * the output gradient of the chunk regrouped the same way; the chunk is as
 * many samples as fit in NL_CONV_WS_FLOATS (at least one), so the workspace
 * does not grow with the batch.
 * - forward: y_i = W col_i for every sample of the chunk in one strided
 *   batched GEMM (cuBLAS, column-major: y_i^T = col_i^T W^T, col_i^T being
 *   col + i*P with leading dimension b*P); 1x1/stride 1/no padding reads x
 *   directly. A bias is broadcast into y first and added by beta = 1.
 * - backward: dW (+)= dyT col^T, one GEMM per chunk with K = b*P (beta = 0
 *   for the first chunk, 1 after: the chunk order is fixed); dcol = W^T dyT
 *   overwrites col; col2im gathers dcol into dx.
 * im2col and the dy regrouping are one thread per written element. col2im
 * is one thread per input element that adds, in (kh, kw) order, the column
 * entries that came from it (a gather, no atomics), starting from dx when
 * accumulating, the order the CPU backend adds them in. The bias gradient is
 * a block per output channel adding its N*P values in double in a fixed
 * order. cuBLAS runs FP32 without atomics (deterministic); its summation
 * order differs from OpenBLAS (parity tolerance 1e-4).
 *
 * Under a low be->product_precision (autocast) the same GEMMs run on
 * 16-bit operands (cublasGemmEx, fp32 accumulation): im2col and the dy
 * regrouping write bf16/fp16 (always through im2col, no pointwise
 * shortcut), W is converted once into a copy after dyT, the bias is
 * rounded, y, dW (once, after the chunks' fp32 sum) and db are rounded,
 * and col2im sums dcol in fp32 and adds the rounded sum to dx. dcol stays
 * fp32 in the col region, whose 16-bit col the dW GEMM has read by then. */
#include "cuda/lowp.cuh"
#include "cuda/norm_common.cuh"

using namespace nlk;

static const long long NL_CONV_WS_FLOATS = 1LL << 25; /* 128 MiB per chunk, at least a sample */

typedef struct {
    long long R, P, chunk;
    size_t col_floats;            /* rounded to 64 floats */
    size_t in_stride, out_stride; /* x's and y's floats per sample */
} conv_layout;

static conv_layout layout_of(const nl_conv_geom *g, int n)
{
    conv_layout l;
    l.R = (long long)g->in_c * g->kernel * g->kernel;
    l.P = (long long)g->out_h * g->out_w;
    const long long per_sample = (l.R + g->out_c) * l.P;
    long long chunk = per_sample > 0 ? NL_CONV_WS_FLOATS / per_sample : 1;
    if (chunk < 1)
        chunk = 1;
    if (chunk > n)
        chunk = n > 0 ? n : 1;
    l.chunk = chunk;
    l.col_floats = (size_t)((chunk * l.R * l.P + 63) / 64 * 64);
    l.in_stride = (size_t)g->in_c * g->in_h * g->in_w;
    l.out_stride = (size_t)g->out_c * l.P;
    return l;
}

/* the 16-bit copy of W, after col and dyT (low precisions only) */
static size_t dyT_end_bytes(const nl_conv_geom *g, const conv_layout &l)
{
    return (l.col_floats + (size_t)(l.chunk * g->out_c * l.P)) * sizeof(float);
}

size_t nl_cuda_conv2d_workspace(nl_backend *be, const nl_conv_geom *g, int n)
{
    const conv_layout l = layout_of(g, n);
    return dyT_end_bytes(g, l) +
           nl_cuda_lowp_bytes(be->product_precision, (size_t)g->out_c * l.R);
}

/* the CUDA kernels read NCHW alone (the channel block is the CPU's: nl_device_caps) */
int nl_cuda_conv_block(nl_backend *be)
{
    (void)be;
    return 0;
}

/* a value stored as the GEMM's operand type */
__device__ __forceinline__ void store_as(float *p, size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store_as(__nv_bfloat16 *p, size_t i, float v)
{
    p[i] = __float2bfloat16(v);
}
__device__ __forceinline__ void store_as(__half *p, size_t i, float v) { p[i] = __float2half(v); }

struct ConvDims {
    int in_c, in_h, in_w, out_c, out_h, out_w, k, s, pad;
};

static ConvDims dims_of(const nl_conv_geom *g)
{
    ConvDims d = {g->in_c, g->in_h, g->in_w, g->out_c, g->out_h, g->out_w,
                  g->kernel, g->stride, g->pad};
    return d;
}

/* col[r][i*P + p] = x_i[c][oh*s - pad + kh][ow*s - pad + kw] (0 outside) */
template <class Out>
__global__ void __launch_bounds__(256)
    im2col_kernel(ConvDims d, int b, const float *__restrict__ x, Out *__restrict__ col)
{
    const int kk = d.k * d.k;
    const int R = d.in_c * kk, P = d.out_h * d.out_w;
    const long long K = (long long)b * P;
    const size_t in_stride = (size_t)d.in_c * d.in_h * d.in_w;
    for (int r = blockIdx.y; r < R; r += gridDim.y) {
        const int c = r / kk, kh = (r / d.k) % d.k, kw = r % d.k;
        Out *dst = col + (size_t)r * K;
        for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < K;
             e += (long long)gridDim.x * blockDim.x) {
            const int i = (int)(e / P), p = (int)(e - (long long)i * P);
            const int oh = p / d.out_w, ow = p - oh * d.out_w;
            const int ih = oh * d.s - d.pad + kh, iw = ow * d.s - d.pad + kw;
            float v = 0.0f;
            if (ih >= 0 && ih < d.in_h && iw >= 0 && iw < d.in_w)
                v = __ldg(x + i * in_stride + ((size_t)c * d.in_h + ih) * d.in_w + iw);
            store_as(dst, (size_t)e, v);
        }
    }
}

/* dyT[co][i*P + p] = dy[i][co][p] */
template <class Out>
__global__ void __launch_bounds__(256)
    regroup_kernel(int b, int out_c, int P, const float *__restrict__ dy, Out *__restrict__ dyT)
{
    const long long K = (long long)b * P;
    for (int i = blockIdx.z; i < b; i += gridDim.z)
        for (int co = blockIdx.y; co < out_c; co += gridDim.y)
            for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < P; p += gridDim.x * blockDim.x)
                store_as(dyT, (size_t)co * K + (size_t)i * P + p,
                         __ldg(dy + ((size_t)i * out_c + co) * P + p));
}

/* along one axis: the output whose kernel tap `tap` reads input `in`, or -1
 * where none does (between strides, or past either edge) */
__device__ __forceinline__ int tap_output(int in, int tap, int pad, int s, int outs)
{
    const int t = in + pad - tap;
    if (t < 0 || t % s != 0)
        return -1;
    const int o = t / s;
    return o < outs ? o : -1;
}

/* dx_i[c][ih][iw] (+)= sum over (kh, kw) of the dcol entries taken from it
 * (under a low PREC: the sum from 0, rounded, then added) */
template <int PREC>
__global__ void __launch_bounds__(256)
    col2im_kernel(ConvDims d, int b, const float *__restrict__ dcol, float *dx, int accumulate)
{
    const int P = d.out_h * d.out_w;
    const long long K = (long long)b * P;
    const long long total = (long long)b * d.in_c * d.in_h * d.in_w;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int iw = (int)(e % d.in_w);
        long long t = e / d.in_w;
        const int ih = (int)(t % d.in_h);
        t /= d.in_h;
        const int c = (int)(t % d.in_c);
        const int i = (int)(t / d.in_c);
        float acc = accumulate && PREC == NL_PRECISION_FP32 ? dx[e] : 0.0f;
        for (int kh = 0; kh < d.k; kh++) {
            const int oh = tap_output(ih, kh, d.pad, d.s, d.out_h);
            if (oh < 0)
                continue;
            for (int kw = 0; kw < d.k; kw++) {
                const int ow = tap_output(iw, kw, d.pad, d.s, d.out_w);
                if (ow < 0)
                    continue;
                const size_t r = ((size_t)c * d.k + kh) * d.k + kw;
                acc += __ldg(dcol + r * K + (size_t)i * P + (size_t)oh * d.out_w + ow);
            }
        }
        if (PREC == NL_PRECISION_FP32)
            dx[e] = acc;
        else
            dx[e] = accumulate ? dx[e] + nl_lowp_round<PREC>(acc) : nl_lowp_round<PREC>(acc);
    }
}

/* y[i][co][p] = bias[co] (rounded to PREC) */
template <int PREC>
__global__ void __launch_bounds__(256)
    bias_planes_kernel(int b, int out_c, int P, const float *__restrict__ bias, float *y)
{
    for (int i = blockIdx.z; i < b; i += gridDim.z)
        for (int co = blockIdx.y; co < out_c; co += gridDim.y) {
            const float v = nl_lowp_round<PREC>(bias[co]);
            for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < P; p += gridDim.x * blockDim.x)
                y[((size_t)i * out_c + co) * P + p] = v;
        }
}

/* dbias[co] = sum over samples and positions of dy[i][co][p] (under a low
 * PREC of dy rounded, the sum rounded) */
template <int PREC>
__global__ void __launch_bounds__(256)
    conv_bias_grad_kernel(int n, int out_c, int P, const float *__restrict__ dy, float *dbias)
{
    const int co = blockIdx.x;
    const long long L = (long long)n * P;
    const int T = blockDim.x, di = T / P, dp = T % P;
    long long j = threadIdx.x;
    int i = (int)(j / P), p = (int)(j - (long long)i * P);
    double s = 0.0, unused = 0.0;
#pragma unroll 4
    for (; j < L; j += T) {
        s += (double)nl_lowp_round<PREC>(__ldg(dy + ((size_t)i * out_c + co) * P + p));
        p += dp;
        i += di;
        if (p >= P) {
            p -= P;
            i++;
        }
    }
    block_sum2(s, unused);
    if (threadIdx.x == 0)
        dbias[co] = nl_lowp_round<PREC>((float)s);
}

static dim3 planes_grid(long long P, int rows, int samples)
{
    long long gx = (P + 255) / 256;
    return dim3((unsigned)(gx > 65535 ? 65535 : gx), (unsigned)(rows < 65535 ? rows : 65535),
                (unsigned)(samples < 65535 ? samples : 65535));
}

template <class Out>
static void im2col(nl_cuda *cu, const ConvDims &d, const conv_layout &l, int b, const float *x,
                   Out *col)
{
    const long long K = (long long)b * l.P;
    long long gx = (K + 255) / 256;
    if (gx > 4096)
        gx = 4096;
    const unsigned gy = (unsigned)(l.R < 65535 ? l.R : 65535);
    im2col_kernel<Out><<<dim3((unsigned)gx, gy), 256, 0, cu->stream>>>(d, b, x, col);
    NL_CU_LAUNCHED(cu, "im2col_kernel");
}

/* b samples of dy regrouped into dyT (regroup_kernel) */
template <class Out>
static void regroup(nl_cuda *cu, const conv_layout &l, int out_c, int b, const float *dy, Out *dyT)
{
    regroup_kernel<Out><<<planes_grid(l.P, out_c, b), 256, 0, cu->stream>>>(b, out_c, (int)l.P,
                                                                            dy, dyT);
    NL_CU_LAUNCHED(cu, "regroup_kernel");
}

/* b samples of y set to the bias (bias_planes_kernel), which the product
 * then adds to */
template <int PREC>
static void bias_planes(nl_cuda *cu, const conv_layout &l, int out_c, int b, const float *bias,
                        float *y)
{
    bias_planes_kernel<PREC><<<planes_grid(l.P, out_c, b), 256, 0, cu->stream>>>(b, out_c,
                                                                                (int)l.P, bias, y);
    NL_CU_LAUNCHED(cu, "bias_planes_kernel");
}

/* ---- low precision: the same GEMMs on 16-bit operands ---- */

template <int PREC, class Half>
static void conv2d_forward_lowp(nl_cuda *cu, const nl_conv_geom *g, int n, const float *x,
                                const float *weight, const float *bias, float *y, void *workspace)
{
    const nl_precision p = (nl_precision)PREC;
    const conv_layout l = layout_of(g, n);
    const ConvDims d = dims_of(g);
    Half *col = (Half *)workspace;
    void *w16 = (char *)workspace + dyT_end_bytes(g, l);
    nl_cuda_lowp_convert(cu, p, (size_t)g->out_c * l.R, weight, w16);
    for (int i0 = 0; i0 < n; i0 += (int)l.chunk) {
        const int b = (int)(n - i0 < l.chunk ? n - i0 : l.chunk);
        float *yc = y + (size_t)i0 * l.out_stride;
        if (bias)
            bias_planes<PREC>(cu, l, g->out_c, b, bias, yc);
        im2col(cu, d, l, b, x + (size_t)i0 * l.in_stride, col);
        nl_cuda_lowp_gemm(cu, p, CUBLAS_OP_N, CUBLAS_OP_N, (int)l.P, g->out_c, (int)l.R, col,
                          (int)(b * l.P), l.P, w16, (int)l.R, 0, bias ? 1.0f : 0.0f, yc,
                          (int)l.P, (long long)l.out_stride, b);
        nl_cuda_lowp_round(cu, p, (size_t)b * l.out_stride, yc);
    }
}

template <int PREC, class Half>
static void conv2d_backward_lowp(nl_cuda *cu, const nl_conv_geom *g, int n, const float *x,
                                 const float *weight, const float *dy, float *dx,
                                 bool accumulate_dx, float *dweight, float *dbias, void *workspace)
{
    const nl_precision p = (nl_precision)PREC;
    const conv_layout l = layout_of(g, n);
    const ConvDims d = dims_of(g);
    Half *col = (Half *)workspace;
    float *dcol = (float *)workspace; /* after the dW GEMM has read col */
    Half *dyT = (Half *)((float *)workspace + l.col_floats);
    void *w16 = (char *)workspace + dyT_end_bytes(g, l);
    if (dx)
        nl_cuda_lowp_convert(cu, p, (size_t)g->out_c * l.R, weight, w16);
    for (int i0 = 0; i0 < n; i0 += (int)l.chunk) {
        const int b = (int)(n - i0 < l.chunk ? n - i0 : l.chunk);
        const int K = (int)((long long)b * l.P);
        im2col(cu, d, l, b, x + (size_t)i0 * l.in_stride, col);
        regroup(cu, l, g->out_c, b, dy + (size_t)i0 * l.out_stride, dyT);
        nl_cuda_lowp_gemm(cu, p, CUBLAS_OP_T, CUBLAS_OP_N, (int)l.R, g->out_c, K, col, K, 0, dyT,
                          K, 0, i0 == 0 ? 0.0f : 1.0f, dweight, (int)l.R, 0, 1);
        if (!dx)
            continue;
        nl_cuda_lowp_gemm(cu, p, CUBLAS_OP_N, CUBLAS_OP_T, K, (int)l.R, g->out_c, dyT, K, 0, w16,
                          (int)l.R, 0, 0.0f, dcol, K, 0, 1);
        const long long total = (long long)b * l.in_stride;
        col2im_kernel<PREC><<<nl_cuda_grid(cu, (size_t)total, 256), 256, 0, cu->stream>>>(
            d, b, dcol, dx + (size_t)i0 * l.in_stride, accumulate_dx ? 1 : 0);
        NL_CU_LAUNCHED(cu, "col2im_kernel");
    }
    nl_cuda_lowp_round(cu, p, (size_t)g->out_c * l.R, dweight);
    if (dbias) {
        conv_bias_grad_kernel<PREC><<<g->out_c, 256, 0, cu->stream>>>(n, g->out_c, (int)l.P, dy,
                                                                       dbias);
        NL_CU_LAUNCHED(cu, "conv_bias_grad_kernel");
    }
}

void nl_cuda_conv2d_forward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                            const float *weight, const float *bias, float *y, void *workspace,
                            size_t workspace_bytes)
{
    /* every batch up to the model's capacity was planned into its workspace */
    (void)workspace_bytes;
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0)
        return;
    if (be->product_precision == NL_PRECISION_BF16)
        return conv2d_forward_lowp<NL_PRECISION_BF16, __nv_bfloat16>(cu, g, n, x, weight, bias,
                                                                     y, workspace);
    if (be->product_precision == NL_PRECISION_FP16)
        return conv2d_forward_lowp<NL_PRECISION_FP16, __half>(cu, g, n, x, weight, bias, y,
                                                              workspace);
    const conv_layout l = layout_of(g, n);
    const ConvDims d = dims_of(g);
    const bool pointwise = g->kernel == 1 && g->stride == 1 && g->pad == 0;
    float *col = (float *)workspace;
    const float one = 1.0f, zero = 0.0f;
    for (int i0 = 0; i0 < n; i0 += (int)l.chunk) {
        const int b = (int)(n - i0 < l.chunk ? n - i0 : l.chunk);
        float *yc = y + (size_t)i0 * l.out_stride;
        if (bias)
            bias_planes<NL_PRECISION_FP32>(cu, l, g->out_c, b, bias, yc);
        const float *A;
        long long lda, stride_a;
        if (pointwise) {
            A = x + (size_t)i0 * l.in_stride;
            lda = l.P;
            stride_a = (long long)l.in_stride;
        } else {
            im2col(cu, d, l, b, x + (size_t)i0 * l.in_stride, col);
            A = col;
            lda = (long long)b * l.P;
            stride_a = l.P;
        }
        NL_CUBLAS(cu, cublasSgemmStridedBatched(cu->cublas, CUBLAS_OP_N, CUBLAS_OP_N, (int)l.P,
                                                g->out_c, (int)l.R, &one, A, (int)lda, stride_a,
                                                weight, (int)l.R, 0, bias ? &one : &zero, yc,
                                                (int)l.P, (long long)l.out_stride, b));
    }
}

void nl_cuda_conv2d_backward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                             const float *weight, const float *dy, float *dx, bool accumulate_dx,
                             float *dweight, float *dbias, void *workspace, size_t workspace_bytes)
{
    (void)workspace_bytes; /* as in the forward */
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0)
        return;
    if (be->product_precision == NL_PRECISION_BF16)
        return conv2d_backward_lowp<NL_PRECISION_BF16, __nv_bfloat16>(
            cu, g, n, x, weight, dy, dx, accumulate_dx, dweight, dbias, workspace);
    if (be->product_precision == NL_PRECISION_FP16)
        return conv2d_backward_lowp<NL_PRECISION_FP16, __half>(
            cu, g, n, x, weight, dy, dx, accumulate_dx, dweight, dbias, workspace);
    const conv_layout l = layout_of(g, n);
    const ConvDims d = dims_of(g);
    float *col = (float *)workspace;
    float *dyT = col + l.col_floats;
    const float one = 1.0f, zero = 0.0f;
    for (int i0 = 0; i0 < n; i0 += (int)l.chunk) {
        const int b = (int)(n - i0 < l.chunk ? n - i0 : l.chunk);
        const int K = (int)((long long)b * l.P);
        im2col(cu, d, l, b, x + (size_t)i0 * l.in_stride, col);
        regroup(cu, l, g->out_c, b, dy + (size_t)i0 * l.out_stride, dyT);
        /* dW (out_c x R) (+)= dyT col^T; column-major: dW^T = col dyT^T */
        NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_T, CUBLAS_OP_N, (int)l.R, g->out_c, K,
                                  &one, col, K, dyT, K, i0 == 0 ? &zero : &one, dweight,
                                  (int)l.R));
        if (!dx)
            continue;
        /* dcol (R x K) = W^T dyT; column-major: dcol^T = dyT^T W */
        NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_N, CUBLAS_OP_T, K, (int)l.R, g->out_c,
                                  &one, dyT, K, weight, (int)l.R, &zero, col, K));
        const long long total = (long long)b * l.in_stride;
        col2im_kernel<NL_PRECISION_FP32><<<nl_cuda_grid(cu, (size_t)total, 256), 256, 0, cu->stream>>>(
            d, b, col, dx + (size_t)i0 * l.in_stride, accumulate_dx ? 1 : 0);
        NL_CU_LAUNCHED(cu, "col2im_kernel");
    }
    if (dbias) {
        conv_bias_grad_kernel<NL_PRECISION_FP32><<<g->out_c, 256, 0, cu->stream>>>(n, g->out_c, (int)l.P, dy, dbias);
        NL_CU_LAUNCHED(cu, "conv_bias_grad_kernel");
    }
}
