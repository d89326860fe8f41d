/* A claim's looks (issue 81, STATS.md "Looks"): every test of a claim on
 * runs. The rule that pairs an experiment with its confirmations lives
 * here, once: experiments/NAME-confirm.yaml is NAME's first confirmation,
 * NAME-confirmK.yaml (K >= 2) its K-th; each tests NAME's claims of the
 * same id on fresh seeds. The claims page (tests/verdict_prose/claims_page.py
 * confirm_order) applies this rule, not a pattern of its own:
 * tests/verdict_prose/look_names.tsv holds both to the same answers
 * (test_plan here, render.py's self-test there). */
#ifndef NL_VERDICT_LOOKS_H
#define NL_VERDICT_LOOKS_H

#include <stddef.h>

/* NAME's base (the original experiment's name) into base and its order
 * among the looks: 0 for the original, K for the K-th confirmation
 * (NAME-confirm is 1). A name that is no confirmation is its own base, 0. */
int nl_look_base(const char *name, char *base, size_t size);

#endif
