/* The subcommands, one file each, and what they share. A subcommand returns
 * the process exit status: 0 success, 1 failure at run time, 2 bad usage,
 * bad config or bad input data. */
#ifndef NL_CMD_H
#define NL_CMD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/status.h"
#include "sweep/sched.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
} nl_command;

/* each subcommand's entry point (commands.def) */
#define NL_COMMAND(name, summary) int cmd_##name(int argc, char **argv);
#include "commands.def"
/* `normlab bench --run`: real runs of a config, end to end (cmd/bench_run.c) */
int nl_cmd_bench_run(int argc, char **argv);
/* the threading knobs that change bench numbers (OMP_*, GOMP_SPINCOUNT,
 * OPENBLAS_NUM_THREADS), as "default" or "VAR=value+...", for the CSV rows
 * of both bench modes (cmd/bench.c) */
void nl_bench_describe_setting(char *buf, size_t size);

/* prints "normlab <cmd>: <message>" on stderr and returns the exit status */
int nl_cmd_report(const char *command, const nl_error *err);
/* the same on `stream` */
/* Text that may hold what a file held (a value, a claim id) onto a
 * terminal: control bytes but line feed and tab as \xNN, so that a file
 * cannot send the terminal escape sequences */
void nl_cmd_put_text(FILE *stream, const char *text);
int nl_cmd_report_to(FILE *stream, const char *command, const nl_error *err);
/* A sweep's run as a thread of the sweep: `normlab run` as its description
 * asks, its output to log_fd, *stop stops it (an nl_sweep_thread_fn) */
int nl_cmd_run_in_thread(void *ctx, const nl_sweep_run_desc *run, int log_fd, atomic_int *stop);
/* the `normlab run` command line of a sweep's run (argv[0] "normlab"): what
 * its process is started with (an nl_sweep_exec_options.command_line) */
void nl_cmd_run_command_line(const nl_sweep_run_desc *run, nl_sweep_command *out);
/* usage error: prints the message and a pointer to --help, returns 2 */
int nl_cmd_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* --device's value (a name of nl_device_names) into *device: 0, or the
 * exit status of the usage error it printed, naming the accepted devices */
int nl_cmd_device_arg(const char *command, const char *text, int *device);
/* A word of the command line that no option of the command took: an
 * unknown option ("-x") or a second operand is a usage error (returns 2;
 * "one WHAT at a time ('first' and 'second')"); else it becomes *operand
 * (returns 0). */
int nl_cmd_operand(const char *command, const char *arg, const char **operand, const char *what);
/* the same for a command of up to `max` operands, taken into operands[*n]
 * ("at most MAX WHAT") */
int nl_cmd_operands(const char *command, const char *arg, const char **operands, int *n, int max,
                    const char *what);
/* checks a --set argument (KEY=VALUE in one word); `next` is the argument
 * after it or NULL. 0 when fine, else prints a usage error and returns 2 */
int nl_cmd_check_set(const char *command, const char *assignment, const char *next);
/* takes the --set at argv[*i] (and its KEY=VALUE) into list[*n], moving *i
 * past it; 0, or a usage error's exit status */
int nl_cmd_take_set(const char *command, int argc, char **argv, int *i, const char **list, int *n,
                    int max);
/* true for -h and --help */
int nl_cmd_is_help(const char *arg);

/* An option of a command's table: a switch sets *flag; any other takes
 * the next word, stored in *text and then handed to take, which refuses
 * it with the exit status of the usage error it printed (0: taken). */
typedef struct {
    const char *name;
    bool *flag;
    const char **text;
    int (*take)(void *ctx, const char *option, const char *value);
    const char *needs; /* what the error for a missing value names; NULL: "a value" */
    bool nonempty;     /* an empty word is a missing value */
} nl_cmd_option;

/* A command line's table: options (ended by a NULL name) and where the
 * other words go, the one operand (operand) or up to max_operands
 * (operands, n_operands); what names them in the usage errors, missing is
 * the error for none (NULL: none is fine) */
typedef struct {
    const char *command;
    void (*usage)(FILE *out);
    const nl_cmd_option *options;
    void *ctx; /* for the options' take */
    const char **operand;
    const char **operands;
    int *n_operands, max_operands;
    const char *what, *missing;
} nl_cmd_line;

/* -h or --help printed the usage on stdout */
#define NL_CMD_HELP (-1)
/* Takes argv[1..] word by word, in order, by line's table: 0, NL_CMD_HELP,
 * or the exit status of the usage error it printed (an unknown option, a
 * missing value, an operand too many, a value take refused, no operand). */
int nl_cmd_walk(const nl_cmd_line *line, int argc, char **argv);
/* monotonic seconds, for progress displays */
double nl_cmd_now(void);
/* redraws the progress line on a terminal: a bar and `text`, fitted to the
 * terminal's width (the bar shrinks, then goes; the text is cut last) */
void nl_cmd_draw_bar(double fraction, const char *text);
/* "42s", "3m07s", "1h05m" ("?" for a negative or non-finite time) */
const char *nl_cmd_duration(char *buf, size_t size, double seconds);
/* the version line: version, commit, CPU backend, CUDA support */
void nl_cmd_print_version(void);

#endif
