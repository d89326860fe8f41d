/* The timing the ceiling programs of this folder share: the best of `reps`
 * runs of an expression, in seconds (the host's noise only ever adds time).
 * Needs _POSIX_C_SOURCE 200809L before the first system header. */
#ifndef NL_BENCH_BEST_TIME_H
#define NL_BENCH_BEST_TIME_H

#include <time.h>

/* the clock BEST reads: the wall clock unless a program chooses another
 * (with one thread, CLOCK_THREAD_CPUTIME_ID leaves out the time the host
 * gave to other processes, which on a shared host is most of the noise) */
static clockid_t nl_bench_clock = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(nl_bench_clock, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define BEST(expr, reps)                                                                           \
    ({                                                                                             \
        double best_ = 1e30;                                                                       \
        for (int r_ = 0; r_ < (reps); r_++) {                                                      \
            const double t0_ = now();                                                              \
            expr;                                                                                  \
            const double t_ = now() - t0_;                                                         \
            best_ = t_ < best_ ? t_ : best_;                                                       \
        }                                                                                          \
        best_;                                                                                     \
    })

#endif
