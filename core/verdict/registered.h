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

#include <stdbool.h>
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

/* ---- when a sweep's runs were first committed ----
 * A run's data exist from the first commit that held its directory (the
 * same config and seed), not from the commit its summary.json records now:
 * runs regenerated later (a drift fix re-running the same seeds) record the
 * regeneration's commit, and a claim written between the two would read
 * pre-registered against data it was fitted to. So each run that git
 * tracks is judged as well at the commit its FIRST committed summary.json
 * records (and at the commit that added it); a run directory added later
 * (an extension's seeds) is new data, judged at its own first commit
 * (STATS.md: an extension is a new sweep). */

/* a row's runs that share a first committed version */
typedef struct {
    char added[72];    /* the commit that first added their summary.json; "" where a shallow clone cannot say */
    char recorded[64]; /* the git_commit that version records ("" none) */
    char seeds[96];    /* their seeds, space-separated */
} nl_first_run;

typedef struct nl_first_runs nl_first_runs;

/* The first committed version of every run under `dir` (a sweep
 * directory, or the directory run directories are globbed from) that git
 * tracks in reg's repository. The cost is bounded per directory, not per
 * run or claim: one `git log --diff-filter=A` over the directory's
 * summary.json files, then one `git grep` per distinct commit that added
 * some (a sweep's hundreds of runs come in a few commits, and a verdict
 * asks about every claim over them). dir outside a git work tree, or in
 * another repository than the claims': no run is tracked (each keeps the
 * commit it records now). In a shallow clone the first commits are not in
 * the history: tracked runs get added "" (unknown). NL_ERR_NOMEM,
 * NL_ERR_RUNTIME (git could not be run, its answer too long) as they come. */
nl_code nl_first_runs_open(const nl_registry *reg, const char *dir, nl_first_runs **out, nl_error *err);

/* run file `rel` (its summary.json, relative to the directory): false
 * where git does not track it; else its first version's commits. A run
 * the history holds only in the directory's pack (runs.sqlite) was first
 * committed with the pack, and its recorded commit is "" (the run's own,
 * which the caller reads). */
bool nl_first_run_of(const nl_first_runs *f, const char *rel, const char **added, const char **recorded);

void nl_first_runs_close(nl_first_runs *f);

/* A row's registration from its runs: nl_registration_of_commits over the
 * commits they record now, then each group of runs as first committed
 * (first[0 .. n_first - 1]) at the commit its first version records and
 * at the commit that added it: post hoc where the claim was not there
 * unchanged (why: "its runs of seeds 1-3 were first committed at X, before
 * this claim: ..."), unknown where the history cannot tell (a shallow
 * clone, a first version made from a dirty tree). overflow: the row had
 * more groups than first holds, unknown unless another says post hoc. */
nl_registration nl_registration_of_runs(nl_registry *reg, int claim_index, const char *commits,
                                        const nl_first_run *first, int n_first, bool overflow, char *why,
                                        size_t why_size);

/* frees the registry and every version of the file it read; NULL is fine */
void nl_registry_close(nl_registry *reg);

/* One lookup without keeping a registry (opens, asks, closes): for a single
 * question; a caller asking about several claims or commits keeps the
 * registry instead, so that each version of the file is parsed once. */
nl_code nl_claim_registration_of(const nl_claim_set *set, int claim_index, const char *commit,
                                 nl_claim_registration *out, nl_error *err);

#endif
