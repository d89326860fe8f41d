/* What a model is made of (the types: model/spec_types.h), its defaults
 * and what it implies, from the architecture and normalizer registries'
 * rows. The config module fills a spec from YAML, tests fill it by hand. */
#ifndef NL_SPEC_H
#define NL_SPEC_H

#include <stdbool.h>

#include "model/spec_types.h"

void nl_norm_spec_defaults(nl_norm_spec *norm, nl_norm_kind kind);
/* whether the spec's model reads token ids (N, T) rather than images */
bool nl_model_spec_tokens(const nl_model_spec *spec);
void nl_model_spec_defaults(nl_model_spec *spec);
/* the spec's architecture's own placement (its row in core/arch/registry.c),
 * where a config does not name one */
nl_placement nl_model_spec_default_placement(const nl_model_spec *spec);

#endif
