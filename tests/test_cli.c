/* The normlab binary end to end on synthetic data: run outputs, divergence,
 * determinism, refusing to overwrite, interruption, kill -9, validate, list. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "log/files.h"
#include "testutil.h"
#include "train/run.h"

static char *read_text(const char *path)
{
    char *text = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(path, &text, NULL, &err) == NL_OK, "%s", err.msg);
    return text;
}







static const char *small_config =
    "name: small\n"
    "seed: 3\n"
    "data: {dataset: synthetic, train_size: 1024, test_size: 256}\n"
    "model:\n"
    "  arch: mlp\n"
    "  widths: [64, 32]\n"
    "  norm: {type: batch}\n"
    "train:\n"
    "  batch_size: 32\n"
    "  epochs: 3\n"
    "  eval_every: 32\n"
    "  log_every: 8\n"
    "  optimizer: {lr: 0.05, momentum: 0.9}\n";


typedef struct {
    long step;
    char split[32];
    double loss, accuracy;
} row;

static int read_metrics(const char *dir, row *rows, int max)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/metrics.csv", tu_tmp, dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char line[512];
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "step,epoch,split,loss,accuracy,lr,elapsed_s\n");
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        double epoch, lr, elapsed;
        int got = sscanf(line, "%ld,%lf,%31[^,],%lf,%lf,%lf,%lf", &rows[n].step, &epoch,
                         rows[n].split, &rows[n].loss, &rows[n].accuracy, &lr, &elapsed);
        ck_assert_msg(got == 7, "bad row: %s", line);
        n++;
    }
    fclose(f);
    return n;
}

START_TEST(test_run_outputs)
{
    tu_tmp_make("cli");
    tu_tmp_write("small.yaml", small_config);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 2"), 0);
    row rows[200];
    int n = read_metrics("results/small", rows, 200);
    int train = 0, test = 0, trainmode = 0;
    double first_train = -1, last_train = -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].split, "train") == 0) {
            if (first_train < 0)
                first_train = rows[i].loss;
            last_train = rows[i].loss;
            train++;
        }
        test += strcmp(rows[i].split, "test") == 0;
        trainmode += strcmp(rows[i].split, "test_trainmode") == 0;
    }
    ck_assert_int_eq(train, 12); /* 96 steps, a row every 8 */
    ck_assert_int_eq(test, 4);   /* steps 0, 32, 64, 96 */
    ck_assert_int_eq(trainmode, 4);
    ck_assert_msg(last_train < 0.6 * first_train, "loss %g -> %g", first_train, last_train);
    char path[512], value[64];
    snprintf(path, sizeof path, "%s/results/small/summary.json", tu_tmp);
    char *summary = read_text(path);
    ck_assert(nl_json_flat_get(summary, "status", value, sizeof value));
    ck_assert_str_eq(value, "ok");
    ck_assert(nl_json_flat_get(summary, "steps", value, sizeof value));
    ck_assert_str_eq(value, "96");
    ck_assert(nl_json_flat_get(summary, "final_test_accuracy", value, sizeof value));
    ck_assert_double_gt(atof(value), 0.3);
    free(summary);
    /* the resolved config loads back */
    snprintf(path, sizeof path, "%s/results/small/config.yaml", tu_tmp);
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    ck_assert_msg(nl_config_load(path, NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(cfg->train.batch_size, 32);
    ck_assert_int_eq(cfg->model.norm.kind, NL_NORM_BATCH);
    free(cfg);
    /* a finished run is not overwritten without --force */
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "--force"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --force"), 0);
}
END_TEST

START_TEST(test_same_seed_same_metrics)
{
    tu_tmp_make("cli");
    tu_tmp_write("small.yaml", small_config);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 2 --out a"), 0);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 2 --out b"), 0);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --threads 2 --out c --set seed=4"), 0);
    row a[200], b[200], c[200];
    int na = read_metrics("a", a, 200), nb = read_metrics("b", b, 200), nc = read_metrics("c", c, 200);
    ck_assert_int_eq(na, nb);
    ck_assert_int_eq(na, nc);
    bool differs = false;
    for (int i = 0; i < na; i++) {
        /* everything but the timing column is identical */
        ck_assert_int_eq(a[i].step, b[i].step);
        ck_assert_str_eq(a[i].split, b[i].split);
        ck_assert_msg(a[i].loss == b[i].loss && a[i].accuracy == b[i].accuracy,
                      "row %d differs: %.9g vs %.9g", i, a[i].loss, b[i].loss);
        differs |= a[i].loss != c[i].loss;
    }
    ck_assert_msg(differs, "another seed gave the same run");
}
END_TEST

START_TEST(test_divergence_is_a_result)
{
    tu_tmp_make("cli");
    tu_tmp_write("small.yaml", small_config);
    ck_assert_int_eq(tu_normlab("run small.yaml --quiet --set model.norm.type=none --set "
                             "train.optimizer.lr=1000 --out diverged"), 0);
    char path[512], value[64];
    snprintf(path, sizeof path, "%s/diverged/summary.json", tu_tmp);
    char *summary = read_text(path);
    ck_assert(nl_json_flat_get(summary, "status", value, sizeof value));
    ck_assert_str_eq(value, "diverged");
    ck_assert(nl_json_flat_get(summary, "steps", value, sizeof value));
    ck_assert_int_lt(atoi(value), 96); /* stopped early */
    free(summary);
}
END_TEST

/* A CNN builds each stage's ReLU into its max pooling; a traced run keeps
 * them apart (the traced activation must be a tensor). Both must train to
 * the same bits. */
START_TEST(test_trace_keeps_relu_pool_apart)
{
    tu_tmp_make("cli");
    tu_tmp_write("cnn.yaml",
                 "name: cnn\nseed: 5\n"
                 "data: {dataset: synthetic, shape: [2, 12, 12], classes: 3, train_size: 128, "
                 "test_size: 32}\n"
                 "model: {arch: cnn, widths: [4, 8], norm: {type: group, groups: 2}}\n"
                 "train: {batch_size: 8, steps: 24, eval_every: 12, log_every: 4,\n"
                 "        optimizer: {lr: 0.05, momentum: 0.9}}\n");
    ck_assert_int_eq(tu_normlab("run cnn.yaml --quiet --threads 2 --out fused"), 0);
    ck_assert_int_eq(tu_normlab("run cnn.yaml --quiet --threads 2 --out traced "
                             "--set train.trace.activation=act2 --set train.trace.every=4"),
                     0);
    char path[512];
    snprintf(path, sizeof path, "%s/traced/trace.csv", tu_tmp);
    char *trace = read_text(path);
    int lines = 0;
    for (const char *c = trace; *c; c++)
        lines += *c == '\n';
    ck_assert_msg(lines >= 3, "trace.csv: a header and rows expected, got %d lines", lines);
    free(trace);
    row a[64], b[64];
    const int na = read_metrics("fused", a, 64), nb = read_metrics("traced", b, 64);
    ck_assert_int_eq(na, nb);
    ck_assert_int_gt(na, 4);
    for (int i = 0; i < na; i++)
        ck_assert_msg(a[i].loss == b[i].loss && a[i].accuracy == b[i].accuracy,
                      "row %d: fused %.9g, separate layers %.9g", i, a[i].loss, b[i].loss);
}
END_TEST

START_TEST(test_bad_input_writes_nothing)
{
    tu_tmp_make("cli");
    tu_tmp_write("bad.yaml", "name: bad\nmodel:\n  norm:\n    type: bach\n");
    ck_assert_int_eq(tu_normlab("run bad.yaml"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "bad.yaml:4:") && strstr(out, "batch"), "%s", out);
    free(out);
    char path[512];
    snprintf(path, sizeof path, "%s/results", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "a failed config created %s", path);
    /* data that is not there: exit 2, nothing written */
    tu_tmp_write("nodata.yaml", "name: nodata\ndata: {dataset: mnist, path: /nonexistent/mnist}\n");
    ck_assert_int_eq(tu_normlab("run nodata.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "/nonexistent/mnist"), "%s", out);
    free(out);
    ck_assert(!nl_path_exists(path));
    /* usage errors */
    ck_assert_int_eq(tu_normlab("run"), 2);
    ck_assert_int_eq(tu_normlab("run small.yaml --threads zero"), 2);
    ck_assert_int_eq(tu_normlab("run small.yaml --bogus"), 2);
    ck_assert_int_eq(tu_normlab("frobnicate"), 2);
    ck_assert_int_eq(tu_normlab("rnu"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "did you mean 'run'"), "%s", out);
    free(out);
}
END_TEST

static const char *long_config =
    "name: long\n"
    "data: {dataset: synthetic, train_size: 512, test_size: 64}\n"
    "model: {arch: mlp, widths: [32]}\n"
    "train: {batch_size: 16, steps: 2000000, eval_every: 100000, log_every: 50}\n";

static pid_t start_long_run(void)
{
    tu_tmp_write("long.yaml", long_config);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (chdir(tu_tmp) != 0)
            _exit(99);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(NORMLAB_BINARY, "normlab", "run", "long.yaml", "--quiet", "--threads", "1", (char *)NULL);
        _exit(98);
    }
    /* wait until this run is training: its own summary says running and it
     * has logged a few rows */
    char dir[400], path[512];
    snprintf(dir, sizeof dir, "%s/results/long", tu_tmp);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    for (int i = 0; i < 400; i++) {
        struct stat st;
        if (nl_run_dir_status(dir) == NL_RUN_RUNNING && nl_path_exists(dir) &&
            stat(path, &st) == 0 && st.st_size > 300)
            break;
        usleep(25000);
    }
    return pid;
}

static void expect_status(const char *want)
{
    char path[512], value[64];
    snprintf(path, sizeof path, "%s/results/long/summary.json", tu_tmp);
    char *summary = read_text(path);
    ck_assert(nl_json_flat_get(summary, "status", value, sizeof value));
    ck_assert_str_eq(value, want);
    free(summary);
    ck_assert_int_eq(nl_run_dir_status(tu_tmp) , NL_RUN_RUNNING); /* no summary there */
}

START_TEST(test_interrupt_and_kill)
{
    tu_tmp_make("cli");
    pid_t pid = start_long_run();
    kill(pid, SIGINT);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    expect_status("failed");
    /* a failed run is replaced without --force */
    char old[512];
    snprintf(old, sizeof old, "%s/results/long/metrics.csv", tu_tmp);
    unlink(old);
    pid = start_long_run();
    kill(pid, SIGKILL);
    ck_assert(waitpid(pid, &status, 0) == pid);
    /* killed mid-run: the summary never claims it finished */
    expect_status("running");
    row rows[64];
    ck_assert_int_gt(read_metrics("results/long", rows, 64), 0);
}
END_TEST

START_TEST(test_validate_list_version)
{
    tu_tmp_make("cli");
    tu_tmp_write("good.yaml", small_config);
    tu_tmp_write("bad.yaml", "name: x\ntrain:\n  batch_size: 0\n");
    ck_assert_int_eq(tu_normlab("validate good.yaml"), 0);
    ck_assert_int_eq(tu_normlab("validate good.yaml bad.yaml"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "bad.yaml:3:") && strstr(out, "train.batch_size"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("validate --print good.yaml --set model.norm.type=group"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "group"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("list"), 0);
    out = tu_normlab_output();
    for (int k = 0; k < nl_norm_names.count; k++)
        ck_assert_msg(strstr(out, nl_name_of(&nl_norm_names, k)), "list lacks %s", nl_name_of(&nl_norm_names, k));
    free(out);
    ck_assert_int_eq(tu_normlab("--version"), 0);
    ck_assert_int_eq(tu_normlab("--help"), 0);
    ck_assert_int_eq(tu_normlab("run --help"), 0);
    ck_assert_int_eq(tu_normlab("validate --help"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_run_outputs);
    tcase_add_test(tc, test_same_seed_same_metrics);
    tcase_add_test(tc, test_divergence_is_a_result);
    tcase_add_test(tc, test_trace_keeps_relu_pool_apart);
    tcase_add_test(tc, test_bad_input_writes_nothing);
    tcase_add_test(tc, test_interrupt_and_kill);
    tcase_add_test(tc, test_validate_list_version);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
