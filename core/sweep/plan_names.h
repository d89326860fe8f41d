/* The run directories' names of a sweep's plan (plan.c builds the plan
 * with them): one label per grid value, joined per run. */
#ifndef NL_SWEEP_PLAN_NAMES_H
#define NL_SWEEP_PLAN_NAMES_H

#include <stddef.h>

#include "base/status.h"
#include "config/config.h"
#include "config/flat.h"
#include "sweep/sweep.h"

/* labels[a][v]: "key-value" for each value of each axis (freed with
 * nl_sweep_labels_free) */
nl_code nl_sweep_labels_make(const nl_experiment *e, char ****labels_out, nl_error *err);
void nl_sweep_labels_free(const nl_experiment *e, char ***labels);
/* a model.norm.type value of the formula kind (expr) labelled by the
 * formula's one name (set:'s or the base's model.norm.name, else its
 * default): "type-evonorm-b0"; left "type-expr" where the sweep's run
 * directories already have it (a sweep run before issue 114 resumes), where
 * a grid of texts or names tells the formulas apart, or where the name
 * clashes with another value's */
void nl_sweep_labels_name_formula(const nl_experiment *e, const nl_flat *base, char ***labels);
/* the directory name of the run choosing value choice[a] of each axis a
 * (-1: an axis that does not apply to it) */
void nl_sweep_dir_name(const nl_experiment *e, char ***labels, const int *choice, char *out, size_t size);

/* ---- one name, one formula (plan_formulas.c) ---- */

/* where a run's overrides were written (line 0: nowhere) */
typedef struct {
    char *const *keys;
    const nl_sweep_pos *pos;
    int n;
} nl_sweep_override_at;
typedef struct {
    char label[48];
    char dir[160];
    char *expr;
    char where[1100]; /* file:line:column of its name, text or type */
} nl_sweep_formula_seen;
/* the formulas planned so far, one per name */
typedef struct {
    nl_sweep_formula_seen *items;
    int n;
} nl_sweep_formula_names;
/* run `dir` of cfg: its formula (if it has one) is the one of that name,
 * or the first of it; another formula under a name taken is an
 * NL_ERR_CONFIG at the run's name, text or type (its overrides `at`) */
nl_code nl_sweep_formula_names_check(nl_sweep_formula_names *seen, const nl_experiment *e,
                                     const nl_config *cfg, const char *dir, const nl_sweep_override_at *at,
                                     nl_error *err);
void nl_sweep_formula_names_free(nl_sweep_formula_names *seen);

#endif
