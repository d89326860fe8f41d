/* The run directories' names of a sweep's plan (plan.c builds the plan
 * with them): one label per grid value, joined per run. */
#ifndef NL_SWEEP_PLAN_NAMES_H
#define NL_SWEEP_PLAN_NAMES_H

#include <stddef.h>

#include "base/status.h"
#include "sweep/sweep.h"

/* labels[a][v]: "key-value" for each value of each axis (freed with
 * nl_sweep_labels_free) */
nl_code nl_sweep_labels_make(const nl_experiment *e, char ****labels_out, nl_error *err);
void nl_sweep_labels_free(const nl_experiment *e, char ***labels);
/* the directory name of the run choosing value choice[a] of each axis a
 * (-1: an axis that does not apply to it) */
void nl_sweep_dir_name(const nl_experiment *e, char ***labels, const int *choice, char *out, size_t size);

#endif
