/* The work lock of a run (not a paper's claim: results/claims.h). Any
 * number of `normlab sweep --claim` workers, on any machines that share the
 * sweep directory, take the runs one at a time, so a grid of uneven runs is
 * finished without a static split.
 *
 * A worker takes a run by holding a POSIX (fcntl) write lock on the run
 * directory's work-lock file, NL_RUN_WORKLOCK, from before it starts the run until
 * the run's process has ended and left its summary. fcntl locks for the same
 * reasons as the run's own lock (results/rundir.h): they work over NFS, and
 * they expire with their holder: the kernel drops them when the worker dies,
 * kill -9 included; over NFSv4 the server drops a dead or cut-off client's
 * locks when its lease runs out (90 s by default), over NFSv3 lockd does
 * when the client comes back. No heartbeat, no clock: a worker that is alive
 * keeps its lock, however long its run takes.
 *
 * The file's one line says what happened to the run: "GEN claimed PID HOST"
 * while a worker has it, "GEN finished PID HOST" once it is done; GEN counts
 * the times a worker took it. A worker that gets the lock and reads
 * "claimed" knows the holder died (the run is done again); one that reads a GEN beyond the one
 * it saw when it started knows that another worker finished the run since
 * (its result stands, even a failure: each run runs once per round of
 * workers; a worker started later runs a failed run again, as any new sweep
 * does). */
#ifndef NL_SWEEP_WORKLOCK_H
#define NL_SWEEP_WORKLOCK_H

#include <stdbool.h>

#include "base/status.h"
#include "results/files.h" /* NL_RUN_WORKLOCK */

typedef enum {
    NL_WORKLOCK_OURS,     /* this worker runs it now */
    NL_WORKLOCK_HELD,     /* another worker holds it: try again later */
    NL_WORKLOCK_FINISHED, /* done by another worker or process: take its result */
} nl_worklock_outcome;

typedef struct {
    int fd;            /* holds the lock; -1 when none */
    long generation;   /* the GEN this worker wrote */
} nl_worklock;

/* GEN of the run directory's work-lock file, read without the lock (0: none) */
long nl_worklock_generation(const char *run_dir);

/* Tries to take the run in `run_dir` (which must exist). `seen` is GEN as
 * this worker read it before it began; `finished_now` says whether the run
 * directory holds a finished result, and is asked only under the lock;
 * `force`: a finished result from before is run again (--force). */
nl_code nl_worklock_try(const char *run_dir, long seen, bool (*finished_now)(const char *run_dir, void *ctx),
                     void *ctx, bool force, nl_worklock *lock, nl_worklock_outcome *out, nl_error *err);

/* Lets go of the lock once the run's process has ended: `done` records the
 * run as finished by this worker; false (the worker was stopped) leaves it
 * "claimed", so that another worker does it again. */
void nl_worklock_release(nl_worklock *lock, bool done);

#endif
