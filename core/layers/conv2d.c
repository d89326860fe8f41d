/* 2-D convolution with square kernels; weight (out_c, in_c, k, k), used
 * standardized per output channel when weight standardization is on. */
#include <stdio.h>

#include "layers/layer.h"

typedef struct {
    nl_layer base;
    nl_conv_geom geom;
    nl_param *weight;
    nl_param *bias;
    bool standardized;
    nl_weight_std ws;
} conv_layer;

static void conv_forward(nl_layer *self, const nl_pass *pass)
{
    conv_layer *l = (conv_layer *)self;
    const float *weight =
        l->standardized ? nl_weight_std_forward(&l->ws, pass->be, l->weight->data) : l->weight->data;
    pass->be->ops->conv2d_forward(pass->be, &l->geom, pass->n, self->in[0]->data, weight,
                                  l->bias ? l->bias->data : NULL, self->out->data,
                                  pass->workspace);
}

static void conv_backward(nl_layer *self, const nl_pass *pass)
{
    conv_layer *l = (conv_layer *)self;
    pass->be->ops->conv2d_backward(pass->be, &l->geom, pass->n, self->in[0]->data,
                                   l->standardized ? l->ws.weight : l->weight->data,
                                   self->out->grad, self->in[0]->grad, self->accumulate_din[0],
                                   l->standardized ? l->ws.grad : l->weight->grad,
                                   l->bias ? l->bias->grad : NULL, pass->workspace);
    if (l->standardized)
        nl_weight_std_backward(&l->ws, pass->be, l->weight->data, l->weight->grad,
                               pass->workspace);
}

static const nl_layer_vtable conv_vtable = {.kind = "conv2d", .forward = conv_forward,
                                            .backward = conv_backward};
static const nl_layer_vtable conv_ws_vtable = {.kind = "conv2d+ws", .forward = conv_forward,
                                               .backward = conv_backward};

nl_act *nl_conv2d(nl_builder *b, const char *name, nl_act *in, int out_c, int kernel, int stride,
                  int pad, bool bias, float weight_std)
{
    return nl_conv2d_ws(b, name, in, out_c, kernel, stride, pad, bias, weight_std, 0.0f);
}

nl_act *nl_conv2d_ws(nl_builder *b, const char *name, nl_act *in, int out_c, int kernel,
                     int stride, int pad, bool bias, float weight_std, float ws_eps)
{
    if (in->shape.ndim != 4) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: a convolution needs (N, C, H, W) input",
                        name);
        return NULL;
    }
    nl_conv_geom g = {
        .in_c = in->shape.c, .in_h = in->shape.h, .in_w = in->shape.w, .out_c = out_c,
        .kernel = kernel, .stride = stride, .pad = pad,
    };
    g.out_h = (g.in_h + 2 * pad - kernel) / stride + 1;
    g.out_w = (g.in_w + 2 * pad - kernel) / stride + 1;
    if (g.in_h + 2 * pad < kernel || g.in_w + 2 * pad < kernel || g.out_h < 1 || g.out_w < 1) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: a %dx%d kernel does not fit its %dx%d input (too many stages "
                        "for this image size?)",
                        name, kernel, kernel, g.in_h, g.in_w);
        nl_builder_key(b, "model.widths");
        return NULL;
    }
    conv_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->geom = g;
    char pname[96];
    snprintf(pname, sizeof pname, "%s.weight", name);
    l->weight = nl_builder_param(b, pname, 4, (int[]){out_c, g.in_c, kernel, kernel}, false,
                                 NL_FILL_NORMAL, weight_std);
    if (bias) {
        snprintf(pname, sizeof pname, "%s.bias", name);
        l->bias = nl_builder_param(b, pname, 1, (int[]){out_c}, true, NL_FILL_ZEROS, 0.0f);
    }
    l->standardized = ws_eps > 0.0f;
    if (l->standardized)
        nl_weight_std_plan(b, &l->ws, out_c, g.in_c * kernel * kernel, ws_eps);
    nl_backend *be = nl_builder_backend(b);
    nl_builder_workspace(b, be->ops->conv2d_workspace(be, &g, in->shape.n));
    nl_act *out = nl_builder_act(
        b, name, (nl_shape){.n = in->shape.n, .c = out_c, .h = g.out_h, .w = g.out_w, .ndim = 4});
    nl_layer_init(&l->base, l->standardized ? &conv_ws_vtable : &conv_vtable, name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}
