/* The text reader: a plain-text file as a stream of byte tokens. The file
 * is read once, in blocks, checking as it goes that it is text (no NUL
 * byte, few control characters); probing runs the same pass without
 * keeping the bytes, so it refuses exactly what loading refuses. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_internal.h"
#include "log/files.h"

#define TEXT_BLOCK 65536
/* a text with more control characters than this (per mille of its bytes)
 * is taken for binary; tabs, newlines, carriage returns and form feeds are
 * text */
#define TEXT_MAX_CONTROL_PER_MILLE 10
/* token ids are int32, and the batcher draws window starts below 2^31 */
#define TEXT_MAX_BYTES 2147483647L

/* what a text file holds: its length and the bytes it uses */
typedef struct {
    long length;
    bool used[256];
} nl_text_scan;

static bool is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') || c == 0x7f;
}

/* what to do about a file that is not there, as the error's tail */
static const char *missing_hint(bool is_default)
{
    return is_default
               ? "the build makes it from Debian's bible-kjv: install the package (tests/deps.sh "
                 "does), then re-run cmake and build; or set data.path to a plain-text file"
               : "set data.path to a plain-text file";
}

static nl_code open_text(const char *path, bool is_default, int *fd, struct stat *st,
                         nl_error *err)
{
    *fd = -1;
    if (!path[0])
        return nl_data_key_fail(err, NL_ERR_DATA, "data.path",
                                "text: no text file named and this build has no default corpus; "
                                "set data.path to a plain-text file");
    /* nl_open_regular: checked through the descriptor, so what is checked is
     * what is read, and a FIFO cannot hang the open */
    nl_error open_err = {0};
    const nl_code open_rc = nl_open_regular(path, false, fd, &open_err);
    if (open_rc == NL_ERR_DATA && stat(path, st) == 0 && S_ISDIR(st->st_mode))
        return nl_data_key_fail(err, NL_ERR_DATA, "data.path",
                                "text: data.path %s is a directory; set it to a plain-text file",
                                path);
    if (open_rc == NL_ERR_DATA)
        return nl_data_key_fail(err, NL_ERR_DATA, "data.path",
                                "text: %s is %s, not a regular file; set data.path to a "
                                "plain-text file",
                                path, stat(path, st) == 0 ? nl_file_kind(st->st_mode) : "another kind of file");
    if (open_rc) {
        if (errno == ENOENT || errno == ENOTDIR)
            return nl_data_key_fail(err, NL_ERR_DATA, "data.path", "text: %s%s does not exist; %s",
                                    is_default ? "the default corpus " : "", path,
                                    missing_hint(is_default));
        return nl_data_key_fail(err, open_rc, "data.path", "text: %s", open_err.msg);
    }
    nl_code rc = NL_OK;
    if (fstat(*fd, st) != 0)
        rc = nl_data_key_fail(err, NL_ERR_IO, "data.path", "text: cannot stat %s: %s", path,
                              strerror(errno));
    else if (st->st_size == 0)
        rc = nl_data_key_fail(err, NL_ERR_DATA, "data.path",
                              "text: %s is empty; set data.path to a plain-text file", path);
    else if (st->st_size > TEXT_MAX_BYTES)
        rc = nl_data_key_fail(
            err, NL_ERR_DATA, "data.path",
            "text: %s holds %lld bytes; accepted: at most %ld (one int32 token per byte)", path,
            (long long)st->st_size, TEXT_MAX_BYTES);
    if (rc != NL_OK) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

/* whether the memo holds the file `st` describes */
static bool memo_knows(const nl_text_memo *memo, const struct stat *st)
{
    return memo->valid && memo->dev == (unsigned long long)st->st_dev &&
           memo->ino == (unsigned long long)st->st_ino && memo->size == (long long)st->st_size &&
           memo->mtime_sec == (long long)st->st_mtim.tv_sec &&
           memo->mtime_nsec == (long long)st->st_mtim.tv_nsec &&
           memo->ctime_sec == (long long)st->st_ctim.tv_sec &&
           memo->ctime_nsec == (long long)st->st_ctim.tv_nsec;
}

static void memo_keep(nl_text_memo *memo, const struct stat *st, const nl_text_scan *scan)
{
    memo->valid = true;
    memo->dev = (unsigned long long)st->st_dev;
    memo->ino = (unsigned long long)st->st_ino;
    memo->size = (long long)st->st_size;
    memo->mtime_sec = (long long)st->st_mtim.tv_sec;
    memo->mtime_nsec = (long long)st->st_mtim.tv_nsec;
    memo->ctime_sec = (long long)st->st_ctim.tv_sec;
    memo->ctime_nsec = (long long)st->st_ctim.tv_nsec;
    memo->length = scan->length;
    memcpy(memo->used, scan->used, sizeof memo->used);
}

/* the control characters among a count of each byte */
static long control_count(const long count[256])
{
    long n = 0;
    for (int c = 0; c < 256; c++)
        if (is_control((unsigned char)c))
            n += count[c];
    return n;
}

/* where a pass over a text file has got to: each byte value counted, the
 * offset of the first control character (-1 none yet), the bytes read */
typedef struct {
    long count[256];
    long first_control;
    long at;
} text_pass;

/* one block read at pass->at: counted, copied into out (when not NULL),
 * refused when it holds a NUL or takes the file past the size it had when
 * opened */
static nl_code take_block(const char *path, long size, const unsigned char *block, ssize_t got,
                          int32_t *out, text_pass *pass, nl_error *err)
{
    if (pass->at + got > size)
        return nl_data_key_fail(err, NL_ERR_IO, "data.path",
                                "text: %s grew while it was read (%ld bytes when opened); read "
                                "it when nothing writes it",
                                path, size);
    for (ssize_t i = 0; i < got; i++)
        pass->count[block[i]]++;
    if (out)
        for (ssize_t i = 0; i < got; i++)
            out[pass->at + i] = block[i];
    if (pass->count[0]) {
        const unsigned char *nul = memchr(block, 0, (size_t)got);
        return nl_data_key_fail(err, NL_ERR_DATA, "data.path",
                                "text: %s is binary, not text: byte %ld is NUL; set "
                                "data.path to a plain-text file",
                                path, pass->at + (long)(nul - block));
    }
    if (pass->first_control < 0 && control_count(pass->count) > 0) {
        ssize_t i = 0;
        while (!is_control(block[i]))
            i++;
        pass->first_control = pass->at + (long)i;
    }
    pass->at += (long)got;
    return NL_OK;
}

/* Reads the file to its end in blocks. Each byte value is counted without
 * a branch per byte; a block that adds a NUL or the file's first control
 * character is searched again for where, which the messages give. */
static nl_code read_blocks(int fd, const char *path, long size, unsigned char *block,
                           int32_t *out, text_pass *pass, nl_error *err)
{
    for (;;) {
        ssize_t got = read(fd, block, TEXT_BLOCK);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return nl_data_key_fail(err, NL_ERR_IO, "data.path", "text: cannot read %s: %s",
                                    path, strerror(errno));
        }
        if (got == 0)
            return NL_OK;
        nl_code rc = take_block(path, size, block, got, out, pass, err);
        if (rc != NL_OK)
            return rc;
    }
}

/* the whole pass: the file did not shrink while it was read, and it has
 * few enough control characters to be text */
static nl_code check_pass(const char *path, long size, const text_pass *pass, nl_error *err)
{
    const long control = control_count(pass->count);
    if (pass->at != size)
        return nl_data_key_fail(err, NL_ERR_IO, "data.path",
                                "text: %s shrank while it was read (%ld of the %ld bytes it had "
                                "when opened); read it when nothing writes it",
                                path, pass->at, size);
    if (control * 1000 > (long)TEXT_MAX_CONTROL_PER_MILLE * size)
        return nl_data_key_fail(
            err, NL_ERR_DATA, "data.path",
            "text: %s does not look like text: %ld of its %ld bytes are control characters (the "
            "first at byte %ld; text has at most %d per 1000); set data.path to a plain-text file",
            path, control, size, pass->first_control, TEXT_MAX_CONTROL_PER_MILLE);
    return NL_OK;
}

/* What a text file holds, found by reading it once: its length and the
 * bytes it uses. tokens (length ints) receives the bytes when not NULL.
 * Errors: missing, not a regular file, empty, binary (a NUL byte, or more
 * than 1% control characters), too large, unreadable. With a memo (probes
 * only, tokens NULL), a file the memo knows is not read again, and one it
 * does not know is remembered once it has passed. */
static nl_code text_read_file(const char *path, bool is_default, int32_t **tokens,
                              nl_text_memo *memo, nl_text_scan *scan, nl_error *err)
{
    memset(scan, 0, sizeof *scan);
    if (tokens)
        *tokens = NULL;
    int fd;
    struct stat st;
    nl_code rc = open_text(path, is_default, &fd, &st, err);
    if (rc != NL_OK)
        return rc;
    if (memo && !tokens && memo_knows(memo, &st)) {
        close(fd);
        scan->length = memo->length;
        memcpy(scan->used, memo->used, sizeof scan->used);
        return NL_OK;
    }
    const long size = (long)st.st_size;
    unsigned char *block = malloc(TEXT_BLOCK);
    int32_t *out = tokens ? malloc((size_t)size * sizeof *out) : NULL;
    text_pass pass = {.first_control = -1};
    if (!block || (tokens && !out))
        rc = nl_fail(err, NL_ERR_NOMEM, "text: out of memory for the %ld tokens of %s", size, path);
    else if ((rc = read_blocks(fd, path, size, block, out, &pass, err)) == NL_OK)
        rc = check_pass(path, size, &pass, err);
    free(block);
    close(fd);
    if (rc != NL_OK) {
        free(out);
        return rc;
    }
    for (int c = 0; c < 256; c++)
        scan->used[c] = pass.count[c] > 0;
    scan->length = size;
    if (memo && !tokens)
        memo_keep(memo, &st, scan);
    if (tokens)
        *tokens = out;
    return NL_OK;
}

/* ---- the row: text files as token sources ---- */

/* where the build writes the KJV text (CMakeLists.txt); a library built
 * some other way has no default corpus */
#ifndef NL_KJV_PATH
#define NL_KJV_PATH ""
#endif

/* the text file a spec names, and whether it is the default corpus */
static const char *text_path(const nl_data_spec *spec, bool *is_default)
{
    const char *dflt = nl_dataset_row_text.default_path;
    const char *path = spec->path[0] ? spec->path : dflt;
    *is_default = strcmp(path, dflt) == 0;
    return path;
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

static nl_code text_check(const nl_data_spec *spec, nl_error *err)
{
    if ((int)spec->vocab < 0 || spec->vocab >= NL_VOCAB_COUNT)
        return nl_data_key_fail(err, NL_ERR_CONFIG, "data.vocabulary", "unknown vocabulary %d",
                                (int)spec->vocab);
    return NL_OK;
}

static nl_code text_read(const nl_data_spec *spec, nl_text_memo *memo, int32_t **tokens,
                         nl_token_source *src, nl_error *err)
{
    bool is_default;
    const char *path = text_path(spec, &is_default);
    snprintf(src->source, sizeof src->source, "%s", path);
    nl_text_scan scan;
    /* a memo remembers what a probe scanned; loading reads the file again */
    nl_code rc = text_read_file(path, is_default, tokens, tokens ? NULL : memo, &scan, err);
    if (rc == NL_OK && (rc = check_symbols(path, &scan, err)) != NL_OK && tokens) {
        free(*tokens);
        *tokens = NULL;
    }
    if (rc != NL_OK)
        return rc;
    src->total = scan.length;
    if (spec->vocab == NL_VOCAB_CHARS && tokens) {
        src->vocab = chars_vocabulary(&scan, *tokens, scan.length, src->symbols);
    } else if (spec->vocab == NL_VOCAB_CHARS) {
        src->vocab = count_used(&scan);
    } else {
        src->vocab = 256;
        for (int c = 0; c < 256; c++)
            src->symbols[c] = (unsigned char)c;
    }
    return NL_OK;
}

static void text_describe(const nl_data_spec *spec, const nl_token_source *src, long train,
                          long valid, char *buf, size_t size)
{
    snprintf(buf, size, "text (%.300s, %s vocabulary of %d): %ld train, %ld validation tokens",
             src->source, nl_name_of(&nl_vocab_names, (int)spec->vocab), src->vocab, train, valid);
}

const nl_dataset_info nl_dataset_row_text = {
    .id = {"text", "tokens of a plain-text file (the KJV Bible from bible-kjv by default)"},
    .yields = NL_DATA_YIELDS_TOKENS,
    .default_path = NL_KJV_PATH,
    .default_path_doc = "<build>/data/kjv.txt",
    .files = "a plain-text file",
    /* a text's characters are known only once it is read (the run sets
     * them): 256 bounds them */
    .classes = 256,
    .size_key = "data.path",
    .keys = {"data.path", "data.vocabulary", "data.valid_fraction"},
    .torch_script = true,
    .token_check = text_check,
    .token_read = text_read,
    .token_describe = text_describe,
};
