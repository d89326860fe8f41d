/* The transformer blocks the lm and the vit share: `layers` blocks of
 * multi-head attention (q, k, v, proj linear layers; QK-norm optional;
 * causal for a model of token ids, unmasked otherwise) and an MLP (fc1 to
 * mlp_ratio * d_model, GELU, fc2), each a residual branch f with the
 * normalizer placed as
 *   pre:  x + f(norm(x)), and a final norm after the blocks
 *   post: norm(x + f(x))
 *   peri: x + norm(f(norm(x))), and a final norm
 *   none: x + f(x).
 * Every linear layer has a bias unless model.bias is false; weights start
 * N(0, 0.02) (GPT-2) under init auto.
 * The depth schemes: model.residual_scale (post) adds alpha * x + f(x)
 * and starts the value, output projection and MLP weights at beta times
 * their std (DeepNorm; arch/residual_scale.c has alpha and beta);
 * model.norm.depth_scaling (pre) multiplies the output of block l's
 * normalizers by 1 / sqrt(l), l counted from 1 at the input (LayerNorm
 * Scaling), a layer <block>.norm<k>_depth_scale from the second block on. */
#include <math.h>
#include <stdio.h>

#include "arch/parts.h"
#include "arch/registry.h"
#include "norm/norm.h"

/* a weight's initial std: init auto is GPT-2's N(0, 0.02) */
float nl_arch_tfm_std(const nl_model_spec *spec, int fan_in, int fan_out)
{
    if (spec->init == NL_INIT_AUTO)
        return 0.02f;
    return nl_arch_init_std(spec, fan_in, fan_out, false);
}

/* "prefix.name" with its initial std times gain */
static nl_act *tfm_linear_gain(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                               const char *name, nl_act *in, int out, float gain)
{
    if (!in)
        return NULL;
    char full[96];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return nl_linear(b, full, in, out, spec->bias != 0, NL_FILL_NORMAL,
                     gain * nl_arch_tfm_std(spec, in->shape.c, out));
}

nl_act *nl_arch_tfm_linear(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                           const char *name, nl_act *in, int out)
{
    return tfm_linear_gain(b, spec, prefix, name, in, out, 1.0f);
}

/* the factor on the initial std of the weights DeepNorm starts small (the
 * value and output projections, the MLP's): beta, 1 without it */
static float branch_gain(const nl_model_spec *spec)
{
    float alpha, beta;
    nl_arch_residual_coefficients(spec, &alpha, &beta);
    return beta;
}

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

/* the architecture's size key (d_model) sizes the blocks' normalizers;
 * QK-norm's are sized by the head */
nl_act *nl_arch_tfm_norm(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                         const char *name, nl_act *in)
{
    const nl_arch_info *row = nl_arch_info_of(spec->arch);
    return lm_norm_sized(b, spec, prefix, name, in, row->size_key, row->size_hint);
}

/* q or k: with QK-norm, each head's vector normalized (a view of
 * (N, T*heads, head_dim) rows) */
static nl_act *lm_qk(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                     const char *name, nl_act *h)
{
    nl_act *x = nl_arch_tfm_linear(b, spec, prefix, name, h, spec->d_model);
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
    nl_act *v = tfm_linear_gain(b, spec, prefix, "v", h, spec->d_model, branch_gain(spec));
    if (!q || !k || !v)
        return NULL;
    char name[96];
    snprintf(name, sizeof name, "%s.heads", prefix);
    nl_act *y = nl_attention(b, name, q, k, v, spec->heads,
                            !nl_model_spec_tokens(spec));
    return tfm_linear_gain(b, spec, prefix, "proj", y, spec->d_model, branch_gain(spec));
}

nl_act *nl_arch_tfm_mlp(nl_builder *b, const nl_model_spec *spec, const char *block,
                        nl_act *h)
{
    char prefix[80], name[96];
    snprintf(prefix, sizeof prefix, "%s.mlp", block);
    const float gain = branch_gain(spec);
    nl_act *x = tfm_linear_gain(b, spec, prefix, "fc1", h, spec->mlp_ratio * spec->d_model, gain);
    snprintf(name, sizeof name, "%s.gelu", prefix);
    x = x ? nl_gelu_layer(b, name, x, spec->gelu) : NULL;
    return tfm_linear_gain(b, spec, prefix, "fc2", x, spec->d_model, gain);
}

/* one residual branch of block `depth` (0 next to the input) in the
 * spec's placement: f is the attention (index 1) or the MLP (index 2) */
static nl_act *lm_branch(nl_builder *b, const nl_model_spec *spec, const char *block, int depth,
                         nl_act *x, int index)
{
    char norm_in[32], norm_out[32], add[96];
    snprintf(norm_in, sizeof norm_in, "norm%d", index);
    snprintf(norm_out, sizeof norm_out, "norm%d_out", index);
    snprintf(add, sizeof add, "%s.add%d", block, index);
    const nl_placement p = spec->norm.placement;
    const bool norm_before = p == NL_PLACE_PRE || p == NL_PLACE_PERI;
    nl_act *h = norm_before ? nl_arch_tfm_norm(b, spec, block, norm_in, x) : x;
    /* the first block's factor is 1: no layer */
    if (h && norm_before && spec->norm.depth_scaling && depth > 0) {
        char scaled[96];
        snprintf(scaled, sizeof scaled, "%s.%s_depth_scale", block, norm_in);
        h = nl_scale_layer(b, scaled, h, (float)(1.0 / sqrt(depth + 1.0)));
    }
    nl_act *f = index == 1 ? lm_attention(b, spec, block, h) : nl_arch_tfm_mlp(b, spec, block, h);
    if (p == NL_PLACE_PERI)
        f = nl_arch_tfm_norm(b, spec, block, norm_out, f);
    if (!f || !x)
        return NULL;
    float alpha, beta;
    nl_arch_residual_coefficients(spec, &alpha, &beta);
    nl_act *y = nl_residual_add_scaled(b, add, f, x, alpha);
    return p == NL_PLACE_POST ? nl_arch_tfm_norm(b, spec, block, norm_in, y) : y;
}

/* false (and the error recorded) when the heads do not split d_model */
bool nl_arch_heads_divide(nl_builder *b, const nl_model_spec *spec)
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
float nl_arch_embedding_std(const nl_model_spec *spec)
{
    return spec->init == NL_INIT_GAUSSIAN ? spec->init_std : 0.02f;
}

/* the blocks the lm and the vit share, and the final norm of pre and peri */
nl_act *nl_arch_transformer_blocks(nl_builder *b, const nl_model_spec *spec, nl_act *x)
{
    for (int i = 0; i < spec->layers && x; i++) {
        char block[32];
        snprintf(block, sizeof block, "blocks.%d", i);
        x = lm_branch(b, spec, block, i, x, 1);
        x = x ? lm_branch(b, spec, block, i, x, 2) : NULL;
    }
    const nl_placement p = spec->norm.placement;
    if (x && (p == NL_PLACE_PRE || p == NL_PLACE_PERI))
        x = nl_arch_norm(b, spec, "final_norm", x);
    return x;
}
