/* The training loop's resumable state: what, with the model's arrays
 * (parameters, optimizer state, running statistics, layer counters), a
 * checkpoint keeps so that a resumed run continues bit for bit. The loop
 * works on this struct itself; a checkpoint writes it and a resume reads
 * it back through one field table (nl_train_state_fields), so a field is
 * either in the table, and so in every checkpoint, or the table test
 * (tests/test_checkpoint.c) fails. */
#ifndef NL_TRAIN_STATE_H
#define NL_TRAIN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "train/loss_scale.h"

/* The fields in the order a checkpoint holds them (checkpoint.h), laid out
 * without padding so that the table covers every byte before data_order.
 * A new field goes into the table too, with a new checkpoint format whose
 * reader gives the older formats' files a value for it.
 *
 * While the loop runs, a few of them live elsewhere: the batcher's place
 * (data_*), the model's counters (model_metrics, window_sums[2]), the
 * clock (elapsed_s) and the communicator (ranks). The loop takes them into the state for a checkpoint
 * and gives them back on resume, each in one function of train.c. */
typedef struct {
    long step;            /* optimizer steps done */
    long window_steps;    /* steps since the last train row */
    long evaluations, last_eval_step;
    /* the training batcher: epoch, position, this epoch's order's length
     * (0 for token windows, which come from the RNG alone) */
    long data_epoch, data_pos, data_n;
    double lr;              /* of the last step (the next test rows show it) */
    /* the window's loss and correct sums moved off the model's counters
     * (an evaluation inside a window needs them), and the pre-clip
     * gradient norms' sum, which the model holds while the loop runs */
    double window_sums[3];
    double model_metrics[2]; /* the model's metric counters, at a checkpoint */
    double final_train_loss, final_test_loss, final_test_accuracy;
    double best_test_loss, best_test_accuracy, final_trainmode_accuracy;
    double elapsed_s, train_s, eval_s; /* time so far: rows' elapsed_s continue from it */
    nl_rng data_rng;                   /* the batcher's shuffle (or window) RNG */
    /* from checkpoint format 5: the run's train.precision (an
     * nl_precision; a resume under another is refused) and the loss
     * scaler's state (all zero when the run does not scale) */
    long precision;
    nl_loss_scaler scaler;
    /* from format 7: the MPI ranks the steps before the checkpoint ran on
     * (1 in the older formats, which MPI runs did not write); a resume on
     * another count splits the same global batch otherwise */
    long ranks;
    /* this epoch's order, data_n entries: the payload's tail, not a field */
    const int32_t *data_order;
} nl_train_state;

typedef struct {
    const char *name;
    size_t offset, size;
    unsigned since; /* the checkpoint format that added it; older files leave it zero */
} nl_train_state_field;

/* every field but data_order, in the checkpoint's order */
extern const nl_train_state_field nl_train_state_fields[];
extern const int nl_train_state_field_count;

/* the bytes a checkpoint of format `version` holds the state in */
size_t nl_train_state_bytes(unsigned version);
/* The fields, each as this build holds it (little endian here), one after
 * another into `out` (nl_train_state_bytes of the newest format). */
void nl_train_state_write(const nl_train_state *s, unsigned char *out);
/* The same back from `in`, written in format `version`: the fields that
 * format lacks are zero; data_order is left NULL. */
void nl_train_state_read(nl_train_state *s, const unsigned char *in, unsigned version);

#endif
