/* The section's tables: the cells over seeds (nl_table_write's numbers,
 * as normlab table prints them) and every run with its status and
 * results, both sortable and filtered by the filter box's varied keys. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot.h"
#include "report/internal.h"
#include "results/summary_keys.h"
#include "stats/stats.h"

int rp_filter_keys(const nl_results *r, int *keys)
{
    int n = 0;
    for (int k = 0; k < r->n_keys; k++) {
        const char *values[2];
        if (nl_results_distinct(r, k, values, 2) > 1)
            keys[n++] = k;
    }
    return n;
}

/* how a value of key k of s reads where it names a formula normalizer
 * (model.norm.type expr): the name its runs give it (nl_results_label's),
 * when they all give one; else NULL, the value as it is */
static const char *formula_name(const rp_source *s, int k, const char *value, char *buf, size_t size)
{
    if (!s || k < 0 || strcmp(s->res.keys[k], "model.norm.type"))
        return NULL;
    bool named = false;
    for (int i = 0; i < s->res.n_runs; i++) {
        char name[160];
        if (strcmp(s->res.runs[i].values[k], value))
            continue;
        if (!nl_results_norm_formula_name(&s->res, &s->res.runs[i], value, name, sizeof name) ||
            (named && strcmp(name, buf)))
            return NULL;
        nl_copy_string(buf, size, name);
        named = true;
    }
    return named ? buf : NULL;
}

/* a select of the distinct values among `values` (n of them) of key k of
 * s (k -1: no key of s, the status) */
static void select_box(rp_page *p, const rp_source *s, int k, const char *key, const char *const *values, int n)
{
    nl_buf_printf(p->html, "<label>");
    rp_esc_name(p->html, key);
    nl_buf_printf(p->html, " <select data-key=\"");
    rp_esc(p->html, key);
    nl_buf_printf(p->html, "\"><option value=\"*\">all</option>");
    for (int i = 0; i < n; i++) {
        nl_buf_printf(p->html, "<option value=\"=");
        rp_esc(p->html, values[i]);
        nl_buf_printf(p->html, "\">");
        char name[160];
        const char *named = formula_name(s, k, values[i], name, sizeof name);
        rp_esc(p->html, named ? named : values[i][0] ? values[i] : "(not set)");
        nl_buf_printf(p->html, "</option>");
    }
    nl_buf_printf(p->html, "</select></label>\n");
}

void rp_filters(rp_page *p, const rp_source *s)
{
    int keys[256];
    const int n = rp_filter_keys(&s->res, keys);
    const char *statuses[8];
    int n_status = 0;
    for (int i = 0; i < s->res.n_runs; i++) {
        const char *name = rp_status_name(&s->runs[i]);
        bool seen = false;
        for (int j = 0; j < n_status && !seen; j++)
            seen = !strcmp(statuses[j], name);
        if (!seen && n_status < 8)
            statuses[n_status++] = name;
    }
    if (n == 0 && n_status < 2)
        return;
    nl_buf_printf(p->html, "<div class=\"filters\" data-for=\"s%d\"><strong>Show</strong>\n", s->index);
    for (int i = 0; i < n; i++) {
        const char *values[256];
        const int n_values = nl_results_distinct(&s->res, keys[i], values, 256);
        select_box(p, s, keys[i], s->res.keys[keys[i]], values, n_values);
    }
    if (n_status > 1)
        select_box(p, s, -1, "status", statuses, n_status);
    nl_buf_printf(p->html, "</div>\n");
}

/* <th> of a key column: the filters find it by data-key */
static void key_header(rp_page *p, const char *key)
{
    nl_buf_printf(p->html, "<th data-key=\"");
    rp_esc(p->html, key);
    nl_buf_printf(p->html, "\">");
    rp_esc_name(p->html, key);
    nl_buf_printf(p->html, "</th>");
}

/* a key's cell: the value the filters match (data-k), shown as the
 * figures' labels name it (a formula normalizer's model.norm.type "expr"
 * by its model.norm.name) where run, one of the row's runs, says */
static void key_cell(rp_page *p, const rp_source *s, const nl_results_run *run, const char *key, const char *value)
{
    char name[160];
    const bool named = run && !strcmp(key, "model.norm.type") &&
                       nl_results_norm_formula_name(&s->res, run, value, name, sizeof name);
    nl_buf_printf(p->html, "<td data-k=\"");
    rp_esc(p->html, value);
    nl_buf_printf(p->html, "\">");
    rp_esc(p->html, named ? name : value[0] ? value : "–");
    nl_buf_printf(p->html, "</td>");
}

/* a number cell: shown in the page's units, sorted by its value */
static void number_cell(rp_page *p, const char *metric, const char *value)
{
    char shown[64];
    rp_metric_text(metric, value, shown, sizeof shown);
    char *end;
    const double v = value && *value ? strtod(value, &end) : NAN;
    const bool numeric = value && *value && !*end;
    if (numeric)
        nl_buf_printf(p->html, "<td class=\"num\" data-v=\"%.10g\">", v);
    else /* no value (every seed diverged): right-aligned with the numbers, sorted last */
        nl_buf_printf(p->html, "<td class=\"num\" data-v=\"\">");
    rp_esc(p->html, shown[0] ? shown : "–");
    nl_buf_printf(p->html, "</td>");
}

/* ---- the cells over seeds ---- */

const char *rp_primary_metric(const rp_source *s)
{
    return nl_table_primary_metric(s->res.have_config ? nl_flat_get(&s->res.config, "model.arch") : NULL);
}

/* the metrics the cells table shows: those a finished run has, the
 * directory's primary one first (a language model's loss) */
static int cell_metrics(const rp_source *s, const char **out)
{
    const char *first = rp_primary_metric(s);
    const char *const candidates[] = {first, strcmp(first, NL_SUMMARY_FINAL_TEST_LOSS) ? NL_SUMMARY_FINAL_TEST_LOSS : NL_SWEEP_TEST_ERROR_COLUMN};
    int n = 0;
    for (size_t c = 0; c < sizeof candidates / sizeof candidates[0]; c++) {
        int m = 0;
        while (m < NL_SWEEP_N_METRICS && strcmp(nl_sweep_metric_names[m], candidates[c]))
            m++;
        bool any = false;
        for (int i = 0; i < s->res.n_runs && !any && m < NL_SWEEP_N_METRICS; i++)
            any = rp_run_finished(&s->runs[i]) && s->runs[i].result.metrics[m][0] &&
                  strcmp(s->runs[i].result.metrics[m], "nan");
        if (any)
            out[n++] = candidates[c];
    }
    return n;
}

/* nl_table_write's CSV of one metric, read back */
static nl_code table_of(const rp_source *s, const char *metric, nl_csv_table *t, rp_page *p, nl_error *err)
{
    nl_table_spec spec = {.metric = metric};
    nl_buf md = {0}, csv = {0}, notes = {0};
    nl_code rc = nl_table_write(s->res.dir, &spec, &md, &csv, &notes, err);
    if (rc == NL_OK)
        rc = nl_csv_table_parse(csv.data ? csv.data : "", "the table over seeds", t, err);
    /* what the table pools is the page's to say; its rows left out are said already */
    for (const char *w = notes.data ? notes.data : ""; rc == NL_OK && *w;) {
        const size_t len = strcspn(w, "\n");
        if (strstr(w, "cells pool") == w)
            nl_buf_printf(&p->out->notes, "%s: %.*s\n", s->res.dir, (int)len, w);
        w += len + (w[len] == '\n');
    }
    nl_buf_free(&md);
    nl_buf_free(&csv);
    nl_buf_free(&notes);
    return rc;
}

/* the centre of an interval on a transformed scale, as nl_table_write
 * gives it beside the interval (METRIC_geomean on the log scale, a loss's;
 * METRIC_logitmean on the logit scale, an error's or an accuracy's): the
 * page prints it beside the interval, as normlab table does, since the
 * arithmetic mean may lie outside it */
typedef struct {
    const char *part, *name;
} rp_centre;
static const rp_centre centres[] = {{"geomean", "geometric mean"}, {"logitmean", "logit mean"}};

/* the centre table t (of one metric) has in some row: then a column of
 * its own; NULL: none */
static const rp_centre *centre_of(const nl_csv_table *t, const char *metric)
{
    for (size_t k = 0; k < sizeof centres / sizeof centres[0]; k++) {
        char col[160];
        snprintf(col, sizeof col, "%s_%s", metric, centres[k].part);
        const int c = nl_csv_table_col(t, col);
        for (int r = 0; r < t->n_rows && c >= 0; r++)
            if (t->rows[r][c][0])
                return &centres[k];
    }
    return NULL;
}

/* one metric's mean, (centre,) interval and sd cells of row r; an
 * interval clipped to the metric's range marked "*" (the hint above the
 * table says why) */
static void moment_cells(rp_page *p, const nl_csv_table *t, int r, const char *metric, const rp_centre *centre)
{
    /* no centre: a column no table has, so an empty cell */
    const char *const parts[] = {"mean", "sd", "ci95_low", "ci95_high", centre ? centre->part : "(none)"};
    const char *cell[5];
    for (int i = 0; i < 5; i++) {
        char col[160];
        snprintf(col, sizeof col, "%s_%s", metric, parts[i]);
        const int c = nl_csv_table_col(t, col);
        cell[i] = c >= 0 ? t->rows[r][c] : "";
    }
    const int c_scale = nl_csv_table_col(t, "interval");
    const bool clipped = c_scale >= 0 && !strcmp(t->rows[r][c_scale], nl_stats_scale_tags[NL_STATS_SCALE_CLIPPED]);
    number_cell(p, metric, cell[0]);
    if (centre)
        number_cell(p, metric, cell[4]);
    char lo[64], hi[64];
    rp_metric_text(metric, cell[2], lo, sizeof lo);
    rp_metric_text(metric, cell[3], hi, sizeof hi);
    nl_buf_printf(p->html, "<td class=\"num\">");
    if (lo[0] && hi[0]) {
        rp_esc(p->html, lo);
        nl_buf_printf(p->html, " – ");
        rp_esc(p->html, hi);
        nl_buf_printf(p->html, "%s", clipped ? " *" : "");
    } else
        nl_buf_printf(p->html, "–");
    nl_buf_printf(p->html, "</td>");
    number_cell(p, metric, cell[1]);
}

static void cells_header(rp_page *p, const nl_csv_table *t, int n_keys, const char *const *metrics, int n_metrics,
                         const rp_centre *const *centre)
{
    nl_buf_printf(p->html, "<thead><tr>");
    for (int k = 0; k < n_keys; k++)
        key_header(p, t->header[1 + k]);
    nl_buf_printf(p->html, "<th class=\"num\">seeds</th><th class=\"num\">diverged</th>");
    for (int m = 0; m < n_metrics; m++) {
        nl_buf_printf(p->html, "<th class=\"num\">");
        rp_esc_name(p->html, metrics[m]);
        const rp_unit u = rp_metric_unit(metrics[m]);
        nl_buf_printf(p->html, "%s%s</th>", u.value[0] ? " " : "", u.value);
        if (centre[m])
            nl_buf_printf(p->html, "<th class=\"num\">%s</th>", centre[m]->name);
        nl_buf_printf(p->html, "<th class=\"num\">95%% interval%s%s</th><th class=\"num\">sd</th>",
                      centre[m] ? " of the " : "", centre[m] ? centre[m]->name : "");
    }
    nl_buf_printf(p->html, "</tr></thead>\n");
}

/* a run of the cell in row r of t (its first n_keys keys' values), NULL none */
static const nl_results_run *cell_run(const rp_source *s, const nl_csv_table *t, int r, int n_keys)
{
    for (int i = 0; i < s->res.n_runs; i++) {
        bool same = true;
        for (int k = 0; k < n_keys && same; k++) {
            const char *v = nl_results_value(&s->res, &s->res.runs[i], t->header[1 + k]);
            same = !strcmp(v ? v : "", t->rows[r][1 + k]);
        }
        if (same)
            return &s->res.runs[i];
    }
    return NULL;
}

nl_code rp_cells_table(rp_page *p, rp_source *s, nl_error *err)
{
    const char *metrics[2];
    const int n_metrics = cell_metrics(s, metrics);
    if (!s->res.sweep || n_metrics == 0)
        return NL_OK;
    nl_csv_table t[2];
    memset(t, 0, sizeof t);
    nl_code rc = NL_OK;
    for (int m = 0; m < n_metrics && rc == NL_OK; m++)
        rc = table_of(s, metrics[m], &t[m], p, err);
    if (rc == NL_OK) {
        const int n_keys = nl_csv_table_col(&t[0], "n") - 1;
        nl_buf_printf(p->html, "<h3 id=\"s%d-over-seeds\">Over seeds</h3>\n<p class=\"hint\">A row per cell of "
                      "the varied keys (the seed and the keys the others determine aside), as <code>normlab "
                      "table</code> prints it: finished runs only, diverged runs counted apart. The 95%% interval "
                      "is of the mean over seeds: a t interval on the logit scale for errors and accuracies, on "
                      "the log scale for losses, mapped back so it stays inside the metric's range; on the log "
                      "scale it is an interval of the geometric mean, on the logit scale of the logit mean (the "
                      "mean logit mapped back), each printed beside it (the mean may lie outside it); * marks one clipped to the range where a seed sits on its edge. <span class=\"count\" "
                      "id=\"s%d-cells-count\"></span></p>\n<div class=\"scroll\"><table class=\"sortable\" "
                      "id=\"s%d-cells\" data-group=\"s%d\">\n", s->index, s->index, s->index, s->index);
        const rp_centre *centre[2];
        for (int m = 0; m < n_metrics; m++)
            centre[m] = centre_of(&t[m], metrics[m]);
        cells_header(p, &t[0], n_keys, metrics, n_metrics, centre);
        nl_buf_printf(p->html, "<tbody>\n");
        for (int r = 0; r < t[0].n_rows; r++) {
            nl_buf_printf(p->html, "<tr>");
            const nl_results_run *run = cell_run(s, &t[0], r, n_keys);
            for (int k = 0; k < n_keys; k++)
                key_cell(p, s, run, t[0].header[1 + k], t[0].rows[r][1 + k]);
            number_cell(p, "n", t[0].rows[r][n_keys + 1]);
            number_cell(p, "diverged", t[0].rows[r][n_keys + 2]);
            /* the tables of two metrics hold the same cells in the same order */
            for (int m = 0; m < n_metrics; m++)
                moment_cells(p, &t[m], r < t[m].n_rows ? r : 0, metrics[m], centre[m]);
            nl_buf_printf(p->html, "</tr>\n");
        }
        nl_buf_printf(p->html, "</tbody></table></div>\n");
    }
    for (int m = 0; m < 2; m++)
        nl_csv_table_free(&t[m]);
    return rc;
}

/* ---- every run ---- */

int rp_run_metrics(const rp_source *s, int *out)
{
    int n = 0;
    for (int m = 0; m < NL_SWEEP_N_METRICS; m++) {
        bool any = false;
        for (int i = 0; i < s->res.n_runs && !any; i++)
            any = s->runs[i].result.metrics[m][0] != '\0';
        if (any)
            out[n++] = m;
    }
    return n;
}

/* the status cell: the state, and why a run is not a result */
static void status_cell(rp_page *p, const rp_run *r)
{
    const char *name = rp_status_name(r);
    nl_buf_printf(p->html, "<td data-k=\"%s\"><span class=\"status status-%s\">%s</span>", name, name, name);
    char why[400] = "";
    if (r->result.reason[0])
        nl_copy_string(why, sizeof why, r->result.reason);
    else if (r->phase == NL_PHASE_KILLED)
        snprintf(why, sizeof why, "stopped without a word: no process holds it");
    else if (r->phase == NL_PHASE_PENDING)
        snprintf(why, sizeof why, "not started");
    if (r->last_step >= 0 && (r->phase == NL_PHASE_KILLED || r->phase == NL_PHASE_RUNNING))
        snprintf(why + strlen(why), sizeof why - strlen(why), "%smetrics.csv reaches step %ld", why[0] ? "; " : "",
                 r->last_step);
    if (why[0]) {
        nl_buf_printf(p->html, "<br><span class=\"small\">");
        rp_esc(p->html, why);
        nl_buf_printf(p->html, "</span>");
    }
    nl_buf_printf(p->html, "</td>");
}

static void runs_header(rp_page *p, const rp_source *s, const int *metrics, int n_metrics)
{
    nl_buf_printf(p->html, "<thead><tr><th>run</th>");
    for (int k = 0; k < s->res.n_keys; k++)
        key_header(p, s->res.keys[k]);
    nl_buf_printf(p->html, "<th data-key=\"status\">status</th>");
    for (int m = 0; m < n_metrics; m++) {
        const char *name = nl_sweep_metric_names[metrics[m]];
        nl_buf_printf(p->html, "<th class=\"num\">");
        rp_esc_name(p->html, name);
        const rp_unit u = rp_metric_unit(name);
        nl_buf_printf(p->html, "%s%s</th>", u.value[0] ? " " : "", u.value);
    }
    nl_buf_printf(p->html, "</tr></thead>\n");
}

nl_code rp_runs_table(rp_page *p, const rp_source *s, nl_error *err)
{
    int metrics[NL_SWEEP_N_METRICS];
    const int n_metrics = rp_run_metrics(s, metrics);
    const bool lazy = rp_lazy(s);
    nl_buf_printf(p->html, "<h3 id=\"s%d-runs\">Runs</h3>\n<p class=\"hint\">Every run, its status from its "
                  "summary.json. <span class=\"count\" id=\"s%d-runtable-count\"></span></p>\n"
                  "<div class=\"scroll\"><table class=\"sortable\" id=\"s%d-runtable\" data-group=\"s%d\"",
                  s->index, s->index, s->index, s->index);
    /* a big sweep's rows are made by the page's script from a block of
     * their HTML deflated, when the table is read (rp_lazy) */
    if (lazy)
        nl_buf_printf(p->html, " data-rows=\"s%d-runtable-rows\" data-n=\"%d\"", s->index, s->res.n_runs);
    nl_buf_printf(p->html, ">\n");
    runs_header(p, s, metrics, n_metrics);
    nl_buf_printf(p->html, "<tbody>\n");
    nl_buf *page = p->html, rows = {0};
    if (lazy)
        p->html = &rows;
    for (int i = 0; i < s->res.n_runs; i++) {
        const rp_run *r = &s->runs[i];
        nl_buf_printf(p->html, "<tr class=\"run-%s\"><td class=\"name\"><a href=\"#s%d-run-%d\">",
                      rp_status_name(r), s->index, i + 1);
        rp_esc(p->html, s->res.runs[i].name);
        nl_buf_printf(p->html, "</a></td>");
        for (int k = 0; k < s->res.n_keys; k++)
            key_cell(p, s, &s->res.runs[i], s->res.keys[k], s->res.runs[i].values[k]);
        status_cell(p, r);
        for (int m = 0; m < n_metrics; m++)
            number_cell(p, nl_sweep_metric_names[metrics[m]], r->result.metrics[metrics[m]]);
        nl_buf_printf(p->html, "</tr>\n");
    }
    p->html = page;
    nl_buf_printf(p->html, "</tbody></table></div>\n");
    nl_code rc = NL_OK;
    if (lazy) {
        char id[32];
        snprintf(id, sizeof id, "s%d-runtable-rows", s->index);
        rc = rp_script_deflated(p->html, id, &rows, err);
    }
    nl_buf_free(&rows);
    return rc;
}
