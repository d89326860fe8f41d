/* The kinds of series a run logs (train.log.*) and the names series.csv's
 * `series` column gives them: what the trainer writes (train/series.h
 * measures them) and the plots and TensorBoard export read. */
#ifndef NL_RESULTS_SERIES_H
#define NL_RESULTS_SERIES_H

#include "base/names.h"
#include "results/table.h"

/* one value per line of results/series_kinds.def, in its order */
typedef enum {
#define NL_SERIES_KIND(id, name, help) NL_SERIES_##id,
#include "results/series_kinds.def"
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
