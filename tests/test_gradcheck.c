// ctest-labels: kernels
/* Finite-difference gradient checks. Each layer and normalizer is built as a
 * one-layer graph on shapes that are not round (N=3, C=6, H=5, W=7,
 * groups=3), in 2-D and 4-D where it applies, with and without affine
 * parameters; the objective is a random projection sum(r * y) computed in
 * double, and central differences are compared with backward for the input
 * and every parameter. A second set checks whole models for every
 * architecture, placement and normalizer with the real loss, and the CNN
 * and the ResNet in the channel-blocked layout with Winograd F(2x2, 3x3)
 * and F(4x4, 3x3) convolutions (model.conv_algorithm: winograd_f23 and
 * winograd_f43; the latter's gradients measured at most 2.7e-5 relative L2
 * distance from the direct model's, F(2x2, 3x3)'s 2.3e-5). Variants wire
 * the layer's input into a residual add as well, so the planner makes the
 * layer add into its input gradient (the accumulate path).
 * Batch statistics are used without touching running statistics
 * (NL_MODE_TRAIN_FROZEN), so repeated forwards see the same function. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "config/config.h"
#include "plan/formula_check.h"
#include "plan/plan.h"
#include "train/run_model.h"
#include "base/rng.h"
#include "model/model.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "testutil.h"

#define SAMPLES 20 /* entries checked per tensor */

/* ---------------------------------------------------------------------- */
/* one-layer graphs */

typedef enum {
    G_LINEAR, G_CONV, G_POOL, G_GAP, G_ACT, G_NORM, G_NORM2D
} graph_kind;

typedef struct {
    graph_kind kind;
    int out, kernel, stride, pad;
    bool bias;
    nl_pool_kind pool;
    nl_activation act;
    nl_norm_spec norm;
    bool residual; /* y = add(layer(x), x) (or two pools), exercising accumulate */
    float ws_eps;  /* linear, conv: > 0 standardizes the weight */
    /* linear, conv: the weight's parameter normalizer (none: ws_eps says) */
    nl_param_norm_spec param_norm;
} graph;

static nl_act *layer_of(nl_builder *b, const graph *g, nl_act *x, const char *name)
{
    switch (g->kind) {
    case G_LINEAR:
        if (g->param_norm.kind != NL_PARAM_NORM_NONE)
            return nl_linear_pn(b, name, x, g->out, g->bias, NL_FILL_NORMAL, 0.4f, &g->param_norm);
        return nl_linear_ws(b, name, x, g->out, g->bias, NL_FILL_NORMAL, 0.4f, g->ws_eps);
    case G_CONV:
        if (g->param_norm.kind != NL_PARAM_NORM_NONE)
            return nl_conv2d_pn(b, name, x, g->out, g->kernel, g->stride, g->pad, g->bias, 0.3f,
                                &g->param_norm);
        return nl_conv2d_ws(b, name, x, g->out, g->kernel, g->stride, g->pad, g->bias, 0.3f,
                            g->ws_eps);
    case G_POOL:
        return nl_pool2d(b, name, x, g->pool, g->kernel, g->stride, g->pad);
    case G_GAP:
        return nl_global_avgpool(b, name, x);
    case G_ACT:
        return nl_activation_layer(b, name, x, g->act);
    case G_NORM:
    case G_NORM2D:
        return nl_norm(b, name, x, &g->norm);
    }
    return NULL;
}

static nl_act *build_graph(nl_builder *b, nl_act *input, void *ctx)
{
    const graph *g = ctx;
    input->needs_grad = 1;
    nl_act *x = (g->kind == G_LINEAR || g->kind == G_NORM2D) ? nl_flatten(b, "flat", input) : input;
    nl_act *y = layer_of(b, g, x, "layer");
    if (!g->residual || !y)
        return y;
    if (g->kind == G_POOL)
        return nl_residual_add(b, "add", y, layer_of(b, g, x, "layer_twin"));
    return nl_residual_add(b, "add", y, x);
}

static double projection(nl_model *m, int n, const float *r)
{
    nl_model_forward(m, n, NL_MODE_TRAIN_FROZEN);
    const size_t count = (size_t)n * nl_shape_per_sample(m->logits->shape);
    double s = 0.0;
    for (size_t i = 0; i < count; i++)
        s += (double)r[i] * m->logits->data[i];
    return s;
}

/* compares backward with central differences on SAMPLES entries of `values` */
static double fd_error(nl_model *m, int n, const float *r, float *values, const float *grad,
                       size_t count, float h, uint64_t seed)
{
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_TEST);
    double max_diff = 0.0, max_grad = 0.0;
    for (int s = 0; s < SAMPLES; s++) {
        size_t i = count <= SAMPLES ? (size_t)s % count : nl_rng_below(&rng, (uint32_t)count);
        const float saved = values[i];
        values[i] = saved + h;
        const double plus = projection(m, n, r);
        values[i] = saved - h;
        const double minus = projection(m, n, r);
        values[i] = saved;
        const double numeric = (plus - minus) / (2.0 * h);
        const double d = fabs(numeric - grad[i]);
        if (d > max_diff || isnan(d))
            max_diff = isnan(d) ? INFINITY : d;
        if (fabs(grad[i]) > max_grad)
            max_grad = fabs(grad[i]);
    }
    return max_diff / (max_grad > 1e-12 ? max_grad : 1.0);
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* FRN's TLU is a kink at tau_c: each channel's threshold goes to the middle
 * of the widest gap among the middle half of its normalized values, so some
 * values pass and some are clipped, and no perturbation crosses it */
static void frn_thresholds_in_gaps(nl_model *m, const float *x, int n, int c, int hw, float eps)
{
    nl_param *tau = nl_model_param(m, "layer.tau");
    if (!tau)
        return;
    const nl_param *gamma = nl_model_param(m, "layer.weight"), *beta = nl_model_param(m, "layer.bias");
    double *z = malloc((size_t)n * hw * sizeof *z);
    for (int ch = 0; ch < c; ch++) {
        for (int i = 0; i < n; i++) {
            const float *plane = x + ((size_t)i * c + ch) * hw;
            double sq = 0.0;
            for (int j = 0; j < hw; j++)
                sq += (double)plane[j] * plane[j];
            const double rstd = 1.0 / sqrt(sq / hw + eps);
            for (int j = 0; j < hw; j++)
                z[(size_t)i * hw + j] = (gamma ? gamma->data[ch] : 1.0) * plane[j] * rstd +
                                        (beta ? beta->data[ch] : 0.0);
        }
        const size_t count = (size_t)n * hw;
        qsort(z, count, sizeof *z, compare_doubles);
        size_t widest = count / 4;
        for (size_t k = count / 4; k < 3 * count / 4; k++)
            if (z[k + 1] - z[k] > z[widest + 1] - z[widest])
                widest = k;
        tau->data[ch] = (float)(0.5 * (z[widest] + z[widest + 1]));
    }
    free(z);
}

static void check_graph(const char *what, graph g, int n, int c, int h, int w, float fd_h,
                        double tol, bool spaced_input)
{
    nl_backend *be = tu_cpu(2);
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = c;
    spec.in_h = h;
    spec.in_w = w;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_build_graph(&spec, be, n, n, 7, build_graph, &g, &m, &err) == NL_OK,
                  "%s: %s", what, err.msg);
    const size_t in_count = (size_t)n * c * h * w;
    float *x = m->input->data;
    if (spaced_input) {
        /* distinct values at least 0.05 apart and away from 0, so no
         * perturbation crosses a kink of relu or a max-pool tie */
        for (size_t i = 0; i < in_count; i++)
            x[i] = (float)((i * 7919) % in_count) * 0.05f - 0.0251f * (float)in_count;
    } else {
        tu_fill_normal(x, in_count, 11, 0.3f, 1.0f);
    }
    /* parameters away from their initial 1/0 so gamma and beta matter */
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i]->ndim == 1)
            tu_fill_uniform(m->params[i]->data, m->params[i]->count, 20 + i, 0.5f, 1.5f);
    if (g.kind == G_NORM)
        frn_thresholds_in_gaps(m, x, n, c, h * w, g.norm.eps);
    /* spectral normalization's u, v from power iteration, as training
     * leaves them: from their random start sigma = u^T W v can be near 0,
     * which no step h differentiates; the checked passes below hold them */
    if (g.param_norm.kind != NL_PARAM_NORM_NONE)
        nl_model_forward(m, n, NL_MODE_TRAIN);
    const size_t out_count = (size_t)n * nl_shape_per_sample(m->logits->shape);
    float *r = malloc(out_count * sizeof *r);
    tu_fill_normal(r, out_count, 13, 0.0f, 1.0f);
    projection(m, n, r);
    nl_model_backward_from(m, n, r);
    /* backward results are copied: the finite differences rerun forward */
    float *dx = malloc(in_count * sizeof *dx);
    memcpy(dx, m->input->grad, in_count * sizeof *dx);
    double e = fd_error(m, n, r, x, dx, in_count, fd_h, 1);
    ck_assert_msg(e <= tol, "%s: d input: normalized error %.3g > %.3g", what, e, tol);
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        float *dp = malloc(p->count * sizeof *dp);
        memcpy(dp, p->grad, p->count * sizeof *dp);
        e = fd_error(m, n, r, p->data, dp, p->count, fd_h, 2 + i);
        ck_assert_msg(e <= tol, "%s: d %s: normalized error %.3g > %.3g", what, p->name, e, tol);
        free(dp);
    }
    free(dx);
    free(r);
    nl_model_free(m);
}

#define TOL 1e-3

START_TEST(test_linear)
{
    for (int res = 0; res < 2; res++) {
        check_graph("linear", (graph){.kind = G_LINEAR, .out = res ? 35 : 5, .bias = true, .residual = res},
                    3, 5, 7, 1, 1e-2f, TOL, false);
        check_graph("linear no bias", (graph){.kind = G_LINEAR, .out = res ? 35 : 4, .residual = res},
                    3, 5, 7, 1, 1e-2f, TOL, false);
        /* batches up to 12 take the skinny kernels, larger ones sgemm */
        check_graph("linear batch 14", (graph){.kind = G_LINEAR, .out = res ? 35 : 9, .bias = true, .residual = res},
                    14, 5, 7, 1, 1e-2f, TOL, false);
        check_graph("linear ws", (graph){.kind = G_LINEAR, .out = res ? 35 : 5, .bias = true, .residual = res, .ws_eps = 1e-2f},
                    3, 5, 7, 1, 1e-2f, TOL, false);
        /* every parameter normalizer (param_norm_kinds.def) */
        for (int k = 1; k < NL_PARAM_NORM_COUNT; k++) {
            char what[96];
            snprintf(what, sizeof what, "linear %s", nl_name_of(&nl_param_norm_names, k));
            check_graph(what, (graph){.kind = G_LINEAR, .out = res ? 35 : 5, .bias = true, .residual = res,
                                      .param_norm = {.kind = (nl_param_norm_kind)k, .eps = 1e-2f, .power_iterations = 20}},
                        3, 5, 7, 1, 1e-2f, TOL, false);
        }
    }
}
END_TEST

START_TEST(test_conv)
{
    for (int res = 0; res < 2; res++) {
        check_graph("conv 3x3", (graph){.kind = G_CONV, .out = res ? 6 : 4, .kernel = 3, .stride = 1, .pad = 1, .bias = true, .residual = res},
                    3, 6, 5, 7, 1e-2f, TOL, false);
        check_graph("conv 1x1", (graph){.kind = G_CONV, .out = 6, .kernel = 1, .stride = 1, .pad = 0, .residual = res},
                    2, 6, 5, 7, 1e-2f, TOL, false);
        /* >= 8 channels in and out: the Winograd path, a row cut in segments too */
        check_graph("conv 3x3 winograd", (graph){.kind = G_CONV, .out = res ? 8 : 9, .kernel = 3, .stride = 1, .pad = 1, .bias = true, .residual = res},
                    3, 8, 5, 7, 1e-2f, TOL, false);
        check_graph("conv 3x3 winograd wide", (graph){.kind = G_CONV, .out = 8, .kernel = 3, .stride = 1, .pad = 1, .residual = res},
                    2, 8, 3, 37, 1e-2f, TOL, false);
        /* rows of exactly 8 tiles: the input transform reads one vector further */
        check_graph("conv 3x3 winograd 8 tiles", (graph){.kind = G_CONV, .out = 8, .kernel = 3, .stride = 1, .pad = 1, .residual = res},
                    2, 8, 4, 16, 1e-2f, TOL, false);
        check_graph("conv 3x3 ws", (graph){.kind = G_CONV, .out = res ? 6 : 4, .kernel = 3, .stride = 1, .pad = 1, .bias = true, .residual = res, .ws_eps = 1e-2f},
                    3, 6, 5, 7, 1e-2f, TOL, false);
        check_graph("conv 3x3 winograd ws", (graph){.kind = G_CONV, .out = 8, .kernel = 3, .stride = 1, .pad = 1, .residual = res, .ws_eps = 1e-5f},
                    3, 8, 5, 7, 1e-2f, TOL, false);
        for (int k = 1; k < NL_PARAM_NORM_COUNT; k++) {
            const nl_param_norm_spec pn = {.kind = (nl_param_norm_kind)k, .eps = 1e-2f,
                                           .power_iterations = 20};
            char what[96];
            snprintf(what, sizeof what, "conv 3x3 %s", nl_name_of(&nl_param_norm_names, k));
            check_graph(what, (graph){.kind = G_CONV, .out = res ? 6 : 4, .kernel = 3, .stride = 1, .pad = 1, .bias = true, .residual = res, .param_norm = pn},
                        3, 6, 5, 7, 1e-2f, TOL, false);
            snprintf(what, sizeof what, "conv 3x3 winograd %s", nl_name_of(&nl_param_norm_names, k));
            check_graph(what, (graph){.kind = G_CONV, .out = 8, .kernel = 3, .stride = 1, .pad = 1, .residual = res, .param_norm = pn},
                        3, 8, 5, 7, 1e-2f, TOL, false);
        }
    }
    check_graph("conv 3x3 stride 2", (graph){.kind = G_CONV, .out = 5, .kernel = 3, .stride = 2, .pad = 1},
                3, 6, 5, 7, 1e-2f, TOL, false);
    check_graph("conv 1x1 stride 2", (graph){.kind = G_CONV, .out = 3, .kernel = 1, .stride = 2},
                3, 6, 5, 7, 1e-2f, TOL, false);
    check_graph("conv 5x5 no pad", (graph){.kind = G_CONV, .out = 2, .kernel = 5, .stride = 1, .bias = true},
                2, 3, 6, 7, 1e-2f, TOL, false);
}
END_TEST

START_TEST(test_pool)
{
    for (int res = 0; res < 2; res++) {
        check_graph("max pool 2", (graph){.kind = G_POOL, .pool = NL_POOL_MAX, .kernel = 2, .stride = 2, .residual = res},
                    3, 6, 5, 7, 1e-2f, TOL, true);
        check_graph("avg pool 2", (graph){.kind = G_POOL, .pool = NL_POOL_AVG, .kernel = 2, .stride = 2, .residual = res},
                    3, 6, 5, 7, 1e-2f, TOL, false);
        check_graph("max pool 3 stride 2 pad 1", (graph){.kind = G_POOL, .pool = NL_POOL_MAX, .kernel = 3, .stride = 2, .pad = 1, .residual = res},
                    3, 6, 5, 7, 1e-2f, TOL, true);
    }
    check_graph("global avg pool", (graph){.kind = G_GAP}, 3, 6, 5, 7, 1e-2f, TOL, false);
}
END_TEST

START_TEST(test_activations)
{
    for (int res = 0; res < 2; res++) {
        check_graph("relu", (graph){.kind = G_ACT, .act = NL_ACT_RELU, .residual = res}, 3, 6, 5, 7, 1e-2f, TOL, true);
        check_graph("sigmoid", (graph){.kind = G_ACT, .act = NL_ACT_SIGMOID, .residual = res}, 3, 6, 5, 7, 1e-2f, TOL, false);
        check_graph("tanh", (graph){.kind = G_ACT, .act = NL_ACT_TANH, .residual = res}, 3, 6, 5, 7, 1e-2f, TOL, false);
    }
}
END_TEST

static void check_norm(nl_norm_kind kind, bool affine, bool track)
{
    const nl_norm_info *info = nl_norm_info_of(kind);
    const char *label = info->id.name;
    for (int res = 0; res < 2; res++) {
        graph g = {.kind = G_NORM, .residual = res};
        nl_norm_spec_defaults(&g.norm, kind);
        g.norm.groups = 3;
        g.norm.virtual_batch = 1; /* images: virtual batches of one sample */
        g.norm.affine = affine;
        g.norm.track_running_stats = track;
        char what[128];
        if (info->images) {
            snprintf(what, sizeof what, "%s 4-D%s%s", label, affine ? "" : " no affine", res ? " residual" : "");
            check_graph(what, g, 3, 6, 5, 7, 1e-2f, TOL, false);
        }
        if (!info->features)
            continue;
        g.kind = G_NORM2D;
        g.norm.virtual_batch = 5; /* the whole batch: feature vectors need two or more */
        snprintf(what, sizeof what, "%s 2-D%s%s", label, affine ? "" : " no affine", res ? " residual" : "");
        check_graph(what, g, 5, 12, 1, 1, 1e-2f, TOL, false);
        if (!(info->keys & NL_NORM_KEY_GROUPS))
            continue;
        /* 8 groups of 8 features: the CPU's eight-groups-at-a-time path */
        g.norm.groups = 8;
        snprintf(what, sizeof what, "%s 2-D 8 groups%s%s", label, affine ? "" : " no affine",
                 res ? " residual" : "");
        check_graph(what, g, 3, 64, 1, 1, 1e-2f, TOL, false);
    }
}

/* every registered normalizer, with and without affine; those that can
 * keep running statistics once with them (they do not change the training
 * gradient, but the layer must still run its update path) */
START_TEST(test_norms)
{
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const bool running = nl_norm_info_of((nl_norm_kind)k)->running_stats;
        check_norm((nl_norm_kind)k, true, running);
        check_norm((nl_norm_kind)k, false, false);
    }
}
END_TEST

/* the design space's points (model.norm.type custom) off the fused kernels
 * too: each reduction the built-ins take, centred or not, each scale (the
 * identity, uncentred with none, is refused), training on the batch's
 * statistics (on running ones the statistics are constants: the frozen
 * backward of test_norms' batch norm) */
START_TEST(test_custom_points)
{
    int checked = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_point *p = nl_norm_info_of((nl_norm_kind)k)->point;
        for (int layout = 0; p && layout < 2; layout++) {
            const unsigned reduce = p->reduce[nl_norm_layout_index(layout ? 4 : 2)];
            for (int center = 0; reduce && center < 2; center++)
                for (int scale = 0; scale < NL_SCALE_COUNT; scale++) {
                    if (!center && scale == NL_SCALE_NONE)
                        continue;
                    graph g = {.kind = layout ? G_NORM : G_NORM2D};
                    nl_norm_spec_defaults(&g.norm, NL_NORM_CUSTOM);
                    g.norm.reduce = reduce;
                    g.norm.center = center;
                    g.norm.scale = (nl_norm_scale)scale;
                    char what[128];
                    snprintf(what, sizeof what, "custom as %s's reduction, center %d, scale %s, %s",
                             nl_norm_info_of((nl_norm_kind)k)->id.name, center,
                             nl_name_of(&nl_norm_scale_names, scale), layout ? "4-D" : "2-D");
                    if (layout)
                        check_graph(what, g, 3, 6, 5, 7, 1e-2f, TOL, false);
                    else
                        check_graph(what, g, 5, 12, 1, 1, 1e-2f, TOL, false);
                    checked++;
                }
        }
    }
    ck_assert_int_ge(checked, 20);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* whole models: every architecture x placement x normalizer, real loss */

static void check_model(nl_arch arch, nl_placement placement, nl_norm_kind kind,
                        nl_param_norm_kind param_norm)
{
    nl_backend *be = tu_cpu(2);
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = arch;
    spec.in_c = 2;
    spec.in_h = 8;
    spec.in_w = 6;
    spec.classes = 5;
    spec.n_widths = 2;
    /* mlp groups of 2-3 features make the function too curved for central
     * differences; 6 features per group are well conditioned */
    spec.widths[0] = arch == NL_ARCH_MLP ? 12 : 6;
    spec.widths[1] = arch == NL_ARCH_MLP ? 12 : 4;
    /* smooth everywhere, so central differences are exact up to O(h^2) */
    spec.activation = NL_ACT_TANH;
    spec.pool = NL_POOL_AVG;
    nl_norm_spec_defaults(&spec.norm, kind);
    spec.norm.placement = placement;
    spec.norm.groups = 2;
    /* standardization under its older spelling, which the configs use */
    spec.weight_standardization = param_norm == NL_PARAM_NORM_STANDARDIZATION;
    if (param_norm != NL_PARAM_NORM_STANDARDIZATION)
        spec.param_norm.kind = param_norm;
    spec.norm.virtual_batch = 5; /* read by the kinds with that key only */
    /* batch norm over 3 feature vectors is very curved; 5 keep central
     * differences accurate */
    const int n = 5;
    char what[160];
    snprintf(what, sizeof what, "%s/%s/%s%s%s", nl_name_of(&nl_arch_names, arch),
             nl_name_of(&nl_placement_names, placement), nl_name_of(&nl_norm_names, kind),
             param_norm ? "+" : "", param_norm ? nl_name_of(&nl_param_norm_names, param_norm) : "");
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, be, n, n, 5, &m, &err) == NL_OK, "%s: %s", what, err.msg);
    const size_t in_count = (size_t)n * spec.in_c * spec.in_h * spec.in_w;
    float x[5 * 2 * 8 * 6];
    int32_t labels[5] = {1, 4, 0, 2, 4};
    tu_fill_normal(x, in_count, 17, 0.2f, 1.0f);
    nl_model_load_batch(m, x, labels, n);
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i]->ndim == 1)
            tu_fill_uniform(m->params[i]->data, m->params[i]->count, 40 + i, 0.5f, 1.5f);
    /* FRN's thresholds below every value: the TLU passes all, the model is
     * smooth (the kink itself is checked on the layer above) */
    for (int i = 0; i < m->n_params; i++)
        if (strstr(m->params[i]->name, ".tau"))
            for (size_t k = 0; k < m->params[i]->count; k++)
                m->params[i]->data[k] = -100.0f;
    tu_model_mean_loss(m, n);
    nl_model_backward(m, n);
    const float h = 1e-2f;
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *p = m->params[i];
        double max_grad;
        const double max_diff = tu_param_fd_error(m, n, i, 100 + i, h, &max_grad);
        /* the loss is a float computation, so allow a little more than the
         * layers; the absolute floor covers gradients that are exactly zero
         * (a bias right before a normalizer that removes per-channel shifts) */
        ck_assert_msg(max_diff <= 1e-2 * max_grad + 2e-5, "%s: d %s: |fd - backward| %.3g, max |grad| %.3g",
                      what, p->name, max_diff, max_grad);
    }
    nl_model_free(m);
}

START_TEST(test_models)
{
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_kind kind = (nl_norm_kind)k;
        if (nl_norm_info_of(kind)->features) {
            check_model(NL_ARCH_MLP, NL_PLACE_BEFORE, kind, NL_PARAM_NORM_NONE);
            check_model(NL_ARCH_MLP, NL_PLACE_AFTER, kind, NL_PARAM_NORM_NONE);
        }
        check_model(NL_ARCH_CNN, NL_PLACE_BEFORE, kind, NL_PARAM_NORM_NONE);
        check_model(NL_ARCH_CNN, NL_PLACE_AFTER, kind, NL_PARAM_NORM_NONE);
        check_model(NL_ARCH_RESNET, NL_PLACE_POST, kind, NL_PARAM_NORM_NONE);
        check_model(NL_ARCH_RESNET, NL_PLACE_PRE, kind, NL_PARAM_NORM_NONE);
        /* each parameter normalizer (weight standardization first)
         * composes with every normalizer; without
         * one, unit-variance weights blow the deep models' activations up
         * (fan-in times He's variance per layer), too curved for central
         * differences. DyT rescales without statistics: its tanh saturates
         * the same way in the ResNet's deeper stack, so the ResNet runs for
         * the kinds that divide by a statistic (those that read eps) */
        if (nl_norm_info_of(kind)->adds_layer)
            for (int pn = 1; pn < NL_PARAM_NORM_COUNT; pn++) {
                check_model(nl_norm_info_of(kind)->features ? NL_ARCH_MLP : NL_ARCH_CNN,
                            NL_PLACE_BEFORE, kind, (nl_param_norm_kind)pn);
                if (nl_norm_info_of(kind)->keys & NL_NORM_KEY_EPS)
                    check_model(NL_ARCH_RESNET, NL_PLACE_POST, kind, (nl_param_norm_kind)pn);
            }
    }
}
END_TEST

/* ---------------------------------------------------------------------- */
/* whole conv nets with Winograd F(2x2, 3x3) and F(4x4, 3x3) in the
 * channel-blocked layout */

/* the convolutions of m that run `algorithm` */
static int winograd_convs(const nl_model *m, nl_conv_algorithm algorithm)
{
    int count = 0;
    for (int i = 0; i < m->n_layers; i++) {
        nl_conv_geom g;
        count += nl_conv2d_geom_of(m->layers[i], &g) && g.algorithm == algorithm;
    }
    return count;
}

/* The CNN and the ResNet, blocked, with model.conv_algorithm winograd_f23
 * or winograd_f43 (every 3x3 stride-1 convolution whose input is in the block: all but
 * the stem and the ResNet's strided ones): backward against central
 * differences of the real loss for every parameter (so through all three
 * of Winograd's products: a layer's weight gradient, and the data
 * gradient that reaches every parameter before it), and, closer, against
 * the same model with direct convolutions from the same parameters. tanh
 * and average pooling keep the function smooth; maps of 8x6 and 4x3 leave
 * tiles hanging over the edge. */
static void check_winograd_model(nl_backend *be, nl_arch arch, nl_norm_kind kind,
                                 nl_conv_algorithm algorithm)
{
    const int n = 5;
    char what[96];
    snprintf(what, sizeof what, "%s/%s %s", nl_name_of(&nl_arch_names, arch),
             nl_name_of(&nl_norm_names, kind), nl_name_of(&nl_conv_algorithm_names, algorithm));
    nl_model *m[2] = {NULL, NULL}; /* direct, winograd */
    for (int k = 0; k < 2; k++) {
        nl_model_spec spec =
            tu_small_image_spec(arch, kind, arch == NL_ARCH_RESNET ? NL_PLACE_PRE : NL_PLACE_BEFORE);
        spec.in_w = 6;
        spec.activation = NL_ACT_TANH;
        spec.pool = NL_POOL_AVG;
        spec.layout = NL_LAYOUT_BLOCKED;
        spec.channel_block = be->ops->conv_block(be); /* as the layout pass decides */
        spec.conv_algorithm = k ? (int)algorithm : NL_CONV_DIRECT;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec, be, n, n, 5, &m[k], &err) == NL_OK, "%s: %s", what,
                      err.msg);
    }
    ck_assert_msg(winograd_convs(m[0], algorithm) == 0 && winograd_convs(m[1], algorithm) >= 1,
                  "%s: %d, %d convolutions on Winograd", what, winograd_convs(m[0], algorithm),
                  winograd_convs(m[1], algorithm));
    float x[5 * 8 * 6];
    int32_t labels[5] = {1, 4, 0, 2, 4};
    tu_fill_normal(x, sizeof x / sizeof x[0], 17, 0.2f, 1.0f);
    for (int k = 0; k < 2; k++) {
        nl_model_load_batch(m[k], x, labels, n);
        for (int i = 0; i < m[k]->n_params; i++)
            if (m[k]->params[i]->ndim == 1)
                tu_fill_uniform(m[k]->params[i]->data, m[k]->params[i]->count, 40 + i, 0.5f, 1.5f);
        tu_model_mean_loss(m[k], n);
        nl_model_backward(m[k], n);
    }
    const float h = 1e-2f;
    /* the scale of the gradients: the largest parameter's L2 norm */
    double scale = 0.0;
    for (int i = 0; i < m[0]->n_params; i++) {
        double norm = 0.0;
        for (size_t k = 0; k < m[0]->params[i]->count; k++)
            norm += (double)m[0]->params[i]->grad[k] * m[0]->params[i]->grad[k];
        scale = fmax(scale, sqrt(norm));
    }
    double worst_direct = 0.0;
    for (int i = 0; i < m[1]->n_params; i++) {
        const nl_param *p = m[1]->params[i], *q = m[0]->params[i];
        ck_assert_str_eq(p->name, q->name);
        ck_assert_msg(memcmp(p->data, q->data, p->count * sizeof(float)) == 0,
                      "%s: %s differs between the models", what, p->name);
        double diff = 0.0, norm = 0.0;
        for (size_t k = 0; k < p->count; k++) {
            diff += ((double)p->grad[k] - q->grad[k]) * ((double)p->grad[k] - q->grad[k]);
            norm += (double)q->grad[k] * q->grad[k];
        }
        /* float roundings apart (the floor, a thousandth of the largest
         * gradient: a bias before a normalizer that removes per-channel
         * shifts has a gradient of rounding alone) */
        const double e = sqrt(diff) / (sqrt(norm) + 1e-3 * scale);
        worst_direct = fmax(worst_direct, e);
        ck_assert_msg(e <= 1e-4, "%s: d %s off the direct model's by %.3g", what, p->name, e);
        double max_grad;
        const double max_diff = tu_param_fd_error(m[1], n, i, 100 + i, h, &max_grad);
        ck_assert_msg(max_diff <= 1e-2 * max_grad + 2e-5,
                      "%s: d %s: |fd - backward| %.3g, max |grad| %.3g", what, p->name, max_diff,
                      max_grad);
    }
    fprintf(stderr, "%s: %d convolutions on Winograd, worst relative L2 distance of a "
                    "gradient from the direct model's %.3g\n",
            what, winograd_convs(m[1], algorithm), worst_direct);
    ck_assert_int_eq(be->conv_fallbacks, 0);
    nl_model_free(m[0]);
    nl_model_free(m[1]);
}

START_TEST(test_winograd_models)
{
    nl_backend *be = tu_onednn_blocked_cpu();
    if (!be) {
        fprintf(stderr, "no channel block on this CPU: Winograd's models are not checked\n");
        return;
    }
    const nl_norm_kind kinds[] = {NL_NORM_BATCH, NL_NORM_GROUP, NL_NORM_NONE};
    const nl_conv_algorithm algorithms[] = {NL_CONV_WINOGRAD_F23, NL_CONV_WINOGRAD_F43};
    for (size_t a = 0; a < sizeof algorithms / sizeof algorithms[0]; a++)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            check_winograd_model(be, NL_ARCH_CNN, kinds[k], algorithms[a]);
            check_winograd_model(be, NL_ARCH_RESNET, kinds[k], algorithms[a]);
        }
}
END_TEST

/* ---------------------------------------------------------------------- */
/* validate's check of a formula normalizer (arch.h: nl_formula_gradcheck) */

static const char *const formula_data_mlp =
    "data: {dataset: synthetic, shape: [6], classes: 3, train_size: 64, test_size: 32}\n"
    "model:\n  arch: mlp\n  widths: [8]\n";
static const char *const formula_data_cnn =
    "data: {dataset: synthetic, shape: [3, 6, 6], classes: 3, train_size: 64, test_size: 32}\n"
    "model:\n  arch: cnn\n  widths: [16, 16]\n  pool: avg\n";
static const char *const formula_data_resnet =
    "data: {dataset: synthetic, shape: [3, 6, 6], classes: 3, train_size: 64, test_size: 32}\n"
    "model:\n  arch: resnet\n  widths: [16]\n";

/* the formula on a model's planned graph, checked (with `hooks`): the
 * count of sites, into checks */
static int formula_sites(const char *data, const char *extra, const char *expr, const char *params,
                         const nl_formula_check_hooks *hooks, nl_formula_check *checks,
                         const nl_model **planned_out)
{
    char yaml[2048];
    /* the ResNet post-activation (its last ReLU and add fused); the MLP
     * with hooks' inputs after its ReLU (none fused: the formula's own
     * kinks alone), else before it */
    const char *placement = strstr(data, "resnet") ? "    placement: post\n"
                            : hooks && hooks->x    ? "    placement: after\n"
                                                   : "";
    snprintf(yaml, sizeof yaml, "%s%s  norm:\n%s    type: expr\n    expr: \"%s\"\n    params: \"%s\"\n"
             "train: {batch_size: 8, steps: 2}\n",
             data, extra, placement, expr, params);
    nl_config *cfg = malloc(sizeof *cfg);
    free(tu_resolved_config(yaml, cfg));
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    const nl_plan_run run = nl_config_plan_run(cfg, false);
    free(cfg);
    nl_model *graph = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_plan_graph(&spec, &run, &graph, &err) == NL_OK, "%s: %s", expr, err.msg);
    int n = 0;
    ck_assert_msg(nl_formula_gradcheck(graph, tu_cpu(1), hooks, checks, 16, &n, &err) == NL_OK,
                  "%s: %s", expr, err.msg);
    ck_assert_int_ge(n, 1);
    if (planned_out)
        *planned_out = graph;
    else
        nl_plan_graph_done(graph);
    return n;
}

/* every site of the model's expr layers: shape, layout and fusion as the plan gives them */
static void assert_sites_as_planned(const nl_model *graph, const nl_formula_check *checks, int n)
{
    for (int i = 0; i < graph->n_layers; i++) {
        const nl_layer *l = graph->layers[i];
        if (strcmp(l->vt->kind, "expr"))
            continue;
        bool found = false;
        for (int k = 0; k < n && !found; k++)
            found = checks[k].in.c == l->in[0]->shape.c && checks[k].in.h == l->in[0]->shape.h &&
                    checks[k].in.block == l->in[0]->shape.block &&
                    !strcmp(checks[k].fused, l->fused ? l->fused : "");
        ck_assert_msg(found, "layer %s (block %d, fused %s) has no site checked", l->name,
                      l->in[0]->shape.block, l->fused ? l->fused : "nothing");
    }
}

/* one model's sites: right gradients within the bound, a planted 1 %
 * error in every derivative (either sign) past it, a site with `fused`
 * and (block > 0) one in that channel block, each as the plan gives it */
static void check_formula_case(const char *data, const char *extra, const char *expr,
                               const char *params, const char *fused, int block)
{
    nl_formula_check checks[16];
    const nl_model *graph = NULL;
    const int n = formula_sites(data, extra, expr, params, NULL, checks, &graph);
    assert_sites_as_planned(graph, checks, n);
    nl_plan_graph_done((nl_model *)graph);
    bool has_fused = false, has_block = block == 0;
    for (int k = 0; k < n; k++) {
        has_fused |= !strcmp(checks[k].fused, fused);
        has_block |= checks[k].in.block == block;
        ck_assert_msg(checks[k].worst <= NL_FORMULA_CHECK_BOUND,
                      "%s, site %d (block %d, fused '%s'): worst %.3g in d%s, bound %g", expr, k,
                      checks[k].in.block, checks[k].fused, checks[k].worst, checks[k].worst_of,
                      NL_FORMULA_CHECK_BOUND);
    }
    ck_assert_msg(has_fused && has_block, "%s: no site with '%s' fused (%d) or in blocks of %d (%d)",
                  expr, fused, has_fused, block, has_block);
    for (int sign = -1; sign <= 1; sign += 2) {
        const nl_formula_check_hooks planted = {.planted_error = 0.01 * sign};
        const int m = formula_sites(data, extra, expr, params, &planted, checks, NULL);
        for (int k = 0; k < m; k++)
            ck_assert_msg(checks[k].worst > NL_FORMULA_CHECK_BOUND,
                          "%s, site %d: a planted %+d %% error gives %.3g, within the bound", expr, k,
                          sign, checks[k].worst);
    }
}

/* Right gradients pass the bound at every site; the same with a planted
 * 1 % error in every derivative fail it; each site is checked as the plan
 * gives it: a fused ReLU (the norm before its ReLU), a fused residual add
 * and ReLU (the post-activation ResNet), the channel-blocked layout where
 * this CPU has one */
START_TEST(test_formula_check_holds_a_one_percent_error)
{
    static const char *const ln = "weight * (x - mean(x, [channels, spatial])) / sqrt(var(x, "
                                  "[channels, spatial]) + eps) + bias";
    static const char *const affine = "weight = 1 per channel, bias = 0 per channel";
    check_formula_case(formula_data_mlp, "", "weight * x / sqrt(mean(x^2, [channels]) + eps) + bias",
                       affine, "relu", 0);
    check_formula_case(formula_data_mlp, "", "x / sqrt(running(var(x, [batch])) + eps) * g", "g = 1.5",
                       "relu", 0);
    check_formula_case(formula_data_cnn, "  layout: nchw\n", ln, affine, "relu", 0);
    check_formula_case(formula_data_cnn, "  layout: nchw\n",
                       "weight * x * sigmoid(v * x) / sqrt(var(x, [channels, spatial]) + eps) + bias",
                       "weight = 1 per channel, bias = 0 per channel, v = 1 per channel", "relu", 0);
    check_formula_case(formula_data_resnet, "", "weight * x / sqrt(mean(x^2, [batch, spatial]) + eps) + bias",
                       affine, "add+relu", 0);
    const int block = nl_device_caps_of(NL_DEVICE_CPU).channel_block[NL_PRECISION_FP32];
    if (block) {
        check_formula_case(formula_data_cnn, "  layout: blocked\n", ln, affine, "relu", block);
        check_formula_case(formula_data_resnet, "  layout: blocked\n",
                           "weight * x / sqrt(running(mean(x^2, [batch, spatial])) + eps) + bias", affine,
                           "add+relu", block);
    } else {
        fprintf(stderr, "no channel block on this CPU: the blocked sites are not checked\n");
    }
}
END_TEST

/* A right gradient at a kink (inputs within the step of relu's and abs's
 * ties, and on them) is reported as a kink, not an error; a planted 1 %
 * error there still fails on the samples away from the kinks */
START_TEST(test_formula_check_reports_kinks)
{
    static const float x[] = {0.0f, 0.004f, -0.003f, 1.25f, -0.75f, 0.0025f, 2.0f, -1.5f, 0.5f,
                              -0.002f, 0.75f, -2.5f, 0.001f};
    const nl_formula_check_hooks at_ties = {.x = x, .x_count = sizeof x / sizeof x[0]};
    static const char *const formulas[] = {"x + relu(x) * w", "w * abs(x) + x", "max(x, 0) * w + x"};
    for (size_t f = 0; f < sizeof formulas / sizeof formulas[0]; f++) {
        nl_formula_check checks[16];
        const int n = formula_sites(formula_data_mlp, "", formulas[f], "w = 2", &at_ties, checks, NULL);
        int kinks = 0;
        for (int k = 0; k < n; k++) {
            kinks += checks[k].kinks;
            ck_assert_msg(checks[k].worst <= NL_FORMULA_CHECK_BOUND, "%s: worst %.3g in d%s (%d kinks)",
                          formulas[f], checks[k].worst, checks[k].worst_of, checks[k].kinks);
        }
        ck_assert_msg(kinks > 0, "%s: no sample at its kink", formulas[f]);
        nl_formula_check_hooks planted = at_ties;
        planted.planted_error = 0.01;
        const int m = formula_sites(formula_data_mlp, "", formulas[f], "w = 2", &planted, checks, NULL);
        for (int k = 0; k < m; k++)
            ck_assert_msg(checks[k].worst > NL_FORMULA_CHECK_BOUND, "%s: a planted 1 %% error at "
                          "kinks gives %.3g", formulas[f], checks[k].worst);
    }
}
END_TEST

/* `normlab validate` prints each site's layout and fusion and exits 0 for
 * right gradients; its --help documents the check and its exit status */
START_TEST(test_validate_prints_the_sites)
{
    tu_tmp_make("formula-check");
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "%s  norm:\n    type: expr\n    placement: before\n    expr: \"weight * "
             "x / sqrt(var(x, [spatial]) + eps)\"\n    params: \"weight = 1 per channel\"\ntrain: "
             "{batch_size: 8, steps: 2}\n", formula_data_cnn);
    tu_tmp_write("f.yaml", yaml);
    ck_assert_int_eq(tu_normlab("validate f.yaml"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "gradient check, layer ") && strstr(out, "fused ReLU") &&
                      strstr(out, "bound 4e-03") && strstr(out, "f.yaml: ok"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("validate --help"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "kink") && strstr(out, "layout") &&
                      strstr(out, "error in a derivative is past it") && strstr(out, "Exit status: 0 all valid"),
                  "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *layers = tcase_create("layers");
    tcase_add_test(layers, test_linear);
    tcase_add_test(layers, test_conv);
    tcase_add_test(layers, test_pool);
    tcase_add_test(layers, test_activations);
    tcase_add_test(layers, test_norms);
    tcase_add_test(layers, test_custom_points);
    suite_add_tcase(s, layers);
    TCase *models = tcase_create("models");
    tcase_add_test(models, test_models);
    tcase_add_test(models, test_winograd_models);
    suite_add_tcase(s, models);
    TCase *formula = tcase_create("formula");
    tcase_set_timeout(formula, 300);
    tcase_add_test(formula, test_formula_check_holds_a_one_percent_error);
    tcase_add_test(formula, test_formula_check_reports_kinks);
    tcase_add_test(formula, test_validate_prints_the_sites);
    suite_add_tcase(s, formula);
    return tu_run_suite(s);
}
