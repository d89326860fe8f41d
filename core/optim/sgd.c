/* SGD with momentum (torch.optim.SGD): weight decay added to the gradient,
 * so an exempt group's arguments differ only in it. */
#include <string.h>

#include "optim/optim.h"

NL_OPTIM_ARGS_FIT(nl_sgd_args);

static void sgd_scalars(const nl_optim_spec *spec, float weight_decay, float lr, long step,
                        void *args)
{
    const nl_sgd_args a = {
        .lr = lr,
        .momentum = spec->momentum,
        .dampening = spec->dampening,
        .weight_decay = weight_decay,
        .nesterov = spec->nesterov,
        .first_step = step == 0,
    };
    memcpy(args, &a, sizeof a);
}

static void sgd_op(nl_backend *be, size_t count, float *param, const float *grad, float *state,
                   size_t stride, const void *args)
{
    (void)stride; /* one slot, the velocity */
    be->ops->sgd_step(be, count, param, grad, state, args);
}

const nl_optim_info nl_optim_sgd = {
    .title = "SGD", .keys = NL_OPTIM_KEY_MOMENTUM | NL_OPTIM_KEY_DAMPENING,
    .state_slots = 1, .state_names = {"momentum_buffer"},
    .default_lr = 0.05f, .default_weight_decay = 0.0f, .default_momentum = 0.9f,
    .scalars = sgd_scalars, .op = sgd_op,
};
