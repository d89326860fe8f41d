/* Dynamic loss scaling as torch.cuda.amp.GradScaler does it: the loss's
 * gradient is multiplied by the scale before backward, so that small
 * gradients survive a low-precision product's rounding instead of
 * underflowing to zero; the gradients are then unscaled (the
 * scale_check_finite op), a step whose gradients hold an inf or NaN is
 * skipped, and the scale moves as torch._amp_update_scale_ moves it:
 * backoff on an overflow, growth after growth_interval clean steps in a
 * row. The rule (pure host arithmetic, tested against GradScaler's
 * sequence without a model), then the training loop's glue: the scaler's
 * per-step scalars on the device, the unscale, and series.csv's
 * loss-scaling rows. */
#ifndef NL_TRAIN_LOSS_SCALE_H
#define NL_TRAIN_LOSS_SCALE_H

#include <stdbool.h>

#include "config/train_spec.h" /* nl_loss_scale_spec */
#include "model/model.h"
#include "train/series.h"

/* What carries from step to step (GradScaler's _scale and _growth_tracker,
 * and the steps it skipped): part of the resumable training state. */
typedef struct {
    double scale;        /* the scale the next step multiplies the loss by (a float's value) */
    long growth_tracker; /* clean steps since the last growth or overflow */
    long skipped_steps;  /* steps skipped on an inf or NaN gradient so far */
} nl_loss_scaler;

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

/* ---- the glue: the scaler in a training loop ---- */

/* the device's floats: the scaler's per-step scalars */
enum { NL_SCALE_FACTOR, NL_SCALE_INVERSE, NL_SCALE_SEED_FLAG, NL_SCALE_FOUND_INF, NL_SCALE_FLOATS };

typedef struct {
    /* train.loss_scale: the loss's gradient scaled, the gradients unscaled
     * and checked, steps with an inf or NaN skipped */
    bool scales;
    /* series.csv's loss-scaling rows (scaling, or a low precision): the
     * gradients' zeros counted on the logged steps */
    bool counts_zeros;
    /* device: NL_SCALE_FLOATS floats, then the scale_check_finite slots of
     * the loss gradient's pass and of the gradients' (NL_UNSCALE_SLOTS
     * doubles each) */
    float *dev;
    double *slots;
    float host[NL_SCALE_FLOATS]; /* the image dev's floats are uploaded from */
    double zero_count;           /* the image the gradients' zero count is cleared from */
    /* the parameters' elements, and the gradient arena's floats between
     * them (always zero): the zero share counts only the former */
    double grad_elements, padding_elements;
} nl_loss_scaling;

/* The device memory (none when neither scales nor counts_zeros), and with
 * `scales` the model's pointers into it */
nl_code nl_loss_scaling_open(nl_loss_scaling *ls, nl_model *m, bool scales, bool counts_zeros,
                             nl_error *err);
/* gives the memory back and unhooks the model */
void nl_loss_scaling_close(nl_loss_scaling *ls, nl_model *m);
/* A step's scalars on the device before its kernels: the factor the loss
 * gradient is multiplied by and its inverse (1 when only the zeros are
 * counted), the inf flag and the zero count cleared */
void nl_loss_scaling_prepare(nl_loss_scaling *ls, nl_model *m, const nl_loss_scaler *scaler);
/* The gradients unscaled (and their zeros counted) after backward and the
 * exchange between ranks, before anything reads them; *found_inf when the
 * step is to be skipped. GradScaler's order: unscale_, then clipping, then
 * a step that skips the optimizer on an inf or NaN. */
void nl_loss_scaling_unscale(nl_loss_scaling *ls, nl_model *m, bool *found_inf);
/* series.csv's loss-scaling rows of the step just taken, to `series`:
 * the scale it used, the steps skipped so far with it, the gradients'
 * zero share */
nl_code nl_loss_scaling_emit(const nl_loss_scaling *ls, nl_model *m, nl_series_fn series,
                             void *ctx, long step, double scale_used, long skipped_steps,
                             nl_error *err);

#endif
