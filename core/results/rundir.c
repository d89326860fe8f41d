/* F_OFD_SETLK (Linux 3.15): the readers' lock, see nl_run_dir_read_lock */
#define _GNU_SOURCE
#include "results/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/number.h"
#include "log/files.h"

static void marker_path(const char *dir, char *out, size_t size)
{
    nl_path_join(out, size, dir, NL_RUN_MARKER);
}

void nl_lock_holder_read(int fd, nl_run_writer *w)
{
    char text[200];
    const ssize_t got = pread(fd, text, sizeof text - 1, 0);
    if (got <= 0)
        return;
    text[got] = '\0';
    /* "PID HOST": the pid by the one checked parser (a sign, junk or
     * overflow names no writer, as an unreadable line does) */
    char host[128] = "";
    const size_t len = strcspn(text, " \n");
    const char end = text[len];
    text[len] = '\0';
    long long pid;
    if (nl_parse_ll(text, 0, INT_MAX, &pid)) {
        if (end == ' ')
            sscanf(text + len + 1, "%127s", host);
        if (w->pid <= 0)
            w->pid = (long)pid;
        nl_copy_string(w->host, sizeof w->host, host);
    }
}

bool nl_lock_holder_write(int fd)
{
    char host[100] = "", line[160];
    gethostname(host, sizeof host - 1);
    const int len = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), host[0] ? host : "-");
    return ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)len, 0) == len;
}

bool nl_run_dir_busy(const char *dir, nl_run_writer *w)
{
    *w = (nl_run_writer){0};
    char path[1100];
    marker_path(dir, path, sizeof path);
    /* read-only is enough to ask; this process holds no lock on another
     * writer's marker, so closing it drops nothing */
    int fd;
    nl_error ignored = {0}; /* a marker that is not a regular file holds no lock */
    if (nl_open_regular(path, true, &fd, &ignored) != NL_OK || fd < 0)
        return false;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    /* a writer; readers (evals, nl_run_dir_read_lock) write no run */
    const bool busy = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK;
    if (busy) {
        w->pid = fl.l_pid; /* 0 or another machine's pid over NFS: the file says */
        nl_lock_holder_read(fd, w);
    }
    close(fd);
    return busy;
}

/* every file normlab reads from a run directory (results/files.h) */
static const char *const run_dir_files[] = {
    NL_RUN_MARKER,       NL_RUN_CONFIG_FILE,  NL_RUN_SUMMARY_FILE, NL_RUN_METRICS_FILE,
    NL_RUN_SERIES_FILE,  NL_RUN_TRACE_FILE,   NL_FINAL_MODEL_FILE, NL_CHECKPOINT_FILE,
    NL_RUN_WORKLOCK,     NL_EVAL_DIR "/" NL_EVAL_TABLE, NL_RUN_LOG_FILE,
};

nl_code nl_run_dir_check_files(const char *dir, nl_error *err)
{
    for (size_t i = 0; i < sizeof run_dir_files / sizeof *run_dir_files; i++) {
        char path[1200];
        nl_path_join(path, sizeof path, dir, run_dir_files[i]);
        const nl_code rc = nl_check_regular(path, true, err);
        if (rc)
            return rc;
    }
    return NL_OK;
}

bool nl_dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool empty = true;
    struct dirent *e;
    while (empty && (e = readdir(d)) != NULL)
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}

bool nl_run_dir_is_normlab(const char *dir)
{
    char path[1100], *text = NULL, version[64];
    marker_path(dir, path, sizeof path);
    if (nl_path_exists(path))
        return true;
    nl_path_join(path, sizeof path, dir, NL_RUN_SUMMARY_FILE);
    nl_error err = {0};
    if (nl_read_file(path, &text, NULL, &err) != NL_OK)
        return false;
    const bool ours = nl_json_flat_get(text, "normlab_version", version, sizeof version);
    free(text);
    return ours;
}

nl_code nl_run_dir_check_ours(const char *dir, nl_error *err)
{
    /* empty first, then the marker: normlab makes the marker before any
     * other file, so a directory seen with files in it has its marker by
     * the time it is looked for; the other order refuses a directory another
     * run filled between the two looks */
    if (nl_dir_is_empty(dir) || nl_run_dir_is_normlab(dir))
        return NL_OK;
    return nl_fail(err, NL_ERR_USAGE,
                   "%s is not empty and normlab did not make it (no %s in it); nothing was "
                   "written: choose another --out, or empty it",
                   dir, NL_RUN_MARKER);
}

nl_code nl_run_dir_make(const char *dir, nl_error *err)
{
    nl_code rc = nl_make_dirs(dir, err);
    if (rc)
        return rc;
    char path[1100];
    marker_path(dir, path, sizeof path);
    int fd; /* nl_open_regular_rw: a FIFO in the marker's place is refused, not waited on */
    if ((rc = nl_open_regular_rw(path, &fd, err)))
        return rc;
    close(fd);
    return NL_OK;
}

nl_code nl_run_dir_busy_error(nl_error *err, const char *dir, const nl_run_writer *w)
{
    if (w->reading)
        return nl_fail(err, NL_ERR_USAGE, "%s is being read by normlab eval, which records its "
                       "result there; nothing was written: wait for it to finish, or choose "
                       "another --out", dir);
    char who[200] = "";
    if (w->pid > 0)
        snprintf(who, sizeof who, " (pid %ld%s%s)", w->pid, w->host[0] ? " on " : "", w->host);
    return nl_fail(err, NL_ERR_USAGE,
                   "%s is being written by another normlab process%s; nothing was written: wait for "
                   "it to finish, or choose another --out",
                   dir, who);
}

nl_code nl_run_dir_lock(const char *dir, int *fd_out, nl_error *err)
{
    *fd_out = -1;
    /* a link in the run's tree (its marker, metrics.csv, plots/): refused
     * before the run writes anything, not when it reaches the link */
    nl_code rc = nl_tree_refuse_links(dir, err);
    if (rc == NL_OK)
        rc = nl_make_dirs(dir, err);
    if (rc)
        return rc;
    if ((rc = nl_run_dir_check_ours(dir, err)))
        return rc;
    char path[1100];
    marker_path(dir, path, sizeof path);
    int fd;
    if ((rc = nl_open_regular_rw(path, &fd, err)))
        return rc;
    const int locked = nl_try_write_lock(fd);
    if (locked != 0) {
        const int e = errno;
        if (locked == 1) {
            nl_run_writer w = {0};
            struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
            if (fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK) {
                w.pid = probe.l_pid;
                w.reading = probe.l_type == F_RDLCK;
            }
            if (!w.reading)
                nl_lock_holder_read(fd, &w);
            close(fd);
            return nl_run_dir_busy_error(err, dir, &w);
        }
        close(fd);
        return nl_fail(err, NL_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    if (!nl_lock_holder_write(fd)) {
        const int e = errno;
        close(fd);
        return nl_fail(err, NL_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return NL_OK;
}

nl_code nl_run_dir_read_lock(const char *dir, int *fd_out, nl_error *err)
{
    *fd_out = -1;
    /* eval records its result in the run's eval/: a link there refused
     * before the evaluation, not after it */
    const nl_code tree = nl_tree_refuse_links(dir, err);
    if (tree)
        return tree;
    char path[1100];
    marker_path(dir, path, sizeof path);
    /* read and write, though only read: what opens a lock file (never a
     * file's content to read) and, an eval writing its record into the
     * directory, one it may write */
    int fd;
    nl_error open_err = {0};
    if (nl_open_write(path, O_RDWR, &fd, &open_err) != NL_OK) {
        if (open_err.code == NL_ERR_IO && errno == ENOENT)
            return NL_OK; /* no marker: not a run directory, or one from before the marker */
        *err = open_err; /* a link or a directory in its place: refused, not read through */
        return open_err.code;
    }
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    int r;
    while ((r = fcntl(fd, F_OFD_SETLK, &fl)) != 0 && errno == EINTR)
        ;
    if (r == 0) {
        *fd_out = fd;
        return NL_OK;
    }
    const int e = errno;
    if (e == EINVAL) { /* a kernel before 3.15: read unguarded, as before */
        close(fd);
        return NL_OK;
    }
    if (e != EACCES && e != EAGAIN) {
        close(fd);
        return nl_fail(err, NL_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    nl_run_writer w = {0};
    struct flock probe = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK)
        w.pid = probe.l_pid;
    nl_lock_holder_read(fd, &w);
    close(fd);
    char who[200] = "";
    if (w.pid > 0)
        snprintf(who, sizeof who, " (pid %ld%s%s)", w.pid, w.host[0] ? " on " : "", w.host);
    return nl_fail(err, NL_ERR_USAGE, "%s is being written by another normlab process%s; nothing "
                   "was written: use it once that run has finished", dir, who);
}
