/* SGD with PyTorch's conventions: weight decay is added to the gradient,
 * the velocity starts as the first gradient, dampening scales later ones,
 * Nesterov looks ahead by momentum * velocity. */
#include "cpu/cpu.h"

void nl_cpu_sgd_step(nl_backend *be, size_t count, float *param, const float *grad,
                     float *velocity, const nl_sgd_args *args)
{
    (void)be;
    const float lr = args->lr, momentum = args->momentum, wd = args->weight_decay;
    const float keep = 1.0f - args->dampening;
    const bool nesterov = args->nesterov, first = args->first_step;
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (size_t i = 0; i < count; i++) {
        float d = grad[i];
        if (wd != 0.0f)
            d = d + wd * param[i];
        if (momentum != 0.0f) {
            float v = first ? d : momentum * velocity[i] + keep * d;
            velocity[i] = v;
            d = nesterov ? d + momentum * v : v;
        }
        param[i] = param[i] + (-lr) * d;
    });
}
