/* Normalization with its statistics in bf16 or fp16 (model.norm.stats_precision):
 * the CUDA twin of core/cpu/norm_lowp.c, whose head comment defines the
 * kernel. Every rounded quantity is computed with the CPU's operations in
 * the CPU's order (a statistics group's sums by one thread, sequentially;
 * the build compiles with --fmad=false, and the divisions and square roots
 * are double's IEEE ones), so the statistics match the CPU's bit for bit;
 * y differs from the CPU's by its fused multiply-add at most. A plain
 * kernel for an ablation, not a tuned one: one thread per group. */
#include "cuda/norm_common.cuh"

extern "C" {
#include "base/precision.h"
}

using namespace nlk;

namespace {

__device__ __forceinline__ float quotient(nl_precision p, float sum, double count)
{
    return nl_round_to(p, (float)((double)sum / count));
}

__device__ __forceinline__ float rstd_of(nl_precision p, float var, float eps)
{
    return nl_round_to(p, (float)(1.0 / sqrt((double)var + (double)eps)));
}

/* item s: statistics group s's mean and variance */
struct LowpStatsOp {
    nl_norm_geom g;
    const float *x;
    float *mean, *var;
    template <int V> __device__ void run(size_t s) const
    {
        const nl_precision p = g.stats_precision;
        const size_t hw = (size_t)g.hw;
        const float *base;
        long planes;
        size_t len, stride;
        if (g.groups == 0) { /* channel s: its plane in each sample */
            base = x + s * hw, planes = g.n, len = hw, stride = (size_t)g.c * hw;
        } else {
            len = (size_t)(g.c / g.groups) * hw;
            base = x + s * len, planes = 1, stride = len;
        }
        const double count = (double)planes * (double)len;
        float sum = 0.0f;
        for (long i = 0; g.center && i < planes; i++) {
            const float *run = base + (size_t)i * stride;
            for (size_t j = 0; j < len; j++)
                sum = nl_round_to(p, sum + nl_round_to(p, run[j]));
        }
        const float m = g.center ? quotient(p, sum, count) : 0.0f;
        float sq = 0.0f;
        for (long i = 0; i < planes; i++) {
            const float *run = base + (size_t)i * stride;
            for (size_t j = 0; j < len; j++) {
                const float d = nl_round_to(p, nl_round_to(p, run[j]) - m);
                sq = nl_round_to(p, sq + nl_round_to(p, d * d));
            }
        }
        mean[s] = m;
        var[s] = quotient(p, sq, count);
    }
};

/* item ch: channel ch's running statistics from its groups */
struct LowpRunningOp {
    nl_norm_geom g;
    const float *mean, *var, *momentum;
    float *running_mean, *running_var;
    template <int V> __device__ void run(size_t ch) const
    {
        const nl_precision p = g.stats_precision;
        const double count = g.groups == 0 ? (double)g.n * g.hw : (double)(g.c / g.groups) * g.hw;
        const double unbias = count > 1.0 ? count / (count - 1.0) : 1.0;
        const int per_channel = g.groups == 0 ? 1 : g.n;
        const double m = *momentum;
        float mean_sum = 0.0f, var_sum = 0.0f;
        for (int i = 0; i < per_channel; i++) {
            const size_t s = g.groups == 0 ? ch : (size_t)i * g.c + ch;
            mean_sum = nl_round_to(p, mean_sum + mean[s]);
            var_sum = nl_round_to(p, var_sum + nl_round_to(p, (float)((double)var[s] * unbias)));
        }
        const float batch_mean = quotient(p, mean_sum, per_channel);
        const float batch_var = quotient(p, var_sum, per_channel);
        running_mean[ch] =
            nl_round_to(p, (float)fma(m, (double)batch_mean, (1.0 - m) * running_mean[ch]));
        running_var[ch] =
            nl_round_to(p, (float)fma(m, (double)batch_var, (1.0 - m) * running_var[ch]));
    }
};

/* item i: y[i] from its group's mean and the rstd of its variance */
struct LowpApplyOp {
    nl_norm_geom g;
    const float *x, *mean, *var, *gamma, *beta;
    float *y;
    template <int V> __device__ void run(size_t i) const
    {
        const size_t plane = i / (size_t)g.hw;
        const int ch = (int)(plane % (size_t)g.c);
        const size_t sample = plane / (size_t)g.c;
        const size_t s = g.groups == 0 ? (size_t)ch
                                       : sample * g.groups + (size_t)(ch / (g.c / g.groups));
        const float rstd = rstd_of(g.stats_precision, var[s], g.eps);
        const float scale = rstd * (gamma ? gamma[ch] : 1.0f);
        y[i] = fmaf(x[i] - mean[s], scale, beta ? beta[ch] : 0.0f);
    }
};

/* item s: rstd of group s's variance (var may be save_rstd itself) */
struct LowpRstdOp {
    nl_norm_geom g;
    const float *var;
    float *save_rstd;
    template <int V> __device__ void run(size_t s) const
    {
        save_rstd[s] = rstd_of(g.stats_precision, var[s], g.eps);
    }
};

} // namespace

/* Every variant of the forward, as nl_cuda_norm_fwd_args gives it: with
 * eval_mean the given statistics (norm_apply, eval mode), else the batch's
 * (norm_forward; norm_stats when y is NULL), whose variance waits in
 * save_rstd (norm_forward) until the apply has read it. */
void nl_cuda_norm_lowp_run(nl_backend *be, const nl_norm_geom *g, const nl_cuda_norm_fwd_args *a)
{
    nl_cuda *cu = nl_cuda_of(be);
    const size_t groups = (size_t)nl_norm_stat_groups(g);
    const float *mean = a->eval_mean, *var = a->eval_var;
    if (!mean) {
        float *var_out = a->save_var ? a->save_var : a->save_rstd;
        ew_launch(cu, LowpStatsOp{*g, a->x, a->save_mean, var_out}, groups, false,
                  "launch of low-precision norm statistics");
        if (a->running_mean)
            ew_launch(cu,
                      LowpRunningOp{*g, a->save_mean, var_out, a->momentum, a->running_mean,
                                    a->running_var},
                      (size_t)g->c, false, "launch of low-precision running statistics");
        mean = a->save_mean;
        var = var_out;
    }
    if (a->y)
        ew_launch(cu, LowpApplyOp{*g, a->x, mean, var, a->gamma, a->beta, a->y},
                  (size_t)g->n * g->c * g->hw, false, "launch of low-precision norm apply");
    if (a->save_rstd)
        ew_launch(cu, LowpRstdOp{*g, var, a->save_rstd}, groups, false,
                  "launch of low-precision norm rstd");
}
