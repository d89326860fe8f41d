/* The mutation operators of a formula search (norm/formula_edit.h, issue
 * 117): edits of a parsed tree, one row each. The words they write are
 * drawn from the vocabulary's rows by arity (a word is offered the moment
 * its row exists), the axes from the ones the options allow. An edit works
 * on a copy of the parent's tree: it may move a node into a fresh slot and
 * write a new node in its place (a wrap), copy a node over its parent (a
 * removal) or point two operands at one subtree (u - mean(u, ...)); the
 * printer writes the result as text and the parser makes it a tree again,
 * which is the only way a mutant comes out, so that every mutant is a
 * formula the parser accepts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "norm/formula_edit.h"
#include "norm/formula_internal.h"

/* the edits one mutation tries before it gives up (a wrap that makes the
 * text too long, a reduction's axes running(...) cannot keep) */
#define ATTEMPTS 8
/* one in EPS_ONE_IN binary insertions adds eps, the others a reduction */
#define EPS_ONE_IN 5

typedef struct {
    nl_formula *w; /* the copy being edited */
    const nl_formula *other;
    nl_rng *rng;
    unsigned axes;
} edit;

static int draw(nl_rng *rng, int n) { return n > 0 ? (int)nl_rng_below(rng, (uint32_t)n) : 0; }

static int add_node(nl_formula *w, nl_formula_tree t)
{
    if (w->count >= NL_FORMULA_MAX_TREE)
        return -1;
    w->tree[w->count] = t;
    return w->count++;
}

static bool has_a(const nl_formula_tree *t)
{
    return t->kind == FT_UNARY || t->kind == FT_BINARY || t->kind == FT_POW ||
           t->kind == FT_REDUCE || t->kind == FT_RUNNING || t->kind == FT_CALL;
}

static bool has_b(const nl_formula_tree *t)
{
    return (t->kind == FT_BINARY || t->kind == FT_CALL) && t->b >= 0;
}

/* the nodes under i (i first), into out; returns the new count */
static int subtree(const nl_formula *f, int i, int *out, int n)
{
    if (n >= NL_FORMULA_MAX_TREE)
        return n;
    out[n++] = i;
    const nl_formula_tree *t = &f->tree[i];
    if (has_a(t) && t->a >= 0)
        n = subtree(f, t->a, out, n);
    if (has_b(t))
        n = subtree(f, t->b, out, n);
    return n;
}

/* ---- the rows by arity ---- */

typedef enum { ARITY_NONE, ARITY_UNARY, ARITY_BINARY, ARITY_REDUCTION } arity;

/* a row's arity as a replacement sees it: a power (its exponent) and a
 * word with constant operands (clamp's range) are no one's replacement */
static arity row_arity(const nl_formula_word *w)
{
    const int n = nl_formula_word_operands(w);
    switch (w->kind) {
    case NL_WORD_OPERATOR:
        return w->op == FO_POW ? ARITY_NONE : n == 2 ? ARITY_BINARY : ARITY_UNARY;
    case NL_WORD_FUNCTION:
        return w->constants ? ARITY_NONE : n == 2 ? ARITY_BINARY : n == 1 ? ARITY_UNARY : ARITY_NONE;
    case NL_WORD_REDUCTION:
        return ARITY_REDUCTION;
    default:
        return ARITY_NONE;
    }
}

/* the row a node spells, or -1 (x, numbers, powers, running) */
static int row_of_node(const nl_formula_tree *t)
{
    if (t->kind == FT_CALL || t->kind == FT_REDUCE)
        return t->word;
    if (t->kind != FT_BINARY && t->kind != FT_UNARY)
        return -1;
    const int operands = t->kind == FT_BINARY ? 2 : 1;
    for (int i = 0; i < nl_formula_word_count; i++) {
        const nl_formula_word *w = &nl_formula_words[i];
        if (w->kind == NL_WORD_OPERATOR && (int)w->op == (int)t->op &&
            nl_formula_word_operands(w) == operands)
            return i;
    }
    return -1;
}

static arity node_arity(const nl_formula_tree *t)
{
    const int row = row_of_node(t);
    return row < 0 ? ARITY_NONE : row_arity(&nl_formula_words[row]);
}

/* a row of arity `a` other than `except`, drawn; -1 when there is none */
static int draw_row(nl_rng *rng, arity a, int except)
{
    int rows[64], n = 0;
    for (int i = 0; i < nl_formula_word_count && n < 64; i++)
        if (i != except && row_arity(&nl_formula_words[i]) == a)
            rows[n++] = i;
    return n ? rows[draw(rng, n)] : -1;
}

/* row's node over operands a (and b), a reduction over `axes` */
static nl_formula_tree node_of_row(int row, int a, int b, unsigned axes)
{
    const nl_formula_word *w = &nl_formula_words[row];
    const bool two = nl_formula_word_operands(w) == 2;
    nl_formula_tree t = {.a = a, .b = two ? b : -1, .col = 1};
    if (w->kind == NL_WORD_OPERATOR) {
        t.kind = two ? FT_BINARY : FT_UNARY;
        t.op = (nl_formula_op)w->op;
    } else {
        t.kind = w->kind == NL_WORD_REDUCTION ? FT_REDUCE : FT_CALL;
        t.word = row;
        t.axes = axes;
    }
    return t;
}

/* a non-empty set of the allowed axes, other than `except` where another exists */
static unsigned draw_axes(edit *e, unsigned except)
{
    int bits[NL_AXIS_COUNT], n = 0;
    for (int i = 0; i < NL_AXIS_COUNT; i++)
        if (e->axes & (1u << i))
            bits[n++] = i;
    unsigned set = 0;
    for (int tries = 0; tries < 16 && (set == 0 || set == except); tries++) {
        set = 0;
        const uint32_t pick = 1 + nl_rng_below(e->rng, (1u << n) - 1);
        for (int k = 0; k < n; k++)
            if (pick & (1u << k))
                set |= 1u << bits[k];
    }
    return set;
}

/* a drawn node of the working tree that `keep` accepts, or -1 */
static int draw_site(edit *e, bool (*keep)(const nl_formula_tree *))
{
    int nodes[NL_FORMULA_MAX_TREE], sites[NL_FORMULA_MAX_TREE], n = 0;
    const int all = subtree(e->w, e->w->root, nodes, 0);
    for (int i = 0; i < all; i++)
        if (!keep || keep(&e->w->tree[nodes[i]]))
            sites[n++] = nodes[i];
    return n ? sites[draw(e->rng, n)] : -1;
}

/* node `site` moved to a fresh slot, whose index is returned (-1: full) */
static int move_out(nl_formula *w, int site) { return add_node(w, w->tree[site]); }

/* ---- the operators ---- */

static bool replaceable(const nl_formula_tree *t) { return node_arity(t) != ARITY_NONE; }

/* an operation replaced by another of its arity: + by *, exp by tanh,
 * mean by var (the axes kept) */
static bool op_operation(edit *e)
{
    const int site = draw_site(e, replaceable);
    if (site < 0)
        return false;
    const nl_formula_tree was = e->w->tree[site];
    const int row = draw_row(e->rng, node_arity(&was), row_of_node(&was));
    if (row < 0)
        return false;
    e->w->tree[site] = node_of_row(row, was.a, was.b, was.axes);
    return true;
}

/* u becomes f(u), f a function of one value */
static bool op_insert_unary(edit *e)
{
    const int site = draw_site(e, NULL), row = draw_row(e->rng, ARITY_UNARY, -1);
    const int moved = site >= 0 ? move_out(e->w, site) : -1;
    if (moved < 0 || row < 0)
        return false;
    e->w->tree[site] = node_of_row(row, moved, -1, 0);
    return true;
}

static bool unary(const nl_formula_tree *t)
{
    return t->kind == FT_UNARY || t->kind == FT_POW || t->kind == FT_RUNNING ||
           (t->kind == FT_CALL && t->a >= 0 && t->b < 0);
}

/* f(u) becomes u: a function of one value, a power, unary minus or running */
static bool op_remove_unary(edit *e)
{
    const int site = draw_site(e, unary);
    if (site < 0)
        return false;
    e->w->tree[site] = e->w->tree[e->w->tree[site].a];
    return true;
}

/* u becomes u OP r(v, [axes]), v within u and r a reduction (or u OP eps):
 * the step that makes a statistic of what a formula without one computes
 * (x - mean(x, [batch, spatial]), x / rms(x, [channels])) */
static bool op_insert_binary(edit *e)
{
    const int site = draw_site(e, NULL), row = draw_row(e->rng, ARITY_BINARY, -1);
    const int moved = site >= 0 ? move_out(e->w, site) : -1;
    if (moved < 0 || row < 0)
        return false;
    int inside[NL_FORMULA_MAX_TREE];
    const int n = subtree(e->w, moved, inside, 0);
    int other;
    if (draw(e->rng, EPS_ONE_IN) == 0) {
        other = add_node(e->w, (nl_formula_tree){.kind = FT_EPS, .col = 1});
    } else {
        const int v = inside[draw(e->rng, n)], reduction = draw_row(e->rng, ARITY_REDUCTION, -1);
        other = reduction < 0 ? -1 : add_node(e->w, node_of_row(reduction, v, -1, draw_axes(e, 0)));
    }
    if (other < 0)
        return false;
    e->w->tree[site] = node_of_row(row, moved, other, 0);
    return true;
}

static bool reduction(const nl_formula_tree *t) { return t->kind == FT_REDUCE; }

/* a reduction over other axes (of those the input has) */
static bool op_axes(edit *e)
{
    const int site = draw_site(e, reduction);
    if (site < 0)
        return false;
    const unsigned axes = draw_axes(e, e->w->tree[site].axes);
    if (axes == e->w->tree[site].axes)
        return false;
    e->w->tree[site].axes = axes;
    return true;
}

/* the parameters a search adds: a gain per channel that multiplies, a
 * shift per channel that is added (gamma * u, u + beta) */
static const struct {
    const char *name;
    float init;
    nl_formula_op op;
} param_roles[] = {{"gamma", 1.0f, FO_MUL}, {"beta", 0.0f, FO_ADD}};
enum { N_ROLES = (int)(sizeof param_roles / sizeof param_roles[0]) };

static int param_named(const nl_formula *f, const char *name)
{
    for (int k = 0; k < f->n_params; k++)
        if (!strcmp(f->params[k].name, name))
            return k;
    return -1;
}

/* declares a parameter like p under p's name, or its name with the first
 * free number after it (gamma2); its index, or -1 when the formula has
 * NL_FORMULA_MAX_PARAMS */
static int declare(nl_formula *w, nl_formula_param p)
{
    if (w->n_params >= NL_FORMULA_MAX_PARAMS)
        return -1;
    char name[sizeof p.name];
    snprintf(name, sizeof name, "%s", p.name);
    for (int n = 2; n < 100 && param_named(w, name) >= 0; n++)
        snprintf(name, sizeof name, "%.16s%d", p.name, n);
    if (param_named(w, name) >= 0)
        return -1;
    snprintf(p.name, sizeof p.name, "%s", name);
    w->params[w->n_params] = p;
    return w->n_params++;
}

static int declare_role(nl_formula *w, int role)
{
    nl_formula_param p = {.kind = NL_PARAM_CHANNEL, .init = param_roles[role].init};
    snprintf(p.name, sizeof p.name, "%s", param_roles[role].name);
    return declare(w, p);
}

static bool parameter(const nl_formula_tree *t) { return t->kind == FT_PARAM; }

/* one parameter read in place of another: another declared one, or a new
 * one of a drawn role (a gain read where a shift was) */
static bool swap_param(edit *e, int site)
{
    nl_formula *w = e->w;
    const int was = w->tree[site].param, pick = draw(e->rng, w->n_params);
    int k = pick == was ? -1 : pick; /* drawing `was` asks for a new one */
    if (k < 0)
        k = declare_role(w, draw(e->rng, N_ROLES));
    if (k < 0)
        return false;
    w->tree[site].param = k;
    return true;
}

/* a parameter per channel added (gamma * u, u + beta), or one swapped */
static bool op_param(edit *e)
{
    const int read = draw_site(e, parameter);
    if (read >= 0 && draw(e->rng, 2) == 0)
        return swap_param(e, read);
    const int role = draw(e->rng, N_ROLES), site = draw_site(e, NULL);
    const int k = declare_role(e->w, role), moved = site >= 0 ? move_out(e->w, site) : -1;
    const int p = add_node(e->w, (nl_formula_tree){.kind = FT_PARAM, .param = k, .col = 1});
    if (k < 0 || moved < 0 || p < 0)
        return false;
    const bool gain = param_roles[role].op == FO_MUL;
    e->w->tree[site] = (nl_formula_tree){.kind = FT_BINARY, .op = param_roles[role].op,
                                         .a = gain ? p : moved, .b = gain ? moved : p, .col = 1};
    return true;
}

/* other's node j and what is under it copied into w, its parameters
 * mapped onto w's of the same name and kind (declared where w lacks one);
 * the copy's index, or -1 when w is full */
static int copy_in(nl_formula *w, const nl_formula *other, int j)
{
    nl_formula_tree t = other->tree[j];
    if (has_a(&t) && t.a >= 0 && (t.a = copy_in(w, other, t.a)) < 0)
        return -1;
    if (has_b(&t) && (t.b = copy_in(w, other, t.b)) < 0)
        return -1;
    if (t.kind == FT_PARAM) {
        const nl_formula_param *p = &other->params[t.param];
        const int same = param_named(w, p->name);
        const bool fits = same >= 0 && w->params[same].kind == p->kind &&
                          w->params[same].init == p->init;
        if ((t.param = fits ? same : declare(w, *p)) < 0)
            return -1;
    }
    return add_node(w, t);
}

/* a subtree replaced by one of the second parent's */
static bool op_crossover(edit *e)
{
    const int site = draw_site(e, NULL);
    int nodes[NL_FORMULA_MAX_TREE];
    const int n = subtree(e->other, e->other->root, nodes, 0);
    const int copy = site >= 0 ? copy_in(e->w, e->other, nodes[draw(e->rng, n)]) : -1;
    if (copy < 0)
        return false;
    e->w->tree[site] = e->w->tree[copy];
    return true;
}

typedef bool (*apply_fn)(edit *e);
static const apply_fn applies[] = {op_operation, op_insert_unary,  op_remove_unary, op_insert_binary,
                                   op_axes,      op_param,         op_crossover};

const nl_formula_mutation nl_formula_mutations[] = {
    {"operation", "an operation replaced by another word of its arity (+ by *, exp by tanh, mean "
                  "by var)", false},
    {"insert_unary", "u becomes f(u), f a function of one value (or unary minus)", false},
    {"remove_unary", "f(u) becomes u: a function of one value, a power, unary minus or running", false},
    {"insert_binary", "u becomes u OP r(v, [axes]) with v within u and r a reduction, or u OP eps",
     false},
    {"axes", "a reduction over other axes of the input", false},
    {"param", "a parameter per channel added (gamma * u or u + beta), or one read in place of "
              "another", false},
    {"crossover", "a subtree replaced by a subtree of a second parent", true},
};
const int nl_formula_mutation_count = (int)(sizeof nl_formula_mutations / sizeof nl_formula_mutations[0]);
_Static_assert(sizeof applies / sizeof applies[0] ==
                   sizeof nl_formula_mutations / sizeof nl_formula_mutations[0],
               "one edit per mutation row");

nl_code nl_formula_mutate(int m, const nl_formula *parent, const nl_formula *other, nl_rng *rng,
                          const nl_formula_mutate_options *opt, nl_formula **out, nl_error *err)
{
    *out = NULL;
    nl_formula *w = malloc(sizeof *w);
    char *expr = malloc(NL_FORMULA_MAX_TEXT + 1), *params = malloc(NL_FORMULA_MAX_PARAMS_TEXT + 1);
    nl_code rc = w && expr && params ? NL_ERR_UNSUPPORTED : nl_fail(err, NL_ERR_NOMEM, "out of memory");
    const unsigned axes = opt && opt->axes ? opt->axes : (1u << NL_AXIS_BATCH) | (1u << NL_AXIS_CHANNELS);
    edit e = {.w = w, .other = other ? other : parent, .rng = rng, .axes = axes};
    nl_error last = {0};
    bool site = false;
    for (int attempt = 0; rc == NL_ERR_UNSUPPORTED && attempt < ATTEMPTS; attempt++) {
        *w = *parent;
        if (!applies[m](&e))
            continue;
        site = true;
        last = (nl_error){0};
        if (nl_formula_print(w, expr, NL_FORMULA_MAX_TEXT + 1, params, NL_FORMULA_MAX_PARAMS_TEXT + 1,
                             &last) == NL_OK &&
            nl_formula_parse(expr, params, out, &last) == NL_OK)
            rc = NL_OK;
    }
    if (rc == NL_ERR_UNSUPPORTED)
        nl_fail(err, rc, "%s: %s", nl_formula_mutations[m].name,
                site ? last.msg : "no site in the formula it applies to");
    free(w);
    free(expr);
    free(params);
    return rc;
}
