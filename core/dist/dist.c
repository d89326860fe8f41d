#include "dist/dist.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/number.h"

#ifdef NORMLAB_HAVE_MPI
#include <mpi.h>
#endif

struct nl_dist {
    int rank, size;
    bool mpi;            /* this process initialized MPI and finalizes it */
    unsigned char *all;  /* size * capacity bytes: what the ranks gathered */
    size_t capacity;     /* bytes per rank */
    nl_error first_error;
    /* a collective failed or timed out: the ranks no longer meet, so the
     * close ends them all (MPI_Abort) rather than wait in MPI_Finalize for
     * a rank that is gone */
    bool broken;
    double timeout_s;    /* the longest one collective waits for the other ranks */
    double exchange_s;   /* wall time inside collectives since the open */
    nl_dist_wait_fn on_wait;
    void *wait_ctx;
};

/* how often a waiting collective calls its hook */
#define WAIT_HOOK_INTERVAL_S 0.05

/* the environment an MPI launcher gives each rank it starts, and the
 * variable that holds the rank count where the launcher says it */
static const struct {
    const char *marker, *size;
} launchers[] = {
    {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_SIZE"}, /* Open MPI's mpirun */
    {"PMIX_RANK", NULL},                               /* PMIx: srun --mpi=pmix, prterun */
    {"PMI_RANK", "PMI_SIZE"},                          /* MPICH's hydra, srun --mpi=pmi2 */
};

static bool launched(int *ranks)
{
    *ranks = 0;
    bool found = false;
    for (size_t i = 0; i < sizeof launchers / sizeof launchers[0]; i++) {
        if (!getenv(launchers[i].marker))
            continue;
        found = true;
        const char *size = launchers[i].size ? getenv(launchers[i].size) : NULL;
        int n;
        if (size && nl_parse_int(size, 1, INT_MAX, &n) && n > *ranks)
            *ranks = n;
    }
    return found;
}

#ifdef NORMLAB_HAVE_MPI
/* NORMLAB_MPI_TIMEOUT: seconds, a positive number; unset or empty is
 * the default */
static nl_code read_timeout(double *timeout_s, nl_error *err)
{
    *timeout_s = NL_DIST_DEFAULT_TIMEOUT_S;
    const char *text = getenv("NORMLAB_MPI_TIMEOUT");
    if (!text || !*text)
        return NL_OK;
    char *end;
    const double v = strtod(text, &end);
    if (*end || !(v > 0.0) || !isfinite(v))
        return nl_fail(err, NL_ERR_USAGE, "NORMLAB_MPI_TIMEOUT='%s' is not a number of seconds; "
                       "accepted: a positive number (the longest a rank waits for the others in "
                       "one exchange; default %g)", text, NL_DIST_DEFAULT_TIMEOUT_S);
    *timeout_s = v;
    return NL_OK;
}
#endif

bool nl_dist_built(void)
{
#ifdef NORMLAB_HAVE_MPI
    return true;
#else
    return false;
#endif
}

#ifdef NORMLAB_HAVE_MPI
static void keep_error(nl_dist *d, const char *what, int mpi_code)
{
    if (d->first_error.code != NL_OK)
        return;
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(mpi_code, text, &len) != MPI_SUCCESS)
        text[0] = '\0';
    nl_fail(&d->first_error, NL_ERR_RUNTIME, "MPI %s failed%s%s", what, text[0] ? ": " : "",
            text);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Waits for a non-blocking collective, at most the timeout: a rank that
 * died, or a host that stopped answering, would otherwise hold every other
 * rank in the collective for good (a launcher ends the job when it sees a
 * rank's process die, but not when a host or the network under it stops).
 * Calls the wait hook meanwhile. False, with the communicator broken, on a
 * failure or the timeout; the request is then left to the abort that
 * follows. */
static bool wait_for(nl_dist *d, MPI_Request *req, const char *what)
{
    const double start = now_s();
    double next_hook = start + WAIT_HOOK_INTERVAL_S;
    for (unsigned spins = 1;; spins++) {
        int done = 0;
        const int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done) {
            d->exchange_s += now_s() - start;
            if (rc == MPI_SUCCESS)
                return true;
            keep_error(d, what, rc);
            d->broken = true;
            return false;
        }
        if (spins % 16)
            continue;
        const double t = now_s();
        if (t - start > d->timeout_s) {
            d->exchange_s += t - start;
            d->broken = true;
            if (d->first_error.code == NL_OK)
                nl_fail(&d->first_error, NL_ERR_RUNTIME,
                        "waited %.0f s in an MPI %s for the other ranks without an answer "
                        "(NORMLAB_MPI_TIMEOUT=%g): a rank, or the host or network under it, was "
                        "lost; every rank stops",
                        t - start, what, d->timeout_s);
            return false;
        }
        if (d->on_wait && t >= next_hook) {
            d->on_wait(d->wait_ctx);
            next_hook = t + WAIT_HOOK_INTERVAL_S;
        }
    }
}
#endif

nl_code nl_dist_open(nl_dist **out, nl_error *err)
{
    *out = NULL;
    nl_dist *d = calloc(1, sizeof *d);
    if (!d)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory opening the ranks");
    d->size = 1;
    d->timeout_s = NL_DIST_DEFAULT_TIMEOUT_S;
    int ranks = 0;
    if (launched(&ranks)) {
#ifdef NORMLAB_HAVE_MPI
        /* only the main thread calls MPI; OpenMP teams never do */
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) {
            free(d);
            return nl_fail(err, NL_ERR_RUNTIME, "MPI_Init failed (code %d)", rc);
        }
        d->mpi = true;
        /* errors come back as codes: the library reports, it does not abort */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &d->size);
        /* every rank reads the same environment: a bad value is each
         * rank's error, kept for the run to report (rank 0 speaks) before
         * its first collective */
        (void)read_timeout(&d->timeout_s, &d->first_error);
#else
        if (ranks > 1) {
            free(d);
            return nl_fail(err, NL_ERR_UNSUPPORTED,
                           "started by an MPI launcher as one of %d ranks, but this normlab was "
                           "built without MPI, so each rank would train the whole model alone; "
                           "rebuild with MPI (apt-get install libopenmpi-dev, then cmake -S . "
                           "-B build -DNORMLAB_MPI=ON), or run without mpirun",
                           ranks);
        }
#endif
    }
    nl_code rc = nl_dist_reserve(d, 64, err);
    if (rc) {
        nl_dist_close(d);
        return rc;
    }
    *out = d;
    return NL_OK;
}

void nl_dist_close(nl_dist *d)
{
    if (!d)
        return;
#ifdef NORMLAB_HAVE_MPI
    /* MPI_Finalize waits for every rank: after a broken collective one of
     * them may never come */
    if (d->mpi && d->broken && d->size > 1)
        MPI_Abort(MPI_COMM_WORLD, 1);
    if (d->mpi)
        MPI_Finalize();
#endif
    free(d->all);
    free(d);
}

int nl_dist_rank(const nl_dist *d) { return d ? d->rank : 0; }
int nl_dist_size(const nl_dist *d) { return d ? d->size : 1; }
double nl_dist_timeout(const nl_dist *d) { return d ? d->timeout_s : NL_DIST_DEFAULT_TIMEOUT_S; }
double nl_dist_exchange_seconds(const nl_dist *d) { return d ? d->exchange_s : 0.0; }

void nl_dist_on_wait(nl_dist *d, nl_dist_wait_fn fn, void *ctx)
{
    if (!d)
        return;
    d->on_wait = fn;
    d->wait_ctx = ctx;
}

nl_code nl_dist_reserve(nl_dist *d, size_t bytes, nl_error *err)
{
    if (bytes <= d->capacity)
        return NL_OK;
    unsigned char *all = realloc(d->all, bytes * (size_t)d->size);
    if (!all)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the ranks' exchange buffer (%zu bytes)",
                       bytes * (size_t)d->size);
    d->all = all;
    d->capacity = bytes;
    return NL_OK;
}

const void *nl_dist_allgather(nl_dist *d, const void *mine, size_t bytes)
{
    if (!d || d->size == 1)
        return mine;
    if (d->first_error.code != NL_OK)
        return NULL;
    if (bytes > d->capacity) {
        nl_fail(&d->first_error, NL_ERR_RUNTIME,
                "a collective of %zu bytes exceeds the %zu bytes reserved for it", bytes,
                d->capacity);
        return NULL;
    }
#ifdef NORMLAB_HAVE_MPI
    if (d->mpi && d->size > 1) {
        /* bytes fit an int: the reserve is sized from one model's tensors */
        MPI_Request req;
        int rc = MPI_Iallgather(mine, (int)bytes, MPI_BYTE, d->all, (int)bytes, MPI_BYTE,
                                MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) {
            keep_error(d, "all-gather", rc);
            d->broken = true;
            return NULL;
        }
        return wait_for(d, &req, "all-gather") ? d->all : NULL;
    }
#endif
    return mine;
}

void nl_dist_broadcast(nl_dist *d, void *buf, size_t bytes)
{
    if (!d || d->size == 1 || d->first_error.code != NL_OK)
        return;
#ifdef NORMLAB_HAVE_MPI
    /* in pieces: MPI counts are ints */
    for (size_t done = 0; done < bytes;) {
        const size_t piece = bytes - done < (1u << 30) ? bytes - done : (1u << 30);
        MPI_Request req;
        const int rc = MPI_Ibcast((char *)buf + done, (int)piece, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) {
            keep_error(d, "broadcast", rc);
            d->broken = true;
            return;
        }
        if (!wait_for(d, &req, "broadcast"))
            return;
        done += piece;
    }
#else
    (void)buf, (void)bytes;
#endif
}

/* every rank's `bytes` of values for a reduction in place: NULL where
 * there is nothing to reduce (one rank) or the gather failed (the error
 * kept for nl_dist_status), values left as they are */
static const void *others_too(nl_dist *d, const void *values, size_t bytes)
{
    return d && d->size > 1 ? nl_dist_allgather(d, values, bytes) : NULL;
}

void nl_dist_sum(nl_dist *d, double *values, size_t count)
{
    const double *all = others_too(d, values, count * sizeof *values);
    if (!all)
        return;
    for (size_t i = 0; i < count; i++) {
        double sum = 0.0;
        for (int r = 0; r < d->size; r++)
            sum += all[(size_t)r * count + i];
        values[i] = sum;
    }
}

void nl_dist_mean_floats(nl_dist *d, float *values, size_t count)
{
    const float *all = others_too(d, values, count * sizeof *values);
    if (!all)
        return;
    /* rank by rank over a block of values, which vectorizes, where a sum
     * over the ranks per value strides through them (three times the time
     * for the gradients of a 270k-parameter MLP); the additions are the
     * same, in rank order */
    enum { BLOCK = 512 };
    double sum[BLOCK];
    const double ranks = (double)d->size;
    for (size_t i0 = 0; i0 < count; i0 += BLOCK) {
        const size_t m = count - i0 < BLOCK ? count - i0 : BLOCK;
        for (size_t j = 0; j < m; j++)
            sum[j] = all[i0 + j];
        for (int r = 1; r < d->size; r++) {
            const float *rank_values = all + (size_t)r * count + i0;
            for (size_t j = 0; j < m; j++)
                sum[j] += rank_values[j];
        }
        for (size_t j = 0; j < m; j++)
            values[i0 + j] = (float)(sum[j] / ranks);
    }
}

nl_code nl_dist_status(const nl_dist *d, nl_error *err)
{
    if (!d || d->first_error.code == NL_OK)
        return NL_OK;
    *err = d->first_error;
    return d->first_error.code;
}

nl_code nl_dist_agree(nl_dist *d, nl_code mine, nl_error *err)
{
    if (!d || d->size == 1)
        return mine;
    const int code = (int)mine;
    const int *codes = nl_dist_allgather(d, &code, sizeof code);
    if (!codes)
        return mine != NL_OK ? mine : nl_dist_status(d, err);
    if (mine != NL_OK)
        return mine;
    /* the failed rank's code: bad input on rank 0 is bad input for all */
    for (int r = 0; r < d->size; r++)
        if (codes[r] != NL_OK)
            return nl_fail(err, (nl_code)codes[r], "rank %d of %d stopped with an error (%s), "
                           "so rank %d stops too", r, d->size, nl_code_name((nl_code)codes[r]),
                           d->rank);
    return NL_OK;
}

void nl_dist_abort(nl_dist *d, int status)
{
#ifdef NORMLAB_HAVE_MPI
    if (d && d->mpi && d->size > 1)
        MPI_Abort(MPI_COMM_WORLD, status);
#else
    (void)d, (void)status;
#endif
}

void nl_dist_slice(int rank, int size, int n, int *start, int *count)
{
    const int base = n / size, extra = n % size;
    *count = base + (rank < extra ? 1 : 0);
    *start = rank * base + (rank < extra ? rank : extra);
}
