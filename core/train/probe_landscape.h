/* The loss-landscape probe (train.log.landscape; Santurkar et al. 2018,
 * "How does batch normalization help optimization?", §3.1). At a probe
 * step with weights w, the step's batch B and its gradient g = grad L_B(w),
 * for each step size eta_k (a multiple of the step's learning rate) one
 * forward and backward on B at w - eta_k g gives
 *   loss band               min and max over k of L_B(w - eta_k g)
 *   gradient predictiveness min and max over k of ||grad L_B(w - eta_k g) - g||
 *   effective beta-smoothness  max over k of that norm / (eta_k ||g||).
 * The passes are the step's own forward kernels again: the same mode
 * (batch statistics), the same per-step scalars (dropout masks, noisy
 * batch norm's draws), the same batch. It only observes: weights,
 * gradients, running statistics and the metric counters are copied before
 * and put back bit for bit after, and the optimizer is not touched. The
 * copies are planned at open; a probe allocates nothing. */
#ifndef NL_PROBE_LANDSCAPE_H
#define NL_PROBE_LANDSCAPE_H

#include "model/model.h"
#include "config/train_spec.h"

typedef struct {
    const nl_landscape_spec *spec; /* NULL: off */
    float *weights;      /* device: the parameter arena at the probe's start */
    float *gradients;    /* device: the gradient arena (g) */
    float *states;       /* device: the running statistics */
    float *coefficients; /* device: -eta_k per step size, then -1 and 0 */
    float *host_coefficients;
    double *partials;    /* device: NL_SUM_SQUARES_PARTS per parameter */
    double *host_partials;
    /* the last probe, per step size */
    double step_size[NL_LANDSCAPE_MAX_STEPS];
    double loss[NL_LANDSCAPE_MAX_STEPS];
    double grad_change[NL_LANDSCAPE_MAX_STEPS]; /* ||grad L_B(w - eta_k g) - g|| */
    double grad_norm;                           /* ||g|| */
    /* over the step sizes */
    double loss_min, loss_max, grad_pred_min, grad_pred_max, beta_smoothness;
} nl_landscape;

/* Plans the copies for spec (nothing when spec->every is 0). */
nl_code nl_landscape_open(nl_landscape *p, const nl_landscape_spec *spec, nl_model *m,
                          nl_error *err);
void nl_landscape_free(nl_landscape *p, nl_model *m);
/* whether the step (optimizer steps taken before it) probes */
bool nl_landscape_due(const nl_landscape *p, long step);
/* After the step's forward, backward and gradient reduction over the
 * ranks, before clipping and the update: the probe at learning rate lr,
 * with the step's n samples on this rank, mode and `predictions` (the
 * global batch's loss terms: samples times rows per sample). Leaves the
 * model as it found it. */
void nl_landscape_probe(nl_landscape *p, nl_model *m, int n, nl_mode mode, double lr,
                        double predictions);

#endif
