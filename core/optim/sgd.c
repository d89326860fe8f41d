#include <string.h>

#include "optim/optim.h"

/* the arena holds decayed parameters first, then norms and biases: one
 * group for all of them when everything decays alike */
static bool sgd_one_group(const nl_optim_spec *sgd)
{
    return sgd->decay_norm_and_bias || sgd->weight_decay == 0.0f;
}

static void sgd_prepare(nl_model *m, const nl_optim_spec *sgd, float lr, long step)
{
    nl_sgd_args args = {
        .lr = lr,
        .momentum = sgd->momentum,
        .dampening = sgd->dampening,
        .weight_decay = sgd->weight_decay,
        .nesterov = sgd->nesterov,
        .first_step = step == 0,
    };
    memcpy(m->scalars_host, &args, sizeof args);
    args.weight_decay = 0.0f;
    memcpy(m->scalars_host + NL_OPTIM_ARGS_FLOATS, &args, sizeof args);
}

static void sgd_launch(nl_model *m, const nl_optim_spec *sgd)
{
    nl_backend *be = m->be;
    const nl_sgd_args *decayed = (const nl_sgd_args *)m->scalars;
    const nl_sgd_args *rest_args = (const nl_sgd_args *)(m->scalars + NL_OPTIM_ARGS_FLOATS);
    float *velocity = m->optim_arena;
    if (sgd_one_group(sgd)) {
        be->ops->sgd_step(be, m->param_floats, m->param_arena, m->grad_arena, velocity, decayed);
        return;
    }
    be->ops->sgd_step(be, m->decay_floats, m->param_arena, m->grad_arena, velocity, decayed);
    const size_t rest = m->param_floats - m->decay_floats;
    be->ops->sgd_step(be, rest, m->param_arena + m->decay_floats, m->grad_arena + m->decay_floats,
                      velocity + m->decay_floats, rest_args);
}

const nl_optim_info nl_optim_sgd = {
    .title = "SGD", .keys = NL_OPTIM_KEY_MOMENTUM,
    .state_slots = 1, .state_names = {"momentum_buffer"},
    .default_lr = 0.05f, .default_weight_decay = 0.0f,
    .prepare = sgd_prepare, .launch = sgd_launch,
};
