/* Internal to core/results: the experiment file parser's state, which
 * claims.c (claims:, source: and plan:) and claims_rule.c (threshold_rule:
 * and power:) share. */
#ifndef NL_RESULTS_CLAIMS_INTERNAL_H
#define NL_RESULTS_CLAIMS_INTERNAL_H

#include "config/yamldoc.h"

/* defined in results/claims.h, which this header leaves to its users:
 * claims.c, claims.h's own module, includes this header, and the two
 * would include each other */
struct nl_claim_set;

typedef struct {
    const nl_yaml_doc *y;
    struct nl_claim_set *set;
} parser;

/* a string of 1 to size - 1 characters into out */
nl_code cl_read_text(parser *P, const yaml_node_t *n, const char *key, char *out, size_t size);

/* threshold_rule: {fraction: F, band: W, reason: TEXT} */
nl_code cl_read_rule(parser *P, yaml_node_t *n);

/* power: {seeds: N, from: TEXT} */
nl_code cl_read_power(parser *P, yaml_node_t *n);

/* with a threshold_rule:, every claim that tests (not a count) names its
 * paper_value and its threshold is the rule's; a count is never a headline */
nl_code cl_check_rule(parser *P, int index);

#endif
