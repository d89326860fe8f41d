/* The helpers the plot kinds share (see common.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/ident.h"
#include "base/grow.h"
#include "plot/common.h"
#include "results/files.h"
#include "results/run_result.h"
#include "results/series.h"
#include "results/store.h"
#include "results/summary_keys.h"

/* ---- small helpers ---- */

void pl_agg_init(agg *a)
{
    a->sum = 0;
    a->min = INFINITY;
    a->max = -INFINITY;
    a->n = 0;
}

void pl_agg_add(agg *a, double v)
{
    if (!isfinite(v))
        return;
    a->sum += v;
    a->min = fmin(a->min, v);
    a->max = fmax(a->max, v);
    a->n++;
}

double pl_agg_mean(const agg *a) { return a->n ? a->sum / a->n : NAN; }

const char *pl_fmt_num(char *buf, size_t size, double v)
{
    if (!isfinite(v))
        snprintf(buf, size, "NaN");
    else
        snprintf(buf, size, "%.6g", v);
    return buf;
}

int pl_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* distinct numeric values of key over the runs `use` selects, sorted */
int pl_numeric_values(const nl_results *r, int key, const bool *use, double *out, int max)
{
    int n = 0;
    for (int i = 0; i < r->n_runs; i++) {
        if (use && !use[i])
            continue;
        const double v = nl_csv_num(r->runs[i].values[key]);
        if (!isfinite(v))
            continue;
        bool seen = false;
        for (int j = 0; j < n && !seen; j++)
            seen = out[j] == v;
        if (!seen && n < max)
            out[n++] = v;
    }
    qsort(out, (size_t)n, sizeof *out, pl_cmp_double);
    return n;
}

int pl_value_index(const double *values, int n, double v)
{
    for (int i = 0; i < n; i++)
        if (values[i] == v)
            return i;
    return -1;
}

/* ---- metrics ---- */

metric_info pl_final_metric(const nl_plot_spec *spec)
{
    const char *m = spec->metric[0] ? spec->metric : "test_error";
    if (!strcmp(m, "test_loss"))
        return (metric_info){NL_RESULTS_M_TEST_LOSS, m, "final test loss (cross-entropy, nats)", "test loss", 1, false, true};
    if (!strcmp(m, "test_accuracy"))
        return (metric_info){NL_RESULTS_M_TEST_ACC, m, "final test accuracy (%)", "test accuracy", 100, true, false};
    if (!strcmp(m, NL_SUMMARY_BEST_TEST_ACCURACY))
        return (metric_info){NL_RESULTS_M_BEST_ACC, m, "best test accuracy (%)", "best test accuracy", 100, true, false};
    if (!strcmp(m, "train_loss"))
        return (metric_info){NL_RESULTS_M_TRAIN_LOSS, m, "final training loss (cross-entropy, nats)", "training loss", 1, false, true};
    return (metric_info){NL_RESULTS_M_TEST_ERR, "test_error", "final test error (%)", "test error", 100, false, false};
}

/* ---- layout ---- */

/* breaks the lines of `text` that are wider than `max_chars` after a
 * separator (" | " or ", "), so a narrow figure does not clip its subtitle;
 * returns the number of lines */
static int wrap_lines(char *text, size_t size, int max_chars)
{
    char out[1024];
    size_t k = 0;
    int lines = 1, col = 0;
    for (const char *p = text; *p && k + 2 < sizeof out; p++) {
        if (*p == '\n') {
            out[k++] = '\n';
            lines++;
            col = 0;
            continue;
        }
        /* before a separator: does the next part still fit on this line? */
        const bool bar = !strncmp(p, " | ", 3), comma = !strncmp(p, ", ", 2);
        if ((bar || comma) && col > 0) {
            const char *next = p + (bar ? 3 : 2);
            const int part = (int)strcspn(next, "|,\n");
            if (col + (bar ? 3 : 1) + part > max_chars) {
                if (comma)
                    out[k++] = ',';
                out[k++] = '\n';
                lines++;
                col = 0;
                p = next - 1;
                continue;
            }
        }
        out[k++] = *p;
        col++;
    }
    out[k] = '\0';
    nl_copy_string(text, size, out);
    return lines;
}

layout pl_title_block(pl_script *s, const nl_results *r, const char *title, int width, int height)
{
    char sub[1024], q[2200];
    pl_subtitle(r, sub, sizeof sub);
    if (r->n_warnings) {
        /* the figure says it is missing rows: the first file and line, by
         * its path inside the results directory */
        char first[600];
        const size_t dir_len = strlen(r->dir);
        const char *w = !strncmp(r->warnings, r->dir, dir_len) && r->warnings[dir_len] == '/'
                            ? r->warnings + dir_len + 1 : r->warnings;
        snprintf(first, sizeof first, "%.*s", (int)strcspn(w, ":\n"), w); /* "PATH line N" */
        const size_t used = strlen(sub);
        snprintf(sub + used, sizeof sub - used, "\nwarning: %d cut-short or malformed CSV line%s left out (%s%s)",
                 r->n_warnings, r->n_warnings == 1 ? "" : "s", first, r->n_warnings > 1 ? ", ..." : "");
    }
    /* about 7 px a character at the subtitle's font */
    const int lines = wrap_lines(sub, sizeof sub, (width - 30) / 7);
    nl_buf *b = &s->gp;
    nl_buf_printf(b, "set label 101 %s at screen 0.5, screen %.4f center font title_font\n",
                  pl_q(title, q, sizeof q), 1.0 - 22.0 / height);
    nl_buf_printf(b, "set label 102 %s at screen 0.5, screen %.4f center font subtitle_font tc rgb subtitle_color\n",
                  pl_q(sub, q, sizeof q), 1.0 - (46.0 + 8.0 * (lines > 1)) / height);
    layout L = {width, height, 1.0 - (64.0 + 16.0 * lines) / height};
    return L;
}

/* the titles are drawn with the first panel only */
void pl_after_first_plot(pl_script *s) { nl_buf_printf(&s->gp, "unset label 101\nunset label 102\n"); }

void pl_after_panel(pl_script *s, int panel)
{
    if (panel == 0)
        pl_after_first_plot(s);
}

void pl_panel_key(pl_script *s, int panel)
{
    if (panel == 0)
        pl_key_outside(s);
    else
        nl_buf_printf(&s->gp, "unset key\n");
}

nl_code pl_finish_panels(pl_script *s, nl_error *err)
{
    nl_buf_printf(&s->gp, "unset multiplot\n");
    return pl_finish(s, err);
}

void pl_margins(pl_script *s, double l, double r, double b, double t)
{
    nl_buf_printf(&s->gp, "set lmargin at screen %.4f\nset rmargin at screen %.4f\n"
                          "set bmargin at screen %.4f\nset tmargin at screen %.4f\n", l, r, b, t);
}

/* panel (row, col) of a rows x cols grid inside [l, r] x [b, t]; gaps in pixels */
void pl_panel(pl_script *s, const layout *L, int row, int col, int rows, int cols, double l, double r,
                  double b, double t, double hgap_px, double vgap_px)
{
    const double hgap = hgap_px / L->width, vgap = vgap_px / L->height;
    const double w = (r - l - (cols - 1) * hgap) / cols, h = (t - b - (rows - 1) * vgap) / rows;
    const double x0 = l + col * (w + hgap), y1 = t - row * (h + vgap);
    pl_margins(s, x0, x0 + w, y1 - h, y1);
}

layout pl_open_bars_plot(pl_script *s, const nl_results *r, const char *title, int width,
                         int height)
{
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    char foot[1300];
    pl_spread_note(r, "bars", foot, sizeof foot);
    pl_footnote(s, &L, foot);
    return L;
}

void pl_plot_variants(pl_script *s, const grouping *g, const char *file, const char *where,
                      const char *x_column, const char *y)
{
    char q[2048];
    nl_buf_printf(&s->gp, "plot ");
    for (int id = 0; id < g->n; id++)
        nl_buf_printf(&s->gp, "%s\"%s\" using (%scolumn(\"variant\") == %d ? column(\"%s\") : NaN):"
                      "%s lw series_lw pt series_pt ps series_ps lc rgb \"%s\" title %s",
                      id ? ", \\\n  " : "", file, where, id, x_column, y, pl_color_of(g, id),
                      pl_q(g->labels[id], q, sizeof q));
    nl_buf_printf(&s->gp, "\n");
}

void pl_plot_variants_with_bars(pl_script *s, const grouping *g, const char *file,
                                const char *x_column)
{
    pl_plot_variants(s, g, file, "", x_column, PL_Y_WITH_BARS);
}

void pl_footnote(pl_script *s, const layout *L, const char *text)
{
    char q[1200];
    if (text[0])
        nl_buf_printf(&s->gp, "set label 103 %s at screen 0.01, screen %.4f left font footnote_font tc rgb footnote_color\n",
                      pl_q(text, q, sizeof q), 10.0 / L->height);
}

/* the legend to the right of the plot, entries left-aligned with their samples first */
void pl_key_outside(pl_script *s)
{
    nl_buf_printf(&s->gp, "set key outside right top Left reverse nobox noopaque width 1 spacing 1.2\n");
}

double pl_loss_floor(double lo, double hi, double margin)
{
    /* 0 in view costs little where the data come near it (a classifier's
     * loss falling toward 0): the axis keeps it */
    if (!isfinite(lo) || !isfinite(hi) || lo < 0.2 * hi)
        return 0;
    const double span = hi > lo ? hi - lo : 0.1 * fabs(hi);
    return fmax(0, lo - margin * span);
}

/* "points: mean over 3 seeds; bars: min to max" */
void pl_spread_note(const nl_results *r, const char *what, char *buf, size_t size)
{
    if (r->seed_key < 0) {
        buf[0] = '\0';
        return;
    }
    const char *seeds[1024];
    snprintf(buf, size, "%s: mean over %d seeds; %s: min to max", !strcmp(what, "bands") ? "lines" : "points",
             nl_results_distinct(r, r->seed_key, seeds, 1024), what);
}

void pl_error_bar_note(const nl_results *r, char *buf, size_t size)
{
    char div_note[1024], spread[128];
    pl_diverged_note(r, NULL, div_note, sizeof div_note);
    pl_spread_note(r, "bars", spread, sizeof spread);
    pl_join_notes(buf, size, spread, div_note);
}

void pl_join_notes(char *out, size_t size, const char *a, const char *b)
{
    snprintf(out, size, "%s%s%s", a, a[0] && b[0] ? ". " : "", b);
}

void pl_append_note(char *foot, size_t size, const char *more)
{
    const size_t used = strlen(foot);
    if (used < size)
        snprintf(foot + used, size - used, "%s%s", foot[0] && more[0] ? ". " : "", more);
}

void pl_note_undrawn(pl_script *s, char *foot, size_t size, const char *more)
{
    pl_append_note(foot, size, more);
    snprintf(s->note, sizeof s->note, "%s: %s", s->name, more);
}

/* final metrics exist for finished runs only: how many others (of those
 * `use` selects) were left out goes into the footnote and onto stdout */
int pl_unfinished_phases(const nl_results *r, const bool *use, char *stand, size_t size)
{
    int phases[NL_PHASE_COUNT] = {0}, n = 0;
    for (int i = 0; i < r->n_runs; i++)
        if ((!use || use[i]) && !nl_results_run_finished(&r->runs[i])) {
            phases[nl_run_phase_read(r->runs[i].dir)]++;
            n++;
        }
    nl_run_phases_text(phases, stand, size);
    return n;
}

void pl_unfinished_left_out(const nl_results *r, const bool *use, pl_script *s, char *foot, size_t size)
{
    char stand[200];
    const int n = pl_unfinished_phases(r, use, stand, sizeof stand);
    if (n == 0)
        return;
    char what[300];
    snprintf(what, sizeof what, "%d unfinished run%s left out (%s)", n, n == 1 ? "" : "s", stand);
    pl_append_note(foot, size, what);
    const size_t used = strlen(s->note);
    snprintf(s->note + used, sizeof s->note - used, "%s%s: %s", used ? "\n" : "", s->name, what);
}

nl_code pl_not_applicable(nl_error *err, const char *kind, const char *why)
{
    return nl_fail(err, NL_ERR_USAGE, "%s: %s", kind, why);
}

/* log2 x tics at the batch sizes */
void pl_batch_tics(pl_script *s, const double *values, int n)
{
    nl_buf_printf(&s->gp, "set logscale x 2\nset xtics (");
    for (int i = 0; i < n; i++)
        nl_buf_printf(&s->gp, "%s\"%g\" %g", i ? ", " : "", values[i], values[i]);
    nl_buf_printf(&s->gp, ")\nset xrange [%g:%g]\n", values[0] / 1.45, values[n - 1] * 1.45);
}

void pl_lr_tics(pl_script *s, const double *values, int n)
{
    nl_buf_printf(&s->gp, "set logscale x 10\nset xtics (");
    for (int i = 0; i < n; i++)
        nl_buf_printf(&s->gp, "%s\"%g\" %g", i ? ", " : "", values[i], values[i]);
    nl_buf_printf(&s->gp, ")\nset xrange [%g:%g]\n", values[0] / 1.6, values[n - 1] * 1.6);
}

/* a step count as a tick label: exact, shortened with k or M (1500 is
 * "1.5k"; gnuplot's "%.0s%c" would print "2k") */
static const char *step_label(double v, char *buf, size_t size)
{
    if (v >= 1e6)
        snprintf(buf, size, "%gM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, size, "%gk", v / 1e3);
    else
        snprintf(buf, size, "%g", v);
    return buf;
}

/* step-axis tics at a round interval (1, 2 or 5 times a power of ten), at
 * most 8 of them so a narrow panel's labels stay apart. With `extend`, the
 * axis runs from 0 to the first tic at or past x_max (as gnuplot's own
 * autoscaling does); returns where the axis ends. */
/* the round interval (1, 2 or 5 times a power of ten) at or above raw > 0 */
static double round_interval(double raw)
{
    const double mag = pow(10, floor(log10(raw)));
    return raw <= mag ? mag : raw <= 2 * mag ? 2 * mag : raw <= 5 * mag ? 5 * mag : 10 * mag;
}

double pl_step_tics(pl_script *s, double x_max, bool extend)
{
    if (!(x_max > 0))
        x_max = 1;
    double interval = round_interval(x_max / 7);
    if (interval < 1)
        interval = 1;
    const double end = extend ? ceil(x_max / interval - 1e-9) * interval : x_max;
    nl_buf_printf(&s->gp, "set xtics (");
    for (int i = 0; i * interval <= end * (1 + 1e-9); i++) {
        char l[32];
        nl_buf_printf(&s->gp, "%s\"%s\" %.10g", i ? ", " : "", step_label(i * interval, l, sizeof l), i * interval);
    }
    nl_buf_printf(&s->gp, ")\n");
    if (extend)
        nl_buf_printf(&s->gp, "set xrange [0:%.10g]\n", end);
    return end;
}

/* the labelled ticks of a log axis over [lo, hi] where the decades give
 * fewer than 3: 1-2-5, 1-2-3-5-7 or every digit within each decade, the
 * first set that gives 3 to 12, else round linear values (an axis under a
 * factor of about 2.5); 0 where the decades give 3 or more (gnuplot's own
 * are then right). The page's logTicks (report.js) is the same rule. */
static int log_tick_values(double lo, double hi, double *out, int max)
{
    static const double digits[][9] = {{1}, {1, 2, 5}, {1, 2, 3, 5, 7}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int n_digits[] = {1, 3, 5, 9};
    for (size_t set = 0; set < sizeof n_digits / sizeof n_digits[0]; set++) {
        int n = 0;
        for (int d = (int)floor(log10(lo)); d <= (int)ceil(log10(hi)); d++)
            for (int k = 0; k < n_digits[set]; k++) {
                const double t = digits[set][k] * pow(10, d);
                if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9) && n < max)
                    out[n++] = t;
            }
        if (set == 0 && n >= 3)
            return 0;
        if (n >= 3 && n <= 12)
            return n;
    }
    const double interval = round_interval((hi - lo) / 4);
    int n = 0;
    for (double t = ceil(lo / interval) * interval; t <= hi * (1 + 1e-9) && n < max; t += interval)
        out[n++] = round(t / interval) * interval;
    return n;
}

/* gnuplot's own ticks on axis again, where an earlier panel's log axis
 * gave it explicit ones (only there: every other script stays as it was) */
static void own_tics(pl_script *s, char axis)
{
    const unsigned bit = axis == 'x' ? 1u : 2u;
    if (s->explicit_tics & bit)
        nl_buf_printf(&s->gp, "set %ctics autofreq\n", axis);
    s->explicit_tics &= ~bit;
}

void pl_log_axis(pl_script *s, char axis, double lo, double hi)
{
    nl_buf_printf(&s->gp, "set logscale %c 10\nset %crange [%g:%g]\n", axis, axis, lo, hi);
    double ticks[16];
    const int n = lo > 0 && hi > lo ? log_tick_values(lo, hi, ticks, 16) : 0;
    if (n == 0) {
        own_tics(s, axis);
        nl_buf_printf(&s->gp, "set format %c \"%%g\"\n", axis);
        s->log_format |= axis == 'x' ? 1u : 2u;
        return;
    }
    nl_buf_printf(&s->gp, "set %ctics (", axis);
    for (int i = 0; i < n; i++)
        nl_buf_printf(&s->gp, "%s\"%.6g\" %.10g", i ? ", " : "", ticks[i], ticks[i]);
    nl_buf_printf(&s->gp, ")\n");
    s->explicit_tics |= axis == 'x' ? 1u : 2u;
}

void pl_linear_axis(pl_script *s, char axis)
{
    nl_buf_printf(&s->gp, "unset logscale %c\n", axis);
    own_tics(s, axis);
    const unsigned bit = axis == 'x' ? 1u : 2u;
    if (s->log_format & bit)
        nl_buf_printf(&s->gp, "set format %c \"%% h\"\n", axis);
    s->log_format &= ~bit;
}

/* groups of runs for a plot: ids, labels, colors, the runs of each */

nl_code pl_group_runs(const nl_results *r, const int *fixed, int n_fixed, grouping *g, nl_error *err)
{
    return pl_group_runs_by(r, -1, fixed, n_fixed, g, err);
}

nl_code pl_group_runs_by(const nl_results *r, int first, const int *fixed, int n_fixed, grouping *g, nl_error *err)
{
    memset(g, 0, sizeof *g);
    if (first >= 0)
        g->keys[g->n_keys++] = first;
    g->n_keys += nl_results_group_keys(r, fixed, n_fixed, g->keys + g->n_keys);
    g->group_of = malloc((size_t)(r->n_runs + 1) * sizeof *g->group_of);
    g->labels = calloc(MAX_SERIES, sizeof *g->labels);
    if (!g->group_of || !g->labels)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    g->n = nl_results_groups(r, g->keys, g->n_keys, g->group_of, g->labels, MAX_SERIES);
    return NL_OK;
}

nl_code pl_group_by_color(const nl_results *r, const char *kind, const char *color,
                          const int *fixed, int n_fixed, grouping *g, nl_error *err)
{
    if (!color[0])
        return pl_group_runs(r, fixed, n_fixed, g, err);
    const int key = nl_results_key(r, color);
    if (key < 0) {
        char why[400];
        snprintf(why, sizeof why, "color: '%s' does not vary in these runs", color);
        memset(g, 0, sizeof *g);
        return pl_not_applicable(err, kind, why);
    }
    /* every key fixed: the colour key alone tells the series apart */
    int all[256], n_all = 0;
    for (int k = 0; k < r->n_keys && n_all < 256; k++)
        all[n_all++] = k;
    return pl_group_runs_by(r, key, all, n_all, g, err);
}

void pl_ungroup(grouping *g)
{
    free(g->group_of);
    free(g->labels);
    memset(g, 0, sizeof *g);
}

const char *pl_color_of(const grouping *g, int id) { return pl_color(g->labels[id], id); }

static int layer_slot(char (*names)[NL_SERIES_NAME_MAX], int *n, int max, const char *name, int before, bool add)
{
    for (int k = 0; k < *n; k++)
        if (!strcmp(names[k], name))
            return k;
    if (!add || *n >= max)
        return -1;
    const int slot = before + 1;
    memmove(names[slot + 1], names[slot], (size_t)(*n - slot) * sizeof names[0]);
    nl_copy_string(names[slot], sizeof names[slot], name);
    (*n)++;
    return slot;
}

int pl_layer_slot(char (*names)[NL_SERIES_NAME_MAX], int *n, int max, const char *name, int *before, bool add)
{
    char kept[NL_SERIES_NAME_MAX];
    nl_copy_string(kept, sizeof kept, name);
    const int slot = layer_slot(names, n, max, kept, *before, add);
    *before = slot >= 0 ? slot : *before;
    return slot;
}

/* "2 diverged runs left out of the means: ..." */
void pl_diverged_note(const nl_results *r, const bool *use, char *buf, size_t size)
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

curve_point *pl_curve_at(curve *c, double step, double epoch)
{
    for (int i = c->n - 1; i >= 0; i--)
        if (c->p[i].step == step)
            return &c->p[i];
    curve_point *p = nl_grow(c->p, c->n, &c->cap, sizeof *p, 128);
    if (!p)
        return NULL;
    c->p = p;
    curve_point *pt = &c->p[c->n++];
    pt->step = step;
    pt->epoch = epoch;
    pl_agg_init(&pt->a);
    return pt;
}

void pl_curves_free(curve *c, int n)
{
    for (int i = 0; c && i < n; i++)
        free(c[i].p);
    free(c);
}

nl_code pl_curve_add(curve *c, double step, double value, nl_error *err)
{
    curve_point *pt = pl_curve_at(c, step, 0);
    if (!pt)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    pl_agg_add(&pt->a, value);
    return NL_OK;
}

int pl_cmp_point(const void *a, const void *b)
{
    return pl_cmp_double(&((const curve_point *)a)->step, &((const curve_point *)b)->step);
}

void pl_sort_curve(curve *c)
{
    /* an empty curve has no array at all, and qsort must not be given a
     * null pointer even for zero items */
    if (c->n > 0)
        qsort(c->p, (size_t)c->n, sizeof *c->p, pl_cmp_point);
}

bool pl_curve_rows(curve *c, const char *lead, nl_buf *data, pl_span *span)
{
    bool any = false;
    pl_sort_curve(c);
    for (int j = 0; j < c->n; j++) {
        const agg *a = &c->p[j].a;
        char m[32], mn[32], mx[32];
        if (!a->n)
            continue;
        any = true;
        span->lo = fmin(span->lo, a->min);
        span->hi = fmax(span->hi, a->max);
        span->last_step = fmax(span->last_step, c->p[j].step);
        nl_buf_printf(data, "%s%.0f,%s,%s,%s,%d\n", lead, c->p[j].step,
                      pl_fmt_num(m, sizeof m, pl_agg_mean(a)), pl_fmt_num(mn, sizeof mn, a->min),
                      pl_fmt_num(mx, sizeof mx, a->max), a->n);
    }
    return any;
}

/* ---- final metrics per (series, x value) ---- */

/* aggregates metric m of the finished runs by series id and x index */
void pl_aggregate(const nl_results *r, const grouping *g, int x_key, const double *xs, int nx,
                      const metric_info *m, const bool *use, cell_agg *cells)
{
    for (int i = 0; i < g->n * nx; i++) {
        pl_agg_init(&cells[i].a);
        cells[i].diverged = cells[i].runs = 0;
    }
    for (int i = 0; i < r->n_runs; i++) {
        const nl_results_run *run = &r->runs[i];
        const int id = g->group_of[i];
        const int xi = pl_value_index(xs, nx, nl_csv_num(run->values[x_key]));
        if (id < 0 || xi < 0 || (use && !use[i]) || !nl_results_run_finished(run))
            continue;
        cell_agg *c = &cells[id * nx + xi];
        c->runs++;
        if (!strcmp(run->status, "diverged"))
            c->diverged++;
        else
            pl_agg_add(&c->a, m->scale * run->m[m->index]);
    }
}

nl_code pl_need_varied(const nl_results *r, const char *kind, const char *key, int *k_out, double *xs,
                           int *nx, nl_error *err)
{
    char why[1400];
    const int k = nl_results_key(r, key);
    if (!r->sweep) {
        snprintf(why, sizeof why, "needs a sweep directory (summary.csv) where %s varies; %s is a single run",
                 key, r->dir);
        return pl_not_applicable(err, kind, why);
    }
    *nx = k >= 0 ? pl_numeric_values(r, k, NULL, xs, MAX_VALUES) : 0;
    if (k < 0 || *nx < 2) {
        snprintf(why, sizeof why, "%s does not vary in this sweep", key);
        return pl_not_applicable(err, kind, why);
    }
    *k_out = k;
    return NL_OK;
}

nl_code pl_series_read(const nl_results_run *run, pl_series_file *f, nl_error *err)
{
    memset(f, 0, sizeof *f);
    char path[1300];
    snprintf(path, sizeof path, "%s/" NL_RUN_SERIES_FILE, run->dir);
    if (!nl_run_file_exists(run->dir, NL_RUN_SERIES_FILE))
        return NL_OK;
    nl_code rc = nl_run_csv_read(run->dir, NL_RUN_SERIES_FILE, &f->t, err);
    if (rc)
        return rc;
    f->step = nl_series_col(&f->t, NL_SERIES_COL_STEP);
    f->series = nl_series_col(&f->t, NL_SERIES_COL_SERIES);
    f->layer = nl_series_col(&f->t, NL_SERIES_COL_LAYER);
    f->name = nl_series_col(&f->t, NL_SERIES_COL_NAME);
    f->value = nl_series_col(&f->t, NL_SERIES_COL_VALUE);
    f->found = f->step >= 0 && f->series >= 0 && f->layer >= 0 && f->name >= 0 && f->value >= 0;
    return NL_OK;
}

void pl_series_free(pl_series_file *f)
{
    nl_csv_table_free(&f->t);
    memset(f, 0, sizeof *f);
}

nl_code pl_series_each(const nl_results *r, const grouping *g, int passes, pl_series_reader read, void *ctx,
                       const char *kind, const char *why, nl_error *err)
{
    nl_code rc = NL_OK;
    int runs = 0;
    for (int pass = 0; pass < passes; pass++)
        for (int i = 0; rc == NL_OK && i < r->n_runs; i++) {
            const int variant = g->group_of[i];
            pl_series_file file;
            if (variant < 0 || (rc = pl_series_read(&r->runs[i], &file, err)))
                continue;
            bool used = false;
            if (file.found)
                rc = read(ctx, &(pl_series_run){i, variant, pass, &file}, &used, err);
            runs += used;
            pl_series_free(&file);
        }
    return rc == NL_OK && runs == 0 ? pl_not_applicable(err, kind, why) : rc;
}
