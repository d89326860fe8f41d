/* normlab verdict's computation (verdict/verdict.h): the runs of each
 * claim's cells (the sweep's, or another sweep's a cell names), one claim
 * per each: value combination or each_row: value, the per-unit effects
 * paired by seed, the statistics (verdict/decide.c), Holm's correction
 * over the experiment's claims, and the counts over cells (cells:). */
#include "verdict/verdict.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/files.h"
#include "stats/stats.h"
#include "verdict/internal.h"
#include "verdict/registered.h"
#include "results/summary_keys.h"

nl_code vd_claim_fail(const vd_ctx *C, const nl_claim *c, int line, int column, const char *key, const char *fmt,
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

static bool row_matches(const vd_source *s, int row, const nl_claim_select *sel, int n)
{
    for (int i = 0; i < n; i++)
        if (!vd_source_matches(s, row, &sel[i]))
            return false;
    return true;
}

/* "v1, v2, ..." of a key column, each once, into have (a normalizer by its
 * one name) */
static void key_values(const vd_source *s, int col, char *have, size_t size)
{
    have[0] = '\0';
    const bool norm = s->norm && col == vd_source_key_col(s, "model.norm.type");
    for (int r = 0; r < s->t.n_rows && strlen(have) + 40 < size; r++) {
        const char *v = norm ? s->norm[r] : s->t.rows[r][col];
        bool earlier = false;
        for (int q = 0; q < r && !earlier; q++)
            earlier = !strcmp(norm ? s->norm[q] : s->t.rows[q][col], v);
        if (!earlier)
            snprintf(have + strlen(have), size - strlen(have), "%s%s", have[0] ? ", " : "", v);
    }
}

/* every selector names a key of the source and a value some run has */
static nl_code check_selectors(const vd_ctx *C, const nl_claim *c, const vd_source *s, const char *what,
                               const nl_claim_select *sel, int n)
{
    for (int i = 0; i < n; i++) {
        char key[160], have[512] = "";
        snprintf(key, sizeof key, "%s.%s", what, sel[i].key);
        const int col = vd_source_key_col(s, sel[i].key);
        if (col < 0) {
            for (int k = 1; k < s->status_col; k++)
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", k > 1 ? ", " : "", s->t.header[k]);
            return vd_claim_fail(C, c, sel[i].line, sel[i].column, key, "no run of %s varies '%s'; its keys: %s",
                                 s->dir, sel[i].key, have);
        }
        bool found = false;
        for (int r = 0; r < s->t.n_rows && !found; r++)
            found = vd_source_matches(s, r, &sel[i]);
        if (!found) {
            key_values(s, col, have, sizeof have);
            char shown[256];
            nl_copy_string(shown, sizeof shown, sel[i].value);
            for (char *p = shown; *p; p++)
                *p = *p == '\n' && p[1] ? ',' : *p == '\n' ? '\0' : *p;
            return vd_claim_fail(C, c, sel[i].line, sel[i].column, key, "no run of %s has %s=%s; its values: %s",
                                 s->dir, sel[i].key, shown, have);
        }
    }
    return NL_OK;
}

/* ---- cells: the runs a claim compares, one per seed ---- */

typedef struct {
    const vd_source *src;
    int n;
    int rows[VD_MAX_SEEDS];
    char label[512];
} cell;

static void add_label(char *label, size_t size, const nl_claim_select *s, int n)
{
    for (int i = 0; i < n; i++) {
        snprintf(label + strlen(label), size - strlen(label), "%s%s=", label[0] ? ", " : "", s[i].key);
        for (const char *p = s[i].value; *p; p++)
            snprintf(label + strlen(label), size - strlen(label), "%c",
                     *p != '\n' ? *p : p[1] ? '|' : '\0');
    }
}

/* the each: selectors the cell keeps: those whose key the cell does not
 * select itself and its source varies (another sweep may not) */
static int each_kept(const nl_claim_cell *cl, const vd_source *s, const vd_slice *sl, nl_claim_select *out)
{
    int n = 0;
    for (int e = 0; sl && e < sl->n_each; e++) {
        bool own = vd_source_key_col(s, sl->each[e].key) < 0;
        for (int i = 0; i < cl->n; i++)
            own |= !strcmp(cl->sel[i].key, sl->each[e].key);
        if (!own)
            out[n++] = sl->each[e];
    }
    return n;
}

/* the scope: selectors a cell of this sweep keeps: those whose key it does not select itself */
static int scope_kept(const nl_claim *c, const nl_claim_cell *cl, nl_claim_select *out)
{
    int n = 0;
    for (int k = 0; !cl->sweep[0] && k < c->n_scope; k++) {
        bool own = false;
        for (int i = 0; i < cl->n; i++)
            own |= !strcmp(cl->sel[i].key, c->scope[k].key);
        if (!own)
            out[n++] = c->scope[k];
    }
    return n;
}

static nl_code two_runs(const vd_ctx *C, const nl_claim *c, const char *what, const cell *out, int other, int r)
{
    const vd_source *s = out->src;
    int k = 1;
    while (k < s->status_col && (k == s->seed_col || !strcmp(s->t.rows[other][k], s->t.rows[r][k])))
        k++;
    return vd_claim_fail(C, c, 0, 0, what, "cell %s (%s) holds two runs of seed %s, %s and %s, which differ in %s: "
                         "name it in %s:, scope: or each:", what, out->label, vd_source_seed(s, r), s->t.rows[other][0], s->t.rows[r][0],
                         k < s->status_col ? s->t.header[k] : "?", what);
}

/* the runs of cell k: its selectors, and (a cell of this sweep) scope: and the each: values */
static nl_code collect_cell(const vd_ctx *C, const nl_claim *c, const vd_slice *sl, int k, cell *out)
{
    const nl_claim_cell *cl = &c->cells[k];
    const char *what = nl_cell_names[k];
    nl_claim_select each[NL_CLAIM_MAX_EACH], scope[NL_CLAIM_MAX_SELECT];
    out->src = vd_cell_source(C, cl);
    const int n_each = each_kept(cl, out->src, sl, each), n_scope = scope_kept(c, cl, scope);
    out->n = 0;
    out->label[0] = '\0';
    if (cl->sweep[0])
        snprintf(out->label, sizeof out->label, "sweep=%s", cl->sweep);
    add_label(out->label, sizeof out->label, cl->sel, cl->n);
    add_label(out->label, sizeof out->label, scope, n_scope);
    add_label(out->label, sizeof out->label, each, n_each);
    const vd_source *s = out->src;
    for (int r = 0; r < s->t.n_rows; r++) {
        if (!row_matches(s, r, cl->sel, cl->n) || !row_matches(s, r, scope, n_scope) ||
            !row_matches(s, r, each, n_each))
            continue;
        for (int i = 0; i < out->n; i++)
            if (!strcmp(vd_source_seed(s, out->rows[i]), vd_source_seed(s, r)))
                return two_runs(C, c, what, out, out->rows[i], r);
        if (out->n == VD_MAX_SEEDS)
            return vd_claim_fail(C, c, 0, 0, what, "more than %d seeds", VD_MAX_SEEDS);
        out->rows[out->n++] = r;
    }
    if (out->n == 0)
        return vd_claim_fail(C, c, 0, 0, what, "cell %s (%s) has no runs in %s", what, out->label, s->dir);
    return NL_OK;
}

static bool finished(const vd_source *s, int row)
{
    const char *st = s->t.rows[row][s->status_col];
    return !strcmp(st, "ok") || !strcmp(st, "diverged");
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

/* each value of a space-separated list, once */
static void add_each(char *list, size_t size, const char *values)
{
    char one[256];
    for (const char *p = values; *p;) {
        const size_t len = strcspn(p, " ");
        if (len && len < sizeof one) {
            memcpy(one, p, len);
            one[len] = '\0';
            add_distinct(list, size, one);
        }
        p += len + (p[len] == ' ');
    }
}

/* one run (seed `seeds`) of the row whose first committed version is (added, recorded), into its group */
static void add_first_group(nl_verdict *v, const char *added, const char *recorded, const char *seeds)
{
    int g = 0;
    while (g < v->n_first && (strcmp(v->first[g].added, added) || strcmp(v->first[g].recorded, recorded)))
        g++;
    if (g == NL_VERDICT_MAX_FIRST) {
        v->first_overflow = true;
        return;
    }
    if (g == v->n_first) {
        memset(&v->first[g], 0, sizeof v->first[g]);
        nl_copy_string(v->first[g].added, sizeof v->first[g].added, added);
        nl_copy_string(v->first[g].recorded, sizeof v->first[g].recorded, recorded);
        v->n_first++;
    }
    add_each(v->first[g].seeds, sizeof v->first[g].seeds, seeds);
}

/* the cell's runs git tracks, by their first committed version */
static void first_committed(const cell *cl, nl_verdict *v)
{
    const vd_source *s = cl->src;
    const size_t dir_len = strlen(s->dir);
    for (int i = 0; s->first_runs && i < cl->n; i++) {
        char path[2400];
        const char *added, *recorded;
        if (vd_source_run_file(s, cl->rows[i], NL_RUN_SUMMARY_FILE, path, sizeof path) &&
            !strncmp(path, s->dir, dir_len) && path[dir_len] == '/' &&
            nl_first_run_of(s->first_runs, path + dir_len + 1, &added, &recorded)) {
            char own[64] = "";
            if (added[0] && !recorded[0]) /* first committed in a pack: the commit it records */
                vd_json_value(s, cl->rows[i], NL_SUMMARY_GIT_COMMIT, own, sizeof own);
            add_first_group(v, added, own[0] ? own : recorded, vd_source_seed(s, cl->rows[i]));
        }
    }
}

static void provenance(const cell *cl, nl_verdict *v)
{
    first_committed(cl, v);
    static const char *const keys[] = {NL_SUMMARY_GIT_COMMIT, NL_SUMMARY_CPU_KERNELS, NL_SUMMARY_THREADS};
    char *lists[] = {v->commits, v->kernels, v->threads};
    const size_t sizes[] = {sizeof v->commits, sizeof v->kernels, sizeof v->threads};
    for (int i = 0; i < cl->n; i++)
        for (int k = 0; k < 3; k++) {
            char text[256];
            vd_json_value(cl->src, cl->rows[i], keys[k], text, sizeof text);
            add_distinct(lists[k], sizes[k], text);
        }
    v->mixed_commits = strchr(v->commits, ' ') != NULL;
}

/* every seed's value fits: a list holds VD_MAX_SEEDS of the longest entry */
_Static_assert(NL_VERDICT_VALUES_SIZE >= VD_MAX_SEEDS * (1 + 20 + 1 + 13) + 1,
               "a verdict's value list must hold every seed a claim can have");

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

/* ---- per unit ---- */

typedef struct {
    const vd_ctx *C;
    const nl_claim *c;
    const vd_slice *slice;
    cell cells[NL_CELL_COUNT];
    nl_verdict *v;
} unit_ctx;

/* a's run of a rate claim: 1 for the bad outcome, 0 for none, -1 when it has no value */
static int bad_outcome(const nl_claim *c, const vd_source *s, int row, double value)
{
    if (c->outcome_diverged && !strcmp(s->t.rows[row][s->status_col], "diverged"))
        return 1;
    if (c->outcome_op < 0 || !isfinite(value))
        return c->outcome_op < 0 ? 0 : -1;
    return c->outcome_op == NL_EXPECT_GREATER ? value > c->outcome_x : value < c->outcome_x;
}

/* cell k's run of a seed, or -1 */
static int partner(const cell *cl, const char *seed)
{
    for (int j = 0; j < cl->n; j++)
        if (!strcmp(vd_source_seed(cl->src, cl->rows[j]), seed))
            return cl->rows[j];
    return -1;
}

/* cell k's value for a seed (b and d read b_metric); NaN noted when there
 * is none, or when it is not finite (inf, -inf, 1e400 read as inf, a sum
 * over a file's rows that overflowed): such a value is left out as NaN is,
 * no statistic over seeds means anything with it */
static double cell_value(unit_ctx *U, int k, const char *seed)
{
    const nl_claim *c = U->c;
    const cell *cl = &U->cells[k];
    const int row = partner(cl, seed);
    const bool b_side = k == NL_CELL_B || k == NL_CELL_D;
    const double v = row >= 0 && finished(cl->src, row)
                         ? vd_run_metric(U->C, c, cl->src, row, b_side ? &c->b_metric : &c->metric,
                                         b_side ? &c->b_metric_expr : &c->metric_expr, U->slice)
                         : NAN;
    if (isinf(v)) {
        add_note(U->v, "seed %s: %s's %s is %g, not a finite number", seed, nl_cell_names[k],
                 (b_side ? &c->b_metric : &c->metric)->name, v);
        return NAN;
    }
    if (isnan(v) && k > NL_CELL_A)
        add_note(U->v, "seed %s: %s has no %s run to pair with", seed, nl_cell_names[k], row < 0 ? "" : "finished");
    if (!isnan(v)) {
        char *lists[] = {U->v->a_values, U->v->b_values, U->v->c_values, U->v->d_values};
        add_value(lists[k], sizeof U->v->a_values, seed, v);
    }
    return v;
}

typedef struct {
    const double *values;
} cells_lookup;

static double lookup_cell(void *p, const char *name)
{
    const cells_lookup *L = p;
    for (int k = 0; k < NL_CELL_COUNT; k++)
        if (!strcmp(name, nl_cell_names[k]))
            return L->values[k];
    return NAN;
}

/* a seed's effect from its cells' values: a - b, a / b, a, or the
 * expression; NaN (noted) where it is not a finite number although its
 * cells are (a - b past a double's range, a ratio over 0, log(0)) */
static double unit_effect(unit_ctx *U, const char *seed, double va)
{
    const nl_claim *c = U->c;
    double values[NL_CELL_COUNT] = {va, NAN, NAN, NAN};
    for (int k = NL_CELL_B; k < NL_CELL_COUNT; k++)
        if (c->cells[k].given && isnan(values[k] = cell_value(U, k, seed)))
            return NAN;
    cells_lookup L = {values};
    const double x = c->effect == NL_EFFECT_VALUE        ? va
                     : c->effect == NL_EFFECT_DIFFERENCE ? va - values[NL_CELL_B]
                     : c->effect == NL_EFFECT_RATIO      ? va / values[NL_CELL_B]
                                                         : nl_expr_eval(&c->effect_expr, lookup_cell, &L);
    if (!isfinite(x)) {
        /* (NaN's sign is noise: 0/0 prints "-nan") */
        add_note(U->v, "seed %s: the effect is %s, not a finite number", seed,
                 isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
        return NAN;
    }
    if (c->effect == NL_EFFECT_COUNT)
        return vd_on_claimed_side(c, x);
    return x;
}

/* the claim's per-unit effects into x: the effect, or 1 for the outcome
 * and 0 for none (rate, count); units without one are noted */
static int effects(unit_ctx *U, double *x)
{
    const nl_claim *c = U->c;
    const cell *a = &U->cells[NL_CELL_A];
    int n = 0;
    for (int i = 0; i < a->n; i++) {
        const int row = a->rows[i];
        const char *seed = vd_source_seed(a->src, row);
        if (!finished(a->src, row)) {
            add_note(U->v, "seed %s: a's run is %s", seed, a->src->t.rows[row][a->src->status_col]);
            continue;
        }
        const double va = vd_run_metric(U->C, c, a->src, row, &c->metric, &c->metric_expr, U->slice);
        const int bad = c->effect == NL_EFFECT_RATE ? bad_outcome(c, a->src, row, va) : 0;
        /* (a diverged run is a rate's bad outcome whatever its value) */
        if (isinf(va) && (c->effect != NL_EFFECT_RATE || bad < 0)) {
            add_note(U->v, "seed %s: a's %s is %g, not a finite number", seed, c->metric.name, va);
            continue;
        }
        if ((c->effect == NL_EFFECT_RATE && bad < 0) || (c->effect != NL_EFFECT_RATE && isnan(va))) {
            add_note(U->v, "seed %s: a's run has no %s", seed, c->metric.name);
            continue;
        }
        add_value(U->v->a_values, sizeof U->v->a_values, seed, va);
        const double e = c->effect == NL_EFFECT_RATE ? bad : unit_effect(U, seed, va);
        if (!isnan(e))
            x[n++] = e;
    }
    return n;
}

/* A mean's statistics sum the seeds' effects in doubles: the mean and
 * each bootstrap resample add n of them (n times the largest |effect| at
 * most), the spread their squared distances from the mean. Finite effects
 * can still overflow there (1e308 and 1e308): then no statistic is
 * meaningful and the claim gets none, inconclusive with a note, as a claim
 * with too few seeds does. The 4: room for the sign-flip test's shift by
 * the threshold and the distances, each at most twice the largest. */
static void decide_mean(const vd_ctx *C, const nl_claim *c, const double *x, int n, nl_verdict *v)
{
    double most = 0;
    for (int i = 0; i < n; i++)
        most = fmax(most, fabs(x[i]));
    if (isfinite(4 * most * n)) {
        vd_decide_mean(c, x, n, C->opt, v);
        if (isfinite(v->effect) &&
            (n < NL_VERDICT_MIN_N || (isfinite(v->sd) && isfinite(v->lo) && isfinite(v->hi) && isfinite(v->p))))
            return;
    }
    v->effect = v->sd = v->lo = v->hi = v->sign_flip_p = v->p = v->p_fail = v->mc_error = NAN;
    snprintf(v->method, sizeof v->method, "none (sums overflow)");
    add_note(v, "the %d seeds' effects (largest |effect| %g) overflow a double when summed: no verdict", n,
             most);
}

/* ---- the claims ---- */

static void slice_id(const nl_claim *c, const vd_slice *sl, char *id, size_t size)
{
    snprintf(id, size, "%s", c->id);
    if (!sl || (!sl->n_each && !sl->has_row))
        return;
    snprintf(id + strlen(id), size - strlen(id), "[");
    for (int e = 0; e < sl->n_each; e++)
        snprintf(id + strlen(id), size - strlen(id), "%s%s=%s", e ? "," : "", sl->each[e].key, sl->each[e].value);
    if (sl->has_row)
        snprintf(id + strlen(id), size - strlen(id), "%s=%s", sl->row.key, sl->row.value);
    snprintf(id + strlen(id), size - strlen(id), "]");
}

static void verdict_init(nl_verdict *v, const nl_claim *c, const vd_slice *sl)
{
    memset(v, 0, sizeof *v);
    v->claim = c;
    v->effect = v->sd = v->lo = v->hi = v->sign_flip_p = NAN;
    v->p = v->p_holm = v->p_fail = v->p_fail_holm = v->mc_error = NAN;
    v->seeds_needed = v->seeds_power = -1;
    slice_id(c, sl, v->id, sizeof v->id);
}

static nl_code evaluate(const vd_ctx *C, const nl_claim *c, const vd_slice *sl, nl_verdict *v)
{
    verdict_init(v, c, sl);
    unit_ctx *U = calloc(1, sizeof *U);
    if (!U)
        return nl_fail(C->err, NL_ERR_NOMEM, "out of memory");
    *U = (unit_ctx){.C = C, .c = c, .slice = sl, .v = v};
    nl_code rc = NL_OK;
    char *labels[] = {v->a_label, v->b_label, v->c_label, v->d_label};
    for (int k = 0; k < NL_CELL_COUNT && rc == NL_OK; k++)
        if (c->cells[k].given && (rc = collect_cell(C, c, sl, k, &U->cells[k])) == NL_OK) {
            nl_copy_string(labels[k], sizeof v->a_label, U->cells[k].label);
            provenance(&U->cells[k], v);
        }
    double *x = rc == NL_OK ? malloc(VD_MAX_SEEDS * sizeof *x) : NULL;
    if (rc == NL_OK && !x)
        rc = nl_fail(C->err, NL_ERR_NOMEM, "out of memory");
    if (rc == NL_OK) {
        v->n = effects(U, x);
        if (c->effect == NL_EFFECT_RATE)
            vd_decide_rate(c, x, v->n, C->opt, v);
        else if (c->effect == NL_EFFECT_COUNT)
            vd_decide_count(c, x, v->n, v);
        else
            decide_mean(C, c, x, v->n, v);
    }
    free(x);
    free(U);
    return rc;
}

/* the combinations of the each: keys' values among the runs in the
 * claim's scope, in summary.csv's order */
static int each_slices(const vd_ctx *C, const nl_claim *c, vd_slice *out, int max)
{
    const vd_source *s = &C->main;
    int n = 0;
    for (int r = 0; r < s->t.n_rows && n < max; r++) {
        if (!row_matches(s, r, c->scope, c->n_scope))
            continue;
        vd_slice sl = {.n_each = c->n_each};
        for (int e = 0; e < c->n_each; e++) {
            sl.each[e] = (nl_claim_select){.kind = NL_SELECT_VALUE, .line = c->each_line, .column = c->each_column};
            nl_copy_string(sl.each[e].key, sizeof sl.each[e].key, c->each[e]);
            nl_copy_string(sl.each[e].value, sizeof sl.each[e].value,
                           s->t.rows[r][vd_source_key_col(s, c->each[e])]);
        }
        bool seen = false;
        for (int i = 0; i < n && !seen; i++) {
            seen = true;
            for (int e = 0; e < c->n_each; e++)
                seen &= !strcmp(out[i].each[e].value, sl.each[e].value);
        }
        if (!seen)
            out[n++] = sl;
    }
    return n;
}

/* each_row: a slice per value of the column in cell a's runs' files */
static nl_code row_slices(const vd_ctx *C, const nl_claim *c, vd_slice *out, int max, int *n)
{
    cell *a = malloc(sizeof *a);
    if (!a)
        return nl_fail(C->err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = collect_cell(C, c, NULL, NL_CELL_A, a);
    nl_claim_select *values = rc == NL_OK ? calloc((size_t)max, sizeof *values) : NULL;
    if (rc == NL_OK && !values)
        rc = nl_fail(C->err, NL_ERR_NOMEM, "out of memory");
    *n = rc == NL_OK ? vd_row_values(C, c, a->src, a->rows, a->n, values, max) : 0;
    for (int i = 0; i < *n; i++)
        out[i] = (vd_slice){.row = values[i], .has_row = true};
    if (rc == NL_OK && *n == 0)
        rc = vd_claim_fail(C, c, c->each_line, c->each_column, "each_row", "no row of cell a's runs' files has a "
                           "value in column '%s' (the metric's file and where:)", c->each_row);
    free(values);
    free(a);
    return rc;
}

/* whether a slice selects cell b itself (the reference against itself) */
static bool is_reference(const nl_claim *c, const vd_slice *sl)
{
    if (!sl || !sl->n_each || !c->cells[NL_CELL_B].given || c->cells[NL_CELL_B].sweep[0])
        return false;
    for (int e = 0; e < sl->n_each; e++) {
        bool selected = false;
        for (int i = 0; i < c->cells[NL_CELL_B].n; i++)
            selected |= !strcmp(c->cells[NL_CELL_B].sel[i].key, sl->each[e].key) &&
                        nl_claim_select_matches(&c->cells[NL_CELL_B].sel[i], sl->each[e].value);
        if (!selected)
            return false;
    }
    return true;
}

#define VD_MAX_SLICES 128

static nl_code grow(const vd_ctx *C, nl_verdict_report *out, int more)
{
    nl_verdict *grown = realloc(out->v, (size_t)(out->n + more) * sizeof *grown);
    if (!grown)
        return nl_fail(C->err, NL_ERR_NOMEM, "out of memory");
    out->v = grown;
    return NL_OK;
}

static nl_code add_slices(const vd_ctx *C, const nl_claim *c, const vd_slice *slices, int n, nl_verdict_report *out)
{
    nl_code rc = grow(C, out, n + 1);
    for (int i = 0; i < n && rc == NL_OK; i++) {
        if (slices && is_reference(c, &slices[i]))
            continue;
        if ((rc = evaluate(C, c, slices ? &slices[i] : NULL, &out->v[out->n])) == NL_OK)
            out->n++;
    }
    /* the count over the cells: a row after them */
    if (rc == NL_OK && c->cells_op != NL_CELLS_NONE) {
        verdict_init(&out->v[out->n], c, NULL);
        out->v[out->n].derived = true;
        out->n++;
    }
    return rc;
}

static nl_code add_claim(const vd_ctx *C, const nl_claim *c, nl_verdict_report *out)
{
    vd_slice *slices = NULL;
    int n = 1;
    nl_code rc = NL_OK;
    if (c->n_each || c->each_row[0]) {
        if (!(slices = calloc(VD_MAX_SLICES, sizeof *slices)))
            return nl_fail(C->err, NL_ERR_NOMEM, "out of memory");
        if (c->n_each)
            n = each_slices(C, c, slices, VD_MAX_SLICES);
        else
            rc = row_slices(C, c, slices, VD_MAX_SLICES, &n);
    }
    if (rc == NL_OK)
        rc = add_slices(C, c, slices, n, out);
    free(slices);
    return rc;
}

/* opens the sweep a cell names (once) */
static nl_code open_other(vd_ctx *C, const nl_claim *c, const nl_claim_cell *cell)
{
    if (!cell->given || !cell->sweep[0] || vd_cell_source(C, cell) != &C->main)
        return NL_OK;
    if (C->n_others == VD_MAX_OTHERS)
        return vd_claim_fail(C, c, cell->line, cell->column, "sweep", "at most %d other sweeps", VD_MAX_OTHERS);
    char dir[1300];
    snprintf(dir, sizeof dir, "%s/../%s", C->main.dir, cell->sweep);
    const char *slash = strrchr(C->main.dir, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s/%s", (int)(slash - C->main.dir), C->main.dir, cell->sweep);
    else
        snprintf(dir, sizeof dir, "%s", cell->sweep);
    nl_error inner = {0};
    if (vd_source_open(&C->others[C->n_others], dir, NULL, C->set->path, &inner) != NL_OK)
        return vd_claim_fail(C, c, cell->line, cell->column, "sweep", "%s", inner.msg);
    C->n_others++;
    return NL_OK;
}

static nl_code check_claim(vd_ctx *C, const nl_claim *c)
{
    nl_code rc = NL_OK;
    for (int k = 0; k < NL_CELL_COUNT && rc == NL_OK; k++)
        rc = open_other(C, c, &c->cells[k]);
    if (rc == NL_OK)
        rc = check_selectors(C, c, &C->main, "scope", c->scope, c->n_scope);
    for (int k = 0; k < NL_CELL_COUNT && rc == NL_OK; k++)
        if (c->cells[k].given)
            rc = check_selectors(C, c, vd_cell_source(C, &c->cells[k]), nl_cell_names[k], c->cells[k].sel,
                                 c->cells[k].n);
    for (int e = 0; e < c->n_each && rc == NL_OK; e++)
        if (vd_source_key_col(&C->main, c->each[e]) < 0)
            rc = vd_claim_fail(C, c, c->each_line, c->each_column, "each", "no run of %s varies '%s'", C->main.dir,
                               c->each[e]);
    return rc == NL_OK ? vd_check_metrics(C, c) : rc;
}

/* which standard decides row i: a count's none; a cell of a claim over
 * cells its own alpha; a headline claim (every claim where the experiment
 * names none) Holm's; any other its own alpha */
static nl_family family_of(const nl_verdict *v, bool any_headline)
{
    const nl_claim *c = v->claim;
    if (v->family == NL_FAMILY_DESCRIPTION || nl_claim_is_count(c))
        return v->derived || c->effect == NL_EFFECT_COUNT ? NL_FAMILY_DESCRIPTION : NL_FAMILY_CELL;
    if (c->cells_op == NL_CELLS_ALL && !v->derived)
        return NL_FAMILY_CELL;
    return c->headline || !any_headline ? NL_FAMILY_HEADLINE : NL_FAMILY_SECONDARY;
}

/* Holm's correction of one side's p's over the headline rows that have one */
static void holm_side(nl_verdict_report *out, const int *index, int k, bool fail_side, double *p, double *adjusted)
{
    for (int j = 0; j < k; j++)
        p[j] = fail_side ? out->v[index[j]].p_fail : out->v[index[j]].p;
    nl_stats_holm(p, k, adjusted);
    for (int j = 0; j < k; j++)
        *(fail_side ? &out->v[index[j]].p_fail_holm : &out->v[index[j]].p_holm) = adjusted[j];
}

/* the cells of claims over cells first (each at alpha), their rows over
 * cells, then Holm over the headline rows (both sides), then every verdict */
static nl_code correct_and_decide(const vd_ctx *C, nl_verdict_report *out)
{
    double *p = malloc((size_t)(out->n + 1) * sizeof *p), *adjusted = malloc((size_t)(out->n + 1) * sizeof *p);
    int *index = malloc((size_t)(out->n + 1) * sizeof *index);
    if (!p || !adjusted || !index) {
        free(p);
        free(adjusted);
        free(index);
        return nl_fail(C->err, NL_ERR_NOMEM, "out of memory");
    }
    const double alpha = (1 - C->opt->level) / 2;
    bool any_headline = false;
    for (int i = 0; i < C->set->n; i++)
        any_headline |= C->set->claims[i].headline;
    for (int i = 0; i < out->n; i++) {
        nl_verdict *v = &out->v[i];
        v->family = family_of(v, any_headline);
        out->seeds_run = v->derived || v->n < out->seeds_run ? out->seeds_run : v->n;
        if (v->family == NL_FAMILY_CELL) {
            v->p_holm = v->p;
            v->p_fail_holm = v->p_fail;
            vd_decide(v->claim, C->opt, alpha, v);
        }
    }
    for (int i = 0, first = 0; i < out->n; i++) {
        if (i && out->v[i].claim != out->v[i - 1].claim)
            first = i;
        if (!out->v[i].derived)
            continue;
        vd_decide_cells(out->v[i].claim, &out->v[first], i - first, &out->v[i]);
        /* a row over cells was made by its cells' runs */
        nl_verdict *v = &out->v[i];
        for (int j = first; j < i; j++) {
            add_each(v->commits, sizeof v->commits, out->v[j].commits);
            add_each(v->kernels, sizeof v->kernels, out->v[j].kernels);
            add_each(v->threads, sizeof v->threads, out->v[j].threads);
            for (int g = 0; g < out->v[j].n_first; g++)
                add_first_group(v, out->v[j].first[g].added, out->v[j].first[g].recorded, out->v[j].first[g].seeds);
            v->first_overflow |= out->v[j].first_overflow;
        }
        v->mixed_commits = strchr(v->commits, ' ') != NULL;
    }
    int k = 0;
    for (int i = 0; i < out->n; i++)
        if (out->v[i].family == NL_FAMILY_HEADLINE && !isnan(out->v[i].p))
            index[k++] = i;
    holm_side(out, index, k, false, p, adjusted);
    holm_side(out, index, k, true, p, adjusted);
    out->holm_k = k;
    for (int i = 0, first = 0; i < out->n; i++) {
        nl_verdict *v = &out->v[i];
        if (i && v->claim != out->v[i - 1].claim)
            first = i;
        if (v->family == NL_FAMILY_CELL || v->family == NL_FAMILY_DESCRIPTION)
            continue;
        if (v->family == NL_FAMILY_SECONDARY) {
            v->p_holm = v->p;
            v->p_fail_holm = v->p_fail;
        }
        /* power at Holm's strictest step for a headline claim (Bonferroni's alpha / k) */
        const double alpha_power = v->family == NL_FAMILY_HEADLINE && k > 1 ? alpha / k : alpha;
        if (v->derived)
            vd_decide_iut(v->claim, C->opt, alpha_power, &out->v[first], i - first, v);
        else
            vd_decide(v->claim, C->opt, alpha_power, v);
    }
    free(p);
    free(adjusted);
    free(index);
    return NL_OK;
}

/* The lookup of each claim in the experiment file's history, and of when
 * each source's runs were first committed (C->main's and the other sweeps'
 * first_runs), opened before the claims' rows are made: a row groups its
 * runs by their first committed version as it reads them. */
static nl_code open_registration(vd_ctx *C, nl_registry **reg)
{
    *reg = NULL;
    if (!C->opt->registration)
        return NL_OK;
    nl_code rc = nl_registry_open(C->set, reg, C->err);
    if (rc == NL_OK && C->main.kind != NL_SOURCE_TABLE)
        rc = nl_first_runs_open(*reg, C->main.dir, &C->main.first_runs, C->err);
    for (int i = 0; i < C->n_others && rc == NL_OK; i++)
        rc = nl_first_runs_open(*reg, C->others[i].dir, &C->others[i].first_runs, C->err);
    return rc;
}

/* each row's registration: whether its claim existed unchanged at every
 * commit its runs record, and at their first committed versions' */
static void register_rows(const nl_claim_set *claims, nl_registry *reg, nl_verdict_report *out)
{
    for (int i = 0; i < out->n; i++) {
        nl_verdict *v = &out->v[i];
        char why[256] = "";
        const nl_registration kind =
            reg ? nl_registration_of_runs(reg, (int)(v->claim - claims->claims), v->commits, v->first, v->n_first,
                                          v->first_overflow, why, sizeof why)
                : NL_REG_KIND_COUNT;
        if (kind == NL_REG_KIND_COUNT)
            nl_copy_string(v->registered, sizeof v->registered, "not checked");
        else
            snprintf(v->registered, sizeof v->registered, "%s%s%s%s", nl_registration_names[kind],
                     why[0] ? " (" : "", why, why[0] ? ")" : "");
    }
}

nl_code nl_verdict_compute(const char *sweep_dir, const nl_claim_set *claims, const nl_verdict_options *opt,
                           nl_verdict_report *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    nl_copy_string(out->sweep_dir, sizeof out->sweep_dir, sweep_dir);
    nl_copy_string(out->experiment, sizeof out->experiment, claims->path);
    out->opt = *opt;
    out->seeds_planned = claims->power.seeds;
    if (claims->rule.given) {
        char parts[2][64] = {"", ""};
        if (claims->rule.has_fraction)
            snprintf(parts[0], sizeof parts[0], "%g of the paper's effect", claims->rule.fraction);
        if (claims->rule.has_band)
            snprintf(parts[1], sizeof parts[1], "band %g around the paper's value", claims->rule.band);
        snprintf(out->rule, sizeof out->rule, "%s%s%s: %s", parts[0], parts[0][0] && parts[1][0] ? "; " : "",
                 parts[1], claims->rule.reason);
    }
    vd_ctx *C = calloc(1, sizeof *C);
    if (!C)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    *C = (vd_ctx){.set = claims, .opt = opt, .err = err};
    nl_code rc = vd_source_open(&C->main, sweep_dir, &claims->source, claims->path, err);
    if (rc) {
        free(C);
        return rc;
    }
    for (int i = 0; i < claims->n && rc == NL_OK; i++)
        rc = check_claim(C, &claims->claims[i]);
    nl_registry *reg = NULL;
    if (rc == NL_OK)
        rc = open_registration(C, &reg);
    for (int i = 0; i < claims->n && rc == NL_OK; i++)
        rc = add_claim(C, &claims->claims[i], out);
    if (rc == NL_OK)
        rc = correct_and_decide(C, out);
    if (rc == NL_OK)
        register_rows(claims, reg, out);
    nl_registry_close(reg);
    nl_first_runs_close(C->main.first_runs);
    vd_source_close(&C->main);
    for (int i = 0; i < C->n_others; i++) {
        nl_first_runs_close(C->others[i].first_runs);
        vd_source_close(&C->others[i]);
    }
    free(C);
    if (rc)
        nl_verdict_report_free(out);
    return rc;
}
