/* Elementary functions on 8-float vectors (nl_v8, reduce.h) for the
 * pointwise kernels: glibc's scalar tanhf and erff are each many times
 * slower per element than these (results/bench/NOTES.md), and a pointwise
 * op is bound by this arithmetic, not by memory. Every function is written
 * so that a NaN input gives a NaN in its lane; the accuracy of each against
 * libm in double is swept in test_norm_reference (tanh) and test_vmath
 * (exp, erf). */
#ifndef NL_VMATH_H
#define NL_VMATH_H

#include <stdint.h>

#include "cpu/reduce.h"

typedef int nl_v8i __attribute__((vector_size(32)));
typedef unsigned nl_v8u32 __attribute__((vector_size(32)));

/* bits of a where mask is set, of b elsewhere */
static inline nl_v8 nl_v8_select(nl_v8i mask, nl_v8 a, nl_v8 b)
{
    return (nl_v8)(((nl_v8i)a & mask) | ((nl_v8i)b & ~mask));
}

static inline nl_v8i nl_v8_sign_bits(nl_v8 x)
{
    return (nl_v8i)x & (nl_v8i){INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                                INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
}

/* e^r's Taylor coefficients, r^7 first (nl_v8_exp, nl_v16_exp) */
static const float nl_vmath_exp_taylor[] = {1.984126984e-04f, 1.388888889e-03f, 8.333333333e-03f,
                                            4.166666667e-02f, 1.666666667e-01f, 0.5f, 1.0f, 1.0f};

/* The functions every vector width shares, one body for each: W is the
 * width's prefix (nl_v8, nl_v16), with its W##_splat, W##_fma and
 * W##_select, and integer types W##i and W##u32 defined before. Each
 * width's lanes then round alike, which test_vmath checks bit for bit.
 *
 * W##_horner: c[0] z^(n-1) + c[1] z^(n-2) + ... + c[n-1] in Horner's
 * order, fused; with constant coefficients inlined, it unrolls to the plain
 * chain of FMAs.
 *
 * W##_exp: e^x as 2^n e^r, n = x / ln 2 rounded to nearest (by adding 1.5 * 2^23,
 * whose low mantissa bits then hold n), r = x - n ln 2 in two steps (ln 2
 * split into a float with 12 trailing zero bits, so that n times it is exact
 * fused or not, and the rest), |r| <= ln 2 / 2, e^r by its Taylor series to r^7 (remainder
 * below 6e-9 relative), 2^n built in the exponent bits. x is clamped to
 * [-87, 88], where 2^n stays a normal float: below, e^x is under 1.7e-38
 * (as good as 0 to every caller), above, it would overflow anyway. Within
 * 0.7 FLT_EPSILON of exp relative (0.9 without FMA). */
#define NL_VMATH_SHARED(W)                                                                         \
    static inline W W##_horner(W z, const float *c, int n)                                         \
    {                                                                                              \
        W p = W##_splat(c[0]);                                                                     \
        for (int k = 1; k < n; k++)                                                                \
            p = W##_fma(p, z, W##_splat(c[k]));                                                    \
        return p;                                                                                  \
    }                                                                                              \
                                                                                                   \
    static inline W W##_exp(W x)                                                                   \
    {                                                                                              \
        const W lo = W##_splat(-87.0f), hi = W##_splat(88.0f);                                     \
        const W round_bias = W##_splat(12582912.0f); /* 1.5 * 2^23 */                              \
        x = W##_select(x > hi, hi, x);                                                             \
        x = W##_select(x < lo, lo, x);                                                             \
        const W biased = x * W##_splat(1.442695041f) + round_bias;                                 \
        const W n = biased - round_bias;                                                           \
        W r = W##_fma(n, W##_splat(-0.693145751953125f), x);                                       \
        r = W##_fma(n, W##_splat(-1.428606820e-06f), r);                                           \
        const W p = W##_horner(r, nl_vmath_exp_taylor,                                             \
                               (int)(sizeof nl_vmath_exp_taylor / sizeof nl_vmath_exp_taylor[0])); \
        const W##i n_bits = (W##i)biased - (W##i)round_bias;                                       \
        /* unsigned: no UB on a NaN */                                                             \
        const W two_n = (W)((W##u32)(n_bits + 127) << 23);                                         \
        return p * two_n;                                                                          \
    }

NL_VMATH_SHARED(nl_v8)

/* nl_v8_horner over a whole coefficient array */
#define NL_V8_HORNER(z, coeffs)                                                                    \
    nl_v8_horner((z), (coeffs), (int)(sizeof(coeffs) / sizeof((coeffs)[0])))

/* tanh as one rational function, a (1 + z p(z)) / (1 + z q(z)) with z = a^2,
 * a = |x| clamped to 9.02 (tanh rounds to 1 in float above 9.01), the sign
 * put back: 18 vector operations and a division per 8 floats
 * (experiments/bench/pointwise_ceiling.c). The coefficients are a minimax
 * fit of tanh(a)/a in relative error (experiments/bench/tanh_rational_fit.py:
 * 7e-9 in exact arithmetic); in float the result is within 2.7 FLT_EPSILON
 * of tanh relative (5.3 ulp where tanh is near 1, 2.4 ulp for |x| < 1), far
 * inside the 1e-5 of the PyTorch goldens. 1 + z p is formed as a + a z p, so
 * that near 0 its rounding falls on the small term. The comparisons are
 * written so that a NaN passes through. */
static inline nl_v8 nl_v8_tanh(nl_v8 x)
{
    const nl_v8i sign = nl_v8_sign_bits(x);
    const nl_v8 a_max = nl_v8_splat(9.02f), one = nl_v8_splat(1.0f);
    nl_v8 a = (nl_v8)((nl_v8i)x ^ sign);
    a = nl_v8_select(a > a_max, a_max, a);
    const nl_v8 z = a * a;
    static const float tanh_p[] = {-8.508892821e-14f, 5.289178136e-11f, -2.025582329e-08f,
                                   1.116346647e-05f, 3.104936354e-03f, 1.308492303e-01f};
    const nl_v8 p = NL_V8_HORNER(z, tanh_p);
    static const float tanh_q[] = {2.547508111e-04f, 2.449919005e-02f, 4.641825211e-01f};
    const nl_v8 q = NL_V8_HORNER(z, tanh_q);
    nl_v8 t = nl_v8_fma(a * z, p, a) / nl_v8_fma(z, q, one);
    t = nl_v8_select(t > one, one, t);
    return (nl_v8)((nl_v8i)t | sign);
}

/* P's Chebyshev coefficients, t^9 first (nl_v8_erfc_nonneg, nl_v16_erfc_nonneg) */
static const float nl_vmath_erfc_cheb[] = {0.17087277f, -0.82215223f, 1.48851587f,  -1.13520398f,
                                           0.27886807f, -0.18628806f, 0.09678418f,  0.37409196f,
                                           1.00002368f, -1.26551223f};

/* erfc(a) for a >= 0 (a NaN passes), within a few FLT_EPSILON *relative*
 * everywhere: t e^(-a^2 + P(t)), t = 1 / (1 + a / 2), with P the 10-term
 * Chebyshev fit of Press et al., Numerical Recipes (2nd ed.) 6.2, fractional
 * error below 1.2e-7 in exact arithmetic. Where erf is near -1 (GELU's
 * negative side) 1 + erf cancels to erf's absolute error; this does not.
 * -a^2 + P rounds once, to half an ulp of the exponent (under 2e-6
 * relative in the result at a = 6.4, where it is 1e-19): one fma, or
 * without FMA a^2 split as hi^2 + (2 hi + lo) lo, where hi keeps a's top 12
 * bits so that hi^2 is exact and the rest rounds at P's scale (a rounded
 * -a * a + P rounded twice, up to 66 FLT_EPSILON at a = 8.9). Past e^-87
 * the result is 0 (nl_v8_exp would stop at its clamp). */
static inline nl_v8 nl_v8_erfc_nonneg(nl_v8 a)
{
    const nl_v8 one = nl_v8_splat(1.0f);
    const nl_v8 t = one / nl_v8_fma(a, nl_v8_splat(0.5f), one);
#if defined(__FMA__) && defined(__AVX__)
    const nl_v8 exponent = nl_v8_fma(-a, a, NL_V8_HORNER(t, nl_vmath_erfc_cheb));
#else
    /* past 10 the result is 0 anyway, and infinity would split into
     * inf + NaN (a NaN still passes: the comparison is false for it) */
    const nl_v8 ten = nl_v8_splat(10.0f);
    const nl_v8 capped = nl_v8_select(a > ten, ten, a);
    const nl_v8i top12 = {-4096, -4096, -4096, -4096, -4096, -4096, -4096, -4096};
    const nl_v8 hi = (nl_v8)((nl_v8i)capped & top12), lo = capped - hi;
    const nl_v8 exponent = (NL_V8_HORNER(t, nl_vmath_erfc_cheb) - (hi + hi + lo) * lo) - hi * hi;
#endif
    const nl_v8 e = t * nl_v8_exp(exponent);
    return nl_v8_select(exponent < nl_v8_splat(-87.0f), nl_v8_splat(0.0f), e);
}

#if defined(__AVX512F__)
/* 16-float vectors where the kernel set has AVX-512: the same functions,
 * operation for operation, so each lane's bits are those nl_v8's give
 * (test_vmath compares them over its sweeps); a pointwise kernel bound by
 * this arithmetic does twice the work per instruction. */
typedef float nl_v16 __attribute__((vector_size(64)));
typedef float nl_v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int nl_v16i __attribute__((vector_size(64)));
typedef unsigned nl_v16u32 __attribute__((vector_size(64)));

static inline nl_v16 nl_v16_load(const float *p) { return *(const nl_v16u *)p; }

static inline void nl_v16_store(float *p, nl_v16 v) { *(nl_v16u *)p = v; }

static inline nl_v16 nl_v16_splat(float x)
{
    return (nl_v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}

static inline nl_v16i nl_v16i_splat(int x)
{
    return (nl_v16i){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}

static inline nl_v16 nl_v16_fma(nl_v16 a, nl_v16 b, nl_v16 c)
{
    return (nl_v16)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
}

static inline nl_v16 nl_v16_select(nl_v16i mask, nl_v16 a, nl_v16 b)
{
    return (nl_v16)(((nl_v16i)a & mask) | ((nl_v16i)b & ~mask));
}

static inline nl_v16i nl_v16_sign_bits(nl_v16 x) { return (nl_v16i)x & nl_v16i_splat(INT32_MIN); }

NL_VMATH_SHARED(nl_v16)

#define NL_V16_HORNER(z, coeffs)                                                                   \
    nl_v16_horner((z), (coeffs), (int)(sizeof(coeffs) / sizeof((coeffs)[0])))

/* nl_v8_erfc_nonneg (AVX-512 always has FMA: its fused exponent) */
static inline nl_v16 nl_v16_erfc_nonneg(nl_v16 a)
{
    const nl_v16 one = nl_v16_splat(1.0f);
    const nl_v16 t = one / nl_v16_fma(a, nl_v16_splat(0.5f), one);
    const nl_v16 exponent = nl_v16_fma(-a, a, NL_V16_HORNER(t, nl_vmath_erfc_cheb));
    const nl_v16 e = t * nl_v16_exp(exponent);
    return nl_v16_select(exponent < nl_v16_splat(-87.0f), nl_v16_splat(0.0f), e);
}
#endif

#endif
