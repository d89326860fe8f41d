/* A run's steady state from its metrics.csv (see run_records.h). */
#include "bench/run_records.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/name_table.h"
#include "base/number.h"
#include "log/files.h"
#include "results/metrics.h"

static const nl_name_entry torch_mode_entries[] = {
    [NL_TORCH_EAGER] = {"eager", "PyTorch eager, op by op"},
    [NL_TORCH_COMPILE] = {"compile", "torch.compile's default mode (inductor), compiled before the clock starts"},
    [NL_TORCH_MAX_AUTOTUNE] = {"max-autotune", "torch.compile(mode='max-autotune'), compiled before the clock starts"},
    [NL_TORCH_BEST] = {"best", "each of the above (a compiled mode left out where it does not compile), the fastest per round"},
};
NL_NAME_TABLE(nl_torch_mode_names, "torch mode", torch_mode_entries, NL_TORCH_MODE_COUNT);

typedef struct {
    long step;
    double t;
    bool train;
} rec_row;

/* the next comma-separated field of *p (no quotes in the columns read) */
static char *next_field(char **p)
{
    char *start = *p;
    if (!start)
        return NULL;
    char *comma = strchr(start, ',');
    if (comma) {
        *comma = '\0';
        *p = comma + 1;
    } else {
        *p = NULL;
    }
    return start;
}

double nl_bench_steady_steps_per_s(const nl_bench_run_records *r)
{
    return r->steady_s > 0 ? (double)r->steady_steps / r->steady_s : 0.0;
}

/* the columns read, by their index in the header */
typedef struct {
    int step, split, t;
} rec_columns;

typedef struct {
    rec_row *rows;
    long n, cap;
} rec_rows;

/* the header line: where step, split and elapsed_s are */
static nl_code read_header(char *line, const char *path, rec_columns *cols, nl_error *err)
{
    *cols = (rec_columns){-1, -1, -1};
    char *p = line;
    int col = 0;
    for (char *f = next_field(&p); f; f = next_field(&p), col++) {
        if (!strcmp(f, nl_metrics_columns[NL_METRICS_STEP]))
            cols->step = col;
        else if (!strcmp(f, nl_metrics_columns[NL_METRICS_SPLIT]))
            cols->split = col;
        else if (!strcmp(f, nl_metrics_columns[NL_METRICS_ELAPSED_S]))
            cols->t = col;
    }
    if (cols->step < 0 || cols->split < 0 || cols->t < 0)
        return nl_fail(err, NL_ERR_DATA, "%s: the header lacks %s", path,
                       cols->step < 0 ? "'step'" : cols->split < 0 ? "'split'" : "'elapsed_s'");
    return NL_OK;
}

/* a data line, which must follow the rows before it in time and steps */
static nl_code read_row(char *line, const char *path, long line_no, const rec_columns *cols,
                        const rec_rows *before, rec_row *out, nl_error *err)
{
    rec_row r = {0};
    bool have_step = false, have_split = false, have_t = false;
    char *p = line;
    int col = 0;
    for (char *f = next_field(&p); f; f = next_field(&p), col++) {
        char *end;
        if (col == cols->step) {
            long long step = 0;
            have_step = nl_parse_ll(f, 0, LONG_MAX, &step);
            r.step = (long)step;
        } else if (col == cols->split) {
            r.train = !strcmp(f, "train");
            have_split = *f != '\0';
        } else if (col == cols->t) {
            r.t = strtod(f, &end);
            have_t = *f && !*end && isfinite(r.t) && r.t >= 0;
        }
    }
    if (!have_step || !have_split || !have_t)
        return nl_fail(err, NL_ERR_DATA, "%s:%ld: no %s", path, line_no,
                       !have_step ? "step count" : !have_split ? "split" : "elapsed seconds");
    const rec_row *last = before->n > 0 ? &before->rows[before->n - 1] : NULL;
    if (last && (r.t < last->t || r.step < last->step))
        return nl_fail(err, NL_ERR_DATA, "%s:%ld: %s goes backwards", path, line_no,
                       r.t < last->t ? "elapsed_s" : "step");
    *out = r;
    return NL_OK;
}

/* every row of metrics.csv's text (split up in place) */
static nl_code read_rows(char *text, const char *path, rec_rows *list, nl_error *err)
{
    rec_columns cols = {-1, -1, -1}; /* set by the header, the first line */
    long line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        line[strcspn(line, "\r")] = '\0';
        if (line_no == 1) {
            if (read_header(line, path, &cols, err) != NL_OK)
                return err->code;
            continue;
        }
        if (!line[0])
            continue;
        rec_row r;
        if (read_row(line, path, line_no, &cols, list, &r, err) != NL_OK)
            return err->code;
        if (list->n == list->cap) {
            long cap = list->cap ? 2 * list->cap : 256;
            rec_row *grown = realloc(list->rows, (size_t)cap * sizeof *list->rows);
            if (!grown)
                return nl_fail(err, NL_ERR_NOMEM, "%s: out of memory", path);
            list->rows = grown;
            list->cap = cap;
        }
        list->rows[list->n++] = r;
    }
    return NL_OK;
}

/* the totals of `out` over the rows: the train rows and the steps, and the
 * steady intervals between consecutive train rows */
static void time_steady_state(const rec_row *rows, long n, double skip_fraction, nl_bench_run_records *out)
{
    long last_train = -1;
    for (long i = 0; i < n; i++) {
        if (rows[i].train) {
            out->train_rows++;
            last_train = i;
        }
        out->wall_s = rows[i].t;
    }
    out->steps = last_train >= 0 ? rows[last_train].step : 0;
    /* the warm-up: the first window (up to the first train row) always,
     * and the first skip_fraction of the steps */
    const long skip = (long)ceil(skip_fraction * (double)out->steps);
    long a = -1; /* the interval's opening train row */
    out->first_step = out->last_step = -1;
    for (long i = 0; i < n; i++) {
        if (!rows[i].train)
            continue;
        if (a >= 0 && rows[a].step >= skip) {
            /* the rows between a and i: evaluations right after a, or in
             * the middle of the interval */
            double eval_end = rows[a].t;
            bool mixed = false;
            for (long k = a + 1; k < i; k++) {
                if (rows[k].step == rows[a].step)
                    eval_end = rows[k].t;
                else
                    mixed = true;
            }
            if (mixed) {
                out->mixed++;
            } else {
                if (out->first_step < 0)
                    out->first_step = rows[a].step;
                out->last_step = rows[i].step;
                out->steady_steps += rows[i].step - rows[a].step;
                out->steady_s += rows[i].t - eval_end;
                out->eval_s += eval_end - rows[a].t;
                out->intervals++;
            }
        }
        a = i;
    }
}

nl_code nl_bench_read_run_records(const char *path, double skip_fraction,
                                  nl_bench_run_records *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!(skip_fraction >= 0.0 && skip_fraction < 1.0))
        return nl_fail(err, NL_ERR_USAGE, "the warm-up share %g is not in [0, 1)", skip_fraction);
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_read_file(path, &text, &len, err);
    if (rc)
        return rc;
    rec_rows list = {0};
    rc = read_rows(text, path, &list, err);
    if (rc == NL_OK) {
        time_steady_state(list.rows, list.n, skip_fraction, out);
        if (out->intervals == 0 || out->steady_steps == 0 || !(out->steady_s > 0))
            rc = nl_fail(err, NL_ERR_DATA,
                         "%s: no steady state to time: %ld train rows over %ld steps, none after the "
                         "first window and the first %.0f%% of the steps with no evaluation in its "
                         "middle (more train.steps, or a train.log_every that divides "
                         "train.eval_every, gives some)",
                         path, out->train_rows, out->steps, 100.0 * skip_fraction);
    }
    free(list.rows);
    free(text);
    return rc;
}
