/* Lion (lucidrains/lion-pytorch) on AdamW's arguments: its step's scalars
 * (lion-pytorch computes 1 - lr * wd and 1 - beta in Python floats, which
 * the tensor ops round to float; no bias correction), the op on its one
 * moment. */
#include <string.h>

#include "optim/optim.h"

static void lion_scalars(const nl_optim_spec *spec, float weight_decay, float lr, long step,
                         void *args)
{
    (void)step;
    const double beta1 = spec->betas[0], beta2 = spec->betas[1];
    const nl_adamw_args a = {
        .decay = (float)(1.0 - (double)lr * (double)weight_decay),
        .beta1 = (float)beta1,
        .one_minus_beta1 = (float)(1.0 - beta1),
        .beta2 = (float)beta2,
        .one_minus_beta2 = (float)(1.0 - beta2),
        .neg_step_size = -lr,
        .bias_correction2_sqrt = 1.0f, /* unread */
        .eps = 0.0f,                   /* unread */
    };
    memcpy(args, &a, sizeof a);
}

static void lion_op(nl_backend *be, size_t count, float *param, const float *grad, float *state,
                    size_t stride, const void *args)
{
    (void)stride; /* one slot, exp_avg */
    be->ops->lion_step(be, count, param, grad, state, args);
}

const nl_optim_info nl_optim_lion = {
    .title = "Lion", .keys = NL_OPTIM_KEY_BETAS,
    .state_slots = 1, .state_names = {"exp_avg"},
    .default_lr = 1e-4f, .default_weight_decay = 0.0f,
    .default_betas = {0.9f, 0.99f},
    .scalars = lion_scalars, .op = lion_op,
};
