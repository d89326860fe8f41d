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

nl_code nl_text_read(const char *path, bool is_default, int32_t **tokens, nl_text_memo *memo,
                     nl_text_scan *scan, nl_error *err)
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
    if (!block || (tokens && !out)) {
        rc = nl_fail(err, NL_ERR_NOMEM, "text: out of memory for the %ld tokens of %s", size, path);
        goto done;
    }
    /* each byte value counted without a branch per byte; a block that adds
     * a NUL or the file's first control character is searched again for
     * where, which the messages give */
    long count[256] = {0};
    long control = 0, first_control = -1, at = 0;
    for (;;) {
        ssize_t got = read(fd, block, TEXT_BLOCK);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = nl_data_key_fail(err, NL_ERR_IO, "data.path", "text: cannot read %s: %s", path,
                                  strerror(errno));
            goto done;
        }
        if (got == 0)
            break;
        if (at + got > size) {
            rc = nl_data_key_fail(err, NL_ERR_IO, "data.path",
                                  "text: %s grew while it was read (%ld bytes when opened); read "
                                  "it when nothing writes it",
                                  path, size);
            goto done;
        }
        for (ssize_t i = 0; i < got; i++)
            count[block[i]]++;
        if (out)
            for (ssize_t i = 0; i < got; i++)
                out[at + i] = block[i];
        if (count[0]) {
            const unsigned char *nul = memchr(block, 0, (size_t)got);
            rc = nl_data_key_fail(err, NL_ERR_DATA, "data.path",
                                  "text: %s is binary, not text: byte %ld is NUL; set "
                                  "data.path to a plain-text file",
                                  path, at + (long)(nul - block));
            goto done;
        }
        if (first_control < 0 && control_count(count) > 0) {
            ssize_t i = 0;
            while (!is_control(block[i]))
                i++;
            first_control = at + (long)i;
        }
        at += (long)got;
    }
    control = control_count(count);
    for (int c = 0; c < 256; c++)
        scan->used[c] = count[c] > 0;
    if (at != size) {
        rc = nl_data_key_fail(err, NL_ERR_IO, "data.path",
                              "text: %s shrank while it was read (%ld of the %ld bytes it had when "
                              "opened); read it when nothing writes it",
                              path, at, size);
        goto done;
    }
    if (control * 1000 > (long)TEXT_MAX_CONTROL_PER_MILLE * size) {
        rc = nl_data_key_fail(
            err, NL_ERR_DATA, "data.path",
            "text: %s does not look like text: %ld of its %ld bytes are control characters (the "
            "first at byte %ld; text has at most %d per 1000); set data.path to a plain-text file",
            path, control, size, first_control, TEXT_MAX_CONTROL_PER_MILLE);
        goto done;
    }
    scan->length = size;
    if (memo && !tokens)
        memo_keep(memo, &st, scan);
done:
    free(block);
    close(fd);
    if (rc != NL_OK) {
        free(out);
        memset(scan, 0, sizeof *scan);
        return rc;
    }
    if (tokens)
        *tokens = out;
    return NL_OK;
}
