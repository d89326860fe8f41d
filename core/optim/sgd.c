#include "optim/optim.h"

void nl_sgd_step(nl_model *m, const nl_optim_spec *sgd, float lr, long step)
{
    nl_backend *be = m->be;
    nl_sgd_args args = {
        .lr = lr,
        .momentum = sgd->momentum,
        .dampening = sgd->dampening,
        .weight_decay = sgd->weight_decay,
        .nesterov = sgd->nesterov,
        .first_step = step == 0,
    };
    float *velocity = m->optim_arena;
    /* the arena holds decayed parameters first, then norms and biases */
    if (sgd->decay_norm_and_bias || sgd->weight_decay == 0.0f) {
        be->ops->sgd_step(be, m->param_floats, m->param_arena, m->grad_arena, velocity, &args);
        return;
    }
    be->ops->sgd_step(be, m->decay_floats, m->param_arena, m->grad_arena, velocity, &args);
    args.weight_decay = 0.0f;
    const size_t rest = m->param_floats - m->decay_floats;
    be->ops->sgd_step(be, rest, m->param_arena + m->decay_floats, m->grad_arena + m->decay_floats,
                      velocity + m->decay_floats, &args);
}
