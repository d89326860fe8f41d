/* "none": the identity. It adds no layer at all, so a model without
 * normalization runs exactly the layers it names: forward is y = x and
 * backward passes dy through, both for free. */
#include <stdio.h>

#include "norm/norm.h"
#include "norm/registry.h"

nl_act *nl_norm_none(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    (void)b;
    (void)name;
    (void)spec;
    return in;
}

bool nl_norm_has_shift(const nl_norm_spec *spec)
{
    return nl_norm_info_of(spec->kind)->learned_shift && spec->affine;
}

nl_act *nl_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    if ((int)spec->kind < 0 || spec->kind >= NL_NORM_COUNT) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: unknown normalizer %d", name, spec->kind);
        return NULL;
    }
    const nl_norm_info *info = nl_norm_info_of(spec->kind);
    if (in->shape.ndim == 3 && !info->tokens) {
        char accepted[256];
        nl_norm_kinds_accepting(3, " | ", accepted, sizeof accepted);
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: normalizer '%s' does not apply to token sequences (N, T, D) (the "
                        "normalizer has no meaning there); accepted on tokens: %s",
                        name, info->id.name, accepted);
        nl_builder_key(b, "model.norm.type");
        return NULL;
    }
    return info->build(b, name, in, spec);
}
