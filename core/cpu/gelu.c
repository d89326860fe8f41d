/* GELU in float, erf or tanh form (backend.h). */
#include <math.h>

#include "cpu/cpu.h"

#define SQRT_2_OVER_PI 0.7978845608f
#define GELU_CUBIC 0.044715f
#define INV_SQRT_2 0.7071067812f
#define INV_SQRT_2PI 0.3989422804f

void nl_cpu_gelu_forward(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                         float *y)
{
    (void)be;
    if (kind == NL_GELU_TANH) {
        NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++) {
            const float v = x[i];
            y[i] = 0.5f * v * (1.0f + tanhf(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)));
        }
        );
    } else {
        NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * INV_SQRT_2));
        );
    }
}

void nl_cpu_gelu_backward(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                          const float *dy, float *dx, bool accumulate_dx)
{
    (void)be;
    if (kind == NL_GELU_TANH) {
        NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++) {
            const float v = x[i];
            const float th = tanhf(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
            const float grad = 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * SQRT_2_OVER_PI *
                                                        (1.0f + 3.0f * GELU_CUBIC * v * v);
            dx[i] = accumulate_dx ? dx[i] + dy[i] * grad : dy[i] * grad;
        }
        );
    } else {
        NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++) {
            const float v = x[i];
            const float grad =
                0.5f * (1.0f + erff(v * INV_SQRT_2)) + v * expf(-0.5f * v * v) * INV_SQRT_2PI;
            dx[i] = accumulate_dx ? dx[i] + dy[i] * grad : dy[i] * grad;
        }
        );
    }
}
