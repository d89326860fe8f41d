/* A seeded random number generator of our own (PCG32), so that a seed means
 * the same numbers on every machine and with every libc. Normal deviates use
 * the polar method with a logarithm computed from IEEE basic operations only,
 * so no libm difference can change a run. */
#ifndef NL_RNG_H
#define NL_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
    uint64_t inc;
    /* the polar method yields pairs; the second one is kept here */
    double spare_normal;
    int has_spare;
} nl_rng;

/* Independent streams from one seed: stream ids name the purpose
 * (weight init, shuffling, synthetic data, ...). */
enum {
    NL_STREAM_INIT = 1,
    NL_STREAM_SHUFFLE = 2,
    NL_STREAM_SYNTHETIC = 3,
    NL_STREAM_SUBSET = 4,
    NL_STREAM_WINDOWS = 5, /* window starts of token batches */
    NL_STREAM_NOISE = 6,   /* noisy batch norm's per-step draws (from a per-step key) */
    /* data shifts (core/data/shift.c): the training split's pixel noise,
     * the test split's (the next id), the few-shot choice */
    NL_STREAM_SHIFT_NOISE = 50,
    NL_STREAM_FEW_SHOT = 52,
    NL_STREAM_TEST = 100,
    NL_STREAM_BOOTSTRAP = 200, /* normlab verdict's resamples of seeds */
    NL_STREAM_SEARCH = 300,    /* normlab search's parents and mutations (core/search) */
};

void nl_rng_seed(nl_rng *rng, uint64_t seed, uint64_t stream);
uint32_t nl_rng_u32(nl_rng *rng);
/* uniform in [0, 1) with 24 random bits (exactly representable as float) */
float nl_rng_uniform(nl_rng *rng);
/* uniform integer in [0, bound) without modulo bias */
uint32_t nl_rng_below(nl_rng *rng, uint32_t bound);
/* standard normal deviate */
double nl_rng_normal(nl_rng *rng);
/* Fisher-Yates shuffle of an index array */
void nl_rng_shuffle(nl_rng *rng, int32_t *idx, int32_t n);

/* natural logarithm from IEEE basic operations (x > 0), exposed for tests */
double nl_det_log(double x);

#endif
