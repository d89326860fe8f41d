/* GroupNorm (Wu & He 2018): statistics per sample over each group of C/G
 * channels (times H*W), per-channel affine, the same function in train and
 * eval mode. The same layer serves every normalizer with per-sample
 * statistics: LayerNorm (one group, layer.c), InstanceNorm (one channel per
 * group, instance.c), which adds optional running statistics, and those
 * whose registry row asks for no centring or no learned shift. */
#include <stdio.h>

#include "norm/norm.h"
#include "norm/registry.h"

typedef struct {
    nl_layer base;
    nl_norm_spec spec;
    int channels, hw, groups;
    bool center; /* subtract the mean (the registry row's) */
    nl_param *gamma, *beta;
    nl_state *running_mean, *running_var; /* InstanceNorm with tracked statistics */
    float *save_mean, *save_rstd;         /* (N, groups) */
    long batches_tracked;
} groupnorm_layer;

/* per sample over each group of channels */
static nl_norm_geom geom(const groupnorm_layer *l, int n)
{
    return (nl_norm_geom){.n = n, .c = l->channels, .hw = l->hw, .groups = l->groups,
                          .center = l->center, .eps = l->spec.eps};
}

static void groupnorm_forward(nl_layer *self, const nl_pass *pass)
{
    groupnorm_layer *l = (groupnorm_layer *)self;
    nl_backend *be = pass->be;
    const float *gamma = l->gamma ? l->gamma->data : NULL;
    const float *beta = l->beta ? l->beta->data : NULL;
    const bool tracked = l->running_mean != NULL;
    const nl_norm_geom g = geom(l, pass->n);
    if (pass->mode == NL_MODE_EVAL && tracked) {
        be->ops->norm_forward_eval(be, &g, self->in[0]->data, gamma, beta, l->running_mean->data,
                                   l->running_var->data, self->out->data);
        return;
    }
    const bool update = pass->mode == NL_MODE_TRAIN && tracked;
    float momentum = l->spec.momentum;
    if (update) {
        l->batches_tracked++;
        if (l->spec.cumulative)
            momentum = 1.0f / (float)l->batches_tracked;
    }
    be->ops->norm_forward(be, &g, self->in[0]->data, gamma, beta, self->out->data, l->save_mean,
                          l->save_rstd, update ? l->running_mean->data : NULL,
                          update ? l->running_var->data : NULL, momentum);
}

static void groupnorm_backward(nl_layer *self, const nl_pass *pass)
{
    groupnorm_layer *l = (groupnorm_layer *)self;
    const nl_norm_geom g = geom(l, pass->n);
    pass->be->ops->norm_backward(pass->be, &g, self->in[0]->data, self->out->grad,
                                 l->gamma ? l->gamma->data : NULL, l->save_mean, l->save_rstd,
                                 self->in[0]->grad, self->accumulate_din[0],
                                 l->gamma ? l->gamma->grad : NULL,
                                 l->beta ? l->beta->grad : NULL, pass->workspace);
}

static const nl_layer_vtable groupnorm_vtable = {"groupnorm", groupnorm_forward,
                                                 groupnorm_backward};

const char *nl_valid_group_counts(int channels, char *buf, int size)
{
    int used = 0;
    buf[0] = '\0';
    for (int g = 1; g <= channels && used < size; g++)
        if (channels % g == 0)
            used += snprintf(buf + used, (size_t)(size - used), "%s%d", used ? ", " : "", g);
    return buf;
}

nl_act *nl_groupwise_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                          int groups, bool running_stats, const char *kind)
{
    const int channels = in->shape.c, hw = in->shape.h * in->shape.w;
    if (groups < 1 || channels % groups != 0) {
        char valid[256];
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: %s norm with %d groups does not divide its %d channels; "
                        "valid group counts for this layer: %s",
                        name, kind, groups, channels,
                        nl_valid_group_counts(channels, valid, sizeof valid));
        nl_builder_key(b, "model.norm.groups");
        return NULL;
    }
    groupnorm_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->spec = *spec;
    l->channels = channels;
    l->hw = hw;
    l->groups = groups;
    const nl_norm_info *info = nl_norm_info_of(spec->kind);
    l->center = info->center;
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
    }
    const size_t stats = (size_t)in->shape.n * groups * sizeof(float);
    nl_builder_saved(b, (void **)&l->save_mean, stats);
    nl_builder_saved(b, (void **)&l->save_rstd, stats);
    nl_backend *be = nl_builder_backend(b);
    const nl_norm_geom g = geom(l, in->shape.n);
    nl_builder_workspace(b, be->ops->norm_backward_workspace(be, &g));
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(&l->base, &groupnorm_vtable, name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}

nl_act *nl_groupnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    return nl_groupwise_norm(b, name, in, spec, spec->groups, false, "group");
}
