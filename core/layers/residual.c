/* Residual add: y = branch + shortcut; the gradient goes to both unchanged. */
#include "layers/layer.h"

static void add_forward(nl_layer *self, const nl_pass *pass)
{
    pass->be->ops->add_forward(pass->be, (size_t)pass->n * nl_shape_per_sample(self->out->shape),
                               self->in[0]->data, self->in[1]->data, self->out->data);
}

static void add_backward(nl_layer *self, const nl_pass *pass)
{
    const size_t count = (size_t)pass->n * nl_shape_per_sample(self->out->shape);
    for (int i = 0; i < 2; i++)
        if (self->in[i]->grad)
            pass->be->ops->pass_gradient(pass->be, count, self->out->grad, self->in[i]->grad,
                                         self->accumulate_din[i]);
}

static const nl_layer_vtable add_vtable = {.kind = "residual_add", .forward = add_forward,
                                           .backward = add_backward};

nl_act *nl_residual_add(nl_builder *b, const char *name, nl_act *a, nl_act *shortcut)
{
    if (a->shape.c != shortcut->shape.c || a->shape.h != shortcut->shape.h ||
        a->shape.w != shortcut->shape.w) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: residual add of %s (%dx%dx%d) and %s (%dx%dx%d) needs equal "
                        "shapes",
                        name, a->name, a->shape.c, a->shape.h, a->shape.w, shortcut->name,
                        shortcut->shape.c, shortcut->shape.h, shortcut->shape.w);
        return NULL;
    }
    nl_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    nl_act *out = nl_builder_act(b, name, a->shape);
    nl_layer_init(l, &add_vtable, name, a, shortcut, out);
    nl_builder_add(b, l);
    return out;
}
