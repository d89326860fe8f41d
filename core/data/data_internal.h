/* What the readers share, not part of the public API. Every dataset's row
 * (data/registry.h) lives in its reader's file beside the reader it points
 * at: an image reader fills train and test with pixels scaled to [0, 1]
 * and labels in [0, classes), and data.c then standardizes and describes
 * the result; a token reader hands tokens.c a source to split. The helpers
 * the readers share are in reader_util.h. */
#ifndef NL_DATA_INTERNAL_H
#define NL_DATA_INTERNAL_H

#include "data/reader_util.h"
#include "data/registry.h"
#include "data/spec.h"

/* the config keys every image dataset reads (its row's keys list them) */
#define NL_DATA_IMAGE_KEYS                                                                         \
    "data.standardize", "data.shift.invert", "data.shift.contrast", "data.shift.brightness",      \
        "data.shift.offset", "data.shift.noise_std", "data.classes_subset", "data.per_class"

#endif
