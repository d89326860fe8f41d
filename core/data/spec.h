/* The data's types: what a config asks for (nl_data_spec) and what
 * loading yields (splits, datasets, their shapes). A leaf header, so that
 * the readers, the registry, shifts and token datasets name these types
 * without data.h: data.c, which data.h declares, drives all of them. */
#ifndef NL_DATA_SPEC_H
#define NL_DATA_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "base/names.h"
#include "data/kinds.h"

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

/* What nl_dataset_load would load, found without loading it */
typedef struct {
    long train_n, test_n; /* samples of each split, subsets applied */
    int c, h, w;
    int classes;
} nl_dataset_shape;

#endif
