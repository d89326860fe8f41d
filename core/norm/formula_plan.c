/* A formula on a layer: the tree lowered onto the layer's input into a
 * graph of values, each keeping some of the axes batch, channels (or
 * channel groups) and positions; the backward derived on the same graph in
 * reverse mode; and both compiled into programs of passes over the input's
 * rows (formula_run.c runs them).
 *
 * Nodes are made once: a node asked for again is the same node (common
 * subexpressions shared), and one of constants alone is folded into a
 * constant, so the derived backward carries no 1 * g or g + 0.
 *
 * A value the size of the input (a row value) is never kept in memory: a
 * pass recomputes it from the input's row, the output gradient's row and
 * the small values, which are kept. A reduction of a row value ends a
 * pass, so a formula costs one pass over the input per level of nested
 * reductions, plus the one that writes the output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "norm/formula_compile.h"
#include "norm/formula_internal.h"

#define EXPR_KEY "model.norm.expr"
/* the nodes one layer's graphs may hold (the tree's limit bounds a
 * formula; its derivative stays well within this) */
#define MAX_NODES 4096

typedef struct {
    nl_fgraph *g;
    const nl_formula *f;
    nl_formula_input in;
    nl_fshape full;
    float eps;
    bool eval;
    nl_error *err;
    nl_frunning *running; /* the training graph records its running statistics */
    int n_running;
    bool failed;
    /* lowering a word's formula (its body, a derivative): the nodes its
     * bound names stand for (formula_internal.h, NL_WVAR_*), p's value,
     * the call's axes, and the node differentiated (invcount's mean) */
    const int *env;
    float p;
    unsigned call_axes;
    int diff_node;
    /* each row's derivatives and body (3 per row), parsed once per graph */
    nl_formula **parsed;
    /* the calls of words with their own derivative (FO_WORD's k): the
     * row, and its operands' nodes */
    struct {
        int word;
        int args[NL_WORD_MAX_OPERANDS];
    } calls[NL_FORMULA_MAX_TREE];
    int n_calls;
} lowering;

/* ---- shapes ---- */

static nl_fshape shape_max(nl_fshape a, nl_fshape b)
{
    return (nl_fshape){a.b > b.b ? a.b : b.b, a.c > b.c ? a.c : b.c, a.p > b.p ? a.p : b.p};
}

static nl_fshape shape_min(nl_fshape a, nl_fshape b)
{
    return (nl_fshape){a.b < b.b ? a.b : b.b, a.c < b.c ? a.c : b.c, a.p < b.p ? a.p : b.p};
}

static bool shape_eq(nl_fshape a, nl_fshape b) { return a.b == b.b && a.c == b.c && a.p == b.p; }

/* ---- nodes ---- */

static int node_make(nl_fgraph *g, nl_fnode n, bool *failed)
{
    for (int i = 0; i < g->count; i++) {
        const nl_fnode *o = &g->nodes[i];
        if (o->op == n.op && o->a == n.a && o->b == n.b && o->k == n.k &&
            !memcmp(&o->v, &n.v, sizeof n.v) && shape_eq(o->s, n.s) && shape_eq(o->l, n.l) &&
            shape_eq(o->t, n.t))
            return i;
    }
    if (g->count >= MAX_NODES) {
        *failed = true;
        return 0;
    }
    if (g->count == g->cap) {
        const int cap = g->cap ? 2 * g->cap : 64;
        nl_fnode *grown = realloc(g->nodes, (size_t)cap * sizeof *grown);
        if (!grown) {
            *failed = true;
            return 0;
        }
        g->nodes = grown;
        g->cap = cap;
    }
    g->nodes[g->count] = n;
    return g->count++;
}

typedef struct {
    nl_fgraph *g;
    bool failed;
    /* an operation of the formula without a derivative rule (-1: none):
     * an error, never a silent zero gradient */
    int no_rule;
} builder;

static int constant(builder *B, float v)
{
    return node_make(B->g, (nl_fnode){.op = FO_CONST, .v = v, .a = -1, .b = -1, .k = -1}, &B->failed);
}

static bool is_const(const builder *B, int i, float v)
{
    const nl_fnode *n = &B->g->nodes[i];
    return n->op == FO_CONST && n->v == v;
}

static int unary(builder *B, nl_formula_op op, int a, float v)
{
    const nl_fnode *na = &B->g->nodes[a];
    if (na->op == FO_CONST)
        return constant(B, nl_formula_apply(op, na->v, 0.0f, v));
    if (op == FO_NEG && na->op == FO_NEG)
        return na->a;
    if (op == FO_POW) {
        if (v == 1.0f)
            return a;
        if (v == 0.5f)
            return unary(B, FO_SQRT, a, 0);
        if (v == -0.5f)
            return unary(B, FO_RSQRT, a, 0);
    }
    return node_make(B->g, (nl_fnode){.op = op, .s = na->s, .a = a, .b = -1, .v = v, .k = -1},
                     &B->failed);
}

static int binary(builder *B, nl_formula_op op, int a, int b)
{
    const nl_fnode *na = &B->g->nodes[a], *nb = &B->g->nodes[b];
    if (na->op == FO_CONST && nb->op == FO_CONST)
        return constant(B, nl_formula_apply(op, na->v, nb->v, 0.0f));
    switch (op) {
    case FO_ADD:
        if (is_const(B, a, 0) && shape_eq(nb->s, shape_max(na->s, nb->s)))
            return b;
        if (is_const(B, b, 0))
            return a;
        if (nb->op == FO_NEG)
            return binary(B, FO_SUB, a, nb->a);
        break;
    case FO_SUB:
        if (is_const(B, b, 0))
            return a;
        if (is_const(B, a, 0))
            return unary(B, FO_NEG, b, 0);
        if (nb->op == FO_NEG)
            return binary(B, FO_ADD, a, nb->a);
        break;
    case FO_MUL:
        if (is_const(B, a, 1) && shape_eq(nb->s, shape_max(na->s, nb->s)))
            return b;
        if (is_const(B, b, 1))
            return a;
        if (is_const(B, a, -1))
            return unary(B, FO_NEG, b, 0);
        if (is_const(B, b, -1))
            return unary(B, FO_NEG, a, 0);
        break;
    case FO_DIV:
        if (is_const(B, b, 1))
            return a;
        break;
    default:
        break;
    }
    /* a commutative operation names its operands in one order, so that
     * a * b and b * a are one node */
    if ((op == FO_ADD || op == FO_MUL || op == FO_MIN || op == FO_MAX) && a > b) {
        const int t = a;
        a = b;
        b = t;
    }
    return node_make(B->g, (nl_fnode){.op = op, .s = shape_max(na->s, nb->s), .a = a, .b = b,
                                      .k = -1},
                     &B->failed);
}

/* a reduction of node a, seen as a value of shape l, to shape t */
static int reduction(builder *B, nl_formula_op op, int a, nl_fshape l, nl_fshape t)
{
    const nl_fshape s = shape_min(B->g->nodes[a].s, t);
    return node_make(B->g, (nl_fnode){.op = op, .s = s, .l = l, .t = t, .a = a, .b = -1, .k = -1},
                     &B->failed);
}

/* ---- lowering the tree onto the input ---- */

/* the env initializers below list every bound name */
_Static_assert(NL_WVAR_COUNT == 6, "a word's bound names: three operands, g, y, p");

static const char *input_text(int ndim)
{
    return ndim == 4 ? "images (N, C, H, W): batch, channels, spatial"
           : ndim == 3 ? "token sequences (N, T, D): batch, channels, tokens"
                       : "feature vectors (N, D): batch, channels";
}

/* the shape a reduction over `axes` leaves of a value of shape s */
static nl_fshape reduced(const lowering *L, nl_fshape s, unsigned axes)
{
    if (axes & (1u << NL_AXIS_BATCH))
        s.b = 0;
    if (axes & (1u << NL_AXIS_CHANNELS)) {
        const int grouped = L->in.groups <= 1 ? FC_ONE : L->in.groups >= L->in.c ? FC_ALL : FC_GROUPS;
        if (s.c > grouped)
            s.c = (unsigned char)grouped;
    }
    if (axes & ((1u << NL_AXIS_SPATIAL) | (1u << NL_AXIS_TOKENS)))
        s.p = 0;
    return s;
}

static int lower(lowering *L, builder *B, int t);

/* the channels a parameter of `kind` keeps on the input: per group is
 * one value where the layer has one group, and per channel where each
 * channel is its own group (as a reduction over channels in groups) */
static unsigned char param_channels(const nl_formula_input *in, nl_fshape full,
                                    nl_formula_param_kind kind)
{
    int state = nl_formula_param_kinds[kind].channels;
    if (state == FC_GROUPS)
        state = in->groups <= 1 ? FC_ONE : in->groups >= in->c ? FC_ALL : FC_GROUPS;
    return (unsigned char)(state > full.c ? full.c : state);
}

/* row `word`'s formula `which` (formula_internal.h), parsed on first use;
 * NULL where the row has none, or (L failed) it does not parse */
static const nl_formula *word_formula(lowering *L, int word, int which)
{
    nl_formula **slot = &L->parsed[3 * word + which];
    if (!*slot && nl_formula_parse_word(word, which, slot, L->err) != NL_OK)
        L->failed = true;
    return *slot;
}

/* a word's formula lowered with its names bound to env's nodes, and
 * [axes] to `axes` */
static int lower_word(lowering *L, builder *B, const nl_formula *wf, const int *env,
                      unsigned axes)
{
    const nl_formula *f = L->f;
    const int *outer = L->env;
    const unsigned outer_axes = L->call_axes;
    L->f = wf, L->env = env, L->call_axes = axes;
    const int r = lower(L, B, wf->root);
    L->f = f, L->env = outer, L->call_axes = outer_axes;
    return r;
}

static int lower_reduce(lowering *L, builder *B, const nl_formula_tree *t, int *mean_of_var)
{
    const unsigned has = (1u << NL_AXIS_BATCH) | (1u << NL_AXIS_CHANNELS) |
                         (L->in.ndim == 4 ? 1u << NL_AXIS_SPATIAL
                          : L->in.ndim == 3 ? 1u << NL_AXIS_TOKENS
                                            : 0u);
    const unsigned axes = t->axes & NL_FORMULA_CALL_AXES ? L->call_axes : t->axes;
    if (axes & ~has) {
        char lacking[64];
        nl_name_set_text(&nl_norm_axis_names, axes & ~has, lacking, sizeof lacking);
        nl_formula_fail(L->err, &L->failed, t->col, "the reduction names %s, but this layer's "
                        "input, %s, has no such axis", lacking, input_text(L->in.ndim));
        return 0;
    }
    const int u = lower(L, B, t->a);
    if (L->failed || B->failed)
        return 0;
    const nl_formula_word *w = &nl_formula_words[t->word];
    const nl_fshape s = B->g->nodes[u].s;
    if (w->op >= 0)
        return reduction(B, (nl_formula_op)w->op, u, s, reduced(L, s, axes));
    const nl_formula *body = word_formula(L, t->word, 2);
    const int env[NL_WVAR_COUNT] = {u, -1, -1, -1, -1, -1};
    const int r = body ? lower_word(L, B, body, env, axes) : 0;
    /* a running variance is kept unbiased by the count its mean averages */
    if (mean_of_var && !L->failed && !B->failed && (t->reduce == FR_VAR || t->reduce == FR_STD))
        *mean_of_var = t->reduce == FR_VAR ? r : B->g->nodes[r].a;
    return r;
}

/* a function word: its operation on its operands, or its body over them
 * (with a stand-in that names the call where the row has a derivative of
 * its own) */
static int lower_call(lowering *L, builder *B, const nl_formula_tree *t)
{
    const nl_formula_word *w = &nl_formula_words[t->word];
    const int n = nl_formula_word_operands(w), values = n - w->constants;
    int env[NL_WVAR_COUNT] = {-1, -1, -1, -1, -1, -1};
    if (values > 0)
        env[0] = lower(L, B, t->a);
    if (values > 1)
        env[1] = lower(L, B, t->b);
    if (L->failed || B->failed)
        return 0;
    if (w->op >= 0 && values == 0) { /* invcount(): of the mean differentiated */
        const nl_fnode *m = &B->g->nodes[L->diff_node];
        return node_make(B->g, (nl_fnode){.op = (nl_formula_op)w->op, .l = m->l, .t = m->t,
                                          .a = -1, .b = -1, .k = -1},
                         &B->failed);
    }
    if (w->op >= 0 && nl_formula_is_reduction((nl_formula_op)w->op)) {
        /* ties(v): v summed as the differentiated reduction sums (l to t) */
        const nl_fnode *m = &B->g->nodes[L->diff_node];
        return reduction(B, (nl_formula_op)w->op, env[0], m->l, m->t);
    }
    if (w->op >= 0)
        return values == 1 ? unary(B, (nl_formula_op)w->op, env[0], 0)
                           : binary(B, (nl_formula_op)w->op, env[0], env[1]);
    for (int k = values; k < n; k++)
        env[k] = constant(B, t->consts[k - values]);
    const nl_formula *body = word_formula(L, t->word, 2);
    const int value = body ? lower_word(L, B, body, env, 0) : 0;
    if (!w->grad[0] || L->failed || B->failed || B->g->nodes[value].op == FO_CONST)
        return value;
    if (L->n_calls >= NL_FORMULA_MAX_TREE) {
        B->failed = true;
        return 0;
    }
    const int k = L->n_calls++;
    L->calls[k].word = t->word;
    memcpy(L->calls[k].args, env, sizeof L->calls[k].args);
    return node_make(B->g, (nl_fnode){.op = FO_WORD, .s = B->g->nodes[value].s, .a = value,
                                      .b = -1, .k = k},
                     &B->failed);
}

static int lower(lowering *L, builder *B, int ti)
{
    if (L->failed || B->failed)
        return 0;
    const nl_formula_tree *t = &L->f->tree[ti];
    switch (t->kind) {
    case FT_NUM:
        return constant(B, t->value);
    case FT_EPS:
        return constant(B, L->eps);
    case FT_X:
        return node_make(B->g, (nl_fnode){.op = FO_X, .s = L->full, .a = -1, .b = -1, .k = -1},
                         &B->failed);
    case FT_PARAM: {
        const nl_fshape s = {0, param_channels(&L->in, L->full, L->f->params[t->param].kind), 0};
        return node_make(B->g, (nl_fnode){.op = FO_PARAM, .s = s, .a = -1, .b = -1, .k = t->param},
                         &B->failed);
    }
    case FT_UNARY:
        return unary(B, t->op, lower(L, B, t->a), 0);
    case FT_CALL:
        return lower_call(L, B, t);
    case FT_VAR:
        return t->param == NL_WVAR_P ? constant(B, L->p) : L->env[t->param];
    case FT_POW: {
        const int a = lower(L, B, t->a);
        if (!t->exponent)
            return unary(B, FO_POW, a, t->value);
        /* a word's formula: an exponent of constants and p */
        const int e = lower(L, B, t->exponent);
        if (L->failed || B->failed)
            return 0;
        if (B->g->nodes[e].op != FO_CONST)
            return nl_formula_fail(L->err, &L->failed, t->col, "an exponent that is not "
                                   "constant in a word's formula"), 0;
        return unary(B, FO_POW, a, B->g->nodes[e].v);
    }
    case FT_BINARY: {
        const int a = lower(L, B, t->a), b = lower(L, B, t->b);
        if (L->failed || B->failed)
            return 0;
        return binary(B, t->op, a, b);
    }
    case FT_REDUCE:
        return lower_reduce(L, B, t, NULL);
    case FT_RUNNING: {
        const nl_formula_tree *r = &L->f->tree[t->a];
        int mean_of_var = -1;
        const int source = lower_reduce(L, B, r, &mean_of_var);
        if (L->failed || B->failed)
            return 0;
        const int k = L->n_running++;
        if (L->running)
            L->running[k] = (nl_frunning){.source = source, .mean = mean_of_var,
                                          .variance = r->reduce == FR_VAR, .init = t->value};
        if (!L->eval)
            return source;
        return node_make(B->g, (nl_fnode){.op = FO_STATE, .s = B->g->nodes[source].s, .a = -1,
                                          .b = -1, .k = k},
                         &B->failed);
    }
    }
    return 0;
}

/* ---- the derivative ---- */

/* g, the gradient of a value of shape l (g itself may be coarser: a value
 * broadcast to l), summed to shape t: each axis where g is at least as
 * fine as t is summed down to t; an axis where g is coarser than t stays,
 * the sum's factor counting the values it stood for */
static bool axis_needs_sum(int s, int l, int t)
{
    return s > t || (s == t && s < l) || (s < t && t < l);
}

static int sum_to(builder *B, int g, nl_fshape l, nl_fshape t)
{
    const nl_fshape s = B->g->nodes[g].s;
    if (!axis_needs_sum(s.b, l.b, t.b) && !axis_needs_sum(s.c, l.c, t.c) &&
        !axis_needs_sum(s.p, l.p, t.p))
        return g;
    return reduction(B, FO_SUM, g, l, t);
}

static void add_adjoint(builder *B, int *adj, int node, int contribution)
{
    adj[node] = adj[node] < 0 ? contribution : binary(B, FO_ADD, adj[node], contribution);
}

/* The row that differentiates node i, with its operands' nodes (into
 * env) and its value (*y); -1 for a node no row makes (a leaf, or an
 * operation without a row: an error where it has operands) */
static int rule_of(const lowering *L, const nl_fgraph *g, int i, int *env, int *y)
{
    const nl_fnode *n = &g->nodes[i];
    if (n->op == FO_WORD) {
        memcpy(env, L->calls[n->k].args, sizeof L->calls[n->k].args);
        *y = n->a;
        return L->calls[n->k].word;
    }
    env[0] = n->a;
    env[1] = n->b;
    *y = i;
    for (int w = 0; w < nl_formula_word_count; w++)
        if (nl_formula_words[w].op == (int)n->op)
            return w;
    return -1;
}

/* the gradient flowing from node i into its operands: each value
 * operand's derivative, the row's formula instantiated on i's operands,
 * value and gradient, summed to the operand's shape (a sum's and a mean's
 * input has the reduction's l); a derivative that is the constant 0
 * (detach's) sends nothing */
static void propagate(lowering *L, builder *B, int *adj, int i)
{
    const nl_fnode n = B->g->nodes[i];
    int env[NL_WVAR_COUNT] = {-1, -1, -1, -1, -1, -1};
    int y;
    const int wi = rule_of(L, B->g, i, env, &y);
    const nl_formula_word *w = wi >= 0 ? &nl_formula_words[wi] : NULL;
    const int values = w ? nl_formula_word_operands(w) - w->constants : 0;
    env[NL_WVAR_G] = adj[i];
    env[NL_WVAR_Y] = y;
    L->p = n.v;
    L->diff_node = i;
    if (!w && n.a >= 0) { /* an operation with operands and no row */
        B->no_rule = (int)n.op;
        B->failed = true;
    }
    for (int k = 0; k < values && !B->failed && !L->failed; k++) {
        const nl_formula *d = word_formula(L, wi, k);
        if (!d) { /* a row without this derivative: never a silent zero */
            if (!L->failed)
                B->no_rule = (int)n.op, B->failed = true;
            return;
        }
        const int dk = lower_word(L, B, d, env, 0);
        if (B->failed || L->failed)
            return;
        if (B->g->nodes[dk].op == FO_CONST && B->g->nodes[dk].v == 0.0f)
            continue;
        const nl_fshape l = k == 0 && nl_formula_is_reduction(n.op) ? n.l : n.s;
        add_adjoint(B, adj, env[k], sum_to(B, dk, l, B->g->nodes[env[k]].s));
    }
}

/* Every use of a word's stand-in (FO_WORD) made a use of its value, once
 * the derivative has read the stand-ins: the programs never see one */
static int resolved(const nl_fgraph *g, int i)
{
    while (i >= 0 && g->nodes[i].op == FO_WORD)
        i = g->nodes[i].a;
    return i;
}

static void resolve_words(nl_fgraph *g, int *y, int *dx, int *dparam, int n_params,
                          nl_frunning *running, int n_running)
{
    for (int i = 0; i < g->count; i++) {
        g->nodes[i].a = resolved(g, g->nodes[i].a);
        g->nodes[i].b = resolved(g, g->nodes[i].b);
    }
    *y = resolved(g, *y);
    *dx = resolved(g, *dx);
    for (int k = 0; k < n_params; k++)
        dparam[k] = resolved(g, dparam[k]);
    for (int k = 0; running && k < n_running; k++) {
        running[k].source = resolved(g, running[k].source);
        running[k].mean = resolved(g, running[k].mean);
    }
}

static int max_int(int a, int b) { return a > b ? a : b; }

static void graph_free(nl_fgraph *g)
{
    nl_fprogram_free(&g->forward);
    nl_fprogram_free(&g->backward);
    free(g->nodes), free(g->offset), free(g->in_saved), free(g->acc_offset);
    memset(g, 0, sizeof *g);
}

/* The backward by reverse mode from dy over the forward's nodes: *dx (a
 * constant 0 where x reaches the output only through running statistics)
 * and each parameter's gradient (-1: none); false when the graph is past
 * its size */
static bool derive(lowering *L, builder *B, const nl_formula *f, int y, nl_fshape full, int *dx,
                   int *dparam)
{
    nl_fgraph *g = B->g;
    const int forward_nodes = g->count;
    const int dy = node_make(g, (nl_fnode){.op = FO_DY, .s = full, .a = -1, .b = -1, .k = -1},
                             &B->failed);
    int *adj = malloc(MAX_NODES * sizeof *adj);
    if (!adj || B->failed) {
        free(adj);
        return false;
    }
    for (int i = 0; i < MAX_NODES; i++)
        adj[i] = -1;
    adj[y] = dy;
    for (int i = forward_nodes - 1; i >= 0 && !B->failed && !L->failed; i--)
        if (adj[i] >= 0)
            propagate(L, B, adj, i);
    *dx = -1;
    for (int k = 0; k < f->n_params; k++)
        dparam[k] = -1;
    for (int i = 0; i < forward_nodes; i++) {
        if (g->nodes[i].op == FO_X)
            *dx = adj[i];
        else if (g->nodes[i].op == FO_PARAM && adj[i] >= 0)
            dparam[g->nodes[i].k] = adj[i]; /* summed to the parameter's shape already */
    }
    free(adj);
    if (*dx < 0 && !B->failed)
        *dx = constant(B, 0);
    return !B->failed;
}

/* where each held node's values live: a value the forward computes in
 * saved (the backward reads it), the backward's own in the workspace; and
 * each reduction's accumulators. A pass runs its samples in parallel, so
 * a reduction over the batch of a row value keeps one partial sum per
 * sample, added in sample order after the pass: the bits do not depend
 * on the thread count. */
static bool place_values(nl_fgraph *g, nl_fshape full, const nl_formula_input *in,
                         const bool *computed, nl_formula_plan *plan)
{
    g->offset = malloc((size_t)g->count * sizeof *g->offset);
    g->in_saved = calloc((size_t)g->count, sizeof *g->in_saved);
    g->acc_offset = malloc((size_t)g->count * sizeof *g->acc_offset);
    if (!g->offset || !g->in_saved || !g->acc_offset)
        return false;
    size_t saved = 0, work = 0, acc = 0;
    for (int i = 0; i < g->count; i++) {
        g->offset[i] = g->acc_offset[i] = -1;
        if (!nl_fgraph_is_held(g, i, full))
            continue;
        const size_t count = nl_fshape_count(g->nodes[i].s, in);
        g->in_saved[i] = computed[i];
        g->offset[i] = (long)(computed[i] ? saved : work);
        *(computed[i] ? &saved : &work) += count;
        if (nl_formula_is_reduction(g->nodes[i].op)) {
            const bool partial = nl_fgraph_is_row(g, g->nodes[i].a, full) && !g->nodes[i].s.b;
            g->acc_offset[i] = (long)acc;
            acc += partial ? count * (size_t)in->n_capacity : count;
        }
    }
    plan->registers = max_int(plan->registers, max_int(g->forward.registers, g->backward.registers));
    if (saved > plan->saved_floats)
        plan->saved_floats = saved;
    if (work > plan->work_floats)
        plan->work_floats = work;
    if (acc > plan->acc_doubles)
        plan->acc_doubles = acc;
    return true;
}

/* the graph's forward (*y) and backward (*dx, dparam), its words' stand-ins
 * resolved */
static nl_code lower_and_derive(lowering *L, nl_fgraph *g, nl_formula_plan *plan, int *y,
                                int *dx, int *dparam)
{
    const nl_formula *f = L->f;
    nl_error *err = L->err;
    builder B = {.g = g, .no_rule = -1};
    *y = lower(L, &B, f->root);
    if (L->failed)
        return err->code;
    if (!L->eval)
        plan->n_running = L->n_running;
    if (!B.failed && !shape_eq(g->nodes[*y].s, L->full)) {
        nl_fshape s = g->nodes[*y].s;
        nl_formula_fail(err, &L->failed, 1,
                        "the formula's value keeps %s%s%s of the input's axes, but a "
                        "normalizer's output has the input's shape (%s): a reduction is "
                        "left unbroadcast against x",
                        s.b ? "batch " : "", s.c == FC_ALL ? "channels " : s.c ? "groups " : "",
                        s.p ? "positions" : !s.b && !s.c ? "none" : "", input_text(L->in.ndim));
        return err->code;
    }
    const bool derived = !B.failed && derive(L, &B, f, *y, L->full, dx, dparam);
    if (L->failed) /* a row of the vocabulary that does not parse */
        return err->code;
    if (!derived && B.no_rule >= 0) {
        char what[48];
        snprintf(what, sizeof what, "operation %d", B.no_rule);
        for (int w = 0; w < nl_formula_word_count; w++)
            if (nl_formula_words[w].op == B.no_rule)
                snprintf(what, sizeof what, "'%s'", nl_formula_words[w].name);
        return nl_fail(err, NL_ERR_UNSUPPORTED, "%s: %s of the formula has no derivative in the "
                                                "vocabulary (core/norm/formula_words.c), so it "
                                                "cannot be trained (a bug in normlab: report it "
                                                "with the formula)",
                       EXPR_KEY, what),
               nl_error_key(err, EXPR_KEY), NL_ERR_UNSUPPORTED;
    }
    if (!derived)
        return nl_fail(err, NL_ERR_CONFIG, "%s: the formula and its derivative are past their "
                                           "size (%d values); write it shorter", EXPR_KEY, MAX_NODES),
               nl_error_key(err, EXPR_KEY), NL_ERR_CONFIG;
    resolve_words(g, y, dx, dparam, f->n_params, L->running, L->n_running);
    return NL_OK;
}

/* one graph (training's, or evaluation's) with its programs; the
 * training graph records the running statistics' sources */
static nl_code make_graph(const nl_formula *f, nl_formula_input in, float eps, bool eval,
                          nl_fgraph *g, nl_formula_plan *plan, nl_error *err)
{
    const nl_fshape full = {1, in.c > 1 ? FC_ALL : FC_ONE, in.p > 1 ? 1 : 0};
    lowering L = {.g = g, .f = f, .in = in, .full = full, .eps = eps, .eval = eval, .err = err,
                  .running = eval ? NULL : plan->running};
    L.parsed = calloc((size_t)nl_formula_word_count * 3, sizeof *L.parsed);
    if (!L.parsed)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory planning %s", EXPR_KEY);
    int y, dx = -1, dparam[NL_FORMULA_MAX_PARAMS];
    const nl_code rc = lower_and_derive(&L, g, plan, &y, &dx, dparam);
    for (int i = 0; i < nl_formula_word_count * 3; i++)
        nl_formula_free(L.parsed[i]);
    free(L.parsed);
    if (rc)
        return rc;
    /* the forward computes y and, in training, the running statistics' sources */
    int sources[NL_FORMULA_MAX_RUNNING];
    for (int k = 0; k < plan->n_running; k++)
        sources[k] = eval ? -1 : plan->running[k].source;
    bool *computed = calloc((size_t)g->count, sizeof *computed);
    bool ok = computed && nl_fgraph_compile(g, &in, full, y, sources, plan->n_running, NULL, &g->forward);
    for (int s = 0; ok && s < g->forward.n_small; s++)
        computed[g->forward.small[s]] = true;
    ok = ok && nl_fgraph_compile(g, &in, full, dx, dparam, f->n_params, computed, &g->backward);
    memcpy(g->backward.dparam, dparam, sizeof dparam);
    ok = ok && place_values(g, full, &in, computed, plan);
    free(computed);
    if (!ok)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory planning %s", EXPR_KEY);
    g->has_backward = true;
    return NL_OK;
}

nl_code nl_formula_plan_make(const nl_formula *f, nl_formula_input in, float eps,
                             nl_formula_plan **out, nl_error *err)
{
    *out = NULL;
    if (in.groups < 1)
        in.groups = 1;
    if (in.p < 1)
        in.p = 1;
    if (in.groups > 1 && in.c % in.groups != 0) {
        const char *grouped = "the formula's reductions over channels";
        for (int k = 0; k < f->n_params; k++)
            if (f->params[k].kind == NL_PARAM_GROUP)
                grouped = "a parameter declared per group in model.norm.params";
        nl_fail(err, NL_ERR_CONFIG, "model.norm.groups %d does not divide the layer's %d "
                                    "channels, which %s splits into groups", in.groups, in.c, grouped);
        nl_error_key(err, "model.norm.groups");
        return NL_ERR_CONFIG;
    }
    nl_formula_plan *p = calloc(1, sizeof *p);
    if (!p)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory planning %s", EXPR_KEY);
    p->in = in;
    p->n_params = f->n_params;
    const nl_fshape full = {1, in.c > 1 ? FC_ALL : FC_ONE, in.p > 1 ? 1 : 0};
    for (int k = 0; k < f->n_params; k++)
        p->param_c[k] = param_channels(&in, full, f->params[k].kind);
    nl_code rc = make_graph(f, in, eps, false, &p->train, p, err);
    if (!rc)
        rc = make_graph(f, in, eps, true, &p->eval, p, err);
    if (rc) {
        nl_formula_plan_free(p);
        return rc;
    }
    *out = p;
    return NL_OK;
}

void nl_formula_plan_free(nl_formula_plan *p)
{
    if (!p)
        return;
    nl_formula_compiled_release(p);
    graph_free(&p->train);
    graph_free(&p->eval);
    free(p);
}

size_t nl_formula_plan_saved_floats(const nl_formula_plan *p) { return p->saved_floats; }
static size_t aligned(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

size_t nl_formula_plan_workspace_bytes(const nl_formula_plan *p)
{
    return aligned(p->work_floats * sizeof(float)) + aligned(p->acc_doubles * sizeof(double)) +
           (size_t)(p->registers + NL_FORMULA_TILES * NL_FORMULA_MAX_BLOCK) * NL_FORMULA_SEGMENT * sizeof(float) *
               (size_t)(p->in.threads > 1 ? p->in.threads : 1);
}
int nl_formula_plan_running_count(const nl_formula_plan *p) { return p->n_running; }
void nl_formula_plan_set_threads(nl_formula_plan *p, int threads) { p->in.threads = threads; }

void nl_formula_plan_running_at(const nl_formula_plan *p, int i, size_t *count, float *init,
                                const char **what)
{
    const nl_frunning *r = &p->running[i];
    const nl_fnode *n = &p->train.nodes[r->source];
    *count = nl_fshape_count(n->s, &p->in);
    /* the parser's start: PyTorch's (a mean at 0, a variance at 1), a
     * mean of squares at 1, or the formula's init= */
    *init = r->init;
    *what = r->variance ? "running_var" : n->op == FO_SQRT ? "running_std" : "running_mean";
}

int nl_formula_plan_ops(const nl_formula_plan *p, int *forward, int *backward)
{
    *forward = p->train.forward.n_small + p->train.forward.n_rows;
    *backward = p->train.backward.n_small + p->train.backward.n_rows;
    return p->train.forward.n_passes;
}
