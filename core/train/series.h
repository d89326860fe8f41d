/* Logged series (train.log.*): the L2 norm of each layer's parameter
 * gradients and each attention layer's largest pre-softmax logit, measured
 * on the training steps the loop logs. Everything is planned at
 * nl_series_init, so measuring allocates nothing. */
#ifndef NL_SERIES_H
#define NL_SERIES_H

#include <stdbool.h>

#include "model/model.h"
#include "results/series.h" /* nl_series_kind */

/* where a series value goes (nl_train_sink's series): one value at `step`
 * (the optimizer steps before the measured one), for layer `layer` (0 =
 * nearest the input) named `name` */
typedef nl_code (*nl_series_fn)(void *ctx, long step, nl_series_kind kind, int layer,
                                const char *name, double value, nl_error *err);

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
    /* train.log.weight_stats: the weights are the parameters that are
     * neither biases nor normalization parameters, in the model's order */
    bool weight_stats;
    int n_weights;
    int *weight_param;       /* each weight's index in m->params */
    /* the weight's layer feeds a normalizer that divides by batch
     * statistics, which makes the loss blind to the weight's scale */
    bool *scale_invariant;
    size_t *weight_offset;   /* into weight_before */
    /* device: each weight negated before the step, then w_after - w_before */
    float *weight_before;
    float *negate;           /* device {-1, 0}: channel_affine's scale and shift */
    /* device: per weight, NL_SUM_SQUARES_PARTS of ||w_before||^2 then of ||dw||^2 */
    double *weight_partials;
    double *host_weight_partials;
    double *weight_norm;     /* per weight, before the step */
    double *update_ratio;    /* per weight: ||w_after - w_before|| / ||w_before|| */
    /* per weight: the parameter normalizer that estimates a scalar of it
     * (nl_param_norm_row.estimate; NULL: none), and at the logged steps
     * that estimate and the weight's largest singular value, before the
     * step */
    const struct nl_param_norm **estimator;
    double *estimate, *sigma_true;
    double **singular_vector; /* per estimated weight: the probe's vector */
    float *host_weight;       /* the largest estimated weight, on the host */
    double *probe_work;       /* its rows' worth of doubles */
    /* train.log.switch_weights: the switchable normalizers, input to
     * output, and their six logits on the host (6 per layer) */
    bool switch_weights;
    int n_switch;
    const nl_layer **switch_layers;
    float *switch_logits;
} nl_series;

/* Plans the buffers for what `grad_norms` and `max_logits` ask; an error
 * (NL_ERR_CONFIG, key train.log.attention_logits) when the model has no
 * attention layer to take logits from. */
nl_code nl_series_init(nl_series *s, nl_model *m, bool grad_norms, bool max_logits,
                       nl_error *err);
/* Plans train.log.weight_stats's buffers (a copy of every weight) on a
 * series set up by nl_series_init; nl_series_free frees them. */
nl_code nl_series_plan_weights(nl_series *s, nl_model *m, nl_error *err);
/* Whether parameter `param` of m is a weight whose layer's output goes
 * straight into a normalizer dividing by batch statistics (batch norm and
 * its variants; not layer, group or mean-only batch norm). */
bool nl_series_scale_invariant(const nl_model *m, int param);
/* Plans train.log.switch_weights's rows on a series set up by
 * nl_series_init: every Switchable Normalization layer of m (none: the
 * schema refuses the key for other normalizers, so nothing is logged) */
nl_code nl_series_plan_switch(nl_series *s, nl_model *m, nl_error *err);
/* Before the optimizer step (after clipping): the weights' squared norms
 * and their negated copies, queued on the backend. */
void nl_series_weights_before(nl_series *s, nl_model *m);
/* After the optimizer step: weight_norm and update_ratio of the step. */
void nl_series_weights_after(nl_series *s, nl_model *m);
/* The largest singular value of w (rows x cols, row-major) by power
 * iteration in double: v <- W^T W v / ||W^T W v|| until sigma = ||W v||
 * changes by less than 1e-9 of itself, at most NL_SERIES_PROBE_ITERATIONS
 * times. v (cols) is the start (0: a fixed one) and leaves as the right
 * singular vector; work holds rows doubles. *iterations: those taken. */
#define NL_SERIES_PROBE_ITERATIONS 500
double nl_series_top_singular_value(const float *w, int rows, int cols, double *v, double *work,
                                    int *iterations);
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
/* A logged step's rows to `series` (nothing when it is NULL): the gradient
 * norms (measured here: after backward, before clipping) and the logits
 * its forward recorded */
nl_code nl_series_emit_step(nl_series *s, nl_model *m, nl_series_fn series, void *ctx, long step,
                            nl_error *err);
/* its weight rows, after nl_series_weights_after: each weight's norm and
 * update ratio, the ratio once more as the effective learning rate of the
 * scale-invariant ones, and the spectral-norm estimates */
nl_code nl_series_emit_weights(const nl_series *s, const nl_model *m, nl_series_fn series,
                               void *ctx, long step, nl_error *err);

/* The length of the layer part of a parameter's name: its first component,
 * and the second too when that is a number ("blocks.3.attn.q.weight" ->
 * "blocks.3", "fc1.weight" -> "fc1", "tok_emb.weight" -> "tok_emb"). */
size_t nl_series_layer_of(const char *param_name);

#endif
