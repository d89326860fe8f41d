/* GroupNorm (Wu & He 2018): statistics per sample over each group of C/G
 * channels (times H*W), per-channel affine, the same function in train and
 * eval mode. The same layer serves every normalizer with per-sample
 * statistics: LayerNorm (one group, layer.c), InstanceNorm (one channel per
 * group, instance.c), which adds optional running statistics, and those
 * whose registry row asks for no centring or no learned shift. */
#include <stdio.h>

#include "norm/norm.h"
#include "norm/registry.h"

const char *nl_valid_group_counts(int channels, char *buf, int size)
{
    int used = 0;
    buf[0] = '\0';
    for (int g = 1; g <= channels && used < size; g++)
        if (channels % g == 0)
            used += snprintf(buf + used, (size_t)(size - used), "%s%d", used ? ", " : "", g);
    return buf;
}

nl_act *nl_groupwise_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                          int groups, bool running_stats, const char *kind)
{
    const int channels = in->shape.c, hw = nl_shape_plane(in->shape);
    if (groups < 1 || channels % groups != 0) {
        char valid[256];
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: %s norm with %d groups does not divide its %d channels; "
                        "valid group counts for this layer: %s",
                        name, kind, groups, channels,
                        nl_valid_group_counts(channels, valid, sizeof valid));
        nl_builder_key(b, "model.norm.groups");
        return NULL;
    }
    /* per sample over each group of channels */
    const nl_norm_geom geom = {.c = channels, .hw = hw, .groups = groups,
                               .center = nl_norm_info_of(spec->kind)->center, .eps = spec->eps};
    return nl_stats_norm_layer(b, name, in, spec, geom, running_stats);
}

nl_act *nl_groupnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    return nl_groupwise_norm(b, name, in, spec, spec->groups, false, "group");
}
