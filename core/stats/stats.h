/* Small-sample statistics for verdicts on claims (normlab verdict): the
 * reasoning is /work/shared/STATS.md's, written down in results/usage.md's
 * "Claims and verdicts". Pure functions of their inputs (the bootstrap's
 * randomness comes from a seed the caller gives), no I/O. */
#ifndef NL_STATS_H
#define NL_STATS_H

#include <stdint.h>

/* mean and sample standard deviation (n - 1); sd is NaN when n < 2 */
void nl_stats_mean_sd(const double *x, int n, double *mean, double *sd);

/* Student's t with df degrees of freedom: P(T <= t), and its inverse */
double nl_stats_t_cdf(double t, double df);
double nl_stats_t_quantile(double p, double df);

/* the regularized incomplete beta function I_x(a, b) */
double nl_stats_beta_inc(double a, double b, double x);

/* Exact one-sided sign-flip (permutation) test of the mean of x against
 * `threshold`: the fraction of the 2^n sign patterns of (x_i - threshold)
 * whose mean is at least the observed one (`greater`), or at most it.
 * n <= 20. */
double nl_stats_sign_flip_p(const double *x, int n, double threshold, int greater);

/* Studentized (bootstrap-t) bootstrap of the mean, for n >= 10: each of
 * `resamples` resamples of x with replacement (PCG32 seeded with `seed`)
 * gives t* = (mean* - mean) / se*; the central `level` interval is
 * [mean - q(1 - a/2) se, mean - q(a/2) se] with q the t*'s quantiles, and
 * the one-sided p of the mean beyond `threshold` (greater: above) is
 * (1 + #{t* >= t}) / (resamples + 1), t = (mean - threshold) / se (below:
 * t* <= t). mc_error is p's Monte Carlo standard error,
 * sqrt(p (1 - p) / resamples). A resample whose values are all equal has
 * se* 0: its t* is +-inf (0 when its mean is the mean). */
typedef struct {
    double lo, hi, p, mc_error;
} nl_stats_boot;
nl_stats_boot nl_stats_bootstrap_t(const double *x, int n, double threshold, int greater, double level,
                                   int resamples, uint64_t seed);

/* Holm's step-down correction of k p-values: adjusted[i] is the smallest
 * family-wise level at which hypothesis i is rejected (monotone, <= 1) */
void nl_stats_holm(const double *p, int k, double *adjusted);

/* seeds a one-sided t test at level alpha needs for `power` when the true
 * mean lies `margin` beyond the threshold with spread sd: the smallest
 * n >= 3 with sqrt(n) margin / sd >= t(1 - alpha, n - 1) + t(power, n - 1)
 * (the normal formula ((z(1-alpha) + z(power)) sd / margin)^2 with t's
 * heavier tails); -1 when margin <= 0 or sd unknown, 100000 at most */
int nl_stats_seeds_needed(double sd, double margin, double alpha, double power);

/* seeds an exact one-sided binomial test at level alpha needs for `power`
 * when the true rate is `rate` and the claim's threshold rate `threshold`,
 * on the side the rate lies: the smallest n whose critical count k (the
 * least k with P(X >= k | threshold) <= alpha, mirrored below) is reached
 * with probability >= power at `rate`; -1 when rate == threshold or either
 * is outside [0, 1], `cap` when no n up to cap reaches the power */
int nl_stats_rate_seeds_needed(double rate, double threshold, double alpha, double power, int cap);

/* the normal quantile */
double nl_stats_normal_quantile(double p);

/* P(X >= k) for X ~ Binomial(n, p) */
double nl_stats_binom_sf(int k, int n, double p);
/* Clopper-Pearson interval of a rate k/n at `level` */
void nl_stats_clopper_pearson(int k, int n, double level, double *lo, double *hi);

/* The scale a mean's t interval is computed on so that it stays inside
 * the values' domain [lo_bound, hi_bound] (either bound may be infinite):
 * logit of (x - lo) / (hi - lo) for a bounded domain (errors, accuracies),
 * log of x - lo for one bounded below only (losses, times), the values
 * themselves for the real line. A value on a finite edge (an error of
 * exactly 0) has no logit or log: the plain interval is clipped to the
 * domain instead, and the scale says so. */
typedef enum {
    NL_STATS_SCALE_LINEAR,
    NL_STATS_SCALE_LOGIT,
    NL_STATS_SCALE_LOG,
    NL_STATS_SCALE_CLIPPED,
    NL_STATS_SCALE_COUNT
} nl_stats_scale;

/* a few words naming each scale's interval ("t interval on the logit
 * scale"), and a one-word tag of it ("logit") for CSV columns */
extern const char *const nl_stats_scale_words[NL_STATS_SCALE_COUNT];
extern const char *const nl_stats_scale_tags[NL_STATS_SCALE_COUNT];

/* the central `level` Student-t interval of the mean of x (n >= 2) on the
 * scale above, mapped back into [*lo, *hi]; returns the scale used. NaN
 * bounds when n < 2 or a value is not finite. */
nl_stats_scale nl_stats_t_interval_within(const double *x, int n, double level, double lo_bound,
                                          double hi_bound, double *lo, double *hi);

#endif
