/* GELU, exact or tanh form; backward reads the layer's input. */
#include "layers/layer.h"

typedef struct {
    nl_layer base;
    nl_gelu_kind kind;
} gelu_layer;

static void gelu_forward(nl_layer *self, const nl_pass *pass)
{
    gelu_layer *l = (gelu_layer *)self;
    pass->be->ops->gelu_forward(pass->be, l->kind,
                                (size_t)pass->n * nl_shape_per_sample(self->out->shape),
                                self->in[0]->data, self->out->data);
}

static void gelu_backward(nl_layer *self, const nl_pass *pass)
{
    gelu_layer *l = (gelu_layer *)self;
    if (!self->in[0]->grad)
        return;
    pass->be->ops->gelu_backward(pass->be, l->kind,
                                 (size_t)pass->n * nl_shape_per_sample(self->out->shape),
                                 self->in[0]->data, self->out->grad, self->in[0]->grad,
                                 self->accumulate_din[0]);
}

static const nl_layer_vtable gelu_vtable = {.kind = "gelu",
                                            .flops = nl_layer_flops_values,
                                            .forward = gelu_forward,
                                            .backward = gelu_backward};

nl_act *nl_gelu_layer(nl_builder *b, const char *name, nl_act *in, nl_gelu_kind kind)
{
    nl_backend *be = nl_builder_backend(b);
    if (!be->ops->gelu_forward || !be->ops->gelu_backward) {
        nl_builder_fail(b, NL_ERR_UNSUPPORTED,
                        "layer %s: the %s backend has no GELU kernels yet; use device: cpu",
                        name, be->ops->name);
        nl_builder_key(b, "device");
        return NULL;
    }
    gelu_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->kind = kind;
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(&l->base, &gelu_vtable, name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}
