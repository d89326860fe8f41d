/* The dataset kinds as an enum, one value per line of data/kinds.def in its
 * order, and their names (the rows' own, tabled in data/registry.c): what a
 * data spec, a config or `normlab list` names a dataset by, without the
 * readers' rows. */
#ifndef NL_DATA_KINDS_H
#define NL_DATA_KINDS_H

#include "base/names.h"

typedef enum {
#define NL_DATA_KIND(suffix, row) NL_DATA_##suffix,
#include "data/kinds.def"
    NL_DATA_COUNT
} nl_dataset_kind;

extern const nl_name_table nl_dataset_names;

#endif
