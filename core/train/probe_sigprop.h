/* The signal-propagation probe (train.log.signal_propagation; Brock, De
 * & Smith 2021, "Characterizing signal propagation to close the
 * performance gap in unnormalized ResNets"). Before the first training
 * step, a forward of its own over the first train.log.signal_propagation_
 * batches batches of the training split, in order, measures at two kinds
 * of site:
 *   - the residual stream: the output of every residual add (a block's
 *     output, before a post-activation block's last activation);
 *   - every normalizer's input.
 * Each site's activations give, per channel over N*H*W (feature vectors:
 * over N), their mean and biased variance; the site's two numbers are
 * the average over channels of mean^2 and of the variance (the paper's
 * signal propagation plot). The pass runs with batch statistics, as
 * training does at initialization, but leaves running statistics alone
 * (NL_MODE_TRAIN_FROZEN): it changes nothing training reads. Buffers are
 * planned at open. */
#ifndef NL_PROBE_SIGPROP_H
#define NL_PROBE_SIGPROP_H

#include "data/data.h"
#include "model/model.h"

typedef enum {
    NL_SIGPROP_STREAM,  /* a residual add's output */
    NL_SIGPROP_NORM_IN, /* a normalizer's input */
    NL_SIGPROP_SITE_KINDS
} nl_sigprop_site_kind;

typedef struct {
    int n_sites, channels;        /* channels: all sites' together */
    const nl_layer **layers;      /* the layer naming each site, input to output */
    const nl_act **acts;          /* the activation each site measures */
    nl_sigprop_site_kind *kind;   /* per site */
    int *depth;                   /* per site: its index among the sites of its kind */
    double *sum, *sum_sq;         /* per site and channel: over the values seen since begin */
    double *count;                /* per site: values per channel seen */
    float *host;                  /* one batch of the widest site, downloaded */
    double *mean_sq, *var;        /* per site, after nl_sigprop_finish */
} nl_sigprop;

/* whether the layer is a normalizer as the architectures name them
 * (core/arch: "norm", "norm<k>", "<part>_norm" and "norm<k>_out" as the
 * last part of the name) */
bool nl_sigprop_is_norm_layer(const nl_layer *layer);
/* Plans the buffers for batches of up to `batch`; NL_ERR_CONFIG naming
 * train.log.signal_propagation for a model of token ids, or one with
 * neither a residual add nor a normalizer. */
nl_code nl_sigprop_open(nl_sigprop *v, const nl_model *m, int batch, nl_error *err);
void nl_sigprop_free(nl_sigprop *v);
/* The whole measurement: `batches` batches of `batch` samples from the
 * start of `train` (fewer where it holds fewer whole batches, at least
 * one), each this rank's share loaded and run forward with batch
 * statistics and running statistics untouched; mean_sq and var filled.
 * Overwrites the model's metric counters. */
void nl_sigprop_measure(nl_sigprop *v, nl_model *m, const nl_split *train, int batch,
                        int batches);

/* its parts: nothing seen; the values at each site after a forward of n
 * samples; the per-site averages (summed over the ranks) */
void nl_sigprop_begin(nl_sigprop *v);
void nl_sigprop_add(nl_sigprop *v, nl_model *m, int n);
void nl_sigprop_finish(nl_sigprop *v, nl_model *m);

#endif
