/* One run, start to finish: from a validated config to a run directory
 * holding config.yaml (resolved), metrics.csv, summary.json and, when
 * tracing, trace.csv. Nothing is written before the config, the data and
 * the model have all been checked, and summary.json claims "ok" only after
 * everything else is on disk. */
#ifndef NL_RUN_H
#define NL_RUN_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config/config.h"
#include "train/train.h"

typedef struct {
    const char *out_dir;   /* NULL: results/<name> */
    bool force;            /* replace a finished run */
    int threads;           /* > 0 overrides the config */
    int device;            /* >= 0 overrides the config (an nl_device) */
    const char *command_line; /* recorded in summary.json */
    void (*progress)(void *ctx, const nl_progress *p);
    /* one-line notes for the user ("replacing the unfinished run in ...") */
    void (*note)(void *ctx, const char *message);
    void *ctx;
    atomic_int *stop; /* set by a signal handler or another thread: stop after the current step */
    /* the ranks of a data-parallel run (NULL: one process): every rank
     * calls nl_run; rank 0 alone writes the run directory and reports */
    struct nl_dist *dist;
    /* the datasets the runs of this process share (NULL: the run loads its
     * own); a sweep's runs as threads (--one-process) pass one */
    struct nl_data_share *data_share;
    /* what the command adds to rank 0's outputs (NULL: none): live
     * TensorBoard events (train.log.tensorboard) are written by the one
     * cmd/run.c adds, not by training */
    const nl_output_sink *output;
    /* > 0: a sweep's stop rule waits for the run at this step (or, where
     * pause_in_epochs, at the end of this epoch): a checkpoint there, and
     * the run ends stopped, to go on from it (nl_train_sink.pause_at) */
    long pause_at;
    bool pause_in_epochs;
    /* the run is a process of its own whose fatal-signal handler calls
     * nl_crash_record_write: rank 0 prepares the record of a crash once its
     * "running" summary is written (results/crash.h). Not for a sweep's runs
     * as threads: one crash ends them all, and the handler holds one record */
    bool record_crash;
} nl_run_options;

typedef struct {
    nl_train_result result;
    char dir[1024];
    int threads;
    long resumed_from; /* the checkpoint's step it went on from; 0: started fresh */
    int resumed_threads; /* the thread count the checkpoint was taken on */
    int resumed_ranks;   /* the MPI ranks the checkpoint was taken on */
    int removed_evals;   /* eval records of the run this one replaced, removed */
    int ranks;      /* MPI ranks that trained the model */
    int rank_batch; /* each rank's share of a training batch */
} nl_run_outcome;

nl_code nl_run(const nl_config *cfg, const nl_run_options *opt, nl_run_outcome *out,
               nl_error *err);

/* The status a run directory's summary.json records by nl_summary_read
 * (NL_RUN_RUNNING when there is none, or it is torn). */
nl_run_status nl_run_dir_status(const char *dir);

#endif
