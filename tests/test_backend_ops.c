// ctest-labels: kernels
/* The CPU backend's ops table holds exactly the ops the list of ops
 * (backend_ops.def) gives the CPU (the CUDA backend's is checked the same
 * way in test_cuda_parity, on a GPU or the emulator): a NULL slot would
 * otherwise be found only by the first model that calls it, as a crash,
 * and a filled recording slot would send the training loop to record a
 * CUDA graph on the CPU. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

START_TEST(test_cpu_ops_as_listed)
{
    const nl_ops *ops = tu_cpu(2)->ops;
    char report[512];
    ck_assert_str_eq(ops->name, "cpu");
    const int misfilled = tu_ops_misfilled(ops, NL_DEVICE_CPU, report, sizeof report);
    ck_assert_msg(misfilled == 0, "cpu ops: %d slots unlike backend_ops.def: %s", misfilled,
                  report);
}
END_TEST

/* the walker itself finds an empty slot, and a filled one the list does not
 * give the backend */
START_TEST(test_walker_finds_misfilled_slots)
{
    nl_ops ops = *tu_cpu(2)->ops;
    char report[512];
    ops.norm_backward = NULL;
    ck_assert_int_eq(tu_ops_misfilled(&ops, NL_DEVICE_CPU, report, sizeof report), 1);
    ck_assert_str_eq(report, "norm_backward (empty)");
    ops.norm_backward = tu_cpu(2)->ops->norm_backward;
    ops.replay = ops.release; /* any function of the slot's type */
    ck_assert_int_eq(tu_ops_misfilled(&ops, NL_DEVICE_CPU, report, sizeof report), 1);
    ck_assert_str_eq(report, "replay (filled, not listed for this backend)");
}
END_TEST

/* Read for CUDA, the CPU's table is wrong in exactly the slots the list
 * gives one backend alone: the recording slots (CUDA_ONLY) empty, and the
 * channel-blocked twins (CPU_ONLY) filled, which the CUDA backend must
 * leave empty so that it is never handed a block */
START_TEST(test_walker_reads_one_backend_slots)
{
    char report[2048];
    int one_backend = 0;
#define NL_OP(backends, ret, op, params)                                                           \
    one_backend += NL_OP_ON_CPU_##backends != NL_OP_ON_CUDA_##backends;
#include "backend/backend_ops.def"
    const int misfilled = tu_ops_misfilled(tu_cpu(2)->ops, NL_DEVICE_CUDA, report, sizeof report);
    ck_assert_msg(misfilled == one_backend, "%d misfilled, %d one backend's: %s", misfilled,
                  one_backend, report);
    static const char *const blocked[] = {"switch_backward_blocked", "dyt_forward_blocked",
                                          "dyt_backward_blocked", "tlu_forward_blocked",
                                          "tlu_backward_blocked"};
    char want[96];
    for (size_t k = 0; k < sizeof blocked / sizeof blocked[0]; k++) {
        snprintf(want, sizeof want, "%s (filled, not listed for this backend)", blocked[k]);
        ck_assert_msg(strstr(report, want), "'%s' not in: %s", want, report);
    }
    ck_assert_msg(strstr(report, "record_begin (empty)"), "%s", report);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backend_ops");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_cpu_ops_as_listed);
    tcase_add_test(tc, test_walker_finds_misfilled_slots);
    tcase_add_test(tc, test_walker_reads_one_backend_slots);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
