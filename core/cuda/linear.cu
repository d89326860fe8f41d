/* Linear layer on cuBLAS: y = x W^T + b with W (out, in), all row-major.
 *
 * cuBLAS is column-major; a row-major (r x c) matrix is the column-major
 * (c x r) matrix of the same memory, so each row-major product C = A B is
 * computed as C^T = B^T A^T:
 *   forward    y (n x out)   = x W^T    ->  y^T  = W x^T   : Sgemm(T, N, out, n, in)
 *   input grad dx (n x in)   = dy W     ->  dx^T = W^T dy^T: Sgemm(N, N, in, n, out)
 *   weight grad dW (out x in)= dy^T x   ->  dW^T = x^T dy  : Sgemm(N, T, in, out, n)
 * The bias is broadcast into y first and the GEMM adds onto it (beta = 1),
 * as the CPU backend does. cuBLAS runs in FP32 (CUBLAS_DEFAULT_MATH, no TF32)
 * without atomics, so its results repeat run to run; its summation order
 * differs from OpenBLAS, hence the parity tolerance of 1e-4.
 * dbias: blocks of 32 outputs x 8 row lanes; lane t adds rows t, t+8, ...
 * in double in row order, then the lanes are added in lane order.
 *
 * Under a low be->product_precision (autocast): x, W and dy are converted
 * to 16-bit copies in the workspace and multiplied by cublasGemmEx with
 * fp32 accumulation; the bias is rounded before the GEMM adds onto it, and
 * y, dx, dW and db are rounded to the precision. An accumulated dx is the
 * old value plus the rounded product, so its product goes to an fp32
 * scratch first. The workspace (linear_workspace) holds, in order, the
 * copies of x, W and dy and that scratch. */
#include "cuda/lowp.cuh"
#include "cuda/norm_common.cuh"

using namespace nlk;

/* y[i][j] = bias[j] (rounded to PREC) */
template <int PREC>
__global__ void __launch_bounds__(256)
    bias_rows_kernel(int n, int out, const float *__restrict__ bias, float *__restrict__ y)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= out)
        return;
    const float b = nl_lowp_round<PREC>(bias[j]);
    for (int i = blockIdx.y; i < n; i += gridDim.y)
        y[(size_t)i * out + j] = b;
}

/* dbias[j] = sum_i dy[i][j]; under a low PREC, of dy rounded and the sum rounded */
template <int PREC>
__global__ void __launch_bounds__(256)
    column_sums_kernel(int n, int out, const float *__restrict__ dy, float *__restrict__ dbias)
{
    __shared__ double sh[8][32];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * 32 + tx;
    double s = 0.0;
    if (j < out) {
#pragma unroll 4
        for (int i = ty; i < n; i += 8)
            s += (double)nl_lowp_round<PREC>(dy[(size_t)i * out + j]);
    }
    sh[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && j < out) {
        double t = 0.0;
        for (int k = 0; k < 8; k++)
            t += sh[k][tx];
        dbias[j] = nl_lowp_round<PREC>((float)t);
    }
}

/* the low-precision parts of the workspace */
typedef struct {
    void *x, *w, *dy;
    float *dx;
} lowp_parts;

static size_t lowp_layout(nl_precision p, int n, int in, int out, void *workspace,
                          lowp_parts *parts)
{
    if (p == NL_PRECISION_FP32)
        return 0;
    const size_t x = nl_cuda_lowp_bytes(p, (size_t)n * in), w = nl_cuda_lowp_bytes(p, (size_t)out * in);
    const size_t dy = nl_cuda_lowp_bytes(p, (size_t)n * out);
    if (parts) {
        char *base = (char *)workspace;
        parts->x = base;
        parts->w = base + x;
        parts->dy = base + x + w;
        parts->dx = (float *)(base + x + w + dy);
    }
    return x + w + dy + (size_t)n * in * sizeof(float);
}

template <int PREC> static void launch_bias_rows(nl_cuda *cu, int n, int out, const float *bias, float *y)
{
    const unsigned gy = n < 65535 ? (unsigned)n : 65535u;
    bias_rows_kernel<PREC><<<dim3((unsigned)((out + 255) / 256), gy), 256, 0, cu->stream>>>(
        n, out, bias, y);
    NL_CU_LAUNCHED(cu, "bias_rows_kernel");
}

template <int PREC> static void launch_column_sums(nl_cuda *cu, int n, int out, const float *dy, float *dbias)
{
    column_sums_kernel<PREC><<<(unsigned)((out + 31) / 32), dim3(32, 8), 0, cu->stream>>>(
        n, out, dy, dbias);
    NL_CU_LAUNCHED(cu, "column_sums_kernel");
}

static void bias_rows(nl_cuda *cu, nl_precision p, int n, int out, const float *bias, float *y)
{
    nl_by_precision(p, [&](auto prec) { launch_bias_rows<prec()>(cu, n, out, bias, y); });
}

static void column_sums(nl_cuda *cu, nl_precision p, int n, int out, const float *dy, float *dbias)
{
    nl_by_precision(p, [&](auto prec) { launch_column_sums<prec()>(cu, n, out, dy, dbias); });
}

size_t nl_cuda_linear_workspace(nl_backend *be, int n, int in, int out)
{
    return lowp_layout(be->product_precision, n, in, out, NULL, NULL);
}

/* y's start, before the product adds into it (with *beta, 1 when it does):
 * the bias in every row, or zeros when there is neither a bias nor a
 * product (in == 0); false when no product follows */
static bool linear_begin(nl_cuda *cu, nl_precision p, int n, int in, int out, const float *bias,
                         float *y, float *beta)
{
    *beta = 0.0f;
    if (bias) {
        bias_rows(cu, p, n, out, bias, y);
        *beta = 1.0f;
    }
    if (in > 0)
        return true;
    if (!bias)
        NL_CU(cu, cudaMemsetAsync(y, 0, (size_t)n * out * sizeof *y, cu->stream));
    return false;
}

static void linear_forward_lowp(nl_cuda *cu, nl_precision p, int n, int in, int out,
                                const float *x, const float *weight, const float *bias, float *y,
                                void *workspace)
{
    lowp_parts w;
    lowp_layout(p, n, in, out, workspace, &w);
    float beta;
    if (!linear_begin(cu, p, n, in, out, bias, y, &beta))
        return;
    nl_cuda_lowp_convert(cu, p, (size_t)n * in, x, w.x);
    nl_cuda_lowp_convert(cu, p, (size_t)out * in, weight, w.w);
    nl_cuda_lowp_gemm(cu, p, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, w.w, in, 0, w.x, in, 0, beta,
                      y, out, 0, 1);
    nl_cuda_lowp_round(cu, p, (size_t)n * out, y);
}

void nl_cuda_linear_forward(nl_backend *be, int n, int in, int out, const float *x,
                            const float *weight, const float *bias, float *y, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || out <= 0)
        return;
    if (be->product_precision != NL_PRECISION_FP32) {
        linear_forward_lowp(cu, be->product_precision, n, in, out, x, weight, bias, y, workspace);
        return;
    }
    float beta;
    if (!linear_begin(cu, NL_PRECISION_FP32, n, in, out, bias, y, &beta))
        return;
    const float alpha = 1.0f;
    NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &alpha, weight,
                              in, x, in, &beta, y, out));
}

static void linear_backward_lowp(nl_cuda *cu, nl_precision p, int n, int in, int out,
                                 const float *x, const float *weight, const float *dy, float *dx,
                                 bool accumulate_dx, float *dweight, float *dbias,
                                 void *workspace)
{
    lowp_parts w;
    lowp_layout(p, n, in, out, workspace, &w);
    nl_cuda_lowp_convert(cu, p, (size_t)n * out, dy, w.dy);
    nl_cuda_lowp_convert(cu, p, (size_t)n * in, x, w.x);
    if (dx) {
        nl_cuda_lowp_convert(cu, p, (size_t)out * in, weight, w.w);
        float *product = accumulate_dx ? w.dx : dx;
        nl_cuda_lowp_gemm(cu, p, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, w.w, in, 0, w.dy, out, 0,
                          0.0f, product, in, 0, 1);
        nl_cuda_lowp_add_rounded(cu, p, (size_t)n * in, product, dx, accumulate_dx);
    }
    nl_cuda_lowp_gemm(cu, p, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, w.x, in, 0, w.dy, out, 0,
                      0.0f, dweight, in, 0, 1);
    nl_cuda_lowp_round(cu, p, (size_t)out * in, dweight);
    if (dbias)
        column_sums(cu, p, n, out, dy, dbias);
}

void nl_cuda_linear_backward(nl_backend *be, int n, int in, int out, const float *x,
                             const float *weight, const float *dy, float *dx, bool accumulate_dx,
                             float *dweight, float *dbias, void *workspace)
{
    (void)workspace;
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || in <= 0 || out <= 0)
        return;
    if (be->product_precision != NL_PRECISION_FP32) {
        linear_backward_lowp(cu, be->product_precision, n, in, out, x, weight, dy, dx,
                             accumulate_dx, dweight, dbias, workspace);
        return;
    }
    const float one = 1.0f, zero = 0.0f;
    if (dx)
        NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, weight,
                                  in, dy, out, accumulate_dx ? &one : &zero, dx, in));
    NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in, dy,
                              out, &zero, dweight, in));
    if (dbias)
        column_sums(cu, NL_PRECISION_FP32, n, out, dy, dbias);
}
