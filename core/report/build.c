/* nl_report_build: every directory read first (nothing is made when one
 * cannot be), then the page, a section per directory, its figures drawn
 * in a private temporary directory removed at the end. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/files.h"
#include "report/internal.h"
#include "results/files.h"
#include "sweep/sweep.h"

/* the directories, or one directory's parts */
static void toc(rp_page *p, const rp_source *src, int n)
{
    static const struct {
        const char *id, *name;
    } parts[] = {{"over-seeds", "over seeds"}, {"plots", "plots"}, {"verdicts", "verdicts"},
                 {"runs", "runs"}, {"configs", "configs and provenance"}};
    nl_buf_printf(p->html, "<nav class=\"toc\" aria-label=\"sections\">");
    if (n > 1)
        nl_buf_printf(p->html, "<a href=\"#compared\">compared</a>");
    for (int i = 0; i < n && n > 1; i++) {
        nl_buf_printf(p->html, "<a href=\"#s%d\">", src[i].index);
        rp_esc(p->html, src[i].name);
        nl_buf_printf(p->html, "</a>");
    }
    char verdicts[1200];
    nl_path_join(verdicts, sizeof verdicts, src[0].res.dir, NL_SWEEP_VERDICTS_FILE);
    for (size_t k = 0; k < sizeof parts / sizeof parts[0] && n == 1; k++) {
        /* a run has no table over seeds; only a sweep with verdicts.csv has verdicts */
        if ((!strcmp(parts[k].id, "over-seeds") && !src[0].res.sweep) ||
            (!strcmp(parts[k].id, "verdicts") && !(src[0].res.sweep && nl_path_exists(verdicts))))
            continue;
        nl_buf_printf(p->html, "<a href=\"#s1-%s\">%s</a>", parts[k].id, parts[k].name);
    }
    nl_buf_printf(p->html, "</nav>\n</header>\n<main>\n");
}

/* where the sweep (or run) stands, said in words at the top of its section:
 * finished (every run ended), running (a process holds the sweep's lock or
 * a run's), or stopped (nothing runs and runs are left: killed,
 * interrupted or never started). A killed sweep's last page would
 * otherwise read as a finished one with a few odd rows. A stopped watch's
 * page (opt->stopped_by) is frozen: it says how things stood when the
 * watch stopped, in the past tense, for they have gone on since. */
static void state_line(rp_page *p, const rp_source *s, const int *counts)
{
    const int finished = counts[NL_PHASE_OK] + counts[NL_PHASE_DIVERGED];
    const int left = counts[NL_PHASE_INTERRUPTED] + counts[NL_PHASE_KILLED] + counts[NL_PHASE_RUNNING] +
                     counts[NL_PHASE_PENDING];
    const char *dir = s->res.dir;
    const bool running = counts[NL_PHASE_RUNNING] > 0 || (s->res.sweep && nl_report_running(&dir, 1));
    const char *state = running ? "running" : !left ? "finished" : "stopped";
    const char *what = s->res.sweep ? "sweep" : "run";
    char stand[200];
    nl_run_phases_text(counts, stand, sizeof stand);
    nl_buf_printf(p->html, "<p class=\"state state-%s\" role=\"status\">", state);
    if (p->opt->stopped_by) {
        char when[40];
        struct tm tm;
        gmtime_r(&p->opt->stopped_at, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
        nl_buf_printf(p->html, "When the watch stopped at %s, ", when);
        if (s->res.sweep)
            nl_buf_printf(p->html, "%d of %d runs had finished%s%s%s and the sweep %s", finished, s->res.n_runs,
                          stand[0] ? " (" : "", stand, stand[0] ? ")" : "",
                          running ? "was still running" : !left ? "had finished" : "had stopped");
        else
            nl_buf_printf(p->html, "the run %s", running ? "was running" : !left ? "had finished" : "had stopped");
    } else {
        nl_buf_printf(p->html, "The %s %s", what, running ? "is running" : state);
        if (s->res.sweep)
            nl_buf_printf(p->html, ": %d of %d runs finished%s%s", finished, s->res.n_runs, stand[0] ? ", " : "",
                          stand);
        else if (!running)
            nl_buf_printf(p->html, ": %s", nl_run_phase_name(s->runs[0].phase));
    }
    if (!s->res.sweep && left && s->runs[0].last_step >= 0)
        nl_buf_printf(p->html, "%s step %ld", running ? ", at" : " after", s->runs[0].last_step);
    if (left && !running && !s->res.sweep)
        nl_buf_printf(p->html, ". Nothing %s: its numbers are as far as it got", p->opt->stopped_by ? "ran then" :
                      "runs now");
    if (left && !running && s->res.sweep) {
        /* the exact command, the sweep's --set options included: typed
         * without one, a sweep plans its finished runs as changed */
        nl_buf cmd = {0};
        /* the experiment file the sweep runs from, never the kept copy the page may read */
        const char *exp = s->from.from == NL_SWEEP_EXP_KEPT ? (s->from.path_found ? s->from.path : NULL)
                          : s->experiment[0]                ? s->experiment
                                                            : NULL;
        const bool known = nl_sweep_resume_command(exp, s->res.dir, &cmd);
        nl_buf_printf(p->html, ". Nothing %s: <code class=\"resume\">", p->opt->stopped_by ? "ran then" :
                      "runs now");
        rp_esc(p->html, cmd.failed ? "normlab sweep" : cmd.data);
        nl_buf_printf(p->html, "</code> resumes its killed and interrupted runs and starts its pending ones%s%s",
                      exp ? "" : " (EXPERIMENT: its experiment file, not found here)",
                      known ? "" : " (this directory does not record the --set options its sweep was started "
                                   "with: add them, or its finished runs read as changed)");
        nl_buf_free(&cmd);
    }
    nl_buf_printf(p->html, ".</p>\n");
}

static void section_head(rp_page *p, const rp_source *s, bool first)
{
    int counts[NL_PHASE_COUNT] = {0};
    for (int i = 0; i < s->res.n_runs; i++)
        counts[s->runs[i].phase]++;
    nl_buf_printf(p->html, "<section id=\"s%d\">\n<h2%s>", s->index, first ? " class=\"first\"" : "");
    rp_esc(p->html, s->name);
    nl_buf_printf(p->html, "</h2>\n<p class=\"path\">");
    rp_esc_path(p->html, s->res.dir);
    nl_buf_printf(p->html, "</p>\n<p>%s: %d run%s, ", s->res.sweep ? "A sweep" : "A run", s->res.n_runs,
                  s->res.n_runs == 1 ? "" : "s");
    bool any = false;
    for (int k = 0; k < NL_PHASE_COUNT; k++)
        if (counts[k]) {
            const char *name = nl_run_phase_name((nl_run_phase)k);
            nl_buf_printf(p->html, "%s<span class=\"status status-%s\">%d %s</span>", any ? ", " : "", name,
                          counts[k], name);
            any = true;
        }
    nl_buf_printf(p->html, ".</p>\n");
    state_line(p, s, counts);
}

static nl_code section(rp_page *p, rp_source *s, bool first, nl_error *err)
{
    section_head(p, s, first);
    rp_source_warnings(s, p);
    rp_warnings_box(p, s);
    rp_description(p, s);
    rp_grid(p, s);
    rp_filters(p, s);
    /* the numbers over seeds, the pictures, the curves and the claims first; then every run */
    static nl_code (*const parts[])(rp_page *, rp_source *, nl_error *) = {rp_cells_table, rp_figures, rp_curves,
                                                                           rp_verdicts};
    nl_code rc = NL_OK;
    for (size_t k = 0; k < sizeof parts / sizeof parts[0] && rc == NL_OK; k++)
        rc = parts[k](p, s, err);
    if (rc == NL_OK) {
        rp_filters(p, s);
        rc = rp_runs_table(p, s, err);
    }
    if (rc == NL_OK) {
        rp_provenance(p, s);
        rc = rp_configs(p, s, err);
    }
    if (rc == NL_OK)
        nl_buf_printf(p->html, "</section>\n");
    p->out->n_runs += s->res.n_runs;
    for (int i = 0; i < s->res.n_runs; i++)
        p->out->n_finished += rp_run_finished(&s->runs[i]);
    return rc;
}

/* a private directory for the figures: $TMPDIR or /tmp */
static nl_code make_tmp(rp_page *p, nl_error *err)
{
    const char *base = getenv("TMPDIR");
    snprintf(p->tmp, sizeof p->tmp, "%s/normlab-report.XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(p->tmp)) /* lint: a private directory of its own, made new (mode 0700) */
        return nl_fail(err, NL_ERR_IO, "cannot make a temporary directory in %s for the figures: %s",
                       base && base[0] ? base : "/tmp", strerror(errno));
    /* the way to TMPDIR is the user's (it may pass a link); the
     * directory made there, and all below, is held as every output */
    return nl_write_root_add(p->tmp, err);
}

static nl_code write_page(rp_page *p, rp_source *src, int n_dirs, nl_error *err)
{
    char title[400]; /* two names of up to 160 bytes and a count */
    if (n_dirs == 1)
        snprintf(title, sizeof title, "%s", src[0].name);
    else if (n_dirs == 2)
        snprintf(title, sizeof title, "%s and %s", src[0].name, src[1].name);
    else
        snprintf(title, sizeof title, "%s, %s and %d more", src[0].name, src[1].name, n_dirs - 2);
    rp_page_head(p, title, n_dirs);
    toc(p, src, n_dirs);
    nl_code rc = n_dirs > 1 ? rp_compare_figure(p, src, n_dirs, err) : NL_OK;
    if (rc == NL_OK && n_dirs > 1)
        rc = rp_curves_together(p, src, n_dirs, err);
    for (int i = 0; i < n_dirs && rc == NL_OK; i++)
        rc = section(p, &src[i], i == 0 && n_dirs == 1, err);
    rp_page_tail(p);
    p->out->n_figures = p->n_figures;
    return rc;
}

nl_code nl_report_build(const char *const *dirs, int n_dirs, const nl_report_options *opt, nl_report *out,
                        nl_error *err)
{
    memset(out, 0, sizeof *out);
    if (n_dirs < 1 || n_dirs > NL_REPORT_MAX_DIRS)
        return nl_fail(err, NL_ERR_USAGE, "give 1 to %d directories (got %d)", NL_REPORT_MAX_DIRS, n_dirs);
    if (opt->experiment && n_dirs > 1)
        return nl_fail(err, NL_ERR_USAGE, "--experiment names the file of one sweep directory; %d given", n_dirs);
    /* a search's record is no sweep: its page is of another kind, and
     * made alone (its candidates share no key with a sweep's runs) */
    for (int i = 0; i < n_dirs; i++)
        if (rp_is_search(dirs[i]) && (n_dirs > 1 || opt->experiment))
            return nl_fail(err, NL_ERR_USAGE, "%s is a search's directory (it holds candidates.csv): its page is "
                           "made from it alone, %s", dirs[i], n_dirs > 1 ? "give it without other directories"
                           : "without --experiment (a sweep's file)");
    if (rp_is_search(dirs[0])) {
        rp_page page = {.html = &out->html, .out = out, .opt = opt};
        nl_code rc = make_tmp(&page, err);
        if (rc == NL_OK) {
            rc = rp_search_page(&page, dirs[0], err);
            rp_remove_tree(page.tmp);
        }
        if (rc == NL_OK && (out->html.failed || out->notes.failed))
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory writing the page");
        if (rc)
            nl_report_free(out);
        return rc;
    }
    rp_source *src = calloc((size_t)n_dirs, sizeof *src);
    if (!src)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = NL_OK;
    int loaded = 0;
    for (; loaded < n_dirs && rc == NL_OK; loaded++)
        rc = rp_source_load(dirs[loaded], loaded + 1, opt, &src[loaded], err);
    rp_page page = {.html = &out->html, .out = out, .opt = opt};
    if (rc == NL_OK && (rc = make_tmp(&page, err)) == NL_OK) {
        rc = write_page(&page, src, n_dirs, err);
        rp_remove_tree(page.tmp);
    }
    free(page.t975);
    for (int i = 0; i < loaded; i++)
        rp_source_free(&src[i]);
    free(src);
    if (rc == NL_OK && (out->html.failed || out->notes.failed))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory writing the page");
    if (rc)
        nl_report_free(out);
    return rc;
}

void nl_report_free(nl_report *r)
{
    nl_buf_free(&r->html);
    nl_buf_free(&r->notes);
}
