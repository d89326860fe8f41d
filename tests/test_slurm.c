/* Sweeps on Slurm without Slurm: --shard auto from the array variables
 * (offsets, steps, lists and missing values), the script --emit-sbatch
 * writes, and that script run as every task of its array would be (a
 * stand-in sbatch records the merge it queues), then that merge: every run
 * ok, each run once. The same against real daemons: tests/slurm/ (label
 * slurm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log/files.h"
#include "sweep/slurm.h"
#include "testutil.h"

static nl_code shard_of(const char *id, const char *count, const char *min, const char *max, const char *step,
                        nl_shard *out, nl_error *err)
{
    const nl_slurm_array_env env = {id, count, min, max, step};
    *err = (nl_error){0};
    return nl_shard_from_slurm(&env, out, err);
}

START_TEST(test_shard_from_array_variables)
{
    nl_shard s;
    nl_error err;
    /* --array=1-4: task 3 is shard 3/4 */
    ck_assert_int_eq(shard_of("3", "4", "1", "4", NULL, &s, &err), NL_OK);
    ck_assert_int_eq(s.index, 3);
    ck_assert_int_eq(s.count, 4);
    /* --array=0-3 and --array=10-13: the same shards, whatever the offset */
    ck_assert_int_eq(shard_of("0", "4", "0", "3", "1", &s, &err), NL_OK);
    ck_assert_int_eq(s.index, 1);
    ck_assert_int_eq(shard_of("13", "4", "10", "13", NULL, &s, &err), NL_OK);
    ck_assert_int_eq(s.index, 4);
    /* --array=5-11:3 has ids 5, 8, 11 */
    ck_assert_int_eq(shard_of("8", "3", "5", "11", "3", &s, &err), NL_OK);
    ck_assert_int_eq(s.index, 2);
    ck_assert_int_eq(s.count, 3);
    /* an array of one task needs no minimum to know its place */
    ck_assert_int_eq(shard_of("7", "1", NULL, NULL, NULL, &s, &err), NL_OK);
    ck_assert_int_eq(s.index, 1);
}
END_TEST

static void assert_refused(const char *id, const char *count, const char *min, const char *max, const char *step,
                           const char *says)
{
    nl_shard s = {0, 0};
    nl_error err;
    ck_assert_int_eq(shard_of(id, count, min, max, step, &s, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, says), "'%s' does not say '%s'", err.msg, says);
    ck_assert_int_eq(s.count, 0);
}

START_TEST(test_shard_refusals)
{
    assert_refused(NULL, NULL, NULL, NULL, NULL, "not a task of a Slurm array job");
    assert_refused("1", NULL, "1", NULL, NULL, "not a task of a Slurm array job");
    assert_refused("x1", "4", "1", "4", NULL, "SLURM_ARRAY_TASK_ID is 'x1', not a whole number");
    assert_refused("1", "4", "1", "4", "0", "SLURM_ARRAY_TASK_STEP is 0");
    assert_refused("2", "4", NULL, NULL, NULL, "SLURM_ARRAY_TASK_MIN is not set");
    assert_refused("0", "4", "1", "4", NULL, "not one of the array's ids");
    assert_refused("6", "3", "5", "11", "3", "not one of the array's ids");
    /* --array=1,3,7: three ids from 1 to 7, no range */
    assert_refused("3", "3", "1", "7", NULL, "not a range");
    assert_refused("5", "4", "1", NULL, NULL, "past the array's last id 4");
    assert_refused("1", "0", "1", "1", NULL, "SLURM_ARRAY_TASK_COUNT is 0");
}
END_TEST

static const char *base_config =
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
    "model: {arch: mlp, widths: [16]}\n"
    "train: {batch_size: 16, steps: 40, eval_every: 20, log_every: 10, optimizer: {lr: 0.05}}\n";

/* the value of `#SBATCH --key=` in the script */
static void sbatch_value(const char *script, const char *key, char *out, size_t size)
{
    char want[64];
    snprintf(want, sizeof want, "#SBATCH --%s=", key);
    const char *at = strstr(script, want);
    ck_assert_msg(at, "no %s in\n%s", want, script);
    at += strlen(want);
    const size_t len = strcspn(at, "\n");
    ck_assert(len < size);
    memcpy(out, at, len);
    out[len] = '\0';
}

START_TEST(test_emit_sbatch_script)
{
    tu_tmp_make("slurm");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: tiny.sweep-1\nbase: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3, 4, 5]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch --array-throttle 2 --cpus-per-task 3 --out o"), 0);
    char *script = tu_normlab_output();
    char value[256], want[1024];
    sbatch_value(script, "array", value, sizeof value);
    ck_assert_str_eq(value, "1-5%2"); /* a task per run, two at once */
    sbatch_value(script, "cpus-per-task", value, sizeof value);
    ck_assert_str_eq(value, "3");
    sbatch_value(script, "job-name", value, sizeof value);
    ck_assert_str_eq(value, "normlab-tiny.sweep-1");
    sbatch_value(script, "output", value, sizeof value);
    ck_assert_str_eq(value, "normlab-tiny.sweep-1-%A_%a.out");
    snprintf(want, sizeof want, "\nnormlab='%s'\nexperiment='%s/exp.yaml'\nout='%s/o'\n", NORMLAB_BINARY, tu_tmp,
             tu_tmp);
    ck_assert_msg(strstr(script, want), "no\n%s\nin\n%s", want, script);
    /* one run per task: one at a time, on the task's 3 cores */
    ck_assert(strstr(script, "exec \"$normlab\" sweep \"$experiment\" --out \"$out\" --shard auto -j 1\n"));
    ck_assert(strstr(script, "--dependency=afterany:\"$SLURM_ARRAY_JOB_ID\""));
    free(script);
    /* more tasks than runs are fewer; the throttle is at most the tasks */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch --array-tasks 9 --array-throttle 7"), 0);
    script = tu_normlab_output();
    sbatch_value(script, "array", value, sizeof value);
    ck_assert_str_eq(value, "1-5%5");
    snprintf(want, sizeof want, "\nout='%s/results/tiny.sweep-1'\n", tu_tmp);
    ck_assert_msg(strstr(script, want), "no\n%s\nin\n%s", want, script);
    ck_assert(strstr(script, "--shard auto -j 1\n"));
    free(script);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch --array-tasks 2 --cpus-per-task 2"), 0);
    script = tu_normlab_output();
    sbatch_value(script, "array", value, sizeof value);
    ck_assert_str_eq(value, "1-2%2");
    ck_assert(strstr(script, "--shard auto -j 2\n")); /* 3 runs in a task, 2 at once */
    free(script);
    /* it runs nothing and writes nothing */
    struct stat st;
    char path[600];
    snprintf(path, sizeof path, "%s/results", tu_tmp);
    ck_assert_int_ne(stat(path, &st), 0);
    tu_tmp_remove();
}
END_TEST

static void assert_usage_error(const char *args, const char *says)
{
    const int rc = tu_normlab(args);
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 2, "normlab %s: exit %d: %s", args, rc, out);
    ck_assert_msg(strstr(out, says), "normlab %s: '%s' does not say '%s'", args, out, says);
    free(out);
}

START_TEST(test_cli_refusals)
{
    tu_tmp_make("slurm");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: t\nbase: base.yaml\ngrid:\n  seed: [1, 2]\n");
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    assert_usage_error("sweep exp.yaml --shard auto", "not a task of a Slurm array job");
    setenv("SLURM_ARRAY_TASK_ID", "3", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
    setenv("SLURM_ARRAY_TASK_MIN", "1", 1);
    assert_usage_error("sweep exp.yaml --shard auto", "past the array's last id 2");
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    assert_usage_error("sweep exp.yaml --claim --shard 1/2", "--claim does not go with --shard");
    assert_usage_error("sweep exp.yaml --claim --merge", "--claim does not go with --merge");
    assert_usage_error("sweep exp.yaml --emit-sbatch --merge", "--emit-sbatch runs nothing");
    assert_usage_error("sweep exp.yaml --array-throttle 2", "go with --emit-sbatch");
    assert_usage_error("sweep exp.yaml --emit-sbatch --array-throttle 0", "--array-throttle: '0' is not a number");
    assert_usage_error("sweep exp.yaml --emit-sbatch --array-tasks 1001", "in 1..1000");
    struct stat st;
    char path[600];
    snprintf(path, sizeof path, "%s/results", tu_tmp);
    ck_assert_int_ne(stat(path, &st), 0);
    tu_tmp_remove();
}
END_TEST

/* The emitted script run as Slurm would run it: once per array task, with
 * the array variables set, and a stand-in sbatch on PATH that writes down
 * what it was asked to queue; then the merge it queued. */
START_TEST(test_emitted_script_runs_every_run_once)
{
    tu_tmp_make("slurm");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: t\nbase: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3, 4, 5]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch --array-tasks 3 --out 'my out'"), 0);
    char *script = tu_normlab_output();
    tu_tmp_write("job.sbatch", script);
    free(script);
    char bin[600];
    snprintf(bin, sizeof bin, "%s/bin", tu_tmp);
    ck_assert_int_eq(mkdir(bin, 0777), 0);
    tu_tmp_write("bin/sbatch", "#!/bin/sh\n"
                               "# the last argument is the --wrap command\n"
                               "for a; do last=$a; done\n"
                               "printf 'task %s: %s\\n' \"$SLURM_ARRAY_TASK_ID\" \"$*\" >> \"$SBATCH_LOG\"\n"
                               "printf '%s\\n' \"$last\" > \"$MERGE_CMD\"\n");
    char cmd[4096];
    for (int task = 1; task <= 3; task++) {
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && chmod +x bin/sbatch && PATH=\"$PWD/bin:$PATH\" SBATCH_LOG=\"$PWD/sbatch.log\" "
                 "MERGE_CMD=\"$PWD/merge.sh\" SLURM_ARRAY_JOB_ID=77 SLURM_ARRAY_TASK_ID=%d "
                 "SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3 "
                 "bash job.sbatch > task%d.txt 2>&1",
                 tu_tmp, task, task);
        const int rc = system(cmd);
        char name[32];
        snprintf(name, sizeof name, "task%d.txt", task);
        char *out = tu_tmp_read(name);
        ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "task %d: %s", task, out);
        free(out);
    }
    /* the first task alone queued the merge, after the whole array */
    char *log = tu_tmp_read("sbatch.log");
    ck_assert_msg(!strncmp(log, "task 1: ", 8) && strstr(log, "--dependency=afterany:77 ") &&
                      !strchr(strchr(log, '\n') + 1, '\n'),
                  "%s", log);
    free(log);
    /* the tasks' shards: 1/3 has seeds 1 and 4 */
    char *task1 = tu_tmp_read("task1.txt");
    ck_assert_msg(strstr(task1, "2 runs in this shard"), "%s", task1);
    free(task1);
    snprintf(cmd, sizeof cmd, "cd '%s' && sh merge.sh > merge.txt 2>&1", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    char *summary = tu_tmp_read("my out/summary.csv");
    int rows = 0, ok = 0;
    for (const char *p = strchr(summary, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        rows++;
        ok += strncmp(strchr(strchr(p + 1, ',') + 1, ',') + 1, "ok,", 3) == 0;
    }
    ck_assert_msg(rows == 5 && ok == 5, "%d rows, %d ok:\n%s", rows, ok, summary);
    free(summary);
    for (int seed = 1; seed <= 5; seed++) {
        char rel[128];
        snprintf(rel, sizeof rel, "my out/runs/seed-%d/stderr.txt", seed);
        char *text = tu_tmp_read(rel);
        ck_assert_msg(!strncmp(text, "== ", 3) && !strstr(text, "\n== "), "seed %d ran more than once:\n%s",
                      seed, text);
        free(text);
    }
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("slurm");
    TCase *t = tcase_create("slurm");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_shard_from_array_variables);
    tcase_add_test(t, test_shard_refusals);
    tcase_add_test(t, test_emit_sbatch_script);
    tcase_add_test(t, test_cli_refusals);
    tcase_add_test(t, test_emitted_script_runs_every_run_once);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
