/* The normalizer's front door: nl_norm, which every architecture calls to
 * put the configured normalizer after a layer, checks the input against
 * the kind's row (what it normalizes, sets of more than one value) and
 * calls the row's builder; and what the rows' flags mean together (a
 * learned shift, running statistics, the batch's statistics at evaluation,
 * centring), which the builders, the config checks and the checkpoints
 * ask. Each kind's own code is in its file. */
#include <stdio.h>

#include "norm/norm.h"
#include "norm/registry.h"

/* A kind with the design space's axes learns back what its point takes
 * away: a shift beta where it centres */
bool nl_norm_has_shift(const nl_norm_spec *spec)
{
    const nl_norm_info *row = nl_norm_info_of(spec->kind);
    return row->learned_shift && spec->affine && (!(row->keys & NL_NORM_KEY_AXES) || spec->center);
}

bool nl_norm_keeps_running(const nl_norm_spec *spec)
{
    const nl_norm_info *row = nl_norm_info_of(spec->kind);
    if (!row->running_stats)
        return false;
    if (row->keeps_running)
        return row->keeps_running(spec);
    if (row->keys & NL_NORM_KEY_EVAL_STATS)
        return spec->train_stats == NL_STATS_RUNNING || spec->eval_stats == NL_STATS_RUNNING;
    return !(row->keys & NL_NORM_KEY_TRACK_RUNNING_STATS) || spec->track_running_stats;
}

const char *nl_norm_eval_batch_stats_key(const nl_norm_spec *spec)
{
    const nl_norm_info *row = nl_norm_info_of(spec->kind);
    if (!row->stats_set)
        return NULL;
    if (row->keys & NL_NORM_KEY_EVAL_STATS)
        return spec->eval_stats == NL_STATS_BATCH ? "model.norm.eval_stats" : NULL;
    /* a kind that can keep running statistics and is told not to: eval
     * mode normalizes with the batch's, as PyTorch's does */
    if (row->running_stats && (row->keys & NL_NORM_KEY_TRACK_RUNNING_STATS) && !nl_norm_keeps_running(spec))
        return "model.norm.track_running_stats";
    return NULL;
}

bool nl_norm_centres(const nl_norm_spec *spec)
{
    const nl_norm_info *row = nl_norm_info_of(spec->kind);
    return (row->keys & NL_NORM_KEY_AXES) ? spec->center : row->center;
}


/* The one place a layer meets its normalizer's needs: a row that keeps
 * statistics says how many values each normalized set holds here, and a
 * set of one is refused (nl_norm_set says why it is degenerate). */
static bool sets_hold_more_than_one(nl_builder *b, const char *name, nl_shape in,
                                    const nl_norm_spec *spec, const char *size_key,
                                    const char *size_hint)
{
    const nl_norm_info *info = nl_norm_info_of(spec->kind);
    if (!info->stats_set || !nl_norm_accepts(info, in.ndim))
        return true; /* no statistics, or the build refuses the input itself */
    nl_norm_set set;
    info->stats_set(in, spec, nl_builder_train_batch(b), &set);
    if (set.values != 1)
        return true;
    const char *key = set.key ? set.key : size_key;
    char fix[400];
    if (set.fix[0])
        snprintf(fix, sizeof fix, "%s", set.fix);
    else
        snprintf(fix, sizeof fix, "%s, or use another model.norm.type",
                 size_hint ? size_hint : "give the layer more values");
    nl_builder_fail(b, NL_ERR_CONFIG,
                    "layer %s: model.norm.type %s needs more than one value per %s, but %s "
                    "gives 1; with one value %s; %s",
                    name, info->id.name, set.per, set.counted,
                    nl_norm_centres(spec) ? "x - mean is 0, so the layer outputs beta whatever its input"
                                 : "x / rms(x) is +-1, so only the sign of the input survives "
                                   "and almost no gradient passes",
                    fix);
    if (key)
        nl_builder_key(b, key);
    return false;
}

nl_act *nl_norm_at(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec,
                   const char *size_key, const char *size_hint)
{
    if ((int)spec->kind < 0 || spec->kind >= NL_NORM_COUNT) {
        nl_builder_fail(b, NL_ERR_CONFIG, "layer %s: unknown normalizer %d", name, spec->kind);
        return NULL;
    }
    const nl_norm_info *info = nl_norm_info_of(spec->kind);
    /* the row says which inputs the kind normalizes (features, images,
     * tokens); every other one is refused here, for every kind alike */
    const int ndim = in->shape.ndim;
    if (!nl_norm_accepts(info, ndim)) {
        static const char *const inputs[] = {"", "", "(N, D) feature vectors",
                                             "token sequences (N, T, D)", "images (N, C, H, W)"};
        static const char *const short_names[] = {"", "", "features", "tokens", "images"};
        char accepted[256];
        nl_norm_kinds_accepting(ndim, " | ", accepted, sizeof accepted);
        nl_builder_fail(b, NL_ERR_CONFIG,
                        "layer %s: normalizer '%s' does not apply to %s (%s); accepted on %s: %s",
                        name, info->id.name, ndim >= 2 && ndim <= 4 ? inputs[ndim] : "this input",
                        info->id.help, ndim >= 2 && ndim <= 4 ? short_names[ndim] : "it",
                        accepted);
        nl_builder_key(b, "model.norm.type");
        return NULL;
    }
    if (!sets_hold_more_than_one(b, name, in->shape, spec, size_key, size_hint))
        return NULL;
    nl_builder_norm_site(b, name, in->shape);
    return info->build(b, name, in, spec);
}

nl_act *nl_norm(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    return nl_norm_at(b, name, in, spec, NULL, NULL);
}
