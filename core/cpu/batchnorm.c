/* BatchNorm on the CPU, forward (train, eval) and backward side by side.
 *
 * Statistics are accumulated in double with two passes (mean, then the
 * centred sum of squares): a channel's slice (N*HW floats) is small enough to
 * stay in L2 between the passes, so the second pass costs no memory traffic,
 * and the result does not suffer the cancellation of E[x^2] - E[x]^2.
 * Channels are split over threads; each channel is reduced by one thread in
 * a fixed order, so the result does not depend on the thread count.
 * Feature vectors (hw == 1) take a separate path that walks rows and keeps a
 * block of features per thread, because a feature's values are strided. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"

enum { FEATURE_BLOCK = 64 };

static inline float gamma_at(const float *gamma, int c) { return gamma ? gamma[c] : 1.0f; }
static inline float beta_at(const float *beta, int c) { return beta ? beta[c] : 0.0f; }

static void update_running(float *running_mean, float *running_var, int c, double mean,
                           double var_biased, size_t count, float momentum)
{
    if (!running_mean)
        return;
    /* running_var takes the unbiased variance (PyTorch); count > 1 is checked
     * when the model is built */
    double unbiased = count > 1 ? var_biased * (double)count / (double)(count - 1) : var_biased;
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mean;
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
}

static void forward_train_spatial(int n, int c, int hw, float eps, const float *x,
                                  const float *gamma, const float *beta, float *y,
                                  float *save_mean, float *save_rstd, float *running_mean,
                                  float *running_var, float momentum)
{
    const size_t count = (size_t)n * hw;
    const size_t plane_stride = (size_t)c * hw;
    #pragma omp parallel for schedule(static) if (count * c >= NL_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        double sum = 0.0;
        for (int i = 0; i < n; i++) {
            const float *xp = x + i * plane_stride + (size_t)ch * hw;
            #pragma omp simd reduction(+ : sum)
            for (int k = 0; k < hw; k++)
                sum += xp[k];
        }
        const double mean = sum / (double)count;
        double sq = 0.0;
        for (int i = 0; i < n; i++) {
            const float *xp = x + i * plane_stride + (size_t)ch * hw;
            #pragma omp simd reduction(+ : sq)
            for (int k = 0; k < hw; k++) {
                double d = (double)xp[k] - mean;
                sq += d * d;
            }
        }
        const double var = sq / (double)count;
        const double rstd = 1.0 / sqrt(var + (double)eps);
        /* centring before scaling avoids the cancellation of x*scale - mean*scale
         * when |mean| >> std */
        const float mean_f = (float)mean, scale = (float)(rstd * gamma_at(gamma, ch));
        const float shift = beta_at(beta, ch);
        for (int i = 0; i < n; i++) {
            const float *xp = x + i * plane_stride + (size_t)ch * hw;
            float *yp = y + i * plane_stride + (size_t)ch * hw;
            #pragma omp simd
            for (int k = 0; k < hw; k++)
                yp[k] = (xp[k] - mean_f) * scale + shift;
        }
        save_mean[ch] = (float)mean;
        save_rstd[ch] = (float)rstd;
        update_running(running_mean, running_var, ch, mean, var, count, momentum);
    }
}

static void forward_train_features(int n, int d, float eps, const float *x, const float *gamma,
                                   const float *beta, float *y, float *save_mean,
                                   float *save_rstd, float *running_mean, float *running_var,
                                   float momentum)
{
    const int blocks = (d + FEATURE_BLOCK - 1) / FEATURE_BLOCK;
    #pragma omp parallel for schedule(static) if ((long)n * d >= NL_PARALLEL_MIN)
    for (int blk = 0; blk < blocks; blk++) {
        const int j0 = blk * FEATURE_BLOCK;
        const int width = d - j0 < FEATURE_BLOCK ? d - j0 : FEATURE_BLOCK;
        double sum[FEATURE_BLOCK] = {0}, sq[FEATURE_BLOCK] = {0};
        float mean_f[FEATURE_BLOCK], scale[FEATURE_BLOCK], shift[FEATURE_BLOCK];
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * d + j0;
            #pragma omp simd
            for (int j = 0; j < width; j++)
                sum[j] += xr[j];
        }
        for (int j = 0; j < width; j++)
            sum[j] /= (double)n; /* now the mean */
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * d + j0;
            #pragma omp simd
            for (int j = 0; j < width; j++) {
                double dev = (double)xr[j] - sum[j];
                sq[j] += dev * dev;
            }
        }
        for (int j = 0; j < width; j++) {
            const double var = sq[j] / (double)n;
            const double rstd = 1.0 / sqrt(var + (double)eps);
            mean_f[j] = (float)sum[j];
            scale[j] = (float)(rstd * gamma_at(gamma, j0 + j));
            shift[j] = beta_at(beta, j0 + j);
            save_mean[j0 + j] = (float)sum[j];
            save_rstd[j0 + j] = (float)rstd;
            update_running(running_mean, running_var, j0 + j, sum[j], var, (size_t)n, momentum);
        }
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * d + j0;
            float *yr = y + (size_t)i * d + j0;
            #pragma omp simd
            for (int j = 0; j < width; j++)
                yr[j] = (xr[j] - mean_f[j]) * scale[j] + shift[j];
        }
    }
}

void nl_cpu_batchnorm_forward_train(nl_backend *be, int n, int c, int hw, float eps,
                                    const float *x, const float *gamma, const float *beta,
                                    float *y, float *save_mean, float *save_rstd,
                                    float *running_mean, float *running_var, float momentum)
{
    (void)be;
    if (hw == 1)
        forward_train_features(n, c, eps, x, gamma, beta, y, save_mean, save_rstd, running_mean,
                               running_var, momentum);
    else
        forward_train_spatial(n, c, hw, eps, x, gamma, beta, y, save_mean, save_rstd,
                              running_mean, running_var, momentum);
}

void nl_cpu_batchnorm_forward_eval(nl_backend *be, int n, int c, int hw, float eps,
                                   const float *x, const float *gamma, const float *beta,
                                   const float *running_mean, const float *running_var, float *y)
{
    (void)be;
    /* a per-channel scale and shift, computed once per call */
    #pragma omp parallel for collapse(2) schedule(static) if ((long)n * c * hw >= NL_PARALLEL_MIN)
    for (int i = 0; i < n; i++) {
        for (int ch = 0; ch < c; ch++) {
            const double rstd = 1.0 / sqrt((double)running_var[ch] + (double)eps);
            const float mean = running_mean[ch], scale = (float)(rstd * gamma_at(gamma, ch));
            const float shift = beta_at(beta, ch);
            const float *xp = x + ((size_t)i * c + ch) * hw;
            float *yp = y + ((size_t)i * c + ch) * hw;
            #pragma omp simd
            for (int k = 0; k < hw; k++)
                yp[k] = (xp[k] - mean) * scale + shift;
        }
    }
}

/* dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
 * dbeta = sum(dy), dgamma = sum(dy * xhat), sums over N*HW per channel */
static void backward_spatial(int n, int c, int hw, const float *x, const float *dy,
                             const float *gamma, const float *save_mean, const float *save_rstd,
                             float *dx, bool accumulate_dx, float *dgamma, float *dbeta)
{
    const size_t count = (size_t)n * hw;
    const size_t plane_stride = (size_t)c * hw;
    #pragma omp parallel for schedule(static) if (count * c >= NL_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        const double mean = save_mean[ch], rstd = save_rstd[ch];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int i = 0; i < n; i++) {
            const float *xp = x + i * plane_stride + (size_t)ch * hw;
            const float *dyp = dy + i * plane_stride + (size_t)ch * hw;
            #pragma omp simd reduction(+ : sum_dy, sum_dy_xhat)
            for (int k = 0; k < hw; k++) {
                sum_dy += dyp[k];
                sum_dy_xhat += (double)dyp[k] * (((double)xp[k] - mean) * rstd);
            }
        }
        if (dbeta)
            dbeta[ch] = (float)sum_dy;
        if (dgamma)
            dgamma[ch] = (float)sum_dy_xhat;
        if (!dx)
            continue;
        const double g = gamma_at(gamma, ch);
        /* dx = a*dy + b*(x - mean) + k with the per-channel constants folded;
         * centring first keeps precision when |mean| >> std */
        const double a = g * rstd;
        const float af = (float)a, mean_f = (float)mean;
        const float bf = (float)(-a * rstd * (sum_dy_xhat / (double)count));
        const float kf = (float)(-a * (sum_dy / (double)count));
        for (int i = 0; i < n; i++) {
            const float *xp = x + i * plane_stride + (size_t)ch * hw;
            const float *dyp = dy + i * plane_stride + (size_t)ch * hw;
            float *dxp = dx + i * plane_stride + (size_t)ch * hw;
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
}

static void backward_features(int n, int d, const float *x, const float *dy, const float *gamma,
                              const float *save_mean, const float *save_rstd, float *dx,
                              bool accumulate_dx, float *dgamma, float *dbeta)
{
    const int blocks = (d + FEATURE_BLOCK - 1) / FEATURE_BLOCK;
    #pragma omp parallel for schedule(static) if ((long)n * d >= NL_PARALLEL_MIN)
    for (int blk = 0; blk < blocks; blk++) {
        const int j0 = blk * FEATURE_BLOCK;
        const int width = d - j0 < FEATURE_BLOCK ? d - j0 : FEATURE_BLOCK;
        double sum_dy[FEATURE_BLOCK] = {0}, sum_dy_xhat[FEATURE_BLOCK] = {0};
        double mean[FEATURE_BLOCK], rstd[FEATURE_BLOCK];
        float af[FEATURE_BLOCK], bf[FEATURE_BLOCK], kf[FEATURE_BLOCK], mean_f[FEATURE_BLOCK];
        for (int j = 0; j < width; j++) {
            mean[j] = save_mean[j0 + j];
            rstd[j] = save_rstd[j0 + j];
        }
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * d + j0;
            const float *dyr = dy + (size_t)i * d + j0;
            #pragma omp simd
            for (int j = 0; j < width; j++) {
                sum_dy[j] += dyr[j];
                sum_dy_xhat[j] += (double)dyr[j] * (((double)xr[j] - mean[j]) * rstd[j]);
            }
        }
        for (int j = 0; j < width; j++) {
            if (dbeta)
                dbeta[j0 + j] = (float)sum_dy[j];
            if (dgamma)
                dgamma[j0 + j] = (float)sum_dy_xhat[j];
            const double a = gamma_at(gamma, j0 + j) * rstd[j];
            af[j] = (float)a;
            bf[j] = (float)(-a * rstd[j] * (sum_dy_xhat[j] / n));
            kf[j] = (float)(-a * (sum_dy[j] / n));
            mean_f[j] = (float)mean[j];
        }
        if (!dx)
            continue;
        for (int i = 0; i < n; i++) {
            const float *xr = x + (size_t)i * d + j0;
            const float *dyr = dy + (size_t)i * d + j0;
            float *dxr = dx + (size_t)i * d + j0;
            if (accumulate_dx) {
                #pragma omp simd
                for (int j = 0; j < width; j++)
                    dxr[j] += af[j] * dyr[j] + bf[j] * (xr[j] - mean_f[j]) + kf[j];
            } else {
                #pragma omp simd
                for (int j = 0; j < width; j++)
                    dxr[j] = af[j] * dyr[j] + bf[j] * (xr[j] - mean_f[j]) + kf[j];
            }
        }
    }
}

void nl_cpu_batchnorm_backward(nl_backend *be, int n, int c, int hw, const float *x,
                               const float *dy, const float *gamma, const float *save_mean,
                               const float *save_rstd, float *dx, bool accumulate_dx,
                               float *dgamma, float *dbeta)
{
    (void)be;
    if (hw == 1)
        backward_features(n, c, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx, dgamma,
                          dbeta);
    else
        backward_spatial(n, c, hw, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx, dgamma,
                         dbeta);
}
