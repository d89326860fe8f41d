/* A per-user cache directory of normlab's: $XDG_CACHE_HOME/normlab/SUB, or
 * ~/.cache/normlab/SUB, made 0700 where missing and used only while it is a
 * real directory owned by the user and writable by no one else (a shared
 * or planted cache is how caches have been attacked). The formula
 * compiler's objects (norm/formula_compile.c) and the plan's measured
 * convolution costs (plan/conv_choice.c) live in two of them. */
#ifndef NL_LOG_CACHE_DIR_H
#define NL_LOG_CACHE_DIR_H

#include <stdbool.h>
#include <stddef.h>

/* the cache `sub` into dir (at `given` instead where not NULL); false with
 * why (naming `what`, "the formula cache") where none can be had */
bool nl_cache_dir(const char *sub, const char *given, const char *what, char *dir, size_t size,
                  char *why, size_t why_size);

#endif
