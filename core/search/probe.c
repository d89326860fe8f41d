/* The numerics probe and the behaviour hash of a candidate (internal.h):
 * its programs planned on a small input shaped as the base model's first
 * formula site (its channels and groups, its positions cut to a few) and
 * run forward and backward on fixed tensors, at three input scales and at
 * a tiny batch, with no model built and nothing trained: milliseconds,
 * which is what lets the search throw most candidates away before any
 * training. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "device/device.h"
#include "model/model.h"
#include "norm/formula.h"
#include "plan/plan.h"
#include "search/internal.h"
#include "train/run_model.h"

#include "backend/formula_program.h"

/* the probe's batch and the tiny one (two samples: the least a batch
 * statistic of a small-batch run sees), and the positions kept of an
 * image's or a sequence's */
enum { PROBE_BATCH = 8, TINY_BATCH = 2, PROBE_POSITIONS = 16 };
/* the input scales: a normalizer is meant to take any of them */
static const float scales[] = {1.0f, 1e-2f, 1e2f};
/* |dx| over |dy| a candidate may reach, times 1 / scale below scale 1 (a
 * normalizer's input gradient grows as its input shrinks): past it, a
 * division by a statistic near zero (x / var(x) without eps) */
#define GRAD_BOUND 1e4
/* the rounding of the behaviour hash: values as fractions of their
 * tensor's largest, to 1 part in ROUNDING */
#define ROUNDING 1e4

nl_code nl_search_probe_open(const nl_config *cfg, nl_search_probe *p, nl_error *err)
{
    memset(p, 0, sizeof *p);
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    const nl_plan_run run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    nl_model *graph = NULL;
    nl_code rc = nl_plan_graph(&spec, &run, &graph, err);
    if (rc)
        return rc;
    const nl_layer *site = NULL;
    for (int i = 0; i < graph->n_layers && !site; i++)
        if (!strcmp(graph->layers[i]->vt->kind, "expr"))
            site = graph->layers[i];
    const nl_shape in = site ? site->in[0]->shape : (nl_shape){0};
    nl_plan_graph_done(graph);
    if (!site)
        return nl_fail(err, NL_ERR_CONFIG, "the base model has no normalizer layer for a formula "
                       "(model.norm.placement puts none in it)");
    const int positions = in.ndim == 4 ? in.h * in.w : in.ndim == 3 ? in.h : 1;
    const int groups = cfg->model.norm.groups > 0 ? cfg->model.norm.groups : 1;
    p->in = (nl_formula_input){.ndim = in.ndim, .n_capacity = PROBE_BATCH, .c = in.c,
                               .p = positions < PROBE_POSITIONS ? positions : PROBE_POSITIONS,
                               .groups = groups, .threads = 1};
    p->eps = cfg->model.norm.eps;
    p->axes = (1u << NL_AXIS_BATCH) | (1u << NL_AXIS_CHANNELS) |
              (in.ndim == 4 ? 1u << NL_AXIS_SPATIAL : in.ndim == 3 ? 1u << NL_AXIS_TOKENS : 0);
    const nl_backend_options opt = {.threads = 1};
    return nl_backend_open(NL_DEVICE_CPU, &opt, &p->be, err);
}

void nl_search_probe_close(nl_search_probe *p)
{
    if (p->be)
        nl_backend_close(p->be);
    p->be = NULL;
}

/* ---- one candidate's buffers ---- */

typedef struct {
    nl_formula_plan *plan;
    size_t count; /* floats of x at the probe batch */
    float *x, *xs, *y, *dy, *dx, *saved;
    void *work;
    float *params[NL_FORMULA_MAX_PARAMS], *dparams[NL_FORMULA_MAX_PARAMS];
    size_t param_count[NL_FORMULA_MAX_PARAMS];
    float *running[NL_FORMULA_MAX_RUNNING];
    int n_params, n_running;
} buffers;

static void buffers_free(buffers *b)
{
    free(b->x), free(b->xs), free(b->y), free(b->dy), free(b->dx), free(b->saved), free(b->work);
    for (int k = 0; k < NL_FORMULA_MAX_PARAMS; k++)
        free(b->params[k]), free(b->dparams[k]);
    for (int k = 0; k < NL_FORMULA_MAX_RUNNING; k++)
        free(b->running[k]);
    nl_formula_plan_free(b->plan);
}

/* the fixed tensors: x of mean 0.5 (off centre, so that a missing mean
 * shows), dy, and the parameters off their starts (a gain of exactly 1
 * would hide itself: gamma * x would behave as x) */
static bool buffers_make(buffers *b, const nl_search_probe *p, const nl_formula *f)
{
    b->count = (size_t)PROBE_BATCH * (size_t)p->in.c * (size_t)p->in.p;
    const size_t work = (nl_formula_plan_workspace_bytes(b->plan) + 63) & ~(size_t)63;
    b->x = malloc(b->count * sizeof *b->x), b->xs = malloc(b->count * sizeof *b->xs);
    b->y = malloc(b->count * sizeof *b->y), b->dy = malloc(b->count * sizeof *b->dy);
    b->dx = malloc(b->count * sizeof *b->dx);
    b->saved = malloc((nl_formula_plan_saved_floats(b->plan) + 1) * sizeof *b->saved);
    b->work = aligned_alloc(64, work ? work : 64);
    bool ok = b->x && b->xs && b->y && b->dy && b->dx && b->saved && b->work;
    nl_rng rng;
    nl_rng_seed(&rng, 117, NL_STREAM_TEST);
    for (size_t i = 0; ok && i < b->count; i++) {
        b->x[i] = 0.5f + (float)nl_rng_normal(&rng);
        b->dy[i] = (float)nl_rng_normal(&rng);
    }
    b->n_params = nl_formula_param_count(f);
    for (int k = 0; ok && k < b->n_params; k++) {
        const nl_formula_param *q = nl_formula_param_at(f, k);
        b->param_count[k] = q->per_channel ? (size_t)p->in.c : 1;
        b->params[k] = malloc(b->param_count[k] * sizeof(float));
        b->dparams[k] = malloc(b->param_count[k] * sizeof(float));
        ok = b->params[k] && b->dparams[k];
        for (size_t i = 0; ok && i < b->param_count[k]; i++)
            b->params[k][i] = q->init + 0.25f * (float)nl_rng_normal(&rng);
    }
    b->n_running = nl_formula_plan_running_count(b->plan);
    for (int k = 0; ok && k < b->n_running; k++) {
        size_t count;
        float init;
        const char *what;
        nl_formula_plan_running_at(b->plan, k, &count, &init, &what);
        ok = (b->running[k] = malloc(count * sizeof(float))) != NULL;
        for (size_t i = 0; ok && i < count; i++)
            b->running[k][i] = init;
    }
    return ok;
}

/* forward (and, unless eval, backward) at batch n on scale * x */
static void pass(const nl_search_probe *p, buffers *b, int n, float scale, nl_formula_mode mode)
{
    for (size_t i = 0; i < b->count; i++)
        b->xs[i] = scale * b->x[i];
    nl_formula_io io = {.n = n, .x = b->xs, .y = b->y, .momentum = 0.1f, .saved = b->saved,
                        .workspace = b->work};
    for (int k = 0; k < b->n_params; k++)
        io.params[k] = b->params[k], io.dparams[k] = b->dparams[k];
    memcpy(io.running, b->running, sizeof io.running);
    p->be->ops->formula_forward(p->be, b->plan, mode, &io);
    if (mode == NL_FORMULA_EVAL)
        return;
    io.dy = b->dy;
    io.dx = b->dx;
    p->be->ops->formula_backward(p->be, b->plan, mode, &io);
}

static double largest(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = isfinite(v[i]) ? fmax(m, fabs(v[i])) : INFINITY;
    return m;
}

/* "" when the pass at (n, scale) is sound, else what is not */
static void judge(const buffers *b, int n, float scale, char *why, size_t size)
{
    const size_t count = b->count / PROBE_BATCH * (size_t)n;
    const double dx = largest(b->dx, count), dy = largest(b->dy, count);
    const double bound = GRAD_BOUND * dy * (scale < 1 ? 1 / scale : 1);
    const char *what = !isfinite(largest(b->y, count)) ? "the output" : !isfinite(dx) ? "dx" : NULL;
    for (int k = 0; k < b->n_params && !what; k++)
        what = isfinite(largest(b->dparams[k], b->param_count[k])) ? NULL : "a parameter's gradient";
    if (what)
        snprintf(why, size, "%s is not finite (NaN or infinity) at batch %d, input scale %g", what,
                 n, (double)scale);
    else if (dx > bound)
        snprintf(why, size, "dx reaches %.3g at batch %d, input scale %g: past the bound %.3g "
                 "(%g times |dy|, over the scale below 1)", dx, n, (double)scale, bound, GRAD_BOUND);
    else
        why[0] = '\0';
}

/* FNV-1a 64 of a tensor's values rounded as fractions of its largest,
 * and of the largest itself to 4 digits (y and 2y differ) */
static uint64_t hash_tensor(uint64_t h, const float *v, size_t n)
{
    const double m = largest(v, n);
    char scale[32];
    snprintf(scale, sizeof scale, "%.4g;", m);
    for (const char *s = scale; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    for (size_t i = 0; i < n; i++) {
        const long long q = m > 0 ? llround((double)v[i] / m * ROUNDING) : 0;
        for (int k = 0; k < 8; k++)
            h = (h ^ (unsigned char)((unsigned long long)q >> (8 * k))) * 0x100000001b3ULL;
    }
    return h;
}

/* the behaviour: output, dx and the parameters' gradients in training at
 * scale 1, and the output in evaluation (running statistics at their
 * starts), which tells running(var(...)) from var(...) */
static uint64_t behaviour(const nl_search_probe *p, buffers *b)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    pass(p, b, PROBE_BATCH, 1.0f, NL_FORMULA_TRAIN_KEEP);
    h = hash_tensor(h, b->y, b->count);
    h = hash_tensor(h, b->dx, b->count);
    for (int k = 0; k < b->n_params; k++)
        h = hash_tensor(h, b->dparams[k], b->param_count[k]);
    pass(p, b, PROBE_BATCH, 1.0f, NL_FORMULA_EVAL);
    return hash_tensor(h, b->y, b->count);
}

nl_code nl_search_probe_run(const nl_search_probe *p, const nl_formula *f, bool *ok, char *reason,
                            size_t size, char hash[17], nl_error *err)
{
    buffers b = {0};
    nl_error perr = {0};
    *ok = false;
    hash[0] = '\0';
    if (nl_formula_plan_make(f, p->in, p->eps, &b.plan, &perr) != NL_OK) {
        snprintf(reason, size, "its programs do not plan on the probe's input: %s", perr.msg);
        return NL_OK;
    }
    if (!buffers_make(&b, p, f)) {
        buffers_free(&b);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the numerics probe");
    }
    reason[0] = '\0';
    for (int s = 0; s < (int)(sizeof scales / sizeof scales[0]) && !reason[0]; s++)
        for (int n = PROBE_BATCH; n >= TINY_BATCH && !reason[0]; n = n == PROBE_BATCH ? TINY_BATCH : 0) {
            pass(p, &b, n, scales[s], NL_FORMULA_TRAIN_KEEP);
            judge(&b, n, scales[s], reason, size);
        }
    if (!reason[0]) {
        pass(p, &b, PROBE_BATCH, 1.0f, NL_FORMULA_EVAL);
        if (!isfinite(largest(b.y, b.count)))
            snprintf(reason, size, "the output in evaluation (running statistics at their starts) "
                     "is not finite");
    }
    if (!reason[0]) {
        *ok = true;
        snprintf(hash, 17, "%016llx", (unsigned long long)behaviour(p, &b));
    }
    buffers_free(&b);
    return NL_OK;
}
