/* The backward of batch statistics in two steps (backend.h,
 * norm_backward_reduce and norm_backward_apply), the CUDA twin of
 * core/cpu/norm_sync.c. The reduce is batchnorm.cu's backward asked for
 * dgamma and dbeta only (they are the two sums); the apply is one
 * elementwise kernel, each dx from its own inputs and the channel's sums. */
#include "cuda/cuda_common.h"

__global__ void __launch_bounds__(256)
norm_backward_apply_kernel(long long total, int c, int hw, const float *x, const float *dy,
                           const float *gamma, const float *save_mean, const float *save_rstd,
                           const float *sum_dy, const float *sum_dy_xhat, double count, float *dx,
                           int accumulate)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += stride) {
        const int ch = (int)((i / hw) % c);
        const float rstd = save_rstd[ch];
        const float scale = rstd * (gamma ? gamma[ch] : 1.0f);
        const float mean_dy = (float)(sum_dy[ch] / count);
        const float mean_dy_xhat = (float)(sum_dy_xhat[ch] / count);
        const float xhat = (x[i] - save_mean[ch]) * rstd;
        const float d = scale * (dy[i] - mean_dy - xhat * mean_dy_xhat);
        dx[i] = accumulate ? dx[i] + d : d;
    }
}

void nl_cuda_norm_backward_reduce(nl_backend *be, const nl_norm_geom *g, const float *x,
                                  const float *dy, const float *save_mean,
                                  const float *save_rstd, float *sum_dy, float *sum_dy_xhat)
{
    if (g->groups != 0) {
        nl_cuda_record(nl_cuda_of(be), NL_ERR_UNSUPPORTED,
                       "CUDA normalization: the split backward takes batch statistics only");
        return;
    }
    nl_cuda_batchnorm_backward(be, g->n, g->c, g->hw, x, dy, NULL, save_mean, save_rstd, NULL,
                               false, sum_dy_xhat, sum_dy);
}

void nl_cuda_norm_backward_apply(nl_backend *be, const nl_norm_geom *g, const float *x,
                                 const float *dy, const float *gamma, const float *save_mean,
                                 const float *save_rstd, const float *sum_dy,
                                 const float *sum_dy_xhat, double count, float *dx,
                                 bool accumulate_dx)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (g->groups != 0) {
        nl_cuda_record(cu, NL_ERR_UNSUPPORTED,
                       "CUDA normalization: the split backward takes batch statistics only");
        return;
    }
    const long long total = (long long)g->n * g->c * g->hw;
    if (total == 0)
        return;
    norm_backward_apply_kernel<<<nl_cuda_grid(cu, (size_t)total, 256), 256, 0, cu->stream>>>(
        total, g->c, g->hw, x, dy, gamma, save_mean, save_rstd, sum_dy, sum_dy_xhat, count, dx,
        accumulate_dx ? 1 : 0);
    NL_CU_LAUNCHED(cu, "norm_backward_apply_kernel");
}
