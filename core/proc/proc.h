/* Child processes: one way to start a program, feed it, read it and wait
 * for it. A child is started from an argv, never through a shell (the
 * arguments come from files and command lines, and a shell would read them
 * as code). It inherits this process's environment and, unless told
 * otherwise, reads and writes /dev/null: nothing it does reaches this
 * process's terminal by accident. Every descriptor this module makes is
 * close-on-exec, so that a child another thread starts at the same moment
 * holds none of them. A failure to start (no such program, a directory it
 * cannot enter) is an error of nl_proc_start, not an exit status: the child
 * reports it through a pipe that closes when exec succeeds. */
#ifndef NL_PROC_H
#define NL_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/status.h"

/* where one of a child's standard streams goes */
typedef enum {
    NL_PROC_NULL,    /* /dev/null (the zero value) */
    NL_PROC_INHERIT, /* this process's own */
    NL_PROC_FD,      /* nl_proc_stream.fd, which the caller keeps and closes */
    /* a pipe to this process: stdin's write end in nl_proc.to_child, the
     * read end of stdout's or stderr's in nl_proc.from_child (both pipes:
     * one pipe, their output interleaved as the child wrote it) */
    NL_PROC_PIPE,
} nl_proc_stream_kind;

typedef struct {
    nl_proc_stream_kind kind;
    int fd; /* NL_PROC_FD */
} nl_proc_stream;

typedef struct {
    const char *const *argv; /* NULL-terminated */
    const char *path;        /* the program's file; NULL: argv[0] */
    bool search_path;        /* the program is a name looked up on PATH, not a path */
    const char *dir;         /* the child's working directory; NULL: this process's */
    nl_proc_stream in, out, err;
    /* the child gets SIGTERM when the thread that started it ends (its
     * process killed, say), and does not start when that already happened */
    bool die_with_parent;
    const sigset_t *mask; /* the child's blocked signals; NULL: none */
} nl_proc_spec;

/* a started child */
typedef struct {
    pid_t pid;      /* 0 once nl_proc_wait has seen it end */
    int to_child;   /* stdin NL_PROC_PIPE: the write end (close it to end the child's input), else -1 */
    int from_child; /* stdout or stderr NL_PROC_PIPE: the read end, else -1 */
    double started; /* CLOCK_MONOTONIC seconds, just before it was started */
    char program[128]; /* the program, for messages */
} nl_proc;

/* how a child ended */
typedef struct {
    bool ended;  /* false: still running when the wait's time was up */
    bool exited; /* exited with `code`; otherwise killed by `signal` */
    int code;
    int signal;
    double wall_s; /* from its start to the wait that saw it end */
    double cpu_s;  /* its CPU seconds, user and system, with its children's it waited for */
} nl_proc_end;

/* Starts the child. NL_ERR_UNSUPPORTED when the program is not there (no
 * such file, or not found on PATH), NL_ERR_RUNTIME for any other failure;
 * either way there is no child left. The caller closes p->to_child and
 * p->from_child where they are open and waits for the child. */
nl_code nl_proc_start(const nl_proc_spec *spec, nl_proc *p, nl_error *err);

/* Waits up to timeout_s seconds (< 0: until it ends; 0: only looks) for the
 * child to end; end->ended says whether it did. An error when the child
 * cannot be waited for (SIGCHLD ignored: the kernel reaped it). */
nl_code nl_proc_wait(nl_proc *p, double timeout_s, nl_proc_end *end, nl_error *err);

/* sends a running child a signal */
void nl_proc_signal(const nl_proc *p, int sig);

/* what a child wrote, '\0'-terminated (malloc'd: the caller frees text) */
typedef struct {
    char *text;
    size_t len;
    bool cut; /* it wrote more than the bound: text holds its start */
} nl_proc_output;

/* Reads fd to its end, keeping at most `max` bytes and reading the rest
 * away, so that a child writing on does not die of SIGPIPE half way. */
nl_code nl_proc_read(int fd, const char *program, size_t max, nl_proc_output *out, nl_error *err);

/* Starts the child (stdin not a pipe), reads what it writes to its
 * NL_PROC_PIPE stream (out->text "" when none is) and waits for its end.
 * On an error nothing is left to free and no child is left running. */
nl_code nl_proc_run(const nl_proc_spec *spec, size_t max, nl_proc_output *out, nl_proc_end *end,
                    nl_error *err);

/* "exit status 3" or "killed by signal 9" */
void nl_proc_describe(const nl_proc_end *end, char *buf, size_t size);

/* one number for it, as a shell gives it: the exit status, or 128 + the signal */
int nl_proc_status(const nl_proc_end *end);

#endif
