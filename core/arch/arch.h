/* Architectures built from a spec (the rows of core/arch/registry.c, one
 * builder file each). They sit above the layers and the builder:
 * nl_model_build, nl_model_check, nl_model_plan and nl_model_build_graph
 * (declared in model/model.h, defined in arch.c) hand the builder the
 * spec's architecture as its graph, or the caller's graph on its input. */
#ifndef NL_ARCH_H
#define NL_ARCH_H

#include <stdbool.h>

#include "layers/layer.h"
#include "model/spec.h"

/* whether the spec's architecture reads token ids (N, T) rather than
 * images, and its own placement where a config does not name one: its row
 * in core/arch/registry.c says */
bool nl_model_spec_tokens(const nl_model_spec *spec);
nl_placement nl_model_spec_default_placement(const nl_model_spec *spec);

/* adds the layers of spec's architecture after `input`; returns the logits */
nl_act *nl_arch_build(nl_builder *b, const nl_model_spec *spec, nl_act *input);

/* standard deviation of a weight's initial values under the spec's rule;
 * `activation_follows` is false for the classifier */
float nl_arch_init_std(const nl_model_spec *spec, int fan_in, int fan_out, bool activation_follows);

#endif
