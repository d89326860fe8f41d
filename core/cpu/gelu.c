/* GELU in float, erf or tanh form (backend.h), in 8-float vectors (vmath.h):
 * glibc's scalar erff and tanhf took most of the op's time, and the op was a
 * quarter of an lm training step (results/bench/NOTES.md). Every element is
 * independent, so nothing depends on the thread count; the last count % 8
 * go through an 8-float buffer and round exactly as the vector body.
 *
 * Both forms keep their relative accuracy where GELU is small (negative
 * inputs), where 1 + erf and 1 + tanh would cancel to erf's or tanh's
 * absolute error: the erf form takes Phi(v) = erfc(-v / sqrt 2) / 2 from an
 * erfc accurate in relative terms (vmath.h), and the tanh form is evaluated
 * through 0.5 (1 + tanh(u)) = 1 / (1 + e^(-2u)) and 1 - tanh(u)^2 =
 * 4 e^(-2u) / (1 + e^(-2u))^2. */
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/vmath.h"

#define TWO_SQRT_2_OVER_PI (2.0f * NL_GELU_SQRT_2_OVER_PI) /* 2u = v (this + this c v^2) */
/* Beyond +-20 GELU is x or 0 and its slope 1 or 0 in float, in both forms;
 * inputs are clamped there, since past it v^3 and e^(-2u) leave float's
 * range and the formulas would give inf * 0 (the old scalar loops returned
 * NaN for |x| > 1e19). */
#define SATURATION 20.0f

/* 2u, the argument of tanh doubled */
static inline nl_v8 tanh_arg2(nl_v8 v)
{
    return v * nl_v8_fma(v * v, nl_v8_splat(TWO_SQRT_2_OVER_PI * NL_GELU_CUBIC),
                         nl_v8_splat(TWO_SQRT_2_OVER_PI));
}

/* v clamped to [-SATURATION, SATURATION]; a NaN passes */
static inline nl_v8 saturate(nl_v8 v)
{
    const nl_v8 lo = nl_v8_splat(-SATURATION), hi = nl_v8_splat(SATURATION);
    v = nl_v8_select(v < lo, lo, v);
    return nl_v8_select(v > hi, hi, v);
}

/* Phi(v), the standard normal CDF: erfc(|v| / sqrt 2) / 2 on the negative
 * side, 1 minus it on the positive (a NaN passes) */
static inline nl_v8 normal_cdf8(nl_v8 v)
{
    const nl_v8 a = (nl_v8)((nl_v8i)v ^ nl_v8_sign_bits(v)) * nl_v8_splat(NL_GELU_INV_SQRT_2);
    const nl_v8 tail = nl_v8_splat(0.5f) * nl_v8_erfc_nonneg(a);
    return nl_v8_select(v < nl_v8_splat(0.0f), tail, nl_v8_splat(1.0f) - tail);
}

static inline nl_v8 gelu_erf8(nl_v8 v)
{
    return v * normal_cdf8(v);
}

/* only the negative side is clamped: above, y = v */
static inline nl_v8 gelu_tanh8(nl_v8 v)
{
    const nl_v8 lo = nl_v8_splat(-SATURATION);
    v = nl_v8_select(v < lo, lo, v);
    return v / (nl_v8_splat(1.0f) + nl_v8_exp(-tanh_arg2(v)));
}

/* d gelu / dv = Phi(v) + v phi(v) */
static inline nl_v8 gelu_erf_grad8(nl_v8 v)
{
    v = saturate(v);
    return nl_v8_fma(v * nl_v8_splat(NL_GELU_INV_SQRT_2PI), nl_v8_exp(nl_v8_splat(-0.5f) * v * v),
                     normal_cdf8(v));
}

/* s + 2 K v (1 + 3 c v^2) e s^2, s = 1 / (1 + e), e = e^(-2u), K = sqrt(2/pi);
 * e s is formed first, so an e near float's top times s^2 (0 in float) gives
 * 0, not inf * 0 */
static inline nl_v8 gelu_tanh_grad8(nl_v8 v)
{
    v = saturate(v);
    const nl_v8 e = nl_v8_exp(-tanh_arg2(v));
    const nl_v8 s = nl_v8_splat(1.0f) / (nl_v8_splat(1.0f) + e);
    const nl_v8 slope = v * nl_v8_fma(v * v, nl_v8_splat(3.0f * NL_GELU_CUBIC * TWO_SQRT_2_OVER_PI),
                                      nl_v8_splat(TWO_SQRT_2_OVER_PI));
    return nl_v8_fma(slope * (e * s), s, s);
}

/* The form is chosen per vector rather than through a function pointer:
 * OpenMP outlines the loop, where a pointer would be a call per 8 floats;
 * the branch is the same every time, and both functions inline. */
static inline nl_v8 gelu8(nl_gelu_kind kind, nl_v8 v)
{
    return kind == NL_GELU_TANH ? gelu_tanh8(v) : gelu_erf8(v);
}

static inline nl_v8 gelu_grad8(nl_gelu_kind kind, nl_v8 v)
{
    return kind == NL_GELU_TANH ? gelu_tanh_grad8(v) : gelu_erf_grad8(v);
}

void nl_cpu_gelu_forward(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                         float *y)
{
    (void)be;
    const long vecs = (long)(count / 8);
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (long i = 0; i < vecs; i++)
        nl_v8_store(y + 8 * i, gelu8(kind, nl_v8_load(x + 8 * i)));
    );
    const size_t done = (size_t)vecs * 8, left = count - done;
    if (left) {
        float xb[8] = {0}, yb[8];
        memcpy(xb, x + done, left * sizeof(float));
        nl_v8_store(yb, gelu8(kind, nl_v8_load(xb)));
        memcpy(y + done, yb, left * sizeof(float));
    }
}

static inline nl_v8 dx8(nl_v8 grad, nl_v8 dy, nl_v8 old_dx, bool accumulate)
{
    return accumulate ? old_dx + dy * grad : dy * grad;
}

/* dx (+)= dy * gelu'(x) */
void nl_cpu_gelu_backward(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                          const float *dy, float *dx, bool accumulate)
{
    (void)be;
    const long vecs = (long)(count / 8);
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (long i = 0; i < vecs; i++) {
        float *d = dx + 8 * i;
        nl_v8_store(d, dx8(gelu_grad8(kind, nl_v8_load(x + 8 * i)), nl_v8_load(dy + 8 * i),
                           accumulate ? nl_v8_load(d) : nl_v8_splat(0.0f), accumulate));
    });
    const size_t done = (size_t)vecs * 8, left = count - done;
    if (left) {
        float xb[8] = {0}, dyb[8] = {0}, dxb[8] = {0};
        memcpy(xb, x + done, left * sizeof(float));
        memcpy(dyb, dy + done, left * sizeof(float));
        if (accumulate)
            memcpy(dxb, dx + done, left * sizeof(float));
        nl_v8_store(dxb, dx8(gelu_grad8(kind, nl_v8_load(xb)), nl_v8_load(dyb),
                             nl_v8_load(dxb), accumulate));
        memcpy(dx + done, dxb, left * sizeof(float));
    }
}
