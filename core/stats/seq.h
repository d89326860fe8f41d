/* Group-sequential designs: the boundaries that let a claim be tested at
 * several looks (the original sweep, each confirmation) with its overall
 * type I error held at alpha however many looks are taken (STATS.md,
 * "Looks"; issue 81). Pure functions of their inputs, no I/O.
 *
 * The model is the canonical joint distribution (Jennison & Turnbull,
 * "Group Sequential Methods with Applications to Clinical Trials", 2000,
 * sec. 3.1): at information fractions t_1 < ... < t_K the z statistics are
 * Z_k = S_k / sqrt(t_k) with S a Brownian motion with drift theta
 * (S_t ~ N(theta t, t), independent increments), so that
 * Cov(Z_i, Z_j) = sqrt(t_i / t_j) for i <= j, and E[Z_k] = theta sqrt(t_k).
 * Under H0 theta = 0.
 *
 * Boundaries come from a Lan-DeMets alpha-spending function f(t; alpha):
 * the probability under H0 of first crossing at look k is
 * f(t_k) - f(t_{k-1}), computed by the recursive numerical integration of
 * Armitage, McPherson & Rowe (1969) on the grid of Jennison & Turnbull
 * ch. 19, with a root search per look. */
#ifndef NL_STATS_SEQ_H
#define NL_STATS_SEQ_H

#include <stdbool.h>

#include "base/status.h"

/* the most looks a plan may have: more is no plan a sweep keeps to, and it
 * bounds the arrays below */
#define NL_SEQ_MAX_LOOKS 20

/* A spending function f(t; alpha) of ONE side: the probability, under H0,
 * that a one-sided test at level alpha has crossed its boundary by
 * information fraction t; f(0) = 0, f(1) = alpha, increasing. A two-sided
 * design at alpha is two one-sided ones at alpha / 2, each spending by
 * f(t; alpha / 2) (as gsDesign, ldbounds and rpact do, and the published
 * tables of Lan-DeMets boundaries are computed). t is clamped to [0, 1]. */
typedef double (*nl_seq_spend_fn)(double t, double alpha);

/* Lan & DeMets (1983), O'Brien-Fleming type: 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)),
 * the chance that a Brownian motion crosses the level z_{1-alpha/2} by time t
 * (the reflection principle): almost nothing early, nearly alpha at t = 1 */
double nl_seq_spend_obrien_fleming(double t, double alpha);
/* Lan & DeMets (1983), Pocock type: alpha ln(1 + (e - 1) t), nearly equal
 * boundaries at equally spaced looks */
double nl_seq_spend_pocock(double t, double alpha);

typedef struct {
    const char *name; /* as a plan names it: "obrien-fleming" */
    const char *words; /* a few words for reports */
    nl_seq_spend_fn spend;
} nl_seq_spending;

/* every spending function a plan may name, in the order the error lists them */
extern const nl_seq_spending nl_seq_spendings[];
extern const int nl_seq_spending_count;

/* the spending function called `name`; an unknown (or NULL) name is
 * NL_ERR_CONFIG with a message listing the accepted names */
nl_code nl_seq_spending_find(const char *name, const nl_seq_spending **out, nl_error *err);

typedef enum {
    NL_SEQ_ONE_SIDED = 1, /* reject when Z_k >= c_k: the claim's direction */
    NL_SEQ_TWO_SIDED = 2, /* reject when |Z_k| >= c_k */
} nl_seq_sides;

typedef struct {
    int looks; /* K */
    nl_seq_sides sides;
    double alpha; /* overall: the one-sided level, or the two-sided total */
    const nl_seq_spending *spending;
    double fraction[NL_SEQ_MAX_LOOKS]; /* t_k, the information fraction of look k */
    /* alpha spent by look k, both sides together: sides * f(t_k; alpha / sides) */
    double spent[NL_SEQ_MAX_LOOKS];
    /* c_k: look k rejects H0 when Z_k >= c_k (|Z_k| two-sided); +infinity
     * where the spending function spends nothing at that look */
    double boundary[NL_SEQ_MAX_LOOKS];
    /* the p a single test at look k would have to reach to cross there:
     * 1 - Phi(c_k), or 2 (1 - Phi(c_k)) two-sided */
    double nominal_p[NL_SEQ_MAX_LOOKS];
} nl_seq_design;

/* Checks a plan's numbers: 1 <= looks <= NL_SEQ_MAX_LOOKS, fractions
 * finite, strictly increasing, in (0, 1], alpha in (0, 0.5), sides one or
 * two, a spending function. NL_ERR_CONFIG naming the value otherwise. */
nl_code nl_seq_check_plan(int looks, const double *fraction, double alpha, nl_seq_sides sides,
                          const nl_seq_spending *spending, nl_error *err);

/* The boundaries of a plan (checked as above) at the given fractions. The
 * fractions need not end at 1: a design whose last look is at t_K < 1
 * spends f(t_K) in all. Fractions may be the observed ones rather than the
 * planned (the point of spending functions: the boundary at a look depends
 * only on the fractions up to it). */
nl_code nl_seq_design_compute(nl_seq_design *design, int looks, const double *fraction,
                              const nl_seq_spending *spending, double alpha, nl_seq_sides sides,
                              nl_error *err);

/* The probability of first crossing at each look, crossing[k], for the
 * boundaries given (any, not only a design's; +infinity for a look that
 * cannot reject) when Z has drift `drift` (E[Z_k] = drift sqrt(t_k); 0 is
 * H0). Two-sided, a crossing below -c_k counts too. Fractions and looks are
 * checked as for a plan. */
nl_code nl_seq_crossing_probabilities(int looks, const double *fraction, const double *boundary,
                                      nl_seq_sides sides, double drift, double *crossing, nl_error *err);

/* NL_ERR_DATA when look `look` (1-based) is not one of the design's:
 * a look beyond K is not in the plan, and the plan's alpha says nothing
 * about it */
nl_code nl_seq_check_look(const nl_seq_design *design, int look, nl_error *err);

typedef enum {
    NL_SEQ_CONTINUE, /* no look so far crossed, looks remain */
    NL_SEQ_CROSSED, /* H0 rejected at `look`: the claim holds there */
    NL_SEQ_FINAL_NOT_CROSSED, /* look K reached without a crossing: final */
} nl_seq_outcome;

typedef struct {
    nl_seq_outcome outcome;
    int look; /* 1-based: the look that crossed, else the last look given */
    int side; /* +1 crossed above, -1 below (two-sided only); 0 when none */
} nl_seq_decision;

/* The plan's decision from the z statistics of looks 1..observed (z[k - 1]
 * at look k): the first look whose z reaches its boundary decides, and
 * looks after it change nothing. observed must be 1..K (a look beyond K is
 * refused as by nl_seq_check_look) and every z finite: NL_ERR_DATA. */
nl_code nl_seq_decide(const nl_seq_design *design, const double *z, int observed, nl_seq_decision *out,
                      nl_error *err);

#endif
