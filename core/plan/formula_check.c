/* The finite-difference check of a formula normalizer's derived gradients
 * on the planned graph of its model (formula_check.h): each
 * distinct site of the graph's expr layers (input shape and layout, what
 * the fusion pass took into the layer, its nodes' storage types) rebuilt
 * alone as the plan gives it, at a small batch, against central
 * differences of a random projection of the output, taken in training
 * mode with the batch's statistics and the running ones untouched
 * (NL_MODE_TRAIN_FROZEN), so repeated forwards see one function.
 *
 * A sample's difference quotient is Richardson-extrapolated from steps h
 * and 2h, (4 D(h) - D(2h)) / 3, which leaves float rounding (1e-5 to 6e-4
 * of the largest gradient on the committed and registry formulas) where a
 * plain central difference at h leaves its curvature (1e-3 to 1e-2). A
 * sample past the bound is then looked at with a step of h / 4: where the
 * quotient changes with the step past the bound, or the one-sided
 * quotients disagree past noise by as much at h / 4 as at h with the
 * derived gradient between them, a tie of relu, abs, min or max lies
 * within the step (a kink): counted apart, never as an error. A fused
 * ReLU's outputs near its tie are left out of the projection (its kink is
 * not the formula's), and the formula unfused must be finite too (the
 * fused ReLU writes 0 for a NaN). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/formula_check.h"

#include "arch/arch.h"
#include "base/rng.h"
#include "norm/formula.h"
#include "norm/norm.h"
#include "plan/plan.h"

/* entries sampled per tensor: each costs four forwards, a kink two more */
#define SAMPLES 24
/* the batch the sites are checked at (at least 2, for reductions over it) */
#define BATCH 3
/* a fused ReLU's outputs below this are left out of the projection: a
 * step of 2h moves an output by about 0.1 at most on the check's input */
#define RELU_MARGIN 0.2f

/* ---- a site rebuilt as planned ---- */

typedef struct {
    nl_norm_spec norm;
    nl_shape in;              /* the planned layer's input */
    bool relu, add;           /* what the fusion pass took into it */
    const nl_model_spec *spec; /* the site's: its block and fusions */
} site_ctx;

/* the input as the layer's (a blocked one written by a 1x1 convolution
 * the check makes the identity), the formula, and the ReLU (and residual
 * add) after it, which the plan's passes fold and lay out as the model's */
static nl_act *site_graph(nl_builder *b, nl_act *input, void *ctx)
{
    const site_ctx *c = ctx;
    nl_norm_graph_ctx plain = {.norm = c->norm, .ndim = c->in.ndim};
    if (!c->in.block && !c->relu)
        return nl_norm_graph(b, input, &plain);
    input->needs_grad = 1;
    nl_act *x = input;
    if (c->in.ndim == 2)
        x = nl_flatten(b, "flat", input);
    else if (c->in.ndim == 3)
        x = nl_view(b, "tokens", input,
                    (nl_shape){.n = input->shape.n, .c = input->shape.h, .h = input->shape.c,
                               .w = 1, .ndim = 3});
    else if (c->in.block)
        x = nl_conv2d(b, "lift", input, c->in.c, 1, 1, 0, false, 1.0f);
    /* a residual add's shortcut: the input again, through an identity
     * 1x1 convolution of its own (in the block where the layer reads it) */
    nl_act *skip = c->add ? nl_conv2d(b, "skip", input, c->in.c, 1, 1, 0, false, 1.0f) : NULL;
    nl_act *y = x && (skip || !c->add) ? nl_norm(b, "norm", x, &c->norm) : NULL;
    if (y && c->add)
        y = nl_residual_add(b, "add", y, skip);
    if (y && c->relu)
        y = nl_activation_layer(b, "relu", y, NL_ACT_RELU);
    y = nl_plan_fuse_graph(b, c->spec, y);
    if (y && !nl_plan_layout_graph(b, c->spec))
        return NULL;
    return y;
}

static nl_layer *expr_layer_of(const nl_model *m)
{
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i]->vt->kind, "expr"))
            return m->layers[i];
    return NULL;
}

static const char *fused_of(const nl_layer *l) { return l->fused ? l->fused : ""; }

/* the lift and skip convolutions the identity, so that x reaches the
 * formula (and the add) as it is */
static void lift_identity(nl_model *m, nl_backend *be)
{
    for (int k = 0; k < m->n_params; k++) {
        nl_param *p = m->params[k];
        if (strcmp(p->name, "lift.weight") && strcmp(p->name, "skip.weight"))
            continue;
        const int c = p->dims[0];
        float *w = calloc(p->count, sizeof *w);
        if (!w)
            return;
        for (int i = 0; i < c; i++)
            w[(size_t)i * c + i] = 1.0f;
        be->ops->upload(be, p->data, w, p->count * sizeof *w);
        free(w);
    }
}

/* layer l of the planned graph alone, as the plan gives it (plain: NCHW
 * and nothing fused), on be */
static nl_code site_model(const nl_model *planned, const nl_layer *l, bool plain, nl_backend *be,
                          nl_model **out, nl_error *err)
{
    nl_shape in = l->in[0]->shape;
    if (plain)
        in.block = 0, in.value_store = in.grad_store = NL_STORAGE_FP32;
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = in.ndim == 3 ? in.h : in.c;
    spec.in_h = in.ndim == 3 ? in.c : in.ndim == 4 ? in.h : 1;
    spec.in_w = in.ndim == 4 ? in.w : 1;
    spec.channel_block = in.block;
    spec.device = NL_DEVICE_CPU;
    spec.fuse_relu_pool = false;
    spec.fuse_norm_relu = !plain && l->fused;
    spec.fuse_residual_add = !plain && l->fused && !strcmp(l->fused, "add+relu");
    site_ctx ctx = {.norm = planned->spec.norm, .in = in, .relu = spec.fuse_norm_relu,
                    .add = spec.fuse_residual_add, .spec = &spec};
    nl_model *g = NULL;
    nl_code rc = nl_model_assemble(&spec, false, NULL, BATCH, BATCH, site_graph, &ctx, false, &g, err);
    if (rc)
        return rc;
    nl_layer *site = expr_layer_of(g);
    if (!site || site->in[0]->shape.block != in.block ||
        strcmp(fused_of(site), plain ? "" : fused_of(l))) {
        nl_model_free(g);
        return nl_fail(err, NL_ERR_RUNTIME,
                       "the gradient check could not rebuild layer %s as the plan gives it "
                       "(channel block %d, fused '%s')", l->name, in.block, fused_of(l));
    }
    /* its nodes' storage types as planned */
    site->in[0]->shape.value_store = in.value_store;
    site->in[0]->shape.grad_store = in.grad_store;
    site->out->shape.value_store = plain ? NL_STORAGE_FP32 : l->out->shape.value_store;
    site->out->shape.grad_store = plain ? NL_STORAGE_FP32 : l->out->shape.grad_store;
    if (site->vt->typed)
        site->vt->typed(site);
    rc = nl_model_alloc(g, be, 7, out, err);
    if (rc == NL_OK)
        lift_identity(*out, be);
    return rc;
}

/* ---- finite differences ---- */

typedef struct {
    nl_model *m;
    nl_backend *be;
    const float *r;
    float *y;
    size_t count;
} probe;

/* sum(r * y) in double */
static double objective(const probe *p)
{
    nl_model_forward(p->m, BATCH, NL_MODE_TRAIN_FROZEN);
    const nl_shape s = p->m->logits->shape;
    if (s.value_store == NL_STORAGE_FP32) {
        p->be->ops->download(p->be, p->y, p->m->logits->data, p->count * sizeof *p->y);
    } else {
        const size_t bytes = p->count * nl_storage_bytes(s.value_store);
        void *raw = malloc(bytes);
        if (!raw)
            return NAN;
        p->be->ops->download(p->be, raw, p->m->logits->data, bytes);
        nl_storage_to_f32(s.value_store, raw, p->y, p->count);
        free(raw);
    }
    double sum = 0;
    for (size_t i = 0; i < p->count; i++)
        sum += (double)p->r[i] * p->y[i];
    return sum;
}

/* the first of count values not finite, or -1 */
static long first_nonfinite(const float *v, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(v[i]))
            return (long)i;
    return -1;
}

/* one tensor on the device and its host copy */
typedef struct {
    float *dev, *host;
    size_t count;
} tensor;

/* the objective with entry i moved by `by` (the move float makes of it in
 * *moved), the entry put back after */
static double moved_by(const probe *p, tensor *t, size_t i, double by, double *moved)
{
    const float v = t->host[i];
    t->host[i] = (float)((double)v + by);
    *moved = (double)t->host[i] - (double)v;
    p->be->ops->upload(p->be, t->dev, t->host, t->count * sizeof *t->host);
    const double f = objective(p);
    t->host[i] = v;
    p->be->ops->upload(p->be, t->dev, t->host, t->count * sizeof *t->host);
    return f;
}

/* the central difference quotient at step h, and the one-sided ones
 * (from f0, the objective unmoved) into up and down when given */
static double central(const probe *p, tensor *t, size_t i, double h, double f0, double *up,
                      double *down)
{
    double hp, hm;
    const double fp = moved_by(p, t, i, h, &hp), fm = moved_by(p, t, i, -h, &hm);
    if (up)
        *up = (fp - f0) / hp;
    if (down)
        *down = (f0 - fm) / -hm;
    return (fp - fm) / (hp - hm);
}

/* one sample: its entry and step, the extrapolated quotient, the derived
 * gradient, and the one-sided quotients at h */
typedef struct {
    size_t at;
    double h, fd, g, up, down;
} sample;

/* whether a sample past the bound lies within its step of a kink: the
 * quotient at h / 4 moves from the extrapolated one past the bound (a tie
 * between h / 4 and 2h away), or the one-sided quotients at h / 4 disagree
 * past noise, by as much as at h (curvature would make that four times
 * more), with the derived gradient between them (a tie within h / 4) */
static bool at_kink(const probe *p, tensor *t, const sample *s, double f0, double scale)
{
    double up, down;
    const double small = central(p, t, s->at, s->h / 4, f0, &up, &down);
    const double tol = NL_FORMULA_CHECK_BOUND * scale;
    if (fabs(small - s->fd) > tol)
        return true;
    const double jump = fabs(up - down), lo = fmin(up, down), hi = fmax(up, down);
    return jump > tol / 2 && fabs(s->up - s->down) < 2.5 * jump && s->g >= lo - tol / 2 &&
           s->g <= hi + tol / 2;
}

typedef struct {
    double worst;
    int kinks, samples;
} tensor_result;

/* the worst error of one tensor's sampled entries: max |fd - derived|
 * over max(|derived|) of the sample, the project's normalized error, kinks
 * apart; a value not finite (a derived gradient anywhere in the tensor, a
 * quotient at a sample) makes it NaN and says which in *nonfinite */
static tensor_result check_tensor(const probe *p, tensor t, const float *grad, double planted,
                                  uint64_t seed, const char *name, char *nonfinite, size_t size)
{
    tensor_result res = {0};
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_TEST);
    const int samples = t.count < SAMPLES ? (int)t.count : SAMPLES;
    float *g = malloc(t.count * sizeof *g);
    if (!(t.host = malloc(t.count * sizeof *t.host)) || !g) {
        free(t.host), free(g);
        return (tensor_result){.worst = INFINITY};
    }
    p->be->ops->download(p->be, t.host, t.dev, t.count * sizeof *t.host);
    p->be->ops->download(p->be, g, grad, t.count * sizeof *g);
    if (first_nonfinite(g, t.count) >= 0) {
        snprintf(nonfinite, size, "the derived gradient d%s", name);
        free(t.host), free(g);
        return (tensor_result){.worst = NAN};
    }
    const double f0 = objective(p);
    sample smp[SAMPLES];
    double scale = 0;
    for (int k = 0; k < samples; k++) {
        sample *s = &smp[k];
        s->at = t.count <= SAMPLES ? (size_t)k : nl_rng_below(&rng, (uint32_t)t.count);
        s->h = 1e-2 * fmax(1.0, fabs(t.host[s->at]));
        const double d1 = central(p, &t, s->at, s->h, f0, &s->up, &s->down);
        const double d2 = central(p, &t, s->at, 2 * s->h, f0, NULL, NULL);
        s->fd = (4 * d1 - d2) / 3;
        s->g = g[s->at] * (1.0 + planted);
        scale = fmax(scale, fabs(s->g));
    }
    scale = fmax(scale, 1e-6);
    for (int k = 0; k < samples; k++) {
        if (!isfinite(smp[k].fd)) {
            snprintf(nonfinite, size, "the central difference of d%s", name);
            res.worst = NAN;
            break;
        }
        const double e = fabs(smp[k].fd - smp[k].g) / scale;
        if (e > NL_FORMULA_CHECK_BOUND && at_kink(p, &t, &smp[k], f0, scale))
            res.kinks++;
        else if (e > res.worst)
            res.worst = e;
    }
    res.samples = samples;
    free(t.host), free(g);
    return res;
}

/* ---- the sites ---- */

/* the site's result with one tensor's: NaN stays the worst (`e > worst`
 * is false for it) */
static void merge(nl_formula_check *out, tensor_result t, const char *name)
{
    if (isnan(t.worst) || t.worst > out->worst) {
        out->worst = t.worst;
        snprintf(out->worst_of, sizeof out->worst_of, "%s", name);
    }
    if (t.kinks && !out->kinks)
        snprintf(out->kink_of, sizeof out->kink_of, "%s", name);
    out->kinks += t.kinks;
    out->samples += t.samples;
}

/* the site's input (random, mean 1.5 and sd 2, or the hooks' values
 * cycled) and the projection r; the formula's parameters off their starts,
 * so that a gain of 1 or a shift of 0 hides nothing */
static void fill(nl_model *m, nl_backend *be, const nl_formula_check_hooks *hooks, float *x,
                 float *r, size_t count)
{
    nl_rng rng;
    nl_rng_seed(&rng, 11, NL_STREAM_TEST);
    for (size_t i = 0; i < count; i++) {
        x[i] = 1.5f + 2.0f * (float)nl_rng_normal(&rng);
        if (hooks->x)
            x[i] = hooks->x[i % hooks->x_count];
        r[i] = (float)nl_rng_normal(&rng);
    }
    be->ops->upload(be, m->input->data, x, count * sizeof *x);
    for (int k = 0; k < m->n_params; k++) {
        nl_param *p = m->params[k];
        float *v = strncmp(p->name, "norm.", 5) ? NULL : malloc(p->count * sizeof *v);
        if (!v)
            continue;
        be->ops->download(be, v, p->data, p->count * sizeof *v);
        for (size_t i = 0; i < p->count; i++)
            v[i] += 0.25f * (float)nl_rng_normal(&rng);
        be->ops->upload(be, p->data, v, p->count * sizeof *v);
        free(v);
    }
}

/* A fused ReLU keeps a NaN but writes 0 for the formula's -infinity (and
 * its backward masks the gradient there), so the fused site can look
 * finite where the formula is not (-exp(100 * x)): the formula alone,
 * unfused, on the same input, must give finite values and derived
 * gradients too. "" or what was not finite into nonfinite. */
static nl_code finite_unfused(const nl_model *planned, const nl_layer *l, nl_backend *be,
                              const nl_formula_check_hooks *hooks, char *nonfinite, size_t size,
                              nl_error *err)
{
    nl_model *m = NULL;
    nl_code rc = site_model(planned, l, true, be, &m, err);
    if (rc)
        return rc;
    const size_t count = nl_shape_count(m->input->shape);
    float *x = malloc(count * sizeof *x), *r = malloc(count * sizeof *r),
          *y = malloc(count * sizeof *y);
    if (x && r && y) {
        fill(m, be, hooks, x, r, count);
        const probe p = {.m = m, .be = be, .r = r, .y = y, .count = count};
        objective(&p);
        if (first_nonfinite(y, count) >= 0) {
            snprintf(nonfinite, size, "the output before the fused ReLU");
        } else {
            nl_model_backward_from(m, BATCH, r);
            be->ops->download(be, y, m->input->grad, count * sizeof *y);
            if (first_nonfinite(y, count) >= 0)
                snprintf(nonfinite, size, "the derived gradient dx before the fused ReLU");
        }
    }
    free(x), free(r), free(y);
    nl_model_free(m);
    return x && r && y ? NL_OK : nl_fail(err, NL_ERR_NOMEM, "out of memory for the gradient check");
}

static nl_code check_site(const nl_model *planned, const nl_layer *l, nl_backend *be,
                          const nl_formula_check_hooks *hooks, nl_formula_check *out,
                          nl_error *err)
{
    nl_model *m = NULL;
    nl_code rc = site_model(planned, l, false, be, &m, err);
    if (rc)
        return rc;
    const size_t count = nl_shape_count(m->input->shape);
    float *x = malloc(count * sizeof *x), *r = malloc(count * sizeof *r),
          *y = malloc(count * sizeof *y);
    if (!x || !r || !y) {
        free(x), free(r), free(y);
        nl_model_free(m);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the gradient check");
    }
    fill(m, be, hooks, x, r, count);
    const probe p = {.m = m, .be = be, .r = r, .y = y, .count = count};
    objective(&p);
    /* a fused ReLU's own tie is no part of the formula: the outputs it
     * holds at 0 or that a step could take across it are left out of the
     * projection (their gradient is the ReLU's) */
    for (size_t i = 0; i < count && l->fused; i++)
        if (y[i] < RELU_MARGIN)
            r[i] = 0.0f;
    objective(&p);
    nl_model_backward_from(m, BATCH, r);
    *out = (nl_formula_check){.in = l->in[0]->shape};
    snprintf(out->layer, sizeof out->layer, "%s", l->name);
    snprintf(out->fused, sizeof out->fused, "%s", fused_of(l));
    snprintf(out->worst_of, sizeof out->worst_of, "x");
    if (first_nonfinite(y, count) >= 0) {
        /* nothing to compare: the formula's output itself is not finite */
        snprintf(out->nonfinite, sizeof out->nonfinite, "the output");
        out->worst = NAN;
    } else {
        merge(out, check_tensor(&p, (tensor){.dev = m->input->data, .count = count},
                                m->input->grad, hooks->planted_error, 21, "x", out->nonfinite,
                                sizeof out->nonfinite), "x");
    }
    for (int k = 0; k < m->n_params && !isnan(out->worst); k++) {
        nl_param *q = m->params[k];
        if (strncmp(q->name, "norm.", 5))
            continue;
        merge(out, check_tensor(&p, (tensor){.dev = q->data, .count = q->count}, q->grad,
                                hooks->planted_error, 31 + k, q->name + 5, out->nonfinite,
                                sizeof out->nonfinite), q->name + 5);
    }
    free(x), free(r), free(y);
    nl_model_free(m);
    if (l->fused && !out->nonfinite[0]) {
        rc = finite_unfused(planned, l, be, hooks, out->nonfinite, sizeof out->nonfinite, err);
        if (out->nonfinite[0])
            out->worst = NAN;
    }
    return rc;
}

/* whether layer l's site is one checked already */
static bool same_site(const nl_formula_check *c, const nl_layer *l)
{
    const nl_shape s = l->in[0]->shape;
    return c->in.ndim == s.ndim && c->in.c == s.c && c->in.h == s.h && c->in.w == s.w &&
           c->in.block == s.block && c->in.value_store == s.value_store &&
           c->in.grad_store == s.grad_store && !strcmp(c->fused, fused_of(l));
}

nl_code nl_formula_gradcheck(const nl_model *planned, nl_backend *be,
                             const nl_formula_check_hooks *hooks, nl_formula_check *checks,
                             int max_checks, int *n_checks, nl_error *err)
{
    static const nl_formula_check_hooks none = {0};
    *n_checks = 0;
    nl_code rc = NL_OK;
    /* a stop-gradient's derivative is 0 by its row, not the value's */
    const char *stop = NULL;
    nl_formula *f = NULL;
    nl_error parse_err = {0};
    if (nl_formula_parse(planned->spec.norm.expr, planned->spec.norm.params, &f, &parse_err) == NL_OK)
        stop = nl_formula_stops_gradient(f);
    for (int i = 0; i < planned->n_layers && !rc; i++) {
        const nl_layer *l = planned->layers[i];
        if (strcmp(l->vt->kind, "expr"))
            continue;
        bool seen = false;
        for (int k = 0; k < *n_checks; k++)
            seen |= same_site(&checks[k], l);
        if (seen || *n_checks >= max_checks)
            continue;
        nl_formula_check *c = &checks[(*n_checks)++];
        if (stop) {
            memset(c, 0, sizeof *c);
            snprintf(c->layer, sizeof c->layer, "%s", l->name);
            c->in = l->in[0]->shape;
            snprintf(c->fused, sizeof c->fused, "%s", fused_of(l));
            snprintf(c->skipped, sizeof c->skipped, "the formula's %s(...) has no gradient by "
                     "design, which central differences cannot see", stop);
            continue;
        }
        rc = check_site(planned, l, be, hooks ? hooks : &none, c, err);
    }
    nl_formula_free(f);
    return rc;
}
