/* The architectures as an enum, one value per line of arch/kinds.def in
 * its order, and their names (the rows' own, tabled in arch/registry.c).
 * Above the ground floor and outside the model spec (which holds an
 * architecture as an int): adding one rebuilds the files that name
 * architectures, not the kernels and layers every spec reaches. */
#ifndef NL_ARCH_KINDS_H
#define NL_ARCH_KINDS_H

#include "base/names.h"

typedef enum {
#define NL_ARCH_KIND(suffix) NL_ARCH_##suffix,
#include "arch/kinds.def"
    NL_ARCH_COUNT
} nl_arch;

extern const nl_name_table nl_arch_names; /* the rows of arch/registry.c */

#endif
