/* Dropout's mask and noisy batch norm's per-channel affine map: the CUDA
 * twins of core/cpu/dropout.c. Each element reads its own inputs only,
 * with the CPU's expressions (no FMA contraction: the build compiles
 * with --fmad=false), and the mask bit of element i is
 * nl_counter_draw(key, i) on both backends, so results match the CPU bit
 * for bit whatever the grid. */
#include "base/counter_rng.h"
#include "cuda/norm_common.cuh"

using namespace nlk;

/* An op of one element at a time (Op::at(i)) on ew_kernel's walk: the
 * masks are bytes, and a channel may end inside a float4, so these ops
 * launch without vectors. */
template <class Op> struct PerElement {
    Op op;
    template <int V> __device__ void run(size_t item) const
    {
#pragma unroll
        for (int e = 0; e < V; e++)
            op.at(item * V + e);
    }
};

template <class Op> static void launch_elements(nl_backend *be, Op op, size_t count,
                                                const char *what)
{
    ew_launch(nl_cuda_of(be), PerElement<Op>{op}, count, false, what);
}

struct DropoutForwardOp {
    uint32_t keep_threshold;
    float scale;
    const float *key;
    const float *x;
    float *y;
    uint8_t *mask;
    __device__ void at(size_t i) const
    {
        const unsigned int *words = reinterpret_cast<const unsigned int *>(key);
        const uint64_t k = (uint64_t)words[0] | (uint64_t)words[1] << 32;
        const uint8_t keep = nl_counter_draw(k, i) < keep_threshold;
        mask[i] = keep;
        y[i] = x[i] * (keep ? scale : 0.0f);
    }
};

struct DropoutBackwardOp {
    float scale;
    const uint8_t *mask;
    const float *dy;
    float *dx;
    int accumulate;
    __device__ void at(size_t i) const
    {
        const float g = dy[i] * (mask[i] ? scale : 0.0f);
        dx[i] = accumulate ? dx[i] + g : g;
    }
};

struct ChannelAffineOp {
    int c, hw;
    const float *scale, *shift, *x;
    float *y;
    __device__ void at(size_t i) const
    {
        const int ch = (int)((i / (size_t)hw) % (size_t)c);
        y[i] = x[i] * scale[ch] + shift[ch];
    }
};

struct ChannelAffineBackwardOp {
    int c, hw;
    const float *scale, *dy;
    float *dx;
    int accumulate;
    __device__ void at(size_t i) const
    {
        const int ch = (int)((i / (size_t)hw) % (size_t)c);
        dx[i] = (accumulate ? dx[i] : 0.0f) + dy[i] * scale[ch];
    }
};

void nl_cuda_dropout_forward(nl_backend *be, size_t count, uint32_t keep_threshold, float scale,
                             const float *key, const float *x, float *y, uint8_t *mask)
{
    launch_elements(be, DropoutForwardOp{keep_threshold, scale, key, x, y, mask}, count,
                    "launch of dropout forward");
}

void nl_cuda_dropout_backward(nl_backend *be, size_t count, float scale, const uint8_t *mask,
                              const float *dy, float *dx, bool accumulate_dx)
{
    launch_elements(be, DropoutBackwardOp{scale, mask, dy, dx, accumulate_dx ? 1 : 0}, count,
                    "launch of dropout backward");
}

void nl_cuda_channel_affine_forward(nl_backend *be, int n, int c, int hw, const float *scale,
                                    const float *shift, const float *x, float *y)
{
    launch_elements(be, ChannelAffineOp{c, hw, scale, shift, x, y}, (size_t)n * c * hw,
                    "launch of channel affine forward");
}

void nl_cuda_channel_affine_backward(nl_backend *be, int n, int c, int hw, const float *scale,
                                     const float *dy, float *dx, bool accumulate_dx)
{
    launch_elements(be, ChannelAffineBackwardOp{c, hw, scale, dy, dx, accumulate_dx ? 1 : 0},
                    (size_t)n * c * hw, "launch of channel affine backward");
}
