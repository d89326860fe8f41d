/* normlab export FORMAT DIR --out DEST: results in another tool's format,
 * one row per format. */
#include <stdio.h>
#include <string.h>

#include "base/names.h"
#include "cmd.h"
#include "tensorboard/export.h"

typedef struct {
    const char *dir, *out;
    bool force;
} export_args;

static int export_tensorboard(const export_args *a)
{
    nl_tb_export_report rep;
    nl_error err = {0};
    const double started = nl_cmd_now();
    const nl_code rc = nl_tb_export(a->dir, a->out, a->force, &rep, &err);
    for (const char *w = rep.notes.data ? rep.notes.data : ""; *w;) {
        const size_t len = strcspn(w, "\n");
        fprintf(stderr, "normlab export: warning: %.*s\n", (int)len, w);
        w += len + (w[len] == '\n');
    }
    nl_buf_free(&rep.notes);
    if (rc)
        return nl_cmd_report("export", &err);
    printf("%s: %d run%s, %ld scalars in %.2f s; view with: tensorboard --logdir %s\n", a->out, rep.n_runs,
           rep.n_runs == 1 ? "" : "s", rep.n_scalars, nl_cmd_now() - started, a->out);
    return 0;
}

static const struct {
    const char *name;
    int (*run)(const export_args *a);
    const char *help;
} formats[] = {
    {"tensorboard", export_tensorboard,
     "event files TensorBoard reads: per run the scalars of metrics.csv (SPLIT/COLUMN: train/loss,\n"
     "                test/accuracy, train/lr, ...) and series.csv (SERIES/LAYER/NAME) at their steps,\n"
     "                and a sweep's varied keys as the HParams dashboard's hyperparameters (a\n"
     "                session per run, grouped by the runs that differ in the seed alone)"},
};
enum { N_FORMATS = sizeof formats / sizeof formats[0] };

static void usage(FILE *out)
{
    fprintf(out, "usage: normlab export FORMAT DIR --out DEST [--force]\n\n"
                 "Writes a sweep or run directory's results in another tool's format. DEST must not\n"
                 "exist or be empty; --force replaces the files of the same names there. The files\n"
                 "are written together, all or none: a failure leaves DEST as it was.\n\nformats:\n");
    for (int f = 0; f < N_FORMATS; f++)
        fprintf(out, "  %-13s %s\n", formats[f].name, formats[f].help);
    fprintf(out, "\nExit status: 0 written, 1 failure at run time, 2 bad usage, a directory that is no\n"
                 "sweep or run or holds no runs, DEST not empty (without --force), DEST not a\n"
                 "directory, or a directory, FIFO or link where one of its files goes.\n");
}

int cmd_export(int argc, char **argv)
{
    export_args a = {0};
    const char *format = NULL;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (nl_cmd_is_help(s)) {
            usage(stdout);
            return 0;
        } else if (!strcmp(s, "--force")) {
            a.force = true;
        } else if (!strcmp(s, "--out")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return nl_cmd_usage_error("export", "--out needs a directory");
            a.out = argv[++i];
        } else if (s[0] == '-' && s[1]) {
            return nl_cmd_usage_error("export", "unknown option '%s'", s);
        } else if (!format) {
            format = s;
        } else if (nl_cmd_operand("export", s, &a.dir, "directory")) {
            return 2;
        }
    }
    if (!format || !a.dir || !a.out)
        return nl_cmd_usage_error("export", "give FORMAT DIR --out DEST, e.g. normlab export tensorboard "
                                  "results/quickstart --out /tmp/tb");
    for (int f = 0; f < N_FORMATS; f++)
        if (!strcmp(format, formats[f].name))
            return formats[f].run(&a);
    const char *names[N_FORMATS];
    char accepted[256] = "";
    size_t used = 0;
    for (int f = 0; f < N_FORMATS; f++) {
        names[f] = formats[f].name;
        used += (size_t)snprintf(accepted + used, sizeof accepted - used, "%s%s", f ? ", " : "", names[f]);
    }
    const char *guess = nl_closest_name(format, names, N_FORMATS);
    return nl_cmd_usage_error("export", "'%s' is not a format; accepted: %s%s%s%s", format, accepted,
                              guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
}
