/* Shared by the dataset readers in core/data/; not part of the public API.
 * Every reader fills train and test with pixels scaled to [0, 1] and labels
 * in [0, classes); data.c then standardizes and describes the result. */
#ifndef NL_DATA_INTERNAL_H
#define NL_DATA_INTERNAL_H

#include "data/data.h"

/* what a reader is asked for: a resolved directory and the sample counts
 * (0 = all the files hold) */
typedef struct {
    const char *dir;
    long train_size, test_size;
} nl_data_request;

/* allocates x (n * c*h*w) and y (n) of a split; NL_ERR_NOMEM on failure */
nl_code nl_split_alloc(nl_split *s, long n, int c, int h, int w, nl_error *err);
void nl_split_free(nl_split *s);

/* "dir/name" into buf; false when it does not fit */
bool nl_data_join(char *buf, size_t size, const char *dir, const char *name);
/* true when path names a regular file (or a link to one) */
bool nl_data_is_file(const char *path);
bool nl_data_is_dir(const char *path);

/* records an error about a config key (err->key) and returns its code */
nl_code nl_data_key_fail(nl_error *err, nl_code code, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* the "data.train_size = N, but ..." error for a subset larger than the data;
 * which: "train" or "test", where: the file(s) */
nl_code nl_data_too_few(nl_error *err, const char *which, long want, long have, const char *where);

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
