/* A run that dies of a fatal signal leaves a record that says so
 * (results/crash.h, issue 118): `normlab run` made to crash by the test
 * hook NORMLAB_TEST_CRASH (SIGSEGV, SIGILL) leaves summary.json failed with
 * a reason naming the signal and the step, not "running"; a crash whose
 * handler cannot run is recorded by the sweep that ran it, from waitpid;
 * a resumed sweep runs a crashed run again and leaves the others as they
 * were. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "log/files.h"
#include "results/crash.h"
#include "results/summary.h"
#include "results/summary_keys.h"
#include "testutil.h"

/* tiny runs: a few milliseconds of training each */
static const char *base_config =
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
    "model: {arch: mlp, widths: [16]}\n"
    "train: {batch_size: 16, steps: 30, eval_every: 10, log_every: 10, optimizer: {lr: 0.05, momentum: 0.9}}\n";

/* the verdict on tu_tmp/<dir>'s summary.json and its reason */
static nl_summary_verdict summary_of(const char *dir, char *reason, size_t size)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, dir);
    char *json = NULL;
    const nl_summary_verdict v = nl_summary_read(path, &json);
    reason[0] = '\0';
    if (json)
        nl_json_flat_get(json, NL_SUMMARY_REASON, reason, size);
    free(json);
    return v;
}

/* `normlab args` with NORMLAB_TEST_CRASH set to `hook` (NULL: unset) */
static int normlab_with_hook(const char *hook, const char *args)
{
    if (hook)
        setenv("NORMLAB_TEST_CRASH", hook, 1);
    const int status = tu_normlab(args);
    unsetenv("NORMLAB_TEST_CRASH");
    return status;
}

static void run_crashes(const char *hook, int sig, const char *want_reason)
{
    tu_tmp_make("crash");
    tu_tmp_write("run.yaml", base_config);
    /* the shell reports a command a signal ended as 128 + the signal */
    ck_assert_int_eq(normlab_with_hook(hook, "run run.yaml --out one --quiet"), 128 + sig);
    char reason[300];
    ck_assert_str_eq(nl_summary_verdict_name(summary_of("one", reason, sizeof reason)), "failed");
    ck_assert_str_eq(reason, want_reason);
    /* show reads it as the failure it is */
    ck_assert_int_eq(tu_normlab("show one"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, want_reason), "show does not say how the run ended:\n%s", out);
    free(out);
    /* and a run again in that directory starts over and finishes */
    ck_assert_int_eq(normlab_with_hook(NULL, "run run.yaml --out one --quiet"), 0);
    ck_assert_str_eq(nl_summary_verdict_name(summary_of("one", reason, sizeof reason)), "ok");
    tu_tmp_remove();
}

START_TEST(test_run_segv_recorded)
{
    run_crashes("SIGSEGV:3", SIGSEGV, "crashed: SIGSEGV (segmentation fault) after 3 steps");
}
END_TEST

START_TEST(test_run_sigill_recorded)
{
    run_crashes("SIGILL:1", SIGILL, "crashed: SIGILL (illegal instruction) after 1 step");
}
END_TEST

/* a crash the run could not record leaves "running"; the parent's record
 * (what a sweep does from waitpid) makes it failed, once */
START_TEST(test_parent_records_unhandled_crash)
{
    tu_tmp_make("crash");
    tu_tmp_write("run.yaml", base_config);
    ck_assert_int_eq(normlab_with_hook("SIGBUS:2:unhandled", "run run.yaml --out one --quiet"), 128 + SIGBUS);
    char reason[300], dir[600];
    ck_assert_str_eq(nl_summary_verdict_name(summary_of("one", reason, sizeof reason)), "running");
    snprintf(dir, sizeof dir, "%s/one", tu_tmp);
    nl_error err = {0};
    ck_assert_msg(nl_summary_record_crash(dir, SIGBUS, &err) == NL_OK, "%s", err.msg);
    ck_assert_str_eq(nl_summary_verdict_name(summary_of("one", reason, sizeof reason)), "failed");
    ck_assert_str_eq(reason, "crashed: SIGBUS (bus error)");
    /* a summary that no longer says running is left as it is */
    char *before = tu_tmp_read("one/summary.json");
    ck_assert_msg(nl_summary_record_crash(dir, SIGSEGV, &err) == NL_OK, "%s", err.msg);
    char *after = tu_tmp_read("one/summary.json");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    tu_tmp_remove();
}
END_TEST

/* the sweep's two runs: the one of `steps` steps' summary verdict and reason */
static nl_summary_verdict sweep_run(const char *steps, char *reason, size_t size)
{
    char runs[600], dir[1000];
    snprintf(runs, sizeof runs, "%s/results/crash/runs", tu_tmp);
    DIR *d = opendir(runs);
    ck_assert_msg(d, "no %s", runs);
    struct dirent *e;
    nl_summary_verdict v = NL_SUMMARY_ABSENT;
    int found = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strstr(e->d_name, steps)) {
            snprintf(dir, sizeof dir, "results/crash/runs/%s", e->d_name);
            v = summary_of(dir, reason, size);
            found++;
        }
    closedir(d);
    ck_assert_msg(found == 1, "%d runs named *%s* in %s", found, steps, runs);
    return v;
}

START_TEST(test_sweep_records_and_reruns_a_crash)
{
    tu_tmp_make("crash");
    tu_tmp_write("base.yaml", base_config);
    tu_tmp_write("exp.yaml", "name: crash\nbase: base.yaml\ngrid:\n  train.steps: [4, 30]\n");
    char reason[300];
    /* the 30-step run crashes after its fifth step, the 4-step one never gets there */
    ck_assert_int_ne(normlab_with_hook("SIGSEGV:5", "sweep exp.yaml"), 0);
    ck_assert_str_eq(nl_summary_verdict_name(sweep_run("-30", reason, sizeof reason)), "failed");
    ck_assert_str_eq(reason, "crashed: SIGSEGV (segmentation fault) after 5 steps");
    ck_assert_str_eq(nl_summary_verdict_name(sweep_run("-4", reason, sizeof reason)), "ok");
    char *first = tu_tmp_read("results/crash/runs/steps-4/summary.json");
    /* resumed, it runs the crashed run again: crashing again where its own
     * handler cannot say so, the sweep records it from waitpid */
    ck_assert_int_ne(normlab_with_hook("SIGILL:5:unhandled", "sweep exp.yaml"), 0);
    ck_assert_str_eq(nl_summary_verdict_name(sweep_run("-30", reason, sizeof reason)), "failed");
    ck_assert_str_eq(reason, "crashed: SIGILL (illegal instruction)");
    /* and once more without a crash: it finishes; the finished run is not run again */
    ck_assert_int_eq(normlab_with_hook(NULL, "sweep exp.yaml"), 0);
    ck_assert_str_eq(nl_summary_verdict_name(sweep_run("-30", reason, sizeof reason)), "ok");
    char *last = tu_tmp_read("results/crash/runs/steps-4/summary.json");
    ck_assert_str_eq(first, last);
    free(first);
    free(last);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_crash_reason_text)
{
    char buf[160];
    nl_crash_reason(buf, sizeof buf, SIGFPE, 0);
    ck_assert_str_eq(buf, "crashed: SIGFPE (arithmetic exception) after 0 steps");
    nl_crash_reason(buf, sizeof buf, SIGABRT, 1234567);
    ck_assert_str_eq(buf, "crashed: SIGABRT (aborted) after 1234567 steps");
    /* cut to the buffer, never past it */
    nl_crash_reason(buf, 12, SIGILL, 3);
    ck_assert_str_eq(buf, "crashed: SI");
    ck_assert(nl_crash_signal(SIGSEGV) && nl_crash_signal(SIGILL));
    ck_assert(!nl_crash_signal(SIGKILL) && !nl_crash_signal(SIGTERM) && !nl_crash_signal(SIGINT));
}
END_TEST

int main(void)
{
    /* the crashes made here dump no core */
    const struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    Suite *s = suite_create("crash");
    TCase *c = tcase_create("crash");
    tcase_set_timeout(c, 120);
    tcase_add_test(c, test_crash_reason_text);
    tcase_add_test(c, test_run_segv_recorded);
    tcase_add_test(c, test_run_sigill_recorded);
    tcase_add_test(c, test_parent_records_unhandled_crash);
    tcase_add_test(c, test_sweep_records_and_reruns_a_crash);
    suite_add_tcase(s, c);
    return tu_run_suite(s);
}
