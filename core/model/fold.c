#include "model/fold.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm/registry.h"
#include "norm/stats_layer.h"

/* the layer that writes `act`, or NULL for the model's input */
static const nl_layer *producer_of(const nl_model *m, const nl_act *act)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->out == act)
            return m->layers[i];
    return NULL;
}

/* how many layers read `act` */
static int readers_of(const nl_model *m, const nl_act *act)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < m->layers[i]->n_in; k++)
            n += m->layers[i]->in[k] == act;
    return n;
}

/* a batch norm with running statistics: in eval mode a per-channel affine
 * map (stats_layer.c builds every such layer with this kind) */
static const nl_stats_layer *as_batchnorm(const nl_layer *l)
{
    if (strcmp(l->vt->kind, "batchnorm") != 0)
        return NULL;
    const nl_stats_layer *s = (const nl_stats_layer *)l;
    return s->running_mean && s->geom.groups == 0 ? s : NULL;
}

/* a plain linear or convolution layer: weight (out, ...) and, in the folded
 * model, a bias (out) */
static bool folds_into(const nl_layer *l)
{
    return l && (strcmp(l->vt->kind, "linear") == 0 || strcmp(l->vt->kind, "conv2d") == 0);
}

nl_code nl_fold_bn_spec(const nl_model *m, nl_model_spec *folded, int *n_folded, nl_error *err)
{
    const nl_norm_spec *norm = &m->spec.norm;
    const nl_norm_info *row = nl_norm_info_of(norm->kind);
    *n_folded = 0;
    if (!row->adds_layer)
        return nl_fail(err, NL_ERR_USAGE, "--fold-bn: the model has no normalizer to fold "
                       "(model.norm.type %s)", row->id.name);
    if (!nl_norm_keeps_running(norm))
        return nl_fail(err, NL_ERR_USAGE,
                       "--fold-bn: model.norm.type %s%s normalizes each sample with statistics "
                       "of its own in eval mode, which no fixed weight can hold; batch norm with "
                       "running statistics folds", row->id.name,
                       row->running_stats ? " without track_running_stats" : "");
    if (m->spec.weight_standardization)
        return nl_fail(err, NL_ERR_USAGE,
                       "--fold-bn: the model standardizes its weights "
                       "(model.weight_standardization), which would undo a folded scale");
    if (m->spec.param_norm.kind != NL_PARAM_NORM_NONE)
        return nl_fail(err, NL_ERR_USAGE,
                       "--fold-bn: the model's weights are transformed before use "
                       "(model.param_norm.type %s), which would undo a folded scale",
                       nl_name_of(&nl_param_norm_names, m->spec.param_norm.kind));
    for (int i = 0; i < m->n_layers; i++) {
        const nl_layer *l = m->layers[i];
        /* the folded model has no normalizer: a group-wise step beside the
         * batch norms (batch-channel norm's) would go with them */
        if (strcmp(l->vt->kind, "groupnorm") == 0)
            return nl_fail(err, NL_ERR_USAGE,
                           "--fold-bn: layer %s normalizes each sample with statistics of its "
                           "own in eval mode (model.norm.type %s), which no fixed weight can "
                           "hold; batch norm with running statistics folds", l->name, row->id.name);
        if (!as_batchnorm(l))
            continue;
        const nl_layer *before = producer_of(m, l->in[0]);
        const char *placement = nl_name_of(&nl_placement_names, norm->placement);
        if (!folds_into(before)) {
            char what[160];
            if (before)
                snprintf(what, sizeof what, "the output of %s (%s)", before->name, before->vt->kind);
            else
                snprintf(what, sizeof what, "the model's input");
            return nl_fail(err, NL_ERR_USAGE,
                           "--fold-bn: layer %s (batch norm) reads %s, not that of a linear or "
                           "convolution layer: it has no weight to fold into "
                           "(model.norm.placement %s); batch norm folds where it directly "
                           "follows one", l->name, what, placement);
        }
        if (readers_of(m, l->in[0]) != 1)
            return nl_fail(err, NL_ERR_USAGE,
                           "--fold-bn: layer %s (batch norm) follows %s, whose output another "
                           "layer also reads (model.norm.placement %s): folding would change "
                           "what that layer sees", l->name, before->name, placement);
        (*n_folded)++;
    }
    if (*n_folded == 0)
        return nl_fail(err, NL_ERR_USAGE, "--fold-bn: the model has no batch norm layer to fold");
    *folded = m->spec;
    folded->norm.kind = NL_NORM_NONE;
    /* the noise after each batch norm acts in training only, and it needs a
     * normalizer to follow: in eval mode the model is the same without it */
    folded->norm_noise.distribution = NL_NOISE_NONE;
    folded->bias = 1; /* every folded layer needs one; where none was, it is 0 */
    return NL_OK;
}

/* offsets of a parameter or state inside its arena */
static size_t param_at(const nl_model *m, const nl_param *p)
{
    return (size_t)(p->data - m->param_arena);
}
static size_t state_at(const nl_model *m, const nl_state *s)
{
    return (size_t)(s->data - m->state_arena);
}

/* the parameters of `m` by name into the folded model's host arena; a bias
 * the original lacks starts at 0 */
static nl_code carry_params(const nl_model *m, const float *params, const nl_model *folded,
                            float *out, nl_error *err)
{
    memset(out, 0, folded->param_floats * sizeof *out);
    for (int i = 0; i < folded->n_params; i++) {
        const nl_param *q = folded->params[i];
        const nl_param *p = nl_model_param(m, q->name);
        const size_t len = strlen(q->name);
        if (p && p->count == q->count)
            memcpy(out + param_at(folded, q), params + param_at(m, p), q->count * sizeof *out);
        else if (p || len < 5 || strcmp(q->name + len - 5, ".bias") != 0)
            return nl_fail(err, NL_ERR_RUNTIME, "--fold-bn: the folded model's parameter %s has "
                           "no counterpart in the original", q->name);
    }
    return NL_OK;
}

/* one batch norm folded into the weight and bias of the layer before it */
static nl_code fold_one(const nl_model *m, const nl_stats_layer *bn, const float *params,
                        const float *states, const nl_model *folded, float *out, nl_error *err)
{
    const nl_layer *before = producer_of(m, bn->base.in[0]);
    char name[96];
    snprintf(name, sizeof name, "%s.weight", before->name);
    const nl_param *w = nl_model_param(folded, name);
    snprintf(name, sizeof name, "%s.bias", before->name);
    const nl_param *b = nl_model_param(folded, name);
    const int channels = bn->geom.c;
    if (!w || !b || w->dims[0] != channels || (int)b->count != channels)
        return nl_fail(err, NL_ERR_RUNTIME, "--fold-bn: layer %s has no weight and bias of %d "
                       "output channels in the folded model", before->name, channels);
    const size_t per_channel = w->count / (size_t)channels;
    const float *mean = states + state_at(m, bn->running_mean);
    const float *var = states + state_at(m, bn->running_var);
    const float *gamma = bn->gamma ? params + param_at(m, bn->gamma) : NULL;
    const float *beta = bn->beta ? params + param_at(m, bn->beta) : NULL;
    float *weight = out + param_at(folded, w), *bias = out + param_at(folded, b);
    for (int c = 0; c < channels; c++) {
        const double s = (gamma ? gamma[c] : 1.0) / sqrt((double)var[c] + (double)bn->geom.eps);
        for (size_t k = 0; k < per_channel; k++)
            weight[(size_t)c * per_channel + k] = (float)(weight[(size_t)c * per_channel + k] * s);
        bias[c] = (float)(((double)bias[c] - mean[c]) * s + (beta ? beta[c] : 0.0));
    }
    return NL_OK;
}

nl_code nl_fold_bn_weights(const nl_model *m, nl_model *folded, nl_error *err)
{
    float *params = malloc((m->param_floats + m->state_floats + folded->param_floats + 1) *
                           sizeof *params);
    if (!params)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory folding batch norm");
    float *states = params + m->param_floats, *out = states + m->state_floats;
    nl_backend *be = m->be;
    be->ops->download(be, params, m->param_arena, m->param_floats * sizeof *params);
    be->ops->download(be, states, m->state_arena, m->state_floats * sizeof *states);
    nl_code rc = be->ops->synchronize(be, err);
    if (rc == NL_OK)
        rc = carry_params(m, params, folded, out, err);
    for (int i = 0; rc == NL_OK && i < m->n_layers; i++) {
        const nl_stats_layer *bn = as_batchnorm(m->layers[i]);
        if (bn)
            rc = fold_one(m, bn, params, states, folded, out, err);
    }
    if (rc == NL_OK) {
        folded->be->ops->upload(folded->be, folded->param_arena, out,
                                folded->param_floats * sizeof *out);
        rc = folded->be->ops->synchronize(folded->be, err);
    }
    free(params);
    return rc;
}
