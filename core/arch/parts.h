/* The parts the architectures' builders (core/arch/<name>.c) are made of.
 * Internal to core/arch. Every part takes NULL for its input (an earlier
 * layer failed, the error is in the builder) and passes NULL on, so a
 * builder chains parts without checking each. */
#ifndef NL_ARCH_PARTS_H
#define NL_ARCH_PARTS_H

#include <stdbool.h>

#include "arch/arch.h" /* nl_arch_init_std */
#include "layers/layer.h"
#include "model/spec.h"

/* ---- layers sized by model.widths (mlp, cnn, resnet) ---- */

/* false (and the error recorded) when model.widths names no layer */
bool nl_arch_widths_given(nl_builder *b, const nl_model_spec *spec);
/* whether a weight layer has a bias: model.bias, or under auto none where
 * it feeds a normalizer with a learned shift */
bool nl_arch_layer_bias(const nl_model_spec *spec, bool feeds_norm);
/* the parameter normalizer of the hidden weight layers: model.param_norm,
 * or standardization under model.weight_standardization; NULL (and the
 * error recorded) when both are set */
const nl_param_norm_spec *nl_arch_param_norm(nl_builder *b, const nl_model_spec *spec,
                                             nl_param_norm_spec *storage);
/* a kernel x kernel convolution (pad kernel / 2), under the spec's
 * parameter normalizer */
nl_act *nl_arch_conv(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in,
                     int out_c, int kernel, int stride, bool feeds_norm);
/* the spec's normalizer, and after it model.norm_noise's noise layer
 * `<name>_noise` when there is one; a layer too small for it is blamed on
 * the architecture row's size key */
nl_act *nl_arch_norm(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in);
/* the spec's activation, a layer of its own (the fusion pass, plan/fuse.c,
 * may fold it into the layer before or after it) */
nl_act *nl_arch_act(nl_builder *b, const nl_model_spec *spec, const char *name, nl_act *in);
/* a norm -> activation pair: the normalizer norm_name, then the
 * activation act_name, or none where a formula takes its place
 * (model.norm.activation replace; NULL and the error recorded where that
 * cannot apply: a built-in, placement after) */
nl_act *nl_arch_norm_act(nl_builder *b, const nl_model_spec *spec, const char *norm_name,
                         const char *act_name, nl_act *in);
/* act(branch + shortcut), a post-activation block's end: the plain
 * residual add add_name and the activation act_name (the fusion pass may
 * fold both into the normalizer that writes branch) */
nl_act *nl_arch_add_act(nl_builder *b, const nl_model_spec *spec, const char *add_name,
                        const char *act_name, nl_act *branch, nl_act *shortcut);
/* flatten (unless already (N, D)) and the linear classifier to spec->classes */
nl_act *nl_arch_classifier(nl_builder *b, const nl_model_spec *spec, nl_act *in);
/* a weight layer's output -> norm<index> and act<index> in the order the
 * placement says (before or after), with dropout drop<index> where
 * model.dropout puts one (last_block: this is the last block before the
 * classifier) */
nl_act *nl_arch_norm_and_act(nl_builder *b, const nl_model_spec *spec, nl_act *x, int index,
                             bool last_block);

/* ---- transformer blocks of d_model-wide tokens (lm, vit) ---- */

/* false (and the error recorded) when model.heads does not divide d_model */
bool nl_arch_heads_divide(nl_builder *b, const nl_model_spec *spec);
/* a transformer weight's initial std: init auto is GPT-2's N(0, 0.02) */
float nl_arch_tfm_std(const nl_model_spec *spec, int fan_in, int fan_out);
/* the embeddings' (and class token's) initial std */
float nl_arch_embedding_std(const nl_model_spec *spec);
/* "prefix.name": a linear layer to `out` features, bias unless model.bias
 * is false */
nl_act *nl_arch_tfm_linear(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                           const char *name, nl_act *in, int out);
/* "prefix.name": the spec's normalizer on token vectors */
nl_act *nl_arch_tfm_norm(nl_builder *b, const nl_model_spec *spec, const char *prefix,
                         const char *name, nl_act *in);
/* "block.mlp": fc1 to mlp_ratio * d_model, GELU, fc2 back to d_model */
nl_act *nl_arch_tfm_mlp(nl_builder *b, const nl_model_spec *spec, const char *block,
                        nl_act *h);
/* `layers` blocks of attention and MLP in the spec's placement, and the
 * final norm of pre and peri */
nl_act *nl_arch_transformer_blocks(nl_builder *b, const nl_model_spec *spec, nl_act *x);

#endif
