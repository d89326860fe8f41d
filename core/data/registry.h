/* The dataset table: one row per nl_dataset_kind with everything the rest
 * of normlab needs to know about a dataset (its name and help, whether it
 * yields images or tokens, whether it is generated from the seed, its
 * default location, what its files are and how to get them, the shape and
 * class count a model plans for, the config keys only it reads, whether the
 * bench's PyTorch script reads it) and its reader. Loading, probing, config
 * resolution, the schema, `normlab list`, the bench and the tests iterate
 * these rows; no other file switches on a dataset's kind.
 *
 * Adding a dataset:
 *   1. core/data/kinds.def: its line at the end (the enum value, the row);
 *   2. its reader's file, core/data/<name>.c: the row (an nl_dataset_info,
 *      declared below through kinds.def) and the reader it points at, an
 *      image reader (read and probe, nl_data_request's directory and sizes)
 *      or a token reader (check, read, describe);
 *   3. core/config/keys_data.def: a row for each config key only it reads, with
 *      .when_key = "data.dataset", and the key's name in the dataset's row
 *      `keys` (which datasets a key applies to comes from the rows, not
 *      from the schema); a key that is new altogether also needs its field
 *      in nl_data_spec and its default in nl_data_spec_defaults;
 *   4. configs/README.md: the key table is generated (its applicability
 *      notes name the datasets); rerun tests/test_config with
 *      NL_UPDATE_README=1. A dataset read from files also lengthens the
 *      data.path message that test_config's bad configs quote;
 *   5. a new file format: a fixture writer in tests/test_data.c
 *      (write_fixture), which the registry test asks for by name;
 *   6. results/usage.md: the dataset list marked <!-- names every dataset -->
 *      (test_doc_links asks for every row's name there), and the README's.
 * Nothing else: tests/test_data checks every row is complete, that its
 * keys are the schema's, and that its reader loads the shape it plans. */
#ifndef NL_DATA_REGISTRY_H
#define NL_DATA_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/names.h"
#include "data/reader_util.h"
#include "data/spec.h"
#include "data/text_memo.h"

/* what a dataset yields, and so which models read it */
typedef enum {
    NL_DATA_YIELDS_IMAGES, /* images (N, C, H, W), or feature vectors (N, D, 1, 1) */
    NL_DATA_YIELDS_TOKENS, /* token sequences, for a language model (data/tokens.h) */
} nl_data_yield;

/* the most config keys a row names in `keys` */
#define NL_DATA_MAX_KEYS 16

typedef struct nl_dataset_info nl_dataset_info;

/* An image reader: both splits into *out, pixels scaled to [0, 1] and
 * labels in [0, classes); req names the directory (already resolved: the
 * spec's path or the row's default) and the sample counts. dir_used
 * receives the directory the files were found in, for the description.
 * Errors as nl_dataset_load's. */
typedef nl_code (*nl_image_read_fn)(const nl_dataset_info *row, const nl_data_spec *spec,
                                    const nl_data_request *req, nl_dataset *out, char *dir_used,
                                    size_t dir_used_size, nl_error *err);
/* nl_dataset_probe's part for one reader: the shape without the samples */
typedef nl_code (*nl_image_probe_fn)(const nl_dataset_info *row, const nl_data_spec *spec,
                                     const nl_data_request *req, nl_dataset_shape *out,
                                     nl_error *err);

/* What a token reader found of its source. */
typedef struct {
    long total;                 /* tokens, both splits together */
    int vocab;                  /* token ids are below it */
    unsigned char symbols[256]; /* token -> the byte it prints as */
    double entropy_floor;       /* the best loss per token in nats; < 0 unknown */
    char source[1100];          /* what messages call the source */
} nl_token_source;
/* the reader's own keys, checked without reading anything */
typedef nl_code (*nl_token_check_fn)(const nl_data_spec *spec, nl_error *err);
/* Reads the source: with tokens, into a new array of src->total ids; with
 * tokens NULL, only what src holds (a probe; memo may be NULL). Refuses
 * what loading refuses either way. */
typedef nl_code (*nl_token_read_fn)(const nl_data_spec *spec, nl_text_memo *memo,
                                    int32_t **tokens, nl_token_source *src, nl_error *err);
/* the loaded dataset's description line */
typedef void (*nl_token_describe_fn)(const nl_data_spec *spec, const nl_token_source *src,
                                     long train, long valid, char *buf, size_t size);

struct nl_dataset_info {
    nl_name_entry id; /* first: nl_dataset_names walks the rows' entries */
    nl_data_yield yields;
    /* generated from spec->seed (the run's seed): reads no files, and the
     * description names the seed; the others read files, the same whatever
     * the seed */
    bool from_seed;
    /* where its files are when data.path is empty ("" none: the config must
     * say), and how the documentation names that place when it is in the
     * build directory (NULL: the path itself). A default in the build
     * directory differs from checkout to checkout, so a resolved config
     * leaves it unnamed. */
    const char *default_path;
    const char *default_path_doc;
    /* what data.path must hold, for the messages ("" for generated data),
     * and how to get the files (NULL: only from a path the user gives) */
    const char *files;
    const char *install;
    /* the sample shape and class count a model plans for; 0 where the spec
     * decides (planned_shape then says, from the spec's keys). A token
     * dataset's c, h, w are 0 and its classes are its vocabulary. */
    int c, h, w, classes;
    void (*planned_shape)(const nl_data_spec *spec, nl_dataset_shape *out);
    /* the config key that sets how much data there is, for a message about
     * its size ("data.dataset" when only another dataset changes it) */
    const char *size_key;
    /* the config keys only some datasets read: the schema's rows with
     * when_key data.dataset apply to the datasets that list them here */
    const char *keys[NL_DATA_MAX_KEYS];
    /* experiments/bench/torch_run.py (normlab bench --run --torch) reads it */
    bool torch_script;
    /* image reader (yields images) */
    nl_image_read_fn read;
    nl_image_probe_fn probe;
    /* read reads the labels alone when req->labels_only, so a probe counts
     * what a class subset keeps without the pixels; otherwise the probe
     * loads the dataset to count them */
    bool labels_alone;
    /* token reader (yields tokens) */
    nl_token_check_fn token_check;
    nl_token_read_fn token_read;
    nl_token_describe_fn token_describe;
};

/* the rows, one per line of data/kinds.def, each defined in its reader's file */
#define NL_DATA_KIND(suffix, row) extern const nl_dataset_info row;
#include "data/kinds.def"

/* the row of a kind; NULL for a value outside the enum */
const nl_dataset_info *nl_dataset_info_of(nl_dataset_kind kind);
/* bit per kind whose row lists `key` in its keys */
unsigned nl_dataset_kinds_with_key(const char *key);
/* the names of the rows `pick` picks, in order, joined: "a, b and c" with
 * sep ", " and last_sep " and ", or "a | b" with both " | " */
const char *nl_dataset_names_joined(bool (*pick)(const nl_dataset_info *row), const char *sep,
                                    const char *last_sep, char *buf, size_t size);
/* picks for nl_dataset_names_joined */
bool nl_dataset_yields_tokens(const nl_dataset_info *row);
bool nl_dataset_torch_reads(const nl_dataset_info *row);
/* the shape and classes a model of this spec plans for (train_n, test_n 0) */
nl_dataset_shape nl_dataset_planned_shape(const nl_data_spec *spec);

#endif
