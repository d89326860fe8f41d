// ctest-labels: kernels
/* train.bn_recalibrate and train.freeze_bn_after: recalibration gives
 * PyTorch's momentum=None average of the batches' statistics from a reset;
 * a layer training with frozen statistics computes eval mode's output with
 * the gradient of that fixed affine map and leaves its running statistics
 * alone; nl_train freezes from the configured step on; the errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "config/config.h"
#include "model/model.h"
#include "norm/norm.h"
#include "train/check.h"
#include "train/recalibrate.h"
#include "train/train.h"
#include "testutil.h"

enum { N = 4, C = 3, H = 4, W = 5, HW = H * W };

typedef struct {
    bool residual; /* y = bn(x) + x: the layer adds into a gradient */
} graph_ctx;

static nl_act *bn_graph(nl_builder *b, nl_act *input, void *vctx)
{
    const graph_ctx *ctx = vctx;
    input->needs_grad = 1;
    nl_norm_spec spec;
    nl_norm_spec_defaults(&spec, NL_NORM_BATCH);
    spec.freezable = true;
    nl_act *y = nl_batchnorm(b, "bn", input, &spec);
    return ctx->residual ? nl_residual_add(b, "add", y, input) : y;
}

static nl_model *build_bn(bool residual)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = C, spec.in_h = H, spec.in_w = W;
    graph_ctx ctx = {residual};
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_build_graph(&spec, tu_cpu(2), N, N, 3, bn_graph, &ctx, &m, &err) == NL_OK,
                  "%s", err.msg);
    return m;
}

START_TEST(test_recalibration_is_the_cumulative_average)
{
    for (int batches = 1; batches <= 7; batches += 6) {
        nl_model *m = build_bn(false);
        const size_t per = (size_t)C * HW;
        nl_split split = {.n = (long)batches * N, .c = C, .h = H, .w = W};
        split.x = malloc((size_t)split.n * per * sizeof(float));
        split.y = calloc((size_t)split.n, sizeof(int32_t));
        /* channels with different means and scales */
        tu_fill_normal(split.x, (size_t)split.n * per, 5, 0.0f, 1.0f);
        for (long i = 0; i < split.n; i++)
            for (int c = 0; c < C; c++)
                for (int k = 0; k < HW; k++)
                    split.x[(size_t)i * per + (size_t)c * HW + k] =
                        split.x[(size_t)i * per + (size_t)c * HW + k] * (1.0f + c) + 2.0f * c +
                        0.1f * (float)i;
        /* expected: the mean over the batches of each batch's mean and
         * unbiased variance, in double */
        double want_mean[C] = {0}, want_var[C] = {0};
        for (int bi = 0; bi < batches; bi++)
            for (int c = 0; c < C; c++) {
                double s = 0, ss = 0;
                for (int i = 0; i < N; i++)
                    for (int k = 0; k < HW; k++) {
                        const double v = split.x[((size_t)bi * N + i) * per + (size_t)c * HW + k];
                        s += v;
                        ss += v * v;
                    }
                const double count = N * HW, mean = s / count;
                want_mean[c] += mean / batches;
                want_var[c] += (ss - count * mean * mean) / (count - 1) / batches;
            }
        /* whatever the statistics were before (even inf), they are reset */
        nl_state *rm = nl_model_state(m, "bn.running_mean"), *rv = nl_model_state(m, "bn.running_var");
        for (int c = 0; c < C; c++)
            rm->data[c] = INFINITY, rv->data[c] = 123.0f;
        nl_batcher batcher = {0};
        nl_error err = {0};
        ck_assert(nl_batcher_init(&batcher, &split, N, false, true, 1, &err) == NL_OK);
        ck_assert_msg(nl_recalibrate(m, &batcher, batches, &err) == NL_OK, "%s", err.msg);
        for (int c = 0; c < C; c++) {
            ck_assert_msg(fabs(rm->data[c] - want_mean[c]) <= 1e-5 * (1 + fabs(want_mean[c])),
                          "%d batches: running_mean[%d] %.9g, expected %.9g", batches, c,
                          rm->data[c], want_mean[c]);
            ck_assert_msg(fabs(rv->data[c] - want_var[c]) <= 1e-5 * want_var[c],
                          "%d batches: running_var[%d] %.9g, expected %.9g", batches, c,
                          rv->data[c], want_var[c]);
        }
        nl_batcher_free(&batcher);
        free(split.x);
        free(split.y);
        nl_model_free(m);
    }
}
END_TEST

/* frozen: eval mode's output bit for bit, the running statistics
 * untouched, and the gradient of y = (x - mean) * rstd * gamma + beta with
 * mean and rstd fixed (written here in double) */
START_TEST(test_frozen_layer_is_eval_mode)
{
    for (int residual = 0; residual < 2; residual++) {
        nl_model *m = build_bn(residual);
        const size_t count = (size_t)N * C * HW;
        float *x = malloc(count * sizeof *x), *dy = malloc(count * sizeof *dy);
        float *y_eval = malloc(count * sizeof *y_eval);
        tu_fill_normal(x, count, 11, 0.5f, 2.0f);
        tu_fill_normal(dy, count, 12, 0.0f, 1.0f);
        nl_state *rm = nl_model_state(m, "bn.running_mean"), *rv = nl_model_state(m, "bn.running_var");
        nl_param *gamma = nl_model_param(m, "bn.weight"), *beta = nl_model_param(m, "bn.bias");
        const float mean[C] = {0.3f, -0.2f, 1.1f}, var[C] = {2.5f, 0.7f, 4.0f};
        const float g[C] = {1.5f, -0.5f, 0.8f}, bt[C] = {0.1f, 0.2f, -0.3f};
        memcpy(rm->data, mean, sizeof mean);
        memcpy(rv->data, var, sizeof var);
        memcpy(gamma->data, g, sizeof g);
        memcpy(beta->data, bt, sizeof bt);
        memcpy(m->input->data, x, count * sizeof *x);
        nl_model_forward(m, N, NL_MODE_EVAL);
        memcpy(y_eval, m->logits->data, count * sizeof *y_eval);
        nl_model_forward(m, N, NL_MODE_RUNNING_STATS);
        ck_assert_msg(memcmp(y_eval, m->logits->data, count * sizeof *y_eval) == 0,
                      "residual %d: frozen forward differs from eval mode", residual);
        nl_model_backward_from(m, N, dy);
        ck_assert(memcmp(rm->data, mean, sizeof mean) == 0 && memcmp(rv->data, var, sizeof var) == 0);
        for (int c = 0; c < C; c++) {
            const double rstd = 1.0 / sqrt((double)var[c] + 1e-5);
            double dg = 0, db = 0;
            for (int i = 0; i < N; i++)
                for (int k = 0; k < HW; k++) {
                    const size_t at = ((size_t)i * C + c) * HW + k;
                    dg += dy[at] * (x[at] - mean[c]) * rstd;
                    db += dy[at];
                    const double dx = dy[at] * g[c] * rstd + (residual ? dy[at] : 0.0);
                    ck_assert_msg(fabs(m->input->grad[at] - dx) <= 1e-5 * (1 + fabs(dx)),
                                  "residual %d: dx[%zu] %.9g, expected %.9g", residual, at,
                                  m->input->grad[at], dx);
                }
            ck_assert_msg(fabs(gamma->grad[c] - dg) <= 1e-5 * (1 + fabs(dg)),
                          "dgamma[%d] %.9g, expected %.9g", c, gamma->grad[c], dg);
            ck_assert_msg(fabs(beta->grad[c] - db) <= 1e-5 * (1 + fabs(db)),
                          "dbeta[%d] %.9g, expected %.9g", c, beta->grad[c], db);
        }
        free(x), free(dy), free(y_eval);
        nl_model_free(m);
    }
}
END_TEST

static nl_code ignore_metric(void *ctx, const nl_metric_row *row, nl_error *err)
{
    (void)ctx, (void)row, (void)err;
    return NL_OK;
}

/* norm: the model.norm mapping's contents; extra: train keys */
static nl_config *norm_config(const char *norm, const char *extra)
{
    char text[1024];
    snprintf(text, sizeof text,
             "data: {dataset: synthetic, train_size: 256, test_size: 64, shape: [1, 6, 6]}\n"
             "model: {arch: mlp, widths: [16], norm: {%s}}\n"
             "train: {batch_size: 8, eval_every: 10, %s}\n", norm, extra);
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(text, "bn.yaml", NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    return cfg;
}

static nl_config *small_config(const char *extra) { return norm_config("type: batch", extra); }

/* trains the config; returns the running statistics and weights at the end */
static void train_config(const nl_config *cfg, float *stats, size_t n_stats, float *weights,
                         size_t n_weights, nl_train_result *result)
{
    nl_dataset ds = {0};
    nl_error err = {0};
    ck_assert_msg(nl_dataset_load(&cfg->data, &ds, &err) == NL_OK, "%s", err.msg);
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    nl_model *m = NULL;
    ck_assert_msg(nl_model_create(&spec, tu_cpu(2), nl_run_capacity(cfg), cfg->train.batch_size,
                                 cfg->seed, &m, &err) == NL_OK, "%s", err.msg);
    nl_train_sink sink = {.metric = ignore_metric};
    ck_assert_msg(nl_train(m, &ds, &cfg->train, cfg->seed, &sink, NULL, result, &err) == NL_OK,
                  "%s", err.msg);
    ck_assert_uint_eq(m->state_floats, n_stats);
    memcpy(stats, m->state_arena, n_stats * sizeof *stats);
    nl_param *w = nl_model_param(m, "fc1.weight");
    ck_assert_uint_eq(w->count, n_weights);
    memcpy(weights, w->data, n_weights * sizeof *weights);
    nl_model_free(m);
    nl_dataset_free(&ds);
}

START_TEST(test_train_freezes_from_the_step)
{
    enum { STATS = 2 * 16, WEIGHTS = 16 * 36 };
    float stats_a[STATS], stats_b[STATS], w_a[WEIGHTS], w_b[WEIGHTS];
    nl_train_result ra, rb;
    nl_config *a = small_config("steps: 30");
    nl_config *b = small_config("steps: 50, freeze_bn_after: 30");
    train_config(a, stats_a, STATS, w_a, WEIGHTS, &ra);
    train_config(b, stats_b, STATS, w_b, WEIGHTS, &rb);
    ck_assert_int_eq(ra.frozen_from_step, 0);
    ck_assert_int_eq(rb.frozen_from_step, 30);
    /* the same first 30 steps, then statistics left as they were */
    ck_assert_msg(memcmp(stats_a, stats_b, sizeof stats_a) == 0,
                  "running statistics moved after train.freeze_bn_after");
    ck_assert_msg(memcmp(w_a, w_b, sizeof w_a) != 0, "the frozen steps trained nothing");
    ck_assert(isnan(rb.unrecalibrated_test_accuracy));
    free(a);
    free(b);
}
END_TEST

START_TEST(test_train_recalibrates)
{
    enum { STATS = 2 * 16, WEIGHTS = 16 * 36 };
    float stats_a[STATS], stats_b[STATS], w_a[WEIGHTS], w_b[WEIGHTS];
    nl_train_result ra, rb;
    nl_config *a = small_config("steps: 30");
    nl_config *b = small_config("steps: 30, bn_recalibrate: {batches: 5}");
    train_config(a, stats_a, STATS, w_a, WEIGHTS, &ra);
    train_config(b, stats_b, STATS, w_b, WEIGHTS, &rb);
    ck_assert_msg(memcmp(w_a, w_b, sizeof w_a) == 0, "recalibration changed the weights");
    ck_assert_msg(memcmp(stats_a, stats_b, sizeof stats_a) != 0, "nothing was recalibrated");
    /* the last evaluation before recalibrating is the plain run's final one */
    ck_assert(rb.unrecalibrated_test_accuracy == ra.final_test_accuracy);
    ck_assert(rb.unrecalibrated_test_loss == ra.final_test_loss);
    ck_assert(rb.final_test_loss != ra.final_test_loss);
    free(a);
    free(b);
}
END_TEST

static void assert_run_check_fails(const char *norm, const char *extra, const char *fragment)
{
    nl_config *cfg = norm_config(norm, extra);
    nl_run_plan plan;
    nl_error err = {0};
    ck_assert_int_eq(nl_run_check(cfg, -1, false, NULL, &plan, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, fragment), "'%s': message lacks '%s': %s", extra, fragment, err.msg);
    free(cfg);
}

START_TEST(test_errors)
{
    /* 256 samples in batches of 8: an epoch is 32 steps */
    assert_run_check_fails("type: batch", "epochs: 1, freeze_bn_after: 32",
                           "train.freeze_bn_after: 32 is out of range: the run takes 32 steps; "
                           "accepted: 1 to 31");
    assert_run_check_fails("type: layer", "steps: 20, freeze_bn_after: 5",
                           "train.freeze_bn_after: the model has no normalizer with running "
                           "statistics to freeze");
    assert_run_check_fails("type: batch, track_running_stats: false",
                           "steps: 20, bn_recalibrate: {batches: 5}",
                           "train.bn_recalibrate.batches: the model has no normalizer with "
                           "running statistics to recalibrate");
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    ck_assert_int_eq(nl_config_load_string("train: {bn_recalibrate: {batches: 0}}\n", "x.yaml",
                                           NULL, 0, cfg, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "train.bn_recalibrate.batches: 0 is out of range"), "%s", err.msg);
    free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bn_stats");
    TCase *tc = tcase_create("bn_stats");
    tcase_add_test(tc, test_recalibration_is_the_cumulative_average);
    tcase_add_test(tc, test_frozen_layer_is_eval_mode);
    tcase_add_test(tc, test_train_freezes_from_the_step);
    tcase_add_test(tc, test_train_recalibrates);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
