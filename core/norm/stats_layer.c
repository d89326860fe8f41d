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
    if (pass->mode == NL_MODE_EVAL && tracked) {
        be->ops->norm_forward_eval(be, &g, self->in[0]->data, gamma, beta, l->running_mean->data,
                                   l->running_var->data, self->out->data);
        return;
    }
    const bool update = pass->mode == NL_MODE_TRAIN && tracked;
    float momentum = l->spec.momentum;
    if (update) {
        l->batches_tracked++;
        if (l->spec.cumulative) /* PyTorch's momentum=None: the plain average */
            momentum = 1.0f / (float)l->batches_tracked;
    }
    be->ops->norm_forward(be, &g, self->in[0]->data, gamma, beta, self->out->data, l->save_mean,
                          l->save_rstd, update ? l->running_mean->data : NULL,
                          update ? l->running_var->data : NULL, momentum);
}

static void stats_backward(nl_layer *self, const nl_pass *pass)
{
    stats_layer *l = (stats_layer *)self;
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
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(&l->base, geom.groups == 0 ? &batchnorm_vtable : &groupnorm_vtable, name, in, NULL,
                  out);
    nl_builder_add(b, &l->base);
    return out;
}
