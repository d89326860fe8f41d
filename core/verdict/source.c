/* normlab verdict's runs as one table (verdict/source.h): a sweep's
 * summary.csv as it is, or a table built here from run directories or
 * from CSV rows, shaped like a summary.csv (run, keys, status, metrics). */
#include "verdict/source.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/flat.h"
#include "config/norm_label.h"
#include "results/files.h"
#include "results/run_result.h"
#include "results/store.h"
#include "results/summary_keys.h"

int vd_source_key_col(const vd_source *s, const char *key)
{
    for (int k = 1; k < s->status_col; k++)
        if (!strcmp(s->t.header[k], key))
            return k;
    return -1;
}

const char *vd_source_seed(const vd_source *s, int row)
{
    if (s->seed_col >= 0)
        return s->t.rows[row][s->seed_col];
    return s->kind == NL_SOURCE_SWEEP ? "-" : s->t.rows[row][0];
}

bool vd_source_run_file(const vd_source *s, int row, const char *file, char *out, size_t size)
{
    if (s->kind == NL_SOURCE_TABLE)
        return false;
    snprintf(out, size, "%s/%s%s/%s", s->dir, s->kind == NL_SOURCE_SWEEP ? NL_SWEEP_RUNS_DIR "/" : "", s->t.rows[row][0], file);
    return true;
}

char *vd_source_run_read(const vd_source *s, int row, const char *file, char *path, size_t size)
{
    char dir[2400], *text = NULL;
    nl_error ignored = {0};
    if (!vd_source_run_file(s, row, file, path, size) || !vd_source_run_file(s, row, "", dir, sizeof dir))
        return NULL;
    dir[strlen(dir) - 1] = '\0'; /* the '/' before "" */
    if (nl_run_file_read(dir, file, &text, NULL, &ignored) != NL_OK || strlen(text) > NL_READ_TEXT_MAX) {
        free(text);
        return NULL;
    }
    return text;
}

bool vd_source_run_csv(const vd_source *s, int row, const char *file, char *path, size_t size, nl_csv_table *t)
{
    char dir[2400];
    nl_error ignored = {0};
    if (!vd_source_run_file(s, row, file, path, size) || !vd_source_run_file(s, row, "", dir, sizeof dir))
        return false;
    dir[strlen(dir) - 1] = '\0'; /* the '/' before "" */
    return nl_run_file_exists(dir, file) && nl_run_csv_read(dir, file, t, &ignored) == NL_OK;
}

void vd_source_close(vd_source *s)
{
    nl_csv_table_free(&s->t);
    free(s->norm);
    s->norm = NULL;
}

bool vd_source_matches(const vd_source *s, int row, const nl_claim_select *sel)
{
    const int col = vd_source_key_col(s, sel->key);
    if (col < 0)
        return false;
    const char *have = s->t.rows[row][col];
    if (nl_claim_select_matches(sel, have))
        return true;
    if (strcmp(sel->key, "model.norm.type"))
        return false;
    return (s->norm && s->norm[row][0] && nl_claim_select_matches(sel, s->norm[row])) ||
           (nl_norm_label_is_formula(have) && nl_claim_select_matches(sel, nl_norm_formula_type()));
}

/* each row's normalizer by its one name: a formula's from its run's
 * config.yaml where the row holds its kind's name */
static void name_formulas(vd_source *s)
{
    const int col = vd_source_key_col(s, "model.norm.type");
    if (col < 0 || s->kind == NL_SOURCE_TABLE || !(s->norm = calloc((size_t)s->t.n_rows + 1, sizeof *s->norm)))
        return;
    for (int r = 0; r < s->t.n_rows; r++) {
        char dir[1400];
        if (!nl_norm_type_is_formula(s->t.rows[r][col]) || !vd_source_run_file(s, r, ".", dir, sizeof dir) ||
            !nl_results_run_norm_label(dir, s->norm[r], sizeof s->norm[r]))
            nl_copy_string(s->norm[r], sizeof s->norm[r], s->t.rows[r][col]);
    }
}

static void find_seed(vd_source *s)
{
    s->seed_col = -1;
    for (int k = 1; k < s->status_col; k++)
        if (nl_results_is_seed_key(s->t.header[k]))
            s->seed_col = k;
}

static nl_code open_sweep(vd_source *s, nl_error *err)
{
    char path[1200];
    nl_path_join(path, sizeof path, s->dir, NL_SWEEP_SUMMARY_FILE);
    if (!nl_path_exists(path))
        return nl_fail(err, NL_ERR_USAGE, "%s is not a sweep directory (no summary.csv); a directory of other "
                       "files is read by a claims file's source: (results/usage.md, \"Claims and verdicts\")", s->dir);
    nl_store *pack; /* a packed sweep whose pack cannot be read: refused, not read as runs without files */
    const nl_code rc = nl_store_present(s->dir) ? nl_store_open(s->dir, &pack, err) : NL_OK;
    return rc ? rc : nl_sweep_summary_read(s->dir, &s->t, &s->status_col, err);
}

/* ---- building a table ---- */

static bool set_header(nl_csv_table *t, const char *const *names, int n)
{
    t->header = calloc((size_t)n, sizeof *t->header);
    if (!t->header)
        return false;
    t->n_cols = n;
    for (int c = 0; c < n; c++)
        if (!(t->header[c] = strdup(names[c])))
            return false;
    return true;
}

/* a row of n_cols fields (missing ones "") */
static bool add_row(nl_csv_table *t, const char *const *fields, int n)
{
    char ***grown = realloc(t->rows, (size_t)(t->n_rows + 1) * sizeof *grown);
    if (!grown)
        return false;
    t->rows = grown;
    char **row = calloc((size_t)t->n_cols, sizeof *row);
    if (!row)
        return false;
    t->rows[t->n_rows++] = row;
    for (int c = 0; c < t->n_cols; c++)
        if (!(row[c] = strdup(c < n && fields[c] ? fields[c] : "")))
            return false;
    return true;
}

static nl_code source_fail(const nl_claim_source *src, const char *claims_path, nl_error *err, const char *what,
                           const char *detail)
{
    return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: source: %s%s", claims_path, src->line, src->column, what, detail);
}

/* matches of dir/pattern, sorted (glob's order) */
static int match(const char *dir, const char *pattern, glob_t *g)
{
    char full[1400];
    snprintf(full, sizeof full, "%s/%s", dir, pattern);
    return glob(full, 0, NULL, g) == 0 ? (int)g->gl_pathc : 0;
}

/* ---- run directories ---- */

/* key's value of a run: summary.json's, else its config.yaml's, else "" */
static void run_key(const char *json, const nl_flat *config, const char *key, char *out, size_t size)
{
    out[0] = '\0';
    if (json && nl_json_flat_get(json, key, out, size) && strcmp(out, "null"))
        return;
    const char *v = config ? nl_flat_get(config, key) : NULL;
    nl_copy_string(out, size, v && strcmp(v, "null") ? v : "");
}

static bool add_run(vd_source *s, const nl_claim_source *src, const char *path)
{
    char file[1600], *json = NULL, *yaml = NULL, values[NL_CLAIM_MAX_SOURCE_KEYS][256], status[32] = "";
    nl_error ignored = {0};
    nl_flat config = {0};
    snprintf(file, sizeof file, "%s/" NL_RUN_SUMMARY_FILE, path);
    if (nl_read_file(file, &json, NULL, &ignored) != NL_OK)
        return true; /* not a run directory */
    snprintf(file, sizeof file, "%s/" NL_RUN_CONFIG_FILE, path);
    const bool have_config = nl_read_file_max(file, NL_READ_TEXT_MAX, &yaml, NULL, &ignored) == NL_OK &&
                             nl_flat_from_yaml(yaml, file, &config, &ignored) == NL_OK;
    const char *fields[2 + NL_CLAIM_MAX_SOURCE_KEYS];
    fields[0] = path + strlen(s->dir) + 1;
    for (int k = 0; k < src->n_keys; k++) {
        run_key(json, have_config ? &config : NULL, src->keys[k], values[k], sizeof values[k]);
        fields[1 + k] = values[k];
    }
    if (!nl_json_flat_get(json, NL_SUMMARY_STATUS, status, sizeof status))
        nl_copy_string(status, sizeof status, "failed");
    fields[1 + src->n_keys] = status;
    const bool ok = add_row(&s->t, fields, 2 + src->n_keys);
    free(json);
    free(yaml);
    nl_flat_free(&config);
    return ok;
}

static nl_code open_runs(vd_source *s, const nl_claim_source *src, const char *claims_path, nl_error *err)
{
    const char *names[2 + NL_CLAIM_MAX_SOURCE_KEYS] = {NL_SWEEP_RUN_COLUMN};
    for (int k = 0; k < src->n_keys; k++)
        names[1 + k] = src->keys[k];
    names[1 + src->n_keys] = NL_SWEEP_STATUS_COLUMN;
    if (!set_header(&s->t, names, 2 + src->n_keys))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    s->status_col = 1 + src->n_keys;
    glob_t g = {0};
    const int n = match(s->dir, src->pattern, &g);
    bool ok = true;
    for (int i = 0; i < n && ok; i++)
        ok = add_run(s, src, g.gl_pathv[i]);
    globfree(&g);
    if (!ok)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (s->t.n_rows == 0)
        return source_fail(src, claims_path, err, "no run directory (with a summary.json) matches ", src->pattern);
    return NL_OK;
}

/* ---- rows of CSV files ---- */

#define MAX_FIELDS 4

/* a table pattern's {FIELD}s: their names, and the pattern for glob (* for each) */
typedef struct {
    char field[MAX_FIELDS][96], value[MAX_FIELDS][256];
    int n_fields;
    int key_col[NL_CLAIM_MAX_SOURCE_KEYS]; /* a key's column in the file; -1 - i: field i */
} table_file;

static void split_fields(const char *pattern, table_file *tf, char *glob_pattern, size_t size)
{
    size_t used = 0;
    tf->n_fields = 0;
    for (const char *p = pattern; *p && used + 1 < size;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (close && tf->n_fields < MAX_FIELDS) {
            snprintf(tf->field[tf->n_fields++], sizeof tf->field[0], "%.*s", (int)(close - p - 1), p + 1);
            glob_pattern[used++] = '*';
            p = close + 1;
        } else {
            glob_pattern[used++] = *p++;
        }
    }
    glob_pattern[used] = '\0';
}

/* matches name against the pattern (* ? and {FIELD}s, each field at least
 * one character), the fields' values into tf: backtracking, bounded by
 * the name's length */
static bool capture(const char *p, const char *s, table_file *tf, int field)
{
    if (!*p)
        return !*s;
    if (*p == '*')
        return capture(p + 1, s, tf, field) || (*s && capture(p, s + 1, tf, field));
    if (*p == '?')
        return *s && capture(p + 1, s + 1, tf, field);
    const char *close = *p == '{' ? strchr(p, '}') : NULL;
    if (!close)
        return *p == *s && capture(p + 1, s + 1, tf, field);
    for (size_t len = 1; len <= strlen(s) && len < sizeof tf->value[0]; len++) {
        snprintf(tf->value[field], sizeof tf->value[0], "%.*s", (int)len, s);
        if (capture(close + 1, s + len, tf, field + 1))
            return true;
    }
    return false;
}

/* every key is a column of the file, or one of its fields */
static nl_code check_columns(const nl_csv_table *f, const char *path, const nl_claim_source *src,
                             const char *claims_path, table_file *tf, nl_error *err)
{
    for (int k = 0; k < src->n_keys; k++) {
        int field = -1;
        for (int i = 0; i < tf->n_fields; i++)
            if (!strcmp(src->keys[k], tf->field[i]))
                field = i;
        tf->key_col[k] = nl_csv_table_col(f, src->keys[k]);
        if (tf->key_col[k] < 0 && field >= 0)
            tf->key_col[k] = -1 - field;
        if (tf->key_col[k] < 0 && field < 0) {
            char detail[1600];
            snprintf(detail, sizeof detail, "'%s' (keys:) is no column of %s nor a {FIELD} of the pattern",
                     src->keys[k], path);
            return source_fail(src, claims_path, err, "", detail);
        }
    }
    if (src->run[0] && nl_csv_table_col(f, src->run) < 0) {
        char detail[1600];
        snprintf(detail, sizeof detail, "'%s' (run:) is no column of %s", src->run, path);
        return source_fail(src, claims_path, err, "", detail);
    }
    return NL_OK;
}

/* the header: run, the keys, status, then every other column of the first file */
static bool table_header(vd_source *s, const nl_claim_source *src, const nl_csv_table *first)
{
    const char *names[2 + NL_CLAIM_MAX_SOURCE_KEYS + 256];
    int n = 0;
    names[n++] = NL_SWEEP_RUN_COLUMN;
    for (int k = 0; k < src->n_keys; k++)
        names[n++] = src->keys[k];
    names[n++] = NL_SWEEP_STATUS_COLUMN;
    for (int c = 0; c < first->n_cols && n < (int)(sizeof names / sizeof names[0]); c++) {
        bool key = !strcmp(first->header[c], NL_SWEEP_RUN_COLUMN) || !strcmp(first->header[c], NL_SWEEP_STATUS_COLUMN);
        for (int k = 0; k < src->n_keys; k++)
            key |= !strcmp(first->header[c], src->keys[k]);
        if (!key)
            names[n++] = first->header[c];
    }
    s->status_col = 1 + src->n_keys;
    return set_header(&s->t, names, n);
}

static bool add_table_rows(vd_source *s, const nl_claim_source *src, const nl_csv_table *f, const char *rel,
                           const table_file *tf)
{
    for (int r = 0; r < f->n_rows; r++) {
        const char *fields[512] = {0};
        char run[1200];
        const int run_col = src->run[0] ? nl_csv_table_col(f, src->run) : -1;
        snprintf(run, sizeof run, "%s:%d", rel, r + 2);
        fields[0] = run_col >= 0 ? f->rows[r][run_col] : run;
        for (int k = 0; k < src->n_keys; k++)
            fields[1 + k] = tf->key_col[k] >= 0 ? f->rows[r][tf->key_col[k]] : tf->value[-1 - tf->key_col[k]];
        fields[s->status_col] = "ok";
        for (int c = s->status_col + 1; c < s->t.n_cols && c < 512; c++) {
            const int col = nl_csv_table_col(f, s->t.header[c]);
            fields[c] = col >= 0 ? f->rows[r][col] : "";
        }
        if (!add_row(&s->t, fields, s->t.n_cols < 512 ? s->t.n_cols : 512))
            return false;
    }
    return true;
}

static nl_code add_table_file(vd_source *s, const nl_claim_source *src, const char *claims_path, const char *path,
                              table_file *tf, nl_error *err)
{
    nl_csv_table f;
    nl_code rc = nl_csv_table_read(path, &f, err);
    if (rc)
        return rc;
    rc = check_columns(&f, path, src, claims_path, tf, err);
    if (rc == NL_OK && s->t.n_cols == 0 && !table_header(s, src, &f))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (rc == NL_OK && !add_table_rows(s, src, &f, path + strlen(s->dir) + 1, tf))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_csv_table_free(&f);
    return rc;
}

static nl_code open_table(vd_source *s, const nl_claim_source *src, const char *claims_path, nl_error *err)
{
    table_file tf = {0};
    char pattern[300];
    split_fields(src->pattern, &tf, pattern, sizeof pattern);
    glob_t g = {0};
    const int n = match(s->dir, pattern, &g);
    nl_code rc = NL_OK;
    for (int i = 0; i < n && rc == NL_OK; i++)
        if (capture(src->pattern, g.gl_pathv[i] + strlen(s->dir) + 1, &tf, 0))
            rc = add_table_file(s, src, claims_path, g.gl_pathv[i], &tf, err);
    globfree(&g);
    if (rc == NL_OK && s->t.n_rows == 0)
        return source_fail(src, claims_path, err, "no rows in the files matching ", src->pattern);
    return rc;
}

nl_code vd_source_open(vd_source *s, const char *dir, const nl_claim_source *src, const char *claims_path,
                       nl_error *err)
{
    memset(s, 0, sizeof *s);
    nl_copy_string(s->dir, sizeof s->dir, dir);
    size_t len = strlen(s->dir);
    while (len > 1 && s->dir[len - 1] == '/')
        s->dir[--len] = '\0';
    s->kind = src ? src->kind : NL_SOURCE_SWEEP;
    nl_code rc;
    if (s->kind == NL_SOURCE_SWEEP)
        rc = open_sweep(s, err);
    else if (!nl_path_exists(s->dir))
        rc = nl_fail(err, NL_ERR_USAGE, "%s: no such directory", s->dir);
    else
        rc = s->kind == NL_SOURCE_RUNS ? open_runs(s, src, claims_path, err) : open_table(s, src, claims_path, err);
    if (rc) {
        nl_csv_table_free(&s->t);
        return rc;
    }
    find_seed(s);
    name_formulas(s);
    return NL_OK;
}
