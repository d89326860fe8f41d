/* normlab verdict's statistics per claim: the interval and one-sided p of
 * a mean effect (t with the exact sign-flip test for n <= 5, a seeded
 * bootstrap above), of a rate (Clopper-Pearson, the exact binomial), an
 * exact count, a count over cells; and the verdict (results/usage.md,
 * "Claims and verdicts"). */
#include <math.h>
#include <stdio.h>

#include "stats/stats.h"
#include "verdict/internal.h"

/* one-sided p of mean(x) beyond t (greater) or below it */
static double side_p(const double *x, int n, double t, bool greater, const nl_verdict_options *opt)
{
    if (n > NL_VERDICT_EXACT_MAX_N)
        return nl_stats_bootstrap(x, n, t, greater, opt->level, opt->resamples, opt->seed).p;
    double mean, sd;
    nl_stats_mean_sd(x, n, &mean, &sd);
    const double se = sd / sqrt(n);
    if (!(se > 0))
        return (greater ? mean > t : mean < t) ? 0 : 1;
    const double cdf = nl_stats_t_cdf((mean - t) / se, n - 1);
    return greater ? 1 - cdf : cdf;
}

/* the p of the expectation: one side, or both sides of the band for ~ (two one-sided tests) */
static double expect_p(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, bool exact)
{
    const double t = c->threshold, w = c->within;
    if (exact) {
        if (c->op != NL_EXPECT_WITHIN)
            return nl_stats_sign_flip_p(x, n, t, c->op == NL_EXPECT_GREATER);
        return fmax(nl_stats_sign_flip_p(x, n, t - w, 1), nl_stats_sign_flip_p(x, n, t + w, 0));
    }
    if (c->op != NL_EXPECT_WITHIN)
        return side_p(x, n, t, c->op == NL_EXPECT_GREATER, opt);
    return fmax(side_p(x, n, t - w, true, opt), side_p(x, n, t + w, false, opt));
}

/* x beyond t by op (> <), or within w of it (~) */
static bool beyond(int op, double x, double t, double w)
{
    /* 0.212 - 0.222 is -0.010000000000000009: within 0.01 as written */
    if (op == NL_EXPECT_WITHIN)
        return fabs(x - t) <= w * (1 + 1e-9) + 1e-12;
    return op == NL_EXPECT_GREATER ? x > t : x < t;
}

bool vd_on_claimed_side(const nl_claim *c, double x)
{
    if (c->effect == NL_EFFECT_COUNT && c->outcome_inclusive && x == c->outcome_x)
        return true;
    if (c->effect == NL_EFFECT_COUNT)
        return beyond(c->outcome_op, x, c->outcome_x, c->outcome_within);
    return beyond((int)c->op, x, c->threshold, c->within);
}

void vd_decide_mean(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, nl_verdict *v)
{
    nl_stats_mean_sd(x, n, &v->effect, &v->sd);
    for (int i = 0; i < n; i++)
        v->agree += vd_on_claimed_side(c, x[i]);
    if (n < 2) {
        snprintf(v->method, sizeof v->method, "none (n < 2)");
        return;
    }
    if (n <= NL_VERDICT_EXACT_MAX_N) {
        const double half = nl_stats_t_quantile(1 - (1 - opt->level) / 2, n - 1) * v->sd / sqrt(n);
        v->lo = v->effect - half;
        v->hi = v->effect + half;
        v->sign_flip_p = expect_p(c, x, n, opt, true);
        snprintf(v->method, sizeof v->method, "t; exact sign-flip");
    } else {
        const nl_stats_boot b = nl_stats_bootstrap(x, n, c->threshold, true, opt->level, opt->resamples, opt->seed);
        v->lo = b.lo;
        v->hi = b.hi;
        snprintf(v->method, sizeof v->method, "bootstrap %d, seed %llu", opt->resamples,
                 (unsigned long long)opt->seed);
    }
    v->p = expect_p(c, x, n, opt, false);
}

void vd_decide_rate(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, nl_verdict *v)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += x[i] > 0;
    v->agree = k;
    if (n < 1) {
        snprintf(v->method, sizeof v->method, "none (n = 0)");
        return;
    }
    v->effect = (double)k / n;
    const double r = fmin(0.9, fmax(0.1, v->effect));
    v->sd = sqrt(r * (1 - r));
    nl_stats_clopper_pearson(k, n, opt->level, &v->lo, &v->hi);
    v->p = c->op == NL_EXPECT_GREATER ? nl_stats_binom_sf(k, n, c->threshold)
                                      : 1 - nl_stats_binom_sf(k + 1, n, c->threshold);
    snprintf(v->method, sizeof v->method, "Clopper-Pearson; exact binomial");
}

/* the count is the whole of it: every unit checked, no sample to infer from */
void vd_decide_count(const nl_claim *c, const double *x, int n, nl_verdict *v)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += x[i] > 0;
    v->agree = k;
    v->effect = v->lo = v->hi = k;
    v->p = NAN;
    v->exact = true;
    snprintf(v->method, sizeof v->method, "exact count of %d", n);
    const bool holds = c->op == NL_EXPECT_WITHIN ? k == c->count_k
                       : c->op == NL_EXPECT_GREATER ? k >= c->count_k : k <= c->count_k;
    v->verdict = n < 1 ? NL_VERDICT_INCONCLUSIVE : holds ? NL_VERDICT_HOLDS : NL_VERDICT_FAILS;
    v->seeds_needed = -1;
}

void vd_decide(const nl_claim *c, const nl_verdict_options *opt, nl_verdict *v)
{
    const double alpha = (1 - opt->level) / 2, t = c->threshold, w = c->within;
    v->seeds_needed = -1;
    bool fails;
    if (c->op == NL_EXPECT_WITHIN)
        fails = v->lo > t + w || v->hi < t - w;
    else
        fails = c->op == NL_EXPECT_GREATER ? v->hi < t : v->lo > t;
    if (v->p_holm <= alpha) {
        v->verdict = NL_VERDICT_HOLDS;
    } else if (fails) {
        v->verdict = NL_VERDICT_FAILS;
    } else {
        v->verdict = NL_VERDICT_INCONCLUSIVE;
        const double off = fabs(v->effect - t);
        v->seeds_needed = nl_stats_seeds_needed(v->sd, c->op == NL_EXPECT_WITHIN ? fabs(w - off) : off, opt->level);
        /* the normal approximation's n can fall below the n that was not enough */
        if (v->seeds_needed >= 0 && v->seeds_needed <= v->n)
            v->seeds_needed = v->n + 1;
    }
}

/* the number of cells the claim holds in lies between those where it
 * holds and those where it does not fail: decided when that range is */
void vd_decide_cells(const nl_claim *c, const nl_verdict *cells, int n, nl_verdict *v)
{
    int holds = 0, fails = 0, leaning = 0;
    for (int i = 0; i < n; i++) {
        holds += cells[i].verdict == NL_VERDICT_HOLDS;
        fails += cells[i].verdict == NL_VERDICT_FAILS;
        /* the point estimate's side: a mean or rate on the claimed side, an exact count that holds */
        leaning += cells[i].exact ? cells[i].verdict == NL_VERDICT_HOLDS
                                  : !isnan(cells[i].effect) && vd_on_claimed_side(c, cells[i].effect);
    }
    const int lo = holds, hi = n - fails, k = c->cells_op == NL_CELLS_ALL ? n : c->cells_k;
    v->n = n;
    v->agree = leaning;
    v->effect = leaning;
    v->lo = lo;
    v->hi = hi;
    v->derived = true;
    v->seeds_needed = -1;
    snprintf(v->method, sizeof v->method, "cells: %d hold, %d do not, of %d", holds, fails, n);
    bool yes, no;
    if (c->cells_op == NL_CELLS_AT_LEAST) {
        yes = lo >= k;
        no = hi < k;
    } else if (c->cells_op == NL_CELLS_AT_MOST) {
        yes = hi <= k;
        no = lo > k;
    } else {
        yes = lo == k && hi == k;
        no = hi < k || lo > k;
    }
    v->verdict = n < 1 ? NL_VERDICT_INCONCLUSIVE : yes ? NL_VERDICT_HOLDS : no ? NL_VERDICT_FAILS
                                                                             : NL_VERDICT_INCONCLUSIVE;
}
