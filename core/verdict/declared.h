/* Internal to core/verdict: when a claim's plan and its pilots were
 * declared, against the runs of each look, read from the git history
 * (declared.c); the ledger (ledger.c) judges its looks by it. */
#ifndef NL_VERDICT_DECLARED_H
#define NL_VERDICT_DECLARED_H

#include <stdbool.h>

#include "results/claims.h"
#include "verdict/withdrawn.h"

/* what a version of the experiment file declares for claim `was` of it,
 * the version's claim of the same id as today's `is` */
typedef bool lk_declares(const nl_claim_set *then, const nl_claim *was, const nl_claim_set *now, const nl_claim *is,
                         const void *what);

typedef char lk_commit[72];

#define LK_MEMO 256

/* the history of a directory of sweeps, each answer asked of git once per ledger */
typedef struct {
    const char *parent;
    /* how the claims file reads its runs (NULL: a sweep's runs/), so a
     * look's runs are found in the history where they lie */
    const nl_claim_source *source;
    nl_withdrawals w; /* its withdrawn sweeps; none where parent is outside git */
    bool have_w;
    struct {
        char name[256];
        char sourced[320]; /* the source: pathspec it was also asked under; "" none (a sweep's runs/ only) */
        lk_commit runs; /* the first commit that added runs of sweep `name`; "" none */
        bool in_git;
    } added[LK_MEMO];
    int n_added;
    struct {
        lk_commit declared, runs;
        bool before; /* declared a strict ancestor of runs */
    } order[LK_MEMO];
    int n_order;
} lk_history;

typedef struct {
    bool pilot;       /* declared before its runs: not a look */
    char why[400];
} lk_pilot;

/* its plan is today's (kind, K and spending; its pilots have their own declarations) */
bool lk_same_plan(const nl_claim_set *then, const nl_claim *was, const nl_claim_set *now, const nl_claim *is,
                  const void *what);

/* per claim i of set, the first commit at which set->path's version
 * `declares` what of it into commit[i] ("" none): one walk of the file's
 * history for all its claims */
nl_code lk_declared_at(const nl_claim_set *set, lk_declares *declares, const void *what, lk_commit *commit,
                       nl_error *err);

/* whether pilot `name` (a sweep under h's parent) of claim c was declared before its runs */
nl_code lk_pilot_check(lk_history *h, const nl_claim_set *set, const nl_claim *c, const char *name,
                       lk_pilot *out, nl_error *err);

/* the plan's declaration against look `name`'s runs: "plan declared at
 * C, before this look" (before true) or why not (declared: the plan's
 * first commit, "" none) */
nl_code lk_plan_against(lk_history *h, const char *declared, const char *name, bool *before, char *why,
                        size_t size, nl_error *err);

#endif
