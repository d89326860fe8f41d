// ctest-labels: kernels
/* A ReLU, and a post-activation block's residual add, fused into the
 * normalizer before them (plan/fuse.c's pass on the graph, norm_forward_act /
 * norm_backward_act; issue 84):
 *   - the ops: norm_forward_act and norm_backward_act write what
 *     norm_forward, add_forward and the ReLU (then the ReLU's backward,
 *     pass_gradient and norm_backward) write, bit for bit, on the
 *     geometries a CNN gives (batch statistics and per-sample groups,
 *     instances, layer and RMS of images: batchnorm.c's and groupnorm.c's
 *     fused loops; feature vectors: the ops in turn), with and without
 *     the add, writing and accumulating, on 1 and 2 threads;
 *   - models: for every normalizer kind of the registry that takes images,
 *     the CNN and both ResNets built fused and unfused give the same
 *     logits, loss, gradients, running statistics and eval outputs, bit for
 *     bit, over a few steps; where the kind's layer can take a ReLU
 *     (nl_layer_vtable.fuse_relu) the fused model has fewer layers;
 *   - the pass folds on the graph under each flag alone (relu, add+relu,
 *     relu+maxpool counted) and leaves the recipe's layers with it off;
 *   - finite differences through the fused layers (a ResNet with ReLU);
 *   - whole training runs (nl_train) of a CNN and a ResNet log the same
 *     rows with NORMLAB_FUSE=0 and without;
 *   - the rule: a traced activation, or NORMLAB_FUSE=0, fuses nothing;
 *     signal propagation and block removal keep the adds (they observe
 *     them) and still fuse the normalizers' ReLUs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "arch/arch.h"
#include "config/config.h"
#include "model/model.h"
#include "norm/registry.h"
#include "plan/plan.h"
#include "train/run_model.h"
#include "testutil.h"

/* ---------------------------------------------------------------------- */
/* the ops against the ops in turn */

static bool same_bits(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) {
            fprintf(stderr, "%s: [%zu] %.9g vs %.9g\n", what, i, a[i], b[i]);
            return false;
        }
    return true;
}

static float *floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* one geometry, skip or not, accumulating or not, on `be` */
static void check_ops(nl_backend *be, nl_norm_geom g, bool skip, bool accumulate)
{
    const size_t count = (size_t)g.n * g.c * g.hw;
    const size_t stats = (size_t)nl_norm_stat_groups(&g);
    const int c = g.c;
    char what[160];
    snprintf(what, sizeof what, "n %d c %d hw %d groups %d center %d skip %d acc %d threads %d",
             g.n, g.c, g.hw, g.groups, g.center, skip, accumulate, be->threads);
    float *x = floats(count), *sk = floats(count), *gamma = floats(c), *beta = floats(c);
    float *dy1 = floats(count), *dy2 = floats(count);
    float *y1 = floats(count), *y2 = floats(count);
    float *m1 = floats(stats), *m2 = floats(stats), *r1 = floats(stats), *r2 = floats(stats);
    float *rm1 = floats(c), *rm2 = floats(c), *rv1 = floats(c), *rv2 = floats(c);
    float *dx1 = floats(count), *dx2 = floats(count), *ds1 = floats(count), *ds2 = floats(count);
    float *dg1 = floats(c), *dg2 = floats(c), *db1 = floats(c), *db2 = floats(c);
    tu_fill_normal(x, count, 3, 0.3f, 1.2f);
    tu_fill_normal(sk, count, 4, 0.0f, 1.0f);
    tu_fill_uniform(gamma, (size_t)c, 5, 0.5f, 1.5f);
    tu_fill_normal(beta, (size_t)c, 6, 0.0f, 0.5f);
    tu_fill_normal(dy1, count, 7, 0.0f, 1.0f);
    memcpy(dy2, dy1, count * sizeof *dy1);
    tu_fill_normal(dx1, count, 8, 0.0f, 1.0f);
    memcpy(dx2, dx1, count * sizeof *dx1);
    tu_fill_normal(ds1, count, 9, 0.0f, 1.0f);
    memcpy(ds2, ds1, count * sizeof *ds1);
    for (int k = 0; k < c; k++)
        rv1[k] = rv2[k] = 1.0f;
    const float momentum = 0.1f;
    /* running statistics where the geometry keeps them per channel */
    const bool running = g.center && (g.groups == 0 || g.groups == g.c);
    const nl_ops *o = be->ops;
    /* uncentred statistics as RMSNorm takes them: a scale, no shift */
    const float *shift = g.center ? beta : NULL;
    o->norm_forward_act(be, &g, x, gamma, shift, skip ? sk : NULL, y1, m1, r1,
                        running ? rm1 : NULL, running ? rv1 : NULL, &momentum);
    o->norm_forward(be, &g, x, gamma, shift, y2, m2, r2, running ? rm2 : NULL,
                    running ? rv2 : NULL, &momentum);
    if (skip)
        o->add_forward(be, count, y2, sk, y2);
    o->activation_forward(be, NL_ACT_RELU, count, y2, y2);
    ck_assert_msg(same_bits(y1, y2, count, what), "forward y: %s", what);
    ck_assert_msg(same_bits(m1, m2, stats, what) && same_bits(r1, r2, stats, what),
                  "saved statistics: %s", what);
    ck_assert_msg(same_bits(rm1, rm2, (size_t)c, what) && same_bits(rv1, rv2, (size_t)c, what),
                  "running statistics: %s", what);
    size_t zeros = 0;
    for (size_t i = 0; i < count; i++)
        zeros += y1[i] == 0.0f;
    ck_assert_msg(zeros > 0 && zeros < count, "%s: the ReLU cuts some values (%zu of %zu)", what,
                  zeros, count);
    void *ws = malloc(o->norm_backward_workspace(be, &g) + 64);
    o->norm_backward_act(be, &g, x, y1, dy1, gamma, m1, r1, dx1, accumulate, skip ? ds1 : NULL,
                         accumulate, dg1, db1, ws);
    o->activation_backward(be, NL_ACT_RELU, count, y2, dy2, dy2, false);
    if (skip)
        o->pass_gradient(be, count, dy2, ds2, accumulate);
    o->norm_backward(be, &g, x, dy2, gamma, m2, r2, dx2, accumulate, dg2, db2, ws);
    ck_assert_msg(same_bits(dx1, dx2, count, what), "backward dx: %s", what);
    ck_assert_msg(same_bits(ds1, ds2, count, what), "backward dskip: %s", what);
    ck_assert_msg(same_bits(dg1, dg2, (size_t)c, what) && same_bits(db1, db2, (size_t)c, what),
                  "backward dgamma, dbeta: %s", what);
    free(ws);
    float *all[] = {x, sk, gamma, beta, dy1, dy2, y1, y2, m1, m2, r1, r2, rm1, rm2, rv1, rv2,
                    dx1, dx2, ds1, ds2, dg1, dg2, db1, db2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* A NaN before a ReLU stays NaN, as torch.relu keeps it (issue 118: the
 * ReLU wrote 0 for it, so that a normalizer giving NaN trained to "ok"
 * at chance): the activation op, and the normalizers' fused ReLU, which
 * still write what the ops in turn write; finite values as before
 * (x <= 0 gives +0, -0 included), and the backward passes dy where y is
 * NaN (torch's threshold_backward) */
START_TEST(test_relu_keeps_nan)
{
    nl_backend *be = tu_cpu(1);
    const nl_ops *o = be->ops;
    enum { N = 37 }; /* vectors and a tail */
    float x[N], y[N], dy[N], dx[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)(i % 7) - 3.0f;
        dy[i] = 0.5f + (float)i;
    }
    x[3] = NAN, x[8] = -NAN, x[20] = -0.0f, x[35] = INFINITY, x[36] = -INFINITY;
    o->activation_forward(be, NL_ACT_RELU, N, x, y);
    for (int i = 0; i < N; i++) {
        const float want = isnan(x[i]) ? x[i] : x[i] > 0 ? x[i] : 0.0f;
        ck_assert_msg(memcmp(&y[i], &want, sizeof want) == 0, "relu(%g) is %g, wanted %g", x[i],
                      y[i], want);
    }
    o->activation_backward(be, NL_ACT_RELU, N, y, dy, dx, false);
    for (int i = 0; i < N; i++)
        ck_assert_msg(dx[i] == (isnan(y[i]) || y[i] > 0 ? dy[i] : 0.0f),
                      "relu's backward at y %g: %g", y[i], dx[i]);
    /* fused: a NaN in the skip reaches y; batch statistics of images, a
     * per-sample group, features */
    const nl_norm_geom geoms[] = {
        {.n = 4, .c = 16, .hw = 196, .groups = 0, .center = true, .eps = 1e-5f},
        {.n = 3, .c = 6, .hw = 35, .groups = 3, .center = true, .eps = 1e-5f},
        {.n = 7, .c = 12, .hw = 1, .groups = 0, .center = true, .eps = 1e-5f},
    };
    for (size_t k = 0; k < sizeof geoms / sizeof geoms[0]; k++) {
        const nl_norm_geom g = geoms[k];
        const size_t count = (size_t)g.n * g.c * g.hw;
        const size_t stats = (size_t)nl_norm_stat_groups(&g);
        float *xs = floats(count), *sk = floats(count), *gamma = floats((size_t)g.c),
              *beta = floats((size_t)g.c), *y1 = floats(count), *y2 = floats(count),
              *m = floats(stats), *r = floats(stats);
        tu_fill_normal(xs, count, 3, 0.3f, 1.2f);
        tu_fill_normal(sk, count, 4, 0.0f, 1.0f);
        for (int c = 0; c < g.c; c++)
            gamma[c] = 1.0f;
        for (size_t i = 0; i < count; i += 5)
            sk[i] = NAN;
        const float momentum = 0.1f;
        o->norm_forward_act(be, &g, xs, gamma, beta, sk, y1, m, r, NULL, NULL, &momentum);
        o->norm_forward(be, &g, xs, gamma, beta, y2, m, r, NULL, NULL, &momentum);
        o->add_forward(be, count, y2, sk, y2);
        o->activation_forward(be, NL_ACT_RELU, count, y2, y2);
        for (size_t i = 0; i < count; i += 5)
            ck_assert_msg(isnan(y1[i]), "geometry %zu: relu(norm(x) + NaN) at %zu is %g", k, i,
                          y1[i]);
        ck_assert_msg(same_bits(y1, y2, count, "relu with NaN"), "geometry %zu: fused and in "
                      "turn differ", k);
        free(xs), free(sk), free(gamma), free(beta), free(y1), free(y2), free(m), free(r);
    }
}
END_TEST

START_TEST(test_ops)
{
    /* batch statistics of images: pipelined channel blocks (c 6, 16 and
     * 40 give blocks of 1 to 4 channels), runs with and without a vector
     * tail; features; per-sample groups, instances, layer, RMS */
    const nl_norm_geom geoms[] = {
        {.n = 5, .c = 6, .hw = 35, .groups = 0, .center = true, .eps = 1e-5f},
        {.n = 4, .c = 16, .hw = 196, .groups = 0, .center = true, .eps = 1e-5f},
        {.n = 3, .c = 40, .hw = 49, .groups = 0, .center = true, .eps = 1e-3f},
        {.n = 2, .c = 9, .hw = 7, .groups = 0, .center = true, .eps = 1e-5f},
        {.n = 7, .c = 12, .hw = 1, .groups = 0, .center = true, .eps = 1e-5f},
        {.n = 3, .c = 6, .hw = 35, .groups = 3, .center = true, .eps = 1e-5f},
        {.n = 3, .c = 6, .hw = 35, .groups = 6, .center = true, .eps = 1e-5f},
        {.n = 3, .c = 8, .hw = 49, .groups = 1, .center = true, .eps = 1e-5f},
        {.n = 3, .c = 8, .hw = 49, .groups = 1, .center = false, .eps = 1e-5f},
        /* per-sample groups through groupnorm.c's fused loops: C not a
         * multiple of 8, runs shorter than a vector (all tail), one
         * value a plane, several groups, instances with running
         * statistics, a sample alone (the second thread idle), runs
         * across NL_CHUNK, and shapes past NL_PARALLEL_MIN so that two
         * threads split the blocks; feature vectors (hw 1) by groups run
         * the ops in turn */
        {.n = 3, .c = 5, .hw = 3, .groups = 1, .center = true, .eps = 1e-5f},
        {.n = 4, .c = 7, .hw = 2, .groups = 7, .center = true, .eps = 1e-5f},
        {.n = 4, .c = 10, .hw = 13, .groups = 5, .center = true, .eps = 1e-5f},
        {.n = 3, .c = 7, .hw = 9, .groups = 7, .center = true, .eps = 1e-5f},
        {.n = 3, .c = 6, .hw = 70, .groups = 2, .center = false, .eps = 1e-5f},
        {.n = 1, .c = 6, .hw = 40, .groups = 1, .center = true, .eps = 1e-5f},
        {.n = 5, .c = 6, .hw = 1100, .groups = 3, .center = true, .eps = 1e-5f},
        {.n = 7, .c = 5, .hw = 961, .groups = 1, .center = true, .eps = 1e-5f},
        {.n = 9, .c = 3, .hw = 1225, .groups = 3, .center = false, .eps = 1e-5f},
        {.n = 6, .c = 12, .hw = 1, .groups = 3, .center = true, .eps = 1e-5f},
        {.n = 5, .c = 9, .hw = 1, .groups = 1, .center = false, .eps = 1e-5f},
    };
    for (int threads = 1; threads <= 2; threads++) {
        nl_backend *be = tu_cpu(threads);
        for (size_t k = 0; k < sizeof geoms / sizeof geoms[0]; k++)
            for (int skip = 0; skip < 2; skip++)
                for (int acc = 0; acc < 2; acc++)
                    check_ops(be, geoms[k], skip, acc);
    }
}
END_TEST

/* ---------------------------------------------------------------------- */
/* whole models, fused and unfused */

static nl_model_spec model_spec(nl_arch arch, nl_placement placement, nl_norm_kind kind)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = arch;
    spec.in_c = 2;
    spec.in_h = 8;
    spec.in_w = 6;
    spec.classes = 5;
    spec.n_widths = 2;
    spec.widths[0] = 8;
    spec.widths[1] = 8;
    spec.activation = NL_ACT_RELU;
    nl_norm_spec_defaults(&spec.norm, kind);
    spec.norm.placement = placement;
    spec.norm.groups = 2;
    spec.norm.virtual_batch = 3;
    return spec;
}

static int count_kind(const nl_model *m, const char *kind)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        n += strcmp(m->layers[i]->vt->kind, kind) == 0;
    return n;
}

/* the unfused model has a layer that can take a ReLU with a ReLU after it */
static bool fusable(const nl_model *m)
{
    for (int i = 0; i + 1 < m->n_layers; i++)
        if (m->layers[i]->vt->fuse_relu && strcmp(m->layers[i + 1]->vt->kind, "activation") == 0 &&
            m->layers[i + 1]->in[0] == m->layers[i]->out)
            return true;
    return false;
}

static void check_model_pair(nl_arch arch, nl_placement placement, nl_norm_kind kind,
                             int *n_fused)
{
    nl_backend *be = tu_cpu(2);
    nl_model_spec spec = model_spec(arch, placement, kind);
    char what[128];
    snprintf(what, sizeof what, "%s/%s/%s", nl_name_of(&nl_arch_names, arch),
             nl_name_of(&nl_placement_names, placement), nl_name_of(&nl_norm_names, kind));
    nl_model *m[2] = {NULL, NULL};
    for (int f = 0; f < 2; f++) {
        spec.fuse_norm_relu = spec.fuse_residual_add = f == 1;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec, be, 6, 6, 11, &m[f], &err) == NL_OK, "%s: %s", what,
                      err.msg);
    }
    ck_assert_int_eq(m[0]->n_params, m[1]->n_params);
    ck_assert_int_eq(m[0]->n_states, m[1]->n_states);
    ck_assert_msg(m[1]->n_layers <= m[0]->n_layers, "%s", what);
    if (fusable(m[0])) {
        ck_assert_msg(m[1]->n_layers < m[0]->n_layers, "%s: a ReLU after a normalizer that "
                      "takes one was not fused", what);
        ck_assert_msg(count_kind(m[1], "activation") < count_kind(m[0], "activation"), "%s", what);
        ++*n_fused;
    }
    if (arch == NL_ARCH_RESNET && placement == NL_PLACE_POST && fusable(m[0]))
        ck_assert_msg(count_kind(m[1], "residual_add") == 0 && count_kind(m[0], "residual_add") > 0,
                      "%s: the blocks' adds fused", what);
    const int n = 6;
    float x[6 * 2 * 8 * 6];
    int32_t labels[6] = {1, 4, 0, 2, 4, 3};
    tu_fill_normal(x, sizeof x / sizeof x[0], 17, 0.2f, 1.0f);
    for (int step = 0; step < 3; step++) {
        double loss[2];
        for (int f = 0; f < 2; f++) {
            nl_model_load_batch(m[f], x, labels, n);
            nl_model_reset_metrics(m[f]);
            nl_model_forward(m[f], n, NL_MODE_TRAIN);
            double metrics[2];
            nl_model_read_metrics(m[f], metrics);
            loss[f] = metrics[0];
            nl_model_backward(m[f], n);
        }
        ck_assert_msg(memcmp(&loss[0], &loss[1], sizeof loss[0]) == 0, "%s step %d: loss %.17g vs %.17g",
                      what, step, loss[0], loss[1]);
        ck_assert_msg(same_bits(m[0]->logits->data, m[1]->logits->data,
                                nl_shape_count(m[0]->logits->shape), what),
                      "%s step %d: logits", what, step);
        for (int i = 0; i < m[0]->n_params; i++) {
            nl_param *p0 = m[0]->params[i], *p1 = m[1]->params[i];
            ck_assert_str_eq(p0->name, p1->name);
            ck_assert_msg(same_bits(p0->grad, p1->grad, p0->count, p0->name), "%s step %d: d %s",
                          what, step, p0->name);
            /* the same step on both: p -= 0.1 * grad */
            for (size_t k = 0; k < p0->count; k++) {
                p0->data[k] -= 0.1f * p0->grad[k];
                p1->data[k] -= 0.1f * p1->grad[k];
            }
        }
        for (int i = 0; i < m[0]->n_states; i++)
            ck_assert_msg(same_bits(m[0]->states[i]->data, m[1]->states[i]->data,
                                    m[0]->states[i]->count, m[0]->states[i]->name),
                          "%s step %d: %s", what, step, m[0]->states[i]->name);
    }
    /* evaluation: the running statistics where the kind keeps them */
    for (int f = 0; f < 2; f++) {
        nl_model_load_batch(m[f], x, labels, n);
        nl_model_forward(m[f], n, NL_MODE_EVAL);
    }
    ck_assert_msg(same_bits(m[0]->logits->data, m[1]->logits->data,
                            nl_shape_count(m[0]->logits->shape), what),
                  "%s: eval logits", what);
    nl_model_free(m[0]);
    nl_model_free(m[1]);
}

START_TEST(test_models)
{
    int fused = 0, kinds = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
        if (!row->images || !row->adds_layer)
            continue;
        kinds++;
        check_model_pair(NL_ARCH_CNN, NL_PLACE_BEFORE, (nl_norm_kind)k, &fused);
        check_model_pair(NL_ARCH_RESNET, NL_PLACE_POST, (nl_norm_kind)k, &fused);
        check_model_pair(NL_ARCH_RESNET, NL_PLACE_PRE, (nl_norm_kind)k, &fused);
    }
    /* the statistics layer takes the ReLU: batch, layer, group and
     * instance norm at least, in all three models */
    ck_assert_msg(fused >= 12, "fused in %d models of %d kinds", fused, kinds);
}
END_TEST

/* the layers of a planned graph whose fused field is `what` */
static int count_fused(const nl_model *m, const char *what)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        n += m->layers[i]->fused && strcmp(m->layers[i]->fused, what) == 0;
    return n;
}

static nl_model *planned(const nl_model_spec *spec)
{
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_plan(spec, 6, 6, 1, &m, &err) == NL_OK, "%s", err.msg);
    return m;
}

/* the recipe builds every ReLU, add and pooling apart and the fusion pass
 * folds them on the graph, each under its own flag: a post-activation
 * ResNet's blocks end in one normalizer+add+relu each (with act1's
 * normalizer+relu), a CNN stage's ReLU goes into its max pooling; with the
 * flags off the separate layers stay, named as the recipe named them */
START_TEST(test_graph_folds)
{
    nl_model_spec spec = model_spec(NL_ARCH_RESNET, NL_PLACE_POST, NL_NORM_BATCH);
    spec.blocks_per_stage = 1;
    nl_model *m = planned(&spec);
    const int blocks = spec.n_widths * spec.blocks_per_stage;
    ck_assert_int_eq(count_fused(m, "add+relu"), blocks);
    ck_assert_int_eq(count_fused(m, "relu"), blocks + 1); /* each act1 and the stem's */
    ck_assert_int_eq(count_kind(m, "residual_add") + count_kind(m, "activation"), 0);
    nl_model_free(m);
    spec.fuse_residual_add = false;
    m = planned(&spec);
    ck_assert_int_eq(count_fused(m, "add+relu"), 0);
    ck_assert_int_eq(count_kind(m, "residual_add"), blocks);
    ck_assert_int_eq(count_kind(m, "activation"), blocks); /* each relu(add) */
    nl_model_free(m);
    spec.fuse_norm_relu = false;
    m = planned(&spec);
    ck_assert_int_eq(count_fused(m, "relu") + count_fused(m, "add+relu"), 0);
    ck_assert_int_eq(count_kind(m, "activation"), 2 * blocks + 1);
    nl_model_free(m);

    spec = model_spec(NL_ARCH_CNN, NL_PLACE_BEFORE, NL_NORM_BATCH);
    spec.pool = NL_POOL_MAX;
    m = planned(&spec);
    ck_assert_int_eq(count_kind(m, "relu+maxpool"), spec.n_widths);
    ck_assert_int_eq(count_kind(m, "activation") + count_fused(m, "relu"), 0);
    nl_model_free(m);
    spec.fuse_relu_pool = false;
    m = planned(&spec);
    ck_assert_int_eq(count_kind(m, "relu+maxpool"), 0);
    ck_assert_int_eq(count_fused(m, "relu"), spec.n_widths); /* the normalizers take them */
    nl_model_free(m);
}
END_TEST

/* finite differences through the fused layers: a post-activation ResNet
 * with batch norm and ReLU, every parameter (points near a kink cost at
 * most the floor) */
START_TEST(test_fused_gradients)
{
    nl_backend *be = tu_cpu(1);
    const nl_norm_kind kinds[] = {NL_NORM_BATCH, NL_NORM_GROUP};
    for (size_t q = 0; q < sizeof kinds / sizeof kinds[0]; q++) {
        nl_model_spec spec = model_spec(NL_ARCH_RESNET, NL_PLACE_POST, kinds[q]);
        nl_model *m = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec, be, 5, 5, 5, &m, &err) == NL_OK, "%s", err.msg);
        ck_assert_int_eq(count_kind(m, "activation"), 0);
        const int n = 5;
        float x[5 * 2 * 8 * 6];
        int32_t labels[5] = {1, 4, 0, 2, 4};
        tu_fill_normal(x, sizeof x / sizeof x[0], 17, 0.2f, 1.0f);
        nl_model_load_batch(m, x, labels, n);
        tu_model_mean_loss(m, n);
        nl_model_backward(m, n);
        for (int i = 0; i < m->n_params; i++) {
            double max_grad;
            const double max_diff = tu_param_fd_error(m, n, i, 100 + i, 3e-4f, &max_grad);
            ck_assert_msg(max_diff <= 2e-2 * max_grad + 1e-3, "%s d %s: |fd - backward| %.3g, "
                          "max |grad| %.3g", nl_name_of(&nl_norm_names, kinds[q]),
                          m->params[i]->name, max_diff, max_grad);
        }
        nl_model_free(m);
    }
}
END_TEST

/* ---------------------------------------------------------------------- */
/* whole training runs and the rule */

static const char *const run_configs[] = {
    "data:\n  dataset: synthetic\n  train_size: 256\n  test_size: 64\n"
    "model:\n  arch: cnn\n  widths: [8, 16]\n  norm:\n    type: group\n    groups: 4\n"
    "train:\n  batch_size: 32\n  steps: 12\n  eval_every: 6\n  log_every: 3\n"
    "  optimizer:\n    lr: 0.05\n    momentum: 0.9\n",
    "data:\n  dataset: synthetic\n  train_size: 256\n  test_size: 64\n"
    "model:\n  arch: resnet\n  widths: [8, 16]\n  norm:\n    type: batch\n    placement: post\n"
    "train:\n  batch_size: 32\n  steps: 12\n  eval_every: 6\n  log_every: 3\n"
    "  optimizer:\n    lr: 0.05\n    momentum: 0.9\n",
    "data:\n  dataset: synthetic\n  train_size: 256\n  test_size: 64\n"
    "model:\n  arch: resnet\n  widths: [8, 16]\n  norm:\n    type: layer\n    placement: pre\n"
    "train:\n  batch_size: 32\n  steps: 12\n  eval_every: 6\n  log_every: 3\n"
    "  optimizer:\n    lr: 0.05\n    momentum: 0.9\n",
};

START_TEST(test_runs_repeat_unfused)
{
    enum { MAX_ROWS = 64 };
    nl_backend *be = tu_cpu(2);
    nl_metric_row fused[MAX_ROWS], unfused[MAX_ROWS];
    tu_train_variant v = {0};
    unsetenv("NORMLAB_FUSE");
    const int n = tu_train_rows(be, run_configs[_i], &v, fused, MAX_ROWS);
    setenv("NORMLAB_FUSE", "0", 1);
    tu_train_variant w = {0};
    ck_assert_int_eq(tu_train_rows(be, run_configs[_i], &w, unfused, MAX_ROWS), n);
    unsetenv("NORMLAB_FUSE");
    ck_assert_int_gt(n, 4);
    tu_assert_same_rows(unfused, fused, n, "NORMLAB_FUSE=0", "fused", _i);
}
END_TEST

/* the model nl_run_model_spec makes of a config text with overrides */
static nl_model *run_model(const char *text, const char *const *sets, int n_sets)
{
    nl_config cfg;
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(text, "test", sets, n_sets, &cfg, &err) == NL_OK, "%s",
                  err.msg);
    nl_model_spec spec;
    nl_run_model_spec(&cfg, &spec);
    nl_model *m = NULL;
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), cfg.train.batch_size, cfg.train.batch_size,
                                 cfg.seed, &m, &err) == NL_OK, "%s", err.msg);
    return m;
}

/* NORMLAB_FUSE takes on and off only: another value is refused before any
 * work, as NORMLAB_CONV's and NORMLAB_GEMM's are */
START_TEST(test_fuse_switch_refused)
{
    tu_tmp_make("fuse");
    ck_assert_int_eq(tu_normlab("list"), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd '%s' && NORMLAB_FUSE=maybe '%s' list >out.txt 2>&1", tu_tmp, NORMLAB_BINARY);
    const int status = system(cmd);
    char *out = tu_tmp_read("out.txt");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2 && strstr(out, "NORMLAB_FUSE=maybe") &&
                      strstr(out, "accepted"), "%s", out);
    free(out);
    setenv("NORMLAB_FUSE", "off", 1);
    nl_error err = {0};
    ck_assert_int_eq(nl_normlab_fuse_check(&err), NL_OK);
    ck_assert(nl_normlab_fuse_off());
    setenv("NORMLAB_FUSE", "yes", 1);
    ck_assert_int_eq(nl_normlab_fuse_check(&err), NL_ERR_USAGE);
    unsetenv("NORMLAB_FUSE");
    tu_tmp_remove();
}
END_TEST

/* the lines of `out` whose text holds `what` */
static int lines_with(const char *out, const char *what)
{
    int n = 0;
    for (const char *p = out; (p = strstr(p, what)); p = strchr(p, '\n'))
        if (n++, !strchr(p, '\n'))
            break;
    return n;
}

/* `normlab show` lists the model a run builds: each fused ReLU (and add)
 * named after its normalizer's kind, and with NORMLAB_FUSE=0 the
 * activation and add layers of their own, one for each */
START_TEST(test_show_names_fusions)
{
    tu_tmp_make("fuse-show");
    tu_tmp_write("c.yaml", run_configs[1]);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' show c.yaml >fused.txt 2>&1 && NORMLAB_FUSE=0 '%s' "
             "show c.yaml >unfused.txt 2>&1", tu_tmp, NORMLAB_BINARY, NORMLAB_BINARY);
    ck_assert_int_eq(system(cmd), 0);
    char *fused = tu_tmp_read("fused.txt"), *unfused = tu_tmp_read("unfused.txt");
    const int relus = lines_with(fused, "+relu"), adds = lines_with(fused, "+add+relu");
    ck_assert_msg(relus > 0 && adds > 0, "%s", fused);
    ck_assert_msg(lines_with(fused, " activation ") == 0 && lines_with(fused, " residual_add ") == 0,
                  "%s", fused);
    ck_assert_msg(lines_with(unfused, "+relu") == 0, "%s", unfused);
    ck_assert_msg(lines_with(unfused, " activation ") >= relus, "%d fused ReLUs:\n%s", relus,
                  unfused);
    ck_assert_msg(lines_with(unfused, " residual_add ") == adds, "%d fused adds:\n%s", adds,
                  unfused);
    free(fused);
    free(unfused);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_rule)
{
    const char *resnet = run_configs[1];
    /* no probe: every ReLU and add fused */
    nl_model *m = run_model(resnet, NULL, 0);
    ck_assert_int_eq(count_kind(m, "activation"), 0);
    ck_assert_int_eq(count_kind(m, "residual_add"), 0);
    ck_assert_ptr_null(nl_model_act(m, "stem.norm"));
    ck_assert_ptr_nonnull(nl_model_act(m, "stem.act"));
    nl_model_free(m);
    /* a traced activation: any may be named, the pre-activations too */
    const char *trace[] = {"train.trace.activation=stem.norm"};
    m = run_model(resnet, trace, 1);
    ck_assert_int_gt(count_kind(m, "activation"), 0);
    ck_assert_int_gt(count_kind(m, "residual_add"), 0);
    ck_assert_ptr_nonnull(nl_model_act(m, "stem.norm"));
    nl_model_free(m);
    /* the probes that observe the adds keep them; the ReLUs after the
     * blocks' first normalizers still fuse */
    const char *probes[][1] = {{"train.log.signal_propagation=true"},
                               {"train.log.block_skip=true"}};
    for (int k = 0; k < 2; k++) {
        m = run_model(resnet, probes[k], 1);
        ck_assert_msg(count_kind(m, "residual_add") == 2, "%s", probes[k][0]);
        ck_assert_msg(count_kind(m, "activation") == 2, "%s: the ReLUs after the adds",
                      probes[k][0]);
        ck_assert_ptr_null(nl_model_act(m, "stage1.block1.norm1"));
        nl_model_free(m);
    }
    /* variance shift reads the normalizers' inputs: all fused */
    const char *varshift[] = {"train.log.variance_shift=true"};
    m = run_model(resnet, varshift, 1);
    ck_assert_int_eq(count_kind(m, "residual_add"), 0);
    nl_model_free(m);
    /* NORMLAB_FUSE=0: the unfused model */
    setenv("NORMLAB_FUSE", "0", 1);
    m = run_model(resnet, NULL, 0);
    unsetenv("NORMLAB_FUSE");
    ck_assert_int_gt(count_kind(m, "activation"), 0);
    ck_assert_int_gt(count_kind(m, "residual_add"), 0);
    nl_model_free(m);
    /* SkipInit's gain scales the branch before the add: the add stays */
    const char *skip_init[] = {"model.skip_init=true"};
    m = run_model(resnet, skip_init, 1);
    ck_assert_int_gt(count_kind(m, "residual_add"), 0);
    nl_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fuse");
    TCase *ops = tcase_create("ops");
    tcase_add_test(ops, test_ops);
    tcase_add_test(ops, test_relu_keeps_nan);
    suite_add_tcase(s, ops);
    TCase *models = tcase_create("models");
    tcase_add_test(models, test_models);
    tcase_add_test(models, test_graph_folds);
    tcase_add_test(models, test_fused_gradients);
    tcase_add_loop_test(models, test_runs_repeat_unfused, 0,
                        (int)(sizeof run_configs / sizeof run_configs[0]));
    tcase_add_test(models, test_rule);
    tcase_add_test(models, test_show_names_fusions);
    tcase_add_test(models, test_fuse_switch_refused);
    suite_add_tcase(s, models);
    return tu_run_suite(s);
}
