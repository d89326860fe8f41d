/* Flatten costs nothing: the output is the input's storage seen as (N, C*H*W),
 * so there is no layer to run, forward or backward. */
#include "layers/layer.h"

nl_act *nl_flatten(nl_builder *b, const char *name, nl_act *in)
{
    nl_shape flat = {.n = in->shape.n, .c = (int)nl_shape_per_sample(in->shape), .h = 1, .w = 1,
                     .ndim = 2};
    return nl_builder_alias(b, name, in, flat);
}

nl_act *nl_view(nl_builder *b, const char *name, nl_act *in, nl_shape shape)
{
    if (nl_shape_count(shape) != nl_shape_count(in->shape)) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: a view of %s must keep its size", name,
                        in->name);
        return NULL;
    }
    return nl_builder_alias(b, name, in, shape);
}
