/* Flatten costs nothing: the output is the input's storage seen as (N, C*H*W),
 * so there is no layer to run, forward or backward. */
#include <limits.h>

#include "layers/layer.h"

nl_act *nl_flatten(nl_builder *b, const char *name, nl_act *in)
{
    /* the flat width is the next layer's input width, an int: a CNN's last
     * stage of 8192 channels of 512x512 is one value more (each key within
     * its own bound; the wrapped width would size the classifier wrong) */
    const size_t per_sample = nl_shape_per_sample(in->shape);
    if (per_sample > INT_MAX) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: %s holds %zu values per sample, more than a layer's width can "
                        "be (%d); make the widths or the image smaller",
                        name, in->name, per_sample, INT_MAX);
        nl_builder_key(b, "model.widths");
        return NULL;
    }
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
