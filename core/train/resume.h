/* Whether a run goes on from the checkpoint in its directory: read, and
 * taken only when it was written for this config (the same keys, compared
 * text for text when its hash differs) and fits this run: within its
 * steps, over the training data it was taken on, on a rank count it may
 * change to, with output files that hold the rows it counted. Everything
 * is checked before anything is written; a checkpoint is never deleted
 * here (only --force starts over). */
#ifndef NL_TRAIN_RESUME_H
#define NL_TRAIN_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "config/flat.h"
#include "config/train_spec.h"
#include "data/data.h"
#include "data/tokens.h"
#include "model/model.h"
#include "train/checkpoint.h"
#include "train/state.h"

/* what a checkpoint is checked against */
typedef struct {
    const char *dir;
    const nl_train_spec *train;
    /* nl_checkpoint_config's: the keys a checkpoint is written for, the
     * resolved config's text and its keys with the device trained on */
    const nl_buf *config_keys;
    const char *config_text;
    size_t config_len;
    const nl_flat *config_flat;
    long total_steps; /* the run's (nl_run_plan) */
    int ranks, rank_batch;
    /* the training split an order is over: a token run's, with the
     * model's context, or (tokens NULL) an image run's */
    const nl_token_split *tokens;
    int context;
    const nl_split *images;
} nl_resume_run;

/* what was found, and when loaded what goes on from it */
typedef struct {
    nl_checkpoint_found found;
    nl_train_state state;
    nl_checkpoint_files files;
    int32_t *order; /* malloc'd: the caller frees it */
} nl_resume;

/* Loads the run directory's checkpoint into *r and `model` when it was
 * written for this run and fits it (r->found NL_CHECKPOINT_LOADED); none
 * is NL_CHECKPOINT_NONE; a damaged one, one of another config, or one
 * that does not fit is an error naming what to do. */
nl_code nl_resume_find(const nl_resume_run *run, nl_model *model, nl_resume *r, nl_error *err);

#endif
