/* A run's output files as rank 0 writes them: metrics.csv, trace.csv when
 * a unit is traced, series.csv when a train.log.* series is logged, and
 * the output the command adds (an nl_output_sink, train/sink.h). A fresh
 * run opens them with their header rows; a resumed one goes on with them,
 * cut back to the rows its checkpoint counted, so that they hold what the
 * uninterrupted run's would. */
#ifndef NL_TRAIN_OUTPUTS_H
#define NL_TRAIN_OUTPUTS_H

#include <stdbool.h>

#include "config/train_spec.h"
#include "log/files.h"
#include "train/checkpoint.h"
#include "train/sink.h"

typedef struct {
    nl_csv metrics, trace, series;
    const nl_output_sink *added; /* NULL: none */
    bool added_open;             /* its open succeeded and its close is due */
} nl_run_outputs;

/* nothing open yet; `added` may be NULL */
void nl_run_outputs_init(nl_run_outputs *o, const nl_output_sink *added);

/* A checkpoint's output files hold at least the rows it counted: checked
 * before anything is written, since going on from it cuts them back to
 * those rows. */
nl_code nl_run_outputs_reach(const char *dir, const nl_train_spec *train,
                             const nl_checkpoint_files *files, nl_error *err);

/* Resumed or not, a trace or series of the run this one replaces would
 * pass for this run's: each file this run does not write is removed, and
 * the added output clears its own, before anything is written. */
nl_code nl_run_outputs_remove_stale(const nl_run_outputs *o, const char *dir,
                                    const nl_train_spec *train, nl_error *err);

/* A fresh run's files with their header rows (resumed NULL), or a resumed
 * run's cut back to the rows `resumed` counted; then the added output
 * opens on them as they stand. */
nl_code nl_run_outputs_open(nl_run_outputs *o, const char *dir, const nl_train_spec *train,
                            const nl_checkpoint_files *resumed, nl_error *err);

/* The rows written so far on disk, and their byte counts into *files:
 * what a checkpoint records, before it is written. */
nl_code nl_run_outputs_sync(const nl_run_outputs *o, nl_checkpoint_files *files, nl_error *err);

/* one row each, written as the training loop gives it (rank 0's sink) */
nl_code nl_run_outputs_metric(nl_run_outputs *o, const nl_metric_row *row, nl_error *err);
nl_code nl_run_outputs_trace(nl_run_outputs *o, long step, const double *values, int n,
                             nl_error *err);
nl_code nl_run_outputs_series(nl_run_outputs *o, long step, nl_series_kind kind, int layer,
                              const char *name, double value, nl_error *err);

/* Every file closed (again: a closed one is left alone), the added output
 * last; a failure's error into *err, the last one when several fail. */
nl_code nl_run_outputs_close(nl_run_outputs *o, nl_error *err);

#endif
