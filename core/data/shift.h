/* Domain shifts of image datasets (data.shift.*, data.classes_subset,
 * data.per_class; the fields are in nl_data_spec), applied by
 * nl_dataset_load between reading and standardizing. */
#ifndef NL_DATA_SHIFT_H
#define NL_DATA_SHIFT_H

#include <stdbool.h>

#include "base/status.h"
#include "data/spec.h"

/* whether the spec changes pixels / changes anything */
bool nl_data_shift_pixels(const nl_data_spec *spec);
bool nl_data_shift_any(const nl_data_spec *spec);
/* whether the shift draws from spec->seed (noise, the few-shot choice), so
 * that even data read from files depends on the seed */
bool nl_data_shift_uses_seed(const nl_data_spec *spec);
/* The shift keys against a dataset of `classes` classes: NL_ERR_CONFIG
 * (err->key set) for a token dataset, a class id out of range or repeated,
 * a negative per_class. */
nl_code nl_data_shift_check(const nl_data_spec *spec, int classes, nl_error *err);
/* Shifts the raw [0, 1] pixels of both splits, then keeps the listed
 * classes of both (relabelled 0..k-1 in the listed order; ds->classes
 * becomes k) and per_class training samples of each, chosen from the seed.
 * NL_ERR_CONFIG as nl_data_shift_check, and when per_class is larger than
 * a kept class's training samples; NL_ERR_NOMEM. */
nl_code nl_data_shift_apply(const nl_data_spec *spec, nl_dataset *ds, nl_error *err);
/* the class subset and per_class part of nl_data_shift_apply alone, after
 * nl_data_shift_check passed (splits of samples of no values, labels
 * only, are kept the same way) */
nl_code nl_data_subset_apply(const nl_data_spec *spec, nl_dataset *ds, nl_error *err);

#endif
