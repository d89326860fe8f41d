/* What the plot kinds (kind_*.c) share: aggregates over seeds, the final
 * metrics, grouping runs into series, the figure's layout (titles, panels,
 * footnotes, axis tics) and the notes about runs left out. */
#ifndef NL_PLOT_COMMON_H
#define NL_PLOT_COMMON_H

#include "plot/internal.h"
#include "results/series.h"

#define MAX_SERIES 64
#define MAX_VALUES 256

/* ---- numbers ---- */
typedef struct {
    double sum, min, max;
    int n;
} agg;

void pl_agg_init(agg *a);
void pl_agg_add(agg *a, double v); /* ignores NaN and inf */
double pl_agg_mean(const agg *a);  /* NaN when empty */
/* a number for a data CSV: %.6g, NaN when not finite */
const char *pl_fmt_num(char *buf, size_t size, double v);
int pl_cmp_double(const void *a, const void *b);
/* distinct numeric values of key over the runs `use` selects, sorted */
int pl_numeric_values(const nl_results *r, int key, const bool *use, double *out, int max);
int pl_value_index(const double *values, int n, double v); /* -1 when absent */

/* ---- the final metric a plot shows ---- */
typedef struct {
    int index;          /* NL_RESULTS_M_* */
    const char *name;   /* test_error */
    const char *label;  /* axis label, with units */
    const char *short_label;
    double scale;       /* 100 for percentages */
    bool higher_better;
    bool is_loss;
} metric_info;

metric_info pl_final_metric(const nl_plot_spec *spec);

/* ---- series ---- */
typedef struct {
    int keys[256], n_keys;
    int *group_of; /* per run; -1: beyond MAX_SERIES */
    char (*labels)[256];
    int n;
} grouping;

/* groups the runs by the varied keys other than seed and `fixed` */
nl_code pl_group_runs(const nl_results *r, const int *fixed, int n_fixed, grouping *g, nl_error *err);
/* the same with the key `first` (-1: none) first in every label; `fixed`
 * should hold it too */
nl_code pl_group_runs_by(const nl_results *r, int first, const int *fixed, int n_fixed, grouping *g, nl_error *err);
/* the series of a kind with a colour key: one per value of `color` when
 * given (it must vary), else as pl_group_runs */
nl_code pl_group_by_color(const nl_results *r, const char *kind, const char *color,
                          const int *fixed, int n_fixed, grouping *g, nl_error *err);
void pl_ungroup(grouping *g);
const char *pl_color_of(const grouping *g, int id);

/* a series' values against step (or epoch), aggregated over its runs */
typedef struct {
    double step, epoch;
    agg a;
} curve_point;

typedef struct {
    curve_point *p;
    int n, cap;
} curve;

/* the point at `step`, added when new; NULL when out of memory */
curve_point *pl_curve_at(curve *c, double step, double epoch);
/* the n curves' points, and the array (NULL: nothing) */
void pl_curves_free(curve *c, int n);
/* value into c's point at step (epoch 0); NL_ERR_NOMEM when it cannot grow */
nl_code pl_curve_add(curve *c, double step, double value, nl_error *err);
int pl_cmp_point(const void *a, const void *b); /* by step */
void pl_sort_curve(curve *c);                   /* its points by step */

/* what a kind's curves span: the lowest min and highest max of their
 * points, and their last step */
typedef struct {
    double lo, hi, last_step;
} pl_span;
#define PL_SPAN_EMPTY ((pl_span){INFINITY, -INFINITY, 0})
/* c sorted, and a data-file row per point that has values: `lead` (the
 * row's first cells, each with its comma), then step,mean,min,max,n; the
 * points widen *span. Whether it wrote a row. */
bool pl_curve_rows(curve *c, const char *lead, nl_buf *data, pl_span *span);

/* final metrics per (series, x value) */
typedef struct {
    agg a;
    int diverged, runs;
} cell_agg;

/* aggregates metric m of the finished runs by series id and x index */
void pl_aggregate(const nl_results *r, const grouping *g, int x_key, const double *xs, int nx,
                  const metric_info *m, const bool *use, cell_agg *cells);
/* `key` must vary (at least two numeric values) in a sweep: its index and
 * sorted values; NL_ERR_USAGE with the reason otherwise */
nl_code pl_need_varied(const nl_results *r, const char *kind, const char *key, int *k_out, double *xs,
                       int *nx, nl_error *err);
nl_code pl_not_applicable(nl_error *err, const char *kind, const char *why);

/* ---- series.csv (train.log.*): step, series, layer, name, value ---- */
typedef struct {
    nl_csv_table t;
    bool found; /* the run has one, with those columns */
    int step, series, layer, name, value; /* column indices */
} pl_series_file;

/* The slot of layer `name` among the n names, input to output. Runs of
 * different models have different layers (Post-LN has no final norm): a
 * name first met in a later run goes right after *before, the slot of the
 * layer that run logged before it (-1: none, and the slot found becomes
 * it), so that the order runs from input to output for every run. A name
 * counts up to NL_SERIES_NAME_MAX - 1 characters. Returns -1 when the name
 * is new and `add` is false, or there are already max names. */
int pl_layer_slot(char (*names)[NL_SERIES_NAME_MAX], int *n, int max, const char *name, int *before, bool add);

/* reads run's series.csv when it has one; free with pl_series_free */
nl_code pl_series_read(const nl_results_run *run, pl_series_file *f, nl_error *err);
void pl_series_free(pl_series_file *f);

/* one run's series.csv as pl_series_each hands it to a kind's reader */
typedef struct {
    int run, variant; /* its index among the results' runs; its group */
    int pass;
    const pl_series_file *file;
} pl_series_run;
/* takes what it needs of a run's rows; *used when it took any */
typedef nl_code (*pl_series_reader)(void *ctx, const pl_series_run *run, bool *used, nl_error *err);
/* every run of a variant (g->group_of >= 0) that has a series.csv, handed
 * to read, `passes` times over (a layer's series: its names on pass 0, then
 * the values). Stops at read's error; when read used no run, the kind's
 * refusal (pl_not_applicable) saying why. */
nl_code pl_series_each(const nl_results *r, const grouping *g, int passes, pl_series_reader read, void *ctx,
                       const char *kind, const char *why, nl_error *err);

/* ---- layout ---- */
typedef struct {
    int width, height;
    double top; /* screen y where the plots may start (below the titles) */
} layout;

/* the title and the subtitle (wrapped to the width) at the top */
layout pl_title_block(pl_script *s, const nl_results *r, const char *title, int width, int height);
/* the titles are drawn with the first panel only */
void pl_after_first_plot(pl_script *s);
/* after a panel of a multiplot: the titles go with the first (panel 0) */
void pl_after_panel(pl_script *s, int panel);
/* a panel's legend: beside the first panel (pl_key_outside), none on the others */
void pl_panel_key(pl_script *s, int panel);
/* a multiplot's end, and the script finished (pl_finish) */
nl_code pl_finish_panels(pl_script *s, nl_error *err);
void pl_margins(pl_script *s, double l, double r, double b, double t);
/* panel (row, col) of a rows x cols grid inside [l, r] x [b, t]; gaps in pixels */
void pl_panel(pl_script *s, const layout *L, int row, int col, int rows, int cols, double l, double r, double b,
              double t, double hgap_px, double vgap_px);
void pl_footnote(pl_script *s, const layout *L, const char *text);
/* a one-figure plot of means with min-to-max bars: the header, the title
 * block and the spread note as its footnote */
layout pl_open_bars_plot(pl_script *s, const nl_results *r, const char *title, int width,
                         int height);
/* the plot command for a data file of rows per variant: a line per variant
 * in its colour and with its label, of the rows where `where` holds (a
 * condition ending in "&& ", or "") and the row's variant is the line's,
 * x read from x_column, `y` what follows the x ("(column(\"mean\")) with
 * linespoints") */
void pl_plot_variants(pl_script *s, const grouping *g, const char *file, const char *where,
                      const char *x_column, const char *y);
/* the same for rows with mean, min and max columns: a line with bars per
 * variant */
void pl_plot_variants_with_bars(pl_script *s, const grouping *g, const char *file,
                                const char *x_column);
#define PL_Y_WITH_BARS "(column(\"mean\")):(column(\"min\")):(column(\"max\")) with yerrorlines"
/* the legend to the right of the plot, entries left-aligned with their samples first */
void pl_key_outside(pl_script *s);
/* The bottom of a loss axis for values from lo to hi: 0 where lo is under
 * a fifth of hi, else lo less `margin` of the span. Errors and accuracies
 * are read against 0, their bound; a loss far above 0 against its own
 * range: a language model's stays at 2 to 4 nats, and an axis from 0
 * crowded its curves into the top half. */
double pl_loss_floor(double lo, double hi, double margin);
/* log2 x tics at the batch sizes */
void pl_batch_tics(pl_script *s, const double *values, int n);
/* log10 x tics at the learning rates */
void pl_lr_tics(pl_script *s, const double *values, int n);
/* A log scale on axis ('x' or 'y') over [lo, hi] with at least 3
 * labelled ticks: gnuplot's decades where they give 3 or more, else
 * explicit ones at 1-2-5 (or finer) within each decade, or round linear
 * values on an axis under a factor of about 2.5. The decades alone leave
 * one label on an axis spanning less than a decade. */
void pl_log_axis(pl_script *s, char axis, double lo, double hi);
/* a linear scale on axis with gnuplot's own ticks: what a panel drawn
 * after a log one (pl_log_axis's explicit ticks) in one script needs */
void pl_linear_axis(pl_script *s, char axis);
/* step-axis tics at a round interval (1, 2 or 5 times a power of ten), at
 * most 8 of them so a narrow panel's labels stay apart. With `extend`, the
 * axis runs from 0 to the first tic at or past x_max (as gnuplot's own
 * autoscaling does); returns where the axis ends. */
double pl_step_tics(pl_script *s, double x_max, bool extend);

/* ---- notes ---- */
/* "points: mean over 3 seeds; bars: min to max" */
void pl_spread_note(const nl_results *r, const char *what, char *buf, size_t size);
void pl_join_notes(char *out, size_t size, const char *a, const char *b); /* "a. b" */
/* foot (a string in size bytes) becomes "foot. more" */
void pl_append_note(char *foot, size_t size, const char *more);
/* a part of the figure not drawn: `more` added to the footnote and made
 * the script's note ("name: more") */
void pl_note_undrawn(pl_script *s, char *foot, size_t size, const char *more);
/* a final-metric plot's footnote: the spread note for bars and the diverged runs */
void pl_error_bar_note(const nl_results *r, char *buf, size_t size);
/* how many runs (of those `use` selects; NULL: all) are no result yet,
 * and where they stand now into stand ("1 killed, 3 pending"): a killed
 * sweep's runs are not "still going" */
int pl_unfinished_phases(const nl_results *r, const bool *use, char *stand, size_t size);
/* final metrics exist for finished runs only: how many others (of those
 * `use` selects) were left out goes into the footnote and onto stdout */
void pl_unfinished_left_out(const nl_results *r, const bool *use, pl_script *s, char *foot, size_t size);
/* "2 diverged runs left out of the means: ..." */
void pl_diverged_note(const nl_results *r, const bool *use, char *buf, size_t size);

#endif
