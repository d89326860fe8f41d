/* The normalization design space's equivalence check (norm_space.h): each
 * built-in that is a point of the space, built as itself and as custom
 * with its point's keys, must compute the same function. The two layers
 * share inputs, parameters and output gradients; what they give back is
 * compared at a normalized error of TOL. The built-ins at the fused
 * kernels' points run the same kernels as custom there, so those agree bit
 * for bit; mean-only batch norm (its own forward and backward) and custom's
 * two-step ops agree to rounding. */
#include "norm_space.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "model/model.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "testutil.h"

#define TOL 1e-6
#define STEPS 3


nl_act *tu_build_norm(nl_builder *b, nl_act *input, void *ctx)
{
    return nl_norm_graph(b, input, ctx);
}

/* the layer after its steps: what the comparison reads back */
typedef struct {
    float *y, *dx, *dgamma, *dbeta, *running_mean, *running_var, *y_eval;
    bool has_gamma, has_beta, has_running;
} outcome;

static float *read_back(nl_backend *be, const float *src, size_t count)
{
    float *host = malloc(count * sizeof *host);
    be->ops->download(be, host, src, count * sizeof *host);
    return host;
}

static void outcome_free(outcome *o)
{
    free(o->y);
    free(o->dx);
    free(o->dgamma);
    free(o->dbeta);
    free(o->running_mean);
    free(o->running_var);
    free(o->y_eval);
}

/* the input shape (N, C, H, W as the graph's input) of each layout: (N, D),
 * (N, T, D) stored as (N, T, D, 1), and (N, C, H, W) */
static void shape_of(int ndim, int *c, int *h, int *w)
{
    *c = ndim == 3 ? 4 : 6; /* tokens: T */
    *h = ndim == 2 ? 1 : ndim == 3 ? 6 : 5;
    *w = ndim == 4 ? 4 : 1;
}

static outcome run_layer(nl_backend *be, const tu_norm_ctx *ctx, const char *what)
{
    enum { N = 3 };
    int c, h, w;
    shape_of(ctx->ndim, &c, &h, &w);
    const int channels = ctx->ndim == 3 ? h : c;
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = c;
    spec.in_h = h;
    spec.in_w = w;
    nl_model *m = NULL;
    nl_error err = {0};
    tu_norm_ctx copy = *ctx;
    ck_assert_msg(nl_model_build_graph(&spec, be, N, N, 1, tu_build_norm, &copy, &m, &err) == NL_OK,
                  "%s: %s", what, err.msg);
    const size_t count = (size_t)N * c * h * w;
    float *x = malloc(count * sizeof *x), *dy = malloc(count * sizeof *dy);
    float *params = malloc((size_t)channels * sizeof *params);
    outcome o = {0};
    nl_param *gamma = nl_model_param(m, "norm.weight"), *beta = nl_model_param(m, "norm.bias");
    o.has_gamma = gamma != NULL;
    o.has_beta = beta != NULL;
    if (gamma) {
        tu_fill_uniform(params, (size_t)channels, 11, 0.5f, 1.5f);
        be->ops->upload(be, gamma->data, params, (size_t)channels * sizeof *params);
    }
    if (beta) {
        tu_fill_uniform(params, (size_t)channels, 12, -0.5f, 0.5f);
        be->ops->upload(be, beta->data, params, (size_t)channels * sizeof *params);
    }
    for (int step = 0; step < STEPS; step++) {
        /* offset from zero, so that centring and the RMS differ */
        tu_fill_normal(x, count, 100 + (uint64_t)step, 1.5f, 2.0f);
        be->ops->upload(be, m->input->data, x, count * sizeof *x);
        m->step = step;
        nl_model_forward(m, N, NL_MODE_TRAIN);
    }
    o.y = read_back(be, m->logits->data, count);
    tu_fill_normal(dy, count, 200, 0.0f, 1.0f);
    nl_model_backward_from(m, N, dy);
    o.dx = read_back(be, m->input->grad, count);
    if (gamma)
        o.dgamma = read_back(be, gamma->grad, (size_t)channels);
    if (beta)
        o.dbeta = read_back(be, beta->grad, (size_t)channels);
    nl_state *rm = nl_model_state(m, "norm.running_mean"), *rv = nl_model_state(m, "norm.running_var");
    o.has_running = rm != NULL;
    if (rm) {
        o.running_mean = read_back(be, rm->data, (size_t)channels);
        o.running_var = read_back(be, rv->data, (size_t)channels);
    }
    tu_fill_normal(x, count, 300, 1.5f, 2.0f);
    be->ops->upload(be, m->input->data, x, count * sizeof *x);
    nl_model_forward(m, N, NL_MODE_EVAL);
    o.y_eval = read_back(be, m->logits->data, count);
    ck_assert_msg(be->ops->synchronize(be, &err) == NL_OK, "%s: %s", what, err.msg);
    free(x);
    free(dy);
    free(params);
    nl_model_free(m);
    return o;
}

/* the custom spec with `row`'s point on an input of ndim, from the
 * built-in's spec */
static nl_norm_spec custom_of(const nl_norm_info *row, const nl_norm_spec *builtin, int ndim)
{
    nl_norm_spec s = *builtin;
    const nl_norm_spec defaults = s;
    nl_norm_spec_defaults(&s, NL_NORM_CUSTOM);
    s.eps = defaults.eps;
    s.momentum = defaults.momentum;
    s.cumulative = defaults.cumulative;
    s.affine = defaults.affine;
    s.reduce = row->point->reduce[nl_norm_layout_index(ndim)];
    s.center = row->point->center;
    s.scale = row->point->scale;
    s.train_stats = row->point->train_stats;
    s.eval_stats = nl_norm_keeps_running(builtin) ? NL_STATS_RUNNING : NL_STATS_BATCH;
    s.groups = (row->keys & NL_NORM_KEY_GROUPS) ? builtin->groups : 1;
    return s;
}

static void compare(const outcome *a, const outcome *b, size_t count, int channels,
                    bool running_var, const char *what)
{
    char msg[256];
#define SAME(field, n, label)                                                                      \
    do {                                                                                           \
        snprintf(msg, sizeof msg, "%s: %s", what, label);                                          \
        tu_assert_close(b->field, a->field, (n), TOL, msg);                                        \
    } while (0)
    ck_assert_msg(a->has_gamma == b->has_gamma && a->has_beta == b->has_beta,
                  "%s: affine parameters (gamma %d/%d, beta %d/%d)", what, a->has_gamma,
                  b->has_gamma, a->has_beta, b->has_beta);
    ck_assert_msg(a->has_running == b->has_running, "%s: running statistics %d/%d", what,
                  a->has_running, b->has_running);
    SAME(y, count, "forward (train)");
    SAME(dx, count, "dx");
    if (a->has_gamma)
        SAME(dgamma, (size_t)channels, "dgamma");
    if (a->has_beta)
        SAME(dbeta, (size_t)channels, "dbeta");
    if (a->has_running) {
        SAME(running_mean, (size_t)channels, "running_mean");
        /* the variance where the point divides by it (mean-only batch norm
         * keeps the unit variance it never reads) */
        if (running_var)
            SAME(running_var, (size_t)channels, "running_var");
    }
    SAME(y_eval, count, "forward (eval)");
#undef SAME
}

int tu_check_norm_space(nl_backend *be)
{
    int compared = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
        if (!row->point)
            continue;
        ck_assert_msg(row->adds_layer && row->stats_set, "%s: a point with no statistics",
                      row->id.name);
        for (int ndim = 2; ndim <= 4; ndim++) {
            const unsigned reduce = row->point->reduce[nl_norm_layout_index(ndim)];
            ck_assert_msg((reduce != 0) == nl_norm_accepts(row, ndim),
                          "%s: a point on ndim %d exactly where the row accepts it",
                          row->id.name, ndim);
            if (!reduce)
                continue;
            const int tracks = (row->keys & NL_NORM_KEY_TRACK_RUNNING_STATS) ? 2 : 1;
            for (int affine = 0; affine < 2; affine++)
                for (int t = 0; t < tracks; t++) {
                    tu_norm_ctx builtin = {.ndim = ndim};
                    nl_norm_spec_defaults(&builtin.norm, (nl_norm_kind)k);
                    builtin.norm.affine = affine;
                    builtin.norm.groups = 2;
                    builtin.norm.momentum = 0.3f;
                    if (tracks == 2)
                        builtin.norm.track_running_stats = t == 1;
                    tu_norm_ctx custom = {.ndim = ndim,
                                        .norm = custom_of(row, &builtin.norm, ndim)};
                    char what[160];
                    snprintf(what, sizeof what,
                             "%s as custom on ndim %d (affine %d, running statistics %d, %s)",
                             row->id.name, ndim, affine, nl_norm_keeps_running(&builtin.norm),
                             be->ops->name);
                    outcome a = run_layer(be, &builtin, what);
                    outcome b = run_layer(be, &custom, what);
                    int c, h, w;
                    shape_of(ndim, &c, &h, &w);
                    compare(&a, &b, (size_t)3 * c * h * w, ndim == 3 ? h : c,
                            row->point->scale != NL_SCALE_NONE, what);
                    outcome_free(&a);
                    outcome_free(&b);
                }
        }
        compared++;
    }
    return compared;
}

/* the reductions the built-ins' points take on an input of ndim (each
 * once): the ones custom computes there */
static int reductions_on(int ndim, unsigned *out, int max)
{
    int n = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_point *p = nl_norm_info_of((nl_norm_kind)k)->point;
        const unsigned r = p ? p->reduce[nl_norm_layout_index(ndim)] : 0;
        bool seen = r == 0;
        for (int i = 0; i < n && !seen; i++)
            seen = out[i] == r;
        if (!seen && n < max)
            out[n++] = r;
    }
    return n;
}

int tu_check_norm_space_parity(nl_backend *a, nl_backend *b)
{
    int compared = 0;
    for (int ndim = 2; ndim <= 4; ndim++) {
        unsigned reduces[8];
        const int n_reduces = reductions_on(ndim, reduces, 8);
        for (int r = 0; r < n_reduces; r++)
            for (int center = 0; center < 2; center++)
                for (int scale = 0; scale < NL_SCALE_COUNT; scale++)
                    for (int train = 0; train < NL_STATS_COUNT; train++) {
                        const bool over_channels = reduces[r] & (1u << NL_AXIS_CHANNELS);
                        if ((!center && scale == NL_SCALE_NONE) ||
                            (over_channels && train == NL_STATS_RUNNING))
                            continue; /* refused: the identity; running per-sample statistics */
                        tu_norm_ctx ctx = {.ndim = ndim};
                        nl_norm_spec_defaults(&ctx.norm, NL_NORM_CUSTOM);
                        ctx.norm.reduce = reduces[r];
                        ctx.norm.center = center;
                        ctx.norm.scale = (nl_norm_scale)scale;
                        ctx.norm.train_stats = (nl_stats_source)train;
                        ctx.norm.eval_stats = over_channels ? NL_STATS_BATCH : NL_STATS_RUNNING;
                        ctx.norm.groups = over_channels ? 2 : 1;
                        ctx.norm.momentum = 0.3f;
                        char what[160];
                        snprintf(what, sizeof what,
                                 "custom 0x%x center %d scale %d train_stats %d on ndim %d (%s "
                                 "vs %s)",
                                 reduces[r], center, scale, train, ndim, a->ops->name,
                                 b->ops->name);
                        outcome oa = run_layer(a, &ctx, what);
                        outcome ob = run_layer(b, &ctx, what);
                        int c, h, w;
                        shape_of(ndim, &c, &h, &w);
                        compare(&oa, &ob, (size_t)3 * c * h * w, ndim == 3 ? h : c, true, what);
                        outcome_free(&oa);
                        outcome_free(&ob);
                        compared++;
                    }
    }
    return compared;
}
