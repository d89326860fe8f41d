/* Switchable Normalization (Luo, Ren, Peng, Zhang, Li 2018, "Differentiable
 * Learning-to-Normalize via Switchable Normalization") on images
 * (N, C, H, W): each (sample, channel) plane is normalized by a mean and a
 * variance that are softmax-weighted sums of its instance statistics (the
 * plane's H*W values), its sample's layer statistics (C*H*W values) and its
 * channel's batch statistics (N*H*W values), the means and the variances
 * with separate weights:
 *   mean = a_in mu_in + a_ln mu_ln + a_bn mu_bn,  a = softmax(mean_weight)
 *   var  = b_in s_in  + b_ln s_ln  + b_bn s_bn,   b = softmax(var_weight)
 *   y    = gamma_c (x - mean) / sqrt(var + eps) + beta_c
 * with mean_weight and var_weight three learned logits each (the paper's
 * names, order instance, layer, batch; initialized to ones, so each
 * statistic starts with a third), and the per-channel affine of every
 * normalizer.
 *
 * Every statistic is a norm_stats of the shared normalization ops on its
 * geometry (groups C, 1 and 0: instance, layer and batch norm's), biased as
 * those kinds take them in training; switch_mix mixes them, norm_apply on
 * the instance geometry normalizes, and switch_backward takes the gradient
 * back through every statistic and the two softmaxes. The batch term keeps
 * running statistics exactly as batch norm does (momentum, the unbiased
 * variance; model.norm.momentum, track_running_stats): evaluation, and
 * training with frozen statistics (train.freeze_bn_after), take the batch
 * term from them and the instance and layer terms from the input at hand,
 * as the PyTorch reference implementations of SwitchNorm2d do; without
 * running statistics evaluation takes the batch's. Two departures from the
 * authors' code, both so that each term is the statistic its own kind
 * computes: their instance variance is unbiased (x.var(-1)), here biased;
 * their running averages keep 0.997 of the old value and average the
 * biased batch variance, here batch norm's convention (momentum 0.1 of the
 * new value, the unbiased variance).
 *
 * A sample's statistics need more than one value per plane, so feature
 * vectors and token sequences are refused (the row accepts images only),
 * and so are 1x1 maps (the normalized set: a plane). */
#include <stdio.h>

#include "norm/norm.h"
#include "norm/registry.h"

enum { SWITCH_TERMS = 3, SWITCH_LOGITS = 2 * SWITCH_TERMS };

typedef struct {
    nl_layer base;
    nl_norm_spec spec;
    int c, hw;
    int block; /* the input's channel block (nl_shape.block), 0: planes */
    nl_param *gamma, *beta, *mean_weight, *var_weight;
    nl_state *running_mean, *running_var;
    long batches_tracked;
    int scalars; /* the momentum of the running statistics' update */
    /* saved, per pass: the statistics of each term (instance N*C, layer N,
     * batch C), the mixed mean, variance and rstd (N*C), the logits as one
     * vector, their gradient and the softmax weights (6 each) */
    float *mean_in, *var_in, *mean_ln, *var_ln, *mean_bn, *var_bn;
    float *mean, *var, *rstd, *logits, *dlogits, *weights;
    /* the last forward's batch term was the batch's own (not the running
     * statistics), so the gradient flows through it */
    bool batch_term;
} switch_layer;

/* the mixing weights' gradient scratch */
static size_t switch_workspace(nl_backend *be, void *what)
{
    const switch_layer *l = what;
    return be->ops->switch_backward_workspace(be, l->base.in[0]->shape.n, l->c);
}

/* the pass takes the batch term from the running statistics */
static bool uses_running(const switch_layer *l, const nl_pass *pass)
{
    return l->running_mean && (pass->mode == NL_MODE_EVAL || pass->mode == NL_MODE_RUNNING_STATS);
}

static bool updates_running(const switch_layer *l, const nl_pass *pass)
{
    return l->running_mean && (pass->mode == NL_MODE_TRAIN || pass->mode == NL_MODE_RECALIBRATE);
}

static void switch_prepare(nl_layer *self, const nl_pass *pass)
{
    switch_layer *l = (switch_layer *)self;
    if (!updates_running(l, pass))
        return;
    const long recalibrated = pass->mode == NL_MODE_RECALIBRATE ? pass->recalibrated : -1;
    pass->scalars_host[l->scalars] =
        nl_stats_next_momentum(&l->spec, &l->batches_tracked, recalibrated);
}

static nl_norm_geom geom_of(const switch_layer *l, int n, int groups)
{
    return (nl_norm_geom){.n = n, .c = l->c, .hw = l->hw, .groups = groups, .center = true,
                          .eps = l->spec.eps, .block = l->block};
}

static void switch_forward(nl_layer *self, const nl_pass *pass)
{
    switch_layer *l = (switch_layer *)self;
    nl_backend *be = pass->be;
    const int n = pass->n, c = l->c;
    const float *x = self->in[0]->data;
    const nl_norm_geom in = geom_of(l, n, c), ln = geom_of(l, n, 1), bn = geom_of(l, n, 0);
    be->ops->norm_stats(be, &in, x, l->mean_in, l->var_in, NULL, NULL, NULL);
    be->ops->norm_stats(be, &ln, x, l->mean_ln, l->var_ln, NULL, NULL, NULL);
    l->batch_term = !uses_running(l, pass);
    const float *mean_bn = l->mean_bn, *var_bn = l->var_bn;
    if (l->batch_term) {
        const bool update = updates_running(l, pass);
        be->ops->norm_stats(be, &bn, x, l->mean_bn, l->var_bn,
                            update ? l->running_mean->data : NULL,
                            update ? l->running_var->data : NULL, pass->scalars + l->scalars);
    } else {
        mean_bn = l->running_mean->data;
        var_bn = l->running_var->data;
    }
    be->ops->copy(be, l->logits, l->mean_weight->data, SWITCH_TERMS);
    be->ops->copy(be, l->logits + SWITCH_TERMS, l->var_weight->data, SWITCH_TERMS);
    be->ops->switch_mix(be, n, c, l->logits, l->mean_in, l->var_in, l->mean_ln, l->var_ln,
                        mean_bn, var_bn, l->mean, l->var, l->weights);
    be->ops->norm_apply(be, &in, x, l->mean, l->var, l->gamma ? l->gamma->data : NULL,
                        l->beta ? l->beta->data : NULL, self->out->data, l->rstd);
}

static void switch_backward(nl_layer *self, const nl_pass *pass)
{
    switch_layer *l = (switch_layer *)self;
    nl_backend *be = pass->be;
    const bool batch = l->batch_term;
    const float *mean_bn = batch ? l->mean_bn : l->running_mean->data;
    const float *var_bn = batch ? l->var_bn : l->running_var->data;
    NL_OP_IN_LAYOUT(be, l->block, switch_backward, pass->n, l->c, l->hw, self->in[0]->data,
                    self->out->grad, l->gamma ? l->gamma->data : NULL, l->mean, l->rstd,
                    l->weights, l->mean_in, l->mean_ln, mean_bn, l->var_in, l->var_ln, var_bn,
                    batch, self->in[0]->grad, self->accumulate_din[0],
                    l->gamma ? l->gamma->grad : NULL, l->beta ? l->beta->grad : NULL,
                    l->dlogits, pass->workspace);
    be->ops->copy(be, l->mean_weight->grad, l->dlogits, SWITCH_TERMS);
    be->ops->copy(be, l->var_weight->grad, l->dlogits + SWITCH_TERMS, SWITCH_TERMS);
}

/* the layout the plan's layout pass gave its input */
static void switch_typed(nl_layer *self)
{
    ((switch_layer *)self)->block = self->in[0]->shape.block;
}

static const nl_layer_vtable switch_vtable = {.kind = "switchnorm",
                                              .flops = nl_layer_flops_values,
                                              .forward = switch_forward,
                                              .backward = switch_backward,
                                              .prepare = switch_prepare,
                                              .family = NL_OP_FAMILY_SWITCH,
                                              .typed = switch_typed};

bool nl_switch_layer_logits(const nl_layer *layer, const float *logits[2])
{
    if (layer->vt != &switch_vtable)
        return false;
    const switch_layer *l = (const switch_layer *)layer;
    logits[0] = l->mean_weight->data;
    logits[1] = l->var_weight->data;
    return true;
}

static nl_param *param_of(nl_builder *b, const char *name, const char *what, int count,
                          nl_fill fill)
{
    char pname[96];
    snprintf(pname, sizeof pname, "%s.%s", name, what);
    return nl_builder_param(b, pname, 1, (int[]){count}, true, fill, 0.0f);
}

/* the saved buffers, one allocation each */
static void plan_buffers(switch_layer *l, nl_builder *b, int n)
{
    const size_t planes = (size_t)n * l->c * sizeof(float);
    const size_t samples = (size_t)n * sizeof(float), channels = (size_t)l->c * sizeof(float);
    float **per_plane[] = {&l->mean_in, &l->var_in, &l->mean, &l->var, &l->rstd};
    for (size_t k = 0; k < sizeof per_plane / sizeof per_plane[0]; k++)
        nl_builder_saved(b, (void **)per_plane[k], planes);
    nl_builder_saved(b, (void **)&l->mean_ln, samples);
    nl_builder_saved(b, (void **)&l->var_ln, samples);
    nl_builder_saved(b, (void **)&l->mean_bn, channels);
    nl_builder_saved(b, (void **)&l->var_bn, channels);
    float **logits[] = {&l->logits, &l->dlogits, &l->weights};
    for (size_t k = 0; k < sizeof logits / sizeof logits[0]; k++)
        nl_builder_saved(b, (void **)logits[k], SWITCH_LOGITS * sizeof(float));
}

static nl_act *switch_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    switch_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->spec = *spec;
    l->c = in->shape.c;
    l->hw = nl_shape_plane(in->shape);
    if (spec->affine) {
        l->gamma = param_of(b, name, "weight", l->c, NL_FILL_ONES);
        l->beta = param_of(b, name, "bias", l->c, NL_FILL_ZEROS);
    }
    l->mean_weight = param_of(b, name, "mean_weight", SWITCH_TERMS, NL_FILL_ONES);
    l->var_weight = param_of(b, name, "var_weight", SWITCH_TERMS, NL_FILL_ONES);
    if (nl_norm_keeps_running(spec)) {
        char pname[96];
        snprintf(pname, sizeof pname, "%s.running_mean", name);
        l->running_mean = nl_builder_state(b, pname, (size_t)l->c, 0.0f);
        snprintf(pname, sizeof pname, "%s.running_var", name);
        l->running_var = nl_builder_state(b, pname, (size_t)l->c, 1.0f);
        nl_builder_counter(b, &l->batches_tracked);
    }
    l->scalars = nl_builder_scalars(b, 1);
    plan_buffers(l, b, in->shape.n);
    nl_builder_workspace_asked(b, switch_workspace, l);
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(&l->base, &switch_vtable, name, in, NULL, out);
    l->base.per_rank = "batch statistics over each rank's own slice of the batch";
    nl_builder_add(b, &l->base);
    return out;
}

const nl_norm_info nl_norm_row_switchable = {
    {"switchable", "Switchable Normalization: per layer, learned softmax weights mix instance, "
                   "layer and batch statistics (means and variances apart), then one affine; "
                   "running batch statistics for eval (images only)"},
    .keys = NL_NORM_KEY_EPS | NL_NORM_KEY_AFFINE | NL_NORM_RUNNING_KEYS | NL_NORM_KEY_MIXTURE,
    .learned_shift = true, .center = true,
    .running_stats = true, .running_stats_default = true,
    .features = false, .images = true, .adds_layer = true,
    .color = "#98df8a", .build = switch_norm,
    .stats_set = nl_plane_set,
};
