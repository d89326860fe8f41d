/* AdamW (torch.optim.AdamW, amsgrad off): the step's scalars as PyTorch
 * computes them, the op on both moments. */
#include <math.h>
#include <string.h>

#include "optim/optim.h"

NL_OPTIM_ARGS_FIT(nl_adamw_args);

nl_adamw_args nl_adamw_moment_args(const nl_optim_spec *spec, float weight_decay, float lr)
{
    const double beta1 = spec->betas[0], beta2 = spec->betas[1];
    return (nl_adamw_args){
        .decay = (float)(1.0 - (double)lr * (double)weight_decay),
        .beta1 = (float)beta1,
        .one_minus_beta1 = (float)(1.0 - beta1),
        .beta2 = (float)beta2,
        .one_minus_beta2 = (float)(1.0 - beta2),
    };
}

static void adamw_scalars(const nl_optim_spec *spec, float weight_decay, float lr, long step,
                          void *args)
{
    /* PyTorch computes these in Python floats (double) from its step count,
     * which is 1 at the first step, and the tensor ops round them to float */
    const double t = (double)(step + 1), beta1 = spec->betas[0], beta2 = spec->betas[1];
    const double bias_correction1 = 1.0 - pow(beta1, t), bias_correction2 = 1.0 - pow(beta2, t);
    nl_adamw_args a = nl_adamw_moment_args(spec, weight_decay, lr);
    a.neg_step_size = (float)(-((double)lr / bias_correction1));
    a.bias_correction2_sqrt = (float)sqrt(bias_correction2);
    a.eps = spec->eps;
    memcpy(args, &a, sizeof a);
}

static void adamw_op(nl_backend *be, size_t count, float *param, const float *grad,
                     float *state, size_t stride, const void *args)
{
    be->ops->adamw_step(be, count, param, grad, state, state + stride, args);
}

const nl_optim_info nl_optim_adamw = {
    .title = "AdamW", .keys = NL_OPTIM_KEY_BETAS | NL_OPTIM_KEY_EPS,
    .state_slots = 2, .state_names = {"exp_avg", "exp_avg_sq"},
    .default_lr = 0.001f, .default_weight_decay = 0.01f,
    .default_betas = {0.9f, 0.999f},
    .scalars = adamw_scalars, .op = adamw_op,
};
