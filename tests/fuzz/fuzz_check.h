/* Shared by the libFuzzer harnesses: a property failure is reported the way
 * a sanitizer reports a memory error (message on stderr, then abort), so
 * libFuzzer saves the input that broke it. Harness code only: the library
 * itself never prints and never aborts. */
#ifndef NL_FUZZ_CHECK_H
#define NL_FUZZ_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

#define FUZZ_REQUIRE(cond, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz property failed: %s: ", #cond);                                 \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Every error carries a message, and bad input is never reported as a
 * failure at run time (exit status 1) except when memory runs out or the
 * OS fails a read. */
static inline void fuzz_check_error(nl_code rc, const nl_error *err, const char *what)
{
    FUZZ_REQUIRE(rc > NL_OK && rc < NL_ERR_COUNT, "%s: code %d", what, (int)rc);
    FUZZ_REQUIRE(err->msg[0] != '\0', "%s: %s with an empty message", what, nl_code_name(rc));
    FUZZ_REQUIRE(nl_code_exit_status(rc) == 2 || rc == NL_ERR_NOMEM || rc == NL_ERR_IO,
                 "%s: bad input reported as %s (exit status %d): %s", what, nl_code_name(rc),
                 nl_code_exit_status(rc), err->msg);
}

/* the input as a NUL-terminated string (caller frees); NULL when out of
 * memory, an input to skip */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

#endif
