/* The readers' entry points, which the loading front end (data.c) calls;
 * not part of the public API. Every reader fills train and test with
 * pixels scaled to [0, 1] and labels in [0, classes); data.c then
 * standardizes and describes the result. The helpers the readers share are
 * in reader_util.h. */
#ifndef NL_DATA_INTERNAL_H
#define NL_DATA_INTERNAL_H

#include "data/data.h"
#include "data/reader_util.h"

nl_code nl_synthetic_load(const nl_data_spec *spec, long train_n, long test_n, nl_dataset *out,
                          nl_error *err);
/* MNIST and Fashion-MNIST: `name` is the dataset's name for messages */
nl_code nl_idx_load(nl_dataset_kind kind, const nl_data_request *req, nl_dataset *out,
                    nl_error *err);
/* nl_dataset_probe for those two readers */
nl_code nl_idx_probe(nl_dataset_kind kind, const nl_data_request *req, nl_dataset_shape *out,
                     nl_error *err);
nl_code nl_cifar10_probe(const nl_data_request *req, nl_dataset_shape *out, nl_error *err);
/* CIFAR-10 binary version; *dir_used is set to the directory the batches were found in */
nl_code nl_cifar10_load(const nl_data_request *req, nl_dataset *out, char *dir_used,
                        size_t dir_used_size, nl_error *err);

/* ---- token datasets (tokens.c, text.c, markov.c) ---- */
#include "data/tokens.h"

/* What a text file holds, found by reading it once: its length and the
 * bytes it uses. tokens (length ints) receives the bytes when not NULL.
 * Errors: missing, not a regular file, empty, binary (a NUL byte, or more
 * than 1% control characters), too large, unreadable. With a memo (probes
 * only, tokens NULL), a file the memo knows is not read again, and one it
 * does not know is remembered once it has passed. */
typedef struct {
    long length;
    bool used[256];
} nl_text_scan;
nl_code nl_text_read(const char *path, bool is_default, int32_t **tokens, nl_text_memo *memo,
                     nl_text_scan *scan, nl_error *err);

/* synthetic_text: checks the chain's sizes (NL_ERR_CONFIG, key set) */
nl_code nl_markov_check(const nl_data_spec *spec, nl_error *err);
/* the spec->markov_length tokens of the chain, into a new array */
nl_code nl_markov_generate(const nl_data_spec *spec, int32_t **tokens, nl_error *err);

#endif
