/* The attention_logits kind: the largest attention logit of a training
 * step's forward pass, over all attention layers (series.csv with
 * train.log.attention_logits), against step; a line per variant (mean over
 * seeds), a panel per value of the panel key. One number per step, the
 * largest over the layers: the growth Wortsman et al. (2023) tie to
 * instability shows in whichever layer grows first, and a panel per layer
 * would multiply the panels by the depth. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"
#include "results/series.h"

#define MAX_PANELS 8

typedef struct {
    grouping g;
    int panel_key, n_panels;
    const char *panel_text[MAX_PANELS + 1];
    curve *curves; /* [panel * g.n + variant] */
    int runs;
    double lo, hi, last_step;
} logit_fig;

static int panel_of(const logit_fig *f, const nl_results *r, const nl_results_run *run)
{
    if (f->panel_key < 0)
        return 0;
    const char *v = nl_results_value(r, run, r->keys[f->panel_key]);
    for (int p = 0; p < f->n_panels; p++)
        if (v && !strcmp(v, f->panel_text[p]))
            return p;
    return -1;
}

static void add_point(curve *c, double step, double value)
{
    curve_point *pt = isfinite(step) ? pl_curve_at(c, step, 0) : NULL;
    if (pt)
        pl_agg_add(&pt->a, value);
}

/* each run's maximum over the layers at every step it logged, into its
 * variant's curve in its panel */
static nl_code read_logits(const nl_results *r, logit_fig *f, nl_error *err)
{
    const char *series = nl_name_of(&nl_series_names, NL_SERIES_MAX_LOGIT);
    for (int i = 0; i < r->n_runs; i++) {
        const int id = f->g.group_of[i], panel = panel_of(f, r, &r->runs[i]);
        if (id < 0 || panel < 0)
            continue;
        pl_series_file file;
        nl_code rc = pl_series_read(&r->runs[i], &file, err);
        if (rc)
            return rc;
        curve *c = &f->curves[panel * f->g.n + id];
        double step = NAN, largest = -INFINITY;
        bool any = false;
        for (int row = 0; file.found && row < file.t.n_rows; row++) {
            char **cell = file.t.rows[row];
            if (strcmp(cell[file.series], series) != 0)
                continue;
            const double at = nl_csv_num(cell[file.step]), v = nl_csv_num(cell[file.value]);
            if (at != step) { /* a step's rows come together, one per layer */
                if (any)
                    add_point(c, step, largest);
                step = at;
                largest = -INFINITY;
            }
            /* a NaN logit (a diverged step) makes the step's maximum NaN */
            largest = isnan(v) || isnan(largest) ? NAN : fmax(largest, v);
            any = true;
        }
        if (any)
            add_point(c, step, largest);
        f->runs += any;
        pl_series_free(&file);
    }
    return NL_OK;
}

static void logits_csv(logit_fig *f, nl_buf *data)
{
    pl_span span = PL_SPAN_EMPTY;
    nl_buf_printf(data, "panel,variant,label,step,mean,min,max,n\n");
    for (int p = 0; p < f->n_panels; p++)
        for (int id = 0; id < f->g.n; id++) {
            char lab[256], lead[320];
            snprintf(lead, sizeof lead, "%d,%d,%s,", p, id,
                     pl_cell_text(f->g.labels[id], lab, sizeof lab));
            pl_curve_rows(&f->curves[p * f->g.n + id], lead, data, &span);
        }
    f->lo = span.lo;
    f->hi = span.hi;
    f->last_step = span.last_step;
}

static nl_code draw(const nl_results *r, logit_fig *f, pl_script *s, const char *file,
                    nl_error *err)
{
    char q[2048];
    const char *title = "Largest attention logit over training (maximum over layers)";
    const int cols = f->n_panels < 2 ? 1 : 2, rows = (f->n_panels + cols - 1) / cols;
    const int width = 700 + 450 * cols, height = 260 + 400 * rows;
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    /* the lines are means; the spread over seeds is in the data file */
    if (r->seed_key >= 0) {
        const char *seeds[1024];
        char foot[300];
        snprintf(foot, sizeof foot, "lines: mean over %d seeds (min and max in %s)",
                 nl_results_distinct(r, r->seed_key, seeds, 1024), file);
        pl_footnote(s, &L, foot);
    }
    nl_buf_printf(&s->gp, "set multiplot\nset xlabel \"step (optimizer updates)\"\n"
                          "set ylabel \"largest pre-softmax logit\"\n");
    pl_step_tics(s, f->last_step, false);
    nl_buf_printf(&s->gp, "set xrange [0:%g]\n", f->last_step > 0 ? f->last_step : 1);
    /* a log axis when every value is positive (growth is by factors); the
     * range padded, so that a flat series is not an empty range */
    if (f->lo > 0)
        pl_log_axis(s, 'y', f->lo / 1.25, f->hi * 1.25);
    else
        nl_buf_printf(&s->gp, "set yrange [%g:%g]\n", f->lo - 0.1 * (f->hi - f->lo) - 0.1,
                      f->hi + 0.1 * (f->hi - f->lo) + 0.1);
    const double right = 0.98 - 330.0 / width;
    for (int p = 0; p < f->n_panels; p++) {
        pl_panel(s, &L, p / cols, p % cols, rows, cols, 0.07, right, 90.0 / height,
                 L.top - 26.0 / height, 140, 110);
        char ptitle[300] = "";
        if (f->panel_key >= 0)
            snprintf(ptitle, sizeof ptitle, "%s = %s", r->keys[f->panel_key], f->panel_text[p]);
        nl_buf_printf(&s->gp, "set title %s\n", pl_q(ptitle, q, sizeof q));
        pl_panel_key(s, p);
        char where[48];
        snprintf(where, sizeof where, "column(\"panel\") == %d && ", p);
        pl_plot_variants(s, &f->g, file, where, "step", "(column(\"mean\")) with linespoints");
        pl_after_panel(s, p);
    }
    return pl_finish_panels(s, err);
}

nl_code pl_attention_logits(const nl_results *r, const nl_plot_spec *spec, pl_script *s,
                            nl_error *err)
{
    logit_fig f = {.panel_key = -1, .n_panels = 1};
    nl_buf data = {0};
    int fixed[1], n_fixed = 0;
    nl_code rc = NL_OK;
    if (spec->panel[0]) {
        f.panel_key = nl_results_key(r, spec->panel);
        if (f.panel_key < 0) {
            char why[400];
            snprintf(why, sizeof why, "panel: '%s' does not vary in these runs", spec->panel);
            return pl_not_applicable(err, "attention_logits", why);
        }
        f.n_panels = nl_results_distinct(r, f.panel_key, f.panel_text, MAX_PANELS + 1);
        if (f.n_panels > MAX_PANELS)
            return pl_not_applicable(err, "attention_logits", "panel: more than 8 values");
        fixed[n_fixed++] = f.panel_key;
    }
    if ((rc = pl_group_by_color(r, "attention_logits", spec->color, fixed, n_fixed, &f.g, err)))
        goto done;
    if (!(f.curves = calloc((size_t)f.n_panels * f.g.n, sizeof *f.curves))) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = read_logits(r, &f, err)))
        goto done;
    if (f.runs == 0) {
        rc = pl_not_applicable(err, "attention_logits", "no run has attention logits in its "
                               "series.csv (set train.log.attention_logits: true)");
        goto done;
    }
    logits_csv(&f, &data);
    char file[128];
    if ((rc = pl_write_kind_data(s, &data, file, sizeof file, err)) == NL_OK)
        rc = draw(r, &f, s, file, err);
done:
    pl_curves_free(f.curves, f.n_panels * f.g.n);
    nl_buf_free(&data);
    pl_ungroup(&f.g);
    return rc;
}
