#include <math.h>
#include <string.h>

#include "optim/optim.h"

static void adamw_prepare(nl_model *m, const nl_optim_spec *spec, float lr, long step)
{
    /* PyTorch computes these in Python floats (double) from its step count,
     * which is 1 at the first step, and the tensor ops round them to float */
    const double t = (double)(step + 1), beta1 = spec->betas[0], beta2 = spec->betas[1];
    const double bias_correction1 = 1.0 - pow(beta1, t), bias_correction2 = 1.0 - pow(beta2, t);
    nl_adamw_args args = {
        .decay = (float)(1.0 - (double)lr * (double)spec->weight_decay),
        .beta1 = (float)beta1,
        .one_minus_beta1 = (float)(1.0 - beta1),
        .beta2 = (float)beta2,
        .one_minus_beta2 = (float)(1.0 - beta2),
        .neg_step_size = (float)(-((double)lr / bias_correction1)),
        .bias_correction2_sqrt = (float)sqrt(bias_correction2),
        .eps = spec->eps,
    };
    memcpy(m->scalars_host, &args, sizeof args);
    args.decay = 1.0f; /* norms and biases, when they are excluded from decay */
    memcpy(m->scalars_host + NL_OPTIM_ARGS_FLOATS, &args, sizeof args);
}

static void adamw_launch(nl_model *m, const nl_optim_spec *spec)
{
    nl_backend *be = m->be;
    const nl_adamw_args *decayed_args = (const nl_adamw_args *)m->scalars;
    const nl_adamw_args *rest_args = (const nl_adamw_args *)(m->scalars + NL_OPTIM_ARGS_FLOATS);
    float *exp_avg = m->optim_arena, *exp_avg_sq = m->optim_arena + m->param_floats;
    /* the arena holds decayed parameters first, then norms and biases */
    const size_t decayed = spec->decay_norm_and_bias ? m->param_floats : m->decay_floats;
    be->ops->adamw_step(be, decayed, m->param_arena, m->grad_arena, exp_avg, exp_avg_sq,
                        decayed_args);
    if (decayed == m->param_floats)
        return;
    be->ops->adamw_step(be, m->param_floats - decayed, m->param_arena + decayed,
                        m->grad_arena + decayed, exp_avg + decayed, exp_avg_sq + decayed,
                        rest_args);
}

const nl_optim_info nl_optim_adamw = {
    .title = "AdamW", .keys = NL_OPTIM_KEY_BETAS | NL_OPTIM_KEY_EPS,
    .state_slots = 2, .state_names = {"exp_avg", "exp_avg_sq"},
    .default_lr = 0.001f, .default_weight_decay = 0.01f,
    .default_betas = {0.9f, 0.999f},
    .prepare = adamw_prepare, .launch = adamw_launch,
};
