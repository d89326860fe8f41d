#include "stats/stats.h"

#include <math.h>
#include <stdbool.h>
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

nl_stats_boot nl_stats_bootstrap_t(const double *x, int n, double threshold, int greater, double level,
                                   int resamples, uint64_t seed)
{
    nl_stats_boot out = {NAN, NAN, NAN, NAN};
    double *ts = malloc((size_t)(resamples > 0 ? resamples : 1) * sizeof *ts);
    double *sample = malloc((size_t)(n > 0 ? n : 1) * sizeof *sample);
    double mean, sd;
    nl_stats_mean_sd(x, n, &mean, &sd);
    bool constant = true;
    for (int i = 1; i < n; i++)
        constant &= x[i] == x[0];
    /* equal values can sum to a mean a rounding away from them, and a spread of 1e-17 */
    const double se = constant ? 0 : sd / sqrt(n);
    if (constant)
        mean = n ? x[0] : NAN;
    if (!ts || !sample || n < 2 || resamples < 2 || !isfinite(se)) {
        free(ts);
        free(sample);
        return out;
    }
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_BOOTSTRAP);
    for (int r = 0; r < resamples; r++) {
        for (int i = 0; i < n; i++)
            sample[i] = x[nl_rng_below(&rng, (uint32_t)n)];
        double m, s;
        nl_stats_mean_sd(sample, n, &m, &s);
        const double num = m - mean, den = s / sqrt(n);
        ts[r] = den > 0 ? num / den : num > 0 ? INFINITY : num < 0 ? -INFINITY : 0;
    }
    /* every seed equal: no spread to studentize by; the mean is the answer */
    const double t = se > 0 ? (mean - threshold) / se
                            : mean > threshold ? INFINITY : mean < threshold ? -INFINITY : 0;
    int beyond = 0;
    for (int r = 0; r < resamples; r++)
        beyond += greater ? ts[r] >= t : ts[r] <= t;
    qsort(ts, (size_t)resamples, sizeof *ts, compare_doubles);
    const double alpha = 1 - level;
    int lo = (int)floor(alpha / 2 * resamples), hi = (int)ceil((1 - alpha / 2) * resamples) - 1;
    lo = lo < 0 ? 0 : lo;
    hi = hi >= resamples ? resamples - 1 : hi;
    out.lo = se > 0 ? mean - ts[hi] * se : mean;
    out.hi = se > 0 ? mean - ts[lo] * se : mean;
    out.p = (1.0 + beyond) / (resamples + 1.0);
    out.mc_error = sqrt(out.p * (1 - out.p) / resamples);
    free(ts);
    free(sample);
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

int nl_stats_seeds_needed(double sd, double margin, double alpha, double power)
{
    if (!(margin > 0) || !isfinite(sd) || !(alpha > 0 && alpha < 1) || !(power > 0 && power < 1))
        return -1;
    if (!(sd > 0))
        return 3;
    /* t's n is never below the normal formula's: start there */
    const double z = (nl_stats_normal_quantile(1 - alpha) + nl_stats_normal_quantile(power)) * sd / margin;
    const int from = z * z > 100000 ? 100000 : z * z < 3 ? 3 : (int)floor(z * z);
    for (int n = from; n <= 100000; n++)
        if (sqrt(n) * margin / sd >= nl_stats_t_quantile(1 - alpha, n - 1) + nl_stats_t_quantile(power, n - 1))
            return n;
    return 100000;
}

int nl_stats_rate_seeds_needed(double rate, double threshold, double alpha, double power, int cap)
{
    if (!(rate >= 0 && rate <= 1 && threshold >= 0 && threshold <= 1) || rate == threshold ||
        !(alpha > 0 && alpha < 1) || !(power > 0 && power < 1))
        return -1;
    /* below the threshold is the mirror image: count the other outcome */
    if (rate < threshold) {
        rate = 1 - rate;
        threshold = 1 - threshold;
    }
    /* the critical count never falls as n grows: carry it from n to n + 1 */
    for (int n = 1, k = 1; n <= cap; n++) {
        while (k <= n && nl_stats_binom_sf(k, n, threshold) > alpha)
            k++;
        if (k <= n && nl_stats_binom_sf(k, n, rate) >= power)
            return n;
    }
    return cap;
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

const char *const nl_stats_scale_words[NL_STATS_SCALE_COUNT] = {
    [NL_STATS_SCALE_LINEAR] = "t interval",
    [NL_STATS_SCALE_LOGIT] = "t interval on the logit scale",
    [NL_STATS_SCALE_LOG] = "t interval on the log scale",
    [NL_STATS_SCALE_CLIPPED] = "t interval clipped to the metric's range",
};
const char *const nl_stats_scale_tags[NL_STATS_SCALE_COUNT] = {
    [NL_STATS_SCALE_LINEAR] = "t",
    [NL_STATS_SCALE_LOGIT] = "t-logit",
    [NL_STATS_SCALE_LOG] = "t-log",
    [NL_STATS_SCALE_CLIPPED] = "t-clipped",
};

/* x on `scale`, and back */
static double to_scale(nl_stats_scale scale, double x, double lo_bound, double hi_bound)
{
    if (scale == NL_STATS_SCALE_LOGIT) {
        const double u = (x - lo_bound) / (hi_bound - lo_bound);
        return log(u) - log1p(-u);
    }
    return scale == NL_STATS_SCALE_LOG ? log(x - lo_bound) : x;
}

static double from_scale(nl_stats_scale scale, double y, double lo_bound, double hi_bound)
{
    if (scale == NL_STATS_SCALE_LOGIT)
        return lo_bound + (hi_bound - lo_bound) / (1 + exp(-y));
    return scale == NL_STATS_SCALE_LOG ? lo_bound + exp(y) : y;
}

nl_stats_scale nl_stats_t_interval_within(const double *x, int n, double level, double lo_bound,
                                          double hi_bound, double *lo, double *hi)
{
    nl_stats_scale scale = isfinite(lo_bound) && isfinite(hi_bound) ? NL_STATS_SCALE_LOGIT
                           : isfinite(lo_bound)                      ? NL_STATS_SCALE_LOG
                                                                     : NL_STATS_SCALE_LINEAR;
    *lo = *hi = NAN;
    bool finite = n >= 2;
    for (int i = 0; i < n && finite; i++) {
        finite = isfinite(x[i]);
        if (scale != NL_STATS_SCALE_LINEAR && (x[i] <= lo_bound || x[i] >= hi_bound))
            scale = NL_STATS_SCALE_CLIPPED;
    }
    if (!finite)
        return scale;
    const nl_stats_scale on = scale == NL_STATS_SCALE_CLIPPED ? NL_STATS_SCALE_LINEAR : scale;
    double sum = 0, squares = 0;
    for (int i = 0; i < n; i++)
        sum += to_scale(on, x[i], lo_bound, hi_bound);
    const double mean = sum / n;
    for (int i = 0; i < n; i++) {
        const double d = to_scale(on, x[i], lo_bound, hi_bound) - mean;
        squares += d * d;
    }
    const double half = nl_stats_t_quantile(1 - (1 - level) / 2, n - 1) * sqrt(squares / (n - 1) / n);
    *lo = from_scale(on, mean - half, lo_bound, hi_bound);
    *hi = from_scale(on, mean + half, lo_bound, hi_bound);
    if (isnan(*lo) || isnan(*hi)) { /* sums that overflowed: no interval */
        *lo = *hi = NAN;
        return scale;
    }
    if (scale == NL_STATS_SCALE_CLIPPED) {
        /* clipped only where it crossed an edge: one inside needs no mark */
        if (*lo >= lo_bound && *hi <= hi_bound)
            return NL_STATS_SCALE_LINEAR;
        *lo = fmax(*lo, lo_bound);
        *hi = fmin(*hi, hi_bound);
    }
    return scale;
}
