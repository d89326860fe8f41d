/* BatchNorm (Ioffe & Szegedy 2015) with PyTorch's semantics: statistics per
 * channel over N*H*W, the biased variance normalizes, running statistics take
 * `momentum` of the new batch (the unbiased variance), eval mode uses them.
 * With momentum "cumulative" (PyTorch's momentum=None) the running
 * statistics are the plain average over all batches seen. */
#include <stdio.h>

#include "norm/norm.h"

/* batch statistics: one set per channel over the training batch's N*T*H*W */
void nl_batch_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    (void)spec;
    const int rows = nl_shape_rows_per_sample(in);
    *set = (nl_norm_set){.values = (long)train_batch * rows * nl_shape_plane(in),
                         .key = "train.batch_size"};
    snprintf(set->per, sizeof set->per, "channel in training");
    char spatial[48];
    char tokens[48] = "";
    if (in.ndim == 3)
        snprintf(tokens, sizeof tokens, " x %d token%s", rows, rows == 1 ? "" : "s");
    snprintf(set->counted, sizeof set->counted, "batch size %d%s%s", train_batch, tokens,
             nl_norm_plane_text(in, spatial, sizeof spatial));
    snprintf(set->fix, sizeof set->fix,
             "use a batch size of at least 2, or a normalizer with per-sample statistics "
             "(PyTorch: 'Expected more than 1 value per channel when training')");
}

/* ghost batch norm: per channel over each virtual batch */
void nl_ghost_batch_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    const int v = spec->virtual_batch;
    *set = (nl_norm_set){0};
    if (v <= 0 || train_batch % v != 0)
        return; /* nl_ghost_batchnorm says what virtual_batch must be */
    set->values = (long)v * nl_shape_rows_per_sample(in) * nl_shape_plane(in);
    set->key = "model.norm.virtual_batch";
    snprintf(set->per, sizeof set->per, "channel of each virtual batch");
    char spatial[48];
    snprintf(set->counted, sizeof set->counted, "model.norm.virtual_batch %d%s", v,
             nl_norm_plane_text(in, spatial, sizeof spatial));
    snprintf(set->fix, sizeof set->fix, "use 2 or more samples per virtual batch");
}

nl_act *nl_batchnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const int channels = in->shape.c, hw = nl_shape_plane(in->shape);
    /* batch statistics: per channel over N*H*W */
    const nl_norm_geom geom = {.c = channels, .hw = hw, .groups = 0, .center = true, .eps = spec->eps};
    return nl_stats_norm_layer(b, name, in, spec, geom, spec->track_running_stats);
}

/* Batch Renormalization (Ioffe 2017): batch norm whose training output is
 * corrected toward the running statistics, y = gamma * (r * xhat + d) +
 * beta, r and d clipped (limits ramped over the training steps) and held
 * constant in the backward. Eval mode is batch norm's. */
nl_act *nl_batch_renorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const struct {
        const char *key;
        const int *ramp;
    } ramps[] = {{"model.norm.r_max_ramp", spec->r_max_ramp},
                 {"model.norm.d_max_ramp", spec->d_max_ramp}};
    for (size_t i = 0; i < sizeof ramps / sizeof ramps[0]; i++)
        if (ramps[i].ramp[0] > ramps[i].ramp[1]) {
            nl_builder_fail(b, NL_ERR_CONFIG,
                            "layer %s: %s [%d, %d] ends before it starts; give [from, to] "
                            "training steps with from <= to",
                            name, ramps[i].key, ramps[i].ramp[0], ramps[i].ramp[1]);
            nl_builder_key(b, ramps[i].key);
            return NULL;
        }
    nl_norm_spec renorm = *spec;
    renorm.track_running_stats = true; /* r and d are taken against them */
    return nl_batchnorm(b, name, in, &renorm);
}

/* Ghost batch norm (Hoffer et al. 2017): in training, batch statistics over
 * each virtual batch of `virtual_batch` samples, PyTorch's
 * [bn(chunk) for chunk in x.split(V)]. V must divide the training batch,
 * and every pass that takes batch statistics carries exactly that batch
 * (train-mode evaluation drops its short last batch), so the virtual batches
 * are equal. Eval mode is batch norm's. */
nl_act *nl_ghost_batchnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const int batch = nl_builder_train_batch(b), v = spec->virtual_batch;
    if (v <= 0) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: ghost_batch needs model.norm.virtual_batch, the samples per "
                        "virtual batch (a divisor of train.batch_size %d)",
                        name, batch);
        nl_builder_key(b, "model.norm.virtual_batch");
        return NULL;
    }
    if (batch % v != 0) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: model.norm.virtual_batch %d does not divide train.batch_size "
                        "%d; use a divisor of the batch size",
                        name, v, batch);
        nl_builder_key(b, "model.norm.virtual_batch");
        return NULL;
    }
    return nl_batchnorm(b, name, in, spec);
}
