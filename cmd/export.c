/* normlab export FORMAT DIR --out DEST: results in another tool's format,
 * one row per format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "cmd.h"
#include "sweep/sweep.h"
#include "tensorboard/export.h"
#include "verdict/verdict.h"

typedef struct {
    const char *dir, *out;
    bool force;
} export_args;

/* a sweep's experiment as the HParams dashboard names it: its name and
 * description from its experiment file (the one the sweep recorded, else
 * its kept copy, else the one in experiments/ that names it, as normlab
 * report finds it). Nothing where none is found or it does not load:
 * the export goes on without them (a run directory has no experiment). */
static void experiment_about(const char *dir, char *name, size_t name_size, nl_buf *description)
{
    nl_sweep_experiment_source from;
    nl_sweep_experiment_source_of(dir, &from);
    char found[1200];
    nl_error ignored = {0};
    const char *path = from.from != NL_SWEEP_EXP_NONE ? from.read
                       : nl_verdict_find_experiment(dir, "experiments", found, sizeof found, &ignored) == NL_OK
                           ? found
                           : NULL;
    char *text = NULL;
    if (!path || nl_read_file_max(path, NL_READ_TEXT_MAX, &text, NULL, &ignored) != NL_OK)
        return;
    nl_experiment exp;
    /* the kept copy is read as the file it was: its base need not be there */
    if (nl_experiment_parse_text(text, from.from == NL_SWEEP_EXP_KEPT ? from.path : path, false, &exp, &ignored) ==
        NL_OK) {
        nl_copy_string(name, name_size, exp.name);
        nl_experiment_description(text, description);
        nl_experiment_free(&exp);
    }
    free(text);
}

static int export_tensorboard(const export_args *a)
{
    nl_tb_export_report rep;
    nl_error err = {0};
    const double started = nl_cmd_now();
    char name[128] = "";
    nl_buf description = {0};
    experiment_about(a->dir, name, sizeof name, &description);
    const nl_tb_about about = {name, description.failed ? NULL : description.data};
    const nl_code rc = nl_tb_export(a->dir, a->out, a->force, &about, &rep, &err);
    nl_buf_free(&description);
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
     "                session per run, grouped by the runs that differ in the seed alone), its\n"
     "                experiment named and described as its experiment file does (its name:, its\n"
     "                leading comment)"},
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
