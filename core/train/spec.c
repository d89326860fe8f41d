#include "train/spec.h"

#include <string.h>

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
}
