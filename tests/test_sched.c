/* The sweep scheduler as a library (core/sweep/sched.h), driven with a
 * callback that records its events: the sequence for a small experiment
 * with a run that fails at run time, the same sweep resumed (the finished
 * run skipped, the failed one run again, then finished once its data is
 * fixed), what nl_sweep_prepare decides for a changed config with and
 * without force, a sweep directory another sweep holds, and the same
 * sweep with its runs as threads of the sweep's process (run_in_thread). */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "arch/arch.h"
#include "cpu/cpu.h"
#include "log/files.h"
#include "model/model.h"
#include "plan/plan.h"
#include "sweep/sched.h"
#include "train/run.h"
#include "testutil.h"

/* the events of one nl_sweep_execute, as text: "KIND run:detail" per event,
 * TICKs left out (they follow the clock) */
typedef struct {
    nl_buf seq;
    int n_events;
    char fail_detail[1024], fail_log[1300];
} recorder;

static const char *kind_name(nl_sweep_event_kind k)
{
    static const char *const names[] = {"BEGIN", "SKIPPED", "STARTED", "TICK", "FINISHED",
                                        "FAILED", "WAITING", "TAKEN", "INTERRUPTED", "ERROR"};
    return names[k];
}

/* every event's counts are consistent with each other */
static void check_progress(const nl_sweep_progress *p)
{
    ck_assert_int_ge(p->done, 0);
    ck_assert_int_le(p->done + p->running, p->total);
    ck_assert_int_le(p->failed + p->diverged, p->done);
    ck_assert_int_le(p->finished_now, p->to_run);
    ck_assert_int_ge(p->running, 0);
}

/* The scheduler describes its runs; the command line that starts them is
 * cmd/'s to spell (nl_cmd_run_command_line, which test_sweep reaches
 * through the binary). This is the same spelling, for the runs this test
 * starts as processes of NORMLAB_BINARY. */
static void command_line(const nl_sweep_run_desc *run, nl_sweep_command *out)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%d", run->threads);
    const char *words[] = {"normlab", "run", run->config_path, "--out", run->out_dir, "--quiet",
                           "--threads", threads, run->force ? "--force" : NULL};
    ck_assert(run->quiet);
    memset(out, 0, sizeof *out);
    size_t used = 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0] && words[i]; i++) {
        out->argv[out->argc++] = out->text + used;
        used += (size_t)snprintf(out->text + used, sizeof out->text - used, "%s", words[i]) + 1;
    }
}

static void record(void *ctx, const nl_sweep_event *ev)
{
    recorder *r = ctx;
    const nl_sweep_progress *p = &ev->progress;
    check_progress(p);
    r->n_events++;
    if (ev->kind == NL_SWEEP_EV_TICK)
        return;
    nl_buf_printf(&r->seq, "%s", kind_name(ev->kind));
    if (ev->run >= 0)
        nl_buf_printf(&r->seq, " %s", ev->name);
    switch (ev->kind) {
    case NL_SWEEP_EV_BEGIN:
        nl_buf_printf(&r->seq, " total=%d to_run=%d done=%d jobs=%d", p->total, p->to_run, p->done, p->jobs);
        break;
    case NL_SWEEP_EV_SKIPPED:
    case NL_SWEEP_EV_FINISHED:
    case NL_SWEEP_EV_FAILED:
        nl_buf_printf(&r->seq, ":%s done=%d failed=%d", nl_sweep_state_name(ev->result->state), p->done,
                      p->failed);
        break;
    case NL_SWEEP_EV_ERROR:
        nl_buf_printf(&r->seq, ": %s", ev->error->msg);
        break;
    default:
        break;
    }
    if (ev->kind == NL_SWEEP_EV_FAILED) {
        nl_buf_printf(&r->seq, " (%s)", ev->how);
        nl_copy_string(r->fail_detail, sizeof r->fail_detail, ev->detail);
        nl_copy_string(r->fail_log, sizeof r->fail_log, ev->log_path);
    }
    nl_buf_printf(&r->seq, "\n");
}

typedef struct {
    nl_experiment e;
    nl_sweep_plan p;
    char dir[600];
} sweep_fixture;

/* runs of 30 steps on a tiny MLP over IDX files in tu_tmp/idx; the second
 * run's subset reaches a label of 10, which only reading the data finds */
static void load_sweep(sweep_fixture *f, const char *set)
{
    char base[1024], exp[256], path[600];
    snprintf(base, sizeof base,
             "data: {dataset: mnist, path: %s/idx}\nmodel: {arch: mlp, widths: [16]}\n"
             "train: {batch_size: 16, steps: 30, eval_every: 10, log_every: 10}\nthreads: 1\n",
             tu_tmp);
    tu_tmp_write("idx.yaml", base);
    snprintf(exp, sizeof exp, "name: fails\nbase: idx.yaml\n%sgrid:\n  data.train_size: [32, 64]\n", set);
    tu_tmp_write("exp.yaml", exp);
    snprintf(path, sizeof path, "%s/exp.yaml", tu_tmp);
    nl_error err = {0};
    ck_assert_msg(nl_experiment_load(path, &f->e, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_sweep_plan_build(&f->e, &f->p, &err) == NL_OK, "%s", err.msg);
    snprintf(f->dir, sizeof f->dir, "%s/results/fails/", tu_tmp);
}

static void free_sweep(sweep_fixture *f)
{
    nl_sweep_plan_free(&f->p);
    nl_experiment_free(&f->e);
}

/* prepares and executes the sweep one run at a time; returns its events */
static char *execute(sweep_fixture *f, nl_sweep_outcome *out, recorder *r)
{
    nl_sweep_job j;
    nl_error err = {0};
    ck_assert_int_eq(nl_sweep_prepare(&j, &f->e, &f->p, f->dir, (nl_shard){1, 1}, false, false, &err), NL_OK);
    ck_assert_int_eq(j.changed, 0);
    memset(r, 0, sizeof *r);
    const nl_sweep_exec_options opt = {.exe = NORMLAB_BINARY, .command_line = command_line, .jobs = 1, .tick_s = 0.05, .on_event = record,
                                       .ctx = r};
    ck_assert_msg(nl_sweep_execute(&j, &opt, out, &err) == NL_OK, "%s", err.msg);
    ck_assert(j.dir[strlen(j.dir) - 1] != '/'); /* the trailing / is dropped */
    nl_sweep_job_free(&j);
    return r->seq.data;
}

/* a scratch directory with the data whose label 40 is bad, and the sweep */
static void failing_sweep(sweep_fixture *f)
{
    tu_tmp_make("sched");
    tu_tmp_write_idx("idx", 64, 16, 64, 40);
    load_sweep(f, "");
}

START_TEST(test_events_of_a_failing_then_resumed_sweep)
{
    sweep_fixture f;
    failing_sweep(&f);
    nl_sweep_outcome out;
    recorder r;
    char *seq = execute(&f, &out, &r);
    ck_assert_str_eq(seq, "BEGIN total=2 to_run=2 done=0 jobs=1\n"
                          "STARTED train_size-32\n"
                          "FINISHED train_size-32:ok done=1 failed=0\n"
                          "STARTED train_size-64\n"
                          "FAILED train_size-64:failed done=2 failed=1 (exit status 2)\n");
    ck_assert_msg(strstr(r.fail_detail, "label 10 of sample 40"), "%s", r.fail_detail);
    ck_assert_msg(strstr(r.fail_log, "runs/train_size-64/stderr.txt") && nl_path_exists(r.fail_log), "%s",
                  r.fail_log);
    /* the log is headed by the command line the caller spelt for the run */
    char *log = NULL;
    nl_error log_err = {0};
    ck_assert_int_eq(nl_read_file(r.fail_log, &log, NULL, &log_err), NL_OK);
    ck_assert_msg(!strncmp(log, "== ", 3) && strstr(log, "Z normlab run ") &&
                      strstr(log, "/configs/train_size-64.yaml --out ") &&
                      strstr(log, "/runs/train_size-64 --quiet --threads "),
                  "%s", log);
    free(log);
    ck_assert_int_eq(out.counts.n[NL_SWEEP_OK], 1);
    ck_assert_int_eq(out.counts.n[NL_SWEEP_FAILED], 1);
    ck_assert_int_eq(out.shard_failed, 1);
    ck_assert_int_eq(out.shard_pending, 0);
    ck_assert(!out.stopping && !out.start_failed);
    free(seq);
    char *summary = tu_tmp_read("results/fails/summary.csv");
    ck_assert_msg(strstr(summary, "\ntrain_size-32,32,ok,") && strstr(summary, "\ntrain_size-64,64,failed,"),
                  "%s", summary);
    free(summary);

    /* resumed: the finished run is skipped, the failed one runs again */
    seq = execute(&f, &out, &r);
    ck_assert_str_eq(seq, "SKIPPED train_size-32:ok done=1 failed=0\n"
                          "BEGIN total=2 to_run=1 done=1 jobs=1\n"
                          "STARTED train_size-64\n"
                          "FAILED train_size-64:failed done=2 failed=1 (exit status 2)\n");
    free(seq);

    /* the data fixed: resumed again, the sweep finishes */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -r '%s/idx'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    tu_tmp_write_idx("idx", 64, 16, 64, -1);
    seq = execute(&f, &out, &r);
    ck_assert_str_eq(seq, "SKIPPED train_size-32:ok done=1 failed=0\n"
                          "BEGIN total=2 to_run=1 done=1 jobs=1\n"
                          "STARTED train_size-64\n"
                          "FINISHED train_size-64:ok done=2 failed=0\n");
    ck_assert_int_eq(out.counts.n[NL_SWEEP_OK], 2);
    ck_assert_int_eq(out.shard_failed + out.shard_pending, 0);
    free(seq);
    free_sweep(&f);
    tu_tmp_remove();
}
END_TEST

/* a finished run whose saved config differs: refused (CHANGED) without
 * force, run again (FORCE) with it; the merge counts what is there */
START_TEST(test_prepare_changed_config_and_merge)
{
    sweep_fixture f;
    failing_sweep(&f);
    nl_sweep_outcome out;
    recorder r;
    free(execute(&f, &out, &r));
    free_sweep(&f);

    load_sweep(&f, "set: {train.steps: 20}\n");
    nl_sweep_job j;
    nl_error err = {0};
    ck_assert_int_eq(nl_sweep_prepare(&j, &f.e, &f.p, f.dir, (nl_shard){1, 1}, false, false, &err), NL_OK);
    ck_assert_int_eq(j.changed, 1);
    ck_assert_int_eq(j.action[0], NL_SWEEP_CHANGED);
    ck_assert_msg(strstr(j.why[0], "train.steps: 30 -> 20"), "%s", j.why[0]);
    ck_assert_int_eq(j.action[1], NL_SWEEP_RERUN);
    nl_sweep_counts counts;
    ck_assert_int_eq(nl_sweep_merge(&j, &counts, &err), NL_OK);
    ck_assert_int_eq(counts.n[NL_SWEEP_OK], 1);
    /* the failed run stopped before it wrote a summary.json: from its
     * directory alone it is pending */
    ck_assert_int_eq(counts.n[NL_SWEEP_PENDING], 1);
    nl_sweep_job_free(&j);
    ck_assert_int_eq(nl_sweep_prepare(&j, &f.e, &f.p, f.dir, (nl_shard){1, 1}, false, true, &err), NL_OK);
    ck_assert_int_eq(j.changed, 0);
    ck_assert_int_eq(j.action[0], NL_SWEEP_FORCE);
    nl_sweep_job_free(&j);
    /* the second shard of two holds only the second run */
    ck_assert_int_eq(nl_sweep_prepare(&j, &f.e, &f.p, f.dir, (nl_shard){2, 2}, false, true, &err), NL_OK);
    ck_assert_int_eq(j.total, 1);
    ck_assert_int_eq(j.action[1], NL_SWEEP_RERUN);
    nl_sweep_job_free(&j);
    free_sweep(&f);
    tu_tmp_remove();
}
END_TEST

/* another sweep holds the directory: an error before anything runs, no
 * event; a --merge of a directory that does not exist is a usage error */
START_TEST(test_held_directory)
{
    tu_tmp_make("sched");
    tu_tmp_write_idx("idx", 64, 16, 64, -1);
    sweep_fixture f;
    load_sweep(&f, "");
    char lock_path[1100];
    nl_error err = {0};
    nl_sweep_job j;
    ck_assert_int_eq(nl_sweep_prepare(&j, &f.e, &f.p, f.dir, (nl_shard){1, 1}, false, false, &err), NL_OK);
    nl_sweep_counts counts;
    ck_assert_int_eq(nl_sweep_merge(&j, &counts, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "does not exist"), "%s", err.msg);
    nl_error_clear(&err);
    ck_assert_int_eq(nl_make_dirs(j.dir, &err), NL_OK);
    snprintf(lock_path, sizeof lock_path, "%s/.lock", j.dir);
    const int held = open(lock_path, O_RDWR | O_CREAT, 0666);
    ck_assert_int_eq(flock(held, LOCK_SH), 0);
    recorder r;
    memset(&r, 0, sizeof r);
    nl_sweep_outcome out;
    const nl_sweep_exec_options opt = {.exe = NORMLAB_BINARY, .command_line = command_line, .jobs = 2, .on_event = record, .ctx = &r};
    ck_assert_int_eq(nl_sweep_execute(&j, &opt, &out, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "another normlab sweep is running"), "%s", err.msg);
    ck_assert_int_eq(r.n_events, 0);
    nl_sweep_job_free(&j);
    close(held);
    free_sweep(&f);
    tu_tmp_remove();
}
END_TEST

/* ---- runs as threads ---- */

/* What `normlab run CONFIG --out DIR ...` does, in the calling thread:
 * argv is the command a run's process gets; the error goes to the log as
 * the command prints it. `wait_for_stop`: before training, wait (at most
 * 20 s) until the sweep asks the run to stop. */
typedef struct {
    bool wait_for_stop;
    atomic_int calls;
} thread_runner;

static int run_as_thread(void *ctx, const nl_sweep_run_desc *run, int log_fd, atomic_int *stop)
{
    thread_runner *tr = ctx;
    atomic_fetch_add(&tr->calls, 1);
    /* the run as the sweep planned it: its config written, its directory made */
    ck_assert_msg(nl_path_exists(run->config_path), "%s", run->config_path);
    ck_assert_msg(strstr(run->out_dir, "/runs/train_size-") && nl_is_dir(run->out_dir), "%s", run->out_dir);
    ck_assert(run->threads >= 1 && run->quiet && !run->force);
    if (tr->wait_for_stop) {
        for (int i = 0; i < 2000 && !*stop; i++)
            usleep(10000);
        dprintf(log_fd, "asked to stop: %d\n", (int)*stop);
        return *stop ? 1 : 3;
    }
    nl_config *cfg = calloc(1, sizeof *cfg);
    nl_error err = {0};
    nl_run_outcome out;
    /* the team the sweep planned, which the process side gets as --threads:
     * the two sides compared bit for bit run the same team on any host */
    const nl_run_options opt = {.out_dir = run->out_dir, .threads = run->threads, .device = -1,
                                .stop = stop};
    nl_code rc = nl_config_load(run->config_path, NULL, 0, cfg, &err);
    if (rc == NL_OK)
        rc = nl_run(cfg, &opt, &out, &err);
    free(cfg);
    if (rc != NL_OK) {
        dprintf(log_fd, "normlab run: %s\n", err.msg);
        return nl_code_exit_status(rc);
    }
    return out.result.status == NL_RUN_FAILED ? 1 : 0;
}

/* nl_sweep_execute with both runs at once, as processes or threads */
static nl_sweep_outcome execute_two(sweep_fixture *f, const char *dir, nl_sweep_thread_fn fn, void *fn_ctx,
                                    recorder *r)
{
    nl_sweep_job j;
    nl_error err = {0};
    ck_assert_int_eq(nl_sweep_prepare(&j, &f->e, &f->p, dir, (nl_shard){1, 1}, false, false, &err), NL_OK);
    memset(r, 0, sizeof *r);
    const nl_sweep_exec_options opt = {.exe = NORMLAB_BINARY, .command_line = command_line, .jobs = 2, .tick_s = 0.05,
                                       .run_in_thread = fn, .thread_ctx = fn_ctx, .on_event = record, .ctx = r};
    nl_sweep_outcome out;
    ck_assert_msg(nl_sweep_execute(&j, &opt, &out, &err) == NL_OK, "%s", err.msg);
    nl_sweep_job_free(&j);
    return out;
}

/* Both runs at once as threads of this process: the run that trains gives
 * the rows it gives as a process of its own, bit for bit, the one whose
 * data is bad fails with the exit status and the message its process would
 * have. */
static void threads_match_processes(void)
{
    sweep_fixture f;
    failing_sweep(&f);
    recorder r;
    char dir[700];
    snprintf(dir, sizeof dir, "%s/results/procs", tu_tmp);
    nl_sweep_outcome out = execute_two(&f, dir, NULL, NULL, &r);
    ck_assert_int_eq(out.counts.n[NL_SWEEP_OK], 1);
    free(r.seq.data);
    thread_runner tr = {false, 0};
    snprintf(dir, sizeof dir, "%s/results/threads", tu_tmp);
    nl_plan_graphs_release();
    const int plans = nl_model_plans_assembled(), allocations = nl_model_allocations(),
              recipes = nl_model_recipes_run();
    out = execute_two(&f, dir, run_as_thread, &tr, &r);
    /* the two runs are one model (only the data differ): the one that
     * trains takes the planned graph and allocates it, its model then, so
     * the other run's check plans its own when it comes after (the threads
     * decide the order); every recipe run is a plan's, at most one for each
     * run, and one allocation for the one that trains */
    const int planned = nl_model_plans_assembled() - plans;
    ck_assert_msg(planned == 1 || planned == 2, "%d plans for two runs", planned);
    ck_assert_int_eq(nl_model_allocations() - allocations, 1);
    ck_assert_int_eq(nl_model_recipes_run() - recipes, planned);
    ck_assert_msg(strstr(r.seq.data, "FINISHED train_size-32:ok") &&
                      strstr(r.seq.data, "FAILED train_size-64:failed") &&
                      strstr(r.seq.data, "(exit status 2)"),
                  "%s", r.seq.data);
    ck_assert_msg(strstr(r.fail_detail, "label 10 of sample 40"), "%s", r.fail_detail);
    ck_assert_int_eq(atomic_load(&tr.calls), 2);
    ck_assert_int_eq(out.counts.n[NL_SWEEP_OK], 1);
    ck_assert_int_eq(out.counts.n[NL_SWEEP_FAILED], 1);
    ck_assert(!out.stopping && !out.start_failed);
    free(r.seq.data);
    char *by_process = tu_metrics_without_time("results/procs/runs/train_size-32");
    char *by_thread = tu_metrics_without_time("results/threads/runs/train_size-32");
    ck_assert_int_gt((int)strlen(by_process), 100);
    ck_assert_str_eq(by_thread, by_process);
    free(by_process);
    free(by_thread);
    free_sweep(&f);
    tu_tmp_remove();
}

START_TEST(test_runs_as_threads)
{
    threads_match_processes();
}
END_TEST

/* The same with a kernel set whose OpenBLAS core is not the one OpenBLAS
 * chose when it loaded into this binary. A normlab process loads OpenBLAS
 * with the set's core (cmd/main.c); this binary did not, and on an Emerald
 * Rapids Xeon its threads' products were Prescott's against the process's
 * SkylakeX, 2.87841524 against 2.87841515 at step 0 (issue 82). An x86-64
 * CPU OpenBLAS knows has such a set (x86-64's Prescott at least): the
 * run's backend must pin its core in this process (cpu/host.c). */
START_TEST(test_threads_pin_the_sets_openblas_core)
{
    /* a core the user names wins in the process and in the thread alike */
    if (getenv("OPENBLAS_CORETYPE")) {
        printf("OPENBLAS_CORETYPE=%s is the core of both: no core to pin\n", getenv("OPENBLAS_CORETYPE"));
        return;
    }
    const char *loaded = nl_cpu_openblas_core();
    int set = -1;
    for (int i = nl_cpu_kernel_set_count() - 1; i >= 0 && set < 0; i--)
        if (nl_cpu_kernel_set_runs_here(i) && nl_cpu_kernel_set_openblas_core(i) &&
            strcasecmp(nl_cpu_kernel_set_openblas_core(i), loaded) != 0)
            set = i;
    /* none: off x86-64 (no set pins a core), or a portable build on a CPU
     * OpenBLAS runs as Prescott */
    if (set < 0) {
        printf("no kernel set this CPU runs pins an OpenBLAS core other than %s, the one loaded\n", loaded);
        return;
    }
    const char *name = nl_cpu_kernel_set_name(set), *pin = nl_cpu_kernel_set_openblas_core(set);
    /* for this binary's runs and the normlab processes alike */
    ck_assert_int_eq(setenv("NORMLAB_CPU_KERNELS", name, 1), 0);
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_kernels_choose(NULL, &err), NL_OK);
    threads_match_processes();
    ck_assert_msg(!strcasecmp(nl_cpu_openblas_core(), pin), "kernel set %s pins %s; OpenBLAS runs %s", name, pin,
                  nl_cpu_openblas_core());
    printf("kernel set %s: OpenBLAS loaded as %s, its runs' threads pinned to %s\n", name, loaded, pin);
}
END_TEST

static void interrupt_at_start(void *ctx, const nl_sweep_event *ev)
{
    record(ctx, ev);
    if (ev->kind == NL_SWEEP_EV_STARTED && ev->progress.running == 2)
        kill(getpid(), SIGINT);
}

/* Ctrl-C reaches the sweep, not its runs' threads; the sweep sets each
 * running run's stop flag, and a stopped run is a failed one */
START_TEST(test_threads_stopped)
{
    tu_tmp_make("sched");
    tu_tmp_write_idx("idx", 64, 16, 64, -1);
    sweep_fixture f;
    load_sweep(&f, "");
    nl_sweep_job j;
    nl_error err = {0};
    ck_assert_int_eq(nl_sweep_prepare(&j, &f.e, &f.p, f.dir, (nl_shard){1, 1}, false, false, &err), NL_OK);
    recorder r;
    memset(&r, 0, sizeof r);
    thread_runner tr = {true, 0};
    const nl_sweep_exec_options opt = {.exe = NORMLAB_BINARY, .command_line = command_line, .jobs = 2, .tick_s = 0.05,
                                       .run_in_thread = run_as_thread, .thread_ctx = &tr,
                                       .on_event = interrupt_at_start, .ctx = &r};
    nl_sweep_outcome out;
    ck_assert_msg(nl_sweep_execute(&j, &opt, &out, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(out.stopping, 1);
    ck_assert_msg(strstr(r.seq.data, "INTERRUPTED\n") && strstr(r.seq.data, "(exit status 1)"), "%s",
                  r.seq.data);
    ck_assert_msg(strstr(r.fail_detail, "asked to stop: 1"), "%s", r.fail_detail);
    ck_assert_int_eq(out.shard_failed + out.shard_pending, 2);
    free(r.seq.data);
    nl_sweep_job_free(&j);
    free_sweep(&f);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sched");
    TCase *c = tcase_create("sched");
    tcase_set_timeout(c, 120);
    tcase_add_test(c, test_events_of_a_failing_then_resumed_sweep);
    tcase_add_test(c, test_prepare_changed_config_and_merge);
    tcase_add_test(c, test_held_directory);
    tcase_add_test(c, test_runs_as_threads);
    tcase_add_test(c, test_threads_pin_the_sets_openblas_core);
    tcase_add_test(c, test_threads_stopped);
    suite_add_tcase(s, c);
    return tu_run_suite(s);
}
