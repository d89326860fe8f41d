/* The ViT's image-to-token ops (backend.h), the CUDA twins of
 * core/cpu/vit.c: one thread per output value. The sums over samples (the
 * position and class-token gradients) give each (token, column) one thread
 * that adds the samples in order, as the CPU does, so the two match bit for
 * bit; no float atomics. */
#include "cuda/cuda_common.h"

enum { THREADS = 256 };

static unsigned blocks_for(long long count)
{
    return (unsigned)((count + THREADS - 1) / THREADS);
}

/* the image offset of value k of token row `row` (patchify's permutation) */
__device__ __forceinline__ size_t patch_source(long long row, int k, int c, int h, int w, int p)
{
    const int gw = w / p, tokens = (h / p) * gw;
    const long long i = row / tokens;
    const int tk = (int)(row - i * tokens), pp = p * p;
    const int ch = k / pp, r = (k - ch * pp) / p, s = k - ch * pp - r * p;
    return (((size_t)i * c + ch) * h + (size_t)(tk / gw) * p + r) * w + (size_t)(tk % gw) * p + s;
}

__global__ void __launch_bounds__(THREADS)
    patchify_fwd_kernel(long long count, int c, int h, int w, int p, const float *x, float *y)
{
    const long long f = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (f >= count)
        return;
    const int width = c * p * p;
    const long long row = f / width;
    y[f] = __ldg(x + patch_source(row, (int)(f - row * width), c, h, w, p));
}

__global__ void __launch_bounds__(THREADS)
    patchify_bwd_kernel(long long count, int c, int h, int w, int p, const float *dy, float *dx,
                        int accumulate)
{
    const long long f = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (f >= count)
        return;
    const int width = c * p * p;
    const long long row = f / width;
    float *to = dx + patch_source(row, (int)(f - row * width), c, h, w, p);
    const float g = __ldg(dy + f);
    *to = accumulate ? *to + g : g;
}

void nl_cuda_patchify_forward(nl_backend *be, int n, int c, int h, int w, int p, const float *x,
                              float *y)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long count = (long long)n * c * h * w;
    if (count == 0)
        return;
    patchify_fwd_kernel<<<blocks_for(count), THREADS, 0, cu->stream>>>(count, c, h, w, p, x, y);
    NL_CU_LAUNCHED(cu, "patchify_fwd_kernel");
}

void nl_cuda_patchify_backward(nl_backend *be, int n, int c, int h, int w, int p,
                               const float *dy, float *dx, bool accumulate_dx)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long count = (long long)n * c * h * w;
    if (count == 0)
        return;
    patchify_bwd_kernel<<<blocks_for(count), THREADS, 0, cu->stream>>>(count, c, h, w, p, dy, dx,
                                                                       accumulate_dx ? 1 : 0);
    NL_CU_LAUNCHED(cu, "patchify_bwd_kernel");
}

/* y[f] = x[f] + pos[f mod per] */
__global__ void __launch_bounds__(THREADS)
    pos_add_fwd_kernel(long long count, long long per, const float *x, const float *pos, float *y)
{
    const long long f = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (f < count)
        y[f] = __ldg(x + f) + __ldg(pos + f % per);
}

/* into[k] = sum over i < n of rows[i * stride + k], i increasing */
__global__ void __launch_bounds__(THREADS)
    sum_over_samples_kernel(int n, long long count, long long stride, const float *rows,
                            float *into)
{
    const long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (k >= count)
        return;
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += __ldg(rows + (size_t)i * stride + k);
    into[k] = sum;
}

/* dst[i * dst_stride + k] (+)= src[i * src_stride + k] for k < per */
__global__ void __launch_bounds__(THREADS)
    copy_rows_kernel(long long count, long long per, const float *src, long long src_stride,
                     float *dst, long long dst_stride, int accumulate)
{
    const long long f = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (f >= count)
        return;
    const long long i = f / per, k = f - i * per;
    const float g = __ldg(src + i * src_stride + k);
    float *to = dst + i * dst_stride + k;
    *to = accumulate ? *to + g : g;
}

static void sum_over_samples(nl_cuda *cu, int n, long long count, long long stride,
                             const float *rows, float *into)
{
    sum_over_samples_kernel<<<blocks_for(count), THREADS, 0, cu->stream>>>(n, count, stride, rows,
                                                                           into);
    NL_CU_LAUNCHED(cu, "sum_over_samples_kernel");
}

static void copy_rows(nl_cuda *cu, int n, long long per, const float *src, long long src_stride,
                      float *dst, long long dst_stride, bool accumulate)
{
    const long long count = (long long)n * per;
    copy_rows_kernel<<<blocks_for(count), THREADS, 0, cu->stream>>>(
        count, per, src, src_stride, dst, dst_stride, accumulate ? 1 : 0);
    NL_CU_LAUNCHED(cu, "copy_rows_kernel");
}

void nl_cuda_pos_add_forward(nl_backend *be, int n, int t, int d, const float *x,
                             const float *pos, float *y)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long per = (long long)t * d, count = n * per;
    if (count == 0)
        return;
    pos_add_fwd_kernel<<<blocks_for(count), THREADS, 0, cu->stream>>>(count, per, x, pos, y);
    NL_CU_LAUNCHED(cu, "pos_add_fwd_kernel");
}

void nl_cuda_pos_add_backward(nl_backend *be, int n, int t, int d, const float *dy, float *dx,
                              bool accumulate_dx, float *dpos)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long per = (long long)t * d;
    if (per == 0)
        return;
    if (dx && n > 0)
        copy_rows(cu, n, per, dy, per, dx, per, accumulate_dx);
    sum_over_samples(cu, n, per, per, dy, dpos);
}

void nl_cuda_cls_prepend_forward(nl_backend *be, int n, int t, int d, const float *x,
                                 const float *cls, float *y)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n == 0 || d == 0)
        return;
    const long long per = (long long)t * d, out_per = per + d;
    /* the class token into row 0 of every sample (stride 0: the same row) */
    copy_rows(cu, n, d, cls, 0, y, out_per, false);
    if (per > 0)
        copy_rows(cu, n, per, x, per, y + d, out_per, false);
}

void nl_cuda_cls_prepend_backward(nl_backend *be, int n, int t, int d, const float *dy,
                                  float *dx, bool accumulate_dx, float *dcls)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (d == 0)
        return;
    const long long per = (long long)t * d, in_per = per + d;
    if (dx && n > 0 && per > 0)
        copy_rows(cu, n, per, dy + d, in_per, dx, per, accumulate_dx);
    sum_over_samples(cu, n, d, in_per, dy, dcls);
}

/* one thread per (sample, column): the tokens added in order */
__global__ void __launch_bounds__(THREADS)
    token_pool_fwd_kernel(long long count, int t, int d, int mean, const float *x, float *y)
{
    const long long f = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (f >= count)
        return;
    const long long i = f / d;
    const float *col = x + i * t * d + (f - i * d);
    float sum = __ldg(col);
    if (mean) {
        for (int s = 1; s < t; s++)
            sum += __ldg(col + (size_t)s * d);
        sum /= (float)t;
    }
    y[f] = sum;
}

__global__ void __launch_bounds__(THREADS)
    token_pool_bwd_kernel(long long count, int t, int d, int mean, const float *dy, float *dx,
                          int accumulate)
{
    const long long f = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (f >= count)
        return;
    const long long per = (long long)t * d, i = f / per, rest = f - i * per;
    const int s = (int)(rest / d);
    const float g = __ldg(dy + i * d + (rest - (long long)s * d));
    const float grad = mean ? g / (float)t : s == 0 ? g : 0.0f;
    dx[f] = accumulate ? dx[f] + grad : grad;
}

void nl_cuda_token_pool_forward(nl_backend *be, nl_token_pool kind, int n, int t, int d,
                                const float *x, float *y)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long count = (long long)n * d;
    if (count == 0 || t == 0)
        return;
    token_pool_fwd_kernel<<<blocks_for(count), THREADS, 0, cu->stream>>>(
        count, t, d, kind == NL_TOKEN_POOL_MEAN ? 1 : 0, x, y);
    NL_CU_LAUNCHED(cu, "token_pool_fwd_kernel");
}

void nl_cuda_token_pool_backward(nl_backend *be, nl_token_pool kind, int n, int t, int d,
                                 const float *dy, float *dx, bool accumulate_dx)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long count = (long long)n * t * d;
    if (count == 0)
        return;
    token_pool_bwd_kernel<<<blocks_for(count), THREADS, 0, cu->stream>>>(
        count, t, d, kind == NL_TOKEN_POOL_MEAN ? 1 : 0, dy, dx, accumulate_dx ? 1 : 0);
    NL_CU_LAUNCHED(cu, "token_pool_bwd_kernel");
}
