/* Child processes (proc.h): fork, the child's streams and signals set up
 * before exec, a start that failed reported back as an error, waiting with
 * a timeout, and reading what a child writes. */
#define _GNU_SOURCE /* pipe2, execvp */
#include "log/files.h"
#include "proc/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* the descriptors a start makes; [0] of a pipe is its read end */
typedef struct {
    int null_fd;
    int in[2], out[2];
    int report[2]; /* the child's reason it could not start; closed by a successful exec */
    int source[3]; /* what the child's stdin, stdout and stderr become; -1: left as they are */
} plumbing;

static void plumbing_close(plumbing *pl)
{
    close_fd(&pl->null_fd);
    for (int i = 0; i < 2; i++) {
        close_fd(&pl->in[i]);
        close_fd(&pl->out[i]);
        close_fd(&pl->report[i]);
    }
}

static nl_code plumb_stream(const nl_proc *p, const nl_proc_stream *s, int target, plumbing *pl,
                            nl_error *err)
{
    int *pair = target == 0 ? pl->in : pl->out;
    switch (s->kind) {
    case NL_PROC_NULL:
        if (pl->null_fd < 0 && (pl->null_fd = nl_open_system("/dev/null", O_RDWR)) < 0)
            return nl_fail(err, NL_ERR_RUNTIME, "cannot run %s: /dev/null: %s", p->program, strerror(errno));
        pl->source[target] = pl->null_fd;
        return NL_OK;
    case NL_PROC_FD:
        pl->source[target] = s->fd;
        return NL_OK;
    case NL_PROC_PIPE:
        if (pair[0] < 0 && pipe2(pair, O_CLOEXEC) != 0)
            return nl_fail(err, NL_ERR_RUNTIME, "cannot run %s: pipe: %s", p->program, strerror(errno));
        pl->source[target] = target == 0 ? pair[0] : pair[1];
        return NL_OK;
    default: /* NL_PROC_INHERIT */
        pl->source[target] = -1;
        return NL_OK;
    }
}

/* where the child failed before its program ran, as it reports it */
typedef enum { STEP_DEATH_SIGNAL, STEP_STREAMS, STEP_DIR, STEP_EXEC } start_step;

typedef struct {
    start_step step;
    int error; /* errno */
} start_failure;

static _Noreturn void child_fail(int report, start_step step)
{
    const start_failure f = {step, errno};
    const ssize_t wrote = write(report, &f, sizeof f);
    (void)wrote;
    _exit(127);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static _Noreturn void child_main(const nl_proc_spec *spec, const plumbing *pl, pid_t parent)
{
    const int report = pl->report[1];
    if (spec->die_with_parent) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
            child_fail(report, STEP_DEATH_SIGNAL);
        if (getppid() != parent) /* it ended before prctl took effect */
            _exit(127);
    }
    /* every source moved above the standard descriptors first, so that
     * placing one cannot overwrite another still to be placed; dup2 leaves
     * the placed copies open across exec */
    int moved[3];
    for (int i = 0; i < 3; i++) {
        moved[i] = pl->source[i];
        if (moved[i] >= 0 && moved[i] < 3 && (moved[i] = fcntl(moved[i], F_DUPFD_CLOEXEC, 3)) < 0)
            child_fail(report, STEP_STREAMS);
    }
    for (int i = 0; i < 3; i++)
        if (moved[i] >= 0 && dup2(moved[i], i) < 0)
            child_fail(report, STEP_STREAMS);
    /* an ignored SIGCHLD would survive exec and make the kernel reap the
     * program's own children; a handler is reset by exec */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGCHLD, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, spec->mask ? spec->mask : &none, NULL);
    if (spec->dir && chdir(spec->dir) != 0)
        child_fail(report, STEP_DIR);
    const char *program = spec->path ? spec->path : spec->argv[0];
    if (spec->search_path)
        execvp(program, (char *const *)spec->argv);
    else
        execv(program, (char *const *)spec->argv);
    child_fail(report, STEP_EXEC);
}

/* the child's report of a failed start, read once exec closed it or the
 * child wrote it: NL_OK when the program runs */
static nl_code read_report(nl_proc *p, const nl_proc_spec *spec, int report, nl_error *err)
{
    start_failure f;
    ssize_t got;
    while ((got = read(report, &f, sizeof f)) < 0 && errno == EINTR) {
    }
    if (got != (ssize_t)sizeof f)
        return NL_OK;
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    p->pid = 0;
    const char *what = f.step == STEP_DEATH_SIGNAL ? "prctl: " : f.step == STEP_STREAMS ? "its streams: " : "";
    if (f.step == STEP_DIR)
        return nl_fail(err, NL_ERR_RUNTIME, "cannot run %s in %s: %s", p->program, spec->dir,
                       strerror(f.error));
    if (f.step == STEP_EXEC && f.error == ENOENT)
        return nl_fail(err, NL_ERR_UNSUPPORTED, "cannot run %s: %s", p->program,
                       spec->search_path ? "not found on PATH" : "no such file");
    return nl_fail(err, NL_ERR_RUNTIME, "cannot run %s: %s%s", p->program, what, strerror(f.error));
}

nl_code nl_proc_start(const nl_proc_spec *spec, nl_proc *p, nl_error *err)
{
    *p = (nl_proc){.to_child = -1, .from_child = -1};
    nl_copy_string(p->program, sizeof p->program, spec->path ? spec->path : spec->argv[0]);
    plumbing pl = {.null_fd = -1, .in = {-1, -1}, .out = {-1, -1}, .report = {-1, -1}};
    const nl_proc_stream *streams[3] = {&spec->in, &spec->out, &spec->err};
    nl_code rc = NL_OK;
    for (int i = 0; i < 3 && rc == NL_OK; i++)
        rc = plumb_stream(p, streams[i], i, &pl, err);
    if (rc == NL_OK && pipe2(pl.report, O_CLOEXEC) != 0)
        rc = nl_fail(err, NL_ERR_RUNTIME, "cannot run %s: pipe: %s", p->program, strerror(errno));
    if (rc) {
        plumbing_close(&pl);
        return rc;
    }
    fflush(NULL); /* this process's buffered output before the child's */
    const pid_t parent = getpid();
    p->started = now();
    p->pid = fork();
    if (p->pid == 0)
        child_main(spec, &pl, parent);
    if (p->pid < 0) {
        p->pid = 0;
        plumbing_close(&pl);
        return nl_fail(err, NL_ERR_RUNTIME, "cannot run %s: fork: %s", p->program, strerror(errno));
    }
    p->to_child = pl.in[1];
    p->from_child = pl.out[0];
    pl.in[1] = pl.out[0] = -1;
    close_fd(&pl.report[1]); /* else the read below would wait on this process's own copy */
    rc = read_report(p, spec, pl.report[0], err);
    plumbing_close(&pl);
    if (rc) {
        close_fd(&p->to_child);
        close_fd(&p->from_child);
    }
    return rc;
}

nl_code nl_proc_wait(nl_proc *p, double timeout_s, nl_proc_end *end, nl_error *err)
{
    *end = (nl_proc_end){0};
    if (p->pid <= 0)
        return nl_fail(err, NL_ERR_RUNTIME, "waiting for %s: it is not running", p->program);
    const double deadline = now() + timeout_s;
    double pause_s = 0.001; /* doubled up to 50 ms while it runs */
    for (;;) {
        int status = 0;
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        const pid_t got = wait4(p->pid, &status, timeout_s < 0 ? 0 : WNOHANG, &ru);
        if (got == p->pid) {
            *end = (nl_proc_end){.ended = true, .exited = WIFEXITED(status),
                                 .code = WIFEXITED(status) ? WEXITSTATUS(status) : 0,
                                 .signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                                 .wall_s = now() - p->started,
                                 .cpu_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                                          (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec};
            p->pid = 0;
            return NL_OK;
        }
        if (got < 0 && errno != EINTR) /* SIGCHLD ignored, say: the kernel reaped it */
            return nl_fail(err, NL_ERR_RUNTIME, "waiting for %s: %s", p->program, strerror(errno));
        const double left = deadline - now();
        if (got == 0 && left <= 0)
            return NL_OK;
        if (got == 0) {
            const double nap = left < pause_s ? left : pause_s;
            const struct timespec ts = {(time_t)nap, (long)((nap - (double)(time_t)nap) * 1e9)};
            nanosleep(&ts, NULL);
            pause_s = pause_s * 2 < 0.05 ? pause_s * 2 : 0.05;
        }
    }
}

void nl_proc_signal(const nl_proc *p, int sig)
{
    if (p->pid > 0)
        kill(p->pid, sig);
}

nl_code nl_proc_read(int fd, const char *program, size_t max, nl_proc_output *out, nl_error *err)
{
    *out = (nl_proc_output){0};
    size_t cap = 4096 < max + 1 ? 4096 : max + 1;
    out->text = malloc(cap);
    if (!out->text)
        return nl_fail(err, NL_ERR_NOMEM, "reading %s's output: out of memory", program);
    char chunk[65536];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return nl_fail(err, NL_ERR_RUNTIME, "reading %s's output: %s", program, strerror(errno));
        size_t take = (size_t)got;
        if (out->len + take > max) {
            out->cut = true;
            take = max - out->len;
        }
        if (out->len + take + 1 > cap) {
            while (out->len + take + 1 > cap)
                cap *= 2;
            char *grown = realloc(out->text, cap);
            if (!grown)
                return nl_fail(err, NL_ERR_NOMEM, "reading %s's output: out of memory", program);
            out->text = grown;
        }
        memcpy(out->text + out->len, chunk, take);
        out->len += take;
    }
    out->text[out->len] = '\0';
    return NL_OK;
}

nl_code nl_proc_run(const nl_proc_spec *spec, size_t max, nl_proc_output *out, nl_proc_end *end,
                    nl_error *err)
{
    *out = (nl_proc_output){0};
    if (spec->in.kind == NL_PROC_PIPE)
        return nl_fail(err, NL_ERR_RUNTIME, "cannot run %s: nl_proc_run feeds no input (stdin a pipe)",
                       spec->path ? spec->path : spec->argv[0]);
    nl_proc p;
    nl_code rc = nl_proc_start(spec, &p, err);
    if (rc)
        return rc;
    if (p.from_child >= 0)
        rc = nl_proc_read(p.from_child, p.program, max, out, err);
    close_fd(&p.from_child); /* before waiting: a child still writing gets EPIPE, not a hang */
    const nl_code waited = nl_proc_wait(&p, -1, end, err);
    if (rc == NL_OK)
        rc = waited;
    if (rc) {
        free(out->text);
        *out = (nl_proc_output){0};
    }
    return rc;
}

void nl_proc_describe(const nl_proc_end *end, char *buf, size_t size)
{
    if (!end->ended)
        snprintf(buf, size, "still running");
    else if (end->exited)
        snprintf(buf, size, "exit status %d", end->code);
    else
        snprintf(buf, size, "killed by signal %d", end->signal);
}

int nl_proc_status(const nl_proc_end *end)
{
    return end->exited ? end->code : 128 + end->signal;
}
