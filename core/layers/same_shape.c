#include "layers/same_shape.h"

nl_act *nl_layer_add_same_shape(nl_builder *b, nl_layer *layer, const nl_layer_vtable *vt,
                                const char *name, nl_act *in)
{
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(layer, vt, name, in, NULL, out);
    nl_builder_add(b, layer);
    return out;
}
