/* The bf16 product of gemm_bf16.h: operands packed into bf16 pairs along
 * k, an 8 x 32 register tile of fp32 accumulators fed by one dpbf16 per
 * 16 outputs and pair of k.
 *
 * The tile is written once, against a small set of vector operations
 * (zero, load pairs, splat a pair, dpbf16, store), and compiled twice:
 * with AVX-512 and the vdpbf16ps intrinsic, and with a portable model of
 * the instruction (nl_cpu_bf16_dot2_model per lane). The packing, the
 * tiling, the edges and the threads are the same code for both, so the
 * model's product, which the tests check on every CPU, is the native
 * product's bit for bit wherever the instruction does what the SDM says.
 *
 * The native tile carries its own target attribute rather than depending
 * on the kernel set's -march: every kernel set (and the build's own) holds
 * it and can run it on a CPU that has the instruction, which no x86-64
 * level includes (x86-64-v4 is AVX-512 without BF16); the CPU is checked
 * before each call (nl_isa_of_this_cpu reads CPUID once). The layers call
 * it only in the sets compiled with AVX512-BF16 (lowp.h), whose choice
 * already required the instruction. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "base/precision.h"
#include "cpu/cpu.h"
#include "cpu/gemm_bf16.h"
#include "cpu/isa.h"

#if defined(NORMLAB_HAVE_AVX512BF16)
#include <immintrin.h>
#endif

/* 8 rows x 32 columns: 16 zmm accumulators, two for the B pairs and one
 * for the splat A pair, of AVX-512's 32 registers */
enum { TILE_ROWS = 8, TILE_COLS = 32, LANES = 16 };

/* ---- the instruction's model ---- */

/* denormals-are-zero: a denormal input reads as a zero of its sign */
static inline float denormal_as_zero(float x)
{
    return fpclassify(x) == FP_SUBNORMAL ? copysignf(0.0f, x) : x;
}

/* One fp32 FMA as vdpbf16ps does each of its two: inputs with DAZ,
 * rounded to nearest even (MXCSR is not consulted: fmaf rounds in the
 * default mode, which normlab never changes), a tiny result flushed to a
 * zero of its sign. Tiny as x86 detects it for MXCSR.FTZ: after rounding,
 * to fp32's 24 bits with the exponent unbounded, below 2^-126 in
 * magnitude, whether exact or not. That differs from the fp32 result only
 * where the fp32 result is 2^-126 itself: an exact value in
 * [2^-126 - 2^-150, 2^-126 - 2^-151) rounds to 2^-126 on fp32's
 * denormal grid but to 2^-126 - 2^-150 with 24 bits, so it is tiny. a and b
 * are bf16 (8 significant bits), so a b is exact in double, and a two-sum
 * places the exact sum against that bound. */
static float fma_daz_ftz(float a, float b, float c)
{
    a = denormal_as_zero(a), b = denormal_as_zero(b), c = denormal_as_zero(c);
    const float rounded = fmaf(a, b, c);
    const float magnitude = fabsf(rounded);
    if (magnitude > FLT_MIN || !isfinite(rounded))
        return rounded;
    if (magnitude < FLT_MIN) /* a denormal, or zero */
        return copysignf(0.0f, rounded);
    const double product = (double)a * (double)b;
    const double sum = product + (double)c;
    const double c_part = sum - product;
    const double error = (product - (sum - c_part)) + ((double)c - c_part);
    /* the exact value is sum + error, sum its rounding to double */
    const double bound = ldexp(1.0, -126) - ldexp(1.0, -151);
    const double toward_zero = sum > 0.0 ? -error : error;
    const bool tiny = fabs(sum) < bound || (fabs(sum) == bound && toward_zero > 0.0);
    return tiny ? copysignf(0.0f, rounded) : rounded;
}

static inline float bf16_low(uint32_t pair) { return nl_bits_float(pair << 16); }
static inline float bf16_high(uint32_t pair) { return nl_bits_float(pair & 0xffff0000u); }

/* the x86 default NaN (the "QNaN floating-point indefinite") */
#define X86_DEFAULT_NAN 0xffc00000u

float nl_cpu_bf16_dot2_model(float acc, uint32_t a_pair, uint32_t b_pair)
{
    const float a_lo = bf16_low(a_pair), b_lo = bf16_low(b_pair);
    const float a_hi = bf16_high(a_pair), b_hi = bf16_high(b_pair);
    /* the SDM's NaN priority: src1 low, src2 low, src1 high, src2 high,
     * srcdest; the NaN comes back quieted */
    const float by_priority[] = {a_lo, b_lo, a_hi, b_hi, acc};
    for (size_t i = 0; i < sizeof by_priority / sizeof by_priority[0]; i++)
        if (isnan(by_priority[i]))
            return nl_bits_float(nl_float_bits(by_priority[i]) | 0x00400000u);
    /* SDM: srcdest += make_fp32(src1.bf16[2i+1]) * make_fp32(src2.bf16[2i+1]),
     * then srcdest += make_fp32(src1.bf16[2i]) * make_fp32(src2.bf16[2i]) */
    const float high_first = fma_daz_ftz(a_hi, b_hi, acc);
    const float result = fma_daz_ftz(a_lo, b_lo, high_first);
    return isnan(result) ? nl_bits_float(X86_DEFAULT_NAN) : result;
}

/* ---- the tile, over a vector interface ---- */

/* tile(pairs, a_panel, b_panel, out): out[r][j] = sum over the pairs p of
 * the dot of a_panel[p * TILE_ROWS + r] and b_panel[p * TILE_COLS + j],
 * accumulated pair by pair in order from zero */
typedef void tile_fn(int pairs, const uint32_t *a_panel, const uint32_t *b_panel,
                     float out[TILE_ROWS][TILE_COLS]);

#define NL_BF16_TILE(name, ATTRIBUTES, acc_t, pairs_t, ZERO, LOAD_PAIRS, SPLAT_PAIR, DPBF16,      \
                     STORE)                                                                        \
    static ATTRIBUTES void name(int pairs, const uint32_t *a_panel, const uint32_t *b_panel,      \
                                float out[TILE_ROWS][TILE_COLS])                                   \
    {                                                                                              \
        acc_t left[TILE_ROWS], right[TILE_ROWS];                                                   \
        _Pragma("GCC unroll 8") for (int r = 0; r < TILE_ROWS; r++) left[r] = ZERO(),              \
                                                                     right[r] = ZERO();            \
        for (int p = 0; p < pairs; p++, a_panel += TILE_ROWS, b_panel += TILE_COLS) {              \
            const pairs_t b_left = LOAD_PAIRS(b_panel), b_right = LOAD_PAIRS(b_panel + LANES);     \
            _Pragma("GCC unroll 8") for (int r = 0; r < TILE_ROWS; r++)                            \
            {                                                                                      \
                const pairs_t a = SPLAT_PAIR(a_panel[r]);                                          \
                left[r] = DPBF16(left[r], a, b_left);                                              \
                right[r] = DPBF16(right[r], a, b_right);                                           \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int r = 0; r < TILE_ROWS; r++)                                \
        {                                                                                          \
            STORE(out[r], left[r]);                                                                \
            STORE(out[r] + LANES, right[r]);                                                       \
        }                                                                                          \
    }

/* the model's vectors: plain arrays, one nl_cpu_bf16_dot2_model a lane */
typedef struct {
    float lane[LANES];
} model_acc;
typedef struct {
    uint32_t lane[LANES];
} model_pairs;

static inline model_acc model_zero(void) { return (model_acc){{0}}; }
static inline model_pairs model_load_pairs(const uint32_t *src)
{
    model_pairs v;
    memcpy(v.lane, src, sizeof v.lane);
    return v;
}
static inline model_pairs model_splat_pair(uint32_t pair)
{
    model_pairs v;
    for (int i = 0; i < LANES; i++)
        v.lane[i] = pair;
    return v;
}
static inline model_acc model_dpbf16(model_acc acc, model_pairs a, model_pairs b)
{
    for (int i = 0; i < LANES; i++)
        acc.lane[i] = nl_cpu_bf16_dot2_model(acc.lane[i], a.lane[i], b.lane[i]);
    return acc;
}
static inline void model_store(float *dst, model_acc v) { memcpy(dst, v.lane, sizeof v.lane); }

NL_BF16_TILE(tile_model, , model_acc, model_pairs, model_zero, model_load_pairs,
             model_splat_pair, model_dpbf16, model_store)

#if defined(NORMLAB_HAVE_AVX512BF16)
#define NATIVE_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static inline NATIVE_TARGET __m512 native_zero(void) { return _mm512_setzero_ps(); }
static inline NATIVE_TARGET __m512bh native_load_pairs(const uint32_t *src)
{
    return (__m512bh)_mm512_loadu_si512(src);
}
static inline NATIVE_TARGET __m512bh native_splat_pair(uint32_t pair)
{
    return (__m512bh)_mm512_set1_epi32((int)pair);
}
static inline NATIVE_TARGET __m512 native_dpbf16(__m512 acc, __m512bh a, __m512bh b)
{
    return _mm512_dpbf16_ps(acc, a, b);
}
static inline NATIVE_TARGET void native_store(float *dst, __m512 v) { _mm512_storeu_ps(dst, v); }

NL_BF16_TILE(tile_native, NATIVE_TARGET, __m512, __m512bh, native_zero, native_load_pairs,
             native_splat_pair, native_dpbf16, native_store)
#endif

/* ---- packing, tiling, threads: shared by both tiles ---- */

/* the bf16 bits of x: its high half, rounded to nearest even (nothing to
 * round in an operand that autocast's rounding already went through) */
static inline uint32_t bf16_bits(float x) { return nl_float_bits(nl_round_bf16(x)) >> 16; }

static inline size_t pair_count(int k) { return ((size_t)k + 1) / 2; }
static inline size_t cache_lines(size_t bytes) { return (bytes + 63) / 64 * 64; }
static inline int tiles_of(int extent, int tile) { return (extent + tile - 1) / tile; }

static size_t a_packed_bytes(int m, int k)
{
    return cache_lines((size_t)tiles_of(m, TILE_ROWS) * TILE_ROWS * pair_count(k) *
                       sizeof(uint32_t));
}

size_t nl_cpu_gemm_bf16_scratch(int m, int n, int k)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return 0;
    return a_packed_bytes(m, k) +
           cache_lines((size_t)tiles_of(n, TILE_COLS) * TILE_COLS * pair_count(k) *
                       sizeof(uint32_t));
}

typedef struct {
    bool trans_a, trans_b;
    int m, n, k;
    const float *a, *b;
    int lda, ldb;
    float beta;
    float *c;
    int ldc;
    uint32_t *a_packed, *b_packed;
} product;

static inline uint32_t pair_bits(float even_k, float odd_k)
{
    return bf16_bits(even_k) | bf16_bits(odd_k) << 16;
}

/* An operand as lines of k depths, A's rows or B's columns: line l's
 * depth d at src[l * ld + d] where the depths are contiguous (A as
 * stored, B transposed), else at src[d * ld + l]. */
typedef struct {
    const float *src;
    int ld, lines;
    bool depths_contiguous;
} lines_of;

/* line l's depth d; 0 past k (an odd k's last pair) or past the lines (a
 * ragged tile's padding) */
static inline uint32_t line_at(const lines_of *o, int k, int l, int d)
{
    if (l >= o->lines || d >= k)
        return 0;
    return bf16_bits(o->depths_contiguous ? o->src[(size_t)l * o->ld + d]
                                          : o->src[(size_t)d * o->ld + l]);
}

/* Lines line0 .. line0+width as [pair][line]: the line's even k low, odd k
 * high. Packing is a pass over both operands per call, as long as the
 * multiply itself where one side of the product is narrow (a 128-column
 * dx over 512 inputs), so whole tiles go through loops without bounds
 * checks that the compiler turns into vector code (width a constant once
 * inlined); the ragged edges go element by element. */
static inline __attribute__((always_inline)) void pack_lines(const lines_of *o, int k, int line0,
                                                             int width, uint32_t *dst)
{
    const size_t pairs = pair_count(k), whole_pairs = (size_t)k / 2;
    size_t p = 0;
    if (line0 + width <= o->lines && o->depths_contiguous) {
        for (int r = 0; r < width; r++) {
            const float *src = o->src + (size_t)(line0 + r) * o->ld;
            for (size_t q = 0; q < whole_pairs; q++)
                dst[q * width + r] = pair_bits(src[2 * q], src[2 * q + 1]);
        }
        p = whole_pairs;
    } else if (line0 + width <= o->lines) {
        for (; p < whole_pairs; p++) {
            const float *even = o->src + 2 * p * o->ld + line0, *odd = even + o->ld;
            for (int r = 0; r < width; r++)
                dst[p * width + r] = pair_bits(even[r], odd[r]);
        }
    }
    for (; p < pairs; p++)
        for (int r = 0; r < width; r++) {
            const int l = line0 + r, depth = (int)(2 * p);
            dst[p * width + r] = line_at(o, k, l, depth) | line_at(o, k, l, depth + 1) << 16;
        }
}

/* rows t*8 .. t*8+8 of A */
static void pack_a_tile(const product *g, int t)
{
    const lines_of rows = {g->a, g->lda, g->m, !g->trans_a};
    pack_lines(&rows, g->k, t * TILE_ROWS, TILE_ROWS,
               g->a_packed + (size_t)t * TILE_ROWS * pair_count(g->k));
}

/* columns q*32 .. q*32+32 of B */
static void pack_b_panel(const product *g, int q)
{
    const lines_of cols = {g->b, g->ldb, g->n, g->trans_b};
    pack_lines(&cols, g->k, q * TILE_COLS, TILE_COLS,
               g->b_packed + (size_t)q * TILE_COLS * pair_count(g->k));
}

/* output tile i: row tiles vary fastest, so a thread's run of tiles
 * reuses one B panel */
static void output_tile(const product *g, tile_fn *tile, int i)
{
    const int row_tiles = tiles_of(g->m, TILE_ROWS);
    const int t = i % row_tiles, q = i / row_tiles;
    const size_t pairs = pair_count(g->k);
    float out[TILE_ROWS][TILE_COLS];
    tile((int)pairs, g->a_packed + (size_t)t * TILE_ROWS * pairs,
         g->b_packed + (size_t)q * TILE_COLS * pairs, out);
    const int row0 = t * TILE_ROWS, col0 = q * TILE_COLS;
    const int height = g->m - row0 < TILE_ROWS ? g->m - row0 : TILE_ROWS;
    const int width = g->n - col0 < TILE_COLS ? g->n - col0 : TILE_COLS;
    for (int r = 0; r < height; r++) {
        float *dst = g->c + (size_t)(row0 + r) * g->ldc + col0;
        if (g->beta == 0.0f)
            memcpy(dst, out[r], (size_t)width * sizeof *dst);
        else
            for (int j = 0; j < width; j++)
                dst[j] = out[r][j] + g->beta * dst[j];
    }
}

static void run_product(const product *g, tile_fn *tile)
{
    const int row_tiles = tiles_of(g->m, TILE_ROWS), panels = tiles_of(g->n, TILE_COLS);
    const int tiles = row_tiles * panels;
    /* waking the second thread costs about as much as 128k multiply-adds
     * (gemm.c); below that the calling thread does it all, without a team,
     * as it does inside a caller's team (conv2d.c's chunks: one product a
     * thread) */
    if ((long)g->m * g->n * g->k >= 4 * NL_PARALLEL_MIN && !omp_in_parallel_safe()) {
        #pragma omp parallel
        {
            #pragma omp for schedule(static)
            for (int t = 0; t < row_tiles; t++)
                pack_a_tile(g, t);
            #pragma omp for schedule(static)
            for (int q = 0; q < panels; q++)
                pack_b_panel(g, q);
            #pragma omp for schedule(static)
            for (int i = 0; i < tiles; i++)
                output_tile(g, tile, i);
        }
        return;
    }
    for (int t = 0; t < row_tiles; t++)
        pack_a_tile(g, t);
    for (int q = 0; q < panels; q++)
        pack_b_panel(g, q);
    for (int i = 0; i < tiles; i++)
        output_tile(g, tile, i);
}

/* C = beta C where k is 0: no products to add */
static void scale_only(int m, int n, float beta, float *c, int ldc)
{
    for (int r = 0; r < m; r++)
        for (int j = 0; j < n; j++) {
            float *dst = c + (size_t)r * ldc + j;
            *dst = beta == 0.0f ? 0.0f : beta * *dst;
        }
}

static void gemm_bf16(tile_fn *tile, bool trans_a, bool trans_b, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc, void *scratch)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        scale_only(m, n, beta, c, ldc);
        return;
    }
    const product g = {
        .trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k,
        .a = a, .b = b, .lda = lda, .ldb = ldb, .beta = beta, .c = c, .ldc = ldc,
        .a_packed = scratch,
        .b_packed = (uint32_t *)((char *)scratch + a_packed_bytes(m, k)),
    };
    run_product(&g, tile);
}

void nl_cpu_gemm_bf16_model(bool trans_a, bool trans_b, int m, int n, int k, const float *a,
                            int lda, const float *b, int ldb, float beta, float *c, int ldc,
                            void *scratch)
{
    gemm_bf16(tile_model, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, scratch);
}

bool nl_cpu_gemm_bf16_native_runs_here(void)
{
#if defined(NORMLAB_HAVE_AVX512BF16)
    const nl_isa_mask needs = NL_ISA_BIT(AVX512F) | NL_ISA_BIT(AVX512BW) |
                              NL_ISA_BIT(AVX512VL) | NL_ISA_BIT(AVX512BF16);
    return (nl_isa_of_this_cpu() & needs) == needs;
#else
    return false;
#endif
}

bool nl_cpu_gemm_bf16_native(bool trans_a, bool trans_b, int m, int n, int k, const float *a,
                             int lda, const float *b, int ldb, float beta, float *c, int ldc,
                             void *scratch)
{
#if defined(NORMLAB_HAVE_AVX512BF16)
    if (!nl_cpu_gemm_bf16_native_runs_here())
        return false;
    gemm_bf16(tile_native, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, scratch);
    return true;
#else
    (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b;
    (void)ldb, (void)beta, (void)c, (void)ldc, (void)scratch;
    return false;
#endif
}
