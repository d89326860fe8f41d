/* Claims as data: an experiment file's `claims:` section, each claim a
 * paper's sentence made checkable against the sweep's runs (the cells it
 * compares by key=value selectors, the metric, the expected direction and
 * size, the rate or count of an outcome, or a count over cells). The syntax
 * is documented in results/usage.md ("Claims and verdicts"); normlab
 * verdict evaluates them (verdict/verdict.h). Parsing here checks the
 * claim's own form; whether its keys, values and metric exist is the
 * evaluation's check, against the runs. A claims file that is not an
 * experiment (experiments/claims/NAME.yaml) adds a `source:` saying how a
 * directory without a summary.csv is read as runs. The experiment loader
 * (sweep/sweep.h) reads them with its own sections from one parse and keeps
 * them in the experiment; sweep and verdict both read them from here. */
#ifndef NL_RESULTS_CLAIMS_H
#define NL_RESULTS_CLAIMS_H

#include <stdbool.h>

#include "base/status.h"
#include "config/yamldoc.h"
#include "results/expr.h"

#define NL_CLAIM_MAX_SELECT 8
#define NL_CLAIM_MAX 96
#define NL_CLAIM_MAX_VARS 4
#define NL_CLAIM_MAX_EACH 3
#define NL_CLAIM_MAX_SOURCE_KEYS 8
/* the most seeds a claim can be read at: as many as a sweep's grid can list
 * (sweep/sweep.h: NL_SWEEP_MAX_VALUES), so that power: can name any n the
 * schedule prints (experiments/schedule/rule.yaml: n has no cap) */
#define NL_CLAIM_MAX_SEEDS 1000

/* a selector's value: one value, any of a list, or a numeric range */
typedef enum { NL_SELECT_VALUE, NL_SELECT_LIST, NL_SELECT_RANGE } nl_select_kind;

typedef struct {
    char key[96];
    /* VALUE: plain text, as summary.csv writes it; LIST: the items, each
     * ended by '\n'; RANGE: "LO..HI" as written */
    char value[256];
    nl_select_kind kind;
    double lo, hi; /* RANGE, inclusive; -inf or +inf where open */
    int line, column;
} nl_claim_select;

/* the cells a claim compares: a, b (a's cell where only b_metric: is
 * given), and the second pair of an interaction, c and d (c's cell where
 * only b_metric: is given); a and c read `metric`, b and d `b_metric` */
enum { NL_CELL_A, NL_CELL_B, NL_CELL_C, NL_CELL_D, NL_CELL_COUNT };
extern const char *const nl_cell_names[NL_CELL_COUNT];

typedef struct {
    nl_claim_select sel[NL_CLAIM_MAX_SELECT];
    int n;
    bool given;
    /* `sweep: NAME`: the cell's runs are another sweep directory's (beside
     * this one); scope: and each: then do not apply to it */
    char sweep[128];
    int line, column;
} nl_claim_cell;

/* what the expectation compares */
typedef enum {
    NL_EFFECT_DIFFERENCE, /* a - b, paired by seed */
    NL_EFFECT_RATIO,      /* a / b, paired by seed */
    NL_EFFECT_VALUE,      /* a against a number */
    NL_EFFECT_RATE,       /* the fraction of a's seeds with the bad outcome */
    NL_EFFECT_EXPR,       /* an expression of a, b, c, d per seed */
    NL_EFFECT_COUNT,      /* how many units (seeds, rows) have the outcome: exact */
} nl_effect_kind;

typedef enum {
    NL_EXPECT_GREATER, /* effect > threshold */
    NL_EXPECT_LESS,    /* effect < threshold */
    NL_EXPECT_WITHIN,  /* |effect - threshold| <= within */
} nl_expect_op;

/* how a per-run file's rows become one number: the last, the smallest,
 * the largest, their mean, their sample standard deviation, the sample
 * standard deviation of the changes from one row to the next */
typedef enum { NL_AT_LAST, NL_AT_MIN, NL_AT_MAX, NL_AT_MEAN, NL_AT_SD, NL_AT_CHANGE_SD, NL_AT_COUNT } nl_metric_at;
extern const char *const nl_metric_at_names[NL_AT_COUNT];

/* a metric: a summary.csv column or summary.json number (file ""), column
 * `name` of the run directory's CSV `file` over the rows matching `where`,
 * reduced by `at` (or, with reach:, the step of the first of those rows
 * whose value is beyond reach_x), or (is_expr) the expression `name` over
 * the claim's vars: and the run's numbers */
typedef struct {
    char name[256];
    char file[128];
    nl_claim_select where[NL_CLAIM_MAX_SELECT];
    int n_where;
    nl_metric_at at;
    bool has_reach;
    int reach_op; /* NL_EXPECT_GREATER (>=) or NL_EXPECT_LESS (<=) */
    double reach_x;
    bool is_expr;
    int line, column;
} nl_claim_metric;

/* plan: how a claim's looks (its original sweep, each confirmation, each
 * withdrawn sweep: verdict/looks.h) decide it, stated before its first
 * decisive look (STATS.md, "Looks"; issue 81): group-sequential, at most
 * `looks` looks with seeds pooled across them and each look's boundary
 * from an alpha-spending function (stats/seq.h; O'Brien-Fleming where
 * spending: is not given); or first-confirmation, the first pre-registered
 * look (the original where its claim was committed before its runs, else
 * the first pre-registered confirmation) decides and the looks before it
 * are shown, not pooled. pilots: names
 * sweeps (withdrawn ones, say) declared pilots: not looks, when the
 * declaration was committed before their runs */
typedef enum { NL_PLAN_NONE, NL_PLAN_GROUP_SEQUENTIAL, NL_PLAN_FIRST_CONFIRMATION, NL_PLAN_KIND_COUNT } nl_plan_kind;
/* "none", "group-sequential", "first-confirmation" */
extern const char *const nl_plan_kind_names[NL_PLAN_KIND_COUNT];

#define NL_PLAN_MAX_PILOTS 8

typedef struct {
    nl_plan_kind kind;
    int looks;          /* K, group-sequential */
    char spending[32];  /* a name nl_seq_spending_find knows, group-sequential */
    char pilots[NL_PLAN_MAX_PILOTS][128];
    int n_pilots;
    int line, column;   /* of plan:, 0 where none is given */
} nl_claim_plan;

/* `cells:` of a claim over each: values: how many of its cells it holds in */
typedef enum { NL_CELLS_NONE, NL_CELLS_ALL, NL_CELLS_EXACTLY, NL_CELLS_AT_LEAST, NL_CELLS_AT_MOST } nl_cells_op;

typedef struct {
    char id[96];
    char paper[512];
    nl_claim_metric metric;
    /* b's (and d's) metric where it is another (a train-mode against an
     * eval-mode accuracy); b: then defaults to a's cell */
    nl_claim_metric b_metric;
    bool has_b_metric;
    nl_expr metric_expr, b_metric_expr; /* where the metric is_expr */
    /* vars: named metrics an expression metric reads */
    char var_names[NL_CLAIM_MAX_VARS][32];
    nl_claim_metric vars[NL_CLAIM_MAX_VARS];
    int n_vars;
    nl_claim_cell cells[NL_CELL_COUNT];
    nl_claim_select scope[NL_CLAIM_MAX_SELECT];
    int n_scope;
    /* one claim per value (combination of values) of these keys ("" none) */
    char each[NL_CLAIM_MAX_EACH][96];
    int n_each;
    /* one claim per value of this column of the metric's run file */
    char each_row[96];
    nl_cells_op cells_op;
    int cells_k;
    char expect[256];
    /* the paper's number the claim tests (its effect, in the metric's
     * units), from which the experiment's threshold_rule: derives the
     * threshold; headline: one of the few claims the section states, the
     * family Holm's correction runs over */
    double paper_value;
    bool has_paper_value, headline;
    nl_effect_kind effect;
    nl_expect_op op;
    double threshold, within;
    /* "a < b + W", "a > b - W": non-inferiority ("matches or beats"): a is
     * no worse than b by more than the margin W (threshold +W or -W), a
     * one-sided test whose margin threshold_rule's band: gives */
    bool noninferiority;
    /* rate and count claims: a unit's outcome is its value beyond
     * outcome_x (outcome_op GREATER, LESS, or WITHIN outcome_within of it),
     * or (rate) the run diverged and outcome_diverged (then outcome_op may
     * be -1: divergence alone) */
    int outcome_op;
    double outcome_x, outcome_within;
    bool outcome_inclusive; /* count(a >= X): an exact count tells >= from > */
    bool outcome_diverged;
    /* NL_EFFECT_EXPR and NL_EFFECT_COUNT: the per-unit value */
    nl_expr effect_expr;
    /* NL_EFFECT_COUNT: count(...) compared with count_k: op GREATER is >=,
     * LESS <=, WITHIN == */
    int count_k;
    /* its own plan:, or (plan.kind NL_PLAN_NONE) the file's (nl_claim_plan_of) */
    nl_claim_plan plan;
    /* stop: the sweep's stop rule (sweep/stop.h) the claim was registered
     * under, by name ("" none): only then may the rule stop its cells, and a
     * rule named after the runs makes the claim post hoc */
    char stop[16];
    int stop_line, stop_column;
    /* positions (1-based) for errors: the claim, its keys */
    int line, column, each_line, each_column, expect_line, expect_column;
} nl_claim;

/* how a directory that is not a sweep is read as runs */
typedef enum { NL_SOURCE_SWEEP, NL_SOURCE_RUNS, NL_SOURCE_TABLE } nl_source_kind;

typedef struct {
    nl_source_kind kind;
    /* RUNS: a glob of run directories (each with summary.json) under the
     * directory; TABLE: of CSV files whose rows are the runs, with at most
     * one {FIELD} standing for what a file's name holds there (a key) */
    char pattern[256];
    /* the keys that tell runs apart: summary.json or config.yaml keys
     * (RUNS), columns or the {FIELD} (TABLE) */
    char keys[NL_CLAIM_MAX_SOURCE_KEYS][96];
    int n_keys;
    char run[96]; /* TABLE: the column naming a row; "" file:line */
    int line, column;
} nl_claim_source;

/* threshold_rule: how every claim's threshold comes from its paper_value,
 * stated once per experiment: a directional claim's threshold is `fraction`
 * of the paper's effect (measured from no effect: 0 for a difference, a
 * rate or an expression, 1 for a ratio; a value claim's is the paper's
 * value itself); an equivalence claim (~) is centred on the paper's value
 * with the band `band`, a difference of practical interest; `reason` says
 * why */
typedef struct {
    bool given, has_fraction, has_band;
    double fraction, band;
    char reason[512];
    int line, column;
} nl_threshold_rule;

/* power: the seeds the experiment's headline claims need for power 0.8 at
 * their thresholds and the spread of a pilot or earlier sweep (from:) */
typedef struct {
    int seeds; /* 0: not given */
    char from[512];
    int line, column;
} nl_claim_power;

typedef struct nl_claim_set {
    char path[1024]; /* the experiment file */
    char name[128];  /* its sweep's name */
    nl_claim_source source;
    nl_threshold_rule rule;
    nl_claim_power power;
    nl_claim_plan plan; /* the file's plan: (kind NL_PLAN_NONE: none) */
    int n;
    nl_claim claims[NL_CLAIM_MAX];
} nl_claim_set;

/* the plan claim c is decided by: its own, else its file's (kind NL_PLAN_NONE: none) */
const nl_claim_plan *nl_claim_plan_of(const nl_claim_set *set, const nl_claim *c);

/* Reads `claims:` (and `name:`, `source:`) from an experiment file; a file
 * without claims gives n = 0. Errors (NL_ERR_CONFIG) name file:line:col and
 * the key. */
nl_code nl_claims_load(const char *path, nl_claim_set *out, nl_error *err);
nl_code nl_claims_parse(const char *text, const char *path, nl_claim_set *out, nl_error *err);
/* the same from a document already loaded (the experiment loader's, which
 * reads its own sections from it): errors go to doc->err */
nl_code nl_claims_read(const nl_yaml_doc *doc, yaml_node_t *root, const char *path, nl_claim_set *out);

/* parses an expectation string into c (effect, op, threshold, within,
 * outcome, effect_expr); `has` says which cells the claim has (b and d
 * counting where b_metric: makes them); false with a reason when it is
 * malformed or uses a cell the claim lacks, or lacks a use of one it has */
bool nl_claim_parse_expect(const char *text, const bool has[NL_CELL_COUNT], nl_claim *c, char *why, size_t size);

/* whether a selector takes a value (a list item, or a number in a range) */
bool nl_claim_select_matches(const nl_claim_select *s, const char *have);

/* a count (of units, or of cells other than cells: all) describes what
 * happened; it is never a test, a headline or a hold */
bool nl_claim_is_count(const nl_claim *c);

/* the threshold the set's rule derives from c's paper_value (c->threshold
 * for op > <, the centre for ~); NaN without a rule or a paper_value */
double nl_claim_rule_threshold(const nl_claim_set *set, const nl_claim *c);

#endif
