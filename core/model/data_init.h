/* model.param_norm.data_init: the parameter normalizers' data-dependent
 * initialization (Salimans & Kingma 2016, section 3), run once on a fresh
 * run's first training batch. */
#ifndef NL_MODEL_DATA_INIT_H
#define NL_MODEL_DATA_INIT_H

#include "model/model.h"

/* With the batch of n samples loaded: for each weight layer whose row has
 * a data_init, in the model's order, a forward (batch statistics, running
 * statistics untouched) and the row's rescaling from the layer's per-unit
 * output mean and std, so that each layer sees the ones before it already
 * initialized. The model's loss metrics are reset after. One process only:
 * ranks would each see their own slice. */
nl_code nl_model_param_norm_data_init(nl_model *m, int n, nl_error *err);

#endif
