/* Reading a results directory: a sweep's summary.csv (the varied keys are
 * the columns between run and status) or a single run's summary.json; the
 * variants and series the plots group runs into; the subtitle. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/ident.h"
#include "arch/registry.h"
#include "config/schema.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "plot/internal.h"
#include "results/files.h"
#include "results/run_result.h"
#include "results/rundir.h"

/* ---- CSV ---- */

void pl_table_free(pl_table *t)
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
    nl_buf f = {0};
    nl_buf_printf(&f, "%s", "");
    if (*s == '"') {
        s++;
        for (;;) {
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
    }
    const size_t span = strcspn(s, ",\n\r");
    if (f.len == 0) {
        nl_buf_free(&f);
        f.data = strndup(s, span);
    } else {
        nl_buf_printf(&f, "%.*s", (int)span, s);
    }
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
static nl_code read_header(const char **p, pl_table *t, const char *path, nl_error *err)
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
static bool keep_record(pl_table *t, int line_no, bool cut, char **fields, int n)
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
static bool add_row(pl_table *t, char **fields, int n, int *cap)
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

nl_code pl_table_read(const char *path, pl_table *t, nl_error *err)
{
    memset(t, 0, sizeof *t);
    char *text = NULL;
    nl_code rc = nl_read_file(path, &text, NULL, err);
    if (rc)
        return rc;
    rc = pl_table_parse(text, path, t, err);
    free(text);
    return rc;
}

nl_code pl_table_parse(const char *text, const char *path, pl_table *t, nl_error *err)
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
            pl_table_free(t);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", path);
        }
    }
    return NL_OK;
}

const char *pl_table_problem(const pl_table *t, const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    if (t->n_bad == 1)
        snprintf(buf, size, "%s line %d: %s; left out", path, t->first_bad_line, t->bad_why);
    else if (t->n_bad > 1)
        snprintf(buf, size, "%s line %d: %s; left out, with %d more malformed lines", path,
                 t->first_bad_line, t->bad_why, t->n_bad - 1);
    return buf;
}

const char *pl_every_complete(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    pl_table t;
    nl_error ignored = {0};
    if (pl_table_read(path, &t, &ignored) != NL_OK)
        return buf;
    /* gnuplot counts the data lines from 0 after the header (line 1) */
    if (t.cut_line >= 3 && t.blank_lines == 0)
        snprintf(buf, size, " every ::0::%d", t.cut_line - 3);
    pl_table_free(&t);
    return buf;
}

int pl_table_col(const pl_table *t, const char *name)
{
    for (int c = 0; c < t->n_cols; c++)
        if (!strcmp(t->header[c], name))
            return c;
    return -1;
}

double pl_num(const char *s)
{
    if (!s || !*s)
        return NAN;
    char *end;
    const double v = strtod(s, &end);
    return end == s || *end ? NAN : v;
}

/* ---- results ---- */

bool pl_is_seed_key(const char *key)
{
    const size_t len = strlen(key);
    return !strcmp(key, "seed") || (len > 5 && !strcmp(key + len - 5, ".seed"));
}

static void load_config(pl_results *r)
{
    for (int i = 0; i < r->n_runs && !r->have_config; i++) {
        char path[1300], *text = NULL;
        nl_error err = {0};
        snprintf(path, sizeof path, "%s/" NL_RUN_CONFIG_FILE, r->runs[i].dir);
        if (nl_read_file(path, &text, NULL, &err) != NL_OK)
            continue;
        if (nl_flat_from_yaml(text, path, &r->config, &err) == NL_OK)
            r->have_config = true;
        free(text);
    }
}

static nl_code load_sweep(const char *dir, pl_results *r, nl_error *err)
{
    char path[1200];
    nl_path_join(path, sizeof path, dir, NL_SWEEP_SUMMARY_FILE);
    pl_table t;
    nl_code rc = pl_table_read(path, &t, err);
    if (rc)
        return rc;
    const int status = pl_table_col(&t, "status");
    if (pl_table_col(&t, "run") != 0 || status < 1) {
        pl_table_free(&t);
        return nl_fail(err, NL_ERR_DATA, "%s is not a normlab sweep summary (no run and status columns)",
                       path);
    }
    char problem[1600];
    if (pl_table_problem(&t, path, problem, sizeof problem)[0])
        pl_warn(r, problem);
    r->sweep = true;
    r->n_keys = status - 1;
    r->keys = calloc((size_t)r->n_keys + 1, sizeof *r->keys);
    r->runs = calloc((size_t)t.n_rows + 1, sizeof *r->runs);
    if (!r->keys || !r->runs) {
        pl_table_free(&t);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    if ((rc = pl_check_run_names(&t, path, err))) {
        pl_table_free(&t);
        return rc;
    }
    for (int k = 0; k < r->n_keys; k++)
        nl_copy_string(r->keys[k], sizeof r->keys[k], t.header[k + 1]);
    int metric_col[PL_M_COUNT];
    for (int m = 0; m < PL_M_COUNT; m++)
        metric_col[m] = pl_table_col(&t, nl_sweep_metric_names[m]);
    for (int i = 0; i < t.n_rows; i++) {
        pl_run *run = &r->runs[r->n_runs++];
        nl_copy_string(run->name, sizeof run->name, t.rows[i][0]);
        snprintf(run->dir, sizeof run->dir, "%s/" NL_SWEEP_RUNS_DIR "/%s", dir, run->name);
        if ((rc = nl_run_dir_check_files(run->dir, err))) {
            pl_table_free(&t);
            return rc;
        }
        nl_copy_string(run->status, sizeof run->status, t.rows[i][status]);
        run->values = calloc((size_t)r->n_keys + 1, sizeof *run->values);
        if (!run->values) {
            pl_table_free(&t);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        }
        for (int k = 0; k < r->n_keys; k++)
            run->values[k] = strdup(t.rows[i][k + 1]);
        for (int m = 0; m < PL_M_COUNT; m++)
            run->m[m] = metric_col[m] >= 0 ? pl_num(t.rows[i][metric_col[m]]) : NAN;
    }
    pl_table_free(&t);
    return NL_OK;
}

nl_code pl_check_run_names(const pl_table *t, const char *path, nl_error *err)
{
    char shown[300];
    for (int i = 0; i < t->n_rows; i++) {
        const char *name = t->rows[i][0];
        if (!nl_run_name_ok(name))
            return nl_fail(err, NL_ERR_DATA, "%s: row %d: '%s' is not a run name (accepted: " NL_RUN_NAME_ACCEPTED
                           "); a path made from it could leave the sweep directory", path, i + 1,
                           nl_text_show(name, shown, sizeof shown));
    }
    const char **names = malloc(((size_t)t->n_rows + 1) * sizeof *names);
    if (!names)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->n_rows; i++)
        names[i] = t->rows[i][0];
    int a, b;
    const bool clash = nl_ident_case_clash(names, t->n_rows, &a, &b);
    free(names);
    if (clash)
        return nl_fail(err, NL_ERR_DATA, "%s: rows %d and %d name the runs '%s' and '%s', equal but for case: "
                       "a case-insensitive file system holds one directory for both", path, a + 1, b + 1,
                       t->rows[a][0], t->rows[b][0]);
    return NL_OK;
}

static nl_code load_single(const char *dir, pl_results *r, nl_error *err)
{
    r->runs = calloc(1, sizeof *r->runs);
    if (!r->runs)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = nl_run_dir_check_files(dir, err);
    if (rc)
        return rc;
    pl_run *run = &r->runs[0];
    r->n_runs = 1;
    const char *base = strrchr(dir, '/');
    nl_copy_string(run->name, sizeof run->name, base && base[1] ? base + 1 : dir);
    nl_copy_string(run->dir, sizeof run->dir, dir);
    nl_sweep_result res;
    nl_sweep_read_result(dir, &res);
    nl_copy_string(run->status, sizeof run->status, nl_sweep_state_name(res.state));
    nl_copy_string(run->reason, sizeof run->reason, res.reason);
    for (int m = 0; m < PL_M_COUNT; m++)
        run->m[m] = pl_num(res.metrics[m]);
    return NL_OK;
}

nl_code pl_results_load(const char *dir, pl_results *r, nl_error *err)
{
    memset(r, 0, sizeof *r);
    nl_copy_string(r->dir, sizeof r->dir, dir);
    size_t len = strlen(r->dir);
    while (len > 1 && r->dir[len - 1] == '/')
        r->dir[--len] = '\0';
    char path[1200];
    nl_code rc;
    if (!nl_is_dir(r->dir))
        return nl_fail(err, NL_ERR_USAGE, "%s is not a directory", r->dir);
    nl_path_join(path, sizeof path, r->dir, NL_SWEEP_SUMMARY_FILE);
    if (nl_path_exists(path)) {
        rc = load_sweep(r->dir, r, err);
    } else {
        nl_path_join(path, sizeof path, r->dir, NL_RUN_METRICS_FILE);
        if (!nl_path_exists(path))
            return nl_fail(err, NL_ERR_USAGE, "%s is neither a sweep directory (summary.csv) nor a run "
                           "directory (metrics.csv)", r->dir);
        rc = load_single(r->dir, r, err);
    }
    if (rc) {
        pl_results_free(r);
        return rc;
    }
    r->seed_key = -1;
    for (int k = 0; k < r->n_keys; k++)
        if (pl_is_seed_key(r->keys[k]))
            r->seed_key = k;
    load_config(r);
    return NL_OK;
}

void pl_warn(pl_results *r, const char *message)
{
    const size_t used = strlen(r->warnings);
    if (used + strlen(message) + 2 < sizeof r->warnings)
        snprintf(r->warnings + used, sizeof r->warnings - used, "%s\n", message);
    r->n_warnings++;
}

void pl_results_check_run_files(pl_results *r)
{
    static const char *const files[] = {NL_RUN_METRICS_FILE, NL_RUN_TRACE_FILE, NL_RUN_SERIES_FILE};
    for (int i = 0; i < r->n_runs; i++)
        for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
            char path[1300], problem[1600];
            snprintf(path, sizeof path, "%s/%s", r->runs[i].dir, files[f]);
            pl_table t;
            nl_error ignored = {0};
            if (!nl_path_exists(path) || pl_table_read(path, &t, &ignored) != NL_OK)
                continue; /* a missing file is the plots' to report */
            if (pl_table_problem(&t, path, problem, sizeof problem)[0])
                pl_warn(r, problem);
            pl_table_free(&t);
        }
}

void pl_results_free(pl_results *r)
{
    for (int i = 0; i < r->n_runs; i++) {
        if (r->runs[i].values)
            for (int k = 0; k < r->n_keys; k++)
                free(r->runs[i].values[k]);
        free(r->runs[i].values);
    }
    free(r->runs);
    free(r->keys);
    nl_flat_free(&r->config);
    memset(r, 0, sizeof *r);
}

int pl_key(const pl_results *r, const char *key)
{
    for (int k = 0; k < r->n_keys; k++)
        if (!strcmp(r->keys[k], key))
            return k;
    return -1;
}

int pl_distinct(const pl_results *r, int key, const char **out, int max)
{
    int n = 0;
    for (int i = 0; i < r->n_runs; i++) {
        const char *v = r->runs[i].values[key];
        bool seen = false;
        for (int j = 0; j < n && !seen; j++)
            seen = !strcmp(out[j], v);
        if (!seen && n < max)
            out[n++] = v;
    }
    return n;
}

bool pl_run_finished(const pl_run *run)
{
    return !strcmp(run->status, "ok") || !strcmp(run->status, "diverged");
}

const char *pl_value(const pl_results *r, const pl_run *run, const char *key)
{
    const int k = pl_key(r, key);
    if (k >= 0)
        return run->values[k];
    return nl_flat_get(&r->config, key);
}

bool pl_determined(const pl_results *r, int key, const int *others, int n_others)
{
    for (int i = 0; i < r->n_runs; i++)
        for (int j = 0; j < i; j++) {
            bool same = true;
            for (int o = 0; o < n_others && same; o++)
                same = !strcmp(r->runs[i].values[others[o]], r->runs[j].values[others[o]]);
            if (same && strcmp(r->runs[i].values[key], r->runs[j].values[key]))
                return false;
        }
    return true;
}

/* a key some runs have no value of */
static bool partial_key(const pl_results *r, int key)
{
    for (int i = 0; i < r->n_runs; i++)
        if (!r->runs[i].values[key][0])
            return true;
    return false;
}

int pl_group_keys(const pl_results *r, const int *fixed, int n_fixed, int *out)
{
    int n = 0;
    for (int k = 0; k < r->n_keys; k++) {
        bool skip = k == r->seed_key;
        for (int f = 0; f < n_fixed; f++)
            skip |= fixed[f] == k;
        if (!skip)
            out[n++] = k;
    }
    /* from the last key back (derived keys come last): drop a key that the
     * fixed keys and the other remaining keys determine. A key that does not
     * apply to some runs (empty there) determines nothing: a group count
     * would otherwise stand for the normalizer, and the runs without one
     * would have no label. */
    for (int i = n - 1; i >= 0 && !r->label_determined; i--) {
        int others[256], m = 0;
        for (int f = 0; f < n_fixed && m < 256; f++)
            others[m++] = fixed[f];
        for (int j = 0; j < n && m < 256; j++)
            if (j != i && !partial_key(r, out[j]))
                others[m++] = out[j];
        if (pl_determined(r, out[i], others, m)) {
            memmove(&out[i], &out[i + 1], (size_t)(n - i - 1) * sizeof *out);
            n--;
        }
    }
    return n;
}

/* the last components of `key` that no other varied key ends with:
 * "type", or "norm.type" and "schedule.type" when both vary */
static const char *short_key(const pl_results *r, const char *key)
{
    const char *tail = key + strlen(key);
    for (;;) {
        while (tail > key && tail[-1] != '.')
            tail--;
        bool shared = false;
        for (int k = 0; k < r->n_keys && !shared && tail > key; k++) {
            const size_t len = strlen(r->keys[k]), tlen = strlen(tail);
            shared = strcmp(r->keys[k], key) && len > tlen && r->keys[k][len - tlen - 1] == '.' &&
                     !strcmp(r->keys[k] + len - tlen, tail);
        }
        if (!shared || tail == key)
            return tail;
        tail--; /* onto the dot: take one more component */
    }
}

/* A normalizer whose row is a point given by keys (custom) is named by
 * them too: "custom reduce=[batch, spatial], center=false, scale=rms", the
 * axes keys (those the schema rules on for NL_NORM_KEY_AXES) that the
 * legend does not show already, from the run's own config.yaml (the
 * shared one is the first run's, which may be another kind's) */
static size_t norm_axes_label(const pl_results *r, const pl_run *run, const int *keys, int n,
                              const char *type, char *buf, size_t size)
{
    const int kind = nl_name_lookup(&nl_norm_names, type);
    if (kind < 0 || !(nl_norm_info_of((nl_norm_kind)kind)->keys & NL_NORM_KEY_AXES))
        return 0;
    char path[1300], *text = NULL;
    nl_error err = {0};
    nl_flat own = {0};
    snprintf(path, sizeof path, "%s/" NL_RUN_CONFIG_FILE, run->dir);
    const bool have = nl_read_file(path, &text, NULL, &err) == NL_OK &&
                      nl_flat_from_yaml(text, path, &own, &err) == NL_OK;
    free(text);
    size_t used = 0;
    for (int d = 0; d < nl_config_schema_count && used < size; d++) {
        const nl_key_def *def = &nl_config_schema[d];
        if (!def->when_key || strcmp(def->when_key, "model.norm.type") ||
            !(def->when_norm_keys & NL_NORM_KEY_AXES))
            continue;
        bool shown = false;
        for (int i = 0; i < n && !shown; i++)
            shown = !strcmp(r->keys[keys[i]], def->key);
        const char *value = have ? nl_flat_get(&own, def->key) : pl_value(r, run, def->key);
        if (shown || !value || !value[0])
            continue;
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", used ? ", " : " ",
                                 def->key + strlen("model.norm."), value);
    }
    if (have)
        nl_flat_free(&own);
    return used < size ? used : size - 1;
}

void pl_label(const pl_results *r, const pl_run *run, const int *keys, int n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (n == 0) {
        snprintf(buf, size, "%s", r->sweep ? "all runs" : run->name);
        return;
    }
    /* a normalizer needs no key name: "batch" reads better than "type=batch";
     * nor does a directory compared with others */
    for (int i = 0; i < n && used < size - 1; i++) {
        const char *key = r->keys[keys[i]];
        if (!run->values[keys[i]][0])
            continue; /* a key that does not apply to the run (a group count without group norm) */
        if (!strcmp(key, "model.norm.type") || !strcmp(key, PL_DIRECTORY_KEY)) {
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", run->values[keys[i]]);
            if (!strcmp(key, "model.norm.type") && used < size)
                used += norm_axes_label(r, run, keys, n, run->values[keys[i]], buf + used, size - used);
        } else
            used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", used ? ", " : "", short_key(r, key),
                                     run->values[keys[i]]);
    }
    /* none applies (dropout's placement at p 0): the legend still names the
     * series, by what it lacks */
    for (int i = 0; i < n && used == 0; i++)
        used += (size_t)snprintf(buf, size, "no %s", short_key(r, r->keys[keys[i]]));
}

int pl_groups(const pl_results *r, const int *keys, int n, int *group_of, char (*labels)[256], int max)
{
    int count = 0;
    int *first = malloc((size_t)(r->n_runs + 1) * sizeof *first);
    if (!first)
        return 0;
    for (int i = 0; i < r->n_runs; i++) {
        group_of[i] = -1;
        for (int g = 0; g < count && group_of[i] < 0; g++) {
            bool same = true;
            for (int k = 0; k < n && same; k++)
                same = !strcmp(r->runs[i].values[keys[k]], r->runs[first[g]].values[keys[k]]);
            if (same)
                group_of[i] = g;
        }
        if (group_of[i] < 0 && count < max) {
            first[count] = i;
            pl_label(r, &r->runs[i], keys, n, labels[count], 256);
            group_of[i] = count++;
        }
    }
    free(first);
    return count;
}

/* ---- filters ---- */

/* "0, 0.2, 0.5": the distinct values of `key` among the runs marked kept */
static void values_among(const pl_results *r, const char *key, const bool *kept, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n_runs && used < size; i++) {
        const char *v = pl_value(r, &r->runs[i], key);
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = kept[j] && !strcmp(pl_value(r, &r->runs[j], key), v);
        if (kept[i] && !seen)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", v[0] ? v : "(none)");
    }
}

/* the copy of run `from` into `to`, its values its own */
static bool copy_run(const pl_results *r, const pl_run *from, pl_run *to)
{
    *to = *from;
    to->values = calloc((size_t)r->n_keys + 1, sizeof *to->values);
    if (!to->values)
        return false;
    for (int k = 0; k < r->n_keys; k++)
        if (!(to->values[k] = strdup(from->values[k])))
            return false;
    return true;
}

/* Each run's own value of a key summary.csv does not list, from its
 * config.yaml (NULL where the run lacks it: a key that applies to some of
 * the sweep's normalizers only). Not the first run's config for all: a
 * run without the key would match whatever the first run has, and a key
 * the first run lacks would look like one no run has. */
static char **config_values(const pl_results *r, const char *key)
{
    char **v = calloc((size_t)r->n_runs + 1, sizeof *v);
    for (int i = 0; v && i < r->n_runs; i++) {
        char path[1300], *text = NULL;
        nl_error ignored = {0};
        nl_flat flat = {0};
        snprintf(path, sizeof path, "%s/" NL_RUN_CONFIG_FILE, r->runs[i].dir);
        if (nl_read_file(path, &text, NULL, &ignored) == NL_OK &&
            nl_flat_from_yaml(text, path, &flat, &ignored) == NL_OK) {
            const char *value = nl_flat_get(&flat, key);
            v[i] = value ? strdup(value) : NULL;
        }
        free(text);
        nl_flat_free(&flat);
    }
    return v;
}

static void free_values(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* "0, 0.2, 0.5": the distinct values of the runs' own (config.yaml) values
 * among the runs marked kept */
static void own_values_among(char *const *own, int n, const bool *kept, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0, used = 0; i < n && used < (int)size; i++) {
        const char *v = own[i] ? own[i] : "";
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = kept[j] && !strcmp(own[j] ? own[j] : "", v);
        if (kept[i] && !seen)
            used += snprintf(buf + used, size - (size_t)used, "%s%s", used ? ", " : "", v[0] ? v : "(none)");
    }
}

/* where item w (key=want): the runs of `kept` without that value unmarked;
 * refused when no run has the key, or none is left */
static nl_code keep_matching(const pl_results *all, const char *key, const char *want, bool *kept, int w,
                             const char *where_text, nl_error *err)
{
    /* a varied key is summary.csv's column; any other, each run's config.yaml */
    char **own = pl_key(all, key) < 0 ? config_values(all, key) : NULL;
    bool anyone = pl_key(all, key) >= 0;
    for (int i = 0; own && i < all->n_runs; i++)
        anyone |= own[i] != NULL;
    if (pl_key(all, key) < 0 && !own)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (!anyone) {
        char keys[1024] = "";
        size_t used = 0;
        for (int k = 0; k < all->n_keys && used < sizeof keys; k++)
            used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", used ? ", " : "", all->keys[k]);
        free_values(own, all->n_runs);
        return nl_fail(err, NL_ERR_USAGE, "where: no run in %s has the key '%s'; the keys its runs vary: %s "
                       "(or any key of a run's config.yaml)", all->dir, key, used ? keys : "none");
    }
    char before[1024] = "";
    if (own)
        own_values_among(own, all->n_runs, kept, before, sizeof before);
    else
        values_among(all, key, kept, before, sizeof before);
    int n_kept = 0;
    for (int i = 0; i < all->n_runs; i++) {
        /* a run without the key does not have the value asked for */
        const char *v = own ? own[i] : pl_value(all, &all->runs[i], key);
        kept[i] = kept[i] && v && nl_values_equal(v, want);
        n_kept += kept[i];
    }
    free_values(own, all->n_runs);
    if (n_kept == 0)
        return nl_fail(err, NL_ERR_USAGE, "where: %s=%s leaves no run of %s%s%s; %s has the values %s%s", key, want,
                       all->dir, w ? " with " : "", w ? where_text : "", key, before, w ? " there" : "");
    return NL_OK;
}

nl_code pl_results_where(const pl_results *all, const nl_plot_where *where, pl_results *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    bool *kept = malloc((size_t)all->n_runs + 1);
    if (!kept)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < all->n_runs; i++)
        kept[i] = true;
    size_t where_used = 0;
    char where_text[sizeof out->where] = "";
    for (int w = 0; w < where->n; w++) {
        const char *key = where->items[w].key, *want = where->items[w].value;
        const nl_code rc = keep_matching(all, key, want, kept, w, where_text, err);
        if (rc) {
            free(kept);
            return rc;
        }
        where_used += (size_t)snprintf(where_text + where_used, sizeof where_text - where_used, "%s%s=%s",
                                       where_used ? ", " : "", short_key(all, key), want);
        if (where_used >= sizeof where_text)
            where_used = sizeof where_text - 1;
    }
    *out = *all; /* the scalars; what it points to is its own below */
    out->keys = NULL;
    out->runs = NULL;
    out->n_runs = 0;
    memset(&out->config, 0, sizeof out->config);
    out->have_config = false;
    nl_copy_string(out->where, sizeof out->where, where_text);
    out->keys = calloc((size_t)all->n_keys + 1, sizeof *out->keys);
    out->runs = calloc((size_t)all->n_runs + 1, sizeof *out->runs);
    bool ok = out->keys && out->runs;
    if (ok && all->n_keys)
        memcpy(out->keys, all->keys, (size_t)all->n_keys * sizeof *out->keys);
    for (int i = 0; i < all->n_runs && ok; i++)
        if (kept[i])
            ok = copy_run(all, &all->runs[i], &out->runs[out->n_runs++]);
    free(kept);
    if (!ok) {
        pl_results_free(out);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    /* the subtitle reads the fixed settings from a kept run's config */
    load_config(out);
    if (!out->have_config && all->have_config) {
        for (int i = 0; i < all->config.n; i++)
            if (nl_flat_set(&out->config, all->config.items[i].key, all->config.items[i].value, err) != NL_OK) {
                pl_results_free(out);
                return err->code;
            }
        out->have_config = true;
    }
    return NL_OK;
}

/* ---- subtitle ---- */

static bool varied(const pl_results *r, const char *key)
{
    const int k = pl_key(r, key);
    if (k < 0)
        return false;
    for (int i = 1; i < r->n_runs; i++)
        if (strcmp(r->runs[i].values[k], r->runs[0].values[k]))
            return true;
    return false;
}

static const char *cfg(const pl_results *r, const char *key)
{
    const char *v = nl_flat_get(&r->config, key);
    return v ? v : "";
}

static void list_text(const char *flow, const char *sep, char *out, size_t size)
{
    size_t k = 0;
    for (const char *p = flow; *p && k + 4 < size; p++) {
        if (*p == '[' || *p == ']' || *p == ' ')
            continue;
        if (*p == ',') {
            k += (size_t)snprintf(out + k, size - k, "%s", sep);
            continue;
        }
        out[k++] = *p;
    }
    out[k] = '\0';
}

/* a learning rate that varies only with the batch size, as the subtitle
 * says it: " lr 0.04 at batch 64, linear in the batch" (the largest batch);
 * "" when the learning rate does not follow the batch size */
static void derived_lr(const pl_results *r, char *buf, size_t size)
{
    buf[0] = '\0';
    const int lr = pl_key(r, "train.optimizer.lr"), bs = pl_key(r, "train.batch_size");
    if (lr < 0 || bs < 0 || !varied(r, "train.optimizer.lr") || !pl_determined(r, lr, &bs, 1))
        return;
    double lo = INFINITY, hi = -INFINITY, ratio = NAN, top_bs = -INFINITY, top_lr = NAN;
    bool linear = true;
    for (int i = 0; i < r->n_runs; i++) {
        const double l = pl_num(r->runs[i].values[lr]), b = pl_num(r->runs[i].values[bs]);
        if (!isfinite(l) || !(b > 0))
            continue;
        lo = fmin(lo, l);
        hi = fmax(hi, l);
        if (isnan(ratio))
            ratio = l / b;
        linear &= fabs(l / b - ratio) <= 1e-6 * fabs(ratio);
        if (b > top_bs) {
            top_bs = b;
            top_lr = l;
        }
    }
    if (!isfinite(lo))
        return;
    if (linear)
        snprintf(buf, size, " lr %g at batch %g, linear in the batch", top_lr, top_bs);
    else
        snprintf(buf, size, " lr %g to %g, set by the batch size", lo, hi);
}

/* one part of the subtitle, written piece by piece */
typedef struct {
    char text[512];
    size_t used;
} subtitle_part;

static void add(subtitle_part *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(subtitle_part *p, const char *fmt, ...)
{
    if (p->used >= sizeof p->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(p->text + p->used, sizeof p->text - p->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->used += (size_t)n;
}

/* a part that starts with its name left out (the key varies) starts with
 * the space that followed the name */
static void drop_leading_space(subtitle_part *p)
{
    if (p->text[0] == ' ')
        memmove(p->text, p->text + 1, strlen(p->text));
}

/* "synthetic data (1x8x8 images, 4 classes), 512 training samples" */
static void data_part(const pl_results *r, subtitle_part *p)
{
    const char *dataset = cfg(r, "data.dataset");
    if (!strcmp(dataset, "synthetic")) {
        char shape[64];
        list_text(cfg(r, "data.shape"), "x", shape, sizeof shape);
        add(p, "synthetic data (%s %s, %s classes)", shape,
            strchr(shape, 'x') ? "images" : "features", cfg(r, "data.classes"));
    } else {
        add(p, "%s", dataset);
    }
    if (!varied(r, "data.train_size") && pl_num(cfg(r, "data.train_size")) > 0)
        add(p, ", %s training samples", cfg(r, "data.train_size"));
}

/* the architecture's row, by the config's model.arch; NULL: a name this
 * build does not know */
static const nl_arch_info *subtitle_arch(const pl_results *r)
{
    const int a = nl_name_lookup(&nl_arch_names, cfg(r, "model.arch"));
    return a >= 0 ? nl_arch_info_of((nl_arch)a) : NULL;
}

/* the model's size by its row's summary keys: a transformer's blocks as
 * " d_model 64, layers 3, heads 4, context 32", another model's widths
 * and activation as " 256-256 relu" */
static void size_part(const pl_results *r, const nl_arch_info *arch, subtitle_part *p)
{
    static const char *const widths_summary[] = {"model.widths", "model.activation", NULL};
    const char *const *keys = arch ? arch->summary_keys : widths_summary;
    const bool blocks = arch && arch->blocks;
    for (int k = 0; k < NL_ARCH_MAX_KEYS && keys[k]; k++) {
        const char *key = keys[k];
        if (!nl_flat_get(&r->config, key) || varied(r, key))
            continue;
        char value[128];
        list_text(cfg(r, key), "-", value, sizeof value);
        if (blocks)
            add(p, "%s %s %s", k ? "," : "", key + strlen("model."), value);
        else
            add(p, " %s", value);
    }
}

/* ", group norm (8 groups) before act" or ", rms norm, placement pre" */
static void norm_part(const pl_results *r, bool blocks, subtitle_part *p)
{
    const char *norm = cfg(r, "model.norm.type");
    if (!varied(r, "model.norm.type")) {
        if (!strcmp(norm, "none"))
            add(p, ", no norm");
        else if (!strcmp(norm, "group") && !varied(r, "model.norm.groups"))
            add(p, ", group norm (%s groups)", cfg(r, "model.norm.groups"));
        else
            add(p, ", %s norm", norm);
    }
    if (!varied(r, "model.norm.placement") && strcmp(norm, "none"))
        add(p, blocks ? ", placement %s" : " %s act", cfg(r, "model.norm.placement"));
}

/* "MLP 256-256 relu, batch norm before act" (no name when the
 * architecture varies) */
static void model_part(const pl_results *r, subtitle_part *p)
{
    const nl_arch_info *arch = subtitle_arch(r);
    if (!varied(r, "model.arch")) {
        char name[32];
        nl_copy_string(name, sizeof name, cfg(r, "model.arch"));
        for (char *c = name; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        add(p, "%s", name);
    }
    size_part(r, arch, p);
    norm_part(r, arch && arch->blocks, p);
    drop_leading_space(p);
}

/* "SGD lr 0.1, momentum 0.9, wd 0.0005, cosine schedule, batch 64, 3
 * epochs" (no name when the optimizer varies) */
static void training_part(const pl_results *r, subtitle_part *p)
{
    if (!varied(r, "train.optimizer.type")) {
        /* the optimizer table's title; a config without the key has the default */
        const char *type = cfg(r, "train.optimizer.type");
        const int kind = type[0] ? nl_name_lookup(&nl_optim_names, type) : NL_OPTIM_SGD;
        add(p, "%s", kind >= 0 ? nl_optim_info_of((nl_optim_kind)kind)->title : type);
    }
    if (!varied(r, "train.optimizer.lr")) {
        add(p, " lr %s", cfg(r, "train.optimizer.lr"));
    } else {
        char derived[128];
        derived_lr(r, derived, sizeof derived);
        add(p, "%s", derived);
    }
    if (!varied(r, "train.optimizer.momentum") && cfg(r, "train.optimizer.momentum")[0])
        add(p, ", momentum %s", cfg(r, "train.optimizer.momentum"));
    if (!varied(r, "train.optimizer.weight_decay") &&
        pl_num(cfg(r, "train.optimizer.weight_decay")) > 0)
        add(p, ", wd %s", cfg(r, "train.optimizer.weight_decay"));
    const char *schedule = cfg(r, "train.schedule.type");
    if (!varied(r, "train.schedule.type") && schedule[0] && strcmp(schedule, "constant"))
        add(p, ", %s schedule", schedule);
    if (!varied(r, "train.batch_size"))
        add(p, ", batch %s", cfg(r, "train.batch_size"));
    if (!varied(r, "train.epochs") && nl_flat_get(&r->config, "train.epochs"))
        add(p, ", %s epoch%s", cfg(r, "train.epochs"), strcmp(cfg(r, "train.epochs"), "1") ? "s" : "");
    else if (!varied(r, "train.steps") && nl_flat_get(&r->config, "train.steps"))
        add(p, ", %s step%s", cfg(r, "train.steps"), strcmp(cfg(r, "train.steps"), "1") ? "s" : "");
    drop_leading_space(p);
}

/* "3 seeds", "1 seed" (a sweep over one) or "seed 7" */
static void seeds_part(const pl_results *r, subtitle_part *p)
{
    if (r->seed_key >= 0) {
        const char *seeds[1024];
        add(p, "%d seeds", pl_distinct(r, r->seed_key, seeds, 1024));
    } else if (r->sweep) {
        add(p, "1 seed");
    } else {
        add(p, "seed %s", cfg(r, "seed"));
    }
    if (r->where[0]) /* a filtered plot says which runs it holds */
        add(p, ", runs with %s", r->where);
}

void pl_subtitle(const pl_results *r, char *buf, size_t size)
{
    buf[0] = '\0';
    if (!r->have_config) {
        snprintf(buf, size, "%s", r->dir);
        return;
    }
    subtitle_part data = {0}, model = {0}, training = {0}, seeds = {0};
    data_part(r, &data);
    model_part(r, &model);
    training_part(r, &training);
    seeds_part(r, &seeds);
    /* one line when it fits, two otherwise */
    const size_t total = strlen(data.text) + strlen(model.text) + strlen(training.text) +
                         strlen(seeds.text);
    snprintf(buf, size, "%s | %s%s%s | %s", data.text, model.text, total > 110 ? "\n" : " | ",
             training.text, seeds.text);
}

const char *pl_color(const char *label, int index)
{
    const int kind = nl_name_lookup(&nl_norm_names, label);
    if (kind >= 0)
        return nl_norm_info_of((nl_norm_kind)kind)->color;
    static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
    return palette[index % 10];
}
