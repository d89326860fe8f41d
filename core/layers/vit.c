/* The layers that turn an image into tokens and tokens into one vector per
 * image (the ViT): patchify, learned position add, class token, token
 * pooling. Each is one op pair of backend.h. */
#include <stdio.h>

#include "layers/layer.h"

/* the ViT's ops are one family: a device has all of them or none */
static bool has_vit(const nl_ops *o)
{
    return o->patchify_forward && o->patchify_backward && o->pos_add_forward &&
           o->pos_add_backward && o->cls_prepend_forward && o->cls_prepend_backward &&
           o->token_pool_forward && o->token_pool_backward;
}

static void vit_ops_needed(nl_builder *b, const char *name)
{
    nl_builder_needs_kernels(b, name, "ViT", has_vit);
}

/* ---- patchify: (N, C, H, W) -> (N, T, C*p*p) ---- */

typedef struct {
    nl_layer base;
    int c, h, w, p;
} patchify_layer;

static void patchify_forward(nl_layer *self, const nl_pass *pass)
{
    patchify_layer *l = (patchify_layer *)self;
    pass->be->ops->patchify_forward(pass->be, pass->n, l->c, l->h, l->w, l->p, self->in[0]->data,
                                    self->out->data);
}

static void patchify_backward(nl_layer *self, const nl_pass *pass)
{
    patchify_layer *l = (patchify_layer *)self;
    if (!self->in[0]->grad)
        return;
    pass->be->ops->patchify_backward(pass->be, pass->n, l->c, l->h, l->w, l->p, self->out->grad,
                                     self->in[0]->grad, self->accumulate_din[0]);
}

static const nl_layer_vtable patchify_vtable = {.kind = "patchify",
                                                .flops = nl_layer_flops_values,
                                                .forward = patchify_forward,
                                                .backward = patchify_backward};

nl_act *nl_patchify(nl_builder *b, const char *name, nl_act *in, int patch)
{
    vit_ops_needed(b, name);
    const nl_shape s = in->shape;
    if (patch < 1 || s.h % patch != 0 || s.w % patch != 0) {
        char accepted[256];
        int used = 0;
        accepted[0] = '\0';
        for (int side = 1; side <= s.h && side <= s.w && used < (int)sizeof accepted - 16; side++)
            if (s.h % side == 0 && s.w % side == 0)
                used += snprintf(accepted + used, sizeof accepted - (size_t)used, "%s%d",
                                 used ? ", " : "", side);
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: patch side %d does not divide the %dx%d image; accepted "
                        "(dividing both sides): %s",
                        name, patch, s.h, s.w, accepted);
        nl_builder_key(b, "model.patch");
        return NULL;
    }
    patchify_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->c = s.c, l->h = s.h, l->w = s.w, l->p = patch;
    const int tokens = (s.h / patch) * (s.w / patch);
    nl_act *out = nl_builder_act(
        b, name, (nl_shape){.n = s.n, .c = s.c * patch * patch, .h = tokens, .w = 1, .ndim = 3});
    nl_layer_init(&l->base, &patchify_vtable, name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}

/* ---- a learned parameter joined to the tokens: the position embedding
 * added, y = x + pos with pos (T, D); or the class token prepended,
 * (N, T, D) -> (N, T + 1, D). The two ops take the same arguments. ---- */

typedef struct {
    nl_layer base;
    nl_param *param;
    bool prepend; /* the class token, else the position add */
} token_param_layer;

static void token_param_forward(nl_layer *self, const nl_pass *pass)
{
    token_param_layer *l = (token_param_layer *)self;
    const nl_ops *o = pass->be->ops;
    const nl_shape s = self->in[0]->shape;
    (l->prepend ? o->cls_prepend_forward : o->pos_add_forward)(
        pass->be, pass->n, s.h, s.c, self->in[0]->data, l->param->data, self->out->data);
}

static void token_param_backward(nl_layer *self, const nl_pass *pass)
{
    token_param_layer *l = (token_param_layer *)self;
    const nl_ops *o = pass->be->ops;
    const nl_shape s = self->in[0]->shape;
    (l->prepend ? o->cls_prepend_backward : o->pos_add_backward)(
        pass->be, pass->n, s.h, s.c, self->out->grad, self->in[0]->grad, self->accumulate_din[0],
        l->param->grad);
}

/* [prepend]: the kind names `show` and the tests see */
static const nl_layer_vtable token_param_vtables[2] = {
    {.kind = "pos_add", .flops = nl_layer_flops_values, .forward = token_param_forward,
     .backward = token_param_backward},
    {.kind = "cls_token", .flops = nl_layer_flops_values, .forward = token_param_forward,
     .backward = token_param_backward},
};

/* the layer, its parameter `param_name` (dims, N(0, std)) and its output */
static nl_act *token_param(nl_builder *b, const char *name, const char *param_name, nl_act *in,
                           bool prepend, const int *dims, int ndim, float std)
{
    vit_ops_needed(b, name);
    token_param_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->param = nl_builder_param(b, param_name, ndim, dims, false, NL_FILL_NORMAL, std);
    l->prepend = prepend;
    nl_shape s = in->shape;
    s.h += prepend;
    nl_act *out = nl_builder_act(b, name, s);
    nl_layer_init(&l->base, &token_param_vtables[prepend], name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}

nl_act *nl_pos_add(nl_builder *b, const char *name, const char *param_name, nl_act *in, float std)
{
    return token_param(b, name, param_name, in, false, (int[]){in->shape.h, in->shape.c}, 2, std);
}

nl_act *nl_cls_token(nl_builder *b, const char *name, nl_act *in, float std)
{
    return token_param(b, name, name, in, true, (int[]){1, 1, in->shape.c}, 3, std);
}

/* ---- token pooling: (N, T, D) -> (N, D) ---- */

typedef struct {
    nl_layer base;
    nl_token_pool kind;
} token_pool_layer;

static void token_pool_forward(nl_layer *self, const nl_pass *pass)
{
    token_pool_layer *l = (token_pool_layer *)self;
    const nl_shape s = self->in[0]->shape;
    pass->be->ops->token_pool_forward(pass->be, l->kind, pass->n, s.h, s.c, self->in[0]->data,
                                      self->out->data);
}

static void token_pool_backward(nl_layer *self, const nl_pass *pass)
{
    token_pool_layer *l = (token_pool_layer *)self;
    const nl_shape s = self->in[0]->shape;
    if (!self->in[0]->grad)
        return;
    pass->be->ops->token_pool_backward(pass->be, l->kind, pass->n, s.h, s.c, self->out->grad,
                                       self->in[0]->grad, self->accumulate_din[0]);
}

static const nl_layer_vtable token_pool_vtable = {.kind = "token_pool",
                                                  .flops = nl_layer_flops_values,
                                                  .forward = token_pool_forward,
                                                  .backward = token_pool_backward};

nl_act *nl_token_pool_layer(nl_builder *b, const char *name, nl_act *in, nl_token_pool kind)
{
    vit_ops_needed(b, name);
    token_pool_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->kind = kind;
    nl_act *out =
        nl_builder_act(b, name, (nl_shape){.n = in->shape.n, .c = in->shape.c, .h = 1, .w = 1, .ndim = 2});
    nl_layer_init(&l->base, &token_pool_vtable, name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}
