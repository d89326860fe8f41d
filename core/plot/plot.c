/* nl_plot_write: which plots, then each writer; nl_plot_render: gnuplot. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/files.h"
#include "plot/internal.h"
#include "plot/plot.h"
#include "proc/proc.h"
#include "results/files.h"

nl_code pl_write_one(const nl_results *r, const nl_plot_spec *spec, const char *name, const char *template_name,
                     const pl_templates *templates, nl_plot_report *rep, nl_error *err)
{
    if (rep->n >= NL_PLOT_MAX_OUTPUTS)
        return nl_fail(err, NL_ERR_USAGE, "at most %d plots at a time", NL_PLOT_MAX_OUTPUTS);
    pl_script s = {0};
    if (name)
        nl_copy_string(s.name, sizeof s.name, name);
    else
        nl_plot_spec_name(spec, s.name, sizeof s.name);
    nl_copy_string(s.plots_dir, sizeof s.plots_dir, rep->work_dir[0] ? rep->work_dir : rep->plots_dir);
    s.kind = template_name ? template_name : nl_name_of(&nl_plot_kind_names, spec->kind);
    s.templates = templates;
    nl_code rc = pl_kind_row_of(spec->kind)->write(r, spec, &s, err);
    nl_buf_free(&s.gp);
    if (rc)
        return rc;
    nl_plot_output *o = &rep->items[rep->n++];
    memset(o, 0, sizeof *o);
    nl_copy_string(o->name, sizeof o->name, s.name);
    snprintf(o->script, sizeof o->script, "%s/%s.gp", rep->plots_dir, s.name);
    nl_copy_string(o->note, sizeof o->note, s.note);
    return NL_OK;
}

nl_code nl_plot_write(const char *dir, const nl_plot_spec *specs, int n_specs, nl_plot_report *rep,
                      nl_error *err)
{
    return nl_plot_write_with(dir, specs, n_specs, NULL, NULL, rep, err);
}

/* spec with the request's filter before its own: the runs it draws and its name */
static nl_code with_where(const nl_plot_spec *spec, const nl_plot_where *where, nl_plot_spec *out, nl_error *err)
{
    *out = *spec;
    if (!where)
        return NL_OK;
    out->where = *where;
    for (int i = 0; i < spec->where.n; i++) {
        char msg[256];
        if (!nl_plot_where_add(&out->where, spec->where.items[i].key, spec->where.items[i].value, msg, sizeof msg))
            return nl_fail(err, NL_ERR_USAGE, "%s: where: %s", nl_name_of(&nl_plot_kind_names, spec->kind), msg);
    }
    return NL_OK;
}

/* The one place a filter applies, for every kind: the writer sees only the
 * runs spec->where keeps. */
static nl_code write_filtered(const nl_results *r, const nl_plot_spec *spec, const pl_templates *templates,
                              nl_plot_report *rep, nl_error *err)
{
    if (spec->where.n == 0)
        return pl_write_one(r, spec, NULL, NULL, templates, rep, err);
    nl_results kept;
    nl_code rc = nl_results_where(r, &spec->where, &kept, err);
    if (rc)
        return rc;
    rc = pl_write_one(&kept, spec, NULL, NULL, templates, rep, err);
    nl_results_free(&kept);
    return rc;
}

/* each spec valid for its kind, and one file each: a second plot of one
 * name would replace the first */
static nl_code check_specs(const nl_plot_spec *specs, int n_specs, const nl_plot_where *where, nl_error *err)
{
    for (int i = 0; i < n_specs; i++) {
        char msg[512];
        if (!nl_plot_spec_check(&specs[i], msg, sizeof msg))
            return nl_fail(err, NL_ERR_USAGE, "%s: %s", nl_name_of(&nl_plot_kind_names, specs[i].kind), msg);
        nl_plot_spec mine, other;
        char name[64], other_name[64];
        nl_code rc = with_where(&specs[i], where, &mine, err);
        if (rc)
            return rc;
        nl_plot_spec_name(&mine, name, sizeof name);
        for (int j = 0; j < i; j++) {
            if ((rc = with_where(&specs[j], where, &other, err)))
                return rc;
            if (!strcmp(nl_plot_spec_name(&other, other_name, sizeof other_name), name))
                return nl_fail(err, NL_ERR_USAGE, "plots %d and %d would both be written to %s.gp; give one a "
                               "name", j + 1, i + 1, name);
        }
    }
    return NL_OK;
}

/* every kind that applies; the others are reported, not errors */
static nl_code write_every_kind(const nl_results *r, const nl_plot_where *where, const pl_templates *templates,
                                nl_plot_report *rep, nl_error *err)
{
    nl_code rc;
    if (where && where->n) {
        /* a filter that keeps no run is an error here, not a reason
         * to skip every kind */
        nl_results kept;
        if ((rc = nl_results_where(r, where, &kept, err)))
            return rc;
        nl_results_free(&kept);
    }
    for (int k = 0; k < NL_PLOT_KIND_COUNT; k++) {
        if (nl_plot_kind_info_of((nl_plot_kind)k)->on_request)
            continue;
        nl_plot_spec spec;
        nl_plot_spec_init(&spec, (nl_plot_kind)k);
        if (where)
            spec.where = *where;
        nl_error why = {0};
        rc = write_filtered(r, &spec, templates, rep, &why);
        if (rc == NL_ERR_USAGE) {
            nl_copy_string(rep->skipped[rep->n_skipped++], sizeof rep->skipped[0], why.msg);
        } else if (rc) {
            *err = why;
            return rc;
        }
    }
    if (rep->n == 0)
        return nl_fail(err, NL_ERR_USAGE, "nothing to plot in %s: %s", r->dir,
                       rep->n_skipped ? rep->skipped[0] : "no runs");
    return NL_OK;
}

nl_code nl_plot_write_with(const char *dir, const nl_plot_spec *specs, int n_specs, const nl_plot_where *where,
                           const char *templates_dir, nl_plot_report *rep, nl_error *err)
{
    return nl_plot_write_into(dir, specs, n_specs, where, templates_dir, NULL, rep, err);
}

/* where the files go: plots_dir itself, made, or (with a set) a work
 * directory beside it, plots_dir checked and made by the set (so that a
 * refusal leaves no empty plots/ behind) */
static nl_code make_plots_dir(nl_plot_report *rep, nl_outset *set, nl_error *err)
{
    if (!set)
        return nl_make_dirs(rep->plots_dir, err);
    nl_code rc = nl_outset_make_dirs(set, rep->plots_dir, err);
    return rc ? rc : nl_outset_work_dir(set, rep->plots_dir, rep->work_dir, sizeof rep->work_dir, err);
}

static nl_code write_plots(const char *dir, const nl_plot_spec *specs, int n_specs, const nl_plot_where *where,
                           const char *templates_dir, const char *plots_dir, nl_outset *set, nl_plot_report *rep,
                           nl_error *err)
{
    memset(rep, 0, sizeof *rep);
    nl_code rc = check_specs(specs, n_specs, where, err);
    if (rc)
        return rc;
    pl_templates *templates = calloc(1, sizeof *templates);
    nl_results *r = calloc(1, sizeof *r);
    if (!r || !templates) {
        free(r);
        free(templates);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    rc = pl_templates_load(templates_dir, templates, err);
    if (rc == NL_OK && (rc = nl_results_load(dir, r, err)) != NL_OK)
        pl_templates_free(templates);
    if (rc) {
        free(r);
        free(templates);
        return rc;
    }
    if (!plots_dir && !r->sweep && !nl_is_dir(dir)) {
        nl_results_free(r);
        free(r);
        pl_templates_free(templates);
        free(templates);
        return nl_fail(err, NL_ERR_USAGE, "%s is a run inside a packed sweep: plot writes into a run's "
                       "directory; plot the sweep, or `normlab compare %s --out DIR`, or `normlab export csv` "
                       "the sweep first", dir, dir);
    }
    nl_results_check_run_files(r);
    nl_copy_string(rep->warnings, sizeof rep->warnings, r->warnings);
    if (plots_dir)
        nl_copy_string(rep->plots_dir, sizeof rep->plots_dir, plots_dir);
    else
        nl_path_join(rep->plots_dir, sizeof rep->plots_dir, r->dir, NL_PLOTS_DIR);
    if ((rc = make_plots_dir(rep, set, err)) == NL_OK && n_specs == 0)
        rc = write_every_kind(r, where, templates, rep, err);
    for (int i = 0; i < n_specs && rc == NL_OK; i++) {
        nl_plot_spec spec;
        if ((rc = with_where(&specs[i], where, &spec, err)) == NL_OK)
            rc = write_filtered(r, &spec, templates, rep, err);
    }
    nl_results_free(r);
    free(r);
    pl_templates_free(templates);
    free(templates);
    return rc;
}

nl_code nl_plot_write_into(const char *dir, const nl_plot_spec *specs, int n_specs, const nl_plot_where *where,
                           const char *templates_dir, const char *plots_dir, nl_plot_report *rep, nl_error *err)
{
    return write_plots(dir, specs, n_specs, where, templates_dir, plots_dir, NULL, rep, err);
}

nl_code nl_plot_write_staged(const char *dir, const nl_plot_spec *specs, int n_specs, const nl_plot_where *where,
                             const char *templates_dir, nl_outset *set, nl_plot_report *rep, nl_error *err)
{
    return write_plots(dir, specs, n_specs, where, templates_dir, NULL, set, rep, err);
}

nl_code nl_plot_stage(nl_plot_report *rep, nl_outset *set, nl_error *err)
{
    if (!rep->work_dir[0])
        return NL_OK;
    DIR *d = opendir(rep->work_dir);
    if (!d)
        return nl_fail(err, NL_ERR_IO, "cannot read %s: %s", rep->work_dir, strerror(errno));
    nl_code rc = NL_OK;
    for (struct dirent *e; rc == NL_OK && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char produced[1400], path[1400];
        nl_path_join(produced, sizeof produced, rep->work_dir, e->d_name);
        nl_path_join(path, sizeof path, rep->plots_dir, e->d_name);
        rc = nl_outset_adopt(set, path, produced, err);
    }
    closedir(d);
    return rc;
}

nl_code nl_plot_write_templates(const char *dir, nl_error *err) { return pl_templates_write(dir, err); }

bool nl_plot_find_gnuplot(char *buf, size_t size)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const size_t len = strcspn(path, ":");
        if (len > 0) {
            snprintf(buf, size, "%.*s/gnuplot", (int)len, path);
            struct stat st;
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
                return true;
        }
        path += len + (path[len] == ':');
    }
    buf[0] = '\0';
    return false;
}

const char *const nl_plot_format_names[NL_PLOT_N_FORMATS] = {"png", "svg", "pdf"};

/* runs `gnuplot -e EXPR [SCRIPT]` in `dir`; what it prints on stderr goes to `messages` */
static nl_code run_gnuplot(const char *gnuplot, const char *dir, const char *expr, const char *script,
                           char *messages, size_t size, nl_proc_end *end, nl_error *err)
{
    const char *const argv[] = {"gnuplot", "-e", expr, script, NULL}; /* script NULL ends it early */
    const nl_proc_spec spec = {.argv = argv, .path = gnuplot, .dir = dir, .err = {NL_PROC_PIPE}};
    nl_proc_output said;
    const nl_code rc = nl_proc_run(&spec, size - 1, &said, end, err);
    if (rc == NL_OK)
        nl_copy_string(messages, size, said.text);
    free(said.text);
    return rc;
}

/* does this gnuplot have the terminal? (builds without cairo lack pdfcairo) */
static bool has_terminal(const char *gnuplot, const char *terminal, nl_error *err, nl_code *rc)
{
    char expr[64], said[1024];
    snprintf(expr, sizeof expr, "set terminal %s", terminal);
    nl_proc_end end;
    *rc = run_gnuplot(gnuplot, ".", expr, NULL, said, sizeof said, &end, err);
    return *rc == NL_OK && end.exited && end.code == 0;
}

nl_code nl_plot_render(nl_plot_report *rep, unsigned formats, nl_error *err)
{
    rep->messages[0] = '\0';
    if (!nl_plot_find_gnuplot(rep->gnuplot, sizeof rep->gnuplot)) {
        rep->gnuplot_missing = true;
        return NL_OK;
    }
    if (formats & NL_PLOT_PDF) {
        nl_code rc;
        if (!has_terminal(rep->gnuplot, "pdfcairo", err, &rc)) {
            if (rc)
                return rc;
            rep->pdf_missing = true;
            formats &= ~(unsigned)NL_PLOT_PDF;
        }
    }
    size_t used = 0;
    const char *dir = rep->work_dir[0] ? rep->work_dir : rep->plots_dir;
    for (int i = 0; i < rep->n; i++) {
        nl_plot_output *o = &rep->items[i];
        for (int f = 0; f < NL_PLOT_N_FORMATS; f++) {
            if (!(formats & (1u << f)))
                continue;
            const char *fmt = nl_plot_format_names[f];
            /* Rendered to a name of this process's, then renamed over the
             * figure: plots are derived files, redrawn from the CSV files,
             * so replacing one is right, but a reader (or another normlab
             * plot drawing the same figure at the same moment) must see the
             * old picture or the new one whole, never gnuplot's half. */
            char said[4096], expr[600], script[128], temp_name[200], quoted[420];
            snprintf(temp_name, sizeof temp_name, "%s.tmp.%ld", o->name, (long)getpid());
            snprintf(expr, sizeof expr, "fmt=\"%s\"; fig_name=%s", fmt,
                     pl_q(temp_name, quoted, sizeof quoted));
            snprintf(script, sizeof script, "%s.gp", o->name);
            char out[1300], temp[1600];
            snprintf(out, sizeof out, "%s/%s.%s", dir, o->name, fmt);
            snprintf(temp, sizeof temp, "%s/%s.%s", dir, temp_name, fmt);
            nl_proc_end end;
            nl_code rc = run_gnuplot(rep->gnuplot, dir, expr, script, said, sizeof said, &end, err);
            if (rc)
                return rc;
            if (!end.exited || end.code != 0) {
                unlink(temp);
                size_t len = strlen(said);
                while (len && said[len - 1] == '\n')
                    said[--len] = '\0';
                return nl_fail(err, NL_ERR_RUNTIME, "gnuplot failed on %s (%s): %s", o->script, fmt,
                               said[0] ? said : "no message");
            }
            if (said[0] && used < sizeof rep->messages - 1)
                used += (size_t)snprintf(rep->messages + used, sizeof rep->messages - used, "%s%s.gp (%s): %s",
                                         used ? "\n" : "", o->name, fmt, said);
            struct stat st;
            if (stat(temp, &st) != 0 || st.st_size == 0) {
                unlink(temp);
                return nl_fail(err, NL_ERR_RUNTIME, "gnuplot wrote no %s for %s (its template "
                               "must write fig_name.\".\".fmt)", out, o->script);
            }
            rc = (1u << f) == NL_PLOT_SVG ? pl_svg_titles(temp, o->name, err) : NL_OK;
            if (rc) {
                unlink(temp);
                return rc;
            }
            if ((rc = nl_rename_into(temp, out, err))) {
                unlink(temp);
                return rc;
            }
        }
        o->rendered = true;
    }
    while (used && rep->messages[used - 1] == '\n')
        rep->messages[--used] = '\0';
    return NL_OK;
}
