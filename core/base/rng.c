#include "base/rng.h"

#include <math.h>

/* splitmix64 spreads a small user seed over the whole PCG state space */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void nl_rng_seed(nl_rng *rng, uint64_t seed, uint64_t stream)
{
    uint64_t sm = seed ^ (stream * 0xd1342543de82ef95ULL);
    rng->state = 0;
    rng->inc = (splitmix64(&sm) << 1u) | 1u;
    nl_rng_u32(rng);
    rng->state += splitmix64(&sm);
    nl_rng_u32(rng);
    rng->has_spare = 0;
    rng->spare_normal = 0.0;
}

uint32_t nl_rng_u32(nl_rng *rng)
{
    uint64_t old = rng->state;
    rng->state = old * 6364136223846793005ULL + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

float nl_rng_uniform(nl_rng *rng)
{
    return (float)(nl_rng_u32(rng) >> 8) * (1.0f / 16777216.0f);
}

uint32_t nl_rng_below(nl_rng *rng, uint32_t bound)
{
    /* Lemire's rejection keeps the result unbiased */
    uint32_t threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t r = nl_rng_u32(rng);
        if (r >= threshold)
            return r % bound;
    }
}

double nl_det_log(double x)
{
    int exponent;
    double m = frexp(x, &exponent); /* exact: x = m * 2^exponent, m in [0.5, 1) */
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        exponent -= 1;
    }
    /* log(m) = 2 atanh(s), |s| <= 0.1716, so 11 odd terms reach double precision */
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double term = s, sum = 0.0;
    for (int k = 1; k <= 23; k += 2) {
        sum += term / k;
        term *= s2;
    }
    /* ln 2 split in a high part exact in 32 bits and the remainder */
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    return (double)exponent * ln2_hi + ((double)exponent * ln2_lo + 2.0 * sum);
}

double nl_rng_normal(nl_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare_normal;
    }
    double u, v, s;
    do {
        /* 53-bit uniforms in (-1, 1) */
        uint64_t a = ((uint64_t)nl_rng_u32(rng) << 21) ^ nl_rng_u32(rng);
        uint64_t b = ((uint64_t)nl_rng_u32(rng) << 21) ^ nl_rng_u32(rng);
        u = (double)(a & ((1ULL << 53) - 1)) * (2.0 / 9007199254740992.0) - 1.0;
        v = (double)(b & ((1ULL << 53) - 1)) * (2.0 / 9007199254740992.0) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double scale = sqrt(-2.0 * nl_det_log(s) / s);
    rng->spare_normal = v * scale;
    rng->has_spare = 1;
    return u * scale;
}

void nl_rng_shuffle(nl_rng *rng, int32_t *idx, int32_t n)
{
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)nl_rng_below(rng, (uint32_t)i + 1);
        int32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
