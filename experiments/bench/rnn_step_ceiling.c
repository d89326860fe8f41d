/* What bounds the LSTM's training step (issue 45, "Speed"): the matrix
 * products of `normlab bench --model lstm`'s step, each timed alone in one
 * process on one thread, best of many short repetitions.
 *
 * Both frameworks issue the same products for one layer over T steps of N
 * sequences (G = 4H gate rows, I inputs per step):
 *   input projection of all steps   (N*T) x G x I   x W_ih^T   (NT)
 *   per step, the recurrent product  N x G x H      h W_hh^T   (NT), T times
 *   per step, h's gradient           N x H x G      dg W_hh    (NN), T-1 times
 *   W_hh's gradient over all steps   G x H x (N*T)  dg^T h     (TN)
 *   W_ih's gradient over all steps   G x I x (N*T)  dg^T x     (TN)
 * (PyTorch 1.13's CPU LSTM runs exactly these through its BLAS, OpenBLAS
 * for Debian's package; the classifier's products are negligible.) Their
 * sum through cblas_sgemm is a step with everything else free: N / that
 * time is the sequences/s neither side passes with this BLAS, and the
 * measured rates over it are each side's share of products. normlab's
 * recurrent op itself (rnn_forward then rnn_backward through the backend's
 * ops, the kernel set a run picks: products, gates and all) is timed
 * beside them: op / sgemm is what the gates, copies and normlab's own
 * product paths add to the products.
 *
 *   cmake --build build --target normlab_core && gcc -O3 -march=native -std=gnu11 -fopenmp \
 *       -Icore -Iexperiments/bench experiments/bench/rnn_step_ceiling.c build/libnormlab_core.a \
 *       -lopenblas -lm -o /tmp/rnn_step_ceiling &&
 *   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /tmp/rnn_step_ceiling [REPS [cpu]]
 *
 * `cpu` times by the thread's CPU time, which leaves out what the host gave
 * to other processes (one thread only). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"
#include "device/device.h"

#include "best_time.h"

enum { T = 28, INPUTS = 28 };

static float *make(size_t count, unsigned seed)
{
    float *p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "rnn_step_ceiling: cannot allocate %zu floats\n", count);
        exit(1);
    }
    for (size_t i = 0; i < count; i++) /* small values, as activations and weights */
        p[i] = (float)((i * 2654435761u + seed) % 4001u) * 1e-4f - 0.2f;
    return p;
}

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 20;
    if (argc > 2 && strcmp(argv[2], "cpu") == 0)
        nl_bench_clock = CLOCK_THREAD_CPUTIME_ID;
    const int hiddens[] = {128, 256, 512}, batches[] = {1, 8, 64};
    nl_backend_options bo = {.threads = 1};
    nl_backend *be = NULL;
    nl_error err = {0};
    if (nl_cpu_backend_open(&bo, &be, &err) != NL_OK) {
        fprintf(stderr, "rnn_step_ceiling: %s\n", err.msg);
        return 1;
    }
    printf("lstm, T %d, %d inputs, one layer, 1 thread; ms per step, best of %d\n", T, INPUTS,
           reps);
    printf("%6s %5s | %8s %8s %8s %8s %8s | %8s %10s | %9s %8s\n", "hidden", "batch", "xproj",
           "rec x T", "dh x T-1", "dW_hh", "dW_ih", "sgemm ms", "ceiling/s", "op fwd+bwd",
           "op/sgemm");
    for (size_t hi = 0; hi < sizeof hiddens / sizeof hiddens[0]; hi++)
        for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
            const int h = hiddens[hi], n = batches[bi], g = 4 * h, rows = n * T;
            float *x = make((size_t)rows * INPUTS, 1), *w_ih = make((size_t)g * INPUTS, 2);
            float *w_hh = make((size_t)g * h, 3), *states = make((size_t)(T + 1) * n * h, 4);
            float *xproj = make((size_t)rows * g, 5), *dg = make((size_t)rows * g, 6);
            float *dw_hh = make((size_t)g * h, 7), *dw_ih = make((size_t)g * INPUTS, 8);
            float *hproj = make((size_t)n * g, 9), *dh = make((size_t)n * h, 10);
            /* the op's operands: inputs, weights, biases, outputs and gradients */
            float *b_ih = make(g, 11), *b_hh = make(g, 12), *y = make((size_t)rows * h, 13);
            float *dy = make((size_t)rows * h, 14), *db_ih = make(g, 15), *db_hh = make(g, 16);
            const nl_ops *ops = be->ops;
            const size_t saved_bytes = ops->rnn_saved_bytes(be, NL_RNN_LSTM, n, T, h);
            const size_t work_bytes = ops->rnn_workspace(be, NL_RNN_LSTM, n, T, INPUTS, h);
            void *saved = aligned_alloc(64, (saved_bytes + 63) / 64 * 64);
            void *work = aligned_alloc(64, (work_bytes + 63) / 64 * 64);
            if (!saved || !work) {
                fprintf(stderr, "rnn_step_ceiling: cannot allocate the op's buffers\n");
                return 1;
            }
            const double t_xproj =
                BEST(cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, g, INPUTS, 1.0f,
                                 x, INPUTS, w_ih, INPUTS, 0.0f, xproj, g),
                     reps);
            const double t_rec = BEST(
                for (int s = 0; s < T; s++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n,
                                                        g, h, 1.0f, states + (size_t)s * n * h, h,
                                                        w_hh, h, 0.0f, hproj, g),
                reps);
            const double t_dh = BEST(
                for (int s = 1; s < T; s++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                                                        n, h, g, 1.0f, dg + (size_t)s * n * g, g,
                                                        w_hh, h, 0.0f, dh, h),
                reps);
            const double t_dw_hh =
                BEST(cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g, h, rows, 1.0f, dg, g,
                                 states, h, 0.0f, dw_hh, h),
                     reps);
            const double t_dw_ih =
                BEST(cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g, INPUTS, rows, 1.0f,
                                 dg, g, x, INPUTS, 0.0f, dw_ih, INPUTS),
                     reps);
            const double t_op = BEST(
                ops->rnn_forward(be, NL_RNN_LSTM, n, T, INPUTS, h, x, w_ih, w_hh, b_ih, b_hh, y,
                                 NULL, NULL, saved, work);
                ops->rnn_backward(be, NL_RNN_LSTM, n, T, INPUTS, h, x, w_ih, w_hh, saved, dy,
                                  NULL, NULL, NULL, false, dw_ih, dw_hh, db_ih, db_hh, work),
                reps);
            const double sum = t_xproj + t_rec + t_dh + t_dw_hh + t_dw_ih;
            printf("%6d %5d | %8.3f %8.3f %8.3f %8.3f %8.3f | %8.3f %10.1f | %9.3f %8.2f\n", h,
                   n, t_xproj * 1e3, t_rec * 1e3, t_dh * 1e3, t_dw_hh * 1e3, t_dw_ih * 1e3,
                   sum * 1e3, n / sum, t_op * 1e3, t_op / sum);
            free(x), free(w_ih), free(w_hh), free(states), free(xproj), free(dg), free(dw_hh);
            free(dw_ih), free(hproj), free(dh), free(b_ih), free(b_hh), free(y), free(dy);
            free(db_ih), free(db_hh), free(saved), free(work);
        }
    nl_backend_close(be);
    return 0;
}
