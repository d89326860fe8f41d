/* The layer behind every normalizer that computes statistics: batch norm
 * (statistics per channel over N*H*W: groups 0 in the geometry) and the
 * per-sample ones (group, layer, instance, rms: groups of channels per
 * sample). They differ only in the geometry the norm ops take, so one
 * forward, one backward and one constructor serve them all; batch.c and
 * group.c keep the checks and the geometry of their kinds. */
#include <stdio.h>

#include "dist/dist.h"
#include "norm/norm.h"
#include "norm/registry.h"

/* synchronized batch norm's buffers (model.norm.sync) */
typedef struct {
    float *var;                  /* device (C): this rank's, then the global biased variance */
    float *sum_dy, *sum_dy_xhat; /* device (C): the backward's sums, this rank's, then all ranks' */
    double *exchange;            /* host (2C + 1): what the ranks share */
    float *host;                 /* host (4C): statistics on their way to and from the device */
    bool synced;                 /* the last forward took the global batch's statistics */
    double global_count;         /* of the last forward: values per channel over all ranks */
} sync_state;

typedef struct {
    nl_layer base;
    nl_norm_spec spec;
    nl_norm_geom geom; /* n is the planned capacity; each pass sets its own */
    nl_param *gamma, *beta;
    nl_state *running_mean, *running_var;
    float *save_mean, *save_rstd;
    long batches_tracked;
    sync_state sync; /* used when spec.sync */
} stats_layer;

static void sync_forward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g, bool update,
                         float momentum);
static void sync_backward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g);

static const float *self_input(const stats_layer *l) { return l->base.in[0]->data; }

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
    if (l->spec.sync) {
        sync_forward(l, pass, &g, update, momentum);
        return;
    }
    be->ops->norm_forward(be, &g, self->in[0]->data, gamma, beta, self->out->data, l->save_mean,
                          l->save_rstd, update ? l->running_mean->data : NULL,
                          update ? l->running_var->data : NULL, momentum);
}

static void stats_backward(nl_layer *self, const nl_pass *pass)
{
    stats_layer *l = (stats_layer *)self;
    const nl_norm_geom g = geom_at(l, pass->n);
    if (l->spec.sync) {
        sync_backward(l, pass, &g);
        return;
    }
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
    /* sync: the host buffers live with the layer */
    const size_t host_bytes = spec->sync ? (2 * (size_t)channels + 1) * sizeof(double) +
                                               4 * (size_t)channels * sizeof(float)
                                         : 0;
    stats_layer *l = nl_builder_layer_alloc(b, sizeof *l + host_bytes);
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
    }
    /* per channel (batch statistics), or per sample and group */
    const size_t stats =
        (geom.groups == 0 ? (size_t)channels : (size_t)in->shape.n * geom.groups) * sizeof(float);
    nl_builder_saved(b, (void **)&l->save_mean, stats);
    nl_builder_saved(b, (void **)&l->save_rstd, stats);
    if (spec->sync) {
        nl_builder_saved(b, (void **)&l->sync.var, stats);
        nl_builder_saved(b, (void **)&l->sync.sum_dy, stats);
        nl_builder_saved(b, (void **)&l->sync.sum_dy_xhat, stats);
        l->sync.exchange = (double *)(l + 1);
        l->sync.host = (float *)(l->sync.exchange + 2 * (size_t)channels + 1);
    }
    nl_backend *be = nl_builder_backend(b);
    nl_builder_workspace(b, be->ops->norm_backward_workspace(be, &l->geom));
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(&l->base, geom.groups == 0 ? &batchnorm_vtable : &groupnorm_vtable, name, in, NULL,
                  out);
    nl_builder_add(b, &l->base);
    return out;
}

/* ---- synchronized batch norm (model.norm.sync): PyTorch's SyncBatchNorm ----
 * Training: each rank's per-channel count, mean and biased variance are
 * merged in rank order (Chan et al.'s pairwise update, in double) into the
 * global batch's, which normalize every rank's slice; the running variance
 * takes the unbiased variance of the global count. Backward: the ranks add
 * their sums of dy and dy * xhat, and dx comes from the global sums.
 * dgamma and dbeta stay this rank's own sums: the training loop averages
 * parameter gradients over the ranks, as it does every other layer's.
 * Eval mode never synchronizes (PyTorch: only in training), so a rank may
 * evaluate a slice of its own size. On one rank the exchange is a copy and
 * the results are batch norm's. */

static void sync_forward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g, bool update,
                         float momentum)
{
    nl_backend *be = pass->be;
    sync_state *s = &l->sync;
    const int c = g->c;
    const size_t bytes = (size_t)c * sizeof(float);
    float *mean_h = s->host, *var_h = s->host + c, *rm_h = s->host + 2 * c, *rv_h = s->host + 3 * c;
    be->ops->norm_stats(be, g, self_input(l), l->save_mean, s->var, NULL, NULL, 0.0f);
    s->synced = pass->mode != NL_MODE_EVAL;
    double count = (double)g->n * g->hw;
    if (s->synced) {
        be->ops->download(be, mean_h, l->save_mean, bytes);
        be->ops->download(be, var_h, s->var, bytes);
        double *mine = s->exchange;
        mine[0] = count;
        for (int ch = 0; ch < c; ch++) {
            mine[1 + ch] = mean_h[ch];
            mine[1 + c + ch] = var_h[ch];
        }
        const size_t per_rank = 2 * (size_t)c + 1;
        const double *all = nl_dist_allgather(pass->dist, mine, per_rank * sizeof(double));
        const int ranks = nl_dist_size(pass->dist);
        if (all) {
            count = 0.0;
            for (int r = 0; r < ranks; r++)
                count += all[(size_t)r * per_rank];
            for (int ch = 0; ch < c; ch++) {
                double n_a = 0.0, mean = 0.0, m2 = 0.0; /* m2: sum of squared deviations */
                for (int r = 0; r < ranks; r++) {
                    const double *theirs = all + (size_t)r * per_rank;
                    const double n_b = theirs[0], mean_b = theirs[1 + ch];
                    const double n = n_a + n_b, delta = mean_b - mean;
                    mean += delta * n_b / n;
                    m2 += theirs[1 + c + ch] * n_b + delta * delta * n_a * n_b / n;
                    n_a = n;
                }
                mean_h[ch] = (float)mean;
                var_h[ch] = (float)(m2 / count);
            }
        }
        be->ops->upload(be, l->save_mean, mean_h, bytes);
        be->ops->upload(be, s->var, var_h, bytes);
    }
    s->global_count = count;
    be->ops->norm_apply(be, g, self_input(l), l->save_mean, s->var,
                        l->gamma ? l->gamma->data : NULL, l->beta ? l->beta->data : NULL,
                        l->base.out->data, l->save_rstd);
    if (!update)
        return;
    if (!s->synced) {
        be->ops->download(be, mean_h, l->save_mean, bytes);
        be->ops->download(be, var_h, s->var, bytes);
    }
    be->ops->download(be, rm_h, l->running_mean->data, bytes);
    be->ops->download(be, rv_h, l->running_var->data, bytes);
    const double unbiased = count > 1.0 ? count / (count - 1.0) : 1.0;
    for (int ch = 0; ch < c; ch++) {
        rm_h[ch] = (float)((1.0 - momentum) * rm_h[ch] + momentum * (double)mean_h[ch]);
        rv_h[ch] = (float)((1.0 - momentum) * rv_h[ch] + momentum * (double)var_h[ch] * unbiased);
    }
    be->ops->upload(be, l->running_mean->data, rm_h, bytes);
    be->ops->upload(be, l->running_var->data, rv_h, bytes);
}

static void sync_backward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g)
{
    nl_backend *be = pass->be;
    sync_state *s = &l->sync;
    const int c = g->c;
    const size_t bytes = (size_t)c * sizeof(float);
    const float *x = self_input(l), *dy = l->base.out->grad;
    be->ops->norm_backward_reduce(be, g, x, dy, l->save_mean, l->save_rstd, s->sum_dy,
                                  s->sum_dy_xhat);
    if (l->gamma)
        be->ops->copy(be, l->gamma->grad, s->sum_dy_xhat, (size_t)c);
    if (l->beta)
        be->ops->copy(be, l->beta->grad, s->sum_dy, (size_t)c);
    float *dx = l->base.in[0]->grad;
    if (!dx)
        return; /* the same on every rank: none of them exchanges */
    if (s->synced) {
        float *sums_h = s->host;
        be->ops->download(be, sums_h, s->sum_dy, bytes);
        be->ops->download(be, sums_h + c, s->sum_dy_xhat, bytes);
        for (int k = 0; k < 2 * c; k++)
            s->exchange[k] = sums_h[k];
        nl_dist_sum(pass->dist, s->exchange, 2 * (size_t)c);
        for (int k = 0; k < 2 * c; k++)
            sums_h[k] = (float)s->exchange[k];
        be->ops->upload(be, s->sum_dy, sums_h, bytes);
        be->ops->upload(be, s->sum_dy_xhat, sums_h + c, bytes);
    }
    be->ops->norm_backward_apply(be, g, x, dy, l->gamma ? l->gamma->data : NULL, l->save_mean,
                                 l->save_rstd, s->sum_dy, s->sum_dy_xhat, s->global_count, dx,
                                 l->base.accumulate_din[0]);
}
