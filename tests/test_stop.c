/* A sweep's stop: (sweep/stop.h): ASHA on a synthetic 81-run sweep stops
 * exactly the runs successive halving prescribes, in any order of the runs;
 * the median rule by hand-computed medians; a point waits for every run
 * (the barrier); bad stop: sections (exit 2, file:line:column, nothing
 * written); and a real sweep of tiny runs in which ASHA stops runs, each
 * stop recorded with the rule's numbers, and --resume-stopped finishes them
 * with the same bits as a sweep without stop:. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/files.h"
#include "results/files.h"
#include "results/summary_keys.h"
#include "sweep/stop.h"
#include "testutil.h"

#define N81 81
#define RUNGS 4

/* a value per run and rung, with rankings that change from rung to rung
 * (no two equal): splitmix64's bits */
static double synthetic(int run, int rung)
{
    uint64_t z = (uint64_t)(run * 131 + rung * 7919 + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0 + run * 1e-12;
}

typedef struct {
    long step[2 * RUNGS];
    double value[2 * RUNGS];
} curve81;

/* run i logs at each rung r (1, 3, 9, 27 steps) its value, and a step
 * after it a better one, which a decision at r must not see */
static void fill81(curve81 *c, nl_stop_curve *runs, int i, long reach)
{
    static const long rungs[RUNGS] = {1, 3, 9, 27};
    int n = 0;
    for (int r = 0; r < RUNGS; r++) {
        c->step[n] = rungs[r];
        c->value[n++] = synthetic(i, r);
        c->step[n] = rungs[r] + 1;
        c->value[n++] = -1.0;
    }
    runs[i] = (nl_stop_curve){.n = n, .step = c->step, .value = c->value, .reach = reach, .per_point = 1};
}

typedef struct {
    int run;
    double v;
} ranked;

static int by_value(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/* successive halving as Li et al. state it: of the n runs at rung k, the
 * top floor(n / eta) by their value at k go on */
static void reference_halving(int *stopped_at)
{
    int alive[N81], n = N81;
    for (int i = 0; i < N81; i++) {
        alive[i] = i;
        stopped_at[i] = -1;
    }
    for (int k = 0; k < RUNGS; k++) {
        ranked r[N81];
        for (int i = 0; i < n; i++)
            r[i] = (ranked){alive[i], synthetic(alive[i], k)};
        qsort(r, (size_t)n, sizeof *r, by_value);
        const int keep = n / 3;
        for (int i = keep; i < n; i++)
            stopped_at[r[i].run] = k;
        for (int i = 0; i < keep; i++)
            alive[i] = r[i].run;
        n = keep;
    }
}

START_TEST(test_asha_81_runs)
{
    const nl_stop_spec s = {.rule = NL_STOP_ASHA, .min_resource = 1, .eta = 3};
    long points[NL_STOP_MAX_POINTS];
    ck_assert_int_eq(nl_stop_points(&s, 81, points), RUNGS);
    ck_assert(points[0] == 1 && points[1] == 3 && points[2] == 9 && points[3] == 27);
    static curve81 c[N81];
    nl_stop_curve runs[N81];
    nl_stop_decision d[N81];
    for (int i = 0; i < N81; i++)
        fill81(&c[i], runs, i, 81);
    ck_assert_int_eq(nl_stop_decide(&s, points, RUNGS, runs, N81, d), RUNGS);
    int want[N81], per_rung[RUNGS] = {0}, survivors = 0;
    reference_halving(want);
    for (int i = 0; i < N81; i++) {
        ck_assert_msg(d[i].point == want[i], "run %d stopped at rung %d, the algorithm says %d", i, d[i].point,
                      want[i]);
        if (d[i].point >= 0) {
            per_rung[d[i].point]++;
            ck_assert(d[i].value > d[i].threshold); /* min: worse than the last that went on */
            ck_assert_int_eq(d[i].kept, d[i].compared / 3);
        } else {
            survivors++;
        }
    }
    /* 81 -> 27 -> 9 -> 3 -> 1 */
    ck_assert_msg(per_rung[0] == 54 && per_rung[1] == 18 && per_rung[2] == 6 && per_rung[3] == 2 && survivors == 1,
                  "%d %d %d %d, %d", per_rung[0], per_rung[1], per_rung[2], per_rung[3], survivors);
    /* the runs in another order (as workers would finish them): the same decisions */
    static curve81 c2[N81];
    nl_stop_curve runs2[N81];
    nl_stop_decision d2[N81];
    int order[N81];
    for (int i = 0; i < N81; i++)
        order[i] = (i * 37 + 11) % N81;
    nl_stop_curve scratch[N81];
    for (int i = 0; i < N81; i++) {
        fill81(&c2[i], scratch, order[i], 81);
        runs2[i] = scratch[order[i]];
    }
    nl_stop_decide(&s, points, RUNGS, runs2, N81, d2);
    for (int i = 0; i < N81; i++)
        ck_assert_int_eq(d2[i].point, d[order[i]].point);
}
END_TEST

/* a rung waits for every run that can reach it: one run short of rung 3
 * (9 steps) leaves rungs 9 and 27 undecided, whatever the others did */
START_TEST(test_asha_barrier)
{
    const nl_stop_spec s = {.rule = NL_STOP_ASHA, .min_resource = 1, .eta = 3};
    long points[NL_STOP_MAX_POINTS];
    const int n_points = nl_stop_points(&s, 81, points);
    static curve81 c[N81];
    nl_stop_curve runs[N81];
    nl_stop_decision d[N81];
    int want[N81], late = -1;
    reference_halving(want);
    for (int i = 0; i < N81; i++) {
        fill81(&c[i], runs, i, 81);
        if (late < 0 && (want[i] < 0 || want[i] >= 2))
            late = i; /* a run that went on past rung 3 */
    }
    runs[late].reach = 5;
    ck_assert_int_eq(nl_stop_decide(&s, points, n_points, runs, N81, d), 2);
    for (int i = 0; i < N81; i++)
        ck_assert_int_eq(d[i].point, want[i] >= 0 && want[i] < 2 ? want[i] : -1);
    /* ended short of it (diverged at step 5): then it is left out */
    runs[late].ended = true;
    ck_assert_int_eq(nl_stop_decide(&s, points, n_points, runs, N81, d), RUNGS);
    ck_assert_int_eq(d[late].point, -1);
}
END_TEST

START_TEST(test_median_rule)
{
    /* values at steps 1..4; points at steps 2 and 4 (grace 2, every 2, length 6) */
    static const double v[5][4] = {{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}, {4, 4, 4, 4}, {5, 0.5, 0.5, 0.5}};
    static const long steps[4] = {1, 2, 3, 4};
    nl_stop_spec s = {.rule = NL_STOP_MEDIAN, .grace = 2, .every = 2, .min_runs = 3};
    long points[NL_STOP_MAX_POINTS];
    ck_assert_int_eq(nl_stop_points(&s, 6, points), 2);
    nl_stop_curve runs[5];
    nl_stop_decision d[5];
    for (int i = 0; i < 5; i++)
        runs[i] = (nl_stop_curve){.n = 4, .step = steps, .value = v[i], .reach = 6, .per_point = 1};
    ck_assert_int_eq(nl_stop_decide(&s, points, 2, runs, 5, d), 2);
    /* at step 2 the running averages are 1, 2, 3, 4, 2.75: run 3's best (4)
     * against the others' median (1, 2, 2.75, 3: 2.375) is worse; run 2's (3)
     * too; run 1's best 2 is better than its others' median 2.875; at step 4
     * only 2 others are left for each of runs 0, 1 and 4: fewer than min_runs */
    const int want[5] = {-1, -1, 0, 0, -1};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(d[i].point == want[i], "run %d: %d", i, d[i].point);
    ck_assert(fabs(d[3].threshold - 2.375) < 1e-12 && d[3].value == 4 && d[3].compared == 4);
    ck_assert(fabs(d[2].threshold - 2.375) < 1e-12 && d[2].value == 3);
    /* min_runs 2: at step 4 run 1 (best 2) is worse than the median of run
     * 0's average 1 and run 4's 1.625 */
    s.min_runs = 2;
    nl_stop_decide(&s, points, 2, runs, 5, d);
    ck_assert_int_eq(d[1].point, 1);
    ck_assert(fabs(d[1].threshold - 1.3125) < 1e-12 && d[1].compared == 2);
    ck_assert(d[0].point == -1 && d[4].point == -1);
    /* mode max turns it around: the lowest are the best, so now run 0's best
     * (1) is worse than its others' median at step 2 */
    s.maximize = true;
    s.min_runs = 3;
    nl_stop_decide(&s, points, 2, runs, 5, d);
    ck_assert_int_eq(d[0].point, 0);
}
END_TEST

/* tiny runs: a few milliseconds of training each (test_sweep.c's) */
static const char *base_config =
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
    "model: {arch: mlp, widths: [16]}\n"
    "train: {batch_size: 16, steps: 30, eval_every: 10, log_every: 10, optimizer: {lr: 0.05, momentum: 0.9}}\n";

START_TEST(test_bad_stop_sections)
{
    tu_tmp_make("stop-bad");
    tu_tmp_write("base.yaml", base_config);
    static const struct {
        const char *text;
        const char *want[3];
    } cases[] = {
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: hyperband, metric: test_loss}\n",
         {"bad.yaml:3:14:", "stop.rule", "accepted: median | asha"}},
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: asha, metric: test_loss, eta: 1}\n",
         {"bad.yaml:3:44:", "stop.eta", "an integer >= 2"}},
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: asha, metric: test_loss, min_resource: 40}\n",
         {"bad.yaml:3:53:", "stop.min_resource: 40 steps is not below run seed-1's length (train.steps: 30)",
          "accepted: an integer in [1, 29]"}},
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: median, metric: test_f1}\n",
         {"bad.yaml:3:30:", "stop.metric", "accepted: test_error | test_accuracy | test_loss | train_loss"}},
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: median, metric: test_loss, eta: 3}\n",
         {"bad.yaml:3:41:", "stop.eta", "not a key of rule median"}},
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: asha, metric: test_loss, rungs: [1]}\n",
         {"bad.yaml:3:39:", "unknown key 'rungs'", "min_resource"}},
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: asha, metric: test_loss, unit: epochs}\n",
         {"bad.yaml:3:45:", "stop.unit: epochs, but run seed-1 trains for train.steps: 30"}},
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: asha}\n", {"bad.yaml:3:7:", "metric: is missing"}},
        {"base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: asha, metric: test_loss, mode: lowest}\n",
         {"bad.yaml:3:45:", "stop.mode", "accepted: min | max"}},
        {"base: base.yaml\ngrid:\n  model.norm.type: [none, layer]\n  seed: [1, 2]\n"
         "stop: {rule: asha, metric: test_loss, min_resource: 10}\nclaims:\n  - {id: ln-better, paper: p, "
         "metric: final_test_error, a: {model.norm.type: layer}, b: {model.norm.type: none}, expect: a < b}\n",
         {"bad.yaml:5:7:", "stop: claim 'ln-better' (line 7) does not name the rule", "accepted: stop: asha in every claim"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_tmp_write("bad.yaml", cases[i].text);
        const int rc = tu_normlab("sweep bad.yaml");
        char *out = tu_normlab_output();
        ck_assert_msg(rc == 2, "case %zu: exit %d, want 2:\n%s\n%.2000s", i, rc, cases[i].text, out);
        for (int k = 0; k < 3 && cases[i].want[k]; k++)
            ck_assert_msg(strstr(out, cases[i].want[k]), "case %zu: '%s' not in:\n%.2000s", i, cases[i].want[k],
                          out);
        free(out);
        char results[512];
        snprintf(results, sizeof results, "%s/results", tu_tmp);
        ck_assert_msg(!nl_path_exists(results), "case %zu created %s", i, results);
    }
    tu_tmp_write("exp.yaml", "base: base.yaml\ngrid: {seed: [1, 2]}\nstop: {rule: asha, metric: test_loss, "
                             "min_resource: 10}\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --shard 1/2"), 2);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --resume-stopped --dry-run"), 2);
    tu_tmp_remove();
}
END_TEST

/* a file of a run directory under tu_tmp, whole */
static char *run_file(const char *sweep, const char *run, const char *file, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/runs/%s/%s", tu_tmp, sweep, run, file);
    char *text = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(path, &text, len, &err) == NL_OK, "%s", err.msg);
    return text;
}

static void json_value(const char *json, const char *key, char *out, size_t size)
{
    ck_assert_msg(nl_json_flat_get(json, key, out, size), "no %s in %s", key, json);
}

/* run's test loss at `step` in its metrics.csv */
static double test_loss_at(const char *sweep, const char *run, long step)
{
    char *m = run_file(sweep, run, NL_RUN_METRICS_FILE, NULL), want[32];
    snprintf(want, sizeof want, "\n%ld,", step);
    double loss = NAN;
    for (char *p = strstr(m, want); p; p = strstr(p + 1, want)) {
        char split[16];
        double l;
        if (sscanf(p + 1, "%*[^,],%*[^,],%15[^,],%lf", split, &l) == 2 && !strcmp(split, "test"))
            loss = l;
    }
    free(m);
    return loss;
}

START_TEST(test_sweep_stops_and_resumes)
{
    tu_tmp_make("stop-e2e");
    tu_tmp_write("base.yaml", base_config);
    const char *grid = "base: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3]\n";
    char text[512];
    snprintf(text, sizeof text, "%sstop: {rule: asha, metric: test_loss, min_resource: 10, eta: 3}\n", grid);
    tu_tmp_write("exp.yaml", text);
    tu_tmp_write("ref.yaml", grid);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --out stopped"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "1 ok, 0 diverged, 0 failed, 0 pending, 2 stopped"), "%.3000s", out);
    free(out);
    /* rung 10 of 30 steps: of 3 runs the best 1 goes on (max(1, 3/3)) */
    const char *runs[3] = {"seed-1", "seed-2", "seed-3"};
    int n_stopped = 0, kept = -1;
    double threshold = NAN;
    for (int i = 0; i < 3; i++) {
        char *json = run_file("stopped", runs[i], NL_RUN_SUMMARY_FILE, NULL), v[64];
        json_value(json, NL_SUMMARY_STATUS, v, sizeof v);
        if (!strcmp(v, "ok")) {
            kept = i;
            free(json);
            continue;
        }
        ck_assert_str_eq(v, "stopped");
        n_stopped++;
        json_value(json, NL_SUMMARY_STOP_RULE, v, sizeof v);
        ck_assert_str_eq(v, "asha");
        char why[256];
        json_value(json, NL_SUMMARY_REASON, why, sizeof why);
        ck_assert_msg(strstr(why, "stopped by asha at the rung at step 10: test_loss ") &&
                      strstr(why, "not among the best 1 of the 3 runs there"), "%s", why);
        json_value(json, NL_SUMMARY_STOP_STEP, v, sizeof v);
        ck_assert_str_eq(v, "10");
        json_value(json, NL_SUMMARY_STOP_COMPARED, v, sizeof v);
        ck_assert_str_eq(v, "3");
        json_value(json, NL_SUMMARY_STOP_KEPT, v, sizeof v);
        ck_assert_str_eq(v, "1");
        json_value(json, NL_SUMMARY_STOP_VALUE, v, sizeof v);
        const double value = atof(v);
        ck_assert(fabs(value - test_loss_at("stopped", runs[i], 10)) <= 1e-6 * fabs(value));
        json_value(json, NL_SUMMARY_STOP_THRESHOLD, v, sizeof v);
        threshold = atof(v);
        ck_assert(value > threshold);
        json_value(json, NL_SUMMARY_STEPS, v, sizeof v);
        ck_assert_str_eq(v, "10");
        free(json);
        /* no result: no final model, a checkpoint to go on from */
        char path[1024];
        snprintf(path, sizeof path, "%s/stopped/runs/%s/%s", tu_tmp, runs[i], NL_FINAL_MODEL_FILE);
        ck_assert_msg(!nl_path_exists(path), "%s", path);
        snprintf(path, sizeof path, "%s/stopped/runs/%s/%s", tu_tmp, runs[i], NL_CHECKPOINT_FILE);
        ck_assert_msg(nl_path_exists(path), "%s", path);
    }
    ck_assert_int_eq(n_stopped, 2);
    ck_assert_int_ge(kept, 0);
    ck_assert(fabs(threshold - test_loss_at("stopped", runs[kept], 10)) <= 1e-6 * fabs(threshold));
    char *csv = tu_tmp_read("stopped/summary.csv");
    ck_assert_msg(strstr(csv, ",stopped,") && strstr(csv, ",ok,"), "%s", csv);
    free(csv);
    ck_assert_int_eq(tu_normlab("table stopped"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "1 of 3 runs finished, 2 stopped early by the sweep's stop rule"), "%.3000s", out);
    free(out);
    /* again: nothing runs, the stops stand */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out stopped"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "1 ok, 0 diverged, 0 failed, 0 pending, 2 stopped"), "%.3000s", out);
    free(out);
    /* the stopped runs go on, and end as a sweep without stop: ends them */
    ck_assert_int_eq(tu_normlab("sweep ref.yaml -j 2 --out ref"), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --resume-stopped --out stopped"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "3 ok, 0 diverged, 0 failed, 0 pending, in"), "%.3000s", out);
    free(out);
    for (int i = 0; i < 3; i++) {
        size_t len_a, len_b;
        char *a = run_file("stopped", runs[i], NL_FINAL_MODEL_FILE, &len_a);
        char *b = run_file("ref", runs[i], NL_FINAL_MODEL_FILE, &len_b);
        ck_assert_msg(len_a == len_b && !memcmp(a, b, len_a), "%s: the final model differs", runs[i]);
        free(a);
        free(b);
        char dir_a[300], dir_b[300];
        snprintf(dir_a, sizeof dir_a, "stopped/runs/%s", runs[i]);
        snprintf(dir_b, sizeof dir_b, "ref/runs/%s", runs[i]);
        char *ma = tu_metrics_without_time(dir_a), *mb = tu_metrics_without_time(dir_b);
        ck_assert_str_eq(ma, mb);
        free(ma);
        free(mb);
    }
    /* another config: refused, then --force starts every run over under the
     * rule, deciding on the new curves alone, as a fresh sweep of it does */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --set train.optimizer.lr=0.07 --out stopped"), 2);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --set train.optimizer.lr=0.07 --force -j 2 --out stopped"), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --set train.optimizer.lr=0.07 -j 2 --out fresh"), 0);
    for (int i = 0; i < 3; i++) {
        char *a = run_file("stopped", runs[i], NL_RUN_SUMMARY_FILE, NULL);
        char *b = run_file("fresh", runs[i], NL_RUN_SUMMARY_FILE, NULL), va[64], vb[64];
        json_value(a, NL_SUMMARY_STATUS, va, sizeof va);
        json_value(b, NL_SUMMARY_STATUS, vb, sizeof vb);
        ck_assert_str_eq(va, vb);
        json_value(a, NL_SUMMARY_FINAL_TEST_LOSS, va, sizeof va);
        json_value(b, NL_SUMMARY_FINAL_TEST_LOSS, vb, sizeof vb);
        ck_assert_str_eq(va, vb);
        free(a);
        free(b);
    }
    tu_tmp_remove();
}
END_TEST

/* the test rows of a run's metrics.csv (relative to tu_tmp) as a curve of
 * its test loss */
static int read_test_losses(const char *run_dir, long *step, double *loss, int max)
{
    char path[600];
    snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    char *m = tu_tmp_read(path);
    int n = 0;
    for (char *line = strchr(m, '\n'); line && line[1] && n < max; line = strchr(line + 1, '\n')) {
        char split[16];
        double l;
        long st;
        if (sscanf(line + 1, "%ld,%*[^,],%15[^,],%lf", &st, split, &l) == 3 && !strcmp(split, "test")) {
            step[n] = st;
            loss[n++] = l;
        }
    }
    free(m);
    return n;
}

/* the median rule in epochs over runs of several learning rates: the runs
 * it stops, paused at epoch boundaries while the others catch up, are
 * exactly those the rule stops on the whole curves of the same runs never
 * stopped; and each goes on to the same bits */
START_TEST(test_median_in_epochs_matches_whole_curves)
{
    tu_tmp_make("stop-median");
    /* 256 samples in batches of 16: 16 steps an epoch, an evaluation at each end */
    tu_tmp_write("base.yaml", "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
                              "model: {arch: mlp, widths: [16]}\n"
                              "train: {batch_size: 16, epochs: 3, eval_every: 8, log_every: 8}\n");
    const char *grid = "base: base.yaml\nthreads: 1\ngrid:\n  train.optimizer.lr: [0.0005, 0.002, 0.01, 0.05, 0.2]\n";
    char text[512];
    snprintf(text, sizeof text, "%sstop: {rule: median, metric: test_loss, unit: epochs, grace: 1, every: 1}\n",
             grid);
    tu_tmp_write("exp.yaml", text);
    tu_tmp_write("ref.yaml", grid);
    ck_assert_int_eq(tu_normlab("sweep ref.yaml -j 2 --out ref"), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --out stopped"), 0);
    char *csv = tu_tmp_read("ref/summary.csv");
    char names[5][64];
    int n = 0;
    for (char *line = strchr(csv, '\n'); line && line[1] && n < 5; line = strchr(line + 1, '\n'))
        sscanf(line + 1, "%63[^,]", names[n++]);
    free(csv);
    ck_assert_int_eq(n, 5);
    const nl_stop_spec spec = {.rule = NL_STOP_MEDIAN, .unit = NL_STOP_EPOCHS, .grace = 1, .every = 1,
                               .min_runs = 3};
    long points[NL_STOP_MAX_POINTS], steps[5][16];
    double losses[5][16];
    const int n_points = nl_stop_points(&spec, 3, points);
    ck_assert_int_eq(n_points, 2);
    nl_stop_curve runs[5];
    nl_stop_decision d[5];
    for (int i = 0; i < 5; i++) {
        char dir[128];
        snprintf(dir, sizeof dir, "ref/runs/%s", names[i]);
        const int k = read_test_losses(dir, steps[i], losses[i], 16);
        runs[i] = (nl_stop_curve){.n = k, .step = steps[i], .value = losses[i], .reach = 48, .per_point = 16,
                                  .ended = true};
    }
    ck_assert_int_eq(nl_stop_decide(&spec, points, n_points, runs, 5, d), n_points);
    int stopped = 0;
    for (int i = 0; i < 5; i++) {
        char *json = run_file("stopped", names[i], NL_RUN_SUMMARY_FILE, NULL), v[64];
        json_value(json, NL_SUMMARY_STATUS, v, sizeof v);
        ck_assert_msg(!strcmp(v, d[i].point >= 0 ? "stopped" : "ok"), "%s: %s, the rule says %d", names[i], v,
                      d[i].point);
        if (d[i].point >= 0) {
            stopped++;
            json_value(json, NL_SUMMARY_STOP_STEP, v, sizeof v);
            ck_assert_int_eq(atol(v), 16 * points[d[i].point]);
            json_value(json, NL_SUMMARY_STOP_THRESHOLD, v, sizeof v);
            ck_assert(fabs(atof(v) - d[i].threshold) <= 1e-6 * fabs(d[i].threshold));
        }
        free(json);
    }
    ck_assert_msg(stopped > 0, "the rule stopped no run: the test decides nothing");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --resume-stopped --out stopped"), 0);
    for (int i = 0; i < 5; i++) {
        size_t la, lb;
        char *a = run_file("stopped", names[i], NL_FINAL_MODEL_FILE, &la);
        char *b = run_file("ref", names[i], NL_FINAL_MODEL_FILE, &lb);
        ck_assert_msg(la == lb && !memcmp(a, b, la), "%s: the final model differs", names[i]);
        free(a);
        free(b);
    }
    tu_tmp_remove();
}
END_TEST

/* a verdict counts a stopped run as no result: the cell's seed left out,
 * and said (a sweep with claims: refuses stop:, so the status is written
 * here by hand, as a copied run directory could bring it) */
START_TEST(test_verdict_leaves_stopped_runs_out)
{
    tu_tmp_make("stop-verdict");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "base: base.yaml\nthreads: 1\ngrid:\n  model.norm.type: [none, layer]\n"
                             "  seed: [1, 2, 3]\nclaims:\n  - {id: ln-better, paper: p, metric: final_test_error, "
                             "a: {model.norm.type: layer}, b: {model.norm.type: none}, expect: a < b}\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --out s"), 0);
    char *json = tu_tmp_read("s/runs/type-layer_seed-2/summary.json");
    char *at = strstr(json, "\"status\": \"ok\"");
    ck_assert_ptr_nonnull(at);
    char *edited = malloc(strlen(json) + 8);
    snprintf(edited, strlen(json) + 8, "%.*s\"status\": \"stopped\"%s", (int)(at - json), json,
             at + strlen("\"status\": \"ok\""));
    tu_tmp_write("s/runs/type-layer_seed-2/summary.json", edited);
    free(json);
    free(edited);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --merge --out s"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "5 ok, 0 diverged, 0 failed, 0 pending, 1 stopped"), "%.2000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("verdict s --experiment exp.yaml --no-registration --out v"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "seed 2: a's run is stopped") && strstr(out, "(n = 2"), "%.3000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stop");
    TCase *rules = tcase_create("rules");
    tcase_add_test(rules, test_asha_81_runs);
    tcase_add_test(rules, test_asha_barrier);
    tcase_add_test(rules, test_median_rule);
    suite_add_tcase(s, rules);
    TCase *runs = tcase_create("runs");
    tcase_set_timeout(runs, 120);
    tcase_add_test(runs, test_bad_stop_sections);
    tcase_add_test(runs, test_sweep_stops_and_resumes);
    tcase_add_test(runs, test_median_in_epochs_matches_whole_curves);
    tcase_add_test(runs, test_verdict_leaves_stopped_runs_out);
    suite_add_tcase(s, runs);
    return tu_run_suite(s);
}
