/* SGD with PyTorch's momentum convention, exactly as core/cpu/sgd.c.
 *
 * Elementwise, on the grid-stride walk of norm_common.cuh. Each parameter's
 * update reads only its own gradient and velocity and uses the CPU's
 * expressions in the same order, without FMA contraction, so the result
 * matches the CPU backend bit for bit. */
#include "cuda/norm_common.cuh"

using namespace nlk;

struct SgdParams {
    float lr, momentum, wd, keep;
    int nesterov, first;
};

__device__ __forceinline__ SgdParams sgd_params(const nl_sgd_args *args)
{
    return SgdParams{args->lr,          args->momentum,         args->weight_decay,
                     1.0f - args->dampening, args->nesterov ? 1 : 0, args->first_step ? 1 : 0};
}

template <int V>
__device__ __forceinline__ void sgd_item(float *param, const float *grad, float *velocity,
                                         const SgdParams &a, long long i)
{
    Vec<V> p = ld_rw<V>(param, i);
    const Vec<V> g = ld<V>(grad, i);
    Vec<V> vel = (a.momentum != 0.0f && !a.first) ? ld_rw<V>(velocity, i) : zero_vec<V>();
#pragma unroll
    for (int e = 0; e < V; e++) {
        float d = g.v[e];
        if (a.wd != 0.0f)
            d = d + a.wd * p.v[e];
        if (a.momentum != 0.0f) {
            const float v = a.first ? d : a.momentum * vel.v[e] + a.keep * d;
            vel.v[e] = v;
            d = a.nesterov ? d + a.momentum * v : v;
        }
        p.v[e] = p.v[e] + (-a.lr) * d;
    }
    if (a.momentum != 0.0f)
        st<V>(velocity, i, vel);
    st<V>(param, i, p);
}

struct SgdOp {
    float *param;
    const float *grad;
    float *velocity;
    const nl_sgd_args *args; /* device: per-step scalars */
    template <int V> __device__ void run(size_t i) const
    {
        sgd_item<V>(param, grad, velocity, sgd_params(args), (long long)i);
    }
};

void nl_cuda_sgd_step(nl_backend *be, size_t count, float *param, const float *grad,
                      float *velocity, const nl_sgd_args *args)
{
    ew_launch(nl_cuda_of(be), SgdOp{param, grad, velocity, args}, count,
              nl_cuda_aligned16(param, grad, velocity), "launch of sgd step");
}
