/* synthetic_text: a sequence task with a known best loss, for tests and
 * offline use. The tokens follow a Markov chain of order k over V tokens
 * whose table, drawn from the seed, allows b distinct next tokens after each
 * of the V^k contexts, each with probability 1/b. Whatever the context, the
 * next token then carries exactly ln(b) nats: a model that has learned the
 * table and sees the last k tokens reaches that loss and nothing can do
 * better, while one that looks only at the current token (no attention)
 * cannot, for k > 1. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

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

nl_code nl_markov_check(const nl_data_spec *spec, nl_error *err)
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

nl_code nl_markov_generate(const nl_data_spec *spec, int32_t **tokens, nl_error *err)
{
    *tokens = NULL;
    nl_code rc = nl_markov_check(spec, err);
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
