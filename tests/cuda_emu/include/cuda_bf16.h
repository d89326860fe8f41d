/* Emulated cuda_bf16.h: __nv_bfloat16 storage and its round-to-nearest-even
 * conversions, bit for bit core/base/precision.h's reference (the rounding a
 * cast to torch.bfloat16 does, as CUDA's __float2bfloat16 does; NaNs keep
 * their sign and payload where CUDA returns its canonical NaN). */
#pragma once
#include <cstdint>
#include "base/precision.h"

struct __nv_bfloat16 {
    uint16_t __x;
};

static inline __nv_bfloat16 __float2bfloat16(float f)
{
    __nv_bfloat16 b;
    b.__x = (uint16_t)(nl_float_bits(nl_round_bf16(f)) >> 16);
    return b;
}

static inline float __bfloat162float(__nv_bfloat16 b) { return nl_bits_float((uint32_t)b.__x << 16); }
