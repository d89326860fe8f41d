/* synthetic_text: a sequence task with a known best loss, for tests and
 * offline use. The tokens follow a Markov chain of order k over V tokens
 * whose table, drawn from the seed, allows b distinct next tokens after each
 * of the V^k contexts, each with probability 1/b. Whatever the context, the
 * next token then carries exactly ln(b) nats: a model that has learned the
 * table and sees the last k tokens reaches that loss and nothing can do
 * better, while one that looks only at the current token (no attention)
 * cannot, for k > 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "data/data_internal.h"
#include "data/tokens.h"

/* entries of the transition table (contexts * branching): 16 MiB of bytes */
#define MARKOV_MAX_TABLE (1L << 24)

/* V^k, or -1 when it exceeds the table's limit */
static long contexts_of(int vocab, int order)
{
    long n = 1;
    for (int i = 0; i < order; i++) {
        if (n > MARKOV_MAX_TABLE / vocab)
            return -1;
        n *= vocab;
    }
    return n;
}

/* the chain's sizes (NL_ERR_CONFIG, key set) */
static nl_code markov_check(const nl_data_spec *spec, nl_error *err)
{
    const int v = spec->markov_vocab, k = spec->markov_order, b = spec->markov_branching;
    if (v < 2 || v > NL_MARKOV_MAX_VOCAB)
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.markov.vocab",
                                "data.markov.vocab = %d is out of range; accepted: 2 to %d", v,
                                NL_MARKOV_MAX_VOCAB);
    if (k < 1 || k > NL_MARKOV_MAX_ORDER)
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.markov.order",
                                "data.markov.order = %d is out of range; accepted: 1 to %d", k,
                                NL_MARKOV_MAX_ORDER);
    if (b < 1 || b > v)
        return nl_data_key_fail(
            err, NL_ERR_CONFIG, "data.markov.branching",
            "data.markov.branching = %d is out of range; accepted: 1 to data.markov.vocab (%d)", b,
            v);
    const long contexts = contexts_of(v, k);
    if (contexts < 0 || contexts > MARKOV_MAX_TABLE / b)
        return nl_data_key_fail(
            err, NL_ERR_CONFIG, "data.markov.order",
            "a chain of order %d over %d tokens with %d next tokens each has a table of %d^%d x %d "
            "entries; accepted: at most %ld (lower data.markov.order or data.markov.vocab)",
            k, v, b, v, k, b, MARKOV_MAX_TABLE);
    if (spec->markov_length < 2 || spec->markov_length > NL_MARKOV_MAX_LENGTH)
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.markov.length",
                                "data.markov.length = %ld is out of range; accepted: 2 to %ld",
                                spec->markov_length, NL_MARKOV_MAX_LENGTH);
    return NL_OK;
}

/* the spec->markov_length tokens of the chain, into a new array */
static nl_code markov_generate(const nl_data_spec *spec, int32_t **tokens, nl_error *err)
{
    *tokens = NULL;
    nl_code rc = markov_check(spec, err);
    if (rc != NL_OK)
        return rc;
    const int v = spec->markov_vocab, k = spec->markov_order, b = spec->markov_branching;
    const long contexts = contexts_of(v, k), n = spec->markov_length;
    unsigned char *next = malloc((size_t)contexts * (size_t)b);
    int32_t *out = malloc((size_t)n * sizeof *out);
    if (!next || !out) {
        free(next);
        free(out);
        return nl_fail(err, NL_ERR_NOMEM, "synthetic_text: out of memory for %ld tokens", n);
    }
    nl_rng rng;
    nl_rng_seed(&rng, spec->seed, NL_STREAM_SYNTHETIC);
    /* each context's b next tokens: the first b of a partial Fisher-Yates
     * shuffle, so they are distinct */
    int32_t perm[NL_MARKOV_MAX_VOCAB];
    for (int i = 0; i < v; i++)
        perm[i] = i;
    for (long c = 0; c < contexts; c++)
        for (int j = 0; j < b; j++) {
            const int pick = j + (int)nl_rng_below(&rng, (uint32_t)(v - j));
            const int32_t t = perm[pick];
            perm[pick] = perm[j];
            perm[j] = t;
            next[c * b + j] = (unsigned char)t;
        }
    /* the first k tokens are uniform; the context is the last k tokens as
     * a base-V number, the oldest first */
    long ctx = 0;
    for (long i = 0; i < n; i++) {
        const int32_t t = i < k ? (int32_t)nl_rng_below(&rng, (uint32_t)v)
                                : next[ctx * b + (long)nl_rng_below(&rng, (uint32_t)b)];
        out[i] = t;
        ctx = (ctx * v + t) % contexts;
    }
    free(next);
    *tokens = out;
    return NL_OK;
}

/* ---- the row ---- */

/* how synthetic_text tokens print: letters, then digits, then '?' */
static void markov_symbols(int vocab, unsigned char symbols[256])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int t = 0; t < vocab; t++)
        symbols[t] = t < (int)sizeof alphabet - 1 ? (unsigned char)alphabet[t] : '?';
}

static nl_code markov_read(const nl_data_spec *spec, nl_text_memo *memo, int32_t **tokens,
                           nl_token_source *src, nl_error *err)
{
    (void)memo;
    snprintf(src->source, sizeof src->source, "the synthetic_text chain (data.markov.length)");
    if (tokens) {
        nl_code rc = markov_generate(spec, tokens, err);
        if (rc != NL_OK)
            return rc;
    }
    src->total = spec->markov_length;
    src->vocab = spec->markov_vocab;
    markov_symbols(src->vocab, src->symbols);
    src->entropy_floor = nl_det_log((double)spec->markov_branching);
    return NL_OK;
}

static void markov_describe(const nl_data_spec *spec, const nl_token_source *src, long train,
                            long valid, char *buf, size_t size)
{
    snprintf(buf, size,
             "synthetic_text (seed %llu): a Markov chain of order %d over %d tokens, %d next "
             "tokens each (best loss ln %d = %.4f nats): %ld train, %ld validation tokens",
             (unsigned long long)spec->seed, spec->markov_order, spec->markov_vocab,
             spec->markov_branching, spec->markov_branching, src->entropy_floor, train, valid);
}

/* the vocabulary is data.markov.vocab */
static void markov_planned_shape(const nl_data_spec *spec, nl_dataset_shape *out)
{
    out->classes = spec->markov_vocab;
}

const nl_dataset_info nl_dataset_row_synthetic_text = {
    .id = {"synthetic_text", "tokens of a random Markov chain built from the seed, needs no files"},
    .yields = NL_DATA_YIELDS_TOKENS,
    .from_seed = true,
    .default_path = "",
    .files = "",
    .planned_shape = markov_planned_shape,
    .size_key = "data.markov.length",
    .keys = {"data.valid_fraction", "data.markov.vocab", "data.markov.order",
             "data.markov.branching", "data.markov.length"},
    .torch_script = true,
    .token_check = markov_check,
    .token_read = markov_read,
    .token_describe = markov_describe,
};
