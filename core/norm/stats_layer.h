/* The layer behind every normalizer with statistics (stats_layer.c), as the
 * kinds that change how training takes batch statistics see it: a
 * registry row's `training` hooks (nl_stats_training) get the layer and do
 * their part of its plan, its per-step scalars, its forward and its
 * backward; stats_layer.c runs them and names no kind. */
#ifndef NL_NORM_STATS_LAYER_H
#define NL_NORM_STATS_LAYER_H

#include "norm/norm.h"

typedef struct nl_stats_layer nl_stats_layer;

/* The point of the normalization design space a layer computes (the
 * built-ins: their geometry's own, centred with the standard deviation or
 * uncentred with the RMS; custom: its keys, norm/custom.c) */
typedef struct nl_stats_point_s {
    bool center;
    nl_norm_scale scale;
    /* training normalizes with the running statistics, each training batch
     * folded into them first, no gradient through them */
    bool train_running;
    /* evaluation takes the batch's statistics although running ones are
     * kept (for training) */
    bool eval_batch;
} nl_stats_point;

/* How a kind's training passes take batch statistics, where that is not
 * one set per channel (or per sample and group) over the whole pass.
 * Evaluation with the running statistics, and training with them frozen,
 * stay the shared layer's. */
struct nl_stats_training {
    /* bytes of the kind's own state, nl_stats_layer.variant */
    size_t state_bytes;
    /* the kind learns no scale: with affine, beta alone (mean-only batch norm) */
    bool no_gamma;
    /* statistics sets per channel in a pass of n samples, each one running
     * statistics update (ghost batch: one per virtual batch); NULL: 1 */
    int (*sets)(const nl_stats_layer *l, int n);
    /* per-step scalars of its own, after the momentum slots */
    int scalars;
    /* plans the kind's buffers (nl_builder_saved) in its state */
    void (*plan)(nl_stats_layer *l, nl_builder *b, size_t per_channel_bytes);
    /* writes its own per-step scalars (host image, `scalars` floats) */
    void (*prepare)(nl_stats_layer *l, const nl_pass *pass, float *scalars);
    /* the training forward (update: the running statistics take this
     * pass) and its backward, on the geometry of the pass */
    void (*forward)(nl_stats_layer *l, const nl_pass *pass, const nl_norm_geom *g, bool update);
    void (*backward)(nl_stats_layer *l, const nl_pass *pass, const nl_norm_geom *g);
};

/* synchronized batch norm's buffers (model.norm.sync) */
typedef struct {
    float *var;                  /* device (C): this rank's, then the global biased variance */
    float *sum_dy, *sum_dy_xhat; /* device (C): the backward's sums, this rank's, then all ranks' */
    double *exchange;            /* host (2C + 1): what the ranks share */
    float *host;                 /* host (4C): statistics on their way to and from the device */
    bool synced;                 /* the last forward took the global batch's statistics */
    double global_count;         /* of the last forward: values per channel over all ranks */
} nl_sync_state;

struct nl_stats_layer {
    nl_layer base;
    nl_norm_spec spec;
    const struct nl_stats_training *training; /* the row's; NULL: one set per pass */
    nl_norm_geom geom; /* n is the planned capacity; each pass sets its own */
    /* the geometry of the backward through frozen per-channel statistics */
    nl_norm_geom per_channel_geom;
    int rows_per_sample; /* token sequences: each token is a row (a sample of the norm ops) */
    nl_param *gamma, *beta;
    nl_state *running_mean, *running_var;
    float *save_mean, *save_rstd; /* one set per statistics set of the pass */
    long batches_tracked;
    /* per-step scalars (nl_builder_scalars), from `scalars` on: the
     * momentum of each running-statistics update of a pass, then the
     * training hooks' own */
    int scalars, momentum_slots;
    /* training with frozen running statistics: the last forward used them,
     * and (when freezable) per-channel ones, zeros and rstd for backward */
    bool ran_frozen;
    float *frozen_consts;
    nl_sync_state sync; /* used when spec.sync */
    void *variant;      /* training->state_bytes of the kind's own state */
    nl_stats_point point;
    /* the point is the fused kernels' (norm_forward / norm_backward);
     * else the two-step ops (norm_to_point, norm_backward_point) */
    bool fused;
    /* unfused: what the apply subtracted, and the divisor's variance */
    float *save_shift, *save_var;
    /* the running statistics as the point takes them (per channel: shift,
     * then variance), when that is not the running statistics themselves */
    float *point_running;
    /* a ReLU fused into the layer (the fusion pass, plan/fuse.c): the output is
     * relu(norm(x)), or with a second input relu(norm(x) + in[1]) (a
     * residual add fused too), and the backward takes dy where it is > 0 */
    bool relu;
};

/* evaluation is batch norm's per-channel map from the running statistics
 * (x - running_mean) / sqrt(running_var + eps), which a weight can fold */
static inline bool nl_stats_eval_is_running_map(const nl_stats_layer *l)
{
    return l->running_mean && !l->point.eval_batch && l->point.center &&
           l->point.scale == NL_SCALE_STD;
}

/* the layer divides each channel by statistics of the batch at hand
 * (batch statistics, a scale taken), so the loss cannot see the scale of
 * the weights feeding it */
static inline bool nl_stats_divides_by_batch(const nl_stats_layer *l)
{
    return l->geom.groups == 0 && l->point.scale != NL_SCALE_NONE && !l->point.train_running &&
           !(l->training && l->training->no_gamma);
}

#endif
