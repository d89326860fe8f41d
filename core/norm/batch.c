/* BatchNorm (Ioffe & Szegedy 2015) with PyTorch's semantics: statistics per
 * channel over N*H*W, the biased variance normalizes, running statistics take
 * `momentum` of the new batch (the unbiased variance), eval mode uses them.
 * With momentum "cumulative" (PyTorch's momentum=None) the running
 * statistics are the plain average over all batches seen. */
#include <stdio.h>

#include "norm/norm.h"
#include "norm/stats_layer.h"

/* batch statistics: one set per channel over the training batch's N*T*H*W */
static void nl_batch_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    (void)spec;
    const int rows = nl_shape_rows_per_sample(in);
    *set = (nl_norm_set){.values = (long)train_batch * rows * nl_shape_plane(in),
                         .key = "train.batch_size"};
    snprintf(set->per, sizeof set->per, "channel in training");
    char spatial[48];
    char tokens[48] = "";
    if (in.ndim == 3)
        snprintf(tokens, sizeof tokens, " x %d token%s", rows, rows == 1 ? "" : "s");
    snprintf(set->counted, sizeof set->counted, "batch size %d%s%s", train_batch, tokens,
             nl_norm_plane_text(in, spatial, sizeof spatial));
    snprintf(set->fix, sizeof set->fix,
             "use a batch size of at least 2, or a normalizer with per-sample statistics "
             "(PyTorch: 'Expected more than 1 value per channel when training')");
}

/* ghost batch norm: per channel over each virtual batch */
static void nl_ghost_batch_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    const int v = spec->virtual_batch;
    *set = (nl_norm_set){0};
    if (v <= 0 || train_batch % v != 0)
        return; /* nl_ghost_batchnorm says what virtual_batch must be */
    set->values = (long)v * nl_shape_rows_per_sample(in) * nl_shape_plane(in);
    set->key = "model.norm.virtual_batch";
    snprintf(set->per, sizeof set->per, "channel of each virtual batch");
    char spatial[48];
    snprintf(set->counted, sizeof set->counted, "model.norm.virtual_batch %d%s", v,
             nl_norm_plane_text(in, spatial, sizeof spatial));
    snprintf(set->fix, sizeof set->fix, "use 2 or more samples per virtual batch");
}

nl_act *nl_batchnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const int channels = in->shape.c, hw = nl_shape_plane(in->shape);
    /* batch statistics: per channel over N*H*W */
    const nl_norm_geom geom = {.c = channels, .hw = hw, .groups = 0, .center = true,
                               .eps = spec->eps, .stats_precision = spec->stats_precision};
    return nl_stats_norm_layer(b, name, in, spec, geom, spec->track_running_stats);
}

const nl_norm_info nl_norm_row_batch = {
    {"batch", "BatchNorm: statistics per channel over N*H*W, running statistics for eval"},
    .keys = NL_NORM_STATS_KEYS | NL_NORM_RUNNING_KEYS | NL_NORM_KEY_SYNC, .learned_shift = true,
    .center = true, .running_stats = true, .running_stats_default = true,
    .features = true, .images = true, .tokens = true, .adds_layer = true,
    .color = "#1f77b4", .build = nl_batchnorm, .bench_torch = true,
    .stats_set = nl_batch_set,
    .point = &(const nl_norm_point){.reduce = NL_REDUCE_BATCH, .center = true, .scale = NL_SCALE_STD},
    .formula = {"weight * (x - running(mean(x, [batch]))) / sqrt(running(var(x, [batch])) + eps) + bias",
                "weight * (x - running(mean(x, [batch, tokens]))) / sqrt(running(var(x, [batch, tokens])) + eps) + bias",
                "weight * (x - running(mean(x, [batch, spatial]))) / sqrt(running(var(x, [batch, spatial])) + eps) + bias"},
    .formula_params = "weight = 1 per channel, bias = 0 per channel",
};

/* batch renorm's buffers (per channel): the batch variance, the running
 * statistics before this batch's update, r, d, and the affine map they
 * give */
typedef struct {
    float *batch_var, *prior_mean, *prior_var, *r, *d, *scale, *shift;
} renorm_state;

static void renorm_plan(nl_stats_layer *l, nl_builder *b, size_t per_channel_bytes)
{
    renorm_state *s = l->variant;
    float **buffers[] = {&s->batch_var, &s->prior_mean, &s->prior_var, &s->r,
                         &s->d,         &s->scale,      &s->shift};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        nl_builder_saved(b, (void **)buffers[i], per_channel_bytes);
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

/* the step's {r_max, d_max}, ramped over the training steps */
static void renorm_prepare(nl_stats_layer *l, const nl_pass *pass, float *limits)
{
    limits[0] = 1.0f + (l->spec.r_max - 1.0f) * ramp_fraction(l->spec.r_max_ramp, pass->step);
    limits[1] = l->spec.d_max * ramp_fraction(l->spec.d_max_ramp, pass->step);
}

/* statistics, r and d against the running statistics as they were before
 * this batch, then the corrected apply. Train-mode evaluation (update
 * false) corrects the same way and leaves the running statistics alone. */
static void renorm_forward(nl_stats_layer *l, const nl_pass *pass, const nl_norm_geom *g,
                           bool update)
{
    renorm_state *s = l->variant;
    nl_backend *be = pass->be;
    const float *x = l->base.in[0]->data;
    const float *gamma = l->gamma ? l->gamma->data : NULL;
    const float *beta = l->beta ? l->beta->data : NULL;
    const float *prior_mean = l->running_mean->data, *prior_var = l->running_var->data;
    if (update) {
        be->ops->copy(be, s->prior_mean, l->running_mean->data, (size_t)g->c);
        be->ops->copy(be, s->prior_var, l->running_var->data, (size_t)g->c);
        prior_mean = s->prior_mean;
        prior_var = s->prior_var;
    }
    be->ops->norm_stats(be, g, x, l->save_mean, s->batch_var,
                        update ? l->running_mean->data : NULL,
                        update ? l->running_var->data : NULL, pass->scalars + l->scalars);
    be->ops->renorm_correction(be, g->c, g->eps, pass->scalars + l->scalars + l->momentum_slots,
                               l->save_mean, s->batch_var, prior_mean, prior_var, gamma, beta,
                               s->r, s->d, s->scale, s->shift);
    be->ops->norm_apply(be, g, x, l->save_mean, s->batch_var, s->scale, s->shift,
                        l->base.out->data, l->save_rstd);
}

/* batch norm's backward with gamma*r as the scale; r, d constants */
static void renorm_backward(nl_stats_layer *l, const nl_pass *pass, const nl_norm_geom *g)
{
    renorm_state *s = l->variant;
    nl_backend *be = pass->be;
    float *dgamma = l->gamma ? l->gamma->grad : NULL, *dbeta = l->beta ? l->beta->grad : NULL;
    be->ops->norm_backward(be, g, l->base.in[0]->data, l->base.out->grad, s->scale, l->save_mean,
                           l->save_rstd, l->base.in[0]->grad, l->base.accumulate_din[0], dgamma,
                           dbeta, pass->workspace);
    if (dgamma)
        be->ops->renorm_param_grads(be, g->c, s->r, s->d, dgamma, dbeta);
}

static const struct nl_stats_training nl_batch_renorm_training = {
    .state_bytes = sizeof(renorm_state), .scalars = 2, .plan = renorm_plan,
    .prepare = renorm_prepare, .forward = renorm_forward, .backward = renorm_backward};

/* Batch Renormalization (Ioffe 2017): batch norm whose training output is
 * corrected toward the running statistics, y = gamma * (r * xhat + d) +
 * beta, r and d clipped (limits ramped over the training steps) and held
 * constant in the backward. Eval mode is batch norm's. */
static nl_act *nl_batch_renorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const struct {
        const char *key;
        const int *ramp;
    } ramps[] = {{"model.norm.r_max_ramp", spec->r_max_ramp},
                 {"model.norm.d_max_ramp", spec->d_max_ramp}};
    for (size_t i = 0; i < sizeof ramps / sizeof ramps[0]; i++)
        if (ramps[i].ramp[0] > ramps[i].ramp[1]) {
            nl_builder_fail(b, NL_ERR_CONFIG,
                            "layer %s: %s [%d, %d] ends before it starts; give [from, to] "
                            "training steps with from <= to",
                            name, ramps[i].key, ramps[i].ramp[0], ramps[i].ramp[1]);
            nl_builder_key(b, ramps[i].key);
            return NULL;
        }
    nl_norm_spec renorm = *spec;
    renorm.track_running_stats = true; /* r and d are taken against them */
    return nl_batchnorm(b, name, in, &renorm);
}

const nl_norm_info nl_norm_row_batch_renorm = {
    {"batch_renorm", "Batch Renormalization (Ioffe 2017): batch norm corrected by clipped r, d toward the running statistics"},
    .keys = NL_NORM_STATS_KEYS | NL_NORM_KEY_MOMENTUM | NL_NORM_KEY_RENORM,
    .learned_shift = true, .center = true, .running_stats = true,
    .running_stats_default = true, .features = true, .images = true,
    .tokens = true,
    .adds_layer = true, .color = "#8c564b", .build = nl_batch_renorm,
    .stats_set = nl_batch_set, .training = &nl_batch_renorm_training,
};

/* Ghost batch norm's virtual batches of n samples. Every pass that takes
 * batch statistics carries the training batch (training steps,
 * recalibration and train-mode evaluation all drop a short last batch),
 * which nl_ghost_batchnorm requires virtual_batch to divide; so the
 * virtual batches are equal and PyTorch's x.split(V) has no short last
 * chunk here. */
static int ghost_chunks(const nl_stats_layer *l, int n) { return n / l->spec.virtual_batch; }

/* virtual batch k: its geometry and the offset of its first value */
static nl_norm_geom ghost_chunk(const nl_stats_layer *l, int k, size_t *offset)
{
    nl_norm_geom g = l->geom;
    g.n = l->spec.virtual_batch;
    *offset = (size_t)k * g.n * g.c * g.hw;
    return g;
}

/* a later virtual batch's parameter gradients, before they are added in */
typedef struct {
    float *chunk_dgamma, *chunk_dbeta;
} ghost_state;

static void ghost_plan(nl_stats_layer *l, nl_builder *b, size_t per_channel_bytes)
{
    ghost_state *s = l->variant;
    if (ghost_chunks(l, l->geom.n / l->rows_per_sample) < 2)
        return;
    nl_builder_saved(b, (void **)&s->chunk_dgamma, per_channel_bytes);
    nl_builder_saved(b, (void **)&s->chunk_dbeta, per_channel_bytes);
}

/* batch norm's forward on each virtual batch, one running-statistics
 * update each */
static void ghost_forward(nl_stats_layer *l, const nl_pass *pass, const nl_norm_geom *g,
                          bool update)
{
    nl_backend *be = pass->be;
    const float *gamma = l->gamma ? l->gamma->data : NULL;
    const float *beta = l->beta ? l->beta->data : NULL;
    float *running_mean = update ? l->running_mean->data : NULL;
    float *running_var = update ? l->running_var->data : NULL;
    const float *momentum = pass->scalars + l->scalars; /* read only with running_mean */
    for (int k = 0; k < ghost_chunks(l, pass->n); k++) {
        size_t at;
        const nl_norm_geom gk = ghost_chunk(l, k, &at);
        be->ops->norm_forward(be, &gk, l->base.in[0]->data + at, gamma, beta,
                              l->base.out->data + at, l->save_mean + (size_t)k * g->c,
                              l->save_rstd + (size_t)k * g->c, running_mean, running_var,
                              momentum + k);
    }
}

/* parameter gradients are written, not accumulated: virtual batch 0 writes
 * them, each later one writes its own and adds them in */
static void ghost_backward(nl_stats_layer *l, const nl_pass *pass, const nl_norm_geom *g)
{
    ghost_state *s = l->variant;
    nl_backend *be = pass->be;
    float *dgamma = l->gamma ? l->gamma->grad : NULL, *dbeta = l->beta ? l->beta->grad : NULL;
    float *din = l->base.in[0]->grad;
    for (int k = 0; k < ghost_chunks(l, pass->n); k++) {
        size_t at;
        const nl_norm_geom gk = ghost_chunk(l, k, &at);
        be->ops->norm_backward(be, &gk, l->base.in[0]->data + at, l->base.out->grad + at,
                               l->gamma ? l->gamma->data : NULL, l->save_mean + (size_t)k * g->c,
                               l->save_rstd + (size_t)k * g->c, din ? din + at : NULL,
                               l->base.accumulate_din[0], k && dgamma ? s->chunk_dgamma : dgamma,
                               k && dbeta ? s->chunk_dbeta : dbeta, pass->workspace);
        if (k && dgamma)
            be->ops->pass_gradient(be, (size_t)g->c, s->chunk_dgamma, dgamma, true);
        if (k && dbeta)
            be->ops->pass_gradient(be, (size_t)g->c, s->chunk_dbeta, dbeta, true);
    }
}

static const struct nl_stats_training nl_ghost_batch_training = {
    .state_bytes = sizeof(ghost_state), .sets = ghost_chunks, .plan = ghost_plan,
    .forward = ghost_forward, .backward = ghost_backward};

/* Ghost batch norm (Hoffer et al. 2017): in training, batch statistics over
 * each virtual batch of `virtual_batch` samples, PyTorch's
 * [bn(chunk) for chunk in x.split(V)]. V must divide the training batch,
 * and every pass that takes batch statistics carries exactly that batch
 * (train-mode evaluation drops its short last batch), so the virtual batches
 * are equal. Eval mode is batch norm's. */
static nl_act *nl_ghost_batchnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const int batch = nl_builder_train_batch(b), v = spec->virtual_batch;
    if (v <= 0) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: ghost_batch needs model.norm.virtual_batch, the samples per "
                        "virtual batch (a divisor of train.batch_size %d)",
                        name, batch);
        nl_builder_key(b, "model.norm.virtual_batch");
        return NULL;
    }
    if (batch % v != 0) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: model.norm.virtual_batch %d does not divide train.batch_size "
                        "%d; use a divisor of the batch size",
                        name, v, batch);
        nl_builder_key(b, "model.norm.virtual_batch");
        return NULL;
    }
    return nl_batchnorm(b, name, in, spec);
}

const nl_norm_info nl_norm_row_ghost_batch = {
    {"ghost_batch", "Ghost batch norm (Hoffer et al. 2017): batch statistics per virtual batch in training"},
    .keys = NL_NORM_STATS_KEYS | NL_NORM_RUNNING_KEYS | NL_NORM_KEY_VIRTUAL_BATCH,
    .learned_shift = true, .center = true, .running_stats = true,
    .running_stats_default = true, .features = true, .images = true,
    .adds_layer = true, .color = "#e377c2", .build = nl_ghost_batchnorm,
    .stats_set = nl_ghost_batch_set,
    .training = &nl_ghost_batch_training,
};

/* Mean-only batch norm (Salimans & Kingma 2016, with weight normalization):
 * y = x - mean_c + beta_c, the batch mean per channel over N*H*W subtracted
 * and nothing divided, no gamma; a running mean (batch norm's momentum) for
 * eval mode, y = x - running_mean_c + beta_c. The batch norm ops do it with
 * a unit variance and eps 0, so that the rstd they take is exactly 1: the
 * apply and eval-mode forward subtract the mean alone, and the backward in
 * two steps (norm_backward_reduce / norm_backward_apply) with no dy * xhat
 * sum gives dx = dy - mean_c(dy), since no variance depends on x. The
 * running variance stays at its 1: it is the unit variance eval mode and
 * frozen training divide by. */
/* per channel: the batch variance norm_stats takes, then the unit one;
 * the backward's two sums, the second held at 0 */
typedef struct {
    float *var, *sum_dy, *no_dy_xhat;
} mean_only_state;

static void mean_only_plan(nl_stats_layer *l, nl_builder *b, size_t per_channel_bytes)
{
    mean_only_state *s = l->variant;
    float **buffers[] = {&s->var, &s->sum_dy, &s->no_dy_xhat};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        nl_builder_saved(b, (void **)buffers[i], per_channel_bytes);
}

/* the batch mean and the running mean's update (norm_stats moves the
 * running variance too, which is set back to 1), then x - mean + beta with
 * the unit variance, rstd 1 saved for the backward */
static void mean_only_forward(nl_stats_layer *l, const nl_pass *pass, const nl_norm_geom *g,
                              bool update)
{
    mean_only_state *s = l->variant;
    nl_backend *be = pass->be;
    const float *x = l->base.in[0]->data;
    be->ops->norm_stats(be, g, x, l->save_mean, s->var, update ? l->running_mean->data : NULL,
                        update ? l->running_var->data : NULL, pass->scalars + l->scalars);
    if (update)
        be->ops->fill(be, l->running_var->data, 1.0f, (size_t)g->c);
    be->ops->fill(be, s->var, 1.0f, (size_t)g->c);
    be->ops->norm_apply(be, g, x, l->save_mean, s->var, NULL, l->beta ? l->beta->data : NULL,
                        l->base.out->data, l->save_rstd);
}

static void mean_only_backward(nl_stats_layer *l, const nl_pass *pass, const nl_norm_geom *g)
{
    mean_only_state *s = l->variant;
    nl_backend *be = pass->be;
    const float *x = l->base.in[0]->data, *dy = l->base.out->grad;
    be->ops->norm_backward_reduce(be, g, x, dy, l->save_mean, l->save_rstd, s->sum_dy,
                                  s->no_dy_xhat);
    if (l->beta)
        be->ops->copy(be, l->beta->grad, s->sum_dy, (size_t)g->c);
    float *dx = l->base.in[0]->grad;
    if (!dx)
        return;
    be->ops->fill(be, s->no_dy_xhat, 0.0f, (size_t)g->c);
    be->ops->norm_backward_apply(be, g, x, dy, NULL, l->save_mean, l->save_rstd, s->sum_dy,
                                 s->no_dy_xhat, (double)g->n * g->hw, dx,
                                 l->base.accumulate_din[0]);
}

static const struct nl_stats_training mean_only_training = {
    .state_bytes = sizeof(mean_only_state), .no_gamma = true, .plan = mean_only_plan,
    .forward = mean_only_forward, .backward = mean_only_backward};

static nl_act *nl_mean_only_batchnorm(nl_builder *b, const char *name, nl_act *in,
                                      const nl_norm_spec *spec)
{
    nl_norm_spec mean_only = *spec;
    mean_only.eps = 0.0f; /* with the unit variance: rstd exactly 1 */
    return nl_batchnorm(b, name, in, &mean_only);
}

const nl_norm_info nl_norm_row_mean_only = {
    {"mean_only", "mean-only batch norm (Salimans & Kingma 2016): x - batch mean + beta per "
                  "channel, running mean for eval, no variance and no gamma"},
    .keys = NL_NORM_KEY_AFFINE | NL_NORM_RUNNING_KEYS | NL_NORM_KEY_STATS_PRECISION,
    .learned_shift = true, .center = true,
    .running_stats = true, .running_stats_default = true, .features = true, .images = true,
    .tokens = true, .adds_layer = true, .color = "#c5b0d5", .build = nl_mean_only_batchnorm,
    .stats_set = nl_batch_set, .training = &mean_only_training,
    .point = &(const nl_norm_point){.reduce = NL_REDUCE_BATCH, .center = true, .scale = NL_SCALE_NONE},
    .formula = {"x - running(mean(x, [batch])) + bias",
                "x - running(mean(x, [batch, tokens])) + bias",
                "x - running(mean(x, [batch, spatial])) + bias"},
    .formula_params = "bias = 0 per channel",
};
