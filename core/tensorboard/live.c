#include "tensorboard/live.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/files.h"
#include "results/metrics.h"
#include "results/series.h"
#include "tensorboard/scalars.h"

/* seconds since the epoch: an event's wall time */
static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the row's text in `column`, NULL when the file has no such column */
static const char *field(const nl_output_row *row, const char *column)
{
    for (int c = 0; c < row->n; c++)
        if (!strcmp(row->columns[c], column))
            return row->fields[c];
    return NULL;
}

static nl_code live_clear(void *ctx, const char *dir, nl_error *err)
{
    const nl_tb_live *live = ctx;
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_TB_RUN_FILE);
    if (!live->enabled && unlink(path) != 0 && errno != ENOENT)
        return nl_fail(err, NL_ERR_IO, "cannot remove the old %s: %s", path, strerror(errno));
    return NL_OK;
}

/* the event file starts over from the CSV files as they stand (a resumed
 * run's cut back to its checkpoint), so that it holds what they hold, then
 * grows with them */
static nl_code live_open(void *ctx, const char *dir, bool resumed, nl_error *err)
{
    nl_tb_live *live = ctx;
    if (!live->enabled)
        return NL_OK;
    nl_tb_bytes start = {0};
    long n = 0;
    nl_code rc = NL_OK;
    if (resumed)
        rc = nl_tb_run_events(dir, wall_now(), &start, &n, NULL, err);
    else
        nl_tb_version_event(&start, wall_now());
    if (rc == NL_OK)
        rc = nl_tb_writer_open(&live->writer, dir, &start, err);
    nl_tb_bytes_free(&start);
    return rc;
}

/* the events hold what the CSV says: its fields, parsed back */
static nl_code live_metric(void *ctx, const nl_output_row *row, nl_error *err)
{
    nl_tb_live *live = ctx;
    const char *split = field(row, nl_metrics_columns[NL_METRICS_SPLIT]);
    nl_code rc = NL_OK;
    for (int c = 0; rc == NL_OK && live->writer.open && c < row->n; c++) {
        char tag[64];
        if (row->fields[c][0] &&
            nl_tb_metric_tag(split ? split : "train", row->columns[c], tag, sizeof tag))
            rc = nl_tb_writer_scalar(&live->writer, wall_now(), row->step, tag,
                                     strtod(row->fields[c], NULL), err);
    }
    return rc;
}

static nl_code live_series(void *ctx, const nl_output_row *row, nl_error *err)
{
    nl_tb_live *live = ctx;
    const char *series = field(row, nl_series_columns[NL_SERIES_COL_SERIES]),
               *layer = field(row, nl_series_columns[NL_SERIES_COL_LAYER]),
               *name = field(row, nl_series_columns[NL_SERIES_COL_NAME]),
               *value = field(row, nl_series_columns[NL_SERIES_COL_VALUE]);
    if (!live->writer.open || !series || !layer || !name || !value)
        return NL_OK;
    char tag[256];
    nl_tb_series_tag(series, layer, name, tag, sizeof tag);
    return nl_tb_writer_scalar(&live->writer, wall_now(), row->step, tag, strtod(value, NULL), err);
}

static nl_code live_close(void *ctx, nl_error *err)
{
    nl_tb_live *live = ctx;
    return nl_tb_writer_close(&live->writer, err);
}

nl_output_sink nl_tb_live_sink(nl_tb_live *live, bool enabled)
{
    memset(live, 0, sizeof *live);
    live->enabled = enabled;
    live->writer.fd = -1;
    return (nl_output_sink){live, live_clear, live_open, live_metric, live_series, live_close};
}
