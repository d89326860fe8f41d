/* An experiment file's stop: (stop.h): read with the file, checked against
 * the plan before anything is written. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/number.h"
#include "config/flat.h"
#include "config/yamldoc.h"
#include "sweep/experiment_parser.h"
#include "sweep/stop.h"

typedef nl_experiment_parser parser;

static const char *const stop_keys[] = {"rule", "metric", "mode", "unit", "min_resource", "eta",
                                        "grace", "every", "min_runs"};
enum { N_STOP_KEYS = sizeof stop_keys / sizeof stop_keys[0] };
/* the metrics.csv series a rule can read */
static const char *const stop_metrics[] = {"test_error", "test_accuracy", "test_loss", "train_loss"};
#define STOP_METRICS "test_error | test_accuracy | test_loss | train_loss"

static nl_code read_choice(parser *P, yaml_node_t *v, const char *label, const char *const *names, int n,
                           const char *accepted, int *out)
{
    char d[128];
    const char *text = v->type == YAML_SCALAR_NODE ? nl_yaml_scalar(v) : "";
    for (int i = 0; i < n; i++)
        if (v->type == YAML_SCALAR_NODE && !strcmp(text, names[i])) {
            *out = i;
            return NL_OK;
        }
    char guess[96];
    return nl_yaml_fail(&P->y, v, label, "%s is not accepted%s; accepted: %s",
                        nl_yaml_describe(v, d, sizeof d),
                        nl_yaml_did_you_mean(nl_yaml_closest(text, names, n), guess, sizeof guess), accepted);
}

static nl_code read_count(parser *P, yaml_node_t *v, const char *label, long lo, const char *accepted,
                          long *out)
{
    long long x;
    const nl_yaml_range range = {.has_lo = true, .lo = (double)lo};
    nl_code rc = nl_yaml_read_int(&P->y, v, label, &range, accepted, 1000000000LL, &x);
    if (rc == NL_OK)
        *out = (long)x;
    return rc;
}

/* one key of stop: (the rule already read) */
static nl_code stop_key(parser *P, nl_stop_spec *s, yaml_node_t *k, yaml_node_t *v)
{
    const char *key = nl_yaml_scalar(k);
    char label[48];
    snprintf(label, sizeof label, "stop.%s", key);
    int c = 0;
    long x;
    nl_code rc = NL_OK;
    const bool asha_only = !strcmp(key, "min_resource") || !strcmp(key, "eta");
    const bool median_only = !strcmp(key, "grace") || !strcmp(key, "every") || !strcmp(key, "min_runs");
    if ((asha_only && s->rule != NL_STOP_ASHA) || (median_only && s->rule != NL_STOP_MEDIAN))
        return nl_yaml_fail(&P->y, k, label, "is not a key of rule %s; accepted: %s",
                            nl_stop_rule_name(s->rule), s->rule == NL_STOP_ASHA
                            ? "rule, metric, mode, unit, min_resource, eta"
                            : "rule, metric, mode, unit, grace, every, min_runs");
    if (!strcmp(key, "metric")) {
        if ((rc = read_choice(P, v, label, stop_metrics, 4, STOP_METRICS " (the series metrics.csv logs)", &c)))
            return rc;
        snprintf(s->metric, sizeof s->metric, "%s", stop_metrics[c]);
        s->maximize = !strcmp(s->metric, "test_accuracy");
    } else if (!strcmp(key, "mode")) {
        static const char *const modes[] = {"min", "max"};
        if ((rc = read_choice(P, v, label, modes, 2, "min | max (whether a lower or a higher value is better)", &c)))
            return rc;
        s->maximize = c == 1;
    } else if (!strcmp(key, "unit")) {
        static const char *const units[] = {"steps", "epochs"};
        if ((rc = read_choice(P, v, label, units, 2, "steps | epochs", &c)))
            return rc;
        s->unit = c ? NL_STOP_EPOCHS : NL_STOP_STEPS;
        s->unit_given = true;
        s->unit_pos = nl_experiment_pos_of(v);
    } else if (!strcmp(key, "eta")) {
        if ((rc = read_count(P, v, label, 2, "an integer >= 2 (the reduction factor: 1/eta of the runs at a "
                             "rung go on)", &x)))
            return rc;
        s->eta = (int)x;
    } else if (!strcmp(key, "min_resource") || !strcmp(key, "grace")) {
        if ((rc = read_count(P, v, label, 1, "an integer >= 1, in the rule's unit", &x)))
            return rc;
        *(key[0] == 'm' ? &s->min_resource : &s->grace) = x;
        s->first_pos = nl_experiment_pos_of(v);
    } else if (!strcmp(key, "every")) {
        rc = read_count(P, v, label, 1, "an integer >= 1, in the rule's unit", &s->every);
    } else if (!strcmp(key, "min_runs")) {
        if ((rc = read_count(P, v, label, 1, "an integer >= 1 (other runs at a point before it stops any)", &x)))
            return rc;
        s->min_runs = (int)x;
    }
    return rc;
}

/* the rule first: it says which other keys there are */
static nl_code stop_rule(parser *P, yaml_node_t *n, nl_stop_spec *s)
{
    static const char *const rules[] = {"median", "asha"};
    for (int i = 0; i < nl_yaml_count(n); i++)
        if (!strcmp(nl_yaml_scalar(nl_yaml_key(&P->y, n, i)), "rule")) {
            int c = 0;
            nl_code rc = read_choice(P, nl_yaml_value(&P->y, n, i), "stop.rule", rules, 2,
                                     "median | asha", &c);
            s->rule = c ? NL_STOP_ASHA : NL_STOP_MEDIAN;
            return rc;
        }
    return nl_yaml_fail(&P->y, n, "stop", "rule: is missing; accepted: median | asha");
}

nl_code nl_experiment_parse_stop(parser *P, yaml_node_t *n)
{
    nl_stop_spec *s = &P->e->stop;
    *s = (nl_stop_spec){.min_resource = 1, .eta = 3, .grace = 1, .every = 1, .min_runs = 3,
                        .pos = nl_experiment_pos_of(n), .first_pos = nl_experiment_pos_of(n)};
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "stop", "a mapping {rule: asha | median, metric: ..., ...}");
    if (rc || (rc = stop_rule(P, n, s)))
        return rc;
    bool has_metric = false;
    for (int i = 0; i < nl_yaml_count(n) && rc == NL_OK; i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i), *v = nl_yaml_value(&P->y, n, i);
        bool known = false;
        for (int j = 0; j < N_STOP_KEYS; j++)
            known |= !strcmp(nl_yaml_scalar(k), stop_keys[j]);
        if (!known)
            return nl_yaml_unknown_key(&P->y, k, "stop", stop_keys, N_STOP_KEYS);
        has_metric |= !strcmp(nl_yaml_scalar(k), "metric");
        if (strcmp(nl_yaml_scalar(k), "rule") && strcmp(nl_yaml_scalar(k), "mode"))
            rc = stop_key(P, s, k, v);
    }
    /* mode after metric, whatever their order: the metric sets its default */
    for (int i = 0; i < nl_yaml_count(n) && rc == NL_OK; i++)
        if (!strcmp(nl_yaml_scalar(nl_yaml_key(&P->y, n, i)), "mode"))
            rc = stop_key(P, s, nl_yaml_key(&P->y, n, i), nl_yaml_value(&P->y, n, i));
    if (rc == NL_OK && !has_metric)
        return nl_yaml_fail(&P->y, n, "stop", "metric: is missing; accepted: " STOP_METRICS);
    return rc;
}

/* a run's length: train.steps or train.epochs of its resolved config */
nl_code nl_stop_run_length(const nl_sweep_run *r, nl_stop_unit *unit, long *length, nl_error *err)
{
    nl_flat f = {0};
    nl_code rc = nl_flat_from_yaml(r->config_text, r->dir, &f, err);
    if (rc)
        return rc;
    const char *steps = nl_flat_get(&f, "train.steps"), *epochs = nl_flat_get(&f, "train.epochs");
    long long st = 0, ep = 0;
    if (steps && !nl_parse_ll(steps, 0, LONG_MAX, &st))
        st = 0;
    if (epochs && !nl_parse_ll(epochs, 0, LONG_MAX, &ep))
        ep = 0;
    *unit = st > 0 ? NL_STOP_STEPS : NL_STOP_EPOCHS;
    *length = (long)(st > 0 ? st : ep);
    nl_flat_free(&f);
    return NL_OK;
}

static const char *unit_name(nl_stop_unit u) { return u == NL_STOP_EPOCHS ? "epochs" : "steps"; }

/* every run's length in the rule's unit (the runs' own), the first check
 * point below each */
static nl_code check_lengths(nl_experiment *e, const nl_sweep_plan *p, nl_error *err)
{
    nl_stop_spec *s = &e->stop;
    const char *first = s->rule == NL_STOP_ASHA ? "min_resource" : "grace";
    const long first_at = s->rule == NL_STOP_ASHA ? s->min_resource : s->grace;
    for (int i = 0; i < p->n_runs; i++) {
        nl_stop_unit unit;
        long length;
        nl_code rc = nl_stop_run_length(&p->runs[i], &unit, &length, err);
        if (rc)
            return rc;
        if (!s->unit_given && i == 0)
            s->unit = unit;
        if (unit != s->unit)
            return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: stop.unit: %s, but run %s trains for train.%s: %ld; "
                           "accepted: the unit every run's length is given in (steps with train.steps, "
                           "epochs with train.epochs)", e->path, s->unit_given ? s->unit_pos.line : s->pos.line,
                           s->unit_given ? s->unit_pos.column : s->pos.column, unit_name(s->unit), p->runs[i].dir,
                           unit_name(unit), length);
        if (first_at >= length)
            return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: stop.%s: %ld %s is not below run %s's length "
                           "(train.%s: %ld): no check point; accepted: an integer in [1, %ld]", e->path,
                           s->first_pos.line, s->first_pos.column, first, first_at, unit_name(s->unit),
                           p->runs[i].dir, unit_name(unit), length, length - 1);
    }
    return NL_OK;
}

/* Each claim that names a stop rule names the file's. With stop:, every
 * claim must name it: a claim's cells are never stopped early unless its
 * registration says they may be (a stopped seed is chosen by its outcome,
 * so the claim is decided on the seeds the rule kept). Exempting the cells
 * instead would quietly take most of a sweep out of the rule, since claims
 * span its grid. */
static nl_code check_claims(const nl_experiment *e, nl_error *err)
{
    const nl_stop_spec *s = &e->stop;
    const char *rule = nl_stop_rule_name(s->rule);
    for (int i = 0; e->claims && i < e->claims->n; i++) {
        const nl_claim *c = &e->claims->claims[i];
        if (c->stop[0] && s->rule == NL_STOP_NONE)
            return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: claims[%d].stop: '%s' names a stop rule, but the file "
                           "has no stop:; accepted: a claim's stop: naming the file's stop: rule (median | asha)",
                           e->path, c->stop_line, c->stop_column, i, c->stop);
        if (c->stop[0] && strcmp(c->stop, rule))
            return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: claims[%d].stop: '%s' is not the file's stop rule; "
                           "accepted: %s", e->path, c->stop_line, c->stop_column, i, c->stop, rule);
        if (s->rule != NL_STOP_NONE && !c->stop[0])
            return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: stop: claim '%s' (line %d) does not name the rule, and "
                           "a claim's cells are never stopped early unless its registration says they may be (a "
                           "stopped seed is chosen by its outcome); accepted: stop: %s in every claim, registered "
                           "before its runs, or no stop:", e->path, s->pos.line, s->pos.column, c->id, c->line,
                           rule);
    }
    return NL_OK;
}

nl_code nl_stop_check_plan(nl_experiment *e, const nl_sweep_plan *p, nl_error *err)
{
    const nl_stop_spec *s = &e->stop;
    nl_code rc = check_claims(e, err);
    if (rc || s->rule == NL_STOP_NONE)
        return rc;
    /* a plan of looks with no claim to name the rule */
    if (e->claims && e->claims->n == 0 && e->claims->plan.kind != NL_PLAN_NONE)
        return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: stop: the file has plan: (line %d), a plan of looks at "
                       "claims whose cells are never stopped early; accepted: stop: in a file whose claims each "
                       "name the rule (stop: %s), or without plan:", e->path, s->pos.line, s->pos.column,
                       e->claims->plan.line, nl_stop_rule_name(s->rule));
    return check_lengths(e, p, err);
}
