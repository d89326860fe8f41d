/* Token datasets: the front end (which reader, the vocabulary, the
 * train/validation split, the description) and the window batcher. The
 * readers are text.c (files) and markov.c (synthetic_text). */
#include "data/tokens.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

bool nl_dataset_kind_is_tokens(nl_dataset_kind kind)
{
    return kind == NL_DATA_TEXT || kind == NL_DATA_SYNTHETIC_TEXT;
}

nl_code nl_token_spec_check(const nl_data_spec *spec, nl_error *err)
{
    if (!nl_dataset_kind_is_tokens(spec->kind))
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.dataset",
                                "data.dataset %s holds images or feature vectors, not tokens; "
                                "accepted for a language model: text, synthetic_text",
                                nl_name_of(&nl_dataset_names, (int)spec->kind));
    if (!(spec->valid_fraction > 0.0f && spec->valid_fraction < 1.0f))
        return nl_data_key_fail(
            err, NL_ERR_CONFIG, "data.valid_fraction",
            "data.valid_fraction = %g is out of range; accepted: a number in (0, 1)",
            (double)spec->valid_fraction);
    if (spec->kind == NL_DATA_TEXT && ((int)spec->vocab < 0 || spec->vocab >= NL_VOCAB_COUNT))
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.vocabulary", "unknown vocabulary %d",
                                (int)spec->vocab);
    if (spec->train_size < 0)
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.train_size",
                                "data.train_size must be >= 0 (0 = all), got %ld",
                                spec->train_size);
    if (spec->test_size < 0)
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.test_size",
                                "data.test_size must be >= 0 (0 = all), got %ld", spec->test_size);
    if (spec->kind == NL_DATA_SYNTHETIC_TEXT)
        return nl_markov_check(spec, err);
    return NL_OK;
}

/* the text file a spec names, and whether it is the default corpus */
static const char *text_path(const nl_data_spec *spec, bool *is_default)
{
    const char *dflt = nl_data_default_path(NL_DATA_TEXT);
    const char *path = spec->path[0] ? spec->path : dflt;
    *is_default = strcmp(path, dflt) == 0;
    return path;
}

/* what the messages call the source */
static void source_name(const nl_data_spec *spec, char *buf, size_t size)
{
    bool is_default;
    if (spec->kind == NL_DATA_TEXT)
        snprintf(buf, size, "%s", text_path(spec, &is_default));
    else
        snprintf(buf, size, "the synthetic_text chain (data.markov.length)");
}

/* The split of `total` tokens: the validation split is the last
 * floor(total * valid_fraction); then the subsets. Both parts must hold a
 * window of min_window tokens. */
static nl_code split_sizes(const nl_data_spec *spec, long total, long min_window, long *train,
                           long *valid, nl_error *err)
{
    char source[1100];
    source_name(spec, source, sizeof source);
    const char *size_key = spec->kind == NL_DATA_TEXT ? "data.path" : "data.markov.length";
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

static int count_used(const nl_text_scan *scan)
{
    int n = 0;
    for (int c = 0; c < 256; c++)
        n += scan->used[c];
    return n;
}

/* A text of one repeated character makes every next token certain: loss 0
 * and accuracy 100% from the first evaluation, whatever the model, in
 * either vocabulary. Nothing there measures a normalizer. */
static nl_code check_symbols(const char *path, const nl_text_scan *scan, nl_error *err)
{
    if (count_used(scan) >= 2)
        return NL_OK;
    int c = 0;
    while (c < 255 && !scan->used[c])
        c++;
    char shown[16];
    if (c >= 0x21 && c < 0x7f)
        snprintf(shown, sizeof shown, "'%c'", c);
    else
        snprintf(shown, sizeof shown, "byte 0x%02x", c);
    char times[32];
    if (scan->length == 1)
        snprintf(times, sizeof times, "once");
    else
        snprintf(times, sizeof times, "%ld times", scan->length);
    return nl_data_key_fail(err, NL_ERR_DATA, "data.path",
                            "text: %s holds one distinct character (%s, %s): every next token "
                            "is certain, so any model reaches loss 0 and 100%% accuracy without "
                            "learning; use a text of at least two distinct characters",
                            path, shown, times);
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
    long total;
    if (spec->kind == NL_DATA_TEXT) {
        bool is_default;
        const char *path = text_path(spec, &is_default);
        nl_text_scan scan;
        if ((rc = nl_text_read(path, is_default, NULL, memo, &scan, err)) != NL_OK ||
            (rc = check_symbols(path, &scan, err)) != NL_OK)
            return rc;
        total = scan.length;
        out->vocab = spec->vocab == NL_VOCAB_CHARS ? count_used(&scan) : 256;
    } else {
        total = spec->markov_length;
        out->vocab = spec->markov_vocab;
    }
    return split_sizes(spec, total, min_window, &out->train_length, &out->valid_length, err);
}

double nl_token_dataset_bytes(const nl_token_shape *shape)
{
    /* the whole source as int32 tokens, then the validation split's copy
     * before the source is cut down to the training split */
    const double total = (double)shape->train_length + (double)shape->valid_length;
    return (total + (double)shape->valid_length) * sizeof(int32_t);
}

/* the chars vocabulary: the bytes used, in byte order, numbered from 0 */
static int chars_vocabulary(const nl_text_scan *scan, int32_t *tokens, long n,
                            unsigned char symbols[256])
{
    int32_t id[256];
    int vocab = 0;
    for (int c = 0; c < 256; c++)
        if (scan->used[c]) {
            id[c] = vocab;
            symbols[vocab++] = (unsigned char)c;
        }
    for (long i = 0; i < n; i++)
        tokens[i] = id[tokens[i]];
    return vocab;
}

/* how synthetic_text tokens print: letters, then digits, then '?' */
static void markov_symbols(int vocab, unsigned char symbols[256])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int t = 0; t < vocab; t++)
        symbols[t] = t < (int)sizeof alphabet - 1 ? (unsigned char)alphabet[t] : '?';
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
    int32_t *all = NULL;
    long total;
    bool is_default = false;
    const char *path = NULL;
    if (spec->kind == NL_DATA_TEXT) {
        path = text_path(spec, &is_default);
        nl_text_scan scan;
        if ((rc = nl_text_read(path, is_default, &all, NULL, &scan, err)) != NL_OK)
            return rc;
        if ((rc = check_symbols(path, &scan, err)) != NL_OK) {
            free(all);
            return rc;
        }
        total = scan.length;
        if (spec->vocab == NL_VOCAB_CHARS) {
            out->vocab = chars_vocabulary(&scan, all, total, out->symbols);
        } else {
            out->vocab = 256;
            for (int c = 0; c < 256; c++)
                out->symbols[c] = (unsigned char)c;
        }
    } else {
        if ((rc = nl_markov_generate(spec, &all, err)) != NL_OK)
            return rc;
        total = spec->markov_length;
        out->vocab = spec->markov_vocab;
        markov_symbols(out->vocab, out->symbols);
        out->entropy_floor = nl_det_log((double)spec->markov_branching);
    }
    long train, valid;
    if ((rc = split_sizes(spec, total, min_window, &train, &valid, err)) != NL_OK) {
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

    if (spec->kind == NL_DATA_TEXT)
        snprintf(out->description, sizeof out->description,
                 "text (%.300s, %s vocabulary of %d): %ld train, %ld validation tokens", path,
                 nl_name_of(&nl_vocab_names, (int)spec->vocab), out->vocab, train, valid);
    else
        snprintf(out->description, sizeof out->description,
                 "synthetic_text (seed %llu): a Markov chain of order %d over %d tokens, %d next "
                 "tokens each (best loss ln %d = %.4f nats): %ld train, %ld validation tokens",
                 (unsigned long long)spec->seed, spec->markov_order, spec->markov_vocab,
                 spec->markov_branching, spec->markov_branching, out->entropy_floor, train, valid);
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
