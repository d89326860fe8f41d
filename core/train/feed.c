#include "train/feed.h"

#include "dist/dist.h"
#include "train/device_data.h"

/* Loads this rank's rows of a batch of n (all of it on one rank); returns
 * how many that is. */
static int load_slice(nl_model *m, const nl_split *split, const float *x, const int32_t *y, int n)
{
    int start, count;
    nl_dist_slice(nl_dist_rank(m->dist), nl_dist_size(m->dist), n, &start, &count);
    const size_t per_sample = (size_t)split->c * split->h * split->w;
    if (count > 0)
        nl_model_load_batch(m, x + (size_t)start * per_sample, y + start, count);
    return count;
}

/* this rank's part of a batch of n (0 when n is): how many, from *start */
static int rank_share(const nl_model *m, int n, int *start)
{
    int count;
    nl_dist_slice(nl_dist_rank(m->dist), nl_dist_size(m->dist), n, start, &count);
    return n > 0 ? count : 0;
}

int nl_feed_load_batch(nl_model *m, nl_batcher *b, int *mine)
{
    const nl_device_split *resident = nl_device_data_find(m->device_data, b->split);
    if (!resident) {
        const float *x;
        const int32_t *y;
        const int n = nl_batcher_next(b, &x, &y);
        *mine = n > 0 ? load_slice(m, b->split, x, y, n) : 0;
        return n;
    }
    const int32_t *index;
    const int n = nl_batcher_next_index(b, &index);
    int start;
    *mine = rank_share(m, n, &start);
    if (*mine > 0)
        nl_device_data_load(m->device_data, resident, m, index + start, *mine);
    return n;
}

/* this rank's windows of a token batch of n; returns how many */
static int load_token_slice(nl_model *m, const int32_t *tokens, const int32_t *targets, int n)
{
    int start, count;
    nl_dist_slice(nl_dist_rank(m->dist), nl_dist_size(m->dist), n, &start, &count);
    const size_t at = (size_t)start * m->rows_per_sample;
    if (count > 0)
        nl_model_load_tokens(m, tokens + at, targets + at, count);
    return count;
}

int nl_feed_load_windows(nl_model *m, nl_window_batcher *b, int *mine)
{
    const nl_device_token_split *resident = nl_device_data_find_tokens(m->device_data, b->split);
    if (!resident) {
        const int32_t *tokens, *targets;
        const int n = nl_window_batcher_next(b, &tokens, &targets);
        *mine = n > 0 ? load_token_slice(m, tokens, targets, n) : 0;
        return n;
    }
    const int32_t *starts;
    const int n = nl_window_batcher_next_starts(b, &starts);
    int start;
    *mine = rank_share(m, n, &start);
    if (*mine > 0)
        nl_device_data_load_windows(m->device_data, resident, m, starts + start, *mine);
    return n;
}

nl_code nl_feed_check(const nl_feed *f, const nl_train_spec *spec, nl_error *err)
{
    const nl_dataset *ds = f->images; /* NULL for tokens */
    if (ds && ds->train.n / spec->batch_size < 1)
        return nl_fail(err, NL_ERR_CONFIG,
                       "train.batch_size: %d is larger than the %ld training samples, so an epoch "
                       "has no full batch",
                       spec->batch_size, ds->train.n);
    if (f->tokens && (spec->trace.activation[0] || spec->bn_recalibrate_batches > 0))
        return nl_fail(err, NL_ERR_CONFIG, "token models take no activation trace and no "
                       "running-statistics recalibration");
    return NL_OK;
}

nl_code nl_feed_init(nl_feed *f, const nl_model *m, const nl_train_spec *spec, int eval_batch,
                     uint64_t seed, nl_error *err)
{
    nl_code rc;
    if (f->tokens) {
        const int context = m->rows_per_sample;
        rc = nl_window_batcher_init(&f->train_windows, &f->tokens->train, spec->batch_size,
                                    context, true, seed, err);
        if (rc == NL_OK)
            rc = nl_window_batcher_init(&f->eval_windows, &f->tokens->valid, eval_batch, context,
                                        false, 0, err);
        if (rc == NL_OK && f->trainmode)
            rc = nl_window_batcher_init(&f->trainmode_windows, &f->tokens->valid,
                                        spec->batch_size, context, false, 0, err);
        return rc;
    }
    rc = nl_batcher_init(&f->train, &f->images->train, spec->batch_size, true, true, seed, err);
    if (rc == NL_OK)
        rc = nl_batcher_init(&f->eval, &f->images->test, eval_batch, false, false, 0, err);
    if (rc == NL_OK && f->trainmode)
        rc = nl_batcher_init(&f->trainmode_eval, &f->images->test, spec->batch_size, false, true,
                             0, err);
    return rc;
}

void nl_feed_free(nl_feed *f)
{
    nl_batcher_free(&f->train);
    nl_batcher_free(&f->eval);
    nl_batcher_free(&f->trainmode_eval);
    nl_window_batcher_free(&f->train_windows);
    nl_window_batcher_free(&f->eval_windows);
    nl_window_batcher_free(&f->trainmode_windows);
}

long nl_feed_batches_per_epoch(const nl_feed *f)
{
    return f->tokens ? nl_window_batcher_batches(&f->train_windows) : nl_batcher_batches(&f->train);
}

int nl_feed_next(nl_feed *f, nl_model *m)
{
    int mine;
    if (f->tokens) {
        if (nl_feed_load_windows(m, &f->train_windows, &mine) == 0) /* epoch boundary */
            nl_feed_load_windows(m, &f->train_windows, &mine);
        return mine;
    }
    if (nl_feed_load_batch(m, &f->train, &mine) == 0) /* epoch boundary: the batcher reshuffles */
        nl_feed_load_batch(m, &f->train, &mine);
    return mine;
}

int nl_feed_next_eval(nl_feed *f, nl_model *m, int *mine)
{
    return f->tokens ? nl_feed_load_windows(m, &f->eval_windows, mine)
                     : nl_feed_load_batch(m, &f->eval, mine);
}

/* a token batcher has no order: its windows come from the RNG alone */
void nl_feed_tell(const nl_feed *f, nl_train_state *s)
{
    static const int32_t no_order[1];
    if (f->tokens) {
        nl_window_position at;
        nl_window_batcher_tell(&f->train_windows, &at);
        s->data_epoch = at.epoch, s->data_pos = at.pos, s->data_rng = at.rng;
        s->data_order = no_order, s->data_n = 0;
        return;
    }
    s->data_epoch = f->train.epoch, s->data_pos = f->train.pos, s->data_rng = f->train.rng;
    s->data_order = f->train.order, s->data_n = f->train.split->n;
}

nl_code nl_feed_seek(nl_feed *f, const nl_train_state *s, nl_error *err)
{
    if (f->tokens) {
        const nl_window_position at = {s->data_epoch, s->data_pos, s->data_rng};
        return nl_window_batcher_seek(&f->train_windows, &at, err);
    }
    return nl_batcher_seek(&f->train, s->data_epoch, s->data_pos, &s->data_rng, s->data_order,
                           s->data_n, err);
}
