/* LayerNorm (Ba et al. 2016) as the Group Normalization paper defines it for
 * images: statistics per sample over all of C*H*W, a per-channel gamma and
 * beta, i.e. GroupNorm with one group. On (N, D) features it is exactly
 * PyTorch's LayerNorm(D). PyTorch's per-element LayerNorm([C, H, W]) has
 * C*H*W affine parameters instead; it is not what the papers compare. */
#include <stdio.h>

#include "norm/norm.h"

/* layer and rms norm: one set per sample (per token on token sequences)
 * over all its channels and pixels, so only the layer's own size counts */
void nl_layer_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    (void)spec;
    (void)train_batch;
    *set = (nl_norm_set){.values = (long)in.c * nl_shape_plane(in)};
    snprintf(set->per, sizeof set->per, "%s", in.ndim == 3 ? "token" : "sample");
    char spatial[48];
    snprintf(set->counted, sizeof set->counted, "%d %s%s%s", in.c,
             in.ndim == 4 ? "channel" : "feature", in.c == 1 ? "" : "s",
             nl_norm_plane_text(in, spatial, sizeof spatial));
}

nl_act *nl_layernorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    return nl_groupwise_norm(b, name, in, spec, 1, false, "layer");
}

/* RMSNorm (Zhang & Sennrich 2019) over the same axes: y = x / sqrt(mean(x^2)
 * + eps) * gamma_c, no centring and no beta (its registry row), so the layer
 * before it keeps its bias. */
nl_act *nl_rmsnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    return nl_groupwise_norm(b, name, in, spec, 1, false, "rms");
}
