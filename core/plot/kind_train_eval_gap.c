/* The train_eval_gap kind: batch norm's test accuracy with running
 * statistics (eval mode) and batch statistics (train mode). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"
#include "results/files.h"
#include "results/metrics.h"
#include "results/store.h"

static bool is_batch_norm(const nl_results *r, const nl_results_run *run)
{
    const char *norm = nl_results_value(r, run, "model.norm.type");
    return norm && !strcmp(norm, "batch");
}

/* a single run: both accuracies against step, from its metrics.csv */
static nl_code single_run(const nl_results *r, pl_script *s, nl_error *err)
{
    nl_code rc;
    if (!is_batch_norm(r, &r->runs[0]))
        return pl_not_applicable(err, "train_eval_gap", "the run does not use batch norm");
    char path[1300];
    snprintf(path, sizeof path, "%s/" NL_RUN_METRICS_FILE, r->runs[0].dir);
    nl_csv_table t;
    if ((rc = nl_run_csv_read(r->runs[0].dir, NL_RUN_METRICS_FILE, &t, err)))
        return rc;
    const int c_split = nl_metrics_col(&t, NL_METRICS_SPLIT), c_step = nl_metrics_col(&t, NL_METRICS_STEP);
    bool have = false;
    double last_step = 0;
    for (int i = 0; i < t.n_rows && c_split >= 0; i++) {
        have |= !strcmp(t.rows[i][c_split], "test_trainmode");
        if (c_step >= 0 && isfinite(nl_csv_num(t.rows[i][c_step])))
            last_step = fmax(last_step, nl_csv_num(t.rows[i][c_step]));
    }
    nl_csv_table_free(&t);
    if (!have)
        return pl_not_applicable(err, "train_eval_gap", "the run has no test_trainmode rows "
                              "(train.eval_trainmode is off)");
    const char *title = "Batch norm: test accuracy with running statistics (eval) and batch statistics (train mode)";
    const int width = 1100, height = 640;
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    pl_margins(s, 0.08, 0.97, 80.0 / height, L.top);
    pl_step_tics(s, last_step, true);
    char every[48];
    pl_every_complete(path, every, sizeof every);
    const char *split = nl_metrics_columns[NL_METRICS_SPLIT], *step = nl_metrics_columns[NL_METRICS_STEP],
               *accuracy = nl_metrics_columns[NL_METRICS_ACCURACY];
    nl_buf_printf(&s->gp, "set datafile missing NaN\n"
                  "set xlabel \"step (optimizer updates)\"\n"
                  "set ylabel \"test accuracy (%%)\"\n"
                  "set key bottom right\n"
                  "plot \"../" NL_RUN_METRICS_FILE "\"%s using (strcol(\"%s\") eq \"test\" ? column(\"%s\") : NaN):"
                  "(100*column(\"%s\")) with linespoints lw series_lw dt eval_dt pt eval_pt ps run_point_size "
                  "lc rgb run_color "
                  "title \"eval mode (running statistics)\", \\\n"
                  "  \"\"%s using (strcol(\"%s\") eq \"test_trainmode\" ? column(\"%s\") : NaN):"
                  "(100*column(\"%s\")) with linespoints lw series_lw dt train_dt pt train_pt ps run_point_size "
                  "lc rgb run_color "
                  "title \"train mode (batch statistics)\"\n", every, split, step, accuracy, every, split, step, accuracy);
    return pl_finish(s, err);
}

/* a series per batch-norm variant and mode (eval, train), side by side */
static void plot_modes(pl_script *s, const grouping *g, const int *ids, int n_ids, const cell_agg *eval,
                       const cell_agg *train, int nx, const char *file)
{
    char q[600];
    nl_buf_printf(&s->gp, "plot ");
    int gap_drawn = 0;
    for (int k = 0; k < n_ids; k++) {
        const char *color = n_ids == 1 ? "#1f77b4" : pl_color(g->labels[ids[k]], k);
        for (int mode = 0; mode < 2; mode++) {
            char label[400];
            snprintf(label, sizeof label, "%s%s%s", n_ids > 1 || g->n_keys ? g->labels[ids[k]] : "",
                     n_ids > 1 || g->n_keys ? ": " : "", mode ? "train mode (batch statistics)" : "eval mode (running statistics)");
            const double offset = 0.03 * (2 * k + mode - (2 * n_ids - 1) / 2.0);
            bool any = false;
            for (int xi = 0; xi < nx; xi++)
                any |= (mode ? train : eval)[ids[k] * nx + xi].a.n > 0;
            if (!any)
                continue;
            nl_buf_printf(&s->gp, "%s\"%s\" using (column(\"series\") == %d && strcol(\"mode\") eq \"%s\" ? "
                          "column(\"batch_size\")*2**(%.4f) : NaN):(column(\"mean\")):(column(\"min\")):(column(\"max\")) "
                          "with yerrorlines lw series_lw %s pt %s ps series_ps lc rgb \"%s\" title %s",
                          gap_drawn++ ? ", \\\n  " : "", file, k, mode ? "train" : "eval", offset,
                          mode ? "dt train_dt" : "dt eval_dt", mode ? "train_pt" : "eval_pt", color, pl_q(label, q, sizeof q));
        }
    }
    nl_buf_printf(&s->gp, "\n");
}

/* a sweep's batch-norm runs by batch size: eval (running statistics) and
 * train mode (batch statistics) per group and batch size, ids the groups
 * that hold batch-norm runs (renumbered 0..n_ids-1 in the figure) */
typedef struct {
    int bs, nx;
    double xs[MAX_VALUES];
    bool *use; /* the batch-norm runs */
    grouping g;
    cell_agg *eval, *train;
    int ids[MAX_SERIES], n_ids;
} gap_sweep;

/* which runs use batch norm; not applicable when none does, or none
 * measured train-mode accuracy */
static nl_code pick_batch_norm_runs(const nl_results *r, gap_sweep *gs, nl_error *err)
{
    gs->use = calloc((size_t)r->n_runs + 1, sizeof *gs->use);
    if (!gs->use)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    int n_use = 0, n_trainmode = 0;
    for (int i = 0; i < r->n_runs; i++) {
        gs->use[i] = is_batch_norm(r, &r->runs[i]);
        n_use += gs->use[i];
        n_trainmode += gs->use[i] && isfinite(r->runs[i].m[NL_RESULTS_M_TRAINMODE_ACC]);
    }
    if (n_use == 0 || n_trainmode == 0)
        return pl_not_applicable(err, "train_eval_gap", n_use == 0 ? "no run uses batch norm"
                              : "no batch-norm run measured train-mode accuracy (train.eval_trainmode is off, "
                                "or none finished)");
    return NL_OK;
}

/* groups by everything but batch size and normalizer, both modes' means */
static nl_code aggregate_modes(const nl_results *r, gap_sweep *gs, nl_error *err)
{
    const int nx = gs->nx, norm_key = nl_results_key(r, "model.norm.type");
    const int fixed[2] = {gs->bs, norm_key};
    nl_code rc = pl_group_runs(r, fixed, norm_key >= 0 ? 2 : 1, &gs->g, err);
    if (rc)
        return rc;
    gs->eval = calloc((size_t)gs->g.n * nx, sizeof *gs->eval);
    gs->train = calloc((size_t)gs->g.n * nx, sizeof *gs->train);
    if (!gs->eval || !gs->train)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    const metric_info m_eval = {NL_RESULTS_M_TEST_ACC, "test_accuracy", "", "", 100, true, false};
    const metric_info m_train = {NL_RESULTS_M_TRAINMODE_ACC, "test_trainmode_accuracy", "", "", 100, true, false};
    pl_aggregate(r, &gs->g, gs->bs, gs->xs, nx, &m_eval, gs->use, gs->eval);
    pl_aggregate(r, &gs->g, gs->bs, gs->xs, nx, &m_train, gs->use, gs->train);
    /* series that hold batch-norm runs, renumbered */
    gs->n_ids = 0;
    for (int id = 0; id < gs->g.n; id++) {
        bool any = false;
        for (int xi = 0; xi < nx; xi++)
            any |= gs->eval[id * nx + xi].a.n > 0;
        if (any)
            gs->ids[gs->n_ids++] = id;
    }
    return NL_OK;
}

static void gap_csv(const gap_sweep *gs, nl_buf *data)
{
    const int nx = gs->nx;
    nl_buf_printf(data, "series,label,mode,batch_size,mean,min,max,n\n");
    for (int k = 0; k < gs->n_ids; k++)
        for (int mode = 0; mode < 2; mode++)
            for (int xi = 0; xi < nx; xi++) {
                const int cell = gs->ids[k] * nx + xi;
                const cell_agg *c = mode ? &gs->train[cell] : &gs->eval[cell];
                char l[256], a[32], b[32], d[32];
                if (c->a.n)
                    nl_buf_printf(data, "%d,%s,%s,%g,%s,%s,%s,%d\n", k,
                                  pl_cell_text(gs->g.labels[gs->ids[k]], l, sizeof l), mode ? "train" : "eval",
                                  gs->xs[xi], pl_fmt_num(a, sizeof a, pl_agg_mean(&c->a)),
                                  pl_fmt_num(b, sizeof b, c->a.min), pl_fmt_num(d, sizeof d, c->a.max), c->a.n);
            }
}

static nl_code gap_script(const nl_results *r, const gap_sweep *gs, const char *file, pl_script *s, nl_error *err)
{
    const char *title = "Batch norm: test accuracy in eval mode (running statistics) vs train mode (batch statistics)";
    const int width = 1150, height = 680, nx = gs->nx;
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    pl_margins(s, 0.08, 0.70, 90.0 / height, L.top);
    /* tics at the batch sizes batch-norm runs have */
    double used_x[MAX_VALUES];
    int n_used = 0;
    for (int xi = 0; xi < nx; xi++) {
        bool any = false;
        for (int k = 0; k < gs->n_ids; k++)
            any |= gs->eval[gs->ids[k] * nx + xi].a.n > 0;
        if (any)
            used_x[n_used++] = gs->xs[xi];
    }
    pl_batch_tics(s, used_x, n_used);
    nl_buf_printf(&s->gp, "set xlabel \"batch size (samples per step, log2 scale)\"\n"
                  "set ylabel \"final test accuracy (%%)\"\n");
    pl_key_outside(s);
    char foot[1300], spread[128];
    pl_spread_note(r, "bars", spread, sizeof spread);
    pl_join_notes(foot, sizeof foot, spread, "train mode normalizes each test batch with its own statistics");
    pl_unfinished_left_out(r, gs->use, s, foot, sizeof foot);
    pl_footnote(s, &L, foot);
    plot_modes(s, &gs->g, gs->ids, gs->n_ids, gs->eval, gs->train, nx, file);
    return pl_finish(s, err);
}

nl_code pl_train_eval_gap(const nl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    (void)spec;
    if (!r->sweep)
        return single_run(r, s, err);
    gap_sweep gs = {0};
    nl_code rc = pl_need_varied(r, "train_eval_gap", "train.batch_size", &gs.bs, gs.xs, &gs.nx, err);
    if (rc)
        return rc;
    nl_buf data = {0};
    char file[128];
    if ((rc = pick_batch_norm_runs(r, &gs, err)) || (rc = aggregate_modes(r, &gs, err)))
        goto done;
    gap_csv(&gs, &data);
    if (!(rc = pl_write_kind_data(s, &data, file, sizeof file, err)))
        rc = gap_script(r, &gs, file, s, err);
done:
    free(gs.use);
    free(gs.eval);
    free(gs.train);
    nl_buf_free(&data);
    pl_ungroup(&gs.g);
    return rc;
}
