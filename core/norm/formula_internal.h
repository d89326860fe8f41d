/* The formula's parsed tree, shared by its parser (formula_parse.c) and the
 * planner that lowers it onto a layer (formula_plan.c). Internal to
 * core/norm. */
#ifndef NL_NORM_FORMULA_INTERNAL_H
#define NL_NORM_FORMULA_INTERNAL_H

#include "norm/formula.h"

/* The first error of a pass over the formula (its parse, its lowering onto
 * a layer): NL_ERR_CONFIG naming model.norm.expr and the 1-based column;
 * *failed set, and a later error of the pass dropped. */
void nl_formula_fail(nl_error *err, bool *failed, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* the tree's reductions */
typedef enum { FR_MEAN, FR_VAR, FR_STD, FR_RMS, FR_SUM } nl_formula_reduce;

typedef enum {
    FT_NUM,
    FT_X,
    FT_EPS,
    FT_PARAM, /* value: the parameter's index */
    FT_UNARY, /* op, a */
    FT_BINARY, /* op, a, b */
    FT_POW,   /* a ^ value */
    FT_REDUCE, /* reduce over axes (bits 1u << NL_AXIS_*), a */
    FT_RUNNING, /* a; value: the statistic's start (init_given: written as init=) */
} nl_formula_tree_kind;

typedef struct {
    nl_formula_tree_kind kind;
    nl_formula_op op;
    nl_formula_reduce reduce;
    unsigned axes;
    int a, b;
    float value;
    int param;
    int col; /* 1-based, in model.norm.expr */
    bool init_given; /* FT_RUNNING: running(r, init=value) */
} nl_formula_tree;

struct nl_formula {
    char text[NL_FORMULA_MAX_TEXT + 1];
    nl_formula_tree tree[NL_FORMULA_MAX_TREE];
    int count, root;
    nl_formula_param params[NL_FORMULA_MAX_PARAMS];
    int n_params;
    int n_running;
};

/* A running statistic's start where running(r) names none (the node r,
 * a reduction): 1 for a spread (var, std, rms) and for a mean or sum of
 * squares or magnitudes (u^p with p even, u * u, abs(u)), as PyTorch
 * starts running_var and PowerNorm its running quadratic mean; 0 for
 * any other mean or sum, as PyTorch starts running_mean. */
float nl_formula_running_default(const nl_formula *f, int r);

#endif
