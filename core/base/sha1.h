/* SHA-1 (FIPS 180-4) of a buffer, and git's object id of a file's bytes
 * (SHA-1 of "blob SIZE\0" and the bytes): how withdrawn-run lookups tell
 * that a packed run holds the very bytes a commit removed. Not for
 * security: git's ids are what is compared. */
#ifndef NL_BASE_SHA1_H
#define NL_BASE_SHA1_H

#include <stddef.h>

/* SHA-1 of the concatenation of two buffers, as 40 lowercase hex digits */
void nl_sha1_hex2(const void *a, size_t na, const void *b, size_t nb, char out[41]);
/* git's blob id of `data` (what `git hash-object` prints) */
void nl_git_blob_id(const void *data, size_t n, char out[41]);

#endif
