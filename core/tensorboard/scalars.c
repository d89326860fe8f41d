/* A run's metrics.csv and series.csv as TensorBoard scalars (scalars.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "results/files.h"
#include "results/metrics.h"
#include "results/series.h"
#include "results/store.h"
#include "results/table.h"
#include "tensorboard/scalars.h"

/* metrics.csv's columns that are no scalar of every split: the event's
 * step and time, the row's split, and the learning rate (train rows) */
static const struct {
    nl_metrics_column column;
    const char *split; /* NULL: never a scalar; else only in this split's rows */
} not_per_split[] = {
    {NL_METRICS_STEP, NULL}, {NL_METRICS_SPLIT, NULL}, {NL_METRICS_EPOCH, NULL}, {NL_METRICS_ELAPSED_S, NULL},
    {NL_METRICS_LR, "train"},
};

bool nl_tb_metric_tag(const char *split, const char *column, char *tag, size_t size)
{
    for (size_t i = 0; i < sizeof not_per_split / sizeof not_per_split[0]; i++)
        if (!strcmp(column, nl_metrics_columns[not_per_split[i].column]) &&
            (!not_per_split[i].split || strcmp(split, not_per_split[i].split)))
            return false;
    snprintf(tag, size, "%s/%s", split, column);
    return true;
}

void nl_tb_series_tag(const char *series, const char *layer, const char *name, char *tag, size_t size)
{
    snprintf(tag, size, "%s/%s/%s", series, layer, name);
}

/* one file's rows as read; absent files have no rows */
typedef struct {
    nl_csv_table t;
    int step, split, elapsed, series, layer, name, value;
    int row;
} csv_rows;

static nl_code read_rows(const char *dir, const char *file, csv_rows *f, nl_buf *notes, nl_error *err)
{
    memset(f, 0, sizeof *f);
    char path[1300], problem[1600];
    nl_path_join(path, sizeof path, dir, file);
    if (!nl_run_file_exists(dir, file))
        return NL_OK;
    nl_code rc = nl_run_csv_read(dir, file, &f->t, err);
    if (rc)
        return rc;
    if (notes && nl_csv_table_problem(&f->t, path, problem, sizeof problem)[0])
        nl_buf_printf(notes, "%s\n", problem);
    /* metrics.csv's and series.csv's step columns have one name */
    f->step = nl_metrics_col(&f->t, NL_METRICS_STEP);
    f->split = nl_metrics_col(&f->t, NL_METRICS_SPLIT);
    f->elapsed = nl_metrics_col(&f->t, NL_METRICS_ELAPSED_S);
    f->series = nl_series_col(&f->t, NL_SERIES_COL_SERIES);
    f->layer = nl_series_col(&f->t, NL_SERIES_COL_LAYER);
    f->name = nl_series_col(&f->t, NL_SERIES_COL_NAME);
    f->value = nl_series_col(&f->t, NL_SERIES_COL_VALUE);
    if (f->step < 0)
        return nl_fail(err, NL_ERR_DATA, "%s has no step column", path);
    return NL_OK;
}

/* a step that is no count (a torn row) is 0, as atol read it before */
static long step_of(const csv_rows *f, int row)
{
    long long step = 0;
    return nl_parse_ll(f->t.rows[row][f->step], 0, LONG_MAX, &step) ? (long)step : 0;
}

/* a scalar of a cell, when it is a number ("nan" is one: a diverged loss) */
static bool scalar(nl_tb_bytes *out, double wall, long step, const char *tag, const char *cell, long *n)
{
    char *end;
    const double v = strtod(cell, &end);
    if (!cell[0] || *end)
        return false;
    nl_tb_scalar_event(out, wall, step, tag, (float)v);
    ++*n;
    return true;
}

static void metrics_row(const csv_rows *m, int r, double wall, nl_tb_bytes *out, long *n)
{
    const char *split = m->split >= 0 ? m->t.rows[r][m->split] : "train";
    for (int c = 0; c < m->t.n_cols; c++) {
        char tag[256];
        if (nl_tb_metric_tag(split, m->t.header[c], tag, sizeof tag))
            scalar(out, wall, step_of(m, r), tag, m->t.rows[r][c], n);
    }
}

static void series_row(const csv_rows *s, int r, double wall, nl_tb_bytes *out, long *n)
{
    if (s->series < 0 || s->layer < 0 || s->name < 0 || s->value < 0)
        return;
    char tag[512];
    nl_tb_series_tag(s->t.rows[r][s->series], s->t.rows[r][s->layer], s->t.rows[r][s->name], tag, sizeof tag);
    scalar(out, wall, step_of(s, r), tag, s->t.rows[r][s->value], n);
}

nl_code nl_tb_run_events(const char *run_dir, double start_time, nl_tb_bytes *out, long *n_scalars,
                         nl_buf *notes, nl_error *err)
{
    csv_rows m = {0}, s = {0};
    *n_scalars = 0;
    const double start = isfinite(start_time) ? start_time : 0.0;
    nl_tb_version_event(out, start);
    nl_code rc = read_rows(run_dir, NL_RUN_METRICS_FILE, &m, notes, err);
    if (rc == NL_OK)
        rc = read_rows(run_dir, NL_RUN_SERIES_FILE, &s, notes, err);
    double wall = start;
    /* both files in step order, metrics first at a step; a series row
     * takes the time of the last metrics row before it */
    while (rc == NL_OK && (m.row < m.t.n_rows || s.row < s.t.n_rows)) {
        const bool take_metrics =
            m.row < m.t.n_rows && (s.row >= s.t.n_rows || step_of(&m, m.row) <= step_of(&s, s.row));
        if (take_metrics) {
            const double elapsed = m.elapsed >= 0 ? nl_csv_num(m.t.rows[m.row][m.elapsed]) : NAN;
            if (isfinite(elapsed))
                wall = start + elapsed;
            metrics_row(&m, m.row++, wall, out, n_scalars);
        } else {
            series_row(&s, s.row++, wall, out, n_scalars);
        }
    }
    nl_csv_table_free(&m.t);
    nl_csv_table_free(&s.t);
    if (rc == NL_OK && out->failed)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory building %s's events", run_dir);
    return rc;
}
