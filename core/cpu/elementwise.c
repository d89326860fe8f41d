/* Activations, residual add and gradient passing. The derivative of each
 * activation is taken from its output, which the layer keeps anyway. */
#include <assert.h>
#include <math.h>

#include "base/precision.h"
#include "cpu/cpu.h"
#include "backend/twins.h"

void nl_cpu_activation_forward(nl_backend *be, nl_activation kind, size_t count, const float *x,
                               float *y)
{
    (void)be;
    switch (kind) {
    case NL_ACT_RELU:
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] <= 0.0f ? 0.0f : x[i]; /* NaN stays NaN, as in torch.relu */
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
                dx[i] += y[i] <= 0.0f ? 0.0f : dy[i];
            );
        } else {
            NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
            for (size_t i = 0; i < count; i++)
                dx[i] = y[i] <= 0.0f ? 0.0f : dy[i];
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

/* element i of p in storage type t (a constant where inlined into a case
 * of STORED_CASES): the table's scalar conversions, which the compiler
 * vectorizes for the 16-bit rows */
static inline __attribute__((always_inline)) float stored_value(unsigned t, const void *p, size_t i)
{
    return t == NL_STORAGE_FP32 ? ((const float *)p)[i]
           : t == NL_STORAGE_BF16 ? nl_bf16_value(((const uint16_t *)p)[i])
                                  : nl_fp16_value(((const uint16_t *)p)[i]);
}

static inline __attribute__((always_inline)) void add_stored(size_t count, unsigned ta,
                                                             const void *a, unsigned tb,
                                                             const void *b, float *y)
{
    NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
    for (size_t i = 0; i < count; i++)
        y[i] = stored_value(ta, a, i) + stored_value(tb, b, i);
    );
}

void nl_cpu_add_forward_stored(nl_backend *be, size_t count, unsigned ta, const void *a,
                               unsigned tb, const void *b, float *y)
{
    (void)be;
    assert(ta < NL_STORAGE_COUNT && tb < NL_STORAGE_COUNT);
    /* one copy per pair of types, so that no type is tested in the loop */
    for (unsigned i = 0; i < NL_STORAGE_COUNT; i++)
        for (unsigned j = 0; j < NL_STORAGE_COUNT; j++)
            if (ta == i && tb == j)
                add_stored(count, i, a, j, b, y);
}

void nl_cpu_round_to_storage(nl_backend *be, unsigned type, size_t count, const float *src,
                             void *dst)
{
    (void)be;
    assert(type < NL_STORAGE_COUNT && nl_storage_table[type].word && "a 16-bit type");
    uint16_t *w = dst;
    if (type == NL_STORAGE_BF16) {
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            w[i] = nl_bf16_word(src[i]);
        );
    } else {
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            w[i] = nl_fp16_word(src[i]);
        );
    }
}

/* Loss scaling's unscale over the fixed parts of sum_squares, each
 * counting its own zeros and non-finite values into its slots; the counts
 * are integers, exact in any order. The product is taken for every
 * element, inf and NaN included, as GradScaler's is. */
void nl_cpu_scale_check_finite(nl_backend *be, size_t count, float *x, const float *factor,
                               float *found_inf, double *slots)
{
    (void)be;
    const float f = factor[0];
    const size_t part = (count + NL_SUM_SQUARES_PARTS - 1) / NL_SUM_SQUARES_PARTS;
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (int k = 0; k < NL_SUM_SQUARES_PARTS; k++) {
        const size_t lo = (size_t)k * part < count ? (size_t)k * part : count;
        const size_t hi = lo + part < count ? lo + part : count;
        size_t zeros = 0, bad = 0;
        for (size_t i = lo; i < hi; i++) {
            zeros += x[i] == 0.0f;
            bad += !isfinite(x[i]);
            x[i] = x[i] * f;
        }
        slots[k] = (double)zeros;
        slots[NL_SUM_SQUARES_PARTS + k] = (double)bad;
    });
    nl_scale_check_total(slots, found_inf);
}
