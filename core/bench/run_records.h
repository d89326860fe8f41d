/* A run's speed from its own records: `normlab bench --run` times a real
 * `normlab run` (and the PyTorch script that mirrors it, which writes the
 * same files) by reading what the run wrote, not by timing a step apart
 * from the run.
 *
 * metrics.csv has a `train` row every train.log_every steps and evaluation
 * rows (`test`, `test_trainmode`) every train.eval_every steps, each with
 * `elapsed_s`, the seconds since training started. The steady state is the
 * span between train rows after the warm-up: the first window (the first
 * steps, which touch every buffer for the first time) and the first
 * `skip_fraction` of the steps are left out. An evaluation that comes right
 * after a train row (its rows carry that row's step) is taken out of the
 * interval that follows; an interval with an evaluation in its middle (an
 * eval_every that is not a multiple of log_every) is left out whole. So the
 * steady rate is training alone: the steps, their logging and their data,
 * without evaluation. */
#ifndef NL_BENCH_RUN_RECORDS_H
#define NL_BENCH_RUN_RECORDS_H

#include <stdbool.h>

#include "base/names.h"
#include "base/status.h"

/* How `normlab bench --run --torch` runs the PyTorch side
 * (experiments/bench/torch_run.py --mode): eagerly, under torch.compile's
 * default mode or its max-autotune, or best: each of the three (the
 * compiled ones where they compile), the fastest taken per round as the
 * peer. The rows run in this order; best is last. */
typedef enum {
    NL_TORCH_EAGER,
    NL_TORCH_COMPILE,
    NL_TORCH_MAX_AUTOTUNE,
    NL_TORCH_BEST,
    NL_TORCH_MODE_COUNT
} nl_torch_mode;
extern const nl_name_table nl_torch_mode_names;

typedef struct {
    long steps;          /* the last train row's step: the run's steps */
    long train_rows;     /* train rows in the file */
    long first_step, last_step; /* the steady span: from this train row to that one */
    long steady_steps;   /* steps in the counted intervals */
    double steady_s;     /* their seconds, evaluations taken out */
    double eval_s;       /* evaluation seconds taken out of the span */
    int intervals;       /* intervals counted */
    int mixed;           /* intervals left out: an evaluation in their middle */
    double wall_s;       /* the last row's elapsed_s: training start to the end */
} nl_bench_run_records;

/* Reads a metrics.csv (the columns found by the header's names). Fails with
 * NL_ERR_DATA on a file without step, split and elapsed_s columns, a row
 * that is not numbers where those are, time going backwards, or no interval
 * left to count (a run of too few train rows after the warm-up: a smaller
 * train.log_every or more train.steps gives it some). skip_fraction in
 * [0, 1). */
nl_code nl_bench_read_run_records(const char *metrics_csv, double skip_fraction,
                                  nl_bench_run_records *out, nl_error *err);

/* steps per second of the steady state */
double nl_bench_steady_steps_per_s(const nl_bench_run_records *r);

#endif
