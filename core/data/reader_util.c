/* The helpers every dataset reader uses (core/data/reader_util.h). A
 * leaf: it needs only the data types and the error values, so the readers
 * depend on it and not on the loading front end (data.c) that calls them. */
#include "data/reader_util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

nl_code nl_split_alloc(nl_split *s, long n, int c, int h, int w, nl_error *err)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->c = c;
    s->h = h;
    s->w = w;
    size_t per = (size_t)c * (size_t)h * (size_t)w;
    if (n < 0 || (per && (size_t)n > SIZE_MAX / sizeof(float) / per))
        return nl_fail(err, NL_ERR_NOMEM, "a split of %ld samples of %dx%dx%d is too large", n, c,
                       h, w);
    /* at least one element, so that an empty split still has valid pointers */
    size_t nx = (size_t)n * per, ny = (size_t)n;
    s->x = malloc((nx ? nx : 1) * sizeof(float));
    s->y = malloc((ny ? ny : 1) * sizeof(int32_t));
    if (!s->x || !s->y) {
        nl_split_free(s);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for %ld samples of %dx%dx%d (%.1f MiB)",
                       n, c, h, w, (double)nx * sizeof(float) / (1024.0 * 1024.0));
    }
    return NL_OK;
}

void nl_split_free(nl_split *s)
{
    free(s->x);
    free(s->y);
    s->x = NULL;
    s->y = NULL;
    s->n = 0;
}

bool nl_data_join(char *buf, size_t size, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    const char *sep = (dl > 0 && dir[dl - 1] == '/') ? "" : "/";
    int len = snprintf(buf, size, "%s%s%s", dir, sep, name);
    return len >= 0 && (size_t)len < size;
}

bool nl_data_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool nl_data_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

nl_code nl_data_key_fail(nl_error *err, nl_code code, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nl_vfail(err, code, fmt, ap);
    va_end(ap);
    nl_error_key(err, key);
    return code;
}

nl_code nl_data_too_few(nl_error *err, const char *which, long want, long have, const char *where)
{
    bool train = strcmp(which, "train") == 0;
    nl_fail(err, NL_ERR_DATA, "data.%s_size = %ld, but there are only %ld %s samples (in %s)",
            which, want, have, train ? "training" : "test", where);
    nl_error_key(err, train ? "data.train_size" : "data.test_size");
    return NL_ERR_DATA;
}
