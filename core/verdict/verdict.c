/* normlab verdict's computation: the runs of each claim's cells from
 * summary.csv (the plots' CSV reader), the metric per seed, the statistics
 * (stats/stats.h) and the verdict. */
#include "verdict/verdict.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/internal.h"
#include "stats/stats.h"

const char *const nl_verdict_kind_names[NL_VERDICT_KIND_COUNT] = {"holds", "does not hold", "inconclusive"};

typedef struct {
    const char *dir;
    const nl_claim_set *set;
    pl_table t;
    int status_col, seed_col;
    const nl_verdict_options *opt;
    nl_error *err;
} ctx;

/* "FILE:LINE:COL: claims[i].KEY: message", NL_ERR_CONFIG */
static nl_code claim_fail(const ctx *C, const nl_claim *c, int line, int column, const char *key, const char *fmt,
                          ...) __attribute__((format(printf, 6, 7)));
static nl_code claim_fail(const ctx *C, const nl_claim *c, int line, int column, const char *key, const char *fmt,
                          ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nl_fail(C->err, NL_ERR_CONFIG, "%s:%d:%d: claims[%d].%s: %s", C->set->path, line ? line : c->line,
                   line ? column : c->column, (int)(c - C->set->claims), key, msg);
}

/* summary.csv's key columns are those between run and status */
static int key_col(const ctx *C, const char *key)
{
    for (int k = 1; k < C->status_col; k++)
        if (!strcmp(C->t.header[k], key))
            return k;
    return -1;
}

/* a selector's value against a cell: the same text, or the same number */
static bool same_value(const char *want, const char *have)
{
    if (!strcmp(want, have))
        return true;
    char *e1, *e2;
    const double a = strtod(want, &e1), b = strtod(have, &e2);
    return e1 != want && !*e1 && e2 != have && !*e2 && a == b;
}

static bool row_matches(const ctx *C, int row, const nl_claim_select *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!same_value(s[i].value, C->t.rows[row][key_col(C, s[i].key)]))
            return false;
    return true;
}

/* every selector names a key of the sweep and a value some run has */
static nl_code check_selectors(const ctx *C, const nl_claim *c, const char *what, const nl_claim_select *s, int n)
{
    for (int i = 0; i < n; i++) {
        char key[160], have[512] = "";
        snprintf(key, sizeof key, "%s.%s", what, s[i].key);
        const int col = key_col(C, s[i].key);
        if (col < 0) {
            for (int k = 1; k < C->status_col; k++)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", k > 1 ? ", " : "", C->t.header[k]);
            return claim_fail(C, c, s[i].line, s[i].column, key, "no run of %s varies '%s'; its keys: %s", C->dir,
                              s[i].key, have);
        }
        bool found = false;
        for (int r = 0; r < C->t.n_rows && !found; r++)
            found = same_value(s[i].value, C->t.rows[r][col]);
        if (!found) {
            for (int r = 0; r < C->t.n_rows && strlen(have) + 40 < sizeof have; r++) {
                bool earlier = false;
                for (int q = 0; q < r && !earlier; q++)
                    earlier = !strcmp(C->t.rows[q][col], C->t.rows[r][col]);
                if (!earlier)
                    snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", have[0] ? ", " : "",
                             C->t.rows[r][col]);
            }
            return claim_fail(C, c, s[i].line, s[i].column, key, "no run of %s has %s=%s; its values: %s", C->dir,
                              s[i].key, s[i].value, have);
        }
    }
    return NL_OK;
}

/* ---- the metric ---- */

static void run_path(const ctx *C, int row, const char *file, char *out, size_t size)
{
    snprintf(out, size, "%s/runs/%s/%s", C->dir, C->t.rows[row][0], file);
}

/* the run's file's column over the rows matching where:, reduced by at: */
static double file_metric(const ctx *C, const nl_claim_metric *c, int row, bool *has_column)
{
    char path[2400];
    run_path(C, row, c->file, path, sizeof path);
    pl_table t;
    nl_error ignored = {0};
    *has_column = false;
    if (!nl_path_exists(path) || pl_table_read(path, &t, &ignored) != NL_OK)
        return NAN;
    const int col = pl_table_col(&t, c->name);
    int where_col[NL_CLAIM_MAX_SELECT];
    bool ok = col >= 0;
    for (int w = 0; w < c->n_where; w++)
        ok &= (where_col[w] = pl_table_col(&t, c->where[w].key)) >= 0;
    *has_column = ok;
    double acc = NAN, sum = 0;
    int n = 0;
    for (int r = 0; ok && r < t.n_rows; r++) {
        bool keep = true;
        for (int w = 0; w < c->n_where && keep; w++)
            keep = same_value(c->where[w].value, t.rows[r][where_col[w]]);
        const double v = pl_num(t.rows[r][col]);
        if (!keep || isnan(v))
            continue;
        sum += v;
        n++;
        if (c->at == NL_AT_LAST || n == 1)
            acc = v;
        else if (c->at == NL_AT_MIN)
            acc = fmin(acc, v);
        else if (c->at == NL_AT_MAX)
            acc = fmax(acc, v);
    }
    pl_table_free(&t);
    return c->at == NL_AT_MEAN && n ? sum / n : acc;
}

/* a number of the run's summary.json, or a string of it into text */
static double json_value(const ctx *C, int row, const char *key, char *text, size_t size)
{
    char path[2400], *json = NULL, value[256];
    run_path(C, row, "summary.json", path, sizeof path);
    nl_error ignored = {0};
    text[0] = '\0';
    if (nl_read_file(path, &json, NULL, &ignored) != NL_OK)
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

/* the metric of the run in summary.csv's row; NaN when the run has none */
static double run_metric(const ctx *C, const nl_claim_metric *c, int row)
{
    if (c->file[0]) {
        bool has_column;
        return file_metric(C, c, row, &has_column);
    }
    const int col = pl_table_col(&C->t, c->name);
    if (col > C->status_col)
        return pl_num(C->t.rows[row][col]);
    char text[256];
    return json_value(C, row, c->name, text, sizeof text);
}

/* some run of the sweep has the metric: a summary.csv column, a
 * summary.json number, or the file's column */
static nl_code check_metric(const ctx *C, const nl_claim *claim, const nl_claim_metric *c, const char *key)
{
    if (!c->file[0] && pl_table_col(&C->t, c->name) > C->status_col)
        return NL_OK;
    for (int r = 0; r < C->t.n_rows; r++) {
        bool has_column = false;
        if (c->file[0])
            file_metric(C, c, r, &has_column);
        if (has_column || (!c->file[0] && !isnan(run_metric(C, c, r))))
            return NL_OK;
    }
    char have[1024] = "";
    for (int k = C->status_col + 1; k < C->t.n_cols; k++)
        snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", have[0] ? ", " : "", C->t.header[k]);
    if (c->file[0])
        return claim_fail(C, claim, c->line, c->column, key, "no run of %s has a %s with column '%s'%s", C->dir, c->file,
                          c->name, c->n_where ? " and the where: columns" : "");
    return claim_fail(C, claim, c->line, c->column, key, "no run of %s has the metric '%s' (not a summary.csv "
                      "column, nor a number in its runs' summary.json); summary.csv's: %s", C->dir, c->name, have);
}

/* ---- cells: the runs a claim compares, one per seed ---- */

#define MAX_SEEDS 256

typedef struct {
    int n;
    int rows[MAX_SEEDS];
    char label[512];
} cell;

static const char *seed_of(const ctx *C, int row)
{
    return C->seed_col >= 0 ? C->t.rows[row][C->seed_col] : "-";
}

static void add_label(char *label, size_t size, const nl_claim_select *s, int n)
{
    for (int i = 0; i < n; i++)
        snprintf(label + strlen(label), size - strlen(label), "%s%s=%s", label[0] ? ", " : "", s[i].key, s[i].value);
}

/* the runs of the cell `what` (a or b): scope, the each: value and its own selectors */
static nl_code collect_cell(const ctx *C, const nl_claim *c, const nl_claim_select *each, const char *what,
                            const nl_claim_select *sel, int n_sel, cell *out)
{
    out->n = 0;
    out->label[0] = '\0';
    /* a cell that selects the each: key itself keeps its own value (the
     * reference every value is compared with) */
    for (int i = 0; each && i < n_sel; i++)
        if (!strcmp(sel[i].key, each->key))
            each = NULL;
    add_label(out->label, sizeof out->label, sel, n_sel);
    add_label(out->label, sizeof out->label, c->scope, c->n_scope);
    add_label(out->label, sizeof out->label, each, each ? 1 : 0);
    for (int r = 0; r < C->t.n_rows; r++) {
        if (!row_matches(C, r, sel, n_sel) || !row_matches(C, r, c->scope, c->n_scope) ||
            (each && !row_matches(C, r, each, 1)))
            continue;
        for (int i = 0; i < out->n; i++) {
            const int other = out->rows[i];
            if (strcmp(seed_of(C, other), seed_of(C, r)))
                continue;
            int k = 1;
            while (k < C->status_col && (k == C->seed_col || !strcmp(C->t.rows[other][k], C->t.rows[r][k])))
                k++;
            return claim_fail(C, c, 0, 0, what, "cell %s (%s) holds two runs of seed %s, %s and %s, which differ "
                              "in %s: name it in %s:, scope: or each:", what, out->label, seed_of(C, r),
                              C->t.rows[other][0], C->t.rows[r][0], k < C->status_col ? C->t.header[k] : "?", what);
        }
        if (out->n == MAX_SEEDS)
            return claim_fail(C, c, 0, 0, what, "more than %d seeds", MAX_SEEDS);
        out->rows[out->n++] = r;
    }
    if (out->n == 0)
        return claim_fail(C, c, 0, 0, what, "cell %s (%s) has no runs in %s", what, out->label, C->dir);
    return NL_OK;
}

static bool finished(const ctx *C, int row)
{
    const char *s = C->t.rows[row][C->status_col];
    return !strcmp(s, "ok") || !strcmp(s, "diverged");
}

/* the commits, kernel sets and thread counts of the runs, each distinct value once */
static void add_distinct(char *list, size_t size, const char *value)
{
    char padded[300], in[300];
    snprintf(padded, sizeof padded, " %s ", value);
    snprintf(in, sizeof in, " %s ", list);
    if (value[0] && !strstr(in, padded))
        snprintf(list + strlen(list), size - strlen(list), "%s%s", list[0] ? " " : "", value);
}

static void provenance(const ctx *C, const cell *cl, nl_verdict *v)
{
    for (int i = 0; i < cl->n; i++) {
        char text[256];
        json_value(C, cl->rows[i], "git_commit", text, sizeof text);
        add_distinct(v->commits, sizeof v->commits, text);
        json_value(C, cl->rows[i], "cpu_kernels", text, sizeof text);
        add_distinct(v->kernels, sizeof v->kernels, text);
        json_value(C, cl->rows[i], "threads", text, sizeof text);
        add_distinct(v->threads, sizeof v->threads, text);
    }
    v->mixed_commits = strchr(v->commits, ' ') != NULL;
}

static void add_value(char *list, size_t size, const char *seed, double value)
{
    snprintf(list + strlen(list), size - strlen(list), "%s%s:%.6g", list[0] ? " " : "", seed, value);
}

static void add_note(nl_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(nl_verdict *v, const char *fmt, ...)
{
    const size_t used = strlen(v->note);
    if (used)
        snprintf(v->note + used, sizeof v->note - used, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->note + strlen(v->note), sizeof v->note - strlen(v->note), fmt, ap);
    va_end(ap);
}

/* ---- per seed ---- */

/* a's run of seed `seed`'s bad outcome (rate claims): 1, 0, or -1 when it has none */
static int bad_outcome(const ctx *C, const nl_claim *c, int row, double value)
{
    if (c->outcome_diverged && !strcmp(C->t.rows[row][C->status_col], "diverged"))
        return 1;
    if (c->outcome_op < 0 || isnan(value))
        return c->outcome_op < 0 ? 0 : -1;
    return c->outcome_op == NL_EXPECT_GREATER ? value > c->outcome_x : value < c->outcome_x;
}

/* b's run of a seed, or -1 */
static int partner(const ctx *C, const cell *b, const char *seed)
{
    for (int j = 0; j < b->n; j++)
        if (!strcmp(seed_of(C, b->rows[j]), seed))
            return b->rows[j];
    return -1;
}

/* the claim's per-seed effects into x: a - b, a / b, a, or (rate) 1 for a
 * bad outcome and 0 for none; seeds without one are noted */
static int effects(const ctx *C, const nl_claim *c, const cell *a, const cell *b, double *x, nl_verdict *v)
{
    int n = 0;
    for (int i = 0; i < a->n; i++) {
        const int row = a->rows[i];
        const char *seed = seed_of(C, row);
        if (!finished(C, row)) {
            add_note(v, "seed %s: a's run is %s", seed, C->t.rows[row][C->status_col]);
            continue;
        }
        const double va = run_metric(C, &c->metric, row);
        const int bad = c->effect == NL_EFFECT_RATE ? bad_outcome(C, c, row, va) : 0;
        if ((c->effect == NL_EFFECT_RATE && bad < 0) || (c->effect != NL_EFFECT_RATE && isnan(va))) {
            add_note(v, "seed %s: a's run has no %s", seed, c->metric.name);
            continue;
        }
        add_value(v->a_values, sizeof v->a_values, seed, va);
        if (c->effect == NL_EFFECT_RATE || c->effect == NL_EFFECT_VALUE) {
            x[n++] = c->effect == NL_EFFECT_RATE ? bad : va;
            continue;
        }
        const int other = partner(C, b, seed);
        const double vb = other >= 0 && finished(C, other) ? run_metric(C, &c->b_metric, other) : NAN;
        if (isnan(vb)) {
            add_note(v, "seed %s: b has no %s run to pair with", seed, other < 0 ? "" : "finished");
            continue;
        }
        add_value(v->b_values, sizeof v->b_values, seed, vb);
        x[n++] = c->effect == NL_EFFECT_DIFFERENCE ? va - vb : va / vb;
    }
    return n;
}

/* ---- the statistics ---- */

/* one-sided p of mean(x) beyond t (greater) or below it */
static double side_p(const double *x, int n, double t, bool greater, const nl_verdict_options *opt)
{
    if (n > NL_VERDICT_EXACT_MAX_N)
        return nl_stats_bootstrap(x, n, t, greater, opt->level, opt->resamples, opt->seed).p;
    double mean, sd;
    nl_stats_mean_sd(x, n, &mean, &sd);
    const double se = sd / sqrt(n);
    if (!(se > 0))
        return (greater ? mean > t : mean < t) ? 0 : 1;
    const double cdf = nl_stats_t_cdf((mean - t) / se, n - 1);
    return greater ? 1 - cdf : cdf;
}

/* the p of the expectation: one side, or both sides of the band for ~ (two one-sided tests) */
static double expect_p(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, bool exact)
{
    const double t = c->threshold, w = c->within;
    if (exact) {
        if (c->op != NL_EXPECT_WITHIN)
            return nl_stats_sign_flip_p(x, n, t, c->op == NL_EXPECT_GREATER);
        return fmax(nl_stats_sign_flip_p(x, n, t - w, 1), nl_stats_sign_flip_p(x, n, t + w, 0));
    }
    if (c->op != NL_EXPECT_WITHIN)
        return side_p(x, n, t, c->op == NL_EXPECT_GREATER, opt);
    return fmax(side_p(x, n, t - w, true, opt), side_p(x, n, t + w, false, opt));
}

static bool on_claimed_side(const nl_claim *c, double x)
{
    /* 0.212 - 0.222 is -0.010000000000000009: within 0.01 as written */
    if (c->op == NL_EXPECT_WITHIN)
        return fabs(x - c->threshold) <= c->within * (1 + 1e-9) + 1e-12;
    return c->op == NL_EXPECT_GREATER ? x > c->threshold : x < c->threshold;
}

static void decide_mean(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, nl_verdict *v)
{
    nl_stats_mean_sd(x, n, &v->effect, &v->sd);
    for (int i = 0; i < n; i++)
        v->agree += on_claimed_side(c, x[i]);
    if (n < 2) {
        snprintf(v->method, sizeof v->method, "none (n < 2)");
        return;
    }
    if (n <= NL_VERDICT_EXACT_MAX_N) {
        const double half = nl_stats_t_quantile(1 - (1 - opt->level) / 2, n - 1) * v->sd / sqrt(n);
        v->lo = v->effect - half;
        v->hi = v->effect + half;
        v->sign_flip_p = expect_p(c, x, n, opt, true);
        snprintf(v->method, sizeof v->method, "t; exact sign-flip");
    } else {
        const nl_stats_boot b = nl_stats_bootstrap(x, n, c->threshold, true, opt->level, opt->resamples, opt->seed);
        v->lo = b.lo;
        v->hi = b.hi;
        snprintf(v->method, sizeof v->method, "bootstrap %d, seed %llu", opt->resamples,
                 (unsigned long long)opt->seed);
    }
    v->p = expect_p(c, x, n, opt, false);
}

static void decide_rate(const nl_claim *c, const double *x, int n, const nl_verdict_options *opt, nl_verdict *v)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += x[i] > 0;
    v->agree = k;
    if (n < 1) {
        snprintf(v->method, sizeof v->method, "none (n = 0)");
        return;
    }
    v->effect = (double)k / n;
    const double r = fmin(0.9, fmax(0.1, v->effect));
    v->sd = sqrt(r * (1 - r));
    nl_stats_clopper_pearson(k, n, opt->level, &v->lo, &v->hi);
    v->p = c->op == NL_EXPECT_GREATER ? nl_stats_binom_sf(k, n, c->threshold)
                                      : 1 - nl_stats_binom_sf(k + 1, n, c->threshold);
    snprintf(v->method, sizeof v->method, "Clopper-Pearson; exact binomial");
}

/* the verdict once Holm's correction has given p_holm */
static void decide(const nl_claim *c, const nl_verdict_options *opt, nl_verdict *v)
{
    const double alpha = (1 - opt->level) / 2, t = c->threshold, w = c->within;
    v->seeds_needed = -1;
    bool fails;
    if (c->op == NL_EXPECT_WITHIN)
        fails = v->lo > t + w || v->hi < t - w;
    else
        fails = c->op == NL_EXPECT_GREATER ? v->hi < t : v->lo > t;
    if (v->p_holm <= alpha) {
        v->verdict = NL_VERDICT_HOLDS;
    } else if (fails) {
        v->verdict = NL_VERDICT_FAILS;
    } else {
        v->verdict = NL_VERDICT_INCONCLUSIVE;
        const double off = fabs(v->effect - t);
        v->seeds_needed = nl_stats_seeds_needed(v->sd, c->op == NL_EXPECT_WITHIN ? fabs(w - off) : off, opt->level);
        /* the normal approximation's n can fall below the n that was not enough */
        if (v->seeds_needed >= 0 && v->seeds_needed <= v->n)
            v->seeds_needed = v->n + 1;
    }
}

/* ---- the claims ---- */

static nl_code evaluate(const ctx *C, const nl_claim *c, const nl_claim_select *each, nl_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->claim = c;
    v->effect = v->sd = v->lo = v->hi = v->sign_flip_p = NAN;
    v->p = 1;
    snprintf(v->id, sizeof v->id, "%s", c->id);
    if (each)
        snprintf(v->id + strlen(v->id), sizeof v->id - strlen(v->id), "[%s=%s]", each->key, each->value);
    cell a, b = {0};
    nl_code rc = collect_cell(C, c, each, "a", c->a, c->n_a, &a);
    if (rc == NL_OK && c->has_b)
        rc = collect_cell(C, c, each, "b", c->n_b || !c->has_b_metric ? c->b : c->a, c->n_b || !c->has_b_metric ? c->n_b : c->n_a, &b);
    if (rc)
        return rc;
    nl_copy_string(v->a_label, sizeof v->a_label, a.label);
    nl_copy_string(v->b_label, sizeof v->b_label, b.label);
    double x[MAX_SEEDS];
    v->n = effects(C, c, &a, &b, x, v);
    provenance(C, &a, v);
    provenance(C, &b, v);
    if (c->effect == NL_EFFECT_RATE)
        decide_rate(c, x, v->n, C->opt, v);
    else
        decide_mean(c, x, v->n, C->opt, v);
    return NL_OK;
}

/* the values of the each: key among the runs in the claim's scope, in summary.csv's order */
static int each_values(const ctx *C, const nl_claim *c, nl_claim_select *out, int max)
{
    const int col = key_col(C, c->each);
    int n = 0;
    for (int r = 0; r < C->t.n_rows && n < max; r++) {
        if (!row_matches(C, r, c->scope, c->n_scope))
            continue;
        bool seen = false;
        for (int i = 0; i < n && !seen; i++)
            seen = !strcmp(out[i].value, C->t.rows[r][col]);
        if (!seen) {
            out[n] = (nl_claim_select){.line = c->each_line, .column = c->each_column};
            nl_copy_string(out[n].key, sizeof out[n].key, c->each);
            nl_copy_string(out[n].value, sizeof out[n].value, C->t.rows[r][col]);
            n++;
        }
    }
    return n;
}

static nl_code check_claim(const ctx *C, const nl_claim *c)
{
    nl_code rc;
    if ((rc = check_selectors(C, c, "scope", c->scope, c->n_scope)) || (rc = check_selectors(C, c, "a", c->a, c->n_a)) ||
        (rc = check_selectors(C, c, "b", c->b, c->n_b)))
        return rc;
    if (c->each[0] && key_col(C, c->each) < 0)
        return claim_fail(C, c, c->each_line, c->each_column, "each", "no run of %s varies '%s'", C->dir, c->each);
    if ((rc = check_metric(C, c, &c->metric, "metric")))
        return rc;
    return c->has_b_metric ? check_metric(C, c, &c->b_metric, "b_metric") : NL_OK;
}

/* whether the selectors pick `one`'s key and value */
static bool selects(const nl_claim_select *s, int n, const nl_claim_select *one)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s[i].key, one->key) && same_value(s[i].value, one->value))
            return true;
    return false;
}

static nl_code add_claim(const ctx *C, const nl_claim *c, nl_verdict_report *out)
{
    nl_claim_select each[64];
    const int n_each = c->each[0] ? each_values(C, c, each, 64) : 1;
    nl_verdict *grown = realloc(out->v, (size_t)(out->n + n_each) * sizeof *grown);
    if (!grown)
        return nl_fail(C->err, NL_ERR_NOMEM, "out of memory");
    out->v = grown;
    for (int i = 0; i < n_each; i++) {
        if (c->each[0] && selects(c->b, c->n_b, &each[i]))
            continue; /* the reference against itself */
        const nl_code rc = evaluate(C, c, c->each[0] ? &each[i] : NULL, &out->v[out->n]);
        if (rc)
            return rc;
        out->n++;
    }
    return NL_OK;
}

static nl_code open_summary(ctx *C)
{
    char path[1200];
    nl_path_join(path, sizeof path, C->dir, "summary.csv");
    if (!nl_path_exists(path))
        return nl_fail(C->err, NL_ERR_USAGE, "%s is not a sweep directory (no summary.csv)", C->dir);
    nl_code rc = pl_table_read(path, &C->t, C->err);
    if (rc)
        return rc;
    C->status_col = pl_table_col(&C->t, "status");
    if (pl_table_col(&C->t, "run") != 0 || C->status_col < 1) {
        pl_table_free(&C->t);
        return nl_fail(C->err, NL_ERR_DATA, "%s is not a normlab sweep summary (no run and status columns)", path);
    }
    C->seed_col = -1;
    for (int k = 1; k < C->status_col; k++)
        if (pl_is_seed_key(C->t.header[k]))
            C->seed_col = k;
    return NL_OK;
}

nl_code nl_verdict_compute(const char *sweep_dir, const nl_claim_set *claims, const nl_verdict_options *opt,
                           nl_verdict_report *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    nl_copy_string(out->sweep_dir, sizeof out->sweep_dir, sweep_dir);
    nl_copy_string(out->experiment, sizeof out->experiment, claims->path);
    out->opt = *opt;
    ctx C = {.dir = out->sweep_dir, .set = claims, .opt = opt, .err = err};
    nl_code rc = open_summary(&C);
    if (rc)
        return rc;
    for (int i = 0; i < claims->n && rc == NL_OK; i++)
        rc = check_claim(&C, &claims->claims[i]);
    for (int i = 0; i < claims->n && rc == NL_OK; i++)
        rc = add_claim(&C, &claims->claims[i], out);
    pl_table_free(&C.t);
    if (rc) {
        nl_verdict_report_free(out);
        return rc;
    }
    double *p = malloc((size_t)(out->n + 1) * sizeof *p), *adjusted = malloc((size_t)(out->n + 1) * sizeof *p);
    if (!p || !adjusted) {
        free(p);
        free(adjusted);
        nl_verdict_report_free(out);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < out->n; i++)
        p[i] = out->v[i].p;
    nl_stats_holm(p, out->n, adjusted);
    for (int i = 0; i < out->n; i++) {
        out->v[i].p_holm = adjusted[i];
        decide(out->v[i].claim, opt, &out->v[i]);
    }
    free(p);
    free(adjusted);
    return NL_OK;
}

void nl_verdict_report_free(nl_verdict_report *r)
{
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

/* the experiment file whose name: is the sweep directory's name */
static bool names_sweep(const char *path, const char *name)
{
    nl_claim_set *set = malloc(sizeof *set);
    nl_error ignored = {0};
    const bool yes = set && nl_claims_load(path, set, &ignored) == NL_OK && !strcmp(set->name, name);
    free(set);
    return yes;
}

nl_code nl_verdict_find_experiment(const char *sweep_dir, const char *experiments_dir, char *path, size_t size,
                                   nl_error *err)
{
    char dir[1024], name[256];
    nl_copy_string(dir, sizeof dir, sweep_dir);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    const char *base = strrchr(dir, '/');
    nl_copy_string(name, sizeof name, base ? base + 1 : dir);
    snprintf(path, size, "%s/%s.yaml", experiments_dir, name);
    if (nl_path_exists(path) && names_sweep(path, name))
        return NL_OK;
    DIR *d = opendir(experiments_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml"))
            continue;
        snprintf(path, size, "%s/%s", experiments_dir, e->d_name);
        if (names_sweep(path, name)) {
            closedir(d);
            return NL_OK;
        }
    }
    if (d)
        closedir(d);
    return nl_fail(err, NL_ERR_USAGE, "no experiment file in %s/ names the sweep '%s' (%s); give it with "
                   "--experiment FILE", experiments_dir, name, sweep_dir);
}
