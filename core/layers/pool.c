/* Max pooling, average pooling, global average pooling, and ReLU + max
 * pooling fused. */
#include "layers/layer.h"

typedef struct {
    nl_layer base;
    nl_pool_geom geom;
    int32_t *argmax; /* max pooling: where each output came from */
} pool_layer;

static void pool_forward(nl_layer *self, const nl_pass *pass)
{
    pool_layer *l = (pool_layer *)self;
    pass->be->ops->pool_forward(pass->be, &l->geom, pass->n, self->in[0]->data, self->out->data,
                                l->argmax);
}

static void pool_backward(nl_layer *self, const nl_pass *pass)
{
    pool_layer *l = (pool_layer *)self;
    if (!self->in[0]->grad)
        return;
    pass->be->ops->pool_backward(pass->be, &l->geom, pass->n, self->out->grad, l->argmax,
                                 self->in[0]->grad, self->accumulate_din[0]);
}

/* the layout the plan's layout pass gave its input */
static void pool_typed(nl_layer *self)
{
    ((pool_layer *)self)->geom.block = self->in[0]->shape.block;
}

/* every pooling reads a channel-blocked input: a window's output keeps the
 * block, the global average's (N, C, 1, 1) is the same in either layout */
static const nl_layer_vtable pool_vtable = {.kind = "pool2d",
                                            .flops = nl_layer_flops_values,
                                            .forward = pool_forward,
                                            .backward = pool_backward,
                                            .family = NL_OP_FAMILY_POOL,
                                            .typed = pool_typed};
static const nl_layer_vtable global_pool_vtable = {.kind = "pool2d",
                                                   .flops = nl_layer_flops_values,
                                                   .forward = pool_forward,
                                                   .backward = pool_backward,
                                                   .family = NL_OP_FAMILY_POOL,
                                                   .writes_nchw = true,
                                                   .typed = pool_typed};
static const nl_layer_vtable relu_pool_vtable = {.kind = "relu+maxpool",
                                                 .flops = nl_layer_flops_values,
                                                 .forward = pool_forward,
                                                 .backward = pool_backward,
                                                 .family = NL_OP_FAMILY_POOL,
                                                 .typed = pool_typed};

static nl_act *make_pool(nl_builder *b, const char *name, nl_act *in, nl_pool_kind kind,
                         int kernel_h, int kernel_w, int stride, int pad, bool relu_input,
                         bool global)
{
    if (in->shape.ndim != 4) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: pooling needs (N, C, H, W) input", name);
        return NULL;
    }
    nl_pool_geom g = {
        .kind = kind, .c = in->shape.c, .in_h = in->shape.h, .in_w = in->shape.w,
        .kernel_h = kernel_h, .kernel_w = kernel_w, .stride = stride, .pad = pad,
        .relu_input = relu_input,
    };
    if (!nl_builder_window_fits(b, name, "", " pooling", kernel_h, kernel_w, stride, pad, g.in_h,
                                g.in_w, &g.out_h, &g.out_w))
        return NULL;
    pool_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->geom = g;
    nl_shape out_shape = {.n = in->shape.n, .c = g.c, .h = g.out_h, .w = g.out_w, .ndim = 4};
    if (kind == NL_POOL_MAX)
        nl_builder_saved(b, (void **)&l->argmax, nl_shape_count(out_shape) * sizeof(int32_t));
    nl_act *out = nl_builder_act(b, name, out_shape);
    nl_layer_init(&l->base,
                  relu_input ? &relu_pool_vtable : global ? &global_pool_vtable : &pool_vtable,
                  name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}

nl_act *nl_pool2d(nl_builder *b, const char *name, nl_act *in, nl_pool_kind kind, int kernel,
                  int stride, int pad)
{
    return make_pool(b, name, in, kind, kernel, kernel, stride, pad, false, false);
}

nl_act *nl_relu_maxpool2d(nl_builder *b, const char *name, nl_act *in, int kernel, int stride,
                          int pad)
{
    return make_pool(b, name, in, NL_POOL_MAX, kernel, kernel, stride, pad, true, false);
}

bool nl_layer_take_relu_input(nl_layer *self)
{
    pool_layer *l = (pool_layer *)self;
    if (self->vt != &pool_vtable || l->geom.kind != NL_POOL_MAX)
        return false;
    l->geom.relu_input = true;
    self->vt = &relu_pool_vtable;
    return true;
}

nl_act *nl_global_avgpool(nl_builder *b, const char *name, nl_act *in)
{
    return make_pool(b, name, in, NL_POOL_AVG, in->shape.h, in->shape.w, 1, 0, false, true);
}
