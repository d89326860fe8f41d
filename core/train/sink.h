/* What the training loop gives out, and how: metric rows, the progress
 * line, trace percentiles, series values and checkpoints, each through a
 * callback of the sink its caller passes; and what a command adds to a
 * run's outputs (nl_output_sink). Its own header so that the
 * loop's parts (the probes, the loss-scale glue) write to the sink without
 * including the loop. */
#ifndef NL_TRAIN_SINK_H
#define NL_TRAIN_SINK_H

#include "base/names.h"
#include "train/series.h"
#include "train/state.h"

typedef enum { NL_SPLIT_TRAIN, NL_SPLIT_TEST, NL_SPLIT_TEST_TRAINMODE, NL_SPLIT_COUNT } nl_split_kind;
extern const nl_name_table nl_split_names;

typedef struct {
    long step;        /* optimizer steps done */
    double epoch;     /* epochs done (fractional) */
    nl_split_kind split;
    double loss;      /* mean over the samples of this row */
    double accuracy;  /* fraction correct, 0..1 */
    double lr;        /* learning rate of the last step */
    double elapsed_s; /* since training started */
    /* train rows with train.clip_grad_norm: the mean gradient norm before
     * clipping over the row's steps; NaN otherwise */
    double grad_norm;
} nl_metric_row;

typedef struct {
    long step, total_steps;
    double epoch;
    double train_loss;    /* last logged */
    double test_accuracy; /* last evaluation, NaN before the first */
    double samples_per_s;
    double elapsed_s, eta_s;
} nl_progress;

typedef struct {
    void *ctx;
    nl_code (*metric)(void *ctx, const nl_metric_row *row, nl_error *err);
    /* percentiles of the traced unit (spec order) at `step` */
    nl_code (*trace)(void *ctx, long step, const double *values, int n, nl_error *err);
    void (*progress)(void *ctx, const nl_progress *p); /* may be NULL */
    /* every train.checkpoint_every steps, between two steps (may be NULL) */
    nl_code (*checkpoint)(void *ctx, const nl_train_state *s, nl_error *err);
    /* not NULL: continue from this state, the model's arrays already
     * restored by the caller (nl_checkpoint_read) */
    const nl_train_state *resume;
    /* train.log.*: a value of a series; may be NULL when the spec logs
     * no series */
    nl_series_fn series;
    /* > 0: a sweep's stop rule (sweep/stop.h) waits at this step, or at the
     * end of this epoch where pause_in_epochs: the run takes a checkpoint
     * there and ends as stopped, to go on from it bit for bit */
    long pause_at;
    bool pause_in_epochs;
} nl_train_sink;

/* A row of metrics.csv or series.csv as the run directory's file holds
 * it: the file's column names and the row's text ("" an empty cell). */
typedef struct {
    long step;
    const char *const *columns;
    const char *const *fields;
    int n;
} nl_output_row;

/* An output the command adds to a run (nl_run_options.output): it takes
 * the rows rank 0 writes, after the run's own file took each, so that
 * training knows nothing of its format (live TensorBoard events:
 * tensorboard/live.h). Any callback may be NULL. */
typedef struct {
    void *ctx;
    /* before anything of the run is written: a file of the run this one
     * replaces, which this run will not write, is removed (it would pass
     * for this run's) */
    nl_code (*clear)(void *ctx, const char *dir, nl_error *err);
    /* the run directory's CSV files stand as the run starts (a resumed
     * run's cut back to the rows its checkpoint counted), before the
     * first row */
    nl_code (*open)(void *ctx, const char *dir, bool resumed, nl_error *err);
    nl_code (*metric)(void *ctx, const nl_output_row *row, nl_error *err);
    nl_code (*series)(void *ctx, const nl_output_row *row, nl_error *err);
    /* after the last row, or when the run stops early (once, after a
     * successful open); its error fails the run */
    nl_code (*close)(void *ctx, nl_error *err);
} nl_output_sink;

#endif
