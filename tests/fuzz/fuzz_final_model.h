/* Shared by the final-model harness (fuzz_final_model.c) and the seed
 * generator (fuzz_seeds.c): the run whose final models are fuzzed. Small
 * enough to build per process in a few milliseconds, with every array a
 * final model holds: parameters, batch norm's running statistics and its
 * cumulative counter. */
#ifndef NL_FUZZ_FINAL_MODEL_H
#define NL_FUZZ_FINAL_MODEL_H

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

#endif
