/* Writing without following links (log/files.h, "held directories").
 *
 * A symbolic link inside a tree normlab writes (a committed `.lock`, a
 * run's `plots/`, a claims file's name) would send a write outside it: into
 * a file of the user's, through a clone of someone else's repository. So
 * every directory normlab writes into is reached one component at a time
 * with openat(O_DIRECTORY | O_NOFOLLOW) from a directory already held, and
 * every file is opened relative to its held directory with O_NOFOLLOW. The
 * only links followed are those on the way to what the user named on the
 * command line (--out, a run's directory): the path to it is the user's to
 * choose; what it names, and everything below, is normlab's. Nothing here keeps a path in a fixed buffer, so nothing
 * is ever written under a shortened path. */
#include "log/files.h"
#include "log/write_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* set by cmd/ from its command line before any thread starts, read after */
#define MAX_ROOTS 16
static char *roots[MAX_ROOTS];
static int n_roots;

static size_t trimmed_len(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    return n;
}

nl_code nl_write_root_add(const char *out, nl_error *err)
{
    size_t n = trimmed_len(out);
    if (n >= NL_OUT_PATH_MAX)
        return nl_fail(err, NL_ERR_USAGE, "%.80s...: a path of %zu bytes; normlab takes output "
                       "paths of at most %d bytes, so that the paths it makes under them fit; "
                       "nothing was written", out, n, NL_OUT_PATH_MAX - 1);
    /* the directory out is in: out itself is normlab's, made or held as
     * every directory below it */
    while (n > 0 && out[n - 1] != '/')
        n--;
    while (n > 1 && out[n - 1] == '/')
        n--;
    if (n == 0)
        return NL_OK; /* in the current directory: where every walk starts */
    for (int i = 0; i < n_roots; i++)
        if (strlen(roots[i]) == n && !strncmp(roots[i], out, n))
            return NL_OK;
    if (n_roots == MAX_ROOTS)
        return NL_OK; /* more than any command names: the rest are held strictly */
    char *copy = strndup(out, n);
    if (!copy)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    roots[n_roots++] = copy;
    return NL_OK;
}

void nl_write_roots_reset(void)
{
    for (int i = 0; i < n_roots; i++)
        free(roots[i]);
    n_roots = 0;
}

/* the length of `path` (len bytes of it) that is the user's: the longest
 * root it is or lies under, or all of it when it is an ancestor of a root
 * (the directory a sibling of --out is made in); 0 none */
static size_t root_of(const char *path, size_t len)
{
    size_t best = 0;
    for (int i = 0; i < n_roots; i++) {
        const size_t n = strlen(roots[i]);
        if (n > len && !strncmp(path, roots[i], len) && (roots[i][len] == '/' || path[len - 1] == '/'))
            return len;
        if (n > best && n <= len && !strncmp(path, roots[i], n) &&
            (n == len || path[n] == '/' || roots[i][n - 1] == '/'))
            best = n;
    }
    return best;
}

static nl_code refuse_link(const char *path, size_t len, nl_error *err)
{
    return nl_fail(err, NL_ERR_USAGE, "%.*s is a symbolic link where normlab writes; it follows no "
                   "link inside what it writes (only in a directory named on the command line): "
                   "nothing was written; remove the link, or name its target with --out",
                   (int)len, path);
}

/* `path` up to len, opened as a directory following links (an output root),
 * made with its parents when missing and `create` */
static nl_code open_root(const char *path, size_t len, log_hold mode, str_list *made, int *fd,
                         nl_error *err)
{
    char *dir = strndup(path, len);
    if (!dir)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = NL_OK;
    *fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (*fd < 0 && errno == ENOENT && mode == LOG_HOLD_CHECK) {
        free(dir);
        return NL_OK;
    }
    if (*fd < 0 && errno == ENOENT && mode == LOG_HOLD_CREATE) {
        for (char *p = dir + 1; rc == NL_OK; p++) {
            if (*p != '/' && *p != '\0')
                continue;
            const char c = *p;
            *p = '\0';
            if (mkdir(dir, 0777) == 0) { /* lint: the writer helper (an output root, the user's path) */
                if (made && !log_list_add(made, dir))
                    rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
            } else if (errno != EEXIST && errno != ENOTDIR) { /* a file in the way: refused below */
                rc = nl_fail(err, errno == ENAMETOOLONG ? NL_ERR_USAGE : NL_ERR_IO,
                             "cannot create directory %s: %s", dir, strerror(errno));
            }
            *p = c;
            if (!c)
                break;
        }
        if (rc == NL_OK)
            *fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    }
    if (rc == NL_OK && *fd < 0) {
        const int e = errno;
        struct stat st;
        if ((e == ENOTDIR || e == EEXIST) || (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))) {
            /* name what is in the way: the first of the path's parts that
             * is there and is no directory */
            for (char *p = dir + 1; *p; p++) {
                if (*p != '/')
                    continue;
                *p = '\0';
                const bool blocks = stat(dir, &st) == 0 && !S_ISDIR(st.st_mode);
                if (blocks)
                    break;
                *p = '/';
            }
            rc = log_refuse_not_dir(dir, err);
        }
        else
            rc = nl_fail(err, e == ENAMETOOLONG ? NL_ERR_USAGE : NL_ERR_IO, "cannot open directory "
                         "%s: %s", dir, strerror(e));
    }
    free(dir);
    return rc;
}

/* the component of `path` at [start, end) under the held directory `at`:
 * opened as a directory without following a link, made first when missing
 * and `create`; `at` is closed */
static nl_code step_into(int at, const char *path, size_t start, size_t end, log_hold mode,
                         str_list *made, int *fd, nl_error *err)
{
    char name[NAME_MAX + 1];
    const size_t n = end - start;
    if (n > NAME_MAX) {
        close(at);
        return nl_fail(err, NL_ERR_USAGE, "%.*s: a name of %zu bytes, longer than the file "
                       "system's %d; nothing was written", (int)end, path, n, NAME_MAX);
    }
    memcpy(name, path + start, n);
    name[n] = '\0';
    if (!strcmp(name, "..")) {
        close(at);
        return nl_fail(err, NL_ERR_USAGE, "%s: '..' inside a path normlab writes would leave "
                       "its directory; nothing was written", path);
    }
    int next = openat(at, name, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && mode == LOG_HOLD_CHECK) {
        close(at);
        *fd = -1; /* missing: nothing below it can be a link */
        return NL_OK;
    }
    if (next < 0 && errno == ENOENT && mode == LOG_HOLD_CREATE) {
        if (mkdirat(at, name, 0777) == 0) {
            if (made) {
                char *done = strndup(path, end);
                const bool added = done && log_list_add(made, done);
                free(done);
                if (!added) {
                    close(at);
                    return nl_fail(err, NL_ERR_NOMEM, "out of memory");
                }
            }
        } else if (errno != EEXIST) {
            const int e = errno;
            close(at);
            return nl_fail(err, NL_ERR_IO, "cannot create directory %.*s: %s", (int)end, path,
                           strerror(e));
        }
        next = openat(at, name, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
    }
    const int e = errno;
    struct stat st;
    const bool is_link = next < 0 && fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                         S_ISLNK(st.st_mode);
    close(at);
    if (next >= 0) {
        *fd = next;
        return NL_OK;
    }
    if (is_link)
        return refuse_link(path, end, err);
    if (e == ENOTDIR) {
        char *dir = strndup(path, end);
        const nl_code rc = dir ? log_refuse_not_dir(dir, err) : nl_fail(err, NL_ERR_NOMEM, "out of memory");
        free(dir);
        return rc;
    }
    return nl_fail(err, NL_ERR_IO, "cannot open directory %.*s: %s", (int)end, path, strerror(e));
}

nl_code log_dir_hold(const char *dir, log_hold mode, str_list *made, int *fd, nl_error *err)
{
    *fd = -1;
    if (!dir[0])
        return nl_fail(err, NL_ERR_USAGE, "an empty path where normlab writes (a path too long to "
                       "compose comes out empty, never shortened); nothing was written");
    const size_t len = trimmed_len(dir);
    const size_t root = root_of(dir, len);
    int at;
    size_t i;
    nl_code rc;
    if (root) {
        if ((rc = open_root(dir, root, mode, made, &at, err)))
            return rc;
        i = root;
    } else {
        at = open(dir[0] == '/' ? "/" : ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (at < 0)
            return nl_fail(err, NL_ERR_IO, "cannot open the directory of %s: %s", dir, strerror(errno));
        i = 0;
    }
    while (i < len && at >= 0) {
        while (i < len && dir[i] == '/')
            i++;
        size_t end = i;
        while (end < len && dir[end] != '/')
            end++;
        if (end == i)
            break;
        if (end - i == 1 && dir[i] == '.') {
            i = end;
            continue;
        }
        if ((rc = step_into(at, dir, i, end, mode, made, &at, err)))
            return rc;
        i = end;
    }
    *fd = at;
    return NL_OK;
}

nl_code nl_dir_hold(const char *dir, bool create, int *fd, nl_error *err)
{
    return log_dir_hold(dir, create ? LOG_HOLD_CREATE : LOG_HOLD_EXISTING, NULL, fd, err);
}

nl_code log_split_hold(const char *path, log_hold mode, str_list *made, int *dirfd, const char **base,
                       nl_error *err)
{
    *dirfd = -1;
    *base = path;
    if (!path[0])
        return log_dir_hold("", mode, made, dirfd, err); /* refused, saying why */
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!**base)
        return nl_fail(err, NL_ERR_USAGE, "%s names a directory where normlab writes a file; "
                       "nothing was written", path);
    if (!strcmp(*base, "..") || !strcmp(*base, "."))
        return nl_fail(err, NL_ERR_USAGE, "%s: '%s' where normlab writes a file; nothing was "
                       "written", path, *base);
    if (strlen(*base) > NAME_MAX)
        return nl_fail(err, NL_ERR_USAGE, "%s: a name of %zu bytes, longer than the file system's "
                       "%d; nothing was written", path, strlen(*base), NAME_MAX);
    if (!slash)
        return log_dir_hold(".", mode, made, dirfd, err);
    if (slash == path)
        return log_dir_hold("/", mode, made, dirfd, err);
    char *dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    const nl_code rc = log_dir_hold(dir, mode, made, dirfd, err);
    free(dir);
    return rc;
}

nl_code log_refuse_in_place(int dirfd, const char *name, const char *path, nl_error *err)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISREG(st.st_mode))
        return NL_OK;
    if (S_ISLNK(st.st_mode))
        return refuse_link(path, strlen(path), err);
    return nl_fail(err, NL_ERR_USAGE, "%s is %s, not a regular file: normlab writes a file there and "
                   "replaces nothing else; nothing was written", path, nl_file_kind(st.st_mode));
}

nl_code nl_open_write(const char *path, int flags, int *fd, nl_error *err)
{
    *fd = -1;
    int dirfd;
    const char *base;
    nl_code rc = log_split_hold(path, LOG_HOLD_EXISTING, NULL, &dirfd, &base, err);
    if (rc)
        return rc;
    /* O_NONBLOCK: a FIFO in the file's place is refused below, not waited on */
    const int opened = openat(dirfd, base, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666); /* lint: the reader helper (flags that write) */
    const int e = errno;
    if (opened < 0) {
        rc = log_refuse_in_place(dirfd, base, path, err);
        close(dirfd);
        if (!rc)
            rc = nl_fail(err, e == ENAMETOOLONG ? NL_ERR_USAGE : NL_ERR_IO, "cannot write %s: %s",
                         path, strerror(e));
        errno = e; /* for callers that take EEXIST or ENOENT as an answer */
        return rc;
    }
    close(dirfd);
    struct stat st = {0};
    const int fl = fcntl(opened, F_GETFL);
    if (fstat(opened, &st) != 0 || !S_ISREG(st.st_mode) || fl < 0 ||
        fcntl(opened, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        const bool regular = S_ISREG(st.st_mode);
        close(opened);
        return regular ? nl_fail(err, NL_ERR_IO, "cannot write %s: %s", path, strerror(errno))
                       : nl_fail(err, NL_ERR_USAGE, "%s is %s, not a regular file: normlab writes "
                                 "a file there and replaces nothing else; nothing was written", path,
                                 nl_file_kind(st.st_mode));
    }
    *fd = opened;
    return NL_OK;
}

/* the entries of the held directory `at` (closed here), and below, as far
 * as `depth` more levels: the first symbolic link refused */
static nl_code refuse_links_below(int at, const char *path, int depth, nl_error *err)
{
    DIR *d = fdopendir(at);
    if (!d) {
        close(at);
        return NL_OK; /* unreadable: what writes into it fails with the reason */
    }
    nl_code rc = NL_OK;
    for (struct dirent *e; rc == NL_OK && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        unsigned char type = e->d_type;
        struct stat st;
        if (type == DT_UNKNOWN && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            type = S_ISLNK(st.st_mode) ? DT_LNK : S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
        if (type != DT_LNK && (type != DT_DIR || depth == 0))
            continue;
        const size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *sub = malloc(n);
        if (!sub) {
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(sub, n, "%s/%s", path, e->d_name);
        if (type == DT_LNK) {
            rc = refuse_link(sub, strlen(sub), err);
        } else {
            const int fd = openat(dirfd(d), e->d_name, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
            if (fd >= 0)
                rc = refuse_links_below(fd, sub, depth - 1, err);
        }
        free(sub);
    }
    closedir(d);
    return rc;
}

nl_code nl_tree_refuse_links(const char *dir, nl_error *err)
{
    int at;
    const nl_code rc = log_dir_hold(dir, LOG_HOLD_CHECK, NULL, &at, err);
    /* deep enough for every tree normlab writes (sweep/runs/RUN/eval/...) */
    return rc || at < 0 ? rc : refuse_links_below(at, dir, 8, err);
}

nl_code nl_rename_into(const char *from, const char *to, nl_error *err)
{
    int dirfd;
    const char *base;
    nl_code rc = log_split_hold(to, LOG_HOLD_EXISTING, NULL, &dirfd, &base, err);
    if (rc == NL_OK)
        rc = log_refuse_in_place(dirfd, base, to, err);
    if (rc == NL_OK && renameat(AT_FDCWD, from, dirfd, base) != 0)
        rc = nl_fail(err, NL_ERR_IO, "cannot rename %s to %s: %s", from, to, strerror(errno));
    if (dirfd >= 0)
        close(dirfd);
    return rc;
}
