#include "config/train_spec.h"

#include <string.h>

#include "base/name_table.h"

static const nl_name_entry device_data_entries[] = {
    [NL_DEVICE_DATA_AUTO] = {"auto", "on the GPU when the dataset fits in 3/4 of its free memory, "
                                     "else from host memory"},
    [NL_DEVICE_DATA_ON] = {"on", "on the GPU; a dataset that does not fit is an error"},
    [NL_DEVICE_DATA_OFF] = {"off", "every batch uploaded from host memory"},
};
NL_NAME_TABLE(nl_device_data_names, "device data", device_data_entries, NL_DEVICE_DATA_COUNT);

static const nl_name_entry cuda_graph_entries[] = {
    [NL_CUDA_GRAPH_OFF] = {"off", "every step's kernels launched one by one"},
    [NL_CUDA_GRAPH_AUTO] = {"auto", "device cuda, one process: the step recorded once as a CUDA "
                                    "graph and replayed"},
};
NL_NAME_TABLE(nl_cuda_graph_names, "cuda graph mode", cuda_graph_entries, NL_CUDA_GRAPH_COUNT);

static const nl_name_entry bn_policy_entries[] = {
    [NL_BN_POLICY_KEEP] = {"keep", "the source's running statistics, updated as training goes"},
    [NL_BN_POLICY_RESET] = {"reset", "running mean 0 and variance 1 (torch's "
                                     "reset_running_stats), then updated as training goes"},
    [NL_BN_POLICY_FREEZE] = {"freeze", "the source's running statistics used in training too, "
                                       "from step 0, and never updated"},
    [NL_BN_POLICY_RECALIBRATE] = {"recalibrate", "recomputed before the first step as the plain "
                                                 "average over init.bn_recalibrate_batches "
                                                 "training batches, weights fixed"},
    [NL_BN_POLICY_GROUP_NORM] = {"group_norm", "batch norm swapped for this config's group norm "
                                               "(model.norm.type group): gamma and beta carried "
                                               "over, the statistics dropped"},
};
NL_NAME_TABLE(nl_bn_policy_names, "batch norm policy", bn_policy_entries, NL_BN_POLICY_COUNT);

static const nl_name_entry trace_mode_entries[] = {
    [NL_TRACE_EVAL] = {"eval", "between steps, on the first train.trace.samples test images in "
                               "eval mode"},
    [NL_TRACE_TRAIN] = {"train", "in the traced step, on its own training batch as its forward "
                                 "computed it (batch statistics, noise, dropout)"},
};
NL_NAME_TABLE(nl_trace_mode_names, "trace mode", trace_mode_entries, NL_TRACE_MODE_COUNT);

void nl_loss_scale_spec_defaults(nl_loss_scale_spec *spec)
{
    /* GradScaler's defaults; enabled is resolved from train.precision */
    *spec = (nl_loss_scale_spec){.enabled = false, .init_scale = 65536.0f, .growth_factor = 2.0f,
                                 .backoff_factor = 0.5f, .growth_interval = 2000};
}

void nl_train_spec_defaults(nl_train_spec *train)
{
    memset(train, 0, sizeof *train);
    train->batch_size = 32;
    train->eval_batch_size = 500;
    train->epochs = 1;
    train->steps = 0;
    nl_optim_spec_defaults(&train->optimizer, NL_OPTIM_SGD);
    nl_loss_scale_spec_defaults(&train->loss_scale);
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
    train->trace.samples = NL_TRACE_DEFAULT_SAMPLES;
    train->signal_propagation_batches = 1;
    /* 50 batches of 32 are a few thousand samples per statistic, where the
     * average over batches stops moving much (the estimate's spread falls
     * as one over the square root of the batches) */
    train->init_bn.recalibrate_batches = 50;
    /* Santurkar et al. move along the gradient by steps around the one the
     * optimizer takes: half of it up to four times it */
    const float multiples[] = {0.5f, 1.0f, 2.0f, 4.0f};
    train->landscape.n_lr_multiples = (int)(sizeof multiples / sizeof multiples[0]);
    memcpy(train->landscape.lr_multiples, multiples, sizeof multiples);
    train->trace.mode = NL_TRACE_EVAL;
}

bool nl_train_logs_loss_scale(const nl_train_spec *train)
{
    return train->loss_scale.enabled || train->precision != NL_PRECISION_FP32;
}
