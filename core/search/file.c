/* The search file (search.h): parsed with the YAML walker the configs and
 * experiments share (config/yamldoc.h), strictly: an unknown key, a wrong
 * type, a value out of range, an empty start population, a budget of zero
 * and a start formula that does not parse or plan on the base model are
 * errors naming file:line:column, the key and what is accepted. Checked
 * whole before the search writes anything. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/halving.h"
#include "config/yamldoc.h"
#include "log/files.h"
#include "norm/formula.h"
#include "search/internal.h"

typedef struct {
    nl_yaml_doc y;
    nl_search_spec *s;
    nl_error *err;
    const yaml_node_t *hurdle_node; /* for the hurdle config's message */
    yaml_node_t *target_node;       /* for the reference configs' message */
} parser;

static const char *const top_keys[] = {"base", "start", "seed", "population", "generations",
                                       "candidates", "hurdle", "rank", "tournament", "reject",
                                       "holdout", "claims", "target"};
static const char *const holdout_keys[] = {"models", "top", "time_limit"};
static const char *const claims_keys[] = {"top", "batch_size", "seeds"};
static const char *const hurdle_keys[] = {"steps", "min_accuracy", "time_limit"};
static const char *const rank_keys[] = {"models", "rungs", "time_limit"};
static const char *const rung_keys[] = {"min_steps", "eta", "max_steps"};
static const char *const target_keys[] = {"normalizer", "within"};

static nl_code read_long(parser *P, const yaml_node_t *n, const char *key, long long lo, long long hi,
                         long long *out)
{
    char accepted[96];
    snprintf(accepted, sizeof accepted, "an integer in [%lld, %lld]", lo, hi);
    const nl_yaml_range range = {.has_lo = true, .has_hi = true, .lo = (double)lo, .hi = (double)hi};
    return nl_yaml_read_int(&P->y, n, key, &range, accepted, hi, out);
}

/* a model: a config file (relative to the search file) or an inline
 * config, whose errors point into the search file */
static nl_code parse_model(parser *P, const char *path, yaml_node_t *n, const char *label,
                           nl_search_model *m)
{
    char d[128];
    snprintf(m->label, sizeof m->label, "%s", label);
    m->line = nl_yaml_line(n);
    m->column = nl_yaml_column(n);
    if (n->type == YAML_MAPPING_NODE) {
        if (!(m->text = nl_yaml_node_text(P->s->text, n)))
            return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
        return NL_OK;
    }
    if (n->type != YAML_SCALAR_NODE || nl_yaml_is_null(n))
        return nl_yaml_fail(&P->y, n, label, "expected a config file name or an inline config (a "
                            "mapping of model:, data:, train:), got %s", nl_yaml_describe(n, d, sizeof d));
    const char *name = nl_yaml_scalar(n), *slash = strrchr(path, '/');
    if (name[0] == '/' || !slash)
        snprintf(m->path, sizeof m->path, "%s", name);
    else
        snprintf(m->path, sizeof m->path, "%.*s/%s", (int)(slash - path), path, name);
    struct stat st;
    if (stat(m->path, &st) != 0 || !S_ISREG(st.st_mode))
        return nl_yaml_fail(&P->y, n, label, "%s is not a config file (a relative one is read "
                            "relative to the search file); accepted: a config file or an inline "
                            "config", m->path);
    return NL_OK;
}

/* rank.rungs: {min_steps: S, eta: E, max_steps: M}: the rungs S * E^k
 * below M, then M, as a sweep's asha cuts (base/halving.h) */
static nl_code parse_rungs(parser *P, yaml_node_t *n)
{
    nl_search_spec *s = P->s;
    const char *form = "a mapping {min_steps: S, eta: E, max_steps: M}";
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "rank.rungs", form);
    long long v[3] = {0, 3, 0}; /* min_steps, eta (3 unless given), max_steps */
    static const long long lo[3] = {1, 2, 1}, hi[3] = {1000000, 100, 1000000};
    for (int i = 0; !rc && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i);
        const char *key = nl_yaml_scalar(k);
        int row = 0;
        while (row < 3 && strcmp(key, rung_keys[row]))
            row++;
        char label[32];
        snprintf(label, sizeof label, "rank.rungs.%s", key);
        rc = row == 3 ? nl_yaml_unknown_key(&P->y, k, "rank.rungs", rung_keys, 3)
                      : read_long(P, nl_yaml_value(&P->y, n, i), label, lo[row], hi[row], &v[row]);
    }
    if (!rc && (!v[0] || !v[2]))
        rc = nl_yaml_fail(&P->y, n, "rank.rungs", "%s is missing; accepted: %s", !v[0] ? "min_steps"
                          : "max_steps", form);
    if (!rc && v[2] < v[0])
        rc = nl_yaml_fail(&P->y, n, "rank.rungs", "max_steps %lld is under min_steps %lld; accepted: "
                          "max_steps >= min_steps", v[2], v[0]);
    if (rc)
        return rc;
    s->eta = (int)v[1];
    s->n_rungs = nl_halving_rungs((long)v[0], s->eta, (long)v[2], s->rung_steps, NL_SEARCH_MAX_RUNGS);
    if (s->n_rungs == NL_SEARCH_MAX_RUNGS)
        return nl_yaml_fail(&P->y, n, "rank.rungs", "more than %d rungs (min_steps * eta^k up to "
                            "max_steps); accepted: at most %d, a larger min_steps or eta",
                            NL_SEARCH_MAX_RUNGS, NL_SEARCH_MAX_RUNGS);
    s->rung_steps[s->n_rungs++] = (long)v[2];
    return NL_OK;
}

/* rank: {models: [CONFIG, ...], rungs: {...}, time_limit: SECONDS} */
static nl_code parse_rank(parser *P, const char *path, yaml_node_t *n)
{
    nl_search_spec *s = P->s;
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "rank", "a mapping {models: [CONFIG, ...]"
                                       "[, rungs: {min_steps: S, eta: E, max_steps: M}][, time_limit: SECONDS]}");
    const nl_yaml_range positive = {.has_lo = true, .lo_open = true, .lo = 0, .has_hi = true, .hi = 86400};
    char d[128], label[32];
    for (int i = 0; !rc && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i), *v = nl_yaml_value(&P->y, n, i);
        const char *key = nl_yaml_scalar(k);
        if (!strcmp(key, "time_limit")) {
            rc = nl_yaml_read_number(&P->y, v, "rank.time_limit", &positive, "seconds in (0, 86400]",
                                     &s->rank_time_limit_s);
        } else if (!strcmp(key, "rungs")) {
            rc = parse_rungs(P, v);
        } else if (strcmp(key, "models")) {
            rc = nl_yaml_unknown_key(&P->y, k, "rank", rank_keys, 3);
        } else if (v->type != YAML_SEQUENCE_NODE || nl_yaml_count(v) == 0 ||
                   nl_yaml_count(v) > NL_SEARCH_MAX_MODELS) {
            rc = nl_yaml_fail(&P->y, v, "rank.models", "expected 1 to %d models (each a config file or "
                              "an inline config), got %s", NL_SEARCH_MAX_MODELS,
                              v->type == YAML_SEQUENCE_NODE ? (snprintf(d, sizeof d, "%d", nl_yaml_count(v)), d)
                                                            : nl_yaml_describe(v, d, sizeof d));
        } else {
            for (int m = 0; !rc && m < nl_yaml_count(v); m++) {
                snprintf(label, sizeof label, "rank.models[%d]", m + 1);
                rc = parse_model(P, path, nl_yaml_item(&P->y, v, m), label, &s->models[m]);
                s->n_models += !rc;
            }
        }
    }
    if (!rc && s->n_models == 0)
        rc = nl_yaml_fail(&P->y, n, "rank", "models: is missing; rank is {models: [CONFIG, ...]"
                          "[, time_limit: SECONDS]}");
    return rc;
}

/* holdout: {models: [CONFIG, ...], top: N, time_limit: SECONDS} */
static nl_code parse_holdout(parser *P, const char *path, yaml_node_t *n)
{
    nl_search_spec *s = P->s;
    const char *form = "a mapping {models: [CONFIG, ...][, top: N][, time_limit: SECONDS]}";
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "holdout", form);
    const nl_yaml_range positive = {.has_lo = true, .lo_open = true, .lo = 0, .has_hi = true, .hi = 86400};
    char d[128], label[32];
    long long top;
    for (int i = 0; !rc && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i), *v = nl_yaml_value(&P->y, n, i);
        const char *key = nl_yaml_scalar(k);
        if (!strcmp(key, "time_limit")) {
            rc = nl_yaml_read_number(&P->y, v, "holdout.time_limit", &positive, "seconds in (0, 86400]",
                                     &s->holdout_time_limit_s);
        } else if (!strcmp(key, "top")) {
            if (!(rc = read_long(P, v, "holdout.top", 1, 64, &top)))
                s->holdout_top = (int)top;
        } else if (strcmp(key, "models")) {
            rc = nl_yaml_unknown_key(&P->y, k, "holdout", holdout_keys, 3);
        } else if (v->type != YAML_SEQUENCE_NODE || nl_yaml_count(v) == 0 ||
                   nl_yaml_count(v) > NL_SEARCH_MAX_MODELS) {
            rc = nl_yaml_fail(&P->y, v, "holdout.models", "expected 1 to %d models (each a config file or "
                              "an inline config), got %s", NL_SEARCH_MAX_MODELS, nl_yaml_describe(v, d, sizeof d));
        } else {
            for (int m = 0; !rc && m < nl_yaml_count(v); m++) {
                snprintf(label, sizeof label, "holdout.models[%d]", m + 1);
                rc = parse_model(P, path, nl_yaml_item(&P->y, v, m), label, &s->holdout[m]);
                s->n_holdout += !rc;
            }
        }
    }
    if (!rc && s->n_holdout == 0)
        rc = nl_yaml_fail(&P->y, n, "holdout", "models: is missing; accepted: %s", form);
    return rc;
}

/* claims: {top: N, batch_size: B, seeds: N} */
static nl_code parse_claims(parser *P, yaml_node_t *n)
{
    nl_search_spec *s = P->s;
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "claims", "a mapping {top: N, batch_size: B, seeds: N} "
                                       "(each optional)");
    int *const out[3] = {&s->claims_top, &s->claims_batch, &s->claims_seeds};
    static const long long hi[3] = {16, 65536, 1000};
    for (int i = 0; !rc && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i);
        const char *key = nl_yaml_scalar(k);
        int row = 0;
        while (row < 3 && strcmp(key, claims_keys[row]))
            row++;
        char label[32];
        long long v;
        snprintf(label, sizeof label, "claims.%s", key);
        rc = row == 3 ? nl_yaml_unknown_key(&P->y, k, "claims", claims_keys, 3)
                      : read_long(P, nl_yaml_value(&P->y, n, i), label, row == 2 ? 2 : 1, hi[row], &v);
        if (!rc)
            *out[row] = (int)v;
    }
    return rc;
}

/* target: {normalizer: NAME, within: W}; NAME checked against the
 * configs once the models are known (check_whole) */
static nl_code parse_target(parser *P, yaml_node_t *n)
{
    nl_search_spec *s = P->s;
    const char *form = "a mapping {normalizer: NAME, within: W} (a model.norm.type, and accuracy in [0, 1])";
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "target", form);
    const nl_yaml_range unit = {.has_lo = true, .has_hi = true, .lo = 0, .hi = 1};
    s->target_within = NAN;
    for (int i = 0; !rc && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i), *v = nl_yaml_value(&P->y, n, i);
        const char *key = nl_yaml_scalar(k), *name = NULL;
        if (!strcmp(key, "within")) {
            rc = nl_yaml_read_number(&P->y, v, "target.within", &unit, "a difference of test accuracy in "
                                     "[0, 1] (0.005: half a point)", &s->target_within);
        } else if (strcmp(key, "normalizer")) {
            rc = nl_yaml_unknown_key(&P->y, k, "target", target_keys, 2);
        } else if (!(rc = nl_yaml_read_string(&P->y, v, "target.normalizer", "a normalizer's name "
                                              "(a model.norm.type: group, batch, ...)", &name))) {
            if (strlen(name) == 0 || strlen(name) >= sizeof s->target_norm || strspn(name,
                "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name))
                rc = nl_yaml_fail(&P->y, v, "target.normalizer", "'%s' is no normalizer's name; accepted: "
                                  "a model.norm.type (group, batch, layer, ...)", name);
            else
                snprintf(s->target_norm, sizeof s->target_norm, "%s", name);
        }
    }
    if (!rc && (!s->target_norm[0] || isnan(s->target_within)))
        rc = nl_yaml_fail(&P->y, n, "target", "%s is missing; accepted: %s",
                          !s->target_norm[0] ? "normalizer" : "within", form);
    P->target_node = n;
    s->target_line = nl_yaml_line(n);
    s->target_column = nl_yaml_column(n);
    return rc;
}

/* reject: [ROW, ...]: the degeneracy checks applied, by name */
static nl_code parse_reject(parser *P, yaml_node_t *n)
{
    const char *names[32];
    char d[128], list[512];
    for (int i = 0; i < nl_search_check_count && i < 32; i++)
        names[i] = nl_search_checks[i].name;
    nl_yaml_join(names, nl_search_check_count, ", ", list, sizeof list);
    if (n->type != YAML_SEQUENCE_NODE)
        return nl_yaml_fail(&P->y, n, "reject", "expected a list of degeneracy checks (of %s; [] for "
                            "none), got %s", list, nl_yaml_describe(n, d, sizeof d));
    P->s->checks = 0;
    for (int i = 0; i < nl_yaml_count(n); i++) {
        yaml_node_t *item = nl_yaml_item(&P->y, n, i);
        int row = -1;
        for (int k = 0; item->type == YAML_SCALAR_NODE && k < nl_search_check_count; k++)
            row = strcmp(nl_yaml_scalar(item), nl_search_checks[k].name) ? row : k;
        if (row < 0)
            return nl_yaml_fail(&P->y, item, "reject", "%s is no degeneracy check; accepted: %s",
                                nl_yaml_describe(item, d, sizeof d), list);
        P->s->checks |= 1u << row;
    }
    return NL_OK;
}

/* one start formula: "TEXT" or {expr: "TEXT", params: "..."} */
static nl_code parse_start_item(parser *P, yaml_node_t *n, const char *label, nl_search_start *st)
{
    static const char *const keys[] = {"expr", "params"};
    const char *text = NULL, *params = "";
    nl_code rc;
    if (n->type == YAML_MAPPING_NODE) {
        if ((rc = nl_yaml_check_mapping(&P->y, n, label, "a formula {expr: \"...\"[, params: \"...\"]}")))
            return rc;
        for (int i = 0; i < nl_yaml_count(n); i++) {
            yaml_node_t *k = nl_yaml_key(&P->y, n, i), *v = nl_yaml_value(&P->y, n, i);
            const bool is_expr = !strcmp(nl_yaml_scalar(k), "expr");
            if (!is_expr && strcmp(nl_yaml_scalar(k), "params"))
                return nl_yaml_unknown_key(&P->y, k, label, keys, 2);
            if ((rc = nl_yaml_read_string(&P->y, v, label, "a string", is_expr ? &text : &params)))
                return rc;
        }
        if (!text)
            return nl_yaml_fail(&P->y, n, label, "expr: is missing; a start formula is \"TEXT\" or "
                                "{expr: \"TEXT\", params: \"gamma = 1 per channel\"}");
    } else if ((rc = nl_yaml_read_string(&P->y, n, label, "a formula (\"x\", \"gamma * x + beta\") "
                                         "or {expr: ..., params: ...}", &text))) {
        return rc;
    }
    if (strlen(text) > NL_FORMULA_MAX_TEXT || strlen(params) > NL_FORMULA_MAX_PARAMS_TEXT)
        return nl_yaml_fail(&P->y, n, label, "past its size: at most %d characters of formula and "
                            "%d of params", NL_FORMULA_MAX_TEXT, NL_FORMULA_MAX_PARAMS_TEXT);
    nl_formula *f = NULL;
    nl_error ferr = {0};
    if (nl_formula_parse(text, params, &f, &ferr) != NL_OK)
        return nl_yaml_fail(&P->y, n, label, "%s", ferr.msg);
    nl_formula_free(f);
    snprintf(st->expr, sizeof st->expr, "%s", text);
    snprintf(st->params, sizeof st->params, "%s", params);
    st->line = nl_yaml_line(n);
    st->column = nl_yaml_column(n);
    return NL_OK;
}

static nl_code parse_start(parser *P, yaml_node_t *n)
{
    char d[128], label[32];
    if (n->type != YAML_SEQUENCE_NODE)
        return nl_yaml_fail(&P->y, n, "start", "expected a list of formulas (e.g. [\"x\"]), got %s",
                            nl_yaml_describe(n, d, sizeof d));
    const int count = nl_yaml_count(n);
    if (count == 0)
        return nl_yaml_fail(&P->y, n, "start", "the start population is empty; accepted: 1 to %d "
                            "formulas (\"x\" is the model without a normalizer)", NL_SEARCH_MAX_START);
    if (count > NL_SEARCH_MAX_START)
        return nl_yaml_fail(&P->y, n, "start", "%d formulas; accepted: 1 to %d", count, NL_SEARCH_MAX_START);
    for (int i = 0; i < count; i++) {
        snprintf(label, sizeof label, "start[%d]", i + 1);
        nl_code rc = parse_start_item(P, nl_yaml_item(&P->y, n, i), label, &P->s->start[i]);
        if (rc)
            return rc;
        P->s->n_start++;
    }
    return NL_OK;
}

static nl_code parse_hurdle(parser *P, yaml_node_t *n)
{
    nl_search_spec *s = P->s;
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "hurdle", "a mapping {steps: N, min_accuracy: A"
                                       "[, time_limit: SECONDS]}");
    if (rc)
        return rc;
    P->hurdle_node = n;
    const nl_yaml_range unit = {.has_lo = true, .has_hi = true, .lo = 0, .hi = 1};
    const nl_yaml_range positive = {.has_lo = true, .lo_open = true, .lo = 0, .has_hi = true, .hi = 86400};
    for (int i = 0; i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i), *v = nl_yaml_value(&P->y, n, i);
        const char *key = nl_yaml_scalar(k);
        long long steps;
        if (!strcmp(key, "steps")) {
            if (!(rc = read_long(P, v, "hurdle.steps", 1, 1000000, &steps)))
                s->hurdle_steps = (long)steps;
        } else if (!strcmp(key, "min_accuracy")) {
            rc = nl_yaml_read_number(&P->y, v, "hurdle.min_accuracy", &unit, "a test accuracy in [0, 1]",
                                     &s->min_accuracy);
        } else if (!strcmp(key, "time_limit")) {
            rc = nl_yaml_read_number(&P->y, v, "hurdle.time_limit", &positive, "seconds in (0, 86400]",
                                     &s->time_limit_s);
        } else {
            rc = nl_yaml_unknown_key(&P->y, k, "hurdle", hurdle_keys, 3);
        }
        if (rc)
            return rc;
    }
    if (s->hurdle_steps == 0 || isnan(s->min_accuracy))
        return nl_yaml_fail(&P->y, n, "hurdle", "%s is missing; the hurdle is {steps: N, min_accuracy: A"
                            "[, time_limit: SECONDS]}", s->hurdle_steps ? "min_accuracy" : "steps");
    return NL_OK;
}

/* one top-level key; *seen_base and the budget's nodes for the checks after */
static nl_code parse_key(parser *P, const char *path, yaml_node_t *k, yaml_node_t *v)
{
    nl_search_spec *s = P->s;
    const char *key = nl_yaml_scalar(k);
    long long value;
    nl_code rc;
    if (!strcmp(key, "base"))
        return parse_model(P, path, v, "base", &s->base);
    if (!strcmp(key, "rank"))
        return parse_rank(P, path, v);
    if (!strcmp(key, "reject"))
        return parse_reject(P, v);
    if (!strcmp(key, "target"))
        return parse_target(P, v);
    if (!strcmp(key, "holdout"))
        return parse_holdout(P, path, v);
    if (!strcmp(key, "claims")) {
        P->s->claims_top = 3, P->s->claims_seeds = 10; /* what claims: {} says: a pilot's 10 seeds */
        return parse_claims(P, v);
    }
    if (!strcmp(key, "tournament")) {
        if (!(rc = read_long(P, v, "tournament", 1, 64, &value)))
            s->tournament = (int)value;
        return rc;
    }
    if (!strcmp(key, "start"))
        return parse_start(P, v);
    if (!strcmp(key, "hurdle"))
        return parse_hurdle(P, v);
    if (!strcmp(key, "seed")) {
        if (!(rc = read_long(P, v, "seed", 0, (long long)1 << 53, &value)))
            s->seed = (uint64_t)value;
        return rc;
    }
    const bool population = !strcmp(key, "population"), generations = !strcmp(key, "generations");
    if (population || generations || !strcmp(key, "candidates")) {
        /* 1 is the least: a budget of zero decides nothing */
        if ((rc = read_long(P, v, key, 1, population ? 10000 : NL_SEARCH_MAX_CANDIDATES, &value)))
            return rc;
        if (population)
            s->population = (int)value;
        else if (generations)
            s->generations = (int)value;
        else
            s->candidates = (long)value;
        return NL_OK;
    }
    return nl_yaml_unknown_key(&P->y, k, NULL, top_keys, (int)(sizeof top_keys / sizeof top_keys[0]));
}

long nl_search_budget(const nl_search_spec *s)
{
    const long budget = s->candidates ? s->candidates
                                      : s->n_start + (long)s->population * s->generations;
    return budget < NL_SEARCH_MAX_CANDIDATES ? budget : NL_SEARCH_MAX_CANDIDATES;
}

/* what the keys together must say: a base, a budget, a hurdle; each
 * start formula planned on the base, and the hurdle run's config valid */
static nl_code check_whole(parser *P, yaml_node_t *root)
{
    nl_search_spec *s = P->s;
    const char *missing = !s->base.text && !s->base.path[0] ? "base" : !s->n_start ? "start"
                          : !s->population ? "population" : !s->hurdle_steps ? "hurdle" : NULL;
    if (missing)
        return nl_yaml_fail(&P->y, root, missing, "missing; a search file gives base:, start:, "
                            "population:, generations: (or candidates:) and hurdle:");
    if (!s->generations && !s->candidates)
        return nl_yaml_fail(&P->y, root, "generations", "missing: the budget is generations: N "
                            "(population children each) or candidates: N");
    nl_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = NL_OK;
    for (int i = 0; i < s->n_start && !rc; i++) {
        nl_error cerr = {0};
        char label[32];
        snprintf(label, sizeof label, "start[%d]", i + 1);
        if (nl_search_load_config(s, s->start[i].expr, s->start[i].params, cfg, &cerr) != NL_OK)
            rc = nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: %s: the base model does not take it: %s",
                         s->path, s->start[i].line, s->start[i].column, label, cerr.msg);
        else if (i == 0 && nl_search_hurdle_config(s, 1, cfg, &cerr) != NL_OK)
            rc = nl_yaml_fail(&P->y, P->hurdle_node, "hurdle", "the base config trained for %ld steps "
                              "is no run normlab takes: %s", s->hurdle_steps, cerr.msg);
        /* a model the formula cannot run on: refused where the formula is given */
        for (int m = 0; !rc && m < s->n_models; m++) {
            if (nl_search_load_on(s, &s->models[m], s->start[i].expr, s->start[i].params, cfg, &cerr))
                rc = nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: %s: %s (%s:%d:%d) does not take it: %s",
                             s->path, s->start[i].line, s->start[i].column, label, s->models[m].label,
                             s->path, s->models[m].line, s->models[m].column, cerr.msg);
            else if (i == 0 && (cerr.code = nl_search_rank_config(1, m, s->n_rungs ? s->rung_steps[s->n_rungs - 1] : 0,
                                                                    cfg, &cerr)))
                rc = nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: %s: no run normlab takes: %s", s->path,
                             s->models[m].line, s->models[m].column, s->models[m].label, cerr.msg);
        }
    }
    /* the target's reference: NAME on each scoring model, a run normlab takes */
    for (int m = 0; !rc && s->target_norm[0] && m < nl_search_scoring_models(s); m++) {
        nl_error cerr = {0};
        if (nl_search_reference_config(s, m, cfg, &cerr))
            rc = nl_yaml_fail(&P->y, P->target_node, "target.normalizer", "%s on %s: %s", s->target_norm,
                              s->n_models ? s->models[m].label : "base", cerr.msg);
    }
    free(cfg);
    return rc;
}

nl_code nl_search_load(const char *path, nl_search_spec *s, nl_error *err)
{
    memset(s, 0, sizeof *s);
    s->min_accuracy = NAN;
    s->time_limit_s = 600;
    s->rank_time_limit_s = 600;
    s->holdout_time_limit_s = 600;
    s->holdout_top = 5;
    s->tournament = 2;
    s->checks = nl_search_checks_default();
    s->seed = 1;
    snprintf(s->path, sizeof s->path, "%s", path);
    size_t len = 0;
    nl_code rc = nl_read_file_max(path, NL_READ_TEXT_MAX, &s->text, &len, err);
    if (rc == NL_ERR_IO)
        err->code = rc = NL_ERR_USAGE; /* a missing search file is a usage error: exit 2 */
    if (rc)
        return rc;
    if (strlen(s->text) != len)
        return nl_fail(err, NL_ERR_CONFIG, "%s: the file contains a NUL byte; is it a YAML file?", path);
    parser P = {.s = s, .err = err};
    if ((rc = nl_yaml_doc_load(&P.y, s->text, len, path, NULL, err)))
        return rc;
    yaml_node_t *root = nl_yaml_root(&P.y);
    if (!root)
        rc = nl_fail(err, NL_ERR_CONFIG, "%s: the search file is empty; it gives base:, start:, "
                     "population:, generations: and hurdle:", path);
    else
        rc = nl_yaml_check_mapping(&P.y, root, NULL, "a mapping of base:, start:, seed:, population:, "
                                   "generations:, candidates:, hurdle:, rank:, tournament:, reject:, holdout:, claims:, target:");
    for (int i = 0; !rc && i < nl_yaml_count(root); i++)
        rc = parse_key(&P, path, nl_yaml_key(&P.y, root, i), nl_yaml_value(&P.y, root, i));
    if (!rc)
        rc = check_whole(&P, root);
    nl_yaml_doc_free(&P.y);
    return rc;
}

void nl_search_spec_free(nl_search_spec *s)
{
    free(s->text);
    free(s->base.text);
    s->text = s->base.text = NULL;
    for (int m = 0; m < s->n_models; m++) {
        free(s->models[m].text);
        s->models[m].text = NULL;
    }
    for (int m = 0; m < s->n_holdout; m++) {
        free(s->holdout[m].text);
        s->holdout[m].text = NULL;
    }
}
