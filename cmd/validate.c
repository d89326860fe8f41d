/* normlab validate: checks configs without training. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "cmd.h"
#include "device/device.h"
#include "sweep/sweep.h"
#include "config/config.h"
#include "plan/formula_check.h"
#include "plan/plan.h"
#include "train/check.h"
#include "train/run_model.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: normlab validate CONFIG.yaml... [--set KEY=VALUE]... [--out DIR] [--print]\n\n"
                 "Checks each config as 'normlab run' does before it writes anything: keys,\n"
                 "types, ranges, whether the model can be built (group counts, image sizes,\n"
                 "batch norm at batch 1), the dataset's files (headers against the files'\n"
                 "lengths, subsets), the traced activation and unit, the run's length, and\n"
                 "the memory the model and the data need against the machine's, and init.from's\n"
                 "source (a finished run whose final model fits the model, not the directory\n"
                 "the run would write). It reads no samples and trains nothing.\n\n"
                 "A formula normalizer (model.norm.type expr) is also checked: its derived\n"
                 "gradients against central differences, at each distinct site of the\n"
                 "planned graph's formula layers (input shape, layout, storage types, and\n"
                 "the ReLU or residual add and ReLU fused into it), each rebuilt alone as\n"
                 "the plan gives it (batch 3, random input, parameters off their starts).\n"
                 "Each sampled derivative of x and every parameter is a central difference\n"
                 "extrapolated from steps h and 2h (h = 1e-2 * max(1, |value|)); its error,\n"
                 "|difference - derived| over the largest derived, is held to 4e-3 (a 1%%\n"
                 "error in a derivative is past it). A sample past it where the difference\n"
                 "changes with the step (at h / 4), or the one-sided differences disagree\n"
                 "with the derived gradient between them, lies within the step of a kink (a\n"
                 "tie of relu, abs, min or max): reported and counted apart, not a failure.\n"
                 "One line per site: its layout and fusion, the worst error and the bound.\n\n"
                 "  --set KEY=VALUE  apply an override to every config (repeatable)\n"
                 "  --out DIR        check as 'normlab run --out DIR' (or 'normlab sweep --out\n"
                 "                   DIR') would; default: results/NAME, where they write\n"
                 "  --print          print the resolved config (defaults filled in) as YAML\n\n"
                 "Exit status: 0 all valid (a formula's kinks included), 2 at least one is\n"
                 "not, 1 a formula's gradient check failed (an error past the bound away\n"
                 "from any kink, or a value that is not finite) and none is invalid.\n");
}

static int validate_experiment(const char *path, const char *out_dir)
{
    nl_experiment e;
    nl_sweep_plan p;
    nl_error err = {0};
    if (nl_experiment_load(path, &e, &err) != NL_OK)
        return nl_cmd_report("validate", &err);
    int status = 0;
    /* where `normlab sweep` would write */
    if (out_dir)
        nl_copy_string(e.out_dir, sizeof e.out_dir, out_dir);
    else
        snprintf(e.out_dir, sizeof e.out_dir, "results/%s", e.name);
    if (nl_sweep_plan_build(&e, &p, &err) != NL_OK) {
        status = nl_cmd_report("validate", &err);
    } else {
        for (int w = 0; w < p.n_warnings; w++)
            fprintf(stderr, "normlab validate: warning: %s\n", p.warnings[w]);
        printf("%s: ok (an experiment: %d run%s checked)\n", path, p.n_runs, p.n_runs == 1 ? "" : "s");
        nl_sweep_plan_free(&p);
    }
    nl_experiment_free(&e);
    return status;
}

/* what validate was asked, beside the files */
typedef struct {
    const char *overrides[256];
    int n_overrides;
    bool print;
    const char *out_dir;
    int n_files;
} validate_options;

/* "8x8x8 images, channels in blocks of 16, fused ReLU": a site of the check */
static void site_text(const nl_formula_check *c, char *buf, size_t size)
{
    const nl_shape s = c->in;
    size_t at;
    if (s.ndim == 4)
        at = (size_t)snprintf(buf, size, "%dx%dx%d, %s", s.c, s.h, s.w, s.block ? "" : "NCHW");
    else if (s.ndim == 3)
        at = (size_t)snprintf(buf, size, "%d tokens x %d", s.h, s.c);
    else
        at = (size_t)snprintf(buf, size, "%d features", s.c);
    if (s.block && at < size)
        at += (size_t)snprintf(buf + at, size - at, "channels in blocks of %d", s.block);
    if ((s.value_store || s.grad_store) && at < size)
        at += (size_t)snprintf(buf + at, size - at, ", stored as %s/%s",
                               nl_storage_table[s.value_store].name,
                               nl_storage_table[s.grad_store].name);
    if (c->fused[0] && at < size)
        snprintf(buf + at, size - at, ", fused %s",
                 !strcmp(c->fused, "relu") ? "ReLU" : "residual add and ReLU");
}

/* one site's line: 1 where it fails the check, else 0 */
static int report_site(const char *file, const nl_formula_check *c)
{
    char site[160], kinks[160] = "";
    site_text(c, site, sizeof site);
    if (c->skipped[0]) { /* nothing compared (detach) */
        printf("%s: model.norm.expr gradient check, layer %s (%s): not applicable: %s\n", file,
               c->layer, site, c->skipped);
        return 0;
    }
    if (c->nonfinite[0]) {
        printf("%s: model.norm.expr gradient check, layer %s (%s, batch 3): %s is not finite "
               "(NaN or infinity): FAILED\n", file, c->layer, site, c->nonfinite);
        return 1;
    }
    if (c->kinks)
        snprintf(kinks, sizeof kinks, "; %d of %d samples within the step of a kink (a tie of "
                                      "relu, abs, min or max; first in d%s), not counted",
                 c->kinks, c->samples, c->kink_of);
    const bool past = !(c->worst <= NL_FORMULA_CHECK_BOUND);
    printf("%s: model.norm.expr gradient check, layer %s (%s, batch 3): worst error %.2e in d%s, "
           "bound %.0e%s%s\n", file, c->layer, site, fabs(c->worst), c->worst_of,
           NL_FORMULA_CHECK_BOUND, kinks, past ? ": PAST THE BOUND" : "");
    return past;
}

/* A formula normalizer's derived gradients against central differences at
 * each site of the planned graph (its layout, storage and fusions): 0, or 1
 * when one is past the bound or not finite; a kink is reported, never a
 * failure */
static int check_formula(const char *file, const nl_config *cfg)
{
    if (cfg->model.norm.kind != NL_NORM_EXPR)
        return 0;
    nl_error err = {0};
    nl_backend *be = NULL;
    const nl_backend_options opt = {.threads = 1};
    nl_formula_check checks[16];
    int n = 0;
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    const nl_plan_run run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    nl_model *graph = NULL;
    nl_code rc = nl_plan_graph(&spec, &run, &graph, &err);
    if (rc == NL_OK)
        rc = nl_backend_open(NL_DEVICE_CPU, &opt, &be, &err);
    if (rc == NL_OK)
        rc = nl_formula_gradcheck(graph, be, NULL, checks, 16, &n, &err);
    if (be)
        nl_backend_close(be);
    if (graph)
        nl_plan_graph_done(graph);
    if (rc != NL_OK)
        return nl_cmd_report("validate", &err);
    int status = 0;
    bool nonfinite = false;
    for (int i = 0; i < n; i++) {
        status |= report_site(file, &checks[i]);
        nonfinite |= checks[i].nonfinite[0] != '\0';
    }
    if (nonfinite)
        fprintf(stderr, "normlab validate: %s: model.norm.expr gives values that are not finite "
                        "(NaN or infinity) on the check's input; in training that ends the run "
                        "diverged\n",
                file);
    else if (status)
        fprintf(stderr, "normlab validate: %s: the derived gradients of model.norm.expr disagree "
                        "with central differences past %.0e away from any kink; it is a bug worth "
                        "reporting with the formula\n",
                file, NL_FORMULA_CHECK_BOUND);
    return status;
}

/* one config (or experiment) file: its exit status */
static int validate_file(const char *file, const validate_options *o, nl_config *cfg,
                         nl_text_memo *memo)
{
    nl_error err = {0};
    nl_run_plan plan;
    const nl_code loaded = nl_config_load(file, o->overrides, o->n_overrides, cfg, &err);
    /* a file with base: is an experiment: check every run it plans, as
     * the sweep's pre-check does */
    if (loaded != NL_OK && (!strcmp(err.key, "base") || !strcmp(err.key, "grid"))) {
        if (o->n_overrides || o->print) {
            fprintf(stderr, "normlab validate: %s is an experiment file; --set and --print apply to "
                            "configs (normlab sweep %s --dry-run lists its runs)\n", file, file);
            return 2;
        }
        return validate_experiment(file, o->out_dir);
    }
    /* where `normlab run` would write */
    char run_dir[1024] = "";
    if (loaded == NL_OK)
        snprintf(run_dir, sizeof run_dir, o->out_dir ? "%s" : "results/%s",
                 o->out_dir ? o->out_dir : cfg->name);
    if (loaded != NL_OK || nl_run_check_into(cfg, -1, false, run_dir, memo, &plan, &err) != NL_OK)
        return nl_cmd_report("validate", &err);
    for (int w = 0; w < cfg->n_warnings; w++)
        fprintf(stderr, "normlab validate: warning: %s\n", cfg->warnings[w]);
    if (!o->print) {
        const int checked = check_formula(file, cfg);
        if (checked)
            return checked;
        printf("%s: ok\n", file);
        return 0;
    }
    if (o->n_files > 1)
        printf("# %s\n", file);
    return nl_config_write(cfg, stdout, &err) != NL_OK ? nl_cmd_report("validate", &err) : 0;
}

int cmd_validate(int argc, char **argv)
{
    const char *files[256];
    validate_options o = {0};
    for (int i = 1; i < argc; i++) {
        if (nl_cmd_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--print") == 0) {
            o.print = true;
        } else if (strcmp(argv[i], "--out") == 0) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return nl_cmd_usage_error("validate", "--out needs a directory");
            o.out_dir = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0) {
            const int bad = nl_cmd_take_set("validate", argc, argv, &i, o.overrides, &o.n_overrides, 256);
            if (bad)
                return bad;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return nl_cmd_usage_error("validate", "unknown option '%s'", argv[i]);
        } else {
            if (o.n_files == 256)
                return nl_cmd_usage_error("validate", "too many files (at most 256)");
            files[o.n_files++] = argv[i];
        }
    }
    if (o.n_files == 0)
        return nl_cmd_usage_error("validate", "no config file given");
    int status = 0;
    nl_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return 1;
    nl_text_memo memo = {0}; /* configs of one corpus read it once */
    for (int i = 0; i < o.n_files; i++) {
        const int s = validate_file(files[i], &o, cfg, &memo);
        if (s > status)
            status = s;
    }
    free(cfg);
    return status;
}
