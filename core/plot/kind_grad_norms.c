/* The grad_norms kind: each layer's gradient norm at initialization (the
 * gradients of step 0, series.csv with train.log.grad_norms), layers from
 * input to output on x, a line per variant, mean over seeds with a min-max
 * bar (Xiong et al. 2020, Fig. 3). At step 0 the learning rate and its
 * schedule have not acted yet, so a colour key (model.norm.placement)
 * usually says more than every varied key. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"
#include "results/series.h"

#define MAX_LAYERS 256

/* the layers' step-0 gradient norms, cells[variant * MAX_LAYERS + slot] */
typedef struct {
    agg *cells;
    char (*names)[NL_SERIES_NAME_MAX];
    int n_layers;
} norms;

/* A run's step-0 gradient norms into its variant's cells. A layer is known
 * by its name (pl_layer_slot orders them). Two passes: the names, then the
 * values. */
static nl_code read_norms(void *ctx, const pl_series_run *run, bool *used, nl_error *err)
{
    (void)err;
    norms *n = ctx;
    const pl_series_file *f = run->file;
    const char *series = nl_name_of(&nl_series_names, NL_SERIES_GRAD_NORM);
    int before = -1; /* the slot of this run's previous layer */
    for (int row = 0; row < f->t.n_rows; row++) {
        char **cell = f->t.rows[row];
        if (strcmp(cell[f->series], series) != 0 || nl_csv_num(cell[f->step]) != 0.0)
            continue;
        const int slot = pl_layer_slot(n->names, &n->n_layers, MAX_LAYERS, cell[f->name], &before, run->pass == 0);
        if (run->pass == 1 && slot >= 0) {
            pl_agg_add(&n->cells[run->variant * MAX_LAYERS + slot], nl_csv_num(cell[f->value]));
            *used = true;
        }
    }
    return NL_OK;
}

/* x tics at the layer indices, labelled with the layers' names */
static void layer_tics(pl_script *s, char (*names)[NL_SERIES_NAME_MAX], int n_layers)
{
    char q[256];
    nl_buf_printf(&s->gp, "set xtics rotate by -40 left (");
    for (int l = 0; l < n_layers; l++)
        nl_buf_printf(&s->gp, "%s%s %d", l ? ", " : "", pl_q(names[l], q, sizeof q), l);
    nl_buf_printf(&s->gp, ")\nset xrange [-0.5:%g]\n", n_layers - 0.5);
}

nl_code pl_grad_norms(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    grouping g;
    agg *cells = NULL;
    char(*names)[NL_SERIES_NAME_MAX] = NULL;
    nl_buf data = {0};
    nl_code rc = pl_group_by_color(r, "grad_norms", spec->color, NULL, 0, &g, err);
    if (rc)
        goto done;
    cells = malloc((size_t)g.n * MAX_LAYERS * sizeof *cells);
    names = calloc(MAX_LAYERS, sizeof *names);
    if (!cells || !names) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < g.n * MAX_LAYERS; k++)
        pl_agg_init(&cells[k]);
    norms n = {cells, names, 0};
    if ((rc = pl_series_each(r, &g, 2, read_norms, &n, "grad_norms",
                             "no run has gradient norms at step 0 in its series.csv (set "
                             "train.log.grad_norms: true)",
                             err)))
        goto done;
    const int n_layers = n.n_layers;
    nl_buf_printf(&data, "variant,label,layer,name,mean,min,max,n\n");
    double lo = INFINITY, hi = 0.0;
    for (int id = 0; id < g.n; id++)
        for (int l = 0; l < n_layers; l++) {
            const agg *a = &cells[id * MAX_LAYERS + l];
            char lab[256], nm[NL_SERIES_NAME_MAX], m[32], mn[32], mx[32];
            if (!a->n)
                continue;
            if (a->min > 0)
                lo = fmin(lo, a->min);
            hi = fmax(hi, a->max);
            nl_buf_printf(&data, "%d,%s,%d,%s,%s,%s,%s,%d\n", id,
                          pl_cell_text(g.labels[id], lab, sizeof lab), l,
                          pl_cell_text(names[l], nm, sizeof nm),
                          pl_fmt_num(m, sizeof m, pl_agg_mean(a)), pl_fmt_num(mn, sizeof mn, a->min),
                          pl_fmt_num(mx, sizeof mx, a->max), a->n);
        }
    char file[128];
    if ((rc = pl_write_kind_data(s, &data, file, sizeof file, err)))
        goto done;
    const char *title = "Gradient norm per layer at initialization (step 0)";
    const int width = 1100, height = 720;
    layout L = pl_open_bars_plot(s, r, title, width, height);
    pl_margins(s, 0.09, 0.78, 150.0 / height, L.top);
    layer_tics(s, names, n_layers);
    /* a log axis when every norm is positive: layers differ by factors */
    if (lo > 0 && isfinite(lo))
        pl_log_axis(s, 'y', lo / 1.25, hi * 1.25);
    nl_buf_printf(&s->gp, "set xlabel \"layer (input to output)\" offset 0,-1\n"
                          "set ylabel \"L2 norm of the layer's parameter gradients\"\n");
    pl_key_outside(s);
    pl_plot_variants_with_bars(s, &g, file, "layer");
    rc = pl_finish(s, err);
done:
    free(cells);
    free(names);
    nl_buf_free(&data);
    pl_ungroup(&g);
    return rc;
}
