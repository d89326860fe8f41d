/* The layer behind every normalizer that computes statistics: batch norm
 * (statistics per channel over N*H*W: groups 0 in the geometry) and the
 * per-sample ones (group, layer, instance, rms: groups of channels per
 * sample). They differ only in the geometry the norm ops take, so one
 * forward, one backward and one constructor serve them all; batch.c and
 * group.c keep the checks and the geometry of their kinds. */
#include <stdio.h>

#include "norm/norm.h"
#include "norm/registry.h"

typedef struct {
    nl_layer base;
    nl_norm_spec spec;
    nl_norm_geom geom; /* n is the planned capacity; each pass sets its own */
    nl_param *gamma, *beta;
    nl_state *running_mean, *running_var;
    float *save_mean, *save_rstd;
    long batches_tracked;
    /* training with frozen running statistics: the last forward used them,
     * and (when freezable) per-channel ones, zeros and rstd for backward */
    bool ran_frozen;
    float *frozen_consts;
} stats_layer;

static nl_norm_geom geom_at(const stats_layer *l, int n)
{
    nl_norm_geom g = l->geom;
    g.n = n;
    return g;
}

static void stats_forward(nl_layer *self, const nl_pass *pass)
{
    stats_layer *l = (stats_layer *)self;
    nl_backend *be = pass->be;
    const float *gamma = l->gamma ? l->gamma->data : NULL;
    const float *beta = l->beta ? l->beta->data : NULL;
    const bool tracked = l->running_mean != NULL;
    const nl_norm_geom g = geom_at(l, pass->n);
    /* a layer built without freezable cannot train frozen: nl_train refuses */
    l->ran_frozen = tracked && l->frozen_consts && pass->mode == NL_MODE_RUNNING_STATS;
    if (tracked && (pass->mode == NL_MODE_EVAL || l->ran_frozen)) {
        be->ops->norm_forward_eval(be, &g, self->in[0]->data, gamma, beta, l->running_mean->data,
                                   l->running_var->data, self->out->data);
        return;
    }
    const bool recalibrate = pass->mode == NL_MODE_RECALIBRATE;
    const bool update = (pass->mode == NL_MODE_TRAIN || recalibrate) && tracked;
    float momentum = l->spec.momentum;
    if (update && recalibrate) {
        /* the plain average from a reset, as PyTorch's momentum=None after
         * reset_running_stats(): the first batch replaces the old values */
        l->batches_tracked = pass->recalibrated + 1;
        momentum = 1.0f / (float)l->batches_tracked;
    } else if (update) {
        l->batches_tracked++;
        if (l->spec.cumulative) /* PyTorch's momentum=None: the plain average */
            momentum = 1.0f / (float)l->batches_tracked;
    }
    be->ops->norm_forward(be, &g, self->in[0]->data, gamma, beta, self->out->data, l->save_mean,
                          l->save_rstd, update ? l->running_mean->data : NULL,
                          update ? l->running_var->data : NULL, momentum);
}

/* The gradient of y = (x - running_mean) * rstd * gamma + beta with the
 * statistics fixed, from the norm ops: the per-channel geometry's backward
 * with the running statistics as the saved ones gives dgamma and dbeta
 * (dx not asked for), and the eval-mode forward of dy with a zero mean and
 * no beta gives dx = dy * rstd * gamma. */
static void frozen_backward(stats_layer *l, const nl_pass *pass)
{
    nl_backend *be = pass->be;
    const int c = l->geom.c;
    float *ones = l->frozen_consts, *zeros = ones + c, *rstd = zeros + c;
    const nl_norm_geom channels = {.n = 1, .c = c, .hw = 1, .center = true, .eps = l->geom.eps};
    be->ops->fill(be, ones, 1.0f, (size_t)c);
    be->ops->fill(be, zeros, 0.0f, (size_t)c);
    be->ops->norm_forward_eval(be, &channels, ones, NULL, NULL, zeros, l->running_var->data, rstd);
    nl_norm_geom g = geom_at(l, pass->n);
    g.groups = 0;
    const float *x = l->base.in[0]->data, *dy = l->base.out->grad;
    const float *gamma = l->gamma ? l->gamma->data : NULL;
    if (l->gamma || l->beta)
        be->ops->norm_backward(be, &g, x, dy, gamma, l->running_mean->data, rstd, NULL, false,
                               l->gamma ? l->gamma->grad : NULL, l->beta ? l->beta->grad : NULL,
                               pass->workspace);
    float *dx = l->base.in[0]->grad;
    if (!dx)
        return;
    const bool accumulate = l->base.accumulate_din[0];
    float *to = accumulate ? (float *)pass->workspace : dx;
    be->ops->norm_forward_eval(be, &g, dy, gamma, NULL, zeros, l->running_var->data, to);
    if (accumulate)
        be->ops->pass_gradient(be, (size_t)g.n * c * g.hw, to, dx, true);
}

static void stats_backward(nl_layer *self, const nl_pass *pass)
{
    stats_layer *l = (stats_layer *)self;
    if (l->ran_frozen) {
        frozen_backward(l, pass);
        return;
    }
    const nl_norm_geom g = geom_at(l, pass->n);
    pass->be->ops->norm_backward(pass->be, &g, self->in[0]->data, self->out->grad,
                                 l->gamma ? l->gamma->data : NULL, l->save_mean, l->save_rstd,
                                 self->in[0]->grad, self->accumulate_din[0],
                                 l->gamma ? l->gamma->grad : NULL,
                                 l->beta ? l->beta->grad : NULL, pass->workspace);
}

/* the kind names `show` and the tests see */
static const nl_layer_vtable batchnorm_vtable = {"batchnorm", stats_forward, stats_backward};
static const nl_layer_vtable groupnorm_vtable = {"groupnorm", stats_forward, stats_backward};

nl_act *nl_stats_norm_layer(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                            nl_norm_geom geom, bool running_stats)
{
    const int channels = in->shape.c;
    const nl_norm_info *info = nl_norm_info_of(spec->kind);
    stats_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->spec = *spec;
    l->geom = geom;
    l->geom.n = in->shape.n;
    char pname[96];
    if (spec->affine) {
        snprintf(pname, sizeof pname, "%s.weight", name);
        l->gamma = nl_builder_param(b, pname, 1, (int[]){channels}, true, NL_FILL_ONES, 0.0f);
    }
    if (spec->affine && info->learned_shift) {
        snprintf(pname, sizeof pname, "%s.bias", name);
        l->beta = nl_builder_param(b, pname, 1, (int[]){channels}, true, NL_FILL_ZEROS, 0.0f);
    }
    if (running_stats) {
        snprintf(pname, sizeof pname, "%s.running_mean", name);
        l->running_mean = nl_builder_state(b, pname, (size_t)channels, 0.0f);
        snprintf(pname, sizeof pname, "%s.running_var", name);
        l->running_var = nl_builder_state(b, pname, (size_t)channels, 1.0f);
        nl_builder_counter(b, &l->batches_tracked);
    }
    /* per channel (batch statistics), or per sample and group */
    const size_t stats =
        (geom.groups == 0 ? (size_t)channels : (size_t)in->shape.n * geom.groups) * sizeof(float);
    nl_builder_saved(b, (void **)&l->save_mean, stats);
    nl_builder_saved(b, (void **)&l->save_rstd, stats);
    nl_backend *be = nl_builder_backend(b);
    nl_builder_workspace(b, be->ops->norm_backward_workspace(be, &l->geom));
    if (running_stats && spec->freezable) {
        nl_builder_saved(b, (void **)&l->frozen_consts, 3 * (size_t)channels * sizeof(float));
        nl_norm_geom per_channel = l->geom;
        per_channel.groups = 0;
        nl_builder_workspace(b, be->ops->norm_backward_workspace(be, &per_channel));
        /* dx before it is added to a gradient already there */
        nl_builder_workspace(b, nl_shape_count(in->shape) * sizeof(float));
    }
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(&l->base, geom.groups == 0 ? &batchnorm_vtable : &groupnorm_vtable, name, in, NULL,
                  out);
    nl_builder_add(b, &l->base);
    return out;
}
