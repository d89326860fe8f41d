/* Linear layer: y = x W^T + b, W (out, in) as in PyTorch; under a
 * parameter normalizer W is replaced by its transform in both passes.
 * Token sequences (N, T, D) are N*T rows over the last axis. */
#include <stdio.h>

#include "layers/layer.h"
#include "layers/param_norm.h"

typedef struct {
    nl_layer base;
    int in_features, out_features;
    nl_param *weight;
    nl_param *bias; /* NULL when dropped */
    int rows_per_sample;
    bool tied; /* the weight belongs to another layer */
    nl_param_norm param_norm;
} linear_layer;

static void linear_forward(nl_layer *self, const nl_pass *pass)
{
    linear_layer *l = (linear_layer *)self;
    const float *weight = nl_param_norm_forward(&l->param_norm, pass, l->weight);
    pass->be->ops->linear_forward(pass->be, pass->n * l->rows_per_sample, l->in_features,
                                  l->out_features, self->in[0]->data, weight,
                                  l->bias ? l->bias->data : NULL, self->out->data,
                                  pass->workspace);
}

static void linear_backward(nl_layer *self, const nl_pass *pass)
{
    linear_layer *l = (linear_layer *)self;
    const float *weight = nl_param_norm_used(&l->param_norm, l->weight);
    pass->be->ops->linear_backward(pass->be, pass->n * l->rows_per_sample, l->in_features,
                                   l->out_features, self->in[0]->data, weight, self->out->grad,
                                   self->in[0]->grad, self->accumulate_din[0],
                                   nl_param_norm_grad(&l->param_norm, l->weight),
                                   l->bias ? l->bias->grad : NULL, pass->workspace);
    nl_param_norm_backward(&l->param_norm, pass, l->weight);
}

static nl_param_norm *linear_param_norm(nl_layer *self, nl_param **bias)
{
    linear_layer *l = (linear_layer *)self;
    *bias = l->bias;
    return &l->param_norm;
}

/* x W^T, then the two products of its backward, each as large */
static void linear_flops(const nl_layer *self, nl_layer_flops *out)
{
    const linear_layer *l = (const linear_layer *)self;
    const double product = 2.0 * l->in_features * l->out_features * l->rows_per_sample;
    *out = (nl_layer_flops){.forward = product, .input_grad = product, .weight_grad = product};
}

/* one per parameter normalizer: "linear", "linear+ws", ... */
static const nl_layer_vtable linear_vtables[] = {
#define NL_PARAM_NORM_KIND(ID, name, kind_suffix, row)                                             \
    [NL_PARAM_NORM_##ID] = {.kind = "linear" kind_suffix, .flops = linear_flops,                  \
                            .forward = linear_forward,                                             \
                            .backward = linear_backward, .param_norm = linear_param_norm},
#include "layers/param_norm_kinds.def"
};
static const nl_layer_vtable linear_tied_vtable = {.kind = "linear(tied)",
                                                   .flops = linear_flops,
                                                   .forward = linear_forward,
                                                   .backward = linear_backward};

/* its product's scratch over the batch's rows */
static size_t linear_workspace(nl_backend *be, void *what)
{
    const linear_layer *l = what;
    return be->ops->linear_workspace(be, l->base.in[0]->shape.n * l->rows_per_sample,
                                     l->in_features, l->out_features);
}

/* the workspace and the output, (N, out) or (N, T, out) as the input */
static nl_act *linear_finish(nl_builder *b, linear_layer *l, const char *name, nl_act *in)
{
    nl_builder_workspace_asked(b, linear_workspace, l);
    nl_shape shape = in->shape;
    shape.c = l->out_features;
    if (shape.ndim == 2)
        shape.h = shape.w = 1;
    nl_act *out = nl_builder_act(b, name, shape);
    nl_layer_init(&l->base,
                  l->tied ? &linear_tied_vtable
                          : &linear_vtables[nl_param_norm_kind_of(&l->param_norm)],
                  name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}

nl_act *nl_linear(nl_builder *b, const char *name, nl_act *in, int out_features, bool bias,
                  nl_fill weight_fill, float weight_std)
{
    return nl_linear_pn(b, name, in, out_features, bias, weight_fill, weight_std, NULL);
}

nl_act *nl_linear_ws(nl_builder *b, const char *name, nl_act *in, int out_features, bool bias,
                     nl_fill weight_fill, float weight_std, float ws_eps)
{
    const nl_param_norm_spec ws = {.kind = NL_PARAM_NORM_STANDARDIZATION, .eps = ws_eps};
    return nl_linear_pn(b, name, in, out_features, bias, weight_fill, weight_std,
                        ws_eps > 0.0f ? &ws : NULL);
}

nl_act *nl_linear_pn(nl_builder *b, const char *name, nl_act *in, int out_features, bool bias,
                     nl_fill weight_fill, float weight_std, const nl_param_norm_spec *param_norm)
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
    nl_param_norm_plan(b, &l->param_norm, l->weight, out_features, l->in_features, param_norm);
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
    nl_param_norm_plan(b, &l->param_norm, weight, l->out_features, l->in_features, NULL);
    return linear_finish(b, l, name, in);
}
