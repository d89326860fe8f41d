/* An experiment file's threshold_rule: and power:, and each claim's
 * threshold held to the rule (claims_internal.h). */
#include <math.h>
#include <string.h>

#include "results/claims.h"
#include "results/claims_internal.h"

#define CL_STRING_OF(x) #x
#define CL_STRING(x) CL_STRING_OF(x)

nl_code cl_read_rule(parser *P, yaml_node_t *n)
{
    static const char *const keys[] = {"fraction", "band", "reason"};
    nl_threshold_rule *r = &P->set->rule;
    nl_code rc = nl_yaml_check_mapping(P->y, n, "threshold_rule", "a mapping: {fraction: F, band: W, reason: "
                                       "TEXT} (the threshold is F of the paper's effect; ~ claims are within W of "
                                       "the paper's value)");
    r->given = true;
    r->line = nl_yaml_line(n);
    r->column = nl_yaml_column(n);
    const nl_yaml_range positive = {.has_lo = true, .lo_open = true, .lo = 0};
    for (int i = 0; rc == NL_OK && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(P->y, n, i), *v = nl_yaml_value(P->y, n, i);
        const char *name = nl_yaml_scalar(k);
        char label[64];
        snprintf(label, sizeof label, "threshold_rule.%s", name);
        if (!strcmp(name, "fraction")) {
            r->has_fraction = true;
            rc = nl_yaml_read_number(P->y, v, label, &positive, "a number > 0: the share of the paper's effect "
                                     "(0.5: half)", &r->fraction);
        } else if (!strcmp(name, "band")) {
            r->has_band = true;
            rc = nl_yaml_read_number(P->y, v, label, &positive, "a number > 0: the difference of practical "
                                     "interest, in the metric's units", &r->band);
        } else if (!strcmp(name, "reason")) {
            rc = cl_read_text(P, v, label, r->reason, sizeof r->reason);
        } else {
            rc = nl_yaml_unknown_key(P->y, k, "threshold_rule", keys, (int)(sizeof keys / sizeof keys[0]));
        }
    }
    if (rc == NL_OK && !r->has_fraction && !r->has_band)
        rc = nl_yaml_fail(P->y, n, "threshold_rule", "the rule names no use of the paper's value: give fraction: "
                          "(a directional claim's threshold, a share of the paper's effect) and/or band: (an "
                          "equivalence claim's margin around the paper's value)");
    if (rc == NL_OK && !r->reason[0])
        rc = nl_yaml_fail(P->y, n, "threshold_rule", "reason: is missing: say why this share or band");
    return rc;
}

nl_code cl_read_power(parser *P, yaml_node_t *n)
{
    static const char *const keys[] = {"seeds", "from"};
    nl_claim_power *w = &P->set->power;
    nl_code rc = nl_yaml_check_mapping(P->y, n, "power", "a mapping: {seeds: N, from: TEXT} (the seeds the "
                                       "headline claims need for power 0.8, and the spread it was computed from)");
    w->line = nl_yaml_line(n);
    w->column = nl_yaml_column(n);
    const nl_yaml_range seeds = {.has_lo = true, .lo = 3, .has_hi = true, .hi = NL_CLAIM_MAX_SEEDS};
    for (int i = 0; rc == NL_OK && i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(P->y, n, i), *v = nl_yaml_value(P->y, n, i);
        long long seeds_n = 0;
        if (!strcmp(nl_yaml_scalar(k), "seeds")) {
            rc = nl_yaml_read_int(P->y, v, "power.seeds", &seeds, "an integer from 3 to " CL_STRING(NL_CLAIM_MAX_SEEDS),
                                  NL_CLAIM_MAX_SEEDS, &seeds_n);
            w->seeds = (int)seeds_n;
        } else if (!strcmp(nl_yaml_scalar(k), "from")) {
            rc = cl_read_text(P, v, "power.from", w->from, sizeof w->from);
        } else {
            rc = nl_yaml_unknown_key(P->y, k, "power", keys, (int)(sizeof keys / sizeof keys[0]));
        }
    }
    if (rc == NL_OK && (!w->seeds || !w->from[0]))
        rc = nl_yaml_fail(P->y, n, "power", "needs seeds: and from: (the spread the seeds were computed from)");
    return rc;
}

bool nl_claim_is_count(const nl_claim *c)
{
    return c->effect == NL_EFFECT_COUNT || (c->cells_op != NL_CELLS_NONE && c->cells_op != NL_CELLS_ALL);
}

double nl_claim_rule_threshold(const nl_claim_set *set, const nl_claim *c)
{
    const nl_threshold_rule *r = &set->rule;
    if (!r->given || !c->has_paper_value || nl_claim_is_count(c))
        return NAN;
    if (c->op == NL_EXPECT_WITHIN || c->effect == NL_EFFECT_VALUE)
        return c->paper_value;
    /* "matches or beats": no worse than the paper's value by more than
     * the band, a difference of practical interest, as an equivalence's */
    if (c->noninferiority)
        return r->has_band ? c->paper_value + (c->op == NL_EXPECT_LESS ? r->band : -r->band) : NAN;
    if (!r->has_fraction)
        return NAN;
    /* no effect: 1 for a ratio; for a rate, the end the claim moves away
     * from: 0 for rate(...) >= P (the paper's rate 1 read as at least F of
     * it), 1 for rate(...) <= P (the paper's rate 0 read as at most 1 - F:
     * a rate of 0 itself can never hold, the exact interval's upper end
     * being above 0 at any number of seeds); 0 for the rest */
    const double none = c->effect == NL_EFFECT_RATIO || (c->effect == NL_EFFECT_RATE && c->op == NL_EXPECT_LESS) ? 1 : 0;
    return none + r->fraction * (c->paper_value - none);
}

/* thresholds written as the rule gives them (to the 4 significant digits a
 * threshold is written with) */
static bool same_threshold(double written, double derived)
{
    return fabs(written - derived) <= 5e-4 * fmax(fabs(derived), 1e-9) + 1e-12;
}

nl_code cl_check_rule(parser *P, int index)
{
    const nl_claim_set *set = P->set;
    const nl_claim *c = &set->claims[index];
    const nl_threshold_rule *r = &set->rule;
    char where[1200];
    snprintf(where, sizeof where, "%s:%d:%d: claims[%d]", set->path, c->line, c->column, index);
    if (nl_claim_is_count(c)) {
        if (c->headline)
            return nl_fail(P->y->err, NL_ERR_CONFIG, "%s.headline: a count (of seeds, or of cells other than "
                           "cells: all) describes what happened; it is not a test and cannot be a headline claim",
                           where);
        return NL_OK;
    }
    if (!r->given && (c->headline || c->has_paper_value))
        return nl_fail(P->y->err, NL_ERR_CONFIG, "%s.%s: a %s needs the experiment's threshold_rule: {fraction: F, "
                       "band: W, reason: TEXT}, which derives the threshold from the paper's number", where,
                       c->headline ? "headline" : "paper_value", c->headline ? "headline claim" : "paper's value");
    if (!r->given)
        return NL_OK;
    if (!c->has_paper_value)
        return nl_fail(P->y->err, NL_ERR_CONFIG, "%s: paper_value: is missing: threshold_rule: (line %d) derives "
                       "each claim's threshold from the paper's number, so a claim states it (paper_value: 0.106 "
                       "for 10.6 points)", where, r->line);
    const bool within = c->op == NL_EXPECT_WITHIN;
    if (within && !r->has_band)
        return nl_fail(P->y->err, NL_ERR_CONFIG, "%s.expect: '%s' is an equivalence (~), and threshold_rule: (line "
                       "%d) gives no band:", where, c->expect, r->line);
    if (c->noninferiority && !r->has_band)
        return nl_fail(P->y->err, NL_ERR_CONFIG, "%s.expect: '%s' is a non-inferiority (a margin a may lose "
                       "by), and threshold_rule: (line %d) gives no band: to take the margin from", where,
                       c->expect, r->line);
    if (!within && !c->noninferiority && c->effect != NL_EFFECT_VALUE && !r->has_fraction)
        return nl_fail(P->y->err, NL_ERR_CONFIG, "%s.expect: '%s' is directional, and threshold_rule: (line %d) "
                       "gives no fraction:", where, c->expect, r->line);
    const double derived = nl_claim_rule_threshold(set, c);
    /* a rate at most P written as the rule read it before issue 92, from
     * 0 (F x V: for the paper's rate 0 a threshold of 0 that never holds),
     * still parses: the history's versions that wrote it (registration,
     * plans) must read as they did; tests/verdict_prose flags a headline
     * claim that can never hold */
    const bool old_rate_form = c->effect == NL_EFFECT_RATE && c->op == NL_EXPECT_LESS &&
                               same_threshold(c->threshold, r->fraction * c->paper_value);
    if ((!same_threshold(c->threshold, derived) && !old_rate_form) ||
        (within && !same_threshold(c->within, r->band)))
        return nl_fail(P->y->err, NL_ERR_CONFIG, "%s.expect: '%s' is not what threshold_rule: (line %d) derives "
                       "from paper_value %g: %s %.4g%s%.4g", where, c->expect, r->line, c->paper_value,
                       within ? "centre" : "threshold", derived, within ? ", band " : "", within ? r->band : 0.0);
    return NL_OK;
}
