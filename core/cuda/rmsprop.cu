/* RMSprop, as core/cpu/rmsprop.c: elementwise on the grid-stride walk of
 * norm_common.cuh, the CPU's expressions in the same order and no FMA
 * contraction (the build turns it off), so the two backends agree bit for
 * bit. The momentum buffer and the gradient's running mean are read and
 * written only when the step uses them. */
#include "cuda/norm_common.cuh"

using namespace nlk;

struct RmspropOp {
    float *param;
    const float *grad;
    float *square_avg, *momentum_buffer, *grad_avg;
    const nl_rmsprop_args *args; /* device: per-step scalars */
    template <int V> __device__ void run(size_t i) const
    {
        const nl_rmsprop_args a = *args;
        const long long at = (long long)i;
        const bool momentum = a.momentum > 0.0f;
        Vec<V> p = ld_rw<V>(param, at), v = ld_rw<V>(square_avg, at);
        Vec<V> mean = a.centered ? ld_rw<V>(grad_avg, at) : zero_vec<V>();
        Vec<V> buf = momentum ? ld_rw<V>(momentum_buffer, at) : zero_vec<V>();
        const Vec<V> gv = ld<V>(grad, at);
#pragma unroll
        for (int e = 0; e < V; e++) {
            float g = gv.v[e];
            if (a.weight_decay != 0.0f)
                g = g + a.weight_decay * p.v[e];
            v.v[e] = v.v[e] * a.alpha + a.one_minus_alpha * g * g;
            float avg;
            if (a.centered) {
                mean.v[e] = mean.v[e] * a.alpha + a.one_minus_alpha * g;
                avg = sqrtf(v.v[e] + (-1.0f) * mean.v[e] * mean.v[e]) + a.eps;
            } else {
                avg = sqrtf(v.v[e]) + a.eps;
            }
            if (momentum) {
                buf.v[e] = buf.v[e] * a.momentum + g / avg;
                p.v[e] = p.v[e] + a.neg_lr * buf.v[e];
            } else {
                p.v[e] = p.v[e] + (a.neg_lr * g) / avg;
            }
        }
        st<V>(square_avg, at, v);
        if (a.centered)
            st<V>(grad_avg, at, mean);
        if (momentum)
            st<V>(momentum_buffer, at, buf);
        st<V>(param, at, p);
    }
};

void nl_cuda_rmsprop_step(nl_backend *be, size_t count, float *param, const float *grad,
                          float *square_avg, float *momentum_buffer, float *grad_avg,
                          const nl_rmsprop_args *args)
{
    ew_launch(nl_cuda_of(be), RmspropOp{param, grad, square_avg, momentum_buffer, grad_avg, args},
              count, nl_cuda_aligned16(param, grad, square_avg, momentum_buffer) &&
                  nl_cuda_aligned16(grad_avg),
              "launch of rmsprop step");
}
