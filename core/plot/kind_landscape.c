/* The landscape kind (train.log.landscape; Santurkar et al. 2018, Fig. 4):
 * over training, one panel each for
 *   the loss band          L_B(w - eta g), min to max over the step sizes
 *   the gradient band      ||grad L_B(w - eta g) - g||, min to max
 *   beta-smoothness        max over the step sizes of that norm / (eta ||g||)
 * a series per variant (the colour key's values, or the varied keys but
 * seed), each edge and the line the mean over the variant's seeds; a
 * single run is one series. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"

/* the probe's range rows, in series.csv's order */
enum { FIRST = NL_SERIES_LOSS_MIN, QUANTITIES = NL_SERIES_BETA_SMOOTHNESS - NL_SERIES_LOSS_MIN + 1 };

typedef struct {
    const char *title, *ylabel;
    int low, high; /* NL_SERIES_*: a band's edges; high -1: a line of `low` */
} panel_def;

static const panel_def panels[] = {
    {"loss along the gradient", "L_B(w - eta g), min to max over eta", NL_SERIES_LOSS_MIN,
     NL_SERIES_LOSS_MAX},
    {"gradient predictiveness", "||grad L_B(w - eta g) - g||, min to max over eta",
     NL_SERIES_GRAD_PRED_MIN, NL_SERIES_GRAD_PRED_MAX},
    {"effective beta-smoothness", "max over eta of ||grad L_B(w - eta g) - g|| / (eta ||g||)",
     NL_SERIES_BETA_SMOOTHNESS, -1},
};
enum { N_PANELS = sizeof panels / sizeof panels[0] };

typedef struct {
    grouping g;
    curve *curves; /* [variant * QUANTITIES + quantity] */
    char grid[200]; /* the step sizes as the first run with the probe logged them */
    double last_step;
} landscape_fig;

/* the grid's names ("lr*0.5, lr*1, ...") from one run's step-size rows at
 * its first probe */
static void note_grid(landscape_fig *f, const pl_series_file *file)
{
    const char *step_size = nl_name_of(&nl_series_names, NL_SERIES_LANDSCAPE_STEP_SIZE);
    size_t used = 0;
    const char *first_step = NULL;
    for (int row = 0; row < file->t.n_rows && used < sizeof f->grid; row++) {
        char **cell = file->t.rows[row];
        if (strcmp(cell[file->series], step_size) != 0)
            continue;
        if (!first_step)
            first_step = cell[file->step];
        else if (strcmp(first_step, cell[file->step]) != 0)
            break;
        used += (size_t)snprintf(f->grid + used, sizeof f->grid - used, "%s%s", used ? ", " : "",
                                 cell[file->name]);
    }
}

static nl_code read_run(void *ctx, const pl_series_run *run, bool *used, nl_error *err)
{
    landscape_fig *f = ctx;
    const pl_series_file *file = run->file;
    for (int row = 0; row < file->t.n_rows; row++) {
        char **cell = file->t.rows[row];
        const int kind = nl_name_lookup(&nl_series_names, cell[file->series]);
        const double step = nl_csv_num(cell[file->step]);
        if (kind < FIRST || kind >= FIRST + QUANTITIES || !isfinite(step))
            continue;
        const nl_code rc = pl_curve_add(&f->curves[run->variant * QUANTITIES + kind - FIRST], step,
                                        nl_csv_num(cell[file->value]), err);
        if (rc)
            return rc;
        f->last_step = fmax(f->last_step, step);
        *used = true;
    }
    if (*used && !f->grid[0])
        note_grid(f, file);
    return NL_OK;
}

/* a row per variant and probe step: each quantity's mean over the seeds;
 * lo[p] and hi[p] the panel's extent */
static nl_code landscape_csv(landscape_fig *f, nl_buf *data, double *lo, double *hi, nl_error *err)
{
    nl_buf_printf(data, "variant,label,step");
    for (int q = 0; q < QUANTITIES; q++)
        nl_buf_printf(data, ",%s", nl_name_of(&nl_series_names, FIRST + q));
    nl_buf_printf(data, ",n\n");
    for (int p = 0; p < N_PANELS; p++) {
        lo[p] = INFINITY;
        hi[p] = -INFINITY;
    }
    for (int id = 0; id < f->g.n; id++) {
        curve *first = &f->curves[id * QUANTITIES];
        pl_sort_curve(first);
        for (int j = 0; j < first->n; j++) {
            char lab[256], num[32];
            const double step = first->p[j].step;
            nl_buf_printf(data, "%d,%s,%.0f", id, pl_cell_text(f->g.labels[id], lab, sizeof lab), step);
            double mean[QUANTITIES];
            for (int q = 0; q < QUANTITIES; q++) {
                curve_point *pt = pl_curve_at(&f->curves[id * QUANTITIES + q], step, 0);
                if (!pt)
                    return nl_fail(err, NL_ERR_NOMEM, "out of memory");
                mean[q] = pl_agg_mean(&pt->a);
                nl_buf_printf(data, ",%s", pl_fmt_num(num, sizeof num, mean[q]));
            }
            nl_buf_printf(data, ",%d\n", first->p[j].a.n);
            for (int p = 0; p < N_PANELS; p++) {
                const double a = mean[panels[p].low - FIRST];
                const double b = panels[p].high < 0 ? a : mean[panels[p].high - FIRST];
                if (isfinite(a) && isfinite(b)) {
                    lo[p] = fmin(lo[p], fmin(a, b));
                    hi[p] = fmax(hi[p], fmax(a, b));
                }
            }
        }
    }
    return NL_OK;
}

static void plot_panel(pl_script *s, const landscape_fig *f, const char *file, const panel_def *d)
{
    char q[2048];
    const char *low = nl_name_of(&nl_series_names, d->low);
    nl_buf_printf(&s->gp, "plot ");
    for (int id = 0; id < f->g.n; id++) {
        const char *color = pl_color_of(&f->g, id);
        const char *title = pl_q(f->g.labels[id], q, sizeof q);
        if (id)
            nl_buf_printf(&s->gp, ", \\\n  ");
        if (d->high < 0) {
            nl_buf_printf(&s->gp, "\"%s\" using (column(\"variant\") == %d ? column(\"step\") : NaN):"
                          "(column(\"%s\")) with linespoints lw series_lw pt series_pt ps series_ps "
                          "lc rgb \"%s\" title %s", file, id, low, color, title);
            continue;
        }
        const char *high = nl_name_of(&nl_series_names, d->high);
        nl_buf_printf(&s->gp, "\"%s\" using (column(\"variant\") == %d ? column(\"step\") : NaN):"
                      "(column(\"%s\")):(column(\"%s\")) with filledcurves fc rgb \"%s\" title %s, \\\n"
                      "  \"\" using (column(\"variant\") == %d ? column(\"step\") : NaN):(column(\"%s\")) "
                      "with lines lw band_edge_lw lc rgb \"%s\" notitle, \\\n"
                      "  \"\" using (column(\"variant\") == %d ? column(\"step\") : NaN):(column(\"%s\")) "
                      "with lines lw band_edge_lw lc rgb \"%s\" notitle",
                      file, id, low, high, color, title, id, low, color, id, high, color);
    }
    nl_buf_printf(&s->gp, "\n");
}

static nl_code draw(const nl_results *r, const landscape_fig *f, pl_script *s, const char *file,
                    const double *lo, const double *hi, nl_error *err)
{
    static const char title[] = "Loss landscape along the gradient over training";
    char q[2048], foot[800], bands[400];
    const int width = 1700, height = 620;
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    snprintf(bands, sizeof bands, "bands: min to max over the step sizes eta = %s (the step's "
             "learning rate times each), on the step's batch before its update",
             f->grid[0] ? f->grid : "?");
    if (r->seed_key >= 0) {
        const char *seeds[1024];
        char means[200];
        snprintf(means, sizeof means, "edges and lines: means over %d seeds (%s)",
                 nl_results_distinct(r, r->seed_key, seeds, 1024), file);
        pl_join_notes(foot, sizeof foot, bands, means);
    } else {
        nl_copy_string(foot, sizeof foot, bands);
    }
    pl_footnote(s, &L, foot);
    nl_buf_printf(&s->gp, "set multiplot\nset xlabel \"step (optimizer updates)\"\n");
    pl_step_tics(s, f->last_step, false);
    nl_buf_printf(&s->gp, "set xrange [0:%g]\n", f->last_step > 0 ? f->last_step : 1);
    const double right = 0.98 - 300.0 / width;
    for (int p = 0; p < N_PANELS; p++) {
        pl_panel(s, &L, 0, p, 1, N_PANELS, 0.06, right, 90.0 / height, L.top - 26.0 / height, 120, 110);
        nl_buf_printf(&s->gp, "set title %s\nset ylabel %s\n", pl_q(panels[p].title, q, sizeof q),
                      pl_q(panels[p].ylabel, q + 1024, sizeof q - 1024));
        /* these quantities move by orders of magnitude over training (the
         * untrained network's gradients change most): a log axis when all
         * are positive and span a decade */
        if (lo[p] > 0 && hi[p] / lo[p] >= 10) {
            pl_log_axis(s, 'y', lo[p] / 1.25, hi[p] * 1.25);
        } else {
            const double span = hi[p] > lo[p] ? hi[p] - lo[p] : fabs(hi[p]) > 0 ? fabs(hi[p]) : 1.0;
            pl_linear_axis(s, 'y');
            nl_buf_printf(&s->gp, "set yrange [%g:%g]\n", lo[p] - 0.1 * span, hi[p] + 0.1 * span);
        }
        pl_panel_key(s, p);
        plot_panel(s, f, file, &panels[p]);
        pl_after_panel(s, p);
    }
    return pl_finish_panels(s, err);
}

nl_code pl_landscape(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    const char *kind = nl_plot_kind_info_of(spec->kind)->entry.name;
    landscape_fig f = {0};
    nl_buf data = {0};
    double lo[N_PANELS], hi[N_PANELS];
    nl_code rc = pl_group_by_color(r, kind, spec->color, NULL, 0, &f.g, err);
    if (rc)
        return rc;
    f.curves = calloc((size_t)f.g.n * QUANTITIES, sizeof *f.curves);
    if (!f.curves) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = pl_series_each(r, &f.g, 1, read_run, &f, kind,
                             "no run has the landscape probe's rows in its series.csv (set "
                             "train.log.landscape.every)",
                             err)))
        goto done;
    if ((rc = landscape_csv(&f, &data, lo, hi, err)))
        goto done;
    char file[128];
    if ((rc = pl_write_kind_data(s, &data, file, sizeof file, err)) == NL_OK)
        rc = draw(r, &f, s, file, lo, hi, err);
done:
    pl_curves_free(f.curves, f.g.n * QUANTITIES);
    nl_buf_free(&data);
    pl_ungroup(&f.g);
    return rc;
}
