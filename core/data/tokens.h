/* Token datasets for language models: a plain-text file (bytes or the
 * file's own characters as tokens) and a built-in synthetic sequence task,
 * each split contiguously into a training part and a validation part (the
 * end), and the batcher that cuts windows of `context` tokens out of them.
 * Token ids are int32 in [0, vocab); the loader guarantees the range, so
 * nothing downstream checks it. */
#ifndef NL_TOKENS_H
#define NL_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/names.h"
#include "base/rng.h"
#include "base/status.h"
#include "data/spec.h"
#include "data/text_memo.h"

/* A token stream, held on the host. */
typedef struct {
    long length;
    int32_t *tokens; /* length ids in [0, vocab) */
} nl_token_split;

typedef struct {
    nl_token_split train, valid; /* a contiguous split of the source: train first */
    int vocab;                   /* 256 for bytes; the file's own symbol count for chars */
    unsigned char symbols[256];  /* token -> the byte it stands for (printing samples) */
    /* the lowest loss per token, in nats, a model can expect on this data
     * (synthetic_text: the chain's entropy rate); < 0 when unknown */
    double entropy_floor;
    char description[512];
} nl_token_dataset;

/* limits of synthetic_text's chain (the config schema's ranges) */
#define NL_MARKOV_MAX_VOCAB 256
#define NL_MARKOV_MAX_ORDER 8
#define NL_MARKOV_MAX_LENGTH 2147483647L

/* whether a dataset kind yields tokens (text, synthetic_text) rather than
 * images or feature vectors */
bool nl_dataset_kind_is_tokens(nl_dataset_kind kind);

/* Checks what a token spec asks for without touching files: the kind,
 * data.valid_fraction, the subsets, the chain's sizes together (branching
 * at most vocab, a table that fits). NL_ERR_CONFIG with err->key set. */
nl_code nl_token_spec_check(const nl_data_spec *spec, nl_error *err);

/* Loads a token dataset (spec->kind text or synthetic_text). For text,
 * spec->path names the file ("" = the default corpus, see
 * nl_data_default_path). Errors: NL_ERR_DATA for a missing, empty, binary
 * or too short file (the message names the file and what to do);
 * NL_ERR_CONFIG for impossible spec values, with err->key set; NL_ERR_IO
 * when a read fails; NL_ERR_NOMEM. min_window is the shortest window
 * either split must hold (the model's context + 1 tokens; 2 when unknown).
 * On failure *out holds nothing to free (freeing it is harmless). */
nl_code nl_token_dataset_load(const nl_data_spec *spec, long min_window, nl_token_dataset *out,
                              nl_error *err);
void nl_token_dataset_free(nl_token_dataset *ds);

/* What nl_token_dataset_load would load, found without loading it: the
 * file is read once in small blocks, nothing kept, so the probe refuses
 * exactly what loading refuses and knows the chars vocabulary; sizes are
 * those of the splits, subsets applied. */
typedef struct {
    long train_length, valid_length;
    int vocab;
} nl_token_shape;

/* `memo` may be NULL (read the file) */
nl_code nl_token_dataset_probe(const nl_data_spec *spec, long min_window, nl_text_memo *memo,
                               nl_token_shape *out, nl_error *err);
/* the bytes nl_token_dataset_load allocates at its peak for this shape */
double nl_token_dataset_bytes(const nl_token_shape *shape);

/* Windows of `context` tokens: input tokens[s .. s+T), targets
 * tokens[s+1 .. s+T]. Training (random_windows) draws `batch` window starts
 * per batch uniformly from [0, length - T) with its own RNG stream, seeded,
 * so the batches are the same on every machine; an "epoch" is
 * max(1, length / (batch * T)) batches, for logging and checkpoints.
 * Evaluation walks the (length - 1) / T non-overlapping windows in order,
 * keeping a short last batch (a tail shorter than a window is not
 * evaluated). Buffers are allocated once in init. */
typedef struct {
    const nl_token_split *split;
    int batch, context;
    bool random_windows;
    long epoch;
    long pos;  /* batches drawn in this epoch (random) or windows walked (evaluation) */
    nl_rng rng;
    int32_t *tokens, *targets; /* batch * context each, row-major (window, position) */
    int32_t *starts;           /* batch: the last batch's window starts */
} nl_window_batcher;

/* The split must outlive the batcher. NL_ERR_CONFIG when batch or context
 * is < 1; NL_ERR_DATA when the split holds no window (length < context + 1)
 * or more than INT32_MAX tokens; NL_ERR_NOMEM. */
nl_code nl_window_batcher_init(nl_window_batcher *b, const nl_token_split *split, int batch,
                               int context, bool random_windows, uint64_t seed, nl_error *err);
/* The next batch: its number of windows, and pointers to its tokens and
 * targets (batch * context ints each, the first windows * context valid);
 * 0 when the epoch is over (the next call starts the next epoch). */
int nl_window_batcher_next(nl_window_batcher *b, const int32_t **tokens, const int32_t **targets);
/* batches per epoch */
/* the same batch as nl_window_batcher_next, without copying its windows:
 * *starts points at their k first tokens' positions in the split (valid
 * until the next call), for a caller that cuts them elsewhere (a split
 * resident on the GPU). The two advance the batcher alike. */
int nl_window_batcher_next_starts(nl_window_batcher *b, const int32_t **starts);
long nl_window_batcher_batches(const nl_window_batcher *b);

/* Where a batcher is, for checkpoints: putting it back with
 * nl_window_batcher_seek makes the batcher yield the same batches it would
 * have. */
typedef struct {
    long epoch, pos;
    nl_rng rng;
} nl_window_position;
void nl_window_batcher_tell(const nl_window_batcher *b, nl_window_position *at);
/* NL_ERR_DATA when the position cannot belong to this batcher's split */
nl_code nl_window_batcher_seek(nl_window_batcher *b, const nl_window_position *at,
                               nl_error *err);
void nl_window_batcher_free(nl_window_batcher *b);

#endif
