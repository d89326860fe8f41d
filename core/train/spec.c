#include "train/spec.h"

#include <string.h>

static const nl_name_entry device_data_entries[] = {
    [NL_DEVICE_DATA_AUTO] = {"auto", "on the GPU when the dataset fits in 3/4 of its free memory, "
                                     "else from host memory"},
    [NL_DEVICE_DATA_ON] = {"on", "on the GPU; a dataset that does not fit is an error"},
    [NL_DEVICE_DATA_OFF] = {"off", "every batch uploaded from host memory"},
};
_Static_assert(sizeof device_data_entries / sizeof device_data_entries[0] == NL_DEVICE_DATA_COUNT,
               "device_data table");
const nl_name_table nl_device_data_names = {"device data", device_data_entries,
                                            NL_DEVICE_DATA_COUNT, 0};

static const nl_name_entry cuda_graph_entries[] = {
    [NL_CUDA_GRAPH_OFF] = {"off", "every step's kernels launched one by one"},
    [NL_CUDA_GRAPH_AUTO] = {"auto", "device cuda, one process: the step recorded once as a CUDA "
                                    "graph and replayed"},
};
_Static_assert(sizeof cuda_graph_entries / sizeof cuda_graph_entries[0] == NL_CUDA_GRAPH_COUNT,
               "cuda_graph table");
const nl_name_table nl_cuda_graph_names = {"cuda graph mode", cuda_graph_entries,
                                           NL_CUDA_GRAPH_COUNT, 0};

static const nl_name_entry trace_mode_entries[] = {
    [NL_TRACE_EVAL] = {"eval", "between steps, on the first train.trace.samples test images in "
                               "eval mode"},
    [NL_TRACE_TRAIN] = {"train", "in the traced step, on its own training batch as its forward "
                                 "computed it (batch statistics, noise, dropout)"},
};
_Static_assert(sizeof trace_mode_entries / sizeof trace_mode_entries[0] == NL_TRACE_MODE_COUNT,
               "trace mode table");
const nl_name_table nl_trace_mode_names = {"trace mode", trace_mode_entries, NL_TRACE_MODE_COUNT,
                                           0};

void nl_train_spec_defaults(nl_train_spec *train)
{
    memset(train, 0, sizeof *train);
    train->batch_size = 32;
    train->eval_batch_size = 500;
    train->epochs = 1;
    train->steps = 0;
    nl_optim_spec_defaults(&train->optimizer, NL_OPTIM_SGD);
    train->clip_grad_norm = 0.0f;
    nl_schedule_spec_defaults(&train->schedule);
    train->eval_every = 200;
    train->log_every = 20;
    train->diverge_loss = 1e3f;
    train->eval_trainmode = true;
    train->trace.activation[0] = '\0';
    train->trace.unit = 0;
    train->trace.every = 50;
    train->trace.percentiles[0] = 15.0f;
    train->trace.percentiles[1] = 50.0f;
    train->trace.percentiles[2] = 85.0f;
    train->trace.n_percentiles = 3;
    train->trace.samples = 1000;
    train->trace.mode = NL_TRACE_EVAL;
}
