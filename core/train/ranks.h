/* The ranks of a data-parallel run agreeing before it trains: the global
 * batch split equally between them, one CPU kernel set for all (every
 * rank updates its own parameters), and the checkpoint rank 0 found taken
 * by every rank. Each but the first is a collective: every rank calls it,
 * and any rank's failure is every rank's. */
#ifndef NL_TRAIN_RANKS_H
#define NL_TRAIN_RANKS_H

#include <stddef.h>

#include "config/config.h"
#include "dist/dist.h"
#include "model/model.h"
#include "train/resume.h"

/* the batch each of `ranks` trains on, or an error naming train.batch_size
 * when they cannot share the global batch equally */
nl_code nl_ranks_split_batch(const nl_config *cfg, int ranks, int *rank_batch, nl_error *err);

/* The kernel set every rank takes; `note` (size > 0) says what was given
 * up for it, "" when nothing. */
nl_code nl_ranks_agree_kernels(struct nl_dist *dist, int ranks, char *note, size_t size,
                               nl_error *err);

/* Every rank takes the checkpoint rank 0 found in *r (or none): its state
 * into `model` and *r, r->found loaded on every rank where it was on rank 0 */
nl_code nl_ranks_share_resume(struct nl_dist *dist, const char *config_keys, nl_model *model,
                              nl_resume *r, nl_error *err);

#endif
