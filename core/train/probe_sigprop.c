#include "train/probe_sigprop.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "base/alloc.h"
#include "dist/dist.h"
#include "train/channel_moments.h"
#include "train/probe.h"

bool nl_sigprop_is_norm_layer(const nl_layer *layer)
{
    const char *last = strrchr(layer->name, '.');
    last = last ? last + 1 : layer->name;
    size_t len = strlen(last);
    if (len > 4 && strcmp(last + len - 4, "_out") == 0)
        len -= 4; /* a sandwich block's second normalizer */
    while (len > 0 && isdigit((unsigned char)last[len - 1]))
        len--;
    if (len < 4 || strncmp(last + len - 4, "norm", 4) != 0)
        return false;
    /* "norm" on its own or after an underscore: not "layernorm_noise" etc. */
    return len == 4 || last[len - 5] == '_';
}

static bool is_residual_add(const nl_layer *layer)
{
    return strcmp(layer->vt->kind, "residual_add") == 0;
}

/* the site a layer gives, if any: its output for a residual add, its
 * input for a normalizer */
static const nl_act *site_of(const nl_layer *layer, nl_sigprop_site_kind *kind)
{
    if (is_residual_add(layer)) {
        *kind = NL_SIGPROP_STREAM;
        return layer->out;
    }
    if (layer->n_in > 0 && nl_sigprop_is_norm_layer(layer)) {
        *kind = NL_SIGPROP_NORM_IN;
        return layer->in[0];
    }
    return NULL;
}

static int count_sites(const nl_model *m)
{
    int n = 0;
    nl_sigprop_site_kind kind;
    for (int i = 0; i < m->n_layers; i++)
        if (site_of(m->layers[i], &kind))
            n++;
    return n;
}

/* NL_ERR_CONFIG naming train.log.signal_propagation for a model (or
 * planned graph) of token ids, or one with neither a residual add nor a
 * normalizer */
static nl_code check_model(const nl_model *graph, nl_error *err)
{
    if (nl_model_spec_tokens(&graph->spec))
        nl_fail(err, NL_ERR_CONFIG, "true: the probe runs on image (or feature-vector) data, "
                "and this model reads token ids; accepted for this model: false");
    else if (count_sites(graph) == 0)
        nl_fail(err, NL_ERR_CONFIG, "true: the model has neither a residual block nor a "
                "normalizer (model.norm.type %s) to measure; accepted for this model: false",
                nl_name_of(&nl_norm_names, graph->spec.norm.kind));
    else
        return NL_OK;
    nl_error_key(err, "train.log.signal_propagation");
    return NL_ERR_CONFIG;
}

nl_code nl_sigprop_open(nl_sigprop *v, const nl_model *m, int batch, nl_error *err)
{
    memset(v, 0, sizeof *v);
    nl_code rc = check_model(m, err);
    if (rc)
        return rc;
    const int n = count_sites(m);
    v->n_sites = n;
    v->layers = nl_calloc((size_t)n, sizeof *v->layers);
    v->acts = nl_calloc((size_t)n, sizeof *v->acts);
    v->kind = nl_calloc((size_t)n, sizeof *v->kind);
    v->depth = nl_calloc((size_t)n, sizeof *v->depth);
    v->count = nl_calloc((size_t)n, sizeof *v->count);
    v->mean_sq = nl_calloc((size_t)n, sizeof *v->mean_sq);
    v->var = nl_calloc((size_t)n, sizeof *v->var);
    int k = 0, of_kind[NL_SIGPROP_SITE_KINDS] = {0};
    size_t widest = 0;
    for (int i = 0; i < m->n_layers && v->layers && v->acts && v->kind && v->depth; i++) {
        nl_sigprop_site_kind kind;
        const nl_act *act = site_of(m->layers[i], &kind);
        if (!act)
            continue;
        v->layers[k] = m->layers[i];
        v->acts[k] = act;
        v->kind[k] = kind;
        v->depth[k++] = of_kind[kind]++;
        v->channels += act->shape.c;
        if (nl_shape_per_sample(act->shape) > widest)
            widest = nl_shape_per_sample(act->shape);
    }
    v->sum = nl_calloc((size_t)v->channels, sizeof *v->sum);
    v->sum_sq = nl_calloc((size_t)v->channels, sizeof *v->sum_sq);
    v->host = nl_malloc((size_t)batch * widest * sizeof *v->host);
    if (!v->layers || !v->acts || !v->kind || !v->depth || !v->count || !v->mean_sq ||
        !v->var || !v->sum || !v->sum_sq || !v->host) {
        nl_sigprop_free(v);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory planning the signal-propagation probe");
    }
    return NL_OK;
}

void nl_sigprop_free(nl_sigprop *v)
{
    free(v->layers);
    free(v->acts);
    free(v->kind);
    free(v->depth);
    free(v->count);
    free(v->mean_sq);
    free(v->var);
    free(v->sum);
    free(v->sum_sq);
    free(v->host);
    memset(v, 0, sizeof *v);
}

void nl_sigprop_begin(nl_sigprop *v)
{
    memset(v->count, 0, (size_t)v->n_sites * sizeof *v->count);
    memset(v->sum, 0, (size_t)v->channels * sizeof *v->sum);
    memset(v->sum_sq, 0, (size_t)v->channels * sizeof *v->sum_sq);
}

void nl_sigprop_add(nl_sigprop *v, nl_model *m, int n)
{
    double *sum = v->sum, *sum_sq = v->sum_sq;
    for (int l = 0; l < v->n_sites; l++) {
        const nl_shape s = v->acts[l]->shape;
        /* value (sample i, channel c, position p) at (i * C + c) * plane + p
         * (backend/shape.h); token rows are refused by check_model */
        const int plane = nl_shape_plane(s), c = s.c;
        m->be->ops->download(m->be, v->host, v->acts[l]->data,
                             (size_t)n * nl_shape_per_sample(s) * sizeof *v->host);
        nl_channel_moments_add(v->host, n, c, plane, s.block, sum, sum_sq);
        v->count[l] += (double)n * plane;
        sum += c;
        sum_sq += c;
    }
}

void nl_sigprop_finish(nl_sigprop *v, nl_model *m)
{
    if (m->dist) {
        nl_dist_sum(m->dist, v->sum, (size_t)v->channels);
        nl_dist_sum(m->dist, v->sum_sq, (size_t)v->channels);
        nl_dist_sum(m->dist, v->count, (size_t)v->n_sites);
    }
    const double *sum = v->sum, *sum_sq = v->sum_sq;
    for (int l = 0; l < v->n_sites; l++) {
        const int c = v->acts[l]->shape.c;
        const double count = v->count[l];
        double mean_sq = 0.0, var = 0.0;
        for (int ch = 0; ch < c; ch++) {
            const double mean = sum[ch] / count;
            const double channel_var = sum_sq[ch] / count - mean * mean;
            mean_sq += mean * mean;
            /* rounding can leave a constant channel a hair below 0 */
            var += channel_var > 0.0 ? channel_var : 0.0;
        }
        v->mean_sq[l] = count > 0.0 ? mean_sq / c : NAN;
        v->var[l] = count > 0.0 ? var / c : NAN;
        sum += c;
        sum_sq += c;
    }
}

void nl_sigprop_measure(nl_sigprop *v, nl_model *m, const nl_split *train, int batch,
                        int batches)
{
    const long whole = train->n / batch;
    if (batches > whole)
        batches = whole > 0 ? (int)whole : 1;
    if (batch > train->n)
        batch = (int)train->n;
    const size_t per_sample = (size_t)train->c * train->h * train->w;
    nl_sigprop_begin(v);
    for (int k = 0; k < batches; k++) {
        int start, mine;
        nl_dist_slice(nl_dist_rank(m->dist), nl_dist_size(m->dist), batch, &start, &mine);
        const long first = (long)k * batch + start;
        if (mine > 0) {
            nl_model_load_batch(m, train->x + (size_t)first * per_sample, train->y + first,
                                mine);
            nl_model_forward(m, mine, NL_MODE_TRAIN_FROZEN);
            nl_sigprop_add(v, m, mine);
        }
    }
    nl_sigprop_finish(v, m);
}

/* ---- the probe's row (train/probe.h): at initialization (step 0 of a run
 * not resumed), one series row per site and statistic ---- */

static nl_code sigprop_open(void *self, const nl_probe_env *env, bool *on, nl_error *err)
{
    nl_sigprop *v = self;
    /* a token model is refused with the reason */
    const nl_code rc = env->feed->images ? nl_sigprop_open(v, env->m, env->spec->batch_size, err)
                                         : check_model(env->m, err);
    *on = v->n_sites > 0;
    return rc;
}

static bool sigprop_on(const nl_train_spec *spec) { return spec->log_signal_propagation; }

/* the model, then the batches against the training split: a count larger
 * than the split holds would be cut to it while the config kept the asked
 * value (a batch size larger than the split is the run's own error) */
static nl_code sigprop_check(const nl_probe_plan *plan, nl_error *err)
{
    const nl_train_spec *t = plan->spec;
    const nl_code rc = check_model(plan->graph, err);
    const long whole = plan->train_n / t->batch_size;
    if (rc != NL_OK || plan->tokens || whole == 0 || t->signal_propagation_batches <= whole)
        return rc;
    nl_fail(err, NL_ERR_CONFIG, "%d batches of train.batch_size %d are more than the %ld "
            "training samples hold; accepted: at most %ld", t->signal_propagation_batches,
            t->batch_size, plan->train_n, whole);
    nl_error_key(err, "train.log.signal_propagation_batches");
    return NL_ERR_CONFIG;
}

static bool sigprop_due(const void *self, const nl_probe_env *env, const nl_probe_at *at)
{
    (void)self, (void)env;
    return at->point == NL_PROBE_BETWEEN_STEPS && at->step == 0 && at->resumed_at < 0;
}

static nl_code sigprop_observe(void *self, const nl_probe_env *env, const nl_probe_at *at,
                               nl_error *err)
{
    (void)at, (void)err;
    nl_sigprop_measure(self, env->m, &env->feed->images->train, env->spec->batch_size,
                       env->spec->signal_propagation_batches);
    return NL_OK;
}

/* the two statistics' series of each kind of site */
static const nl_series_kind site_series[NL_SIGPROP_SITE_KINDS][2] = {
    [NL_SIGPROP_STREAM] = {NL_SERIES_SIGPROP_MEAN_SQ, NL_SERIES_SIGPROP_VAR},
    [NL_SIGPROP_NORM_IN] = {NL_SERIES_SIGPROP_NORM_IN_MEAN_SQ, NL_SERIES_SIGPROP_NORM_IN_VAR}};

static nl_code sigprop_emit(const void *self, const nl_probe_env *env, long step, nl_error *err)
{
    const nl_sigprop *v = self;
    const nl_train_sink *sink = env->sink;
    nl_code rc = NL_OK;
    for (int l = 0; l < v->n_sites && rc == NL_OK && sink->series; l++) {
        const nl_series_kind *k = site_series[v->kind[l]];
        rc = sink->series(sink->ctx, step, k[0], v->depth[l], v->layers[l]->name, v->mean_sq[l],
                          err);
        if (rc == NL_OK)
            rc = sink->series(sink->ctx, step, k[1], v->depth[l], v->layers[l]->name, v->var[l],
                              err);
    }
    return rc;
}

static void sigprop_close(void *self, nl_model *m)
{
    (void)m;
    nl_sigprop_free(self);
}

static const nl_series_kind sigprop_series[] = {
    NL_SERIES_SIGPROP_MEAN_SQ, NL_SERIES_SIGPROP_VAR, NL_SERIES_SIGPROP_NORM_IN_MEAN_SQ,
    NL_SERIES_SIGPROP_NORM_IN_VAR, NL_SERIES_COUNT};

const nl_probe_kind nl_probe_sigprop = {
    "train.log.signal_propagation", sigprop_on, sigprop_series, sigprop_check,
    sizeof(nl_sigprop), sigprop_open, sigprop_due, sigprop_observe, sigprop_emit, sigprop_close};
