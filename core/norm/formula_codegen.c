/* The C source of a formula plan's passes (formula_compile.h): for each
 * pass one function that runs one sample's rows exactly as the row
 * interpreter (core/cpu/formula.c) does, specialized on the layer's shape
 * and channel block, with the elementwise chain of a segment fused into
 * one loop the compiler vectorizes. It is generated from the plan's IR
 * alone: values are register and node indices, constants are printed as
 * their bits.
 *
 * Bits: every operation is the interpreter's, written the same way and
 * compiled without contraction, so each rounds once as it does there.
 * The elementary functions on rows (exp, tanh, sigmoid, erf) are the
 * running kernel set's own, called through the arguments, and split a
 * segment's loop into stages around them. A reduction of a row adds in the
 * interpreter's order: eight interleaved partial sums in double per
 * segment, joined as a tree, then added to the accumulator. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm/formula_compile.h"

#define STR_(...) #__VA_ARGS__
#define STR(...) STR_(__VA_ARGS__)

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} text;

static void put(text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 16384;
        while (cap - t->len <= (size_t)n)
            cap *= 2;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = true;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

/* a float constant as its bits: exact, and the same for NaN and infinities */
static void put_float(text *t, float v)
{
    unsigned u;
    memcpy(&u, &v, sizeof u);
    put(t, "fb(0x%08xu)", u);
}

typedef struct {
    const nl_formula_plan *p;
    const nl_fgraph *g;
    int block;
    int C, P, G;
} gen;

static int size_c(const gen *G, int state) { return state == FC_ALL ? G->C : state == FC_GROUPS ? G->G : 1; }

/* index_of(s, b, ci, FC_ALL, p) of formula.c as C text, ci and p given as text */
static void put_index(text *t, const gen *G, nl_fshape s, const char *ci, const char *pos)
{
    const int sc = size_c(G, s.c), pp = s.p ? G->P : 1;
    put(t, "((size_t)(");
    if (s.b)
        put(t, "(size_t)A->b * %d + ", sc);
    if (s.c == FC_ONE)
        put(t, "0");
    else if (s.c == FC_ALL)
        put(t, "(size_t)(%s)", ci);
    else
        put(t, "(size_t)((%s) / %d)", ci, G->C / G->G);
    put(t, ") * %d", pp);
    if (s.p)
        put(t, " + (size_t)(%s)", pos);
    put(t, ")");
}

static bool is_elementary(nl_formula_op op)
{
    return op == FO_EXP || op == FO_TANH || op == FO_SIGMOID || op == FO_ERF;
}

/* an instruction that runs as the kernel set's row function, between stages */
static bool calls_row_function(const nl_frow *I)
{
    return I->kind == RI_OP && is_elementary(I->op) && I->a.kind != OPD_SCALAR &&
           I->a.kind != OPD_NONE;
}

/* the operation on scalars, as nl_formula_apply() computes it */
static bool put_op(text *t, nl_formula_op op, const char *a, const char *b, float v)
{
    switch (op) {
    case FO_ADD: put(t, "(%s + %s)", a, b); return true;
    case FO_SUB: put(t, "(%s - %s)", a, b); return true;
    case FO_MUL: put(t, "(%s * %s)", a, b); return true;
    case FO_DIV: put(t, "(%s / %s)", a, b); return true;
    case FO_NEG: put(t, "(-%s)", a); return true;
    case FO_POW:
        if (v == 2.0f)
            put(t, "(%s * %s)", a, a);
        else if (v == -1.0f)
            put(t, "(1.0f / %s)", a);
        else {
            put(t, "powf(%s, ", a);
            put_float(t, v);
            put(t, ")");
        }
        return true;
    case FO_SQRT: put(t, "sqrtf(%s)", a); return true;
    case FO_RSQRT: put(t, "(1.0f / sqrtf(%s))", a); return true;
    case FO_EXP: put(t, "expf(%s)", a); return true;
    case FO_LOG: put(t, "logf(%s)", a); return true;
    case FO_TANH: put(t, "tanhf(%s)", a); return true;
    case FO_SIGMOID: put(t, "(1.0f / (1.0f + expf(-%s)))", a); return true;
    case FO_ERF: put(t, "erff(%s)", a); return true;
    case FO_ABS: put(t, "fabsf(%s)", a); return true;
    case FO_RELU: put(t, "(%s <= 0 ? 0.0f : %s)", a, a); return true; /* a NaN kept */
    case FO_MIN: put(t, "fminf(%s, %s)", a, b); return true;
    case FO_MAX: put(t, "fmaxf(%s, %s)", a, b); return true;
    case FO_STEP: put(t, "(%s > 0 ? 1.0f : 0.0f)", a); return true;
    case FO_SIGN: put(t, "(float)((%s > 0) - (%s < 0))", a, a); return true;
    case FO_TAKES_MIN: put(t, "(%s < %s ? 1.0f : %s == %s ? 0.5f : 0.0f)", a, b, a, b); return true;
    case FO_EQ: put(t, "(%s == %s ? 1.0f : 0.0f)", a, b); return true;
    default: return false;
    }
}

typedef struct {
    const nl_fpass *pass;
    const nl_frow *code;
    int *producer; /* per register: its instruction */
    int *stage;    /* per instruction */
    bool *buffered; /* per instruction: its value also kept in its register's row */
    int slot_of[NL_FPASS_MAX_SLOTS];
    int n_slots;
} pass_info;

static int slot(pass_info *P, int node)
{
    for (int k = 0; k < P->n_slots; k++)
        if (P->slot_of[k] == node)
            return k;
    if (P->n_slots == NL_FPASS_MAX_SLOTS)
        return -1;
    P->slot_of[P->n_slots] = node;
    return P->n_slots++;
}

/* How a layout names a lane's values: the row layout runs lane jj of a
 * segment of a row; the channel-blocked layout lane j of a block at one
 * position (the block's channels side by side in memory, so that its
 * loops are the vector width and need no transpose). */
typedef struct {
    bool blocked;
    const char *x, *dy; /* the lane's input and output gradient */
    const char *lane;   /* the lane's index in a register's row */
    const char *ci, *pos; /* the lane's channel and position */
    const char *scalar_ci, *scalar_pos; /* a row scalar's */
} lanes;

static lanes lanes_of(const gen *G)
{
    if (G->block)
        return (lanes){true, "xp[j]", "dyv[j]", "j", "c0b + j", "start + p", "c0b + j", "0"};
    const bool image = G->p->in.ndim == 4;
    return (lanes){false, "x[jj]", "dy[jj]", "jj", image ? "c0" : "start + jj",
                   image ? "start + jj" : "p0", "c0", "p0"};
}

/* operand o of instruction k as C text in a stage's loop */
static void operand_text(char *buf, size_t size, const pass_info *P, const lanes *L, int k,
                         nl_fopd o)
{
    switch (o.kind) {
    case OPD_X: snprintf(buf, size, "%s", L->x); break;
    case OPD_DY: snprintf(buf, size, "%s", L->dy); break;
    case OPD_SCALAR: snprintf(buf, size, L->blocked ? "s%d[j]" : "s%d", o.index); break;
    case OPD_REG: {
        const int from = P->producer[o.index];
        if (P->stage[from] == P->stage[k] && !calls_row_function(&P->code[from]))
            snprintf(buf, size, "t%d", from);
        else
            snprintf(buf, size, "R%d[%s]", o.index, L->lane);
        break;
    }
    default: snprintf(buf, size, "0.0f"); break;
    }
}

static bool reduces_along(const gen *G, nl_fshape s)
{
    return G->p->in.ndim == 4 ? s.p != 0 : s.c != FC_ONE;
}

/* an amax: its accumulator keeps the larger value, in any order (the
 * interpreter's bits whatever the order), so it keeps no partial sums */
static bool is_max(const gen *G, const nl_frow *I)
{
    return I->kind == RI_REDUCE && G->g->nodes[I->node].op == FO_AMAX;
}

/* a reduction that keeps eight partial sums per row (formula.c's row_sum) */
static bool has_parts(const gen *G, const nl_frow *I)
{
    return I->kind == RI_REDUCE && I->a.kind != OPD_SCALAR && !is_max(G, I) &&
           !reduces_along(G, G->g->nodes[I->node].s);
}

/* the accumulator of reduction `node` (slot k) for this sample */
static void put_acc(text *t, const gen *G, int k, nl_fshape s)
{
    if (!s.b) /* partial sums per sample (formula.c's partial_per_sample) */
        put(t, "(A->accs[%d] + (size_t)A->b * %zu)", k,
            (size_t)size_c(G, s.c) * (size_t)(s.p ? G->P : 1));
    else
        put(t, "A->accs[%d]", k);
}

/* the stages of a pass (a new one after each row-function call), each
 * instruction's producer, and which values cross a stage in their
 * register's row; false where the code is not what the planner makes */
static bool analyze(pass_info *P, int *stages)
{
    const nl_fpass *pass = P->pass;
    const nl_frow *code = P->code;
    *stages = 0;
    for (int k = 0; k < pass->count; k++) {
        if (calls_row_function(&code[k]))
            P->stage[k] = ++*stages, ++*stages;
        else
            P->stage[k] = *stages;
    }
    for (int k = 0; k < pass->count; k++) {
        P->buffered[k] = calls_row_function(&code[k]);
        if (code[k].kind == RI_OP || code[k].kind == RI_GATHER) {
            if (code[k].dst < 0 || code[k].dst >= pass->registers)
                return false;
            P->producer[code[k].dst] = k;
        }
    }
    for (int k = 0; k < pass->count; k++) {
        const nl_fopd ops[2] = {code[k].a, code[k].b};
        for (int i = 0; i < 2; i++) {
            if (code[k].kind == RI_GATHER || (i == 1 && code[k].kind != RI_OP))
                continue;
            if (ops[i].kind != OPD_REG)
                continue;
            const int from = P->producer[ops[i].index];
            if (from < 0 || from >= k)
                return false; /* read before it is written */
            if (P->stage[from] != P->stage[k] || calls_row_function(&code[k]))
                P->buffered[from] = true;
        }
    }
    return true;
}

/* the row scalars (small values constant along a row, or per lane of a
 * block: `width` of them) */
static bool put_scalars(text *t, const gen *G, pass_info *P, const lanes *L, const char *indent)
{
    const nl_frow *code = P->code;
    bool *done = calloc((size_t)G->g->count, sizeof *done);
    if (!done)
        return false;
    for (int k = 0; k < P->pass->count; k++) {
        const nl_fopd ops[2] = {code[k].a, code[k].b};
        for (int i = 0; i < 2; i++) {
            if (code[k].kind == RI_GATHER || ops[i].kind != OPD_SCALAR || done[ops[i].index])
                continue;
            const int node = ops[i].index, sl = slot(P, node);
            if (sl < 0) {
                free(done);
                return false;
            }
            done[node] = true;
            if (L->blocked) {
                put(t, "%sfloat s%d[%d];\n%sLANES for (int j = 0; j < %d; j++)\n%s    s%d[j] = A->vals[%d][",
                    indent, node, G->block, indent, G->block, indent, node, sl);
                put_index(t, G, G->g->nodes[node].s, L->scalar_ci, L->scalar_pos);
                put(t, "];\n");
            } else {
                put(t, "%sconst float s%d = A->vals[%d][", indent, node, sl);
                put_index(t, G, G->g->nodes[node].s, L->scalar_ci, L->scalar_pos);
                put(t, "];\n");
            }
        }
    }
    free(done);
    return true;
}

/* instruction k's statement in a stage's loop body; part: the partial
 * sum's index text */
static bool put_instruction(text *t, const gen *G, pass_info *P, const lanes *L, int k,
                            const char *part)
{
    const nl_frow *I = &P->code[k];
    char a[48], b[48];
    switch (I->kind) {
    case RI_OP:
        operand_text(a, sizeof a, P, L, k, I->a);
        operand_text(b, sizeof b, P, L, k, I->b);
        put(t, "            const float t%d = ", k);
        if (!put_op(t, I->op, a, b, I->v))
            return false;
        put(t, ";\n");
        if (P->buffered[k])
            put(t, "            R%d[%s] = t%d;\n", I->dst, L->lane, k);
        return true;
    case RI_GATHER: {
        const int sl = slot(P, I->node);
        if (sl < 0)
            return false;
        put(t, "            const float t%d = A->vals[%d][", k, sl);
        put_index(t, G, G->g->nodes[I->node].s, L->ci, L->pos);
        put(t, "];\n");
        if (P->buffered[k])
            put(t, "            R%d[%s] = t%d;\n", I->dst, L->lane, k);
        return true;
    }
    case RI_REDUCE: {
        const nl_fshape s = G->g->nodes[I->node].s;
        const int sl = slot(P, I->node);
        if (sl < 0)
            return false;
        operand_text(a, sizeof a, P, L, k, I->a);
        if (is_max(G, I)) { /* the accumulator of this lane's value */
            const bool along = reduces_along(G, s);
            put(t, "            { double *q = &");
            put_acc(t, G, sl, s);
            put(t, "[");
            put_index(t, G, s, along ? L->ci : L->scalar_ci, along ? L->pos : L->scalar_pos);
            put(t, "]; *q = fmax(*q, (double)(%s)); }\n", a);
        } else if (reduces_along(G, s)) {
            put(t, "            ");
            put_acc(t, G, sl, s);
            put(t, "[");
            put_index(t, G, s, L->ci, L->pos);
            put(t, "] += %s;\n", a);
        } else if (I->a.kind != OPD_SCALAR)
            put(t, "            part%d%s += %s;\n", k, part, a);
        /* a scalar's sum over the row: after the loop, sa * m */
        return true;
    }
    case RI_STORE: {
        operand_text(a, sizeof a, P, L, k, I->a);
        const char *o = L->blocked ? "A->out[at + j]" : "o[jj]";
        const char *skip = L->blocked ? "A->skip[at + j]" : "skip[jj]";
        put(t, "            { const float u = %s;\n"
               "              if (mode == 0) %s = u;\n"
               "              else if (mode == 1) %s += u;\n"
               "              else if (mode == 2) %s = u <= 0 ? 0.0f : u;\n"
               "              else { const float v = u + %s; %s = v <= 0 ? 0.0f : v; } }\n",
            a, o, o, o, skip, o);
        return true;
    }
    }
    return false;
}

/* the row sums a stage's partial sums make, added to their accumulators */
static void put_reduction_ends(text *t, const gen *G, pass_info *P, const lanes *L, int first,
                               int last, const char *indent)
{
    for (int k = first; k <= last; k++) {
        const nl_frow *I = &P->code[k];
        if (I->kind != RI_REDUCE)
            continue;
        const nl_fshape s = G->g->nodes[I->node].s;
        if (reduces_along(G, s) || is_max(G, I))
            continue;
        const int sl = slot(P, I->node);
        if (L->blocked)
            put(t, "%sLANES for (int j = 0; j < %d; j++)\n%s    ", indent, G->block, indent);
        else
            put(t, "%s", indent);
        put_acc(t, G, sl, s);
        put(t, "[");
        put_index(t, G, s, L->scalar_ci, L->scalar_pos);
        if (I->a.kind == OPD_SCALAR)
            put(t, "] += (double)s%d%s * m;\n", I->a.index, L->blocked ? "[j]" : "");
        else if (L->blocked)
            put(t, "] += ((part%d[0][j] + part%d[1][j]) + (part%d[2][j] + part%d[3][j])) + "
                   "((part%d[4][j] + part%d[5][j]) + (part%d[6][j] + part%d[7][j]));\n",
                k, k, k, k, k, k, k, k);
        else
            put(t, "] += ((part%d[0] + part%d[1]) + (part%d[2] + part%d[3])) + "
                   "((part%d[4] + part%d[5]) + (part%d[6] + part%d[7]));\n",
                k, k, k, k, k, k, k, k);
    }
}

/* one stage's instructions [first, last] */
static bool stage_bounds(const pass_info *P, int st, int *first, int *last)
{
    *first = *last = -1;
    for (int k = 0; k < P->pass->count; k++)
        if (P->stage[k] == st) {
            if (*first < 0)
                *first = k;
            *last = k;
        }
    return *first >= 0;
}

/* a row-function call between stages: over a segment (m values) of a row,
 * or a block's lanes at one position */
static void put_row_call(text *t, const lanes *L, const nl_frow *I, const char *n, const char *indent)
{
    char a[48];
    if (I->a.kind == OPD_REG)
        snprintf(a, sizeof a, "R%d", I->a.index);
    else if (L->blocked)
        snprintf(a, sizeof a, "%s", I->a.kind == OPD_X ? "xp" : "dyv");
    else
        snprintf(a, sizeof a, "%s", I->a.kind == OPD_X ? "x" : "dy");
    put(t, "%sA->elementary(%d, R%d, %s, %s);\n", indent, (int)I->op, I->dst, a, n);
}

/* the row layout's function: the instructions over segment [start, start
 * + m) of a row; mode: the store's (0 copy, 1 add, 2 ReLU, 3 ReLU of the
 * sum with skip) */
static bool put_row_function(text *t, const gen *G, pass_info *P, const char *name)
{
    const nl_fpass *pass = P->pass;
    const nl_frow *code = P->code;
    const lanes L = lanes_of(G);
    int stages;
    if (!analyze(P, &stages))
        return false;
    put(t, "static inline __attribute__((always_inline)) void %s(const args *A, int c0, int p0, "
           "int start, int m, const float *restrict x, const float *restrict dy, float *o, "
           "const float *skip, const int mode)\n{\n", name);
    put(t, "    (void)c0; (void)p0; (void)start; (void)x; (void)dy; (void)o; (void)skip; (void)mode;\n");
    /* the registers' rows, for values crossing a stage */
    for (int r = 0; r < pass->registers; r++)
        put(t, "    float *const R%d = A->regs + %d; (void)R%d;\n", r, r * NL_FORMULA_SEGMENT, r);
    if (!put_scalars(t, G, P, &L, "    "))
        return false;
    for (int st = 0; st <= stages; st++) {
        int first, last;
        if (!stage_bounds(P, st, &first, &last))
            continue;
        if (calls_row_function(&code[first])) {
            put_row_call(t, &L, &code[first], "m", "    ");
            continue;
        }
        bool parts = false;
        for (int k = first; k <= last; k++)
            parts |= has_parts(G, &code[k]);
        put(t, "    {\n");
        for (int k = first; k <= last; k++)
            if (has_parts(G, &code[k]))
                put(t, "        double part%d[8] = {0};\n", k);
        /* the loop: lanes in eights where partial sums take lane j & 7 */
        const char *loops[2] = {"        int j = 0;\n        for (; j + 8 <= m; j += 8)\n"
                                "        for (int q = 0; q < 8; q++) {\n"
                                "        const int jj = j + q;\n",
                                "        for (int q = 0; j + q < m; q++) {\n"
                                "        const int jj = j + q;\n"};
        for (int copy = 0; copy < (parts ? 2 : 1); copy++) {
            put(t, "%s", parts ? loops[copy] : "        for (int jj = 0; jj < m; jj++) {\n");
            for (int k = first; k <= last; k++)
                if (!put_instruction(t, G, P, &L, k, copy ? "[(j + q) & 7]" : "[q]"))
                    return false;
            put(t, "        }\n");
        }
        put_reduction_ends(t, G, P, &L, first, last, "        ");
        put(t, "    }\n");
    }
    put(t, "}\n\n");
    return true;
}

/* the channel-blocked layout's function, whole: one sample's blocks,
 * segment by segment (the interpreter's, so that reductions add in its
 * order), position by position, the block's channels the lanes */
static bool put_blocked_function(text *t, const gen *G, pass_info *P, const char *name)
{
    const nl_fpass *pass = P->pass;
    const nl_frow *code = P->code;
    const lanes L = lanes_of(G);
    const int B = G->block, blocks = G->C / B, SEG = NL_FORMULA_SEGMENT;
    int stages;
    if (!analyze(P, &stages))
        return false;
    put(t, "static inline __attribute__((always_inline)) void %s(const args *A, const int mode)\n{\n"
           "    const int b = A->b;\n    const int masked = A->relu && A->dy;\n    (void)masked;\n", name);
    for (int r = 0; r < pass->registers; r++)
        put(t, "    float *const R%d = A->regs + %d; (void)R%d;\n", r, r * B, r);
    put(t, "    for (int cb = 0; cb < %d; cb++) {\n        const int c0b = cb * %d;\n", blocks, B);
    if (!put_scalars(t, G, P, &L, "        "))
        return false;
    put(t, "        for (int start = 0; start < %d; start += %d) {\n"
           "            const int m = %d - start < %d ? %d - start : %d;\n"
           "            const size_t base = (((size_t)b * %d + (size_t)cb) * %d + (size_t)start) * %d;\n",
        G->P, SEG, G->P, SEG, G->P, SEG, blocks, G->P, B);
    for (int k = 0; k < pass->count; k++)
        if (has_parts(G, &code[k]))
            put(t, "            double part%d[8][%d] = {{0}};\n", k, B);
    /* dy as the pass reads it: where a ReLU was fused, dy where the output
     * is > 0, also handed to the fused add's other input in the first
     * pass; each case its own loop, so that each is the vector width */
    put(t, "            for (int p = 0; p < m; p++) {\n"
           "            const size_t at = base + (size_t)p * %d;\n"
           "            const float *xp = A->x + at; (void)xp;\n"
           "            float dyv[%d]; (void)dyv;\n"
           "            if (A->dy && masked) {\n"
           "                const float *restrict yq = A->y + at, *restrict dq = A->dy + at;\n"
           "                LANES for (int j = 0; j < %d; j++)\n"
           "                    dyv[j] = yq[j] <= 0 ? 0.0f : dq[j];\n"
           "                if (A->dskip && A->first_pass) {\n"
           "                    float *restrict sq = A->dskip + at;\n"
           "                    if (A->accumulate_dskip)\n"
           "                        LANES for (int j = 0; j < %d; j++)\n"
           "                            sq[j] = sq[j] + dyv[j];\n"
           "                    else\n"
           "                        LANES for (int j = 0; j < %d; j++)\n"
           "                            sq[j] = dyv[j];\n"
           "                }\n"
           "            } else if (A->dy)\n"
           "                LANES for (int j = 0; j < %d; j++)\n"
           "                    dyv[j] = A->dy[at + j];\n", B, B, B, B, B, B);
    for (int st = 0; st <= stages; st++) {
        int first, last;
        if (!stage_bounds(P, st, &first, &last))
            continue;
        if (calls_row_function(&code[first])) {
            char n[16];
            snprintf(n, sizeof n, "%d", B);
            put_row_call(t, &L, &code[first], n, "            ");
            continue;
        }
        put(t, "            LANES for (int j = 0; j < %d; j++) {\n", B);
        for (int k = first; k <= last; k++)
            if (!put_instruction(t, G, P, &L, k, "[p & 7][j]"))
                return false;
        put(t, "            }\n");
    }
    put(t, "            }\n");
    put_reduction_ends(t, G, P, &L, 0, pass->count - 1, "            ");
    put(t, "        }\n    }\n}\n\n");
    return true;
}

/* the pass's entry: one sample's rows, as formula.c's run_sample */
static void put_sample_function(text *t, const gen *G, const char *row, const char *name,
                                bool stores, bool backward)
{
    const nl_formula_input *in = &G->p->in;
    const int SEG = NL_FORMULA_SEGMENT;
    const int scratch = G->p->registers * SEG; /* the tiles past the registers */
    put(t, "void %s(const args *A)\n{\n", name);
    if (!G->block)
        put(t, "    const int b = A->b;\n    const int masked = A->relu && A->dy;\n");
    if (G->block) {
        /* the store's modes only where the pass stores: ReLU and the add
         * are a forward's, an accumulated store a backward's */
        if (stores && !backward)
            put(t, "    if (A->relu && A->skip) %s(A, 3);\n"
                   "    else if (A->relu) %s(A, 2);\n"
                   "    else %s(A, 0);\n", row, row, row);
        else if (stores)
            put(t, "    if (A->accumulate) %s(A, 1);\n    else %s(A, 0);\n", row, row);
        else
            put(t, "    %s(A, 0);\n", row);
        put(t, "}\n\n");
        return;
    }
    const bool image = in->ndim == 4;
    const int per_sample = image ? G->C : G->P, len = image ? G->P : G->C;
    put(t, "    for (long r = (long)b * %d; r < (long)(b + 1) * %d; r++) {\n", per_sample, per_sample);
    if (image)
        put(t, "        const int c0 = (int)(r %% %d), p0 = 0;\n", G->C);
    else
        put(t, "        const int c0 = 0, p0 = (int)(r %% %d);\n", G->P);
    put(t, "        for (int start = 0; start < %d; start += %d) {\n"
           "            const int m = %d - start < %d ? %d - start : %d;\n"
           "            const size_t offset = (size_t)r * %d + (size_t)start;\n"
           "            const float *dy = A->dy ? A->dy + offset : 0;\n"
           "            if (dy && A->relu) {\n"
           "                float *mk = A->regs + %d;\n"
           "                const float *y = A->y + offset;\n"
           "                for (int j = 0; j < m; j++)\n"
           "                    mk[j] = y[j] <= 0 ? 0.0f : dy[j];\n"
           "                dy = mk;\n"
           "                if (A->dskip && A->first_pass) {\n"
           "                    float *ds = A->dskip + offset;\n"
           "                    for (int j = 0; j < m; j++)\n"
           "                        ds[j] = A->accumulate_dskip ? ds[j] + mk[j] : mk[j];\n"
           "                }\n"
           "            }\n"
           "            float *o = A->out ? A->out + offset : 0;\n"
           "            const float *x = A->x + offset;\n"
           "            const float *skip = A->skip && !A->dy ? A->skip + offset : 0;\n"
           "            (void)skip; (void)o;\n",
        len, SEG, len, SEG, len, SEG, len, scratch);
    if (stores && !backward)
        put(t, "            if (A->relu && !A->dy && skip) %s(A, c0, p0, start, m, x, dy, o, skip, 3);\n"
               "            else if (A->relu && !A->dy) %s(A, c0, p0, start, m, x, dy, o, 0, 2);\n"
               "            else ", row, row);
    else if (stores)
        put(t, "            if (A->accumulate) %s(A, c0, p0, start, m, x, dy, o, 0, 1);\n"
               "            else ", row);
    else
        put(t, "            ");
    put(t, "%s(A, c0, p0, start, m, x, dy, o, 0, 0);\n"
           "        }\n    }\n}\n\n", row);
}

char *nl_formula_codegen(nl_formula_plan *p, int block, const char *key)
{
    gen G = {.p = p, .block = block, .C = p->in.c, .P = p->in.p, .G = p->in.groups > 0 ? p->in.groups : 1};
    text t = {0};
    /* the library functions it calls declared here, not by the system's
     * headers: parsing <math.h> was a fifth of a small formula's compile */
    put(&t, "/* generated by normlab from a formula plan's IR (core/norm/formula_codegen.c) */\n"
            "typedef __SIZE_TYPE__ size_t;\n"
            "float sqrtf(float); float expf(float); float logf(float); float tanhf(float);\n"
            "float erff(float); float fabsf(float); float fminf(float, float);\n"
            "float fmaxf(float, float); float powf(float, float);\n"
            "typedef struct { " STR(NL_FPASS_ARGS_FIELDS) " } args;\n"
            /* a block's lanes are left to the loop vectorizer: unrolled
             * whole first, gcc's straight-line vectorizer left the partial
             * sums' conversions to double scalar */
            "#define LANES _Pragma(\"GCC unroll 1\")\n"
            "static inline float fb(unsigned u) { float f; __builtin_memcpy(&f, &u, sizeof f); return f; }\n"
            "const char nl_formula_object_key[] = \"%s\";\n\n", key);
    const nl_fgraph *graphs[2] = {&p->train, &p->eval};
    for (int gi = 0; gi < 2 && !t.failed; gi++) {
        G.g = graphs[gi];
        const nl_fprogram *progs[2] = {&G.g->forward, G.g->has_backward ? &G.g->backward : NULL};
        for (int pi = 0; pi < 2; pi++) {
            if (!progs[pi])
                continue;
            for (int si = 0; si < progs[pi]->n_passes; si++) {
                nl_fpass *pass = &progs[pi]->passes[si];
                pass->n_slots = -1;
                /* the evaluation graph runs only where running statistics
                 * exist (expr.c's mode_of: the training graph otherwise) */
                if (gi == 1 && p->n_running == 0)
                    continue;
                pass->n_slots = 0;
                pass_info P = {.pass = pass, .code = progs[pi]->rows + pass->first};
                const int regs = pass->registers > 0 ? pass->registers : 1;
                P.producer = malloc((size_t)regs * sizeof *P.producer);
                P.stage = calloc((size_t)pass->count + 1, sizeof *P.stage);
                P.buffered = calloc((size_t)pass->count + 1, sizeof *P.buffered);
                if (!P.producer || !P.stage || !P.buffered) {
                    free(P.producer), free(P.stage), free(P.buffered);
                    free(t.buf);
                    return NULL;
                }
                for (int r = 0; r < regs; r++)
                    P.producer[r] = -1;
                char row[48], name[48];
                snprintf(row, sizeof row, "row_g%dp%ds%d", gi, pi, si);
                snprintf(name, sizeof name, "nl_fp_g%dp%ds%d", gi, pi, si);
                const size_t mark = t.len;
                bool stores = false;
                for (int k = 0; k < pass->count; k++)
                    stores |= P.code[k].kind == RI_STORE;
                if (block ? put_blocked_function(&t, &G, &P, row) : put_row_function(&t, &G, &P, row)) {
                    put_sample_function(&t, &G, row, name, stores, pi == 1);
                    pass->n_slots = P.n_slots;
                    memcpy(pass->slot_node, P.slot_of, sizeof P.slot_of);
                } else {
                    /* a pass the generator cannot express stays interpreted */
                    t.len = mark;
                    if (t.buf)
                        t.buf[t.len] = 0;
                    pass->n_slots = -1;
                }
                free(P.producer), free(P.stage), free(P.buffered);
            }
        }
    }
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
