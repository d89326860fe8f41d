/* The profile kinds: a series.csv quantity against its layer column at
 * each run's last evaluation, a line per variant, mean over seeds with a
 * min-max bar.
 *   step_norms  a recurrent layer's hidden-state norm ||h_t|| against the
 *               time step t (train.log.step_norms), for the top recurrent
 *               layer (the last the probe names): where the state's scale
 *               settles along the sequence, and where a normalizer keeps
 *               it there, is what evaluating at longer sequences relies on
 *   block_skip  the test loss's increase when one residual block is
 *               removed against the block's depth (train.log.block_skip):
 *               how much each block contributes (Sun et al. 2025) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"
#include "results/series.h"

#define MAX_STEPS 4096

/* what one profile kind draws */
typedef struct {
    const char *kind;   /* the plot kind's name */
    int series;         /* NL_SERIES_* */
    /* the last layer the probe names alone (its rows' layer column is x);
     * false: every row of the last evaluation (the layer column is x) */
    bool top_layer_only;
    const char *x_column, *x_label, *y_label;
    bool integer_x; /* a tic at every x (a few blocks, not hundreds of steps) */
    const char *title;   /* "%s": the top layer's name, or nothing */
    const char *missing; /* why no run has it, and what to set */
} profile_kind;

/* what the runs' last evaluations hold: cells[variant * MAX_STEPS + x],
 * the x values seen, the top layer's name */
typedef struct {
    const profile_kind *k;
    agg *cells;
    int steps;
    char layer[NL_SERIES_NAME_MAX];
} profile;

/* one run's rows of its last evaluation (of its top layer, when the kind
 * takes one) into its variant's cells; *used when it has any */
static nl_code read_run(void *ctx, const pl_series_run *run, bool *used, nl_error *err)
{
    (void)err;
    profile *p = ctx;
    const profile_kind *k = p->k;
    const pl_series_file *f = run->file;
    agg *cells = p->cells + (size_t)run->variant * MAX_STEPS;
    char *layer = p->layer;
    const size_t layer_size = sizeof p->layer;
    const char *series = nl_name_of(&nl_series_names, k->series);
    double last = -1.0;
    for (int row = 0; row < f->t.n_rows; row++) {
        char **cell = f->t.rows[row];
        if (strcmp(cell[f->series], series) != 0)
            continue;
        /* the probe writes its layers input to output: the last is the top */
        if (nl_csv_num(cell[f->step]) >= last) {
            last = nl_csv_num(cell[f->step]);
            nl_copy_string(layer, layer_size, cell[f->name]);
        }
    }
    int steps = 0;
    for (int row = 0; last >= 0 && row < f->t.n_rows; row++) {
        char **cell = f->t.rows[row];
        const double t = nl_csv_num(cell[f->layer]);
        if (strcmp(cell[f->series], series) != 0 || nl_csv_num(cell[f->step]) != last ||
            (k->top_layer_only && strcmp(cell[f->name], layer) != 0) ||
            !(t >= 0 && t < MAX_STEPS))
            continue;
        pl_agg_add(&cells[(int)t], nl_csv_num(cell[f->value]));
        steps = (int)t + 1 > steps ? (int)t + 1 : steps;
    }
    *used = steps > 0;
    p->steps = steps > p->steps ? steps : p->steps;
    return NL_OK;
}

static nl_code draw_profile(const profile_kind *k, const nl_results *r, const nl_plot_spec *spec,
                            pl_script *s, nl_error *err)
{
    grouping g;
    agg *cells = NULL;
    nl_buf data = {0};
    nl_code rc = pl_group_by_color(r, k->kind, spec->color, NULL, 0, &g, err);
    if (rc)
        goto done;
    cells = malloc((size_t)g.n * MAX_STEPS * sizeof *cells);
    if (!cells) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < g.n * MAX_STEPS; k++)
        pl_agg_init(&cells[k]);
    profile p = {k, cells, 0, ""};
    if ((rc = pl_series_each(r, &g, 1, read_run, &p, k->kind, k->missing, err)))
        goto done;
    const int steps = p.steps;
    const char *layer = p.layer;
    nl_buf_printf(&data, "variant,label,%s,mean,min,max,n\n", k->x_column);
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
    if ((rc = pl_write_kind_data(s, &data, file, sizeof file, err)))
        goto done;
    char title[160], q[512];
    snprintf(title, sizeof title, k->title, k->top_layer_only ? layer : "");
    const int width = 1100, height = 720;
    layout L = pl_open_bars_plot(s, r, title, width, height);
    pl_margins(s, 0.09, 0.78, 150.0 / height, L.top);
    nl_buf_printf(&s->gp, "set xrange [-0.5:%g]\n%s", steps - 0.5, k->integer_x ? "set xtics 1\n" : "");
    nl_buf_printf(&s->gp, "set xlabel %s\n", pl_q(k->x_label, q, sizeof q));
    nl_buf_printf(&s->gp, "set ylabel %s\n", pl_q(k->y_label, q, sizeof q));
    pl_key_outside(s);
    pl_plot_variants_with_bars(s, &g, file, k->x_column);
    rc = pl_finish(s, err);
done:
    free(cells);
    nl_buf_free(&data);
    pl_ungroup(&g);
    return rc;
}

nl_code pl_step_norms(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    static const profile_kind kind = {
        .kind = "step_norms", .series = NL_SERIES_STEP_NORM, .top_layer_only = true,
        .x_column = "t", .x_label = "time step t", .y_label = "||h_t||, mean over the test split",
        .title = "Hidden-state norm against time step (%s, last evaluation)",
        .missing = "no run has per-step hidden-state norms in its series.csv (set "
                   "train.log.step_norms: true on a recurrent model)"};
    return draw_profile(&kind, r, spec, s, err);
}

nl_code pl_block_skip(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    static const profile_kind kind = {
        .kind = "block_skip", .series = NL_SERIES_BLOCK_SKIP, .x_column = "block",
        .x_label = "residual block removed (input to output)",
        .y_label = "test loss without the block - with it (nats)", .integer_x = true,
        .title = "Loss increase when one residual block is removed (last evaluation)%s",
        .missing = "no run has block removals in its series.csv (set train.log.block_skip: true "
                   "on a model with residual blocks)"};
    return draw_profile(&kind, r, spec, s, err);
}
