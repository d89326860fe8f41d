/* train.precision on the GPU, device side: a value rounded to bf16 or fp16
 * and back to fp32 by the formats' own round-to-nearest-even conversions
 * (core/base/precision.h is the host reference; the emulator checks the two
 * agree bit for bit). PREC is an nl_precision; NL_PRECISION_FP32 returns
 * the value untouched, so a kernel templated on it compiles to its fp32
 * self. The host side (conversions, rounding, GemmEx) is in lowp.cu and
 * declared in cuda_common.h. */
#ifndef NL_CUDA_LOWP_CUH
#define NL_CUDA_LOWP_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "cuda/cuda_common.h"

template <int PREC> __device__ __forceinline__ float nl_lowp_round(float x)
{
    if (PREC == NL_PRECISION_BF16)
        return __bfloat162float(__float2bfloat16(x));
    if (PREC == NL_PRECISION_FP16)
        return __half2float(__float2half(x));
    return x;
}

/* Host side: f(std::integral_constant<int, PREC>()) for the precision p
 * (fp32 for any other), so that one call picks the instance of a kernel
 * templated on PREC. */
template <class F> static inline void nl_by_precision(nl_precision p, F f)
{
    if (p == NL_PRECISION_BF16)
        f(std::integral_constant<int, NL_PRECISION_BF16>());
    else if (p == NL_PRECISION_FP16)
        f(std::integral_constant<int, NL_PRECISION_FP16>());
    else
        f(std::integral_constant<int, NL_PRECISION_FP32>());
}

#endif
