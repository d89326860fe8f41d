#include "train/series.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/kinds.h"
#include "dist/dist.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "norm/stats_layer.h"

size_t nl_series_layer_of(const char *param_name)
{
    const char *dot = strchr(param_name, '.');
    if (!dot)
        return strlen(param_name);
    const char *p = dot + 1;
    while (isdigit((unsigned char)*p))
        p++;
    /* a numbered child ("blocks.3."): the block is the layer */
    if (p > dot + 1 && (*p == '.' || *p == '\0'))
        return (size_t)(p - param_name);
    return (size_t)(dot - param_name);
}

/* the layer of every parameter; layers numbered in order of first use */
static nl_code plan_layers(nl_series *s, const nl_model *m, nl_error *err)
{
    s->param_layer = malloc((size_t)(m->n_params ? m->n_params : 1) * sizeof *s->param_layer);
    s->layer_names = malloc((size_t)(m->n_params ? m->n_params : 1) * sizeof *s->layer_names);
    if (!s->param_layer || !s->layer_names)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the gradient-norm series");
    for (int i = 0; i < m->n_params; i++) {
        const char *name = m->params[i]->name;
        size_t len = nl_series_layer_of(name);
        if (len >= NL_SERIES_NAME_MAX)
            len = NL_SERIES_NAME_MAX - 1;
        int layer = 0;
        while (layer < s->n_layers &&
               !(strncmp(s->layer_names[layer], name, len) == 0 && s->layer_names[layer][len] == '\0'))
            layer++;
        if (layer == s->n_layers) {
            memcpy(s->layer_names[layer], name, len);
            s->layer_names[layer][len] = '\0';
            s->n_layers++;
        }
        s->param_layer[i] = layer;
    }
    return NL_OK;
}

static int attention_layers(const nl_model *m)
{
    int count = 0;
    for (int i = 0; i < m->n_layers; i++)
        count += strcmp(m->layers[i]->vt->kind, "attention") == 0;
    return count;
}

nl_code nl_series_check(const nl_model *graph, bool max_logits, nl_error *err)
{
    if (!max_logits || attention_layers(graph) > 0)
        return NL_OK;
    nl_fail(err, NL_ERR_CONFIG, "true: the model has no attention layer to take logits from "
            "(model.arch %s); accepted for this model: false",
            nl_name_of(&nl_arch_names, graph->spec.arch));
    nl_error_key(err, "train.log.attention_logits");
    return NL_ERR_CONFIG;
}

nl_code nl_series_init(nl_series *s, nl_model *m, bool grad_norms, bool max_logits,
                       nl_error *err)
{
    memset(s, 0, sizeof *s);
    s->grad_norms = grad_norms;
    s->max_logits = max_logits;
    nl_code rc = NL_OK;
    if (grad_norms) {
        const size_t parts = (size_t)(m->n_params ? m->n_params : 1) * NL_SUM_SQUARES_PARTS;
        if ((rc = plan_layers(s, m, err)))
            goto fail;
        s->host_partials = malloc(parts * sizeof *s->host_partials);
        s->grad_norm = calloc((size_t)(s->n_layers ? s->n_layers : 1), sizeof *s->grad_norm);
        if (!s->host_partials || !s->grad_norm) {
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory for the gradient-norm series");
            goto fail;
        }
        if ((rc = m->be->ops->alloc(m->be, parts * sizeof(double), (void **)&s->partials, err)))
            goto fail;
    }
    if (max_logits) {
        if ((rc = nl_series_check(m, max_logits, err)))
            goto fail;
        s->n_attention = attention_layers(m);
        s->attention = malloc((size_t)s->n_attention * sizeof *s->attention);
        s->max_logit = malloc((size_t)s->n_attention * sizeof *s->max_logit);
        if (!s->attention || !s->max_logit) {
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory for the attention-logit series");
            goto fail;
        }
        int k = 0;
        for (int i = 0; i < m->n_layers; i++)
            if (strcmp(m->layers[i]->vt->kind, "attention") == 0)
                s->attention[k++] = m->layers[i];
        /* the ranks' maxima meet in one gather */
        if (m->dist && (rc = nl_dist_reserve(m->dist, (size_t)s->n_attention * sizeof(float), err)))
            goto fail;
    }
    return NL_OK;
fail:
    nl_series_free(s, m);
    return rc;
}

void nl_series_free(nl_series *s, nl_model *m)
{
    if (s->partials)
        m->be->ops->release(m->be, s->partials);
    free(s->param_layer);
    free(s->layer_names);
    free(s->host_partials);
    free(s->grad_norm);
    free(s->attention);
    free(s->max_logit);
    if (s->weight_before)
        m->be->ops->release(m->be, s->weight_before);
    if (s->negate)
        m->be->ops->release(m->be, s->negate);
    if (s->weight_partials)
        m->be->ops->release(m->be, s->weight_partials);
    free(s->weight_param);
    free(s->scale_invariant);
    free(s->weight_offset);
    free(s->host_weight_partials);
    free(s->weight_norm);
    free(s->update_ratio);
    for (int k = 0; s->singular_vector && k < s->n_weights; k++)
        free(s->singular_vector[k]);
    free(s->singular_vector);
    free(s->estimator);
    free(s->estimate);
    free(s->sigma_true);
    free(s->host_weight);
    free(s->probe_work);
    free(s->switch_layers);
    free(s->switch_logits);
    memset(s, 0, sizeof *s);
}

void nl_series_measure_grads(nl_series *s, nl_model *m)
{
    nl_backend *be = m->be;
    for (int i = 0; i < m->n_params; i++)
        be->ops->sum_squares(be, m->params[i]->count, m->params[i]->grad,
                             s->partials + (size_t)i * NL_SUM_SQUARES_PARTS);
    be->ops->download(be, s->host_partials, s->partials,
                      (size_t)m->n_params * NL_SUM_SQUARES_PARTS * sizeof(double));
    for (int l = 0; l < s->n_layers; l++)
        s->grad_norm[l] = 0.0;
    for (int i = 0; i < m->n_params; i++) {
        const double *part = s->host_partials + (size_t)i * NL_SUM_SQUARES_PARTS;
        for (int k = 0; k < NL_SUM_SQUARES_PARTS; k++)
            s->grad_norm[s->param_layer[i]] += part[k];
    }
    for (int l = 0; l < s->n_layers; l++)
        s->grad_norm[l] = sqrt(s->grad_norm[l]);
}

void nl_series_read_logits(nl_series *s, nl_model *m)
{
    for (int i = 0; i < s->n_attention; i++)
        m->be->ops->download(m->be, &s->max_logit[i], nl_attention_max_logit(s->attention[i]),
                             sizeof(float));
    if (!m->dist || nl_dist_size(m->dist) < 2)
        return;
    const float *all = nl_dist_allgather(m->dist, s->max_logit, (size_t)s->n_attention * sizeof(float));
    if (!all)
        return; /* the loop's nl_dist_status reports the error */
    for (int r = 0; r < nl_dist_size(m->dist); r++)
        for (int i = 0; i < s->n_attention; i++)
            if (all[(size_t)r * s->n_attention + i] > s->max_logit[i])
                s->max_logit[i] = all[(size_t)r * s->n_attention + i];
}

/* the layer called name[0..len) */
static const nl_layer *layer_named(const nl_model *m, const char *name, size_t len)
{
    for (int i = 0; i < m->n_layers; i++)
        if (strncmp(m->layers[i]->name, name, len) == 0 && m->layers[i]->name[len] == '\0')
            return m->layers[i];
    return NULL;
}

/* A normalizer's output does not change when its input is scaled when it
 * divides by statistics of that input; batch statistics (one set per
 * channel over the batch, the batch-norm layer) make that hold for each
 * output channel's weights on their own. Mean-only batch norm learns no
 * scale because it divides by nothing. */
static bool divides_by_batch_statistics(const nl_layer *l)
{
    if (strcmp(l->vt->kind, "batchnorm") != 0)
        return false;
    const nl_stats_layer *stats = (const nl_stats_layer *)l;
    const nl_norm_info *row = nl_norm_info_of(stats->spec.kind);
    return row->stats_set && !(row->training && row->training->no_gamma);
}

bool nl_series_scale_invariant(const nl_model *m, int param)
{
    const nl_param *p = m->params[param];
    if (p->is_norm_or_bias)
        return false;
    const char *dot = strrchr(p->name, '.');
    const nl_layer *owner = dot ? layer_named(m, p->name, (size_t)(dot - p->name)) : NULL;
    if (!owner || !owner->out)
        return false;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->n_in > 0 && m->layers[i]->in[0] == owner->out)
            return divides_by_batch_statistics(m->layers[i]);
    return false;
}

/* the parameter normalizer of a weight's layer, when its row estimates a scalar */
static const nl_param_norm *estimator_of(const nl_model *m, const nl_param *p)
{
    const char *dot = strrchr(p->name, '.');
    nl_layer *owner = dot ? (nl_layer *)layer_named(m, p->name, (size_t)(dot - p->name)) : NULL;
    if (!owner || !owner->vt->param_norm)
        return NULL;
    nl_param *bias;
    const nl_param_norm *pn = owner->vt->param_norm(owner, &bias);
    return pn && pn->row->estimate && strcmp(dot + 1, "weight") == 0 ? pn : NULL;
}

/* the estimated weights among s's and the host buffers their probe uses */
static nl_code plan_estimates(nl_series *s, const nl_model *m, nl_error *err)
{
    const size_t slots = (size_t)(s->n_weights ? s->n_weights : 1);
    s->estimator = calloc(slots, sizeof *s->estimator);
    s->singular_vector = calloc(slots, sizeof *s->singular_vector);
    s->estimate = calloc(slots, sizeof *s->estimate);
    s->sigma_true = calloc(slots, sizeof *s->sigma_true);
    if (!s->estimator || !s->singular_vector || !s->estimate || !s->sigma_true)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the weight statistics");
    size_t largest = 1, most_rows = 1;
    for (int k = 0; k < s->n_weights; k++) {
        const nl_param *p = m->params[s->weight_param[k]];
        const nl_param_norm *pn = estimator_of(m, p);
        if (!pn)
            continue;
        s->estimator[k] = pn;
        if (!(s->singular_vector[k] = calloc((size_t)pn->fan_in, sizeof(double))))
            return nl_fail(err, NL_ERR_NOMEM, "out of memory for the weight statistics");
        if (p->count > largest)
            largest = p->count;
        if ((size_t)pn->units > most_rows)
            most_rows = (size_t)pn->units;
    }
    s->host_weight = malloc(largest * sizeof *s->host_weight);
    s->probe_work = malloc(most_rows * sizeof *s->probe_work);
    if (!s->host_weight || !s->probe_work)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the weight statistics");
    return NL_OK;
}

double nl_series_top_singular_value(const float *w, int rows, int cols, double *v, double *work,
                                    int *iterations)
{
    double norm = 0.0;
    for (int j = 0; j < cols; j++)
        norm += v[j] * v[j];
    if (!(norm > 0.0)) /* a fixed start: every direction but one orthogonal to it */
        for (int j = 0; j < cols; j++)
            v[j] = 1.0 + 0.01 * j;
    double sigma = 0.0;
    int it = 0;
    while (it < NL_SERIES_PROBE_ITERATIONS) {
        norm = 0.0;
        for (int j = 0; j < cols; j++)
            norm += v[j] * v[j];
        norm = sqrt(norm);
        if (!(norm > 0.0))
            break;
        for (int j = 0; j < cols; j++)
            v[j] /= norm;
        /* work = W v, sigma = ||W v||, v = W^T work */
        double next = 0.0;
        for (int i = 0; i < rows; i++) {
            double sum = 0.0;
            for (int j = 0; j < cols; j++)
                sum += (double)w[(size_t)i * cols + j] * v[j];
            work[i] = sum;
            next += sum * sum;
        }
        next = sqrt(next);
        for (int j = 0; j < cols; j++)
            v[j] = 0.0;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                v[j] += (double)w[(size_t)i * cols + j] * work[i];
        it++;
        const bool settled = fabs(next - sigma) <= 1e-9 * next;
        sigma = next;
        if (settled)
            break;
    }
    norm = 0.0;
    for (int j = 0; j < cols; j++)
        norm += v[j] * v[j];
    norm = sqrt(norm);
    for (int j = 0; norm > 0.0 && j < cols; j++)
        v[j] /= norm;
    if (iterations)
        *iterations = it;
    return sigma;
}

nl_code nl_series_plan_weights(nl_series *s, nl_model *m, nl_error *err)
{
    nl_backend *be = m->be;
    s->weight_stats = true;
    const size_t slots = (size_t)(m->n_params ? m->n_params : 1);
    s->weight_param = malloc(slots * sizeof *s->weight_param);
    s->scale_invariant = malloc(slots * sizeof *s->scale_invariant);
    s->weight_offset = malloc(slots * sizeof *s->weight_offset);
    s->host_weight_partials = malloc(slots * 2 * NL_SUM_SQUARES_PARTS * sizeof(double));
    s->weight_norm = malloc(slots * sizeof *s->weight_norm);
    s->update_ratio = malloc(slots * sizeof *s->update_ratio);
    if (!s->weight_param || !s->scale_invariant || !s->weight_offset ||
        !s->host_weight_partials || !s->weight_norm || !s->update_ratio)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the weight statistics");
    size_t floats = 0;
    nl_code rc0;
    for (int i = 0; i < m->n_params; i++) {
        if (m->params[i]->is_norm_or_bias)
            continue;
        s->weight_param[s->n_weights] = i;
        s->scale_invariant[s->n_weights] = nl_series_scale_invariant(m, i);
        s->weight_offset[s->n_weights] = floats;
        floats += m->params[i]->count;
        s->n_weights++;
    }
    if ((rc0 = plan_estimates(s, m, err)))
        return rc0;
    nl_code rc = be->ops->alloc(be, (floats ? floats : 1) * sizeof(float), (void **)&s->weight_before, err);
    if (rc == NL_OK)
        rc = be->ops->alloc(be, 2 * sizeof(float), (void **)&s->negate, err);
    if (rc == NL_OK)
        rc = be->ops->alloc(be, slots * 2 * NL_SUM_SQUARES_PARTS * sizeof(double),
                            (void **)&s->weight_partials, err);
    if (rc)
        return rc;
    be->ops->upload(be, s->negate, (const float[]){-1.0f, 0.0f}, 2 * sizeof(float));
    return NL_OK;
}

void nl_series_weights_before(nl_series *s, nl_model *m)
{
    nl_backend *be = m->be;
    /* the estimates of the step's forward and the exact value of the
     * weight it used, on the host (the logged steps only) */
    for (int k = 0; k < s->n_weights; k++) {
        const nl_param_norm *pn = s->estimator[k];
        if (!pn)
            continue;
        const nl_param *p = m->params[s->weight_param[k]];
        float estimate;
        be->ops->download(be, &estimate, pn->row->estimate(pn), sizeof estimate);
        be->ops->download(be, s->host_weight, p->data, p->count * sizeof *s->host_weight);
        s->estimate[k] = estimate;
        /* from the fixed start every time: a start carried over from the
         * last logged step lives in memory only, and a resumed run, starting
         * afresh, settled on another last digit than the uninterrupted one */
        memset(s->singular_vector[k], 0, (size_t)pn->fan_in * sizeof(double));
        s->sigma_true[k] = nl_series_top_singular_value(s->host_weight, pn->units, pn->fan_in,
                                                        s->singular_vector[k], s->probe_work,
                                                        NULL);
    }
    for (int k = 0; k < s->n_weights; k++) {
        const nl_param *p = m->params[s->weight_param[k]];
        be->ops->sum_squares(be, p->count, p->data,
                             s->weight_partials + (size_t)k * 2 * NL_SUM_SQUARES_PARTS);
        /* -w, so that one add after the step leaves the update (exact
         * where a weight moves by less than its own size, the usual step;
         * rounded once otherwise) */
        be->ops->channel_affine_forward(be, 1, 1, (int)p->count, s->negate, s->negate + 1,
                                        p->data, s->weight_before + s->weight_offset[k]);
    }
}

void nl_series_weights_after(nl_series *s, nl_model *m)
{
    nl_backend *be = m->be;
    for (int k = 0; k < s->n_weights; k++) {
        const nl_param *p = m->params[s->weight_param[k]];
        float *update = s->weight_before + s->weight_offset[k];
        be->ops->add_forward(be, p->count, p->data, update, update);
        be->ops->sum_squares(be, p->count, update,
                             s->weight_partials + ((size_t)k * 2 + 1) * NL_SUM_SQUARES_PARTS);
    }
    be->ops->download(be, s->host_weight_partials, s->weight_partials,
                      (size_t)s->n_weights * 2 * NL_SUM_SQUARES_PARTS * sizeof(double));
    for (int k = 0; k < s->n_weights; k++) {
        const double *part = s->host_weight_partials + (size_t)k * 2 * NL_SUM_SQUARES_PARTS;
        double before = 0.0, update = 0.0;
        for (int j = 0; j < NL_SUM_SQUARES_PARTS; j++) {
            before += part[j];
            update += part[NL_SUM_SQUARES_PARTS + j];
        }
        s->weight_norm[k] = sqrt(before);
        s->update_ratio[k] = sqrt(update) / sqrt(before);
    }
}

nl_code nl_series_plan_switch(nl_series *s, nl_model *m, nl_error *err)
{
    const float *logits[2];
    int count = 0;
    for (int i = 0; i < m->n_layers; i++)
        count += nl_switch_layer_logits(m->layers[i], logits);
    s->switch_weights = true;
    s->n_switch = count;
    s->switch_layers = malloc((size_t)(count ? count : 1) * sizeof *s->switch_layers);
    s->switch_logits = malloc((size_t)(count ? count : 1) * 6 * sizeof *s->switch_logits);
    if (!s->switch_layers || !s->switch_logits)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the switchable weights' series");
    int k = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (nl_switch_layer_logits(m->layers[i], logits))
            s->switch_layers[k++] = m->layers[i];
    return NL_OK;
}

/* each switchable layer's softmax weights, from its logits as this step's
 * forward used them (before the optimizer step), in double */
static nl_code emit_switch(nl_series *s, nl_model *m, nl_series_fn series, void *ctx, long step,
                           nl_error *err)
{
    nl_code rc = NL_OK;
    for (int k = 0; k < s->n_switch && rc == NL_OK; k++) {
        const float *logits[2];
        float *host = s->switch_logits + 6 * k;
        nl_switch_layer_logits(s->switch_layers[k], logits);
        for (int half = 0; half < 2; half++)
            m->be->ops->download(m->be, host + 3 * half, logits[half], 3 * sizeof(float));
        for (int half = 0; half < 2 && rc == NL_OK; half++) {
            const float *l = host + 3 * half;
            const double top = fmax(fmax(l[0], l[1]), l[2]);
            double e[3], sum = 0.0;
            for (int t = 0; t < 3; t++)
                sum += e[t] = exp((double)l[t] - top);
            for (int t = 0; t < 3 && rc == NL_OK; t++)
                rc = series(ctx, step, (nl_series_kind)(NL_SERIES_SWITCH_MEAN_IN + 3 * half + t),
                            k, s->switch_layers[k]->name, e[t] / sum, err);
        }
    }
    return rc;
}

nl_code nl_series_emit_step(nl_series *s, nl_model *m, nl_series_fn series, void *ctx, long step,
                            nl_error *err)
{
    if (!series)
        return NL_OK;
    nl_code rc = NL_OK;
    if (s->grad_norms)
        nl_series_measure_grads(s, m);
    for (int l = 0; s->grad_norms && l < s->n_layers && rc == NL_OK; l++)
        rc = series(ctx, step, NL_SERIES_GRAD_NORM, l, s->layer_names[l], s->grad_norm[l], err);
    for (int l = 0; s->max_logits && l < s->n_attention && rc == NL_OK; l++)
        rc = series(ctx, step, NL_SERIES_MAX_LOGIT, l, s->attention[l]->name, s->max_logit[l],
                    err);
    if (rc == NL_OK && s->switch_weights)
        rc = emit_switch(s, m, series, ctx, step, err);
    return rc;
}

nl_code nl_series_emit_weights(const nl_series *s, const nl_model *m, nl_series_fn series,
                               void *ctx, long step, nl_error *err)
{
    nl_code rc = NL_OK;
    for (int k = 0; k < s->n_weights && rc == NL_OK; k++) {
        const char *name = m->params[s->weight_param[k]]->name;
        rc = series(ctx, step, NL_SERIES_WEIGHT_NORM, k, name, s->weight_norm[k], err);
        if (rc == NL_OK)
            rc = series(ctx, step, NL_SERIES_UPDATE_RATIO, k, name, s->update_ratio[k], err);
        if (rc == NL_OK && s->scale_invariant[k])
            rc = series(ctx, step, NL_SERIES_EFFECTIVE_LR, k, name, s->update_ratio[k], err);
        if (rc == NL_OK && s->estimator[k])
            rc = series(ctx, step, NL_SERIES_SIGMA_ESTIMATE, k, name, s->estimate[k], err);
        if (rc == NL_OK && s->estimator[k])
            rc = series(ctx, step, NL_SERIES_SIGMA_TRUE, k, name, s->sigma_true[k], err);
    }
    return rc;
}
