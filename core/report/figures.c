/* The figures: each plot the experiment declares (every kind that applies
 * when there is no experiment file, or for a run), written by the plots'
 * own writers and templates into the page's private directory, rendered
 * as SVG by gnuplot and inlined: the results directory is only read. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot/plot.h"
#include "report/internal.h"
#include "results/files.h"
#include "results/store.h"

void rp_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char child[1400];
        nl_path_join(child, sizeof child, path, e->d_name);
        rp_remove_tree(child);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

/* a run inside a packed sweep (results/store.h): its metrics.csv and
 * trace.csv written out of the pack into the private directory `base` */
static nl_code stage_packed(const char *run_dir, const char *base, nl_error *err)
{
    static const char *const files[] = {NL_RUN_METRICS_FILE, NL_RUN_TRACE_FILE};
    nl_code rc = NL_OK;
    for (size_t f = 0; !rc && f < sizeof files / sizeof files[0]; f++) {
        char path[1200], *text = NULL;
        size_t len = 0;
        nl_path_join(path, sizeof path, base, files[f]);
        if (!nl_run_file_exists(run_dir, files[f]))
            continue;
        rc = nl_run_file_read(run_dir, files[f], &text, &len, err);
        if (!rc)
            rc = nl_write_atomic(path, text, len, err);
        free(text);
    }
    return rc;
}

/* T/sN/plots, made; a single run's scripts read ../metrics.csv and
 * ../trace.csv, linked there to the run's own */
static nl_code stage(rp_page *p, const rp_source *s, char *plots, size_t size, nl_error *err)
{
    char base[1100];
    snprintf(base, sizeof base, "%s/s%d", p->tmp, s->index);
    snprintf(plots, size, "%s/" NL_PLOTS_DIR, base);
    nl_code rc = nl_make_dirs(plots, err);
    if (rc || s->res.sweep)
        return rc;
    if (nl_run_packed(s->res.runs[0].dir, NULL, 0, NULL, 0))
        return stage_packed(s->res.runs[0].dir, base, err);
    char run[PATH_MAX];
    if (!realpath(s->res.runs[0].dir, run))
        return nl_fail(err, NL_ERR_IO, "cannot resolve %s: %s", s->res.runs[0].dir, strerror(errno));
    static const char *const files[] = {NL_RUN_METRICS_FILE, NL_RUN_TRACE_FILE};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char target[PATH_MAX + 32], link_path[1200];
        snprintf(target, sizeof target, "%s/%s", run, files[f]);
        nl_path_join(link_path, sizeof link_path, base, files[f]);
        if (nl_path_exists(target) && symlink(target, link_path) != 0) /* lint: in its private directory */
            return nl_fail(err, NL_ERR_IO, "cannot link %s: %s", link_path, strerror(errno));
    }
    return NL_OK;
}

/* ids made the figure's own: every figure of gnuplot names its point
 * shapes gpPt0, ... and one page holds many */
static void prefixed_svg(nl_buf *out, const char *svg, int figure)
{
    static const char *const refs[] = {" id=\"", " id='", "href=\"#", "href='#", "url(#"};
    const char *start = strstr(svg, "<svg");
    const char *s = start ? start : svg;
    if (start) {
        nl_buf_printf(out, "<svg role=\"img\"");
        s += 4;
    }
    while (*s) {
        const char *next = NULL;
        size_t which = 0;
        for (size_t r = 0; r < sizeof refs / sizeof refs[0]; r++) {
            const char *at = strstr(s, refs[r]);
            if (at && (!next || at < next)) {
                next = at;
                which = r;
            }
        }
        if (!next) {
            nl_buf_printf(out, "%s", s);
            return;
        }
        const size_t len = strlen(refs[which]);
        nl_buf_printf(out, "%.*sf%d-", (int)(next - s + len), s, figure);
        s = next + len;
    }
}

/* the first double-quoted gnuplot string after a line's prefix in the
 * script, unescaped, line breaks as spaces; "" none */
static void script_string(const char *script, const char *prefix, char *out, size_t size)
{
    out[0] = '\0';
    const char *c = nl_line_after(script, prefix, '"');
    if (!c)
        return;
    size_t n = 0;
    for (; *c && *c != '"' && *c != '\n' && n + 1 < size; c++) {
        if (*c == '\\' && c[1]) {
            c++;
            out[n++] = *c == 'n' ? ' ' : *c;
        } else {
            out[n++] = *c;
        }
    }
    out[n] = '\0';
}

/* what the figure shows, from its script: its title (set label 101, a
 * panel's set title when there is none) and its footnote (set label 103:
 * what the lines and bands are). 233 of 243 captions were the plot's bare
 * name (issue 83). */
static void caption_from_script(nl_buf *html, const char *script_path)
{
    char *script = NULL;
    nl_error ignored = {0}; /* no script: the caption keeps the name and the note */
    if (nl_read_file_max(script_path, NL_READ_TEXT_MAX, &script, NULL, &ignored) != NL_OK)
        return;
    char title[512], foot[1024];
    script_string(script, "set label 101 ", title, sizeof title);
    if (!title[0])
        script_string(script, "set title ", title, sizeof title);
    script_string(script, "set label 103 ", foot, sizeof foot);
    free(script);
    if (title[0]) {
        nl_buf_printf(html, ": ");
        rp_esc(html, title);
    }
    if (foot[0]) {
        nl_buf_printf(html, "%s", title[0] ? " (" : ": (");
        rp_esc(html, foot);
        nl_buf_printf(html, ")");
    }
}

/* one rendered figure inlined, its title, footnote and note as the caption */
static nl_code inline_one(rp_page *p, const nl_plot_report *rep, const nl_plot_output *o, nl_error *err)
{
    char path[1300], *svg = NULL;
    snprintf(path, sizeof path, "%s/%s.svg", rep->plots_dir, o->name);
    nl_code rc = nl_read_file_max(path, NL_READ_TEXT_MAX, &svg, NULL, err);
    if (rc)
        return rc;
    const int figure = ++p->n_figures;
    nl_buf_printf(p->html, "<figure id=\"fig-%d\"><div class=\"figscroll\"><div class=\"svgbox\">\n", figure);
    prefixed_svg(p->html, svg, figure);
    free(svg);
    nl_buf_printf(p->html, "\n</div></div><figcaption><code>");
    rp_esc(p->html, o->name);
    nl_buf_printf(p->html, "</code>");
    const size_t said = p->html->len;
    caption_from_script(p->html, o->script);
    const bool titled = p->html->len > said;
    /* the note is written for stdout, its lines "NAME: ...": the caption
     * names the figure once */
    const size_t name_len = strlen(o->name);
    for (const char *line = o->note; *line;) {
        const size_t len = strcspn(line, "\n");
        const bool named = len > name_len + 2 && !strncmp(line, o->name, name_len) && line[name_len] == ':' &&
                           line[name_len + 1] == ' ';
        const size_t skip = named ? name_len + 2 : 0;
        char text[sizeof o->note];
        snprintf(text, sizeof text, "%.*s", (int)(len - skip), line + skip);
        nl_buf_printf(p->html, line == o->note ? (titled ? ". " : ": ") : " ");
        rp_esc(p->html, text);
        line += len + (line[len] == '\n');
    }
    nl_buf_printf(p->html, "</figcaption></figure>\n");
    return NL_OK;
}

nl_code rp_inline_figures(rp_page *p, nl_plot_report *rep, rp_source *s, nl_error *err)
{
    nl_code rc = nl_plot_render(rep, NL_PLOT_SVG, err);
    if (rc)
        return rc;
    if (rep->gnuplot_missing) {
        if (!p->out->gnuplot_missing)
            nl_buf_printf(&p->out->notes, "gnuplot is not on PATH: the page has no figures (Debian: apt-get "
                          "install gnuplot-nox)\n");
        p->out->gnuplot_missing = true;
        nl_buf_printf(p->html, "<p class=\"warn\">Not drawn: gnuplot is not on PATH where the page was made "
                      "(%d figure%s).</p>\n", rep->n, rep->n == 1 ? "" : "s");
        return NL_OK;
    }
    if (rep->messages[0] && s)
        rp_warn(s, p, "gnuplot said: %s", rep->messages);
    for (int i = 0; i < rep->n && rc == NL_OK; i++)
        rc = inline_one(p, rep, &rep->items[i], err);
    return rc;
}

/* one plot request: the experiment's spec i, or (spec NULL) every kind that applies */
static nl_code one_request(rp_page *p, rp_source *s, const char *plots, const nl_plot_spec *spec, nl_error *err)
{
    nl_plot_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_error why = {0};
    nl_code rc = nl_plot_write_into(s->res.dir, spec, spec ? 1 : 0, NULL, NULL, plots, rep, &why);
    if (rc == NL_ERR_USAGE) {
        /* a declared plot that cannot apply to these runs (yet) */
        rp_warn(s, p, "a plot was not drawn: %s", why.msg);
        rc = NL_OK;
    } else if (rc) {
        *err = why;
    } else {
        rc = rp_inline_figures(p, rep, s, err);
        /* the kinds that do not apply, folded: a run's page would
         * otherwise open on a dozen lines of what is not there */
        if (rc == NL_OK && rep->n_skipped > 0) {
            nl_buf_printf(p->html, "<details class=\"small\"><summary>%d plot kind%s not drawn</summary><ul>",
                          rep->n_skipped, rep->n_skipped == 1 ? "" : "s");
            for (int i = 0; i < rep->n_skipped; i++) {
                nl_buf_printf(p->html, "<li>");
                rp_esc(p->html, rep->skipped[i]);
                nl_buf_printf(p->html, "</li>");
            }
            nl_buf_printf(p->html, "</ul></details>\n");
        }
    }
    free(rep);
    return rc;
}

nl_code rp_figures(rp_page *p, rp_source *s, nl_error *err)
{
    char plots[1200];
    nl_code rc = stage(p, s, plots, sizeof plots, err);
    if (rc)
        return rc;
    const bool declared = s->have_exp && s->exp.n_plots > 0;
    nl_buf_printf(p->html, "<h3 id=\"s%d-plots\">Plots</h3>\n<p class=\"hint\">%s, drawn by gnuplot from the "
                  "templates of <code>normlab plot</code> (finished runs; means over seeds).</p>\n", s->index,
                  declared ? "The plots the experiment file declares" : "Every plot kind that applies");
    if (!declared)
        return one_request(p, s, plots, NULL, err);
    for (int i = 0; i < s->exp.n_plots && rc == NL_OK; i++)
        rc = one_request(p, s, plots, &s->exp.plots[i].spec, err);
    return rc;
}

nl_code rp_compare_figure(rp_page *p, const rp_source *src, int n_src, nl_error *err)
{
    /* the sections' runs as they read them: their values, config.yaml and
     * metrics.csv (nl_results_run.held), not read again (issue 118) */
    const nl_results *in[NL_REPORT_MAX_DIRS];
    for (int i = 0; i < n_src && i < NL_REPORT_MAX_DIRS; i++)
        in[i] = &src[i].res;
    nl_plot_report *rep = calloc(1, sizeof *rep);
    if (!rep)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    char out[1100];
    snprintf(out, sizeof out, "%s/compare", p->tmp);
    nl_plot_spec spec;
    nl_plot_spec_init(&spec, NL_PLOT_CURVES);
    nl_error why = {0};
    nl_buf_printf(p->html, "<h2 class=\"first\" id=\"compared\">The directories compared</h2>\n");
    nl_code rc = nl_plot_compare_loaded(in, n_src, &spec, out, NULL, rep, &why);
    if (rc == NL_ERR_USAGE) {
        nl_buf_printf(&p->out->notes, "the directories' curves were not drawn together: %s\n", why.msg);
        nl_buf_printf(p->html, "<p class=\"small\">Not drawn: ");
        rp_esc(p->html, why.msg);
        nl_buf_printf(p->html, "</p>\n");
        rc = NL_OK;
    } else if (rc) {
        *err = why;
    } else {
        rc = rp_inline_figures(p, rep, NULL, err);
    }
    free(rep);
    return rc;
}
