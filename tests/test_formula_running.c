/* A formula's running statistics start where they should (issue 114):
 * running(r) starts at 1 where r is a spread (var, std, rms) or a mean or
 * sum of squares or magnitudes (PowerNorm's running quadratic mean, as
 * PyTorch's running_var), at 0 where r is any other mean or sum (as
 * running_mean), and at V where the formula says running(r, init=V). A
 * fresh model's evaluation output divides by that start (a mean of squares
 * started at 0 divided by sqrt(eps): 2.8e6 nats of test loss at step 0 of
 * results/power-mean-lm), the exported PyTorch module's buffers start
 * there, bad init= spellings are refused at their column (exit 2, nothing
 * written), and a finished run's saved statistics, not the start, are what
 * `normlab eval` evaluates with. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/model.h"
#include "norm/norm.h"
#include "norm/formula.h"
#include "norm/formula_torch.h"
#include "norm_space.h"
#include "testutil.h"

/* the start value of each running statistic of expr (on features) */
static int starts_of(const char *expr, float *starts, const char **what)
{
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_formula_parse(expr, "", &f, &err) == NL_OK, "%s: %s", expr, err.msg);
    nl_formula_plan *p = NULL;
    const nl_formula_input in = {.ndim = 2, .n_capacity = 4, .c = 3, .p = 1, .groups = 1};
    ck_assert_msg(nl_formula_plan_make(f, in, 1e-5f, &p, &err) == NL_OK, "%s: %s", expr, err.msg);
    const int n = nl_formula_plan_running_count(p);
    for (int k = 0; k < n; k++) {
        size_t count;
        nl_formula_plan_running_at(p, k, &count, &starts[k], &what[k]);
        ck_assert_uint_eq(count, 3);
    }
    nl_formula_plan_free(p);
    nl_formula_free(f);
    return n;
}

START_TEST(test_start_values_by_reduction)
{
    static const struct {
        const char *expr;
        float start;
        const char *what;
    } cases[] = {
        {"x - running(mean(x, [batch]))", 0.0f, "running_mean"},
        {"x + running(sum(x, [batch]))", 0.0f, "running_mean"},
        {"x / sqrt(running(var(x, [batch])) + eps)", 1.0f, "running_var"},
        {"x / running(std(x, [batch]))", 1.0f, "running_std"},
        {"x / running(rms(x, [batch]))", 1.0f, "running_std"},
        /* PowerNorm: a mean of squares is a scale */
        {"x / sqrt(running(mean(x^2, [batch])) + eps)", 1.0f, "running_mean"},
        {"x / sqrt(running(mean(x * x, [batch])) + eps)", 1.0f, "running_mean"},
        {"x / sqrt(running(mean((x - 1) ^ 4, [batch])) + eps)", 1.0f, "running_mean"},
        {"x / running(mean(abs(x), [batch]))", 1.0f, "running_mean"},
        {"x / sqrt(running(sum(x^2, [batch])) + eps)", 1.0f, "running_mean"},
        /* not squares: an odd power, a product of two values, abs inside */
        {"x - running(mean(x^3, [batch]))", 0.0f, "running_mean"},
        {"x - running(mean(x * (x + 1), [batch]))", 0.0f, "running_mean"},
        {"x - running(mean(abs(x) + 1, [batch]))", 0.0f, "running_mean"},
        /* init= overrides the rule, either way */
        {"x / sqrt(running(mean(x^2, [batch]), init=0) + eps)", 0.0f, "running_mean"},
        {"x - running(mean(x, [batch]), init = 2.5)", 2.5f, "running_mean"},
        {"x - running(mean(x, [batch]), init=-0.75)", -0.75f, "running_mean"},
        {"x / sqrt(running(var(x, [batch]), init=4) + eps)", 4.0f, "running_var"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float start[4];
        const char *what[4];
        ck_assert_int_eq(starts_of(cases[i].expr, start, what), 1);
        ck_assert_msg(start[0] == cases[i].start, "%s: starts at %g, wanted %g", cases[i].expr,
                      (double)start[0], (double)cases[i].start);
        ck_assert_msg(!strcmp(what[0], cases[i].what), "%s: %s, wanted %s", cases[i].expr, what[0],
                      cases[i].what);
    }
    /* two of them, each its own */
    float start[4];
    const char *what[4];
    ck_assert_int_eq(starts_of("(x - running(mean(x, [batch]))) / sqrt(running(mean(x^2, [batch]), "
                               "init=3) + eps)",
                               start, what),
                     2);
    ck_assert(start[0] == 0.0f && start[1] == 3.0f);
}
END_TEST

/* bad init= spellings: the library's error names the key and column */
START_TEST(test_bad_init_refused_at_its_column)
{
    static const struct {
        const char *expr, *says;
        int column;
    } cases[] = {
        {"x - running(mean(x, [batch]), init=one)", "init takes a finite number", 36},
        {"x - running(mean(x, [batch]), start=1)", "one keyword after its reduction, init", 31},
        {"x - running(mean(x, [batch]), 1)", "one keyword after its reduction, init", 31},
        {"x - running(mean(x, [batch]), init 1)", "'=' and a number after init", 36},
        {"x - running(mean(x, [batch]), init=)", "init takes a finite number", 36},
        {"x - running(mean(x, [batch]), init=1e60)", "init takes a finite number", 36},
        {"x / running(var(x, [batch]), init=-1)", "a running variance is never negative", 35},
        {"x / running(mean(x^2, [batch]), init=-2)", "mean of squares is never negative", 38},
        {"x - running(mean(x, [batch]), init=1, init=2)", "')' (or ', init='", 37},
        {"x - running(mean(x, [batch]), init=1 2)", "')' (or ', init='", 38},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nl_formula *f = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_formula_parse(cases[i].expr, "", &f, &err) == NL_ERR_CONFIG, "%s parsed",
                      cases[i].expr);
        char column[48];
        snprintf(column, sizeof column, "model.norm.expr, column %d:", cases[i].column);
        ck_assert_msg(strstr(err.msg, column) && strstr(err.msg, cases[i].says),
                      "%s: wanted '%s' and '%s' in: %s", cases[i].expr, column, cases[i].says, err.msg);
    }
}
END_TEST

/* a fresh model's evaluation output: x over the start's root */
static void fresh_eval(const char *expr, float start)
{
    tu_norm_ctx ctx = {.ndim = 2};
    nl_norm_spec_defaults(&ctx.norm, NL_NORM_EXPR);
    ctx.norm.eps = 1e-5f;
    snprintf(ctx.norm.expr, sizeof ctx.norm.expr, "%s", expr);
    ctx.norm.params[0] = '\0';
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = 5;
    nl_backend *be = tu_cpu(1);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_build_graph(&spec, be, 4, 4, 1, tu_build_norm, &ctx, &m, &err) == NL_OK,
                  "%s: %s", expr, err.msg);
    ck_assert_int_eq(m->n_states, 1);
    ck_assert(m->states[0]->init_value == start);
    float x[20], y[20];
    tu_fill_normal(x, 20, 5, 0.5f, 2.0f);
    be->ops->upload(be, m->input->data, x, sizeof x);
    nl_model_forward(m, 4, NL_MODE_EVAL);
    be->ops->download(be, y, m->logits->data, sizeof y);
    for (int i = 0; i < 20; i++) {
        const double want = x[i] / sqrt((double)start + 1e-5);
        ck_assert_msg(fabs(y[i] - want) <= 1e-5 * fmax(1, fabs(want)), "%s: y[%d] = %.9g, wanted %.9g",
                      expr, i, (double)y[i], want);
    }
    nl_model_free(m);
}

START_TEST(test_fresh_model_evaluates_with_the_start)
{
    fresh_eval("x / sqrt(running(mean(x^2, [batch])) + eps)", 1.0f);
    fresh_eval("x / sqrt(running(var(x, [batch])) + eps)", 1.0f);
    fresh_eval("x / sqrt(running(mean(x^2, [batch]), init=4) + eps)", 4.0f);
    fresh_eval("x / sqrt(running(mean(x, [batch]), init=0.25) + eps)", 0.25f);
}
END_TEST

/* the exported module's buffers start at normlab's start */
START_TEST(test_export_starts_the_buffers_alike)
{
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_formula_parse("w * (x - running(mean(x, [batch]))) / sqrt(running(mean(x^2, [batch])) "
                                   "+ eps) + running(mean(x, [batch]), init=-0.5) * running(var(x, [batch]), "
                                   "init=2.5)",
                                   "w = 1 per channel", &f, &err) == NL_OK,
                  "%s", err.msg);
    nl_buf py = {0};
    char cls[64];
    const nl_formula_torch_spec spec = {.name = "pm", .eps = 1e-5f, .momentum = 0.1f, .groups = 1};
    ck_assert_int_eq(nl_formula_torch(f, &spec, &py, cls, sizeof cls, &err), NL_OK);
    static const char *const buffers[] = {
        "register_buffer(\"running_mean\", torch.full((num_channels * num_positions,), 0.0))",
        "register_buffer(\"running_mean1\", torch.full((num_channels * num_positions,), 1.0))",
        "register_buffer(\"running_mean2\", torch.full((num_channels * num_positions,), -0.5))",
        "register_buffer(\"running_var\", torch.full((num_channels * num_positions,), 2.5))",
        "running_mean1: mean over [batch], starts at 1.0",
        /* the formula's text in the docstring keeps its init= */
        "running(mean(x, [batch]), init=-0.5)",
    };
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        ck_assert_msg(strstr(py.data, buffers[i]), "no '%s' in:\n%s", buffers[i], py.data);
    nl_buf_free(&py);
    nl_formula_free(f);
}
END_TEST

static double json_number(const char *rel, const char *key)
{
    char *text = tu_tmp_read(rel);
    char pattern[96];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(text, pattern);
    ck_assert_msg(at != NULL, "%s has no %s", rel, key);
    const double v = strtod(at + strlen(pattern), NULL);
    free(text);
    return v;
}

/* A bad init= through validate and run: exit 2 with the file, line, key and
 * column, nothing written. A finished run's evaluation reads its saved
 * statistics: `normlab eval` gives the run's final test loss (twelve
 * updates at momentum 0.1 leave 0.28 of the start in the statistic, so a
 * model evaluated at the start instead would give another). */
START_TEST(test_runs_refuse_and_restore)
{
    tu_tmp_make("formula-running");
    const char *model = "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 96, test_size: 48}\n"
                        "model:\n  arch: mlp\n  widths: [16, 16]\n  norm:\n    type: expr\n";
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "%s    expr: \"x / sqrt(running(mean(x^2, [batch]), init=no) + eps)\"\n"
                                "train: {batch_size: 16, steps: 6}\n", model);
    tu_tmp_write("bad.yaml", yaml);
    const char *commands[2] = {"validate bad.yaml", "run bad.yaml --out written --quiet"};
    for (int c = 0; c < 2; c++) {
        ck_assert_int_eq(tu_normlab(commands[c]), 2);
        char *out = tu_normlab_output();
        ck_assert_msg(strstr(out, "bad.yaml:7:") && strstr(out, "model.norm.expr, column 43:") &&
                          strstr(out, "init takes a finite number"),
                      "%s said: %s", commands[c], out);
        free(out);
    }
    char written[1024];
    snprintf(written, sizeof written, "%s/written", tu_tmp);
    ck_assert_msg(access(written, F_OK) != 0, "run wrote %s", written);
    snprintf(yaml, sizeof yaml, "%s    expr: \"x / sqrt(running(mean(x^2, [batch])) + eps)\"\n"
                                "train: {batch_size: 16, steps: 12, eval_every: 6, log_every: 6, "
                                "optimizer: {type: sgd, lr: 0.1}}\n", model);
    tu_tmp_write("pm.yaml", yaml);
    ck_assert_int_eq(tu_normlab("run pm.yaml --out r --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("eval r --threads 1"), 0);
    const double run_loss = json_number("r/summary.json", "final_test_loss");
    const double eval_loss = json_number("r/eval/test.json", "loss");
    ck_assert_msg(fabs(eval_loss - run_loss) <= 1e-6 * fmax(1, run_loss), "eval loss %.9g, the run's %.9g",
                  eval_loss, run_loss);
    tu_tmp_remove();
}
END_TEST

/* whether `rel` under the test's directory holds `text` */
static bool file_has(const char *rel, const char *text)
{
    char path[1200], buf[8192];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

/* A run killed after a checkpoint resumes with the running statistic the
 * checkpoint kept, not its start: its evaluations, which divide by that
 * statistic, and every other row are the uninterrupted run's */
START_TEST(test_resume_restores_the_statistic)
{
    tu_tmp_make("formula-resume");
    tu_tmp_write("pm.yaml",
                 "data: {dataset: synthetic, shape: [1, 12, 12], classes: 4, train_size: 512, "
                 "test_size: 128}\nmodel:\n  arch: cnn\n  widths: [8, 16]\n  norm:\n    type: expr\n"
                 "    expr: \"weight * x / sqrt(running(mean(x^2, [batch, spatial])) + eps) + bias\"\n"
                 "    params: \"weight = 1 per channel, bias = 0 per channel\"\n"
                 "train: {batch_size: 16, steps: 600, eval_every: 100, log_every: 50, "
                 "checkpoint_every: 50, optimizer: {lr: 0.05, momentum: 0.9}}\nthreads: 1\n");
    ck_assert_int_eq(tu_normlab("run pm.yaml --out ref --quiet"), 0);
    const pid_t pid = tu_normlab_start("run pm.yaml --out cut --quiet", "cut.txt", "cut.txt");
    const time_t t0 = time(NULL);
    while (!(file_has("cut/metrics.csv", "\n250,") && file_has("cut/checkpoint.nlck", "")) &&
           time(NULL) - t0 < 300)
        usleep(2000);
    int status;
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFSIGNALED(status), "the run ended before the kill");
    ck_assert_int_eq(tu_normlab("run pm.yaml --out cut"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "resuming"), "the run did not resume: %s", out);
    free(out);
    char *want = tu_metrics_without_time("ref"), *got = tu_metrics_without_time("cut");
    ck_assert_msg(!strcmp(want, got), "resumed:\n%s\nuninterrupted:\n%s", got, want);
    free(want), free(got);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("formula_running");
    TCase *tc = tcase_create("running");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_start_values_by_reduction);
    tcase_add_test(tc, test_bad_init_refused_at_its_column);
    tcase_add_test(tc, test_fresh_model_evaluates_with_the_start);
    tcase_add_test(tc, test_export_starts_the_buffers_alike);
    tcase_add_test(tc, test_runs_refuse_and_restore);
    tcase_add_test(tc, test_resume_restores_the_statistic);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
