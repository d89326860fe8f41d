/* Plots of runs and sweeps as gnuplot scripts. A results directory is a
 * sweep (summary.csv and runs/<run>/metrics.csv) or a single run
 * (metrics.csv). Scripts go to <dir>/plots/<name>.gp, each self-contained:
 * it reads CSV files by column name, next to it or in the run directories,
 * and picks its output with the variable fmt ("png", the default, "svg" or "pdf"):
 *   cd <dir>/plots && gnuplot -e 'fmt="svg"' curves.gp
 * The scripts start with the gnuplot templates of plots/ (built into the
 * binary): style.gp for the look every figure shares, and one per kind.
 * Where values must be aggregated (mean and range over seeds) the C code
 * writes a small CSV next to the script (plots/<name>.csv).
 *
 * Kinds:
 *   curves          training loss and a test metric against step, one line
 *                   per variant (the varied keys except seed), mean over
 *                   seeds with a min-max band
 *   batch_size      final metric against batch size (log2), one series per
 *                   normalizer, error bars over seeds (Wu & He, Fig. 1)
 *   lr              final metric against learning rate (log10), one series
 *                   per normalizer, diverged runs marked at the top, and the
 *                   widest range of learning rates each one tolerates
 *   heatmap         final metric over learning rate x batch size, a panel per
 *                   normalizer, values in the cells
 *   train_eval_gap  batch norm's test accuracy in eval mode (running
 *                   statistics) and train mode (batch statistics) against
 *                   batch size; for a single run, against step
 *   trace           activation percentiles over training (trace.csv), a panel
 *                   per variant (Ioffe & Szegedy, Fig. 1 b, c)
 *   final           a final metric against any swept key (x), a series per
 *                   value of the colour key, a panel per value of the panel
 *                   key; categorical x at equal spacing, numeric x on a
 *                   linear or log axis, error bars over seeds
 *   grad_norms      each layer's gradient norm at step 0 (series.csv,
 *                   train.log.grad_norms) against the layer, input to
 *                   output, a line per value of the colour key (Xiong et al.,
 *                   Fig. 3)
 *   attention_logits the largest attention logit over all layers against
 *                   step (series.csv, train.log.attention_logits), a line
 *                   per value of the colour key, a panel per value of the
 *                   panel key (Wortsman et al.)
 *   weight_stats    a weight tensor's update_ratio (default), weight_norm
 *                   or effective_lr against step (series.csv,
 *                   train.log.weight_stats); a panel per layer and a line
 *                   per value of the colour key, or for a single variant
 *                   one panel with a line per layer
 *   variance_shift  each batch norm's running variance over its input's
 *                   test-time variance against step (series.csv,
 *                   train.log.variance_shift), laid out as weight_stats,
 *                   with the no-shift line at 1 (Li et al. 2019)
 *   signal_propagation  at initialization, the average channel mean^2 and
 *                   variance of the residual stream after each block
 *                   (each normalizer's input where there are no blocks)
 *                   against depth, log y, a line per value of the colour
 *                   key (series.csv, train.log.signal_propagation; Brock
 *                   et al. 2021)
 *   landscape       the landscape probe over training (series.csv,
 *                   train.log.landscape; Santurkar et al. 2018, Fig. 4): a
 *                   panel each for the loss band and the gradient
 *                   predictiveness band (min to max over the step sizes)
 *                   and the effective beta-smoothness, a series per value
 *                   of the colour key, means over seeds
 *   step_norms      the top recurrent layer's hidden-state norm against the
 *                   time step t at the last evaluation (series.csv,
 *                   train.log.step_norms), a line per value of the colour
 *                   key, means over seeds with min-max bars */
#ifndef NL_PLOT_H
#define NL_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/names.h"
#include "base/status.h"
#include "log/files.h"

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

/* A filter on the runs a plot draws: only the runs whose resolved config has
 * each listed value are kept. Values compare as the config prints them,
 * numbers by value (0.5 matches 0.50), lists without regard to spaces. */
#define NL_PLOT_MAX_WHERE 8
typedef struct {
    struct {
        char key[96];
        char value[96];
    } items[NL_PLOT_MAX_WHERE];
    int n;
} nl_plot_where;

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

enum { NL_PLOT_PNG = 1, NL_PLOT_SVG = 2, NL_PLOT_PDF = 4 };
#define NL_PLOT_N_FORMATS 3
/* the file extension (and the script's fmt value) of format bit i */
extern const char *const nl_plot_format_names[NL_PLOT_N_FORMATS];

#define NL_PLOT_MAX_OUTPUTS 32

typedef struct {
    char name[64];      /* base name: plots/<name>.gp, .png, .svg */
    char script[1200];  /* path of the script */
    char note[2048];    /* what the plot found, for stdout ("" none) */
    bool rendered;
} nl_plot_output;

typedef struct {
    nl_plot_output items[NL_PLOT_MAX_OUTPUTS];
    int n;
    char plots_dir[1100];
    /* CSV lines the plots left out, one a line: "PATH line N: the last line
     * is cut short (...); left out" ("" none); the figures say so too */
    char warnings[2048];
    /* kinds left out in automatic mode, and why ("lr: the learning rate does not vary") */
    char skipped[NL_PLOT_KIND_COUNT][256];
    int n_skipped;
    /* rendering */
    bool gnuplot_missing;
    bool pdf_missing;         /* PDF asked for, but this gnuplot has no pdfcairo terminal: none written */
    char gnuplot[1024];       /* path of the gnuplot binary used */
    char messages[4096];      /* warnings gnuplot printed */
} nl_plot_report;

/* Writes the scripts (and aggregated CSVs) for `specs` into <dir>/plots.
 * With no specs, every kind that applies to the results. A kind that cannot
 * apply (a batch-size plot of runs that all share one batch size) is an
 * NL_ERR_USAGE error naming the reason; so is a spec's `where` naming a key
 * no run has or leaving no run (naming the values there are), and two
 * specs with one file name. */
nl_code nl_plot_write(const char *dir, const nl_plot_spec *specs, int n_specs, nl_plot_report *rep,
                      nl_error *err);
/* the same with edited templates: DIR/style.gp, DIR/curves.gp, ... replace
 * the built-in ones (plots/ in the source tree) where they exist; and with
 * `where` (NULL: none) added to every plot's own, the kinds chosen when no
 * specs are given included */
nl_code nl_plot_write_with(const char *dir, const nl_plot_spec *specs, int n_specs, const nl_plot_where *where,
                           const char *templates_dir, nl_plot_report *rep, nl_error *err);
/* The curves of several run or sweep directories (at least two, any mix)
 * in one figure, written to out_dir/compare[-METRIC[-SPLIT]].gp (and .csv).
 * spec is a curves spec (metric, split). The legend tells the variants
 * apart by the keys whose values differ between the runs (each directory's
 * varied keys and the settings its config has differently), by the
 * directories' names when those do not tell the directories apart. out_dir
 * is made, or must be empty or one compare wrote (NL_ERR_USAGE otherwise,
 * nothing written); a directory that is neither a run nor a sweep is an
 * NL_ERR_USAGE error. Render with nl_plot_render. */
nl_code nl_plot_compare(const char *const *dirs, int n_dirs, const nl_plot_spec *spec, const char *out_dir,
                        const char *templates_dir, nl_plot_report *rep, nl_error *err);
/* writes the built-in templates into dir, to edit for --templates */
nl_code nl_plot_write_templates(const char *dir, nl_error *err);

/* Renders every script of the report with gnuplot (PNG, SVG and/or PDF).
 * When gnuplot is not on PATH, sets rep->gnuplot_missing and returns NL_OK;
 * when PDF is asked for and gnuplot lacks the pdfcairo terminal, sets
 * rep->pdf_missing and renders the other formats. A script gnuplot rejects
 * is an NL_ERR_RUNTIME error with its message. */
nl_code nl_plot_render(nl_plot_report *rep, unsigned formats, nl_error *err);

/* gnuplot's path on PATH into buf; false when there is none */
bool nl_plot_find_gnuplot(char *buf, size_t size);

/* ---- tables (core/plot/table.c) ---- */
typedef struct {
    const char *metric; /* a summary.csv metric column, e.g. final_test_error */
    const char *by[32]; /* cell keys; none: every varied key but the seed and
                         * those the others determine */
    int n_by;
    /* paired differences pair_b - pair_a of pair_key, matched by seed (and
     * every other varied key); pair_key NULL: none */
    const char *pair_key, *pair_a, *pair_b;
} nl_table_spec;
/* Markdown into md (accuracies and errors in percent), and when csv is not
 * NULL the same numbers as CSV (in summary.csv's units: fractions). A cell
 * whose runs differ in more than the seed (--by leaves out a varied key)
 * counts runs, not seeds, and names what it pools (the CSV's pooled
 * column). When notes is not NULL it gets a line for each thing the
 * screen should hear: rows of summary.csv left out (file and line), pooled
 * cells. */
nl_code nl_table_write(const char *dir, const nl_table_spec *spec, nl_buf *md, nl_buf *csv,
                       nl_buf *notes, nl_error *err);
/* t such that P(|T| > t) = 0.05 for Student's t with df degrees of freedom */
double nl_student_t_quantile_975(double df);

#endif
