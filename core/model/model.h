/* A model: the layers built from a spec, with all memory planned and
 * allocated at build time. Parameters, gradients and each slot of optimizer
 * state (SGD's velocity, AdamW's two moments) live in arenas with the same
 * layout (decayed parameters first), so the optimizer is one call per
 * parameter group and nothing is allocated while training. */
#ifndef NL_MODEL_H
#define NL_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "layers/layer.h"
/* the weight layers' parameter normalizers, which nl_layer_vtable.param_norm
 * hands out to whoever walks a model's layers */
#include "layers/param_norm.h"
#include "log/files.h"
#include "model/spec.h"

/* bytes a model takes, as planned (double: an impossible model does not wrap) */
typedef struct {
    double total;      /* every arena: parameters, activations, saved tensors, workspace */
    double parameters; /* of those, parameters with their gradients and optimizer state */
} nl_model_bytes;

/* The per-step scalar block (backend.h) starts with the optimizer's
 * arguments, one args struct (nl_sgd_args or nl_adamw_args) per parameter
 * group, NL_OPTIM_ARGS_FLOATS floats each: the decayed parameters', then
 * the rest's. The layers' slots (nl_builder_scalars) follow. */
#define NL_OPTIM_ARGS_FLOATS 16
#define NL_OPTIM_SCALARS (2 * NL_OPTIM_ARGS_FLOATS)

typedef struct nl_model {
    nl_backend *be;
    nl_model_spec spec;
    int capacity;    /* largest batch */
    int train_batch; /* batch size training uses */

    nl_layer **layers;
    int n_layers;
    nl_act **acts;
    int n_acts;
    nl_param **params;
    int n_params;
    nl_state **states;
    int n_states;
    long **counters; /* host counts inside layers (nl_builder_counter) */
    int n_counters;
    /* the normalizer layers, in the order they were added (nl_builder_norm_site) */
    nl_norm_site *norm_sites;
    int n_norm_sites;

    /* (N, C, H, W) batch, uploaded by nl_model_load_batch; for token models
     * (nl_model_spec_tokens, arch/arch.h) (N, T) int32 token ids in its
     * 4-byte slots, uploaded by nl_model_load_tokens */
    nl_act *input;
    nl_act *logits; /* (N, classes), or (N, T, classes) for token models */
    /* the loss's rows per sample: 1, or T (one prediction per token; the
     * loss and its metrics are over the N*T tokens) */
    int rows_per_sample;
    int32_t *labels; /* device (N * rows_per_sample) */
    float *probs;    /* device (N * rows_per_sample, classes), kept for the loss backward */
    double *metrics; /* device [loss sum, correct count] since the last reset */
    bool has_loss;   /* false for graphs built with nl_model_build_graph */
    long step;       /* optimizer steps taken: the training loop sets it, passes carry it */
    /* while set, forwards record each attention layer's largest logit
     * (nl_attention_max_logit); the training loop sets it on the steps it logs */
    bool record_max_logit;

    float *param_arena, *grad_arena;
    /* spec.optimizer_state_slots arenas of param_floats each, one after the
     * other: slot k of parameter float i is optim_arena[k * param_floats + i] */
    float *optim_arena;
    double *clip_slots; /* device, NL_CLIP_SLOTS: gradient-norm clipping (backend.h) */
    /* dynamic loss scaling (train/loss_scale.h), set by the training loop:
     * nl_model_backward multiplies the loss's gradient by loss_scale[0]
     * (device memory) with scale_check_finite, whose flag and slots for that
     * pass are loss_scale_flag and loss_scale_slots; NULL: unscaled */
    const float *loss_scale;
    float *loss_scale_flag;
    double *loss_scale_slots;
    /* the per-step scalars: the device block the kernels read and its host
     * image, n_scalars floats each; nl_model_upload_scalars sends the image */
    float *scalars, *scalars_host;
    int n_scalars;
    size_t param_floats; /* all parameters */
    size_t decay_floats; /* the leading part that weight decay applies to when norms/biases are excluded */
    float *state_arena;
    size_t state_floats;
    void *act_arena, *saved_arena, *workspace;
    size_t workspace_bytes;
    size_t device_bytes; /* everything allocated on the backend */
    /* data-parallel training (nl_model_set_dist); NULL: one process */
    struct nl_dist *dist;
    /* gradients staged for the all-reduce, running statistics for the
     * broadcast: the larger of param_floats and state_floats */
    float *host_staging;
    /* what the graph takes: as the plan's sizer would allocate it (the
     * probe of the run's device: plan/plan.h, nl_model_plan_on), then as
     * its device allocates it */
    nl_model_bytes planned;
    /* what the graph asks of the device it is allocated on (layers/builder.h) */
    struct nl_graph_needs *needs;
    /* the dataset resident on the backend (core/train/device_data.h), which
     * the training loop gathers batches from; NULL: batches come from host
     * memory. Not owned. */
    const struct nl_device_data *device_data;
} nl_model;

/* frees a model or a planned graph (plan/plan.h: nl_model_plan) */
void nl_model_free(nl_model *m);

/* a graph for the planner: `construct` adds layers after the input and
 * returns the output (nl_model_build_graph, arch/arch.h) */
typedef nl_act *(*nl_graph_fn)(nl_builder *b, nl_act *input, void *ctx);
/* What every graph goes through (core/model/builder.c): `construct` adds
 * the layers after an input of token ids (N, T) where `tokens`, else of
 * images (N, C, H, W); with_loss adds the softmax cross-entropy (the logits
 * must be (N, classes), (N, T, classes) for tokens). The graph keeps its
 * shapes and what it asks of a device (nl_model.needs), with no memory
 * and no device: `sizer`, when given, sizes its bytes (planned) as that
 * device would allocate them, a layer whose kernels it lacks refused with
 * the device key (out NULL: just the check). The builder
 * knows no architecture: nl_model_check, nl_model_plan (plan/plan.h) and
 * nl_model_build_graph (arch/arch.h) pass the spec's as `construct`, or
 * the caller's graph, and whether its architecture reads tokens. */
nl_code nl_model_assemble(const nl_model_spec *spec, bool tokens, nl_backend *sizer, int capacity,
                          int train_batch, nl_graph_fn construct, void *ctx, bool with_loss,
                          nl_model **out, nl_error *err);
/* The storage types the plan's precision pass decided (spec's value_store,
 * grad_store: the activations by the order they were made, fp32 past
 * them) set on the graph's nodes, and each layer's kernels handed its own
 * (nl_layer_vtable.typed); the graph's spec records them. The assembly
 * types a graph as its spec says; a graph kept for a spec with fp32
 * storage is typed again for a decided one (plan/precision.c). */
void nl_model_type_nodes(nl_model *graph, const nl_model_spec *spec);
/* A planned graph allocated on `be`, the one device it runs on: the
 * device answers what the layers asked of it (kernels present, workspace
 * and saved bytes), the arenas are allocated, the parameters drawn from
 * `seed`. The graph becomes the model (*out is graph): it is the caller's
 * to free; on an error it is freed. */
nl_code nl_model_alloc(nl_model *graph, nl_backend *be, uint64_t seed, nl_model **out,
                       nl_error *err);
/* how many models this process allocated (nl_model_alloc):
 * the test that a run builds its model once counts them */
int nl_model_allocations(void);
/* host output gradient (n samples) -> backward through all layers */
void nl_model_backward_from(nl_model *m, int n, const float *output_grad);

/* host batch: x (n, C, H, W) float, labels (n) in [0, classes) */
void nl_model_load_batch(nl_model *m, const float *x, const int32_t *labels, int n);
/* host token batch of a token model: tokens and targets (n, T) in [0, classes) */
void nl_model_load_tokens(nl_model *m, const int32_t *tokens, const int32_t *targets, int n);
/* forward through the loss; adds the batch loss sum and correct count to the metrics */
void nl_model_forward(nl_model *m, int n, nl_mode mode);
/* nl_model_forward in its three parts, for a step that is replayed from a
 * recording: the layers' host halves (prepare: counts and per-step scalars
 * into the host image), the upload of the whole scalar block, and the
 * kernels (launch). nl_model_forward is the three in that order. */
void nl_model_prepare_forward(nl_model *m, int n, nl_mode mode);
void nl_model_upload_scalars(nl_model *m);
void nl_model_launch_forward(nl_model *m, int n, nl_mode mode);
/* forward through the layers only, in NL_MODE_RECALIBRATE: the running
 * statistics become the plain average of this batch and the `recalibrated`
 * batches before it (0: this batch's statistics alone) */
void nl_model_recalibrate_forward(nl_model *m, int n, long recalibrated);
/* backward from the loss of the last forward (in NL_MODE_TRAIN or NL_MODE_RUNNING_STATS) */
void nl_model_backward(nl_model *m, int n);
/* metrics[0] = summed loss, metrics[1] = correct predictions since the last
 * reset, over every rank's samples (all ranks must call it together) */
void nl_model_read_metrics(nl_model *m, double out[2]);

/* Makes the model one replica of a data-parallel run over `dist` (kept, not
 * owned): layers that synchronize statistics use it, and the exchange
 * buffers are reserved now so that no step allocates. */
nl_code nl_model_set_dist(nl_model *m, struct nl_dist *dist, nl_error *err);
/* After backward: every rank's gradients replaced by their mean over the
 * ranks (each rank's loss is the mean over its equal share of the batch, so
 * this is the gradient of the global batch's mean loss). Each rank's wish to
 * stop (`stop_here`) travels in the same exchange, so that a step needs one
 * collective; returns whether any rank asked, the same on every rank.
 * On one rank: nothing to exchange, returns stop_here. */
bool nl_model_reduce_gradients(nl_model *m, bool stop_here);
/* Every rank takes rank 0's running statistics (and other state), as
 * PyTorch's DistributedDataParallel broadcasts its buffers: with batch norm
 * not synchronized each rank's follow its own slices, and an evaluation
 * must use one model. Nothing to do on one rank. */
void nl_model_share_state(nl_model *m);
/* the first layer whose training depends on how a batch is split over the
 * ranks (nl_layer.per_rank), or NULL when none does */
const nl_layer *nl_model_per_rank_layer(const nl_model *m);
void nl_model_reset_metrics(nl_model *m);
/* sets the counters (a resumed run continues its sums) */
void nl_model_write_metrics(nl_model *m, const double in[2]);

nl_param *nl_model_param(const nl_model *m, const char *name);
nl_state *nl_model_state(const nl_model *m, const char *name);
/* an activation by name, or "<layer>.in" for the input of a layer */
nl_act *nl_model_act(const nl_model *m, const char *name);
size_t nl_model_param_total(const nl_model *m);
/* What a training step costs, summed over the layers' own counts
 * (nl_layer_vtable.flops; layers/layer.h says what is counted): FLOPs of
 * the matrix products, 2 per multiply-add. Backward is the weight
 * gradients plus the input gradients where a gradient flows, i.e. where
 * the input depends on a parameter: the first product layer, reading the
 * data, computes none (as PyTorch's autograd skips it). The optimizer and
 * the loss are left out; so are a parameter normalizer's transforms of the
 * weights, which cost per step, not per sample. */
typedef struct {
    double forward, backward; /* FLOPs */
    double values; /* values the forward writes outside products: not FLOPs */
} nl_step_flops;
/* the counts for `batch` samples; NAN in each when memory runs out */
void nl_model_flops(const nl_model *m, int batch, nl_step_flops *out);
/* multiply-adds per sample of forward, times 2 (FLOPs), for throughput reports */
double nl_model_forward_flops(const nl_model *m);
/* a table of the layers (name, kind, output shape, parameters) and the
 * totals: parameters, running statistics, FLOPs, planned memory */
void nl_model_summary(const nl_model *m, nl_buf *out);

#endif
