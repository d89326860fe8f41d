/* SHA-256 (FIPS 180-4) of a buffer, as 64 lowercase hex digits */
#ifndef NL_BASE_SHA256_H
#define NL_BASE_SHA256_H

#include <stddef.h>

void nl_sha256_hex(const void *data, size_t n, char out[65]);

#endif
