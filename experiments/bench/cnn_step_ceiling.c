/* What bounds the bench CNN's training step at small batches (issue 28's
 * "3x PyTorch at batch 8"): the step's matrix products at the CPU's
 * multiply-add peak, against the step as `normlab bench --training`
 * measures it.
 *
 * The bench CNN is conv1 (1 -> 32, 3x3, 28x28), ReLU + 2x2 max pooling,
 * conv2 (32 -> 64, 3x3, 14x14), ReLU + pooling, a 3136 -> 10 classifier.
 * conv2 holds 95% of its FLOPs and runs all three of its products (forward,
 * input gradient, weight gradient) as Winograd F(2x2, 3x3): 16 small GEMMs
 * of (64 x 32) by (32 x tiles) each, 2.25x fewer multiplies than the direct
 * sum. This program measures:
 *   peak    the multiply-add rate of one OpenMP team, twelve independent
 *           chains of 8-float FMAs a thread (and 16-float where the compiler
 *           targets AVX-512: on a core that splits 512-bit operations in
 *           two, such as Zen 4, the two rates are the same)
 *   conv2   normlab's three Winograd kernels (winograd.c, included here)
 *           timed alone on the layer's shapes, and the share of their time
 *           their multiplies need at the peak; then the forward's parts on
 *           one thread's share of the blocks: the input transforms, the
 *           register-kernel multiply (16 GEMM columns for a block's 14
 *           tiles) and the output transforms
 *   floor   every multiply of the step (conv2's Winograd products, conv1's
 *           forward and weight gradient, the classifier's three products)
 *           at the peak: the samples/s of a step whose every other part is
 *           free, which no kernel work can pass without fewer multiplies
 * Given the step's measured rate and a target rate (samples/s, from the
 * bench and from PyTorch x 3), it reports how much of the step lies
 * outside the products and by how much that part must shrink.
 *
 *   gcc -O3 -march=x86-64-v4 -std=gnu11 -fopenmp -fno-tree-loop-distribute-patterns -Icore \
 *       -Iexperiments/bench experiments/bench/cnn_step_ceiling.c core/cpu/gemm.c \
 *       -lm -o /tmp/cnn_step_ceiling &&
 *   OMP_NUM_THREADS=2 /tmp/cnn_step_ceiling [BATCH [MEASURED TARGET]]
 *
 * (-march: the kernel set the bench ran, `cpu_kernels` in its CSV; the
 * flags are those CMake gives the kernels.) Best of many repetitions; the
 * host's noise only adds time, so run it two or three times. */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu/winograd.c" /* its static parts are timed one by one below */

#include "best_time.h"

enum { CHAINS = 12, PEAK_ITERATIONS = 4000000 };

#define FMA_CHAINS(vec, fma, set1, lanes)                                                          \
    ({                                                                                             \
        vec acc_[CHAINS];                                                                          \
        const vec m_ = set1(1.0000001f), a_ = set1(-1e-7f);                                        \
        for (int c_ = 0; c_ < CHAINS; c_++)                                                        \
            acc_[c_] = set1((float)c_);                                                            \
        for (long k_ = 0; k_ < PEAK_ITERATIONS; k_++) {                                            \
            _Pragma("GCC unroll 12") for (int c_ = 0; c_ < CHAINS; c_++) acc_[c_] =                \
                fma(acc_[c_], m_, a_);                                                             \
        }                                                                                          \
        float s_ = 0.0f;                                                                           \
        for (int c_ = 0; c_ < CHAINS; c_++)                                                        \
            s_ += acc_[c_][0];                                                                     \
        sink += s_;                                                                                \
        (double)PEAK_ITERATIONS * CHAINS * (lanes) * 2.0;                                          \
    })

static volatile float sink;

/* the FLOPs of one pass of every thread's chains */
static double team_chains(int wide)
{
    double flops = 0.0;
    #pragma omp parallel reduction(+ : flops)
    {
#ifdef __AVX512F__
        if (wide)
            flops = FMA_CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps, 16);
        else
#endif
            flops = FMA_CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps, 8);
    }
    (void)wide;
    return flops;
}

/* FLOP/s of the whole team, each thread running its own chains */
static double team_peak(int wide)
{
    double flops = 0.0;
    const double t = BEST(flops = team_chains(wide), 5);
    return flops / t;
}

static float *filled(size_t count)
{
    float *p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++)
        p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return p;
}

int main(int argc, char **argv)
{
    const int batch = argc > 1 ? atoi(argv[1]) : 8;
    const double measured = argc > 3 ? atof(argv[2]) : 0.0, target = argc > 3 ? atof(argv[3]) : 0.0;
    if (batch < 1) {
        fprintf(stderr, "usage: cnn_step_ceiling [BATCH [MEASURED_SAMPLES_PER_S TARGET]]\n");
        return 2;
    }
    const int threads = omp_get_max_threads();
    #pragma omp parallel
    _mm_setcsr(_mm_getcsr() | 0x8040); /* flush-to-zero and denormals-are-zero, as a run */

    const double peak = team_peak(0);
    printf("multiply-add peak, %d threads: %.1f GFLOP/s with 8-float FMAs", threads, peak / 1e9);
#ifdef __AVX512F__
    printf(", %.1f with 16-float", team_peak(1) / 1e9);
#endif
    printf("\n\n");

    /* conv2 of the bench CNN */
    const nl_conv_geom g = {.in_c = 32, .in_h = 14, .in_w = 14, .out_c = 64, .out_h = 14,
                            .out_w = 14, .kernel = 3, .stride = 1, .pad = 1};
    const size_t in = (size_t)batch * g.in_c * 196, out = (size_t)batch * g.out_c * 196;
    float *x = filled(in), *dx = filled(in), *y = filled(out), *dy = filled(out);
    float *w = filled((size_t)g.out_c * g.in_c * 9), *dw = filled((size_t)g.out_c * g.in_c * 9);
    void *ws = filled(nl_cpu_winograd_workspace(&g, threads) / sizeof(float) + 16);
    const int reps = 400;
    const double t_fwd =
        BEST(nl_cpu_winograd_forward(&g, batch, x, w, NULL, y, threads, ws), reps);
    const double t_dx =
        BEST(nl_cpu_winograd_input_grad(&g, batch, w, dy, dx, false, threads, ws), reps);
    const double t_dw =
        BEST(nl_cpu_winograd_weight_grad(&g, batch, x, dy, dw, NULL, threads, ws), reps);
    /* 16 products per tile, 7 x 7 tiles a sample, a multiply-add each per
     * channel pair */
    const double wino_flops = 2.0 * 16 * 49 * g.in_c * g.out_c * batch;
    const char *names[3] = {"forward", "input gradient", "weight gradient"};
    const double times[3] = {t_fwd, t_dx, t_dw};
    printf("conv2 (32 -> 64, 14x14), batch %d, Winograd: %.2f MFLOP of multiplies a product\n",
           batch, wino_flops / 1e6);
    printf("  %-16s %10s %10s %14s\n", "product", "us", "GFLOP/s", "multiplies");
    double conv2 = 0.0;
    for (int k = 0; k < 3; k++) {
        conv2 += times[k];
        printf("  %-16s %10.1f %10.1f %13.0f%%\n", names[k], times[k] * 1e6,
               wino_flops / times[k] / 1e9, 100.0 * wino_flops / peak / times[k]);
    }
    printf("  %-16s %10.1f %10.1f %13.0f%%\n\n", "all three", conv2 * 1e6,
           3 * wino_flops / conv2 / 1e9, 100.0 * 3 * wino_flops / peak / conv2);

    /* the forward's parts, one thread, on half the blocks (what each of
     * two threads does) */
    {
        const wg_shape s = shape_of(g.in_c, g.out_c, g.in_h, g.in_w);
        const wg_blocking b = blocking_of(&s, batch);
        float *u = ws, *v = u + filters_floats(&s);
        float *m = v + round_up((size_t)16 * s.in_c * ROW_FLOATS);
        transform_filters(&s, w, false, u);
        const long blocks = (b.blocks + threads - 1) / threads;
#define SEGMENTS_OF(blk, body)                                                                     \
    for (long seg = (blk) * b.segments_per_block;                                                  \
         seg < ((blk) + 1) * b.segments_per_block && seg < b.segments; seg++) {                    \
        const wg_segment sg = segment_at(&s, &b, seg);                                             \
        body;                                                                                      \
    }
        const double t_in = BEST(
            for (long blk = 0; blk < blocks; blk++) SEGMENTS_OF(blk, transform_inputs(&s, x, &sg, v)),
            reps);
        const double t_mul = BEST(for (long blk = 0; blk < blocks; blk++) multiply(&s, u, v, m), reps);
        const double t_out =
            BEST(for (long blk = 0; blk < blocks; blk++)
                     SEGMENTS_OF(blk, transform_outputs(&s, m, &sg, NULL, false, y)),
                 reps);
#undef SEGMENTS_OF
        const double mul_flops = 2.0 * 16 * BLOCK_TILES * s.out_c4 * s.in_c * blocks;
        printf("the forward's parts, one thread, %ld blocks of %d tile columns (%d filled):\n",
               blocks, BLOCK_TILES, b.segments_per_block * s.tiles_w);
        printf("  input transforms %.1f us, multiply %.1f us (%.1f GFLOP/s, %.0f%% of one "
               "thread's peak), output transforms %.1f us\n\n",
               t_in * 1e6, t_mul * 1e6, mul_flops / t_mul / 1e9,
               100.0 * mul_flops / t_mul / (peak / threads), t_out * 1e6);
    }

    /* the rest of the step's multiplies, direct: conv1's forward and weight
     * gradient (its input is the data), the classifier's three products */
    const double conv1_flops = 2.0 * 2 * 9 * 32 * 784 * batch;
    const double fc_flops = 3 * 2.0 * 3136 * 10 * batch;
    const double step_flops = 3 * wino_flops + conv1_flops + fc_flops;
    const double floor_s = step_flops / peak;
    printf("the step's multiplies: %.2f MFLOP (conv2 %.2f, conv1 %.2f, classifier %.2f)\n",
           step_flops / 1e6, 3 * wino_flops / 1e6, conv1_flops / 1e6, fc_flops / 1e6);
    printf("at the peak: %.1f us a step, %.0f samples/s with everything else free\n",
           floor_s * 1e6, batch / floor_s);
    if (measured > 0.0 && target > 0.0) {
        const double step = batch / measured, goal = batch / target;
        const double rest = step - floor_s, rest_goal = goal - floor_s;
        printf("\nmeasured %.0f samples/s: %.1f us a step, %.1f of it outside the multiplies at "
               "the peak\n",
               measured, step * 1e6, rest * 1e6);
        if (rest_goal <= 0.0)
            printf("target %.0f samples/s: beyond the multiplies' floor\n", target);
        else
            printf("target %.0f samples/s: %.1f us a step; the part outside the multiplies must "
                   "shrink to %.1f us (%.0f%% less)\n",
                   target, goal * 1e6, rest_goal * 1e6, 100.0 * (1.0 - rest_goal / rest));
    }
    free(x), free(dx), free(y), free(dy), free(w), free(dw), free(ws);
    return 0;
}
