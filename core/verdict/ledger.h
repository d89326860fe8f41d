/* A claim's ledger (issue 81, STATS.md "Looks"): its looks, found by the
 * program (verdict/looks.h's rule, verdict/withdrawn.h's history), and the
 * verdict of the plan the claim states (results/claims.h, verdict/plan.h). */
#ifndef NL_VERDICT_LEDGER_H
#define NL_VERDICT_LEDGER_H

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
nl_code nl_looks_report(const char *sweep_dir, const nl_claim_set *set, double level, nl_buf *out, nl_error *err);

#endif
