/* BatchNorm (Ioffe & Szegedy 2015) with PyTorch's semantics: statistics per
 * channel over N*H*W, the biased variance normalizes, running statistics take
 * `momentum` of the new batch (the unbiased variance), eval mode uses them.
 * With momentum "cumulative" (PyTorch's momentum=None) the running
 * statistics are the plain average over all batches seen. */
#include "norm/norm.h"

nl_act *nl_batchnorm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const int channels = in->shape.c, hw = in->shape.h * in->shape.w;
    const int batch = nl_builder_train_batch(b);
    if ((long)batch * hw == 1) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: batch norm needs more than one value per channel in training, "
                        "but batch size %d x %dx%d gives 1 (PyTorch: 'Expected more than 1 value "
                        "per channel when training'); use a batch size of at least 2, or "
                        "layer/group norm",
                        name, batch, in->shape.h, in->shape.w);
        nl_builder_key(b, "train.batch_size");
        return NULL;
    }
    /* batch statistics: per channel over N*H*W */
    const nl_norm_geom geom = {.c = channels, .hw = hw, .groups = 0, .center = true, .eps = spec->eps};
    return nl_stats_norm_layer(b, name, in, spec, geom, spec->track_running_stats);
}
