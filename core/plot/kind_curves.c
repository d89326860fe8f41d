/* The curves kind: training loss and a test metric against step (or epoch),
 * a line per variant, mean over seeds with a min-max band. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"

static double curve_value(const char *metric, double loss, double accuracy)
{
    if (!strcmp(metric, "loss"))
        return loss;
    if (!strcmp(metric, "accuracy"))
        return 100.0 * accuracy;
    return 100.0 * (1.0 - accuracy);
}

/* adds a run's metrics.csv to its two curves: training loss, and `split`'s metric */
static nl_code add_metrics(const pl_run *run, const char *split, const char *metric, curve *left,
                           curve *right, nl_error *err)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/metrics.csv", run->dir);
    pl_table t;
    nl_code rc = pl_table_read(path, &t, err);
    if (rc)
        return rc;
    const int c_step = pl_table_col(&t, "step"), c_epoch = pl_table_col(&t, "epoch"),
              c_split = pl_table_col(&t, "split"), c_loss = pl_table_col(&t, "loss"),
              c_acc = pl_table_col(&t, "accuracy");
    if (c_step < 0 || c_epoch < 0 || c_split < 0 || c_loss < 0 || c_acc < 0) {
        pl_table_free(&t);
        return nl_fail(err, NL_ERR_DATA, "%s lacks the columns step, epoch, split, loss, accuracy", path);
    }
    for (int i = 0; i < t.n_rows; i++) {
        char **row = t.rows[i];
        const double step = pl_num(row[c_step]), epoch = pl_num(row[c_epoch]);
        const double loss = pl_num(row[c_loss]), acc = pl_num(row[c_acc]);
        if (!isfinite(step))
            continue;
        curve_point *p = NULL;
        if (!strcmp(row[c_split], "train") && (p = pl_curve_at(left, step, epoch)))
            pl_agg_add(&p->a, loss);
        if (!strcmp(row[c_split], split) && (p = pl_curve_at(right, step, epoch)))
            pl_agg_add(&p->a, curve_value(metric, loss, acc));
        if (!p && (!strcmp(row[c_split], "train") || !strcmp(row[c_split], split))) {
            pl_table_free(&t);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        }
    }
    pl_table_free(&t);
    return NL_OK;
}

/* the y axis of a panel: percentages from 0 (at most 100); losses from 0,
 * or on a log scale when they span more than a factor of 30 (a diverging
 * run next to converging ones) */
typedef struct {
    double lo, hi;
    bool log;
} y_axis;

static y_axis curves_range(const curve *c, int n, bool percent, const bool *skip)
{
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c[i].n && !(skip && skip[i]); j++) {
            const curve_point *p = &c[i].p[j];
            if (!p->a.n)
                continue;
            hi = fmax(hi, p->a.max);
            if (p->a.min > 0)
                lo = fmin(lo, p->a.min);
        }
    if (!(hi > 0))
        hi = 1;
    if (percent)
        return (y_axis){0, fmin(100.0, hi * 1.05), false};
    if (isfinite(lo) && hi / lo > 30)
        return (y_axis){lo / 1.3, hi * 1.3, true};
    return (y_axis){0, hi * 1.05, false};
}

static void emit_y_axis(pl_script *s, y_axis y)
{
    if (y.log)
        nl_buf_printf(&s->gp, "set logscale y 10\nset yrange [%g:%g]\n", y.lo, y.hi);
    else
        nl_buf_printf(&s->gp, "unset logscale y\nset yrange [%g:%g]\n", y.lo, y.hi);
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

nl_code pl_curves(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    const char *metric = spec->metric[0] ? spec->metric : "error";
    const char *split = spec->split[0] ? spec->split : "test";
    const bool percent = strcmp(metric, "loss") != 0;
    /* the training loss is the left panel already: a right panel of it would be its copy */
    const bool one_panel = !strcmp(split, "train") && !strcmp(metric, "loss");
    char right_label[160], right_title[160], q[2048], q2[600];
    snprintf(right_label, sizeof right_label, "%s %s%s", !strcmp(split, "train") ? "training" : "test", metric,
             percent ? " (%)" : " (cross-entropy, nats)");
    snprintf(right_title, sizeof right_title, "%s %s", !strcmp(split, "train") ? "training" :
             !strcmp(split, "test_trainmode") ? "test (batch statistics)" : "test", metric);

    grouping g;
    nl_code rc = pl_group_runs(r, NULL, 0, &g, err);
    curve *left = calloc(MAX_SERIES, sizeof *left), *right = calloc(MAX_SERIES, sizeof *right);
    nl_buf data = {0};
    if (rc == NL_OK && (!left || !right))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    int used_runs = 0, unfinished_runs = 0;
    /* the axes fit the variants whose runs did not diverge; diverging curves
     * leave through the top. Runs still going (or stopped early) are drawn as
     * far as their metrics.csv goes, and marked. */
    bool diverging[MAX_SERIES] = {false}, unfinished[MAX_SERIES] = {false}, any_stable = false;
    for (int i = 0; i < r->n_runs && rc == NL_OK; i++) {
        const int id = g.group_of[i];
        char path[1300];
        snprintf(path, sizeof path, "%s/metrics.csv", r->runs[i].dir);
        if (id < 0)
            continue;
        unfinished[id] |= !pl_run_finished(&r->runs[i]);
        unfinished_runs += !pl_run_finished(&r->runs[i]);
        if (!nl_path_exists(path))
            continue;
        rc = add_metrics(&r->runs[i], split, metric, &left[id], &right[id], err);
        diverging[id] |= !strcmp(r->runs[i].status, "diverged");
        used_runs++;
    }
    for (int v = 0; v < g.n; v++)
        any_stable |= !diverging[v];
    if (rc)
        goto done;
    if (used_runs == 0) {
        rc = pl_not_applicable(err, "curves", "no run has a metrics.csv yet");
        goto done;
    }
    for (int v = 0; v < g.n; v++) {
        qsort(left[v].p, (size_t)left[v].n, sizeof *left[v].p, pl_cmp_point);
        qsort(right[v].p, (size_t)right[v].n, sizeof *right[v].p, pl_cmp_point);
    }
    /* x: epochs when the batch size varies (steps per epoch differ), steps otherwise */
    const int bs = pl_key(r, "train.batch_size");
    const char *bs_values[2];
    const bool by_epoch = bs >= 0 && pl_distinct(r, bs, bs_values, 2) > 1;
    const char *x = by_epoch ? "epoch" : "step";

    /* many variants: a row of panels per value of the first key */
    int row_key = -1, n_rows = 1;
    const char *row_values[8];
    if (g.n > 8 && g.n_keys >= 2) {
        n_rows = pl_distinct(r, g.keys[0], row_values, 8);
        if (n_rows <= 6)
            row_key = g.keys[0];
        else
            n_rows = 1;
    }
    int row_of[MAX_SERIES], color_index[MAX_SERIES];
    char series_label[MAX_SERIES][256];
    for (int v = 0; v < g.n; v++) {
        row_of[v] = 0;
        nl_copy_string(series_label[v], sizeof series_label[v], g.labels[v]);
        if (row_key < 0)
            continue;
        int first = -1;
        for (int i = 0; i < r->n_runs && first < 0; i++)
            if (g.group_of[i] == v)
                first = i;
        for (int k = 0; k < n_rows; k++)
            if (!strcmp(row_values[k], r->runs[first].values[row_key]))
                row_of[v] = k;
        pl_label(r, &r->runs[first], g.keys + 1, g.n_keys - 1, series_label[v], sizeof series_label[v]);
    }
    /* a series keeps its color from row to row */
    int n_unique = 0, unique[MAX_SERIES];
    for (int v = 0; v < g.n; v++) {
        color_index[v] = -1;
        for (int u = 0; u < n_unique && color_index[v] < 0; u++)
            if (!strcmp(series_label[unique[u]], series_label[v]))
                color_index[v] = u;
        if (color_index[v] < 0) {
            unique[n_unique] = v;
            color_index[v] = n_unique++;
        }
    }

    const y_axis axes[2] = {curves_range(left, g.n, false, any_stable ? diverging : NULL),
                            curves_range(right, g.n, percent, any_stable ? diverging : NULL)};
    /* which variant has points in which panel, and how far x goes */
    bool has_data[2][MAX_SERIES];
    double x_max = 0;
    for (int v = 0; v < g.n; v++)
        for (int panel_i = 0; panel_i < 2; panel_i++) {
            const curve *c = panel_i ? &right[v] : &left[v];
            has_data[panel_i][v] = false;
            for (int j = 0; j < c->n; j++)
                if (c->p[j].a.n) {
                    has_data[panel_i][v] = true;
                    x_max = fmax(x_max, by_epoch ? c->p[j].epoch : c->p[j].step);
                }
        }
    /* the data: panel 0 training loss, panel 1 the chosen metric */
    if (r->sweep) {
        nl_buf_printf(&data, "variant,label,panel,step,epoch,mean,min,max,n\n");
        for (int panel_i = 0; panel_i < 2; panel_i++)
            for (int v = 0; v < g.n && !(one_panel && panel_i); v++) {
                const curve *c = panel_i ? &right[v] : &left[v];
                char l[256], a[32], b[32], d[32];
                for (int j = 0; j < c->n; j++) {
                    const curve_point *p = &c->p[j];
                    if (!p->a.n)
                        continue;
                    nl_buf_printf(&data, "%d,%s,%d,%.0f,%.4f,%s,%s,%s,%d\n", v, pl_cell_text(g.labels[v], l, sizeof l),
                                  panel_i, p->step, p->epoch, pl_fmt_num(a, sizeof a, clamp_to_axis(pl_agg_mean(&p->a), axes[panel_i])),
                                  pl_fmt_num(b, sizeof b, clamp_to_axis(p->a.min, axes[panel_i])),
                                  pl_fmt_num(d, sizeof d, clamp_to_axis(p->a.max, axes[panel_i])), p->a.n);
                }
            }
        char file[128];
        snprintf(file, sizeof file, "%s.csv", s->name);
        if ((rc = pl_write_data(s, file, &data, err)))
            goto done;
    }

    /* the panels keep 1040 px; the legend column gets what its longest label
     * needs (about 8 px a character at the default font, plus the line
     * sample), at least 260 px */
    size_t longest = 0;
    for (int u = 0; u < n_unique; u++)
        if (strlen(series_label[unique[u]]) > longest)
            longest = strlen(series_label[unique[u]]);
    if (unfinished_runs)
        longest += strlen(" (unfinished)");
    const int legend_px = (int)(90.0 + 9.0 * (double)longest);
    const int width = r->sweep ? 1040 + (legend_px > 260 ? legend_px : 260) : 1300;
    const double panels_right = r->sweep ? 1040.0 / width : 0.98;
    /* one panel per row, or, with a single panel per row, the rows side by side in two columns */
    const int n_panels = one_panel ? 1 : 2, grid_cols = one_panel && n_rows == 1 ? 1 : 2,
              grid_rows = one_panel ? (n_rows + grid_cols - 1) / grid_cols : n_rows;
    const int height = 150 + 345 * grid_rows;
    char title[512];
    if (one_panel)
        snprintf(title, sizeof title, "Training loss against %s", x);
    else
        snprintf(title, sizeof title, "Training loss and %s against %s", right_title, x);
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    char foot[1300], spread[128];
    pl_spread_note(r, "bands", spread, sizeof spread);
    pl_join_notes(foot, sizeof foot, spread, by_epoch ? "x in epochs: the batch size varies, so steps per epoch differ" : "");
    bool some_diverged = false;
    for (int v = 0; v < g.n; v++)
        some_diverged |= diverging[v];
    if (some_diverged && any_stable) {
        char with[1400];
        pl_join_notes(with, sizeof with, foot, "the axes fit the runs that did not diverge");
        nl_copy_string(foot, sizeof foot, with);
    }
    if (unfinished_runs) {
        char what[300], with[1700];
        if (r->sweep)
            snprintf(what, sizeof what, "(unfinished): %d of %d runs still going, stopped early or not started; "
                     "drawn as far as they got", unfinished_runs, r->n_runs);
        else
            snprintf(what, sizeof what, "unfinished run (%s), drawn as far as it got",
                     r->runs[0].reason[0] ? r->runs[0].reason
                     : !strcmp(r->runs[0].status, "pending") ? "still running, or killed" : r->runs[0].status);
        pl_join_notes(with, sizeof with, foot, what);
        nl_copy_string(foot, sizeof foot, with);
    }
    pl_footnote(s, &L, foot);
    nl_buf_printf(&s->gp, "set xlabel %s\nset multiplot\n",
                  pl_q(by_epoch ? "epoch (passes over the training set)" : "step (optimizer updates)", q, sizeof q));
    if (!by_epoch)
        pl_step_tics(s, x_max, true);
    char data_file[128];
    snprintf(data_file, sizeof data_file, "%s.csv", s->name);
    for (int row = 0; row < n_rows; row++)
        for (int panel_i = 0; panel_i < n_panels; panel_i++) {
            pl_panel(s, &L, one_panel ? row / grid_cols : row, one_panel ? row % grid_cols : panel_i, grid_rows,
                  grid_cols, 0.07 * 1300.0 / width, panels_right, 80.0 / height, L.top - 26.0 / height, 90, 105);
            char ptitle[400];
            const char *what = panel_i ? right_title : "training loss";
            if (row_key >= 0)
                snprintf(ptitle, sizeof ptitle, "%s: %s", row_values[row], what);
            else
                snprintf(ptitle, sizeof ptitle, "%s", what);
            nl_buf_printf(&s->gp, "set title %s\nset ylabel %s\n", pl_q(ptitle, q, sizeof q),
                          pl_q(panel_i ? right_label : "training loss (cross-entropy, nats)", q2, sizeof q2));
            emit_y_axis(s, axes[panel_i]);
            /* a sweep's legend is a plot of its own, right of the panels */
            nl_buf_printf(&s->gp, r->sweep ? "unset key\n" : "set key top right\n");
            bool panel_data = false;
            for (int v = 0; v < g.n; v++)
                panel_data |= row_of[v] == row && has_data[panel_i][v];
            if (!panel_data) {
                char none[256];
                snprintf(none, sizeof none, "no %s rows in these runs", panel_i ? split : "train");
                if (by_epoch)
                    nl_buf_printf(&s->gp, "set xrange [0:%g]\n", x_max > 0 ? x_max : 1);
                nl_buf_printf(&s->gp, "set label 5 %s at graph 0.5, graph 0.5 center tc rgb \"#777777\"\n"
                              "plot NaN notitle\nunset label 5\n%s", pl_q(none, q, sizeof q),
                              by_epoch ? "set autoscale x\n" : "");
                if (row == 0 && panel_i == 0)
                    pl_after_first_plot(s);
                continue;
            }
            if (!r->sweep) {
                /* a single run: its metrics.csv as it is; rows of other splits
                 * are skipped, not gaps in the line */
                nl_buf_printf(&s->gp, "set datafile missing NaN\n");
                if (panel_i == 0)
                    nl_buf_printf(&s->gp, "plot \"../metrics.csv\" using (strcol(\"split\") eq \"train\" ? "
                                  "column(\"%s\") : NaN):(column(\"loss\")) with %s lw curve_lw lc rgb run_train_color "
                                  "title \"training loss%s\"\n", x, curve_style(&left[0]),
                                  unfinished_runs ? " (unfinished)" : "");
                else {
                    const char *expr = !strcmp(metric, "loss") ? "column(\"loss\")"
                                       : !strcmp(metric, "accuracy") ? "100*column(\"accuracy\")"
                                                                     : "100*(1-column(\"accuracy\"))";
                    char key_title[200];
                    snprintf(key_title, sizeof key_title, "%s%s", right_title, unfinished_runs ? " (unfinished)" : "");
                    nl_buf_printf(&s->gp, "plot \"../metrics.csv\" using (strcol(\"split\") eq \"%s\" ? "
                                  "column(\"%s\") : NaN):(%s) with linespoints lw curve_lw pt point_type ps run_point_size "
                                  "lc rgb run_test_color title %s\n", split, x, expr, pl_q(key_title, q, sizeof q));
                }
                if (row == 0 && panel_i == 0)
                    pl_after_first_plot(s);
                continue;
            }
            nl_buf_printf(&s->gp, "plot ");
            int drawn = 0;
            for (int v = 0; v < g.n; v++) {
                if (row_of[v] != row || !has_data[panel_i][v])
                    continue;
                const char *color = pl_color(series_label[v], color_index[v]);
                nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"variant\") == %d && column(\"panel\") == %d ? "
                              "column(\"%s\") : NaN):(column(\"min\")):(column(\"max\")) with filledcurves "
                              "fc rgb \"%s\" notitle, \\\n"
                              "  \"\" using (column(\"variant\") == %d && column(\"panel\") == %d ? column(\"%s\") "
                              ": NaN):(column(\"mean\")) with %s lw curve_lw lc rgb \"%s\" title %s",
                              drawn ? ", \\\n  " : "", data_file, v, panel_i, x, color, v, panel_i, x,
                              curve_style(panel_i ? &right[v] : &left[v]), color, pl_q(series_label[v], q, sizeof q));
                drawn++;
            }
            nl_buf_printf(&s->gp, "\n");
            if (row == 0 && panel_i == 0)
                pl_after_first_plot(s);
        }
    if (r->sweep) {
        /* the legend: every series once, in a column right of the panels */
        nl_buf_printf(&s->gp, "unset title\nunset xlabel\nunset ylabel\nunset border\nunset tics\nunset grid\n"
                      "unset logscale\nset xrange [0:1]\nset yrange [0:1]\n"
                      "set key at screen %.4f, screen %.4f top left Left reverse nobox noopaque spacing 1.2\n",
                      panels_right + 10.0 / width, L.top - 26.0 / height);
        pl_margins(s, panels_right + 10.0 / width, 0.99, 80.0 / height, L.top - 26.0 / height);
        nl_buf_printf(&s->gp, "plot ");
        for (int u = 0; u < n_unique; u++) {
            bool some_unfinished = false;
            for (int v = 0; v < g.n; v++)
                some_unfinished |= color_index[v] == u && unfinished[v];
            char key_title[300];
            snprintf(key_title, sizeof key_title, "%s%s", series_label[unique[u]],
                     some_unfinished ? " (unfinished)" : "");
            nl_buf_printf(&s->gp, "%sNaN with lines lw curve_lw lc rgb \"%s\" title %s", u ? ", " : "",
                          pl_color(series_label[unique[u]], u), pl_q(key_title, q, sizeof q));
        }
        nl_buf_printf(&s->gp, "\n");
    }
    nl_buf_printf(&s->gp, "unset multiplot\n");
    rc = pl_finish(s, err);
done:
    for (int v = 0; v < MAX_SERIES && left && right; v++) {
        free(left[v].p);
        free(right[v].p);
    }
    free(left);
    free(right);
    nl_buf_free(&data);
    pl_ungroup(&g);
    return rc;
}
