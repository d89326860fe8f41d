/* A claim's ledger (issue 81, STATS.md "Looks"): its looks, found by the
 * program (verdict/looks.h's rule, verdict/withdrawn.h's history), and the
 * verdict of the plan the claim states (results/claims.h, verdict/plan.h). */
#ifndef NL_VERDICT_LEDGER_H
#define NL_VERDICT_LEDGER_H

#include <stdbool.h>

#include "base/status.h"
#include "log/files.h"
#include "results/claims.h"

/* Every look of the claims in `set` that have a plan, and the plan's
 * verdict, as lines into out. The looks: the sweep directories beside
 * sweep_dir of the same base (the original, each confirmation) with a
 * verdicts.csv, and the withdrawn sweeps of that base (verdict/withdrawn.h,
 * their verdicts.csv read from before their removal) unless the plan
 * names them in pilots:, each ordered before the sweep that replaced it.
 * A claim's per-seed effects come from each look's verdicts.csv (a - b or
 * a / b paired by seed, or a's values). A group-sequential claim with more
 * looks than its K is NL_ERR_CONFIG naming the file, its plan's line and
 * key, and the looks. level: the verdicts' (alpha = 1 - level). */
/* Each sweep a plan: of `set` names in pilots: is a directory beside
 * sweep_dir or (history: the git history read) a withdrawn sweep there;
 * else NL_ERR_CONFIG naming the file, the plan's line and key
 * (plan.pilots) and the name. */
nl_code nl_looks_check_pilots(const char *sweep_dir, const nl_claim_set *set, bool history, nl_error *err);

/* A pilot (plan.pilots) is one only where the history shows it declared
 * first: the first commit of the experiment file whose plan for the claim
 * names it a strict ancestor of the first commit that added its runs.
 * One declared with or after its runs, or where the history cannot show
 * the order, is listed as "not a pilot" with why, and counted as a look
 * (one of another base placed before the original). */
nl_code nl_looks_report(const char *sweep_dir, const nl_claim_set *set, double level, nl_buf *out, nl_error *err);

#endif
