/* The train_eval_gap kind: batch norm's test accuracy with running
 * statistics (eval mode) and batch statistics (train mode). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/common.h"

static bool is_batch_norm(const pl_results *r, const pl_run *run)
{
    const char *norm = pl_value(r, run, "model.norm.type");
    return norm && !strcmp(norm, "batch");
}

/* a single run: both accuracies against step, from its metrics.csv */
static nl_code single_run(const pl_results *r, pl_script *s, nl_error *err)
{
    nl_code rc;
    if (!is_batch_norm(r, &r->runs[0]))
        return pl_not_applicable(err, "train_eval_gap", "the run does not use batch norm");
    char path[1300];
    snprintf(path, sizeof path, "%s/metrics.csv", r->runs[0].dir);
    pl_table t;
    if ((rc = pl_table_read(path, &t, err)))
        return rc;
    const int c_split = pl_table_col(&t, "split"), c_step = pl_table_col(&t, "step");
    bool have = false;
    double last_step = 0;
    for (int i = 0; i < t.n_rows && c_split >= 0; i++) {
        have |= !strcmp(t.rows[i][c_split], "test_trainmode");
        if (c_step >= 0 && isfinite(pl_num(t.rows[i][c_step])))
            last_step = fmax(last_step, pl_num(t.rows[i][c_step]));
    }
    pl_table_free(&t);
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
    nl_buf_printf(&s->gp, "set datafile missing NaN\n"
                  "set xlabel \"step (optimizer updates)\"\n"
                  "set ylabel \"test accuracy (%%)\"\n"
                  "set key bottom right\n"
                  "plot \"../metrics.csv\"%s using (strcol(\"split\") eq \"test\" ? column(\"step\") : NaN):"
                  "(100*column(\"accuracy\")) with linespoints lw series_lw dt eval_dt pt eval_pt ps run_point_size "
                  "lc rgb run_color "
                  "title \"eval mode (running statistics)\", \\\n"
                  "  \"\"%s using (strcol(\"split\") eq \"test_trainmode\" ? column(\"step\") : NaN):"
                  "(100*column(\"accuracy\")) with linespoints lw series_lw dt train_dt pt train_pt ps run_point_size "
                  "lc rgb run_color "
                  "title \"train mode (batch statistics)\"\n", every, every);
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

nl_code pl_train_eval_gap(const pl_results *r, const nl_plot_spec *spec, pl_script *s, nl_error *err)
{
    (void)spec;
    nl_code rc;
    if (!r->sweep)
        return single_run(r, s, err);
    double xs[MAX_VALUES];
    int bs, nx;
    if ((rc = pl_need_varied(r, "train_eval_gap", "train.batch_size", &bs, xs, &nx, err)))
        return rc;
    bool *use = calloc((size_t)r->n_runs + 1, sizeof *use);
    if (!use)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    int n_use = 0, n_trainmode = 0;
    for (int i = 0; i < r->n_runs; i++) {
        use[i] = is_batch_norm(r, &r->runs[i]);
        n_use += use[i];
        n_trainmode += use[i] && isfinite(r->runs[i].m[PL_M_TRAINMODE_ACC]);
    }
    grouping g = {0};
    cell_agg *eval = NULL, *train = NULL;
    nl_buf data = {0};
    if (n_use == 0 || n_trainmode == 0) {
        rc = pl_not_applicable(err, "train_eval_gap", n_use == 0 ? "no run uses batch norm"
                            : "no batch-norm run measured train-mode accuracy (train.eval_trainmode is off, "
                              "or none finished)");
        goto done;
    }
    const int norm_key = pl_key(r, "model.norm.type");
    const int fixed[2] = {bs, norm_key};
    if ((rc = pl_group_runs(r, fixed, norm_key >= 0 ? 2 : 1, &g, err)))
        goto done;
    eval = calloc((size_t)g.n * nx, sizeof *eval);
    train = calloc((size_t)g.n * nx, sizeof *train);
    if (!eval || !train) {
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        goto done;
    }
    const metric_info m_eval = {PL_M_TEST_ACC, "test_accuracy", "", "", 100, true, false};
    const metric_info m_train = {PL_M_TRAINMODE_ACC, "test_trainmode_accuracy", "", "", 100, true, false};
    pl_aggregate(r, &g, bs, xs, nx, &m_eval, use, eval);
    pl_aggregate(r, &g, bs, xs, nx, &m_train, use, train);
    /* series that hold batch-norm runs, renumbered */
    int ids[MAX_SERIES], n_ids = 0;
    for (int id = 0; id < g.n; id++) {
        bool any = false;
        for (int xi = 0; xi < nx; xi++)
            any |= eval[id * nx + xi].a.n > 0;
        if (any)
            ids[n_ids++] = id;
    }
    nl_buf_printf(&data, "series,label,mode,batch_size,mean,min,max,n\n");
    for (int k = 0; k < n_ids; k++)
        for (int mode = 0; mode < 2; mode++)
            for (int xi = 0; xi < nx; xi++) {
                const cell_agg *c = mode ? &train[ids[k] * nx + xi] : &eval[ids[k] * nx + xi];
                char l[256], a[32], b[32], d[32];
                if (c->a.n)
                    nl_buf_printf(&data, "%d,%s,%s,%g,%s,%s,%s,%d\n", k, pl_cell_text(g.labels[ids[k]], l, sizeof l),
                                  mode ? "train" : "eval", xs[xi], pl_fmt_num(a, sizeof a, pl_agg_mean(&c->a)),
                                  pl_fmt_num(b, sizeof b, c->a.min), pl_fmt_num(d, sizeof d, c->a.max), c->a.n);
            }
    char file[128];
    snprintf(file, sizeof file, "%s.csv", s->name);
    if ((rc = pl_write_data(s, file, &data, err)))
        goto done;
    const char *title = "Batch norm: test accuracy in eval mode (running statistics) vs train mode (batch statistics)";
    const int width = 1150, height = 680;
    pl_header(s, title, width, height);
    layout L = pl_title_block(s, r, title, width, height);
    pl_margins(s, 0.08, 0.70, 90.0 / height, L.top);
    double used_x[MAX_VALUES];
    int n_used = 0;
    for (int xi = 0; xi < nx; xi++) {
        bool any = false;
        for (int k = 0; k < n_ids; k++)
            any |= eval[ids[k] * nx + xi].a.n > 0;
        if (any)
            used_x[n_used++] = xs[xi];
    }
    pl_batch_tics(s, used_x, n_used);
    nl_buf_printf(&s->gp, "set xlabel \"batch size (samples per step, log2 scale)\"\n"
                  "set ylabel \"final test accuracy (%%)\"\n");
    pl_key_outside(s);
    {
        char foot[1300], spread[128];
        pl_spread_note(r, "bars", spread, sizeof spread);
        pl_join_notes(foot, sizeof foot, spread, "train mode normalizes each test batch with its own statistics");
        pl_unfinished_left_out(r, use, s, foot, sizeof foot);
        pl_footnote(s, &L, foot);
    }
    plot_modes(s, &g, ids, n_ids, eval, train, nx, file);
    rc = pl_finish(s, err);
done:
    free(use);
    free(eval);
    free(train);
    nl_buf_free(&data);
    pl_ungroup(&g);
    return rc;
}
