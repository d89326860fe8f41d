/* Optimizers (the kinds listed in optim/kinds.def, each a row in its own
 * file, core/optim/<name>.c), gradient-norm clipping and learning-rate
 * schedules.
 * The optimizer state lives in the model's optimizer arena, planned at build
 * time from the row's state_slots, so a step allocates nothing. */
#ifndef NL_OPTIM_H
#define NL_OPTIM_H

#include <stdbool.h>
#include <stdio.h>

#include "model/model.h"

#define NL_MAX_MILESTONES 16

typedef enum {
#define NL_OPTIM_KIND(ID, name, help) NL_OPTIM_##ID,
#include "optim/kinds.def"
    NL_OPTIM_COUNT
} nl_optim_kind;

/* config keys under train.optimizer that a kind reads besides those every
 * kind reads (lr, weight_decay, decay_norm_and_bias) */
enum {
    NL_OPTIM_KEY_MOMENTUM = 1u << 0,  /* momentum */
    NL_OPTIM_KEY_BETAS = 1u << 1,     /* betas: moment decay rates */
    NL_OPTIM_KEY_EPS = 1u << 2,       /* eps: added to a second moment's root */
    NL_OPTIM_KEY_DAMPENING = 1u << 3, /* dampening, nesterov: SGD's momentum variants */
    NL_OPTIM_KEY_ALPHA = 1u << 4,     /* alpha, centered: RMSprop's running mean square */
};

/* the most state slots a kind keeps per parameter */
#define NL_OPTIM_MAX_STATE_SLOTS 3

typedef struct {
    nl_optim_kind kind;
    float lr;            /* base learning rate */
    float momentum;      /* kinds with NL_OPTIM_KEY_MOMENTUM */
    float dampening;     /* sgd */
    bool nesterov;       /* sgd */
    float alpha;         /* rmsprop: decay rate of the mean square */
    bool centered;       /* rmsprop: divide by the root of the variance, not the mean square */
    float betas[2];      /* moment decay rates (kinds with NL_OPTIM_KEY_BETAS) */
    int n_betas;         /* always 2 (the config parser's list count) */
    float eps;           /* kinds with NL_OPTIM_KEY_EPS: added to a second moment's root */
    float weight_decay;  /* sgd, rmsprop: L2 added to the gradient; adamw, lion: decoupled */
    bool decay_norm_and_bias; /* false: normalization parameters and biases get no decay */
} nl_optim_spec;

typedef struct nl_optim_info {
    const char *title; /* as papers and plots write it ("AdamW") */
    unsigned keys;     /* NL_OPTIM_KEY_* bits */
    /* floats of state per parameter (sgd: velocity; adamw: both moments) */
    int state_slots;
    /* the reference implementation's names of the state slots, in slot
     * order (PyTorch's optimizer.state keys): the goldens' names. A slot
     * the reference keeps only with some settings (RMSprop's momentum
     * buffer) stays zero without them. */
    const char *state_names[NL_OPTIM_MAX_STATE_SLOTS];
    /* defaults when the config does not give them (PyTorch's for adamw) */
    float default_lr, default_weight_decay;
    float default_betas[2];  /* kinds with NL_OPTIM_KEY_BETAS */
    float default_momentum;  /* kinds with NL_OPTIM_KEY_MOMENTUM */
    /* The step, which the shared launcher (registry.c) runs over the two
     * parameter groups of the arena (the decayed parameters, then norms and
     * biases; one group when they decay alike). scalars writes one group's
     * per-step arguments, the kind's args struct (backend.h; it must fit
     * NL_OPTIM_ARGS_FLOATS floats: NL_OPTIM_ARGS_FIT), into `args`, a host
     * image the model uploads: from the spec with the group's weight decay
     * (the spec's, or 0 for an exempt group), the step's lr, `step` 0 on
     * the first call. op queues the kind's backend op on `count` parameters
     * from `param` with their gradients, `state` their first state slot and
     * each further slot `stride` floats after the one before, `args` the
     * group's arguments in device memory. */
    void (*scalars)(const nl_optim_spec *spec, float weight_decay, float lr, long step,
                    void *args);
    void (*op)(nl_backend *be, size_t count, float *param, const float *grad, float *state,
               size_t stride, const void *args);
} nl_optim_info;

/* a kind's args struct fits its group's part of the per-step scalar block */
#define NL_OPTIM_ARGS_FIT(type)                                                                    \
    _Static_assert(sizeof(type) <= NL_OPTIM_ARGS_FLOATS * sizeof(float),                           \
                   #type " fits a parameter group's part of the per-step scalars")

/* the rows, nl_optim_<name>, each defined in its kind's file */
#define NL_OPTIM_KIND(ID, name, help) extern const nl_optim_info nl_optim_##name;
#include "optim/kinds.def"

/* the kinds' names and help (optim/kinds.def), in nl_optim_kind's order */
extern const nl_name_table nl_optim_names;
const nl_optim_info *nl_optim_info_of(nl_optim_kind k);
/* bit k set for every kind whose row has all of `keys` */
unsigned nl_optim_kinds_with_keys(unsigned keys);
/* the optimizer table of configs/README.md (markdown), from the rows */
void nl_optim_write_table(FILE *out);

typedef struct {
    nl_schedule_kind kind;
    int warmup_steps;     /* linear warmup from lr/warmup_steps to lr, then the schedule */
    int milestones[NL_MAX_MILESTONES]; /* step: steps at which lr is multiplied by gamma */
    int n_milestones;
    float gamma;
    float min_lr;         /* cosine: the value reached at the last step */
} nl_schedule_spec;

/* the defaults of `kind` (lr, weight decay, its own keys) */
void nl_optim_spec_defaults(nl_optim_spec *spec, nl_optim_kind kind);
void nl_schedule_spec_defaults(nl_schedule_spec *schedule);

/* learning rate for 0-based step `step` of `total_steps` */
float nl_schedule_lr(const nl_schedule_spec *schedule, float base_lr, long step, long total_steps);

/* One optimizer step of spec->kind over all parameters, from the gradients
 * backward left in the gradient arena; `step` is 0 on the first call. It is
 * nl_optim_prepare, nl_model_upload_scalars and nl_optim_launch, which a
 * step replayed from a recording calls apart. */
void nl_optim_step(nl_model *m, const nl_optim_spec *spec, float lr, long step);
void nl_optim_prepare(nl_model *m, const nl_optim_spec *spec, float lr, long step);
void nl_optim_launch(nl_model *m, const nl_optim_spec *spec);

/* torch.nn.utils.clip_grad_norm_: the L2 norm of all parameter gradients
 * together (summed in double, in a fixed order); when max_norm / (norm +
 * 1e-6) is below 1 the gradients are scaled by it. The norm before clipping
 * stays on the device, added to a sum the training loop reads and sets
 * with the two functions below at its log rows and checkpoints, so a step
 * never waits for the device to hand it back. */
void nl_clip_grad_norm(nl_model *m, float max_norm);
double nl_clip_norm_sum(nl_model *m);
void nl_clip_set_norm_sum(nl_model *m, double sum);

/* The step scalars AdamW and Lion share (optim/adamw.c): the decoupled decay
 * 1 - lr * weight_decay and the betas with their complements, computed in
 * double as the references' Python floats are and rounded to float; the
 * kind fills the rest. */
nl_adamw_args nl_adamw_moment_args(const nl_optim_spec *spec, float weight_decay, float lr);

#endif
