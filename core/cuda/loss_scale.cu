/* Loss scaling's pass over the gradients, as core/cpu/elementwise.c's
 * nl_cpu_scale_check_finite: one block per part of NL_SUM_SQUARES_PARTS
 * scales its elements and counts its zeros and infs/NaNs (a fixed tree
 * over the threads), then one thread adds the parts' counts in order and
 * sets the flag. Counts are integers held exactly in doubles, so the
 * result is the CPU's whatever the order. */
#include "cuda/norm_common.cuh"
#include "backend/twins.h"

enum { UNSCALE_THREADS = 256 };

__global__ void __launch_bounds__(UNSCALE_THREADS)
    scale_check_kernel(float *x, size_t n, size_t part, const float *factor, double *slots)
{
    __shared__ double zeros_sh[UNSCALE_THREADS], bad_sh[UNSCALE_THREADS];
    const float f = *factor;
    const size_t lo = blockIdx.x * part < n ? blockIdx.x * part : n;
    const size_t hi = lo + part < n ? lo + part : n;
    double zeros = 0.0, bad = 0.0;
    for (size_t i = lo + threadIdx.x; i < hi; i += UNSCALE_THREADS) {
        const float v = x[i];
        zeros += v == 0.0f ? 1.0 : 0.0;
        bad += fabsf(v) <= 3.40282347e38f ? 0.0 : 1.0; /* false for inf and NaN */
        x[i] = v * f;
    }
    zeros_sh[threadIdx.x] = zeros;
    bad_sh[threadIdx.x] = bad;
    __syncthreads();
    for (int half = UNSCALE_THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) {
            zeros_sh[threadIdx.x] += zeros_sh[threadIdx.x + half];
            bad_sh[threadIdx.x] += bad_sh[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        slots[blockIdx.x] = zeros_sh[0];
        slots[NL_SUM_SQUARES_PARTS + blockIdx.x] = bad_sh[0];
    }
}

__global__ void scale_check_total_kernel(float *found_inf, double *slots)
{
    nl_scale_check_total(slots, found_inf);
}

void nl_cuda_scale_check_finite(nl_backend *be, size_t count, float *x, const float *factor,
                                float *found_inf, double *slots)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t part = (count + NL_SUM_SQUARES_PARTS - 1) / NL_SUM_SQUARES_PARTS;
    scale_check_kernel<<<NL_SUM_SQUARES_PARTS, UNSCALE_THREADS, 0, cu->stream>>>(x, count, part,
                                                                               factor, slots);
    NL_CU_LAUNCHED(cu, "scale_check_kernel");
    scale_check_total_kernel<<<1, 1, 0, cu->stream>>>(found_inf, slots);
    NL_CU_LAUNCHED(cu, "scale_check_total_kernel");
}
