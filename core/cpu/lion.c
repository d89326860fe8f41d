/* Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms")
 * as the reference implementation, lucidrains/lion-pytorch's update_fn,
 * does it, in its in-place ops' order: p.mul_(1 - lr * wd); update =
 * sign(m * beta1 + (1 - beta1) * g); p.add_(update, alpha=-lr);
 * m.mul_(beta2).add_(g, alpha=1 - beta2). The sign of 0 (and, as
 * torch.sign, of NaN) is 0. */
#include "cpu/cpu.h"

void nl_cpu_lion_step(nl_backend *be, size_t count, float *param, const float *grad,
                      float *exp_avg, const nl_adamw_args *args)
{
    (void)be;
    const nl_adamw_args a = *args;
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (size_t i = 0; i < count; i++) {
        const float g = grad[i], m = exp_avg[i];
        const float c = m * a.beta1 + a.one_minus_beta1 * g;
        const float update = c > 0.0f ? 1.0f : c < 0.0f ? -1.0f : 0.0f;
        param[i] = param[i] * a.decay + a.neg_step_size * update;
        exp_avg[i] = m * a.beta2 + a.one_minus_beta2 * g;
    });
}
