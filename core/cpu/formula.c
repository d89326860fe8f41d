/* Runs a formula's programs (core/norm/formula_plan.c) over a layer's
 * activations, as the CPU's formula_forward and formula_backward ops:
 * the small values between passes, and each pass row by row, a row
 * being the input's values along its innermost axis (an image channel's
 * pixels; a token's or feature vector's channels), cut into segments the
 * row registers hold. Reductions add a row into double accumulators in a
 * fixed order, so a run gives the same bits every time. Host memory: the
 * CPU backend's. */
#include <math.h>
#include <string.h>

#include "backend/formula_program.h"
#include "cpu/cpu.h"
#include "cpu/vmath.h"

typedef struct {
    const nl_formula_plan *plan;
    const nl_fgraph *g;
    nl_formula_io *io;
    float *small;   /* the workspace's small values */
    double *acc;
    float *regs;
    int n;
} runner;

static int size_c(const nl_formula_input *in, int state)
{
    return state == FC_ALL ? in->c : state == FC_GROUPS ? in->groups : 1;
}

/* channel index ci of a value in channel state `from` as the index of a
 * value in state `to` (the same or coarser) */
static int map_c(const nl_formula_input *in, int ci, int from, int to)
{
    if (to == FC_ONE)
        return 0;
    if (to == from)
        return ci;
    return ci / (in->c / in->groups); /* all channels to their groups */
}

static size_t count_of(const runner *R, nl_fshape s)
{
    return (s.b ? (size_t)R->n : 1) * (size_t)size_c(&R->plan->in, s.c) *
           (s.p ? (size_t)R->plan->in.p : 1);
}

/* where a value of shape s holds element (b, channel ci in state `from`, p) */
static size_t index_of(const runner *R, nl_fshape s, int b, int ci, int from, int p)
{
    const nl_formula_input *in = &R->plan->in;
    return (((size_t)(s.b ? b : 0) * (size_t)size_c(in, s.c) + (size_t)map_c(in, ci, from, s.c)) *
            (s.p ? (size_t)in->p : 1)) +
           (size_t)(s.p ? p : 0);
}

static float *values_of(const runner *R, int node)
{
    const nl_fnode *n = &R->g->nodes[node];
    if (n->op == FO_PARAM)
        return (float *)R->io->params[n->k];
    if (n->op == FO_STATE)
        return R->io->running[n->k];
    return (R->g->in_saved[node] ? R->io->saved : R->small) + R->g->offset[node];
}

static double reduction_scale(const runner *R, const nl_fnode *n)
{
    return nl_formula_reduction_scale(&R->plan->in, R->n, n, R->g->nodes[n->a].s);
}

/* the elementary functions on a row, 8 floats at a time through vmath.h
 * (glibc's scalar expf, tanhf and erff take many times longer); the tail
 * goes through the same vectors, so a value's result does not depend on
 * where in a row it falls */
static inline nl_v8 v8_of(nl_formula_op op, nl_v8 x)
{
    const nl_v8 one = nl_v8_splat(1.0f);
    switch (op) {
    case FO_EXP: return nl_v8_exp(x);
    case FO_TANH: return nl_v8_tanh(x);
    case FO_SIGMOID: return one / (one + nl_v8_exp(-x));
    default: { /* FO_ERF: sign(x) (1 - erfc(|x|)) */
        const nl_v8i sign = nl_v8_sign_bits(x);
        const nl_v8 a = (nl_v8)((nl_v8i)x ^ sign);
        return (nl_v8)((nl_v8i)(one - nl_v8_erfc_nonneg(a)) | sign);
    }
    }
}

static bool row_elementary(nl_formula_op op, float *d, const float *a, int m)
{
    if (!a || (op != FO_EXP && op != FO_TANH && op != FO_SIGMOID && op != FO_ERF))
        return false;
    int j = 0;
    for (; j + 8 <= m; j += 8)
        nl_v8_store(d + j, v8_of(op, nl_v8_load(a + j)));
    if (j < m) {
        float t[8] = {0};
        memcpy(t, a + j, (size_t)(m - j) * sizeof *t);
        nl_v8_store(t, v8_of(op, nl_v8_load(t)));
        memcpy(d + j, t, (size_t)(m - j) * sizeof *t);
    }
    return true;
}

/* one elementwise operation over m values; pa / pb NULL: the scalar sa / sb.
 * The common operations have loops of their own, which the compiler
 * vectorizes; the rest go through nl_formula_apply(). */
static void row_op(nl_formula_op op, float v, float *d, const float *pa, float sa,
                   const float *pb, float sb, int m)
{
#define ROW_LOOP(EXPR)                                                                             \
    do {                                                                                           \
        if (pa && pb)                                                                              \
            for (int j = 0; j < m; j++) {                                                          \
                const float a = pa[j], b = pb[j];                                                  \
                d[j] = (EXPR);                                                                     \
            }                                                                                      \
        else if (pa)                                                                               \
            for (int j = 0; j < m; j++) {                                                          \
                const float a = pa[j], b = sb;                                                     \
                d[j] = (EXPR);                                                                     \
            }                                                                                      \
        else if (pb)                                                                               \
            for (int j = 0; j < m; j++) {                                                          \
                const float a = sa, b = pb[j];                                                     \
                d[j] = (EXPR);                                                                     \
            }                                                                                      \
        else                                                                                       \
            for (int j = 0; j < m; j++) {                                                          \
                const float a = sa, b = sb;                                                        \
                d[j] = (EXPR);                                                                     \
            }                                                                                      \
    } while (0)
    if (row_elementary(op, d, pa, m))
        return;
    switch (op) {
    case FO_ADD: ROW_LOOP(a + b); break;
    case FO_SUB: ROW_LOOP(a - b); break;
    case FO_MUL: ROW_LOOP(a * b); break;
    case FO_DIV: ROW_LOOP(a / b); break;
    case FO_NEG: ROW_LOOP(((void)b, -a)); break;
    case FO_SQRT: ROW_LOOP(((void)b, sqrtf(a))); break;
    case FO_RELU: ROW_LOOP(((void)b, a <= 0 ? 0.0f : a)); break; /* a NaN kept */
    case FO_STEP: ROW_LOOP(((void)b, a > 0 ? 1.0f : 0.0f)); break;
    default: ROW_LOOP(nl_formula_apply(op, a, b, v)); break;
    }
#undef ROW_LOOP
}

/* a segment's sum in double, in eight interleaved partial sums (a fixed
 * order, so the same bits every run; one chain of dependent adds would
 * leave the adder waiting) */
static double row_sum(const float *u, int m)
{
    double part[8] = {0};
    int j = 0;
    for (; j + 8 <= m; j += 8)
        for (int k = 0; k < 8; k++)
            part[k] += u[j + k];
    for (; j < m; j++)
        part[j & 7] += u[j];
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

/* a segment's largest value (an amax's; any order gives its bits) */
static double row_max(const float *u, int m)
{
    double best = -INFINITY;
    for (int j = 0; j < m; j++)
        best = fmax(best, (double)u[j]);
    return best;
}

/* a reduction's accumulator taking one more value: added, or (amax) the larger kept */
static inline void accumulate_into(double *acc, double v, bool max)
{
    *acc = max ? fmax(*acc, v) : *acc + v;
}

/* the geometry of rows: how many, their length, and a row's (b, c, p) */
typedef struct {
    long rows;
    int len;
} rows_of;

static rows_of rows_geometry(const runner *R)
{
    const nl_formula_input *in = &R->plan->in;
    if (in->ndim == 4)
        return (rows_of){(long)R->n * in->c, in->p};
    return (rows_of){(long)R->n * in->p, in->c};
}

static void row_coords(const runner *R, long r, int *b, int *c, int *p)
{
    const nl_formula_input *in = &R->plan->in;
    if (in->ndim == 4) {
        *b = (int)(r / in->c);
        *c = (int)(r % in->c);
        *p = 0;
    } else {
        *b = (int)(r / in->p);
        *p = (int)(r % in->p);
        *c = 0;
    }
}

/* operand o's values over segment [start, start + m) of row (b, c, p):
 * a pointer, or NULL and the scalar in *s */
static const float *operand_values(const runner *R, float *regs, nl_fopd o, const float *x,
                                   const float *dy, int b, int c, int p, float *s)
{
    switch (o.kind) {
    case OPD_X: return x;
    case OPD_DY: return dy;
    case OPD_REG: return regs + (size_t)o.index * NL_FORMULA_SEGMENT;
    case OPD_SCALAR: {
        const nl_fshape sh = R->g->nodes[o.index].s;
        *s = values_of(R, o.index)[index_of(R, sh, b, c, FC_ALL, p)];
        return NULL;
    }
    default: *s = 0; return NULL;
    }
}

/* a reduction of a row value that does not keep the batch: one partial
 * sum per sample (formula_plan.c plans them) */
static bool partial_per_sample(const runner *R, int node)
{
    const nl_fnode *n = &R->g->nodes[node];
    return !n->s.b;
}

/* where one segment's rows of x and dy are, and where its output goes
 * (contiguous, m values each) */
typedef struct {
    const float *x, *dy;
    float *y;
    bool accumulate;
    bool relu;         /* the stored values max(v, 0): a fused ReLU's forward */
    const float *skip; /* and a fused residual add's: max(v + skip, 0) */
} segment_io;

/* the pass's instructions over one segment [start, start + m) of row (b,
 * c, p) (c: an image row's channel; p: a sequence row's token) */
/* o = relu(u + skip), u a row or (NULL) the value sa, skip a row or none;
 * each pointer tested outside its loop: a load the compiler makes masked on
 * it would read address 0 with its lanes off, which the hardware allows
 * and an emulator (qemu) faults. Adding no skip is adding 0, which only
 * turns -0 into +0, and the ReLU writes +0 for both; it keeps a NaN, as
 * torch.relu and the ReLU layer do (issue 118). */
static void store_relu(float *o, const float *u, float sa, const float *skip, int m)
{
    if (u && skip)
        for (int j = 0; j < m; j++) {
            const float v = u[j] + skip[j];
            o[j] = v <= 0 ? 0.0f : v;
        }
    else if (u)
        for (int j = 0; j < m; j++)
            o[j] = u[j] <= 0 ? 0.0f : u[j];
    else if (skip)
        for (int j = 0; j < m; j++) {
            const float v = sa + skip[j];
            o[j] = v <= 0 ? 0.0f : v;
        }
    else
        for (int j = 0; j < m; j++)
            o[j] = sa <= 0 ? 0.0f : sa;
}

static void run_segment(const runner *R, const nl_fpass *pass, const nl_frow *code, float *regs,
                        int b, int c0, int p0, int start, int m, const segment_io *io)
{
    const nl_formula_input *in = &R->plan->in;
    for (int k = 0; k < pass->count; k++) {
        const nl_frow *I = &code[k];
        float *dst = regs + (size_t)I->dst * NL_FORMULA_SEGMENT;
        float sa = 0, sb = 0;
        switch (I->kind) {
        case RI_OP: {
            const float *pa = operand_values(R, regs, I->a, io->x, io->dy, b, c0, p0, &sa);
            const float *pb = I->b.kind == OPD_NONE
                                  ? NULL
                                  : operand_values(R, regs, I->b, io->x, io->dy, b, c0, p0, &sb);
            row_op(I->op, I->v, dst, pa, sa, pb, sb, m);
            break;
        }
        case RI_GATHER: {
            const nl_fshape s = R->g->nodes[I->node].s;
            const float *v = values_of(R, I->node);
            for (int j = 0; j < m; j++)
                dst[j] = in->ndim == 4 ? v[index_of(R, s, b, c0, FC_ALL, start + j)]
                                       : v[index_of(R, s, b, start + j, FC_ALL, p0)];
            break;
        }
        case RI_REDUCE: {
            const nl_fshape s = R->g->nodes[I->node].s;
            double *acc = R->acc + R->g->acc_offset[I->node];
            if (partial_per_sample(R, I->node))
                acc += (size_t)b * count_of(R, s);
            const float *u = operand_values(R, regs, I->a, io->x, io->dy, b, c0, p0, &sa);
            const bool along = in->ndim == 4 ? s.p != 0 : s.c != FC_ONE;
            const bool max = R->g->nodes[I->node].op == FO_AMAX;
            if (along) {
                /* u tested outside the loops: a load the compiler makes
                 * masked on u would read address 0 with its lanes off,
                 * which the hardware allows and an emulator (qemu) faults */
                for (int j = 0; j < m && u && !max; j++)
                    acc[in->ndim == 4 ? index_of(R, s, b, c0, FC_ALL, start + j)
                                      : index_of(R, s, b, start + j, FC_ALL, p0)] += u[j];
                for (int j = 0; j < m && (!u || max); j++)
                    accumulate_into(&acc[in->ndim == 4 ? index_of(R, s, b, c0, FC_ALL, start + j)
                                                       : index_of(R, s, b, start + j, FC_ALL, p0)],
                                    u ? u[j] : sa, max);
            } else if (max) {
                accumulate_into(&acc[index_of(R, s, b, c0, FC_ALL, p0)], u ? row_max(u, m) : sa, true);
            } else {
                acc[index_of(R, s, b, c0, FC_ALL, p0)] += u ? row_sum(u, m) : (double)sa * m;
            }
            break;
        }
        case RI_STORE: {
            const float *u = operand_values(R, regs, I->a, io->x, io->dy, b, c0, p0, &sa);
            float *o = io->y;
            if (io->relu)
                store_relu(o, u, sa, io->skip, m);
            else if (io->accumulate && u)
                for (int j = 0; j < m; j++)
                    o[j] += u[j];
            else if (io->accumulate)
                for (int j = 0; j < m; j++)
                    o[j] += sa;
            else if (u)
                memcpy(o, u, (size_t)m * sizeof *o);
            else
                for (int j = 0; j < m; j++)
                    o[j] = sa;
            break;
        }
        }
    }
}

/* one sample's rows of a pass, with this thread's registers */
static void run_sample(const runner *R, const nl_fpass *pass, const nl_frow *code, float *regs,
                       int b, float *out, bool accumulate, bool first_pass)
{
    const nl_formula_input *in = &R->plan->in;
    const int block = R->io->block;
    if (block) {
        /* a channel-blocked image (N, C/B, HW, B): a segment of the block's
         * B rows is turned into B contiguous rows (a transpose in the
         * cache), run row by row, and the output turned back */
        const int B = block, blocks = in->c / B;
        float *xt = regs + (size_t)R->plan->registers * NL_FORMULA_SEGMENT;
        float *dyt = xt + (size_t)B * NL_FORMULA_SEGMENT, *yt = dyt + (size_t)B * NL_FORMULA_SEGMENT;
        const bool masked = R->io->relu && R->io->dy; /* a fused ReLU's backward */
        bool stores = false;
        for (int k = 0; k < pass->count; k++)
            stores |= code[k].kind == RI_STORE;
        for (int cb = 0; cb < blocks; cb++)
            for (int start = 0; start < in->p; start += NL_FORMULA_SEGMENT) {
                const int m = in->p - start < NL_FORMULA_SEGMENT ? in->p - start : NL_FORMULA_SEGMENT;
                const size_t base = (((size_t)b * blocks + (size_t)cb) * (size_t)in->p + (size_t)start) * (size_t)B;
                for (int p = 0; p < m; p++)
                    for (int j = 0; j < B; j++)
                        xt[(size_t)j * NL_FORMULA_SEGMENT + p] = R->io->x[base + (size_t)p * B + j];
                if (R->io->dy)
                    for (int p = 0; p < m; p++)
                        for (int j = 0; j < B; j++) {
                            const size_t i = base + (size_t)p * B + j;
                            const float g = masked ? (R->io->y[i] <= 0 ? 0.0f : R->io->dy[i])
                                                   : R->io->dy[i];
                            dyt[(size_t)j * NL_FORMULA_SEGMENT + p] = g;
                            if (masked && R->io->dskip && first_pass)
                                R->io->dskip[i] = R->io->accumulate_dskip ? R->io->dskip[i] + g : g;
                        }
                float *skipt = yt + (size_t)B * NL_FORMULA_SEGMENT;
                if (R->io->skip && !R->io->dy)
                    for (int p = 0; p < m; p++)
                        for (int j = 0; j < B; j++)
                            skipt[(size_t)j * NL_FORMULA_SEGMENT + p] = R->io->skip[base + (size_t)p * B + j];
                for (int j = 0; j < B; j++) {
                    const size_t row = (size_t)j * NL_FORMULA_SEGMENT;
                    const segment_io io = {xt + row, R->io->dy ? dyt + row : NULL, yt + row, false,
                                           R->io->relu && !R->io->dy,
                                           R->io->skip && !R->io->dy ? skipt + row : NULL};
                    run_segment(R, pass, code, regs, b, cb * B + j, 0, start, m, &io);
                }
                if (stores)
                    for (int p = 0; p < m; p++)
                        for (int j = 0; j < B; j++) {
                            float *o = out + base + (size_t)p * B + j;
                            const float v = yt[(size_t)j * NL_FORMULA_SEGMENT + p];
                            *o = accumulate ? *o + v : v;
                        }
            }
        return;
    }
    const rows_of geo = rows_geometry(R);
    const long per_sample = geo.rows / R->n;
    for (long r = (long)b * per_sample; r < (long)(b + 1) * per_sample; r++) {
        int rb, c0, p0;
        row_coords(R, r, &rb, &c0, &p0);
        (void)rb; /* b itself */
        for (int start = 0; start < geo.len; start += NL_FORMULA_SEGMENT) {
            const int m = geo.len - start < NL_FORMULA_SEGMENT ? geo.len - start : NL_FORMULA_SEGMENT;
            const size_t offset = (size_t)r * geo.len + (size_t)start;
            const float *dy = R->io->dy ? R->io->dy + offset : NULL;
            if (dy && R->io->relu) { /* a fused ReLU's backward: dy where y > 0 or NaN */
                float *masked = regs + (size_t)R->plan->registers * NL_FORMULA_SEGMENT;
                const float *y = R->io->y + offset;
                for (int j = 0; j < m; j++)
                    masked[j] = y[j] <= 0 ? 0.0f : dy[j];
                dy = masked;
                if (R->io->dskip && first_pass) { /* the fused add's other input */
                    float *ds = R->io->dskip + offset;
                    for (int j = 0; j < m; j++)
                        ds[j] = R->io->accumulate_dskip ? ds[j] + masked[j] : masked[j];
                }
            }
            const segment_io io = {R->io->x + offset, dy, out ? out + offset : NULL, accumulate,
                                   R->io->relu && !R->io->dy,
                                   R->io->skip && !R->io->dy ? R->io->skip + offset : NULL};
            run_segment(R, pass, code, regs, b, c0, p0, start, m, &io);
        }
    }
}

/* the kernel set's elementary functions over a row, for compiled passes:
 * the interpreter's own code, so that both give the same bits */
static void elementary_row(int op, float *d, const float *a, int m)
{
    row_elementary((nl_formula_op)op, d, a, m);
}

/* a compiled pass's arguments but the sample and its thread's registers */
static nl_fpass_args compiled_args(const runner *R, const nl_fpass *pass, float *out,
                                   bool accumulate, bool first_pass)
{
    const nl_formula_io *io = R->io;
    nl_fpass_args A = {.relu = io->relu, .accumulate = accumulate, .first_pass = first_pass,
                       .accumulate_dskip = io->accumulate_dskip, .x = io->x, .dy = io->dy,
                       .y = io->y, .skip = io->skip, .out = out, .dskip = io->dskip,
                       .elementary = elementary_row};
    for (int k = 0; k < pass->n_slots; k++) {
        const int node = pass->slot_node[k];
        const nl_formula_op op = R->g->nodes[node].op;
        A.vals[k] = values_of(R, node);
        A.accs[k] = nl_formula_is_reduction(op) ? R->acc + R->g->acc_offset[node] : NULL;
    }
    return A;
}

/* One pass: its samples in parallel (each writes its own outputs, and its
 * own partial sums of a reduction over the batch), then the reductions
 * finished in sample order: the same bits on any number of threads. */
static void run_pass(runner *R, const nl_fprogram *prog, const nl_fpass *pass, float *out,
                     bool accumulate)
{
    /* a fused add's gradient is written once, in the first pass */
    const bool first_pass = pass == prog->passes;
    const nl_frow *code = prog->rows + pass->first;
    for (int k = 0; k < pass->count; k++)
        if (code[k].kind == RI_REDUCE) {
            const int node = code[k].node;
            const size_t count = count_of(R, R->g->nodes[node].s);
            const size_t all = (partial_per_sample(R, node) ? (size_t)R->n : 1) * count;
            double *acc = R->acc + R->g->acc_offset[node];
            if (R->g->nodes[node].op == FO_AMAX) /* a max starts below every value */
                for (size_t i = 0; i < all; i++)
                    acc[i] = -INFINITY;
            else
                memset(acc, 0, all * sizeof(double));
        }
    const rows_of geo = rows_geometry(R);
    const size_t regs_per_thread =
        (size_t)(R->plan->registers + NL_FORMULA_TILES * NL_FORMULA_MAX_BLOCK) * NL_FORMULA_SEGMENT;
    const int planned = R->plan->in.threads > 1 ? R->plan->in.threads : 1;
    const bool parallel = planned > 1 && R->n > 1 &&
                          (size_t)geo.rows * (size_t)geo.len * (size_t)pass->count >= NL_PARALLEL_MIN;
    /* native code where the pass was compiled for this layout */
    const bool native = pass->compiled && R->io->block == R->plan->compiled_block;
    const nl_fpass_args base = native ? compiled_args(R, pass, out, accumulate, first_pass)
                                      : (nl_fpass_args){0};
    if (parallel) {
        _Pragma("omp parallel num_threads(planned)")
        {
            float *regs = R->regs + (size_t)omp_get_thread_num_safe() * regs_per_thread;
            nl_fpass_args A = base;
            A.regs = regs;
            _Pragma("omp for schedule(static)")
            for (int b = 0; b < R->n; b++) {
                if (native) {
                    A.b = b;
                    pass->compiled(&A);
                } else
                    run_sample(R, pass, code, regs, b, out, accumulate, first_pass);
            }
        }
    } else {
        nl_fpass_args A = base;
        A.regs = R->regs;
        for (int b = 0; b < R->n; b++) {
            if (native) {
                A.b = b;
                pass->compiled(&A);
            } else
                run_sample(R, pass, code, R->regs, b, out, accumulate, first_pass);
        }
    }
    for (int k = 0; k < pass->count; k++)
        if (code[k].kind == RI_REDUCE) {
            const int node = code[k].node;
            const nl_fnode *n = &R->g->nodes[node];
            const double scale = reduction_scale(R, n);
            double *acc = R->acc + R->g->acc_offset[node];
            float *v = values_of(R, node);
            const size_t count = count_of(R, n->s);
            if (partial_per_sample(R, node))
                for (int b = 1; b < R->n; b++)
                    for (size_t i = 0; i < count; i++)
                        accumulate_into(&acc[i], acc[(size_t)b * count + i], n->op == FO_AMAX);
            for (size_t i = 0; i < count; i++)
                v[i] = (float)(acc[i] * scale);
        }
}

/* a small value from small operands, over its own elements */
static void compute_small(runner *R, int node)
{
    const nl_fnode *n = &R->g->nodes[node];
    const nl_formula_input *in = &R->plan->in;
    float *v = values_of(R, node);
    if (n->op == FO_CONST) {
        v[0] = n->v;
        return;
    }
    if (n->op == FO_INVCOUNT) {
        v[0] = (float)(1.0 / nl_formula_averaged(in, R->n, n));
        return;
    }
    const nl_fshape s = n->s;
    if (nl_formula_is_reduction(n->op)) {
        const nl_fshape is = R->g->nodes[n->a].s;
        const float *u = values_of(R, n->a);
        double *acc = R->acc + R->g->acc_offset[node];
        const size_t count = count_of(R, s);
        const bool max = n->op == FO_AMAX;
        for (size_t i = 0; i < count; i++)
            acc[i] = max ? -INFINITY : 0.0;
        const int nb = is.b ? R->n : 1, nc = size_c(in, is.c), np = is.p ? in->p : 1;
        for (int b = 0; b < nb; b++)
            for (int c = 0; c < nc; c++)
                for (int p = 0; p < np; p++)
                    accumulate_into(&acc[index_of(R, s, b, c, is.c, p)],
                                    u[index_of(R, is, b, c, is.c, p)], max);
        const double scale = reduction_scale(R, n);
        for (size_t i = 0; i < count; i++)
            v[i] = (float)(acc[i] * scale);
        return;
    }
    const int nb = s.b ? R->n : 1, nc = size_c(in, s.c), np = s.p ? in->p : 1;
    const float *a = values_of(R, n->a);
    const nl_fshape as = R->g->nodes[n->a].s;
    const float *bv = n->b >= 0 ? values_of(R, n->b) : NULL;
    const nl_fshape bs = n->b >= 0 ? R->g->nodes[n->b].s : as;
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < nc; c++)
            for (int p = 0; p < np; p++)
                v[index_of(R, s, b, c, s.c, p)] =
                    nl_formula_apply(n->op, a[index_of(R, as, b, c, s.c, p)],
                          bv ? bv[index_of(R, bs, b, c, s.c, p)] : 0.0f, n->v);
}

static void run_program(runner *R, const nl_fprogram *prog, float *out, bool accumulate)
{
    int next = 0;
    for (int level = 0; level <= prog->n_passes; level++) {
        while (next < prog->n_small && prog->small_level[next] == level)
            compute_small(R, prog->small[next++]);
        if (level < prog->n_passes)
            run_pass(R, prog, &prog->passes[level], out, accumulate);
    }
}

static runner runner_of(const nl_formula_plan *p, nl_formula_mode mode, nl_formula_io *io)
{
    runner R = {.plan = p, .g = mode == NL_FORMULA_EVAL ? &p->eval : &p->train, .io = io, .n = io->n};
    char *w = io->workspace;
    const size_t small_bytes = (p->work_floats * sizeof(float) + 63) & ~(size_t)63;
    const size_t acc_bytes = (p->acc_doubles * sizeof(double) + 63) & ~(size_t)63;
    R.small = (float *)w;
    R.acc = (double *)(w + small_bytes);
    R.regs = (float *)(w + small_bytes + acc_bytes);
    return R;
}

void nl_cpu_formula_forward(nl_backend *be, const nl_formula_plan *p, nl_formula_mode mode,
                            nl_formula_io *io)
{
    (void)be;
    runner R = runner_of(p, mode, io);
    run_program(&R, &R.g->forward, io->y, false);
    if (mode != NL_FORMULA_TRAIN)
        return;
    for (int k = 0; k < p->n_running; k++) {
        const nl_frunning *rs = &p->running[k];
        const nl_fnode *src = &R.g->nodes[rs->source];
        double unbiased = 1;
        if (rs->variance) {
            const double count = nl_formula_averaged(&p->in, R.n, &R.g->nodes[rs->mean]);
            if (count > 1)
                unbiased = count / (count - 1);
        }
        const float *v = values_of(&R, rs->source);
        float *run = io->running[k];
        const size_t count = count_of(&R, src->s);
        const float m = io->momentum;
        for (size_t i = 0; i < count; i++)
            run[i] = (1.0f - m) * run[i] + m * (float)(v[i] * unbiased);
    }
}

void nl_cpu_formula_backward(nl_backend *be, const nl_formula_plan *p, nl_formula_mode mode,
                             nl_formula_io *io)
{
    (void)be;
    runner R = runner_of(p, mode, io);
    const nl_fprogram *prog = &R.g->backward;
    run_program(&R, prog, io->dx, io->accumulate_dx);
    for (int k = 0; k < p->n_params; k++) {
        float *d = io->dparams[k];
        if (!d)
            continue;
        const int count = nl_formula_param_count_of(p, k);
        const int node = prog->dparam[k];
        if (node < 0) {
            memset(d, 0, (size_t)count * sizeof *d);
            continue;
        }
        const nl_fshape s = R.g->nodes[node].s;
        const float *v = values_of(&R, node);
        for (int c = 0; c < count; c++)
            d[c] = v[index_of(&R, s, 0, c, p->param_c[k], 0)];
    }
}
