/* init.from: a run that starts from another run's final model (fine-tuning)
 * rather than from its own initialization. Parameters and running
 * statistics are carried over by name, layer by layer; the classifier of a
 * model with another class count keeps its fresh initialization (a new
 * head). A resumed run's checkpoint replaces all of it, as it replaces any
 * initialization. */
#ifndef NL_TRAIN_INIT_FROM_H
#define NL_TRAIN_INIT_FROM_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "model/model.h"

/* What a run started from, as its summary.json records it: init.from as
 * the config resolved it (an absolute path) and the final model's bytes
 * hashed, so that a later reader can tell whether the source is still the
 * model the run started from. */
typedef struct {
    char path[1024];
    uint64_t model_hash; /* FNV-1a 64 (nl_checkpoint_hash) of its final.nlck */
    long long step;      /* the optimizer steps the source took */
} nl_init_from_source;

/* Everything init.from (and init.bn_*) can contradict, checked without
 * training and without writing: the config's own contradictions, then the
 * source (a finished run directory with a readable final model, not
 * `out_dir`, the directory this run would replace; NULL: not known), then
 * its final model loaded into the model this config builds (on a CPU
 * backend of one thread): every array fits by name and shape, the
 * classifier of another class count aside; each normalizer's parameters go
 * into a layer of the same kind; the policy fits the source's normalizers.
 * `vocab` > 0: a token model's vocabulary (what the text gives; 0 for
 * image data). nl_run_check calls it, so run, validate and the sweep's
 * pre-check refuse the same configs alike. Errors are NL_ERR_CONFIG
 * naming the key and where it was set. */
nl_code nl_init_from_check(const nl_config *cfg, int vocab, const char *out_dir, nl_error *err);

/* Loads init.from's final model (built on m's backend) and writes its
 * parameters and running statistics into `m` by name. A parameter or
 * statistic `m` has that the source lacks, or one of another shape, is
 * NL_ERR_CONFIG naming the layer, except the classifier when the class
 * counts differ, which keeps m's own (fresh) initialization. `note` says
 * what was carried over; `source` (may be NULL) what it came from. */
nl_code nl_init_from_load(const nl_config *cfg, nl_model *m, nl_init_from_source *source,
                          char *note, size_t note_size, nl_error *err);

#endif
