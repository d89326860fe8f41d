/* What the training loop gives out, and how: metric rows, the progress
 * line, trace percentiles, series values and checkpoints, each through a
 * callback of the sink its caller passes. Its own header so that the
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
} nl_train_sink;

#endif
