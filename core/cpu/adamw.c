/* AdamW (torch.optim.AdamW, amsgrad off) and the two ops of gradient-norm
 * clipping. The AdamW expressions follow PyTorch's in-place ops in order:
 * mul_(decay), mul_(beta1).add_(g, alpha), mul_(beta2).addcmul_(g, g, value),
 * denom = sqrt(v) / bias_correction2_sqrt + eps, addcdiv_(m, denom, value). */
#include <math.h>

#include "cpu/cpu.h"

void nl_cpu_adamw_step(nl_backend *be, size_t count, float *param, const float *grad,
                       float *exp_avg, float *exp_avg_sq, const nl_adamw_args *args)
{
    (void)be;
    const nl_adamw_args a = *args;
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (size_t i = 0; i < count; i++) {
        const float g = grad[i];
        const float p = param[i] * a.decay;
        const float m = exp_avg[i] * a.beta1 + a.one_minus_beta1 * g;
        const float v = exp_avg_sq[i] * a.beta2 + a.one_minus_beta2 * g * g;
        const float denom = sqrtf(v) / a.bias_correction2_sqrt + a.eps;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] = p + a.neg_step_size * (m / denom);
    });
}

void nl_cpu_sum_squares(nl_backend *be, size_t count, const float *x, double *partials)
{
    (void)be;
    const size_t part = (count + NL_SUM_SQUARES_PARTS - 1) / NL_SUM_SQUARES_PARTS;
    NL_PARALLEL_FOR_IF(count >= NL_PARALLEL_MIN,
    for (int k = 0; k < NL_SUM_SQUARES_PARTS; k++) {
        const size_t lo = (size_t)k * part < count ? (size_t)k * part : count;
        const size_t hi = lo + part < count ? lo + part : count;
        double sum = 0.0;
        for (size_t i = lo; i < hi; i++)
            sum += (double)x[i] * (double)x[i];
        partials[k] = sum;
    });
}

void nl_cpu_clip_by_norm(nl_backend *be, size_t count, float *x, double *slots, float max_norm)
{
    (void)be;
    double sum = 0.0;
    for (int k = 0; k < NL_SUM_SQUARES_PARTS; k++)
        sum += slots[k];
    const double norm = sqrt(sum);
    const float coef = max_norm / ((float)norm + 1e-6f);
    slots[NL_CLIP_NORM_SUM] += norm;
    slots[NL_CLIP_COEF] = coef;
    if (coef >= 1.0f)
        return;
    NL_PARALLEL_FOR_SIMD_IF(count >= NL_PARALLEL_MIN,
    for (size_t i = 0; i < count; i++)
        x[i] = x[i] * coef;);
}
