/* Switchable Normalization's own ops (backend.h, switch_mix and
 * switch_backward), the twins of core/cpu/switchnorm.c. The backward runs
 * one block per (sample, channel) plane for its sums, one per channel and
 * one per sample for the batch and layer statistics' shares, one block for
 * the mixture weights' six sums, then a grid-stride pass for dx; every sum
 * in double through block_sum2's fixed tree, so runs repeat bit for bit. */
#include "base/switch_ops.h"
#include "cuda/norm_common.cuh"

using namespace nlk;

enum { SWITCH_THREADS = 256 };

__global__ void __launch_bounds__(SWITCH_THREADS)
    switch_mix_kernel(int n, int c, const float *lambda, const float *mean_in,
                      const float *var_in, const float *mean_ln, const float *var_ln,
                      const float *mean_bn, const float *var_bn, float *mean, float *var,
                      float *weights)
{
    double a[3], b[3];
    nl_switch_softmax3(lambda, a);
    nl_switch_softmax3(lambda + 3, b);
    const long long nc = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (nc == 0)
        for (int k = 0; k < 3; k++) {
            weights[k] = (float)a[k];
            weights[3 + k] = (float)b[k];
        }
    if (nc >= (long long)n * c)
        return;
    nl_switch_mix_plane(a, b, (size_t)nc, (int)(nc / c), (int)(nc % c), mean_in, var_in, mean_ln,
                        var_ln, mean_bn, var_bn, mean, var);
}

void nl_cuda_switch_mix(nl_backend *be, int n, int c, const float *lambda, const float *mean_in,
                        const float *var_in, const float *mean_ln, const float *var_ln,
                        const float *mean_bn, const float *var_bn, float *mean, float *var,
                        float *weights)
{
    nl_cuda *cu = nl_cuda_of(be);
    const long long planes = (long long)n * c;
    const unsigned blocks = (unsigned)((planes + SWITCH_THREADS - 1) / SWITCH_THREADS);
    switch_mix_kernel<<<blocks ? blocks : 1u, SWITCH_THREADS, 0, cu->stream>>>(
        n, c, lambda, mean_in, var_in, mean_ln, var_ln, mean_bn, var_bn, mean, var, weights);
    NL_CU_LAUNCHED(cu, "switch_mix_kernel");
}

/* one block per plane: sum dy, sum dy * xhat, and the mixed statistics'
 * gradients gm = -r gamma sum dy, gv = -r^2/2 gamma sum dy * xhat */
__global__ void __launch_bounds__(SWITCH_THREADS)
    switch_planes_kernel(int c, int hw, const float *x, const float *dy, const float *gamma,
                         const float *mean, const float *rstd, nl_switch_work w)
{
    const long long nc = blockIdx.x;
    const float m = mean[nc];
    const float *xp = x + (size_t)nc * hw, *dp = dy + (size_t)nc * hw;
    double sd = 0.0, sdx = 0.0;
    for (int j = threadIdx.x; j < hw; j += blockDim.x) {
        sd += dp[j];
        sdx += (double)dp[j] * (double)(xp[j] - m);
    }
    block_sum2(sd, sdx);
    if (threadIdx.x == 0) {
        const double r = rstd[nc], g = gamma ? gamma[nc % c] : 1.0;
        w.s_dy[nc] = sd;
        w.s_dy_xhat[nc] = sdx * r;
        w.gm[nc] = -r * g * sd;
        w.gv[nc] = -0.5 * r * r * g * sdx * r;
    }
}

/* one block per channel: its batch statistics' gradients, dgamma, dbeta */
__global__ void __launch_bounds__(SWITCH_THREADS)
    switch_channels_kernel(int n, int c, nl_switch_work w, float *dgamma, float *dbeta)
{
    const int ch = blockIdx.x;
    double m = 0.0, v = 0.0, sg = 0.0, sb = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const size_t nc = (size_t)i * c + ch;
        m += w.gm[nc];
        v += w.gv[nc];
        sg += w.s_dy_xhat[nc];
        sb += w.s_dy[nc];
    }
    block_sum2(m, v);
    block_sum2(sg, sb);
    if (threadIdx.x == 0) {
        w.bn_m[ch] = m;
        w.bn_v[ch] = v;
        write_affine_grads(dgamma, dbeta, ch, sg, sb);
    }
}

/* one block per sample: its layer statistics' gradients */
__global__ void __launch_bounds__(SWITCH_THREADS) switch_samples_kernel(int c, nl_switch_work w)
{
    const int i = blockIdx.x;
    double m = 0.0, v = 0.0;
    for (int ch = threadIdx.x; ch < c; ch += blockDim.x) {
        m += w.gm[(size_t)i * c + ch];
        v += w.gv[(size_t)i * c + ch];
    }
    block_sum2(m, v);
    if (threadIdx.x == 0) {
        w.ln_m[i] = m;
        w.ln_v[i] = v;
    }
}

/* one block: the mixture weights' gradients through the softmax */
__global__ void __launch_bounds__(SWITCH_THREADS)
    switch_weights_kernel(int n, int c, const float *weights, const float *mean_in,
                          const float *mean_ln, const float *mean_bn, const float *var_in,
                          const float *var_ln, const float *var_bn, nl_switch_work w,
                          float *dlambda)
{
    double d[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    const long long planes = (long long)n * c;
    for (long long nc = threadIdx.x; nc < planes; nc += blockDim.x) {
        nl_switch_weight_grads(d, w.gm[nc], w.gv[nc], (size_t)nc, (int)(nc / c), (int)(nc % c),
                               mean_in, mean_ln, mean_bn, var_in, var_ln, var_bn);
    }
    block_sum2(d[0], d[1]);
    block_sum2(d[2], d[3]);
    block_sum2(d[4], d[5]);
    if (threadIdx.x == 0)
        nl_switch_dlambda(weights, d, dlambda);
}

__global__ void __launch_bounds__(SWITCH_THREADS)
    switch_dx_kernel(int n, int c, int hw, const float *x, const float *dy, const float *gamma,
                     const float *rstd, const float *weights, const float *mean_in,
                     const float *mean_ln, const float *mean_bn, int batch_grad, nl_switch_work w,
                     float *dx, int accumulate)
{
    const size_t total = (size_t)n * c * hw;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const double a_in = weights[0], a_ln = weights[1], a_bn = batch_grad ? weights[2] : 0.0;
    const double b_in = weights[3], b_ln = weights[4], b_bn = batch_grad ? weights[5] : 0.0;
    const double in_count = hw, ln_count = (double)c * hw, bn_count = (double)n * hw;
    for (size_t at = blockIdx.x * (size_t)blockDim.x + threadIdx.x; at < total; at += stride) {
        const size_t nc = at / hw;
        const int i = (int)(nc / c), ch = (int)(nc % c);
        const float scale = rstd[nc] * (gamma ? gamma[ch] : 1.0f);
        const float m = (float)(a_in * w.gm[nc] / in_count + a_ln * w.ln_m[i] / ln_count +
                                a_bn * w.bn_m[ch] / bn_count);
        const float v_in = (float)(2.0 * b_in * w.gv[nc] / in_count);
        const float v_ln = (float)(2.0 * b_ln * w.ln_v[i] / ln_count);
        const float v_bn = (float)(2.0 * b_bn * w.bn_v[ch] / bn_count);
        const float xv = x[at];
        const float d = scale * dy[at] + m + v_in * (xv - mean_in[nc]) +
                        v_ln * (xv - mean_ln[i]) + v_bn * (xv - mean_bn[ch]);
        dx[at] = accumulate ? dx[at] + d : d;
    }
}

size_t nl_cuda_switch_backward_workspace(nl_backend *be, int n, int c)
{
    (void)be;
    return nl_switch_work_bytes(n, c);
}

void nl_cuda_switch_backward(nl_backend *be, int n, int c, int hw, const float *x, const float *dy,
                             const float *gamma, const float *mean, const float *rstd,
                             const float *weights, const float *mean_in, const float *mean_ln,
                             const float *mean_bn, const float *var_in, const float *var_ln,
                             const float *var_bn, bool batch_grad, float *dx, bool accumulate_dx,
                             float *dgamma, float *dbeta, float *dlambda, void *workspace)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (n == 0 || c == 0)
        return;
    const nl_switch_work w = nl_switch_work_of(workspace, n, c);
    switch_planes_kernel<<<(unsigned)((long long)n * c), SWITCH_THREADS, 0, cu->stream>>>(
        c, hw, x, dy, gamma, mean, rstd, w);
    NL_CU_LAUNCHED(cu, "switch_planes_kernel");
    switch_channels_kernel<<<(unsigned)c, SWITCH_THREADS, 0, cu->stream>>>(n, c, w, dgamma,
                                                                           dbeta);
    NL_CU_LAUNCHED(cu, "switch_channels_kernel");
    switch_samples_kernel<<<(unsigned)n, SWITCH_THREADS, 0, cu->stream>>>(c, w);
    NL_CU_LAUNCHED(cu, "switch_samples_kernel");
    switch_weights_kernel<<<1, SWITCH_THREADS, 0, cu->stream>>>(
        n, c, weights, mean_in, mean_ln, mean_bn, var_in, var_ln, var_bn, w, dlambda);
    NL_CU_LAUNCHED(cu, "switch_weights_kernel");
    if (!dx)
        return;
    const size_t total = (size_t)n * c * hw;
    switch_dx_kernel<<<nl_cuda_grid(cu, total, SWITCH_THREADS), SWITCH_THREADS, 0, cu->stream>>>(
        n, c, hw, x, dy, gamma, rstd, weights, mean_in, mean_ln, mean_bn, batch_grad ? 1 : 0, w,
        dx, accumulate_dx ? 1 : 0);
    NL_CU_LAUNCHED(cu, "switch_dx_kernel");
}
