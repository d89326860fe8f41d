#include <math.h>

#include "optim/optim.h"

void nl_schedule_spec_defaults(nl_schedule_spec *schedule)
{
    schedule->kind = NL_SCHED_CONSTANT;
    schedule->warmup_steps = 0;
    schedule->n_milestones = 0;
    schedule->gamma = 0.1f;
    schedule->min_lr = 0.0f;
}

float nl_schedule_lr(const nl_schedule_spec *schedule, float base_lr, long step, long total_steps)
{
    if (step < schedule->warmup_steps)
        return base_lr * (float)(step + 1) / (float)schedule->warmup_steps;
    switch (schedule->kind) {
    case NL_SCHED_STEP: {
        float lr = base_lr;
        for (int i = 0; i < schedule->n_milestones; i++)
            if (step >= schedule->milestones[i])
                lr *= schedule->gamma;
        return lr;
    }
    case NL_SCHED_COSINE: {
        const long span = total_steps - schedule->warmup_steps;
        if (span <= 1)
            return base_lr;
        const double t = (double)(step - schedule->warmup_steps) / (double)(span - 1);
        const double pi = 3.14159265358979323846;
        return (float)(schedule->min_lr +
                       (base_lr - schedule->min_lr) * 0.5 * (1.0 + cos(pi * t)));
    }
    case NL_SCHED_CONSTANT:
    default:
        return base_lr;
    }
}
