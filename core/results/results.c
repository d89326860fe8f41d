/* Reading a results directory (results.h): a sweep's summary.csv (the
 * varied keys are the columns between run and status) or a single run's
 * summary.json, and the variants the readers group runs into. */
#include "results/results.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ident.h"
#include "config/norm_label.h"
#include "config/schema.h"
#include "log/files.h"
#include "norm/registry.h"
#include "results/files.h"
#include "results/run_result.h"
#include "results/rundir.h"
#include "results/store.h"

/* ---- the run directory's file table (results/files.h) ---- */

#define NL_RESULT_FILE_ROW(glob, cls, keep) {glob, cls, keep},
const nl_result_file nl_result_files[] = {NL_RESULT_FILES(NL_RESULT_FILE_ROW)};
const int nl_result_file_count = (int)(sizeof nl_result_files / sizeof *nl_result_files);

/* the end of `path` with as many components as `glob` has */
static const char *path_tail(const char *path, const char *glob)
{
    int components = 1;
    for (const char *c = glob; *c; c++)
        components += *c == '/';
    const char *tail = path + strlen(path);
    while (tail > path && components > 0)
        if (*--tail == '/' && --components == 0)
            return tail + 1;
    return path;
}

const nl_result_file *nl_result_file_of(const char *path)
{
    for (int i = 0; i < nl_result_file_count; i++) {
        const nl_result_file *row = &nl_result_files[i];
        /* no FNM_PERIOD: "*.tmp.*" is also a dot-file's temporary */
        if (fnmatch(row->glob, path_tail(path, row->glob), FNM_PATHNAME) == 0)
            return row;
    }
    return NULL;
}

nl_file_keep nl_result_file_keep(const nl_result_file *row)
{
    if (row->cls == NL_FILE_REBUILDABLE)
        return row->keep;
    return row->cls == NL_FILE_EVIDENCE ? NL_KEEP_ALWAYS : NL_KEEP_NEVER;
}

const char *nl_file_class_name(nl_file_class cls)
{
    return cls == NL_FILE_EVIDENCE ? "evidence" : cls == NL_FILE_REBUILDABLE ? "rebuildable" : "live state";
}

/* a line of results/.gitignore: a glob with a '/' is anchored at the
 * ignore file's directory in git's rules, the table's is relative to any
 * run or sweep directory */
static void ignore_line(nl_buf *b, const char *prefix, const char *glob)
{
    nl_buf_printf(b, "%s%s%s\n", prefix, strchr(glob, '/') ? "**/" : "", glob);
}

/* whether a later row that is not always kept matches row i's files (its
 * glob's last component taken as a name) */
static bool shadowed(int i)
{
    const char *slash = strrchr(nl_result_files[i].glob, '/');
    const char *name = slash ? slash + 1 : nl_result_files[i].glob;
    for (int j = i + 1; j < nl_result_file_count; j++) {
        const char *glob = nl_result_files[j].glob, *last = strrchr(glob, '/');
        if (nl_result_file_keep(&nl_result_files[j]) != NL_KEEP_ALWAYS && fnmatch(last ? last + 1 : glob, name, 0) == 0)
            return true;
    }
    return false;
}

char *nl_results_ignore_text(void)
{
    nl_buf b = {0};
    nl_buf_printf(&b, "# Generated from core/results/files.h's table (nl_results_ignore_text): edit the\n"
                      "# table, then NL_WRITE_IGNORE=1 ctest --test-dir build -R '^test_committed_sweeps$'\n"
                      "# rewrites this file; the test fails while the two differ.\n"
                      "# results/ holds evidence: live state is never committed, nor rebuildable files\n"
                      "# kept nowhere; a figure (with its plots/ data) is committed where a page links\n"
                      "# it (git add -f), and test_committed_sweeps fails on one no page links.\n");
    for (int i = 0; i < nl_result_file_count; i++)
        if (nl_result_file_keep(&nl_result_files[i]) != NL_KEEP_ALWAYS)
            ignore_line(&b, "", nl_result_files[i].glob);
    /* a kept row the table puts before a wider ignored one (plots/verdicts.gp
     * before *.gp): git's last matching line decides, so it is let in again */
    for (int i = 0; i < nl_result_file_count; i++)
        if (nl_result_file_keep(&nl_result_files[i]) == NL_KEEP_ALWAYS && shadowed(i))
            ignore_line(&b, "!", nl_result_files[i].glob);
    if (b.failed) {
        nl_buf_free(&b);
        return NULL;
    }
    return b.data;
}

bool nl_results_is_seed_key(const char *key)
{
    const size_t len = strlen(key);
    return !strcmp(key, "seed") || (len > 5 && !strcmp(key + len - 5, ".seed"));
}

static void load_config(nl_results *r)
{
    for (int i = 0; i < r->n_runs && !r->have_config; i++) {
        char path[1300], *text = NULL;
        nl_error err = {0};
        snprintf(path, sizeof path, "%s/" NL_RUN_CONFIG_FILE, r->runs[i].dir);
        if (nl_run_file_read(r->runs[i].dir, NL_RUN_CONFIG_FILE, &text, NULL, &err) != NL_OK)
            continue;
        if (nl_flat_from_yaml(text, path, &r->config, &err) == NL_OK)
            r->have_config = true;
        free(text);
    }
}

/* the run names (t's first column) become path components (SWEEP/runs/RUN,
 * an export's LOGDIR/RUN): each an identifier, no two equal but for case */
static nl_code check_run_names(const nl_csv_table *t, const char *path, nl_error *err)
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

nl_code nl_sweep_summary_read(const char *dir, nl_csv_table *t, int *status_col, nl_error *err)
{
    char path[1200];
    nl_path_join(path, sizeof path, dir, NL_SWEEP_SUMMARY_FILE);
    nl_code rc = nl_csv_table_read(path, t, err);
    if (rc)
        return rc;
    *status_col = nl_csv_table_col(t, NL_SWEEP_STATUS_COLUMN);
    if (nl_csv_table_col(t, NL_SWEEP_RUN_COLUMN) != 0 || *status_col < 1)
        rc = nl_fail(err, NL_ERR_DATA, "%s is not a normlab sweep summary (no run and status columns)", path);
    else
        rc = check_run_names(t, path, err);
    if (rc)
        nl_csv_table_free(t);
    return rc;
}

static nl_code load_sweep(const char *dir, nl_results *r, nl_error *err)
{
    char path[1200];
    nl_path_join(path, sizeof path, dir, NL_SWEEP_SUMMARY_FILE);
    nl_csv_table t;
    int status;
    nl_code rc = nl_sweep_summary_read(dir, &t, &status, err);
    if (rc)
        return rc;
    char problem[1600];
    if (nl_csv_table_problem(&t, path, problem, sizeof problem)[0])
        nl_results_warn(r, problem);
    r->sweep = true;
    r->n_keys = status - 1;
    r->keys = calloc((size_t)r->n_keys + 1, sizeof *r->keys);
    r->runs = calloc((size_t)t.n_rows + 1, sizeof *r->runs);
    if (!r->keys || !r->runs) {
        nl_csv_table_free(&t);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < r->n_keys; k++)
        nl_copy_string(r->keys[k], sizeof r->keys[k], t.header[k + 1]);
    int metric_col[NL_RESULTS_M_COUNT];
    for (int m = 0; m < NL_RESULTS_M_COUNT; m++)
        metric_col[m] = nl_csv_table_col(&t, nl_sweep_metric_names[m]);
    for (int i = 0; i < t.n_rows; i++) {
        nl_results_run *run = &r->runs[r->n_runs++];
        nl_copy_string(run->name, sizeof run->name, t.rows[i][0]);
        snprintf(run->dir, sizeof run->dir, "%s/" NL_SWEEP_RUNS_DIR "/%s", dir, run->name);
        if ((rc = nl_run_dir_check_files(run->dir, err))) {
            nl_csv_table_free(&t);
            return rc;
        }
        nl_copy_string(run->status, sizeof run->status, t.rows[i][status]);
        run->values = calloc((size_t)r->n_keys + 1, sizeof *run->values);
        if (!run->values) {
            nl_csv_table_free(&t);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        }
        for (int k = 0; k < r->n_keys; k++)
            run->values[k] = strdup(t.rows[i][k + 1]);
        for (int m = 0; m < NL_RESULTS_M_COUNT; m++)
            run->m[m] = metric_col[m] >= 0 ? nl_csv_num(t.rows[i][metric_col[m]]) : NAN;
    }
    nl_csv_table_free(&t);
    return NL_OK;
}

static nl_code load_single(const char *dir, nl_results *r, nl_error *err)
{
    r->runs = calloc(1, sizeof *r->runs);
    if (!r->runs)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = nl_run_dir_check_files(dir, err);
    if (rc)
        return rc;
    nl_results_run *run = &r->runs[0];
    r->n_runs = 1;
    const char *base = strrchr(dir, '/');
    nl_copy_string(run->name, sizeof run->name, base && base[1] ? base + 1 : dir);
    nl_copy_string(run->dir, sizeof run->dir, dir);
    nl_sweep_result res;
    nl_sweep_read_result(dir, &res);
    nl_copy_string(run->status, sizeof run->status, nl_sweep_state_name(res.state));
    nl_copy_string(run->reason, sizeof run->reason, res.reason);
    for (int m = 0; m < NL_RESULTS_M_COUNT; m++)
        run->m[m] = nl_csv_num(res.metrics[m]);
    return NL_OK;
}

nl_code nl_results_load(const char *dir, nl_results *r, nl_error *err)
{
    memset(r, 0, sizeof *r);
    nl_copy_string(r->dir, sizeof r->dir, dir);
    size_t len = strlen(r->dir);
    while (len > 1 && r->dir[len - 1] == '/')
        r->dir[--len] = '\0';
    char path[1200];
    nl_code rc;
    bool packed = false; /* a run inside a packed sweep (results/store.h) */
    if (!nl_is_dir(r->dir) && (rc = nl_run_pack_check(r->dir, &packed, err)))
        return rc;
    if (packed) {
        if ((rc = load_single(r->dir, r, err))) {
            nl_results_free(r);
            return rc;
        }
        r->seed_key = -1;
        load_config(r);
        return NL_OK;
    }
    if (!nl_is_dir(r->dir))
        return nl_fail(err, NL_ERR_USAGE, "%s is not a directory", r->dir);
    nl_path_join(path, sizeof path, r->dir, NL_SWEEP_SUMMARY_FILE);
    if (nl_path_exists(path)) {
        nl_store *pack;
        /* a pack that cannot be read is refused here, not read as runs
         * without results */
        rc = nl_store_present(r->dir) ? nl_store_open(r->dir, &pack, err) : NL_OK;
        if (!rc)
            rc = load_sweep(r->dir, r, err);
    } else {
        nl_path_join(path, sizeof path, r->dir, NL_RUN_METRICS_FILE);
        if (!nl_path_exists(path))
            return nl_fail(err, NL_ERR_USAGE, "%s is neither a sweep directory (summary.csv) nor a run "
                           "directory (metrics.csv)", r->dir);
        rc = load_single(r->dir, r, err);
    }
    if (rc) {
        nl_results_free(r);
        return rc;
    }
    r->seed_key = -1;
    for (int k = 0; k < r->n_keys; k++)
        if (nl_results_is_seed_key(r->keys[k]))
            r->seed_key = k;
    nl_results_name_formulas(r);
    load_config(r);
    return NL_OK;
}

void nl_results_warn(nl_results *r, const char *message)
{
    const size_t used = strlen(r->warnings);
    if (used + strlen(message) + 2 < sizeof r->warnings)
        snprintf(r->warnings + used, sizeof r->warnings - used, "%s\n", message);
    r->n_warnings++;
}

void nl_results_check_run_files_keep(nl_results *r, nl_csv_table *metrics)
{
    static const char *const files[] = {NL_RUN_METRICS_FILE, NL_RUN_TRACE_FILE, NL_RUN_SERIES_FILE};
    for (int i = 0; i < r->n_runs; i++)
        for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
            char path[1300], problem[1600];
            snprintf(path, sizeof path, "%s/%s", r->runs[i].dir, files[f]);
            nl_csv_table t = {0};
            nl_error ignored = {0};
            if (metrics && f == 0)
                memset(&metrics[i], 0, sizeof metrics[i]);
            if (!nl_run_file_exists(r->runs[i].dir, files[f]) ||
                nl_run_csv_read(r->runs[i].dir, files[f], &t, &ignored) != NL_OK)
                continue; /* a missing file is the plots' to report */
            if (nl_csv_table_problem(&t, path, problem, sizeof problem)[0])
                nl_results_warn(r, problem);
            if (metrics && f == 0)
                metrics[i] = t;
            else
                nl_csv_table_free(&t);
        }
}

void nl_results_check_run_files(nl_results *r) { nl_results_check_run_files_keep(r, NULL); }

void nl_results_free(nl_results *r)
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

int nl_results_key(const nl_results *r, const char *key)
{
    for (int k = 0; k < r->n_keys; k++)
        if (!strcmp(r->keys[k], key))
            return k;
    return -1;
}

int nl_results_distinct(const nl_results *r, int key, const char **out, int max)
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

bool nl_results_run_finished(const nl_results_run *run)
{
    return !strcmp(run->status, "ok") || !strcmp(run->status, "diverged");
}

const char *nl_results_value(const nl_results *r, const nl_results_run *run, const char *key)
{
    const int k = nl_results_key(r, key);
    if (k >= 0)
        return run->values[k];
    return nl_flat_get(&r->config, key);
}

bool nl_results_determined(const nl_results *r, int key, const int *others, int n_others)
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
static bool partial_key(const nl_results *r, int key)
{
    for (int i = 0; i < r->n_runs; i++)
        if (!r->runs[i].values[key][0])
            return true;
    return false;
}

int nl_results_group_keys(const nl_results *r, const int *fixed, int n_fixed, int *out)
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
        if (nl_results_determined(r, out[i], others, m)) {
            memmove(&out[i], &out[i + 1], (size_t)(n - i - 1) * sizeof *out);
            n--;
        }
    }
    return n;
}

/* the last components of `key` that no other varied key ends with:
 * "type", or "norm.type" and "schedule.type" when both vary */
static const char *short_key(const nl_results *r, const char *key)
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

/* the run's own config.yaml as keys (false where it cannot be read: the
 * shared values stand in) */
static bool run_own_config(const nl_results_run *run, nl_flat *own)
{
    char path[1300], *text = NULL;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/" NL_RUN_CONFIG_FILE, run->dir);
    const bool have = nl_run_file_read(run->dir, NL_RUN_CONFIG_FILE, &text, NULL, &err) == NL_OK &&
                      nl_flat_from_yaml(text, path, own, &err) == NL_OK;
    free(text);
    return have;
}

/* A normalizer whose row is a point given by keys (custom) is named by
 * them too: "custom reduce=[batch, spatial], center=false, scale=rms", the
 * axes keys (those the schema rules on for NL_NORM_KEY_AXES) that the
 * legend does not show already, from the run's own config.yaml (the
 * shared one is the first run's, which may be another kind's) */
static size_t norm_axes_label(const nl_results *r, const nl_results_run *run, const int *keys, int n,
                              const char *type, char *buf, size_t size)
{
    const int kind = nl_name_lookup(&nl_norm_names, type);
    if (kind < 0 || !(nl_norm_info_of((nl_norm_kind)kind)->keys & NL_NORM_KEY_AXES))
        return 0;
    nl_flat own = {0};
    const bool have = run_own_config(run, &own);
    size_t used = 0;
    for (int d = 0; d < nl_config_schema_count && used < size; d++) {
        const nl_key_def *def = &nl_config_schema[d];
        if (!def->when_key || strcmp(def->when_key, "model.norm.type") ||
            !(def->when_norm_keys & NL_NORM_KEY_AXES))
            continue;
        bool shown = false;
        for (int i = 0; i < n && !shown; i++)
            shown = !strcmp(r->keys[keys[i]], def->key);
        const char *value = have ? nl_flat_get(&own, def->key) : nl_results_value(r, run, def->key);
        if (shown || !value || !value[0])
            continue;
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", used ? ", " : " ",
                                 def->key + strlen("model.norm."), value);
    }
    if (have)
        nl_flat_free(&own);
    return used < size ? used : size - 1;
}

bool nl_results_norm_formula_name(const nl_results *r, const nl_results_run *run, const char *type, char *buf,
                                  size_t size)
{
    if (!nl_norm_type_is_formula(type))
        return false;
    nl_flat own = {0};
    if (run_own_config(run, &own)) {
        nl_norm_label_of(&own, buf, size);
        nl_flat_free(&own);
    } else {
        nl_norm_label(type, nl_results_value(r, run, "model.norm.name"), nl_results_value(r, run, "model.norm.expr"),
                      buf, size);
    }
    return true;
}

void nl_results_label(const nl_results *r, const nl_results_run *run, const int *keys, int n, char *buf, size_t size)
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
        if (nl_results_formula_text_key(key)) { /* the formula's name, once (formula_names.c) */
            bool shown = false;
            for (int j = 0; j < n; j++)
                shown |= j != i && (!strcmp(r->keys[keys[j]], "model.norm.type") ||
                                    (j < i && nl_results_formula_text_key(r->keys[keys[j]]))) &&
                         !strcmp(run->values[keys[j]], run->values[keys[i]]);
            if (!shown)
                used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", run->values[keys[i]]);
        } else if (!strcmp(key, "model.norm.type") || !strcmp(key, NL_RESULTS_DIRECTORY_KEY)) {
            char formula[64];
            const bool named = !strcmp(key, "model.norm.type") &&
                               nl_results_norm_formula_name(r, run, run->values[keys[i]], formula, sizeof formula);
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                     named ? formula : run->values[keys[i]]);
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

int nl_results_groups(const nl_results *r, const int *keys, int n, int *group_of, char (*labels)[256], int max)
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
            nl_results_label(r, &r->runs[i], keys, n, labels[count], 256);
            group_of[i] = count++;
        }
    }
    free(first);
    return count;
}

/* ---- filters ---- */

/* "0, 0.2, 0.5": the distinct values of `key` among the runs marked kept */
static void values_among(const nl_results *r, const char *key, const bool *kept, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n_runs && used < size; i++) {
        const char *v = nl_results_value(r, &r->runs[i], key);
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = kept[j] && !strcmp(nl_results_value(r, &r->runs[j], key), v);
        if (kept[i] && !seen)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", v[0] ? v : "(none)");
    }
}

/* the copy of run `from` into `to`, its values its own */
static bool copy_run(const nl_results *r, const nl_results_run *from, nl_results_run *to)
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
static char **config_values(const nl_results *r, const char *key)
{
    char **v = calloc((size_t)r->n_runs + 1, sizeof *v);
    for (int i = 0; v && i < r->n_runs; i++) {
        char path[1300], *text = NULL;
        nl_error ignored = {0};
        nl_flat flat = {0};
        snprintf(path, sizeof path, "%s/" NL_RUN_CONFIG_FILE, r->runs[i].dir);
        if (nl_run_file_read(r->runs[i].dir, NL_RUN_CONFIG_FILE, &text, NULL, &ignored) == NL_OK &&
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
static nl_code keep_matching(const nl_results *all, const char *key, const char *want, bool *kept, int w,
                             const char *where_text, nl_error *err)
{
    /* a varied key is summary.csv's column; any other, each run's config.yaml,
     * as is a formula's text, whose column holds the formula's name */
    const bool column = nl_results_key(all, key) >= 0 && !nl_results_formula_text_key(key);
    char **own = !column ? config_values(all, key) : NULL;
    bool anyone = column;
    for (int i = 0; own && i < all->n_runs; i++)
        anyone |= own[i] != NULL;
    if (!column && !own)
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
        const char *v = own ? own[i] : nl_results_value(all, &all->runs[i], key);
        /* a formula's name is also its kind's: model.norm.type=expr keeps every formula */
        kept[i] = kept[i] && v &&
                  (nl_values_equal(v, want) || (!strcmp(key, "model.norm.type") && nl_norm_type_is_formula(want) &&
                                                nl_norm_label_is_formula(v)));
        n_kept += kept[i];
    }
    free_values(own, all->n_runs);
    if (n_kept == 0)
        return nl_fail(err, NL_ERR_USAGE, "where: %s=%s leaves no run of %s%s%s; %s has the values %s%s", key, want,
                       all->dir, w ? " with " : "", w ? where_text : "", key, before, w ? " there" : "");
    return NL_OK;
}

nl_code nl_results_where(const nl_results *all, const nl_results_filter *where, nl_results *out,
                         nl_error *err)
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
        nl_results_free(out);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    /* the subtitle reads the fixed settings from a kept run's config */
    load_config(out);
    if (!out->have_config && all->have_config) {
        for (int i = 0; i < all->config.n; i++)
            if (nl_flat_set(&out->config, all->config.items[i].key, all->config.items[i].value, err) != NL_OK) {
                nl_results_free(out);
                return err->code;
            }
        out->have_config = true;
    }
    return NL_OK;
}
