/* The CPU's normalization ops (backend.h, nl_norm_geom): batch statistics go
 * to batchnorm.c's kernels, per-sample groups (layer, group, instance, RMS,
 * FRN: centred or not) to groupnorm.c's, both tuned (results/bench/NOTES.md)
 * and tested against core/norm/reference.c. The forward in two steps
 * (norm_stats, norm_apply) and batch renorm's correction are here. */
#include <assert.h>
#include <math.h>

#include "cpu/cpu.h"
#include "cpu/norm_blocked.h"
#include "cpu/norm_lowp.h"
#include "cpu/reduce.h"

static inline float gamma_at(const float *gamma, int c) { return gamma ? gamma[c] : 1.0f; }
static inline float beta_at(const float *beta, int c) { return beta ? beta[c] : 0.0f; }

/* mean (0 when !center) and biased variance of `count` values, the squares
 * taken about the float mean and corrected to the double one */
static void group_moments(const float *xs, size_t count, bool center, float *mean_out,
                          double *var_out)
{
    const double mean = center ? nl_sum(xs, count) / (double)count : 0.0;
    const float mean_f = (float)mean;
    const double off = mean - (double)mean_f;
    double sq = nl_sum_sq_dev(xs, count, mean_f) - (double)count * off * off;
    *mean_out = mean_f;
    *var_out = sq > 0.0 ? sq / (double)count : 0.0;
}

/* y = (x - mean) * rstd * gamma_c + beta_c over statistics group s of a
 * per-sample geometry (cpg contiguous planes) */
static void group_apply(const nl_norm_geom *g, long s, const float *x, const float *gamma,
                        const float *beta, float *y, float mean_f, double rstd)
{
    const int cpg = g->c / g->groups, hw = g->hw;
    const size_t count = (size_t)cpg * hw;
    const float *xs = x + (size_t)s * count;
    float *ys = y + (size_t)s * count;
    const int ch0 = (int)(s % g->groups) * cpg;
    if (hw == 1) { /* feature vectors: one loop over the group's features */
        const float r = (float)rstd;
        _Pragma("omp simd")
        for (int k = 0; k < cpg; k++)
            ys[k] = nl_fmaf(xs[k] - mean_f, r * gamma_at(gamma, ch0 + k), beta_at(beta, ch0 + k));
        return;
    }
    for (int k = 0; k < cpg; k++) {
        const float scale = (float)(rstd * gamma_at(gamma, ch0 + k));
        const float shift = beta_at(beta, ch0 + k);
        const float *xp = xs + (size_t)k * hw;
        float *yp = ys + (size_t)k * hw;
        _Pragma("omp simd")
        for (int j = 0; j < hw; j++)
            yp[j] = nl_fmaf(xp[j] - mean_f, scale, shift);
    }
}

/* Batch statistics are centred (stats_layer builds no other); per-sample
 * groups take either centring, and gamma with or without beta (RMSNorm has
 * no shift), in groupnorm.c's kernels. */
static bool batch_stats(const nl_norm_geom *g) { return g->groups == 0; }

/* statistics in bf16 or fp16: norm_lowp.c (the backward is the fp32 one) */
static bool low_precision(const nl_norm_geom *g) { return g->stats_precision != NL_PRECISION_FP32; }

void nl_cpu_norm_forward(nl_backend *be, const nl_norm_geom *g, const float *x,
                         const float *gamma, const float *beta, float *y, float *save_mean,
                         float *save_rstd, float *running_mean, float *running_var,
                         const float *momentum_slot)
{
    if (g->block) {
        nl_cpu_norm_blocked_forward(be, g, x, gamma, beta, y, save_mean, save_rstd, running_mean,
                                    running_var, momentum_slot);
        return;
    }
    const float momentum = running_mean ? *momentum_slot : 0.0f;
    if (low_precision(g)) {
        nl_cpu_norm_lowp_forward(g, x, gamma, beta, y, save_mean, save_rstd, running_mean,
                                 running_var, momentum);
        return;
    }
    if (batch_stats(g)) {
        assert(g->center && "uncentred statistics need per-sample groups");
        nl_cpu_batchnorm_forward_train(be, g->n, g->c, g->hw, g->eps, x, gamma, beta, y,
                                       save_mean, save_rstd, running_mean, running_var, momentum);
    } else {
        assert((gamma || !beta) && "a shift comes with a scale");
        nl_cpu_groupnorm_forward(be, g->n, g->c, g->hw, g->groups, g->center, g->eps, x, gamma,
                                 beta, y, save_mean, save_rstd, running_mean, running_var,
                                 momentum);
    }
}

void nl_cpu_norm_forward_eval(nl_backend *be, const nl_norm_geom *g, const float *x,
                              const float *gamma, const float *beta, const float *running_mean,
                              const float *running_var, float *y)
{
    if (g->block) {
        nl_cpu_norm_blocked_forward_eval(be, g, x, gamma, beta, running_mean, running_var, y);
        return;
    }
    if (low_precision(g)) {
        nl_cpu_norm_lowp_forward_eval(g, x, gamma, beta, running_mean, running_var, y);
        return;
    }
    nl_cpu_batchnorm_forward_eval(be, g->n, g->c, g->hw, g->eps, x, gamma, beta, running_mean,
                                  running_var, y);
}

size_t nl_cpu_norm_backward_workspace(nl_backend *be, const nl_norm_geom *g)
{
    if (g->block)
        return nl_cpu_norm_blocked_backward_workspace(be, g);
    return batch_stats(g) ? 0
                          : nl_cpu_groupnorm_backward_workspace(be, g->n, g->c, g->hw, g->groups);
}

void nl_cpu_norm_backward(nl_backend *be, const nl_norm_geom *g, const float *x, const float *dy,
                          const float *gamma, const float *save_mean, const float *save_rstd,
                          float *dx, bool accumulate_dx, float *dgamma, float *dbeta,
                          void *workspace)
{
    if (g->block) {
        nl_cpu_norm_blocked_backward(be, g, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx,
                                     dgamma, dbeta, workspace);
        return;
    }
    if (batch_stats(g))
        nl_cpu_batchnorm_backward(be, g->n, g->c, g->hw, x, dy, gamma, save_mean, save_rstd, dx,
                                  accumulate_dx, dgamma, dbeta);
    else
        nl_cpu_groupnorm_backward(be, g->n, g->c, g->hw, g->groups, g->center, x, dy, gamma,
                                  save_mean, save_rstd, dx, accumulate_dx, dgamma, dbeta,
                                  workspace);
}

/* ---- a ReLU (and a residual add) fused into the apply pass
 * (backend_ops.def, norm_forward_act / norm_backward_act) ---- */

/* images in fp32: batchnorm.c's loops (batch statistics) and groupnorm.c's
 * (per-sample groups: layer, group, instance, RMS) take the epilogue;
 * feature vectors and low-precision statistics run the ops one after the
 * other */
static bool act_fused_kernels(const nl_norm_geom *g)
{
    return g->hw > 1 && !low_precision(g);
}

void nl_cpu_norm_forward_act(nl_backend *be, const nl_norm_geom *g, const float *x,
                             const float *gamma, const float *beta, const float *skip, float *y,
                             float *save_mean, float *save_rstd, float *running_mean,
                             float *running_var, const float *momentum_slot)
{
    if (g->block) {
        nl_cpu_norm_blocked_forward_act(be, g, x, gamma, beta, skip, y, save_mean, save_rstd,
                                        running_mean, running_var, momentum_slot);
        return;
    }
    if (act_fused_kernels(g) && batch_stats(g)) {
        nl_cpu_batchnorm_forward_train_act(g->n, g->c, g->hw, g->eps, x, gamma, beta, skip, y,
                                           save_mean, save_rstd, running_mean, running_var,
                                           running_mean ? *momentum_slot : 0.0f);
        return;
    }
    if (act_fused_kernels(g)) {
        assert((gamma || !beta) && "a shift comes with a scale");
        nl_cpu_groupnorm_forward_act(g->n, g->c, g->hw, g->groups, g->center, g->eps, x, gamma,
                                     beta, skip, y, save_mean, save_rstd, running_mean,
                                     running_var, running_mean ? *momentum_slot : 0.0f);
        return;
    }
    nl_cpu_norm_forward(be, g, x, gamma, beta, y, save_mean, save_rstd, running_mean, running_var,
                        momentum_slot);
    const size_t count = (size_t)g->n * g->c * g->hw;
    if (skip)
        nl_cpu_add_forward(be, count, y, skip, y);
    nl_cpu_activation_forward(be, NL_ACT_RELU, count, y, y);
}

void nl_cpu_norm_backward_act(nl_backend *be, const nl_norm_geom *g, const float *x,
                              const float *y, float *dy, const float *gamma,
                              const float *save_mean, const float *save_rstd, float *dx,
                              bool accumulate_dx, float *dskip, bool accumulate_dskip,
                              float *dgamma, float *dbeta, void *workspace)
{
    if (g->block) {
        nl_cpu_norm_blocked_backward_act(be, g, x, y, dy, gamma, save_mean, save_rstd, dx,
                                         accumulate_dx, dskip, accumulate_dskip, dgamma, dbeta,
                                         workspace);
        return;
    }
    /* the fused loop writes dskip beside dx: without dx the ops in turn */
    if (act_fused_kernels(g) && (dx || !dskip)) {
        if (batch_stats(g))
            nl_cpu_batchnorm_backward_act(g->n, g->c, g->hw, x, y, dy, gamma, save_mean,
                                          save_rstd, dx, accumulate_dx, dskip, accumulate_dskip,
                                          dgamma, dbeta);
        else
            nl_cpu_groupnorm_backward_act(g->n, g->c, g->hw, g->groups, g->center, x, y, dy,
                                          gamma, save_mean, save_rstd, dx, accumulate_dx, dskip,
                                          accumulate_dskip, dgamma, dbeta, workspace);
        return;
    }
    const size_t count = (size_t)g->n * g->c * g->hw;
    nl_cpu_activation_backward(be, NL_ACT_RELU, count, y, dy, dy, false);
    if (dskip)
        nl_cpu_pass_gradient(be, count, dy, dskip, accumulate_dskip);
    nl_cpu_norm_backward(be, g, x, dy, gamma, save_mean, save_rstd, dx, accumulate_dx, dgamma,
                         dbeta, workspace);
}

/* ---- the forward in two steps (backend.h, norm_stats / norm_apply) ---- */

/* mean and biased variance from shifted sums over `count` values */
static void shifted_finish(float shift, double sum, double sum_sq, double count, float *mean,
                           float *var)
{
    const double dmean = sum / count, v = sum_sq / count - dmean * dmean;
    *mean = (float)((double)shift + dmean);
    *var = (float)(v > 0.0 ? v : 0.0);
}

/* batch statistics of images: a channel is n planes of hw floats, c*hw
 * apart; one thread per channel, in sample order */
static void batch_stats_planes(const nl_norm_geom *g, const float *x, float *mean, float *var)
{
    const size_t hw = (size_t)g->hw, stride = (size_t)g->c * hw;
    const double count = (double)g->n * (double)hw;
    NL_PARALLEL_FOR_IF((long)g->n * g->c * g->hw >= NL_PARALLEL_MIN,
    for (int ch = 0; ch < g->c; ch++) {
        const float *xc = x + (size_t)ch * hw;
        const float shift = xc[0]; /* a value of the channel */
        double sum = 0.0, sum_sq = 0.0;
        for (int i = 0; i < g->n; i++)
            nl_sum_shifted_moments(xc + (size_t)i * stride, hw, shift, &sum, &sum_sq);
        shifted_finish(shift, sum, sum_sq, count, &mean[ch], &var[ch]);
    });
}

/* batch statistics of feature vectors: rows are walked whole, a block of
 * features at a time per thread, shifted by the first row; float sums over
 * chunks of 32 rows (8-wide vectors), added in double (as reduce.h does
 * along a run: double lanes throughout ran at half batch norm's speed) */
static void batch_stats_features(const nl_norm_geom *g, const float *x, float *mean, float *var)
{
    enum { BLOCK = 64, ROWS = 32 };
    const int n = g->n, d = g->c;
    NL_PARALLEL_FOR_IF((long)n * d >= NL_PARALLEL_MIN,
    for (int b0 = 0; b0 < d; b0 += BLOCK) {
        const int bw = d - b0 < BLOCK ? d - b0 : BLOCK;
        const float *shift = x + b0;
        double sum[BLOCK] = {0}, sum_sq[BLOCK] = {0};
        for (int i0 = 0; i0 < n; i0 += ROWS) {
            const int i1 = n - i0 < ROWS ? n : i0 + ROWS;
            float chunk_sum[BLOCK] = {0}, chunk_sq[BLOCK] = {0};
            for (int i = i0; i < i1; i++) {
                const float *xr = x + (size_t)i * d + b0;
                _Pragma("omp simd")
                for (int j = 0; j < bw; j++) {
                    const float v = xr[j] - shift[j];
                    chunk_sum[j] += v;
                    chunk_sq[j] = nl_fmaf(v, v, chunk_sq[j]);
                }
            }
            for (int j = 0; j < bw; j++) {
                sum[j] += chunk_sum[j];
                sum_sq[j] += chunk_sq[j];
            }
        }
        for (int j = 0; j < bw; j++)
            shifted_finish(shift[j], sum[j], sum_sq[j], (double)n, &mean[b0 + j], &var[b0 + j]);
    });
}

/* per-channel running statistics from per-group ones: batch statistics
 * (a group per channel) or instance statistics (n per channel, averaged),
 * each group's variance made unbiased as PyTorch does */
void nl_cpu_running_from_groups(const nl_norm_geom *g, const float *mean, const float *var,
                                float *running_mean, float *running_var, float momentum)
{
    assert((g->groups == 0 || g->groups == g->c) && "running statistics are per channel");
    const double count = (double)nl_norm_group_count(g);
    const double unbias = count > 1.0 ? count / (count - 1.0) : 1.0;
    const int per_channel = g->groups == 0 ? 1 : g->n;
    for (int ch = 0; ch < g->c; ch++) {
        double mean_sum = 0.0, var_sum = 0.0;
        for (int i = 0; i < per_channel; i++) {
            const size_t s = g->groups == 0 ? (size_t)ch : (size_t)i * g->c + ch;
            mean_sum += mean[s];
            var_sum += var[s] * unbias;
        }
        running_mean[ch] =
            (1.0f - momentum) * running_mean[ch] + momentum * (float)(mean_sum / per_channel);
        running_var[ch] =
            (1.0f - momentum) * running_var[ch] + momentum * (float)(var_sum / per_channel);
    }
}

void nl_cpu_norm_stats(nl_backend *be, const nl_norm_geom *g, const float *x, float *mean,
                       float *var, float *running_mean, float *running_var,
                       const float *momentum)
{
    if (g->block) {
        nl_cpu_norm_blocked_stats(be, g, x, mean, var, running_mean, running_var, momentum);
        return;
    }
    (void)be;
    if (low_precision(g)) {
        nl_cpu_norm_lowp_stats(g, x, mean, var, running_mean, running_var,
                               running_mean ? *momentum : 0.0f);
        return;
    }
    if (g->groups == 0) {
        assert(g->center && "uncentred statistics need per-sample groups");
        if (g->hw == 1)
            batch_stats_features(g, x, mean, var);
        else
            batch_stats_planes(g, x, mean, var);
    } else {
        const long groups = nl_norm_stat_groups(g);
        const size_t count = (size_t)(g->c / g->groups) * g->hw;
        NL_PARALLEL_FOR_IF((long)g->n * g->c * g->hw >= NL_PARALLEL_MIN,
        for (long s = 0; s < groups; s++) {
            double v;
            group_moments(x + (size_t)s * count, count, g->center, &mean[s], &v);
            var[s] = (float)v;
        });
    }
    if (running_mean)
        nl_cpu_running_from_groups(g, mean, var, running_mean, running_var, *momentum);
}

void nl_cpu_norm_apply(nl_backend *be, const nl_norm_geom *g, const float *x, const float *mean,
                       const float *var, const float *gamma, const float *beta, float *y,
                       float *save_rstd)
{
    if (g->block) {
        nl_cpu_norm_blocked_apply(be, g, x, mean, var, gamma, beta, y, save_rstd);
        return;
    }
    if (low_precision(g)) {
        nl_cpu_norm_lowp_apply(g, x, mean, var, gamma, beta, y, save_rstd);
        return;
    }
    if (g->groups == 0) {
        /* per-channel statistics: eval mode's streaming pass */
        nl_cpu_batchnorm_forward_eval(be, g->n, g->c, g->hw, g->eps, x, gamma, beta, mean, var,
                                      y);
        for (int ch = 0; save_rstd && ch < g->c; ch++)
            save_rstd[ch] = (float)(1.0 / sqrt((double)var[ch] + (double)g->eps));
        return;
    }
    const long groups = nl_norm_stat_groups(g);
    NL_PARALLEL_FOR_IF((long)g->n * g->c * g->hw >= NL_PARALLEL_MIN,
    for (long s = 0; s < groups; s++) {
        const double rstd = 1.0 / sqrt((double)var[s] + (double)g->eps);
        if (save_rstd)
            save_rstd[s] = (float)rstd;
        group_apply(g, s, x, gamma, beta, y, mean[s], rstd);
    });
}

/* ---- batch renormalization's per-channel correction (backend.h) ---- */

static inline float clipf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void nl_cpu_renorm_correction(nl_backend *be, int c, float eps, const float *limits,
                              const float *mean, const float *var, const float *running_mean,
                              const float *running_var, const float *gamma, const float *beta,
                              float *r, float *d, float *scale, float *shift)
{
    (void)be;
    const float r_max = limits[0], d_max = limits[1];
    for (int ch = 0; ch < c; ch++) {
        const double sigma_running = sqrt((double)running_var[ch] + (double)eps);
        const float rc = clipf((float)(sqrt((double)var[ch] + (double)eps) / sigma_running),
                               1.0f / r_max, r_max);
        const float dc = clipf((float)(((double)mean[ch] - running_mean[ch]) / sigma_running),
                               -d_max, d_max);
        r[ch] = rc;
        d[ch] = dc;
        scale[ch] = gamma_at(gamma, ch) * rc;
        shift[ch] = nl_fmaf(gamma_at(gamma, ch), dc, beta_at(beta, ch));
    }
}

void nl_cpu_renorm_param_grads(nl_backend *be, int c, const float *r, const float *d,
                               float *dgamma, const float *dbeta)
{
    (void)be;
    for (int ch = 0; ch < c; ch++)
        dgamma[ch] = nl_fmaf(r[ch], dgamma[ch], d[ch] * dbeta[ch]);
}
