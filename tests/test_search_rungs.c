// ctest-labels: cpu
/* normlab search's rank.rungs (issue 117): successive halving over each
 * generation's survivors of the hurdle, with the arithmetic a sweep's
 * stop: asha uses (base/halving.h). A tiny search on synthetic data: at
 * every rung of every generation, of the m candidates that passed it the
 * best nl_halving_keep(m, eta) by Pareto order, and only they, are trained
 * at the next; each row records its rung and its scores at every rung;
 * killed while writing a generation's rows, while halving one, or in a
 * row, it goes on to the file an uninterrupted search writes; a record of
 * the form before rungs and bad rungs: are refused, exit 2. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/halving.h"
#include "log/files.h"
#include "results/summary.h"
#include "results/summary_keys.h"
#include "search/internal.h"
#include "testutil.h"

START_TEST(test_halving_arithmetic)
{
    long rungs[8];
    ck_assert_int_eq(nl_halving_rungs(2, 2, 8, rungs, 8), 2);
    ck_assert(rungs[0] == 2 && rungs[1] == 4);
    ck_assert_int_eq(nl_halving_rungs(1, 3, 81, rungs, 8), 4); /* 1 3 9 27 */
    ck_assert_int_eq(rungs[3], 27);
    ck_assert_int_eq(nl_halving_rungs(5, 3, 5, rungs, 8), 0);
    ck_assert_int_eq(nl_halving_rungs(1, 2, 1000, rungs, 3), 3);
    ck_assert_int_eq(nl_halving_keep(0, 3), 0);
    ck_assert_int_eq(nl_halving_keep(2, 3), 1); /* the best goes on */
    ck_assert_int_eq(nl_halving_keep(9, 3), 3);
    ck_assert_int_eq(nl_halving_keep(10, 3), 3);
}
END_TEST

#define DATA "data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32}\n"
#define BASE                                                                                       \
    "base:\n  " DATA "  model: {arch: cnn, widths: [4, 8], norm: {groups: 2}}\n"                   \
    "  train: {batch_size: 8, log_every: 2, optimizer: {lr: 0.05}}\n"
/* a second CNN, as a file: both ranking models take spatial formulas, so
 * that the children of generation 1 reach the rungs too */
#define CNN2 DATA "model: {arch: cnn, widths: [4, 4], norm: {groups: 2}}\ntrain: {batch_size: 8, log_every: 2, optimizer: {lr: 0.1}}\n"
#define ETA 2
#define N_RUNGS 3 /* 2, 4, 8 steps */

static const char *const search_file =
    BASE "start: [\"x / rms(x, [batch, channels])\", \"x / rms(x, [channels])\",\n"
    "        {expr: \"gamma * (x - mean(x, [batch])) / sqrt(var(x, [batch]) + eps)\", params: \"gamma = 1 per channel\"},\n"
    "        \"x / rms(x, [batch])\"]\n"
    "seed: 3\npopulation: 5\ngenerations: 1\n"
    "hurdle: {steps: 2, min_accuracy: 0, time_limit: 120}\n"
    "rank:\n  models:\n  - cnn2.yaml\n"
    "  - {data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32},\n"
    "     model: {arch: cnn, widths: [8, 8], norm: {groups: 2}}, train: {batch_size: 8, steps: 50}}\n"
    "  rungs: {min_steps: 2, eta: 2, max_steps: 8}\n  time_limit: 120\n"
    "holdout:\n  models:\n"
    "  - {data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32},\n"
    "     model: {arch: cnn, widths: [8, 4], norm: {groups: 2}}, train: {batch_size: 8, steps: 8, optimizer: {lr: 0.1}}}\n"
    "  top: 3\n"
    "claims: {top: 2, batch_size: 4, seeds: 3}\n";

static nl_search_candidate *read_rows(const char *dir, long *n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/candidates.csv", tu_tmp, dir);
    nl_search_candidate *rows = NULL;
    off_t bytes = 0;
    nl_error err = {0};
    ck_assert_msg(nl_search_records_read(path, &rows, n, &bytes, &err) == NL_OK, "%s", err.msg);
    return rows;
}

static bool dominates_at(const nl_search_candidate *a, const nl_search_candidate *b, int r)
{
    bool better = false;
    for (int k = 0; k < 2; k++) {
        if (a->rung_scores[r][k] < b->rung_scores[r][k])
            return false;
        better |= a->rung_scores[r][k] > b->rung_scores[r][k];
    }
    return better;
}

/* the halving of candidates first..last, checked from their rows: returns
 * how many reached the last rung */
static int check_generation(const nl_search_candidate *rows, long first, long last)
{
    static const long steps[N_RUNGS] = {2, 4, 8};
    int top = 0;
    for (int r = 0; r < N_RUNGS; r++) {
        int passed = 0, next = 0;
        for (long i = first - 1; i < last; i++) {
            const nl_search_candidate *c = &rows[i];
            if (c->rung < r)
                continue;
            ck_assert_int_eq(c->rung_steps[r], steps[r]);
            ck_assert_msg(!isnan(c->rung_scores[r][0]), "c%ld has no score at rung %d", c->id, r);
            passed += c->rung > r || c->stage == NL_STAGE_PASSED;
            next += c->rung > r;
        }
        if (r + 1 == N_RUNGS) {
            top = passed;
            break;
        }
        ck_assert_msg(next == nl_halving_keep(passed, ETA), "candidates %ld-%ld: %d of %d went on past "
                      "rung %d", first, last, next, passed, r);
        /* those that went on are the Pareto best: none of those kept back dominates one */
        for (long i = first - 1; i < last; i++)
            for (long j = first - 1; j < last; j++)
                if (rows[i].rung > r && rows[j].rung == r && rows[j].stage == NL_STAGE_PASSED)
                    ck_assert_msg(!dominates_at(&rows[j], &rows[i], r), "c%ld stopped at rung %d "
                                  "dominates c%ld, which went on", rows[j].id, r, rows[i].id);
    }
    for (long i = first - 1; i < last; i++)
        if (rows[i].rung >= 0) /* its scores are its last rung's */
            for (int k = 0; k < 2; k++)
                ck_assert(rows[i].scores[k] == rows[i].rung_scores[rows[i].rung][k] ||
                          (isnan(rows[i].scores[k]) && isnan(rows[i].rung_scores[rows[i].rung][k])));
    return top;
}

/* the record cut to its first `rows` rows plus `extra` bytes of the next,
 * into DIR/candidates.csv beside a copy of whole's runs */
static void killed_copy(const char *whole, const char *dir, int rows, size_t extra)
{
    const char *at = whole;
    for (int i = 0; i <= rows; i++)
        at = strchr(at, '\n') + 1;
    char sh[1024], name[300];
    snprintf(sh, sizeof sh, "cd %s && rm -rf %s && cp -r whole %s && rm -rf %s/.lock %s/holdout %s/holdout.csv "
             "%s/claims", tu_tmp, dir, dir, dir, dir, dir, dir);
    ck_assert_int_eq(system(sh), 0);
    char *part = strndup(whole, (size_t)(at - whole) + extra);
    snprintf(name, sizeof name, "%s/candidates.csv", dir);
    tu_tmp_write(name, part);
    free(part);
}

START_TEST(test_rungs_search)
{
    tu_tmp_make("search-rungs");
    tu_tmp_write("s.yaml", search_file);
    tu_tmp_write("cnn2.yaml", CNN2);
    ck_assert_int_eq(tu_normlab("search s.yaml --out whole --quiet"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "2 claims files in whole/claims"), "%s", out);
    free(out);
    char *whole = tu_tmp_read("whole/candidates.csv");
    ck_assert_msg(strstr(whole, ",scores,rung,rung_scores\n"), "%s", whole);
    long n = 0;
    nl_search_candidate *rows = read_rows("whole", &n);
    ck_assert_int_eq(n, 9);
    /* generation 0 (4 start formulas) and 1 (5 children) halved on their own */
    for (long i = 0; i < 4; i++)
        ck_assert_msg(rows[i].stage == NL_STAGE_PASSED, "start formula %ld: %s", i + 1, rows[i].reason);
    ck_assert_int_eq(check_generation(rows, 1, 4), 1); /* 4, then 2, then 1 */
    ck_assert_int_eq(check_generation(rows, 5, 9), 1);
    int below_top = 0;
    for (long i = 0; i < n; i++)
        below_top += rows[i].stage == NL_STAGE_PASSED && rows[i].rung < N_RUNGS - 1;
    ck_assert_msg(below_top >= 2, "successive halving stopped %d candidates early:\n%s", below_top, whole);
    /* a run of each rung, named for its steps */
    for (long i = 0; i < n; i++)
        for (int r = 0; r <= rows[i].rung; r++) {
            char path[700];
            struct stat st;
            snprintf(path, sizeof path, "%s/whole/rank/c%ld-m2-s%ld.yaml", tu_tmp, rows[i].id, rows[i].rung_steps[r]);
            ck_assert_msg(stat(path, &st) == 0, "no %s", path);
        }
    /* the best candidate re-run from its record: the ranking run's config
     * is the whole run, so `normlab run` on it gives the recorded accuracy,
     * and `normlab export torch` writes its formula as a module */
    long best = 0;
    ck_assert_int_eq(nl_search_best(&(nl_search_spec){.n_models = 2, .n_rungs = N_RUNGS},
                                    &(nl_search_result){.candidates = rows, .n = n}, &best, 1), 1);
    const nl_search_candidate *b = &rows[best - 1];
    ck_assert_int_eq(b->rung, N_RUNGS - 1);
    char cmd[600], *json = NULL, value[64];
    snprintf(cmd, sizeof cmd, "run whole/rank/c%ld-m1-s8.yaml --out again --quiet --threads 1", best);
    ck_assert_int_eq(tu_normlab(cmd), 0);
    char again_dir[600];
    snprintf(again_dir, sizeof again_dir, "%s/again", tu_tmp);
    ck_assert_int_eq(nl_summary_read(again_dir, &json), NL_SUMMARY_OK);
    ck_assert(nl_json_flat_get(json, NL_SUMMARY_FINAL_TEST_ACCURACY, value, sizeof value));
    ck_assert_msg(strtod(value, NULL) == b->scores[0], "c%ld re-run: %s, recorded %.17g", best, value, b->scores[0]);
    free(json);
    snprintf(cmd, sizeof cmd, "export torch whole/rank/c%ld-m1-s8.yaml --out c.py", best);
    ck_assert_int_eq(tu_normlab(cmd), 0);
    char *py = tu_tmp_read("c.py");
    ck_assert_msg(strstr(py, "import torch") && strstr(py, "def forward("), "%s", py);
    free(py);
    /* the finalists re-ranked on the held-out model, the best two written
     * as claims files that normlab sweep takes as written, naming the
     * formula and each rival, stated as hypotheses */
    char *holdout = tu_tmp_read("whole/holdout.csv");
    int finalists = 0;
    for (const char *p = strchr(holdout, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
        finalists++;
    ck_assert_msg(finalists == 3 && !strncmp(holdout, "rank,id,expr,params,holdout_scores\n1,", 37), "%s", holdout);
    long first = strtol(strchr(holdout, '\n') + 3, NULL, 10);
    free(holdout);
    char claims[200], claims_path[300];
    snprintf(claims, sizeof claims, "whole/claims/s-c%ld.yaml", first);
    char *text = tu_tmp_read(claims);
    char formula[1100];
    snprintf(formula, sizeof formula, "  c%ld: {expr: \"%s\"", first, rows[first - 1].expr);
    ck_assert_msg(strstr(text, "HYPOTHESES, NOT RESULTS") && strstr(text, formula) &&
                  strstr(text, "set: {train.batch_size: 4, model.norm.groups: 2}") && strstr(text, "seed: [1001, 1002, 1003]") &&
                  strstr(text, "-beats-batch\n") && strstr(text, "-beats-layer\n") && strstr(text, "-beats-group\n"),
                  "%s", text);
    /* registration-ready: its first sweep a pilot its own plan declares,
     * each claim a headline with the paper's value 0 (a direction) */
    char plan[300];
    snprintf(plan, sizeof plan, "plan: {kind: first-confirmation, pilots: [s-c%ld]}\nthreshold_rule: {fraction: 0.5,", first);
    int headlines = 0;
    for (const char *p = strstr(text, "    paper_value: 0  # the paper's value 0: no paper gives one, so the claim tests the direction\n    headline: true\n"); p;
         p = strstr(p + 1, "    paper_value: 0  # the paper's value 0: no paper gives one, so the claim tests the direction\n    headline: true\n"))
        headlines++;
    ck_assert_msg(strstr(text, plan) && headlines == 3, "%s", text);
    free(text);
    snprintf(claims_path, sizeof claims_path, "sweep %s --dry-run", claims);
    ck_assert_int_eq(tu_normlab(claims_path), 0);
    out = tu_normlab_output();
    snprintf(formula, sizeof formula, "model.norm.type=c%ld seed=1001", first);
    ck_assert_msg(strstr(out, formula) && strstr(out, "model.norm.type=group seed=1003"), "%s", out);
    free(out);
    free(rows);
    /* killed while writing generation 1's rows (two of its five written,
     * the third cut): the generation decided again, to the same file */
    killed_copy(whole, "k1", 6, 9);
    ck_assert_int_eq(tu_normlab("search s.yaml --out k1"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "(4 read back"), "%s", out);
    free(out);
    char *again = tu_tmp_read("k1/candidates.csv");
    ck_assert_str_eq(again, whole);
    free(again);
    /* killed while halving generation 1: its runs left, no row of it */
    killed_copy(whole, "k2", 4, 0);
    ck_assert_int_eq(tu_normlab("search s.yaml --out k2 --quiet"), 0);
    again = tu_tmp_read("k2/candidates.csv");
    ck_assert_str_eq(again, whole);
    free(again);
    /* a run past the generation a killed search was halving: not its own, refused */
    killed_copy(whole, "k3", 0, 0);
    ck_assert_int_eq(tu_normlab("search s.yaml --out k3 --quiet"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "records no candidate that left it"), "%s", out);
    free(out);
    /* held-out runs beside a record that is not whole: refused */
    char sh2[600];
    killed_copy(whole, "k4", 4, 0);
    snprintf(sh2, sizeof sh2, "mkdir -p %s/k4/holdout", tu_tmp);
    ck_assert_int_eq(system(sh2), 0);
    ck_assert_int_eq(tu_normlab("search s.yaml --out k4 --quiet"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "k4/holdout exists, but k4/candidates.csv does not record the whole"), "%s", out);
    free(out);
    /* a record from before rungs (no rung, rung_scores columns): refused, untouched */
    char *old = strdup(whole);
    char *cols = strstr(old, ",rung,rung_scores\n");
    memmove(cols, cols + strlen(",rung,rung_scores"), strlen(cols + strlen(",rung,rung_scores")) + 1);
    *(strchr(old, '\n') + 1) = '\0';
    char sh[600];
    snprintf(sh, sizeof sh, "mkdir -p %s/old", tu_tmp);
    ck_assert_int_eq(system(sh), 0);
    tu_tmp_write("old/candidates.csv", old);
    ck_assert_int_eq(tu_normlab("search s.yaml --out old --quiet"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "written by an older normlab search: it has no rung and rung_scores"), "%s", out);
    free(out);
    again = tu_tmp_read("old/candidates.csv");
    ck_assert_str_eq(again, old);
    free(again), free(old), free(whole);
    tu_tmp_remove();
}
END_TEST

/* rungs: that give no halving are refused where they are written */
START_TEST(test_bad_rungs)
{
    tu_tmp_make("search-bad-rungs");
    tu_tmp_write("cnn2.yaml", CNN2);
    static const char *const cases[][3] = {
        {"{min_steps: 0, max_steps: 8}", "rank.rungs.min_steps", "an integer in [1, "},
        {"{min_steps: 2, eta: 1, max_steps: 8}", "rank.rungs.eta", "an integer in [2, 100]"},
        {"{min_steps: 9, max_steps: 8}", "rank.rungs", "max_steps >= min_steps"},
        {"{min_steps: 2}", "rank.rungs", "max_steps is missing"},
        {"{min_steps: 1, eta: 2, max_steps: 1000}", "rank.rungs", "more than 8 rungs"},
        {"{min_steps: 1, halve: 2, max_steps: 8}", "halve", "min_steps, eta, max_steps"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, BASE "start: [\"x\"]\npopulation: 2\ngenerations: 1\n"
                 "hurdle: {steps: 2, min_accuracy: 0}\nrank: {models: [cnn2.yaml], rungs: %s}\n", cases[i][0]);
        tu_tmp_write("bad.yaml", text);
        ck_assert_int_eq(tu_normlab("search bad.yaml --out never"), 2);
        char *out = tu_normlab_output();
        ck_assert_msg(strstr(out, "bad.yaml:9:") && strstr(out, cases[i][1]) && strstr(out, cases[i][2]),
                      "%s: wanted bad.yaml:9:, '%s' and '%s' in: %s", cases[i][0], cases[i][1], cases[i][2], out);
        free(out);
        struct stat st;
        char never[512];
        snprintf(never, sizeof never, "%s/never", tu_tmp);
        ck_assert_msg(stat(never, &st) != 0, "a refused search wrote %s", never);
    }
    tu_tmp_remove();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("search_rungs");
    TCase *tc = tcase_create("search_rungs");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_halving_arithmetic);
    tcase_add_test(tc, test_rungs_search);
    tcase_add_test(tc, test_bad_rungs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(suite()); }
