/* A layer is a small vtable plus its own struct that embeds nl_layer first,
 * so the model loop knows no layer types (Darknet's table of function
 * pointers without its everything-struct). Each layer file holds its
 * constructor, forward and backward side by side; the constructor declares
 * parameters, state and activations to the builder, which plans memory for
 * the whole model before anything runs. */
#ifndef NL_LAYER_H
#define NL_LAYER_H

#include <stdbool.h>

#include "backend/backend.h"
#include "layers/param_norm_spec.h"
#include "layers/tensor.h"

typedef enum {
    NL_MODE_TRAIN,        /* batch statistics; running statistics updated */
    NL_MODE_EVAL,         /* running statistics where a layer has them */
    NL_MODE_TRAIN_FROZEN, /* batch statistics, running statistics untouched (train-mode eval) */
    /* training with frozen statistics (train.freeze_bn_after): running
     * statistics where a layer has them, untouched, and backward through
     * that fixed affine map; batch statistics elsewhere */
    NL_MODE_RUNNING_STATS,
    /* forward only (train.bn_recalibrate): batch statistics, and running
     * statistics the plain average of this batch and the
     * `recalibrated` before it */
    NL_MODE_RECALIBRATE,
} nl_mode;

struct nl_dist;

typedef struct {
    nl_backend *be;
    /* the ranks of a data-parallel run (NULL: one process); layers that
     * synchronize statistics across ranks call its collectives */
    struct nl_dist *dist;
    int n; /* the batch at hand on this rank, <= the planned capacity */
    nl_mode mode;
    long recalibrated; /* NL_MODE_RECALIBRATE: batches averaged before this one */
    void *workspace; /* shared scratch, as large as the largest request */
    size_t workspace_bytes; /* its size: what an op preparing an unplanned batch may use */
    long step; /* optimizer steps taken before this pass (batch renorm's ramp) */
    /* attention layers keep this pass's largest logit (nl_attention_max_logit) */
    bool record_max_logit;
    /* the model's per-step scalars (backend.h): the device block the
     * kernels read, and its host image that prepare writes (indices from
     * nl_builder_scalars) */
    const float *scalars;
    float *scalars_host;
} nl_pass;

typedef struct nl_layer nl_layer;
struct nl_param;
/* a weight layer's parameter normalizer: layers/param_norm.h, which builds
 * on this header, defines it */
struct nl_param_norm;

/* What one sample costs a layer, from its shapes (nl_layer_vtable.flops;
 * nl_model_flops sums them). FLOPs count matrix products alone, 2 per
 * multiply-add, dense as the model defines them (causal attention's masked
 * half included, biases left out); everything else a layer does (normalizers,
 * activations, pooling, adds, softmax, copies) is counted apart as the
 * values it writes, not as FLOPs. */
typedef struct {
    double forward;     /* FLOPs of the forward's products */
    /* FLOPs of the backward's products into the layer's inputs, counted only
     * where a gradient flows into them (nl_model_flops decides) */
    double input_grad;
    double weight_grad; /* FLOPs of the weight gradients' products */
    /* FLOPs of backward products needed whatever the inputs: a recurrent
     * layer's gradient through its steps */
    double state_grad;
    double values;      /* values the forward writes outside products */
} nl_layer_flops;

typedef struct {
    const char *kind;
    /* required (the builder refuses a kind without it): fills *out per
     * sample from the layer's shapes */
    void (*flops)(const nl_layer *self, nl_layer_flops *out);
    void (*forward)(nl_layer *self, const nl_pass *pass);
    void (*backward)(nl_layer *self, const nl_pass *pass);
    /* optional: the host half of a forward, run for every layer before any
     * forward's kernels are queued, on every pass, including a step replayed
     * from a recording (where forward itself does not run): advances host
     * counts and writes this pass's per-step scalars into
     * pass->scalars_host, which the model uploads before the kernels. */
    void (*prepare)(nl_layer *self, const nl_pass *pass);
    /* optional: a weight layer's parameter normalizer, and in *bias its
     * bias (NULL when it has none), for model.param_norm.data_init */
    struct nl_param_norm *(*param_norm)(nl_layer *self, struct nl_param **bias);
    /* optional: a residual add's. With `drop`, its forwards pass the
     * shortcut alone (times its factor), as if the branch were 0, until
     * called again without: how a probe removes a block from the model
     * (train.log.block_skip) for forwards in eval mode; no backward runs
     * while a branch is dropped */
    void (*drop_branch)(nl_layer *self, bool drop);
    /* optional: takes a ReLU on its output into its own passes, its output
     * then relu(f(x)), or with skip relu(f(x) + skip) (a residual add fused
     * too, skip its second input), its backward taking dy where the output
     * is > 0 and passing that to skip; the same bits as the separate
     * layers. false: it cannot (nothing changed). The fusion pass
     * (plan/fuse.c) calls it. */
    bool (*fuse_relu)(nl_layer *self, nl_act *skip);
    /* the kernels its forward and backward run (backend/op_families.def),
     * as the device it is planned for is asked whether they read and
     * write channel-blocked activations (nl_shape.block) and which storage
     * types (backend_ops.def: runs): where its device runs its family on
     * the block, its output keeps its input's layout; before any other
     * layer the plan's layout pass inserts a reorder to NCHW for each
     * blocked input (plan/layout.c). NONE (0): NCHW fp32 alone. */
    nl_op_family family;
    /* optional: the family of this layer where its options choose other
     * kernels than its kind's (a normalizer whose statistics are kept in a
     * low precision runs the NCHW-only norm_lowp ops); NULL: family */
    nl_op_family (*family_of)(const nl_layer *self);
    /* its output is NCHW whatever its input's layout (a global pooling's
     * (N, C, 1, 1), the same bytes in either) */
    bool writes_nchw;
    /* optional: the operands (NL_IO_MASK(NL_IO_X) ...: X and DX its input
     * in[input]'s value and gradient, Y and DY its output's) it keeps in
     * the 16-bit storage type `type` where the plan's precision pass gives
     * them (nl_shape's value_store, grad_store), into *takes, and of those
     * the ones it rounds to that type itself whatever the storage, into
     * *rounds (a bf16 product reads x and dy rounded to bf16 and writes y
     * and dx rounded). NULL: none. Read on the planned graph. */
    void (*storage_io)(const nl_layer *self, int input, nl_storage type, unsigned *takes,
                       unsigned *rounds);
    /* optional: takes the layouts the plan's layout pass set on its
     * input's and output's nodes (nl_shape.block) and the storage types
     * its precision pass set into what it hands its kernels (its
     * geometry's block and io), called after they are set (model/model.h:
     * nl_model_type_nodes); the constructor builds on NCHW nodes */
    void (*typed)(nl_layer *self);
    /* optional: frees what the layer allocated beyond its struct (a
     * formula's programs), before the struct itself is freed */
    void (*release)(nl_layer *self);
} nl_layer_vtable;

/* the family of l's kernels (nl_layer_vtable.family, .family_of) */
static inline nl_op_family nl_layer_family(const struct nl_layer *l);

#define NL_LAYER_MAX_IN 3 /* attention reads q, k and v */

struct nl_layer {
    const nl_layer_vtable *vt;
    char name[64];
    nl_act *in[NL_LAYER_MAX_IN];
    int n_in;
    nl_act *out;
    /* planner: add into the input gradient instead of writing it, because a
     * later layer (whose backward runs first) already wrote it */
    bool accumulate_din[NL_LAYER_MAX_IN];
    /* What in this layer's training step depends on how a batch is split
     * over MPI ranks (statistics each rank takes over its own slice, masks
     * drawn per rank), in words; NULL when nothing does, so that R ranks
     * compute what one process computes on the global batch, to float
     * rounding. Set by the layer's builder; a checkpoint resumes on
     * another rank count only when no layer sets it (train/resume.c). */
    const char *per_rank;
    /* what the fusion pass (plan/fuse.c) took into this layer's passes: "relu",
     * "add+relu", or NULL; `show` names it after the kind */
    const char *fused;
};

static inline nl_op_family nl_layer_family(const nl_layer *l)
{
    return l->vt->family_of ? l->vt->family_of(l) : l->vt->family;
}

/* The common body of nl_layer_vtable.fuse_relu for a layer of one input
 * that applies the ReLU itself: false when it already took one (or has a
 * second input); else *relu set, and skip, when given, its second input */
bool nl_layer_take_relu(nl_layer *l, bool *relu, nl_act *skip);

/* frees a layer: its release hook, then its struct */
void nl_layer_free(nl_layer *l);

/* nl_layer_vtable.flops of a layer with no products: its output's values */
void nl_layer_flops_values(const nl_layer *self, nl_layer_flops *out);

/* How a parameter starts. */
typedef enum {
    NL_FILL_ZEROS,
    NL_FILL_ONES,
    NL_FILL_NORMAL, /* std below */
    NL_FILL_CONSTANT, /* every entry the value given as std */
    NL_FILL_UNIFORM,  /* U(-std, std): PyTorch's recurrent layers' init */
    /* entry i the L2 norm of row i of the parameter fill_rows_of (filled
     * before it), its rows as many as this parameter's entries: weight
     * normalization's g, so that the initial g * v / ||v|| is v */
    NL_FILL_ROW_NORMS,
} nl_fill;

typedef struct nl_param {
    char name[80];   /* PyTorch state_dict style: "fc1.weight", "norm1.bias" */
    int ndim;
    int dims[4];
    size_t count;
    bool decay;      /* false: normalization parameters and biases (when excluded) */
    bool is_norm_or_bias;
    nl_fill fill;
    float std;
    const struct nl_param *fill_rows_of; /* NL_FILL_ROW_NORMS */
    size_t offset;   /* floats into the parameter arenas: planned with the graph */
    float *data;     /* device */
    float *grad;     /* device, same layout as data */
    float *velocity; /* device, optimizer state */
} nl_param;

/* Buffers that persist but are not trained (running statistics). */
typedef struct {
    char name[80];
    size_t count;
    float init_value;
    /* instead of init_value: a N(0, 1) draw from the model's seed, after the
     * parameters', scaled to unit L2 norm (spectral normalization's u, v).
     * Not a running statistic: resetting or recalibrating those leaves it. */
    bool unit_normal;
    float *data;
} nl_state;

typedef struct nl_builder nl_builder;

/* ---- the builder API used by layer constructors ---- */
nl_act *nl_builder_act(nl_builder *b, const char *name, nl_shape shape);
/* flatten: the same storage seen as (N, C*H*W) (of a blocked image, its
 * NCHW copy: the layout pass reorders it) */
nl_act *nl_builder_alias(nl_builder *b, const char *name, nl_act *of, nl_shape shape);
nl_param *nl_builder_param(nl_builder *b, const char *name, int ndim, const int *dims,
                           bool is_norm_or_bias, nl_fill fill, float std);
nl_state *nl_builder_state(nl_builder *b, const char *name, size_t count, float init_value);
/* a layer's host-side count that training advances (batch norm's batches
 * tracked): part of the training state a checkpoint keeps */
void nl_builder_counter(nl_builder *b, long *counter);
/* A normalizer's place in the graph: its layer's name and input, which
 * the questions the planned graph answers at another batch read (the
 * evaluation-statistics rule, arch/arch.h: nl_model_eval_batch_degenerate) */
typedef struct {
    char name[96];
    nl_shape in;
} nl_norm_site;
/* records a normalizer layer named `name` on `in` (norm/dispatch.c) */
void nl_builder_norm_site(nl_builder *b, const char *name, nl_shape in);
/* per-layer device memory that lives through forward and backward */
void nl_builder_saved(nl_builder *b, void **slot, size_t bytes);
/* What the device a graph is allocated on decides for a layer: the bytes
 * one of its kernels needs (a workspace, a saved buffer), asked of that
 * device when the graph is allocated (nl_model_alloc) with the layer's own
 * description `what` (its geometry, in its struct, which lives as long as
 * the graph), never at assembly: the planned graph is the device's to
 * size. A layer may keep what it needs of the answer (an offset into the
 * scratch): the allocation's device answers last. A plan's byte count
 * asks the CPU probe. */
typedef size_t (*nl_device_bytes)(nl_backend *be, void *what);
/* whether a device's ops have a family of kernels */
typedef bool (*nl_device_has)(const nl_ops *ops);
void nl_builder_saved_asked(nl_builder *b, void **slot, nl_device_bytes ask, void *what);
void nl_builder_workspace_asked(nl_builder *b, nl_device_bytes ask, void *what);
/* the device's normalizer backward scratch for `geom` (in the layer's
 * struct), and its scratch for a backward through a fixed point */
void nl_builder_norm_workspace(nl_builder *b, const nl_norm_geom *geom);
void nl_builder_norm_point_workspace(nl_builder *b, const nl_norm_geom *geom);
/* the device the graph is allocated on must have `family`'s kernels
 * ("GELU") for layer `name`: else the allocation fails for the device
 * key, naming the device, the layer and the family */
void nl_builder_needs_kernels(nl_builder *b, const char *name, const char *family,
                              nl_device_has has);
/* per-layer device memory holding constant data (a fixed permutation):
 * `bytes` of `host`, which must live until the model is built, uploaded
 * once when the memory is allocated */
void nl_builder_constant(nl_builder *b, void **slot, const void *host, size_t bytes);
/* `count` floats of the model's per-step scalar block (backend.h): returns
 * the index of the first, for pass->scalars and pass->scalars_host */
int nl_builder_scalars(nl_builder *b, int count);
/* shared scratch: the largest request wins */
void nl_builder_workspace(nl_builder *b, size_t bytes);
/* takes ownership of a layer allocated with nl_builder_layer_alloc */
void nl_builder_add(nl_builder *b, nl_layer *layer);
void *nl_builder_layer_alloc(nl_builder *b, size_t bytes);
/* the precision of the model's products (nl_model_spec.product_precision) */
nl_precision nl_builder_product_precision(nl_builder *b);
/* the batch size training will use (for BatchNorm's N*H*W > 1 check) */
int nl_builder_train_batch(nl_builder *b);
/* *slot receives the seed the model's random draws derive from
 * (initialization, dropout) when the graph is allocated with it */
void nl_builder_seeded(nl_builder *b, uint64_t *slot);
/* records a build error naming the layer; returns the code */
nl_code nl_builder_fail(nl_builder *b, nl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool nl_builder_failed(const nl_builder *b);
/* names the config key an error is about (see nl_error.key) */
void nl_builder_key(nl_builder *b, const char *key);
/* names the second key (see nl_error.with_key) */
void nl_builder_with_key(nl_builder *b, const char *key);
/* the output size of a kernel_h x kernel_w window at `stride` over an
 * in_h x in_w input padded by `pad`; false, and the build failed for
 * model.widths, when the window does not fit ("<lead>KxK<noun> does not
 * fit": "a 3x3 kernel", "2x2 pooling") */
bool nl_builder_window_fits(nl_builder *b, const char *name, const char *lead, const char *noun,
                            int kernel_h, int kernel_w, int stride, int pad, int in_h, int in_w,
                            int *out_h, int *out_w);

/* What the fusion pass (plan/fuse.c) asks of a layer it may fold: a ReLU
 * activation layer; a residual add with neither gain nor shortcut factor;
 * and a max pooling taking the ReLU before it into its own pass (the kind
 * becomes relu+maxpool, nl_relu_maxpool2d's layer; false, nothing changed,
 * for any other layer). */
bool nl_layer_is_relu(const nl_layer *l);
bool nl_layer_is_plain_add(const nl_layer *l);
bool nl_layer_take_relu_input(nl_layer *l);

/* a layer reading its inputs: nl_layer_init sets vt, name, inputs, output */
void nl_layer_init(nl_layer *l, const nl_layer_vtable *vt, const char *name, nl_act *in0,
                   nl_act *in1, nl_act *out);
/* the same for a layer with three inputs */
void nl_layer_init3(nl_layer *l, const nl_layer_vtable *vt, const char *name, nl_act *in0,
                    nl_act *in1, nl_act *in2, nl_act *out);

/* ---- layer constructors (core/layers, core/norm) ----
 * Each returns the output activation, or NULL after recording an error. */
nl_act *nl_linear(nl_builder *b, const char *name, nl_act *in, int out_features, bool bias,
                  nl_fill weight_fill, float weight_std);
nl_act *nl_conv2d(nl_builder *b, const char *name, nl_act *in, int out_c, int kernel, int stride,
                  int pad, bool bias, float weight_std);
/* a convolution layer's geometry, for tools that walk a built model's
 * layers (experiments/bench/layer_times.c); false for any other layer */
bool nl_conv2d_geom_of(const nl_layer *layer, nl_conv_geom *out);
/* the algorithm the plan's layout pass chose for a convolution layer
 * (nl_conv_geom.algorithm); nothing for any other layer */
void nl_conv2d_set_algorithm(nl_layer *layer, nl_conv_algorithm algorithm);
/* the same with the weight under a parameter normalizer (NULL: none) */
nl_act *nl_linear_pn(nl_builder *b, const char *name, nl_act *in, int out_features, bool bias,
                     nl_fill weight_fill, float weight_std, const nl_param_norm_spec *param_norm);
nl_act *nl_conv2d_pn(nl_builder *b, const char *name, nl_act *in, int out_c, int kernel,
                     int stride, int pad, bool bias, float weight_std,
                     const nl_param_norm_spec *param_norm);
/* the same with weight standardization when ws_eps > 0 (its eps) */
nl_act *nl_linear_ws(nl_builder *b, const char *name, nl_act *in, int out_features, bool bias,
                     nl_fill weight_fill, float weight_std, float ws_eps);
nl_act *nl_conv2d_ws(nl_builder *b, const char *name, nl_act *in, int out_c, int kernel,
                     int stride, int pad, bool bias, float weight_std, float ws_eps);
nl_act *nl_pool2d(nl_builder *b, const char *name, nl_act *in, nl_pool_kind kind, int kernel,
                  int stride, int pad);
nl_act *nl_global_avgpool(nl_builder *b, const char *name, nl_act *in);
/* ReLU followed by max pooling as one layer (the same numbers, one pass over
 * the input and no ReLU output kept) */
nl_act *nl_relu_maxpool2d(nl_builder *b, const char *name, nl_act *in, int kernel, int stride,
                          int pad);
nl_act *nl_activation_layer(nl_builder *b, const char *name, nl_act *in, nl_activation kind);
nl_act *nl_flatten(nl_builder *b, const char *name, nl_act *in);
/* a channel-blocked image as NCHW (layers/reorder.c): the layout pass's
 * own (plan/layout.c), before a layer or view that cannot read the block */
nl_act *nl_reorder_to_nchw(nl_builder *b, const char *name, nl_act *in);
nl_act *nl_residual_add(nl_builder *b, const char *name, nl_act *a, nl_act *shortcut);
/* y = a + shortcut_scale * shortcut, a constant factor (DeepNorm's alpha,
 * Wang et al. 2022); the shortcut's gradient shortcut_scale * dy */
nl_act *nl_residual_add_scaled(nl_builder *b, const char *name, nl_act *a, nl_act *shortcut,
                               float shortcut_scale);
/* y = factor * x, a constant (LayerNorm Scaling's 1 / sqrt(l), Sun et al.
 * 2025); dx = factor * dy */
nl_act *nl_scale_layer(nl_builder *b, const char *name, nl_act *in, float factor);
/* the product both run: y = s * x over the values of pass->n samples of
 * `shape`, s the first float of the device constant `factor` = {s, 0}
 * (the channel affine op with one channel); dx = s * dy, written or added */
void nl_layer_scale_forward(const nl_pass *pass, nl_shape shape, const void *factor,
                            const float *x, float *y);
void nl_layer_scale_backward(const nl_pass *pass, nl_shape shape, const void *factor,
                             const float *dy, float *dx, bool accumulate_dx);
/* y = alpha * a + shortcut with alpha the learned scalar parameter
 * `gain_name`, starting at gain_init (SkipInit, De & Smith 2020) */
nl_act *nl_residual_add_gain(nl_builder *b, const char *name, nl_act *a, nl_act *shortcut,
                             const char *gain_name, float gain_init);
/* inverted dropout with probability p (0 < p < 1) of zeroing a value
 * (core/layers/dropout.c): in training (NL_MODE_TRAIN and
 * NL_MODE_RUNNING_STATS) each step draws its mask from the model's seed,
 * the layer's name and the step, so runs repeat and resume exactly; every
 * other mode is the identity */
nl_act *nl_dropout(nl_builder *b, const char *name, nl_act *in, float p);
/* noisy batch norm's noise (core/layers/norm_noise.c; Santurkar et al.
 * 2018): in training (the modes that drop) y = x * scale_c + shift_c, one
 * scale and one shift per channel (the last axis of tokens) drawn each
 * step from the model's seed, the layer's name and the step on the host
 * (uploaded as per-step scalars); every other mode is the identity */
nl_act *nl_norm_noise(nl_builder *b, const char *name, nl_act *in, nl_noise_distribution kind,
                      float scale_mean, float scale_std, float shift_mean, float shift_std);

/* ---- token sequences (N, T, D), see backend/shape.h; core/layers ----
 * Linear layers take (N, T, D) as N*T rows (nl_linear). */
/* token + learned position embedding of the int32 ids in `tokens` (N, T):
 * parameters `<token_name>.weight` (vocab, d) and, when pos_name is not
 * NULL, `<pos_name>.weight` (T, d), both N(0, std). With
 * accumulate_table the token table's gradient is added to (a tied LM head
 * writes it first); *table (may be NULL) receives the token table. */
nl_act *nl_embedding(nl_builder *b, const char *token_name, const char *pos_name,
                     nl_act *tokens, int vocab, int d, float std, bool accumulate_table,
                     nl_param **table);
/* y = x W^T with a weight another layer owns (an LM head tied to the token
 * embedding, W (out, in)); no bias. Its gradient is written here, so the
 * owner must add its own after (nl_embedding's accumulate_table). */
nl_act *nl_linear_tied(nl_builder *b, const char *name, nl_act *in, nl_param *weight);
/* multi-head self-attention of q, k, v (N, T, D) -> (N, T, D), causal
 * unless bidirectional; q and k may come as (N, T*heads, head_dim) views
 * (after QK-norm). */
nl_act *nl_attention(nl_builder *b, const char *name, nl_act *q, nl_act *k, nl_act *v,
                     int heads, bool bidirectional);
/* an attention layer's largest logit (one device float) of its last
 * forward with pass->record_max_logit; NULL for a layer of another kind */
const float *nl_attention_max_logit(const nl_layer *layer);
nl_act *nl_gelu_layer(nl_builder *b, const char *name, nl_act *in, nl_gelu_kind kind);
/* images as tokens (the ViT; core/layers/vit.c): an (N, C, H, W) image
 * as (N, HW/p^2, C*p*p) patches (p must divide H and W: a config error
 * naming model.patch otherwise); a learned position table `param_name`
 * (T, D), N(0, std), added to every sample; a learned class token
 * `name` (1, 1, D), N(0, std), prepended as token 0; the tokens pooled to
 * (N, D) by their mean or by taking token 0. */
nl_act *nl_patchify(nl_builder *b, const char *name, nl_act *in, int patch);
nl_act *nl_pos_add(nl_builder *b, const char *name, const char *param_name, nl_act *in, float std);
nl_act *nl_cls_token(nl_builder *b, const char *name, nl_act *in, float std);
nl_act *nl_token_pool_layer(nl_builder *b, const char *name, nl_act *in, nl_token_pool kind);
/* one layer of a recurrent network (core/layers/rnn.c) over (N, T, D):
 * PyTorch's nn.LSTM or nn.GRU layer `index`, named `<module>.l<index>`;
 * its parameters `<module>.l<index>.weight_ih`, weight_hh, bias_ih and
 * bias_hh are PyTorch's `<module>.weight_ih_l<index>` and so on, all
 * U(-1/sqrt(hidden), 1/sqrt(hidden)) as PyTorch starts them.
 * The output is every step's hidden state (N, T, hidden), or with
 * last_only the last step's alone (N, hidden). */
nl_act *nl_rnn_layer(nl_builder *b, const char *module, int index, nl_act *in, nl_rnn_cell cell,
                     int hidden, bool last_only);
/* The normalizers inside a recurrent cell (nl_rnn_norm_layer), from the
 * registry row of model.norm.type and its keys (arch/rnn.c fills it). */
typedef struct {
    bool per_step;      /* batch statistics per step (recurrent batch norm); false: per sample */
    bool center;        /* subtracts the mean (false: RMS statistics) */
    bool affine;        /* learned gains (and the cell state's shift) */
    bool shift;         /* the cell state's normalizer has a learned shift */
    bool cell_state;    /* lstm: c_t normalized before its tanh */
    bool running_stats; /* per_step: running statistics for evaluation */
    /* the running statistics: one set that every step updates and reads
     * instead of one per step (training keeps each step's batch ones) */
    bool shared_running;
    bool cumulative;    /* running statistics: the plain average of every batch */
    float eps, momentum;
    float gain_init; /* every gain's starting value */
    /* per_step running statistics: the table's rows, the length the model
     * trained at, so that a model rebuilt at another length reads the
     * trained table; a step past it reads the last row. 0: the sequence
     * length */
    int stat_steps;
    nl_precision stats_precision; /* model.norm.stats_precision (nl_norm_geom's) */
} nl_rnn_cell_norm;
/* nl_rnn_layer's cell with normalizers inside it (Ba et al. 2016,
 * Cooijmans et al. 2016), at every step
 *   u = N_x(x_t w_ih^T) + N_h(h_{t-1} w_hh^T) + bias
 * then the plain cell's gates from u; the lstm's output is
 * h_t = o tanh(N_c(c_t)) (c_t itself without cell_state). N_x and N_h
 * have a gain alone (`<name>.norm_ih.weight`, `norm_hh.weight`): the one
 * bias (`<name>.bias`) stands in for their shifts. N_c has its gain and
 * shift (`norm_c.weight`, `norm_c.bias`). The gru's n gate is
 * tanh(N_x(.)_n + bias_n + r * N_h(.)_n). With per_step, each step's
 * running statistics are `norm_*.running_mean` and `running_var` rows of
 * a (T, width) table (one row with shared_running). */
nl_act *nl_rnn_norm_layer(nl_builder *b, const char *module, int index, nl_act *in,
                          nl_rnn_cell cell, int hidden, bool last_only,
                          const nl_rnn_cell_norm *norm);
/* every sample's values (C*H*W of an image) in one fixed order drawn from
 * `seed`, the same for every sample and run (the permuted pixel tasks);
 * reads the model's input batch, which takes no gradient */
nl_act *nl_permute_values(nl_builder *b, const char *name, nl_act *in, uint64_t seed);
/* the same storage seen as another shape of equal size (a view) */
nl_act *nl_view(nl_builder *b, const char *name, nl_act *in, nl_shape shape);

#endif
