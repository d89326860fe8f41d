/* A formula normalizer's programs (core/norm/formula_plan.c makes them
 * from model.norm.expr, norm/formula.h): the graph of values on a layer's
 * input, and the passes over its rows that compute the output, or the
 * input and parameter gradients, from the small values the programs keep.
 * The contract between the planner and the backends that run the programs
 * (core/cpu/formula.c and core/cuda/formula.cu, through the
 * formula_forward / formula_backward ops). */
#ifndef NL_BACKEND_FORMULA_PROGRAM_H
#define NL_BACKEND_FORMULA_PROGRAM_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend/formula_types.h"

/* the operations of the value graph */
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
    FO_EQ, /* derivatives' own: 1 where a == b (amax's ties) */
    FO_SUM,      /* a reduction: node.a over the axes node.t lacks */
    FO_MEAN,
    FO_AMAX,     /* a reduction: the largest of node.a's values (accumulated by max) */
    FO_INVCOUNT, /* 1 / the values one of a MEAN's outputs averages */
    FO_COUNT
} nl_formula_op;


/* the most parameters one formula declares, and running statistics it keeps */
#define NL_FORMULA_MAX_PARAMS 8
#define NL_FORMULA_MAX_RUNNING 8

/* A layer's input as the formula sees it: three logical axes, batch (n
 * samples), channels (c) and positions (p: an image's H*W, a sequence's
 * T, 1 for feature vectors), and where they lie in memory. */
typedef struct {
    int ndim;           /* 2 features, 3 tokens, 4 images */
    int n_capacity;     /* the planned batch */
    int c, p, groups;   /* groups: model.norm.groups (1: all channels) */
    int threads;        /* the most threads a pass runs on (each its own registers) */
} nl_formula_input;


/* Everything one run of a program reads and writes (host memory: the CPU
 * backend's). params[i] and dparams[i] per declared parameter; running[i]
 * per running statistic. */
typedef struct nl_formula_io {
    int n; /* this pass's batch, <= n_capacity */
    /* images: the channel block of x, y, dx and dy (nl_shape.block: (N,
     * C/B, HW, B)); 0: NCHW */
    int block;
    /* a ReLU fused into the layer (nl_layer_vtable.fuse_relu): the forward
     * stores max(y, 0); the backward reads y (the stored output) and takes
     * dy where it is > 0 */
    bool relu;
    /* with relu, a residual add fused before it: the forward stores
     * max(y + skip, 0), the backward writes (or adds) its masked dy into
     * dskip */
    const float *skip;
    float *dskip;
    bool accumulate_dskip;
    const float *x;
    float *y;
    const float *dy;
    float *dx;
    bool accumulate_dx;
    const float *params[NL_FORMULA_MAX_PARAMS];
    float *dparams[NL_FORMULA_MAX_PARAMS];
    float *running[NL_FORMULA_MAX_RUNNING];
    float momentum;  /* this update's (nl_stats_next_momentum) */
    /* the same momentum in the device's per-step scalars (nl_pass.scalars):
     * a GPU's kernels read it there, so a step replayed from a CUDA graph
     * updates with its own momentum */
    const float *momentum_at;
    float *saved;    /* nl_formula_plan_saved_floats */
    void *workspace; /* nl_formula_plan_workspace_bytes */
    /* the plan's arrays on the device, as nl_formula_image_layout lays
     * them out (nl_formula_plan_image writes them): what a GPU's kernels
     * read the programs from; the CPU reads the plan itself */
    const void *program;
} nl_formula_io;


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

/* ---- a pass compiled to native code (core/norm/formula_compile.c) ----
 * One call runs one sample's rows of a pass, as the interpreter's
 * run_sample does, with the same operations in the same order. The fields
 * are also the text of the struct the generated source declares, so the
 * two cannot disagree. vals[k] / accs[k]: the values (and, for a
 * reduction, the accumulators) of the pass's k-th referenced small node
 * (nl_fpass.slot_node). elementary: the kernel set's own exp, tanh,
 * sigmoid and erf over a row (the interpreter's), so that a compiled pass
 * gives its bits. */
#define NL_FPASS_MAX_SLOTS 32
#define NL_FPASS_ARGS_FIELDS                                                                       \
    int b, relu, accumulate, first_pass, accumulate_dskip;                                         \
    const float *x, *dy, *y, *skip;                                                                \
    float *out, *dskip, *regs;                                                                     \
    const float *vals[NL_FPASS_MAX_SLOTS];                                                         \
    double *accs[NL_FPASS_MAX_SLOTS];                                                              \
    void (*elementary)(int op, float *d, const float *a, int m);
typedef struct nl_fpass_args {
    NL_FPASS_ARGS_FIELDS
} nl_fpass_args;
typedef void (*nl_fpass_fn)(const nl_fpass_args *args);

typedef struct {
    int first, count; /* its row instructions */
    int registers;
    /* its native code (NULL: the interpreter runs it), for the channel
     * block nl_formula_plan.compiled_block, and the small nodes it reads */
    nl_fpass_fn compiled;
    int n_slots;
    int slot_node[NL_FPASS_MAX_SLOTS];
} nl_fpass;

/* a running statistic: the reduction training takes it from, whether
 * it is a variance (kept unbiased: count / (count - 1), count the values
 * the variance's mean averages, that mean being node `mean`), and its
 * start (nl_formula_running_default, or running(r, init=V)) */
typedef struct {
    int source, mean;
    bool variance;
    float init;
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

typedef struct nl_formula_plan {
    nl_formula_input in;
    int n_params;
    /* the channels each parameter's values keep (FC_ONE, FC_GROUPS,
     * FC_ALL): nl_formula_param_count_of gives how many */
    unsigned char param_c[NL_FORMULA_MAX_PARAMS];
    nl_fgraph train, eval;
    nl_frunning running[NL_FORMULA_MAX_RUNNING];
    int n_running;
    size_t saved_floats;
    /* the workspace: the backward's small values (floats), then the
     * reductions' accumulators (doubles), then the row registers, each
     * part as large as the larger graph's */
    size_t work_floats, acc_doubles;
    int registers;
    /* the passes' native code (formula_compile.c): the channel block it
     * was generated for, and the loaded object (NULL: interpreted) */
    int compiled_block;
    void *compiled_object;
} nl_formula_plan;

/* a function both a CUDA kernel and the host may call (nvcc); plain C
 * elsewhere */
#ifdef __CUDACC__
#define NL_FORMULA_HD __host__ __device__
#else
#define NL_FORMULA_HD
#endif

/* An elementwise operation on scalars (v: FO_POW's exponent): the
 * planner folds constants with it, the CPU computes small values with it
 * and the GPU everything (core/cuda/formula.cu), so all agree on every
 * operation's meaning */
static inline NL_FORMULA_HD float nl_formula_apply(nl_formula_op op, float a, float b, float v)
{
    switch (op) {
    case FO_ADD: return a + b;
    case FO_SUB: return a - b;
    case FO_MUL: return a * b;
    case FO_DIV: return a / b;
    case FO_NEG: return -a;
    case FO_POW: return v == 2.0f ? a * a : v == -1.0f ? 1.0f / a : powf(a, v);
    case FO_SQRT: return sqrtf(a);
    case FO_RSQRT: return 1.0f / sqrtf(a);
    case FO_EXP: return expf(a);
    case FO_LOG: return logf(a);
    case FO_TANH: return tanhf(a);
    case FO_SIGMOID: return 1.0f / (1.0f + expf(-a));
    case FO_ERF: return erff(a);
    case FO_ABS: return fabsf(a);
    case FO_RELU: return a <= 0 ? 0.0f : a; /* a NaN kept, as torch.relu */
    case FO_MIN: return fminf(a, b);
    case FO_MAX: return fmaxf(a, b);
    case FO_STEP: return a > 0 ? 1.0f : 0.0f;
    case FO_SIGN: return (float)((a > 0) - (a < 0));
    case FO_TAKES_MIN: return a < b ? 1.0f : a == b ? 0.5f : 0.0f;
    case FO_EQ: return a == b ? 1.0f : 0.0f;
    default: return 0.0f;
    }
}

/* a reduction (its values accumulate over a pass, by + or by max) */
static inline bool nl_formula_is_reduction(nl_formula_op op)
{
    return op == FO_SUM || op == FO_MEAN || op == FO_AMAX;
}

/* The sizes behind a reduction, on the host (the CPU's interpreter and
 * the GPU's walk over a program compute their scales here, so the two
 * agree): the values axis (0 batch, 1 channels, 2 positions) has in a
 * value that keeps it as `state` (nl_fshape's b, c or p), on a batch of
 * `batch` */
static inline double nl_formula_axis_size(const nl_formula_input *in, int batch, int axis, int state)
{
    switch (axis) {
    case 0: return state ? batch : 1;
    case 1: return state == FC_ALL ? in->c : state == FC_GROUPS ? in->groups : 1;
    default: return state ? in->p : 1;
    }
}

/* the values parameter k of the plan holds (a parameter keeps no batch
 * and no positions) */
static inline int nl_formula_param_count_of(const nl_formula_plan *p, int k)
{
    return (int)nl_formula_axis_size(&p->in, 1, 1, p->param_c[k]);
}

/* the values of the reduction node n's input (as it sees it, l) that one
 * of its outputs (t) takes in: a MEAN's count */
static inline double nl_formula_averaged(const nl_formula_input *in, int batch, const nl_fnode *n)
{
    double count = 1;
    const int l[3] = {n->l.b, n->l.c, n->l.p}, t[3] = {n->t.b, n->t.c, n->t.p};
    for (int axis = 0; axis < 3; axis++)
        count *= nl_formula_axis_size(in, batch, axis, l[axis]) /
                 nl_formula_axis_size(in, batch, axis, t[axis]);
    return count;
}

/* what the reduction node n's sum is multiplied by (its input of shape
 * `from`): the values of l each of its input's values stands for, and for
 * a mean 1 / the values averaged; a max is the same over copies of a
 * value, so none */
static inline double nl_formula_reduction_scale(const nl_formula_input *in, int batch,
                                                const nl_fnode *n, nl_fshape from)
{
    const int s[3] = {from.b, from.c, from.p}, l[3] = {n->l.b, n->l.c, n->l.p},
              t[3] = {n->t.b, n->t.c, n->t.p};
    double factor = 1;
    for (int axis = 0; axis < 3; axis++) {
        const double ls = nl_formula_axis_size(in, batch, axis, l[axis]),
                     ts = nl_formula_axis_size(in, batch, axis, t[axis]);
        factor *= ls / (s[axis] >= t[axis] ? nl_formula_axis_size(in, batch, axis, s[axis]) : ts);
    }
    return n->op == FO_AMAX ? 1.0 : n->op == FO_MEAN ? factor / nl_formula_averaged(in, batch, n) : factor;
}

/* the largest channel block a backend's layout has (AVX-512's 16): a
 * blocked pass keeps three tiles of that many rows per thread */
#define NL_FORMULA_MAX_BLOCK 16
/* the tiles a thread keeps past its registers: x, dy, y (a blocked pass's
 * transposed rows) and the output it writes back */
#define NL_FORMULA_TILES 4

/* the rows of a segment: the row interpreter's registers hold this many */
#define NL_FORMULA_SEGMENT 256

/* ---- the plan on a GPU ----
 * The arrays a device's kernels read, laid end to end in one buffer
 * (uploaded once, nl_builder_constant): for the training graph and then
 * evaluation's, its nodes, offset, in_saved and acc_offset (count each),
 * then its forward's and its backward's row instructions; each array at a
 * 16-byte boundary. Byte offsets into the buffer. */
typedef struct {
    size_t nodes, offset, in_saved, acc_offset, rows[2]; /* rows: forward, backward */
} nl_fgraph_image;
typedef struct {
    nl_fgraph_image graph[2]; /* train, eval */
    size_t bytes;
} nl_formula_image;

static inline size_t nl_formula_image_next(size_t *at, size_t bytes)
{
    const size_t here = *at;
    *at = (here + bytes + 15) & ~(size_t)15;
    return here;
}

static inline nl_formula_image nl_formula_image_layout(const nl_formula_plan *p)
{
    nl_formula_image im;
    size_t at = 0;
    for (int k = 0; k < 2; k++) {
        const nl_fgraph *g = k ? &p->eval : &p->train;
        const size_t count = (size_t)(g->count > 0 ? g->count : 0);
        im.graph[k].nodes = nl_formula_image_next(&at, count * sizeof(nl_fnode));
        im.graph[k].offset = nl_formula_image_next(&at, count * sizeof(long));
        im.graph[k].in_saved = nl_formula_image_next(&at, count * sizeof(bool));
        im.graph[k].acc_offset = nl_formula_image_next(&at, count * sizeof(long));
        im.graph[k].rows[0] = nl_formula_image_next(&at, (size_t)g->forward.n_rows * sizeof(nl_frow));
        im.graph[k].rows[1] = nl_formula_image_next(&at, (size_t)g->backward.n_rows * sizeof(nl_frow));
    }
    im.bytes = at > 0 ? at : 16;
    return im;
}

#endif
