/* The keys of a run directory's summary.json and the columns of a sweep's
 * summary.csv, spelled here alone: the trainer writes summary.json by these
 * macros (train/run_summary.c) and every reader looks a key up by them
 * (nl_json_flat_get: report, verdict, show, eval, bench --run). Eval records
 * (train/eval.c), verdicts.csv and bench --run's table repeat some of the
 * run's facts under the same names, and take them from here too.
 * tests/house/measure.py (test_house) reads the names from this file's
 * #define lines and fails on a literal elsewhere in core/ or cmd/ that spells
 * one: any that has an underscore, and a one-word one (also a config key or
 * a word: "status", "device") where it is a JSON key or a column looked up. */
#ifndef NL_RESULTS_SUMMARY_KEYS_H
#define NL_RESULTS_SUMMARY_KEYS_H

/* ---- summary.json, in the order the trainer writes them ---- */
#define NL_SUMMARY_NAME "name"
/* running, ok, diverged, failed (results/summary.h) */
#define NL_SUMMARY_STATUS "status"
#define NL_SUMMARY_REASON "reason"
#define NL_SUMMARY_STEPS "steps"
#define NL_SUMMARY_EPOCHS "epochs"
#define NL_SUMMARY_FINAL_TRAIN_LOSS "final_train_loss"
#define NL_SUMMARY_FINAL_TEST_LOSS "final_test_loss"
#define NL_SUMMARY_FINAL_TEST_ACCURACY "final_test_accuracy"
#define NL_SUMMARY_FINAL_TEST_TRAINMODE_ACCURACY "final_test_trainmode_accuracy"
/* train.bn_recalibrate: the final evaluation before it */
#define NL_SUMMARY_TEST_LOSS_BEFORE_RECALIBRATION "test_loss_before_recalibration"
#define NL_SUMMARY_TEST_ACCURACY_BEFORE_RECALIBRATION "test_accuracy_before_recalibration"
#define NL_SUMMARY_BN_FROZEN_FROM_STEP "bn_frozen_from_step"
#define NL_SUMMARY_BEST_TEST_LOSS "best_test_loss"
#define NL_SUMMARY_BEST_TEST_ACCURACY "best_test_accuracy"
/* token models only */
#define NL_SUMMARY_FINAL_TRAIN_BITS_PER_TOKEN "final_train_bits_per_token"
#define NL_SUMMARY_FINAL_TEST_BITS_PER_TOKEN "final_test_bits_per_token"
#define NL_SUMMARY_BEST_TEST_BITS_PER_TOKEN "best_test_bits_per_token"
#define NL_SUMMARY_TOKENS_PER_S "tokens_per_s"
#define NL_SUMMARY_WALL_S "wall_s"
#define NL_SUMMARY_TRAIN_S "train_s"
#define NL_SUMMARY_SAMPLES_PER_S "samples_per_s"
#define NL_SUMMARY_EXCHANGE_S "exchange_s"
#define NL_SUMMARY_REPLAYED_STEPS "replayed_steps"
#define NL_SUMMARY_SEED "seed"
/* where it computed */
#define NL_SUMMARY_THREADS "threads"
#define NL_SUMMARY_RANKS "ranks"
#define NL_SUMMARY_RANK_BATCH_SIZE "rank_batch_size"
#define NL_SUMMARY_USABLE_CORES "usable_cores"
#define NL_SUMMARY_BUSY_CORES_AT_START "busy_cores_at_start"
#define NL_SUMMARY_CPU_KERNELS "cpu_kernels"
#define NL_SUMMARY_OPENBLAS_CORE "openblas_core"
#define NL_SUMMARY_PRODUCTS "products"
#define NL_SUMMARY_CONV_LIBRARY "conv_library"
#define NL_SUMMARY_CONV_LIBRARY_FALLBACKS "conv_library_fallbacks"
#define NL_SUMMARY_CONV_KERNELS "conv_kernels"
#define NL_SUMMARY_FORMULA_KERNELS "formula_kernels"
#define NL_SUMMARY_CPU "cpu"
#define NL_SUMMARY_PRECISION "precision"
#define NL_SUMMARY_LAYOUT "layout"
#define NL_SUMMARY_DEVICE "device"
#define NL_SUMMARY_DATASET "dataset"
#define NL_SUMMARY_PARAMETERS "parameters"
#define NL_SUMMARY_MFLOP_PER_SAMPLE_FORWARD "mflop_per_sample_forward"
#define NL_SUMMARY_NORMLAB_VERSION "normlab_version"
#define NL_SUMMARY_GIT_COMMIT "git_commit"
#define NL_SUMMARY_STARTED_AT "started_at"
#define NL_SUMMARY_FINISHED_AT "finished_at"
#define NL_SUMMARY_HOST "host"
#define NL_SUMMARY_COMMAND "command"
/* init.from: the model the run started from */
#define NL_SUMMARY_INIT_FROM "init_from"
#define NL_SUMMARY_INIT_FROM_MODEL_FNV1A64 "init_from_model_fnv1a64"
#define NL_SUMMARY_INIT_FROM_STEP "init_from_step"
/* a run the sweep's stop rule stopped (status stopped; sweep/stop.h): the
 * rule, its metric, mode and unit, the check point (in that unit) and its
 * step, the run's value there (asha: at the rung; median: its best so
 * far), the threshold it missed (asha: the worst value that went on;
 * median: the median of the others' running averages), how many runs it
 * was compared with, and (asha) how many went on */
#define NL_SUMMARY_STOP_RULE "stop_rule"
#define NL_SUMMARY_STOP_METRIC "stop_metric"
#define NL_SUMMARY_STOP_MODE "stop_mode"
#define NL_SUMMARY_STOP_UNIT "stop_unit"
#define NL_SUMMARY_STOP_POINT "stop_point"
#define NL_SUMMARY_STOP_STEP "stop_step"
#define NL_SUMMARY_STOP_VALUE "stop_value"
#define NL_SUMMARY_STOP_THRESHOLD "stop_threshold"
#define NL_SUMMARY_STOP_COMPARED "stop_compared"
#define NL_SUMMARY_STOP_KEPT "stop_kept"
/* the PyTorch peer's summary.json (experiments/bench/torch_run.py) only:
 * its compilation's seconds, null eager */
#define NL_SUMMARY_PEER_COMPILE_S "compile_s"

/* ---- summary.csv: run, the varied keys, status, then the metric columns
 * (results/run_result.c's nl_sweep_metric_names), summary.json's keys but
 * one ---- */
#define NL_SWEEP_RUN_COLUMN "run"
#define NL_SWEEP_STATUS_COLUMN "status"
/* 1 - final_test_accuracy */
#define NL_SWEEP_TEST_ERROR_COLUMN "final_test_error"

/* ---- RUN/eval/NAME.json's keys and RUN/eval/evals.csv's columns (normlab
 * eval, train/eval.c); the run facts beside them (device, cpu_kernels, ...)
 * are summary.json's names above ---- */
#define NL_EVAL_RECORD "record"
#define NL_EVAL_SPLIT "split"
#define NL_EVAL_LOSS "loss"
#define NL_EVAL_ACCURACY "accuracy"
#define NL_EVAL_SAMPLES "samples"
#define NL_EVAL_FOLDED "folded"
#define NL_EVAL_FOLDED_LAYERS "folded_layers"
#define NL_EVAL_STEP "step"
#define NL_EVAL_DATA "data"
#define NL_EVAL_OVERRIDES "overrides"
#define NL_EVAL_CONTEXT "context"
#define NL_EVAL_TRAINED_CONTEXT "trained_context"
#define NL_EVAL_BATCH "batch"
#define NL_EVAL_BATCH_STATS "batch_stats"
#define NL_EVAL_RUN_FINAL_TEST_ACCURACY "run_final_test_accuracy"
#define NL_EVAL_EVAL_S "eval_s"
#define NL_EVAL_WRITTEN_AT "written_at"

#endif
