/* Token datasets: the front end (the checks every token dataset shares,
 * the train/validation split) and the window batcher. The readers, each
 * with its row (data/registry.h), are text.c (files) and markov.c
 * (synthetic_text): they find the tokens, the vocabulary and the
 * description. */
#include "data/tokens.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

bool nl_dataset_kind_is_tokens(nl_dataset_kind kind)
{
    const nl_dataset_info *row = nl_dataset_info_of(kind);
    return row && nl_dataset_yields_tokens(row);
}

nl_code nl_token_spec_check(const nl_data_spec *spec, nl_error *err)
{
    if (!nl_dataset_kind_is_tokens(spec->kind)) {
        char token_kinds[128];
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.dataset",
                                "data.dataset %s holds images or feature vectors, not tokens; "
                                "accepted for a language model: %s",
                                nl_name_of(&nl_dataset_names, (int)spec->kind),
                                nl_dataset_names_joined(nl_dataset_yields_tokens, ", ", ", ",
                                                        token_kinds, sizeof token_kinds));
    }
    if (!(spec->valid_fraction > 0.0f && spec->valid_fraction < 1.0f))
        return nl_data_key_fail(
            err, NL_ERR_CONFIG, "data.valid_fraction",
            "data.valid_fraction = %g is out of range; accepted: a number in (0, 1)",
            (double)spec->valid_fraction);
    if (spec->train_size < 0)
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.train_size",
                                "data.train_size must be >= 0 (0 = all), got %ld",
                                spec->train_size);
    if (spec->test_size < 0)
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.test_size",
                                "data.test_size must be >= 0 (0 = all), got %ld", spec->test_size);
    return nl_dataset_info_of(spec->kind)->token_check(spec, err);
}

/* The split of the source's tokens: the validation split is the last
 * floor(total * valid_fraction); then the subsets. Both parts must hold a
 * window of min_window tokens. */
static nl_code split_sizes(const nl_data_spec *spec, const nl_token_source *src, long min_window,
                           long *train, long *valid, nl_error *err)
{
    const char *source = src->source;
    const long total = src->total;
    const char *size_key = nl_dataset_info_of(spec->kind)->size_key;
    const long valid_all = (long)floor((double)total * (double)spec->valid_fraction);
    const long train_all = total - valid_all;
    if (train_all < min_window)
        return nl_data_key_fail(
            err, NL_ERR_DATA, size_key,
            "%s holds %ld tokens: its training split (the first %g%%) holds %ld, fewer than one "
            "window (the context plus one: %ld tokens); use a longer text or a shorter context",
            source, total, 100.0 * (1.0 - (double)spec->valid_fraction), train_all, min_window);
    if (valid_all < min_window)
        return nl_data_key_fail(err, NL_ERR_DATA, "data.valid_fraction",
                                "%s holds %ld tokens: its validation split (data.valid_fraction = "
                                "%g: the last %ld) holds fewer than one window (the context plus "
                                "one: %ld tokens); raise data.valid_fraction or use a longer text",
                                source, total, (double)spec->valid_fraction, valid_all, min_window);
    if (spec->train_size > train_all)
        return nl_data_key_fail(
            err, NL_ERR_DATA, "data.train_size",
            "data.train_size = %ld, but the training split of %s holds only %ld tokens",
            spec->train_size, source, train_all);
    if (spec->test_size > valid_all)
        return nl_data_key_fail(
            err, NL_ERR_DATA, "data.test_size",
            "data.test_size = %ld, but the validation split of %s holds only %ld tokens",
            spec->test_size, source, valid_all);
    if (spec->train_size && spec->train_size < min_window)
        return nl_data_key_fail(err, NL_ERR_DATA, "data.train_size",
                                "data.train_size = %ld tokens is shorter than one window (the "
                                "context plus one: %ld tokens)",
                                spec->train_size, min_window);
    if (spec->test_size && spec->test_size < min_window)
        return nl_data_key_fail(err, NL_ERR_DATA, "data.test_size",
                                "data.test_size = %ld tokens is shorter than one window (the "
                                "context plus one: %ld tokens)",
                                spec->test_size, min_window);
    *train = spec->train_size ? spec->train_size : train_all;
    *valid = spec->test_size ? spec->test_size : valid_all;
    return NL_OK;
}

static void source_init(nl_token_source *src)
{
    memset(src, 0, sizeof *src);
    src->entropy_floor = -1.0;
}

nl_code nl_token_dataset_probe(const nl_data_spec *spec, long min_window, nl_text_memo *memo,
                               nl_token_shape *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    if (min_window < 2)
        min_window = 2;
    nl_code rc = nl_token_spec_check(spec, err);
    if (rc != NL_OK)
        return rc;
    nl_token_source src;
    source_init(&src);
    if ((rc = nl_dataset_info_of(spec->kind)->token_read(spec, memo, NULL, &src, err)) != NL_OK)
        return rc;
    out->vocab = src.vocab;
    return split_sizes(spec, &src, min_window, &out->train_length, &out->valid_length, err);
}

double nl_token_dataset_bytes(const nl_token_shape *shape)
{
    /* the whole source as int32 tokens, then the validation split's copy
     * before the source is cut down to the training split */
    const double total = (double)shape->train_length + (double)shape->valid_length;
    return (total + (double)shape->valid_length) * sizeof(int32_t);
}

nl_code nl_token_dataset_load(const nl_data_spec *spec, long min_window, nl_token_dataset *out,
                              nl_error *err)
{
    memset(out, 0, sizeof *out);
    out->entropy_floor = -1.0;
    if (min_window < 2)
        min_window = 2;
    nl_code rc = nl_token_spec_check(spec, err);
    if (rc != NL_OK)
        return rc;
    const nl_dataset_info *row = nl_dataset_info_of(spec->kind);
    nl_token_source src;
    source_init(&src);
    int32_t *all = NULL;
    if ((rc = row->token_read(spec, NULL, &all, &src, err)) != NL_OK)
        return rc;
    const long total = src.total;
    out->vocab = src.vocab;
    memcpy(out->symbols, src.symbols, sizeof out->symbols);
    out->entropy_floor = src.entropy_floor;
    long train, valid;
    if ((rc = split_sizes(spec, &src, min_window, &train, &valid, err)) != NL_OK) {
        free(all);
        return rc;
    }
    const long valid_start = total - (long)floor((double)total * (double)spec->valid_fraction);
    out->valid.tokens = malloc((size_t)valid * sizeof(int32_t));
    if (!out->valid.tokens) {
        free(all);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for %ld validation tokens", valid);
    }
    memcpy(out->valid.tokens, all + valid_start, (size_t)valid * sizeof(int32_t));
    out->valid.length = valid;
    /* the training split is the start of the source: keep it in place */
    int32_t *shrunk = realloc(all, (size_t)train * sizeof(int32_t));
    out->train.tokens = shrunk ? shrunk : all;
    out->train.length = train;
    row->token_describe(spec, &src, train, valid, out->description, sizeof out->description);
    return NL_OK;
}

void nl_token_dataset_free(nl_token_dataset *ds)
{
    if (!ds)
        return;
    free(ds->train.tokens);
    free(ds->valid.tokens);
    ds->train.tokens = ds->valid.tokens = NULL;
    ds->train.length = ds->valid.length = 0;
}

/* ---- window batcher ---- */

/* windows an evaluation walks */
static long eval_windows(const nl_window_batcher *b)
{
    return (b->split->length - 1) / b->context;
}

nl_code nl_window_batcher_init(nl_window_batcher *b, const nl_token_split *split, int batch,
                               int context, bool random_windows, uint64_t seed, nl_error *err)
{
    memset(b, 0, sizeof *b);
    if (batch < 1)
        return nl_fail(err, NL_ERR_CONFIG, "the batch size must be at least 1, got %d", batch);
    if (context < 1)
        return nl_fail(err, NL_ERR_CONFIG, "the context must be at least 1 token, got %d", context);
    if (split->length < (long)context + 1)
        return nl_fail(
            err, NL_ERR_DATA,
            "a split of %ld tokens holds no window of %d tokens and its next-token targets",
            split->length, context);
    if (split->length > 2147483647L)
        return nl_fail(err, NL_ERR_DATA, "a split of %ld tokens is too large for the batcher",
                       split->length);
    b->split = split;
    b->batch = batch;
    b->context = context;
    b->random_windows = random_windows;
    nl_rng_seed(&b->rng, seed, NL_STREAM_WINDOWS);
    const size_t n = (size_t)batch * (size_t)context;
    b->tokens = malloc(n * sizeof(int32_t));
    b->targets = malloc(n * sizeof(int32_t));
    b->starts = malloc((size_t)batch * sizeof(int32_t));
    if (!b->tokens || !b->targets || !b->starts) {
        nl_window_batcher_free(b);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for batches of %d windows of %d tokens",
                       batch, context);
    }
    return NL_OK;
}

long nl_window_batcher_batches(const nl_window_batcher *b)
{
    if (b->random_windows) {
        const long per = b->split->length / ((long)b->batch * b->context);
        return per > 0 ? per : 1;
    }
    return (eval_windows(b) + b->batch - 1) / b->batch;
}

static void copy_window(nl_window_batcher *b, int row, long start)
{
    const size_t t = (size_t)b->context;
    memcpy(b->tokens + (size_t)row * t, b->split->tokens + start, t * sizeof(int32_t));
    memcpy(b->targets + (size_t)row * t, b->split->tokens + start + 1, t * sizeof(int32_t));
}

int nl_window_batcher_next_starts(nl_window_batcher *b, const int32_t **starts)
{
    int k;
    if (b->random_windows) {
        if (b->pos >= nl_window_batcher_batches(b)) {
            b->epoch++;
            b->pos = 0;
            return 0;
        }
        /* starts in [0, length - T): every window has its T targets */
        const uint32_t count = (uint32_t)(b->split->length - b->context);
        for (int i = 0; i < b->batch; i++)
            b->starts[i] = (int32_t)nl_rng_below(&b->rng, count);
        b->pos++;
        k = b->batch;
    } else {
        const long left = eval_windows(b) - b->pos;
        if (left <= 0) {
            b->epoch++;
            b->pos = 0;
            return 0;
        }
        k = left < b->batch ? (int)left : b->batch;
        for (int i = 0; i < k; i++)
            b->starts[i] = (int32_t)((b->pos + i) * (long)b->context);
        b->pos += k;
    }
    *starts = b->starts;
    return k;
}

int nl_window_batcher_next(nl_window_batcher *b, const int32_t **tokens, const int32_t **targets)
{
    const int32_t *starts;
    const int k = nl_window_batcher_next_starts(b, &starts);
    if (k == 0)
        return 0;
    for (int i = 0; i < k; i++)
        copy_window(b, i, starts[i]);
    if (tokens)
        *tokens = b->tokens;
    if (targets)
        *targets = b->targets;
    return k;
}

void nl_window_batcher_tell(const nl_window_batcher *b, nl_window_position *at)
{
    memset(at, 0, sizeof *at);
    at->epoch = b->epoch;
    at->pos = b->pos;
    at->rng = b->rng;
}

nl_code nl_window_batcher_seek(nl_window_batcher *b, const nl_window_position *at, nl_error *err)
{
    const long most = b->random_windows ? nl_window_batcher_batches(b) : eval_windows(b);
    if (at->epoch < 0 || at->pos < 0 || at->pos > most || !(at->rng.inc & 1u))
        return nl_fail(
            err, NL_ERR_DATA,
            "the data position (epoch %ld, %s %ld) does not fit this split (%ld %s per epoch)",
            at->epoch, b->random_windows ? "batch" : "window", at->pos, most,
            b->random_windows ? "batches" : "windows");
    b->epoch = at->epoch;
    b->pos = at->pos;
    b->rng = at->rng;
    return NL_OK;
}

void nl_window_batcher_free(nl_window_batcher *b)
{
    if (!b)
        return;
    free(b->tokens);
    free(b->targets);
    free(b->starts);
    b->tokens = b->targets = b->starts = NULL;
}
