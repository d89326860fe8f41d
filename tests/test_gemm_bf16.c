// ctest-labels: cpu
/* The bf16 product of core/cpu/gemm_bf16.c.
 *
 * On every CPU, through the software model of vdpbf16ps:
 *  - the model's lane against the SDM's description on inputs that tell
 *    its choices apart: high pair before low pair, each a fused
 *    multiply-add rounded to nearest even, denormal inputs read as zero,
 *    tiny results flushed to zero (x86's tininess, after rounding), NaN
 *    priority;
 *  - the product over shapes that are not multiples of the 8 x 32 tile,
 *    odd k (the last pair's high half padded with zero), every transpose,
 *    leading dimensions wider than the matrix, beta 0, 1 and -0.5, one and
 *    two threads: with beta 0 and 1 bit for bit against the lanes applied
 *    output by output in the SDM's order (what the packing and tiling must
 *    reproduce); with every beta within the bound of fp32 accumulation of
 *    a plain double-accumulated product,
 *    the same bits with one thread as with two, C's padding untouched, no
 *    write past the planned scratch.
 *
 * Where the CPU has AVX512-BF16 (Zen 4, Sapphire Rapids and later), the
 * instruction itself: the same lanes and products bit for bit against the
 * model. Elsewhere (this test says so as it runs) the native product must
 * decline, touching nothing.
 *
 * Then linear and conv2d under bf16 through that product as the
 * x86-64-v4-bf16 kernel set runs it, with the model in place of the
 * instruction (below, "the layers' bf16 products"). */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/precision.h"
#include "cpu/gemm_bf16.h"
#include "testutil.h"

#if defined(NORMLAB_HAVE_AVX512BF16)
#include <immintrin.h>
#endif

static uint16_t bf16_of(float x) { return (uint16_t)(nl_float_bits(nl_round_bf16(x)) >> 16); }
static uint32_t pair_of(float even_k, float odd_k)
{
    return (uint32_t)bf16_of(even_k) | (uint32_t)bf16_of(odd_k) << 16;
}
static uint32_t pair_bits(uint16_t even_k, uint16_t odd_k)
{
    return (uint32_t)even_k | (uint32_t)odd_k << 16;
}

/* lanes whose results tell the model's choices apart */
typedef struct {
    const char *what;
    float acc;
    uint32_t a, b;
    uint32_t want; /* the result's bits */
} lane_case;

static int lane_cases(lane_case *cases)
{
    const float tiny_product = ldexpf(1.0f, -12); /* 2^-12 squared: 2^-24 */
    int n = 0;
    /* high first: 1 + 2^-24 ties to 1, then - 1 gives 0; low first would
     * give 0 + 2^-24 */
    cases[n++] = (lane_case){"high pair before low pair", 1.0f,
                             pair_of(-1.0f, tiny_product), pair_of(1.0f, tiny_product), 0u};
    /* denormal bf16 inputs read as zero: 2^-127 * 2^100 would be 2^-27 */
    cases[n++] = (lane_case){"denormal input read as zero", 0.0f,
                             pair_bits(0x0040 /* 2^-127 */, 0), pair_of(ldexpf(1.0f, 100), 0.0f),
                             0u};
    /* a tiny result flushes to zero of its sign: -2^-100 * 2^-30, in the
     * low pair (after the high pair's +0, whose sum with -0 is +0) */
    cases[n++] = (lane_case){"tiny result flushed to -0", 0.0f,
                             pair_of(-ldexpf(1.0f, -100), 0.0f), pair_of(ldexpf(1.0f, -30), 0.0f),
                             0x80000000u};
    /* x86's tininess is after rounding to 24 bits, exponent unbounded:
     * 2^-126 - 2^-150 stays below 2^-126 there (tiny: flushed), though
     * fp32's denormal grid rounds it up to 2^-126 (a tie, to even) */
    cases[n++] = (lane_case){"tiny after rounding to 24 bits", FLT_MIN,
                             pair_of(0.0f, -ldexpf(1.0f, -75)), pair_of(0.0f, ldexpf(1.0f, -75)),
                             0u};
    /* 2^-126 - 2^-160 rounds to 2^-126 with 24 bits: not tiny, kept */
    cases[n++] = (lane_case){"rounds up to 2^-126: not tiny", FLT_MIN,
                             pair_of(0.0f, -ldexpf(1.0f, -80)), pair_of(0.0f, ldexpf(1.0f, -80)),
                             nl_float_bits(FLT_MIN)};
    /* the normal result just above: 2^-126 + 2^-149 stays */
    cases[n++] = (lane_case){"normal result kept", FLT_MIN,
                             pair_of(0.0f, ldexpf(1.0f, -75)), pair_of(0.0f, ldexpf(1.0f, -74)),
                             nl_float_bits(FLT_MIN) + 1u};
    /* rounding to nearest even at a tie: 1 + 3 * 2^-24 -> 1 + 2^-22 */
    cases[n++] = (lane_case){"tie to even", 1.0f, pair_of(0.0f, 3.0f * ldexpf(1.0f, -12)),
                             pair_of(0.0f, ldexpf(1.0f, -12)), nl_float_bits(1.0f) + 2u};
    /* the NaN of highest priority (src1's low half) comes back quieted */
    cases[n++] = (lane_case){"NaN priority", 1.0f, pair_bits(0x7f81 /* sNaN */, 0x3f80),
                             pair_bits(0x3f80, 0x7fc2), 0x7fc10000u};
    cases[n++] = (lane_case){"inf * 0 gives the default NaN", 1.0f, pair_of(0.0f, INFINITY),
                             pair_of(1.0f, 0.0f), 0xffc00000u};
    /* FLT_MAX plus bf16's largest finite value */
    cases[n++] = (lane_case){"overflow to inf", FLT_MAX, pair_bits(0, 0x7f7f),
                             pair_of(0.0f, 1.0f), 0x7f800000u};
    return n;
}

enum { MAX_LANE_CASES = 16 };

START_TEST(test_model_lane)
{
    lane_case cases[MAX_LANE_CASES];
    const int n = lane_cases(cases);
    for (int i = 0; i < n; i++) {
        const float got = nl_cpu_bf16_dot2_model(cases[i].acc, cases[i].a, cases[i].b);
        ck_assert_msg(nl_float_bits(got) == cases[i].want, "%s: model gives %08x, want %08x",
                      cases[i].what, nl_float_bits(got), cases[i].want);
    }
}
END_TEST

/* ---- products ---- */

typedef struct {
    int m, n, k;
} shape;

/* tile edges, odd k, one pair, a single output, and (the last) a product
 * large enough to be split over threads */
static const shape shapes[] = {
    {1, 1, 1},   {8, 32, 2},   {7, 33, 5},  {9, 31, 3},   {17, 65, 64},
    {13, 40, 127}, {3, 100, 9}, {33, 70, 301}, {50, 97, 96},
};
enum { SHAPES = sizeof shapes / sizeof shapes[0] };

typedef void product_fn(bool, bool, int, int, int, const float *, int, const float *, int, float,
                        float *, int, void *);

static void native_or_fail(bool ta, bool tb, int m, int n, int k, const float *a, int lda,
                           const float *b, int ldb, float beta, float *c, int ldc, void *scratch)
{
    ck_assert(nl_cpu_gemm_bf16_native(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, scratch));
}

typedef struct {
    bool trans_a, trans_b;
    int m, n, k, lda, ldb, ldc;
    float *a, *b, *c0; /* c0: C before the product */
} operands;

enum { PAD = 3, GUARD = 256 };

static float a_el(const operands *o, int i, int d)
{
    return o->trans_a ? o->a[(size_t)d * o->lda + i] : o->a[(size_t)i * o->lda + d];
}
static float b_el(const operands *o, int d, int j)
{
    return o->trans_b ? o->b[(size_t)j * o->ldb + d] : o->b[(size_t)d * o->ldb + j];
}

/* operands of bf16 values, stored with leading dimensions PAD wider than
 * the matrix, C's padding set to a value the product must leave alone */
static operands make_operands(shape s, bool ta, bool tb, uint64_t seed)
{
    operands o = {.trans_a = ta, .trans_b = tb, .m = s.m, .n = s.n, .k = s.k};
    const int a_rows = ta ? s.k : s.m, a_cols = ta ? s.m : s.k;
    const int b_rows = tb ? s.n : s.k, b_cols = tb ? s.k : s.n;
    o.lda = a_cols + PAD, o.ldb = b_cols + PAD, o.ldc = s.n + PAD;
    const size_t a_size = (size_t)a_rows * o.lda, b_size = (size_t)b_rows * o.ldb;
    const size_t c_size = (size_t)s.m * o.ldc;
    o.a = malloc(a_size * sizeof *o.a);
    o.b = malloc(b_size * sizeof *o.b);
    o.c0 = malloc(c_size * sizeof *o.c0);
    tu_fill_normal(o.a, a_size, seed, 0.0f, 1.0f);
    tu_fill_normal(o.b, b_size, seed + 1, 0.0f, 1.0f);
    tu_fill_normal(o.c0, c_size, seed + 2, 0.0f, 1.0f);
    for (size_t i = 0; i < a_size; i++)
        o.a[i] = nl_round_bf16(o.a[i]);
    for (size_t i = 0; i < b_size; i++)
        o.b[i] = nl_round_bf16(o.b[i]);
    for (int i = 0; i < s.m; i++)
        for (int j = s.n; j < o.ldc; j++)
            o.c0[(size_t)i * o.ldc + j] = 12345.0f;
    return o;
}

static void free_operands(operands *o)
{
    free(o->a), free(o->b), free(o->c0);
}

/* C after the product with `beta`, from c0; the scratch's GUARD bytes past
 * its planned size must stay as they were */
static float *run(product_fn *fn, const operands *o, float beta, bool nan_c)
{
    const size_t c_size = (size_t)o->m * o->ldc;
    float *c = malloc(c_size * sizeof *c);
    memcpy(c, o->c0, c_size * sizeof *c);
    if (nan_c)
        for (int i = 0; i < o->m; i++)
            for (int j = 0; j < o->n; j++)
                c[(size_t)i * o->ldc + j] = NAN;
    const size_t scratch_size = nl_cpu_gemm_bf16_scratch(o->m, o->n, o->k);
    unsigned char *scratch = malloc(scratch_size + GUARD);
    memset(scratch + scratch_size, 0xa5, GUARD);
    fn(o->trans_a, o->trans_b, o->m, o->n, o->k, o->a, o->lda, o->b, o->ldb, beta, c, o->ldc,
       scratch);
    for (size_t i = 0; i < GUARD; i++)
        ck_assert_msg(scratch[scratch_size + i] == 0xa5, "wrote past the planned scratch");
    free(scratch);
    return c;
}

/* the SDM's order, output by output: acc from 0 through the lanes of the
 * pairs (even k low, odd k high, an odd k's last high half 0), then beta C
 * added as the product does (beta 0: C not read) */
static float sdm_order(const operands *o, int i, int j, float beta, float c0)
{
    float acc = 0.0f;
    for (int d = 0; d < o->k; d += 2) {
        const float a_odd = d + 1 < o->k ? a_el(o, i, d + 1) : 0.0f;
        const float b_odd = d + 1 < o->k ? b_el(o, d + 1, j) : 0.0f;
        acc = nl_cpu_bf16_dot2_model(acc, pair_of(a_el(o, i, d), a_odd),
                                     pair_of(b_el(o, d, j), b_odd));
    }
    return beta == 0.0f ? acc : acc + c0;
}

/* Error bound of the product against the exact one: k fp32 roundings
 * (the k - 1 accumulations of exact bf16 products after the first, and
 * beta C's addition), each at most u = 2^-24 relative to the partial sum,
 * so at most gamma(k) = k u / (1 - k u) times the sum of the terms'
 * magnitudes (Higham, recursive summation), plus FLT_MIN for each
 * result the flush to zero may have cleared. The double-accumulated
 * reference adds at most k 2^-53 of the same sum, inside the margin of
 * taking gamma(k + 1). */
static double error_bound(const operands *o, int i, int j, float beta, float c0)
{
    double magnitude = beta == 0.0f ? 0.0 : fabs((double)beta * c0);
    for (int d = 0; d < o->k; d++)
        magnitude += fabs((double)a_el(o, i, d) * b_el(o, d, j));
    const double u = ldexp(1.0, -24), ku = (o->k + 1) * u;
    return ku / (1.0 - ku) * magnitude + (o->k + 1) * (double)FLT_MIN;
}

static double exact(const operands *o, int i, int j, float beta, float c0)
{
    double sum = 0.0;
    for (int d = 0; d < o->k; d++)
        sum += (double)a_el(o, i, d) * b_el(o, d, j);
    return beta == 0.0f ? sum : sum + (double)beta * c0;
}

static void check_against_references(const operands *o, const float *c, float beta,
                                     const char *what)
{
    for (int i = 0; i < o->m; i++) {
        for (int j = 0; j < o->ldc; j++) {
            const size_t at = (size_t)i * o->ldc + j;
            if (j >= o->n) {
                ck_assert_msg(c[at] == 12345.0f, "%s: C's padding written at (%d, %d)", what, i,
                              j);
                continue;
            }
            const double err = fabs(c[at] - exact(o, i, j, beta, o->c0[at]));
            const double bound = error_bound(o, i, j, beta, o->c0[at]);
            ck_assert_msg(err <= bound, "%s: (%d, %d) off the exact product by %g > bound %g",
                          what, i, j, err, bound);
            if (beta == 0.0f || beta == 1.0f) {
                const float want = sdm_order(o, i, j, beta, o->c0[at]);
                ck_assert_msg(nl_float_bits(c[at]) == nl_float_bits(want),
                              "%s: (%d, %d) is %.9g, the SDM's order gives %.9g", what, i, j,
                              c[at], want);
            }
        }
    }
}

static void describe(char *buf, size_t size, const operands *o, float beta, int threads)
{
    snprintf(buf, size, "%dx%dx%d trans_a %d trans_b %d beta %g threads %d", o->m, o->n, o->k,
             o->trans_a, o->trans_b, beta, threads);
}

START_TEST(test_model_product)
{
    const float betas[] = {0.0f, 1.0f, -0.5f};
    for (int s = 0; s < SHAPES; s++)
        for (int t = 0; t < 4; t++) {
            operands o = make_operands(shapes[s], t & 1, t >> 1 & 1, 100 + 10 * s + t);
            for (size_t bi = 0; bi < sizeof betas / sizeof betas[0]; bi++) {
                float *by_thread[2];
                for (int threads = 1; threads <= 2; threads++) {
                    char what[160];
                    describe(what, sizeof what, &o, betas[bi], threads);
                    omp_set_num_threads(threads);
                    by_thread[threads - 1] = run(nl_cpu_gemm_bf16_model, &o, betas[bi], false);
                    check_against_references(&o, by_thread[threads - 1], betas[bi], what);
                }
                ck_assert_msg(memcmp(by_thread[0], by_thread[1],
                                     (size_t)o.m * o.ldc * sizeof(float)) == 0,
                              "%dx%dx%d: two threads change the bits", o.m, o.n, o.k);
                free(by_thread[0]), free(by_thread[1]);
            }
            free_operands(&o);
        }
}
END_TEST

/* Operands given unrounded (linear passes them so: core/cpu/linear.c's
 * product_operand) pack to the bits their bf16 rounding packs to: the same
 * product, bit for bit, over every shape and transpose, with ties to even
 * either way, values that carry into the next binade and a NaN among them. */
START_TEST(test_model_rounds_operands)
{
    for (int s = 0; s < SHAPES; s++)
        for (int t = 0; t < 4; t++) {
            operands rounded = make_operands(shapes[s], t & 1, t >> 1 & 1, 300 + 10 * s + t);
            operands raw = rounded;
            const size_t a_size = (size_t)(raw.trans_a ? raw.k : raw.m) * raw.lda;
            const size_t b_size = (size_t)(raw.trans_b ? raw.n : raw.k) * raw.ldb;
            raw.a = malloc(a_size * sizeof *raw.a);
            raw.b = malloc(b_size * sizeof *raw.b);
            tu_fill_normal(raw.a, a_size, 900 + s, 0.0f, 1.0f);
            tu_fill_normal(raw.b, b_size, 950 + s, 0.0f, 1.0f);
            /* low halves at the tie, below and above it; a carry; a NaN */
            static const uint32_t lows[] = {0x8000u, 0x7fffu, 0x8001u, 0xffffu};
            for (size_t i = 0; i < a_size; i += 3)
                raw.a[i] = nl_bits_float((nl_float_bits(raw.a[i]) & 0xffff0000u) | lows[i % 4]);
            for (size_t i = 1; i < b_size; i += 5)
                raw.b[i] = nl_bits_float((nl_float_bits(raw.b[i]) & 0xffff0000u) | lows[i % 4]);
            raw.a[a_size / 2] = nl_bits_float(0x7f80a5a5u); /* a signalling NaN */
            for (size_t i = 0; i < a_size; i++)
                rounded.a[i] = nl_round_bf16(raw.a[i]);
            for (size_t i = 0; i < b_size; i++)
                rounded.b[i] = nl_round_bf16(raw.b[i]);
            float *want = run(nl_cpu_gemm_bf16_model, &rounded, 1.0f, false);
            float *got = run(nl_cpu_gemm_bf16_model, &raw, 1.0f, false);
            ck_assert_msg(memcmp(want, got, (size_t)raw.m * raw.ldc * sizeof *got) == 0,
                          "%dx%dx%d ta %d tb %d: unrounded operands change the product", raw.m,
                          raw.n, raw.k, raw.trans_a, raw.trans_b);
            if (nl_cpu_gemm_bf16_native_runs_here()) {
                free(got);
                got = run(native_or_fail, &raw, 1.0f, false);
                ck_assert_msg(memcmp(want, got, (size_t)raw.m * raw.ldc * sizeof *got) == 0,
                              "%dx%dx%d: the native product of unrounded operands", raw.m, raw.n,
                              raw.k);
            }
            free(want), free(got);
            free(raw.a), free(raw.b);
            free_operands(&rounded);
        }
}
END_TEST

/* beta 0 does not read C: a NaN there is overwritten; k = 0 leaves beta C */
START_TEST(test_model_beta_edges)
{
    const shape s = {9, 33, 7};
    operands o = make_operands(s, false, false, 7);
    float *c = run(nl_cpu_gemm_bf16_model, &o, 0.0f, true);
    check_against_references(&o, c, 0.0f, "beta 0 over NaN");
    free(c);
    free_operands(&o);

    float c_empty[2] = {3.0f, NAN};
    nl_cpu_gemm_bf16_model(false, false, 1, 1, 0, NULL, 1, NULL, 1, 2.0f, c_empty, 2, NULL);
    ck_assert(c_empty[0] == 6.0f);
    nl_cpu_gemm_bf16_model(false, false, 1, 2, 0, NULL, 1, NULL, 2, 0.0f, c_empty, 2, NULL);
    ck_assert(c_empty[0] == 0.0f && c_empty[1] == 0.0f);
    ck_assert_uint_eq(nl_cpu_gemm_bf16_scratch(4, 4, 0), 0);
}
END_TEST

/* ---- the instruction itself, where the CPU has it ---- */

#if defined(NORMLAB_HAVE_AVX512BF16)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void
native_lanes(const float acc[16], const uint32_t a[16], const uint32_t b[16], float out[16])
{
    const __m512 r = _mm512_dpbf16_ps(_mm512_loadu_ps(acc), (__m512bh)_mm512_loadu_si512(a),
                                      (__m512bh)_mm512_loadu_si512(b));
    _mm512_storeu_ps(out, r);
}
#endif

static bool native_here_or_say_why(void)
{
    if (nl_cpu_gemm_bf16_native_runs_here())
        return true;
#if defined(NORMLAB_HAVE_AVX512BF16)
    printf("test_gemm_bf16: this CPU lacks AVX512-BF16 (or its AVX-512 state): the "
           "vdpbf16ps product is not checked here, only the model's\n");
#else
    printf("test_gemm_bf16: the compiler has no AVX512-BF16 intrinsics: the vdpbf16ps "
           "product is not compiled, only the model is checked\n");
#endif
    return false;
}

START_TEST(test_native_declines_or_matches_lanes)
{
    if (!native_here_or_say_why()) {
        /* declines, touching nothing */
        float a[4] = {1, 1, 1, 1}, b[4] = {1, 1, 1, 1}, c[4] = {7, 7, 7, 7};
        unsigned char scratch[1024];
        ck_assert_uint_le(nl_cpu_gemm_bf16_scratch(2, 2, 2), sizeof scratch);
        ck_assert(!nl_cpu_gemm_bf16_native(false, false, 2, 2, 2, a, 2, b, 2, 0.0f, c, 2, scratch));
        for (int i = 0; i < 4; i++)
            ck_assert(c[i] == 7.0f);
        return;
    }
#if defined(NORMLAB_HAVE_AVX512BF16)
    lane_case cases[MAX_LANE_CASES];
    const int n = lane_cases(cases);
    float acc[16] = {0}, out[16];
    uint32_t a[16] = {0}, b[16] = {0};
    for (int i = 0; i < n; i++)
        acc[i] = cases[i].acc, a[i] = cases[i].a, b[i] = cases[i].b;
    native_lanes(acc, a, b, out);
    for (int i = 0; i < n; i++)
        ck_assert_msg(nl_float_bits(out[i]) == cases[i].want,
                      "%s: vdpbf16ps gives %08x, the model %08x", cases[i].what,
                      nl_float_bits(out[i]), cases[i].want);
#endif
}
END_TEST

START_TEST(test_native_product_matches_model)
{
    if (!native_here_or_say_why())
        return;
    for (int s = 0; s < SHAPES; s++)
        for (int t = 0; t < 4; t++) {
            operands o = make_operands(shapes[s], t & 1, t >> 1 & 1, 500 + 10 * s + t);
            for (int threads = 1; threads <= 2; threads++) {
                omp_set_num_threads(threads);
                for (int beta = 0; beta <= 1; beta++) {
                    float *want = run(nl_cpu_gemm_bf16_model, &o, (float)beta, false);
                    float *got = run(native_or_fail, &o, (float)beta, false);
                    char what[160];
                    describe(what, sizeof what, &o, (float)beta, threads);
                    ck_assert_msg(memcmp(got, want, (size_t)o.m * o.ldc * sizeof(float)) == 0,
                                  "%s: vdpbf16ps and the model differ", what);
                    free(want), free(got);
                }
            }
            free_operands(&o);
        }
}
END_TEST

/* ---- the layers' bf16 products through the packed path ----
 *
 * The x86-64-v4-bf16 kernel set runs linear's and conv2d's bf16 products
 * on vdpbf16ps (core/cpu/lowp.h). Its path is checked here on every CPU
 * through the test-only set bf16_model (CMakeLists.txt): the build's own
 * kernels, compiled with the instruction replaced by its model, which is
 * all that tells the two apart (the native tile against the model: the
 * tests above, where a CPU has the instruction). Each layer's forward and
 * backward, with the workspace its op plans (and a guard past it), must
 *  - equal, bit for bit, what the layer's semantics give with
 *    nl_cpu_gemm_bf16_model called directly: x, W, bias and dy rounded,
 *    the products packed, y, dx, dW and db rounded as written (conv2d: the
 *    test's own im2col and col2im, whose order of additions is the layer's,
 *    and per chunk weight gradients added in chunk order);
 *  - agree with the build's own set (sgemm on the same rounded operands)
 *    within what another order of fp32 summation allows: before the output
 *    rounding each side is within gamma(k + 1) M of the exact sum (M the
 *    sum of the terms' magnitudes, the bias's included), and rounding to
 *    bf16 moves each by at most half a bf16 unit (2^-8 of the value; an
 *    fp32 addition into an accumulating dx 2^-24 more). Measured here
 *    (printed as the test runs): on random data about one element in 10^5
 *    differs after the rounding, on the cancelling inputs below a quarter
 *    to two thirds of them; none takes more than 0.04 of the bound;
 *  - compute db, which takes no product, in the same bits as that set. */
#if defined(NORMLAB_BF16_MODEL_SET)
#include "cpu/cpu.h"
#include "cpu/lowp.h"

extern const nl_cpu_kernel_set nl_cpu_kernels_bf16_model;

enum { LAYER_THREADS = 2 };

/* a CPU backend whose ops are `set`'s, with bf16 products */
static nl_backend bf16_backend(const nl_cpu_kernel_set *set)
{
    nl_backend be = *tu_cpu(LAYER_THREADS);
    be.ops = set->ops;
    be.threads = LAYER_THREADS;
    be.product_precision = NL_PRECISION_BF16;
    /* normlab's own convolutions, whose packed path this file tests (a set
     * with AVX512-BF16 would give them to oneDNN: test_conv_onednn) */
    be.impl = NULL;
    setenv("NORMLAB_CONV", "normlab", 1);
    return be;
}

/* a workspace of `size` bytes with a guard past it */
static unsigned char *workspace_of(size_t size)
{
    unsigned char *w = aligned_alloc(64, (size + GUARD + 63) / 64 * 64);
    ck_assert(w);
    memset(w + size, 0xa5, GUARD);
    return w;
}

static void check_guard(const unsigned char *w, size_t size, const char *what)
{
    for (size_t i = 0; i < GUARD; i++)
        ck_assert_msg(w[size + i] == 0xa5, "%s: wrote past the planned workspace", what);
}

static float *rounded_copy(const float *x, size_t n)
{
    float *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++)
        r[i] = nl_round_bf16(x[i]);
    return r;
}

static float *normal(size_t n, uint64_t seed)
{
    float *x = malloc(n * sizeof *x);
    tu_fill_normal(x, n, seed, 0.0f, 1.0f);
    return x;
}

static float *copy_of(const float *x, size_t n)
{
    float *c = malloc(n * sizeof *c);
    memcpy(c, x, n * sizeof *c);
    return c;
}

/* the model's product with scratch of its own size */
static void model_product(bool ta, bool tb, int m, int n, int k, const float *a, int lda,
                          const float *b, int ldb, float beta, float *c, int ldc)
{
    void *scratch = malloc(nl_cpu_gemm_bf16_scratch(m, n, k) + 1);
    nl_cpu_gemm_bf16_model(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, scratch);
    free(scratch);
}

static void round_all(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = nl_round_bf16(x[i]);
}

static void assert_same_bits(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (nl_float_bits(got[i]) != nl_float_bits(want[i]))
            ck_abort_msg("%s: element %zu is %.9g, the model's product gives %.9g", what, i,
                         got[i], want[i]);
}

/* The packed path against the sgemm path: |a - b| <= 2 gamma(k + 1) M +
 * 2^-8 (|a| + |b|) (half a bf16 unit each), or where the rounded sum was
 * added into an accumulating gradient 2^-7 M (1 + 2^-7) + 2^-24 (|a| + |b|),
 * with M[i] the sum of the magnitudes of output i's terms; records the
 * largest share of the bound taken and how many elements differ. */
typedef struct {
    double worst_share;
    size_t differ, count;
} agreement;

static void check_bound(const float *packed, const float *sgemm, const double *magnitude,
                        size_t n, int depth, bool accumulated, agreement *seen, const char *what)
{
    const double ku = (depth + 1) * ldexp(1.0, -24), gamma = ku / (1.0 - ku);
    for (size_t i = 0; i < n; i++) {
        const double a = packed[i], b = sgemm[i], size = fabs(a) + fabs(b);
        /* where accumulated, the rounded sum's half unit is of the sum
         * (at most M), not of what it was added to */
        const double rounding = accumulated ? ldexp(magnitude[i], -7) * (1.0 + ldexp(1.0, -7)) +
                                                  ldexp(size, -24)
                                            : ldexp(size, -8);
        const double bound = 2.0 * gamma * magnitude[i] + rounding + (depth + 1) * (double)FLT_MIN;
        const double diff = fabs(a - b);
        ck_assert_msg(diff <= bound, "%s: element %zu: %.9g (packed) against %.9g (sgemm), "
                      "apart by %g > %g", what, i, a, b, diff, bound);
        if (diff > 0.0)
            seen->differ++;
        if (bound > 0.0 && diff / bound > seen->worst_share)
            seen->worst_share = diff / bound;
    }
    seen->count += n;
}

/* M of each output of op(A) op(B) (+ |bias[row]|): the sum of |a b| in double */
static double *magnitudes(bool ta, bool tb, int m, int n, int k, const float *a, int lda,
                          const float *b, int ldb, const float *row_bias, const float *col_bias)
{
    double *out = malloc((size_t)m * n * sizeof *out);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = row_bias ? fabs(row_bias[i]) : col_bias ? fabs(col_bias[j]) : 0.0;
            for (int d = 0; d < k; d++)
                s += fabs((double)(ta ? a[(size_t)d * lda + i] : a[(size_t)i * lda + d]) *
                          (tb ? b[(size_t)j * ldb + d] : b[(size_t)d * ldb + j]));
            out[(size_t)i * n + j] = s;
        }
    return out;
}

typedef struct {
    float *y, *dx, *dw, *db;
} layer_out;

static void free_layer_out(layer_out *o) { free(o->y), free(o->dx), free(o->dw), free(o->db); }

/* ---- linear ---- */

typedef struct {
    int n, in, out;
    bool with_dx, accumulate_dx;
    bool cancelling; /* inputs whose sums tell the orders of summation apart */
} linear_case;

static const linear_case linear_cases[] = {
    {1, 8, 3, true, false, false},     {5, 37, 19, true, true, false},
    {33, 300, 10, true, false, false}, {64, 128, 96, true, true, false},
    {48, 65, 130, false, false, false}, {200, 256, 64, true, false, false},
    {64, 256, 64, true, false, true},
};

/* Rounded to bf16 the sums of random data rarely differ between orders of
 * summation (one element in 10^5 here), so that the checks above could
 * hardly tell the packed path from sgemm's. These inputs make every
 * product's sum cancel terms of 2^16 pairwise (x's column 4j + 2 is minus
 * its column 4j, W's columns and rows 4j + 2 repeat 4j, dy's columns 4j
 * and 4j + 2 are 2^16 and -2^16, its rows 4j + 2 and 4j + 3 repeat 4j and
 * 4j + 1, x's columns 4j are 2^16 in rows 4j and -2^16 in rows 4j + 2):
 * the partial sums carry rounding errors of 2^16's scale into results of
 * order one, where each order leaves its own (vdpbf16ps adds the odd k of
 * a pair before the even one). */
static void make_cancelling(int n, int in, int out, float *x, float *w, float *dy)
{
    const float big = 65536.0f;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < in; i++) {
            float *e = x + (size_t)r * in + i;
            if (i % 4 == 0 && r % 2 == 0)
                *e = r % 4 == 0 ? big : -big;
            else if (i % 4 == 2)
                *e = -e[-2];
        }
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
            if (i % 4 == 2)
                w[(size_t)o * in + i] = w[(size_t)o * in + i - 2];
    for (int o = 0; o < out; o++)
        if (o % 4 == 2)
            memcpy(w + (size_t)o * in, w + (size_t)(o - 2) * in, (size_t)in * sizeof *w);
    for (int r = 0; r < n; r++)
        for (int o = 0; o < out; o++) {
            float *e = dy + (size_t)r * out + o;
            if (o % 4 == 0 || o % 4 == 2)
                *e = o % 4 == 0 ? big : -big;
            else if (r % 4 >= 2)
                *e = e[-2 * out];
        }
}

/* elements of the build's own set's result that differ from the model's
 * reference */
static size_t differing(const float *a, const float *b, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += nl_float_bits(a[i]) != nl_float_bits(b[i]);
    return count;
}

/* On the cancelling inputs the build's own set must differ from the
 * model's reference, as sgemm does: else these checks could not tell the
 * two paths apart. A native build on a CPU with AVX512-BF16 is the
 * exception: its own kernels run vdpbf16ps (lowp.h, compiled here with the
 * build's flags), so they must give the model's bits instead, the native
 * path checked through the layers. */
static void check_told_apart(size_t apart, const char *what, const char *result)
{
    if (NL_CPU_BF16_PACKED)
        ck_assert_msg(apart == 0, "%s: %s: the build's own vdpbf16ps products differ from the "
                      "model's in %zu elements", what, result, apart);
    else
        ck_assert_msg(apart > 0, "%s: %s cannot tell the packed path from sgemm's", what, result);
}

typedef struct {
    const float *x, *w, *b, *dy, *dx0;
} linear_inputs;

static layer_out run_linear(const nl_cpu_kernel_set *set, const linear_case *c,
                            const linear_inputs *in, const char *what)
{
    nl_backend be = bf16_backend(set);
    const size_t size = be.ops->linear_workspace(&be, c->n, c->in, c->out);
    unsigned char *w = workspace_of(size);
    layer_out o = {malloc((size_t)c->n * c->out * sizeof(float)),
                   c->with_dx ? copy_of(in->dx0, (size_t)c->n * c->in) : NULL,
                   malloc((size_t)c->out * c->in * sizeof(float)),
                   malloc((size_t)c->out * sizeof(float))};
    be.ops->linear_forward(&be, c->n, c->in, c->out, in->x, in->w, in->b, o.y, w);
    be.ops->linear_backward(&be, c->n, c->in, c->out, in->x, in->w, in->dy, o.dx, c->accumulate_dx,
                            o.dw, o.db, w);
    check_guard(w, size, what);
    free(w);
    return o;
}

START_TEST(test_linear_packed_path)
{
    agreement seen = {0};
    for (size_t t = 0; t < sizeof linear_cases / sizeof linear_cases[0]; t++) {
        const linear_case *c = &linear_cases[t];
        const int n = c->n, in = c->in, out = c->out;
        char what[128];
        snprintf(what, sizeof what, "linear %d x %d -> %d", n, in, out);
        linear_inputs li = {normal((size_t)n * in, 10 * t), normal((size_t)out * in, 10 * t + 1),
                            normal((size_t)out, 10 * t + 2), normal((size_t)n * out, 10 * t + 3),
                            normal((size_t)n * in, 10 * t + 4)};
        if (c->cancelling)
            make_cancelling(n, in, out, (float *)li.x, (float *)li.w, (float *)li.dy);
        layer_out packed = run_linear(&nl_cpu_kernels_bf16_model, c, &li, what);
        layer_out sgemm = run_linear(&nl_cpu_kernels_of_build, c, &li, what);

        /* the layer's semantics on the model's product */
        float *xr = rounded_copy(li.x, (size_t)n * in), *wr = rounded_copy(li.w, (size_t)out * in);
        float *br = rounded_copy(li.b, (size_t)out), *dyr = rounded_copy(li.dy, (size_t)n * out);
        float *y = malloc((size_t)n * out * sizeof *y);
        for (int r = 0; r < n; r++)
            memcpy(y + (size_t)r * out, br, (size_t)out * sizeof *y);
        model_product(false, true, n, out, in, xr, in, wr, in, 1.0f, y, out);
        round_all(y, (size_t)n * out);
        assert_same_bits(packed.y, y, (size_t)n * out, what);
        if (c->with_dx) {
            float *dx = malloc((size_t)n * in * sizeof *dx);
            model_product(false, false, n, in, out, dyr, out, wr, in, 0.0f, dx, in);
            round_all(dx, (size_t)n * in);
            if (c->accumulate_dx)
                for (size_t i = 0; i < (size_t)n * in; i++)
                    dx[i] = li.dx0[i] + dx[i];
            assert_same_bits(packed.dx, dx, (size_t)n * in, what);
            if (c->cancelling)
                check_told_apart(differing(sgemm.dx, dx, (size_t)n * in), what, "dx");
            double *m = magnitudes(false, false, n, in, out, dyr, out, wr, in, NULL, NULL);
            check_bound(packed.dx, sgemm.dx, m, (size_t)n * in, out, c->accumulate_dx, &seen, what);
            free(m), free(dx);
        }
        float *dw = malloc((size_t)out * in * sizeof *dw);
        model_product(true, false, out, in, n, dyr, out, xr, in, 0.0f, dw, in);
        round_all(dw, (size_t)out * in);
        assert_same_bits(packed.dw, dw, (size_t)out * in, what);
        assert_same_bits(packed.db, sgemm.db, (size_t)out, what);
        if (c->cancelling) {
            const size_t y_apart = differing(sgemm.y, y, (size_t)n * out);
            const size_t dw_apart = differing(sgemm.dw, dw, (size_t)out * in);
            check_told_apart(y_apart, what, "y");
            check_told_apart(dw_apart, what, "dW");
            printf("test_gemm_bf16: %s, cancelling sums: sgemm's y differs from the packed "
                   "product's in %zu of %d elements, dW in %zu of %d\n", what, y_apart, n * out,
                   dw_apart, out * in);
        }

        double *my = magnitudes(false, true, n, out, in, xr, in, wr, in, NULL, br);
        check_bound(packed.y, sgemm.y, my, (size_t)n * out, in, false, &seen, what);
        double *mw = magnitudes(true, false, out, in, n, dyr, out, xr, in, NULL, NULL);
        check_bound(packed.dw, sgemm.dw, mw, (size_t)out * in, n, false, &seen, what);
        free(my), free(mw), free(dw), free(y), free(xr), free(wr), free(br), free(dyr);
        free_layer_out(&packed), free_layer_out(&sgemm);
        free((void *)li.x), free((void *)li.w), free((void *)li.b), free((void *)li.dy);
        free((void *)li.dx0);
    }
    printf("test_gemm_bf16: linear, packed against sgemm: %zu of %zu elements differ, at most "
           "%.2f of the bound\n", seen.differ, seen.count, seen.worst_share);
}
END_TEST

/* ---- conv2d ---- */

typedef struct {
    nl_conv_geom g;
    int n;
    bool accumulate_dx;
    bool cancelling; /* inputs whose sums tell the orders of summation apart */
} conv_case;

#define GEOM(ic, ih, oc, k, s, p)                                                                \
    {.in_c = ic, .in_h = ih, .in_w = ih, .out_c = oc, .out_h = ((ih) + 2 * (p) - (k)) / (s) + 1,  \
     .out_w = ((ih) + 2 * (p) - (k)) / (s) + 1, .kernel = k, .stride = s, .pad = p}

/* two chunks on two threads; a ragged last chunk of one sample (stride 2);
 * 1x1 convolutions one sample a chunk; one chunk whose products split over
 * the threads themselves; a first layer (27 deep: gemm.c's kernels) */
static const conv_case conv_cases[] = {
    {GEOM(8, 8, 16, 3, 1, 1), 4, false, false},  {GEOM(16, 7, 12, 3, 2, 1), 3, true, false},
    {GEOM(40, 5, 24, 1, 1, 0), 2, false, false}, {GEOM(32, 16, 32, 3, 1, 1), 1, true, false},
    {GEOM(3, 9, 8, 3, 1, 1), 2, false, false},   {GEOM(16, 8, 16, 3, 1, 1), 2, false, true},
    {GEOM(40, 5, 24, 1, 1, 0), 2, false, true},
};

/* make_cancelling's inputs along the channels: x's channels 4j and 4j + 2
 * are 2^16 and -2^16, W's input channels 4j + 2 repeat 4j and its output
 * channels 4j + 2 repeat 4j, dy's channels 4j and 4j + 2 are 2^16 and
 * -2^16: y's and dx's sums cancel terms of 2^16 between terms of order
 * one (dW's do not: its path is linear's, told apart there). */
static void make_conv_cancelling(const nl_conv_geom *g, int n, float *x, float *w, float *dy)
{
    const float big = 65536.0f;
    const size_t plane = (size_t)g->in_h * g->in_w, taps = (size_t)g->kernel * g->kernel;
    const size_t out_plane = (size_t)g->out_h * g->out_w, w_row = g->in_c * taps;
    for (int s = 0; s < n; s++)
        for (int c = 0; c < g->in_c; c++)
            for (size_t q = 0; q < plane; q++)
                if (c % 4 == 0 || c % 4 == 2)
                    x[((size_t)s * g->in_c + c) * plane + q] = c % 4 == 0 ? big : -big;
    for (int co = 0; co < g->out_c; co++)
        for (int c = 2; c < g->in_c; c += 4)
            memcpy(w + co * w_row + c * taps, w + co * w_row + (c - 2) * taps, taps * sizeof *w);
    for (int co = 2; co < g->out_c; co += 4)
        memcpy(w + co * w_row, w + (co - 2) * w_row, w_row * sizeof *w);
    for (int s = 0; s < n; s++)
        for (int co = 0; co < g->out_c; co++)
            for (size_t q = 0; q < out_plane; q++)
                if (co % 4 == 0 || co % 4 == 2)
                    dy[((size_t)s * g->out_c + co) * out_plane + q] = co % 4 == 0 ? big : -big;
}

/* samples per chunk and whether the lowering is deep enough for the
 * products of nl_cpu_lowp_gemm, as conv2d.c's plan_of and TILED_MAX_DEPTH
 * choose them (256 columns a chunk, every thread a chunk; 32 deep) */
static int chunk_samples(const conv_case *c)
{
    const int pixels = c->g.out_h * c->g.out_w, share = (c->n + LAYER_THREADS - 1) / LAYER_THREADS;
    int k = (256 + pixels - 1) / pixels;
    return k > share ? share : k;
}

static bool deep(const nl_conv_geom *g) { return g->in_c * g->kernel * g->kernel > 32; }

/* one sample's column matrix (rows x pixels) */
static void test_im2col(const nl_conv_geom *g, const float *x, float *col)
{
    const int pixels = g->out_h * g->out_w;
    for (int c = 0; c < g->in_c; c++)
        for (int kh = 0; kh < g->kernel; kh++)
            for (int kw = 0; kw < g->kernel; kw++)
                for (int oh = 0; oh < g->out_h; oh++)
                    for (int ow = 0; ow < g->out_w; ow++) {
                        const int ih = oh * g->stride - g->pad + kh, iw = ow * g->stride - g->pad + kw;
                        const bool inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
                        col[(size_t)((c * g->kernel + kh) * g->kernel + kw) * pixels +
                            oh * g->out_w + ow] =
                            inside ? x[((size_t)c * g->in_h + ih) * g->in_w + iw] : 0.0f;
                    }
}

/* a column gradient added onto a zeroed sample, in the layer's order */
static void test_col2im(const nl_conv_geom *g, const float *dcol, float *dx)
{
    const int pixels = g->out_h * g->out_w;
    memset(dx, 0, (size_t)g->in_c * g->in_h * g->in_w * sizeof *dx);
    for (int c = 0; c < g->in_c; c++)
        for (int kh = 0; kh < g->kernel; kh++)
            for (int kw = 0; kw < g->kernel; kw++)
                for (int oh = 0; oh < g->out_h; oh++)
                    for (int ow = 0; ow < g->out_w; ow++) {
                        const int ih = oh * g->stride - g->pad + kh, iw = ow * g->stride - g->pad + kw;
                        if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w)
                            dx[((size_t)c * g->in_h + ih) * g->in_w + iw] +=
                                dcol[(size_t)((c * g->kernel + kh) * g->kernel + kw) * pixels +
                                     oh * g->out_w + ow];
                    }
}

typedef struct {
    const float *x, *w, *b, *dy, *dx0;
} conv_inputs;

static layer_out run_conv(const nl_cpu_kernel_set *set, const conv_case *c, const conv_inputs *in,
                          const char *what)
{
    nl_backend be = bf16_backend(set);
    const nl_conv_geom *g = &c->g;
    const size_t size = be.ops->conv2d_workspace(&be, g, c->n);
    unsigned char *w = workspace_of(size);
    const size_t x_count = (size_t)c->n * g->in_c * g->in_h * g->in_w;
    const size_t w_count = (size_t)g->out_c * g->in_c * g->kernel * g->kernel;
    layer_out o = {malloc((size_t)c->n * g->out_c * g->out_h * g->out_w * sizeof(float)),
                   copy_of(in->dx0, x_count), malloc(w_count * sizeof(float)),
                   malloc((size_t)g->out_c * sizeof(float))};
    be.ops->conv2d_forward(&be, g, c->n, in->x, in->w, in->b, o.y, w, size);
    be.ops->conv2d_backward(&be, g, c->n, in->x, in->w, in->dy, o.dx, c->accumulate_dx, o.dw, o.db,
                            w, size);
    check_guard(w, size, what);
    free(w);
    return o;
}

START_TEST(test_conv2d_packed_path)
{
    agreement seen = {0};
    for (size_t t = 0; t < sizeof conv_cases / sizeof conv_cases[0]; t++) {
        const conv_case *c = &conv_cases[t];
        const nl_conv_geom *g = &c->g;
        const int n = c->n, rows = g->in_c * g->kernel * g->kernel, pixels = g->out_h * g->out_w;
        const size_t in_stride = (size_t)g->in_c * g->in_h * g->in_w;
        const size_t out_stride = (size_t)g->out_c * pixels, w_count = (size_t)g->out_c * rows;
        char what[160];
        snprintf(what, sizeof what, "conv2d %d x %dx%dx%d -> %d, kernel %d stride %d", n, g->in_c,
                 g->in_h, g->in_w, g->out_c, g->kernel, g->stride);
        conv_inputs ci = {normal(n * in_stride, 100 + 10 * t), normal(w_count, 101 + 10 * t),
                          normal((size_t)g->out_c, 102 + 10 * t),
                          normal(n * out_stride, 103 + 10 * t), normal(n * in_stride, 104 + 10 * t)};
        if (c->cancelling)
            make_conv_cancelling(g, n, (float *)ci.x, (float *)ci.w, (float *)ci.dy);
        layer_out packed = run_conv(&nl_cpu_kernels_bf16_model, c, &ci, what);
        layer_out sgemm = run_conv(&nl_cpu_kernels_of_build, c, &ci, what);
        assert_same_bits(packed.db, sgemm.db, (size_t)g->out_c, what);

        float *xr = rounded_copy(ci.x, n * in_stride), *wr = rounded_copy(ci.w, w_count);
        float *br = rounded_copy(ci.b, (size_t)g->out_c), *dyr = rounded_copy(ci.dy, n * out_stride);
        /* the whole batch lowered: col_all (rows x n pixels), dy_all (out_c x n pixels) */
        const int all = n * pixels;
        float *col = malloc((size_t)rows * pixels * sizeof *col);
        float *col_all = malloc((size_t)rows * all * sizeof *col_all);
        float *dy_all = malloc((size_t)g->out_c * all * sizeof *dy_all);
        float *y = malloc(n * out_stride * sizeof *y), *dx = malloc(n * in_stride * sizeof *dx);
        float *dcol = malloc((size_t)rows * pixels * sizeof *dcol);
        for (int s = 0; s < n; s++) {
            test_im2col(g, xr + s * in_stride, col);
            for (int r = 0; r < rows; r++)
                memcpy(col_all + (size_t)r * all + (size_t)s * pixels, col + (size_t)r * pixels,
                       (size_t)pixels * sizeof *col);
            for (int co = 0; co < g->out_c; co++)
                memcpy(dy_all + (size_t)co * all + (size_t)s * pixels,
                       dyr + s * out_stride + (size_t)co * pixels, (size_t)pixels * sizeof *dy_all);
            float *ys = y + s * out_stride;
            for (int co = 0; co < g->out_c; co++)
                for (int q = 0; q < pixels; q++)
                    ys[(size_t)co * pixels + q] = br[co];
            model_product(false, false, g->out_c, pixels, rows, wr, rows, col, pixels, 1.0f, ys,
                          pixels);
            model_product(true, false, rows, pixels, g->out_c, wr, rows, dyr + s * out_stride,
                          pixels, 0.0f, dcol, pixels);
            test_col2im(g, dcol, dx + s * in_stride);
        }
        round_all(y, n * out_stride);
        round_all(dx, n * in_stride);
        if (c->accumulate_dx)
            for (size_t i = 0; i < n * in_stride; i++)
                dx[i] = ci.dx0[i] + dx[i];
        /* dW: each chunk's product over its samples' columns, the chunks'
         * added in order (one chunk a thread, their sums added from 0) */
        const int per_chunk = chunk_samples(c), chunks = (n + per_chunk - 1) / per_chunk;
        ck_assert_int_le(chunks, LAYER_THREADS);
        float *dw = calloc(w_count, sizeof *dw), *part = malloc(w_count * sizeof *part);
        for (int ch = 0; ch < chunks; ch++) {
            const int first = ch * per_chunk, m = n - first < per_chunk ? n - first : per_chunk;
            float *cols = malloc((size_t)rows * m * pixels * sizeof *cols);
            float *dys = malloc((size_t)g->out_c * m * pixels * sizeof *dys);
            for (int r = 0; r < rows; r++)
                memcpy(cols + (size_t)r * m * pixels, col_all + (size_t)r * all + (size_t)first * pixels,
                       (size_t)m * pixels * sizeof *cols);
            for (int co = 0; co < g->out_c; co++)
                memcpy(dys + (size_t)co * m * pixels,
                       dy_all + (size_t)co * all + (size_t)first * pixels,
                       (size_t)m * pixels * sizeof *dys);
            model_product(false, true, g->out_c, rows, m * pixels, dys, m * pixels, cols, m * pixels,
                          0.0f, part, rows);
            for (size_t i = 0; i < w_count; i++)
                dw[i] = chunks == 1 ? part[i] : dw[i] + part[i];
            free(cols), free(dys);
        }
        round_all(dw, w_count);

        double *my = malloc(n * out_stride * sizeof *my);
        for (int s = 0; s < n; s++) {
            test_im2col(g, xr + s * in_stride, col);
            double *ms = magnitudes(false, false, g->out_c, pixels, rows, wr, rows, col, pixels,
                                    br, NULL);
            memcpy(my + s * out_stride, ms, out_stride * sizeof *ms);
            free(ms);
        }
        /* dx's magnitude: of the column gradients each input position sums */
        double *mdx = calloc(n * in_stride, sizeof *mdx);
        for (int s = 0; s < n; s++) {
            double *mcol = magnitudes(true, false, rows, pixels, g->out_c, wr, rows,
                                      dyr + s * out_stride, pixels, NULL, NULL);
            for (int cc = 0; cc < g->in_c; cc++)
                for (int kh = 0; kh < g->kernel; kh++)
                    for (int kw = 0; kw < g->kernel; kw++)
                        for (int oh = 0; oh < g->out_h; oh++)
                            for (int ow = 0; ow < g->out_w; ow++) {
                                const int ih = oh * g->stride - g->pad + kh;
                                const int iw = ow * g->stride - g->pad + kw;
                                if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w)
                                    mdx[s * in_stride + ((size_t)cc * g->in_h + ih) * g->in_w + iw] +=
                                        mcol[(size_t)((cc * g->kernel + kh) * g->kernel + kw) * pixels +
                                             oh * g->out_w + ow];
                            }
            free(mcol);
        }
        double *mw = magnitudes(false, true, g->out_c, rows, all, dy_all, all, col_all, all, NULL,
                                NULL);
        const int taps = g->kernel * g->kernel; /* col2im adds up to this many column gradients */
        check_bound(packed.y, sgemm.y, my, n * out_stride, rows, false, &seen, what);
        check_bound(packed.dx, sgemm.dx, mdx, n * in_stride, g->out_c + taps, c->accumulate_dx,
                    &seen, what);
        check_bound(packed.dw, sgemm.dw, mw, w_count, all, false, &seen, what);

        if (deep(g)) {
            assert_same_bits(packed.y, y, n * out_stride, what);
            assert_same_bits(packed.dw, dw, w_count, what);
        } else {
            /* a first layer's forward and (one chunk a thread) weight
             * gradient stay on gemm.c's fp32 kernels in every set */
            ck_assert_int_gt(chunks, 1);
            assert_same_bits(packed.y, sgemm.y, n * out_stride, what);
            assert_same_bits(packed.dw, sgemm.dw, w_count, what);
        }
        assert_same_bits(packed.dx, dx, n * in_stride, what);
        if (c->cancelling) {
            const size_t y_apart = differing(sgemm.y, y, n * out_stride);
            const size_t dx_apart = differing(sgemm.dx, dx, n * in_stride);
            check_told_apart(y_apart, what, "y");
            check_told_apart(dx_apart, what, "dx");
            printf("test_gemm_bf16: %s, cancelling sums: sgemm's y differs from the packed "
                   "product's in %zu of %zu elements, dx in %zu of %zu\n", what, y_apart,
                   n * out_stride, dx_apart, n * in_stride);
        }
        free(my), free(mdx), free(mw), free(dw), free(part), free(col), free(col_all), free(dy_all);
        free(y), free(dx), free(dcol), free(xr), free(wr), free(br), free(dyr);
        free_layer_out(&packed), free_layer_out(&sgemm);
        free((void *)ci.x), free((void *)ci.w), free((void *)ci.b), free((void *)ci.dy);
        free((void *)ci.dx0);
    }
    printf("test_gemm_bf16: conv2d, packed against sgemm: %zu of %zu elements differ, at most "
           "%.2f of the bound\n", seen.differ, seen.count, seen.worst_share);
}
END_TEST

/* the sets that do not pack plan no packing scratch: fp32 and fp16
 * workspaces are those of the build's own set */
START_TEST(test_scratch_only_where_packed)
{
    for (int p = 0; p < NL_PRECISION_COUNT; p++) {
        nl_backend model = bf16_backend(&nl_cpu_kernels_bf16_model);
        nl_backend plain = bf16_backend(&nl_cpu_kernels_of_build);
        model.product_precision = plain.product_precision = (nl_precision)p;
        const size_t packed = model.ops->linear_workspace(&model, 64, 128, 96);
        const size_t unpacked = plain.ops->linear_workspace(&plain, 64, 128, 96);
        const nl_conv_geom g = GEOM(8, 8, 16, 3, 1, 1);
        const size_t conv_packed = model.ops->conv2d_workspace(&model, &g, 4);
        const size_t conv_unpacked = plain.ops->conv2d_workspace(&plain, &g, 4);
        if (p == NL_PRECISION_BF16) {
            ck_assert_uint_gt(packed, unpacked);
            ck_assert_uint_gt(conv_packed, conv_unpacked);
        } else {
            ck_assert_uint_eq(packed, unpacked);
            ck_assert_uint_eq(conv_packed, conv_unpacked);
        }
    }
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("gemm_bf16");
    TCase *tc = tcase_create("gemm_bf16");
    tcase_add_test(tc, test_model_lane);
    tcase_add_test(tc, test_model_product);
    tcase_add_test(tc, test_model_rounds_operands);
    tcase_add_test(tc, test_model_beta_edges);
    tcase_add_test(tc, test_native_declines_or_matches_lanes);
    tcase_add_test(tc, test_native_product_matches_model);
#if defined(NORMLAB_BF16_MODEL_SET)
    tcase_add_test(tc, test_linear_packed_path);
    tcase_add_test(tc, test_conv2d_packed_path);
    tcase_add_test(tc, test_scratch_only_where_packed);
#else
    printf("test_gemm_bf16: this build has no bf16_model kernel set (no objcopy, or the fuzz "
           "build): the layers' packed bf16 path is not checked\n");
#endif
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
