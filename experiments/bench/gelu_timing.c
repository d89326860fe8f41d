/* GELU's CPU kernels (core/cpu/gelu.c, vector erf/exp of core/cpu/vmath.h)
 * beside the scalar loops they replaced (glibc's erff, tanhf, expf per
 * element), in one process, forward and backward, erf and tanh form, on one
 * lm-synthetic MLP activation (batch 16 x context 64 x 4 * d_model 128 =
 * 524288 floats), one thread. Reported: ns per element, the best of the
 * repetitions (the host's noise only ever adds time), and old / new.
 *
 *   cmake --build build --target normlab_core && gcc -O3 -march=native -std=gnu11 \
 *       -ffp-contract=off -fopenmp -Icore experiments/bench/gelu_timing.c \
 *       build/libnormlab_core.a -lopenblas -lm -o /tmp/gelu_timing \
 *       && OMP_NUM_THREADS=1 /tmp/gelu_timing
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "best_time.h"

#include "cpu/cpu.h"

#define SQRT_2_OVER_PI 0.7978845608f
#define GELU_CUBIC 0.044715f
#define INV_SQRT_2 0.7071067812f
#define INV_SQRT_2PI 0.3989422804f

enum { COUNT = 16 * 64 * 512, REPS = 60 };

static void scalar_forward(nl_gelu_kind kind, size_t count, const float *x, float *y)
{
    for (size_t i = 0; i < count; i++) {
        const float v = x[i];
        y[i] = kind == NL_GELU_TANH
                   ? 0.5f * v * (1.0f + tanhf(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)))
                   : 0.5f * v * (1.0f + erff(v * INV_SQRT_2));
    }
}

static void scalar_backward(nl_gelu_kind kind, size_t count, const float *x, const float *dy,
                            float *dx)
{
    for (size_t i = 0; i < count; i++) {
        const float v = x[i];
        float grad;
        if (kind == NL_GELU_TANH) {
            const float th = tanhf(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
            grad = 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * SQRT_2_OVER_PI *
                                            (1.0f + 3.0f * GELU_CUBIC * v * v);
        } else {
            grad = 0.5f * (1.0f + erff(v * INV_SQRT_2)) + v * expf(-0.5f * v * v) * INV_SQRT_2PI;
        }
        dx[i] = dy[i] * grad;
    }
}

int main(void)
{
    float *x = malloc(COUNT * sizeof(float)), *dy = malloc(COUNT * sizeof(float));
    float *out = malloc(COUNT * sizeof(float));
    if (!x || !dy || !out)
        return 1;
    for (size_t i = 0; i < COUNT; i++) { /* [-4, 4], where GELU's inputs mostly fall */
        x[i] = (float)((i * 2654435761u) % 8001u) * 1e-3f - 4.0f;
        dy[i] = (float)((i * 40503u) % 2001u) * 1e-3f - 1.0f;
    }
    printf("%-6s %-9s %10s %10s %7s\n", "form", "direction", "old ns/el", "new ns/el", "old/new");
    for (int kind = 0; kind < NL_GELU_COUNT; kind++) {
        const char *name = kind == NL_GELU_TANH ? "tanh" : "erf";
        const double of = BEST(scalar_forward(kind, COUNT, x, out), REPS);
        const double nf = BEST(nl_cpu_gelu_forward(NULL, kind, COUNT, x, out), REPS);
        const double ob = BEST(scalar_backward(kind, COUNT, x, dy, out), REPS);
        const double nb = BEST(nl_cpu_gelu_backward(NULL, kind, COUNT, x, dy, out, false), REPS);
        printf("%-6s %-9s %10.3f %10.3f %7.2f\n", name, "forward", of * 1e9 / COUNT,
               nf * 1e9 / COUNT, of / nf);
        printf("%-6s %-9s %10.3f %10.3f %7.2f\n", name, "backward", ob * 1e9 / COUNT,
               nb * 1e9 / COUNT, ob / nb);
    }
    free(x), free(dy), free(out);
    return 0;
}
