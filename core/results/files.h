/* The names of the files in a run directory and a sweep directory, spelled
 * here alone: every writer and reader in core/ and cmd/ names a file by these
 * macros, and tests/house/measure.py (test_house) fails on a string literal
 * elsewhere that holds one of them as a path component. It reads the names
 * from this file's #define lines, so a file added here is checked too. */
#ifndef NL_RESULTS_FILES_H
#define NL_RESULTS_FILES_H

/* made before any other file of a run directory: the writer's lock and the
 * sign that normlab made it (results/rundir.h) */
#define NL_RUN_MARKER ".normlab-run"
/* the resolved config, which repeats the run */
#define NL_RUN_CONFIG_FILE "config.yaml"
/* the run's status and final results (results/summary.h) */
#define NL_RUN_SUMMARY_FILE "summary.json"
/* a row per logged train step and evaluation */
#define NL_RUN_METRICS_FILE "metrics.csv"
/* train.log.*'s rows (results/series.h) */
#define NL_RUN_SERIES_FILE "series.csv"
/* train.trace's activation percentiles */
#define NL_RUN_TRACE_FILE "trace.csv"
/* the final model (train/final_model.h) and the resumable state (train/checkpoint.h) */
#define NL_FINAL_MODEL_FILE "final.nlck"
#define NL_CHECKPOINT_FILE "checkpoint.nlck"
/* a sweep's claim on one of its runs (sweep/worklock.h) */
#define NL_RUN_WORKLOCK ".normlab-claim"
/* normlab eval's records: RUN_DIR/eval/evals.csv (train/eval.h) */
#define NL_EVAL_DIR "eval"
#define NL_EVAL_TABLE "evals.csv"
/* a sweep's run's own log: what the run printed, attempt after attempt */
#define NL_RUN_LOG_FILE "stderr.txt"
/* a sweep directory's table of its runs, a row each, and their directories */
#define NL_SWEEP_SUMMARY_FILE "summary.csv"
#define NL_SWEEP_RUNS_DIR "runs"
/* a finished sweep's runs/ packed into one SQLite file (results/store.h) */
#define NL_SWEEP_PACK "runs.sqlite"
/* the config a sweep hands each of its runs: configs/RUN.yaml, written
 * again before every start of the run; the run's own config.yaml is the
 * record of what it ran */
#define NL_SWEEP_CONFIGS_DIR "configs"
/* the sweep's lock (sweep/sched.c): held while a sweep, a shard of one or
 * a --claim worker runs; a shard also holds .lock-shard-I-of-N */
#define NL_SWEEP_LOCK ".lock"
/* normlab verdict's files beside summary.csv, and its forest plot's name
 * in plots/ (verdicts.gp, verdicts.png) */
#define NL_SWEEP_VERDICTS_FILE "verdicts.csv"
#define NL_SWEEP_VERDICTS_JSON "verdicts.json"
#define NL_VERDICTS_PLOT "verdicts"
/* the experiment file a sweep was run from, as a path relative to the
 * sweep directory and an absolute one (sweep/summary.c): normlab report
 * finds the experiment by it whatever the directory's name */
#define NL_SWEEP_EXPERIMENT_FILE "experiment.txt"
/* the experiment file's text as the sweep was started from it, kept beside
 * the record (whose hash of it tells whether the file at the recorded path
 * is still that text): the page reads it where that file is gone or changed,
 * so that a sweep directory copied or moved keeps its description, threshold
 * rule and claim texts */
#define NL_SWEEP_EXPERIMENT_COPY "experiment.yaml"
/* the figures of a run or sweep directory: NAME.gp, its data and picture */
#define NL_PLOTS_DIR "plots"
/* normlab report's page when it is written into the directory it shows */
#define NL_REPORT_PAGE "report.html"

/* What each file normlab writes into a run or sweep directory is to the
 * results a repository keeps (issue 81: results/ holds evidence, and only
 * evidence). One row per file name, found by its glob relative to the run
 * or sweep directory: a glob without '/' matches a file's name at any depth,
 * one with '/' the path's last components ("plots/x.csv"). The first
 * matching row decides, so the narrower rows come first.
 *
 * results/.gitignore is generated from this table (nl_results_ignore_text,
 * test_committed_sweeps compares it), and test_committed_sweeps fails on a
 * tracked file under results/ that the table says is never committed, on a
 * tracked figure no page links, and on a symbolic link; test_outputs fails
 * on a file a sweep, plot, verdict, eval or report writes that no row
 * matches. */
typedef enum {
    NL_FILE_EVIDENCE,    /* what a run measured or was told: committed */
    NL_FILE_REBUILDABLE, /* made again from the evidence (normlab plot, verdict, report; a rerun) */
    NL_FILE_LIVE,        /* a running process's state: locks, markers, logs, temporaries */
} nl_file_class;

/* Whether a repository keeps the file. Evidence always, live state never;
 * a rebuildable file as its row says. */
typedef enum {
    NL_KEEP_BY_CLASS, /* evidence: kept; live state: never */
    NL_KEEP_ALWAYS,   /* rebuildable but kept beside the evidence: small, and read where it is */
    NL_KEEP_LINKED,   /* a figure (and its data): kept where a page links the figure, otherwise
                       * `normlab plot` draws it again */
    NL_KEEP_NEVER,    /* rebuilt on demand; too large or too local to keep */
} nl_file_keep;

/* X(GLOB, CLASS, KEEP) */
#define NL_RESULT_FILES(X)                                                                          \
    /* a file half written (PATH.tmp.PID[.N]: log/files.c spells it, below results/), or an       \
     * outset's work directory: renamed or removed when done; test_outputs sees none is left */    \
    X("*.tmp.*", NL_FILE_LIVE, NL_KEEP_BY_CLASS)                                                    \
    /* the writer's lock; summary.json's normlab_version tells normlab's runs once it is gone */    \
    X(NL_RUN_MARKER, NL_FILE_LIVE, NL_KEEP_BY_CLASS)                                                \
    X(NL_RUN_WORKLOCK, NL_FILE_LIVE, NL_KEEP_BY_CLASS)                                              \
    X(NL_SWEEP_LOCK, NL_FILE_LIVE, NL_KEEP_BY_CLASS)                                                \
    X(NL_SWEEP_LOCK "-shard-*", NL_FILE_LIVE, NL_KEEP_BY_CLASS)                                     \
    /* what a run printed: for the one watching it; the run's results are in its other files */     \
    X(NL_RUN_LOG_FILE, NL_FILE_LIVE, NL_KEEP_BY_CLASS)                                              \
    /* an unfinished run's resumable state */                                                       \
    X(NL_CHECKPOINT_FILE, NL_FILE_LIVE, NL_KEEP_BY_CLASS)                                           \
    /* megabytes a run; training again from config.yaml gives it bit for bit (test_results_drift) */ \
    X(NL_FINAL_MODEL_FILE, NL_FILE_REBUILDABLE, NL_KEEP_NEVER)                                      \
    X(NL_REPORT_PAGE, NL_FILE_REBUILDABLE, NL_KEEP_NEVER)                                           \
    /* the sweep's input to a run: the experiment gives it again, and the run's config.yaml,       \
     * which a sweep compares with the experiment's, records what ran (one copy per run) */         \
    X(NL_SWEEP_CONFIGS_DIR "/*.yaml", NL_FILE_REBUILDABLE, NL_KEEP_NEVER)                           \
    X("*.png", NL_FILE_REBUILDABLE, NL_KEEP_LINKED)                                                 \
    X("*.svg", NL_FILE_REBUILDABLE, NL_KEEP_LINKED)                                                 \
    /* the forest plot's script: test_committed_intervals reads every sweep's */                   \
    X(NL_PLOTS_DIR "/" NL_VERDICTS_PLOT ".gp", NL_FILE_REBUILDABLE, NL_KEEP_ALWAYS)                 \
    /* a figure's script and data (a copy of the runs' rows): kept with the figure where a page     \
     * links that, otherwise `normlab plot` writes them again */                                    \
    X("*.gp", NL_FILE_REBUILDABLE, NL_KEEP_LINKED)                                                  \
    X(NL_PLOTS_DIR "/*.csv", NL_FILE_REBUILDABLE, NL_KEEP_LINKED)                                   \
    /* normlab verdict's; the claims page, the pages' tables and the looks read the CSV; the JSON  \
     * is the same numbers for scripts, which `normlab verdict` writes again */                      \
    X(NL_SWEEP_VERDICTS_FILE, NL_FILE_REBUILDABLE, NL_KEEP_ALWAYS)                                  \
    X(NL_SWEEP_VERDICTS_JSON, NL_FILE_REBUILDABLE, NL_KEEP_NEVER)                                   \
    X(NL_RUN_CONFIG_FILE, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                                       \
    X(NL_RUN_SUMMARY_FILE, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                                      \
    X(NL_RUN_METRICS_FILE, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                                      \
    X(NL_RUN_SERIES_FILE, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                                       \
    X(NL_RUN_TRACE_FILE, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                                        \
    X(NL_EVAL_DIR "/" NL_EVAL_TABLE, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                            \
    /* normlab eval's records, one per evaluation (EVAL_DIR/NAME.json) */                           \
    X(NL_EVAL_DIR "/*.json", NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                                    \
    X(NL_SWEEP_EXPERIMENT_FILE, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                                \
    X(NL_SWEEP_EXPERIMENT_COPY, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                                \
    X(NL_SWEEP_SUMMARY_FILE, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)                                    \
    X(NL_SWEEP_PACK, NL_FILE_EVIDENCE, NL_KEEP_BY_CLASS)

typedef struct {
    const char *glob;
    nl_file_class cls;
    nl_file_keep keep;
} nl_result_file;

extern const nl_result_file nl_result_files[];
extern const int nl_result_file_count;
/* the row `path` (a file's path, any prefix) matches, or NULL */
const nl_result_file *nl_result_file_of(const char *path);
/* whether a repository keeps a file of the row: always, where linked, never */
nl_file_keep nl_result_file_keep(const nl_result_file *row);
/* "evidence", "rebuildable", "live state" */
const char *nl_file_class_name(nl_file_class cls);
/* results/.gitignore's text: every row a repository does not always keep
 * (live state, rebuildable files kept nowhere or only where linked); a
 * malloc'd string */
char *nl_results_ignore_text(void);

#endif
