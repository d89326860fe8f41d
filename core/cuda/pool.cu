/* Max and average pooling (average counts padded positions, PyTorch's
 * count_include_pad), mirroring core/cpu/pool.c.
 *
 * Forward: one thread per output element scans its window in (kh, kw)
 * order with the CPU's rules (first maximum wins, NaN propagates), and max
 * pooling records the flat input offset of the maximum. relu_input clamps
 * each candidate as the ReLU layer does before the comparisons, and an output
 * of 0 records -1 (no gradient), as on the CPU.
 * Backward: one thread per input element gathers from the outputs whose
 * window covers it, in (oh, ow) order, which is the order in which the CPU
 * backend's scatter adds them: max pooling takes dy where the output's
 * argmax is this element, average pooling dy * 1/area. A gather needs no
 * atomics, so every element is a fixed sum, equal to the CPU's bit for bit. */
#include <float.h>

#include "cuda/norm_common.cuh"

using namespace nlk;

struct PoolDims {
    int kind, in_h, in_w, out_h, out_w, kh, kw, s, pad;
    float inv_area;
    int relu_input;
};

/* element e of a walk over planes of rows x cols, row-major: its column,
 * row and plane (the forward walks the outputs, the backward the inputs) */
__device__ inline void plane_pos(long long e, int cols, int rows, int *col, int *row,
                                 long long *plane)
{
    const long long t = e / cols;
    *col = (int)(e % cols);
    *row = (int)(t % rows);
    *plane = t / rows;
}

__global__ void __launch_bounds__(256)
    pool_forward_kernel(PoolDims g, long long total, const float *__restrict__ x,
                        float *__restrict__ y, int32_t *__restrict__ argmax)
{
    const size_t in_plane = (size_t)g.in_h * g.in_w;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        int ow, oh;
        long long pl;
        plane_pos(e, g.out_w, g.out_h, &ow, &oh, &pl);
        const float *xp = x + pl * in_plane;
        const int h0 = oh * g.s - g.pad, w0 = ow * g.s - g.pad;
        float best = -FLT_MAX, sum = 0.0f;
        int best_at = -1;
        for (int kh = 0; kh < g.kh; kh++) {
            const int ih = h0 + kh;
            if (ih < 0 || ih >= g.in_h)
                continue;
            for (int kw = 0; kw < g.kw; kw++) {
                const int iw = w0 + kw;
                if (iw < 0 || iw >= g.in_w)
                    continue;
                float v = __ldg(xp + ih * g.in_w + iw);
                if (g.relu_input)
                    v = v <= 0.0f ? 0.0f : v; /* NaN kept, as torch.relu */
                sum += v;
                if (best_at < 0 || v > best || v != v) {
                    best = v;
                    best_at = ih * g.in_w + iw;
                }
            }
        }
        if (g.kind == NL_POOL_MAX) {
            y[e] = best;
            argmax[e] = g.relu_input && best <= 0.0f ? -1 : (int32_t)(pl * in_plane + best_at);
        } else {
            y[e] = sum * g.inv_area;
        }
    }
}

__global__ void __launch_bounds__(256)
    pool_backward_kernel(PoolDims g, long long total, const float *__restrict__ dy,
                         const int32_t *__restrict__ argmax, float *dx, int accumulate)
{
    const size_t in_plane = (size_t)g.in_h * g.in_w, out_plane = (size_t)g.out_h * g.out_w;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        int iw, ih;
        long long pl;
        plane_pos(e, g.in_w, g.in_h, &iw, &ih, &pl);
        /* outputs whose window [o*s - pad, o*s - pad + k) holds ih (iw) */
        const int ah = ih + g.pad - g.kh + 1, aw = iw + g.pad - g.kw + 1;
        const int oh_lo = ah <= 0 ? 0 : (ah + g.s - 1) / g.s;
        const int ow_lo = aw <= 0 ? 0 : (aw + g.s - 1) / g.s;
        const int oh_hi = min(g.out_h - 1, (ih + g.pad) / g.s);
        const int ow_hi = min(g.out_w - 1, (iw + g.pad) / g.s);
        const int32_t self = (int32_t)(pl * in_plane + (size_t)ih * g.in_w + iw);
        const size_t obase = (size_t)pl * out_plane;
        float acc = accumulate ? dx[e] : 0.0f;
        for (int oh = oh_lo; oh <= oh_hi; oh++) {
            for (int ow = ow_lo; ow <= ow_hi; ow++) {
                const size_t o = obase + (size_t)oh * g.out_w + ow;
                if (g.kind == NL_POOL_MAX) {
                    if (__ldg(argmax + o) == self)
                        acc += __ldg(dy + o);
                } else {
                    acc += __ldg(dy + o) * g.inv_area;
                }
            }
        }
        dx[e] = acc;
    }
}

static PoolDims dims_of(const nl_pool_geom *g)
{
    PoolDims d = {(int)g->kind, g->in_h,     g->in_w,   g->out_h, g->out_w,
                  g->kernel_h,  g->kernel_w, g->stride, g->pad,
                  1.0f / (float)(g->kernel_h * g->kernel_w), g->relu_input ? 1 : 0};
    return d;
}

void nl_cuda_pool_forward(nl_backend *be, const nl_pool_geom *g, int n, const float *x, float *y,
                          int32_t *argmax)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long total = (long long)n * g->c * g->out_h * g->out_w;
    if (total <= 0)
        return;
    pool_forward_kernel<<<nl_cuda_grid(cu, (size_t)total, 256), 256, 0, cu->stream>>>(
        dims_of(g), total, x, y, argmax);
    NL_CU_LAUNCHED(cu, "pool_forward_kernel");
}

void nl_cuda_pool_backward(nl_backend *be, const nl_pool_geom *g, int n, const float *dy,
                           const int32_t *argmax, float *dx, bool accumulate_dx)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long total = (long long)n * g->c * g->in_h * g->in_w;
    if (total <= 0)
        return;
    pool_backward_kernel<<<nl_cuda_grid(cu, (size_t)total, 256), 256, 0, cu->stream>>>(
        dims_of(g), total, dy, argmax, dx, accumulate_dx ? 1 : 0);
    NL_CU_LAUNCHED(cu, "pool_backward_kernel");
}
