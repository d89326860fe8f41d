/* A counter-based random source: the value for (key, i) is a pure function
 * of both, the same on the host and on every backend. Kernels that need a
 * random number per element (dropout's mask) draw element i from the key
 * of the step without any state to carry, so a step repeats bit for bit
 * whatever the thread count or launch decomposition, and a resumed run
 * draws what the uninterrupted one did. The mixer is SplitMix64's
 * finalizer (Steele et al. 2014), whose outputs over consecutive counters
 * pass BigCrush. Included by C and by CUDA sources. */
#ifndef NL_COUNTER_RNG_H
#define NL_COUNTER_RNG_H

#include <stdint.h>

#if defined(__CUDACC__)
#define NL_COUNTER_FN static inline __host__ __device__
#else
#define NL_COUNTER_FN static inline
#endif

/* the bits of a draw that count: a float in [0, 1) holds 24 exactly */
#define NL_COUNTER_BITS 24

NL_COUNTER_FN uint64_t nl_counter_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* a key for one use of the source: `stream` names the user (a layer),
 * `counter` the occasion (a step), both folded into the seed */
NL_COUNTER_FN uint64_t nl_counter_key(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return nl_counter_mix(nl_counter_mix(seed ^ nl_counter_mix(stream + 0x9E3779B97F4A7C15ull)) +
                          counter * 0x9E3779B97F4A7C15ull);
}

/* a stream id from a name (FNV-1a): a layer's draws are its own */
NL_COUNTER_FN uint64_t nl_counter_stream_of(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 0x100000001b3ull;
    return h;
}

/* draw i of a key: NL_COUNTER_BITS uniform bits */
NL_COUNTER_FN uint32_t nl_counter_draw(uint64_t key, uint64_t i)
{
    return (uint32_t)(nl_counter_mix(key + (i + 1) * 0x9E3779B97F4A7C15ull) >>
                      (64 - NL_COUNTER_BITS));
}

#undef NL_COUNTER_FN
#endif
