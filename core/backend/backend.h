/* The ops interface. Layers and normalizers call these and never look at the
 * device: the CPU backend (core/cpu) and the CUDA backend (core/cuda)
 * implement the same table, nl_ops, generated with both backends'
 * prototypes and tables from the one list of ops, backend_ops.def, which
 * documents each op. Pointers passed to ops are device pointers of
 * that backend; sizes are element counts unless named bytes.
 *
 * Conventions shared by all ops:
 * - Parameter gradients are written (=), never accumulated: each parameter
 *   belongs to one layer, so no zeroing pass is needed before backward.
 *   The one exception is embedding_backward's token table, which takes an
 *   accumulate flag: a table tied to the LM head gets the head's weight
 *   gradient first (linear_backward writes it; the head runs backward
 *   before the embedding) and the embedding adds its own.
 * - Input gradients honour `accumulate_dx`: false writes dx, true adds to it
 *   (the planner sets it for the second consumer of a tensor, e.g. the
 *   identity shortcut of a residual block). dx may be NULL: not needed.
 * - gamma/beta may be NULL (affine: false): gamma = 1, beta = 0, and then
 *   dgamma/dbeta are NULL too. The norm ops also take gamma without beta
 *   (a scale and no shift, as RMSNorm), except with batch statistics.
 * - Reductions use a fixed order for a given thread count, so runs repeat
 *   bit for bit.
 * This folder is the floor below both backends: the interface, the list of
 * ops, and the layouts they share (rnn_layout.h). What opens one backend or
 * the other is above them, in device/device.h. */
#ifndef NL_BACKEND_H
#define NL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/formula_types.h"
#include "backend/shape.h"
#include "base/names.h"
#include "base/status.h"

typedef struct nl_backend nl_backend;

/* a convolution's algorithm; auto is model.conv_algorithm's alone (the
 * plan's choice per convolution, core/plan/conv_choice.c), no layer's */
typedef enum {
    NL_CONV_DIRECT,
    NL_CONV_WINOGRAD_F23,
    /* F(4x4, 3x3) forward and data gradient, F(2x2, 3x3)'s weight gradient */
    NL_CONV_WINOGRAD_F43,
    NL_CONV_AUTO,
    NL_CONV_ALGORITHM_COUNT
} nl_conv_algorithm;

typedef struct {
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int kernel, stride, pad; /* square kernels */
    /* the layouts of x (dx) and y (dy): 0 NCHW, B > 0 channel-blocked
     * (nl_shape.block); the CPU runs blocked ones on oneDNN alone */
    int in_block, out_block;
    /* the algorithm the plan chose for it (nl_conv_algorithm; the layout
     * pass, core/plan/layout.c): direct, or Winograd F(2x2, 3x3) on a
     * blocked 3x3 stride-1 pad-1 geometry (cpu/winograd_blocked.c) */
    unsigned char algorithm;
    /* the storage type (nl_storage) of each operand in the caller's memory
     * (io[NL_IO_X] ...): the plan's precision pass decides it (nl_shape's
     * value_store, grad_store), blocked operands of a bf16 convolution
     * alone; all zero: fp32 */
    unsigned char io[NL_IO_OPERANDS];
} nl_conv_geom;

/* The storage types of a kernel's operands (nl_conv_geom.io,
 * nl_norm_geom.io): x read, y written (rounded to nearest even) and read
 * back by a backward that reads y, dy read, dx written rounded (never
 * added into). Other than fp32 only where the plan's precision pass found
 * every value already of the type, so a kernel computes the same numbers
 * either way. */
static inline void nl_io_of(unsigned char io[NL_IO_OPERANDS], nl_shape in, nl_shape out)
{
    io[NL_IO_X] = in.value_store;
    io[NL_IO_DX] = in.grad_store;
    io[NL_IO_Y] = out.value_store;
    io[NL_IO_DY] = out.grad_store;
}

/* the operands of io stored other than as fp32, a mask of NL_IO_MASK bits */
static inline unsigned nl_io_narrow(const unsigned char io[NL_IO_OPERANDS])
{
    unsigned mask = 0;
    for (int k = 0; k < NL_IO_OPERANDS; k++)
        mask |= io[k] != NL_STORAGE_FP32 ? NL_IO_MASK(k) : 0u;
    return mask;
}

typedef struct {
    nl_pool_kind kind;
    int c, in_h, in_w, out_h, out_w;
    int kernel_h, kernel_w, stride, pad;
    /* max pooling of relu(x), one pass instead of two over the (larger) input;
     * argmax is -1 where the output is 0, since relu passes no gradient there */
    bool relu_input;
    /* x (dx) channel-blocked (nl_shape.block; the CPU alone): a window's
     * y (dy) in the same block, global average pooling's (N, C) */
    int block;
} nl_pool_geom;

/* the largest channel block a backend's conv_block gives (nChw16c) */
#define NL_MAX_CHANNEL_BLOCK 16

/* Where a normalizer takes its statistics. A plane is one (sample, channel)
 * run of hw floats; statistics are taken over groups of planes:
 *   groups == 0: batch statistics, per channel over its N planes (N*HW values)
 *   groups >= 1: per sample over each group of c/groups planes (1: layer
 *                norm over C*HW, c: instance norm over HW)
 * center false: no mean is subtracted (RMS normalization); the saved mean
 * is 0 and the variance is the mean square.
 * stats_precision: the precision the statistics are computed and kept in
 * (model.norm.stats_precision); fp32, the zero value, is the fp32 kernels,
 * bf16 and fp16 the low-precision kernel the backends define in
 * norm_lowp.c / norm_lowp.cu (the ablation). It is last, so that a
 * geometry written without it is fp32. */
typedef struct {
    int n, c, hw;
    int groups;
    bool center;
    float eps;
    nl_precision stats_precision;
    /* 0: planes of hw contiguous floats, (N, C, HW). B > 0: the channel-
     * blocked layout oneDNN's convolutions run in (nChw16c for B = 16):
     * (N, C/B, HW, B), each plane where nl_plane_of (backend/shape.h)
     * puts it, C a multiple of B (the plan's channel block, the CPU alone).
     * Last, so that a geometry written without it is plain. */
    int block;
    /* each operand's storage type (nl_storage; blocked geometries alone,
     * all zero: fp32) */
    unsigned char io[NL_IO_OPERANDS];
} nl_norm_geom;

/* statistics groups (entries of save_mean/save_rstd) and values per group */
static inline long nl_norm_stat_groups(const nl_norm_geom *g)
{
    return g->groups == 0 ? g->c : (long)g->n * g->groups;
}
static inline long nl_norm_group_count(const nl_norm_geom *g)
{
    return g->groups == 0 ? (long)g->n * g->hw : (long)(g->c / g->groups) * g->hw;
}

/* Tokens. A batch of sequences is (N, T, D), stored as nl_shape ndim 3 with
 * c = D, h = T, w = 1: token (i, t) is the row of D floats at (i*T + t)*D.
 * Ops over the last axis see N*T rows of D: linear (n = N*T), the norm
 * family (n = N*T, c = D, hw = 1; groups 1 for layer/RMS norm, 0 for batch
 * norm over the N*T tokens of each feature), dyt, softmax_xent
 * (n = N*T rows of vocabulary logits).
 *
 * Multi-head self-attention over q, k, v of shape (N, T, D) (causal unless
 * the geometry says bidirectional), D = heads * head_dim, head h in columns [h*head_dim, (h+1)*head_dim) of
 * each token's row. Rows are ld_q (ld_k, ld_v) floats apart, so that q, k
 * and v can be the three thirds of one fused (N, T, 3D) projection (ld 3D,
 * k = q + D, v = q + 2D) or separate (N, T, D) tensors (ld D, e.g. after
 * QK-norm). The output y is (N, T, D) with rows D apart. */
/* GELU's constants in float, shared by the backends' kernels (gelu_forward) */
#define NL_GELU_SQRT_2_OVER_PI 0.7978845608f /* sqrt(2/pi), the tanh form's scale */
#define NL_GELU_CUBIC 0.044715f             /* the tanh form's cubic coefficient */
#define NL_GELU_INV_SQRT_2 0.7071067812f     /* 1/sqrt 2: Phi(x) = (1 + erf(x/sqrt 2)) / 2 */
#define NL_GELU_INV_SQRT_2PI 0.3989422804f   /* 1/sqrt(2 pi): Phi's density at 0 */

typedef struct {
    int n, t;
    int heads, head_dim;
    int ld_q, ld_k, ld_v;
    float scale; /* multiplies q.k before the softmax: 1/sqrt(head_dim) */
    /* every query sees every key (an encoder: the ViT); false, the zero
     * default, keeps the causal mask (the LM). A flag that defaults to the
     * mask, so that a geometry written without it stays causal. */
    bool bidirectional;
} nl_attn_geom;

/* Per-step scalars. Values that change from one training step to the next
 * (the learning rate of a schedule, AdamW's bias corrections, a cumulative
 * running-statistics momentum, batch renorm's ramped limits) reach the
 * kernels through device memory, never as kernel arguments: the model
 * uploads them before the step's kernels, so a recorded step (a CUDA graph)
 * replays with the current values. The ops that take such a pointer
 * read it when their kernels run. */
typedef struct {
    float lr;
    float momentum;
    float dampening;
    float weight_decay;
    bool nesterov;
    bool first_step; /* PyTorch: the velocity starts as the first gradient */
} nl_sgd_args;

/* One AdamW step (torch.optim.AdamW, amsgrad off), its scalars computed on
 * the host in double as PyTorch does and rounded to float:
 *   p = p * decay;  m = m * beta1 + (1 - beta1) * g;
 *   v = v * beta2 + (1 - beta2) * g * g;
 *   p = p + neg_step_size * (m / (sqrt(v) / bias_correction2_sqrt + eps)) */
typedef struct {
    float decay;          /* 1 - lr * weight_decay: decoupled weight decay */
    float beta1, one_minus_beta1;
    float beta2, one_minus_beta2;
    float neg_step_size;  /* -lr / (1 - beta1^t) */
    float bias_correction2_sqrt; /* sqrt(1 - beta2^t) */
    float eps;
} nl_adamw_args;

/* One RMSprop step (torch.optim.RMSprop), its scalars from the host:
 * weight_decay is an L2 penalty added to the gradient, neg_lr = -lr,
 * one_minus_alpha = 1 - alpha computed in double and rounded to float
 * (rmsprop_step in backend_ops.def has the expressions). */
typedef struct {
    float neg_lr;
    float weight_decay;
    float alpha, one_minus_alpha;
    float eps;      /* added to the root of the (centered) second moment */
    float momentum; /* 0: no momentum buffer */
    bool centered;  /* subtract the square of the gradient's running mean */
} nl_rmsprop_args;

/* sum_squares splits its input into this many contiguous parts of
 * ceil(count / parts) floats and writes one double per part: the same split
 * on every backend and thread count, so the sum the caller takes over the
 * parts, in order, repeats bit for bit */
#define NL_SUM_SQUARES_PARTS 64
/* gradient-norm clipping's device slots (doubles): the partials of
 * sum_squares, then the sum of the norms since the training loop last set
 * it (its log window), then the step's coefficient */
#define NL_CLIP_NORM_SUM NL_SUM_SQUARES_PARTS
#define NL_CLIP_COEF (NL_SUM_SQUARES_PARTS + 1)
#define NL_CLIP_SLOTS (NL_SUM_SQUARES_PARTS + 2)
/* loss scaling's device slots (doubles, scale_check_finite): per part of
 * the same split, its count of zeros and of infs and NaNs (scratch), then
 * the zeros' total since the caller last cleared it */
#define NL_UNSCALE_ZEROS (2 * NL_SUM_SQUARES_PARTS)
#define NL_UNSCALE_SLOTS (2 * NL_SUM_SQUARES_PARTS + 1)

/* Which backends implement an op, from its line's first column in
 * backend_ops.def: NL_OP_ON_<backend>_<column> is 1 or 0. */
#define NL_OP_ON_CPU_ALL 1
#define NL_OP_ON_CPU_CPU_ONLY 1
#define NL_OP_ON_CPU_CUDA_ONLY 0
#define NL_OP_ON_CUDA_ALL 1
#define NL_OP_ON_CUDA_CPU_ONLY 0
#define NL_OP_ON_CUDA_CUDA_ONLY 1
/* NL_OP_IF(flag, ...): the tokens after flag when flag expands to 1, nothing
 * when to 0 (for the prototypes and table rows of one backend's ops) */
#define NL_OP_IF(flag, ...) NL_OP_IF_(flag, __VA_ARGS__)
#define NL_OP_IF_(flag, ...) NL_OP_IF_##flag(__VA_ARGS__)
#define NL_OP_IF_1(...) __VA_ARGS__
#define NL_OP_IF_0(...)

/* Calls op on a tensor in the layout `block` gives it (nl_shape.block):
 * NCHW (0) the shared op with the arguments after block, channel-blocked
 * (B > 0) its CPU_ONLY twin op##_blocked with B before them. A layer thus
 * names one op whatever its input's layout, and a backend without the
 * blocked slots (CUDA, whose capabilities declare no block) is
 * handed NCHW alone. be and block are read twice. */
#define NL_OP_IN_LAYOUT(be, block, op, ...)                                                        \
    ((block) ? (be)->ops->op##_blocked((be), (block), __VA_ARGS__)                                 \
             : (be)->ops->op((be), __VA_ARGS__))

/* A layer kind's kernels as a device is asked about them (backend_ops.def:
 * runs): one row of backend/op_families.def each */
typedef enum {
#define NL_OP_FAMILY(ID, name, ops) NL_OP_FAMILY_##ID,
#include "backend/op_families.def"
#undef NL_OP_FAMILY
    NL_OP_FAMILY_COUNT
} nl_op_family;

/* The ops table: `name` ("cpu", "cuda"), then one function pointer per op
 * of backend_ops.def, where each is documented. */
typedef struct nl_ops {
    const char *name;
#define NL_OP(backends, ret, op, params) ret(*op) params;
#include "backend/backend_ops.def"
} nl_ops;

struct nl_backend {
    const nl_ops *ops;
    nl_device device;
    int threads;
    /* how the thread count was chosen: the cores this process may use, and
     * those other processes kept busy when it was opened (threads: 0 only) */
    int usable_cores;
    double busy_cores;
    bool flush_subnormals; /* host threads flush subnormal floats to zero */
    /* the CPU kernel set the ops come from (cpu/host.c: "native",
     * "x86-64-v4", ...); NULL for a GPU */
    const char *cpu_kernels;
    /* the core OpenBLAS runs its products with (OpenBLAS's name for it:
     * "Haswell", "SkylakeX", ...): with the kernel set, what fixes the
     * bits; NULL for a GPU */
    const char *openblas_core;
    /* the library choice for the BLAS products (cpu/products.c: "auto",
     * "openblas", "onednn"): with the kernel set, what fixes the bits;
     * NULL for a GPU */
    const char *products;
    /* the library the fp32 convolutions run on (cpu/conv_onednn.h:
     * "normlab", "onednn 2.6.3", "auto: onednn 2.6.3"): with the kernel set
     * and the OpenBLAS core, what fixes a CNN's bits; NULL for a GPU */
    const char *conv_library;
    /* fp32 convolutions that conv_library names for oneDNN but that ran on
     * normlab's path (a batch no plan covered, whose buffers did not fit the
     * workspace, or a primitive oneDNN would not create): summary.json says
     * how many, so that the record does not claim more than ran */
    long conv_fallbacks;
    /* the implementations oneDNN picked for the convolutions planned so far
     * (cpu/conv_onednn.h's nl_cpu_onednn_kernels: "jit:avx512_core_bf16",
     * "brg:avx512_core_amx_bf16", ...), which show whether the AMX set's
     * ran on the tiles; NULL for a GPU or a build without oneDNN */
    const char *conv_kernels;
    /* the formula layers' passes (norm/expr.c, norm/formula_compile.h):
     * layers whose passes run native code, of them those loaded from the
     * cache, layers left to the interpreter and why (the first reason),
     * and the time compiling and loading took */
    int formula_compiled, formula_cached, formula_interpreted;
    double formula_compile_ms;
    char formula_why[320];
    /* train.precision: the product ops (linear, conv2d, attention and the
     * recurrent cells' products) round their inputs, outputs and gradients
     * to it and accumulate in fp32; fp32 (0) rounds nothing. Set before
     * the model's memory is planned (the workspaces depend on it). */
    nl_precision product_precision;
    void *impl; /* backend-private state (CUDA handles and streams; the CPU's oneDNN cache) */
};

/* How a backend is opened (device/device.h's nl_backend_open hands it to
 * the CPU backend's). */
typedef struct {
    /* > 0: exactly this many host threads; <= 0: OMP_NUM_THREADS when set,
     * else the usable cores less those other processes keep busy at the
     * start (at least one) */
    int threads;
    /* false (the zero default): host threads flush subnormal floats to zero
     * (FTZ and DAZ); true keeps IEEE gradual underflow */
    bool keep_subnormals;
} nl_backend_options;

#endif
