/* mlp: flatten, then per hidden width fc -> norm -> act (before) or
 * fc -> act -> norm (after), with dropout where model.dropout puts it,
 * then the classifier. */
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"

nl_act *nl_arch_build_mlp(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    if (!nl_arch_widths_given(b, spec))
        return NULL;
    nl_param_norm_spec storage;
    const nl_param_norm_spec *param_norm = nl_arch_param_norm(b, spec, &storage);
    if (!param_norm)
        return NULL;
    nl_act *x = nl_flatten(b, "flatten_input", input);
    const bool feeds_norm = spec->norm.placement != NL_PLACE_AFTER;
    for (int i = 0; i < spec->n_widths && x; i++) {
        char name[32];
        snprintf(name, sizeof name, "fc%d", i + 1);
        const int width = spec->widths[i];
        x = nl_linear_pn(b, name, x, width, nl_arch_layer_bias(spec, feeds_norm), NL_FILL_NORMAL,
                         nl_arch_init_std(spec, x->shape.c, width, true), param_norm);
        x = nl_arch_norm_and_act(b, spec, x, i + 1, i == spec->n_widths - 1);
    }
    return nl_arch_classifier(b, spec, x);
}
