/* What the AVX512-BF16 product (core/cpu/gemm_bf16.c, vdpbf16ps) gains over
 * sgemm at the products of the bench's models (issue 47, "Speed": bf16 at
 * least 1.3x normlab's fp32 on the CNN and the LM at batch >= 32, on CPUs
 * with the instruction: Zen 4, Sapphire Rapids and later).
 *
 * Each product is timed alone, best of REPS: cblas_sgemm (what fp32 runs
 * these through, or normlab's own tiles at some of them; sgemm is the
 * ceiling both share) beside nl_cpu_gemm_bf16_native on the same operands
 * rounded to bf16, its packing included, its scratch planned outside the
 * timing as a layer's workspace is. Shapes, per layer: the forward y = x W^T,
 * the input gradient dx = dy W and the weight gradient dW = dy^T x; the
 * CNN's convolutions as their im2col products (conv1 1 -> 32 channels at
 * 28 x 28, conv2 32 -> 64 at 14 x 14, 3 x 3 kernels; then the classifier
 * 3136 -> 10), the LM's linear layers at d_model 128 (q/k/v 128 -> 384,
 * projection 128 -> 128, MLP 128 -> 512 -> 128, tied head 128 -> 256) over
 * BATCH windows of 64 tokens. The last lines sum each model's products.
 *
 *   cmake --build build --target normlab_core && gcc -O3 -march=native -std=gnu11 -fopenmp \
 *       -Icore -Iexperiments/bench experiments/bench/bf16_gemm_ceiling.c build/libnormlab_core.a \
 *       -lopenblas -lm -o /tmp/bf16_gemm_ceiling &&
 *   OMP_NUM_THREADS=2 /tmp/bf16_gemm_ceiling [BATCH [REPS]]      (BATCH: 32 and 64 when left out)
 *
 * On a CPU without the instruction only sgemm is timed and the program says
 * so: the software model of the instruction (nl_cpu_gemm_bf16_model) is for
 * checking results, a scalar fmaf per product, and its speed means nothing.
 * OMP_NUM_THREADS sets both OpenBLAS's threads and the bf16 product's. The
 * first line names the product that ran and the kernel set normlab picks
 * on this CPU (as NORMLAB_CPU_KERNELS leaves it), with what that set's
 * bf16 layers run: vdpbf16ps in x86-64-v4-bf16, sgemm in the others. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/precision.h"
#include "cpu/cpu.h"
#include "cpu/gemm_bf16.h"

#include "best_time.h"

typedef struct {
    const char *model, *name;
    bool trans_a, trans_b;
    int m, n, k;
} product_shape;

enum { MAX_SHAPES = 32, CONTEXT = 64, D = 128, VOCAB = 256 };

/* forward (x W^T: W stored out x in), dx (dy W), dW (dy^T x) of a layer
 * with `rows` rows, `in` inputs and `out` outputs; no dx for a first layer */
static int add_layer(product_shape *s, int count, const char *model, const char *name, int rows,
                     int in, int out, bool first)
{
    s[count++] = (product_shape){model, name, false, true, rows, out, in};
    if (!first)
        s[count++] = (product_shape){model, name, false, false, rows, in, out};
    s[count++] = (product_shape){model, name, true, false, out, in, rows};
    return count;
}

static int model_shapes(product_shape *s, int batch)
{
    int count = 0;
    count = add_layer(s, count, "cnn", "conv1", batch * 28 * 28, 1 * 9, 32, true);
    count = add_layer(s, count, "cnn", "conv2", batch * 14 * 14, 32 * 9, 64, false);
    count = add_layer(s, count, "cnn", "fc", batch, 64 * 7 * 7, 10, false);
    const int rows = batch * CONTEXT;
    count = add_layer(s, count, "lm", "qkv", rows, D, 3 * D, false);
    count = add_layer(s, count, "lm", "proj", rows, D, D, false);
    count = add_layer(s, count, "lm", "mlp up", rows, D, 4 * D, false);
    count = add_layer(s, count, "lm", "mlp down", rows, 4 * D, D, false);
    count = add_layer(s, count, "lm", "head", rows, D, VOCAB, false);
    return count;
}

static float *bf16_values(size_t count, unsigned seed)
{
    float *p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bf16_gemm_ceiling: cannot allocate %zu floats\n", count);
        exit(1);
    }
    for (size_t i = 0; i < count; i++) /* small values, as activations and weights */
        p[i] = nl_round_bf16((float)((i * 2654435761u + seed) % 4001u) * 1e-4f - 0.2f);
    return p;
}

static const char *kind_of(const product_shape *s)
{
    return s->trans_a ? "dW" : s->trans_b ? "fwd" : "dx";
}

static void run_batch(int batch, int reps, bool native)
{
    product_shape shapes[MAX_SHAPES];
    const int count = model_shapes(shapes, batch);
    printf("\nbatch %d (LM: %d windows of %d tokens), %d threads, best of %d\n", batch, batch,
           CONTEXT, omp_get_max_threads(), reps);
    printf("%-4s %-9s %-4s %6s %5s %6s %10s %10s %10s %7s\n", "", "layer", "", "m", "n", "k",
           "sgemm ms", "sgemm GF/s", "bf16 GF/s", "ratio");
    double sgemm_total[2] = {0, 0}, bf16_total[2] = {0, 0};
    for (int i = 0; i < count; i++) {
        const product_shape *s = &shapes[i];
        const size_t a_count = (size_t)s->m * s->k, b_count = (size_t)s->k * s->n;
        float *a = bf16_values(a_count, 1), *b = bf16_values(b_count, 2);
        float *c = bf16_values((size_t)s->m * s->n, 3);
        const int lda = s->trans_a ? s->m : s->k, ldb = s->trans_b ? s->k : s->n;
        const double sgemm = BEST(cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans,
                                              s->trans_b ? CblasTrans : CblasNoTrans, s->m, s->n,
                                              s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n),
                                  reps);
        const double flops = 2.0 * s->m * s->n * s->k;
        const int lm = s->model[0] == 'l';
        sgemm_total[lm] += sgemm;
        printf("%-4s %-9s %-4s %6d %5d %6d %10.3f %10.1f", s->model, s->name, kind_of(s), s->m,
               s->n, s->k, sgemm * 1e3, flops / sgemm * 1e-9);
        if (native) {
            void *scratch = aligned_alloc(64, nl_cpu_gemm_bf16_scratch(s->m, s->n, s->k) + 64);
            const double bf16 =
                BEST(nl_cpu_gemm_bf16_native(s->trans_a, s->trans_b, s->m, s->n, s->k, a, lda, b,
                                             ldb, 0.0f, c, s->n, scratch),
                     reps);
            bf16_total[lm] += bf16;
            printf(" %10.1f %7.2f", flops / bf16 * 1e-9, sgemm / bf16);
            free(scratch);
        }
        printf("\n");
        free(a), free(b), free(c);
    }
    for (int lm = 0; lm < 2; lm++) {
        printf("%s products in all: sgemm %.3f ms", lm ? "lm " : "cnn", sgemm_total[lm] * 1e3);
        if (native)
            printf(", bf16 %.3f ms: %.2fx", bf16_total[lm] * 1e3, sgemm_total[lm] / bf16_total[lm]);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    const int batch = argc > 1 ? atoi(argv[1]) : 0, reps = argc > 2 ? atoi(argv[2]) : 15;
    if (argc > 3 || (argc > 1 && batch < 1) || reps < 1) {
        fprintf(stderr, "usage: bf16_gemm_ceiling [BATCH [REPS]]\n");
        return 2;
    }
    const bool native = nl_cpu_gemm_bf16_native_runs_here();
    printf("bf16_gemm_ceiling: products timed: sgemm%s; normlab's kernel set here: %s, whose "
           "bf16 layers run %s\n", native ? " and vdpbf16ps" : "", nl_cpu_kernels_name(),
           nl_cpu_kernels_bf16_product());
    if (!native)
        printf("bf16_gemm_ceiling: the vdpbf16ps product does not run here (no AVX512-BF16 on "
               "this CPU, or a compiler without its intrinsics): sgemm alone is timed\n");
    if (batch)
        run_batch(batch, reps, native);
    else
        for (int b = 32; b <= 64; b *= 2)
            run_batch(b, reps, native);
    return 0;
}
