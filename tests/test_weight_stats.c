/* train.log.weight_stats (core/train/series.c): each weight's norm and
 * update ratio equal the ones computed in double from the weights read
 * back before and after an optimizer step; the weights marked
 * scale-invariant are those feeding batch norm (and none with layer norm,
 * mean-only batch norm or no normalizer); and `normlab run` with the probe
 * writes the same metrics.csv as without it, with the series rows at step
 * 0 and every log_every steps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "log/files.h"
#include "model/model.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "results/results.h"
#include "train/series.h"
#include "testutil.h"

enum { N = 8, IN = 6, CLASSES = 3 };

static nl_model *build_mlp(nl_norm_kind norm)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_MLP;
    spec.in_c = IN;
    spec.in_h = spec.in_w = 1;
    spec.classes = CLASSES;
    spec.widths[0] = 12;
    spec.widths[1] = 10;
    spec.n_widths = 2;
    nl_norm_spec_defaults(&spec.norm, norm);
    spec.norm.virtual_batch = N / 2; /* read by ghost batch norm alone */
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), N, N, 5, &m, &err) == NL_OK, "%s", err.msg);
    float x[N * IN];
    int32_t labels[N];
    tu_fill_normal(x, N * IN, 4, 0.0f, 1.0f);
    for (int i = 0; i < N; i++)
        labels[i] = i % CLASSES;
    nl_model_load_batch(m, x, labels, N);
    return m;
}

static double *read_back(nl_model *m, const nl_param *p)
{
    float *f = malloc(p->count * sizeof *f);
    double *d = malloc(p->count * sizeof *d);
    m->be->ops->download(m->be, f, p->data, p->count * sizeof *f);
    for (size_t j = 0; j < p->count; j++)
        d[j] = f[j];
    free(f);
    return d;
}

/* batch norm, then no normalizer (biases, which are not weights) */
START_TEST(test_stats_are_the_weights)
{
    nl_model *m = build_mlp(_i == 0 ? NL_NORM_BATCH : NL_NORM_NONE);
    nl_series s;
    nl_error err = {0};
    ck_assert_msg(nl_series_init(&s, m, false, false, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_series_plan_weights(&s, m, &err) == NL_OK, "%s", err.msg);
    int weights = 0;
    for (int i = 0; i < m->n_params; i++)
        weights += !m->params[i]->is_norm_or_bias;
    ck_assert_int_eq(s.n_weights, weights);
    ck_assert_int_eq(s.n_weights, 3); /* fc1, fc2, classifier */

    nl_optim_spec opt;
    nl_optim_spec_defaults(&opt, NL_OPTIM_SGD);
    opt.lr = 0.3f;
    opt.momentum = 0.9f;
    opt.weight_decay = 0.01f;
    double *before[3], *after[3];
    /* two steps: the second moves by momentum as well */
    for (int step = 0; step < 2; step++) {
        nl_model_forward(m, N, NL_MODE_TRAIN);
        nl_model_backward(m, N);
        nl_optim_prepare(m, &opt, opt.lr, step);
        nl_model_upload_scalars(m);
        for (int k = 0; k < s.n_weights; k++)
            before[k] = read_back(m, m->params[s.weight_param[k]]);
        nl_series_weights_before(&s, m);
        nl_optim_launch(m, &opt);
        nl_series_weights_after(&s, m);
        for (int k = 0; k < s.n_weights; k++) {
            const nl_param *p = m->params[s.weight_param[k]];
            after[k] = read_back(m, p);
            double w2 = 0.0, d2 = 0.0;
            for (size_t j = 0; j < p->count; j++) {
                w2 += before[k][j] * before[k][j];
                d2 += (after[k][j] - before[k][j]) * (after[k][j] - before[k][j]);
            }
            const double norm = sqrt(w2), ratio = sqrt(d2) / norm;
            ck_assert_msg(ratio > 1e-4, "%s did not move", p->name);
            ck_assert_msg(fabs(s.weight_norm[k] - norm) <= 1e-12 * norm, "%s: norm %.17g, direct %.17g",
                          p->name, s.weight_norm[k], norm);
            /* the update is taken in float: exact where a weight moves by
             * less than its own size, else rounded once */
            ck_assert_msg(fabs(s.update_ratio[k] - ratio) <= 1e-6 * ratio,
                          "%s step %d: ratio %.17g, direct %.17g", p->name, step, s.update_ratio[k],
                          ratio);
            free(before[k]);
            free(after[k]);
        }
    }
    nl_series_free(&s, m);
    nl_model_free(m);
}
END_TEST

/* the hidden layers' weights feed the normalizer; the classifier feeds the loss */
START_TEST(test_scale_invariant_weights)
{
    const struct {
        nl_norm_kind norm;
        bool hidden_invariant;
    } cases[] = {{NL_NORM_BATCH, true}, {NL_NORM_GHOST_BATCH, true}, {NL_NORM_LAYER, false},
                 {NL_NORM_MEAN_ONLY, false}, {NL_NORM_NONE, false}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nl_model *m = build_mlp(cases[c].norm);
        const char *kind = nl_name_of(&nl_norm_names, cases[c].norm);
        int marked = 0;
        for (int i = 0; i < m->n_params; i++) {
            const char *name = m->params[i]->name;
            const bool hidden = !strcmp(name, "fc1.weight") || !strcmp(name, "fc2.weight");
            const bool want = hidden && cases[c].hidden_invariant;
            ck_assert_msg(nl_series_scale_invariant(m, i) == want, "%s: %s marked %d", kind, name,
                          !want);
            marked += want;
        }
        ck_assert_int_eq(marked, cases[c].hidden_invariant ? 2 : 0);
        nl_model_free(m);
    }
}
END_TEST

static const char run_config[] =
    "data: {dataset: synthetic, shape: [6], classes: 3, train_size: 96, test_size: 32}\n"
    "model: {arch: mlp, widths: [12, 10], norm: {type: batch}}\n"
    "train: {batch_size: 8, steps: 10, log_every: 3, eval_every: 5,\n"
    "        optimizer: {lr: 0.2, momentum: 0.9, weight_decay: 0.001}}\n";

/* metrics.csv without its elapsed_s column */
static char *metrics_without_time(const char *dir)
{
    char path[600];
    nl_csv_table t;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/%s/metrics.csv", tu_tmp, dir);
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    const int elapsed = nl_csv_table_col(&t, "elapsed_s");
    ck_assert_int_ge(elapsed, 0);
    size_t size = 1, used = 0;
    for (int r = 0; r < t.n_rows; r++)
        for (int c = 0; c < t.n_cols; c++)
            size += strlen(t.rows[r][c]) + 1;
    const int last = elapsed == t.n_cols - 1 ? t.n_cols - 2 : t.n_cols - 1;
    char *out = malloc(size);
    out[0] = '\0';
    for (int r = 0; r < t.n_rows; r++)
        for (int c = 0; c < t.n_cols; c++)
            if (c != elapsed)
                used += (size_t)snprintf(out + used, size - used, "%s%c", t.rows[r][c],
                                         c == last ? '\n' : ',');
    nl_csv_table_free(&t);
    return out;
}

START_TEST(test_probe_only_observes)
{
    tu_tmp_make("weight_stats");
    tu_tmp_write("mlp.yaml", run_config);
    ck_assert_int_eq(tu_normlab("run mlp.yaml --out off --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("run mlp.yaml --out on --quiet --threads 1 "
                                "--set train.log.weight_stats=true"), 0);
    char *off = metrics_without_time("off"), *on = metrics_without_time("on");
    ck_assert_msg(strchr(off, '\n') && !strcmp(off, on), "without:\n%s\nwith:\n%s", off, on);
    free(off);
    free(on);
    char path[600];
    snprintf(path, sizeof path, "%s/off/series.csv", tu_tmp);
    ck_assert(!nl_path_exists(path));

    nl_csv_table series;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/on/series.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &series, &err) == NL_OK, "%s", err.msg);
    /* steps 0, 3, 6, 9: three weights with a norm and a ratio each, and
     * the two feeding batch norm their effective learning rate */
    ck_assert_int_eq(series.n_rows, 4 * (3 * 2 + 2));
    for (int r = 0; r < series.n_rows; r++) {
        char **row = series.rows[r];
        ck_assert_int_eq(atoi(row[0]) % 3, 0);
        ck_assert_msg(isfinite(atof(row[4])) && atof(row[4]) > 0.0, "%s %s %s", row[1], row[3], row[4]);
        if (!strcmp(row[1], "effective_lr")) {
            ck_assert_msg(strcmp(row[3], "classifier.weight") != 0, "the classifier feeds no normalizer");
            /* the ratio the row before gave */
            ck_assert_str_eq(series.rows[r - 1][1], "update_ratio");
            ck_assert_str_eq(series.rows[r - 1][4], row[4]);
        }
    }
    nl_csv_table_free(&series);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("weight_stats");
    TCase *tc = tcase_create("weight_stats");
    tcase_add_loop_test(tc, test_stats_are_the_weights, 0, 2);
    tcase_add_test(tc, test_scale_invariant_weights);
    tcase_add_test(tc, test_probe_only_observes);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
