/* A formula normalizer's programs (backend/formula_program.h) on the GPU:
 * the device twin of the CPU's row interpreter (core/cpu/formula.c), from
 * the same plan, giving its sums in its order.
 *
 * - A pass is one kernel, a block per sample of NL_FORMULA_SEGMENT threads:
 *   the block walks its sample's rows and each row's segments in the
 *   interpreter's order, thread j holding the segment's value j of every
 *   row register (the plan's register rows, in the workspace: a block's
 *   own, so the plan's threads are the batch capacity, expr.c). A
 *   reduction adds into the plan's double accumulators as the interpreter
 *   does: a segment's sum in eight interleaved partial sums combined in
 *   the same tree, a sum along the row value by value, each accumulator in
 *   row order; one partial per sample where the reduction drops the
 *   batch, added in sample order after the pass. An amax keeps the
 *   larger value instead (from -infinity, a NaN passed over: fmax, as the
 *   CPU). The sums are therefore the CPU's bits; the elementary
 *   functions (exp, tanh, sigmoid, erf) are the device's expf and the
 *   like, where the CPU has its vector kernels, a few ulps apart (the
 *   parity test's tolerance).
 * - A fused ReLU writes y <= 0 ? +0 : y, a NaN kept, and its backward
 *   passes dy except where y <= 0, as the CPU's (issue 118).
 * - A pass without reductions whose registers fit a thread's array (most
 *   formulas' last pass, which writes y or dx) is a thread per value
 *   instead, over the whole batch; nothing crosses values, so the bits
 *   are the same (NORMLAB_CUDA_FORMULA_BLOCKS=1 runs it by blocks too).
 * - A small value (between passes) is a kernel over its elements, each
 *   reduction element summing its inputs serially in the interpreter's
 *   loop order.
 * - Running statistics are updated after the forward in training, the
 *   momentum read from the per-step scalars (nl_formula_io.momentum_at).
 * The node tables and row programs are read from the plan's image on the
 * device (nl_formula_io.program, uploaded once when the model is built);
 * the host walks the passes and the small values from the plan itself.
 * NCHW only (the CUDA backend has no channel-blocked layout). Nothing is
 * allocated: the accumulators, small values and registers are the plan's
 * workspace. */
#include <math.h>

#include "cuda/cuda_common.h"
#include "backend/formula_program.h"

enum { SEG = NL_FORMULA_SEGMENT };

/* a graph's node tables (the image's on the device, the plan's on the host) */
typedef struct {
    const nl_fnode *nodes;
    const long *offset;
    const bool *in_saved;
    const long *acc_offset;
} fview;

typedef struct {
    int ndim, c, p, groups, n;
} fdims;

/* where a run's values live (device memory) */
typedef struct {
    const float *params[NL_FORMULA_MAX_PARAMS];
    float *running[NL_FORMULA_MAX_RUNNING];
    float *saved, *small;
    double *acc;
    float *regs;
} fbufs;

__host__ __device__ static inline int size_c(const fdims &d, int state)
{
    return state == FC_ALL ? d.c : state == FC_GROUPS ? d.groups : 1;
}

__host__ __device__ static inline int map_c(const fdims &d, int ci, int from, int to)
{
    if (to == FC_ONE)
        return 0;
    if (to == from)
        return ci;
    return ci / (d.c / d.groups);
}

__host__ __device__ static inline size_t count_of(const fdims &d, nl_fshape s)
{
    return (s.b ? (size_t)d.n : 1) * (size_t)size_c(d, s.c) * (s.p ? (size_t)d.p : 1);
}

__host__ __device__ static inline size_t index_of(const fdims &d, nl_fshape s, int b, int ci,
                                                  int from, int p)
{
    return (((size_t)(s.b ? b : 0) * (size_t)size_c(d, s.c) + (size_t)map_c(d, ci, from, s.c)) *
            (s.p ? (size_t)d.p : 1)) +
           (size_t)(s.p ? p : 0);
}

__host__ __device__ static inline float *values_of(const fview &g, const fbufs &m, int node)
{
    const nl_fnode *n = &g.nodes[node];
    if (n->op == FO_PARAM)
        return (float *)m.params[n->k];
    if (n->op == FO_STATE)
        return m.running[n->k];
    return (g.in_saved[node] ? m.saved : m.small) + g.offset[node];
}

/* ------------------------------------------------------------------------ */
/* a pass                                                                    */

typedef struct {
    fview g;
    fdims d;
    fbufs m;
    const nl_frow *code;
    int count;
    const float *x, *dy, *y, *skip;
    float *dskip, *out;
    int relu, accumulate, accumulate_dskip, first_pass;
    size_t regs_per_block;
} pass_args;

/* where the block (or an elementwise pass's thread) is: its sample, row
 * and segment (an element: a segment of one value) */
typedef struct {
    int b, c0, p0, start, m;
    size_t offset; /* the segment's first value in x, y, dy */
    float *regs;   /* register k's value j at regs[k * stride + j] */
    int stride;
} seg_at;

/* the fused ReLU's backward: dy where the stored output is > 0 or NaN
 * (the CPU's rule, torch's threshold_backward: 0 where y <= 0) */
__device__ static inline float dy_at(const pass_args &A, size_t i)
{
    return A.relu ? (A.y[i] <= 0 ? 0.0f : A.dy[i]) : A.dy[i];
}

/* an amax's accumulator taking one more value: the larger kept, a NaN
 * passed over (C's fmax, as the CPU's accumulate_into) */
__host__ __device__ static inline double max_into(double acc, double v)
{
    return fmax(acc, v);
}

/* the fused add's other input's gradient at i (the first pass writes it) */
__device__ static inline void write_dskip(const pass_args &A, size_t i)
{
    const float g = dy_at(A, i);
    A.dskip[i] = A.accumulate_dskip ? A.dskip[i] + g : g;
}

/* operand o's value k of the segment; *scalar: constant along the row */
__device__ static float operand(const pass_args &A, const seg_at &S, nl_fopd o, int k, bool *scalar)
{
    *scalar = false;
    switch (o.kind) {
    case OPD_X: return A.x[S.offset + k];
    case OPD_DY: return dy_at(A, S.offset + k);
    case OPD_REG: return S.regs[(size_t)o.index * S.stride + k];
    case OPD_SCALAR: {
        *scalar = true;
        const nl_fshape sh = A.g.nodes[o.index].s;
        return values_of(A.g, A.m, o.index)[index_of(A.d, sh, S.b, S.c0, FC_ALL, S.p0)];
    }
    default: *scalar = true; return 0.0f;
    }
}

/* the accumulator a row value k of the segment adds into */
__device__ static inline size_t along_index(const pass_args &A, const seg_at &S, nl_fshape s, int k)
{
    return A.d.ndim == 4 ? index_of(A.d, s, S.b, S.c0, FC_ALL, S.start + k)
                         : index_of(A.d, s, S.b, S.start + k, FC_ALL, S.p0);
}

/* RI_REDUCE: every thread of the block calls it (it synchronizes) */
__device__ static void reduce_segment(const pass_args &A, const seg_at &S, const nl_frow *I,
                                      double *part)
{
    const int j = threadIdx.x;
    const nl_fshape s = A.g.nodes[I->node].s;
    double *acc = A.m.acc + A.g.acc_offset[I->node];
    if (!s.b) /* a partial sum per sample */
        acc += (size_t)S.b * count_of(A.d, s);
    __syncthreads(); /* the operand's register row, whole */
    const bool along = A.d.ndim == 4 ? s.p != 0 : s.c != FC_ONE;
    const bool max = A.g.nodes[I->node].op == FO_AMAX;
    bool scalar;
    if (along) {
        /* values meeting in one accumulator (a group of a token's
         * channels) are consecutive: the first of each run adds them in
         * order, as the interpreter's loop does */
        if (j < S.m && (j == 0 || along_index(A, S, s, j - 1) != along_index(A, S, s, j))) {
            const size_t at = along_index(A, S, s, j);
            for (int k = j; k < S.m && along_index(A, S, s, k) == at; k++) {
                const double v = operand(A, S, I->a, k, &scalar);
                acc[at] = max ? max_into(acc[at], v) : acc[at] + v;
            }
        }
        return;
    }
    const float first = operand(A, S, I->a, 0, &scalar);
    double *at = &acc[index_of(A.d, s, S.b, S.c0, FC_ALL, S.p0)];
    if (scalar) { /* constant along the row: its sum is m of it, its max itself */
        if (j == 0)
            *at = max ? max_into(*at, first) : *at + (double)first * S.m;
        return;
    }
    /* the interpreter's row_sum: eight interleaved partial sums (an
     * amax's eight partial maxima: the same value in any order) */
    if (j < 8) {
        double t = max ? -INFINITY : 0.0;
        for (int k = j; k < S.m; k += 8) {
            const double v = operand(A, S, I->a, k, &scalar);
            t = max ? max_into(t, v) : t + v;
        }
        part[j] = t;
    }
    __syncthreads();
    if (j == 0 && max)
        *at = max_into(*at, max_into(max_into(max_into(part[0], part[1]), max_into(part[2], part[3])),
                                     max_into(max_into(part[4], part[5]), max_into(part[6], part[7]))));
    else if (j == 0)
        *at += ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

__device__ static void store_value(const pass_args &A, const seg_at &S, int k, float u)
{
    const size_t i = S.offset + k;
    if (!A.out) /* no gradient asked of the input (the CPU's NULL row) */
        return;
    float *o = A.out + i;
    if (A.relu && !A.dy) { /* a fused ReLU (and residual add); a NaN kept, as the CPU's */
        const float v = A.skip ? u + A.skip[i] : u;
        *o = v <= 0 ? 0.0f : v;
    } else
        *o = A.accumulate ? *o + u : u;
}

__device__ static void run_segment(const pass_args &A, const seg_at &S, double *part)
{
    const int j = threadIdx.x;
    const bool mine = j < S.m;
    for (int k = 0; k < A.count; k++) {
        const nl_frow *I = &A.code[k];
        bool scalar;
        switch (I->kind) {
        case RI_OP:
            if (mine) {
                const float a = operand(A, S, I->a, j, &scalar);
                const float b = I->b.kind == OPD_NONE ? 0.0f : operand(A, S, I->b, j, &scalar);
                S.regs[(size_t)I->dst * S.stride + j] = nl_formula_apply(I->op, a, b, I->v);
            }
            break;
        case RI_GATHER:
            if (mine) {
                const nl_fshape s = A.g.nodes[I->node].s;
                S.regs[(size_t)I->dst * S.stride + j] =
                    values_of(A.g, A.m, I->node)[along_index(A, S, s, j)];
            }
            break;
        case RI_REDUCE: reduce_segment(A, S, I, part); break;
        case RI_STORE:
            if (mine)
                store_value(A, S, j, operand(A, S, I->a, j, &scalar));
            break;
        }
    }
}

__global__ void formula_pass_kernel(pass_args A)
{
    __shared__ double part[8];
    const bool images = A.d.ndim == 4;
    const int rows = images ? A.d.c : A.d.p, len = images ? A.d.p : A.d.c;
    seg_at S;
    S.b = blockIdx.x;
    S.regs = A.m.regs + (size_t)S.b * A.regs_per_block;
    S.stride = SEG;
    const int j = threadIdx.x;
    for (int r = 0; r < rows; r++) {
        S.c0 = images ? r : 0;
        S.p0 = images ? 0 : r;
        for (S.start = 0; S.start < len; S.start += SEG) {
            S.m = len - S.start < SEG ? len - S.start : SEG;
            S.offset = ((size_t)S.b * rows + (size_t)r) * (size_t)len + (size_t)S.start;
            if (A.dy && A.relu && A.dskip && A.first_pass && j < S.m) {
                /* the fused add's other input, written once */
                write_dskip(A, S.offset + j);
            }
            run_segment(A, S, part);
            __syncthreads(); /* the registers are the next segment's */
        }
    }
}

/* A pass without reductions, whose registers fit a thread's own array:
 * nothing crosses elements, so a thread per element runs the program on
 * its value alone (the same operations, so the same bits), over the whole
 * batch at once. 64 registers: 256 bytes of local memory a thread, which
 * the driver reserves for every thread a GPU keeps resident (~70 MB on an
 * H100); a longer pass runs by blocks. */
enum { ELEMENTWISE_REGISTERS = 64 };

__global__ void formula_elementwise_kernel(pass_args A)
{
    float regs[ELEMENTWISE_REGISTERS];
    const bool images = A.d.ndim == 4;
    const int rows = images ? A.d.c : A.d.p, len = images ? A.d.p : A.d.c;
    const size_t total = (size_t)A.d.n * rows * len;
    seg_at S;
    S.m = 1;
    S.regs = regs;
    S.stride = 1;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        const size_t row = e / len;
        S.b = (int)(row / rows);
        S.c0 = images ? (int)(row % rows) : 0;
        S.p0 = images ? 0 : (int)(row % rows);
        S.start = (int)(e % len);
        S.offset = e;
        if (A.dy && A.relu && A.dskip && A.first_pass)
            write_dskip(A, e);
        for (int k = 0; k < A.count; k++) {
            const nl_frow *I = &A.code[k];
            bool scalar;
            if (I->kind == RI_OP) {
                const float a = operand(A, S, I->a, 0, &scalar);
                const float b = I->b.kind == OPD_NONE ? 0.0f : operand(A, S, I->b, 0, &scalar);
                regs[I->dst] = nl_formula_apply(I->op, a, b, I->v);
            } else if (I->kind == RI_GATHER)
                regs[I->dst] = values_of(A.g, A.m, I->node)[along_index(A, S, A.g.nodes[I->node].s, 0)];
            else if (I->kind == RI_STORE)
                store_value(A, S, 0, operand(A, S, I->a, 0, &scalar));
        }
    }
}

/* a pass's reduction finished: the samples' partial sums added in sample
 * order (an amax's partial maxima kept by max), times the reduction's
 * scale, into its float values */
__global__ void formula_finish_kernel(double *acc, float *v, size_t count, int slabs, double scale,
                                      int max)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x) {
        double s = acc[i];
        for (int b = 1; b < slabs; b++)
            s = max ? max_into(s, acc[(size_t)b * count + i]) : s + acc[(size_t)b * count + i];
        v[i] = (float)(s * scale);
    }
}

/* an amax's accumulators before a pass: below every value */
__global__ void formula_fill_kernel(double *acc, size_t count, double v)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        acc[i] = v;
}

/* ------------------------------------------------------------------------ */
/* small values                                                              */

typedef struct {
    fdims d;
    nl_formula_op op;
    float v; /* FO_POW's exponent; a constant's value (a NULL) */
    nl_fshape s, as, bs;
    float *out;
    const float *a, *b;
    double scale; /* a reduction's */
} small_args;

/* an elementwise small value, or (FO_SUM, FO_MEAN, FO_AMAX) a reduction
 * of one: output element e sums its inputs in the interpreter's (b, c, p)
 * order (an amax keeps the largest, from -infinity, a NaN passed over) */
__global__ void formula_small_kernel(small_args A)
{
    const fdims &d = A.d;
    const int nc = size_c(d, A.s.c), np = A.s.p ? d.p : 1;
    const size_t count = count_of(d, A.s);
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < count;
         e += (size_t)gridDim.x * blockDim.x) {
        const int b = (int)(e / ((size_t)nc * np)), c = (int)(e / np % nc), p = (int)(e % np);
        if (!A.a) { /* a constant */
            A.out[e] = A.v;
            continue;
        }
        const bool max = A.op == FO_AMAX;
        if (A.op != FO_SUM && A.op != FO_MEAN && !max) {
            A.out[e] = nl_formula_apply(A.op, A.a[index_of(d, A.as, b, c, A.s.c, p)],
                                        A.b ? A.b[index_of(d, A.bs, b, c, A.s.c, p)] : 0.0f, A.v);
            continue;
        }
        const int inc = size_c(d, A.as.c);
        const int b0 = A.s.b ? b : 0, b1 = A.as.b ? (A.s.b ? b + 1 : d.n) : 1;
        const int p0 = A.s.p ? p : 0, p1 = A.as.p ? (A.s.p ? p + 1 : d.p) : 1;
        int c0 = 0, c1 = inc;
        if (A.s.c == A.as.c)
            c0 = c, c1 = c + 1;
        else if (A.s.c == FC_GROUPS) /* channels into their group */
            c0 = c * (d.c / d.groups), c1 = c0 + d.c / d.groups;
        double acc = max ? -INFINITY : 0.0;
        for (int ib = b0; ib < b1; ib++)
            for (int ic = c0; ic < c1; ic++)
                for (int ip = p0; ip < p1; ip++) {
                    const double u = A.a[index_of(d, A.as, ib, ic, A.as.c, ip)];
                    acc = max ? max_into(acc, u) : acc + u;
                }
        A.out[e] = (float)(acc * A.scale);
    }
}

/* running = (1 - m) running + m (v unbiased), m read on the device */
__global__ void formula_running_kernel(float *run, const float *v, size_t count, double unbiased,
                                       const float *momentum)
{
    const float m = *momentum;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < count;
         i += (size_t)gridDim.x * blockDim.x)
        run[i] = (1.0f - m) * run[i] + m * (float)(v[i] * unbiased);
}

/* a parameter's gradient from its node's values (per channel or one) */
__global__ void formula_dparam_kernel(float *d, const float *v, int count, fdims dims, nl_fshape s,
                                      int from)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < count; c += gridDim.x * blockDim.x)
        d[c] = v[index_of(dims, s, 0, c, from, 0)];
}

/* ------------------------------------------------------------------------ */
/* the host's walk over a program                                            */

typedef struct {
    nl_cuda *cu;
    const nl_formula_plan *plan;
    const nl_fgraph *g; /* the plan's (host) */
    fview host, dev;    /* its tables on the host, and in the image on the device */
    const nl_frow *rows[2];
    fdims d;
    fbufs m;
    const nl_formula_io *io;
} runner;

/* the interpreter's scales (formula_program.h), on this walk's batch */
static double reduction_scale(const runner *R, const nl_fnode *n)
{
    return nl_formula_reduction_scale(&R->plan->in, R->d.n, n, R->g->nodes[n->a].s);
}

static double averaged(const runner *R, const nl_fnode *n)
{
    return nl_formula_averaged(&R->plan->in, R->d.n, n);
}

static unsigned grid_for(const runner *R, size_t count)
{
    return nl_cuda_grid(R->cu, count ? count : 1, 256);
}

static void compute_small(runner *R, int node)
{
    const nl_fnode *n = &R->g->nodes[node];
    small_args A;
    A.d = R->d;
    A.op = n->op;
    A.v = n->v;
    A.s = n->s;
    A.out = values_of(R->host, R->m, node);
    A.a = A.b = NULL;
    A.as = A.bs = n->s;
    A.scale = 1;
    if (n->op == FO_CONST || n->op == FO_INVCOUNT) {
        /* a constant: the host's value, written as the CPU writes it */
        A.v = n->op == FO_CONST ? n->v : (float)(1.0 / averaged(R, n));
        A.s = nl_fshape{0, FC_ONE, 0};
        formula_small_kernel<<<1, 32, 0, R->cu->stream>>>(A);
        NL_CU_LAUNCHED(R->cu, "formula_small_kernel");
        return;
    }
    A.a = values_of(R->host, R->m, n->a);
    A.as = R->g->nodes[n->a].s;
    if (nl_formula_is_reduction(n->op))
        A.scale = reduction_scale(R, n);
    else if (n->b >= 0) {
        A.b = values_of(R->host, R->m, n->b);
        A.bs = R->g->nodes[n->b].s;
    }
    formula_small_kernel<<<grid_for(R, count_of(R->d, n->s)), 256, 0, R->cu->stream>>>(A);
    NL_CU_LAUNCHED(R->cu, "formula_small_kernel");
}

/* one pass: its accumulators cleared, a block per sample, then each of
 * its reductions finished */
static void run_pass(runner *R, int prog, const nl_fpass *pass, float *out, bool accumulate)
{
    const nl_fprogram *P = prog ? &R->g->backward : &R->g->forward;
    const nl_frow *code = P->rows + pass->first;
    nl_cuda *cu = R->cu;
    for (int k = 0; k < pass->count; k++)
        if (code[k].kind == RI_REDUCE) {
            const int node = code[k].node;
            const size_t slabs = R->g->nodes[node].s.b ? 1 : (size_t)R->d.n;
            const size_t all = slabs * count_of(R->d, R->g->nodes[node].s);
            double *acc = R->m.acc + R->g->acc_offset[node];
            if (R->g->nodes[node].op == FO_AMAX) { /* a max starts below every value */
                formula_fill_kernel<<<grid_for(R, all), 256, 0, cu->stream>>>(acc, all, -INFINITY);
                NL_CU_LAUNCHED(cu, "formula_fill_kernel");
            } else
                NL_CU(cu, cudaMemsetAsync(acc, 0, all * sizeof(double), cu->stream));
        }
    pass_args A;
    A.g = R->dev;
    A.d = R->d;
    A.m = R->m;
    A.code = R->rows[prog] + pass->first;
    A.count = pass->count;
    A.x = R->io->x;
    A.dy = prog ? R->io->dy : NULL;
    A.y = R->io->y;
    A.skip = prog ? NULL : R->io->skip;
    A.dskip = prog ? R->io->dskip : NULL;
    A.out = out;
    A.relu = R->io->relu;
    A.accumulate = accumulate;
    A.accumulate_dskip = R->io->accumulate_dskip;
    A.first_pass = pass == P->passes;
    A.regs_per_block = (size_t)(R->plan->registers + NL_FORMULA_TILES * NL_FORMULA_MAX_BLOCK) * SEG;
    bool reduces = false;
    for (int k = 0; k < pass->count; k++)
        reduces |= code[k].kind == RI_REDUCE;
    if (!reduces && pass->registers <= ELEMENTWISE_REGISTERS && !cu->formula_blocks) {
        const size_t total = (size_t)R->d.n * (size_t)R->d.c * (size_t)R->d.p;
        formula_elementwise_kernel<<<grid_for(R, total), 256, 0, cu->stream>>>(A);
        NL_CU_LAUNCHED(cu, "formula_elementwise_kernel");
        return;
    }
    formula_pass_kernel<<<R->d.n, SEG, 0, cu->stream>>>(A);
    NL_CU_LAUNCHED(cu, "formula_pass_kernel");
    for (int k = 0; k < pass->count; k++)
        if (code[k].kind == RI_REDUCE) {
            const int node = code[k].node;
            const nl_fnode *n = &R->g->nodes[node];
            const size_t count = count_of(R->d, n->s);
            formula_finish_kernel<<<grid_for(R, count), 256, 0, cu->stream>>>(
                R->m.acc + R->g->acc_offset[node], values_of(R->host, R->m, node), count,
                n->s.b ? 1 : R->d.n, reduction_scale(R, n), n->op == FO_AMAX);
            NL_CU_LAUNCHED(cu, "formula_finish_kernel");
        }
}

static void run_program(runner *R, int prog, float *out, bool accumulate)
{
    const nl_fprogram *P = prog ? &R->g->backward : &R->g->forward;
    int next = 0;
    for (int level = 0; level <= P->n_passes; level++) {
        while (next < P->n_small && P->small_level[next] == level)
            compute_small(R, P->small[next++]);
        if (level < P->n_passes)
            run_pass(R, prog, &P->passes[level], out, accumulate);
    }
}

/* the runner for a call, or false (recorded) where the GPU cannot run it */
static bool runner_of(nl_backend *be, const nl_formula_plan *p, nl_formula_mode mode,
                      const nl_formula_io *io, runner *R)
{
    nl_cuda *cu = nl_cuda_of(be);
    const char *why = io->block ? "a channel-blocked layout" :
                      !io->program ? "no program on the device (nl_formula_io.program)" :
                      io->n > p->in.threads ? "a workspace planned for fewer samples" :
                      io->n < 1 ? "an empty batch" : NULL;
    if (why) {
        nl_cuda_record(cu, NL_ERR_UNSUPPORTED, "formula normalizer on the GPU: %s", why);
        return false;
    }
    const int k = mode == NL_FORMULA_EVAL;
    R->cu = cu;
    R->plan = p;
    R->g = k ? &p->eval : &p->train;
    R->io = io;
    R->host = fview{R->g->nodes, R->g->offset, R->g->in_saved, R->g->acc_offset};
    const nl_fgraph_image im = nl_formula_image_layout(p).graph[k];
    const unsigned char *base = (const unsigned char *)io->program;
    R->dev = fview{(const nl_fnode *)(base + im.nodes), (const long *)(base + im.offset),
                     (const bool *)(base + im.in_saved), (const long *)(base + im.acc_offset)};
    R->rows[0] = (const nl_frow *)(base + im.rows[0]);
    R->rows[1] = (const nl_frow *)(base + im.rows[1]);
    R->d = fdims{p->in.ndim, p->in.c, p->in.p, p->in.groups, io->n};
    for (int i = 0; i < NL_FORMULA_MAX_PARAMS; i++)
        R->m.params[i] = io->params[i];
    for (int i = 0; i < NL_FORMULA_MAX_RUNNING; i++)
        R->m.running[i] = io->running[i];
    /* the workspace as the CPU lays it out: small values, accumulators, registers */
    char *w = (char *)io->workspace;
    const size_t small_bytes = (p->work_floats * sizeof(float) + 63) & ~(size_t)63;
    const size_t acc_bytes = (p->acc_doubles * sizeof(double) + 63) & ~(size_t)63;
    R->m.saved = io->saved;
    R->m.small = (float *)w;
    R->m.acc = (double *)(w + small_bytes);
    R->m.regs = (float *)(w + small_bytes + acc_bytes);
    return true;
}

void nl_cuda_formula_forward(nl_backend *be, const nl_formula_plan *p, nl_formula_mode mode,
                             nl_formula_io *io)
{
    runner R;
    if (!runner_of(be, p, mode, io, &R))
        return;
    run_program(&R, 0, io->y, false);
    if (mode != NL_FORMULA_TRAIN)
        return;
    if (p->n_running && !io->momentum_at) {
        nl_cuda_record(R.cu, NL_ERR_UNSUPPORTED,
                       "formula normalizer on the GPU: no momentum on the device");
        return;
    }
    for (int k = 0; k < p->n_running; k++) {
        const nl_frunning *rs = &p->running[k];
        double unbiased = 1;
        if (rs->variance) {
            const double count = averaged(&R, &R.g->nodes[rs->mean]);
            if (count > 1)
                unbiased = count / (count - 1);
        }
        const size_t count = count_of(R.d, R.g->nodes[rs->source].s);
        formula_running_kernel<<<grid_for(&R, count), 256, 0, R.cu->stream>>>(
            io->running[k], values_of(R.host, R.m, rs->source), count, unbiased, io->momentum_at);
        NL_CU_LAUNCHED(R.cu, "formula_running_kernel");
    }
}

void nl_cuda_formula_backward(nl_backend *be, const nl_formula_plan *p, nl_formula_mode mode,
                              nl_formula_io *io)
{
    runner R;
    if (!runner_of(be, p, mode, io, &R))
        return;
    const nl_fprogram *prog = &R.g->backward;
    run_program(&R, 1, io->dx, io->accumulate_dx);
    for (int k = 0; k < p->n_params; k++) {
        float *d = io->dparams[k];
        if (!d)
            continue;
        const int count = nl_formula_param_count_of(p, k);
        const int node = prog->dparam[k];
        if (node < 0) {
            NL_CU(R.cu, cudaMemsetAsync(d, 0, (size_t)count * sizeof *d, R.cu->stream));
            continue;
        }
        formula_dparam_kernel<<<grid_for(&R, (size_t)count), 256, 0, R.cu->stream>>>(
            d, values_of(R.host, R.m, node), count, R.d, R.g->nodes[node].s,
            p->param_c[k]);
        NL_CU_LAUNCHED(R.cu, "formula_dparam_kernel");
    }
}
