/* Activations, residual add and gradient passing. The derivative of each
 * activation is taken from its output, which the layer keeps anyway. */
#include <math.h>

#include "cpu/cpu.h"

void nl_cpu_activation_forward(nl_backend *be, nl_activation kind, size_t count, const float *x,
                               float *y)
{
    (void)be;
    switch (kind) {
    case NL_ACT_RELU:
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        );
        break;
    case NL_ACT_SIGMOID:
        NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            y[i] = 1.0f / (1.0f + expf(-x[i]));
        );
        break;
    case NL_ACT_TANH:
        NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            y[i] = tanhf(x[i]);
        );
        break;
    default:
        break;
    }
}

void nl_cpu_activation_backward(nl_backend *be, nl_activation kind, size_t count, const float *y,
                                const float *dy, float *dx, bool accumulate_dx)
{
    (void)be;
    const float keep = accumulate_dx ? 1.0f : 0.0f;
    switch (kind) {
    case NL_ACT_RELU:
        if (accumulate_dx) {
            NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
            for (size_t i = 0; i < count; i++)
                dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
            );
        } else {
            NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
            for (size_t i = 0; i < count; i++)
                dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
            );
        }
        break;
    case NL_ACT_SIGMOID:
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            dx[i] = (accumulate_dx ? keep * dx[i] : 0.0f) + dy[i] * y[i] * (1.0f - y[i]);
        );
        break;
    case NL_ACT_TANH:
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            dx[i] = (accumulate_dx ? keep * dx[i] : 0.0f) + dy[i] * (1.0f - y[i] * y[i]);
        );
        break;
    default:
        break;
    }
}

void nl_cpu_add_forward(nl_backend *be, size_t count, const float *a, const float *b, float *y)
{
    (void)be;
    NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
    for (size_t i = 0; i < count; i++)
        y[i] = a[i] + b[i];
    );
}

void nl_cpu_pass_gradient(nl_backend *be, size_t count, const float *src, float *dst,
                          bool accumulate)
{
    (void)be;
    if (accumulate) {
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            dst[i] += src[i];
        );
    } else {
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            dst[i] = src[i];
        );
    }
}
