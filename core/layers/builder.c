/* The builder's calls that the layer constructors make (layers/layer.h):
 * activations, parameters, state and buffers declared, layers added, build
 * errors recorded. model/builder.c plans and allocates what they declare. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "layers/builder.h"

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

void nl_builder_needs_kernels(nl_builder *b, const char *name, const char *family,
                              nl_device_has has)
{
    nl_graph_needs *n = &b->needs;
    if (!grow(b, (void **)&n->kernels, &n->cap_kernels, n->n_kernels + 1, sizeof *n->kernels))
        return;
    nl_kernel_need *need = &n->kernels[n->n_kernels++];
    snprintf(need->layer, sizeof need->layer, "%s", name);
    need->family = family;
    need->has = has;
}

nl_precision nl_builder_product_precision(nl_builder *b) { return b->precision; }
int nl_builder_train_batch(nl_builder *b) { return b->train_batch; }

void nl_builder_seeded(nl_builder *b, uint64_t *slot)
{
    nl_graph_needs *n = &b->needs;
    if (grow(b, (void **)&n->seeds, &n->cap_seeds, n->n_seeds + 1, sizeof *n->seeds))
        n->seeds[n->n_seeds++] = slot;
}

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

void nl_builder_norm_site(nl_builder *b, const char *name, nl_shape in)
{
    if (!grow(b, (void **)&b->norm_sites, &b->cap_norm_sites, b->n_norm_sites + 1,
              sizeof *b->norm_sites))
        return;
    nl_norm_site *site = &b->norm_sites[b->n_norm_sites++];
    snprintf(site->name, sizeof site->name, "%s", name);
    site->in = in;
}

static void add_saved(nl_builder *b, nl_saved_request request)
{
    nl_graph_needs *n = &b->needs;
    if (grow(b, (void **)&n->saved, &n->cap_saved, n->n_saved + 1, sizeof *n->saved))
        n->saved[n->n_saved++] = request;
}

void nl_builder_saved(nl_builder *b, void **slot, size_t bytes)
{
    add_saved(b, (nl_saved_request){.slot = slot, .bytes = bytes});
}

void nl_builder_constant(nl_builder *b, void **slot, const void *host, size_t bytes)
{
    add_saved(b, (nl_saved_request){.slot = slot, .bytes = bytes, .initial = host});
}

void nl_builder_saved_asked(nl_builder *b, void **slot, nl_device_bytes ask, void *what)
{
    add_saved(b, (nl_saved_request){.slot = slot, .ask = ask, .what = what});
}

void nl_builder_workspace_asked(nl_builder *b, nl_device_bytes ask, void *what)
{
    nl_graph_needs *n = &b->needs;
    if (grow(b, (void **)&n->workspaces, &n->cap_workspaces, n->n_workspaces + 1,
             sizeof *n->workspaces))
        n->workspaces[n->n_workspaces++] = (nl_workspace_request){ask, what};
}

static size_t norm_backward_bytes(nl_backend *be, void *geom)
{
    return be->ops->norm_backward_workspace(be, geom);
}

static size_t norm_point_bytes(nl_backend *be, void *geom)
{
    return be->ops->norm_backward_point_workspace(be, geom);
}

void nl_builder_norm_workspace(nl_builder *b, const nl_norm_geom *geom)
{
    nl_builder_workspace_asked(b, norm_backward_bytes, (void *)geom);
}

void nl_builder_norm_point_workspace(nl_builder *b, const nl_norm_geom *geom)
{
    nl_builder_workspace_asked(b, norm_point_bytes, (void *)geom);
}

void nl_graph_needs_release(nl_graph_needs *needs)
{
    free(needs->saved);
    free(needs->workspaces);
    free(needs->kernels);
    free(needs->seeds);
    *needs = (nl_graph_needs){0};
}

int nl_builder_scalars(nl_builder *b, int count)
{
    const int first = b->n_scalars;
    b->n_scalars += count;
    return first;
}

void nl_builder_workspace(nl_builder *b, size_t bytes)
{
    if (bytes > b->needs.workspace)
        b->needs.workspace = bytes;
}

bool nl_layer_take_relu(nl_layer *l, bool *relu, nl_act *skip)
{
    if (*relu || l->n_in != 1)
        return false;
    *relu = true;
    if (skip) {
        l->in[1] = skip;
        l->n_in = 2;
    }
    return true;
}

void nl_layer_free(nl_layer *l)
{
    if (l && l->vt && l->vt->release)
        l->vt->release(l);
    free(l);
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
        nl_layer_free(layer);
        return;
    }
    /* a layer the list cannot take is freed here, as the model would */
    if (!grow(b, (void **)&b->layers, &b->cap_layers, b->n_layers + 1, sizeof *b->layers)) {
        nl_layer_free(layer);
        return;
    }
    b->layers[b->n_layers++] = layer;
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
