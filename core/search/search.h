/* `normlab search SEARCH.yaml` (issue 117): an evolutionary search over
 * formula normalizers. A population of formulas is evolved from a start
 * population by the mutation operators of the formula's tree
 * (norm/formula_edit.h); each candidate goes through the rejections
 * cheapest first (a canonical form seen before, the plan of the base and
 * of every ranking model with it, a numerics probe, the degeneracy checks,
 * functional equivalence with an earlier candidate), then a short training
 * run of the base config, the hurdle, and a training run on each of the K
 * ranking models, whose accuracies are its scores; parents are drawn by
 * Pareto tournament over them. Every candidate is a row of OUT/candidates.csv, written as it is
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
/* the most models a survivor is ranked on (rank.models) */
#define NL_SEARCH_MAX_MODELS 8
/* the most rungs of rank.rungs (min_steps * eta^k below max_steps, and max_steps) */
#define NL_SEARCH_MAX_RUNGS 8
/* the most candidates one search decides (a row each in memory) */
#define NL_SEARCH_MAX_CANDIDATES 100000

typedef struct {
    char expr[NL_FORMULA_MAX_TEXT + 1];
    char params[NL_FORMULA_MAX_PARAMS_TEXT + 1];
    int line, column; /* where the search file gives it */
} nl_search_start;

/* a model of the search: the base, or one of rank.models */
typedef struct {
    char *text;       /* an inline config: the file's text outside it blanked; else NULL */
    char path[1024];  /* a config file (relative to the search file's directory) */
    char label[32];   /* base, rank.models[K] */
    int line, column; /* where the search file gives it */
} nl_search_model;

/* a search file, checked: every start formula parses and plans on the
 * base and on every model it is ranked on */
typedef struct {
    char path[1024];
    char *text;            /* the file's text */
    nl_search_model base;  /* the probe's shapes and the hurdle's run */
    nl_search_model models[NL_SEARCH_MAX_MODELS]; /* rank.models: each survivor trained on each */
    int n_models;          /* K; 0: ranked by the hurdle's accuracy alone */
    double rank_time_limit_s; /* a ranking run past it is killed and the candidate rejected */
    /* rank.rungs: successive halving over each generation's survivors of
     * the hurdle, trained rung_steps[0] steps on every model, the best
     * 1/eta of them (Pareto order) rung_steps[1], ..., to rung_steps[n_rungs
     * - 1] = max_steps; n_rungs 0: every survivor trained as its models say */
    long rung_steps[NL_SEARCH_MAX_RUNGS];
    int n_rungs;
    int eta;
    /* holdout.models: models no candidate was ranked on, on which the best
     * holdout_top of the search are trained again and re-ranked */
    nl_search_model holdout[NL_SEARCH_MAX_MODELS];
    int n_holdout;
    int holdout_top;
    double holdout_time_limit_s;
    /* claims: the best claims_top (re-ranked on holdout: where given)
     * written as experiment files of pre-registered claims against batch,
     * layer and group norm at claims_batch (0: the base's), claims_seeds
     * fresh seeds; claims_top 0: none */
    int claims_top, claims_batch, claims_seeds;
    /* target: {normalizer: NAME, within: W}: NAME (a model.norm.type) trained
     * first on each model that scores a candidate (rank.models at their
     * last rung's steps, or the base at the hurdle's steps); the search stops
     * at the first candidate whose scores are on average within W of NAME's
     * (W in accuracy, 0.005 half a point). target_norm "": none */
    char target_norm[32];
    double target_within;
    int target_line, target_column;
    int tournament;        /* T: candidates a parent's tournament samples */
    unsigned checks;       /* the degeneracy checks applied (bits: rows of nl_search_checks) */
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
    NL_STAGE_DEGENERATE,
    NL_STAGE_EQUIVALENT,
    NL_STAGE_HURDLE,
    NL_STAGE_RANK,
    NL_STAGE_PASSED,
    NL_STAGE_COUNT
} nl_search_stage;
typedef struct {
    const char *name;
    const char *help;
} nl_search_stage_row;
extern const nl_search_stage_row nl_search_stages[NL_STAGE_COUNT];

/* The degeneracy checks (probe.c), one row each, run on the numerics
 * probe's tensors in the order of the table: a formula that is no
 * normalizer however it trains. `reject:` in the search file names the
 * rows applied; by_default the rows applied without it. */
struct nl_search_sample;
typedef struct {
    const char *name;
    const char *help;
    bool by_default;
    /* why into why ("" when the candidate is not degenerate this way) */
    void (*check)(struct nl_search_sample *b, char *why, size_t size);
} nl_search_check;
extern const nl_search_check nl_search_checks[];
extern const int nl_search_check_count;
unsigned nl_search_checks_default(void);

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
    /* each rank.models run's test accuracy, in the file's order; NaN: none
     * (with rank.rungs: at the last rung it was trained to) */
    double scores[NL_SEARCH_MAX_MODELS];
    /* rank.rungs: the last rung it was trained to (an index of rung_steps;
     * -1: none), its steps, and its scores at each rung up to it */
    int rung;
    long rung_steps[NL_SEARCH_MAX_RUNGS];
    double rung_scores[NL_SEARCH_MAX_RUNGS][NL_SEARCH_MAX_MODELS];
} nl_search_candidate;

typedef struct {
    const char *exe;     /* the normlab binary the hurdle runs start */
    const char *out_dir; /* candidates.csv and the hurdle runs' directories */
    /* > 0: the funnel, no search: this many random formulas (the start
     * formulas each edited by 1 to 4 drawn mutations) through the stages
     * before the hurdle, timed; nothing written, out_dir unused */
    long funnel;
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
    double cheap_max_s;          /* the slowest of them, wall time */
    double cheap_max_cpu_s;      /* the slowest of them in this thread's CPU time */
    double hurdle_s;
    long hurdle_runs;
    /* this process's time in each stage before the hurdle and the
     * candidates that entered it (the probe's time is numerics': one
     * probe runs the numerics and the degeneracy checks) */
    double stage_s[NL_STAGE_COUNT];
    long stage_entered[NL_STAGE_COUNT];
    /* holdout: the finalists re-ranked best first, their held-out
     * accuracies (NaN: the run gave none; such a finalist ranks last) */
    long finalists[64];
    double holdout_scores[64][NL_SEARCH_MAX_MODELS];
    int n_finalists;
    int n_claims; /* experiment files written into OUT/claims */
    /* target: the reference normalizer's accuracy on each scoring model
     * (NaN where none), the candidate that reached it (0: none), its mean
     * difference from the reference, and the CPU time (this process's and
     * its runs') until then: cpu_whole false when part of the search ran in
     * an earlier process, whose time is not counted */
    double reference[NL_SEARCH_MAX_MODELS];
    long reached;
    double reached_gap;
    double target_cpu_s;
    bool target_cpu_whole;
} nl_search_result;

nl_code nl_search_run(const nl_search_spec *s, const nl_search_options *opt, nl_search_result *r,
                      nl_error *err);
/* A search's directory read back (normlab report): DIR/candidates.csv
 * into r (candidates, n, stage_counts), DIR/holdout.csv where it exists
 * (finalists, holdout_scores, n_finalists), and into s, zeroed, what
 * nl_search_best and nl_search_fronts read of the search file as the rows
 * show it (n_models, n_rungs and rung_steps, n_holdout, the models'
 * labels). No candidates.csv: NL_ERR_USAGE; a file that is not the
 * search's: NL_ERR_DATA naming it. Writes nothing. */
/* DIR/target.csv, where it exists, into s (target_norm, target_within) and
 * r (reference, reached, reached_gap, target_cpu_s, target_cpu_whole), r's
 * candidates read first; a file not the search's: NL_ERR_DATA */
nl_code nl_search_target_read(const char *dir, nl_search_spec *s, nl_search_result *r, nl_error *err);
/* the models that score a candidate: K = n_models, or the base (1) */
int nl_search_scoring_models(const nl_search_spec *s);
/* candidate c's mean score less the reference's, over the scoring models
 * (NaN: a score is missing); c reached the target when it is >= -within
 * (with rank.rungs, only at the last rung) */
double nl_search_target_gap(const nl_search_spec *s, const double *reference, const nl_search_candidate *c);
nl_code nl_search_record_load(const char *dir, nl_search_spec *s, nl_search_result *r, nl_error *err);
/* the seeds of the claims files: never a seed the search's runs use (each
 * model's own config seed) */
#define NL_SEARCH_CLAIM_SEED 1001
void nl_search_result_free(nl_search_result *r);
/* the passed candidates best first into ids: by Pareto front over their
 * scores (each rank.models accuracy; without rank, the hurdle's; with
 * rank.rungs, the higher rung reached first, the scores compared only
 * between candidates trained as long), then the higher mean score, then
 * the earlier id; returns how many (at most max) */
int nl_search_best(const nl_search_spec *s, const nl_search_result *r, long *ids, int max);
/* each of ids[0..n) (candidates of r)'s Pareto front by the order
 * nl_search_best uses: front[i] 0 where no other of ids dominates it, 1
 * where only those of front 0 do, ...; returns the number of fronts */
int nl_search_fronts(const nl_search_spec *s, const nl_search_result *r, const long *ids, int n, int *front);
/* candidate c's k-th score (k < nl_search_score_count) */
int nl_search_score_count(const nl_search_spec *s);
double nl_search_score(const nl_search_spec *s, const nl_search_candidate *c, int k);

#endif
