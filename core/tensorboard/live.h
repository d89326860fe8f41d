/* train.log.tensorboard: a run's metrics.csv and series.csv rows also as
 * TensorBoard events, in the run directory's NL_TB_RUN_FILE as it trains.
 * An output the command adds to the run (nl_output_sink, train/sink.h),
 * so that training includes nothing of TensorBoard's. */
#ifndef NL_TB_LIVE_H
#define NL_TB_LIVE_H

#include <stdbool.h>

#include "tensorboard/tfevents.h"
#include "train/sink.h"

typedef struct {
    bool enabled; /* train.log.tensorboard; else a stale file is all the sink removes */
    nl_tb_writer writer;
} nl_tb_live;

/* The sink writing through *live, which lives as long as the run. With
 * `enabled` false it writes nothing: it removes the event file of a run
 * before, which would pass for this run's. */
nl_output_sink nl_tb_live_sink(nl_tb_live *live, bool enabled);

#endif
