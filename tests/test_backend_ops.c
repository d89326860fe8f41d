// ctest-labels: kernels
/* Every slot of the CPU backend's ops table is filled (the CUDA backend's is
 * checked the same way in test_cuda_parity, on a GPU or the emulator): a
 * NULL slot would otherwise be found only by the first model that calls
 * it, as a crash. */
#include <stdio.h>

#include "testutil.h"

START_TEST(test_cpu_ops_filled)
{
    const nl_ops *ops = tu_cpu(2)->ops;
    char missing[512];
    ck_assert_str_eq(ops->name, "cpu");
    const int unfilled = tu_ops_unfilled(ops, missing, sizeof missing);
    ck_assert_msg(unfilled == 0, "cpu ops: %d empty slots (%s in nl_ops)", unfilled, missing);
}
END_TEST

/* the walker itself finds a missing slot */
START_TEST(test_walker_finds_empty_slot)
{
    nl_ops ops = *tu_cpu(2)->ops;
    ops.norm_backward = NULL;
    char missing[512];
    ck_assert_int_eq(tu_ops_unfilled(&ops, missing, sizeof missing), 1);
    char want[64];
    snprintf(want, sizeof want, "offset %zu", offsetof(nl_ops, norm_backward));
    ck_assert_str_eq(missing, want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backend_ops");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_cpu_ops_filled);
    tcase_add_test(tc, test_walker_finds_empty_slot);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
