/* The architectures of nl_arch_names, each below, and where their
 * normalizers sit.
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
 * lm:     token + position embedding; `layers` blocks of causal multi-head
 *         attention (q, k, v, proj linear layers; QK-norm optional) and an
 *         MLP (fc1 to mlp_ratio * d_model, GELU, fc2), each a residual
 *         branch f with the normalizer placed as
 *           pre:  x + f(norm(x)), and a final norm after the blocks
 *           post: norm(x + f(x))
 *           peri: x + norm(f(norm(x))), and a final norm
 *           none: x + f(x);
 *         then the LM head (no bias), tied to the token embedding or not.
 *         Every linear layer has a bias unless model.bias is false; weights
 *         start N(0, 0.02) (GPT-2) under init auto.
 * vit:    the image cut into patch x patch patches, each a token through a
 *         linear patch embedding; a learned class token prepended (pool
 *         cls); a learned position embedding added; the lm's blocks with
 *         attention unmasked (every token sees every other) and its final
 *         norm; the class token's output or the tokens' mean (pool mean);
 *         a linear classifier.
 * A layer whose output feeds a normalizer with a learned shift has no bias
 * of its own (the shift absorbs it), unless spec->bias says otherwise.
 * Weight standardization applies to every conv (shortcuts and stem too, as
 * in Qiao et al. and timm) and every hidden linear layer, not to the
 * classifier: nothing normalizes after it, and unit-variance rows would fix
 * the logits' scale that the loss needs to be free. */
#include <math.h>
#include <stdio.h>

#include "arch/arch.h"
#include "arch/registry.h"
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

/* the mlp's, cnn's and resnet's normalizers: model.widths sizes their layers */
static nl_act *norm(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in)
{
    return in ? nl_norm_at(b, name, in, &spec->norm, "model.widths",
                           "widen the layer (model.widths)")
              : NULL;
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

/* false (and the error recorded) when model.widths names no layer: the
 * mlp, cnn and resnet are sized by it */
static bool widths_given(nl_builder *b, const nl_model_spec *spec)
{
    if (spec->n_widths >= 1)
        return true;
    nl_builder_fail(b, NL_ERR_CONFIG, "model: widths must name at least one width");
    nl_builder_key(b, "model.widths");
    return false;
}

nl_act *nl_arch_build_mlp(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    if (!widths_given(b, spec))
        return NULL;
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

nl_act *nl_arch_build_cnn(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    if (!widths_given(b, spec))
        return NULL;
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

nl_act *nl_arch_build_resnet(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    if (!widths_given(b, spec))
        return NULL;
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

/* ---- lm ---- */

/* a weight's initial std: init auto is GPT-2's N(0, 0.02) */
static float lm_std(const nl_model_spec *spec, int fan_in, int fan_out)
{
    if (spec->init == NL_INIT_AUTO)
        return 0.02f;
    return nl_arch_init_std(spec, fan_in, fan_out, false);
}

static nl_act *lm_linear(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                         const char *name, nl_act *in, int out)
{
    if (!in)
        return NULL;
    char full[96];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return nl_linear(b, full, in, out, spec->bias != 0, NL_FILL_NORMAL,
                     lm_std(spec, in->shape.c, out));
}

/* d_model sizes the blocks' normalizers (QK-norm's: the head size) */
#define LM_SIZE_KEY "model.d_model"
#define LM_SIZE_HINT "raise model.d_model"

static nl_act *lm_norm_sized(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                             const char *name, nl_act *in, const char *size_key,
                             const char *size_hint)
{
    if (!in)
        return NULL;
    char full[96];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return nl_norm_at(b, full, in, &spec->norm, size_key, size_hint);
}

static nl_act *lm_norm(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                       const char *name, nl_act *in)
{
    return lm_norm_sized(b, spec, prefix, name, in, LM_SIZE_KEY, LM_SIZE_HINT);
}

/* q or k: with QK-norm, each head's vector normalized (a view of
 * (N, T*heads, head_dim) rows) */
static nl_act *lm_qk(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                     const char *name, nl_act *h)
{
    nl_act *x = lm_linear(b, spec, prefix, name, h, spec->d_model);
    if (!x || !spec->qk_norm)
        return x;
    char view[96], norm[32];
    snprintf(view, sizeof view, "%s.%s_heads", prefix, name);
    snprintf(norm, sizeof norm, "%s_norm", name);
    const int head_dim = spec->d_model / spec->heads;
    nl_act *heads = nl_view(b, view, x,
                            (nl_shape){.n = x->shape.n, .c = head_dim,
                                       .h = x->shape.h * spec->heads, .w = 1, .ndim = 3});
    if (!heads)
        return NULL;
    return lm_norm_sized(b, spec, prefix, norm, heads, "model.heads",
                         "QK-norm's tokens are single heads, each of d_model / heads "
                         "features: use fewer model.heads or a larger model.d_model, or set "
                         "model.qk_norm false");
}

static nl_act *lm_attention(nl_builder *b, const nl_model_spec *spec, const char *block,
                            nl_act *h)
{
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s.attn", block);
    nl_act *q = lm_qk(b, spec, prefix, "q", h), *k = lm_qk(b, spec, prefix, "k", h);
    nl_act *v = lm_linear(b, spec, prefix, "v", h, spec->d_model);
    if (!q || !k || !v)
        return NULL;
    char name[96];
    snprintf(name, sizeof name, "%s.heads", prefix);
    nl_act *y = nl_attention(b, name, q, k, v, spec->heads, spec->arch == NL_ARCH_VIT);
    return lm_linear(b, spec, prefix, "proj", y, spec->d_model);
}

static nl_act *lm_mlp(nl_builder *b, const nl_model_spec *spec, const char *block, nl_act *h)
{
    char prefix[80], name[96];
    snprintf(prefix, sizeof prefix, "%s.mlp", block);
    nl_act *x = lm_linear(b, spec, prefix, "fc1", h, spec->mlp_ratio * spec->d_model);
    snprintf(name, sizeof name, "%s.gelu", prefix);
    x = x ? nl_gelu_layer(b, name, x, spec->gelu) : NULL;
    return lm_linear(b, spec, prefix, "fc2", x, spec->d_model);
}

/* one residual branch of a block in the spec's placement: f is the
 * attention (index 1) or the MLP (index 2) */
static nl_act *lm_branch(nl_builder *b, const nl_model_spec *spec, const char *block, nl_act *x,
                         int index)
{
    char norm_in[32], norm_out[32], add[96];
    snprintf(norm_in, sizeof norm_in, "norm%d", index);
    snprintf(norm_out, sizeof norm_out, "norm%d_out", index);
    snprintf(add, sizeof add, "%s.add%d", block, index);
    const nl_placement p = spec->norm.placement;
    nl_act *h = (p == NL_PLACE_PRE || p == NL_PLACE_PERI) ? lm_norm(b, spec, block, norm_in, x) : x;
    nl_act *f = index == 1 ? lm_attention(b, spec, block, h) : lm_mlp(b, spec, block, h);
    if (p == NL_PLACE_PERI)
        f = lm_norm(b, spec, block, norm_out, f);
    if (!f || !x)
        return NULL;
    nl_act *y = nl_residual_add(b, add, f, x);
    return p == NL_PLACE_POST ? lm_norm(b, spec, block, norm_in, y) : y;
}

/* false (and the error recorded) when the heads do not split d_model */
static bool heads_divide(nl_builder *b, const nl_model_spec *spec)
{
    if (spec->heads >= 1 && spec->d_model % spec->heads == 0)
        return true;
    nl_builder_fail(b, NL_ERR_CONFIG,
                    "model: d_model %d is not a multiple of heads %d; each head takes "
                    "d_model / heads features",
                    spec->d_model, spec->heads);
    nl_builder_key(b, "model.heads");
    return false;
}

/* the embeddings' (and class token's) initial std */
static float embedding_std(const nl_model_spec *spec)
{
    return spec->init == NL_INIT_GAUSSIAN ? spec->init_std : 0.02f;
}

/* the blocks the lm and the vit share, and the final norm of pre and peri */
static nl_act *transformer_blocks(nl_builder *b, const nl_model_spec *spec, nl_act *x)
{
    for (int i = 0; i < spec->layers && x; i++) {
        char block[32];
        snprintf(block, sizeof block, "blocks.%d", i);
        x = lm_branch(b, spec, block, x, 1);
        x = x ? lm_branch(b, spec, block, x, 2) : NULL;
    }
    const nl_placement p = spec->norm.placement;
    if (x && (p == NL_PLACE_PRE || p == NL_PLACE_PERI))
        x = nl_norm_at(b, "final_norm", x, &spec->norm, LM_SIZE_KEY, LM_SIZE_HINT);
    return x;
}

nl_act *nl_arch_build_lm(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    const int d = spec->d_model;
    if (!heads_divide(b, spec))
        return NULL;
    nl_param *table = NULL;
    nl_act *x = nl_embedding(b, "tok_emb", "pos_emb", input, spec->classes, d,
                             embedding_std(spec), spec->tie_embeddings, &table);
    x = transformer_blocks(b, spec, x);
    if (!x)
        return NULL;
    if (spec->tie_embeddings)
        return nl_linear_tied(b, "head", x, table);
    return nl_linear(b, "head", x, spec->classes, false, NL_FILL_NORMAL,
                     lm_std(spec, d, spec->classes));
}

nl_act *nl_arch_build_vit(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    const int d = spec->d_model;
    if (!heads_divide(b, spec))
        return NULL;
    nl_act *x = nl_patchify(b, "patchify", input, spec->patch);
    if (!x)
        return NULL;
    x = nl_linear(b, "patch_embed", x, d, spec->bias != 0, NL_FILL_NORMAL,
                  lm_std(spec, x->shape.c, d));
    if (x && spec->token_pool == NL_TOKEN_POOL_CLS)
        x = nl_cls_token(b, "cls_token", x, embedding_std(spec));
    x = x ? nl_pos_add(b, "pos_add", "pos_emb.weight", x, embedding_std(spec)) : NULL;
    x = transformer_blocks(b, spec, x);
    x = x ? nl_token_pool_layer(b, "pool", x, spec->token_pool) : NULL;
    if (!x)
        return NULL;
    return nl_linear(b, "head", x, spec->classes, spec->bias != 0, NL_FILL_NORMAL,
                     lm_std(spec, d, spec->classes));
}

nl_act *nl_arch_build(nl_builder *b, const nl_model_spec *spec, nl_act *input)
{
    if ((unsigned)spec->arch >= NL_ARCH_COUNT) {
        nl_builder_fail(b, NL_ERR_CONFIG, "model: unknown architecture");
        return NULL;
    }
    const nl_arch_info *row = nl_arch_info_of(spec->arch);
    const nl_placement p = spec->norm.placement;
    if (!nl_arch_accepts_placement(row, p)) {
        char accepted[128];
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "model: placement '%s' does not apply to arch '%s'; accepted: %s",
                        nl_name_of(&nl_placement_names, p), row->id.name,
                        nl_arch_placements_text(row, " | ", accepted, sizeof accepted));
        nl_builder_key(b, "model.norm.placement");
        return NULL;
    }
    /* feature vectors arrive as (N, D, 1, 1); without this check a CNN or
     * ViT on them failed deep in its layers, naming a pooling stage or a
     * 1x1 image */
    if (!(row->inputs & (NL_ARCH_IN_FEATURES | NL_ARCH_IN_TOKENS)) && input->shape.h == 1 &&
        input->shape.w == 1) {
        char accepted[128];
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "model: '%s' takes images (C, H, W) larger than 1x1, but the data are "
                        "feature vectors of %d values; accepted for feature vectors: %s",
                        row->id.name, input->shape.c,
                        nl_arch_kinds_reading(NL_ARCH_IN_FEATURES, " | ", accepted,
                                              sizeof accepted));
        nl_builder_key(b, "model.arch");
        return NULL;
    }
    return row->build(b, spec, input);
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
