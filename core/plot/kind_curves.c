/* The curves kind: training loss and a test metric against step (or epoch),
 * a line per variant, mean over seeds with a min-max band. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plot/common.h"
#include "results/files.h"
#include "results/metrics.h"
#include "results/run_result.h"
#include "results/store.h"

static double curve_value(const char *metric, double loss, double accuracy)
{
    if (!strcmp(metric, "loss"))
        return loss;
    if (!strcmp(metric, "accuracy"))
        return 100.0 * accuracy;
    return 100.0 * (1.0 - accuracy);
}

/* adds a run's metrics.csv (t, read from path) to its two curves:
 * training loss, and `split`'s metric */
static nl_code add_table(const nl_csv_table *t, const char *path, const char *split, const char *metric,
                         curve *left, curve *right, nl_error *err)
{
    const int c_step = nl_metrics_col(t, NL_METRICS_STEP), c_epoch = nl_metrics_col(t, NL_METRICS_EPOCH),
              c_split = nl_metrics_col(t, NL_METRICS_SPLIT), c_loss = nl_metrics_col(t, NL_METRICS_LOSS),
              c_acc = nl_metrics_col(t, NL_METRICS_ACCURACY);
    if (c_step < 0 || c_epoch < 0 || c_split < 0 || c_loss < 0 || c_acc < 0)
        return nl_fail(err, NL_ERR_DATA, "%s lacks the columns step, epoch, split, loss, accuracy", path);
    for (int i = 0; i < t->n_rows; i++) {
        char **row = t->rows[i];
        const double step = nl_csv_num(row[c_step]), epoch = nl_csv_num(row[c_epoch]);
        const double loss = nl_csv_num(row[c_loss]), acc = nl_csv_num(row[c_acc]);
        if (!isfinite(step))
            continue;
        curve_point *p = NULL;
        if (!strcmp(row[c_split], "train") && (p = pl_curve_at(left, step, epoch)))
            pl_agg_add(&p->a, loss);
        if (!strcmp(row[c_split], split) && (p = pl_curve_at(right, step, epoch)))
            pl_agg_add(&p->a, curve_value(metric, loss, acc));
        if (!p && (!strcmp(row[c_split], "train") || !strcmp(row[c_split], split)))
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    return NL_OK;
}

/* the same of the run's metrics.csv: the table its reader holds
 * (nl_results_run.held), else read here */
static nl_code add_metrics(const nl_results_run *run, const char *split, const char *metric, curve *left,
                           curve *right, nl_error *err)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/" NL_RUN_METRICS_FILE, run->dir);
    if (run->held && run->held->metrics)
        return add_table(run->held->metrics, path, split, metric, left, right, err);
    nl_csv_table t;
    nl_code rc = nl_run_csv_read(run->dir, NL_RUN_METRICS_FILE, &t, err);
    if (rc)
        return rc;
    rc = add_table(&t, path, split, metric, left, right, err);
    nl_csv_table_free(&t);
    return rc;
}

/* the y axis of a panel: percentages from 0 (at most 100); losses fitted
 * to their data (pl_loss_floor), or on a log scale when they span more than
 * a factor of 30 (a diverging run next to converging ones) */
typedef struct {
    double lo, hi;
    bool log;
} y_axis;

static y_axis curves_range(const curve *c, int n, bool percent, const bool *skip)
{
    double lo = INFINITY, hi = 0, lowest = INFINITY;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c[i].n && !(skip && skip[i]); j++) {
            const curve_point *p = &c[i].p[j];
            if (!p->a.n)
                continue;
            hi = fmax(hi, p->a.max);
            lowest = fmin(lowest, p->a.min);
            if (p->a.min > 0)
                lo = fmin(lo, p->a.min);
        }
    if (!(hi > 0))
        hi = 1;
    if (percent)
        return (y_axis){0, fmin(100.0, hi * 1.05), false};
    if (isfinite(lo) && hi / lo > 30)
        return (y_axis){lo / 1.3, hi * 1.3, true};
    return (y_axis){pl_loss_floor(lowest, hi, 0.05), hi * 1.05, false};
}

static void emit_y_axis(pl_script *s, y_axis y)
{
    if (y.log) {
        pl_log_axis(s, 'y', y.lo, y.hi);
    } else {
        pl_linear_axis(s, 'y');
        nl_buf_printf(&s->gp, "set yrange [%g:%g]\n", y.lo, y.hi);
    }
}

/* how a curve is drawn: a line cannot show a single point */
static const char *curve_style(const curve *c)
{
    int points = 0;
    for (int j = 0; j < c->n; j++)
        points += c->p[j].a.n > 0;
    return points == 1 ? "linespoints pt point_type ps point_size" : "lines";
}

/* values far above the axis are written just above it: a diverging curve
 * leaves through the top instead of upsetting gnuplot's clipping */
static double clamp_to_axis(double v, y_axis y) { return fmin(v, y.log ? y.hi * 10 : y.hi * 1.5); }

/* a curves figure: the runs' curves by variant, and how they are laid out */
typedef struct {
    const nl_results *r;
    const char *metric, *split, *x; /* x: "step" or "epoch" */
    bool percent, one_panel, by_epoch;
    char right_label[160], right_title[160];
    grouping g;
    curve *left, *right; /* per variant: the training loss, the chosen metric */
    int used_runs, unfinished_runs;
    bool diverging[MAX_SERIES], unfinished[MAX_SERIES], any_stable;
    /* rows of panels, one per value of row_key (-1: one row) */
    int row_key, n_rows, row_of[MAX_SERIES];
    const char *row_values[8];
    /* legend labels (without the row key) and colours, one per distinct label */
    char series_label[MAX_SERIES][256];
    int color_index[MAX_SERIES], unique[MAX_SERIES], n_unique;
    y_axis axes[2];
    bool has_data[2][MAX_SERIES];
    double x_max;
    /* layout */
    int width, height, n_panels, grid_cols, grid_rows;
    double panels_right;
    layout L;
} curves_fig;

static void name_panels(curves_fig *f, const nl_plot_spec *spec)
{
    f->metric = spec->metric[0] ? spec->metric : "error";
    f->split = spec->split[0] ? spec->split : "test";
    f->percent = strcmp(f->metric, "loss") != 0;
    /* the training loss is the left panel already: a right panel of it would be its copy */
    f->one_panel = !strcmp(f->split, "train") && !strcmp(f->metric, "loss");
    snprintf(f->right_label, sizeof f->right_label, "%s %s%s", !strcmp(f->split, "train") ? "training" : "test",
             f->metric, f->percent ? " (%)" : " (cross-entropy, nats)");
    snprintf(f->right_title, sizeof f->right_title, "%s %s", !strcmp(f->split, "train") ? "training" :
             !strcmp(f->split, "test_trainmode") ? "test (batch statistics)" : "test", f->metric);
}

/* reads every run's metrics.csv into its variant's curves. The axes fit
 * the variants whose runs did not diverge; diverging curves leave through
 * the top. Runs not finished (running, killed, interrupted) are drawn as
 * far as their metrics.csv goes, and marked. */
static nl_code read_curves(curves_fig *f, nl_error *err)
{
    const nl_results *r = f->r;
    for (int i = 0; i < r->n_runs; i++) {
        const int id = f->g.group_of[i];
        char path[1300];
        snprintf(path, sizeof path, "%s/" NL_RUN_METRICS_FILE, r->runs[i].dir);
        if (id < 0)
            continue;
        f->unfinished[id] |= !nl_results_run_finished(&r->runs[i]);
        f->unfinished_runs += !nl_results_run_finished(&r->runs[i]);
        /* a run just started may have made its metrics.csv without its
         * header yet (normlab report --watch reads a running sweep): no rows,
         * as before the file is made; a finished run's empty file is an error */
        struct stat st;
        const bool held = r->runs[i].held && r->runs[i].held->metrics; /* there, and with a header */
        const bool packed = !held && nl_run_packed(r->runs[i].dir, NULL, 0, NULL, 0);
        if (!held && (packed ? !nl_run_file_exists(r->runs[i].dir, NL_RUN_METRICS_FILE)
                             : stat(path, &st) != 0 || (st.st_size == 0 && !nl_results_run_finished(&r->runs[i]))))
            continue;
        nl_code rc = add_metrics(&r->runs[i], f->split, f->metric, &f->left[id], &f->right[id], err);
        if (rc)
            return rc;
        f->diverging[id] |= !strcmp(r->runs[i].status, "diverged");
        f->used_runs++;
    }
    for (int v = 0; v < f->g.n; v++) {
        f->any_stable |= !f->diverging[v];
        pl_sort_curve(&f->left[v]);
        pl_sort_curve(&f->right[v]);
    }
    if (f->used_runs == 0)
        return pl_not_applicable(err, "curves", "no run has a metrics.csv yet");
    return NL_OK;
}

/* many variants: a row of panels per value of the first key; a series
 * keeps its colour from row to row */
static void assign_rows(curves_fig *f)
{
    const nl_results *r = f->r;
    const grouping *g = &f->g;
    f->row_key = -1;
    f->n_rows = 1;
    if (g->n > 8 && g->n_keys >= 2) {
        f->n_rows = nl_results_distinct(r, g->keys[0], f->row_values, 8);
        if (f->n_rows <= 6)
            f->row_key = g->keys[0];
        else
            f->n_rows = 1;
    }
    for (int v = 0; v < g->n; v++) {
        f->row_of[v] = 0;
        nl_copy_string(f->series_label[v], sizeof f->series_label[v], g->labels[v]);
        if (f->row_key < 0)
            continue;
        int first = -1;
        for (int i = 0; i < r->n_runs && first < 0; i++)
            if (g->group_of[i] == v)
                first = i;
        for (int k = 0; k < f->n_rows; k++)
            if (!strcmp(f->row_values[k], r->runs[first].values[f->row_key]))
                f->row_of[v] = k;
        nl_results_label(r, &r->runs[first], g->keys + 1, g->n_keys - 1, f->series_label[v], sizeof f->series_label[v]);
    }
    f->n_unique = 0;
    for (int v = 0; v < g->n; v++) {
        f->color_index[v] = -1;
        for (int u = 0; u < f->n_unique && f->color_index[v] < 0; u++)
            if (!strcmp(f->series_label[f->unique[u]], f->series_label[v]))
                f->color_index[v] = u;
        if (f->color_index[v] < 0) {
            f->unique[f->n_unique] = v;
            f->color_index[v] = f->n_unique++;
        }
    }
}

/* the y axes, which variant has points in which panel, and how far x goes */
static void measure(curves_fig *f)
{
    const bool *skip = f->any_stable ? f->diverging : NULL;
    f->axes[0] = curves_range(f->left, f->g.n, false, skip);
    f->axes[1] = curves_range(f->right, f->g.n, f->percent, skip);
    f->x_max = 0;
    for (int v = 0; v < f->g.n; v++)
        for (int panel_i = 0; panel_i < 2; panel_i++) {
            const curve *c = panel_i ? &f->right[v] : &f->left[v];
            f->has_data[panel_i][v] = false;
            for (int j = 0; j < c->n; j++)
                if (c->p[j].a.n) {
                    f->has_data[panel_i][v] = true;
                    f->x_max = fmax(f->x_max, f->by_epoch ? c->p[j].epoch : c->p[j].step);
                }
        }
}

/* a sweep's data: panel 0 training loss, panel 1 the chosen metric */
static nl_code write_curves_csv(const curves_fig *f, pl_script *s, nl_error *err)
{
    nl_buf data = {0};
    nl_buf_printf(&data, "variant,label,panel,step,epoch,mean,min,max,n\n");
    for (int panel_i = 0; panel_i < 2; panel_i++)
        for (int v = 0; v < f->g.n && !(f->one_panel && panel_i); v++) {
            const curve *c = panel_i ? &f->right[v] : &f->left[v];
            const y_axis y = f->axes[panel_i];
            char l[256], a[32], b[32], d[32];
            for (int j = 0; j < c->n; j++) {
                const curve_point *p = &c->p[j];
                if (!p->a.n)
                    continue;
                nl_buf_printf(&data, "%d,%s,%d,%.0f,%.4f,%s,%s,%s,%d\n", v, pl_cell_text(f->g.labels[v], l, sizeof l),
                              panel_i, p->step, p->epoch, pl_fmt_num(a, sizeof a, clamp_to_axis(pl_agg_mean(&p->a), y)),
                              pl_fmt_num(b, sizeof b, clamp_to_axis(p->a.min, y)),
                              pl_fmt_num(d, sizeof d, clamp_to_axis(p->a.max, y)), p->a.n);
            }
        }
    char file[128];
    nl_code rc = pl_write_kind_data(s, &data, file, sizeof file, err);
    nl_buf_free(&data);
    return rc;
}

/* the size, the titles and the footnote. The panels keep 1040 px; the
 * legend column gets what its longest label needs (about 8 px a character
 * at the default font, plus the line sample), at least 260 px. One panel
 * per row, or, with a single panel per row, the rows side by side in two
 * columns. */
static void lay_out(curves_fig *f, pl_script *s)
{
    const nl_results *r = f->r;
    size_t longest = 0;
    for (int u = 0; u < f->n_unique; u++)
        if (strlen(f->series_label[f->unique[u]]) > longest)
            longest = strlen(f->series_label[f->unique[u]]);
    if (f->unfinished_runs)
        longest += strlen(" (unfinished)");
    /* at most 640 px: a label that long is clipped rather than the
     * figure grown past any screen (compare names the directories instead) */
    int legend_px = (int)(90.0 + 9.0 * (double)longest);
    legend_px = legend_px > 640 ? 640 : legend_px;
    f->width = r->sweep ? 1040 + (legend_px > 260 ? legend_px : 260) : 1300;
    f->panels_right = r->sweep ? 1040.0 / f->width : 0.98;
    f->n_panels = f->one_panel ? 1 : 2;
    f->grid_cols = f->one_panel && f->n_rows == 1 ? 1 : 2;
    f->grid_rows = f->one_panel ? (f->n_rows + f->grid_cols - 1) / f->grid_cols : f->n_rows;
    f->height = 150 + 345 * f->grid_rows;
    char title[512];
    if (f->one_panel)
        snprintf(title, sizeof title, "Training loss against %s", f->x);
    else
        snprintf(title, sizeof title, "Training loss and %s against %s", f->right_title, f->x);
    pl_header(s, title, f->width, f->height);
    f->L = pl_title_block(s, r, title, f->width, f->height);
    char foot[1300], spread[128];
    pl_spread_note(r, "bands", spread, sizeof spread);
    pl_join_notes(foot, sizeof foot, spread,
                  f->by_epoch ? "x in epochs: the batch size varies, so steps per epoch differ" : "");
    bool some_diverged = false;
    for (int v = 0; v < f->g.n; v++)
        some_diverged |= f->diverging[v];
    if (some_diverged && f->any_stable) {
        pl_append_note(foot, sizeof foot, "the axes fit the runs that did not diverge");
    }
    if (f->unfinished_runs) {
        char what[300], stand[200];
        pl_unfinished_phases(r, NULL, stand, sizeof stand);
        if (r->sweep)
            snprintf(what, sizeof what, "(unfinished): %d of %d runs (%s); drawn as far as they got",
                     f->unfinished_runs, r->n_runs, stand);
        else
            snprintf(what, sizeof what, "unfinished run (%s), drawn as far as it got",
                     r->runs[0].reason[0] ? r->runs[0].reason
                     : nl_run_phase_name(nl_run_phase_read(r->runs[0].dir)));
        pl_append_note(foot, sizeof foot, what);
    }
    if (r->note[0])
        pl_append_note(foot, sizeof foot, r->note);
    pl_footnote(s, &f->L, foot);
}

/* a single run: its metrics.csv as it is; rows of other splits are
 * skipped, not gaps in the line */
static void plot_single_run(const curves_fig *f, pl_script *s, int panel_i)
{
    char q[600];
    const char *mark = f->unfinished_runs ? " (unfinished)" : "";
    char path[1300], every[48];
    snprintf(path, sizeof path, "%s/" NL_RUN_METRICS_FILE, f->r->runs[0].dir);
    pl_every_complete(path, every, sizeof every);
    nl_buf_printf(&s->gp, "set datafile missing NaN\n");
    const char *split = nl_metrics_columns[NL_METRICS_SPLIT], *loss = nl_metrics_columns[NL_METRICS_LOSS],
               *accuracy = nl_metrics_columns[NL_METRICS_ACCURACY];
    if (panel_i == 0) {
        nl_buf_printf(&s->gp, "plot \"../" NL_RUN_METRICS_FILE "\"%s using (strcol(\"%s\") eq \"train\" ? "
                      "column(\"%s\") : NaN):(column(\"%s\")) with %s lw curve_lw lc rgb run_train_color "
                      "title \"training loss%s\"\n", every, split, f->x, loss, curve_style(&f->left[0]), mark);
        return;
    }
    char expr[96];
    if (!strcmp(f->metric, loss))
        snprintf(expr, sizeof expr, "column(\"%s\")", loss);
    else
        snprintf(expr, sizeof expr, !strcmp(f->metric, accuracy) ? "100*column(\"%s\")" : "100*(1-column(\"%s\"))",
                 accuracy);
    char key_title[200];
    snprintf(key_title, sizeof key_title, "%s%s", f->right_title, mark);
    nl_buf_printf(&s->gp, "plot \"../" NL_RUN_METRICS_FILE "\"%s using (strcol(\"%s\") eq \"%s\" ? "
                  "column(\"%s\") : NaN):(%s) with linespoints lw curve_lw pt point_type ps run_point_size "
                  "lc rgb run_test_color title %s\n", every, split, f->split, f->x, expr,
                  pl_q(key_title, q, sizeof q));
}

/* a sweep's panel: each variant of the row, its band and its mean */
static void plot_variants(const curves_fig *f, pl_script *s, int row, int panel_i)
{
    char q[600], data_file[128];
    snprintf(data_file, sizeof data_file, "%s.csv", s->name);
    nl_buf_printf(&s->gp, "plot ");
    int drawn = 0;
    for (int v = 0; v < f->g.n; v++) {
        if (f->row_of[v] != row || !f->has_data[panel_i][v])
            continue;
        const char *color = pl_color(f->series_label[v], f->color_index[v]);
        nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"variant\") == %d && column(\"panel\") == %d ? "
                      "column(\"%s\") : NaN):(column(\"min\")):(column(\"max\")) with filledcurves "
                      "fc rgb \"%s\" notitle, \\\n"
                      "  \"\" using (column(\"variant\") == %d && column(\"panel\") == %d ? column(\"%s\") "
                      ": NaN):(column(\"mean\")) with %s lw curve_lw lc rgb \"%s\" title %s",
                      drawn ? ", \\\n  " : "", data_file, v, panel_i, f->x, color, v, panel_i, f->x,
                      curve_style(panel_i ? &f->right[v] : &f->left[v]), color, pl_q(f->series_label[v], q, sizeof q));
        drawn++;
    }
    nl_buf_printf(&s->gp, "\n");
}

static void plot_panel(const curves_fig *f, pl_script *s, int row, int panel_i)
{
    char q[600], q2[600];
    const layout *L = &f->L;
    pl_panel(s, L, f->one_panel ? row / f->grid_cols : row, f->one_panel ? row % f->grid_cols : panel_i,
             f->grid_rows, f->grid_cols, 0.07 * 1300.0 / f->width, f->panels_right, 80.0 / f->height,
             L->top - 26.0 / f->height, 90, 105);
    char ptitle[400];
    const char *what = panel_i ? f->right_title : "training loss";
    if (f->row_key >= 0)
        snprintf(ptitle, sizeof ptitle, "%s: %s", f->row_values[row], what);
    else
        snprintf(ptitle, sizeof ptitle, "%s", what);
    nl_buf_printf(&s->gp, "set title %s\nset ylabel %s\n", pl_q(ptitle, q, sizeof q),
                  pl_q(panel_i ? f->right_label : "training loss (cross-entropy, nats)", q2, sizeof q2));
    emit_y_axis(s, f->axes[panel_i]);
    /* a sweep's legend is a plot of its own, right of the panels */
    nl_buf_printf(&s->gp, f->r->sweep ? "unset key\n" : "set key top right\n");
    bool panel_data = false;
    for (int v = 0; v < f->g.n; v++)
        panel_data |= f->row_of[v] == row && f->has_data[panel_i][v];
    if (!panel_data) {
        char none[256];
        snprintf(none, sizeof none, "no %s rows in these runs", panel_i ? f->split : "train");
        if (f->by_epoch)
            nl_buf_printf(&s->gp, "set xrange [0:%g]\n", f->x_max > 0 ? f->x_max : 1);
        nl_buf_printf(&s->gp, "set label 5 %s at graph 0.5, graph 0.5 center tc rgb \"#777777\"\n"
                      "plot NaN notitle\nunset label 5\n%s", pl_q(none, q, sizeof q),
                      f->by_epoch ? "set autoscale x\n" : "");
    } else if (!f->r->sweep) {
        plot_single_run(f, s, panel_i);
    } else {
        plot_variants(f, s, row, panel_i);
    }
    if (row == 0 && panel_i == 0)
        pl_after_first_plot(s);
}

/* a sweep's legend: every series once, in a column right of the panels */
static void plot_legend(const curves_fig *f, pl_script *s)
{
    char q[600];
    const double left = f->panels_right + 10.0 / f->width, top = f->L.top - 26.0 / f->height;
    nl_buf_printf(&s->gp, "unset title\nunset xlabel\nunset ylabel\nunset border\nunset tics\nunset grid\n"
                  "unset logscale\nset xrange [0:1]\nset yrange [0:1]\n"
                  "set key at screen %.4f, screen %.4f top left Left reverse nobox noopaque spacing 1.2\n", left, top);
    pl_margins(s, left, 0.99, 80.0 / f->height, top);
    nl_buf_printf(&s->gp, "plot ");
    for (int u = 0; u < f->n_unique; u++) {
        bool some_unfinished = false;
        for (int v = 0; v < f->g.n; v++)
            some_unfinished |= f->color_index[v] == u && f->unfinished[v];
        char key_title[300];
        snprintf(key_title, sizeof key_title, "%s%s", f->series_label[f->unique[u]],
                 some_unfinished ? " (unfinished)" : "");
        nl_buf_printf(&s->gp, "%sNaN with lines lw curve_lw lc rgb \"%s\" title %s", u ? ", " : "",
                      pl_color(f->series_label[f->unique[u]], u), pl_q(key_title, q, sizeof q));
    }
    nl_buf_printf(&s->gp, "\n");
}

static nl_code draw(curves_fig *f, pl_script *s, nl_error *err)
{
    nl_code rc = read_curves(f, err);
    if (rc)
        return rc;
    /* x: epochs when the batch size varies (steps per epoch differ), steps otherwise */
    const int bs = nl_results_key(f->r, "train.batch_size");
    const char *bs_values[2];
    f->by_epoch = bs >= 0 && nl_results_distinct(f->r, bs, bs_values, 2) > 1;
    f->x = nl_metrics_columns[f->by_epoch ? NL_METRICS_EPOCH : NL_METRICS_STEP];
    assign_rows(f);
    measure(f);
    if (f->r->sweep && (rc = write_curves_csv(f, s, err)))
        return rc;
    lay_out(f, s);
    char q[600];
    nl_buf_printf(&s->gp, "set xlabel %s\nset multiplot\n",
                  pl_q(f->by_epoch ? "epoch (passes over the training set)" : "step (optimizer updates)", q, sizeof q));
    if (!f->by_epoch)
        pl_step_tics(s, f->x_max, true);
    for (int row = 0; row < f->n_rows; row++)
        for (int panel_i = 0; panel_i < f->n_panels; panel_i++)
            plot_panel(f, s, row, panel_i);
    if (f->r->sweep)
        plot_legend(f, s);
    return pl_finish_panels(s, err);
}

nl_code pl_curves(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    curves_fig *f = calloc(1, sizeof *f);
    if (!f)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    f->r = r;
    name_panels(f, spec);
    nl_code rc = pl_group_runs(r, NULL, 0, &f->g, err);
    f->left = calloc(MAX_SERIES, sizeof *f->left);
    f->right = calloc(MAX_SERIES, sizeof *f->right);
    if (rc == NL_OK && (!f->left || !f->right))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (rc == NL_OK)
        rc = draw(f, s, err);
    for (int v = 0; v < MAX_SERIES && f->left && f->right; v++) {
        free(f->left[v].p);
        free(f->right[v].p);
    }
    free(f->left);
    free(f->right);
    pl_ungroup(&f->g);
    free(f);
    return rc;
}
