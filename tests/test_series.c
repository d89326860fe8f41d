/* train.log.grad_norms and train.log.attention_logits (core/train/series.c):
 * each layer's gradient norm equals the L2 norm of its parameters'
 * gradients read back and summed here, the layers are the blocks (and the
 * embedding tables, the final norm, the head) from input to output; each
 * attention layer's largest logit equals the plain reference's on the
 * same q, k, v, and a forward that does not ask leaves it alone; and
 * `normlab run` writes series.csv at step 0 and every log_every steps,
 * whose norms put together are the clipped run's global gradient norm in
 * metrics.csv, and refuses logits of a model without attention (exit 2,
 * nothing written). The resumed run's series.csv is test_checkpoint's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/rng.h"
#include "log/files.h"
#include "model/model.h"
#include "norm/registry.h"
#include "results/results.h"
#include "tfm/reference.h"
#include "train/series.h"
#include "testutil.h"

enum { N = 3, T = 6, VOCAB = 13 };

static nl_model *build_lm(bool tie, bool qk_norm)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_LM;
    spec.classes = VOCAB;
    spec.d_model = 16;
    spec.heads = 2;
    spec.layers = 3;
    spec.context = T;
    spec.mlp_ratio = 2;
    spec.qk_norm = qk_norm;
    spec.tie_embeddings = tie;
    nl_norm_spec_defaults(&spec.norm, NL_NORM_LAYER);
    spec.norm.placement = NL_PLACE_PRE;
    /* large weights: logits well away from zero, in every layer */
    spec.init = NL_INIT_GAUSSIAN;
    spec.init_std = 0.3f;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, tu_cpu(2), N, N, 7, &m, &err) == NL_OK, "%s", err.msg);
    int32_t tokens[N * T], targets[N * T];
    nl_rng rng;
    nl_rng_seed(&rng, 3, NL_STREAM_TEST);
    for (int p = 0; p < N * T; p++) {
        tokens[p] = (int32_t)nl_rng_below(&rng, VOCAB);
        targets[p] = (int32_t)nl_rng_below(&rng, VOCAB);
    }
    nl_model_load_tokens(m, tokens, targets, N);
    return m;
}

START_TEST(test_grad_norms_are_the_gradients_norms)
{
    const bool tie = _i == 1;
    nl_model *m = build_lm(tie, false);
    nl_series s;
    nl_error err = {0};
    ck_assert_msg(nl_series_init(&s, m, true, false, &err) == NL_OK, "%s", err.msg);
    /* the layers, input to output: each block is one */
    const char *want_tied[] = {"tok_emb", "pos_emb", "blocks.0", "blocks.1", "blocks.2", "final_norm"};
    const char *want_untied[] = {"tok_emb", "pos_emb", "blocks.0", "blocks.1", "blocks.2",
                                 "final_norm", "head"};
    const char **want = tie ? want_tied : want_untied;
    const int n_want = tie ? 6 : 7;
    ck_assert_int_eq(s.n_layers, n_want);
    for (int l = 0; l < n_want; l++)
        ck_assert_str_eq(s.layer_names[l], want[l]);

    nl_model_forward(m, N, NL_MODE_TRAIN);
    nl_model_backward(m, N);
    nl_series_measure_grads(&s, m);
    /* the same from the gradients read back: every parameter whose name
     * starts with the layer's name and a dot */
    for (int l = 0; l < s.n_layers; l++) {
        double sum = 0.0;
        int params = 0;
        const size_t len = strlen(s.layer_names[l]);
        for (int i = 0; i < m->n_params; i++) {
            const nl_param *p = m->params[i];
            if (strncmp(p->name, s.layer_names[l], len) != 0 || p->name[len] != '.')
                continue;
            float *g = malloc(p->count * sizeof *g);
            m->be->ops->download(m->be, g, p->grad, p->count * sizeof *g);
            for (size_t j = 0; j < p->count; j++)
                sum += (double)g[j] * g[j];
            free(g);
            params++;
        }
        ck_assert_msg(params > 0, "layer %s has no parameters", s.layer_names[l]);
        const double norm = sqrt(sum);
        ck_assert_msg(norm > 0 && fabs(s.grad_norm[l] - norm) <= 1e-12 * norm,
                      "layer %s: series %.17g, gradients %.17g", s.layer_names[l], s.grad_norm[l],
                      norm);
    }
    nl_series_free(&s, m);
    nl_model_free(m);
}
END_TEST

START_TEST(test_layer_of_a_name)
{
    const char *names[][2] = {{"blocks.12.attn.q.weight", "blocks.12"}, {"fc1.weight", "fc1"},
                              {"tok_emb.weight", "tok_emb"}, {"head", "head"},
                              {"stage1.block2.conv1.weight", "stage1"}, {"layers.3", "layers.3"},
                              {"a.3b.weight", "a"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(nl_series_layer_of(names[i][0]) == strlen(names[i][1]), "%s: %zu",
                      names[i][0], nl_series_layer_of(names[i][0]));
}
END_TEST

START_TEST(test_max_logit_is_the_references)
{
    nl_model *m = build_lm(false, _i == 1);
    nl_series s;
    nl_error err = {0};
    ck_assert_msg(nl_series_init(&s, m, false, true, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(s.n_attention, 3);
    /* a forward that does not ask leaves the slots as they were */
    for (int a = 0; a < s.n_attention; a++) {
        const float marker = -12345.0f;
        m->be->ops->upload(m->be, (void *)nl_attention_max_logit(s.attention[a]), &marker,
                           sizeof marker);
    }
    nl_model_forward(m, N, NL_MODE_TRAIN);
    nl_series_read_logits(&s, m);
    for (int a = 0; a < s.n_attention; a++)
        ck_assert_float_eq(s.max_logit[a], -12345.0f);
    m->record_max_logit = true;
    nl_model_forward(m, N, NL_MODE_TRAIN);
    m->record_max_logit = false;
    nl_series_read_logits(&s, m);
    float previous = NAN;
    for (int a = 0; a < s.n_attention; a++) {
        const nl_layer *l = s.attention[a];
        const size_t count = (size_t)N * T * 16;
        float *qkv[3], *probs = malloc((size_t)N * 2 * T * T * sizeof(float)),
                       *y = malloc(count * sizeof(float));
        for (int k = 0; k < 3; k++) {
            qkv[k] = malloc(count * sizeof(float));
            m->be->ops->download(m->be, qkv[k], l->in[k]->data, count * sizeof(float));
        }
        const nl_attn_geom g = {.n = N, .t = T, .heads = 2, .head_dim = 8, .ld_q = 16,
                                .ld_k = 16, .ld_v = 16, .scale = 1.0f / sqrtf(8.0f)};
        float want = NAN;
        nl_attention_reference_forward(&g, qkv[0], qkv[1], qkv[2], probs, y, &want);
        ck_assert_msg(fabsf(s.max_logit[a] - want) <= 1e-5f * fabsf(want),
                      "%s: series %.9g, reference %.9g", l->name, s.max_logit[a], want);
        /* the layers' own maxima, not one copied to all */
        ck_assert_msg(s.max_logit[a] != previous, "%s repeats the layer before", l->name);
        previous = s.max_logit[a];
        for (int k = 0; k < 3; k++)
            free(qkv[k]);
        free(probs);
        free(y);
    }
    nl_series_free(&s, m);
    nl_model_free(m);
}
END_TEST

static const char *run_config =
    "data: {dataset: synthetic_text, markov: {vocab: 8, length: 20000}}\n"
    "model: {arch: lm, d_model: 32, heads: 2, layers: 2, context: 16, tie_embeddings: false}\n"
    "train:\n"
    "  batch_size: 8\n"
    "  steps: 12\n"
    "  optimizer: {type: adamw, lr: 0.003}\n"
    "  clip_grad_norm: 0.5\n"
    "  eval_every: 6\n"
    "  log_every: 1\n"
    "  log: {grad_norms: true, attention_logits: true}\n"
    "threads: 1\n";

START_TEST(test_run_writes_series)
{
    tu_tmp_make("series");
    tu_tmp_write("lm.yaml", run_config);
    ck_assert_int_eq(tu_normlab("run lm.yaml --out one --quiet"), 0);
    char path[600];
    nl_csv_table series, metrics;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/one/series.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &series, &err) == NL_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/one/metrics.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &metrics, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(series.n_cols, 5);
    const char *columns[] = {"step", "series", "layer", "name", "value"};
    for (int c = 0; c < 5; c++)
        ck_assert_str_eq(series.header[c], columns[c]);
    /* steps 0..11: 6 gradient-norm layers and 2 attention layers each */
    ck_assert_int_eq(series.n_rows, 12 * (6 + 2));
    const int m_step = nl_csv_table_col(&metrics, "step"), m_split = nl_csv_table_col(&metrics, "split"),
              m_norm = nl_csv_table_col(&metrics, "grad_norm");
    for (int step = 0; step < 12; step++) {
        double sum = 0.0;
        int norms = 0, logits = 0;
        for (int r = 0; r < series.n_rows; r++) {
            char **row = series.rows[r];
            if (atoi(row[0]) != step)
                continue;
            if (!strcmp(row[1], "grad_norm")) {
                sum += atof(row[4]) * atof(row[4]);
                norms++;
            } else {
                ck_assert_str_eq(row[1], "max_logit");
                ck_assert_str_eq(row[3], logits ? "blocks.1.attn.heads" : "blocks.0.attn.heads");
                ck_assert(isfinite(atof(row[4])));
                logits++;
            }
        }
        ck_assert_int_eq(norms, 6);
        ck_assert_int_eq(logits, 2);
        /* the train row after step `step` holds that step's global norm */
        double global = NAN;
        for (int r = 0; r < metrics.n_rows; r++)
            if (atoi(metrics.rows[r][m_step]) == step + 1 &&
                !strcmp(metrics.rows[r][m_split], "train"))
                global = atof(metrics.rows[r][m_norm]);
        ck_assert_msg(fabs(sqrt(sum) - global) <= 1e-6 * global,
                      "step %d: layers' norms together %.9g, global norm %.9g", step, sqrt(sum),
                      global);
    }
    nl_csv_table_free(&series);
    nl_csv_table_free(&metrics);

    /* the series kinds plot it */
    ck_assert_int_eq(tu_normlab("plot one --kind grad_norms --kind attention_logits"), 0);
    char *csv = tu_tmp_read("one/plots/grad_norms.csv");
    ck_assert_msg(strstr(csv, ",0,tok_emb,") && strstr(csv, ",5,head,"), "%s", csv);
    free(csv);

    /* no attention, no logits: exit 2 naming the key, nothing written */
    tu_tmp_write("mlp.yaml", "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64}\n"
                             "model: {arch: mlp, widths: [16]}\n"
                             "train: {batch_size: 8, steps: 4, log: {attention_logits: true}}\n");
    ck_assert_int_eq(tu_normlab("run mlp.yaml --out two"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "mlp.yaml:3:58: train.log.attention_logits: true: the model has no "
                              "attention layer"), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/two", tu_tmp);
    ck_assert(!nl_path_exists(path));
    /* gradient norms are for every model; a run without series leaves none behind */
    ck_assert_int_eq(tu_normlab("run mlp.yaml --out two --quiet --set train.log.attention_logits=false "
                                "--set train.log.grad_norms=true"), 0);
    csv = tu_tmp_read("two/series.csv");
    ck_assert_msg(strstr(csv, "0,grad_norm,0,fc1,") && strstr(csv, "0,grad_norm,2,classifier,"), "%s", csv);
    free(csv);
    ck_assert_int_eq(tu_normlab("run mlp.yaml --out two --quiet --force "
                                "--set train.log.attention_logits=false"), 0);
    snprintf(path, sizeof path, "%s/two/series.csv", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "the replaced run's series.csv was left behind");
    tu_tmp_remove();
}
END_TEST

/* train.log.switch_weights: every switchable layer's six softmax weights
 * at step 0 and every log_every steps, the means' three and the variances'
 * summing to 1, a third each at initialization (the logits start equal)
 * and moved by training after; another normalizer's run refuses the key
 * (exit 2, the file, line, key and what it needs) */
START_TEST(test_run_writes_switch_weights)
{
    tu_tmp_make("series_switch");
    tu_tmp_write("cnn.yaml", "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, "
                             "train_size: 64, test_size: 32}\n"
                             "model: {arch: cnn, widths: [8, 16], norm: {type: switchable}}\n"
                             "train: {batch_size: 8, steps: 6, log_every: 3, optimizer: {lr: 0.5},\n"
                             "        log: {switch_weights: true}}\n");
    ck_assert_int_eq(tu_normlab("run cnn.yaml --out one --quiet"), 0);
    char path[600];
    nl_csv_table series;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/one/series.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &series, &err) == NL_OK, "%s", err.msg);
    int layers = 0;
    for (int r = 0; r < series.n_rows; r++)
        layers = atoi(series.rows[r][2]) + 1 > layers ? atoi(series.rows[r][2]) + 1 : layers;
    ck_assert_int_ge(layers, 2);
    /* steps 0 and 3, six rows per layer */
    ck_assert_int_eq(series.n_rows, 2 * 6 * layers);
    static const char *const names[6] = {"switch_mean_in", "switch_mean_ln", "switch_mean_bn",
                                         "switch_var_in", "switch_var_ln", "switch_var_bn"};
    double moved = 0.0;
    for (int r = 0; r < series.n_rows; r += 3) {
        char **first = series.rows[r];
        double sum = 0.0;
        for (int t = 0; t < 3; t++) {
            char **row = series.rows[r + t];
            ck_assert_str_eq(row[1], names[(r / 3) % 2 * 3 + t]);
            ck_assert_str_eq(row[2], first[2]);
            ck_assert_str_eq(row[3], first[3]);
            const double w = atof(row[4]);
            ck_assert(w > 0.0 && w < 1.0);
            sum += w;
            if (atoi(row[0]) == 0)
                ck_assert_msg(fabs(w - 1.0 / 3.0) < 1e-6, "step 0: %s %g", row[1], w);
            else
                moved = fmax(moved, fabs(w - 1.0 / 3.0));
        }
        ck_assert_msg(fabs(sum - 1.0) < 1e-6, "%s at step %s: weights sum to %.9g", first[3],
                      first[0], sum);
    }
    ck_assert_msg(moved > 1e-4, "training left every weight at a third (%g)", moved);
    nl_csv_table_free(&series);
    tu_tmp_write("bn.yaml", "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, "
                            "train_size: 64, test_size: 32}\n"
                            "model: {arch: cnn, widths: [8, 16], norm: {type: batch}}\n"
                            "train: {batch_size: 8, steps: 6, log: {switch_weights: true}}\n");
    ck_assert_int_eq(tu_normlab("run bn.yaml --out two"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "bn.yaml:3:56: train.log.switch_weights: applies only when "
                              "model.norm.type is switchable") &&
                      strstr(out, "but model.norm.type is 'batch' (bn.yaml:2:50)"), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/two", tu_tmp);
    ck_assert(!nl_path_exists(path));
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("series");
    TCase *tc = tcase_create("series");
    tcase_add_loop_test(tc, test_grad_norms_are_the_gradients_norms, 0, 2);
    tcase_add_test(tc, test_layer_of_a_name);
    tcase_add_loop_test(tc, test_max_logit_is_the_references, 0, 2);
    tcase_add_test(tc, test_run_writes_series);
    tcase_add_test(tc, test_run_writes_switch_weights);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
