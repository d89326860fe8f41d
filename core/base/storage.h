/* Storage types: a row of a small traits table (storage.def) each, so that
 * the plan, the shapes and the kernels say which one an operand is in
 * rather than naming one. An activation stored in a 16-bit type holds the
 * fp32 values rounded to it (to nearest, ties to even) in the same layout,
 * a word per value; the arithmetic stays fp32. */
#ifndef NL_BASE_STORAGE_H
#define NL_BASE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/names.h"

typedef enum {
#define NL_STORAGE(ID, name, bytes, rounds, word, value) NL_STORAGE_##ID,
#include "base/storage.def"
#undef NL_STORAGE
    NL_STORAGE_COUNT
} nl_storage;

typedef struct {
    const char *name;
    size_t bytes;         /* per value */
    nl_precision rounds;  /* the precision whose rounding gives its values */
    /* the scalar reference conversions of a 16-bit type (NULL for fp32) */
    uint16_t (*word)(float x);
    float (*value)(uint16_t word);
} nl_storage_traits;

extern const nl_storage_traits nl_storage_table[NL_STORAGE_COUNT];

static inline size_t nl_storage_bytes(unsigned s) { return nl_storage_table[s].bytes; }

/* the 16-bit storage type whose values the precision's rounding gives
 * (NL_STORAGE_FP32 where none: fp32 itself) */
nl_storage nl_storage_of_precision(nl_precision precision);

/* count values of src (fp32) into dst in storage s, rounded, and back */
void nl_storage_from_f32(nl_storage s, const float *src, void *dst, size_t count);
void nl_storage_to_f32(nl_storage s, const void *src, float *dst, size_t count);

#endif
