/* normlab verdict's statistics per claim (results/usage.md, "Claims and
 * verdicts"; the reasoning is STATS.md's): a mean effect's interval and
 * one-sided p's, of the claim and of its opposite (Student's t from 3 to 9
 * seeds, with the exact sign-flip p beside it; a studentized bootstrap from
 * 10, with its Monte Carlo error), a rate's (Clopper-Pearson, the exact
 * binomial), a count (described, not tested), a claim over every cell
 * (intersection-union), and the verdict once Holm's correction has run. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "stats/stats.h"
#include "verdict/internal.h"
#include "verdict/unit.h"

/* one-sided p of mean(x) beyond t (greater: above), and its Monte Carlo error where bootstrapped */
static double side_p(const double *x, int n, double t, bool greater, const nl_verdict_options *opt, double *mc)
{
    if (n >= NL_VERDICT_BOOT_MIN_N) {
        const nl_stats_boot b = nl_stats_bootstrap_t(x, n, t, greater, opt->level, opt->resamples, opt->seed);
        if (mc)
            *mc = fmax(*mc, b.mc_error);
        return b.p;
    }
    double mean, sd;
    nl_stats_mean_sd(x, n, &mean, &sd);
    const double se = sd / sqrt(n);
    if (!(se > 0))
        return (greater ? mean > t : mean < t) ? 0 : 1;
    const double cdf = nl_stats_t_cdf((mean - t) / se, n - 1);
    return greater ? 1 - cdf : cdf;
}

/* the p of the expectation (both sides of the band for ~: two one-sided
 * tests), and of its opposite (beyond either edge of the band) */
static void expect_p(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, nl_verdict *v)
{
    const double t = c->threshold, w = c->within;
    double mc = 0;
    if (c->op != NL_EXPECT_WITHIN) {
        const bool greater = c->op == NL_EXPECT_GREATER;
        v->p = side_p(x, n, t, greater, opt, &mc);
        v->p_fail = side_p(x, n, t, !greater, opt, &mc);
    } else {
        v->p = fmax(side_p(x, n, t - w, true, opt, &mc), side_p(x, n, t + w, false, opt, &mc));
        v->p_fail = fmin(side_p(x, n, t + w, true, opt, &mc), side_p(x, n, t - w, false, opt, &mc));
    }
    v->mc_error = n >= NL_VERDICT_BOOT_MIN_N ? mc : NAN;
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

/* n <= 2: two numbers that agree say nothing about a third */
static bool too_few(int n, nl_verdict *v)
{
    if (n >= NL_VERDICT_MIN_N)
        return false;
    snprintf(v->method, sizeof v->method, "none (n = %d: nothing is decided below %d seeds)", n, NL_VERDICT_MIN_N);
    return true;
}

/* The range a mean effect can take where its metric is bounded: an
 * accuracy or error (held as a fraction, shown in percent or points,
 * nl_metric_unit_of) is in [0, 1], a difference of two in [-1, 1]; false
 * for any other metric or effect, or when a seed's effect lies outside the
 * range (then the metric is not such a fraction) */
static bool bounded_range(const nl_claim *c, const double *x, int n, double *min, double *max)
{
    if (c->metric.is_expr || nl_metric_unit_of(c->metric.name).scale != 100)
        return false;
    if (c->effect == NL_EFFECT_VALUE)
        *min = 0, *max = 1;
    else if (c->effect == NL_EFFECT_DIFFERENCE &&
             (!c->has_b_metric || (!c->b_metric.is_expr && nl_metric_unit_of(c->b_metric.name).scale == 100)))
        *min = -1, *max = 1;
    else
        return false;
    for (int i = 0; i < n; i++)
        if (!(x[i] >= *min && x[i] <= *max))
            return false;
    return true;
}

/* An interval of a bounded effect (bounded_range) that reaches past the
 * range (the t interval's or bootstrap's ends are the mean plus or minus a
 * multiple of a spread, which knows no bound) is cut to it, and the note
 * says so: the true mean lies in the range, so the cut interval covers it
 * wherever the whole one does (the same coverage), and it never prints an
 * error below 0 or a difference below -100 points (issue 118). The p's
 * and the verdict are the whole interval's, unchanged. */
static void clip_to_range(const nl_claim *c, const double *x, int n, nl_verdict *v)
{
    double min, max;
    if (!bounded_range(c, x, n, &min, &max) || (v->lo >= min && v->hi <= max))
        return;
    const size_t used = strlen(v->note);
    snprintf(v->note + used, sizeof v->note - used,
             "%sthe interval (%.4g to %.4g) reached past the values the effect can take; cut to "
             "%g to %g, which covers wherever the whole interval does",
             used ? "; " : "", v->lo, v->hi, fmax(v->lo, min), fmin(v->hi, max));
    v->lo = fmax(v->lo, min);
    v->hi = fmin(v->hi, max);
}

void vd_decide_mean(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, nl_verdict *v)
{
    nl_stats_mean_sd(x, n, &v->effect, &v->sd);
    for (int i = 0; i < n; i++)
        v->agree += vd_on_claimed_side(c, x[i]);
    if (too_few(n, v))
        return;
    if (n < NL_VERDICT_BOOT_MIN_N) {
        const double half = nl_stats_t_quantile(1 - (1 - opt->level) / 2, n - 1) * v->sd / sqrt(n);
        v->lo = v->effect - half;
        v->hi = v->effect + half;
        const double t = c->threshold, w = c->within;
        v->sign_flip_p = c->op != NL_EXPECT_WITHIN
                             ? nl_stats_sign_flip_p(x, n, t, c->op == NL_EXPECT_GREATER)
                             : fmax(nl_stats_sign_flip_p(x, n, t - w, 1), nl_stats_sign_flip_p(x, n, t + w, 0));
        snprintf(v->method, sizeof v->method, "t; exact sign-flip beside");
    } else {
        const nl_stats_boot b = nl_stats_bootstrap_t(x, n, c->threshold, true, opt->level, opt->resamples, opt->seed);
        v->lo = b.lo;
        v->hi = b.hi;
        snprintf(v->method, sizeof v->method, "studentized bootstrap %d, seed %llu", opt->resamples,
                 (unsigned long long)opt->seed);
    }
    expect_p(c, x, n, opt, v);
    clip_to_range(c, x, n, v);
}

void vd_decide_rate(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, nl_verdict *v)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += x[i] > 0;
    v->agree = k;
    if (n >= 1) {
        v->effect = (double)k / n;
        const double r = fmin(0.9, fmax(0.1, v->effect));
        v->sd = sqrt(r * (1 - r));
        nl_stats_clopper_pearson(k, n, opt->level, &v->lo, &v->hi);
    }
    if (too_few(n, v))
        return;
    /* P(X >= k) and P(X <= k) at the threshold's rate */
    const double at_least = nl_stats_binom_sf(k, n, c->threshold), at_most = 1 - nl_stats_binom_sf(k + 1, n, c->threshold);
    v->p = c->op == NL_EXPECT_GREATER ? at_least : at_most;
    v->p_fail = c->op == NL_EXPECT_GREATER ? at_most : at_least;
    snprintf(v->method, sizeof v->method, "Clopper-Pearson; exact binomial");
}

/* the count is the whole of it: every unit checked, a description of what
 * happened rather than a test of what would */
void vd_decide_count(const nl_claim *c, const double *x, int n, nl_verdict *v)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += x[i] > 0;
    (void)c;
    v->agree = k;
    v->effect = v->lo = v->hi = k;
    v->exact = true;
    v->family = NL_FAMILY_DESCRIPTION;
    snprintf(v->method, sizeof v->method, NL_VERDICT_METHOD_COUNT " %d", n);
    v->verdict = NL_VERDICT_DESCRIBED;
}

/* the margin power is computed for: the observed effect's distance beyond
 * the threshold (or inside the band's nearer edge) */
static double power_margin(const nl_claim *c, const nl_verdict *v)
{
    const double off = fabs(v->effect - c->threshold);
    return c->op == NL_EXPECT_WITHIN ? fabs(c->within - off) : off;
}

/* whether a bootstrap p, once Holm has scaled it to `adjusted`, lies within
 * twice its Monte Carlo error (scaled alike) of the level */
static bool near_level(double p, double adjusted, double mc, double alpha)
{
    return !isnan(mc) && p > 0 && fabs(adjusted - alpha) <= 2 * mc * adjusted / p;
}

/* the most seeds a rate's power is searched to (the search costs n^2
 * binomial terms); a need beyond it reads as this many, "at least" */
#define RATE_SEEDS_CAP 2000

/* the seeds one row needs to decide at alpha with `power`, at its observed
 * effect and spread (a rate: at its observed rate); -1 unknown */
static int seeds_for_power(const nl_claim *c, const nl_verdict *v, double alpha, double power)
{
    if (c->effect == NL_EFFECT_RATE)
        return v->n >= 1 ? nl_stats_rate_seeds_needed(v->effect, c->threshold, alpha, power, RATE_SEEDS_CAP) : -1;
    return isnan(v->sd) ? -1 : nl_stats_seeds_needed(v->sd, power_margin(c, v), alpha, power);
}

void vd_decide(const nl_claim *c, const nl_verdict_options *opt, double alpha_power, nl_verdict *v)
{
    const double alpha = (1 - opt->level) / 2;
    v->seeds_needed = -1;
    v->seeds_power = seeds_for_power(c, v, alpha_power, NL_VERDICT_POWER);
    if (v->n < NL_VERDICT_MIN_N || isnan(v->p))
        v->verdict = NL_VERDICT_INCONCLUSIVE;
    else if (v->p_holm <= alpha)
        v->verdict = NL_VERDICT_HOLDS;
    else if (v->p_fail_holm <= alpha)
        v->verdict = NL_VERDICT_FAILS;
    else
        v->verdict = NL_VERDICT_INCONCLUSIVE;
    if (v->verdict == NL_VERDICT_INCONCLUSIVE && v->seeds_power >= 0)
        /* the normal approximation's n can fall below the n that was not enough */
        v->seeds_needed = v->seeds_power > v->n ? v->seeds_power : v->n + 1;
    /* a bootstrap p this close to the level could fall on its other side with another resampling seed */
    if (near_level(v->p, v->p_holm, v->mc_error, alpha) || near_level(v->p_fail, v->p_fail_holm, v->mc_error, alpha))
        snprintf(v->note + strlen(v->note), sizeof v->note - strlen(v->note),
                 "%sthe verdict sits within twice the bootstrap's Monte Carlo error (%.2g) of the level",
                 v->note[0] ? "; " : "", v->mc_error);
}

/* a claim over every cell (cells: all) is an intersection-union test: it
 * holds when every cell holds at alpha, does not when any cell does not;
 * its p for Holm's family is the largest of the cells' p's, its opposite's
 * the smallest. Other cells: (at least k, exactly k) are counts, described. */
void vd_decide_cells(const nl_claim *c, const nl_verdict *cells, int n, nl_verdict *v)
{
    int holds = 0, fails = 0, leaning = 0;
    double p_max = n ? 0 : NAN, p_fail_min = n ? 1 : NAN;
    for (int i = 0; i < n; i++) {
        holds += cells[i].verdict == NL_VERDICT_HOLDS;
        fails += cells[i].verdict == NL_VERDICT_FAILS;
        leaning += !isnan(cells[i].effect) && vd_on_claimed_side(c, cells[i].effect);
        p_max = isnan(cells[i].p) ? NAN : fmax(p_max, cells[i].p);
        p_fail_min = isnan(cells[i].p_fail) ? p_fail_min : fmin(p_fail_min, cells[i].p_fail);
    }
    v->n = n;
    v->agree = leaning;
    v->effect = leaning;
    v->lo = holds;
    v->hi = n - fails;
    v->derived = true;
    v->seeds_needed = -1;
    v->seeds_power = -1;
    snprintf(v->method, sizeof v->method, NL_VERDICT_METHOD_CELLS ": %d hold, %d do not, of %d", holds, fails, n);
    if (c->cells_op != NL_CELLS_ALL || nl_claim_is_count(c)) {
        v->family = NL_FAMILY_DESCRIPTION;
        v->verdict = NL_VERDICT_DESCRIBED;
        return;
    }
    snprintf(v->method, sizeof v->method, NL_VERDICT_METHOD_IUT ": %d hold, %d do not, of %d", holds, fails, n);
    v->p = p_max;
    v->p_fail = p_fail_min;
}

/* The seeds that decide a claim over every cell either way (issue 116;
 * STATS.md, "How many seeds"): it holds when every cell holds and does not
 * as soon as one cell does not, so it is sized by the fewer of
 *   n_hold: every cell holding together with power 0.8, each cell at
 *     0.8^(1/n) (independent cells), the most any cell needs; there is no
 *     such n where a cell's observed effect lies off the claimed side
 *     (there its power to hold falls below alpha as seeds grow), nor where
 *     a cell's is unknown;
 *   n_fail: one cell not holding with power 0.8: of the cells observed off
 *     the claimed side, the fewest seeds any needs at 0.8 alone (one cell
 *     not holding decides the intersection, so none of the power is
 *     shared with the others).
 * Both at the claim's alpha (Holm's worst case over its family, as the
 * verdict's p and p_fail are adjusted alike); a rate's cells by the exact
 * binomial (seeds_for_power). Sizing by n_hold alone asked 1,445 seeds of
 * a claim four of whose six cells already did not hold at 10 (finetune-
 * shift/freeze-fixes): a look that size decides nothing a look of 5 does
 * not. -1 where neither is known. */
static int iut_seeds(const nl_claim *c, const nl_verdict *cells, int n, double alpha_power)
{
    int hold = n >= 1 ? 0 : -1, fail = -1;
    const double cell_power = pow(NL_VERDICT_POWER, 1.0 / (n >= 1 ? n : 1));
    for (int i = 0; i < n; i++) {
        const bool off_side = isnan(cells[i].effect) || !vd_on_claimed_side(c, cells[i].effect);
        if (off_side) {
            hold = -1;
            const int m = isnan(cells[i].effect) ? -1 : seeds_for_power(c, &cells[i], alpha_power, NL_VERDICT_POWER);
            fail = m >= 0 && (fail < 0 || m < fail) ? m : fail;
        } else if (hold >= 0) {
            const int m = seeds_for_power(c, &cells[i], alpha_power, cell_power);
            hold = m < 0 ? -1 : m > hold ? m : hold;
        }
    }
    return hold < 0 ? fail : fail < 0 || hold < fail ? hold : fail;
}

/* the verdict of a claim over every cell once Holm has adjusted its p's:
 * every cell holds at alpha and the row's adjusted p clears it, or some
 * cell does not hold by the same standard */
void vd_decide_iut(const nl_claim *c, const nl_verdict_options *opt, double alpha_power, const nl_verdict *cells, int n,
                   nl_verdict *v)
{
    const double alpha = (1 - opt->level) / 2;
    int holds = 0, seeds_run = 0;
    for (int i = 0; i < n; i++) {
        holds += cells[i].verdict == NL_VERDICT_HOLDS;
        seeds_run = cells[i].n > seeds_run ? cells[i].n : seeds_run;
    }
    if (n >= 1 && holds == n && v->p_holm <= alpha)
        v->verdict = NL_VERDICT_HOLDS;
    else if (!isnan(v->p_fail_holm) && v->p_fail_holm <= alpha)
        v->verdict = NL_VERDICT_FAILS;
    else
        v->verdict = NL_VERDICT_INCONCLUSIVE;
    v->seeds_power = iut_seeds(c, cells, n, alpha_power);
    v->seeds_needed = -1;
    if (v->verdict == NL_VERDICT_INCONCLUSIVE && v->seeds_power >= 0)
        v->seeds_needed = v->seeds_power > seeds_run ? v->seeds_power : seeds_run + 1;
}
