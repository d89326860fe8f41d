#include "stats/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

void nl_stats_mean_sd(const double *x, int n, double *mean, double *sd)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    const double m = n > 0 ? s / n : NAN;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = n > 1 ? sqrt(ss / (n - 1)) : NAN;
}

/* the continued fraction of I_x(a, b) (modified Lentz), good for x < (a + 1) / (a + b + 2) */
static double beta_fraction(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = fabs(d) < tiny ? tiny : d;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        for (int half = 0; half < 2; half++) {
            const double num = half == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                         : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 + num * d;
            d = fabs(d) < tiny ? tiny : d;
            c = 1 + num / c;
            c = fabs(c) < tiny ? tiny : c;
            d = 1 / d;
            h *= d * c;
            if (half == 1 && fabs(d * c - 1) < 1e-15)
                return h;
        }
    }
    return h;
}

double nl_stats_beta_inc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    const double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return front * beta_fraction(a, b, x) / a;
    return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

double nl_stats_t_cdf(double t, double df)
{
    const double tail = 0.5 * nl_stats_beta_inc(df / 2, 0.5, df / (df + t * t));
    return t > 0 ? 1 - tail : tail;
}

/* the x in [lo, hi] where an increasing f(x) crosses p, by bisection */
static double invert(double (*f)(double x, const double *args), const double *args, double p, double lo,
                     double hi)
{
    for (int i = 0; i < 200 && hi - lo > 1e-13 * fmax(1, fabs(lo)); i++) {
        const double mid = 0.5 * (lo + hi);
        if (f(mid, args) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

static double t_cdf_of(double t, const double *args)
{
    return nl_stats_t_cdf(t, args[0]);
}

double nl_stats_t_quantile(double p, double df)
{
    const double args[1] = {df};
    return invert(t_cdf_of, args, p, -1e8, 1e8);
}

static double normal_cdf_of(double x, const double *args)
{
    (void)args;
    return 0.5 * erfc(-x / sqrt(2.0));
}

double nl_stats_normal_quantile(double p)
{
    return invert(normal_cdf_of, NULL, p, -40, 40);
}

double nl_stats_sign_flip_p(const double *x, int n, double threshold, int greater)
{
    double observed = 0, scale = 0;
    for (int i = 0; i < n; i++) {
        observed += x[i] - threshold;
        scale += fabs(x[i] - threshold);
    }
    /* sums equal to the observed one up to rounding count as reaching it */
    const double tol = 1e-12 * fmax(scale, 1e-300);
    const unsigned long patterns = 1ul << n;
    unsigned long reached = 0;
    for (unsigned long s = 0; s < patterns; s++) {
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += (s >> i & 1ul) ? -(x[i] - threshold) : x[i] - threshold;
        reached += greater ? sum >= observed - tol : sum <= observed + tol;
    }
    return (double)reached / (double)patterns;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

nl_stats_boot nl_stats_bootstrap(const double *x, int n, double threshold, int greater, double level,
                                 int resamples, uint64_t seed)
{
    nl_stats_boot out = {NAN, NAN, NAN};
    double *means = malloc((size_t)resamples * sizeof *means);
    if (!means || n < 1 || resamples < 2) {
        free(means);
        return out;
    }
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_BOOTSTRAP);
    int wrong_side = 0;
    for (int r = 0; r < resamples; r++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += x[nl_rng_below(&rng, (uint32_t)n)];
        means[r] = s / n;
        wrong_side += greater ? means[r] <= threshold : means[r] >= threshold;
    }
    qsort(means, (size_t)resamples, sizeof *means, compare_doubles);
    const double alpha = 1 - level;
    int lo = (int)floor(alpha / 2 * resamples), hi = (int)ceil((1 - alpha / 2) * resamples) - 1;
    lo = lo < 0 ? 0 : lo;
    hi = hi >= resamples ? resamples - 1 : hi;
    out = (nl_stats_boot){means[lo], means[hi], (1.0 + wrong_side) / (resamples + 1.0)};
    free(means);
    return out;
}

void nl_stats_holm(const double *p, int k, double *adjusted)
{
    int *order = malloc((size_t)(k > 0 ? k : 1) * sizeof *order);
    if (!order) {
        for (int i = 0; i < k; i++) /* Bonferroni: never less strict than Holm */
            adjusted[i] = fmin(1, p[i] * k);
        return;
    }
    for (int i = 0; i < k; i++)
        order[i] = i;
    /* ascending p; ties keep their order (insertion sort: k is a handful) */
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && p[order[j]] < p[order[j - 1]]; j--) {
            const int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    double running = 0;
    for (int i = 0; i < k; i++) {
        running = fmax(running, fmin(1, (k - i) * p[order[i]]));
        adjusted[order[i]] = running;
    }
    free(order);
}

int nl_stats_seeds_needed(double sd, double margin, double level)
{
    if (!(margin > 0) || !isfinite(sd))
        return -1;
    const double z = nl_stats_normal_quantile(1 - (1 - level) / 2);
    const double n = ceil(pow(2 * z * sd / margin, 2));
    return n < 2 ? 2 : n > 1e6 ? 1000000 : (int)n;
}

double nl_stats_binom_sf(int k, int n, double p)
{
    if (k <= 0)
        return 1;
    if (k > n)
        return 0;
    double s = 0;
    for (int j = k; j <= n; j++) {
        if (p <= 0 || p >= 1) {
            s += (p >= 1 && j == n) ? 1 : 0;
            continue;
        }
        s += exp(lgamma(n + 1.0) - lgamma(j + 1.0) - lgamma(n - j + 1.0) + j * log(p) + (n - j) * log1p(-p));
    }
    return fmin(1, s);
}

static double beta_inc_of(double x, const double *args)
{
    return nl_stats_beta_inc(args[0], args[1], x);
}

void nl_stats_clopper_pearson(int k, int n, double level, double *lo, double *hi)
{
    const double alpha = 1 - level;
    const double a_lo[2] = {k, n - k + 1.0}, a_hi[2] = {k + 1.0, n - k};
    *lo = k == 0 ? 0 : invert(beta_inc_of, a_lo, alpha / 2, 0, 1);
    *hi = k == n ? 1 : invert(beta_inc_of, a_hi, 1 - alpha / 2, 0, 1);
}
