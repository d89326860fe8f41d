/* The lr kind: a final metric against learning rate, divergence marked, and
 * the widest range of learning rates each series tolerates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"

/* an lr figure: final metrics by series and learning rate, the threshold
 * and the widest tolerated range of each series */
typedef struct {
    const nl_results *r;
    metric_info m;
    double xs[MAX_VALUES];
    int lr, nx;
    grouping g;
    cell_agg *cells; /* [series][learning rate] */
    double threshold, ybot, ytop, y_div;
    char threshold_rule[128];
    int n_ranges;
    bool has_range[MAX_SERIES];
    char file[128], ranges_file[128];
} lr_fig;

/* the threshold (given, or within a margin of the best mean without
 * divergence) and the y axis: from 0, a loss's fitted to its data
 * (pl_loss_floor), with room at the top for the divergence marks */
static void find_threshold(lr_fig *f, const nl_plot_spec *spec)
{
    const metric_info *m = &f->m;
    double best = m->higher_better ? -INFINITY : INFINITY, top = 0, low = INFINITY;
    for (int i = 0; i < f->g.n * f->nx; i++) {
        const cell_agg *c = &f->cells[i];
        if (c->a.n) {
            top = fmax(top, c->a.max);
            low = fmin(low, c->a.min);
            if (!c->diverged)
                best = m->higher_better ? fmax(best, pl_agg_mean(&c->a)) : fmin(best, pl_agg_mean(&c->a));
        }
    }
    f->threshold = spec->threshold * m->scale;
    snprintf(f->threshold_rule, sizeof f->threshold_rule, "given");
    if (isnan(spec->threshold) && isfinite(best)) {
        if (m->is_loss) {
            f->threshold = best * NL_PLOT_LR_DEFAULT_LOSS_FACTOR;
            snprintf(f->threshold_rule, sizeof f->threshold_rule, "best x %.2f", NL_PLOT_LR_DEFAULT_LOSS_FACTOR);
        } else {
            const double margin = NL_PLOT_LR_DEFAULT_MARGIN * m->scale;
            f->threshold = m->higher_better ? best - margin : best + margin;
            snprintf(f->threshold_rule, sizeof f->threshold_rule, "best %s %g%s", m->higher_better ? "-" : "+",
                     margin, m->scale == 100 ? " points" : "");
        }
    }
    if (!isfinite(top) || top <= 0)
        top = m->scale == 100 ? 100 : 1;
    if (isfinite(f->threshold))
        top = fmax(top, f->threshold);
    f->ytop = m->scale == 100 && !m->higher_better ? fmin(top * 1.18, 112) : top * 1.18;
    f->ybot = m->is_loss ? pl_loss_floor(fmin(low, isfinite(f->threshold) ? f->threshold : low), top, 0.08) : 0;
    f->y_div = f->ybot + (f->ytop - f->ybot) * 0.955;
}

/* series `id`'s widest run of tolerated learning rates, as [*lo, *hi]
 * indices (-1 when none); its cells go into `data` on the way */
static void widest_range(const lr_fig *f, int id, nl_buf *data, int *lo, int *hi)
{
    const metric_info *m = &f->m;
    const int nx = f->nx;
    int run_start = -1;
    *lo = *hi = -1;
    for (int xi = 0; xi <= nx; xi++) {
        const cell_agg *c = xi < nx ? &f->cells[id * nx + xi] : NULL;
        const double mean = c ? pl_agg_mean(&c->a) : NAN;
        const bool tolerated = c && c->runs > 0 && c->diverged == 0 && c->a.n > 0 &&
                               (m->higher_better ? mean >= f->threshold : mean <= f->threshold);
        if (c && c->runs > 0) {
            char l[256], a[32], b[32], d[32];
            nl_buf_printf(data, "%d,%s,%g,%s,%s,%s,%d,%d,%d\n", id, pl_cell_text(f->g.labels[id], l, sizeof l),
                          f->xs[xi], pl_fmt_num(a, sizeof a, mean), pl_fmt_num(b, sizeof b, c->a.min),
                          pl_fmt_num(d, sizeof d, c->a.max), c->a.n, c->diverged, tolerated);
        }
        if (c && c->runs == 0)
            continue; /* not measured (excluded): neither breaks nor extends a range */
        if (tolerated && run_start < 0)
            run_start = xi;
        if (!tolerated && run_start >= 0) {
            int last = xi - 1;
            while (last > run_start && f->cells[id * nx + last].runs == 0)
                last--;
            if (*lo < 0 || log10(f->xs[last] / f->xs[run_start]) > log10(f->xs[*hi] / f->xs[*lo])) {
                *lo = run_start;
                *hi = last;
            }
            run_start = -1;
        }
    }
}

/* lr.csv, lr-ranges.csv, and the ranges on stdout */
static nl_code write_ranges(lr_fig *f, pl_script *s, nl_error *err)
{
    const metric_info *m = &f->m;
    nl_buf data = {0}, ranges = {0};
    nl_buf_printf(&data, "series,label,lr,mean,min,max,n,diverged,tolerated\n");
    nl_buf_printf(&ranges, "series,label,row,lo,hi,lo_box,hi_box,text\n");
    char *note = s->note;
    size_t used = (size_t)snprintf(note, sizeof s->note, "%s: learning rates each %s tolerates (no run "
                                   "diverged, mean %s %s %.4g%s, %s):", s->name,
                                   f->g.n_keys ? "series" : "setting", m->short_label, m->higher_better ? ">=" : "<=",
                                   f->threshold, m->scale == 100 ? "%" : "", f->threshold_rule);
    for (int id = 0; id < f->g.n; id++) {
        int lo, hi;
        widest_range(f, id, &data, &lo, &hi);
        char text[256];
        if (lo < 0) {
            snprintf(text, sizeof text, "none");
        } else {
            const double decades = log10(f->xs[hi] / f->xs[lo]);
            if (lo == hi)
                snprintf(text, sizeof text, "%g only", f->xs[lo]);
            else
                snprintf(text, sizeof text, "%g to %g (%.1f decade%s)", f->xs[lo], f->xs[hi], decades,
                         fabs(decades - 1.0) < 0.05 ? "" : "s");
            char l[256], t[256];
            nl_buf_printf(&ranges, "%d,%s,%d,%g,%g,%g,%g,%s\n", id, pl_cell_text(f->g.labels[id], l, sizeof l), id,
                          f->xs[lo], f->xs[hi], f->xs[lo] / 1.25, f->xs[hi] * 1.25, pl_cell_text(text, t, sizeof t));
            f->n_ranges++;
            f->has_range[id] = true;
        }
        if (used < sizeof s->note)
            used += (size_t)snprintf(note + used, sizeof s->note - used, "\n  %s: %s", f->g.labels[id], text);
    }
    snprintf(f->file, sizeof f->file, "%s.csv", s->name);
    snprintf(f->ranges_file, sizeof f->ranges_file, "%s-ranges.csv", s->name);
    nl_code rc = pl_write_data(s, f->file, &data, err);
    if (rc == NL_OK)
        rc = pl_write_data(s, f->ranges_file, &ranges, err);
    nl_buf_free(&data);
    nl_buf_free(&ranges);
    return rc;
}

/* the main panel: the threshold, divergence marks, a series per normalizer */
static void plot_main(const lr_fig *f, pl_script *s, const layout *L, double right)
{
    const metric_info *m = &f->m;
    const grouping *g = &f->g;
    char q[2048];
    pl_lr_tics(s, f->xs, f->nx);
    nl_buf_printf(&s->gp, "set xlabel \"learning rate (log scale)\"\nset ylabel %s\nset yrange [%g:%g]\n",
                  pl_q(m->label, q, sizeof q), f->ybot, f->ytop);
    /* the legend placed beside the plot, not by "outside", which with the
     * margins set puts a long entry back over the plot's border */
    nl_buf_printf(&s->gp, "set key at screen %.4f, screen %.4f top left Left reverse nobox noopaque spacing 1.2\n",
                  right + 14.0 / L->width, L->top);
    char foot[1300], div_note[1024], spread[128];
    pl_diverged_note(f->r, NULL, div_note, sizeof div_note);
    pl_spread_note(f->r, "bars", spread, sizeof spread);
    pl_join_notes(foot, sizeof foot, spread, div_note[0] ? "diverged runs: crosses at the top, left out of the means" : "");
    pl_unfinished_left_out(f->r, NULL, s, foot, sizeof foot);
    pl_footnote(s, L, foot);
    if (isfinite(f->threshold)) {
        char t[128];
        snprintf(t, sizeof t, "threshold %.3g%s", f->threshold, m->scale == 100 ? "%" : "");
        nl_buf_printf(&s->gp, "set arrow 1 from graph 0, first %g to graph 1, first %g nohead dt 2 lw 1.5 "
                      "lc rgb threshold_color back\nset label 1 %s at graph 0.99, first %g right offset 0,0.6 front "
                      "font \",8\" tc rgb \"#555555\"\n", f->threshold, f->threshold, pl_q(t, q, sizeof q), f->threshold);
    }
    int any_diverged = 0;
    for (int i = 0; i < g->n * f->nx; i++)
        any_diverged += f->cells[i].diverged;
    /* the line under the divergence marks, between them and the data */
    const double below_marks = f->ybot + (f->ytop - f->ybot) * 0.86;
    if (any_diverged)
        nl_buf_printf(&s->gp, "set label 2 \"diverged\" at graph 0.01, first %g left offset 0,1.1 font \",9\" "
                      "tc rgb \"#555555\"\nset arrow 2 from graph 0, first %g to graph 1, first %g nohead lw 0.5 "
                      "lc rgb \"#bbbbbb\"\n", f->y_div, (f->y_div + below_marks) / 2, (f->y_div + below_marks) / 2);
    nl_buf_printf(&s->gp, "plot ");
    int drawn = 0;
    for (int id = 0; id < g->n; id++) {
        const double offset = 0.02 * (id - (g->n - 1) / 2.0);
        bool points = false, divergences = false;
        for (int xi = 0; xi < f->nx; xi++) {
            points |= f->cells[id * f->nx + xi].a.n > 0;
            divergences |= f->cells[id * f->nx + xi].diverged > 0;
        }
        /* a series with no point at all still gets its legend entry */
        if (points)
            nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"series\") == %d && column(\"n\") > 0 ? "
                          "column(\"lr\")*10**(%.4f) : NaN):(column(\"mean\")):(column(\"min\")):(column(\"max\")) "
                          "with yerrorlines lw series_lw pt series_pt ps series_ps lc rgb \"%s\" title %s",
                          drawn++ ? ", \\\n  " : "", f->file, id, offset, pl_color_of(g, id),
                          pl_q(g->labels[id], q, sizeof q));
        else
            nl_buf_printf(&s->gp, "%sNaN with linespoints lw series_lw pt series_pt lc rgb \"%s\" title %s",
                          drawn++ ? ", \\\n  " : "", pl_color_of(g, id), pl_q(g->labels[id], q, sizeof q));
        if (divergences)
            nl_buf_printf(&s->gp, ", \\\n  \"%s\" using (column(\"series\") == %d && column(\"diverged\") > 0 ? "
                          "column(\"lr\")*10**(%.4f) : NaN):(%g) with points pt diverged_pt ps diverged_ps "
                          "lw diverged_lw lc rgb \"%s\" notitle", f->file, id, offset, f->y_div, pl_color_of(g, id));
    }
    if (any_diverged)
        nl_buf_printf(&s->gp, ", \\\n  NaN with points pt diverged_pt ps diverged_ps lw diverged_lw "
                      "lc rgb diverged_key_color title \"diverged (any seed)\"");
    nl_buf_printf(&s->gp, "\n");
}

/* the strip below: the widest tolerated range of each series */
static void plot_strip(const lr_fig *f, pl_script *s)
{
    const metric_info *m = &f->m;
    const grouping *g = &f->g;
    char q[2048], strip_title[256];
    snprintf(strip_title, sizeof strip_title, "widest tolerated range: no run diverged and mean %s %s %.3g%s (%s)",
             m->short_label, m->higher_better ? ">=" : "<=", f->threshold, m->scale == 100 ? "%" : "",
             f->threshold_rule);
    nl_buf_printf(&s->gp, "set xlabel \"\"\nset format x \"\"\nset ylabel \"\"\nset yrange [%g:-0.6]\n"
                  "set ytics (", g->n - 0.4);
    for (int id = 0; id < g->n; id++)
        nl_buf_printf(&s->gp, "%s%s %d", id ? ", " : "", pl_q(g->labels[id], q, sizeof q), id);
    nl_buf_printf(&s->gp, ") font \",9\"\nset grid xtics noytics\n"
                  "set label 3 %s at graph 0, graph 1 left offset 0,0.7 font \",9\" tc rgb \"#555555\"\n",
                  pl_q(strip_title, q, sizeof q));
    if (f->n_ranges == 0) {
        nl_buf_printf(&s->gp, "set label 4 \"no learning rate meets the threshold\" at graph 0.5, graph 0.5 center\n"
                      "plot NaN notitle\n");
        return;
    }
    nl_buf_printf(&s->gp, "plot ");
    int bars = 0;
    for (int id = 0; id < g->n; id++)
        if (f->has_range[id])
            nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"series\") == %d ? sqrt(column(\"lo\")*column(\"hi\")) : NaN):"
                          "(column(\"row\")):(column(\"lo_box\")):(column(\"hi_box\")):(column(\"row\")-0.3):"
                          "(column(\"row\")+0.3) with boxxyerror fs solid range_opacity noborder lc rgb \"%s\" notitle",
                          bars++ ? ", \\\n  " : "", f->ranges_file, id, pl_color_of(g, id));
    nl_buf_printf(&s->gp, ", \\\n  \"%s\" using (column(\"hi_box\")):(column(\"row\")):(strcol(\"text\")) "
                  "with labels left offset 0.8,0 font \",9\" notitle\n", f->ranges_file);
}

static nl_code draw(lr_fig *f, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    const grouping *g = &f->g;
    pl_aggregate(f->r, g, f->lr, f->xs, f->nx, &f->m, NULL, f->cells);
    find_threshold(f, spec);
    nl_code rc = write_ranges(f, s, err);
    if (rc)
        return rc;
    char title[256];
    snprintf(title, sizeof title, "%s%s against learning rate", f->m.short_label[0] == 't' ? "Final " : "",
             f->m.short_label);
    size_t longest = 0;
    for (int id = 0; id < g->n; id++)
        longest = strlen(g->labels[id]) > longest ? strlen(g->labels[id]) : longest;
    const double key_chars = (double)(longest > 19 ? longest : 19); /* "diverged (any seed)" */
    /* the legend on the right gets the width of its longest entry: its
     * sample and gaps, 60 px, then up to 9 px a character (SVG's Sans 12) */
    const int plot_right_px = 874, legend_px = (int)fmax(276, 60 + 9 * key_chars);
    const int strip_px = 40 + 26 * g->n;
    const int width = plot_right_px + legend_px, height = 640 + strip_px;
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, f->r, title, width, height);
    /* the strip's row names (9 pt) fit left of it */
    const double left = fmax(0.09, (7.0 * (double)longest + 30.0) / width);
    const double right = (double)plot_right_px / width, strip_top = (60.0 + strip_px) / height,
                 main_bottom = strip_top + 75.0 / height;
    nl_buf_printf(&s->gp, "set multiplot\n");
    pl_margins(s, left, right, main_bottom, L.top);
    plot_main(f, s, &L, right);
    pl_after_first_plot(s);
    nl_buf_printf(&s->gp, "unset arrow\nunset label\nunset key\nunset title\n");
    pl_margins(s, left, right, 55.0 / height, strip_top);
    plot_strip(f, s);
    return pl_finish_panels(s, err);
}

nl_code pl_lr(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    lr_fig *f = calloc(1, sizeof *f);
    if (!f)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    f->r = r;
    nl_code rc = pl_need_varied(r, "lr", "train.optimizer.lr", &f->lr, f->xs, &f->nx, err);
    /* a learning rate derived from the batch size moves with it: its effect
     * cannot be told from the batch size's (the batch_size plot shows them) */
    const int bs = nl_results_key(r, "train.batch_size");
    if (rc == NL_OK && bs >= 0 && nl_results_determined(r, f->lr, &bs, 1))
        rc = pl_not_applicable(err, "lr", "the learning rate follows the batch size (one learning rate per "
                               "batch size), so its effect cannot be told from the batch size's");
    f->m = pl_final_metric(spec);
    if (rc == NL_OK)
        rc = pl_group_runs(r, &f->lr, 1, &f->g, err);
    if (rc == NL_OK && !(f->cells = calloc((size_t)f->g.n * f->nx, sizeof *f->cells)))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (rc == NL_OK)
        rc = draw(f, spec, s, err);
    free(f->cells);
    pl_ungroup(&f->g);
    free(f);
    return rc;
}
