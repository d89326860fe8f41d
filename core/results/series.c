/* The series kinds' names (series.h), from results/series_kinds.def. */
#include "results/series.h"

#include "base/name_table.h"

static const nl_name_entry series_entries[] = {
#define NL_SERIES_KIND(id, name, help) [NL_SERIES_##id] = {name, help},
#include "results/series_kinds.def"
};
NL_NAME_TABLE(nl_series_names, "series", series_entries, NL_SERIES_COUNT);

const char *const nl_series_columns[NL_SERIES_COLUMN_COUNT] = {
    [NL_SERIES_COL_STEP] = "step",  [NL_SERIES_COL_SERIES] = "series", [NL_SERIES_COL_LAYER] = "layer",
    [NL_SERIES_COL_NAME] = "name",  [NL_SERIES_COL_VALUE] = "value",
};

int nl_series_col(const nl_csv_table *t, nl_series_column column)
{
    return nl_csv_table_col(t, nl_series_columns[column]);
}
