/* The sweep scheduler (sched.h): what to do with each run, the sweep
 * directory's locks, and the loop that starts the runs (processes, or
 * threads of this one), reaps them and reads their results. */
#define _GNU_SOURCE /* sched_getaffinity: the cores this process may use */
#include "sweep/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "results/crash.h"
#include "results/files.h"
#include "results/rundir.h"
#include "sweep/worklock.h"
#include "log/files.h"
#include "proc/proc.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int nl_sweep_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void nl_sweep_run_dir(const nl_sweep_job *j, int run, char *out, size_t size)
{
    snprintf(out, size, "%s/" NL_SWEEP_RUNS_DIR "/%s", j->dir, j->p->runs[run].dir);
}

/* ---- what to do with each run ---- */

static nl_sweep_action classify(nl_sweep_job *j, int run, const char *run_dir, bool force)
{
    const nl_sweep_state st = j->results[run].state;
    char saved[1300], checkpoint[1300], *why = j->why[run];
    snprintf(saved, sizeof saved, "%s/" NL_RUN_CONFIG_FILE, run_dir);
    snprintf(checkpoint, sizeof checkpoint, "%s/%s", run_dir, NL_CHECKPOINT_FILE);
    /* an unfinished run's checkpoint resumes only the config it was written
     * for (normlab run refuses another, naming the keys): --force starts
     * such a run over */
    if (st != NL_SWEEP_OK && st != NL_SWEEP_DIVERGED)
        return !nl_path_exists(run_dir) ? NL_SWEEP_RUN
             : force && nl_path_exists(checkpoint) &&
                       nl_sweep_config_diff(saved, j->p->runs[run].config_text, why, sizeof j->why[run]) != 0
                 ? NL_SWEEP_FORCE
                 : NL_SWEEP_RERUN;
    const int diff = nl_sweep_config_diff(saved, j->p->runs[run].config_text, why, sizeof j->why[run]);
    if (diff == 0)
        return NL_SWEEP_SKIP;
    if (diff < 0) {
        char reason[512];
        snprintf(reason, sizeof reason, "its config.yaml cannot be read: %s", why);
        snprintf(why, sizeof j->why[run], "%s", reason);
    }
    return force ? NL_SWEEP_FORCE : NL_SWEEP_CHANGED;
}

nl_code nl_sweep_prepare(nl_sweep_job *j, const nl_experiment *e, const nl_sweep_plan *p,
                         const char *dir, nl_shard shard, bool worker, bool force, nl_error *err)
{
    *j = (nl_sweep_job){.e = e, .p = p, .shard = shard, .worker = worker, .lock_fd = -1, .shard_lock_fd = -1};
    if (strlen(dir) >= sizeof j->dir)
        return nl_fail(err, NL_ERR_USAGE, "%.80s...: a sweep directory's path of %zu bytes; at most "
                       "%zu; nothing was written", dir, strlen(dir), sizeof j->dir - 1);
    /* a link anywhere in the tree (a committed lock, marker, config or run
     * directory) is refused before anything in it is read or written */
    nl_code tree = nl_tree_refuse_links(dir, err);
    if (tree)
        return tree;
    nl_copy_string(j->dir, sizeof j->dir, dir);
    size_t dir_len = strlen(j->dir);
    while (dir_len > 1 && j->dir[dir_len - 1] == '/')
        j->dir[--dir_len] = '\0';
    const size_t n = p->n_runs > 0 ? (size_t)p->n_runs : 1;
    j->results = calloc(n, sizeof *j->results);
    j->action = calloc(n, sizeof *j->action);
    j->why = calloc(n, sizeof *j->why);
    j->seen = calloc(n, sizeof *j->seen);
    if (!j->results || !j->action || !j->why || !j->seen) {
        nl_sweep_job_free(j);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < p->n_runs; i++) {
        char run_dir[1200];
        nl_sweep_run_dir(j, i, run_dir, sizeof run_dir);
        nl_code rc = nl_run_dir_check_files(run_dir, err);
        if (rc) {
            nl_sweep_job_free(j);
            return rc;
        }
        if (worker)
            j->seen[i] = nl_worklock_generation(run_dir);
        nl_sweep_read_result(run_dir, &j->results[i]);
        if (!nl_shard_has(shard, i))
            continue;
        j->total++;
        j->action[i] = classify(j, i, run_dir, force);
        if (j->action[i] == NL_SWEEP_SKIP) {
            j->finished_before++;
            j->diverged_before += j->results[i].state == NL_SWEEP_DIVERGED;
        }
        j->changed += j->action[i] == NL_SWEEP_CHANGED;
    }
    return NL_OK;
}

void nl_sweep_job_free(nl_sweep_job *j)
{
    free(j->results);
    free(j->pause_at);
    free(j->action);
    free(j->why);
    free(j->seen);
    if (j->lock_fd >= 0)
        close(j->lock_fd);
    if (j->shard_lock_fd >= 0)
        close(j->shard_lock_fd);
    j->results = NULL;
    j->action = NULL;
    j->why = NULL;
    j->seen = NULL;
    j->lock_fd = j->shard_lock_fd = -1;
}

void nl_sweep_clean_temps(const nl_sweep_job *j, bool runs_of_all)
{
    char sub[1200];
    nl_sweep_remove_stale_temps(j->dir);
    for (int i = 0; i < j->p->n_runs; i++) {
        if (!nl_shard_has(j->shard, i) && !runs_of_all)
            continue;
        nl_sweep_run_dir(j, i, sub, sizeof sub);
        nl_run_writer w;
        if (!nl_run_dir_busy(sub, &w))
            nl_sweep_remove_stale_temps(sub);
    }
    snprintf(sub, sizeof sub, "%s/" NL_SWEEP_CONFIGS_DIR, j->dir);
    nl_sweep_remove_stale_temps(sub);
}

static void count_states(const nl_sweep_job *j, nl_sweep_counts *counts)
{
    *counts = (nl_sweep_counts){{0}};
    for (int i = 0; i < j->p->n_runs; i++)
        counts->n[j->results[i].state]++;
}

nl_code nl_sweep_merge(nl_sweep_job *j, nl_sweep_counts *counts, nl_error *err)
{
    if (!nl_is_dir(j->dir))
        return nl_fail(err, NL_ERR_USAGE, "--merge: %s does not exist; nothing to merge", j->dir);
    count_states(j, counts);
    return nl_sweep_write_summary(j->e, j->p, j->results, j->dir, err);
}

/* ---- the running sweep ---- */

typedef struct thread_run thread_run;

typedef struct {
    nl_proc proc;       /* the run's process; pid 0 when it is a thread */
    thread_run *thread; /* the run's thread (run_in_thread); NULL for a process */
    int run;
    double started;
    nl_worklock hold; /* --claim: the run's work lock, held until its process has ended */
} child_proc;

typedef struct {
    nl_sweep_job *j;
    const nl_sweep_exec_options *opt;
    int threads;
    nl_sweep_progress pr;
    double t0, wall_sum;           /* wall_sum: of the runs finished in this sweep */
    int *queue, n_queue, next;     /* the runs to do, in order; next: the first not taken */
    int *waiting, n_waiting;       /* runs another process is writing */
    int *held, n_held;             /* --claim: runs another worker holds */
    double held_polled;
    child_proc *children;
    int n_children;
    bool start_failed;
    sigset_t wait_set, orig_mask;
    struct sigaction orig_chld;
    pthread_t loop_thread; /* the thread in sigtimedwait: a run's thread wakes it when it ends */
} sched;

static void update_progress(sched *s)
{
    nl_sweep_progress *pr = &s->pr;
    pr->elapsed_s = now() - s->t0;
    const int left = pr->to_run - pr->finished_now;
    pr->eta_s = NAN;
    if (pr->finished_now > 0 && left > 0) {
        const int parallel = left < pr->jobs ? left : pr->jobs;
        pr->eta_s = s->wall_sum / pr->finished_now * left / parallel;
    } else if (left == 0) {
        pr->eta_s = 0;
    }
}

/* tells the caller: `ev` with the run's name and the counts as they are now */
static void emit(sched *s, nl_sweep_event ev)
{
    if (ev.run >= 0)
        ev.name = s->j->p->runs[ev.run].dir;
    update_progress(s);
    ev.progress = s->pr;
    s->opt->on_event(s->opt->ctx, &ev);
}

static void emit_error(sched *s, const nl_error *err)
{
    emit(s, (nl_sweep_event){.kind = NL_SWEEP_EV_ERROR, .run = -1, .error = err});
}

/* the source of truth changed: summary.csv follows */
static void rewrite_summary(sched *s)
{
    nl_error err = {0};
    if (nl_sweep_write_summary(s->j->e, s->j->p, s->j->results, s->j->dir, &err) != NL_OK)
        emit_error(s, &err);
}

/* the last lines the run printed in its latest attempt (after the last
 * "== " line the sweep wrote before starting it) */
static void stderr_tail(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    char *text = NULL;
    nl_error err = {0};
    if (nl_read_file(path, &text, NULL, &err) != NL_OK)
        return;
    char *start = text, *mark;
    while ((mark = strstr(start, "\n== ")) != NULL)
        start = mark + 1;
    if (!strncmp(start, "== ", 3)) {
        char *nl = strchr(start, '\n');
        start = nl ? nl + 1 : start + strlen(start);
    }
    size_t len = strlen(start);
    while (len && (start[len - 1] == '\n' || start[len - 1] == ' '))
        start[--len] = '\0';
    const char *p = start + len;
    int lines = 0;
    while (p > start && lines < 3) {
        p--;
        if (*p == '\n' && ++lines == 3) {
            p++;
            break;
        }
    }
    snprintf(out, size, "%s", p);
    free(text);
}

/* ---- a run's process ---- */

/* a run as handed to cmd/, and its command line as cmd/ spells it */
typedef struct {
    nl_sweep_run_desc run;
    nl_sweep_command line;
} run_command;

static void command_of(sched *s, int run, run_command *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->run.config_path, sizeof c->run.config_path, "%s/" NL_SWEEP_CONFIGS_DIR "/%s.yaml", s->j->dir,
             s->j->p->runs[run].dir);
    nl_sweep_run_dir(s->j, run, c->run.out_dir, sizeof c->run.out_dir);
    c->run.threads = s->threads;
    c->run.force = s->j->action[run] == NL_SWEEP_FORCE;
    c->run.pause_at = s->j->pause_at ? s->j->pause_at[run] : 0;
    c->run.pause_in_epochs = s->j->pause_in_epochs;
    c->run.quiet = true;
    s->opt->command_line(&c->run, &c->line);
}

/* the run's stderr.txt, opened for appending, headed by a line with the
 * time and the command (a run's attempts follow each other in it) */
static int open_run_log(const run_command *c, nl_error *err)
{
    char log_path[1300], stamp[32];
    snprintf(log_path, sizeof log_path, "%s/" NL_RUN_LOG_FILE, c->run.out_dir);
    int log;
    if (nl_open_write(log_path, O_WRONLY | O_CREAT | O_APPEND, &log, err))
        return -1;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    dprintf(log, "== %s normlab", stamp);
    for (int i = 1; i < c->line.argc; i++)
        dprintf(log, " %s", c->line.argv[i]);
    dprintf(log, "\n");
    return log;
}

/* writes the run's config, marks its directory as normlab's (before
 * stderr.txt goes in, so that the run takes it) and starts the run. The
 * death signal follows the thread that started it: the sweep's thread,
 * which lives as long as the sweep. The run gets the signal mask the
 * sweep's caller had. */
static nl_code start_child(sched *s, int run, nl_proc *proc, nl_error *err)
{
    run_command c;
    command_of(s, run, &c);
    const char *text = s->j->p->runs[run].config_text;
    nl_code rc = nl_write_atomic(c.run.config_path, text, strlen(text), err);
    if (rc || (rc = nl_run_dir_make(c.run.out_dir, err)))
        return rc;
    const int log = open_run_log(&c, err);
    if (log < 0)
        return err->code;
    const nl_proc_spec spec = {.argv = (const char *const *)c.line.argv, .path = s->opt->exe,
                               .out = {NL_PROC_FD, log}, .err = {NL_PROC_FD, log},
                               .die_with_parent = true, .mask = &s->orig_mask};
    rc = nl_proc_start(&spec, proc, err);
    if (rc)
        nl_error_prefix(err, "cannot start run %s: ", s->j->p->runs[run].dir);
    close(log);
    return rc;
}

/* ---- a run's thread ---- */

struct thread_run {
    run_command command;
    int log;
    atomic_int stop;
    atomic_int done;
    int exit_status;
    pthread_t id;
    sched *s;
};

static void *run_thread_main(void *arg)
{
    thread_run *t = arg;
    t->exit_status = t->s->opt->run_in_thread(t->s->opt->thread_ctx, &t->command.run, t->log,
                                              &t->stop);
    close(t->log);
    atomic_store(&t->done, 1);
    /* SIGCHLD is blocked in every thread of the sweep: this one stays
     * pending for the loop's sigtimedwait, as a child process's would */
    pthread_kill(t->s->loop_thread, SIGCHLD);
    return NULL;
}

/* As start_child, with the run as a thread of this process. Its signal
 * mask is the loop's (SIGINT, SIGTERM and SIGCHLD blocked), so that the
 * sweep alone takes them; a run is asked to stop through its flag.
 * A run directory's writer lock is a POSIX record lock, which belongs to
 * the process and which closing any descriptor of the file drops: the loop
 * never looks at a running thread's marker (run_dir_busy is asked before a
 * run starts, after it ended, and of other processes' runs), and never
 * starts a run twice. */
static thread_run *start_thread(sched *s, int run, nl_error *err)
{
    thread_run *t = calloc(1, sizeof *t);
    if (!t) {
        nl_fail(err, NL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->s = s;
    command_of(s, run, &t->command);
    const char *text = s->j->p->runs[run].config_text;
    if (nl_write_atomic(t->command.run.config_path, text, strlen(text), err) ||
        nl_run_dir_make(t->command.run.out_dir, err) || (t->log = open_run_log(&t->command, err)) < 0) {
        free(t);
        return NULL;
    }
    pthread_attr_t attr;
    int e = pthread_attr_init(&attr);
    /* a run's frames hold paths and error texts of a few KiB each; the
     * size is reserved address space, touched only as far as used */
    if (!e)
        e = pthread_attr_setstacksize(&attr, (size_t)32 << 20);
    if (!e) {
        e = pthread_create(&t->id, &attr, run_thread_main, t);
        pthread_attr_destroy(&attr);
    }
    if (e) {
        nl_fail(err, NL_ERR_RUNTIME, "cannot start a run: pthread_create: %s", strerror(e));
        close(t->log);
        free(t);
        return NULL;
    }
    return t;
}

/* ---- results ---- */

/* what a run's end means: the summary it left, or how its process ended */
static void finish_run(sched *s, const child_proc *c, const nl_proc_end *end)
{
    char run_dir[1200], log_path[1300], how[64], tail[1024] = "";
    nl_sweep_run_dir(s->j, c->run, run_dir, sizeof run_dir);
    nl_sweep_result *r = &s->j->results[c->run];
    nl_error crash_err = {0};
    /* a run that died of a fatal signal and could not say so itself (its
     * handler found no stack, say) is recorded as crashed here, from
     * waitpid, so its summary does not say running for good (results/crash.h) */
    if (end->ended && !end->exited && nl_crash_signal(end->signal) &&
        nl_summary_record_crash(run_dir, end->signal, &crash_err) != NL_OK)
        emit_error(s, &crash_err);
    nl_sweep_read_result(run_dir, r);
    const double took = now() - c->started;
    s->pr.running--;
    s->pr.done++;
    s->pr.finished_now++;
    s->wall_sum += took;
    nl_sweep_event ev = {.kind = NL_SWEEP_EV_FINISHED, .run = c->run, .result = r, .took_s = took};
    if (r->state == NL_SWEEP_PENDING || r->state == NL_SWEEP_FAILED ||
        !(end->exited && (end->code == 0 || end->code == 1))) {
        /* failed, or ended without a final summary (killed, crashed, bad
         * config): failed for this sweep; the next one runs it again */
        nl_proc_describe(end, how, sizeof how);
        if (r->state != NL_SWEEP_FAILED) {
            r->state = NL_SWEEP_FAILED;
            snprintf(r->reason, sizeof r->reason, "%s", how);
        }
        snprintf(log_path, sizeof log_path, "%s/" NL_RUN_LOG_FILE, run_dir);
        stderr_tail(log_path, tail, sizeof tail);
        s->pr.failed++;
        ev.kind = NL_SWEEP_EV_FAILED;
        ev.how = how;
        ev.detail = tail;
        ev.log_path = log_path;
    }
    s->pr.diverged += r->state == NL_SWEEP_DIVERGED;
    emit(s, ev);
}

/* true when another process holds run `run`'s directory; `how` (when not
 * NULL) is told in a WAITING event naming the holder: the sweep then waits
 * for it */
static bool run_dir_busy(sched *s, int run, const char *how)
{
    char run_dir[1200];
    nl_sweep_run_dir(s->j, run, run_dir, sizeof run_dir);
    nl_run_writer w;
    if (!nl_run_dir_busy(run_dir, &w))
        return false;
    if (how)
        emit(s, (nl_sweep_event){.kind = NL_SWEEP_EV_WAITING, .run = run, .how = how,
                                 .writer_pid = w.pid, .writer_host = w.host});
    return true;
}

/* After another process let go of a run's directory: true when it left a
 * finished run (taken as this sweep's result if its config is the
 * experiment's), false when the run is still to do. */
static bool take_result(sched *s, int run)
{
    char run_dir[1200], saved[1300], why[512] = "";
    nl_sweep_run_dir(s->j, run, run_dir, sizeof run_dir);
    nl_sweep_result *r = &s->j->results[run];
    nl_sweep_read_result(run_dir, r);
    if (r->state != NL_SWEEP_OK && r->state != NL_SWEEP_DIVERGED)
        return false;
    snprintf(saved, sizeof saved, "%s/" NL_RUN_CONFIG_FILE, run_dir);
    s->pr.done++;
    s->pr.finished_now++;
    if (nl_sweep_config_diff(saved, s->j->p->runs[run].config_text, why, sizeof why) != 0) {
        r->state = NL_SWEEP_FAILED;
        snprintf(r->reason, sizeof r->reason, "another process finished it with another config");
        s->pr.failed++;
    }
    s->pr.diverged += r->state == NL_SWEEP_DIVERGED;
    emit(s, (nl_sweep_event){.kind = NL_SWEEP_EV_TAKEN, .run = run, .result = r, .detail = why});
    return true;
}

/* under a run's work lock: whether its directory holds a finished run of
 * the experiment's config */
static bool held_run_finished(const char *run_dir, void *ctx)
{
    const nl_sweep_run *run = ctx;
    return nl_sweep_finished_as(run_dir, run->config_text);
}

static nl_code hold_run(sched *s, int run, nl_worklock *hold, nl_worklock_outcome *got, nl_error *err)
{
    char run_dir[1200];
    nl_sweep_run_dir(s->j, run, run_dir, sizeof run_dir);
    nl_code rc = nl_run_dir_make(run_dir, err);
    if (rc)
        return rc;
    return nl_worklock_try(run_dir, s->j->seen[run], held_run_finished, &s->j->p->runs[run],
                           s->j->action[run] == NL_SWEEP_FORCE, hold, got, err);
}

/* a run another worker finished since this one started: its result, a
 * failure included (it is not run twice in one go) */
static void take_finished_elsewhere(sched *s, int run)
{
    if (take_result(s, run))
        return;
    s->pr.done++;
    s->pr.finished_now++;
    s->pr.failed++;
    s->j->results[run].state = NL_SWEEP_FAILED;
    emit(s, (nl_sweep_event){.kind = NL_SWEEP_EV_TAKEN, .run = run, .result = &s->j->results[run]});
}

/* ---- the loop ---- */

/* runs other workers hold: tried again now and then (their worker may
 * finish them, or die and leave them to be done again) */
static void requeue_held(sched *s)
{
    if (s->n_held == 0 || s->pr.stopping || now() - s->held_polled < 0.5)
        return;
    while (s->n_held > 0)
        s->queue[--s->next] = s->held[--s->n_held];
    s->held_polled = now();
}

/* a run whose other writer let go: its result, or back to the queue's front */
static void poll_waiting(sched *s)
{
    for (int w = 0; w < s->n_waiting && !s->pr.stopping;) {
        const int run = s->waiting[w];
        if (run_dir_busy(s, run, NULL)) {
            w++;
            continue;
        }
        s->waiting[w] = s->waiting[--s->n_waiting];
        if (take_result(s, run))
            rewrite_summary(s);
        else
            s->queue[--s->next] = run; /* `next` has passed it: that slot is free */
    }
}

/* a Ctrl-C already waiting: no new run (it would miss the terminal's signal) */
static bool stop_signal_pending(void)
{
    sigset_t pending;
    return sigpending(&pending) == 0 && (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM));
}

/* Takes the next run of the queue and starts it, unless its work lock or
 * another writer says otherwise. */
static void launch_next(sched *s)
{
    const int run = s->queue[s->next++];
    nl_worklock hold = {-1, 0};
    nl_error err = {0};
    if (s->j->worker) {
        nl_worklock_outcome got;
        if (hold_run(s, run, &hold, &got, &err) != NL_OK) {
            emit_error(s, &err);
            s->start_failed = true;
            return;
        }
        if (got == NL_WORKLOCK_HELD) {
            s->held[s->n_held++] = run;
            return;
        }
        if (got == NL_WORKLOCK_FINISHED) {
            take_finished_elsewhere(s, run);
            return;
        }
    }
    if (run_dir_busy(s, run, "is being written by another process")) {
        nl_worklock_release(&hold, false);
        s->waiting[s->n_waiting++] = run;
        return;
    }
    thread_run *thread = NULL;
    nl_proc proc = {0};
    const bool started = s->opt->run_in_thread ? (thread = start_thread(s, run, &err)) != NULL
                                               : start_child(s, run, &proc, &err) == NL_OK;
    if (!started) {
        nl_worklock_release(&hold, false);
        emit_error(s, &err);
        s->start_failed = true;
        return;
    }
    s->children[s->n_children++] = (child_proc){proc, thread, run, now(), hold};
    s->pr.running++;
    emit(s, (nl_sweep_event){.kind = NL_SWEEP_EV_STARTED, .run = run});
}

static void launch_runs(sched *s)
{
    while (!s->pr.stopping && !s->start_failed && s->n_children + s->n_waiting < s->pr.jobs &&
           s->next < s->n_queue && !stop_signal_pending())
        launch_next(s);
}

/* child c ended as `end` says */
static void reap(sched *s, child_proc *c, const nl_proc_end *end)
{
    /* refused because another writer took the directory between the check
     * and the run's lock (it may even have finished the run): wait for it,
     * or take its result */
    const int run = c->run;
    const bool refused = end->exited && end->code == 2 && s->j->action[run] != NL_SWEEP_FORCE;
    if (refused && run_dir_busy(s, run, "was taken by another process")) {
        nl_worklock_release(&c->hold, false);
        s->waiting[s->n_waiting++] = run;
        s->pr.running--;
    } else if (refused && take_result(s, run)) {
        nl_worklock_release(&c->hold, true);
        s->pr.running--;
    } else {
        finish_run(s, c, end);
        /* a stopped run's work lock is left taken ("claimed"), for another worker to do it */
        nl_worklock_release(&c->hold, !s->pr.stopping);
    }
    free(c->thread);
    *c = s->children[--s->n_children];
    rewrite_summary(s);
}

/* reaps the runs that ended; true when there was one */
static bool reap_children(sched *s)
{
    bool reaped = false;
    for (int c = 0; c < s->n_children; c++) {
        child_proc *child = &s->children[c];
        nl_proc_end end = {0};
        if (child->thread && atomic_load(&child->thread->done)) {
            pthread_join(child->thread->id, NULL);
            /* how the run's process would have ended */
            end = (nl_proc_end){.ended = true, .exited = true, .code = child->thread->exit_status & 0xff};
        } else if (!child->thread) {
            /* cannot fail while the loop holds SIGCHLD's disposition: the
             * kernel reaps no child behind its back */
            nl_error err = {0};
            if (nl_proc_wait(&child->proc, 0, &end, &err) != NL_OK)
                emit_error(s, &err);
        }
        if (!end.ended)
            continue;
        reap(s, child, &end);
        reaped = true;
        c--; /* reap moved the last child into this slot */
    }
    return reaped;
}

static bool work_left(const sched *s)
{
    const bool stopping = s->pr.stopping > 0;
    return s->n_children > 0 || ((s->n_waiting > 0 || s->n_held > 0) && !stopping) ||
           (s->next < s->n_queue && !stopping && !s->start_failed);
}

/* waits for a run's end, a signal or the clock: a TICK when nothing came
 * for tick_s; another process's writer is polled more often */
static void wait_for_news(sched *s)
{
    const double tick = s->opt->tick_s > 0 ? s->opt->tick_s : 0.5;
    struct timespec timeout = {(time_t)tick, (long)((tick - (double)(time_t)tick) * 1e9)};
    if (s->n_waiting > 0)
        timeout = (struct timespec){0, 100000000L};
    else if (s->n_held > 0)
        timeout = (struct timespec){0, 250000000L};
    siginfo_t info;
    const int sig = sigtimedwait(&s->wait_set, &info, &timeout);
    if (sig == SIGINT || sig == SIGTERM) {
        s->pr.stopping++;
        emit(s, (nl_sweep_event){.kind = NL_SWEEP_EV_INTERRUPTED, .run = -1});
        for (int c = 0; c < s->n_children; c++) {
            if (s->children[c].thread)
                s->children[c].thread->stop = 1;
            else
                nl_proc_signal(&s->children[c].proc, s->pr.stopping == 1 ? SIGTERM : SIGKILL);
        }
    } else if (sig < 0) {
        emit(s, (nl_sweep_event){.kind = NL_SWEEP_EV_TICK, .run = -1});
    }
}

static void on_sigchld(int sig) { (void)sig; }

/* signals are taken synchronously: blocked here, waited for in the loop */
static void block_signals(sched *s)
{
    sigemptyset(&s->wait_set);
    sigaddset(&s->wait_set, SIGCHLD);
    sigaddset(&s->wait_set, SIGINT);
    sigaddset(&s->wait_set, SIGTERM);
    struct sigaction sa = {0};
    sa.sa_handler = on_sigchld;
    sigaction(SIGCHLD, &sa, &s->orig_chld);
    sigprocmask(SIG_BLOCK, &s->wait_set, &s->orig_mask);
}

static void restore_signals(sched *s)
{
    sigprocmask(SIG_SETMASK, &s->orig_mask, NULL);
    sigaction(SIGCHLD, &s->orig_chld, NULL);
}

static void run_loop(sched *s)
{
    block_signals(s);
    s->loop_thread = pthread_self();
    s->t0 = now();
    emit(s, (nl_sweep_event){.kind = NL_SWEEP_EV_TICK, .run = -1});
    while (work_left(s)) {
        requeue_held(s);
        poll_waiting(s);
        launch_runs(s);
        if (reap_children(s) || !work_left(s))
            continue;
        wait_for_news(s);
    }
    restore_signals(s);
    /* leftovers of runs killed in an earlier sweep whose processes were not
     * yet gone when this one started */
    for (int i = 0; i < s->n_queue; i++) {
        char run_dir[1200];
        nl_sweep_run_dir(s->j, s->queue[i], run_dir, sizeof run_dir);
        if (!run_dir_busy(s, s->queue[i], NULL))
            nl_sweep_remove_stale_temps(run_dir);
    }
}

/* the final counts: everything read again from the run directories, except
 * what this sweep saw fail without a summary saying so */
static void final_results(nl_sweep_job *j, nl_sweep_outcome *out)
{
    for (int i = 0; i < j->p->n_runs; i++) {
        char run_dir[1200];
        nl_sweep_run_dir(j, i, run_dir, sizeof run_dir);
        nl_sweep_result fresh;
        nl_sweep_read_result(run_dir, &fresh);
        if (!(fresh.state == NL_SWEEP_PENDING && j->results[i].state == NL_SWEEP_FAILED))
            j->results[i] = fresh;
        if (nl_shard_has(j->shard, i)) {
            out->shard_failed += j->results[i].state == NL_SWEEP_FAILED;
            out->shard_pending += j->results[i].state == NL_SWEEP_PENDING;
        }
    }
    count_states(j, &out->counts);
}

/* the sweep's directories, its locks and a first summary.csv */
static nl_code open_sweep_dir(nl_sweep_job *j, nl_error *err)
{
    /* again (nl_sweep_prepare looked first): a link made since */
    nl_code rc = nl_tree_refuse_links(j->dir, err);
    /* the stop rule's passes (sweep/stop.h) hold the lock from the first */
    const bool held = j->lock_fd >= 0;
    if (rc || (rc = nl_make_dirs(j->dir, err)) || (!held && (rc = nl_sweep_lock_dir(j, err)))) {
        if (rc && j->lock_fd >= 0)
            nl_sweep_unlock_refused(j); /* busy: another sweep's lock, its text untouched */
        return rc;
    }
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/" NL_SWEEP_CONFIGS_DIR, j->dir);
    rc = nl_make_dirs(sub, err);
    snprintf(sub, sizeof sub, "%s/" NL_SWEEP_RUNS_DIR, j->dir);
    if (rc == NL_OK)
        rc = nl_make_dirs(sub, err);
    /* where the experiment is (the directory may be named otherwise: --out),
     * and the options that changed its runs (--set): what resumes it */
    if (rc == NL_OK)
        rc = nl_sweep_write_experiment_record(j->e, j->dir, err);
    if (rc == NL_OK)
        rc = nl_sweep_write_summary(j->e, j->p, j->results, j->dir, err);
    if (rc != NL_OK) {
        nl_sweep_unlock_refused(j);
        return rc;
    }
    nl_sweep_announce_holder(j);
    return NL_OK;
}

static nl_code sched_alloc(sched *s, nl_error *err)
{
    const size_t n = (size_t)s->j->p->n_runs + 1;
    s->queue = calloc(n, sizeof *s->queue);
    s->waiting = calloc(n, sizeof *s->waiting);
    s->held = calloc(n, sizeof *s->held);
    s->children = calloc((size_t)s->pr.jobs, sizeof *s->children);
    if (!s->queue || !s->waiting || !s->held || !s->children)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    return NL_OK;
}

static void sched_free(sched *s)
{
    free(s->queue);
    free(s->waiting);
    free(s->held);
    free(s->children);
}

/* the queue: the shard's runs not skipped; a SKIPPED event for the others */
static void fill_queue(sched *s)
{
    nl_sweep_job *j = s->j;
    for (int i = 0; i < j->p->n_runs; i++) {
        if (!nl_shard_has(j->shard, i))
            continue;
        if (j->action[i] != NL_SWEEP_SKIP)
            s->queue[s->n_queue++] = i;
        else
            emit(s, (nl_sweep_event){.kind = NL_SWEEP_EV_SKIPPED, .run = i, .result = &j->results[i]});
    }
    s->pr.to_run = s->n_queue;
}

nl_code nl_sweep_execute(nl_sweep_job *j, const nl_sweep_exec_options *opt, nl_sweep_outcome *out,
                         nl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!opt->command_line)
        return nl_fail(err, NL_ERR_RUNTIME, "a sweep needs the command line of its runs "
                       "(nl_sweep_exec_options.command_line)");
    sched s = {.j = j, .opt = opt};
    s.pr = (nl_sweep_progress){.total = j->total, .done = j->finished_before, .diverged = j->diverged_before,
                               .jobs = opt->jobs};
    nl_code rc = open_sweep_dir(j, err);
    if (rc || (rc = sched_alloc(&s, err))) {
        sched_free(&s);
        return rc;
    }
    const int cores = nl_sweep_cpu_count();
    s.threads = j->e->threads > 0 ? j->e->threads : (cores / opt->jobs > 1 ? cores / opt->jobs : 1);
    s.t0 = now();
    fill_queue(&s);
    emit(&s, (nl_sweep_event){.kind = NL_SWEEP_EV_BEGIN, .run = -1, .threads = s.threads});
    run_loop(&s);
    sched_free(&s);
    out->stopping = s.pr.stopping;
    out->start_failed = s.start_failed;
    final_results(j, out);
    out->elapsed_s = now() - s.t0;
    return nl_sweep_write_summary(j->e, j->p, j->results, j->dir, err);
}
