/* The parameter normalizers' kinds and settings: what the model spec, the
 * config and the layer constructors need, without the layer API of the
 * normalizers themselves (layers/param_norm.h), which needs the layers'. */
#ifndef NL_PARAM_NORM_SPEC_H
#define NL_PARAM_NORM_SPEC_H

#include <stdbool.h>

#include "base/names.h"

typedef enum {
#define NL_PARAM_NORM_KIND(ID, name, kind_suffix, row) NL_PARAM_NORM_##ID,
#include "layers/param_norm_kinds.def"
    NL_PARAM_NORM_COUNT
} nl_param_norm_kind;

/* model.param_norm: which transform the hidden weight layers use, and its
 * settings (each read only by the kinds it names) */
typedef struct {
    nl_param_norm_kind kind;
    float eps;      /* standardization: inside the square root */
    bool data_init; /* weight: Salimans & Kingma's data-dependent initialization */
    int power_iterations; /* spectral: power-iteration updates of u, v per training forward */
} nl_param_norm_spec;

/* the kinds' names and help, in nl_param_norm_kind's order */
extern const nl_name_table nl_param_norm_names;

#endif
