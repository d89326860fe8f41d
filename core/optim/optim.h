/* SGD with momentum (PyTorch's convention) and learning-rate schedules. */
#ifndef NL_OPTIM_H
#define NL_OPTIM_H

#include <stdbool.h>

#include "model/model.h"

#define NL_MAX_MILESTONES 16

typedef struct {
    float lr;            /* base learning rate */
    float momentum;
    float dampening;
    float weight_decay;
    bool nesterov;
    bool decay_norm_and_bias; /* false: normalization parameters and biases get no decay */
} nl_sgd_spec;

typedef struct {
    nl_schedule_kind kind;
    int warmup_steps;     /* linear warmup from lr/warmup_steps to lr, then the schedule */
    int milestones[NL_MAX_MILESTONES]; /* step: steps at which lr is multiplied by gamma */
    int n_milestones;
    float gamma;
    float min_lr;         /* cosine: the value reached at the last step */
} nl_schedule_spec;

void nl_sgd_spec_defaults(nl_sgd_spec *sgd);
void nl_schedule_spec_defaults(nl_schedule_spec *schedule);

/* learning rate for 0-based step `step` of `total_steps` */
float nl_schedule_lr(const nl_schedule_spec *schedule, float base_lr, long step, long total_steps);

/* one SGD step over all parameters; `step` is 0 on the first call */
void nl_sgd_step(nl_model *m, const nl_sgd_spec *sgd, float lr, long step);

#endif
