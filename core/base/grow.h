/* Making room for one more item in an array that grows by doubling: how the
 * readers, logs and caches that collect an unknown number of items grow. */
#ifndef NL_BASE_GROW_H
#define NL_BASE_GROW_H

#include <stddef.h>

/* items (n of them, room for *cap, each `size` bytes) with room for one
 * more: items itself while n < *cap, else reallocated (realloc) to twice
 * *cap, or to `first` from none, and *cap updated. NULL when out of
 * memory: items is still held and *cap is unchanged. */
void *nl_grow(void *items, int n, int *cap, size_t size, int first);

#endif
