/* The kinds of series a run logs (train.log.*) and the names series.csv's
 * `series` column gives them: what the trainer writes (train/series.h
 * measures them) and the plots and TensorBoard export read. */
#ifndef NL_RESULTS_SERIES_H
#define NL_RESULTS_SERIES_H

#include "base/names.h"
#include "results/table.h"

typedef enum {
    NL_SERIES_GRAD_NORM,  /* per layer (block), before clipping */
    NL_SERIES_MAX_LOGIT,  /* per attention layer */
    /* per normalizer with running statistics, at the evaluations
     * (train/probe_varshift.h) */
    NL_SERIES_VARIANCE_SHIFT,
    /* per weight tensor (train.log.weight_stats) */
    NL_SERIES_WEIGHT_NORM,
    NL_SERIES_UPDATE_RATIO,
    /* the update ratio again, for the scale-invariant weights alone */
    NL_SERIES_EFFECTIVE_LR,
    /* once, at step 0 (train/probe_sigprop.h): per residual add's output
     * (the residual stream) and per normalizer's input, the channel mean^2
     * and variance averaged over channels; the layer column counts the
     * sites of each of the two kinds apart (the depth) */
    NL_SERIES_SIGPROP_MEAN_SQ,
    NL_SERIES_SIGPROP_VAR,
    NL_SERIES_SIGPROP_NORM_IN_MEAN_SQ,
    NL_SERIES_SIGPROP_NORM_IN_VAR,
    /* the landscape probe (train/probe_landscape.h), one row each per
     * probe: every step size tried, then the ranges over them */
    NL_SERIES_LANDSCAPE_STEP_SIZE,
    NL_SERIES_LOSS_MIN,
    NL_SERIES_LOSS_MAX,
    NL_SERIES_GRAD_PRED_MIN,
    NL_SERIES_GRAD_PRED_MAX,
    NL_SERIES_BETA_SMOOTHNESS,
    /* per recurrent layer and time step, at the evaluations
     * (train/probe_steps.h): the layer column holds the step t */
    NL_SERIES_STEP_NORM,
    /* per weight under spectral normalization (train.log.weight_stats):
     * the sigma its forward used, and the largest singular value */
    NL_SERIES_SIGMA_ESTIMATE,
    NL_SERIES_SIGMA_TRUE,
    /* with train.loss_scale.enabled or a low train.precision, at step 0 and
     * every log_every steps (loss_scale and skipped_steps only when
     * scaling): the scale the step's loss gradient was multiplied by, the
     * steps skipped so far (this one included), and the share of the
     * parameter gradients' elements exactly zero before unscaling */
    NL_SERIES_LOSS_SCALE,
    NL_SERIES_SKIPPED_STEPS,
    NL_SERIES_GRAD_ZERO_SHARE,
    /* per residual block, at the evaluations (train/probe_blockskip.h):
     * the test loss with the block removed minus the whole model's; the
     * layer column counts the blocks from the input */
    NL_SERIES_BLOCK_SKIP,
    /* per switchable normalizer (train.log.switch_weights), at step 0 and
     * every log_every steps: the softmax weights its forward mixed the
     * instance, layer and batch statistics with, of the mean, then of the
     * variance (in this order: nl_series_switch_first + 3 * variance +
     * term) */
    NL_SERIES_SWITCH_MEAN_IN,
    NL_SERIES_SWITCH_MEAN_LN,
    NL_SERIES_SWITCH_MEAN_BN,
    NL_SERIES_SWITCH_VAR_IN,
    NL_SERIES_SWITCH_VAR_LN,
    NL_SERIES_SWITCH_VAR_BN,
    NL_SERIES_COUNT
} nl_series_kind;
/* the names series.csv's `series` column holds */
extern const nl_name_table nl_series_names;

#define NL_SERIES_NAME_MAX 64
/* series.csv's columns, in order: a row per kind, layer and name at a step */
typedef enum {
    NL_SERIES_COL_STEP,
    NL_SERIES_COL_SERIES, /* the kind's name (nl_series_names) */
    NL_SERIES_COL_LAYER,
    NL_SERIES_COL_NAME,
    NL_SERIES_COL_VALUE,
    NL_SERIES_COLUMN_COUNT
} nl_series_column;
extern const char *const nl_series_columns[NL_SERIES_COLUMN_COUNT];

/* the column's index in a series.csv read as a table; -1 when absent */
int nl_series_col(const nl_csv_table *t, nl_series_column column);

#endif
