/* Which library runs each matrix product of the timed models fastest
 * (issue 70, "the compute library chosen per operation"): the products
 * Debian ships - OpenBLAS's cblas_sgemm (the OpenMP build normlab links),
 * oneDNN's dnnl_sgemm (libdnnl 2.6, the library PyTorch's CPU path is
 * built on), BLIS 0.9 (its OpenMP build) and libxsmm 1.17 (small
 * matrices; libxsmm-dev, static) - on
 * the linear layers' three products (forward y = x W^T, dx = dy W,
 * dW = dy^T x, as both frameworks issue them) of the MLP, the LM, the ViT
 * and the LSTM of experiments/bench/run_archs.sh at batch 2, 16 and 128.
 *
 * The layer widths are the configs' (configs/quickstart-cnn.yaml's MLP at
 * widths 256-256, lm-kjv-small.yaml, vit-fashion.yaml, lstm-ln-fashion.yaml):
 * rows are the tokens of a batch (batch x context for the LM, batch x 17
 * for the ViT's blocks) or the samples (the MLP, the heads, one LSTM step).
 * Each product is timed best of REPS after a warm-up; with one thread by
 * the thread's CPU time (`cpu`), which leaves out the time a shared host
 * gave to other processes.
 *
 *   cmake --build build --target normlab_core &&
 *   gcc -O2 -std=gnu11 -fopenmp -Icore -Iexperiments/bench experiments/bench/gemm_libraries.c \
 *       build/libnormlab_core.a -lyaml -lz \
 *       -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -ldnnl \
 *       -L/usr/lib/x86_64-linux-gnu/blis-openmp -lblis /usr/lib/libxsmm.a -lm -ldl \
 *       -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp:/usr/lib/x86_64-linux-gnu/blis-openmp \
 *       -o /tmp/gemm_libraries &&
 *   OMP_NUM_THREADS=1 /tmp/gemm_libraries [REPS [cpu]]
 *
 * Prints a row per product: shape and GFLOP/s of each library; then each
 * model's sum over its products at each batch (the time a step spends in
 * them) and OpenBLAS's time over each library's, and beside them normlab's
 * own linear layers (forward and backward, their register tiles where
 * linear.c picks them) under NORMLAB_GEMM=openblas and auto. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <dnnl.h>
#include <libxsmm.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"

#include "best_time.h"

typedef struct {
    const char *model;
    const char *layer;
    int in, out;
    int rows_per_sample; /* tokens a sample gives this layer */
    int count;           /* layers of this shape in one step */
} linear_shape;

static const linear_shape shapes[] = {
    {"mlp", "fc1 784->256", 784, 256, 1, 1},
    {"mlp", "fc2 256->256", 256, 256, 1, 1},
    {"mlp", "head 256->10", 256, 10, 1, 1},
    {"lm", "q/k/v/proj 64->64", 64, 64, 64, 12},
    {"lm", "fc1 64->256", 64, 256, 64, 3},
    {"lm", "fc2 256->64", 256, 64, 64, 3},
    {"lm", "head 64->256", 64, 256, 64, 1},
    {"vit", "patches 49->64", 49, 64, 16, 1},
    {"vit", "q/k/v/proj 64->64", 64, 64, 17, 16},
    {"vit", "fc1 64->128", 64, 128, 17, 4},
    {"vit", "fc2 128->64", 128, 64, 17, 4},
    {"lstm", "input 28->512", 28, 512, 28, 1},
    {"lstm", "hidden 128->512", 128, 512, 28, 1},
};
enum { SHAPES = sizeof shapes / sizeof shapes[0] };

typedef struct {
    int m, n, k;
    char ta, tb;
} product;

static float *make(size_t count, unsigned seed)
{
    float *p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "gemm_libraries: cannot allocate %zu floats\n", count);
        exit(1);
    }
    for (size_t i = 0; i < count; i++)
        p[i] = (float)((i * 2654435761u + seed) % 4001u) * 1e-4f - 0.2f;
    return p;
}

static int lda_of(const product *p) { return p->ta == 'T' ? p->m : p->k; }
static int ldb_of(const product *p) { return p->tb == 'T' ? p->k : p->n; }

static void openblas(const product *p, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, p->ta == 'T' ? CblasTrans : CblasNoTrans,
                p->tb == 'T' ? CblasTrans : CblasNoTrans, p->m, p->n, p->k, 1.0f, a, lda_of(p), b,
                ldb_of(p), 0.0f, c, p->n);
}

static void onednn(const product *p, const float *a, const float *b, float *c)
{
    if (dnnl_sgemm(p->ta, p->tb, p->m, p->n, p->k, 1.0f, a, lda_of(p), b, ldb_of(p), 0.0f, c,
                   p->n) != dnnl_success) {
        fprintf(stderr, "gemm_libraries: dnnl_sgemm failed\n");
        exit(1);
    }
}

/* BLIS's typed API (its cblas_sgemm would meet OpenBLAS's): the transposes
 * as strides, so no transpose flag is passed (BLIS_NO_TRANSPOSE is 0) */
extern void bli_sgemm(int transa, int transb, int64_t m, int64_t n, int64_t k, float *alpha,
                      float *a, int64_t rsa, int64_t csa, float *b, int64_t rsb, int64_t csb,
                      float *beta, float *c, int64_t rsc, int64_t csc);

static void blis(const product *p, const float *a, const float *b, float *c)
{
    float one = 1.0f, zero = 0.0f;
    const int64_t lda = lda_of(p), ldb = ldb_of(p);
    bli_sgemm(0, 0, p->m, p->n, p->k, &one, (float *)a, p->ta == 'T' ? 1 : lda,
              p->ta == 'T' ? lda : 1, (float *)b, p->tb == 'T' ? 1 : ldb, p->tb == 'T' ? ldb : 1,
              &zero, c, p->n, 1);
}

/* libxsmm's column-major BLAS form: C^T = op(B)^T op(A)^T; single-threaded,
 * it hands products past its small-matrix bound to the linked sgemm_
 * (OpenBLAS's) */
static void xsmm(const product *p, const float *a, const float *b, float *c)
{
    const float one = 1.0f, zero = 0.0f;
    const libxsmm_blasint m = p->n, n = p->m, k = p->k, lda = ldb_of(p), ldb = lda_of(p),
                          ldc = p->n;
    libxsmm_sgemm(&p->tb, &p->ta, &m, &n, &k, &one, b, &lda, a, &ldb, &zero, c, &ldc);
}

/* normlab's linear layer as a step runs it, forward then backward (its own
 * register tiles where linear.c prefers them, the BLAS products through
 * cpu/products.c under `choice`), without a bias */
static double normlab_layer(const char *choice, int rows, int in, int out, int reps)
{
    nl_error err = {0};
    if (nl_cpu_gemm_choose(choice, &err) != NL_OK) {
        fprintf(stderr, "gemm_libraries: %s\n", err.msg);
        exit(1);
    }
    float *x = make((size_t)rows * in, 1), *w = make((size_t)out * in, 2);
    float *y = make((size_t)rows * out, 3), *dy = make((size_t)rows * out, 4);
    float *dx = make((size_t)rows * in, 5), *dw = make((size_t)out * in, 6);
    /* the kernel set a run picks (the library's own functions are the
     * portable build's baseline set), on a backend of this many threads */
    const nl_ops *ops = nl_cpu_ops();
    nl_backend be = {.ops = ops, .threads = omp_get_max_threads()};
    const size_t bytes = ops->linear_workspace(&be, rows, in, out);
    float *ws = make(bytes / sizeof(float) + 16, 7);
    ops->linear_forward(&be, rows, in, out, x, w, NULL, y, ws);
    ops->linear_backward(&be, rows, in, out, x, w, dy, dx, false, dw, NULL, ws);
    const double t = BEST(
        {
            ops->linear_forward(&be, rows, in, out, x, w, NULL, y, ws);
            ops->linear_backward(&be, rows, in, out, x, w, dy, dx, false, dw, NULL, ws);
        },
        reps);
    free(x), free(w), free(y), free(dy), free(dx), free(dw), free(ws);
    return t;
}

static const struct {
    const char *name;
    void (*run)(const product *, const float *, const float *, float *);
} libraries[] = {{"openblas", openblas}, {"onednn", onednn}, {"blis", blis}, {"libxsmm", xsmm}};
enum { LIBRARIES = sizeof libraries / sizeof libraries[0] };

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 20;
    if (argc > 2 && !strcmp(argv[2], "cpu"))
        nl_bench_clock = CLOCK_THREAD_CPUTIME_ID;
    static const int batches[] = {2, 16, 128};
    printf("%-5s %5s %-20s %-4s %5s %4s %5s", "model", "batch", "layer", "prod", "m", "n", "k");
    for (int li = 0; li < LIBRARIES; li++)
        printf(" %9s", libraries[li].name);
    printf("  (GFLOP/s)\n");
    double sums[8][3][LIBRARIES] = {{{0}}}, layer_sums[8][3][2] = {{{0}}};
    const char *models[8] = {0};
    int model_count = 0;
    for (int bi = 0; bi < 3; bi++)
        for (int s = 0; s < SHAPES; s++) {
            const linear_shape *l = &shapes[s];
            const int rows = batches[bi] * l->rows_per_sample;
            const product products[3] = {{rows, l->out, l->in, 'N', 'T'},
                                         {rows, l->in, l->out, 'N', 'N'},
                                         {l->out, l->in, rows, 'T', 'N'}};
            static const char *const names[3] = {"fwd", "dx", "dW"};
            int mi = 0;
            while (mi < model_count && strcmp(models[mi], l->model))
                mi++;
            if (mi == model_count)
                models[model_count++] = l->model;
            for (int pi = 0; pi < 3; pi++) {
                const product *p = &products[pi];
                float *a = make((size_t)p->m * p->k, 1), *b = make((size_t)p->k * p->n, 2);
                float *c = make((size_t)p->m * p->n, 3);
                const double flop = 2.0 * p->m * p->n * p->k;
                printf("%-5s %5d %-20s %-4s %5d %4d %5d", l->model, batches[bi], l->layer,
                       names[pi], p->m, p->n, p->k);
                for (int li = 0; li < LIBRARIES; li++) {
                    libraries[li].run(p, a, b, c); /* warm: packing buffers, JIT code */
                    const double t = BEST(libraries[li].run(p, a, b, c), reps);
                    printf(" %9.1f", flop / t * 1e-9);
                    sums[mi][bi][li] += t * l->count;
                }
                printf("\n");
                free(a), free(b), free(c);
            }
            for (int ci = 0; ci < 2; ci++)
                layer_sums[mi][bi][ci] +=
                    l->count * normlab_layer(ci ? "auto" : "openblas", rows, l->in, l->out, reps);
        }
    printf("\nper model, the step's linear products, ms (and OpenBLAS's time over each):\n");
    for (int mi = 0; mi < model_count; mi++)
        for (int bi = 0; bi < 3; bi++) {
            printf("%-5s batch %3d:", models[mi], batches[bi]);
            for (int li = 0; li < LIBRARIES; li++)
                printf(" %s %.3f (%.2f)", libraries[li].name, sums[mi][bi][li] * 1e3,
                       sums[mi][bi][0] / sums[mi][bi][li]);
            printf("; normlab's layers: NORMLAB_GEMM=openblas %.3f (%.2f), auto %.3f (%.2f)\n",
                   layer_sums[mi][bi][0] * 1e3, sums[mi][bi][0] / layer_sums[mi][bi][0],
                   layer_sums[mi][bi][1] * 1e3, sums[mi][bi][0] / layer_sums[mi][bi][1]);
        }
    return 0;
}
