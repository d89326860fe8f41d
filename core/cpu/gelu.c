/* GELU in float, erf or tanh form (backend.h), in 8-float vectors (vmath.h),
 * 16-float ones where the kernel set has AVX-512:
 * glibc's scalar erff and tanhf took most of the op's time, and the op was a
 * quarter of an lm training step (results/bench/NOTES.md). Every element is
 * independent, so nothing depends on the thread count or the width; the
 * last count % 8 go through an 8-float buffer and round exactly as the
 * vector body.
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

/* The functions below are written once, for 8-float vectors (W = nl_v8)
 * and, where the kernel set has AVX-512, for 16-float ones (W = nl_v16):
 * the same operations lane by lane (vmath.h), so either width gives each
 * element the same bits, and the wider one does twice the elements per
 * instruction in this arithmetic-bound op. */
#define GELU_FUNCTIONS(W)                                                                          \
    /* 2u, the argument of tanh doubled */                                                         \
    static inline W W##_tanh_arg2(W v)                                                             \
    {                                                                                              \
        return v * W##_fma(v * v, W##_splat(TWO_SQRT_2_OVER_PI * NL_GELU_CUBIC),                   \
                           W##_splat(TWO_SQRT_2_OVER_PI));                                         \
    }                                                                                              \
    /* v clamped to [-SATURATION, SATURATION]; a NaN passes */                                     \
    static inline W W##_saturate(W v)                                                              \
    {                                                                                              \
        const W lo = W##_splat(-SATURATION), hi = W##_splat(SATURATION);                           \
        v = W##_select(v < lo, lo, v);                                                             \
        return W##_select(v > hi, hi, v);                                                          \
    }                                                                                              \
    /* Phi(v), the standard normal CDF: erfc(|v| / sqrt 2) / 2 on the                              \
     * negative side, 1 minus it on the positive (a NaN passes) */                                 \
    static inline W W##_normal_cdf(W v)                                                            \
    {                                                                                              \
        const W a = (W)((W##i)v ^ W##_sign_bits(v)) * W##_splat(NL_GELU_INV_SQRT_2);              \
        const W tail = W##_splat(0.5f) * W##_erfc_nonneg(a);                                       \
        return W##_select(v < W##_splat(0.0f), tail, W##_splat(1.0f) - tail);                      \
    }                                                                                              \
    static inline W W##_gelu_erf(W v) { return v * W##_normal_cdf(v); }                            \
    /* only the negative side is clamped: above, y = v */                                          \
    static inline W W##_gelu_tanh(W v)                                                             \
    {                                                                                              \
        const W lo = W##_splat(-SATURATION);                                                       \
        v = W##_select(v < lo, lo, v);                                                             \
        return v / (W##_splat(1.0f) + W##_exp(-W##_tanh_arg2(v)));                                 \
    }                                                                                              \
    /* d gelu / dv = Phi(v) + v phi(v) */                                                          \
    static inline W W##_gelu_erf_grad(W v)                                                         \
    {                                                                                              \
        v = W##_saturate(v);                                                                       \
        return W##_fma(v * W##_splat(NL_GELU_INV_SQRT_2PI), W##_exp(W##_splat(-0.5f) * v * v),     \
                       W##_normal_cdf(v));                                                         \
    }                                                                                              \
    /* s + 2 K v (1 + 3 c v^2) e s^2, s = 1 / (1 + e), e = e^(-2u), K =                            \
     * sqrt(2/pi); e s is formed first, so an e near float's top times s^2                         \
     * (0 in float) gives 0, not inf * 0 */                                                        \
    static inline W W##_gelu_tanh_grad(W v)                                                        \
    {                                                                                              \
        v = W##_saturate(v);                                                                       \
        const W e = W##_exp(-W##_tanh_arg2(v));                                                    \
        const W s = W##_splat(1.0f) / (W##_splat(1.0f) + e);                                       \
        const W slope = v * W##_fma(v * v, W##_splat(3.0f * NL_GELU_CUBIC * TWO_SQRT_2_OVER_PI),   \
                                    W##_splat(TWO_SQRT_2_OVER_PI));                                \
        return W##_fma(slope * (e * s), s, s);                                                     \
    }                                                                                              \
    /* The form is chosen per vector rather than through a function                                \
     * pointer: OpenMP outlines the loop, where a pointer would be a call                          \
     * per vector; the branch is the same every time, and both inline. */                          \
    static inline W W##_gelu(nl_gelu_kind kind, W v)                                               \
    {                                                                                              \
        return kind == NL_GELU_TANH ? W##_gelu_tanh(v) : W##_gelu_erf(v);                          \
    }                                                                                              \
    static inline W W##_gelu_grad(nl_gelu_kind kind, W v)                                          \
    {                                                                                              \
        return kind == NL_GELU_TANH ? W##_gelu_tanh_grad(v) : W##_gelu_erf_grad(v);                \
    }                                                                                              \
    static inline W W##_dx(W grad, W dy, W old_dx, bool accumulate)                                \
    {                                                                                              \
        return accumulate ? old_dx + dy * grad : dy * grad;                                        \
    }

GELU_FUNCTIONS(nl_v8)
#if defined(__AVX512F__)
GELU_FUNCTIONS(nl_v16)
#endif

/* the loops' body runs WIDE floats a vector; the rest goes 8 at a time,
 * then through an 8-float buffer */
#if defined(__AVX512F__)
#define WIDE 16
#define wide_load nl_v16_load
#define wide_store nl_v16_store
#define wide_splat nl_v16_splat
#define wide_gelu nl_v16_gelu
#define wide_gelu_grad nl_v16_gelu_grad
#define wide_dx nl_v16_dx
#else
#define WIDE 8
#define wide_load nl_v8_load
#define wide_store nl_v8_store
#define wide_splat nl_v8_splat
#define wide_gelu nl_v8_gelu
#define wide_gelu_grad nl_v8_gelu_grad
#define wide_dx nl_v8_dx
#endif

void nl_cpu_gelu_forward(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                         float *y)
{
    (void)be;
    const long vecs = (long)(count / WIDE);
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (long i = 0; i < vecs; i++)
        wide_store(y + WIDE * i, wide_gelu(kind, wide_load(x + WIDE * i)));
    );
    size_t done = (size_t)vecs * WIDE;
    for (; done + 8 <= count; done += 8)
        nl_v8_store(y + done, nl_v8_gelu(kind, nl_v8_load(x + done)));
    const size_t left = count - done;
    if (left) {
        float xb[8] = {0}, yb[8];
        memcpy(xb, x + done, left * sizeof(float));
        nl_v8_store(yb, nl_v8_gelu(kind, nl_v8_load(xb)));
        memcpy(y + done, yb, left * sizeof(float));
    }
}

/* dx (+)= dy * gelu'(x) */
void nl_cpu_gelu_backward(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                          const float *dy, float *dx, bool accumulate)
{
    (void)be;
    const long vecs = (long)(count / WIDE);
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (long i = 0; i < vecs; i++) {
        float *d = dx + WIDE * i;
        wide_store(d, wide_dx(wide_gelu_grad(kind, wide_load(x + WIDE * i)),
                              wide_load(dy + WIDE * i),
                              accumulate ? wide_load(d) : wide_splat(0.0f), accumulate));
    });
    size_t done = (size_t)vecs * WIDE;
    for (; done + 8 <= count; done += 8)
        nl_v8_store(dx + done, nl_v8_dx(nl_v8_gelu_grad(kind, nl_v8_load(x + done)),
                                        nl_v8_load(dy + done),
                                        accumulate ? nl_v8_load(dx + done) : nl_v8_splat(0.0f),
                                        accumulate));
    const size_t left = count - done;
    if (left) {
        float xb[8] = {0}, dyb[8] = {0}, dxb[8] = {0};
        memcpy(xb, x + done, left * sizeof(float));
        memcpy(dyb, dy + done, left * sizeof(float));
        if (accumulate)
            memcpy(dxb, dx + done, left * sizeof(float));
        nl_v8_store(dxb, nl_v8_dx(nl_v8_gelu_grad(kind, nl_v8_load(xb)), nl_v8_load(dyb),
                                  nl_v8_load(dxb), accumulate));
        memcpy(dx + done, dxb, left * sizeof(float));
    }
}
