/* normlab report: one self-contained HTML page for sweeps and runs. The
 * page holds, per directory, the experiment's description and grid, the
 * table over seeds (nl_table_write's numbers), every run with its status
 * (failed, diverged and unfinished runs shown as such), the experiment's
 * plots as inline SVG (the gnuplot templates of plots/, drawn into a
 * private temporary directory: the results are only read), the claims'
 * verdicts and forest plot where verdicts.csv exists, and each run's
 * resolved config (the keys set differently across runs first) and
 * provenance. Its CSS and script (core/report/assets) are inlined: the
 * page makes no request outside itself. */
#ifndef NL_REPORT_H
#define NL_REPORT_H

#include <stdbool.h>
#include <time.h>

#include "base/status.h"
#include "log/files.h"

#define NL_REPORT_MAX_DIRS 64

typedef struct {
    /* one sweep's experiment file; NULL: the file in experiments_dir
     * that names the sweep (as normlab verdict finds it) */
    const char *experiment;
    const char *experiments_dir; /* NULL: "experiments" */
    const char *command_line;    /* the command that made the page, for its header */
    /* a live page (normlab report --watch, a sweep running): it says so and
     * reloads itself every live_seconds; 0: a finished page */
    int live_seconds;
    /* --watch's last page when a signal stopped it (stopped_by names the
     * signal, e.g. "SIGINT"; NULL: not stopped): the page says when the
     * watch stopped, and whether the sweep still ran then, and never
     * reloads (live_seconds is 0) */
    const char *stopped_by;
    time_t stopped_at;
    bool stopped_while_running;
} nl_report_options;

typedef struct {
    nl_buf html;
    /* what the screen should hear as well, a line each: rows left out,
     * unfinished runs, plots that could not be drawn */
    nl_buf notes;
    int n_runs, n_figures;
    int n_finished; /* runs ok or diverged */
    long n_candidates; /* a search's page (no runs): the candidates of its candidates.csv */
    bool gnuplot_missing; /* no plots drawn: gnuplot is not on PATH */
} nl_report;

/* The page for dirs (sweep or run directories, any mix; or one search's
 * directory, known by its candidates.csv, whose page is its own: the
 * survival funnel, Pareto front and lineage of the winners). A directory that
 * is neither, or a sweep with no runs in its summary.csv, is NL_ERR_USAGE
 * naming it: nothing can be made. Rows cut short, unfinished runs and
 * plots that cannot apply are said on the page and in notes. */
nl_code nl_report_build(const char *const *dirs, int n_dirs, const nl_report_options *opt, nl_report *out,
                        nl_error *err);
void nl_report_free(nl_report *r);

/* whether a sweep among dirs is running: the process its .lock names is
 * alive (one on another host cannot be asked, and counts as running) */
bool nl_report_running(const char *const *dirs, int n_dirs);
/* a number that changes when a file the page is made from changes:
 * summary.csv, verdicts.csv, each run's summary.json and metrics.csv */
unsigned long long nl_report_stamp(const char *const *dirs, int n_dirs);

#endif
