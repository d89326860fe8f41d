/* normlab export FORMAT DIR --out DEST: results in another tool's format,
 * one row per format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "cmd.h"
#include "config/config.h"
#include "log/files.h"
#include "norm/formula_torch.h"
#include "results/files.h"
#include "results/rundir.h"
#include "results/store.h"
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

/* A config's (or a run directory's config.yaml's) formula normalizer as a
 * PyTorch nn.Module: the file at --out (never replacing one there without
 * --force), or stdout */
static int export_torch(const export_args *a)
{
    char config_path[1200];
    snprintf(config_path, sizeof config_path, "%s", a->dir);
    const bool run_dir = nl_is_dir(a->dir);
    nl_error err = {0};
    if (run_dir) {
        nl_path_join(config_path, sizeof config_path, a->dir, NL_RUN_CONFIG_FILE);
        if (!nl_path_exists(config_path)) {
            fprintf(stderr, "normlab export: %s is not a run directory (it has no config.yaml) and "
                            "not a config file\n", a->dir);
            return 2;
        }
        if (nl_run_dir_check_files(a->dir, &err))
            return nl_cmd_report("export", &err);
    }
    nl_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return 1;
    bool loaded = nl_config_load(config_path, NULL, 0, cfg, &err) == NL_OK;
    if (!loaded && run_dir) { /* a run another CPU planned: its record is what ran */
        nl_error again = {0};
        loaded = nl_config_load_record(config_path, NULL, 0, cfg, &again) == NL_OK;
    }
    if (!loaded) {
        free(cfg);
        return nl_cmd_report("export", &err);
    }
    const nl_norm_spec *norm = &cfg->model.norm;
    if (norm->kind != NL_NORM_EXPR) {
        fprintf(stderr, "normlab export: %s: model.norm.type is %s, not expr: export torch writes a "
                        "normalizer written as a formula (model.norm.type: expr, model.norm.expr) as a "
                        "PyTorch module; a built-in normalizer is PyTorch's own (nn.BatchNorm2d, "
                        "nn.LayerNorm, nn.GroupNorm, ...)\n",
                config_path, nl_name_of(&nl_norm_names, norm->kind));
        free(cfg);
        return 2;
    }
    nl_formula *f = NULL;
    if (nl_formula_parse(norm->expr, norm->params, &f, &err)) {
        free(cfg);
        return nl_cmd_report("export", &err);
    }
    const nl_formula_torch_spec spec = {.name = norm->label, .eps = norm->eps, .momentum = norm->momentum,
                                        .cumulative = norm->cumulative, .groups = norm->groups};
    nl_buf py = {0};
    char cls[64];
    nl_code rc = nl_formula_torch(f, &spec, &py, cls, sizeof cls, &err);
    nl_formula_free(f);
    free(cfg);
    if (!rc && !a->out) {
        fwrite(py.data, 1, py.len, stdout);
        rc = fflush(stdout) || ferror(stdout)
                 ? nl_fail(&err, NL_ERR_IO, "writing the module to standard output failed")
                 : NL_OK;
    } else if (!rc) {
        bool existed = false;
        rc = a->force ? nl_write_atomic(a->out, py.data, py.len, &err)
                      : nl_write_exclusive(a->out, py.data, py.len, &existed, &err);
        if (existed) {
            err = (nl_error){0};
            nl_fail(&err, NL_ERR_USAGE, "%s exists: nothing was written; give another --out, or --force "
                                        "to replace it", a->out);
        }
        if (!rc)
            printf("%s: class %s(nn.Module); use %s(num_channels) in place of the normalizer\n", a->out,
                   cls, cls);
    }
    nl_buf_free(&py);
    return rc ? nl_cmd_report("export", &err) : 0;
}

/* a packed sweep's runs as the run directories they were (results/store.h) */
static int export_csv(const export_args *a)
{
    nl_error err = {0};
    if (a->force)
        return nl_cmd_usage_error("export", "export csv writes a new directory: --force does not apply");
    if (!nl_store_present(a->dir)) {
        fprintf(stderr, "normlab export: %s is not a packed sweep (no " NL_SWEEP_PACK " in it): its run "
                        "directories are the CSV files already\n", a->dir);
        return 2;
    }
    int runs = 0;
    const double started = nl_cmd_now();
    if (nl_store_export(a->dir, a->out, &runs, &err))
        return nl_cmd_report("export", &err);
    printf("%s: %d run director%s in %.2f s\n", a->out, runs, runs == 1 ? "y" : "ies", nl_cmd_now() - started);
    return 0;
}

static const struct {
    const char *name;
    int (*run)(const export_args *a);
    bool out_optional; /* without --out: to stdout */
    const char *usage, *help;
} formats[] = {
    {"tensorboard", export_tensorboard, false, "DIR --out DEST [--force]",
     "event files TensorBoard reads: per run the scalars of metrics.csv (SPLIT/COLUMN: train/loss,\n"
     "                test/accuracy, train/lr, ...) and series.csv (SERIES/LAYER/NAME) at their steps,\n"
     "                and a sweep's varied keys as the HParams dashboard's hyperparameters (a\n"
     "                session per run, grouped by the runs that differ in the seed alone), its\n"
     "                experiment named and described as its experiment file does (its name:, its\n"
     "                leading comment)"},
    {"csv", export_csv, false, "SWEEP --out DIR",
     "a packed sweep's runs (normlab pack) written back as the run directories they were:\n"
     "                DIR/RUN/config.yaml, metrics.csv, summary.json and every other file, byte for\n"
     "                byte; DIR must not exist or be empty (it stands for SWEEP/runs)"},
    {"torch", export_torch, true, "CONFIG_OR_RUN [--out FILE] [--force]",
     "a config's or run directory's formula normalizer (model.norm.type: expr) as one\n"
     "                self-contained Python file (torch alone): an nn.Module named after\n"
     "                model.norm.name, made from the parsed formula; its constructor takes\n"
     "                num_channels (and groups where the formula reduces over channels); its\n"
     "                parameters start at their declared values, its running statistics keep\n"
     "                normlab's start, momentum and unbiased variance (the batch's value in\n"
     "                training, the buffer in eval()); it takes (N, C), (N, T, C) and\n"
     "                (N, C, H, W). FILE must not exist (--force replaces it); without --out,\n"
     "                standard output. Another model.norm.type: exit 2"},
};
enum { N_FORMATS = sizeof formats / sizeof formats[0] };

static void usage(FILE *out)
{
    fprintf(out, "usage: normlab export FORMAT ...\n");
    for (int f = 0; f < N_FORMATS; f++)
        fprintf(out, "       normlab export %s %s\n", formats[f].name, formats[f].usage);
    fprintf(out, "\nWrites a sweep or run directory's results (or a config's normalizer) in another\n"
                 "tool's format. DEST must not exist or be empty; --force replaces the files of the\n"
                 "same names there. The files are written together, all or none: a failure leaves\n"
                 "DEST as it was.\n\nformats:\n");
    for (int f = 0; f < N_FORMATS; f++)
        fprintf(out, "  %-13s %s\n", formats[f].name, formats[f].help);
    fprintf(out, "\nExit status: 0 written, 1 failure at run time, 2 bad usage, a directory that is no\n"
                 "sweep or run or holds no runs, DEST not empty (without --force), DEST not a\n"
                 "directory, or a directory, FIFO or link where one of its files goes; for torch, a\n"
                 "config that does not load or whose model.norm.type is not expr, or FILE existing\n"
                 "(without --force) or not a regular file. Nothing is written on an error.\n");
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
                return nl_cmd_usage_error("export", "--out needs a destination (a directory; for torch a file)");
            a.out = argv[++i];
        } else if (s[0] == '-' && s[1]) {
            return nl_cmd_usage_error("export", "unknown option '%s'", s);
        } else if (!format) {
            format = s;
        } else if (nl_cmd_operand("export", s, &a.dir, "directory")) {
            return 2;
        }
    }
    for (int f = 0; format && a.dir && f < N_FORMATS; f++)
        if (!strcmp(format, formats[f].name)) {
            if (!a.out && !formats[f].out_optional)
                break;
            return formats[f].run(&a);
        }
    if (!format || !a.dir || !a.out)
        return nl_cmd_usage_error("export", "give FORMAT DIR --out DEST, e.g. normlab export tensorboard "
                                  "results/quickstart --out /tmp/tb, or normlab export torch CONFIG "
                                  "--out module.py");
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
