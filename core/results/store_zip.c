/* A pack's compressed values (store_internal.h): zlib streams, deflated
 * against a preset dictionary where the value has one (a run's config and
 * summary against the sweep's first run's), inflated back to exactly the
 * length recorded beside them. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
/* next_in as a pointer to const: the input is never written */
#define ZLIB_CONST
#include <zlib.h>

#include "results/store_internal.h"

nl_code nl_store_deflate(const void *data, size_t len, const void *dict, size_t dict_len, unsigned char **out,
                         size_t *out_len, nl_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (len > UINT_MAX || dict_len > UINT_MAX)
        return nl_fail(err, NL_ERR_USAGE, "a file of %zu bytes is too big to pack", len);
    z_stream z = {0};
    /* the default window and memory: the same stream from the same zlib */
    if (deflateInit2(&z, 9, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = NL_OK;
    if (dict && dict_len && deflateSetDictionary(&z, dict, (uInt)dict_len) != Z_OK)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    const uLong bound = deflateBound(&z, (uLong)len);
    unsigned char *buf = rc ? NULL : malloc(bound ? bound : 1);
    if (!rc && !buf)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (!rc) {
        z.next_in = (const Bytef *)data;
        z.avail_in = (uInt)len;
        z.next_out = buf;
        z.avail_out = (uInt)bound;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            rc = nl_fail(err, NL_ERR_NOMEM, "cannot compress a file of %zu bytes", len);
    }
    if (!rc) {
        *out = buf;
        *out_len = (size_t)z.total_out;
    } else {
        free(buf);
    }
    deflateEnd(&z);
    return rc;
}

nl_code nl_store_inflate(const void *data, size_t len, const void *dict, size_t dict_len, size_t size, char **out,
                         const char *what, nl_error *err)
{
    *out = NULL;
    if (len > UINT_MAX || size > UINT_MAX - 1 || dict_len > UINT_MAX)
        return nl_fail(err, NL_ERR_DATA, "%s: a value of %zu bytes packed in %zu is past what a pack holds", what,
                       size, len);
    char *buf = malloc(size + 1);
    if (!buf)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK) {
        free(buf);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    z.next_in = (const Bytef *)data;
    z.avail_in = (uInt)len;
    /* one byte of room past `size`: a stream longer than recorded is seen */
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)size + 1;
    int r = inflate(&z, Z_FINISH);
    if (r == Z_NEED_DICT)
        r = dict && inflateSetDictionary(&z, dict, (uInt)dict_len) == Z_OK ? inflate(&z, Z_FINISH) : Z_DATA_ERROR;
    const bool whole = r == Z_STREAM_END && z.total_out == size && z.avail_in == 0;
    inflateEnd(&z);
    if (!whole) {
        free(buf);
        return nl_fail(err, NL_ERR_DATA, "%s is damaged: its compressed bytes do not give back the %zu bytes "
                       "recorded (a normlab pack is written whole; this one was changed since)", what, size);
    }
    buf[size] = '\0';
    *out = buf;
    return NL_OK;
}
