#include "sweep/worklock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/number.h"
#include "log/files.h"

typedef struct {
    long generation;
    bool finished;
} lock_line;

static lock_line read_line(int fd)
{
    lock_line l = {0, true};
    char text[200], state[16] = "";
    const ssize_t got = pread(fd, text, sizeof text - 1, 0);
    if (got <= 0)
        return l;
    text[got] = '\0';
    /* "GENERATION STATE PID HOST": the generation by the one checked
     * parser (a sign, junk or overflow is no generation, as an unreadable
     * line is) */
    char *space = strchr(text, ' ');
    long long generation;
    if (space) {
        *space = '\0';
        if (nl_parse_ll(text, 0, LONG_MAX, &generation) && sscanf(space + 1, "%15s", state) == 1) {
            l.generation = (long)generation;
            l.finished = strcmp(state, "claimed") != 0;
        }
    }
    return l;
}

static int write_line(int fd, long generation, const char *state)
{
    char host[100] = "", line[200];
    gethostname(host, sizeof host - 1);
    const int len = snprintf(line, sizeof line, "%ld %s %ld %s\n", generation, state, (long)getpid(),
                             host[0] ? host : "-");
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len)
        return -1;
    return fsync(fd);
}

static void lock_path(const char *run_dir, char *out, size_t size)
{
    nl_path_join(out, size, run_dir, NL_RUN_WORKLOCK);
}

long nl_worklock_generation(const char *run_dir)
{
    char path[1100];
    lock_path(run_dir, path, sizeof path);
    int fd;
    nl_error ignored = {0}; /* no work-lock file (or none normlab wrote): no generation yet */
    if (nl_open_regular(path, true, &fd, &ignored) != NL_OK || fd < 0)
        return 0;
    const long g = read_line(fd).generation;
    close(fd);
    return g;
}

nl_code nl_worklock_try(const char *run_dir, long seen, bool (*finished_now)(const char *run_dir, void *ctx),
                     void *ctx, bool force, nl_worklock *lock, nl_worklock_outcome *out, nl_error *err)
{
    *lock = (nl_worklock){-1, 0};
    char path[1100];
    lock_path(run_dir, path, sizeof path);
    int fd;
    const nl_code rc = nl_open_regular_rw(path, &fd, err);
    if (rc)
        return rc;
    const int locked = nl_try_write_lock(fd);
    if (locked != 0) {
        const int e = errno;
        close(fd);
        if (locked == 1) {
            *out = NL_WORKLOCK_HELD;
            return NL_OK;
        }
        return nl_fail(err, NL_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    const lock_line l = read_line(fd);
    /* "claimed" under a lock nobody holds: its worker died, and the run is
     * done again unless it finished before the worker went */
    const bool dead_holder = l.generation > 0 && !l.finished;
    bool finished;
    if (dead_holder)
        finished = finished_now(run_dir, ctx);
    else
        finished = l.generation > seen || (!force && finished_now(run_dir, ctx));
    if (finished) {
        close(fd);
        *out = NL_WORKLOCK_FINISHED;
        return NL_OK;
    }
    if (write_line(fd, l.generation + 1, "claimed") != 0) {
        const int e = errno;
        close(fd);
        return nl_fail(err, NL_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    *lock = (nl_worklock){fd, l.generation + 1};
    *out = NL_WORKLOCK_OURS;
    return NL_OK;
}

void nl_worklock_release(nl_worklock *lock, bool done)
{
    if (lock->fd < 0)
        return;
    /* a line that cannot be written leaves "claimed": the run is done again,
     * which is the safe side */
    if (done)
        (void)write_line(lock->fd, lock->generation, "finished");
    close(lock->fd);
    lock->fd = -1;
}
