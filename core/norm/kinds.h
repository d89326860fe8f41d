/* The normalizer kinds as an enum, one value per line of norm/kinds.def in
 * its order, and their names (the rows' own, tabled in norm/registry.c):
 * what a spec, a config or a CSV column names a normalizer by, without the
 * registry's rows and builders. */
#ifndef NL_NORM_KINDS_H
#define NL_NORM_KINDS_H

#include "base/names.h"

typedef enum {
#define NL_NORM_KIND(suffix, row) NL_NORM_##suffix,
#include "norm/kinds.def"
    NL_NORM_COUNT
} nl_norm_kind;

extern const nl_name_table nl_norm_names;

#endif
