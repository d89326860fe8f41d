#include "base/grow.h"

#include <stdlib.h>

void *nl_grow(void *items, int n, int *cap, size_t size, int first)
{
    if (n < *cap)
        return items;
    const int grown = *cap ? 2 * *cap : first;
    void *p = realloc(items, (size_t)grown * size);
    if (p)
        *cap = grown;
    return p;
}
