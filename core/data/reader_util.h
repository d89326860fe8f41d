/* Helpers shared by the dataset readers in core/data/ (reader_util.c);
 * not part of the public API. */
#ifndef NL_DATA_READER_UTIL_H
#define NL_DATA_READER_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "data/spec.h"

/* what a reader is asked for: a resolved directory and the sample counts
 * (0 = all the files hold); labels_only (the IDX reader): the labels alone,
 * in splits of samples of no values, for a probe to count what a class
 * subset keeps without reading and converting every image */
typedef struct {
    const char *dir;
    long train_size, test_size;
    bool labels_only;
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

#endif
