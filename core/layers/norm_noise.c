/* "Noisy" batch norm's noise (Santurkar et al. 2018, Fig. 2): a per-channel
 * scale and shift drawn each training step, so the next layer's input
 * changes distribution at every step. The draws of a step come from the
 * model's seed, the layer's name and the step alone (a generator seeded
 * by them), so a resumed run draws the noise the uninterrupted one drew
 * and there is no state to checkpoint; they reach the kernels as per-step
 * scalars, which a recorded step reads as they are at its replay. */
#include <math.h>

#include "base/counter_rng.h"
#include "base/rng.h"
#include "layers/layer.h"
#include "layers/same_shape.h"

typedef struct {
    nl_layer base;
    nl_noise_distribution kind;
    float scale_mean, scale_std, shift_mean, shift_std;
    uint64_t stream, seed;
    int slots;  /* 2 * channels per-step scalars: the scales, then the shifts */
    int rows, channels, plane; /* rows per sample; (rows * n, channels, plane) */
    bool noising; /* this pass adds noise (set by prepare) */
} noise_layer;

/* one draw with the given mean and std */
static float draw(nl_rng *rng, nl_noise_distribution kind, float mean, float std)
{
    if (kind == NL_NOISE_GAUSSIAN)
        return mean + std * (float)nl_rng_normal(rng);
    /* uniform on [mean - h, mean + h], h = std * sqrt(3) */
    return mean + std * 1.7320508f * (2.0f * nl_rng_uniform(rng) - 1.0f);
}

static void noise_prepare(nl_layer *self, const nl_pass *pass)
{
    noise_layer *l = (noise_layer *)self;
    l->noising = pass->mode == NL_MODE_TRAIN || pass->mode == NL_MODE_RUNNING_STATS;
    if (!l->noising)
        return;
    nl_rng rng;
    nl_rng_seed(&rng, nl_counter_key(l->seed, l->stream, (uint64_t)pass->step), NL_STREAM_NOISE);
    float *scale = pass->scalars_host + l->slots, *shift = scale + l->channels;
    for (int c = 0; c < l->channels; c++) {
        scale[c] = draw(&rng, l->kind, l->scale_mean, l->scale_std);
        shift[c] = draw(&rng, l->kind, l->shift_mean, l->shift_std);
    }
}

static void noise_forward(nl_layer *self, const nl_pass *pass)
{
    noise_layer *l = (noise_layer *)self;
    if (!l->noising) {
        pass->be->ops->copy(pass->be, self->out->data, self->in[0]->data,
                            (size_t)pass->n * nl_shape_per_sample(self->out->shape));
        return;
    }
    const float *scale = pass->scalars + l->slots;
    pass->be->ops->channel_affine_forward(pass->be, pass->n * l->rows, l->channels, l->plane,
                                          scale, scale + l->channels, self->in[0]->data,
                                          self->out->data);
}

static void noise_backward(nl_layer *self, const nl_pass *pass)
{
    noise_layer *l = (noise_layer *)self;
    if (!self->in[0]->grad)
        return;
    if (!l->noising) {
        pass->be->ops->pass_gradient(pass->be,
                                     (size_t)pass->n * nl_shape_per_sample(self->out->shape),
                                     self->out->grad, self->in[0]->grad, self->accumulate_din[0]);
        return;
    }
    pass->be->ops->channel_affine_backward(pass->be, pass->n * l->rows, l->channels, l->plane,
                                           pass->scalars + l->slots, self->out->grad,
                                           self->in[0]->grad, self->accumulate_din[0]);
}

static const nl_layer_vtable noise_vtable = {.kind = "norm_noise", .flops = nl_layer_flops_values,
                                             .forward = noise_forward,
                                             .backward = noise_backward,
                                             .prepare = noise_prepare};

nl_act *nl_norm_noise(nl_builder *b, const char *name, nl_act *in, nl_noise_distribution kind,
                      float scale_mean, float scale_std, float shift_mean, float shift_std)
{
    if (!in)
        return NULL;
    noise_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->kind = kind;
    l->scale_mean = scale_mean, l->scale_std = scale_std;
    l->shift_mean = shift_mean, l->shift_std = shift_std;
    l->stream = nl_counter_stream_of(name);
    nl_builder_seeded(b, &l->seed);
    l->rows = nl_shape_rows_per_sample(in->shape);
    l->channels = in->shape.c;
    l->plane = nl_shape_plane(in->shape);
    l->slots = nl_builder_scalars(b, 2 * l->channels);
    return nl_layer_add_same_shape(b, &l->base, &noise_vtable, name, in);
}
