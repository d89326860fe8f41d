/* GroupNorm (Wu & He 2018): statistics per sample over each group of C/G
 * channels (times H*W), per-channel affine, the same function in train and
 * eval mode. The same layer serves every normalizer with per-sample
 * statistics: LayerNorm (one group, layer.c), InstanceNorm (one channel per
 * group, instance.c), which adds optional running statistics, and those
 * whose registry row asks for no centring or no learned shift. */
#include <stdio.h>

#include "norm/norm.h"
#include "norm/registry.h"

const char *nl_valid_group_counts(int channels, int plane, char *buf, int size)
{
    int used = 0;
    buf[0] = '\0';
    for (int g = 1; g <= channels && used < size; g++)
        if (channels % g == 0 && (long)(channels / g) * plane > 1)
            used += snprintf(buf + used, (size_t)(size - used), "%s%d", used ? ", " : "", g);
    return buf;
}

const char *nl_norm_plane_text(nl_shape in, char *buf, size_t size)
{
    if (in.ndim == 4)
        snprintf(buf, size, " x %dx%d", in.h, in.w);
    else
        buf[0] = '\0';
    return buf;
}

static void nl_group_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    (void)train_batch;
    const int channels = in.c, plane = nl_shape_plane(in), groups = spec->groups;
    *set = (nl_norm_set){0};
    if (groups < 1 || channels % groups != 0)
        return; /* nl_groupwise_norm names the counts that divide */
    set->values = (long)(channels / groups) * plane;
    snprintf(set->per, sizeof set->per, "group");
    char spatial[48];
    snprintf(set->counted, sizeof set->counted, "%d %s / %d groups%s", channels,
             in.ndim == 4 ? "channels" : "features", groups,
             nl_norm_plane_text(in, spatial, sizeof spatial));
    char valid[256];
    nl_valid_group_counts(channels, plane, valid, sizeof valid);
    /* fewer groups help only where there are some to merge; one group of
     * a single value is the layer's own size */
    if (groups > 1 && valid[0]) {
        set->key = "model.norm.groups";
        snprintf(set->fix, sizeof set->fix, "valid group counts for this layer: %s", valid);
    }
}

nl_act *nl_groupwise_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                          int groups, bool running_stats, const char *kind)
{
    const int channels = in->shape.c, hw = nl_shape_plane(in->shape);
    if (groups < 1 || channels % groups != 0) {
        char valid[256];
        nl_valid_group_counts(channels, hw, valid, sizeof valid);
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: %s norm with %d groups does not divide its %d channels; "
                        "valid group counts for this layer: %s",
                        name, kind, groups, channels,
                        valid[0] ? valid : "none (it holds one value per sample; widen it)");
        nl_builder_key(b, "model.norm.groups");
        return NULL;
    }
    /* per sample over each group of channels */
    const nl_norm_geom geom = {.c = channels, .hw = hw, .groups = groups,
                               .center = nl_norm_info_of(spec->kind)->center, .eps = spec->eps,
                               .stats_precision = spec->stats_precision};
    return nl_stats_norm_layer(b, name, in, spec, geom, running_stats);
}

static nl_act *nl_groupnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    return nl_groupwise_norm(b, name, in, spec, spec->groups, false, "group");
}

const nl_norm_info nl_norm_row_group = {
    {"group", "GroupNorm: statistics per sample and group of channels, per-channel affine"},
    .keys = NL_NORM_STATS_KEYS | NL_NORM_KEY_GROUPS, .learned_shift = true, .center = true,
    .features = true, .images = true, .tokens = true, .adds_layer = true,
    .color = "#ff7f0e", .build = nl_groupnorm, .bench_torch = true,
    .stats_set = nl_group_set,
    .point = &(const nl_norm_point){.reduce = NL_REDUCE_SAMPLE, .center = true, .scale = NL_SCALE_STD},
    NL_NORM_SAMPLE_STD_FORMULA,
};
