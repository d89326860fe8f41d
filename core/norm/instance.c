/* InstanceNorm (Ulyanov et al. 2016): statistics per sample and channel over
 * H*W, i.e. GroupNorm with one channel per group. Optional running
 * statistics as in PyTorch's track_running_stats: the batch average of the
 * per-instance means and unbiased variances, used in eval mode. Feature
 * vectors have one value per instance and are refused, and 1x1 maps by
 * nl_norm from the row's normalized set. */
#include <stdio.h>

#include "norm/norm.h"

/* instance norm and frn: one set per channel of each sample, its map */
void nl_plane_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    (void)spec;
    (void)train_batch;
    *set = (nl_norm_set){.values = (long)in.h * in.w, .key = "model.norm.type"};
    snprintf(set->per, sizeof set->per, "channel of each sample");
    snprintf(set->counted, sizeof set->counted, "a %dx%d map", in.h, in.w);
    snprintf(set->fix, sizeof set->fix,
             "use a normalizer whose statistics also take in other channels or the batch, or "
             "keep this layer's maps larger than 1x1");
}

static nl_act *nl_instancenorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    return nl_groupwise_norm(b, name, in, spec, in->shape.c, spec->track_running_stats,
                             "instance");
}

const nl_norm_info nl_norm_row_instance = {
    {"instance", "InstanceNorm: statistics per sample and channel over H*W (images only)"},
    .keys = NL_NORM_STATS_KEYS | NL_NORM_RUNNING_KEYS, .learned_shift = true, .center = true,
    .running_stats = true, .running_stats_default = false,
    .features = false, .images = true, .adds_layer = true,
    .color = "#9467bd", .build = nl_instancenorm,
    .stats_set = nl_plane_set,
    .point = &(const nl_norm_point){.reduce = {0, 0, 1u << NL_AXIS_SPATIAL}, .center = true, .scale = NL_SCALE_STD},
    .formula = {NULL,
                NULL,
                "weight * (x - mean(x, [spatial])) / sqrt(var(x, [spatial]) + eps) + bias"},
    .formula_params = "weight = 1 per channel, bias = 0 per channel",
};
