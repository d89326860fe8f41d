/* RMSprop (torch.optim.RMSprop): weight decay added to the gradient, so an
 * exempt group's arguments differ only in it; PyTorch computes 1 - alpha
 * in Python floats (double), which the tensor ops round to float. Its three
 * slots are PyTorch's state: the mean square always, the momentum buffer
 * only with momentum > 0 and the gradient's mean only when centered (the
 * op leaves them at zero otherwise). */
#include <string.h>

#include "optim/optim.h"

NL_OPTIM_ARGS_FIT(nl_rmsprop_args);

static void rmsprop_scalars(const nl_optim_spec *spec, float weight_decay, float lr, long step,
                            void *args)
{
    (void)step;
    const nl_rmsprop_args a = {
        .neg_lr = -lr,
        .weight_decay = weight_decay,
        .alpha = spec->alpha,
        .one_minus_alpha = (float)(1.0 - (double)spec->alpha),
        .eps = spec->eps,
        .momentum = spec->momentum,
        .centered = spec->centered,
    };
    memcpy(args, &a, sizeof a);
}

static void rmsprop_op(nl_backend *be, size_t count, float *param, const float *grad,
                       float *state, size_t stride, const void *args)
{
    be->ops->rmsprop_step(be, count, param, grad, state, state + stride, state + 2 * stride,
                          args);
}

const nl_optim_info nl_optim_rmsprop = {
    .title = "RMSprop", .keys = NL_OPTIM_KEY_MOMENTUM | NL_OPTIM_KEY_ALPHA | NL_OPTIM_KEY_EPS,
    .state_slots = 3, .state_names = {"square_avg", "momentum_buffer", "grad_avg"},
    .default_lr = 0.01f, .default_weight_decay = 0.0f, .default_momentum = 0.0f,
    .scalars = rmsprop_scalars, .op = rmsprop_op,
};
