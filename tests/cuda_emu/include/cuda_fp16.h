/* Emulated cuda_fp16.h: IEEE half storage (__half) and its round-to-nearest-
 * even conversions. The rounding is core/base/precision.h's reference (as
 * CUDA's __float2half: overflow to infinity from 65520 on, subnormals kept);
 * the value it returns is exactly a half, which is then packed. */
#pragma once
#include <cstdint>
#include "base/precision.h"

struct __half {
    uint16_t __x;
};

static inline __half __float2half(float f)
{
    const uint32_t bits = nl_float_bits(nl_round_fp16(f));
    const uint32_t sign = (bits >> 16) & 0x8000u, mag = bits & 0x7fffffffu;
    __half h;
    if (mag > 0x7f800000u) /* NaN: quiet, the payload's top bits */
        h.__x = (uint16_t)(sign | 0x7e00u | ((mag >> 13) & 0x3ffu));
    else if (mag == 0x7f800000u)
        h.__x = (uint16_t)(sign | 0x7c00u);
    else if (mag >= 0x38800000u) /* normal: rebias the exponent, keep the 10 top bits */
        h.__x = (uint16_t)(sign | (((mag >> 23) - 112u) << 10) | ((mag >> 13) & 0x3ffu));
    else /* subnormal or zero: a whole multiple of 2^-24, exactly */
        h.__x = (uint16_t)(sign | (uint32_t)(nl_bits_float(mag) * 16777216.0f));
    return h;
}

static inline float __half2float(__half h)
{
    const uint32_t sign = (uint32_t)(h.__x & 0x8000u) << 16;
    const uint32_t exp = (h.__x >> 10) & 0x1fu, frac = h.__x & 0x3ffu;
    if (exp == 0x1f)
        return nl_bits_float(sign | 0x7f800000u | (frac << 13));
    if (exp == 0)
        return nl_bits_float(sign | nl_float_bits((float)frac / 16777216.0f));
    return nl_bits_float(sign | ((exp + 112u) << 23) | (frac << 13));
}
