/* The formula's parsed tree, shared by its parser (formula_parse.c) and the
 * planner that lowers it onto a layer (formula_plan.c). Internal to
 * core/norm. */
#ifndef NL_NORM_FORMULA_INTERNAL_H
#define NL_NORM_FORMULA_INTERNAL_H

#include "norm/formula.h"

/* the operations of the value graph; the tree uses the elementwise ones
 * and the reductions' kinds */
typedef enum {
    FO_CONST,
    FO_X,
    FO_DY,
    FO_PARAM,
    FO_STATE, /* a running statistic (evaluation) */
    FO_ADD,
    FO_SUB,
    FO_MUL,
    FO_DIV,
    FO_NEG,
    FO_POW, /* a constant exponent */
    FO_SQRT,
    FO_RSQRT,
    FO_EXP,
    FO_LOG,
    FO_TANH,
    FO_SIGMOID,
    FO_ERF,
    FO_ABS,
    FO_RELU,
    FO_MIN,
    FO_MAX,
    /* derivatives' own: 1 where a > 0; the sign of a; the share of d min
     * (a, b) that a takes (1, 1/2 at a tie as torch.minimum, 0) */
    FO_STEP,
    FO_SIGN,
    FO_TAKES_MIN,
    FO_SUM,      /* a reduction: node.a over the axes node.t lacks */
    FO_MEAN,
    FO_INVCOUNT, /* 1 / the values one of a MEAN's outputs averages */
    FO_COUNT
} nl_formula_op;

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
    FT_RUNNING, /* a */
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
} nl_formula_tree;

struct nl_formula {
    char text[NL_FORMULA_MAX_TEXT + 1];
    nl_formula_tree tree[NL_FORMULA_MAX_TREE];
    int count, root;
    nl_formula_param params[NL_FORMULA_MAX_PARAMS];
    int n_params;
    int n_running;
};

/* ---- the value graph and its programs (formula_plan.c makes them,
 * formula_run.c runs them) ---- */

/* the axes a value keeps: batch and positions kept (1) or reduced (0);
 * channels all (FC_ALL), in model.norm.groups groups (FC_GROUPS) or
 * reduced (FC_ONE) */
enum { FC_ONE, FC_GROUPS, FC_ALL };
typedef struct {
    unsigned char b, c, p;
} nl_fshape;

typedef struct {
    nl_formula_op op;
    nl_fshape s;
    /* reductions: the input's shape as the sum sees it (l; a gradient's
     * sum reads a value broadcast to l) and the shape asked for (t; the
     * value is s, which is t or coarser where the input is) */
    nl_fshape l, t;
    int a, b;
    float v; /* FO_CONST's value, FO_POW's exponent */
    int k;   /* FO_PARAM's parameter, FO_STATE's running statistic */
} nl_fnode;

/* an operand of a row instruction */
typedef enum {
    OPD_NONE,
    OPD_X,      /* the input's row */
    OPD_DY,     /* the output gradient's row */
    OPD_REG,    /* a row register */
    OPD_SCALAR, /* a small value constant along the row */
} nl_fopd_kind;

typedef struct {
    nl_fopd_kind kind;
    int index; /* register, or small node */
} nl_fopd;

typedef enum {
    RI_OP,     /* dst = op(a, b) */
    RI_GATHER, /* dst = the small node's values along the row */
    RI_REDUCE, /* accumulate a into reduction node `node` */
    RI_STORE,  /* the output's row = a */
} nl_frow_kind;

typedef struct {
    nl_frow_kind kind;
    nl_formula_op op;
    int dst;
    nl_fopd a, b;
    float v;
    int node; /* RI_GATHER's small node, RI_REDUCE's reduction */
} nl_frow;

typedef struct {
    int first, count; /* its row instructions */
    int registers;
} nl_fpass;

/* a running statistic: the reduction training takes it from, and whether
 * it is a variance (kept unbiased: count / (count - 1), count the values
 * the variance's mean averages, that mean being node `mean`) */
typedef struct {
    int source, mean;
    bool variance;
} nl_frunning;

typedef struct {
    /* small nodes computed by this program, in order, each at its level
     * (before pass `level`; level == passes: after the last) */
    int *small, *small_level, n_small;
    nl_fpass *passes;
    int n_passes;
    nl_frow *rows;
    int n_rows;
    int registers; /* the most any pass uses */
    int output; /* the node stored (y or dx) */
    /* backward: each parameter's gradient node (-1: zero) */
    int dparam[NL_FORMULA_MAX_PARAMS];
} nl_fprogram;

typedef struct {
    nl_fnode *nodes;
    int count, cap;
    /* where each small node's values live: saved (a forward's) or the
     * workspace (a backward's own), at this float offset; -1: not held
     * (a parameter, a running statistic, or a row value) */
    long *offset;
    bool *in_saved;
    long *acc_offset; /* reductions: their accumulators (doubles) in the workspace */
    nl_fprogram forward, backward;
    bool has_backward;
} nl_fgraph;

struct nl_formula_plan {
    nl_formula_input in;
    int n_params;
    bool per_channel[NL_FORMULA_MAX_PARAMS];
    nl_fgraph train, eval;
    nl_frunning running[NL_FORMULA_MAX_RUNNING];
    int n_running;
    size_t saved_floats;
    /* the workspace: the backward's small values (floats), then the
     * reductions' accumulators (doubles), then the row registers, each
     * part as large as the larger graph's */
    size_t work_floats, acc_doubles;
    int registers;
};

/* the rows of a segment: the row interpreter's registers hold this many */
#define NL_FORMULA_SEGMENT 256

#endif
