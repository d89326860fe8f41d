/* metrics.csv's columns: a row per logged train step and evaluation, as the
 * trainer writes them and the plots, tables and TensorBoard export read
 * them. trace.csv's first column is this step column too. */
#ifndef NL_RESULTS_METRICS_H
#define NL_RESULTS_METRICS_H

#include "results/table.h"

typedef enum {
    NL_METRICS_STEP,
    NL_METRICS_EPOCH,
    NL_METRICS_SPLIT,
    NL_METRICS_LOSS,
    NL_METRICS_ACCURACY,
    NL_METRICS_LR,
    NL_METRICS_ELAPSED_S,
    NL_METRICS_GRAD_NORM, /* only with train.clip_grad_norm: the last column */
    NL_METRICS_COLUMN_COUNT
} nl_metrics_column;

extern const char *const nl_metrics_columns[NL_METRICS_COLUMN_COUNT];

/* the column's index in a metrics.csv read as a table; -1 when absent */
int nl_metrics_col(const nl_csv_table *t, nl_metrics_column column);

#endif
