/* "none": the identity. It adds no layer at all, so a model without
 * normalization runs exactly the layers it names: forward is y = x and
 * backward passes dy through, both for free. */
#include "norm/norm.h"

nl_act *nl_norm_none(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    (void)b;
    (void)name;
    (void)spec;
    return in;
}

bool nl_norm_has_shift(const nl_norm_spec *spec)
{
    return spec->kind != NL_NORM_NONE && spec->affine;
}

nl_act *nl_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    switch (spec->kind) {
    case NL_NORM_NONE:
        return nl_norm_none(b, name, in, spec);
    case NL_NORM_BATCH:
        return nl_batchnorm(b, name, in, spec);
    case NL_NORM_LAYER:
        return nl_layernorm(b, name, in, spec);
    case NL_NORM_GROUP:
        return nl_groupnorm(b, name, in, spec);
    case NL_NORM_INSTANCE:
        return nl_instancenorm(b, name, in, spec);
    default:
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: unknown normalizer %d", name, spec->kind);
        return NULL;
    }
}
