/* normlab plot: the scripts of every plot kind for a sweep (with seeds,
 * divergence and activation traces) and for a single run; the aggregated
 * CSVs agree with summary.csv; the scripts render with gnuplot when it is on
 * PATH (skipped, visibly, when it is not); without gnuplot the scripts are
 * still written and the command says so. */
#include <dirent.h>
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
#include "results/run_result.h"
#include "results/series.h"
#include "sweep/sweep.h"
#include "testutil.h"
#include "verdict/verdict.h"

static bool have_gnuplot;

/* ---- results written by hand: exact steps, statuses and keys in a few
 * milliseconds, where a sweep would take seconds and choose its own ---- */

static void write_at(const char *dir, const char *name, const char *text)
{
    char path[1024], parent[1024];
    snprintf(path, sizeof path, "%s/%s/%s", tu_tmp, dir, name);
    snprintf(parent, sizeof parent, "%s/%s", tu_tmp, dir);
    nl_error err = {0};
    ck_assert_msg(nl_make_dirs(parent, &err) == NL_OK, "%s", err.msg);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static const char *fake_config =
    "seed: 1\ndata:\n  dataset: synthetic\n  shape: [8]\n  classes: 3\n  train_size: 256\n"
    "model:\n  arch: mlp\n  widths: [16]\n  activation: relu\n  norm:\n    type: batch\n    placement: before\n"
    "train:\n  batch_size: 16\n  steps: 1500\n  optimizer:\n    lr: 0.05\n    momentum: 0.9\n"
    "  schedule:\n    type: constant\n  trace:\n    activation: act1\n";

/* a run directory: config.yaml, metrics.csv with a training row every
 * log_every steps up to `steps` and a test row every eval_every, and
 * summary.json saying `status` (none: a run still going, or killed) */
static void fake_run(const char *dir, int steps, int log_every, int eval_every, const char *status, double offset)
{
    write_at(dir, "config.yaml", fake_config);
    char *csv = malloc(1 << 16);
    size_t k = (size_t)sprintf(csv, "step,epoch,split,loss,accuracy,lr,elapsed_s\n");
    for (int step = log_every; step <= steps; step += log_every) {
        k += (size_t)sprintf(csv + k, "%d,%.4f,train,%.4f,%.4f,0.05,0.1\n", step, step / 16.0,
                             2.0 / (1 + step / 100.0) + offset, 0.5 + offset);
        if (step % eval_every == 0)
            k += (size_t)sprintf(csv + k, "%d,%.4f,test,%.4f,%.4f,0.05,0.1\n", step, step / 16.0,
                                 2.0 / (1 + step / 150.0) + offset, 0.6 + offset);
    }
    write_at(dir, "metrics.csv", csv);
    free(csv);
    if (status) {
        char json[512];
        snprintf(json, sizeof json, "{\n  \"status\": \"%s\",\n  \"final_test_accuracy\": 0.6,\n"
                 "  \"final_test_loss\": 0.9,\n  \"final_train_loss\": 0.8,\n  \"steps\": %d\n}\n", status, steps);
        write_at(dir, "summary.json", json);
    }
}

typedef struct {
    const char *name, *values, *status; /* values: the key columns, comma-separated */
    int steps;
} fake_row;

/* a sweep directory: summary.csv over `keys` and a run directory per row */
static void fake_sweep(const char *dir, const char *keys, const fake_row *rows, int n, int log_every, int eval_every)
{
    char *csv = malloc(1 << 16);
    size_t k = (size_t)sprintf(csv, "run,%s,status,final_test_loss,final_test_accuracy,final_test_error,"
                                    "best_test_accuracy,final_train_loss,final_test_trainmode_accuracy,steps,wall_s,"
                                    "samples_per_s\n", keys);
    for (int i = 0; i < n; i++) {
        const bool done = !strcmp(rows[i].status, "ok") || !strcmp(rows[i].status, "diverged");
        k += (size_t)sprintf(csv + k, "%s,%s,%s,%s\n", rows[i].name, rows[i].values, rows[i].status,
                             done ? "0.9,0.6,0.4,0.6,0.8,,1500,1,100" : ",,,,,,,,");
        char run[512];
        snprintf(run, sizeof run, "%s/runs/%s", dir, rows[i].name);
        fake_run(run, rows[i].steps, log_every, eval_every, !strcmp(rows[i].status, "pending") ? NULL : rows[i].status,
                 0.01 * i);
    }
    write_at(dir, "summary.csv", csv);
    free(csv);
}

/* a run's series.csv under tu_tmp: SWEEP/runs/RUN/series.csv */
static void write_series(const char *sweep, const char *run, const char *text)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/runs/%s", sweep, run);
    write_at(dir, "series.csv", text);
}

/* normlab plot ARGS: exit 0 and no word from gnuplot */
static void plot_quietly(const char *args)
{
    char line[512];
    snprintf(line, sizeof line, "plot %s", args);
    ck_assert_int_eq(tu_normlab(line), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(!strstr(out, "gnuplot said"), "%.3000s", out);
    free(out);
}

/* how many times `needle` occurs in `hay` */
static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

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
    "        trace: {activation: act1, every: 10}, log: {grad_norms: true}}\n";

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
    "  - {kind: grad_norms, color: model.norm.type}\n"
    "  - {kind: curves, split: test, metric: loss, name: test-loss}\n";

static const char *const kinds[] = {"curves", "batch_size", "lr", "heatmap", "train_eval_gap", "trace",
                                    "grad_norms"};

static void setup(void)
{
    tu_tmp_make("plot");
    char gnuplot[1024];
    have_gnuplot = nl_plot_find_gnuplot(gnuplot, sizeof gnuplot);
    if (!have_gnuplot)
        fprintf(stderr, "test_plot: SKIPPING the rendering checks: gnuplot is not on PATH "
                        "(apt-get install gnuplot-nox); the scripts are still checked\n");
}

/* every kind's row against the checks of a request: an option the row
 * takes is accepted, one it does not take is refused naming the kinds that
 * do, a metric from its table is accepted, and a row is complete */
START_TEST(test_kind_rows)
{
    static const unsigned options[] = {NL_PLOT_TAKES_X, NL_PLOT_TAKES_COLOR, NL_PLOT_TAKES_PANEL,
                                       NL_PLOT_TAKES_THRESHOLD, NL_PLOT_TAKES_SPLIT};
    for (int k = 0; k < NL_PLOT_KIND_COUNT; k++) {
        const nl_plot_kind_info *info = nl_plot_kind_info_of((nl_plot_kind)k);
        ck_assert_msg(info->entry.name && info->entry.help && info->entry.help[0], "kind %d without a name", k);
        ck_assert_msg(!info->metrics == !info->default_metric, "%s: metrics and default metric", info->entry.name);
        if (info->metrics)
            ck_assert_int_ge(nl_name_lookup(info->metrics, info->default_metric), 0);
        for (size_t o = 0; o < sizeof options / sizeof options[0]; o++) {
            nl_plot_spec s;
            nl_plot_spec_init(&s, (nl_plot_kind)k);
            if (info->takes & NL_PLOT_TAKES_X)
                snprintf(s.x, sizeof s.x, "model.norm.groups");
            switch (options[o]) {
            case NL_PLOT_TAKES_X: snprintf(s.x, sizeof s.x, "train.batch_size"); break;
            case NL_PLOT_TAKES_COLOR: snprintf(s.color, sizeof s.color, "model.norm.type"); break;
            case NL_PLOT_TAKES_PANEL: snprintf(s.panel, sizeof s.panel, "train.optimizer.lr"); break;
            case NL_PLOT_TAKES_THRESHOLD: s.threshold = 0.2; break;
            default: snprintf(s.split, sizeof s.split, "train"); break;
            }
            char msg[512] = "";
            const bool ok = nl_plot_spec_check(&s, msg, sizeof msg);
            if (info->takes & options[o]) {
                ck_assert_msg(ok, "%s refused an option it takes: %s", info->entry.name, msg);
            } else {
                char kinds[256];
                ck_assert_msg(!ok, "%s accepted option %u it does not take", info->entry.name, options[o]);
                ck_assert_msg(strstr(msg, nl_plot_kinds_taking(options[o], kinds, sizeof kinds)), "%s", msg);
            }
        }
        /* a metric its table accepts, and one no table has */
        nl_plot_spec s;
        nl_plot_spec_init(&s, (nl_plot_kind)k);
        if (info->takes & NL_PLOT_TAKES_X)
            snprintf(s.x, sizeof s.x, "model.norm.groups");
        char msg[512] = "";
        if (info->metrics) {
            snprintf(s.metric, sizeof s.metric, "%s", nl_name_of(info->metrics, info->metrics->count - 1));
            ck_assert_msg(nl_plot_spec_check(&s, msg, sizeof msg), "%s: %s", info->entry.name, msg);
        }
        snprintf(s.metric, sizeof s.metric, "no_such_metric");
        ck_assert(!nl_plot_spec_check(&s, msg, sizeof msg));
    }
}
END_TEST

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

    /* every kind again, by hand, in both formats; an MLP has no attention
     * logits, and the sweep logs no weight statistics, variance shift,
     * signal propagation, landscape, per-step norms, block removals or
     * switchable weights */
    ck_assert_int_eq(tu_normlab("plot results/plots --format both"), 0);
    out = tu_normlab_output();
    /* the kinds that do not apply said once, in one line, not one each */
    ck_assert_msg(!strstr(out, "gnuplot said") && count(out, "skipped") == 1 &&
                      strstr(out, "normlab plot: skipped 8 kinds that do not apply here: attention_logits, "
                                  "weight_stats, variance_shift, signal_propagation, landscape, step_norms, "
                                  "block_skip, switch_weights (--kind K says what one needs)\n"),
                  "%.3000s", out);
    free(out);
    /* asked for, a kind says why it does not apply */
    ck_assert_int_eq(tu_normlab("plot results/plots --kind switch_weights"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "switch_weights: no run has switchable weights"), "%.3000s", out);
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

/* a custom normalizer's legend names its axes (those not varied), from its
 * own run's config: the first run here is batch norm's */
START_TEST(test_custom_labelled_by_axes)
{
    setup();
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: axes\nbase: base.yaml\nset: {train.trace.activation: \"\", "
                           "model.norm.reduce: [batch], model.norm.center: false, "
                           "model.norm.scale: rms}\n"
                           "grid:\n  model.norm.type: [batch, custom]\n  train.batch_size: [8, 16]\n"
                           "plots: [{kind: batch_size}]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2"), 0);
    char path[512];
    nl_csv_table agg;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/results/axes/plots/batch_size.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &agg, &err) == NL_OK, "%s", err.msg);
    const int a_label = nl_csv_table_col(&agg, "label");
    int custom = 0, batch = 0;
    for (int i = 0; i < agg.n_rows; i++) {
        const char *label = agg.rows[i][a_label];
        /* the csv writes the label's commas as ';' */
        custom += !strcmp(label, "custom reduce=[batch]; center=false; scale=rms");
        batch += !strcmp(label, "batch");
    }
    ck_assert_msg(custom == 2 && batch == 2 && agg.n_rows == 4, "%d custom, %d batch labels of %d",
                  custom, batch, agg.n_rows);
    nl_csv_table_free(&agg);
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
    nl_csv_table summary, agg;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/results/agg/summary.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &summary, &err) == NL_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/results/agg/plots/batch_size.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &agg, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(agg.n_rows, 6);
    const int c_norm = nl_csv_table_col(&summary, "model.norm.type"), c_bs = nl_csv_table_col(&summary, "train.batch_size"),
              c_err = nl_csv_table_col(&summary, "final_test_error");
    const int a_label = nl_csv_table_col(&agg, "label"), a_bs = nl_csv_table_col(&agg, "batch_size"),
              a_mean = nl_csv_table_col(&agg, "mean"), a_min = nl_csv_table_col(&agg, "min"), a_max = nl_csv_table_col(&agg, "max"),
              a_n = nl_csv_table_col(&agg, "n");
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
    nl_csv_table_free(&agg);
    /* curves.csv: one variant per normalizer and batch size, both panels */
    snprintf(path, sizeof path, "%s/results/agg/plots/curves.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &agg, &err) == NL_OK, "%s", err.msg);
    const int v = nl_csv_table_col(&agg, "variant"), panel = nl_csv_table_col(&agg, "panel");
    ck_assert(v >= 0 && panel >= 0 && nl_csv_table_col(&agg, "step") >= 0 && nl_csv_table_col(&agg, "min") >= 0);
    int max_variant = 0, panels[2] = {0, 0};
    for (int i = 0; i < agg.n_rows; i++) {
        max_variant = atoi(agg.rows[i][v]) > max_variant ? atoi(agg.rows[i][v]) : max_variant;
        panels[atoi(agg.rows[i][panel]) != 0]++;
    }
    ck_assert_int_eq(max_variant, 5);
    ck_assert(panels[0] > 0 && panels[1] > 0);
    nl_csv_table_free(&agg);
    nl_csv_table_free(&summary);
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
    ck_assert_msg(strstr(out, "skipped 11 kinds that do not apply here: batch_size, lr,") &&
                      count(out, "skipped") == 1 && !strstr(out, "gnuplot said"), "%.3000s", out);
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

/* every line of a script's subtitle fits its figure (about 7 px a character) */
static void expect_subtitle_fits(const char *gp)
{
    int width = 0;
    const char *size = strstr(gp, "fig_width = ");
    ck_assert(size && sscanf(size, "fig_width = %d", &width) == 1);
    const char *label = strstr(gp, "set label 102 \"");
    ck_assert(label);
    label += strlen("set label 102 \"");
    int lines = 0;
    while (*label && *label != '"') {
        const size_t len = strcspn(label, "\\\"");
        ck_assert_msg(7 * (int)len + 30 <= width, "a %zu-character subtitle line in a %d px figure:\n%.3000s", len,
                      width, gp);
        lines++;
        label += len;
        if (!strncmp(label, "\\n", 2))
            label += 2;
    }
    ck_assert_int_ge(lines, 1);
}

/* the rough edges a first week finds: step ticks that round 1500 to "2k",
 * an lr plot of a learning rate derived from the batch size, a training-loss
 * panel drawn twice, invisible one-point series, ambiguous legend keys, a
 * derived learning rate missing from the subtitle, a clipped subtitle */
START_TEST(test_rough_edges)
{
    setup();
    /* two keys ending in .type; 1500 steps; one test row per run */
    const fake_row keyed[] = {
        {"a", "constant,sgd", "ok", 1500},
        {"b", "cosine,sgd", "ok", 1500},
        {"c", "constant,adam", "ok", 1500},
    };
    fake_sweep("keyed", "train.schedule.type,train.optimizer.type", keyed, 3, 100, 1500);
    ck_assert_int_eq(tu_normlab("plot keyed --kind curves --kind curves:loss:train"), 0);
    char *gp = tu_tmp_read("keyed/plots/curves.gp");
    /* exact tick labels at a round interval */
    ck_assert_msg(strstr(gp, "\"1.5k\" 1500") && strstr(gp, "\"500\" 500") && !strstr(gp, "%c"), "%.3000s", gp);
    /* legends name which "type" they mean */
    ck_assert_msg(strstr(gp, "\"schedule.type=cosine, optimizer.type=sgd\""), "%.3000s", gp);
    /* each run's single test point is drawn as a point: one per series, and
     * the training loss panel keeps its lines */
    ck_assert_int_eq(count(gp, "linespoints pt point_type"), 3);
    ck_assert_int_eq(count(gp, "with lines lw curve_lw"), 3 + 3);
    free(gp);
    /* the training loss against itself: one panel (and the legend), not two copies */
    gp = tu_tmp_read("keyed/plots/curves-loss-train.gp");
    ck_assert_msg(strstr(gp, "Training loss against step") && count(gp, "\nplot ") == 2, "%.3000s", gp);
    free(gp);
    char path[1024];
    nl_csv_table t;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/keyed/plots/curves-loss-train.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    const int c_panel = nl_csv_table_col(&t, "panel");
    ck_assert(c_panel >= 0 && t.n_rows > 0);
    for (int i = 0; i < t.n_rows; i++)
        ck_assert_msg(!strcmp(t.rows[i][c_panel], "0"), "row %d is in panel %s", i, t.rows[i][c_panel]);
    nl_csv_table_free(&t);

    /* the learning rate follows the batch size: no lr plot, no tolerated
     * ranges; the subtitle says how the learning rate was set */
    const fake_row derived[] = {
        {"b8_s1", "8,1,0.01", "ok", 300},  {"b8_s2", "8,2,0.01", "ok", 300},
        {"b16_s1", "16,1,0.02", "ok", 300}, {"b16_s2", "16,2,0.02", "ok", 300},
    };
    fake_sweep("derived", "train.batch_size,seed,train.optimizer.lr", derived, 4, 50, 100);
    ck_assert_int_eq(tu_normlab("plot derived"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "skipped 13 kinds that do not apply here: lr,") && !strstr(out, "tolerates"),
                  "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("plot derived --kind lr"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "lr: the learning rate follows the batch size"), "%.3000s", out);
    free(out);
    snprintf(path, sizeof path, "%s/derived/plots/lr.gp", tu_tmp);
    ck_assert(!nl_path_exists(path));
    gp = tu_tmp_read("derived/plots/batch_size.gp");
    ck_assert_msg(strstr(gp, "lr 0.02 at batch 16, linear in the batch"), "%.3000s", gp);
    free(gp);
    ck_assert_int_eq(tu_normlab("plot derived --kind lr"), 2);

    /* a single run's trace: every subtitle line fits the figure (about 7 px
     * a character) */
    fake_run("one", 1500, 100, 500, "ok", 0);
    write_at("one", "trace.csv", "step,p15,p50,p85\n0,-1,0,1\n500,-2,0,2\n1000,-2,0,2\n1500,-2,0,2\n");
    ck_assert_int_eq(tu_normlab("plot one --kind trace --kind curves"), 0);
    gp = tu_tmp_read("one/plots/trace.gp");
    expect_subtitle_fits(gp);
    free(gp);
    /* a heatmap of one panel is narrow */
    const fake_row grid[] = {
        {"a", "8,0.01", "ok", 300}, {"b", "8,0.1", "ok", 300}, {"c", "16,0.01", "ok", 300}, {"d", "16,0.1", "ok", 300},
    };
    fake_sweep("grid", "train.batch_size,train.optimizer.lr", grid, 4, 50, 100);
    ck_assert_int_eq(tu_normlab("plot grid --kind heatmap"), 0);
    gp = tu_tmp_read("grid/plots/heatmap.gp");
    expect_subtitle_fits(gp);
    free(gp);
    tu_tmp_remove();
}
END_TEST

/* runs still going or stopped early: their curves are drawn as far as they
 * got and marked with where each stands (a run that logged rows and that
 * no process holds was killed; one that logged none is pending);
 * final-metric plots leave them out and say how many */
START_TEST(test_unfinished_runs)
{
    setup();
    const fake_row rows[] = {
        {"batch_s1", "batch,1", "ok", 1500},       {"batch_s2", "batch,2", "ok", 1500},
        {"layer_s1", "layer,1", "pending", 700},   {"layer_s2", "layer,2", "failed", 500},
        {"group_s1", "group,1", "ok", 1500},       {"group_s2", "group,2", "pending", 0},
    };
    fake_sweep("partial", "model.norm.type,seed", rows, 6, 100, 100);
    /* the last run has not started: no metrics.csv */
    char path[1024];
    snprintf(path, sizeof path, "%s/partial/runs/group_s2/metrics.csv", tu_tmp);
    ck_assert_int_eq(unlink(path), 0);
    /* a run just started: its metrics.csv made, no header yet (report
     * --watch met one: exit 2, "is empty"); a finished run's is an error */
    tu_tmp_write("partial/runs/group_s2/metrics.csv", "");
    ck_assert_int_eq(tu_normlab("plot partial --kind curves"), 0);
    tu_tmp_write("partial/runs/batch_s2/metrics.csv", "");
    ck_assert_int_eq(tu_normlab("plot partial --kind curves"), 2);
    ck_assert_int_eq(unlink(path), 0);
    fake_run("partial/runs/batch_s2", 1500, 100, 100, "ok", 0.01); /* as fake_sweep made it */
    ck_assert_int_eq(tu_normlab("plot partial --kind curves"), 0);
    char *gp = tu_tmp_read("partial/plots/curves.gp");
    ck_assert_msg(strstr(gp, "title \"layer (unfinished)\"") && strstr(gp, "title \"batch\"") &&
                      strstr(gp, "title \"group (unfinished)\"") &&
                      strstr(gp, "3 of 6 runs (1 failed, 1 killed, 1 pending)"), "%.3000s", gp);
    free(gp);
    /* the layer variant's curve: the pending run to step 700, the failed one to 500 */
    nl_csv_table t;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/partial/plots/curves.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    const int c_label = nl_csv_table_col(&t, "label"), c_step = nl_csv_table_col(&t, "step"), c_n = nl_csv_table_col(&t, "n"),
              c_panel = nl_csv_table_col(&t, "panel");
    double last = 0;
    for (int i = 0; i < t.n_rows; i++)
        if (!strcmp(t.rows[i][c_label], "layer") && !strcmp(t.rows[i][c_panel], "0")) {
            last = fmax(last, atof(t.rows[i][c_step]));
            ck_assert_int_eq(atoi(t.rows[i][c_n]), atof(t.rows[i][c_step]) <= 500 ? 2 : 1);
        }
    ck_assert_double_eq(last, 700);
    nl_csv_table_free(&t);

    /* a final metric: finished runs only, and how many were left out */
    ck_assert_int_eq(tu_normlab("plot partial --kind batch_size"), 2); /* one batch size */
    const fake_row bs_rows[] = {
        {"b8", "8", "ok", 300}, {"b16", "16", "ok", 300}, {"b32", "32", "pending", 100}, {"b64", "64", "failed", 100},
    };
    fake_sweep("bs", "train.batch_size", bs_rows, 4, 50, 100);
    ck_assert_int_eq(tu_normlab("plot bs --kind batch_size"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "batch_size: 2 unfinished runs left out"), "%.3000s", out);
    free(out);
    gp = tu_tmp_read("bs/plots/batch_size.gp");
    ck_assert_msg(strstr(gp, "2 unfinished runs left out"), "%.3000s", gp);
    free(gp);
    char *csv = tu_tmp_read("bs/plots/batch_size.csv");
    ck_assert_msg(strstr(csv, ",8,") && strstr(csv, ",16,") && !strstr(csv, ",32,") && !strstr(csv, ",64,"),
                  "%.2000s", csv);
    free(csv);

    /* a single run killed half way */
    fake_run("killed", 700, 100, 100, NULL, 0);
    ck_assert_int_eq(tu_normlab("plot killed"), 0);
    gp = tu_tmp_read("killed/plots/curves.gp");
    ck_assert_msg(strstr(gp, "training loss (unfinished)") && strstr(gp, "unfinished run (killed)"), "%.3000s", gp);
    free(gp);
    tu_tmp_remove();
}
END_TEST

/* PDF beside PNG and SVG, when gnuplot has the pdfcairo terminal; a clear
 * message and the other formats when it has not */
START_TEST(test_pdf)
{
    setup();
    if (!have_gnuplot) {
        fprintf(stderr, "test_plot: SKIPPING test_pdf: gnuplot is not on PATH\n");
        tu_tmp_remove();
        return;
    }
    fake_run("one", 300, 50, 100, "ok", 0);
    ck_assert_int_eq(tu_normlab("plot one --kind curves --format pdf"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "curves.gp -> ") && strstr(out, "one/plots/curves.pdf") && !strstr(out, "curves.png"),
                  "%.3000s", out);
    free(out);
    char *pdf = tu_tmp_read("one/plots/curves.pdf");
    ck_assert_msg(!strncmp(pdf, "%PDF-", 5), "not a PDF: %.20s", pdf);
    free(pdf);
    char path[1024];
    snprintf(path, sizeof path, "%s/one/plots/curves.png", tu_tmp);
    ck_assert(!nl_path_exists(path));
    ck_assert_int_eq(tu_normlab("plot one --kind curves --format png,svg,pdf"), 0);
    expect_file("one/plots", "curves.png");
    expect_file("one/plots", "curves.svg");
    ck_assert_int_eq(tu_normlab("plot one --format png,jpg"), 2);
    ck_assert_int_eq(tu_normlab("plot one --format ,pdf"), 2);

    /* a gnuplot built without cairo's PDF terminal */
    char gnuplot[1024];
    ck_assert(nl_plot_find_gnuplot(gnuplot, sizeof gnuplot));
    char script[1400];
    snprintf(script, sizeof script, "#!/bin/sh\ncase \"$*\" in *pdfcairo*) echo 'unknown or ambiguous terminal type' >&2; "
             "exit 1;; esac\nexec %s \"$@\"\n", gnuplot);
    write_at("bin", "gnuplot", script);
    snprintf(path, sizeof path, "%s/bin/gnuplot", tu_tmp);
    ck_assert_int_eq(chmod(path, 0755), 0);
    snprintf(path, sizeof path, "%s/one/plots/curves.pdf", tu_tmp);
    ck_assert_int_eq(unlink(path), 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && env PATH=%s/bin:$PATH %s plot one --kind curves --format png,pdf > out.txt 2>&1",
             tu_tmp, tu_tmp, NORMLAB_BINARY);
    const int status = system(cmd);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "has no pdfcairo terminal: wrote no PDFs") && strstr(out, "curves.png") &&
                      !strstr(out, "curves.pdf"), "%.3000s", out);
    free(out);
    ck_assert(!nl_path_exists(path));
    tu_tmp_remove();
}
END_TEST

/* the look lives in gnuplot templates (plots/ in the source tree, built in):
 * --write-templates gives a user copies to edit, --templates uses them, and
 * every generated script stays self-contained */
START_TEST(test_templates)
{
    setup();
    ck_assert_int_eq(tu_normlab("plot --write-templates tpl"), 0);
    /* the built-in templates are the source tree's, one per kind and the style */
    for (int k = -1; k < nl_plot_kind_names.count; k++) {
        char name[128], source[1024];
        snprintf(name, sizeof name, "tpl/%s.gp", k < 0 ? "style" : nl_name_of(&nl_plot_kind_names, k));
        snprintf(source, sizeof source, "%s/plots/%s.gp", NORMLAB_SOURCE_DIR,
                 k < 0 ? "style" : nl_name_of(&nl_plot_kind_names, k));
        char *written = tu_tmp_read(name), *text = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_read_file(source, &text, NULL, &err) == NL_OK, "%s", err.msg);
        ck_assert_msg(!strcmp(written, text), "%s differs from %s", name, source);
        free(written);
        free(text);
    }
    fake_run("one", 300, 50, 100, "ok", 0);
    ck_assert_int_eq(tu_normlab("plot one --kind curves"), 0);
    char *gp = tu_tmp_read("one/plots/curves.gp");
    ck_assert_msg(strstr(gp, "curve_lw = 2 ") && strstr(gp, "lw curve_lw") && !strstr(gp, "#ff0000") &&
                      !strstr(gp, "load ") && !strstr(gp, "call "), "%.3000s", gp);
    free(gp);
    /* edited copies: a grid colour in the style, a line width in the kind's own */
    char *style = tu_tmp_read("tpl/style.gp");
    char *grid = strstr(style, "set grid lc rgb \"#e0e0e0\"");
    ck_assert(grid);
    memcpy(grid + strlen("set grid lc rgb \""), "#ff0000", 7);
    tu_tmp_write("tpl/style.gp", style);
    free(style);
    tu_tmp_write("tpl/curves.gp", "curve_lw = 5\npoint_type = 5\npoint_size = 2\nrun_train_color = \"black\"\n"
                                  "run_test_color = \"red\"\nrun_point_size = 1\n");
    char path[1024];
    snprintf(path, sizeof path, "%s/tpl/lr.gp", tu_tmp);
    ck_assert_int_eq(unlink(path), 0); /* a template left out: the built-in one */
    ck_assert_int_eq(tu_normlab("plot one --kind curves --templates tpl"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(!strstr(out, "gnuplot said"), "%.3000s", out);
    free(out);
    gp = tu_tmp_read("one/plots/curves.gp");
    ck_assert_msg(strstr(gp, "set grid lc rgb \"#ff0000\"") && strstr(gp, "curve_lw = 5"), "%.3000s", gp);
    free(gp);
    if (have_gnuplot)
        expect_file("one/plots", "curves.png");
    ck_assert_int_eq(tu_normlab("plot one --templates nonexistent-dir"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "nonexistent-dir: no such directory"), "%.3000s", out);
    free(out);
    write_at("empty", "README", "no templates here\n");
    ck_assert_int_eq(tu_normlab("plot one --templates empty"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "holds none of the templates (") && strstr(out, "style.gp"), "%.3000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST


/* the series labels of a compare figure's data file, in order, one per line */
static char *compare_labels(const char *csv_name)
{
    nl_csv_table t;
    nl_error err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, csv_name);
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    const int c_label = nl_csv_table_col(&t, "label"), c_panel = nl_csv_table_col(&t, "panel");
    ck_assert(c_label >= 0 && c_panel >= 0);
    char *labels = calloc(1, 4096);
    size_t used = 0;
    for (int i = 0; i < t.n_rows; i++) {
        char line[300];
        snprintf(line, sizeof line, "%s\n", t.rows[i][c_label]);
        if (!strcmp(t.rows[i][c_panel], "0") && !strstr(labels, line) && used + strlen(line) < 4096)
            used += (size_t)snprintf(labels + used, 4096 - used, "%s", line);
    }
    nl_csv_table_free(&t);
    return labels;
}

/* replaces fake_run's config.yaml in dir by one that differs in one line */
static void edit_config(const char *dir, const char *from, const char *to)
{
    const char *at = strstr(fake_config, from);
    ck_assert(at);
    char edited[2048];
    snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - fake_config), fake_config, to, at + strlen(from));
    write_at(dir, "config.yaml", edited);
}

static void fake_run_with(const char *dir, const char *from, const char *to)
{
    fake_run(dir, 300, 50, 100, "ok", 0);
    edit_config(dir, from, to);
}

/* normlab compare: the legend names what differs between the directories
 * (a setting, a sweep's varied key), their names when nothing does; seeds
 * are averaged; the output directory is normlab's or refused */
START_TEST(test_compare)
{
    setup();
    /* the same config twice: the directories' names tell them apart */
    fake_run("a/first", 300, 50, 100, "ok", 0);
    fake_run("b/second", 300, 50, 100, "ok", 0.1);
    ck_assert_int_eq(tu_normlab("compare a/first b/second --out cmp"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "cmp/compare.gp") && !strstr(out, "gnuplot said"), "%.3000s", out);
    free(out);
    char *labels = compare_labels("cmp/compare.csv");
    ck_assert_msg(!strcmp(labels, "first\nsecond\n"), "%s", labels);
    free(labels);
    char *gp = tu_tmp_read("cmp/compare.gp");
    ck_assert_msg(strstr(gp, "title \"first\"") && strstr(gp, "\"compare.csv\"") && strstr(gp, "curve_lw = 2 "),
                  "%.3000s", gp);
    free(gp);
    if (have_gnuplot)
        expect_file("cmp", "compare.png");

    /* a setting that differs names the runs; one written two ways does not */
    fake_run_with("lr-high", "lr: 0.05", "lr: 0.1");
    fake_run_with("lr-low", "momentum: 0.9", "momentum: 9e-1");
    ck_assert_int_eq(tu_normlab("compare lr-high lr-low --out cmp2 --metric loss --split train"), 0);
    labels = compare_labels("cmp2/compare-loss-train.csv");
    ck_assert_msg(!strcmp(labels, "lr=0.1\nlr=0.05\n"), "%s", labels);
    free(labels);
    gp = tu_tmp_read("cmp2/compare-loss-train.gp");
    ck_assert_msg(strstr(gp, "momentum 0.9,"), "the subtitle lost the shared momentum:\n%.3000s", gp);
    free(gp);
    /* AdamW runs say so, without SGD's momentum */
    fake_run_with("adamw-a", "    lr: 0.05\n    momentum: 0.9", "    type: adamw\n    lr: 0.05");
    fake_run_with("adamw-b", "    lr: 0.05\n    momentum: 0.9", "    type: adamw\n    lr: 0.1");
    ck_assert_int_eq(tu_normlab("compare adamw-a adamw-b --out cmp-adamw"), 0);
    gp = tu_tmp_read("cmp-adamw/compare.gp");
    ck_assert_msg(strstr(gp, "AdamW") && !strstr(gp, "SGD") && !strstr(gp, "momentum"),
                  "the subtitle misnames the optimizer:\n%.3000s", gp);
    free(gp);

    /* two settings differ: the legend names both */
    fake_run_with("lr-momentum", "lr: 0.05\n    momentum: 0.9", "lr: 0.1\n    momentum: 0.5");
    ck_assert_int_eq(tu_normlab("compare a/first lr-momentum --out cmp-two"), 0);
    labels = compare_labels("cmp-two/compare.csv");
    ck_assert_msg(!strcmp(labels, "lr=0.05; momentum=0.9\nlr=0.1; momentum=0.5\n"), "%s", labels);
    free(labels);

    /* the architecture varies: the subtitle does not name one */
    fake_run_with("cnn-run", "arch: mlp", "arch: cnn");
    ck_assert_int_eq(tu_normlab("compare a/first cnn-run --out cmp-arch"), 0);
    labels = compare_labels("cmp-arch/compare.csv");
    ck_assert_msg(!strcmp(labels, "arch=mlp\narch=cnn\n"), "%s", labels);
    free(labels);
    gp = tu_tmp_read("cmp-arch/compare.gp");
    ck_assert_msg(strstr(gp, "| 16 relu") && !strstr(gp, "MLP"), "%.3000s", gp);
    free(gp);

    /* a sweep (two normalizers, two seeds) beside a run with another group
     * count, which only the sweep's group-norm runs have in their configs */
    const fake_row rows[] = {
        {"none_seed-1", "none,1", "ok", 300},
        {"none_seed-2", "none,2", "ok", 300},
        {"group_seed-1", "group,1", "ok", 300},
        {"group_seed-2", "group,2", "ok", 300},
    };
    fake_sweep("sweep", "model.norm.type,seed", rows, 4, 50, 100);
    edit_config("sweep/runs/none_seed-1", "type: batch", "type: none");
    edit_config("sweep/runs/none_seed-2", "type: batch", "type: none");
    edit_config("sweep/runs/group_seed-1", "type: batch", "type: group\n    groups: 4");
    edit_config("sweep/runs/group_seed-2", "type: batch", "type: group\n    groups: 4");
    fake_run_with("group-run", "type: batch", "type: group\n    groups: 8");
    ck_assert_int_eq(tu_normlab("compare sweep group-run --out cmp3 --format svg"), 0);
    labels = compare_labels("cmp3/compare.csv");
    ck_assert_msg(!strcmp(labels, "none\ngroup; groups=4\ngroup; groups=8\n"), "%s", labels);
    free(labels);
    char *csv = tu_tmp_read("cmp3/compare.csv");
    ck_assert_msg(strstr(csv, "0,none,0,50,3.1250,") && strstr(csv, ",2\n") && strstr(csv, ",1\n"), "%.3000s", csv);
    free(csv);
    if (have_gnuplot)
        expect_file("cmp3", "compare.svg");
    /* written again into its own directory */
    ck_assert_int_eq(tu_normlab("compare sweep group-run --out cmp3"), 0);

    /* refused, with nothing written: a directory that is neither, one named
     * twice, an --out that is not compare's */
    write_at("neither", "notes.txt", "not results\n");
    ck_assert_int_eq(tu_normlab("compare a/first neither --out cmp4"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "neither is neither a sweep directory"), "%.3000s", out);
    free(out);
    char path[1024];
    snprintf(path, sizeof path, "%s/cmp4", tu_tmp);
    ck_assert(!nl_path_exists(path));
    ck_assert_int_eq(tu_normlab("compare a/first a/../a/first --out cmp4"), 2);
    ck_assert(!nl_path_exists(path));
    ck_assert_int_eq(tu_normlab("compare a/first b/second --out neither"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "normlab compare did not write it"), "%.3000s", out);
    free(out);
    snprintf(path, sizeof path, "%s/neither/compare.gp", tu_tmp);
    ck_assert(!nl_path_exists(path));
    ck_assert_int_eq(tu_normlab("compare a/first --out cmp4"), 2);
    ck_assert_int_eq(tu_normlab("compare a/first b/second"), 2);
    ck_assert_int_eq(tu_normlab("compare a/first b/second --out cmp4 --metric eror"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "did you mean 'error'"), "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("compare --help"), 0);
    tu_tmp_remove();
}
END_TEST

/* a sweep's summary.csv written by hand (no run directories): group norm
 * with 2 or 16 groups and batch norm (no group count), placed before or
 * after the activation, at batch sizes 8 and 32, seeds 1 and 2; the error
 * is 10% + 1% per group-count step + 5% after + 0.1% per seed */
static void final_sweep(const char *dir)
{
    char *csv = malloc(1 << 16);
    size_t k = (size_t)sprintf(csv, "run,model.norm.type,model.norm.groups,model.norm.placement,train.batch_size,"
                                    "seed,status,final_test_loss,final_test_accuracy,final_test_error,"
                                    "best_test_accuracy,final_train_loss,final_test_trainmode_accuracy,steps,wall_s,"
                                    "samples_per_s\n");
    const char *types[] = {"batch", "group"}, *groups[] = {"2", "16"}, *placements[] = {"before", "after"};
    const int batches[] = {8, 32};
    int run = 0;
    for (int t = 0; t < 2; t++)
        for (int g = 0; g < (t ? 2 : 1); g++)
            for (int p = 0; p < 2; p++)
                for (int b = 0; b < 2; b++)
                    for (int seed = 1; seed <= 2; seed++) {
                        const double error = 0.1 + 0.01 * g + 0.05 * p + 0.001 * seed;
                        /* one run diverged: left out of its cell's mean */
                        const bool diverged = t == 1 && g == 1 && p == 1 && b == 1 && seed == 2;
                        k += (size_t)sprintf(csv + k, "r%d,%s,%s,%s,%d,%d,%s,0.5,%.4f,%.4f,%.4f,0.4,,100,1,100\n",
                                             run++, types[t], t ? groups[g] : "", placements[p], batches[b], seed,
                                             diverged ? "diverged" : "ok", 1 - error, error, 1 - error);
                    }
    write_at(dir, "summary.csv", csv);
    free(csv);
}

/* a sweep: two placements x two seeds, two batch norms logged at steps 0
 * and 10 (run r's norm l at step t: 1 + r + 10 l + t), seed 2 of post
 * lacking its second layer */
static void variance_shift_sweep(const char *dir)
{
    const fake_row rows[] = {{"a", "post,1", "ok", 20}, {"b", "post,2", "ok", 20},
                             {"c", "pre,1", "ok", 20}, {"d", "pre,2", "ok", 20}};
    fake_sweep(dir, "model.norm.placement,seed", rows, 4, 10, 10);
    for (int r = 0; r < 4; r++) {
        nl_buf b = {0};
        nl_buf_printf(&b, "step,series,layer,name,value\n");
        for (int step = 0; step <= 10; step += 10)
            for (int l = 0; l < (r == 1 ? 1 : 2); l++)
                nl_buf_printf(&b, "%d,variance_shift,%d,norm%d,%g\n%d,weight_norm,%d,fc%d.weight,5\n", step, l,
                              l + 1, 1.0 + r + 10 * l + step, step, l, l + 1);
        char run[256];
        snprintf(run, sizeof run, "%s/runs/%s", dir, rows[r].name);
        write_at(run, "series.csv", b.data);
        nl_buf_free(&b);
    }
}

/* the final kind: any swept key on x (numeric on a log2 or linear axis,
 * categorical at equal spacing), colour and panel keys chosen, means and
 * spreads over seeds; from the command line and from an experiment file */
START_TEST(test_final_plot)
{
    setup();
    final_sweep("fin");
    ck_assert_int_eq(tu_normlab("plot fin --kind final --x model.norm.groups --color model.norm.type "
                                "--panel train.batch_size"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "fin/plots/final-groups.gp") && !strstr(out, "gnuplot said"), "%.3000s", out);
    free(out);
    char *csv = tu_tmp_read("fin/plots/final-groups.csv");
    /* panel 0 is batch 8: 2 groups before the activation, seeds 1 and 2 */
    ck_assert_msg(strstr(csv, ",group; placement=before,2,2,10.15,10.1,10.2,2,0\n") &&
                      strstr(csv, ",group; placement=after,16,16,16.15,16.1,16.2,2,0\n") &&
                      !strstr(csv, "batch;"), "%.3000s", csv);
    /* panel 1 (batch 32): the diverged run is counted, not averaged */
    ck_assert_msg(strstr(csv, "1,") && strstr(csv, ",16,16,16.1,16.1,16.1,1,1\n"), "%.3000s", csv);
    free(csv);
    char *gp = tu_tmp_read("fin/plots/final-groups.gp");
    ck_assert_msg(strstr(gp, "set logscale x 2") && strstr(gp, "model.norm.groups (log2 scale)") &&
                      strstr(gp, "set title \"batch_size=32\"") &&
                      strstr(gp, "8 runs without model.norm.groups: dashed line, band = seed range") &&
                      strstr(gp, "1 diverged run left out") && strstr(gp, "curve_lw") == NULL, "%.3000s", gp);
    /* batch norm has no group count: its series are the reference, a
     * dashed mean over its seed band across the x range, titled in the
     * legend as a dashed line */
    ck_assert_msg(strstr(gp, "\"final-groups-reference.csv\" using (column(\"panel\") == 0") &&
                      strstr(gp, "with filledcurves") && strstr(gp, "with lines lw series_lw dt reference_dt") &&
                      strstr(gp, "NaN with lines lw series_lw dt reference_dt lc rgb") &&
                      strstr(gp, "NaN with linespoints"), "%.3000s", gp);
    free(gp);
    csv = tu_tmp_read("fin/plots/final-groups-reference.csv");
    ck_assert_msg(strstr(csv, "0,0,batch; placement=before,2,10.15,10.1,10.2,2,0\n") &&
                      strstr(csv, "0,0,batch; placement=before,16,10.15,10.1,10.2,2,0\n") &&
                      strstr(csv, "1,1,batch; placement=after,16,15.15,15.1,15.2,2,0\n") && !strstr(csv, "group;"),
                  "%.3000s", csv);
    free(csv);
    if (have_gnuplot)
        expect_file("fin/plots", "final-groups.png");

    /* categorical x: the placements at 0 and 1, labelled */
    ck_assert_int_eq(tu_normlab("plot fin --kind final:test_accuracy --x model.norm.placement --color model.norm.type"),
                     0);
    gp = tu_tmp_read("fin/plots/final-test_accuracy-placement.gp");
    ck_assert_msg(strstr(gp, "set xtics (\"before\" 0, \"after\" 1)") && strstr(gp, "set xrange [-0.5:1.5]") &&
                      strstr(gp, "with yerrorbars"), "%.3000s", gp);
    free(gp);
    csv = tu_tmp_read("fin/plots/final-test_accuracy-placement.csv");
    ck_assert_msg(strstr(csv, ",1,after,"), "%.3000s", csv);
    free(csv);
    /* numbers spanning less than a factor of 8: a linear axis */
    ck_assert_int_eq(tu_normlab("plot fin --kind final --x train.batch_size"), 0);
    gp = tu_tmp_read("fin/plots/final-batch_size.gp");
    ck_assert_msg(strstr(gp, "unset logscale x") && strstr(gp, "set xtics (\"8\" 8, \"32\" 32)") &&
                      strstr(gp, "with yerrorlines"), "%.3000s", gp);
    free(gp);

    /* refused: a key that does not vary, no x, a single run, keys without a final plot */
    ck_assert_int_eq(tu_normlab("plot fin --kind final --x model.norm.eps"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "'model.norm.eps' does not vary") && strstr(out, "varied keys: model.norm.type, "),
                  "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("plot fin --kind final"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "needs x"), "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("plot fin --kind batch_size --color model.norm.type"), 2);
    ck_assert_int_eq(tu_normlab("plot fin --kind final --x seed --panel seed"), 2);
    fake_run("one", 300, 50, 100, "ok", 0);
    ck_assert_int_eq(tu_normlab("plot one --x model.norm.groups"), 2);

    /* in an experiment file; its keys checked against the grid */
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("final.yaml", "name: fin\nbase: base.yaml\ngrid:\n  model.norm.type: [batch, group]\n"
                               "  model.norm.groups: [2, 4]\nplots:\n"
                               "  - {kind: final, x: model.norm.groups, color: model.norm.type}\n");
    ck_assert_int_eq(tu_normlab("validate final.yaml"), 0);
    tu_tmp_write("final.yaml", "name: fin\nbase: base.yaml\ngrid:\n  model.norm.type: [batch, group]\n"
                               "  model.norm.groups: [2, 4]\nplots:\n"
                               "  - {kind: final, x: model.norm.groups, panel: train.batch_size}\n");
    ck_assert_int_eq(tu_normlab("validate final.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "final.yaml:7:5: plots: panel: 'train.batch_size' is not a key the grid varies") &&
                      strstr(out, "accepted: model.norm.type, model.norm.groups"), "%.3000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* where: a plot of the runs whose config has the given values, for any
 * kind; numbers by value; a key no run has and a filter keeping no run are
 * refused, writing nothing; two filters of one kind write two files */
START_TEST(test_where_filter)
{
    setup();
    final_sweep("wh");
    /* batch 8.0 is batch 8; the one diverged run is at batch 32 */
    ck_assert_int_eq(tu_normlab("plot wh --kind final --x model.norm.groups --color model.norm.type "
                                "--where model.norm.placement=after --where train.batch_size=8.0"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "wh/plots/final-groups-placement-after-batch_size-8.gp"), "%.3000s", out);
    free(out);
    /* after the activation: 15% + 1% per group-count step + 0.1% per seed */
    char *csv = tu_tmp_read("wh/plots/final-groups-placement-after-batch_size-8.csv");
    ck_assert_msg(strstr(csv, ",group,2,2,15.15,15.1,15.2,2,0\n") && strstr(csv, ",group,16,16,16.15,16.1,16.2,2,0\n") &&
                      count(csv, "\n") == 3 && !strstr(csv, "10.") && !strstr(csv, "batch"), "%.3000s", csv);
    free(csv);
    csv = tu_tmp_read("wh/plots/final-groups-placement-after-batch_size-8-reference.csv");
    ck_assert_msg(count(csv, ",batch,") == 2 && count(csv, ",15.15,15.1,15.2,2,0\n") == 2 && count(csv, "\n") == 3,
                  "%.3000s", csv);
    free(csv);

    /* refused, naming the key and what there is; no file written */
    ck_assert_int_eq(tu_normlab("plot wh --kind final --x model.norm.groups --where model.norm.eps=0.001"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "no run in ") && strstr(out, "has the key 'model.norm.eps'") &&
                      strstr(out, "model.norm.type, model.norm.groups, model.norm.placement, train.batch_size, seed"),
                  "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("plot wh --kind final --x model.norm.groups --where model.norm.placement=sideways"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "model.norm.placement=sideways leaves no run") &&
                      strstr(out, "model.norm.placement has the values before, after"), "%.3000s", out);
    free(out);
    /* together: the values left by the keys before */
    ck_assert_int_eq(tu_normlab("plot wh --where model.norm.type=batch --where model.norm.groups=2"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "model.norm.groups=2 leaves no run") && strstr(out, " with type=batch") &&
                      strstr(out, "model.norm.groups has the values (none) there"), "%.3000s", out);
    free(out);
    char path[1024];
    snprintf(path, sizeof path, "%s/wh/plots/final-groups-placement-sideways.gp", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "%s written", path);
    ck_assert_int_eq(tu_normlab("plot wh --where model.norm.placement"), 2);

    /* a key only some runs have (DyT's alpha_init beside layer norm: not
     * varied, so in the runs' config.yaml only): each run's own value, in
     * either order of the runs; a run without the key does not match */
    static const char *const orders[2][2] = {{"layer", "dyt"}, {"dyt", "layer"}};
    for (int o = 0; o < 2; o++) {
        const char *dir = o ? "alpha-dyt-first" : "alpha-layer-first";
        const fake_row rows[] = {{orders[o][0], orders[o][0], "ok", 20}, {orders[o][1], orders[o][1], "ok", 20}};
        fake_sweep(dir, "model.norm.type", rows, 2, 5, 10);
        char run[300], config[2048];
        const char *type = strstr(fake_config, "type: batch");
        snprintf(config, sizeof config, "%.*stype: dyt\n    alpha_init: 0.5%s", (int)(type - fake_config), fake_config,
                 type + strlen("type: batch"));
        snprintf(run, sizeof run, "%s/runs/dyt", dir);
        write_at(run, "config.yaml", config);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "plot %s --kind curves --where model.norm.alpha_init=0.5", dir);
        const int status = tu_normlab(cmd);
        out = tu_normlab_output();
        ck_assert_msg(status == 0, "%s: %s", cmd, out);
        free(out);
        snprintf(run, sizeof run, "%s/plots/curves-alpha_init-0.5.csv", dir);
        csv = tu_tmp_read(run);
        /* one run, DyT's (its loss at step 5: 2 / 1.05 + 0.01 per row before it) */
        ck_assert_msg(strstr(csv, o ? ",5,0.3125,1.9048," : ",5,0.3125,1.9148,") && !strstr(csv, ",2\n"), "%s: %s",
                      dir, csv);
        free(csv);
        snprintf(cmd, sizeof cmd, "plot %s --kind curves --where model.norm.alpha_init=2", dir);
        ck_assert_int_eq(tu_normlab(cmd), 2);
        out = tu_normlab_output();
        ck_assert_msg(strstr(out, "model.norm.alpha_init=2 leaves no run") &&
                          strstr(out, o ? "has the values 0.5, (none)" : "has the values (none), 0.5") &&
                          strstr(out, "(none)"), "%s", out);
        free(out);
    }

    /* a kind reading the run directories: only the kept runs' series */
    variance_shift_sweep("vsw");
    nl_plot_spec specs[2];
    char msg[256];
    for (int i = 0; i < 2; i++) {
        nl_plot_spec_init(&specs[i], NL_PLOT_VARIANCE_SHIFT);
        ck_assert_msg(nl_plot_where_add(&specs[i].where, "model.norm.placement", i ? "post" : "pre", msg, sizeof msg),
                      "%s", msg);
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/vsw", tu_tmp);
    nl_plot_report *rep = calloc(1, sizeof *rep);
    nl_error err = {0};
    ck_assert_msg(nl_plot_write(dir, specs, 2, rep, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(rep->n, 2);
    ck_assert_str_eq(rep->items[0].name, "variance_shift-placement-pre");
    ck_assert_str_eq(rep->items[1].name, "variance_shift-placement-post");
    /* runs c and d (r = 2, 3): norm1 at step 0 is 3 and 4, norm2 at step 10 is 23 and 24 */
    csv = tu_tmp_read("vsw/plots/variance_shift-placement-pre.csv");
    ck_assert_msg(strstr(csv, ",0,norm1,0,3.5,3,4,2\n") && strstr(csv, ",1,norm2,10,23.5,23,24,2\n") &&
                      count(csv, "\n") == 5 && !strstr(csv, "post"), "%s", csv);
    free(csv);
    csv = tu_tmp_read("vsw/plots/variance_shift-placement-post.csv");
    ck_assert_msg(strstr(csv, ",0,norm1,0,1.5,1,2,2\n") && !strstr(csv, "pre"), "%s", csv);
    free(csv);
    char *gp = tu_tmp_read("vsw/plots/variance_shift-placement-pre.gp");
    ck_assert_msg(strstr(gp, "runs with placement=pre") && !strstr(gp, "\"placement=post\""), "%s", gp);
    free(gp);
    /* two plots of one file name: refused, nothing replaced */
    specs[1] = specs[0];
    ck_assert_int_eq(nl_plot_write(dir, specs, 2, rep, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "variance_shift-placement-pre.gp"), "%s", err.msg);
    free(rep);

    /* in an experiment file: grid keys and values, two entries of one kind */
    tu_tmp_write("base.yaml", base_config);
    const char *grid = "name: wh\nbase: base.yaml\ngrid:\n  model.norm.type: [batch, layer]\n"
                       "  train.optimizer.lr: [0.05, 0.1]\nplots:\n";
    char text[1024];
    snprintf(text, sizeof text, "%s  - {kind: curves, where: {train.optimizer.lr: 0.050}}\n"
                                "  - {kind: curves, where: {train.optimizer.lr: 0.1}}\n", grid);
    tu_tmp_write("where.yaml", text);
    ck_assert_int_eq(tu_normlab("validate where.yaml"), 0);
    snprintf(text, sizeof text, "%s  - {kind: curves, where: {train.optimizer.lr: 0.2}}\n", grid);
    tu_tmp_write("where.yaml", text);
    ck_assert_int_eq(tu_normlab("validate where.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "where.yaml:7:28: plots: where: train.optimizer.lr: '0.2' is not one of the grid's "
                              "values; accepted: 0.05, 0.1"), "%.3000s", out);
    free(out);
    snprintf(text, sizeof text, "%s  - {kind: curves, where: {train.batch_size: 16}}\n", grid);
    tu_tmp_write("where.yaml", text);
    ck_assert_int_eq(tu_normlab("validate where.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "'train.batch_size' is not a key the grid varies") &&
                      strstr(out, "accepted: model.norm.type, train.optimizer.lr"), "%.3000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* the subtitle of a transformer's plots gives its size and AdamW, nothing
 * an image model's config has (widths, activation, SGD's momentum) */
START_TEST(test_subtitle_lm)
{
    setup();
    fake_run("lm", 300, 50, 100, "ok", 0);
    write_at("lm", "config.yaml",
             "seed: 1\ndata:\n  dataset: text\nmodel:\n  arch: lm\n  d_model: 64\n  heads: 4\n  layers: 3\n"
             "  context: 32\n  norm:\n    type: rms\n    placement: pre\ntrain:\n  batch_size: 16\n  steps: 300\n"
             "  optimizer:\n    type: adamw\n    lr: 0.003\n    weight_decay: 0.1\n");
    ck_assert_int_eq(tu_normlab("plot lm --kind curves"), 0);
    char *gp = tu_tmp_read("lm/plots/curves.gp");
    ck_assert_msg(strstr(gp, "text | LM d_model 64, layers 3, heads 4, context 32, rms norm, placement pre") &&
                      strstr(gp, "AdamW lr 0.003, wd 0.1, batch 16, 300 steps") && !strstr(gp, "momentum") &&
                      !strstr(gp, "SGD") && !strstr(gp, "relu"), "%.3000s", gp);
    free(gp);
    tu_tmp_remove();
}
END_TEST

/* ---- a language model's loss plots, from committed sweeps ---- */

/* a script's y ranges set while its y label names a loss, each starting at 0 */
static int loss_axes_from_zero(const char *gp)
{
    int from_zero = 0;
    bool loss = false;
    for (const char *line = gp; *line;) {
        const size_t n = strcspn(line, "\n");
        const char *hit = strstr(line, "loss");
        if (!strncmp(line, "set ylabel ", 11))
            loss = hit && hit < line + n;
        else if (!strncmp(line, "unset ylabel", 12))
            loss = false;
        else if (loss && !strncmp(line, "set yrange [0:", 14))
            from_zero++;
        line += n + (line[n] == '\n');
    }
    return from_zero;
}

/* the largest x of the plots' borders in an SVG of gnuplot's: its closed
 * paths in the border's colour (style.gp's #444444) */
static double border_right(const char *svg)
{
    double right = 0;
    for (const char *p = svg; (p = strstr(p, "<path stroke='rgb( 68,  68,  68)'  d='M")); p++) {
        const char *d = strchr(p, 'M'), *end = strchr(d, '\'');
        const char *z = strchr(d, 'Z');
        if (!end || !z || z > end)
            continue; /* a tic mark, not a border */
        for (const char *q = d; q && q < end; q = strpbrk(q + 1, "ML")) {
            double x, y;
            if (sscanf(q + 1, "%lf,%lf", &x, &y) == 2 && x > right)
                right = x;
        }
    }
    return right;
}

/* the end of the <g> element that starts at g (after its </g>) */
static const char *group_end(const char *g)
{
    int depth = 0;
    for (const char *p = g; *p; p++) {
        if (!strncmp(p, "</g>", 4) && --depth == 0)
            return p + 4;
        if (!strncmp(p, "<g", 2) && (p[2] == ' ' || p[2] == '>'))
            depth++;
    }
    return g + strlen(g);
}

/* each legend entry of an SVG of gnuplot's (a plot group drawing a key
 * text) starts right of every plot's border and ends inside the picture:
 * in the lr kind a long entry once reached back over the border */
static void check_key_clear(const char *svg, const char *what)
{
    const double right = border_right(svg);
    double width = 0;
    ck_assert_msg(right > 0 && sscanf(strstr(svg, "<svg") ? strstr(svg, "width=\"") + 7 : "", "%lf", &width) == 1,
                  "%s: no border or width found", what);
    int entries = 0;
    for (const char *g = strstr(svg, "<g id=\"gnuplot_plot_"); g; g = strstr(g + 1, "<g id=\"gnuplot_plot_")) {
        /* a key entry: its text, then its sample line (a labels plot's
         * texts have none) */
        const char *end = group_end(g), *text = strstr(g, "<text>");
        const char *sample = text ? strstr(text, "d='M") : NULL;
        if (!text || text > end || !sample || sample > end)
            continue;
        const char *at = NULL;
        for (const char *t = strstr(g, "translate("); t && t < text; t = strstr(t + 1, "translate("))
            at = t;
        double tx = 0, ty = 0, sx = 0;
        ck_assert_msg(at && sscanf(at, "translate(%lf,%lf)", &tx, &ty) == 2 && sample &&
                          sscanf(sample, "d='M%lf", &sx) == 1, "%s: a key entry without its place", what);
        const size_t chars = strcspn(text + 6, "<");
        ck_assert_msg(sx > right && tx > right, "%s: the legend entry \"%.*s\" starts at x %.0f, on the plot "
                      "(its border at %.0f)", what, (int)chars, text + 6, sx < tx ? sx : tx, right);
        /* 6 px a character of Sans 12 at the least */
        ck_assert_msg(tx + 6.0 * (double)chars <= width, "%s: the legend entry \"%.*s\" runs past the picture's "
                      "edge (%.0f px)", what, (int)chars, text + 6, width);
        entries++;
    }
    ck_assert_msg(entries > 0, "%s: no legend entry", what);
}

START_TEST(test_lm_loss_plots)
{
    setup();
    static const struct {
        const char *sweep;
        nl_plot_kind kind;
        const char *metric, *x, *color;
    } plots[] = {{"xiong-warmup", NL_PLOT_CURVES, "loss", "", ""},
                 {"xiong-warmup", NL_PLOT_LR, "test_loss", "", ""},
                 {"rms-lm", NL_PLOT_CURVES, "loss", "", ""},
                 {"dyt-lm", NL_PLOT_FINAL, "test_loss", "model.norm.alpha_init", "model.norm.type"}};
    for (size_t i = 0; i < sizeof plots / sizeof plots[0]; i++) {
        nl_plot_spec spec;
        nl_plot_spec_init(&spec, plots[i].kind);
        snprintf(spec.metric, sizeof spec.metric, "%s", plots[i].metric);
        snprintf(spec.x, sizeof spec.x, "%s", plots[i].x);
        snprintf(spec.color, sizeof spec.color, "%s", plots[i].color);
        snprintf(spec.name, sizeof spec.name, "p%zu", i);
        char dir[600], out[600], gp_name[64];
        snprintf(dir, sizeof dir, "%s/results/%s", NORMLAB_SOURCE_DIR, plots[i].sweep);
        snprintf(out, sizeof out, "%s/p%zu", tu_tmp, i);
        nl_plot_report rep;
        nl_error err = {0};
        ck_assert_msg(nl_plot_write_into(dir, &spec, 1, NULL, NULL, out, &rep, &err) == NL_OK, "%s", err.msg);
        snprintf(gp_name, sizeof gp_name, "p%zu/p%zu.gp", i, i);
        char *gp = tu_tmp_read(gp_name);
        /* a language model's loss (2 to 4 nats) fills its axis, not its top half */
        ck_assert_msg(strstr(gp, "loss") && loss_axes_from_zero(gp) == 0, "%s %s: a loss axis starts at 0",
                      plots[i].sweep, gp_name);
        free(gp);
        if (!have_gnuplot)
            continue;
        ck_assert_msg(nl_plot_render(&rep, NL_PLOT_SVG, &err) == NL_OK, "%s", err.msg);
        snprintf(gp_name, sizeof gp_name, "p%zu/p%zu.svg", i, i);
        char *svg = tu_tmp_read(gp_name);
        check_key_clear(svg, gp_name);
        free(svg);
    }
    tu_tmp_remove();
}
END_TEST

/* a summary.json is whole or torn: every proper prefix of a whole one (a
 * file cut short anywhere) is torn, and so is anything after its end */
START_TEST(test_summary_json_whole)
{
    const char *whole = "{\n  \"name\": \"a \\\"quoted\\\" }, name\",\n  \"status\": \"ok\",\n"
                        "  \"steps\": 96,\n  \"final_test_accuracy\": 7.4e-01,\n  \"best\": null,\n"
                        "  \"flag\": true,\n  \"nested\": {\"a\": [1, 2, {\"b\": false}], \"c\": []},\n"
                        "  \"last\": -3\n}\n";
    ck_assert_msg(nl_summary_json_whole(whole), "%s", whole);
    const size_t len = strlen(whole);
    char *cut = malloc(len + 8);
    for (size_t n = 0; n < len; n++) {
        memcpy(cut, whole, n);
        cut[n] = '\0';
        /* the last newline is whitespace: the object is whole without it */
        ck_assert_msg(nl_summary_json_whole(cut) == (n == len - 1), "cut at %zu: '%s'", n, cut);
    }
    snprintf(cut, len + 8, "%s}", whole);
    ck_assert(!nl_summary_json_whole(cut));
    free(cut);
    ck_assert(!nl_summary_json_whole("{\"status\": ok}"));
    ck_assert(!nl_summary_json_whole(""));
}
END_TEST

/* the reader's account of the lines it leaves out: a line with more fields
 * than the header anywhere, and the last line when it is cut short */
START_TEST(test_csv_left_out_lines)
{
    tu_tmp_make("plot-csv");
    tu_tmp_write("t.csv", "a,b,c\n1,2,3\n4,5,6,7\n\n8,9,10\n11,1");
    char path[1024], problem[1200];
    snprintf(path, sizeof path, "%s/t.csv", tu_tmp);
    nl_csv_table t;
    nl_error err = {0};
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(t.n_rows, 2);
    ck_assert_int_eq(t.n_bad, 2);
    ck_assert_int_eq(t.cut_line, 6);
    nl_csv_table_problem(&t, "t.csv", problem, sizeof problem);
    ck_assert_str_eq(problem, "t.csv line 3: 4 fields, the header has 3; left out, with 1 more malformed lines");
    nl_csv_table_free(&t);
    /* a blank line is a block break to gnuplot, whose `every` counts
     * points per block: no clause; without one, the data lines from 0 after
     * the header up to the one before the cut line */
    char every[48];
    ck_assert_str_eq(pl_every_complete(path, every, sizeof every), "");
    tu_tmp_write("t.csv", "a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n11,1");
    ck_assert_str_eq(pl_every_complete(path, every, sizeof every), " every ::0::2");
    tu_tmp_write("whole.csv", "a,b\n1,2\n");
    snprintf(path, sizeof path, "%s/whole.csv", tu_tmp);
    ck_assert_str_eq(pl_every_complete(path, every, sizeof every), "");
    tu_tmp_remove();
}
END_TEST

/* appends `text` to tu_tmp/<path> (a row cut short: no newline) */
static void append_at(const char *path, const char *text)
{
    char full[1024];
    snprintf(full, sizeof full, "%s/%s", tu_tmp, path);
    FILE *f = fopen(full, "a");
    ck_assert_msg(f != NULL, "cannot append to %s", full);
    fputs(text, f);
    fclose(f);
}

/* a CSV whose writer was stopped mid-row: the cut line is left out, and
 * said so, naming the file and line, on the screen and in the figure;
 * where the script reads the file itself it stops before that line */
START_TEST(test_torn_rows)
{
    setup();
    const fake_row rows[] = {{"batch_s1", "batch,1", "ok", 300}, {"batch_s2", "batch,2", "ok", 300},
                             {"layer_s1", "layer,1", "ok", 300}};
    fake_sweep("sweep", "model.norm.type,seed", rows, 3, 50, 100);
    /* 6 training rows and 3 test rows after the header: line 11 is cut */
    append_at("sweep/runs/layer_s1/metrics.csv", "350,21.8750,train,0.7");
    ck_assert_int_eq(tu_normlab("plot sweep --kind curves"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "normlab plot: warning: ") &&
                      strstr(out, "sweep/runs/layer_s1/metrics.csv line 11: the last line is cut short"),
                  "%.3000s", out);
    free(out);
    char *gp = tu_tmp_read("sweep/plots/curves.gp");
    ck_assert_msg(strstr(gp, "warning: 1 cut-short or malformed CSV line left out (runs/layer_s1/metrics.csv "
                             "line 11)"), "%.3000s", gp);
    free(gp);
    /* the cut row's step is not in the curves */
    char *csv = tu_tmp_read("sweep/plots/curves.csv");
    ck_assert_msg(!strstr(csv, ",350,"), "%.3000s", csv);
    free(csv);

    /* summary.csv cut short: the plots and the table both say so */
    append_at("sweep/summary.csv", "layer_s2,layer,2,o");
    ck_assert_int_eq(tu_normlab("plot sweep --kind curves"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "sweep/summary.csv line 5: the last line is cut short") &&
                      strstr(out, "layer_s1/metrics.csv line 11"), "%.3000s", out);
    free(out);
    gp = tu_tmp_read("sweep/plots/curves.gp");
    ck_assert_msg(strstr(gp, "warning: 2 cut-short or malformed CSV lines left out (summary.csv line 5, ...)"),
                  "%.3000s", gp);
    free(gp);
    ck_assert_int_eq(tu_normlab("table sweep --metric final_test_loss"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "normlab table: warning: ") && strstr(out, "summary.csv line 5: the last line") &&
                      strstr(out, "Warning: ") && strstr(out, "| layer | 1 | 0 |"), "%.3000s", out);
    free(out);

    /* a single run's script reads metrics.csv itself: it stops before the cut line */
    fake_run("single", 300, 50, 100, NULL, 0);
    append_at("single/metrics.csv", "350,21.8750,train,0.7");
    ck_assert_int_eq(tu_normlab("plot single --kind curves"), 0);
    gp = tu_tmp_read("single/plots/curves.gp");
    /* data lines 0 to 8 (the header is line 1, the cut line 11) */
    ck_assert_msg(count(gp, "\"../metrics.csv\" every ::0::8 using") == 2, "%.3000s", gp);
    free(gp);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "single/metrics.csv line 11"), "%.3000s", out);
    free(out);
    if (have_gnuplot)
        expect_file("single/plots", "curves.png");

    /* a summary.json cut short claims nothing: the run is drawn as unfinished */
    fake_run("torn-summary", 300, 50, 100, "ok", 0);
    char *summary = tu_tmp_read("torn-summary/summary.json");
    summary[strlen(summary) - 8] = '\0'; /* "status": "ok" stays */
    write_at("torn-summary", "summary.json", summary);
    free(summary);
    ck_assert_int_eq(tu_normlab("plot torn-summary --kind curves"), 0);
    gp = tu_tmp_read("torn-summary/plots/curves.gp");
    ck_assert_msg(strstr(gp, "training loss (unfinished)") &&
                      strstr(gp, "unfinished run (summary.json is cut short or not valid JSON)"), "%.3000s", gp);
    free(gp);

    /* compare reads the same files */
    fake_run("whole", 300, 50, 100, "ok", 0);
    ck_assert_int_eq(tu_normlab("compare whole single --out cmp"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "normlab compare: warning: ") && strstr(out, "single/metrics.csv line 11"),
                  "%.3000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* compare of runs that differ in everything (a language model and an
 * image classifier): a figure of an ordinary width, the directories' names
 * in the legend, the footnote saying which settings differ and that the
 * language model's loss and error are per token */
START_TEST(test_compare_unlike_runs)
{
    setup();
    fake_run("lm", 300, 50, 100, "ok", 0);
    write_at("lm", "config.yaml",
             "seed: 1\ndata:\n  dataset: text\nmodel:\n  arch: lm\n  d_model: 64\n  heads: 4\n  layers: 3\n"
             "  context: 32\n  norm:\n    type: rms\n    placement: pre\ntrain:\n  batch_size: 16\n  steps: 300\n"
             "  optimizer:\n    type: adamw\n    lr: 0.003\n    weight_decay: 0.1\n");
    fake_run("mlp", 300, 50, 100, "ok", 0.1);
    ck_assert_int_eq(tu_normlab("compare lm mlp --out cmp"), 0);
    char *gp = tu_tmp_read("cmp/compare.gp");
    const char *w = strstr(gp, "fig_width = ");
    ck_assert_msg(w && atoi(w + strlen("fig_width = ")) <= 1400, "%.3000s", gp);
    ck_assert_msg(strstr(gp, "title \"lm\"") && strstr(gp, "title \"mlp\"") &&
                      strstr(gp, "the directories differ in ") && strstr(gp, "model.arch") &&
                      strstr(gp, "language models' loss and error are per token"), "%.4000s", gp);
    /* no subtitle claims the lm's settings for both */
    ck_assert_msg(!strstr(gp, "d_model 64"), "%.4000s", gp);
    free(gp);
    char *labels = compare_labels("cmp/compare.csv");
    ck_assert_msg(!strcmp(labels, "lm\nmlp\n"), "%s", labels);
    free(labels);
    /* two settings apart: they still name the runs */
    fake_run_with("lr-high", "lr: 0.05", "lr: 0.1");
    fake_run_with("wide", "widths: [16]", "widths: [32]");
    ck_assert_int_eq(tu_normlab("compare lr-high wide --out cmp2"), 0);
    labels = compare_labels("cmp2/compare.csv");
    ck_assert_msg(strstr(labels, "lr=0.1") && strstr(labels, "widths="), "%s", labels);
    free(labels);
    tu_tmp_remove();
}
END_TEST

/* the series kinds from series.csv files written by hand: step 0's
 * gradient norms averaged over seeds per layer (later steps left out; a
 * layer only some runs have, Pre-LN's final norm, in its place between the
 * others), and each step's largest logit over the layers averaged over
 * seeds */
START_TEST(test_series_plots)
{
    setup();
    const fake_row rows[] = {{"c", "post,1", "ok", 20}, {"d", "post,2", "diverged", 20},
                             {"a", "pre,1", "ok", 20}, {"b", "pre,2", "ok", 20}};
    fake_sweep("ser", "model.norm.placement,seed", rows, 4, 10, 10);
    /* per run: gradient norms of its layers at steps 0 and 10, logits of 2 layers */
    const char *post_layers[] = {"tok_emb", "blocks.0", "head"};
    const char *pre_layers[] = {"tok_emb", "blocks.0", "final_norm", "head"};
    const double norms[4][4] = {{1, 2, 4}, {1, 2, 8}, {1, 1, 5, 1}, {3, 3, 7, 3}};
    const double logits[4][2][2] = {{{1, 1}, {2, 2}}, {{3, 3}, {NAN, 1}}, {{1, 2}, {5, 3}}, {{4, 0}, {1, 1}}};
    for (int r = 0; r < 4; r++) {
        const bool pre = r >= 2;
        nl_buf b = {0};
        nl_buf_printf(&b, "step,series,layer,name,value\n");
        for (int step = 0; step <= 10; step += 10) {
            for (int l = 0; l < (pre ? 4 : 3); l++)
                nl_buf_printf(&b, "%d,grad_norm,%d,%s,%g\n", step, l, pre ? pre_layers[l] : post_layers[l],
                              step ? 100.0 : norms[r][l]);
            for (int l = 0; l < 2; l++)
                nl_buf_printf(&b, "%d,max_logit,%d,blocks.%d.attn.heads,%g\n", step, l, l,
                              logits[r][step / 10][l]);
        }
        write_series("ser", rows[r].name, b.data);
        nl_buf_free(&b);
    }
    plot_quietly("ser --kind grad_norms --kind attention_logits --panel model.norm.placement");
    char *csv = tu_tmp_read("ser/plots/grad_norms.csv");
    ck_assert_msg(strstr(csv, "variant,label,layer,name,mean,min,max,n\n") &&
                      strstr(csv, "0,placement=post,0,tok_emb,1,1,1,2\n") &&
                      strstr(csv, "0,placement=post,1,blocks.0,2,2,2,2\n") &&
                      strstr(csv, "0,placement=post,3,head,6,4,8,2\n") &&
                      strstr(csv, "1,placement=pre,0,tok_emb,2,1,3,2\n") &&
                      strstr(csv, "1,placement=pre,2,final_norm,6,5,7,2\n") &&
                      strstr(csv, "1,placement=pre,3,head,2,1,3,2\n") && !strstr(csv, ",100"), "%s", csv);
    free(csv);
    char *gp = tu_tmp_read("ser/plots/grad_norms.gp");
    ck_assert_msg(strstr(gp, "set xtics rotate by -40 left (\"tok_emb\" 0, \"blocks.0\" 1, \"final_norm\" 2, "
                             "\"head\" 3)") &&
                      strstr(gp, "set logscale y") && strstr(gp, "\"grad_norms.csv\"") &&
                      strstr(gp, "title \"placement=post\""), "%s", gp);
    free(gp);
    /* panels by placement, one series ("all runs"); the NaN step of the
     * diverged run leaves its step to the other seed */
    csv = tu_tmp_read("ser/plots/attention_logits.csv");
    ck_assert_msg(strstr(csv, "panel,variant,label,step,mean,min,max,n\n") &&
                      strstr(csv, "0,0,all runs,0,2,1,3,2\n") && strstr(csv, "0,0,all runs,10,2,2,2,1\n") &&
                      strstr(csv, "1,0,all runs,0,3,2,4,2\n") && strstr(csv, "1,0,all runs,10,3,1,5,2\n"), "%s", csv);
    free(csv);
    gp = tu_tmp_read("ser/plots/attention_logits.gp");
    ck_assert_msg(strstr(gp, "set title \"model.norm.placement = pre\"") && strstr(gp, "column(\"panel\") == 1"),
                  "%s", gp);
    free(gp);
    if (have_gnuplot) {
        expect_file("ser/plots", "grad_norms.png");
        expect_file("ser/plots", "attention_logits.png");
    }
    /* a colour key that does not vary; --panel where it does not apply */
    ck_assert_int_eq(tu_normlab("plot ser --kind grad_norms --color model.norm.type"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "color: 'model.norm.type' does not vary"), "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("plot ser --kind grad_norms --panel model.norm.placement"), 2);
    tu_tmp_remove();
}
END_TEST

/* the fewest labelled ticks on any log y axis of a gnuplot script (each
 * pl_log_axis's: its range, then its explicit ticks, else gnuplot's decades);
 * -1 where the script has no log axis */
static int fewest_log_ticks(const char *gp)
{
    int fewest = -1;
    for (const char *at = gp; (at = strstr(at, "set logscale y 10\nset yrange [")); at++) {
        double lo, hi;
        ck_assert_int_eq(sscanf(at, "set logscale y 10\nset yrange [%lf:%lf]", &lo, &hi), 2);
        const char *tics = strchr(at + strlen("set logscale y 10\n"), '\n') + 1;
        int n = 0;
        if (strncmp(tics, "set ytics (", 11)) { /* gnuplot's own: the decades */
            for (int d = (int)floor(log10(lo)); d <= (int)ceil(log10(hi)); d++)
                n += pow(10, d) >= lo && pow(10, d) <= hi;
        } else {
            for (const char *t = tics; *t && *t != '\n'; t++) {
                double v;
                if (*t == '"' && (t = strchr(t + 1, '"')) && sscanf(t + 1, " %lf", &v) == 1)
                    n += v >= lo && v <= hi;
            }
        }
        fewest = fewest < 0 || n < fewest ? n : fewest;
    }
    return fewest;
}

/* A log axis has at least 3 labelled ticks (issue 83, 7): gradient norms
 * over less than a decade (0.9 to 1.1: the decades label 1 alone, and a
 * factor of 1.5 has no 1-2-5 either), over 1 to 8 (1 and 10 only), and a
 * loss curve over two decades on the curves' log axis (0.1 and 1 only),
 * whose linear panel beside it gets gnuplot's own ticks back; one over 6
 * decades keeps gnuplot's own */
START_TEST(test_log_axis_ticks)
{
    setup();
    static const double ranges[][2] = {{0.9, 1.1}, {1, 8}, {1e-3, 1e3}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        const fake_row rows[] = {{"a", "1", "ok", 20}, {"b", "2", "ok", 20}};
        fake_sweep("narrow", "seed", rows, 2, 10, 10);
        for (int i = 0; i < 2; i++) {
            nl_buf b = {0};
            nl_buf_printf(&b, "step,series,layer,name,value\n");
            for (int l = 0; l < 3; l++)
                nl_buf_printf(&b, "0,grad_norm,%d,layer%d,%g\n", l, l, ranges[r][l == 2]);
            write_series("narrow", rows[i].name, b.data);
            nl_buf_free(&b);
        }
        plot_quietly("narrow --kind grad_norms");
        char *gp = tu_tmp_read("narrow/plots/grad_norms.gp");
        const int fewest = fewest_log_ticks(gp);
        ck_assert_msg(fewest >= 3, "norms over %g to %g: %d labelled ticks\n%.4000s", ranges[r][0], ranges[r][1],
                      fewest, gp);
        ck_assert_msg((r == 2) == (strstr(gp, "set ytics (") == NULL), "%.4000s", gp);
        /* gnuplot's decades labelled 0.001 ... 1000, not 1000.00000 */
        ck_assert_msg((r == 2) == (strstr(gp, "set format y \"%g\"\n") != NULL), "%.4000s", gp);
        free(gp);
    }
    /* a loss from 2 to 0.013: the curves' log axis */
    fake_run("long", 15000, 100, 500, "ok", 0);
    ck_assert_int_eq(tu_normlab("plot long --kind curves"), 0);
    char *gp = tu_tmp_read("long/plots/curves.gp");
    const char *linear = strstr(gp, "unset logscale y\n");
    ck_assert_msg(fewest_log_ticks(gp) >= 3 && linear && !strncmp(linear + 17, "set ytics autofreq\n", 19),
                  "%.4000s", gp);
    free(gp);
    if (have_gnuplot)
        expect_file("long/plots", "curves.png");
    tu_tmp_remove();
}
END_TEST

/* the experiment a committed sweep ran from: the one it records, else the
 * one in experiments/ that names it; false: none */
static bool committed_experiment(const char *dir, nl_experiment *exp)
{
    char path[1200];
    bool found = false;
    nl_error err = {0};
    if (!(nl_sweep_recorded_experiment(dir, path, sizeof path, &found) && found) &&
        nl_verdict_find_experiment(dir, NORMLAB_SOURCE_DIR "/experiments", path, sizeof path, &err) != NL_OK)
        return false;
    ck_assert_msg(nl_experiment_load(path, exp, &err) == NL_OK, "%s: %s", path, err.msg);
    return true;
}

typedef struct {
    int sweeps, compared;
    nl_buf stale; /* "results/SWEEP/plots/NAME (now: the file as written now)" a line each */
} scripts_check;

/* the .gp and .csv files both plots directories hold, compared byte for byte */
static void compare_plots_dirs(const char *committed, const char *drawn, scripts_check *c)
{
    DIR *d = opendir(drawn);
    ck_assert_msg(d != NULL, "%s", drawn);
    for (struct dirent *e; (e = readdir(d));) {
        const size_t len = strlen(e->d_name);
        if (len < 4 || (strcmp(e->d_name + len - 3, ".gp") && strcmp(e->d_name + len - 4, ".csv")))
            continue;
        char mine[1600], theirs[1600];
        snprintf(mine, sizeof mine, "%s/%s", drawn, e->d_name);
        snprintf(theirs, sizeof theirs, "%s/%s", committed, e->d_name);
        if (!nl_path_exists(theirs))
            continue;
        char *a = NULL, *b = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_read_file(mine, &a, NULL, &err) == NL_OK && nl_read_file(theirs, &b, NULL, &err) == NL_OK,
                      "%s", err.msg);
        if (strcmp(a, b))
            nl_buf_printf(&c->stale, "results/%s (now: %s)\n", theirs + strlen(NORMLAB_SOURCE_DIR "/results/"),
                          mine);
        c->compared++;
        free(a);
        free(b);
    }
    closedir(d);
}

/* whether git tracks dir's summary.csv: a sweep still running, or run
 * here and not yet committed, may hold scripts of an older normlab */
static bool tracked(const char *dir)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "git -C '%s' ls-files --error-unmatch -- '%s/summary.csv' >/dev/null 2>&1",
             NORMLAB_SOURCE_DIR, dir);
    return system(cmd) == 0;
}

/* one committed sweep: its declared plots (every kind that applies where
 * it declares none) drawn into a scratch directory, scripts only */
static void visit_committed_plots(const char *dir, void *ctx)
{
    scripts_check *c = ctx;
    char committed[1300], drawn[700];
    snprintf(committed, sizeof committed, "%s/plots", dir);
    if (!nl_is_dir(committed) || !tracked(dir))
        return;
    snprintf(drawn, sizeof drawn, "%s/sweep-%d", tu_tmp, c->sweeps++);
    nl_experiment exp;
    const bool have = committed_experiment(dir, &exp);
    const int n = have && exp.n_plots > 0 ? exp.n_plots : 1;
    nl_plot_report *rep = calloc(1, sizeof *rep);
    for (int i = 0; i < n; i++) {
        nl_error err = {0};
        const nl_plot_spec *spec = have && exp.n_plots > 0 ? &exp.plots[i].spec : NULL;
        const nl_code rc = nl_plot_write_into(dir, spec, spec ? 1 : 0, NULL, NULL, drawn, rep, &err);
        ck_assert_msg(rc == NL_OK || rc == NL_ERR_USAGE, "%s: %s", dir, err.msg); /* usage: cannot apply */
    }
    free(rep);
    if (have)
        nl_experiment_free(&exp);
    if (nl_is_dir(drawn))
        compare_plots_dirs(committed, drawn, c);
}

/* Every committed plot script and its data (results/SWEEP/plots/NAME.gp
 * and .csv: rebuildable, kept in the repository, NL_RESULT_FILES) is what
 * normlab writes from the sweep's runs now: the experiment's declared
 * plots (as normlab sweep and the report draw them) written into a scratch
 * directory and compared byte for byte. A change to a kind's script
 * leaves them stale until they are written again, as the log axes' ticks
 * did (issue 83); a script drawn by hand with options the experiment does
 * not declare is not checked. */
START_TEST(test_committed_scripts_current)
{
    tu_tmp_make("plot-committed");
    scripts_check c = {0};
    tu_committed_sweep_dirs(visit_committed_plots, &c);
    /* every committed sweep has more than 100 to compare; the default
     * suite's sample (tu_committed_sample) some */
    printf("committed scripts: %d files of %d sweeps compared\n", c.compared, c.sweeps);
    ck_assert_msg(c.compared > (tu_committed_all() ? 100 : 0), "only %d committed scripts and CSVs compared, of %d "
                  "sweeps", c.compared, c.sweeps);
    ck_assert_msg(!c.stale.len, "%d sweeps, %d files compared; not what normlab plot writes now (each file as "
                  "written now is left in the scratch directory named, to copy over it; its figure, where one "
                  "is committed, drawn again from it: cd DIR/plots && gnuplot NAME.gp):\n%s", c.sweeps, c.compared,
                  c.stale.data);
    nl_buf_free(&c.stale);
    tu_tmp_remove();
}
END_TEST

/* switch_weights from series.csv files written by hand: a sweep of batch
 * and switchable normalization over two batch sizes and two seeds, only
 * the switchable runs with the series (two layers each): a panel per
 * variant that has it, each weight the mean over layers and seeds; with
 * --panel train.batch_size the same panels named by the batch size alone */
START_TEST(test_switch_weights_plot)
{
    setup();
    const fake_row rows[] = {{"b2s1", "batch,2,1", "ok", 20},      {"b2s2", "batch,2,2", "ok", 20},
                             {"s2s1", "switchable,2,1", "ok", 20}, {"s2s2", "switchable,2,2", "ok", 20},
                             {"s8s1", "switchable,8,1", "ok", 20}, {"s8s2", "switchable,8,2", "ok", 20}};
    fake_sweep("sw", "model.norm.type,train.batch_size,seed", rows, 6, 10, 10);
    static const char *const names[6] = {"switch_mean_in", "switch_mean_ln", "switch_mean_bn",
                                         "switch_var_in", "switch_var_ln", "switch_var_bn"};
    for (int r = 2; r < 6; r++) {
        nl_buf b = {0};
        nl_buf_printf(&b, "step,series,layer,name,value\n");
        for (int step = 0; step <= 20; step += 10)
            for (int layer = 0; layer < 2; layer++)
                for (int t = 0; t < 6; t++) /* batch's share grows with the batch size */
                    nl_buf_printf(&b, "%d,%s,%d,norm%d,%g\n", step, names[t], layer, layer,
                                  t % 3 == 2 ? (r < 4 ? 0.2 : 0.6) + 0.1 * layer
                                             : (r < 4 ? 0.4 : 0.2) - 0.05 * layer);
        char dir[64];
        snprintf(dir, sizeof dir, "sw/runs/%s", rows[r].name);
        write_at(dir, "series.csv", b.data);
        nl_buf_free(&b);
    }
    ck_assert_int_eq(tu_normlab("plot sw --kind switch_weights"), 0);
    char *csv = tu_tmp_read("sw/plots/switch_weights.csv");
    /* batch 2: the batch term 0.2 and 0.3 over the layers, mean 0.25 */
    ck_assert_msg(strstr(csv, "variant,label,term,statistic,step,mean,min,max,n\n") &&
                      strstr(csv, ",2,mean batch,10,0.25,0.2,0.3,4\n") &&
                      strstr(csv, ",5,variance batch,20,0.65,0.6,0.7,4\n") &&
                      strstr(csv, ",0,mean instance,0,0.375,0.35,0.4,4\n") &&
                      count(csv, "\n") == 1 + 2 * 6 * 3 && !strstr(csv, "batch, batch_size"),
                  "%s", csv);
    free(csv);
    char *gp = tu_tmp_read("sw/plots/switch_weights.gp");
    ck_assert_msg(strstr(gp, "\"switch_weights.csv\"") && count(gp, "set title") >= 2 &&
                      strstr(gp, "variance: batch") && strstr(gp, "set yrange [0:1]"), "%s", gp);
    free(gp);
    if (have_gnuplot)
        expect_file("sw/plots", "switch_weights.png");
    ck_assert_int_eq(tu_normlab("plot sw --kind switch_weights --panel train.batch_size"), 0);
    csv = tu_tmp_read("sw/plots/switch_weights.csv");
    ck_assert_msg(strstr(csv, "batch_size=2,2,mean batch,10,0.25,0.2,0.3,4\n") &&
                      strstr(csv, "batch_size=8,") && count(csv, "\n") == 1 + 2 * 6 * 3, "%s", csv);
    free(csv);
    /* the runs of a sweep without the series: nothing to draw, said so */
    const fake_row plain[] = {{"b1", "batch,1", "ok", 20}, {"b2", "batch,2", "ok", 20}};
    fake_sweep("plain_sw", "model.norm.type,seed", plain, 2, 10, 10);
    ck_assert_int_eq(tu_normlab("plot plain_sw --kind switch_weights"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "train.log.switch_weights: true"), "%.3000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* block_skip from series.csv files written by hand: every block's loss
 * increase at each run's last evaluation against its depth, averaged over
 * seeds per variant (the earlier evaluation left out) */
START_TEST(test_block_skip_plot)
{
    setup();
    const fake_row rows[] = {{"p1", "none,1", "ok", 20}, {"p2", "none,2", "ok", 20},
                             {"d1", "deepnorm,1", "ok", 20}, {"d2", "deepnorm,2", "ok", 20}};
    fake_sweep("skp", "model.residual_scale,seed", rows, 4, 10, 10);
    for (int r = 0; r < 4; r++) {
        nl_buf b = {0};
        nl_buf_printf(&b, "step,series,layer,name,value\n");
        for (int step = 0; step <= 20; step += 20)
            for (int block = 0; block < 3; block++)
                nl_buf_printf(&b, "%d,block_skip,%d,blocks.%d,%g\n", step, block, block,
                              step == 20 ? (r + 1) * (block + 1) : 100.0);
        char dir[64];
        snprintf(dir, sizeof dir, "skp/runs/%s", rows[r].name);
        write_at(dir, "series.csv", b.data);
        nl_buf_free(&b);
    }
    ck_assert_int_eq(tu_normlab("plot skp --kind block_skip"), 0);
    char *csv = tu_tmp_read("skp/plots/block_skip.csv");
    /* none: runs 1 and 2 give (block+1) and 2(block+1); deepnorm: 3 and 4 times */
    ck_assert_msg(strstr(csv, "variant,label,block,mean,min,max,n\n") &&
                      strstr(csv, "0,residual_scale=none,0,1.5,1,2,2\n") &&
                      strstr(csv, "0,residual_scale=none,2,4.5,3,6,2\n") &&
                      strstr(csv, "1,residual_scale=deepnorm,1,7,6,8,2\n") && count(csv, "\n") == 7 &&
                      !strstr(csv, ",100"), "%s", csv);
    free(csv);
    char *gp = tu_tmp_read("skp/plots/block_skip.gp");
    ck_assert_msg(strstr(gp, "\"block_skip.csv\"") && strstr(gp, "set xtics 1"), "%s", gp);
    free(gp);
    if (have_gnuplot)
        expect_file("skp/plots", "block_skip.png");
    ck_assert_int_eq(tu_normlab("plot skp --kind step_norms"), 2);
    tu_tmp_remove();
}
END_TEST

/* step_norms from series.csv files written by hand: the top layer's norms
 * at each run's last evaluation against t, averaged over seeds per
 * variant (the earlier evaluation and the lower layer left out) */
START_TEST(test_step_norms_plot)
{
    setup();
    const fake_row rows[] = {{"n1", "none,1", "ok", 20}, {"n2", "none,2", "ok", 20},
                             {"b1", "batch,1", "ok", 20}, {"b2", "batch,2", "ok", 20}};
    fake_sweep("stp", "model.norm.type,seed", rows, 4, 10, 10);
    for (int r = 0; r < 4; r++) {
        nl_buf b = {0};
        nl_buf_printf(&b, "step,series,layer,name,value\n");
        for (int step = 0; step <= 20; step += 20)
            for (int l = 0; l < 2; l++)
                for (int t = 0; t < 3; t++)
                    nl_buf_printf(&b, "%d,step_norm,%d,lstm.l%d,%g\n", step, t, l,
                                  step == 20 && l == 1 ? (r + 1) * (t + 1) : 100.0);
        char dir[64];
        snprintf(dir, sizeof dir, "stp/runs/%s", rows[r].name);
        write_at(dir, "series.csv", b.data);
        nl_buf_free(&b);
    }
    ck_assert_int_eq(tu_normlab("plot stp --kind step_norms"), 0);
    char *csv = tu_tmp_read("stp/plots/step_norms.csv");
    /* none: runs 1 and 2 give (t+1) and 2(t+1); batch: 3(t+1) and 4(t+1) */
    ck_assert_msg(strstr(csv, "variant,label,t,mean,min,max,n\n") &&
                      strstr(csv, "0,none,0,1.5,1,2,2\n") && strstr(csv, "0,none,2,4.5,3,6,2\n") &&
                      strstr(csv, "1,batch,1,7,6,8,2\n") && count(csv, "\n") == 7 &&
                      !strstr(csv, ",100"), "%s", csv);
    free(csv);
    char *gp = tu_tmp_read("stp/plots/step_norms.gp");
    ck_assert_msg(strstr(gp, "lstm.l1") && strstr(gp, "\"step_norms.csv\""), "%s", gp);
    free(gp);
    if (have_gnuplot)
        expect_file("stp/plots", "step_norms.png");
    /* runs without the series */
    ck_assert_int_eq(tu_normlab("plot stp --kind grad_norms"), 2);
    tu_tmp_remove();
}
END_TEST

/* a plot CSV row's mean for (layer name, step) in the single-variant data
 * of a probe kind (variant,label,layer,name,step,mean,min,max,n); NaN when absent */
static double probe_mean(const char *csv, const char *name, long step)
{
    for (const char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char nm[128];
        long at;
        double mean;
        int layer, n;
        if (sscanf(line + 1, "0,%*[^,],%d,%127[^,],%ld,%lf,%*[^,],%*[^,],%d", &layer, nm, &at, &mean, &n) == 5 &&
            !strcmp(nm, name) && at == step)
            return mean;
    }
    return NAN;
}

/* the probe kinds on a real run with both probes on: every series.csv row
 * of the series is a point of its layer's line (one variant: one panel, a
 * line per layer); and on a sweep written by hand, a panel per layer with
 * a line per variant, mean, min and max over seeds */
START_TEST(test_probe_plots)
{
    setup();
    /* weight_stats' metrics are the series it draws */
    for (int m = 0; m < nl_plot_weight_stat_names.count; m++)
        ck_assert_int_ge(nl_name_lookup(&nl_series_names, nl_name_of(&nl_plot_weight_stat_names, m)), 0);
    tu_tmp_write("base.yaml", base_config);
    ck_assert_int_eq(tu_normlab("run base.yaml --set model.norm.type=batch --set train.log.weight_stats=true "
                                "--set train.log.variance_shift=true --out probes --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("plot probes --kind weight_stats --kind weight_stats:effective_lr "
                                "--kind variance_shift"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(!strstr(out, "gnuplot said"), "%.3000s", out);
    free(out);
    char *series = tu_tmp_read("probes/series.csv");
    const struct {
        const char *file, *series;
    } plots[] = {{"probes/plots/weight_stats.csv", "update_ratio"},
                 {"probes/plots/weight_stats-effective_lr.csv", "effective_lr"},
                 {"probes/plots/variance_shift.csv", "variance_shift"}};
    for (size_t p = 0; p < sizeof plots / sizeof plots[0]; p++) {
        char *csv = tu_tmp_read(plots[p].file);
        static const char header[] = "variant,label,layer,name,step,mean,min,max,n\n";
        ck_assert_msg(!strncmp(csv, header, sizeof header - 1), "%s", csv);
        int rows = 0;
        for (const char *line = strchr(series, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
            long step;
            int layer;
            char kind[64], name[128];
            double value;
            if (sscanf(line + 1, "%ld,%63[^,],%d,%127[^,],%lf", &step, kind, &layer, name, &value) != 5 ||
                strcmp(kind, plots[p].series) != 0)
                continue;
            const double mean = probe_mean(csv, name, step);
            ck_assert_msg(fabs(mean - value) <= 1e-5 * fabs(value), "%s %s step %ld: %g, series.csv %g\n%s",
                          plots[p].series, name, step, mean, value, csv);
            rows++;
        }
        ck_assert_msg(rows >= 2 && count(csv, "\n") == rows + 1, "%s: %d series.csv rows\n%s", plots[p].series,
                      rows, csv);
        free(csv);
    }
    free(series);
    /* one variant: one panel, a line per layer, titled by the layer */
    char *gp = tu_tmp_read("probes/plots/weight_stats.gp");
    ck_assert_msg(count(gp, "\nplot ") == 1 && strstr(gp, "column(\"layer\") == 1") &&
                      strstr(gp, "title \"fc1.weight\""), "%s", gp);
    free(gp);
    gp = tu_tmp_read("probes/plots/variance_shift.gp");
    ck_assert_msg(strstr(gp, "1 with lines lw series_lw dt reference_dt") && strstr(gp, "(no shift)"), "%s", gp);
    free(gp);
    if (have_gnuplot) {
        expect_file("probes/plots", "weight_stats.png");
        expect_file("probes/plots", "weight_stats-effective_lr.png");
        expect_file("probes/plots", "variance_shift.png");
    }
    /* a run without the probe: the kind says which key logs it */
    ck_assert_int_eq(tu_normlab("run base.yaml --out plain --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("plot plain --kind variance_shift"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "set train.log.variance_shift: true"), "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("plot plain --kind weight_stats:grad_norm"), 2);

    variance_shift_sweep("vs");
    ck_assert_int_eq(tu_normlab("plot vs --kind variance_shift"), 0);
    char *csv = tu_tmp_read("vs/plots/variance_shift.csv");
    ck_assert_msg(strstr(csv, "0,placement=post,0,norm1,0,1.5,1,2,2\n") &&
                      strstr(csv, "0,placement=post,1,norm2,10,21,21,21,1\n") &&
                      strstr(csv, "1,placement=pre,0,norm1,10,13.5,13,14,2\n") &&
                      strstr(csv, "1,placement=pre,1,norm2,0,13.5,13,14,2\n") && count(csv, "\n") == 9 &&
                      !strstr(csv, "weight"), "%s", csv);
    free(csv);
    gp = tu_tmp_read("vs/plots/variance_shift.gp");
    ck_assert_msg(count(gp, "\nplot ") == 2 && strstr(gp, "set title \"norm1\"") && strstr(gp, "set title \"norm2\"") &&
                      strstr(gp, "title \"placement=pre\"") && strstr(gp, "mean over 2 seeds"), "%s", gp);
    free(gp);
    if (have_gnuplot)
        expect_file("vs/plots", "variance_shift.png");
    tu_tmp_remove();
}
END_TEST

/* effective_lr's equilibrium sqrt(2 lr wd): from a real run's resolved
 * config (one variant: one line in the reference colour), per variant of a
 * sweep in its colour, and none where the derivation does not hold
 * (momentum), saying why */
static const char *sgd_config =
    "seed: 1\ndata:\n  dataset: synthetic\n  shape: [8]\n  classes: 3\n  train_size: 256\n"
    "model:\n  arch: mlp\n  widths: [16, 16]\n  norm:\n    type: batch\n"
    "train:\n  batch_size: 16\n  steps: 20\n  optimizer:\n    type: sgd\n    lr: 0.05\n    momentum: %s\n"
    "    weight_decay: 0.01\n  schedule:\n    type: constant\n";

START_TEST(test_effective_lr_equilibrium)
{
    setup();
    tu_tmp_write("base.yaml", base_config);
    ck_assert_int_eq(tu_normlab("run base.yaml --set model.norm.type=batch --set train.log.weight_stats=true "
                                "--set train.optimizer.momentum=0 --set train.optimizer.weight_decay=0.01 "
                                "--out plain_sgd --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("plot plain_sgd --kind weight_stats:effective_lr"), 0);
    char *gp = tu_tmp_read("plain_sgd/plots/weight_stats-effective_lr.gp");
    /* sqrt(2 * 0.05 * 0.01) */
    ck_assert_msg(count(gp, "0.0316227766 with lines lw series_lw dt reference_dt lc rgb reference_color") == 1 &&
                      strstr(gp, "sqrt(2 lr wd) = 0.0316"), "%s", gp);
    free(gp);

    /* a sweep over lr, two seeds, two scale-invariant layers */
    const fake_row rows[] = {{"a", "0.05,1", "ok", 20}, {"b", "0.05,2", "ok", 20},
                             {"c", "0.2,1", "ok", 20}, {"d", "0.2,2", "ok", 20}};
    for (int momentum = 0; momentum < 2; momentum++) {
        fake_sweep("elr", "train.optimizer.lr,seed", rows, 4, 10, 10);
        for (int r = 0; r < 4; r++) {
            char dir[64], config[1024];
            snprintf(dir, sizeof dir, "elr/runs/%s", rows[r].name);
            snprintf(config, sizeof config, sgd_config, momentum ? "0.9" : "0");
            write_at(dir, "config.yaml", config);
            nl_buf b = {0};
            nl_buf_printf(&b, "step,series,layer,name,value\n");
            for (int step = 0; step <= 10; step += 10)
                for (int l = 0; l < 2; l++)
                    nl_buf_printf(&b, "%d,effective_lr,%d,fc%d.weight,%g\n", step, l, l + 1, 0.01 * (r + 1));
            write_at(dir, "series.csv", b.data);
            nl_buf_free(&b);
        }
        ck_assert_int_eq(tu_normlab("plot elr --kind weight_stats:effective_lr"), 0);
        char *out = tu_normlab_output();
        gp = tu_tmp_read("elr/plots/weight_stats-effective_lr.gp");
        if (!momentum) {
            /* a line per variant in each layer's panel: sqrt(2 * 0.05 * 0.01), sqrt(2 * 0.2 * 0.01) */
            ck_assert_msg(count(gp, "\nplot ") == 2 && count(gp, "0.0316227766 with lines") == 2 &&
                              count(gp, "0.0632455532 with lines") == 2 &&
                              strstr(gp, "title \"sqrt(2 lr wd) = 0.0316, lr=0.05\"") &&
                              strstr(gp, "title \"sqrt(2 lr wd) = 0.0632, lr=0.2\"") &&
                              strstr(gp, "dashed: sqrt(2 lr wd)"), "%s", gp);
        } else {
            ck_assert_msg(!strstr(gp, "sqrt(2 lr wd) =") && strstr(gp, "momentum 0.9, not 0"), "%s", gp);
            ck_assert_msg(strstr(out, "no sqrt(2 lr wd) line for lr=0.05: momentum 0.9, not 0"), "%.3000s", out);
        }
        free(gp);
        free(out);
    }
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_kind_rows);
    tcase_add_test(tc, test_sweep_plots);
    tcase_add_test(tc, test_aggregation_matches_summary);
    tcase_add_test(tc, test_custom_labelled_by_axes);
    tcase_add_test(tc, test_single_run_and_usage);
    tcase_add_test(tc, test_rough_edges);
    tcase_add_test(tc, test_unfinished_runs);
    tcase_add_test(tc, test_pdf);
    tcase_add_test(tc, test_templates);
    tcase_add_test(tc, test_compare);
    tcase_add_test(tc, test_final_plot);
    tcase_add_test(tc, test_where_filter);
    tcase_add_test(tc, test_subtitle_lm);
    tcase_add_test(tc, test_series_plots);
    tcase_add_test(tc, test_log_axis_ticks);
    tcase_add_test(tc, test_step_norms_plot);
    tcase_add_test(tc, test_block_skip_plot);
    tcase_add_test(tc, test_switch_weights_plot);
    tcase_add_test(tc, test_probe_plots);
    tcase_add_test(tc, test_effective_lr_equilibrium);
    tcase_add_test(tc, test_torn_rows);
    tcase_add_test(tc, test_summary_json_whole);
    tcase_add_test(tc, test_csv_left_out_lines);
    tcase_add_test(tc, test_compare_unlike_runs);
    tcase_add_test(tc, test_lm_loss_plots);
    suite_add_tcase(s, tc);
    /* the committed sweeps' scripts: the seeded sample here, every one in
     * test_plot_all (label long, CK_RUN_CASE=committed) */
    TCase *committed = tcase_create("committed");
    tcase_set_timeout(committed, 120);
    tcase_add_test(committed, test_committed_scripts_current);
    suite_add_tcase(s, committed);
    return tu_run_suite(s);
}
