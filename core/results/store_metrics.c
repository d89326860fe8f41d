/* metrics.csv as a pack of schema 1 kept it (store_internal.h): the text
 * made again from the metrics table's rows in each column's recorded
 * format. Schema 2 keeps the text itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "results/store.h"
#include "results/store_internal.h"

/* a cell's text of `value` in format kind/decimals */
static void format_number(char *buf, size_t size, char kind, int decimals, double value)
{
    if (kind == 'f') {
        snprintf(buf, size, "%.*f", decimals, value);
        return;
    }
    /* the shortest %g text that reads back as the same double */
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, value);
        if (strtod(buf, NULL) == value)
            return;
    }
}

/* the index of `name` (n bytes) in nl_metrics_columns; -1 none */
static int column_index(const char *name, size_t n)
{
    for (int c = 0; c < NL_METRICS_COLUMN_COUNT; c++)
        if (strlen(nl_metrics_columns[c]) == n && !strncmp(nl_metrics_columns[c], name, n))
            return c;
    return -1;
}

/* the layout as runs.metrics_format spells it ("g,f4,t,...") */
static bool layout_parse(const char *header, const char *format, nl_store_metrics_layout *l)
{
    memset(l, 0, sizeof *l);
    if (!header || !format)
        return false;
    for (const char *h = header, *f = format; *h || *f; l->n_cols++) {
        if (l->n_cols == NL_METRICS_COLUMN_COUNT)
            return false;
        const size_t hn = strcspn(h, ","), fn = strcspn(f, ",");
        const int c = column_index(h, hn);
        if (c < 0 || fn == 0 || (f[0] != 'g' && f[0] != 'f' && f[0] != 't'))
            return false;
        for (int j = 0; j < l->n_cols; j++)
            if (l->col[j] == c)
                return false;
        l->col[l->n_cols] = c;
        l->kind[l->n_cols] = f[0];
        char decimals[8] = "0";
        if (f[0] == 'f' && (fn < 2 || fn - 1 >= sizeof decimals))
            return false;
        if (f[0] == 'f')
            snprintf(decimals, sizeof decimals, "%.*s", (int)(fn - 1), f + 1);
        if (!nl_parse_int(decimals, 0, 99, &l->decimals[l->n_cols]))
            return false;
        h += hn + (h[hn] == ',');
        f += fn + (f[fn] == ',');
        if ((!*h) != (!*f))
            return false;
    }
    return l->n_cols > 0;
}

/* SELECT "a", "b", ... FROM metrics WHERE run_id = (run's id) ORDER BY row */
static void rows_sql(const nl_store_metrics_layout *l, char *sql, size_t size)
{
    size_t n = (size_t)snprintf(sql, size, "SELECT ");
    for (int i = 0; i < l->n_cols && n < size; i++)
        n += (size_t)snprintf(sql + n, size - n, "%s\"%s\"", i ? ", " : "", nl_metrics_columns[l->col[i]]);
    if (n < size)
        snprintf(sql + n, size - n, " FROM metrics WHERE run_id = (SELECT id FROM runs WHERE run = ?) ORDER BY row");
}

nl_code nl_store_metrics_text(nl_store *s, const char *run, const char *header, const char *format, nl_buf *out,
                              nl_error *err)
{
    nl_store_metrics_layout l;
    if (!layout_parse(header, format, &l))
        return nl_fail(err, NL_ERR_DATA, "%s: run %s: metrics_header '%s' and metrics_format '%s' do not "
                       "describe a metrics.csv", s->path, run, header ? header : "", format ? format : "");
    char sql[512];
    rows_sql(&l, sql, sizeof sql);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return nl_store_sql_fail(err, s->path, s->db, "cannot read its metrics");
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    nl_buf_printf(out, "%s\n", header);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < l.n_cols; i++) {
            char cell[64];
            const char *text = cell;
            /* a text column's cells: text, or numbers in their shortest text */
            if (sqlite3_column_type(st, i) == SQLITE_TEXT) {
                const unsigned char *t = sqlite3_column_text(st, i);
                text = t ? (const char *)t : "";
            } else if (sqlite3_column_type(st, i) == SQLITE_NULL) {
                text = "";
            } else {
                format_number(cell, sizeof cell, l.kind[i] == 't' ? 'g' : l.kind[i], l.decimals[i],
                                       sqlite3_column_double(st, i));
            }
            nl_buf_printf(out, "%s%s", i ? "," : "", text);
        }
        nl_buf_printf(out, "\n");
    }
    const nl_code rc = step == SQLITE_DONE ? NL_OK : nl_store_sql_fail(err, s->path, s->db, "cannot read its metrics");
    sqlite3_finalize(st);
    return rc;
}
