/* The per-layer probe kinds: a series.csv quantity logged per layer over
 * training, against step.
 *   weight_stats    train.log.weight_stats: each weight tensor's
 *                   update_ratio (default), weight_norm or effective_lr,
 *                   or under spectral normalization sigma_estimate, drawn
 *                   with each layer's exact sigma_true beside it
 *   variance_shift  train.log.variance_shift: each batch norm's running
 *                   variance over its input's test-time variance (Li et al.
 *                   2019), with the no-shift line at 1
 * effective_lr also gets, per variant, the equilibrium its weights settle
 * at under weight decay, sqrt(2 lr wd) (van Laarhoven 2017; Li & Arora
 * 2019): with plain SGD, w <- w - lr (g + wd w) and g orthogonal to w (the
 * weight is scale-invariant), the norm stops changing when the decay's
 * shrinking (2 lr wd |w|^2) balances the gradient's growth (lr^2 |g|^2),
 * so |dw| / |w| -> sqrt(2 lr wd). Drawn only where that derivation holds:
 * SGD without momentum (momentum changes the balance), a constant rate and
 * wd > 0, the same in every run of the variant.
 * Several variants: a panel per layer, a line per variant (mean over seeds),
 * so that the variants are compared layer by layer (Li et al. compare
 * dropout placements and widths at the same batch norm). A single variant:
 * one panel, a line per layer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"

#define MAX_LAYERS 64
#define MAX_PANELS 16

typedef struct {
    const char *probe_key; /* the config key that logs the series */
    double reference;      /* a dashed line at this value; NaN: none */
    int series;            /* NL_SERIES_*, for a kind without metrics */
} probe_kind;

typedef struct {
    const char *title, *ylabel;
} series_text;

/* the figure's words, per series (those the kinds draw) */
static const series_text texts[NL_SERIES_COUNT] = {
    [NL_SERIES_WEIGHT_NORM] = {"Weight norm per layer over training", "||w|| (L2, before the step)"},
    [NL_SERIES_UPDATE_RATIO] = {"Update-to-weight ratio per layer over training", "||w_after - w_before|| / ||w_before||"},
    [NL_SERIES_EFFECTIVE_LR] = {"Effective learning rate of the scale-invariant weights over training", "effective learning rate ||dw|| / ||w||"},
    [NL_SERIES_SIGMA_ESTIMATE] = {"Spectral normalization: sigma estimate and exact value per layer", "sigma of the weight (estimate u^T W v; exact)"},
    [NL_SERIES_VARIANCE_SHIFT] = {"Variance shift per batch norm over training", "running variance / test-time input variance"},
};

static series_text text_of(int series)
{
    if (series >= 0 && series < NL_SERIES_COUNT && texts[series].title)
        return texts[series];
    return (series_text){"Per-layer series over training", "value"};
}

typedef struct {
    grouping g;
    int series;
    /* drawn beside series, its lines named "<name> <companion_label>"
     * (sigma_true beside sigma_estimate); -1: none */
    int companion;
    const char *companion_label;
    char (*names)[NL_SERIES_NAME_MAX];
    int n_layers;
    curve *curves; /* [variant * MAX_LAYERS + layer] */
    double lo, hi, last_step;
    double *equilibrium; /* per variant: sqrt(2 lr wd), NaN where it does not apply; NULL: none */
} layer_fig;

/* sqrt(2 lr wd) of one run's resolved config; NaN with the reason in why
 * when the derivation does not hold for it */
static double run_equilibrium(const nl_results *r, const nl_results_run *run, char *why, size_t size)
{
    const char *type = nl_results_value(r, run, "train.optimizer.type");
    const char *schedule = nl_results_value(r, run, "train.schedule.type");
    const double lr = nl_csv_num(nl_results_value(r, run, "train.optimizer.lr"));
    const double momentum = nl_csv_num(nl_results_value(r, run, "train.optimizer.momentum"));
    const double wd = nl_csv_num(nl_results_value(r, run, "train.optimizer.weight_decay"));
    if (!type || strcmp(type, "sgd") != 0)
        snprintf(why, size, "optimizer %s, not sgd", type ? type : "unknown");
    else if (!(momentum == 0))
        snprintf(why, size, "momentum %g, not 0", momentum);
    else if (!schedule || strcmp(schedule, "constant") != 0)
        snprintf(why, size, "schedule %s, not constant", schedule ? schedule : "unknown");
    else if (!(wd > 0) || !(lr > 0))
        snprintf(why, size, "weight decay %g", wd);
    else
        return sqrt(2.0 * lr * wd);
    return NAN;
}

/* each variant's sqrt(2 lr wd): NaN when a run of it does not apply or its
 * runs disagree; the first reason into why */
static void variant_equilibria(const nl_results *r, layer_fig *f, char *why, size_t size)
{
    why[0] = '\0';
    for (int id = 0; id < f->g.n; id++) {
        bool first = true, applies = true;
        for (int i = 0; i < r->n_runs && applies; i++) {
            if (f->g.group_of[i] != id)
                continue;
            char reason[128];
            const double e = run_equilibrium(r, &r->runs[i], reason, sizeof reason);
            if (isnan(e)) {
                if (!why[0])
                    snprintf(why, size, "no sqrt(2 lr wd) line for %s: %s", f->g.labels[id], reason);
                applies = false;
            } else if (!first && e != f->equilibrium[id]) {
                if (!why[0])
                    snprintf(why, size, "no sqrt(2 lr wd) line for %s: its runs differ in lr or wd",
                             f->g.labels[id]);
                applies = false;
            }
            f->equilibrium[id] = applies ? e : NAN;
            first = false;
        }
        if (first)
            f->equilibrium[id] = NAN;
    }
}

/* a run's rows of the series into its variant's curve of each layer; two
 * passes: the layers' names (input to output), then the values */
static nl_code read_series(void *ctx, const pl_series_run *run, bool *used, nl_error *err)
{
    layer_fig *f = ctx;
    const pl_series_file *file = run->file;
    const char *series = nl_name_of(&nl_series_names, f->series);
    const char *companion = f->companion >= 0 ? nl_name_of(&nl_series_names, f->companion) : NULL;
    int before = -1;
    for (int row = 0; row < file->t.n_rows; row++) {
        char **cell = file->t.rows[row];
        const bool beside = companion && strcmp(cell[file->series], companion) == 0;
        if (strcmp(cell[file->series], series) != 0 && !beside)
            continue;
        char name[NL_SERIES_NAME_MAX];
        if (beside)
            snprintf(name, sizeof name, "%.40s %s", cell[file->name], f->companion_label);
        else
            nl_copy_string(name, sizeof name, cell[file->name]);
        const int slot = pl_layer_slot(f->names, &f->n_layers, MAX_LAYERS, name, &before, run->pass == 0);
        const double step = nl_csv_num(cell[file->step]);
        if (run->pass == 1 && slot >= 0 && isfinite(step)) {
            const nl_code rc = pl_curve_add(&f->curves[run->variant * MAX_LAYERS + slot], step,
                                            nl_csv_num(cell[file->value]), err);
            if (rc)
                return rc;
            *used = true;
        }
    }
    return NL_OK;
}

static void series_csv(layer_fig *f, nl_buf *data)
{
    pl_span span = PL_SPAN_EMPTY;
    nl_buf_printf(data, "variant,label,layer,name,step,mean,min,max,n\n");
    for (int id = 0; id < f->g.n; id++)
        for (int l = 0; l < f->n_layers; l++) {
            char lab[256], nm[NL_SERIES_NAME_MAX], lead[400];
            snprintf(lead, sizeof lead, "%d,%s,%d,%s,", id,
                     pl_cell_text(f->g.labels[id], lab, sizeof lab), l,
                     pl_cell_text(f->names[l], nm, sizeof nm));
            pl_curve_rows(&f->curves[id * MAX_LAYERS + l], lead, data, &span);
        }
    f->lo = span.lo;
    f->hi = span.hi;
    f->last_step = span.last_step;
}

/* the lines of one panel: a variant's line per layer (by_layer) or every
 * variant's line for `layer` */
static void plot_lines(pl_script *s, const layer_fig *f, const char *file, bool by_layer, int layer,
                       double reference)
{
    char q[2048];
    const int n = by_layer ? f->n_layers : f->g.n;
    nl_buf_printf(&s->gp, "plot ");
    for (int k = 0; k < n; k++) {
        const int l = by_layer ? k : layer, id = by_layer ? 0 : k;
        nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"variant\") == %d && column(\"layer\") == %d ? "
                      "column(\"step\") : NaN):(column(\"mean\")) with linespoints lw series_lw "
                      "pt series_pt ps series_ps lc rgb \"%s\" title %s",
                      k ? ", \\\n  " : "", file, id, l,
                      by_layer ? pl_color(f->names[l], l) : pl_color_of(&f->g, id),
                      pl_q(by_layer ? f->names[l] : f->g.labels[id], q, sizeof q));
    }
    if (!isnan(reference))
        nl_buf_printf(&s->gp, ", \\\n  %g with lines lw series_lw dt reference_dt lc rgb reference_color "
                      "title \"%g (no shift)\"", reference, reference);
    /* a variant's equilibrium dashed in its colour (one variant: the
     * reference colour, its lines being the layers') */
    for (int id = 0; f->equilibrium && id < f->g.n; id++)
        if (!isnan(f->equilibrium[id])) {
            char title[400];
            snprintf(title, sizeof title, "sqrt(2 lr wd) = %.3g%s%s", f->equilibrium[id], by_layer ? "" : ", ",
                     by_layer ? "" : f->g.labels[id]);
            nl_buf_printf(&s->gp, ", \\\n  %.9g with lines lw series_lw dt reference_dt lc rgb %s%s%s title %s",
                          f->equilibrium[id], by_layer ? "" : "\"", by_layer ? "reference_color" : pl_color_of(&f->g, id),
                          by_layer ? "" : "\"", pl_q(title, q, sizeof q));
        }
    nl_buf_printf(&s->gp, "\n");
}

static nl_code draw(const nl_results *r, const probe_kind *k, layer_fig *f, pl_script *s, const char *file,
                    const char *no_equilibrium, nl_error *err)
{
    char q[2048];
    const series_text text = text_of(f->series);
    const bool by_layer = f->g.n == 1;
    const int n_panels = by_layer ? 1 : f->n_layers < MAX_PANELS ? f->n_layers : MAX_PANELS;
    const int cols = n_panels < 2 ? 1 : n_panels < 5 ? 2 : 3, rows = (n_panels + cols - 1) / cols;
    const int width = 700 + 420 * cols, height = 260 + 360 * rows;
    pl_header(s, text.title, width, height);
    layout L = pl_title_block(s, r, text.title, width, height);
    char foot[600] = "";
    if (r->seed_key >= 0) {
        const char *seeds[1024];
        snprintf(foot, sizeof foot, "lines: mean over %d seeds (min and max in %s)",
                 nl_results_distinct(r, r->seed_key, seeds, 1024), file);
    }
    if (!by_layer && f->n_layers > n_panels) {
        char more[200];
        snprintf(more, sizeof more, "the first %d of %d layers drawn (every layer in %s)", n_panels,
                 f->n_layers, file);
        pl_note_undrawn(s, foot, sizeof foot, more);
    }
    if (f->equilibrium) {
        pl_append_note(foot, sizeof foot,
                       no_equilibrium[0] ? no_equilibrium
                                         : "dashed: sqrt(2 lr wd), the equilibrium under weight decay (SGD, momentum 0)");
        if (no_equilibrium[0]) {
            const size_t used = strlen(s->note);
            snprintf(s->note + used, sizeof s->note - used, "%s%s: %s", used ? "; " : "", s->name, no_equilibrium);
        }
    }
    if (foot[0])
        pl_footnote(s, &L, foot);
    nl_buf_printf(&s->gp, "set multiplot\nset xlabel \"step (optimizer updates)\"\nset ylabel %s\n",
                  pl_q(text.ylabel, q, sizeof q));
    pl_step_tics(s, f->last_step, false);
    nl_buf_printf(&s->gp, "set xrange [0:%g]\n", f->last_step > 0 ? f->last_step : 1);
    double lo = f->lo, hi = f->hi;
    if (!isnan(k->reference)) {
        lo = fmin(lo, k->reference);
        hi = fmax(hi, k->reference);
    }
    for (int id = 0; f->equilibrium && id < f->g.n; id++)
        if (!isnan(f->equilibrium[id])) {
            lo = fmin(lo, f->equilibrium[id]);
            hi = fmax(hi, f->equilibrium[id]);
        }
    /* a log axis when every value is positive and they span a decade:
     * ratios and norms move by factors, but a log axis over a narrower
     * range has no tics to read; the range padded so that a flat series is
     * not an empty range */
    if (lo > 0 && hi / lo >= 10)
        pl_log_axis(s, 'y', lo / 1.25, hi * 1.25);
    else {
        /* a tenth of the span each side; a flat series a tenth of its size */
        const double pad = hi > lo ? 0.1 * (hi - lo) : hi != 0 ? 0.1 * fabs(hi) : 0.1;
        nl_buf_printf(&s->gp, "set yrange [%g:%g]\n", lo - pad, hi + pad);
    }
    const double right = 0.98 - 330.0 / width;
    for (int p = 0; p < n_panels; p++) {
        pl_panel(s, &L, p / cols, p % cols, rows, cols, 0.07, right, 90.0 / height, L.top - 26.0 / height,
                 140, 110);
        nl_buf_printf(&s->gp, "set title %s\n", pl_q(by_layer ? "" : f->names[p], q, sizeof q));
        pl_panel_key(s, p);
        plot_lines(s, f, file, by_layer, p, k->reference);
        pl_after_panel(s, p);
    }
    return pl_finish_panels(s, err);
}

static nl_code write_layer_series(const nl_results *r, const nl_plot_spec *spec, const probe_kind *k,
                                  pl_script *s, nl_error *err)
{
    const nl_plot_kind_info *info = nl_plot_kind_info_of(spec->kind);
    const char *kind = info->entry.name;
    /* a kind's metrics are series.csv's names for the series they pick */
    const char *metric = !info->metrics ? nl_name_of(&nl_series_names, k->series)
                         : spec->metric[0] ? spec->metric : info->default_metric;
    layer_fig f = {.series = nl_name_lookup(&nl_series_names, metric), .companion = -1};
    if (f.series == NL_SERIES_SIGMA_ESTIMATE) {
        f.companion = NL_SERIES_SIGMA_TRUE;
        f.companion_label = "exact";
    }
    nl_buf data = {0};
    nl_code rc;
    if (f.series < 0)
        return nl_fail(err, NL_ERR_RUNTIME, "%s: '%s' is no series.csv series", kind, metric);
    if ((rc = pl_group_by_color(r, kind, spec->color, NULL, 0, &f.g, err)))
        goto done;
    f.names = calloc(MAX_LAYERS, sizeof *f.names);
    f.curves = calloc((size_t)f.g.n * MAX_LAYERS, sizeof *f.curves);
    if (!f.names || !f.curves) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    char why[300];
    snprintf(why, sizeof why, "no run has %s in its series.csv (set %s: true%s)", metric, k->probe_key,
             f.series == NL_SERIES_EFFECTIVE_LR ? ", with a batch-statistics normalizer"
             : f.series == NL_SERIES_SIGMA_ESTIMATE ? ", with model.param_norm.type: spectral"
                                                    : "");
    if ((rc = pl_series_each(r, &f.g, 2, read_series, &f, kind, why, err)))
        goto done;
    char no_equilibrium[400] = "";
    if (f.series == NL_SERIES_EFFECTIVE_LR) {
        if (!(f.equilibrium = malloc((size_t)f.g.n * sizeof *f.equilibrium))) {
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
            goto done;
        }
        variant_equilibria(r, &f, no_equilibrium, sizeof no_equilibrium);
    }
    series_csv(&f, &data);
    char file[128];
    if ((rc = pl_write_kind_data(s, &data, file, sizeof file, err)) == NL_OK)
        rc = draw(r, k, &f, s, file, no_equilibrium, err);
done:
    free(f.equilibrium);
    pl_curves_free(f.curves, f.g.n * MAX_LAYERS);
    free(f.names);
    nl_buf_free(&data);
    pl_ungroup(&f.g);
    return rc;
}

nl_code pl_weight_stats(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    static const probe_kind k = {"train.log.weight_stats", NAN, -1};
    return write_layer_series(r, spec, &k, s, err);
}

nl_code pl_variance_shift(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    static const probe_kind k = {"train.log.variance_shift", 1.0, NL_SERIES_VARIANCE_SHIFT};
    return write_layer_series(r, spec, &k, s, err);
}
