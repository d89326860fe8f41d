/* Batch-Channel Normalization (Qiao et al. 2019, "Micro-Batch Training with
 * Batch-Channel Normalization and Weight Standardization"), images only:
 *   1. a batch-normalization step, statistics per channel over (N, H, W),
 *      with its own affine (gamma_b, beta_b): batch norm's layer, training
 *      on this batch's statistics and updating the running statistics
 *      (`momentum`, the unbiased variance), evaluating with them;
 *   2. a channel-normalization step, group normalization over (C/G, H, W)
 *      per sample and group (G = model.norm.groups, group norm's default),
 *      with its own affine (gamma_c, beta_c): group norm's layer.
 * This is the paper's large-batch form. Its micro-batch variant, which
 * estimates the batch step's statistics from the running averages in
 * training too, is not implemented: normlab's batch norm has no switch for
 * training on running statistics (custom's train_stats is a point of its
 * own). The two steps are the existing layers one after the other, so
 * every backend runs them with the kernels batch and group norm use: the
 * batch step is the layer itself, named as a batch norm would be
 * (`<layer>.weight`, `.bias`, `.running_mean`, `.running_var`), the channel
 * step a second layer `<layer>.channel` (`<layer>.channel.weight`,
 * `.bias`). */
#include <stdio.h>

#include "norm/norm.h"

/* both steps' sets must hold more than one value: the batch step's first */
static void bcn_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    nl_norm_row_batch.stats_set(in, spec, train_batch, set);
    if (set->values == 1)
        return;
    nl_norm_row_group.stats_set(in, spec, train_batch, set);
}

static nl_act *bcn_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    nl_norm_spec batch = *spec;
    batch.kind = NL_NORM_BATCH;
    nl_act *mid = nl_batchnorm(b, name, in, &batch);
    if (!mid)
        return NULL;
    nl_norm_spec channel = *spec;
    channel.kind = NL_NORM_GROUP;
    char step[64];
    snprintf(step, sizeof step, "%s.channel", name);
    return nl_groupwise_norm(b, step, mid, &channel, spec->groups, false, "batch-channel");
}

const nl_norm_info nl_norm_row_batch_channel = {
    {"batch_channel", "Batch-Channel Normalization: batch norm over N*H*W per channel (its own "
                      "affine, running statistics for eval), then group norm per sample and "
                      "group (its own affine) (images only)"},
    .keys = NL_NORM_STATS_KEYS | NL_NORM_RUNNING_KEYS | NL_NORM_KEY_GROUPS,
    .learned_shift = true, .center = true,
    .running_stats = true, .running_stats_default = true,
    .features = false, .images = true, .adds_layer = true,
    .color = "#ff9896", .build = bcn_norm,
    .stats_set = bcn_set,
};
