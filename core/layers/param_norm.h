/* Parameter normalizers: transforms of a linear or conv weight applied
 * before the layer uses it, forward and backward (weight standardization,
 * weight normalization, spectral normalization). The kinds are listed once,
 * in layers/param_norm_kinds.def; each row lives in its kind's file, and
 * param_norm.c tables them and makes the calls the weight layers (linear.c,
 * conv2d.c) make. Their kinds and settings alone: layers/param_norm_spec.h. */
#ifndef NL_PARAM_NORM_H
#define NL_PARAM_NORM_H

#include "layers/layer.h"
#include "layers/param_norm_spec.h"

/* A transform of a linear or conv weight, seen as (units, fan_in): units
 * output units (channels) of fan_in inputs each. A layer holds one
 * nl_param_norm: its row and the state the row planned at build time. */
typedef struct nl_param_norm nl_param_norm;

typedef struct {
    nl_name_entry id; /* first: nl_param_norm_names walks the rows */
    /* declares the row's parameters, saved tensors and workspace for the
     * layer's `weight` (its name, "<layer>.weight", names the row's own
     * parameters); NULL: the weight is used as it is */
    void (*plan)(nl_builder *b, nl_param_norm *pn, nl_param *weight,
                 const nl_param_norm_spec *spec);
    /* writes the weight the layer uses, pn->weight, from its parameter */
    void (*forward)(nl_param_norm *pn, const nl_pass *pass, const nl_param *weight);
    /* from dL/d(pn->weight) in pn->grad: weight->grad written, and the
     * row's own parameters' gradients */
    void (*backward)(nl_param_norm *pn, const nl_pass *pass, nl_param *weight);
    /* optional, model.param_norm.data_init: given the per-unit mean and
     * (biased) std of the layer's outputs over a batch, rescales the row's
     * parameters and the layer's bias (NULL: none) so that those outputs
     * would have zero mean and unit variance; a unit of std 0 is left */
    nl_code (*data_init)(nl_param_norm *pn, nl_backend *be, const double *mean,
                         const double *std, nl_param *bias, nl_error *err);
    /* optional, train.log.weight_stats: the device float holding the
     * scalar the row estimated in the last forward (spectral
     * normalization's sigma), logged beside the weight's exact value */
    const float *(*estimate)(const nl_param_norm *pn);
} nl_param_norm_row;

/* the fixed floats a row may upload once (nl_builder_constant) */
#define NL_PARAM_NORM_CONSTANTS 4
/* the row's own state, device buffers and norm geometries, beyond the
 * shared ones below: slots a row fills as it needs, so that a new row
 * needs no new member here */
#define NL_PARAM_NORM_STATES 2
#define NL_PARAM_NORM_BUFFERS 6
#define NL_PARAM_NORM_GEOMS 3

struct nl_param_norm {
    const nl_param_norm_row *row;
    int units, fan_in;
    /* the row's state, planned by its plan (NULL where a row has none) */
    nl_norm_geom geom;       /* the norm family's view of the weight */
    float *weight;           /* the weight the layer's kernels use */
    float *grad;             /* dL/d(weight), which backward chains back */
    float *save_mean, *save_rstd;
    nl_param *gain;          /* a learned per-unit gain (weight normalization's g) */
    float host_constants[NL_PARAM_NORM_CONSTANTS];
    float *constants;        /* host_constants on the device */
    /* layer state kept across steps, checkpointed, not trained
     * (spectral normalization's u, v) */
    nl_state *state[NL_PARAM_NORM_STATES];
    float *buffer[NL_PARAM_NORM_BUFFERS];   /* the row's scratch and saved values */
    nl_norm_geom row_geom[NL_PARAM_NORM_GEOMS];
    int iterations;          /* a count the row takes from its spec */
};

/* the row of a kind */
const nl_param_norm_row *nl_param_norm_row_of(nl_param_norm_kind kind);
/* pn for `weight` of (units, fan_in) under spec (NULL: none) */
void nl_param_norm_plan(nl_builder *b, nl_param_norm *pn, nl_param *weight, int units,
                        int fan_in, const nl_param_norm_spec *spec);
/* the weight the layer's kernels use this pass (the parameter itself under none) */
const float *nl_param_norm_forward(nl_param_norm *pn, const nl_pass *pass, const nl_param *weight);
/* the weight the forward used, for the layer's backward: the transform
 * keeps it for this pass */
const float *nl_param_norm_used(const nl_param_norm *pn, const nl_param *weight);
/* where the layer's backward writes its weight gradient */
float *nl_param_norm_grad(nl_param_norm *pn, nl_param *weight);
/* after the layer's backward: weight->grad and the row's parameters' gradients */
void nl_param_norm_backward(nl_param_norm *pn, const nl_pass *pass, nl_param *weight);
/* the kind of pn's row */
nl_param_norm_kind nl_param_norm_kind_of(const nl_param_norm *pn);

#endif
