// ctest-labels: mpi long
/* Data-parallel training over MPI, through mpirun (label mpi: not in the
 * default suite; `ctest --test-dir build -L mpi`). Skips itself (77) in a
 * build without MPI or without mpirun on PATH.
 *
 * R ranks x B samples give the losses of one process at batch R*B to float
 * rounding (1e-6 relative, every step of 20), and the same bits run after
 * run: with per-sample normalization, and with batch norm when its
 * statistics are synchronized (model.norm.sync: true); unsynchronized, each
 * rank's batch norm sees only its B samples, and the losses are those of
 * ghost batch norm with virtual batches of B on one process. The errors of
 * a launch exit 2 and write nothing. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"
#include "dist/dist.h"
#include "log/files.h"
#include "testutil.h"
#include "train/run.h"

#define STEPS 20
#define MAX_ROWS 64

/* runs `mpirun APPS` (one or more app contexts, ':' between them) in the
 * test's directory, output in out.txt; GOMP_SPINCOUNT, which normlab would
 * otherwise set by re-executing itself, is set here so that a rank run
 * under qemu-user stays emulated */
static int mpirun_apps(const char *apps)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && OMP_NUM_THREADS=1 GOMP_SPINCOUNT=3000 mpirun --allow-run-as-root "
             "--oversubscribe -x GOMP_SPINCOUNT %s > out.txt 2>&1",
             tu_tmp, apps);
    const int status = system(cmd);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* runs `mpirun -np ranks normlab ARGS` in the test's directory, output in out.txt */
static int mpirun(int ranks, const char *args)
{
    char apps[2048];
    snprintf(apps, sizeof apps, "-np %d %s %s", ranks, NORMLAB_BINARY, args);
    return mpirun_apps(apps);
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
    /* checkpoints (rank 0 writes, every rank takes part) leave the
     * trajectory as it was, and the finished run keeps none */
    ck_assert_int_eq(mpirun(2, "run c.yaml --quiet --out ckpt --set train.checkpoint_every=5"), 0);
    same_losses("ckpt", "two", 0.0, "2 ranks with checkpoints vs without");
    char path[600];
    snprintf(path, sizeof path, "%s/ckpt/checkpoint.nlck", tu_tmp);
    ck_assert_int_ne(access(path, F_OK), 0);
    summary = tu_tmp_read("two/summary.json");
    ck_assert_msg(strstr(summary, "\"exchange_s\": "), "%s", summary);
    free(summary);
    tu_tmp_remove();
}
END_TEST

/* the largest difference of two runs' training losses over the steps */
static double losses_apart(const char *a, const char *b)
{
    char ra[MAX_ROWS][32], rb[MAX_ROWS][32];
    ck_assert_int_eq(train_losses(a, ra), STEPS);
    ck_assert_int_eq(train_losses(b, rb), STEPS);
    double apart = 0.0;
    for (int i = 0; i < STEPS; i++)
        apart = fmax(apart, fabs(atof(ra[i]) - atof(rb[i])));
    return apart;
}

/* batch norm: synchronized, the global batch's statistics on every rank */
START_TEST(test_sync_batchnorm_matches_one_process)
{
    setup();
    const char *bn = "--set model.norm.type=batch";
    char args[512];
    snprintf(args, sizeof args, "run c.yaml --quiet %s --out one", bn);
    ck_assert_int_eq(tu_normlab(args), 0);
    for (int ranks = 2; ranks <= 4; ranks += 2) {
        snprintf(args, sizeof args, "run c.yaml --quiet %s --set model.norm.sync=true --out sync%d",
                 bn, ranks);
        ck_assert_int_eq(mpirun(ranks, args), 0);
        char dir[32], what[64];
        snprintf(dir, sizeof dir, "sync%d", ranks);
        snprintf(what, sizeof what, "sync: %d ranks x %d vs 16", ranks, 16 / ranks);
        same_losses(dir, "one", 1e-6, what);
    }
    snprintf(args, sizeof args, "run c.yaml --quiet %s --set model.norm.sync=true --out again", bn);
    ck_assert_int_eq(mpirun(2, args), 0);
    same_losses("again", "sync2", 0.0, "sync: 2 ranks, twice");
    /* the running statistics are the global batch's too (eval mode uses them) */
    char *a = tu_tmp_read("sync2/summary.json"), *b = tu_tmp_read("one/summary.json");
    char va[64], vb[64];
    ck_assert(nl_json_flat_get(a, "final_test_loss", va, sizeof va));
    ck_assert(nl_json_flat_get(b, "final_test_loss", vb, sizeof vb));
    ck_assert_msg(fabs(atof(va) - atof(vb)) <= 1e-6 * fabs(atof(vb)), "test loss %s vs %s", va, vb);
    free(a);
    free(b);
    /* unsynchronized: per-rank statistics of 8 samples, another training */
    snprintf(args, sizeof args, "run c.yaml --quiet %s --out apart", bn);
    ck_assert_int_eq(mpirun(2, args), 0);
    const double apart = losses_apart("apart", "one");
    ck_assert_msg(apart > 1e-2, "sync: false gave the global batch's losses (at most %g apart)",
                  apart);
    /* ... which are ghost batch norm's with virtual batches of 8 (the
     * training losses: evaluation uses rank 0's running statistics, which
     * saw only its slices, where ghost batch norm's saw every virtual batch) */
    ck_assert_int_eq(tu_normlab("run c.yaml --quiet --set model.norm.type=ghost_batch "
                                "--set model.norm.virtual_batch=8 --out ghost"),
                     0);
    same_losses("apart", "ghost", 1e-6, "sync: false, 2 ranks x 8 vs ghost batch norm, V = 8");
    snprintf(args, sizeof args, "run c.yaml --quiet %s --out apart4", bn);
    ck_assert_int_eq(mpirun(4, args), 0);
    ck_assert_int_eq(tu_normlab("run c.yaml --quiet --set model.norm.type=ghost_batch "
                                "--set model.norm.virtual_batch=4 --out ghost4"),
                     0);
    same_losses("apart4", "ghost4", 1e-6, "sync: false, 4 ranks x 4 vs ghost batch norm, V = 4");
    /* every rank evaluates with rank 0's running statistics: how the test
     * split falls on the ranks (the evaluation batch) changes nothing */
    snprintf(args, sizeof args, "run c.yaml --quiet %s --set train.eval_batch_size=100 --out apart-eval",
             bn);
    ck_assert_int_eq(mpirun(2, args), 0);
    a = tu_tmp_read("apart/summary.json");
    b = tu_tmp_read("apart-eval/summary.json");
    ck_assert(nl_json_flat_get(a, "final_test_loss", va, sizeof va));
    ck_assert(nl_json_flat_get(b, "final_test_loss", vb, sizeof vb));
    ck_assert_msg(fabs(atof(va) - atof(vb)) <= 1e-6 * fabs(atof(vb)),
                  "sync: false: test loss %s with evaluation batches of 30, %s of 100", va, vb);
    free(a);
    free(b);
    tu_tmp_remove();
}
END_TEST

/* a batch norm run of c.yaml: on `ranks` ranks (0: one process without
 * mpirun), synchronized or not, its statistics in `precision` */
static void run_batchnorm(int ranks, bool sync, const char *precision, const char *out)
{
    char args[512];
    snprintf(args, sizeof args,
             "run c.yaml --quiet --set model.norm.type=batch --set model.norm.sync=%s "
             "--set model.norm.stats_precision=%s --out %s",
             sync ? "true" : "false", precision, out);
    ck_assert_int_eq(ranks ? mpirun(ranks, args) : tu_normlab(args), 0);
}

/* Synchronized batch norm with its statistics in a low precision
 * (model.norm.stats_precision): each rank sums its slice in the format,
 * the exchange merges in double and rounds (core/norm/stats_layer.c). The
 * split changes where the rounding falls, so 2 ranks are not one process
 * bit for bit: they stay within a few of the format's rounding units
 * (2^-8 for bf16, 2^-11 for fp16; 4 units is the bound, one was measured),
 * repeat bit for bit, and differ from the fp32 synchronized run, which is
 * one process's to 1e-7. */
START_TEST(test_sync_batchnorm_low_stats_precision)
{
    setup();
    static const struct {
        const char *precision;
        double unit;
    } formats[] = {{"bf16", 0x1p-8}, {"fp16", 0x1p-11}};
    run_batchnorm(2, true, "fp32", "fp32");
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        const char *p = formats[f].precision;
        char one[32], two[32], again[32], what[96];
        snprintf(one, sizeof one, "one-%s", p);
        snprintf(two, sizeof two, "two-%s", p);
        snprintf(again, sizeof again, "again-%s", p);
        run_batchnorm(0, false, p, one);
        run_batchnorm(2, true, p, two);
        snprintf(what, sizeof what, "sync, %s statistics: 2 ranks x 8 vs 16", p);
        same_losses(two, one, 4 * formats[f].unit, what);
        const double from_fp32 = losses_apart(two, "fp32");
        printf("sync, %s statistics: %.2g from the fp32 statistics' losses\n", p, from_fp32);
        ck_assert_msg(from_fp32 > 1e-5, "sync, %s statistics: the fp32 run's losses (%g apart)",
                      p, from_fp32);
        run_batchnorm(2, true, p, again);
        snprintf(what, sizeof what, "sync, %s statistics: 2 ranks, twice", p);
        same_losses(again, two, 0.0, what);
    }
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
    /* a NORMLAB_MPI_TIMEOUT that is not a number of seconds: every rank
     * stops before the run directory is touched, exit 2 */
    char apps[1024];
    snprintf(apps, sizeof apps, "-np 2 -x NORMLAB_MPI_TIMEOUT=soon %s run c.yaml --quiet --out timeout",
             NORMLAB_BINARY);
    ck_assert_int_eq(mpirun_apps(apps), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "NORMLAB_MPI_TIMEOUT='soon' is not a number of seconds"), "%s", out);
    free(out);
    snprintf(dir, sizeof dir, "%s/timeout", tu_tmp);
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

/* the pid of the normlab process that is rank `rank` of a run whose
 * command line names `config`, from /proc; 0 when there is none (yet) */
static pid_t rank_pid(const char *config, int rank)
{
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    pid_t found = 0;
    DIR *proc = opendir("/proc");
    for (struct dirent *e; proc && !found && (e = readdir(proc));) {
        const pid_t pid = (pid_t)atol(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[16384];
        bool named = false;
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        FILE *f = fopen(path, "rb");
        if (f) {
            const size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            bool normlab = false;
            for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
                buf[n] = '\0';
                normlab |= strstr(buf + i, "normlab") && i == 0;
                named |= strcmp(buf + i, config) == 0;
            }
            named &= normlab;
        }
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        if (named && (f = fopen(path, "rb"))) {
            const size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = '\0';
            for (size_t i = 0; i < n && !found; i += strlen(buf + i) + 1)
                if (strcmp(buf + i, want) == 0)
                    found = pid;
        }
    }
    if (proc)
        closedir(proc);
    return found;
}

/* Ctrl-C reaches every process of a terminal's job, but a scheduler or a
 * user may signal one rank alone: every rank must still stop at the same
 * step (none left waiting in a collective), and the run is recorded as
 * interrupted, not finished. The stop requests ride in the gradient
 * exchange, so this also checks that they arrive. */
START_TEST(test_signal_to_one_rank_stops_every_rank)
{
    setup();
    tu_tmp_write("long.yaml", "seed: 3\n"
                 "data: {dataset: synthetic, shape: [24], classes: 5, train_size: 512, "
                 "test_size: 100}\n"
                 "model: {arch: mlp, widths: [32, 32], norm: {type: batch, sync: true}}\n"
                 "train: {batch_size: 16, steps: 100000000, log_every: 20, eval_every: 100000000}\n"
                 "threads: 1\n");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && (OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np 2 %s run "
             "long.yaml --quiet --out stopped > out.txt 2>&1; echo $? > rc.txt) &",
             tu_tmp, NORMLAB_BINARY);
    ck_assert_int_eq(system(cmd), 0);
    char rows[MAX_ROWS][32], metrics[600];
    snprintf(metrics, sizeof metrics, "%s/stopped/metrics.csv", tu_tmp);
    pid_t rank1 = 0;
    for (int tries = 0; tries < 600 && (!rank1 || access(metrics, F_OK) != 0 ||
                                        train_losses("stopped", rows) < 2);
         tries++) {
        usleep(100000);
        if (!rank1)
            rank1 = rank_pid("long.yaml", 1);
    }
    ck_assert_msg(rank1 > 0, "rank 1 of the run was not found");
    ck_assert_int_ge(train_losses("stopped", rows), 2);
    ck_assert_int_eq(kill(rank1, SIGINT), 0);
    char rc_path[600];
    snprintf(rc_path, sizeof rc_path, "%s/rc.txt", tu_tmp);
    for (int tries = 0; tries < 600 && access(rc_path, F_OK) != 0; tries++)
        usleep(100000);
    usleep(200000); /* the echo's write */
    char *rc = tu_tmp_read("rc.txt");
    ck_assert_msg(atoi(rc) == 1, "mpirun exited %s", rc);
    free(rc);
    char *summary = tu_tmp_read("stopped/summary.json");
    ck_assert_msg(strstr(summary, "\"status\": \"failed\"") && strstr(summary, "interrupted at step"),
                  "%s", summary);
    free(summary);
    ck_assert_int_eq(rank_pid("long.yaml", 0), 0);
    ck_assert_int_eq(rank_pid("long.yaml", 1), 0);
    tu_tmp_remove();
}
END_TEST

/* Ranks whose product or convolution libraries differ (NORMLAB_GEMM,
 * NORMLAB_CONV set on one rank only) would sum in other orders: exit 2,
 * said once, naming the variable, nothing written. */
START_TEST(test_ranks_agree_on_libraries)
{
    setup();
    static const char *const splits[][3] = {
        {"NORMLAB_GEMM=openblas", "NORMLAB_GEMM=auto", "matrix products"},
        {"NORMLAB_CONV=normlab", "NORMLAB_CONV=auto", "convolutions"},
    };
    for (int i = 0; i < 2; i++) {
        /* a build without oneDNN runs openblas and normlab under every name */
        if (!nl_cpu_onednn_version())
            break;
        char apps[2048], dir[512], said[128];
        snprintf(apps, sizeof apps,
                 "-np 1 -x %s %s run c.yaml --quiet --out split : "
                 "-np 1 -x %s %s run c.yaml --quiet --out split",
                 splits[i][0], NORMLAB_BINARY, splits[i][1], NORMLAB_BINARY);
        ck_assert_int_eq(mpirun_apps(apps), 2);
        char *out = tu_normlab_output();
        snprintf(said, sizeof said, "would run their %s on different libraries", splits[i][2]);
        const char *at = strstr(out, said);
        ck_assert_msg(at && strstr(out, "drift apart") &&
                          strstr(out, i == 0 ? "NORMLAB_GEMM" : "NORMLAB_CONV"),
                      "%s", out);
        ck_assert_ptr_null(strstr(at + 1, said));
        free(out);
        snprintf(dir, sizeof dir, "%s/split", tu_tmp);
        ck_assert_int_ne(access(dir, F_OK), 0);
    }
    tu_tmp_remove();
}
END_TEST

/* Every rank updates its own copy of the parameters, so the ranks must run
 * one CPU kernel set: ranks on different CPUs agree on the best set all of
 * them run, and sets pinned per rank that differ are refused. The CPUs are
 * made to differ by running one rank under qemu-user as a Nehalem (no AVX:
 * it runs only the x86-64 set); GOMP_SPINCOUNT keeps normlab from
 * re-executing itself natively there. */
START_TEST(test_ranks_agree_on_kernel_sets)
{
    setup();
    const char *runnable[2] = {NULL, NULL};
    for (int i = 0, n = 0; i < nl_cpu_kernel_set_count() && n < 2; i++)
        if (nl_cpu_kernel_set_runs_here(i))
            runnable[n++] = nl_cpu_kernel_set_name(i);
    char apps[2048], dir[512];
    if (runnable[1]) {
        /* pinned, and different: exit 2, said once, nothing written */
        snprintf(apps, sizeof apps,
                 "-np 1 -x NORMLAB_CPU_KERNELS=%s %s run c.yaml --quiet --out pinned : "
                 "-np 1 -x NORMLAB_CPU_KERNELS=%s %s run c.yaml --quiet --out pinned",
                 runnable[0], NORMLAB_BINARY, runnable[1], NORMLAB_BINARY);
        ck_assert_int_eq(mpirun_apps(apps), 2);
        char *out = tu_normlab_output();
        const char *said = strstr(out, "would run different CPU kernel sets");
        ck_assert_msg(said && strstr(out, "drift apart") && strstr(out, "NORMLAB_CPU_KERNELS="),
                      "%s", out);
        ck_assert_ptr_null(strstr(said + 1, "would run different CPU kernel sets"));
        free(out);
        snprintf(dir, sizeof dir, "%s/pinned", tu_tmp);
        ck_assert_int_ne(access(dir, F_OK), 0);
    }
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_kernels_choose(NULL, &err), NL_OK);
    if (system("command -v qemu-x86_64 > /dev/null 2>&1") != 0 ||
        strcmp(nl_cpu_kernels_name(), "x86-64") == 0) {
        printf("ranks on different CPUs: not tried (%s)\n",
               runnable[1] ? "no qemu-x86_64" : "this CPU runs only the x86-64 set");
        tu_tmp_remove();
        return;
    }
    /* automatic, on different CPUs: every rank takes x86-64, and trains as
     * two native ranks pinned to it do, bit for bit. The emulated rank is
     * given the x86-64 set's OpenBLAS core, as tests/portable/unit.sh does:
     * without it normlab re-executes itself to load that core, and the exec
     * ran natively, outside qemu (both ranks then on this CPU) */
    const char *x86_64_core = NULL;
    for (int i = 0; i < nl_cpu_kernel_set_count(); i++)
        if (!strcmp(nl_cpu_kernel_set_name(i), "x86-64"))
            x86_64_core = nl_cpu_kernel_set_openblas_core(i);
    ck_assert_ptr_nonnull(x86_64_core);
    snprintf(apps, sizeof apps,
             "-np 1 %s run c.yaml --out mixed : -np 1 env OPENBLAS_CORETYPE=%s qemu-x86_64 -cpu "
             "Nehalem %s run c.yaml --out mixed",
             NORMLAB_BINARY, x86_64_core, NORMLAB_BINARY);
    ck_assert_int_eq(mpirun_apps(apps), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "run on different CPUs") && strstr(out, "every rank uses x86-64,"),
                  "%s", out);
    free(out);
    char *summary = tu_tmp_read("mixed/summary.json");
    ck_assert_msg(strstr(summary, "\"cpu_kernels\": \"x86-64\""), "%s", summary);
    free(summary);
    snprintf(apps, sizeof apps, "-np 2 -x NORMLAB_CPU_KERNELS=x86-64 %s run c.yaml --quiet --out same",
             NORMLAB_BINARY);
    ck_assert_int_eq(mpirun_apps(apps), 0);
    same_losses("mixed", "same", 0.0, "ranks on two CPUs against two pinned to x86-64");
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
    tcase_add_test(tc, test_sync_batchnorm_matches_one_process);
    tcase_add_test(tc, test_sync_batchnorm_low_stats_precision);
    tcase_add_test(tc, test_launch_errors);
    tcase_add_test(tc, test_ranks_agree_on_kernel_sets);
    tcase_add_test(tc, test_ranks_agree_on_libraries);
    tcase_add_test(tc, test_signal_to_one_rank_stops_every_rank);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
