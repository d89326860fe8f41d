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
 * in double in row order, then the lanes are added in lane order. */
#include "cuda/norm_common.cuh"

using namespace nlk;

/* y[i][j] = bias[j] */
__global__ void __launch_bounds__(256)
    bias_rows_kernel(int n, int out, const float *__restrict__ bias, float *__restrict__ y)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= out)
        return;
    const float b = bias[j];
    for (int i = blockIdx.y; i < n; i += gridDim.y)
        y[(size_t)i * out + j] = b;
}

/* dbias[j] = sum_i dy[i][j] */
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
            s += (double)dy[(size_t)i * out + j];
    }
    sh[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && j < out) {
        double t = 0.0;
        for (int k = 0; k < 8; k++)
            t += sh[k][tx];
        dbias[j] = (float)t;
    }
}

size_t nl_cuda_linear_workspace(nl_backend *be, int n, int in, int out)
{
    (void)be, (void)n, (void)in, (void)out;
    return 0;
}

void nl_cuda_linear_forward(nl_backend *be, int n, int in, int out, const float *x,
                            const float *weight, const float *bias, float *y, void *workspace)
{
    (void)workspace;
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || out <= 0)
        return;
    float beta = 0.0f;
    if (bias) {
        const unsigned gy = n < 65535 ? (unsigned)n : 65535u;
        bias_rows_kernel<<<dim3((unsigned)((out + 255) / 256), gy), 256, 0, cu->stream>>>(
            n, out, bias, y);
        NL_CU_LAUNCHED(cu, "bias_rows_kernel");
        beta = 1.0f;
    }
    if (in <= 0) {
        if (!bias)
            NL_CU(cu, cudaMemsetAsync(y, 0, (size_t)n * out * sizeof *y, cu->stream));
        return;
    }
    const float alpha = 1.0f;
    NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &alpha, weight,
                              in, x, in, &beta, y, out));
}

void nl_cuda_linear_backward(nl_backend *be, int n, int in, int out, const float *x,
                             const float *weight, const float *dy, float *dx, bool accumulate_dx,
                             float *dweight, float *dbias, void *workspace)
{
    (void)workspace;
    nl_cuda *cu = nl_cuda_of(be);
    if (n <= 0 || in <= 0 || out <= 0)
        return;
    const float one = 1.0f, zero = 0.0f;
    if (dx)
        NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, weight,
                                  in, dy, out, accumulate_dx ? &one : &zero, dx, in));
    NL_CUBLAS(cu, cublasSgemm(cu->cublas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in, dy,
                              out, &zero, dweight, in));
    if (dbias) {
        column_sums_kernel<<<(unsigned)((out + 31) / 32), dim3(32, 8), 0, cu->stream>>>(n, out, dy,
                                                                                     dbias);
        NL_CU_LAUNCHED(cu, "column_sums_kernel");
    }
}
