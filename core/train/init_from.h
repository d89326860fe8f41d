/* init.from: a run that starts from another run's final model (fine-tuning)
 * rather than from its own initialization. Parameters and running
 * statistics are carried over by name, layer by layer; the classifier of a
 * model with another class count keeps its fresh initialization (a new
 * head). A resumed run's checkpoint replaces all of it, as it replaces any
 * initialization. */
#ifndef NL_TRAIN_INIT_FROM_H
#define NL_TRAIN_INIT_FROM_H

#include <stddef.h>

#include "config/config.h"
#include "model/model.h"

/* init.from names a finished run directory with a final model: otherwise
 * NL_ERR_CONFIG naming the key and where it was set. Nothing is loaded. */
nl_code nl_init_from_check(const nl_config *cfg, nl_error *err);

/* Loads init.from's final model (built on m's backend) and writes its
 * parameters and running statistics into `m` by name. A parameter or
 * statistic `m` has that the source lacks, or one of another shape, is
 * NL_ERR_CONFIG naming the layer, except the classifier when the class
 * counts differ. `note` says what was carried over. */
nl_code nl_init_from_load(const nl_config *cfg, nl_model *m, char *note, size_t note_size,
                          nl_error *err);

#endif
