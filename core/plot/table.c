/* The table a report needs next to its figure: a final metric per cell of
 * chosen keys, over seeds (mean, standard deviation, Student-t 95%
 * interval), and optionally paired differences between two variants run
 * with the same seeds (and so the same data order), which cancel
 * the seed-to-seed spread that the two share. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "config/config.h"
#include "config/schema.h"
#include "plot/internal.h"
#include "model/spec.h"
#include "plot/plot.h"
#include "results/run_result.h"
#include "results/summary_keys.h"
#include "stats/stats.h"

/* ---- Student's t: core/stats, shared with normlab verdict ---- */

double nl_student_t_quantile_975(double df)
{
    return nl_stats_t_quantile(0.975, df);
}

/* ---- cells ---- */

/* the range a metric's values can take: accuracies and errors are
 * fractions in [0, 1], every other summary metric (losses, steps, times,
 * rates) is >= 0 */
typedef struct {
    double lo, hi;
} metric_range;

/* accuracies and errors are fractions in files and percent for people */
static bool is_fraction(const char *metric)
{
    return strstr(metric, "accuracy") != NULL || strstr(metric, "error") != NULL;
}

static metric_range range_of(const char *metric)
{
    return is_fraction(metric) ? (metric_range){0, 1} : (metric_range){0, INFINITY};
}

/* whether a metric's intervals are on the log scale (bounded below only),
 * and so its table has a geometric mean column beside them */
static bool log_scaled(const char *metric)
{
    const metric_range r = range_of(metric);
    return isfinite(r.lo) && !isfinite(r.hi);
}

/* the centre of a metric's intervals beside them, where they are on a
 * transformed scale: the geometric mean on the log scale (a loss), the
 * logit mean on the logit scale (an error or an accuracy) */
typedef enum { CENTRE_NONE, CENTRE_GEOMETRIC, CENTRE_LOGIT } centre_kind;

static centre_kind centre_of(const char *metric)
{
    return log_scaled(metric) ? CENTRE_GEOMETRIC : is_fraction(metric) ? CENTRE_LOGIT : CENTRE_NONE;
}

typedef struct {
    int n;
    double mean, sd, lo, hi; /* sd and interval NaN below two values */
    nl_stats_scale scale;    /* what the interval is */
    /* the interval's own centre where it is on the log scale: the
     * geometric mean, exp(mean(log v)), which the arithmetic mean may lie
     * outside of (a skewed loss); NaN on any other scale */
    double gmean;
    /* likewise on the logit scale: the logit mean, the inverse logit of
     * the mean logit mapped back into the range (lo + (hi - lo) /
     * (1 + exp(-mean logit))), which the arithmetic mean may lie outside
     * of (an error near 0 with one seed far above); NaN on any other scale */
    double lmean;
} moments;

/* the mean and sd of v, and the 95% t interval of the mean on the scale
 * that keeps it inside `range` (nl_stats_t_interval_within) */
static moments moments_of(const double *v, int n, metric_range range)
{
    moments m = {n, NAN, NAN, NAN, NAN, NL_STATS_SCALE_LINEAR, NAN, NAN};
    if (n == 0)
        return m;
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    m.mean = sum / n;
    if (n < 2)
        return m;
    double squares = 0.0;
    for (int i = 0; i < n; i++)
        squares += (v[i] - m.mean) * (v[i] - m.mean);
    m.sd = sqrt(squares / (n - 1));
    m.scale = nl_stats_t_interval_within(v, n, 0.95, range.lo, range.hi, &m.lo, &m.hi);
    if (m.scale == NL_STATS_SCALE_LOG && !isnan(m.lo)) {
        double logs = 0.0;
        for (int i = 0; i < n; i++)
            logs += log(v[i]);
        m.gmean = exp(logs / n);
    }
    if (m.scale == NL_STATS_SCALE_LOGIT && !isnan(m.lo)) {
        const double width = range.hi - range.lo;
        double logits = 0.0;
        for (int i = 0; i < n; i++) {
            const double p = (v[i] - range.lo) / width;
            logits += log(p / (1 - p));
        }
        m.lmean = range.lo + width / (1 + exp(-logits / n));
    }
    return m;
}

/* paired differences' moments: the plain t interval (no difference, 0, is
 * what it is read against, and a transform would move it off centre),
 * clipped with its mark where it leaves the range a difference can take */
static moments difference_moments_of(const double *d, int n, metric_range range)
{
    const double widest = range.hi - range.lo;
    moments m = moments_of(d, n, (metric_range){-INFINITY, INFINITY});
    if (n >= 2 && (m.lo < -widest || m.hi > widest)) {
        m.lo = fmax(m.lo, -widest);
        m.hi = fmin(m.hi, widest);
        m.scale = NL_STATS_SCALE_CLIPPED;
    }
    return m;
}

/* m, or none where a sum of the values overflowed a double (two values of
 * 1e308): an inf mean or spread would read as a result; said in `left` (a
 * line naming the row) */
static moments moments_noted(moments m, const char *row, nl_buf *left)
{
    if (m.n > 0 && (!isfinite(m.mean) || (m.n > 1 && (!isfinite(m.sd) || !isfinite(m.hi - m.lo))))) {
        nl_buf_printf(left, "%s: the %d values overflow a double when summed: no mean\n", row, m.n);
        m = (moments){m.n, NAN, NAN, NAN, NAN, NL_STATS_SCALE_LINEAR, NAN, NAN};
    }
    return m;
}

static void md_number(nl_buf *b, double v, double scale)
{
    if (isnan(v))
        nl_buf_printf(b, " | –");
    else
        nl_buf_printf(b, " | %.2f", v * scale);
}

static void csv_number(nl_buf *b, double v)
{
    if (isnan(v))
        nl_buf_printf(b, ",");
    else
        nl_buf_printf(b, ",%.9g", v);
}

/* the CSV field of a value, after its comma */
static void csv_text(nl_buf *b, const char *s)
{
    nl_buf_printf(b, ",");
    nl_buf_csv_field(b, s);
}

static int metric_index(const char *name)
{
    for (int m = 0; m < NL_RESULTS_M_COUNT; m++)
        if (!strcmp(name, nl_sweep_metric_names[m]))
            return m;
    return -1;
}

/* the error for a --by key that is not varied: a setting of the config
 * schema that does not vary, or no setting at all (a typo: the closest
 * varied key or setting is suggested) */
static nl_code not_a_cell_key(const nl_results *r, const char *key, nl_error *err)
{
    char varied[1024] = "";
    size_t used = 0;
    for (int j = 0; j < r->n_keys && used < sizeof varied - 100; j++)
        used += (size_t)snprintf(varied + used, sizeof varied - used, "%s%s", j ? ", " : "", r->keys[j]);
    const char *varied_list = used ? varied : "none (a single run)";
    if (nl_schema_find(key)) {
        const char *value = r->have_config ? nl_flat_get(&r->config, key) : NULL;
        char same[200] = "";
        if (value)
            snprintf(same, sizeof same, " (every run has %.150s)", value);
        return nl_fail(err, NL_ERR_USAGE, "--by: %s does not vary in %s%s; the varied keys are: %s", key,
                       r->dir, same, varied_list);
    }
    /* what a user could have meant: the varied keys (a summary.csv may
     * hold columns that are no setting), then every setting */
    const int n_settings = nl_config_key_count(), n_names = r->n_keys + n_settings;
    const char **names = calloc((size_t)n_names + 1, sizeof *names);
    if (!names)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int j = 0; j < r->n_keys; j++)
        names[j] = r->keys[j];
    for (int j = 0; j < n_settings; j++)
        names[r->n_keys + j] = nl_config_key_name(j);
    const char *closest = nl_closest_name(key, names, n_names);
    char hint[160] = "";
    if (closest)
        snprintf(hint, sizeof hint, "; did you mean %s?", closest);
    nl_code rc = nl_fail(err, NL_ERR_USAGE, "--by: unknown key '%s'%s (the varied keys are: %s)", key, hint,
                         varied_list);
    free(names);
    return rc;
}

static nl_code resolve_keys(const nl_results *r, const nl_table_spec *spec, int *keys, int *n_keys,
                            int *pair_key, nl_error *err)
{
    *pair_key = -1;
    if (spec->pair_key) {
        *pair_key = nl_results_key(r, spec->pair_key);
        if (*pair_key < 0)
            return nl_fail(err, NL_ERR_USAGE, "--pair: %s does not vary in %s", spec->pair_key, r->dir);
        if (*pair_key == r->seed_key)
            return nl_fail(err, NL_ERR_USAGE, "--pair: the seed is what pairs runs; pair two variants of another key");
    }
    if (spec->n_by == 0) {
        *n_keys = nl_results_group_keys(r, NULL, 0, keys);
        return NL_OK;
    }
    *n_keys = 0;
    for (int i = 0; i < spec->n_by; i++) {
        const int k = nl_results_key(r, spec->by[i]);
        if (k < 0)
            return not_a_cell_key(r, spec->by[i], err);
        if (k == r->seed_key)
            return nl_fail(err, NL_ERR_USAGE, "--by: the table aggregates over seeds; leave %s out", spec->by[i]);
        keys[(*n_keys)++] = k;
    }
    if (*pair_key >= 0) {
        bool listed = false;
        for (int i = 0; i < *n_keys; i++)
            listed |= keys[i] == *pair_key;
        if (!listed)
            keys[(*n_keys)++] = *pair_key;
    }
    return NL_OK;
}

/* whether two runs agree on every key but `except`; a key that does not
 * apply to one of them (empty: layer norm has no alpha_init) matches any
 * value of the other */
static bool compatible_values(const nl_results_run *a, const nl_results_run *b, const int *keys, int n, int except)
{
    for (int i = 0; i < n; i++) {
        const char *va = a->values[keys[i]], *vb = b->values[keys[i]];
        if (keys[i] != except && va[0] && vb[0] && strcmp(va, vb))
            return false;
    }
    return true;
}

/* the keys a run has a value for */
static int keys_set(const nl_results_run *run, const int *keys, int n, int except)
{
    int set = 0;
    for (int i = 0; i < n; i++)
        set += keys[i] != except && run->values[keys[i]][0];
    return set;
}

/* the keys other than the cell's and the seed whose values differ among
 * the runs `in_cell` selects: "train.batch_size 2, 32; train.optimizer.lr
 * 0.01, 0.1" into buf ("" when only the seed differs); into names (may be
 * NULL) the keys alone */
static int pooled_keys(const nl_results *r, const int *keys, int n_keys, const bool *in_cell, char *buf,
                       size_t size, char *names, size_t names_size)
{
    size_t used = 0, named = 0;
    int n_pooled = 0;
    buf[0] = '\0';
    if (names)
        names[0] = '\0';
    for (int k = 0; k < r->n_keys; k++) {
        bool cell_key = k == r->seed_key;
        for (int i = 0; i < n_keys; i++)
            cell_key |= keys[i] == k;
        if (cell_key)
            continue;
        const char *values[64];
        int n_values = 0;
        for (int i = 0; i < r->n_runs; i++) {
            if (!in_cell[i])
                continue;
            const char *v = r->runs[i].values[k];
            bool seen = false;
            for (int j = 0; j < n_values && !seen; j++)
                seen = !strcmp(values[j], v);
            if (!seen && n_values < 64)
                values[n_values++] = v;
        }
        if (n_values < 2)
            continue;
        if (used < size)
            used += (size_t)snprintf(buf + used, size - used, "%s%s ", used ? "; " : "", r->keys[k]);
        for (int j = 0; j < n_values && used < size; j++)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", j ? ", " : "",
                                     values[j][0] ? values[j] : "(none)");
        if (names && named < names_size)
            named += (size_t)snprintf(names + named, names_size - named, "%s%s", named ? ", " : "", r->keys[k]);
        n_pooled++;
    }
    return n_pooled;
}

/* a row's " | mean | sd | low – high |" (NaN: "–"), in the table's units;
 * a clipped interval marked "*"; centre: the geometric mean or the logit
 * mean, the centre of an interval on the log or logit scale, before it
 * (" | gmean"; "–" in a row whose interval is on another scale) */
static void md_moments(nl_buf *md, const moments *m, double scale, centre_kind centre)
{
    md_number(md, m->mean, scale);
    md_number(md, m->sd, scale);
    if (centre == CENTRE_GEOMETRIC)
        md_number(md, m->gmean, scale);
    else if (centre == CENTRE_LOGIT)
        md_number(md, m->lmean, scale);
    if (isnan(m->lo))
        nl_buf_printf(md, " | – |");
    else
        nl_buf_printf(md, " | %.2f – %.2f%s |", m->lo * scale, m->hi * scale,
                      m->scale == NL_STATS_SCALE_CLIPPED ? " *" : "");
}

/* a row's mean, sd and interval as CSV fields (summary.csv's units) */
static void csv_moments(nl_buf *csv, const moments *m)
{
    csv_number(csv, m->mean);
    csv_number(csv, m->sd);
    csv_number(csv, m->lo);
    csv_number(csv, m->hi);
}

/* the interval's scale, its geometric mean where it is on the log scale
 * and its logit mean where on the logit scale (each empty otherwise), as
 * the row's last CSV fields */
static void csv_scale_tag(nl_buf *csv, const moments *m)
{
    csv_text(csv, isnan(m->lo) ? "" : nl_stats_scale_tags[m->scale]);
    csv_number(csv, m->gmean);
    csv_number(csv, m->lmean);
}

/* the bit of m's interval scale in a table's mask of those it uses */
static unsigned scale_bit(const moments *m)
{
    return isnan(m->lo) ? 0u : 1u << m->scale;
}

/* the line under a table saying in words what its intervals are, from the
 * mask of scales its rows used: "95% interval of the mean over seeds: a t
 * interval on the logit scale, mapped back into the metric's range
 * [0, 100]%." */
static void md_interval_words(nl_buf *md, unsigned used, const char *of, const char *range)
{
    if (!used)
        return;
    nl_buf_printf(md, "\n95%% interval %s: a ", of);
    int said = 0;
    for (int sc = 0; sc < NL_STATS_SCALE_COUNT; sc++)
        if (used & (1u << sc) && sc != NL_STATS_SCALE_CLIPPED)
            nl_buf_printf(md, "%s%s", said++ ? " or " : "", nl_stats_scale_words[sc]);
    if (used & (1u << NL_STATS_SCALE_LOGIT | 1u << NL_STATS_SCALE_LOG))
        nl_buf_printf(md, ", mapped back into the metric's range %s", range);
    if (used & (1u << NL_STATS_SCALE_LOG))
        nl_buf_printf(md, "; on the log scale it is an interval of the geometric mean (exp of the mean log), "
                      "printed beside it, which the mean may lie outside of");
    if (used & (1u << NL_STATS_SCALE_LOGIT))
        nl_buf_printf(md, "; on the logit scale it is an interval of the logit mean (the mean logit mapped back, "
                      "1 / (1 + exp(-mean logit)) of the range), printed beside it, which the mean may lie outside of");
    if (used & (1u << NL_STATS_SCALE_CLIPPED))
        nl_buf_printf(md, "%s* marks a %s (a value on its edge has no logit or log)", said ? "; " : "",
                      nl_stats_scale_words[NL_STATS_SCALE_CLIPPED]);
    nl_buf_printf(md, ".\n");
}

static const char *range_words(const char *metric)
{
    return is_fraction(metric) ? "[0, 100]%" : "[0, ∞)";
}

/* the header's key columns, "| KEY | KEY |", and their rule, "|---|---|" */
static void md_key_columns(nl_buf *md, const nl_results *r, const int *keys, int n_keys)
{
    nl_buf_printf(md, "|");
    for (int k = 0; k < n_keys; k++)
        nl_buf_printf(md, " %s |", r->keys[keys[k]]);
}

static void md_key_rule(nl_buf *md, int n_keys)
{
    nl_buf_printf(md, "|");
    for (int k = 0; k < n_keys; k++)
        nl_buf_printf(md, "---|");
}

/* what each of the `groups` cells pools into pooled[g] (over the runs it
 * counts); when any cell pools, the table's paragraph and the note saying
 * so, naming the keys pooled over all finished runs. Returns whether any does. */
static bool pooled_cells(const nl_results *r, const int *keys, int n_keys, const int *group_of, int groups,
                         bool *in_cell, char (*pooled)[1024], nl_buf *md, nl_buf *notes)
{
    bool any_pooled = false;
    for (int g = 0; g < groups; g++) {
        for (int i = 0; i < r->n_runs; i++)
            in_cell[i] = group_of[i] == g && nl_results_run_finished(&r->runs[i]);
        pooled_keys(r, keys, n_keys, in_cell, pooled[g], sizeof pooled[g], NULL, 0);
        any_pooled |= pooled[g][0] != '\0';
    }
    if (!any_pooled)
        return false;
    char names[1024];
    for (int i = 0; i < r->n_runs; i++)
        in_cell[i] = nl_results_run_finished(&r->runs[i]);
    const int n_pooled = pooled_keys(r, keys, n_keys, in_cell, pooled[groups], sizeof pooled[groups], names,
                                     sizeof names);
    nl_buf_printf(md, "Cells pool runs of different configurations: %s %s within a cell (the "
                  "pooled column), so a cell's count is of runs, not seeds, and its spread is not "
                  "the seed-to-seed spread alone; add --by for %s to separate them.\n\n", names,
                  n_pooled > 1 ? "vary" : "varies", n_pooled > 1 ? "each" : "it");
    if (notes)
        nl_buf_printf(notes, "cells pool runs that differ in %s, not only in the seed: the count "
                      "column is runs (add --by KEY to separate them)\n", names);
    return true;
}

/* cell g's row: its finished runs' metric (values[] is scratch), diverged
 * runs counted apart; nothing when it has no finished run. Returns its
 * interval's scale_bit. A run that
 * finished ok with an infinite value (summary.csv's inf, or 1e400) is no
 * divergence and no value: left out, said in `left` */
static unsigned write_cell(const nl_results *r, const char *metric_name, int metric, double scale, const int *keys,
                       int n_keys, const int *group_of, int g, double *values, const char *pooled, bool any_pooled,
                       nl_buf *md, nl_buf *csv, nl_buf *left)
{
    int n = 0, diverged = 0, first = -1;
    for (int i = 0; i < r->n_runs; i++) {
        if (group_of[i] != g || !nl_results_run_finished(&r->runs[i]))
            continue;
        first = first < 0 ? i : first;
        const double v = r->runs[i].m[metric];
        if (isinf(v) && strcmp(r->runs[i].status, "diverged"))
            nl_buf_printf(left, "run %s: %s is %s, not a finite number: left out\n", r->runs[i].name, metric_name,
                          v > 0 ? "inf" : "-inf");
        else if (!strcmp(r->runs[i].status, "diverged") || !isfinite(v))
            diverged++;
        else
            values[n++] = v;
    }
    if (first < 0)
        return 0;
    char row[512] = "cell";
    for (int k = 0; k < n_keys; k++)
        snprintf(row + strlen(row), sizeof row - strlen(row), " %s=%s", r->keys[keys[k]],
                 r->runs[first].values[keys[k]]);
    const moments m = moments_noted(moments_of(values, n, range_of(metric_name)), row, left);
    nl_buf_printf(md, "|");
    for (int k = 0; k < n_keys; k++)
        nl_buf_printf(md, " %s |", r->runs[first].values[keys[k]]);
    nl_buf_printf(md, " %d | %d", n, diverged);
    md_moments(md, &m, scale, centre_of(metric_name));
    if (any_pooled)
        nl_buf_printf(md, " %s |", pooled[0] ? pooled : "–");
    nl_buf_printf(md, "\n");
    if (csv) {
        nl_buf_printf(csv, "cell");
        for (int k = 0; k < n_keys; k++)
            csv_text(csv, r->runs[first].values[keys[k]]);
        nl_buf_printf(csv, ",%d,%d", n, diverged);
        csv_moments(csv, &m);
        nl_buf_printf(csv, ",");
        csv_text(csv, pooled);
        csv_scale_tag(csv, &m);
        nl_buf_printf(csv, "\n");
    }
    return scale_bit(&m);
}

/* the cell table; values[] and diverged counts per group. A cell whose runs
 * differ in more than the seed (--by leaves a varied key out) pools
 * configurations: its count is of runs, not seeds, and the table names the
 * pooled keys and values (and notes, when not NULL, gets a line saying so) */
static void write_cells(const nl_results *r, const nl_table_spec *spec, int metric, const int *keys,
                        int n_keys, nl_buf *md, nl_buf *csv, nl_buf *notes, nl_buf *left)
{
    const double scale = is_fraction(spec->metric) ? 100.0 : 1.0;
    int *group_of = calloc((size_t)r->n_runs + 1, sizeof *group_of);
    char (*labels)[256] = calloc((size_t)r->n_runs + 1, sizeof *labels);
    double *values = calloc((size_t)r->n_runs + 1, sizeof *values);
    bool *in_cell = calloc((size_t)r->n_runs + 1, sizeof *in_cell);
    char (*pooled)[1024] = calloc((size_t)r->n_runs + 1, sizeof *pooled);
    if (!group_of || !labels || !values || !in_cell || !pooled) {
        md->failed = true;
        goto done;
    }
    const int groups = nl_results_groups(r, keys, n_keys, group_of, labels, r->n_runs);
    const bool any_pooled = pooled_cells(r, keys, n_keys, group_of, groups, in_cell, pooled, md, notes);
    md_key_columns(md, r, keys, n_keys);
    const centre_kind centre = centre_of(spec->metric);
    nl_buf_printf(md, " %s | diverged | mean | sd |%s 95%% interval |%s\n", any_pooled ? "runs" : "seeds",
                  centre == CENTRE_GEOMETRIC ? " geometric mean |" : centre == CENTRE_LOGIT ? " logit mean |" : "",
                  any_pooled ? " pooled |" : "");
    md_key_rule(md, n_keys);
    nl_buf_printf(md, "---:|---:|---:|---:|%s---|%s\n", centre != CENTRE_NONE ? "---:|" : "", any_pooled ? "---|" : "");
    unsigned used = 0;
    for (int g = 0; g < groups; g++)
        used |= write_cell(r, spec->metric, metric, scale, keys, n_keys, group_of, g, values, pooled[g], any_pooled,
                           md, csv, left);
    md_interval_words(md, used, any_pooled ? "of the mean over the cell's runs" : "of the mean over seeds",
                      range_words(spec->metric));
done:
    free(group_of);
    free(labels);
    free(values);
    free(in_cell);
    free(pooled);
}

/* a pairing of one table: the key and its two values, the keys that must
 * agree (all_keys: every varied key, the seed compared apart) */
typedef struct {
    const nl_results *r;
    const nl_table_spec *spec;
    int metric, pair_key;
    bool higher_better;
    int all_keys[256];
} pairing;

/* group g's differences B - A into diffs (returns how many), the runs they
 * pair marked in in_pairs, how many favour B into *wins and the first
 * pair's row run into *first (-1: none); a difference that is not finite
 * although both values are (1e308 - -1e308) is left out, said in `left` */
static int pair_diffs(const pairing *p, const int *group_of, int g, double *diffs, bool *in_pairs, int *wins,
                      int *first, nl_buf *left)
{
    const nl_results *r = p->r;
    const int pair_key = p->pair_key;
    int n = 0;
    *wins = 0;
    *first = -1;
    for (int i = 0; i < r->n_runs; i++)
        in_pairs[i] = false;
    for (int i = 0; i < r->n_runs; i++) {
        const nl_results_run *a = &r->runs[i];
        if (strcmp(a->values[pair_key], p->spec->pair_a) || strcmp(a->status, "ok"))
            continue;
        for (int j = 0; j < r->n_runs; j++) {
            const nl_results_run *b = &r->runs[j];
            if (strcmp(b->values[pair_key], p->spec->pair_b) || strcmp(b->status, "ok"))
                continue;
            if (r->seed_key >= 0 && strcmp(a->values[r->seed_key], b->values[r->seed_key]))
                continue;
            /* every other varied key must agree too, in the table or not */
            if (!compatible_values(a, b, p->all_keys, r->n_keys, pair_key))
                continue;
            /* the pair's row: that of the run with more keys set */
            const int row_run = keys_set(a, p->all_keys, r->n_keys, pair_key) >=
                                        keys_set(b, p->all_keys, r->n_keys, pair_key)
                                    ? i
                                    : j;
            if (group_of[row_run] != g)
                continue;
            const double d = b->m[p->metric] - a->m[p->metric];
            /* a pair with a value that is not finite: the cell's row
             * already said so (or counted it diverged) */
            if (!isfinite(d)) {
                if (isfinite(b->m[p->metric]) && isfinite(a->m[p->metric]))
                    nl_buf_printf(left, "pair %s, %s: the difference is %s, not a finite number: left out\n",
                                  b->name, a->name, d > 0 ? "inf" : "-inf");
                continue;
            }
            *first = *first < 0 ? row_run : *first;
            in_pairs[i] = in_pairs[j] = true;
            diffs[n++] = d;
            *wins += p->higher_better ? d > 0 : d < 0;
        }
    }
    return n;
}

/* a paired row as CSV: the pair's column says "B-A" */
static void pair_csv_row(const pairing *p, const int *keys, int n_keys, int first, int n, const moments *m,
                         int wins, const bool *in_pairs, nl_buf *csv)
{
    const nl_results *r = p->r;
    nl_buf_printf(csv, "paired");
    for (int k = 0; k < n_keys; k++) {
        char pair[256];
        snprintf(pair, sizeof pair, "%s-%s", p->spec->pair_b, p->spec->pair_a);
        csv_text(csv, keys[k] == p->pair_key ? pair : r->runs[first].values[keys[k]]);
    }
    nl_buf_printf(csv, ",%d,", n);
    csv_moments(csv, m);
    /* the keys the row's pairs differ in beyond the pair and the
     * seed (pairs across batch sizes when --by leaves it out) */
    char pooled[1024];
    pooled_keys(r, keys, n_keys, in_pairs, pooled, sizeof pooled, NULL, 0);
    nl_buf_printf(csv, ",%d", wins);
    csv_text(csv, pooled);
    csv_scale_tag(csv, m);
    nl_buf_printf(csv, "\n");
}

/* B - A over runs that share the seed and every other key; a key that
 * applies to one side only (alpha_init of dyt against layer norm) pairs
 * that side's every value with the other, one row per value */
static void write_pairs(const nl_results *r, const nl_table_spec *spec, int metric, const int *keys,
                        int n_keys, int pair_key, nl_buf *md, nl_buf *csv, nl_buf *left)
{
    const double scale = is_fraction(spec->metric) ? 100.0 : 1.0;
    /* lower is better for errors and losses, higher for accuracies */
    pairing p = {r, spec, metric, pair_key, strstr(spec->metric, "accuracy") != NULL, {0}};
    int others[256], n_others = 0;
    for (int k = 0; k < n_keys; k++)
        if (keys[k] != pair_key)
            others[n_others++] = keys[k];
    for (int k = 0; k < r->n_keys && k < 256; k++)
        p.all_keys[k] = k == r->seed_key ? pair_key : k; /* the seed is compared below */
    int *group_of = calloc((size_t)r->n_runs + 1, sizeof *group_of);
    char (*labels)[256] = calloc((size_t)r->n_runs + 1, sizeof *labels);
    double *diffs = calloc((size_t)r->n_runs + 1, sizeof *diffs);
    bool *in_pairs = calloc((size_t)r->n_runs + 1, sizeof *in_pairs);
    if (!group_of || !labels || !diffs || !in_pairs) {
        md->failed = true;
        goto done;
    }
    const int groups = nl_results_groups(r, others, n_others, group_of, labels, r->n_runs);
    nl_buf_printf(md, "\n%s %s − %s, paired by seed (same seed: same data order)%s:\n\n",
                  r->keys[pair_key], spec->pair_b, spec->pair_a,
                  is_fraction(spec->metric) ? ", in points (percent of one minus percent of the other)" : "");
    md_key_columns(md, r, others, n_others);
    nl_buf_printf(md, " pairs | mean difference | sd | 95%% interval | %s better |\n", spec->pair_b);
    md_key_rule(md, n_others);
    nl_buf_printf(md, "---:|---:|---:|---|---:|\n");
    unsigned used = 0;
    for (int g = 0; g < groups; g++) {
        int wins, first;
        const int n = pair_diffs(&p, group_of, g, diffs, in_pairs, &wins, &first, left);
        if (first < 0)
            continue;
        char row[512] = "pairs";
        for (int k = 0; k < n_others; k++)
            snprintf(row + strlen(row), sizeof row - strlen(row), " %s=%s", r->keys[others[k]],
                     r->runs[first].values[others[k]]);
        const moments m = moments_noted(difference_moments_of(diffs, n, range_of(spec->metric)), row, left);
        used |= scale_bit(&m);
        nl_buf_printf(md, "|");
        for (int k = 0; k < n_others; k++)
            nl_buf_printf(md, " %s |", r->runs[first].values[others[k]]);
        nl_buf_printf(md, " %d", n);
        md_moments(md, &m, scale, CENTRE_NONE);
        nl_buf_printf(md, " %d of %d |\n", wins, n);
        if (csv)
            pair_csv_row(&p, keys, n_keys, first, n, &m, wins, in_pairs, csv);
    }
    md_interval_words(md, used, "of the mean difference over pairs", range_words(spec->metric));
done:
    free(group_of);
    free(labels);
    free(diffs);
    free(in_pairs);
}

const char *nl_table_primary_metric(const char *arch)
{
    const int a = arch ? nl_name_lookup(&nl_arch_names, arch) : -1;
    return a >= 0 && nl_model_spec_tokens(&(nl_model_spec){.arch = (nl_arch)a}) ? NL_SUMMARY_FINAL_TEST_LOSS
                                                                               : NL_SWEEP_TEST_ERROR_COLUMN;
}

static nl_code unknown_metric(const char *metric, nl_error *err)
{
    char names[512] = "";
    size_t used = 0;
    for (int m = 0; m < NL_RESULTS_M_COUNT && used < sizeof names - 64; m++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", m ? " | " : "", nl_sweep_metric_names[m]);
    return nl_fail(err, NL_ERR_USAGE, "--metric: '%s' is not a summary.csv metric; accepted: %s", metric, names);
}

nl_code nl_table_write(const char *dir, const nl_table_spec *asked, nl_buf *md, nl_buf *csv,
                       nl_buf *notes, nl_error *err)
{
    if (asked->metric && metric_index(asked->metric) < 0)
        return unknown_metric(asked->metric, err);
    nl_results r;
    nl_code rc = nl_results_load(dir, &r, err);
    if (rc)
        return rc;
    nl_table_spec named = *asked;
    if (!named.metric)
        named.metric = nl_table_primary_metric(r.have_config ? nl_flat_get(&r.config, "model.arch") : NULL);
    const nl_table_spec *spec = &named;
    const int metric = metric_index(spec->metric);
    int keys[256], n_keys = 0, pair_key = -1;
    if ((rc = resolve_keys(&r, spec, keys, &n_keys, &pair_key, err)))
        goto done;
    if (pair_key >= 0) {
        const char *values[256];
        const int n = nl_results_distinct(&r, pair_key, values, 256);
        bool has_a = false, has_b = false;
        for (int i = 0; i < n; i++) {
            has_a |= !strcmp(values[i], spec->pair_a);
            has_b |= !strcmp(values[i], spec->pair_b);
        }
        if (!has_a || !has_b) {
            rc = nl_fail(err, NL_ERR_USAGE, "--pair: %s takes no value '%s' in %s",
                         spec->pair_key, has_a ? spec->pair_b : spec->pair_a, dir);
            goto done;
        }
    }
    int finished = 0, stopped = 0;
    for (int i = 0; i < r.n_runs; i++) {
        finished += nl_results_run_finished(&r.runs[i]);
        stopped += !strcmp(r.runs[i].status, nl_sweep_state_name(NL_SWEEP_STOPPED));
    }
    const bool percent = is_fraction(spec->metric);
    char early[96] = "";
    if (stopped) /* by the sweep's stop rule: no result, never a finished run */
        snprintf(early, sizeof early, ", %d stopped early by the sweep's stop rule", stopped);
    nl_buf_printf(md, "%s%s per cell in %s (%d of %d runs finished%s; failed and unfinished runs left out):"
                  "\n\n", spec->metric, percent ? " (%)" : "", dir, finished, r.n_runs, early);
    /* rows of summary.csv the table could not read: said, not dropped */
    for (const char *w = r.warnings; *w;) {
        const size_t len = strcspn(w, "\n");
        nl_buf_printf(md, "Warning: %.*s.\n\n", (int)len, w);
        if (notes)
            nl_buf_printf(notes, "%.*s\n", (int)len, w);
        w += len + (w[len] == '\n');
    }
    if (csv) {
        nl_buf_printf(csv, "table");
        for (int k = 0; k < n_keys; k++)
            csv_text(csv, r.keys[keys[k]]);
        nl_buf_printf(csv, ",n,diverged,%s_mean,%s_sd,%s_ci95_low,%s_ci95_high,wins,pooled,interval,%s_geomean,"
                      "%s_logitmean\n", spec->metric, spec->metric, spec->metric, spec->metric, spec->metric,
                      spec->metric);
    }
    nl_buf left = {0};
    write_cells(&r, spec, metric, keys, n_keys, md, csv, notes, &left);
    if (pair_key >= 0)
        write_pairs(&r, spec, metric, keys, n_keys, pair_key, md, csv, &left);
    /* values left out of a mean: under the tables (a line inside one
     * would break it) and among the notes (normlab table's warnings) */
    for (const char *w = left.data ? left.data : ""; *w;) {
        const size_t len = strcspn(w, "\n");
        nl_buf_printf(md, "%sNote: %.*s.\n", w == left.data ? "\n" : "", (int)len, w);
        if (notes)
            nl_buf_printf(notes, "%.*s\n", (int)len, w);
        w += len + (w[len] == '\n');
    }
    const bool left_failed = left.failed;
    nl_buf_free(&left);
    if (md->failed || (csv && csv->failed) || (notes && notes->failed) || left_failed)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory building the table");
done:
    nl_results_free(&r);
    return rc;
}
