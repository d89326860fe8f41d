/* normlab: git-style subcommands from one table. */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/names.h"
#include "base/number.h"
#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"
#include "device/device.h"
#include "log/files.h"
#include "plan/plan.h"
#include "cmd.h"
#include "int_options.h"
#include "version_git.h"

static const nl_command commands[] = {
#define NL_COMMAND(name, summary) {#name, cmd_##name, summary},
#include "commands.def"
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

int nl_cmd_operand(const char *command, const char *arg, const char **operand, const char *what)
{
    if (arg[0] == '-' && arg[1])
        return nl_cmd_usage_error(command, "unknown option '%s'", arg);
    if (*operand)
        return nl_cmd_usage_error(command, "one %s at a time ('%s' and '%s')", what, *operand, arg);
    *operand = arg;
    return 0;
}

int nl_cmd_operands(const char *command, const char *arg, const char **operands, int *n, int max,
                    const char *what)
{
    if (arg[0] == '-' && arg[1])
        return nl_cmd_usage_error(command, "unknown option '%s'", arg);
    if (*n == max)
        return nl_cmd_usage_error(command, "at most %d %s", max, what);
    operands[(*n)++] = arg;
    return 0;
}

/* command's option's text parsed within its row's range, the row's range
 * cut to [lo, hi] (an int's, for nl_cmd_int_arg) */
static int take_arg(const char *command, const char *option, const char *text, long long lo, long long hi,
                    long long *out)
{
    const nl_cmd_int_option *row = nl_cmd_int_option_find(command, option);
    /* a parser asking for a row the table lacks, or an int for a row wider
     * than one: the table is the fix, not the user's input */
    if (!row || row->lo < lo || row->hi > hi) {
        fprintf(stderr, "normlab %s: %s has no %srange in cmd/int_options.c\n", command, option,
                row ? "int " : "");
        return 1;
    }
    if (nl_parse_ll(text, row->lo, row->hi, out))
        return 0;
    char range[96];
    return nl_cmd_usage_error(command, "%s: '%s' is not %s", option, text,
                              nl_range_text(range, sizeof range, row->lo, row->hi));
}

int nl_cmd_ll_arg(const char *command, const char *option, const char *text, long long *out)
{
    return take_arg(command, option, text, LLONG_MIN, LLONG_MAX, out);
}

int nl_cmd_int_arg(const char *command, const char *option, const char *text, int *out)
{
    long long v = 0;
    const int rc = take_arg(command, option, text, INT_MIN, INT_MAX, &v);
    if (!rc)
        *out = (int)v;
    return rc;
}

int nl_cmd_device_arg(const char *command, const char *text, int *device)
{
    *device = nl_name_lookup(&nl_device_names, text);
    if (*device >= 0)
        return 0;
    char choices[64];
    return nl_cmd_usage_error(command, "--device: '%s' is not a device; accepted: %s", text,
                              nl_name_choices(&nl_device_names, choices, sizeof choices));
}

double nl_cmd_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *nl_cmd_duration(char *buf, size_t size, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, size, "?");
    else if (s < 60)
        snprintf(buf, size, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    return buf;
}

/* the terminal's width: stderr's window, else $COLUMNS, else 80 */
static int terminal_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *env = getenv("COLUMNS");
    /* anything but a plausible width ("", "80x", 2^32+80) is no width */
    int cols = 80;
    if (env && !nl_parse_int(env, 1, 10000, &cols))
        cols = 80;
    return cols;
}

void nl_cmd_draw_bar(double fraction, const char *text)
{
    /* one column short of the width: a line that fills the last column makes
     * some terminals wrap, and every redraw would then start a new line */
    const int room = terminal_columns() - 1;
    const int text_len = (int)strlen(text);
    int width = room - text_len - 3; /* "[" bar "] " */
    width = width > 24 ? 24 : width;
    if (width < 8) { /* no room for a useful bar: the text alone, cut to fit */
        fprintf(stderr, "\r%.*s\033[K", room > 0 ? room : 0, text);
        return;
    }
    char bar[32];
    const int filled = (int)(fraction * width);
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %s\033[K", bar, text);
}

int nl_cmd_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

/* A variable as this image was started with it, which is what libgomp read
 * when it was loaded (setenv later changes only getenv's view); from
 * /proc/self/environ, or getenv without /proc. */
static bool startup_env(const char *name, char *value, size_t size)
{
    FILE *f = nl_fopen_system("/proc/self/environ");
    if (!f) {
        const char *v = getenv(name);
        if (v)
            snprintf(value, size, "%s", v);
        return v != NULL;
    }
    const size_t len = strlen(name);
    char entry[4096];
    size_t used = 0;
    bool found = false;
    for (int c; !found && (c = fgetc(f)) != EOF;) {
        if (c != '\0') {
            if (used + 1 < sizeof entry)
                entry[used++] = (char)c;
            continue;
        }
        entry[used] = '\0';
        used = 0;
        if (strncmp(entry, name, len) == 0 && entry[len] == '=') {
            snprintf(value, size, "%s", entry + len + 1);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* the core OpenBLAS runs, why, and the core each kernel set pins (the
 * portable tests read the pins: under qemu normlab cannot re-execute) */
static void print_openblas_core(void)
{
    const char *core = nl_cpu_openblas_core();
    const char *pin = nl_cpu_kernel_set_openblas_core(nl_cpu_kernels_index());
    const char *env = getenv("OPENBLAS_CORETYPE");
    printf("openblas core: %s (", core);
    if (pin && env && strcmp(env, pin) == 0 && strcmp(core, pin) == 0)
        printf("%s's", nl_cpu_kernels_name());
    else if (env)
        printf("OPENBLAS_CORETYPE=%s", env);
    else
        printf("OpenBLAS's choice for this CPU");
    printf("; the kernel sets pin");
    for (int i = 0; i < nl_cpu_kernel_set_count(); i++) {
        const char *set_core = nl_cpu_kernel_set_openblas_core(i);
        printf("%s %s %s", i ? "," : "", nl_cpu_kernel_set_name(i),
               set_core ? set_core : "OpenBLAS's choice");
    }
    printf("; OPENBLAS_CORETYPE overrides)\n");
}

/* the library the CPU's fp32 convolutions run on, as a run records it */
static void print_conv_library(void)
{
    nl_conv_library choice;
    nl_error err = {0};
    char record[NL_CONV_LIBRARY_RECORD_BYTES];
    const char *onednn = nl_cpu_onednn_version();
    if (nl_cpu_conv_library_from_env(&choice, &err) != NL_OK)
        choice = NL_CONV_LIBRARY_AUTO; /* main refused it before --version */
    printf("conv library: %s (%s; NORMLAB_CONV picks: auto, normlab%s)\n",
           nl_cpu_conv_library_record(choice, record, sizeof record),
           onednn ? onednn : "built without oneDNN", onednn ? ", onednn" : "");
}

void nl_cmd_print_version(void)
{
    char cpu[256], cuda[256], kernels[512];
    printf("normlab %s (commit %s)\n", NORMLAB_VERSION, NORMLAB_GIT_COMMIT);
    printf("cpu:  %s\n", nl_backend_cpu_description(cpu, sizeof cpu));
    printf("cpu kernels: %s\n", nl_backend_cpu_kernels_description(kernels, sizeof kernels));
    printf("products: %s\n", nl_cpu_gemm_description(kernels, sizeof kernels));
    print_openblas_core();
    print_conv_library();
    nl_backend_cuda_describe(cuda, sizeof cuda);
    printf("cuda: %s\n", cuda);
    char policy[64], spin[64];
    if (startup_env("OMP_WAIT_POLICY", policy, sizeof policy))
        printf("openmp wait: OMP_WAIT_POLICY=%s\n", policy);
    else if (startup_env("GOMP_SPINCOUNT", spin, sizeof spin))
        printf("openmp wait: GOMP_SPINCOUNT=%s (spins at a barrier before sleeping)\n", spin);
    else
        printf("openmp wait: libgomp's default\n");
}

static void print_help(FILE *out)
{
    fprintf(out, "usage: normlab <command> [options]\n"
                 "       normlab --version | --help\n\n"
                 "Trains and compares neural-network normalization schemes.\n\ncommands:\n");
    for (int i = 0; i < n_commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'normlab <command> --help' or 'normlab help <command>' describes a command.\n"
                 "Exit status: 0 success, 1 failure at run time, 2 bad usage, config or data.\n"
                 "Environment: NORMLAB_CPU_KERNELS=auto|SET picks the CPU kernel set (normlab "
                 "--version lists them); NORMLAB_GEMM=auto|openblas|onednn the library of the\n"
                 "matrix products (--version says which this build holds).\n");
}

/* How long an idle OpenMP thread spins at a barrier before it sleeps, in
 * libgomp's pause-loop iterations (its default is 300000, milliseconds of
 * spinning). When another process takes a core after the team was sized,
 * every barrier of a spinning team waits for a descheduled thread: a 2-thread
 * MLP step beside a busy build ran 100x slower. A bounded spin keeps the
 * quiet machine's speed and lets the waiting thread give its core away
 * after about a tenth of a millisecond; the value was chosen with
 * `normlab bench --busy` (results/bench/NOTES.md, "OpenMP spinning"). */
#define NL_OMP_SPINCOUNT "3000"

/* libgomp and OpenBLAS read their environment once, when they are loaded,
 * before main: the spinning bound and OpenBLAS's core (the one the kernel
 * set pins, cpu/host.c) can only take effect in a fresh image, so normlab
 * re-executes itself once with them set. A wait policy or an
 * OPENBLAS_CORETYPE the user set wins; a core OpenBLAS already runs needs
 * no fresh image, only the variable, for the processes normlab starts.
 * The pin does not depend on this: every backend's open pins the core
 * in-process where it differs (cpu/host.c), for programs that embed the
 * library without this main; here it saves that second choice, and gives
 * the core to --version and to the programs normlab starts. */
static void pin_startup_environment(char **argv)
{
    bool fresh_image = false;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        fresh_image |= setenv("GOMP_SPINCOUNT", NL_OMP_SPINCOUNT, 1) == 0;
    nl_error ignored = {0};
    /* a refused NORMLAB_CPU_KERNELS pins nothing: main reports it */
    const char *core = !getenv("OPENBLAS_CORETYPE") &&
                               nl_cpu_kernels_choose(NULL, &ignored) == NL_OK
                           ? nl_cpu_kernel_set_openblas_core(nl_cpu_kernels_index())
                           : NULL;
    if (core && setenv("OPENBLAS_CORETYPE", core, 1) == 0)
        fresh_image |= strcmp(core, nl_cpu_openblas_core()) != 0;
    if (fresh_image)
        execv("/proc/self/exe", argv);
    /* no /proc: carry on with libgomp's default policy and OpenBLAS's core */
}

int nl_cmd_check_set(const char *command, const char *assignment, const char *next)
{
    if (strchr(assignment, '='))
        return 0;
    if (next && next[0] != '-')
        return nl_cmd_usage_error(command, "--set takes KEY=VALUE as one argument: --set %s=%s",
                                  assignment, next);
    return nl_cmd_usage_error(command, "--set takes KEY=VALUE, e.g. --set train.batch_size=64; "
                                       "got '%s'", assignment);
}

int nl_cmd_take_set(const char *command, int argc, char **argv, int *i, const char **list, int *n,
                    int max)
{
    if (*i + 1 >= argc)
        return nl_cmd_usage_error(command, "--set needs KEY=VALUE");
    if (nl_cmd_check_set(command, argv[*i + 1], *i + 2 < argc ? argv[*i + 2] : NULL))
        return 2;
    if (*n == max)
        return nl_cmd_usage_error(command, "too many --set options (at most %d)", max);
    list[(*n)++] = argv[++*i];
    return 0;
}

/* the argv split_long_options made: it lives as long as the process, held
 * here so that it stays reachable (LeakSanitizer) after main returns */
static char **volatile split_argv;

/* "--name=value" is "--name value" for every option of every command, as in
 * getopt_long; returns the new argv (argc grows by one per split), or the
 * old one when nothing was split or memory is short */
static char **split_long_options(int *argc, char **argv)
{
    int splits = 0;
    for (int i = 2; i < *argc; i++)
        splits += strncmp(argv[i], "--", 2) == 0 && strchr(argv[i], '=') != NULL;
    if (!splits)
        return argv;
    char **out = calloc((size_t)(*argc + splits + 1), sizeof *out);
    split_argv = out;
    if (!out)
        return argv;
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        const char *eq = i >= 2 && strncmp(argv[i], "--", 2) == 0 ? strchr(argv[i], '=') : NULL;
        if (!eq) {
            out[n++] = argv[i];
            continue;
        }
        out[n++] = strndup(argv[i], (size_t)(eq - argv[i]));
        out[n++] = (char *)eq + 1;
        if (!out[n - 2])
            return argv;
    }
    *argc = n;
    return out;
}

/* The way to each output named on the command line is the user's own
 * path: links on it are followed; none in what it names, below it, or in
 * any path normlab composes itself (log/files.h). --out's value, and each
 * argument naming a directory that exists (a run or sweep to plot, eval or
 * report). An output path too long for what normlab makes under it: exit
 * 2, before anything is read or written. */
static nl_code register_output_roots(int argc, char **argv, nl_error *err)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--out") && i + 1 < argc) {
            const nl_code rc = nl_write_root_add(argv[++i], err);
            if (rc) {
                nl_error_prefix(err, "--out: ");
                return rc;
            }
        } else if (a[0] != '-' && nl_is_dir(a)) {
            nl_code rc = nl_write_root_add(a, err);
            if (rc)
                return rc;
        }
    }
    return NL_OK;
}

int main(int argc, char **argv)
{
    pin_startup_environment(argv);
    argv = split_long_options(&argc, argv);
    /* NORMLAB_CPU_KERNELS names a kernel set for every command: refused
     * before any command reads or writes anything */
    nl_error kernels_err = {0};
    if (nl_cpu_kernels_choose(NULL, &kernels_err) != NL_OK ||
        nl_cpu_gemm_choose(NULL, &kernels_err) != NL_OK ||
        nl_cpu_openblas_core_check(NULL, 0, &kernels_err) != NL_OK)
        return nl_cmd_report(argc > 1 ? argv[1] : "", &kernels_err);
    /* so does NORMLAB_CONV the convolutions' library */
    nl_conv_library conv;
    if (nl_cpu_conv_library_from_env(&conv, &kernels_err) != NL_OK ||
        nl_normlab_fuse_check(&kernels_err) != NL_OK)
        return nl_cmd_report(argc > 1 ? argv[1] : "", &kernels_err);
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if (register_output_roots(argc, argv, &kernels_err) != NL_OK)
        return nl_cmd_report(argv[1], &kernels_err);
    if (nl_cmd_is_help(argv[1]) || (strcmp(argv[1], "help") == 0 && argc == 2)) {
        print_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        nl_cmd_print_version();
        return 0;
    }
    /* git's `help CMD` is `CMD --help` */
    const bool help_for = strcmp(argv[1], "help") == 0;
    const char *name = help_for ? argv[2] : argv[1];
    for (int i = 0; i < n_commands; i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        if (help_for)
            return commands[i].run(2, (char *[]){argv[2], "--help", NULL});
        return commands[i].run(argc - 1, argv + 1);
    }
    const char *names[32];
    for (int i = 0; i < n_commands && i < 32; i++)
        names[i] = commands[i].name;
    const char *guess = nl_closest_name(name, names, n_commands);
    fprintf(stderr, "normlab: '%s' is not a command%s%s%s. See 'normlab --help'.\n", name,
            guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
    return 2;
}
