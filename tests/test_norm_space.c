// ctest-labels: kernels
/* The normalization design space (model.norm.type custom, core/norm/
 * custom.c): every built-in that is one of its points computes, as custom,
 * the built-in's outputs and gradients (tests/norm_space.c, which the CUDA
 * parity suite runs on the GPU too); and the configs whose axes mean
 * nothing, or name an axis the layer lacks, are refused with the reason,
 * the file, line and key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "norm/registry.h"
#include "norm_space.h"
#include "testutil.h"

START_TEST(test_builtins_as_custom)
{
    const int compared = tu_check_norm_space(tu_cpu(2));
    int points = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++)
        points += nl_norm_info_of((nl_norm_kind)k)->point != NULL;
    ck_assert_int_eq(compared, points);
    ck_assert_int_ge(compared, 6); /* batch, layer, group, instance, rms, mean-only at least */
}
END_TEST

/* every point custom builds, on one thread and on two: the sums run in a
 * fixed order, so the thread count changes nothing (the CUDA parity suite
 * runs the same check CPU against GPU) */
START_TEST(test_points_across_threads)
{
    ck_assert_int_ge(tu_check_norm_space_parity(tu_cpu(1), tu_cpu(2)), 20);
}
END_TEST

/* configs/README.md's table of the built-ins as points, from their rows */
START_TEST(test_readme_space_table_is_generated)
{
    free(tu_check_generated_section(
        NORMLAB_SOURCE_DIR "/configs/README.md",
        "<!-- BEGIN DESIGN SPACE TABLE (generated; do not edit by hand) -->\n",
        "<!-- END DESIGN SPACE TABLE -->", nl_norm_write_space_table, "the design space table"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_space");
    TCase *tc = tcase_create("space");
    tcase_add_test(tc, test_builtins_as_custom);
    tcase_add_test(tc, test_points_across_threads);
    tcase_add_test(tc, test_readme_space_table_is_generated);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
