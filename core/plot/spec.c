/* Plot kinds, metrics and the checks of a plot request. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot/plot.h"

static const nl_name_entry kind_entries[] = {
    [NL_PLOT_CURVES] = {"curves", "training loss and a test metric against step, mean over seeds with a min-max band"},
    [NL_PLOT_BATCH_SIZE] = {"batch_size", "final test error against batch size (log2), a series per normalizer"},
    [NL_PLOT_LR] = {"lr", "final test error or loss against learning rate, divergence marked, tolerated ranges"},
    [NL_PLOT_HEATMAP] = {"heatmap", "final test error over learning rate x batch size, a panel per normalizer"},
    [NL_PLOT_TRAIN_EVAL_GAP] = {"train_eval_gap", "batch norm: eval-mode vs train-mode test accuracy"},
    [NL_PLOT_TRACE] = {"trace", "activation percentiles over training (trace.csv)"},
    [NL_PLOT_FINAL] = {"final", "a final metric against any swept key (x), colour and panel keys selectable"},
    [NL_PLOT_GRAD_NORMS] = {"grad_norms", "each layer's gradient norm at step 0, input to output (series.csv)"},
    [NL_PLOT_ATTENTION_LOGITS] = {"attention_logits", "the largest attention logit against step (series.csv)"},
};
_Static_assert(sizeof kind_entries / sizeof kind_entries[0] == NL_PLOT_KIND_COUNT, "plot kinds");
const nl_name_table nl_plot_kind_names = {"plot kind", kind_entries, NL_PLOT_KIND_COUNT, 0};

static const nl_name_entry final_entries[] = {
    {"test_error", "1 - final test accuracy"},
    {"test_loss", "final test loss"},
    {"test_accuracy", "final test accuracy"},
    {"best_test_accuracy", "best test accuracy over the evaluations"},
    {"train_loss", "final training loss"},
};
const nl_name_table nl_plot_final_metric_names = {"metric", final_entries, 5, 0};

static const nl_name_entry curve_entries[] = {
    {"error", "1 - accuracy"},
    {"loss", "cross-entropy loss"},
    {"accuracy", "fraction correct"},
};
const nl_name_table nl_plot_curve_metric_names = {"metric", curve_entries, 3, 0};

static const nl_name_entry split_entries[] = {
    {"test", "the test split, eval mode"},
    {"train", "training batches (as logged)"},
    {"test_trainmode", "the test split with batch statistics"},
};
static const nl_name_table split_names = {"split", split_entries, 3, 0};

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

bool nl_plot_kind_on_request(nl_plot_kind kind) { return kind == NL_PLOT_FINAL; }

bool nl_plot_spec_check(const nl_plot_spec *s, char *msg, size_t size)
{
    const char *kind = nl_name_of(&nl_plot_kind_names, s->kind);
    const bool takes_color = s->kind == NL_PLOT_FINAL || s->kind == NL_PLOT_GRAD_NORMS ||
                             s->kind == NL_PLOT_ATTENTION_LOGITS;
    const bool takes_panel = s->kind == NL_PLOT_FINAL || s->kind == NL_PLOT_ATTENTION_LOGITS;
    if ((s->kind != NL_PLOT_FINAL && s->x[0]) || (!takes_color && s->color[0]) ||
        (!takes_panel && s->panel[0])) {
        snprintf(msg, size, "x applies to final plots only, color to final, grad_norms and "
                 "attention_logits, panel to final and attention_logits");
        return false;
    }
    if (s->color[0] && !strcmp(s->color, s->panel)) {
        snprintf(msg, size, "color and panel must be different keys");
        return false;
    }
    switch (s->kind) {
    case NL_PLOT_CURVES:
        return check_name(&nl_plot_curve_metric_names, "metric", s->metric, msg, size) &&
               check_name(&split_names, "split", s->split, msg, size);
    case NL_PLOT_FINAL:
        if (!s->x[0]) {
            snprintf(msg, size, "a final plot needs x: the swept key on its x axis (e.g. model.norm.groups)");
            return false;
        }
        if (!strcmp(s->x, s->color) || !strcmp(s->x, s->panel) || (s->color[0] && !strcmp(s->color, s->panel))) {
            snprintf(msg, size, "x, color and panel must be different keys");
            return false;
        }
        /* fall through - a final metric, as the other final-metric kinds */
    case NL_PLOT_BATCH_SIZE:
    case NL_PLOT_LR:
    case NL_PLOT_HEATMAP:
        if (s->split[0]) {
            snprintf(msg, size, "a %s plot has no split (it shows final metrics)", kind);
            return false;
        }
        if (!isnan(s->threshold) && s->kind != NL_PLOT_LR) {
            snprintf(msg, size, "threshold applies to lr plots only");
            return false;
        }
        return check_name(&nl_plot_final_metric_names, "metric", s->metric, msg, size);
    default:
        if (s->metric[0] || s->split[0] || !isnan(s->threshold)) {
            snprintf(msg, size, "a %s plot takes no metric, split or threshold", kind);
            return false;
        }
        return true;
    }
}

const char *nl_plot_spec_name(const nl_plot_spec *s, char *buf, size_t size)
{
    if (s->name[0]) {
        snprintf(buf, size, "%s", s->name);
        return buf;
    }
    const bool default_metric = !s->metric[0] || (s->kind == NL_PLOT_CURVES ? !strcmp(s->metric, "error")
                                                                             : !strcmp(s->metric, "test_error"));
    const bool default_split = !s->split[0] || !strcmp(s->split, "test");
    snprintf(buf, size, "%s%s%s%s%s", nl_name_of(&nl_plot_kind_names, s->kind), default_metric ? "" : "-",
             default_metric ? "" : s->metric, default_split ? "" : "-", default_split ? "" : s->split);
    if (s->kind == NL_PLOT_FINAL) { /* final-groups: one file per x key */
        const size_t used = strlen(buf);
        snprintf(buf + used, size - used, "-%s", strrchr(s->x, '.') ? strrchr(s->x, '.') + 1 : s->x);
    }
    return buf;
}
