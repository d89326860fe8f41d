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

static int lower_reduce(lowering *L, builder *B, const nl_formula_tree *t, int *mean_of_var)
{
    const unsigned has = (1u << NL_AXIS_BATCH) | (1u << NL_AXIS_CHANNELS) |
                         (L->in.ndim == 4 ? 1u << NL_AXIS_SPATIAL
                          : L->in.ndim == 3 ? 1u << NL_AXIS_TOKENS
                                            : 0u);
    if (t->axes & ~has) {
        char lacking[64];
        nl_name_set_text(&nl_norm_axis_names, t->axes & ~has, lacking, sizeof lacking);
        nl_formula_fail(L->err, &L->failed, t->col, "the reduction names %s, but this layer's "
                        "input, %s, has no such axis", lacking, input_text(L->in.ndim));
        return 0;
    }
    const int u = lower(L, B, t->a);
    if (L->failed || B->failed)
        return 0;
    const nl_fshape s = B->g->nodes[u].s;
    const nl_fshape to = reduced(L, s, t->axes);
    switch (t->reduce) {
    case FR_SUM:
        return reduction(B, FO_SUM, u, s, to);
    case FR_MEAN:
        return reduction(B, FO_MEAN, u, s, to);
    case FR_RMS:
        return unary(B, FO_SQRT, reduction(B, FO_MEAN, binary(B, FO_MUL, u, u), s, to), 0);
    case FR_VAR:
    case FR_STD: {
        const int centred = binary(B, FO_SUB, u, reduction(B, FO_MEAN, u, s, to));
        const int var = reduction(B, FO_MEAN, binary(B, FO_MUL, centred, centred),
                                  B->g->nodes[centred].s, to);
        if (mean_of_var)
            *mean_of_var = var;
        return t->reduce == FR_VAR ? var : unary(B, FO_SQRT, var, 0);
    }
    }
    return 0;
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
        const nl_fshape s = {0, L->f->params[t->param].per_channel ? L->full.c : FC_ONE, 0};
        return node_make(B->g, (nl_fnode){.op = FO_PARAM, .s = s, .a = -1, .b = -1, .k = t->param},
                         &B->failed);
    }
    case FT_UNARY:
        return unary(B, t->op, lower(L, B, t->a), 0);
    case FT_POW:
        return unary(B, FO_POW, lower(L, B, t->a), t->value);
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

/* The gradients node i (value of shape n.s, gradient g) sends its
 * operands, before they are summed to the operands' shapes: *da and *db
 * (-1: none). False for a node that sends none (a leaf, or one of the
 * derivatives' own operations, never differentiated). */
static bool local_gradients(builder *B, int i, int g, int *da, int *db)
{
    const nl_fnode n = B->g->nodes[i];
    switch (n.op) {
    case FO_ADD:
    case FO_SUM: /* a sum's input: no second operand */
        *da = g;
        *db = g;
        break;
    case FO_SUB:
        *da = g;
        *db = unary(B, FO_NEG, g, 0);
        break;
    case FO_MUL:
        *da = binary(B, FO_MUL, g, n.b);
        *db = binary(B, FO_MUL, g, n.a);
        break;
    case FO_DIV:
        *da = binary(B, FO_DIV, g, n.b);
        *db = unary(B, FO_NEG, binary(B, FO_DIV, binary(B, FO_MUL, g, i), n.b), 0);
        break;
    case FO_NEG:
        *da = unary(B, FO_NEG, g, 0);
        break;
    case FO_POW:
        *da = binary(B, FO_MUL, g,
                    binary(B, FO_MUL, constant(B, n.v), unary(B, FO_POW, n.a, n.v - 1.0f)));
        break;
    case FO_SQRT: /* g / (2 sqrt(a)) */
        *da = binary(B, FO_DIV, binary(B, FO_MUL, g, constant(B, 0.5f)), i);
        break;
    case FO_RSQRT: /* -g rsqrt(a)^3 / 2 */
        *da = binary(B, FO_MUL, binary(B, FO_MUL, g, constant(B, -0.5f)),
                    binary(B, FO_MUL, i, binary(B, FO_MUL, i, i)));
        break;
    case FO_EXP:
        *da = binary(B, FO_MUL, g, i);
        break;
    case FO_LOG:
        *da = binary(B, FO_DIV, g, n.a);
        break;
    case FO_TANH:
        *da = binary(B, FO_MUL, g, binary(B, FO_SUB, constant(B, 1), binary(B, FO_MUL, i, i)));
        break;
    case FO_SIGMOID:
        *da = binary(B, FO_MUL, g, binary(B, FO_MUL, i, binary(B, FO_SUB, constant(B, 1), i)));
        break;
    case FO_ERF: /* 2 / sqrt(pi) exp(-a^2) */
        *da = binary(B, FO_MUL, g,
                    binary(B, FO_MUL, constant(B, 1.1283791670955126f),
                           unary(B, FO_EXP, unary(B, FO_NEG, binary(B, FO_MUL, n.a, n.a), 0), 0)));
        break;
    case FO_ABS:
        *da = binary(B, FO_MUL, g, unary(B, FO_SIGN, n.a, 0));
        break;
    case FO_RELU:
        *da = binary(B, FO_MUL, g, unary(B, FO_STEP, n.a, 0));
        break;
    case FO_MIN:
    case FO_MAX: {
        /* max(a, b) = -min(-a, -b): a's share is TAKES_MIN(-a, -b) */
        const int sa = n.op == FO_MIN ? binary(B, FO_TAKES_MIN, n.a, n.b)
                                      : binary(B, FO_TAKES_MIN, unary(B, FO_NEG, n.a, 0),
                                               unary(B, FO_NEG, n.b, 0));
        *da = binary(B, FO_MUL, g, sa);
        *db = binary(B, FO_MUL, g, binary(B, FO_SUB, constant(B, 1), sa));
        break;
    }
    case FO_MEAN:
        *da = binary(B, FO_MUL, g,
                    node_make(B->g, (nl_fnode){.op = FO_INVCOUNT, .l = n.l, .t = n.t, .a = -1,
                                               .b = -1, .k = -1},
                              &B->failed));
        break;
    default:
        return false;
    }
    return true;
}

/* the gradient flowing from node i into its operands, each summed to its
 * own shape (a sum's and a mean's input has the reduction's l) */
static void propagate(builder *B, int *adj, int i)
{
    const nl_fnode n = B->g->nodes[i];
    int da = -1, db = -1;
    if (!local_gradients(B, i, adj[i], &da, &db)) {
        if (n.a >= 0) { /* an operation with operands and no rule */
            B->no_rule = (int)n.op;
            B->failed = true;
        }
        return;
    }
    if (B->failed)
        return;
    const nl_fshape la = n.op == FO_SUM || n.op == FO_MEAN ? n.l : n.s;
    if (da >= 0)
        add_adjoint(B, adj, n.a, sum_to(B, da, la, B->g->nodes[n.a].s));
    if (db >= 0 && n.b >= 0 && !B->failed)
        add_adjoint(B, adj, n.b, sum_to(B, db, n.s, B->g->nodes[n.b].s));
}

/* ---- programs ---- */

static bool is_row(const nl_fgraph *g, int i, nl_fshape full)
{
    return shape_eq(g->nodes[i].s, full) && g->nodes[i].op != FO_SUM && g->nodes[i].op != FO_MEAN;
}

/* held in memory (computed by a program): every small node but the
 * parameters and running statistics, which the io holds */
static bool is_held(const nl_fgraph *g, int i, nl_fshape full)
{
    const nl_formula_op op = g->nodes[i].op;
    return !is_row(g, i, full) && op != FO_PARAM && op != FO_STATE && op != FO_X && op != FO_DY;
}

typedef struct {
    int *level; /* small: the passes before it is known; row: the first pass that can compute it */
    bool *needed;
} schedule;

static size_t small_count(nl_fshape s, const nl_formula_input *in)
{
    const size_t c = s.c == FC_ALL ? (size_t)in->c : s.c == FC_GROUPS ? (size_t)in->groups : 1;
    return (s.b ? (size_t)in->n_capacity : 1) * c * (s.p ? (size_t)in->p : 1);
}

typedef struct {
    nl_frow *rows;
    int n, cap;
    bool failed;
} row_list;

static void row_push(row_list *R, nl_frow r)
{
    if (R->n == R->cap) {
        const int cap = R->cap ? 2 * R->cap : 64;
        nl_frow *grown = realloc(R->rows, (size_t)cap * sizeof *grown);
        if (!grown) {
            R->failed = true;
            return;
        }
        R->rows = grown;
        R->cap = cap;
    }
    R->rows[R->n++] = r;
}

/* does a small node of shape s vary along the row (the inner axis:
 * positions for images, channels otherwise) */
static bool varies_along_row(nl_fshape s, const nl_formula_input *in)
{
    return in->ndim == 4 ? s.p != 0 : s.c != FC_ONE;
}

typedef struct {
    const nl_fgraph *g;
    const nl_formula_input *in;
    nl_fshape full;
    int *reg;    /* per node: its register in this pass, -1 none */
    int *gather; /* per node: the register its gathered row is in, -1 none */
    int registers;
    row_list *R;
} pass_compiler;

static nl_fopd operand(pass_compiler *C, int i);

static int compile_row_node(pass_compiler *C, int i)
{
    if (C->reg[i] >= 0)
        return C->reg[i];
    const nl_fnode *n = &C->g->nodes[i];
    const nl_fopd a = operand(C, n->a);
    const nl_fopd b = n->b >= 0 ? operand(C, n->b) : (nl_fopd){OPD_NONE, -1};
    const int dst = C->registers++;
    row_push(C->R, (nl_frow){.kind = RI_OP, .op = n->op, .dst = dst, .a = a, .b = b, .v = n->v});
    C->reg[i] = dst;
    return dst;
}

static nl_fopd operand(pass_compiler *C, int i)
{
    const nl_fnode *n = &C->g->nodes[i];
    if (n->op == FO_X)
        return (nl_fopd){OPD_X, -1};
    if (n->op == FO_DY)
        return (nl_fopd){OPD_DY, -1};
    if (is_row(C->g, i, C->full))
        return (nl_fopd){OPD_REG, compile_row_node(C, i)};
    if (!varies_along_row(n->s, C->in))
        return (nl_fopd){OPD_SCALAR, i};
    if (C->gather[i] < 0) {
        C->gather[i] = C->registers++;
        row_push(C->R, (nl_frow){.kind = RI_GATHER, .dst = C->gather[i], .node = i});
    }
    return (nl_fopd){OPD_REG, C->gather[i]};
}

static int max_int(int a, int b) { return a > b ? a : b; }

/* A reduction whose input is a row value: a pass accumulates it */
static bool reduces_rows(const nl_fgraph *g, int i, nl_fshape full)
{
    const nl_fnode *n = &g->nodes[i];
    return (n->op == FO_SUM || n->op == FO_MEAN) && is_row(g, n->a, full);
}

/* The nodes a program computes (reached from the output and the extras,
 * not already known) into needed, and each one's level into level: a
 * small node's, the passes before it is known; a row node's, the first
 * pass that can compute it. Returns the passes the program takes. */
static int schedule_nodes(const nl_fgraph *g, nl_fshape full, int output, const int *extra,
                          int n_extra, const bool *known, bool *needed, int *level)
{
    const int N = g->count;
    /* operands have lower ids than their users: one backward sweep marks them */
    needed[output] = true;
    for (int e = 0; e < n_extra; e++)
        if (extra[e] >= 0)
            needed[extra[e]] = true;
    for (int i = N - 1; i >= 0; i--) {
        if (!needed[i] || (known && known[i]))
            continue;
        if (g->nodes[i].a >= 0)
            needed[g->nodes[i].a] = true;
        if (g->nodes[i].b >= 0)
            needed[g->nodes[i].b] = true;
    }
    for (int i = 0; i < N; i++) {
        level[i] = 0;
        if (!needed[i] || (known && known[i]))
            continue;
        const nl_fnode *n = &g->nodes[i];
        const int la = n->a >= 0 ? level[n->a] : 0, lb = n->b >= 0 ? level[n->b] : 0;
        level[i] = reduces_rows(g, i, full) ? la + 1 /* after the pass that reads its input */
                                            : max_int(la, lb);
    }
    int passes = level[output] + 1;
    for (int e = 0; e < n_extra; e++)
        if (extra[e] >= 0)
            passes = max_int(passes, level[extra[e]]);
    return passes;
}

/* each pass's row instructions: the reductions of row values it ends, and
 * in the last the output's store */
static bool compile_passes(const nl_fgraph *g, const nl_formula_input *in, nl_fshape full,
                           int output, const bool *computed, const int *level, nl_fprogram *prog)
{
    const int N = g->count;
    row_list R = {0};
    int *reg = malloc((size_t)N * sizeof *reg), *gather = malloc((size_t)N * sizeof *gather);
    bool ok = reg && gather;
    prog->registers = 0;
    for (int p = 0; ok && p < prog->n_passes; p++) {
        for (int i = 0; i < N; i++)
            reg[i] = gather[i] = -1;
        pass_compiler C = {.g = g, .in = in, .full = full, .reg = reg, .gather = gather, .R = &R};
        prog->passes[p].first = R.n;
        for (int i = 0; i < N; i++)
            if (computed[i] && reduces_rows(g, i, full) && level[i] == p + 1)
                row_push(&R, (nl_frow){.kind = RI_REDUCE, .a = operand(&C, g->nodes[i].a), .node = i});
        if (p == prog->n_passes - 1)
            row_push(&R, (nl_frow){.kind = RI_STORE, .a = operand(&C, output)});
        prog->passes[p].count = R.n - prog->passes[p].first;
        prog->passes[p].registers = C.registers;
        prog->registers = max_int(prog->registers, C.registers);
    }
    prog->rows = R.rows;
    prog->n_rows = R.n;
    free(reg), free(gather);
    return ok && !R.failed;
}

/* Compiles the program that computes `output` (stored to the layer's
 * output or input gradient) and the `extra` small values (a backward's
 * parameter gradients; a forward's running statistics' sources), given
 * the nodes `known` already holds (a backward reads what its forward
 * computed). */
static bool compile(nl_fgraph *g, const nl_formula_input *in, nl_fshape full, int output,
                    const int *extra, int n_extra, const bool *known, nl_fprogram *prog)
{
    const int N = g->count;
    int *level = calloc((size_t)N, sizeof *level);
    bool *needed = calloc((size_t)N, sizeof *needed);
    if (!level || !needed) {
        free(level), free(needed);
        return false;
    }
    const int passes = schedule_nodes(g, full, output, extra, n_extra, known, needed, level);
    for (int i = 0; i < N; i++) /* what this program computes */
        needed[i] = needed[i] && !(known && known[i]);
    prog->small = malloc((size_t)N * sizeof *prog->small);
    prog->small_level = malloc((size_t)N * sizeof *prog->small_level);
    prog->passes = calloc((size_t)passes, sizeof *prog->passes);
    prog->n_small = 0;
    prog->n_passes = passes;
    prog->output = output;
    bool ok = prog->small && prog->small_level && prog->passes;
    /* the small nodes, by level then id */
    for (int lv = 0; ok && lv <= passes; lv++)
        for (int i = 0; i < N; i++)
            if (needed[i] && is_held(g, i, full) && level[i] == lv && !reduces_rows(g, i, full)) {
                prog->small[prog->n_small] = i;
                prog->small_level[prog->n_small++] = lv;
            }
    ok = ok && compile_passes(g, in, full, output, needed, level, prog);
    free(level), free(needed);
    return ok;
}

static void program_free(nl_fprogram *p)
{
    free(p->small), free(p->small_level), free(p->passes), free(p->rows);
    memset(p, 0, sizeof *p);
}

static void graph_free(nl_fgraph *g)
{
    program_free(&g->forward);
    program_free(&g->backward);
    free(g->nodes), free(g->offset), free(g->in_saved), free(g->acc_offset);
    memset(g, 0, sizeof *g);
}

/* The backward by reverse mode from dy over the forward's nodes: *dx (a
 * constant 0 where x reaches the output only through running statistics)
 * and each parameter's gradient (-1: none); false when the graph is past
 * its size */
static bool derive(builder *B, const nl_formula *f, int y, nl_fshape full, int *dx, int *dparam)
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
    for (int i = forward_nodes - 1; i >= 0 && !B->failed; i--)
        if (adj[i] >= 0)
            propagate(B, adj, i);
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
        if (!is_held(g, i, full))
            continue;
        const size_t count = small_count(g->nodes[i].s, in);
        g->in_saved[i] = computed[i];
        g->offset[i] = (long)(computed[i] ? saved : work);
        *(computed[i] ? &saved : &work) += count;
        if (g->nodes[i].op == FO_SUM || g->nodes[i].op == FO_MEAN) {
            const bool partial = is_row(g, g->nodes[i].a, full) && !g->nodes[i].s.b;
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

/* one graph (training's, or evaluation's) with its programs; the
 * training graph records the running statistics' sources */
static nl_code make_graph(const nl_formula *f, nl_formula_input in, float eps, bool eval,
                          nl_fgraph *g, nl_formula_plan *plan, nl_error *err)
{
    const nl_fshape full = {1, in.c > 1 ? FC_ALL : FC_ONE, in.p > 1 ? 1 : 0};
    lowering L = {.g = g, .f = f, .in = in, .full = full, .eps = eps, .eval = eval, .err = err,
                  .running = eval ? NULL : plan->running};
    builder B = {.g = g, .no_rule = -1};
    const int y = lower(&L, &B, f->root);
    if (L.failed)
        return err->code;
    if (!eval)
        plan->n_running = L.n_running;
    if (!B.failed && !shape_eq(g->nodes[y].s, full)) {
        nl_fshape s = g->nodes[y].s;
        nl_formula_fail(err, &L.failed, 1,
                        "the formula's value keeps %s%s%s of the input's axes, but a "
                        "normalizer's output has the input's shape (%s): a reduction is "
                        "left unbroadcast against x",
                        s.b ? "batch " : "", s.c == FC_ALL ? "channels " : s.c ? "groups " : "",
                        s.p ? "positions" : !s.b && !s.c ? "none" : "", input_text(in.ndim));
        return err->code;
    }
    int dx = -1, dparam[NL_FORMULA_MAX_PARAMS];
    const bool derived = !B.failed && derive(&B, f, y, full, &dx, dparam);
    if (!derived && B.no_rule >= 0)
        return nl_fail(err, NL_ERR_UNSUPPORTED, "%s: operation %d of the formula has no "
                                                "derivative rule, so it cannot be trained (a "
                                                "bug in normlab: report it with the formula)",
                       EXPR_KEY, B.no_rule),
               nl_error_key(err, EXPR_KEY), NL_ERR_UNSUPPORTED;
    if (!derived)
        return nl_fail(err, NL_ERR_CONFIG, "%s: the formula and its derivative are past their "
                                           "size (%d values); write it shorter", EXPR_KEY, MAX_NODES),
               nl_error_key(err, EXPR_KEY), NL_ERR_CONFIG;
    /* the forward computes y and, in training, the running statistics' sources */
    int sources[NL_FORMULA_MAX_RUNNING];
    for (int k = 0; k < plan->n_running; k++)
        sources[k] = eval ? -1 : plan->running[k].source;
    bool *computed = calloc((size_t)g->count, sizeof *computed);
    bool ok = computed && compile(g, &in, full, y, sources, plan->n_running, NULL, &g->forward);
    for (int s = 0; ok && s < g->forward.n_small; s++)
        computed[g->forward.small[s]] = true;
    ok = ok && compile(g, &in, full, dx, dparam, f->n_params, computed, &g->backward);
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
        nl_fail(err, NL_ERR_CONFIG, "model.norm.groups %d does not divide the layer's %d "
                                    "channels, which the formula's reductions over channels "
                                    "group", in.groups, in.c);
        nl_error_key(err, "model.norm.groups");
        return NL_ERR_CONFIG;
    }
    nl_formula_plan *p = calloc(1, sizeof *p);
    if (!p)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory planning %s", EXPR_KEY);
    p->in = in;
    p->n_params = f->n_params;
    for (int k = 0; k < f->n_params; k++)
        p->per_channel[k] = f->params[k].per_channel;
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
    *count = small_count(n->s, &p->in);
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
