/* What a run directory's summary.json says of its run, decided in one
 * place for every reader: `show`, `eval` and init.from
 * (nl_final_model_check_run), `run` asking whether a directory holds a
 * finished run (nl_run_dir_status), the sweeps' and plots' results and
 * `bench --run`. Before, `show` called a file cut short torn while `eval`
 * and init.from read "status": "ok" out of its first lines. */
#ifndef NL_RESULTS_SUMMARY_H
#define NL_RESULTS_SUMMARY_H

#include <stdbool.h>

/* the statuses a run's summary.json says, as the trainer writes them */
typedef enum {
    NL_RUN_RUNNING,
    NL_RUN_OK,
    NL_RUN_DIVERGED,    /* a result: the loss became NaN/inf or exceeded the bound */
    NL_RUN_FAILED,      /* an error or an interruption: a sweep runs it again */
    NL_RUN_STOPPED,     /* a sweep's stop rule (sweep/stop.h) ended it at a check point, with a
                         * checkpoint there: no result, not finished; it can go on */
    NL_RUN_STATUS_COUNT
} nl_run_status;

const char *nl_run_status_name(nl_run_status status);

/* how a failed run's reason begins when a signal (its own, or a rank's)
 * stopped it: not a failure of the run, which a sweep resumes */
#define NL_RUN_INTERRUPTED_REASON "interrupted"
/* how a failed run's reason begins when a fatal signal (SIGILL, SIGSEGV,
 * ...) ended it (results/crash.h); a sweep runs it again, as any failure */
#define NL_RUN_CRASHED_REASON "crashed"

typedef enum {
    NL_SUMMARY_ABSENT,   /* no summary.json: never started, or killed before writing one */
    NL_SUMMARY_TORN,     /* there, but cut short, not one whole JSON object, without a
                          * status normlab writes, or unreadable: nothing in it is a result */
    NL_SUMMARY_RUNNING,  /* written at the start: running, or interrupted */
    NL_SUMMARY_OK,
    NL_SUMMARY_DIVERGED,
    NL_SUMMARY_FAILED,
    NL_SUMMARY_STOPPED,
    NL_SUMMARY_VERDICT_COUNT
} nl_summary_verdict;

/* "absent", "torn", then the statuses as summary.json spells them */
const char *nl_summary_verdict_name(nl_summary_verdict v);

/* ok or diverged: the run finished, with a result and a final model */
bool nl_summary_finished(nl_summary_verdict v);

/* The verdict on DIR/summary.json. With `json` non-NULL: the file's text
 * (malloc'd, the caller frees) when the verdict rests on a whole file
 * (running, ok, diverged, failed), else NULL. */
nl_summary_verdict nl_summary_read(const char *dir, char **json);

/* true when `json` is one whole flat JSON object as normlab writes
 * summary.json: { "key": value, ... } with string, number, true, false or
 * null values (objects and arrays nested a few levels allowed), nothing
 * after it */
bool nl_summary_json_whole(const char *json);

#endif
