/* The final kind: a final metric against any swept key (a group count, a
 * width, a momentum, a placement), a series per value of the colour key, a
 * panel per value of the panel key, mean and error bars over seeds.
 * Categorical x (a placement, a normalizer) sits at equal spacing with its
 * values as labels; numeric x goes on a log axis when its values are
 * positive and span a factor of 8 or more (base 2 when all are powers of
 * two, as group counts and widths are), on a linear one otherwise. Runs the
 * x key does not apply to (layer norm beside DyT's alpha_init, batch norm
 * beside group counts) are the reference the swept values are read
 * against: each of their series is a dashed line at its mean across the
 * panel, over a band from its lowest to its highest seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"

#define MAX_PANELS 12

typedef struct {
    const nl_results *r;
    metric_info m;
    int x_key, panel_key;
    bool numeric;
    int log_base; /* 0: a linear axis */
    int nx;
    double xs[MAX_VALUES];          /* numeric x, sorted */
    const char *x_text[MAX_VALUES]; /* categorical x, in the sweep's order */
    int n_panels;
    const char *panel_text[MAX_PANELS];
    grouping g;
    cell_agg *cells; /* [panel][series][x] */
    cell_agg *refs;  /* [panel][series]: the finished runs the x key does not apply to */
    int without_x;   /* runs the x key does not apply to */
    double y_lo, y_hi;
} final_fig;

static const char *last_component(const char *key) { return strrchr(key, '.') ? strrchr(key, '.') + 1 : key; }

/* a key the plot names: one the sweep varies; NL_ERR_USAGE naming those otherwise */
static nl_code varied_key(const nl_results *r, const char *what, const char *key, int *out, nl_error *err)
{
    *out = nl_results_key(r, key);
    if (*out >= 0)
        return NL_OK;
    char keys[1024] = "";
    size_t used = 0;
    for (int k = 0; k < r->n_keys && used < sizeof keys; k++)
        used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", k ? ", " : "", r->keys[k]);
    char why[1400];
    snprintf(why, sizeof why, "%s: '%s' does not vary in %s; varied keys: %s", what, key, r->dir,
             r->n_keys ? keys : "none");
    return pl_not_applicable(err, "final", why);
}

static bool power_of_two(double v)
{
    int e;
    return v > 0 && frexp(v, &e) == 0.5;
}

/* the x values, and whether they are numbers on a linear or a log axis */
static nl_code choose_axis(final_fig *f, nl_error *err)
{
    const nl_results *r = f->r;
    const char *texts[MAX_VALUES];
    int n = 0;
    f->numeric = true;
    for (int i = 0; i < r->n_runs; i++) {
        const char *v = r->runs[i].values[f->x_key];
        bool seen = !v[0];
        for (int j = 0; j < n && !seen; j++)
            seen = !strcmp(texts[j], v);
        if (seen)
            continue;
        if (n == MAX_VALUES)
            return pl_not_applicable(err, "final", "x has more than 256 values");
        texts[n++] = v;
        f->numeric &= isfinite(nl_csv_num(v));
    }
    if (f->numeric) {
        f->nx = pl_numeric_values(r, f->x_key, NULL, f->xs, MAX_VALUES);
        bool pow2 = true;
        for (int i = 0; i < f->nx; i++)
            pow2 &= power_of_two(f->xs[i]);
        f->log_base = f->nx > 1 && f->xs[0] > 0 && f->xs[f->nx - 1] / f->xs[0] >= 8 ? (pow2 ? 2 : 10) : 0;
    } else {
        f->nx = n;
        memcpy(f->x_text, texts, (size_t)n * sizeof *texts);
    }
    if (f->nx < 2) {
        char why[300];
        snprintf(why, sizeof why, "x: %s has fewer than two values in this sweep", r->keys[f->x_key]);
        return pl_not_applicable(err, "final", why);
    }
    return NL_OK;
}

static int x_index(const final_fig *f, const char *v)
{
    if (f->numeric)
        return pl_value_index(f->xs, f->nx, nl_csv_num(v));
    for (int i = 0; i < f->nx; i++)
        if (!strcmp(f->x_text[i], v))
            return i;
    return -1;
}

static int panel_index(const final_fig *f, const nl_results_run *run)
{
    for (int p = 0; p < f->n_panels && f->panel_key >= 0; p++)
        if (!strcmp(f->panel_text[p], run->values[f->panel_key]))
            return p;
    return 0;
}

/* the cells' means and spreads over the finished runs; the y range all
 * panels share, so that they compare at a glance */
static nl_code aggregate(final_fig *f, nl_error *err)
{
    const nl_results *r = f->r;
    const int n_cells = f->n_panels * f->g.n * f->nx;
    const int n_refs = f->n_panels * f->g.n;
    if (!(f->cells = calloc((size_t)n_cells, sizeof *f->cells)) || !(f->refs = calloc((size_t)n_refs, sizeof *f->refs)))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int c = 0; c < n_cells; c++)
        pl_agg_init(&f->cells[c].a);
    for (int c = 0; c < n_refs; c++)
        pl_agg_init(&f->refs[c].a);
    for (int i = 0; i < r->n_runs; i++) {
        const nl_results_run *run = &r->runs[i];
        const int id = f->g.group_of[i], xi = x_index(f, run->values[f->x_key]);
        const bool without_x = !run->values[f->x_key][0];
        f->without_x += without_x;
        if (id < 0 || (xi < 0 && !without_x) || !nl_results_run_finished(run))
            continue;
        cell_agg *c = without_x ? &f->refs[panel_index(f, run) * f->g.n + id]
                                : &f->cells[(panel_index(f, run) * f->g.n + id) * f->nx + xi];
        c->runs++;
        if (!strcmp(run->status, "diverged"))
            c->diverged++;
        else
            pl_agg_add(&c->a, f->m.scale * run->m[f->m.index]);
    }
    f->y_lo = INFINITY;
    f->y_hi = -INFINITY;
    for (int c = 0; c < n_cells + n_refs; c++) {
        const cell_agg *cell = c < n_cells ? &f->cells[c] : &f->refs[c - n_cells];
        if (cell->a.n) {
            f->y_lo = fmin(f->y_lo, cell->a.min);
            f->y_hi = fmax(f->y_hi, cell->a.max);
        }
    }
    if (!isfinite(f->y_lo))
        return pl_not_applicable(err, "final", "no finished run with a final metric");
    double span = f->y_hi - f->y_lo;
    if (!(span > 0))
        span = f->m.scale == 100 ? 1 : fabs(f->y_hi) * 0.1 + 1e-3;
    /* errors are read against zero, losses against their own range
     * (pl_loss_floor); every metric is at least 0 */
    f->y_lo = f->m.is_loss            ? pl_loss_floor(f->y_lo, f->y_hi, 0.08)
              : f->m.higher_better ? fmax(0, f->y_lo - 0.08 * span)
                                   : 0;
    f->y_hi = f->y_hi + 0.08 * span;
    if (f->m.scale == 100)
        f->y_hi = fmin(100, f->y_hi);
    return NL_OK;
}

/* the x range a reference line spans: the swept values', a category's
 * half width beyond them on a categorical axis */
static void reference_span(const final_fig *f, double *lo, double *hi)
{
    *lo = f->numeric ? f->xs[0] : -0.4;
    *hi = f->numeric ? f->xs[f->nx - 1] : f->nx - 0.6;
}

/* <name>-reference.csv: each reference series as two points, its mean and
 * seed range at both ends of the x range */
static nl_code write_references(const final_fig *f, pl_script *s, nl_error *err)
{
    nl_buf data = {0};
    double ends[2];
    reference_span(f, &ends[0], &ends[1]);
    nl_buf_printf(&data, "panel,series,label,x,mean,min,max,n,diverged\n");
    for (int p = 0; p < f->n_panels; p++)
        for (int id = 0; id < f->g.n; id++) {
            const cell_agg *c = &f->refs[p * f->g.n + id];
            char l[256], a[32], b[32], d[32];
            for (int e = 0; e < 2 && c->a.n; e++)
                nl_buf_printf(&data, "%d,%d,%s,%.10g,%s,%s,%s,%d,%d\n", p, id, pl_cell_text(f->g.labels[id], l, sizeof l),
                              ends[e], pl_fmt_num(a, sizeof a, pl_agg_mean(&c->a)), pl_fmt_num(b, sizeof b, c->a.min),
                              pl_fmt_num(d, sizeof d, c->a.max), c->a.n, c->diverged);
        }
    char file[160];
    snprintf(file, sizeof file, "%s-reference.csv", s->name);
    nl_code rc = pl_write_data(s, file, &data, err);
    nl_buf_free(&data);
    return rc;
}

static nl_code write_data(const final_fig *f, pl_script *s, nl_error *err)
{
    nl_buf data = {0};
    nl_buf_printf(&data, "panel,series,label,x,x_label,mean,min,max,n,diverged\n");
    for (int p = 0; p < f->n_panels; p++)
        for (int id = 0; id < f->g.n; id++)
            for (int xi = 0; xi < f->nx; xi++) {
                const cell_agg *c = &f->cells[(p * f->g.n + id) * f->nx + xi];
                if (!c->a.n)
                    continue;
                char l[256], xl[256], a[32], b[32], d[32];
                char x_value[32];
                if (f->numeric)
                    snprintf(x_value, sizeof x_value, "%.10g", f->xs[xi]);
                else
                    snprintf(x_value, sizeof x_value, "%d", xi);
                nl_buf_printf(&data, "%d,%d,%s,%s,%s,%s,%s,%s,%d,%d\n", p, id, pl_cell_text(f->g.labels[id], l, sizeof l),
                              x_value, pl_cell_text(f->numeric ? x_value : f->x_text[xi], xl, sizeof xl),
                              pl_fmt_num(a, sizeof a, pl_agg_mean(&c->a)), pl_fmt_num(b, sizeof b, c->a.min),
                              pl_fmt_num(d, sizeof d, c->a.max), c->a.n, c->diverged);
            }
    char file[128];
    nl_code rc = pl_write_kind_data(s, &data, file, sizeof file, err);
    nl_buf_free(&data);
    return rc == NL_OK && f->without_x ? write_references(f, s, err) : rc;
}

/* the x axis: its scale, its tics and its label */
static void x_axis(const final_fig *f, pl_script *s)
{
    char q[300], label[200];
    const char *key = f->r->keys[f->x_key];
    if (f->log_base == 2)
        pl_batch_tics(s, f->xs, f->nx);
    else if (f->log_base == 10)
        pl_lr_tics(s, f->xs, f->nx);
    if (f->numeric && !f->log_base) {
        const double span = f->xs[f->nx - 1] - f->xs[0];
        nl_buf_printf(&s->gp, "unset logscale x\nset xrange [%.10g:%.10g]\n", f->xs[0] - 0.06 * span,
                      f->xs[f->nx - 1] + 0.06 * span);
        if (f->nx <= 12) {
            nl_buf_printf(&s->gp, "set xtics (");
            for (int i = 0; i < f->nx; i++)
                nl_buf_printf(&s->gp, "%s\"%g\" %.10g", i ? ", " : "", f->xs[i], f->xs[i]);
            nl_buf_printf(&s->gp, ")\n");
        }
    } else if (!f->numeric) {
        nl_buf_printf(&s->gp, "unset logscale x\nset xrange [-0.5:%g]\nset xtics (", f->nx - 0.5);
        for (int i = 0; i < f->nx; i++)
            nl_buf_printf(&s->gp, "%s%s %d", i ? ", " : "", pl_q(f->x_text[i], q, sizeof q), i);
        nl_buf_printf(&s->gp, ")%s\n", f->nx > 6 ? " rotate by -30" : "");
    }
    snprintf(label, sizeof label, "%s%s", key, f->log_base == 2 ? " (log2 scale)" : f->log_base == 10 ? " (log10 scale)" : "");
    nl_buf_printf(&s->gp, "set xlabel %s\n", pl_q(label, q, sizeof q));
}

/* where series `id` of n sits beside the others at one x, so that their
 * bars do not hide each other: a shift in category widths, in log units or
 * in a share of the linear axis */
static void x_expression(const final_fig *f, int id, char *buf, size_t size)
{
    const double k = id - (f->g.n - 1) / 2.0;
    if (!f->numeric)
        snprintf(buf, size, "column(\"x\")+(%.4f)", k * fmin(0.08, 0.6 / f->g.n));
    else if (f->log_base)
        snprintf(buf, size, "column(\"x\")*%d**(%.4f)", f->log_base, k * (f->log_base == 2 ? 0.045 : 0.015));
    else
        snprintf(buf, size, "column(\"x\")+(%.10g)", k * 0.006 * (f->xs[f->nx - 1] - f->xs[0]));
}

static bool series_has_data(const final_fig *f, int p, int id)
{
    for (int xi = 0; xi < f->nx; xi++)
        if (f->cells[(p * f->g.n + id) * f->nx + xi].a.n)
            return true;
    return false;
}

/* a series drawn only as a reference line, in every panel */
static bool reference_only(const final_fig *f, int id)
{
    for (int p = 0; p < f->n_panels; p++)
        if (series_has_data(f, p, id))
            return false;
    return true;
}

static void plot_panel(const final_fig *f, pl_script *s, int p, const char *file)
{
    char q[600], xe[96], ref_file[160];
    const char *style = f->numeric ? "yerrorlines" : "yerrorbars";
    snprintf(ref_file, sizeof ref_file, "%s-reference.csv", s->name);
    nl_buf_printf(&s->gp, "plot ");
    int drawn = 0;
    for (int id = 0; id < f->g.n; id++) {
        if (!f->refs[p * f->g.n + id].a.n)
            continue;
        const char *color = pl_color_of(&f->g, id);
        nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"panel\") == %d && column(\"series\") == %d ? column(\"x\") : NaN):"
                      "(column(\"min\")):(column(\"max\")) with filledcurves lc rgb \"%s\" notitle, \\\n  "
                      "\"%s\" using (column(\"panel\") == %d && column(\"series\") == %d ? column(\"x\") : NaN):"
                      "(column(\"mean\")) with lines lw series_lw dt reference_dt lc rgb \"%s\" notitle",
                      drawn++ ? ", \\\n  " : "", ref_file, p, id, color, ref_file, p, id, color);
    }
    for (int id = 0; id < f->g.n; id++) {
        if (!series_has_data(f, p, id))
            continue;
        x_expression(f, id, xe, sizeof xe);
        nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"panel\") == %d && column(\"series\") == %d ? %s : NaN):"
                      "(column(\"mean\")):(column(\"min\")):(column(\"max\")) with %s lw series_lw pt series_pt "
                      "ps series_ps lc rgb \"%s\" title %s", drawn++ ? ", \\\n  " : "", file, p, id, xe, style,
                      pl_color_of(&f->g, id), pl_q(f->g.labels[id], q, sizeof q));
    }
    if (!drawn)
        nl_buf_printf(&s->gp, "NaN notitle");
    nl_buf_printf(&s->gp, "\n");
}

/* the legend: every series once, in a column right of the panels */
static void plot_legend(const final_fig *f, pl_script *s, double left, double top, int height)
{
    char q[600];
    nl_buf_printf(&s->gp, "unset title\nunset xlabel\nunset ylabel\nunset border\nunset tics\nunset grid\n"
                  "unset logscale\nset xrange [0:1]\nset yrange [0:1]\n"
                  "set key at screen %.4f, screen %.4f top left Left reverse nobox noopaque spacing 1.2\n", left, top);
    pl_margins(s, left, 0.99, 80.0 / height, top);
    nl_buf_printf(&s->gp, "plot ");
    for (int id = 0; id < f->g.n; id++)
        nl_buf_printf(&s->gp, "%sNaN with %s lc rgb \"%s\" title %s", id ? ", " : "",
                      reference_only(f, id)       ? "lines lw series_lw dt reference_dt"
                      : f->numeric                ? "linespoints lw series_lw pt series_pt ps series_ps"
                                                  : "points lw series_lw pt series_pt ps series_ps",
                      pl_color_of(&f->g, id), pl_q(f->g.labels[id], q, sizeof q));
    nl_buf_printf(&s->gp, "\n");
}

static nl_code draw(final_fig *f, pl_script *s, nl_error *err)
{
    const nl_results *r = f->r;
    char file[128], title[300], q[600];
    snprintf(file, sizeof file, "%s.csv", s->name);
    nl_code rc = write_data(f, s, err);
    if (rc)
        return rc;
    size_t longest = 0;
    for (int id = 0; id < f->g.n; id++)
        longest = strlen(f->g.labels[id]) > longest ? strlen(f->g.labels[id]) : longest;
    /* one series needs no legend */
    const int legend_px = f->g.n_keys ? (int)(90 + 9 * longest) < 200 ? 200 : (int)(90 + 9 * longest) : 30;
    const int cols = f->n_panels < 3 ? f->n_panels : 3, rows = (f->n_panels + cols - 1) / cols;
    const int width = 100 + cols * 520 + legend_px, height = 150 + rows * 420;
    snprintf(title, sizeof title, "%s%s against %s", f->m.short_label[0] == 't' ? "Final " : "", f->m.short_label,
             last_component(r->keys[f->x_key]));
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    char foot[1300];
    pl_error_bar_note(r, foot, sizeof foot);
    if (f->without_x) {
        char what[300];
        snprintf(what, sizeof what, "%d run%s without %s: dashed line, band = seed range",
                 f->without_x, f->without_x == 1 ? "" : "s", r->keys[f->x_key]);
        pl_append_note(foot, sizeof foot, what);
    }
    pl_unfinished_left_out(r, NULL, s, foot, sizeof foot);
    pl_footnote(s, &L, foot);
    const double panels_right = (width - legend_px) / (double)width;
    nl_buf_printf(&s->gp, "set multiplot\nunset key\nset ylabel %s\nset yrange [%.10g:%.10g]\n",
                  pl_q(f->m.label, q, sizeof q), f->y_lo, f->y_hi);
    x_axis(f, s);
    for (int p = 0; p < f->n_panels; p++) {
        pl_panel(s, &L, p / cols, p % cols, rows, cols, 90.0 / width, panels_right, 90.0 / height,
                 L.top - 26.0 / height, 90, 105);
        char ptitle[300] = "";
        if (f->panel_key >= 0)
            snprintf(ptitle, sizeof ptitle, "%s=%s", last_component(r->keys[f->panel_key]),
                     f->panel_text[p][0] ? f->panel_text[p] : "(does not apply)");
        nl_buf_printf(&s->gp, "set title %s\n", pl_q(ptitle, q, sizeof q));
        plot_panel(f, s, p, file);
        pl_after_panel(s, p);
    }
    if (f->g.n_keys)
        plot_legend(f, s, panels_right + 10.0 / width, L.top - 26.0 / height, height);
    return pl_finish_panels(s, err);
}

nl_code pl_final(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    if (!r->sweep) {
        char why[1300];
        snprintf(why, sizeof why, "needs a sweep directory (summary.csv) where %s varies; %s is a single run",
                 spec->x, r->dir);
        return pl_not_applicable(err, "final", why);
    }
    final_fig *f = calloc(1, sizeof *f);
    if (!f)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    f->r = r;
    f->m = pl_final_metric(spec);
    f->panel_key = -1;
    f->n_panels = 1;
    int color_key = -1, fixed[3], n_fixed = 0;
    nl_code rc = varied_key(r, "x", spec->x, &f->x_key, err);
    if (rc == NL_OK && spec->color[0])
        rc = varied_key(r, "color", spec->color, &color_key, err);
    if (rc == NL_OK && spec->panel[0] && (rc = varied_key(r, "panel", spec->panel, &f->panel_key, err)) == NL_OK) {
        const char *values[MAX_PANELS + 1];
        f->n_panels = nl_results_distinct(r, f->panel_key, values, MAX_PANELS + 1);
        if (f->n_panels > MAX_PANELS) {
            char why[300];
            snprintf(why, sizeof why, "panel: %s has more than %d values", spec->panel, MAX_PANELS);
            rc = pl_not_applicable(err, "final", why);
        }
        memcpy(f->panel_text, values, (size_t)(f->n_panels < MAX_PANELS ? f->n_panels : MAX_PANELS) * sizeof *values);
    }
    if (rc == NL_OK)
        rc = choose_axis(f, err);
    fixed[n_fixed++] = f->x_key;
    if (f->panel_key >= 0)
        fixed[n_fixed++] = f->panel_key;
    if (color_key >= 0)
        fixed[n_fixed++] = color_key;
    if (rc == NL_OK)
        rc = pl_group_runs_by(r, color_key, fixed, n_fixed, &f->g, err);
    if (rc == NL_OK)
        rc = aggregate(f, err);
    if (rc == NL_OK)
        rc = draw(f, s, err);
    free(f->cells);
    free(f->refs);
    pl_ungroup(&f->g);
    free(f);
    return rc;
}
