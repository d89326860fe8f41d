/* Who may write a run directory.
 *
 * A directory normlab creates for a run holds NL_RUN_MARKER, made before any
 * other file (so a directory seen with files in it, then looked at for the
 * marker, has it if normlab made it: the order nl_run_dir_check_ours looks); `normlab run --out` writes only into a directory that has it,
 * is empty or does not exist yet (or, from before the marker existed, holds a
 * summary.json that normlab wrote), so nothing a user keeps there is replaced.
 *
 * The same file is the writer's lock: the process that writes the run holds
 * a POSIX (fcntl) write lock on it from before its first write until it is
 * done, and the kernel drops the lock when that process dies, kill -9
 * included. fcntl locks rather than flock(2): they work across machines on
 * NFS (NFSv4, or lockd for v3), where a run directory may be shared by the
 * nodes of a cluster; flock on NFS is emulated with them anyway. Not safe: an
 * NFS mount with `nolock` (each machine sees only its own locks). A file
 * system without locks makes the run fail (exit 1) rather than write
 * unguarded. Their catch:
 * a process loses its lock when it closes *any* descriptor of the file, so a
 * writer never opens the marker a second time, and a child does not inherit
 * the lock (the process that writes must take it itself). */
#ifndef NL_RESULTS_RUNDIR_H
#define NL_RESULTS_RUNDIR_H

#include <stdbool.h>

#include "base/status.h"
#include "results/files.h" /* NL_RUN_MARKER */

/* The process holding a run directory's lock. */
typedef struct {
    long pid;       /* as the lock reports it, else as the holder wrote it; 0 unknown */
    char host[128]; /* as the holder wrote it; "" unknown */
    bool reading;   /* a reader's lock (nl_run_dir_read_lock), not a writer's */
} nl_run_writer;

/* The holder of a lock file (a run directory's marker, a sweep's .lock)
 * writes its "pid host" line into it once it holds the lock; one refused
 * reads it to say who holds it (into *w, its pid where w has none). */
bool nl_lock_holder_write(int fd);
void nl_lock_holder_read(int fd, nl_run_writer *w);

/* true when another process holds the lock of `dir` (and who, into *w) */
bool nl_run_dir_busy(const char *dir, nl_run_writer *w);

/* Refuses (NL_ERR_DATA, naming the path and what it is) a run directory in
 * which a file normlab reads is there but is not a regular file (a FIFO, a
 * directory, ...). Every command that takes a run directory calls it before
 * reading or writing anything: several of those files are read where a
 * missing one is normal (a run without summary.json is unfinished), and a
 * file refused there would pass for a missing one. The names are the list
 * in rundir.c. */
nl_code nl_run_dir_check_files(const char *dir, nl_error *err);

/* a directory normlab made for a run: the marker, or a summary.json that
 * normlab wrote (run directories from before the marker) */
bool nl_run_dir_is_normlab(const char *dir);

/* true when `dir` has no entries but . and .. (false when it cannot be read) */
bool nl_dir_is_empty(const char *dir);

/* NL_OK when normlab made the existing directory `dir` or it is empty; else
 * the NL_ERR_USAGE error that refuses it */
nl_code nl_run_dir_check_ours(const char *dir, nl_error *err);

/* Makes `dir` (mkdir -p) a run directory: creates the marker when missing.
 * For a sweep, whose runs/<run>/ directories are its own and which puts a
 * run's log there before the run starts; the marker's content is left. */
nl_code nl_run_dir_make(const char *dir, nl_error *err);

/* Takes the write lock of run directory `dir` for this process: makes the
 * directory and the marker when missing, refuses (NL_ERR_USAGE) a directory
 * normlab did not make or one another process holds, and records this pid
 * and host in the marker. *fd is the descriptor to keep open while writing;
 * closing it (or exiting) releases the lock. */
nl_code nl_run_dir_lock(const char *dir, int *fd, nl_error *err);

/* Takes the readers' lock of run directory `dir`, for a process that reads
 * its final model and records beside it (normlab eval): any number of
 * readers hold it at once, none while a run writes the directory, which
 * then refuses to start (nl_run_dir_lock, NL_ERR_USAGE): so a run started
 * over (--force) never gets an eval record of the model it replaced. A
 * directory another process writes is NL_ERR_USAGE. An open file
 * description's lock (F_OFD_SETLK), not the process's: the reader opens
 * the marker again (nl_run_dir_busy), which would drop a process's lock.
 * *fd: keep open while reading and recording; -1 when there is no marker
 * to lock (not a run directory, or one from before the marker). */
nl_code nl_run_dir_read_lock(const char *dir, int *fd, nl_error *err);

/* the error for a directory held by `w` */
nl_code nl_run_dir_busy_error(nl_error *err, const char *dir, const nl_run_writer *w);

#endif
