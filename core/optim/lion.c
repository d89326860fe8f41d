/* Lion's two halves: the step's scalars (lion-pytorch computes 1 - lr * wd
 * and 1 - beta in Python floats, which the tensor ops round to float), and
 * the op on the decayed parameters, then on norms and biases when they are
 * exempt from decay. */
#include <string.h>

#include "optim/optim.h"

static void lion_prepare(nl_model *m, const nl_optim_spec *spec, float lr, long step)
{
    (void)step; /* Lion has no bias correction */
    const double beta1 = spec->betas[0], beta2 = spec->betas[1];
    nl_adamw_args args = {
        .decay = (float)(1.0 - (double)lr * (double)spec->weight_decay),
        .beta1 = (float)beta1,
        .one_minus_beta1 = (float)(1.0 - beta1),
        .beta2 = (float)beta2,
        .one_minus_beta2 = (float)(1.0 - beta2),
        .neg_step_size = -lr,
        .bias_correction2_sqrt = 1.0f, /* unread */
        .eps = 0.0f,                   /* unread */
    };
    memcpy(m->scalars_host, &args, sizeof args);
    args.decay = 1.0f; /* norms and biases, when they are excluded from decay */
    memcpy(m->scalars_host + NL_OPTIM_ARGS_FLOATS, &args, sizeof args);
}

static void lion_launch(nl_model *m, const nl_optim_spec *spec)
{
    nl_backend *be = m->be;
    const nl_adamw_args *decayed_args = (const nl_adamw_args *)m->scalars;
    const nl_adamw_args *rest_args = (const nl_adamw_args *)(m->scalars + NL_OPTIM_ARGS_FLOATS);
    float *exp_avg = m->optim_arena;
    /* the arena holds decayed parameters first, then norms and biases */
    const size_t decayed = spec->decay_norm_and_bias ? m->param_floats : m->decay_floats;
    be->ops->lion_step(be, decayed, m->param_arena, m->grad_arena, exp_avg, decayed_args);
    if (decayed == m->param_floats)
        return;
    be->ops->lion_step(be, m->param_floats - decayed, m->param_arena + decayed,
                       m->grad_arena + decayed, exp_avg + decayed, rest_args);
}

const nl_optim_info nl_optim_lion = {
    .title = "Lion", .keys = NL_OPTIM_KEY_BETAS,
    .state_slots = 1, .state_names = {"exp_avg"},
    .default_lr = 1e-4f, .default_weight_decay = 0.0f,
    .default_betas = {0.9f, 0.99f},
    .prepare = lion_prepare, .launch = lion_launch,
};
