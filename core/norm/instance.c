/* InstanceNorm (Ulyanov et al. 2016): statistics per sample and channel over
 * H*W, i.e. GroupNorm with one channel per group. Optional running
 * statistics as in PyTorch's track_running_stats: the batch average of the
 * per-instance means and unbiased variances, used in eval mode. Feature
 * vectors have one value per instance and are refused. */
#include "norm/norm.h"

nl_act *nl_instancenorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    if (in->shape.ndim != 4 || in->shape.h * in->shape.w == 1) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: instance norm needs images with more than one pixel per "
                        "channel, but this layer sees %s; on an mlp use layer or group norm",
                        name, in->shape.ndim != 4 ? "(N, D) feature vectors" : "1x1 maps");
        nl_builder_key(b, "model.norm.type");
        return NULL;
    }
    return nl_groupwise_norm(b, name, in, spec, in->shape.c, spec->track_running_stats,
                             "instance");
}
