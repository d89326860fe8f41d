/* The ranks of a data-parallel run: the one place normlab talks to MPI.
 * Everything else sees this small communicator; a process started without
 * an MPI launcher (or a build without MPI) is the one-rank case of the same
 * code, where every collective is a copy.
 *
 * Reductions are deterministic: each collective gathers every rank's
 * contribution and each rank adds them in rank order, so every rank ends
 * with the same bits, run after run, whatever the network did.
 *
 * Collectives called inside a training step (from layers, which return
 * nothing) cannot return an error: the first failure is kept in the
 * communicator, later collectives do nothing, and nl_dist_status reports it
 * after the step. Nothing allocates after nl_dist_reserve. A NULL
 * communicator is one rank, as is one opened without a launcher.
 *
 * No collective waits for ever: one whose other ranks do not come within
 * the timeout (NORMLAB_MPI_TIMEOUT seconds, default
 * NL_DIST_DEFAULT_TIMEOUT_S) fails as above, naming the wait, and the
 * communicator is broken: closing it ends every rank (MPI_Abort), since
 * MPI_Finalize would wait for the lost one. A launcher ends the job itself
 * when a rank's process dies; the timeout is for what it does not see (a
 * host or network that stops answering, a rank stopped or stuck). */
#ifndef NL_DIST_H
#define NL_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

typedef struct nl_dist nl_dist;

/* torch.distributed's default for NCCL: long enough for a rank 0 that
 * writes a large checkpoint to a slow shared file system while the others
 * wait in the next exchange */
#define NL_DIST_DEFAULT_TIMEOUT_S 600.0

/* Opens the communicator: MPI when this process was started by an MPI
 * launcher (mpirun, srun with PMI), else one rank. A launch of several
 * ranks in a build without MPI is an error (NL_ERR_UNSUPPORTED), since
 * each process would train the whole model alone. */
nl_code nl_dist_open(nl_dist **out, nl_error *err);
void nl_dist_close(nl_dist *d);

int nl_dist_rank(const nl_dist *d);
int nl_dist_size(const nl_dist *d);
/* true when this build can run several ranks */
bool nl_dist_built(void);
/* the longest one collective waits for the other ranks, in seconds */
double nl_dist_timeout(const nl_dist *d);
/* wall seconds this rank spent inside collectives since the open: the
 * exchange itself and the wait for slower ranks (0 on one rank) */
double nl_dist_exchange_seconds(const nl_dist *d);

/* Called about every 50 ms while a collective waits for the other ranks,
 * on the thread that called the collective: what must be on disk before a
 * launcher that lost a rank ends the others (it sends SIGTERM, and SIGKILL
 * a second later) is written from here. NULL removes it. */
typedef void (*nl_dist_wait_fn)(void *ctx);
void nl_dist_on_wait(nl_dist *d, nl_dist_wait_fn fn, void *ctx);

/* Makes room for collectives of up to `bytes` per rank. Called before
 * training; collectives larger than the reserve fail. */
nl_code nl_dist_reserve(nl_dist *d, size_t bytes, nl_error *err);

/* Every rank's `bytes` of `mine`, rank after rank: a pointer into the
 * communicator's buffer, valid until the next collective (on one rank:
 * `mine` itself); NULL after an error. */
const void *nl_dist_allgather(nl_dist *d, const void *mine, size_t bytes);
/* rank 0's `bytes` of buf into every rank's buf */
void nl_dist_broadcast(nl_dist *d, void *buf, size_t bytes);
/* values[i] = sum over ranks of values[i], added in rank order */
void nl_dist_sum(nl_dist *d, double *values, size_t count);
/* values[i] = (sum over ranks of values[i], in double in rank order) / ranks */
void nl_dist_mean_floats(nl_dist *d, float *values, size_t count);

/* the first error of a collective since the communicator was opened, or
 * of its settings (a NORMLAB_MPI_TIMEOUT that is not a number of seconds:
 * every rank holds it before any collective, so each stops alike) */
nl_code nl_dist_status(const nl_dist *d, nl_error *err);

/* Every rank passes the outcome of a step only some ranks take (rank 0's
 * writes): when another rank failed, a rank that did not returns the
 * failed rank's code with a message naming it, so that no rank waits for a
 * collective the failed one never reaches. Returns `mine` when every rank
 * succeeded. */
nl_code nl_dist_agree(nl_dist *d, nl_code mine, nl_error *err);

/* Ends every rank with exit status `status` (MPI_Abort): for a failure on
 * one rank once training started, when the others are inside collectives
 * the failed rank will never join. Returns on one rank. */
void nl_dist_abort(nl_dist *d, int status);

/* Rows [start, start + count) of a batch of n rows that rank `rank` of
 * `size` takes: n / size each when size divides n; otherwise the first
 * n % size ranks take one more (an evaluation's last batch). */
void nl_dist_slice(int rank, int size, int n, int *start, int *count);

#endif
