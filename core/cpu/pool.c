/* Max and average pooling, one (sample, channel) plane per iteration.
 * Average pooling counts padded positions (PyTorch's count_include_pad). */
#include <float.h>
#include <string.h>

#include "cpu/cpu.h"

void nl_cpu_pool_forward(nl_backend *be, const nl_pool_geom *g, int n, const float *x, float *y,
                         int32_t *argmax)
{
    (void)be;
    const int planes = n * g->c;
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    #pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        float *yp = y + pl * out_plane;
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
                        /* NaN propagates, as in PyTorch */
                        if (best_at < 0 || v > best || v != v) {
                            best = v;
                            best_at = ih * g->in_w + iw;
                        }
                    }
                }
                const size_t o = (size_t)oh * g->out_w + ow;
                if (g->kind == NL_POOL_MAX) {
                    yp[o] = best;
                    argmax[pl * out_plane + o] = (int32_t)(pl * in_plane + best_at);
                } else {
                    yp[o] = sum * inv_area;
                }
            }
        }
    }
}

void nl_cpu_pool_backward(nl_backend *be, const nl_pool_geom *g, int n, const float *dy,
                          const int32_t *argmax, float *dx, bool accumulate_dx)
{
    (void)be;
    const int planes = n * g->c;
    const size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    const float inv_area = 1.0f / (float)(g->kernel_h * g->kernel_w);
    #pragma omp parallel for schedule(static)
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
