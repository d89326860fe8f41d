/* Dropout's mask and the per-channel affine map of noisy batch norm. Each
 * element's mask bit depends on its index and the step's key alone
 * (base/counter_rng.h), so the mask repeats for every thread count and on
 * the CUDA backend. */
#include <string.h>

#include "base/counter_rng.h"
#include "cpu/cpu.h"

void nl_cpu_dropout_forward(nl_backend *be, size_t count, uint32_t keep_threshold, float scale,
                            const float *key, const float *x, float *y, uint8_t *mask)
{
    (void)be;
    uint32_t words[2];
    memcpy(words, key, sizeof words);
    const uint64_t k = (uint64_t)words[0] | (uint64_t)words[1] << 32;
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (size_t i = 0; i < count; i++) {
        const uint8_t keep = nl_counter_draw(k, i) < keep_threshold;
        mask[i] = keep;
        y[i] = x[i] * (keep ? scale : 0.0f);
    }
    );
}

void nl_cpu_dropout_backward(nl_backend *be, size_t count, float scale, const uint8_t *mask,
                             const float *dy, float *dx, bool accumulate_dx)
{
    (void)be;
    if (accumulate_dx) {
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            dx[i] += dy[i] * (mask[i] ? scale : 0.0f);
        );
    } else {
        NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
        for (size_t i = 0; i < count; i++)
            dx[i] = dy[i] * (mask[i] ? scale : 0.0f);
        );
    }
}

void nl_cpu_channel_affine_forward(nl_backend *be, int n, int c, int hw, const float *scale,
                                   const float *shift, const float *x, float *y)
{
    (void)be;
    const long planes = (long)n * c;
    NL_PARALLEL_FOR_IF((size_t)planes * (size_t)hw >= NL_PARALLEL_MIN,
    for (long p = 0; p < planes; p++) {
        const float s = scale[p % c], b = shift[p % c];
        const float *xp = x + (size_t)p * hw;
        float *yp = y + (size_t)p * hw;
        for (int i = 0; i < hw; i++)
            yp[i] = xp[i] * s + b;
    }
    );
}

void nl_cpu_channel_affine_backward(nl_backend *be, int n, int c, int hw, const float *scale,
                                    const float *dy, float *dx, bool accumulate_dx)
{
    (void)be;
    const long planes = (long)n * c;
    NL_PARALLEL_FOR_IF((size_t)planes * (size_t)hw >= NL_PARALLEL_MIN,
    for (long p = 0; p < planes; p++) {
        const float s = scale[p % c];
        const float *gp = dy + (size_t)p * hw;
        float *dp = dx + (size_t)p * hw;
        for (int i = 0; i < hw; i++)
            dp[i] = (accumulate_dx ? dp[i] : 0.0f) + gp[i] * s;
    }
    );
}
