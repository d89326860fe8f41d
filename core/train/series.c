#include "train/series.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"

static const nl_name_entry series_entries[] = {
    [NL_SERIES_GRAD_NORM] = {"grad_norm", "L2 norm of a layer's parameter gradients, before clipping"},
    [NL_SERIES_MAX_LOGIT] = {"max_logit", "an attention layer's largest pre-softmax logit (scaled)"},
    [NL_SERIES_VARIANCE_SHIFT] = {"variance_shift", "a normalizer's running variance over the variance its input has on the test split in eval mode, mean over channels (Li et al. 2019)"},
};
_Static_assert(sizeof series_entries / sizeof series_entries[0] == NL_SERIES_COUNT, "series");
const nl_name_table nl_series_names = {"series", series_entries, NL_SERIES_COUNT, 0};

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
