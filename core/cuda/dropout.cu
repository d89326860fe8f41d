/* Dropout's mask and noisy batch norm's per-channel affine map: the CUDA
 * twins of core/cpu/dropout.c. Each element reads its own inputs only,
 * with the CPU's expressions (no FMA contraction: the build compiles
 * with --fmad=false), and the mask bit of element i is
 * nl_counter_draw(key, i) on both backends, so results match the CPU bit
 * for bit whatever the grid. */
#include "base/counter_rng.h"
#include "cuda/norm_common.cuh"

using namespace nlk;

struct DropoutForwardOp {
    uint32_t keep_threshold;
    float scale;
    const float *key;
    const float *x;
    float *y;
    uint8_t *mask;
    template <int V> __device__ void run(size_t item) const
    {
        const unsigned int *words = reinterpret_cast<const unsigned int *>(key);
        const uint64_t k = (uint64_t)words[0] | (uint64_t)words[1] << 32;
#pragma unroll
        for (int e = 0; e < V; e++) {
            const size_t i = item * V + e;
            const uint8_t keep = nl_counter_draw(k, i) < keep_threshold;
            mask[i] = keep;
            y[i] = x[i] * (keep ? scale : 0.0f);
        }
    }
};

struct DropoutBackwardOp {
    float scale;
    const uint8_t *mask;
    const float *dy;
    float *dx;
    int accumulate;
    template <int V> __device__ void run(size_t item) const
    {
#pragma unroll
        for (int e = 0; e < V; e++) {
            const size_t i = item * V + e;
            const float g = dy[i] * (mask[i] ? scale : 0.0f);
            dx[i] = accumulate ? dx[i] + g : g;
        }
    }
};

struct ChannelAffineOp {
    int c, hw;
    const float *scale, *shift, *x;
    float *y;
    template <int V> __device__ void run(size_t item) const
    {
#pragma unroll
        for (int e = 0; e < V; e++) {
            const size_t i = item * V + e;
            const int ch = (int)((i / (size_t)hw) % (size_t)c);
            y[i] = x[i] * scale[ch] + shift[ch];
        }
    }
};

struct ChannelAffineBackwardOp {
    int c, hw;
    const float *scale, *dy;
    float *dx;
    int accumulate;
    template <int V> __device__ void run(size_t item) const
    {
#pragma unroll
        for (int e = 0; e < V; e++) {
            const size_t i = item * V + e;
            const int ch = (int)((i / (size_t)hw) % (size_t)c);
            dx[i] = (accumulate ? dx[i] : 0.0f) + dy[i] * scale[ch];
        }
    }
};

/* the ops above handle one element per item (the masks are bytes, and a
 * channel may end inside a float4) */
void nl_cuda_dropout_forward(nl_backend *be, size_t count, uint32_t keep_threshold, float scale,
                             const float *key, const float *x, float *y, uint8_t *mask)
{
    ew_launch(nl_cuda_of(be), DropoutForwardOp{keep_threshold, scale, key, x, y, mask}, count,
              false, "launch of dropout forward");
}

void nl_cuda_dropout_backward(nl_backend *be, size_t count, float scale, const uint8_t *mask,
                              const float *dy, float *dx, bool accumulate_dx)
{
    ew_launch(nl_cuda_of(be), DropoutBackwardOp{scale, mask, dy, dx, accumulate_dx ? 1 : 0},
              count, false, "launch of dropout backward");
}

void nl_cuda_channel_affine_forward(nl_backend *be, int n, int c, int hw, const float *scale,
                                    const float *shift, const float *x, float *y)
{
    ew_launch(nl_cuda_of(be), ChannelAffineOp{c, hw, scale, shift, x, y},
              (size_t)n * c * hw, false, "launch of channel affine forward");
}

void nl_cuda_channel_affine_backward(nl_backend *be, int n, int c, int hw, const float *scale,
                                     const float *dy, float *dx, bool accumulate_dx)
{
    ew_launch(nl_cuda_of(be), ChannelAffineBackwardOp{c, hw, scale, dy, dx, accumulate_dx ? 1 : 0},
              (size_t)n * c * hw, false, "launch of channel affine backward");
}
