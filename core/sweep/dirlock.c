/* A sweep directory's locks: which sweeps may run it at once, who holds
 * it, and a refused sweep leaving them as it found them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/files.h"
#include "results/files.h"
#include "results/rundir.h"
#include "sweep/sched.h"

/* one sweep of a directory at a time, or one per shard: an unsharded sweep
 * holds .lock exclusively, a shard holds it shared and its own shard lock
 * exclusively, a --claim worker holds it shared (flock: not inherited by
 * the runs, which are exec'd with the descriptors closed on exec) */
nl_code nl_sweep_lock_dir(nl_sweep_job *j, nl_error *err)
{
    char lock_path[1200], shard_path[1200];
    const nl_shard shard = j->shard;
    snprintf(lock_path, sizeof lock_path, "%s/" NL_SWEEP_LOCK, j->dir);
    snprintf(shard_path, sizeof shard_path, "%s/" NL_SWEEP_LOCK "-shard-%d-of-%d", j->dir, shard.index, shard.count);
    /* held, not followed: a link or a directory in a lock's place is
     * refused, never written through, nor taken as no lock at all */
    j->lock_fd = j->shard_lock_fd = -1;
    struct stat st;
    j->lock_created = lstat(lock_path, &st) != 0 && errno == ENOENT;
    nl_code rc = nl_open_write(lock_path, O_RDWR | O_CREAT, &j->lock_fd, err);
    if (rc == NL_OK && shard.count > 1) {
        j->shard_lock_created = lstat(shard_path, &st) != 0 && errno == ENOENT;
        rc = nl_open_write(shard_path, O_RDWR | O_CREAT, &j->shard_lock_fd, err);
    }
    if (rc)
        return rc;
    const int whole_mode = shard.count > 1 || j->worker ? LOCK_SH : LOCK_EX;
    const bool whole_busy = j->lock_fd >= 0 && flock(j->lock_fd, whole_mode | LOCK_NB) != 0 &&
                            errno == EWOULDBLOCK;
    const bool shard_busy = !whole_busy && j->shard_lock_fd >= 0 &&
                            flock(j->shard_lock_fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    /* who holds it is written once the sweep has passed every check
     * (nl_sweep_announce_holder): one refused after this leaves the file as it was */
    if (!whole_busy && !shard_busy)
        return NL_OK;
    nl_run_writer holder = {0};
    nl_lock_holder_read(shard_busy ? j->shard_lock_fd : j->lock_fd, &holder);
    char who[200] = "";
    if (holder.pid > 0)
        snprintf(who, sizeof who, "pid %ld%s%s, ", holder.pid, holder.host[0] ? " on " : "",
                 holder.host);
    /* a directory in use, as a run directory another run writes: exit 2 */
    return nl_fail(err, NL_ERR_USAGE, "another normlab sweep is running %s%s (%sit holds %s); "
                   "nothing was written: wait for it", shard_busy ? "this shard of " :
                   (shard.count > 1 ? "all of " : ""), j->dir, who,
                   shard_busy ? shard_path : lock_path);
}

/* who holds the lock, for the next one refused (shared holders: the last to write) */
void nl_sweep_announce_holder(const nl_sweep_job *j)
{
    const int held_fd = j->shard.count > 1 ? j->shard_lock_fd : j->lock_fd;
    if (held_fd >= 0)
        nl_lock_holder_write(held_fd);
}

/* a sweep refused after it took its locks leaves them as it found them:
 * their text is untouched until announce_holder, and a file it made is
 * removed while it holds that file alone (a shared .lock another shard may
 * have opened since is left) */
void nl_sweep_unlock_refused(nl_sweep_job *j)
{
    char path[1200];
    const bool whole_alone = j->shard.count <= 1 && !j->worker;
    if (j->lock_fd >= 0 && j->lock_created && whole_alone) {
        snprintf(path, sizeof path, "%s/" NL_SWEEP_LOCK, j->dir);
        unlink(path);
    }
    if (j->shard_lock_fd >= 0 && j->shard_lock_created) {
        snprintf(path, sizeof path, "%s/" NL_SWEEP_LOCK "-shard-%d-of-%d", j->dir, j->shard.index,
                 j->shard.count);
        unlink(path);
    }
    if (j->lock_fd >= 0)
        close(j->lock_fd);
    if (j->shard_lock_fd >= 0)
        close(j->shard_lock_fd);
    j->lock_fd = j->shard_lock_fd = -1;
}

