#include "base/alloc.h"

#include <stdlib.h>

/* calls left before the armed failure (0: none armed), and whether it came */
static _Thread_local long countdown;
static _Thread_local bool fired;

static bool fail_now(void)
{
    if (__builtin_expect(countdown == 0, 1))
        return false;
    if (--countdown > 0)
        return false;
    fired = true;
    return true;
}

void *nl_malloc(size_t bytes) { return fail_now() ? NULL : malloc(bytes); }

void *nl_calloc(size_t count, size_t size) { return fail_now() ? NULL : calloc(count, size); }

void *nl_realloc(void *p, size_t bytes) { return fail_now() ? NULL : realloc(p, bytes); }

void *nl_aligned_alloc(size_t alignment, size_t bytes)
{
    return fail_now() ? NULL : aligned_alloc(alignment, bytes);
}

void nl_alloc_fail_after(long k)
{
    countdown = k > 0 ? k : 0;
    fired = false;
}

bool nl_alloc_failed(void) { return fired; }
