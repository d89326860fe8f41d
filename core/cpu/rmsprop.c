/* RMSprop (torch.optim.RMSprop) as PyTorch's single-tensor step does it,
 * in its in-place ops' order: grad.add(param, alpha=wd);
 * square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha); centered:
 * grad_avg.mul_(alpha).add_(g, alpha=1 - alpha) and
 * square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_(), else
 * square_avg.sqrt(); .add_(eps); then buf.mul_(momentum).addcdiv_(g, avg)
 * and param.add_(buf, alpha=-lr), or param.addcdiv_(g, avg, value=-lr)
 * without momentum. */
#include <math.h>

#include "cpu/cpu.h"

void nl_cpu_rmsprop_step(nl_backend *be, size_t count, float *param, const float *grad,
                         float *square_avg, float *momentum_buffer, float *grad_avg,
                         const nl_rmsprop_args *args)
{
    (void)be;
    const nl_rmsprop_args a = *args;
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (size_t i = 0; i < count; i++) {
        const float p = param[i];
        float g = grad[i];
        if (a.weight_decay != 0.0f)
            g = g + a.weight_decay * p;
        const float v = square_avg[i] * a.alpha + a.one_minus_alpha * g * g;
        square_avg[i] = v;
        float avg;
        if (a.centered) {
            const float mean = grad_avg[i] * a.alpha + a.one_minus_alpha * g;
            grad_avg[i] = mean;
            avg = sqrtf(v + (-1.0f) * mean * mean) + a.eps;
        } else {
            avg = sqrtf(v) + a.eps;
        }
        if (a.momentum > 0.0f) {
            const float b = momentum_buffer[i] * a.momentum + g / avg;
            momentum_buffer[i] = b;
            param[i] = p + a.neg_lr * b;
        } else {
            param[i] = p + (a.neg_lr * g) / avg;
        }
    });
}
