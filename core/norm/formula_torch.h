/* A formula normalizer (model.norm.type expr) as a self-contained PyTorch
 * nn.Module (`normlab export torch`): Python generated from the parsed
 * tree, never from the formula's text, so that every name in it is one
 * this file chose (the class from model.norm.name, the parameters from
 * their declared names made safe), and every number is printed exactly.
 *
 * The module keeps normlab's semantics (norm/formula.h, expr.c): a value is
 * held as (N, G, C/G, P) (batch, channel groups, the channels of a group,
 * positions); a reduction over channels reduces each group's channels;
 * var is the biased variance; running(r) is the batch's r in training,
 * which updates a buffer by the momentum (a variance kept unbiased, a
 * variance, deviation or RMS starting at 1, a mean or sum at 0, momentum
 * null as a plain average over num_batches_tracked), and the buffer in
 * evaluation. Inputs (N, C) features, (N, T, C) tokens, (N, C, H, W)
 * images. Library code. */
#ifndef NL_NORM_FORMULA_TORCH_H
#define NL_NORM_FORMULA_TORCH_H

#include <stdbool.h>

#include "log/files.h"
#include "norm/formula.h"

typedef struct {
    const char *name; /* model.norm.name; "" or NULL: the class is ExprNorm */
    float eps;        /* model.norm.eps */
    float momentum;   /* model.norm.momentum, unless cumulative */
    bool cumulative;  /* momentum null: a plain average */
    int groups;       /* model.norm.groups: the constructor's default */
} nl_formula_torch_spec;

/* the module's Python source appended to out; the class's name into
 * class_name (when not NULL) */
nl_code nl_formula_torch(const nl_formula *f, const nl_formula_torch_spec *spec, nl_buf *out,
                         char *class_name, size_t class_size, nl_error *err);

#endif
