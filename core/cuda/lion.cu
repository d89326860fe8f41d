/* Lion, as core/cpu/lion.c: elementwise on the grid-stride walk of
 * norm_common.cuh, the CPU's expressions in the same order and no FMA
 * contraction (the build turns it off), so the two backends agree bit for bit. */
#include "cuda/norm_common.cuh"

using namespace nlk;

struct LionOp {
    float *param;
    const float *grad;
    float *exp_avg;
    const nl_adamw_args *args; /* device: per-step scalars */
    template <int V> __device__ void run(size_t i) const
    {
        const nl_adamw_args a = *args;
        const long long at = (long long)i;
        Vec<V> p = ld_rw<V>(param, at), m = ld_rw<V>(exp_avg, at);
        const Vec<V> g = ld<V>(grad, at);
#pragma unroll
        for (int e = 0; e < V; e++) {
            const float c = m.v[e] * a.beta1 + a.one_minus_beta1 * g.v[e];
            const float update = c > 0.0f ? 1.0f : c < 0.0f ? -1.0f : 0.0f;
            p.v[e] = p.v[e] * a.decay + a.neg_step_size * update;
            m.v[e] = m.v[e] * a.beta2 + a.one_minus_beta2 * g.v[e];
        }
        st<V>(exp_avg, at, m);
        st<V>(param, at, p);
    }
};

void nl_cuda_lion_step(nl_backend *be, size_t count, float *param, const float *grad,
                       float *exp_avg, const nl_adamw_args *args)
{
    ew_launch(nl_cuda_of(be), LionOp{param, grad, exp_avg, args}, count,
              nl_cuda_aligned16(param, grad, exp_avg), "launch of lion step");
}
