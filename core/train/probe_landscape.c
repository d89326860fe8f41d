#include "train/probe_landscape.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "train/probe.h"

nl_code nl_landscape_open(nl_landscape *p, const nl_landscape_spec *spec, nl_model *m,
                          nl_error *err)
{
    memset(p, 0, sizeof *p);
    if (spec->every <= 0)
        return NL_OK;
    nl_backend *be = m->be;
    const size_t floats = m->param_floats ? m->param_floats : 1;
    const size_t states = m->state_floats ? m->state_floats : 1;
    const size_t partials = (size_t)(m->n_params ? m->n_params : 1) * NL_SUM_SQUARES_PARTS;
    const size_t coefficients = (size_t)spec->n_lr_multiples + 2;
    nl_code rc = be->ops->alloc(be, floats * sizeof(float), (void **)&p->weights, err);
    if (rc == NL_OK)
        rc = be->ops->alloc(be, floats * sizeof(float), (void **)&p->gradients, err);
    if (rc == NL_OK)
        rc = be->ops->alloc(be, states * sizeof(float), (void **)&p->states, err);
    if (rc == NL_OK)
        rc = be->ops->alloc(be, coefficients * sizeof(float), (void **)&p->coefficients, err);
    if (rc == NL_OK)
        rc = be->ops->alloc(be, partials * sizeof(double), (void **)&p->partials, err);
    if (rc == NL_OK) {
        p->host_coefficients = nl_calloc(coefficients, sizeof *p->host_coefficients);
        p->host_partials = nl_calloc(partials, sizeof *p->host_partials);
        if (!p->host_coefficients || !p->host_partials)
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory planning the landscape probe");
    }
    if (rc) {
        nl_landscape_free(p, m);
        return rc;
    }
    p->spec = spec;
    return NL_OK;
}

void nl_landscape_free(nl_landscape *p, nl_model *m)
{
    nl_backend *be = m->be;
    float *device[] = {p->weights, p->gradients, p->states, p->coefficients};
    for (size_t i = 0; i < sizeof device / sizeof device[0]; i++)
        if (device[i])
            be->ops->release(be, device[i]);
    if (p->partials)
        be->ops->release(be, p->partials);
    free(p->host_coefficients);
    free(p->host_partials);
    memset(p, 0, sizeof *p);
}

/* fmin and fmax, but a NaN (a diverged model) sticks */
static double lower(double a, double b) { return isnan(a) || isnan(b) ? NAN : fmin(a, b); }
static double higher(double a, double b) { return isnan(a) || isnan(b) ? NAN : fmax(a, b); }

bool nl_landscape_due(const nl_landscape *p, long step)
{
    return p->spec && step % p->spec->every == 0;
}

/* the L2 norm of `source` laid out as the parameter arena (every
 * parameter's floats at its offset there), padding left out */
static double arena_norm(nl_landscape *p, nl_model *m, const float *source)
{
    nl_backend *be = m->be;
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *param = m->params[i];
        be->ops->sum_squares(be, param->count, source + (param->data - m->param_arena),
                             p->partials + (size_t)i * NL_SUM_SQUARES_PARTS);
    }
    be->ops->download(be, p->host_partials, p->partials,
                      (size_t)m->n_params * NL_SUM_SQUARES_PARTS * sizeof(double));
    double sum = 0.0;
    for (size_t j = 0; j < (size_t)m->n_params * NL_SUM_SQUARES_PARTS; j++)
        sum += p->host_partials[j];
    return sqrt(sum);
}

/* each parameter (as `out`, laid out as the arena) = base + coefficient * g,
 * g the saved gradient: -g times the coefficient in one pass, then the add,
 * as w - eta*g rounds when eta*g is taken first */
static void along_gradient(nl_landscape *p, nl_model *m, const float *coefficient,
                           const float *base_arena, float *out_arena)
{
    nl_backend *be = m->be;
    const float *zero = p->coefficients + p->spec->n_lr_multiples + 1;
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *param = m->params[i];
        const size_t at = (size_t)(param->data - m->param_arena);
        be->ops->channel_affine_forward(be, 1, 1, (int)param->count, coefficient, zero,
                                        p->gradients + at, out_arena + at);
        be->ops->add_forward(be, param->count, out_arena + at, base_arena + at, out_arena + at);
    }
}

void nl_landscape_probe(nl_landscape *p, nl_model *m, int n, nl_mode mode, double lr,
                        double predictions)
{
    nl_backend *be = m->be;
    const int steps = p->spec->n_lr_multiples;
    const bool record_max_logit = m->record_max_logit;
    double metrics[2];
    m->record_max_logit = false;
    be->ops->copy(be, p->weights, m->param_arena, m->param_floats);
    be->ops->copy(be, p->gradients, m->grad_arena, m->param_floats);
    if (m->state_floats)
        be->ops->copy(be, p->states, m->state_arena, m->state_floats);
    /* this rank's counters as they are (the window's sums so far) */
    be->ops->download(be, metrics, m->metrics, sizeof metrics);
    for (int k = 0; k < steps; k++) {
        const float eta = (float)(p->spec->lr_multiples[k] * lr);
        p->step_size[k] = eta;
        p->host_coefficients[k] = -eta;
    }
    p->host_coefficients[steps] = -1.0f;
    p->host_coefficients[steps + 1] = 0.0f;
    be->ops->upload(be, p->coefficients, p->host_coefficients,
                    (size_t)(steps + 2) * sizeof *p->host_coefficients);
    p->grad_norm = arena_norm(p, m, p->gradients);
    p->loss_min = p->grad_pred_min = INFINITY;
    p->loss_max = p->grad_pred_max = p->beta_smoothness = -INFINITY;
    for (int k = 0; k < steps; k++) {
        along_gradient(p, m, p->coefficients + k, p->weights, m->param_arena);
        /* the step's kernels again: its per-step scalars (dropout masks,
         * noise draws, momentum) are still uploaded, and no host half runs
         * that would advance a count */
        nl_model_reset_metrics(m);
        nl_model_launch_forward(m, n, mode);
        nl_model_backward(m, n);
        nl_model_reduce_gradients(m, false);
        double seen[2];
        nl_model_read_metrics(m, seen);
        p->loss[k] = seen[0] / predictions;
        /* grad L_B(w - eta g) - g, in the parameter arena (put back below) */
        along_gradient(p, m, p->coefficients + steps, m->grad_arena, m->param_arena);
        p->grad_change[k] = arena_norm(p, m, m->param_arena);
        p->loss_min = lower(p->loss_min, p->loss[k]);
        p->loss_max = higher(p->loss_max, p->loss[k]);
        p->grad_pred_min = lower(p->grad_pred_min, p->grad_change[k]);
        p->grad_pred_max = higher(p->grad_pred_max, p->grad_change[k]);
        /* NaN at a zero step size or gradient (a warm-up from 0) */
        p->beta_smoothness = higher(p->beta_smoothness,
                                    p->grad_change[k] / (p->step_size[k] * p->grad_norm));
    }
    be->ops->copy(be, m->param_arena, p->weights, m->param_floats);
    be->ops->copy(be, m->grad_arena, p->gradients, m->param_floats);
    if (m->state_floats)
        be->ops->copy(be, m->state_arena, p->states, m->state_floats);
    be->ops->upload(be, m->metrics, metrics, sizeof metrics);
    m->record_max_logit = record_max_logit;
}

/* ---- the probe's row (train/probe.h): at its steps, on the step's batch
 * before the update; one row per step size tried and one per range ---- */

static nl_code landscape_open(void *self, const nl_probe_env *env, bool *on, nl_error *err)
{
    nl_landscape *p = self;
    const nl_code rc = nl_landscape_open(p, &env->spec->landscape, env->m, err);
    *on = p->spec != NULL;
    return rc;
}

static bool landscape_due(const void *self, const nl_probe_env *env, const nl_probe_at *at)
{
    return at->point == NL_PROBE_AFTER_GRADIENTS && env->sink->series &&
           nl_landscape_due(self, at->step);
}

static nl_code landscape_observe(void *self, const nl_probe_env *env, const nl_probe_at *at,
                                 nl_error *err)
{
    (void)err;
    /* the probe compares its own backward passes with the step's
     * gradients, which are unscaled by now: its passes go unscaled */
    nl_model *m = env->m;
    const float *loss_scale = m->loss_scale;
    m->loss_scale = NULL;
    nl_landscape_probe(self, m, at->mine, at->mode, at->lr, at->predictions);
    m->loss_scale = loss_scale;
    return NL_OK;
}

static nl_code landscape_emit(const void *self, const nl_probe_env *env, long step, nl_error *err)
{
    const nl_landscape *p = self;
    const nl_train_sink *sink = env->sink;
    nl_code rc = NL_OK;
    for (int k = 0; k < p->spec->n_lr_multiples && rc == NL_OK; k++) {
        char name[32];
        snprintf(name, sizeof name, "lr*%g", p->spec->lr_multiples[k]);
        rc = sink->series(sink->ctx, step, NL_SERIES_LANDSCAPE_STEP_SIZE, k, name,
                          p->step_size[k], err);
    }
    const struct {
        nl_series_kind kind;
        double value;
    } ranges[] = {{NL_SERIES_LOSS_MIN, p->loss_min}, {NL_SERIES_LOSS_MAX, p->loss_max},
                  {NL_SERIES_GRAD_PRED_MIN, p->grad_pred_min},
                  {NL_SERIES_GRAD_PRED_MAX, p->grad_pred_max},
                  {NL_SERIES_BETA_SMOOTHNESS, p->beta_smoothness}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0] && rc == NL_OK; i++)
        rc = sink->series(sink->ctx, step, ranges[i].kind, 0, "landscape", ranges[i].value, err);
    return rc;
}

static void landscape_close(void *self, nl_model *m) { nl_landscape_free(self, m); }

static bool landscape_on(const nl_train_spec *spec) { return spec->landscape.every > 0; }

static const nl_series_kind landscape_series[] = {
    NL_SERIES_LANDSCAPE_STEP_SIZE, NL_SERIES_LOSS_MIN,       NL_SERIES_LOSS_MAX,
    NL_SERIES_GRAD_PRED_MIN,       NL_SERIES_GRAD_PRED_MAX,  NL_SERIES_BETA_SMOOTHNESS,
    NL_SERIES_COUNT};

const nl_probe_kind nl_probe_landscape = {
    "train.log.landscape.every", landscape_on, landscape_series, NULL, sizeof(nl_landscape),
    landscape_open, landscape_due, landscape_observe, landscape_emit, landscape_close};
