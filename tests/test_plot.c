/* normlab plot: the scripts of every plot kind for a sweep (with seeds,
 * divergence and activation traces) and for a single run; the aggregated
 * CSVs agree with summary.csv; the scripts render with gnuplot when it is on
 * PATH (skipped, visibly, when it is not); without gnuplot the scripts are
 * still written and the command says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log/files.h"
#include "plot/internal.h"
#include "plot/plot.h"
#include "testutil.h"

static bool have_gnuplot;






/* a file that exists and is not empty */
static void expect_file(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", tu_tmp, dir, name);
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "%s is missing", path);
    ck_assert_msg(st.st_size > 0, "%s is empty", path);
}

static const char *base_config =
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
    "model: {arch: mlp, widths: [16]}\n"
    "train: {batch_size: 16, steps: 30, eval_every: 10, log_every: 5, optimizer: {lr: 0.05, momentum: 0.9},\n"
    "        trace: {activation: act1, every: 10}}\n";

/* normalizers x learning rates (the largest diverges) x batch sizes x seeds,
 * every plot kind made at the end of the sweep */
static const char *experiment =
    "name: plots\nbase: base.yaml\n"
    "grid:\n"
    "  model.norm.type: [none, batch]\n"
    "  train.optimizer.lr: [0.01, 0.1, 1000]\n"
    "  train.batch_size: [8, 32]\n"
    "  seed: [1, 2]\n"
    "plots:\n"
    "  - {kind: curves}\n"
    "  - {kind: batch_size, metric: test_error}\n"
    "  - {kind: lr}\n"
    "  - {kind: heatmap}\n"
    "  - {kind: train_eval_gap}\n"
    "  - {kind: trace}\n"
    "  - {kind: curves, split: test, metric: loss, name: test-loss}\n";

static const char *const kinds[] = {"curves", "batch_size", "lr", "heatmap", "train_eval_gap", "trace"};

static void setup(void)
{
    tu_tmp_make("plot");
    char gnuplot[1024];
    have_gnuplot = nl_plot_find_gnuplot(gnuplot, sizeof gnuplot);
    if (!have_gnuplot)
        fprintf(stderr, "test_plot: SKIPPING the rendering checks: gnuplot is not on PATH "
                        "(apt-get install gnuplot-nox); the scripts are still checked\n");
}

START_TEST(test_sweep_plots)
{
    setup();
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", experiment);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "plots in results/plots/plots/"), "%.3000s", out);
    ck_assert_msg(!strstr(out, "gnuplot said"), "gnuplot complained:\n%.3000s", out);
    /* the lr plot reports what each normalizer tolerates */
    ck_assert_msg(strstr(out, "lr: learning rates each series tolerates"), "%.3000s", out);
    free(out);
    char *summary = tu_tmp_read("results/plots/summary.csv");
    ck_assert_msg(strstr(summary, ",diverged,"), "no run diverged: the lr plot's markers are not exercised\n%.3000s",
                  summary);
    free(summary);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s.gp", kinds[k]);
        expect_file("results/plots/plots", name);
        snprintf(name, sizeof name, "%s.csv", kinds[k]);
        expect_file("results/plots/plots", name);
        if (have_gnuplot) {
            snprintf(name, sizeof name, "%s.png", kinds[k]);
            expect_file("results/plots/plots", name);
        }
    }
    expect_file("results/plots/plots", "test-loss.gp");
    expect_file("results/plots/plots", "lr-ranges.csv");
    if (have_gnuplot)
        expect_file("results/plots/plots", "test-loss.png");

    /* the scripts read their CSVs by column name */
    char *gp = tu_tmp_read("results/plots/plots/batch_size.gp");
    ck_assert_msg(strstr(gp, "set datafile separator comma") && strstr(gp, "column(\"mean\")") &&
                      strstr(gp, "\"batch_size.csv\"") && strstr(gp, "set logscale x 2") &&
                      strstr(gp, "final test error (%)"), "%.3000s", gp);
    free(gp);

    /* every kind again, by hand, in both formats */
    ck_assert_int_eq(tu_normlab("plot results/plots --format both"), 0);
    out = tu_normlab_output();
    ck_assert_msg(!strstr(out, "gnuplot said") && !strstr(out, "skipped"), "%.3000s", out);
    free(out);
    if (have_gnuplot)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            char name[64];
            snprintf(name, sizeof name, "%s.png", kinds[k]);
            expect_file("results/plots/plots", name);
            snprintf(name, sizeof name, "%s.svg", kinds[k]);
            expect_file("results/plots/plots", name);
        }
    /* the runs without batch norm have no test_trainmode rows: their panels
     * say so instead of upsetting gnuplot */
    ck_assert_int_eq(tu_normlab("plot results/plots --kind curves:loss --kind batch_size:test_loss --kind lr "
                             "--threshold 0.5 --kind curves:error:test_trainmode"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "curves-loss.gp") && strstr(out, "batch_size-test_loss.gp") &&
                      strstr(out, "<= 50%, given") && strstr(out, "curves-test_trainmode.gp") &&
                      !strstr(out, "gnuplot said"), "%.3000s", out);
    gp = tu_tmp_read("results/plots/plots/curves-test_trainmode.gp");
    ck_assert_msg(strstr(gp, "no test_trainmode rows in these runs"), "%.3000s", gp);
    free(gp);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* batch_size.csv: the mean, min and max over seeds of summary.csv's rows */
START_TEST(test_aggregation_matches_summary)
{
    setup();
    tu_tmp_write("base.yaml", base_config);
    /* no run traces (train.trace.activation is cleared): the trace plot is
     * skipped with the reason, the others are made, the sweep succeeds */
    tu_tmp_write("exp.yaml", "name: agg\nbase: base.yaml\nset: {train.trace.activation: \"\"}\n"
                           "grid:\n  model.norm.type: [none, batch]\n"
                           "  train.batch_size: [8, 16, 32]\n  seed: [1, 2, 3]\n"
                           "plots: [{kind: trace}, {kind: train_eval_gap}]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "plot trace skipped: trace: no run has a trace.csv") &&
                      strstr(out, "plots in results/agg/plots/ (train_eval_gap."), "%.3000s", out);
    free(out);
    expect_file("results/agg/plots", "train_eval_gap.gp");
    ck_assert_int_eq(tu_normlab("plot results/agg --kind batch_size --kind curves"), 0);
    char path[512];
    pl_table summary, agg;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/results/agg/summary.csv", tu_tmp);
    ck_assert_msg(pl_table_read(path, &summary, &err) == NL_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/results/agg/plots/batch_size.csv", tu_tmp);
    ck_assert_msg(pl_table_read(path, &agg, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(agg.n_rows, 6);
    const int c_norm = pl_table_col(&summary, "model.norm.type"), c_bs = pl_table_col(&summary, "train.batch_size"),
              c_err = pl_table_col(&summary, "final_test_error");
    const int a_label = pl_table_col(&agg, "label"), a_bs = pl_table_col(&agg, "batch_size"),
              a_mean = pl_table_col(&agg, "mean"), a_min = pl_table_col(&agg, "min"), a_max = pl_table_col(&agg, "max"),
              a_n = pl_table_col(&agg, "n");
    ck_assert(c_norm >= 0 && c_bs >= 0 && c_err >= 0 && a_label >= 0 && a_mean >= 0 && a_n >= 0);
    for (int i = 0; i < agg.n_rows; i++) {
        double sum = 0, lo = INFINITY, hi = -INFINITY;
        int n = 0;
        for (int j = 0; j < summary.n_rows; j++)
            if (!strcmp(summary.rows[j][c_norm], agg.rows[i][a_label]) &&
                !strcmp(summary.rows[j][c_bs], agg.rows[i][a_bs])) {
                const double e = 100 * atof(summary.rows[j][c_err]);
                sum += e;
                lo = fmin(lo, e);
                hi = fmax(hi, e);
                n++;
            }
        ck_assert_int_eq(n, 3);
        ck_assert_int_eq(atoi(agg.rows[i][a_n]), 3);
        ck_assert_double_eq_tol(atof(agg.rows[i][a_mean]), sum / n, 1e-3);
        ck_assert_double_eq_tol(atof(agg.rows[i][a_min]), lo, 1e-3);
        ck_assert_double_eq_tol(atof(agg.rows[i][a_max]), hi, 1e-3);
    }
    pl_table_free(&agg);
    /* curves.csv: one variant per normalizer and batch size, both panels */
    snprintf(path, sizeof path, "%s/results/agg/plots/curves.csv", tu_tmp);
    ck_assert_msg(pl_table_read(path, &agg, &err) == NL_OK, "%s", err.msg);
    const int v = pl_table_col(&agg, "variant"), panel = pl_table_col(&agg, "panel");
    ck_assert(v >= 0 && panel >= 0 && pl_table_col(&agg, "step") >= 0 && pl_table_col(&agg, "min") >= 0);
    int max_variant = 0, panels[2] = {0, 0};
    for (int i = 0; i < agg.n_rows; i++) {
        max_variant = atoi(agg.rows[i][v]) > max_variant ? atoi(agg.rows[i][v]) : max_variant;
        panels[atoi(agg.rows[i][panel]) != 0]++;
    }
    ck_assert_int_eq(max_variant, 5);
    ck_assert(panels[0] > 0 && panels[1] > 0);
    pl_table_free(&agg);
    pl_table_free(&summary);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_single_run_and_usage)
{
    setup();
    tu_tmp_write("base.yaml", base_config);
    ck_assert_int_eq(tu_normlab("run base.yaml --set model.norm.type=batch --set train.trace.activation=norm1 "
                             "--out one --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("plot one"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "skipped batch_size") && !strstr(out, "gnuplot said"), "%.3000s", out);
    free(out);
    const char *single[] = {"curves", "train_eval_gap", "trace"};
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s.gp", single[k]);
        expect_file("one/plots", name);
        if (have_gnuplot) {
            snprintf(name, sizeof name, "%s.png", single[k]);
            expect_file("one/plots", name);
        }
    }
    /* a single run's scripts read its files directly */
    char *gp = tu_tmp_read("one/plots/curves.gp");
    ck_assert_msg(strstr(gp, "\"../metrics.csv\"") && strstr(gp, "strcol(\"split\") eq \"train\""), "%.3000s", gp);
    free(gp);

    /* usage */
    ck_assert_int_eq(tu_normlab("plot one --kind lr"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "needs a sweep directory"), "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("plot one --kind curvs"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "did you mean 'curves'"), "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("plot one --kind batch_size:accuracy"), 2);
    ck_assert_int_eq(tu_normlab("plot one --format jpg"), 2);
    ck_assert_int_eq(tu_normlab("plot /nonexistent-normlab-dir"), 2);
    ck_assert_int_eq(tu_normlab("plot"), 2);
    ck_assert_int_eq(tu_normlab("plot --help"), 0);

    /* no gnuplot: the scripts are written, the command says why there are no images */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && rm -rf one/plots && env PATH=/nonexistent-normlab-path %s plot one > out.txt 2>&1",
             tu_tmp, NORMLAB_BINARY);
    const int status = system(cmd);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "gnuplot is not on PATH"), "%.3000s", out);
    free(out);
    expect_file("one/plots", "curves.gp");
    char png[512];
    snprintf(png, sizeof png, "%s/one/plots/curves.png", tu_tmp);
    ck_assert(!nl_path_exists(png));
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sweep_plots);
    tcase_add_test(tc, test_aggregation_matches_summary);
    tcase_add_test(tc, test_single_run_and_usage);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
