/* The claims' verdicts, where normlab verdict wrote verdicts.csv beside
 * summary.csv: its table, and its forest plot drawn again as SVG by the
 * verdict module's own writer from the file's rows. Each row's numbers
 * are in its own unit, read from its method and expectation: a claim over
 * cells counts cells and a count claim units (never drawn on an error's
 * axis), a rate is a share of seeds, and a mean effect is in its metric's
 * unit on the page (points for errors and accuracies, which the file
 * holds as fractions; nats for losses; a ratio has none), named beside
 * every number. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot.h"
#include "report/internal.h"
#include "results/files.h"
#include "verdict/forest.h"
#include "verdict/unit.h"
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
    {"n", "n", COL_NUMBER},                {"effect", "effect", COL_NUMBER},
    {"lo", "interval", COL_NUMBER},        {"p_holm", "p (Holm)", COL_NUMBER},
    {"agree", "agreeing", COL_NUMBER}, {"verdict", "verdict", COL_TEXT},
    {"seeds_needed", "seeds needed", COL_NUMBER}, {"note", "note", COL_FOLDED},
};
#define N_SHOWN (int)(sizeof shown / sizeof shown[0])

static const char *cell(const nl_csv_table *t, int row, const char *column);

/* a row's unit (verdict/unit.h, the one rule the screen and the forest
 * plot share), and whether its expectation parsed */
typedef struct {
    nl_effect_unit e;
    bool parsed; /* claim holds the row's expectation (threshold, band) in the file's units */
} row_unit;

/* the metric a row's unit is of: the column where the metric names a run's file */
static const char *metric_of(const nl_csv_table *t, int r)
{
    const char *metric = cell(t, r, "metric"), *column = cell(t, r, "column");
    return column[0] && strstr(metric, ".csv") ? column : metric;
}

/* row r's kind and unit from its method (a claim over cells, a count) and
 * its expectation, parsed into claim */
static row_unit unit_of(const nl_csv_table *t, int r, nl_claim *claim)
{
    row_unit u;
    bool has[NL_CELL_COUNT];
    for (int c = 0; c < NL_CELL_COUNT; c++)
        has[c] = cell(t, r, nl_cell_names[c])[0] != '\0';
    char why[256];
    memset(claim, 0, sizeof *claim);
    u.parsed = nl_claim_parse_expect(cell(t, r, "expect"), has, claim, why, sizeof why);
    if (!u.parsed)
        claim->effect = NL_EFFECT_VALUE;
    nl_copy_string(claim->metric.name, sizeof claim->metric.name, metric_of(t, r));
    u.e = nl_effect_unit_of(cell(t, r, "method"), claim->metric.name, claim);
    if (u.e.kind == NL_UNIT_CELLS)
        u.parsed = false; /* its expectation is each cell's, in another unit */
    return u;
}

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

/* the effect or its interval (column "lo"), in the row's unit: data-v
 * the number shown, data-unit its unit (the page's script labels by it) */
static void unit_cell(rp_page *p, const nl_csv_table *t, int r, const char *column, const row_unit *u)
{
    const double v = nl_csv_num(cell(t, r, column)), hi = nl_csv_num(cell(t, r, "hi")),
                 n = nl_csv_num(cell(t, r, "n"));
    const double shown = u->e.kind == NL_UNIT_COUNT || u->e.kind == NL_UNIT_CELLS ? v : v * u->e.scale;
    nl_buf_printf(p->html, "<td class=\"num\" data-v=\"%.10g\" data-unit=\"", shown);
    rp_esc(p->html, u->e.unit);
    nl_buf_printf(p->html, "\">");
    if (isnan(v)) {
        nl_buf_printf(p->html, "–");
    } else if (!strcmp(column, "effect") && (u->e.kind == NL_UNIT_COUNT || u->e.kind == NL_UNIT_CELLS)) {
        /* a count is of its units: "5 of 5 cells" lean the claimed way */
        nl_buf_printf(p->html, "%.0f of %.0f%s", v, n, u->e.kind == NL_UNIT_CELLS ? " cells" : "");
    } else if (!strcmp(column, "effect")) {
        nl_effect_unit_number(p->html, &u->e, v, true);
    } else if (isnan(hi)) {
        nl_buf_printf(p->html, "–");
    } else if (u->e.kind == NL_UNIT_COUNT) {
        nl_buf_printf(p->html, "exact");
    } else {
        nl_effect_unit_number(p->html, &u->e, v, false);
        nl_buf_printf(p->html, " – ");
        nl_effect_unit_number(p->html, &u->e, hi, true);
    }
    nl_buf_printf(p->html, "</td>");
}

static void number_cell(rp_page *p, const nl_csv_table *t, int r, const char *column)
{
    const char *v = cell(t, r, column);
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
/* the expectation as the claim wrote it (the file's units), and its
 * threshold or band in the page's where they differ */
static void expect_cell(rp_page *p, const nl_csv_table *t, int r, const row_unit *u, const nl_claim *claim)
{
    nl_buf_printf(p->html, "<td class=\"text\">");
    rp_esc(p->html, cell(t, r, "expect"));
    if (u->parsed && u->e.scale != 1 && (u->e.kind == NL_UNIT_MEAN || u->e.kind == NL_UNIT_RATE)) {
        nl_buf_printf(p->html, "<br><span class=\"small\">%s ", claim->op == NL_EXPECT_WITHIN ? "band" : "threshold");
        nl_effect_unit_number(p->html, &u->e, claim->threshold, claim->op != NL_EXPECT_WITHIN);
        if (claim->op == NL_EXPECT_WITHIN) {
            nl_buf_printf(p->html, " ± ");
            nl_effect_unit_number(p->html, &u->e, claim->within, true);
        }
        nl_buf_printf(p->html, "</span>");
    }
    nl_buf_printf(p->html, "</td>");
}

/* the cells row r names, each followed by a tab; how many */
static int row_cells(rp_page *p, const nl_csv_table *t, int r)
{
    int n = 0;
    for (int c = 0; c < NL_CELL_COUNT; c++) {
        const char *named = cell(t, r, nl_cell_names[c]);
        if (named[0]) {
            rp_esc(p->html, named);
            nl_buf_printf(p->html, "\t");
            n++;
        }
    }
    return n;
}

static void verdict_row(rp_page *p, const nl_csv_table *t, int r, nl_claim *claim)
{
    const row_unit u = unit_of(t, r, claim);
    nl_buf_printf(p->html, "<tr data-cells=\"");
    /* a claim over cells names none itself: its rows' cells (its
     * "ID[...]" rows), so that a filter that keeps none of them dims it */
    if (row_cells(p, t, r) == 0) {
        const char *id = cell(t, r, "claim");
        const size_t len = strlen(id);
        for (int other = 0; len && other < t->n_rows; other++) {
            const char *of = cell(t, other, "claim");
            if (other != r && !strncmp(of, id, len) && of[len] == '[')
                row_cells(p, t, other);
        }
    }
    nl_buf_printf(p->html, "\">");
    for (int c = 0; c < N_SHOWN; c++) {
        const char *v = cell(t, r, shown[c].column);
        if (!strcmp(shown[c].column, "claim")) {
            claim_cell(p, t, r);
        } else if (!strcmp(shown[c].column, "verdict")) {
            verdict_cell(p, v);
        } else if (!strcmp(shown[c].column, "effect") || !strcmp(shown[c].column, "lo")) {
            unit_cell(p, t, r, shown[c].column, &u);
        } else if (!strcmp(shown[c].column, "expect")) {
            expect_cell(p, t, r, &u, claim);
        } else if (u.e.kind == NL_UNIT_CELLS && (!strcmp(shown[c].column, "n") || !strcmp(shown[c].column, "agree"))) {
            /* a row over cells counts cells, not seeds */
            nl_buf_printf(p->html, "<td class=\"num\" data-v=\"%s\" data-unit=\"cells\">%s cells</td>",
                          v[0] ? v : "nan", v[0] ? v : "–");
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
        /* the expectation as the claim wrote it: its threshold and band,
         * read with the cells the claim named (verdicts.csv's a, b, c, d) */
        const row_unit u = unit_of(t, r, &claims[r]);
        if (!u.parsed) {
            /* no threshold to draw; a row over cells expects its own (forest.c) */
            claims[r].op = NL_EXPECT_GREATER;
            claims[r].threshold = NAN;
        }
        v->claim = &claims[r];
        /* the forest reads the row's unit from its method, metric and
         * expectation (nl_effect_unit_of), as the table above does, and
         * draws its numbers, in the file's units here, in it */
        nl_copy_string(v->method, sizeof v->method, cell(t, r, "method"));
        nl_copy_string(v->id, sizeof v->id, cell(t, r, "claim"));
        const double n = nl_csv_num(cell(t, r, "n"));
        v->n = isnan(n) ? 0 : (int)n;
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
                  "its interval and Holm-corrected p, each in its claim's unit: points for a difference of errors "
                  "or accuracies (percent for one of them), nats for losses, none for a ratio (a bare number); a claim over cells "
                  "counts its cells (leaning the claimed way; holding to not failing), a count claim its seeds "
                  "or rows. results/usage.md, \"Claims and verdicts\", says what each "
                  "column means. <span class=\"count\" id=\"s%d-verdicttable-count\"></span></p>\n<div class=\"scroll\">"
                  "<table class=\"sortable verdicts\" id=\"s%d-verdicttable\">\n<thead><tr>", s->index, s->index,
                  s->index);
    for (int c = 0; c < N_SHOWN; c++)
        if (shown[c].kind != COL_FOLDED)
            nl_buf_printf(p->html, "<th%s>%s</th>", shown[c].kind == COL_NUMBER ? " class=\"num\"" : "",
                          shown[c].header);
    nl_buf_printf(p->html, "</tr></thead>\n<tbody>\n");
    nl_claim *claim = malloc(sizeof *claim);
    if (!claim) {
        nl_csv_table_free(&t);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    for (int r = 0; r < t.n_rows; r++)
        verdict_row(p, &t, r, claim);
    free(claim);
    nl_buf_printf(p->html, "</tbody></table></div>\n");
    if (t.n_rows > 0)
        rc = forest(p, s, &t, err);
    nl_csv_table_free(&t);
    return rc;
}
