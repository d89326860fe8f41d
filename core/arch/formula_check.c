/* The finite-difference check of a formula normalizer's derived gradients
 * on the shapes its model gives it (arch.h, nl_formula_gradcheck): each
 * distinct input shape of the model's expr layers, at a small batch,
 * against central differences of a random projection of the output,
 * taken in training mode with the batch's statistics and the running ones
 * untouched (NL_MODE_TRAIN_FROZEN), so repeated forwards see one function. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "base/rng.h"
#include "norm/formula.h"
#include "norm/norm.h"

/* entries sampled per tensor: central differences cost two forwards each */
#define SAMPLES 24

nl_act *nl_norm_graph(nl_builder *b, nl_act *input, void *ctx)
{
    const nl_norm_graph_ctx *c = ctx;
    input->needs_grad = 1;
    nl_act *x = input;
    if (c->ndim == 2)
        x = nl_flatten(b, "flat", input);
    else if (c->ndim == 3) /* (N, T, D) arrives as (N, T, D, 1) */
        x = nl_view(b, "tokens", input,
                    (nl_shape){.n = input->shape.n, .c = input->shape.h, .h = input->shape.c,
                               .w = 1, .ndim = 3});
    return nl_norm(b, "norm", x, &c->norm);
}

/* sum(r * y) in double */
static double objective(nl_model *m, nl_backend *be, int n, const float *r, float *y, size_t count)
{
    nl_model_forward(m, n, NL_MODE_TRAIN_FROZEN);
    be->ops->download(be, y, m->logits->data, count * sizeof *y);
    double s = 0;
    for (size_t i = 0; i < count; i++)
        s += (double)r[i] * y[i];
    return s;
}

/* the first of count values not finite, or -1 */
static long first_nonfinite(const float *v, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(v[i]))
            return (long)i;
    return -1;
}

/* the worst error of one tensor's sampled entries: max |fd - analytic|
 * over max(|analytic|) of the sample, the project's normalized error; a
 * value not finite (a derived gradient anywhere in the tensor, a central
 * difference at a sample) makes it NaN and says which in *nonfinite */
static double check_tensor(nl_model *m, nl_backend *be, int n, float *values, const float *grad,
                           size_t count, const float *r, float *y, size_t y_count,
                           uint64_t seed, const char *name, char *nonfinite, size_t nonfinite_size)
{
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_TEST);
    double worst = 0, scale = 0;
    const int samples = count < SAMPLES ? (int)count : SAMPLES;
    float *host = malloc(count * sizeof *host);
    float *g = malloc(count * sizeof *g);
    if (!host || !g) {
        free(host), free(g);
        return INFINITY;
    }
    be->ops->download(be, host, values, count * sizeof *host);
    be->ops->download(be, g, grad, count * sizeof *g);
    if (first_nonfinite(g, count) >= 0) {
        snprintf(nonfinite, nonfinite_size, "the derived gradient d%s", name);
        free(host), free(g);
        return NAN;
    }
    double diff[SAMPLES], an[SAMPLES];
    for (int s = 0; s < samples; s++) {
        const size_t i = count <= SAMPLES ? (size_t)s : nl_rng_below(&rng, (uint32_t)count);
        const float v = host[i];
        const float h = 1e-2f * fmaxf(1.0f, fabsf(v));
        host[i] = v + h;
        be->ops->upload(be, values, host, count * sizeof *host);
        const double up = objective(m, be, n, r, y, y_count);
        host[i] = v - h;
        be->ops->upload(be, values, host, count * sizeof *host);
        const double down = objective(m, be, n, r, y, y_count);
        host[i] = v;
        be->ops->upload(be, values, host, count * sizeof *host);
        diff[s] = (up - down) / (2.0 * h);
        an[s] = g[i];
        if (fabs(an[s]) > scale)
            scale = fabs(an[s]);
    }
    for (int s = 0; s < samples; s++) {
        if (!isfinite(diff[s])) {
            snprintf(nonfinite, nonfinite_size, "the central difference of d%s", name);
            worst = NAN;
            break;
        }
        const double e = fabs(diff[s] - an[s]) / (scale > 1e-6 ? scale : 1e-6);
        if (e > worst)
            worst = e;
    }
    free(host), free(g);
    return worst;
}

static nl_code check_shape(const nl_model_spec *model, nl_shape in, nl_backend *be,
                           nl_formula_check *out, nl_error *err)
{
    /* a small batch (at least 2, for reductions over it) of the layer's
     * own channels and positions */
    const int n = 3;
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    nl_norm_graph_ctx ctx = {.norm = model->norm, .ndim = in.ndim};
    spec.in_c = in.ndim == 3 ? in.h : in.c;
    spec.in_h = in.ndim == 3 ? in.c : in.ndim == 4 ? in.h : 1;
    spec.in_w = in.ndim == 4 ? in.w : 1;
    nl_model *m = NULL;
    nl_code rc = nl_model_build_graph(&spec, be, n, n, 7, nl_norm_graph, &ctx, &m, err);
    if (rc)
        return rc;
    const size_t count = (size_t)n * spec.in_c * spec.in_h * spec.in_w;
    float *x = malloc(count * sizeof *x), *r = malloc(count * sizeof *r),
          *y = malloc(count * sizeof *y);
    if (!x || !r || !y) {
        free(x), free(r), free(y);
        nl_model_free(m);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the gradient check");
    }
    nl_rng rng;
    nl_rng_seed(&rng, 11, NL_STREAM_TEST);
    for (size_t i = 0; i < count; i++) {
        x[i] = 1.5f + 2.0f * (float)nl_rng_normal(&rng);
        r[i] = (float)nl_rng_normal(&rng);
    }
    be->ops->upload(be, m->input->data, x, count * sizeof *x);
    /* the parameters off their starts, so that a gain of 1 or a shift of 0
     * hides nothing */
    for (int k = 0; k < m->n_params; k++) {
        nl_param *p = m->params[k];
        float *v = malloc(p->count * sizeof *v);
        if (!v)
            continue;
        be->ops->download(be, v, p->data, p->count * sizeof *v);
        for (size_t i = 0; i < p->count; i++)
            v[i] += 0.25f * (float)nl_rng_normal(&rng);
        be->ops->upload(be, p->data, v, p->count * sizeof *v);
        free(v);
    }
    objective(m, be, n, r, y, count);
    nl_model_backward_from(m, n, r);
    out->in = in;
    out->nonfinite[0] = '\0';
    snprintf(out->worst_of, sizeof out->worst_of, "x");
    if (first_nonfinite(y, count) >= 0) {
        /* nothing to compare: the formula's output itself is not finite */
        snprintf(out->nonfinite, sizeof out->nonfinite, "the output");
        out->worst = NAN;
    } else {
        out->worst = check_tensor(m, be, n, m->input->data, m->input->grad, count, r, y, count,
                                  21, "x", out->nonfinite, sizeof out->nonfinite);
    }
    /* a NaN stays the worst: `e > worst` is false for it */
    for (int k = 0; k < m->n_params && !isnan(out->worst); k++) {
        nl_param *p = m->params[k];
        const char *name = strchr(p->name, '.') + 1;
        const double e = check_tensor(m, be, n, p->data, p->grad, p->count, r, y, count, 31 + k,
                                      name, out->nonfinite, sizeof out->nonfinite);
        if (isnan(e) || e > out->worst) {
            out->worst = e;
            snprintf(out->worst_of, sizeof out->worst_of, "%s", name);
        }
    }
    free(x), free(r), free(y);
    nl_model_free(m);
    return NL_OK;
}

nl_code nl_formula_gradcheck(const nl_model_spec *spec, int train_batch, nl_backend *be,
                             nl_formula_check *checks, int max_checks, int *n_checks,
                             nl_error *err)
{
    *n_checks = 0;
    /* a stop-gradient's derivative is 0 by its row, not the value's */
    const char *stop = NULL;
    nl_formula *f = NULL;
    nl_error parse_err = {0};
    if (nl_formula_parse(spec->norm.expr, spec->norm.params, &f, &parse_err) == NL_OK)
        stop = nl_formula_stops_gradient(f);
    nl_model *plan = NULL;
    /* the expr layers' input shapes, which no pass of the plan changes */
    nl_code rc = nl_model_assemble(spec, nl_model_spec_tokens(spec), NULL, train_batch,
                                   train_batch, nl_arch_recipe, (void *)spec, true, &plan, err);
    if (rc)
        return rc;
    for (int i = 0; i < plan->n_layers && !rc; i++) {
        const nl_layer *l = plan->layers[i];
        if (strcmp(l->vt->kind, "expr"))
            continue;
        const nl_shape s = l->in[0]->shape;
        bool seen = false;
        for (int k = 0; k < *n_checks; k++)
            seen |= checks[k].in.ndim == s.ndim && checks[k].in.c == s.c &&
                    checks[k].in.h == s.h && checks[k].in.w == s.w;
        if (seen || *n_checks >= max_checks)
            continue;
        nl_formula_check *c = &checks[(*n_checks)++];
        snprintf(c->layer, sizeof c->layer, "%s", l->name);
        if (stop) {
            memset(c, 0, sizeof *c);
            snprintf(c->layer, sizeof c->layer, "%s", l->name);
            c->in = s;
            snprintf(c->skipped, sizeof c->skipped, "the formula's %s(...) has no gradient by "
                     "design, which central differences cannot see", stop);
            continue;
        }
        rc = check_shape(spec, s, be, c, err);
    }
    nl_formula_free(f);
    nl_model_free(plan);
    return rc;
}
