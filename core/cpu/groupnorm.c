/* GroupNorm on the CPU (LayerNorm with groups = 1, InstanceNorm with
 * groups = C), forward and backward side by side.
 *
 * A (sample, group) block is (C/G)*HW contiguous floats; blocks are split
 * over threads and each is reduced by one thread in double with two passes
 * over data that stay in cache. The per-channel parameter gradients need a
 * sum over samples: each block writes its per-channel partial sums to the
 * workspace, then one pass adds them over samples in order, so nothing
 * depends on the thread count. */
#include <math.h>

#include "cpu/cpu.h"
#include "cpu/reduce.h"

static inline float gamma_at(const float *gamma, int c) { return gamma ? gamma[c] : 1.0f; }
static inline float beta_at(const float *beta, int c) { return beta ? beta[c] : 0.0f; }

void nl_cpu_groupnorm_forward(nl_backend *be, int n, int c, int hw, int groups, float eps,
                              const float *x, const float *gamma, const float *beta, float *y,
                              float *save_mean, float *save_rstd, float *running_mean,
                              float *running_var, float momentum)
{
    (void)be;
    const int cpg = c / groups;
    const size_t block = (size_t)cpg * hw;
    const int blocks = n * groups;
    #pragma omp parallel for schedule(static) if ((size_t)blocks * block >= NL_PARALLEL_MIN)
    for (int b = 0; b < blocks; b++) {
        const float *xb = x + (size_t)b * block;
        float *yb = y + (size_t)b * block;
        /* one pass, about the block's first value (see batchnorm.c) */
        double sum = 0.0, sum_sq = 0.0;
        nl_sum_shifted_moments(xb, block, xb[0], &sum, &sum_sq);
        const double dmean = sum / (double)block;
        const double mean = (double)xb[0] + dmean;
        const float mean_f = (float)mean;
        double var = sum_sq / (double)block - dmean * dmean;
        if (var < 0.0)
            var = 0.0;
        const double rstd = 1.0 / sqrt(var + (double)eps);
        const int g = b % groups;
        for (int j = 0; j < cpg; j++) {
            const int ch = g * cpg + j;
            const float scale = (float)(rstd * gamma_at(gamma, ch)), shift = beta_at(beta, ch);
            const float *xp = xb + (size_t)j * hw;
            float *yp = yb + (size_t)j * hw;
            #pragma omp simd
            for (int k = 0; k < hw; k++)
                yp[k] = (xp[k] - mean_f) * scale + shift;
        }
        save_mean[b] = mean_f;
        save_rstd[b] = (float)rstd;
    }
    if (!running_mean)
        return;
    /* InstanceNorm with tracked statistics (groups == c): PyTorch averages the
     * per-instance means and unbiased variances over the batch. The variance
     * is recomputed exactly here rather than recovered from rstd; this path
     * runs only in that rarely used configuration. */
    #pragma omp parallel for schedule(static) if ((long)n * c * hw >= NL_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        double mean_sum = 0.0, var_sum = 0.0;
        for (int i = 0; i < n; i++) {
            const float *xp = x + ((size_t)i * c + ch) * hw;
            const double mean = nl_sum(xp, (size_t)hw) / (double)hw;
            const float shift = save_mean[i * c + ch];
            const double off = mean - (double)shift;
            double sq = nl_sum_sq_dev(xp, (size_t)hw, shift) - (double)hw * off * off;
            if (sq < 0.0)
                sq = 0.0;
            mean_sum += mean;
            var_sum += hw > 1 ? sq / (double)(hw - 1) : sq;
        }
        running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * (float)(mean_sum / n);
        running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * (float)(var_sum / n);
    }
}

size_t nl_cpu_groupnorm_backward_workspace(nl_backend *be, int n, int c, int hw, int groups)
{
    (void)be;
    (void)hw;
    (void)groups;
    return (size_t)n * c * 2 * sizeof(double);
}

/* Per block, with dxhat = gamma_c * dy and M = block size:
 * dx = rstd * (dxhat - sum(dxhat)/M - xhat * sum(dxhat * xhat)/M) */
void nl_cpu_groupnorm_backward(nl_backend *be, int n, int c, int hw, int groups, const float *x,
                               const float *dy, const float *gamma, const float *save_mean,
                               const float *save_rstd, float *dx, bool accumulate_dx,
                               float *dgamma, float *dbeta, void *workspace)
{
    (void)be;
    const int cpg = c / groups;
    const size_t block = (size_t)cpg * hw;
    const int blocks = n * groups;
    double *partial = workspace; /* (N, C, 2): sum dy, sum dy*xhat */
    #pragma omp parallel for schedule(static) if ((size_t)blocks * block >= NL_PARALLEL_MIN)
    for (int b = 0; b < blocks; b++) {
        const int i = b / groups, g = b % groups;
        const float *xb = x + (size_t)b * block;
        const float *dyb = dy + (size_t)b * block;
        const double mean = save_mean[b], rstd = save_rstd[b];
        double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
        for (int j = 0; j < cpg; j++) {
            const int ch = g * cpg + j;
            const float *xp = xb + (size_t)j * hw;
            const float *dyp = dyb + (size_t)j * hw;
            double s_dy = 0.0, s_dy_xc = 0.0;
            nl_sum_dy_dyx(xp, dyp, (size_t)hw, save_mean[b], &s_dy, &s_dy_xc);
            const double s_dy_xhat = s_dy_xc * rstd;
            partial[((size_t)i * c + ch) * 2 + 0] = s_dy;
            partial[((size_t)i * c + ch) * 2 + 1] = s_dy_xhat;
            const double gm = gamma_at(gamma, ch);
            sum_dxhat += gm * s_dy;
            sum_dxhat_xhat += gm * s_dy_xhat;
        }
        if (!dx)
            continue;
        const float mean_f = (float)mean;
        const float bf = (float)(-rstd * rstd * sum_dxhat_xhat / (double)block);
        const float kf = (float)(-rstd * sum_dxhat / (double)block);
        float *dxb = dx + (size_t)b * block;
        for (int j = 0; j < cpg; j++) {
            const int ch = g * cpg + j;
            const float af = (float)(rstd * gamma_at(gamma, ch));
            const float *xp = xb + (size_t)j * hw;
            const float *dyp = dyb + (size_t)j * hw;
            float *dxp = dxb + (size_t)j * hw;
            if (accumulate_dx) {
                #pragma omp simd
                for (int k = 0; k < hw; k++)
                    dxp[k] += af * dyp[k] + bf * (xp[k] - mean_f) + kf;
            } else {
                #pragma omp simd
                for (int k = 0; k < hw; k++)
                    dxp[k] = af * dyp[k] + bf * (xp[k] - mean_f) + kf;
            }
        }
    }
    if (!dgamma && !dbeta)
        return;
    #pragma omp parallel for schedule(static) if ((long)n * c >= NL_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        double s_dy = 0.0, s_dy_xhat = 0.0;
        for (int i = 0; i < n; i++) {
            s_dy += partial[((size_t)i * c + ch) * 2 + 0];
            s_dy_xhat += partial[((size_t)i * c + ch) * 2 + 1];
        }
        if (dbeta)
            dbeta[ch] = (float)s_dy;
        if (dgamma)
            dgamma[ch] = (float)s_dy_xhat;
    }
}
