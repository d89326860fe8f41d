/* A claim's metric of one run: a summary.csv column, a summary.json
 * number, a run file's column over its rows (where:, the each_row: value,
 * reduced by at:), or an expression over vars: and the run's own numbers
 * (its row's columns, summary.json, config.yaml); the check that a
 * claim's metrics exist; each_row:'s values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/flat.h"
#include "results/files.h"
#include "results/metrics.h"
#include "verdict/internal.h"

const vd_source *vd_cell_source(const vd_ctx *C, const nl_claim_cell *cell)
{
    for (int i = 0; cell->sweep[0] && i < C->n_others; i++) {
        const char *base = strrchr(C->others[i].dir, '/');
        if (!strcmp(base ? base + 1 : C->others[i].dir, cell->sweep))
            return &C->others[i];
    }
    return &C->main;
}

/* ---- a run's file ---- */

static bool row_kept(const nl_csv_table *t, int r, const nl_claim_metric *m, const int *where_col, const vd_slice *sl,
                     int row_col)
{
    for (int w = 0; w < m->n_where; w++)
        if (!nl_claim_select_matches(&m->where[w], t->rows[r][where_col[w]]))
            return false;
    return !sl || !sl->has_row || nl_claim_select_matches(&sl->row, t->rows[r][row_col]);
}

/* the values' reduction by at: (NaN without values; sd needs two, change_sd three) */
static double reduce(const double *v, int n, nl_metric_at at)
{
    double acc = n ? v[0] : NAN, sum = 0;
    for (int i = 0; i < n; i++) {
        sum += v[i];
        acc = at == NL_AT_MIN ? fmin(acc, v[i]) : at == NL_AT_MAX ? fmax(acc, v[i]) : v[i];
    }
    if (at == NL_AT_MEAN)
        return n ? sum / n : NAN;
    if (at != NL_AT_SD && at != NL_AT_CHANGE_SD)
        return acc;
    /* the changes from one row to the next, in place of the values */
    const int m = at == NL_AT_SD ? n : n - 1;
    double mean = 0, ss = 0;
    for (int i = 0; i < m; i++)
        mean += (at == NL_AT_SD ? v[i] : v[i + 1] - v[i]) / m;
    for (int i = 0; i < m; i++) {
        const double d = (at == NL_AT_SD ? v[i] : v[i + 1] - v[i]) - mean;
        ss += d * d;
    }
    return m >= 2 ? sqrt(ss / (m - 1)) : NAN;
}

/* the file's column over the rows matching where: (and the slice's row),
 * reduced by at: or (reach:) the step of the first that gets there;
 * *has_column says whether the file has those columns */
static double file_metric(const vd_source *s, int row, const nl_claim_metric *m, const vd_slice *sl,
                          bool *has_column)
{
    char path[2400];
    nl_csv_table t;
    *has_column = false;
    if (!vd_source_run_csv(s, row, m->file, path, sizeof path, &t))
        return NAN;
    const int col = nl_csv_table_col(&t, m->name), row_col = sl && sl->has_row ? nl_csv_table_col(&t, sl->row.key) : 0;
    const int step_col = m->has_reach ? nl_metrics_col(&t, NL_METRICS_STEP) : 0;
    int where_col[NL_CLAIM_MAX_SELECT];
    bool ok = col >= 0 && row_col >= 0 && step_col >= 0;
    for (int w = 0; w < m->n_where; w++)
        ok &= (where_col[w] = nl_csv_table_col(&t, m->where[w].key)) >= 0;
    *has_column = ok;
    double *values = ok ? malloc((size_t)(t.n_rows + 1) * sizeof *values) : NULL, result = NAN;
    int n = 0;
    for (int r = 0; values && r < t.n_rows; r++) {
        const double v = nl_csv_num(t.rows[r][col]);
        /* a row without a number, or with one that is not finite (a
         * diverged loss's inf), is no value: a row's inf would make every
         * reduction inf or a reach: of it meaningless */
        if (!row_kept(&t, r, m, where_col, sl, row_col) || !isfinite(v))
            continue;
        if (m->has_reach && (m->reach_op == NL_EXPECT_GREATER ? v >= m->reach_x : v <= m->reach_x)) {
            result = nl_csv_num(t.rows[r][step_col]);
            break;
        }
        values[n++] = v;
    }
    if (values && !m->has_reach)
        result = reduce(values, n, m->at);
    free(values);
    nl_csv_table_free(&t);
    return result;
}

double vd_json_value(const vd_source *s, int row, const char *key, char *text, size_t size)
{
    char path[2400], *json, value[256];
    text[0] = '\0';
    if (!(json = vd_source_run_read(s, row, NL_RUN_SUMMARY_FILE, path, sizeof path)))
        return NAN;
    const bool found = nl_json_flat_get(json, key, value, sizeof value);
    free(json);
    if (!found || !strcmp(value, "null"))
        return NAN;
    nl_copy_string(text, size, value);
    char *end;
    const double v = strtod(value, &end);
    return end != value && !*end ? v : NAN;
}

/* a number of the run's config.yaml (a key the sweep does not vary) */
static double config_value(const vd_source *s, int row, const char *key)
{
    char path[2400], *text;
    nl_error ignored = {0};
    nl_flat flat = {0};
    double v = NAN;
    if ((text = vd_source_run_read(s, row, NL_RUN_CONFIG_FILE, path, sizeof path)) &&
        nl_flat_from_yaml(text, path, &flat, &ignored) == NL_OK) {
        const char *value = nl_flat_get(&flat, key);
        v = value ? nl_csv_num(value) : NAN;
    }
    free(text);
    nl_flat_free(&flat);
    return v;
}

/* a name of the run: its row's column (a key or a metric), summary.json's
 * number, config.yaml's */
static double run_number(const vd_source *s, int row, const char *name)
{
    const int col = nl_csv_table_col(&s->t, name);
    if (col > 0 && col != s->status_col)
        return nl_csv_num(s->t.rows[row][col]);
    char text[256];
    const double v = vd_json_value(s, row, name, text, sizeof text);
    return isnan(v) && !text[0] ? config_value(s, row, name) : v;
}

typedef struct {
    const vd_ctx *C;
    const nl_claim *c;
    const vd_source *s;
    int row;
    const vd_slice *slice;
} run_lookup;

static double lookup_name(void *p, const char *name)
{
    const run_lookup *L = p;
    for (int i = 0; i < L->c->n_vars; i++)
        if (!strcmp(L->c->var_names[i], name))
            return vd_run_metric(L->C, L->c, L->s, L->row, &L->c->vars[i], NULL, L->slice);
    return run_number(L->s, L->row, name);
}

double vd_run_metric(const vd_ctx *C, const nl_claim *c, const vd_source *s, int row, const nl_claim_metric *m,
                     const nl_expr *expr, const vd_slice *slice)
{
    if (m->is_expr) {
        run_lookup L = {C, c, s, row, slice};
        return nl_expr_eval(expr, lookup_name, &L);
    }
    if (m->file[0]) {
        bool has_column;
        return file_metric(s, row, m, slice, &has_column);
    }
    const int col = nl_csv_table_col(&s->t, m->name);
    if (col > s->status_col)
        return nl_csv_num(s->t.rows[row][col]);
    char text[256];
    return vd_json_value(s, row, m->name, text, sizeof text);
}

/* ---- the check: each metric exists in some run ---- */

static nl_code metric_missing(const vd_ctx *C, const nl_claim *claim, const vd_source *s, const nl_claim_metric *m,
                              const char *key)
{
    char have[1024] = "";
    for (int k = s->status_col + 1; k < s->t.n_cols; k++)
        snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", have[0] ? ", " : "", s->t.header[k]);
    if (m->file[0])
        return vd_claim_fail(C, claim, m->line, m->column, key, "no run of %s has a %s with column '%s'%s", s->dir,
                             m->file, m->name, m->n_where ? " and the where: columns" : "");
    return vd_claim_fail(C, claim, m->line, m->column, key, "no run of %s has the metric '%s' (not a summary.csv "
                         "column, nor a number in its runs' summary.json%s); summary.csv's: %s", s->dir, m->name,
                         s->kind == NL_SOURCE_TABLE ? "" : " or config.yaml", have);
}

/* a plain or file metric: some run of s has it */
static bool metric_found(const vd_source *s, const nl_claim_metric *m)
{
    if (!m->file[0] && nl_csv_table_col(&s->t, m->name) > s->status_col)
        return true;
    for (int r = 0; r < s->t.n_rows; r++) {
        bool has_column = false;
        if (m->file[0])
            file_metric(s, r, m, NULL, &has_column);
        if (has_column || (!m->file[0] && !isnan(vd_run_metric(NULL, NULL, s, r, m, NULL, NULL))))
            return true;
    }
    return false;
}

/* an expression's names are vars, or numbers some run of s has */
static nl_code check_expr(const vd_ctx *C, const nl_claim *c, const vd_source *s, const nl_claim_metric *m,
                          const nl_expr *e, const char *key)
{
    for (int i = 0; i < e->n_names; i++) {
        bool found = false;
        for (int v = 0; v < c->n_vars && !found; v++)
            found = !strcmp(c->var_names[v], e->names[i]);
        for (int r = 0; r < s->t.n_rows && !found; r++)
            found = !isnan(run_number(s, r, e->names[i]));
        if (!found) {
            char vars[256] = "";
            for (int v = 0; v < c->n_vars; v++)
                snprintf(vars + strlen(vars), sizeof vars - strlen(vars), "%s%s", v ? ", " : "", c->var_names[v]);
            return vd_claim_fail(C, c, m->line, m->column, key, "'%s' is not a var (%s) nor a number any run of %s "
                                 "has (a summary.csv column, a summary.json or config.yaml number)", e->names[i],
                                 vars[0] ? vars : "none", s->dir);
        }
    }
    return NL_OK;
}

/* value into "v1, v2, ..." unless there already (what a where: column holds, for the refusal) */
static void add_seen(char *seen, size_t size, const char *value)
{
    const size_t len = strlen(value);
    for (const char *p = seen; (p = strstr(p, value)); p += len)
        if ((p == seen || p[-1] == ' ') && (p[len] == ',' || !p[len]))
            return;
    if (strlen(seen) + len + 8 < size)
        snprintf(seen + strlen(seen), size - strlen(seen), "%s%s", seen[0] ? ", " : "", value);
    else if (!strstr(seen, ", ..."))
        snprintf(seen + strlen(seen), size - strlen(seen), ", ...");
}

/* A file metric's where: keeps some row of some run's file: else every
 * cell would read nothing and the claim pass as n = 0, "inconclusive"
 * (a step past the runs' end, a split they do not log). Names the where:
 * value no row has, with the values there are, else says that no row has
 * them together. */
static nl_code check_where(const vd_ctx *C, const nl_claim *c, const vd_source *s, const nl_claim_metric *m,
                           const char *key)
{
    if (!m->file[0] || !m->n_where)
        return NL_OK;
    bool matched[NL_CLAIM_MAX_SELECT] = {false};
    char seen[NL_CLAIM_MAX_SELECT][512] = {{0}};
    for (int r = 0; r < s->t.n_rows; r++) {
        char path[2400];
        nl_csv_table t;
        if (!vd_source_run_csv(s, r, m->file, path, sizeof path, &t))
            continue;
        int where_col[NL_CLAIM_MAX_SELECT];
        bool ok = true;
        for (int w = 0; w < m->n_where; w++)
            ok &= (where_col[w] = nl_csv_table_col(&t, m->where[w].key)) >= 0;
        for (int row = 0; ok && row < t.n_rows; row++) {
            bool all = true;
            for (int w = 0; w < m->n_where; w++) {
                const bool match = nl_claim_select_matches(&m->where[w], t.rows[row][where_col[w]]);
                matched[w] |= match;
                all &= match;
                add_seen(seen[w], sizeof seen[w], t.rows[row][where_col[w]]);
            }
            if (all) {
                nl_csv_table_free(&t);
                return NL_OK;
            }
        }
        nl_csv_table_free(&t);
    }
    for (int w = 0; w < m->n_where; w++) {
        if (matched[w])
            continue;
        char shown[256], where_key[200];
        nl_copy_string(shown, sizeof shown, m->where[w].value);
        for (char *p = shown; *p; p++) /* a list's values, one a line */
            *p = *p == '\n' && p[1] ? ',' : *p == '\n' ? '\0' : *p;
        snprintf(where_key, sizeof where_key, "%s.where.%s", key, m->where[w].key);
        return vd_claim_fail(C, c, m->where[w].line, m->where[w].column, where_key,
                             "no row of any run's %s in %s has %s=%s, so no cell has the metric; its values: %s",
                             m->file, s->dir, m->where[w].key, shown, seen[w]);
    }
    char where_key[200];
    snprintf(where_key, sizeof where_key, "%s.where", key);
    return vd_claim_fail(C, c, m->line, m->column, where_key,
                         "no row of any run's %s in %s has all of where:'s values together, so no cell has the "
                         "metric", m->file, s->dir);
}

static nl_code check_one(const vd_ctx *C, const nl_claim *c, const vd_source *s, const nl_claim_metric *m,
                         const nl_expr *e, const char *key)
{
    if (m->is_expr)
        return check_expr(C, c, s, m, e, key);
    return metric_found(s, m) ? check_where(C, c, s, m, key) : metric_missing(C, c, s, m, key);
}

nl_code vd_check_metrics(const vd_ctx *C, const nl_claim *c)
{
    nl_code rc = NL_OK;
    for (int k = 0; k < NL_CELL_COUNT && rc == NL_OK; k++) {
        if (!c->cells[k].given)
            continue;
        const bool b_side = k == NL_CELL_B || k == NL_CELL_D;
        const vd_source *s = vd_cell_source(C, &c->cells[k]);
        rc = check_one(C, c, s, b_side ? &c->b_metric : &c->metric, b_side ? &c->b_metric_expr : &c->metric_expr,
                       b_side && c->has_b_metric ? "b_metric" : "metric");
        for (int v = 0; v < c->n_vars && rc == NL_OK; v++) {
            char key[64];
            snprintf(key, sizeof key, "vars.%s", c->var_names[v]);
            rc = check_one(C, c, s, &c->vars[v], NULL, key);
        }
    }
    return rc;
}

/* ---- each_row: the values of a column of the metric's file ---- */

/* the file each_row: reads: the metric's, else its first file var's */
static const nl_claim_metric *row_file_metric(const nl_claim *c)
{
    if (c->metric.file[0])
        return &c->metric;
    for (int v = 0; v < c->n_vars; v++)
        if (c->vars[v].file[0])
            return &c->vars[v];
    return NULL;
}

static void add_row_value(const char *value, nl_claim_select *out, int *n, int max, const nl_claim *c)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(out[i].value, value))
            return;
    if (*n == max || !value[0])
        return;
    out[*n] = (nl_claim_select){.kind = NL_SELECT_VALUE, .line = c->each_line, .column = c->each_column};
    nl_copy_string(out[*n].key, sizeof out[*n].key, c->each_row);
    nl_copy_string(out[*n].value, sizeof out[*n].value, value);
    (*n)++;
}

int vd_row_values(const vd_ctx *C, const nl_claim *c, const vd_source *s, const int *rows, int n_rows,
                  nl_claim_select *out, int max)
{
    (void)C;
    const nl_claim_metric *m = row_file_metric(c);
    int n = 0;
    for (int i = 0; m && i < n_rows; i++) {
        char path[2400];
        nl_csv_table t;
        if (!vd_source_run_csv(s, rows[i], m->file, path, sizeof path, &t))
            continue;
        int where_col[NL_CLAIM_MAX_SELECT];
        const int col = nl_csv_table_col(&t, c->each_row);
        bool ok = col >= 0;
        for (int w = 0; w < m->n_where; w++)
            ok &= (where_col[w] = nl_csv_table_col(&t, m->where[w].key)) >= 0;
        for (int r = 0; ok && r < t.n_rows; r++)
            if (row_kept(&t, r, m, where_col, NULL, 0))
                add_row_value(t.rows[r][col], out, &n, max, c);
        nl_csv_table_free(&t);
    }
    return n;
}
