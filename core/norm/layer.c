/* LayerNorm (Ba et al. 2016) as the Group Normalization paper defines it for
 * images: statistics per sample over all of C*H*W, a per-channel gamma and
 * beta, i.e. GroupNorm with one group. On (N, D) features it is exactly
 * PyTorch's LayerNorm(D). PyTorch's per-element LayerNorm([C, H, W]) has
 * C*H*W affine parameters instead; it is not what the papers compare. */
#include <math.h>
#include <stdio.h>

#include "layers/same_shape.h"
#include "norm/norm.h"

/* layer, rms and scale norm: one set per sample (per token on token sequences)
 * over all its channels and pixels, so only the layer's own size counts */
static void nl_layer_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    (void)spec;
    (void)train_batch;
    *set = (nl_norm_set){.values = (long)in.c * nl_shape_plane(in)};
    snprintf(set->per, sizeof set->per, "%s", in.ndim == 3 ? "token" : "sample");
    char spatial[48];
    snprintf(set->counted, sizeof set->counted, "%d %s%s%s", in.c,
             in.ndim == 4 ? "channel" : "feature", in.c == 1 ? "" : "s",
             nl_norm_plane_text(in, spatial, sizeof spatial));
}

static nl_act *nl_layernorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    return nl_groupwise_norm(b, name, in, spec, 1, false, "layer");
}

const nl_norm_info nl_norm_row_layer = {
    {"layer", "LayerNorm as in Wu & He: statistics per sample over C*H*W, per-channel affine"},
    .keys = NL_NORM_STATS_KEYS, .learned_shift = true, .center = true,
    .features = true, .images = true, .tokens = true, .adds_layer = true,
    .color = "#2ca02c", .build = nl_layernorm, .bench_torch = true,
    .stats_set = nl_layer_set,
    .point = &(const nl_norm_point){.reduce = NL_REDUCE_SAMPLE, .center = true, .scale = NL_SCALE_STD},
    NL_NORM_SAMPLE_STD_FORMULA,
};

/* RMSNorm (Zhang & Sennrich 2019) over the same axes: y = x / sqrt(mean(x^2)
 * + eps) * gamma_c, no centring and no beta (its registry row), so the layer
 * before it keeps its bias. */
static nl_act *nl_rmsnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    return nl_groupwise_norm(b, name, in, spec, 1, false, "rms");
}

const nl_norm_info nl_norm_row_rms = {
    {"rms", "RMSNorm (Zhang & Sennrich): layer norm's axes, no centring, scale gamma only"},
    .keys = NL_NORM_STATS_KEYS, .learned_shift = false, .center = false,
    .features = true, .images = true, .tokens = true, .adds_layer = true,
    .color = "#d62728", .build = nl_rmsnorm, .bench_torch = true,
    .stats_set = nl_layer_set,
    .point = &(const nl_norm_point){.reduce = NL_REDUCE_SAMPLE, .center = false, .scale = NL_SCALE_RMS},
    .formula = {"weight * x / sqrt(mean(x^2, [channels]) + eps)",
                "weight * x / sqrt(mean(x^2, [channels]) + eps)",
                "weight * x / sqrt(mean(x^2, [channels, spatial]) + eps)"},
    .formula_params = "weight = 1 per channel",
};

/* ScaleNorm (Nguyen & Salazar 2019, "Transformers without Tears"), as
 * their reference code: y = g * x / max(||x||_2, eps) over the same axes
 * (each token's D features, each sample's C*H*W), no centring, ONE learned
 * scalar g per layer initialised to sqrt(D) (sqrt(C*H*W) on images), so
 * that g * x / ||x|| starts with unit mean square, as layer norm's output.
 * No shift, so the layer before it keeps its bias. */
typedef struct {
    nl_layer base;
    int d;               /* values per row */
    int rows_per_sample; /* token sequences: each token is a row */
    float eps;
    nl_param *gain;
    float *save_norm; /* each row's norm, unclamped */
} scalenorm_layer;

/* the gain gradient's scratch over the batch's rows */
static size_t scalenorm_workspace(nl_backend *be, void *what)
{
    const scalenorm_layer *l = what;
    return be->ops->scalenorm_backward_workspace(be, l->base.in[0]->shape.n * l->rows_per_sample);
}

static void scalenorm_forward(nl_layer *self, const nl_pass *pass)
{
    scalenorm_layer *l = (scalenorm_layer *)self;
    pass->be->ops->scalenorm_forward(pass->be, pass->n * l->rows_per_sample, l->d, l->eps,
                                     l->gain->data, self->in[0]->data, self->out->data,
                                     l->save_norm);
}

static void scalenorm_backward(nl_layer *self, const nl_pass *pass)
{
    scalenorm_layer *l = (scalenorm_layer *)self;
    pass->be->ops->scalenorm_backward(pass->be, pass->n * l->rows_per_sample, l->d, l->eps,
                                      l->gain->data, self->in[0]->data, self->out->grad,
                                      l->save_norm, self->in[0]->grad, self->accumulate_din[0],
                                      l->gain->grad, pass->workspace);
}

/* a sample's C*H*W values are one row with one gain: a channel-blocked
 * sample is the same row in another order (its norm summed in that order) */
static const nl_layer_vtable scalenorm_vtable = {.kind = "scalenorm",
                                                 .flops = nl_layer_flops_values,
                                                 .forward = scalenorm_forward,
                                                 .backward = scalenorm_backward,
                                                 .family = NL_OP_FAMILY_SAMPLE_ROWS};

static nl_act *nl_scalenorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    scalenorm_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    l->d = in->shape.c * nl_shape_plane(in->shape);
    l->rows_per_sample = nl_shape_rows_per_sample(in->shape);
    l->eps = spec->eps;
    char pname[96];
    snprintf(pname, sizeof pname, "%s.scale", name);
    l->gain = nl_builder_param(b, pname, 1, (int[]){1}, true, NL_FILL_CONSTANT,
                               sqrtf((float)l->d));
    const int rows = in->shape.n * l->rows_per_sample;
    nl_builder_saved(b, (void **)&l->save_norm, (size_t)rows * sizeof(float));
    nl_builder_workspace_asked(b, scalenorm_workspace, l);
    return nl_layer_add_same_shape(b, &l->base, &scalenorm_vtable, name, in);
}

const nl_norm_info nl_norm_row_scale = {
    {"scale", "ScaleNorm (Nguyen & Salazar 2019): g * x / max(||x||, eps) per "
     "sample or token, one learned scalar g from sqrt(C*H*W)"},
    .keys = NL_NORM_KEY_EPS, .learned_shift = false, .center = false,
    .features = true, .images = true, .tokens = true, .adds_layer = true,
    .color = "#aec7e8", .build = nl_scalenorm, .stats_set = nl_layer_set,
    .formula = {"scale * x / max(sqrt(sum(x^2, [channels])), eps)",
                "scale * x / max(sqrt(sum(x^2, [channels])), eps)",
                "scale * x / max(sqrt(sum(x^2, [channels, spatial])), eps)"},
    .formula_params = "scale = 1",
};
