/* The parts the architectures' builders share (core/arch/<name>.c): the
 * widths models' weight layers, normalizers, activations and classifier,
 * and the transformer's blocks. Internal to core/arch.
 *
 * A layer whose output feeds a normalizer with a learned shift has no bias
 * of its own (the shift absorbs it), unless spec->bias says otherwise.
 * A parameter normalizer (weight standardization, weight normalization)
 * applies to every conv (shortcuts and stem too, as in Qiao et al. and
 * timm) and every hidden linear layer, not to the classifier: nothing
 * normalizes after it, and fixed-norm rows would fix the logits' scale
 * that the loss needs to be free. */
#include "arch/parts.h"

#include <math.h>
#include <stdio.h>

#include "arch/registry.h"
#include "norm/norm.h"
#include "norm/registry.h"

bool nl_arch_layer_bias(const nl_model_spec *spec, bool feeds_norm)
{
    if (spec->bias >= 0)
        return spec->bias != 0;
    return !(feeds_norm && nl_norm_has_shift(&spec->norm));
}

float nl_arch_init_std(const nl_model_spec *spec, int fan_in, int fan_out, bool activation_follows)
{
    nl_init_kind kind = spec->init;
    if (kind == NL_INIT_GAUSSIAN)
        return spec->init_std;
    if (kind == NL_INIT_AUTO)
        kind = (activation_follows && spec->activation == NL_ACT_RELU) ? NL_INIT_HE
                                                                       : NL_INIT_XAVIER;
    if (kind == NL_INIT_HE)
        return sqrtf(2.0f / (float)fan_in);
    /* Glorot normal with PyTorch's calculate_gain: 5/3 for tanh, 1 otherwise */
    float gain = (activation_follows && spec->activation == NL_ACT_TANH) ? 5.0f / 3.0f : 1.0f;
    return gain * sqrtf(2.0f / (float)(fan_in + fan_out));
}

const nl_param_norm_spec *nl_arch_param_norm(nl_builder *b, const nl_model_spec *spec,
                                             nl_param_norm_spec *storage)
{
    if (!spec->weight_standardization)
        return &spec->param_norm;
    if (spec->param_norm.kind != NL_PARAM_NORM_NONE) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "model.weight_standardization and model.param_norm.type %s both "
                        "transform the weights; set one (model.weight_standardization: true "
                        "is model.param_norm.type: standardization)",
                        nl_name_of(&nl_param_norm_names, spec->param_norm.kind));
        nl_builder_key(b, "model.param_norm.type");
        return NULL;
    }
    *storage = (nl_param_norm_spec){.kind = NL_PARAM_NORM_STANDARDIZATION,
                                    .eps = spec->weight_standardization_eps};
    return storage;
}

nl_act *nl_arch_conv(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in,
                     int out_c, int kernel, int stride, bool feeds_norm)
{
    nl_param_norm_spec storage;
    const nl_param_norm_spec *param_norm = nl_arch_param_norm(b, spec, &storage);
    if (!in || !param_norm)
        return NULL;
    const int fan_in = in->shape.c * kernel * kernel, fan_out = out_c * kernel * kernel;
    return nl_conv2d_pn(b, name, in, out_c, kernel, stride, kernel / 2,
                        nl_arch_layer_bias(spec, feeds_norm),
                        nl_arch_init_std(spec, fan_in, fan_out, true), param_norm);
}

nl_act *nl_arch_norm(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in)
{
    const nl_arch_info *row = nl_arch_info_of(spec->arch);
    nl_act *y = in ? nl_norm_at(b, name, in, &spec->norm, row->size_key, row->size_hint) : NULL;
    const nl_norm_noise_spec *noise = &spec->norm_noise;
    if (!y || noise->distribution == NL_NOISE_NONE)
        return y;
    if (y == in) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: model.norm_noise adds noise after a normalizer, and "
                        "model.norm.type none puts none there; use another model.norm.type or "
                        "model.norm_noise.distribution none", name);
        nl_builder_key(b, "model.norm_noise.distribution");
        return NULL;
    }
    char noise_name[80];
    snprintf(noise_name, sizeof noise_name, "%s_noise", name);
    return nl_norm_noise(b, noise_name, y, noise->distribution, noise->scale_mean,
                         noise->scale_std, noise->shift_mean, noise->shift_std);
}

nl_act *nl_arch_act(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in)
{
    return in ? nl_activation_layer(b, name, in, spec->activation) : NULL;
}

/* whether a formula normalizer takes the place of the activation after it
 * (model.norm.activation replace); the config refuses the key elsewhere,
 * and a spec built without a config is refused here, naming the key */
static bool formula_replaces_act(nl_builder *b, const nl_model_spec *spec, bool *ok)
{
    *ok = true;
    if (spec->norm.activation != NL_NORM_ACT_REPLACE)
        return false;
    const char *why = NULL;
    if (!(nl_norm_info_of(spec->norm.kind)->keys & NL_NORM_KEY_FORMULA))
        why = "a formula (model.norm.type expr) can take an activation's place, and this "
              "normalizer is a built-in";
    else if (spec->norm.placement == NL_PLACE_AFTER)
        why = "at placement after the activation comes before the normalizer, so none "
              "follows it to be replaced";
    if (!why)
        return true;
    *ok = false;
    nl_builder_fail(b, NL_ERR_CONFIG, "model.norm.activation replace: %s; use keep", why);
    nl_builder_key(b, "model.norm.activation");
    return false;
}

nl_act *nl_arch_norm_act(nl_builder *b, const nl_model_spec *spec, const char *norm_name,
                         const char *act_name, nl_act *in)
{
    bool ok;
    const bool replaced = formula_replaces_act(b, spec, &ok);
    if (!ok)
        return NULL;
    nl_act *y = nl_arch_norm(b, spec, norm_name, in);
    return replaced ? y : nl_arch_act(b, spec, act_name, y);
}

nl_act *nl_arch_add_act(nl_builder *b, const nl_model_spec *spec, const char *add_name,
                        const char *act_name, nl_act *branch, nl_act *shortcut)
{
    if (!branch || !shortcut)
        return NULL;
    return nl_arch_act(b, spec, act_name, nl_residual_add(b, add_name, branch, shortcut));
}

nl_act *nl_arch_classifier(nl_builder *b, const nl_model_spec *spec, nl_act *in)
{
    if (!in)
        return NULL;
    nl_act *flat = in->shape.ndim == 2 ? in : nl_flatten(b, "flatten", in);
    if (!flat)
        return NULL;
    return nl_linear(b, "classifier", flat, spec->classes, nl_arch_layer_bias(spec, false),
                     NL_FILL_NORMAL, nl_arch_init_std(spec, flat->shape.c, spec->classes, false));
}

/* drop<index> where model.dropout.p and its placement put one at `here` */
static nl_act *dropout_at(nl_builder *b, const nl_model_spec *spec, nl_act *x, int index,
                          bool here)
{
    if (!x || !here || spec->dropout_p == 0.0f)
        return x;
    char name[32];
    snprintf(name, sizeof name, "drop%d", index);
    return nl_dropout(b, name, x, spec->dropout_p);
}

nl_act *nl_arch_norm_and_act(nl_builder *b, const nl_model_spec *spec, nl_act *x, int index,
                             bool last_block)
{
    char norm_name[32], act_name[32];
    snprintf(norm_name, sizeof norm_name, "norm%d", index);
    snprintf(act_name, sizeof act_name, "act%d", index);
    const nl_dropout_placement drop = spec->dropout_placement;
    const bool before_norm = drop == NL_DROPOUT_BEFORE_NORM;
    const bool at_end = drop == NL_DROPOUT_AFTER_NORM ||
                        (drop == NL_DROPOUT_AFTER_LAST_NORM && last_block);
    nl_act *y;
    if (spec->norm.placement == NL_PLACE_AFTER) {
        bool ok;
        formula_replaces_act(b, spec, &ok); /* refused there: no pair to replace */
        y = !ok ? NULL
                : nl_arch_norm(b, spec, norm_name,
                               dropout_at(b, spec, nl_arch_act(b, spec, act_name, x), index,
                                          before_norm));
    } else {
        y = nl_arch_norm_act(b, spec, norm_name, act_name,
                             dropout_at(b, spec, x, index, before_norm));
    }
    return dropout_at(b, spec, y, index, at_end);
}

bool nl_arch_widths_given(nl_builder *b, const nl_model_spec *spec)
{
    if (spec->n_widths >= 1)
        return true;
    nl_builder_fail(b, NL_ERR_CONFIG, "model: widths must name at least one width");
    nl_builder_key(b, "model.widths");
    return false;
}
