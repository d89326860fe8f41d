#include "norm/registry.h"

#include <string.h>

/* The registry table, generated from norm/kinds.def: each kind's row lives
 * in its own file beside its builder; this file only tables them. */
static const nl_norm_info *const rows[] = {
#define NL_NORM_KIND(suffix, row) [NL_NORM_##suffix] = &row,
#include "norm/kinds.def"
};

static const nl_name_entry *const row_names[] = {
#define NL_NORM_KIND(suffix, row) [NL_NORM_##suffix] = &row.id,
#include "norm/kinds.def"
};

const nl_name_table nl_norm_names = {"normalizer", (const void *)row_names, NL_NORM_COUNT,
                                     NL_NAME_BY_POINTER};

const nl_norm_info *nl_norm_info_of(nl_norm_kind k)
{
    return rows[k];
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
    {NL_NORM_KEY_STATS_PRECISION, "stats_precision"},
    {NL_NORM_KEY_AXES, "reduce, center, scale"},
    {NL_NORM_KEY_TRAIN_STATS, "train_stats"},
    {NL_NORM_KEY_EVAL_STATS, "eval_stats"},
};

void nl_norm_write_table(FILE *out)
{
    fprintf(out, "| `type` | what | keys (model.norm.) | learned shift | running statistics "
                 "| inputs |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *r = rows[k];
        fprintf(out, "| `%s` | %s | ", r->id.name, r->id.help);
        int shown = 0;
        for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
            if (r->keys & key_names[i].bit)
                fprintf(out, "%s`%s`", shown++ ? ", " : "", key_names[i].key);
        fprintf(out, "%s | %s | %s | %s |\n", shown ? "" : "-",
                !r->learned_shift                 ? "no"
                : (r->keys & NL_NORM_KEY_AXES)    ? "beta where it centres"
                                                  : "beta",
                !r->running_stats                     ? "no"
                : (r->keys & NL_NORM_KEY_EVAL_STATS)  ? "where `eval_stats` or `train_stats` is running"
                : r->running_stats_default            ? "yes (default on)"
                                                      : "optional (default off)",
                r->features && r->images ? (r->tokens ? "features, images, tokens" : "features, images")
                : r->images                ? "images"
                                           : "features");
    }
}

/* "[batch, spatial]" */
static const char *axes_text(unsigned axes, char *buf, size_t size)
{
    return nl_name_set_text(&nl_norm_axis_names, axes, buf, size);
}

void nl_norm_write_space_table(FILE *out)
{
    fprintf(out, "| built-in | `reduce` on feature vectors / token sequences / images | `center` "
                 "| `scale` | `train_stats` | `eval_stats` | `groups` |\n");
    fprintf(out, "|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *r = rows[k];
        const nl_norm_point *p = r->point;
        if (!p)
            continue;
        fprintf(out, "| `%s` | ", r->id.name);
        for (int i = 0; i < 3; i++) {
            char axes[96];
            fprintf(out, "%s%s", i ? " / " : "",
                    p->reduce[i] ? axes_text(p->reduce[i], axes, sizeof axes) : "-");
        }
        fprintf(out, " | %s | %s | %s | %s | %s |\n", p->center ? "true" : "false",
                nl_name_of(&nl_norm_scale_names, p->scale),
                nl_name_of(&nl_stats_source_names, p->train_stats),
                !r->running_stats                              ? "batch"
                : (r->keys & NL_NORM_KEY_TRACK_RUNNING_STATS)  ? "running with `track_running_stats`, else batch"
                                                               : "running",
                (r->keys & NL_NORM_KEY_GROUPS)                  ? "the kind's `groups`"
                : (p->reduce[2] & (1u << NL_AXIS_CHANNELS))     ? "1"
                                                                : "-");
    }
}

void nl_norm_write_formula_table(FILE *out)
{
    static const char *inputs[3] = {"feature vectors", "token sequences", "images"};
    fprintf(out, "| built-in | input | `expr` | `params` |\n");
    fprintf(out, "|---|---|---|---|\n");
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *r = rows[k];
        if (!r->formula_params)
            continue;
        for (int i = 0; i < 3; i++) {
            if (!r->formula[i])
                continue;
            /* inputs with the same formula share a row */
            bool first = true;
            for (int j = 0; j < i; j++)
                first &= !(r->formula[j] && !strcmp(r->formula[j], r->formula[i]));
            if (!first)
                continue;
            fprintf(out, "| `%s` | ", r->id.name);
            bool any = false;
            for (int j = i; j < 3; j++)
                if (r->formula[j] && !strcmp(r->formula[j], r->formula[i])) {
                    fprintf(out, "%s%s", any ? ", " : "", inputs[j]);
                    any = true;
                }
            fprintf(out, " | `%s` | `%s` |\n", r->formula[i],
                    r->formula_params[0] ? r->formula_params : "");
        }
    }
}

void nl_norm_spec_defaults(nl_norm_spec *norm, nl_norm_kind kind)
{
    memset(norm, 0, sizeof *norm);
    norm->kind = kind;
    norm->placement = NL_PLACE_BEFORE;
    norm->groups = nl_norm_info_of(kind)->groups_default ? nl_norm_info_of(kind)->groups_default
                                                         : NL_NORM_DEFAULT_GROUPS;
    norm->eps = 1e-5f;
    norm->momentum = 0.1f;
    norm->cumulative = false;
    norm->affine = true;
    /* PyTorch: BatchNorm tracks running statistics, InstanceNorm does not */
    norm->track_running_stats = nl_norm_info_of(kind)->running_stats_default;
    /* the paper's limits; its ramps (5k-40k and 5k-25k of ~130k steps)
     * scaled to the few thousand steps of a run here */
    norm->r_max = 3.0f;
    norm->d_max = 5.0f;
    norm->r_max_ramp[0] = 500;
    norm->r_max_ramp[1] = 4000;
    norm->n_r_max_ramp = 2;
    norm->d_max_ramp[0] = 500;
    norm->d_max_ramp[1] = 2500;
    norm->n_d_max_ramp = 2;
    norm->alpha_init = 0.5f; /* Zhu et al. 2025's default */
    norm->cell_state = true;
    norm->step_stats = true;
    /* a custom normalizer is layer norm unless told otherwise: a sample's
     * features (reduce not given), centred, divided by the standard
     * deviation, statistics of the values at hand in training and in
     * evaluation (config/resolve.c makes evaluation's the running averages
     * where the configured reduction includes the batch). A kind without
     * these keys keeps what its row says, and reads eval_stats as running
     * for the rules on the keys every kind has (momentum's) */
    norm->center = true;
    norm->scale = NL_SCALE_STD;
    norm->train_stats = NL_STATS_BATCH;
    norm->eval_stats = (nl_norm_info_of(kind)->keys & NL_NORM_KEY_EVAL_STATS) ? NL_STATS_BATCH
                                                                               : NL_STATS_RUNNING;
    const nl_norm_info *row = nl_norm_info_of(kind);
    if (row->example_expr) {
        nl_copy_string(norm->expr, sizeof norm->expr, row->example_expr);
        nl_copy_string(norm->params, sizeof norm->params, row->example_params);
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
        const nl_norm_info *r = rows[k];
        if (nl_norm_accepts(r, ndim))
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? sep : "", r->id.name);
    }
    return buf;
}

unsigned nl_norm_kinds_with_keys(unsigned keys)
{
    unsigned mask = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++)
        if ((rows[k]->keys & keys) == keys)
            mask |= 1u << k;
    return mask;
}
