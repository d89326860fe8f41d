/* normlab: git-style subcommands from one table. */
#include <math.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "base/names.h"
#include "cmd.h"
#include "version_git.h"

static const nl_command commands[] = {
    {"run", cmd_run, "train one model from a YAML config"},
    {"validate", cmd_validate, "check configs without training (--print shows the resolved config)"},
    {"list", cmd_list, "print the architectures, normalizers, placements, datasets and more"},
    {"sweep", cmd_sweep, "run every configuration of an experiment file, resumably, N at a time"},
    {"plot", cmd_plot, "write gnuplot scripts for a run or sweep directory and render them"},
    {"bench", cmd_bench, "measure kernels and training throughput against sgemm and copy rates"},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

int nl_cmd_report(const char *command, const nl_error *err)
{
    fprintf(stderr, "normlab %s: %s\n", command, err->msg[0] ? err->msg : nl_code_name(err->code));
    return nl_code_exit_status(err->code);
}

int nl_cmd_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "normlab %s: ", command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'normlab %s --help'.\n", command);
    return 2;
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

int nl_cmd_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

void nl_cmd_print_version(void)
{
    char cpu[256], cuda[256];
    printf("normlab %s (commit %s)\n", NORMLAB_VERSION, NORMLAB_GIT_COMMIT);
    printf("cpu:  %s\n", nl_backend_cpu_description(cpu, sizeof cpu));
    nl_backend_cuda_describe(cuda, sizeof cuda);
    printf("cuda: %s\n", cuda);
}

static void print_help(FILE *out)
{
    fprintf(out, "usage: normlab <command> [options]\n"
                 "       normlab --version | --help\n\n"
                 "Trains and compares neural-network normalization schemes.\n\ncommands:\n");
    for (int i = 0; i < n_commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'normlab <command> --help' describes a command.\n"
                 "Exit status: 0 success, 1 failure at run time, 2 bad usage, config or data.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if (nl_cmd_is_help(argv[1])) {
        print_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        nl_cmd_print_version();
        return 0;
    }
    for (int i = 0; i < n_commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    const char *names[32];
    for (int i = 0; i < n_commands && i < 32; i++)
        names[i] = commands[i].name;
    const char *guess = nl_closest_name(argv[1], names, n_commands);
    fprintf(stderr, "normlab: '%s' is not a command%s%s%s. See 'normlab --help'.\n", argv[1],
            guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
    return 2;
}
