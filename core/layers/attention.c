/* Multi-head self-attention (causal, or bidirectional for the ViT) of q, k,
 * v (N, T, D), heads splitting D; the softmax probabilities are saved for
 * backward. q and k may arrive as
 * (N, T*heads, head_dim) views (QK-norm normalizes each head's vector):
 * the same memory, rows D apart per token. The op writes dq, dk, dv; an
 * input whose gradient the planner says to add to (a second consumer) gets
 * it through scratch space after the op. */
#include <math.h>
#include <stdio.h>

#include "layers/layer.h"

typedef struct {
    nl_layer base;
    nl_attn_geom geom; /* n set per pass */
    float *probs;      /* saved (N, heads, T, T) */
    float *max_logit;  /* one device float: the largest logit, when a pass records it */
    size_t scratch_offset; /* where in the workspace the added gradients go */
} attention_layer;

static void attention_forward(nl_layer *self, const nl_pass *pass)
{
    attention_layer *l = (attention_layer *)self;
    nl_attn_geom g = l->geom;
    g.n = pass->n;
    pass->be->ops->attention_forward(pass->be, &g, self->in[0]->data, self->in[1]->data,
                                     self->in[2]->data, l->probs, self->out->data,
                                     pass->record_max_logit ? l->max_logit : NULL,
                                     pass->workspace);
}

static void attention_backward(nl_layer *self, const nl_pass *pass)
{
    attention_layer *l = (attention_layer *)self;
    nl_attn_geom g = l->geom;
    g.n = pass->n;
    const size_t count = (size_t)g.n * g.t * g.heads * g.head_dim;
    float *scratch = (float *)((char *)pass->workspace + l->scratch_offset);
    float *grads[3];
    for (int k = 0; k < 3; k++)
        grads[k] = self->accumulate_din[k] ? scratch + k * count : self->in[k]->grad;
    pass->be->ops->attention_backward(pass->be, &g, self->in[0]->data, self->in[1]->data,
                                      self->in[2]->data, l->probs, self->out->grad, grads[0],
                                      grads[1], grads[2], pass->workspace);
    for (int k = 0; k < 3; k++)
        if (self->accumulate_din[k])
            pass->be->ops->pass_gradient(pass->be, count, grads[k], self->in[k]->grad, true);
}

/* q k^T and probs v over every (query, key) pair, dense (the causal kernel
 * skips the masked half, but the model's count is the dense one, as
 * PyTorch's runs it); backward: d(probs) = dy v^T, dv = probs^T dy,
 * dq = ds k, dk = ds^T q, four products of the forward's size each */
static void attention_flops(const nl_layer *self, nl_layer_flops *out)
{
    const nl_attn_geom *g = &((const attention_layer *)self)->geom;
    const double product = 2.0 * g->t * g->t * (double)g->heads * g->head_dim;
    *out = (nl_layer_flops){.forward = 2.0 * product, .input_grad = 4.0 * product,
                            .values = (double)g->heads * g->t * g->t};
}

static const nl_layer_vtable attention_vtable = {.kind = "attention", .flops = attention_flops,
                                                 .forward = attention_forward,
                                                 .backward = attention_backward};

const float *nl_attention_max_logit(const nl_layer *layer)
{
    return layer->vt == &attention_vtable ? ((const attention_layer *)layer)->max_logit : NULL;
}

/* (N, T, D) or its (N, T*heads, head_dim) view */
static bool head_layout(nl_act *a, int t, int d, int heads)
{
    if (a->shape.ndim != 3)
        return false;
    return (a->shape.h == t && a->shape.c == d) ||
           (a->shape.h == t * heads && a->shape.c * heads == d);
}

static bool has_attention(const nl_ops *o)
{
    return o->attention_forward && o->attention_backward;
}

/* the device's own scratch for the op, then three of v's size after it
 * (at scratch_offset) */
static size_t attention_workspace(nl_backend *be, void *what)
{
    attention_layer *l = what;
    const size_t op_bytes = be->ops->attention_workspace(be, &l->geom);
    l->scratch_offset = (op_bytes + 255) / 256 * 256;
    return l->scratch_offset + 3 * nl_shape_count(l->base.in[2]->shape) * sizeof(float);
}

nl_act *nl_attention(nl_builder *b, const char *name, nl_act *q, nl_act *k, nl_act *v,
                     int heads, bool bidirectional)
{
    nl_builder_needs_kernels(b, name, "attention", has_attention);
    const int t = v->shape.h, d = v->shape.c;
    if (v->shape.ndim != 3 || heads < 1 || d % heads != 0 || !head_layout(q, t, d, heads) ||
        !head_layout(k, t, d, heads)) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: attention needs q, k, v of (N, T, D) with D a multiple of "
                        "the %d heads (D = %d)",
                        name, heads, d);
        nl_builder_key(b, "model.heads");
        return NULL;
    }
    attention_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    const int head_dim = d / heads;
    l->geom = (nl_attn_geom){.n = v->shape.n, .t = t, .heads = heads, .head_dim = head_dim,
                             .ld_q = d, .ld_k = d, .ld_v = d,
                             .scale = 1.0f / sqrtf((float)head_dim),
                             .bidirectional = bidirectional};
    nl_builder_saved(b, (void **)&l->probs, (size_t)v->shape.n * heads * t * t * sizeof(float));
    nl_builder_saved(b, (void **)&l->max_logit, sizeof(float));
    nl_builder_workspace_asked(b, attention_workspace, l);
    nl_act *out = nl_builder_act(b, name, v->shape);
    nl_layer_init3(&l->base, &attention_vtable, name, q, k, v, out);
    nl_builder_add(b, &l->base);
    return out;
}
