/* A normalizer described in the config (model.norm.type custom): a point of
 * the design space most statistics normalizers live in (Huang et al. 2020's
 * "normalization area partitioning, operation and representation
 * recovery"), its keys
 *   reduce       the axes the statistics reduce over: batch, channels (in
 *                model.norm.groups groups), spatial (an image's pixels),
 *                tokens (a sequence's positions), those the input has;
 *                not given, a sample's features (layer norm)
 *   center       subtract the mean
 *   scale        divide by the standard deviation, the root mean square
 *                about 0, or nothing
 *   train_stats, eval_stats   the statistics of the batch at hand, or the
 *                running averages (momentum) of the batch statistics
 *   eps, affine  as every normalizer's; the affine map learns back what
 *                the point takes away: gamma where it divides, beta where
 *                it centres
 * built on the shared layer (stats_layer.c) and the norm ops. The reduction
 * picks the geometry the ops compute statistics over (batch statistics per
 * channel, or per-sample groups of channels), the rest is the point the
 * layer computes on it: the built-ins' points run their fused kernels, the
 * others the two-step ops, and nothing here names a combination. Every
 * built-in whose row has a point (norm/registry.h) is one of these; tests/
 * test_norm_space.c builds each both ways and compares outputs and
 * gradients.
 *
 * A reduction with no meaning is refused, with the key to change: one
 * value per statistic (nl_norm's normalized-set check, from custom_set), an
 * axis the layer's input lacks, running statistics of a reduction over
 * channels (the schema's rule; checked here too for specs built in code).
 * So is a reduction the shared primitives do not take statistics over
 * (over the batch and the channels together, per pixel or per token
 * position, over a sequence's tokens), with the reductions they do. */
#include <stdio.h>
#include <string.h>

#include "norm/norm.h"
#include "norm/registry.h"
#include "norm/stats_layer.h"

#define AXIS(a) (1u << NL_AXIS_##a)

/* the axes of an input of `ndim` besides batch and channels: its positions */
static unsigned positions_of(int ndim)
{
    return ndim == 4 ? AXIS(SPATIAL) : ndim == 3 ? AXIS(TOKENS) : 0u;
}

static const char *input_text(int ndim)
{
    return ndim == 4   ? "images (N, C, H, W)"
           : ndim == 3 ? "token sequences (N, T, D)"
                       : "feature vectors (N, D)";
}

/* "[batch, spatial]" */
static const char *axes_text(unsigned axes, char *buf, size_t size)
{
    return nl_name_set_text(&nl_norm_axis_names, axes, buf, size);
}

/* The reductions the primitives take on an input: batch statistics per
 * channel over the batch and every position, per-sample statistics over
 * channel groups (and an image's pixels), and an image's instance
 * statistics; as config text for the messages */
static const char *reductions_text(int ndim)
{
    return ndim == 4   ? "[batch, spatial] (batch norm), [channels, spatial] (layer norm; group "
                         "norm with model.norm.groups), [spatial] (instance norm)"
           : ndim == 3 ? "[batch, tokens] (batch norm over every token), [channels] (layer "
                         "norm per token; group norm with model.norm.groups)"
                       : "[batch] (batch norm), [channels] (layer norm; group norm with "
                         "model.norm.groups)";
}

/* What a reduction means on an input: the geometry's groups (0: batch
 * statistics; else per-sample groups of channels), or a refusal in why
 * (with the key that decides it) */
typedef struct {
    bool ok;
    int groups;
    const char *key;
    char why[640];
} reduction;

/* model.norm.reduce on an input of ndim: not given, a sample's features
 * (layer norm's reduction, the row's point in norm/layer.c) */
static unsigned reduce_on(int ndim, const nl_norm_spec *spec)
{
    static const unsigned sample[3] = NL_REDUCE_SAMPLE;
    return spec->reduce ? spec->reduce : sample[nl_norm_layout_index(ndim)];
}

static reduction reduction_of(nl_shape in, const nl_norm_spec *spec)
{
    reduction r = {.ok = false, .key = "model.norm.reduce"};
    const int ndim = in.ndim;
    const unsigned reduce = reduce_on(ndim, spec), positions = positions_of(ndim);
    const unsigned has = AXIS(BATCH) | AXIS(CHANNELS) | positions;
    char given[96], lacking[96];
    axes_text(reduce, given, sizeof given);
    if (reduce & ~has) {
        snprintf(r.why, sizeof r.why,
                 "model.norm.reduce %s names %s, but this layer sees %s, which have no such "
                 "axis; its axes: %s; accepted on it: %s",
                 given, axes_text(reduce & ~has, lacking, sizeof lacking), input_text(ndim),
                 axes_text(has, lacking, sizeof lacking), reductions_text(ndim));
        return r;
    }
    const bool batch = reduce & AXIS(BATCH), channels = reduce & AXIS(CHANNELS);
    const bool all_positions = (reduce & positions) == positions;
    if (batch && channels) {
        snprintf(r.why, sizeof r.why,
                 "model.norm.reduce %s takes statistics over the batch and the channels "
                 "together, which the shared normalization primitives do not compute (batch "
                 "statistics are per channel, per-sample ones over groups of channels); "
                 "accepted on %s: %s",
                 given, input_text(ndim), reductions_text(ndim));
        return r;
    }
    if (batch && !all_positions) {
        snprintf(r.why, sizeof r.why,
                 "model.norm.reduce %s takes batch statistics per %s, which the shared "
                 "primitives do not compute (a channel's batch statistics span all its "
                 "positions); accepted on %s: %s",
                 given, ndim == 4 ? "pixel" : "token position", input_text(ndim),
                 reductions_text(ndim));
        return r;
    }
    if (batch) {
        r.ok = true;
        r.groups = 0;
        return r;
    }
    /* per sample: the channels in groups, with all of an image's pixels
     * (a token's features alone on a sequence), or an image's pixels per
     * channel */
    const bool per_position = ndim == 3 ? !(reduce & positions) : ndim == 2 || all_positions;
    if (!channels && ndim == 4 && all_positions) {
        r.ok = true;
        r.groups = in.c;
        return r;
    }
    if (channels && per_position) {
        if (spec->groups < 1 || in.c % spec->groups != 0) {
            char valid[256];
            nl_valid_group_counts(in.c, nl_shape_plane(in), valid, sizeof valid);
            snprintf(r.why, sizeof r.why,
                     "model.norm.groups %d does not divide the layer's %d channels; valid group "
                     "counts for this layer: %s",
                     spec->groups, in.c, valid[0] ? valid : "none (widen the layer)");
            r.key = "model.norm.groups";
            return r;
        }
        r.ok = true;
        r.groups = spec->groups;
        return r;
    }
    snprintf(r.why, sizeof r.why,
             "model.norm.reduce %s takes per-sample statistics %s, which the shared "
             "primitives do not compute; accepted on %s: %s",
             given,
             ndim == 4 ? "per pixel across the channels"
                       : "over a sequence's tokens (the token layout keeps a token's features "
                         "together; the primitives group whole channels)",
             input_text(ndim), reductions_text(ndim));
    return r;
}

/* the values one statistic of a layer on `in` takes, for nl_norm's check
 * that none holds a single value */
static void custom_set(nl_shape in, const nl_norm_spec *spec, int train_batch, nl_norm_set *set)
{
    *set = (nl_norm_set){0};
    const reduction r = reduction_of(in, spec);
    if (!r.ok)
        return; /* the builder says why */
    const int rows = nl_shape_rows_per_sample(in), plane = nl_shape_plane(in);
    char given[40], spatial[48]; /* the axes: at most 35 characters */
    const unsigned reduce = reduce_on(in.ndim, spec);
    axes_text(reduce, given, sizeof given);
    if (r.groups == 0) {
        set->values = (long)train_batch * rows * plane;
        set->key = "train.batch_size";
        snprintf(set->per, sizeof set->per, "channel in training");
        snprintf(set->counted, sizeof set->counted, "model.norm.reduce %s over batch size %d%s",
                 given, train_batch, nl_norm_plane_text(in, spatial, sizeof spatial));
        snprintf(set->fix, sizeof set->fix,
                 "use a batch size of at least 2, or a reduction without batch");
        return;
    }
    set->values = (long)(in.c / r.groups) * plane;
    if (r.groups == in.c && !(reduce & AXIS(CHANNELS))) {
        set->key = "model.norm.reduce";
        snprintf(set->per, sizeof set->per, "channel of each sample");
        snprintf(set->counted, sizeof set->counted, "model.norm.reduce %s over a %dx%d map",
                 given, in.h, in.w);
        snprintf(set->fix, sizeof set->fix,
                 "add channels or batch to model.norm.reduce, or keep this layer's maps larger "
                 "than 1x1");
        return;
    }
    snprintf(set->per, sizeof set->per, "%s", r.groups > 1 ? "group" : in.ndim == 3 ? "token" : "sample");
    snprintf(set->counted, sizeof set->counted, "model.norm.reduce %s over %d %s / %d group%s%s",
             given, in.c, in.ndim == 4 ? "channels" : "features", r.groups,
             r.groups == 1 ? "" : "s", nl_norm_plane_text(in, spatial, sizeof spatial));
    char valid[256];
    nl_valid_group_counts(in.c, plane, valid, sizeof valid);
    if (r.groups > 1 && valid[0]) {
        set->key = "model.norm.groups";
        snprintf(set->fix, sizeof set->fix, "valid group counts for this layer: %s", valid);
    }
}

static nl_act *custom_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    const reduction r = reduction_of(in->shape, spec);
    if (!r.ok) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: %s", name, r.why);
        nl_builder_key(b, r.key);
        return NULL;
    }
    const bool running = nl_norm_keeps_running(spec);
    if (running && (reduce_on(in->shape.ndim, spec) & AXIS(CHANNELS))) {
        const bool eval = spec->eval_stats == NL_STATS_RUNNING;
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: model.norm.%s running with model.norm.reduce over channels: "
                        "running statistics are kept per channel, and a reduction over channels "
                        "gives each sample statistics of its own; use batch",
                        name, eval ? "eval_stats" : "train_stats");
        nl_builder_key(b, eval ? "model.norm.eval_stats" : "model.norm.train_stats");
        return NULL;
    }
    if (!spec->center && spec->scale == NL_SCALE_NONE) {
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: model.norm.scale none with model.norm.center false neither "
                        "centres nor divides: the layer would be the identity (and learn no "
                        "affine map); set center true (mean-only normalization), another scale, "
                        "or model.norm.type none",
                        name);
        nl_builder_key(b, "model.norm.scale");
        return NULL;
    }
    const nl_norm_geom geom = {.c = in->shape.c, .hw = nl_shape_plane(in->shape),
                               .groups = r.groups, .center = spec->center, .eps = spec->eps,
                               .stats_precision = spec->stats_precision};
    const nl_stats_point point = {.center = spec->center, .scale = spec->scale,
                                  .train_running = spec->train_stats == NL_STATS_RUNNING,
                                  .eval_batch = running && spec->eval_stats == NL_STATS_BATCH};
    return nl_stats_point_layer(b, name, in, spec, geom, running, &point);
}

const nl_norm_info nl_norm_row_custom = {
    {"custom", "a point of the design space: the axes the statistics reduce over, centring, "
               "scale and where the statistics come from, as keys (model.norm.reduce, ...)"},
    .keys = NL_NORM_STATS_KEYS | NL_NORM_KEY_GROUPS | NL_NORM_KEY_MOMENTUM | NL_NORM_KEY_AXES |
            NL_NORM_KEY_TRAIN_STATS | NL_NORM_KEY_EVAL_STATS,
    .learned_shift = true, .center = true, .running_stats = true,
    .features = true, .images = true, .tokens = true, .adds_layer = true,
    .color = "#ffbb78", .build = custom_norm, .stats_set = custom_set,
    .groups_default = 1,
};
