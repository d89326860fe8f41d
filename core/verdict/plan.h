/* A claim's verdict under its plan (results/claims.h nl_claim_plan; STATS.md
 * "Looks"; issue 81): one decision over all its looks, not the latest
 * look's. Pure: the per-seed effects of each look in, the decision out. */
#ifndef NL_VERDICT_PLAN_H
#define NL_VERDICT_PLAN_H

#include <stdbool.h>

#include "base/status.h"
#include "results/claims.h"
#include "stats/seq.h"

typedef enum {
    NL_PLAN_HOLDS,           /* a look crossed the upper boundary */
    NL_PLAN_FAILS,           /* a look crossed the lower one: does not hold */
    NL_PLAN_CONTINUE,        /* no crossing, looks remain: undecided at look m of K */
    NL_PLAN_FINAL_UNDECIDED, /* look K without a crossing: final */
} nl_plan_outcome;
/* "holds", "does not hold", "undecided (continue)", "final undecided" */
extern const char *const nl_plan_outcome_names[];

typedef struct {
    int n_new;        /* this look's seeds */
    int n;            /* seeds pooled over looks 1..m */
    double fraction;  /* t_m, the information fraction */
    double mean, sd;  /* of the pooled per-seed effects */
    double t;         /* (mean - threshold) / (sd / sqrt(n)), signed so that > 0 is the claim's side */
    double z;         /* Phi^-1(t_cdf(t, n - 1)); NaN below NL_VERDICT_MIN_N seeds (no look decides) */
    double boundary;  /* c_m: the look crosses when |z| >= c_m */
} nl_plan_look;

typedef struct {
    int looks;        /* observed, m */
    int planned;      /* K */
    nl_plan_look look[NL_SEQ_MAX_LOOKS];
    nl_plan_outcome outcome;
    int decided_at;   /* 1-based: the crossing look, else the last observed */
} nl_plan_result;

/* The group-sequential verdict. x[k] (n[k] values) are look k+1's
 * per-seed effects (a - b, or the claim's per-seed value), their seeds
 * distinct across looks; `greater` the claim's direction against
 * `threshold`. At look m the effects of looks 1..m are pooled, and the
 * pooled mean's t statistic (Student's, n - 1 degrees of freedom: seeds
 * are few) is carried to the normal scale the boundaries are on by its
 * p: z = Phi^-1(t_cdf(t)). The boundaries are two-sided at alpha (the
 * claim's does-not-hold is the opposite crossing), spent by the plan's
 * function at fractions n_m / planned_n (planned_n: the seeds the plan's
 * K looks pool; 0, or fewer than observed, gives equal fractions m / K).
 * NL_ERR_DATA: more looks than the plan's K, or no look; NL_ERR_CONFIG:
 * a plan that is not group-sequential. */
nl_code nl_plan_sequential(const nl_claim_plan *plan, double alpha, const double *const *x, const int *n,
                           int observed, double threshold, bool greater, int planned_n, nl_plan_result *out,
                           nl_error *err);

#endif
