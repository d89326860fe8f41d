#include "train/probe_varshift.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "dist/dist.h"
#include "train/channel_moments.h"
#include "train/probe.h"

static const nl_state *running_var_of(const nl_model *m, const nl_layer *layer)
{
    char name[sizeof layer->name + 16];
    snprintf(name, sizeof name, "%s.running_var", layer->name);
    return nl_model_state(m, name);
}

static int channels_of(const nl_layer *layer) { return layer->in[0]->shape.c; }

static int probed_layers(const nl_model *m)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (running_var_of(m, m->layers[i]))
            n++;
    return n;
}

/* NL_ERR_CONFIG naming train.log.variance_shift for a model (or planned
 * graph) without a normalizer with running statistics */
static nl_code check_model(const nl_model *graph, nl_error *err)
{
    if (probed_layers(graph) > 0)
        return NL_OK;
    nl_fail(err, NL_ERR_CONFIG, "true: the model has no normalizer with running statistics "
            "(model.norm.type %s); accepted for this model: false",
            nl_name_of(&nl_norm_names, graph->spec.norm.kind));
    nl_error_key(err, nl_probe_log_key_varshift);
    return NL_ERR_CONFIG;
}

nl_code nl_varshift_open(nl_varshift *v, const nl_model *m, nl_error *err)
{
    memset(v, 0, sizeof *v);
    int total_channels = 0;
    size_t widest = 0, widest_c = 0;
    nl_code rc = check_model(m, err);
    if (rc)
        return rc;
    v->n_layers = probed_layers(m);
    v->layers = nl_calloc((size_t)v->n_layers, sizeof *v->layers);
    v->running_var = nl_calloc((size_t)v->n_layers, sizeof *v->running_var);
    v->count = nl_calloc((size_t)v->n_layers, sizeof *v->count);
    v->ratio = nl_calloc((size_t)v->n_layers, sizeof *v->ratio);
    int k = 0;
    for (int i = 0; i < m->n_layers && v->layers; i++) {
        const nl_state *rv = running_var_of(m, m->layers[i]);
        if (!rv)
            continue;
        v->layers[k] = m->layers[i];
        v->running_var[k++] = rv;
        const nl_shape s = m->layers[i]->in[0]->shape;
        total_channels += s.c;
        if (nl_shape_count(s) > widest)
            widest = nl_shape_count(s);
        if ((size_t)s.c > widest_c)
            widest_c = (size_t)s.c;
    }
    v->channels = total_channels;
    v->sum = nl_calloc((size_t)total_channels, sizeof *v->sum);
    v->sum_sq = nl_calloc((size_t)total_channels, sizeof *v->sum_sq);
    v->host = nl_malloc(widest * sizeof *v->host);
    v->host_var = nl_malloc(widest_c * sizeof *v->host_var);
    if (!v->layers || !v->running_var || !v->count || !v->ratio || !v->sum || !v->sum_sq ||
        !v->host || !v->host_var) {
        nl_varshift_free(v);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory planning the variance-shift probe");
    }
    return NL_OK;
}

void nl_varshift_free(nl_varshift *v)
{
    free(v->layers);
    free(v->running_var);
    free(v->count);
    free(v->ratio);
    free(v->sum);
    free(v->sum_sq);
    free(v->host);
    free(v->host_var);
    memset(v, 0, sizeof *v);
}

void nl_varshift_begin(nl_varshift *v)
{
    memset(v->count, 0, (size_t)v->n_layers * sizeof *v->count);
    memset(v->sum, 0, (size_t)v->channels * sizeof *v->sum);
    memset(v->sum_sq, 0, (size_t)v->channels * sizeof *v->sum_sq);
}

void nl_varshift_add(nl_varshift *v, nl_model *m, int n)
{
    double *sum = v->sum, *sum_sq = v->sum_sq;
    for (int l = 0; l < v->n_layers; l++) {
        const nl_act *in = v->layers[l]->in[0];
        const nl_shape s = in->shape;
        /* value (sample i, row r, channel c, position p) sits at
         * ((i * rows + r) * C + c) * plane + p: images NCHW, tokens
         * row-major (backend/shape.h) */
        const int rows = nl_shape_rows_per_sample(s), plane = nl_shape_plane(s), c = s.c;
        m->be->ops->download(m->be, v->host, in->data,
                             (size_t)n * nl_shape_per_sample(s) * sizeof *v->host);
        nl_channel_moments_add(v->host, (long)n * rows, c, plane, s.block, sum, sum_sq);
        v->count[l] += (double)n * rows * plane;
        sum += c;
        sum_sq += c;
    }
}

void nl_varshift_finish(nl_varshift *v, nl_model *m)
{
    if (m->dist) {
        nl_dist_sum(m->dist, v->sum, v->channels);
        nl_dist_sum(m->dist, v->sum_sq, v->channels);
        nl_dist_sum(m->dist, v->count, v->n_layers);
    }
    const double *sum = v->sum, *sum_sq = v->sum_sq;
    for (int l = 0; l < v->n_layers; l++) {
        const int c = channels_of(v->layers[l]);
        m->be->ops->download(m->be, v->host_var, v->running_var[l]->data,
                             (size_t)c * sizeof *v->host_var);
        const double count = v->count[l];
        double total = 0.0;
        int used = 0;
        for (int ch = 0; ch < c && count > 0.0; ch++) {
            const double mean = sum[ch] / count;
            const double var = sum_sq[ch] / count - mean * mean;
            if (!(var > 0.0))
                continue; /* a channel constant over the test split (a dead ReLU) */
            total += (double)v->host_var[ch] / var;
            used++;
        }
        v->ratio[l] = used ? total / used : NAN;
        sum += c;
        sum_sq += c;
    }
}

/* ---- the probe's row (train/probe.h): at the evaluations, a pass of its
 * own over the evaluation split in eval mode, one series row per
 * normalizer ---- */

static nl_code varshift_open(void *self, const nl_probe_env *env, bool *on, nl_error *err)
{
    nl_varshift *v = self;
    const nl_code rc = nl_varshift_open(v, env->m, err);
    *on = v->n_layers > 0;
    return rc;
}

static nl_code varshift_check(const nl_probe_plan *plan, nl_error *err)
{
    return check_model(plan->graph, err);
}

static nl_code varshift_observe(void *self, const nl_probe_env *env, const nl_probe_at *at,
                                nl_error *err)
{
    (void)at, (void)err;
    nl_varshift *v = self;
    nl_varshift_begin(v);
    int mine;
    while (nl_feed_next_eval(env->feed, env->m, &mine) > 0)
        if (mine > 0) {
            nl_model_forward(env->m, mine, NL_MODE_EVAL);
            nl_varshift_add(v, env->m, mine);
        }
    nl_varshift_finish(v, env->m);
    return NL_OK;
}

static nl_code varshift_emit(const void *self, const nl_probe_env *env, long step, nl_error *err)
{
    const nl_varshift *v = self;
    const nl_train_sink *sink = env->sink;
    nl_code rc = NL_OK;
    for (int l = 0; l < v->n_layers && rc == NL_OK && sink->series; l++)
        rc = sink->series(sink->ctx, step, NL_SERIES_VARIANCE_SHIFT, l, v->layers[l]->name,
                          v->ratio[l], err);
    return rc;
}

static void varshift_close(void *self, nl_model *m)
{
    (void)m;
    nl_varshift_free(self);
}

static const nl_series_kind varshift_series[] = {NL_SERIES_VARIANCE_SHIFT, NL_SERIES_COUNT};

const nl_probe_kind nl_probe_varshift = {
    NL_PROBE_LOG_SWITCH(varshift), varshift_series, varshift_check, sizeof(nl_varshift),
    varshift_open, nl_probe_due_at_evaluations, varshift_observe, varshift_emit,
    varshift_close};
