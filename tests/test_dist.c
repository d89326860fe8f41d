/* The communicator of data-parallel runs on one process, without mpirun:
 * the slices ranks take of a batch, the one-rank collectives, the reserve
 * that keeps steps from allocating, and a launch of several ranks in a
 * build without MPI (refused, nothing written). The runs over several
 * ranks are tests/test_mpi.c (label mpi). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "testutil.h"

/* every row of the batch goes to exactly one rank, in rank order, and the
 * shares differ by at most one */
START_TEST(test_slices_cover_the_batch)
{
    for (int size = 1; size <= 5; size++)
        for (int n = 0; n <= 13; n++) {
            int next = 0, least = n, most = 0;
            for (int r = 0; r < size; r++) {
                int start, count;
                nl_dist_slice(r, size, n, &start, &count);
                ck_assert_int_eq(start, next);
                next += count;
                least = count < least ? count : least;
                most = count > most ? count : most;
            }
            ck_assert_int_eq(next, n);
            ck_assert_int_le(most - least, 1);
            if (n % size == 0)
                ck_assert_int_eq(most, n / size);
        }
}
END_TEST

START_TEST(test_one_rank_collectives)
{
    nl_dist *d = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_dist_open(&d, &err), NL_OK);
    ck_assert_int_eq(nl_dist_rank(d), 0);
    ck_assert_int_eq(nl_dist_size(d), 1);
    double sums[3] = {1.5, -2.0, 1e300};
    nl_dist_sum(d, sums, 3);
    ck_assert(sums[0] == 1.5 && sums[1] == -2.0 && sums[2] == 1e300);
    float grads[2] = {0.25f, -3.0f};
    nl_dist_mean_floats(d, grads, 2);
    ck_assert(grads[0] == 0.25f && grads[1] == -3.0f);
    ck_assert_int_eq(nl_dist_agree(d, NL_ERR_IO, &err), NL_ERR_IO);
    ck_assert_int_eq(nl_dist_agree(d, NL_OK, &err), NL_OK);
    /* a collective beyond the reserve is an error kept for the step's end */
    ck_assert_int_eq(nl_dist_reserve(d, 1024, &err), NL_OK);
    static char big[4096];
    ck_assert_ptr_nonnull(nl_dist_allgather(d, big, 1024));
    ck_assert_int_eq(nl_dist_status(d, &err), NL_OK);
    ck_assert_ptr_null(nl_dist_allgather(d, big, sizeof big));
    ck_assert_int_eq(nl_dist_status(d, &err), NL_ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "4096 bytes"), "%s", err.msg);
    nl_dist_close(d);
}
END_TEST

/* In a build without MPI, mpirun would start R copies that each train the
 * whole model into the same directory: refused with exit 2, nothing
 * written. (With MPI built, the same variable starts MPI: test_mpi's.) */
START_TEST(test_launch_without_mpi_is_refused)
{
    if (nl_dist_built())
        return;
    tu_tmp_make("dist");
    tu_tmp_write("c.yaml", "data: {dataset: synthetic, shape: [8], classes: 2, train_size: 64, "
                           "test_size: 16}\nmodel: {arch: mlp, widths: [8]}\n"
                           "train: {batch_size: 8, steps: 2}\n");
    /* the config runs as one process; under a launcher it must not */
    ck_assert_int_eq(tu_normlab("run c.yaml --out run"), 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/run", tu_tmp);
    ck_assert_int_eq(access(dir, F_OK), 0);
    setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    const int status = tu_normlab("run c.yaml --out refused");
    unsetenv("OMPI_COMM_WORLD_SIZE");
    char *out = tu_normlab_output();
    ck_assert_int_eq(status, 2);
    ck_assert_msg(strstr(out, "one of 3 ranks") && strstr(out, "built without MPI") &&
                      strstr(out, "-DNORMLAB_MPI=ON"),
                  "%s", out);
    snprintf(dir, sizeof dir, "%s/refused", tu_tmp);
    ck_assert_int_ne(access(dir, F_OK), 0);
    free(out);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("one process");
    tcase_add_test(tc, test_slices_cover_the_batch);
    tcase_add_test(tc, test_one_rank_collectives);
    tcase_add_test(tc, test_launch_without_mpi_is_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
