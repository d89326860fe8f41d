/* A formula's graph compiled into programs (formula_internal.h): the
 * nodes each program computes, the passes over the input's rows they take
 * (a reduction of a row value ends a pass) and each pass's row
 * instructions. Split from the planner (formula_plan.c), which lowers and
 * differentiates the graph, so that each file stays readable. */
#include <stdlib.h>
#include <string.h>

#include "norm/formula_internal.h"

static bool shape_eq(nl_fshape a, nl_fshape b) { return a.b == b.b && a.c == b.c && a.p == b.p; }

bool nl_fgraph_is_row(const nl_fgraph *g, int i, nl_fshape full)
{
    return shape_eq(g->nodes[i].s, full) && !nl_formula_is_reduction(g->nodes[i].op);
}

/* held in memory (computed by a program): every small node but the
 * parameters and running statistics, which the io holds */
bool nl_fgraph_is_held(const nl_fgraph *g, int i, nl_fshape full)
{
    const nl_formula_op op = g->nodes[i].op;
    return !nl_fgraph_is_row(g, i, full) && op != FO_PARAM && op != FO_STATE && op != FO_X && op != FO_DY &&
           op != FO_WORD;
}

typedef struct {
    int *level; /* small: the passes before it is known; row: the first pass that can compute it */
    bool *needed;
} schedule;

size_t nl_fshape_count(nl_fshape s, const nl_formula_input *in)
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
    if (nl_fgraph_is_row(C->g, i, C->full))
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
    return nl_formula_is_reduction(n->op) && nl_fgraph_is_row(g, n->a, full);
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
bool nl_fgraph_compile(nl_fgraph *g, const nl_formula_input *in, nl_fshape full, int output,
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
            if (needed[i] && nl_fgraph_is_held(g, i, full) && level[i] == lv && !reduces_rows(g, i, full)) {
                prog->small[prog->n_small] = i;
                prog->small_level[prog->n_small++] = lv;
            }
    ok = ok && compile_passes(g, in, full, output, needed, level, prog);
    free(level), free(needed);
    return ok;
}

void nl_fprogram_free(nl_fprogram *p)
{
    free(p->small), free(p->small_level), free(p->passes), free(p->rows);
    memset(p, 0, sizeof *p);
}

