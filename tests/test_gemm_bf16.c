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
 * decline, touching nothing. */
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

int main(void)
{
    Suite *s = suite_create("gemm_bf16");
    TCase *tc = tcase_create("gemm_bf16");
    tcase_add_test(tc, test_model_lane);
    tcase_add_test(tc, test_model_product);
    tcase_add_test(tc, test_model_beta_edges);
    tcase_add_test(tc, test_native_declines_or_matches_lanes);
    tcase_add_test(tc, test_native_product_matches_model);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
