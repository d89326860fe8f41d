/* Normalization with its statistics in a low precision p (bf16 or fp16):
 * the ablation of model.norm.stats_precision, a plain low-precision
 * statistics kernel, so that a run shows where such statistics break
 * (fp16's range: squares and their sums above 65504 become infinite;
 * bf16's 8-bit significand: a long sum stops growing once its spacing
 * exceeds twice the values it adds). core/cuda/norm_lowp.cu is the same
 * kernel, operation for operation.
 *
 * Notation: R(v) rounds an fp32 value to p and back (base/precision.h,
 * nl_round_to, round to nearest even, as a cast to torch.bfloat16 or
 * torch.float16). Each operation below is an fp32 (or, where written,
 * double) operation whose result is rounded: for operands that are p
 * values, an fp32 sum, difference or product rounded by R is the correctly
 * rounded p result (fp32's 24 bits are at least 2k + 2 for p's k = 8 or 11
 * significand bits, so rounding twice equals rounding once).
 *
 * A statistics group (backend.h: per channel over its N planes for batch
 * statistics, per sample and group of channels otherwise) of `count`
 * values v, taken in storage order (batch statistics: sample by sample,
 * each plane's values in order; per-sample groups: the group's contiguous
 * values), one sequential accumulator per group:
 *   sum  = 0;  sum = R(sum + R(v))          for each v (centred kinds only)
 *   mean = R(sum / count)                   (0 without centring: RMS, FRN)
 *   sq   = 0;  d = R(R(v) - mean);  sq = R(sq + R(d * d))   for each v
 *   var  = R(sq / count)                    (the biased variance, or the
 *                                            mean square without centring)
 *   rstd = R(1 / sqrt(var + eps))           (in double from the p variance)
 * The divisions by count are taken in double and rounded to fp32, then to
 * p. Sequential sums are what a plain kernel does; they are deterministic
 * and do not depend on the thread count (threads take whole groups), and
 * they are what stagnates: pairwise sums would hide bf16's failure.
 * The fp32 kernels' formula is the same (mean, then the mean square about
 * it), so only the precision differs.
 *
 * y = (x - mean) * (rstd * gamma_c) + beta_c from the fp32 x, in fp32 with
 * the rounded mean and rstd: the normalization itself stays fp32, as under
 * autocast; the statistics are the ablation. save_mean and save_rstd hold
 * the rounded mean and rstd, norm_stats' outputs the rounded mean and var.
 *
 * Running statistics (per channel; groups == 0 or groups == c), with m the
 * momentum and n_c the groups of channel c (1, or N instances):
 *   batch_mean = R(sum_c / n_c), sum_c = R(sum_c + mean_g) over the groups
 *   batch_var  = R(vsum_c / n_c), vsum_c = R(vsum_c + R(var_g * count /
 *                (count - 1)))   (the unbiased variance, factor in double)
 *   running = R(fma(m, batch, (1 - m) * running))   (in double)
 * so the running statistics are stored as p values. Eval mode normalizes
 * with them: rstd_c = R(1 / sqrt(running_var_c + eps)) and y as above.
 *
 * The backward is the fp32 kernels' with the rounded saved statistics:
 * the gradient of y = (x - mean) * rstd * gamma + beta at the statistics
 * the forward used, the rounding of the statistics taken as the identity.
 * The rounded statistics are piecewise constant in x, so their literal
 * derivative is zero almost everywhere and would drop the centring and
 * scaling terms, a gradient no low-precision kernel computes; and the
 * backward's sums in p would add a second effect to an ablation about the
 * forward statistics (autocast keeps those sums in fp32 too). */
#include <math.h>

#include "base/precision.h"
#include "cpu/apply_planes.h"
#include "cpu/cpu.h"
#include "cpu/norm_lowp.h"
#include "cpu/reduce.h"

static inline float gamma_at(const float *gamma, int c) { return gamma ? gamma[c] : 1.0f; }
static inline float beta_at(const float *beta, int c) { return beta ? beta[c] : 0.0f; }

static inline float quotient(nl_precision p, float sum, double count)
{
    return nl_round_to(p, (float)((double)sum / count));
}

static inline float rstd_of(nl_precision p, float var, float eps)
{
    return nl_round_to(p, (float)(1.0 / sqrt((double)var + (double)eps)));
}

/* nl_round_to without branches, so that the loops over lanes vectorize:
 * every case of base/precision.h computed and the right one selected
 * (the same bits, NaN's and infinities' included; test_norm_lowp compares
 * the two over special values and random bit patterns through
 * nl_cpu_norm_lowp_round). Always inlined where p is a constant. */
static inline __attribute__((always_inline)) float round_lane(nl_precision p, float x)
{
    const uint32_t bits = nl_float_bits(x), mag = bits & 0x7fffffffu;
    const uint32_t quiet = bits | 0x00400000u;
    if (p == NL_PRECISION_BF16) {
        const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
        return nl_bits_float(mag > 0x7f800000u ? quiet : rounded);
    }
    const uint32_t sign = bits & 0x80000000u;
    const uint32_t normal = (mag + 0xfffu + ((mag >> 13) & 1u)) & 0xffffe000u;
    /* below 2^-14: nl_round_fp16's two additions. Every case is computed
     * and blended with masks: a select would let the compiler move the
     * additions into a branch (a float operation may trap), and a loop
     * with branches does not vectorize. */
    const float shifted = nl_bits_float(mag) + 0.5f;
    const uint32_t subnormal = nl_float_bits(shifted - 0.5f);
    const uint32_t is_subnormal = 0u - (uint32_t)(mag < 0x38800000u);
    const uint32_t is_inf = 0u - (uint32_t)(mag >= 0x477ff000u);
    const uint32_t is_nan = 0u - (uint32_t)(mag > 0x7f800000u);
    const uint32_t finite = (subnormal & is_subnormal) | (normal & ~is_subnormal);
    const uint32_t magnitude = (0x7f800000u & is_inf) | (finite & ~is_inf);
    return nl_bits_float((quiet & is_nan) | ((sign | magnitude) & ~is_nan));
}

float nl_cpu_norm_lowp_round(nl_precision p, float x)
{
    return p == NL_PRECISION_BF16 ? round_lane(NL_PRECISION_BF16, x)
           : p == NL_PRECISION_FP16 ? round_lane(NL_PRECISION_FP16, x)
                                    : x;
}

/* The mean and variance of `lanes` (<= LANES) groups at once, group k's
 * values `planes` runs of `len` floats, `stride` apart, from base + k *
 * group_step: each group's sums are its own sequential chain in walk
 * order; the lanes are the vector's (a chain alone waits on each
 * rounding), so the result does not depend on how groups share a batch. */
enum { LANES = 16 };
static inline __attribute__((always_inline)) void
walk_moments_in(nl_precision p, const float *base, size_t group_step, int lanes, long planes,
                size_t len, size_t stride, bool center, float *mean_out, float *var_out)
{
    const double count = (double)planes * (double)len;
    float sum[LANES] = {0}, mean[LANES] = {0}, sq[LANES] = {0}, v[LANES] = {0};
    /* the lanes' values are gathered first: the rounding loops then read
     * contiguous floats, which the compiler vectorizes whatever the stride */
    for (long i = 0; center && i < planes; i++)
        for (size_t j = 0; j < len; j++) {
            const float *at = base + (size_t)i * stride + j;
            for (int k = 0; k < lanes; k++)
                v[k] = at[(size_t)k * group_step];
            _Pragma("omp simd")
            for (int k = 0; k < LANES; k++)
                sum[k] = round_lane(p, sum[k] + round_lane(p, v[k]));
        }
    for (int k = 0; center && k < lanes; k++)
        mean[k] = quotient(p, sum[k], count);
    for (long i = 0; i < planes; i++)
        for (size_t j = 0; j < len; j++) {
            const float *at = base + (size_t)i * stride + j;
            for (int k = 0; k < lanes; k++)
                v[k] = at[(size_t)k * group_step];
            _Pragma("omp simd")
            for (int k = 0; k < LANES; k++) {
                const float d = round_lane(p, round_lane(p, v[k]) - mean[k]);
                sq[k] = round_lane(p, sq[k] + round_lane(p, d * d));
            }
        }
    for (int k = 0; k < lanes; k++) {
        mean_out[k] = mean[k];
        var_out[k] = quotient(p, sq[k], count);
    }
}

/* one copy per precision, the rounding's branches resolved */
static void walk_moments(nl_precision p, const float *base, size_t group_step, int lanes,
                         long planes, size_t len, size_t stride, bool center, float *mean_out,
                         float *var_out)
{
    if (p == NL_PRECISION_BF16)
        walk_moments_in(NL_PRECISION_BF16, base, group_step, lanes, planes, len, stride, center,
                        mean_out, var_out);
    else
        walk_moments_in(NL_PRECISION_FP16, base, group_step, lanes, planes, len, stride, center,
                        mean_out, var_out);
}

static void group_moments(const nl_norm_geom *g, const float *x, float *mean, float *var)
{
    const nl_precision p = g->stats_precision;
    const long groups = nl_norm_stat_groups(g), batches = (groups + LANES - 1) / LANES;
    const size_t hw = (size_t)g->hw;
    NL_PARALLEL_FOR_IF((long)g->n * g->c * g->hw >= NL_PARALLEL_MIN,
    for (long b = 0; b < batches; b++) {
        const long s = b * LANES;
        const int lanes = groups - s < LANES ? (int)(groups - s) : LANES;
        if (g->groups == 0) /* channels s...: their plane in each sample (feature vectors:
                             * adjacent features, row by row) */
            walk_moments(p, x + (size_t)s * hw, hw, lanes, g->n, hw, (size_t)g->c * hw,
                         g->center, &mean[s], &var[s]);
        else {
            const size_t count = (size_t)(g->c / g->groups) * hw;
            walk_moments(p, x + (size_t)s * count, count, lanes, 1, count, count, g->center,
                         &mean[s], &var[s]);
        }
    });
}

/* the running statistics' update from the groups' mean and biased var */
static void update_running(const nl_norm_geom *g, const float *mean, const float *var,
                           float *running_mean, float *running_var, float momentum)
{
    const nl_precision p = g->stats_precision;
    const double count = (double)nl_norm_group_count(g);
    const double unbias = count > 1.0 ? count / (count - 1.0) : 1.0;
    const int per_channel = g->groups == 0 ? 1 : g->n;
    const double m = momentum;
    for (int ch = 0; ch < g->c; ch++) {
        float mean_sum = 0.0f, var_sum = 0.0f;
        for (int i = 0; i < per_channel; i++) {
            const size_t s = g->groups == 0 ? (size_t)ch : (size_t)i * g->c + ch;
            mean_sum = nl_round_to(p, mean_sum + mean[s]);
            var_sum = nl_round_to(p, var_sum + nl_round_to(p, (float)((double)var[s] * unbias)));
        }
        const float batch_mean = quotient(p, mean_sum, per_channel);
        const float batch_var = quotient(p, var_sum, per_channel);
        running_mean[ch] =
            nl_round_to(p, (float)fma(m, batch_mean, (1.0 - m) * running_mean[ch]));
        running_var[ch] = nl_round_to(p, (float)fma(m, batch_var, (1.0 - m) * running_var[ch]));
    }
}

/* y with per-channel statistics (batch statistics, eval mode): rstd from
 * var, written to save_rstd when it is not NULL (it may be var itself) */
static void apply_channels(const nl_norm_geom *g, const float *x, const float *mean,
                           const float *var, const float *gamma, const float *beta, float *y,
                           float *save_rstd)
{
    enum { CHUNK = 1024 };
    const int n = g->n, c = g->c, hw = g->hw;
    float m[CHUNK], scale[CHUNK], shift[CHUNK];
    for (int c0 = 0; c0 < c; c0 += CHUNK) {
        const int width = c - c0 < CHUNK ? c - c0 : CHUNK;
        for (int j = 0; j < width; j++) {
            const float rstd = rstd_of(g->stats_precision, var[c0 + j], g->eps);
            if (save_rstd)
                save_rstd[c0 + j] = rstd;
            m[j] = mean[c0 + j];
            scale[j] = rstd * gamma_at(gamma, c0 + j);
            shift[j] = beta_at(beta, c0 + j);
        }
        nl_apply_planes(n, c, hw, c0, width, m, scale, shift, x, y);
    }
}

/* y with per-sample group statistics: rstd of each group from var */
static void apply_groups(const nl_norm_geom *g, const float *x, const float *mean,
                         const float *var, const float *gamma, const float *beta, float *y,
                         float *save_rstd)
{
    const long groups = nl_norm_stat_groups(g);
    const int cpg = g->c / g->groups, hw = g->hw;
    const size_t count = (size_t)cpg * hw;
    NL_PARALLEL_FOR_IF((long)g->n * g->c * g->hw >= NL_PARALLEL_MIN,
    for (long s = 0; s < groups; s++) {
        const float rstd = rstd_of(g->stats_precision, var[s], g->eps), mean_s = mean[s];
        if (save_rstd)
            save_rstd[s] = rstd;
        const int ch0 = (int)(s % g->groups) * cpg;
        if (hw == 1) { /* feature vectors: one loop over the group's features */
            const float *xs = x + (size_t)s * count;
            float *ys = y + (size_t)s * count;
            _Pragma("omp simd")
            for (int k = 0; k < cpg; k++)
                ys[k] = nl_fmaf(xs[k] - mean_s, rstd * gamma_at(gamma, ch0 + k),
                                beta_at(beta, ch0 + k));
            continue;
        }
        for (int k = 0; k < cpg; k++) {
            const float scale = rstd * gamma_at(gamma, ch0 + k), shift = beta_at(beta, ch0 + k);
            const float *xp = x + (size_t)s * count + (size_t)k * hw;
            float *yp = y + (size_t)s * count + (size_t)k * hw;
            _Pragma("omp simd")
            for (int j = 0; j < hw; j++)
                yp[j] = nl_fmaf(xp[j] - mean_s, scale, shift);
        }
    });
}

void nl_cpu_norm_lowp_stats(const nl_norm_geom *g, const float *x, float *mean, float *var,
                            float *running_mean, float *running_var, float momentum)
{
    group_moments(g, x, mean, var);
    if (running_mean)
        update_running(g, mean, var, running_mean, running_var, momentum);
}

void nl_cpu_norm_lowp_apply(const nl_norm_geom *g, const float *x, const float *mean,
                            const float *var, const float *gamma, const float *beta, float *y,
                            float *save_rstd)
{
    if (g->groups == 0)
        apply_channels(g, x, mean, var, gamma, beta, y, save_rstd);
    else
        apply_groups(g, x, mean, var, gamma, beta, y, save_rstd);
}

/* the variance waits in save_rstd (one per group, as the variance) until
 * the apply turns it into rstd in place */
void nl_cpu_norm_lowp_forward(const nl_norm_geom *g, const float *x, const float *gamma,
                              const float *beta, float *y, float *save_mean, float *save_rstd,
                              float *running_mean, float *running_var, float momentum)
{
    nl_cpu_norm_lowp_stats(g, x, save_mean, save_rstd, running_mean, running_var, momentum);
    nl_cpu_norm_lowp_apply(g, x, save_mean, save_rstd, gamma, beta, y, save_rstd);
}

void nl_cpu_norm_lowp_forward_eval(const nl_norm_geom *g, const float *x, const float *gamma,
                                   const float *beta, const float *running_mean,
                                   const float *running_var, float *y)
{
    apply_channels(g, x, running_mean, running_var, gamma, beta, y, NULL);
}
