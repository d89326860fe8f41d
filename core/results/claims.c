/* The claims: section of an experiment file (and a claims file's source:),
 * read strictly (unknown keys, wrong types, a malformed expectation are
 * errors naming file:line:col and the key), with the config loader's YAML
 * walker. The expectation's grammar is results/expect.c's. */
#include "base/ident.h"
#include "results/claims.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "config/flat.h"
#include "config/yamldoc.h"
#include "log/files.h"
#include "results/claims_internal.h"
#include "stats/seq.h"

const char *const nl_metric_at_names[NL_AT_COUNT] = {"last", "min", "max", "mean", "sd", "change_sd"};

/* ---- selectors: a value, a list of values, a range LO..HI ---- */

static bool range_bound(const char *s, size_t len, double open, double *out)
{
    char text[64];
    if (len == 0) {
        *out = open;
        return true;
    }
    if (len >= sizeof text)
        return false;
    memcpy(text, s, len);
    text[len] = '\0';
    char *end;
    *out = strtod(text, &end);
    return end != text && !*end && isfinite(*out);
}

/* "LO..HI", "LO..", "..HI" with numbers: a range */
static bool parse_range(const char *s, double *lo, double *hi)
{
    const char *dots = strstr(s, "..");
    if (!dots || strstr(dots + 2, "..") || (dots == s && !dots[2]))
        return false;
    return range_bound(s, (size_t)(dots - s), -INFINITY, lo) &&
           range_bound(dots + 2, strlen(dots + 2), INFINITY, hi) && *lo <= *hi;
}

static bool same_text_or_number(const char *want, const char *have)
{
    if (!strcmp(want, have))
        return true;
    char *e1, *e2;
    const double a = strtod(want, &e1), b = strtod(have, &e2);
    return e1 != want && !*e1 && e2 != have && !*e2 && a == b;
}

bool nl_claim_select_matches(const nl_claim_select *s, const char *have)
{
    if (s->kind == NL_SELECT_RANGE) {
        char *end;
        const double v = strtod(have, &end);
        return end != have && !*end && v >= s->lo && v <= s->hi;
    }
    if (s->kind == NL_SELECT_VALUE)
        return same_text_or_number(s->value, have);
    for (const char *item = s->value; *item;) {
        const size_t len = strcspn(item, "\n");
        char one[256];
        memcpy(one, item, len);
        one[len] = '\0';
        if (same_text_or_number(one, have))
            return true;
        item += len + (item[len] == '\n');
    }
    return false;
}

/* ---- the YAML ---- */

nl_code cl_read_text(parser *P, const yaml_node_t *n, const char *key, char *out, size_t size)
{
    const char *s;
    nl_code rc = nl_yaml_read_string(P->y, n, key, NULL, &s);
    if (rc)
        return rc;
    if (strlen(s) >= size || !s[0])
        return nl_yaml_fail(P->y, n, key, "%s (1 to %zu characters)", s[0] ? "too long" : "empty", size - 1);
    memcpy(out, s, strlen(s) + 1);
    return NL_OK;
}

/* [v1, v2, ...]: any of the values */
static nl_code read_list(parser *P, yaml_node_t *v, const char *label, nl_claim_select *s)
{
    s->kind = NL_SELECT_LIST;
    if (nl_yaml_count(v) < 1)
        return nl_yaml_fail(P->y, v, label, "an empty list selects nothing; give one value or more");
    size_t used = 0;
    for (int j = 0; j < nl_yaml_count(v); j++) {
        char item[128];
        nl_code rc = cl_read_text(P, nl_yaml_item(P->y, v, j), label, item, sizeof item);
        if (rc)
            return rc;
        if (strchr(item, '\n') || used + strlen(item) + 2 > sizeof s->value)
            return nl_yaml_fail(P->y, v, label, "too long a list (at most %zu characters, one line each)",
                                sizeof s->value - 1);
        used += (size_t)snprintf(s->value + used, sizeof s->value - used, "%s\n", item);
    }
    return NL_OK;
}

/* one selector's value: a scalar (a range where it reads LO..HI; "" the
 * runs where the key does not apply, as summary.csv writes them) or a list */
static nl_code read_select_value(parser *P, yaml_node_t *v, const char *label, nl_claim_select *s)
{
    if (v->type == YAML_SEQUENCE_NODE)
        return read_list(P, v, label, s);
    const char *text;
    nl_code rc = nl_yaml_read_string(P->y, v, label, NULL, &text);
    if (rc == NL_OK && strlen(text) >= sizeof s->value)
        return nl_yaml_fail(P->y, v, label, "too long (at most %zu characters)", sizeof s->value - 1);
    if (rc == NL_OK)
        nl_copy_string(s->value, sizeof s->value, text);
    if (rc == NL_OK && strstr(s->value, "..")) {
        if (!parse_range(s->value, &s->lo, &s->hi))
            return nl_yaml_fail(P->y, v, label, "'%s' is not a range: a range reads LO..HI, LO.. or ..HI with "
                                "numbers, LO <= HI", s->value);
        s->kind = NL_SELECT_RANGE;
    }
    return rc;
}

/* {key: value, ...}: a cell's selectors (a value, [a list], "LO..HI") */
static nl_code read_selectors(parser *P, yaml_node_t *n, const char *key, nl_claim_select *out, int *count,
                              nl_claim_cell *cell)
{
    nl_code rc = nl_yaml_check_mapping(P->y, n, key, "a mapping of sweep keys to values, e.g. "
                                       "{model.norm.type: batch, train.batch_size: [2, 4], step: 101..186}");
    if (rc)
        return rc;
    if (nl_yaml_count(n) > NL_CLAIM_MAX_SELECT + (cell != NULL))
        return nl_yaml_fail(P->y, n, key, "at most %d keys", NL_CLAIM_MAX_SELECT);
    *count = 0;
    for (int i = 0; i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(P->y, n, i), *v = nl_yaml_value(P->y, n, i);
        char label[256];
        snprintf(label, sizeof label, "%s.%s", key, nl_yaml_scalar(k));
        if (cell && !strcmp(nl_yaml_scalar(k), "sweep")) {
            if ((rc = cl_read_text(P, v, label, cell->sweep, sizeof cell->sweep)))
                return rc;
            if (strchr(cell->sweep, '/') || !strcmp(cell->sweep, ".") || !strcmp(cell->sweep, ".."))
                return nl_yaml_fail(P->y, v, label, "'%s': a sweep is named by its directory's name (a "
                                    "directory beside this one), without '/'", cell->sweep);
            continue;
        }
        if (*count == NL_CLAIM_MAX_SELECT)
            return nl_yaml_fail(P->y, n, key, "at most %d keys", NL_CLAIM_MAX_SELECT);
        nl_claim_select *s = &out[(*count)++];
        memset(s, 0, sizeof *s);
        if ((rc = cl_read_text(P, k, key, s->key, sizeof s->key)) || (rc = read_select_value(P, v, label, s)))
            return rc;
        s->line = nl_yaml_line(v);
        s->column = nl_yaml_column(v);
    }
    return NL_OK;
}

static nl_code read_cell(parser *P, yaml_node_t *v, const char *label, nl_claim_cell *cell)
{
    cell->given = true;
    cell->line = nl_yaml_line(v);
    cell->column = nl_yaml_column(v);
    return read_selectors(P, v, label, cell->sel, &cell->n, cell);
}

static nl_code read_at(parser *P, yaml_node_t *v, const char *label, nl_metric_at *out)
{
    char text[16], accepted[64];
    nl_code rc = cl_read_text(P, v, label, text, sizeof text);
    for (int a = 0; rc == NL_OK && a < NL_AT_COUNT; a++)
        if (!strcmp(text, nl_metric_at_names[a])) {
            *out = (nl_metric_at)a;
            return NL_OK;
        }
    return rc ? rc : nl_yaml_fail(P->y, v, label, "'%s' is not a reduction; accepted: %s", text,
                                  nl_yaml_join(nl_metric_at_names, NL_AT_COUNT, ", ", accepted, sizeof accepted));
}

static const char *const metric_keys[] = {"file", "column", "where", "at", "reach", "expr"};
enum { N_METRIC_KEYS = sizeof metric_keys / sizeof metric_keys[0] };

/* reach: ">= X" or "<= X" */
static nl_code read_reach(parser *P, yaml_node_t *v, const char *label, nl_claim_metric *c)
{
    char text[64], *end;
    nl_code rc = cl_read_text(P, v, label, text, sizeof text);
    if (rc)
        return rc;
    const bool up = !strncmp(text, ">=", 2), down = !strncmp(text, "<=", 2);
    const char *x = text + 2;
    while (*x == ' ')
        x++;
    c->reach_x = strtod(x, &end);
    if ((!up && !down) || end == x || *end || !isfinite(c->reach_x))
        return nl_yaml_fail(P->y, v, label, "'%s': reach: reads \">= X\" or \"<= X\" (quoted), X a number: the "
                            "step of the first row whose value gets there", text);
    c->has_reach = true;
    c->reach_op = up ? NL_EXPECT_GREATER : NL_EXPECT_LESS;
    return NL_OK;
}

static nl_code read_metric_key(parser *P, nl_claim_metric *c, yaml_node_t *k, yaml_node_t *v, const char *key,
                               bool expr_allowed)
{
    const char *name = nl_yaml_scalar(k);
    char label[256];
    snprintf(label, sizeof label, "%s.%s", key, name);
    if (!strcmp(name, "file"))
        return cl_read_text(P, v, label, c->file, sizeof c->file);
    if (!strcmp(name, "column"))
        return cl_read_text(P, v, label, c->name, sizeof c->name);
    if (!strcmp(name, "where"))
        return read_selectors(P, v, label, c->where, &c->n_where, NULL);
    if (!strcmp(name, "at"))
        return read_at(P, v, label, &c->at);
    if (!strcmp(name, "reach"))
        return read_reach(P, v, label, c);
    if (!strcmp(name, "expr") && expr_allowed) {
        c->is_expr = true;
        return cl_read_text(P, v, label, c->name, sizeof c->name);
    }
    if (!strcmp(name, "expr"))
        return nl_yaml_fail(P->y, k, label, "a var is a metric of its own (a summary.csv column or {file: ..., "
                            "column: ...}), not an expression");
    return nl_yaml_unknown_key(P->y, k, key, metric_keys, N_METRIC_KEYS);
}

/* a metric: a scalar name, {file:, column:, where:, at:}, or {expr:} */
static nl_code read_metric(parser *P, yaml_node_t *n, const char *key, nl_claim_metric *c, bool expr_allowed)
{
    memset(c, 0, sizeof *c);
    c->line = nl_yaml_line(n);
    c->column = nl_yaml_column(n);
    if (n->type == YAML_SCALAR_NODE)
        return cl_read_text(P, n, key, c->name, sizeof c->name);
    nl_code rc = nl_yaml_check_mapping(P->y, n, key, "a summary.csv column (final_test_error), {file: "
                                       "metrics.csv, column: ..., where: {...}, at: last} or {expr: \"...\"}");
    for (int i = 0; rc == NL_OK && i < nl_yaml_count(n); i++)
        rc = read_metric_key(P, c, nl_yaml_key(P->y, n, i), nl_yaml_value(P->y, n, i), key, expr_allowed);
    if (rc)
        return rc;
    if (c->is_expr && (c->file[0] || c->n_where))
        return nl_yaml_fail(P->y, n, key, "expr: stands alone: its names are vars: (which may read a run's "
                            "file) or the run's own numbers");
    if (!c->is_expr && (!c->file[0] || !c->name[0]))
        return nl_yaml_fail(P->y, n, key, "a metric from a run's file needs file: and column:");
    for (int i = 0; c->has_reach && i < nl_yaml_count(n); i++)
        if (!strcmp(nl_yaml_scalar(nl_yaml_key(P->y, n, i)), "at"))
            return nl_yaml_fail(P->y, n, key, "reach: gives a step, at: reduces the values: give one of them");
    if (!c->is_expr && (strstr(c->file, "..") || c->file[0] == '/'))
        return nl_yaml_fail(P->y, n, key, "file: '%s' must name a file inside the run directory", c->file);
    return NL_OK;
}

/* {name: metric, ...}: the metrics an expression reads */
static nl_code read_vars(parser *P, yaml_node_t *n, const char *key, nl_claim *c)
{
    nl_code rc = nl_yaml_check_mapping(P->y, n, key, "a mapping of names to metrics, e.g. {r: {file: "
                                       "series.csv, column: value, where: {series: update_ratio}, at: mean}}");
    if (rc == NL_OK && nl_yaml_count(n) > NL_CLAIM_MAX_VARS)
        return nl_yaml_fail(P->y, n, key, "at most %d vars", NL_CLAIM_MAX_VARS);
    for (int i = 0; rc == NL_OK && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(P->y, n, i);
        char label[320];
        snprintf(label, sizeof label, "%s.%s", key, nl_yaml_scalar(k));
        const char *name = nl_yaml_scalar(k);
        bool ok = isalpha((unsigned char)name[0]) && strlen(name) < sizeof c->var_names[0];
        for (const char *p = name; ok && *p; p++)
            ok = isalnum((unsigned char)*p) || *p == '_';
        if (!ok)
            return nl_yaml_fail(P->y, k, label, "a var's name is a letter, then letters, digits or _ (at most "
                                "31 characters)");
        snprintf(c->var_names[i], sizeof c->var_names[i], "%s", name);
        rc = read_metric(P, nl_yaml_value(P->y, n, i), label, &c->vars[i], false);
        c->n_vars = i + 1;
    }
    return rc;
}

/* each: KEY or [KEY, KEY, ...] */
static nl_code read_each(parser *P, yaml_node_t *v, const char *label, nl_claim *c)
{
    c->each_line = nl_yaml_line(v);
    c->each_column = nl_yaml_column(v);
    if (v->type != YAML_SEQUENCE_NODE) {
        c->n_each = 1;
        return cl_read_text(P, v, label, c->each[0], sizeof c->each[0]);
    }
    if (nl_yaml_count(v) < 1 || nl_yaml_count(v) > NL_CLAIM_MAX_EACH)
        return nl_yaml_fail(P->y, v, label, "each: names 1 to %d keys", NL_CLAIM_MAX_EACH);
    for (int j = 0; j < nl_yaml_count(v); j++) {
        nl_code rc = cl_read_text(P, nl_yaml_item(P->y, v, j), label, c->each[j], sizeof c->each[j]);
        if (rc)
            return rc;
        c->n_each = j + 1;
    }
    return NL_OK;
}

/* cells: all, none, K, ">= K", "<= K" */
static nl_code read_cells(parser *P, yaml_node_t *v, const char *label, nl_claim *c)
{
    char text[32];
    nl_code rc = cl_read_text(P, v, label, text, sizeof text);
    if (rc)
        return rc;
    const char *s = text;
    c->cells_op = NL_CELLS_EXACTLY;
    if (!strcmp(s, "all") || !strcmp(s, "none")) {
        c->cells_op = s[0] == 'a' ? NL_CELLS_ALL : NL_CELLS_EXACTLY;
        c->cells_k = 0;
        return NL_OK;
    }
    if (!strncmp(s, ">=", 2) || !strncmp(s, "<=", 2)) {
        c->cells_op = s[0] == '>' ? NL_CELLS_AT_LEAST : NL_CELLS_AT_MOST;
        s += 2;
    }
    while (*s == ' ')
        s++;
    int k;
    if (!nl_parse_int(s, 0, 1000, &k))
        return nl_yaml_fail(P->y, v, label, "'%s': cells: reads all, none, K, \">= K\" or \"<= K\" (K a whole "
                            "number: of the each: cells, in how many the claim holds; quote the >= and <= forms)",
                            text);
    c->cells_k = k;
    return NL_OK;
}

const char *const nl_plan_kind_names[NL_PLAN_KIND_COUNT] = {"none", "group-sequential", "first-confirmation"};

static nl_code read_plan_kind(parser *P, yaml_node_t *v, const char *label, nl_claim_plan *plan)
{
    char text[64], accepted[96];
    nl_code rc = cl_read_text(P, v, label, text, sizeof text);
    for (int k = NL_PLAN_GROUP_SEQUENTIAL; rc == NL_OK && k < NL_PLAN_KIND_COUNT; k++)
        if (!strcmp(text, nl_plan_kind_names[k])) {
            plan->kind = (nl_plan_kind)k;
            return NL_OK;
        }
    return rc ? rc : nl_yaml_fail(P->y, v, label, "'%s' is not a plan; accepted: %s", text,
                                  nl_yaml_join(nl_plan_kind_names + 1, NL_PLAN_KIND_COUNT - 1, ", ", accepted,
                                               sizeof accepted));
}

/* spending: a name stats/seq.h knows (its message lists them) */
static nl_code read_plan_spending(parser *P, yaml_node_t *v, const char *label, nl_claim_plan *plan)
{
    nl_code rc = cl_read_text(P, v, label, plan->spending, sizeof plan->spending);
    const nl_seq_spending *found = NULL;
    nl_error why = {0};
    if (rc == NL_OK && nl_seq_spending_find(plan->spending, &found, &why) != NL_OK)
        return nl_yaml_fail(P->y, v, label, "%s", why.msg);
    return rc;
}

static nl_code read_plan_pilots(parser *P, yaml_node_t *v, const char *label, nl_claim_plan *plan)
{
    if (v->type != YAML_SEQUENCE_NODE || nl_yaml_count(v) > NL_PLAN_MAX_PILOTS)
        return nl_yaml_fail(P->y, v, label, "a list of at most %d sweep names (the directories under results/ "
                            "that were pilots)", NL_PLAN_MAX_PILOTS);
    nl_code rc = NL_OK;
    for (int j = 0; rc == NL_OK && j < nl_yaml_count(v); j++)
        rc = nl_yaml_read_ident(P->y, nl_yaml_item(P->y, v, j), label, "sweep name (a directory under results/)",
                                true, plan->pilots[plan->n_pilots++], sizeof plan->pilots[0]);
    return rc;
}

/* plan: {kind: group-sequential, looks: K, spending: NAME, pilots: [...]}
 * or {kind: first-confirmation, pilots: [...]} */
static nl_code read_plan(parser *P, yaml_node_t *n, const char *key, nl_claim_plan *plan)
{
    static const char *const keys[] = {"kind", "looks", "spending", "pilots"};
    memset(plan, 0, sizeof *plan);
    nl_code rc = nl_yaml_check_mapping(P->y, n, key, "a mapping: {kind: group-sequential, looks: K, spending: "
                                       "obrien-fleming} or {kind: first-confirmation}");
    plan->line = nl_yaml_line(n);
    plan->column = nl_yaml_column(n);
    const nl_yaml_range looks = {.has_lo = true, .lo = 1, .has_hi = true, .hi = NL_SEQ_MAX_LOOKS};
    yaml_node_t *looks_node = NULL, *spending_node = NULL;
    for (int i = 0; rc == NL_OK && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(P->y, n, i), *v = nl_yaml_value(P->y, n, i);
        const char *name = nl_yaml_scalar(k);
        char label[200];
        snprintf(label, sizeof label, "%s.%s", key, name);
        long long count = 0;
        if (!strcmp(name, "kind")) {
            rc = read_plan_kind(P, v, label, plan);
        } else if (!strcmp(name, "looks")) {
            looks_node = v;
            rc = nl_yaml_read_int(P->y, v, label, &looks, "an integer from 1 to 20: the most looks the plan "
                                  "takes", NL_SEQ_MAX_LOOKS, &count);
            plan->looks = (int)count;
        } else if (!strcmp(name, "spending")) {
            spending_node = v;
            rc = read_plan_spending(P, v, label, plan);
        } else if (!strcmp(name, "pilots")) {
            rc = read_plan_pilots(P, v, label, plan);
        } else {
            rc = nl_yaml_unknown_key(P->y, k, key, keys, (int)(sizeof keys / sizeof keys[0]));
        }
    }
    if (rc == NL_OK && plan->kind == NL_PLAN_NONE)
        rc = nl_yaml_fail(P->y, n, key, "kind: is missing: group-sequential or first-confirmation");
    if (rc == NL_OK && plan->kind == NL_PLAN_GROUP_SEQUENTIAL && !looks_node)
        rc = nl_yaml_fail(P->y, n, key, "looks: is missing: a group-sequential plan states its most looks K "
                          "(1 to 20) before the first");
    if (rc == NL_OK && plan->kind == NL_PLAN_FIRST_CONFIRMATION && (looks_node || spending_node))
        rc = nl_yaml_fail(P->y, looks_node ? looks_node : spending_node, key, "a first-confirmation plan takes no "
                          "%s: its first pre-registered look decides alone", looks_node ? "looks" : "spending");
    if (rc == NL_OK && plan->kind == NL_PLAN_GROUP_SEQUENTIAL && !plan->spending[0])
        nl_copy_string(plan->spending, sizeof plan->spending, "obrien-fleming");
    return rc;
}

const nl_claim_plan *nl_claim_plan_of(const nl_claim_set *set, const nl_claim *c)
{
    return c->plan.kind != NL_PLAN_NONE ? &c->plan : &set->plan;
}

static const char *const claim_keys[] = {"id",       "paper", "metric", "a",    "b",        "scope",
                                         "each",     "expect", "b_metric", "c", "d", "vars", "each_row", "cells",
                                         "pair_by", "paper_value", "headline", "plan", "stop"};
enum { N_CLAIM_KEYS = sizeof claim_keys / sizeof claim_keys[0] };

static nl_code read_claim_key(parser *P, nl_claim *c, int which, yaml_node_t *v, const char *label)
{
    switch (which) {
    case 0: {
        /* an id names a row of verdicts.csv, a label of the forest plot and
         * an anchor of the report: one character set, checked here */
        const nl_code rc = cl_read_text(P, v, label, c->id, sizeof c->id);
        char shown[300];
        if (rc == NL_OK && !nl_ident_ok(c->id))
            return nl_yaml_fail(P->y, v, label, "'%s' is not a claim id; accepted: " NL_IDENT_ACCEPTED,
                                nl_text_show(c->id, shown, sizeof shown));
        return rc;
    }
    case 1:
        return cl_read_text(P, v, label, c->paper, sizeof c->paper);
    case 2:
        return read_metric(P, v, label, &c->metric, true);
    case 3:
    case 4:
        return read_cell(P, v, label, &c->cells[which - 3]);
    case 5:
        return read_selectors(P, v, label, c->scope, &c->n_scope, NULL);
    case 6:
        return read_each(P, v, label, c);
    case 8:
        c->has_b_metric = true;
        return read_metric(P, v, label, &c->b_metric, true);
    case 9:
    case 10:
        return read_cell(P, v, label, &c->cells[which - 7]);
    case 11:
        return read_vars(P, v, label, c);
    case 12:
        c->each_line = nl_yaml_line(v);
        c->each_column = nl_yaml_column(v);
        return cl_read_text(P, v, label, c->each_row, sizeof c->each_row);
    case 13:
        c->cells_op = NL_CELLS_EXACTLY;
        return read_cells(P, v, label, c);
    case 14:
        /* a unit is a seed: the same seed under another normalizer shares
         * its data order, so it is not another sample (STATS.md) */
        return nl_yaml_fail(P->y, v, label, "pooling runs of different values as extra seeds is refused: a "
                            "unit is a seed, and 3 seeds of 5 normalizers are 3 units, not 15; make one claim per "
                            "value with each: (and cells: all for a claim about every one)");
    case 15:
        c->has_paper_value = true;
        return nl_yaml_read_number(P->y, v, label, NULL, "the paper's number the claim tests, in the "
                                   "metric's units (0.106 for 10.6 points of error)", &c->paper_value);
    case 16:
        return nl_yaml_read_bool(P->y, v, label, &c->headline);
    case 17:
        return read_plan(P, v, label, &c->plan);
    case 18:
        /* the rule's name; the sweep checks it is the file's stop: rule */
        c->stop_line = nl_yaml_line(v);
        c->stop_column = nl_yaml_column(v);
        return cl_read_text(P, v, label, c->stop, sizeof c->stop);
    default:
        c->expect_line = nl_yaml_line(v);
        c->expect_column = nl_yaml_column(v);
        return cl_read_text(P, v, label, c->expect, sizeof c->expect);
    }
}

static yaml_node_t *value_of(parser *P, yaml_node_t *n, const char *name)
{
    for (int i = 0; i < nl_yaml_count(n); i++)
        if (!strcmp(nl_yaml_scalar(nl_yaml_key(P->y, n, i)), name))
            return nl_yaml_value(P->y, n, i);
    return NULL;
}

/* an expression metric parses, and names only vars and the run's numbers */
static nl_code compile_metric(parser *P, yaml_node_t *n, const char *key, const nl_claim_metric *m, nl_expr *e)
{
    char why[256], label[320];
    snprintf(label, sizeof label, "%s.expr", key);
    if (!m->is_expr)
        return NL_OK;
    if (!nl_expr_parse(m->name, e, why, sizeof why))
        return nl_yaml_fail(P->y, n, label, "%s (an expression of numbers, vars: and the run's summary and "
                            "config numbers, with + - * / ( ) abs sqrt log exp min max)", why);
    return NL_OK;
}

/* what the claim's keys say together: the cells it has, the expectation,
 * each:/each_row:/cells:, the metrics' expressions */
static nl_code check_claim(parser *P, yaml_node_t *n, const char *key, nl_claim *c)
{
    nl_claim_cell *cells = c->cells;
    if (cells[NL_CELL_D].given && !cells[NL_CELL_C].given)
        return nl_yaml_fail(P->y, value_of(P, n, "d"), key, "d: needs c: (the interaction (a - b) - (c - d))");
    if (c->n_each && c->each_row[0])
        return nl_yaml_fail(P->y, value_of(P, n, "each_row"), key, "each: and each_row: cannot both be given");
    if (value_of(P, n, "cells") && !c->n_each && !c->each_row[0])
        return nl_yaml_fail(P->y, value_of(P, n, "cells"), key, "cells: counts the claim's cells over each: or "
                            "each_row: values; the claim has neither");
    const bool has[NL_CELL_COUNT] = {true, cells[NL_CELL_B].given || c->has_b_metric, cells[NL_CELL_C].given,
                                     cells[NL_CELL_D].given || (cells[NL_CELL_C].given && c->has_b_metric)};
    char why[256], label[160];
    snprintf(label, sizeof label, "%s.expect", key);
    if (!nl_claim_parse_expect(c->expect, has, c, why, sizeof why))
        return nl_yaml_fail(P->y, value_of(P, n, "expect"), label, "'%s': %s", c->expect, why);
    /* b and d default to a's and c's cells (their b_metric) */
    if (has[NL_CELL_B] && !cells[NL_CELL_B].given)
        cells[NL_CELL_B] = cells[NL_CELL_A];
    if (has[NL_CELL_D] && !cells[NL_CELL_D].given)
        cells[NL_CELL_D] = cells[NL_CELL_C];
    for (int k = 0; k < NL_CELL_COUNT; k++)
        cells[k].given = has[k];
    if (!c->has_b_metric)
        c->b_metric = c->metric;
    snprintf(label, sizeof label, "%s.metric", key);
    nl_code rc = compile_metric(P, value_of(P, n, "metric"), label, &c->metric, &c->metric_expr);
    snprintf(label, sizeof label, "%s.b_metric", key);
    if (rc == NL_OK)
        rc = compile_metric(P, value_of(P, n, c->has_b_metric ? "b_metric" : "metric"), label, &c->b_metric,
                            &c->b_metric_expr);
    if (rc == NL_OK && c->n_vars && !c->metric.is_expr && !c->b_metric.is_expr)
        rc = nl_yaml_fail(P->y, value_of(P, n, "vars"), key, "vars: are read by an expression metric ({expr: "
                          "...}); the claim has none");
    return rc;
}

static nl_code read_claim_keys(parser *P, yaml_node_t *n, const char *key, nl_claim *c)
{
    for (int i = 0; i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(P->y, n, i);
        int which = -1;
        for (int j = 0; j < N_CLAIM_KEYS; j++)
            if (!strcmp(nl_yaml_scalar(k), claim_keys[j]))
                which = j;
        if (which < 0)
            return nl_yaml_unknown_key(P->y, k, key, claim_keys, N_CLAIM_KEYS);
        char label[160];
        snprintf(label, sizeof label, "%s.%s", key, claim_keys[which]);
        nl_code rc = read_claim_key(P, c, which, nl_yaml_value(P->y, n, i), label);
        if (rc)
            return rc;
    }
    static const int required[] = {0, 1, 2, 3, 7};
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++)
        if (!value_of(P, n, claim_keys[required[r]]))
            return nl_yaml_fail(P->y, n, key, "%s: is missing; a claim needs id:, paper:, metric:, a: and "
                                "expect: (b:, c:, d:, scope:, each:, each_row:, cells:, b_metric:, vars:, "
                                "paper_value:, headline:, plan:, stop: are optional)", claim_keys[required[r]]);
    return NL_OK;
}

static nl_code read_claim(parser *P, yaml_node_t *n, int index, nl_claim *c)
{
    char key[64];
    snprintf(key, sizeof key, "claims[%d]", index);
    nl_code rc = nl_yaml_check_mapping(P->y, n, key, "a mapping (id:, paper:, metric:, a:, b:, scope:, each:, "
                                       "expect:, b_metric:, ...)");
    if (rc)
        return rc;
    memset(c, 0, sizeof *c);
    c->line = nl_yaml_line(n);
    c->column = nl_yaml_column(n);
    if ((rc = read_claim_keys(P, n, key, c)) || (rc = check_claim(P, n, key, c)))
        return rc;
    for (int j = 0; j < index; j++)
        if (!strcmp(P->set->claims[j].id, c->id))
            return nl_yaml_fail(P->y, n, key, "id '%s' is given twice (also claims[%d])", c->id, j);
    return NL_OK;
}

/* ---- source: how a directory without summary.csv is read ---- */

static const char *const source_keys[] = {"runs", "table", "keys", "run"};
enum { N_SOURCE_KEYS = sizeof source_keys / sizeof source_keys[0] };

static nl_code read_source_keys(parser *P, yaml_node_t *v, nl_claim_source *s)
{
    if (v->type != YAML_SEQUENCE_NODE || nl_yaml_count(v) < 1 || nl_yaml_count(v) > NL_CLAIM_MAX_SOURCE_KEYS)
        return nl_yaml_fail(P->y, v, "source.keys", "a list of 1 to %d keys that tell the runs apart, e.g. "
                            "[model.norm.type, seed]", NL_CLAIM_MAX_SOURCE_KEYS);
    for (int j = 0; j < nl_yaml_count(v); j++) {
        nl_code rc = cl_read_text(P, nl_yaml_item(P->y, v, j), "source.keys", s->keys[j], sizeof s->keys[j]);
        if (rc)
            return rc;
        s->n_keys = j + 1;
    }
    return NL_OK;
}

/* a pattern names files under the directory; a table's may hold {FIELD}s
 * (a name between braces) beside * and ?, at most 3 of them together */
static nl_code check_pattern(parser *P, yaml_node_t *v, const char *label, const nl_claim_source *s)
{
    if (strstr(s->pattern, "..") || s->pattern[0] == '/')
        return nl_yaml_fail(P->y, v, label, "'%s' must name files inside the directory", s->pattern);
    const bool fields = strchr(s->pattern, '{') || strchr(s->pattern, '}');
    if (s->kind == NL_SOURCE_RUNS && fields)
        return nl_yaml_fail(P->y, v, label, "{FIELD} is for table: patterns; a run's keys come from its "
                            "summary.json and config.yaml");
    int wild = 0;
    for (const char *p = s->pattern; *p; p++) {
        if (*p == '{') {
            const size_t len = strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.");
            if (len == 0 || len >= 96 || p[1 + len] != '}')
                return nl_yaml_fail(P->y, v, label, "'%s': a {FIELD} is a name (letters, digits, _ .) between "
                                    "braces", s->pattern);
            p += len + 1;
        } else if (*p == '}' || (*p == '[' && fields)) {
            return nl_yaml_fail(P->y, v, label, "'%s': a stray '%c' (a pattern with {FIELD}s takes * and ?, not "
                                "[...])", s->pattern, *p);
        }
        wild += *p == '*' || *p == '?' || *p == '}';
    }
    if (fields && wild > 3)
        return nl_yaml_fail(P->y, v, label, "'%s': at most 3 {FIELD}s, * and ? together", s->pattern);
    return NL_OK;
}

static nl_code read_source(parser *P, yaml_node_t *n)
{
    nl_claim_source *s = &P->set->source;
    nl_code rc = nl_yaml_check_mapping(P->y, n, "source", "a mapping: {runs: GLOB, keys: [...]} or {table: "
                                       "PATTERN, keys: [...], run: COLUMN}");
    s->line = nl_yaml_line(n);
    s->column = nl_yaml_column(n);
    for (int i = 0; rc == NL_OK && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(P->y, n, i), *v = nl_yaml_value(P->y, n, i);
        const char *name = nl_yaml_scalar(k);
        char label[64];
        snprintf(label, sizeof label, "source.%s", name);
        if (!strcmp(name, "runs") || !strcmp(name, "table")) {
            if (s->kind != NL_SOURCE_SWEEP)
                return nl_yaml_fail(P->y, k, label, "give runs: or table:, not both");
            s->kind = name[0] == 'r' ? NL_SOURCE_RUNS : NL_SOURCE_TABLE;
            if ((rc = cl_read_text(P, v, label, s->pattern, sizeof s->pattern)) == NL_OK)
                rc = check_pattern(P, v, label, s);
        } else if (!strcmp(name, "keys")) {
            rc = read_source_keys(P, v, s);
        } else if (!strcmp(name, "run")) {
            rc = cl_read_text(P, v, label, s->run, sizeof s->run);
        } else {
            rc = nl_yaml_unknown_key(P->y, k, "source", source_keys, N_SOURCE_KEYS);
        }
    }
    if (rc == NL_OK && (s->kind == NL_SOURCE_SWEEP || !s->n_keys))
        return nl_yaml_fail(P->y, n, "source", "a source needs runs: or table:, and keys:");
    if (rc == NL_OK && s->run[0] && s->kind != NL_SOURCE_TABLE)
        return nl_yaml_fail(P->y, n, "source.run", "run: names a table's column; a run directory is named by "
                            "its own name");
    return rc;
}

static nl_code read_claims(parser *P, yaml_node_t *v)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return nl_yaml_fail(P->y, v, "claims", "expected a list of claims, each a mapping (id:, paper:, "
                            "metric:, a:, b:, expect:, ...)");
    if (nl_yaml_count(v) > NL_CLAIM_MAX)
        return nl_yaml_fail(P->y, v, "claims", "at most %d claims", NL_CLAIM_MAX);
    for (int j = 0; j < nl_yaml_count(v); j++) {
        nl_code rc = read_claim(P, nl_yaml_item(P->y, v, j), j, &P->set->claims[j]);
        if (rc)
            return rc;
        P->set->n = j + 1;
    }
    return NL_OK;
}

static nl_code parse_root(parser *P, yaml_node_t *root)
{
    if (!root || root->type != YAML_MAPPING_NODE)
        return NL_OK; /* the experiment loader says what is wrong with such a file */
    /* the experiment loader's rule for its top level, kept by a claims
     * file that is no experiment too: a key given twice is refused, not
     * read as whichever copy comes last */
    nl_code rc = nl_yaml_check_mapping(P->y, root, NULL, "a mapping (name:, source:, claims:, threshold_rule:, "
                                       "power:, plan:)");
    const bool has_source = value_of(P, root, "source") != NULL;
    for (int i = 0; rc == NL_OK && i < nl_yaml_count(root); i++) {
        yaml_node_t *k = nl_yaml_key(P->y, root, i), *v = nl_yaml_value(P->y, root, i);
        /* verdict --out writes into OUT/NAME and verdict finds a sweep's
         * file by it: the identifier the experiment loader demands, or for
         * a claims file (source:) the end of its directory's path under
         * results/ (bench/NAME), each component one */
        if (!strcmp(nl_yaml_scalar(k), "name"))
            rc = has_source ? nl_yaml_read_ident(P->y, v, "name", "claims file's name (the end of its "
                                                 "directory's path)", true, P->set->name, sizeof P->set->name)
                            : nl_yaml_read_ident(P->y, v, "name", "sweep name (it names the sweep directory)",
                                                 false, P->set->name, sizeof P->set->name);
        else if (!strcmp(nl_yaml_scalar(k), "source"))
            rc = read_source(P, v);
        else if (!strcmp(nl_yaml_scalar(k), "claims") && !nl_yaml_is_null(v))
            rc = read_claims(P, v);
        else if (!strcmp(nl_yaml_scalar(k), "threshold_rule"))
            rc = cl_read_rule(P, v);
        else if (!strcmp(nl_yaml_scalar(k), "power"))
            rc = cl_read_power(P, v);
        else if (!strcmp(nl_yaml_scalar(k), "plan"))
            rc = read_plan(P, v, "plan", &P->set->plan);
    }
    for (int i = 0; rc == NL_OK && i < P->set->n; i++)
        rc = cl_check_rule(P, i);
    /* both speak of claims: without any they would say nothing */
    const bool rule = P->set->rule.given, power = P->set->power.line > 0;
    if (rc == NL_OK && P->set->n == 0 && (rule || power))
        rc = nl_fail(P->y->err, NL_ERR_CONFIG, "%s:%d:%d: %s: the file has no claims: for it to derive thresholds "
                     "from or size seeds for", P->set->path, rule ? P->set->rule.line : P->set->power.line,
                     rule ? P->set->rule.column : P->set->power.column, rule ? "threshold_rule" : "power");
    return rc;
}

nl_code nl_claims_read(const nl_yaml_doc *doc, yaml_node_t *root, const char *path, nl_claim_set *out)
{
    memset(out, 0, sizeof *out);
    nl_copy_string(out->path, sizeof out->path, path);
    parser P = {.y = doc, .set = out};
    return parse_root(&P, root);
}

nl_code nl_claims_parse(const char *text, const char *path, nl_claim_set *out, nl_error *err)
{
    nl_yaml_doc doc;
    nl_code rc = nl_yaml_doc_load(&doc, text, strlen(text), path, NULL, err);
    if (rc) {
        memset(out, 0, sizeof *out);
        nl_copy_string(out->path, sizeof out->path, path);
        return rc;
    }
    doc.err = err;
    rc = nl_claims_read(&doc, nl_yaml_root(&doc), path, out);
    nl_yaml_doc_free(&doc);
    return rc;
}

nl_code nl_claims_load(const char *path, nl_claim_set *out, nl_error *err)
{
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_read_file_max(path, NL_READ_TEXT_MAX, &text, &len, err);
    if (rc)
        return rc == NL_ERR_IO ? (err->code = NL_ERR_USAGE) : rc;
    rc = nl_claims_parse(text, path, out, err);
    free(text);
    return rc;
}
