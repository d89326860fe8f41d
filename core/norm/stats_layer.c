/* The layer behind every normalizer that computes statistics: batch norm
 * (statistics per channel over N*H*W: groups 0 in the geometry) and the
 * per-sample ones (group, layer, instance, rms: groups of channels per
 * sample). They differ only in the geometry the norm ops take, so one
 * forward, one backward and one constructor serve them all; batch.c and
 * group.c keep the checks and the geometry of their kinds. Two variants of
 * batch norm differ in training only: batch renorm (the forward in two
 * steps, corrected by r and d between them) and ghost batch norm (batch
 * statistics per virtual batch: the same ops on slices of the batch). */
#include <stdio.h>

#include "dist/dist.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "norm/sync_merge.h"

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
    int rows_per_sample; /* token sequences: each token is a row (a sample of the norm ops) */
    nl_param *gamma, *beta;
    nl_state *running_mean, *running_var;
    float *save_mean, *save_rstd; /* ghost batch: one set per virtual batch */
    long batches_tracked;
    /* per-step scalars (nl_builder_scalars), from `scalars` on: the
     * momentum of each running-statistics update of a pass (one per virtual
     * batch), then batch renorm's {r_max, d_max} */
    int scalars, momentum_slots;
    /* training with frozen running statistics: the last forward used them,
     * and (when freezable) per-channel ones, zeros and rstd for backward */
    bool ran_frozen;
    float *frozen_consts;
    /* batch renorm (per channel): the batch variance, the running statistics
     * before this batch's update, r, d, and the affine map they give */
    float *batch_var, *prior_mean, *prior_var, *r, *d, *scale, *shift;
    /* ghost batch: a later virtual batch's parameter gradients, added in */
    float *chunk_dgamma, *chunk_dbeta;
    sync_state sync; /* used when spec.sync */
} stats_layer;

static void sync_forward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g, bool update);
static void sync_backward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g);

static const float *self_input(const stats_layer *l) { return l->base.in[0]->data; }

static nl_norm_geom geom_at(const stats_layer *l, int n)
{
    nl_norm_geom g = l->geom;
    g.n = n * l->rows_per_sample;
    return g;
}

/* 0 before ramp[0], 1 from ramp[1] on, linear in between */
static float ramp_fraction(const int ramp[2], long step)
{
    if (step >= ramp[1])
        return 1.0f;
    if (step <= ramp[0])
        return 0.0f;
    return (float)(step - ramp[0]) / (float)(ramp[1] - ramp[0]);
}

/* batch renorm in training: statistics, r and d against the running
 * statistics as they were before this batch, then the corrected apply.
 * Train-mode evaluation (update false) corrects the same way and leaves the
 * running statistics alone. */
static void renorm_forward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g,
                           const float *gamma, const float *beta, bool update)
{
    nl_backend *be = pass->be;
    const float *x = l->base.in[0]->data;
    const float *prior_mean = l->running_mean->data, *prior_var = l->running_var->data;
    if (update) {
        be->ops->copy(be, l->prior_mean, l->running_mean->data, (size_t)g->c);
        be->ops->copy(be, l->prior_var, l->running_var->data, (size_t)g->c);
        prior_mean = l->prior_mean;
        prior_var = l->prior_var;
    }
    be->ops->norm_stats(be, g, x, l->save_mean, l->batch_var,
                        update ? l->running_mean->data : NULL,
                        update ? l->running_var->data : NULL, pass->scalars + l->scalars);
    be->ops->renorm_correction(be, g->c, g->eps, pass->scalars + l->scalars + l->momentum_slots,
                               l->save_mean, l->batch_var,
                               prior_mean, prior_var, gamma, beta, l->r, l->d, l->scale, l->shift);
    be->ops->norm_apply(be, g, x, l->save_mean, l->batch_var, l->scale, l->shift,
                        l->base.out->data, l->save_rstd);
}

/* Number of virtual batches of n samples. Every pass that takes batch
 * statistics carries the training batch (training steps, recalibration and
 * train-mode evaluation all drop a short last batch), which
 * nl_ghost_batchnorm requires virtual_batch to divide; so the virtual
 * batches are equal and PyTorch's x.split(V) has no short last chunk here. */
static int ghost_chunks(const stats_layer *l, int n) { return n / l->spec.virtual_batch; }

/* virtual batch k: its geometry and the offset of its first value */
static nl_norm_geom ghost_chunk(const stats_layer *l, int k, size_t *offset)
{
    nl_norm_geom g = l->geom;
    g.n = l->spec.virtual_batch;
    *offset = (size_t)k * g.n * g.c * g.hw;
    return g;
}

/* The momentum of the next running-statistics update. While recalibrating
 * (`recalibrated` updates done since the reset, >= 0) the plain average from
 * the reset, as PyTorch's momentum=None after reset_running_stats(): the
 * first update replaces the old values. Otherwise (-1) the configured
 * momentum, or with momentum "cumulative" the plain average over every
 * update so far. */
static float next_momentum(stats_layer *l, long recalibrated)
{
    if (recalibrated >= 0) {
        l->batches_tracked = recalibrated + 1;
        return 1.0f / (float)l->batches_tracked;
    }
    l->batches_tracked++;
    return l->spec.cumulative ? 1.0f / (float)l->batches_tracked : l->spec.momentum;
}

/* the pass normalizes with the running statistics (evaluation, or
 * training frozen: a layer built without freezable cannot, nl_train
 * refuses) */
static bool uses_running(const stats_layer *l, const nl_pass *pass)
{
    return l->running_mean &&
           (pass->mode == NL_MODE_EVAL || (l->frozen_consts && pass->mode == NL_MODE_RUNNING_STATS));
}

/* the pass updates the running statistics */
static bool updates_running(const stats_layer *l, const nl_pass *pass)
{
    return l->running_mean && (pass->mode == NL_MODE_TRAIN || pass->mode == NL_MODE_RECALIBRATE);
}

/* The host half of the forward: the batches-tracked count and this pass's
 * per-step scalars, the momentum of each update (ghost batch: PyTorch's
 * bn(chunk) for chunk in x.split(V), one update per virtual batch) and
 * batch renorm's ramped limits. */
static void stats_prepare(nl_layer *self, const nl_pass *pass)
{
    stats_layer *l = (stats_layer *)self;
    if (uses_running(l, pass))
        return;
    float *scalars = pass->scalars_host + l->scalars;
    if (updates_running(l, pass)) {
        const bool recalibrate = pass->mode == NL_MODE_RECALIBRATE;
        const int updates = l->spec.kind == NL_NORM_GHOST_BATCH ? ghost_chunks(l, pass->n) : 1;
        for (int k = 0; k < updates; k++)
            scalars[k] = next_momentum(l, recalibrate ? pass->recalibrated * updates + k : -1);
    }
    if (l->spec.kind == NL_NORM_BATCH_RENORM) {
        float *limits = scalars + l->momentum_slots;
        limits[0] = 1.0f + (l->spec.r_max - 1.0f) * ramp_fraction(l->spec.r_max_ramp, pass->step);
        limits[1] = l->spec.d_max * ramp_fraction(l->spec.d_max_ramp, pass->step);
    }
}

static void stats_forward(nl_layer *self, const nl_pass *pass)
{
    stats_layer *l = (stats_layer *)self;
    nl_backend *be = pass->be;
    const float *gamma = l->gamma ? l->gamma->data : NULL;
    const float *beta = l->beta ? l->beta->data : NULL;
    const nl_norm_geom g = geom_at(l, pass->n);
    l->ran_frozen = uses_running(l, pass) && pass->mode == NL_MODE_RUNNING_STATS;
    if (uses_running(l, pass)) {
        be->ops->norm_forward_eval(be, &g, self->in[0]->data, gamma, beta, l->running_mean->data,
                                   l->running_var->data, self->out->data);
        return;
    }
    const bool update = updates_running(l, pass);
    float *running_mean = update ? l->running_mean->data : NULL;
    float *running_var = update ? l->running_var->data : NULL;
    const float *momentum = pass->scalars + l->scalars; /* read only with running_mean */
    if (l->spec.kind == NL_NORM_GHOST_BATCH) {
        for (int k = 0; k < ghost_chunks(l, pass->n); k++) {
            size_t at;
            const nl_norm_geom gk = ghost_chunk(l, k, &at);
            be->ops->norm_forward(be, &gk, self->in[0]->data + at, gamma, beta,
                                  self->out->data + at, l->save_mean + (size_t)k * g.c,
                                  l->save_rstd + (size_t)k * g.c, running_mean, running_var,
                                  momentum + k);
        }
        return;
    }
    if (l->spec.sync) {
        sync_forward(l, pass, &g, update);
        return;
    }
    if (l->spec.kind == NL_NORM_BATCH_RENORM) {
        renorm_forward(l, pass, &g, gamma, beta, update);
        return;
    }
    be->ops->norm_forward(be, &g, self->in[0]->data, gamma, beta, self->out->data, l->save_mean,
                          l->save_rstd, running_mean, running_var, momentum);
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
    if (l->spec.sync) {
        sync_backward(l, pass, &g);
        return;
    }
    nl_backend *be = pass->be;
    float *dgamma = l->gamma ? l->gamma->grad : NULL, *dbeta = l->beta ? l->beta->grad : NULL;
    if (l->spec.kind == NL_NORM_BATCH_RENORM) {
        /* batch norm's backward with gamma*r as the scale; r, d constants */
        be->ops->norm_backward(be, &g, self->in[0]->data, self->out->grad, l->scale,
                               l->save_mean, l->save_rstd, self->in[0]->grad,
                               self->accumulate_din[0], dgamma, dbeta, pass->workspace);
        if (dgamma)
            be->ops->renorm_param_grads(be, g.c, l->r, l->d, dgamma, dbeta);
        return;
    }
    if (l->spec.kind == NL_NORM_GHOST_BATCH) {
        /* parameter gradients are written, not accumulated: virtual batch 0
         * writes them, each later one writes its own and adds them in */
        for (int k = 0; k < ghost_chunks(l, pass->n); k++) {
            size_t at;
            const nl_norm_geom gk = ghost_chunk(l, k, &at);
            float *din = self->in[0]->grad;
            be->ops->norm_backward(be, &gk, self->in[0]->data + at, self->out->grad + at,
                                   l->gamma ? l->gamma->data : NULL,
                                   l->save_mean + (size_t)k * g.c, l->save_rstd + (size_t)k * g.c,
                                   din ? din + at : NULL, self->accumulate_din[0],
                                   k && dgamma ? l->chunk_dgamma : dgamma,
                                   k && dbeta ? l->chunk_dbeta : dbeta, pass->workspace);
            if (k && dgamma)
                be->ops->pass_gradient(be, (size_t)g.c, l->chunk_dgamma, dgamma, true);
            if (k && dbeta)
                be->ops->pass_gradient(be, (size_t)g.c, l->chunk_dbeta, dbeta, true);
        }
        return;
    }
    pass->be->ops->norm_backward(pass->be, &g, self->in[0]->data, self->out->grad,
                                 l->gamma ? l->gamma->data : NULL, l->save_mean, l->save_rstd,
                                 self->in[0]->grad, self->accumulate_din[0],
                                 l->gamma ? l->gamma->grad : NULL,
                                 l->beta ? l->beta->grad : NULL, pass->workspace);
}

/* the kind names `show` and the tests see */
static const nl_layer_vtable batchnorm_vtable = {.kind = "batchnorm", .forward = stats_forward,
                                                 .backward = stats_backward,
                                                 .prepare = stats_prepare};
static const nl_layer_vtable groupnorm_vtable = {.kind = "groupnorm", .forward = stats_forward,
                                                 .backward = stats_backward,
                                                 .prepare = stats_prepare};

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
    l->rows_per_sample = nl_shape_rows_per_sample(in->shape);
    l->geom.n = in->shape.n * l->rows_per_sample;
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
    /* per channel (batch statistics; ghost batch: per virtual batch too), or
     * per sample and group */
    const size_t chunks = spec->kind == NL_NORM_GHOST_BATCH ? (size_t)ghost_chunks(l, in->shape.n) : 1;
    l->momentum_slots = running_stats ? (int)chunks : 0;
    l->scalars = nl_builder_scalars(
        b, l->momentum_slots + (spec->kind == NL_NORM_BATCH_RENORM ? 2 : 0));
    const size_t stats =
        (geom.groups == 0 ? (size_t)channels * chunks : (size_t)l->geom.n * geom.groups) *
        sizeof(float);
    nl_builder_saved(b, (void **)&l->save_mean, stats);
    nl_builder_saved(b, (void **)&l->save_rstd, stats);
    const size_t per_channel = (size_t)channels * sizeof(float);
    if (spec->kind == NL_NORM_BATCH_RENORM) {
        float **renorm[] = {&l->batch_var, &l->prior_mean, &l->prior_var, &l->r,
                            &l->d,         &l->scale,      &l->shift};
        for (size_t i = 0; i < sizeof renorm / sizeof renorm[0]; i++)
            nl_builder_saved(b, (void **)renorm[i], per_channel);
    }
    if (spec->kind == NL_NORM_GHOST_BATCH && chunks > 1) {
        nl_builder_saved(b, (void **)&l->chunk_dgamma, per_channel);
        nl_builder_saved(b, (void **)&l->chunk_dbeta, per_channel);
    }
    if (spec->sync) {
        nl_builder_saved(b, (void **)&l->sync.var, stats);
        nl_builder_saved(b, (void **)&l->sync.sum_dy, stats);
        nl_builder_saved(b, (void **)&l->sync.sum_dy_xhat, stats);
        l->sync.exchange = (double *)(l + 1);
        l->sync.host = (float *)(l->sync.exchange + 2 * (size_t)channels + 1);
    }
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

static void sync_forward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g, bool update)
{
    /* the running statistics are updated on the host here: the momentum
     * comes from the host image */
    const double momentum = update ? pass->scalars_host[l->scalars] : 0.0;
    nl_backend *be = pass->be;
    sync_state *s = &l->sync;
    const int c = g->c;
    const size_t bytes = (size_t)c * sizeof(float);
    float *mean_h = s->host, *var_h = s->host + c, *rm_h = s->host + 2 * c, *rv_h = s->host + 3 * c;
    be->ops->norm_stats(be, g, self_input(l), l->save_mean, s->var, NULL, NULL, NULL);
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
        if (all)
            count = nl_sync_merge_stats(all, nl_dist_size(pass->dist), c, mean_h, var_h);
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

double nl_sync_merge_stats(const double *records, int ranks, int channels, float *mean_out,
                           float *var_out)
{
    const size_t per_rank = 2 * (size_t)channels + 1;
    double count = 0.0;
    for (int r = 0; r < ranks; r++)
        count += records[(size_t)r * per_rank];
    for (int ch = 0; ch < channels; ch++) {
        double n_a = 0.0, mean = 0.0, m2 = 0.0; /* m2: sum of squared deviations */
        for (int r = 0; r < ranks; r++) {
            const double *theirs = records + (size_t)r * per_rank;
            const double n_b = theirs[0], mean_b = theirs[1 + ch];
            const double n = n_a + n_b, delta = mean_b - mean;
            mean += delta * n_b / n;
            m2 += theirs[1 + channels + ch] * n_b + delta * delta * n_a * n_b / n;
            n_a = n;
        }
        mean_out[ch] = (float)mean;
        var_out[ch] = (float)(m2 / count);
    }
    return count;
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
