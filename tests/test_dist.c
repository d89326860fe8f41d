/* The communicator of data-parallel runs on one process, without mpirun:
 * the slices ranks take of a batch, the one-rank collectives, the reserve
 * that keeps steps from allocating, and a launch of several ranks in a
 * build without MPI (refused, nothing written). The runs over several
 * ranks are tests/test_mpi.c (label mpi). */
#define _GNU_SOURCE /* fopencookie */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
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
    /* one rank gathers its own bytes, whatever their size: no reserve */
    static char big[1 << 16];
    ck_assert_ptr_eq(nl_dist_allgather(d, big, sizeof big), big);
    ck_assert_int_eq(nl_dist_status(d, &err), NL_OK);
    nl_dist_close(d);
    /* NULL is one rank too (models built without a communicator) */
    ck_assert_int_eq(nl_dist_size(NULL), 1);
    ck_assert_ptr_eq(nl_dist_allgather(NULL, big, 8), big);
    nl_dist_sum(NULL, sums, 3);
    ck_assert(sums[0] == 1.5);
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

/* On one process the synchronized layer (statistics, then apply; the
 * backward in two steps) trains as batch norm does; sync is refused on a
 * normalizer without batch statistics. */
START_TEST(test_sync_on_one_process)
{
    tu_tmp_make("dist");
    tu_tmp_write("c.yaml", "seed: 5\ndata: {dataset: synthetic, shape: [12], classes: 3, "
                           "train_size: 256, test_size: 64}\n"
                           "model: {arch: mlp, widths: [16, 16], norm: {type: batch}}\n"
                           "train: {batch_size: 8, steps: 20, log_every: 5, eval_every: 10, "
                           "optimizer: {lr: 0.05}}\nthreads: 1\n");
    ck_assert_int_eq(tu_normlab("run c.yaml --quiet --out plain"), 0);
    ck_assert_int_eq(tu_normlab("run c.yaml --quiet --set model.norm.sync=true --out sync"), 0);
    char *a = tu_tmp_read("plain/metrics.csv"), *b = tu_tmp_read("sync/metrics.csv");
    int rows = 0;
    char *sa = NULL, *sb = NULL;
    for (char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb); la && lb;
         la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
        double loss_a, loss_b;
        if (sscanf(la, "%*[^,],%*[^,],%*[^,],%lf", &loss_a) != 1 ||
            sscanf(lb, "%*[^,],%*[^,],%*[^,],%lf", &loss_b) != 1)
            continue; /* the header */
        ck_assert_msg(fabs(loss_a - loss_b) <= 1e-6 * fabs(loss_a), "%s\nvs\n%s", la, lb);
        rows++;
    }
    ck_assert_int_ge(rows, 9); /* 4 train, 3 test, 3 test_trainmode rows */
    free(a);
    free(b);
    char *config = tu_tmp_read("sync/config.yaml");
    ck_assert_msg(strstr(config, "sync: true"), "%s", config);
    free(config);
    ck_assert_int_eq(tu_normlab("run c.yaml --set model.norm.type=layer --set model.norm.sync=true "
                                "--out refused"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "model.norm.sync: applies only when model.norm.type is batch"), "%s",
                  out);
    free(out);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/refused", tu_tmp);
    ck_assert_int_ne(access(dir, F_OK), 0);
    tu_tmp_remove();
}
END_TEST

/* a stream like stderr (unbuffered) that records each write(2) it makes */
struct writes {
    int n;
    char first[4096];
};

static ssize_t count_write(void *cookie, const char *buf, size_t size)
{
    struct writes *w = cookie;
    if (w->n++ == 0)
        snprintf(w->first, sizeof w->first, "%.*s", (int)size, buf);
    return (ssize_t)size;
}

/* Every rank that fails says why in one line, written whole (one write:
 * a pipe never splits it), so that mpirun, copying each rank's pipe as it
 * reads it, cannot put another rank's line inside it (cluster_rank-lost
 * read "rank 1 of 4: normlab run: rank 2 of 4: waited 5 s ..."). The
 * message's control bytes are escaped in the same write. */
START_TEST(test_rank_message_is_one_write)
{
    struct writes w = {0};
    FILE *f = fopencookie(&w, "w", (cookie_io_functions_t){.write = count_write});
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(setvbuf(f, NULL, _IONBF, 0), 0);
    nl_error err = {0};
    nl_fail(&err, NL_ERR_RUNTIME, "waited 5 s in an MPI all-gather for the other ranks without an answer "
            "(NORMLAB_MPI_TIMEOUT=5)\x1b[2J; every rank stops");
    ck_assert_int_eq(nl_cmd_report_to(f, "run: rank 1 of 4", &err), 1);
    fclose(f);
    ck_assert_int_eq(w.n, 1);
    ck_assert_str_eq(w.first, "normlab run: rank 1 of 4: waited 5 s in an MPI all-gather for the other ranks "
                              "without an answer (NORMLAB_MPI_TIMEOUT=5)\\x1b[2J; every rank stops\n");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("one process");
    tcase_add_test(tc, test_slices_cover_the_batch);
    tcase_add_test(tc, test_rank_message_is_one_write);
    tcase_add_test(tc, test_one_rank_collectives);
    tcase_add_test(tc, test_launch_without_mpi_is_refused);
    tcase_add_test(tc, test_sync_on_one_process);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
