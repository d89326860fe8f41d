/* Logged series (train.log.*): the L2 norm of each layer's parameter
 * gradients and each attention layer's largest pre-softmax logit, measured
 * on the training steps the loop logs. Everything is planned at
 * nl_series_init, so measuring allocates nothing. */
#ifndef NL_SERIES_H
#define NL_SERIES_H

#include <stdbool.h>

#include "model/model.h"

typedef enum {
    NL_SERIES_GRAD_NORM,  /* per layer (block), before clipping */
    NL_SERIES_MAX_LOGIT,  /* per attention layer */
    /* per normalizer with running statistics, at the evaluations
     * (train/probe_varshift.h) */
    NL_SERIES_VARIANCE_SHIFT,
    NL_SERIES_COUNT
} nl_series_kind;
/* the names series.csv's `series` column holds */
extern const nl_name_table nl_series_names;

#define NL_SERIES_NAME_MAX 64

typedef struct {
    bool grad_norms, max_logits; /* what is measured */
    /* gradient-norm layers, input to output: the parameters grouped by
     * nl_series_layer_of of their names, in the model's parameter order */
    int n_layers;
    char (*layer_names)[NL_SERIES_NAME_MAX];
    int *param_layer;        /* the layer of each parameter */
    double *partials;        /* device: NL_SUM_SQUARES_PARTS per parameter */
    double *host_partials;
    double *grad_norm;       /* per layer, after nl_series_measure_grads */
    /* attention layers, input to output */
    int n_attention;
    const nl_layer **attention;
    float *max_logit;        /* per attention layer, after nl_series_read_logits */
} nl_series;

/* Plans the buffers for what `grad_norms` and `max_logits` ask; an error
 * (NL_ERR_CONFIG, key train.log.attention_logits) when the model has no
 * attention layer to take logits from. */
nl_code nl_series_init(nl_series *s, nl_model *m, bool grad_norms, bool max_logits,
                       nl_error *err);
/* NL_ERR_CONFIG naming train.log.attention_logits when max_logits is asked
 * of a model (or planned graph) without attention layers */
nl_code nl_series_check(const nl_model *graph, bool max_logits, nl_error *err);
void nl_series_free(nl_series *s, nl_model *m);
/* After backward (and the reduction over ranks): grad_norm[i] is the L2
 * norm of layer i's parameter gradients. */
void nl_series_measure_grads(nl_series *s, nl_model *m);
/* After a forward with m->record_max_logit: max_logit[i] is attention layer
 * i's largest logit over the whole batch (every rank's share). */
void nl_series_read_logits(nl_series *s, nl_model *m);

/* The length of the layer part of a parameter's name: its first component,
 * and the second too when that is a number ("blocks.3.attn.q.weight" ->
 * "blocks.3", "fc1.weight" -> "fc1", "tok_emb.weight" -> "tok_emb"). */
size_t nl_series_layer_of(const char *param_name);

#endif
