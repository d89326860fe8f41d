/* What bounds the LM's training step at large batches (issue 25, "Speed"):
 * the matrix products of `normlab bench --model lm`'s model, each timed
 * alone in one process, short repetitions, best of many.
 *
 * The linear layers' products (per block: the fused q/k/v projection
 * d -> 3d, the output projection d -> d, the MLP's d -> 4d and 4d -> d;
 * then the tied head d -> vocab) are sgemm on both sides: normlab calls
 * OpenBLAS for them at these row counts (linear.c; its register tiles lose
 * here, timed beside it below), and Debian's PyTorch 1.13 calls the same
 * OpenBLAS through its generic BLAS (q, k and v as three d -> d products:
 * the same multiply-adds). Forward y = x W^T (+ b), backward dx = dy W and
 * dW = dy^T x, as a framework issues them. Their sum is a step's time with
 * everything else free: tokens / that time is the throughput neither side
 * can pass with this sgemm, and PyTorch's measured tokens/s over it is the
 * share of PyTorch's step that is products both sides share.
 *
 * Attention's products (normlab's kernel, attention.c) are timed apart: they
 * are the step's other matrix work, and PyTorch runs its own (bmm).
 *
 *   cmake --build build --target normlab_core && gcc -O3 -march=native -std=gnu11 -fopenmp \
 *       -Icore -Iexperiments/bench experiments/bench/lm_gemm_ceiling.c build/libnormlab_core.a \
 *       -lopenblas -lm -o /tmp/lm_gemm_ceiling &&
 *   OMP_NUM_THREADS=2 /tmp/lm_gemm_ceiling [WINDOWS [REPS [cpu]]]
 *
 * OMP_NUM_THREADS sets both OpenBLAS's threads (the OpenMP build) and the
 * attention kernel's. The host's noise only adds time; on a shared host run
 * it two or three times and take the smaller numbers, or time one thread by
 * its CPU time (`cpu`, OMP_NUM_THREADS=1 only). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"

#include "best_time.h"

/* the bench's model (nl_bench_lm_defaults): d_model, heads, layers, context, vocab */
enum { D = 128, HEADS = 4, LAYERS = 5, CONTEXT = 64, VOCAB = 256, MLP_RATIO = 4 };

static float *make(size_t count, unsigned seed)
{
    float *p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "lm_gemm_ceiling: cannot allocate %zu floats\n", count);
        exit(1);
    }
    for (size_t i = 0; i < count; i++) /* small values, as activations and weights */
        p[i] = (float)((i * 2654435761u + seed) % 4001u) * 1e-4f - 0.2f;
    return p;
}

typedef struct {
    const char *name;
    int in, out, per_step; /* products of this shape in one step */
    bool bias;
} linear_shape;

int main(int argc, char **argv)
{
    const int windows = argc > 1 ? atoi(argv[1]) : 64, reps = argc > 2 ? atoi(argv[2]) : 15;
    const bool cpu_time = argc > 3 && strcmp(argv[3], "cpu") == 0;
    if (windows < 1 || reps < 1 || (argc > 3 && !cpu_time) ||
        (cpu_time && omp_get_max_threads() != 1)) {
        fprintf(stderr, "usage: [OMP_NUM_THREADS=1] lm_gemm_ceiling [WINDOWS [REPS [cpu]]]\n");
        return 2;
    }
    if (cpu_time)
        nl_bench_clock = CLOCK_THREAD_CPUTIME_ID;
    const int n = windows * CONTEXT, wide = MLP_RATIO * D;
    const linear_shape shapes[] = {
        {"qkv", D, 3 * D, LAYERS, true},     {"proj", D, D, LAYERS, true},
        {"mlp up", D, wide, LAYERS, true},   {"mlp down", wide, D, LAYERS, true},
        {"head (tied)", D, VOCAB, 1, false},
    };
    const size_t most = (size_t)n * (3 * D > wide ? 3 * D : wide);
    float *x = make(most, 1), *w = make((size_t)wide * wide, 2), *b = make((size_t)wide, 3);
    float *y = make(most, 4), *dy = make(most, 5), *dx = make(most, 6);
    float *dw = make((size_t)wide * wide, 7), *ws = make((size_t)wide * 256, 8);
    float *db = make((size_t)wide, 15);
    printf("lm_gemm_ceiling: %d windows of %d tokens (%d rows), %d threads, best of %d (%s)\n",
           windows, CONTEXT, n, omp_get_max_threads(), reps, cpu_time ? "CPU time" : "wall clock");
    printf("%-12s %9s %9s %9s %9s  %s\n", "product", "fwd ms", "dx ms", "dW ms", "GFLOP/s",
           "normlab's own path at these rows (fwd / dx / dW ms)");
    double gemm_step = 0.0, normlab_linear_step = 0.0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int in = shapes[s].in, out = shapes[s].out;
        const float *bias = shapes[s].bias ? b : NULL;
        const double fwd = BEST(
            {
                if (bias)
                    for (int i = 0; i < n; i++)
                        memcpy(y + (size_t)i * out, bias, (size_t)out * sizeof *y);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w,
                            in, bias ? 1.0f : 0.0f, y, out);
            },
            reps);
        const double bwd_x = BEST(cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in,
                                              out, 1.0f, dy, out, w, in, 0.0f, dx, in),
                                  reps);
        const double bwd_w = BEST(cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n,
                                              1.0f, dy, out, x, in, 0.0f, dw, in),
                                  reps);
        /* normlab's layer as the step runs it (bias gradient included) */
        const double own_fwd =
            BEST(nl_cpu_linear_forward(NULL, n, in, out, x, w, bias, y, ws), reps);
        const double own_bwd = BEST(
            nl_cpu_linear_backward(NULL, n, in, out, x, w, dy, dx, false, dw, bias ? db : NULL, NULL),
            reps);
        const double own_dx =
            BEST(nl_cpu_gemm_nn(n, in, out, dy, out, w, in, NULL, dx, in, false), reps);
        const double own_dw = BEST(nl_cpu_gemm_tn(out, in, n, dy, out, x, in, dw, in), reps);
        const double flops = 3 * 2.0 * n * in * out;
        printf("%-12s %9.3f %9.3f %9.3f %9.1f  layer %.3f + %.3f; tiles dx %.3f dW %.3f\n",
               shapes[s].name, fwd * 1e3, bwd_x * 1e3, bwd_w * 1e3,
               flops / (fwd + bwd_x + bwd_w) * 1e-9, own_fwd * 1e3, own_bwd * 1e3, own_dx * 1e3,
               own_dw * 1e3);
        gemm_step += shapes[s].per_step * (fwd + bwd_x + bwd_w);
        normlab_linear_step += shapes[s].per_step * (own_fwd + own_bwd);
    }
    nl_attn_geom g = {.n = windows, .t = CONTEXT, .heads = HEADS, .head_dim = D / HEADS,
                      .ld_q = 3 * D, .ld_k = 3 * D, .ld_v = 3 * D,
                      .scale = 1.0f / sqrtf((float)(D / HEADS))};
    nl_backend be = {.threads = omp_get_max_threads()};
    float *qkv = make((size_t)n * 3 * D, 9), *dqkv = make((size_t)n * 3 * D, 10);
    float *probs = make((size_t)windows * HEADS * CONTEXT * CONTEXT, 11);
    float *ay = make((size_t)n * D, 12), *ady = make((size_t)n * D, 13);
    float *aws = make(nl_cpu_attention_workspace(&be, &g) / sizeof(float) + 1, 14), largest;
    const double att_f = BEST(nl_cpu_attention_forward(&be, &g, qkv, qkv + D, qkv + 2 * D, probs,
                                                       ay, &largest, aws),
                              reps);
    const double att_b = BEST(nl_cpu_attention_backward(&be, &g, qkv, qkv + D, qkv + 2 * D, probs,
                                                        ady, dqkv, dqkv + D, dqkv + 2 * D, aws),
                              reps);
    printf("%-12s %9.3f %9s %9.3f  (normlab's kernel, one layer)\n", "attention", att_f * 1e3, "",
           att_b * 1e3);
    printf("\nper step (%d layers + head):\n", LAYERS);
    printf("  sgemm of the linear layers          %8.2f ms  -> %7.0f tokens/s with nothing else\n",
           gemm_step * 1e3, n / gemm_step);
    printf("  normlab's linear layers (+ bias)    %8.2f ms\n", normlab_linear_step * 1e3);
    printf("  normlab's attention                 %8.2f ms\n", LAYERS * (att_f + att_b) * 1e3);
    const double with_attention = gemm_step + LAYERS * (att_f + att_b);
    printf("  sgemm + normlab's attention         %8.2f ms  -> %7.0f tokens/s\n",
           with_attention * 1e3, n / with_attention);
    return 0;
}
