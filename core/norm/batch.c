/* BatchNorm (Ioffe & Szegedy 2015) with PyTorch's semantics: statistics per
 * channel over N*H*W, the biased variance normalizes, running statistics take
 * `momentum` of the new batch (the unbiased variance), eval mode uses them.
 * With momentum "cumulative" (PyTorch's momentum=None) the running
 * statistics are the plain average over all batches seen. */
#include <stdio.h>

#include "norm/norm.h"

typedef struct {
    nl_layer base;
    nl_norm_spec spec;
    int channels, hw;
    nl_param *gamma, *beta;
    nl_state *running_mean, *running_var;
    float *save_mean, *save_rstd;
    long batches_tracked;
} batchnorm_layer;

/* batch statistics: per channel over N*H*W */
static nl_norm_geom geom(const batchnorm_layer *l, int n)
{
    return (nl_norm_geom){.n = n, .c = l->channels, .hw = l->hw, .groups = 0, .center = true,
                          .eps = l->spec.eps};
}

static void batchnorm_forward(nl_layer *self, const nl_pass *pass)
{
    batchnorm_layer *l = (batchnorm_layer *)self;
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

static void batchnorm_backward(nl_layer *self, const nl_pass *pass)
{
    batchnorm_layer *l = (batchnorm_layer *)self;
    const nl_norm_geom g = geom(l, pass->n);
    pass->be->ops->norm_backward(pass->be, &g, self->in[0]->data, self->out->grad,
                                 l->gamma ? l->gamma->data : NULL, l->save_mean, l->save_rstd,
                                 self->in[0]->grad, self->accumulate_din[0],
                                 l->gamma ? l->gamma->grad : NULL,
                                 l->beta ? l->beta->grad : NULL, pass->workspace);
}

static const nl_layer_vtable batchnorm_vtable = {"batchnorm", batchnorm_forward,
                                                 batchnorm_backward};

nl_act *nl_batchnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const int channels = in->shape.c, hw = in->shape.h * in->shape.w;
    const int batch = nl_builder_train_batch(b);
    if ((long)batch * hw == 1) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: batch norm needs more than one value per channel in training, "
                        "but batch size %d x %dx%d gives 1 (PyTorch: 'Expected more than 1 value "
                        "per channel when training'); use a batch size of at least 2, or "
                        "layer/group norm",
                        name, batch, in->shape.h, in->shape.w);
        nl_builder_key(b, "train.batch_size");
        return NULL;
    }
    batchnorm_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->spec = *spec;
    l->channels = channels;
    l->hw = hw;
    char pname[96];
    if (spec->affine) {
        snprintf(pname, sizeof pname, "%s.weight", name);
        l->gamma = nl_builder_param(b, pname, 1, (int[]){channels}, true, NL_FILL_ONES, 0.0f);
        snprintf(pname, sizeof pname, "%s.bias", name);
        l->beta = nl_builder_param(b, pname, 1, (int[]){channels}, true, NL_FILL_ZEROS, 0.0f);
    }
    if (spec->track_running_stats) {
        snprintf(pname, sizeof pname, "%s.running_mean", name);
        l->running_mean = nl_builder_state(b, pname, (size_t)channels, 0.0f);
        snprintf(pname, sizeof pname, "%s.running_var", name);
        l->running_var = nl_builder_state(b, pname, (size_t)channels, 1.0f);
    }
    nl_builder_saved(b, (void **)&l->save_mean, (size_t)channels * sizeof(float));
    nl_builder_saved(b, (void **)&l->save_rstd, (size_t)channels * sizeof(float));
    nl_backend *be = nl_builder_backend(b);
    const nl_norm_geom g = geom(l, in->shape.n);
    nl_builder_workspace(b, be->ops->norm_backward_workspace(be, &g));
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(&l->base, &batchnorm_vtable, name, in, NULL, out);
    nl_builder_add(b, &l->base);
    return out;
}
