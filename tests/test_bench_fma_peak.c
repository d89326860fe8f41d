/* The FMA peak probe (core/bench/fma_peak.c): its arithmetic, not its speed.
 * Every kind this CPU runs does the multiply-adds it counts (each lane ends at
 * its start plus the step count), on one thread and on several; the probe picks the
 * chosen kernel set's widest kind and returns positive finite rates. No
 * timing threshold: speed is measured by benchmarks, not tests. */
#include <math.h>

#include "bench/bench.h"
#include "cpu/cpu.h"
#include "testutil.h"

START_TEST(test_counted_flops_and_lanes)
{
    const long steps = 1000;
    int ran = 0;
    for (int k = 0; k < NL_FMA_KIND_COUNT; k++) {
        const int width = nl_fma_kind_width((nl_fma_kind)k);
        for (int threads = 1; threads <= 2; threads++) {
            nl_fma_run run;
            nl_error err = {0};
            const nl_code rc = nl_fma_run_chains((nl_fma_kind)k, steps, threads, &run, &err);
            if (rc == NL_ERR_UNSUPPORTED) /* a kind this CPU or build lacks */
                continue;
            ck_assert_int_eq(rc, NL_OK);
            const double lanes = (double)threads * NL_FMA_PEAK_CHAINS * width;
            ck_assert_double_eq(run.flops, 2.0 * lanes * (double)steps);
            /* chain c starts at c and gains 1 a step: a chain merged into
             * another or a step skipped changes the sum */
            const double starts = NL_FMA_PEAK_CHAINS * (NL_FMA_PEAK_CHAINS - 1) / 2.0;
            ck_assert_double_eq(run.lane_sum, threads * width * (NL_FMA_PEAK_CHAINS * steps + starts));
            ck_assert(run.seconds > 0);
            ran++;
        }
    }
    /* scalar runs everywhere, on both thread counts */
    ck_assert_int_ge(ran, 2);
}
END_TEST

START_TEST(test_widest_kind_of_a_mask)
{
    ck_assert_int_eq(nl_fma_kind_for(0), NL_FMA_SCALAR);
    const nl_isa_mask avx2 = NL_ISA_BIT(AVX2) | NL_ISA_BIT(FMA);
    const nl_isa_mask avx512 = avx2 | NL_ISA_BIT(AVX512F);
#if defined(__x86_64__)
    ck_assert_int_eq(nl_fma_kind_for(NL_ISA_BIT(AVX2)), NL_FMA_SCALAR); /* AVX2 without FMA */
    ck_assert_int_eq(nl_fma_kind_for(avx2), NL_FMA_AVX2);
    ck_assert_int_eq(nl_fma_kind_for(avx512), NL_FMA_AVX512);
#else
    ck_assert_int_eq(nl_fma_kind_for(avx512), NL_FMA_SCALAR);
#endif
    for (int k = 0; k < NL_FMA_KIND_COUNT; k++) {
        ck_assert_ptr_nonnull(nl_fma_kind_name((nl_fma_kind)k));
        ck_assert_int_ge(nl_fma_kind_width((nl_fma_kind)k), 1);
    }
}
END_TEST

START_TEST(test_probe_rates)
{
    nl_fma_peak peak;
    nl_error err = {0};
    ck_assert_int_eq(nl_fma_peak_probe(2, &peak, &err), NL_OK);
    ck_assert_int_eq(peak.kind, nl_fma_kind_for(nl_cpu_kernels_isa()));
    ck_assert_int_eq(peak.threads, 2);
    ck_assert(isfinite(peak.gflops_one) && peak.gflops_one > 0);
    ck_assert(isfinite(peak.gflops_all) && peak.gflops_all > 0);
    /* the sgemm probe carries it */
    nl_bench_peak both;
    ck_assert_int_eq(nl_bench_peak_probe(1, &both, &err), NL_OK);
    ck_assert(isfinite(both.fma.gflops_one) && both.fma.gflops_one > 0);
    ck_assert_double_eq(both.fma.gflops_all, both.fma.gflops_one);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_fma_peak");
    TCase *tc = tcase_create("fma_peak");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_counted_flops_and_lanes);
    tcase_add_test(tc, test_widest_kind_of_a_mask);
    tcase_add_test(tc, test_probe_rates);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
