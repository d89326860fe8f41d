/* One name everywhere (issue 114): a formula normalizer goes by its
 * model.norm.name (or its formulas: key), an unnamed one by
 * "expr-<8 hex digits>" of its text (config/norm_label.h), in the run
 * directories, summary.csv, normlab table, claims and verdicts, the plots'
 * legends, the report, TensorBoard's hyperparameters and normlab show; a
 * summary.csv written before (model.norm.type "expr") reads the same; two
 * formulas of a sweep under one name are refused (test_sweep's bad
 * experiment files). Tiny MLP runs on the synthetic data test_sweep uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/norm_label.h"
#include "log/files.h"
#include "testutil.h"

#define BASE                                                                                            \
    "base:\n"                                                                                           \
    "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}\n"            \
    "  model: {arch: mlp, widths: [16]}\n"                                                              \
    "  train: {batch_size: 16, steps: 8, eval_every: 4, log_every: 4, optimizer: {lr: 0.05}}\n"

#define BIN "weight * (x - mean(x, [batch])) / sqrt(var(x, [batch]) + eps) + bias"
#define PONO "(x - mean(x, [channels])) / sqrt(var(x, [channels]) + eps)"
#define RMS "x / sqrt(var(x, [channels]) + eps)"

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* every file under dir (relative to the test's directory) whose name ends
 * in suffix, concatenated */
static char *files_text(const char *dir, const char *suffix)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "find '%s/%s' -type f -name '*%s' | sort", tu_tmp, dir, suffix);
    FILE *list = popen(cmd, "r");
    ck_assert(list);
    nl_buf all = {0};
    char path[1024];
    while (fgets(path, sizeof path, list)) {
        path[strcspn(path, "\n")] = '\0';
        char *text = NULL;
        size_t len = 0;
        nl_error err = {0};
        ck_assert_msg(nl_read_file(path, &text, &len, &err) == NL_OK, "%s", err.msg);
        /* event files are binary: their strings are read as bytes */
        for (size_t i = 0; i < len; i++)
            text[i] = text[i] ? text[i] : ' ';
        nl_buf_printf(&all, "%s\n", text);
        free(text);
    }
    pclose(list);
    return all.data ? all.data : strdup("");
}

static char *output_of(const char *args, int want)
{
    const int rc = tu_normlab(args);
    char *out = tu_normlab_output();
    ck_assert_msg(rc == want, "normlab %s: exit %d, want %d:\n%.3000s", args, rc, want, out);
    return out;
}

/* the default name: "expr-" and FNV-1a of the text without its spaces, stable */
START_TEST(test_default_name)
{
    char a[NL_NORM_LABEL_SIZE], b[NL_NORM_LABEL_SIZE];
    nl_norm_default_label(RMS, a, sizeof a);
    ck_assert_str_eq(a, "expr-b36cc85c");
    nl_norm_default_label("\"x/sqrt(var(x,[channels])+eps)\"", b, sizeof b); /* quoted, without spaces */
    ck_assert_str_eq(a, b);
    nl_norm_default_label(PONO, b, sizeof b);
    ck_assert_str_eq(b, "expr-755b7972");
    nl_norm_label("expr", "\"mine\"", RMS, a, sizeof a);
    ck_assert_str_eq(a, "mine");
    nl_norm_label("expr", "\"\"", RMS, a, sizeof a);
    ck_assert_str_eq(a, "expr-b36cc85c");
    nl_norm_label("batch", "mine", RMS, a, sizeof a); /* a built-in is its type */
    ck_assert_str_eq(a, "batch");
    ck_assert(nl_norm_label_is_formula("bin") && nl_norm_label_is_formula("expr"));
    ck_assert(!nl_norm_label_is_formula("batch") && !nl_norm_label_is_formula(""));
}
END_TEST

/* two formulas of formulas: beside two built-ins, two seeds each */
START_TEST(test_two_formulas_and_built_ins)
{
    tu_tmp_make("formula-names");
    tu_tmp_write("exp.yaml", "name: fn\n" BASE "formulas:\n"
                 "  bin: {expr: \"" BIN "\", params: \"weight = 1 per channel, bias = 0 per channel\"}\n"
                 "  pono: {expr: \"" PONO "\"}\n"
                 "grid:\n  model.norm.type: [batch, layer, bin, pono]\n  seed: [1, 2]\n"
                 "plots:\n  - {kind: curves, split: test, metric: error}\n"
                 "claims:\n"
                 "  - {id: bin-vs-batch, paper: p, metric: final_test_error, a: {model.norm.type: bin},"
                 " b: {model.norm.type: batch}, expect: \"a ~ b within 0.9\"}\n"
                 "  - {id: pono-vs-layer, paper: p, metric: final_test_error, a: {model.norm.type: pono},"
                 " b: {model.norm.type: layer}, expect: \"a ~ b within 0.9\"}\n");
    free(output_of("sweep exp.yaml --out fn -j 2", 0));
    /* run directories and summary.csv: the names */
    static const char *const dirs[] = {"fn/runs/type-bin_seed-1", "fn/runs/type-pono_seed-2",
                                       "fn/runs/type-batch_seed-1"};
    for (int i = 0; i < 3; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s/summary.json", tu_tmp, dirs[i]);
        ck_assert_msg(nl_path_exists(path), "%s", path);
    }
    char *summary = tu_tmp_read("fn/summary.csv");
    ck_assert_int_eq(count(summary, ",bin,"), 2);
    ck_assert_int_eq(count(summary, ",pono,"), 2);
    ck_assert_int_eq(count(summary, "expr"), 0);
    free(summary);
    /* normlab table: a row per normalizer, by name */
    char *out = output_of("table fn --by model.norm.type", 0);
    ck_assert_msg(count(out, "| bin |") == 1 && count(out, "| pono |") == 1 && count(out, "| batch |") == 1 &&
                  !strstr(out, "expr"), "%s", out);
    free(out);
    /* the claims select the formulas by name; a name no run has is refused listing the names */
    out = output_of("verdict fn --experiment exp.yaml --no-registration --out v", 0);
    ck_assert_msg(strstr(out, "bin-vs-batch") && strstr(out, "pono-vs-layer"), "%s", out);
    free(out);
    tu_tmp_write("claims.yaml", "claims:\n  - {id: x, paper: p, metric: final_test_error, "
                 "a: {model.norm.type: bni}, expect: \"a < 1\"}\n");
    out = output_of("verdict fn --experiment claims.yaml --no-registration", 2);
    ck_assert_msg(strstr(out, "claims.yaml:2:") && strstr(out, "batch, layer, bin, pono"), "%s", out);
    free(out);
    /* the plots' legends, the report, TensorBoard's hyperparameters, show */
    free(output_of("plot fn", 0));
    char *plots = files_text("fn/plots", ".gp");
    ck_assert_msg(strstr(plots, "bin") && strstr(plots, "pono") && !strstr(plots, "expr"), "%.3000s", plots);
    free(plots);
    free(output_of("report fn --out fn.html", 0));
    char *page = tu_tmp_read("fn.html");
    ck_assert_msg(count(page, "<td data-k=\"bin\">bin</td>") >= 1 && !strstr(page, "data-k=\"expr\""), "page");
    free(page);
    free(output_of("export tensorboard fn --out tb", 0));
    char *events = files_text("tb", "");
    ck_assert_msg(strstr(events, "bin") && strstr(events, "pono"), "the events name no formula");
    free(events);
    out = output_of("show fn/runs/type-bin_seed-1", 0);
    ck_assert_msg(strstr(out, "normalizer: bin, a formula (model.norm.type expr)"), "%s", out);
    free(out);
    out = output_of("show fn/runs/type-layer_seed-1", 0);
    ck_assert_msg(strstr(out, "normalizer: layer\n"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* A formula the base config names (model.norm.type: [batch, expr]), as the
 * committed evonorm-b0-cnn: its directories type-rms-ish, every reader
 * names it; a sweep run before (directories type-expr, the cell "expr" in
 * summary.csv) resumes under its names and reads the same, and a claim
 * selects the formula by its name or by expr */
START_TEST(test_named_in_the_base)
{
    tu_tmp_make("formula-names");
    /* the base gives the formula its name */
    char text[2048];
    snprintf(text, sizeof text, "name: fb\nbase:\n"
             "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}\n"
             "  model: {arch: mlp, widths: [16], norm: {expr: \"" RMS "\", name: rms-ish}}\n"
             "  train: {batch_size: 16, steps: 8, eval_every: 4, log_every: 4, optimizer: {lr: 0.05}}\n"
             "grid:\n  model.norm.type: [batch, expr]\n  seed: [1, 2]\n");
    tu_tmp_write("exp.yaml", text);
    free(output_of("sweep exp.yaml --out fb -j 2", 0));
    char path[1200], old[1200];
    snprintf(path, sizeof path, "%s/fb/runs/type-rms-ish_seed-2/summary.json", tu_tmp);
    ck_assert_msg(nl_path_exists(path), "%s", path);
    /* the directories as a sweep before issue 114 named them: they resume as they are */
    for (int seed = 1; seed <= 2; seed++) {
        snprintf(path, sizeof path, "%s/fb/runs/type-rms-ish_seed-%d", tu_tmp, seed);
        snprintf(old, sizeof old, "%s/fb/runs/type-expr_seed-%d", tu_tmp, seed);
        ck_assert_int_eq(rename(path, old), 0);
    }
    free(output_of("sweep exp.yaml --out fb", 0));
    char *summary = tu_tmp_read("fb/summary.csv");
    ck_assert_msg(strstr(summary, "type-expr_seed-1,rms-ish,1,ok") && !strstr(summary, "type-rms-ish"), "%s", summary);
    free(summary);
    summary = tu_tmp_read("fb/summary.csv");
    ck_assert_msg(count(summary, ",rms-ish,") == 2 && !strstr(summary, ",expr,"), "%s", summary);
    char *plan = output_of("sweep exp.yaml --out fb --dry-run", 0);
    ck_assert_msg(count(plan, "model.norm.type=rms-ish") == 2 && !strstr(plan, "model.norm.type=expr"), "%s", plan);
    free(plan);
    /* the summary as a sweep before issue 114 wrote it */
    for (char *p = summary; (p = strstr(p, ",rms-ish,"));) {
        memcpy(p, ",expr,", 6);
        memmove(p + 6, p + 9, strlen(p + 9) + 1);
    }
    ck_assert_msg(count(summary, ",expr,") == 2, "%s", summary);
    tu_tmp_write("fb/summary.csv", summary);
    free(summary);
    char *out = output_of("table fb --by model.norm.type", 0);
    ck_assert_msg(count(out, "| rms-ish |") == 1 && !strstr(out, "| expr |"), "%s", out);
    free(out);
    tu_tmp_write("claims.yaml", "claims:\n"
                 "  - {id: by-name, paper: p, metric: final_test_error, a: {model.norm.type: rms-ish}, "
                 "b: {model.norm.type: batch}, expect: \"a ~ b within 0.9\"}\n"
                 "  - {id: by-kind, paper: p, metric: final_test_error, a: {model.norm.type: expr}, "
                 "b: {model.norm.type: batch}, expect: \"a ~ b within 0.9\"}\n");
    out = output_of("verdict fb --experiment claims.yaml --no-registration --out v1", 0);
    ck_assert_msg(strstr(out, "by-name") && strstr(out, "by-kind"), "%s", out);
    free(out);
    char *v1 = files_text("v1", ".csv");
    /* a filter by kind keeps the formula */
    out = output_of("plot fb --kind curves --where model.norm.type=expr", 0);
    free(out);
    char *plots = files_text("fb/plots", ".gp");
    ck_assert_msg(strstr(plots, "rms-ish"), "%.3000s", plots);
    free(plots);
    /* the same sweep summarized anew (the names) decides the same */
    free(output_of("sweep exp.yaml --out fb", 0));
    summary = tu_tmp_read("fb/summary.csv");
    ck_assert_msg(count(summary, ",rms-ish,") == 2, "%s", summary);
    free(summary);
    free(output_of("verdict fb --experiment claims.yaml --no-registration --out v2", 0));
    char *v2 = files_text("v2", ".csv");
    ck_assert_str_eq(v1, v2);
    free(v1);
    free(v2);
    tu_tmp_remove();
}
END_TEST

/* formulas without a name, a grid over their texts: each its default name,
 * in its directory, the table and the legend, never its text */
START_TEST(test_unnamed_formulas)
{
    tu_tmp_make("formula-names");
    tu_tmp_write("exp.yaml", "name: fu\n" BASE "set: {model.norm.type: expr}\n"
                 "grid:\n  model.norm.expr: [\"" RMS "\", \"" PONO "\"]\n  seed: [1]\n");
    free(output_of("sweep exp.yaml --out fu", 0));
    char path[1200];
    snprintf(path, sizeof path, "%s/fu/runs/expr-b36cc85c_seed-1/summary.json", tu_tmp);
    ck_assert_msg(nl_path_exists(path), "%s", path);
    snprintf(path, sizeof path, "%s/fu/runs/expr-755b7972_seed-1/summary.json", tu_tmp);
    ck_assert_msg(nl_path_exists(path), "%s", path);
    char *summary = tu_tmp_read("fu/summary.csv");
    ck_assert_msg(strstr(summary, ",expr-b36cc85c,") && !strstr(summary, "sqrt"), "%s", summary);
    free(summary);
    char *plan = output_of("sweep exp.yaml --out fu --dry-run", 0);
    ck_assert_msg(strstr(plan, "model.norm.expr=expr-755b7972") && !strstr(plan, "sqrt"), "%s", plan);
    free(plan);
    char *out = output_of("table fu", 0);
    ck_assert_msg(strstr(out, "expr-b36cc85c") && strstr(out, "expr-755b7972") && !strstr(out, "sqrt"), "%s", out);
    free(out);
    free(output_of("plot fu", 0));
    char *plots = files_text("fu/plots", ".gp");
    ck_assert_msg(strstr(plots, "expr-755b7972") && !strstr(plots, "sqrt"), "%.3000s", plots);
    free(plots);
    out = output_of("show fu/runs/expr-755b7972_seed-1", 0);
    ck_assert_msg(strstr(out, "normalizer: expr-755b7972, a formula"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* normlab compare of two runs of two formulas: the legend names each by
 * its one name, never its text */
START_TEST(test_compare_runs)
{
    tu_tmp_make("formula-names");
    static const char data[] = "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}\n"
                               "train: {batch_size: 16, steps: 8, eval_every: 4, log_every: 4}\n";
    tu_tmp_write("a.yaml", "model: {arch: mlp, widths: [16], norm: {type: expr, expr: \"" RMS "\", name: rms-ish}}\n");
    tu_tmp_write("b.yaml", "model: {arch: mlp, widths: [16], norm: {type: expr, expr: \"" PONO "\"}}\n");
    char *a = tu_tmp_read("a.yaml"), *b = tu_tmp_read("b.yaml"), text[1024];
    snprintf(text, sizeof text, "%s%s", data, a);
    tu_tmp_write("a.yaml", text);
    snprintf(text, sizeof text, "%s%s", data, b);
    tu_tmp_write("b.yaml", text);
    free(a);
    free(b);
    free(output_of("run a.yaml --out ra", 0));
    free(output_of("run b.yaml --out rb", 0));
    free(output_of("compare ra rb --out cmp", 0));
    char *gp = tu_tmp_read("cmp/compare.gp");
    ck_assert_msg(strstr(gp, "title \"rms-ish\"") && strstr(gp, "title \"expr-755b7972\"") && !strstr(gp, "sqrt"),
                  "%.4000s", gp);
    free(gp);
    tu_tmp_remove();
}
END_TEST

/* an exclude: entry names a formula by its one name, the base's as a formulas: one */
START_TEST(test_exclude_by_name)
{
    tu_tmp_make("formula-names");
    tu_tmp_write("exp.yaml", "name: fx\nbase:\n"
                 "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}\n"
                 "  model: {arch: mlp, widths: [16], norm: {expr: \"" RMS "\", name: rms-ish}}\n"
                 "  train: {batch_size: 16, steps: 8}\n"
                 "formulas:\n  pono: {expr: \"" PONO "\"}\n"
                 "grid:\n  model.norm.type: [batch, expr, pono]\n  seed: [1, 2]\n"
                 "exclude:\n  - {model.norm.type: rms-ish, seed: 2}\n  - {model.norm.type: pono, seed: 1}\n");
    char *plan = output_of("sweep exp.yaml --out fx --dry-run", 0);
    ck_assert_msg(strstr(plan, "4 runs") && strstr(plan, "type-rms-ish_seed-1") && !strstr(plan, "type-rms-ish_seed-2 ") &&
                  strstr(plan, "type-pono_seed-2") && !strstr(plan, "type-pono_seed-1 ") &&
                  !strstr(plan, "matches no run"), "%s", plan);
    free(plan);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("formula_names");
    TCase *tc = tcase_create("formula_names");
    tcase_add_test(tc, test_default_name);
    tcase_add_test(tc, test_two_formulas_and_built_ins);
    tcase_add_test(tc, test_named_in_the_base);
    tcase_add_test(tc, test_unnamed_formulas);
    tcase_add_test(tc, test_exclude_by_name);
    tcase_add_test(tc, test_compare_runs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
