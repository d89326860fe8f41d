/* A finished run's model: its parameters, running statistics and layer
 * counters as training left them (after train.bn_recalibrate), in
 * RUN_DIR/final.nlck, written before summary.json says the run finished.
 * What `normlab eval` loads, and what a run can start from. Unlike a
 * checkpoint it holds no optimizer state and no loop state: nothing resumes
 * from it.
 *
 * Layout (little endian, this build's float): a 48-byte header
 *   "NLFINAL\0", u32 format version, u32 header bytes, u64 payload bytes,
 *   u64 CRC-32 of the whole file (the header with these 8 bytes read as
 *   zeros, then the payload: nl_checkpoint_file_crc), u64 hash of the run's
 *   config keys
 *   (nl_checkpoint_hash of nl_checkpoint_config_keys), i64 step,
 * then the payload: the config keys (i64 length, the bytes), the array sizes
 * (i64 parameter floats, state floats, counters), the parameters, the
 * running statistics and the counters (i64 each). */
#ifndef NL_FINAL_MODEL_H
#define NL_FINAL_MODEL_H

#include <stdint.h>

#include "config/config.h"
#include "config/flat.h"
#include "model/model.h"
#include "results/files.h" /* NL_FINAL_MODEL_FILE */
#include "train/checkpoint.h"

/* 2: the CRC covers every byte, the header's included (format 1's covered
 * the payload alone: its step, unchecked, could change unseen; its config
 * hash is checked against the keys in the payload). Format 1 is still read. */
#define NL_FINAL_MODEL_VERSION 2
#define NL_FINAL_MODEL_WHOLE_CRC_VERSION 2
/* its magic and the formats this build reads (nl_checkpoint_header_check) */
extern const nl_checkpoint_kind nl_final_model_kind;

/* what a final model file says of itself */
typedef struct {
    uint64_t config_hash; /* of the config keys it was written for */
    int64_t step;         /* optimizer steps the run took */
} nl_final_model_info;

/* Writes DIR/final.nlck (atomically) from the model's arrays; `config_keys`
 * as for nl_checkpoint_write. */
nl_code nl_final_model_write(const char *dir, const char *config_keys, const nl_model *m,
                             long step, nl_error *err);

/* Reads DIR/final.nlck into the model (parameters, running statistics,
 * counters; the optimizer state is left). A missing file is NL_ERR_USAGE;
 * a damaged, truncated or foreign file, one whose arrays do not fit this
 * model, or one written for another config (a key both it and `config`
 * hold, the device aside, has another value; NULL: not compared) is
 * NL_ERR_DATA naming the file and what is wrong, and leaves the model as
 * it was. */
nl_code nl_final_model_read(const char *dir, const nl_flat *config, nl_model *m,
                            nl_final_model_info *info, nl_error *err);

/* A finished run directory whose final model can be read: normlab's, with
 * its config.yaml, not held by a writer, its summary.json saying ok or
 * diverged (nl_summary_read's verdict, as `show` gives it). NL_ERR_USAGE
 * saying which it is not; NL_ERR_DATA naming summary.json when it is torn. */
nl_code nl_final_model_check_run(const char *dir, nl_error *err);

/* What a finished run's summary.json says of where it trained and how it
 * ended: the device's name ("" when not recorded) and the final test
 * accuracy (NaN when absent) */
typedef struct {
    char device[32];
    double final_test_accuracy;
} nl_final_run_summary;
void nl_final_model_summary(const char *dir, nl_final_run_summary *out);

/* The model of run directory `dir`'s config (`cfg`, its config.yaml loaded)
 * built on `be` for batches of up to `capacity`, with its final model read
 * into it (nl_final_model_read's errors). */
nl_code nl_final_model_load(const char *dir, const nl_config *cfg, nl_backend *be, int capacity,
                            nl_model **out, nl_final_model_info *info, nl_error *err);
/* The same with the model built from `spec` instead of the config's: the
 * run's model with what does not change its arrays changed (a token model's
 * context, the vocabulary a text gives); the file is still checked against
 * `cfg` */
nl_code nl_final_model_load_spec(const char *dir, const nl_config *cfg, const nl_model_spec *spec,
                                 nl_backend *be, int capacity, nl_model **out,
                                 nl_final_model_info *info, nl_error *err);

#endif
