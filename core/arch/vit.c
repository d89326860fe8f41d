/* vit: the image cut into patch x patch patches, each a token through a
 * linear patch embedding; a learned class token prepended (pool cls); a
 * learned position embedding added; the transformer blocks with attention
 * unmasked (every token sees every other) and their final norm; the class
 * token's output or the tokens' mean (pool mean); a linear classifier. */
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"

nl_act *nl_arch_build_vit(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    const int d = spec->d_model;
    if (!nl_arch_heads_divide(b, spec))
        return NULL;
    nl_act *x = nl_patchify(b, "patchify", input, spec->patch);
    if (!x)
        return NULL;
    x = nl_linear(b, "patch_embed", x, d, spec->bias != 0, NL_FILL_NORMAL,
                  nl_arch_tfm_std(spec, x->shape.c, d));
    if (x && spec->token_pool == NL_TOKEN_POOL_CLS)
        x = nl_cls_token(b, "cls_token", x, nl_arch_embedding_std(spec));
    x = x ? nl_pos_add(b, "pos_add", "pos_emb.weight", x, nl_arch_embedding_std(spec)) : NULL;
    x = nl_arch_transformer_blocks(b, spec, x);
    x = x ? nl_token_pool_layer(b, "pool", x, spec->token_pool) : NULL;
    if (!x)
        return NULL;
    return nl_linear(b, "head", x, spec->classes, spec->bias != 0, NL_FILL_NORMAL,
                     nl_arch_tfm_std(spec, d, spec->classes));
}
