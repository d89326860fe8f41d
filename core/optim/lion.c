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
    nl_adamw_args a = nl_adamw_moment_args(spec, weight_decay, lr);
    a.neg_step_size = -lr;
    a.bias_correction2_sqrt = 1.0f; /* unread */
    a.eps = 0.0f;                   /* unread */
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
