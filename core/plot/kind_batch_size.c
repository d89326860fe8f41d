/* The batch_size kind: a final metric against batch size (Wu & He, Fig. 1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"

nl_code pl_batch_size(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    double xs[MAX_VALUES];
    int bs, nx;
    nl_code rc = pl_need_varied(r, "batch_size", "train.batch_size", &bs, xs, &nx, err);
    if (rc)
        return rc;
    const metric_info m = pl_final_metric(spec);
    grouping g;
    cell_agg *cells = NULL;
    nl_buf data = {0};
    char q[2048];
    if ((rc = pl_group_runs(r, &bs, 1, &g, err)))
        goto done;
    if (!(cells = calloc((size_t)g.n * nx, sizeof *cells))) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    pl_aggregate(r, &g, bs, xs, nx, &m, NULL, cells);
    nl_buf_printf(&data, "series,label,batch_size,mean,min,max,n,diverged\n");
    int points = 0;
    for (int id = 0; id < g.n; id++)
        for (int xi = 0; xi < nx; xi++) {
            const cell_agg *c = &cells[id * nx + xi];
            char l[256], a[32], b[32], d[32];
            if (!c->a.n)
                continue;
            points++;
            nl_buf_printf(&data, "%d,%s,%g,%s,%s,%s,%d,%d\n", id, pl_cell_text(g.labels[id], l, sizeof l), xs[xi],
                          pl_fmt_num(a, sizeof a, pl_agg_mean(&c->a)), pl_fmt_num(b, sizeof b, c->a.min),
                          pl_fmt_num(d, sizeof d, c->a.max), c->a.n, c->diverged);
        }
    if (points == 0) {
        rc = pl_not_applicable(err, "batch_size", "no finished run with a final metric");
        goto done;
    }
    char file[128];
    if ((rc = pl_write_kind_data(s, &data, file, sizeof file, err)))
        goto done;
    char title[256];
    snprintf(title, sizeof title, "%s%s against batch size", m.short_label[0] == 't' ? "Final " : "",
             m.short_label);
    const int width = 1100, height = 680;
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    char foot[1300];
    pl_error_bar_note(r, foot, sizeof foot);
    pl_unfinished_left_out(r, NULL, s, foot, sizeof foot);
    pl_footnote(s, &L, foot);
    pl_margins(s, 0.08, 0.80, 90.0 / height, L.top);
    pl_batch_tics(s, xs, nx);
    nl_buf_printf(&s->gp, "set xlabel \"batch size (samples per step, log2 scale)\"\nset ylabel %s\n",
                  pl_q(m.label, q, sizeof q));
    if (m.scale == 100 && !m.higher_better)
        nl_buf_printf(&s->gp, "set yrange [0:*]\n");
    pl_key_outside(s);
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
                      "(column(\"mean\")):(column(\"min\")):(column(\"max\")) with yerrorlines lw series_lw pt series_pt ps series_ps "
                      "lc rgb \"%s\" title %s",
                      drawn++ ? ", \\\n  " : "", file, id, offset, pl_color_of(&g, id), pl_q(g.labels[id], q, sizeof q));
    }
    nl_buf_printf(&s->gp, "\n");
    rc = pl_finish(s, err);
done:
    free(cells);
    nl_buf_free(&data);
    pl_ungroup(&g);
    return rc;
}
