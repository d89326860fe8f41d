/* The trace kind: activation percentiles over training (Ioffe & Szegedy,
 * Fig. 1 b, c), a panel per variant. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/ident.h"
#include "plot/common.h"
#include "results/files.h"
#include "results/metrics.h"
#include "results/store.h"

#define MAX_PERCENTILES 16

/* the gnuplot expression of percentile column p's colour: the median (an
 * odd count's middle column) dark, the others paired from the outside in,
 * from the template's list of shades */
static void percentile_color(int p, int n_cols, char *buf, size_t size)
{
    if (n_cols % 2 == 1 && p == n_cols / 2)
        snprintf(buf, size, "median_color");
    else
        snprintf(buf, size, "word(percentile_colors, %d)", (p < n_cols / 2 ? p : n_cols - 1 - p) % 6 + 1);
}

/* every run's trace.csv into its variant's curves, one per percentile
 * column (the columns of the first file) */
static nl_code read_traces(const nl_results *r, const grouping *g, curve *curves, char (*cols)[16], int *n_cols,
                           bool *traced_variant, int *traced, nl_error *err)
{
    for (int i = 0; i < r->n_runs; i++) {
        const int id = g->group_of[i];
        char path[1300];
        snprintf(path, sizeof path, "%s/" NL_RUN_TRACE_FILE, r->runs[i].dir);
        if (id < 0 || !nl_run_file_exists(r->runs[i].dir, NL_RUN_TRACE_FILE))
            continue;
        nl_csv_table t;
        nl_code rc = nl_run_csv_read(r->runs[i].dir, NL_RUN_TRACE_FILE, &t, err);
        if (rc)
            return rc;
        /* a column's name goes into the script and its data file's header:
         * a percentile's name (p50), an identifier, or the file is refused */
        for (int c = 1; c < t.n_cols && *n_cols == 0; c++) {
            char shown[64];
            if (!nl_ident_ok(t.header[c]) || strlen(t.header[c]) >= sizeof cols[0]) {
                rc = nl_fail(err, NL_ERR_DATA, "%s: column %d, '%s', is not a percentile's name (p50: letters, "
                             "digits, '.', '_', '-', up to %zu)", path, c + 1,
                             nl_text_show(t.header[c], shown, sizeof shown), sizeof cols[0] - 1);
                nl_csv_table_free(&t);
                return rc;
            }
        }
        if (*n_cols == 0)
            for (int c = 1; c < t.n_cols && *n_cols < MAX_PERCENTILES; c++)
                nl_copy_string(cols[(*n_cols)++], sizeof cols[0], t.header[c]);
        const int c_step = nl_metrics_col(&t, NL_METRICS_STEP); /* trace.csv's step is metrics.csv's */
        for (int row = 0; row < t.n_rows && c_step >= 0; row++) {
            const double step = nl_csv_num(t.rows[row][c_step]);
            for (int p = 0; p < *n_cols; p++) {
                const int c = nl_csv_table_col(&t, cols[p]);
                curve_point *pt = c >= 0 && isfinite(step) ? pl_curve_at(&curves[id * MAX_PERCENTILES + p], step, 0) : NULL;
                if (pt)
                    pl_agg_add(&pt->a, nl_csv_num(t.rows[row][c]));
            }
        }
        nl_csv_table_free(&t);
        (*traced)++;
        traced_variant[id] = true;
    }
    return NL_OK;
}

/* one legend for all panels: a plot of its own, a row across the bottom
 * (a panel's own key cannot be wider than the panel) */
static void plot_legend_row(pl_script *s, const char (*cols)[16], int n_cols, int height)
{
    nl_buf_printf(&s->gp, "unset title\nunset xlabel\nunset ylabel\nunset border\nunset tics\nunset grid\n"
                  "set xrange [0:1]\nset yrange [0:1]\nunset logscale\n"
                  "set key center center horizontal maxrows 1 nobox noopaque\n");
    pl_margins(s, 0.08, 0.98, 0.0, 45.0 / height);
    nl_buf_printf(&s->gp, "plot ");
    for (int p = 0; p < n_cols; p++) {
        const bool middle = n_cols % 2 == 1 && p == n_cols / 2;
        char color[64];
        percentile_color(p, n_cols, color, sizeof color);
        char title[300], q[700];
        snprintf(title, sizeof title, "%sth percentile", cols[p][0] == 'p' ? cols[p] + 1 : cols[p]);
        nl_buf_printf(&s->gp, "%sNaN with linespoints pt 7 ps 0.3 lw %s %s lc rgb %s title %s",
                      p ? ", " : "", middle ? "median_lw" : "percentile_lw", middle ? "dt median_dt" : "dt percentile_dt",
                      color, pl_q(title, q, sizeof q));
    }
}

/* the mean percentiles of the shown variants by step, as CSV; their range
 * and the last step */
static void trace_csv(const grouping *g, curve *curves, const int *ids, int n_ids, char (*cols)[16], int n_cols,
                      double *lo, double *hi, double *last_step, nl_buf *data)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    *last_step = 0;
    nl_buf_printf(data, "variant,label,step");
    for (int p = 0; p < n_cols; p++)
        nl_buf_printf(data, ",%s", cols[p]);
    nl_buf_printf(data, "\n");
    for (int k = 0; k < n_ids; k++) {
        curve *c0 = &curves[ids[k] * MAX_PERCENTILES];
        for (int p = 0; p < n_cols; p++)
            pl_sort_curve(&c0[p]);
        for (int j = 0; j < c0[0].n; j++) {
            char l[256], a[32];
            nl_buf_printf(data, "%d,%s,%.0f", k, pl_cell_text(g->labels[ids[k]], l, sizeof l), c0[0].p[j].step);
            *last_step = fmax(*last_step, c0[0].p[j].step);
            for (int p = 0; p < n_cols; p++) {
                const double v = j < c0[p].n ? pl_agg_mean(&c0[p].p[j].a) : NAN;
                if (isfinite(v)) {
                    *lo = fmin(*lo, v);
                    *hi = fmax(*hi, v);
                }
                nl_buf_printf(data, ",%s", pl_fmt_num(a, sizeof a, v));
            }
            nl_buf_printf(data, "\n");
        }
    }
}

/* variant `id`'s panel (the k-th shown): its percentiles against step */
static void plot_variant(pl_script *s, const nl_results *r, const grouping *g, int id, int k, char (*cols)[16],
                         int n_cols, const char *file)
{
    char q[2048];
    bool all_diverged = true, some_unfinished = false;
    for (int i = 0; i < r->n_runs; i++)
        if (g->group_of[i] == id) {
            all_diverged &= !strcmp(r->runs[i].status, "diverged");
            some_unfinished |= !nl_results_run_finished(&r->runs[i]);
        }
    char ptitle[320], every[48] = "";
    if (!r->sweep) {
        char path[1300];
        snprintf(path, sizeof path, "%s/" NL_RUN_TRACE_FILE, r->runs[0].dir);
        pl_every_complete(path, every, sizeof every);
    }
    snprintf(ptitle, sizeof ptitle, "%s%s%s", g->n_keys ? g->labels[id] : r->runs[0].name,
             all_diverged ? " (diverged)" : "", some_unfinished ? " (unfinished)" : "");
    nl_buf_printf(&s->gp, "unset key\nset title %s\nplot ", pl_q(ptitle, q, sizeof q));
    for (int p = 0; p < n_cols; p++) {
        /* the median dark and solid, the outer percentiles lighter */
        const bool middle = n_cols % 2 == 1 && p == n_cols / 2;
        char color[64];
        percentile_color(p, n_cols, color, sizeof color);
        char title[300], q_title[700], q_col[160];
        snprintf(title, sizeof title, "%sth percentile", cols[p][0] == 'p' ? cols[p] + 1 : cols[p]);
        pl_q(title, q_title, sizeof q_title);
        pl_q(cols[p], q_col, sizeof q_col);
        if (!r->sweep)
            nl_buf_printf(&s->gp, "%s\"../" NL_RUN_TRACE_FILE "\"%s using (column(\"%s\")):(column(%s)) with linespoints "
                          "pt 7 ps 0.3 lw %s %s lc rgb %s title %s", p ? ", \\\n  " : "", every,
                          nl_metrics_columns[NL_METRICS_STEP], q_col,
                          middle ? "median_lw" : "percentile_lw", middle ? "dt median_dt" : "dt percentile_dt", color,
                          q_title);
        else
            nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"variant\") == %d ? column(\"step\") : NaN):"
                          "(column(%s)) with linespoints pt 7 ps 0.3 lw %s %s lc rgb %s title %s",
                          p ? ", \\\n  " : "", file, k, q_col, middle ? "median_lw" : "percentile_lw",
                          middle ? "dt median_dt" : "dt percentile_dt", color, q_title);
    }
    nl_buf_printf(&s->gp, "\n");
}

/* the y axis says what was traced: on training batches, or over test samples */
static void trace_ylabel(const nl_results *r, const char *act, char *ylabel, size_t size)
{
    const char *mode = nl_flat_get(&r->config, "train.trace.mode");
    if (mode && !strcmp(mode, "train"))
        snprintf(ylabel, size, "value of %s (on each traced step's training batch)",
                 act ? act : "the activation");
    else
        snprintf(ylabel, size, "value of %s (over %s test samples)", act ? act : "the activation",
                 nl_flat_get(&r->config, "train.trace.samples") ? nl_flat_get(&r->config, "train.trace.samples") : "the");
}

/* the script: a panel per variant in ids (up to three a row) sharing the
 * y range lo..hi and steps 0..last_step, and a row naming the percentiles */
static nl_code trace_script(const nl_results *r, const grouping *g, const int *ids, int n_ids,
                            char (*cols)[16], int n_cols, double lo, double hi, double last_step, const char *file,
                            pl_script *s, nl_error *err)
{
    char q[2048];
    const char *act = nl_flat_get(&r->config, "train.trace.activation");
    const char *unit = nl_flat_get(&r->config, "train.trace.unit");
    char title[512];
    snprintf(title, sizeof title, "Activation percentiles over training%s%s%s%s%s", act ? ": " : "",
             act ? act : "", unit ? ", unit " : "", unit ? unit : "",
             r->seed_key >= 0 ? " (mean over seeds)" : "");
    const int cols_n = n_ids < 3 ? n_ids : 3, rows = (n_ids + cols_n - 1) / cols_n;
    const int width = 200 + 460 * cols_n, height = 200 + 380 * rows;
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    const double pad = (hi - lo) * 0.08 + 1e-6;
    char ylabel[160];
    trace_ylabel(r, act, ylabel, sizeof ylabel);
    nl_buf_printf(&s->gp, "set multiplot\nset xlabel \"step (optimizer updates)\"\nset ylabel %s\n",
                  pl_q(ylabel, q, sizeof q));
    pl_step_tics(s, last_step, false);
    nl_buf_printf(&s->gp,
                  "set yrange [%g:%g]\nset xrange [0:%g]\n", lo - pad, hi + pad,
                  last_step > 0 ? last_step : 1);
    if (n_ids < g->n) {
        char foot[160];
        snprintf(foot, sizeof foot, "showing the first %d of %d variants", n_ids, g->n);
        pl_footnote(s, &L, foot);
    }
    for (int k = 0; k < n_ids; k++) {
        pl_panel(s, &L, k / cols_n, k % cols_n, rows, cols_n, 0.08, 0.98, 105.0 / height, L.top - 26.0 / height,
              90, 110);
        plot_variant(s, r, g, ids[k], k, cols, n_cols, file);
        pl_after_panel(s, k);
    }
    plot_legend_row(s, cols, n_cols, height);
    nl_buf_printf(&s->gp, "\nunset multiplot\n");
    return pl_finish(s, err);
}

nl_code pl_trace(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    (void)spec;
    grouping g;
    nl_code rc = pl_group_runs(r, NULL, 0, &g, err);
    char cols[MAX_PERCENTILES][16];
    int n_cols = 0;
    curve *curves = NULL; /* [variant][percentile] */
    nl_buf data = {0};
    if (rc)
        goto done;
    curves = calloc((size_t)MAX_SERIES * MAX_PERCENTILES, sizeof *curves);
    if (!curves) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    int traced = 0;
    bool traced_variant[MAX_SERIES] = {false};
    if ((rc = read_traces(r, &g, curves, cols, &n_cols, traced_variant, &traced, err)))
        goto done;
    if (!traced || n_cols == 0) {
        rc = pl_not_applicable(err, "trace", "no run has a trace.csv (set train.trace.activation)");
        goto done;
    }
    int ids[MAX_SERIES], n_ids = 0;
    for (int id = 0; id < g.n; id++)
        if (traced_variant[id] && n_ids < 12)
            ids[n_ids++] = id;
    double lo, hi, last_step;
    trace_csv(&g, curves, ids, n_ids, cols, n_cols, &lo, &hi, &last_step, &data);
    char file[128];
    snprintf(file, sizeof file, "%s.csv", s->name);
    /* a single run's script reads its trace.csv itself */
    if (r->sweep && (rc = pl_write_data(s, file, &data, err)))
        goto done;
    rc = trace_script(r, &g, ids, n_ids, cols, n_cols, lo, hi, last_step, file, s, err);
done:
    pl_curves_free(curves, MAX_SERIES * MAX_PERCENTILES);
    nl_buf_free(&data);
    pl_ungroup(&g);
    return rc;
}
