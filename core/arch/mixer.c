/* mixer: the MLP-Mixer (Tolstikhin et al. 2021). The image cut into
 * patch x patch patches, each a token through the vit's linear patch
 * embedding; `layers` blocks, each two residual branches
 *   x + TokenMix(norm1(x)): per channel, an MLP across the tokens:
 *       (N, T, D) -> (N, D, T), fc1 T -> token_mlp_width, GELU,
 *       fc2 -> T, back to (N, T, D)
 *   x + ChannelMix(norm2(x)): per token, the transformer's MLP (fc1 to
 *       mlp_ratio * d_model, GELU, fc2)
 * then the final norm, the tokens' mean and a linear classifier. No
 * attention, no class token, no position embedding: the token MLP's
 * weights are per position. The token MLP's width defaults to d_model / 2
 * (rounded up), the paper's D_S at every size it trains (S/16 to H/14),
 * as timm's mlp_ratio (0.5, 4.0); its D_C is 4 * d_model, model.mlp_ratio's
 * default.
 *
 * Placements: pre (the paper's: its reference code normalizes before each
 * branch only) and none (no normalizer, no final norm: the baseline a
 * comparison of normalizers needs).
 *
 * Every linear layer has a bias unless model.bias is false; weights start
 * N(0, 0.02) under init auto, as the vit's, so that the two image token
 * models compare from the same initialization (the reference code: LeCun
 * normal, a zero head).
 *
 * The token axis is turned by the vit's patchify with p = 1: on an
 * (N, C, H, 1) image it is the batched transpose (N, C, H) -> (N, H, C),
 * and its backward the inverse, on every backend. */
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"

/* (N, rows, cols) tokens -> (N, cols, rows): the tokens viewed as an
 * (N, rows, cols, 1) image, patchified in 1 x 1 patches */
static nl_act *swap_axes(nl_builder *b, const char *prefix, const char *name, nl_act *x)
{
    if (!x)
        return NULL;
    char full[96], view[128];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    snprintf(view, sizeof view, "%s_image", full);
    nl_act *image = nl_view(b, view, x,
                            (nl_shape){.n = x->shape.n, .c = x->shape.h, .h = x->shape.c, .w = 1,
                                       .ndim = 4});
    return image ? nl_patchify(b, full, image, 1) : NULL;
}

/* "block.mlp_tokens": the MLP across the tokens of h (N, T, D), for each
 * of the D channels */
static nl_act *token_mlp(nl_builder *b, const nl_model_spec *spec, const char *block, nl_act *h)
{
    char prefix[80], name[96];
    snprintf(prefix, sizeof prefix, "%s.mlp_tokens", block);
    const int tokens = h ? h->shape.h : 0;
    const int width = spec->token_mlp_width > 0 ? spec->token_mlp_width : (spec->d_model + 1) / 2;
    nl_act *x = swap_axes(b, prefix, "to_channels", h);
    x = nl_arch_tfm_linear(b, spec, prefix, "fc1", x, width);
    snprintf(name, sizeof name, "%s.gelu", prefix);
    x = x ? nl_gelu_layer(b, name, x, spec->gelu) : NULL;
    x = nl_arch_tfm_linear(b, spec, prefix, "fc2", x, tokens);
    return swap_axes(b, prefix, "to_tokens", x);
}

/* x + f(norm<index>(x)), f the token MLP (index 1) or the channel MLP */
static nl_act *mixer_branch(nl_builder *b, const nl_model_spec *spec, const char *block,
                            nl_act *x, int index)
{
    char norm[32], add[96];
    snprintf(norm, sizeof norm, "norm%d", index);
    snprintf(add, sizeof add, "%s.add%d", block, index);
    nl_act *h = spec->norm.placement == NL_PLACE_PRE ? nl_arch_tfm_norm(b, spec, block, norm, x)
                                                     : x;
    nl_act *f = index == 1 ? token_mlp(b, spec, block, h) : nl_arch_tfm_mlp(b, spec, block, h);
    return f && x ? nl_residual_add(b, add, f, x) : NULL;
}

nl_act *nl_arch_build_mixer(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    const int d = spec->d_model;
    nl_act *x = nl_patchify(b, "patchify", input, spec->patch);
    x = x ? nl_linear(b, "patch_embed", x, d, spec->bias != 0, NL_FILL_NORMAL,
                      nl_arch_tfm_std(spec, x->shape.c, d))
          : NULL;
    for (int i = 0; i < spec->layers && x; i++) {
        char block[32];
        snprintf(block, sizeof block, "blocks.%d", i);
        x = mixer_branch(b, spec, block, x, 1);
        x = mixer_branch(b, spec, block, x, 2);
    }
    if (x && spec->norm.placement == NL_PLACE_PRE)
        x = nl_arch_norm(b, spec, "final_norm", x);
    x = x ? nl_token_pool_layer(b, "pool", x, NL_TOKEN_POOL_MEAN) : NULL;
    return x ? nl_linear(b, "head", x, spec->classes, spec->bias != 0, NL_FILL_NORMAL,
                         nl_arch_tfm_std(spec, d, spec->classes))
             : NULL;
}
