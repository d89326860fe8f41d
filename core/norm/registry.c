#include "norm/registry.h"

#include "norm/norm.h"

#define STATS_KEYS (NL_NORM_KEY_EPS | NL_NORM_KEY_AFFINE)
#define RUNNING_KEYS (NL_NORM_KEY_MOMENTUM | NL_NORM_KEY_TRACK_RUNNING_STATS)

/* Colours: the first of matplotlib's tab10 per kind, grey for none, so a
 * normalizer keeps its colour across every plot. */
static const nl_norm_info rows[] = {
    [NL_NORM_NONE] = {{"none", "no normalization"},
                      .keys = 0, .features = true, .images = true, .tokens = true,
                      .adds_layer = false,
                      .color = "#7f7f7f", .build = nl_norm_none},
    [NL_NORM_BATCH] = {{"batch", "BatchNorm: statistics per channel over N*H*W, running statistics for eval"},
                       .keys = STATS_KEYS | RUNNING_KEYS | NL_NORM_KEY_SYNC, .learned_shift = true,
                       .center = true, .running_stats = true, .running_stats_default = true,
                       .features = true, .images = true, .tokens = true, .adds_layer = true,
                       .color = "#1f77b4", .build = nl_batchnorm,
                       .stats_set = nl_batch_set},
    [NL_NORM_LAYER] = {{"layer", "LayerNorm as in Wu & He: statistics per sample over C*H*W, per-channel affine"},
                       .keys = STATS_KEYS, .learned_shift = true, .center = true,
                       .features = true, .images = true, .tokens = true, .adds_layer = true,
                       .color = "#2ca02c", .build = nl_layernorm,
                       .stats_set = nl_layer_set},
    [NL_NORM_GROUP] = {{"group", "GroupNorm: statistics per sample and group of channels, per-channel affine"},
                       .keys = STATS_KEYS | NL_NORM_KEY_GROUPS, .learned_shift = true, .center = true,
                       .features = true, .images = true, .tokens = true, .adds_layer = true,
                       .color = "#ff7f0e", .build = nl_groupnorm,
                       .stats_set = nl_group_set},
    [NL_NORM_INSTANCE] = {{"instance", "InstanceNorm: statistics per sample and channel over H*W (images only)"},
                          .keys = STATS_KEYS | RUNNING_KEYS, .learned_shift = true, .center = true,
                          .running_stats = true, .running_stats_default = false,
                          .features = false, .images = true, .adds_layer = true,
                          .color = "#9467bd", .build = nl_instancenorm,
                          .stats_set = nl_plane_set},
    [NL_NORM_RMS] = {{"rms", "RMSNorm (Zhang & Sennrich): layer norm's axes, no centring, scale gamma only"},
                     .keys = STATS_KEYS, .learned_shift = false, .center = false,
                     .features = true, .images = true, .tokens = true, .adds_layer = true,
                     .color = "#d62728", .build = nl_rmsnorm,
                     .stats_set = nl_layer_set},
    [NL_NORM_BATCH_RENORM] = {{"batch_renorm", "Batch Renormalization (Ioffe 2017): batch norm corrected by clipped r, d toward the running statistics"},
                              .keys = STATS_KEYS | NL_NORM_KEY_MOMENTUM | NL_NORM_KEY_RENORM,
                              .learned_shift = true, .center = true, .running_stats = true,
                              .running_stats_default = true, .features = true, .images = true,
                              .tokens = true,
                              .adds_layer = true, .color = "#8c564b", .build = nl_batch_renorm,
                              .stats_set = nl_batch_set, .training = &nl_batch_renorm_training},
    [NL_NORM_GHOST_BATCH] = {{"ghost_batch", "Ghost batch norm (Hoffer et al. 2017): batch statistics per virtual batch in training"},
                             .keys = STATS_KEYS | RUNNING_KEYS | NL_NORM_KEY_VIRTUAL_BATCH,
                             .learned_shift = true, .center = true, .running_stats = true,
                             .running_stats_default = true, .features = true, .images = true,
                             .adds_layer = true, .color = "#e377c2", .build = nl_ghost_batchnorm,
                             .stats_set = nl_ghost_batch_set,
                             .training = &nl_ghost_batch_training},
    [NL_NORM_DYT] = {{"dyt", "Dynamic Tanh (Zhu et al. 2025): gamma * tanh(alpha * x) + beta, "
                             "learned scalar alpha, no statistics"},
                     .keys = NL_NORM_KEY_AFFINE | NL_NORM_KEY_ALPHA_INIT, .learned_shift = true,
                     .features = true, .images = true, .tokens = true, .adds_layer = true,
                     .color = "#bcbd22", .build = nl_dyt},
    [NL_NORM_FRN] = {{"frn", "Filter Response Normalization + TLU (Singh & Krishnan 2020): "
                             "max(gamma * x / sqrt(mean_HW(x^2) + eps) + beta, tau), learned tau "
                             "(images only)"},
                     .keys = STATS_KEYS, .learned_shift = true, .center = false,
                     .features = false, .images = true, .adds_layer = true,
                     .color = "#17becf", .build = nl_frn, .stats_set = nl_plane_set},
    [NL_NORM_SCALE] = {{"scale", "ScaleNorm (Nguyen & Salazar 2019): g * x / max(||x||, eps) per "
                                 "sample or token, one learned scalar g from sqrt(C*H*W)"},
                       .keys = NL_NORM_KEY_EPS, .learned_shift = false, .center = false,
                       .features = true, .images = true, .tokens = true, .adds_layer = true,
                       .color = "#aec7e8", .build = nl_scalenorm, .stats_set = nl_layer_set},
};
_Static_assert(sizeof rows / sizeof rows[0] == NL_NORM_COUNT, "one registry row per nl_norm_kind");
_Static_assert(offsetof(nl_norm_info, id) == 0, "nl_norm_names reads the rows as name entries");

const nl_name_table nl_norm_names = {"normalizer", &rows[0].id, NL_NORM_COUNT, sizeof rows[0]};

const nl_norm_info *nl_norm_info_of(nl_norm_kind k)
{
    return &rows[k];
}

static const struct {
    unsigned bit;
    const char *key;
} key_names[] = {
    {NL_NORM_KEY_EPS, "eps"},
    {NL_NORM_KEY_AFFINE, "affine"},
    {NL_NORM_KEY_GROUPS, "groups"},
    {NL_NORM_KEY_MOMENTUM, "momentum"},
    {NL_NORM_KEY_TRACK_RUNNING_STATS, "track_running_stats"},
    {NL_NORM_KEY_RENORM, "r_max, d_max, r_max_ramp, d_max_ramp"},
    {NL_NORM_KEY_VIRTUAL_BATCH, "virtual_batch"},
    {NL_NORM_KEY_SYNC, "sync"},
    {NL_NORM_KEY_ALPHA_INIT, "alpha_init"},
};

void nl_norm_write_table(FILE *out)
{
    fprintf(out, "| `type` | what | keys (model.norm.) | learned shift | running statistics "
                 "| inputs |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *r = &rows[k];
        fprintf(out, "| `%s` | %s | ", r->id.name, r->id.help);
        int shown = 0;
        for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
            if (r->keys & key_names[i].bit)
                fprintf(out, "%s`%s`", shown++ ? ", " : "", key_names[i].key);
        fprintf(out, "%s | %s | %s | %s |\n", shown ? "" : "-",
                r->learned_shift ? "beta" : "no",
                !r->running_stats          ? "no"
                : r->running_stats_default ? "yes (default on)"
                                           : "optional (default off)",
                r->features && r->images ? (r->tokens ? "features, images, tokens" : "features, images")
                : r->images                ? "images"
                                           : "features");
    }
}

bool nl_norm_accepts(const nl_norm_info *row, int ndim)
{
    return ndim == 2 ? row->features : ndim == 3 ? row->tokens : row->images;
}

const char *nl_norm_kinds_accepting(int ndim, const char *sep, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < NL_NORM_COUNT && used < size; k++) {
        const nl_norm_info *r = &rows[k];
        if (nl_norm_accepts(r, ndim))
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? sep : "", r->id.name);
    }
    return buf;
}

unsigned nl_norm_kinds_with_keys(unsigned keys)
{
    unsigned mask = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++)
        if ((rows[k].keys & keys) == keys)
            mask |= 1u << k;
    return mask;
}
