/* Reading a CSV file as normlab writes them (table.h): a header, then rows
 * of fields, quoted where they hold a comma, a quote or a newline. */
#include "results/table.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/files.h"

void nl_csv_table_free(nl_csv_table *t)
{
    for (int c = 0; c < t->n_cols; c++)
        free(t->header[c]);
    free(t->header);
    for (int r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++)
            free(t->rows[r][c]);
        free(t->rows[r]);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* a record's n fields and the array */
static void free_fields(char **fields, int n)
{
    for (int i = 0; i < n; i++)
        free(fields[i]);
    free(fields);
}

/* one field at *s (p then past it): a quoted part (doubled quotes are
 * one) and what follows up to the field's end; NULL when out of memory.
 * Copied a span at a time: a character at a time through printf made a
 * 500-run sweep's series.csv files take seconds each. */
static char *split_field(const char **p)
{
    const char *s = *p;
    if (*s != '"') {
        /* the common field, unquoted: one copy, no buffer grown through
         * printf (which was a quarter of compare's reading of 8,940 runs'
         * metrics.csv, issue 118) */
        const size_t span = strcspn(s, ",\n\r");
        *p = s + span;
        return strndup(s, span);
    }
    nl_buf f = {0};
    nl_buf_printf(&f, "%s", ""); /* "" for a field of "" */
    for (s++;;) {
        const size_t span = strcspn(s, "\"");
        nl_buf_printf(&f, "%.*s", (int)span, s);
        s += span;
        if (*s != '"')
            break;
        s++;
        if (*s != '"')
            break;
        nl_buf_printf(&f, "\"");
        s++;
    }
    const size_t span = strcspn(s, ",\n\r");
    nl_buf_printf(&f, "%.*s", (int)span, s);
    *p = s + span;
    if (f.failed)
        nl_buf_free(&f);
    return f.data;
}

/* splits one record starting at *p (quotes may hold commas and newlines) */
static int split_record(const char **p, char ***fields_out)
{
    const char *s = *p;
    int n = 0, cap = 16;
    char **fields = malloc((size_t)cap * sizeof *fields);
    if (!fields)
        return -1;
    for (;;) {
        char *field = split_field(&s);
        if (!field) {
            free_fields(fields, n);
            return -1;
        }
        if (n == cap) {
            cap *= 2;
            char **grown = realloc(fields, (size_t)cap * sizeof *fields);
            if (!grown) {
                free(field);
                free_fields(fields, n);
                return -1;
            }
            fields = grown;
        }
        nl_csv_unguard(field); /* the text normlab wrote, without its formula guard */
        fields[n++] = field;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '\r')
            s++;
        if (*s == '\n')
            s++;
        break;
    }
    *p = s;
    *fields_out = fields;
    return n;
}

/* the header line at *p into t (p then past it); an empty file is an error */
static nl_code read_header(const char **p, nl_csv_table *t, const char *path, nl_error *err)
{
    char **fields;
    const int n = split_record(p, &fields);
    if (n <= 0 || (n == 1 && !fields[0][0])) {
        if (n > 0)
            free_fields(fields, n);
        return nl_fail(err, NL_ERR_DATA, "%s is empty (no header line)", path);
    }
    t->header = fields;
    t->n_cols = n;
    return NL_OK;
}

/* A blank line is skipped; the last line cut short by a kill, or one with
 * more fields than the header, is left out and counted, so that what reads
 * the table can say so. False (its fields freed) when the record at line
 * `line_no` is left out. */
static bool keep_record(nl_csv_table *t, int line_no, bool cut, char **fields, int n)
{
    const bool blank = n == 1 && !fields[0][0];
    if (cut)
        t->cut_line = line_no;
    t->blank_lines += blank;
    if (!blank && (cut || n > t->n_cols)) {
        if (t->n_bad++ == 0) {
            t->first_bad_line = line_no;
            if (cut)
                snprintf(t->bad_why, sizeof t->bad_why, "the last line is cut short (no newline: "
                         "its writer was stopped mid-row)");
            else
                snprintf(t->bad_why, sizeof t->bad_why, "%d fields, the header has %d", n, t->n_cols);
        }
    }
    if (blank || cut || n > t->n_cols) {
        free_fields(fields, n);
        return false;
    }
    return true;
}

/* a row of n fields, padded with "" to the header's width, appended to t
 * (*cap: the rows' capacity); false (its fields freed) when out of memory */
static bool add_row(nl_csv_table *t, char **fields, int n, int *cap)
{
    if (n < t->n_cols) {
        char **grown = realloc(fields, (size_t)t->n_cols * sizeof *fields);
        if (!grown) {
            free_fields(fields, n);
            return false;
        }
        fields = grown;
        for (int i = n; i < t->n_cols; i++)
            fields[i] = strdup("");
    }
    if (t->n_rows == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        char ***grown = realloc(t->rows, (size_t)*cap * sizeof *grown);
        if (!grown) {
            free_fields(fields, t->n_cols); /* padded to it above */
            return false;
        }
        t->rows = grown;
    }
    t->rows[t->n_rows++] = fields;
    return true;
}

nl_code nl_csv_table_read(const char *path, nl_csv_table *t, nl_error *err)
{
    memset(t, 0, sizeof *t);
    char *text = NULL;
    nl_code rc = nl_read_file(path, &text, NULL, err);
    if (rc)
        return rc;
    rc = nl_csv_table_parse(text, path, t, err);
    free(text);
    return rc;
}

nl_code nl_csv_table_parse(const char *text, const char *path, nl_csv_table *t, nl_error *err)
{
    memset(t, 0, sizeof *t);
    const char *p = text;
    nl_code rc = read_header(&p, t, path, err);
    if (rc)
        return rc;
    int cap = 0, line_no = 1;
    for (const char *c = text; c < p; c++)
        line_no += *c == '\n';
    while (*p) {
        const char *line = p;
        const int this_line = line_no;
        char **fields;
        const int n = split_record(&p, &fields);
        for (const char *c = line; c < p; c++)
            line_no += *c == '\n';
        const bool cut = n >= 0 && !*p && p > line && p[-1] != '\n';
        if (n >= 0 && !keep_record(t, this_line, cut, fields, n))
            continue;
        if (n < 0 || !add_row(t, fields, n, &cap)) {
            nl_csv_table_free(t);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", path);
        }
    }
    return NL_OK;
}

const char *nl_csv_table_problem(const nl_csv_table *t, const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    if (t->n_bad == 1)
        snprintf(buf, size, "%s line %d: %s; left out", path, t->first_bad_line, t->bad_why);
    else if (t->n_bad > 1)
        snprintf(buf, size, "%s line %d: %s; left out, with %d more malformed lines", path,
                 t->first_bad_line, t->bad_why, t->n_bad - 1);
    return buf;
}

int nl_csv_table_col(const nl_csv_table *t, const char *name)
{
    for (int c = 0; c < t->n_cols; c++)
        if (!strcmp(t->header[c], name))
            return c;
    return -1;
}

double nl_csv_num(const char *s)
{
    if (!s || !*s)
        return NAN;
    char *end;
    const double v = strtod(s, &end);
    return end == s || *end ? NAN : v;
}
