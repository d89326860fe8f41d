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

/* Feature vectors (hw == 1): a group is cpg adjacent features whose gamma and
 * beta differ element by element, so the loops run along the features; the
 * per-channel loops of the image path would have one element each. */
static void forward_features(int n, int c, int groups, float eps, const float *x,
                             const float *gamma, const float *beta, float *y, float *save_mean,
                             float *save_rstd)
{
    const int cpg = c / groups;
    #pragma omp parallel for schedule(static) if ((long)n * c >= NL_PARALLEL_MIN)
    for (int i = 0; i < n; i++) {
        for (int g = 0; g < groups; g++) {
            const int b = i * groups + g, c0 = g * cpg;
            const float *xb = x + (size_t)i * c + c0;
            float *yb = y + (size_t)i * c + c0;
            double sum = 0.0, sum_sq = 0.0;
            nl_sum_shifted_moments(xb, (size_t)cpg, xb[0], &sum, &sum_sq);
            const double dmean = sum / cpg, mean = (double)xb[0] + dmean;
            double var = sum_sq / cpg - dmean * dmean;
            if (var < 0.0)
                var = 0.0;
            const double rstd = 1.0 / sqrt(var + (double)eps);
            const float m = (float)mean, r = (float)rstd;
            if (gamma) {
                #pragma omp simd
                for (int j = 0; j < cpg; j++)
                    yb[j] = (xb[j] - m) * (r * gamma[c0 + j]) + beta[c0 + j];
            } else {
                #pragma omp simd
                for (int j = 0; j < cpg; j++)
                    yb[j] = (xb[j] - m) * r;
            }
            save_mean[b] = m;
            save_rstd[b] = r;
        }
    }
}

static void backward_features(int n, int c, int groups, const float *x, const float *dy,
                              const float *gamma, const float *save_mean, const float *save_rstd,
                              float *dx, bool accumulate_dx, float *dgamma, float *dbeta)
{
    const int cpg = c / groups;
    if (dx) {
        #pragma omp parallel for schedule(static) if ((long)n * c >= NL_PARALLEL_MIN)
        for (int i = 0; i < n; i++) {
            for (int g = 0; g < groups; g++) {
                const int b = i * groups + g, c0 = g * cpg;
                const float *xb = x + (size_t)i * c + c0, *dyb = dy + (size_t)i * c + c0;
                float *dxb = dx + (size_t)i * c + c0;
                const float m = save_mean[b], r = save_rstd[b];
                /* dxhat = gamma * dy; sums over the group in float lanes, chunks
                 * added in double (see reduce.h) */
                double s1 = 0.0, s2 = 0.0;
                nl_sum_gdy_gdyx(xb, dyb, gamma ? gamma + c0 : NULL, (size_t)cpg, m, &s1, &s2);
                const float bf = (float)(-(double)r * r * r * s2 / cpg);
                const float kf = (float)(-(double)r * s1 / cpg);
                #pragma omp simd
                for (int j = 0; j < cpg; j++) {
                    const float v = r * (gamma ? gamma[c0 + j] : 1.0f) * dyb[j] +
                                    bf * (xb[j] - m) + kf;
                    dxb[j] = accumulate_dx ? dxb[j] + v : v;
                }
            }
        }
    }
    if (!dgamma && !dbeta)
        return;
    /* per-feature sums over the batch, in sample order, features in blocks
     * that never straddle a group boundary more than the data does: the
     * group of a feature is tracked, not divided for */
    enum { FB = 64 };
    const int fblocks = (c + FB - 1) / FB;
    #pragma omp parallel for schedule(static) if ((long)n * c >= NL_PARALLEL_MIN)
    for (int fb = 0; fb < fblocks; fb++) {
        const int j0 = fb * FB, width = c - j0 < FB ? c - j0 : FB;
        double s_dy[FB] = {0}, s_dyx[FB] = {0};
        enum { ROWS = 32 }; /* rows per float chunk; chunks are added in double */
        for (int i0 = 0; i0 < n; i0 += ROWS) {
            const int i1 = n - i0 < ROWS ? n : i0 + ROWS;
            float a1[FB] = {0}, a2[FB] = {0};
            for (int i = i0; i < i1; i++) {
                const float *xr = x + (size_t)i * c, *dyr = dy + (size_t)i * c;
                int j = j0;
                while (j < j0 + width) {
                    const int g = j / cpg, end = (g + 1) * cpg < j0 + width ? (g + 1) * cpg : j0 + width;
                    const float m = save_mean[i * groups + g], r = save_rstd[i * groups + g];
                    #pragma omp simd
                    for (int q = j; q < end; q++) {
                        a1[q - j0] += dyr[q];
                        a2[q - j0] += dyr[q] * ((xr[q] - m) * r);
                    }
                    j = end;
                }
            }
            for (int q = 0; q < width; q++) {
                s_dy[q] += a1[q];
                s_dyx[q] += a2[q];
            }
        }
        for (int j = 0; j < width; j++) {
            if (dbeta)
                dbeta[j0 + j] = (float)s_dy[j];
            if (dgamma)
                dgamma[j0 + j] = (float)s_dyx[j];
        }
    }
}

void nl_cpu_groupnorm_forward(nl_backend *be, int n, int c, int hw, int groups, float eps,
                              const float *x, const float *gamma, const float *beta, float *y,
                              float *save_mean, float *save_rstd, float *running_mean,
                              float *running_var, float momentum)
{
    (void)be;
    if (hw == 1 && !running_mean) {
        forward_features(n, c, groups, eps, x, gamma, beta, y, save_mean, save_rstd);
        return;
    }
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
    if (hw == 1) {
        backward_features(n, c, groups, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx,
                          dgamma, dbeta);
        return;
    }
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
