/* The claims' verdicts, where normlab verdict wrote verdicts.csv beside
 * summary.csv: its table, and its forest plot drawn again as SVG by the
 * verdict module's own writer from the file's rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot.h"
#include "report/internal.h"
#include "results/files.h"
#include "verdict/forest.h"
#include "verdict/verdict.h"

/* the columns the page shows, as verdicts.csv names them, and their
 * headers; long text folds into the claim's cell, so that the numbers and
 * the verdict stay in view on a laptop's screen */
typedef enum { COL_TEXT, COL_NUMBER, COL_FOLDED } column_kind;
static const struct {
    const char *column, *header;
    column_kind kind;
} shown[] = {
    {"claim", "claim", COL_TEXT},          {"paper", "the paper's claim", COL_FOLDED},
    {"metric", "metric", COL_TEXT},        {"expect", "expected", COL_TEXT},
    {"a", "a", COL_TEXT},                  {"b", "b", COL_TEXT},
    {"n", "seeds", COL_NUMBER},            {"effect", "effect", COL_NUMBER},
    {"lo", "interval", COL_NUMBER},        {"p_holm", "p (Holm)", COL_NUMBER},
    {"agree", "seeds agreeing", COL_NUMBER}, {"verdict", "verdict", COL_TEXT},
    {"seeds_needed", "seeds needed", COL_NUMBER}, {"note", "note", COL_FOLDED},
};
#define N_SHOWN (int)(sizeof shown / sizeof shown[0])

static nl_verdict_kind kind_of(const char *name)
{
    for (int k = 0; k < NL_VERDICT_KIND_COUNT; k++)
        if (!strcmp(nl_verdict_kind_names[k], name))
            return (nl_verdict_kind)k;
    return NL_VERDICT_INCONCLUSIVE;
}

static const char *cell(const nl_csv_table *t, int row, const char *column)
{
    const int c = nl_csv_table_col(t, column);
    return c >= 0 ? t->rows[row][c] : "";
}

static void verdict_cell(rp_page *p, const char *verdict)
{
    nl_buf_printf(p->html, "<td class=\"verdict-");
    for (const char *c = verdict; *c; c++)
        nl_buf_printf(p->html, "%c", *c == ' ' ? '-' : *c);
    nl_buf_printf(p->html, "\">");
    rp_esc(p->html, verdict);
    nl_buf_printf(p->html, "</td>");
}

/* the claim's id, and the long text of its row folded under it */
static void claim_cell(rp_page *p, const nl_csv_table *t, int r)
{
    nl_buf_printf(p->html, "<td class=\"claim\">");
    rp_esc(p->html, cell(t, r, "claim"));
    for (int c = 0; c < N_SHOWN; c++) {
        const char *v = cell(t, r, shown[c].column);
        if (shown[c].kind != COL_FOLDED || !v[0])
            continue;
        nl_buf_printf(p->html, "<details><summary>%s</summary>", shown[c].header);
        rp_esc(p->html, v);
        nl_buf_printf(p->html, "</details>");
    }
    nl_buf_printf(p->html, "</td>");
}

static void number_cell(rp_page *p, const nl_csv_table *t, int r, const char *column)
{
    const char *v = cell(t, r, column);
    if (!strcmp(column, "lo")) {
        const char *hi = cell(t, r, "hi");
        nl_buf_printf(p->html, "<td class=\"num\" data-v=\"%s\">", v[0] ? v : "nan");
        if (v[0] && hi[0])
            nl_buf_printf(p->html, "%.4g – %.4g", strtod(v, NULL), strtod(hi, NULL));
        else
            nl_buf_printf(p->html, "–");
        nl_buf_printf(p->html, "</td>");
        return;
    }
    char text[64];
    rp_metric_text(column, v, text, sizeof text);
    nl_buf_printf(p->html, "<td class=\"num\" data-v=\"");
    rp_esc(p->html, v[0] ? v : "nan");
    nl_buf_printf(p->html, "\">");
    rp_esc(p->html, text[0] && strcmp(v, "-1") ? text : "–");
    nl_buf_printf(p->html, "</td>");
}

/* a row, with the cells its claim names (the filters dim a claim whose
 * cells hold no run shown) */
static void verdict_row(rp_page *p, const nl_csv_table *t, int r)
{
    nl_buf_printf(p->html, "<tr data-cells=\"");
    for (int c = 0; c < NL_CELL_COUNT; c++) {
        const char *named = cell(t, r, nl_cell_names[c]);
        if (named[0]) {
            rp_esc(p->html, named);
            nl_buf_printf(p->html, "\t");
        }
    }
    nl_buf_printf(p->html, "\">");
    for (int c = 0; c < N_SHOWN; c++) {
        const char *v = cell(t, r, shown[c].column);
        if (!strcmp(shown[c].column, "claim")) {
            claim_cell(p, t, r);
        } else if (!strcmp(shown[c].column, "verdict")) {
            verdict_cell(p, v);
        } else if (shown[c].kind == COL_NUMBER) {
            number_cell(p, t, r, shown[c].column);
        } else if (shown[c].kind == COL_TEXT) {
            nl_buf_printf(p->html, "<td class=\"text\">");
            rp_esc(p->html, v);
            nl_buf_printf(p->html, "</td>");
        }
    }
    nl_buf_printf(p->html, "</tr>\n");
}

/* the forest plot of verdicts.csv's rows, by nl_verdict_forest */
static nl_code forest(rp_page *p, rp_source *s, const nl_csv_table *t, nl_error *err)
{
    nl_verdict_report rep = {0};
    nl_claim *claims = calloc((size_t)t->n_rows, sizeof *claims);
    rep.v = calloc((size_t)t->n_rows, sizeof *rep.v);
    nl_plot_report *plots = calloc(1, sizeof *plots);
    nl_code rc = claims && rep.v && plots ? NL_OK : nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_copy_string(rep.sweep_dir, sizeof rep.sweep_dir, s->res.dir);
    for (int r = 0; r < t->n_rows && rc == NL_OK; r++) {
        nl_verdict *v = &rep.v[rep.n++];
        char why[256];
        /* the expectation as the claim wrote it: its threshold and band,
         * read with the cells the claim named (verdicts.csv's a, b, c, d) */
        bool has[NL_CELL_COUNT];
        for (int c = 0; c < NL_CELL_COUNT; c++)
            has[c] = cell(t, r, nl_cell_names[c])[0] != '\0';
        nl_claim_parse_expect(cell(t, r, "expect"), has, &claims[r], why, sizeof why);
        v->claim = &claims[r];
        nl_copy_string(v->id, sizeof v->id, cell(t, r, "claim"));
        v->effect = nl_csv_num(cell(t, r, "effect"));
        v->lo = nl_csv_num(cell(t, r, "lo"));
        v->hi = nl_csv_num(cell(t, r, "hi"));
        v->verdict = kind_of(cell(t, r, "verdict"));
        rep.opt.level = nl_csv_num(cell(t, r, "level"));
    }
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/s%d/" NL_VERDICTS_PLOT, p->tmp, s->index);
    if (rc == NL_OK && (rc = nl_make_dirs(dir, err)) == NL_OK &&
        (rc = nl_verdict_forest(&rep, dir, plots, err)) == NL_OK)
        rc = rp_inline_figures(p, plots, s, err);
    free(plots);
    free(rep.v);
    free(claims);
    return rc;
}

nl_code rp_verdicts(rp_page *p, rp_source *s, nl_error *err)
{
    char path[1200];
    nl_path_join(path, sizeof path, s->res.dir, NL_SWEEP_VERDICTS_FILE);
    if (!s->res.sweep || !nl_path_exists(path))
        return NL_OK;
    nl_csv_table t;
    nl_code rc = nl_csv_table_read(path, &t, err);
    if (rc)
        return rc;
    char problem[1600];
    if (nl_csv_table_problem(&t, path, problem, sizeof problem)[0])
        rp_warn(s, p, "%s", problem);
    nl_buf_printf(p->html, "<h3 id=\"s%d-verdicts\">Claims and verdicts</h3>\n<p class=\"hint\">From "
                  "<code>verdicts.csv</code> (<code>normlab verdict</code>): each claim's effect paired by seed, "
                  "its interval and Holm-corrected p; results/usage.md, \"Claims and verdicts\", says what each "
                  "column means. <span class=\"count\" id=\"s%d-verdicttable-count\"></span></p>\n<div class=\"scroll\">"
                  "<table class=\"sortable verdicts\" id=\"s%d-verdicttable\">\n<thead><tr>", s->index, s->index,
                  s->index);
    for (int c = 0; c < N_SHOWN; c++)
        if (shown[c].kind != COL_FOLDED)
            nl_buf_printf(p->html, "<th%s>%s</th>", shown[c].kind == COL_NUMBER ? " class=\"num\"" : "",
                          shown[c].header);
    nl_buf_printf(p->html, "</tr></thead>\n<tbody>\n");
    for (int r = 0; r < t.n_rows; r++)
        verdict_row(p, &t, r);
    nl_buf_printf(p->html, "</tbody></table></div>\n");
    if (t.n_rows > 0)
        rc = forest(p, s, &t, err);
    nl_csv_table_free(&t);
    return rc;
}
