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
/* the resolved config of each of a sweep's runs: configs/RUN.yaml */
#define NL_SWEEP_CONFIGS_DIR "configs"
/* the sweep's lock (sweep/sched.c): held while a sweep, a shard of one or
 * a --claim worker runs; a shard also holds .lock-shard-I-of-N */
#define NL_SWEEP_LOCK ".lock"
/* normlab verdict's files beside summary.csv, and its forest plot's name
 * in plots/ (verdicts.gp, verdicts.png) */
#define NL_SWEEP_VERDICTS_FILE "verdicts.csv"
#define NL_SWEEP_VERDICTS_JSON "verdicts.json"
#define NL_VERDICTS_PLOT "verdicts"
/* the figures of a run or sweep directory: NAME.gp, its data and picture */
#define NL_PLOTS_DIR "plots"
/* normlab report's page when it is written into the directory it shows */
#define NL_REPORT_PAGE "report.html"

#endif
