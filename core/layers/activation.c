/* ReLU, sigmoid and tanh; backward reads the output, so no input is kept. */
#include "layers/layer.h"

typedef struct {
    nl_layer base;
    nl_activation kind;
} activation_layer;

static void activation_forward(nl_layer *self, const nl_pass *pass)
{
    activation_layer *l = (activation_layer *)self;
    pass->be->ops->activation_forward(pass->be, l->kind,
                                      (size_t)pass->n * nl_shape_per_sample(self->out->shape),
                                      self->in[0]->data, self->out->data);
}

static void activation_backward(nl_layer *self, const nl_pass *pass)
{
    activation_layer *l = (activation_layer *)self;
    if (!self->in[0]->grad)
        return;
    pass->be->ops->activation_backward(pass->be, l->kind,
                                       (size_t)pass->n * nl_shape_per_sample(self->out->shape),
                                       self->out->data, self->out->grad, self->in[0]->grad,
                                       self->accumulate_din[0]);
}

static const nl_layer_vtable activation_vtable = {.kind = "activation",
                                                  .flops = nl_layer_flops_values,
                                                  .forward = activation_forward,
                                                  .backward = activation_backward};

nl_act *nl_activation_layer(nl_builder *b, const char *name, nl_act *in, nl_activation kind)
{
    activation_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->kind = kind;
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(&l->base, &activation_vtable, name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}
