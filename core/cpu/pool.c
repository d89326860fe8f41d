/* Max and average pooling, one (sample, channel) plane per iteration.
 * Average pooling counts padded positions (PyTorch's count_include_pad).
 * The 2x2 stride-2 window of the CNN stages has its own loops without bounds
 * checks, forward and backward; everything else takes the general ones.
 *
 * relu_input pools relu(x): each candidate is clamped exactly as the ReLU
 * layer does (x <= 0 ? +0 : x, NaN kept) before the same comparisons, so the outputs and
 * gradients are those of ReLU followed by max pooling, bit for bit (but for
 * overlapping windows adding to an existing gradient: there each window's
 * share is added in turn, not their sum), while the input is read once and
 * no ReLU output is stored. An output of 0 passes no gradient
 * (ReLU's derivative there is 0 whichever input was the maximum), and its
 * argmax is -1; a NaN, which the ReLU keeps, passes it (torch's
 * threshold_backward), so that a NaN reaches the loss (issue 118). */
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

/* relu as the ReLU layer computes it, lane by lane: v <= 0 ? +0 : v (a
 * NaN stays NaN, as in torch.relu) */
static inline v8f relu_v(v8f v) { return (v8f)((v8i)v & ~(v <= (v8f){0})); }

/* a > b ? a : b, for values that are not NaN */
static inline v8f max_v(v8f a, v8f b)
{
#if defined(__AVX__)
    return (v8f)_mm256_max_ps((__m256)a, (__m256)b);
#else
    return (v8f)(((v8i)a & (a > b)) | ((v8i)b & ~(a > b)));
#endif
}

/* the lanes where a or b is NaN */
static inline v8i unordered_v(v8f a, v8f b)
{
#if defined(__AVX__)
    return (v8i)_mm256_cmp_ps((__m256)a, (__m256)b, _CMP_UNORD_Q);
#else
    return (a != a) | (b != b);
#endif
}

/* whether any lane of a mask is set */
static inline bool any_v(v8i mask)
{
#if defined(__AVX__)
    return !_mm256_testz_si256((__m256i)mask, (__m256i)mask);
#else
    int any = 0;
    for (int k = 0; k < 8; k++)
        any |= mask[k];
    return any != 0;
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

/* The 2x2 kernels take a window row's 16 input columns as two vectors and
 * split them into even and odd columns with in-lane shuffles (vshufps), which
 * leaves the eight windows in the lane order WINDOW_ORDER; everything after
 * is lane by lane, and one 64-bit permute puts the results back in order.
 * Splitting with cross-lane permutes (what even/odd selection across two
 * vectors compiles to) takes eight vpermd per eight outputs, which made the
 * forward slower than the backward. */
#define WINDOW_ORDER 0, 1, 4, 5, 2, 3, 6, 7
static inline v8f evens_in_lane(v8f lo, v8f hi) { return NL_V8_SHUFFLE(lo, hi, 0, 2, 8, 10, 4, 6, 12, 14); }
static inline v8f odds_in_lane(v8f lo, v8f hi) { return NL_V8_SHUFFLE(lo, hi, 1, 3, 9, 11, 5, 7, 13, 15); }
/* WINDOW_ORDER to window order and back (the permutation is its own inverse) */
static inline v8f window_order_f(v8f v) { return NL_V8_SHUFFLE(v, v, WINDOW_ORDER); }
static inline v8i window_order_i(v8i v) { return NL_V8_SHUFFLE(v, v, WINDOW_ORDER); }

/* the maxima of the eight windows over 16 columns of input rows a (top) and
 * b (bottom); i0: the windows' first input indices in WINDOW_ORDER, the
 * order of the result too */
typedef struct {
    v8f best;
    v8i at;
} window_max;

static inline window_max max_2x2_windows(v8f a_lo, v8f a_hi, v8f b_lo, v8f b_hi, v8i i0, int w,
                                         bool relu)
{
    v8f best = evens_in_lane(a_lo, a_hi);
    v8f a1 = odds_in_lane(a_lo, a_hi), b0 = evens_in_lane(b_lo, b_hi), b1 = odds_in_lane(b_lo, b_hi);
    if (relu) {
        const v8f a0 = relu_v(best);
        a1 = relu_v(a1);
        b0 = relu_v(b0);
        b1 = relu_v(b1);
        /* a NaN kept by the ReLU (issue 118): the comparisons of the
         * unfused pool, which keep it; its gradient passes to it */
        if (any_v(unordered_v(a0, a1) | unordered_v(b0, b1))) {
            best = a0;
            v8i at = i0;
            TAKE_V(a1, i0 + 1);
            TAKE_V(b0, i0 + w);
            TAKE_V(b1, i0 + (w + 1));
            return (window_max){best, at | (v8i)(best <= (v8f){0})}; /* NaN: not -1 */
        }
        /* no NaN: the maximum first, then the first candidate equal to it,
         * instead of three compare-and-select steps that must also watch
         * for NaN */
        best = max_v(max_v(a0, a1), max_v(b0, b1));
        v8i at = i0 + (w + 1);
        at = select_v(b0 == best, i0 + w, at);
        at = select_v(a1 == best, i0 + 1, at);
        at = select_v(a0 == best, i0, at);
        at |= ~(v8i)(best > (v8f){0}); /* -1: no gradient */
        return (window_max){best, at};
    }
    v8i at = i0;
    TAKE_V(a1, i0 + 1);
    TAKE_V(b0, i0 + w);
    TAKE_V(b1, i0 + (w + 1));
    return (window_max){best, at};
}

/* each window's first column relative to the first window's, in WINDOW_ORDER */
static const v8i window_columns = {0, 2, 8, 10, 4, 6, 12, 14};

/* eight outputs of one output row starting at column ow */
static inline void max_2x2_vec(const float *r0, const float *r1, int w, int32_t row0, int ow,
                               bool relu, float *yr, int32_t *ar)
{
    const float *t = r0 + 2 * ow, *u = r1 + 2 * ow;
    const window_max m = max_2x2_windows(*(const v8f_u *)t, *(const v8f_u *)(t + 8),
                                         *(const v8f_u *)u, *(const v8f_u *)(u + 8),
                                         (row0 + 2 * ow) + window_columns, w, relu);
    *(v8f_u *)(yr + ow) = window_order_f(m.best);
    *(v8i_u *)(ar + ow) = window_order_i(m.at);
}

#if defined(__AVX2__)
/* lanes below count set, as a mask vector */
static inline v8i lanes_below(int count) { return (v8i){0, 1, 2, 3, 4, 5, 6, 7} < count; }
static inline v8f load_lanes(const float *p, v8i mask)
{
    return (v8f)_mm256_maskload_ps(p, (__m256i)mask); /* masked-off lanes: 0, never read */
}

/* a row of fewer than eight windows that a whole vector may not run past (a
 * plane's last row, or inputs under 8 wide): the loads stop at the row's
 * end, and the outputs go out one by one (a masked store, vmaskmovps, is
 * slow on AMD Zen cores) */
static inline void max_2x2_narrow_row(const float *r0, const float *r1, int w,
                                           int32_t row0, int ow_n, bool relu, float *yr,
                                           int32_t *ar)
{
    const v8i lo = lanes_below(2 * ow_n), hi = lanes_below(2 * ow_n - 8);
    const window_max m = max_2x2_windows(load_lanes(r0, lo), load_lanes(r0 + 8, hi),
                                         load_lanes(r1, lo), load_lanes(r1 + 8, hi),
                                         row0 + window_columns, w, relu);
    const v8f best = window_order_f(m.best);
    const v8i at = window_order_i(m.at);
    for (int k = 0; k < ow_n; k++) {
        yr[k] = best[k];
        ar[k] = at[k];
    }
}
#endif

static inline float relu_s(float v) { return v <= 0.0f ? 0.0f : v; }

static inline __attribute__((always_inline)) void
max_2x2(const nl_pool_geom *g, const float *xp, float *yp, int32_t *am, size_t base, bool relu)
{
    const int w = g->in_w, ow_n = g->out_w;
    for (int oh = 0; oh < g->out_h; oh++) {
        const float *r0 = xp + (size_t)(2 * oh) * w, *r1 = r0 + w;
        float *yr = yp + (size_t)oh * ow_n;
        int32_t *ar = am + (size_t)oh * ow_n;
        const int32_t row0 = (int32_t)(base + (size_t)(2 * oh) * w);
        int ow = 0;
        for (; ow + 8 <= ow_n; ow += 8)
            max_2x2_vec(r0, r1, w, row0, ow, relu, yr, ar);
        if (ow < ow_n && ow_n >= 8) {
            /* the last eight outputs again, overlapping: same values */
            max_2x2_vec(r0, r1, w, row0, ow_n - 8, relu, yr, ar);
            continue;
        }
        if (ow < ow_n && oh < g->out_h - 1 && 2 * w >= 16) {
            /* a row narrower than eight outputs: the vector also writes the
             * first outputs of the next row, which that row then rewrites
             * (the same thread: a plane is one thread's); the reads stay
             * inside the next input rows (2 * w floats) */
            max_2x2_vec(r0, r1, w, row0, ow, relu, yr, ar);
            continue;
        }
#if defined(__AVX2__)
        if (ow < ow_n) {
            max_2x2_narrow_row(r0, r1, w, row0, ow_n, relu, yr, ar);
            continue;
        }
#endif
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
            ar[ow] = relu && best <= 0.0f ? -1 : at; /* NaN: not -1 */
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

/* each of eight values twice, for the 16 columns of the eight windows:
 * v in WINDOW_ORDER gives columns 0-7 (lo) and 8-15 (hi) with in-lane
 * unpacks */
static inline v8f twice_lo(v8f v) { return NL_V8_SHUFFLE(v, v, 0, 8, 1, 9, 4, 12, 5, 13); }
static inline v8f twice_hi(v8f v) { return NL_V8_SHUFFLE(v, v, 2, 10, 3, 11, 6, 14, 7, 15); }

/* dx of the 2 x 16 inputs under eight windows, as four vectors (top row lo and
 * hi, bottom row lo and hi); the windows' dy and argmax in window order, base
 * the old dx (accumulating) or 0 */
typedef struct {
    v8f top_lo, top_hi, bottom_lo, bottom_hi;
} window_grad;

static inline window_grad max_2x2_grads(v8f d, v8i argmax, int w, int32_t first, v8f t_lo,
                                        v8f t_hi, v8f b_lo, v8f b_hi)
{
    const v8i window_starts = {0, 2, 4, 6, 8, 10, 12, 14};
    const v8f offset = (v8f)window_order_i(argmax - (first + window_starts));
    const v8f d_ordered = window_order_f(d);
    const v8f d_lo = twice_lo(d_ordered), d_hi = twice_hi(d_ordered);
    const v8i off_lo = (v8i)twice_lo(offset), off_hi = (v8i)twice_hi(offset);
    const v8i parity = {0, 1, 0, 1, 0, 1, 0, 1};
    return (window_grad){grad_select((v8f)(off_lo == parity), d_lo, t_lo),
                         grad_select((v8f)(off_hi == parity), d_hi, t_hi),
                         grad_select((v8f)(off_lo == parity + w), d_lo, b_lo),
                         grad_select((v8f)(off_hi == parity + w), d_hi, b_hi)};
}

static inline void max_2x2_grad_vec(const float *dyr, const int32_t *ar, int w, int32_t row0,
                                    int ow, bool accumulate, float *r0, float *r1)
{
    float *t = r0 + 2 * ow, *b = r1 + 2 * ow;
    const v8f zero = {0};
    const window_grad g = max_2x2_grads(
        *(const v8f_u *)(dyr + ow), *(const v8i_u *)(ar + ow), w, row0 + 2 * ow,
        accumulate ? (v8f)(*(v8f_u *)t) : zero, accumulate ? (v8f)(*(v8f_u *)(t + 8)) : zero,
        accumulate ? (v8f)(*(v8f_u *)b) : zero, accumulate ? (v8f)(*(v8f_u *)(b + 8)) : zero);
    *(v8f_u *)t = g.top_lo;
    *(v8f_u *)(t + 8) = g.top_hi;
    *(v8f_u *)b = g.bottom_lo;
    *(v8f_u *)(b + 8) = g.bottom_hi;
}

#if defined(__AVX2__)
/* a row of fewer than eight windows where whole vectors may not be written
 * (a plane's last row, accumulating, an odd width): masked loads, and the
 * 2 x 2 ow_n inputs written one by one */
static inline void max_2x2_grad_narrow(const float *dyr, const int32_t *ar, int w, int32_t row0,
                                       int ow_n, bool accumulate, float *r0, float *r1)
{
    const v8i windows = lanes_below(ow_n), lo = lanes_below(2 * ow_n),
              hi = lanes_below(2 * ow_n - 8);
    const v8f zero = {0};
    const window_grad g = max_2x2_grads(
        load_lanes(dyr, windows), (v8i)_mm256_maskload_epi32(ar, (__m256i)windows), w, row0,
        accumulate ? load_lanes(r0, lo) : zero, accumulate ? load_lanes(r0 + 8, hi) : zero,
        accumulate ? load_lanes(r1, lo) : zero, accumulate ? load_lanes(r1 + 8, hi) : zero);
    for (int k = 0; k < 2 * ow_n; k++) {
        r0[k] = k < 8 ? g.top_lo[k] : g.top_hi[k - 8];
        r1[k] = k < 8 ? g.bottom_lo[k] : g.bottom_hi[k - 8];
    }
}
#endif

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
        if (ow < ow_n && ow_n >= 8 && !accumulate) {
            /* the last eight windows again, overlapping: the same values */
            max_2x2_grad_vec(dyr, ar, w, row0, ow_n - 8, false, r0, r1);
            continue;
        }
        if (ow < ow_n && !accumulate && w == 2 * ow_n && w >= 8 && oh < g->out_h - 1) {
            /* a row of fewer than eight windows, as a whole vector: what it
             * writes past the row's end lands in the next input rows, which
             * this thread (a plane is one thread's) writes again next, and
             * its reads stay inside this plane's dy and argmax */
            max_2x2_grad_vec(dyr, ar, w, row0, 0, false, r0, r1);
            continue;
        }
#if defined(__AVX2__)
        if (ow < ow_n && ow_n < 8) {
            max_2x2_grad_narrow(dyr, ar, w, row0, ow_n, accumulate, r0, r1);
            continue;
        }
#endif
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

/* output (oh, ow)'s window clipped to the input: rows [h_lo, h_hi), columns
 * [w_lo, w_hi), walked row by row, each from its first
 * column, as every windowed loop here walks it */
typedef struct {
    int h_lo, h_hi, w_lo, w_hi;
} window_span;

static inline window_span window_of(const nl_pool_geom *g, int oh, int ow)
{
    const int h0 = oh * g->stride - g->pad, w0 = ow * g->stride - g->pad;
    const int h1 = h0 + g->kernel_h, w1 = w0 + g->kernel_w;
    return (window_span){h0 > 0 ? h0 : 0, h1 < g->in_h ? h1 : g->in_h, w0 > 0 ? w0 : 0,
                         w1 < g->in_w ? w1 : g->in_w};
}

static void pool_general(const nl_pool_geom *g, const float *xp, float *yp, int32_t *am,
                         size_t base)
{
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    for (int oh = 0; oh < g->out_h; oh++) {
        for (int ow = 0; ow < g->out_w; ow++) {
            const window_span win = window_of(g, oh, ow);
            float best = -FLT_MAX, sum = 0.0f;
            int best_at = -1;
            for (int ih = win.h_lo; ih < win.h_hi; ih++) {
                for (int iw = win.w_lo; iw < win.w_hi; iw++) {
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
                am[o] = g->relu_input && best <= 0.0f ? -1 : (int32_t)(base + (size_t)best_at);
            } else {
                yp[o] = sum * inv_area;
            }
        }
    }
}

/* Global average pooling (the window is the whole plane, a ResNet's last
 * pooling): pool_general's sums in its order (row-major, from 0) and so
 * its bits, but GLOBAL_LANES planes at a time, independent chains where
 * pool_general runs one plane's latency-bound chain through its window
 * bookkeeping (4 % of a batch-128 ResNet step on a Zen 5). */
enum { GLOBAL_LANES = 8 };

static bool is_global_avg(const nl_pool_geom *g)
{
    return g->kind == NL_POOL_AVG && !g->relu_input && g->pad == 0 && g->kernel_h == g->in_h &&
           g->kernel_w == g->in_w && g->out_h == 1 && g->out_w == 1;
}

/* planes p0.. (lanes of them, at most GLOBAL_LANES) into y[p0..] */
static void global_avg_lanes(const float *x, float *y, size_t plane, int p0, int lanes,
                             float inv_area)
{
    float sum[GLOBAL_LANES] = {0};
    const float *xp = x + (size_t)p0 * plane;
    if (lanes == GLOBAL_LANES) {
        for (size_t i = 0; i < plane; i++)
            for (int j = 0; j < GLOBAL_LANES; j++)
                sum[j] += xp[(size_t)j * plane + i];
    } else {
        for (size_t i = 0; i < plane; i++)
            for (int j = 0; j < lanes; j++)
                sum[j] += xp[(size_t)j * plane + i];
    }
    for (int j = 0; j < lanes; j++)
        y[p0 + j] = sum[j] * inv_area;
}

static void global_avg_forward(const nl_pool_geom *g, int planes, const float *x, float *y)
{
    const size_t plane = (size_t)g->in_h * g->in_w;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    const int groups = (planes + GLOBAL_LANES - 1) / GLOBAL_LANES;
    NL_PARALLEL_FOR_IF((size_t)planes * plane >= NL_PARALLEL_MIN,
    for (int gi = 0; gi < groups; gi++) {
        const int p0 = gi * GLOBAL_LANES;
        global_avg_lanes(x, y, plane, p0, planes - p0 < GLOBAL_LANES ? planes - p0 : GLOBAL_LANES,
                         inv_area);
    });
}

/* its gradient: each input gets dy / area, added to 0 (the general path's
 * zeroed plane, whose + keeps its bits: -0 becomes +0) or to dx */
static void global_avg_backward(const nl_pool_geom *g, int planes, const float *dy, float *dx,
                                bool accumulate_dx)
{
    const size_t plane = (size_t)g->in_h * g->in_w;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    NL_PARALLEL_FOR_IF((size_t)planes * plane >= NL_PARALLEL_MIN,
    for (int pl = 0; pl < planes; pl++) {
        const float d = dy[pl] * inv_area;
        float *dxp = dx + (size_t)pl * plane;
        if (accumulate_dx)
            for (size_t i = 0; i < plane; i++)
                dxp[i] += d;
        else
            for (size_t i = 0; i < plane; i++)
                dxp[i] = 0.0f + d;
    });
}

/* The same from a channel-blocked x (nl_pool_geom.block; (N, C/B, HW, B)):
 * each channel's sum in the same order, the B channels of a pixel side by
 * side, so the same bits as from NCHW. y and dy are (N, C). */
static void global_avg_forward_blocked(const nl_pool_geom *g, int n, const float *x, float *y)
{
    const size_t plane = (size_t)g->in_h * g->in_w;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    const int block = g->block, blocks = n * (g->c / block);
    NL_PARALLEL_FOR_IF((size_t)blocks * block * plane >= NL_PARALLEL_MIN,
    for (int nb = 0; nb < blocks; nb++) {
        float sum[NL_MAX_CHANNEL_BLOCK] = {0};
        const float *xb = x + (size_t)nb * plane * block;
        for (size_t i = 0; i < plane; i++)
            _Pragma("omp simd")
            for (int l = 0; l < block; l++)
                sum[l] += xb[i * block + l];
        for (int l = 0; l < block; l++)
            y[(size_t)nb * block + l] = sum[l] * inv_area;
    });
}

static void global_avg_backward_blocked(const nl_pool_geom *g, int n, const float *dy, float *dx,
                                        bool accumulate_dx)
{
    const size_t plane = (size_t)g->in_h * g->in_w;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    const int block = g->block, blocks = n * (g->c / block);
    NL_PARALLEL_FOR_IF((size_t)blocks * block * plane >= NL_PARALLEL_MIN,
    for (int nb = 0; nb < blocks; nb++) {
        float d[NL_MAX_CHANNEL_BLOCK];
        for (int l = 0; l < block; l++)
            d[l] = dy[(size_t)nb * block + l] * inv_area;
        float *dxb = dx + (size_t)nb * plane * block;
        for (size_t i = 0; i < plane; i++)
            _Pragma("omp simd")
            for (int l = 0; l < block; l++)
                dxb[i * block + l] = (accumulate_dx ? dxb[i * block + l] : 0.0f) + d[l];
    });
}

/* a channel-blocked pooling's work: n * C/B slabs of B channel planes,
 * (HW, B) each, in x and in y */
typedef struct {
    int block, count;
    size_t in, out;
} pool_slabs;

static inline pool_slabs slabs_of(const nl_pool_geom *g, int n)
{
    return (pool_slabs){g->block, n * (g->c / g->block), (size_t)g->in_h * g->in_w * g->block,
                        (size_t)g->out_h * g->out_w * g->block};
}

/* 2x2 max pooling at stride 2 (a CNN stage's) on the channel block: the
 * four window pixels' B channels side by side, the first of equals kept in
 * pool_general's window order (TAKE_IF_GREATER), so its values and argmax
 * are the general walk's; vector lanes over the block. */
/* one output pixel's B lanes, a0..a3 its window's pixels in window order;
 * inlined with relu a constant, so each form is its own vector loop */
static inline __attribute__((always_inline)) void
max_2x2_lanes_blocked(const float *x, int block, bool relu, int32_t a0, int32_t a1, int32_t a2,
                      int32_t a3, float *yo, int32_t *ao)
{
    _Pragma("omp simd")
    for (int l = 0; l < block; l++) {
        const float v0 = relu ? relu_s(x[a0 + l]) : x[a0 + l];
        const float v1 = relu ? relu_s(x[a1 + l]) : x[a1 + l];
        const float v2 = relu ? relu_s(x[a2 + l]) : x[a2 + l];
        const float v3 = relu ? relu_s(x[a3 + l]) : x[a3 + l];
        float best = v0;
        int32_t at = a0 + l;
        TAKE_IF_GREATER(v1, a1 + l);
        TAKE_IF_GREATER(v2, a2 + l);
        TAKE_IF_GREATER(v3, a3 + l);
        yo[l] = best;
        ao[l] = relu && best <= 0.0f ? -1 : at; /* NaN: not -1 */
    }
}

static void max_2x2_forward_blocked(const nl_pool_geom *g, int n, const float *x, float *y,
                                    int32_t *argmax)
{
    const pool_slabs sl = slabs_of(g, n);
    const int block = sl.block, slabs = sl.count, w = g->in_w;
    const size_t in_slab = sl.in, out_slab = sl.out;
    NL_PARALLEL_FOR_IF((size_t)slabs * in_slab >= NL_PARALLEL_MIN,
    for (int s = 0; s < slabs; s++) {
        for (int oh = 0; oh < g->out_h; oh++)
            for (int ow = 0; ow < g->out_w; ow++) {
                const int32_t a0 = (int32_t)((size_t)s * in_slab) + ((2 * oh) * w + 2 * ow) * block;
                const int32_t a1 = a0 + block, a2 = a0 + w * block, a3 = a2 + block;
                const size_t o = (size_t)s * out_slab + ((size_t)oh * g->out_w + ow) * block;
                if (g->relu_input)
                    max_2x2_lanes_blocked(x, block, true, a0, a1, a2, a3, y + o, argmax + o);
                else
                    max_2x2_lanes_blocked(x, block, false, a0, a1, a2, a3, y + o, argmax + o);
            }
    });
}

/* its backward: the windows do not overlap, so each input pixel is written
 * once, the gradient where it was the window's max and 0 elsewhere */
static inline __attribute__((always_inline)) void
max_2x2_grad_lanes_blocked(const float *d, const int32_t *ao, int32_t at, float *dx, int block,
                           bool accumulate)
{
    _Pragma("omp simd")
    for (int l = 0; l < block; l++) {
        const float mine = ao[l] == at + l ? d[l] : 0.0f;
        dx[l] = accumulate ? dx[l] + mine : mine;
    }
}

static void max_2x2_backward_blocked(const nl_pool_geom *g, int n, const float *dy,
                                     const int32_t *argmax, float *dx, bool accumulate_dx)
{
    const pool_slabs sl = slabs_of(g, n);
    const int block = sl.block, slabs = sl.count, w = g->in_w;
    const size_t in_slab = sl.in, out_slab = sl.out;
    NL_PARALLEL_FOR_IF((size_t)slabs * in_slab >= NL_PARALLEL_MIN,
    for (int s = 0; s < slabs; s++) {
        float *dxs = dx + (size_t)s * in_slab;
        const int32_t base = (int32_t)((size_t)s * in_slab);
        /* rows and columns past the last whole window get no gradient */
        if (!accumulate_dx && (g->in_h != 2 * g->out_h || w != 2 * g->out_w))
            memset(dxs, 0, in_slab * sizeof *dxs);
        for (int oh = 0; oh < g->out_h; oh++)
            for (int ow = 0; ow < g->out_w; ow++) {
                const int first = ((2 * oh) * w + 2 * ow) * block;
                const int at[4] = {first, first + block, first + w * block,
                                   first + (w + 1) * block};
                const size_t o = (size_t)s * out_slab + ((size_t)oh * g->out_w + ow) * block;
                const float *d = dy + o;
                const int32_t *ao = argmax + o;
                for (int k = 0; k < 4; k++) {
                    if (accumulate_dx)
                        max_2x2_grad_lanes_blocked(d, ao, base + at[k], dxs + at[k], block, true);
                    else
                        max_2x2_grad_lanes_blocked(d, ao, base + at[k], dxs + at[k], block, false);
                }
            }
    });
}

/* Windowed pooling from a channel-blocked x into a channel-blocked y (both
 * (N, C/B, HW, B)): pool_general's walk over each window, the B channels
 * of a pixel side by side, so each output has the bits it has from NCHW
 * (an average's sum in the window's order, a max the first of its equals);
 * argmax holds flat offsets into x, as for NCHW. */
static void window_forward_blocked(const nl_pool_geom *g, int n, const float *x, float *y,
                                   int32_t *argmax)
{
    const pool_slabs sl = slabs_of(g, n);
    const int block = sl.block, slabs = sl.count;
    const size_t in_slab = sl.in, out_slab = sl.out;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    NL_PARALLEL_FOR_IF((size_t)slabs * in_slab >= NL_PARALLEL_MIN,
    for (int s = 0; s < slabs; s++) {
        const float *xs = x + (size_t)s * in_slab;
        float *ys = y + (size_t)s * out_slab;
        for (int oh = 0; oh < g->out_h; oh++)
            for (int ow = 0; ow < g->out_w; ow++) {
                float best[NL_MAX_CHANNEL_BLOCK], sum[NL_MAX_CHANNEL_BLOCK];
                int best_at[NL_MAX_CHANNEL_BLOCK];
                for (int l = 0; l < block; l++) {
                    best[l] = -FLT_MAX;
                    sum[l] = 0.0f;
                    best_at[l] = -1;
                }
                const window_span win = window_of(g, oh, ow);
                for (int ih = win.h_lo; ih < win.h_hi; ih++)
                    for (int iw = win.w_lo; iw < win.w_hi; iw++) {
                        const int at = (ih * g->in_w + iw) * block;
                        for (int l = 0; l < block; l++) {
                            float v = xs[at + l];
                            if (g->relu_input)
                                v = relu_s(v);
                            sum[l] += v;
                            if (best_at[l] < 0 || v > best[l] || v != v) {
                                best[l] = v;
                                best_at[l] = at + l;
                            }
                        }
                    }
                const size_t o = ((size_t)oh * g->out_w + ow) * block;
                for (int l = 0; l < block; l++) {
                    if (g->kind != NL_POOL_MAX) {
                        ys[o + l] = sum[l] * inv_area;
                        continue;
                    }
                    ys[o + l] = best[l];
                    argmax[(size_t)s * out_slab + o + l] =
                        g->relu_input && best[l] <= 0.0f
                            ? -1
                            : (int32_t)((size_t)s * in_slab + (size_t)best_at[l]);
                }
            }
    });
}

static void window_backward_blocked(const nl_pool_geom *g, int n, const float *dy,
                                    const int32_t *argmax, float *dx, bool accumulate_dx)
{
    const pool_slabs sl = slabs_of(g, n);
    const int block = sl.block, slabs = sl.count;
    const size_t in_slab = sl.in, out_slab = sl.out;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    NL_PARALLEL_FOR_IF((size_t)slabs * in_slab >= NL_PARALLEL_MIN,
    for (int s = 0; s < slabs; s++) {
        float *dxs = dx + (size_t)s * in_slab;
        const float *dys = dy + (size_t)s * out_slab;
        if (!accumulate_dx)
            memset(dxs, 0, in_slab * sizeof *dxs);
        if (g->kind == NL_POOL_MAX) {
            /* a window's max lies in its own slab */
            const int32_t *as = argmax + (size_t)s * out_slab;
            for (size_t o = 0; o < out_slab; o++)
                if (as[o] >= 0)
                    dx[as[o]] += dys[o];
            continue;
        }
        for (int oh = 0; oh < g->out_h; oh++)
            for (int ow = 0; ow < g->out_w; ow++) {
                /* each output's share, rounded once before it is added, as
                 * the NCHW walk adds it (not a multiply-add per pixel) */
                const float *dyo = dys + ((size_t)oh * g->out_w + ow) * block;
                float d[NL_MAX_CHANNEL_BLOCK];
                for (int l = 0; l < block; l++)
                    d[l] = dyo[l] * inv_area;
                const window_span win = window_of(g, oh, ow);
                for (int ih = win.h_lo; ih < win.h_hi; ih++)
                    for (int iw = win.w_lo; iw < win.w_hi; iw++) {
                        float *at = dxs + (size_t)(ih * g->in_w + iw) * block;
                        for (int l = 0; l < block; l++)
                            at[l] += d[l];
                    }
            }
    });
}

void nl_cpu_pool_forward(nl_backend *be, const nl_pool_geom *g, int n, const float *x, float *y,
                         int32_t *argmax)
{
    (void)be;
    const int planes = n * g->c;
    if (is_global_avg(g) && g->block) {
        global_avg_forward_blocked(g, n, x, y);
        return;
    }
    if (is_global_avg(g)) {
        global_avg_forward(g, planes, x, y);
        return;
    }
    if (g->block && is_2x2_s2(g) && g->kind == NL_POOL_MAX) {
        max_2x2_forward_blocked(g, n, x, y, argmax);
        return;
    }
    if (g->block) {
        window_forward_blocked(g, n, x, y, argmax);
        return;
    }
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    const bool fast = is_2x2_s2(g);
    NL_PARALLEL_FOR_IF(planes * in_plane >= NL_PARALLEL_MIN,
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
    });
}

void nl_cpu_pool_backward(nl_backend *be, const nl_pool_geom *g, int n, const float *dy,
                          const int32_t *argmax, float *dx, bool accumulate_dx)
{
    (void)be;
    const int planes = n * g->c;
    if (is_global_avg(g) && g->block) {
        global_avg_backward_blocked(g, n, dy, dx, accumulate_dx);
        return;
    }
    if (is_global_avg(g)) {
        global_avg_backward(g, planes, dy, dx, accumulate_dx);
        return;
    }
    if (g->block && is_2x2_s2(g) && g->kind == NL_POOL_MAX) {
        max_2x2_backward_blocked(g, n, dy, argmax, dx, accumulate_dx);
        return;
    }
    if (g->block) {
        window_backward_blocked(g, n, dy, argmax, dx, accumulate_dx);
        return;
    }
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    const bool fast = is_2x2_s2(g) && g->kind == NL_POOL_MAX;
    NL_PARALLEL_FOR_IF(planes * in_plane >= NL_PARALLEL_MIN,
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
                const window_span win = window_of(g, oh, ow);
                for (int ih = win.h_lo; ih < win.h_hi; ih++)
                    for (int iw = win.w_lo; iw < win.w_hi; iw++)
                        dxp[ih * g->in_w + iw] += d;
            }
        }
    });
}
