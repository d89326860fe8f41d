/* A run's scalars as TensorBoard events: the tags of metrics.csv's and
 * series.csv's values, shared by normlab export tensorboard and the file a
 * run writes as it trains (train.log.tensorboard), and a run directory's
 * CSV files as one stream of events. */
#ifndef NL_TB_SCALARS_H
#define NL_TB_SCALARS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "log/files.h"
#include "tensorboard/tfevents.h"

/* the scalar tag of a metrics.csv column in a row of `split`: false when
 * the column is not a scalar there (step, split, epoch and elapsed_s are
 * the event's step and time; lr is the train rows') */
bool nl_tb_metric_tag(const char *split, const char *column, char *tag, size_t size);
/* the scalar tag of a series.csv row */
void nl_tb_series_tag(const char *series, const char *layer, const char *name, char *tag, size_t size);

/* The version event, then the scalars of run_dir's metrics.csv and
 * series.csv in step order, appended to out; wall times are start_time
 * plus the rows' elapsed_s. Rows a file leaves out (cut short) are noted
 * in notes (may be NULL). *n_scalars counts the scalars. */
nl_code nl_tb_run_events(const char *run_dir, double start_time, nl_tb_bytes *out, long *n_scalars,
                         nl_buf *notes, nl_error *err);

#endif
