/* Elementwise activations: ReLU, sigmoid and tanh, whose backward reads the
 * output, so no input is kept; and GELU, exact or tanh form, whose backward
 * reads the layer's input. */
#include "layers/layer.h"
#include "layers/same_shape.h"

typedef struct {
    nl_layer base;
    bool gelu; /* kind is an nl_gelu_kind, else an nl_activation */
    int kind;
} activation_layer;

static void activation_forward(nl_layer *self, const nl_pass *pass)
{
    activation_layer *l = (activation_layer *)self;
    nl_backend *be = pass->be;
    const size_t count = (size_t)pass->n * nl_shape_per_sample(self->out->shape);
    if (l->gelu)
        be->ops->gelu_forward(be, (nl_gelu_kind)l->kind, count, self->in[0]->data,
                              self->out->data);
    else
        be->ops->activation_forward(be, (nl_activation)l->kind, count, self->in[0]->data,
                                    self->out->data);
}

static void activation_backward(nl_layer *self, const nl_pass *pass)
{
    activation_layer *l = (activation_layer *)self;
    if (!self->in[0]->grad)
        return;
    nl_backend *be = pass->be;
    const size_t count = (size_t)pass->n * nl_shape_per_sample(self->out->shape);
    if (l->gelu)
        be->ops->gelu_backward(be, (nl_gelu_kind)l->kind, count, self->in[0]->data,
                               self->out->grad, self->in[0]->grad, self->accumulate_din[0]);
    else
        be->ops->activation_backward(be, (nl_activation)l->kind, count, self->out->data,
                                     self->out->grad, self->in[0]->grad, self->accumulate_din[0]);
}

/* [gelu]: the kind names `show` and the tests see; element by element,
 * so any layout */
static const nl_layer_vtable vtables[2] = {
    {.kind = "activation", .flops = nl_layer_flops_values, .forward = activation_forward,
     .backward = activation_backward, .family = NL_OP_FAMILY_ELEMENTWISE},
    {.kind = "gelu", .flops = nl_layer_flops_values, .forward = activation_forward,
     .backward = activation_backward, .family = NL_OP_FAMILY_ELEMENTWISE},
};

static nl_act *add_activation(nl_builder *b, const char *name, nl_act *in, bool gelu, int kind)
{
    activation_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->gelu = gelu;
    l->kind = kind;
    return nl_layer_add_same_shape(b, &l->base, &vtables[gelu], name, in);
}

nl_act *nl_activation_layer(nl_builder *b, const char *name, nl_act *in, nl_activation kind)
{
    return add_activation(b, name, in, false, (int)kind);
}

bool nl_layer_is_relu(const nl_layer *l)
{
    return l->vt == &vtables[0] && ((const activation_layer *)l)->kind == NL_ACT_RELU;
}

static bool has_gelu(const nl_ops *o) { return o->gelu_forward && o->gelu_backward; }

nl_act *nl_gelu_layer(nl_builder *b, const char *name, nl_act *in, nl_gelu_kind kind)
{
    nl_builder_needs_kernels(b, name, "GELU", has_gelu);
    return add_activation(b, name, in, true, (int)kind);
}
