/* a claim's verdict under a group-sequential plan (verdict/plan.h) */
#include <math.h>
#include <string.h>

#include "stats/stats.h"
#include "verdict/plan.h"
#include "verdict/verdict.h"

const char *const nl_plan_outcome_names[] = {"holds", "does not hold", "undecided (continue)", "final undecided"};

/* pooled look m: the effects of looks 0..m together; its z */
static void pl_pool(const double *const *x, const int *n, int m, double threshold, bool greater, nl_plan_look *l)
{
    double sum = 0, sq = 0;
    int total = 0;
    for (int k = 0; k <= m; k++)
        for (int i = 0; i < n[k]; i++) {
            sum += x[k][i];
            total++;
        }
    l->n_new = n[m];
    l->n = total;
    l->mean = total ? sum / total : NAN;
    for (int k = 0; k <= m; k++)
        for (int i = 0; i < n[k]; i++)
            sq += (x[k][i] - l->mean) * (x[k][i] - l->mean);
    l->sd = total > 1 ? sqrt(sq / (total - 1)) : NAN;
    l->t = l->z = NAN;
    if (total < NL_VERDICT_MIN_N) /* STATS.md: n <= 2 decides nothing */
        return;
    const double sign = greater ? 1 : -1;
    l->t = sign * (l->mean - threshold) / (l->sd / sqrt(total));
    if (l->sd == 0) /* every seed the same: as far from the threshold as a t can say */
        l->t = l->mean == threshold ? 0 : sign * (l->mean > threshold ? INFINITY : -INFINITY);
    /* p kept inside (0, 1): z finite, |z| <= 8, beyond any boundary a plan has */
    double p = isfinite(l->t) ? nl_stats_t_cdf(l->t, total - 1) : (l->t > 0 ? 1 : 0);
    p = fmin(fmax(p, 1e-15), 1 - 1e-15);
    l->z = nl_stats_normal_quantile(p);
}

nl_code nl_plan_sequential(const nl_claim_plan *plan, double alpha, const double *const *x, const int *n,
                           int observed, double threshold, bool greater, int planned_n, nl_plan_result *out,
                           nl_error *err)
{
    memset(out, 0, sizeof *out);
    if (plan->kind != NL_PLAN_GROUP_SEQUENTIAL)
        return nl_fail(err, NL_ERR_CONFIG, "a %s plan has no boundaries", nl_plan_kind_names[plan->kind]);
    if (observed < 1 || observed > plan->looks)
        return nl_fail(err, NL_ERR_DATA, "look %d of a plan of %d looks: %s", observed, plan->looks,
                       observed < 1 ? "no look yet" : "a look beyond K is not in the plan, whose alpha says nothing about it");
    const nl_seq_spending *spending = NULL;
    nl_code rc = nl_seq_spending_find(plan->spending, &spending, err);
    if (rc)
        return rc;
    out->looks = observed;
    out->planned = plan->looks;
    double fraction[NL_SEQ_MAX_LOOKS], z[NL_SEQ_MAX_LOOKS];
    for (int m = 0; m < observed; m++)
        pl_pool(x, n, m, threshold, greater, &out->look[m]);
    const bool by_seeds = planned_n > 0 && out->look[observed - 1].n <= planned_n;
    for (int m = 0; m < observed; m++) {
        fraction[m] = by_seeds ? (double)out->look[m].n / planned_n : (double)(m + 1) / plan->looks;
        out->look[m].fraction = fraction[m];
        z[m] = isnan(out->look[m].z) ? 0 : out->look[m].z; /* too few seeds: crosses nothing */
    }
    nl_seq_design design;
    if ((rc = nl_seq_design_compute(&design, observed, fraction, spending, alpha, NL_SEQ_TWO_SIDED, err)))
        return rc;
    for (int m = 0; m < observed; m++)
        out->look[m].boundary = design.boundary[m];
    nl_seq_decision d;
    if ((rc = nl_seq_decide(&design, z, observed, &d, err)))
        return rc;
    out->decided_at = d.look;
    if (d.outcome == NL_SEQ_CROSSED)
        out->outcome = d.side > 0 ? NL_PLAN_HOLDS : NL_PLAN_FAILS;
    else
        out->outcome = observed < plan->looks ? NL_PLAN_CONTINUE : NL_PLAN_FINAL_UNDECIDED;
    return NL_OK;
}
