/* Normalization over groups of planes, written to be read (llm.c style):
 * forward and backward side by side, every sum in double, two passes.
 *
 * Statistics group s holds `planes` planes of hw values each:
 *   groups == 0: s is a channel; its planes are (0, s), (1, s), ... (n-1, s)
 *   groups >= 1: s = i * groups + q; planes (i, q*cpg) ... (i, q*cpg + cpg-1)
 *
 * forward:  mean = center ? E[x] : 0        (over the group)
 *           var  = E[(x - mean)^2]           (biased)
 *           xhat = (x - mean) / sqrt(var + eps)
 *           y    = gamma_c * xhat + beta_c
 *           (stats: mean and var; apply: y from given mean and var)
 * backward: dxhat = gamma_c * dy
 *           dx = rstd * (dxhat - E[dxhat] - xhat * E[dxhat * xhat])
 *                (without the E[dxhat] term when not centred: the mean was
 *                 not a function of x)
 *           dgamma_c = sum dy * xhat, dbeta_c = sum dy (over the channel)
 *
 * Without statistics (the dyt_* and tlu_* ops), element at of channel c:
 * DyT:  t = tanh(alpha * x), y = gamma_c * t + beta_c
 *       dx = dy * gamma_c * alpha * (1 - t^2), dgamma_c = sum dy * t,
 *       dbeta_c = sum dy, dalpha = sum over everything of dy * gamma_c * (1 - t^2) * x
 * TLU:  y = max(x, tau_c); dx = dy where y > tau_c, dtau_c = sum of dy elsewhere */
#include "norm/reference.h"

#include <math.h>
#include <stdlib.h>

/* offset of plane k of statistics group s */
static size_t plane_offset(const nl_norm_geom *g, long s, int k)
{
    if (g->groups == 0)
        return ((size_t)k * g->c + (size_t)s) * g->hw;
    const long i = s / g->groups, q = s % g->groups, cpg = g->c / g->groups;
    return ((size_t)i * g->c + (size_t)(q * cpg + k)) * g->hw;
}

static int plane_channel(const nl_norm_geom *g, long s, int k)
{
    return g->groups == 0 ? (int)s : (int)((s % g->groups) * (g->c / g->groups) + k);
}

static int planes_per_group(const nl_norm_geom *g)
{
    return g->groups == 0 ? g->n : g->c / g->groups;
}

/* mean (0 when !center) and the sum of squares about it, over group s */
static void group_moments(const nl_norm_geom *g, const float *x, long s, double *mean,
                          double *sum_sq)
{
    const int planes = planes_per_group(g);
    double sum = 0.0;
    for (int k = 0; k < planes; k++)
        for (int j = 0; j < g->hw; j++)
            sum += x[plane_offset(g, s, k) + j];
    *mean = g->center ? sum / (double)nl_norm_group_count(g) : 0.0;
    *sum_sq = 0.0;
    for (int k = 0; k < planes; k++)
        for (int j = 0; j < g->hw; j++) {
            const double d = x[plane_offset(g, s, k) + j] - *mean;
            *sum_sq += d * d;
        }
}

/* y = (x - mean) * rstd * gamma_c + beta_c over group s */
static void group_apply(const nl_norm_geom *g, const float *x, long s, double mean, double rstd,
                        const float *gamma, const float *beta, float *y)
{
    for (int k = 0; k < planes_per_group(g); k++) {
        const int ch = plane_channel(g, s, k);
        const double gm = gamma ? gamma[ch] : 1.0, bt = beta ? beta[ch] : 0.0;
        for (int j = 0; j < g->hw; j++) {
            const size_t at = plane_offset(g, s, k) + j;
            y[at] = (float)((x[at] - mean) * rstd * gm + bt);
        }
    }
}

/* Running statistics from each group's mean and unbiased variance: one
 * group per channel (groups == 0), or one per instance (groups == c), n of
 * them per channel, folded in as their batch average. */
static void update_running(const nl_norm_geom *g, const double *group_mean,
                           const double *group_unbiased, float *running_mean, float *running_var,
                           float momentum)
{
    const int per_channel = g->groups == 0 ? 1 : g->n;
    for (int ch = 0; ch < g->c; ch++) {
        double mean = 0.0, unbiased = 0.0;
        for (int i = 0; i < per_channel; i++) {
            const long s = g->groups == 0 ? ch : (long)i * g->c + ch;
            mean += group_mean[s] / per_channel;
            unbiased += group_unbiased[s] / per_channel;
        }
        running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
        running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
    }
}

/* the statistics of every group, to (double) buffers the caller frees */
static void all_moments(const nl_norm_geom *g, const float *x, double **mean, double **var,
                        double **unbiased)
{
    const long groups = nl_norm_stat_groups(g);
    const double count = (double)nl_norm_group_count(g);
    *mean = malloc((size_t)groups * sizeof(double));
    *var = malloc((size_t)groups * sizeof(double));
    *unbiased = malloc((size_t)groups * sizeof(double));
    for (long s = 0; s < groups; s++) {
        double sum_sq;
        group_moments(g, x, s, &(*mean)[s], &sum_sq);
        (*var)[s] = sum_sq / count;
        (*unbiased)[s] = count > 1.0 ? sum_sq / (count - 1.0) : (*var)[s];
    }
}

void nl_norm_reference_forward(const nl_norm_geom *g, const float *x, const float *gamma,
                               const float *beta, float *y, float *save_mean, float *save_rstd,
                               float *running_mean, float *running_var, float momentum)
{
    double *mean, *var, *unbiased;
    all_moments(g, x, &mean, &var, &unbiased);
    for (long s = 0; s < nl_norm_stat_groups(g); s++) {
        const double rstd = 1.0 / sqrt(var[s] + (double)g->eps);
        save_mean[s] = (float)mean[s];
        save_rstd[s] = (float)rstd;
        group_apply(g, x, s, mean[s], rstd, gamma, beta, y);
    }
    if (running_mean)
        update_running(g, mean, unbiased, running_mean, running_var, momentum);
    free(mean);
    free(var);
    free(unbiased);
}

void nl_norm_reference_stats(const nl_norm_geom *g, const float *x, float *mean_out,
                             float *var_out, float *running_mean, float *running_var,
                             float momentum)
{
    double *mean, *var, *unbiased;
    all_moments(g, x, &mean, &var, &unbiased);
    for (long s = 0; s < nl_norm_stat_groups(g); s++) {
        mean_out[s] = (float)mean[s];
        var_out[s] = (float)var[s];
    }
    if (running_mean)
        update_running(g, mean, unbiased, running_mean, running_var, momentum);
    free(mean);
    free(var);
    free(unbiased);
}

void nl_norm_reference_apply(const nl_norm_geom *g, const float *x, const float *mean,
                             const float *var, const float *gamma, const float *beta, float *y,
                             float *save_rstd)
{
    for (long s = 0; s < nl_norm_stat_groups(g); s++) {
        const double rstd = 1.0 / sqrt((double)var[s] + (double)g->eps);
        if (save_rstd)
            save_rstd[s] = (float)rstd;
        group_apply(g, x, s, mean[s], rstd, gamma, beta, y);
    }
}

void nl_norm_reference_forward_eval(const nl_norm_geom *g, const float *x, const float *gamma,
                                    const float *beta, const float *running_mean,
                                    const float *running_var, float *y)
{
    for (int i = 0; i < g->n; i++)
        for (int ch = 0; ch < g->c; ch++) {
            const double rstd = 1.0 / sqrt((double)running_var[ch] + (double)g->eps);
            const double gm = gamma ? gamma[ch] : 1.0, bt = beta ? beta[ch] : 0.0;
            for (int j = 0; j < g->hw; j++) {
                const size_t at = ((size_t)i * g->c + ch) * g->hw + j;
                y[at] = (float)((x[at] - running_mean[ch]) * rstd * gm + bt);
            }
        }
}

/* the fused kernels' point of the design space: centred with the standard
 * deviation, or uncentred (save_mean 0) with the RMS */
void nl_norm_reference_backward(const nl_norm_geom *g, const float *x, const float *dy,
                                const float *gamma, const float *save_mean,
                                const float *save_rstd, float *dx, bool accumulate_dx,
                                float *dgamma, float *dbeta)
{
    nl_norm_reference_backward_point(g, g->center ? NL_SCALE_STD : NL_SCALE_RMS, x, dy, gamma,
                                     save_mean, save_mean, save_rstd, dx, accumulate_dx, dgamma,
                                     dbeta);
}

static double clip(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* batch renormalization's r and d (Ioffe 2017, Algorithm 1) */
void nl_norm_reference_renorm_correction(int c, float eps, float r_max, float d_max,
                                         const float *mean, const float *var,
                                         const float *running_mean, const float *running_var,
                                         const float *gamma, const float *beta, float *r,
                                         float *d, float *scale, float *shift)
{
    for (int ch = 0; ch < c; ch++) {
        const double sigma_batch = sqrt((double)var[ch] + (double)eps);
        const double sigma_running = sqrt((double)running_var[ch] + (double)eps);
        const double rc = clip(sigma_batch / sigma_running, 1.0 / r_max, r_max);
        const double dc = clip(((double)mean[ch] - running_mean[ch]) / sigma_running, -d_max, d_max);
        const double gm = gamma ? gamma[ch] : 1.0, bt = beta ? beta[ch] : 0.0;
        r[ch] = (float)rc;
        d[ch] = (float)dc;
        scale[ch] = (float)(gm * rc);
        shift[ch] = (float)(gm * dc + bt);
    }
}

void nl_norm_reference_renorm_param_grads(int c, const float *r, const float *d, float *dgamma,
                                          const float *dbeta)
{
    for (int ch = 0; ch < c; ch++)
        dgamma[ch] = (float)((double)r[ch] * dgamma[ch] + (double)d[ch] * dbeta[ch]);
}

/* The backward of batch statistics in two steps (synchronized batch norm
 * adds the ranks' sums between them), per channel ch over its N*HW values:
 *   reduce: sum_dy = sum dy, sum_dy_xhat = sum dy * xhat
 *   apply:  dx = rstd * gamma_c * (dy - (sum_dy + xhat * sum_dy_xhat) / count)
 * count is the number of values the sums cover (every rank's). */
void nl_norm_reference_backward_reduce(const nl_norm_geom *g, const float *x, const float *dy,
                                       const float *save_mean, const float *save_rstd,
                                       float *sum_dy, float *sum_dy_xhat)
{
    for (int ch = 0; ch < g->c; ch++) {
        double s_dy = 0.0, s_dy_xhat = 0.0;
        for (int k = 0; k < g->n; k++)
            for (int j = 0; j < g->hw; j++) {
                const size_t at = plane_offset(g, ch, k) + j;
                s_dy += dy[at];
                s_dy_xhat += dy[at] * ((x[at] - (double)save_mean[ch]) * save_rstd[ch]);
            }
        sum_dy[ch] = (float)s_dy;
        sum_dy_xhat[ch] = (float)s_dy_xhat;
    }
}

void nl_norm_reference_backward_apply(const nl_norm_geom *g, const float *x, const float *dy,
                                      const float *gamma, const float *save_mean,
                                      const float *save_rstd, const float *sum_dy,
                                      const float *sum_dy_xhat, double count, float *dx,
                                      bool accumulate_dx)
{
    for (int ch = 0; ch < g->c; ch++) {
        const double rstd = save_rstd[ch], gm = gamma ? gamma[ch] : 1.0;
        for (int k = 0; k < g->n; k++)
            for (int j = 0; j < g->hw; j++) {
                const size_t at = plane_offset(g, ch, k) + j;
                const double xhat = (x[at] - (double)save_mean[ch]) * rstd;
                const double d = rstd * gm * (dy[at] - (sum_dy[ch] + xhat * sum_dy_xhat[ch]) / count);
                dx[at] = (float)(accumulate_dx ? dx[at] + d : d);
            }
    }
}

/* ---- the design space's points off the fused kernels ----
 * y = gamma_c (x - shift_s) rstd_s + beta_c, shift_s = center ? mean_s : 0,
 * rstd_s = 1/sqrt(v_s + eps) with v_s the second moment about c_s (std:
 * mean_s; rms: 0), or 1 (none). Since sum over the group of (x - mean) is 0,
 *   d v_s / dx = 2 (x - c_s) / count
 * and dx = rstd (dxhat - [center] E[dxhat] - u E[dxhat xhat]) with
 * u = (x - c_s) rstd (the last term absent for none). */
void nl_norm_reference_to_point(int count, bool center, nl_norm_scale scale, const float *mean,
                                const float *var, float *shift, float *divisor_var)
{
    for (int s = 0; s < count; s++) {
        const double m = mean[s], v = var[s];
        shift[s] = center ? (float)m : 0.0f;
        divisor_var[s] = scale == NL_SCALE_STD   ? (float)v
                         : scale == NL_SCALE_RMS ? (float)(v + m * m)
                                                 : 1.0f;
    }
}

void nl_norm_reference_backward_point(const nl_norm_geom *g, nl_norm_scale scale, const float *x,
                                      const float *dy, const float *gamma, const float *shift,
                                      const float *mean, const float *rstd, float *dx,
                                      bool accumulate_dx, float *dgamma, float *dbeta)
{
    const long groups = nl_norm_stat_groups(g);
    const double count = (double)nl_norm_group_count(g);
    const int planes = planes_per_group(g);
    double *dgamma_sum = calloc((size_t)g->c, sizeof(double));
    double *dbeta_sum = calloc((size_t)g->c, sizeof(double));
    for (long s = 0; s < groups; s++) {
        const double r = scale == NL_SCALE_NONE ? 1.0 : rstd[s];
        const double sh = shift[s], centre = scale == NL_SCALE_STD ? mean[s] : 0.0;
        double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
        for (int k = 0; k < planes; k++) {
            const int ch = plane_channel(g, s, k);
            const double gm = gamma ? gamma[ch] : 1.0;
            for (int j = 0; j < g->hw; j++) {
                const size_t at = plane_offset(g, s, k) + j;
                const double xhat = (x[at] - sh) * r;
                sum_dxhat += gm * dy[at];
                sum_dxhat_xhat += gm * dy[at] * xhat;
                dgamma_sum[ch] += dy[at] * xhat;
                dbeta_sum[ch] += dy[at];
            }
        }
        const double mean_dxhat = g->center ? sum_dxhat / count : 0.0;
        const double mean_dxhat_xhat = scale == NL_SCALE_NONE ? 0.0 : sum_dxhat_xhat / count;
        if (!dx)
            continue;
        for (int k = 0; k < planes; k++) {
            const int ch = plane_channel(g, s, k);
            const double gm = gamma ? gamma[ch] : 1.0;
            for (int j = 0; j < g->hw; j++) {
                const size_t at = plane_offset(g, s, k) + j;
                const double u = (x[at] - centre) * r;
                const double d = r * (gm * dy[at] - mean_dxhat - u * mean_dxhat_xhat);
                dx[at] = (float)(accumulate_dx ? dx[at] + d : d);
            }
        }
    }
    for (int ch = 0; ch < g->c; ch++) {
        if (dgamma)
            dgamma[ch] = (float)dgamma_sum[ch];
        if (dbeta)
            dbeta[ch] = (float)dbeta_sum[ch];
    }
    free(dgamma_sum);
    free(dbeta_sum);
}

/* ---- Switchable Normalization ----
 * a = softmax(lambda[0..2]), b = softmax(lambda[3..5]), order in, ln, bn;
 * m_nc = a . (mu_in[nc], mu_ln[n], mu_bn[c]), v_nc = b . (s_in, s_ln, s_bn).
 * From y = gamma_c (x - m) r + beta_c, r = 1/sqrt(v + eps), over the HW
 * values of (n, c):
 *   gm_nc = dL/dm_nc = -r gamma_c sum dy,  gv_nc = dL/dv_nc = -r^2/2 gamma_c sum dy xhat
 * Each statistic k over count_k values takes its share: the instance ones
 * a_in gm_nc (HW values), the layer ones a_ln sum_c gm_nc (C*HW), the batch
 * ones a_bn sum_n gm_nc (N*HW), likewise b with gv; then
 *   dx = gamma_c r dy + sum_k (G_mu_k + 2 (x - mu_k) G_s_k) / count_k.
 * dL/da_k = sum_nc gm_nc * mu_k, dL/db_k = sum_nc gv_nc * s_k, and through
 * the softmax dlambda_k = a_k (da_k - sum_j a_j da_j). */
static void softmax3(const float *l, double *p)
{
    const double top = fmax(fmax(l[0], l[1]), l[2]);
    double sum = 0.0;
    for (int k = 0; k < 3; k++)
        sum += p[k] = exp(l[k] - top);
    for (int k = 0; k < 3; k++)
        p[k] /= sum;
}

/* the statistic of each kind for plane nc = (i, ch): mu_in, mu_ln, mu_bn (or the variances) */
static void switch_stats3(size_t nc, int i, int ch, const float *in, const float *ln,
                          const float *bn, double *out)
{
    out[0] = in[nc];
    out[1] = ln[i];
    out[2] = bn[ch];
}

void nl_switch_reference_mix(int n, int c, const float *lambda, const float *mean_in,
                             const float *var_in, const float *mean_ln, const float *var_ln,
                             const float *mean_bn, const float *var_bn, float *mean, float *var,
                             float *weights)
{
    double w[6]; /* a, then b */
    softmax3(lambda, w);
    softmax3(lambda + 3, w + 3);
    for (int k = 0; k < 6; k++)
        weights[k] = (float)w[k];
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const size_t nc = (size_t)i * c + ch;
            double mu[3], s[3], m = 0.0, v = 0.0;
            switch_stats3(nc, i, ch, mean_in, mean_ln, mean_bn, mu);
            switch_stats3(nc, i, ch, var_in, var_ln, var_bn, s);
            for (int k = 0; k < 3; k++) {
                m += w[k] * mu[k];
                v += w[3 + k] * s[k];
            }
            mean[nc] = (float)m;
            var[nc] = (float)v;
        }
}

void nl_switch_reference_backward(int n, int c, int hw, const float *x, const float *dy,
                                  const float *gamma, const float *mean, const float *rstd,
                                  const float *weights, const float *mean_in,
                                  const float *mean_ln, const float *mean_bn,
                                  const float *var_in, const float *var_ln, const float *var_bn,
                                  bool batch_grad, float *dx, bool accumulate_dx, float *dgamma,
                                  float *dbeta, float *dlambda)
{
    const size_t planes = (size_t)n * c;
    double *gm = calloc(planes, sizeof(double)), *gv = calloc(planes, sizeof(double));
    double *ln_m = calloc((size_t)n, sizeof(double)), *ln_v = calloc((size_t)n, sizeof(double));
    double *bn_m = calloc((size_t)c, sizeof(double)), *bn_v = calloc((size_t)c, sizeof(double));
    double dw[6] = {0}; /* dL/da, then dL/db */
    for (int ch = 0; ch < c; ch++) {
        double sg = 0.0, sb = 0.0;
        for (int i = 0; i < n; i++) {
            const size_t nc = (size_t)i * c + ch;
            const double r = rstd[nc], g = gamma ? gamma[ch] : 1.0;
            double s_dy = 0.0, s_dy_xhat = 0.0;
            for (int j = 0; j < hw; j++) {
                const double xhat = (x[nc * hw + j] - (double)mean[nc]) * r;
                s_dy += dy[nc * hw + j];
                s_dy_xhat += dy[nc * hw + j] * xhat;
            }
            sg += s_dy_xhat;
            sb += s_dy;
            gm[nc] = -r * g * s_dy;
            gv[nc] = -0.5 * r * r * g * s_dy_xhat;
            ln_m[i] += gm[nc];
            ln_v[i] += gv[nc];
            bn_m[ch] += gm[nc];
            bn_v[ch] += gv[nc];
            double mu[3], s[3];
            switch_stats3(nc, i, ch, mean_in, mean_ln, mean_bn, mu);
            switch_stats3(nc, i, ch, var_in, var_ln, var_bn, s);
            for (int k = 0; k < 3; k++) {
                dw[k] += gm[nc] * mu[k];
                dw[3 + k] += gv[nc] * s[k];
            }
        }
        if (dgamma)
            dgamma[ch] = (float)sg;
        if (dbeta)
            dbeta[ch] = (float)sb;
    }
    for (int half = 0; half < 6; half += 3) { /* a's logits, then b's */
        double dot = 0.0;
        for (int j = 0; j < 3; j++)
            dot += weights[half + j] * dw[half + j];
        for (int k = 0; k < 3; k++)
            dlambda[half + k] = (float)(weights[half + k] * (dw[half + k] - dot));
    }
    const double a_in = weights[0], a_ln = weights[1], a_bn = batch_grad ? weights[2] : 0.0;
    const double b_in = weights[3], b_ln = weights[4], b_bn = batch_grad ? weights[5] : 0.0;
    const double in_count = hw, ln_count = (double)c * hw, bn_count = (double)n * hw;
    for (int i = 0; dx && i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const size_t nc = (size_t)i * c + ch;
            const double r = rstd[nc], g = gamma ? gamma[ch] : 1.0;
            for (int j = 0; j < hw; j++) {
                const size_t at = nc * hw + j;
                const double xv = x[at];
                const double d = g * r * dy[at] +
                                 (a_in * gm[nc] + 2.0 * (xv - mean_in[nc]) * b_in * gv[nc]) / in_count +
                                 (a_ln * ln_m[i] + 2.0 * (xv - mean_ln[i]) * b_ln * ln_v[i]) / ln_count +
                                 (a_bn * bn_m[ch] + 2.0 * (xv - mean_bn[ch]) * b_bn * bn_v[ch]) / bn_count;
                dx[at] = (float)(accumulate_dx ? dx[at] + d : d);
            }
        }
    free(gm);
    free(gv);
    free(ln_m);
    free(ln_v);
    free(bn_m);
    free(bn_v);
}

/* element `at` of an (n, c, hw) tensor is in channel (at / hw) % c */
void nl_dyt_reference_forward(int n, int c, int hw, float alpha, const float *x,
                              const float *gamma, const float *beta, float *y)
{
    const size_t count = (size_t)n * c * hw;
    for (size_t at = 0; at < count; at++) {
        const int ch = (int)(at / hw % c);
        const double t = tanh((double)alpha * x[at]);
        y[at] = (float)((gamma ? gamma[ch] : 1.0) * t + (beta ? beta[ch] : 0.0));
    }
}

void nl_dyt_reference_backward(int n, int c, int hw, float alpha, const float *x,
                               const float *dy, const float *gamma, float *dx, bool accumulate_dx,
                               float *dgamma, float *dbeta, float *dalpha)
{
    double *sum_dy_t = calloc((size_t)c, sizeof(double));
    double *sum_dy = calloc((size_t)c, sizeof(double));
    double sum_dalpha = 0.0;
    const size_t count = (size_t)n * c * hw;
    for (size_t at = 0; at < count; at++) {
        const int ch = (int)(at / hw % c);
        const double gm = gamma ? gamma[ch] : 1.0;
        const double t = tanh((double)alpha * x[at]), slope = 1.0 - t * t;
        sum_dy_t[ch] += dy[at] * t;
        sum_dy[ch] += dy[at];
        sum_dalpha += dy[at] * gm * slope * x[at];
        if (dx) {
            const double d = dy[at] * gm * alpha * slope;
            dx[at] = (float)(accumulate_dx ? dx[at] + d : d);
        }
    }
    for (int ch = 0; ch < c; ch++) {
        if (dgamma)
            dgamma[ch] = (float)sum_dy_t[ch];
        if (dbeta)
            dbeta[ch] = (float)sum_dy[ch];
    }
    *dalpha = (float)sum_dalpha;
    free(sum_dy_t);
    free(sum_dy);
}

void nl_tlu_reference_forward(int n, int c, int hw, const float *x, const float *tau, float *y)
{
    const size_t count = (size_t)n * c * hw;
    for (size_t at = 0; at < count; at++)
        y[at] = fmaxf(x[at], tau[at / hw % c]);
}

void nl_tlu_reference_backward(int n, int c, int hw, const float *y, const float *tau,
                               const float *dy, float *dx, bool accumulate_dx, float *dtau)
{
    double *sum = calloc((size_t)c, sizeof(double));
    const size_t count = (size_t)n * c * hw;
    for (size_t at = 0; at < count; at++) {
        const int ch = (int)(at / hw % c);
        const bool passes = y[at] > tau[ch];
        if (!passes)
            sum[ch] += dy[at];
        if (dx) {
            const float d = passes ? dy[at] : 0.0f;
            dx[at] = accumulate_dx ? dx[at] + d : d;
        }
    }
    for (int ch = 0; ch < c; ch++)
        dtau[ch] = (float)sum[ch];
    free(sum);
}
