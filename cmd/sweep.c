/* normlab sweep: runs every configuration of an experiment file, each as a
 * separate `normlab run` process, N at a time; gathers summary.csv (rebuilt
 * from the run directories and replaced atomically after every run); resumes
 * where a killed sweep stopped; makes the experiment's plots at the end.
 *
 * Children stay in the sweep's process group (a kill of the group, or the
 * terminal's Ctrl-C, reaches them all) and get SIGTERM when the sweep dies
 * alone (PR_SET_PDEATHSIG; kill -9 of the sweep's pid): SIGTERM rather than
 * SIGKILL so that the run records itself as failed, and a run left writing
 * would hold its directory's lock and make the next sweep wait for it. A run
 * directory another process is writing (its lock is held: a run started by
 * hand, or one a dying sweep left that has not stopped yet) is not started
 * again: the sweep waits for that writer, then takes its result or runs it.
 * Signals are taken synchronously with sigtimedwait: the first
 * Ctrl-C or SIGTERM asks every child to stop (SIGTERM: a child that also got
 * the terminal's SIGINT still stops cleanly, since `normlab run` handles each
 * signal once), the second kills them; then summary.csv is written and the
 * sweep exits 1. */
#define _GNU_SOURCE /* sched_getaffinity: the cores this process may use */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "log/files.h"
#include "plot/plot.h"
#include "sweep/claim.h"
#include "sweep/slurm.h"
#include "sweep/sweep.h"
#include "train/run.h"
#include "train/rundir.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab sweep EXPERIMENT.yaml [-j N] [--shard I/N|auto] [--claim] [--dry-run]\n"
            "                     [--merge] [--out DIR] [--force]\n"
            "       normlab sweep EXPERIMENT.yaml --emit-sbatch [--array-tasks N] [--array-throttle N]\n"
            "                     [--cpus-per-task C] [--out DIR]\n\n"
            "Runs every configuration of an experiment file, each as its own `normlab run`\n"
            "process, and gathers the results in the sweep directory (default results/<name>/):\n"
            "  summary.csv         a row per run: the varied keys, status (ok, diverged, failed,\n"
            "                      pending) and the final metrics; rebuilt after every run\n"
            "  configs/<run>.yaml  the resolved config of each run\n"
            "  runs/<run>/         the run directories (config.yaml, metrics.csv, summary.json,\n"
            "                      stderr.txt: what the run printed)\n"
            "  plots/              the plots the experiment file lists (see normlab plot)\n\n"
            "Experiment file (YAML; unknown keys and wrong types are errors):\n"
            "  name: wu-he-mlp                      # the sweep directory's name (default: the\n"
            "                                       # file's name)\n"
            "  base: ../configs/mlp-batch.yaml      # relative to this file, or an inline config\n"
            "  set: {train.epochs: 3}               # fixed overrides (dotted config keys); one\n"
            "                                       # that does not apply to a run is left out\n"
            "  grid:                                # every combination, the first key slowest\n"
            "    model.norm.type: [none, batch, layer, group]\n"
            "    train.batch_size: [2, 4, 8, 16, 32, 64]\n"
            "    seed: [1, 2, 3]\n"
            "  derived:                             # KEY = base_value * (x / base_at)^power, x the\n"
            "    train.optimizer.lr:                # value of scale_with (power: 1, round: false\n"
            "      {scale_with: train.batch_size, base_value: 0.02, base_at: 32}  # by default)\n"
            "  exclude:                             # skip the runs matching every key of an entry,\n"
            "    - {model.norm.type: instance, model.arch: mlp}  # compared with the resolved config\n"
            "  threads: 0                           # per run; 0: cores / jobs\n"
            "  plots:                               # made at the end (see normlab plot --help):\n"
            "    - {kind: batch_size, metric: test_error}  # kind, metric, split, threshold, name\n"
            "    - {kind: curves, split: test, metric: error}\n"
            "Every run's config is base + set + grid + derived, through the same checks as\n"
            "`normlab run`; all of them are checked before the first run starts. A run\n"
            "directory is named after its grid values: type-batch_batch_size-8_seed-1.\n\n"
            "options:\n"
            "  -j, --jobs N     run N runs at once (default 1)\n"
            "  --shard I/N      run only the runs whose index modulo N is I-1 (I in 1..N), e.g.\n"
            "                   one slice per Slurm array task; then --merge\n"
            "  --shard auto     the slice of this Slurm array task (SLURM_ARRAY_TASK_ID, _COUNT,\n"
            "                   _MIN, _MAX, _STEP)\n"
            "  --claim          take the runs one at a time, together with any number of other\n"
            "                   --claim workers sharing the sweep directory (other machines over\n"
            "                   NFS too): each run runs once; a dead worker's run is done again\n"
            "  --emit-sbatch    print an sbatch script that runs the sweep as a Slurm array job\n"
            "                   (each task runs its --shard auto), then the merge as a job that\n"
            "                   waits for the whole array; runs nothing\n"
            "  --array-tasks N  array tasks (default: one per run, at most %d)\n"
            "  --array-throttle N  tasks running at once (default %d)\n"
            "  --cpus-per-task C   CPUs per task (default 1), and runs at once in it (at most\n"
            "                   the task's share of the runs)\n"
            "  --merge          rebuild summary.csv (and the plots) from the run directories,\n"
            "                   running nothing\n"
            "  --dry-run        list the runs and what would happen to each, run nothing\n"
            "  --out DIR        the sweep directory\n"
            "  --set KEY=VALUE  a fixed setting for every run, over the file's set: (repeatable;\n"
            "                   e.g. --set train.steps=20 --out /tmp/try to try an experiment)\n"
            "  --force          re-run finished runs whose saved config differs from the\n"
            "                   experiment's (without it, that is an error)\n\n"
            "Running the same sweep again skips finished runs (ok or diverged: a diverged run\n"
            "is a result) and runs again the failed and the interrupted ones; a run another\n"
            "process is still writing is waited for, never started twice. The runs get\n"
            "SIGTERM when the sweep dies.\n"
            "Ctrl-C stops the running runs (a second Ctrl-C kills them), writes summary.csv and\n"
            "exits 1.\n"
            "Exit status: 0 every run ok or diverged, 1 some failed or interrupted, 2 bad usage\n"
            "or experiment file.\n", NL_SBATCH_MAX_TASKS, NL_SBATCH_DEFAULT_THROTTLE);
}

typedef struct {
    pid_t pid;
    int run;
    double started;
    nl_claim claim; /* --claim: held until the run's process has ended */
} child_proc;

typedef struct {
    const nl_experiment *e;
    const nl_sweep_plan *p;
    char dir[1024];
    nl_sweep_result *results;
    bool tty;
    double t0;
    int total;         /* runs in this shard */
    int done;          /* finished: before this sweep or in it */
    int running, failed, diverged;
    int finished_now;  /* finished in this sweep */
    double wall_sum;   /* of the runs finished in this sweep */
    int to_run;
    int jobs;
    bool bar_shown;
    double last_line;
    int stopping;      /* Ctrl-C: 1 asked the runs to stop, 2 killed them */
} sweep_state;

static int cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void run_dir_of(const sweep_state *s, int run, char *out, size_t size)
{
    snprintf(out, size, "%s/runs/%s", s->dir, s->p->runs[run].dir);
}

/* ---- progress ---- */

static void clear_bar(sweep_state *s)
{
    if (s->bar_shown) {
        fprintf(stderr, "\r\033[K");
        s->bar_shown = false;
    }
}

static void status_text(const sweep_state *s, char *buf, size_t size)
{
    char elapsed[32], eta[32];
    const double t = nl_cmd_now() - s->t0;
    const int left = s->to_run - s->finished_now;
    double eta_s = NAN;
    if (s->finished_now > 0 && left > 0) {
        const int parallel = left < s->jobs ? left : s->jobs;
        eta_s = s->wall_sum / s->finished_now * left / parallel;
    } else if (left == 0) {
        eta_s = 0;
    }
    snprintf(buf, size, "%d/%d done, %d running, %d failed, %d diverged, %s elapsed, ETA %s", s->done,
             s->total, s->running, s->failed, s->diverged, nl_cmd_duration(elapsed, sizeof elapsed, t),
             nl_cmd_duration(eta, sizeof eta, eta_s));
}

/* `event`: lines to print above the bar (TTY) or before the status line;
 * `inline_event`: a one-line event that shares the status line (not a TTY) */
static void show_progress(sweep_state *s, const char *event, bool inline_event)
{
    char text[512];
    status_text(s, text, sizeof text);
    if (s->tty) {
        clear_bar(s);
        if (event)
            fprintf(stderr, "%s\n", event);
        char bar[32];
        const int width = 24;
        const int filled = s->total ? (int)((double)s->done / s->total * width) : width;
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %s\033[K", bar, text);
        s->bar_shown = true;
    } else if (event && inline_event) {
        fprintf(stderr, "sweep: %s; %s\n", event, text);
        s->last_line = nl_cmd_now();
    } else {
        if (event)
            fprintf(stderr, "%s\n", event);
        if (event || nl_cmd_now() - s->last_line >= 30.0) {
            fprintf(stderr, "sweep: %s\n", text);
            s->last_line = nl_cmd_now();
        }
    }
    fflush(stderr);
}

/* the last lines the run printed in its latest attempt */
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
    /* at most the last 3 lines */
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

/* ---- children ---- */

static nl_code write_run_config(const sweep_state *s, int run, char *path, size_t size, nl_error *err)
{
    snprintf(path, size, "%s/configs/%s.yaml", s->dir, s->p->runs[run].dir);
    const char *text = s->p->runs[run].config_text;
    return nl_write_atomic(path, text, strlen(text), err);
}

static pid_t start_child(sweep_state *s, const char *exe, int run, int threads, bool force,
                         const sigset_t *orig_mask, nl_error *err)
{
    char config[1200], out_dir[1200], log_path[1300], threads_text[16];
    nl_code rc = write_run_config(s, run, config, sizeof config, err);
    if (rc)
        return -1;
    run_dir_of(s, run, out_dir, sizeof out_dir);
    /* marked as normlab's before stderr.txt goes in, so that the run takes it */
    if (nl_run_dir_make(out_dir, err))
        return -1;
    snprintf(log_path, sizeof log_path, "%s/stderr.txt", out_dir);
    snprintf(threads_text, sizeof threads_text, "%d", threads);
    char *argv[12];
    int argc = 0;
    argv[argc++] = "normlab";
    argv[argc++] = "run";
    argv[argc++] = config;
    argv[argc++] = "--out";
    argv[argc++] = out_dir;
    argv[argc++] = "--quiet";
    argv[argc++] = "--threads";
    argv[argc++] = threads_text;
    if (force)
        argv[argc++] = "--force";
    argv[argc] = NULL;

    const int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (log < 0) {
        nl_fail(err, NL_ERR_IO, "cannot write %s: %s", log_path, strerror(errno));
        return -1;
    }
    {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        dprintf(log, "== %s normlab", stamp);
        for (int i = 1; i < argc; i++)
            dprintf(log, " %s", argv[i]);
        dprintf(log, "\n");
    }
    fflush(NULL);
    const pid_t sweep_pid = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        nl_fail(err, NL_ERR_RUNTIME, "cannot start a run: fork: %s", strerror(errno));
        close(log);
        return -1;
    }
    if (pid == 0) {
        /* the death signal follows the thread that forked: this (main)
         * thread, which lives as long as the sweep. A sweep that died
         * before prctl took effect has left this process to another parent. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != sweep_pid)
            _exit(1);
        const int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(log, 1);
        dup2(log, 2);
        signal(SIGCHLD, SIG_DFL);
        sigprocmask(SIG_SETMASK, orig_mask, NULL);
        execv(exe, argv);
        dprintf(2, "normlab sweep: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(log);
    return pid;
}

static void on_sigchld(int sig) { (void)sig; }

/* what a run's end means: the summary it left, or how its process ended */
static void finish_run(sweep_state *s, const child_proc *c, int status)
{
    char run_dir[1200], event[2048], wall[32], tail[1024] = "";
    run_dir_of(s, c->run, run_dir, sizeof run_dir);
    nl_sweep_result *r = &s->results[c->run];
    nl_sweep_read_result(run_dir, r);
    const double took = nl_cmd_now() - c->started;
    s->running--;
    s->done++;
    s->finished_now++;
    s->wall_sum += took;
    const char *name = s->p->runs[c->run].dir;
    if (r->state == NL_SWEEP_PENDING || r->state == NL_SWEEP_FAILED ||
        !(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1))) {
        /* failed, or ended without a final summary (killed, crashed, bad
         * config): failed for this sweep; the next one runs it again */
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
        if (r->state != NL_SWEEP_FAILED) {
            r->state = NL_SWEEP_FAILED;
            snprintf(r->reason, sizeof r->reason, "%s", how);
        }
        char log_path[1300];
        snprintf(log_path, sizeof log_path, "%s/stderr.txt", run_dir);
        stderr_tail(log_path, tail, sizeof tail);
        s->failed++;
        if (s->stopping) {
            snprintf(event, sizeof event, "%s: stopped (%s)", name, r->reason[0] ? r->reason : how);
            show_progress(s, event, true);
            return;
        }
        snprintf(event, sizeof event, "normlab sweep: run %s failed (%s%s%s)%s%s\n  see %s", name, how,
                 r->reason[0] && strcmp(r->reason, how) ? ": " : "",
                 r->reason[0] && strcmp(r->reason, how) ? r->reason : "", tail[0] ? ":\n  " : "",
                 tail, log_path);
        show_progress(s, event, false);
        return;
    }
    if (r->state == NL_SWEEP_DIVERGED)
        s->diverged++;
    if (s->tty && r->state == NL_SWEEP_OK) {
        show_progress(s, NULL, false);
        return;
    }
    char acc[64] = "";
    if (r->metrics[1][0])
        snprintf(acc, sizeof acc, ", test accuracy %.2f%%", 100.0 * atof(r->metrics[1]));
    snprintf(event, sizeof event, "%s: %s%s%s%s in %s", name, nl_sweep_state_name(r->state),
             r->state == NL_SWEEP_DIVERGED && r->reason[0] ? " (" : "",
             r->state == NL_SWEEP_DIVERGED && r->reason[0] ? r->reason : "",
             r->state == NL_SWEEP_DIVERGED && r->reason[0] ? ")" : acc, nl_cmd_duration(wall, sizeof wall, took));
    show_progress(s, event, true);
}

/* true when another process holds run `run`'s directory; `event` (when not
 * NULL) tells the user, naming the holder: the sweep then waits for it */
static bool run_dir_busy(sweep_state *s, int run, const char *event)
{
    char run_dir[1200], who[200] = "", line[1600];
    run_dir_of(s, run, run_dir, sizeof run_dir);
    nl_run_writer w;
    if (!nl_run_dir_busy(run_dir, &w))
        return false;
    if (event) {
        if (w.pid > 0)
            snprintf(who, sizeof who, " (pid %ld%s%s)", w.pid, w.host[0] ? " on " : "", w.host);
        snprintf(line, sizeof line, "%s: %s%s; waiting for it", s->p->runs[run].dir, event, who);
        show_progress(s, line, true);
    }
    return true;
}

/* After another process let go of a run's directory: true when it left a
 * finished run (taken as this sweep's result if its config is the
 * experiment's), false when the run is still to do. */
static bool take_result(sweep_state *s, int run)
{
    char run_dir[1200], saved[1300], why[512], event[1200];
    run_dir_of(s, run, run_dir, sizeof run_dir);
    nl_sweep_result *r = &s->results[run];
    nl_sweep_read_result(run_dir, r);
    if (r->state != NL_SWEEP_OK && r->state != NL_SWEEP_DIVERGED)
        return false;
    snprintf(saved, sizeof saved, "%s/config.yaml", run_dir);
    s->done++;
    s->finished_now++;
    if (nl_sweep_config_diff(saved, s->p->runs[run].config_text, why, sizeof why) != 0) {
        r->state = NL_SWEEP_FAILED;
        snprintf(r->reason, sizeof r->reason, "another process finished it with another config");
        s->failed++;
        snprintf(event, sizeof event, "normlab sweep: run %s: %s (%s); the next sweep reports it",
                 s->p->runs[run].dir, r->reason, why);
        show_progress(s, event, false);
        return true;
    }
    s->diverged += r->state == NL_SWEEP_DIVERGED;
    snprintf(event, sizeof event, "%s: %s, finished by the other process", s->p->runs[run].dir,
             nl_sweep_state_name(r->state));
    show_progress(s, event, true);
    return true;
}

/* ---- --claim ---- */

/* under a run's claim: whether its directory holds a finished run of the
 * experiment's config */
static bool claimed_run_finished(const char *run_dir, void *ctx)
{
    const nl_sweep_run *run = ctx;
    nl_sweep_result r;
    nl_sweep_read_result(run_dir, &r);
    if (r.state != NL_SWEEP_OK && r.state != NL_SWEEP_DIVERGED)
        return false;
    char saved[1300], why[512];
    snprintf(saved, sizeof saved, "%s/config.yaml", run_dir);
    return nl_sweep_config_diff(saved, run->config_text, why, sizeof why) == 0;
}

static nl_code claim_run(sweep_state *s, int run, long seen, bool force, nl_claim *claim,
                         nl_claim_outcome *got, nl_error *err)
{
    char run_dir[1200];
    run_dir_of(s, run, run_dir, sizeof run_dir);
    nl_code rc = nl_run_dir_make(run_dir, err);
    if (rc)
        return rc;
    return nl_claim_try(run_dir, seen, claimed_run_finished, &s->p->runs[run], force, claim, got, err);
}

/* a run another worker finished since this one started: its result, a
 * failure included (it is not run twice in one go) */
static void take_claimed_result(sweep_state *s, int run)
{
    if (take_result(s, run))
        return;
    char event[1200];
    s->done++;
    s->finished_now++;
    s->failed++;
    s->results[run].state = NL_SWEEP_FAILED;
    snprintf(event, sizeof event, "%s: failed, in another worker", s->p->runs[run].dir);
    show_progress(s, event, true);
}

/* ---- plots ---- */

/* makes the experiment's plots, one at a time: a plot the results cannot
 * give (no run wrote a trace) is skipped with the reason; a script gnuplot
 * rejects is a failure. Returns the exit status to add (0 or 1). */
static int make_plots(const nl_experiment *e, const char *dir, char *where, size_t where_size)
{
    where[0] = '\0';
    if (e->n_plots == 0)
        return 0;
    nl_plot_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        return 1;
    int status = 0;
    size_t used = 0;
    bool missing = false;
    char plots_dir[1100] = "";
    for (int i = 0; i < e->n_plots; i++) {
        nl_error err = {0};
        char name[64];
        nl_plot_spec_name(&e->plots[i].spec, name, sizeof name);
        const nl_code rc = nl_plot_write(dir, &e->plots[i].spec, 1, rep, &err);
        if (rc == NL_ERR_USAGE) {
            fprintf(stderr, "normlab sweep: plot %s skipped: %s\n", name, err.msg);
            continue;
        }
        if (rc == NL_OK && nl_plot_render(rep, NL_PLOT_PNG, &err) != NL_OK)
            fprintf(stderr, "normlab sweep: plot %s: %s\n", name, err.msg);
        else if (rc != NL_OK)
            fprintf(stderr, "normlab sweep: plot %s: %s\n", name, err.msg);
        if (err.code != NL_OK)
            status = 1;
        if (rep->messages[0])
            fprintf(stderr, "normlab sweep: gnuplot said about %s:\n%s\n", name, rep->messages);
        for (int k = 0; k < rep->n; k++) {
            if (rep->items[k].note[0])
                printf("%s\n", rep->items[k].note);
            if (used < where_size)
                used += (size_t)snprintf(where + used, where_size - used, "%s%s.%s", used ? ", " : "",
                                         rep->items[k].name, rep->items[k].rendered ? "png" : "gp");
        }
        missing |= rep->gnuplot_missing;
        nl_copy_string(plots_dir, sizeof plots_dir, rep->plots_dir);
    }
    if (missing)
        fprintf(stderr, "normlab sweep: gnuplot is not on PATH: wrote the plot scripts to %s but "
                "rendered nothing (install gnuplot, then: cd %s && gnuplot NAME.gp)\n", plots_dir, plots_dir);
    if (plots_dir[0]) {
        char list[1500];
        nl_copy_string(list, sizeof list, where);
        snprintf(where, where_size, "; plots in %s/ (%s)", plots_dir, list);
    }
    free(rep);
    return status;
}

/* ---- Slurm ---- */

/* `path` made absolute against the working directory (it need not exist) */
static bool absolute_path(const char *path, char *out, size_t size)
{
    char cwd[1024];
    if (path[0] == '/')
        return (size_t)snprintf(out, size, "%s", path) < size;
    if (!getcwd(cwd, sizeof cwd))
        return false;
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    return (size_t)snprintf(out, size, "%s/%s", cwd, path) < size;
}

/* prints the sbatch script, with absolute paths, so that it can be
 * submitted from anywhere; returns the exit status */
static int emit_sbatch_script(nl_sbatch_spec spec, const char *experiment, const char *sweep_dir)
{
    char exe[1024], exp_abs[4096], dir_abs[2048];
    const ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (exe_len <= 0) {
        fprintf(stderr, "normlab sweep: cannot find the normlab binary (/proc/self/exe): %s\n", strerror(errno));
        return 1;
    }
    exe[exe_len] = '\0';
    if (!realpath(experiment, exp_abs) || !absolute_path(sweep_dir, dir_abs, sizeof dir_abs)) {
        fprintf(stderr, "normlab sweep: cannot make %s and %s absolute paths: %s\n", experiment, sweep_dir,
                strerror(errno));
        return 1;
    }
    spec.normlab = exe;
    spec.experiment = exp_abs;
    spec.sweep_dir = dir_abs;
    nl_buf script = {0};
    nl_error err = {0};
    if (nl_sbatch_script(&spec, &script, &err) != NL_OK) {
        nl_buf_free(&script);
        return nl_cmd_report("sweep", &err);
    }
    fputs(script.data, stdout);
    nl_buf_free(&script);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* ---- the command ---- */

typedef enum { ACT_RUN, ACT_SKIP, ACT_RERUN, ACT_FORCE, ACT_CHANGED } run_action;

int cmd_sweep(int argc, char **argv)
{
    const char *path = NULL, *out_dir = NULL, *sets[64];
    int n_sets = 0;
    int jobs = 1;
    bool dry_run = false, merge = false, force = false, shard_auto = false, claim = false, emit_sbatch = false;
    int array_tasks = 0, array_throttle = 0, cpus_per_task = 1;
    nl_shard shard = {1, 1};
    nl_error err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (nl_cmd_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs") || !strncmp(a, "-j", 2) ||
                   !strncmp(a, "--jobs=", 7)) {
            const char *v = !strcmp(a, "-j") || !strcmp(a, "--jobs") ? (i + 1 < argc ? argv[++i] : NULL)
                            : a[1] == 'j' ? a + 2 : a + 7;
            if (!v)
                return nl_cmd_usage_error("sweep", "%s needs a number of jobs", a);
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 256)
                return nl_cmd_usage_error("sweep", "-j: '%s' is not a number of jobs (1..256)", v);
            jobs = (int)n;
        } else if (!strcmp(a, "--shard") || !strncmp(a, "--shard=", 8)) {
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return nl_cmd_usage_error("sweep", "--shard needs I/N, e.g. --shard 2/4, or auto");
            shard_auto = !strcmp(v, "auto");
            if (!shard_auto && nl_shard_parse(v, &shard, &err) != NL_OK)
                return nl_cmd_usage_error("sweep", "%s", err.msg);
        } else if (!strcmp(a, "--array-tasks") || !strcmp(a, "--array-throttle") || !strcmp(a, "--cpus-per-task")) {
            const char *v = i + 1 < argc ? argv[++i] : NULL;
            char *end = NULL;
            const long n = v ? strtol(v, &end, 10) : 0;
            const long most = !strcmp(a, "--array-tasks") ? NL_SBATCH_MAX_TASKS : 4096;
            if (!v || end == v || *end || n < 1 || n > most)
                return nl_cmd_usage_error("sweep", "%s: '%s' is not a number in 1..%ld", a, v ? v : "", most);
            *(!strcmp(a, "--array-tasks") ? &array_tasks : !strcmp(a, "--array-throttle") ? &array_throttle
                                                                                           : &cpus_per_task) = (int)n;
        } else if (!strcmp(a, "--emit-sbatch")) {
            emit_sbatch = true;
        } else if (!strcmp(a, "--claim")) {
            claim = true;
        } else if (!strcmp(a, "--out")) {
            if (i + 1 >= argc)
                return nl_cmd_usage_error("sweep", "--out needs a directory");
            out_dir = argv[++i];
        } else if (!strcmp(a, "--set")) {
            const int bad = nl_cmd_take_set("sweep", argc, argv, &i, sets, &n_sets, 64);
            if (bad)
                return bad;
        } else if (!strcmp(a, "--dry-run") || !strcmp(a, "-n")) {
            dry_run = true;
        } else if (!strcmp(a, "--merge")) {
            merge = true;
        } else if (!strcmp(a, "--force")) {
            force = true;
        } else if (a[0] == '-' && a[1]) {
            return nl_cmd_usage_error("sweep", "unknown option '%s'", a);
        } else if (path) {
            return nl_cmd_usage_error("sweep", "one experiment file at a time ('%s' and '%s')", path, a);
        } else {
            path = a;
        }
    }
    if (!path)
        return nl_cmd_usage_error("sweep", "no experiment file given");
    if (merge && dry_run)
        return nl_cmd_usage_error("sweep", "--merge and --dry-run do not go together");
    if (claim && (merge || dry_run || shard_auto || shard.count > 1))
        return nl_cmd_usage_error("sweep", "--claim does not go with %s: claim workers share all the runs",
                                  merge ? "--merge" : dry_run ? "--dry-run" : "--shard");
    if (emit_sbatch && n_sets)
        return nl_cmd_usage_error("sweep", "--set is for trying an experiment out; for a cluster run "
                                  "write the settings into the experiment's set:");
    if (emit_sbatch && (merge || dry_run || claim || shard_auto || shard.count > 1 || force))
        return nl_cmd_usage_error("sweep", "--emit-sbatch runs nothing; it goes with --out, --array-tasks, "
                                  "--array-throttle and --cpus-per-task only");
    if (!emit_sbatch && (array_tasks || array_throttle || cpus_per_task != 1))
        return nl_cmd_usage_error("sweep", "--array-tasks, --array-throttle and --cpus-per-task go with "
                                  "--emit-sbatch");
    if (shard_auto) {
        const nl_slurm_array_env env = {getenv("SLURM_ARRAY_TASK_ID"), getenv("SLURM_ARRAY_TASK_COUNT"),
                                        getenv("SLURM_ARRAY_TASK_MIN"), getenv("SLURM_ARRAY_TASK_MAX"),
                                        getenv("SLURM_ARRAY_TASK_STEP")};
        if (nl_shard_from_slurm(&env, &shard, &err) != NL_OK)
            return nl_cmd_usage_error("sweep", "%s", err.msg);
    }

    nl_experiment e;
    if (nl_experiment_load(path, &e, &err) != NL_OK)
        return nl_cmd_report("sweep", &err);
    for (int i = 0; i < n_sets; i++)
        if (nl_experiment_set(&e, sets[i], &err) != NL_OK) {
            nl_experiment_free(&e);
            return nl_cmd_report("sweep", &err);
        }
    nl_sweep_plan p;
    if (nl_sweep_plan_build(&e, &p, &err) != NL_OK) {
        nl_experiment_free(&e);
        return nl_cmd_report("sweep", &err);
    }
    for (int i = 0; i < p.n_warnings; i++)
        fprintf(stderr, "normlab sweep: warning: %s\n", p.warnings[i]);

    sweep_state s = {.e = &e, .p = &p, .tty = isatty(STDERR_FILENO), .jobs = jobs, .last_line = -1e9};
    if (out_dir)
        snprintf(s.dir, sizeof s.dir, "%s", out_dir);
    else
        snprintf(s.dir, sizeof s.dir, "results/%s", e.name);
    size_t dir_len = strlen(s.dir);
    while (dir_len > 1 && s.dir[dir_len - 1] == '/')
        s.dir[--dir_len] = '\0';
    if (emit_sbatch) {
        const nl_sbatch_spec spec = {.name = e.name, .n_runs = p.n_runs, .tasks = array_tasks,
                                     .throttle = array_throttle, .cpus_per_task = cpus_per_task};
        const int status = emit_sbatch_script(spec, path, s.dir);
        nl_sweep_plan_free(&p);
        nl_experiment_free(&e);
        return status;
    }
    s.results = calloc((size_t)p.n_runs, sizeof *s.results);
    run_action *action = calloc((size_t)p.n_runs, sizeof *action);
    char (*why)[512] = calloc((size_t)p.n_runs, sizeof *why);
    long *seen = calloc((size_t)p.n_runs, sizeof *seen); /* --claim: claim generations at the start */
    int exit_status = 0;
    if (!s.results || !action || !why || !seen) {
        fprintf(stderr, "normlab sweep: out of memory\n");
        exit_status = 1;
        goto done;
    }

    /* what to do with each run: its directory's state and saved config */
    int n_changed = 0;
    for (int i = 0; i < p.n_runs; i++) {
        char run_dir[1200];
        run_dir_of(&s, i, run_dir, sizeof run_dir);
        if (claim)
            seen[i] = nl_claim_generation(run_dir);
        nl_sweep_read_result(run_dir, &s.results[i]);
        const nl_sweep_state st = s.results[i].state;
        if (!nl_shard_has(shard, i))
            continue;
        s.total++;
        if (st == NL_SWEEP_OK || st == NL_SWEEP_DIVERGED) {
            char saved[1300];
            snprintf(saved, sizeof saved, "%s/config.yaml", run_dir);
            const int diff = nl_sweep_config_diff(saved, p.runs[i].config_text, why[i], sizeof why[i]);
            if (diff == 0) {
                action[i] = ACT_SKIP;
                s.done++;
                s.diverged += st == NL_SWEEP_DIVERGED;
            } else {
                if (diff < 0) {
                    char reason[512];
                    snprintf(reason, sizeof reason, "its config.yaml cannot be read: %s", why[i]);
                    snprintf(why[i], sizeof why[i], "%s", reason);
                }
                action[i] = force ? ACT_FORCE : ACT_CHANGED;
                n_changed += !force;
            }
        } else {
            action[i] = nl_path_exists(run_dir) ? ACT_RERUN : ACT_RUN;
        }
    }

    if (dry_run) {
        printf("sweep %s: %ld combinations, %d excluded, %d runs", s.dir, p.n_combos, p.n_excluded, p.n_runs);
        if (shard.count > 1)
            printf(", shard %d/%d: %d runs", shard.index, shard.count, s.total);
        printf("\n");
        if (e.n_sets) {
            printf("fixed:");
            for (int i = 0; i < e.n_sets; i++)
                printf(" %s=%s", e.sets[i].key, e.sets[i].value);
            printf("\n");
        }
        for (int i = 0; i < p.n_runs; i++) {
            if (!nl_shard_has(shard, i))
                continue;
            char overrides[2048];
            nl_sweep_run_overrides(&e, &p, &p.runs[i], overrides, sizeof overrides);
            const char *what = "run";
            char detail[700] = "";
            switch (action[i]) {
            case ACT_SKIP:
                what = "skip";
                snprintf(detail, sizeof detail, " (%s)", nl_sweep_state_name(s.results[i].state));
                break;
            case ACT_RERUN:
                what = "rerun";
                snprintf(detail, sizeof detail, " (%s)", s.results[i].state == NL_SWEEP_FAILED ? "failed" : "unfinished");
                break;
            case ACT_FORCE:
                what = "rerun";
                snprintf(detail, sizeof detail, " (--force; config changed: %.600s)", why[i]);
                break;
            case ACT_CHANGED:
                what = "changed";
                snprintf(detail, sizeof detail, " (config changed: %.600s; needs --force)", why[i]);
                break;
            default:
                break;
            }
            char run_dir[1200];
            run_dir_of(&s, i, run_dir, sizeof run_dir);
            nl_run_writer w;
            if (action[i] != ACT_SKIP && nl_run_dir_busy(run_dir, &w)) {
                what = "wait";
                snprintf(detail, sizeof detail, " (another process is writing it: pid %ld%s%s)", w.pid,
                         w.host[0] ? " on " : "", w.host);
            }
            printf("%4d  %-40s  %s  %s%s\n", i, p.runs[i].dir, overrides, what, detail);
        }
        for (int i = 0; i < p.n_excluded; i++)
            printf("   -  %-40s  excluded (exclude entry at line %d)\n", p.excluded[i].label,
                   e.excludes[p.excluded[i].exclusion].pos.line);
        goto done;
    }

    if (n_changed) {
        fprintf(stderr, "normlab sweep: %d finished run%s in %s %s a config that differs from the "
                "experiment's; use --force to run %s again, or --out DIR for a new sweep:\n",
                n_changed, n_changed == 1 ? "" : "s", s.dir, n_changed == 1 ? "has" : "have",
                n_changed == 1 ? "it" : "them");
        int shown = 0;
        for (int i = 0; i < p.n_runs && shown < 5; i++)
            if (action[i] == ACT_CHANGED) {
                fprintf(stderr, "  runs/%s: %s\n", p.runs[i].dir, why[i]);
                shown++;
            }
        if (n_changed > shown)
            fprintf(stderr, "  ... and %d more\n", n_changed - shown);
        exit_status = 2;
        goto done;
    }

    /* what a kill -9 during an atomic write left: the sweep's own files, and
     * those of this shard's runs (other shards' writers may be alive elsewhere) */
    if (!merge || nl_is_dir(s.dir)) {
        char sub[1200];
        nl_sweep_remove_stale_temps(s.dir);
        for (int i = 0; i < p.n_runs; i++)
            if ((nl_shard_has(shard, i) || merge) && !run_dir_busy(&s, i, NULL)) {
                run_dir_of(&s, i, sub, sizeof sub);
                nl_sweep_remove_stale_temps(sub);
            }
        snprintf(sub, sizeof sub, "%s/configs", s.dir);
        nl_sweep_remove_stale_temps(sub);
    }

    if (merge) {
        if (!nl_is_dir(s.dir)) {
            fprintf(stderr, "normlab sweep: --merge: %s does not exist; nothing to merge\n", s.dir);
            exit_status = 2;
            goto done;
        }
        int counts[4] = {0};
        for (int i = 0; i < p.n_runs; i++)
            counts[s.results[i].state]++;
        if (nl_sweep_write_summary(&e, &p, s.results, s.dir, &err) != NL_OK) {
            exit_status = nl_cmd_report("sweep", &err);
            goto done;
        }
        char where[2048] = "";
        if (counts[NL_SWEEP_OK] + counts[NL_SWEEP_DIVERGED] > 0)
            exit_status = make_plots(&e, s.dir, where, sizeof where);
        printf("%s/summary.csv: %d runs: %d ok, %d diverged, %d failed, %d pending%s\n", s.dir, p.n_runs,
               counts[NL_SWEEP_OK], counts[NL_SWEEP_DIVERGED], counts[NL_SWEEP_FAILED],
               counts[NL_SWEEP_PENDING], where);
        goto done;
    }

    /* ---- run ---- */
    char exe[1024];
    const ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (exe_len <= 0) {
        fprintf(stderr, "normlab sweep: cannot find the normlab binary (/proc/self/exe): %s\n", strerror(errno));
        exit_status = 1;
        goto done;
    }
    exe[exe_len] = '\0';
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/configs", s.dir);
    if (nl_make_dirs(sub, &err) != NL_OK) {
        exit_status = nl_cmd_report("sweep", &err);
        goto done;
    }
    snprintf(sub, sizeof sub, "%s/runs", s.dir);
    if (nl_make_dirs(sub, &err) != NL_OK) {
        exit_status = nl_cmd_report("sweep", &err);
        goto done;
    }
    /* one sweep of a directory at a time, or one per shard: an unsharded
     * sweep holds .lock exclusively, a shard holds it shared and its own
     * shard lock exclusively, a --claim worker holds it shared (held until
     * exit; not inherited by the runs, so a killed sweep releases them) */
    {
        char lock_path[1200], shard_path[1200];
        snprintf(lock_path, sizeof lock_path, "%s/.lock", s.dir);
        snprintf(shard_path, sizeof shard_path, "%s/.lock-shard-%d-of-%d", s.dir, shard.index, shard.count);
        const int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        const int shard_lock = shard.count > 1 ? open(shard_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666) : -1;
        const bool whole_busy = lock >= 0 && flock(lock, (shard.count > 1 || claim ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 &&
                                errno == EWOULDBLOCK;
        const bool shard_busy = !whole_busy && shard_lock >= 0 && flock(shard_lock, LOCK_EX | LOCK_NB) != 0 &&
                                errno == EWOULDBLOCK;
        if (whole_busy || shard_busy) {
            fprintf(stderr, "normlab sweep: another normlab sweep is running %s%s (it holds %s); wait for it\n",
                    shard_busy ? "this shard of " : (shard.count > 1 ? "all of " : ""), s.dir,
                    shard_busy ? shard_path : lock_path);
            exit_status = 1;
            goto done;
        }
    }
    if (nl_sweep_write_summary(&e, &p, s.results, s.dir, &err) != NL_OK) {
        exit_status = nl_cmd_report("sweep", &err);
        goto done;
    }
    int *queue = calloc((size_t)p.n_runs + 1, sizeof *queue);
    int *waiting = calloc((size_t)p.n_runs + 1, sizeof *waiting); /* runs another process is writing */
    int *held = calloc((size_t)p.n_runs + 1, sizeof *held);       /* --claim: runs another worker holds */
    child_proc *children = calloc((size_t)jobs, sizeof *children);
    if (!queue || !waiting || !held || !children) {
        free(queue);
        free(waiting);
        free(held);
        free(children);
        fprintf(stderr, "normlab sweep: out of memory\n");
        exit_status = 1;
        goto done;
    }
    int n_queue = 0;
    for (int i = 0; i < p.n_runs; i++)
        if (nl_shard_has(shard, i) && action[i] != ACT_SKIP)
            queue[n_queue++] = i;
    s.to_run = n_queue;
    const int cores = cpu_count();
    const int threads = e.threads > 0 ? e.threads : (cores / jobs > 1 ? cores / jobs : 1);
    fprintf(stderr, "normlab sweep: %s: %d run%s%s, %d to run (%d finished before), %d at a time on "
            "%d thread%s each\n", s.dir, s.total, s.total == 1 ? "" : "s",
            shard.count > 1 ? " in this shard" : "", n_queue, s.done, jobs, threads, threads == 1 ? "" : "s");

    /* signals are taken synchronously: blocked here, waited for below */
    sigset_t wait_set, orig_mask;
    sigemptyset(&wait_set);
    sigaddset(&wait_set, SIGCHLD);
    sigaddset(&wait_set, SIGINT);
    sigaddset(&wait_set, SIGTERM);
    struct sigaction sa = {0};
    sa.sa_handler = on_sigchld;
    sigaction(SIGCHLD, &sa, NULL);
    sigprocmask(SIG_BLOCK, &wait_set, &orig_mask);

    s.t0 = nl_cmd_now();
    int next = 0, stopping = 0, n_children = 0, n_waiting = 0, n_held = 0;
    bool start_failed = false, launched = false;
    double held_polled = 0;
    show_progress(&s, NULL, false);
    while (n_children > 0 || ((n_waiting > 0 || n_held > 0) && !stopping) ||
           (next < n_queue && !stopping && !start_failed)) {
        /* runs other workers hold: tried again now and then (their worker
         * may finish them, or die and leave them to be done again) */
        if (n_held > 0 && !stopping && nl_cmd_now() - held_polled >= 0.5) {
            while (n_held > 0)
                queue[--next] = held[--n_held];
            held_polled = nl_cmd_now();
        }
        /* a run whose other writer let go: its result, or back to the queue's front */
        for (int w = 0; w < n_waiting && !stopping;) {
            const int run = waiting[w];
            if (run_dir_busy(&s, run, NULL)) {
                w++;
                continue;
            }
            waiting[w] = waiting[--n_waiting];
            if (take_result(&s, run)) {
                nl_error werr = {0};
                if (nl_sweep_write_summary(&e, &p, s.results, s.dir, &werr) != NL_OK) {
                    clear_bar(&s);
                    nl_cmd_report("sweep", &werr);
                }
            } else {
                queue[--next] = run; /* `next` has passed it: that slot is free */
            }
        }
        while (!stopping && !start_failed && n_children + n_waiting < jobs && next < n_queue) {
            /* a Ctrl-C already waiting: no new run (it would miss the terminal's signal) */
            sigset_t pending;
            if (sigpending(&pending) == 0 && (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)))
                break;
            const int run = queue[next++];
            nl_claim run_claim = {-1, 0};
            if (claim) {
                nl_claim_outcome got;
                if (claim_run(&s, run, seen[run], action[run] == ACT_FORCE, &run_claim, &got, &err) != NL_OK) {
                    clear_bar(&s);
                    nl_cmd_report("sweep", &err);
                    start_failed = true;
                    break;
                }
                if (got == NL_CLAIM_HELD) {
                    held[n_held++] = run;
                    continue;
                }
                if (got == NL_CLAIM_FINISHED) {
                    take_claimed_result(&s, run);
                    continue;
                }
            }
            if (run_dir_busy(&s, run, "is being written by another process")) {
                nl_claim_release(&run_claim, false);
                waiting[n_waiting++] = run;
                continue;
            }
            const pid_t pid = start_child(&s, exe, run, threads, action[run] == ACT_FORCE, &orig_mask, &err);
            if (pid < 0) {
                nl_claim_release(&run_claim, false);
                clear_bar(&s);
                nl_cmd_report("sweep", &err);
                start_failed = true;
                break;
            }
            children[n_children++] = (child_proc){pid, run, nl_cmd_now(), run_claim};
            s.running++;
            launched = true;
        }
        if (launched && s.tty)
            show_progress(&s, NULL, false);
        launched = false;
        bool reaped = false;
        for (;;) {
            int status;
            const pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            for (int c = 0; c < n_children; c++)
                if (children[c].pid == pid) {
                    /* refused because another writer took the directory between
                     * the check and the run's lock (it may even have finished
                     * the run): wait for it, or take its result */
                    const int run = children[c].run;
                    const bool refused = WIFEXITED(status) && WEXITSTATUS(status) == 2 && action[run] != ACT_FORCE;
                    if (refused && run_dir_busy(&s, run, "was taken by another process")) {
                        nl_claim_release(&children[c].claim, false);
                        waiting[n_waiting++] = run;
                        s.running--;
                    } else if (refused && take_result(&s, run)) {
                        nl_claim_release(&children[c].claim, true);
                        s.running--;
                    } else {
                        finish_run(&s, &children[c], status);
                        /* a stopped run is left claimed, for another worker to do */
                        nl_claim_release(&children[c].claim, !stopping);
                    }
                    children[c] = children[--n_children];
                    reaped = true;
                    /* the source of truth changed: summary.csv follows */
                    nl_error werr = {0};
                    if (nl_sweep_write_summary(&e, &p, s.results, s.dir, &werr) != NL_OK) {
                        clear_bar(&s);
                        nl_cmd_report("sweep", &werr);
                    }
                    break;
                }
        }
        if (reaped)
            continue;
        if (n_children == 0 && ((n_waiting == 0 && n_held == 0) || stopping) &&
            (stopping || start_failed || next >= n_queue))
            break;
        /* a TTY's bar shows the clock; plain output needs a heartbeat only;
         * another process's writer is polled */
        struct timespec timeout = {s.tty ? 0 : 5, s.tty ? 500000000L : 0};
        if (n_waiting > 0)
            timeout = (struct timespec){0, 100000000L};
        else if (n_held > 0)
            timeout = (struct timespec){0, 250000000L};
        siginfo_t info;
        const int sig = sigtimedwait(&wait_set, &info, &timeout);
        if (sig == SIGINT || sig == SIGTERM) {
            s.stopping = ++stopping;
            clear_bar(&s);
            if (stopping == 1)
                fprintf(stderr, "normlab sweep: interrupted; stopping %d running run%s (again to kill "
                        "them)\n", n_children, n_children == 1 ? "" : "s");
            for (int c = 0; c < n_children; c++)
                kill(children[c].pid, stopping == 1 ? SIGTERM : SIGKILL);
        } else if (sig < 0) {
            show_progress(&s, NULL, false);
        }
    }
    clear_bar(&s);
    sigprocmask(SIG_SETMASK, &orig_mask, NULL);
    /* leftovers of runs killed in an earlier sweep whose processes were not
     * yet gone when this one started */
    for (int i = 0; i < n_queue; i++) {
        char run_dir[1200];
        run_dir_of(&s, queue[i], run_dir, sizeof run_dir);
        if (!run_dir_busy(&s, queue[i], NULL))
            nl_sweep_remove_stale_temps(run_dir);
    }
    free(queue);
    free(waiting);
    free(held);
    free(children);

    /* the final summary.csv: everything read again from the run directories,
     * except what this sweep saw fail without a summary saying so */
    int counts[4] = {0};
    for (int i = 0; i < p.n_runs; i++) {
        char run_dir[1200];
        run_dir_of(&s, i, run_dir, sizeof run_dir);
        nl_sweep_result fresh;
        nl_sweep_read_result(run_dir, &fresh);
        if (!(fresh.state == NL_SWEEP_PENDING && s.results[i].state == NL_SWEEP_FAILED))
            s.results[i] = fresh;
        counts[s.results[i].state]++;
    }
    if (nl_sweep_write_summary(&e, &p, s.results, s.dir, &err) != NL_OK) {
        exit_status = nl_cmd_report("sweep", &err);
        goto done;
    }
    int shard_failed = 0, shard_pending = 0;
    for (int i = 0; i < p.n_runs; i++)
        if (nl_shard_has(shard, i)) {
            shard_failed += s.results[i].state == NL_SWEEP_FAILED;
            shard_pending += s.results[i].state == NL_SWEEP_PENDING;
        }
    char where[2048] = "";
    if (stopping) {
        exit_status = 1;
    } else {
        exit_status = shard_failed || shard_pending || start_failed ? 1 : 0;
        if (counts[NL_SWEEP_PENDING] == 0 && e.n_plots) {
            if (make_plots(&e, s.dir, where, sizeof where))
                exit_status = 1;
        } else if (e.n_plots && shard.count > 1) {
            snprintf(where, sizeof where, "; plots wait for the other shards (%d runs pending): "
                     "normlab sweep %s%s%s --merge", counts[NL_SWEEP_PENDING], path, out_dir ? " --out " : "",
                     out_dir ? out_dir : "");
        }
    }
    char elapsed[32];
    fprintf(stderr, "normlab sweep: %s: %d ok, %d diverged, %d failed, %d pending, in %s\n", s.dir,
            counts[NL_SWEEP_OK], counts[NL_SWEEP_DIVERGED], counts[NL_SWEEP_FAILED], counts[NL_SWEEP_PENDING],
            nl_cmd_duration(elapsed, sizeof elapsed, nl_cmd_now() - s.t0));
    printf("%s/summary.csv%s\n", s.dir, where);

done:
    free(s.results);
    free(action);
    free(why);
    free(seen);
    nl_sweep_plan_free(&p);
    nl_experiment_free(&e);
    return exit_status;
}
