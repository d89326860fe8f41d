/* Early stopping in a sweep: an experiment file's `stop:` (the spec,
 * nl_stop_spec, is sweep.h's) stops runs that are losing at check points,
 * by one of two rules on a metric the runs log (metrics.csv):
 *
 * asha: asynchronous successive halving (Li et al. 2018, "A System for
 *   Massively Parallel Hyperparameter Tuning"): rungs at min_resource *
 *   eta^k (k = 0, 1, ...) below a run's length; a run goes on past a rung
 *   only when it is among the top floor(n / eta) of the n runs that reached
 *   the rung (by its metric as last evaluated at or before the rung), and
 *   at least the best one goes on, so a sweep always finishes a run.
 * median: the median stopping rule (Golovin et al. 2017, Google Vizier;
 *   Ray Tune's MedianStoppingRule): at check points grace, grace + every,
 *   ..., a run is stopped when its best value so far is strictly worse than
 *   the median of the running averages (the mean of every value logged up
 *   to the point) of the other runs that reached the point, given at least
 *   min_runs of them.
 *
 * Deterministic whatever the scheduling: a point is decided only once every
 * run that can reach it has (a barrier: a run waits at a point, paused with
 * a checkpoint, until all have come), from the values logged up to it, the
 * same for every run however many ran at once; ties go to the run first in
 * the plan. For asha this is synchronous successive halving over the
 * sweep's runs: the promotions ASHA's asynchronous rule makes once every
 * run has reported at a rung, without their depending on which finished
 * first. A paused run goes on from its checkpoint bit for bit as if it had
 * not waited. The decision itself is a pure function (nl_stop_decide). */
#ifndef NL_SWEEP_STOP_H
#define NL_SWEEP_STOP_H

#include <stdbool.h>

#include "base/status.h"
#include "sweep/sched.h"
#include "sweep/sweep.h"

#define NL_STOP_MAX_POINTS 64

const char *nl_stop_rule_name(nl_stop_rule r);

/* The check points in the rule's unit, ascending, below `length` (a run's
 * length in that unit): asha's rungs or median's points; their count (at
 * most NL_STOP_MAX_POINTS). */
int nl_stop_points(const nl_stop_spec *s, long length, long *points);

/* one run's curve of the metric, as the decision reads it */
typedef struct {
    int n;               /* values logged */
    const long *step;    /* where (training steps), ascending */
    const double *value; /* the metric there (NaN: none) */
    long reach;          /* steps trained so far */
    long per_point;      /* steps in one unit of the points: 1, or the run's batches per epoch */
    bool ended;          /* finished (ok or diverged): goes no further than reach */
} nl_stop_curve;

typedef struct {
    int point;        /* the check point it was stopped at (an index); -1: not stopped */
    double value;     /* asha: its metric at the rung; median: its best so far */
    double threshold; /* asha: the worst value that went on; median: the others' median */
    int compared;     /* asha: runs at the rung; median: the other runs of the median */
    int kept;         /* asha: of them, how many went on; median: 0 */
} nl_stop_decision;

/* Decides the points in order, each once every run not stopped before it
 * has reached it (reach >= point * per_point) or ended short of it; out[i]
 * for runs[i]. Returns how many points are decided (n_points: all). Pure:
 * the same curves give the same decisions in any order of arrival. */
int nl_stop_decide(const nl_stop_spec *s, const long *points, int n_points, const nl_stop_curve *runs, int n,
                   nl_stop_decision *out);

/* The spec against the plan, before anything is written (exit 2, naming
 * file:line:column): a check point below every run's length, a unit the
 * runs' length is given in, and every claim of the file naming the rule
 * (a claim's cells are never stopped unless its registration says so);
 * a claim naming a rule the file does not have is refused too, with or
 * without stop:. Sets the unit where stop: gives none. */
nl_code nl_stop_check_plan(nl_experiment *e, const nl_sweep_plan *p, nl_error *err);

/* a run's length and its unit: train.steps, or train.epochs, of its config */
nl_code nl_stop_run_length(const nl_sweep_run *r, nl_stop_unit *unit, long *length, nl_error *err);

/* Runs the sweep under its stop rule: passes of nl_sweep_execute, each
 * taking every live run to the next undecided point (paused there), then
 * deciding it and recording each stop in the run's summary.json (status
 * stopped, stop_* keys with the rule's numbers). resume_stopped: instead,
 * one pass going on with every stopped run to its end. The job must be
 * unsharded and not a --claim worker. */
nl_code nl_stop_execute(nl_sweep_job *j, const nl_sweep_exec_options *opt, bool resume_stopped,
                        nl_sweep_outcome *out, nl_error *err);

#endif
