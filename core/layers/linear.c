/* Linear layer: y = x W^T + b, W (out, in) as in PyTorch; with weight
 * standardization W is replaced by its standardized copy in both passes.
 * Token sequences (N, T, D) are N*T rows over the last axis. */
#include <stdio.h>

#include "layers/layer.h"

typedef struct {
    nl_layer base;
    int in_features, out_features;
    nl_param *weight;
    nl_param *bias; /* NULL when dropped */
    int rows_per_sample;
    bool tied; /* the weight belongs to another layer */
    bool standardized;
    nl_weight_std ws;
} linear_layer;

static void linear_forward(nl_layer *self, const nl_pass *pass)
{
    linear_layer *l = (linear_layer *)self;
    const float *weight =
        l->standardized ? nl_weight_std_forward(&l->ws, pass->be, l->weight->data) : l->weight->data;
    pass->be->ops->linear_forward(pass->be, pass->n * l->rows_per_sample, l->in_features,
                                  l->out_features, self->in[0]->data, weight,
                                  l->bias ? l->bias->data : NULL, self->out->data,
                                  pass->workspace);
}

static void linear_backward(nl_layer *self, const nl_pass *pass)
{
    linear_layer *l = (linear_layer *)self;
    pass->be->ops->linear_backward(pass->be, pass->n * l->rows_per_sample, l->in_features,
                                   l->out_features, self->in[0]->data, l->standardized ? l->ws.weight : l->weight->data,
                                   self->out->grad, self->in[0]->grad, self->accumulate_din[0],
                                   l->standardized ? l->ws.grad : l->weight->grad,
                                   l->bias ? l->bias->grad : NULL);
    if (l->standardized)
        nl_weight_std_backward(&l->ws, pass->be, l->weight->data, l->weight->grad,
                               pass->workspace);
}

static const nl_layer_vtable linear_vtable = {.kind = "linear", .forward = linear_forward,
                                              .backward = linear_backward};
static const nl_layer_vtable linear_ws_vtable = {.kind = "linear+ws", .forward = linear_forward,
                                                 .backward = linear_backward};
static const nl_layer_vtable linear_tied_vtable = {.kind = "linear(tied)",
                                                   .forward = linear_forward,
                                                   .backward = linear_backward};

/* the workspace and the output, (N, out) or (N, T, out) as the input */
static nl_act *linear_finish(nl_builder *b, linear_layer *l, const char *name, nl_act *in)
{
    nl_backend *be = nl_builder_backend(b);
    nl_builder_workspace(b, be->ops->linear_workspace(be, in->shape.n * l->rows_per_sample,
                                                      l->in_features, l->out_features));
    nl_shape shape = in->shape;
    shape.c = l->out_features;
    if (shape.ndim == 2)
        shape.h = shape.w = 1;
    nl_act *out = nl_builder_act(b, name, shape);
    nl_layer_init(&l->base,
                  l->tied           ? &linear_tied_vtable
                  : l->standardized ? &linear_ws_vtable
                                    : &linear_vtable,
                  name, in, NULL, out);
    /* a tied weight is not named after this layer: its cost from the shapes */
    l->base.own_flops = l->tied;
    l->base.flops = 2.0 * l->in_features * l->out_features * l->rows_per_sample;
    nl_builder_add(b, &l->base);
    return out;
}

nl_act *nl_linear(nl_builder *b, const char *name, nl_act *in, int out_features, bool bias,
                  nl_fill weight_fill, float weight_std)
{
    return nl_linear_ws(b, name, in, out_features, bias, weight_fill, weight_std, 0.0f);
}

nl_act *nl_linear_ws(nl_builder *b, const char *name, nl_act *in, int out_features, bool bias,
                     nl_fill weight_fill, float weight_std, float ws_eps)
{
    if (in->shape.ndim != 2 && in->shape.ndim != 3) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: a linear layer needs (N, D) or (N, T, D) input, got %s", name,
                        in->name);
        return NULL;
    }
    linear_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->in_features = in->shape.c;
    l->out_features = out_features;
    l->rows_per_sample = nl_shape_rows_per_sample(in->shape);
    char pname[96];
    snprintf(pname, sizeof pname, "%s.weight", name);
    l->weight = nl_builder_param(b, pname, 2, (int[]){out_features, l->in_features}, false,
                                 weight_fill, weight_std);
    if (bias) {
        snprintf(pname, sizeof pname, "%s.bias", name);
        l->bias = nl_builder_param(b, pname, 1, (int[]){out_features}, true, NL_FILL_ZEROS, 0.0f);
    }
    l->standardized = ws_eps > 0.0f;
    if (l->standardized)
        nl_weight_std_plan(b, &l->ws, out_features, l->in_features, ws_eps);
    return linear_finish(b, l, name, in);
}

nl_act *nl_linear_tied(nl_builder *b, const char *name, nl_act *in, nl_param *weight)
{
    if ((in->shape.ndim != 2 && in->shape.ndim != 3) || weight->ndim != 2 ||
        weight->dims[1] != in->shape.c) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: a tied linear layer needs (N, D) or (N, T, D) input with D "
                        "the width of %s",
                        name, weight->name);
        return NULL;
    }
    linear_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->in_features = in->shape.c;
    l->out_features = weight->dims[0];
    l->rows_per_sample = nl_shape_rows_per_sample(in->shape);
    l->weight = weight;
    l->tied = true;
    return linear_finish(b, l, name, in);
}
