/* "none": the identity. It adds no layer at all, so a model without
 * normalization runs exactly the layers it names: forward is y = x and
 * backward passes dy through, both for free. */
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
    return nl_norm_info_of(spec->kind)->build(b, name, in, spec);
}
