#include "base/status.h"

#include <stdio.h>
#include <string.h>

nl_code nl_vfail(nl_error *err, nl_code code, const char *fmt, va_list ap)
{
    if (err && err->code == NL_OK) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

nl_code nl_fail(nl_error *err, nl_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nl_vfail(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void nl_error_prefix(nl_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix), mlen = strlen(err->msg);
    if (plen >= sizeof err->msg)
        plen = sizeof err->msg - 1;
    if (plen + mlen >= sizeof err->msg)
        mlen = sizeof err->msg - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
}

void nl_error_key(nl_error *err, const char *key)
{
    if (err && !err->key[0])
        snprintf(err->key, sizeof err->key, "%s", key);
}

void nl_error_with_key(nl_error *err, const char *key)
{
    if (err && !err->with_key[0])
        snprintf(err->with_key, sizeof err->with_key, "%s", key);
}

void nl_error_clear(nl_error *err)
{
    if (err) {
        err->code = NL_OK;
        err->msg[0] = '\0';
        err->key[0] = '\0';
        err->with_key[0] = '\0';
    }
}

void nl_copy_string(char *dst, size_t size, const char *src)
{
    if (size == 0)
        return;
    size_t len = strlen(src);
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

const char *nl_line_after(const char *text, const char *prefix, char mark)
{
    const size_t plen = strlen(prefix);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (!strncmp(line, prefix, plen) && line[plen] == mark)
            return line + plen + 1;
    return NULL;
}

const char *nl_code_name(nl_code code)
{
    static const char *const names[NL_ERR_COUNT] = {
        [NL_OK] = "ok",
        [NL_ERR_USAGE] = "usage error",
        [NL_ERR_CONFIG] = "config error",
        [NL_ERR_DATA] = "data error",
        [NL_ERR_IO] = "I/O error",
        [NL_ERR_NOMEM] = "out of memory",
        [NL_ERR_UNSUPPORTED] = "unsupported",
        [NL_ERR_RUNTIME] = "runtime error",
    };
    return (code >= 0 && code < NL_ERR_COUNT) ? names[code] : "unknown error";
}

int nl_code_exit_status(nl_code code)
{
    switch (code) {
    case NL_OK:
        return 0;
    case NL_ERR_USAGE:
    case NL_ERR_CONFIG:
    case NL_ERR_DATA:
    case NL_ERR_UNSUPPORTED:
        return 2;
    default:
        return 1;
    }
}
