/* AdamW and the two ops of gradient-norm clipping, as core/cpu/adamw.c.
 *
 * adamw_kernel is elementwise (thread t updates t, t + stride, ..., float4
 * when aligned) with the CPU's expressions in the same order and no FMA
 * contraction. sum_squares_kernel runs one block per part of
 * NL_SUM_SQUARES_PARTS: each thread adds its strided values in double, the
 * block adds the threads in a fixed tree, so a given count always gives the
 * same partials. */
#include "cuda/norm_common.cuh"

using namespace nlk;

template <int V>
__device__ __forceinline__ void adamw_item(float *param, const float *grad, float *exp_avg,
                                           float *exp_avg_sq, const nl_adamw_args &a,
                                           long long i)
{
    Vec<V> p = ld_rw<V>(param, i), m = ld_rw<V>(exp_avg, i), v = ld_rw<V>(exp_avg_sq, i);
    const Vec<V> g = ld<V>(grad, i);
#pragma unroll
    for (int e = 0; e < V; e++) {
        const float pd = p.v[e] * a.decay;
        m.v[e] = m.v[e] * a.beta1 + a.one_minus_beta1 * g.v[e];
        v.v[e] = v.v[e] * a.beta2 + a.one_minus_beta2 * g.v[e] * g.v[e];
        const float denom = sqrtf(v.v[e]) / a.bias_correction2_sqrt + a.eps;
        p.v[e] = pd + a.neg_step_size * (m.v[e] / denom);
    }
    st<V>(exp_avg, i, m);
    st<V>(exp_avg_sq, i, v);
    st<V>(param, i, p);
}

__global__ void __launch_bounds__(256)
    adamw_kernel(float *param, const float *grad, float *exp_avg, float *exp_avg_sq,
                 nl_adamw_args a, size_t n, int vec)
{
    const size_t tid = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t done = 0;
    if (vec) {
        const size_t n4 = n / 4;
        for (size_t i = tid; i < n4; i += stride)
            adamw_item<4>(param, grad, exp_avg, exp_avg_sq, a, (long long)i);
        done = n4 * 4;
    }
    for (size_t i = done + tid; i < n; i += stride)
        adamw_item<1>(param, grad, exp_avg, exp_avg_sq, a, (long long)i);
}

void nl_cuda_adamw_step(nl_backend *be, size_t count, float *param, const float *grad,
                        float *exp_avg, float *exp_avg_sq, const nl_adamw_args *args)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (count == 0)
        return;
    const bool vec = nl_cuda_aligned16(param, grad, exp_avg, exp_avg_sq);
    const unsigned blocks = nl_cuda_grid(cu, vec ? (count + 3) / 4 : count, 256);
    adamw_kernel<<<blocks, 256, 0, cu->stream>>>(param, grad, exp_avg, exp_avg_sq, *args, count,
                                                 vec ? 1 : 0);
    NL_CU_LAUNCHED(cu, "adamw_kernel");
}

enum { SUMSQ_THREADS = 256 };

__global__ void __launch_bounds__(SUMSQ_THREADS)
    sum_squares_kernel(const float *x, size_t n, size_t part, double *partials)
{
    __shared__ double sh[SUMSQ_THREADS];
    const size_t lo = blockIdx.x * part < n ? blockIdx.x * part : n;
    const size_t hi = lo + part < n ? lo + part : n;
    double sum = 0.0;
    for (size_t i = lo + threadIdx.x; i < hi; i += SUMSQ_THREADS)
        sum += (double)x[i] * (double)x[i];
    sh[threadIdx.x] = sum;
    __syncthreads();
    for (int half = SUMSQ_THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half)
            sh[threadIdx.x] += sh[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        partials[blockIdx.x] = sh[0];
}

void nl_cuda_sum_squares(nl_backend *be, size_t count, const float *x, double *partials)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t part = (count + NL_SUM_SQUARES_PARTS - 1) / NL_SUM_SQUARES_PARTS;
    sum_squares_kernel<<<NL_SUM_SQUARES_PARTS, SUMSQ_THREADS, 0, cu->stream>>>(x, count, part,
                                                                             partials);
    NL_CU_LAUNCHED(cu, "sum_squares_kernel");
}

__global__ void __launch_bounds__(256) scale_kernel(float *x, size_t n, float factor)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += stride)
        x[i] = x[i] * factor;
}

void nl_cuda_scale(nl_backend *be, size_t count, float *x, float factor)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (count == 0)
        return;
    scale_kernel<<<nl_cuda_grid(cu, count, 256), 256, 0, cu->stream>>>(x, count, factor);
    NL_CU_LAUNCHED(cu, "scale_kernel");
}
