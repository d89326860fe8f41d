/* A results directory's runs as TensorBoard event files (export.h). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tensorboard/export.h"
#include "config/schema.h"
#include "results/files.h"
#include "results/metrics.h"
#include "results/results.h"
#include "results/run_result.h"
#include "results/store.h"
#include "results/summary.h"
#include "tensorboard/scalars.h"

/* "2026-11-21T14:17:10Z" in seconds since the epoch; NaN when not one */
static double iso_seconds(const char *text)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char z = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &z) != 7 || z != 'Z')
        return NAN;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm);
}

/* ---- a sweep's hyperparameters ---- */

#define MAX_HPARAMS 64
#define MAX_METRIC_TAGS 64

typedef struct {
    nl_tb_hparam hp[MAX_HPARAMS];
    int key[MAX_HPARAMS]; /* the varied key of each */
    const char **values[MAX_HPARAMS];
    int n;
    char metric_tags[MAX_METRIC_TAGS][64];
    const char *metric_ptrs[MAX_METRIC_TAGS];
    int n_metrics;
    /* the experiment goes into the first run's file written: TensorBoard
     * finds it in any run, and a file at the logdir's root would be a run
     * of its own, named "." */
    bool experiment_written;
    const nl_tb_about *about; /* the experiment's name and description: the caller's */
} sweep_hparams;

/* a key's type: numbers, booleans, or text, by every value it takes */
static nl_tb_hp_type type_of(const char *const *values, int n)
{
    bool numbers = true, bools = true;
    for (int i = 0; i < n; i++) {
        char *end;
        strtod(values[i], &end);
        numbers &= values[i][0] && !*end;
        bools &= !strcmp(values[i], "true") || !strcmp(values[i], "false");
    }
    return bools ? NL_TB_HP_BOOL : numbers ? NL_TB_HP_FLOAT64 : NL_TB_HP_STRING;
}

/* the varied keys but the seed, with their values where set */
static nl_code hparams_of(const nl_results *r, sweep_hparams *h, nl_error *err)
{
    for (int k = 0; k < r->n_keys && h->n < MAX_HPARAMS; k++) {
        if (k == r->seed_key || nl_results_is_seed_key(r->keys[k]))
            continue;
        const char **values = calloc((size_t)r->n_runs + 1, sizeof *values);
        if (!values)
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        int n = nl_results_distinct(r, k, values, r->n_runs), set = 0;
        for (int i = 0; i < n; i++)
            if (values[i][0])
                values[set++] = values[i];
        h->values[h->n] = values;
        h->key[h->n] = k;
        /* the key table's line on the key: the dashboard shows it over the
         * column, so a reader need not look the key up */
        const nl_key_def *def = nl_schema_find(r->keys[k]);
        h->hp[h->n] = (nl_tb_hparam){r->keys[k], type_of(values, set), values, set, def ? def->doc : NULL};
        h->n++;
    }
    return NL_OK;
}

static void free_hparams(sweep_hparams *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->values[i]);
}

/* the metrics.csv tags of a run, added to the experiment's metrics */
static void add_metric_tags(const char *run_dir, sweep_hparams *h)
{
    char path[1300];
    nl_path_join(path, sizeof path, run_dir, NL_RUN_METRICS_FILE);
    nl_csv_table t;
    nl_error ignored = {0};
    if (!nl_run_file_exists(run_dir, NL_RUN_METRICS_FILE) ||
        nl_run_csv_read(run_dir, NL_RUN_METRICS_FILE, &t, &ignored) != NL_OK)
        return;
    const int split = nl_metrics_col(&t, NL_METRICS_SPLIT);
    for (int r = 0; r < t.n_rows && split >= 0; r++)
        for (int c = 0; c < t.n_cols; c++) {
            char tag[64];
            if (!t.rows[r][c][0] || !nl_tb_metric_tag(t.rows[r][split], t.header[c], tag, sizeof tag))
                continue;
            int j = 0;
            while (j < h->n_metrics && strcmp(h->metric_tags[j], tag))
                j++;
            if (j == h->n_metrics && j < MAX_METRIC_TAGS) {
                nl_copy_string(h->metric_tags[j], sizeof h->metric_tags[j], tag);
                h->metric_ptrs[j] = h->metric_tags[j];
                h->n_metrics++;
            }
        }
    nl_csv_table_free(&t);
}

/* ---- writing ---- */

/* every event file staged in one output set, placed when all are built:
 * a failure part-way leaves the logdir as it was */
typedef struct {
    const char *logdir;
    nl_outset *set;
} target;

static nl_code write_events(const target *t, const char *run, const nl_tb_bytes *b, nl_error *err)
{
    char dir[1200], path[1400];
    nl_path_join(dir, sizeof dir, t->logdir, run);
    struct stat st;
    /* a link there (left in a logdir replaced with --force) would take the
     * events outside --out */
    if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return nl_fail(err, NL_ERR_USAGE, "%s is %s, not a directory: normlab writes only inside --out", dir,
                       S_ISLNK(st.st_mode) ? "a symbolic link" : nl_file_kind(st.st_mode));
    nl_path_join(path, sizeof path, dir, NL_TB_RUN_FILE);
    if (b->failed)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory building %s", path);
    return nl_outset_add(t->set, path, b->data, b->len, err);
}

static nl_tb_status status_of(nl_sweep_state s)
{
    return s == NL_SWEEP_OK ? NL_TB_SUCCESS : s == NL_SWEEP_PENDING ? NL_TB_RUNNING : NL_TB_FAILURE;
}

/* a sweep run's HParams events: the experiment once (in the first run
 * written), then the run's session */
static void add_session(const nl_results *r, const nl_results_run *run, const nl_sweep_result *res,
                        sweep_hparams *h, nl_tb_bytes *b)
{
    if (!h->experiment_written) {
        nl_tb_experiment_event(b, (double)time(NULL), h->about, h->hp, h->n, h->metric_ptrs, h->n_metrics);
        h->experiment_written = true;
    }
    const char *values[MAX_HPARAMS];
    for (int k = 0; k < h->n; k++)
        values[k] = run->values[h->key[k]];
    char group[512];
    nl_results_label(r, run, h->key, h->n, group, sizeof group);
    const double start = iso_seconds(res->started_at);
    const double begun = isfinite(start) ? start : 0.0;
    nl_tb_session_start_event(b, begun, h->hp, values, h->n, group, begun);
    if (res->state != NL_SWEEP_PENDING) {
        const double end = begun + (isfinite(res->wall_s) ? res->wall_s : 0.0);
        nl_tb_session_end_event(b, end, status_of(res->state), end);
    }
}

/* one run: its scalars, and in a sweep its session */
static nl_code export_run(const nl_results *r, int i, sweep_hparams *h, const target *t,
                          nl_tb_export_report *rep, nl_error *err)
{
    const nl_results_run *run = &r->runs[i];
    nl_sweep_result res;
    nl_sweep_read_result(run->dir, &res);
    char metrics[1300];
    nl_path_join(metrics, sizeof metrics, run->dir, NL_RUN_METRICS_FILE);
    if (!nl_run_file_exists(run->dir, NL_RUN_METRICS_FILE)) {
        nl_buf_printf(&rep->notes, "%s: no metrics.csv (not started): left out\n", run->dir);
        return NL_OK;
    }
    rep->n_pending += res.state == NL_SWEEP_PENDING;
    nl_tb_bytes b = {0};
    long n = 0;
    nl_code rc = nl_tb_run_events(run->dir, iso_seconds(res.started_at), &b, &n, &rep->notes, err);
    if (rc == NL_OK && r->sweep)
        add_session(r, run, &res, h, &b);
    if (rc == NL_OK)
        rc = write_events(t, run->name, &b, err);
    nl_tb_bytes_free(&b);
    rep->n_runs += rc == NL_OK;
    rep->n_scalars += n;
    return rc;
}

/* the experiment's file at the logdir's root that normlab wrote before
 * (TensorBoard lists it as a run named "."): replaced by nothing when an
 * export is forced over that logdir */
static void remove_old_root_events(const char *logdir)
{
    char path[1300];
    nl_path_join(path, sizeof path, logdir, NL_TB_RUN_FILE);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        unlink(path);
}

/* an existing logdir with anything in it is refused without force */
static nl_code check_logdir(const char *logdir, bool force, nl_error *err)
{
    if (!nl_path_exists(logdir))
        return NL_OK;
    if (!nl_is_dir(logdir))
        return nl_fail(err, NL_ERR_USAGE, "--out %s exists and is not a directory", logdir);
    DIR *d = opendir(logdir);
    bool empty = true;
    for (struct dirent *e; d && empty && (e = readdir(d));)
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    if (!empty && !force)
        return nl_fail(err, NL_ERR_USAGE, "%s exists and is not empty; give --force to replace the event files "
                       "there, or a new --out LOGDIR", logdir);
    return NL_OK;
}

static nl_code export_sweep(const nl_results *r, const nl_tb_about *about, const target *t, nl_tb_export_report *rep,
                            nl_error *err)
{
    sweep_hparams h;
    memset(&h, 0, sizeof h);
    h.about = about;
    nl_code rc = r->sweep ? hparams_of(r, &h, err) : NL_OK;
    for (int i = 0; i < r->n_runs && rc == NL_OK && r->sweep; i++)
        add_metric_tags(r->runs[i].dir, &h);
    for (int i = 0; i < r->n_runs && rc == NL_OK; i++)
        rc = export_run(r, i, &h, t, rep, err);
    free_hparams(&h);
    return rc;
}

nl_code nl_tb_export(const char *dir, const char *logdir, bool force, const nl_tb_about *about,
                     nl_tb_export_report *rep, nl_error *err)
{
    memset(rep, 0, sizeof *rep);
    nl_results r;
    nl_code rc = nl_results_load(dir, &r, err);
    if (rc)
        return rc;
    if (r.n_runs == 0)
        rc = nl_fail(err, NL_ERR_USAGE, "nothing to export in %s: its summary.csv lists no runs", r.dir);
    if (rc == NL_OK)
        rc = check_logdir(logdir, force, err);
    const target t = {logdir, nl_outset_begin(force, "give --force to replace the event files there, or a new "
                                                     "--out LOGDIR")};
    if (rc == NL_OK && !t.set)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (rc == NL_OK)
        rc = export_sweep(&r, about, &t, rep, err);
    if (rc == NL_OK)
        rc = nl_outset_commit(t.set, NULL, err);
    nl_outset_end(t.set);
    if (rc == NL_OK && force)
        remove_old_root_events(logdir);
    if (rc == NL_OK && rep->n_pending)
        nl_buf_printf(&rep->notes, "%s: %d of %d runs are unfinished (their summary.json says so): exported as "
                      "far as their files go, session status RUNNING\n", r.dir, rep->n_pending, r.n_runs);
    nl_results_free(&r);
    return rc;
}
