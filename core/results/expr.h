/* Arithmetic expressions of claims (results/usage.md, "Claims and
 * verdicts"): a run's metric computed from its numbers (`metric: {expr:
 * "final_test_accuracy - final_test_trainmode_accuracy"}`), and a claim's
 * per-seed effect computed from its cells (`expect: (a - b) - (c - d) > 0`).
 * Numbers, names (letters, digits, _ and ., starting with a letter or _),
 * + - * / and parentheses, unary minus, and the functions abs, sqrt, log,
 * exp (one argument), min and max (two). What a name stands for is the
 * caller's: evaluation asks a lookup for each. Parsing is bounded (at most
 * NL_EXPR_MAX_NODES nodes, NL_EXPR_MAX_DEPTH nested levels), so no text
 * makes it recurse or allocate without limit. */
#ifndef NL_RESULTS_EXPR_H
#define NL_RESULTS_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#define NL_EXPR_MAX_NODES 64
#define NL_EXPR_MAX_DEPTH 24
#define NL_EXPR_MAX_NAMES 16
#define NL_EXPR_NAME_SIZE 96

typedef struct {
    int op;        /* an nl_expr_op */
    double value;  /* a number */
    int name;      /* a name: its index in names */
    int left, right;
} nl_expr_node;

typedef struct {
    int n, root;
    nl_expr_node nodes[NL_EXPR_MAX_NODES];
    int n_names;   /* the distinct names, in order of first use */
    char names[NL_EXPR_MAX_NAMES][NL_EXPR_NAME_SIZE];
} nl_expr;

/* Parses text into e; false with the reason (and where) when it is not an
 * expression of the form above. */
bool nl_expr_parse(const char *text, nl_expr *e, char *why, size_t size);

/* e's value, each name's from lookup(ctx, name) (NaN when it has none:
 * the result is then NaN) */
typedef double (*nl_expr_lookup)(void *ctx, const char *name);
double nl_expr_eval(const nl_expr *e, nl_expr_lookup lookup, void *ctx);

/* whether e uses the name */
bool nl_expr_uses(const nl_expr *e, const char *name);

/* whether e is min(1, max(0, X)): a per-seed value between 0 and 1 (an
 * event's indicator where X is steep), so a mean of it is a share of
 * seeds and a difference of two is one of shares, whatever unit X's
 * names carry */
bool nl_expr_is_share(const nl_expr *e);

#endif
