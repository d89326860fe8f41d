/* normlab plot: gnuplot scripts (and the small CSVs they read) for a run
 * or sweep directory, rendered when gnuplot is on PATH. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "cmd.h"
#include "plot/plot.h"

/* "batch_size, lr, heatmap and final": the kinds whose metrics are `metrics` */
static const char *kinds_with_metrics(const nl_name_table *metrics, char *buf, size_t size)
{
    int n = 0, seen = 0;
    for (int k = 0; k < NL_PLOT_KIND_COUNT; k++)
        n += nl_plot_kind_info_of((nl_plot_kind)k)->metrics == metrics;
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < NL_PLOT_KIND_COUNT && used < size; k++)
        if (nl_plot_kind_info_of((nl_plot_kind)k)->metrics == metrics) {
            seen++;
            used += (size_t)snprintf(buf + used, size - used, "%s%s", seen == 1 ? "" : seen == n ? " and " : ", ",
                                     nl_name_of(&nl_plot_kind_names, k));
        }
    return buf;
}

static void usage(FILE *out)
{
    char kinds[256], final_kinds[256], color_kinds[256], panel_kinds[256], weight_stats[256];
    fprintf(out,
            "usage: normlab plot RESULTS_DIR [--format F[,F...]] [--kind K[:METRIC[:SPLIT]]]...\n"
            "                    [--threshold T] [--x KEY [--color KEY] [--panel KEY]] [--where KEY=VALUE]...\n"
            "                    [--templates DIR]\n"
            "       normlab plot --write-templates DIR\n\n"
            "Writes gnuplot scripts into RESULTS_DIR/plots/ and renders them when gnuplot is on\n"
            "PATH. RESULTS_DIR is a sweep directory (summary.csv, runs/) or a run directory\n"
            "(metrics.csv). Each script reads CSV files by column name and can be rendered again\n"
            "by hand: cd RESULTS_DIR/plots && gnuplot NAME.gp (or -e 'fmt=\"svg\"', or \"pdf\").\n"
            "RESULTS_DIR/plots/ is normlab's: a figure, its script and its CSV are redrawn from\n"
            "the results and replaced whole (a reader, or another plot at the same moment, sees\n"
            "the old file or the new one, never half).\n\n"
            "kinds (default: every kind that applies):\n");
    for (int k = 0; k < nl_plot_kind_names.count; k++)
        fprintf(out, "  %-15s %s\n", nl_name_entry_at(&nl_plot_kind_names, k)->name,
                nl_name_entry_at(&nl_plot_kind_names, k)->help);
    fprintf(out,
            "\noptions:\n"
            "  --kind K[:METRIC[:SPLIT]]\n"
            "                     a plot kind, optionally with its metric: for %s\n"
            "                     one of %s;\n"
            "                     for weight_stats one of %s;\n"
            "                     for curves one of error, loss, accuracy, and a split: test,\n"
            "                     train, test_trainmode (e.g. curves:error:test_trainmode);\n"
            "                     repeatable\n"
            "  --format F[,F...]  png (default), svg, pdf, both (png and svg) or all; a PDF\n"
            "                     needs gnuplot's pdfcairo terminal (Debian's gnuplot-nox has it)\n"
            "  --templates DIR    gnuplot templates to use instead of the built-in ones: DIR/style.gp\n"
            "                     (the look every figure shares) and DIR/KIND.gp (a kind's lines and\n"
            "                     markers), each where it exists\n"
            "  --write-templates DIR\n"
            "                     writes the built-in templates into DIR, to edit for --templates\n"
            "                     (refused, nothing written, when one is there already)\n"
            "  --x KEY, --color KEY, --panel KEY\n"
            "                     final: the swept key on the x axis (required), the key whose\n"
            "                     values are the series (default: every varied key but x, panel\n"
            "                     and seed) and the key whose values are the panels (default:\n"
            "                     one panel); e.g. --kind final:test_error --x model.norm.groups\n"
            "                     --color model.norm.type --panel train.batch_size\n"
            "                     --color applies to %s plots,\n"
            "                     --panel to %s plots\n"
            "  --where KEY=VALUE  draw only the runs whose config has VALUE for KEY (numbers by\n"
            "                     value: 0.5 matches 0.50), in every plot asked for; repeatable\n"
            "                     (every one must hold); the file names get -KEY-VALUE (the key's\n"
            "                     last part), e.g. --kind variance_shift --where model.dropout.p=0.5\n"
            "                     writes variance_shift-p-0.5.gp\n"
            "  --threshold T      lr: a learning rate is tolerated when no run diverged and the\n"
            "                     mean final metric is at most T (at least T for accuracies), as a\n"
            "                     fraction for errors and accuracies (0.2 = 20%%); default: the best\n"
            "                     mean plus %.0f points (errors), minus %.0f points (accuracies), or\n"
            "                     times %.2f (losses)\n\n"
            "The files of one plot command are replaced together, all or none: one that fails\n"
            "(gnuplot rejecting a script, a directory where a figure goes) leaves plots/ as it was.\n\n"
            "Exit status: 0 plots written (rendered, or gnuplot missing), 1 gnuplot failed,\n"
            "2 bad usage, not a results directory, or a directory, FIFO or link where a file\n"
            "of plots/ goes (a file where plots/ goes).\n",
            kinds_with_metrics(&nl_plot_final_metric_names, final_kinds, sizeof final_kinds),
            nl_name_choices(&nl_plot_final_metric_names, kinds, sizeof kinds),
            nl_name_choices(&nl_plot_weight_stat_names, weight_stats, sizeof weight_stats),
            nl_plot_kinds_taking(NL_PLOT_TAKES_COLOR, color_kinds, sizeof color_kinds),
            nl_plot_kinds_taking(NL_PLOT_TAKES_PANEL, panel_kinds, sizeof panel_kinds), 100 * NL_PLOT_LR_DEFAULT_MARGIN,
            100 * NL_PLOT_LR_DEFAULT_MARGIN, NL_PLOT_LR_DEFAULT_LOSS_FACTOR);
}

static int render_and_print(const char *command, nl_plot_report *rep, unsigned formats, nl_outset *set);

/* "png", "svg,pdf", "both" (png and svg), "all" */
static bool parse_formats(const char *v, unsigned *formats)
{
    *formats = 0;
    while (*v) {
        const size_t len = strcspn(v, ",");
        bool known = false;
        for (int f = 0; f < NL_PLOT_N_FORMATS && !known; f++)
            if (strlen(nl_plot_format_names[f]) == len && !strncmp(v, nl_plot_format_names[f], len)) {
                *formats |= 1u << f;
                known = true;
            }
        if (len == 4 && !strncmp(v, "both", 4))
            *formats |= NL_PLOT_PNG | NL_PLOT_SVG;
        else if (len == 3 && !strncmp(v, "all", 3))
            *formats |= (1u << NL_PLOT_N_FORMATS) - 1;
        else if (!known)
            return false;
        v += len + (v[len] == ',');
    }
    return *formats != 0;
}

/* the options that pass a value to the plots of the kinds taking it */
static const struct {
    const char *option;
    unsigned takes; /* NL_PLOT_TAKES_* */
} kind_options[] = {
    {"--x", NL_PLOT_TAKES_X},
    {"--color", NL_PLOT_TAKES_COLOR},
    {"--panel", NL_PLOT_TAKES_PANEL},
    {"--threshold", NL_PLOT_TAKES_THRESHOLD},
};
#define N_KIND_OPTIONS (int)(sizeof kind_options / sizeof kind_options[0])

typedef struct {
    const char *dir;
    unsigned formats;
    nl_plot_spec specs[NL_PLOT_MAX_OUTPUTS];
    int n_specs;
    const char *templates;
    const char *kind_option_values[N_KIND_OPTIONS]; /* NULL: not given */
    nl_plot_where where; /* --where: the runs every plot draws */
} plot_request;

/* --kind K[:METRIC[:SPLIT]] adds a plot; an exit status, or -1 to go on */
static int add_kind(plot_request *r, const char *v)
{
    if (r->n_specs == NL_PLOT_MAX_OUTPUTS)
        return nl_cmd_usage_error("plot", "too many --kind options (at most %d)", NL_PLOT_MAX_OUTPUTS);
    char kind[64];
    snprintf(kind, sizeof kind, "%.*s", (int)strcspn(v, ":"), v);
    const int k = nl_name_lookup(&nl_plot_kind_names, kind);
    if (k < 0) {
        char choices[256];
        const char *guess = nl_closest_in_table(&nl_plot_kind_names, kind);
        return nl_cmd_usage_error("plot", "--kind: '%s' is not a plot kind; accepted: %s%s%s%s", kind,
                                  nl_name_choices(&nl_plot_kind_names, choices, sizeof choices),
                                  guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
    }
    nl_plot_spec *s = &r->specs[r->n_specs++];
    nl_plot_spec_init(s, (nl_plot_kind)k);
    const char *metric = strchr(v, ':');
    if (metric) {
        metric++;
        snprintf(s->metric, sizeof s->metric, "%.*s", (int)strcspn(metric, ":"), metric);
        if (strchr(metric, ':'))
            snprintf(s->split, sizeof s->split, "%s", strchr(metric, ':') + 1);
    }
    return -1;
}

/* one option with its value; an exit status, or -1 to go on */
static int parse_option(plot_request *r, const char *a, const char *v)
{
    for (int o = 0; o < N_KIND_OPTIONS; o++)
        if (!strcmp(a, kind_options[o].option)) {
            if (kind_options[o].takes == NL_PLOT_TAKES_THRESHOLD) {
                double t;
                if (!nl_parse_finite(v, &t))
                    return nl_cmd_usage_error("plot", "--threshold: '%s' is not a number", v);
            }
            r->kind_option_values[o] = v;
            return -1;
        }
    /* "" (an unset variable) names no directory */
    if (!v[0] && (!strcmp(a, "--templates") || !strcmp(a, "--write-templates")))
        return nl_cmd_usage_error("plot", "%s needs a directory, got ''", a);
    if (!strcmp(a, "--write-templates")) {
        nl_error err = {0};
        if (nl_plot_write_templates(v, &err) != NL_OK)
            return nl_cmd_report("plot", &err);
        printf("templates written to %s/: edit them, then normlab plot RESULTS_DIR --templates %s\n", v, v);
        return 0;
    }
    if (!strcmp(a, "--templates")) {
        r->templates = v;
        return -1;
    }
    if (!strcmp(a, "--format")) {
        if (!parse_formats(v, &r->formats))
            return nl_cmd_usage_error("plot", "--format: '%s' is not a list of png, svg, pdf, both or all", v);
        return -1;
    }
    if (!strcmp(a, "--kind"))
        return add_kind(r, v);
    if (!strcmp(a, "--where")) {
        char key[256], msg[512];
        snprintf(key, sizeof key, "%.*s", (int)strcspn(v, "="), v);
        if (!strchr(v, '='))
            return nl_cmd_usage_error("plot", "--where: '%s' is not KEY=VALUE (e.g. --where model.dropout.p=0.5)", v);
        if (!nl_plot_where_add(&r->where, key, strchr(v, '=') + 1, msg, sizeof msg))
            return nl_cmd_usage_error("plot", "--where: %s", msg);
        return -1;
    }
    return nl_cmd_usage_error("plot", "unknown option '%s'", a);
}

static bool takes_value(const char *a)
{
    for (int o = 0; o < N_KIND_OPTIONS; o++)
        if (!strcmp(a, kind_options[o].option))
            return true;
    return !strcmp(a, "--format") || !strcmp(a, "--kind") || !strcmp(a, "--templates") ||
           !strcmp(a, "--write-templates") || !strcmp(a, "--where");
}

/* the command line into r; an exit status, or -1 to go on */
static int parse_plot_args(int argc, char **argv, plot_request *r)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int status = -1;
        if (nl_cmd_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (takes_value(a)) {
            if (i + 1 >= argc)
                return nl_cmd_usage_error("plot", "%s needs a value", a);
            status = parse_option(r, a, argv[++i]);
        } else if (nl_cmd_operand("plot", a, &r->dir, "results directory")) {
            return 2;
        }
        if (status >= 0)
            return status;
    }
    if (!r->dir)
        return nl_cmd_usage_error("plot", "no results directory given");
    return -1;
}

/* the only kind taking `takes`; -1 when several or none do */
static int sole_kind_taking(unsigned takes)
{
    int found = -1;
    for (int k = 0; k < NL_PLOT_KIND_COUNT; k++)
        if (nl_plot_kind_info_of((nl_plot_kind)k)->takes & takes) {
            if (found >= 0)
                return -1;
            found = k;
        }
    return found;
}

static void set_kind_option(nl_plot_spec *s, unsigned takes, const char *v)
{
    if (takes == NL_PLOT_TAKES_X)
        snprintf(s->x, sizeof s->x, "%s", v);
    else if (takes == NL_PLOT_TAKES_COLOR)
        snprintf(s->color, sizeof s->color, "%s", v);
    else if (takes == NL_PLOT_TAKES_PANEL)
        snprintf(s->panel, sizeof s->panel, "%s", v);
    else
        s->threshold = strtod(v, NULL);
}

/* --x, --color, --panel and --threshold go to every plot whose kind takes
 * them; without --kind, an option only one kind takes asks for that kind
 * (--x: final, --threshold: lr). An exit status, or -1 to go on. */
static int apply_kind_options(plot_request *r)
{
    for (int o = 0; o < N_KIND_OPTIONS; o++) {
        const char *v = r->kind_option_values[o];
        const int sole = sole_kind_taking(kind_options[o].takes);
        if (v && !r->n_specs && sole >= 0)
            nl_plot_spec_init(&r->specs[r->n_specs++], (nl_plot_kind)sole);
    }
    for (int o = 0; o < N_KIND_OPTIONS; o++) {
        const char *v = r->kind_option_values[o];
        if (!v)
            continue;
        bool taken = false;
        for (int i = 0; i < r->n_specs; i++)
            if (nl_plot_kind_info_of(r->specs[i].kind)->takes & kind_options[o].takes) {
                set_kind_option(&r->specs[i], kind_options[o].takes, v);
                taken = true;
            }
        if (!taken) {
            char kinds[256], first[64];
            nl_plot_kinds_taking(kind_options[o].takes, kinds, sizeof kinds);
            snprintf(first, sizeof first, "%.*s", (int)strcspn(kinds, ", "), kinds);
            return nl_cmd_usage_error("plot", "%s applies to %s plots; add --kind %s", kind_options[o].option, kinds,
                                      first);
        }
    }
    return -1;
}

/* every plot valid and named once; an exit status, or -1 to go on */
static int check_specs(const plot_request *r)
{
    for (int i = 0; i < r->n_specs; i++) {
        char msg[512], kind[64];
        nl_plot_spec_name(&r->specs[i], kind, sizeof kind);
        if (!nl_plot_spec_check(&r->specs[i], msg, sizeof msg))
            return nl_cmd_usage_error("plot", "--kind %s: %s", nl_name_of(&nl_plot_kind_names, r->specs[i].kind),
                                      msg);
        for (int j = 0; j < i; j++) {
            char other[64];
            if (!strcmp(nl_plot_spec_name(&r->specs[j], other, sizeof other), kind))
                return nl_cmd_usage_error("plot", "--kind %s is given twice", kind);
        }
    }
    return -1;
}

/* the kinds that do not apply to these runs, in one line: tried only
 * because no --kind was given, each is no error, and --kind K says why
 * (each reason begins "KIND: ") */
static void print_skipped(const nl_plot_report *rep)
{
    if (rep->n_skipped == 0)
        return;
    fprintf(stderr, "normlab plot: skipped %d kind%s that do%s not apply here:", rep->n_skipped,
            rep->n_skipped == 1 ? "" : "s", rep->n_skipped == 1 ? "es" : "");
    for (int i = 0; i < rep->n_skipped; i++)
        fprintf(stderr, "%s %.*s", i ? "," : "", (int)strcspn(rep->skipped[i], ":"), rep->skipped[i]);
    fprintf(stderr, " (--kind K says what one needs)\n");
}

int cmd_plot(int argc, char **argv)
{
    plot_request *r = calloc(1, sizeof *r);
    nl_plot_report *rep = calloc(1, sizeof *rep);
    int status = (r && rep) ? -1 : 1;
    if (status < 0) {
        r->formats = NL_PLOT_PNG;
        status = parse_plot_args(argc, argv, r);
    }
    if (status < 0)
        status = apply_kind_options(r);
    if (status < 0)
        status = check_specs(r);
    if (status < 0) {
        /* plots/ is normlab's: its files are replaced, all or none */
        nl_outset *set = nl_outset_begin(true, NULL);
        nl_error err = {0};
        if (!set) {
            status = 1;
        } else if (nl_plot_write_staged(r->dir, r->specs, r->n_specs, &r->where, r->templates, set, rep, &err) !=
                   NL_OK) {
            status = nl_cmd_report("plot", &err);
        } else {
            print_skipped(rep);
            status = render_and_print("plot", rep, r->formats, set);
        }
        nl_outset_end(set);
    }
    free(rep);
    free(r);
    return status;
}

/* renders the scripts of rep, places them and their figures (the set,
 * all or none), and prints what was written; the exit status */
static int render_and_print(const char *command, nl_plot_report *rep, unsigned formats, nl_outset *set)
{
    nl_error err = {0};
    int status = 0;
    /* rows the figures leave out, file and line, before anything else */
    for (const char *w = rep->warnings; *w;) {
        const size_t len = strcspn(w, "\n");
        fprintf(stderr, "normlab %s: warning: %.*s\n", command, (int)len, w);
        w += len + (w[len] == '\n');
    }
    if (nl_plot_render(rep, formats, &err) != NL_OK || nl_plot_stage(rep, set, &err) != NL_OK ||
        nl_outset_commit(set, NULL, &err) != NL_OK)
        status = nl_cmd_report(command, &err);
    if (rep->messages[0])
        fprintf(stderr, "normlab %s: gnuplot said:\n%s\n", command, rep->messages);
    if (rep->pdf_missing)
        fprintf(stderr, "normlab %s: %s has no pdfcairo terminal: wrote no PDFs (Debian's gnuplot-nox has it)\n",
                command, rep->gnuplot);
    if (rep->gnuplot_missing && status == 0)
        fprintf(stderr, "normlab %s: gnuplot is not on PATH: wrote the scripts but rendered nothing; install "
                "gnuplot (Debian: apt-get install gnuplot-nox), then: cd %s && gnuplot NAME.gp\n", command,
                rep->plots_dir);
    for (int i = 0; i < rep->n && status == 0; i++)
        if (rep->items[i].note[0])
            printf("%s\n", rep->items[i].note);
    for (int i = 0; i < rep->n && status == 0; i++) {
        const nl_plot_output *o = &rep->items[i];
        printf("%s", o->script);
        int shown = 0;
        for (int f = 0; f < NL_PLOT_N_FORMATS && o->rendered; f++)
            if ((formats & (1u << f)) && !((1u << f) == NL_PLOT_PDF && rep->pdf_missing))
                printf("%s%s/%s.%s", shown++ ? ", " : " -> ", rep->plots_dir, o->name, nl_plot_format_names[f]);
        printf("\n");
    }
    return status;
}

static void compare_usage(FILE *out)
{
    fprintf(out,
            "usage: normlab compare DIR DIR... --out OUT_DIR [--metric M] [--split S]\n"
            "                       [--format F[,F...]] [--templates DIR]\n\n"
            "Draws the curves of several run or sweep directories (any mix) in one figure:\n"
            "training loss and a test metric against step, a line per variant, mean over seeds\n"
            "with a min-max band. The legend names what differs between the runs (a varied key,\n"
            "or a setting the directories' configs have differently), the directories' names\n"
            "when nothing else does. Writes OUT_DIR/compare.gp (and the compare.csv it reads)\n"
            "and renders it when gnuplot is on PATH: cd OUT_DIR && gnuplot compare.gp.\n\n"
            "options:\n"
            "  --out DIR          where the figure goes: a new or empty directory, or one an\n"
            "                     earlier compare wrote (anything else is refused)\n"
            "  --metric M         the right panel's metric: error (default), loss, accuracy\n"
            "  --split S          its split: test (default), train, test_trainmode\n"
            "  --format F[,F...]  png (default), svg, pdf, both (png and svg) or all\n"
            "  --templates DIR    edited gnuplot templates (DIR/style.gp, DIR/compare.gp), as\n"
            "                     for normlab plot\n\n"
            "Exit status: 0 figure written (rendered, or gnuplot missing), 1 gnuplot failed,\n"
            "2 bad usage, a directory that is neither a run nor a sweep, an --out refused, or\n"
            "a directory, FIFO or link where one of its files goes (nothing is replaced then).\n");
}

int cmd_compare(int argc, char **argv)
{
    const char *dirs[256], *out = NULL, *templates = NULL;
    int n_dirs = 0;
    unsigned formats = NL_PLOT_PNG;
    nl_plot_spec spec;
    nl_plot_spec_init(&spec, NL_PLOT_CURVES);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (nl_cmd_is_help(a)) {
            compare_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--metric") || !strcmp(a, "--split") ||
                   !strcmp(a, "--format") || !strcmp(a, "--templates")) {
            if (i + 1 >= argc)
                return nl_cmd_usage_error("compare", "%s needs a value", a);
            const char *v = argv[++i];
            if (!v[0] && (!strcmp(a, "--out") || !strcmp(a, "--templates")))
                return nl_cmd_usage_error("compare", "%s needs a directory, got ''", a);
            if (!strcmp(a, "--out"))
                out = v;
            else if (!strcmp(a, "--templates"))
                templates = v;
            else if (!strcmp(a, "--metric"))
                snprintf(spec.metric, sizeof spec.metric, "%s", v);
            else if (!strcmp(a, "--split"))
                snprintf(spec.split, sizeof spec.split, "%s", v);
            else if (!parse_formats(v, &formats))
                return nl_cmd_usage_error("compare", "--format: '%s' is not a list of png, svg, pdf, both or all",
                                          v);
        } else if (a[0] == '-' && a[1]) {
            return nl_cmd_usage_error("compare", "unknown option '%s'", a);
        } else if (n_dirs == (int)(sizeof dirs / sizeof dirs[0])) {
            return nl_cmd_usage_error("compare", "too many directories (at most %d)", n_dirs);
        } else {
            dirs[n_dirs++] = a;
        }
    }
    char msg[512];
    if (n_dirs < 2)
        return nl_cmd_usage_error("compare", "give at least two run or sweep directories (got %d)", n_dirs);
    if (!out)
        return nl_cmd_usage_error("compare", "no --out DIR given (where the figure goes)");
    if (!nl_plot_spec_check(&spec, msg, sizeof msg))
        return nl_cmd_usage_error("compare", "%s", msg);
    nl_plot_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        return 1;
    nl_error err = {0};
    /* the figure's files replaced all or none (--out is new, empty or compare's) */
    nl_outset *set = nl_outset_begin(true, NULL);
    int status = !set ? 1
                 : nl_plot_compare_staged(dirs, n_dirs, &spec, out, templates, set, rep, &err) == NL_OK
                     ? render_and_print("compare", rep, formats, set)
                     : nl_cmd_report("compare", &err);
    nl_outset_end(set);
    free(rep);
    return status;
}
