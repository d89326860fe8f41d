/* Rounding an fp32 value to a lower precision and back, as a cast to
 * torch.bfloat16 or torch.float16 and back to torch.float32 does: round to
 * nearest, ties to even; NaN stays NaN; values beyond the format's range
 * become infinities (fp16: |x| >= 65520); fp16 keeps its subnormals (steps
 * of 2^-24 below 2^-14) and flushes below half the smallest to zero.
 *
 * normlab keeps every tensor in fp32 storage. A low precision is a
 * rounding applied where PyTorch's autocast would cast (train.precision)
 * or where a low-precision statistics kernel would round
 * (model.norm.stats_precision): a value rounded here is exactly
 * representable in the format, and products of two such values are exact
 * in fp32, so an fp32 product with fp32 accumulation over rounded inputs
 * is what a bf16/fp16 product with fp32 accumulation computes.
 *
 * These are the scalar reference; the CPU kernels round arrays with
 * vector code tested against them. The CUDA kernels call them on the
 * device (NL_PRECISION_FN). */
#ifndef NL_BASE_PRECISION_H
#define NL_BASE_PRECISION_H

#include <stdint.h>
#include <string.h>

#include "base/names.h"

#if defined(__CUDACC__)
#define NL_PRECISION_FN static inline __host__ __device__
#else
#define NL_PRECISION_FN static inline
#endif

NL_PRECISION_FN uint32_t nl_float_bits(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

NL_PRECISION_FN float nl_bits_float(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* bfloat16 keeps fp32's sign and exponent and the top 7 of its 23
 * significand bits: round the low 16 bits away, ties to even. The carry
 * may run into the exponent (rounding up to the next binade, or to
 * infinity from the largest finite values), which is the right result. */
NL_PRECISION_FN float nl_round_bf16(float x)
{
    uint32_t bits = nl_float_bits(x);
    if ((bits & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it a (quiet) NaN */
        return nl_bits_float(bits | 0x00400000u);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return nl_bits_float(bits & 0xffff0000u);
}

/* bf16 storage (a word per value, the upper half of the fp32): the word
 * of nl_round_bf16(x), and the value a word holds */
NL_PRECISION_FN uint16_t nl_bf16_word(float x) { return (uint16_t)(nl_float_bits(nl_round_bf16(x)) >> 16); }
NL_PRECISION_FN float nl_bf16_value(uint16_t word) { return nl_bits_float((uint32_t)word << 16); }

/* IEEE half: 10 significand bits, exponents down to -14, then subnormals
 * in steps of 2^-24. */
NL_PRECISION_FN float nl_round_fp16(float x)
{
    uint32_t bits = nl_float_bits(x);
    uint32_t sign = bits & 0x80000000u;
    uint32_t mag = bits & 0x7fffffffu;
    if (mag > 0x7f800000u) /* NaN */
        return nl_bits_float(bits | 0x00400000u);
    if (mag >= 0x477ff000u) /* 65520 and beyond (and inf): the tie above 65504 rounds up */
        return nl_bits_float(sign | 0x7f800000u);
    if (mag < 0x38800000u) { /* below 2^-14: a multiple of 2^-24 */
        /* the fp32 values in [2^-1, 1) are spaced 2^-24 apart, so adding and
         * removing 2^-1 rounds to that grid, ties to even, in one
         * correctly rounded addition (volatile: keep it two operations) */
        volatile float shifted = nl_bits_float(mag) + 0.5f;
        float rounded = shifted - 0.5f;
        return nl_bits_float(sign | nl_float_bits(rounded));
    }
    mag += 0xfffu + ((mag >> 13) & 1u);
    return nl_bits_float(sign | (mag & 0xffffe000u));
}

NL_PRECISION_FN float nl_round_to(nl_precision precision, float x)
{
    switch (precision) {
    case NL_PRECISION_BF16:
        return nl_round_bf16(x);
    case NL_PRECISION_FP16:
        return nl_round_fp16(x);
    default:
        return x;
    }
}

/* fp16 storage (a word per value, IEEE binary16): the word of
 * nl_round_fp16(x), and the value a word holds. A NaN keeps its sign and
 * the top 9 bits of its payload, quieted, as F16C's vcvtps2ph does. */
NL_PRECISION_FN uint16_t nl_fp16_word(float x)
{
    const uint32_t bits = nl_float_bits(nl_round_fp16(x));
    const uint32_t sign = (bits >> 16) & 0x8000u, mag = bits & 0x7fffffffu;
    if (mag >= 0x7f800000u) /* inf, or a NaN (quiet after nl_round_fp16) */
        return (uint16_t)(sign | 0x7c00u | (mag > 0x7f800000u ? 0x0200u | ((mag >> 13) & 0x3ffu) : 0u));
    if (mag < 0x38800000u) /* below 2^-14: a multiple of 2^-24, exactly */
        return (uint16_t)(sign | (uint32_t)(nl_bits_float(mag) * 16777216.0f));
    return (uint16_t)(sign | (((mag >> 23) - 112u) << 10) | ((mag >> 13) & 0x3ffu));
}
NL_PRECISION_FN float nl_fp16_value(uint16_t word)
{
    const uint32_t sign = (uint32_t)(word & 0x8000u) << 16, exp = (word >> 10) & 0x1fu,
                   frac = word & 0x3ffu;
    if (exp == 0) /* zero or subnormal: frac * 2^-24, exactly */
        return nl_bits_float(sign | nl_float_bits((float)frac * 5.9604644775390625e-8f));
    if (exp == 31)
        return nl_bits_float(sign | 0x7f800000u | (frac << 13));
    return nl_bits_float(sign | ((exp + 112u) << 23) | (frac << 13));
}

/* the largest finite value of the format */
NL_PRECISION_FN float nl_precision_max(nl_precision precision)
{
    switch (precision) {
    case NL_PRECISION_BF16:
        return nl_bits_float(0x7f7f0000u);
    case NL_PRECISION_FP16:
        return 65504.0f;
    default:
        return nl_bits_float(0x7f7fffffu);
    }
}

#endif
