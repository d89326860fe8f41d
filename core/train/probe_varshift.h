/* The variance-shift probe (train.log.variance_shift; Li et al. 2019,
 * "Understanding the disharmony between dropout and batch
 * normalization"): for each normalizer with running statistics, the
 * ratio between its running variance and the variance its input actually
 * has in eval mode over the whole test split, per channel, averaged over
 * the channels whose test variance is not 0. Dropout before batch norm
 * makes training see a larger variance than the test does: the ratio
 * rises above 1. Measured at the evaluation points by a forward pass of
 * its own over the test split, in eval mode; it changes nothing the
 * training reads. Buffers are planned at open. */
#ifndef NL_PROBE_VARSHIFT_H
#define NL_PROBE_VARSHIFT_H

#include "model/model.h"

typedef struct {
    int n_layers, channels;      /* channels: all layers' together */
    const nl_layer **layers;     /* the normalizers with running statistics, input to output */
    const nl_state **running_var; /* each one's */
    double *sum, *sum_sq;        /* per layer and channel: over the values seen since begin */
    double *count;               /* per layer: values per channel seen */
    float *host;                 /* one batch of the widest input, downloaded */
    float *host_var;             /* the widest running variance, downloaded */
    double *ratio;               /* per layer, after nl_varshift_finish */
} nl_varshift;

/* Plans the buffers; NL_ERR_CONFIG naming train.log.variance_shift for a
 * model without a normalizer with running statistics. */
nl_code nl_varshift_open(nl_varshift *v, const nl_model *m, nl_error *err);
void nl_varshift_free(nl_varshift *v);
/* starts a measurement: nothing seen */
void nl_varshift_begin(nl_varshift *v);
/* after an eval-mode forward of n samples: adds their values at each
 * normalizer's input */
void nl_varshift_add(nl_varshift *v, nl_model *m, int n);
/* ratio[l] = mean over channels of running_var / test variance (biased,
 * over every value seen, on every rank), NaN where no channel varied */
void nl_varshift_finish(nl_varshift *v, nl_model *m);

#endif
