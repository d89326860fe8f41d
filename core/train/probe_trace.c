#include "train/probe_trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch/arch.h"
#include "train/probe.h"
#include "train/run_model.h"

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* the traced unit's values in n samples of the traced activation,
 * downloaded and appended to the values collected */
static void collect(nl_trace *t, nl_model *m, int n)
{
    const nl_shape s = t->act->shape;
    const size_t per_sample = nl_shape_per_sample(s), positions = (size_t)s.h * s.w;
    m->be->ops->download(m->be, t->host, t->act->data, (size_t)n * per_sample * sizeof(float));
    /* the unit's plane in each sample (its lane of each pixel in a
     * channel-blocked activation, nl_shape.block) */
    const nl_plane_at at = nl_plane_of(s.c, (int)positions, s.block, t->spec->unit);
    for (int i = 0; i < n; i++)
        for (size_t p = 0; p < positions; p++)
            t->values[t->count++] = t->host[(size_t)i * per_sample + at.first + p * at.step];
}

/* Percentiles (linear interpolation, numpy's default) of the values
 * collected */
static void take_percentiles(nl_trace *t)
{
    const size_t count = t->count;
    qsort(t->values, count, sizeof *t->values, compare_float);
    for (int k = 0; k < t->spec->n_percentiles; k++) {
        double pos = t->spec->percentiles[k] / 100.0 * (double)(count - 1);
        size_t lo = (size_t)floor(pos), hi = lo + 1 < count ? lo + 1 : lo;
        double frac = pos - (double)lo;
        t->percentiles[k] = t->values[lo] + frac * (t->values[hi] - t->values[lo]);
    }
}

/* the activations train.trace.activation may name, comma-separated */
static const char *accepted_names(const nl_model *graph, char *names, size_t size)
{
    size_t used = 0;
    names[0] = '\0';
    for (int i = 0; i < graph->n_acts && used + 64 < size; i++)
        if (nl_trace_accepts(graph->acts[i]))
            used += (size_t)snprintf(names + used, size - used, "%s%s", used ? ", " : "",
                                     graph->acts[i]->name);
    return names;
}

/* What the check refuses: the traced activation and unit against the
 * model's graph, and the samples against the test split (a count larger
 * than the split holds would be cut to it while the config kept the asked
 * value; the default is cut to a small test split, config/resolve.c warns,
 * and a resolved config.yaml holds it too: only another value is
 * refused). Fails err and returns the key to blame; NULL when accepted. */
static const char *refusal(const nl_probe_plan *plan, nl_error *err)
{
    const nl_trace_spec *tr = &plan->spec->trace;
    const nl_model *graph = plan->graph;
    char names[1024];
    if (nl_model_spec_tokens(&graph->spec)) {
        nl_fail(err, NL_ERR_CONFIG, "'%s': token models (model.arch %s) take no activation "
                "trace; accepted: \"\" (none)", tr->activation,
                nl_name_of(&nl_arch_names, graph->spec.arch));
        return "train.trace.activation";
    }
    const nl_act *act = nl_model_act(graph, tr->activation);
    if (!act) {
        /* a layer that reads an accepted activation, for the example */
        const char *example = NULL;
        for (int i = 0; i < graph->n_layers && !example; i++)
            if (graph->layers[i]->in[0] && nl_trace_accepts(graph->layers[i]->in[0]))
                example = graph->layers[i]->name;
        nl_fail(err, NL_ERR_CONFIG, "the model has no activation '%s'; accepted: %s (or "
                "<layer>.in for the input of a layer that reads one of them, e.g. %s.in)",
                tr->activation, accepted_names(graph, names, sizeof names),
                example ? example : "input");
        return "train.trace.activation";
    }
    /* the tracer reads a unit as a channel plane (NCHW); a token row
     * layout (N, T, D) would give it the wrong values */
    if (!nl_trace_accepts(act)) {
        nl_fail(err, NL_ERR_CONFIG, "'%s' holds tokens (N, T, D), which take no activation "
                "trace; accepted: %s", tr->activation, accepted_names(graph, names, sizeof names));
        return "train.trace.activation";
    }
    if (tr->unit >= act->shape.c) {
        nl_fail(err, NL_ERR_CONFIG, "%d is out of range: '%s' has %d %s; accepted: 0 to %d",
                tr->unit, tr->activation, act->shape.c,
                act->shape.h * act->shape.w > 1 ? "channels" : "features", act->shape.c - 1);
        return "train.trace.unit";
    }
    if (!plan->tokens && tr->mode == NL_TRACE_EVAL && tr->samples != NL_TRACE_DEFAULT_SAMPLES &&
        tr->samples > plan->test_n) {
        nl_fail(err, NL_ERR_CONFIG, "%d is more than the %ld test samples; accepted: at most %ld",
                tr->samples, plan->test_n, plan->test_n);
        return "train.trace.samples";
    }
    return NULL;
}

static nl_code trace_check(const nl_probe_plan *plan, nl_error *err)
{
    const char *key = refusal(plan, err);
    if (!key)
        return NL_OK;
    nl_error_key(err, key);
    return NL_ERR_CONFIG;
}

static void trace_close(void *self, nl_model *m)
{
    (void)m;
    nl_trace *t = self;
    free(t->values);
    free(t->host);
    t->values = NULL;
    t->host = NULL;
}

/* the traced activation and unit, and the buffers of one measurement */
static nl_code trace_open(void *self, const nl_probe_env *env, bool *on, nl_error *err)
{
    nl_trace *t = self;
    nl_model *m = env->m;
    const nl_train_spec *spec = env->spec;
    const nl_dataset *ds = env->feed->images;
    *on = false;
    if (!ds)
        return NL_OK;
    t->spec = &spec->trace;
    t->act = nl_model_act(m, spec->trace.activation);
    if (!t->act) {
        nl_fail(err, NL_ERR_CONFIG, "train.trace.activation: the model has no activation '%s'",
                spec->trace.activation);
        nl_error_key(err, "train.trace.activation");
        return NL_ERR_CONFIG;
    }
    if (spec->trace.unit >= t->act->shape.c) {
        nl_fail(err, NL_ERR_CONFIG,
                "train.trace.unit: %d is out of range; '%s' has %d features/channels",
                spec->trace.unit, spec->trace.activation, t->act->shape.c);
        nl_error_key(err, "train.trace.unit");
        return NL_ERR_CONFIG;
    }
    t->samples = spec->trace.samples < ds->test.n ? spec->trace.samples : (int)ds->test.n;
    /* train mode collects one training batch, at most the model's capacity */
    const int collected = spec->trace.mode == NL_TRACE_TRAIN ? m->capacity : t->samples;
    t->values = malloc((size_t)collected * t->act->shape.h * t->act->shape.w * sizeof(float));
    t->host = malloc((size_t)m->capacity * nl_shape_per_sample(t->act->shape) * sizeof(float));
    if (!t->values || !t->host)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for activation tracing");
    *on = true;
    return NL_OK;
}

/* at its cadence: eval mode between steps (a resumed run traced its first
 * step before the checkpoint), train mode in a step that has samples on
 * this rank */
static bool trace_due(const void *self, const nl_probe_env *env, const nl_probe_at *at)
{
    (void)env;
    const nl_trace *t = self;
    if (at->step % t->spec->every != 0)
        return false;
    if (t->spec->mode == NL_TRACE_TRAIN)
        return at->point == NL_PROBE_AFTER_FORWARD && at->mine > 0;
    return at->point == NL_PROBE_BETWEEN_STEPS && at->step != at->resumed_at;
}

static nl_code trace_observe(void *self, const nl_probe_env *env, const nl_probe_at *at,
                             nl_error *err)
{
    (void)err;
    nl_trace *t = self;
    nl_model *m = env->m;
    t->count = 0;
    if (t->spec->mode == NL_TRACE_TRAIN) {
        /* the activation as this step's forward left it, before the
         * backward pass may reuse its memory */
        collect(t, m, at->mine);
    } else {
        /* the first `samples` test images, in eval mode */
        const nl_split *test = &env->feed->images->test;
        const size_t input_per_sample = (size_t)test->c * test->h * test->w;
        const int batch = env->eval_batch;
        for (int start = 0; start < t->samples; start += batch) {
            int n = t->samples - start < batch ? t->samples - start : batch;
            nl_model_load_batch(m, test->x + (size_t)start * input_per_sample, test->y + start, n);
            nl_model_forward(m, n, NL_MODE_EVAL);
            collect(t, m, n);
        }
    }
    take_percentiles(t);
    return NL_OK;
}

static nl_code trace_emit(const void *self, const nl_probe_env *env, long step, nl_error *err)
{
    const nl_trace *t = self;
    const nl_train_sink *sink = env->sink;
    return sink->trace ? sink->trace(sink->ctx, step, t->percentiles, t->spec->n_percentiles, err)
                       : NL_OK;
}

static bool trace_on(const nl_train_spec *spec) { return spec->trace.activation[0] != '\0'; }

static const nl_series_kind trace_series[] = {NL_SERIES_COUNT}; /* trace.csv's rows */

const nl_probe_kind nl_probe_trace = {"train.trace.activation", trace_on, trace_series,
                                      trace_check, sizeof(nl_trace), trace_open, trace_due,
                                      trace_observe, trace_emit, trace_close};
