/* GroupNorm on the CPU (LayerNorm with groups = 1, InstanceNorm with
 * groups = C; without centring, RMSNorm and FRN's statistics), forward and
 * backward side by side. Centring is a parameter: without it the sums are
 * taken about 0, the mean is 0 and the backward has no mean term.
 *
 * A (sample, group) block is (C/G)*HW contiguous floats; blocks are split
 * over threads and each is reduced by one thread in double with two passes
 * over data that stay in cache. The per-channel parameter gradients need a
 * sum over samples: each block writes its per-channel partial sums to the
 * workspace, then one pass adds them over samples in order, so nothing
 * depends on the thread count. Feature vectors (hw == 1, no running
 * statistics) have kernels of their own (groupnorm_features.c). */
#include <math.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "cpu/groupnorm_features.h"
#include "cpu/reduce.h"

static inline float gamma_at(const float *gamma, int c) { return gamma ? gamma[c] : 1.0f; }
static inline float beta_at(const float *beta, int c) { return beta ? beta[c] : 0.0f; }

/* A (sample, group) block's statistics, summed channel run by channel run
 * about the block's first value, as the pipelined loop below sums them. */
typedef struct {
    float shift, mean;
    double sum, sum_sq, rstd;
} block_stats;

static void block_sums(block_stats *st, const float *xb, int cpg, int hw, bool center)
{
    st->shift = center ? xb[0] : 0.0f;
    st->sum = st->sum_sq = 0.0;
    for (int j = 0; j < cpg; j++)
        nl_sum_shifted_moments(xb + (size_t)j * hw, (size_t)hw, st->shift, &st->sum, &st->sum_sq);
}

static void block_finish(block_stats *st, size_t count, bool center, float eps)
{
    const double dmean = center ? st->sum / (double)count : 0.0,
                 mean = (double)st->shift + dmean;
    double var = st->sum_sq / (double)count - dmean * dmean;
    if (var < 0.0)
        var = 0.0;
    st->mean = (float)mean;
    st->rstd = 1.0 / sqrt(var + (double)eps);
}

/* a thread's share of the (sample, group) blocks of (n, c, hw) data: cpg
 * channels and `block` values each, this thread's range [first, last) */
typedef struct {
    int cpg;
    size_t block;
    int first, last;
} gn_share;

static inline gn_share share_of(int n, int c, int hw, int groups)
{
    gn_share t = {c / groups, (size_t)(c / groups) * hw, 0, 0};
    nl_thread_range(n * groups, &t.first, &t.last);
    return t;
}

/* Images: each thread takes a contiguous range of (sample, group) blocks and,
 * as BatchNorm does with its channel blocks, normalizes block b in the loop
 * that sums block b+1, so that reading the next block overlaps writing this
 * one (a block alone is summed, then normalized from cache: the two phases
 * each wait on memory in turn). */
static inline __attribute__((always_inline)) void
forward_spatial_share(int n, int c, int hw, int groups, bool center, float eps,
                                  const float *x,
                                  const float *gamma, const float *beta, float *y,
                                  float *save_mean, float *save_rstd, const float *skip,
                                  bool relu)
{
    const gn_share t = share_of(n, c, hw, groups);
    {
        block_stats cur, next;
        if (t.first < t.last) {
            block_sums(&next, x + (size_t)t.first * t.block, t.cpg, hw, center);
            block_finish(&next, t.block, center, eps);
        }
        for (int b = t.first; b < t.last; b++) {
            cur = next;
            save_mean[b] = cur.mean;
            save_rstd[b] = (float)cur.rstd;
            const bool more = b + 1 < t.last;
            const float *xb = x + (size_t)b * t.block;
            float *yb = y + (size_t)b * t.block;
            const float *skb = skip ? skip + (size_t)b * t.block : NULL;
            if (more) {
                next.shift = center ? xb[t.block] : 0.0f;
                next.sum = next.sum_sq = 0.0;
            }
            const int g = b % groups;
            for (int j = 0; j < t.cpg; j++) {
                const int ch = g * t.cpg + j;
                const float scale = (float)(cur.rstd * gamma_at(gamma, ch)), offset = beta_at(beta, ch);
                const float *xp = xb + (size_t)j * hw;
                float *yp = yb + (size_t)j * hw;
                const float *skp = skb ? skb + (size_t)j * hw : NULL;
                if (more) {
                    nl_moments_normalizing_act(xp + t.block, (size_t)hw, next.shift, &next.sum,
                                               &next.sum_sq, xp, yp, cur.mean, scale, offset,
                                               NULL, NULL, skp, relu);
                } else if (!relu) {
                    #pragma omp simd
                    for (int k = 0; k < hw; k++)
                        yp[k] = nl_fmaf(xp[k] - cur.mean, scale, offset);
                } else if (skp) {
                    #pragma omp simd
                    for (int k = 0; k < hw; k++)
                        yp[k] = nl_relu1(nl_fmaf(xp[k] - cur.mean, scale, offset) + skp[k]);
                } else {
                    #pragma omp simd
                    for (int k = 0; k < hw; k++)
                        yp[k] = nl_relu1(nl_fmaf(xp[k] - cur.mean, scale, offset));
                }
            }
            if (more)
                block_finish(&next, t.block, center, eps);
        }
    }
}

/* with relu, y = relu(norm(x) + skip) (skip NULL: no add), rounded as the
 * add and ReLU ops round it after the normalizer (norm_forward_act); the
 * fused and plain passes are separate instantiations of the same loop */
static void forward_spatial(int n, int c, int hw, int groups, bool center, float eps,
                            const float *x,
                            const float *gamma, const float *beta, float *y, float *save_mean,
                            float *save_rstd, const float *skip, bool relu)
{
    const size_t block = (size_t)(c / groups) * hw;
    const int blocks = n * groups;
    if (!relu)
        NL_PARALLEL_CALL_IF((size_t)blocks * block >= NL_PARALLEL_MIN,
                            forward_spatial_share(n, c, hw, groups, center, eps, x, gamma, beta,
                                                  y, save_mean, save_rstd, NULL, false));
    else if (skip)
        NL_PARALLEL_CALL_IF((size_t)blocks * block >= NL_PARALLEL_MIN,
                            forward_spatial_share(n, c, hw, groups, center, eps, x, gamma, beta,
                                                  y, save_mean, save_rstd, skip, true));
    else
        NL_PARALLEL_CALL_IF((size_t)blocks * block >= NL_PARALLEL_MIN,
                            forward_spatial_share(n, c, hw, groups, center, eps, x, gamma, beta,
                                                  y, save_mean, save_rstd, NULL, true));
}

static void instance_running(int n, int c, int hw, const float *x, const float *save_mean,
                             float *running_mean, float *running_var, float momentum);

void nl_cpu_groupnorm_forward(nl_backend *be, int n, int c, int hw, int groups, bool center,
                              float eps,
                              const float *x, const float *gamma, const float *beta, float *y,
                              float *save_mean, float *save_rstd, float *running_mean,
                              float *running_var, float momentum)
{
    (void)be;
    if (hw == 1 && !running_mean) {
        nl_cpu_groupnorm_features_forward(n, c, groups, center, eps, x, gamma, beta, y,
                                          save_mean, save_rstd);
        return;
    }
    forward_spatial(n, c, hw, groups, center, eps, x, gamma, beta, y, save_mean, save_rstd,
                    NULL, false);
    if (running_mean)
        instance_running(n, c, hw, x, save_mean, running_mean, running_var, momentum);
}

void nl_cpu_groupnorm_forward_act(int n, int c, int hw, int groups, bool center, float eps,
                                  const float *x, const float *gamma, const float *beta,
                                  const float *skip, float *y, float *save_mean,
                                  float *save_rstd, float *running_mean, float *running_var,
                                  float momentum)
{
    forward_spatial(n, c, hw, groups, center, eps, x, gamma, beta, y, save_mean, save_rstd, skip,
                    true);
    if (running_mean)
        instance_running(n, c, hw, x, save_mean, running_mean, running_var, momentum);
}

static void instance_running(int n, int c, int hw, const float *x, const float *save_mean,
                             float *running_mean, float *running_var, float momentum)
{
    /* InstanceNorm with tracked statistics (groups == c): PyTorch averages the
     * per-instance means and unbiased variances over the batch. The variance
     * is recomputed exactly here rather than recovered from rstd; this path
     * runs only in that rarely used configuration. */
    NL_PARALLEL_FOR_IF((long)n * c * hw >= NL_PARALLEL_MIN,
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
    });
}

/* the per-channel sums of a block's dy and dy * xhat into partial */
static void block_gradient_sums(const float *xb, const float *dyb, const float *yb, int cpg,
                                int hw, float mean, double rstd, double *partial)
{
    for (int j = 0; j < cpg; j++) {
        double s_dy = 0.0, s_dy_xc = 0.0;
        nl_sum_dy_dyx_act(xb + (size_t)j * hw, dyb + (size_t)j * hw,
                          yb ? yb + (size_t)j * hw : NULL, (size_t)hw, mean, &s_dy, &s_dy_xc);
        partial[2 * j] = s_dy;
        partial[2 * j + 1] = s_dy_xc * rstd;
    }
}

/* Per block, with dxhat = gamma_c * dy and M = block size:
 * dx = rstd * (dxhat - sum(dxhat)/M - xhat * sum(dxhat * xhat)/M).
 * The sums must be complete before any of the block's dx, so each thread
 * pipelines its range of blocks as the forward does: block b's dx is written
 * in the loop that sums block b+1. Per-channel sums go to partial (N, C, 2),
 * added over samples afterwards in sample order. */
static inline __attribute__((always_inline)) void
backward_spatial_share(int n, int c, int hw, int groups, bool center, const float *x,
                                   const float *dy, const float *gamma, const float *save_mean,
                                   const float *save_rstd, float *dx, bool accumulate_dx,
                                   double *partial, const float *y, float *dskip,
                                   bool accumulate_dskip)
{
    const gn_share t = share_of(n, c, hw, groups);
    {
        if (t.first < t.last)
            block_gradient_sums(x + (size_t)t.first * t.block, dy + (size_t)t.first * t.block,
                                y ? y + (size_t)t.first * t.block : NULL, t.cpg, hw,
                                save_mean[t.first], save_rstd[t.first],
                                partial + (size_t)t.first * t.cpg * 2);
        for (int b = t.first; b < t.last; b++) {
            const int g = b % groups;
            const double *part = partial + (size_t)b * t.cpg * 2; /* b * cpg = i * c + g * cpg */
            const double rstd = save_rstd[b];
            double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
            for (int j = 0; j < t.cpg; j++) {
                const double gm = gamma_at(gamma, g * t.cpg + j);
                sum_dxhat += gm * part[2 * j];
                sum_dxhat_xhat += gm * part[2 * j + 1];
            }
            const bool more = b + 1 < t.last;
            const float *xb = x + (size_t)b * t.block, *dyb = dy + (size_t)b * t.block;
            const float *yb = y ? y + (size_t)b * t.block : NULL;
            float *dsb = dskip ? dskip + (size_t)b * t.block : NULL;
            if (!dx) {
                if (more)
                    block_gradient_sums(xb + t.block, dyb + t.block, yb ? yb + t.block : NULL,
                                        t.cpg, hw, save_mean[b + 1], save_rstd[b + 1],
                                        partial + (size_t)(b + 1) * t.cpg * 2);
                continue;
            }
            const float mean_f = save_mean[b];
            const float bf = (float)(-rstd * rstd * sum_dxhat_xhat / (double)t.block);
            const float kf = center ? (float)(-rstd * sum_dxhat / (double)t.block) : 0.0f;
            float *dxb = dx + (size_t)b * t.block;
            double *part_next = partial + (size_t)(b + 1) * t.cpg * 2;
            for (int j = 0; j < t.cpg; j++) {
                const float af = (float)(rstd * gamma_at(gamma, g * t.cpg + j));
                const float *xp = xb + (size_t)j * hw, *dyp = dyb + (size_t)j * hw;
                const float *yp = yb ? yb + (size_t)j * hw : NULL;
                float *dxp = dxb + (size_t)j * hw;
                float *dsp = dsb ? dsb + (size_t)j * hw : NULL;
                if (more) {
                    double s_dy = 0.0, s_dy_xc = 0.0;
                    nl_dy_moments_writing_act(xp + t.block, dyp + t.block, yp ? yp + t.block : NULL,
                                              (size_t)hw, save_mean[b + 1], &s_dy, &s_dy_xc, xp,
                                              dyp, yp, dxp, dsp, accumulate_dx, accumulate_dskip,
                                              af, bf, mean_f, kf);
                    part_next[2 * j] = s_dy;
                    part_next[2 * j + 1] = s_dy_xc * (double)save_rstd[b + 1];
                } else {
                    nl_dx_plane(xp, dyp, yp, dxp, dsp, hw, accumulate_dx, accumulate_dskip, af,
                                bf, mean_f, kf);
                }
            }
        }
    }
}

/* with y (a fused ReLU's output, norm_backward_act) dy counts where y > 0
 * only, and with dskip that masked dy is written (or added) there too, in
 * the loops that sum it and write dx; the plain and fused passes are
 * separate instantiations of the same loop */
static void backward_spatial(int n, int c, int hw, int groups, bool center, const float *x,
                             const float *dy,
                             const float *gamma, const float *save_mean, const float *save_rstd,
                             float *dx, bool accumulate_dx, double *partial, const float *y,
                             float *dskip, bool accumulate_dskip)
{
    const size_t block = (size_t)(c / groups) * hw;
    const int blocks = n * groups;
    if (!y)
        NL_PARALLEL_CALL_IF((size_t)blocks * block >= NL_PARALLEL_MIN,
                            backward_spatial_share(n, c, hw, groups, center, x, dy, gamma,
                                                   save_mean, save_rstd, dx, accumulate_dx,
                                                   partial, NULL, NULL, false));
    else if (dskip)
        NL_PARALLEL_CALL_IF((size_t)blocks * block >= NL_PARALLEL_MIN,
                            backward_spatial_share(n, c, hw, groups, center, x, dy, gamma,
                                                   save_mean, save_rstd, dx, accumulate_dx,
                                                   partial, y, dskip, accumulate_dskip));
    else
        NL_PARALLEL_CALL_IF((size_t)blocks * block >= NL_PARALLEL_MIN,
                            backward_spatial_share(n, c, hw, groups, center, x, dy, gamma,
                                                   save_mean, save_rstd, dx, accumulate_dx,
                                                   partial, y, NULL, false));
}

static void param_grads(int n, int c, const double *partial, float *dgamma, float *dbeta);

size_t nl_cpu_groupnorm_backward_workspace(nl_backend *be, int n, int c, int hw, int groups)
{
    (void)be;
    (void)groups;
    const size_t spatial = (size_t)n * c * 2 * sizeof(double);
    const size_t features = hw == 1 ? nl_cpu_groupnorm_features_workspace(n, c) : 0;
    return features > spatial ? features : spatial;
}

void nl_cpu_groupnorm_backward(nl_backend *be, int n, int c, int hw, int groups, bool center,
                               const float *x,
                               const float *dy, const float *gamma, const float *save_mean,
                               const float *save_rstd, float *dx, bool accumulate_dx,
                               float *dgamma, float *dbeta, void *workspace)
{
    (void)be;
    if (hw == 1) {
        nl_cpu_groupnorm_features_backward(n, c, groups, center, x, dy, gamma, save_mean,
                                           save_rstd, dx, accumulate_dx, dgamma, dbeta,
                                           workspace);
        return;
    }
    double *partial = workspace; /* (N, C, 2): sum dy, sum dy*xhat */
    backward_spatial(n, c, hw, groups, center, x, dy, gamma, save_mean, save_rstd, dx,
                     accumulate_dx, partial, NULL, NULL, false);
    param_grads(n, c, partial, dgamma, dbeta);
}

void nl_cpu_groupnorm_backward_act(int n, int c, int hw, int groups, bool center, const float *x,
                                   const float *y, const float *dy, const float *gamma,
                                   const float *save_mean, const float *save_rstd, float *dx,
                                   bool accumulate_dx, float *dskip, bool accumulate_dskip,
                                   float *dgamma, float *dbeta, void *workspace)
{
    double *partial = workspace;
    backward_spatial(n, c, hw, groups, center, x, dy, gamma, save_mean, save_rstd, dx,
                     accumulate_dx, partial, y, dskip, accumulate_dskip);
    param_grads(n, c, partial, dgamma, dbeta);
}

/* the per-channel parameter gradients from the blocks' partial sums, added
 * over samples in order */
static void param_grads(int n, int c, const double *partial, float *dgamma, float *dbeta)
{
    if (!dgamma && !dbeta)
        return;
    NL_PARALLEL_FOR_IF((long)n * c >= NL_PARALLEL_MIN,
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
    });
}
