/* Dynamic loss scaling as torch.cuda.amp.GradScaler does it: the loss's
 * gradient is multiplied by the scale before backward, so that small
 * gradients survive a low-precision product's rounding instead of
 * underflowing to zero; the gradients are then unscaled (the
 * scale_check_finite op), a step whose gradients hold an inf or NaN is
 * skipped, and the scale moves as torch._amp_update_scale_ moves it:
 * backoff on an overflow, growth after growth_interval clean steps in a
 * row. The rule alone lives here (pure host arithmetic), so that it is
 * tested against GradScaler's sequence without a model. */
#ifndef NL_TRAIN_LOSS_SCALE_H
#define NL_TRAIN_LOSS_SCALE_H

#include <stdbool.h>

/* train.loss_scale.* (GradScaler's constructor arguments) */
typedef struct {
    bool enabled;
    float init_scale;     /* the scale of the first step (65536) */
    float growth_factor;  /* > 1: the scale's factor after growth_interval clean steps (2) */
    float backoff_factor; /* in (0, 1): the scale's factor after an overflow (0.5) */
    long growth_interval; /* >= 1: clean steps in a row before the scale grows (2000) */
} nl_loss_scale_spec;

/* What carries from step to step (GradScaler's _scale and _growth_tracker,
 * and the steps it skipped): part of the resumable training state. */
typedef struct {
    double scale;        /* the scale the next step multiplies the loss by (a float's value) */
    long growth_tracker; /* clean steps since the last growth or overflow */
    long skipped_steps;  /* steps skipped on an inf or NaN gradient so far */
} nl_loss_scaler;

void nl_loss_scale_spec_defaults(nl_loss_scale_spec *spec);

/* the state of a run's first step */
void nl_loss_scaler_start(nl_loss_scaler *s, const nl_loss_scale_spec *spec);

/* 1 / scale as GradScaler takes it (the double's reciprocal, to float) */
float nl_loss_scaler_inverse(const nl_loss_scaler *s);

/* After a step's unscale: found_inf says whether a gradient held an inf
 * or NaN (the step is then skipped: counted here, and the caller does not
 * run the optimizer). The scale backs off and the tracker restarts on an
 * overflow; otherwise the tracker counts the step, and at growth_interval
 * the scale grows (unless that would make it infinite, as
 * torch._amp_update_scale_ refuses) and the tracker restarts. */
void nl_loss_scaler_update(nl_loss_scaler *s, const nl_loss_scale_spec *spec, bool found_inf);

#endif
