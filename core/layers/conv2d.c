/* 2-D convolution with square kernels; weight (out_c, in_c, k, k), seen
 * by a parameter normalizer as out_c units of in_c * k * k. */
#include <stdio.h>

#include "layers/layer.h"
#include "layers/param_norm.h"

typedef struct {
    nl_layer base;
    nl_conv_geom geom;
    nl_param *weight;
    nl_param *bias;
    nl_param_norm param_norm;
    bool bf16; /* its products in bf16 (the model's product precision) */
    int capacity, train_batch; /* the batches its kernels are planned for */
} conv_layer;

/* its kernels' scratch at the capacity and at the training batch, when
 * the model holds more (an evaluation's): a device that plans per batch
 * (the CPU's oneDNN primitives) plans both, so that no training step
 * creates them */
static size_t conv_workspace(nl_backend *be, void *what)
{
    const conv_layer *l = what;
    size_t bytes = be->ops->conv2d_workspace(be, &l->geom, l->capacity);
    if (l->train_batch > 0 && l->train_batch < l->capacity) {
        const size_t at_train = be->ops->conv2d_workspace(be, &l->geom, l->train_batch);
        if (at_train > bytes)
            bytes = at_train;
    }
    return bytes;
}

static void conv_forward(nl_layer *self, const nl_pass *pass)
{
    conv_layer *l = (conv_layer *)self;
    const float *weight = nl_param_norm_forward(&l->param_norm, pass, l->weight);
    pass->be->ops->conv2d_forward(pass->be, &l->geom, pass->n, self->in[0]->data, weight,
                                  l->bias ? l->bias->data : NULL, self->out->data,
                                  pass->workspace, pass->workspace_bytes);
}

static void conv_backward(nl_layer *self, const nl_pass *pass)
{
    conv_layer *l = (conv_layer *)self;
    const float *weight = nl_param_norm_used(&l->param_norm, l->weight);
    pass->be->ops->conv2d_backward(pass->be, &l->geom, pass->n, self->in[0]->data, weight,
                                   self->out->grad, self->in[0]->grad, self->accumulate_din[0],
                                   nl_param_norm_grad(&l->param_norm, l->weight),
                                   l->bias ? l->bias->grad : NULL, pass->workspace,
                                   pass->workspace_bytes);
    nl_param_norm_backward(&l->param_norm, pass, l->weight);
}

static nl_param_norm *conv_param_norm(nl_layer *self, nl_param **bias)
{
    conv_layer *l = (conv_layer *)self;
    *bias = l->bias;
    return &l->param_norm;
}

/* the weight (out_c, in_c, k, k) applied at every output position (stride
 * and padding are in the output's size), then the two products of its
 * backward, each as large */
static void conv_flops(const nl_layer *self, nl_layer_flops *out)
{
    const nl_conv_geom *g = &((const conv_layer *)self)->geom;
    const double product =
        2.0 * g->out_c * g->in_c * g->kernel * g->kernel * g->out_h * (double)g->out_w;
    *out = (nl_layer_flops){.forward = product, .input_grad = product, .weight_grad = product};
}

/* A bf16 convolution reads its inputs rounded to bf16 and rounds what it
 * writes: each side can be stored in 16 bits, and rounds, where its device
 * runs convolutions on that storage at that side's layout (the plan's
 * precision pass asks: backend_ops.def runs; on the CPU oneDNN's blocked
 * operands in the type its products round to, never an NCHW side, which
 * normlab's own convolutions may run). */
static void conv_storage_io(const nl_layer *self, int input, nl_storage type, unsigned *takes,
                            unsigned *rounds)
{
    (void)input, (void)type; /* its one input; the device answers for the type */
    const conv_layer *l = (const conv_layer *)self;
    *takes = l->bf16 ? NL_IO_MASK(NL_IO_X) | NL_IO_MASK(NL_IO_DX) | NL_IO_MASK(NL_IO_Y) |
                           NL_IO_MASK(NL_IO_DY)
                     : 0;
    *rounds = *takes;
}

static void conv_typed(nl_layer *self)
{
    conv_layer *l = (conv_layer *)self;
    l->geom.in_block = self->in[0]->shape.block;
    l->geom.out_block = self->out->shape.block;
    nl_io_of(l->geom.io, self->in[0]->shape, self->out->shape);
}

/* one per parameter normalizer: "conv2d", "conv2d+ws", ... */
static const nl_layer_vtable conv_vtables[] = {
#define NL_PARAM_NORM_KIND(ID, name, kind_suffix, row)                                             \
    [NL_PARAM_NORM_##ID] = {.kind = "conv2d" kind_suffix, .flops = conv_flops,                    \
                            .forward = conv_forward,                                               \
                            .backward = conv_backward, .param_norm = conv_param_norm,             \
                            .family = NL_OP_FAMILY_CONV, .storage_io = conv_storage_io,               \
                            .typed = conv_typed},
#include "layers/param_norm_kinds.def"
};

bool nl_conv2d_geom_of(const nl_layer *layer, nl_conv_geom *out)
{
    for (size_t k = 0; k < sizeof conv_vtables / sizeof conv_vtables[0]; k++)
        if (layer->vt == &conv_vtables[k]) {
            *out = ((const conv_layer *)layer)->geom;
            return true;
        }
    return false;
}

void nl_conv2d_set_algorithm(nl_layer *layer, nl_conv_algorithm algorithm)
{
    for (size_t k = 0; k < sizeof conv_vtables / sizeof conv_vtables[0]; k++)
        if (layer->vt == &conv_vtables[k])
            ((conv_layer *)layer)->geom.algorithm = (unsigned char)algorithm;
}

nl_act *nl_conv2d(nl_builder *b, const char *name, nl_act *in, int out_c, int kernel, int stride,
                  int pad, bool bias, float weight_std)
{
    return nl_conv2d_pn(b, name, in, out_c, kernel, stride, pad, bias, weight_std, NULL);
}

nl_act *nl_conv2d_ws(nl_builder *b, const char *name, nl_act *in, int out_c, int kernel,
                     int stride, int pad, bool bias, float weight_std, float ws_eps)
{
    const nl_param_norm_spec ws = {.kind = NL_PARAM_NORM_STANDARDIZATION, .eps = ws_eps};
    return nl_conv2d_pn(b, name, in, out_c, kernel, stride, pad, bias, weight_std,
                        ws_eps > 0.0f ? &ws : NULL);
}

nl_act *nl_conv2d_pn(nl_builder *b, const char *name, nl_act *in, int out_c, int kernel,
                     int stride, int pad, bool bias, float weight_std,
                     const nl_param_norm_spec *param_norm)
{
    if (in->shape.ndim != 4) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: a convolution needs (N, C, H, W) input",
                        name);
        return NULL;
    }
    /* the blocks its sides are stored in the plan's layout pass decides
     * on the graph (conv_typed) */
    nl_conv_geom g = {
        .in_c = in->shape.c, .in_h = in->shape.h, .in_w = in->shape.w, .out_c = out_c,
        .kernel = kernel, .stride = stride, .pad = pad,
    };
    if (!nl_builder_window_fits(b, name, "a ", " kernel", kernel, kernel, stride, pad, g.in_h,
                                g.in_w, &g.out_h, &g.out_w))
        return NULL;
    nl_act *out = nl_builder_act(
        b, name, (nl_shape){.n = in->shape.n, .c = out_c, .h = g.out_h, .w = g.out_w, .ndim = 4});
    if (!out)
        return NULL;
    conv_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->geom = g;
    l->bf16 = nl_builder_product_precision(b) == NL_PRECISION_BF16;
    l->capacity = in->shape.n;
    l->train_batch = nl_builder_train_batch(b);
    char pname[96];
    snprintf(pname, sizeof pname, "%s.weight", name);
    l->weight = nl_builder_param(b, pname, 4, (int[]){out_c, g.in_c, kernel, kernel}, false,
                                 NL_FILL_NORMAL, weight_std);
    if (bias) {
        snprintf(pname, sizeof pname, "%s.bias", name);
        l->bias = nl_builder_param(b, pname, 1, (int[]){out_c}, true, NL_FILL_ZEROS, 0.0f);
    }
    nl_param_norm_plan(b, &l->param_norm, l->weight, out_c, g.in_c * kernel * kernel,
                       param_norm);
    nl_builder_workspace_asked(b, conv_workspace, l);
    nl_layer_init(&l->base, &conv_vtables[nl_param_norm_kind_of(&l->param_norm)], name, in, NULL,
                  out);
    nl_builder_add(b, &l->base);
    return out;
}
