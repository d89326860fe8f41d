/* stop: through the normal code path: `normlab sweep` of 81 real runs (one
 * process each, -j 2) under ASHA, killed with kill -9 twice on the way and
 * run again, stops exactly the runs successive halving prescribes, each
 * with the rule's numbers, computed here on its own from a sweep of the
 * same 81 runs without stop:; --resume-stopped, killed too, then finishes
 * them with the never-stopped runs' results. A claim's cells are stopped
 * only where the claim names the rule. test_stop.c holds the rules as pure
 * functions, the median rule in a sweep and the bad stop: sections. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log/files.h"
#include "results/files.h"
#include "results/summary.h"
#include "results/summary_keys.h"
#include "testutil.h"
#include "train/run.h"

#define N81 81
#define SEEDS 27
#define RUNGS 4
#define ETA 3

/* 81 steps, an evaluation at every step: rungs at steps 1, 3, 9 and 27 */
static const char *base_config =
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
    "model: {arch: mlp, widths: [16]}\n"
    "train: {batch_size: 16, steps: 81, eval_every: 1, log_every: 1, optimizer: {momentum: 0.9}}\n";
static const char *const lrs[3] = {"0.01", "0.03", "0.1"};
static const long rungs[RUNGS] = {1, 3, 9, 27};

/* run i's directory: the grid's first key slowest, as the plan names them */
static void run_name(int i, char *out, size_t size)
{
    snprintf(out, size, "lr-%s_seed-%d", lrs[i / SEEDS], i % SEEDS + 1);
}

/* the experiment file, with `stop` (or without, "") */
static void write_experiment(const char *file, const char *stop)
{
    char text[1024];
    int n = snprintf(text, sizeof text, "base: base.yaml\nthreads: 1\ngrid:\n  train.optimizer.lr: [%s, %s, %s]\n"
                     "  seed: [", lrs[0], lrs[1], lrs[2]);
    for (int s = 1; s <= SEEDS; s++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s%d", s > 1 ? ", " : "", s);
    snprintf(text + n, sizeof text - (size_t)n, "]\n%s", stop);
    tu_tmp_write(file, text);
}

/* a run's test loss as last logged at or before `step`, read from its
 * metrics.csv (columns step,epoch,split,loss,...) */
static double loss_at(const char *sweep, int run, long step)
{
    char name[64], rel[256];
    run_name(run, name, sizeof name);
    snprintf(rel, sizeof rel, "%s/runs/%s/metrics.csv", sweep, name);
    char *m = tu_tmp_read(rel);
    double v = NAN;
    for (char *line = strchr(m, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        long st;
        char split[32];
        double loss;
        if (sscanf(line + 1, "%ld,%*[^,],%31[^,],%lf", &st, split, &loss) == 3 && !strcmp(split, "test") &&
            st <= step)
            v = loss;
    }
    free(m);
    return v;
}

typedef struct {
    int run;
    double v;
} ranked;

/* by value, then by the plan's order */
static int by_value_then_run(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->run - y->run;
}

typedef struct {
    int rung;         /* stopped at rungs[rung]; -1: goes to its end */
    double value;     /* its loss there */
    double threshold; /* the worst loss that went on */
    int compared, kept;
} prescribed;

/* successive halving as Li et al. state it, on the never-stopped runs'
 * curves: of the n runs at rung k the best floor(n / eta) by their value at
 * k go on (the best one at least), the others stop there */
static void prescribe(const char *sweep, prescribed *want)
{
    int alive[N81], n = N81;
    for (int i = 0; i < N81; i++) {
        alive[i] = i;
        want[i] = (prescribed){.rung = -1};
    }
    for (int k = 0; k < RUNGS; k++) {
        ranked r[N81];
        for (int i = 0; i < n; i++)
            r[i] = (ranked){alive[i], loss_at(sweep, alive[i], rungs[k])};
        qsort(r, (size_t)n, sizeof *r, by_value_then_run);
        const int keep = n / ETA > 0 ? n / ETA : 1;
        for (int i = keep; i < n; i++)
            want[r[i].run] = (prescribed){k, r[i].v, r[keep - 1].v, n, keep};
        for (int i = 0; i < keep; i++)
            alive[i] = r[i].run;
        n = keep;
    }
}

static char *summary_of(const char *sweep, int run)
{
    char name[64], rel[256];
    run_name(run, name, sizeof name);
    snprintf(rel, sizeof rel, "%s/runs/%s/summary.json", sweep, name);
    return tu_tmp_read(rel);
}

static void json_value(const char *json, const char *key, char *out, size_t size)
{
    ck_assert_msg(nl_json_flat_get(json, key, out, size), "no %s in %.3000s", key, json);
}

static bool close_to(double got, double want)
{
    return fabs(got - want) <= 1e-7 * fabs(want);
}

/* what a run of the sweep is counted as, waiting for the sweep to kill it */
typedef enum { PAUSED, DECIDED, FINISHED } stage;

/* runs of the sweep whose summary.json says stopped (paused at a check
 * point, the rule not yet heard), stopped with the rule's numbers, or ok */
static int count_at(const char *sweep, stage what)
{
    int n = 0;
    for (int i = 0; i < N81; i++) {
        char name[64], dir[1024], *json = NULL, v[32];
        run_name(i, name, sizeof name);
        snprintf(dir, sizeof dir, "%s/%s/runs/%s", tu_tmp, sweep, name);
        const nl_summary_verdict verdict = nl_summary_read(dir, &json);
        if (what == FINISHED)
            n += verdict == NL_SUMMARY_OK;
        else if (verdict == NL_SUMMARY_STOPPED && json)
            n += what == PAUSED || nl_json_flat_get(json, NL_SUMMARY_STOP_RULE, v, sizeof v);
        free(json);
    }
    return n;
}

/* starts the sweep, waits until `enough` runs are at `what`, then kills it
 * and its runs with SIGKILL while it is still running */
static void kill_when(const char *args, stage what, int enough)
{
    const pid_t pid = tu_normlab_start(args, "killed-out.txt", "killed-err.txt");
    int status;
    for (int i = 0; i < 6000 && count_at("stopped", what) < enough; i++) {
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "the sweep ended before it was killed");
        usleep(5000);
    }
    ck_assert_int_ge(count_at("stopped", what), enough);
    ck_assert_int_eq(kill(-pid, SIGKILL), 0);
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert(WIFSIGNALED(status));
    usleep(50000); /* the killed runs leave the process table */
}

/* leaves run i as a kill -9 at the wrong moment does: its summary saying
 * running (as the run wrote it at its start) and, with `no_checkpoint`,
 * killed after logging the rung's rows but before its checkpoint there */
static void as_if_killed_pausing(int i, bool no_checkpoint)
{
    char name[64], rel[256], path[1024];
    run_name(i, name, sizeof name);
    snprintf(rel, sizeof rel, "stopped/runs/%s/summary.json", name);
    char *json = tu_tmp_read(rel);
    char *at = strstr(json, "\"status\": \"stopped\"");
    ck_assert_msg(at, "%s is not paused: %.2000s", name, json);
    memcpy(at, "\"status\": \"running\"", strlen("\"status\": \"running\""));
    tu_tmp_write(rel, json);
    free(json);
    snprintf(path, sizeof path, "%s/stopped/runs/%s/%s", tu_tmp, name, NL_CHECKPOINT_FILE);
    ck_assert_int_eq(no_checkpoint ? unlink(path) : access(path, F_OK), 0);
}

START_TEST(test_asha_81_runs_through_sweep)
{
    tu_tmp_make("sweep-stop81");
    tu_tmp_write("base.yaml", base_config);
    write_experiment("exp.yaml", "stop: {rule: asha, metric: test_loss, min_resource: 1, eta: 3}\n");
    write_experiment("ref.yaml", "");
    ck_assert_int_eq(tu_normlab("sweep ref.yaml -j 2 --out ref"), 0);
    prescribed want[N81];
    prescribe("ref", want);

    /* killed while runs wait at the first rung, then once it is decided
     * (the stops recorded, the next rung's runs going on); each time run
     * again, it decides from what the runs logged, as if never killed */
    kill_when("sweep exp.yaml -j 2 --out stopped", PAUSED, 20);
    ck_assert_int_eq(count_at("stopped", DECIDED), 0);
    /* two runs the rule will stop, killed as they paused: after their
     * checkpoint, and before it (then they start over) */
    int planted = 0;
    for (int i = 0; i < N81 && planted < 2; i++) {
        char name[64], dir[1024];
        run_name(i, name, sizeof name);
        snprintf(dir, sizeof dir, "%s/stopped/runs/%s", tu_tmp, name);
        if (want[i].rung == 0 && nl_summary_read(dir, NULL) == NL_SUMMARY_STOPPED)
            as_if_killed_pausing(i, planted++ == 1);
    }
    ck_assert_int_eq(planted, 2);
    kill_when("sweep exp.yaml -j 2 --out stopped", DECIDED, 54);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --out stopped"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "1 ok, 0 diverged, 0 failed, 0 pending, 80 stopped"), "%.3000s", out);
    free(out);

    int per_rung[RUNGS] = {0};
    for (int i = 0; i < N81; i++) {
        char name[64], v[64];
        run_name(i, name, sizeof name);
        char *json = summary_of("stopped", i);
        json_value(json, NL_SUMMARY_STATUS, v, sizeof v);
        const prescribed *w = &want[i];
        ck_assert_msg(!strcmp(v, w->rung >= 0 ? "stopped" : "ok"), "%s: %s, successive halving says %s", name,
                      v, w->rung >= 0 ? "stopped" : "ok");
        if (w->rung < 0) {
            free(json);
            continue;
        }
        per_rung[w->rung]++;
        json_value(json, NL_SUMMARY_STOP_POINT, v, sizeof v);
        ck_assert_msg(atol(v) == rungs[w->rung], "%s: stopped at %s, successive halving at %ld", name, v,
                      rungs[w->rung]);
        json_value(json, NL_SUMMARY_STEPS, v, sizeof v);
        ck_assert_int_eq(atol(v), rungs[w->rung]);
        json_value(json, NL_SUMMARY_STOP_COMPARED, v, sizeof v);
        ck_assert_int_eq(atoi(v), w->compared);
        json_value(json, NL_SUMMARY_STOP_KEPT, v, sizeof v);
        ck_assert_int_eq(atoi(v), w->kept);
        json_value(json, NL_SUMMARY_STOP_VALUE, v, sizeof v);
        ck_assert_msg(close_to(atof(v), w->value), "%s: stop_value %s, its loss there %.9g", name, v, w->value);
        json_value(json, NL_SUMMARY_STOP_THRESHOLD, v, sizeof v);
        ck_assert_msg(close_to(atof(v), w->threshold), "%s: stop_threshold %s, the worst kept %.9g", name, v,
                      w->threshold);
        free(json);
    }
    /* 81 -> 27 -> 9 -> 3 -> 1 */
    ck_assert_msg(per_rung[0] == 54 && per_rung[1] == 18 && per_rung[2] == 6 && per_rung[3] == 2, "%d %d %d %d",
                  per_rung[0], per_rung[1], per_rung[2], per_rung[3]);

    /* the stopped runs go on from their rung and end as the never-stopped
     * did, killed on their way too */
    kill_when("sweep exp.yaml --resume-stopped -j 2 --out stopped", FINISHED, 12);
    ck_assert_int_lt(count_at("stopped", FINISHED), N81);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --resume-stopped -j 2 --out stopped"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "81 ok, 0 diverged, 0 failed, 0 pending, in"), "%.3000s", out);
    free(out);
    for (int i = 0; i < N81; i++) {
        char a[64], b[64], *ja = summary_of("stopped", i), *jb = summary_of("ref", i);
        json_value(ja, NL_SUMMARY_FINAL_TEST_LOSS, a, sizeof a);
        json_value(jb, NL_SUMMARY_FINAL_TEST_LOSS, b, sizeof b);
        ck_assert_msg(!strcmp(a, b), "run %d: final test loss %s, never stopped %s", i, a, b);
        free(ja);
        free(jb);
    }
    tu_tmp_remove();
}
END_TEST

/* a claim's cells are stopped only where the claim names the rule, as its
 * registration: a claim that does not, or names another rule, or names one
 * in a file without stop:, is refused (exit 2, nothing written); claims
 * that name it get their stopped seeds left out of the verdict, said */
START_TEST(test_claims_name_the_rule)
{
    tu_tmp_make("sweep-stop-claims");
    tu_tmp_write("base.yaml", base_config);
    const char *grid = "base: base.yaml\nthreads: 1\ngrid:\n  model.norm.type: [none, layer]\n  seed: [1, 2, 3]\n";
    const char *rule = "stop: {rule: asha, metric: test_loss, min_resource: 9, eta: 3}\n";
    static const struct {
        bool has_rule;
        const char *claim_stop, *want[2];
    } bad[] = {
        {true, "", {"exp.yaml:6:7: stop: claim 'ln-better' (line 8) does not name the rule",
                    "accepted: stop: asha in every claim, registered before its runs, or no stop:"}},
        {true, ", stop: median", {"exp.yaml:8:", "claims[0].stop: 'median' is not the file's stop rule; accepted: asha"}},
        {false, ", stop: asha", {"exp.yaml:7:", "claims[0].stop: 'asha' names a stop rule, but the file has no stop:"}},
    };
    char text[1024];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%sclaims:\n  - {id: ln-better, paper: p, metric: final_test_error, "
                 "a: {model.norm.type: layer}, b: {model.norm.type: none}, expect: a < b%s}\n", grid,
                 bad[i].has_rule ? rule : "", bad[i].claim_stop);
        tu_tmp_write("exp.yaml", text);
        ck_assert_int_eq(tu_normlab("sweep exp.yaml --out s"), 2);
        char *out = tu_normlab_output();
        for (int k = 0; k < 2; k++)
            ck_assert_msg(strstr(out, bad[i].want[k]), "case %zu: '%s' not in:\n%.2000s", i, bad[i].want[k], out);
        free(out);
        char path[1024];
        snprintf(path, sizeof path, "%s/s", tu_tmp);
        ck_assert_msg(!nl_path_exists(path), "case %zu wrote %s", i, path);
    }
    /* named: 6 runs -> 2 at step 9 -> 1 at step 27 */
    snprintf(text, sizeof text, "%s%sclaims:\n  - {id: ln-better, paper: p, metric: final_test_error, "
             "a: {model.norm.type: layer}, b: {model.norm.type: none}, expect: a < b, stop: asha}\n", grid, rule);
    tu_tmp_write("exp.yaml", text);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --out s"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "1 ok, 0 diverged, 0 failed, 0 pending, 5 stopped"), "%.3000s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("verdict s --experiment exp.yaml --no-registration --out v"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "run is stopped") && strstr(out, "ln-better"), "%.3000s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sweep_stop");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_asha_81_runs_through_sweep);
    tcase_add_test(tc, test_claims_name_the_rule);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
