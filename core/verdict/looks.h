/* A claim's looks (issue 81, STATS.md "Looks"): every test of a claim on
 * runs. The rule that pairs an experiment with its confirmations lives
 * here, once: experiments/NAME-confirm.yaml is NAME's first confirmation,
 * NAME-confirmK.yaml (K >= 2) its K-th; each tests NAME's claims of the
 * same id on fresh seeds. The claims page (tests/verdict_prose) reads the
 * order from the program's output, not from a pattern of its own. */
#ifndef NL_VERDICT_LOOKS_H
#define NL_VERDICT_LOOKS_H

#include <stddef.h>

/* NAME's base (the original experiment's name) into base and its order
 * among the looks: 0 for the original, K for the K-th confirmation
 * (NAME-confirm is 1). A name that is no confirmation is its own base, 0. */
int nl_look_base(const char *name, char *base, size_t size);

#endif
