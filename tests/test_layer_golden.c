// ctest-labels: kernels
/* Layers against PyTorch: linear, convolutions, pooling, activations and
 * softmax cross-entropy, forward and backward, normalized error <= 1e-5. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "model/model.h"
#include "testutil.h"

#define TOL 1e-5

typedef enum { K_LINEAR, K_CONV, K_POOL, K_RELU_POOL, K_GAP, K_ACT } kind;

typedef struct {
    kind kind;
    int out, kernel, stride, pad;
    bool bias;
    nl_pool_kind pool;
    nl_activation act;
    float ws_eps; /* > 0: weight standardization */
} layer_ctx;

static nl_act *build_layer(nl_builder *b, nl_act *input, void *vctx)
{
    layer_ctx *c = vctx;
    input->needs_grad = 1;
    switch (c->kind) {
    case K_LINEAR:
        return nl_linear_ws(b, "layer", nl_flatten(b, "flat", input), c->out, c->bias,
                            NL_FILL_NORMAL, 0.1f, c->ws_eps);
    case K_CONV:
        return nl_conv2d_ws(b, "layer", input, c->out, c->kernel, c->stride, c->pad, c->bias, 0.1f,
                            c->ws_eps);
    case K_POOL:
        return nl_pool2d(b, "layer", input, c->pool, c->kernel, c->stride, c->pad);
    case K_RELU_POOL:
        return nl_relu_maxpool2d(b, "layer", input, c->kernel, c->stride, c->pad);
    case K_GAP:
        return nl_global_avgpool(b, "layer", input);
    case K_ACT:
        return nl_activation_layer(b, "layer", input, c->act);
    }
    return NULL;
}

static void check_layer(const char *name, layer_ctx ctx)
{
    tu_fixture *fx = tu_fixture_load("layer_goldens.nlfx");
    char key[160], what[200];
    snprintf(key, sizeof key, "%s.x", name);
    const tu_tensor *x = tu_get(fx, key);
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    const int n = x->dims[0];
    spec.in_c = x->dims[1];
    spec.in_h = x->ndim == 4 ? x->dims[2] : 1;
    spec.in_w = x->ndim == 4 ? x->dims[3] : 1;
    nl_model *m = NULL;
    nl_error err = {0};
    nl_backend *be = tu_cpu(2);
    ck_assert_msg(nl_model_build_graph(&spec, be, n, n, 1, build_layer, &ctx, &m, &err) == NL_OK,
                  "%s: %s", name, err.msg);
    const char *pnames[] = {"weight", "bias"};
    for (int i = 0; i < 2; i++) {
        char pname[64];
        snprintf(pname, sizeof pname, "layer.%s", pnames[i]);
        nl_param *p = nl_model_param(m, pname);
        snprintf(key, sizeof key, "%s.%s", name, pnames[i]);
        const tu_tensor *t = tu_find(fx, key);
        ck_assert_msg((p != NULL) == (t != NULL), "%s: parameter %s presence", name, pname);
        if (p) {
            ck_assert_uint_eq(p->count, t->count);
            be->ops->upload(be, p->data, t->data, t->count * sizeof(float));
        }
    }
    be->ops->upload(be, m->input->data, x->data, x->count * sizeof(float));
    nl_model_forward(m, n, NL_MODE_TRAIN);
    snprintf(key, sizeof key, "%s.y", name);
    const tu_tensor *y = tu_get(fx, key);
    ck_assert_uint_eq(y->count, (size_t)n * nl_shape_per_sample(m->logits->shape));
    snprintf(what, sizeof what, "%s forward", name);
    tu_assert_close(m->logits->data, y->data, y->count, TOL, what);
    snprintf(key, sizeof key, "%s.dy", name);
    nl_model_backward_from(m, n, tu_getf(fx, key));
    snprintf(key, sizeof key, "%s.dx", name);
    snprintf(what, sizeof what, "%s dx", name);
    tu_assert_close(m->input->grad, tu_getf(fx, key), x->count, TOL, what);
    for (int i = 0; i < 2; i++) {
        char pname[64];
        snprintf(pname, sizeof pname, "layer.%s", pnames[i]);
        nl_param *p = nl_model_param(m, pname);
        if (!p)
            continue;
        snprintf(key, sizeof key, "%s.d%s", name, pnames[i]);
        snprintf(what, sizeof what, "%s d%s", name, pnames[i]);
        tu_assert_close(p->grad, tu_getf(fx, key), p->count, TOL, what);
    }
    nl_model_free(m);
    tu_fixture_free(fx);
}

START_TEST(test_linear)
{
    check_layer("linear", (layer_ctx){.kind = K_LINEAR, .out = 7, .bias = true});
    check_layer("linear_nobias", (layer_ctx){.kind = K_LINEAR, .out = 4, .bias = false});
    check_layer("linear_skinny", (layer_ctx){.kind = K_LINEAR, .out = 7, .bias = true});
    check_layer("linear_gemm", (layer_ctx){.kind = K_LINEAR, .out = 7, .bias = true});
    check_layer("linear_tall", (layer_ctx){.kind = K_LINEAR, .out = 7, .bias = true});
    check_layer("linear_wide", (layer_ctx){.kind = K_LINEAR, .out = 257, .bias = true});
    check_layer("linear_deep", (layer_ctx){.kind = K_LINEAR, .out = 29, .bias = true});
    check_layer("linear_packed", (layer_ctx){.kind = K_LINEAR, .out = 50, .bias = true});
    check_layer("linear_packed_tall", (layer_ctx){.kind = K_LINEAR, .out = 50, .bias = true});
    check_layer("linear_sgemm_forward", (layer_ctx){.kind = K_LINEAR, .out = 30, .bias = true});
    check_layer("linear_sgemm", (layer_ctx){.kind = K_LINEAR, .out = 30, .bias = true});
}
END_TEST

START_TEST(test_conv)
{
    check_layer("conv3x3", (layer_ctx){.kind = K_CONV, .out = 5, .kernel = 3, .stride = 1, .pad = 1, .bias = true});
    check_layer("conv3x3_s2", (layer_ctx){.kind = K_CONV, .out = 6, .kernel = 3, .stride = 2, .pad = 1});
    check_layer("conv3x3_winograd", (layer_ctx){.kind = K_CONV, .out = 9, .kernel = 3, .stride = 1, .pad = 1, .bias = true});
    check_layer("conv3x3_winograd_wide", (layer_ctx){.kind = K_CONV, .out = 8, .kernel = 3, .stride = 1, .pad = 1});
    check_layer("conv3x3_winograd_chunks", (layer_ctx){.kind = K_CONV, .out = 10, .kernel = 3, .stride = 1, .pad = 1, .bias = true});
    check_layer("conv1x1_s2", (layer_ctx){.kind = K_CONV, .out = 3, .kernel = 1, .stride = 2, .pad = 0});
    check_layer("conv1x1", (layer_ctx){.kind = K_CONV, .out = 2, .kernel = 1, .stride = 1, .pad = 0, .bias = true});
}
END_TEST

START_TEST(test_weight_standardization)
{
    check_layer("linear_ws", (layer_ctx){.kind = K_LINEAR, .out = 7, .bias = true, .ws_eps = 1e-6f});
    check_layer("conv3x3_ws", (layer_ctx){.kind = K_CONV, .out = 5, .kernel = 3, .stride = 1, .pad = 1, .ws_eps = 0.05f});
    check_layer("conv3x3_ws_winograd", (layer_ctx){.kind = K_CONV, .out = 9, .kernel = 3, .stride = 1, .pad = 1, .bias = true, .ws_eps = 1e-6f});
}
END_TEST

START_TEST(test_pool)
{
    check_layer("maxpool2", (layer_ctx){.kind = K_POOL, .pool = NL_POOL_MAX, .kernel = 2, .stride = 2});
    check_layer("avgpool2", (layer_ctx){.kind = K_POOL, .pool = NL_POOL_AVG, .kernel = 2, .stride = 2});
    check_layer("maxpool3_s2_p1", (layer_ctx){.kind = K_POOL, .pool = NL_POOL_MAX, .kernel = 3, .stride = 2, .pad = 1});
    check_layer("maxpool2_wide", (layer_ctx){.kind = K_POOL, .pool = NL_POOL_MAX, .kernel = 2, .stride = 2});
    check_layer("avgpool2_wide", (layer_ctx){.kind = K_POOL, .pool = NL_POOL_AVG, .kernel = 2, .stride = 2});
    check_layer("gap", (layer_ctx){.kind = K_GAP});
    check_layer("relu_maxpool2", (layer_ctx){.kind = K_RELU_POOL, .kernel = 2, .stride = 2});
    check_layer("relu_maxpool2_wide", (layer_ctx){.kind = K_RELU_POOL, .kernel = 2, .stride = 2});
    check_layer("relu_maxpool3_s2_p1", (layer_ctx){.kind = K_RELU_POOL, .kernel = 3, .stride = 2, .pad = 1});
}
END_TEST

/* The fused layer must give the numbers of ReLU then max pooling exactly,
 * including where the goldens' random normals rarely go: exact zeros, ties,
 * all-negative windows, NaN (which the ReLU keeps, as torch.relu), signed zeros
 * in dy, and a gradient added to one already there. The reference is the
 * two separate ops (which the goldens check against PyTorch). */
static void check_fused_exact(nl_backend *be, int n, int c, int h, int w, int kernel, int stride,
                              int pad)
{
    nl_pool_geom g = {.kind = NL_POOL_MAX, .c = c, .in_h = h, .in_w = w, .kernel_h = kernel,
                      .kernel_w = kernel, .stride = stride, .pad = pad};
    g.out_h = (h + 2 * pad - kernel) / stride + 1;
    g.out_w = (w + 2 * pad - kernel) / stride + 1;
    const size_t in_n = (size_t)n * c * h * w, out_n = (size_t)n * c * g.out_h * g.out_w;
    float *x = malloc(in_n * sizeof *x), *r = malloc(in_n * sizeof *r);
    float *y_ref = malloc(out_n * sizeof *y_ref), *y = malloc(out_n * sizeof *y);
    float *dy = malloc(out_n * sizeof *dy), *da = malloc(in_n * sizeof *da);
    float *dx_ref = malloc(in_n * sizeof *dx_ref), *dx = malloc(in_n * sizeof *dx);
    int32_t *am_ref = malloc(out_n * sizeof *am_ref), *am = malloc(out_n * sizeof *am);
    tu_fill_normal(x, in_n, 31, 0.0f, 1.0f);
    for (size_t i = 0; i < in_n; i++) {
        x[i] = roundf(x[i] * 2.0f) / 2.0f; /* ties and exact zeros */
        if (i % 97 == 5)
            x[i] = NAN;
        if (i % 89 == 7)
            x[i] = -0.0f;
    }
    tu_fill_normal(dy, out_n, 32, 0.0f, 1.0f);
    for (size_t i = 0; i < out_n; i += 13)
        dy[i] = -0.0f;
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        /* reference: relu, plain pooling, pooling's backward, relu's backward */
        be->ops->activation_forward(be, NL_ACT_RELU, in_n, x, r);
        be->ops->pool_forward(be, &g, n, r, y_ref, am_ref);
        be->ops->pool_backward(be, &g, n, dy, am_ref, da, false);
        tu_fill_normal(dx_ref, in_n, 33, 0.0f, 1.0f);
        memcpy(dx, dx_ref, in_n * sizeof *dx);
        be->ops->activation_backward(be, NL_ACT_RELU, in_n, r, da, dx_ref, accumulate);
        /* fused */
        nl_pool_geom fused = g;
        fused.relu_input = true;
        be->ops->pool_forward(be, &fused, n, x, y, am);
        be->ops->pool_backward(be, &fused, n, dy, am, dx, accumulate);
        char what[128];
        snprintf(what, sizeof what, "relu+maxpool %dx%dx%dx%d k%d s%d p%d acc=%d", n, c, h, w,
                 kernel, stride, pad, accumulate);
        ck_assert_msg(memcmp(y, y_ref, out_n * sizeof *y) == 0, "%s: forward differs", what);
        for (size_t o = 0; o < out_n; o++)
            ck_assert_msg(y[o] <= 0.0f ? am[o] == -1 : am[o] == am_ref[o], /* NaN: its index */
                          "%s: argmax %zu is %d (unfused %d, y %g)", what, o, am[o], am_ref[o],
                          y[o]);
        /* overlapping windows adding to a gradient: the fused backward adds
         * each window's share in turn, the two layers add their sum */
        const bool rounds = accumulate && stride < kernel;
        for (size_t i = 0; i < in_n; i++)
            ck_assert_msg(rounds ? fabsf(dx[i] - dx_ref[i]) <= 1e-6f * (1.0f + fabsf(dx_ref[i]))
                                 : memcmp(&dx[i], &dx_ref[i], sizeof *dx) == 0,
                          "%s: dx[%zu] %.9g, unfused %.9g", what, i, dx[i], dx_ref[i]);
    }
    free(x), free(r), free(y_ref), free(y), free(dy), free(da), free(dx_ref), free(dx);
    free(am_ref), free(am);
}

START_TEST(test_relu_pool_fused_exact)
{
    for (int threads = 1; threads <= 2; threads++) {
        nl_backend *be = tu_cpu(threads);
        check_fused_exact(be, 3, 5, 7, 6, 2, 2, 0);    /* rows under 8 windows, odd height */
        check_fused_exact(be, 2, 4, 6, 38, 2, 2, 0);   /* 19 windows: vectors and an overlap */
        check_fused_exact(be, 2, 3, 9, 33, 2, 2, 0);   /* odd width and height */
        check_fused_exact(be, 8, 32, 28, 28, 2, 2, 0); /* the bench CNN's first stage */
        check_fused_exact(be, 8, 64, 14, 14, 2, 2, 0); /* and its second */
        check_fused_exact(be, 2, 3, 7, 7, 3, 2, 1);    /* overlapping windows */
    }
}
END_TEST

/* The 2x2 stride-2 max pooling's vector paths (eight windows from two
 * in-lane shuffled rows, narrow rows written past their end or masked, the
 * overlapping last vector) against a plain loop written here: every width
 * from 2 to 40, odd and even heights, ReLU fused or not, a new gradient or
 * one added to, 1 and 2 threads. NaN, ties, zeros and signed zeros as in
 * check_fused_exact. */
static void reference_max_2x2(int planes, int h, int w, bool relu, const float *x, float *y,
                              int32_t *argmax)
{
    const int oh_n = h / 2, ow_n = w / 2;
    for (int p = 0; p < planes; p++)
        for (int oh = 0; oh < oh_n; oh++)
            for (int ow = 0; ow < ow_n; ow++) {
                float best = 0.0f;
                int32_t at = -1;
                for (int k = 0; k < 4; k++) {
                    const int32_t i = (int32_t)((size_t)p * h * w + (size_t)(2 * oh + k / 2) * w +
                                                2 * ow + k % 2);
                    float v = x[i];
                    if (relu) /* NaN kept, as torch.relu (issue 118) */
                        v = v <= 0.0f ? 0.0f : v;
                    if (k == 0 || v > best || v != v) {
                        best = v;
                        at = i;
                    }
                }
                const size_t o = ((size_t)p * oh_n + oh) * ow_n + ow;
                y[o] = best;
                argmax[o] = relu && best <= 0.0f ? -1 : at; /* NaN: its index */
            }
}

START_TEST(test_max_pool_2x2_against_loop)
{
    nl_backend *be = tu_cpu(2);
    for (int threads = 1; threads <= 2; threads++) {
        be->threads = threads;
        omp_set_num_threads(threads);
        for (int w = 2; w <= 40; w++)
            for (int h = 2; h <= 5; h += 3) {
                /* enough planes to be split over threads (a narrow row's
                 * vector must not reach into another thread's plane) */
                const int n = 3, c = 32768 / (n * h * w) + 1, planes = n * c;
                nl_pool_geom g = {.kind = NL_POOL_MAX, .c = c, .in_h = h, .in_w = w,
                                  .out_h = h / 2, .out_w = w / 2, .kernel_h = 2, .kernel_w = 2,
                                  .stride = 2};
                const size_t in_n = (size_t)planes * h * w, out_n = (size_t)planes * (h / 2) * (w / 2);
                float *x = malloc(in_n * sizeof *x), *y = malloc(out_n * sizeof *y);
                float *y_ref = malloc(out_n * sizeof *y_ref), *dy = malloc(out_n * sizeof *dy);
                float *dx = malloc(in_n * sizeof *dx), *dx_ref = malloc(in_n * sizeof *dx_ref);
                int32_t *am = malloc(out_n * sizeof *am), *am_ref = malloc(out_n * sizeof *am_ref);
                tu_fill_normal(x, in_n, 40 + w, 0.0f, 1.0f);
                for (size_t i = 0; i < in_n; i++) {
                    x[i] = roundf(x[i] * 2.0f) / 2.0f;
                    if (i % 61 == 3)
                        x[i] = NAN;
                    if (i % 53 == 9)
                        x[i] = -0.0f;
                }
                tu_fill_normal(dy, out_n, 90 + w, 0.0f, 1.0f);
                for (int relu = 0; relu < 2; relu++)
                    for (int accumulate = 0; accumulate < 2; accumulate++) {
                        g.relu_input = relu;
                        reference_max_2x2(planes, h, w, relu, x, y_ref, am_ref);
                        be->ops->pool_forward(be, &g, n, x, y, am);
                        char what[96];
                        snprintf(what, sizeof what, "%dx%dx%dx%d relu=%d acc=%d threads=%d", n, c,
                                 h, w, relu, accumulate, threads);
                        ck_assert_msg(memcmp(y, y_ref, out_n * sizeof *y) == 0,
                                      "%s: forward differs", what);
                        ck_assert_msg(memcmp(am, am_ref, out_n * sizeof *am) == 0,
                                      "%s: argmax differs", what);
                        /* dx starts as garbage-free values to add to, or to overwrite */
                        tu_fill_normal(dx_ref, in_n, 7, 0.0f, 1.0f);
                        if (!accumulate)
                            for (size_t i = 0; i < in_n; i++)
                                dx_ref[i] = 0.0f;
                        tu_fill_normal(dx, in_n, 7, 0.0f, 1.0f);
                        for (size_t o = 0; o < out_n; o++)
                            if (am_ref[o] >= 0)
                                dx_ref[am_ref[o]] += dy[o];
                        be->ops->pool_backward(be, &g, n, dy, am, dx, accumulate);
                        /* one assertion per case: each ck_assert is a message to
                         * check's parent process */
                        size_t bad = 0;
                        while (bad < in_n && memcmp(&dx[bad], &dx_ref[bad], sizeof *dx) == 0)
                            bad++;
                        ck_assert_msg(bad == in_n, "%s: dx[%zu] %.9g, expected %.9g", what, bad,
                                      dx[bad < in_n ? bad : 0], dx_ref[bad < in_n ? bad : 0]);
                    }
                free(x), free(y), free(y_ref), free(dy), free(dx), free(dx_ref), free(am),
                    free(am_ref);
            }
    }
    be->threads = 2;
    omp_set_num_threads(2);
}
END_TEST

/* The linear layer's bias gradient is each column of dy summed in row
 * order, bit for bit, whatever the thread count, on a ragged width and on
 * widths past one thread's stack of sums (2048 columns) */
START_TEST(test_linear_bias_grad_row_order)
{
    nl_backend *be = tu_cpu(2);
    const int shapes[][2] = {{3, 10}, {4000, 37}, {3584, 512}, {40, 2100}, {24, 4100}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int n = shapes[k][0], out = shapes[k][1], in = 3;
        float *x = malloc((size_t)n * in * sizeof *x), *w = malloc((size_t)out * in * sizeof *w);
        float *dy = malloc((size_t)n * out * sizeof *dy), *dw = malloc((size_t)out * in * sizeof *dw);
        float *db = malloc((size_t)out * sizeof *db), *db_ref = malloc((size_t)out * sizeof *db_ref);
        tu_fill_normal(x, (size_t)n * in, 7, 0.0f, 1.0f);
        tu_fill_normal(w, (size_t)out * in, 8, 0.0f, 1.0f);
        tu_fill_normal(dy, (size_t)n * out, 9 + k, 0.0f, 1.0f);
        for (int j = 0; j < out; j++) {
            volatile float s = 0.0f; /* one rounding an addition, in row order */
            for (int i = 0; i < n; i++)
                s += dy[(size_t)i * out + j];
            db_ref[j] = s;
        }
        for (int threads = 1; threads <= 3; threads++) {
            be->threads = threads;
            omp_set_num_threads(threads);
            void *work = malloc(be->ops->linear_workspace(be, n, in, out) + 1);
            memset(db, 0xff, (size_t)out * sizeof *db);
            be->ops->linear_backward(be, n, in, out, x, w, dy, NULL, false, dw, db, work);
            free(work);
            ck_assert_msg(memcmp(db, db_ref, (size_t)out * sizeof *db) == 0,
                          "bias gradient of %d x %d on %d threads is not the row-order sum", n,
                          out, threads);
        }
        free(x), free(w), free(dy), free(dw), free(db), free(db_ref);
    }
    be->threads = 2;
    omp_set_num_threads(2);
}
END_TEST

START_TEST(test_activations)
{
    check_layer("relu", (layer_ctx){.kind = K_ACT, .act = NL_ACT_RELU});
    check_layer("sigmoid", (layer_ctx){.kind = K_ACT, .act = NL_ACT_SIGMOID});
    check_layer("tanh", (layer_ctx){.kind = K_ACT, .act = NL_ACT_TANH});
}
END_TEST

START_TEST(test_softmax_xent)
{
    tu_fixture *fx = tu_fixture_load("layer_goldens.nlfx");
    nl_backend *be = tu_cpu(2);
    const tu_tensor *logits = tu_get(fx, "xent.logits");
    const int n = logits->dims[0], classes = logits->dims[1];
    float probs[64 * 10], dlogits[64 * 10];
    double metrics[2] = {0, 0};
    be->ops->softmax_xent_forward(be, n, classes, logits->data, tu_get(fx, "xent.labels")->data,
                                  probs, metrics);
    const double loss = metrics[0] / n;
    ck_assert_msg(fabs(loss - tu_scalar(fx, "xent.loss")) <= 1e-5 * fabs(tu_scalar(fx, "xent.loss")),
                  "loss %.8g vs %.8g", loss, tu_scalar(fx, "xent.loss"));
    ck_assert_int_eq((int)metrics[1], ((const int32_t *)tu_get(fx, "xent.correct")->data)[0]);
    be->ops->softmax_xent_backward(be, n, classes, probs, tu_get(fx, "xent.labels")->data,
                                   dlogits);
    tu_assert_close(dlogits, tu_getf(fx, "xent.dlogits"), (size_t)n * classes, TOL, "xent dlogits");
    tu_fixture_free(fx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layer_golden");
    TCase *tc = tcase_create("pytorch");
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_conv);
    tcase_add_test(tc, test_weight_standardization);
    tcase_add_test(tc, test_pool);
    tcase_add_test(tc, test_relu_pool_fused_exact);
    tcase_add_test(tc, test_max_pool_2x2_against_loop);
    tcase_add_test(tc, test_linear_bias_grad_row_order);
    tcase_add_test(tc, test_activations);
    tcase_add_test(tc, test_softmax_xent);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
