/* Shared by the checkpoint harness (fuzz_checkpoint.c) and the seed
 * generator (fuzz_seeds.c): the run whose checkpoints are fuzzed. Small
 * enough to build per process in a few milliseconds, and holding every part
 * of a checkpoint: batch norm with cumulative running statistics (a layer
 * counter), AdamW's two moments, gradient clipping, evaluations, log
 * windows and more than one epoch of data order. */
#ifndef NL_FUZZ_CHECKPOINT_H
#define NL_FUZZ_CHECKPOINT_H

static const char *const fuzz_checkpoint_config =
    "name: fuzz-checkpoint\n"
    "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64, test_size: 16}\n"
    "model: {arch: mlp, widths: [12], norm: {type: batch, momentum: cumulative}}\n"
    "train:\n"
    "  batch_size: 8\n"
    "  steps: 40\n"
    "  optimizer: {type: adamw, lr: 0.01}\n"
    "  clip_grad_norm: 1.0\n"
    "  eval_every: 6\n"
    "  log_every: 4\n"
    "  checkpoint_every: 1\n"
    "threads: 1\n";

/* input byte 0: what the harness does to the file (the rest of the input)
 * before the reader sees it */
enum {
    /* the header's payload length and CRC-32 made to match the bytes: a
     * mutated payload then gets past the checksum to the parser behind it */
    FUZZ_CKPT_FIX_CRC = 1,
    /* the run expects the config hash the file's header holds (otherwise the
     * hashes nl_checkpoint_config gives fuzz_checkpoint_config, as `normlab
     * run` does) */
    FUZZ_CKPT_OWN_HASH = 2,
};

#endif
