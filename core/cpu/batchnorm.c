/* BatchNorm on the CPU, forward (train, eval) and backward side by side.
 *
 * A channel's values are N segments of H*W floats, C*H*W apart. Channels are
 * taken in blocks of adjacent channels, so each sample contributes one
 * contiguous run of block * H*W floats; runs of 16 KiB and more stream
 * markedly faster than one 28x28 channel (3 KiB) or 14x14 (784 B) at a time,
 * more than keeping a block in L2 between its two passes gained. Statistics
 * use the shifted one-pass sums of reduce.h (float lanes per chunk, double
 * across chunks). Each thread takes a contiguous range of blocks; a channel is
 * always reduced by one thread, in sample order, with the same float
 * operations whatever loop it is in, and block sizes depend on the shape
 * alone, so results do not depend on the thread count. Feature vectors
 * (hw == 1) walk rows with a block of features per thread, because a
 * feature's values are strided. */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "cpu/reduce.h"

enum { FEATURE_BLOCK = 128, CHANNEL_BLOCK_MAX = 32 };

/* adjacent channels per block: enough for runs of 16 KiB per sample, and at
 * least 8 blocks, so that every thread has several to pipeline (the first
 * block of a thread's range is not overlapped, see forward_train_spatial) */
static int channel_block(int c, int hw)
{
    int cb = 1;
    while (cb < CHANNEL_BLOCK_MAX && (size_t)cb * hw * sizeof(float) < 16384)
        cb *= 2;
    while (cb > 1 && c / cb < 8)
        cb /= 2;
    return cb;
}

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

static inline void normalize_run(const float *xn, float *yn, float mean, float scale,
                                 float offset, size_t len)
{
    #pragma omp simd
    for (size_t k = 0; k < len; k++)
        yn[k] = fmaf(xn[k] - mean, scale, offset);
}

/* Per-channel state of a block between its statistics and its normalizing
 * pass. */
typedef struct {
    int c0, width;
    float shift[CHANNEL_BLOCK_MAX];
    double sum[CHANNEL_BLOCK_MAX], sum_sq[CHANNEL_BLOCK_MAX];
    float mean[CHANNEL_BLOCK_MAX], scale[CHANNEL_BLOCK_MAX], offset[CHANNEL_BLOCK_MAX];
} bn_block;

static void block_begin(bn_block *b, int blk, int cb, int c, int hw, const float *x)
{
    b->c0 = blk * cb;
    b->width = c - b->c0 < cb ? c - b->c0 : cb;
    for (int j = 0; j < b->width; j++) {
        b->shift[j] = x[(size_t)(b->c0 + j) * hw]; /* a value of the channel */
        b->sum[j] = b->sum_sq[j] = 0.0;
    }
}

static void block_finish_stats(bn_block *b, size_t count, float eps, const float *gamma,
                               const float *beta, float *save_mean, float *save_rstd,
                               float *running_mean, float *running_var, float momentum)
{
    for (int j = 0; j < b->width; j++) {
        const int ch = b->c0 + j;
        const double dmean = b->sum[j] / (double)count, mean = (double)b->shift[j] + dmean;
        double var = b->sum_sq[j] / (double)count - dmean * dmean;
        if (var < 0.0)
            var = 0.0;
        const double rstd = 1.0 / sqrt(var + (double)eps);
        b->mean[j] = (float)mean;
        b->scale[j] = (float)(rstd * gamma_at(gamma, ch));
        b->offset[j] = beta_at(beta, ch);
        save_mean[ch] = b->mean[j];
        save_rstd[ch] = (float)rstd;
        update_running(running_mean, running_var, ch, mean, var, count, momentum);
    }
}

/* Each thread takes a contiguous range of channel blocks and pipelines them:
 * the normalizing pass of block b runs in the same loop as the statistics of
 * block b+1, so that the statistics read overlaps the write traffic of y
 * instead of following it (one pass after the other, each waits on memory in
 * turn). The first block of a range is summed alone and the last normalized
 * alone; which blocks those are depends on the thread count, hence one
 * loop for both (reduce.h's nl_moments_normalizing, whose sums do not
 * change with the fused pass), and normalize_run rounds y as it does. Centring before scaling avoids the
 * cancellation of x*scale - mean*scale when |mean| >> std. */
static void forward_train_spatial(int n, int c, int hw, float eps, const float *x,
                                  const float *gamma, const float *beta, float *y,
                                  float *save_mean, float *save_rstd, float *running_mean,
                                  float *running_var, float momentum)
{
    const size_t count = (size_t)n * hw;
    const size_t plane_stride = (size_t)c * hw;
    const int cb = channel_block(c, hw), blocks = (c + cb - 1) / cb;
    #pragma omp parallel if (count * c >= NL_PARALLEL_MIN)
    {
        const int threads = omp_get_num_threads_safe(), t = omp_get_thread_num_safe();
        const int first = (int)((long)blocks * t / threads);
        const int last = (int)((long)blocks * (t + 1) / threads);
        bn_block cur, next;
        if (first < last) {
            block_begin(&next, first, cb, c, hw, x);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < next.width; j++)
                    nl_sum_shifted_moments(x + i * plane_stride + (size_t)(next.c0 + j) * hw,
                                           (size_t)hw, next.shift[j], &next.sum[j],
                                           &next.sum_sq[j]);
        }
        for (int blk = first; blk < last; blk++) {
            cur = next;
            block_finish_stats(&cur, count, eps, gamma, beta, save_mean, save_rstd,
                               running_mean, running_var, momentum);
            const bool more = blk + 1 < last;
            if (more)
                block_begin(&next, blk + 1, cb, c, hw, x);
            for (int i = 0; i < n; i++) {
                const size_t sample = i * plane_stride;
                int j = 0;
                for (; more && j < cur.width && j < next.width; j++) {
                    const size_t at = sample + (size_t)(cur.c0 + j) * hw;
                    const size_t at_next = sample + (size_t)(next.c0 + j) * hw;
                    nl_moments_normalizing(x + at_next, (size_t)hw, next.shift[j], &next.sum[j],
                                           &next.sum_sq[j], x + at, y + at, cur.mean[j],
                                           cur.scale[j], cur.offset[j], NULL, NULL);
                }
                for (int k = j; k < cur.width; k++) {
                    const size_t at = sample + (size_t)(cur.c0 + k) * hw;
                    normalize_run(x + at, y + at, cur.mean[k], cur.scale[k], cur.offset[k],
                                  (size_t)hw);
                }
                for (int k = j; more && k < next.width; k++)
                    nl_sum_shifted_moments(x + sample + (size_t)(next.c0 + k) * hw, (size_t)hw,
                                           next.shift[k], &next.sum[k], &next.sum_sq[k]);
            }
        }
    }
}

/* Feature vectors: a block of features is summed over the rows, 32 rows at a
 * time into float lanes (one per feature) and chunk totals into double, in
 * one pass about the first row; the normalizing pass finds the block (n x 64
 * floats) in cache. */
enum { ROW_CHUNK = 32 };

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
        float k0[FEATURE_BLOCK], mean_f[FEATURE_BLOCK], scale[FEATURE_BLOCK], shift[FEATURE_BLOCK];
        double s1[FEATURE_BLOCK] = {0}, s2[FEATURE_BLOCK] = {0};
        for (int j = 0; j < width; j++)
            k0[j] = x[j0 + j];
        for (int i0 = 0; i0 < n; i0 += ROW_CHUNK) {
            const int i1 = n - i0 < ROW_CHUNK ? n : i0 + ROW_CHUNK;
            float a1[FEATURE_BLOCK] = {0}, a2[FEATURE_BLOCK] = {0};
            for (int i = i0; i < i1; i++) {
                const float *xr = x + (size_t)i * d + j0;
                #pragma omp simd
                for (int j = 0; j < width; j++) {
                    const float dv = xr[j] - k0[j];
                    a1[j] += dv;
                    a2[j] += dv * dv;
                }
            }
            for (int j = 0; j < width; j++) {
                s1[j] += a1[j];
                s2[j] += a2[j];
            }
        }
        for (int j = 0; j < width; j++) {
            const double dmean = s1[j] / n, mean = (double)k0[j] + dmean;
            double var = s2[j] / n - dmean * dmean;
            if (var < 0.0)
                var = 0.0;
            const double rstd = 1.0 / sqrt(var + (double)eps);
            mean_f[j] = (float)mean;
            scale[j] = (float)(rstd * gamma_at(gamma, j0 + j));
            shift[j] = beta_at(beta, j0 + j);
            save_mean[j0 + j] = mean_f[j];
            save_rstd[j0 + j] = (float)rstd;
            update_running(running_mean, running_var, j0 + j, mean, var, (size_t)n, momentum);
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
    /* per-channel constants once per call (c <= a few thousand: on the stack
     * in chunks), then a pure streaming pass */
    enum { CHUNK = 1024 };
    float mean[CHUNK], scale[CHUNK], shift[CHUNK];
    for (int c0 = 0; c0 < c; c0 += CHUNK) {
        const int width = c - c0 < CHUNK ? c - c0 : CHUNK;
        for (int j = 0; j < width; j++) {
            const double rstd = 1.0 / sqrt((double)running_var[c0 + j] + (double)eps);
            mean[j] = running_mean[c0 + j];
            scale[j] = (float)(rstd * gamma_at(gamma, c0 + j));
            shift[j] = beta_at(beta, c0 + j);
        }
        if (hw == 1) {
            #pragma omp parallel for schedule(static) if ((long)n * width >= NL_PARALLEL_MIN)
            for (int i = 0; i < n; i++) {
                const float *xr = x + (size_t)i * c + c0;
                float *yr = y + (size_t)i * c + c0;
                #pragma omp simd
                for (int j = 0; j < width; j++)
                    yr[j] = (xr[j] - mean[j]) * scale[j] + shift[j];
            }
            continue;
        }
        #pragma omp parallel for collapse(2) schedule(static) if ((long)n * width * hw >= NL_PARALLEL_MIN)
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < width; j++) {
                const float *xp = x + ((size_t)i * c + c0 + j) * hw;
                float *yp = y + ((size_t)i * c + c0 + j) * hw;
                const float m = mean[j], sc = scale[j], sh = shift[j];
                #pragma omp simd
                for (int k = 0; k < hw; k++)
                    yp[k] = (xp[k] - m) * sc + sh;
            }
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
    const int cb = channel_block(c, hw), blocks = (c + cb - 1) / cb;
    #pragma omp parallel for schedule(static) if (count * c >= NL_PARALLEL_MIN)
    for (int blk = 0; blk < blocks; blk++) {
        const int c0 = blk * cb, width = c - c0 < cb ? c - c0 : cb;
        double sum_dy[CHANNEL_BLOCK_MAX] = {0}, sum_dy_xc[CHANNEL_BLOCK_MAX] = {0};
        for (int i = 0; i < n; i++) {
            const size_t at = i * plane_stride + (size_t)c0 * hw;
            for (int j = 0; j < width; j++)
                nl_sum_dy_dyx(x + at + (size_t)j * hw, dy + at + (size_t)j * hw, (size_t)hw,
                              save_mean[c0 + j], &sum_dy[j], &sum_dy_xc[j]);
        }
        float af[CHANNEL_BLOCK_MAX], bf[CHANNEL_BLOCK_MAX], kf[CHANNEL_BLOCK_MAX];
        for (int j = 0; j < width; j++) {
            const int ch = c0 + j;
            const double rstd = save_rstd[ch], sum_dy_xhat = sum_dy_xc[j] * rstd;
            if (dbeta)
                dbeta[ch] = (float)sum_dy[j];
            if (dgamma)
                dgamma[ch] = (float)sum_dy_xhat;
            /* dx = a*dy + b*(x - mean) + k with the per-channel constants folded;
             * centring first keeps precision when |mean| >> std */
            const double a = gamma_at(gamma, ch) * rstd;
            af[j] = (float)a;
            bf[j] = (float)(-a * rstd * (sum_dy_xhat / (double)count));
            kf[j] = (float)(-a * (sum_dy[j] / (double)count));
        }
        if (!dx)
            continue;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < width; j++) {
                const size_t at = i * plane_stride + (size_t)(c0 + j) * hw;
                const float *xp = x + at, *dyp = dy + at;
                float *dxp = dx + at;
                const float a = af[j], b = bf[j], k = kf[j], m = save_mean[c0 + j];
                if (accumulate_dx) {
                    #pragma omp simd
                    for (int q = 0; q < hw; q++)
                        dxp[q] += a * dyp[q] + b * (xp[q] - m) + k;
                } else {
                    #pragma omp simd
                    for (int q = 0; q < hw; q++)
                        dxp[q] = a * dyp[q] + b * (xp[q] - m) + k;
                }
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
        double sum_dy[FEATURE_BLOCK] = {0}, sum_dy_xc[FEATURE_BLOCK] = {0};
        float mean_f[FEATURE_BLOCK], af[FEATURE_BLOCK], bf[FEATURE_BLOCK], kf[FEATURE_BLOCK];
        for (int j = 0; j < width; j++)
            mean_f[j] = save_mean[j0 + j];
        /* sums of dy and dy * (x - mean), 32 rows at a time in float lanes */
        for (int i0 = 0; i0 < n; i0 += ROW_CHUNK) {
            const int i1 = n - i0 < ROW_CHUNK ? n : i0 + ROW_CHUNK;
            float a1[FEATURE_BLOCK] = {0}, a2[FEATURE_BLOCK] = {0};
            for (int i = i0; i < i1; i++) {
                const float *xr = x + (size_t)i * d + j0;
                const float *dyr = dy + (size_t)i * d + j0;
                #pragma omp simd
                for (int j = 0; j < width; j++) {
                    a1[j] += dyr[j];
                    a2[j] += dyr[j] * (xr[j] - mean_f[j]);
                }
            }
            for (int j = 0; j < width; j++) {
                sum_dy[j] += a1[j];
                sum_dy_xc[j] += a2[j];
            }
        }
        for (int j = 0; j < width; j++) {
            const double rstd = save_rstd[j0 + j], sum_dy_xhat = sum_dy_xc[j] * rstd;
            if (dbeta)
                dbeta[j0 + j] = (float)sum_dy[j];
            if (dgamma)
                dgamma[j0 + j] = (float)sum_dy_xhat;
            const double a = gamma_at(gamma, j0 + j) * rstd;
            af[j] = (float)a;
            bf[j] = (float)(-a * rstd * (sum_dy_xhat / n));
            kf[j] = (float)(-a * (sum_dy[j] / n));
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
