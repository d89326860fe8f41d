/* The core's FMA peak: what one core (and every core) can multiply-add per
 * second on the widest vector instructions the chosen CPU kernel set uses,
 * measured rather than taken from a datasheet. It is vector width x FMA
 * units x the clock the core runs at under that load, found by running
 * NL_FMA_PEAK_CHAINS independent chains of vector FMAs (acc = acc * 1 + 1), so
 * that every unit always has an FMA whose inputs are ready: the chains hide
 * the FMA's latency and nothing but the units and the clock bounds the rate.
 * No memory is touched. Unlike the sgemm probe (bench.h: nl_bench_peak), it
 * does not move with the library's kernels or the caches' load, which makes
 * it the yardstick a share of peak divides by; the sgemm probe stays beside
 * it as what a library reaches. 2 FLOPs per multiply-add and lane. */
#ifndef NL_BENCH_FMA_PEAK_H
#define NL_BENCH_FMA_PEAK_H

#include "base/status.h"
#include "cpu/isa.h"

/* independent accumulators: an FMA's latency (4-5 cycles) x 2 units needs
 * 8-10 in flight; 12 fit AVX2's 16 registers beside the two operands */
#define NL_FMA_PEAK_CHAINS 12
/* steps of every chain in one call: each lane ends at its start plus this
 * count (below 2^24, so float counts it exactly), and a call lasts ~10 ms on one
 * AVX-512 core */
#define NL_FMA_PEAK_ITERATIONS (1L << 22)
#define NL_FMA_PEAK_CALLS 5 /* timed calls after one warm-up; the fastest is taken */

/* the instructions the probe runs, widest first; the table in fma_peak.c has
 * one row per kind */
typedef enum {
    NL_FMA_AVX512, /* 16 floats, vfmadd on zmm */
    NL_FMA_AVX2,   /* 8 floats, vfmadd on ymm */
    NL_FMA_SCALAR, /* 1 float, a multiply and an add as the compiler writes them */
    NL_FMA_KIND_COUNT
} nl_fma_kind;

const char *nl_fma_kind_name(nl_fma_kind kind); /* "avx512", "avx2", "scalar" */
int nl_fma_kind_width(nl_fma_kind kind);         /* floats per instruction */
/* the widest kind code compiled for `isa` (a kernel set's mask) runs */
nl_fma_kind nl_fma_kind_for(nl_isa_mask isa);

/* One call: `threads` OpenMP threads each run the chains `iterations` steps.
 * flops: the FLOPs counted (threads x chains x width x iterations x 2);
 * lane_sum: every thread's lanes summed, chain c's lanes starting at c,
 * so threads x width x (chains x iterations + chains (chains - 1) / 2) when
 * the arithmetic ran as counted; seconds: the call's wall time. */
typedef struct {
    double flops, lane_sum, seconds;
} nl_fma_run;

nl_code nl_fma_run_chains(nl_fma_kind kind, long iterations, int threads, nl_fma_run *out,
                          nl_error *err);

typedef struct {
    nl_fma_kind kind;  /* the kernel set's widest */
    int threads;       /* the second measurement's threads */
    double gflops_one; /* one thread, the fastest call */
    double gflops_all; /* `threads` threads, the fastest call */
} nl_fma_peak;

/* the peak of the chosen CPU kernel set's widest kind, on one thread and on
 * `threads` */
nl_code nl_fma_peak_probe(int threads, nl_fma_peak *out, nl_error *err);

#endif
