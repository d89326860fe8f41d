/* GPU benchmark of the normalization kernels (not a test; built only with
 * CUDA): each normalizer's forward (training mode, as a training step runs
 * it) and backward on (32, 64, 56, 56) and (256, 256, 14, 14), through the
 * CUDA backend's ops table.
 *
 * Time: the median over --reps repetitions of --calls back-to-back calls
 * between two synchronizes (so per-call launch overhead overlaps the GPU
 * work, as in training). Bandwidth counts the compulsory traffic: forward
 * reads x and writes y, backward reads x and dy and writes dx (the small
 * per-channel vectors are left out). The reference is a device-to-device
 * copy (ops->copy, i.e. cudaMemcpyAsync) of 256 MiB measured in the same
 * run, counted as read + write.
 *
 *   bench_cuda_norm [--csv FILE] [--reps N] [--calls N] [--groups G]
 *
 * Prints a table and writes CSV (default bench_cuda_norm.csv). Compare with
 * experiments/bench_cuda_norm_torch.py on the same GPU. The planner knobs of
 * core/cuda/cuda_common.h (NORMLAB_CUDA_NORM_SPLITS, NORMLAB_CUDA_NORM_SMEM)
 * apply, for trying other decompositions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device/device.h"
#include "base/rng.h"

typedef struct {
    const char *name;
    int groups; /* 0: batch norm; -1: instance (groups = c) */
} norm_kind;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die_on(nl_backend *be, const char *what)
{
    nl_error err = {0};
    if (be->ops->synchronize(be, &err) != NL_OK) {
        fprintf(stderr, "bench_cuda_norm: %s: %s\n", what, err.msg);
        exit(1);
    }
}

static void *dev_alloc(nl_backend *be, size_t bytes)
{
    void *p = NULL;
    nl_error err = {0};
    if (be->ops->alloc(be, bytes, &p, &err) != NL_OK) {
        fprintf(stderr, "bench_cuda_norm: %s\n", err.msg);
        exit(1);
    }
    return p;
}

static float *dev_random(nl_backend *be, size_t n, uint64_t seed, float mean, float std)
{
    float *h = malloc(n * sizeof *h);
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_TEST);
    for (size_t i = 0; i < n; i++)
        h[i] = mean + std * (float)nl_rng_normal(&rng);
    float *d = dev_alloc(be, n * sizeof *h);
    be->ops->upload(be, d, h, n * sizeof *h);
    die_on(be, "upload");
    free(h);
    return d;
}

typedef struct {
    nl_backend *be;
    int n, c, hw, groups; /* groups 0: batch norm */
    float *x, *y, *dy, *dx, *gamma, *beta, *dgamma, *dbeta;
    float *save_mean, *save_rstd, *running_mean, *running_var;
    float *momentum; /* device: one float, as the model's per-step scalars */
    void *workspace;
} norm_bench;

static nl_norm_geom geom_of(const norm_bench *b)
{
    return (nl_norm_geom){b->n, b->c, b->hw, b->groups, true, 1e-5f, NL_PRECISION_FP32, 0, {0}};
}

static void run_forward(const norm_bench *b)
{
    nl_backend *be = b->be;
    const nl_norm_geom g = geom_of(b);
    const bool running = b->groups == 0; /* batch norm keeps running statistics */
    be->ops->norm_forward(be, &g, b->x, b->gamma, b->beta, b->y, b->save_mean, b->save_rstd,
                          running ? b->running_mean : NULL, running ? b->running_var : NULL,
                          b->momentum);
}

static void run_backward(const norm_bench *b)
{
    nl_backend *be = b->be;
    const nl_norm_geom g = geom_of(b);
    be->ops->norm_backward(be, &g, b->x, b->dy, b->gamma, b->save_mean, b->save_rstd, b->dx,
                           false, b->dgamma, b->dbeta, b->workspace);
}

/* median seconds per call */
static double time_calls(nl_backend *be, void (*fn)(const norm_bench *), const norm_bench *b,
                         int reps, int calls)
{
    for (int i = 0; i < 3; i++)
        fn(b);
    die_on(be, "warm-up");
    double *t = malloc(reps * sizeof *t);
    for (int r = 0; r < reps; r++) {
        const double t0 = now_s();
        for (int i = 0; i < calls; i++)
            fn(b);
        die_on(be, "timed calls");
        t[r] = (now_s() - t0) / calls;
    }
    qsort(t, reps, sizeof *t, cmp_double);
    const double med = t[reps / 2];
    free(t);
    return med;
}

static double copy_bandwidth(nl_backend *be, size_t bytes, int reps, int calls)
{
    float *a = dev_alloc(be, bytes), *b = dev_alloc(be, bytes);
    be->ops->fill(be, a, 1.0f, bytes / sizeof(float));
    for (int i = 0; i < 3; i++)
        be->ops->copy(be, b, a, bytes / sizeof(float));
    die_on(be, "copy warm-up");
    double *t = malloc(reps * sizeof *t);
    for (int r = 0; r < reps; r++) {
        const double t0 = now_s();
        for (int i = 0; i < calls; i++)
            be->ops->copy(be, b, a, bytes / sizeof(float));
        die_on(be, "copy");
        t[r] = (now_s() - t0) / calls;
    }
    qsort(t, reps, sizeof *t, cmp_double);
    const double med = t[reps / 2];
    free(t);
    be->ops->release(be, a);
    be->ops->release(be, b);
    return 2.0 * (double)bytes / med;
}

int main(int argc, char **argv)
{
    const char *csv_path = "bench_cuda_norm.csv";
    int reps = 21, calls = 20, gn_groups = 32;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
            csv_path = argv[++i];
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
            calls = atoi(argv[++i]);
        else if (strcmp(argv[i], "--groups") == 0 && i + 1 < argc)
            gn_groups = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--csv FILE] [--reps N] [--calls N] [--groups G]\n",
                    argv[0]);
            return 2;
        }
    }
    if (reps < 1 || calls < 1 || gn_groups < 1) {
        fprintf(stderr, "bench_cuda_norm: --reps, --calls and --groups must be >= 1\n");
        return 2;
    }
    char device[512];
    if (!nl_backend_cuda_describe(device, sizeof device)) {
        fprintf(stderr, "bench_cuda_norm: %s\n", device);
        return 1;
    }
    nl_backend *be = NULL;
    nl_error err = {0};
    if (nl_backend_open(NL_DEVICE_CUDA, NULL, &be, &err) != NL_OK) {
        fprintf(stderr, "bench_cuda_norm: %s\n", err.msg);
        return 1;
    }
    FILE *csv = fopen(csv_path, "w");
    if (!csv) {
        fprintf(stderr, "bench_cuda_norm: cannot write %s\n", csv_path);
        return 1;
    }
    const double copy_bw = copy_bandwidth(be, (size_t)256 << 20, reps, calls);
    printf("device: %s\n", device);
    printf("device-to-device copy (256 MiB, read + write): %.1f GB/s\n\n", copy_bw / 1e9);
    fprintf(csv, "impl,device,norm,groups,n,c,h,w,pass,median_us,bytes,gbps,copy_gbps,"
                 "pct_of_copy\n");
    printf("%-9s %6s  %-18s %-8s %10s %10s %8s\n", "norm", "groups", "shape", "pass", "median us",
           "GB/s", "% copy");

    const int shapes[][4] = {{32, 64, 56, 56}, {256, 256, 14, 14}};
    const norm_kind kinds[] = {{"batch", 0}, {"layer", 1}, {"group", gn_groups}, {"instance", -1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = shapes[s][0], c = shapes[s][1], h = shapes[s][2], w = shapes[s][3];
        const int hw = h * w;
        const size_t count = (size_t)n * c * hw;
        norm_bench b = {.be = be, .n = n, .c = c, .hw = hw};
        b.x = dev_random(be, count, 1, 0.5f, 2.0f);
        b.dy = dev_random(be, count, 2, 0.0f, 1.0f);
        b.y = dev_alloc(be, count * sizeof(float));
        b.dx = dev_alloc(be, count * sizeof(float));
        b.gamma = dev_random(be, c, 3, 1.0f, 0.2f);
        b.beta = dev_random(be, c, 4, 0.0f, 0.2f);
        b.dgamma = dev_alloc(be, c * sizeof(float));
        b.dbeta = dev_alloc(be, c * sizeof(float));
        b.running_mean = dev_alloc(be, c * sizeof(float));
        b.running_var = dev_alloc(be, c * sizeof(float));
        be->ops->fill(be, b.running_mean, 0.0f, c);
        be->ops->fill(be, b.running_var, 1.0f, c);
        b.momentum = dev_alloc(be, sizeof(float));
        be->ops->fill(be, b.momentum, 0.1f, 1);
        const size_t stats = (size_t)n * c; /* enough for any group count */
        b.save_mean = dev_alloc(be, stats * sizeof(float));
        b.save_rstd = dev_alloc(be, stats * sizeof(float));
        const nl_norm_geom widest = {n, c, hw, 1, true, 1e-5f, NL_PRECISION_FP32, 0, {0}};
        b.workspace = dev_alloc(be, be->ops->norm_backward_workspace(be, &widest));
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            b.groups = kinds[k].groups < 0 ? c : kinds[k].groups;
            if (b.groups > 0 && c % b.groups != 0) {
                printf("%-9s %6d  skipped: %d groups do not divide %d channels\n", kinds[k].name,
                       b.groups, b.groups, c);
                continue;
            }
            for (int pass = 0; pass < 2; pass++) {
                if (pass == 1)
                    run_forward(&b); /* backward needs this forward's statistics */
                const double t = time_calls(be, pass ? run_backward : run_forward, &b, reps, calls);
                const double bytes = (double)count * sizeof(float) * (pass ? 3.0 : 2.0);
                const double bw = bytes / t;
                char shape[32];
                snprintf(shape, sizeof shape, "(%d,%d,%d,%d)", n, c, h, w);
                printf("%-9s %6d  %-18s %-8s %10.1f %10.1f %7.1f%%\n", kinds[k].name, b.groups,
                       shape, pass ? "backward" : "forward", t * 1e6, bw / 1e9,
                       100.0 * bw / copy_bw);
                fprintf(csv, "normlab,\"%s\",%s,%d,%d,%d,%d,%d,%s,%.3f,%.0f,%.2f,%.2f,%.2f\n",
                        device, kinds[k].name, b.groups, n, c, h, w,
                        pass ? "backward" : "forward", t * 1e6, bytes, bw / 1e9, copy_bw / 1e9,
                        100.0 * bw / copy_bw);
            }
        }
        void *bufs[] = {b.x,         b.dy,         b.y,          b.dx,          b.gamma,
                        b.beta,      b.dgamma,     b.dbeta,      b.running_mean, b.running_var,
                        b.save_mean, b.save_rstd, b.workspace,    b.momentum};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            be->ops->release(be, bufs[i]);
    }
    die_on(be, "the end");
    fclose(csv);
    printf("\nwrote %s\n", csv_path);
    nl_backend_close(be);
    return 0;
}
