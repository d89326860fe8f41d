/* What training does, as plain data: the config's train: section, owned by
 * config (which fills it) and read by the training loop. */
#ifndef NL_CONFIG_TRAIN_SPEC_H
#define NL_CONFIG_TRAIN_SPEC_H

#include <stdbool.h>

#include "optim/optim.h"

/* the probes whose line in config/probes.def declares their bool key
 * train.log.<leaf>: the index of each one's switch in log_probe */
typedef enum {
#define NL_PROBE_LOG(name, leaf, doc) NL_PROBE_LOG_##name,
#include "config/probes.def"
    NL_PROBE_LOG_COUNT
} nl_probe_log;

#define NL_MAX_PERCENTILES 8
/* step sizes a landscape probe tries (train.log.landscape.lr_multiples) */
#define NL_LANDSCAPE_MAX_STEPS 8
/* The longest run, in optimizer steps (train.steps, or epochs times the
 * batches of an epoch): the smallest models here take tens of microseconds
 * a step, so a billion steps is hours to days of training; a larger count
 * is a typo, and keeping it far below 2^63 keeps every step product exact. */
#define NL_MAX_STEPS 1000000000L
/* The largest batch (train.batch_size, eval_batch_size, a ghost batch's
 * virtual batch): 2^20 samples take a whole split of the datasets here
 * (60000 images at most) in one step sixteen times over; what such a batch
 * costs in memory the check before a run reports. */
#define NL_MAX_BATCH (1 << 20)

/* train.loss_scale.* (GradScaler's constructor arguments; the scaler
 * that follows them: train/loss_scale.h) */
typedef struct {
    bool enabled;
    float init_scale;     /* the scale of the first step (65536) */
    float growth_factor;  /* > 1: the scale's factor after growth_interval clean steps (2) */
    float backoff_factor; /* in (0, 1): the scale's factor after an overflow (0.5) */
    long growth_interval; /* >= 1: clean steps in a row before the scale grows (2000) */
} nl_loss_scale_spec;

void nl_loss_scale_spec_defaults(nl_loss_scale_spec *spec);

/* Where the trace is measured: eval, on a fixed batch of test samples in
 * eval mode (running statistics, no noise or dropout), between steps; train,
 * on each traced step's own training batch as that step's forward computed
 * it (batch statistics, with the step's noise and dropout), so it sees what
 * the layers after it trained on. */
typedef enum { NL_TRACE_EVAL, NL_TRACE_TRAIN, NL_TRACE_MODE_COUNT } nl_trace_mode;
extern const nl_name_table nl_trace_mode_names;

/* Activation-statistics tracing (Ioffe & Szegedy Fig. 1 b, c): percentiles of
 * one unit of one activation over a fixed batch of test samples, or over the
 * traced steps' own training batches. */
typedef struct {
    char activation[64]; /* an activation's name ("norm3", "fc3"); "" = off */
    int unit;            /* which feature/channel */
    long every;          /* steps between samples */
    float percentiles[NL_MAX_PERCENTILES];
    int n_percentiles;
    int samples;         /* test samples it is measured on (eval mode) */
    nl_trace_mode mode;
} nl_trace_spec;

/* train.trace.samples when not given: cut to a smaller test split (the
 * config module warns); a value given past the split is refused
 * (nl_run_check). A resolved config.yaml holds the default too, so it is
 * told apart by its value. */
#define NL_TRACE_DEFAULT_SAMPLES 1000

/* The loss landscape along the gradient (Santurkar et al. 2018, §3.1;
 * train/probe_landscape.h): every `every` steps, before the update, the
 * step's batch at w - eta_k g for eta_k = lr_multiples[k] * the step's
 * learning rate. */
typedef struct {
    long every; /* 0: off */
    float lr_multiples[NL_LANDSCAPE_MAX_STEPS];
    int n_lr_multiples;
} nl_landscape_spec;

/* Where the batches come from on a backend with memory of its own (the
 * GPU): auto keeps the dataset resident there when it fits, on insists, off
 * uploads every batch from host memory (core/train/device_data.h). */
typedef enum {
    NL_DEVICE_DATA_AUTO,
    NL_DEVICE_DATA_ON,
    NL_DEVICE_DATA_OFF,
    NL_DEVICE_DATA_COUNT
} nl_device_data_mode;
extern const nl_name_table nl_device_data_names;

/* Whether the training step is recorded once (a CUDA graph) and replayed:
 * auto where the backend can record (CUDA, one process), off never. */
typedef enum { NL_CUDA_GRAPH_OFF, NL_CUDA_GRAPH_AUTO, NL_CUDA_GRAPH_COUNT } nl_cuda_graph_mode;
extern const nl_name_table nl_cuda_graph_names;

/* init.bn_policy: what a run started from init.from (core/train/init_from.h)
 * does with the source's batch norms before its first step */
typedef enum {
    NL_BN_POLICY_KEEP,        /* running statistics carried over and updated as usual */
    NL_BN_POLICY_RESET,       /* running mean 0, variance 1, batch counts 0 */
    NL_BN_POLICY_FREEZE,      /* running statistics in training from step 0, never updated */
    NL_BN_POLICY_RECALIBRATE, /* recomputed over batches of this run's data, then as keep */
    NL_BN_POLICY_GROUP_NORM,  /* this run's group norms take the batch norms' gamma and beta */
    NL_BN_POLICY_COUNT
} nl_bn_policy;
extern const nl_name_table nl_bn_policy_names;

typedef struct {
    nl_bn_policy policy;
    bool freeze_affine;        /* freeze: gamma and beta held at the source's values */
    long recalibrate_batches;  /* recalibrate: training batches averaged over (50) */
} nl_init_bn_spec;

typedef struct {
    int batch_size;
    int eval_batch_size;   /* evaluation batches (eval mode); train-mode eval uses batch_size */
    long epochs;           /* exactly one of epochs and steps is > 0 */
    long steps;
    nl_optim_spec optimizer;
    /* what the matrix products, convolutions and attention products take
     * (torch.autocast's policy): inputs, outputs and their gradients
     * rounded to it, fp32 accumulation; everything else fp32 */
    nl_precision precision;
    /* fp16's dynamic loss scaling (GradScaler), also allowed under fp32 */
    nl_loss_scale_spec loss_scale;
    float clip_grad_norm;  /* > 0: clip the global gradient norm to this; 0 = off */
    long checkpoint_every; /* > 0: write the training state every this many steps; 0 = never */
    nl_schedule_spec schedule;
    long eval_every;       /* steps; also at the end */
    long log_every;        /* training loss/accuracy rows: mean over this many steps */
    float diverge_loss;    /* a training loss above this (or NaN/inf) ends the run: diverged */
    bool eval_trainmode;   /* also evaluate with batch statistics (split test_trainmode) */
    nl_device_data_mode device_data;
    nl_cuda_graph_mode cuda_graph;
    nl_trace_spec trace;
    /* series.csv: per-layer gradient norms and per attention layer the
     * largest logit, at step 0 and every log_every steps */
    bool log_grad_norms;
    /* the metrics.csv and series.csv rows also as TensorBoard events, in
     * the run directory's events.out.tfevents.normlab */
    bool log_tensorboard;
    bool log_attention_logits;
    /* train.log.<leaf> of each probe whose line in config/probes.def
     * declares its switch (variance_shift, step_norms, block_skip, ...) */
    bool log_probe[NL_PROBE_LOG_COUNT];
    /* series.csv at step 0 and every log_every steps: per weight tensor its
     * norm and the step's update ratio (train/series.h) */
    bool log_weight_stats;
    /* series.csv at step 0 and every log_every steps: each Switchable
     * Normalization layer's six softmax weights (train/series.h) */
    bool log_switch_weights;
    /* series.csv before the first step: signal propagation at
     * initialization over this many training batches (train/probe_sigprop.h) */
    bool log_signal_propagation;
    int signal_propagation_batches;
    nl_landscape_spec landscape;
    long freeze_bn_after;        /* > 0: running statistics in training from this step on */
    long bn_recalibrate_batches; /* > 0: recompute running statistics over this many batches */
    /* init.bn_*: read only when init.from is set (the keys live in init:) */
    nl_init_bn_spec init_bn;
} nl_train_spec;

void nl_train_spec_defaults(nl_train_spec *train);
/* series.csv's loss-scaling rows are logged (loss scaling, or a low
 * precision's gradient zeros) */
bool nl_train_logs_loss_scale(const nl_train_spec *train);

#endif
