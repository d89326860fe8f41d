/* Inverted dropout (torch.nn.Dropout). The mask of a step is a pure
 * function of the model's seed, the layer's name, the step and the rank
 * (base/counter_rng.h), so there is no generator state to checkpoint: a
 * resumed run draws the masks the uninterrupted one drew, and a step
 * replayed from a recording reads its key from the per-step scalars. */
#include <math.h>
#include <string.h>

#include "base/counter_rng.h"
#include "dist/dist.h"
#include "layers/layer.h"

typedef struct {
    nl_layer base;
    float scale;             /* 1 / (1 - p) */
    uint32_t keep_threshold; /* (1 - p) * 2^NL_COUNTER_BITS: a draw below it keeps */
    uint64_t stream;         /* the layer's name, hashed: its own masks */
    uint64_t seed;
    int key_slot;            /* two per-step scalars: this step's key */
    uint8_t *mask;           /* saved: 1 where the last training forward kept */
    bool dropping;           /* this pass draws a mask (set by prepare) */
} dropout_layer;

/* the modes that train the weights; evaluation, train-mode evaluation and
 * recalibration see the whole network */
static bool mode_drops(nl_mode mode)
{
    return mode == NL_MODE_TRAIN || mode == NL_MODE_RUNNING_STATS;
}

static void dropout_prepare(nl_layer *self, const nl_pass *pass)
{
    dropout_layer *l = (dropout_layer *)self;
    l->dropping = mode_drops(pass->mode);
    if (!l->dropping)
        return;
    /* one mask per step and rank: the rank's samples are its own */
    const uint64_t counter = (uint64_t)pass->step * 4096u + (uint64_t)nl_dist_rank(pass->dist);
    const uint64_t key = nl_counter_key(l->seed, l->stream, counter);
    const uint32_t words[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
    memcpy(pass->scalars_host + l->key_slot, words, sizeof words);
}

static void dropout_forward(nl_layer *self, const nl_pass *pass)
{
    dropout_layer *l = (dropout_layer *)self;
    const size_t count = (size_t)pass->n * nl_shape_per_sample(self->out->shape);
    if (l->dropping)
        pass->be->ops->dropout_forward(pass->be, count, l->keep_threshold, l->scale,
                                       pass->scalars + l->key_slot, self->in[0]->data,
                                       self->out->data, l->mask);
    else
        pass->be->ops->copy(pass->be, self->out->data, self->in[0]->data, count);
}

static void dropout_backward(nl_layer *self, const nl_pass *pass)
{
    dropout_layer *l = (dropout_layer *)self;
    if (!self->in[0]->grad)
        return;
    const size_t count = (size_t)pass->n * nl_shape_per_sample(self->out->shape);
    if (l->dropping)
        pass->be->ops->dropout_backward(pass->be, count, l->scale, l->mask, self->out->grad,
                                        self->in[0]->grad, self->accumulate_din[0]);
    else
        pass->be->ops->pass_gradient(pass->be, count, self->out->grad, self->in[0]->grad,
                                     self->accumulate_din[0]);
}

static const nl_layer_vtable dropout_vtable = {.kind = "dropout", .flops = nl_layer_flops_values,
                                               .forward = dropout_forward,
                                               .backward = dropout_backward,
                                               .prepare = dropout_prepare};

nl_act *nl_dropout(nl_builder *b, const char *name, nl_act *in, float p)
{
    if (!in)
        return NULL;
    if (!(p > 0.0f && p < 1.0f)) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: dropout probability %g is not in (0, 1)",
                        name, (double)p);
        nl_builder_key(b, "model.dropout.p");
        return NULL;
    }
    dropout_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->scale = 1.0f / (1.0f - p);
    l->keep_threshold = (uint32_t)llround((1.0 - (double)p) * (double)(1u << NL_COUNTER_BITS));
    l->stream = nl_counter_stream_of(name);
    nl_builder_seeded(b, &l->seed);
    l->key_slot = nl_builder_scalars(b, 2);
    nl_builder_saved(b, (void **)&l->mask, nl_shape_count(in->shape) * sizeof(uint8_t));
    nl_act *out = nl_builder_act(b, name, in->shape);
    nl_layer_init(&l->base, &dropout_vtable, name, in, NULL, out);
    l->base.per_rank = "a mask drawn per rank";
    nl_builder_add(b, &l->base);
    return out;
}
