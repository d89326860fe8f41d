/* One layer of a recurrent network (PyTorch's nn.LSTM / nn.GRU layer,
 * one direction), trained by backpropagation through all T steps of the
 * sequence. The kernels keep what backward needs in the layer's saved
 * memory and take their scratch from the shared workspace, both planned
 * here, so a step allocates nothing. */
#include <math.h>
#include <stdio.h>

#include "layers/layer.h"
#include "rnn_layout.h"

typedef struct {
    nl_layer base;
    nl_rnn_cell cell;
    int t, in_features, hidden;
    bool last_only; /* the output is h_T (N, H) rather than every h_t */
    nl_param *w_ih, *w_hh, *b_ih, *b_hh;
    void *saved;
} rnn_layer;

static void rnn_forward(nl_layer *self, const nl_pass *pass)
{
    rnn_layer *l = (rnn_layer *)self;
    float *out = self->out->data;
    pass->be->ops->rnn_forward(pass->be, l->cell, pass->n, l->t, l->in_features, l->hidden,
                               self->in[0]->data, l->w_ih->data, l->w_hh->data, l->b_ih->data,
                               l->b_hh->data, l->last_only ? NULL : out,
                               l->last_only ? out : NULL, NULL, l->saved, pass->workspace);
}

static void rnn_backward(nl_layer *self, const nl_pass *pass)
{
    rnn_layer *l = (rnn_layer *)self;
    const float *dout = self->out->grad;
    pass->be->ops->rnn_backward(pass->be, l->cell, pass->n, l->t, l->in_features, l->hidden,
                                self->in[0]->data, l->w_ih->data, l->w_hh->data, l->saved,
                                l->last_only ? NULL : dout, l->last_only ? dout : NULL, NULL,
                                self->in[0]->grad, self->accumulate_din[0], l->w_ih->grad,
                                l->w_hh->grad, l->b_ih->grad, l->b_hh->grad, pass->workspace);
}

/* the kind a summary shows: the cell's name */
static const nl_layer_vtable rnn_vtables[NL_RNN_COUNT] = {
    [NL_RNN_LSTM] = {.kind = "lstm", .forward = rnn_forward, .backward = rnn_backward},
    [NL_RNN_GRU] = {.kind = "gru", .forward = rnn_forward, .backward = rnn_backward},
};

static nl_param *rnn_param(nl_builder *b, const char *layer, const char *what, int rows,
                           int cols, float bound)
{
    char pname[96];
    snprintf(pname, sizeof pname, "%s.%s", layer, what);
    const bool is_bias = cols == 0;
    return nl_builder_param(b, pname, is_bias ? 1 : 2, (int[]){rows, cols}, is_bias,
                            NL_FILL_UNIFORM, bound);
}

nl_act *nl_rnn_layer(nl_builder *b, const char *module, int index, nl_act *in, nl_rnn_cell cell,
                     int hidden, bool last_only)
{
    char name[64];
    snprintf(name, sizeof name, "%s.l%d", module, index);
    if (!in)
        return NULL;
    if (in->shape.ndim != 3) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: a recurrent layer reads sequences (N, T, D), "
                                          "got %s",
                        name, in->name);
        return NULL;
    }
    nl_backend *be = nl_builder_backend(b);
    rnn_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->cell = cell;
    l->t = in->shape.h;
    l->in_features = in->shape.c;
    l->hidden = hidden;
    l->last_only = last_only;
    const int gates = nl_rnn_gate_count(cell) * hidden;
    const float bound = 1.0f / sqrtf((float)hidden);
    l->w_ih = rnn_param(b, name, "weight_ih", gates, l->in_features, bound);
    l->w_hh = rnn_param(b, name, "weight_hh", gates, hidden, bound);
    l->b_ih = rnn_param(b, name, "bias_ih", gates, 0, bound);
    l->b_hh = rnn_param(b, name, "bias_hh", gates, 0, bound);
    const int n = in->shape.n;
    nl_builder_saved(b, &l->saved, be->ops->rnn_saved_bytes(be, cell, n, l->t, hidden));
    nl_builder_workspace(b, be->ops->rnn_workspace(be, cell, n, l->t, l->in_features, hidden));
    const nl_shape shape = last_only
                               ? (nl_shape){.n = n, .c = hidden, .h = 1, .w = 1, .ndim = 2}
                               : (nl_shape){.n = n, .c = hidden, .h = l->t, .w = 1, .ndim = 3};
    nl_act *out = nl_builder_act(b, name, shape);
    nl_layer_init(&l->base, &rnn_vtables[cell], name, in, NULL, out);
    /* two weights, each applied at every step */
    l->base.own_flops = true;
    l->base.flops = 2.0 * l->t * gates * ((double)l->in_features + hidden);
    nl_builder_add(b, &l->base);
    return out;
}
