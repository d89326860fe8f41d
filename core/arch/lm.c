/* lm: token + position embedding; the transformer blocks
 * (nl_arch_transformer_blocks, causal attention); then the LM head (no
 * bias), tied to the token embedding or not. */
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"

nl_act *nl_arch_build_lm(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    const int d = spec->d_model;
    if (!nl_arch_heads_divide(b, spec))
        return NULL;
    nl_param *table = NULL;
    nl_act *x = nl_embedding(b, "tok_emb", "pos_emb", input, spec->classes, d,
                             nl_arch_embedding_std(spec), spec->tie_embeddings, &table);
    x = nl_arch_transformer_blocks(b, spec, x);
    if (!x)
        return NULL;
    if (spec->tie_embeddings)
        return nl_linear_tied(b, "head", x, table);
    return nl_linear(b, "head", x, spec->classes, false, NL_FILL_NORMAL,
                     nl_arch_tfm_std(spec, d, spec->classes));
}
