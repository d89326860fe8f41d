// ctest-labels: mpi long
/* Data-parallel training over MPI, through mpirun (label mpi: not in the
 * default suite; `ctest --test-dir build -L mpi`). Skips itself (77) in a
 * build without MPI or without mpirun on PATH.
 *
 * R ranks x B samples give the losses of one process at batch R*B to float
 * rounding (1e-6 relative, every step of 20), and the same bits run after
 * run; the errors of a launch exit 2 and write nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "testutil.h"

#define STEPS 20
#define MAX_ROWS 64

/* runs `mpirun -np ranks normlab ARGS` in the test's directory, output in out.txt */
static int mpirun(int ranks, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np %d %s %s "
             "> out.txt 2>&1",
             tu_tmp, ranks, NORMLAB_BINARY, args);
    const int status = system(cmd);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* the loss column of the train rows of DIR/metrics.csv, as written */
static int train_losses(const char *dir, char rows[][32])
{
    char name[300];
    snprintf(name, sizeof name, "%s/metrics.csv", dir);
    char *text = tu_tmp_read(name);
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < MAX_ROWS; line = strtok(NULL, "\n")) {
        char split[32], loss[32];
        if (sscanf(line, "%*[^,],%*[^,],%31[^,],%31[^,]", split, loss) == 2 &&
            strcmp(split, "train") == 0)
            snprintf(rows[n++], sizeof rows[0], "%s", loss);
    }
    free(text);
    return n;
}

/* every step's training loss of two runs within `tol` relative (0: the same text) */
static void same_losses(const char *a, const char *b, double tol, const char *what)
{
    char ra[MAX_ROWS][32], rb[MAX_ROWS][32];
    const int na = train_losses(a, ra), nb = train_losses(b, rb);
    ck_assert_int_eq(na, STEPS);
    ck_assert_int_eq(nb, STEPS);
    double worst = 0.0;
    for (int i = 0; i < na; i++) {
        if (tol == 0.0) {
            ck_assert_msg(strcmp(ra[i], rb[i]) == 0, "%s: step %d: %s vs %s", what, i + 1, ra[i],
                          rb[i]);
            continue;
        }
        const double x = atof(ra[i]), y = atof(rb[i]);
        const double rel = fabs(x - y) / fabs(y);
        worst = rel > worst ? rel : worst;
        ck_assert_msg(rel <= tol, "%s: step %d: %s vs %s (relative %.2g > %.2g)", what, i + 1,
                      ra[i], rb[i], rel, tol);
    }
    if (tol > 0.0)
        printf("%s: worst relative difference %.2g over %d steps\n", what, worst, na);
}

static const char *config = "name: mpi\n"
                            "seed: 3\n"
                            "data: {dataset: synthetic, shape: [24], classes: 5, "
                            "train_size: 512, test_size: 100}\n"
                            "model: {arch: mlp, widths: [32, 32], norm: {type: group, groups: 4}}\n"
                            "train: {batch_size: 16, steps: 20, log_every: 1, eval_every: 10, "
                            "eval_batch_size: 30, optimizer: {lr: 0.02, momentum: 0.9}}\n"
                            "threads: 1\n";

static void setup(void)
{
    tu_tmp_make("mpi");
    tu_tmp_write("c.yaml", config);
}

/* per-sample normalization: nothing but the gradients crosses ranks */
START_TEST(test_ranks_match_one_process)
{
    setup();
    ck_assert_int_eq(tu_normlab("run c.yaml --quiet --out one"), 0);
    ck_assert_int_eq(mpirun(2, "run c.yaml --quiet --out two"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "2 MPI ranks, 8 samples each"), "%s", out);
    free(out);
    char *summary = tu_tmp_read("two/summary.json");
    ck_assert_msg(strstr(summary, "\"ranks\": 2") && strstr(summary, "\"rank_batch_size\": 8"),
                  "%s", summary);
    free(summary);
    same_losses("two", "one", 1e-6, "2 ranks x 8 vs 16");
    ck_assert_int_eq(mpirun(4, "run c.yaml --quiet --out four"), 0);
    same_losses("four", "one", 1e-6, "4 ranks x 4 vs 16");
    /* run to run: the same bits */
    ck_assert_int_eq(mpirun(2, "run c.yaml --quiet --out two-again"), 0);
    same_losses("two-again", "two", 0.0, "2 ranks, twice");
    tu_tmp_remove();
}
END_TEST

START_TEST(test_launch_errors)
{
    setup();
    /* a global batch the ranks cannot share: exit 2, nothing written */
    ck_assert_int_eq(mpirun(3, "run c.yaml --quiet --out three"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "c.yaml:5:") && strstr(out, "train.batch_size: 16 cannot be shared "
                                                           "by the 3 MPI ranks") &&
                      strstr(out, "e.g. 15 or 18"),
                  "%s", out);
    /* said once, by rank 0 */
    ck_assert_ptr_null(strstr(strstr(out, "cannot be shared") + 1, "cannot be shared"));
    free(out);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/three", tu_tmp);
    ck_assert_int_ne(access(dir, F_OK), 0);
    /* rank 0 alone finds the directory taken: every rank stops, exit 2 */
    ck_assert_int_eq(tu_normlab("run c.yaml --quiet --out done"), 0);
    ck_assert_int_eq(mpirun(2, "run c.yaml --quiet --out done"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "already holds a finished run"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    if (!nl_dist_built() || system("command -v mpirun > /dev/null 2>&1") != 0) {
        printf("SKIPPED: %s\n", nl_dist_built() ? "no mpirun on PATH"
                                                : "normlab was built without MPI");
        return 77;
    }
    Suite *s = suite_create("mpi");
    TCase *tc = tcase_create("ranks");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_ranks_match_one_process);
    tcase_add_test(tc, test_launch_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
