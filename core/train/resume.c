#include "train/resume.h"

#include <stdlib.h>

#include "results/files.h"
#include "train/outputs.h"

/* a checkpoint's data order is over the training split it was taken on:
 * the same config over data files that have since changed (train_size: 0
 * takes them all) is refused before anything is written, not by the
 * training loop after metrics.csv has been cut back */
static nl_code resume_fits_data(const char *dir, const nl_train_state *s, const nl_split *train,
                                nl_error *err)
{
    if (s->data_n == train->n)
        return NL_OK;
    return nl_fail(err, NL_ERR_DATA, "%s/%s was taken over %ld training samples, the data now has %ld; "
                   "remove the checkpoint or run with --force to start over",
                   dir, NL_CHECKPOINT_FILE, s->data_n, train->n);
}

/* a token run's checkpoint holds no order, only the batcher's place: it is
 * tried on a batcher over this run's training split now, so a place the
 * split cannot have is refused before anything is written */
static nl_code resume_fits_tokens(const char *dir, const nl_train_state *s,
                                  const nl_token_split *train, int batch, int context,
                                  nl_error *err)
{
    nl_window_batcher trial;
    nl_code rc = nl_window_batcher_init(&trial, train, batch, context, true, 0, err);
    const nl_window_position at = {s->data_epoch, s->data_pos, s->data_rng};
    if (rc == NL_OK && s->data_n != 0)
        rc = nl_fail(err, NL_ERR_DATA, "%s/%s was taken over an image dataset's order", dir,
                     NL_CHECKPOINT_FILE);
    else if (rc == NL_OK && (rc = nl_window_batcher_seek(&trial, &at, err)))
        nl_error_prefix(err, "%s/%s: ", dir, NL_CHECKPOINT_FILE);
    nl_window_batcher_free(&trial);
    return rc;
}

/* A sound checkpoint whose hash is not this run's: the keys it was written
 * for are compared with this run's, text for text (a number written
 * another way is refused rather than taken by a tolerance that would take
 * seed 1000001 for 1000000). The same keys take it (a format before 4
 * hashed config.yaml's text, the config's path as typed included); other
 * values refuse the run, naming them. Never deleted here: only --force
 * starts over. True in *same when it is to be taken. */
static nl_code compare_checkpoint_config(const nl_resume_run *run, const nl_checkpoint_origin *o,
                                         bool *same, nl_error *err)
{
    *same = false;
    char path[1100];
    nl_path_join(path, sizeof path, run->dir, NL_CHECKPOINT_FILE);
    nl_flat saved = {0};
    nl_code rc;
    if (o->config_keys) {
        rc = nl_checkpoint_keys_flat(o->config_keys, &saved, err);
    } else {
        /* formats 1 to 3: the run directory's config.yaml says what they
         * were written for when its text has their hash */
        char yaml[1100], *text = NULL;
        size_t len = 0;
        nl_path_join(yaml, sizeof yaml, run->dir, NL_RUN_CONFIG_FILE);
        nl_error read_err = {0};
        if (nl_read_file(yaml, &text, &len, &read_err) != NL_OK ||
            nl_checkpoint_hash(text, len) != o->config_hash) {
            free(text);
            return nl_fail(err, NL_ERR_CONFIG,
                           "%s (format %u, at step %lld) was written for another config, and %s "
                           "is not the config it was written for, so what changed cannot be "
                           "said. The checkpoint is kept: run with --force to start over from "
                           "step 0, or --out DIR to write elsewhere",
                           path, o->version, (long long)o->step, yaml);
        }
        rc = nl_flat_from_yaml(text, yaml, &saved, err);
        free(text);
    }
    /* format 4: this run's keys as a checkpoint holds them, which leaves
     * out a key newer than the format at its default, as the saved keys do
     * (the resolved config would name each such key as changed) */
    nl_flat now = {0};
    const nl_flat *current = run->config_flat;
    if (rc == NL_OK && o->config_keys) {
        rc = nl_checkpoint_keys_flat(run->config_keys->data, &now, err);
        current = &now;
    }
    if (rc) {
        nl_flat_free(&saved);
        nl_flat_free(&now);
        return rc;
    }
    char diff[1400];
    const int changed = nl_flat_diff(&saved, current, nl_flat_key_outside_run, nl_values_identical,
                                     diff, sizeof diff);
    nl_flat_free(&saved);
    nl_flat_free(&now);
    if (changed > 0)
        return nl_fail(err, NL_ERR_CONFIG,
                       "%s (at step %lld) was written for another config: %s. The checkpoint is "
                       "kept: run the config it was written for to resume it, --force to start "
                       "this one over from step 0, or --out DIR to write elsewhere",
                       path, (long long)o->step, diff);
    *same = true;
    return NL_OK;
}

/* a checkpoint past the run's end was not written by this config's loop
 * (its last checkpoint comes before its last step) */
static nl_code resume_within_run(const char *dir, long step, long total, nl_error *err)
{
    if (step <= total)
        return NL_OK;
    return nl_fail(err, NL_ERR_DATA, "%s/%s is at step %ld, past this run's %ld steps; it is not "
                   "used and nothing was changed. Remove it or run with --force to start over",
                   dir, NL_CHECKPOINT_FILE, step, total);
}

/* Reads the run directory's checkpoint: loaded when it was written for
 * this config, NL_CHECKPOINT_NONE when there is none, an error otherwise. */
static nl_code read_checkpoint(const nl_resume_run *run, nl_model *model, nl_resume *r,
                               nl_error *err)
{
    nl_checkpoint_want want = {
        nl_checkpoint_hash(run->config_keys->data, run->config_keys->len),
        nl_checkpoint_hash(run->config_text, run->config_len)};
    nl_checkpoint_origin origin;
    nl_code rc = nl_checkpoint_read(run->dir, &want, model, &r->state, &r->files, &r->order,
                                    &r->found, &origin, err);
    if (rc == NL_OK && r->found == NL_CHECKPOINT_OTHER_CONFIG) {
        bool same;
        rc = compare_checkpoint_config(run, &origin, &same, err);
        /* the same values: taken as written for this run */
        want = (nl_checkpoint_want){origin.config_hash, origin.config_hash};
        if (rc == NL_OK && same)
            rc = nl_checkpoint_read(run->dir, &want, model, &r->state, &r->files, &r->order,
                                    &r->found, NULL, err);
        /* the directory is locked: a file that changed meanwhile is not deleted as another config's */
        if (rc == NL_OK && r->found != NL_CHECKPOINT_LOADED)
            rc = nl_fail(err, NL_ERR_IO, "%s/%s changed while it was read", run->dir,
                         NL_CHECKPOINT_FILE);
    }
    free(origin.config_keys);
    return rc;
}

/* A checkpoint taken on another number of MPI ranks goes on with the same
 * global batch, split otherwise: the trajectory of the uninterrupted run to
 * float rounding, unless a layer's training depends on the split (its
 * statistics over each rank's slice, masks drawn per rank), whose run
 * would go on as another experiment than the one it began: refused, before
 * anything is written. */
static nl_code resume_fits_ranks(const nl_resume_run *run, const nl_model *model,
                                 const nl_train_state *s, nl_error *err)
{
    const long then = s->ranks;
    const nl_layer *l = nl_model_per_rank_layer(model);
    if (then == run->ranks || !l)
        return NL_OK;
    return nl_fail(err, NL_ERR_CONFIG,
                   "%s/%s was taken on %ld MPI rank%s and this run has %d, but layer %s trains on "
                   "%s, so the run would go on as another experiment than the one it began. "
                   "Resume it on %ld rank%s (mpirun -np %ld places them on as few hosts as you "
                   "have), or start over with --force",
                   run->dir, NL_CHECKPOINT_FILE, then, then == 1 ? "" : "s", run->ranks, l->name,
                   l->per_rank, then, then == 1 ? "" : "s", then);
}

/* a loaded checkpoint fits this run: within its steps, over its data, on a
 * rank count it may change to, and its outputs hold the rows it counted
 * (checked before anything is written) */
static nl_code resume_fits_run(const nl_resume_run *run, const nl_model *model,
                               const nl_resume *r, nl_error *err)
{
    const nl_train_state *s = &r->state;
    nl_code rc = resume_within_run(run->dir, s->step, run->total_steps, err);
    if (rc == NL_OK)
        rc = run->tokens ? resume_fits_tokens(run->dir, s, run->tokens, run->rank_batch,
                                              run->context, err)
                         : resume_fits_data(run->dir, s, run->images, err);
    if (rc == NL_OK)
        rc = nl_run_outputs_reach(run->dir, run->train, &r->files, err);
    if (rc == NL_OK)
        rc = resume_fits_ranks(run, model, s, err);
    return rc;
}

nl_code nl_resume_find(const nl_resume_run *run, nl_model *model, nl_resume *r, nl_error *err)
{
    nl_code rc = read_checkpoint(run, model, r, err);
    if (rc == NL_OK && r->found == NL_CHECKPOINT_LOADED)
        rc = resume_fits_run(run, model, r, err);
    return rc;
}
