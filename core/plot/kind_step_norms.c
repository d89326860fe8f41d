/* The step_norms kind: a recurrent layer's hidden-state norm ||h_t||
 * against the time step t (series.csv with train.log.step_norms), at each
 * run's last evaluation, for the top recurrent layer (the last the probe
 * names), a line per variant, mean over seeds with a min-max bar. Where
 * the state's scale settles along the sequence, and where a normalizer
 * keeps it there, is what evaluating at longer sequences relies on. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"
#include "train/series.h"

#define MAX_STEPS 4096

/* one run's rows of its last evaluation's top layer into cells[id * MAX_STEPS + t];
 * the number of steps seen, 0 when the run has none */
static int read_run(const pl_series_file *f, agg *cells, char *layer, size_t layer_size)
{
    const char *series = nl_name_of(&nl_series_names, NL_SERIES_STEP_NORM);
    double last = -1.0;
    for (int row = 0; f->found && row < f->t.n_rows; row++) {
        char **cell = f->t.rows[row];
        if (strcmp(cell[f->series], series) != 0)
            continue;
        /* the probe writes its layers input to output: the last is the top */
        if (pl_num(cell[f->step]) >= last) {
            last = pl_num(cell[f->step]);
            nl_copy_string(layer, layer_size, cell[f->name]);
        }
    }
    int steps = 0;
    for (int row = 0; last >= 0 && row < f->t.n_rows; row++) {
        char **cell = f->t.rows[row];
        const double t = pl_num(cell[f->layer]);
        if (strcmp(cell[f->series], series) != 0 || pl_num(cell[f->step]) != last ||
            strcmp(cell[f->name], layer) != 0 || !(t >= 0 && t < MAX_STEPS))
            continue;
        pl_agg_add(&cells[(int)t], pl_num(cell[f->value]));
        steps = (int)t + 1 > steps ? (int)t + 1 : steps;
    }
    return steps;
}

nl_code pl_step_norms(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    grouping g;
    agg *cells = NULL;
    nl_buf data = {0};
    char layer[NL_SERIES_NAME_MAX] = "";
    nl_code rc = pl_group_by_color(r, "step_norms", spec->color, NULL, 0, &g, err);
    if (rc)
        goto done;
    cells = malloc((size_t)g.n * MAX_STEPS * sizeof *cells);
    if (!cells) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < g.n * MAX_STEPS; k++)
        pl_agg_init(&cells[k]);
    int steps = 0, runs = 0;
    for (int i = 0; i < r->n_runs; i++) {
        const int id = g.group_of[i];
        if (id < 0)
            continue;
        pl_series_file f;
        if ((rc = pl_series_read(&r->runs[i], &f, err)))
            goto done;
        const int n = read_run(&f, cells + (size_t)id * MAX_STEPS, layer, sizeof layer);
        pl_series_free(&f);
        runs += n > 0;
        steps = n > steps ? n : steps;
    }
    if (runs == 0) {
        rc = pl_not_applicable(err, "step_norms", "no run has per-step hidden-state norms in its "
                               "series.csv (set train.log.step_norms: true on a recurrent model)");
        goto done;
    }
    nl_buf_printf(&data, "variant,label,t,mean,min,max,n\n");
    for (int id = 0; id < g.n; id++)
        for (int t = 0; t < steps; t++) {
            const agg *a = &cells[id * MAX_STEPS + t];
            char lab[256], m[32], mn[32], mx[32];
            if (!a->n)
                continue;
            nl_buf_printf(&data, "%d,%s,%d,%s,%s,%s,%d\n", id,
                          pl_cell_text(g.labels[id], lab, sizeof lab), t,
                          pl_fmt_num(m, sizeof m, pl_agg_mean(a)), pl_fmt_num(mn, sizeof mn, a->min),
                          pl_fmt_num(mx, sizeof mx, a->max), a->n);
        }
    char file[128];
    snprintf(file, sizeof file, "%s.csv", s->name);
    if ((rc = pl_write_data(s, file, &data, err)))
        goto done;
    char title[160];
    snprintf(title, sizeof title, "Hidden-state norm against time step (%s, last evaluation)",
             layer);
    const int width = 1100, height = 720;
    layout L = pl_open_bars_plot(s, r, title, width, height);
    pl_margins(s, 0.09, 0.78, 150.0 / height, L.top);
    nl_buf_printf(&s->gp, "set xrange [-0.5:%g]\n"
                          "set xlabel \"time step t\"\n"
                          "set ylabel \"||h_t||, mean over the test split\"\n",
                  steps - 0.5);
    pl_key_outside(s);
    pl_plot_variants_with_bars(s, &g, file, "t");
    rc = pl_finish(s, err);
done:
    free(cells);
    nl_buf_free(&data);
    pl_ungroup(&g);
    return rc;
}
