/* The layer behind every normalizer that computes statistics: batch norm
 * (statistics per channel over N*H*W: groups 0 in the geometry) and the
 * per-sample ones (group, layer, instance, rms: groups of channels per
 * sample). They differ only in the geometry the norm ops take, so one
 * forward, one backward and one constructor serve them all; batch.c and
 * group.c keep the checks and the geometry of their kinds. A kind whose
 * training takes batch statistics otherwise (batch renorm, ghost batch
 * norm) brings its registry row's training hooks (stats_layer.h), which
 * this file runs without naming the kind. */
#include <math.h>
#include <stdio.h>

#include "base/precision.h"
#include "dist/dist.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "norm/stats_layer.h"
#include "norm/sync_merge.h"

typedef nl_stats_layer stats_layer;

static void sync_forward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g, bool update);
static void sync_backward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g);

static const float *self_input(const stats_layer *l) { return l->base.in[0]->data; }

static nl_norm_geom geom_at(const stats_layer *l, int n)
{
    nl_norm_geom g = l->geom;
    g.n = n * l->rows_per_sample;
    return g;
}

/* statistics sets per channel in a pass of n samples */
static int stat_sets(const stats_layer *l, int n)
{
    return l->training && l->training->sets ? l->training->sets(l, n) : 1;
}

/* The momentum of the next running-statistics update. While recalibrating
 * (`recalibrated` updates done since the reset, >= 0) the plain average from
 * the reset, as PyTorch's momentum=None after reset_running_stats(): the
 * first update replaces the old values. Otherwise (-1) the configured
 * momentum, or with momentum "cumulative" the plain average over every
 * update so far. */
float nl_stats_next_momentum(const nl_norm_spec *spec, long *batches_tracked, long recalibrated)
{
    if (recalibrated >= 0) {
        *batches_tracked = recalibrated + 1;
        return 1.0f / (float)*batches_tracked;
    }
    ++*batches_tracked;
    return spec->cumulative ? 1.0f / (float)*batches_tracked : spec->momentum;
}

static float next_momentum(stats_layer *l, long recalibrated)
{
    return nl_stats_next_momentum(&l->spec, &l->batches_tracked, recalibrated);
}

/* the pass normalizes with the running statistics as they stand
 * (evaluation, unless the point evaluates on the batch; training frozen: a
 * layer built without freezable cannot, nl_train refuses) */
static bool uses_running(const stats_layer *l, const nl_pass *pass)
{
    return l->running_mean &&
           ((pass->mode == NL_MODE_EVAL && !l->point.eval_batch) ||
            (l->frozen_consts && pass->mode == NL_MODE_RUNNING_STATS));
}

/* a training pass of a point that trains on the running statistics, which
 * the pass (when it updates them) moves first */
static bool trains_on_running(const stats_layer *l, const nl_pass *pass)
{
    return l->point.train_running && pass->mode != NL_MODE_EVAL;
}

/* the pass updates the running statistics */
static bool updates_running(const stats_layer *l, const nl_pass *pass)
{
    return l->running_mean && (pass->mode == NL_MODE_TRAIN || pass->mode == NL_MODE_RECALIBRATE);
}

/* The host half of the forward: the batches-tracked count and this pass's
 * per-step scalars, the momentum of each update (one per statistics set:
 * ghost batch norm updates once per virtual batch, as PyTorch's bn(chunk)
 * for chunk in x.split(V)), then the training hooks' own. */
static void stats_prepare(nl_layer *self, const nl_pass *pass)
{
    stats_layer *l = (stats_layer *)self;
    if (uses_running(l, pass))
        return;
    float *scalars = pass->scalars_host + l->scalars;
    if (updates_running(l, pass)) {
        const bool recalibrate = pass->mode == NL_MODE_RECALIBRATE;
        const int updates = stat_sets(l, pass->n);
        for (int k = 0; k < updates; k++)
            scalars[k] = next_momentum(l, recalibrate ? pass->recalibrated * updates + k : -1);
    }
    if (l->training && l->training->prepare)
        l->training->prepare(l, pass, scalars + l->momentum_slots);
}

/* The running statistics as the point normalizes with them (per channel):
 * the statistics themselves at the centred standard-deviation point, else
 * mapped by norm_to_point; *eps is 0 for a point that divides by nothing.
 * A map from the running statistics as they stand now. */
static void running_for_point(stats_layer *l, nl_backend *be, const float **mean,
                              const float **var, float *eps)
{
    *eps = l->point.scale == NL_SCALE_NONE ? 0.0f : l->geom.eps;
    if (!l->point_running) {
        *mean = l->running_mean->data;
        *var = l->running_var->data;
        return;
    }
    const int c = l->geom.c;
    be->ops->norm_to_point(be, c, l->point.center, l->point.scale, l->running_mean->data,
                           l->running_var->data, l->point_running, l->point_running + c);
    *mean = l->point_running;
    *var = l->point_running + c;
}

static void relu_epilogue(stats_layer *l, const nl_pass *pass, float *y);

/* y = (x - mean_c) * rstd_c * gamma_c + beta_c from the running statistics.
 * An output the plan stores as bf16 under a fused ReLU takes its epilogue
 * here, in fp32 in the workspace before it is rounded, as the fused
 * kernels do (true: the epilogue ran). */
static bool forward_running(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g)
{
    nl_backend *be = pass->be;
    const float *mean, *var;
    nl_norm_geom ge = *g;
    running_for_point(l, be, &mean, &var, &ge.eps);
    const bool stored = l->relu && g->io[NL_IO_Y] != NL_STORAGE_FP32;
    float *y = stored ? pass->workspace : l->base.out->data;
    if (stored)
        ge.io[NL_IO_Y] = NL_STORAGE_FP32;
    be->ops->norm_forward_eval(be, &ge, self_input(l), l->gamma ? l->gamma->data : NULL,
                               l->beta ? l->beta->data : NULL, mean, var, y);
    if (!stored)
        return false;
    relu_epilogue(l, pass, y);
    be->ops->round_to_storage(be, g->io[NL_IO_Y],
                              (size_t)pass->n * nl_shape_per_sample(l->base.out->shape), y,
                              l->base.out->data);
    return true;
}

/* The point's forward off the fused kernels: the centred statistics (and
 * the running ones' update), mapped to what the point subtracts and
 * divides by, then applied; the mean, shift and rstd stay for the
 * backward. */
static void forward_point(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g,
                          float *running_mean, float *running_var, const float *momentum)
{
    nl_backend *be = pass->be;
    nl_norm_geom centred = *g;
    centred.center = true;
    be->ops->norm_stats(be, &centred, self_input(l), l->save_mean, l->save_var, running_mean,
                        running_var, momentum);
    be->ops->norm_to_point(be, (int)nl_norm_stat_groups(g), l->point.center, l->point.scale,
                           l->save_mean, l->save_var, l->save_shift, l->save_var);
    if (l->point.scale == NL_SCALE_NONE)
        centred.eps = 0.0f; /* with the unit variance: rstd exactly 1 */
    be->ops->norm_apply(be, &centred, self_input(l), l->save_shift, l->save_var,
                        l->gamma ? l->gamma->data : NULL, l->beta ? l->beta->data : NULL,
                        l->base.out->data, l->save_rstd);
}

/* The output's fused epilogue where the pass's kernels did not take it:
 * the residual add and the ReLU as their own ops would compute them, in
 * place (the same bits) */
static void relu_epilogue(stats_layer *l, const nl_pass *pass, float *y)
{
    nl_backend *be = pass->be;
    const size_t count = (size_t)pass->n * nl_shape_per_sample(l->base.out->shape);
    if (l->base.n_in > 1)
        be->ops->add_forward(be, count, y, l->base.in[1]->data, y);
    be->ops->activation_forward(be, NL_ACT_RELU, count, y, y);
}

/* the pass's forward; true when its kernels applied the fused ReLU */
static bool forward_pass(nl_layer *self, const nl_pass *pass)
{
    stats_layer *l = (stats_layer *)self;
    nl_backend *be = pass->be;
    const float *gamma = l->gamma ? l->gamma->data : NULL;
    const float *beta = l->beta ? l->beta->data : NULL;
    const nl_norm_geom g = geom_at(l, pass->n);
    l->ran_frozen = uses_running(l, pass) && pass->mode == NL_MODE_RUNNING_STATS;
    if (uses_running(l, pass))
        return forward_running(l, pass, &g);
    const bool update = updates_running(l, pass);
    float *running_mean = update ? l->running_mean->data : NULL;
    float *running_var = update ? l->running_var->data : NULL;
    const float *momentum = pass->scalars + l->scalars; /* read only with running_mean */
    if (trains_on_running(l, pass)) {
        /* the batch moves the running statistics (its own statistics land
         * in the unfused buffers, unused), which then normalize it as
         * constants: the backward is the frozen one */
        if (update) {
            nl_norm_geom centred = g;
            centred.center = true;
            be->ops->norm_stats(be, &centred, self_input(l), l->save_mean, l->save_var,
                                running_mean, running_var, momentum);
        }
        forward_running(l, pass, &g);
        l->ran_frozen = true;
        return false;
    }
    if (l->training) {
        l->training->forward(l, pass, &g, update);
        return false;
    }
    if (l->spec.sync) {
        sync_forward(l, pass, &g, update);
        return false;
    }
    if (!l->fused) {
        forward_point(l, pass, &g, running_mean, running_var, momentum);
        return false;
    }
    if (l->relu) {
        be->ops->norm_forward_act(be, &g, self->in[0]->data, gamma, beta,
                                  self->n_in > 1 ? self->in[1]->data : NULL, self->out->data,
                                  l->save_mean, l->save_rstd, running_mean, running_var, momentum);
        return true;
    }
    be->ops->norm_forward(be, &g, self->in[0]->data, gamma, beta, self->out->data, l->save_mean,
                          l->save_rstd, running_mean, running_var, momentum);
    return false;
}

static void stats_forward(nl_layer *self, const nl_pass *pass)
{
    if (!forward_pass(self, pass) && ((stats_layer *)self)->relu)
        relu_epilogue((stats_layer *)self, pass, self->out->data);
}

/* The gradient of y = (x - mean) * rstd * gamma + beta with the running
 * statistics fixed (as the point takes them: mean and var below), from the
 * norm ops: the per-channel geometry's backward with them as the saved
 * ones gives dgamma and dbeta (dx not asked for), and the eval-mode
 * forward of dy with a zero mean and no beta gives dx = dy * rstd * gamma.
 * The statistics are mapped again from the running ones, which the
 * forward left as they are now. */
static void frozen_backward(stats_layer *l, const nl_pass *pass)
{
    nl_backend *be = pass->be;
    const int c = l->geom.c;
    float *ones = l->frozen_consts, *zeros = ones + c, *rstd = zeros + c;
    const float *mean, *var;
    float eps;
    running_for_point(l, be, &mean, &var, &eps);
    const nl_norm_geom channels = {.n = 1, .c = c, .hw = 1, .center = true, .eps = eps,
                                   .stats_precision = l->geom.stats_precision};
    be->ops->fill(be, ones, 1.0f, (size_t)c);
    be->ops->fill(be, zeros, 0.0f, (size_t)c);
    be->ops->norm_forward_eval(be, &channels, ones, NULL, NULL, zeros, var, rstd);
    nl_norm_geom g = geom_at(l, pass->n);
    g.groups = 0;
    g.center = true; /* the batch kernels' geometry; only dgamma and dbeta are asked of it */
    g.eps = eps;
    const float *x = l->base.in[0]->data, *dy = l->base.out->grad;
    const float *gamma = l->gamma ? l->gamma->data : NULL;
    if (l->gamma || l->beta)
        be->ops->norm_backward(be, &g, x, dy, gamma, mean, rstd, NULL, false,
                               l->gamma ? l->gamma->grad : NULL, l->beta ? l->beta->grad : NULL,
                               pass->workspace);
    float *dx = l->base.in[0]->grad;
    if (!dx)
        return;
    const bool accumulate = l->base.accumulate_din[0];
    float *to = accumulate ? (float *)pass->workspace : dx;
    be->ops->norm_forward_eval(be, &g, dy, gamma, NULL, zeros, var, to);
    if (accumulate)
        be->ops->pass_gradient(be, (size_t)g.n * c * g.hw, to, dx, true);
}

/* the fused ReLU's backward where the pass's kernels do not take it: dy
 * where the output is > 0, in place (the layer's output gradient is read
 * by nothing after it), and that to the residual add's other input */
static void relu_backward_first(stats_layer *l, const nl_pass *pass)
{
    nl_backend *be = pass->be;
    nl_layer *self = &l->base;
    const size_t count = (size_t)pass->n * nl_shape_per_sample(self->out->shape);
    be->ops->activation_backward(be, NL_ACT_RELU, count, self->out->data, self->out->grad,
                                 self->out->grad, false);
    if (self->n_in > 1 && self->in[1]->grad)
        be->ops->pass_gradient(be, count, self->out->grad, self->in[1]->grad,
                               self->accumulate_din[1]);
}

static void stats_backward(nl_layer *self, const nl_pass *pass)
{
    stats_layer *l = (stats_layer *)self;
    if (l->relu && (l->ran_frozen || l->training || l->spec.sync || !l->fused))
        relu_backward_first(l, pass);
    if (l->ran_frozen) {
        frozen_backward(l, pass);
        return;
    }
    const nl_norm_geom g = geom_at(l, pass->n);
    if (l->training) {
        l->training->backward(l, pass, &g);
        return;
    }
    if (l->spec.sync) {
        sync_backward(l, pass, &g);
        return;
    }
    if (!l->fused) {
        nl_norm_geom point = g;
        point.center = l->point.center;
        pass->be->ops->norm_backward_point(
            pass->be, &point, l->point.scale, self_input(l), self->out->grad,
            l->gamma ? l->gamma->data : NULL, l->save_shift, l->save_mean, l->save_rstd,
            self->in[0]->grad, self->accumulate_din[0], l->gamma ? l->gamma->grad : NULL,
            l->beta ? l->beta->grad : NULL, pass->workspace);
        return;
    }
    if (l->relu) {
        const bool skip = self->n_in > 1 && self->in[1]->grad;
        pass->be->ops->norm_backward_act(
            pass->be, &g, self->in[0]->data, self->out->data, self->out->grad,
            l->gamma ? l->gamma->data : NULL, l->save_mean, l->save_rstd, self->in[0]->grad,
            self->accumulate_din[0], skip ? self->in[1]->grad : NULL,
            skip && self->accumulate_din[1], l->gamma ? l->gamma->grad : NULL,
            l->beta ? l->beta->grad : NULL, pass->workspace);
        return;
    }
    pass->be->ops->norm_backward(pass->be, &g, self->in[0]->data, self->out->grad,
                                 l->gamma ? l->gamma->data : NULL, l->save_mean, l->save_rstd,
                                 self->in[0]->grad, self->accumulate_din[0],
                                 l->gamma ? l->gamma->grad : NULL,
                                 l->beta ? l->beta->grad : NULL, pass->workspace);
}

/* nl_layer_vtable.fuse_relu: any point, training rule and synchronization
 * takes the ReLU (the ops' fused kernels on the plain path, the activation
 * ops in place around the others) */
static bool stats_fuse_relu(nl_layer *self, nl_act *skip)
{
    return nl_layer_take_relu(self, &((stats_layer *)self)->relu, skip);
}

/* nl_layer_vtable.storage_io: its kernels read x and dy and write y and dx
 * in 16-bit storage, where its device runs them so, on the fused path
 * (norm_forward, _forward_act,
 * _forward_eval, _backward, _backward_act); the training hooks, the
 * synchronized and the frozen paths and the other points read fp32, and
 * so does a fused residual add's shortcut (in[1]). It rounds none of them
 * itself. */
static void stats_storage_io(const nl_layer *self, int input, nl_storage type, unsigned *takes,
                             unsigned *rounds)
{
    (void)type; /* its device answers for the type (backend_ops.def: runs) */
    const stats_layer *l = (const stats_layer *)self;
    *rounds = 0;
    *takes = input == 0 && l->fused && !l->training && !l->spec.sync &&
                     !l->point.train_running && !l->frozen_consts
                 ? NL_IO_MASK(NL_IO_X) | NL_IO_MASK(NL_IO_Y) | NL_IO_MASK(NL_IO_DX) |
                       NL_IO_MASK(NL_IO_DY)
                 : 0;
}

/* the kind names `show` and the tests see; [blocked]: the same on a
 * channel-blocked input (the plan's channel block), the norm family's ops
 * taking the block in the geometry */
/* the kernels' operand storage as the plan's precision pass stores the
 * activations */
static void stats_typed(nl_layer *self)
{
    stats_layer *l = (stats_layer *)self;
    l->geom.block = self->in[0]->shape.block;
    l->per_channel_geom.block = l->geom.block;
    nl_io_of(l->geom.io, self->in[0]->shape, self->out->shape);
}

/* nl_layer_vtable.family_of: statistics in a low precision run the
 * norm_lowp ops */
static nl_op_family stats_family(const nl_layer *self)
{
    return ((const stats_layer *)self)->geom.stats_precision == NL_PRECISION_FP32
               ? NL_OP_FAMILY_NORM
               : NL_OP_FAMILY_NORM_LOWP;
}

#define STATS_VTABLE(name)                                                                         \
    {.kind = name, .flops = nl_layer_flops_values, .forward = stats_forward,                      \
     .backward = stats_backward, .prepare = stats_prepare, .fuse_relu = stats_fuse_relu,          \
     .family = NL_OP_FAMILY_NORM, .family_of = stats_family, .storage_io = stats_storage_io, .typed = stats_typed}
static const nl_layer_vtable batchnorm_vtable = STATS_VTABLE("batchnorm");
static const nl_layer_vtable groupnorm_vtable = STATS_VTABLE("groupnorm");

nl_precision nl_norm_layer_stats_precision(const nl_layer *layer)
{
    if (layer->vt == &batchnorm_vtable || layer->vt == &groupnorm_vtable)
        return ((const stats_layer *)layer)->geom.stats_precision;
    return nl_frn_stats_precision(layer);
}

/* an output stored narrow whose evaluation applies a fused ReLU after the
 * running statistics' map needs that map's fp32 result (forward_running) */
static size_t stored_output_workspace(nl_backend *be, void *what)
{
    (void)be;
    const stats_layer *l = what;
    if (l->base.out->shape.value_store == NL_STORAGE_FP32 || !l->running_mean)
        return 0;
    return nl_shape_count(l->base.in[0]->shape) * sizeof(float);
}

nl_act *nl_stats_norm_layer(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                            nl_norm_geom geom, bool running_stats)
{
    return nl_stats_point_layer(b, name, in, spec, geom, running_stats, NULL);
}

/* the fused kernels compute the point: centred with the standard
 * deviation, or uncentred with the RMS over per-sample groups (the batch
 * kernels centre) where no running statistics are kept (uncentred, the
 * fused kernels keep no mean to average), training on the batch's
 * statistics */
static bool point_is_fused(const nl_stats_point *p, const nl_norm_geom *geom, bool running_stats)
{
    return !p->train_running &&
           (p->center ? p->scale == NL_SCALE_STD
                      : p->scale == NL_SCALE_RMS && geom->groups > 0 && !running_stats);
}

/* the layer's parameters and state: with affine, a scale gamma where the
 * point divides, and the row's shift (a custom point's where it centres);
 * the running statistics where kept */
static void plan_params(stats_layer *l, nl_builder *b, const char *name, int channels,
                        bool running_stats)
{
    const nl_norm_spec *spec = &l->spec;
    char pname[96];
    if (spec->affine && !(l->training && l->training->no_gamma) &&
        l->point.scale != NL_SCALE_NONE) {
        snprintf(pname, sizeof pname, "%s.weight", name);
        l->gamma = nl_builder_param(b, pname, 1, (int[]){channels}, true, NL_FILL_ONES, 0.0f);
    }
    if (nl_norm_has_shift(spec)) {
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
}

nl_act *nl_stats_point_layer(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                             nl_norm_geom geom, bool running_stats, const nl_stats_point *point)
{
    const int channels = in->shape.c;
    const nl_norm_info *info = nl_norm_info_of(spec->kind);
    /* sync: the host buffers live with the layer, after the training
     * hooks' state (both whole doubles, so each starts aligned) */
    const size_t host_bytes = spec->sync ? (2 * (size_t)channels + 1) * sizeof(double) +
                                               4 * (size_t)channels * sizeof(float)
                                         : 0;
    const size_t state_doubles =
        info->training ? (info->training->state_bytes + sizeof(double) - 1) / sizeof(double) : 0;
    stats_layer *l = nl_builder_layer_alloc(b, sizeof *l + state_doubles * sizeof(double) + host_bytes);
    l->spec = *spec;
    l->training = info->training;
    l->point = point ? *point
                     : (nl_stats_point){.center = geom.center,
                                        .scale = geom.center ? NL_SCALE_STD : NL_SCALE_RMS};
    l->fused = point_is_fused(&l->point, &geom, running_stats);
    double *trailing = (double *)(l + 1);
    if (state_doubles)
        l->variant = trailing;
    l->geom = geom;
    l->rows_per_sample = nl_shape_rows_per_sample(in->shape);
    l->geom.n = in->shape.n * l->rows_per_sample;
    plan_params(l, b, name, channels, running_stats);
    /* per channel (batch statistics, per statistics set of the pass), or
     * per sample and group */
    const size_t chunks = (size_t)stat_sets(l, in->shape.n);
    l->momentum_slots = running_stats ? (int)chunks : 0;
    l->scalars = nl_builder_scalars(b, l->momentum_slots + (l->training ? l->training->scalars : 0));
    const size_t stats =
        (geom.groups == 0 ? (size_t)channels * chunks : (size_t)l->geom.n * geom.groups) *
        sizeof(float);
    nl_builder_saved(b, (void **)&l->save_mean, stats);
    nl_builder_saved(b, (void **)&l->save_rstd, stats);
    const size_t per_channel = (size_t)channels * sizeof(float);
    if (l->training && l->training->plan)
        l->training->plan(l, b, per_channel);
    if (spec->sync) {
        nl_builder_saved(b, (void **)&l->sync.var, stats);
        nl_builder_saved(b, (void **)&l->sync.sum_dy, stats);
        nl_builder_saved(b, (void **)&l->sync.sum_dy_xhat, stats);
        l->sync.exchange = trailing + state_doubles;
        l->sync.host = (float *)(l->sync.exchange + 2 * (size_t)channels + 1);
    }
    nl_builder_norm_workspace(b, &l->geom);
    if (!l->fused || l->point.train_running) { /* train_running: its batch statistics' landing */
        nl_builder_saved(b, (void **)&l->save_shift, stats);
        nl_builder_saved(b, (void **)&l->save_var, stats);
        nl_builder_norm_point_workspace(b, &l->geom);
    }
    if (running_stats && !(l->point.center && l->point.scale == NL_SCALE_STD))
        nl_builder_saved(b, (void **)&l->point_running, 2 * (size_t)channels * sizeof(float));
    if (running_stats && (spec->freezable || l->point.train_running)) {
        nl_builder_saved(b, (void **)&l->frozen_consts, 3 * (size_t)channels * sizeof(float));
        l->per_channel_geom = l->geom;
        l->per_channel_geom.groups = 0;
        nl_builder_norm_workspace(b, &l->per_channel_geom);
        /* dx before it is added to a gradient already there */
        nl_builder_workspace(b, nl_shape_count(in->shape) * sizeof(float));
    }
    nl_act *out = nl_builder_act(b, name, in->shape);
    if (out)
        nl_builder_workspace_asked(b, stored_output_workspace, l);
    nl_layer_init(&l->base, geom.groups == 0 ? &batchnorm_vtable : &groupnorm_vtable, name, in,
                  NULL, out);
    if (geom.groups == 0 && !spec->sync)
        l->base.per_rank = "batch statistics over each rank's own slice of the batch";
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
 * the results are batch norm's.
 * With a low statistics precision (model.norm.stats_precision) each rank's
 * statistics come from the low-precision kernel, the merge (an exchange,
 * not a statistics kernel) runs in double as above, and its mean and
 * variance are rounded to the precision, as are the running statistics,
 * updated as the kernel updates them (cpu/norm_lowp.c). */

/* the merged statistics rounded to the precision (in place) */
static void sync_round(nl_precision precision, int c, float *mean, float *var)
{
    for (int ch = 0; ch < c; ch++) {
        mean[ch] = nl_round_to(precision, mean[ch]);
        var[ch] = nl_round_to(precision, var[ch]);
    }
}

/* the running statistics' update from the global statistics, rounded as
 * the low-precision kernel's: the unbiased variance, then each average */
static void sync_running_lowp(nl_precision precision, int c, double momentum, double unbiased,
                              const float *mean, const float *var, float *running_mean,
                              float *running_var)
{
    for (int ch = 0; ch < c; ch++) {
        const float batch_var = nl_round_to(precision, (float)((double)var[ch] * unbiased));
        running_mean[ch] = nl_round_to(
            precision, (float)fma(momentum, mean[ch], (1.0 - momentum) * running_mean[ch]));
        running_var[ch] = nl_round_to(
            precision, (float)fma(momentum, batch_var, (1.0 - momentum) * running_var[ch]));
    }
}

static void sync_forward(stats_layer *l, const nl_pass *pass, const nl_norm_geom *g, bool update)
{
    /* the running statistics are updated on the host here: the momentum
     * comes from the host image */
    const double momentum = update ? pass->scalars_host[l->scalars] : 0.0;
    nl_backend *be = pass->be;
    nl_sync_state *s = &l->sync;
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
        if (all) {
            count = nl_sync_merge_stats(all, nl_dist_size(pass->dist), c, mean_h, var_h);
            sync_round(g->stats_precision, c, mean_h, var_h);
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
    if (g->stats_precision != NL_PRECISION_FP32)
        sync_running_lowp(g->stats_precision, c, momentum, unbiased, mean_h, var_h, rm_h, rv_h);
    else
        for (int ch = 0; ch < c; ch++) {
            rm_h[ch] = (float)((1.0 - momentum) * rm_h[ch] + momentum * (double)mean_h[ch]);
            rv_h[ch] =
                (float)((1.0 - momentum) * rv_h[ch] + momentum * (double)var_h[ch] * unbiased);
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
    nl_sync_state *s = &l->sync;
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
