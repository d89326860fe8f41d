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

/* the tree's reductions, by what a running statistic of them keeps (a
 * variance unbiased, a deviation named running_std) */
typedef enum { FR_MEAN, FR_VAR, FR_STD, FR_RMS, FR_SUM } nl_formula_reduce;

/* A graph-only operation of the planner, never in a program (so past the
 * programs' own, FO_COUNT, and out of the backends' header): a word with
 * its own derivative over a composite value (clamp, detach). The node
 * stands for its value, node a, and names the call (operands, row) by k;
 * the planner differentiates it by its row, then replaces every use of
 * it by node a before it compiles the programs. */
#define FO_WORD ((nl_formula_op)FO_COUNT)

/* The names a word's derivative and body bind (formula.h): its operands
 * by position, then these */
enum { NL_WVAR_G = NL_WORD_MAX_OPERANDS, NL_WVAR_Y, NL_WVAR_P, NL_WVAR_COUNT };
/* in a word's formula, the axis list [axes]: the call's own axes */
#define NL_FORMULA_CALL_AXES (1u << 31)

typedef enum {
    FT_NUM,
    FT_X,
    FT_EPS,
    FT_PARAM, /* value: the parameter's index */
    FT_UNARY, /* op, a: unary minus */
    FT_BINARY, /* op, a, b: + - * / */
    FT_POW,   /* a ^ value (or ^ the constant tree `exponent`, in a word's formula) */
    FT_REDUCE, /* word (a reduction), reduce, over axes (bits 1u << NL_AXIS_*), a */
    FT_RUNNING, /* a; value: the statistic's start (init_given: written as init=) */
    FT_CALL,  /* word (a function): its values a (and b), its constants consts[] */
    FT_VAR,   /* in a word's formula: the bound name param (an operand, NL_WVAR_*) */
} nl_formula_tree_kind;

typedef struct {
    nl_formula_tree_kind kind;
    nl_formula_op op;
    nl_formula_reduce reduce;
    unsigned axes;
    int a, b;
    float value;
    int param;
    int word;        /* FT_CALL, FT_REDUCE: the row of nl_formula_words */
    float consts[2]; /* FT_CALL: its constant operands (clamp's lo, hi) */
    int exponent;    /* FT_POW in a word's formula: the exponent's tree (0: value) */
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

/* ---- the graph compiled into programs (formula_passes.c) ---- */
/* a value the size of the input (recomputed row by row, never held) */
bool nl_fgraph_is_row(const nl_fgraph *g, int i, nl_fshape full);
/* held in memory by a program: a small node but the parameters and
 * running statistics (the io holds them) */
bool nl_fgraph_is_held(const nl_fgraph *g, int i, nl_fshape full);
/* the floats a small value of shape s has on the input */
size_t nl_fshape_count(nl_fshape s, const nl_formula_input *in);
/* the program that computes `output` and the `extra` small values, given
 * the nodes `known` already holds (NULL: none); false when out of memory */
bool nl_fgraph_compile(nl_fgraph *g, const nl_formula_input *in, nl_fshape full, int output,
                       const int *extra, int n_extra, const bool *known, nl_fprogram *prog);
void nl_fprogram_free(nl_fprogram *p);

/* The formula of row `word`: which 0, 1 its derivative by that value
 * operand, 2 its body; parsed by the parser of model.norm.expr with the
 * row's bound names and the internal words. *out NULL where the row has
 * no such formula. An error is a bug of the table, named by its row. */
nl_code nl_formula_parse_word(int word, int which, nl_formula **out, nl_error *err);

/* A running statistic's start where running(r) names none (the node r,
 * a reduction): 1 for a spread (var, std, rms) and for a mean or sum of
 * squares or magnitudes (u^p with p even, u * u, abs(u)), as PyTorch
 * starts running_var and PowerNorm its running quadratic mean; 0 for
 * any other mean or sum, as PyTorch starts running_mean. */
float nl_formula_running_default(const nl_formula *f, int r);

#endif
