/* One writer per run directory: a second `normlab run --out` on a directory
 * being written exits 2; --out into a directory normlab did not make exits 2
 * and leaves it as it was; a run that stops writing part-way (file size
 * limit: what a full disk does) leaves whole rows only, and a torn row left
 * by a killed run is gone once the run is done again; a sweep killed alone
 * takes its runs down with it; a resumed sweep waits for a live writer; and
 * kill -9 of the sweep process alone at random moments, then a resumed
 * sweep, ends as an uninterrupted sweep does.
 *
 * The random-kill trials: NL_KILL_TRIALS of them (3 by default), runs of
 * NL_KILL_STEPS steps (300). A second writer shows only when a run the
 * killed sweep left goes on training for longer than a new `normlab run`
 * takes to start, so the CTest test test_lock_long (label long) runs 20
 * trials of runs 20 times as long. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log/files.h"
#include "results/results.h"
#include "results/rundir.h"
#include "testutil.h"
#include "train/run.h"

/* a run that trains for many seconds unless stopped */
static const char *slow_config =
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 4096, test_size: 64}\n"
    "model: {arch: mlp, widths: [256, 256]}\n"
    "train: {batch_size: 64, steps: 1000000, eval_every: 50, log_every: 10, optimizer: {lr: 0.01}}\n"
    "threads: 1\n";

/* tiny runs for sweeps: tens of milliseconds each */
static const char *base_config =
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 1024, test_size: 64}\n"
    "model: {arch: mlp, widths: [64, 64]}\n"
    "train: {batch_size: 16, steps: 300, eval_every: 100, log_every: 10, optimizer: {lr: 0.05, momentum: 0.9}}\n";

static const char *experiment =
    "name: k\nbase: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3, 4]\n";
#define N_RUNS 4

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* starts `normlab ARGS` in tu_tmp as its own process group, output in `log` */
static pid_t start_normlab(const char *args, const char *log)
{
    return tu_normlab_start(args, log, log);
}

static void tmp_path(char *out, size_t size, const char *rel)
{
    snprintf(out, size, "%s/%s", tu_tmp, rel);
}

/* waits (up to 20 s) until `rel` exists and is not empty */
static void wait_for_file(const char *rel)
{
    char path[1024];
    tmp_path(path, sizeof path, rel);
    struct stat st;
    for (int i = 0; i < 2000 && !(stat(path, &st) == 0 && st.st_size > 0); i++)
        usleep(10000);
    ck_assert_msg(stat(path, &st) == 0 && st.st_size > 0, "%s never appeared", rel);
}

static bool busy(const char *rel_dir)
{
    char dir[1024];
    tmp_path(dir, sizeof dir, rel_dir);
    nl_run_writer w;
    return nl_run_dir_busy(dir, &w);
}

/* "size:mtime" of a file, or "-" when it does not exist */
static void stamp(const char *rel, char *out, size_t size)
{
    char path[1024];
    tmp_path(path, sizeof path, rel);
    struct stat st;
    if (stat(path, &st) != 0)
        snprintf(out, size, "-");
    else
        snprintf(out, size, "%lld:%lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
}

static bool ends_with_newline(const char *text)
{
    const size_t len = strlen(text);
    return len > 0 && text[len - 1] == '\n';
}

/* a run's metrics.csv as one writer leaves it: the header, whole rows of 7
 * fields, and per split strictly increasing steps (a second writer repeats
 * or goes back); returns the rows */
static int check_metrics(const char *rel_dir)
{
    char rel[700];
    snprintf(rel, sizeof rel, "%s/metrics.csv", rel_dir);
    char *text = tu_tmp_read(rel);
    ck_assert_msg(ends_with_newline(text), "%s: torn last row", rel);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    ck_assert_msg(line && !strcmp(line, "step,epoch,split,loss,accuracy,lr,elapsed_s"), "%s: header", rel);
    long last[3] = {-1, -1, -1};
    static const char *const splits[3] = {"train", "test", "test_trainmode"};
    int rows = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        int commas = 0;
        for (const char *c = line; *c; c++)
            commas += *c == ',';
        ck_assert_msg(commas == 6, "%s: row %d has %d fields: %s", rel, rows + 1, commas + 1, line);
        const long step = strtol(line, NULL, 10);
        const char *split = strchr(strchr(line, ',') + 1, ',') + 1;
        int k = 0;
        while (k < 3 && (strncmp(split, splits[k], strlen(splits[k])) || split[strlen(splits[k])] != ','))
            k++;
        ck_assert_msg(k < 3, "%s: unknown split in %s", rel, line);
        ck_assert_msg(step > last[k], "%s: %s step %ld after %ld (two writers)", rel, splits[k], step, last[k]);
        last[k] = step;
        rows++;
    }
    free(text);
    return rows;
}

START_TEST(test_second_writer_refused)
{
    tu_tmp_make("lock");
    tu_tmp_write("slow.yaml", slow_config);
    const pid_t first = start_normlab("run slow.yaml --out r --quiet", "first.txt");
    wait_for_file("r/metrics.csv");
    ck_assert(busy("r"));
    const char *kept[] = {"r/config.yaml", "r/summary.json", "r/.normlab-run"};
    char before[3][64], after[64];
    for (int f = 0; f < 3; f++)
        stamp(kept[f], before[f], sizeof before[f]);
    /* by hand, and with --force: refused, naming the holder, nothing written */
    char want[64];
    snprintf(want, sizeof want, "(pid %ld on ", (long)first);
    const char *second[] = {"run slow.yaml --out r --quiet", "run slow.yaml --out r --quiet --force"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tu_normlab(second[i]), 2);
        char *out = tu_normlab_output();
        ck_assert_msg(strstr(out, "r is being written by another normlab process") && strstr(out, want),
                      "%s", out);
        free(out);
    }
    for (int f = 0; f < 3; f++) {
        stamp(kept[f], after, sizeof after);
        ck_assert_msg(!strcmp(before[f], after), "%s changed: %s -> %s", kept[f], before[f], after);
    }
    ck_assert(busy("r"));
    /* the first one went on; it stops cleanly on SIGTERM and lets go */
    ck_assert_int_eq(kill(first, SIGTERM), 0);
    int status;
    ck_assert(waitpid(first, &status, 0) == first);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    ck_assert(!busy("r"));
    char dir[1024];
    tmp_path(dir, sizeof dir, "r");
    ck_assert_int_eq(nl_run_dir_status(dir), NL_RUN_FAILED);
    check_metrics("r");
    tu_tmp_remove();
}
END_TEST

START_TEST(test_foreign_dir_refused)
{
    tu_tmp_make("lock");
    tu_tmp_write("base.yaml", base_config);
    /* a user's directory that happens to hold a metrics.csv and a summary.json */
    char mine[1024], empty[1024];
    tmp_path(mine, sizeof mine, "mine");
    tmp_path(empty, sizeof empty, "empty");
    ck_assert_int_eq(mkdir(mine, 0777), 0);
    tu_tmp_write("mine/metrics.csv", "my,own,data\n1,2,3\n");
    tu_tmp_write("mine/summary.json", "{\"status\": \"running\"}\n");
    tu_tmp_write("mine/notes.txt", "keep me\n");
    char before[3][64], after[64];
    const char *files[] = {"mine/metrics.csv", "mine/summary.json", "mine/notes.txt"};
    for (int f = 0; f < 3; f++)
        stamp(files[f], before[f], sizeof before[f]);
    const char *runs[] = {"run base.yaml --out mine", "run base.yaml --out mine --force"};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tu_normlab(runs[i]), 2);
        char *out = tu_normlab_output();
        ck_assert_msg(strstr(out, "mine is not empty and normlab did not make it"), "%s", out);
        free(out);
        for (int f = 0; f < 3; f++) {
            stamp(files[f], after, sizeof after);
            ck_assert_msg(!strcmp(before[f], after), "%s changed: %s -> %s", files[f], before[f], after);
        }
        char listing[64];
        stamp("mine/" NL_RUN_MARKER, listing, sizeof listing);
        ck_assert_str_eq(listing, "-");
        stamp("mine/config.yaml", listing, sizeof listing);
        ck_assert_str_eq(listing, "-");
    }
    /* an empty directory, or none, is fine; then it is normlab's */
    ck_assert_int_eq(mkdir(empty, 0777), 0);
    ck_assert_int_eq(tu_normlab("run base.yaml --out empty --quiet"), 0);
    ck_assert_int_eq(tu_normlab("run base.yaml --out new/deeper --quiet"), 0);
    ck_assert_int_eq(tu_normlab("run base.yaml --out new/deeper --quiet --force"), 0);
    check_metrics("new/deeper");
    tu_tmp_remove();
}
END_TEST

START_TEST(test_torn_row)
{
    tu_tmp_make("lock");
    tu_tmp_write("base.yaml", base_config);
    ck_assert_int_eq(tu_normlab("run base.yaml --out r --quiet"), 0);
    const int rows = check_metrics("r");
    /* what a run killed mid-row would leave: a summary saying running, a cut row */
    char *json = tu_tmp_read("r/summary.json");
    char *text = tu_tmp_read("r/metrics.csv");
    nl_buf b = {0};
    nl_buf_printf(&b, "%s310,5.0000,tra", text);
    tu_tmp_write("r/metrics.csv", b.data);
    nl_buf_free(&b);
    free(text);
    nl_buf s = {0};
    const char *at = strstr(json, "\"status\": \"ok\"");
    ck_assert(at);
    nl_buf_printf(&s, "%.*s\"status\": \"running\"%s", (int)(at - json), json, at + strlen("\"status\": \"ok\""));
    tu_tmp_write("r/summary.json", s.data);
    nl_buf_free(&s);
    free(json);
    char dir[1024], path[1100];
    tmp_path(dir, sizeof dir, "r");
    ck_assert_int_eq(nl_run_dir_status(dir), NL_RUN_RUNNING);
    /* normlab's reader skips exactly that one torn row */
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    nl_csv_table t;
    nl_error err = {0};
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(t.n_rows, rows);
    ck_assert_str_ne(t.rows[t.n_rows - 1][0], "310");
    nl_csv_table_free(&t);
    /* done again, the run leaves whole rows only */
    ck_assert_int_eq(tu_normlab("run base.yaml --out r"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "replacing the unfinished run in r (status running)"), "%s", out);
    free(out);
    ck_assert_int_eq(check_metrics("r"), rows);
    tu_tmp_remove();
}
END_TEST

/* a write that fails part-way (here the file size limit; a full disk the
 * same) leaves metrics.csv cut back to its last whole row. The limit is in
 * blocks of 512 bytes under dash and 1024 under bash: 64 of either leaves
 * room for the resolved config.yaml (about 8 KiB) that is written first. */
START_TEST(test_short_write_leaves_whole_rows)
{
    tu_tmp_make("lock");
    tu_tmp_write("base.yaml", base_config);
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "cd %s && trap '' XFSZ && ulimit -f 64 && exec %s run base.yaml --out r --quiet "
             "--set train.steps=20000 --set train.log_every=1 > out.txt 2>&1",
             tu_tmp, NORMLAB_BINARY);
    const int status = system(cmd);
    ck_assert(WIFEXITED(status));
    char *out = tu_normlab_output();
    ck_assert_msg(WEXITSTATUS(status) == 1 && strstr(out, "metrics.csv") && strstr(out, "File too large"),
                  "exit %d: %s", WEXITSTATUS(status), out);
    free(out);
    char size[64];
    stamp("r/metrics.csv", size, sizeof size);
    ck_assert_int_le(atol(size), 64 * 1024);
    ck_assert_int_gt(check_metrics("r"), 100);
    char dir[1024];
    tmp_path(dir, sizeof dir, "r");
    ck_assert_int_eq(nl_run_dir_status(dir), NL_RUN_FAILED);
    tu_tmp_remove();
}
END_TEST

/* ---- sweeps ---- */

static void run_dir_rel(char *out, size_t size, const char *sweep, int seed)
{
    snprintf(out, size, "%s/runs/seed-%d", sweep, seed);
}

/* waits (up to 10 s) until no run of the sweep is being written */
static bool wait_all_free(const char *sweep, int n)
{
    for (int tries = 0; tries < 1000; tries++) {
        bool any = false;
        for (int i = 1; i <= n && !any; i++) {
            char rel[600];
            run_dir_rel(rel, sizeof rel, sweep, i);
            any = busy(rel);
        }
        if (!any)
            return true;
        usleep(10000);
    }
    return false;
}

/* ends the runs of a sweep still writing (when a check fails: no process
 * is left training for minutes) */
static void kill_writers(const char *sweep, int n)
{
    for (int i = 1; i <= n; i++) {
        char rel[600], dir[1024];
        run_dir_rel(rel, sizeof rel, sweep, i);
        tmp_path(dir, sizeof dir, rel);
        nl_run_writer w;
        if (nl_run_dir_busy(dir, &w) && w.pid > 0)
            kill((pid_t)w.pid, SIGKILL);
    }
}

/* kill -9 of the sweep's pid alone: its runs get SIGTERM and stop at once,
 * recording themselves failed, instead of training on unwatched */
START_TEST(test_sweep_killed_alone_stops_its_runs)
{
    tu_tmp_make("lock");
    tu_tmp_write("slow.yaml", slow_config);
    tu_tmp_write("exp.yaml", "name: s\nbase: slow.yaml\ngrid:\n  seed: [1, 2]\n");
    const pid_t sweep = start_normlab("sweep exp.yaml -j 2", "sweep.txt");
    wait_for_file("results/s/runs/seed-1/metrics.csv");
    wait_for_file("results/s/runs/seed-2/metrics.csv");
    ck_assert(busy("results/s/runs/seed-1") && busy("results/s/runs/seed-2"));
    ck_assert_int_eq(kill(sweep, SIGKILL), 0);
    int status;
    ck_assert(waitpid(sweep, &status, 0) == sweep);
    /* each run trains for minutes: only the death signal ends them this soon */
    const double t0 = now_s();
    const bool freed = wait_all_free("results/s", 2);
    if (!freed)
        kill_writers("results/s", 2);
    ck_assert_msg(freed, "the runs outlived their sweep");
    ck_assert_double_lt(now_s() - t0, 5.0);
    for (int i = 1; i <= 2; i++) {
        char rel[600], dir[1024];
        run_dir_rel(rel, sizeof rel, "results/s", i);
        tmp_path(dir, sizeof dir, rel);
        ck_assert_int_eq(nl_run_dir_status(dir), NL_RUN_FAILED);
        check_metrics(rel);
    }
    tu_tmp_remove();
}
END_TEST

/* a resumed sweep does not start a run another process is writing: it waits,
 * touching nothing of it, and runs it once the other lets go */
START_TEST(test_resumed_sweep_waits_for_a_live_writer)
{
    tu_tmp_make("lock");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", experiment);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2"), 0);
    /* seed-3 as a killed run leaves it, its lock held by this process */
    char *json = tu_tmp_read("results/k/runs/seed-3/summary.json");
    const char *at = strstr(json, "\"status\": \"ok\"");
    ck_assert(at);
    nl_buf b = {0};
    nl_buf_printf(&b, "%.*s\"status\": \"running\"%s", (int)(at - json), json, at + strlen("\"status\": \"ok\""));
    tu_tmp_write("results/k/runs/seed-3/summary.json", b.data);
    nl_buf_free(&b);
    free(json);
    char marker[1024];
    tmp_path(marker, sizeof marker, "results/k/runs/seed-3/" NL_RUN_MARKER);
    const int fd = open(marker, O_RDWR);
    ck_assert_int_ge(fd, 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    ck_assert_int_eq(fcntl(fd, F_SETLK, &fl), 0);
    char log_before[64], metrics_before[64], now[64];
    stamp("results/k/runs/seed-3/stderr.txt", log_before, sizeof log_before);
    stamp("results/k/runs/seed-3/metrics.csv", metrics_before, sizeof metrics_before);

    const pid_t sweep = start_normlab("sweep exp.yaml -j 2", "sweep.txt");
    /* until the sweep says it waits (or 60 s), and a while longer */
    char *out = NULL;
    for (int i = 0; i < 600 && !(out && strstr(out, "seed-3: ") && strstr(out, "waiting for it")); i++) {
        free(out);
        usleep(100000);
        out = tu_tmp_read("sweep.txt");
    }
    usleep(500000);
    int status;
    ck_assert_int_eq(waitpid(sweep, &status, WNOHANG), 0); /* still waiting */
    stamp("results/k/runs/seed-3/stderr.txt", now, sizeof now);
    ck_assert_msg(!strcmp(now, log_before), "the sweep started seed-3 while it was locked");
    stamp("results/k/runs/seed-3/metrics.csv", now, sizeof now);
    ck_assert_str_eq(now, metrics_before);
    char want[80];
    snprintf(want, sizeof want, "seed-3: is being written by another process (pid %ld", (long)getpid());
    ck_assert_msg(strstr(out, want), "%s", out);
    free(out);
    close(fd); /* lets go */
    ck_assert(waitpid(sweep, &status, 0) == sweep);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    char dir[1024];
    tmp_path(dir, sizeof dir, "results/k/runs/seed-3");
    ck_assert_int_eq(nl_run_dir_status(dir), NL_RUN_OK);
    stamp("results/k/runs/seed-3/stderr.txt", now, sizeof now);
    ck_assert_str_ne(now, log_before);
    tu_tmp_remove();
}
END_TEST

/* summary.csv without the timing columns (wall_s, samples_per_s: the last two) */
static char *summary_without_timing(const char *sweep)
{
    char rel[600];
    snprintf(rel, sizeof rel, "%s/summary.csv", sweep);
    char *text = tu_tmp_read(rel);
    nl_buf b = {0};
    char *save = NULL;
    /* the timing columns, found by name in the header */
    bool timing[64] = {false};
    bool header = true;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int col = 0;
        bool first = true;
        for (char *field = line, *end; field && col < 64; field = end ? end + 1 : NULL, col++) {
            end = strchr(field, ',');
            if (end)
                *end = '\0';
            if (header)
                timing[col] = !strcmp(field, "wall_s") || !strcmp(field, "samples_per_s");
            if (!timing[col]) {
                nl_buf_printf(&b, "%s%s", first ? "" : ",", field);
                first = false;
            }
        }
        nl_buf_printf(&b, "\n");
        header = false;
    }
    free(text);
    return b.data;
}

static int attempts(const char *rel_dir)
{
    char rel[700];
    snprintf(rel, sizeof rel, "%s/stderr.txt", rel_dir);
    char *text = tu_tmp_read(rel);
    int n = !strncmp(text, "== ", 3);
    for (const char *p = text; (p = strstr(p, "\n== ")) != NULL; p++)
        n++;
    free(text);
    return n;
}

START_TEST(test_kill_sweep_alone_at_random)
{
    const char *env = getenv("NL_KILL_TRIALS");
    const int trials = env && atoi(env) > 0 ? atoi(env) : 3;
    tu_tmp_make("lock");
    tu_tmp_write("base.yaml", base_config);
    const char *steps = getenv("NL_KILL_STEPS");
    nl_buf exp = {0};
    nl_buf_printf(&exp, "%sset: {train.steps: %ld}\n", experiment, steps && atol(steps) > 0 ? atol(steps) : 300);
    tu_tmp_write("exp.yaml", exp.data);
    nl_buf_free(&exp);
    double t0 = now_s();
    ck_assert_int_eq(tu_normlab("sweep exp.yaml -j 2 --out ref"), 0);
    const double sweep_s = now_s() - t0;
    char *want = summary_without_timing("ref");
    const unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    int rerun_trials = 0;
    for (int t = 0; t < trials; t++) {
        const double delay = sweep_s * 1.2 * rand() / RAND_MAX;
        const pid_t sweep = start_normlab("sweep exp.yaml -j 2", "sweep.txt");
        usleep((useconds_t)(delay * 1e6));
        ck_assert_int_eq(kill(sweep, SIGKILL), 0);
        int status;
        ck_assert(waitpid(sweep, &status, 0) == sweep);
        /* at once: the killed sweep's runs may still be stopping */
        const int rc = tu_normlab("sweep exp.yaml -j 2");
        char *out = tu_normlab_output();
        ck_assert_msg(rc == 0, "trial %d (seed %u, kill after %.3f s): exit %d: %s", t, seed, delay, rc, out);
        free(out);
        char *got = summary_without_timing("results/k");
        ck_assert_msg(!strcmp(got, want), "trial %d (seed %u, kill after %.3f s): summary.csv\n%s\n"
                      "differs from the uninterrupted sweep's\n%s", t, seed, delay, got, want);
        free(got);
        bool rerun = false;
        for (int i = 1; i <= N_RUNS; i++) {
            char rel[600];
            run_dir_rel(rel, sizeof rel, "results/k", i);
            check_metrics(rel);
            rerun |= attempts(rel) > 1;
        }
        rerun_trials += rerun;
        ck_assert(wait_all_free("results/k", N_RUNS));
        char cmd[800];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/results'", tu_tmp);
        ck_assert_int_eq(system(cmd), 0);
    }
    fprintf(stderr, "test_kill_sweep_alone_at_random: %d trials (seed %u, sweep %.2f s), %d with a run "
            "started again after the kill\n", trials, seed, sweep_s, rerun_trials);
    free(want);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lock");
    TCase *run = tcase_create("run");
    tcase_set_timeout(run, 120);
    tcase_add_test(run, test_second_writer_refused);
    tcase_add_test(run, test_foreign_dir_refused);
    tcase_add_test(run, test_torn_row);
    tcase_add_test(run, test_short_write_leaves_whole_rows);
    suite_add_tcase(s, run);
    TCase *sweep = tcase_create("sweep");
    const char *trials = getenv("NL_KILL_TRIALS");
    tcase_set_timeout(sweep, 300 + 60 * (trials && atoi(trials) > 0 ? atoi(trials) : 3));
    tcase_add_test(sweep, test_sweep_killed_alone_stops_its_runs);
    tcase_add_test(sweep, test_resumed_sweep_waits_for_a_live_writer);
    tcase_add_test(sweep, test_kill_sweep_alone_at_random);
    suite_add_tcase(s, sweep);
    return tu_run_suite(s);
}
