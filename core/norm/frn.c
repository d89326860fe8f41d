/* Filter Response Normalization with its thresholded linear unit (Singh &
 * Krishnan 2020): y = max(gamma_c * x / sqrt(mean_HW(x^2) + eps) + beta_c,
 * tau_c), tau learned per channel (starting at 0). The statistics are
 * instance norm's geometry without centring (groups = C, center = false), so
 * the norm ops compute them; the TLU is applied in place on their output.
 * Its backward reads that output (y > tau exactly where the normalized value
 * was) and hands the norm's backward its gradient through the workspace.
 * One value per channel has mean_HW(x^2) = x^2 and normalizes to +-1, so
 * feature vectors are refused here and 1x1 maps by nl_norm (the row's
 * normalized set, nl_plane_set). */
#include <stdio.h>

#include "layers/same_shape.h"
#include "norm/norm.h"
#include "norm/registry.h"

typedef struct {
    nl_layer base;
    nl_norm_geom geom; /* n is the planned capacity; each pass sets its own */
    nl_param *gamma, *beta, *tau;
    float *save_mean, *save_rstd;
    size_t grad_offset; /* bytes into the workspace where the TLU's dx goes */
} frn_layer;

/* the norm's scratch first, then the TLU's dx on a 256-byte boundary */
static size_t frn_workspace(nl_backend *be, void *what)
{
    frn_layer *l = what;
    l->grad_offset = (be->ops->norm_backward_workspace(be, &l->geom) + 255) / 256 * 256;
    return l->grad_offset + nl_shape_count(l->base.in[0]->shape) * sizeof(float);
}

static void frn_forward(nl_layer *self, const nl_pass *pass)
{
    frn_layer *l = (frn_layer *)self;
    nl_backend *be = pass->be;
    nl_norm_geom g = l->geom;
    g.n = pass->n;
    be->ops->norm_forward(be, &g, self->in[0]->data, l->gamma ? l->gamma->data : NULL,
                          l->beta ? l->beta->data : NULL, self->out->data, l->save_mean,
                          l->save_rstd, NULL, NULL, NULL);
    NL_OP_IN_LAYOUT(be, g.block, tlu_forward, g.n, g.c, g.hw, self->out->data, l->tau->data,
                    self->out->data);
}

static void frn_backward(nl_layer *self, const nl_pass *pass)
{
    frn_layer *l = (frn_layer *)self;
    nl_backend *be = pass->be;
    nl_norm_geom g = l->geom;
    g.n = pass->n;
    float *dz = (float *)((char *)pass->workspace + l->grad_offset);
    NL_OP_IN_LAYOUT(be, g.block, tlu_backward, g.n, g.c, g.hw, self->out->data, l->tau->data,
                    self->out->grad, dz, false, l->tau->grad);
    be->ops->norm_backward(be, &g, self->in[0]->data, dz, l->gamma ? l->gamma->data : NULL,
                           l->save_mean, l->save_rstd, self->in[0]->grad,
                           self->accumulate_din[0], l->gamma ? l->gamma->grad : NULL,
                           l->beta ? l->beta->grad : NULL, pass->workspace);
}

/* the layout the plan's layout pass gave its input */
static void frn_typed(nl_layer *self)
{
    ((frn_layer *)self)->geom.block = self->in[0]->shape.block;
}

/* nl_layer_vtable.family_of: its mean square in a low precision runs the
 * norm_lowp ops */
static nl_op_family frn_family(const nl_layer *self)
{
    return ((const frn_layer *)self)->geom.stats_precision == NL_PRECISION_FP32
               ? NL_OP_FAMILY_POINT_NORM
               : NL_OP_FAMILY_NORM_LOWP;
}

static const nl_layer_vtable frn_vtable = {.kind = "frn",
                                           .flops = nl_layer_flops_values,
                                           .forward = frn_forward,
                                           .backward = frn_backward,
                                           .family = NL_OP_FAMILY_POINT_NORM,
                                           .family_of = frn_family,
                                           .typed = frn_typed};

nl_precision nl_frn_stats_precision(const nl_layer *layer)
{
    return layer->vt == &frn_vtable ? ((const frn_layer *)layer)->geom.stats_precision
                                    : NL_PRECISION_FP32;
}

static nl_act *nl_frn(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const int channels = in->shape.c;
    frn_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->geom = (nl_norm_geom){.n = in->shape.n, .c = channels, .hw = in->shape.h * in->shape.w,
                             .groups = channels, .center = false, .eps = spec->eps,
                             .stats_precision = spec->stats_precision};
    char pname[96];
    if (spec->affine) {
        snprintf(pname, sizeof pname, "%s.weight", name);
        l->gamma = nl_builder_param(b, pname, 1, (int[]){channels}, true, NL_FILL_ONES, 0.0f);
        snprintf(pname, sizeof pname, "%s.bias", name);
        l->beta = nl_builder_param(b, pname, 1, (int[]){channels}, true, NL_FILL_ZEROS, 0.0f);
    }
    snprintf(pname, sizeof pname, "%s.tau", name);
    l->tau = nl_builder_param(b, pname, 1, (int[]){channels}, true, NL_FILL_ZEROS, 0.0f);
    const size_t stats = (size_t)in->shape.n * channels * sizeof(float);
    nl_builder_saved(b, (void **)&l->save_mean, stats);
    nl_builder_saved(b, (void **)&l->save_rstd, stats);
    nl_builder_workspace_asked(b, frn_workspace, l);
    return nl_layer_add_same_shape(b, &l->base, &frn_vtable, name, in);
}

const nl_norm_info nl_norm_row_frn = {
    {"frn", "Filter Response Normalization + TLU (Singh & Krishnan 2020): "
     "max(gamma * x / sqrt(mean_HW(x^2) + eps) + beta, tau), learned tau "
     "(images only)"},
    .keys = NL_NORM_STATS_KEYS, .learned_shift = true, .center = false,
    .features = false, .images = true, .adds_layer = true,
    .color = "#17becf", .build = nl_frn, .stats_set = nl_plane_set,
    .formula = {NULL,
                NULL,
                "max(weight * x / sqrt(mean(x^2, [spatial]) + eps) + bias, tau)"},
    .formula_params = "weight = 1 per channel, bias = 0 per channel, tau = 0 per channel",
};
