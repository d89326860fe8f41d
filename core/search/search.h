/* `normlab search SEARCH.yaml` (issue 117): an evolutionary search over
 * formula normalizers on one base model. A population of formulas is
 * evolved from a start population by the mutation operators of the
 * formula's tree (norm/formula_edit.h); each candidate goes through the
 * rejections cheapest first (a canonical form seen before, the plan of the
 * base model with it, a numerics probe, functional equivalence with an
 * earlier candidate) and then a short training run of the base config, the
 * hurdle. Every candidate is a row of OUT/candidates.csv, written as it is
 * decided, so that a search killed at any point goes on from the file and
 * ends with the file an uninterrupted one writes (draws from the seed
 * alone, outcomes read back from the rows). Library code: nothing printed,
 * errors returned. */
#ifndef NL_SEARCH_H
#define NL_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "norm/formula.h"

#define NL_SEARCH_MAX_START 64
/* the most candidates one search decides (a row each in memory) */
#define NL_SEARCH_MAX_CANDIDATES 100000

typedef struct {
    char expr[NL_FORMULA_MAX_TEXT + 1];
    char params[NL_FORMULA_MAX_PARAMS_TEXT + 1];
    int line, column; /* where the search file gives it */
} nl_search_start;

/* a search file, checked: every start formula parses and plans on the base */
typedef struct {
    char path[1024];
    char *text;            /* the file's text */
    char *base_text;       /* an inline base: the file's text outside it blanked; else NULL */
    char base_path[1024];  /* a base file (relative to the search file's directory) */
    nl_search_start start[NL_SEARCH_MAX_START];
    int n_start;
    uint64_t seed;
    int population;        /* children a generation, and the parents kept */
    int generations;       /* 0: candidates: says the budget */
    long candidates;       /* the budget in candidates, the start's included */
    long hurdle_steps;
    double min_accuracy;   /* the test accuracy a hurdle run must reach */
    double time_limit_s;   /* a hurdle run past it is killed and rejected */
} nl_search_spec;

/* Reads and checks a search file: a key, a type or a value it does not
 * take, an empty start population, a budget of zero, a start formula that
 * does not parse or whose model does not plan: NL_ERR_CONFIG naming
 * file:line:column, the key and what is accepted. */
nl_code nl_search_load(const char *path, nl_search_spec *s, nl_error *err);
void nl_search_spec_free(nl_search_spec *s);
/* the budget: candidates decided, the start population's included */
long nl_search_budget(const nl_search_spec *s);

/* where a candidate stopped: one row per stage, cheapest first; passed
 * is the last */
typedef enum {
    NL_STAGE_DUPLICATE,
    NL_STAGE_PLAN,
    NL_STAGE_NUMERICS,
    NL_STAGE_EQUIVALENT,
    NL_STAGE_HURDLE,
    NL_STAGE_PASSED,
    NL_STAGE_COUNT
} nl_search_stage;
typedef struct {
    const char *name;
    const char *help;
} nl_search_stage_row;
extern const nl_search_stage_row nl_search_stages[NL_STAGE_COUNT];

typedef struct {
    long id;         /* 1, 2, ... in the order decided */
    int generation;  /* 0: the start population */
    long parents[2]; /* 0: none */
    int mutation;    /* a row of nl_formula_mutations; -1: a start formula */
    char expr[NL_FORMULA_MAX_TEXT + 1];
    char params[NL_FORMULA_MAX_PARAMS_TEXT + 1];
    char canonical[17]; /* the hash of its canonical form, hex */
    char behaviour[17]; /* the hash of its probe outputs and gradients; "" not probed */
    nl_search_stage stage;
    char reason[512];
    double accuracy; /* the hurdle run's test accuracy; NaN: none */
} nl_search_candidate;

typedef struct {
    const char *exe;     /* the normlab binary the hurdle runs start */
    const char *out_dir; /* candidates.csv and the hurdle runs' directories */
    /* after each candidate is decided (resumed: read from the file) */
    void (*on_candidate)(void *ctx, const nl_search_candidate *c, bool resumed);
    void *ctx;
} nl_search_options;

typedef struct {
    nl_search_candidate *candidates; /* in id order */
    long n;
    long resumed;                /* read back from candidates.csv */
    long stage_counts[NL_STAGE_COUNT];
    double cheap_s;              /* this process's time in the stages before the hurdle */
    long cheap_decided;          /* candidates this process decided before the hurdle */
    double hurdle_s;
    long hurdle_runs;
} nl_search_result;

nl_code nl_search_run(const nl_search_spec *s, const nl_search_options *opt, nl_search_result *r,
                      nl_error *err);
void nl_search_result_free(nl_search_result *r);
/* the passed candidates by hurdle accuracy, best first (ties: the earlier
 * id), into ids; returns how many (at most max) */
int nl_search_best(const nl_search_result *r, long *ids, int max);

#endif
