#include "train/probe_steps.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/kinds.h"
#include "base/alloc.h"
#include "dist/dist.h"
#include "train/probe.h"

/* a recurrent layer (its kind a cell's name) whose output is the sequence */
static bool probed(const nl_layer *layer)
{
    return nl_name_lookup(&nl_rnn_cell_names, layer->vt->kind) >= 0 &&
           layer->out->shape.ndim == 3;
}

static int probed_layers(const nl_model *m)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        n += probed(m->layers[i]);
    return n;
}

/* NL_ERR_CONFIG naming train.log.step_norms for a model (or planned graph)
 * without a recurrent layer giving its whole sequence */
static nl_code check_model(const nl_model *graph, nl_error *err)
{
    if (probed_layers(graph) > 0)
        return NL_OK;
    nl_fail(err, NL_ERR_CONFIG, "true: the model (model.arch %s) has no recurrent layer giving "
            "its state at every step (rnn_lm's layers, or rnn's below the top one with "
            "model.layers 2 or more); accepted for this model: false",
            nl_name_of(&nl_arch_names, graph->spec.arch));
    nl_error_key(err, nl_probe_log_key_stepnorm);
    return NL_ERR_CONFIG;
}

nl_code nl_stepnorm_open(nl_stepnorm *p, const nl_model *m, nl_error *err)
{
    memset(p, 0, sizeof *p);
    nl_code rc = check_model(m, err);
    if (rc)
        return rc;
    p->n_layers = probed_layers(m);
    p->layers = nl_calloc((size_t)p->n_layers, sizeof *p->layers);
    size_t widest = 0;
    int k = 0;
    for (int i = 0; i < m->n_layers && p->layers; i++) {
        const nl_layer *layer = m->layers[i];
        if (!probed(layer))
            continue;
        p->layers[k++] = layer;
        /* the layers of one stack read one sequence: one length */
        p->steps = layer->out->shape.h;
        const size_t count = nl_shape_count(layer->out->shape);
        widest = count > widest ? count : widest;
    }
    p->sum = nl_calloc((size_t)p->n_layers * (size_t)p->steps, sizeof *p->sum);
    p->norm = nl_calloc((size_t)p->n_layers * (size_t)p->steps, sizeof *p->norm);
    p->host = nl_malloc(widest * sizeof *p->host);
    if (!p->layers || !p->sum || !p->norm || !p->host) {
        nl_stepnorm_free(p);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory planning the per-step probe");
    }
    return NL_OK;
}

void nl_stepnorm_free(nl_stepnorm *p)
{
    free(p->layers);
    free(p->sum);
    free(p->norm);
    free(p->host);
    memset(p, 0, sizeof *p);
}

void nl_stepnorm_begin(nl_stepnorm *p)
{
    p->count = 0.0;
    memset(p->sum, 0, (size_t)p->n_layers * (size_t)p->steps * sizeof *p->sum);
}

void nl_stepnorm_add(nl_stepnorm *p, nl_model *m, int n)
{
    for (int l = 0; l < p->n_layers; l++) {
        const nl_act *out = p->layers[l]->out;
        const int steps = out->shape.h, hidden = out->shape.c;
        /* (N, T, H) row-major: sample i's state at step t is row i * T + t */
        m->be->ops->download(m->be, p->host, out->data,
                             (size_t)n * steps * hidden * sizeof *p->host);
        double *sum = p->sum + (size_t)l * p->steps;
        for (int i = 0; i < n; i++)
            for (int t = 0; t < steps; t++) {
                const float *h = p->host + ((size_t)i * steps + t) * hidden;
                double sq = 0.0;
                for (int j = 0; j < hidden; j++)
                    sq += (double)h[j] * h[j];
                sum[t] += sqrt(sq);
            }
    }
    p->count += n;
}

void nl_stepnorm_finish(nl_stepnorm *p, nl_model *m)
{
    const int values = p->n_layers * p->steps;
    if (m->dist) {
        nl_dist_sum(m->dist, p->sum, values);
        nl_dist_sum(m->dist, &p->count, 1);
    }
    for (int k = 0; k < values; k++)
        p->norm[k] = p->count > 0.0 ? p->sum[k] / p->count : NAN;
}

/* ---- the probe's row (train/probe.h): at the evaluations, a pass of its
 * own over the evaluation split in eval mode, one series row per
 * recurrent layer and time step ---- */

static nl_code stepnorm_open(void *self, const nl_probe_env *env, bool *on, nl_error *err)
{
    nl_stepnorm *p = self;
    const nl_code rc = nl_stepnorm_open(p, env->m, err);
    *on = p->n_layers > 0;
    return rc;
}

static nl_code stepnorm_check(const nl_probe_plan *plan, nl_error *err)
{
    return check_model(plan->graph, err);
}

static nl_code stepnorm_observe(void *self, const nl_probe_env *env, const nl_probe_at *at,
                                nl_error *err)
{
    (void)at, (void)err;
    nl_stepnorm *p = self;
    nl_stepnorm_begin(p);
    int mine;
    while (nl_feed_next_eval(env->feed, env->m, &mine) > 0)
        if (mine > 0) {
            nl_model_forward(env->m, mine, NL_MODE_EVAL);
            nl_stepnorm_add(p, env->m, mine);
        }
    nl_stepnorm_finish(p, env->m);
    return NL_OK;
}

static nl_code stepnorm_emit(const void *self, const nl_probe_env *env, long step, nl_error *err)
{
    const nl_stepnorm *p = self;
    const nl_train_sink *sink = env->sink;
    nl_code rc = NL_OK;
    for (int l = 0; l < p->n_layers && rc == NL_OK && sink->series; l++)
        for (int s = 0; s < p->steps && rc == NL_OK; s++)
            rc = sink->series(sink->ctx, step, NL_SERIES_STEP_NORM, s, p->layers[l]->name,
                              p->norm[(size_t)l * p->steps + s], err);
    return rc;
}

static void stepnorm_close(void *self, nl_model *m)
{
    (void)m;
    nl_stepnorm_free(self);
}

static const nl_series_kind stepnorm_series[] = {NL_SERIES_STEP_NORM, NL_SERIES_COUNT};

const nl_probe_kind nl_probe_stepnorm = {
    NL_PROBE_LOG_SWITCH(stepnorm), stepnorm_series, stepnorm_check, sizeof(nl_stepnorm),
    stepnorm_open, nl_probe_due_at_evaluations, stepnorm_observe, stepnorm_emit,
    stepnorm_close};
