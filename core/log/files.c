#define _GNU_SOURCE /* asprintf */
#include "base/ident.h"
#include "base/grow.h"
#include "log/files.h"
#include "log/write_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

bool nl_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool nl_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void nl_path_join(char *out, size_t size, const char *dir, const char *name)
{
    size_t len = strlen(dir);
    if (snprintf(out, size, "%s%s%s", dir, (len && dir[len - 1] == '/') ? "" : "/", name) >= (int)size)
        out[0] = '\0'; /* never a shortened path, which could name another file */
}

/* a directory of a path to be made is something else: the user's (exit 2) */
nl_code log_refuse_not_dir(const char *path, nl_error *err)
{
    struct stat st;
    const char *kind = lstat(path, &st) == 0 ? nl_file_kind(st.st_mode) : "not a directory";
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
        kind = nl_file_kind(st.st_mode); /* a link: what it points at */
    return nl_fail(err, NL_ERR_USAGE, "%s is %s, not a directory; nothing was written there", path, kind);
}

bool log_list_add(str_list *l, const char *s)
{
    char **items = nl_grow(l->items, l->n, &l->cap, sizeof *items, 8);
    if (!items)
        return false;
    l->items = items;
    if (!(l->items[l->n] = strdup(s)))
        return false;
    l->n++;
    return true;
}

void log_list_free(str_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* mkdir -p, each directory made added to `made` (when not NULL), held
 * on the way (log/hold.c): no link followed below an output root */
nl_code log_make_dirs(const char *path, str_list *made, nl_error *err)
{
    int fd;
    const nl_code rc = log_dir_hold(path, LOG_HOLD_CREATE, made, &fd, err);
    if (rc == NL_OK)
        close(fd);
    return rc;
}

nl_code nl_make_dirs(const char *path, nl_error *err)
{
    return log_make_dirs(path, NULL, err);
}

/* all of `len` bytes to fd, flushed to disk, and fd closed; the temporary
 * `tmp` removed on failure */
nl_code log_write_temp(int fd, const char *tmp, const void *data, size_t len, nl_error *err)
{
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return nl_fail(err, NL_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return nl_fail(err, NL_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
    }
    return NL_OK;
}

nl_code nl_write_atomic(const char *path, const void *data, size_t len, nl_error *err)
{
    /* what it replaces is a file it wrote: a FIFO, a directory or a link
     * there is the user's, never renamed over; the temporary and the rename
     * stay in the one directory held */
    int dirfd;
    const char *base;
    nl_code rc = log_split_hold(path, LOG_HOLD_EXISTING, NULL, &dirfd, &base, err);
    if (rc == NL_OK)
        rc = log_refuse_in_place(dirfd, base, path, err);
    char *tmp = NULL;
    if (rc == NL_OK && asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        tmp = NULL;
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    const char *tmp_base = tmp ? tmp + (base - path) : NULL;
    int fd = -1;
    if (rc == NL_OK && (fd = openat(dirfd, tmp_base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666)) < 0)
        rc = nl_fail(err, NL_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == NL_OK)
        rc = log_write_temp(fd, tmp, data, len, err);
    if (rc == NL_OK && renameat(dirfd, tmp_base, dirfd, base) != 0) {
        const int e = errno;
        unlinkat(dirfd, tmp_base, 0);
        rc = nl_fail(err, NL_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    free(tmp);
    if (dirfd >= 0)
        close(dirfd);
    return rc;
}

/* link(2), or on a file system without hard links renameat2's NOREPLACE:
 * either fails with EEXIST rather than replace `path` */
int log_link_no_replace_at(int dirfd, const char *tmp, const char *name)
{
    if (linkat(dirfd, tmp, dirfd, name, 0) == 0)
        return 0;
#ifdef SYS_renameat2
    if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS) {
        const int link_errno = errno;
        if (syscall(SYS_renameat2, dirfd, tmp, dirfd, name, 1 /* RENAME_NOREPLACE */) == 0)
            return 0;
        if (errno == EINVAL || errno == ENOSYS) /* neither way: say why link refused */
            errno = link_errno;
    }
#endif
    return -1;
}

int log_link_no_replace(const char *tmp, const char *path)
{
    return log_link_no_replace_at(AT_FDCWD, tmp, path);
}

nl_code nl_write_exclusive(const char *path, const void *data, size_t len, bool *existed,
                           nl_error *err)
{
    if (existed)
        *existed = false;
    int dirfd;
    const char *base;
    /* what is at path, whatever it is (a link, a directory), is refused by
     * linkat below as existing: never written through, never replaced */
    nl_code rc = log_split_hold(path, LOG_HOLD_EXISTING, NULL, &dirfd, &base, err);
    if (rc)
        return rc;
    /* a name of its own (pid and a count: O_EXCL, not mkstemp's 0600 mode,
     * so the file gets the umask's mode as every other), so that two threads
     * or processes making the same file never share a temporary */
    static atomic_uint temp_count;
    char *tmp = NULL;
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        free(tmp);
        if (asprintf(&tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&temp_count, 1)) < 0) {
            close(dirfd);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        }
        fd = openat(dirfd, tmp + (base - path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) /* EEXIST: a dead process's of a recycled pid */
            break;
    }
    const char *tmp_base = tmp + (base - path);
    if (fd < 0)
        rc = nl_fail(err, NL_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    else
        rc = log_write_temp(fd, tmp, data, len, err);
    if (rc) {
        free(tmp);
        close(dirfd);
        return rc;
    }
    const int linked = log_link_no_replace_at(dirfd, tmp_base, base);
    const int e = errno;
    unlinkat(dirfd, tmp_base, 0); /* linked: the name `path` keeps the data; renamed: gone already */
    free(tmp);
    close(dirfd);
    if (linked == 0)
        return NL_OK;
    if (e == EEXIST) {
        if (existed)
            *existed = true;
        return nl_fail(err, NL_ERR_USAGE, "%s exists: normlab never replaces it; nothing was "
                       "written", path);
    }
    return nl_fail(err, NL_ERR_IO, "cannot create %s: %s", path, strerror(e));
}

nl_code nl_read_file(const char *path, char **out, size_t *len, nl_error *err)
{
    return nl_read_file_max(path, NL_READ_FILE_MAX, out, len, err);
}

const char *nl_file_kind(mode_t mode)
{
    return S_ISREG(mode) ? "a regular file" : S_ISDIR(mode) ? "a directory"
         : S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket"
         : S_ISCHR(mode) || S_ISBLK(mode) ? "a device" : S_ISLNK(mode) ? "a symbolic link"
         : "not a regular file";
}

static nl_code refuse_kind(nl_error *err, const char *path, mode_t mode)
{
    return nl_fail(err, NL_ERR_DATA, "%s is %s, not a regular file: normlab reads only regular "
                   "files", path, nl_file_kind(mode));
}

nl_code nl_check_regular(const char *path, bool absent_ok, nl_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        const int e = errno;
        if (absent_ok && e == ENOENT)
            return NL_OK;
        return nl_fail(err, NL_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    return S_ISREG(st.st_mode) ? NL_OK : refuse_kind(err, path, st.st_mode);
}

/* open(path, flags | O_NONBLOCK | O_CLOEXEC), then the check on the descriptor */
static nl_code open_checked(const char *path, int flags, bool absent_ok, int *fd, nl_error *err)
{
    *fd = -1;
    const int opened = open(path, flags | O_NONBLOCK | O_CLOEXEC, 0666); /* lint: the reader helper */
    struct stat st;
    if (opened < 0) {
        const int e = errno;
        if (absent_ok && e == ENOENT)
            return NL_OK;
        /* a socket cannot be opened at all, a FIFO not for writing without
         * blocking while it has no reader, a directory not for writing:
         * say what it is all the same */
        if ((e == ENXIO || e == EISDIR) && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            return refuse_kind(err, path, st.st_mode);
        nl_fail(err, NL_ERR_IO, "cannot %s %s: %s",
                (flags & O_ACCMODE) == O_RDONLY ? "read" : "open", path, strerror(e));
        errno = e; /* for callers that tell a missing path (bad input) from the OS failing */
        return NL_ERR_IO;
    }
    if (fstat(opened, &st) != 0) {
        const int e = errno;
        close(opened);
        return nl_fail(err, NL_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(opened);
        return refuse_kind(err, path, st.st_mode);
    }
    const int fl = fcntl(opened, F_GETFL);
    if (fl < 0 || fcntl(opened, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        const int e = errno;
        close(opened);
        return nl_fail(err, NL_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    *fd = opened;
    return NL_OK;
}

nl_code nl_open_regular(const char *path, bool absent_ok, int *fd, nl_error *err)
{
    return open_checked(path, O_RDONLY, absent_ok, fd, err);
}

int nl_try_write_lock(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    int r;
    while ((r = fcntl(fd, F_SETLK, &fl)) != 0 && errno == EINTR)
        ;
    return r == 0 ? 0 : errno == EACCES || errno == EAGAIN ? 1 : -1;
}

nl_code nl_open_regular_rw(const char *path, int *fd, nl_error *err)
{
    return nl_open_write(path, O_RDWR | O_CREAT, fd, err);
}

nl_code nl_fopen_regular(const char *path, bool absent_ok, FILE **f, nl_error *err)
{
    *f = NULL;
    int fd;
    const nl_code rc = nl_open_regular(path, absent_ok, &fd, err);
    if (rc || fd < 0)
        return rc;
    if (!(*f = fdopen(fd, "rb"))) {
        const int e = errno;
        close(fd);
        return nl_fail(err, NL_ERR_NOMEM, "cannot read %s: %s", path, strerror(e));
    }
    return NL_OK;
}

/* the one list of paths read without nl_open_regular: the kernel's */
static const char *const system_paths[] = {"/proc/", "/sys/", "/dev/null"};

static bool is_system_path(const char *path)
{
    for (size_t i = 0; i < sizeof system_paths / sizeof *system_paths; i++) {
        const size_t n = strlen(system_paths[i]);
        if (system_paths[i][n - 1] == '/' ? !strncmp(path, system_paths[i], n)
                                          : !strcmp(path, system_paths[i]))
            return true;
    }
    return false;
}

int nl_open_system(const char *path, int flags)
{
    if (!is_system_path(path)) {
        errno = EPERM;
        return -1;
    }
    return open(path, flags | O_CLOEXEC); /* lint: the reader helper */
}

FILE *nl_fopen_system(const char *path)
{
    const int fd = nl_open_system(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "r");
    if (!f)
        close(fd);
    return f;
}

nl_code nl_read_file_max(const char *path, size_t max_bytes, char **out, size_t *len, nl_error *err)
{
    int fd;
    nl_code rc = nl_open_regular(path, false, &fd, err);
    if (rc)
        return rc;
    nl_buf b = {0};
    char chunk[65536];
    for (;;) {
        const ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            const int e = errno;
            close(fd);
            free(b.data);
            return nl_fail(err, NL_ERR_IO, "error reading %s: %s", path, strerror(e));
        }
        if (got == 0)
            break;
        /* a file given by mistake (a dataset named as a config) */
        if (b.len + (size_t)got > max_bytes) {
            close(fd);
            free(b.data);
            return nl_fail(err, NL_ERR_CONFIG, "%s: larger than %zu MiB; is it the file you meant?", path,
                           max_bytes >> 20);
        }
        if (b.len + (size_t)got + 1 > b.cap) {
            size_t cap = (b.len + (size_t)got + 1) * 2;
            char *p = realloc(b.data, cap);
            if (!p) {
                close(fd);
                free(b.data);
                return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", path);
            }
            b.data = p;
            b.cap = cap;
        }
        memcpy(b.data + b.len, chunk, (size_t)got);
        b.len += (size_t)got;
    }
    close(fd);
    if (!b.data && !(b.data = calloc(1, 1)))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", path);
    b.data[b.len] = '\0';
    *out = b.data;
    if (len)
        *len = b.len;
    return NL_OK;
}

void nl_buf_printf(nl_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->data && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
}

void nl_buf_free(nl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- JSON ---- */

void nl_buf_json_string(nl_buf *b, const char *s)
{
    nl_buf_printf(b, "\"");
    while (*s) {
        const unsigned char c = (unsigned char)*s;
        const int n = nl_utf8_len(s);
        if (c == '"' || c == '\\')
            nl_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            nl_buf_printf(b, "\\n");
        else if (c == '\t')
            nl_buf_printf(b, "\\t");
        else if (c == '\r')
            nl_buf_printf(b, "\\r");
        else if (c < 0x20)
            nl_buf_printf(b, "\\u%04x", c);
        else if (n == 0) /* JSON is UTF-8: a stray byte becomes U+FFFD */
            nl_buf_printf(b, "\\ufffd");
        else
            nl_buf_printf(b, "%.*s", n, s);
        s += n ? n : 1;
    }
    nl_buf_printf(b, "\"");
}

static void json_key(nl_json *j, const char *key)
{
    nl_buf_printf(&j->buf, "%s\n%*s", j->first[j->depth] ? "" : ",", 2 * j->depth, "");
    j->first[j->depth] = false;
    nl_buf_json_string(&j->buf, key);
    nl_buf_printf(&j->buf, ": ");
}

void nl_json_begin(nl_json *j)
{
    memset(j, 0, sizeof *j);
    nl_buf_printf(&j->buf, "{");
    j->depth = 1;
    j->first[1] = true;
}

void nl_json_end(nl_json *j)
{
    j->depth--;
    nl_buf_printf(&j->buf, "\n%*s}%s", 2 * j->depth, "", j->depth == 0 ? "\n" : "");
}

void nl_json_key_object(nl_json *j, const char *key)
{
    json_key(j, key);
    nl_buf_printf(&j->buf, "{");
    j->depth++;
    j->first[j->depth] = true;
}

void nl_json_string(nl_json *j, const char *key, const char *value)
{
    json_key(j, key);
    nl_buf_json_string(&j->buf, value ? value : "");
}

void nl_json_number(nl_json *j, const char *key, double value)
{
    json_key(j, key);
    if (isfinite(value))
        nl_buf_printf(&j->buf, "%.9g", value);
    else
        nl_buf_printf(&j->buf, "null");
}

void nl_json_int(nl_json *j, const char *key, long long value)
{
    json_key(j, key);
    nl_buf_printf(&j->buf, "%lld", value);
}

void nl_json_bool(nl_json *j, const char *key, bool value)
{
    json_key(j, key);
    nl_buf_printf(&j->buf, value ? "true" : "false");
}

void nl_json_null(nl_json *j, const char *key)
{
    json_key(j, key);
    nl_buf_printf(&j->buf, "null");
}

/* ---- CSV ---- */

/* appends s to the row being built; false when the row buffer is full */
static bool row_put(nl_csv *csv, const char *s, size_t n)
{
    if (csv->row_len + n > sizeof csv->row)
        return false;
    memcpy(csv->row + csv->row_len, s, n);
    csv->row_len += n;
    return true;
}

/* the characters that start a formula in a spreadsheet, and the guard's own */
#define CSV_FORMULA_START "=+-@\t\r"
#define CSV_GUARDED "=+-@\t\r'"

/* a number a spreadsheet reads as one ("-0.053", "+1e-05", "-inf") */
static bool csv_number(const char *s)
{
    char *end;
    (void)strtod(s, &end);
    return end != s && *end == '\0';
}

static bool csv_needs_guard(const char *s)
{
    if (s[0] && strchr(CSV_FORMULA_START, s[0]))
        return !csv_number(s);
    return s[0] == '\'' && s[1] && strchr(CSV_GUARDED, s[1]);
}

void nl_csv_unguard(char *field)
{
    if (field[0] == '\'' && field[1] && strchr(CSV_GUARDED, field[1]))
        memmove(field, field + 1, strlen(field));
}

size_t nl_csv_field_text(const char *s, char *out, size_t size)
{
    size_t n = 0;
#define PUT(c) (n + 1 < size ? (void)(out[n] = (c)) : (void)0, n++)
    const bool quoted = strpbrk(s, ",\"\n\r") != NULL;
    if (quoted)
        PUT('"');
    if (csv_needs_guard(s))
        PUT('\'');
    while (*s) {
        const int len = nl_utf8_len(s);
        if (!len) { /* a CSV is text: a byte that is not UTF-8 is written as U+FFFD */
            PUT('\xef');
            PUT('\xbf');
            PUT('\xbd');
            s++;
            continue;
        }
        for (int i = 0; i < len; i++, s++) {
            if (*s == '"')
                PUT('"');
            PUT(*s);
        }
    }
    if (quoted)
        PUT('"');
#undef PUT
    if (size)
        out[n < size ? n : size - 1] = '\0';
    return n;
}

void nl_buf_csv_field(nl_buf *b, const char *s)
{
    char small[256];
    const size_t n = nl_csv_field_text(s, small, sizeof small);
    if (n < sizeof small) {
        nl_buf_printf(b, "%s", small);
        return;
    }
    char *big = malloc(n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    nl_csv_field_text(s, big, n + 1);
    nl_buf_printf(b, "%s", big);
    free(big);
}

static bool csv_field(nl_csv *csv, const char *s)
{
    const size_t room = sizeof csv->row - csv->row_len;
    const size_t n = nl_csv_field_text(s, csv->row + csv->row_len, room);
    if (n >= room)
        return false;
    csv->row_len += n;
    return true;
}

/* the row of `fields` into csv->row, newline-terminated */
static nl_code build_row(nl_csv *csv, const char *const *fields, nl_error *err)
{
    csv->row_len = 0;
    bool ok = true;
    for (int i = 0; i < csv->columns && ok; i++)
        ok = (i == 0 || row_put(csv, ",", 1)) && csv_field(csv, fields[i]);
    if (!ok || !row_put(csv, "\n", 1))
        return nl_fail(err, NL_ERR_RUNTIME, "%s: a row longer than %zu bytes", csv->path,
                       sizeof csv->row);
    return NL_OK;
}

/* One write(2) of a whole row on an O_APPEND descriptor: a kill leaves the
 * row entirely or not at all (a kernel may still cut a write at a page
 * boundary on a fatal signal, hence readers skip one unterminated last line).
 * A write that fails part-way (disk full) is cut back to the last whole row. */
static nl_code write_built_row(nl_csv *csv, nl_error *err)
{
    size_t done = 0;
    while (done < csv->row_len) {
        const ssize_t w = write(csv->fd, csv->row + done, csv->row_len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            const int e = w < 0 ? errno : ENOSPC;
            if (done > 0 && ftruncate(csv->fd, csv->size) != 0)
                return nl_fail(err, NL_ERR_IO, "cannot write %s: %s (and cannot cut its torn last row: %s)",
                               csv->path, strerror(e), strerror(errno));
            return nl_fail(err, NL_ERR_IO, "cannot write %s: %s", csv->path, strerror(e));
        }
        done += (size_t)w;
    }
    csv->size += (off_t)done;
    return NL_OK;
}

static nl_code write_row(nl_csv *csv, const char *const *fields, nl_error *err)
{
    nl_code rc = build_row(csv, fields, err);
    return rc ? rc : write_built_row(csv, err);
}

nl_code nl_csv_open(nl_csv *csv, const char *path, const char *const *columns, int n, nl_error *err)
{
    memset(csv, 0, sizeof *csv);
    csv->fd = -1;
    snprintf(csv->path, sizeof csv->path, "%s", path);
    /* a FIFO in the file's place is refused, not waited on; a link is not followed */
    const nl_code rc = nl_open_write(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, &csv->fd, err);
    if (rc)
        return rc;
    csv->open = true;
    csv->columns = n;
    return write_row(csv, columns, err);
}

nl_code nl_csv_continue(nl_csv *csv, const char *path, int n, off_t bytes, nl_error *err)
{
    memset(csv, 0, sizeof *csv);
    csv->fd = -1;
    snprintf(csv->path, sizeof csv->path, "%s", path);
    int fd;
    nl_error open_err = {0};
    const nl_code open_rc = nl_open_write(path, O_WRONLY | O_APPEND, &fd, &open_err);
    if (open_rc)
        return nl_fail(err, open_rc == NL_ERR_IO && errno == ENOENT ? NL_ERR_DATA : open_rc,
                       "cannot continue: %s", open_err.msg);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        close(fd);
        return nl_fail(err, NL_ERR_IO, "cannot continue %s: %s", path, strerror(e));
    }
    if (st.st_size < bytes) {
        close(fd);
        return nl_fail(err, NL_ERR_DATA, "%s has %lld bytes, fewer than the %lld it had at the "
                       "checkpoint: it was cut; remove the checkpoint or run with --force to start "
                       "over", path, (long long)st.st_size, (long long)bytes);
    }
    if (ftruncate(fd, bytes) != 0) {
        const int e = errno;
        close(fd);
        return nl_fail(err, NL_ERR_IO, "cannot cut %s back to the checkpoint: %s", path,
                       strerror(e));
    }
    csv->fd = fd;
    csv->open = true;
    csv->columns = n;
    csv->size = bytes;
    return NL_OK;
}

/* The file's writers take turns through an fcntl write lock on it, held
 * for one row: O_APPEND alone makes a row one piece on a local disk but not
 * on NFS, and the lock is also what lets a writer cut back a row it tore
 * (disk full) without cutting another's. The lock waits (F_SETLKW): every
 * holder holds it for one write(2). */
nl_code nl_csv_append_shared(const char *path, const char *const *columns, int n,
                             const char *const *fields, nl_error *err)
{
    nl_csv csv;
    memset(&csv, 0, sizeof csv);
    csv.fd = -1;
    csv.columns = n;
    snprintf(csv.path, sizeof csv.path, "%s", path);
    /* whoever comes first creates the file with its header in one piece:
     * no writer ever sees it without one, and nothing is replaced */
    nl_code rc = build_row(&csv, columns, err);
    bool existed = false;
    nl_error exists_err = {0};
    if (rc == NL_OK && nl_write_exclusive(path, csv.row, csv.row_len, &existed, &exists_err) != NL_OK &&
        !existed) {
        *err = exists_err;
        rc = exists_err.code;
    }
    if (rc)
        return rc;
    /* a FIFO in its place is refused, not waited on; a link is not followed */
    rc = nl_open_write(path, O_WRONLY | O_APPEND, &csv.fd, err);
    if (rc)
        return rc;
    csv.open = true;
    struct stat st;
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int r;
    while ((r = fcntl(csv.fd, F_SETLKW, &lock)) != 0 && errno == EINTR)
        ;
    if (r != 0 || fstat(csv.fd, &st) != 0) {
        const int e = errno;
        nl_csv_close(&csv, &(nl_error){0});
        return nl_fail(err, NL_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    /* under the lock the file ends at a whole row: a torn row of ours is
     * cut back to here, which holds no other writer's bytes */
    csv.size = st.st_size;
    if (st.st_size == 0) /* emptied by hand: the header again */
        rc = write_built_row(&csv, err);
    if (rc == NL_OK)
        rc = write_row(&csv, fields, err);
    nl_error close_err = {0};
    if (nl_csv_close(&csv, &close_err) != NL_OK && rc == NL_OK) {
        *err = close_err;
        rc = close_err.code;
    }
    return rc;
}

nl_code nl_csv_row(nl_csv *csv, const char *const *fields, nl_error *err)
{
    return write_row(csv, fields, err);
}

nl_code nl_csv_close(nl_csv *csv, nl_error *err)
{
    if (!csv->open)
        return NL_OK;
    int bad = fsync(csv->fd) != 0 && errno != EINVAL;
    bad |= close(csv->fd) != 0;
    csv->open = false;
    csv->fd = -1;
    if (bad)
        return nl_fail(err, NL_ERR_IO, "cannot write %s: %s", csv->path, strerror(errno));
    return NL_OK;
}

const char *nl_fmt_float(char *buf, size_t size, double value)
{
    if (isnan(value))
        snprintf(buf, size, "nan");
    else if (isinf(value))
        snprintf(buf, size, value > 0 ? "inf" : "-inf");
    else
        snprintf(buf, size, "%.9g", value);
    return buf;
}

bool nl_json_flat_get(const char *json, const char *key, char *value, size_t size)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(json, pattern);
    if (!p)
        return false;
    p += strlen(pattern);
    while (*p == ' ')
        p++;
    size_t k = 0;
    if (*p == '"') {
        for (p++; *p && *p != '"' && k + 1 < size; p++) {
            if (*p == '\\' && p[1])
                p++;
            value[k++] = *p;
        }
    } else {
        while (*p && *p != ',' && *p != '\n' && *p != '}' && k + 1 < size)
            value[k++] = *p++;
    }
    value[k] = '\0';
    return true;
}
