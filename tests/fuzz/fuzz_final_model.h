/* Shared by the final-model harness (fuzz_final_model.c) and the seed
 * generator (fuzz_seeds.c): the run whose final models are fuzzed. Small
 * enough to build per process in a few milliseconds, with every array a
 * final model holds: parameters, batch norm's running statistics and its
 * cumulative counter. */
#ifndef NL_FUZZ_FINAL_MODEL_H
#define NL_FUZZ_FINAL_MODEL_H

#include <stdint.h>
#include <string.h>

#include "train/checkpoint.h"
#include "train/final_model.h"

static const char *const fuzz_final_model_config =
    "name: fuzz-final-model\n"
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64, test_size: 16}\n"
    "model: {arch: mlp, widths: [12], norm: {type: batch, momentum: cumulative}}\n"
    "train: {batch_size: 8, steps: 6, eval_every: 3, log_every: 2}\n"
    "threads: 1\n";

/* input byte 0: what the harness does to the file (the rest of the input)
 * before the reader sees it */
enum {
    /* the header's payload length, the config keys' hash and the CRC-32 (as
     * the header's format computes it) made to match the bytes: a mutated
     * payload then gets past the checksum to the parser behind it */
    FUZZ_FINAL_FIX_CRC = 1,
    /* read without the run's config to compare the file's keys with (as
     * nl_final_model_read allows), so that other keys get to the arrays */
    FUZZ_FINAL_NO_CONFIG = 2,
};

/* fuzz_init_from.c: what each config that starts from the run (init.from)
 * sets over its config (--set overrides), picked by the input's byte 0 above
 * FUZZ_FINAL_FIX_CRC */
static const char *const fuzz_init_from_variants[][3] = {
    {NULL},
    {"data.classes=5"}, /* a new classifier head */
    {"init.bn_policy=reset"},
    {"init.bn_policy=freeze"},
    {"init.bn_policy=recalibrate"},
    {"model.norm.type=group", "model.norm.groups=3", "init.bn_policy=group_norm"},
    {"model.norm.type=layer"}, /* refused: batch norm's gamma into layer norm */
};
/* FUZZ_FINAL_FIX_CRC: the header made to match the bytes (final_model.h's
 * layout: the payload opens with the keys' i64 length and the keys), as a
 * writer with a bug would; fuzz_final_model.c and fuzz_init_from.c */
static inline void fuzz_final_fix_header(uint8_t *file, size_t len)
{
    enum { HEADER = NL_CHECKPOINT_HEADER_BYTES };
    if (len < HEADER)
        return;
    int64_t keys_len;
    if (len >= HEADER + 8 && (memcpy(&keys_len, file + HEADER, 8), keys_len >= 0) &&
        (uint64_t)keys_len <= len - HEADER - 8) {
        const uint64_t hash = nl_checkpoint_hash((const char *)file + HEADER + 8, (size_t)keys_len);
        memcpy(file + 32, &hash, 8);
    }
    const uint64_t payload = len - HEADER;
    memcpy(file + 16, &payload, 8);
    uint32_t version;
    memcpy(&version, file + 8, 4);
    const uint64_t crc = nl_checkpoint_file_crc(file, len, version >= NL_FINAL_MODEL_WHOLE_CRC_VERSION);
    memcpy(file + NL_CHECKPOINT_CRC_AT, &crc, 8);
}

#endif
