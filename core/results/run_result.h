/* A run's result as sweeps, plots, tables, verdicts and reports read it:
 * its state, summary.csv's metric columns and what summary.json says. */
#ifndef NL_RESULTS_RUN_RESULT_H
#define NL_RESULTS_RUN_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include "results/summary.h"
#include "results/summary_keys.h"

typedef enum {
    NL_SWEEP_PENDING, /* not run, still running, or killed */
    NL_SWEEP_OK,
    NL_SWEEP_DIVERGED,
    NL_SWEEP_FAILED,
    NL_SWEEP_STOPPED, /* ended early by the sweep's stop rule (sweep/stop.h): no result */
    NL_SWEEP_STATE_COUNT /* arrays indexed by a state (a count per state) */
} nl_sweep_state;

const char *nl_sweep_state_name(nl_sweep_state s);

/* Where a run that is no result stands, as its directory tells it now:
 * running (its summary.json says running and a process holds its marker's
 * lock), killed (says running, no one holds it: stopped without a word,
 * SIGKILL), interrupted (failed, stopped by a signal: resumable), failed,
 * or pending (no summary.json: not started). ok and diverged as they are. */
typedef enum {
    NL_PHASE_OK,
    NL_PHASE_DIVERGED,
    NL_PHASE_FAILED,
    NL_PHASE_INTERRUPTED,
    NL_PHASE_KILLED,
    NL_PHASE_RUNNING,
    NL_PHASE_PENDING,
    NL_PHASE_STOPPED, /* by the sweep's stop rule: it can go on (--resume-stopped) */
    NL_PHASE_COUNT
} nl_run_phase;
nl_run_phase nl_run_phase_read(const char *run_dir);
const char *nl_run_phase_name(nl_run_phase p);
/* "1 killed, 31 pending" of counts (a count per phase), the unfinished
 * phases only (neither ok nor diverged) */
void nl_run_phases_text(const int *counts, char *buf, size_t size);

/* a sweep's summary.csv's columns: run, the varied keys, status, the metrics
 * (their names: results/summary_keys.h) */
/* summary.csv metric columns, after run, the varied keys and status */
#define NL_SWEEP_N_METRICS 12
extern const char *const nl_sweep_metric_names[NL_SWEEP_N_METRICS];

typedef struct {
    nl_sweep_state state;
    char metrics[NL_SWEEP_N_METRICS][40]; /* "" when unknown */
    char started_at[32];
    char reason[256];
    double wall_s;
} nl_sweep_result;

/* Reads a run directory's summary.json; a missing or unreadable one (a run
 * killed before it wrote one) is pending, and so is one cut short or
 * otherwise not a whole JSON object (its reason says so): a torn file's
 * "status": "ok" is no result. Never fails. */
void nl_sweep_read_result(const char *run_dir, nl_sweep_result *out);

/* nl_summary_json_whole: train/summary.h */

/* How far a run got by its metrics, for one whose summary.json does not say
 * it finished: the last whole rows of metrics.csv (the checkpoint's step is
 * train's to read: nl_checkpoint_step). */
typedef struct {
    long last_step;          /* of the last whole row of metrics.csv; -1 none */
    double last_train_loss;  /* of the last whole train row; NaN none */
    long last_test_step;     /* of the last whole test row; -1 none */
    double last_test_accuracy;
    int cut_line;            /* metrics.csv's last line when it is cut short; 0 none */
} nl_run_progress;

void nl_read_run_progress(const char *run_dir, nl_run_progress *p);

#endif
