/* Max and average pooling, one (sample, channel) plane per iteration.
 * Average pooling counts padded positions (PyTorch's count_include_pad).
 * The 2x2 stride-2 window of the CNN stages has its own loop without bounds
 * checks; everything else takes the general one. */
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

/* eight outputs of one output row starting at column ow */
static inline void max_2x2_vec(const float *r0, const float *r1, int w, int32_t row0, int ow,
                               float *yr, int32_t *ar)
{
    const v8i lanes = {0, 2, 4, 6, 8, 10, 12, 14};
    const v8f a_lo = *(const v8f_u *)(r0 + 2 * ow), a_hi = *(const v8f_u *)(r0 + 2 * ow + 8);
    const v8f b_lo = *(const v8f_u *)(r1 + 2 * ow), b_hi = *(const v8f_u *)(r1 + 2 * ow + 8);
    const v8i i0 = (row0 + 2 * ow) + lanes;
    v8f best = nl_v8_evens(a_lo, a_hi);
    v8i at = i0;
    const v8f a1 = nl_v8_odds(a_lo, a_hi), b0 = nl_v8_evens(b_lo, b_hi), b1 = nl_v8_odds(b_lo, b_hi);
    TAKE_V(a1, i0 + 1);
    TAKE_V(b0, i0 + w);
    TAKE_V(b1, i0 + (w + 1));
    *(v8f_u *)(yr + ow) = best;
    *(v8i_u *)(ar + ow) = at;
}

static void max_2x2(const nl_pool_geom *g, const float *xp, float *yp, int32_t *am, size_t base)
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
            max_2x2_vec(r0, r1, w, row0, ow, yr, ar);
        if (ow < ow_n && ow_n >= 8) {
            /* the last eight outputs again, overlapping: same values */
            max_2x2_vec(r0, r1, w, row0, ow_n - 8, yr, ar);
            continue;
        }
        if (ow < ow_n && !last_row && 2 * ow + 16 <= 2 * w) {
            /* a row narrower than eight outputs: the vector also writes the
             * first outputs of the next row, which that row then rewrites;
             * the reads stay inside the next input rows (2 * w floats) */
            max_2x2_vec(r0, r1, w, row0, ow, yr, ar);
            continue;
        }
        for (; ow < ow_n; ow++) {
            const int32_t i0 = row0 + 2 * ow;
            float best = r0[2 * ow];
            int32_t at = i0;
            TAKE_IF_GREATER(r0[2 * ow + 1], i0 + 1);
            TAKE_IF_GREATER(r1[2 * ow], i0 + w);
            TAKE_IF_GREATER(r1[2 * ow + 1], i0 + w + 1);
            yr[ow] = best;
            ar[ow] = at;
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
                    const float v = xp[ih * g->in_w + iw];
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
                am[o] = (int32_t)(base + (size_t)best_at);
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
        if (fast && g->kind == NL_POOL_MAX)
            max_2x2(g, xp, yp, am, pl * in_plane);
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
    #pragma omp parallel for schedule(static) if (planes * in_plane >= NL_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in_plane;
        const float *dyp = dy + pl * out_plane;
        if (!accumulate_dx)
            memset(dxp, 0, in_plane * sizeof *dxp);
        if (g->kind == NL_POOL_MAX) {
            const int32_t *am = argmax + pl * out_plane;
            for (size_t o = 0; o < out_plane; o++)
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
