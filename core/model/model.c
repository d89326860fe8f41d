/* Running a built model: load a batch, forward through the loss, backward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "dist/dist.h"
#include "log/files.h"
#include "model/model.h"

void nl_model_load_batch(nl_model *m, const float *x, const int32_t *labels, int n)
{
    nl_backend *be = m->be;
    be->ops->upload(be, m->input->data, x, (size_t)n * nl_shape_per_sample(m->input->shape) * sizeof *x);
    be->ops->upload(be, m->labels, labels, (size_t)n * sizeof *labels);
}

void nl_model_load_tokens(nl_model *m, const int32_t *tokens, const int32_t *targets, int n)
{
    nl_backend *be = m->be;
    const size_t count = (size_t)n * m->rows_per_sample;
    be->ops->upload(be, m->input->data, tokens, count * sizeof *tokens);
    be->ops->upload(be, m->labels, targets, count * sizeof *targets);
}

static nl_pass forward_pass(const nl_model *m, int n, nl_mode mode)
{
    return (nl_pass){.be = m->be, .dist = m->dist, .n = n, .mode = mode,
                     .workspace = m->workspace, .workspace_bytes = m->workspace_bytes,
                     .step = m->step,
                     .record_max_logit = m->record_max_logit, .scalars = m->scalars,
                     .scalars_host = m->scalars_host};
}

static void prepare_layers(nl_model *m, const nl_pass *pass)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->vt->prepare)
            m->layers[i]->vt->prepare(m->layers[i], pass);
}

void nl_model_prepare_forward(nl_model *m, int n, nl_mode mode)
{
    const nl_pass pass = forward_pass(m, n, mode);
    prepare_layers(m, &pass);
}

void nl_model_upload_scalars(nl_model *m)
{
    m->be->ops->upload(m->be, m->scalars, m->scalars_host, (size_t)m->n_scalars * sizeof(float));
}

void nl_model_launch_forward(nl_model *m, int n, nl_mode mode)
{
    const nl_pass pass = forward_pass(m, n, mode);
    for (int i = 0; i < m->n_layers; i++)
        m->layers[i]->vt->forward(m->layers[i], &pass);
    if (m->has_loss)
        m->be->ops->softmax_xent_forward(m->be, n * m->rows_per_sample, m->spec.classes,
                                         m->logits->data, m->labels, m->probs, m->metrics);
}

void nl_model_forward(nl_model *m, int n, nl_mode mode)
{
    nl_model_prepare_forward(m, n, mode);
    nl_model_upload_scalars(m);
    nl_model_launch_forward(m, n, mode);
}

void nl_model_recalibrate_forward(nl_model *m, int n, long recalibrated)
{
    nl_pass pass = forward_pass(m, n, NL_MODE_RECALIBRATE);
    /* one process's statistics; only the running statistics are kept */
    pass.dist = NULL;
    pass.step = 0;
    pass.record_max_logit = false;
    pass.recalibrated = recalibrated;
    prepare_layers(m, &pass);
    nl_model_upload_scalars(m);
    for (int i = 0; i < m->n_layers; i++)
        m->layers[i]->vt->forward(m->layers[i], &pass);
}

void nl_model_backward(nl_model *m, int n)
{
    nl_pass pass = {.be = m->be, .dist = m->dist, .n = n, .mode = NL_MODE_TRAIN, .workspace = m->workspace,
                    .workspace_bytes = m->workspace_bytes, .step = m->step, .scalars = m->scalars};
    m->be->ops->softmax_xent_backward(m->be, n * m->rows_per_sample, m->spec.classes, m->probs,
                                      m->labels, m->logits->grad);
    if (m->loss_scale)
        m->be->ops->scale_check_finite(m->be, (size_t)n * nl_shape_per_sample(m->logits->shape),
                                       m->logits->grad, m->loss_scale, m->loss_scale_flag,
                                       m->loss_scale_slots);
    for (int i = m->n_layers - 1; i >= 0; i--)
        m->layers[i]->vt->backward(m->layers[i], &pass);
}

void nl_model_backward_from(nl_model *m, int n, const float *output_grad)
{
    nl_pass pass = {.be = m->be, .dist = m->dist, .n = n, .mode = NL_MODE_TRAIN, .workspace = m->workspace,
                    .workspace_bytes = m->workspace_bytes, .step = m->step, .scalars = m->scalars};
    m->be->ops->upload(m->be, m->logits->grad, output_grad,
                       (size_t)n * nl_shape_per_sample(m->logits->shape) * sizeof *output_grad);
    for (int i = m->n_layers - 1; i >= 0; i--)
        m->layers[i]->vt->backward(m->layers[i], &pass);
}

void nl_model_read_metrics(nl_model *m, double out[2])
{
    m->be->ops->download(m->be, out, m->metrics, 2 * sizeof(double));
    if (m->dist)
        nl_dist_sum(m->dist, out, 2);
}

nl_code nl_model_set_dist(nl_model *m, nl_dist *dist, nl_error *err)
{
    m->dist = dist;
    if (nl_dist_size(dist) == 1)
        return NL_OK;
    /* the largest collective: the gradients, or three doubles per channel
     * (and a count) of a normalizer that synchronizes its statistics */
    int widest = 0;
    for (int i = 0; i < m->n_acts; i++)
        if (m->acts[i]->shape.c > widest)
            widest = m->acts[i]->shape.c;
    /* the gradients and one float for the ranks' stop requests */
    size_t bytes = (m->param_floats + 1) * sizeof(float);
    if ((3 * (size_t)widest + 1) * sizeof(double) > bytes)
        bytes = (3 * (size_t)widest + 1) * sizeof(double);
    nl_code rc = nl_dist_reserve(dist, bytes, err);
    if (rc)
        return rc;
    const size_t staged = m->param_floats + 1 > m->state_floats ? m->param_floats + 1
                                                                 : m->state_floats;
    free(m->host_staging);
    m->host_staging = nl_malloc(staged * sizeof(float));
    if (!m->host_staging)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory staging %zu values for the ranks", staged);
    return NL_OK;
}

bool nl_model_reduce_gradients(nl_model *m, bool stop_here)
{
    if (nl_dist_size(m->dist) == 1)
        return stop_here;
    /* host-staged: a copy on the CPU backend, the PCIe round trip on CUDA;
     * the stop request is the float after the gradients, whose mean is
     * positive when any rank's is */
    const size_t bytes = m->param_floats * sizeof(float);
    if (bytes)
        m->be->ops->download(m->be, m->host_staging, m->grad_arena, bytes);
    m->host_staging[m->param_floats] = stop_here ? 1.0f : 0.0f;
    nl_dist_mean_floats(m->dist, m->host_staging, m->param_floats + 1);
    if (bytes)
        m->be->ops->upload(m->be, m->grad_arena, m->host_staging, bytes);
    return m->host_staging[m->param_floats] > 0.0f;
}

void nl_model_share_state(nl_model *m)
{
    if (nl_dist_size(m->dist) == 1 || m->state_floats == 0)
        return;
    const size_t bytes = m->state_floats * sizeof(float);
    m->be->ops->download(m->be, m->host_staging, m->state_arena, bytes);
    nl_dist_broadcast(m->dist, m->host_staging, bytes);
    m->be->ops->upload(m->be, m->state_arena, m->host_staging, bytes);
}

const nl_layer *nl_model_per_rank_layer(const nl_model *m)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->per_rank)
            return m->layers[i];
    return NULL;
}

void nl_model_reset_metrics(nl_model *m)
{
    const double zero[2] = {0.0, 0.0};
    nl_model_write_metrics(m, zero);
}

void nl_model_write_metrics(nl_model *m, const double in[2])
{
    m->be->ops->upload(m->be, m->metrics, in, 2 * sizeof(double));
}

nl_param *nl_model_param(const nl_model *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i]->name, name) == 0)
            return m->params[i];
    return NULL;
}

nl_state *nl_model_state(const nl_model *m, const char *name)
{
    for (int i = 0; i < m->n_states; i++)
        if (strcmp(m->states[i]->name, name) == 0)
            return m->states[i];
    return NULL;
}

nl_act *nl_model_act(const nl_model *m, const char *name)
{
    for (int i = 0; i < m->n_acts; i++)
        if (strcmp(m->acts[i]->name, name) == 0)
            return m->acts[i];
    /* "<layer>.in": what the layer reads, e.g. act3.in is the input of the
     * third activation with or without a normalizer before it */
    const size_t len = strlen(name);
    if (len > 3 && strcmp(name + len - 3, ".in") == 0) {
        for (int i = 0; i < m->n_layers; i++)
            if (strncmp(m->layers[i]->name, name, len - 3) == 0 &&
                m->layers[i]->name[len - 3] == '\0')
                return m->layers[i]->in[0];
    }
    return NULL;
}

size_t nl_model_param_total(const nl_model *m)
{
    size_t total = 0;
    for (int i = 0; i < m->n_params; i++)
        total += m->params[i]->count;
    return total;
}

/* whether a parameter is named after the layer ("<layer>.weight") or is
 * the layer's name itself (a class token) */
static bool layer_has_params(const nl_model *m, const nl_layer *l)
{
    const size_t len = strlen(l->name);
    for (int k = 0; k < m->n_params; k++) {
        const char *name = m->params[k]->name;
        if (strncmp(name, l->name, len) == 0 && (name[len] == '.' || name[len] == '\0'))
            return true;
    }
    return false;
}

static const nl_act *act_root(const nl_act *a)
{
    while (a->alias_of)
        a = a->alias_of;
    return a;
}

/* whether `a` depends on a parameter, from the layers before `before`
 * (carries[j]: layer j's output does); the model's input does not */
static bool act_carries(const nl_model *m, const bool *carries, int before, const nl_act *a)
{
    a = act_root(a);
    for (int j = before - 1; j >= 0; j--)
        if (act_root(m->layers[j]->out) == a)
            return carries[j];
    return false;
}

void nl_model_flops(const nl_model *m, int batch, nl_step_flops *out)
{
    bool *carries = calloc((size_t)m->n_layers + 1, sizeof *carries);
    if (!carries) {
        *out = (nl_step_flops){NAN, NAN, NAN};
        return;
    }
    nl_step_flops per_sample = {0};
    for (int i = 0; i < m->n_layers; i++) {
        const nl_layer *l = m->layers[i];
        nl_layer_flops f;
        l->vt->flops(l, &f);
        bool grad_in = false;
        for (int k = 0; k < l->n_in; k++)
            grad_in = grad_in || act_carries(m, carries, i, l->in[k]);
        carries[i] = grad_in || layer_has_params(m, l);
        per_sample.forward += f.forward;
        per_sample.backward += f.weight_grad + f.state_grad + (grad_in ? f.input_grad : 0.0);
        per_sample.values += f.values;
    }
    free(carries);
    *out = (nl_step_flops){.forward = per_sample.forward * batch,
                           .backward = per_sample.backward * batch,
                           .values = per_sample.values * batch};
}

double nl_model_forward_flops(const nl_model *m)
{
    nl_step_flops f;
    nl_model_flops(m, 1, &f);
    return f.forward;
}

/* "(N, 64)" or "(N, 32, 14, 14)" */
static const char *shape_text(nl_shape s, char *buf, size_t size)
{
    if (s.ndim == 2)
        snprintf(buf, size, "(N, %d)", s.c);
    else if (s.ndim == 3)
        snprintf(buf, size, "(N, %d, %d)", s.h, s.c);
    else
        snprintf(buf, size, "(N, %d, %d, %d)", s.c, s.h, s.w);
    return buf;
}

/* a layer's kind with what was fused into it: "batchnorm+add+relu" */
static const char *kind_text(const nl_layer *l, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", l->vt->kind, l->fused ? "+" : "", l->fused ? l->fused : "");
    return buf;
}

/* an activation's layout as oneDNN names it: nchw, nChw16c; "-" for
 * feature and token vectors, which have one */
static const char *layout_text(nl_shape s, char *buf, size_t size)
{
    if (s.ndim != 4)
        snprintf(buf, size, "-");
    else if (s.block)
        snprintf(buf, size, "nChw%dc", s.block);
    else
        snprintf(buf, size, "nchw");
    return buf;
}

/* how the plan's precision pass stores an output (nl_shape's value_store,
 * grad_store): the one type, or value/gradient where they differ */
static const char *stored_text(nl_shape s, char *buf, size_t size)
{
    if (s.value_store == s.grad_store)
        return nl_storage_table[s.value_store].name;
    snprintf(buf, size, "%s/%s", nl_storage_table[s.value_store].name,
             nl_storage_table[s.grad_store].name);
    return buf;
}

void nl_model_summary(const nl_model *m, nl_buf *out)
{
    char shape[64], kind[96], layout[16], stored[16];
    /* columns as wide as their longest entry (a ResNet's layer names) */
    int name_w = (int)strlen("layer"), kind_w = (int)strlen("kind");
    for (int i = 0; i < m->n_layers; i++) {
        const int nw = (int)strlen(m->layers[i]->name);
        const int kw = (int)strlen(kind_text(m->layers[i], kind, sizeof kind));
        name_w = nw > name_w ? nw : name_w;
        kind_w = kw > kind_w ? kw : kind_w;
    }
    /* the stored column where the plan stores some activation other than
     * as fp32 */
    bool stores = false;
    for (int i = 0; i < m->n_acts; i++)
        stores |= m->acts[i]->shape.value_store || m->acts[i]->shape.grad_store;
    nl_buf_printf(out, "  %-*s %-*s %-20s %-8s %10s%s\n", name_w, "layer", kind_w, "kind", "output",
                  "layout", "parameters", stores ? "  stored" : "");
    nl_buf_printf(out, "  %-*s %-*s %-20s %-8s %10s%s%s\n", name_w, "input", kind_w, "",
                  shape_text(m->input->shape, shape, sizeof shape),
                  layout_text(m->input->shape, layout, sizeof layout), "", stores ? "  " : "",
                  stores ? stored_text(m->input->shape, stored, sizeof stored) : "");
    for (int i = 0; i < m->n_layers; i++) {
        const nl_layer *l = m->layers[i];
        size_t params = 0;
        const size_t len = strlen(l->name);
        for (int k = 0; k < m->n_params; k++)
            if (strncmp(m->params[k]->name, l->name, len) == 0 && m->params[k]->name[len] == '.')
                params += m->params[k]->count;
        nl_buf_printf(out, "  %-*s %-*s %-20s %-8s %10zu%s%s\n", name_w, l->name, kind_w,
                      kind_text(l, kind, sizeof kind), shape_text(l->out->shape, shape, sizeof shape),
                      layout_text(l->out->shape, layout, sizeof layout), params,
                      stores ? "  " : "", stores ? stored_text(l->out->shape, stored, sizeof stored) : "");
    }
    size_t norm_params = 0, running = 0;
    for (int k = 0; k < m->n_params; k++)
        norm_params += m->params[k]->is_norm_or_bias ? m->params[k]->count : 0;
    for (int k = 0; k < m->n_states; k++)
        running += m->states[k]->count;
    nl_buf_printf(out, "  %zu parameters (%zu in normalizers and biases), %zu running statistics\n",
                  nl_model_param_total(m), norm_params, running);
    nl_buf_printf(out, "  %.2f MFLOP per sample forward; %.1f MB planned for batches of up to %d\n",
                  nl_model_forward_flops(m) / 1e6, m->planned.total / 1e6, m->capacity);
}
