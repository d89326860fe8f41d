/* Token + learned position embedding (GPT-2's wte + wpe). The input holds
 * int32 token ids in its 4-byte slots (the model's token input, see
 * model.h); nothing flows back into it. */
#include <stdio.h>

#include "layers/layer.h"

typedef struct {
    nl_layer base;
    int vocab, d, t;
    nl_param *table, *positions; /* positions NULL: none */
    bool accumulate_table;
} embedding_layer;

static void embedding_forward(nl_layer *self, const nl_pass *pass)
{
    embedding_layer *l = (embedding_layer *)self;
    pass->be->ops->embedding_forward(pass->be, pass->n, l->t, l->d,
                                     (const int32_t *)self->in[0]->data, l->table->data,
                                     l->positions ? l->positions->data : NULL, self->out->data);
}

static void embedding_backward(nl_layer *self, const nl_pass *pass)
{
    embedding_layer *l = (embedding_layer *)self;
    pass->be->ops->embedding_backward(pass->be, pass->n, l->t, l->d, l->vocab,
                                      (const int32_t *)self->in[0]->data, self->out->grad,
                                      l->table->grad, l->accumulate_table,
                                      l->positions ? l->positions->grad : NULL, pass->workspace);
}

static bool has_embedding(const nl_ops *o)
{
    return o->embedding_forward && o->embedding_backward;
}

/* the table gradient's scratch over the batch's token rows */
static size_t embedding_workspace(nl_backend *be, void *what)
{
    const embedding_layer *l = what;
    return be->ops->embedding_backward_workspace(be, l->base.in[0]->shape.n, l->t, l->vocab);
}

static const nl_layer_vtable embedding_vtable = {.kind = "embedding",
                                                 .flops = nl_layer_flops_values,
                                                 .forward = embedding_forward,
                                                 .backward = embedding_backward};

nl_act *nl_embedding(nl_builder *b, const char *token_name, const char *pos_name,
                     nl_act *tokens, int vocab, int d, float std, bool accumulate_table,
                     nl_param **table)
{
    nl_builder_needs_kernels(b, token_name, "embedding", has_embedding);
    const int t = tokens->shape.h;
    embedding_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->vocab = vocab;
    l->d = d;
    l->t = t;
    l->accumulate_table = accumulate_table;
    char pname[96];
    snprintf(pname, sizeof pname, "%s.weight", token_name);
    l->table = nl_builder_param(b, pname, 2, (int[]){vocab, d}, false, NL_FILL_NORMAL, std);
    if (pos_name) {
        snprintf(pname, sizeof pname, "%s.weight", pos_name);
        l->positions = nl_builder_param(b, pname, 2, (int[]){t, d}, false, NL_FILL_NORMAL, std);
    }
    if (table)
        *table = l->table;
    nl_builder_workspace_asked(b, embedding_workspace, l);
    nl_act *out =
        nl_builder_act(b, token_name, (nl_shape){.n = tokens->shape.n, .c = d, .h = t, .w = 1, .ndim = 3});
    nl_layer_init(&l->base, &embedding_vtable, token_name, tokens, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}
