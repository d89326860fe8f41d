/* The layers whose output has their input's shape (an activation, a
 * normalizer, a permutation, a noise or scale): one way to add them, so
 * each constructor says only what it allocates and sets. */
#ifndef NL_LAYERS_SAME_SHAPE_H
#define NL_LAYERS_SAME_SHAPE_H

#include "layers/layer.h"

/* Makes the output `name` of in's shape, sets `layer` (allocated with
 * nl_builder_layer_alloc) to read in and write it, and hands it to the
 * builder; the output. */
nl_act *nl_layer_add_same_shape(nl_builder *b, nl_layer *layer, const nl_layer_vtable *vt,
                                const char *name, nl_act *in);

#endif
