/* Errors are values: every fallible library call returns an nl_code and fills
 * an nl_error that cmd/ prints. The library never prints and never exits. */
#ifndef NL_STATUS_H
#define NL_STATUS_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    NL_OK = 0,
    NL_ERR_USAGE,       /* bad command line */
    NL_ERR_CONFIG,      /* bad config file or value */
    NL_ERR_DATA,        /* bad or missing input data */
    NL_ERR_IO,          /* a file could not be read or written */
    NL_ERR_NOMEM,       /* an allocation failed */
    NL_ERR_UNSUPPORTED, /* the build or the device cannot do what was asked */
    NL_ERR_RUNTIME,     /* anything else that went wrong while running */
    NL_ERR_COUNT
} nl_code;

#define NL_ERROR_MSG_MAX 2048

typedef struct {
    nl_code code;
    char msg[NL_ERROR_MSG_MAX];
    /* optional: the config key path the error is about ("model.norm.groups"),
     * so the config module can point at the line that set it */
    char key[96];
    /* optional: a second key the error is about, the setting that asked
     * for what `key` refuses (model.layout, where train.precision is
     * refused under it), so that the config module points at its line too */
    char with_key[96];
} nl_error;

/* Records the error and returns its code, so callers can write
 * `return nl_fail(err, NL_ERR_IO, ...)`. The first error wins: a caller
 * adding its own message after a callee failed keeps the callee's root
 * cause. That makes an nl_error single-use: where a failure is tolerated
 * (skipped, retried, reported and passed over) the next attempt takes a
 * fresh nl_error declared inside the loop, or the tolerated one is
 * nl_error_clear()ed; otherwise the next failure reports the old message
 * and a later success leaves err->code set. */
nl_code nl_fail(nl_error *err, nl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
nl_code nl_vfail(nl_error *err, nl_code code, const char *fmt, va_list ap);

/* Prepends context ("reading foo: ") to an error already recorded. */
void nl_error_prefix(nl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* makes err fresh again (code NL_OK, no message, no key) */
void nl_error_clear(nl_error *err);
/* sets err->key (when err has no key yet) */
void nl_error_key(nl_error *err, const char *key);
/* sets err->with_key (when err has none yet) */
void nl_error_with_key(nl_error *err, const char *key);

const char *nl_code_name(nl_code code);

/* copies src into dst (size bytes), cutting it short if needed; always terminated */
void nl_copy_string(char *dst, size_t size, const char *src);
/* the first line of `text` that starts with `prefix` and then `mark`: what
 * follows the mark (to the text's end); NULL when no line does */
const char *nl_line_after(const char *text, const char *prefix, char mark);

/* Exit status of the command line for an error code:
 * 2 for bad usage, config or input data, 1 for failures at run time. */
int nl_code_exit_status(nl_code code);

#endif
