/* Residual add: y = branch + shortcut; the gradient goes to both unchanged.
 * With a shortcut factor (DeepNorm, Wang et al. 2022: the arch's
 * post-norm blocks): y = branch + alpha * shortcut, alpha a constant, the
 * shortcut's gradient alpha * dy (the channel affine op with one channel,
 * as PyTorch's alpha * x + f rounds it: the product, then the sum).
 * With a gain (SkipInit, De & Smith 2020): y = alpha * branch + shortcut,
 * alpha one learned scalar. alpha = 0 at initialization makes every block
 * the identity, so an unnormalized deep network starts as a shallow one,
 * which is the part of batch norm's effect SkipInit keeps. The product
 * alpha * branch is a linear map of one input and one output feature over
 * every value as a row (the linear ops: dx = dy * alpha and dalpha =
 * sum dy * branch in one backward). */
#include <stdio.h>

#include "layers/layer.h"

typedef struct {
    nl_layer base;
    nl_param *gain; /* NULL: the plain add */
    /* the shortcut's factor alpha: the device constant {alpha, 0}
     * (NULL: 1), uploaded from shortcut_host */
    void *shortcut_scale;
    float shortcut_host[2];
    bool plain; /* neither gain nor factor: y = a + shortcut */
    /* a probe removes the block: y = alpha * shortcut (drop_branch) */
    bool branch_dropped;
} add_layer;

static int rows_of(const nl_layer *self, const nl_pass *pass)
{
    return pass->n * (int)nl_shape_per_sample(self->out->shape);
}

/* y = a + b, each input in its storage (one fp32 addition either way) */
static void plain_add(nl_backend *be, size_t count, const nl_act *a, const nl_act *b, float *y)
{
    if (a->shape.value_store || b->shape.value_store)
        be->ops->add_forward_stored(be, count, a->shape.value_store, a->data,
                                    b->shape.value_store, b->data, y);
    else
        be->ops->add_forward(be, count, a->data, b->data, y);
}

static void add_forward(nl_layer *self, const nl_pass *pass)
{
    const add_layer *l = (const add_layer *)self;
    nl_backend *be = pass->be;
    const size_t count = (size_t)rows_of(self, pass);
    if (l->shortcut_scale || l->branch_dropped) {
        /* alpha * shortcut first, then the branch added to it */
        if (l->shortcut_scale)
            nl_layer_scale_forward(pass, self->out->shape, l->shortcut_scale, self->in[1]->data,
                                   self->out->data);
        else
            be->ops->copy(be, self->out->data, self->in[1]->data, count);
        if (!l->branch_dropped)
            be->ops->add_forward(be, count, self->out->data, self->in[0]->data, self->out->data);
        return;
    }
    if (!l->gain) {
        plain_add(be, count, self->in[0], self->in[1], self->out->data);
        return;
    }
    /* SkipInit's gain is not an autocast product: fp32 under any
     * train.precision */
    const nl_precision precision = be->product_precision;
    be->product_precision = NL_PRECISION_FP32;
    be->ops->linear_forward(be, (int)count, 1, 1, self->in[0]->data, l->gain->data, NULL,
                            self->out->data, pass->workspace);
    be->product_precision = precision;
    be->ops->add_forward(be, count, self->out->data, self->in[1]->data, self->out->data);
}

static void add_backward(nl_layer *self, const nl_pass *pass)
{
    const add_layer *l = (const add_layer *)self;
    nl_backend *be = pass->be;
    const size_t count = (size_t)rows_of(self, pass);
    if (l->gain) {
        const nl_precision precision = be->product_precision; /* fp32, as forward */
        be->product_precision = NL_PRECISION_FP32;
        be->ops->linear_backward(be, (int)count, 1, 1, self->in[0]->data, l->gain->data,
                                 self->out->grad, self->in[0]->grad, self->accumulate_din[0],
                                 l->gain->grad, NULL, pass->workspace);
        be->product_precision = precision;
    }
    for (int i = l->gain ? 1 : 0; i < 2; i++) {
        if (!self->in[i]->grad)
            continue;
        if (i == 1 && l->shortcut_scale)
            nl_layer_scale_backward(pass, self->out->shape, l->shortcut_scale, self->out->grad,
                                    self->in[1]->grad, self->accumulate_din[1]);
        else if (self->in[i]->shape.grad_store)
            be->ops->round_to_storage(be, self->in[i]->shape.grad_store, count, self->out->grad,
                                      self->in[i]->grad);
        else
            be->ops->pass_gradient(be, count, self->out->grad, self->in[i]->grad,
                                   self->accumulate_din[i]);
    }
}

/* nl_layer_vtable.storage_io: either input read from 16-bit storage and
 * its gradient written rounded to it, where the add is plain (no gain, no
 * shortcut scale) and its device runs the add on that storage; the sum is
 * fp32, and it rounds nothing itself. A probe
 * that drops the branch turns the precision pass off. */
static void add_storage_io(const nl_layer *self, int input, nl_storage type, unsigned *takes,
                           unsigned *rounds)
{
    (void)input, (void)type; /* either input; its device answers for the type (runs) */
    const add_layer *l = (const add_layer *)self;
    *rounds = 0;
    *takes = !l->gain && !l->shortcut_scale ? NL_IO_MASK(NL_IO_X) | NL_IO_MASK(NL_IO_DX) : 0;
}

static void add_drop_branch(nl_layer *self, bool drop)
{
    ((add_layer *)self)->branch_dropped = drop;
}

/* the gain's product over every value of the batch */
static size_t gain_workspace(nl_backend *be, void *what)
{
    const add_layer *l = what;
    const nl_shape s = l->base.in[0]->shape;
    return be->ops->linear_workspace(be, s.n * (int)nl_shape_per_sample(s), 1, 1);
}

static const nl_layer_vtable add_vtable = {.kind = "residual_add",
                                           .flops = nl_layer_flops_values,
                                           .forward = add_forward,
                                           .backward = add_backward,
                                           .drop_branch = add_drop_branch,
                                           /* element by element (the gain's gradient a
                                            * sum over all of them) */
                                           .family = NL_OP_FAMILY_ADD,
                                           .storage_io = add_storage_io};

/* gain_name: SkipInit's learned gain on the branch; shortcut_scale != 1:
 * DeepNorm's constant on the shortcut (never both: no architecture asks) */
static nl_act *build_add(nl_builder *b, const char *name, nl_act *a, nl_act *shortcut,
                         const char *gain_name, float gain_init, float shortcut_scale)
{
    if (a->shape.c != shortcut->shape.c || a->shape.h != shortcut->shape.h ||
        a->shape.w != shortcut->shape.w) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: residual add of %s (%dx%dx%d) and %s (%dx%dx%d) needs equal "
                        "shapes",
                        name, a->name, a->shape.c, a->shape.h, a->shape.w, shortcut->name,
                        shortcut->shape.c, shortcut->shape.h, shortcut->shape.w);
        return NULL;
    }
    add_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->plain = !gain_name && shortcut_scale == 1.0f;
    nl_act *out = nl_builder_act(b, name, a->shape);
    if (gain_name) {
        /* a gain, like a normalizer's, is left out of weight decay when
         * normalization parameters are */
        l->gain = nl_builder_param(b, gain_name, 1, (int[]){1}, true, NL_FILL_CONSTANT,
                                   gain_init);
        nl_builder_workspace_asked(b, gain_workspace, l);
    } else if (shortcut_scale != 1.0f) {
        l->shortcut_host[0] = shortcut_scale;
        l->shortcut_host[1] = 0.0f;
        nl_builder_constant(b, &l->shortcut_scale, l->shortcut_host, sizeof l->shortcut_host);
    }
    nl_layer_init(&l->base, &add_vtable, name, a, shortcut, out);
    nl_builder_add(b, &l->base);
    return out;
}

bool nl_layer_is_plain_add(const nl_layer *l)
{
    const add_layer *a = (const add_layer *)l;
    return l->vt == &add_vtable && a->plain;
}

nl_act *nl_residual_add(nl_builder *b, const char *name, nl_act *a, nl_act *shortcut)
{
    return build_add(b, name, a, shortcut, NULL, 0.0f, 1.0f);
}

nl_act *nl_residual_add_scaled(nl_builder *b, const char *name, nl_act *a, nl_act *shortcut,
                               float shortcut_scale)
{
    return build_add(b, name, a, shortcut, NULL, 0.0f, shortcut_scale);
}

nl_act *nl_residual_add_gain(nl_builder *b, const char *name, nl_act *a, nl_act *shortcut,
                             const char *gain_name, float gain_init)
{
    return build_add(b, name, a, shortcut, gain_name, gain_init, 1.0f);
}
