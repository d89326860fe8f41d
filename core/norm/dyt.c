/* Dynamic Tanh (Zhu, Chen, He, LeCun, Liu 2025): y = gamma_c * tanh(alpha *
 * x) + beta_c with one learned scalar alpha per layer (model.norm.alpha_init)
 * and, with affine, per-channel gamma and beta. No statistics: the same
 * function in training and eval, on features and images alike. Its beta is a
 * learned shift (the registry row), so the layer before it has no bias. */
#include <stdio.h>

#include "layers/same_shape.h"
#include "norm/norm.h"

typedef struct {
    nl_layer base;
    int c, hw;
    int block;           /* the input's channel block (nl_shape.block), 0: planes */
    int rows_per_sample; /* token sequences: N*T rows of c */
    nl_param *alpha, *gamma, *beta;
} dyt_layer;

/* the alpha gradient's per-channel scratch */
static size_t dyt_workspace(nl_backend *be, void *what)
{
    return be->ops->dyt_backward_workspace(be, ((const dyt_layer *)what)->c);
}

static void dyt_forward(nl_layer *self, const nl_pass *pass)
{
    dyt_layer *l = (dyt_layer *)self;
    NL_OP_IN_LAYOUT(pass->be, l->block, dyt_forward, pass->n * l->rows_per_sample, l->c, l->hw,
                    l->alpha->data, self->in[0]->data, l->gamma ? l->gamma->data : NULL,
                    l->beta ? l->beta->data : NULL, self->out->data);
}

static void dyt_backward(nl_layer *self, const nl_pass *pass)
{
    dyt_layer *l = (dyt_layer *)self;
    NL_OP_IN_LAYOUT(pass->be, l->block, dyt_backward, pass->n * l->rows_per_sample, l->c, l->hw,
                    l->alpha->data, self->in[0]->data, self->out->grad,
                    l->gamma ? l->gamma->data : NULL, self->in[0]->grad, self->accumulate_din[0],
                    l->gamma ? l->gamma->grad : NULL, l->beta ? l->beta->grad : NULL,
                    l->alpha->grad, pass->workspace);
}

/* the layout the plan's layout pass gave its input */
static void dyt_typed(nl_layer *self) { ((dyt_layer *)self)->block = self->in[0]->shape.block; }

static const nl_layer_vtable dyt_vtable = {.kind = "dyt",
                                           .flops = nl_layer_flops_values,
                                           .forward = dyt_forward,
                                           .backward = dyt_backward,
                                           .family = NL_OP_FAMILY_POINT_NORM,
                                           .typed = dyt_typed};

static nl_act *nl_dyt(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    dyt_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->c = in->shape.c;
    l->hw = nl_shape_plane(in->shape);
    l->rows_per_sample = nl_shape_rows_per_sample(in->shape);
    char pname[96];
    snprintf(pname, sizeof pname, "%s.alpha", name);
    l->alpha = nl_builder_param(b, pname, 1, (int[]){1}, true, NL_FILL_CONSTANT, spec->alpha_init);
    if (spec->affine) {
        snprintf(pname, sizeof pname, "%s.weight", name);
        l->gamma = nl_builder_param(b, pname, 1, (int[]){l->c}, true, NL_FILL_ONES, 0.0f);
        snprintf(pname, sizeof pname, "%s.bias", name);
        l->beta = nl_builder_param(b, pname, 1, (int[]){l->c}, true, NL_FILL_ZEROS, 0.0f);
    }
    nl_builder_workspace_asked(b, dyt_workspace, l);
    return nl_layer_add_same_shape(b, &l->base, &dyt_vtable, name, in);
}

const nl_norm_info nl_norm_row_dyt = {
    {"dyt", "Dynamic Tanh (Zhu et al. 2025): gamma * tanh(alpha * x) + beta, "
     "learned scalar alpha, no statistics"},
    .keys = NL_NORM_KEY_AFFINE | NL_NORM_KEY_ALPHA_INIT, .learned_shift = true,
    .features = true, .images = true, .tokens = true, .adds_layer = true,
    .color = "#bcbd22", .build = nl_dyt,
    .formula = {"weight * tanh(alpha * x) + bias",
                "weight * tanh(alpha * x) + bias",
                "weight * tanh(alpha * x) + bias"},
    .formula_params = "alpha = 0.5, weight = 1 per channel, bias = 0 per channel",
};
