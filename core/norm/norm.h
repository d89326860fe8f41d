/* The normalizers, one file each. Every knob (eps, momentum, affine, groups,
 * running statistics) comes from the nl_norm_spec; kernels get it as
 * arguments and hold no literals. */
#ifndef NL_NORM_H
#define NL_NORM_H

#include "layers/layer.h"
#include "model/spec.h"

/* builds the normalizer the spec names on `in` (identity for none) */
nl_act *nl_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);

nl_act *nl_norm_none(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
nl_act *nl_batchnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
nl_act *nl_layernorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
nl_act *nl_groupnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
nl_act *nl_instancenorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
nl_act *nl_rmsnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
nl_act *nl_batch_renorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
nl_act *nl_ghost_batchnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
nl_act *nl_dyt(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
nl_act *nl_frn(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);

/* group.c: the per-sample group statistics shared by layer, group and
 * instance norm; `kind` names the normalizer in errors */
nl_act *nl_groupwise_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                          int groups, bool running_stats, const char *kind);

/* stats_layer.c: the layer of every normalizer with statistics, on the
 * geometry its kind computes them over (n is taken from the input) */
nl_act *nl_stats_norm_layer(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                            nl_norm_geom geom, bool running_stats);

/* The group counts that divide `channels`, as "1, 2, 4, ..." */
const char *nl_valid_group_counts(int channels, char *buf, int size);

/* Does this normalizer have a learned shift (so the layer before it needs no bias)? */
bool nl_norm_has_shift(const nl_norm_spec *spec);

#endif
