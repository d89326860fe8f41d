/* A constant factor: y = s * x, dx = s * dy (LayerNorm Scaling, Sun et al.
 * 2025: a pre-norm block's normalizer output times 1 / sqrt(l)). The
 * product runs on the channel affine op with one channel, whose scale and
 * shift are the device constant {s, 0}: s * x + 0 rounds as PyTorch's
 * s * x does. The residual add's shortcut factor (DeepNorm) goes through
 * the same two functions. */
#include "layers/layer.h"
#include "layers/same_shape.h"

typedef struct {
    nl_layer base;
    void *factor;        /* device {s, 0} */
    float factor_host[2]; /* uploaded when the model's memory is */
} scale_layer;

/* the values of n samples of `shape` as planes of shape.c values, one
 * channel each: the factor is the same for every value, so any split of
 * them does, and this one leaves the op rows to spread over threads */
static void planes_of(nl_shape shape, int n, int *planes, int *width)
{
    *width = shape.c;
    *planes = n * (int)(nl_shape_per_sample(shape) / (size_t)shape.c);
}

void nl_layer_scale_forward(const nl_pass *pass, nl_shape shape, const void *factor,
                            const float *x, float *y)
{
    int planes, width;
    planes_of(shape, pass->n, &planes, &width);
    const float *k = factor;
    pass->be->ops->channel_affine_forward(pass->be, planes, 1, width, k, k + 1, x, y);
}

void nl_layer_scale_backward(const nl_pass *pass, nl_shape shape, const void *factor,
                             const float *dy, float *dx, bool accumulate_dx)
{
    int planes, width;
    planes_of(shape, pass->n, &planes, &width);
    pass->be->ops->channel_affine_backward(pass->be, planes, 1, width, factor, dy, dx,
                                           accumulate_dx);
}

static void scale_forward(nl_layer *self, const nl_pass *pass)
{
    const scale_layer *l = (const scale_layer *)self;
    nl_layer_scale_forward(pass, self->out->shape, l->factor, self->in[0]->data,
                           self->out->data);
}

static void scale_backward(nl_layer *self, const nl_pass *pass)
{
    const scale_layer *l = (const scale_layer *)self;
    if (self->in[0]->grad)
        nl_layer_scale_backward(pass, self->out->shape, l->factor, self->out->grad,
                                self->in[0]->grad, self->accumulate_din[0]);
}

static const nl_layer_vtable scale_vtable = {.kind = "scale", .flops = nl_layer_flops_values,
                                             .forward = scale_forward,
                                             .backward = scale_backward};

nl_act *nl_scale_layer(nl_builder *b, const char *name, nl_act *in, float factor)
{
    if (!in)
        return NULL;
    scale_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->factor_host[0] = factor;
    l->factor_host[1] = 0.0f;
    nl_builder_constant(b, &l->factor, l->factor_host, sizeof l->factor_host);
    return nl_layer_add_same_shape(b, &l->base, &scale_vtable, name, in);
}
