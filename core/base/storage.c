#include "base/storage.h"

#include <string.h>

#include "base/precision.h"

/* the table's conversions are the scalar references of base/precision.h */
const nl_storage_traits nl_storage_table[NL_STORAGE_COUNT] = {
#define NL_STORAGE(ID, name_, bytes_, rounds_, word_, value_)                                      \
    [NL_STORAGE_##ID] = {.name = name_, .bytes = bytes_, .rounds = rounds_, .word = word_,         \
                         .value = value_},
#include "base/storage.def"
#undef NL_STORAGE
};

nl_storage nl_storage_of_precision(nl_precision precision)
{
    for (int s = 0; s < NL_STORAGE_COUNT; s++)
        if (nl_storage_table[s].word && nl_storage_table[s].rounds == precision)
            return (nl_storage)s;
    return NL_STORAGE_FP32;
}

void nl_storage_from_f32(nl_storage s, const float *src, void *dst, size_t count)
{
    if (!nl_storage_table[s].word) {
        memcpy(dst, src, count * sizeof *src);
        return;
    }
    uint16_t *w = dst;
    for (size_t i = 0; i < count; i++)
        w[i] = nl_storage_table[s].word(src[i]);
}

void nl_storage_to_f32(nl_storage s, const void *src, float *dst, size_t count)
{
    if (!nl_storage_table[s].value) {
        memcpy(dst, src, count * sizeof *dst);
        return;
    }
    const uint16_t *w = src;
    for (size_t i = 0; i < count; i++)
        dst[i] = nl_storage_table[s].value(w[i]);
}
