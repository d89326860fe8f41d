/* One evaluation pass of a model over a split, through the feed's loaders:
 * what the training loop's test rows, `normlab eval` (train/eval.c) and
 * the recalibration's final evaluation all measure with. */
#ifndef NL_TRAIN_EVALUATE_H
#define NL_TRAIN_EVALUATE_H

#include "train/feed.h"

/* Evaluates one pass of an unshuffled batcher (made once by the caller; it
 * rewinds itself at the end of the pass) in `mode`: eval, or batch
 * statistics (then the batcher should drop a short last batch). */
nl_code nl_evaluate(nl_model *m, nl_batcher *batches, nl_mode mode, double *loss,
                    double *accuracy, nl_error *err);
/* The same for a token model over an evaluation window batcher: loss and
 * accuracy per token */
nl_code nl_evaluate_tokens(nl_model *m, nl_window_batcher *batches, nl_mode mode, double *loss,
                           double *accuracy, nl_error *err);
/* the feed's evaluation split in eval mode, or with `trainmode` in its
 * training-size batches with batch statistics */
nl_code nl_feed_evaluate(nl_feed *f, nl_model *m, bool trainmode, double *loss, double *accuracy,
                         nl_error *err);

#endif
