/* A fixed permutation of every sample's values (the permuted pixel tasks:
 * pixel-permuted sequential MNIST of Le et al. 2015 and the recurrent
 * normalization papers), one gather of 4-byte words over the batch. The
 * order is drawn once from its own seed, not the run's, so that every run
 * and every seed of a sweep sees the same task. */
#include <stdio.h>

#include "base/rng.h"
#include "layers/layer.h"
#include "layers/same_shape.h"

typedef struct {
    nl_layer base;
    size_t values; /* per sample */
    int32_t *index; /* device: source word of every output word of the largest batch */
    int32_t host_index[]; /* its host copy, uploaded when the model is built */
} permute_layer;

static void permute_forward(nl_layer *self, const nl_pass *pass)
{
    permute_layer *l = (permute_layer *)self;
    pass->be->ops->gather_rows(pass->be, (int)((size_t)pass->n * l->values), 1, l->index,
                               self->in[0]->data, self->out->data);
}

/* the input batch takes no gradient (checked when built) */
static void permute_backward(nl_layer *self, const nl_pass *pass)
{
    (void)self, (void)pass;
}

static const nl_layer_vtable permute_vtable = {.kind = "permute",
                                               .flops = nl_layer_flops_values,
                                               .forward = permute_forward,
                                               .backward = permute_backward};

nl_act *nl_permute_values(nl_builder *b, const char *name, nl_act *in, uint64_t seed)
{
    if (!in)
        return NULL;
    const size_t values = nl_shape_per_sample(in->shape), total = values * in->shape.n;
    if (in->needs_grad || total > INT32_MAX) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: a fixed permutation reads the input batch of up to 2^31 "
                        "values, got %s",
                        name, in->name);
        return NULL;
    }
    permute_layer *l = nl_builder_layer_alloc(b, sizeof *l + total * sizeof(int32_t));
    if (nl_builder_failed(b))
        return NULL;
    l->values = values;
    /* one order for every sample: sample i's word k comes from its word order[k] */
    int32_t *order = l->host_index;
    for (size_t k = 0; k < values; k++)
        order[k] = (int32_t)k;
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_SHUFFLE);
    nl_rng_shuffle(&rng, order, (int32_t)values);
    for (size_t i = 1; i < (size_t)in->shape.n; i++)
        for (size_t k = 0; k < values; k++)
            l->host_index[i * values + k] = (int32_t)(i * values) + order[k];
    nl_builder_constant(b, (void **)&l->index, l->host_index, total * sizeof(int32_t));
    return nl_layer_add_same_shape(b, &l->base, &permute_vtable, name, in);
}
