/* The normalizers, one file each. Every knob (eps, momentum, affine, groups,
 * running statistics) comes from the nl_norm_spec; kernels get it as
 * arguments and hold no literals. */
#ifndef NL_NORM_H
#define NL_NORM_H

#include "layers/layer.h"
#include "norm/registry.h"
#include "norm/spec.h"

/* builds the normalizer the spec names on `in` (identity for none) */
nl_act *nl_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
/* the same, for an architecture that knows which config key sets the
 * layer's size: a layer whose own size leaves one value per normalized set
 * is refused at size_key, with size_hint ("widen the layer (model.widths)")
 * saying what to change; NULL for either: unknown */
nl_act *nl_norm_at(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                   const char *size_key, const char *size_hint);

/* batch.c: batch norm's layer, which batch renorm and ghost batch norm
 * build on with their own checks */
nl_act *nl_batchnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec);
/* instance.c: one normalized set per channel of each sample, its map
 * (instance norm's and frn's nl_norm_set_fn) */
void nl_plane_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set);
/* " x HxW" for an image input, "" otherwise (group.c) */
const char *nl_norm_plane_text(nl_shape in, char *buf, size_t size);

/* group.c: the per-sample group statistics shared by layer, group and
 * instance norm; `kind` names the normalizer in errors */
nl_act *nl_groupwise_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                          int groups, bool running_stats, const char *kind);

/* stats_layer.c: the layer of every normalizer with statistics, on the
 * geometry its kind computes them over (n is taken from the input) */
/* the precision a normalizer layer takes its statistics in
 * (model.norm.stats_precision): a layer of nl_stats_norm_layer's or FRN's
 * (nl_frn_stats_precision); fp32 for any other layer. The blocked kernels
 * (nl_shape.block) keep fp32 statistics alone: the layout pass hands
 * another precision NCHW (plan/layout.c) */
nl_precision nl_norm_layer_stats_precision(const nl_layer *layer);
nl_precision nl_frn_stats_precision(const nl_layer *layer);
nl_act *nl_stats_norm_layer(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                            nl_norm_geom geom, bool running_stats);
/* the same at a point of the design space (norm/custom.c); NULL: the
 * geometry's own (centred with the standard deviation, or uncentred with
 * the RMS), training on batch statistics, evaluating on running ones where
 * running_stats */
struct nl_stats_point_s;
nl_act *nl_stats_point_layer(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                             nl_norm_geom geom, bool running_stats,
                             const struct nl_stats_point_s *point);

/* The momentum of a layer's next running-statistics update, advancing
 * *batches_tracked: while recalibrating (`recalibrated` updates done since
 * the reset, >= 0) the plain average from the reset, as PyTorch's
 * momentum=None after reset_running_stats(); otherwise (-1) the spec's
 * momentum, or with momentum "cumulative" the plain average over every
 * update so far (stats_layer.c; switchable.c's batch term too) */
float nl_stats_next_momentum(const nl_norm_spec *spec, long *batches_tracked, long recalibrated);

/* switchable.c: a Switchable Normalization layer's six mixture logits,
 * the means' (instance, layer, batch) in logits[0..2] and the variances'
 * in logits[3..5] (device memory); false for any other layer */
bool nl_switch_layer_logits(const nl_layer *layer, const float *logits[2]);

/* The group counts that divide `channels` and leave more than one value
 * per group (each channel holding `plane` values per sample), as
 * "1, 2, 4, ..."; "" when none does */
const char *nl_valid_group_counts(int channels, int plane, char *buf, int size);

/* Does this normalizer have a learned shift (so the layer before it needs no bias)? */
bool nl_norm_has_shift(const nl_norm_spec *spec);

#endif
