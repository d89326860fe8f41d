/* The forest plot of a sweep's verdicts: plots/verdicts.gp, its data inline,
 * drawn with the plots' templates (plots/style.gp, plots/forest.gp). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot/script.h"
#include "results/files.h"
#include "verdict/forest.h"
#include "verdict/unit.h"

/* One wide claim (a rate in [0, 1] beside a loss difference of 0.01) would
 * squeeze every other interval to a dot on a shared axis: each row gets its
 * own, from just below to just above what it draws (interval, mean,
 * threshold, band), rounded outward to a step of its size, and is drawn
 * on 0..1 of it with its ends printed beside it, in the row's own unit
 * (verdict/unit.h): points for a difference of errors or accuracies (the
 * files' fractions times 100), nats, a ratio, % of seeds for a rate, and a
 * claim over cells on an axis of cells (its threshold every cell, where
 * the intersection-union test expects them all), never on the error's. */
typedef struct {
    nl_effect_unit u;
    double effect, lo, hi;   /* in the row's unit */
    double threshold, within; /* the expectation in it (NaN: none drawn; within: a band's half) */
    bool band;
} shown_row;

static shown_row shown_of(const nl_verdict *v)
{
    const nl_claim *c = v->claim;
    shown_row s = {.u = nl_effect_unit_of(v->method, c->metric.name, c)};
    const double k = s.u.kind == NL_UNIT_MEAN || s.u.kind == NL_UNIT_RATE ? s.u.scale : 1;
    s.effect = v->effect * k;
    s.lo = v->lo * k;
    s.hi = v->hi * k;
    if (s.u.kind == NL_UNIT_CELLS) {
        /* the claim's threshold is each cell's, in another unit: on the
         * axis of cells the intersection-union test expects every cell;
         * a count of cells is described and expects no number here */
        s.threshold = nl_method_is_iut(v->method) ? v->n : NAN;
        s.within = NAN;
        return s;
    }
    s.threshold = c->threshold * k;
    s.band = c->op == NL_EXPECT_WITHIN;
    s.within = s.band ? c->within * k : NAN;
    return s;
}

typedef struct {
    double lo, hi; /* the row's axis, in its unit */
} row_axis;

static row_axis axis_of(const shown_row *v)
{
    const double drawn[] = {v->effect, v->lo, v->hi, v->threshold,
                            v->band ? v->threshold - v->within : NAN,
                            v->band ? v->threshold + v->within : NAN};
    row_axis a = {INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof drawn / sizeof drawn[0]; i++)
        if (isfinite(drawn[i])) {
            a.lo = fmin(a.lo, drawn[i]);
            a.hi = fmax(a.hi, drawn[i]);
        }
    if (!isfinite(a.lo))
        return (row_axis){0, 1};
    double span = a.hi - a.lo;
    if (!(span > 0))
        span = fmax(fabs(a.hi) * 0.2, 1e-3);
    const double step = pow(10, floor(log10(span))) / 10;
    const double lo = floor((a.lo - 0.05 * span) / step) * step, hi = ceil((a.hi + 0.05 * span) / step) * step;
    /* "-0" reads as a value below zero */
    return (row_axis){lo == 0 ? 0 : lo, hi == 0 ? 0 : hi};
}

/* x on the row's axis, 0..1 (NaN stays NaN: gnuplot leaves it out) */
static double on_axis(row_axis a, double x)
{
    return (x - a.lo) / (a.hi - a.lo);
}

/* an end of a row's axis, its unit named: "-3.1 points", "12%", "5 cells" */
static const char *axis_end(const shown_row *s, double x, char *buf, size_t size)
{
    const char *unit = s->u.kind == NL_UNIT_COUNT ? "(count)" : s->u.unit;
    snprintf(buf, size, "%.4g%s%s", x == 0 ? 0 : x, unit[0] && unit[0] != '%' ? " " : "", unit);
    return buf;
}

/* a row of $claims: row, effect, lo, hi, threshold (each on its axis),
 * verdict, label (the claim, its unit, its verdict), the axis's ends as
 * text with their unit, and 0 on the axis where it lies inside (NaN
 * otherwise) */
static void claim_row(nl_buf *gp, const nl_verdict *v, int row)
{
    const shown_row s = shown_of(v);
    const row_axis a = axis_of(&s);
    char label[400], cell[400], lo_end[96], hi_end[96], lo_cell[96], hi_cell[96];
    snprintf(label, sizeof label, "%s%s%s (%s)", v->id, s.u.unit[0] ? ": " : "", s.u.unit,
             nl_verdict_kind_names[v->verdict]);
    const double lo = isnan(s.lo) ? s.effect : s.lo, hi = isnan(s.hi) ? s.effect : s.hi;
    nl_buf_printf(gp, "%d,%.6g,%.6g,%.6g,%.6g,%d,%s,", row, on_axis(a, s.effect), on_axis(a, lo), on_axis(a, hi),
                  on_axis(a, s.threshold), (int)v->verdict, pl_cell_text(label, cell, sizeof cell));
    nl_buf_printf(gp, "%s,", pl_cell_text(axis_end(&s, a.lo, lo_end, sizeof lo_end), lo_cell, sizeof lo_cell));
    nl_buf_printf(gp, "%s,%.6g\n", pl_cell_text(axis_end(&s, a.hi, hi_end, sizeof hi_end), hi_cell, sizeof hi_cell),
                  a.lo < 0 && a.hi > 0 ? on_axis(a, 0) : NAN);
}

nl_code nl_verdict_forest(const nl_verdict_report *r, const char *plots_dir, nl_plot_report *rep, nl_error *err)
{
    pl_templates templates;
    nl_code rc = pl_templates_load(NULL, &templates, err);
    if (rc)
        return rc;
    pl_script s = {.kind = "forest", .templates = &templates};
    nl_copy_string(s.name, sizeof s.name, NL_VERDICTS_PLOT);
    /* an output set's work directory, when the caller gave one */
    nl_copy_string(s.plots_dir, sizeof s.plots_dir, rep->work_dir[0] ? rep->work_dir : plots_dir);
    pl_header(&s, "normlab verdict's forest plot: a row per claim, each on its own axis", 1100, 160 + 44 * r->n);
    const char *base = strrchr(r->sweep_dir, '/');
    char title[1300], q[1400];
    snprintf(title, sizeof title, "%s: %d claims, %.0f%% intervals", base && base[1] ? base + 1 : r->sweep_dir, r->n,
             100 * r->opt.level);
    nl_buf_printf(&s.gp, "set title %s font title_font\n$claims << EOD\n", pl_q(title, q, sizeof q));
    for (int i = 0; i < r->n; i++)
        claim_row(&s.gp, &r->v[i], i + 1);
    /* the bands of "~ within" claims; a row outside the range when there is none */
    nl_buf_printf(&s.gp, "EOD\n$bands << EOD\n");
    bool any_band = false;
    for (int i = 0; i < r->n; i++) {
        const shown_row row = shown_of(&r->v[i]);
        if (!row.band)
            continue;
        const row_axis a = axis_of(&row);
        nl_buf_printf(&s.gp, "%d,%.6g,%.6g\n", i + 1, on_axis(a, row.threshold), row.within / (a.hi - a.lo));
        any_band = true;
    }
    nl_buf_printf(&s.gp, "EOD\n"
                  "set yrange [0.5:%d.5] reverse\nset xrange [-0.2:1.2]\nset bmargin 5\nunset xtics\nset grid noxtics\n"
                  "set xlabel \"effect as each claim says, each row on its own axis in its claim's unit, named at its ends "
                  "(points, nats, ratio, %% of seeds, cells)\"\n"
                  "set key at screen 0.99, screen 0.01 right bottom horizontal\n"
                  "plot $claims using (0):1:(1):(0) with vectors nohead lc rgb axis_rgb notitle, \\\n"
                  "     $claims using (0):1:8 with labels right offset -0.5,0 tc rgb axis_rgb notitle, \\\n"
                  "     $claims using (1):1:9 with labels left offset 0.5,0 tc rgb axis_rgb notitle, \\\n"
                  "     $claims using 10:($1-0.22):(0):(0.44) with vectors nohead lw zero_lw lc rgb axis_rgb title \"0 on the row's axis\", \\\n"
                  "     %s"
                  "$claims using 5:1 with points pt expect_pt ps expect_ps lc rgb expect_rgb title \"expected\", "
                  "\\\n"
                  "     $claims using 2:1:3:4:(verdict_rgb($6)):yticlabels(7) with xerrorbars lw effect_lw "
                  "pt effect_pt ps effect_ps lc rgb variable title \"effect and interval\"\n",
                  r->n, any_band ? "$bands using 2:1:3 with xerrorbars lw band_lw lc rgb expect_rgb pt -1 title "
                  "\"expected band\", \\\n     " : "");
    rc = pl_finish(&s, err);
    nl_buf_free(&s.gp);
    pl_templates_free(&templates);
    if (rc)
        return rc;
    nl_plot_output *o = &rep->items[rep->n++];
    memset(o, 0, sizeof *o);
    nl_copy_string(o->name, sizeof o->name, NL_VERDICTS_PLOT);
    nl_path_join(o->script, sizeof o->script, plots_dir, NL_VERDICTS_PLOT ".gp");
    nl_copy_string(rep->plots_dir, sizeof rep->plots_dir, plots_dir);
    return NL_OK;
}
