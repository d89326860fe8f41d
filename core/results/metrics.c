/* metrics.csv's column names (metrics.h), by column */
#include "results/metrics.h"

const char *const nl_metrics_columns[NL_METRICS_COLUMN_COUNT] = {
    [NL_METRICS_STEP] = "step",   [NL_METRICS_EPOCH] = "epoch",         [NL_METRICS_SPLIT] = "split",
    [NL_METRICS_LOSS] = "loss",   [NL_METRICS_ACCURACY] = "accuracy",   [NL_METRICS_LR] = "lr",
    [NL_METRICS_ELAPSED_S] = "elapsed_s", [NL_METRICS_GRAD_NORM] = "grad_norm",
};

int nl_metrics_col(const nl_csv_table *t, nl_metrics_column column)
{
    return nl_csv_table_col(t, nl_metrics_columns[column]);
}
