/* Output sets (log/files.h, nl_outset): a command's files staged beside
 * their destinations and placed all or none. */
#include "base/grow.h"
#include "log/files.h"
#include "log/write_internal.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *path, *temp;
    char *backup; /* at commit: a second name of the file replaced; NULL none */
    bool replaces; /* a file was there at commit */
    bool placed;
} outset_file;

struct nl_outset {
    bool force, committed;
    char hint[256];
    outset_file *files;
    int n_files, cap_files;
    str_list dirs;  /* made by the set, in the order made */
    str_list owned; /* files the caller made in place */
    str_list work;  /* private work directories */
};

nl_outset *nl_outset_begin(bool force, const char *exists_hint)
{
    nl_outset *set = calloc(1, sizeof *set);
    if (set) {
        set->force = force;
        nl_copy_string(set->hint, sizeof set->hint, exists_hint ? exists_hint : "give --force to replace it");
    }
    return set;
}

nl_code nl_output_check(const char *path, bool force, const char *exists_hint, nl_error *err)
{
    /* the directories on the way held as a write would hold them (a link
     * or a file where one is wanted refused), without making any */
    int dirfd;
    const char *base;
    nl_code rc = log_split_hold(path, LOG_HOLD_CHECK, NULL, &dirfd, &base, err);
    if (rc || dirfd < 0)
        return rc;
    struct stat st;
    const int there = fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW);
    const int e = errno;
    close(dirfd);
    if (there != 0)
        return e == ENOENT ? NL_OK : nl_fail(err, NL_ERR_IO, "cannot write %s: %s", path, strerror(e));
    if (!S_ISREG(st.st_mode))
        return nl_fail(err, NL_ERR_USAGE, "%s is %s, not a regular file: normlab writes a file there "
                       "and replaces nothing else; nothing was written", path, nl_file_kind(st.st_mode));
    if (!force)
        return nl_fail(err, NL_ERR_USAGE, "%s exists; %s", path,
                       exists_hint ? exists_hint : "give --force to replace it");
    return NL_OK;
}

nl_code nl_outset_make_dirs(nl_outset *set, const char *dir, nl_error *err)
{
    return log_make_dirs(dir, &set->dirs, err);
}

/* path's directory made and held, then a temporary of its own beside path
 * (O_EXCL, the umask's mode as every file) into tmp, opened into *fd */
static nl_code outset_temp(nl_outset *set, const char *path, char *tmp, size_t size, int *fd, nl_error *err)
{
    static atomic_uint temp_count;
    nl_code rc = nl_output_check(path, set->force, set->hint, err);
    int dirfd = -1;
    const char *base = path;
    if (rc == NL_OK)
        rc = log_split_hold(path, LOG_HOLD_CREATE, &set->dirs, &dirfd, &base, err);
    for (int attempt = 0; rc == NL_OK && attempt < 100; attempt++) {
        if (snprintf(tmp, size, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&temp_count, 1)) >=
            (int)size) {
            rc = nl_fail(err, NL_ERR_USAGE, "%s: a path too long to write; nothing was written", path);
            break;
        }
        if (!fd)
            break;
        if ((*fd = openat(dirfd, tmp + (base - path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          0666)) >= 0)
            break;
        const int e = errno;
        /* the directory removed meanwhile (another command's set that made
         * it, failing): made again, once */
        if (e == ENOENT && attempt == 0) {
            close(dirfd);
            dirfd = -1;
            rc = log_split_hold(path, LOG_HOLD_CREATE, &set->dirs, &dirfd, &base, err);
            continue;
        }
        if (e != EEXIST) {
            rc = nl_fail(err, NL_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
            break;
        }
    }
    if (dirfd >= 0)
        close(dirfd);
    if (rc == NL_OK && fd && *fd < 0)
        rc = nl_fail(err, NL_ERR_IO, "cannot write %s: no free temporary name", path);
    return rc;
}

static nl_code outset_record(nl_outset *set, const char *path, const char *tmp, nl_error *err)
{
    outset_file *files = nl_grow(set->files, set->n_files, &set->cap_files, sizeof *files, 16);
    if (!files) {
        unlink(tmp);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    set->files = files;
    outset_file *f = &set->files[set->n_files];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    f->temp = strdup(tmp);
    if (!f->path || !f->temp) {
        free(f->path);
        free(f->temp);
        unlink(tmp);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    set->n_files++;
    return NL_OK;
}

/* a second destination of the set's: the later would replace the earlier
 * (two inputs given one output name: verdict's sweeps of one experiment
 * into one --out) */
static nl_code outset_twice(const nl_outset *set, const char *path, nl_error *err)
{
    for (int i = 0; i < set->n_files; i++)
        if (!strcmp(set->files[i].path, path))
            return nl_fail(err, NL_ERR_USAGE, "%s would be written twice by one command (two inputs with "
                           "one output name?); nothing was written", path);
    return NL_OK;
}

nl_code nl_outset_add(nl_outset *set, const char *path, const void *data, size_t len, nl_error *err)
{
    char tmp[1100];
    int fd = -1;
    nl_code rc = outset_twice(set, path, err);
    if (rc == NL_OK)
        rc = outset_temp(set, path, tmp, sizeof tmp, &fd, err);
    if (rc == NL_OK)
        rc = log_write_temp(fd, tmp, data, len, err);
    return rc ? rc : outset_record(set, path, tmp, err);
}

nl_code nl_outset_add_buf(nl_outset *set, const char *path, const nl_buf *b, nl_error *err)
{
    if (b->failed)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory writing %s", path);
    return nl_outset_add(set, path, b->data ? b->data : "", b->len, err);
}

nl_code nl_outset_adopt(nl_outset *set, const char *path, const char *produced, nl_error *err)
{
    char tmp[1100];
    nl_code rc = outset_twice(set, path, err);
    if (rc == NL_OK)
        rc = outset_temp(set, path, tmp, sizeof tmp, NULL, err);
    if (rc == NL_OK && rename(produced, tmp) != 0)
        rc = nl_fail(err, NL_ERR_IO, "cannot move %s to %s: %s", produced, tmp, strerror(errno));
    return rc ? rc : outset_record(set, path, tmp, err);
}

nl_code nl_outset_work_dir(nl_outset *set, const char *beside, char *out, size_t size, nl_error *err)
{
    static atomic_uint work_count;
    size_t n = strlen(beside);
    while (n > 1 && beside[n - 1] == '/')
        n--; /* "out/" is out's sibling's too, not a directory in it */
    char *name = strndup(beside, n);
    if (!name)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    int dirfd = -1;
    const char *base;
    nl_code rc = log_split_hold(name, LOG_HOLD_CREATE, &set->dirs, &dirfd, &base, err);
    if (rc == NL_OK && snprintf(out, size, "%s.tmp.%ld.%u", name, (long)getpid(),
                                atomic_fetch_add(&work_count, 1)) >= (int)size)
        rc = nl_fail(err, NL_ERR_USAGE, "%s: a path too long to write; nothing was written", name);
    if (rc == NL_OK && mkdirat(dirfd, out + (base - name), 0777) != 0)
        rc = nl_fail(err, NL_ERR_IO, "cannot create directory %s: %s", out, strerror(errno));
    if (dirfd >= 0)
        close(dirfd);
    free(name);
    if (rc)
        return rc;
    return log_list_add(&set->work, out) ? NL_OK : nl_fail(err, NL_ERR_NOMEM, "out of memory");
}

void nl_outset_own(nl_outset *set, const char *path)
{
    log_list_add(&set->owned, path); /* out of memory: left behind, as a crash would */
}

/* a work directory and the files left in it (it holds nothing else) */
static void remove_work_dir(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[1400];
        nl_path_join(path, sizeof path, dir, e->d_name);
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* why destination f could not be placed (errno e) */
static nl_code refuse_place(const nl_outset *set, const outset_file *f, int e, bool *existed, nl_error *err)
{
    struct stat st;
    if (e == EEXIST && !set->force) {
        if (existed)
            *existed = true;
        return nl_fail(err, NL_ERR_USAGE, "%s exists (made meanwhile); %s; nothing was written", f->path,
                       set->hint);
    }
    if (lstat(f->path, &st) == 0 && !S_ISREG(st.st_mode))
        return nl_output_check(f->path, set->force, set->hint, err);
    return nl_fail(err, NL_ERR_IO, "cannot write %s: %s; nothing was written", f->path, strerror(e));
}

/* with force: a second name for each file to be replaced, to put it back */
static void outset_backups(nl_outset *set)
{
    for (int i = 0; i < set->n_files; i++) {
        outset_file *f = &set->files[i];
        char backup[1200];
        struct stat st;
        snprintf(backup, sizeof backup, "%s.old", f->temp);
        f->replaces = lstat(f->path, &st) == 0;
        if (f->replaces && S_ISREG(st.st_mode) && link(f->path, backup) == 0)
            f->backup = strdup(backup); /* no hard links, or no memory: not put back */
    }
}

/* the files placed so far taken back: the old ones renamed back, new ones removed */
static void outset_unplace(nl_outset *set)
{
    for (int i = 0; i < set->n_files; i++) {
        outset_file *f = &set->files[i];
        if (f->placed && f->backup)
            rename(f->backup, f->path);
        else if (f->placed && !f->replaces) /* replaced without a second name: the new one stays */
            unlink(f->path);
        f->placed = false;
    }
}

nl_code nl_outset_commit(nl_outset *set, bool *existed, nl_error *err)
{
    if (existed)
        *existed = false;
    nl_code rc = NL_OK;
    /* again: a file made meanwhile in one's place */
    for (int i = 0; i < set->n_files && rc == NL_OK; i++) {
        struct stat st;
        rc = nl_output_check(set->files[i].path, set->force, set->hint, err);
        if (rc && existed)
            *existed = !set->force && lstat(set->files[i].path, &st) == 0 && S_ISREG(st.st_mode);
    }
    if (rc == NL_OK && set->force)
        outset_backups(set);
    for (int i = 0; i < set->n_files && rc == NL_OK; i++) {
        outset_file *f = &set->files[i];
        const int placed = set->force ? rename(f->temp, f->path) : log_link_no_replace(f->temp, f->path);
        if (placed != 0) {
            rc = refuse_place(set, f, errno, existed, err);
            outset_unplace(set);
        }
        f->placed = placed == 0;
    }
    for (int i = 0; i < set->n_files; i++) {
        outset_file *f = &set->files[i];
        if (f->backup)
            unlink(f->backup);
        free(f->backup);
        f->backup = NULL;
    }
    set->committed = rc == NL_OK;
    return rc;
}

void nl_outset_end(nl_outset *set)
{
    if (!set)
        return;
    for (int i = 0; i < set->n_files; i++) {
        outset_file *f = &set->files[i];
        /* committed by link: the temporary is a second name; by rename: gone */
        if (!(set->committed && set->force))
            unlink(f->temp);
        free(f->path);
        free(f->temp);
    }
    for (int i = 0; i < set->work.n; i++)
        remove_work_dir(set->work.items[i]);
    if (!set->committed) {
        for (int i = 0; i < set->owned.n; i++)
            unlink(set->owned.items[i]);
        for (int i = set->dirs.n - 1; i >= 0; i--)
            rmdir(set->dirs.items[i]); /* only when empty: nothing of anyone else's goes */
    }
    log_list_free(&set->dirs);
    log_list_free(&set->owned);
    log_list_free(&set->work);
    free(set->files);
    free(set);
}

