/* train.precision on the GPU, host side (cuda_common.h): the conversion
 * of fp32 operands to bf16/fp16 storage, the rounding of fp32 results, and
 * the 16-bit GEMM with fp32 accumulation. Each kernel is one grid-stride
 * pass, one thread per element; the rounding is lowp.cuh's. */
#include "cuda/lowp.cuh"

/* the storage type of a precision */
template <int PREC> struct LowpStorage;
template <> struct LowpStorage<NL_PRECISION_BF16> {
    typedef __nv_bfloat16 type;
    static __device__ __forceinline__ type from(float x) { return __float2bfloat16(x); }
};
template <> struct LowpStorage<NL_PRECISION_FP16> {
    typedef __half type;
    static __device__ __forceinline__ type from(float x) { return __float2half(x); }
};

template <int PREC>
__global__ void __launch_bounds__(256)
    lowp_convert_kernel(size_t count, const float *__restrict__ src, void *__restrict__ dst)
{
    typedef LowpStorage<PREC> S;
    typename S::type *out = (typename S::type *)dst;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = S::from(src[i]);
}

template <int PREC>
__global__ void __launch_bounds__(256)
    lowp_add_rounded_kernel(size_t count, const float *src, float *dst, int accumulate)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x) {
        const float r = nl_lowp_round<PREC>(src[i]);
        dst[i] = accumulate ? dst[i] + r : r;
    }
}

size_t nl_cuda_lowp_bytes(nl_precision p, size_t count)
{
    if (p == NL_PRECISION_FP32)
        return 0;
    return (count * 2 + 255) / 256 * 256;
}

void nl_cuda_lowp_convert(nl_cuda *cu, nl_precision p, size_t count, const float *src, void *dst)
{
    if (!count)
        return;
    const unsigned blocks = nl_cuda_grid(cu, count, 256);
    if (p == NL_PRECISION_BF16) {
        lowp_convert_kernel<NL_PRECISION_BF16><<<blocks, 256, 0, cu->stream>>>(count, src, dst);
        NL_CU_LAUNCHED(cu, "lowp_convert_kernel<bf16>");
    } else if (p == NL_PRECISION_FP16) {
        lowp_convert_kernel<NL_PRECISION_FP16><<<blocks, 256, 0, cu->stream>>>(count, src, dst);
        NL_CU_LAUNCHED(cu, "lowp_convert_kernel<fp16>");
    }
}

void nl_cuda_lowp_add_rounded(nl_cuda *cu, nl_precision p, size_t count, const float *src,
                              float *dst, bool accumulate)
{
    if (!count)
        return;
    const unsigned blocks = nl_cuda_grid(cu, count, 256);
    const int acc = accumulate ? 1 : 0;
    if (p == NL_PRECISION_BF16) {
        lowp_add_rounded_kernel<NL_PRECISION_BF16><<<blocks, 256, 0, cu->stream>>>(count, src,
                                                                                  dst, acc);
        NL_CU_LAUNCHED(cu, "lowp_add_rounded_kernel<bf16>");
    } else if (p == NL_PRECISION_FP16) {
        lowp_add_rounded_kernel<NL_PRECISION_FP16><<<blocks, 256, 0, cu->stream>>>(count, src,
                                                                                  dst, acc);
        NL_CU_LAUNCHED(cu, "lowp_add_rounded_kernel<fp16>");
    }
}

void nl_cuda_lowp_round(nl_cuda *cu, nl_precision p, size_t count, float *x)
{
    nl_cuda_lowp_add_rounded(cu, p, count, x, x, false);
}

void nl_cuda_lowp_gemm(nl_cuda *cu, nl_precision p, cublasOperation_t ta, cublasOperation_t tb,
                       int m, int n, int k, const void *A, int lda, long long sa, const void *B,
                       int ldb, long long sb, float beta, float *C, int ldc, long long sc,
                       int batch)
{
    const cudaDataType_t type = p == NL_PRECISION_FP16 ? CUDA_R_16F : CUDA_R_16BF;
    const float one = 1.0f;
    if (batch == 1)
        NL_CUBLAS(cu, cublasGemmEx(cu->cublas, ta, tb, m, n, k, &one, A, type, lda, B, type, ldb,
                                   &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT));
    else
        NL_CUBLAS(cu, cublasGemmStridedBatchedEx(cu->cublas, ta, tb, m, n, k, &one, A, type, lda,
                                                 sa, B, type, ldb, sb, &beta, C, CUDA_R_32F, ldc,
                                                 sc, batch, CUBLAS_COMPUTE_32F,
                                                 CUBLAS_GEMM_DEFAULT));
}
