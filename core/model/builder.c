/* The builder collects what layer constructors declare, then plans and
 * allocates all memory of the model in a handful of arenas. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "model/model.h"

typedef struct {
    void **slot;
    size_t bytes;
    const void *initial; /* host bytes uploaded once allocated (nl_builder_constant); NULL: none */
} saved_request;

struct nl_builder {
    nl_backend *be;
    bool plan_only; /* nl_model_check: shapes and errors, no memory */
    int capacity;   /* the largest batch */
    int train_batch;
    uint64_t seed;
    nl_error *err;
    bool failed;

    nl_act **acts;
    int n_acts, cap_acts;
    nl_param **params;
    int n_params, cap_params;
    nl_state **states;
    int n_states, cap_states;
    nl_layer **layers;
    int n_layers, cap_layers;
    saved_request *saved;
    int n_saved, cap_saved;
    long **counters;
    int n_counters, cap_counters;
    int n_scalars; /* the per-step scalar block, optimizer arguments first */
    size_t workspace;
    int block; /* nl_builder_set_block */
    bool out_of_memory;
    /* What a constructor gets when its allocation fails, so that it can
     * finish without checking: never added to the lists, never freed. One
     * set per builder, as models are built on several threads at once (a
     * sweep's runs). The layer's bytes cover the largest layer struct; a
     * constructor only computes pointers into what follows it. */
    _Alignas(64) unsigned char spare_layer[4096];
    nl_param spare_param;
    nl_state spare_state;
};

/* out of memory: the first error names it, later ones add nothing */
static void fail_nomem(nl_builder *b)
{
    b->out_of_memory = true;
    nl_builder_fail(b, NL_ERR_NOMEM, "out of memory while building the model");
}

/* grows a pointer array; on failure marks the builder and returns false */
static bool grow(nl_builder *b, void **array, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return true;
    int next = *cap ? *cap * 2 : 16;
    while (next < need)
        next *= 2;
    void *p = nl_realloc(*array, (size_t)next * elem);
    if (!p) {
        fail_nomem(b);
        return false;
    }
    *array = p;
    *cap = next;
    return true;
}

nl_code nl_builder_fail(nl_builder *b, nl_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nl_vfail(b->err, code, fmt, ap);
    va_end(ap);
    b->failed = true;
    return code;
}

bool nl_builder_failed(const nl_builder *b) { return b->failed; }
void nl_builder_key(nl_builder *b, const char *key) { nl_error_key(b->err, key); }
void nl_builder_with_key(nl_builder *b, const char *key) { nl_error_with_key(b->err, key); }

bool nl_builder_window_fits(nl_builder *b, const char *name, const char *lead, const char *noun,
                            int kernel_h, int kernel_w, int stride, int pad, int in_h, int in_w,
                            int *out_h, int *out_w)
{
    *out_h = (in_h + 2 * pad - kernel_h) / stride + 1;
    *out_w = (in_w + 2 * pad - kernel_w) / stride + 1;
    if (in_h + 2 * pad >= kernel_h && in_w + 2 * pad >= kernel_w && *out_h >= 1 && *out_w >= 1)
        return true;
    nl_builder_fail(b, NL_ERR_CONFIG,
                    "layer %s: %s%dx%d%s does not fit its %dx%d input (too many stages for this "
                    "image size?)",
                    name, lead, kernel_h, kernel_w, noun, in_h, in_w);
    nl_builder_key(b, "model.widths");
    return false;
}

bool nl_builder_has_kernels(nl_builder *b, const char *name, const char *family, bool present)
{
    if (present)
        return true;
    nl_builder_fail(b, NL_ERR_UNSUPPORTED,
                    "layer %s: the %s backend has no %s kernels yet; use device: cpu", name,
                    b->be->ops->name, family);
    nl_builder_key(b, "device");
    return false;
}
nl_backend *nl_builder_backend(nl_builder *b) { return b->be; }
int nl_builder_train_batch(nl_builder *b) { return b->train_batch; }

uint64_t nl_builder_seed(nl_builder *b) { return b->seed; }

void *nl_builder_layer_alloc(nl_builder *b, size_t bytes)
{
    /* layer structs are host memory owned by the model; a failed calloc
     * is reported through the builder and the builder's spare keeps callers
     * simple (nl_builder_add leaves it out) */
    void *p = nl_calloc(1, bytes);
    if (!p) {
        fail_nomem(b);
        memset(b->spare_layer, 0, sizeof b->spare_layer);
        return b->spare_layer;
    }
    return p;
}

/* The layers count a batch's rows, token rows of (N, T, D) included, and a
 * sample's values (a flattened width) in an int. A tensor past either is
 * refused here, where every tensor is declared, before a constructor
 * multiplies its dimensions: eval_batch_size 2^20 of 2^16-token contexts,
 * a ViT's 2^20 patches in batches of 4096, a CNN stage of 8192 channels of
 * 512x512 (whose flat width wrapped to a negative classifier). Each key is
 * within its own bound; it is their product that is not. */
static bool shape_fits(nl_builder *b, const char *name, nl_shape shape)
{
    const int tokens = nl_shape_rows_per_sample(shape);
    const double rows = (double)shape.n * tokens;
    if (rows > INT_MAX) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: batches of %d samples of %d tokens are %.0f token rows, more "
                        "than the layers count (%d); make the batch or the tokens per sample "
                        "smaller",
                        name, shape.n, tokens, rows, INT_MAX);
        nl_builder_key(b, b->capacity > b->train_batch ? "train.eval_batch_size"
                                                       : "train.batch_size");
        return false;
    }
    const double per_sample = (double)shape.c * shape.h * shape.w;
    if (per_sample > INT_MAX) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: %.0f values per sample (%d x %d x %d), more than the layers "
                        "count (%d); make the %s smaller",
                        name, per_sample, shape.c, shape.h, shape.w, INT_MAX,
                        shape.ndim == 3 ? "model or the tokens per sample" : "widths or the image");
        nl_builder_key(b, shape.ndim == 3 ? "model.d_model" : "model.widths");
        return false;
    }
    return true;
}

static nl_act *new_act(nl_builder *b, const char *name, nl_shape shape)
{
    if (!shape_fits(b, name, shape))
        return NULL;
    if (!grow(b, (void **)&b->acts, &b->cap_acts, b->n_acts + 1, sizeof *b->acts))
        return NULL;
    nl_act *a = nl_calloc(1, sizeof *a);
    if (!a) {
        fail_nomem(b);
        return NULL;
    }
    snprintf(a->name, sizeof a->name, "%s", name);
    a->shape = shape;
    b->acts[b->n_acts++] = a;
    return a;
}

nl_act *nl_builder_act(nl_builder *b, const char *name, nl_shape shape)
{
    nl_act *a = new_act(b, name, shape);
    if (a)
        a->needs_grad = 1;
    return a;
}

nl_act *nl_builder_alias(nl_builder *b, const char *name, nl_act *of, nl_shape shape)
{
    nl_act *a = new_act(b, name, shape);
    if (a) {
        while (of->alias_of)
            of = of->alias_of;
        a->alias_of = of;
        a->needs_grad = of->needs_grad;
    }
    return a;
}

/* A zeroed object of `size` bytes with room made for it in its list (the
 * list's capacity `cap`, its count `n`, `item` bytes an entry); when memory
 * runs out the build fails and `spare`, zeroed, stands in, listed nowhere. */
static void *new_object(nl_builder *b, void **list, int *cap, int n, size_t item, size_t size,
                        void *spare)
{
    void *o = NULL;
    if (grow(b, list, cap, n + 1, item) && !(o = nl_calloc(1, size)))
        fail_nomem(b);
    if (o)
        return o;
    memset(spare, 0, size);
    return spare;
}

nl_param *nl_builder_param(nl_builder *b, const char *name, int ndim, const int *dims,
                           bool is_norm_or_bias, nl_fill fill, float std)
{
    nl_param *p = new_object(b, (void **)&b->params, &b->cap_params, b->n_params,
                             sizeof *b->params, sizeof *p, &b->spare_param);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->count = 1;
    for (int i = 0; i < ndim; i++) {
        p->dims[i] = dims[i];
        p->count *= (size_t)dims[i];
    }
    p->is_norm_or_bias = is_norm_or_bias;
    p->decay = true;
    p->fill = fill;
    p->std = std;
    if (p != &b->spare_param)
        b->params[b->n_params++] = p;
    return p;
}

nl_state *nl_builder_state(nl_builder *b, const char *name, size_t count, float init_value)
{
    nl_state *s = new_object(b, (void **)&b->states, &b->cap_states, b->n_states,
                             sizeof *b->states, sizeof *s, &b->spare_state);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->count = count;
    s->init_value = init_value;
    if (s != &b->spare_state)
        b->states[b->n_states++] = s;
    return s;
}

void nl_builder_counter(nl_builder *b, long *counter)
{
    if (grow(b, (void **)&b->counters, &b->cap_counters, b->n_counters + 1, sizeof *b->counters))
        b->counters[b->n_counters++] = counter;
}

void nl_builder_saved(nl_builder *b, void **slot, size_t bytes)
{
    if (!grow(b, (void **)&b->saved, &b->cap_saved, b->n_saved + 1, sizeof *b->saved))
        return;
    b->saved[b->n_saved++] = (saved_request){slot, bytes, NULL};
}

void nl_builder_constant(nl_builder *b, void **slot, const void *host, size_t bytes)
{
    if (!grow(b, (void **)&b->saved, &b->cap_saved, b->n_saved + 1, sizeof *b->saved))
        return;
    b->saved[b->n_saved++] = (saved_request){slot, bytes, host};
}

int nl_builder_scalars(nl_builder *b, int count)
{
    const int first = b->n_scalars;
    b->n_scalars += count;
    return first;
}

void nl_builder_set_block(nl_builder *b, int block) { b->block = block; }
int nl_builder_block(nl_builder *b) { return b->block; }

/* a layer that does not read the channel-blocked layout must not be handed
 * it: it would index a blocked tensor as NCHW and compute nonsense */
static bool reads_its_inputs(nl_builder *b, const nl_layer *l)
{
    for (int k = 0; k < l->n_in; k++)
        if (l->in[k] && l->in[k]->shape.block && !l->vt->takes_blocked) {
            nl_builder_fail(b, NL_ERR_CONFIG,
                            "blocked: layer %s (%s) does not read the channel-blocked layout; "
                            "accepted with it: nchw",
                            l->name, l->vt->kind);
            nl_builder_key(b, "model.layout");
            return false;
        }
    return true;
}

void nl_builder_workspace(nl_builder *b, size_t bytes)
{
    if (bytes > b->workspace)
        b->workspace = bytes;
}

void nl_builder_add(nl_builder *b, nl_layer *layer)
{
    /* the spare of a failed nl_builder_layer_alloc is the builder's own */
    if ((void *)layer == (void *)b->spare_layer)
        return;
    /* a kind that cannot say what it costs would read as free in every
     * FLOP count and share of peak: no model is built with one */
    if (!layer->vt->flops) {
        nl_builder_fail(b, NL_ERR_RUNTIME,
                        "layer %s: kind %s reports no FLOP count (nl_layer_vtable.flops)",
                        layer->name, layer->vt->kind);
        free(layer);
        return;
    }
    /* a layer the list cannot take is freed here, as the model would */
    if (!reads_its_inputs(b, layer) ||
        !grow(b, (void **)&b->layers, &b->cap_layers, b->n_layers + 1, sizeof *b->layers)) {
        free(layer);
        return;
    }
    b->layers[b->n_layers++] = layer;
}

nl_act *nl_builder_fuse_relu(nl_builder *b, const char *name, nl_act *in, nl_act *skip)
{
    if (b->failed || b->n_layers == 0 || !in || in->alias_of)
        return NULL;
    nl_layer *last = b->layers[b->n_layers - 1];
    if (last->out != in || !last->vt->fuse_relu)
        return NULL;
    for (int i = 0; i < b->n_acts; i++)
        if (b->acts[i]->alias_of == in)
            return NULL; /* a view of it may be read */
    for (int i = 0; i < b->n_layers; i++)
        for (int k = 0; k < b->layers[i]->n_in; k++)
            if (b->layers[i]->in[k] == in)
                return NULL;
    if (skip && (skip == in || skip->shape.ndim != in->shape.ndim || skip->shape.n != in->shape.n ||
                 skip->shape.c != in->shape.c || skip->shape.h != in->shape.h ||
                 skip->shape.w != in->shape.w || skip->shape.block != in->shape.block))
        return NULL;
    if (!last->vt->fuse_relu(last, skip))
        return NULL;
    last->fused = skip ? "add+relu" : "relu";
    snprintf(in->name, sizeof in->name, "%s", name);
    return in;
}

void nl_layer_init(nl_layer *l, const nl_layer_vtable *vt, const char *name, nl_act *in0,
                   nl_act *in1, nl_act *out)
{
    l->vt = vt;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in[0] = in0;
    l->in[1] = in1;
    l->n_in = in1 ? 2 : 1;
    l->out = out;
}

void nl_layer_flops_values(const nl_layer *self, nl_layer_flops *out)
{
    *out = (nl_layer_flops){.values = (double)nl_shape_per_sample(self->out->shape)};
}

void nl_layer_init3(nl_layer *l, const nl_layer_vtable *vt, const char *name, nl_act *in0,
                    nl_act *in1, nl_act *in2, nl_act *out)
{
    nl_layer_init(l, vt, name, in0, in1, out);
    l->in[2] = in2;
    l->n_in = 3;
}

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
static void plan_gradient_accumulation(nl_builder *b)
{
    for (int i = 0; i < b->n_acts; i++)
        b->acts[i]->consumers = 0;
    for (int li = b->n_layers - 1; li >= 0; li--) {
        nl_layer *l = b->layers[li];
        for (int k = 0; k < l->n_in; k++) {
            nl_act *r = root_of(l->in[k]);
            l->accumulate_din[k] = r->consumers > 0;
            r->consumers++;
        }
    }
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
static nl_code allocate_parameters(nl_builder *b, nl_model *m, nl_error *err)
{
    nl_backend *be = b->be;
    size_t decay_floats = 0, total_floats = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < b->n_params; i++)
            if ((pass == 0) == !b->params[i]->is_norm_or_bias)
                total_floats += round_floats(b->params[i]->count);
    for (int i = 0; i < b->n_params; i++)
        if (!b->params[i]->is_norm_or_bias)
            decay_floats += round_floats(b->params[i]->count);
    m->param_floats = total_floats;
    m->decay_floats = decay_floats;
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
    size_t offset = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < b->n_params; i++) {
            nl_param *p = b->params[i];
            if ((pass == 0) != !p->is_norm_or_bias)
                continue;
            p->data = m->param_arena + offset;
            p->grad = m->grad_arena + offset;
            p->velocity = m->optim_arena + offset;
            offset += round_floats(p->count);
        }
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
static nl_code allocate_states(nl_builder *b, nl_model *m, nl_error *err)
{
    nl_backend *be = b->be;
    size_t state_floats = 0;
    for (int i = 0; i < b->n_states; i++)
        state_floats += round_floats(b->states[i]->count);
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
    for (int i = 0; i < b->n_states; i++) {
        nl_state *s = b->states[i];
        s->data = m->state_arena + offset;
        offset += round_floats(s->count);
        be->ops->fill(be, s->data, s->init_value, s->count);
    }
    return NL_OK;
}

/* the activations and their gradients; an alias shares its root's */
static nl_code allocate_activations(nl_builder *b, nl_model *m, nl_error *err)
{
    size_t act_bytes = 0;
    for (int i = 0; i < b->n_acts; i++) {
        nl_act *a = b->acts[i];
        if (a->alias_of)
            continue;
        act_bytes += round_bytes(nl_shape_count(a->shape) * sizeof(float));
        if (a->needs_grad)
            act_bytes += round_bytes(nl_shape_count(a->shape) * sizeof(float));
    }
    nl_code rc;
    if ((rc = allocate(m, b->be, act_bytes, &m->act_arena, err)))
        return rc;
    char *cursor = m->act_arena;
    for (int i = 0; i < b->n_acts; i++) {
        nl_act *a = b->acts[i];
        if (a->alias_of)
            continue;
        size_t bytes = round_bytes(nl_shape_count(a->shape) * sizeof(float));
        a->data = (float *)cursor;
        cursor += bytes;
        if (a->needs_grad) {
            a->grad = (float *)cursor;
            cursor += bytes;
        }
    }
    for (int i = 0; i < b->n_acts; i++) {
        nl_act *a = b->acts[i];
        if (a->alias_of) {
            a->data = a->alias_of->data;
            a->grad = a->alias_of->grad;
        }
    }
    return NL_OK;
}

/* one arena for the layers' saved buffers (constants uploaded), then the
 * labels, probabilities and metrics; then the workspace */
static nl_code allocate_saved_and_workspace(nl_builder *b, nl_model *m, nl_error *err)
{
    nl_backend *be = b->be;
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

    m->workspace_bytes = b->workspace;
    return allocate(m, be, b->workspace, &m->workspace, err);
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
static nl_code initialize_values(nl_builder *b, uint64_t seed, nl_error *err)
{
    nl_backend *be = b->be;
    size_t largest = 0;
    for (int i = 0; i < b->n_params; i++)
        if (b->params[i]->count > largest)
            largest = b->params[i]->count;
    for (int i = 0; i < b->n_states; i++)
        if (b->states[i]->unit_normal && b->states[i]->count > largest)
            largest = b->states[i]->count;
    float *host = nl_malloc((largest ? largest : 1) * sizeof *host);
    if (!host)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory initializing parameters");
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_INIT);
    nl_code rc;
    for (int i = 0; i < b->n_params; i++) {
        nl_param *p = b->params[i];
        draw_param_values(p, &rng, host);
        if (p->fill == NL_FILL_ROW_NORMS && (rc = fill_row_norms(be, p, host, err))) {
            free(host);
            return rc;
        }
        be->ops->upload(be, p->data, host, p->count * sizeof *host);
    }
    for (int i = 0; i < b->n_states; i++) {
        nl_state *s = b->states[i];
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
static nl_code plan_and_allocate(nl_builder *b, nl_model *m, uint64_t seed, nl_error *err)
{
    nl_code rc;
    if ((rc = allocate_parameters(b, m, err)) || (rc = allocate_states(b, m, err)) ||
        (rc = allocate_activations(b, m, err)) || (rc = allocate_saved_and_workspace(b, m, err)))
        return rc;
    return initialize_values(b, seed, err);
}

/* What plan_and_allocate would take, in double so that an impossible model
 * gives a huge number rather than a wrapped one; the test that builds a
 * model checks the two agree. */
static nl_model_bytes planned_bytes(const nl_builder *b, const nl_model *m)
{
    nl_model_bytes out = {0};
    const double floats = (double)sizeof(float);
    for (int i = 0; i < b->n_params; i++) {
        double count = 1;
        for (int d = 0; d < b->params[i]->ndim; d++)
            count *= b->params[i]->dims[d];
        /* value, gradient, optimizer state */
        out.parameters += (2 + m->spec.optimizer_state_slots) * floats * (double)round_floats_d(count);
    }
    /* the clipping slots and the per-step scalars are allocated alone, unrounded */
    double total = out.parameters + (double)(NL_CLIP_SLOTS * sizeof(double)) +
                   (double)b->n_scalars * sizeof(float);
    for (int i = 0; i < b->n_states; i++)
        total += floats * round_floats_d((double)b->states[i]->count);
    for (int i = 0; i < b->n_acts; i++) {
        const nl_act *a = b->acts[i];
        if (a->alias_of)
            continue;
        const double bytes = round_bytes_d(floats * a->shape.n * a->shape.c * a->shape.h * a->shape.w);
        total += a->needs_grad ? 2 * bytes : bytes;
    }
    for (int i = 0; i < b->n_saved; i++)
        total += round_bytes_d((double)b->saved[i].bytes);
    const double rows = (double)m->capacity * m->rows_per_sample;
    total += round_bytes_d(rows * sizeof(int32_t));
    total += round_bytes_d(floats * rows * m->spec.classes);
    total += round_bytes_d(2 * sizeof(double));
    total += (double)b->workspace;
    out.total = total;
    return out;
}

nl_code nl_model_assemble(const nl_model_spec *spec, bool tokens, nl_backend *be, bool plan_only, int capacity,
                          int train_batch, uint64_t seed, nl_graph_fn construct, void *ctx, bool with_loss,
                          nl_model **out, nl_error *err)
{
    if (capacity < 1 || train_batch < 1 || train_batch > capacity)
        return nl_fail(err, NL_ERR_CONFIG, "model: batch sizes must be >= 1 (capacity %d, train %d)",
                       capacity, train_batch);
    nl_builder b = {.be = be, .plan_only = plan_only, .capacity = capacity,
                    .train_batch = train_batch, .seed = seed, .err = err,
                    .n_scalars = NL_OPTIM_SCALARS};
    nl_model *m = nl_calloc(1, sizeof *m);
    if (!m)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory building the model");
    m->be = be;
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
    /* the model owns what the builder made (nl_model_free releases it); the
     * builder keeps reading it while it plans */
    m->layers = b.layers;
    m->n_layers = b.n_layers;
    m->acts = b.acts;
    m->n_acts = b.n_acts;
    m->params = b.params;
    m->n_params = b.n_params;
    m->states = b.states;
    m->n_states = b.n_states;
    m->counters = b.counters;
    m->n_counters = b.n_counters;
    if (!logits || b.failed) {
        if (!b.failed)
            nl_builder_fail(&b, NL_ERR_CONFIG, "model: the architecture produced no output");
        free(b.saved);
        nl_model_free(m);
        return err ? err->code : NL_ERR_CONFIG;
    }
    m->has_loss = with_loss;
    const int logits_ndim = tokens ? 3 : 2;
    if (m->has_loss && (logits->shape.ndim != logits_ndim || logits->shape.c != spec->classes)) {
        free(b.saved);
        nl_model_free(m);
        return nl_fail(err, NL_ERR_RUNTIME, "model: logits have the wrong shape");
    }
    plan_gradient_accumulation(&b);
    m->n_scalars = b.n_scalars;
    m->input = input;
    m->logits = logits;
    m->rows_per_sample = nl_shape_rows_per_sample(logits->shape);
    if (plan_only) {
        /* the graph is kept (without memory) only when asked for */
        m->planned = planned_bytes(&b, m);
        m->be = NULL;
        free(b.saved);
        if (out)
            *out = m;
        else
            nl_model_free(m);
        return NL_OK;
    }
    nl_code rc = plan_and_allocate(&b, m, seed, err);
    free(b.saved);
    if (rc != NL_OK) {
        nl_model_free(m);
        return rc;
    }
    *out = m;
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
        free(m->layers[i]);
    free(m->acts);
    free(m->params);
    free(m->states);
    free(m->layers);
    free(m->counters);
    free(m->host_staging);
    free(m->scalars_host);
    free(m);
}
