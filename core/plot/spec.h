/* What a plot request is: the plot kinds (their rows live in
 * core/plot/kinds.c), the metrics they take, the filter on the runs and a
 * plot's spec (core/plot/spec.c). A leaf below plot.h and the plot
 * internals, which both speak of specs. */
#ifndef NL_PLOT_SPEC_H
#define NL_PLOT_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/names.h"
#include "base/status.h"
#include "results/results.h" /* nl_results_filter */

typedef enum {
    NL_PLOT_CURVES,
    NL_PLOT_BATCH_SIZE,
    NL_PLOT_LR,
    NL_PLOT_HEATMAP,
    NL_PLOT_TRAIN_EVAL_GAP,
    NL_PLOT_TRACE,
    NL_PLOT_FINAL,
    NL_PLOT_GRAD_NORMS,
    NL_PLOT_ATTENTION_LOGITS,
    NL_PLOT_WEIGHT_STATS,
    NL_PLOT_VARIANCE_SHIFT,
    NL_PLOT_SIGNAL_PROPAGATION,
    NL_PLOT_LANDSCAPE,
    NL_PLOT_STEP_NORMS,
    NL_PLOT_BLOCK_SKIP,
    NL_PLOT_SWITCH_WEIGHTS,
    NL_PLOT_KIND_COUNT
} nl_plot_kind;

/* what a kind takes besides its metric: the bits of nl_plot_kind_info.takes */
enum {
    NL_PLOT_TAKES_X = 1,         /* x: the swept key on the x axis (required) */
    NL_PLOT_TAKES_COLOR = 2,     /* color: the key whose values are the series */
    NL_PLOT_TAKES_PANEL = 4,     /* panel: the key whose values are the panels */
    NL_PLOT_TAKES_THRESHOLD = 8, /* threshold: the tolerance of a learning rate */
    NL_PLOT_TAKES_SPLIT = 16,    /* split: which data a curve shows */
};

/* A plot kind is one row (core/plot/kinds.c): its name, what it takes, the
 * keys a sweep must vary for it, and its writer. The checks of a request,
 * the command line's options, the experiment file's checks and `normlab
 * list` read the rows; no other file names a kind's properties. */
typedef struct {
    nl_name_entry entry;           /* name and the one line `normlab list` prints */
    unsigned takes;                /* NL_PLOT_TAKES_* */
    const nl_name_table *metrics;  /* the metrics it accepts; NULL: none */
    const char *default_metric;    /* the metric when none is named */
    /* keys a sweep must vary (with more than one value) to draw it */
    const char *needs_varied[2];
    /* drawn only on request, never by nl_plot_write's "every kind that
     * applies" (final: it needs its x key) */
    bool on_request;
} nl_plot_kind_info;

const nl_plot_kind_info *nl_plot_kind_info_of(nl_plot_kind kind);
/* "final, grad_norms and attention_logits": the kinds taking `option` */
const char *nl_plot_kinds_taking(unsigned option, char *buf, size_t size);

extern const nl_name_table nl_plot_kind_names; /* the rows' names */
/* final metrics (batch_size, lr, heatmap, final): test_error (default), test_loss,
 * test_accuracy, best_test_accuracy, train_loss */
extern const nl_name_table nl_plot_final_metric_names;
/* weight_stats: update_ratio (default), weight_norm, effective_lr: the
 * series.csv series of train.log.weight_stats */
extern const nl_name_table nl_plot_weight_stat_names;
/* curves: error (default), loss, accuracy; with split train, test (default),
 * test_trainmode */
extern const nl_name_table nl_plot_curve_metric_names;

/* the lr kind's default tolerance: a learning rate is tolerated by a
 * normalizer when none of its runs diverged and its mean final metric is
 * within this of the best mean over the whole plot (absolute, for errors and
 * accuracies), or within this fraction of it (for losses) */
#define NL_PLOT_LR_DEFAULT_MARGIN 0.05
#define NL_PLOT_LR_DEFAULT_LOSS_FACTOR 1.25

/* A filter on the runs a plot draws (nl_results_filter, results/results.h) */
#define NL_PLOT_MAX_WHERE NL_RESULTS_MAX_FILTER
typedef nl_results_filter nl_plot_where;

/* adds KEY=VALUE to w; false (msg says why) when w is full or the text is
 * not KEY=VALUE */
bool nl_plot_where_add(nl_plot_where *w, const char *key, const char *value, char *msg, size_t size);

typedef struct {
    nl_plot_kind kind;
    char metric[32];   /* "" for the kind's default */
    char split[32];    /* curves only; "" for test */
    double threshold;  /* lr only: the tolerance threshold; NaN: the default */
    char name[64];     /* file name without extension; "" for the kind's name */
    /* final only: the swept key on the x axis (required); final,
     * grad_norms and attention_logits: the key whose values are the series
     * ("" for every varied key but x, panel and seed); final and
     * attention_logits: the key whose values are the panels ("" for one
     * panel) */
    char x[96], color[96], panel[96];
    /* the runs it draws (every kind: applied before the kind's writer);
     * its name gets a suffix per item ("-p0.5") unless `name` is given */
    nl_plot_where where;
} nl_plot_spec;

void nl_plot_spec_init(nl_plot_spec *s, nl_plot_kind kind);
/* metric and split valid for the kind; a message with the accepted values otherwise */
bool nl_plot_spec_check(const nl_plot_spec *s, char *msg, size_t size);
/* the file name (spec name, or kind[-metric][-split], final-[metric-]X,
 * then -KEYVALUE for each `where` item: its key's last component and the
 * value, keeping letters, digits, '.' and '_') */
const char *nl_plot_spec_name(const nl_plot_spec *s, char *buf, size_t size);

#endif
