/* cnn: per stage conv3x3 (pad 1) [x convs_per_stage] with norm, act and
 * dropout placed as for the mlp, then 2x2 pooling; flatten; classifier. */
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"

nl_act *nl_arch_build_cnn(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    if (!nl_arch_widths_given(b, spec))
        return NULL;
    nl_act *x = input;
    const bool feeds_norm = spec->norm.placement != NL_PLACE_AFTER;
    int index = 0;
    for (int s = 0; s < spec->n_widths && x; s++) {
        for (int j = 0; j < spec->convs_per_stage && x; j++) {
            char name[32];
            index++;
            snprintf(name, sizeof name, "conv%d", index);
            x = nl_arch_conv(b, spec, name, x, spec->widths[s], 3, 1, feeds_norm);
            const bool last = j == spec->convs_per_stage - 1;
            const bool last_block = last && s == spec->n_widths - 1;
            x = nl_arch_norm_and_act(b, spec, x, index, last_block);
        }
        if (!x)
            break;
        char name[32];
        snprintf(name, sizeof name, "pool%d", s + 1);
        x = nl_pool2d(b, name, x, spec->pool, 2, 2, 0);
    }
    return nl_arch_classifier(b, spec, x);
}
