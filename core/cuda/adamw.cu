/* AdamW and the two ops of gradient-norm clipping, as core/cpu/adamw.c.
 *
 * The step and the scale are elementwise, on the grid-stride walk of
 * norm_common.cuh, with the CPU's expressions in the same order and no FMA
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

struct AdamwOp {
    float *param;
    const float *grad;
    float *exp_avg, *exp_avg_sq;
    const nl_adamw_args *args; /* device: per-step scalars */
    template <int V> __device__ void run(size_t i) const
    {
        const nl_adamw_args a = *args;
        adamw_item<V>(param, grad, exp_avg, exp_avg_sq, a, (long long)i);
    }
};

void nl_cuda_adamw_step(nl_backend *be, size_t count, float *param, const float *grad,
                        float *exp_avg, float *exp_avg_sq, const nl_adamw_args *args)
{
    ew_launch(nl_cuda_of(be), AdamwOp{param, grad, exp_avg, exp_avg_sq, args}, count,
              nl_cuda_aligned16(param, grad, exp_avg, exp_avg_sq), "launch of adamw step");
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

/* one thread: the partials' sum in the CPU's order, so the norm and the
 * coefficient are the CPU's bit for bit given the same partials */
__global__ void clip_coef_kernel(double *slots, float max_norm)
{
    double sum = 0.0;
    for (int k = 0; k < NL_SUM_SQUARES_PARTS; k++)
        sum += slots[k];
    const double norm = sqrt(sum);
    slots[NL_CLIP_NORM_SUM] += norm;
    slots[NL_CLIP_COEF] = max_norm / ((float)norm + 1e-6f);
}

/* x * coef where the coefficient, read on the device, is below 1 */
struct ClipScaleOp {
    float *x;
    const double *coef_slot;
    template <int V> __device__ void run(size_t i) const
    {
        const float coef = (float)*coef_slot;
        if (coef >= 1.0f)
            return;
        Vec<V> v = ld_rw<V>(x, (long long)i);
#pragma unroll
        for (int e = 0; e < V; e++)
            v.v[e] = v.v[e] * coef;
        st<V>(x, (long long)i, v);
    }
};

void nl_cuda_clip_by_norm(nl_backend *be, size_t count, float *x, double *slots, float max_norm)
{
    nl_cuda *cu = nl_cuda_of(be);
    clip_coef_kernel<<<1, 1, 0, cu->stream>>>(slots, max_norm);
    NL_CU_LAUNCHED(cu, "clip_coef_kernel");
    ew_launch(cu, ClipScaleOp{x, slots + NL_CLIP_COEF}, count, nl_cuda_aligned16(x),
              "launch of clip scale");
}
