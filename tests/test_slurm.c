/* Sweeps on Slurm without Slurm: --shard auto from the array variables
 * (offsets, steps, lists and missing values), the script --emit-sbatch
 * writes (the user's sbatch options in both jobs; bad ones refused), and
 * that script run as `bash FILE` on a login node and as every task of its
 * array would be, with a stand-in sbatch that writes down what it was asked
 * to queue (and can refuse the merge); then that merge: every run ok, each
 * run once; a merge that could not be queued shows in the sweep's status.
 * The same against real daemons: tests/slurm/ (label slurm). */
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
    /* the merge job after the whole array: queued from the login node, or
     * (plain sbatch) by the first task */
    ck_assert(strstr(script, "sbatch --parsable --dependency=afterany:\"$1\""));
    ck_assert(strstr(script, "    queue_merge \"$array\" || exit 1\n"));
    ck_assert(strstr(script, "    queue_merge \"$SLURM_ARRAY_JOB_ID\"\n"));
    free(script);
    /* -j N is honoured as the array's throttle: N runs at once, one a task */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch -j 3 --out o"), 0);
    script = tu_normlab_output();
    sbatch_value(script, "array", value, sizeof value);
    ck_assert_str_eq(value, "1-5%3");
    ck_assert(strstr(script, "--shard auto -j 1\n"));
    free(script);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch --jobs=3 --array-throttle 3 --out o"), 0);
    script = tu_normlab_output();
    sbatch_value(script, "array", value, sizeof value);
    ck_assert_str_eq(value, "1-5%3");
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
    /* without the user's options, no such lines */
    ck_assert(!strstr(script, "#SBATCH --time") && !strstr(script, "#SBATCH --mem") &&
              !strstr(script, "#SBATCH --partition") && !strstr(script, "#SBATCH --account") &&
              !strstr(script, "#SBATCH --qos"));
    free(script);
    /* the user's options: #SBATCH lines of the array job and of the merge
     * job (after the merge job's own name) */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch --time 2-12:30 --mem=16G --partition gpu,cpu_small "
                                "--account=proj-1.a --qos long"), 0);
    script = tu_normlab_output();
    const char *merge = strstr(script, "#SBATCH --job-name=normlab-tiny.sweep-1-merge\n");
    ck_assert_msg(merge, "no merge job in\n%s", script);
    const char *const lines[] = {"#SBATCH --time=2-12:30\n", "#SBATCH --mem=16G\n",
                                 "#SBATCH --partition=gpu,cpu_small\n", "#SBATCH --account=proj-1.a\n",
                                 "#SBATCH --qos=long\n"};
    for (int i = 0; i < 5; i++) {
        const char *first = strstr(script, lines[i]);
        ck_assert_msg(first && first < merge, "the array job has no %s\n%s", lines[i], script);
        ck_assert_msg(strstr(merge, lines[i]), "the merge job has no %s\n%s", lines[i], script);
        ck_assert_msg(!strstr(strstr(merge, lines[i]) + 1, lines[i]), "%s three times\n%s", lines[i], script);
    }
    /* sbatch reads #SBATCH lines only before the first command */
    ck_assert_msg(strstr(script, "#SBATCH --qos=long\nset -u\n"), "%s", script);
    ck_assert_msg(strstr(merge, "#SBATCH --qos=long\nexec "), "%s", script);
    /* the merge job is no array */
    ck_assert(!strstr(merge, "--array") && !strstr(merge, "#SBATCH --cpus-per-task"));
    free(script);
    /* it runs nothing and writes nothing */
    struct stat st;
    char path[600];
    snprintf(path, sizeof path, "%s/results", tu_tmp);
    ck_assert_int_ne(stat(path, &st), 0);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_sbatch_option_forms)
{
    nl_error err;
    const char *const times[] = {"90", "0", "30:00", "4:00:00", "100:00:00", "2-12", "2-12:30", "2-12:30:15"};
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        err = (nl_error){0};
        ck_assert_msg(nl_sbatch_check_option("--time", times[i], &err) == NL_OK, "%s: %s", times[i], err.msg);
    }
    const char *const bad_times[] = {"", "1h", "1:2:3:4", "1:60", "1:000", "-5", "2-", "2-1:2:3:4", "1 :00",
                                     "1:00\n#SBATCH --x", "1;reboot", "99999999999"};
    for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++) {
        err = (nl_error){0};
        ck_assert_msg(nl_sbatch_check_option("--time", bad_times[i], &err) == NL_ERR_USAGE, "%s", bad_times[i]);
        ck_assert_msg(strstr(err.msg, "--time: '") && strstr(err.msg, "accepted: minutes, MM:SS, HH:MM:SS"),
                      "%s", err.msg);
        ck_assert_msg(!strchr(err.msg, '\n'), "%s", err.msg);
    }
    const char *const mems[] = {"4000", "16G", "512m", "1T", "100K"};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++) {
        err = (nl_error){0};
        ck_assert_msg(nl_sbatch_check_option("--mem", mems[i], &err) == NL_OK, "%s: %s", mems[i], err.msg);
    }
    const char *const bad_mems[] = {"", "G", "16GB", "1.5G", "16 G", "-1", "4G$(id)"};
    for (size_t i = 0; i < sizeof bad_mems / sizeof *bad_mems; i++) {
        err = (nl_error){0};
        ck_assert_msg(nl_sbatch_check_option("--mem", bad_mems[i], &err) == NL_ERR_USAGE, "%s", bad_mems[i]);
        ck_assert_msg(strstr(err.msg, "--mem: '") && strstr(err.msg, "suffix K, M, G or T"), "%s", err.msg);
    }
    err = (nl_error){0};
    ck_assert_int_eq(nl_sbatch_check_option("--partition", "gpu,cpu-big.2", &err), NL_OK);
    ck_assert_int_eq(nl_sbatch_check_option("--account", "proj_7", &err), NL_OK);
    ck_assert_int_eq(nl_sbatch_check_option("--qos", "normal", &err), NL_OK);
    const char *const bad_names[] = {"", "a b", "a\tb", "a\nb", "a;b", "a$b", "a`b`", "'a'", "a\"", "-a", ",a",
                                     "a,", "a,,b", "a/b", "a>b", "a|b", "a&b", "a*"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        err = (nl_error){0};
        ck_assert_msg(nl_sbatch_check_option("--partition", bad_names[i], &err) == NL_ERR_USAGE, "%s",
                      bad_names[i]);
        ck_assert_msg(strstr(err.msg, "--partition: '") && strstr(err.msg, "letters, digits, _ . -"), "%s",
                      err.msg);
        ck_assert_msg(!strchr(err.msg, '\n'), "%s", err.msg);
    }
    /* a list is a partition's only */
    err = (nl_error){0};
    ck_assert_int_eq(nl_sbatch_check_option("--account", "a,b", &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "--account: 'a,b' is not accepted; accepted: an account name"), "%s", err.msg);
    err = (nl_error){0};
    ck_assert_int_eq(nl_sbatch_check_option("--qos", "x y", &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "accepted: a QOS name"), "%s", err.msg);
    /* 64 characters at most */
    char long_name[80];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    err = (nl_error){0};
    ck_assert_int_eq(nl_sbatch_check_option("--account", long_name, &err), NL_ERR_USAGE);
    long_name[64] = '\0';
    ck_assert_int_eq(nl_sbatch_check_option("--account", long_name, &err), NL_OK);
}
END_TEST

static void assert_usage_error(const char *args, const char *says)
{
    const int rc = tu_normlab(args);
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 2, "normlab %s: exit %d: %s", args, rc, out);
    ck_assert_msg(strstr(out, says), "normlab %s: '%s' does not say '%s'", args, out, says);
    ck_assert_msg(!strstr(out, "#!/bin/bash"), "normlab %s printed a script: %s", args, out);
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
    /* -j that cannot be what runs at once under the array: refused, not ignored */
    assert_usage_error("sweep exp.yaml --emit-sbatch -j 3 --array-throttle 2", "-j 3 and --array-throttle 2 disagree");
    assert_usage_error("sweep exp.yaml --emit-sbatch -j 3 --cpus-per-task 2", "-j 3 with --cpus-per-task 2");
    assert_usage_error("sweep exp.yaml --emit-sbatch --array-throttle 0", "--array-throttle: '0' is not a whole number from 1");
    assert_usage_error("sweep exp.yaml --emit-sbatch --array-tasks 1001", "from 1 to 1000");
    /* the user's sbatch options: the option, the value, the accepted form;
     * no script printed, nothing written */
    assert_usage_error("sweep exp.yaml --emit-sbatch --time 1h --out o",
                       "--time: '1h' is not accepted; accepted: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or "
                       "D-HH:MM:SS");
    assert_usage_error("sweep exp.yaml --emit-sbatch --mem=16GB --out o",
                       "--mem: '16GB' is not accepted; accepted: a number of megabytes, or a number with a suffix "
                       "K, M, G or T");
    assert_usage_error("sweep exp.yaml --emit-sbatch --partition 'gpu\n#SBATCH --uid=0' --out o",
                       "--partition: 'gpu?#SBATCH --uid=0' is not accepted; accepted: a partition name");
    assert_usage_error("sweep exp.yaml --emit-sbatch --account 'a;rm -rf x' --out o",
                       "--account: 'a;rm -rf x' is not accepted; accepted: an account name");
    assert_usage_error("sweep exp.yaml --emit-sbatch --qos='$(id)' --out o",
                       "--qos: '$(id)' is not accepted; accepted: a QOS name");
    assert_usage_error("sweep exp.yaml --emit-sbatch --out o --time", "--time needs a value");
    /* a sweep directory whose name would end the merge job's script */
    assert_usage_error("sweep exp.yaml --emit-sbatch --out 'o\nNORMLAB_MERGE_JOB'", "has a line break; a job "
                       "script cannot hold it");
    assert_usage_error("sweep exp.yaml --time 10", "--time is an option of the Slurm jobs; it goes with "
                       "--emit-sbatch");
    assert_usage_error("sweep exp.yaml --dry-run --qos normal", "--qos is an option of the Slurm jobs");
    struct stat st;
    char path[600];
    snprintf(path, sizeof path, "%s/results", tu_tmp);
    ck_assert_int_ne(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/o", tu_tmp);
    ck_assert_int_ne(stat(path, &st), 0);
    tu_tmp_remove();
}
END_TEST

/* A stand-in sbatch: job ids from 100 up; each call's arguments in
 * sbatch/<id>.args and the script it was given (a file, or its standard
 * input) in sbatch/<id>.sh. FAKE_SBATCH_REFUSE=stdin refuses a script on
 * standard input (the merge job) as a cluster refuses a job it does not
 * like; SBATCH_CALLS counts the calls. */
static void write_fake_sbatch(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/bin", tu_tmp);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    snprintf(dir, sizeof dir, "%s/sbatch", tu_tmp);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    tu_tmp_write("bin/sbatch",
                 "#!/bin/bash\n"
                 "d=\"$FAKE_SBATCH_DIR\"\n"
                 "id=$(cat \"$d/next\" 2>/dev/null || echo 100)\n"
                 "echo $((id + 1)) > \"$d/next\"\n"
                 "script=\n"
                 "for a; do case $a in -*) ;; *) script=$a; break ;; esac; done\n"
                 "printf '%s\\n' \"$*\" > \"$d/$id.args\"\n"
                 "if [ -n \"$script\" ]; then cp \"$script\" \"$d/$id.sh\"; else cat > \"$d/$id.sh\"; fi\n"
                 "if [ -z \"$script\" ] && [ \"${FAKE_SBATCH_REFUSE:-}\" = stdin ]; then\n"
                 "    echo 'sbatch: error: Batch job submission failed: Invalid account or account/partition "
                 "combination specified' >&2\n"
                 "    exit 1\n"
                 "fi\n"
                 "echo \"$id;normlabtest\"\n");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "chmod +x '%s/bin/sbatch'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* runs `command` in tu_tmp with the stand-in sbatch first on PATH and
 * `env` (VAR=VALUE ...) set, its output in `log`; returns the exit status */
static int run_shell(const char *env, const char *command, const char *log)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && PATH=\"$PWD/bin:$PATH\" FAKE_SBATCH_DIR=\"$PWD/sbatch\" %s %s > '%s' 2>&1", tu_tmp, env,
             command, log);
    const int rc = system(cmd);
    ck_assert(WIFEXITED(rc));
    return WEXITSTATUS(rc);
}

/* runs array task `task` of array job 100 (3 tasks from 1) with `args`
 * after the script; fails the test unless it exits 0; returns its output */
static char *run_task(const char *script, int task, const char *args, const char *env)
{
    char command[1200], env_all[600], log[32];
    snprintf(env_all, sizeof env_all,
             "SLURM_JOB_ID=%d SLURM_ARRAY_JOB_ID=100 SLURM_ARRAY_TASK_ID=%d SLURM_ARRAY_TASK_COUNT=3 "
             "SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3 %s",
             200 + task, task, env);
    snprintf(command, sizeof command, "bash %s %s", script, args);
    snprintf(log, sizeof log, "task%d.txt", task);
    const int rc = run_shell(env_all, command, log);
    char *out = tu_tmp_read(log);
    ck_assert_msg(rc == 0, "task %d: exit %d: %s", task, rc, out);
    return out;
}

/* how many calls the stand-in sbatch had */
static int sbatch_calls(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/sbatch/next", tu_tmp);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int next = 100;
    ck_assert_int_eq(fscanf(f, "%d", &next), 1);
    fclose(f);
    return next - 100;
}

/* every run of `dir`'s summary.csv ok, each run started once */
static void assert_all_ok_once(const char *dir, int n)
{
    char rel[300];
    snprintf(rel, sizeof rel, "%s/summary.csv", dir);
    char *summary = tu_tmp_read(rel);
    int rows = 0, ok = 0;
    for (const char *p = strchr(summary, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        rows++;
        ok += strncmp(strchr(strchr(p + 1, ',') + 1, ',') + 1, "ok,", 3) == 0;
    }
    ck_assert_msg(rows == n && ok == n, "%d rows, %d ok:\n%s", rows, ok, summary);
    free(summary);
    for (int seed = 1; seed <= n; seed++) {
        snprintf(rel, sizeof rel, "%s/runs/seed-%d/stderr.txt", dir, seed);
        char *text = tu_tmp_read(rel);
        ck_assert_msg(!strncmp(text, "== ", 3) && !strstr(text, "\n== "), "seed %d ran more than once:\n%s",
                      seed, text);
        free(text);
    }
}

/* The emitted script as a user submits it from a login node, `bash FILE`:
 * it queues itself as the array, then the merge job with the user's options
 * and a dependency on the array, and records both; the tasks (run as Slurm
 * would run them) queue nothing; the merge job's script merges. */
START_TEST(test_submit_queues_array_then_merge)
{
    tu_tmp_make("slurm");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: t\nbase: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3, 4, 5]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch --array-tasks 3 --out 'my out' --time 10 "
                                "--partition debug"), 0);
    char *script = tu_normlab_output();
    tu_tmp_write("job.sbatch", script);
    free(script);
    write_fake_sbatch();
    ck_assert_int_eq(run_shell("", "bash job.sbatch", "submit.txt"), 0);
    char *said = tu_tmp_read("submit.txt");
    ck_assert_msg(strstr(said, "queued array job 100 and merge job 101 after it"), "%s", said);
    free(said);
    ck_assert_int_eq(sbatch_calls(), 2);
    /* the array: this file, told that the merge is queued */
    char *args = tu_tmp_read("sbatch/100.args");
    ck_assert_str_eq(args, "--parsable job.sbatch merge-queued-by-submitter\n");
    free(args);
    /* the merge: after every task of the array, the user's options */
    args = tu_tmp_read("sbatch/101.args");
    ck_assert_str_eq(args, "--parsable --dependency=afterany:100\n");
    free(args);
    char *merge = tu_tmp_read("sbatch/101.sh");
    ck_assert_msg(strstr(merge, "#SBATCH --job-name=normlab-t-merge\n") && strstr(merge, "#SBATCH --time=10\n") &&
                      strstr(merge, "#SBATCH --partition=debug\n") && !strstr(merge, "--array"),
                  "%s", merge);
    free(merge);
    char *record = tu_tmp_read("my out/slurm.txt");
    ck_assert_str_eq(record, "array_job: 100\nmerge_job: 101\nmerge_error: \n");
    free(record);
    /* the tasks, as Slurm runs them: the script with its arguments */
    for (int task = 1; task <= 3; task++)
        free(run_task("sbatch/100.sh", task, "merge-queued-by-submitter", ""));
    ck_assert_int_eq(sbatch_calls(), 2); /* no sbatch on the compute nodes */
    char *task1 = tu_tmp_read("task1.txt");
    ck_assert_msg(strstr(task1, "2 runs in this shard") && !strstr(task1, "warning"), "%s", task1);
    free(task1);
    ck_assert_int_eq(run_shell("", "bash sbatch/101.sh", "merge.txt"), 0);
    char *merged = tu_tmp_read("merge.txt");
    ck_assert_msg(strstr(merged, "5 runs: 5 ok, 0 diverged, 0 failed, 0 pending") && !strstr(merged, "warning"),
                  "%s", merged);
    free(merged);
    assert_all_ok_once("my out", 5);
    /* the sweep's status names both jobs */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run --out 'my out'"), 0);
    char *status = tu_normlab_output();
    ck_assert_msg(strstr(status, "slurm: array job 100, then merge job 101 ("), "%s", status);
    free(status);
    tu_tmp_remove();
}
END_TEST

/* Submitted with plain sbatch: the array's first task queues the merge,
 * once, with the same options; the merge then merges every run. */
START_TEST(test_plain_sbatch_first_task_queues_merge)
{
    tu_tmp_make("slurm");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: t\nbase: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3, 4, 5]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch --array-tasks 3 --out o --mem 2G --qos short"), 0);
    char *script = tu_normlab_output();
    tu_tmp_write("job.sbatch", script);
    free(script);
    write_fake_sbatch();
    for (int task = 1; task <= 3; task++)
        free(run_task("job.sbatch", task, "", ""));
    ck_assert_int_eq(sbatch_calls(), 1);
    char *args = tu_tmp_read("sbatch/100.args");
    ck_assert_str_eq(args, "--parsable --dependency=afterany:100\n");
    free(args);
    char *merge = tu_tmp_read("sbatch/100.sh");
    ck_assert_msg(strstr(merge, "#SBATCH --mem=2G\n") && strstr(merge, "#SBATCH --qos=short\n"), "%s", merge);
    free(merge);
    char *record = tu_tmp_read("o/slurm.txt");
    ck_assert_str_eq(record, "array_job: 100\nmerge_job: 100\nmerge_error: \n");
    free(record);
    ck_assert_int_eq(run_shell("", "bash sbatch/100.sh", "merge.txt"), 0);
    assert_all_ok_once("o", 5);
    tu_tmp_remove();
}
END_TEST

/* A merge job the cluster refuses: from the login node, the submission
 * says so and fails; from a task, the task goes on with its runs; either
 * way the sweep directory records sbatch's message, and normlab sweep
 * reports it (--dry-run; a warning while runs are pending) until the runs
 * are merged. */
START_TEST(test_merge_not_queued_shows_in_status)
{
    tu_tmp_make("slurm");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: t\nbase: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --emit-sbatch --out o --account nobody"), 0);
    char *script = tu_normlab_output();
    tu_tmp_write("job.sbatch", script);
    free(script);
    write_fake_sbatch();
    const char *refusal = "sbatch: error: Batch job submission failed: Invalid account or account/partition "
                          "combination specified";
    ck_assert_int_eq(run_shell("FAKE_SBATCH_REFUSE=stdin", "bash job.sbatch", "submit.txt"), 1);
    char *said = tu_tmp_read("submit.txt");
    ck_assert_msg(strstr(said, "could not queue the merge job after array job 100: ") && strstr(said, refusal) &&
                      strstr(said, "once the array has ended, run: ") && strstr(said, "--merge --out") &&
                      !strstr(said, "queued array job"),
                  "%s", said);
    free(said);
    char *record = tu_tmp_read("o/slurm.txt");
    char want[600];
    snprintf(want, sizeof want, "array_job: 100\nmerge_job: \nmerge_error: %s\n", refusal);
    ck_assert_str_eq(record, want);
    free(record);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run --out o"), 0);
    char *status = tu_normlab_output();
    snprintf(want, sizeof want, "slurm: array job 100; its merge job was NOT queued (%s); once the array has "
             "ended, run: normlab sweep exp.yaml --out o --merge\n", refusal);
    ck_assert_msg(strstr(status, want), "%s", status);
    free(status);

    /* plain sbatch: the first task cannot queue the merge; it records that,
     * says so in its log, and runs its shard all the same */
    char *task = run_task("job.sbatch", 1, "", "FAKE_SBATCH_REFUSE=stdin SLURM_ARRAY_JOB_ID=300");
    ck_assert_msg(strstr(task, "could not queue the merge job after array job 300") &&
                      strstr(task, "1 run in this shard"),
                  "%s", task);
    /* the task's own end: 2 runs pending, the merge not queued */
    ck_assert_msg(strstr(task, "warning: the merge job of Slurm array job 300 was not queued (sbatch: error: ") &&
                      strstr(task, "2 runs pending: once the array has ended, run: "),
                  "%s", task);
    free(task);
    record = tu_tmp_read("o/slurm.txt");
    ck_assert_msg(!strncmp(record, "array_job: 300\nmerge_job: \nmerge_error: sbatch: error: ", 55), "%s", record);
    free(record);
    /* --merge while runs are pending says it too */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --merge --out o"), 0);
    char *merged = tu_normlab_output();
    ck_assert_msg(strstr(merged, "1 ok, 0 diverged, 0 failed, 2 pending") &&
                      strstr(merged, "warning: the merge job of Slurm array job 300 was not queued"),
                  "%s", merged);
    /* and names the runs it found unfinished, with where each would resume */
    const char *unfinished = strstr(merged, "2 unfinished runs (pending in summary.csv): runs/");
    ck_assert_msg(unfinished && strstr(unfinished, " (not started), runs/") &&
                      strstr(unfinished, "run the sweep again"),
                  "%s", merged);
    free(merged);
    /* the other tasks (no merge to queue: 2 and 3 are not the first) */
    free(run_task("job.sbatch", 2, "", "FAKE_SBATCH_REFUSE=stdin SLURM_ARRAY_JOB_ID=300"));
    free(run_task("job.sbatch", 3, "", "FAKE_SBATCH_REFUSE=stdin SLURM_ARRAY_JOB_ID=300"));
    ck_assert_int_eq(sbatch_calls(), 3); /* the array, its refused merge, task 1's refused merge */
    /* merged by hand once the array has ended: nothing is missing */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --merge --out o"), 0);
    merged = tu_normlab_output();
    ck_assert_msg(strstr(merged, "3 ok, 0 diverged, 0 failed, 0 pending") && !strstr(merged, "warning"), "%s",
                  merged);
    free(merged);
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
    tcase_add_test(t, test_sbatch_option_forms);
    tcase_add_test(t, test_submit_queues_array_then_merge);
    tcase_add_test(t, test_plain_sbatch_first_task_queues_merge);
    tcase_add_test(t, test_merge_not_queued_shows_in_status);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
