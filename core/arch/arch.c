/* The three architectures and where their normalizers sit.
 *
 * mlp:    flatten, then per hidden width fc -> norm -> act (before) or
 *         fc -> act -> norm (after), then the classifier.
 * cnn:    per stage conv3x3 (pad 1) [x convs_per_stage] with norm and act
 *         placed as for the mlp, then 2x2 pooling; flatten; classifier.
 * resnet: stem conv3x3; stages of basic blocks (two 3x3 convs; the first
 *         block of every stage after the first halves the map with stride 2
 *         and a 1x1 projection shortcut);
 *         post: conv-norm-act-conv-norm, add shortcut, act (He et al. 2015);
 *         pre:  norm-act-conv-norm-act-conv, add shortcut (He et al. 2016),
 *               with a final norm-act before pooling;
 *         then global average pool and the classifier.
 * A layer whose output feeds a normalizer with a learned shift has no bias
 * of its own (the shift absorbs it), unless spec->bias says otherwise.
 * Weight standardization applies to every conv (shortcuts and stem too, as
 * in Qiao et al. and timm) and every hidden linear layer, not to the
 * classifier: nothing normalizes after it, and unit-variance rows would fix
 * the logits' scale that the loss needs to be free. */
#include <math.h>
#include <stdio.h>

#include "arch/arch.h"
#include "model/model.h"
#include "norm/norm.h"

static bool layer_bias(const nl_model_spec *spec, bool feeds_norm)
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

/* the eps the hidden weight layers standardize with; 0: off */
static float ws_eps(const nl_model_spec *spec)
{
    return spec->weight_standardization ? spec->weight_standardization_eps : 0.0f;
}

static nl_act *conv(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in,
                    int out_c, int kernel, int stride, bool feeds_norm)
{
    if (!in)
        return NULL;
    const int fan_in = in->shape.c * kernel * kernel, fan_out = out_c * kernel * kernel;
    return nl_conv2d_ws(b, name, in, out_c, kernel, stride, kernel / 2,
                        layer_bias(spec, feeds_norm), nl_arch_init_std(spec, fan_in, fan_out, true),
                        ws_eps(spec));
}

static nl_act *norm(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in)
{
    return in ? nl_norm(b, name, in, &spec->norm) : NULL;
}

static nl_act *act(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in)
{
    return in ? nl_activation_layer(b, name, in, spec->activation) : NULL;
}

static nl_act *classifier(nl_builder *b, const nl_model_spec *spec, nl_act *in)
{
    if (!in)
        return NULL;
    nl_act *flat = in->shape.ndim == 2 ? in : nl_flatten(b, "flatten", in);
    if (!flat)
        return NULL;
    return nl_linear(b, "classifier", flat, spec->classes, layer_bias(spec, false),
                     NL_FILL_NORMAL, nl_arch_init_std(spec, flat->shape.c, spec->classes, false));
}

/* weight layer output -> norm and activation in the order the placement
 * says; relu_in_pool: the activation is left to a fused ReLU + pooling layer */
static nl_act *norm_and_act(nl_builder *b, const nl_model_spec *spec, nl_act *x, int index,
                            bool relu_in_pool)
{
    char norm_name[32], act_name[32];
    snprintf(norm_name, sizeof norm_name, "norm%d", index);
    snprintf(act_name, sizeof act_name, "act%d", index);
    if (relu_in_pool)
        return norm(b, spec, norm_name, x);
    if (spec->norm.placement == NL_PLACE_AFTER)
        return norm(b, spec, norm_name, act(b, spec, act_name, x));
    return act(b, spec, act_name, norm(b, spec, norm_name, x));
}

static nl_act *build_mlp(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    nl_act *x = nl_flatten(b, "flatten_input", input);
    const bool feeds_norm = spec->norm.placement != NL_PLACE_AFTER;
    for (int i = 0; i < spec->n_widths && x; i++) {
        char name[32];
        snprintf(name, sizeof name, "fc%d", i + 1);
        const int width = spec->widths[i];
        x = nl_linear_ws(b, name, x, width, layer_bias(spec, feeds_norm), NL_FILL_NORMAL,
                         nl_arch_init_std(spec, x->shape.c, width, true), ws_eps(spec));
        x = norm_and_act(b, spec, x, i + 1, false);
    }
    return classifier(b, spec, x);
}

static nl_act *build_cnn(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    nl_act *x = input;
    const bool feeds_norm = spec->norm.placement != NL_PLACE_AFTER;
    /* relu then max pooling, nothing between them: one layer saves a pass
     * over the largest activations in each direction (10% of a batch-8 step) */
    const bool fuse_relu_pool = spec->fuse_relu_pool && feeds_norm &&
                                spec->activation == NL_ACT_RELU && spec->pool == NL_POOL_MAX;
    int index = 0;
    for (int s = 0; s < spec->n_widths && x; s++) {
        for (int j = 0; j < spec->convs_per_stage && x; j++) {
            char name[32];
            index++;
            snprintf(name, sizeof name, "conv%d", index);
            x = conv(b, spec, name, x, spec->widths[s], 3, 1, feeds_norm);
            x = norm_and_act(b, spec, x, index, fuse_relu_pool && j == spec->convs_per_stage - 1);
        }
        if (!x)
            break;
        char name[32];
        snprintf(name, sizeof name, "pool%d", s + 1);
        x = fuse_relu_pool ? nl_relu_maxpool2d(b, name, x, 2, 2, 0)
                           : nl_pool2d(b, name, x, spec->pool, 2, 2, 0);
    }
    return classifier(b, spec, x);
}

static nl_act *basic_block_post(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                                nl_act *x, int width, int stride)
{
    char n1[96], n2[96], n3[96], n4[96], n5[96], n6[96], n7[96];
    snprintf(n1, sizeof n1, "%s.conv1", prefix);
    snprintf(n2, sizeof n2, "%s.norm1", prefix);
    snprintf(n3, sizeof n3, "%s.act1", prefix);
    snprintf(n4, sizeof n4, "%s.conv2", prefix);
    snprintf(n5, sizeof n5, "%s.norm2", prefix);
    snprintf(n6, sizeof n6, "%s.add", prefix);
    snprintf(n7, sizeof n7, "%s.act2", prefix);
    nl_act *shortcut = x;
    if (stride != 1 || x->shape.c != width) {
        char sc[96], sn[96];
        snprintf(sc, sizeof sc, "%s.shortcut.conv", prefix);
        snprintf(sn, sizeof sn, "%s.shortcut.norm", prefix);
        shortcut = norm(b, spec, sn, conv(b, spec, sc, x, width, 1, stride, true));
    }
    nl_act *y = act(b, spec, n3, norm(b, spec, n2, conv(b, spec, n1, x, width, 3, stride, true)));
    y = norm(b, spec, n5, conv(b, spec, n4, y, width, 3, 1, true));
    if (!y || !shortcut)
        return NULL;
    return act(b, spec, n7, nl_residual_add(b, n6, y, shortcut));
}

static nl_act *basic_block_pre(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                               nl_act *x, int width, int stride)
{
    char n1[96], n2[96], n3[96], n4[96], n5[96], n6[96];
    snprintf(n1, sizeof n1, "%s.norm1", prefix);
    snprintf(n2, sizeof n2, "%s.act1", prefix);
    snprintf(n3, sizeof n3, "%s.conv1", prefix);
    snprintf(n4, sizeof n4, "%s.norm2", prefix);
    snprintf(n5, sizeof n5, "%s.act2", prefix);
    snprintf(n6, sizeof n6, "%s.conv2", prefix);
    nl_act *pre = act(b, spec, n2, norm(b, spec, n1, x));
    nl_act *shortcut = x;
    if (pre && (stride != 1 || x->shape.c != width)) {
        /* He et al. 2016: a projection takes the pre-activated input */
        char sc[96];
        snprintf(sc, sizeof sc, "%s.shortcut.conv", prefix);
        shortcut = conv(b, spec, sc, pre, width, 1, stride, false);
    }
    nl_act *y = act(b, spec, n5, norm(b, spec, n4, conv(b, spec, n3, pre, width, 3, stride, true)));
    y = conv(b, spec, n6, y, width, 3, 1, false);
    if (!y || !shortcut)
        return NULL;
    char add[96];
    snprintf(add, sizeof add, "%s.add", prefix);
    return nl_residual_add(b, add, y, shortcut);
}

static nl_act *build_resnet(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    const bool pre = spec->norm.placement == NL_PLACE_PRE;
    const int stem = spec->stem_width > 0 ? spec->stem_width : spec->widths[0];
    /* pre-activation: the stem output feeds the first block's normalizer */
    nl_act *x = conv(b, spec, "stem.conv", input, stem, 3, 1, true);
    if (!pre)
        x = act(b, spec, "stem.act", norm(b, spec, "stem.norm", x));
    for (int s = 0; s < spec->n_widths && x; s++) {
        for (int k = 0; k < spec->blocks_per_stage && x; k++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "stage%d.block%d", s + 1, k + 1);
            const int stride = (s > 0 && k == 0) ? 2 : 1;
            x = pre ? basic_block_pre(b, spec, prefix, x, spec->widths[s], stride)
                    : basic_block_post(b, spec, prefix, x, spec->widths[s], stride);
        }
    }
    if (pre)
        x = act(b, spec, "final.act", norm(b, spec, "final.norm", x));
    if (!x)
        return NULL;
    return classifier(b, spec, nl_global_avgpool(b, "pool", x));
}

nl_act *nl_arch_build(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    if (spec->n_widths < 1) {
        nl_builder_fail(b, NL_ERR_CONFIG, "model: widths must name at least one width");
        nl_builder_key(b, "model.widths");
        return NULL;
    }
    const nl_placement p = spec->norm.placement;
    const bool residual = spec->arch == NL_ARCH_RESNET;
    if (residual != (p == NL_PLACE_POST || p == NL_PLACE_PRE)) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "model: placement '%s' does not apply to arch '%s' (mlp and cnn take "
                        "before | after; resnet takes post | pre)",
                        nl_name_of(&nl_placement_names, p), nl_name_of(&nl_arch_names, spec->arch));
        nl_builder_key(b, "model.norm.placement");
        return NULL;
    }
    switch (spec->arch) {
    case NL_ARCH_MLP:
        return build_mlp(b, spec, input);
    case NL_ARCH_CNN:
        return build_cnn(b, spec, input);
    case NL_ARCH_RESNET:
        return build_resnet(b, spec, input);
    default:
        nl_builder_fail(b, NL_ERR_CONFIG, "model: unknown architecture");
        return NULL;
    }
}

/* the spec's architecture as a graph for the builder */
static nl_act *spec_graph(nl_builder *b, nl_act *input, void *spec)
{
    return nl_arch_build(b, (const nl_model_spec *)spec, input);
}

nl_code nl_model_build(const nl_model_spec *spec, nl_backend *be, int capacity, int train_batch,
                       uint64_t seed, nl_model **out, nl_error *err)
{
    return nl_model_assemble(spec, be, false, capacity, train_batch, seed, spec_graph, (void *)spec, true, out,
                             err);
}

nl_code nl_model_check(const nl_model_spec *spec, int train_batch, nl_error *err)
{
    nl_backend probe = nl_backend_probe(1);
    return nl_model_assemble(spec, &probe, true, train_batch, train_batch, 0, spec_graph, (void *)spec, true, NULL,
                             err);
}

nl_code nl_model_plan(const nl_model_spec *spec, int capacity, int train_batch, int threads,
                      nl_model **out, nl_error *err)
{
    *out = NULL;
    /* some CPU kernels keep a workspace per thread */
    nl_backend probe = nl_backend_probe(threads);
    return nl_model_assemble(spec, &probe, true, capacity, train_batch, 0, spec_graph, (void *)spec, true, out,
                             err);
}
