/* Max and average pooling, one (sample, channel) plane per iteration.
 * Average pooling counts padded positions (PyTorch's count_include_pad).
 * The 2x2 stride-2 window of the CNN stages has its own loops without bounds
 * checks, forward and backward; everything else takes the general ones.
 *
 * relu_input pools relu(x): each candidate is clamped exactly as the ReLU
 * layer does (x > 0 ? x : 0) before the same comparisons, so the outputs and
 * gradients are those of ReLU followed by max pooling, bit for bit (but for
 * overlapping windows adding to an existing gradient: there each window's
 * share is added in turn, not their sum), while the input is read once and
 * no ReLU output is stored. An output of 0 passes no gradient
 * (ReLU's derivative there is 0 whichever input was the maximum), and its
 * argmax is -1. */
#include <float.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/reduce.h"

static bool is_2x2_s2(const nl_pool_geom *g)
{
    return g->kernel_h == 2 && g->kernel_w == 2 && g->stride == 2 && g->pad == 0;
}

/* one candidate against the running maximum: the first maximum in window
 * order wins and NaN propagates, as in PyTorch; selects, not branches, since
 * on real data the comparison is a coin flip */
#define TAKE_IF_GREATER(v, index)                                                                  \
    do {                                                                                           \
        const bool take_ = (v) > best || (v) != (v);                                               \
        best = take_ ? (v) : best;                                                                 \
        at = take_ ? (index) : at;                                                                 \
    } while (0)

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t v8i_u __attribute__((vector_size(32), aligned(4), may_alias));

/* the candidate replaces the running maximum where it is greater or NaN */
#define TAKE_V(v, index)                                                                           \
    do {                                                                                           \
        const v8i take_ = ((v) > best) | ((v) != (v));                                             \
        best = (v8f)(((v8i)(v) & take_) | ((v8i)best & ~take_));                                   \
        at = ((index) & take_) | (at & ~take_);                                                    \
    } while (0)

/* relu as the ReLU layer computes it, lane by lane */
static inline v8f relu_v(v8f v)
{
#if defined(__AVX__)
    return (v8f)_mm256_max_ps((__m256)v, _mm256_setzero_ps()); /* v > 0 ? v : 0 */
#else
    return (v8f)((v8i)v & (v > (v8f){0}));
#endif
}

/* a > b ? a : b, for values that are not NaN */
static inline v8f max_v(v8f a, v8f b)
{
#if defined(__AVX__)
    return (v8f)_mm256_max_ps((__m256)a, (__m256)b);
#else
    return (v8f)(((v8i)a & (a > b)) | ((v8i)b & ~(a > b)));
#endif
}

/* mask ? a : b lane by lane; mask lanes are all ones or all zeros */
static inline v8i select_v(v8i mask, v8i a, v8i b)
{
#if defined(__AVX__)
    return (v8i)_mm256_blendv_ps((__m256)b, (__m256)a, (__m256)mask);
#else
    return (a & mask) | (b & ~mask);
#endif
}

/* eight outputs of one output row starting at column ow */
static inline void max_2x2_vec(const float *r0, const float *r1, int w, int32_t row0, int ow,
                               bool relu, float *yr, int32_t *ar)
{
    const v8i lanes = {0, 2, 4, 6, 8, 10, 12, 14};
    const v8f a_lo = *(const v8f_u *)(r0 + 2 * ow), a_hi = *(const v8f_u *)(r0 + 2 * ow + 8);
    const v8f b_lo = *(const v8f_u *)(r1 + 2 * ow), b_hi = *(const v8f_u *)(r1 + 2 * ow + 8);
    const v8i i0 = (row0 + 2 * ow) + lanes;
    v8f best = nl_v8_evens(a_lo, a_hi);
    v8f a1 = nl_v8_odds(a_lo, a_hi), b0 = nl_v8_evens(b_lo, b_hi), b1 = nl_v8_odds(b_lo, b_hi);
    if (relu) {
        /* clamped, nothing is NaN: the maximum first, then the first
         * candidate equal to it, instead of three compare-and-select steps
         * that must also watch for NaN */
        const v8f a0 = relu_v(best);
        a1 = relu_v(a1);
        b0 = relu_v(b0);
        b1 = relu_v(b1);
        best = max_v(max_v(a0, a1), max_v(b0, b1));
        v8i at = i0 + (w + 1);
        at = select_v(b0 == best, i0 + w, at);
        at = select_v(a1 == best, i0 + 1, at);
        at = select_v(a0 == best, i0, at);
        at |= ~(v8i)(best > (v8f){0}); /* -1: no gradient */
        *(v8f_u *)(yr + ow) = best;
        *(v8i_u *)(ar + ow) = at;
        return;
    }
    v8i at = i0;
    TAKE_V(a1, i0 + 1);
    TAKE_V(b0, i0 + w);
    TAKE_V(b1, i0 + (w + 1));
    *(v8f_u *)(yr + ow) = best;
    *(v8i_u *)(ar + ow) = at;
}

static inline float relu_s(float v) { return v > 0.0f ? v : 0.0f; }

static inline __attribute__((always_inline)) void
max_2x2(const nl_pool_geom *g, const float *xp, float *yp, int32_t *am, size_t base, bool relu)
{
    const int w = g->in_w, ow_n = g->out_w;
    for (int oh = 0; oh < g->out_h; oh++) {
        const float *r0 = xp + (size_t)(2 * oh) * w, *r1 = r0 + w;
        float *yr = yp + (size_t)oh * ow_n;
        int32_t *ar = am + (size_t)oh * ow_n;
        const int32_t row0 = (int32_t)(base + (size_t)(2 * oh) * w);
        const bool last_row = oh == g->out_h - 1;
        int ow = 0;
        for (; ow + 8 <= ow_n; ow += 8)
            max_2x2_vec(r0, r1, w, row0, ow, relu, yr, ar);
        if (ow < ow_n && ow_n >= 8) {
            /* the last eight outputs again, overlapping: same values */
            max_2x2_vec(r0, r1, w, row0, ow_n - 8, relu, yr, ar);
            continue;
        }
        if (ow < ow_n && !last_row && 2 * ow + 16 <= 2 * w) {
            /* a row narrower than eight outputs: the vector also writes the
             * first outputs of the next row, which that row then rewrites;
             * the reads stay inside the next input rows (2 * w floats) */
            max_2x2_vec(r0, r1, w, row0, ow, relu, yr, ar);
            continue;
        }
        for (; ow < ow_n; ow++) {
            const int32_t i0 = row0 + 2 * ow;
            float c1 = r0[2 * ow + 1], c2 = r1[2 * ow], c3 = r1[2 * ow + 1];
            float best = r0[2 * ow];
            if (relu) {
                best = relu_s(best);
                c1 = relu_s(c1);
                c2 = relu_s(c2);
                c3 = relu_s(c3);
            }
            int32_t at = i0;
            TAKE_IF_GREATER(c1, i0 + 1);
            TAKE_IF_GREATER(c2, i0 + w);
            TAKE_IF_GREATER(c3, i0 + w + 1);
            yr[ow] = best;
            ar[ow] = relu && !(best > 0.0f) ? -1 : at;
        }
    }
}

/* dx of one plane, every element written once (or added to once): dy where
 * the position is its window's argmax, 0 elsewhere. The scatter this
 * replaces cleared the plane first and then wrote a quarter of it again.
 * Same values as that scatter bit for bit, signed zeros included: a new dx
 * is 0 + dy, an accumulated one old + dy where matched and old elsewhere. */
/* match ? base + dy2 : base, where base is the old dx or 0 */
static inline v8f grad_select(v8f match, v8f dy2, v8f base)
{
    const v8i m = (v8i)match;
    return (v8f)(((v8i)(base + dy2) & m) | ((v8i)base & ~m));
}

static inline void max_2x2_grad_vec(const float *dyr, const int32_t *ar, int w, int32_t row0,
                                    int ow, bool accumulate, float *r0, float *r1)
{
    const v8i lanes = {0, 2, 4, 6, 8, 10, 12, 14};
    const v8i offset = *(const v8i_u *)(ar + ow) - ((row0 + 2 * ow) + lanes);
    const v8f d = *(const v8f_u *)(dyr + ow);
    const v8f top_even = (v8f)(offset == 0), top_odd = (v8f)(offset == 1);
    const v8f bottom_even = (v8f)(offset == w), bottom_odd = (v8f)(offset == w + 1);
    const v8f d_lo = nl_v8_interleave_lo(d, d), d_hi = nl_v8_interleave_hi(d, d);
    float *t = r0 + 2 * ow, *b = r1 + 2 * ow;
    const v8f zero = {0};
    const v8f t_lo = grad_select(nl_v8_interleave_lo(top_even, top_odd), d_lo,
                                 accumulate ? (v8f)(*(v8f_u *)t) : zero);
    const v8f t_hi = grad_select(nl_v8_interleave_hi(top_even, top_odd), d_hi,
                                 accumulate ? (v8f)(*(v8f_u *)(t + 8)) : zero);
    const v8f b_lo = grad_select(nl_v8_interleave_lo(bottom_even, bottom_odd), d_lo,
                                 accumulate ? (v8f)(*(v8f_u *)b) : zero);
    const v8f b_hi = grad_select(nl_v8_interleave_hi(bottom_even, bottom_odd), d_hi,
                                 accumulate ? (v8f)(*(v8f_u *)(b + 8)) : zero);
    *(v8f_u *)t = t_lo;
    *(v8f_u *)(t + 8) = t_hi;
    *(v8f_u *)b = b_lo;
    *(v8f_u *)(b + 8) = b_hi;
}

static void max_2x2_backward(const nl_pool_geom *g, const float *dyp, const int32_t *am,
                             size_t base, float *dxp, bool accumulate)
{
    const int w = g->in_w, ow_n = g->out_w;
    /* an odd last row or column is in no window */
    if (!accumulate && ((g->in_h | g->in_w) & 1))
        memset(dxp, 0, (size_t)g->in_h * w * sizeof *dxp);
    for (int oh = 0; oh < g->out_h; oh++) {
        float *r0 = dxp + (size_t)(2 * oh) * w, *r1 = r0 + w;
        const float *dyr = dyp + (size_t)oh * ow_n;
        const int32_t *ar = am + (size_t)oh * ow_n;
        const int32_t row0 = (int32_t)(base + (size_t)(2 * oh) * w);
        int ow = 0;
        for (; ow + 8 <= ow_n; ow += 8)
            max_2x2_grad_vec(dyr, ar, w, row0, ow, accumulate, r0, r1);
        if (ow < ow_n && !accumulate) {
            /* the last eight windows again, overlapping: the same values */
            max_2x2_grad_vec(dyr, ar, w, row0, ow_n - 8, false, r0, r1);
            continue;
        }
        for (; ow < ow_n; ow++) {
            const int32_t offset = ar[ow] - (row0 + 2 * ow);
            const float d = dyr[ow];
            float *t = r0 + 2 * ow, *b = r1 + 2 * ow;
            float *const at[4] = {t, t + 1, b, b + 1};
            const int32_t where[4] = {0, 1, w, w + 1};
            for (int k = 0; k < 4; k++) {
                const float base = accumulate ? *at[k] : 0.0f;
                *at[k] = offset == where[k] ? base + d : base;
            }
        }
    }
}

static void avg_2x2(const nl_pool_geom *g, const float *xp, float *yp)
{
    const int w = g->in_w;
    for (int oh = 0; oh < g->out_h; oh++) {
        const float *r0 = xp + (size_t)(2 * oh) * w, *r1 = r0 + w;
        float *yr = yp + (size_t)oh * g->out_w;
        for (int ow = 0; ow < g->out_w; ow++)
            yr[ow] = (r0[2 * ow] + r0[2 * ow + 1] + r1[2 * ow] + r1[2 * ow + 1]) * 0.25f;
    }
}

static void pool_general(const nl_pool_geom *g, const float *xp, float *yp, int32_t *am,
                         size_t base)
{
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    for (int oh = 0; oh < g->out_h; oh++) {
        for (int ow = 0; ow < g->out_w; ow++) {
            const int h0 = oh * g->stride - g->pad, w0 = ow * g->stride - g->pad;
            float best = -FLT_MAX, sum = 0.0f;
            int best_at = -1;
            for (int kh = 0; kh < g->kernel_h; kh++) {
                const int ih = h0 + kh;
                if (ih < 0 || ih >= g->in_h)
                    continue;
                for (int kw = 0; kw < g->kernel_w; kw++) {
                    const int iw = w0 + kw;
                    if (iw < 0 || iw >= g->in_w)
                        continue;
                    float v = xp[ih * g->in_w + iw];
                    if (g->relu_input)
                        v = relu_s(v);
                    sum += v;
                    if (best_at < 0 || v > best || v != v) {
                        best = v;
                        best_at = ih * g->in_w + iw;
                    }
                }
            }
            const size_t o = (size_t)oh * g->out_w + ow;
            if (g->kind == NL_POOL_MAX) {
                yp[o] = best;
                am[o] = g->relu_input && !(best > 0.0f) ? -1 : (int32_t)(base + (size_t)best_at);
            } else {
                yp[o] = sum * inv_area;
            }
        }
    }
}

void nl_cpu_pool_forward(nl_backend *be, const nl_pool_geom *g, int n, const float *x, float *y,
                         int32_t *argmax)
{
    (void)be;
    const int planes = n * g->c;
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    const bool fast = is_2x2_s2(g);
    #pragma omp parallel for schedule(static) if (planes * in_plane >= NL_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        float *yp = y + pl * out_plane;
        int32_t *am = argmax ? argmax + pl * out_plane : NULL;
        if (fast && g->kind == NL_POOL_MAX && g->relu_input)
            max_2x2(g, xp, yp, am, pl * in_plane, true);
        else if (fast && g->kind == NL_POOL_MAX)
            max_2x2(g, xp, yp, am, pl * in_plane, false);
        else if (fast)
            avg_2x2(g, xp, yp);
        else
            pool_general(g, xp, yp, am, pl * in_plane);
    }
}

void nl_cpu_pool_backward(nl_backend *be, const nl_pool_geom *g, int n, const float *dy,
                          const int32_t *argmax, float *dx, bool accumulate_dx)
{
    (void)be;
    const int planes = n * g->c;
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    /* at fewer than 8 windows a row, the scalar tail costs more than the
     * clearing it saves (14x14 maps: 38 against 14 us at batch 8) */
    const bool fast = is_2x2_s2(g) && g->kind == NL_POOL_MAX && g->out_w >= 8;
    #pragma omp parallel for schedule(static) if (planes * in_plane >= NL_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in_plane;
        const float *dyp = dy + pl * out_plane;
        if (fast) {
            max_2x2_backward(g, dyp, argmax + pl * out_plane, pl * in_plane, dxp, accumulate_dx);
            continue;
        }
        if (!accumulate_dx)
            memset(dxp, 0, in_plane * sizeof *dxp);
        if (g->kind == NL_POOL_MAX) {
            const int32_t *am = argmax + pl * out_plane;
            for (size_t o = 0; o < out_plane; o++)
                if (am[o] >= 0)
                    dx[am[o]] += dyp[o];
            continue;
        }
        for (int oh = 0; oh < g->out_h; oh++) {
            for (int ow = 0; ow < g->out_w; ow++) {
                const float d = dyp[oh * g->out_w + ow] * inv_area;
                const int h0 = oh * g->stride - g->pad, w0 = ow * g->stride - g->pad;
                for (int kh = 0; kh < g->kernel_h; kh++) {
                    const int ih = h0 + kh;
                    if (ih < 0 || ih >= g->in_h)
                        continue;
                    for (int kw = 0; kw < g->kernel_w; kw++) {
                        const int iw = w0 + kw;
                        if (iw >= 0 && iw < g->in_w)
                            dxp[ih * g->in_w + iw] += d;
                    }
                }
            }
        }
    }
}
