#include "train/outputs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results/files.h"
#include "results/metrics.h"
#include "results/series.h"
#include "train/probe.h"

static bool logs_series(const nl_train_spec *train)
{
    return train->log_grad_norms || train->log_attention_logits || train->log_weight_stats ||
           train->log_switch_weights || nl_probes_write_series(train) ||
           nl_train_logs_loss_scale(train);
}

/* the grad_norm column only with train.clip_grad_norm */
static int metric_column_count(const nl_train_spec *train)
{
    return train->clip_grad_norm > 0.0f ? NL_METRICS_COLUMN_COUNT : NL_METRICS_GRAD_NORM;
}

void nl_run_outputs_init(nl_run_outputs *o, const nl_output_sink *added)
{
    memset(o, 0, sizeof *o);
    o->metrics.fd = o->trace.fd = o->series.fd = -1;
    o->added = added;
}

/* one file's share of nl_run_outputs_reach */
static nl_code output_reaches(const char *dir, const char *name, long long bytes, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, dir, name);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size >= bytes)
        return NL_OK;
    return nl_fail(err, NL_ERR_DATA, "%s has %lld bytes, fewer than the %lld it had at the "
                   "checkpoint in %s/%s; remove the checkpoint or run with --force to start over",
                   path, stat(path, &st) == 0 ? (long long)st.st_size : 0LL, bytes, dir,
                   NL_CHECKPOINT_FILE);
}

nl_code nl_run_outputs_reach(const char *dir, const nl_train_spec *train,
                             const nl_checkpoint_files *files, nl_error *err)
{
    nl_code rc = output_reaches(dir, NL_RUN_METRICS_FILE, files->metrics_bytes, err);
    if (rc == NL_OK && train->trace.activation[0])
        rc = output_reaches(dir, NL_RUN_TRACE_FILE, files->trace_bytes, err);
    if (rc == NL_OK && logs_series(train))
        rc = output_reaches(dir, NL_RUN_SERIES_FILE, files->series_bytes, err);
    return rc;
}

nl_code nl_run_outputs_remove_stale(const nl_run_outputs *o, const char *dir,
                                    const nl_train_spec *train, nl_error *err)
{
    const struct { const char *name; bool written; } optional_files[] = {
        {NL_RUN_TRACE_FILE, train->trace.activation[0] != '\0'}, {NL_RUN_SERIES_FILE, logs_series(train)}};
    char path[1100];
    for (size_t i = 0; i < sizeof optional_files / sizeof optional_files[0]; i++) {
        nl_path_join(path, sizeof path, dir, optional_files[i].name);
        if (!optional_files[i].written && unlink(path) != 0 && errno != ENOENT)
            return nl_fail(err, NL_ERR_IO, "cannot remove the old %s: %s", path, strerror(errno));
    }
    return o->added && o->added->clear ? o->added->clear(o->added->ctx, dir, err) : NL_OK;
}

/* a resumed run's files, cut back to the rows its checkpoint counted */
static nl_code continue_files(nl_run_outputs *o, const char *dir, const nl_train_spec *train,
                              const nl_checkpoint_files *files, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_RUN_METRICS_FILE);
    nl_code rc = nl_csv_continue(&o->metrics, path, metric_column_count(train),
                                 files->metrics_bytes, err);
    nl_path_join(path, sizeof path, dir, NL_RUN_TRACE_FILE);
    if (rc == NL_OK && train->trace.activation[0])
        rc = nl_csv_continue(&o->trace, path, train->trace.n_percentiles + 1, files->trace_bytes,
                             err);
    nl_path_join(path, sizeof path, dir, NL_RUN_SERIES_FILE);
    if (rc == NL_OK && logs_series(train))
        rc = nl_csv_continue(&o->series, path, NL_SERIES_COLUMN_COUNT, files->series_bytes, err);
    return rc;
}

/* a fresh run's files, with their header rows */
static nl_code open_files(nl_run_outputs *o, const char *dir, const nl_train_spec *train,
                          nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_RUN_METRICS_FILE);
    nl_code rc = nl_csv_open(&o->metrics, path, nl_metrics_columns, metric_column_count(train), err);
    nl_path_join(path, sizeof path, dir, NL_RUN_SERIES_FILE);
    if (rc == NL_OK && logs_series(train))
        rc = nl_csv_open(&o->series, path, nl_series_columns, NL_SERIES_COLUMN_COUNT, err);
    if (rc || !train->trace.activation[0])
        return rc;
    char columns[NL_MAX_PERCENTILES + 1][16];
    const char *names[NL_MAX_PERCENTILES + 1] = {nl_metrics_columns[NL_METRICS_STEP]};
    for (int i = 0; i < train->trace.n_percentiles; i++) {
        snprintf(columns[i], sizeof columns[i], "p%g", train->trace.percentiles[i]);
        names[i + 1] = columns[i];
    }
    nl_path_join(path, sizeof path, dir, NL_RUN_TRACE_FILE);
    return nl_csv_open(&o->trace, path, names, train->trace.n_percentiles + 1, err);
}

nl_code nl_run_outputs_open(nl_run_outputs *o, const char *dir, const nl_train_spec *train,
                            const nl_checkpoint_files *resumed, nl_error *err)
{
    nl_code rc = resumed ? continue_files(o, dir, train, resumed, err)
                         : open_files(o, dir, train, err);
    if (rc || !o->added)
        return rc;
    rc = o->added->open ? o->added->open(o->added->ctx, dir, resumed != NULL, err) : NL_OK;
    o->added_open = rc == NL_OK;
    return rc;
}

nl_code nl_run_outputs_sync(const nl_run_outputs *o, nl_checkpoint_files *files, nl_error *err)
{
    const nl_csv *written[] = {&o->metrics, &o->trace, &o->series};
    for (size_t i = 0; i < sizeof written / sizeof written[0]; i++)
        if (written[i]->open && fsync(written[i]->fd) != 0)
            return nl_fail(err, NL_ERR_IO, "cannot write %s: %s", written[i]->path,
                           strerror(errno));
    files->metrics_bytes = o->metrics.size;
    files->trace_bytes = o->trace.open ? o->trace.size : 0;
    files->series_bytes = o->series.open ? o->series.size : 0;
    return NL_OK;
}

nl_code nl_run_outputs_metric(nl_run_outputs *o, const nl_metric_row *row, nl_error *err)
{
    char step[32], epoch[32], loss[32], acc[32], lr[32], elapsed[32], grad_norm[32] = "";
    snprintf(step, sizeof step, "%ld", row->step);
    snprintf(epoch, sizeof epoch, "%.4f", row->epoch);
    nl_fmt_float(loss, sizeof loss, row->loss);
    nl_fmt_float(acc, sizeof acc, row->accuracy);
    snprintf(lr, sizeof lr, "%.7g", row->lr); /* a float: 7 digits are all it has */
    snprintf(elapsed, sizeof elapsed, "%.3f", row->elapsed_s);
    if (!isnan(row->grad_norm))
        nl_fmt_float(grad_norm, sizeof grad_norm, row->grad_norm);
    /* the last field is read only when the file has the grad_norm column */
    const char *fields[] = {step, epoch, nl_name_of(&nl_split_names, row->split), loss, acc, lr,
                            elapsed, grad_norm};
    nl_code rc = nl_csv_row(&o->metrics, fields, err);
    /* the added output takes what the file says */
    const nl_output_row text = {row->step, nl_metrics_columns, fields, o->metrics.columns};
    if (rc == NL_OK && o->added_open && o->added->metric)
        rc = o->added->metric(o->added->ctx, &text, err);
    return rc;
}

nl_code nl_run_outputs_trace(nl_run_outputs *o, long step, const double *values, int n,
                             nl_error *err)
{
    char cells[NL_MAX_PERCENTILES + 1][32];
    const char *fields[NL_MAX_PERCENTILES + 1];
    snprintf(cells[0], sizeof cells[0], "%ld", step);
    fields[0] = cells[0];
    for (int i = 0; i < n; i++) {
        nl_fmt_float(cells[i + 1], sizeof cells[i + 1], values[i]);
        fields[i + 1] = cells[i + 1];
    }
    return nl_csv_row(&o->trace, fields, err);
}

nl_code nl_run_outputs_series(nl_run_outputs *o, long step, nl_series_kind kind, int layer,
                              const char *name, double value, nl_error *err)
{
    char step_s[32], layer_s[16], value_s[32];
    snprintf(step_s, sizeof step_s, "%ld", step);
    snprintf(layer_s, sizeof layer_s, "%d", layer);
    const char *fields[] = {step_s, nl_name_of(&nl_series_names, kind), layer_s, name,
                            nl_fmt_float(value_s, sizeof value_s, value)};
    nl_code rc = nl_csv_row(&o->series, fields, err);
    const nl_output_row text = {step, nl_series_columns, fields, NL_SERIES_COLUMN_COUNT};
    if (rc == NL_OK && o->added_open && o->added->series)
        rc = o->added->series(o->added->ctx, &text, err);
    return rc;
}

nl_code nl_run_outputs_close(nl_run_outputs *o, nl_error *err)
{
    nl_error close_err = {0};
    nl_csv_close(&o->metrics, &close_err);
    nl_csv_close(&o->trace, &close_err);
    nl_csv_close(&o->series, &close_err);
    if (o->added_open && o->added->close)
        o->added->close(o->added->ctx, &close_err);
    o->added_open = false;
    if (close_err.code != NL_OK && err)
        *err = close_err;
    return close_err.code;
}
