/* The model's planner: what the layer constructors declared to the builder
 * (layers/builder.c) planned and allocated in a handful of arenas. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "layers/builder.h"
#include "model/model.h"

static nl_act *root_of(nl_act *a)
{
    while (a->alias_of)
        a = a->alias_of;
    return a;
}

/* ------------------------------------------------------------------------ */

static size_t round_floats(size_t n) { return (n + 15) & ~(size_t)15; }
static size_t round_bytes(size_t n) { return (n + 63) & ~(size_t)63; }
static double round_floats_d(double n) { return ceil(n / 16) * 16; }
static double round_bytes_d(double n) { return ceil(n / 64) * 64; }

/* The planner's backward bookkeeping: backward runs layers in reverse, so
 * the last consumer of a tensor writes its gradient and earlier consumers add
 * to it. */
static void plan_gradient_accumulation(nl_model *m)
{
    for (int i = 0; i < m->n_acts; i++)
        m->acts[i]->consumers = 0;
    for (int li = m->n_layers - 1; li >= 0; li--) {
        nl_layer *l = m->layers[li];
        for (int k = 0; k < l->n_in; k++) {
            nl_act *r = root_of(l->in[k]);
            l->accumulate_din[k] = r->consumers > 0;
            r->consumers++;
        }
    }
}

/* each parameter's place in the arenas, decayed parameters first (so that
 * excluding the others is a split of an arena), planned with the graph */
static void plan_parameter_offsets(nl_model *m)
{
    size_t offset = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            m->decay_floats = offset;
        for (int i = 0; i < m->n_params; i++) {
            nl_param *p = m->params[i];
            if ((pass == 0) != !p->is_norm_or_bias)
                continue;
            p->offset = offset;
            offset += round_floats(p->count);
        }
    }
    m->param_floats = offset;
}

static nl_code allocate(nl_model *m, nl_backend *be, size_t bytes, void **out, nl_error *err)
{
    if (bytes == 0) {
        *out = NULL;
        return NL_OK;
    }
    nl_code rc = be->ops->alloc(be, bytes, out, err);
    if (rc == NL_OK)
        m->device_bytes += bytes;
    return rc;
}

/* NL_FILL_ROW_NORMS: host[i] = ||row i of p->fill_rows_of||, from the
 * values that parameter was given (filled and uploaded before p) */
static nl_code fill_row_norms(nl_backend *be, const nl_param *p, float *host, nl_error *err)
{
    const nl_param *rows = p->fill_rows_of;
    float *values = nl_malloc(rows->count * sizeof *values);
    if (!values)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory initializing %s", p->name);
    be->ops->download(be, values, rows->data, rows->count * sizeof *values);
    const size_t row_len = rows->count / p->count;
    for (size_t i = 0; i < p->count; i++) {
        double sum = 0.0;
        for (size_t j = 0; j < row_len; j++)
            sum += (double)values[i * row_len + j] * values[i * row_len + j];
        host[i] = (float)sqrt(sum);
    }
    free(values);
    return NL_OK;
}

/* the parameters' value, gradient and optimizer-state arenas (decayed
 * parameters first, so that excluding the others is a split of an arena),
 * the clipping slots and the per-step scalars, all zero */
static nl_code allocate_parameters(nl_model *m, nl_error *err)
{
    nl_backend *be = m->be;
    const size_t total_floats = m->param_floats;
    const size_t optim_floats = total_floats * (size_t)m->spec.optimizer_state_slots;
    nl_code rc;
    if ((rc = allocate(m, be, total_floats * sizeof(float), (void **)&m->param_arena, err)) ||
        (rc = allocate(m, be, total_floats * sizeof(float), (void **)&m->grad_arena, err)) ||
        (rc = allocate(m, be, optim_floats * sizeof(float), (void **)&m->optim_arena, err)) ||
        (rc = allocate(m, be, NL_CLIP_SLOTS * sizeof(double), (void **)&m->clip_slots, err)) ||
        (rc = allocate(m, be, (size_t)m->n_scalars * sizeof(float), (void **)&m->scalars, err)))
        return rc;
    /* the host image starts at zero and the block with it: no kernel reads
     * memory nobody wrote */
    m->scalars_host = nl_calloc((size_t)m->n_scalars, sizeof(float));
    if (!m->scalars_host)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for %d per-step scalars", m->n_scalars);
    nl_model_upload_scalars(m);
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        p->data = m->param_arena + p->offset;
        p->grad = m->grad_arena + p->offset;
        p->velocity = m->optim_arena + p->offset;
    }
    if (total_floats) {
        /* padding between parameters stays zero so whole-arena ops are harmless */
        be->ops->fill(be, m->param_arena, 0.0f, total_floats);
        be->ops->fill(be, m->grad_arena, 0.0f, total_floats);
        be->ops->fill(be, m->optim_arena, 0.0f, optim_floats);
    }
    /* the clipping norms' sum starts at zero (and nothing reads memory
     * nobody wrote) */
    static const double zero_slots[NL_CLIP_SLOTS];
    be->ops->upload(be, m->clip_slots, zero_slots, sizeof zero_slots);
    return NL_OK;
}

/* the running statistics' arena, each at its initial value */
static nl_code allocate_states(nl_model *m, nl_error *err)
{
    nl_backend *be = m->be;
    size_t state_floats = 0;
    for (int i = 0; i < m->n_states; i++)
        state_floats += round_floats(m->states[i]->count);
    m->state_floats = state_floats;
    nl_code rc;
    if ((rc = allocate(m, be, state_floats * sizeof(float), (void **)&m->state_arena, err)))
        return rc;
    /* the padding between statistics is zero too: checkpoints and final
     * models copy the whole arena, and a file must not depend on what the
     * allocator's memory held before */
    if (state_floats)
        be->ops->fill(be, m->state_arena, 0.0f, state_floats);
    size_t offset = 0;
    for (int i = 0; i < m->n_states; i++) {
        nl_state *s = m->states[i];
        s->data = m->state_arena + offset;
        offset += round_floats(s->count);
        be->ops->fill(be, s->data, s->init_value, s->count);
    }
    return NL_OK;
}

/* bytes of one value of a's values or gradient (their storage type) */
static size_t value_bytes(const nl_act *a, bool grad)
{
    return nl_storage_bytes(grad ? a->shape.grad_store : a->shape.value_store);
}

/* the activations and their gradients; an alias shares its root's */
static nl_code allocate_activations(nl_model *m, nl_error *err)
{
    size_t act_bytes = 0;
    for (int i = 0; i < m->n_acts; i++) {
        nl_act *a = m->acts[i];
        if (a->alias_of)
            continue;
        act_bytes += round_bytes(nl_shape_count(a->shape) * value_bytes(a, false));
        if (a->needs_grad)
            act_bytes += round_bytes(nl_shape_count(a->shape) * value_bytes(a, true));
    }
    nl_code rc;
    if ((rc = allocate(m, m->be, act_bytes, &m->act_arena, err)))
        return rc;
    char *cursor = m->act_arena;
    for (int i = 0; i < m->n_acts; i++) {
        nl_act *a = m->acts[i];
        if (a->alias_of)
            continue;
        a->data = (float *)cursor;
        cursor += round_bytes(nl_shape_count(a->shape) * value_bytes(a, false));
        if (a->needs_grad) {
            a->grad = (float *)cursor;
            cursor += round_bytes(nl_shape_count(a->shape) * value_bytes(a, true));
        }
    }
    for (int i = 0; i < m->n_acts; i++) {
        nl_act *a = m->acts[i];
        if (a->alias_of) {
            a->data = a->alias_of->data;
            a->grad = a->alias_of->grad;
        }
    }
    return NL_OK;
}

static size_t workspace_bytes(const nl_model *m, nl_backend *be);

/* one arena for the layers' saved buffers (constants uploaded), then the
 * labels, probabilities and metrics; then the workspace */
static nl_code allocate_saved_and_workspace(nl_model *m, nl_error *err)
{
    nl_backend *be = m->be;
    const nl_graph_needs *b = m->needs;
    const int classes = m->spec.classes;
    size_t saved_bytes = 0;
    for (int i = 0; i < b->n_saved; i++)
        saved_bytes += round_bytes(b->saved[i].bytes);
    const size_t rows = (size_t)m->capacity * m->rows_per_sample;
    size_t labels_bytes = round_bytes(rows * sizeof(int32_t));
    size_t probs_bytes = round_bytes(rows * classes * sizeof(float));
    size_t metrics_bytes = round_bytes(2 * sizeof(double));
    nl_code rc;
    if ((rc = allocate(m, be, saved_bytes + labels_bytes + probs_bytes + metrics_bytes,
                       &m->saved_arena, err)))
        return rc;
    char *cursor = m->saved_arena;
    for (int i = 0; i < b->n_saved; i++) {
        *b->saved[i].slot = cursor;
        if (b->saved[i].initial)
            be->ops->upload(be, cursor, b->saved[i].initial, b->saved[i].bytes);
        cursor += round_bytes(b->saved[i].bytes);
    }
    m->labels = (int32_t *)cursor;
    cursor += labels_bytes;
    m->probs = (float *)cursor;
    cursor += probs_bytes;
    m->metrics = (double *)cursor;
    nl_model_reset_metrics(m);

    m->workspace_bytes = workspace_bytes(m, be);
    return allocate(m, be, m->workspace_bytes, &m->workspace, err);
}

/* host[0..count) of a parameter's initial values; NL_FILL_ROW_NORMS draws
 * nothing and is filled later from its rows */
static void draw_param_values(const nl_param *p, nl_rng *rng, float *host)
{
    for (size_t k = 0; k < p->count; k++) {
        switch (p->fill) {
        case NL_FILL_ZEROS:
            host[k] = 0.0f;
            break;
        case NL_FILL_ONES:
            host[k] = 1.0f;
            break;
        case NL_FILL_NORMAL:
            host[k] = (float)(nl_rng_normal(rng) * p->std);
            break;
        case NL_FILL_CONSTANT:
            host[k] = p->std;
            break;
        case NL_FILL_UNIFORM:
            host[k] = (2.0f * nl_rng_uniform(rng) - 1.0f) * p->std;
            break;
        case NL_FILL_ROW_NORMS:
            host[k] = 0.0f; /* below, from the rows' values: no draw */
            break;
        }
    }
}

/* host[0..count) of a unit-normal state: a random direction of norm 1 */
static void draw_unit_direction(const nl_state *s, nl_rng *rng, float *host)
{
    double sum_squares = 0.0;
    for (size_t k = 0; k < s->count; k++) {
        host[k] = (float)nl_rng_normal(rng);
        sum_squares += (double)host[k] * host[k];
    }
    const double norm = sqrt(sum_squares);
    for (size_t k = 0; k < s->count; k++)
        host[k] = (float)(host[k] / (norm > 1e-12 ? norm : 1e-12));
}

/* initial values, drawn on the host from the seed in one stream: the
 * parameters in order, then the unit-normal states */
static nl_code initialize_values(nl_model *m, uint64_t seed, nl_error *err)
{
    nl_backend *be = m->be;
    size_t largest = 0;
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i]->count > largest)
            largest = m->params[i]->count;
    for (int i = 0; i < m->n_states; i++)
        if (m->states[i]->unit_normal && m->states[i]->count > largest)
            largest = m->states[i]->count;
    float *host = nl_malloc((largest ? largest : 1) * sizeof *host);
    if (!host)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory initializing parameters");
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_INIT);
    nl_code rc;
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        draw_param_values(p, &rng, host);
        if (p->fill == NL_FILL_ROW_NORMS && (rc = fill_row_norms(be, p, host, err))) {
            free(host);
            return rc;
        }
        be->ops->upload(be, p->data, host, p->count * sizeof *host);
    }
    for (int i = 0; i < m->n_states; i++) {
        nl_state *s = m->states[i];
        if (!s->unit_normal)
            continue;
        draw_unit_direction(s, &rng, host);
        be->ops->upload(be, s->data, host, s->count * sizeof *host);
    }
    rc = be->ops->synchronize(be, err);
    free(host);
    return rc;
}

/* every arena of the model, in the order planned_bytes counts them, then
 * the initial values */
static nl_code plan_and_allocate(nl_model *m, uint64_t seed, nl_error *err)
{
    nl_code rc;
    if ((rc = allocate_parameters(m, err)) || (rc = allocate_states(m, err)) ||
        (rc = allocate_activations(m, err)) || (rc = allocate_saved_and_workspace(m, err)))
        return rc;
    return initialize_values(m, seed, err);
}

/* a saved buffer's bytes on `be`: its own, or the device's answer */
static size_t saved_bytes_on(const nl_saved_request *r, nl_backend *be)
{
    return r->ask ? r->ask(be, r->what) : r->bytes;
}

/* the shared scratch on `be`: the largest of the layers' own sizes and
 * the device's answers */
static size_t workspace_bytes(const nl_model *m, nl_backend *be)
{
    const nl_graph_needs *n = m->needs;
    size_t bytes = n->workspace;
    for (int i = 0; i < n->n_workspaces; i++) {
        const size_t asked = n->workspaces[i].ask(be, n->workspaces[i].what);
        if (asked > bytes)
            bytes = asked;
    }
    return bytes;
}

/* What plan_and_allocate would take on `be`, in double so that an
 * impossible model gives a huge number rather than a wrapped one; the test
 * that builds a model checks the two agree. */
static nl_model_bytes planned_bytes(const nl_model *m, nl_backend *be)
{
    nl_model_bytes out = {0};
    const double floats = (double)sizeof(float);
    for (int i = 0; i < m->n_params; i++) {
        double count = 1;
        for (int d = 0; d < m->params[i]->ndim; d++)
            count *= m->params[i]->dims[d];
        /* value, gradient, optimizer state */
        out.parameters += (2 + m->spec.optimizer_state_slots) * floats * (double)round_floats_d(count);
    }
    /* the clipping slots and the per-step scalars are allocated alone, unrounded */
    double total = out.parameters + (double)(NL_CLIP_SLOTS * sizeof(double)) +
                   (double)m->n_scalars * sizeof(float);
    for (int i = 0; i < m->n_states; i++)
        total += floats * round_floats_d((double)m->states[i]->count);
    for (int i = 0; i < m->n_acts; i++) {
        const nl_act *a = m->acts[i];
        if (a->alias_of)
            continue;
        const double values = (double)a->shape.n * a->shape.c * a->shape.h * a->shape.w;
        total += round_bytes_d((double)value_bytes(a, false) * values);
        if (a->needs_grad)
            total += round_bytes_d((double)value_bytes(a, true) * values);
    }
    for (int i = 0; i < m->needs->n_saved; i++)
        total += round_bytes_d((double)saved_bytes_on(&m->needs->saved[i], be));
    const double rows = (double)m->capacity * m->rows_per_sample;
    total += round_bytes_d(rows * sizeof(int32_t));
    total += round_bytes_d(floats * rows * m->spec.classes);
    total += round_bytes_d(2 * sizeof(double));
    total += (double)workspace_bytes(m, be);
    out.total = total;
    return out;
}

/* the model owns what the builder made (nl_model_free releases it) */
static void take_lists(nl_model *m, nl_builder *b)
{
    m->layers = b->layers;
    m->n_layers = b->n_layers;
    m->acts = b->acts;
    m->n_acts = b->n_acts;
    m->params = b->params;
    m->n_params = b->n_params;
    m->states = b->states;
    m->n_states = b->n_states;
    m->counters = b->counters;
    m->n_counters = b->n_counters;
    m->norm_sites = b->norm_sites;
    m->n_norm_sites = b->n_norm_sites;
    *m->needs = b->needs;
    b->needs = (nl_graph_needs){0};
}

void nl_model_type_nodes(nl_model *graph, const nl_model_spec *spec)
{
    for (int k = 0; k < graph->n_acts; k++) {
        nl_shape *s = &graph->acts[k]->shape;
        const bool planned = k < NL_PLAN_STORED_ACTS;
        s->value_store = planned ? spec->value_store[k] : NL_STORAGE_FP32;
        s->grad_store = planned ? spec->grad_store[k] : NL_STORAGE_FP32;
    }
    for (int i = 0; i < graph->n_layers; i++)
        if (graph->layers[i]->vt->typed)
            graph->layers[i]->vt->typed(graph->layers[i]);
    memcpy(graph->spec.value_store, spec->value_store, sizeof spec->value_store);
    memcpy(graph->spec.grad_store, spec->grad_store, sizeof spec->grad_store);
}

/* the first kernel family a layer needs that `be` lacks: an error for the
 * device key */
static nl_code check_kernels(const nl_model *graph, const nl_backend *be, nl_error *err)
{
    const nl_graph_needs *n = graph->needs;
    for (int i = 0; i < n->n_kernels; i++) {
        if (n->kernels[i].has(be->ops))
            continue;
        nl_code rc = nl_fail(err, NL_ERR_UNSUPPORTED,
                             "layer %s: the %s backend has no %s kernels yet; use device: cpu",
                             n->kernels[i].layer, be->ops->name, n->kernels[i].family);
        nl_error_key(err, "device");
        return rc;
    }
    return NL_OK;
}

/* every model allocated (nl_model_allocations) */
static _Atomic int allocations;

int nl_model_allocations(void) { return allocations; }

nl_code nl_model_assemble(const nl_model_spec *spec, bool tokens, nl_backend *sizer, int capacity,
                          int train_batch, nl_graph_fn construct, void *ctx, bool with_loss,
                          nl_model **out, nl_error *err)
{
    if (out)
        *out = NULL;
    if (capacity < 1 || train_batch < 1 || train_batch > capacity)
        return nl_fail(err, NL_ERR_CONFIG, "model: batch sizes must be >= 1 (capacity %d, train %d)",
                       capacity, train_batch);
    nl_builder b = {.capacity = capacity, .train_batch = train_batch,
                    .precision = spec->product_precision, .err = err,
                    .n_scalars = NL_OPTIM_SCALARS};
    nl_model *m = nl_calloc(1, sizeof *m);
    if (m && !(m->needs = nl_calloc(1, sizeof *m->needs))) {
        free(m);
        m = NULL;
    }
    if (!m)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory building the model");
    m->spec = *spec;
    m->capacity = capacity;
    m->train_batch = train_batch;

    /* token ids (N, T) are held in an (N, T, 1) activation's slots */
    const nl_shape input_shape =
        tokens ? (nl_shape){.n = capacity, .c = 1, .h = spec->context, .w = 1, .ndim = 3}
               : (nl_shape){.n = capacity, .c = spec->in_c, .h = spec->in_h, .w = spec->in_w,
                            .ndim = 4};
    nl_act *input = nl_builder_act(&b, "input", input_shape);
    nl_act *logits = NULL;
    if (input) {
        input->needs_grad = 0; /* nothing upstream of the data */
        logits = construct(&b, input, ctx);
    }
    take_lists(m, &b);
    if (!logits || b.failed) {
        if (!b.failed)
            nl_builder_fail(&b, NL_ERR_CONFIG, "model: the architecture produced no output");
        nl_model_free(m);
        return err ? err->code : NL_ERR_CONFIG;
    }
    m->has_loss = with_loss;
    const int logits_ndim = tokens ? 3 : 2;
    if (m->has_loss && (logits->shape.ndim != logits_ndim || logits->shape.c != spec->classes)) {
        nl_model_free(m);
        return nl_fail(err, NL_ERR_RUNTIME, "model: logits have the wrong shape");
    }
    plan_gradient_accumulation(m);
    plan_parameter_offsets(m);
    m->n_scalars = b.n_scalars;
    m->input = input;
    m->logits = logits;
    m->rows_per_sample = nl_shape_rows_per_sample(logits->shape);
    nl_model_type_nodes(m, spec);
    if (sizer) {
        /* a device without a layer's kernels cannot size it, nor run it */
        nl_code rc = check_kernels(m, sizer, err);
        if (rc != NL_OK) {
            nl_model_free(m);
            return rc;
        }
        m->planned = planned_bytes(m, sizer);
    }
    /* the graph is kept (without memory) only when asked for */
    if (out)
        *out = m;
    else
        nl_model_free(m);
    return NL_OK;
}

nl_code nl_model_alloc(nl_model *graph, nl_backend *be, uint64_t seed, nl_model **out,
                       nl_error *err)
{
    *out = NULL;
    if (graph->be) {
        nl_model_free(graph);
        return nl_fail(err, NL_ERR_RUNTIME, "model: a graph is allocated once");
    }
    nl_code rc = check_kernels(graph, be, err);
    if (rc != NL_OK) {
        nl_model_free(graph);
        return rc;
    }
    nl_graph_needs *n = graph->needs;
    for (int i = 0; i < n->n_seeds; i++)
        *n->seeds[i] = seed;
    /* what the device decides, asked once: the bytes allocated are the
     * bytes planned on it */
    for (int i = 0; i < n->n_saved; i++) {
        n->saved[i].bytes = saved_bytes_on(&n->saved[i], be);
        n->saved[i].ask = NULL;
    }
    n->workspace = workspace_bytes(graph, be);
    n->n_workspaces = 0;
    graph->be = be;
    graph->planned = planned_bytes(graph, be);
    allocations++;
    rc = plan_and_allocate(graph, seed, err);
    if (rc != NL_OK) {
        nl_model_free(graph);
        return rc;
    }
    *out = graph;
    return NL_OK;
}

void nl_model_free(nl_model *m)
{
    if (!m)
        return;
    nl_backend *be = m->be;
    if (be && be->ops) {
        void *arenas[] = {m->param_arena, m->grad_arena, m->optim_arena, m->clip_slots,
                          m->scalars,     m->state_arena, m->act_arena,  m->saved_arena,
                          m->workspace};
        for (size_t i = 0; i < sizeof arenas / sizeof arenas[0]; i++)
            if (arenas[i])
                be->ops->release(be, arenas[i]);
    }
    for (int i = 0; i < m->n_acts; i++)
        free(m->acts[i]);
    for (int i = 0; i < m->n_params; i++)
        free(m->params[i]);
    for (int i = 0; i < m->n_states; i++)
        free(m->states[i]);
    for (int i = 0; i < m->n_layers; i++)
        nl_layer_free(m->layers[i]);
    free(m->acts);
    free(m->params);
    free(m->states);
    free(m->layers);
    free(m->counters);
    free(m->norm_sites);
    free(m->host_staging);
    free(m->scalars_host);
    if (m->needs)
        nl_graph_needs_release(m->needs);
    free(m->needs);
    free(m);
}
