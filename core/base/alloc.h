/* The allocation calls of model building (the builder, the layers' structs,
 * the CPU backend's arenas), with a test hook that makes one of them fail,
 * so that a test can walk every out-of-memory path of building a model.
 * Without the hook armed each is the libc call behind one predictable
 * branch; freeing stays plain free(). */
#ifndef NL_ALLOC_H
#define NL_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *nl_malloc(size_t bytes);
void *nl_calloc(size_t count, size_t size);
void *nl_realloc(void *p, size_t bytes);
/* aligned_alloc: bytes must be a multiple of alignment */
void *nl_aligned_alloc(size_t alignment, size_t bytes);

/* Test hook: the k-th of the calls above made by this thread from now on
 * returns NULL (k >= 1), the others succeed; k = 0 disarms it. Per thread,
 * so runs building models on other threads are not touched. */
void nl_alloc_fail_after(long k);
/* whether the failure armed by nl_alloc_fail_after has happened (a build
 * that succeeds without it made fewer than k allocations) */
bool nl_alloc_failed(void);

#endif
