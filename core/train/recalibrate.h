/* Running statistics around training: train.freeze_bn_after and
 * train.bn_recalibrate, init.bn_policy's freeze and recalibrate, and
 * init.bn_freeze_affine (recalibrate.c). The mechanisms alone: the
 * training loop (train.c) decides when they apply, and includes this;
 * nothing here includes the loop. */
#ifndef NL_TRAIN_RECALIBRATE_H
#define NL_TRAIN_RECALIBRATE_H

#include "data/data.h"
#include "model/model.h"
#include "config/train_spec.h"

/* Errors (NL_ERR_CONFIG) when the spec freezes or recalibrates a model
 * without running statistics, or freezes at or past its last step; runtime
 * when a frozen run's model was not built freezable. */
nl_code nl_train_check_stats(const nl_model *m, const nl_train_spec *spec, long total_steps,
                             nl_error *err);
/* the mode of the training forward at `step` (0-based) */
nl_mode nl_train_mode_at(const nl_train_spec *spec, long step);
/* Resets the running statistics to their initial values and recomputes
 * them as the plain average over `batches` batches of `train` (forward
 * only, weights fixed). */
nl_code nl_recalibrate(nl_model *m, nl_batcher *train, long batches, nl_error *err);

/* init.bn_policy recalibrate, on a fresh (not resumed) run before its first
 * step: nl_recalibrate over init.bn_recalibrate_batches batches of `train`
 * drawn in an order of their own (a batcher seeded nl_init_recalibrate_seed
 * of the run's seed). Nothing for other policies. */
uint64_t nl_init_recalibrate_seed(uint64_t seed);
nl_code nl_train_recalibrate_at_start(nl_model *m, const nl_split *train,
                                      const nl_train_spec *spec, uint64_t seed, nl_error *err);
/* init.bn_freeze_affine: the gamma and beta of every layer with running
 * statistics, held at the values they have when opened. Their gradients
 * are zeroed after backward (left out of clipping, as PyTorch's
 * requires_grad=False leaves them) and their values written back after
 * each update. Opened empty for any other policy. */
typedef struct {
    nl_param **params;
    int n;
    float *values; /* host copy, the params' values one after the other */
} nl_held_affine;
nl_code nl_held_affine_open(nl_held_affine *h, nl_model *m, const nl_train_spec *spec,
                            nl_error *err);
void nl_held_affine_zero_grads(const nl_held_affine *h, nl_model *m);
void nl_held_affine_restore(const nl_held_affine *h, nl_model *m);
void nl_held_affine_free(nl_held_affine *h);

#endif
