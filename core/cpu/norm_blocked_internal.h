/* What the blocked normalizers' forward (norm_blocked.c) and backward
 * (norm_blocked_backward.c) share: the layout's indexing and the sums pass.
 * It includes no norm_blocked.h, which is norm_blocked.c's module. */
#ifndef NL_CPU_NORM_BLOCKED_INTERNAL_H
#define NL_CPU_NORM_BLOCKED_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "base/precision.h"
#include "cpu/reduce.h"

enum {
    LANES = 8,                       /* floats per vector */
    BLOCK_MAX = 64,                  /* the largest block B */
    VECTORS_MAX = BLOCK_MAX / LANES, /* vectors per pixel */
    PIXEL_CHUNK = 32,                /* pixels per float partial: 8 per phase */
    PANEL = 512,                     /* channels of the per-channel stack arrays */
};

/* ---- operands in 16-bit storage (nl_norm_geom.io) ----
 * The kernels take a constant word per copy: the mask of the operands
 * stored narrow (IO_X ...), all of them in the one 16-bit type of the
 * plan's precision pass, IO_FP16 set where that is fp16 (else bf16). */
enum {
    IO_X = 1u << NL_IO_X,
    IO_Y = 1u << NL_IO_Y,
    IO_DX = 1u << NL_IO_DX,
    IO_DY = 1u << NL_IO_DY,
    IO_OPERANDS = IO_X | IO_Y | IO_DX | IO_DY,
    IO_FP16 = 1u << NL_IO_OPERANDS,
};

/* the kernels' word of g's operand storage */
static inline unsigned io_word(const nl_norm_geom *g)
{
    const unsigned mask = nl_io_narrow(g->io);
    bool fp16 = false;
    for (int k = 0; k < NL_IO_OPERANDS; k++) {
        assert(g->io[k] < NL_STORAGE_COUNT && "a row of base/storage.def");
        fp16 |= g->io[k] == NL_STORAGE_FP16;
        assert((g->io[k] == NL_STORAGE_FP32 || !fp16 || g->io[k] == NL_STORAGE_FP16) &&
               "one 16-bit type per kernel");
    }
    return mask | (fp16 ? IO_FP16 : 0u);
}

/* the storage type (nl_storage) of the operand `bit` under word io */
#define IO_ST(io, bit)                                                                             \
    ((io) & (bit) ? ((io) & IO_FP16 ? NL_STORAGE_FP16 : NL_STORAGE_BF16) : NL_STORAGE_FP32)

/* ---- operands stored as bf16 or fp16 ----
 * A bf16 operand is a uint16_t array with the fp32 array's element index,
 * each word the upper half of an fp32; its pointer keeps the op's float *
 * type and is only ever read through these helpers. Values are widened on
 * load and rounded on store, in registers, so the arithmetic and the order
 * of every sum are the fp32 kernel's. The helpers take the storage type
 * `st` as a constant of the copy they are inlined into (one copy per case
 * of the word), so that no flag is tested in a loop. An fp16 operand is a
 * uint16_t array of IEEE halves, converted by F16C (vcvtph2ps, vcvtps2ph
 * rounding to nearest even: every AVX2 host, the x86-64-v3 sets and up)
 * or, in the x86-64 set, lane by lane by base/precision.h's scalar
 * reference, nl_fp16_value and nl_fp16_word, which F16C matches bit for
 * bit (NaNs quieted, their payload's top bits kept). */
typedef uint16_t io_h8 __attribute__((vector_size(16), aligned(2), may_alias));
typedef uint32_t io_u8 __attribute__((vector_size(32)));

/* element i of an operand, fp32 or bf16: its address */
static inline __attribute__((always_inline)) const void *io_at(const void *p, size_t i, bool bf16)
{
    return bf16 ? (const void *)((const uint16_t *)p + i) : (const void *)((const float *)p + i);
}
static inline __attribute__((always_inline)) void *io_at_w(void *p, size_t i, bool bf16)
{
    return bf16 ? (void *)((uint16_t *)p + i) : (void *)((float *)p + i);
}

/* 8 values from element i: bf16 widened (zero-extended and shifted up 16
 * bits: vpmovzxwd and vpslld where the set has AVX2), fp16 converted */
static inline __attribute__((always_inline)) nl_v8 io_load(const void *p, size_t i, unsigned st)
{
    if (st == NL_STORAGE_FP32)
        return nl_v8_load((const float *)p + i);
    const uint16_t *h = (const uint16_t *)p + i;
    if (st == NL_STORAGE_FP16) {
#if defined(__F16C__)
        return (nl_v8)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
#else
        nl_v8 v;
        for (int l = 0; l < LANES; l++)
            v[l] = nl_fp16_value(h[l]);
        return v;
#endif
    }
#if defined(__AVX2__)
    return (nl_v8)_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)h)), 16);
#else
    return (nl_v8)(__builtin_convertvector(*(const io_h8 *)h, io_u8) << 16);
#endif
}

/* v's bf16 halves in the low 16 bits of each lane: rounded to nearest,
 * ties to even, a NaN kept a quiet NaN, bit for bit base/precision.h's
 * nl_round_bf16 (its upper half). The NaN lanes are handled by masks, not
 * a select between two results, and found without AVX by arithmetic: a
 * vector compare or select of 8 lanes, wider than SSE2's registers, is
 * taken lane by lane there. */
static inline __attribute__((always_inline)) nl_v8i bf16_halves(nl_v8 v)
{
    const io_u8 bits = (io_u8)v;
    /* all ones in a NaN lane, which gets the quiet bit and no rounding
     * increment: v unordered with itself, or without AVX |bits| above
     * infinity's (the difference, of two values below 2^31, negative) */
#if defined(__AVX__)
    const io_u8 nan = (io_u8)_mm256_cmp_ps((__m256)v, (__m256)v, _CMP_UNORD_Q);
#else
    const io_u8 nan = -((0x7f800000u - (bits & 0x7fffffffu)) >> 31);
#endif
    const io_u8 up = (0x7fffu + ((bits >> 16) & 1u)) & ~nan;
    return (nl_v8i)(((bits | (nan & 0x00400000u)) + up) >> 16);
}

/* v stored at element i, rounded to the storage (bf16_halves for bf16) */
static inline __attribute__((always_inline)) void io_store(void *p, size_t i, nl_v8 v, unsigned st)
{
    if (st == NL_STORAGE_FP32) {
        nl_v8_store((float *)p + i, v);
        return;
    }
    uint16_t *h = (uint16_t *)p + i;
    if (st == NL_STORAGE_FP16) {
#if defined(__F16C__)
        _mm_storeu_si128((__m128i *)h, _mm256_cvtps_ph((__m256)v, _MM_FROUND_TO_NEAREST_INT));
#else
        for (int l = 0; l < LANES; l++)
            h[l] = nl_fp16_word(v[l]);
#endif
        return;
    }
    const nl_v8i half = bf16_halves(v);
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    _mm_storeu_si128((__m128i *)h, _mm256_cvtepi32_epi16((__m256i)half));
#elif defined(__AVX2__)
    /* the halves packed within each 128-bit lane, then lanes' low quadwords */
    const __m256i packed = _mm256_packus_epi32((__m256i)half, (__m256i)half);
    _mm_storeu_si128((__m128i *)h, _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08)));
#else
    *(io_h8 *)h = __builtin_convertvector(half, io_h8);
#endif
}

/* v0 and v1 stored at elements i and i + 8. Under AVX2 alone, bf16 takes
 * one pack and one permute for the two (each a shuffle, on the one port
 * that also widens the loads: the apply pass's bottleneck on one core) */
static inline __attribute__((always_inline)) void io_store2(void *p, size_t i, nl_v8 v0, nl_v8 v1,
                                                            unsigned st)
{
#if defined(__AVX2__) && !(defined(__AVX512BW__) && defined(__AVX512VL__))
    if (st == NL_STORAGE_BF16) {
        /* (v0 0-3, v1 0-3 | v0 4-7, v1 4-7), then its quadwords 0, 2, 1, 3 */
        const __m256i packed =
            _mm256_packus_epi32((__m256i)bf16_halves(v0), (__m256i)bf16_halves(v1));
        _mm256_storeu_si256((__m256i *)((uint16_t *)p + i), _mm256_permute4x64_epi64(packed, 0xd8));
        return;
    }
#endif
    io_store(p, i, v0, st);
    io_store(p, i + LANES, v1, st);
}

/* one value (the shifts the sums are taken about) */
static inline float io_get(const void *p, size_t i, unsigned st)
{
    if (st == NL_STORAGE_FP32)
        return ((const float *)p)[i];
    const uint16_t h = ((const uint16_t *)p)[i];
    return st == NL_STORAGE_FP16 ? nl_fp16_value(h) : nl_bf16_value(h);
}

/* the gradient g at element i: dy, or dy where y > 0 with y (a fused
 * ReLU's output), each in its storage (io: the constant mask) */
static inline __attribute__((always_inline)) nl_v8 io_dy_load(const void *dy, const void *y,
                                                              size_t i, unsigned io)
{
    const nl_v8 g = io_load(dy, i, IO_ST(io, IO_DY));
    return y ? nl_v8_pass_where(g, io_load(y, i, IO_ST(io, IO_Y))) : g;
}

/* CALL(word) for the mask io holds of the bits a, b (c, d) with io's
 * IO_FP16, each word a constant: one copy per case and per 16-bit type.
 * IO_CASES4 also takes the caller's macro CALL##_WITH(word), CALL(word |
 * d), for the masks with d. */
#define IO_CASES2_OF(io, CALL, a, b, t)                                                            \
    switch ((io) & ((a) | (b))) {                                                                  \
    case 0: CALL(t); break;                                                                        \
    case (a): CALL((a) | (t)); break;                                                              \
    case (b): CALL((b) | (t)); break;                                                              \
    default: CALL((a) | (b) | (t)); break;                                                         \
    }
#define IO_CASES3_OF(io, CALL, a, b, c, t)                                                         \
    switch ((io) & ((a) | (b) | (c))) {                                                            \
    case 0: CALL(t); break;                                                                        \
    case (a): CALL((a) | (t)); break;                                                              \
    case (b): CALL((b) | (t)); break;                                                              \
    case (a) | (b): CALL((a) | (b) | (t)); break;                                                  \
    case (c): CALL((c) | (t)); break;                                                              \
    case (a) | (c): CALL((a) | (c) | (t)); break;                                                  \
    case (b) | (c): CALL((b) | (c) | (t)); break;                                                  \
    default: CALL((a) | (b) | (c) | (t)); break;                                                   \
    }
#define IO_CASES2(io, CALL, a, b)                                                                  \
    do {                                                                                           \
        if ((io) & IO_FP16) {                                                                      \
            IO_CASES2_OF(io, CALL, a, b, IO_FP16)                                                  \
        } else {                                                                                   \
            IO_CASES2_OF(io, CALL, a, b, 0)                                                        \
        }                                                                                          \
    } while (0)
#define IO_CASES3(io, CALL, a, b, c)                                                               \
    do {                                                                                           \
        if ((io) & IO_FP16) {                                                                      \
            IO_CASES3_OF(io, CALL, a, b, c, IO_FP16)                                               \
        } else {                                                                                   \
            IO_CASES3_OF(io, CALL, a, b, c, 0)                                                     \
        }                                                                                          \
    } while (0)
#define IO_CASES4(io, CALL, a, b, c, d)                                                            \
    do {                                                                                           \
        if ((io) & (d)) {                                                                          \
            IO_CASES3(io, CALL##_WITH, a, b, c);                                                    \
        } else {                                                                                   \
            IO_CASES3(io, CALL, a, b, c);                                                           \
        }                                                                                          \
    } while (0)

/* the operands' mask of a word, its type bit dropped (the copies' choice
 * of a wide loop compares masks) */
#define IO_MASK_OF(m) ((m) & IO_OPERANDS)

static inline float gamma_at(const float *gamma, int c) { return gamma ? gamma[c] : 1.0f; }
static inline float beta_at(const float *beta, int c) { return beta ? beta[c] : 0.0f; }

typedef struct {
    int n, c, hw, B;
    int nb;          /* channel blocks per sample */
    int groups, cpg; /* cpg: channels per statistics group (groups >= 1) */
} layout;

static inline layout layout_of(const nl_norm_geom *g)
{
    assert(g->block > 0 && g->block % LANES == 0 && g->block <= BLOCK_MAX &&
           g->c % g->block == 0 && "a block is a multiple of 8 that divides C");
    assert(g->stats_precision == NL_PRECISION_FP32 && "blocked statistics are fp32");
    assert((g->groups == 0 || g->c % g->groups == 0) && "groups divide C");
    return (layout){g->n, g->c, g->hw, g->block, g->c / g->block, g->groups,
                    g->groups ? g->c / g->groups : 0};
}

/* the first float of item (i, cb), item index i * nb + cb */
static inline size_t item_at(const layout *L, long item)
{
    return (size_t)item * (size_t)L->hw * (size_t)L->B;
}

/* value (i, c, p) */
static inline size_t value_at(const layout *L, int i, int c, int p)
{
    return (((size_t)i * L->nb + (size_t)(c / L->B)) * L->hw + (size_t)p) * L->B +
           (size_t)(c % L->B);
}

/* the statistics group of channel c in sample i */
static inline long stat_of(const layout *L, int i, int c)
{
    return L->groups == 0 ? c : (long)i * L->groups + c / L->cpg;
}

/* What the sums of channel c in sample i are taken about: STATS, a value of
 * its statistics group, the one the plain kernels shift by (batch: the
 * channel's first value in sample 0; groups: the group's first value in
 * this sample; 0 without centring); PLANE, the plane's first value; MEAN,
 * the saved mean (the backward's sums of dy * (x - mean)). */
typedef enum { SHIFT_STATS, SHIFT_PLANE, SHIFT_MEAN } shift_kind;

/* The sums of the items of samples [i0, i1) and channel blocks [b0, b1)
 * into part: entry (i - i0) * width + (c - b0 * B), width = (b1 - b0) * B,
 * two doubles each: the sums of (x - shift) and (x - shift)^2, or with dy
 * of g and g * (x - shift) (item_sums). */
void nl_cpu_blocked_tile_sums(const layout *L, const nl_norm_geom *g, shift_kind kind, int i0,
                              int i1, int b0, int b1, const float *x, const float *dy,
                              const float *y, const float *save_mean, double *part);

/* the samples a tile of per-sample groups takes (norm_blocked.c says why) */
int nl_cpu_blocked_cached_samples(const layout *L);

/* per channel of blocks [b0, b1): the sums over every sample, in sample
 * order, into total (two per channel), through part (entries of it) in
 * tiles of samples */
void nl_cpu_blocked_channel_totals(const layout *L, const nl_norm_geom *g, shift_kind kind, int b0,
                                   int b1, const float *x, const float *dy, const float *y,
                                   const float *save_mean, double *part, size_t entries,
                                   double *total);

#endif
