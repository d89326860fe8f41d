/* What stops the newer normalizers at batch norm's time per element (issue
 * 24, "Speed"), measured on the real kernels of core/cpu beside plain loops,
 * each repetition short (a few ms at most), so that the best of many is
 * clean even on a loaded host where `normlab bench`'s 30 ms repetitions are
 * cut by the scheduler.
 *
 * RMSNorm and layer norm are one tuned per-sample kernel, centring a
 * parameter: RMS should cost what layer norm costs, or less.
 *
 * Batch renorm's forward is two ops, statistics then the corrected apply:
 * two passes over x where batch norm pipelines one into the other, so its
 * floor is a read of x plus a one-pass y = a x + b (two_pass_ceiling.c).
 *
 * DyT has no statistics: one pass, y = gamma * tanh(alpha * x) + beta. Its
 * floor is the larger of that pass's memory traffic (axpb below: a plain
 * y = a x + b, batch norm's eval pass) and the arithmetic of its tanh, timed
 * here by running the DyT kernel over one 2048-float block that stays in L1,
 * as many times as the tensor has blocks (no memory traffic at all). When
 * the tanh alone takes longer than batch norm's training forward, no DyT
 * kernel with that tanh can match batch norm, however it moves memory.
 *
 * FRN is two ops: the norm ops' uncentred statistics over each plane (the
 * tuned per-sample kernel, instance geometry) and the TLU's max(y, tau) in
 * place; its backward is the TLU's mask pass and the norm's backward. A
 * second pass over the tensor costs at least a copy's traffic (1.5 copies
 * backward: y and dy read, dz written), so as two ops FRN cannot be faster
 * than its norm pass plus that; fused, the TLU
 * would ride in the norm's own passes (that needs a norm op with a
 * threshold, on both backends).
 *
 * Reported: ns per element, the best of the repetitions, and each kernel's
 * time over batch norm's on the same shape and direction. The host's slow
 * phases move every number; run it two or three times.
 *
 *   cmake --build build --target normlab_core && gcc -O3 -march=native -std=gnu11 -fopenmp \
 *       -Icore experiments/bench/pointwise_ceiling.c build/libnormlab_core.a -lopenblas -lm \
 *       -o /tmp/pointwise_ceiling && OMP_NUM_THREADS=1 /tmp/pointwise_ceiling
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "best_time.h"

#include "cpu/cpu.h"

static float *make(size_t count, unsigned seed)
{
    float *p = aligned_alloc(4096, (count * sizeof(float) + 4095) / 4096 * 4096);
    if (!p) {
        fprintf(stderr, "pointwise_ceiling: cannot allocate %zu floats\n", count);
        exit(1);
    }
    for (size_t i = 0; i < count; i++) /* values in [-2, 2], tanh's curved range */
        p[i] = (float)((i * 2654435761u + seed) % 4001u) * 1e-3f - 2.0f;
    return p;
}

static void copy(size_t count, const float *x, float *y)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++)
        y[i] = x[i];
}

static volatile float sink;

static void read_x(size_t count, const float *x)
{
    float total = 0.0f;
#pragma omp parallel for simd schedule(static) reduction(+ : total)
    for (size_t i = 0; i < count; i++)
        total += x[i];
    sink = total;
}

static void axpb(size_t count, const float *x, float *y)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] * 1.5f + 0.25f;
}

enum { BLOCK = 2048 }; /* floats of the L1-resident block: 8 KiB in, 8 KiB out */

/* the DyT kernel over one block, `blocks` times shared by the threads (each
 * writes its own block of yb; a block is too small for the kernel to open a
 * team of its own): its arithmetic alone */
static void dyt_in_l1(size_t blocks, const float *alpha, const float *xb, float *yb)
{
#pragma omp parallel
    {
        float *mine = yb + (size_t)omp_get_thread_num() * BLOCK;
#pragma omp for schedule(static)
        for (size_t b = 0; b < blocks; b++)
            nl_cpu_dyt_forward(NULL, 1, 1, BLOCK, alpha, xb, NULL, NULL, mine);
    }
}

/* the buffers of the per-sample kernels' backward */
typedef struct {
    const float *x, *dy, *gamma, *beta;
    float *y, *mean, *rstd, *dx, *dgamma, *dbeta;
    void *ws;
} group_buffers;

/* groupnorm.c's backward (gamma always, beta with shift), after its
 * forward has saved the statistics */
static double group_backward(const group_buffers *b, int n, int c, int hw, int groups,
                             bool center, bool shift, int reps)
{
    nl_cpu_groupnorm_forward(NULL, n, c, hw, groups, center, 1e-5f, b->x, b->gamma,
                             shift ? b->beta : NULL, b->y, b->mean, b->rstd, NULL, NULL, 0.0f);
    return BEST(nl_cpu_groupnorm_backward(NULL, n, c, hw, groups, center, b->x, b->dy, b->gamma,
                                          b->mean, b->rstd, b->dx, false, b->dgamma,
                                          shift ? b->dbeta : NULL, b->ws),
                reps);
}

static void row(const char *what, double t, size_t count, double bn)
{
    printf("  %-44s %8.3f %7.2f\n", what, t * 1e9 / (double)count, t / bn);
}

int main(void)
{
    const struct {
        int n, c, hw, reps;
    } shapes[] = {{32, 64, 784, 200}, {128, 256, 196, 30}, {256, 1024, 1, 2000}};
    printf("%d threads; ns per element (best of the repetitions), and the time over batch\n"
           "norm's on the same shape and direction\n",
           omp_get_max_threads());
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = shapes[s].n, c = shapes[s].c, hw = shapes[s].hw, reps = shapes[s].reps;
        const size_t count = (size_t)n * c * hw, blocks = count / BLOCK;
        const float alpha = 0.5f, eps = 1e-5f;
        float *x = make(count, 1), *y = make(count, 2), *dy = make(count, 3),
              *dx = make(count, 4), *xb = make(BLOCK, 5),
              *yb = make((size_t)BLOCK * omp_get_max_threads(), 6);
        float *gamma = make((size_t)c, 7), *beta = make((size_t)c, 8), *tau = make((size_t)c, 9),
              *dgamma = make((size_t)c, 10), *dbeta = make((size_t)c, 11);
        float *rm = make((size_t)c, 12), *rv = make((size_t)c, 13);
        for (int k = 0; k < c; k++)
            rv[k] = 1.0f;
        float *mean = make((size_t)n * c, 14), *rstd = make((size_t)n * c, 15), dalpha;
        const size_t ws_bytes = nl_cpu_groupnorm_backward_workspace(NULL, n, c, hw, c) +
                                nl_cpu_dyt_backward_workspace(NULL, c);
        void *ws = aligned_alloc(4096, (ws_bytes + 4095) / 4096 * 4096);
        const bool images = hw > 1;
        printf("\n(%d, %d%s) %zu floats%s\n", n, c,
               hw == 784 ? ", 28, 28" : hw == 196 ? ", 14, 14" : "", count,
               images ? "" : " (FRN takes images only)");

        const double t_copy = BEST(copy(count, x, y), reps);
        const double t_axpb = BEST(axpb(count, x, y), reps);
        const double t_bn = BEST(nl_cpu_batchnorm_forward_train(NULL, n, c, hw, eps, x, gamma,
                                                                beta, y, mean, rstd, rm, rv,
                                                                0.1f),
                                 reps);
        const double t_bn_eval = BEST(
            nl_cpu_batchnorm_forward_eval(NULL, n, c, hw, eps, x, gamma, beta, rm, rv, y), reps);
        const double t_dyt =
            BEST(nl_cpu_dyt_forward(NULL, n, c, hw, &alpha, x, gamma, beta, y), reps);
        const double t_tanh = BEST(dyt_in_l1(blocks, &alpha, xb, yb), reps) * count /
                              (double)(blocks * BLOCK);
        const nl_norm_geom batch = {n, c, hw, 0, true, eps};
        float *var = make((size_t)c, 16), *r = make((size_t)c, 17), *d = make((size_t)c, 18),
              *scale = make((size_t)c, 19), *shift = make((size_t)c, 20);
        const double t_renorm =
            BEST((nl_cpu_norm_stats(NULL, &batch, x, mean, var, NULL, NULL, 0.0f),
                  nl_cpu_renorm_correction(NULL, c, eps, 3.0f, 5.0f, mean, var, rm, rv, gamma,
                                           beta, r, d, scale, shift),
                  nl_cpu_norm_apply(NULL, &batch, x, mean, var, scale, shift, y, rstd)),
                 reps);
        const double t_two_pass = BEST((read_x(count, x), axpb(count, x, y)), reps);
        const double t_layer = BEST(nl_cpu_groupnorm_forward(NULL, n, c, hw, 1, true, eps, x, gamma,
                                                             beta, y, mean, rstd, NULL, NULL, 0.0f),
                                    reps);
        const double t_rms = BEST(nl_cpu_groupnorm_forward(NULL, n, c, hw, 1, false, eps, x, gamma,
                                                           NULL, y, mean, rstd, NULL, NULL, 0.0f),
                                  reps);
        printf(" forward                                       ns/elem  / batch\n");
        row("copy (the bench's reference)", t_copy, count, t_bn);
        row("axpb: y = a x + b, a one-pass floor", t_axpb, count, t_bn);
        row("batch norm, training (tuned)", t_bn, count, t_bn);
        row("batch norm, eval (tuned)", t_bn_eval, count, t_bn);
        row("DyT (tuned)", t_dyt, count, t_bn);
        row("DyT's arithmetic alone (block in L1)", t_tanh, count, t_bn);
        row("layer norm (tuned)", t_layer, count, t_bn);
        row("RMSNorm (the same kernel, uncentred)", t_rms, count, t_bn);
        row("batch renorm: statistics, correction, apply", t_renorm, count, t_bn);
        row("two-pass floor: read x, then y = a x + b", t_two_pass, count, t_bn);
        double t_frn_stats = 0.0, t_tlu = 0.0, t_frn = 0.0;
        if (images) {
            t_frn_stats = BEST(nl_cpu_groupnorm_forward(NULL, n, c, hw, c, false, eps, x, gamma,
                                                        beta, y, mean, rstd, NULL, NULL, 0.0f),
                               reps);
            t_tlu = BEST(nl_cpu_tlu_forward(NULL, n, c, hw, y, tau, y), reps);
            t_frn = BEST((nl_cpu_groupnorm_forward(NULL, n, c, hw, c, false, eps, x, gamma, beta,
                                                   y, mean, rstd, NULL, NULL, 0.0f),
                          nl_cpu_tlu_forward(NULL, n, c, hw, y, tau, y)),
                         reps);
            row("FRN's statistics and apply (tuned, uncentred)", t_frn_stats, count, t_bn);
            row("TLU in place (the second pass)", t_tlu, count, t_bn);
            row("FRN as it runs (the two)", t_frn, count, t_bn);
            row("FRN floor as two ops: statistics + copy", t_frn_stats + t_copy, count, t_bn);
        }

        nl_cpu_batchnorm_forward_train(NULL, n, c, hw, eps, x, gamma, beta, y, mean, rstd, rm, rv,
                                       0.1f);
        const double t_bn_bwd = BEST(nl_cpu_batchnorm_backward(NULL, n, c, hw, x, dy, gamma, mean,
                                                               rstd, dx, false, dgamma, dbeta),
                                     reps);
        const double t_dyt_bwd = BEST(nl_cpu_dyt_backward(NULL, n, c, hw, &alpha, x, dy, gamma,
                                                          dx, false, dgamma, dbeta, &dalpha, ws),
                                      reps);
        const group_buffers buffers = {x, dy, gamma, beta, y, mean, rstd, dx, dgamma, dbeta, ws};
        const double t_layer_bwd = group_backward(&buffers, n, c, hw, 1, true, true, reps);
        const double t_rms_bwd = group_backward(&buffers, n, c, hw, 1, false, false, reps);
        printf(" backward\n");
        row("batch norm (tuned)", t_bn_bwd, count, t_bn_bwd);
        row("DyT (tuned)", t_dyt_bwd, count, t_bn_bwd);
        row("layer norm (tuned)", t_layer_bwd, count, t_bn_bwd);
        row("RMSNorm (the same kernel, uncentred)", t_rms_bwd, count, t_bn_bwd);
        if (images) {
            nl_cpu_groupnorm_forward(NULL, n, c, hw, c, false, eps, x, gamma, beta, y, mean, rstd,
                                     NULL, NULL, 0.0f);
            nl_cpu_tlu_forward(NULL, n, c, hw, y, tau, y);
            const double t_tlu_bwd =
                BEST(nl_cpu_tlu_backward(NULL, n, c, hw, y, tau, dy, dx, false, dbeta), reps);
            const double t_frn_bwd = group_backward(&buffers, n, c, hw, c, false, true, reps);
            row("FRN's norm backward (tuned, uncentred)", t_frn_bwd, count, t_bn_bwd);
            row("TLU backward (the mask pass)", t_tlu_bwd, count, t_bn_bwd);
            row("FRN as it runs (the two)", t_tlu_bwd + t_frn_bwd, count, t_bn_bwd);
            row("FRN floor as two ops: norm backward + 1.5 copy", t_frn_bwd + 1.5 * t_copy,
                count, t_bn_bwd);
        }
        float *all[] = {x,      y,  dy, dx,   xb,   yb,  gamma, beta,  tau,  dgamma,
                        dbeta,  rm, rv, mean, rstd, var, r,     d,     scale, shift};
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
            free(all[k]);
        free(ws);
    }
    return 0;
}
