/* The fusion pass (plan.h): a ReLU after a normalizer folded into the
 * normalizer's apply pass and backward, a post-activation block's residual
 * add into the normalizer before it, a CNN stage's last ReLU into its max
 * pooling. Each gives the same numbers without the tensor it folds away, so
 * each stays apart where a probe observes that tensor. The recipe builds
 * the separate layers; nl_plan_fuse_graph folds them on the graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/builder.h"
#include "plan/plan.h"

bool nl_normlab_fuse_off(void)
{
    const char *v = getenv("NORMLAB_FUSE");
    return v && (strcmp(v, "0") == 0 || strcmp(v, "off") == 0);
}

nl_code nl_normlab_fuse_check(nl_error *err)
{
    const char *v = getenv("NORMLAB_FUSE");
    static const char *const accepted[] = {"", "0", "off", "1", "on"};
    for (size_t i = 0; v && i < sizeof accepted / sizeof *accepted; i++)
        if (!strcmp(v, accepted[i]))
            return NL_OK;
    return v ? nl_fail(err, NL_ERR_USAGE, "NORMLAB_FUSE=%s: accepted: 1 or on (a ReLU and a residual add "
                       "fused into the normalizer, the default), 0 or off (not fused)", v)
             : NL_OK;
}

void nl_plan_fuse(nl_model_spec *spec, const nl_plan_run *run)
{
    /* a traced activation must be a tensor: no ReLU folded into a pooling
     * or a normalizer (the trace may name any activation) */
    /* a normalizer placed after the activation stands between the ReLU
     * and the pooling; with the placement's norm none the two would meet,
     * and they stay apart as for every other normalizer there */
    if (run->traces_activation || spec->norm.placement == NL_PLACE_AFTER)
        spec->fuse_relu_pool = false;
    if (run->traces_activation || run->fuse_off)
        spec->fuse_norm_relu = false;
    if (run->observes_adds)
        spec->fuse_residual_add = false;
}

/* the layers reading `a` (a view of it counts as one more: whatever reads
 * the view reads a) */
static int readers(const nl_builder *b, const nl_act *a)
{
    int n = 0;
    for (int i = 0; i < b->n_layers; i++)
        for (int k = 0; k < b->layers[i]->n_in; k++)
            n += b->layers[i]->in[k] == a;
    for (int i = 0; i < b->n_acts; i++)
        n += b->acts[i]->alias_of == a;
    return n;
}

/* `a` read by exactly the layer after `writer` and by nothing else: the
 * tensor a fold takes away */
static bool only_next_reads(const nl_builder *b, int writer, const nl_act *a)
{
    return writer + 1 < b->n_layers && b->layers[writer]->out == a && !a->alias_of &&
           readers(b, a) == 1;
}

/* every reader of `from` reads `to`, then `from` leaves the graph */
static void replace_act(nl_builder *b, nl_act *from, nl_act *to, nl_act **result)
{
    for (int i = 0; i < b->n_layers; i++)
        for (int k = 0; k < b->layers[i]->n_in; k++)
            if (b->layers[i]->in[k] == from)
                b->layers[i]->in[k] = to;
    for (int i = 0; i < b->n_acts; i++)
        if (b->acts[i]->alias_of == from)
            b->acts[i]->alias_of = to;
    if (*result == from)
        *result = to;
    for (int i = 0; i < b->n_acts; i++)
        if (b->acts[i] == from) {
            memmove(b->acts + i, b->acts + i + 1, (size_t)(b->n_acts - i - 1) * sizeof *b->acts);
            b->n_acts--;
            break;
        }
    free(from);
}

static void drop_layer(nl_builder *b, int i)
{
    nl_layer_free(b->layers[i]);
    memmove(b->layers + i, b->layers + i + 1, (size_t)(b->n_layers - i - 1) * sizeof *b->layers);
    b->n_layers--;
}

static bool same_shape(const nl_shape *a, const nl_shape *b)
{
    return a->ndim == b->ndim && a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w &&
           a->block == b->block;
}

/* relu(norm(x) + shortcut): the ReLU at `at`, the plain add before it and
 * the normalizer before that, each read only by the next; the normalizer
 * takes both, its output renamed the ReLU's */
static bool fold_add_relu(nl_builder *b, int at, nl_act **result)
{
    if (at < 2)
        return false;
    nl_layer *relu = b->layers[at], *add = b->layers[at - 1], *norm = b->layers[at - 2];
    nl_act *sum = relu->in[0], *branch = add->in[0], *skip = add->in[1];
    if (!nl_layer_is_plain_add(add) || !only_next_reads(b, at - 1, sum) ||
        !only_next_reads(b, at - 2, branch) || !norm->vt->fuse_relu || skip == branch ||
        !same_shape(&skip->shape, &branch->shape) || !norm->vt->fuse_relu(norm, skip))
        return false;
    norm->fused = "add+relu";
    nl_act *out = relu->out;
    snprintf(branch->name, sizeof branch->name, "%s", out->name);
    drop_layer(b, at);
    drop_layer(b, at - 1);
    replace_act(b, out, branch, result);
    replace_act(b, sum, branch, result);
    return true;
}

/* relu(norm(x)): the normalizer before the ReLU at `at`, read only by it,
 * takes it; its output renamed the ReLU's */
static bool fold_norm_relu(nl_builder *b, int at, nl_act **result)
{
    if (at < 1)
        return false;
    nl_layer *relu = b->layers[at], *norm = b->layers[at - 1];
    nl_act *y = relu->in[0];
    if (!only_next_reads(b, at - 1, y) || !norm->vt->fuse_relu || !norm->vt->fuse_relu(norm, NULL))
        return false;
    norm->fused = "relu";
    nl_act *out = relu->out;
    snprintf(y->name, sizeof y->name, "%s", out->name);
    drop_layer(b, at);
    replace_act(b, out, y, result);
    return true;
}

/* maxpool(relu(x)): the pooling after the ReLU at `at`, its only reader,
 * takes it and reads x */
static bool fold_relu_pool(nl_builder *b, int at, nl_act **result)
{
    nl_layer *relu = b->layers[at];
    if (!only_next_reads(b, at, relu->out) || b->layers[at + 1]->in[0] != relu->out ||
        !nl_layer_take_relu_input(b->layers[at + 1]))
        return false;
    nl_act *out = relu->out;
    drop_layer(b, at);
    replace_act(b, out, relu->in[0], result);
    return true;
}

nl_act *nl_plan_fuse_graph(nl_builder *b, const nl_model_spec *spec, nl_act *result)
{
    if (!result || b->failed)
        return result;
    for (int i = 0; i < b->n_layers; i++) {
        if (!nl_layer_is_relu(b->layers[i]))
            continue;
        /* the pooling first: a stage's last ReLU goes there, not into
         * its normalizer */
        if (spec->fuse_relu_pool && fold_relu_pool(b, i, &result))
            i--;
        else if (spec->fuse_norm_relu && spec->fuse_residual_add && fold_add_relu(b, i, &result))
            i -= 2;
        else if (spec->fuse_norm_relu && fold_norm_relu(b, i, &result))
            i--;
    }
    return result;
}
