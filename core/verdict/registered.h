/* Pre-registration, checked by the program (issue 68, STATS.md): a claim is
 * pre-registered when its text (expect, threshold, within, the cells'
 * selectors, scope:, each:, cells:, the metrics) existed unchanged in the
 * experiment file at the commit its runs record (summary.json's
 * git_commit); a claim written or changed after its runs is post hoc. The
 * lookup reads the repository's history through git (run without a shell);
 * where it cannot tell (a commit this clone lacks, runs made from a tree
 * with uncommitted changes) it says unknown, never guesses.
 *
 * Use: nl_registry_open(set) once per experiment file, then
 * nl_registry_claim (one commit) or nl_registration_of_commits (the
 * verdict's space-separated list) per claim, then nl_registry_close. The
 * registry reads and parses the file as it was at each commit once, however
 * many claims ask about that commit (and once per distinct version of the
 * file, however many commits hold it). */
#ifndef NL_VERDICT_REGISTERED_H
#define NL_VERDICT_REGISTERED_H

#include <stddef.h>

#include "base/status.h"
#include "results/claims.h"

typedef enum { NL_REG_PRE, NL_REG_POST_HOC, NL_REG_UNKNOWN, NL_REG_KIND_COUNT } nl_registration;
/* "pre-registered", "post hoc", "unknown" */
extern const char *const nl_registration_names[NL_REG_KIND_COUNT];

typedef struct {
    nl_registration kind;
    /* why it is post hoc or unknown ("expect was 'a > b by 0.2'", "commit
     * 0123456789ab is not in this clone's history"); "" when pre-registered */
    char why[256];
} nl_claim_registration;

typedef struct nl_registry nl_registry;

/* Opens the lookup for `set`, loaded from set->path (its directory must
 * exist; the file is looked up at each commit under the same path relative
 * to the work tree's top, so a file moved since is absent there). The
 * registry keeps a pointer to set, which must outlive it; one registry is
 * for one thread.
 * NL_ERR_USAGE, naming the file, when set->path is not inside a git work
 * tree or git is not installed: the lookup needs a git checkout and does
 * not guess. NL_ERR_NOMEM, NL_ERR_RUNTIME (git could not be started) as
 * they come. */
nl_code nl_registry_open(const nl_claim_set *set, nl_registry **out, nl_error *err);

/* Whether claim `claim_index` of the set existed unchanged at `commit` (as
 * runs record it: a hash of 4 to 64 hex digits (SHA-1 or SHA-256), maybe "-dirty" after it,
 * or git describe's TAG-N-gHASH). Unknown: a "-dirty" commit, one that is
 * not a hash ("unknown": a build outside git), or one this clone's history
 * lacks (a shallow clone). Post hoc: the file did not exist at the commit,
 * did not parse under today's claims syntax there, had no claim of that id,
 * or had it with another text (why names the first part that differs and
 * what it was: expect, threshold, within, metric, b_metric, vars, a, b, c,
 * d and their sweep:, scope, each, each_row, pair_by, cells; selectors in
 * another order are the same, paper: is a quote, not compared). An error
 * (NL_ERR_RUNTIME, NL_ERR_NOMEM) only where git itself could not be run or
 * memory ran out; a bad claim_index is NL_ERR_USAGE. */
nl_code nl_registry_claim(nl_registry *reg, int claim_index, const char *commit, nl_claim_registration *out,
                          nl_error *err);

/* The same over several commits (space-separated, as nl_verdict's commits
 * holds them): pre-registered only when every commit says so, post hoc
 * when any does (why: that commit's reason), else unknown (why: the first
 * unknown one's reason). An empty list is unknown ("the runs record no
 * commit"). Where a lookup fails (no memory, git not runnable) the answer
 * is unknown with the error's message in why. */
nl_registration nl_registration_of_commits(nl_registry *reg, int claim_index, const char *commits, char *why,
                                           size_t why_size);

/* frees the registry and every version of the file it read; NULL is fine */
void nl_registry_close(nl_registry *reg);

/* One lookup without keeping a registry (opens, asks, closes): for a single
 * question; a caller asking about several claims or commits keeps the
 * registry instead, so that each version of the file is parsed once. */
nl_code nl_claim_registration_of(const nl_claim_set *set, int claim_index, const char *commit,
                                 nl_claim_registration *out, nl_error *err);

#endif
