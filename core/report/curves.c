/* The explorable curves: every run's metrics.csv embedded in the page as
 * one JSON block per section, which report.js draws (hover, smoothing,
 * zoom, log scale, parallel coordinates, the filters). A long curve is
 * sampled down as TensorBoard samples its scalars, to keep a sweep of
 * hundreds of runs in a page that a mail can carry. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/internal.h"
#include "results/files.h"
#include "results/metrics.h"
#include "results/store.h"
#include "stats/stats.h"
#include "tensorboard/scalars.h"

/* the numbers (steps, values and the wall times a curve may be drawn
 * over, 4 digits) the page embeds at most, over all curves: about 6 bytes
 * each, less the steps a curve shares with one before it (written once)
 * and the epochs (a number per curve): wu-he-batch-mlp-confirm2's 588 runs
 * keep 36 points a curve (53 without their wall times) in a page of 1.52
 * MB; 600 copies of wu-he-batch-mlp's runs 1.77 MB, under the 2 MB of a
 * page a mail carries */
#define CURVE_BUDGET 100000
#define CURVE_MAX_POINTS 1000 /* TensorBoard's default for a scalar */
#define MAX_TAGS 64
#define MAX_SPLITS 16
#define MAX_AXES 8

typedef struct {
    const nl_csv_table *t; /* the source's (rp_source.metrics), else own */
    nl_csv_table own;
    bool have;
    int step, split; /* columns; -1 absent */
} run_curves;

typedef struct {
    run_curves *runs;
    int n_runs;
    char tags[MAX_TAGS][96];
    int n_tags;
    char splits[MAX_SPLITS][32];
    int n_splits;
    char axes[MAX_AXES][96]; /* the columns a curve may be read over besides its step */
    int n_axes;
    int kept; /* points per curve at most */
    int longest;
} curves;

static int find_or_add(char (*names)[96], int *n, int max, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], name))
            return i;
    if (*n == max)
        return -1;
    nl_copy_string(names[*n], 96, name);
    return (*n)++;
}

static int split_index(curves *c, const char *split)
{
    for (int i = 0; i < c->n_splits; i++)
        if (!strcmp(c->splits[i], split))
            return i;
    if (c->n_splits == MAX_SPLITS)
        return -1;
    nl_copy_string(c->splits[c->n_splits], sizeof c->splits[0], split);
    return c->n_splits++;
}

/* the rows of run r in split sp, in file order, into rows; their count */
static int split_rows(const run_curves *r, const char *split, int *rows)
{
    int n = 0;
    for (int i = 0; i < r->t->n_rows; i++)
        if (!strcmp(r->t->rows[i][r->split], split) && isfinite(nl_csv_num(r->t->rows[i][r->step])))
            rows[n++] = i;
    return n;
}

/* the tags of run r's rows of one split: the column indexes and tag ids */
static int split_tags(curves *c, const run_curves *r, const char *split, int *cols, int *tag_ids)
{
    int n = 0;
    for (int col = 0; col < r->t->n_cols; col++) {
        char tag[160];
        if (!nl_tb_metric_tag(split, r->t->header[col], tag, sizeof tag))
            continue;
        const int id = find_or_add(c->tags, &c->n_tags, MAX_TAGS, tag);
        if (id >= 0) {
            cols[n] = col;
            tag_ids[n++] = id;
        }
    }
    return n;
}

/* the value per step of column col over run r's rows when it is the step
 * times one number (an epoch: the step over the steps an epoch takes), to
 * the 4 decimals metrics.csv writes; NAN otherwise (the wall time) */
static double per_step(const run_curves *r, int col, const int *rows, int n)
{
    const double last_step = nl_csv_num(r->t->rows[rows[n - 1]][r->step]);
    if (!(last_step > 0))
        return NAN;
    const double ratio = nl_csv_num(r->t->rows[rows[n - 1]][col]) / last_step;
    for (int j = 0; j < n; j++) {
        const double v = nl_csv_num(r->t->rows[rows[j]][col]);
        if (!(fabs(v - nl_csv_num(r->t->rows[rows[j]][r->step]) * ratio) <= 1e-4 + 1e-6 * fabs(v)))
            return NAN;
    }
    return ratio;
}

/* whether every one of run r's rows (n) holds step / per in column col,
 * to the 4 decimals metrics.csv writes */
static bool steps_over(const run_curves *r, int col, const int *rows, int n, double per)
{
    for (int j = 0; j < n; j++) {
        const double v = nl_csv_num(r->t->rows[rows[j]][col]);
        if (!(fabs(v - nl_csv_num(r->t->rows[rows[j]][r->step]) / per) <= 0.5e-4 + 1e-9 * fabs(v)))
            return false;
    }
    return true;
}

/* The whole number of steps per unit of column col when its values are
 * the step over one (an epoch: the step over the batches an epoch takes,
 * step x batch / training-set size where the batch divides it), the one
 * the rows' 4 decimals allow and no neighbour does; 0 otherwise. The page
 * divides the step by it, so runs that end at one epoch end at the same x
 * (issue 118: the ratio from the last row's 4 decimals, times the step,
 * put runs of other batch sizes at 2.99999 and 3.00002 epochs) */
static long steps_per_unit(const run_curves *r, int col, const int *rows, int n)
{
    const double last = nl_csv_num(r->t->rows[rows[n - 1]][col]);
    const double steps = nl_csv_num(r->t->rows[rows[n - 1]][r->step]);
    if (!(last > 0) || !(steps > 0) || !(steps / last < 1e9))
        return 0;
    const long per = lround(steps / last);
    if (per < 1 || !steps_over(r, col, rows, n, (double)per))
        return 0;
    if (steps_over(r, col, rows, n, (double)(per + 1)) || (per > 1 && steps_over(r, col, rows, n, (double)(per - 1))))
        return 0; /* the decimals do not pin it */
    return per;
}

/* the columns of run r's rows (n of them) that a curve may be drawn over
 * instead of its step: no tag of the split, and rising over the rows
 * (never falling, the last above the first: an epoch, the wall time; a
 * constant learning rate is no axis); their column indexes and axis ids,
 * and how many of them are no multiple of the step (written in full) */
static int split_axes(curves *c, const run_curves *r, const char *split, const int *rows, int n, int *cols,
                      int *axis_ids, int *in_full)
{
    *in_full = 0;
    int found = 0;
    char tag[160];
    for (int col = 0; n > 1 && col < r->t->n_cols; col++) {
        if (col == r->step || col == r->split || nl_tb_metric_tag(split, r->t->header[col], tag, sizeof tag))
            continue;
        double prev = nl_csv_num(r->t->rows[rows[0]][col]);
        bool rising = isfinite(prev);
        for (int j = 1; rising && j < n; j++) {
            const double v = nl_csv_num(r->t->rows[rows[j]][col]);
            rising = isfinite(v) && v >= prev;
            prev = v;
        }
        if (!rising || !(prev > nl_csv_num(r->t->rows[rows[0]][col])))
            continue;
        const int id = find_or_add(c->axes, &c->n_axes, MAX_AXES, r->t->header[col]);
        if (id >= 0) {
            cols[found] = col;
            axis_ids[found++] = id;
            *in_full += !isfinite(per_step(r, col, rows, n));
        }
    }
    return found;
}

/* the runs one explorer shows: one directory's, or (normlab report A B)
 * those of every directory given, each keyed by its directory (the key
 * "sweep" first, valued by the directory's name) and named by it and its
 * own name, so that two sweeps' runs of one name stay apart */
typedef struct {
    rp_source *src;
    int n_src;
    bool together;
    int n_runs;
    int *src_of, *run_of; /* a run's directory, and its index there */
    const char *keys[256];
    int n_keys;
    int (*key_at)[256]; /* per directory: its index of keys[k]; -1 where it has none */
    char (*labels)[176]; /* per directory: the value of its key "sweep" */
} view;

#define SWEEP_KEY "sweep"

static void view_free(view *v)
{
    free(v->src_of);
    free(v->run_of);
    free(v->key_at);
    free(v->labels);
}

static nl_code view_init(view *v, rp_source *src, int n_src, bool together, nl_error *err)
{
    memset(v, 0, sizeof *v);
    if (n_src < 1 || n_src > NL_REPORT_MAX_DIRS)
        return nl_fail(err, NL_ERR_USAGE, "give 1 to %d directories (got %d)", NL_REPORT_MAX_DIRS, n_src);
    v->src = src;
    v->n_src = n_src;
    v->together = together;
    for (int i = 0; i < n_src; i++)
        v->n_runs += src[i].res.n_runs;
    v->src_of = malloc(((size_t)v->n_runs + 1) * sizeof *v->src_of);
    v->run_of = malloc(((size_t)v->n_runs + 1) * sizeof *v->run_of);
    v->key_at = malloc((size_t)n_src * sizeof *v->key_at);
    v->labels = calloc((size_t)n_src, sizeof *v->labels);
    if (!v->src_of || !v->run_of || !v->key_at || !v->labels) {
        view_free(v);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading the curves");
    }
    for (int i = 0, at = 0; i < n_src; i++)
        for (int r = 0; r < src[i].res.n_runs; r++, at++) {
            v->src_of[at] = i;
            v->run_of[at] = r;
        }
    if (together)
        v->keys[v->n_keys++] = SWEEP_KEY;
    /* every directory's keys, in the order they first come */
    for (int i = 0; i < n_src; i++)
        for (int k = 0; k < src[i].res.n_keys; k++) {
            int u = 0;
            while (u < v->n_keys && strcmp(v->keys[u], src[i].res.keys[k]))
                u++;
            if (u == v->n_keys && v->n_keys < 256)
                v->keys[v->n_keys++] = src[i].res.keys[k];
        }
    for (int i = 0; i < n_src; i++) {
        for (int u = 0; u < v->n_keys; u++) {
            v->key_at[i][u] = -1;
            for (int k = 0; k < src[i].res.n_keys && v->key_at[i][u] < 0; k++)
                if (!strcmp(v->keys[u], src[i].res.keys[k]) && !(together && u == 0))
                    v->key_at[i][u] = k;
        }
        /* two directories of one name (a sweep and its copy) told apart by their place */
        int same = 0;
        for (int j = 0; j < i; j++)
            same += !strcmp(src[j].name, src[i].name);
        if (same)
            snprintf(v->labels[i], sizeof v->labels[i], "%s (%d)", src[i].name, i + 1);
        else
            nl_copy_string(v->labels[i], sizeof v->labels[i], src[i].name);
    }
    return NL_OK;
}

static const rp_run *view_run(const view *v, int run) { return &v->src[v->src_of[run]].runs[v->run_of[run]]; }

/* run's value of key k: its directory's name for the key "sweep"; where
 * its directory does not vary the key, the value its config.yaml gives
 * ("" where it gives none: not set) */
static const char *view_value(const view *v, int run, int k)
{
    const int i = v->src_of[run];
    if (v->together && k == 0)
        return v->labels[i];
    const int at = v->key_at[i][k];
    if (at >= 0)
        return v->src[i].res.runs[v->run_of[run]].values[at];
    const rp_run *r = view_run(v, run);
    const char *set = r->have_config ? nl_flat_get(&r->config, v->keys[k]) : NULL;
    return set ? set : "";
}

/* every run's metrics.csv read; the tags and splits they hold */
static nl_code read_all(const view *v, curves *c, nl_error *err)
{
    c->n_runs = v->n_runs;
    c->runs = calloc((size_t)c->n_runs + 1, sizeof *c->runs);
    if (!c->runs)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading the curves");
    for (int i = 0; i < c->n_runs; i++) {
        run_curves *r = &c->runs[i];
        nl_error ignored = {0}; /* a run without metrics.csv has no curves: the runs table says why */
        const nl_results_run *run = &v->src[v->src_of[i]].res.runs[v->run_of[i]];
        /* the table the source read (its checks'), else read here */
        r->t = run->held && run->held->metrics ? run->held->metrics : &r->own;
        r->have = r->t != &r->own || (nl_run_file_exists(run->dir, NL_RUN_METRICS_FILE) &&
                                      nl_run_csv_read(run->dir, NL_RUN_METRICS_FILE, &r->own, &ignored) == NL_OK);
        r->step = r->have ? nl_metrics_col(r->t, NL_METRICS_STEP) : -1;
        r->split = r->have ? nl_metrics_col(r->t, NL_METRICS_SPLIT) : -1;
        r->have = r->have && r->step >= 0 && r->split >= 0;
        for (int row = 0; r->have && row < r->t->n_rows; row++)
            split_index(c, r->t->rows[row][r->split]);
        if (r->t->n_rows > c->longest)
            c->longest = r->t->n_rows;
    }
    return NL_OK;
}

/* the numbers the page holds when each curve keeps at most k points */
static long numbers_at(curves *c, int k, int *rows)
{
    long total = 0;
    int cols[MAX_TAGS], ids[MAX_TAGS];
    for (int i = 0; i < c->n_runs; i++)
        for (int sp = 0; c->runs[i].have && sp < c->n_splits; sp++) {
            const int n = split_rows(&c->runs[i], c->splits[sp], rows);
            const int n_tags = split_tags(c, &c->runs[i], c->splits[sp], cols, ids);
            int in_full = 0;
            split_axes(c, &c->runs[i], c->splits[sp], rows, n, cols, ids, &in_full);
            total += (long)(n < k ? n : k) * (1 + n_tags + in_full);
        }
    return total;
}

/* the most points per curve that keep the page within its budget */
static void choose_kept(curves *c, int *rows)
{
    int lo = 2, hi = CURVE_MAX_POINTS;
    if (numbers_at(c, hi, rows) <= CURVE_BUDGET) {
        c->kept = hi;
        return;
    }
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (numbers_at(c, mid, rows) <= CURVE_BUDGET)
            lo = mid;
        else
            hi = mid - 1;
    }
    c->kept = lo;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* TensorBoard's reservoir (its event_processing/reservoir.py): a uniform
 * sample of k of the n items, in their order, the latest always kept. Its
 * generator starts the same for every curve: the same page twice. */
static int reservoir(int *items, int n, int k)
{
    if (n <= k)
        return n;
    uint64_t state = 0;
    for (int seen = k; seen < n; seen++) {
        const int r = (int)(splitmix64(&state) % (uint64_t)(seen + 1));
        if (r < k) {
            memmove(items + r, items + r + 1, (size_t)(k - 1 - r) * sizeof *items);
        }
        items[k - 1] = items[seen];
    }
    return k;
}

/* a number in the page's unit (rp_metric_unit: percent for accuracies and
 * errors, which the files hold as fractions) */
static void json_number(nl_buf *b, const char *text, double scale)
{
    const double v = nl_csv_num(text);
    if (isfinite(v))
        nl_buf_printf(b, "%.4g", v * scale);
    else
        nl_buf_printf(b, "null");
}

/* the steps of the last curve written of each split, and its place */
typedef struct {
    nl_buf steps[MAX_SPLITS];
    int at[MAX_SPLITS];
    int written;
} last_steps;

/* [run, [steps], [[tag, [values]], ...]] of run i's split sp; [steps] is a
 * number d when they are those of the curve d places before, the last of
 * its split (a sweep's runs log the same steps, and the reservoir samples
 * the same of them) */
static void curve_json(nl_buf *b, curves *c, int i, int sp, int *rows, bool *first, last_steps *last)
{
    const run_curves *r = &c->runs[i];
    int cols[MAX_TAGS], ids[MAX_TAGS];
    const int n = reservoir(rows, split_rows(r, c->splits[sp], rows), c->kept);
    const int n_tags = split_tags(c, r, c->splits[sp], cols, ids);
    if (n == 0 || n_tags == 0)
        return;
    nl_buf steps = {0};
    for (int j = 0; j < n; j++)
        nl_buf_printf(&steps, "%s%.0f", j ? "," : "", nl_csv_num(r->t->rows[rows[j]][r->step]));
    if (steps.failed)
        b->failed = true;
    nl_buf *prev = &last->steps[sp];
    if (steps.data && prev->data && !strcmp(steps.data, prev->data)) {
        nl_buf_printf(b, "%s\n[%d,%d,[", *first ? "" : ",", i, last->written - last->at[sp]);
        nl_buf_free(&steps);
    } else {
        nl_buf_printf(b, "%s\n[%d,[%s],[", *first ? "" : ",", i, steps.data ? steps.data : "");
        nl_buf_free(prev);
        *prev = steps;
    }
    last->at[sp] = last->written++;
    *first = false;
    for (int t = 0; t < n_tags; t++) {
        nl_buf_printf(b, "%s[%d,[", t ? "," : "", ids[t]);
        const double scale = rp_metric_unit(r->t->header[cols[t]]).scale;
        for (int j = 0; j < n; j++) {
            nl_buf_printf(b, "%s", j ? "," : "");
            json_number(b, r->t->rows[rows[j]][cols[t]], scale);
        }
        nl_buf_printf(b, "]]");
    }
    /* then the axes it may be drawn over: [[axis, [values]], ...], or
     * [axis, value per step] where each value is the step times one number,
     * [axis, value per step, steps per unit] where it is the step over a
     * whole number (steps_per_unit) */
    int in_full = 0;
    const int n_axes = split_axes(c, r, c->splits[sp], rows, n, cols, ids, &in_full);
    nl_buf_printf(b, "],[");
    for (int a = 0; a < n_axes; a++) {
        const double ratio = per_step(r, cols[a], rows, n);
        const long per = isfinite(ratio) ? steps_per_unit(r, cols[a], rows, n) : 0;
        if (per > 0) { /* [axis, the ratio, the steps per unit the page divides by] */
            nl_buf_printf(b, "%s[%d,%.9g,%ld]", a ? "," : "", ids[a], ratio, per);
            continue;
        }
        if (isfinite(ratio)) {
            nl_buf_printf(b, "%s[%d,%.9g]", a ? "," : "", ids[a], ratio);
            continue;
        }
        nl_buf_printf(b, "%s[%d,[", a ? "," : "", ids[a]);
        for (int j = 0; j < n; j++) {
            nl_buf_printf(b, "%s", j ? "," : "");
            json_number(b, r->t->rows[rows[j]][cols[a]], 1);
        }
        nl_buf_printf(b, "]]");
    }
    nl_buf_printf(b, "]]");
}

static void string_array(nl_buf *b, const char *name, const char *const *items, int n)
{
    nl_buf_printf(b, "\"%s\":[", name);
    for (int i = 0; i < n; i++) {
        nl_buf_printf(b, "%s", i ? "," : "");
        nl_buf_json_string(b, items[i]);
    }
    nl_buf_printf(b, "],\n");
}

/* "l": the values of run's keys that read otherwise than the value the
 * filters match (a formula normalizer's model.norm.type "expr" reads as
 * its name, as the figures' labels name it), {"key index": "text"} */
static void shown_json(nl_buf *b, const view *v, int run)
{
    const rp_source *s = &v->src[v->src_of[run]];
    const nl_results_run *pr = &s->res.runs[v->run_of[run]];
    bool any = false;
    for (int k = 0; k < v->n_keys; k++) {
        char name[160];
        if (strcmp(v->keys[k], "model.norm.type") ||
            !nl_results_norm_formula_name(&s->res, pr, view_value(v, run, k), name, sizeof name))
            continue;
        nl_buf_printf(b, "%s\"%d\":", any ? "," : "\"l\":{", k);
        nl_buf_json_string(b, name);
        any = true;
    }
    if (any)
        nl_buf_printf(b, "},");
}

/* "runs": name, key values, status and summary metrics of each run */
static void runs_json(nl_buf *b, const view *v, const int *metrics, int n_metrics)
{
    nl_buf_printf(b, "\"runs\":[");
    for (int i = 0; i < v->n_runs; i++) {
        const nl_results_run *pr = &v->src[v->src_of[i]].res.runs[v->run_of[i]];
        const rp_run *run = view_run(v, i);
        /* a view of several directories names its runs by theirs (joinParts) */
        nl_buf_printf(b, "%s\n{\"n\":", i ? "," : "");
        nl_buf_json_string(b, pr->name);
        nl_buf_printf(b, ",\"v\":[");
        for (int k = 0; k < v->n_keys; k++) {
            nl_buf_printf(b, "%s", k ? "," : "");
            nl_buf_json_string(b, view_value(v, i, k));
        }
        nl_buf_printf(b, "],\n");
        shown_json(b, v, i);
        /* its batch size, where its config says it: a curve over the samples seen */
        const char *batch = run->have_config ? nl_flat_get(&run->config, "train.batch_size") : NULL;
        if (batch && nl_csv_num(batch) > 0)
            nl_buf_printf(b, "\"b\":%.0f,", nl_csv_num(batch));
        nl_buf_printf(b, "\"s\":\"%s\",\"m\":[", rp_status_name(run));
        for (int m = 0; m < n_metrics; m++) {
            nl_buf_printf(b, "%s", m ? "," : "");
            json_number(b, run->result.metrics[metrics[m]], rp_metric_unit(nl_sweep_metric_names[metrics[m]]).scale);
        }
        nl_buf_printf(b, "]}");
    }
    nl_buf_printf(b, "],\n");
}

/* the keys with at least two values over the view's runs (a directory's
 * alone: rp_filter_keys' keys) */
static int varied_keys(const view *v, int *out)
{
    int n = 0;
    for (int k = 0; k < v->n_keys; k++)
        for (int i = 1; i < v->n_runs; i++)
            if (strcmp(view_value(v, i, k), view_value(v, 0, k))) {
                out[n++] = k;
                break;
            }
    return n;
}

/* the summary metrics some run of the view has a value of
 * (nl_sweep_metric_names' indexes) */
static int view_metrics(const view *v, int *out)
{
    int n = 0;
    for (int m = 0; m < NL_SWEEP_N_METRICS; m++) {
        bool any = false;
        for (int i = 0; i < v->n_runs && !any; i++)
            any = view_run(v, i)->result.metrics[m][0] != '\0';
        if (any)
            out[n++] = m;
    }
    return n;
}

/* the view's seed key: the first directory's that varies its seeds */
static int view_seed(const view *v)
{
    for (int i = 0; i < v->n_src; i++) {
        const int at = v->src[i].res.seed_key;
        for (int k = 0; at >= 0 && k < v->n_keys; k++)
            if (v->key_at[i][k] == at)
                return k;
    }
    return -1;
}

/* what the view's data opens with: its keys, those that vary, the seed
 * key, the summary metrics (their ids into metric_ids, their count
 * returned), their units and the lead metric */
static int head_json(nl_buf *b, const view *v, int *metric_ids)
{
    const char *metrics[NL_SWEEP_N_METRICS];
    int varied[256];
    const int n_metrics = view_metrics(v, metric_ids);
    for (int m = 0; m < n_metrics; m++)
        metrics[m] = nl_sweep_metric_names[metric_ids[m]];
    const int n_varied = varied_keys(v, varied);
    nl_buf_printf(b, "{");
    string_array(b, "keys", v->keys, v->n_keys);
    nl_buf_printf(b, "\"varied\":[");
    for (int k = 0; k < n_varied; k++)
        nl_buf_printf(b, "%s%d", k ? "," : "", varied[k]);
    nl_buf_printf(b, "],\n\"seed\":%d,\n", view_seed(v));
    string_array(b, "metrics", metrics, n_metrics);
    /* each metric's unit, as "m" holds it ("%": percent; "" unnamed) */
    const char *units[NL_SWEEP_N_METRICS];
    for (int m = 0; m < n_metrics; m++)
        units[m] = rp_metric_unit(metrics[m]).value;
    string_array(b, "units", units, n_metrics);
    /* the metric the page's views start on: the one the tables lead with
     * (the first directory's, where several are explored together) */
    nl_buf_printf(b, "\"lead\":");
    nl_buf_json_string(b, rp_primary_metric(&v->src[0]));
    nl_buf_printf(b, ",\n");
    return n_metrics;
}

/* Student's t's 0.975 quantile with df degrees of freedom, the page's
 * (p->t975) once computed */
static double t975(rp_page *p, int df)
{
    if (df >= p->n_t975) {
        const int n = df + 1 > 2 * p->n_t975 ? df + 1 : 2 * p->n_t975;
        double *grown = realloc(p->t975, (size_t)n * sizeof *grown);
        if (!grown)
            return nl_stats_t_quantile(0.975, df);
        for (int d = p->n_t975; d < n; d++)
            grown[d] = NAN;
        p->t975 = grown;
        p->n_t975 = n;
    }
    if (isnan(p->t975[df]))
        p->t975[df] = nl_stats_t_quantile(0.975, df);
    return p->t975[df];
}

/* the 0.975 quantiles of Student's t with 1, 2, ... n_runs - 1 degrees
 * of freedom: a mean's 95 % interval over n runs, as the tables' */
static void t975_json(nl_buf *b, rp_page *p, const view *v, int from)
{
    nl_buf_printf(b, "\"t975\":[");
    for (int df = from; df < (v->n_runs > 2 ? v->n_runs : 2); df++)
        nl_buf_printf(b, "%s%.5g", df > from ? "," : "", t975(p, df));
    nl_buf_printf(b, "],\n");
}

/* the section's data, as report.js reads it */
static void data_json(nl_buf *b, rp_page *p, const view *v, curves *c, int *rows)
{
    const char *tags[MAX_TAGS];
    int metric_ids[NL_SWEEP_N_METRICS];
    const int n_metrics = head_json(b, v, metric_ids);
    runs_json(b, v, metric_ids, n_metrics);
    nl_buf_printf(b, "\"curves\":[");
    bool first = true;
    last_steps last = {0};
    for (int i = 0; i < c->n_runs; i++)
        for (int sp = 0; c->runs[i].have && sp < c->n_splits; sp++)
            curve_json(b, c, i, sp, rows, &first, &last);
    for (int sp = 0; sp < MAX_SPLITS; sp++)
        nl_buf_free(&last.steps[sp]);
    nl_buf_printf(b, "],\n");
    /* the tags last: curve_json met them all */
    for (int t = 0; t < c->n_tags; t++)
        tags[t] = c->tags[t];
    string_array(b, "tags", tags, c->n_tags);
    /* each tag's unit, as the curves hold it (test/accuracy in percent) */
    const char *tag_units[MAX_TAGS];
    for (int t = 0; t < c->n_tags; t++) {
        const char *column = strrchr(c->tags[t], '/');
        tag_units[t] = rp_metric_unit(column ? column + 1 : c->tags[t]).value;
    }
    string_array(b, "tag_units", tag_units, c->n_tags);
    const char *axes[MAX_AXES];
    for (int a = 0; a < c->n_axes; a++)
        axes[a] = c->axes[a];
    string_array(b, "axes", axes, c->n_axes);
    t975_json(b, p, v, 1);
    /* a big sweep (rp_lazy's): its view starts on the means over seeds */
    nl_buf_printf(b, "\"kept\":%d,\"big\":%s}", c->kept, v->n_runs > RP_LAZY_RUNS ? "true" : "false");
}

/* the explorer of view v: its heading and hint (said by intro, which gets
 * whether long curves were sampled down and to how many points), its box
 * and its data, under the ids GROUP-explore and GROUP-data */
static nl_code explorer(rp_page *p, const view *v, const char *group,
                        void (*intro)(rp_page *, const view *, const char *, const curves *), nl_error *err)
{
    curves c = {0};
    nl_code rc = read_all(v, &c, err);
    int *rows = rc == NL_OK ? malloc(((size_t)c.longest + 1) * sizeof *rows) : NULL;
    if (rc == NL_OK && !rows)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory reading the curves");
    if (rc == NL_OK) {
        choose_kept(&c, rows);
        nl_buf json = {0};
        data_json(&json, p, v, &c, rows);
        intro(p, v, group, &c);
        if (c.kept < c.longest)
            nl_buf_printf(p->html, "Long curves are sampled down to %d points each, as TensorBoard samples its "
                          "scalars (a uniform sample, the last point kept). ", c.kept);
        nl_buf_printf(p->html, "</p>\n<div class=\"explore\" data-group=\"%s\" data-source=\"%s-data\"></div>\n",
                      group, group);
        char id[32];
        snprintf(id, sizeof id, "%s-data", group);
        rp_script_json(p->html, id, &json);
        if (json.failed)
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory writing the curves");
        nl_buf_free(&json);
    }
    free(rows);
    for (int i = 0; i < c.n_runs; i++)
        nl_csv_table_free(&c.runs[i].own);
    free(c.runs);
    return rc;
}

static void section_intro(rp_page *p, const view *v, const char *group, const curves *c)
{
    (void)v;
    (void)c;
    nl_buf_printf(p->html, "<h3 id=\"%s-explore\">Explore the curves</h3>\n<p class=\"hint\">Every run's "
                  "<code>metrics.csv</code>, drawn here: hover for the run, step and value; drag a box to zoom, "
                  "double-click to zoom out. The filters above narrow the curves, the parallel coordinates "
                  "and the claims. ", group);
}

nl_code rp_curves(rp_page *p, rp_source *s, nl_error *err)
{
    view v;
    nl_code rc = view_init(&v, s, 1, false, err);
    if (rc)
        return rc;
    char group[16];
    snprintf(group, sizeof group, "s%d", s->index);
    rc = explorer(p, &v, group, section_intro, err);
    view_free(&v);
    return rc;
}

static void together_intro(rp_page *p, const view *v, const char *group, const curves *c)
{
    (void)c;
    nl_buf_printf(p->html, "<h3 id=\"%s-explore\">Explore the curves of ", group);
    if (v->n_src == 2)
        nl_buf_printf(p->html, "both directories");
    else
        nl_buf_printf(p->html, "all %d directories", v->n_src);
    nl_buf_printf(p->html, "</h3>\n<p class=\"hint\">Every run of every directory below in one view, each keyed by "
                  "its directory as by any key of its config: <code>" SWEEP_KEY "</code>, its name (");
    for (int i = 0; i < v->n_src; i++) {
        nl_buf_printf(p->html, "%s<code>", i == 0 ? "" : i + 1 < v->n_src ? ", " : " and ");
        rp_esc(p->html, v->labels[i]);
        nl_buf_printf(p->html, "</code>");
    }
    nl_buf_printf(p->html, "): colour, group, style and match by it. A run is named by its directory and its own "
                  "name. A key a directory does not vary is its runs' value in their config.yaml. ");
}

/* the text run's key k reads as where it reads otherwise than its value
 * (shown_json's), "" where not */
static const char *shown_text(const view *v, int run, int k, char *buf, size_t size)
{
    const rp_source *s = &v->src[v->src_of[run]];
    buf[0] = '\0';
    if (!strcmp(v->keys[k], "model.norm.type") &&
        !nl_results_norm_formula_name(&s->res, &s->res.runs[v->run_of[run]], view_value(v, run, k), buf, size))
        buf[0] = '\0';
    return buf;
}

static const char *value_text(const view *v, int run, int k, char *buf, size_t size)
{
    (void)buf, (void)size;
    return view_value(v, run, k);
}

/* key k's text over the view's runs at..at+n-1: one string where they are
 * all the same, else one per run; false (nothing written) where
 * skip_empty and all are "" */
static bool fill_json(nl_buf *b, const view *v, int at, int n, int k, bool skip_empty,
                      const char *(*text)(const view *, int, int, char *, size_t))
{
    char first[400], buf[400];
    nl_copy_string(first, sizeof first, text(v, at, k, buf, sizeof buf));
    bool same = true;
    for (int r = at + 1; r < at + n && same; r++)
        same = !strcmp(text(v, r, k, buf, sizeof buf), first);
    if (same && skip_empty && !first[0])
        return false;
    nl_buf_printf(b, "\"%d\":", k);
    if (same) {
        nl_buf_json_string(b, first);
        return true;
    }
    nl_buf_printf(b, "[");
    for (int r = at; r < at + n; r++) {
        nl_buf_printf(b, "%s", r > at ? "," : "");
        nl_buf_json_string(b, text(v, r, k, buf, sizeof buf));
    }
    nl_buf_printf(b, "]");
    return true;
}

/* Each directory's part of the view of all: its explorer's data below
 * (sN-data), its label (the key "sweep"), where each key of all is among
 * its own (key_of: its index, -1 where it has none) and, for the keys it
 * does not vary, its runs' values ("fill") and the texts they read as
 * ("fl", where some do), by key index */
static void parts_json(nl_buf *b, const view *v)
{
    nl_buf_printf(b, "\"parts\":[");
    for (int i = 0, at = 0; i < v->n_src; at += v->src[i].res.n_runs, i++) {
        const int n = v->src[i].res.n_runs;
        nl_buf_printf(b, "%s\n{\"data\":\"s%d-data\",\"label\":", i ? "," : "", v->src[i].index);
        nl_buf_json_string(b, v->labels[i]);
        nl_buf_printf(b, ",\"key_of\":[");
        for (int k = 0; k < v->n_keys; k++)
            nl_buf_printf(b, "%s%d", k ? "," : "", v->key_at[i][k]);
        nl_buf_printf(b, "]");
        for (int pass = 0; pass < 2; pass++) {
            nl_buf_printf(b, ",\"%s\":{", pass ? "fl" : "fill");
            bool any = false;
            /* key 0 is the sweep's: the label */
            for (int k = 1; k < v->n_keys && n > 0; k++) {
                if (v->key_at[i][k] >= 0)
                    continue;
                const size_t before = b->len;
                if (any)
                    nl_buf_printf(b, ",");
                if (fill_json(b, v, at, n, k, pass == 1, pass ? shown_text : value_text))
                    any = true;
                else
                    b->len = before;
            }
            nl_buf_printf(b, "}");
        }
        nl_buf_printf(b, "}");
    }
    nl_buf_printf(b, "],\n");
}

/* The explorer over every directory's runs (normlab report A B), made by
 * the page from the sections' own explorers' data (report.4-explore.js's
 * joinParts) instead of every run's curves embedded a third time: two
 * 4,000-run sweeps' page held 3.8 MB more for it, and read every
 * metrics.csv twice (issue 118). What only the view of all knows comes
 * from here: its keys, which vary, the metrics of all, the values a
 * directory does not vary, the t quantiles for all its runs. */
nl_code rp_curves_together(rp_page *p, rp_source *src, int n, nl_error *err)
{
    view v;
    nl_code rc = view_init(&v, src, n, true, err);
    if (rc)
        return rc;
    nl_buf json = {0};
    int metric_ids[NL_SWEEP_N_METRICS];
    head_json(&json, &v, metric_ids);
    parts_json(&json, &v);
    /* the quantiles past those of the directory of most runs (its data's
     * list goes to its runs less one, or to 1 degree of freedom) */
    int from = 2;
    for (int i = 0; i < n; i++)
        from = src[i].res.n_runs > from ? src[i].res.n_runs : from;
    nl_buf_printf(&json, "\"t975_from\":%d,\n", from);
    t975_json(&json, p, &v, from);
    nl_buf_printf(&json, "\"big\":%s}", v.n_runs > RP_LAZY_RUNS ? "true" : "false");
    together_intro(p, &v, "c", NULL);
    nl_buf_printf(p->html, "Its curves are each directory's below, sampled as there.</p>\n"
                  "<div class=\"explore\" data-group=\"c\" data-source=\"c-data\"></div>\n");
    rp_script_json(p->html, "c-data", &json);
    if (json.failed)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory writing the curves");
    nl_buf_free(&json);
    view_free(&v);
    return rc;
}
