#include "train/probe_trace.h"

#include <math.h>
#include <stdlib.h>

#include "train/probe.h"

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
    for (int i = 0; i < n; i++)
        for (size_t p = 0; p < positions; p++)
            t->values[t->count++] =
                t->host[(size_t)i * per_sample + (size_t)t->spec->unit * positions + p];
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
    if (!ds || !spec->trace.activation[0])
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

static const nl_series_kind trace_series[] = {NL_SERIES_COUNT}; /* trace.csv's rows */

const nl_probe_kind nl_probe_trace = {"train.trace.activation", trace_series, sizeof(nl_trace),
                                      trace_open, trace_due, trace_observe, trace_emit,
                                      trace_close};
