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

/* Percentile bootstrap of the mean: `resamples` resamples of x with
 * replacement drawn from PCG32 seeded with `seed`; the central `level`
 * interval, and the one-sided p of the mean against `threshold`: (1 + the
 * resamples on the wrong side) / (resamples + 1). */
typedef struct {
    double lo, hi, p;
} nl_stats_boot;
nl_stats_boot nl_stats_bootstrap(const double *x, int n, double threshold, int greater, double level,
                                 int resamples, uint64_t seed);

/* Holm's step-down correction of k p-values: adjusted[i] is the smallest
 * family-wise level at which hypothesis i is rejected (monotone, <= 1) */
void nl_stats_holm(const double *p, int k, double *adjusted);

/* seeds a paired mean needs for its interval to clear a margin: (2 z sd / margin)^2
 * rounded up, z the normal quantile of the level; -1 when margin is 0 or sd unknown */
int nl_stats_seeds_needed(double sd, double margin, double level);

/* the normal quantile */
double nl_stats_normal_quantile(double p);

/* P(X >= k) for X ~ Binomial(n, p) */
double nl_stats_binom_sf(int k, int n, double p);
/* Clopper-Pearson interval of a rate k/n at `level` */
void nl_stats_clopper_pearson(int k, int n, double level, double *lo, double *hi);

#endif
