/* normlab export tensorboard: a sweep or run directory's results as
 * TensorBoard event files (tfevents.h): per run the scalars of its
 * metrics.csv (tags "SPLIT/COLUMN": train/loss, test/accuracy, train/lr,
 * ...) and series.csv (the probes: "SERIES/LAYER/NAME"), each at its
 * step, and for a sweep the HParams plugin's experiment (the varied keys
 * but the seed, with their values) and each run's session, grouped by
 * the runs that differ in the seed alone. The tag rules are shared with
 * the file a run writes as it trains (train.log.tensorboard). */
#ifndef NL_TB_EXPORT_H
#define NL_TB_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "log/files.h"
#include "tensorboard/tfevents.h"

typedef struct {
    int n_runs;
    int n_pending; /* runs whose summary.json does not say they finished */
    long n_scalars;
    nl_buf notes; /* for the screen: rows left out, unfinished runs, a line each */
} nl_tb_export_report;

/* Writes dir's runs into logdir (LOGDIR/RUN/NL_TB_RUN_FILE; a sweep's
 * experiment in the first run's file, nothing at LOGDIR's root, which
 * TensorBoard would list as a run named "."). A logdir that exists
 * and is not empty is refused (NL_ERR_USAGE, nothing written) unless
 * force, which replaces the files of those names and removes a
 * LOGDIR/NL_TB_RUN_FILE an older normlab wrote. A directory that is no
 * sweep or run, or a sweep without runs, is NL_ERR_USAGE. The files are one
 * output set (nl_outset): all written or none, a directory, FIFO or link
 * where one goes (or a file where a directory goes) NL_ERR_USAGE. A
 * sweep's experiment is named and described by about (NULL: neither),
 * which the caller reads from the sweep's experiment file: reading one is
 * core/sweep's, a folder above this one. */
nl_code nl_tb_export(const char *dir, const char *logdir, bool force, const nl_tb_about *about,
                     nl_tb_export_report *rep, nl_error *err);

#endif
