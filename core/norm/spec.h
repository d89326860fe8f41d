/* A normalizer as plain data: the kind and every knob a config can set
 * (model.norm.*), which the model spec holds and each kind's builder reads.
 * The defaults a kind starts from are its registry row's
 * (nl_norm_spec_defaults, norm/registry.h). */
#ifndef NL_NORM_SPEC_H
#define NL_NORM_SPEC_H

#include <stdbool.h>

#include "base/names.h"
#include "norm/kinds.h"

typedef struct {
    nl_norm_kind kind;
    nl_placement placement;
    /* expr in a norm -> activation pair (mlp, cnn, resnet): keep the
     * activation after the formula, or build none there (the formula is a
     * normalization-activation layer, model.norm.activation replace) */
    nl_norm_activation activation;
    /* lm, vit at placement pre: LayerNorm Scaling (Sun et al. 2025), the
     * output of block l's normalizers (l = 1 for the first block) times
     * 1 / sqrt(l); QK-norm's and the final norm are left as they are */
    bool depth_scaling;
    int groups;       /* group: number of channel groups; must divide every normalized width */
    float eps;        /* added to the variance inside the square root */
    float momentum;   /* weight of the new batch statistic in the running average */
    bool cumulative;  /* momentum: null in PyTorch: running stats are a plain average */
    bool affine;      /* learned per-channel gamma and beta */
    bool track_running_stats; /* batch: default true; instance: default false */
    /* layers with running statistics plan what training with them frozen
     * needs (NL_MODE_RUNNING_STATS); set from train.freeze_bn_after, not a
     * config key */
    bool freezable;
    /* batch_renorm (Ioffe 2017): r clipped to [1/r_max, r_max], d to
     * [-d_max, d_max]; each limit ramps linearly from (1, 0) over the
     * training steps [ramp[0], ramp[1]] */
    float r_max, d_max;
    int r_max_ramp[2], n_r_max_ramp;
    int d_max_ramp[2], n_d_max_ramp;
    int virtual_batch; /* ghost_batch: samples per virtual batch; 0 = not given */
    /* data-parallel (MPI) training: batch statistics over the global batch,
     * reduced across the ranks; false: each rank's own slice */
    bool sync;
    float alpha_init; /* dyt: the learned scalar alpha's starting value */
    /* rnn, rnn_lm with placement in_cell: the lstm's cell state is
     * normalized before its output tanh too (Ba et al.; Cooijmans et al.) */
    bool cell_state;
    /* in_cell batch norm: running statistics per step (Cooijmans et al.);
     * false: one set for every step */
    bool step_stats;
    /* in_cell batch norm: the steps the running statistics were kept for
     * when the model is rebuilt at another length (normlab eval
     * --context); 0: the model's own length. Not a config key */
    int stat_steps;
    /* in_cell: the normalizers' gains start here; 0: the kind's own, 0.1
     * for batch statistics (Cooijmans et al.) and 1 otherwise */
    float cell_gamma;
    /* the precision the normalizer's statistics (mean, variance, running
     * statistics) are computed and kept in; fp32 is autocast's policy, a
     * lower one the ablation of it */
    nl_precision stats_precision;
    /* custom (core/norm/custom.c): the axes the statistics reduce over
     * (bits 1u << NL_AXIS_*; 0: not given), whether the mean is
     * subtracted, what the values are divided by, and where the statistics
     * come from in training and in evaluation. batch_channel reads
     * train_stats for its batch part. */
    unsigned reduce;
    bool center;
    nl_norm_scale scale;
    nl_stats_source train_stats, eval_stats;
    /* expr (core/norm/expr.c, norm/formula.h): the formula, its declared
     * parameters ("gamma = 1 per channel, alpha = 0.5") and the name
     * legends, tables and the report give it ("" : expr) */
    char expr[1025];
    char params[257];
    char label[48];
} nl_norm_spec;

#endif
