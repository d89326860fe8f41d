/* The switch_weights kind: Switchable Normalization's learned softmax
 * weights against step (series.csv with train.log.switch_weights): how much
 * of each layer's mean (solid lines) and of its variance (dashed) comes
 * from the instance, layer and batch statistics, a colour per statistic
 * (the colours of instance, layer and batch norm), each line the mean over
 * the switchable layers and the seeds (the spread over them in the data
 * file). A panel per variant, each over its own steps (a larger batch
 * takes fewer at the same epochs): the varied keys other than the seed, or the
 * panel key alone when given (panel: train.batch_size gives one panel per
 * batch size, Luo et al.'s comparison of the weights across batch sizes).
 * Runs without the series (another normalizer in the same sweep) are left
 * out, and so are the panels they alone would fill. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "norm/registry.h"
#include "plot/common.h"
#include "results/series.h"

#define MAX_PANELS 16
#define TERMS 6 /* mean: instance, layer, batch; then variance's */

typedef struct {
    grouping g;
    curve *curves; /* [variant * TERMS + term] */
    int panel_of[MAX_PANELS], n_panels; /* the variants drawn */
    double panel_last[MAX_PANELS];      /* each one's last step: its x range */
    int variants_with_data;
} switch_fig;

/* a run's rows of the six series into its variant's curves */
static nl_code read_weights(void *ctx, const pl_series_run *run, bool *used, nl_error *err)
{
    switch_fig *f = ctx;
    const pl_series_file *file = run->file;
    for (int row = 0; row < file->t.n_rows; row++) {
        char **cell = file->t.rows[row];
        const int term = nl_name_lookup(&nl_series_names, cell[file->series]) - NL_SERIES_SWITCH_MEAN_IN;
        const double step = nl_csv_num(cell[file->step]);
        if (term < 0 || term >= TERMS || !isfinite(step))
            continue;
        const nl_code rc = pl_curve_add(&f->curves[run->variant * TERMS + term], step, nl_csv_num(cell[file->value]), err);
        if (rc)
            return rc;
        *used = true;
    }
    return NL_OK;
}

/* the data file, and the variants that have rows (the panels) */
static void weights_csv(switch_fig *f, nl_buf *data)
{
    static const char *const term_names[TERMS] = {"mean instance", "mean layer", "mean batch",
                                                  "variance instance", "variance layer",
                                                  "variance batch"};
    nl_buf_printf(data, "variant,label,term,statistic,step,mean,min,max,n\n");
    for (int id = 0; id < f->g.n; id++) {
        bool any = false;
        pl_span span = PL_SPAN_EMPTY; /* this variant's: its panel's steps */
        for (int t = 0; t < TERMS; t++) {
            char lab[256], lead[320];
            snprintf(lead, sizeof lead, "%d,%s,%d,%s,", id,
                     pl_cell_text(f->g.labels[id], lab, sizeof lab), t, term_names[t]);
            any |= pl_curve_rows(&f->curves[id * TERMS + t], lead, data, &span);
        }
        f->variants_with_data += any;
        if (any && f->n_panels < MAX_PANELS) {
            f->panel_last[f->n_panels] = span.last_step;
            f->panel_of[f->n_panels++] = id;
        }
    }
}

/* one panel: the six lines of variant `id` */
static void plot_panel(pl_script *s, const char *file, int id)
{
    static const nl_norm_kind colour_of[3] = {NL_NORM_INSTANCE, NL_NORM_LAYER, NL_NORM_BATCH};
    static const char *const statistic[3] = {"instance", "layer", "batch"};
    nl_buf_printf(&s->gp, "plot ");
    for (int t = 0; t < TERMS; t++)
        nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"variant\") == %d && column(\"term\") == %d ? "
                      "column(\"step\") : NaN):(column(\"mean\")) with lines lw series_lw dt %s "
                      "lc rgb \"%s\" title \"%s %s\"",
                      t ? ", \\\n  " : "", file, id, t, t < 3 ? "mean_dt" : "var_dt",
                      nl_norm_info_of(colour_of[t % 3])->color, t < 3 ? "mean:" : "variance:",
                      statistic[t % 3]);
    nl_buf_printf(&s->gp, "\n");
}

static nl_code draw(const nl_results *r, const switch_fig *f, pl_script *s, const char *file,
                    nl_error *err)
{
    char q[2048];
    const char *title = "Switchable normalization: the weights of instance, layer and batch "
                        "statistics over training";
    const int n = f->n_panels, cols = n < 2 ? 1 : n < 5 ? 2 : 3, rows = (n + cols - 1) / cols;
    const int width = 700 + 420 * cols, height = 260 + 360 * rows;
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    char foot[600] = "lines: mean over the switchable layers", more[300];
    if (r->seed_key >= 0) {
        const char *seeds[1024];
        snprintf(foot, sizeof foot, "lines: mean over the switchable layers and %d seeds (min "
                 "and max in %s)", nl_results_distinct(r, r->seed_key, seeds, 1024), file);
    }
    if (f->variants_with_data > n) {
        snprintf(more, sizeof more, "the first %d of %d variants drawn (every one in %s)", n,
                 f->variants_with_data, file);
        pl_note_undrawn(s, foot, sizeof foot, more);
    }
    pl_footnote(s, &L, foot);
    nl_buf_printf(&s->gp, "set multiplot\nset xlabel \"step (optimizer updates)\"\n"
                          "set ylabel \"softmax weight\"\nset yrange [0:1]\n");
    const double right = 0.98 - 330.0 / width;
    for (int p = 0; p < n; p++) {
        pl_panel(s, &L, p / cols, p % cols, rows, cols, 0.07, right, 90.0 / height,
                 L.top - 26.0 / height, 140, 110);
        nl_buf_printf(&s->gp, "set title %s\n", pl_q(f->g.labels[f->panel_of[p]], q, sizeof q));
        pl_step_tics(s, f->panel_last[p], false);
        nl_buf_printf(&s->gp, "set xrange [0:%g]\n", f->panel_last[p] > 0 ? f->panel_last[p] : 1);
        pl_panel_key(s, p);
        plot_panel(s, file, f->panel_of[p]);
        pl_after_panel(s, p);
    }
    return pl_finish_panels(s, err);
}

nl_code pl_switch_weights(const nl_results *r, const nl_plot_spec *spec, pl_script *s,
                          nl_error *err)
{
    switch_fig f = {0};
    nl_buf data = {0};
    nl_code rc = pl_group_by_color(r, "switch_weights", spec->panel, NULL, 0, &f.g, err);
    if (rc)
        goto done;
    if (!(f.curves = calloc((size_t)(f.g.n ? f.g.n : 1) * TERMS, sizeof *f.curves))) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = pl_series_each(r, &f.g, 1, read_weights, &f, "switch_weights",
                             "no run has switchable weights in its series.csv (set "
                             "model.norm.type: switchable and train.log.switch_weights: true)",
                             err)))
        goto done;
    weights_csv(&f, &data);
    char file[128];
    if ((rc = pl_write_kind_data(s, &data, file, sizeof file, err)) == NL_OK)
        rc = draw(r, &f, s, file, err);
done:
    pl_curves_free(f.curves, f.g.n * TERMS);
    nl_buf_free(&data);
    pl_ungroup(&f.g);
    return rc;
}
