/* normlab run: trains one model from a config. Progress goes to stderr (a
 * bar on a terminal, a line every few seconds otherwise); the one-line
 * result goes to stdout. */
#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/files.h"
#include "cmd.h"
#include "int_options.h"
#include "config/config.h"
#include "data/share.h"
#include "dist/dist.h"
#include "results/crash.h"
#include "sweep/sched.h"
#include "tensorboard/live.h"
#include "train/run.h"

/* a measured value, or what stands in its place: a diverged loss is
 * "not finite" (printf's "-nan" read as a glitch), an evaluation never made
 * "none" */
static const char *result_value(char *buf, size_t size, const char *fmt, double value)
{
    if (isnan(value))
        snprintf(buf, size, "none");
    else if (!isfinite(value))
        snprintf(buf, size, "not finite");
    else
        snprintf(buf, size, fmt, value);
    return buf;
}

static atomic_int stop_requested;

static void on_signal(int sig)
{
    stop_requested = 1;
    /* a second signal ends the process at once */
    signal(sig, SIG_DFL);
}

/* A fatal signal (results/crash.h): the record the run prepared goes over its
 * "running" summary, then the signal ends the process as it would have
 * (SA_RESETHAND left the default action; the signal, blocked in here, is
 * taken on return), so a parent's waitpid still sees it. Written from inside
 * the dying process rather than by a supervising parent: `normlab run` stays
 * one process (its pid the one mpirun, a job scheduler or a sweep knows),
 * and a sweep, the parent it has, records what this handler could not. */
static void on_crash(int sig)
{
    nl_crash_record_write(sig);
    raise(sig);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: normlab run CONFIG.yaml [--set KEY=VALUE]... [--out DIR] [--threads N]\n"
            "                   [--device cpu|cuda] [--force] [--quiet]\n\n"
            "Trains one model and writes a run directory (default results/<name>/):\n"
            "  config.yaml   the resolved config (defaults filled in, overrides applied)\n"
            "  metrics.csv   step,epoch,split,loss,accuracy,lr,elapsed_s (split: train, test,\n"
            "                test_trainmode)\n"
            "  summary.json  status (ok, diverged, failed, stopped), final and best metrics, timing\n"
            "  trace.csv     activation percentiles, when train.trace is set\n\n"
            "options:\n"
            "  --set KEY=VALUE  override a config key, e.g. --set model.norm.type=group (repeatable)\n"
            "  --out DIR        write the run directory here\n"
            "  --threads N      CPU threads, as the config's threads key (0: the cores other\n"
            "                   processes leave free when the run starts)\n"
            "  --device D       cpu or cuda (overrides the config)\n"
            "  --force          replace a finished run in the directory (its final model and\n"
            "                   eval records go), or start an unfinished one over instead of\n"
            "                   resuming its checkpoint (never a directory normlab did not\n"
            "                   make, nor one another process is writing)\n"
            "  --quiet          no progress output\n"
            "  --pause-at-step N, --pause-at-epoch N\n"
            "                   a sweep's stop rule (stop:) waits there: a checkpoint, and the\n"
            "                   run ends as stopped; run again without it, it goes on bit for bit\n\n"
            "The run directory is normlab's (it holds .normlab-run) and has one writer: --out\n"
            "into a non-empty directory normlab did not make, or one another run is writing,\n"
            "is refused (exit status 2) and nothing is written.\n"
            "A diverged run (NaN or exploding loss) is a result: exit status 0.\n"
            "Ctrl-C (or SIGTERM, or a closed terminal's SIGHUP unless under nohup) stops\n"
            "after the current step and records the run as failed; a second\n"
            "Ctrl-C stops at once.\n\n"
            "Under MPI (mpirun -np R normlab run ...) the R ranks train one model: each takes\n"
            "1/R of every batch (train.batch_size is the global batch, a multiple of R) and the\n"
            "gradients are averaged over the ranks; rank 0 alone writes the run directory.\n"
            "model.norm.sync: true makes batch norm's statistics those of the global batch.\n"
            "Rank 0 writes the checkpoints, and every rank resumes from them, on this rank\n"
            "count or (unless a layer's training depends on the split) another. A rank that\n"
            "waits NORMLAB_MPI_TIMEOUT seconds (default 600) for the others in one exchange\n"
            "ends the run as failed on every rank.\n"
            "Exit status: 0 ok or diverged, 1 failed at run time, 2 bad usage, config or data.\n");
}

/* Where a run's words go and what stops it: the process's streams and its
 * signal handlers for `normlab run`; the run's stderr.txt and the sweep's
 * flag for a run that is a thread of a sweep. */
typedef struct {
    FILE *out, *err;
    atomic_int *stop;
    bool own_signals; /* a process of its own: SIGINT and SIGTERM set *stop */
    nl_data_share *data_share; /* a sweep's runs as threads share their datasets */
} run_io;

typedef struct {
    bool quiet, tty;
    double last_line;
    bool drew_bar;
    FILE *err;
} progress_state;

static void show_progress(void *ctx, const nl_progress *p)
{
    progress_state *ps = ctx;
    if (ps->quiet)
        return;
    char eta[32], acc[32];
    if (isnan(p->test_accuracy))
        snprintf(acc, sizeof acc, "-");
    else
        snprintf(acc, sizeof acc, "%.2f%%", 100.0 * p->test_accuracy);
    const double frac = p->total_steps ? (double)p->step / (double)p->total_steps : 1.0;
    if (ps->tty) {
        char text[160];
        snprintf(text, sizeof text, "%ld/%ld ep %.2f loss %.4f test acc %s %.0f samples/s ETA %s",
                 p->step, p->total_steps, p->epoch, p->train_loss, acc, p->samples_per_s,
                 nl_cmd_duration(eta, sizeof eta, p->eta_s));
        nl_cmd_draw_bar(frac, text);
        ps->drew_bar = true;
        return;
    }
    const double now = nl_cmd_now();
    if (now - ps->last_line < 5.0 && p->step != p->total_steps)
        return;
    ps->last_line = now;
    fprintf(ps->err, "step %ld/%ld (%.0f%%) epoch %.2f loss %.4f test acc %s %.0f samples/s, %s left\n",
            p->step, p->total_steps, 100.0 * frac, p->epoch, p->train_loss, acc, p->samples_per_s,
            nl_cmd_duration(eta, sizeof eta, p->eta_s));
}

static void show_note(void *ctx, const char *message)
{
    progress_state *ps = ctx;
    if (!ps->quiet)
        fprintf(ps->err, "normlab run: %s\n", message);
}

/* what a `normlab run` command line asks for (or a sweep's run
 * description, which is the same thing without the spelling) */
typedef struct {
    const char *config_path, *out_dir;
    const char *overrides[256]; /* --set, and --threads as threads=N */
    int n_overrides, device;     /* device: -1 for the config's */
    bool force, quiet;
    long pause_at;               /* a sweep's stop rule: --pause-at-step N or --pause-at-epoch N */
    bool pause_in_epochs;
    char threads_set[32];
    char command[2048];          /* the command line, recorded in the run */
} run_args;

static int run_with(const run_args *a, nl_dist *dist, const run_io *io);
static int parse_run_args(int argc, char **argv, run_args *a);
/* a rank other than 0: its stderr while /dev/null stands in for it */
static int saved_stderr = -1;

/* Under MPI every rank runs the command; rank 0 speaks for them all. The
 * others read the same config and fail on bad input exactly as rank 0
 * does, so they stay quiet, except for an error at run time that is their
 * own (its message goes to their saved stderr). */
int cmd_run(int argc, char **argv)
{
    nl_dist *dist = NULL;
    nl_error err = {0};
    if (nl_dist_open(&dist, &err) != NL_OK)
        return nl_cmd_report("run", &err);
    if (nl_dist_rank(dist) != 0) {
        const int null_fd = nl_open_system("/dev/null", O_WRONLY);
        saved_stderr = dup(STDERR_FILENO);
        if (null_fd >= 0) {
            dup2(null_fd, STDOUT_FILENO);
            dup2(null_fd, STDERR_FILENO);
            close(null_fd);
        }
    }
    const run_io io = {.out = stdout, .err = stderr, .stop = &stop_requested, .own_signals = true};
    run_args *a = calloc(1, sizeof *a);
    int status = a ? parse_run_args(argc, argv, a) : 1;
    if (status < 0)
        status = run_with(a, dist, &io);
    free(a);
    if (saved_stderr >= 0) {
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;
    }
    /* a rank that failed while training leaves the others inside a
     * collective it will never join */
    if (status == 1 && nl_dist_size(dist) > 1)
        nl_dist_abort(dist, status);
    nl_dist_close(dist);
    return status;
}

/* joins words into a command line: "normlab run a.yaml --out d ..." */
static void join_words(const char *const *words, int n, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used < size - 2; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? " " : "", words[i]);
}

/* The command line of a sweep's run: `normlab run` spelt for a
 * description (an nl_sweep_exec_options.command_line). */
void nl_cmd_run_command_line(const nl_sweep_run_desc *run, nl_sweep_command *out)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%d", run->threads);
    const char *words[NL_SWEEP_MAX_ARGS];
    int n = 0;
    words[n++] = "normlab";
    words[n++] = "run";
    words[n++] = run->config_path;
    words[n++] = "--out";
    words[n++] = run->out_dir;
    if (run->quiet)
        words[n++] = "--quiet";
    words[n++] = "--threads";
    words[n++] = threads;
    if (run->force)
        words[n++] = "--force";
    char pause[24];
    if (run->pause_at > 0) {
        snprintf(pause, sizeof pause, "%ld", run->pause_at);
        words[n++] = run->pause_in_epochs ? "--pause-at-epoch" : "--pause-at-step";
        words[n++] = pause;
    }
    memset(out, 0, sizeof *out);
    size_t used = 0;
    for (int i = 0; i < n && used + strlen(words[i]) + 1 <= sizeof out->text; i++) {
        out->argv[out->argc++] = out->text + used;
        memcpy(out->text + used, words[i], strlen(words[i]) + 1);
        used += strlen(words[i]) + 1;
    }
    out->argv[out->argc] = NULL;
}

/* A sweep's run as a thread of the sweep's process: its description taken
 * as `normlab run` would take the command line that spells it; what that
 * process would print goes to the run's log, and the sweep's flag stops it. */
int nl_cmd_run_in_thread(void *ctx, const nl_sweep_run_desc *run, int log_fd, atomic_int *stop)
{
    run_args *a = calloc(1, sizeof *a);
    const int fd = dup(log_fd);
    FILE *log = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!log || !a) {
        if (fd >= 0 && !log)
            close(fd);
        if (log)
            fclose(log);
        free(a);
        return 1;
    }
    setvbuf(log, NULL, _IOLBF, 0);
    a->config_path = run->config_path;
    a->out_dir = run->out_dir;
    a->device = -1;
    a->force = run->force;
    a->quiet = run->quiet;
    a->pause_at = run->pause_at;
    a->pause_in_epochs = run->pause_in_epochs;
    snprintf(a->threads_set, sizeof a->threads_set, "threads=%d", run->threads);
    a->overrides[a->n_overrides++] = a->threads_set;
    nl_sweep_command line;
    nl_cmd_run_command_line(run, &line);
    join_words((const char *const *)line.argv, line.argc, a->command, sizeof a->command);
    const run_io io = {.out = log, .err = log, .stop = stop, .data_share = ctx};
    const int status = run_with(a, NULL, &io);
    free(a);
    return fclose(log) == 0 || status ? status : 1;
}

/* One option with its value (--set, --out, --threads, --device) into a;
 * -1 when taken, else the exit status of a usage error. */
static int take_valued_option(const char *opt, const char *v, const char *next, run_args *a)
{
    if (strcmp(opt, "--set") == 0) {
        if (nl_cmd_check_set("run", v, next))
            return 2;
        if (a->n_overrides == 256)
            return nl_cmd_usage_error("run", "too many --set options (at most 256)");
        a->overrides[a->n_overrides++] = v;
    } else if (strcmp(opt, "--out") == 0) {
        /* "" (an unset variable) is not "no --out": refused, not
         * quietly replaced by results/<name>/ */
        if (!v[0])
            return nl_cmd_usage_error("run", "--out needs a directory, got ''");
        a->out_dir = v;
    } else if (strcmp(opt, "--threads") == 0) {
        int t;
        const int rc = nl_cmd_int_arg("run", opt, v, &t);
        if (rc)
            return rc;
        /* the config's own key, so that 0 means what threads: 0 means
         * and config.yaml records the count asked for */
        if (a->n_overrides == 256)
            return nl_cmd_usage_error("run", "too many --set options (at most 256)");
        snprintf(a->threads_set, sizeof a->threads_set, "threads=%d", t);
        a->overrides[a->n_overrides++] = a->threads_set;
    } else if (strcmp(opt, "--pause-at-step") == 0 || strcmp(opt, "--pause-at-epoch") == 0) {
        int n;
        const int rc = nl_cmd_int_arg("run", opt, v, &n);
        if (rc)
            return rc;
        a->pause_at = n;
        a->pause_in_epochs = opt[11] == 'e';
    } else if (nl_cmd_device_arg("run", v, &a->device)) {
        return 2;
    }
    return -1;
}

/* `normlab run`'s command line into a: -1 when it asks for a run, else the
 * exit status (0 after --help, 2 after a usage error) */
static int parse_run_args(int argc, char **argv, run_args *a)
{
    a->device = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (nl_cmd_is_help(arg)) {
            usage(stdout);
            return 0;
        } else if (strcmp(arg, "--set") == 0 || strcmp(arg, "--out") == 0 ||
                   strcmp(arg, "--threads") == 0 || strcmp(arg, "--device") == 0 ||
                   strcmp(arg, "--pause-at-step") == 0 || strcmp(arg, "--pause-at-epoch") == 0) {
            if (i + 1 >= argc)
                return nl_cmd_usage_error("run", "%s needs a value", arg);
            const char *v = argv[++i];
            const int status = take_valued_option(arg, v, i + 1 < argc ? argv[i + 1] : NULL, a);
            if (status >= 0)
                return status;
        } else if (strcmp(arg, "--force") == 0) {
            a->force = true;
        } else if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
            a->quiet = true;
        } else if (arg[0] == '-' && arg[1]) {
            return nl_cmd_usage_error("run", "unknown option '%s'", arg);
        } else if (a->config_path) {
            return nl_cmd_usage_error("run", "one config at a time ('%s' and '%s'); use normlab "
                                      "sweep for several", a->config_path, arg);
        } else {
            a->config_path = arg;
        }
    }
    if (!a->config_path)
        return nl_cmd_usage_error("run", "no config file given");
    size_t used = 0;
    for (int i = 0; i < argc && used < sizeof a->command - 2; i++)
        used += (size_t)snprintf(a->command + used, sizeof a->command - used, "%s%s",
                                 i ? " " : "normlab ", argv[i]);
    return -1;
}

/* the result line, and what the user must know of how the run got there */
static void print_outcome(const run_args *a, const nl_run_outcome *out, FILE *o)
{
    const nl_train_result *r = &out->result;
    char wall[32];
    fprintf(o, "%s: %s", out->dir, nl_run_status_name(r->status));
    if (r->reason[0])
        fprintf(o, " (%s)", r->reason);
    char acc[32], best[32], loss[32];
    fprintf(o, ", test accuracy %s (best %s), test loss %s, %ld steps in %s, %.0f samples/s on %d thread%s\n",
           result_value(acc, sizeof acc, "%.2f%%", 100.0 * r->final_test_accuracy),
           result_value(best, sizeof best, "%.2f%%", 100.0 * r->best_test_accuracy),
           /* a NaN loss with an accuracy is a diverged evaluation, not a missing one */
           result_value(loss, sizeof loss, "%.4f",
                        isnan(r->final_test_accuracy) || !isnan(r->final_test_loss)
                            ? r->final_test_loss : INFINITY),
           r->steps, nl_cmd_duration(wall, sizeof wall, r->wall_s), r->samples_per_s, out->threads,
           out->threads == 1 ? "" : "s");
    if (out->removed_evals > 0)
        fprintf(o, "%s: removed the %d eval record%s (eval/) of the run it replaced\n", out->dir,
                out->removed_evals, out->removed_evals == 1 ? "" : "s");
    if (out->resumed_from > 0)
        fprintf(o, "%s: resumed from the checkpoint at step %ld\n", out->dir, out->resumed_from);
    /* nl_run's note said it unless --quiet (a sweep's runs): the result
     * line says it too, since these results may differ in their last bits
     * from an uninterrupted run's */
    if (a->quiet && out->resumed_from > 0 && out->resumed_threads != out->threads)
        fprintf(o, "%s: the checkpoint was taken on %d thread%s, this run has %d: the last "
                "bits of matrix products and convolution gradients may differ from an "
                "uninterrupted run's\n", out->dir, out->resumed_threads,
                out->resumed_threads == 1 ? "" : "s", out->threads);
    if (a->quiet && out->resumed_from > 0 && out->resumed_ranks != out->ranks)
        fprintf(o, "%s: the checkpoint was taken on %d MPI rank%s, this run has %d: the "
                "losses go on as the uninterrupted run's to float rounding, not bit for bit\n",
                out->dir, out->resumed_ranks, out->resumed_ranks == 1 ? "" : "s", out->ranks);
    if (out->ranks > 1)
        fprintf(o, "  (%d MPI ranks, %d samples each per step)\n", out->ranks, out->rank_batch);
}

static int run_with(const run_args *a, nl_dist *dist, const run_io *io)
{
    /* handlers first: a sweep may signal a run at any moment after fork */
    if (io->own_signals) {
        /* the handler runs on a stack of its own: a signal that lands in a
         * library's JIT code (oneDNN's sgemm) would otherwise push its frame
         * over whatever that code keeps below the stack pointer, and the
         * process aborted later on a corrupted heap (test_lock) */
        static char handler_stack[65536];
        const stack_t alt = {.ss_sp = handler_stack, .ss_size = sizeof handler_stack};
        struct sigaction sa = {0};
        sa.sa_handler = on_signal;
        if (sigaltstack(&alt, NULL) == 0)
            sa.sa_flags = SA_ONSTACK;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        /* a closed terminal stops the run the same way (it ended the
         * process, whose summary said running for good); under nohup,
         * which ignores SIGHUP, it stays ignored */
        struct sigaction hup;
        if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN)
            sigaction(SIGHUP, &sa, NULL);
        /* on the same stack: a stack overflow's SIGSEGV has none left */
        struct sigaction crash = {.sa_handler = on_crash, .sa_flags = sa.sa_flags | SA_RESETHAND};
        for (int sig = 1; sig < NSIG; sig++)
            if (nl_crash_signal(sig))
                sigaction(sig, &crash, NULL);
    }
    nl_config *cfg = calloc(1, sizeof *cfg);
    nl_error err = {0};
    if (!cfg)
        return 1;
    if (nl_config_load(a->config_path, a->overrides, a->n_overrides, cfg, &err) != NL_OK) {
        free(cfg);
        return nl_cmd_report_to(io->err, "run", &err);
    }
    for (int i = 0; i < cfg->n_warnings; i++)
        fprintf(io->err, "normlab run: warning: %s\n", cfg->warnings[i]);

    progress_state ps = {.quiet = a->quiet, .tty = isatty(fileno(io->err)), .last_line = -1e9, .err = io->err};
    nl_tb_live tensorboard;
    const nl_output_sink tensorboard_sink = nl_tb_live_sink(&tensorboard, cfg->train.log_tensorboard);
    nl_run_options opt = {
        .out_dir = a->out_dir, .force = a->force, .device = a->device,
        .command_line = a->command, .progress = show_progress, .note = show_note, .ctx = &ps,
        .stop = io->stop, .dist = dist, .data_share = io->data_share, .output = &tensorboard_sink,
        .pause_at = a->pause_at, .pause_in_epochs = a->pause_in_epochs,
        .record_crash = io->own_signals,
    };
    nl_run_outcome out;
    nl_code rc = nl_run(cfg, &opt, &out, &err);
    if (ps.drew_bar)
        fprintf(io->err, "\n");
    free(cfg);
    if (rc != NL_OK) {
        /* at run time each rank's failure may be its own: every rank says
         * it, naming itself (bad input is every rank's alike: rank 0's) */
        if (nl_dist_size(dist) > 1 && nl_code_exit_status(rc) == 1) {
            if (saved_stderr >= 0)
                dup2(saved_stderr, STDERR_FILENO);
            char who[64];
            snprintf(who, sizeof who, "run: rank %d of %d", nl_dist_rank(dist), nl_dist_size(dist));
            return nl_cmd_report_to(stderr, who, &err);
        }
        return nl_cmd_report_to(io->err, "run", &err);
    }
    print_outcome(a, &out, io->out);
    return out.result.status == NL_RUN_FAILED ? 1 : 0;
}
