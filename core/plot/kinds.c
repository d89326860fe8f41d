/* The plot kinds: each gathers what it needs from the results, writes an
 * aggregated CSV next to its script where runs must be combined (mean and
 * range over seeds), and writes the script. Data files name series by an
 * integer id (labels may hold commas); the script filters rows by column
 * name: column("series") == 2 ? column("step") : NaN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/internal.h"

#define MAX_SERIES 64
#define MAX_VALUES 256

/* ---- small helpers ---- */

typedef struct {
    double sum, min, max;
    int n;
} agg;

static void agg_init(agg *a)
{
    a->sum = 0;
    a->min = INFINITY;
    a->max = -INFINITY;
    a->n = 0;
}

static void agg_add(agg *a, double v)
{
    if (!isfinite(v))
        return;
    a->sum += v;
    a->min = fmin(a->min, v);
    a->max = fmax(a->max, v);
    a->n++;
}

static double agg_mean(const agg *a) { return a->n ? a->sum / a->n : NAN; }

static const char *num(char *buf, size_t size, double v)
{
    if (!isfinite(v))
        snprintf(buf, size, "NaN");
    else
        snprintf(buf, size, "%.6g", v);
    return buf;
}

/* a label for a CSV cell: no commas, quotes or newlines */
static const char *cell(const char *s, char *buf, size_t size)
{
    size_t k = 0;
    for (; *s && k + 1 < size; s++)
        buf[k++] = *s == ',' ? ';' : (*s == '"' || *s == '\n') ? ' ' : *s;
    buf[k] = '\0';
    return buf;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* distinct numeric values of key over the runs `use` selects, sorted */
static int numeric_values(const pl_results *r, int key, const bool *use, double *out, int max)
{
    int n = 0;
    for (int i = 0; i < r->n_runs; i++) {
        if (use && !use[i])
            continue;
        const double v = pl_num(r->runs[i].values[key]);
        if (!isfinite(v))
            continue;
        bool seen = false;
        for (int j = 0; j < n && !seen; j++)
            seen = out[j] == v;
        if (!seen && n < max)
            out[n++] = v;
    }
    qsort(out, (size_t)n, sizeof *out, cmp_double);
    return n;
}

static int value_index(const double *values, int n, double v)
{
    for (int i = 0; i < n; i++)
        if (values[i] == v)
            return i;
    return -1;
}

/* ---- metrics ---- */

typedef struct {
    int index;          /* PL_M_* */
    const char *name;   /* test_error */
    const char *label;  /* axis label, with units */
    const char *short_label;
    double scale;       /* 100 for percentages */
    bool higher_better;
    bool is_loss;
} metric_info;

static metric_info final_metric(const nl_plot_spec *spec)
{
    const char *m = spec->metric[0] ? spec->metric : "test_error";
    if (!strcmp(m, "test_loss"))
        return (metric_info){PL_M_TEST_LOSS, m, "final test loss (cross-entropy, nats)", "test loss", 1, false, true};
    if (!strcmp(m, "test_accuracy"))
        return (metric_info){PL_M_TEST_ACC, m, "final test accuracy (%)", "test accuracy", 100, true, false};
    if (!strcmp(m, "best_test_accuracy"))
        return (metric_info){PL_M_BEST_ACC, m, "best test accuracy (%)", "best test accuracy", 100, true, false};
    if (!strcmp(m, "train_loss"))
        return (metric_info){PL_M_TRAIN_LOSS, m, "final training loss (cross-entropy, nats)", "training loss", 1, false, true};
    return (metric_info){PL_M_TEST_ERR, "test_error", "final test error (%)", "test error", 100, false, false};
}

/* ---- layout ---- */

typedef struct {
    int width, height;
    double top; /* screen y where the plots may start (below the titles) */
} layout;

static layout title_block(pl_script *s, const pl_results *r, const char *title, int width, int height)
{
    char sub[1024], q[2200];
    pl_subtitle(r, sub, sizeof sub);
    const int lines = 1 + (strchr(sub, '\n') != NULL);
    nl_buf *b = &s->gp;
    nl_buf_printf(b, "set label 101 %s at screen 0.5, screen %.4f center font \",15\"\n",
                  pl_q(title, q, sizeof q), 1.0 - 22.0 / height);
    nl_buf_printf(b, "set label 102 %s at screen 0.5, screen %.4f center font \",10\" tc rgb \"#505050\"\n",
                  pl_q(sub, q, sizeof q), 1.0 - (46.0 + 8.0 * (lines - 1)) / height);
    layout L = {width, height, 1.0 - (64.0 + 16.0 * lines) / height};
    return L;
}

/* the titles are drawn with the first panel only */
static void after_first_plot(pl_script *s) { nl_buf_printf(&s->gp, "unset label 101\nunset label 102\n"); }

static void margins(pl_script *s, double l, double r, double b, double t)
{
    nl_buf_printf(&s->gp, "set lmargin at screen %.4f\nset rmargin at screen %.4f\n"
                          "set bmargin at screen %.4f\nset tmargin at screen %.4f\n", l, r, b, t);
}

/* panel (row, col) of a rows x cols grid inside [l, r] x [b, t]; gaps in pixels */
static void panel(pl_script *s, const layout *L, int row, int col, int rows, int cols, double l, double r,
                  double b, double t, double hgap_px, double vgap_px)
{
    const double hgap = hgap_px / L->width, vgap = vgap_px / L->height;
    const double w = (r - l - (cols - 1) * hgap) / cols, h = (t - b - (rows - 1) * vgap) / rows;
    const double x0 = l + col * (w + hgap), y1 = t - row * (h + vgap);
    margins(s, x0, x0 + w, y1 - h, y1);
}

static void footnote(pl_script *s, const layout *L, const char *text)
{
    char q[1200];
    if (text[0])
        nl_buf_printf(&s->gp, "set label 103 %s at screen 0.01, screen %.4f left font \",9\" tc rgb \"#606060\"\n",
                      pl_q(text, q, sizeof q), 10.0 / L->height);
}

/* the legend to the right of the plot, entries left-aligned with their samples first */
static void key_outside(pl_script *s)
{
    nl_buf_printf(&s->gp, "set key outside right top Left reverse nobox noopaque width 1 spacing 1.2\n");
}

/* "points: mean over 3 seeds; bars: min to max" */
static void spread_note(const pl_results *r, const char *what, char *buf, size_t size)
{
    if (r->seed_key < 0) {
        buf[0] = '\0';
        return;
    }
    const char *seeds[1024];
    snprintf(buf, size, "%s: mean over %d seeds; %s: min to max", !strcmp(what, "bands") ? "lines" : "points",
             pl_distinct(r, r->seed_key, seeds, 1024), what);
}

static void join_notes(char *out, size_t size, const char *a, const char *b)
{
    snprintf(out, size, "%s%s%s", a, a[0] && b[0] ? ". " : "", b);
}

static nl_code not_applicable(nl_error *err, const char *kind, const char *why)
{
    return nl_fail(err, NL_ERR_USAGE, "%s: %s", kind, why);
}

/* log2 x tics at the batch sizes */
static void batch_tics(pl_script *s, const double *values, int n)
{
    nl_buf_printf(&s->gp, "set logscale x 2\nset xtics (");
    for (int i = 0; i < n; i++)
        nl_buf_printf(&s->gp, "%s\"%g\" %g", i ? ", " : "", values[i], values[i]);
    nl_buf_printf(&s->gp, ")\nset xrange [%g:%g]\n", values[0] / 1.45, values[n - 1] * 1.45);
}

static void lr_tics(pl_script *s, const double *values, int n)
{
    nl_buf_printf(&s->gp, "set logscale x 10\nset xtics (");
    for (int i = 0; i < n; i++)
        nl_buf_printf(&s->gp, "%s\"%g\" %g", i ? ", " : "", values[i], values[i]);
    nl_buf_printf(&s->gp, ")\nset xrange [%g:%g]\n", values[0] / 1.6, values[n - 1] * 1.6);
}

/* groups of runs for a plot: ids, labels, colors, the runs of each */
typedef struct {
    int keys[256], n_keys;
    int *group_of; /* per run; -1: beyond MAX_SERIES */
    char (*labels)[256];
    int n;
} grouping;

static nl_code group(const pl_results *r, const int *fixed, int n_fixed, grouping *g, nl_error *err)
{
    memset(g, 0, sizeof *g);
    g->n_keys = pl_group_keys(r, fixed, n_fixed, g->keys);
    g->group_of = malloc((size_t)(r->n_runs + 1) * sizeof *g->group_of);
    g->labels = calloc(MAX_SERIES, sizeof *g->labels);
    if (!g->group_of || !g->labels)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    g->n = pl_groups(r, g->keys, g->n_keys, g->group_of, g->labels, MAX_SERIES);
    return NL_OK;
}

static void ungroup(grouping *g)
{
    free(g->group_of);
    free(g->labels);
    memset(g, 0, sizeof *g);
}

static const char *color_of(const grouping *g, int id) { return pl_color(g->labels[id], id); }

/* "2 diverged runs left out of the means: ..." */
static void diverged_note(const pl_results *r, const bool *use, char *buf, size_t size)
{
    int n = 0;
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n_runs; i++)
        if ((!use || use[i]) && !strcmp(r->runs[i].status, "diverged")) {
            if (n < 3 && used < size)
                used += (size_t)snprintf(buf + used, size - used, "%s%s", n ? ", " : ": ", r->runs[i].name);
            n++;
        }
    if (n == 0)
        return;
    char names[900];
    nl_copy_string(names, sizeof names, buf);
    snprintf(buf, size, "%d diverged run%s left out of the means%s%s", n, n == 1 ? "" : "s", names,
             n > 3 ? ", ..." : "");
}

/* ---- 1. curves ---- */

typedef struct {
    double step, epoch;
    agg a;
} curve_point;

typedef struct {
    curve_point *p;
    int n, cap;
} curve;

static curve_point *curve_at(curve *c, double step, double epoch)
{
    for (int i = c->n - 1; i >= 0; i--)
        if (c->p[i].step == step)
            return &c->p[i];
    if (c->n == c->cap) {
        const int cap = c->cap ? 2 * c->cap : 128;
        curve_point *p = realloc(c->p, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        c->p = p;
        c->cap = cap;
    }
    curve_point *pt = &c->p[c->n++];
    pt->step = step;
    pt->epoch = epoch;
    agg_init(&pt->a);
    return pt;
}

static int cmp_point(const void *a, const void *b)
{
    return cmp_double(&((const curve_point *)a)->step, &((const curve_point *)b)->step);
}

/* a curve's points by step; an empty curve has no array at all, and qsort
 * must not be given a null pointer even for zero items */
static void sort_curve(curve *c)
{
    if (c->n > 0)
        qsort(c->p, (size_t)c->n, sizeof *c->p, cmp_point);
}

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
        if (!strcmp(row[c_split], "train") && (p = curve_at(left, step, epoch)))
            agg_add(&p->a, loss);
        if (!strcmp(row[c_split], split) && (p = curve_at(right, step, epoch)))
            agg_add(&p->a, curve_value(metric, loss, acc));
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

/* values far above the axis are written just above it: a diverging curve
 * leaves through the top instead of upsetting gnuplot's clipping */
static double clamp_to_axis(double v, y_axis y) { return fmin(v, y.log ? y.hi * 10 : y.hi * 1.5); }

nl_code pl_curves(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    const char *metric = spec->metric[0] ? spec->metric : "error";
    const char *split = spec->split[0] ? spec->split : "test";
    const bool percent = strcmp(metric, "loss") != 0;
    char right_label[160], right_title[160], q[2048], q2[600];
    snprintf(right_label, sizeof right_label, "%s %s%s", !strcmp(split, "train") ? "training" : "test", metric,
             percent ? " (%)" : " (cross-entropy, nats)");
    snprintf(right_title, sizeof right_title, "%s %s", !strcmp(split, "train") ? "training" :
             !strcmp(split, "test_trainmode") ? "test (batch statistics)" : "test", metric);

    grouping g;
    nl_code rc = group(r, NULL, 0, &g, err);
    curve *left = calloc(MAX_SERIES, sizeof *left), *right = calloc(MAX_SERIES, sizeof *right);
    nl_buf data = {0};
    if (rc == NL_OK && (!left || !right))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    int used_runs = 0;
    /* the axes fit the variants whose runs did not diverge; diverging curves
     * leave through the top */
    bool diverging[MAX_SERIES] = {false}, any_stable = false;
    for (int i = 0; i < r->n_runs && rc == NL_OK; i++) {
        const int id = g.group_of[i];
        if (id < 0 || !pl_run_finished(&r->runs[i]))
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
        rc = not_applicable(err, "curves", "no finished run to draw");
        goto done;
    }
    for (int v = 0; v < g.n; v++) {
        sort_curve(&left[v]);
        sort_curve(&right[v]);
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
            for (int v = 0; v < g.n; v++) {
                const curve *c = panel_i ? &right[v] : &left[v];
                char l[256], a[32], b[32], d[32];
                for (int j = 0; j < c->n; j++) {
                    const curve_point *p = &c->p[j];
                    if (!p->a.n)
                        continue;
                    nl_buf_printf(&data, "%d,%s,%d,%.0f,%.4f,%s,%s,%s,%d\n", v, cell(g.labels[v], l, sizeof l),
                                  panel_i, p->step, p->epoch, num(a, sizeof a, clamp_to_axis(agg_mean(&p->a), axes[panel_i])),
                                  num(b, sizeof b, clamp_to_axis(p->a.min, axes[panel_i])),
                                  num(d, sizeof d, clamp_to_axis(p->a.max, axes[panel_i])), p->a.n);
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
    const int legend_px = (int)(90.0 + 9.0 * (double)longest);
    const int width = r->sweep ? 1040 + (legend_px > 260 ? legend_px : 260) : 1300;
    const double panels_right = r->sweep ? 1040.0 / width : 0.98;
    const int height = 150 + 345 * n_rows;
    char title[512];
    snprintf(title, sizeof title, "Training loss and %s against %s", right_title, x);
    pl_header(s, title, width, height);
    layout L = title_block(s, r, title, width, height);
    char foot[1300], spread[128];
    spread_note(r, "bands", spread, sizeof spread);
    join_notes(foot, sizeof foot, spread, by_epoch ? "x in epochs: the batch size varies, so steps per epoch differ" : "");
    bool some_diverged = false;
    for (int v = 0; v < g.n; v++)
        some_diverged |= diverging[v];
    if (some_diverged && any_stable) {
        char with[1400];
        join_notes(with, sizeof with, foot, "the axes fit the runs that did not diverge");
        nl_copy_string(foot, sizeof foot, with);
    }
    footnote(s, &L, foot);
    nl_buf_printf(&s->gp, "set xlabel %s\nset multiplot\n",
                  pl_q(by_epoch ? "epoch (passes over the training set)" : "step (optimizer updates)", q, sizeof q));
    /* 50000 steps on a narrow panel: 10k, 20k, ... keeps the labels apart */
    if (!by_epoch)
        nl_buf_printf(&s->gp, "set format x \"%%.0s%%c\"\n");
    char data_file[128];
    snprintf(data_file, sizeof data_file, "%s.csv", s->name);
    for (int row = 0; row < n_rows; row++)
        for (int panel_i = 0; panel_i < 2; panel_i++) {
            panel(s, &L, row, panel_i, n_rows, 2, 0.07 * 1300.0 / width, panels_right, 80.0 / height,
                  L.top - 26.0 / height, 90, 105);
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
                nl_buf_printf(&s->gp, "set xrange [0:%g]\nset label 5 %s at graph 0.5, graph 0.5 center "
                              "tc rgb \"#777777\"\nplot NaN notitle\nunset label 5\nset autoscale x\n",
                              x_max > 0 ? x_max : 1, pl_q(none, q, sizeof q));
                if (row == 0 && panel_i == 0)
                    after_first_plot(s);
                continue;
            }
            if (!r->sweep) {
                /* a single run: its metrics.csv as it is; rows of other splits
                 * are skipped, not gaps in the line */
                nl_buf_printf(&s->gp, "set datafile missing NaN\n");
                if (panel_i == 0)
                    nl_buf_printf(&s->gp, "plot \"../metrics.csv\" using (strcol(\"split\") eq \"train\" ? "
                                  "column(\"%s\") : NaN):(column(\"loss\")) with lines lw 2 lc rgb \"#1f77b4\" "
                                  "title \"training loss\"\n", x);
                else {
                    const char *expr = !strcmp(metric, "loss") ? "column(\"loss\")"
                                       : !strcmp(metric, "accuracy") ? "100*column(\"accuracy\")"
                                                                     : "100*(1-column(\"accuracy\"))";
                    nl_buf_printf(&s->gp, "plot \"../metrics.csv\" using (strcol(\"split\") eq \"%s\" ? "
                                  "column(\"%s\") : NaN):(%s) with linespoints lw 2 pt 7 ps 0.6 lc rgb "
                                  "\"#d62728\" title %s\n", split, x, expr, pl_q(right_title, q, sizeof q));
                }
                if (row == 0 && panel_i == 0)
                    after_first_plot(s);
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
                              ": NaN):(column(\"mean\")) with lines lw 2 lc rgb \"%s\" title %s",
                              drawn ? ", \\\n  " : "", data_file, v, panel_i, x, color, v, panel_i, x, color,
                              pl_q(series_label[v], q, sizeof q));
                drawn++;
            }
            nl_buf_printf(&s->gp, "\n");
            if (row == 0 && panel_i == 0)
                after_first_plot(s);
        }
    if (r->sweep) {
        /* the legend: every series once, in a column right of the panels */
        nl_buf_printf(&s->gp, "unset title\nunset xlabel\nunset ylabel\nunset border\nunset tics\nunset grid\n"
                      "unset logscale\nset xrange [0:1]\nset yrange [0:1]\n"
                      "set key at screen %.4f, screen %.4f top left Left reverse nobox noopaque spacing 1.2\n",
                      panels_right + 10.0 / width, L.top - 26.0 / height);
        margins(s, panels_right + 10.0 / width, 0.99, 80.0 / height, L.top - 26.0 / height);
        nl_buf_printf(&s->gp, "plot ");
        for (int u = 0; u < n_unique; u++)
            nl_buf_printf(&s->gp, "%sNaN with lines lw 2 lc rgb \"%s\" title %s", u ? ", " : "",
                          pl_color(series_label[unique[u]], u), pl_q(series_label[unique[u]], q, sizeof q));
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
    ungroup(&g);
    return rc;
}

/* ---- final metrics per (series, x value) ---- */

typedef struct {
    agg a;
    int diverged, runs;
} cell_agg;

/* aggregates metric m of the finished runs by series id and x index */
static void aggregate(const pl_results *r, const grouping *g, int x_key, const double *xs, int nx,
                      const metric_info *m, const bool *use, cell_agg *cells)
{
    for (int i = 0; i < g->n * nx; i++) {
        agg_init(&cells[i].a);
        cells[i].diverged = cells[i].runs = 0;
    }
    for (int i = 0; i < r->n_runs; i++) {
        const pl_run *run = &r->runs[i];
        const int id = g->group_of[i];
        const int xi = value_index(xs, nx, pl_num(run->values[x_key]));
        if (id < 0 || xi < 0 || (use && !use[i]) || !pl_run_finished(run))
            continue;
        cell_agg *c = &cells[id * nx + xi];
        c->runs++;
        if (!strcmp(run->status, "diverged"))
            c->diverged++;
        else
            agg_add(&c->a, m->scale * run->m[m->index]);
    }
}

static nl_code need_varied(const pl_results *r, const char *kind, const char *key, int *k_out, double *xs,
                           int *nx, nl_error *err)
{
    char why[1400];
    const int k = pl_key(r, key);
    if (!r->sweep) {
        snprintf(why, sizeof why, "needs a sweep directory (summary.csv) where %s varies; %s is a single run",
                 key, r->dir);
        return not_applicable(err, kind, why);
    }
    *nx = k >= 0 ? numeric_values(r, k, NULL, xs, MAX_VALUES) : 0;
    if (k < 0 || *nx < 2) {
        snprintf(why, sizeof why, "%s does not vary in this sweep", key);
        return not_applicable(err, kind, why);
    }
    *k_out = k;
    return NL_OK;
}

/* ---- 2. batch size (Wu & He, Fig. 1) ---- */

nl_code pl_batch_size(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    double xs[MAX_VALUES];
    int bs, nx;
    nl_code rc = need_varied(r, "batch_size", "train.batch_size", &bs, xs, &nx, err);
    if (rc)
        return rc;
    const metric_info m = final_metric(spec);
    grouping g;
    cell_agg *cells = NULL;
    nl_buf data = {0};
    char q[2048];
    if ((rc = group(r, &bs, 1, &g, err)))
        goto done;
    if (!(cells = calloc((size_t)g.n * nx, sizeof *cells))) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    aggregate(r, &g, bs, xs, nx, &m, NULL, cells);
    nl_buf_printf(&data, "series,label,batch_size,mean,min,max,n,diverged\n");
    int points = 0;
    for (int id = 0; id < g.n; id++)
        for (int xi = 0; xi < nx; xi++) {
            const cell_agg *c = &cells[id * nx + xi];
            char l[256], a[32], b[32], d[32];
            if (!c->a.n)
                continue;
            points++;
            nl_buf_printf(&data, "%d,%s,%g,%s,%s,%s,%d,%d\n", id, cell(g.labels[id], l, sizeof l), xs[xi],
                          num(a, sizeof a, agg_mean(&c->a)), num(b, sizeof b, c->a.min),
                          num(d, sizeof d, c->a.max), c->a.n, c->diverged);
        }
    if (points == 0) {
        rc = not_applicable(err, "batch_size", "no finished run with a final metric");
        goto done;
    }
    char file[128];
    snprintf(file, sizeof file, "%s.csv", s->name);
    if ((rc = pl_write_data(s, file, &data, err)))
        goto done;
    char title[256];
    snprintf(title, sizeof title, "%s%s against batch size", m.short_label[0] == 't' ? "Final " : "",
             m.short_label);
    const int width = 1100, height = 680;
    pl_header(s, title, width, height);
    layout L = title_block(s, r, title, width, height);
    char foot[1300], div_note[1024], spread[128];
    diverged_note(r, NULL, div_note, sizeof div_note);
    spread_note(r, "bars", spread, sizeof spread);
    join_notes(foot, sizeof foot, spread, div_note);
    footnote(s, &L, foot);
    margins(s, 0.08, 0.80, 90.0 / height, L.top);
    batch_tics(s, xs, nx);
    nl_buf_printf(&s->gp, "set xlabel \"batch size (samples per step, log2 scale)\"\nset ylabel %s\n",
                  pl_q(m.label, q, sizeof q));
    if (m.scale == 100 && !m.higher_better)
        nl_buf_printf(&s->gp, "set yrange [0:*]\n");
    key_outside(s);
    nl_buf_printf(&s->gp, "plot ");
    int drawn = 0;
    for (int id = 0; id < g.n; id++) {
        bool any = false;
        for (int xi = 0; xi < nx; xi++)
            any |= cells[id * nx + xi].a.n > 0;
        if (!any)
            continue; /* every run of it diverged or failed */
        /* series side by side, so their bars do not hide each other */
        const double offset = 0.045 * (id - (g.n - 1) / 2.0);
        nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"series\") == %d ? column(\"batch_size\")*2**(%.4f) : NaN):"
                      "(column(\"mean\")):(column(\"min\")):(column(\"max\")) with yerrorlines lw 2 pt 7 ps 1.1 "
                      "lc rgb \"%s\" title %s",
                      drawn++ ? ", \\\n  " : "", file, id, offset, color_of(&g, id), pl_q(g.labels[id], q, sizeof q));
    }
    nl_buf_printf(&s->gp, "\n");
    rc = pl_finish(s, err);
done:
    free(cells);
    nl_buf_free(&data);
    ungroup(&g);
    return rc;
}

/* ---- 3. learning rate ---- */

nl_code pl_lr(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    double xs[MAX_VALUES];
    int lr, nx;
    nl_code rc = need_varied(r, "lr", "train.optimizer.lr", &lr, xs, &nx, err);
    if (rc)
        return rc;
    const metric_info m = final_metric(spec);
    grouping g;
    cell_agg *cells = NULL;
    nl_buf data = {0}, ranges = {0};
    char q[2048];
    if ((rc = group(r, &lr, 1, &g, err)))
        goto done;
    if (!(cells = calloc((size_t)g.n * nx, sizeof *cells))) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    aggregate(r, &g, lr, xs, nx, &m, NULL, cells);

    /* the threshold: within a margin of the best mean without divergence */
    double best = m.higher_better ? -INFINITY : INFINITY, top = 0;
    for (int i = 0; i < g.n * nx; i++) {
        const cell_agg *c = &cells[i];
        if (c->a.n) {
            top = fmax(top, c->a.max);
            if (!c->diverged)
                best = m.higher_better ? fmax(best, agg_mean(&c->a)) : fmin(best, agg_mean(&c->a));
        }
    }
    double threshold = spec->threshold * m.scale;
    char threshold_rule[128] = "given";
    if (isnan(spec->threshold) && isfinite(best)) {
        if (m.is_loss) {
            threshold = best * NL_PLOT_LR_DEFAULT_LOSS_FACTOR;
            snprintf(threshold_rule, sizeof threshold_rule, "best x %.2f", NL_PLOT_LR_DEFAULT_LOSS_FACTOR);
        } else {
            const double margin = NL_PLOT_LR_DEFAULT_MARGIN * m.scale;
            threshold = m.higher_better ? best - margin : best + margin;
            snprintf(threshold_rule, sizeof threshold_rule, "best %s %g%s", m.higher_better ? "-" : "+",
                     margin, m.scale == 100 ? " points" : "");
        }
    }
    if (!isfinite(top) || top <= 0)
        top = m.scale == 100 ? 100 : 1;
    if (isfinite(threshold))
        top = fmax(top, threshold);
    const double ytop = m.scale == 100 && !m.higher_better ? fmin(top * 1.18, 112) : top * 1.18;
    const double y_div = ytop * 0.955;

    nl_buf_printf(&data, "series,label,lr,mean,min,max,n,diverged,tolerated\n");
    nl_buf_printf(&ranges, "series,label,row,lo,hi,lo_box,hi_box,text\n");
    char *note = s->note;
    size_t used = (size_t)snprintf(note, sizeof s->note, "%s: learning rates each %s tolerates (no run "
                                   "diverged, mean %s %s %.4g%s, %s):", s->name,
                                   g.n_keys ? "series" : "setting", m.short_label, m.higher_better ? ">=" : "<=",
                                   threshold, m.scale == 100 ? "%" : "", threshold_rule);
    int n_ranges = 0;
    bool has_range[MAX_SERIES] = {false};
    for (int id = 0; id < g.n; id++) {
        int run_start = -1, best_lo = -1, best_hi = -1;
        for (int xi = 0; xi <= nx; xi++) {
            const cell_agg *c = xi < nx ? &cells[id * nx + xi] : NULL;
            const double mean = c ? agg_mean(&c->a) : NAN;
            const bool tolerated = c && c->runs > 0 && c->diverged == 0 && c->a.n > 0 &&
                                   (m.higher_better ? mean >= threshold : mean <= threshold);
            if (c && c->runs > 0) {
                char l[256], a[32], b[32], d[32];
                nl_buf_printf(&data, "%d,%s,%g,%s,%s,%s,%d,%d,%d\n", id, cell(g.labels[id], l, sizeof l),
                              xs[xi], num(a, sizeof a, mean), num(b, sizeof b, c->a.min),
                              num(d, sizeof d, c->a.max), c->a.n, c->diverged, tolerated);
            }
            if (c && c->runs == 0)
                continue; /* not measured (excluded): neither breaks nor extends a range */
            if (tolerated && run_start < 0)
                run_start = xi;
            if (!tolerated && run_start >= 0) {
                int last = xi - 1;
                while (last > run_start && cells[id * nx + last].runs == 0)
                    last--;
                if (best_lo < 0 || log10(xs[last] / xs[run_start]) > log10(xs[best_hi] / xs[best_lo])) {
                    best_lo = run_start;
                    best_hi = last;
                }
                run_start = -1;
            }
        }
        char text[256];
        if (best_lo < 0) {
            snprintf(text, sizeof text, "none");
        } else {
            const double decades = log10(xs[best_hi] / xs[best_lo]);
            if (best_lo == best_hi)
                snprintf(text, sizeof text, "%g only", xs[best_lo]);
            else
                snprintf(text, sizeof text, "%g to %g (%.1f decade%s)", xs[best_lo], xs[best_hi], decades,
                         fabs(decades - 1.0) < 0.05 ? "" : "s");
            char l[256], t[256];
            nl_buf_printf(&ranges, "%d,%s,%d,%g,%g,%g,%g,%s\n", id, cell(g.labels[id], l, sizeof l), id,
                          xs[best_lo], xs[best_hi], xs[best_lo] / 1.25, xs[best_hi] * 1.25, cell(text, t, sizeof t));
            n_ranges++;
            has_range[id] = true;
        }
        if (used < sizeof s->note)
            used += (size_t)snprintf(note + used, sizeof s->note - used, "\n  %s: %s", g.labels[id], text);
    }
    char file[128], ranges_file[128];
    snprintf(file, sizeof file, "%s.csv", s->name);
    snprintf(ranges_file, sizeof ranges_file, "%s-ranges.csv", s->name);
    if ((rc = pl_write_data(s, file, &data, err)) || (rc = pl_write_data(s, ranges_file, &ranges, err)))
        goto done;

    char title[256];
    snprintf(title, sizeof title, "%s%s against learning rate", m.short_label[0] == 't' ? "Final " : "",
             m.short_label);
    const int strip_px = 40 + 26 * g.n;
    const int width = 1150, height = 640 + strip_px;
    pl_header(s, title, width, height);
    layout L = title_block(s, r, title, width, height);
    size_t longest = 0;
    for (int id = 0; id < g.n; id++)
        longest = strlen(g.labels[id]) > longest ? strlen(g.labels[id]) : longest;
    const double left = fmax(0.09, (6.2 * (double)longest + 30.0) / width);
    const double right = 0.76, strip_top = (60.0 + strip_px) / height, main_bottom = strip_top + 75.0 / height;
    nl_buf_printf(&s->gp, "set multiplot\n");
    /* the main panel */
    margins(s, left, right, main_bottom, L.top);
    lr_tics(s, xs, nx);
    nl_buf_printf(&s->gp, "set xlabel \"learning rate (log scale)\"\nset ylabel %s\nset yrange [0:%g]\n",
                  pl_q(m.label, q, sizeof q), ytop);
    key_outside(s);
    {
        char foot[1300], div_note[1024], spread[128];
        diverged_note(r, NULL, div_note, sizeof div_note);
        spread_note(r, "bars", spread, sizeof spread);
        join_notes(foot, sizeof foot, spread, div_note[0] ? "diverged runs: crosses at the top, left out of the means" : "");
        footnote(s, &L, foot);
    }
    if (isfinite(threshold)) {
        char t[128];
        snprintf(t, sizeof t, "threshold %.3g%s", threshold, m.scale == 100 ? "%" : "");
        nl_buf_printf(&s->gp, "set arrow 1 from graph 0, first %g to graph 1, first %g nohead dt 2 lw 1.5 "
                      "lc rgb \"#777777\" back\nset label 1 %s at graph 0.99, first %g right offset 0,0.6 front "
                      "font \",8\" tc rgb \"#555555\"\n", threshold, threshold, pl_q(t, q, sizeof q), threshold);
    }
    int any_diverged = 0;
    for (int i = 0; i < g.n * nx; i++)
        any_diverged += cells[i].diverged;
    if (any_diverged)
        nl_buf_printf(&s->gp, "set label 2 \"diverged\" at graph 0.01, first %g left offset 0,1.1 font \",9\" "
                      "tc rgb \"#555555\"\nset arrow 2 from graph 0, first %g to graph 1, first %g nohead lw 0.5 "
                      "lc rgb \"#bbbbbb\"\n", y_div, (y_div + ytop * 0.86) / 2, (y_div + ytop * 0.86) / 2);
    nl_buf_printf(&s->gp, "plot ");
    int drawn = 0;
    for (int id = 0; id < g.n; id++) {
        const double offset = 0.02 * (id - (g.n - 1) / 2.0);
        bool points = false, divergences = false;
        for (int xi = 0; xi < nx; xi++) {
            points |= cells[id * nx + xi].a.n > 0;
            divergences |= cells[id * nx + xi].diverged > 0;
        }
        /* a series with no point at all still gets its legend entry */
        if (points)
            nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"series\") == %d && column(\"n\") > 0 ? "
                          "column(\"lr\")*10**(%.4f) : NaN):(column(\"mean\")):(column(\"min\")):(column(\"max\")) "
                          "with yerrorlines lw 2 pt 7 ps 1.1 lc rgb \"%s\" title %s",
                          drawn++ ? ", \\\n  " : "", file, id, offset, color_of(&g, id), pl_q(g.labels[id], q, sizeof q));
        else
            nl_buf_printf(&s->gp, "%sNaN with linespoints lw 2 pt 7 lc rgb \"%s\" title %s", drawn++ ? ", \\\n  " : "",
                          color_of(&g, id), pl_q(g.labels[id], q, sizeof q));
        if (divergences)
            nl_buf_printf(&s->gp, ", \\\n  \"%s\" using (column(\"series\") == %d && column(\"diverged\") > 0 ? "
                          "column(\"lr\")*10**(%.4f) : NaN):(%g) with points pt 2 ps 2.2 lw 2.5 lc rgb \"%s\" notitle",
                          file, id, offset, y_div, color_of(&g, id));
    }
    if (any_diverged)
        nl_buf_printf(&s->gp, ", \\\n  NaN with points pt 2 ps 2.2 lw 2.5 lc rgb \"#444444\" title \"diverged (any seed)\"");
    nl_buf_printf(&s->gp, "\n");
    after_first_plot(s);
    /* the strip: the widest tolerated range of each series */
    char strip_title[256];
    snprintf(strip_title, sizeof strip_title, "widest tolerated range: no run diverged and mean %s %s %.3g%s (%s)",
             m.short_label, m.higher_better ? ">=" : "<=", threshold, m.scale == 100 ? "%" : "", threshold_rule);
    nl_buf_printf(&s->gp, "unset arrow\nunset label\nunset key\nunset title\n");
    margins(s, left, right, 55.0 / height, strip_top);
    nl_buf_printf(&s->gp, "set xlabel \"\"\nset format x \"\"\nset ylabel \"\"\nset yrange [%g:-0.6]\n"
                  "set ytics (", g.n - 0.4);
    for (int id = 0; id < g.n; id++)
        nl_buf_printf(&s->gp, "%s%s %d", id ? ", " : "", pl_q(g.labels[id], q, sizeof q), id);
    nl_buf_printf(&s->gp, ") font \",9\"\nset grid xtics noytics\n"
                  "set label 3 %s at graph 0, graph 1 left offset 0,0.7 font \",9\" tc rgb \"#555555\"\n",
                  pl_q(strip_title, q, sizeof q));
    if (n_ranges == 0)
        nl_buf_printf(&s->gp, "set label 4 \"no learning rate meets the threshold\" at graph 0.5, graph 0.5 center\n"
                      "plot NaN notitle\n");
    else {
        nl_buf_printf(&s->gp, "plot ");
        int bars = 0;
        for (int id = 0; id < g.n; id++)
            if (has_range[id])
                nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"series\") == %d ? sqrt(column(\"lo\")*column(\"hi\")) : NaN):"
                          "(column(\"row\")):(column(\"lo_box\")):(column(\"hi_box\")):(column(\"row\")-0.3):"
                          "(column(\"row\")+0.3) with boxxyerror fs solid 0.75 noborder lc rgb \"%s\" notitle",
                          bars++ ? ", \\\n  " : "", ranges_file, id, color_of(&g, id));
        nl_buf_printf(&s->gp, ", \\\n  \"%s\" using (column(\"hi_box\")):(column(\"row\")):(strcol(\"text\")) "
                      "with labels left offset 0.8,0 font \",9\" notitle\n", ranges_file);
    }
    nl_buf_printf(&s->gp, "unset multiplot\n");
    rc = pl_finish(s, err);
done:
    free(cells);
    nl_buf_free(&data);
    nl_buf_free(&ranges);
    ungroup(&g);
    return rc;
}

/* ---- 4. heatmap: learning rate x batch size ---- */

nl_code pl_heatmap(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    double bsv[MAX_VALUES], lrv[MAX_VALUES];
    int bs, lr, nb, nl;
    nl_code rc = need_varied(r, "heatmap", "train.batch_size", &bs, bsv, &nb, err);
    if (rc || (rc = need_varied(r, "heatmap", "train.optimizer.lr", &lr, lrv, &nl, err)))
        return rc;
    /* a learning rate that follows the batch size (derived) makes a diagonal, not a map */
    int pairs = 0;
    for (int i = 0; i < r->n_runs; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(r->runs[i].values[bs], r->runs[j].values[bs]) &&
                   !strcmp(r->runs[i].values[lr], r->runs[j].values[lr]);
        pairs += !seen;
    }
    if (pairs <= (nb > nl ? nb : nl))
        return not_applicable(err, "heatmap", "the learning rate and the batch size do not vary independently "
                              "(one learning rate per batch size)");
    const metric_info m = final_metric(spec);
    const int fixed[2] = {bs, lr};
    grouping g;
    agg *cells = NULL;
    int *div = NULL, *runs = NULL;
    nl_buf data = {0};
    char q[2048];
    if ((rc = group(r, fixed, 2, &g, err)))
        goto done;
    const int ncell = g.n * nb * nl;
    cells = calloc((size_t)ncell, sizeof *cells);
    div = calloc((size_t)ncell, sizeof *div);
    runs = calloc((size_t)ncell, sizeof *runs);
    if (!cells || !div || !runs) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < ncell; i++)
        agg_init(&cells[i]);
    for (int i = 0; i < r->n_runs; i++) {
        const pl_run *run = &r->runs[i];
        const int id = g.group_of[i], xi = value_index(bsv, nb, pl_num(run->values[bs])),
                  yi = value_index(lrv, nl, pl_num(run->values[lr]));
        if (id < 0 || xi < 0 || yi < 0 || !pl_run_finished(run))
            continue;
        const int c = (id * nl + yi) * nb + xi;
        runs[c]++;
        if (!strcmp(run->status, "diverged"))
            div[c]++;
        else
            agg_add(&cells[c], m.scale * run->m[m.index]);
    }
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < ncell; i++)
        if (cells[i].n) {
            lo = fmin(lo, agg_mean(&cells[i]));
            hi = fmax(hi, agg_mean(&cells[i]));
        }
    if (!isfinite(lo)) {
        rc = not_applicable(err, "heatmap", "no finished run with a final metric");
        goto done;
    }
    if (hi <= lo)
        hi = lo + (m.scale == 100 ? 1 : 0.01);
    const double mid = (lo + hi) / 2;
    nl_buf_printf(&data, "panel,label,xi,yi,batch_size,lr,mean,n,diverged,text,dark\n");
    for (int id = 0; id < g.n; id++)
        for (int yi = 0; yi < nl; yi++)
            for (int xi = 0; xi < nb; xi++) {
                const int c = (id * nl + yi) * nb + xi;
                if (!runs[c])
                    continue;
                char l[256], a[32], text[64];
                const double mean = agg_mean(&cells[c]);
                if (!cells[c].n)
                    snprintf(text, sizeof text, "diverged");
                else if (div[c])
                    snprintf(text, sizeof text, m.scale == 100 ? "%.1f (%d div)" : "%.3f (%d div)", mean, div[c]);
                else
                    snprintf(text, sizeof text, m.scale == 100 ? "%.1f" : "%.3f", mean);
                const bool dark = cells[c].n && (m.higher_better ? mean < mid : mean > mid);
                nl_buf_printf(&data, "%d,%s,%d,%d,%g,%g,%s,%d,%d,%s,%d\n", id, cell(g.labels[id], l, sizeof l), xi,
                              yi, bsv[xi], lrv[yi], num(a, sizeof a, mean), cells[c].n, div[c], text, dark);
            }
    char file[128];
    snprintf(file, sizeof file, "%s.csv", s->name);
    if ((rc = pl_write_data(s, file, &data, err)))
        goto done;

    const int cols = g.n < 3 ? g.n : 3, rows = (g.n + cols - 1) / cols;
    const int cell_px = nb > 6 || nl > 6 ? 62 : 80;
    const int panel_w = nb * cell_px + 40 > 300 ? nb * cell_px + 40 : 300;
    const int width = 110 + cols * (panel_w + 95) + 110, panel_h = nl * (cell_px * 3 / 4) + 40 > 230 ? nl * (cell_px * 3 / 4) + 40 : 230;
    const int height = 150 + rows * (panel_h + 95);
    char title[256];
    snprintf(title, sizeof title, "%s%s over learning rate and batch size", m.short_label[0] == 't' ? "Final " : "",
             m.short_label);
    pl_header(s, title, width, height);
    layout L = title_block(s, r, title, width, height);
    char foot[256];
    snprintf(foot, sizeof foot, "cells: mean over %s; hatched: every run diverged; (k div): k runs diverged and are "
             "left out of the mean", r->seed_key >= 0 ? "seeds" : "runs");
    footnote(s, &L, foot);
    const double right = 1.0 - 120.0 / width;
    nl_buf_printf(&s->gp, "set multiplot\nunset grid\nunset key\nset style fill solid 1.0 noborder\n"
                  "set palette defined (0 \"#fde725\", 0.25 \"#5ec962\", 0.5 \"#21918c\", 0.75 \"#3b528b\", 1 \"#440154\")\n"
                  "set cbrange [%g:%g]\nset cblabel %s\n"
                  "set colorbox user origin screen %.4f, screen %.4f size screen %.4f, screen %.4f\n",
                  lo, hi, pl_q(m.label, q, sizeof q), right + 20.0 / width, 80.0 / height, 18.0 / width,
                  L.top - 80.0 / height);
    /* bright is good */
    if (m.higher_better)
        nl_buf_printf(&s->gp, "set palette negative\n");
    nl_buf_printf(&s->gp, "set xrange [-0.5:%g]\nset yrange [-0.5:%g]\nset xtics (", nb - 0.5, nl - 0.5);
    for (int xi = 0; xi < nb; xi++)
        nl_buf_printf(&s->gp, "%s\"%g\" %d", xi ? ", " : "", bsv[xi], xi);
    nl_buf_printf(&s->gp, ") scale 0\nset ytics (");
    for (int yi = 0; yi < nl; yi++)
        nl_buf_printf(&s->gp, "%s\"%g\" %d", yi ? ", " : "", lrv[yi], yi);
    nl_buf_printf(&s->gp, ") scale 0\nset xlabel \"batch size\"\nset ylabel \"learning rate\"\n");
    const char *font = nb > 6 ? ",8" : ",10";
    for (int id = 0; id < g.n; id++) {
        panel(s, &L, id / cols, id % cols, rows, cols, 0.08, right - 60.0 / width, 80.0 / height,
              L.top - 26.0 / height, 95, 110);
        nl_buf_printf(&s->gp, "set title %s\n", pl_q(g.n_keys ? g.labels[id] : "", q, sizeof q));
        bool measured = false, all_diverged = false, any_cell = false;
        for (int c = id * nl * nb; c < (id + 1) * nl * nb; c++) {
            measured |= cells[c].n > 0;
            all_diverged |= runs[c] > 0 && cells[c].n == 0;
            any_cell |= runs[c] > 0;
        }
        if (!any_cell) {
            nl_buf_printf(&s->gp, "set label 5 \"no finished runs\" at graph 0.5, graph 0.5 center\nplot NaN notitle\n"
                          "unset label 5\n");
            if (id == 0)
                after_first_plot(s);
            continue;
        }
        nl_buf_printf(&s->gp, "plot ");
        if (measured)
            nl_buf_printf(&s->gp, "\"%s\" using (column(\"panel\") == %d && column(\"n\") > 0 ? column(\"xi\") : NaN):"
                          "(column(\"yi\")):(0.5):(0.5):(column(\"mean\")) with boxxyerror fs solid 1.0 noborder "
                          "fc palette, \\\n  ", file, id);
        if (all_diverged)
            nl_buf_printf(&s->gp, "\"%s\" using (column(\"panel\") == %d && column(\"n\") == 0 ? column(\"xi\") : NaN):"
                          "(column(\"yi\")):(0.5):(0.5) with boxxyerror fs pattern 4 noborder fc rgb \"#9a9a9a\", \\\n  ",
                          file, id);
        nl_buf_printf(&s->gp, "\"%s\" using (column(\"panel\") == %d ? column(\"xi\") : NaN):(column(\"yi\")):"
                      "(strcol(\"text\")):(column(\"dark\") > 0 ? 0xffffff : 0x202020) with labels tc rgb variable "
                      "font \"%s\"\n", file, id, font);
        if (id == 0)
            after_first_plot(s);
    }
    nl_buf_printf(&s->gp, "unset multiplot\n");
    rc = pl_finish(s, err);
done:
    free(cells);
    free(div);
    free(runs);
    nl_buf_free(&data);
    ungroup(&g);
    return rc;
}

/* ---- 5. batch norm's train/eval gap ---- */

static bool is_batch_norm(const pl_results *r, const pl_run *run)
{
    const char *norm = pl_value(r, run, "model.norm.type");
    return norm && !strcmp(norm, "batch");
}

nl_code pl_train_eval_gap(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    (void)spec;
    char q[2048];
    nl_code rc;
    if (!r->sweep) {
        /* a single run: both accuracies against step, from its metrics.csv */
        if (!is_batch_norm(r, &r->runs[0]))
            return not_applicable(err, "train_eval_gap", "the run does not use batch norm");
        char path[1300];
        snprintf(path, sizeof path, "%s/metrics.csv", r->runs[0].dir);
        pl_table t;
        if ((rc = pl_table_read(path, &t, err)))
            return rc;
        const int c_split = pl_table_col(&t, "split");
        bool have = false;
        for (int i = 0; i < t.n_rows && c_split >= 0 && !have; i++)
            have = !strcmp(t.rows[i][c_split], "test_trainmode");
        pl_table_free(&t);
        if (!have)
            return not_applicable(err, "train_eval_gap", "the run has no test_trainmode rows "
                                  "(train.eval_trainmode is off)");
        const char *title = "Batch norm: test accuracy with running statistics (eval) and batch statistics (train mode)";
        const int width = 1100, height = 640;
        pl_header(s, title, width, height);
        layout L = title_block(s, r, title, width, height);
        margins(s, 0.08, 0.97, 80.0 / height, L.top);
        nl_buf_printf(&s->gp, "set datafile missing NaN\n"
                      "set xlabel \"step (optimizer updates)\"\nset format x \"%%.0s%%c\"\n"
                      "set ylabel \"test accuracy (%%)\"\n"
                      "set key bottom right\n"
                      "plot \"../metrics.csv\" using (strcol(\"split\") eq \"test\" ? column(\"step\") : NaN):"
                      "(100*column(\"accuracy\")) with linespoints lw 2 pt 7 ps 0.7 lc rgb \"#1f77b4\" "
                      "title \"eval mode (running statistics)\", \\\n"
                      "  \"\" using (strcol(\"split\") eq \"test_trainmode\" ? column(\"step\") : NaN):"
                      "(100*column(\"accuracy\")) with linespoints lw 2 dt 2 pt 6 ps 0.7 lc rgb \"#1f77b4\" "
                      "title \"train mode (batch statistics)\"\n");
        return pl_finish(s, err);
    }
    double xs[MAX_VALUES];
    int bs, nx;
    if ((rc = need_varied(r, "train_eval_gap", "train.batch_size", &bs, xs, &nx, err)))
        return rc;
    bool *use = calloc((size_t)r->n_runs + 1, sizeof *use);
    if (!use)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    int n_use = 0, n_trainmode = 0;
    for (int i = 0; i < r->n_runs; i++) {
        use[i] = is_batch_norm(r, &r->runs[i]);
        n_use += use[i];
        n_trainmode += use[i] && isfinite(r->runs[i].m[PL_M_TRAINMODE_ACC]);
    }
    grouping g = {0};
    cell_agg *eval = NULL, *train = NULL;
    nl_buf data = {0};
    if (n_use == 0 || n_trainmode == 0) {
        rc = not_applicable(err, "train_eval_gap", n_use == 0 ? "no run uses batch norm"
                            : "no batch-norm run measured train-mode accuracy (train.eval_trainmode is off, "
                              "or none finished)");
        goto done;
    }
    const int norm_key = pl_key(r, "model.norm.type");
    const int fixed[2] = {bs, norm_key};
    if ((rc = group(r, fixed, norm_key >= 0 ? 2 : 1, &g, err)))
        goto done;
    eval = calloc((size_t)g.n * nx, sizeof *eval);
    train = calloc((size_t)g.n * nx, sizeof *train);
    if (!eval || !train) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    const metric_info m_eval = {PL_M_TEST_ACC, "test_accuracy", "", "", 100, true, false};
    const metric_info m_train = {PL_M_TRAINMODE_ACC, "test_trainmode_accuracy", "", "", 100, true, false};
    aggregate(r, &g, bs, xs, nx, &m_eval, use, eval);
    aggregate(r, &g, bs, xs, nx, &m_train, use, train);
    /* series that hold batch-norm runs, renumbered */
    int ids[MAX_SERIES], n_ids = 0;
    for (int id = 0; id < g.n; id++) {
        bool any = false;
        for (int xi = 0; xi < nx; xi++)
            any |= eval[id * nx + xi].a.n > 0;
        if (any)
            ids[n_ids++] = id;
    }
    nl_buf_printf(&data, "series,label,mode,batch_size,mean,min,max,n\n");
    for (int k = 0; k < n_ids; k++)
        for (int mode = 0; mode < 2; mode++)
            for (int xi = 0; xi < nx; xi++) {
                const cell_agg *c = mode ? &train[ids[k] * nx + xi] : &eval[ids[k] * nx + xi];
                char l[256], a[32], b[32], d[32];
                if (c->a.n)
                    nl_buf_printf(&data, "%d,%s,%s,%g,%s,%s,%s,%d\n", k, cell(g.labels[ids[k]], l, sizeof l),
                                  mode ? "train" : "eval", xs[xi], num(a, sizeof a, agg_mean(&c->a)),
                                  num(b, sizeof b, c->a.min), num(d, sizeof d, c->a.max), c->a.n);
            }
    char file[128];
    snprintf(file, sizeof file, "%s.csv", s->name);
    if ((rc = pl_write_data(s, file, &data, err)))
        goto done;
    const char *title = "Batch norm: test accuracy in eval mode (running statistics) vs train mode (batch statistics)";
    const int width = 1150, height = 680;
    pl_header(s, title, width, height);
    layout L = title_block(s, r, title, width, height);
    margins(s, 0.08, 0.70, 90.0 / height, L.top);
    double used_x[MAX_VALUES];
    int n_used = 0;
    for (int xi = 0; xi < nx; xi++) {
        bool any = false;
        for (int k = 0; k < n_ids; k++)
            any |= eval[ids[k] * nx + xi].a.n > 0;
        if (any)
            used_x[n_used++] = xs[xi];
    }
    batch_tics(s, used_x, n_used);
    nl_buf_printf(&s->gp, "set xlabel \"batch size (samples per step, log2 scale)\"\n"
                  "set ylabel \"final test accuracy (%%)\"\n");
    key_outside(s);
    {
        char foot[1300], spread[128];
        spread_note(r, "bars", spread, sizeof spread);
        join_notes(foot, sizeof foot, spread, "train mode normalizes each test batch with its own statistics");
        footnote(s, &L, foot);
    }
    nl_buf_printf(&s->gp, "plot ");
    int gap_drawn = 0;
    for (int k = 0; k < n_ids; k++) {
        const char *color = n_ids == 1 ? "#1f77b4" : pl_color(g.labels[ids[k]], k);
        for (int mode = 0; mode < 2; mode++) {
            char label[400];
            snprintf(label, sizeof label, "%s%s%s", n_ids > 1 || g.n_keys ? g.labels[ids[k]] : "",
                     n_ids > 1 || g.n_keys ? ": " : "", mode ? "train mode (batch statistics)" : "eval mode (running statistics)");
            const double offset = 0.03 * (2 * k + mode - (2 * n_ids - 1) / 2.0);
            bool any = false;
            for (int xi = 0; xi < nx; xi++)
                any |= (mode ? train : eval)[ids[k] * nx + xi].a.n > 0;
            if (!any)
                continue;
            nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"series\") == %d && strcol(\"mode\") eq \"%s\" ? "
                          "column(\"batch_size\")*2**(%.4f) : NaN):(column(\"mean\")):(column(\"min\")):(column(\"max\")) "
                          "with yerrorlines lw 2 %s pt %d ps 1.1 lc rgb \"%s\" title %s",
                          gap_drawn++ ? ", \\\n  " : "", file, k, mode ? "train" : "eval", offset,
                          mode ? "dt 2" : "dt 1", mode ? 6 : 7, color, pl_q(label, q, sizeof q));
        }
    }
    nl_buf_printf(&s->gp, "\n");
    rc = pl_finish(s, err);
done:
    free(use);
    free(eval);
    free(train);
    nl_buf_free(&data);
    ungroup(&g);
    return rc;
}

/* ---- 6. activation trace (Ioffe & Szegedy, Fig. 1 b, c) ---- */

#define MAX_PERCENTILES 16

nl_code pl_trace(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    (void)spec;
    char q[2048];
    grouping g;
    nl_code rc = group(r, NULL, 0, &g, err);
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
    for (int i = 0; i < r->n_runs; i++) {
        const int id = g.group_of[i];
        char path[1300];
        snprintf(path, sizeof path, "%s/trace.csv", r->runs[i].dir);
        if (id < 0 || !nl_path_exists(path) || !strcmp(r->runs[i].status, "pending"))
            continue;
        pl_table t;
        if ((rc = pl_table_read(path, &t, err)))
            goto done;
        if (n_cols == 0)
            for (int c = 1; c < t.n_cols && n_cols < MAX_PERCENTILES; c++)
                nl_copy_string(cols[n_cols++], sizeof cols[0], t.header[c]);
        const int c_step = pl_table_col(&t, "step");
        for (int row = 0; row < t.n_rows && c_step >= 0; row++) {
            const double step = pl_num(t.rows[row][c_step]);
            for (int p = 0; p < n_cols; p++) {
                const int c = pl_table_col(&t, cols[p]);
                curve_point *pt = c >= 0 && isfinite(step) ? curve_at(&curves[id * MAX_PERCENTILES + p], step, 0) : NULL;
                if (pt)
                    agg_add(&pt->a, pl_num(t.rows[row][c]));
            }
        }
        pl_table_free(&t);
        traced++;
        traced_variant[id] = true;
    }
    if (!traced || n_cols == 0) {
        rc = not_applicable(err, "trace", "no run has a trace.csv (set train.trace.activation)");
        goto done;
    }
    int ids[MAX_SERIES], n_ids = 0;
    for (int id = 0; id < g.n; id++)
        if (traced_variant[id] && n_ids < 12)
            ids[n_ids++] = id;
    double lo = INFINITY, hi = -INFINITY, last_step = 0;
    nl_buf_printf(&data, "variant,label,step");
    for (int p = 0; p < n_cols; p++)
        nl_buf_printf(&data, ",%s", cols[p]);
    nl_buf_printf(&data, "\n");
    for (int k = 0; k < n_ids; k++) {
        curve *c0 = &curves[ids[k] * MAX_PERCENTILES];
        for (int p = 0; p < n_cols; p++)
            sort_curve(&c0[p]);
        for (int j = 0; j < c0[0].n; j++) {
            char l[256], a[32];
            nl_buf_printf(&data, "%d,%s,%.0f", k, cell(g.labels[ids[k]], l, sizeof l), c0[0].p[j].step);
            last_step = fmax(last_step, c0[0].p[j].step);
            for (int p = 0; p < n_cols; p++) {
                const double v = j < c0[p].n ? agg_mean(&c0[p].p[j].a) : NAN;
                if (isfinite(v)) {
                    lo = fmin(lo, v);
                    hi = fmax(hi, v);
                }
                nl_buf_printf(&data, ",%s", num(a, sizeof a, v));
            }
            nl_buf_printf(&data, "\n");
        }
    }
    char file[128];
    snprintf(file, sizeof file, "%s.csv", s->name);
    if (r->sweep && (rc = pl_write_data(s, file, &data, err)))
        goto done;
    const char *act = nl_flat_get(&r->config, "train.trace.activation");
    const char *unit = nl_flat_get(&r->config, "train.trace.unit");
    char title[512];
    snprintf(title, sizeof title, "Activation percentiles over training%s%s%s%s%s", act ? ": " : "",
             act ? act : "", unit ? ", unit " : "", unit ? unit : "",
             r->seed_key >= 0 ? " (mean over seeds)" : "");
    const int cols_n = n_ids < 3 ? n_ids : 3, rows = (n_ids + cols_n - 1) / cols_n;
    const int width = 200 + 460 * cols_n, height = 200 + 380 * rows;
    pl_header(s, title, width, height);
    layout L = title_block(s, r, title, width, height);
    const double pad = (hi - lo) * 0.08 + 1e-6;
    char ylabel[160];
    snprintf(ylabel, sizeof ylabel, "value of %s (over %s test samples)", act ? act : "the activation",
             nl_flat_get(&r->config, "train.trace.samples") ? nl_flat_get(&r->config, "train.trace.samples") : "the");
    nl_buf_printf(&s->gp, "set multiplot\nset xlabel \"step (optimizer updates)\"\n"
                          "set format x \"%%.0s%%c\"\nset ylabel %s\n", pl_q(ylabel, q, sizeof q));
    nl_buf_printf(&s->gp,
                  "set yrange [%g:%g]\nset xrange [0:%g]\n", lo - pad, hi + pad,
                  last_step > 0 ? last_step : 1);
    if (n_ids < g.n) {
        char foot[160];
        snprintf(foot, sizeof foot, "showing the first %d of %d variants", n_ids, g.n);
        footnote(s, &L, foot);
    }
    static const char *const shades[] = {"#4292c6", "#6baed6", "#2171b5", "#9ecae1", "#08519c", "#c6dbef"};
    for (int k = 0; k < n_ids; k++) {
        panel(s, &L, k / cols_n, k % cols_n, rows, cols_n, 0.08, 0.98, 105.0 / height, L.top - 26.0 / height,
              90, 110);
        bool all_diverged = true;
        for (int i = 0; i < r->n_runs; i++)
            if (g.group_of[i] == ids[k] && strcmp(r->runs[i].status, "diverged"))
                all_diverged = false;
        char ptitle[320];
        snprintf(ptitle, sizeof ptitle, "%s%s", g.n_keys ? g.labels[ids[k]] : r->runs[0].name,
                 all_diverged ? " (diverged)" : "");
        nl_buf_printf(&s->gp, "unset key\nset title %s\nplot ", pl_q(ptitle, q, sizeof q));
        for (int p = 0; p < n_cols; p++) {
            /* the median dark and solid, the outer percentiles lighter */
            const bool middle = n_cols % 2 == 1 && p == n_cols / 2;
            const char *color = middle ? "#08306b" : shades[(p < n_cols / 2 ? p : n_cols - 1 - p) % 6];
            if (!r->sweep)
                nl_buf_printf(&s->gp, "%s\"../trace.csv\" using (column(\"step\")):(column(\"%s\")) with linespoints "
                              "pt 7 ps 0.3 lw %s %s lc rgb \"%s\" title \"%sth percentile\"", p ? ", \\\n  " : "", cols[p],
                              middle ? "2.5" : "1.8", middle ? "dt 1" : "dt 2", color, cols[p][0] == 'p' ? cols[p] + 1 : cols[p]);
            else
                nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"variant\") == %d ? column(\"step\") : NaN):"
                              "(column(\"%s\")) with linespoints pt 7 ps 0.3 lw %s %s lc rgb \"%s\" title \"%sth percentile\"",
                              p ? ", \\\n  " : "", file, k, cols[p], middle ? "2.5" : "1.8", middle ? "dt 1" : "dt 2",
                              color, cols[p][0] == 'p' ? cols[p] + 1 : cols[p]);
        }
        nl_buf_printf(&s->gp, "\n");
        if (k == 0)
            after_first_plot(s);
    }
    /* one legend for all panels: a plot of its own, a row across the bottom
     * (a panel's own key cannot be wider than the panel) */
    nl_buf_printf(&s->gp, "unset title\nunset xlabel\nunset ylabel\nunset border\nunset tics\nunset grid\n"
                  "set xrange [0:1]\nset yrange [0:1]\nunset logscale\n"
                  "set key center center horizontal maxrows 1 nobox noopaque\n");
    margins(s, 0.08, 0.98, 0.0, 45.0 / height);
    nl_buf_printf(&s->gp, "plot ");
    for (int p = 0; p < n_cols; p++) {
        const bool middle = n_cols % 2 == 1 && p == n_cols / 2;
        nl_buf_printf(&s->gp, "%sNaN with linespoints pt 7 ps 0.3 lw %s %s lc rgb \"%s\" title \"%sth percentile\"",
                      p ? ", " : "", middle ? "2.5" : "1.8", middle ? "dt 1" : "dt 2",
                      middle ? "#08306b" : shades[(p < n_cols / 2 ? p : n_cols - 1 - p) % 6],
                      cols[p][0] == 'p' ? cols[p] + 1 : cols[p]);
    }
    nl_buf_printf(&s->gp, "\nunset multiplot\n");
    rc = pl_finish(s, err);
done:
    if (curves)
        for (int i = 0; i < MAX_SERIES * MAX_PERCENTILES; i++)
            free(curves[i].p);
    free(curves);
    nl_buf_free(&data);
    ungroup(&g);
    return rc;
}
