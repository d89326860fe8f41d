/* The heatmap kind: a final metric over learning rate x batch size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"

/* how many distinct (key a, key b) pairs the runs have */
static int distinct_pairs(const nl_results *r, int a, int b)
{
    int pairs = 0;
    for (int i = 0; i < r->n_runs; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(r->runs[i].values[a], r->runs[j].values[a]) &&
                   !strcmp(r->runs[i].values[b], r->runs[j].values[b]);
        pairs += !seen;
    }
    return pairs;
}

/* one panel's cells (n of them, with their run counts): colour, hatching
 * where every run diverged, and the values as text */
static void plot_cells(pl_script *s, const char *file, int id, const agg *cells, const int *runs, int n,
                       const char *font)
{
    bool measured = false, all_diverged = false, any_cell = false;
    for (int c = 0; c < n; c++) {
        measured |= cells[c].n > 0;
        all_diverged |= runs[c] > 0 && cells[c].n == 0;
        any_cell |= runs[c] > 0;
    }
    if (!any_cell) {
        nl_buf_printf(&s->gp, "set label 5 \"no finished runs\" at graph 0.5, graph 0.5 center\nplot NaN notitle\n"
                      "unset label 5\n");
        return;
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
}

/* the map's axes and cells: cell (id, yi, xi) at (id * nl + yi) * nb + xi
 * holds the finished, undiverged runs' metric (cells), the diverged runs
 * (div) and the finished runs (runs); lo and hi the range of its means */
typedef struct {
    int bs, lr, nb, nl, ncell;
    double bsv[MAX_VALUES], lrv[MAX_VALUES];
    agg *cells;
    int *div, *runs;
    double lo, hi;
} heatmap_grid;

/* the cells as CSV: position, mean, run counts, the text shown in the cell
 * and whether it is dark (text drawn white) */
static void heatmap_csv(const grouping *g, const metric_info *mi, const heatmap_grid *hm, nl_buf *data)
{
    const double mid = (hm->lo + hm->hi) / 2;
    const int nb = hm->nb, nl = hm->nl;
    nl_buf_printf(data, "panel,label,xi,yi,batch_size,lr,mean,n,diverged,text,dark\n");
    for (int id = 0; id < g->n; id++)
        for (int yi = 0; yi < nl; yi++)
            for (int xi = 0; xi < nb; xi++) {
                const int c = (id * nl + yi) * nb + xi;
                if (!hm->runs[c])
                    continue;
                char l[256], a[32], text[64];
                const agg *cell = &hm->cells[c];
                const double mean = pl_agg_mean(cell);
                if (!cell->n)
                    snprintf(text, sizeof text, "diverged");
                else if (hm->div[c])
                    snprintf(text, sizeof text, mi->scale == 100 ? "%.1f (%d div)" : "%.3f (%d div)", mean, hm->div[c]);
                else
                    snprintf(text, sizeof text, mi->scale == 100 ? "%.1f" : "%.3f", mean);
                const bool dark = cell->n && (mi->higher_better ? mean < mid : mean > mid);
                nl_buf_printf(data, "%d,%s,%d,%d,%g,%g,%s,%d,%d,%s,%d\n", id, pl_cell_text(g->labels[id], l, sizeof l), xi,
                              yi, hm->bsv[xi], hm->lrv[yi], pl_fmt_num(a, sizeof a, mean), cell->n, hm->div[c], text,
                              dark);
            }
}

/* the batch size and learning rate axes: both varied, and independently */
static nl_code heatmap_axes(const nl_results *r, heatmap_grid *hm, nl_error *err)
{
    nl_code rc = pl_need_varied(r, "heatmap", "train.batch_size", &hm->bs, hm->bsv, &hm->nb, err);
    if (rc || (rc = pl_need_varied(r, "heatmap", "train.optimizer.lr", &hm->lr, hm->lrv, &hm->nl, err)))
        return rc;
    /* a learning rate that follows the batch size (derived) makes a diagonal, not a map */
    if (distinct_pairs(r, hm->bs, hm->lr) <= (hm->nb > hm->nl ? hm->nb : hm->nl))
        return pl_not_applicable(err, "heatmap", "the learning rate and the batch size do not vary independently "
                              "(one learning rate per batch size)");
    return NL_OK;
}

/* each finished run into its group's cell, then the range of the means */
static nl_code fill_cells(const nl_results *r, const grouping *g, const metric_info *m, heatmap_grid *hm,
                          nl_error *err)
{
    const int nb = hm->nb, nl = hm->nl;
    hm->ncell = g->n * nb * nl;
    hm->cells = calloc((size_t)hm->ncell, sizeof *hm->cells);
    hm->div = calloc((size_t)hm->ncell, sizeof *hm->div);
    hm->runs = calloc((size_t)hm->ncell, sizeof *hm->runs);
    if (!hm->cells || !hm->div || !hm->runs)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < hm->ncell; i++)
        pl_agg_init(&hm->cells[i]);
    for (int i = 0; i < r->n_runs; i++) {
        const nl_results_run *run = &r->runs[i];
        const int id = g->group_of[i], xi = pl_value_index(hm->bsv, nb, nl_csv_num(run->values[hm->bs])),
                  yi = pl_value_index(hm->lrv, nl, nl_csv_num(run->values[hm->lr]));
        if (id < 0 || xi < 0 || yi < 0 || !nl_results_run_finished(run))
            continue;
        const int c = (id * nl + yi) * nb + xi;
        hm->runs[c]++;
        if (!strcmp(run->status, "diverged"))
            hm->div[c]++;
        else
            pl_agg_add(&hm->cells[c], m->scale * run->m[m->index]);
    }
    hm->lo = INFINITY;
    hm->hi = -INFINITY;
    for (int i = 0; i < hm->ncell; i++)
        if (hm->cells[i].n) {
            hm->lo = fmin(hm->lo, pl_agg_mean(&hm->cells[i]));
            hm->hi = fmax(hm->hi, pl_agg_mean(&hm->cells[i]));
        }
    if (!isfinite(hm->lo))
        return pl_not_applicable(err, "heatmap", "no finished run with a final metric");
    if (hm->hi <= hm->lo)
        hm->hi = hm->lo + (m->scale == 100 ? 1 : 0.01);
    return NL_OK;
}

/* the colour box, the palette and the axes' tics, shared by every panel */
static void heatmap_axes_script(pl_script *s, const metric_info *m, const heatmap_grid *hm, const layout *L,
                                int width, int height, double right)
{
    char q[2048];
    nl_buf_printf(&s->gp, "set multiplot\nunset grid\nunset key\nset style fill solid 1.0 noborder\n"
                  "set cbrange [%g:%g]\nset cblabel %s\n"
                  "set colorbox user origin screen %.4f, screen %.4f size screen %.4f, screen %.4f\n",
                  hm->lo, hm->hi, pl_q(m->label, q, sizeof q), right + 20.0 / width, 80.0 / height, 18.0 / width,
                  L->top - 80.0 / height);
    /* bright is good */
    if (m->higher_better)
        nl_buf_printf(&s->gp, "set palette negative\n");
    nl_buf_printf(&s->gp, "set xrange [-0.5:%g]\nset yrange [-0.5:%g]\nset xtics (", hm->nb - 0.5, hm->nl - 0.5);
    for (int xi = 0; xi < hm->nb; xi++)
        nl_buf_printf(&s->gp, "%s\"%g\" %d", xi ? ", " : "", hm->bsv[xi], xi);
    nl_buf_printf(&s->gp, ") scale 0\nset ytics (");
    for (int yi = 0; yi < hm->nl; yi++)
        nl_buf_printf(&s->gp, "%s\"%g\" %d", yi ? ", " : "", hm->lrv[yi], yi);
    nl_buf_printf(&s->gp, ") scale 0\nset xlabel \"batch size\"\nset ylabel \"learning rate\"\n");
}

/* the script: a panel per group, up to three a row, cells sized to fit */
static nl_code heatmap_script(const nl_results *r, const grouping *g, const metric_info *m, const heatmap_grid *hm,
                              const char *file, pl_script *s, nl_error *err)
{
    const int nb = hm->nb, nl = hm->nl;
    const int cols = g->n < 3 ? g->n : 3, rows = (g->n + cols - 1) / cols;
    const int cell_px = nb > 6 || nl > 6 ? 62 : 80;
    const int panel_w = nb * cell_px + 40 > 300 ? nb * cell_px + 40 : 300;
    const int width = 110 + cols * (panel_w + 95) + 110, panel_h = nl * (cell_px * 3 / 4) + 40 > 230 ? nl * (cell_px * 3 / 4) + 40 : 230;
    const int height = 150 + rows * (panel_h + 95);
    char title[256], q[2048];
    snprintf(title, sizeof title, "%s%s over learning rate and batch size", m->short_label[0] == 't' ? "Final " : "",
             m->short_label);
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    char foot[1300];
    snprintf(foot, sizeof foot, "cells: mean over %s; hatched: every run diverged; (k div): k runs diverged and are "
             "left out of the mean", r->seed_key >= 0 ? "seeds" : "runs");
    pl_unfinished_left_out(r, NULL, s, foot, sizeof foot);
    pl_footnote(s, &L, foot);
    const double right = 1.0 - 120.0 / width;
    heatmap_axes_script(s, m, hm, &L, width, height, right);
    const char *font = nb > 6 ? ",8" : ",10";
    for (int id = 0; id < g->n; id++) {
        pl_panel(s, &L, id / cols, id % cols, rows, cols, 0.08, right - 60.0 / width, 80.0 / height,
              L.top - 26.0 / height, 95, 110);
        nl_buf_printf(&s->gp, "set title %s\n", pl_q(g->n_keys ? g->labels[id] : "", q, sizeof q));
        plot_cells(s, file, id, hm->cells + id * nl * nb, hm->runs + id * nl * nb, nl * nb, font);
        pl_after_panel(s, id);
    }
    return pl_finish_panels(s, err);
}

nl_code pl_heatmap(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    heatmap_grid hm = {0};
    nl_code rc = heatmap_axes(r, &hm, err);
    if (rc)
        return rc;
    const metric_info m = pl_final_metric(spec);
    const int fixed[2] = {hm.bs, hm.lr};
    grouping g;
    nl_buf data = {0};
    char file[128];
    if ((rc = pl_group_runs(r, fixed, 2, &g, err)) || (rc = fill_cells(r, &g, &m, &hm, err)))
        goto done;
    heatmap_csv(&g, &m, &hm, &data);
    if (!(rc = pl_write_kind_data(s, &data, file, sizeof file, err)))
        rc = heatmap_script(r, &g, &m, &hm, file, s, err);
done:
    free(hm.cells);
    free(hm.div);
    free(hm.runs);
    nl_buf_free(&data);
    pl_ungroup(&g);
    return rc;
}
