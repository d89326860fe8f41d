/* libFuzzer harness: the text reader through nl_token_dataset_probe and
 * nl_token_dataset_load, then the window batcher over what it loaded.
 * Input: byte 0 bit 0: vocabulary chars (else bytes); byte 1:
 * data.valid_fraction = (byte + 1) / 257; byte 2: the window (2 + byte % 32
 * tokens); bytes 3 and 4: data.train_size and data.test_size (0 = all);
 * the rest is the text file. The probe also runs twice with a memo
 * (nl_text_memo), reading the file and then not. */
#include "data/tokens.h"
/* fuzz_files.h's helpers for the image readers' directories go unused here */
#pragma clang diagnostic ignored "-Wunused-function"
#include "fuzz_files.h"

#define TEXT_HEADER 5

/* every window of a batch is the split's tokens from its start, and its
 * targets the same shifted by one */
static void check_batches(const nl_token_split *split, int batch, int context, bool random)
{
    nl_window_batcher b;
    nl_error err = {0};
    nl_code rc = nl_window_batcher_init(&b, split, batch, context, random, 1, &err);
    FUZZ_REQUIRE(rc == NL_OK, "batcher over %ld tokens, windows of %d: %s", split->length,
                 context, err.msg);
    long windows = 0, batches = 0;
    const int32_t *x, *y;
    int k;
    while ((k = nl_window_batcher_next(&b, &x, &y)) > 0) {
        FUZZ_REQUIRE(k <= batch, "%d windows in a batch of %d", k, batch);
        for (int w = 0; w < k; w++) {
            const int32_t *row = x + (size_t)w * (size_t)context;
            const int32_t *targets = y + (size_t)w * (size_t)context;
            /* the window's start: the evaluation walk's is known; a random
             * one is searched for (the first few windows only: the search
             * costs the split's length each) */
            long start = random ? -1 : (windows + w) * (long)context;
            if (random && windows + w >= 4) {
                for (int t = 0; t + 1 < context; t++)
                    FUZZ_REQUIRE(targets[t] == row[t + 1], "window %ld: target %d is not the "
                                 "next token", windows + w, t);
                continue;
            }
            if (random)
                for (long s = 0; s + context < split->length && start < 0; s++)
                    if (!memcmp(split->tokens + s, row, (size_t)context * sizeof *row) &&
                        !memcmp(split->tokens + s + 1, targets, (size_t)context * sizeof *row))
                        start = s;
            FUZZ_REQUIRE(start >= 0 && start + context < split->length, "window %ld is no "
                         "window of the split", windows + w);
            FUZZ_REQUIRE(!memcmp(split->tokens + start, row, (size_t)context * sizeof *row) &&
                         !memcmp(split->tokens + start + 1, targets,
                                 (size_t)context * sizeof *row),
                         "window at %ld differs from the split", start);
        }
        windows += k;
        batches++;
    }
    FUZZ_REQUIRE(batches == nl_window_batcher_batches(&b), "%ld batches, %ld promised", batches,
                 nl_window_batcher_batches(&b));
    if (!random)
        FUZZ_REQUIRE(windows == (split->length - 1) / context, "the walk saw %ld windows of %ld",
                     windows, (split->length - 1) / context);
    nl_window_batcher_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < TEXT_HEADER)
        return 0;
    const uint8_t *text = data + TEXT_HEADER;
    const size_t length = size - TEXT_HEADER;
    const char *dir = fuzz_files_dir();
    fuzz_write_file(dir, "text.txt", text, length, false);

    nl_data_spec spec;
    nl_data_spec_defaults(&spec);
    spec.kind = NL_DATA_TEXT;
    snprintf(spec.path, sizeof spec.path, "%s/text.txt", dir);
    spec.vocab = (data[0] & 1) ? NL_VOCAB_CHARS : NL_VOCAB_BYTES;
    spec.valid_fraction = (float)(data[1] + 1) / 257.0f;
    const long window = 2 + data[2] % 32;
    spec.train_size = data[3];
    spec.test_size = data[4];

    nl_token_shape shape;
    nl_error probe_err = {0};
    const nl_code probed = nl_token_dataset_probe(&spec, window, NULL, &shape, &probe_err);
    /* a memo's probes (the first reads and fills it, the second takes what
     * it holds) answer as the plain probe does */
    nl_text_memo memo = {0};
    for (int pass = 0; pass < 2; pass++) {
        nl_token_shape memo_shape;
        nl_error memo_err = {0};
        const nl_code memo_rc = nl_token_dataset_probe(&spec, window, &memo, &memo_shape, &memo_err);
        FUZZ_REQUIRE(memo_rc == probed && !strcmp(memo_err.msg, probe_err.msg) &&
                     (probed != NL_OK || !memcmp(&memo_shape, &shape, sizeof shape)),
                     "probe with a memo (pass %d): %s %s, without: %s %s", pass,
                     nl_code_name(memo_rc), memo_err.msg, nl_code_name(probed), probe_err.msg);
    }
    nl_token_dataset ds;
    nl_error err = {0};
    const nl_code rc = nl_token_dataset_load(&spec, window, &ds, &err);
    /* the probe refuses exactly what loading refuses, with the same words */
    FUZZ_REQUIRE(probed == rc, "probe %s, load %s: %s / %s", nl_code_name(probed),
                 nl_code_name(rc), probe_err.msg, err.msg);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "text");
        FUZZ_REQUIRE(err.key[0], "no key in: %s", err.msg);
        FUZZ_REQUIRE(!strcmp(err.msg, probe_err.msg), "probe: %s, load: %s", probe_err.msg,
                     err.msg);
        FUZZ_REQUIRE(!ds.train.tokens && !ds.valid.tokens, "tokens left after a failure");
        nl_token_dataset_free(&ds);
        return 0;
    }
    FUZZ_REQUIRE(memchr(text, 0, length) == NULL, "a text with a NUL byte was accepted");
    FUZZ_REQUIRE(shape.train_length == ds.train.length && shape.valid_length == ds.valid.length &&
                 shape.vocab == ds.vocab, "probe %ld + %ld tokens of %d, load %ld + %ld of %d",
                 shape.train_length, shape.valid_length, shape.vocab, ds.train.length,
                 ds.valid.length, ds.vocab);
    FUZZ_REQUIRE(ds.train.length >= window && ds.valid.length >= window,
                 "splits of %ld and %ld tokens, windows of %ld", ds.train.length,
                 ds.valid.length, window);
    FUZZ_REQUIRE(spec.train_size == 0 || ds.train.length == spec.train_size, "train %ld of %ld",
                 ds.train.length, spec.train_size);
    FUZZ_REQUIRE(spec.test_size == 0 || ds.valid.length == spec.test_size, "valid %ld of %ld",
                 ds.valid.length, spec.test_size);
    /* the split is contiguous (train from the start, validation from the
     * last floor(n * fraction)), and each token stands for its byte */
    const long valid_start =
        (long)length - (long)floor((double)length * (double)spec.valid_fraction);
    bool used[256] = {false};
    for (size_t i = 0; i < length; i++)
        used[text[i]] = true;
    int distinct = 0;
    for (int c = 0; c < 256; c++)
        distinct += used[c];
    FUZZ_REQUIRE(ds.vocab == (spec.vocab == NL_VOCAB_CHARS ? distinct : 256),
                 "vocabulary %d, %d distinct bytes", ds.vocab, distinct);
    for (int t = 1; t < ds.vocab && spec.vocab == NL_VOCAB_CHARS; t++)
        FUZZ_REQUIRE(ds.symbols[t - 1] < ds.symbols[t], "chars out of byte order at %d", t);
    for (long i = 0; i < ds.train.length; i++) {
        const int32_t t = ds.train.tokens[i];
        FUZZ_REQUIRE(t >= 0 && t < ds.vocab && ds.symbols[t] == text[i],
                     "train token %ld: %d for byte %u", i, (int)t, text[i]);
    }
    for (long i = 0; i < ds.valid.length; i++) {
        const int32_t t = ds.valid.tokens[i];
        FUZZ_REQUIRE(t >= 0 && t < ds.vocab && ds.symbols[t] == text[valid_start + i],
                     "validation token %ld: %d for byte %u", i, (int)t, text[valid_start + i]);
    }
    const int context = (int)window - 1;
    check_batches(&ds.train, 1 + data[3] % 4, context, true);
    check_batches(&ds.valid, 1 + data[4] % 4, context, false);
    nl_token_dataset_free(&ds);
    return 0;
}
