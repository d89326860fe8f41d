/* normlab verdict: an experiment's claims (results/claims.h) computed from
 * its sweep directory's runs. Each claim (one per value of its each: key)
 * becomes an effect paired by seed with an interval (n <= 2: nothing is
 * decided; 3 <= n <= 9: Student's t, with the exact sign-flip test beside
 * it; n >= 10: a seeded studentized bootstrap with its Monte Carlo error),
 * the seeds that agree, one-sided p's of the claim and of its opposite,
 * Holm's correction of both over the experiment's headline claims, and a
 * verdict: holds, does not hold or inconclusive (with the seeds it would
 * need); a count is described, never tested. A claim over every cell
 * (cells: all) is an intersection-union test. The reasoning, and what each
 * column means: results/usage.md, "Claims and verdicts". */
#ifndef NL_VERDICT_H
#define NL_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/status.h"
#include "log/files.h"
#include "results/claims.h"
#include "verdict/registered.h"

typedef struct {
    double level;   /* of the intervals, 0.95 */
    uint64_t seed;  /* of the bootstrap */
    int resamples;  /* of the bootstrap, 10000 */
    /* look up in the experiment file's git history whether each claim
     * existed unchanged at its runs' commits (verdict/registered.h); the
     * computation fails (NL_ERR_USAGE) where the file is not in a git
     * checkout. false: every claim "not checked" */
    bool registration;
} nl_verdict_options;

typedef enum {
    NL_VERDICT_HOLDS,
    NL_VERDICT_FAILS,
    NL_VERDICT_INCONCLUSIVE,
    NL_VERDICT_DESCRIBED, /* a count: what happened, not a test */
    NL_VERDICT_KIND_COUNT
} nl_verdict_kind;
extern const char *const nl_verdict_kind_names[NL_VERDICT_KIND_COUNT];

/* which standard a row is decided by: Holm's over the headline claims, its
 * own alpha (a secondary claim, a cell of a claim over cells), or none (a
 * count) */
typedef enum { NL_FAMILY_HEADLINE, NL_FAMILY_SECONDARY, NL_FAMILY_CELL, NL_FAMILY_DESCRIPTION, NL_FAMILY_COUNT } nl_family;
extern const char *const nl_family_names[NL_FAMILY_COUNT];

/* below this many seeds nothing is decided; from NL_VERDICT_BOOT_MIN_N the
 * studentized bootstrap replaces the t interval */
#define NL_VERDICT_MIN_N 3
#define NL_VERDICT_BOOT_MIN_N 10
/* the power seeds are chosen for */
#define NL_VERDICT_POWER 0.8
/* the most seeds a row reads (results/claims.h) */
#define NL_VERDICT_MAX_SEEDS NL_CLAIM_MAX_SEEDS
/* the room a row's per-seed value list takes: NL_VERDICT_MAX_SEEDS seeds
 * of 36 bytes */
#define NL_VERDICT_VALUES_SIZE (NL_VERDICT_MAX_SEEDS * 36)

/* the method column's forms that say a row is no mean effect, spelled here
 * once: decide.c writes them and readers (normlab report) tell a row's
 * kind by them. A row over a claim's cells (its effect the cells leaning
 * the claimed way, its interval those that hold to those that do not
 * fail) begins with one of the first two; an exact count with the third */
#define NL_VERDICT_METHOD_IUT "intersection-union"
#define NL_VERDICT_METHOD_CELLS "cells"
#define NL_VERDICT_METHOD_COUNT "count of"

/* the groups of a row's runs by their first committed version it keeps */
#define NL_VERDICT_MAX_FIRST 8

typedef struct {
    char id[256];            /* the claim's id, "[key=value]" added per each: value */
    const nl_claim *claim;
    char a_label[512], b_label[512], c_label[512], d_label[512];
    int n;                   /* paired seeds (the seeds of a for a value or rate claim) */
    /* "seed:value ..." of every seed (up to NL_VERDICT_MAX_SEEDS, each at most
     * a 20-digit seed and a %.6g value: 36 bytes) */
    char a_values[NL_VERDICT_VALUES_SIZE], b_values[NL_VERDICT_VALUES_SIZE], c_values[NL_VERDICT_VALUES_SIZE],
        d_values[NL_VERDICT_VALUES_SIZE];
    double effect, sd, lo, hi; /* the mean effect (or rate) and its interval */
    char method[64];
    double sign_flip_p;      /* n <= 9: the exact test's one-sided p; NaN otherwise */
    double p, p_holm;        /* one-sided p of the expectation, and Holm's adjusted p */
    double p_fail, p_fail_holm; /* one-sided p of the opposite (does not hold), and Holm's */
    double mc_error;         /* the bootstrap's Monte Carlo standard error of p; NaN otherwise */
    nl_family family;
    int seeds_power;         /* seeds for power 0.8 at the observed spread and effect; -1 unknown */
    int agree;               /* seeds on the claimed side (rate: seeds with the bad outcome) */
    nl_verdict_kind verdict;
    int seeds_needed;        /* inconclusive: from the observed spread; -1 unknown */
    char commits[128], kernels[128], threads[64];
    bool mixed_commits;
    /* the runs git tracks, grouped by their first committed version: a
     * registration is judged there too (verdict/registered.h) */
    nl_first_run first[NL_VERDICT_MAX_FIRST];
    int n_first;
    bool first_overflow; /* more groups than first holds */
    char note[512];          /* seeds left out and why */
    /* whether the claim existed unchanged at its runs' commits: "pre-registered",
     * "post hoc (why)", "unknown (why)", "not checked" */
    char registered[300];
    /* outside Holm's family: a count over cells (derived from the rows
     * before it), an exact count (no p) */
    bool derived, exact;
} nl_verdict;

typedef struct {
    char sweep_dir[1024];
    char experiment[1024];
    nl_verdict_options opt;
    int n;
    int holm_k; /* the rows Holm's correction is over (the headline claims') */
    int seeds_run; /* the most seeds any row has */
    int seeds_planned; /* the experiment's power.seeds; 0 none */
    char rule[700];    /* the threshold rule, as text; "" none */
    nl_verdict *v;
} nl_verdict_report;

/* The experiment file of a sweep directory: experiments/NAME.yaml (under
 * `experiments_dir`) whose name: is the directory's name, else the file
 * there that names it, else the claims file in experiments/claims/
 * whose name: is the directory's path's end (bench/speed2-2026-11-23 for
 * results/bench/speed2-2026-11-23). NL_ERR_USAGE when none does. */
nl_code nl_verdict_find_experiment(const char *sweep_dir, const char *experiments_dir, char *path,
                                   size_t size, nl_error *err);

/* Computes every claim of `claims` from sweep_dir's summary.csv and runs
 * (or what the claims' source: reads there). A claim naming a key, value
 * or metric no run has, or a cell without runs, is NL_ERR_CONFIG naming
 * the experiment file's line and key. */
nl_code nl_verdict_compute(const char *sweep_dir, const nl_claim_set *claims, const nl_verdict_options *opt,
                           nl_verdict_report *out, nl_error *err);
void nl_verdict_report_free(nl_verdict_report *r);

/* the files normlab verdict writes into a sweep's directory (or --out's),
 * relative to it: verdicts.csv, verdicts.json, plots/verdicts.gp and .png */
enum { NL_VERDICT_N_OUTPUTS = 4 };
extern const char *const nl_verdict_outputs[NL_VERDICT_N_OUTPUTS];
/* each of them under dir absent, or with force a regular file to replace
 * (nl_output_check; exists_hint ends the refusal of one that exists): the
 * check verdict makes before writing and reproduce before its sweep */
nl_code nl_verdict_check_outputs(const char *dir, bool force, const char *exists_hint, nl_error *err);

/* verdicts.csv and verdicts.json (the same columns) and the screen's table */
void nl_verdict_csv(const nl_verdict_report *r, nl_buf *out);
void nl_verdict_json(const nl_verdict_report *r, nl_buf *out);
void nl_verdict_text(const nl_verdict_report *r, nl_buf *out);

#endif
