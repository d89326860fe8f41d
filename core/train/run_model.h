/* The model a run's config describes, as every surface that builds it
 * (run, eval, init.from, the final model's reader, the check) must build
 * it: a leaf below all of them, so that none needs the check to know it. */
#ifndef NL_TRAIN_RUN_MODEL_H
#define NL_TRAIN_RUN_MODEL_H

#include <stdbool.h>

#include "config/config.h"
#include "model/model.h"
#include "layers/tensor.h"

/* The model a run builds on `device`: the config's, planned (core/plan:
 * fusions off where a probe observes what they fold away or NORMLAB_FUSE=0,
 * the layout the device's convolutions run fastest in), with the freezing
 * its batch norms need; a plan the device cannot run is refused by its key.
 * nl_run_model_spec: the same on the config's own device, for a config
 * validation planned already. */
nl_code nl_run_model_plan(const nl_config *cfg, nl_device device, nl_model_spec *spec,
                          nl_error *err);
void nl_run_model_spec(const nl_config *cfg, nl_model_spec *spec);

/* whether train.trace.activation may name `act`: the tracer reads a unit
 * as a channel plane (NCHW), so tokens (N, T, D) are refused; the one test
 * that the check and `normlab show`'s list share */
bool nl_trace_accepts(const nl_act *act);
/* its batch capacity: the larger of the training and evaluation batch sizes */
int nl_run_capacity(const nl_config *cfg);

#endif
