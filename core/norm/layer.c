/* LayerNorm (Ba et al. 2016) as the Group Normalization paper defines it for
 * images: statistics per sample over all of C*H*W, a per-channel gamma and
 * beta, i.e. GroupNorm with one group. On (N, D) features it is exactly
 * PyTorch's LayerNorm(D). PyTorch's per-element LayerNorm([C, H, W]) has
 * C*H*W affine parameters instead; it is not what the papers compare. */
#include "norm/norm.h"

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
