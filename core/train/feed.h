/* The training loop's data: what it trains and evaluates on, as batches
 * loaded into the model (this rank's share of each). Images (or feature
 * vectors) with labels come through nl_batcher, token windows through
 * nl_window_batcher; either is gathered on the device from a resident
 * split when the model has one (train/device_data.h), else on the host
 * and uploaded. */
#ifndef NL_TRAIN_FEED_H
#define NL_TRAIN_FEED_H

#include <stdbool.h>

#include "data/data.h"
#include "data/tokens.h"
#include "model/model.h"
#include "config/train_spec.h"
#include "train/state.h"

/* The batcher's next batch into the model. Returns the batch's size (0 at
 * the end of an epoch or pass) and in *mine the samples loaded on this
 * rank. */
int nl_feed_load_batch(nl_model *m, nl_batcher *b, int *mine);
/* the same for token windows */
int nl_feed_load_windows(nl_model *m, nl_window_batcher *b, int *mine);

/* Exactly one of images and tokens is set by the caller; every batcher is
 * made in nl_feed_init, once, so nothing allocates while the run goes. */
typedef struct {
    const nl_dataset *images;
    const nl_token_dataset *tokens;
    bool trainmode; /* also evaluate with batch statistics, in training-size batches */
    nl_batcher train, eval, trainmode_eval;
    nl_window_batcher train_windows, eval_windows, trainmode_windows;
} nl_feed;

/* what the feed cannot train on, before anything is allocated */
nl_code nl_feed_check(const nl_feed *f, const nl_train_spec *spec, nl_error *err);
/* the batchers: training (shuffled, seeded), evaluation in batches of
 * eval_batch, and with trainmode the training-size evaluation batches */
nl_code nl_feed_init(nl_feed *f, const nl_model *m, const nl_train_spec *spec, int eval_batch,
                     uint64_t seed, nl_error *err);
void nl_feed_free(nl_feed *f);
long nl_feed_batches_per_epoch(const nl_feed *f);
/* loads the next training batch (this rank's slice), across an epoch's
 * end; returns the samples loaded here */
int nl_feed_next(nl_feed *f, nl_model *m);
/* loads the next batch of one pass over the evaluation split (0 at its
 * end, where the pass rewinds); *mine as nl_feed_load_batch's */
int nl_feed_next_eval(nl_feed *f, nl_model *m, int *mine);
/* the training batcher's place into a checkpoint's state, and back */
void nl_feed_tell(const nl_feed *f, nl_train_state *s);
nl_code nl_feed_seek(nl_feed *f, const nl_train_state *s, nl_error *err);

#endif
