#include "optim/optim.h"

void nl_sgd_spec_defaults(nl_sgd_spec *sgd)
{
    sgd->lr = 0.05f;
    sgd->momentum = 0.9f;
    sgd->dampening = 0.0f;
    sgd->weight_decay = 0.0f;
    sgd->nesterov = false;
    sgd->decay_norm_and_bias = true; /* torch.optim.SGD(model.parameters()) decays everything */
}

void nl_sgd_step(nl_model *m, const nl_sgd_spec *sgd, float lr, long step)
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
    /* the arena holds decayed parameters first, then norms and biases */
    if (sgd->decay_norm_and_bias || sgd->weight_decay == 0.0f) {
        be->ops->sgd_step(be, m->param_floats, m->param_arena, m->grad_arena, m->velocity_arena,
                          &args);
        return;
    }
    be->ops->sgd_step(be, m->decay_floats, m->param_arena, m->grad_arena, m->velocity_arena,
                      &args);
    args.weight_decay = 0.0f;
    const size_t rest = m->param_floats - m->decay_floats;
    be->ops->sgd_step(be, rest, m->param_arena + m->decay_floats, m->grad_arena + m->decay_floats,
                      m->velocity_arena + m->decay_floats, &args);
}
