/* A claim's ledger (issue 81, STATS.md "Looks"): its looks, found by the
 * program (verdict/looks.h's rule, verdict/withdrawn.h's history), and the
 * verdict of the plan the claim states (results/claims.h, verdict/plan.h). */
#ifndef NL_VERDICT_LEDGER_H
#define NL_VERDICT_LEDGER_H

#include <stdbool.h>

#include "base/status.h"
#include "log/files.h"
#include "results/claims.h"

/* Each sweep a plan: of `set` names in pilots: is a directory beside
 * sweep_dir or (history: the git history read) a withdrawn sweep there;
 * else NL_ERR_CONFIG naming the file, the plan's line and key
 * (plan.pilots) and the name. */
nl_code nl_looks_check_pilots(const char *sweep_dir, const nl_claim_set *set, bool history, nl_error *err);

/* The refusals --looks makes of a sweep's experiment file before any look
 * is read or anything written, one rule for `normlab verdict SWEEP
 * --looks` and for each sweep of `--looks RESULTS_DIR`: with history
 * (the registration lookup on), set->path outside a git checkout, by
 * verdict/registered.h's own NL_ERR_USAGE (when a plan and its pilots were
 * declared is read from the history, and not guessed without one); then
 * nl_looks_check_pilots. */
nl_code nl_looks_check(const char *sweep_dir, const nl_claim_set *set, bool history, nl_error *err);

/* Every look of the claims in `set` that have a plan, and the plan's
 * verdict, as lines into out, per verdicts.csv row of the claim (id, or
 * id[cell]); each look with whether the plan (its kind, K and spending)
 * was declared, in the first commit of the experiment file that states
 * it, before the look's runs were first committed (a strict ancestor;
 * the runs: under the look's runs/, or where the set's source: reads
 * them): a plan stated after (or with) its decisive look is post hoc,
 * its verdict computed but marked. A
 * first-confirmation plan is decided by the first look whose row is
 * pre-registered (the original included); group-sequential by its
 * boundaries. The looks: the sweep directories beside
 * sweep_dir of the same base (the original, each confirmation) with a
 * verdicts.csv, and the withdrawn sweeps of that base (verdict/withdrawn.h,
 * their verdicts.csv read from before their removal) unless the plan
 * names them in pilots:, each ordered before the sweep that replaced it.
 * A claim's per-seed effects come from each look's verdicts.csv (a - b or
 * a / b paired by seed, or a's values). A group-sequential claim with more
 * looks than its K is NL_ERR_CONFIG naming the file, its plan's line and
 * key, and the looks. level: the verdicts' (alpha = 1 - level).
 *
 * A pilot (plan.pilots) is one only where the history shows it declared
 * first: the first commit of the experiment file whose plan for the claim
 * names it a strict ancestor of the first commit that added its runs.
 * One declared with or after its runs, or where the history cannot show
 * the order, is listed as "not a pilot" with why, and counted as a look
 * (one of another base placed before the original). */
nl_code nl_looks_report(const char *sweep_dir, const nl_claim_set *set, double level, nl_buf *out, nl_error *err);

/* the ledger normlab verdict --looks RESULTS_DIR writes (results/looks.csv,
 * which the claims page's plan counts and column are read from) */
#define NL_LOOKS_FILE "looks.csv"

/* whether dir is a directory of sweeps (normlab verdict --looks writes
 * its looks.csv): no summary.csv or verdicts.csv of its own, and a
 * subdirectory with either (a sweep, judged or not) */
bool nl_looks_is_results_dir(const char *dir);

/* looks.csv into csv: a header, then one row per (base, verdicts.csv row)
 * of every claim with a plan of the sweeps under results_dir (each with a
 * verdicts.csv and an experiment file in experiments_dir naming it; the
 * original's file first, a confirmation's adding only rows it lacks):
 * base, claim (the row: id, or id[cell]), experiment (the file), plan
 * (kind, and spending and K), plan_declared (the first commit of the file
 * declaring that plan for the claim, short; "" not committed), looks
 * ("NAME REGISTRATION: VERDICT; ...", in order, withdrawn ones "NAME
 * (withdrawn by COMMIT)"), decided_by (the deciding look; "" none),
 * verdict (the plan's), declared_after_decisive (true where a look decided
 * and the plan is not shown declared before its runs: post hoc). *rows:
 * the rows.
 * Refused (nothing to write): every sweep's experiment file, those of
 * sweeps without a verdicts.csv too, by nl_looks_check(history), and the
 * ledger's own refusals (nl_looks_report's); NL_ERR_USAGE where
 * experiments_dir is no directory or no sweep under results_dir has a
 * verdicts.csv, naming it and how to write them. */
nl_code nl_looks_csv(const char *results_dir, const char *experiments_dir, bool history, double level, nl_buf *csv,
                     int *rows, nl_error *err);

#endif
