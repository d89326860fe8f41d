/* Fill, activations (GELU too), residual add and gradient passing.
 *
 * Every op runs on the grid-stride walk of norm_common.cuh (ew_kernel).
 * Each output element depends on its own inputs only, with the expressions
 * of core/cpu/elementwise.c (compiled without FMA contraction), so results
 * do not depend on the decomposition; relu, add and gradient passing match
 * the CPU bit for bit, sigmoid and tanh to the last ulps of expf/tanhf. */
#include "cuda/norm_common.cuh"

using namespace nlk;

struct FillOp {
    float *dst;
    float value;
    template <int V> __device__ void run(size_t i) const
    {
        Vec<V> o;
#pragma unroll
        for (int e = 0; e < V; e++)
            o.v[e] = value;
        st<V>(dst, (long long)i, o);
    }
};

struct AddOp {
    const float *a, *b;
    float *y;
    template <int V> __device__ void run(size_t i) const
    {
        const Vec<V> p = ld<V>(a, (long long)i), q = ld<V>(b, (long long)i);
        Vec<V> o;
#pragma unroll
        for (int e = 0; e < V; e++)
            o.v[e] = p.v[e] + q.v[e];
        st<V>(y, (long long)i, o);
    }
};

struct PassOp {
    const float *src;
    float *dst;
    int accumulate;
    template <int V> __device__ void run(size_t i) const
    {
        const Vec<V> s = ld<V>(src, (long long)i);
        Vec<V> o = s;
        if (accumulate) {
            const Vec<V> d = ld_rw<V>(dst, (long long)i);
#pragma unroll
            for (int e = 0; e < V; e++)
                o.v[e] = d.v[e] + s.v[e];
        }
        st<V>(dst, (long long)i, o);
    }
};

/* GELU with the constants of backend.h (NL_GELU_*) that core/cpu/gelu.c
 * uses too; the derivative from the input x */
/* GELU's tanh form as core/cpu/gelu.c evaluates it, through
 * 0.5 (1 + tanh(u)) = 1 / (1 + e^(-2u)): 1 + tanhf would cancel for negative
 * inputs to tanhf's absolute error, where GELU is small. Past +-20 GELU is x
 * or 0 and its slope 1 or 0 in float; the clamps keep e^(-2u) and v^3
 * finite. */
__device__ static float gelu_tanh_2u(float v)
{
    const float two_k = 2.0f * NL_GELU_SQRT_2_OVER_PI;
    return v * (two_k + two_k * NL_GELU_CUBIC * v * v);
}

__device__ static float gelu_tanh_forward(float v)
{
    v = v < -20.0f ? -20.0f : v; /* a NaN passes (fmaxf would drop it) */
    return v / (1.0f + expf(-gelu_tanh_2u(v)));
}

/* s + 2K v (1 + 3c v^2) e s^2, s = 1 / (1 + e), e = e^(-2u) */
__device__ static float gelu_tanh_grad(float v)
{
    v = v < -20.0f ? -20.0f : v > 20.0f ? 20.0f : v;
    /* e stays finite (as the CPU's vector exp, clamped at 88) so that e s
     * is e s and not inf * 0 */
    const float e = expf(fminf(-gelu_tanh_2u(v), 88.0f)), s = 1.0f / (1.0f + e);
    const float two_k = 2.0f * NL_GELU_SQRT_2_OVER_PI;
    const float slope = v * (two_k + 3.0f * NL_GELU_CUBIC * two_k * v * v);
    return slope * (e * s) * s + s;
}

/* ReLU, sigmoid and tanh: their value, and their gradient from the output y */
template <int KIND> struct Act {
    __device__ static float value(float v)
    {
        if (KIND == NL_ACT_RELU)
            return v <= 0.0f ? 0.0f : v; /* NaN kept, as torch.relu */
        if (KIND == NL_ACT_SIGMOID)
            return 1.0f / (1.0f + expf(-v));
        return tanhf(v);
    }
    /* dx's new value from dx's old one (read only when accumulating) */
    __device__ static float grad(float yy, float g, float old, int accumulate)
    {
        if (KIND == NL_ACT_RELU) {
            const float t = yy <= 0.0f ? 0.0f : g;
            return accumulate ? old + t : t;
        }
        if (KIND == NL_ACT_SIGMOID)
            return (accumulate ? old : 0.0f) + g * yy * (1.0f - yy);
        return (accumulate ? old : 0.0f) + g * (1.0f - yy * yy);
    }
};

/* GELU: its value, and its gradient from the input v */
template <int KIND> struct Gelu {
    __device__ static float value(float v)
    {
        if (KIND == NL_GELU_TANH)
            return gelu_tanh_forward(v);
        return 0.5f * v * erfcf(-v * NL_GELU_INV_SQRT_2); /* no 1 + erf cancellation */
    }
    __device__ static float grad(float v, float g, float old, int accumulate)
    {
        float slope;
        if (KIND == NL_GELU_TANH) {
            slope = gelu_tanh_grad(v);
        } else {
            slope = 0.5f * erfcf(-v * NL_GELU_INV_SQRT_2) +
                    v * expf(-0.5f * v * v) * NL_GELU_INV_SQRT_2PI;
        }
        return accumulate ? old + g * slope : g * slope;
    }
};

/* y = F::value(x), elementwise */
template <class F> struct MapForwardOp {
    const float *x;
    float *y;
    template <int V> __device__ void run(size_t i) const
    {
        const Vec<V> a = ld<V>(x, (long long)i);
        Vec<V> o;
#pragma unroll
        for (int e = 0; e < V; e++)
            o.v[e] = F::value(a.v[e]);
        st<V>(y, (long long)i, o);
    }
};

/* dx (+)= the gradient F::grad takes from `from` (the map's output or
 * input, as F reads it) and dy */
template <class F> struct MapBackwardOp {
    const float *from, *dy;
    float *dx;
    int accumulate;
    template <int V> __device__ void run(size_t i) const
    {
        const Vec<V> a = ld<V>(from, (long long)i), g = ld<V>(dy, (long long)i);
        const Vec<V> old = accumulate ? ld_rw<V>(dx, (long long)i) : zero_vec<V>();
        Vec<V> o;
#pragma unroll
        for (int e = 0; e < V; e++)
            o.v[e] = F::grad(a.v[e], g.v[e], old.v[e], accumulate);
        st<V>(dx, (long long)i, o);
    }
};

void nl_cuda_fill(nl_backend *be, float *dst, float value, size_t count)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (count == 0)
        return;
    if (value == 0.0f && !signbit(value)) { /* +0.0f is all zero bits */
        NL_CU(cu, cudaMemsetAsync(dst, 0, count * sizeof *dst, cu->stream));
        return;
    }
    ew_launch(cu, FillOp{dst, value}, count, nl_cuda_aligned16(dst), "launch of fill");
}

void nl_cuda_activation_forward(nl_backend *be, nl_activation kind, size_t count, const float *x,
                                float *y)
{
    nl_cuda *cu = nl_cuda_of(be);
    const bool vec = nl_cuda_aligned16(x, y);
    switch (kind) {
    case NL_ACT_RELU:
        ew_launch(cu, MapForwardOp<Act<NL_ACT_RELU>>{x, y}, count, vec, "launch of relu forward");
        break;
    case NL_ACT_SIGMOID:
        ew_launch(cu, MapForwardOp<Act<NL_ACT_SIGMOID>>{x, y}, count, vec,
                  "launch of sigmoid forward");
        break;
    case NL_ACT_TANH:
        ew_launch(cu, MapForwardOp<Act<NL_ACT_TANH>>{x, y}, count, vec, "launch of tanh forward");
        break;
    default:
        break;
    }
}

void nl_cuda_activation_backward(nl_backend *be, nl_activation kind, size_t count, const float *y,
                                 const float *dy, float *dx, bool accumulate_dx)
{
    nl_cuda *cu = nl_cuda_of(be);
    const bool vec = nl_cuda_aligned16(y, dy, dx);
    const int acc = accumulate_dx ? 1 : 0;
    switch (kind) {
    case NL_ACT_RELU:
        ew_launch(cu, MapBackwardOp<Act<NL_ACT_RELU>>{y, dy, dx, acc}, count, vec,
                  "launch of relu backward");
        break;
    case NL_ACT_SIGMOID:
        ew_launch(cu, MapBackwardOp<Act<NL_ACT_SIGMOID>>{y, dy, dx, acc}, count, vec,
                  "launch of sigmoid backward");
        break;
    case NL_ACT_TANH:
        ew_launch(cu, MapBackwardOp<Act<NL_ACT_TANH>>{y, dy, dx, acc}, count, vec,
                  "launch of tanh backward");
        break;
    default:
        break;
    }
}

void nl_cuda_add_forward(nl_backend *be, size_t count, const float *a, const float *b, float *y)
{
    nl_cuda *cu = nl_cuda_of(be);
    ew_launch(cu, AddOp{a, b, y}, count, nl_cuda_aligned16(a, b, y), "launch of add");
}

void nl_cuda_pass_gradient(nl_backend *be, size_t count, const float *src, float *dst,
                           bool accumulate)
{
    nl_cuda *cu = nl_cuda_of(be);
    ew_launch(cu, PassOp{src, dst, accumulate ? 1 : 0}, count, nl_cuda_aligned16(src, dst),
              "launch of pass_gradient");
}

void nl_cuda_gelu_forward(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                          float *y)
{
    nl_cuda *cu = nl_cuda_of(be);
    const bool vec = nl_cuda_aligned16(x, y);
    if (kind == NL_GELU_TANH)
        ew_launch(cu, MapForwardOp<Gelu<NL_GELU_TANH>>{x, y}, count, vec, "launch of gelu forward");
    else
        ew_launch(cu, MapForwardOp<Gelu<NL_GELU_ERF>>{x, y}, count, vec, "launch of gelu forward");
}

void nl_cuda_gelu_backward(nl_backend *be, nl_gelu_kind kind, size_t count, const float *x,
                           const float *dy, float *dx, bool accumulate_dx)
{
    nl_cuda *cu = nl_cuda_of(be);
    const bool vec = nl_cuda_aligned16(x, dy, dx);
    const int acc = accumulate_dx ? 1 : 0;
    if (kind == NL_GELU_TANH)
        ew_launch(cu, MapBackwardOp<Gelu<NL_GELU_TANH>>{x, dy, dx, acc}, count, vec,
                  "launch of gelu backward");
    else
        ew_launch(cu, MapBackwardOp<Gelu<NL_GELU_ERF>>{x, dy, dx, acc}, count, vec,
                  "launch of gelu backward");
}
