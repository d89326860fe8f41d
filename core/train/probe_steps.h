/* The per-time-step probe (train.log.step_norms): for each recurrent layer
 * (lstm, gru) that gives the whole sequence of its states (N, T, H), the
 * L2 norm of its hidden state h_t over the H units, averaged over the
 * samples of the test split, at every step t: where a normalizer keeps the
 * state's scale along the sequence, and where it does not. Measured at the
 * evaluation points by an eval-mode forward pass of its own over the test
 * split; it changes nothing the training reads. Buffers are planned at
 * open. */
#ifndef NL_PROBE_STEPS_H
#define NL_PROBE_STEPS_H

#include "model/model.h"

typedef struct {
    int n_layers;
    const nl_layer **layers; /* the recurrent layers with sequence outputs, input to output */
    int steps;               /* T: every probed layer's sequence length */
    double *sum;             /* per layer and step: the norms seen since begin */
    double count;            /* samples seen */
    float *host;             /* one batch of the widest output, downloaded */
    double *norm;            /* per layer and step, after nl_stepnorm_finish */
} nl_stepnorm;

/* Plans the buffers; NL_ERR_CONFIG naming train.log.step_norms for a model
 * without a recurrent layer giving its whole sequence. */
nl_code nl_stepnorm_open(nl_stepnorm *p, const nl_model *m, nl_error *err);
void nl_stepnorm_free(nl_stepnorm *p);
/* starts a measurement: nothing seen */
void nl_stepnorm_begin(nl_stepnorm *p);
/* after an eval-mode forward of n samples: adds their states' norms */
void nl_stepnorm_add(nl_stepnorm *p, nl_model *m, int n);
/* norm[l * steps + t] = the mean over the samples seen (on every rank) of
 * ||h_t|| of layer l */
void nl_stepnorm_finish(nl_stepnorm *p, nl_model *m);

#endif
