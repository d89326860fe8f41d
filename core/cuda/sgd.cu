/* SGD with PyTorch's momentum convention, exactly as core/cpu/sgd.c.
 *
 * Elementwise: thread t updates parameters t, t + stride, ... (float4 when
 * aligned). Each parameter's update reads only its own gradient and velocity
 * and uses the CPU's expressions in the same order, without FMA
 * contraction, so the result matches the CPU backend bit for bit. */
#include "cuda/norm_common.cuh"

using namespace nlk;

struct SgdParams {
    float lr, momentum, wd, keep;
    int nesterov, first;
};

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

__global__ void __launch_bounds__(256)
    sgd_kernel(float *param, const float *grad, float *velocity, SgdParams a, size_t n, int vec)
{
    const size_t tid = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t done = 0;
    if (vec) {
        const size_t n4 = n / 4;
        for (size_t i = tid; i < n4; i += stride)
            sgd_item<4>(param, grad, velocity, a, (long long)i);
        done = n4 * 4;
    }
    for (size_t i = done + tid; i < n; i += stride)
        sgd_item<1>(param, grad, velocity, a, (long long)i);
}

void nl_cuda_sgd_step(nl_backend *be, size_t count, float *param, const float *grad,
                      float *velocity, const nl_sgd_args *args)
{
    nl_cuda *cu = nl_cuda_of(be);
    if (count == 0)
        return;
    SgdParams a = {args->lr,          args->momentum,       args->weight_decay,
                   1.0f - args->dampening, args->nesterov ? 1 : 0, args->first_step ? 1 : 0};
    const bool vec = nl_cuda_aligned16(param, grad, velocity);
    const unsigned blocks = nl_cuda_grid(cu, vec ? (count + 3) / 4 : count, 256);
    sgd_kernel<<<blocks, 256, 0, cu->stream>>>(param, grad, velocity, a, count, vec ? 1 : 0);
    NL_CU_LAUNCHED(cu, "sgd_kernel");
}
