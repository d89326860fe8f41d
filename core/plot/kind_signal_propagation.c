/* The signal_propagation kind (Brock, De & Smith 2021's signal
 * propagation plot): at initialization, the average channel mean^2 (left)
 * and average channel variance (right) of the residual stream after each
 * block, blocks from input to output on x, a log y axis, a line per
 * variant (mean over seeds and over settings that act only after
 * initialization, the optimizer's; min-max bars), from series.csv with
 * train.log.signal_propagation. Runs without residual blocks (an MLP or a
 * CNN) have only normalizer sites: the plot then draws the normalizers'
 * inputs. The per-layer series writer (kind_layer_series.c) draws against
 * step; here x is depth, as in grad_norms. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"
#include "results/series.h"

#define MAX_SITES 256

enum { MEAN_SQ, VAR, STATS };

typedef struct {
    grouping g;
    int series[STATS]; /* NL_SERIES_* drawn */
    char (*names)[NL_SERIES_NAME_MAX];
    int n_sites;
    agg *cells; /* [(stat * groups + variant) * MAX_SITES + site] */
} sigprop_fig;

/* does any run's series.csv hold `series`? */
static nl_code any_run_has(const nl_results *r, const grouping *g, int series, bool *found,
                           nl_error *err)
{
    const char *name = nl_name_of(&nl_series_names, series);
    *found = false;
    for (int i = 0; i < r->n_runs && !*found; i++) {
        if (g->group_of[i] < 0)
            continue;
        pl_series_file f;
        nl_code rc = pl_series_read(&r->runs[i], &f, err);
        if (rc)
            return rc;
        for (int row = 0; f.found && row < f.t.n_rows && !*found; row++)
            *found = !strcmp(f.t.rows[row][f.series], name);
        pl_series_free(&f);
    }
    return NL_OK;
}

/* a run's rows of the two series into the cells; sites known by name
 * (pl_layer_slot orders them), two passes: the names, then the values */
static nl_code read_sites(void *ctx, const pl_series_run *run, bool *used, nl_error *err)
{
    (void)err;
    sigprop_fig *f = ctx;
    const pl_series_file *file = run->file;
    for (int stat = 0; stat < STATS; stat++) {
        const char *series = nl_name_of(&nl_series_names, f->series[stat]);
        int before = -1;
        for (int row = 0; row < file->t.n_rows; row++) {
            char **cell = file->t.rows[row];
            if (strcmp(cell[file->series], series) != 0)
                continue;
            const int slot = pl_layer_slot(f->names, &f->n_sites, MAX_SITES, cell[file->name], &before,
                                           run->pass == 0);
            if (run->pass == 1 && slot >= 0) {
                pl_agg_add(&f->cells[(stat * f->g.n + run->variant) * MAX_SITES + slot], nl_csv_num(cell[file->value]));
                *used = true;
            }
        }
    }
    return NL_OK;
}

/* the data file; lo and hi of each statistic's positive values */
static void site_csv(const sigprop_fig *f, nl_buf *data, double lo[STATS], double hi[STATS])
{
    static const char *const stat_names[STATS] = {"mean_sq", "var"};
    nl_buf_printf(data, "stat,variant,label,depth,name,mean,min,max,n\n");
    for (int stat = 0; stat < STATS; stat++) {
        lo[stat] = INFINITY;
        hi[stat] = 0.0;
        for (int id = 0; id < f->g.n; id++)
            for (int l = 0; l < f->n_sites; l++) {
                const agg *a = &f->cells[(stat * f->g.n + id) * MAX_SITES + l];
                char lab[256], nm[NL_SERIES_NAME_MAX], m[32], mn[32], mx[32];
                if (!a->n)
                    continue;
                if (a->min > 0)
                    lo[stat] = fmin(lo[stat], a->min);
                hi[stat] = fmax(hi[stat], a->max);
                nl_buf_printf(data, "%s,%d,%s,%d,%s,%s,%s,%s,%d\n", stat_names[stat], id,
                              pl_cell_text(f->g.labels[id], lab, sizeof lab), l,
                              pl_cell_text(f->names[l], nm, sizeof nm),
                              pl_fmt_num(m, sizeof m, pl_agg_mean(a)),
                              pl_fmt_num(mn, sizeof mn, a->min), pl_fmt_num(mx, sizeof mx, a->max),
                              a->n);
            }
    }
}

static nl_code draw(const nl_results *r, const sigprop_fig *f, pl_script *s, const char *file,
                    const double lo[STATS], const double hi[STATS], bool stream, nl_error *err)
{
    static const char *const stat_names[STATS] = {"mean_sq", "var"};
    static const char *const ylabels[STATS] = {"average channel mean^2", "average channel variance"};
    char q[2048];
    const char *title = stream ? "Signal propagation at initialization: the residual stream "
                                 "after each block"
                               : "Signal propagation at initialization: each normalizer's input";
    const int width = 1500, height = 760;
    layout L = pl_open_bars_plot(s, r, title, width, height);
    /* sites named in the data file; on the axis their index, or the names
     * run together past a few dozen blocks */
    nl_buf_printf(&s->gp, "set multiplot\nset xlabel %s\nset xrange [-0.5:%g]\n",
                  pl_q(stream ? "residual block (input to output; names in the data file)"
                              : "normalizer (input to output; names in the data file)",
                       q, sizeof q),
                  f->n_sites - 0.5);
    const double right = 0.98 - 330.0 / width;
    for (int stat = 0; stat < STATS; stat++) {
        pl_panel(s, &L, 0, stat, 1, STATS, 0.07, right, 110.0 / height, L.top - 26.0 / height,
                 140, 110);
        nl_buf_printf(&s->gp, "set ylabel %s\n", pl_q(ylabels[stat], q, sizeof q));
        /* log y: without normalization the stream grows by factors with depth */
        if (lo[stat] > 0 && isfinite(lo[stat])) {
            pl_log_axis(s, 'y', lo[stat] / 1.5, hi[stat] * 1.5);
        } else {
            pl_linear_axis(s, 'y');
            nl_buf_printf(&s->gp, "set autoscale y\n");
        }
        pl_panel_key(s, stat);
        char where[64];
        snprintf(where, sizeof where, "strcol(\"stat\") eq \"%s\" && ", stat_names[stat]);
        pl_plot_variants(s, &f->g, file, where, "depth", PL_Y_WITH_BARS);
        pl_after_panel(s, stat);
    }
    return pl_finish_panels(s, err);
}

nl_code pl_signal_propagation(const nl_results *r, const nl_plot_spec *spec, pl_script *s,
                              nl_error *err)
{
    sigprop_fig f = {0};
    nl_buf data = {0};
    /* the optimizer and its schedule have not acted at initialization: runs
     * differing only there measured the same network (a learning-rate
     * sweep's runs fall into one line per architecture) */
    int untouched[256], n_untouched = 0;
    for (int k = 0; k < r->n_keys && n_untouched < 256; k++)
        if (!strncmp(r->keys[k], "train.optimizer.", 16) ||
            !strncmp(r->keys[k], "train.schedule.", 15))
            untouched[n_untouched++] = k;
    nl_code rc = spec->color[0] ? pl_group_by_color(r, "signal_propagation", spec->color, NULL, 0,
                                                    &f.g, err)
                                : pl_group_runs(r, untouched, n_untouched, &f.g, err);
    if (rc)
        return rc;
    bool stream;
    if ((rc = any_run_has(r, &f.g, NL_SERIES_SIGPROP_VAR, &stream, err)))
        goto done;
    f.series[MEAN_SQ] = stream ? NL_SERIES_SIGPROP_MEAN_SQ : NL_SERIES_SIGPROP_NORM_IN_MEAN_SQ;
    f.series[VAR] = stream ? NL_SERIES_SIGPROP_VAR : NL_SERIES_SIGPROP_NORM_IN_VAR;
    f.names = calloc(MAX_SITES, sizeof *f.names);
    f.cells = malloc((size_t)STATS * f.g.n * MAX_SITES * sizeof *f.cells);
    if (!f.names || !f.cells) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < STATS * f.g.n * MAX_SITES; k++)
        pl_agg_init(&f.cells[k]);
    if ((rc = pl_series_each(r, &f.g, 2, read_sites, &f, "signal_propagation",
                             "no run has signal propagation rows in its series.csv (set "
                             "train.log.signal_propagation: true)",
                             err)))
        goto done;
    double lo[STATS], hi[STATS];
    site_csv(&f, &data, lo, hi);
    char file[128];
    if ((rc = pl_write_kind_data(s, &data, file, sizeof file, err)) == NL_OK)
        rc = draw(r, &f, s, file, lo, hi, stream, err);
done:
    free(f.cells);
    free(f.names);
    nl_buf_free(&data);
    pl_ungroup(&f.g);
    return rc;
}
