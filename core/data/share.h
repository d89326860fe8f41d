/* Datasets shared by the runs of one process (`normlab sweep
 * --one-process`): a run asks for the dataset of its data spec and gets the
 * copy another run of the process already loaded, read-only, instead of
 * loading one of its own. A grid of runs over one dataset then reads and
 * standardizes it once, and holds it once in memory, however many runs are
 * in flight (the full Fashion-MNIST is 0.6 s and 220 MB a copy).
 *
 * A dataset is shared between specs that are equal byte for byte, leaving
 * out the run's seed where the data is read from files (a grid over seeds
 * shares one copy); two configs that differ in another key the data
 * ignores still load twice.
 * A copy no run holds stays until another spec is loaded or the share is
 * freed, so runs one after another (-j 1) share it too. Thread-safe. */
#ifndef NL_DATA_SHARE_H
#define NL_DATA_SHARE_H

#include "data/data.h"
#include "data/tokens.h"

typedef struct nl_data_share nl_data_share;

nl_code nl_data_share_new(nl_data_share **out, nl_error *err);
/* after every run has released what it held */
void nl_data_share_free(nl_data_share *share);

/* the dataset nl_dataset_load (nl_token_dataset_load) would load for spec,
 * valid until released; errors as theirs, and a failed load is not kept */
nl_code nl_data_share_images(nl_data_share *share, const nl_data_spec *spec,
                             const nl_dataset **out, nl_error *err);
nl_code nl_data_share_tokens(nl_data_share *share, const nl_data_spec *spec, long min_window,
                             const nl_token_dataset **out, nl_error *err);
/* a dataset either call returned (NULL: nothing) */
void nl_data_share_release(nl_data_share *share, const void *dataset);
/* how many datasets it has loaded so far */
long nl_data_share_loads(const nl_data_share *share);

#endif
