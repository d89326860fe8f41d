/* Claims as data: an experiment file's `claims:` section, each claim a
 * paper's sentence made checkable against the sweep's runs (the cells it
 * compares by key=value selectors, the metric, the expected direction and
 * size, or the rate of a bad outcome). The syntax is documented in
 * results/usage.md ("Claims and verdicts"); normlab verdict evaluates them
 * (verdict/verdict.h). Parsing here checks the claim's own form; whether its
 * keys, values and metric exist is the evaluation's check, against the runs. */
#ifndef NL_VERDICT_CLAIMS_H
#define NL_VERDICT_CLAIMS_H

#include <stdbool.h>

#include "base/status.h"

#define NL_CLAIM_MAX_SELECT 8
#define NL_CLAIM_MAX 64

typedef struct {
    char key[96];
    char value[128]; /* plain text, as summary.csv writes it */
    int line, column;
} nl_claim_select;

/* what the expectation compares */
typedef enum {
    NL_EFFECT_DIFFERENCE, /* a - b, paired by seed */
    NL_EFFECT_RATIO,      /* a / b, paired by seed */
    NL_EFFECT_VALUE,      /* a against a number */
    NL_EFFECT_RATE,       /* the fraction of a's seeds with the bad outcome */
} nl_effect_kind;

typedef enum {
    NL_EXPECT_GREATER, /* effect > threshold */
    NL_EXPECT_LESS,    /* effect < threshold */
    NL_EXPECT_WITHIN,  /* |effect - threshold| <= within */
} nl_expect_op;

/* how a per-run file's rows become one number */
typedef enum { NL_AT_LAST, NL_AT_MIN, NL_AT_MAX, NL_AT_MEAN, NL_AT_COUNT } nl_metric_at;
extern const char *const nl_metric_at_names[NL_AT_COUNT];

/* a metric: a summary.csv column or summary.json number (file ""), or
 * column `name` of the run directory's CSV `file` over the rows matching
 * `where`, reduced by `at` */
typedef struct {
    char name[96];
    char file[128];
    nl_claim_select where[NL_CLAIM_MAX_SELECT];
    int n_where;
    nl_metric_at at;
    int line, column;
} nl_claim_metric;

typedef struct {
    char id[96];
    char paper[512];
    nl_claim_metric metric;
    /* b's metric where it is another (a train-mode against an eval-mode
     * accuracy); b: then defaults to a's cell */
    nl_claim_metric b_metric;
    bool has_b_metric;
    nl_claim_select a[NL_CLAIM_MAX_SELECT], b[NL_CLAIM_MAX_SELECT], scope[NL_CLAIM_MAX_SELECT];
    int n_a, n_b, n_scope;
    bool has_b; /* b: given, or b_metric: (b is then a's cell) */
    char each[96];   /* one claim per value of this key ("" none) */
    char expect[256];
    nl_effect_kind effect;
    nl_expect_op op;
    double threshold, within;
    /* rate claims: a seed's outcome is bad when its metric is beyond
     * outcome_x (outcome_op GREATER or LESS), or when the run diverged and
     * outcome_diverged (then outcome_op may be -1: divergence alone) */
    int outcome_op;
    double outcome_x;
    bool outcome_diverged;
    /* positions (1-based) for errors: the claim, its keys */
    int line, column, each_line, each_column, expect_line, expect_column;
} nl_claim;

typedef struct {
    char path[1024]; /* the experiment file */
    char name[128];  /* its sweep's name */
    int n;
    nl_claim claims[NL_CLAIM_MAX];
} nl_claim_set;

/* Reads `claims:` (and `name:`) from an experiment file; a file without
 * claims gives n = 0. Errors (NL_ERR_CONFIG) name file:line:col and the key. */
nl_code nl_claims_load(const char *path, nl_claim_set *out, nl_error *err);
nl_code nl_claims_parse(const char *text, const char *path, nl_claim_set *out, nl_error *err);

/* parses an expectation string into c (effect, op, threshold, within,
 * outcome); false with a reason when it is malformed */
bool nl_claim_parse_expect(const char *text, bool has_b, nl_claim *c, char *why, size_t size);

#endif
