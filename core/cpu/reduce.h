/* Fast, accurate sums for the normalization kernels.
 *
 * One double accumulator is a dependency chain: a vector add every ~4
 * cycles, which makes the statistics passes compute-bound instead of
 * memory-bound. Here 4 independent 8-float accumulators
 * take a chunk of up to 1024 values (32 per lane) and the chunk's total goes
 * into a double, so the rounding error stays that of summing 32 floats, plus
 * double accumulation across chunks; the order is fixed by n alone, so results
 * repeat bit for bit. GCC/clang vector extensions compile to AVX2 here and
 * to whatever the target has elsewhere. */
#ifndef NL_REDUCE_H
#define NL_REDUCE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

typedef float nl_v8 __attribute__((vector_size(32)));
/* the same vector at any float alignment, allowed to alias float data: a
 * plain dereference is an unaligned load (a memcpy here made gcc spill
 * every loaded vector to the stack) */
typedef float nl_v8u __attribute__((vector_size(32), aligned(4), may_alias));

#define NL_CHUNK 1024

static inline nl_v8 nl_v8_load(const float *p) { return *(const nl_v8u *)p; }

static inline void nl_v8_store(float *p, nl_v8 v) { *(nl_v8u *)p = v; }

/* a * b + c, always fused where the target has FMA. Written out rather than
 * left to -ffp-contract, which fuses or not depending on the surrounding
 * loop: the same sum inlined into two loops could then round differently,
 * and a channel's statistics must not depend on which loop computed them
 * (see batchnorm.c). */
static inline nl_v8 nl_v8_fma(nl_v8 a, nl_v8 b, nl_v8 c)
{
#if defined(__FMA__) && defined(__AVX__)
    return (nl_v8)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}

/* The scalar twin of nl_v8_fma, for the tails of the same loops and for
 * loops that must round as a vector body does: fused exactly where
 * nl_v8_fma is. Without FMA, fmaf is libm's correctly fused software
 * version while the vectors round twice, and BatchNorm's y then depended
 * on which loop a thread count sent a channel to. */
static inline float nl_fmaf(float a, float b, float c)
{
#if defined(__FMA__) && defined(__AVX__)
    return fmaf(a, b, c);
#else
    return a * b + c;
#endif
}

static inline nl_v8 nl_v8_splat(float x) { return (nl_v8){x, x, x, x, x, x, x, x}; }

/* ---- a ReLU (and a residual add before it) fused into a normalizer's
 * apply pass and its backward (backend_ops.def, norm_forward_act): the
 * same bits as the activation ops, x <= 0 ? +0 : x (-0 gives +0; NaN stays
 * NaN, as torch.relu keeps it, so that a NaN before a ReLU reaches the
 * loss and the run ends diverged: issue 118) and y <= 0 ? +0 : dy (torch's
 * threshold_backward) ---- */
typedef int nl_v8i __attribute__((vector_size(32)));

static inline nl_v8 nl_v8_relu(nl_v8 v) { return (nl_v8)((nl_v8i)v & ~(v <= (nl_v8){0})); }
/* dy where y > 0 or is NaN, else +0 */
static inline nl_v8 nl_v8_pass_where(nl_v8 dy, nl_v8 y)
{
    return (nl_v8)((nl_v8i)dy & ~(y <= (nl_v8){0}));
}
static inline float nl_relu1(float v) { return v <= 0.0f ? 0.0f : v; }
static inline float nl_pass_where1(float dy, float y) { return y <= 0.0f ? 0.0f : dy; }

/* the sum of the 8 lanes, pairwise in a fixed order */
static inline float nl_v8_sum(nl_v8 a)
{
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* lanes of the 16 floats (a, b) picked by 8 constant indices */
#if defined(__clang__)
#define NL_V8_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define NL_V8_SHUFFLE(a, b, ...)                                                                   \
    __builtin_shuffle(a, b, (__attribute__((vector_size(32))) int){__VA_ARGS__})
#endif

/* lanes 0, 2, .., 14 and 1, 3, .., 15 of the 16 floats (lo, hi) */
static inline nl_v8 nl_v8_evens(nl_v8 lo, nl_v8 hi)
{
    return NL_V8_SHUFFLE(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14);
}
static inline nl_v8 nl_v8_odds(nl_v8 lo, nl_v8 hi)
{
    return NL_V8_SHUFFLE(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15);
}

/* v[k][j] <- v[j][k]: an 8 x 8 block transposed in registers */
static inline void nl_v8_transpose8(nl_v8 v[8])
{
    nl_v8 t[8], s[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = NL_V8_SHUFFLE(v[k], v[k + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[k + 1] = NL_V8_SHUFFLE(v[k], v[k + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int k = 0; k < 8; k += 4)
        for (int h = 0; h < 2; h++) {
            s[k + 2 * h] = NL_V8_SHUFFLE(t[k + h], t[k + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            s[k + 2 * h + 1] = NL_V8_SHUFFLE(t[k + h], t[k + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int k = 0; k < 4; k++) {
        v[k] = NL_V8_SHUFFLE(s[k], s[k + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        v[k + 4] = NL_V8_SHUFFLE(s[k], s[k + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* Keep a loaded vector in a register. In register kernels gcc otherwise
 * folds the load into every multiply-add that uses it (6 loads where 1
 * will do), and the load ports, not the FMA units, set the pace. Only
 * where 32-byte vectors live in registers. */
#if defined(__AVX__)
#define NL_IN_REGISTER(v) __asm__("" : "+x"(v))
#else
#define NL_IN_REGISTER(v) ((void)0)
#endif

/* Short runs (an image row of 7-28 floats) copied or cleared in 8-float
 * vectors, the last one overlapping and shorter runs masked, so nothing is
 * read or written outside the run: one or two stores where a vectorized
 * loop would add a scalar tail of up to 7 (and gcc turns plain copy loops
 * into libc memcpy calls, whose per-call cost dominates runs this short,
 * unless -fno-tree-loop-distribute-patterns). */
#if defined(__AVX2__)
static inline __m256i nl_first_lanes(int count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

static inline void nl_copy_run(float *dst, const float *src, int count)
{
#if defined(__AVX2__)
    if (count < 8) {
        const __m256i mask = nl_first_lanes(count);
        _mm256_maskstore_ps(dst, mask, _mm256_maskload_ps(src, mask));
        return;
    }
    int k = 0;
    for (; k + 8 <= count; k += 8)
        nl_v8_store(dst + k, nl_v8_load(src + k));
    if (k < count)
        nl_v8_store(dst + count - 8, nl_v8_load(src + count - 8));
#else
    for (int k = 0; k < count; k++)
        dst[k] = src[k];
#endif
}

static inline void nl_zero_run(float *dst, int count)
{
#if defined(__AVX2__)
    if (count < 8) {
        _mm256_maskstore_ps(dst, nl_first_lanes(count), _mm256_setzero_ps());
        return;
    }
    int k = 0;
    for (; k + 8 <= count; k += 8)
        nl_v8_store(dst + k, (nl_v8){0});
    if (k < count)
        nl_v8_store(dst + count - 8, (nl_v8){0});
#else
    for (int k = 0; k < count; k++)
        dst[k] = 0.0f;
#endif
}

/* lane q of the result is the sum of v[q]'s 8 lanes, in a fixed order:
 * eight sums for 9 shuffles and adds, where one nl_v8_total each costs about
 * as many (GroupNorm's small groups paid that per 128 values) */
static inline nl_v8 nl_v8_totals8(const nl_v8 v[8])
{
    nl_v8 pair[4], quad[2];
    for (int k = 0; k < 4; k++) /* lanes (v2k: 01 23, v2k+1: 01 23 | the same of 4-7) */
        pair[k] = NL_V8_SHUFFLE(v[2 * k], v[2 * k + 1], 0, 2, 8, 10, 4, 6, 12, 14) +
                  NL_V8_SHUFFLE(v[2 * k], v[2 * k + 1], 1, 3, 9, 11, 5, 7, 13, 15);
    for (int k = 0; k < 2; k++) /* lanes (v4k..v4k+3: 0-3 | the same of 4-7) */
        quad[k] = NL_V8_SHUFFLE(pair[2 * k], pair[2 * k + 1], 0, 2, 8, 10, 4, 6, 12, 14) +
                  NL_V8_SHUFFLE(pair[2 * k], pair[2 * k + 1], 1, 3, 9, 11, 5, 7, 13, 15);
    return NL_V8_SHUFFLE(quad[0], quad[1], 0, 1, 2, 3, 8, 9, 10, 11) +
           NL_V8_SHUFFLE(quad[0], quad[1], 4, 5, 6, 7, 12, 13, 14, 15);
}

static inline double nl_v8_total(nl_v8 a)
{
    /* pairwise, in a fixed order */
    return (double)((a[0] + a[4]) + (a[2] + a[6])) + (double)((a[1] + a[5]) + (a[3] + a[7]));
}

/* one vector's term of nl_chunked_total: v itself, or (v - s)^2 */
static inline __attribute__((always_inline)) nl_v8 nl_chunk_term(nl_v8 v, nl_v8 s, bool squared)
{
    if (!squared)
        return v;
    const nl_v8 d = v - s;
    return d * d;
}

/* The sum of x[0..n), or with squared of (x - shift)^2: chunks of up to
 * NL_CHUNK values, 32 at a time into four accumulators, then 8 at a time,
 * then one by one; each chunk's float total goes into a double. Inlined
 * with squared a constant, each its own loop. */
static inline __attribute__((always_inline)) double nl_chunked_total(const float *x, size_t n,
                                                                     float shift, bool squared)
{
    const nl_v8 s = nl_v8_splat(shift);
    double total = 0.0;
    size_t i = 0;
    while (i + 8 <= n) {
        const size_t end = i + NL_CHUNK < n ? i + NL_CHUNK : n;
        nl_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        for (; i + 32 <= end; i += 32) {
            a0 += nl_chunk_term(nl_v8_load(x + i), s, squared);
            a1 += nl_chunk_term(nl_v8_load(x + i + 8), s, squared);
            a2 += nl_chunk_term(nl_v8_load(x + i + 16), s, squared);
            a3 += nl_chunk_term(nl_v8_load(x + i + 24), s, squared);
        }
        for (; i + 8 <= end; i += 8)
            a0 += nl_chunk_term(nl_v8_load(x + i), s, squared);
        total += nl_v8_total((a0 + a1) + (a2 + a3));
    }
    for (; i < n; i++) {
        if (squared) {
            const double d = (double)x[i] - shift;
            total += d * d;
        } else {
            total += x[i];
        }
    }
    return total;
}

/* sum of x[0..n) */
static inline double nl_sum(const float *x, size_t n)
{
    return nl_chunked_total(x, n, 0.0f, false);
}

/* sum of (x - shift)^2 over x[0..n) */
static inline double nl_sum_sq_dev(const float *x, size_t n, float shift)
{
    return nl_chunked_total(x, n, shift, true);
}

/* one vector's share of nl_moment_lanes_normalizing's sums about shift */
static inline __attribute__((always_inline)) void nl_moment_step(nl_v8 v, nl_v8 shift,
                                                                 nl_v8 *sum, nl_v8 *sum_sq)
{
    const nl_v8 d = v - shift;
    *sum += d;
    *sum_sq = nl_v8_fma(d, d, *sum_sq);
}

/* yn[i..i+8) = (xn - mean) * scale + offset, or with per-element
 * scale * gamma_n and beta_n (offset where beta_n is NULL); nothing without
 * xn. With relu, yn = relu(that + skip_n) (skip_n NULL: no add), rounded
 * as the add and activation ops round it. */
static inline __attribute__((always_inline)) void
nl_normalize_step_act(const float *xn, float *yn, size_t i, nl_v8 mean, nl_v8 scale, nl_v8 offset,
                      const float *gamma_n, const float *beta_n, const float *skip_n, bool relu)
{
    if (!xn)
        return;
    nl_v8 v = gamma_n ? nl_v8_fma(nl_v8_load(xn + i) - mean, scale * nl_v8_load(gamma_n + i),
                                  beta_n ? nl_v8_load(beta_n + i) : offset)
                      : nl_v8_fma(nl_v8_load(xn + i) - mean, scale, offset);
    if (relu) {
        if (skip_n)
            v = v + nl_v8_load(skip_n + i);
        v = nl_v8_relu(v);
    }
    nl_v8_store(yn + i, v);
}

static inline __attribute__((always_inline)) void
nl_normalize_step(const float *xn, float *yn, size_t i, nl_v8 mean, nl_v8 scale, nl_v8 offset,
                  const float *gamma_n, const float *beta_n)
{
    nl_normalize_step_act(xn, yn, i, mean, scale, offset, gamma_n, beta_n, NULL, false);
}

/* The lanes of the sums of (x - shift) and (x - shift)^2 over x[i..end),
 * stepping while 8 values remain, into *lanes_sum and *lanes_sum_sq; returns
 * where it stopped. With xn != NULL the same loop also writes
 * yn = (xn - mean) * scale + offset over the same range of another run (see
 * nl_moments_normalizing); with gamma_n != NULL the scale and offset are per
 * element, scale * gamma_n[k] and beta_n[k] (group norm on feature
 * vectors). */
static inline __attribute__((always_inline)) size_t
nl_moment_lanes_normalizing_act(const float *x, size_t i, size_t end, float shift,
                                nl_v8 *lanes_sum, nl_v8 *lanes_sum_sq, const float *xn, float *yn,
                                float mean, float scale, float offset, const float *gamma_n,
                                const float *beta_n, const float *skip_n, bool relu)
{
    const nl_v8 s = nl_v8_splat(shift), m = nl_v8_splat(mean), sc = nl_v8_splat(scale),
                off = nl_v8_splat(offset);
    nl_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
    /* each vector's sums are taken before the next vector is loaded: with
     * the four loads first, the eight accumulators, the constants and four
     * loaded vectors outnumbered the 16 registers and gcc kept an
     * accumulator on the stack, a store-to-load chain that held LayerNorm's
     * forward to ~2.5 cycles a vector */
    for (; i + 32 <= end; i += 32) {
        nl_moment_step(nl_v8_load(x + i), s, &a0, &b0);
        nl_normalize_step_act(xn, yn, i, m, sc, off, gamma_n, beta_n, skip_n, relu);
        nl_moment_step(nl_v8_load(x + i + 8), s, &a1, &b1);
        nl_normalize_step_act(xn, yn, i + 8, m, sc, off, gamma_n, beta_n, skip_n, relu);
        nl_moment_step(nl_v8_load(x + i + 16), s, &a2, &b2);
        nl_normalize_step_act(xn, yn, i + 16, m, sc, off, gamma_n, beta_n, skip_n, relu);
        nl_moment_step(nl_v8_load(x + i + 24), s, &a3, &b3);
        nl_normalize_step_act(xn, yn, i + 24, m, sc, off, gamma_n, beta_n, skip_n, relu);
    }
    for (; i + 8 <= end; i += 8) {
        nl_moment_step(nl_v8_load(x + i), s, &a0, &b0);
        nl_normalize_step_act(xn, yn, i, m, sc, off, gamma_n, beta_n, skip_n, relu);
    }
    *lanes_sum = (a0 + a1) + (a2 + a3);
    *lanes_sum_sq = (b0 + b1) + (b2 + b3);
    return i;
}

static inline __attribute__((always_inline)) size_t
nl_moment_lanes_normalizing(const float *x, size_t i, size_t end, float shift, nl_v8 *lanes_sum,
                            nl_v8 *lanes_sum_sq, const float *xn, float *yn, float mean,
                            float scale, float offset, const float *gamma_n, const float *beta_n)
{
    return nl_moment_lanes_normalizing_act(x, i, end, shift, lanes_sum, lanes_sum_sq, xn, yn, mean,
                                           scale, offset, gamma_n, beta_n, NULL, false);
}

/* adds the sums of (x - shift) and (x - shift)^2 over x[0..n): one pass for
 * mean and variance; with a shift near the mean (a value of the data) the
 * variance sum - sum^2/n loses nothing worth speaking of. With xn != NULL
 * the same loop also writes yn = (xn - mean) * scale + offset over another
 * run of n floats (BatchNorm normalizes one block while summing the next, so
 * the statistics read overlaps the writes of y); the sums' operations are
 * the same either way, so they do not depend on which run was fused. With
 * gamma_n != NULL the scale and offset are per element, scale * gamma_n[k]
 * and beta_n[k] (group norm on feature vectors). */
static inline __attribute__((always_inline)) void
nl_moments_normalizing_act(const float *x, size_t n, float shift, double *sum, double *sum_sq,
                           const float *xn, float *yn, float mean, float scale, float offset,
                           const float *gamma_n, const float *beta_n, const float *skip_n,
                           bool relu)
{
    double t1 = 0.0, t2 = 0.0;
    size_t i = 0;
    while (i + 8 <= n) {
        const size_t end = i + NL_CHUNK < n ? i + NL_CHUNK : n;
        nl_v8 lanes_sum, lanes_sum_sq;
        i = nl_moment_lanes_normalizing_act(x, i, end, shift, &lanes_sum, &lanes_sum_sq, xn, yn,
                                            mean, scale, offset, gamma_n, beta_n, skip_n, relu);
        t1 += nl_v8_total(lanes_sum);
        t2 += nl_v8_total(lanes_sum_sq);
    }
    for (; i < n; i++) {
        const double d = (double)x[i] - shift;
        t1 += d;
        t2 = fma(d, d, t2);
        if (xn) {
            float v = gamma_n ? nl_fmaf(xn[i] - mean, scale * gamma_n[i],
                                        beta_n ? beta_n[i] : offset)
                              : nl_fmaf(xn[i] - mean, scale, offset);
            if (relu)
                v = nl_relu1(skip_n ? v + skip_n[i] : v);
            yn[i] = v;
        }
    }
    *sum += t1;
    *sum_sq += t2;
}

static inline __attribute__((always_inline)) void
nl_moments_normalizing(const float *x, size_t n, float shift, double *sum,
                                          double *sum_sq, const float *xn, float *yn, float mean,
                                          float scale, float offset, const float *gamma_n,
                                          const float *beta_n)
{
    nl_moments_normalizing_act(x, n, shift, sum, sum_sq, xn, yn, mean, scale, offset, gamma_n,
                               beta_n, NULL, false);
}

static inline void nl_sum_shifted_moments(const float *x, size_t n, float shift, double *sum,
                                          double *sum_sq)
{
    nl_moments_normalizing(x, n, shift, sum, sum_sq, NULL, NULL, 0.0f, 0.0f, 0.0f, NULL, NULL);
}

/* dy[i..i+8), or with a mask y (the fused ReLU's output) dy where y > 0 */
static inline __attribute__((always_inline)) nl_v8 nl_dy_load(const float *dy, const float *y,
                                                               size_t i)
{
    const nl_v8 g = nl_v8_load(dy + i);
    return y ? nl_v8_pass_where(g, nl_v8_load(y + i)) : g;
}

/* one vector's share of nl_dy_moments_writing's sums of dy and
 * dy * (x - shift) */
static inline __attribute__((always_inline)) void
nl_dy_moment_step(const float *x, const float *dy, const float *y, size_t i, nl_v8 shift,
                  nl_v8 *sum_dy, nl_v8 *sum_dy_x)
{
    const nl_v8 g = nl_dy_load(dy, y, i);
    *sum_dy += g;
    *sum_dy_x = nl_v8_fma(g, nl_v8_load(x + i) - shift, *sum_dy_x);
}

/* dxn[i..i+8) = a*dyn + (b*(xn - mean) + k), added to dxn with accumulate;
 * nothing without dxn. With yn (a fused ReLU's output) dyn is taken where
 * yn > 0 only, and with dskipn that masked dyn is written (or added, with
 * accumulate_skip) there too: the residual add's other input. */
static inline __attribute__((always_inline)) void
nl_dx_step(const float *xn, const float *dyn, const float *yn, float *dxn, float *dskipn,
           size_t i, bool accumulate, bool accumulate_skip, nl_v8 a, nl_v8 b, nl_v8 mean,
           nl_v8 k)
{
    if (!dxn)
        return;
    const nl_v8 g = nl_dy_load(dyn, yn, i);
    nl_v8 v = nl_v8_fma(a, g, nl_v8_fma(b, nl_v8_load(xn + i) - mean, k));
    if (accumulate)
        v += nl_v8_load(dxn + i);
    nl_v8_store(dxn + i, v);
    if (dskipn)
        nl_v8_store(dskipn + i, accumulate_skip ? nl_v8_load(dskipn + i) + g : g);
}

/* adds the sums of dy and of dy * (x - shift) over [0..n), every multiply-add
 * written out, so that the sums are the same whether or not the loop also
 * writes dxn = a*dyn + (b*(xn - mean) + k) over
 * another run of n floats (added to dxn with accumulate): GroupNorm's
 * backward writes one block's input gradient while summing the next.
 * With y and yn (a fused ReLU's outputs over the two runs) dy and dyn
 * count only where they are > 0, and dskipn takes the masked dyn
 * (nl_dx_step). */
static inline __attribute__((always_inline)) void
nl_dy_moments_writing_act(const float *x, const float *dy, const float *y, size_t n, float shift,
                          double *sum_dy, double *sum_dy_x, const float *xn, const float *dyn,
                          const float *yn, float *dxn, float *dskipn, bool accumulate,
                          bool accumulate_skip, float a, float b, float mean, float k)
{
    const nl_v8 s = nl_v8_splat(shift), va = nl_v8_splat(a), vb = nl_v8_splat(b),
                vm = nl_v8_splat(mean), vk = nl_v8_splat(k);
    double t_dy = 0.0, t_dyx = 0.0;
    size_t i = 0;
    while (i + 8 <= n) {
        const size_t end = i + NL_CHUNK < n ? i + NL_CHUNK : n;
        nl_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
        /* vector by vector, for the registers' sake (see
         * nl_moment_lanes_normalizing) */
        for (; i + 32 <= end; i += 32) {
            nl_dy_moment_step(x, dy, y, i, s, &a0, &b0);
            nl_dx_step(xn, dyn, yn, dxn, dskipn, i, accumulate, accumulate_skip, va, vb, vm, vk);
            nl_dy_moment_step(x, dy, y, i + 8, s, &a1, &b1);
            nl_dx_step(xn, dyn, yn, dxn, dskipn, i + 8, accumulate, accumulate_skip, va, vb, vm,
                       vk);
            nl_dy_moment_step(x, dy, y, i + 16, s, &a2, &b2);
            nl_dx_step(xn, dyn, yn, dxn, dskipn, i + 16, accumulate, accumulate_skip, va, vb, vm,
                       vk);
            nl_dy_moment_step(x, dy, y, i + 24, s, &a3, &b3);
            nl_dx_step(xn, dyn, yn, dxn, dskipn, i + 24, accumulate, accumulate_skip, va, vb, vm,
                       vk);
        }
        for (; i + 8 <= end; i += 8) {
            nl_dy_moment_step(x, dy, y, i, s, &a0, &b0);
            nl_dx_step(xn, dyn, yn, dxn, dskipn, i, accumulate, accumulate_skip, va, vb, vm, vk);
        }
        t_dy += nl_v8_total((a0 + a1) + (a2 + a3));
        t_dyx += nl_v8_total((b0 + b1) + (b2 + b3));
    }
    for (; i < n; i++) {
        const float g = y ? nl_pass_where1(dy[i], y[i]) : dy[i];
        t_dy += g;
        t_dyx = fma((double)g, (double)x[i] - shift, t_dyx);
        if (dxn) {
            const float gn = yn ? nl_pass_where1(dyn[i], yn[i]) : dyn[i];
            const float v = nl_fmaf(a, gn, nl_fmaf(b, xn[i] - mean, k));
            dxn[i] = accumulate ? dxn[i] + v : v;
            if (dskipn)
                dskipn[i] = accumulate_skip ? dskipn[i] + gn : gn;
        }
    }
    *sum_dy += t_dy;
    *sum_dy_x += t_dyx;
}

/* dx = a*g + (b*(x - mean) + k) over [0..n), added to dx with accumulate:
 * g is dy, or with y (a fused ReLU's output) dy where y > 0, which dskip
 * (NULL: none) then takes, added with accumulate_skip. A plane of batch or
 * group norm's input gradient written on its own (nl_dy_moments_writing_act
 * writes one while summing the next). */
static inline __attribute__((always_inline)) void
nl_dx_plane(const float *x, const float *dy, const float *y, float *dx, float *dskip, int n,
            bool accumulate, bool accumulate_skip, float a, float b, float mean, float k)
{
    if (!y) {
        _Pragma("omp simd")
        for (int i = 0; i < n; i++) {
            const float v = nl_fmaf(a, dy[i], nl_fmaf(b, x[i] - mean, k));
            dx[i] = accumulate ? dx[i] + v : v;
        }
        return;
    }
    _Pragma("omp simd")
    for (int i = 0; i < n; i++) {
        const float g = nl_pass_where1(dy[i], y[i]);
        const float v = nl_fmaf(a, g, nl_fmaf(b, x[i] - mean, k));
        dx[i] = accumulate ? dx[i] + v : v;
        if (dskip)
            dskip[i] = accumulate_skip ? dskip[i] + g : g;
    }
}

static inline __attribute__((always_inline)) void
nl_dy_moments_writing(const float *x, const float *dy, size_t n, float shift, double *sum_dy,
                      double *sum_dy_x, const float *xn, const float *dyn, float *dxn,
                      bool accumulate, float a, float b, float mean, float k)
{
    nl_dy_moments_writing_act(x, dy, NULL, n, shift, sum_dy, sum_dy_x, xn, dyn, NULL, dxn, NULL,
                              accumulate, false, a, b, mean, k);
}

/* the same with dy taken where y > 0 only (a fused ReLU's output; NULL: all) */
static inline void nl_sum_dy_dyx_act(const float *x, const float *dy, const float *y, size_t n,
                                     float shift, double *sum_dy, double *sum_dy_x)
{
    nl_dy_moments_writing_act(x, dy, y, n, shift, sum_dy, sum_dy_x, NULL, NULL, NULL, NULL, NULL,
                              false, false, 0.0f, 0.0f, 0.0f, 0.0f);
}

static inline void nl_sum_dy_dyx(const float *x, const float *dy, size_t n, float shift,
                                 double *sum_dy, double *sum_dy_x)
{
    nl_dy_moments_writing(x, dy, n, shift, sum_dy, sum_dy_x, NULL, NULL, NULL, false, 0.0f, 0.0f,
                          0.0f, 0.0f);
}

#endif
