/* Plot kinds, metrics and the checks of a plot request. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/spec.h"
#include "results/summary_keys.h"

static const nl_name_entry final_entries[] = {
    {"test_error", "1 - final test accuracy"},
    {"test_loss", "final test loss"},
    {"test_accuracy", "final test accuracy"},
    {NL_SUMMARY_BEST_TEST_ACCURACY, "best test accuracy over the evaluations"},
    {"train_loss", "final training loss"},
};
const nl_name_table nl_plot_final_metric_names = {"metric", final_entries, sizeof final_entries / sizeof final_entries[0], 0};

static const nl_name_entry curve_entries[] = {
    {"error", "1 - accuracy"},
    {"loss", "cross-entropy loss"},
    {"accuracy", "fraction correct"},
};
const nl_name_table nl_plot_curve_metric_names = {"metric", curve_entries, sizeof curve_entries / sizeof curve_entries[0], 0};

/* the names are series.csv's (train/series.c), which the writer looks up */
static const nl_name_entry weight_stat_entries[] = {
    {"update_ratio", "||w_after - w_before|| / ||w_before|| of each weight tensor over the step"},
    {"weight_norm", "each weight tensor's L2 norm before the step"},
    {"effective_lr", "the update ratio of the weights feeding batch norm (scale-invariant)"},
    {"sigma_estimate", "each spectrally normalized weight's sigma, the forward's estimate and "
                       "beside it the exact largest singular value (sigma_true)"},
};
const nl_name_table nl_plot_weight_stat_names = {"metric", weight_stat_entries,
                                                 sizeof weight_stat_entries / sizeof weight_stat_entries[0], 0};

static const nl_name_entry split_entries[] = {
    {"test", "the test split, eval mode"},
    {"train", "training batches (as logged)"},
    {"test_trainmode", "the test split with batch statistics"},
};
static const nl_name_table split_names = {"split", split_entries, sizeof split_entries / sizeof split_entries[0], 0};

void nl_plot_spec_init(nl_plot_spec *s, nl_plot_kind kind)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->threshold = NAN;
}

static bool check_name(const nl_name_table *t, const char *what, const char *value, char *msg, size_t size)
{
    if (!value[0] || nl_name_lookup(t, value) >= 0)
        return true;
    char acc[256];
    const char *guess = nl_closest_in_table(t, value);
    snprintf(msg, size, "%s '%s' is not accepted here; accepted: %s%s%s%s", what, value,
             nl_name_choices(t, acc, sizeof acc), guess ? " (did you mean '" : "", guess ? guess : "",
             guess ? "'?)" : "");
    return false;
}

/* an option given to a kind that does not take it: which kinds do */
static bool check_takes(const nl_plot_spec *s, char *msg, size_t size)
{
    const unsigned takes = nl_plot_kind_info_of(s->kind)->takes;
    const struct {
        unsigned option;
        const char *name;
        bool given;
    } given[] = {
        {NL_PLOT_TAKES_X, "x", s->x[0] != '\0'},
        {NL_PLOT_TAKES_COLOR, "color", s->color[0] != '\0'},
        {NL_PLOT_TAKES_PANEL, "panel", s->panel[0] != '\0'},
        {NL_PLOT_TAKES_THRESHOLD, "threshold", !isnan(s->threshold)},
        {NL_PLOT_TAKES_SPLIT, "split", s->split[0] != '\0'},
    };
    for (size_t i = 0; i < sizeof given / sizeof given[0]; i++)
        if (given[i].given && !(takes & given[i].option)) {
            char kinds[256];
            snprintf(msg, size, "a %s plot takes no %s; %s applies to %s plots", nl_name_of(&nl_plot_kind_names, s->kind),
                     given[i].name, given[i].name, nl_plot_kinds_taking(given[i].option, kinds, sizeof kinds));
            return false;
        }
    return true;
}

bool nl_plot_spec_check(const nl_plot_spec *s, char *msg, size_t size)
{
    const nl_plot_kind_info *info = nl_plot_kind_info_of(s->kind);
    if (!check_takes(s, msg, size))
        return false;
    if ((info->takes & NL_PLOT_TAKES_X) && !s->x[0]) {
        snprintf(msg, size, "a %s plot needs x: the swept key on its x axis (e.g. model.norm.groups)",
                 info->entry.name);
        return false;
    }
    const char *keys[3] = {s->x, s->color, s->panel};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (keys[i][0] && !strcmp(keys[i], keys[j])) {
                snprintf(msg, size, "x, color and panel must be different keys");
                return false;
            }
    if (!info->metrics) {
        if (s->metric[0]) {
            snprintf(msg, size, "a %s plot takes no metric", info->entry.name);
            return false;
        }
        return true;
    }
    return check_name(info->metrics, "metric", s->metric, msg, size) &&
           check_name(&split_names, "split", s->split, msg, size);
}

const char *nl_plot_spec_name(const nl_plot_spec *s, char *buf, size_t size)
{
    if (s->name[0]) {
        snprintf(buf, size, "%s", s->name);
        return buf;
    }
    const nl_plot_kind_info *info = nl_plot_kind_info_of(s->kind);
    const bool default_metric = !s->metric[0] || (info->default_metric && !strcmp(s->metric, info->default_metric));
    const bool default_split = !s->split[0] || !strcmp(s->split, "test");
    snprintf(buf, size, "%s%s%s%s%s", nl_name_of(&nl_plot_kind_names, s->kind), default_metric ? "" : "-",
             default_metric ? "" : s->metric, default_split ? "" : "-", default_split ? "" : s->split);
    if (info->takes & NL_PLOT_TAKES_X) { /* final-groups: one file per x key */
        const size_t used = strlen(buf);
        snprintf(buf + used, size - used, "-%s", strrchr(s->x, '.') ? strrchr(s->x, '.') + 1 : s->x);
    }
    /* -p-0.5-widths-64-64: two filtered plots of one kind get two files,
     * named as the run directories name their values */
    for (int i = 0; i < s->where.n; i++) {
        const char *key = s->where.items[i].key;
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "-%s-", strrchr(key, '.') ? strrchr(key, '.') + 1 : key);
        /* a number as %g: 8 and 8.0 select the same runs, so one file */
        char *end, number[32];
        const char *value = s->where.items[i].value;
        const double v = strtod(value, &end);
        if (end != value && !*end && isfinite(v)) {
            snprintf(number, sizeof number, "%g", v);
            value = number;
        }
        used = strlen(buf);
        for (const char *c = value; *c && used + 1 < size; c++)
            if (isalnum((unsigned char)*c) || strchr("._-", *c))
                buf[used++] = *c;
            else if (*c == ',')
                buf[used++] = '-';
        buf[used] = '\0';
    }
    return buf;
}

bool nl_plot_where_add(nl_plot_where *w, const char *key, const char *value, char *msg, size_t size)
{
    if (w->n == NL_PLOT_MAX_WHERE) {
        snprintf(msg, size, "at most %d where keys", NL_PLOT_MAX_WHERE);
        return false;
    }
    if (!key[0] || !value[0]) {
        snprintf(msg, size, "'%s=%s': expected KEY=VALUE with both given (e.g. model.dropout.p=0.5)", key, value);
        return false;
    }
    if (strlen(key) >= sizeof w->items[0].key || strlen(value) >= sizeof w->items[0].value) {
        snprintf(msg, size, "'%s=%s' is too long (at most %zu characters each side)", key, value,
                 sizeof w->items[0].key - 1);
        return false;
    }
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->items[i].key, key)) {
            snprintf(msg, size, "%s is given twice (a run has one value of a key)", key);
            return false;
        }
    nl_copy_string(w->items[w->n].key, sizeof w->items[0].key, key);
    nl_copy_string(w->items[w->n].value, sizeof w->items[0].value, value);
    w->n++;
    return true;
}
