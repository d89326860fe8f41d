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

struct nl_search_sample {
    const nl_search_probe *p;
    nl_formula_plan *plan;
    size_t count; /* floats of x at the probe batch */
    float *x, *xs, *y, *dy, *dx, *saved;
    float *y0, *x1; /* the degeneracy checks': an output kept, a second input */
    float *xc;      /* x centred along every axis: each of its means is 0 */
    void *work;
    float *params[NL_FORMULA_MAX_PARAMS], *dparams[NL_FORMULA_MAX_PARAMS];
    size_t param_count[NL_FORMULA_MAX_PARAMS];
    float *running[NL_FORMULA_MAX_RUNNING];
    int n_params, n_running;
};
typedef struct nl_search_sample buffers;

static void buffers_free(buffers *b)
{
    free(b->x), free(b->xs), free(b->y), free(b->dy), free(b->dx), free(b->saved), free(b->work);
    free(b->y0), free(b->x1), free(b->xc);
    for (int k = 0; k < NL_FORMULA_MAX_PARAMS; k++)
        free(b->params[k]), free(b->dparams[k]);
    for (int k = 0; k < NL_FORMULA_MAX_RUNNING; k++)
        free(b->running[k]);
    nl_formula_plan_free(b->plan);
}

/* x (n, c, p) centred along each axis in turn into xc: the mean along
 * one axis, taken away, leaves the means along the axes before it at 0,
 * so every mean (and sum) of xc over any axes is 0 to rounding, as
 * activations after a normalizer are centred: a division by a mean is
 * a division by 0 there */
static void centre(const float *x, float *xc, size_t n, size_t c, size_t p)
{
    const size_t dims[3] = {n, c, p}, strides[3] = {c * p, p, 1};
    memcpy(xc, x, n * c * p * sizeof *xc);
    for (int axis = 0; axis < 3; axis++) {
        const size_t len = dims[axis], stride = strides[axis];
        if (len < 2)
            continue; /* an axis of one: its mean is x itself, no statistic */
        for (size_t i = 0; i < n * c * p; i++) {
            if ((i / stride) % len != 0)
                continue; /* i is the first of its line along the axis */
            double sum = 0;
            for (size_t k = 0; k < len; k++)
                sum += xc[i + k * stride];
            for (size_t k = 0; k < len; k++)
                xc[i + k * stride] -= (float)(sum / (double)len);
        }
    }
}

/* the fixed tensors: x of mean 0.5 (off centre, so that a missing mean
 * shows), dy, and the parameters off their starts (a gain of exactly 1
 * would hide itself: gamma * x would behave as x) */
static bool buffers_make(buffers *b, const nl_search_probe *p, const nl_formula *f)
{
    b->p = p;
    b->count = (size_t)PROBE_BATCH * (size_t)p->in.c * (size_t)p->in.p;
    const size_t work = (nl_formula_plan_workspace_bytes(b->plan) + 63) & ~(size_t)63;
    b->x = malloc(b->count * sizeof *b->x), b->xs = malloc(b->count * sizeof *b->xs);
    b->y = malloc(b->count * sizeof *b->y), b->dy = malloc(b->count * sizeof *b->dy);
    b->dx = malloc(b->count * sizeof *b->dx);
    b->y0 = malloc(b->count * sizeof *b->y0), b->x1 = malloc(b->count * sizeof *b->x1);
    b->xc = malloc(b->count * sizeof *b->xc);
    b->saved = malloc((nl_formula_plan_saved_floats(b->plan) + 1) * sizeof *b->saved);
    b->work = aligned_alloc(64, work ? work : 64);
    bool ok = b->x && b->xs && b->y && b->dy && b->dx && b->saved && b->work && b->y0 && b->x1 && b->xc;
    nl_rng rng;
    nl_rng_seed(&rng, 117, NL_STREAM_TEST);
    for (size_t i = 0; ok && i < b->count; i++) {
        b->x[i] = 0.5f + (float)nl_rng_normal(&rng);
        b->dy[i] = (float)nl_rng_normal(&rng);
    }
    if (ok)
        centre(b->x, b->xc, PROBE_BATCH, (size_t)p->in.c, (size_t)p->in.p);
    b->n_params = nl_formula_param_count(f);
    for (int k = 0; ok && k < b->n_params; k++) {
        const nl_formula_param *q = nl_formula_param_at(f, k);
        b->param_count[k] = (size_t)nl_formula_param_count_of(b->plan, k);
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

/* forward at batch n on scale * src (x or another input), and backward
 * unless eval or forward_only */
static void pass_from(buffers *b, const float *src, int n, float scale, nl_formula_mode mode,
                      bool forward_only)
{
    for (size_t i = 0; i < b->count; i++)
        b->xs[i] = scale * src[i];
    nl_formula_io io = {.n = n, .x = b->xs, .y = b->y, .momentum = 0.1f, .saved = b->saved,
                        .workspace = b->work};
    for (int k = 0; k < b->n_params; k++)
        io.params[k] = b->params[k], io.dparams[k] = b->dparams[k];
    memcpy(io.running, b->running, sizeof io.running);
    nl_backend *be = b->p->be;
    be->ops->formula_forward(be, b->plan, mode, &io);
    if (mode == NL_FORMULA_EVAL || forward_only)
        return;
    io.dy = b->dy;
    io.dx = b->dx;
    be->ops->formula_backward(be, b->plan, mode, &io);
}

static void pass(const nl_search_probe *p, buffers *b, int n, float scale, nl_formula_mode mode)
{
    (void)p;
    pass_from(b, b->x, n, scale, mode, false);
}

static double largest(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = isfinite(v[i]) ? fmax(m, fabs(v[i])) : INFINITY;
    return m;
}

/* "" when the pass at (n, scale) is sound, else what is not; input names
 * the input where it is not x times the scale */
static void judge(const buffers *b, int n, float scale, const char *input, char *why, size_t size)
{
    char at[96];
    if (input)
        snprintf(at, sizeof at, "batch %d, %s", n, input);
    else
        snprintf(at, sizeof at, "batch %d, input scale %g", n, (double)scale);
    const size_t count = b->count / PROBE_BATCH * (size_t)n;
    const double dx = largest(b->dx, count), dy = largest(b->dy, count);
    const double bound = GRAD_BOUND * dy * (scale < 1 ? 1 / scale : 1);
    const char *what = !isfinite(largest(b->y, count)) ? "the output" : !isfinite(dx) ? "dx" : NULL;
    for (int k = 0; k < b->n_params && !what; k++)
        what = isfinite(largest(b->dparams[k], b->param_count[k])) ? NULL : "a parameter's gradient";
    if (what)
        snprintf(why, size, "%s is not finite (NaN or infinity) at %s", what, at);
    else if (dx > bound)
        snprintf(why, size, "dx reaches %.3g at %s: past the bound %.3g (%g times |dy|, over the "
                 "scale below 1)", dx, at, bound, GRAD_BOUND);
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

/* ---- the degeneracy checks (search.h's nl_search_checks) ---- */

/* the tolerance of "the same value": a part of the tensor's largest,
 * well above float rounding and far below what a statistic of the probe's
 * 128 values moves */
#define SAME 1e-5
/* |dx| under NO_GRAD |dy| (over the scale) is no gradient */
#define NO_GRAD 1e-6
/* a point off the line through a channel's extremes by more than this
 * part of the channel's largest output is not on it */
#define LINE 1e-3
/* the most times an output's largest may grow or shrink from input scale
 * 1 to 0.01 or 100 and still be normalized */
#define SIZE_KEPT 10
/* the most an output may move, as a part of its largest, and still be
 * the same at 100 times the input */
#define SCALE_MOVE 1e-2

static void check_collapsed(buffers *b, char *why, size_t size)
{
    pass_from(b, b->x, PROBE_BATCH, 1.0f, NL_FORMULA_TRAIN_KEEP, true);
    const size_t per = b->count / PROBE_BATCH;
    const double tol = SAME * largest(b->y, b->count);
    for (size_t n = 1; n < PROBE_BATCH; n++)
        for (size_t i = 0; i < per; i++)
            if (fabs((double)b->y[n * per + i] - (double)b->y[i]) > tol)
                return;
    snprintf(why, size, "the output is the same for every sample of the batch (to %g of its "
             "largest): what follows cannot tell its inputs apart", SAME);
}

static void check_no_gradient(buffers *b, char *why, size_t size)
{
    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        pass_from(b, b->x, PROBE_BATCH, scales[s], NL_FORMULA_TRAIN_KEEP, false);
        if (largest(b->dx, b->count) > NO_GRAD * largest(b->dy, b->count) / scales[s])
            return;
    }
    snprintf(why, size, "no gradient reaches x at input scales 1, 0.01 and 100 (|dx| under %g "
             "|dy| over the scale): the layers before it would never learn", NO_GRAD);
}

/* whether each output element reads its own input element alone: the
 * output where x is kept must not move when the other elements (those
 * with n + c + p odd, so that every reduction's set, over any axis of two
 * or more, holds both) are tripled. A reduction of x moves; an amax whose
 * largest element is kept may not, which lets it through (never a
 * statistic's formula rejected) */
static bool elementwise(buffers *b)
{
    const size_t c = (size_t)b->p->in.c, np = (size_t)b->p->in.p;
    pass_from(b, b->x, PROBE_BATCH, 1.0f, NL_FORMULA_TRAIN_KEEP, true);
    memcpy(b->y0, b->y, b->count * sizeof *b->y);
    for (size_t n = 0, i = 0; n < PROBE_BATCH; n++)
        for (size_t k = 0; k < c; k++)
            for (size_t q = 0; q < np; q++, i++)
                b->x1[i] = (n + k + q) % 2 ? 3 * b->x[i] : b->x[i];
    pass_from(b, b->x1, PROBE_BATCH, 1.0f, NL_FORMULA_TRAIN_KEEP, true);
    const double tol = SAME * fmax(largest(b->y0, b->count), largest(b->y, b->count));
    for (size_t n = 0, i = 0; n < PROBE_BATCH; n++)
        for (size_t k = 0; k < c; k++)
            for (size_t q = 0; q < np; q++, i++)
                if ((n + k + q) % 2 == 0 && fabs((double)b->y[i] - (double)b->y0[i]) > tol)
                    return false;
    return true;
}

static void check_elementwise(buffers *b, char *why, size_t size)
{
    if (elementwise(b))
        snprintf(why, size, "each output element reads its own input element alone (no statistic "
                 "of x): an activation, not a normalizer");
}

/* the points (input, output) of channel k at every scale, each within
 * LINE of the line through the two of the widest scale with the least
 * and the largest input */
static bool channel_on_line(buffers *b, size_t k, float *in, float *out)
{
    const size_t c = (size_t)b->p->in.c, np = (size_t)b->p->in.p;
    const size_t per = PROBE_BATCH * np, n_scales = sizeof scales / sizeof scales[0];
    size_t m = 0;
    for (size_t s = 0; s < n_scales; s++) {
        pass_from(b, b->x, PROBE_BATCH, scales[s], NL_FORMULA_TRAIN_KEEP, true);
        for (size_t n = 0; n < PROBE_BATCH; n++)
            for (size_t q = 0; q < np; q++, m++) {
                in[m] = b->xs[(n * c + k) * np + q];
                out[m] = b->y[(n * c + k) * np + q];
            }
    }
    size_t lo = 0, hi = 0, widest = 0;
    for (size_t s = 1; s < n_scales; s++)
        widest = scales[s] > scales[widest] ? s : widest;
    for (size_t i = widest * per; i < (widest + 1) * per; i++) {
        lo = in[i] < in[lo] || lo < widest * per ? i : lo;
        hi = in[i] > in[hi] || hi < widest * per ? i : hi;
    }
    if (in[hi] == in[lo])
        return false;
    const double a = ((double)out[hi] - out[lo]) / ((double)in[hi] - in[lo]);
    const double tol = LINE * largest(out, m);
    for (size_t i = 0; i < m; i++)
        if (fabs((double)out[lo] + a * ((double)in[i] - in[lo]) - out[i]) > tol)
            return false;
    return true;
}

static void check_affine(buffers *b, char *why, size_t size)
{
    const size_t points = sizeof scales / sizeof scales[0] * PROBE_BATCH * (size_t)b->p->in.p;
    float *in = malloc(points * sizeof *in), *out = malloc(points * sizeof *out);
    bool affine = in && out && elementwise(b);
    for (size_t k = 0; affine && k < (size_t)b->p->in.c; k++)
        affine = channel_on_line(b, k, in, out);
    free(in), free(out);
    if (affine)
        snprintf(why, size, "the output is a per-channel affine map of x (a x + b at input scales 1, "
                 "0.01 and 100): the next layer's weights absorb it, the model without a normalizer");
}

/* the output's largest at input scale 1 against scales 0.01 and 100: a
 * normalizer divides the input's size out, so its output keeps its size
 * (BN at 0.01 within 5 %: eps is 0.1 of the variance there) */
static void check_unnormalized(buffers *b, char *why, size_t size)
{
    double at[sizeof scales / sizeof scales[0]];
    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        pass_from(b, b->x, PROBE_BATCH, scales[s], NL_FORMULA_TRAIN_KEEP, true);
        at[s] = largest(b->y, b->count);
    }
    for (size_t s = 1; s < sizeof scales / sizeof scales[0]; s++)
        if (!(at[s] <= SIZE_KEPT * at[0] && at[0] <= SIZE_KEPT * at[s])) {
            snprintf(why, size, "the output's size follows the input's: its largest is %.3g at input "
                     "scale %g against %.3g at scale 1 (a normalizer's stays within %g times)", at[s],
                     (double)scales[s], at[0], (double)SIZE_KEPT);
            return;
        }
}

static void check_scale(buffers *b, char *why, size_t size)
{
    pass_from(b, b->x, PROBE_BATCH, 1.0f, NL_FORMULA_TRAIN_KEEP, true);
    memcpy(b->y0, b->y, b->count * sizeof *b->y);
    pass_from(b, b->x, PROBE_BATCH, 100.0f, NL_FORMULA_TRAIN_KEEP, true);
    const double tol = SCALE_MOVE * largest(b->y0, b->count);
    for (size_t i = 0; i < b->count; i++)
        if (fabs((double)b->y[i] - (double)b->y0[i]) > tol) {
            snprintf(why, size, "the output moves by more than %g of its largest when x is "
                     "multiplied by 100: not scale-invariant", SCALE_MOVE);
            return;
        }
}

const nl_search_check nl_search_checks[] = {
    {"collapsed", "the output is the same for every sample of the batch", true, check_collapsed},
    {"no_gradient", "no gradient reaches x at any of the probe's input scales", true, check_no_gradient},
    {"affine", "a per-channel affine map of x (x, gamma * x + beta): the model without a normalizer",
     true, check_affine},
    {"elementwise", "each output element reads its own input element alone: an activation, no "
                    "statistic (DyT is one)", true, check_elementwise},
    {"unnormalized", "the output's largest more than 10 times larger or smaller at input scale 0.01 or "
                     "100 than at 1 (x + mean(x, [batch]), mean-only BN)",
     true, check_unnormalized},
    {"scale", "the output changes when x is multiplied by 100 (EvoNorm-S0's does): off unless asked",
     false, check_scale},
};
const int nl_search_check_count = (int)(sizeof nl_search_checks / sizeof nl_search_checks[0]);

unsigned nl_search_checks_default(void)
{
    unsigned mask = 0;
    for (int i = 0; i < nl_search_check_count; i++)
        mask |= nl_search_checks[i].by_default ? 1u << i : 0;
    return mask;
}

nl_code nl_search_probe_run(const nl_search_probe *p, const nl_formula *f, unsigned checks,
                            nl_search_stage *stage, char *reason, size_t size, char hash[17], nl_error *err)
{
    buffers b = {0};
    nl_error perr = {0};
    *stage = NL_STAGE_NUMERICS;
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
            judge(&b, n, scales[s], NULL, reason, size);
        }
    if (!reason[0]) {
        pass_from(&b, b.xc, PROBE_BATCH, 1.0f, NL_FORMULA_TRAIN_KEEP, false);
        judge(&b, PROBE_BATCH, 1.0f, "an input of mean 0 along every axis", reason, size);
    }
    if (!reason[0]) {
        pass(p, &b, PROBE_BATCH, 1.0f, NL_FORMULA_EVAL);
        if (!isfinite(largest(b.y, b.count)))
            snprintf(reason, size, "the output in evaluation (running statistics at their starts) "
                     "is not finite");
    }
    if (!reason[0]) {
        /* the hash first, on the passes the first slice hashed after */
        snprintf(hash, 17, "%016llx", (unsigned long long)behaviour(p, &b));
        *stage = NL_STAGE_DEGENERATE;
    }
    char why[400] = "";
    for (int i = 0; !reason[0] && i < nl_search_check_count; i++)
        if (checks & (1u << i)) {
            nl_search_checks[i].check(&b, why, sizeof why);
            if (why[0])
                snprintf(reason, size, "%s: %s", nl_search_checks[i].name, why);
        }
    if (!reason[0])
        *stage = NL_STAGE_PASSED;
    buffers_free(&b);
    return NL_OK;
}
