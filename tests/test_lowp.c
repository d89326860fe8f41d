/* core/cpu/lowp.c's array rounding against base/precision.h's scalar
 * reference, bit for bit: random bit patterns over every exponent, a
 * sweep of every bf16/fp16 neighbourhood's ties, and the edge cases (ties
 * to even, NaN, infinities, fp16 overflow at 65520, fp16 subnormals and
 * the flush below half the smallest). Built once more per kernel set with
 * that set's instruction set (tests/CMakeLists.txt), as lowp.c is: the
 * fp16 path is F16C's where the set has it. The kernel file is compiled
 * into this program under its own names, so that the program tests this
 * compilation and not the library's. */
#define nl_cpu_round lowp_test_round
#define nl_cpu_round_parallel lowp_test_round_parallel
#define nl_cpu_round_add lowp_test_round_add
#define nl_cpu_lowp_gemm lowp_test_gemm
#define nl_cpu_lowp_gemm_scratch lowp_test_gemm_scratch
#include "../core/cpu/lowp.c"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/precision.h"
#include "cpu/isa.h"
#include "testutil.h"

static const nl_precision low_precisions[] = {NL_PRECISION_BF16, NL_PRECISION_FP16};
enum { LOW_PRECISIONS = sizeof low_precisions / sizeof low_precisions[0] };

/* rounds `count` floats (any count: the vector body and the scalar tail)
 * and requires the reference's bits in every element */
static void check_bits(nl_precision p, const float *x, size_t count)
{
    float *y = malloc(count * sizeof *y), *in_place = malloc(count * sizeof *in_place);
    ck_assert(y && in_place);
    memcpy(in_place, x, count * sizeof *x);
    lowp_test_round(p, x, y, count);
    lowp_test_round(p, in_place, in_place, count);
    for (size_t i = 0; i < count; i++) {
        const uint32_t want = nl_float_bits(nl_round_to(p, x[i]));
        /* check's assertions record every pass: test first, assert on failure */
        if (nl_float_bits(y[i]) != want || nl_float_bits(in_place[i]) != want)
            ck_abort_msg("%s: x = %a (0x%08x): 0x%08x, reference 0x%08x",
                         nl_name_of(&nl_precision_names, p), (double)x[i], nl_float_bits(x[i]),
                         nl_float_bits(y[i]), want);
    }
    free(y);
    free(in_place);
}

static uint64_t state = 0x9e3779b97f4a7c15u;
static uint32_t next_bits(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 16);
}

START_TEST(test_random_bits)
{
    enum { COUNT = 1 << 22 };
    float *x = malloc(COUNT * sizeof *x);
    ck_assert(x);
    for (size_t i = 0; i < COUNT; i++)
        x[i] = nl_bits_float(next_bits());
    for (int k = 0; k < LOW_PRECISIONS; k++)
        check_bits(low_precisions[k], x, COUNT - 3); /* a ragged tail too */
    free(x);
}
END_TEST

/* for every bf16 value (its top 16 bits), the low halves that decide the
 * rounding: just below, at and above the tie, and the extremes; the same
 * set covers fp16's tie positions at every exponent (bit 12 of the low
 * half) through the second list */
START_TEST(test_every_neighbourhood)
{
    static const uint32_t bf16_lows[] = {0x0000, 0x0001, 0x7fff, 0x8000, 0x8001, 0xffff};
    static const uint32_t fp16_lows[] = {0x0000, 0x0fff, 0x1000, 0x1001, 0x2000,
                                         0x2fff, 0x3000, 0x3001, 0x1fff};
    const size_t per = sizeof bf16_lows / sizeof bf16_lows[0] + sizeof fp16_lows / sizeof fp16_lows[0];
    const size_t count = 65536 * per;
    float *x = malloc(count * sizeof *x);
    ck_assert(x);
    size_t n = 0;
    for (uint32_t high = 0; high < 65536; high++) {
        for (size_t j = 0; j < sizeof bf16_lows / sizeof bf16_lows[0]; j++)
            x[n++] = nl_bits_float(high << 16 | bf16_lows[j]);
        for (size_t j = 0; j < sizeof fp16_lows / sizeof fp16_lows[0]; j++)
            x[n++] = nl_bits_float((high << 16 | fp16_lows[j]) ^ (high & 0xe000u));
    }
    for (int k = 0; k < LOW_PRECISIONS; k++)
        check_bits(low_precisions[k], x, n);
    free(x);
}
END_TEST

START_TEST(test_edge_cases)
{
    const float two_m24 = ldexpf(1.0f, -24); /* fp16's smallest subnormal */
    const float x[] = {
        0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, nl_bits_float(0x7f800001u),
        nl_bits_float(0xffa00000u),
        /* ties: 1 + half a bf16 ulp goes down (even), 1 + 3 half-ulps up */
        1.0f + ldexpf(1.0f, -8), 1.0f + 3 * ldexpf(1.0f, -8), 1.0f + ldexpf(1.0f, -11),
        1.0f + 3 * ldexpf(1.0f, -11),
        /* fp16's top: 65504 is the largest, 65519.99 rounds to it, 65520 overflows */
        65504.0f, 65519.99f, 65520.0f, -65520.0f, 65536.0f, 1e30f,
        /* bf16's top: the largest finite value and the carry into infinity */
        nl_bits_float(0x7f7f7fffu), nl_bits_float(0x7f7f8000u), nl_bits_float(0x7f7fffffu),
        /* fp16 subnormals: exact, ties (to even), the flush below half the smallest */
        two_m24, 3 * two_m24, 1.5f * two_m24, 2.5f * two_m24, 0.5f * two_m24,
        0.5000001f * two_m24, 0.4999999f * two_m24, -1.5f * two_m24, ldexpf(1.0f, -14),
        ldexpf(1.0f, -14) - two_m24, ldexpf(1.0f, -14) - 0.5f * two_m24,
        /* fp32 subnormals and the smallest normal */
        nl_bits_float(1u), nl_bits_float(0x007fffffu), nl_bits_float(0x00800000u)};
    const size_t count = sizeof x / sizeof x[0];
    for (int k = 0; k < LOW_PRECISIONS; k++)
        for (size_t start = 0; start < 8; start++) /* each value in each lane */
            check_bits(low_precisions[k], x + start, count - start);
    /* the formats' known answers, as a torch cast gives them */
    float y[4];
    const float fp16_in[4] = {65519.0f, 65520.0f, 2.5f * two_m24, 0.5f * two_m24};
    lowp_test_round(NL_PRECISION_FP16, fp16_in, y, 4);
    ck_assert(y[0] == 65504.0f && isinf(y[1]) && y[2] == 2 * two_m24 && y[3] == 0.0f);
    const float bf16_in[2] = {1.0f + ldexpf(1.0f, -8), 1.0f + 3 * ldexpf(1.0f, -8)};
    lowp_test_round(NL_PRECISION_BF16, bf16_in, y, 2);
    ck_assert(y[0] == 1.0f && y[1] == 1.0f + ldexpf(1.0f, -6));
}
END_TEST

/* the add form: the rounded values added in fp32, and fp32 copies */
START_TEST(test_round_add_and_fp32)
{
    enum { COUNT = 10007 };
    float *x = malloc(COUNT * sizeof *x), *acc = malloc(COUNT * sizeof *acc);
    ck_assert(x && acc);
    for (int i = 0; i < COUNT; i++) {
        x[i] = (float)((int)(next_bits() % 20001) - 10000) / 997.0f;
        acc[i] = (float)i;
    }
    lowp_test_round_add(NL_PRECISION_BF16, x, acc, COUNT);
    for (int i = 0; i < COUNT; i++)
        if (acc[i] != (float)i + nl_round_bf16(x[i]))
            ck_abort_msg("round_add at %d: %g", i, (double)acc[i]);
    lowp_test_round_parallel(NL_PRECISION_FP32, x, acc, COUNT);
    ck_assert(memcmp(acc, x, COUNT * sizeof *x) == 0);
    free(x);
    free(acc);
}
END_TEST

int main(void)
{
    if (NL_ISA_COMPILED & ~nl_isa_of_this_cpu()) {
        printf("skipped: this CPU cannot run the instruction set this test was compiled for\n");
        return 77;
    }
    Suite *s = suite_create("lowp");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_random_bits);
    tcase_add_test(tc, test_every_neighbourhood);
    tcase_add_test(tc, test_edge_cases);
    tcase_add_test(tc, test_round_add_and_fp32);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
