/* Dropout (model.dropout), the variance-shift probe
 * (train.log.variance_shift) that measures what it does to batch norm, and
 * noisy batch norm's noise (model.norm_noise).
 * Dropout: the ops against a direct computation with the same mask
 * (forward and backward bit for bit, the mask the counter-based draw the
 * op documents), the keep rate within a few standard deviations of 1 - p,
 * masks independent between steps, the identity in every mode but
 * training, the placements' layer orders, and config errors. The probe:
 * its ratios against the running variances over a direct computation of
 * the normalizers' inputs' variances, and a run with it trains exactly as
 * the run without. The noise: its per-channel statistics over many steps,
 * its forward and backward, and eval untouched; the training-mode trace
 * (train.trace.mode train) sees it and leaves training alone. A resumed run with
 * dropout and the probe ends as the uninterrupted one: test_checkpoint's
 * dropout case. */
// ctest-labels: kernels
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/counter_rng.h"
#include "log/files.h"
#include "model/model.h"
#include "norm/registry.h"
#include "train/probe_varshift.h"
#include "testutil.h"

/* the key as the op reads it: two floats' storage, low word first */
static void key_words(uint64_t key, float out[2])
{
    const uint32_t words[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
    memcpy(out, words, sizeof words);
}

static uint32_t threshold_of(float p)
{
    return (uint32_t)llround((1.0 - (double)p) * (double)(1u << NL_COUNTER_BITS));
}

/* forward and backward (written, then added) against x * m and dy * m */
START_TEST(test_ops_match_the_direct_computation)
{
    static const float ps[] = {0.1f, 0.5f, 0.9f};
    const float p = ps[_i];
    const size_t count = 70001; /* above the parallel threshold, odd */
    nl_backend *be = tu_cpu(2);
    float *x = malloc(count * sizeof *x), *y = malloc(count * sizeof *y);
    float *dy = malloc(count * sizeof *dy), *dx = malloc(count * sizeof *dx);
    float *acc = malloc(count * sizeof *acc);
    uint8_t *mask = malloc(count);
    tu_fill_normal(x, count, 1, 0.0f, 1.0f);
    tu_fill_normal(dy, count, 2, 0.0f, 1.0f);
    tu_fill_normal(acc, count, 3, 0.0f, 1.0f);
    const uint64_t key = nl_counter_key(11, 22, (uint64_t)_i);
    float kw[2];
    key_words(key, kw);
    const float scale = 1.0f / (1.0f - p);
    be->ops->dropout_forward(be, count, threshold_of(p), scale, kw, x, y, mask);
    be->ops->dropout_backward(be, count, scale, mask, dy, dx, false);
    float *added = malloc(count * sizeof *added);
    memcpy(added, acc, count * sizeof *added);
    be->ops->dropout_backward(be, count, scale, mask, dy, added, true);
    for (size_t i = 0; i < count; i++) {
        const bool keep = nl_counter_draw(key, i) < threshold_of(p);
        ck_assert_msg(mask[i] == keep, "mask[%zu] = %d, the draw says %d", i, mask[i], keep);
        const float m = keep ? scale : 0.0f;
        ck_assert_msg(y[i] == x[i] * m, "y[%zu] = %g, want %g", i, (double)y[i],
                      (double)(x[i] * m));
        ck_assert_msg(dx[i] == dy[i] * m, "dx[%zu] = %g, want %g", i, (double)dx[i],
                      (double)(dy[i] * m));
        /* the kernel sets may contract the addition into a fused multiply-add */
        ck_assert_msg(added[i] == acc[i] + dy[i] * m || added[i] == fmaf(dy[i], m, acc[i]),
                      "accumulated dx[%zu]", i);
    }
    free(x), free(y), free(dy), free(dx), free(acc), free(added), free(mask);
}
END_TEST

/* the kept share is 1 - p within 5 standard deviations of a binomial;
 * two keys' masks agree as often as independent ones would */
START_TEST(test_keep_rate)
{
    static const float ps[] = {0.2f, 0.5f};
    const float p = ps[_i];
    const size_t count = 1 << 20;
    nl_backend *be = tu_cpu(2);
    float *x = malloc(count * sizeof *x), *y = malloc(count * sizeof *y);
    uint8_t *a = malloc(count), *b = malloc(count);
    for (size_t i = 0; i < count; i++)
        x[i] = 1.0f;
    float k1[2], k2[2];
    key_words(nl_counter_key(5, 1, 0), k1);
    key_words(nl_counter_key(5, 1, 1), k2);
    const float scale = 1.0f / (1.0f - p);
    be->ops->dropout_forward(be, count, threshold_of(p), scale, k1, x, y, a);
    double sum = 0.0;
    for (size_t i = 0; i < count; i++)
        sum += y[i];
    be->ops->dropout_forward(be, count, threshold_of(p), scale, k2, x, y, b);
    size_t kept = 0, both = 0;
    for (size_t i = 0; i < count; i++) {
        kept += a[i];
        both += a[i] && b[i];
    }
    const double q = 1.0 - p, n = (double)count;
    const double sd = sqrt(n * q * (1.0 - q));
    ck_assert_msg(fabs((double)kept - n * q) < 5.0 * sd, "p %g: kept %zu of %zu, expected %g",
                  (double)p, kept, count, n * q);
    /* inverted dropout keeps the mean */
    ck_assert_msg(fabs(sum / n - 1.0) < 5.0 * sd / n * scale, "p %g: mean %g", (double)p, sum / n);
    const double sd_both = sqrt(n * q * q * (1.0 - q * q));
    ck_assert_msg(fabs((double)both - n * q * q) < 5.0 * sd_both,
                  "p %g: two steps' masks kept %zu together, independent ones %g", (double)p,
                  both, n * q * q);
    free(x), free(y), free(a), free(b);
}
END_TEST

enum { IN = 6, N = 16, CLASSES = 3 };

static void mlp_spec(nl_model_spec *spec, float p, nl_dropout_placement where)
{
    nl_model_spec_defaults(spec);
    spec->arch = NL_ARCH_MLP;
    spec->in_c = IN;
    spec->in_h = spec->in_w = 1;
    spec->classes = CLASSES;
    spec->widths[0] = 12;
    spec->widths[1] = 10;
    spec->n_widths = 2;
    nl_norm_spec_defaults(&spec->norm, NL_NORM_BATCH);
    spec->dropout_p = p;
    spec->dropout_placement = where;
}

static nl_model *build(const nl_model_spec *spec)
{
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(spec, tu_cpu(1), N, N, 9, &m, &err) == NL_OK, "%s", err.msg);
    float x[N * IN];
    int32_t labels[N];
    tu_fill_normal(x, N * IN, 4, 0.0f, 1.0f);
    for (int i = 0; i < N; i++)
        labels[i] = i % CLASSES;
    nl_model_load_batch(m, x, labels, N);
    return m;
}

static void logits_of(nl_model *m, nl_mode mode, float *out)
{
    nl_model_forward(m, N, mode);
    m->be->ops->download(m->be, out, m->logits->data, sizeof(float) * N * CLASSES);
}

/* a model with dropout computes in eval, train-mode eval and
 * recalibration what the same model without it does; training draws
 * another mask each step, the same one again for the same step */
START_TEST(test_identity_outside_training)
{
    nl_model_spec with, without;
    mlp_spec(&with, 0.5f, NL_DROPOUT_AFTER_NORM);
    mlp_spec(&without, 0.0f, NL_DROPOUT_AFTER_NORM);
    nl_model *a = build(&with), *b = build(&without);
    static const nl_mode plain[] = {NL_MODE_EVAL, NL_MODE_TRAIN_FROZEN};
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++) {
        float la[N * CLASSES], lb[N * CLASSES];
        logits_of(a, plain[k], la);
        logits_of(b, plain[k], lb);
        ck_assert_msg(!memcmp(la, lb, sizeof la), "mode %d: dropout changed the output",
                      (int)plain[k]);
    }
    float t0[N * CLASSES], t0_again[N * CLASSES], t1[N * CLASSES], plain_train[N * CLASSES];
    a->step = 0;
    logits_of(a, NL_MODE_TRAIN, t0);
    logits_of(a, NL_MODE_TRAIN, t0_again);
    a->step = 1;
    logits_of(a, NL_MODE_TRAIN, t1);
    logits_of(b, NL_MODE_TRAIN, plain_train);
    ck_assert_msg(!memcmp(t0, t0_again, sizeof t0), "one step drew two masks");
    ck_assert_msg(memcmp(t0, t1, sizeof t0), "two steps drew the same mask");
    ck_assert_msg(memcmp(t0, plain_train, sizeof t0), "training did not drop");
    nl_model_free(a);
    nl_model_free(b);
}
END_TEST

/* where each placement puts its layers, in the order the model runs them */
START_TEST(test_placements)
{
    static const struct {
        nl_dropout_placement where;
        const char *order;
    } cases[] = {
        {NL_DROPOUT_BEFORE_NORM, "fc1 drop1 norm1 act1 fc2 drop2 norm2 act2 classifier"},
        {NL_DROPOUT_AFTER_NORM, "fc1 norm1 act1 drop1 fc2 norm2 act2 drop2 classifier"},
        {NL_DROPOUT_AFTER_LAST_NORM, "fc1 norm1 act1 fc2 norm2 act2 drop2 classifier"},
    };
    nl_model_spec spec;
    mlp_spec(&spec, 0.2f, cases[_i].where);
    /* each ReLU a layer of its own (not fused into the norm before it) */
    spec.fuse_norm_relu = false;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_plan(&spec, N, N, 1, &m, &err) == NL_OK, "%s", err.msg);
    char order[256] = "";
    for (int i = 0; i < m->n_layers; i++) {
        if (!strcmp(m->layers[i]->name, "flatten_input"))
            continue;
        if (order[0])
            strcat(order, " ");
        strcat(order, m->layers[i]->name);
    }
    ck_assert_str_eq(order, cases[_i].order);
    nl_model_free(m);
}
END_TEST

/* bad values are the config's errors (exit 2), naming the key */
START_TEST(test_config_errors)
{
    tu_tmp_make("dropout");
    tu_tmp_write("d.yaml", "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64, "
                           "test_size: 32}\n"
                           "model: {arch: mlp, widths: [8], dropout: {p: 0.3, placement: "
                           "before_norm}}\n"
                           "train: {batch_size: 16, steps: 4, eval_every: 4, log_every: 2}\n");
    ck_assert_int_eq(tu_normlab("run d.yaml --out ok --quiet"), 0);
    /* an architecture whose blocks place no dropout */
    tu_tmp_write("r.yaml", "data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, "
                           "train_size: 64, test_size: 32}\n"
                           "model: {arch: resnet, widths: [4], dropout: {p: 0.3}}\n"
                           "train: {batch_size: 16, steps: 4}\n");
    static const char *const bad[] = {"d.yaml --set model.dropout.p=1",
                                      "d.yaml --set model.dropout.p=-0.1",
                                      "d.yaml --set model.dropout.placement=sideways", "r.yaml",
                                      "d.yaml --set model.norm.type=none "
                                      "--set model.norm_noise.distribution=uniform",
                                      "d.yaml --set model.norm_noise.distribution=uniform "
                                      "--set model.norm_noise.scale_std=-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[300];
        snprintf(args, sizeof args, "run --out bad --quiet %s", bad[i]);
        ck_assert_msg(tu_normlab(args) == 2, "%s: not exit 2", bad[i]);
        char *out = tu_normlab_output();
        ck_assert_msg(strstr(out, "model.dropout") || strstr(out, "model.norm_noise"),
                      "%s: the error does not name the key: %s", bad[i], out);
        free(out);
    }
    tu_tmp_remove();
}
END_TEST

/* the population variance of channel ch of an (n, c) host array */
static double column_var(const float *x, int n, int c, int ch)
{
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < n; i++)
        mean += x[(size_t)i * c + ch];
    mean /= n;
    for (int i = 0; i < n; i++)
        var += (x[(size_t)i * c + ch] - mean) * (x[(size_t)i * c + ch] - mean);
    return var / n;
}

/* The probe's ratio per normalizer against a direct computation: the
 * first one's input computed on the host from the weights (fc1 has no
 * bias before batch norm), the second's read from one eval forward of
 * every test sample at once; the probe saw them in two uneven batches. */
START_TEST(test_variance_shift_is_the_direct_ratio)
{
    enum { TEST = 40, FIRST = 23 };
    nl_model_spec spec;
    mlp_spec(&spec, 0.5f, NL_DROPOUT_BEFORE_NORM);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), TEST, N, 9, &m, &err) == NL_OK, "%s", err.msg);
    /* running statistics away from their start: training forwards with dropout */
    float x[TEST * IN];
    int32_t labels[TEST] = {0};
    for (int step = 0; step < 40; step++) {
        tu_fill_normal(x, N * IN, 20 + (uint64_t)step, 0.5f, 2.0f);
        nl_model_load_batch(m, x, labels, N);
        m->step = step;
        nl_model_forward(m, N, NL_MODE_TRAIN);
    }
    tu_fill_normal(x, TEST * IN, 99, 0.5f, 2.0f);
    nl_varshift v;
    ck_assert_msg(nl_varshift_open(&v, m, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(v.n_layers, 2);
    nl_varshift_begin(&v);
    nl_model_load_batch(m, x, labels, FIRST);
    nl_model_forward(m, FIRST, NL_MODE_EVAL);
    nl_varshift_add(&v, m, FIRST);
    nl_model_load_batch(m, x + FIRST * IN, labels, TEST - FIRST);
    nl_model_forward(m, TEST - FIRST, NL_MODE_EVAL);
    nl_varshift_add(&v, m, TEST - FIRST);
    nl_varshift_finish(&v, m);

    /* the reference: every test sample in one eval forward */
    nl_model_load_batch(m, x, labels, TEST);
    nl_model_forward(m, TEST, NL_MODE_EVAL);
    nl_backend *be = m->be;
    const nl_param *w1 = nl_model_param(m, "fc1.weight");
    ck_assert_ptr_nonnull(w1);
    ck_assert_ptr_null(nl_model_param(m, "fc1.bias"));
    const int c1 = spec.widths[0], c2 = spec.widths[1];
    float w[12 * IN], in1[TEST * 12], in2[TEST * 10], rv[12];
    be->ops->download(be, w, w1->data, sizeof w);
    for (int i = 0; i < TEST; i++)
        for (int o = 0; o < c1; o++) {
            double acc = 0.0;
            for (int k = 0; k < IN; k++)
                acc += (double)x[i * IN + k] * w[o * IN + k];
            in1[i * c1 + o] = (float)acc;
        }
    be->ops->download(be, in2, nl_model_act(m, "norm2.in")->data, sizeof in2);
    static const char *const names[] = {"norm1", "norm2"};
    const float *inputs[] = {in1, in2};
    const int widths[] = {c1, c2};
    for (int l = 0; l < 2; l++) {
        ck_assert_str_eq(v.layers[l]->name, names[l]);
        char state[32];
        snprintf(state, sizeof state, "%s.running_var", names[l]);
        be->ops->download(be, rv, nl_model_state(m, state)->data, sizeof(float) * widths[l]);
        double want = 0.0;
        int used = 0;
        for (int ch = 0; ch < widths[l]; ch++) {
            const double var = column_var(inputs[l], TEST, widths[l], ch);
            if (var > 0.0) {
                want += rv[ch] / var;
                used++;
            }
        }
        want /= used;
        ck_assert_msg(fabs(v.ratio[l] - want) <= 1e-5 * want, "%s: probe %.9g, direct %.9g",
                      names[l], v.ratio[l], want);
        ck_assert_msg(fabs(want - 1.0) > 1e-3, "%s: a ratio of 1 (%g) tells nothing", names[l], want);
    }
    nl_varshift_free(&v);
    /* a model without running statistics has nothing to probe */
    nl_model_spec plain;
    mlp_spec(&plain, 0.0f, NL_DROPOUT_AFTER_NORM);
    nl_norm_spec_defaults(&plain.norm, NL_NORM_LAYER);
    nl_model *ln = build(&plain);
    err = (nl_error){0};
    ck_assert_int_eq(nl_varshift_open(&v, ln, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.key, "train.log.variance_shift");
    nl_model_free(ln);
    nl_model_free(m);
}
END_TEST

/* The probe only observes: with it, a run with dropout before batch norm
 * logs metrics.csv bit for bit as without it (times aside), and
 * series.csv holds one row per normalizer and evaluation. */
START_TEST(test_variance_shift_leaves_training_alone)
{
    tu_tmp_make("varshift");
    tu_tmp_write("v.yaml", "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, "
                           "test_size: 100}\n"
                           "model: {arch: mlp, widths: [16, 16], dropout: {p: 0.3, placement: "
                           "before_norm}}\n"
                           "train: {batch_size: 16, steps: 60, eval_every: 20, log_every: 10}\n"
                           "threads: 1\n");
    ck_assert_int_eq(tu_normlab("run v.yaml --out plain --quiet"), 0);
    ck_assert_int_eq(tu_normlab("run v.yaml --out probed --quiet "
                                "--set train.log.variance_shift=true"), 0);
    char *a = tu_metrics_without_time("plain"), *b = tu_metrics_without_time("probed");
    ck_assert_msg(!strcmp(a, b), "the probe changed training:\n%s\nvs\n%s", a, b);
    free(a);
    free(b);
    char *series = tu_tmp_read("probed/series.csv");
    int rows = 0;
    for (const char *p = series; (p = strstr(p, ",variance_shift,")); p++)
        rows++;
    ck_assert_msg(rows == 2 * 4, "%d rows, want 2 normalizers x 4 evaluations:\n%s", rows, series);
    ck_assert_msg(strstr(series, "\n60,variance_shift,1,norm2,"), "%s", series);
    free(series);
    /* nothing to probe: refused before anything is written */
    ck_assert_int_eq(tu_normlab("run v.yaml --out refused --quiet --set model.norm.type=layer "
                                "--set train.log.variance_shift=true"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "train.log.variance_shift: true: the model has no normalizer"),
                  "%s", out);
    free(out);
    char path[600];
    snprintf(path, sizeof path, "%s/refused", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "the refused run wrote its directory");
    tu_tmp_remove();
}
END_TEST

/* ---- noisy batch norm's noise (model.norm_noise) ---- */

enum { NOISE_C = 16, NOISE_HW = 3, NOISE_N = 4 };

static nl_act *noise_graph(nl_builder *b, nl_act *input, void *ctx)
{
    const nl_noise_distribution kind = *(const nl_noise_distribution *)ctx;
    input->needs_grad = 1;
    return nl_norm_noise(b, "noise", input, kind, 1.5f, 0.5f, -0.25f, 2.0f);
}

/* Over many steps each channel's scale and shift have the configured
 * means and standard deviations (the uniform ones inside their range),
 * one value per channel for every sample and position; forward is
 * x * scale + shift, backward dy * scale; the same step draws the same
 * noise, and modes other than training add none. The scale is read from
 * backward with dy = 1 and the shift from forward with x = 0, both exact. */
START_TEST(test_noise_statistics)
{
    nl_noise_distribution kind = _i == 0 ? NL_NOISE_GAUSSIAN : NL_NOISE_UNIFORM;
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = NOISE_C;
    spec.in_h = NOISE_HW;
    spec.in_w = 1;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_build_graph(&spec, tu_cpu(1), NOISE_N, NOISE_N, 3, noise_graph, &kind,
                                       &m, &err) == NL_OK, "%s", err.msg);
    nl_backend *be = m->be;
    enum { COUNT = NOISE_N * NOISE_C * NOISE_HW, STEPS = 400 };
    float zeros[COUNT] = {0}, ones[COUNT], x[COUNT], y[COUNT], dx[COUNT];
    for (int i = 0; i < COUNT; i++)
        ones[i] = 1.0f;
    tu_fill_normal(x, COUNT, 8, 0.0f, 1.0f);
    double sum[2] = {0}, sum_sq[2] = {0};
    float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    float first_shift[NOISE_C];
    for (int step = 0; step < STEPS; step++) {
        m->step = step;
        be->ops->upload(be, m->input->data, zeros, sizeof zeros);
        nl_model_forward(m, NOISE_N, NL_MODE_TRAIN);
        float shift[COUNT], scale[COUNT];
        be->ops->download(be, shift, m->logits->data, sizeof shift);
        nl_model_backward_from(m, NOISE_N, ones);
        be->ops->download(be, scale, m->input->grad, sizeof scale);
        be->ops->upload(be, m->input->data, x, sizeof x);
        nl_model_forward(m, NOISE_N, NL_MODE_TRAIN);
        be->ops->download(be, y, m->logits->data, sizeof y);
        nl_model_backward_from(m, NOISE_N, x);
        be->ops->download(be, dx, m->input->grad, sizeof dx);
        for (int i = 0; i < COUNT; i++) {
            const int c = i / NOISE_HW % NOISE_C, first = c * NOISE_HW;
            ck_assert_msg(scale[i] == scale[first] && shift[i] == shift[first],
                          "step %d: channel %d's noise differs between its values", step, c);
            ck_assert_msg(y[i] == x[i] * scale[i] + shift[i] ||
                              y[i] == fmaf(x[i], scale[i], shift[i]),
                          "step %d: y[%d] is not x * scale + shift", step, i);
            ck_assert_msg(dx[i] == x[i] * scale[i], "step %d: dx[%d] is not dy * scale", step, i);
        }
        for (int c = 0; c < NOISE_C; c++) {
            const float v[2] = {scale[c * NOISE_HW], shift[c * NOISE_HW]};
            for (int k = 0; k < 2; k++) {
                sum[k] += v[k];
                sum_sq[k] += (double)v[k] * v[k];
                lo[k] = fminf(lo[k], v[k]);
                hi[k] = fmaxf(hi[k], v[k]);
            }
            if (step == 0)
                first_shift[c] = v[1];
            else if (step == 1)
                ck_assert_msg(v[1] != first_shift[c], "channel %d: two steps drew one shift", c);
        }
        if (step == 0) {
            /* the same step again: the same draws */
            float again[COUNT];
            be->ops->upload(be, m->input->data, zeros, sizeof zeros);
            nl_model_forward(m, NOISE_N, NL_MODE_TRAIN);
            be->ops->download(be, again, m->logits->data, sizeof again);
            ck_assert_msg(!memcmp(again, shift, sizeof again), "step 0 drew twice");
        }
    }
    const double n = (double)STEPS * NOISE_C;
    const double mean[2] = {1.5, -0.25}, std[2] = {0.5, 2.0};
    for (int k = 0; k < 2; k++) {
        const double m1 = sum[k] / n, sd = sqrt(sum_sq[k] / n - m1 * m1);
        ck_assert_msg(fabs(m1 - mean[k]) < 5.0 * std[k] / sqrt(n), "%s mean %g, want %g",
                      k ? "shift" : "scale", m1, mean[k]);
        ck_assert_msg(fabs(sd - std[k]) < 0.1 * std[k], "%s std %g, want %g",
                      k ? "shift" : "scale", sd, std[k]);
        if (kind == NL_NOISE_UNIFORM) {
            const double half = std[k] * sqrt(3.0);
            ck_assert_msg(lo[k] >= mean[k] - half - 1e-5 && hi[k] <= mean[k] + half + 1e-5,
                          "uniform %s outside [%g, %g]: %g .. %g", k ? "shift" : "scale",
                          mean[k] - half, mean[k] + half, (double)lo[k], (double)hi[k]);
            ck_assert_msg(hi[k] - lo[k] > 1.9 * half, "uniform %s spans %g of %g",
                          k ? "shift" : "scale", (double)(hi[k] - lo[k]), 2 * half);
        }
    }
    /* outside training: the identity */
    static const nl_mode plain[] = {NL_MODE_EVAL, NL_MODE_TRAIN_FROZEN, NL_MODE_RECALIBRATE};
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++) {
        nl_model_forward(m, NOISE_N, plain[k]);
        be->ops->download(be, y, m->logits->data, sizeof y);
        ck_assert_msg(!memcmp(x, y, sizeof y), "mode %d added noise", (int)plain[k]);
    }
    nl_model_free(m);
}
END_TEST

/* a model with noise after its normalizers evaluates as the same model
 * without it (the weights are the same: the noise has no parameters) */
START_TEST(test_noise_leaves_eval_alone)
{
    nl_model_spec with, without;
    mlp_spec(&with, 0.0f, NL_DROPOUT_AFTER_NORM);
    mlp_spec(&without, 0.0f, NL_DROPOUT_AFTER_NORM);
    with.norm_noise.distribution = NL_NOISE_GAUSSIAN;
    /* the noise keeps each ReLU from its normalizer: compare with the
     * unfused model, whose layers differ by the two noise layers alone */
    without.fuse_norm_relu = false;
    nl_model *a = build(&with), *b = build(&without);
    ck_assert_int_eq(a->n_layers, b->n_layers + 2);
    ck_assert_ptr_nonnull(nl_model_act(a, "norm2_noise"));
    float la[N * CLASSES], lb[N * CLASSES];
    logits_of(a, NL_MODE_EVAL, la);
    logits_of(b, NL_MODE_EVAL, lb);
    ck_assert_msg(!memcmp(la, lb, sizeof la), "noise changed the eval output");
    logits_of(a, NL_MODE_TRAIN, la);
    logits_of(b, NL_MODE_TRAIN, lb);
    ck_assert_msg(memcmp(la, lb, sizeof la), "training added no noise");
    nl_model_free(a);
    nl_model_free(b);
}
END_TEST

/* the rows of a trace.csv (step, p15, p50, p85): their count */
static int read_trace(const char *run_dir, double rows[][4], int max_rows)
{
    char name[64];
    snprintf(name, sizeof name, "%s/trace.csv", run_dir);
    char *text = tu_tmp_read(name);
    int n = 0;
    const char *line = strchr(text, '\n'); /* past the header */
    while (line && line[1] && n < max_rows) {
        ck_assert_int_eq(sscanf(line + 1, "%lf,%lf,%lf,%lf", &rows[n][0], &rows[n][1], &rows[n][2],
                                &rows[n][3]), 4);
        n++;
        line = strchr(line + 1, '\n');
    }
    free(text);
    return n;
}

/* train.trace.mode train measures each traced step's own batch as its
 * forward computed it, and leaves training as it was: the runs tracing the
 * batch norm's output and its noise's output train exactly as the run
 * without a trace, and at every traced step the noise's percentiles are
 * the batch norm's under one positive scale and one shift (the step's
 * draws for that channel), a scale that changes from step to step. In eval
 * mode the noise is off, so the two traces agree. */
START_TEST(test_train_mode_trace)
{
    tu_tmp_make("trace_mode");
    tu_tmp_write("t.yaml", "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, "
                           "test_size: 100}\n"
                           "model: {arch: mlp, widths: [16, 16], norm: {type: batch}, "
                           "norm_noise: {distribution: gaussian}}\n"
                           "train: {batch_size: 16, steps: 60, eval_every: 20, log_every: 10}\n"
                           "threads: 1\n");
    ck_assert_int_eq(tu_normlab("run t.yaml --out plain --quiet"), 0);
    static const char *const traced[] = {"norm2", "norm2_noise"};
    enum { EVERY = 5, ROWS = 60 / EVERY };
    double rows[2][ROWS + 2][4];
    char *plain = tu_metrics_without_time("plain");
    for (int k = 0; k < 2; k++) {
        char args[256];
        snprintf(args, sizeof args,
                 "run t.yaml --out %s --quiet --set train.trace.mode=train --set "
                 "train.trace.activation=%s --set train.trace.unit=3 --set train.trace.every=%d",
                 traced[k], traced[k], EVERY);
        ck_assert_int_eq(tu_normlab(args), 0);
        char *metrics = tu_metrics_without_time(traced[k]);
        ck_assert_msg(!strcmp(plain, metrics), "tracing %s changed training:\n%s\nvs\n%s",
                      traced[k], plain, metrics);
        free(metrics);
        /* one row per traced training step: 0, 5, ..., 55 */
        ck_assert_int_eq(read_trace(traced[k], rows[k], ROWS + 2), ROWS);
    }
    free(plain);
    double first_scale = 0.0;
    bool scale_moved = false;
    for (int r = 0; r < ROWS; r++) {
        const double *bn = rows[0][r], *noisy = rows[1][r];
        ck_assert_int_eq((int)bn[0], r * EVERY);
        ck_assert_int_eq((int)noisy[0], r * EVERY);
        const double scale = (noisy[3] - noisy[1]) / (bn[3] - bn[1]);
        const double shift = noisy[1] - scale * bn[1];
        ck_assert_msg(scale > 0.0, "step %d: scale %g", r * EVERY, scale);
        ck_assert_msg(fabs(noisy[2] - (scale * bn[2] + shift)) < 1e-4 * (1.0 + fabs(noisy[2])),
                      "step %d: the noisy median %g is not %g * %g + %g", r * EVERY, noisy[2],
                      scale, bn[2], shift);
        if (r == 0)
            first_scale = scale;
        else if (fabs(scale - first_scale) > 1e-3)
            scale_moved = true;
    }
    ck_assert_msg(scale_moved, "the traced noise kept one scale (%g) at every step", first_scale);
    /* eval mode: no noise, the same values */
    for (int k = 0; k < 2; k++) {
        char args[256], dir[32];
        snprintf(dir, sizeof dir, "eval_%s", traced[k]);
        snprintf(args, sizeof args,
                 "run t.yaml --out %s --quiet --set train.trace.activation=%s --set "
                 "train.trace.unit=3 --set train.trace.every=%d",
                 dir, traced[k], EVERY);
        ck_assert_int_eq(tu_normlab(args), 0);
        ck_assert_int_eq(read_trace(dir, rows[k], ROWS + 2), ROWS + 1);
    }
    ck_assert_msg(!memcmp(rows[0], rows[1], (ROWS + 1) * sizeof rows[0][0]),
                  "in eval mode the noise changed the traced values");
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dropout");
    TCase *tc = tcase_create("dropout");
    tcase_add_loop_test(tc, test_ops_match_the_direct_computation, 0, 3);
    tcase_add_loop_test(tc, test_keep_rate, 0, 2);
    tcase_add_test(tc, test_identity_outside_training);
    tcase_add_loop_test(tc, test_placements, 0, 3);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_variance_shift_is_the_direct_ratio);
    tcase_add_test(tc, test_variance_shift_leaves_training_alone);
    tcase_add_loop_test(tc, test_noise_statistics, 0, 2);
    tcase_add_test(tc, test_noise_leaves_eval_alone);
    tcase_add_test(tc, test_train_mode_trace);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
