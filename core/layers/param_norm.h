/* Parameter normalizers: transforms of a linear or conv weight applied
 * before the layer uses it, forward and backward (weight standardization,
 * weight normalization). The kinds are listed once, in
 * layers/param_norm_kinds.def; each row (layer.h: nl_param_norm_row) lives
 * in its kind's file. This header holds what the model spec and the config
 * need without the layer API. */
#ifndef NL_PARAM_NORM_H
#define NL_PARAM_NORM_H

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
