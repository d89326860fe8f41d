/* TensorBoard's event files, written by hand: TFRecord framing (a record
 * is its length as a little-endian uint64, the masked CRC32C of those 8
 * bytes, the data and the masked CRC32C of the data) around Event
 * protocol buffers (tensorboard/compat/proto/event.proto, summary.proto),
 * encoded here field by field with varints: scalars as Summary.Value
 * simple_value, and the HParams plugin's experiment, session start and
 * session end (tensorboard/plugins/hparams/api.proto, plugin_data.proto)
 * so that its dashboard compares a sweep's runs. No protobuf library. */
#ifndef NL_TB_TFEVENTS_H
#define NL_TB_TFEVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* bytes being built: growable, or (fixed) a caller's buffer that never
 * grows, for the writer a training step calls */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    bool fixed;  /* data is the caller's: never reallocated */
    bool failed; /* out of memory, or the fixed buffer is full */
} nl_tb_bytes;

void nl_tb_bytes_free(nl_tb_bytes *b);

/* the CRC32C (Castagnoli) of n bytes, and TFRecord's mask of a CRC */
uint32_t nl_tb_crc32c(const void *data, size_t n);
uint32_t nl_tb_masked_crc(uint32_t crc);

/* records appended to b, each one Event */
void nl_tb_version_event(nl_tb_bytes *b, double wall_time); /* file_version "brain.Event:2": first in a file */
void nl_tb_scalar_event(nl_tb_bytes *b, double wall_time, long long step, const char *tag, float value);

/* the HParams plugin's types of a hyperparameter (api.proto DataType) */
typedef enum { NL_TB_HP_STRING = 1, NL_TB_HP_BOOL = 2, NL_TB_HP_FLOAT64 = 3 } nl_tb_hp_type;
/* its session status (api.proto Status) */
typedef enum { NL_TB_SUCCESS = 1, NL_TB_FAILURE = 2, NL_TB_RUNNING = 3 } nl_tb_status;

typedef struct {
    const char *name;
    nl_tb_hp_type type;
    const char *const *values; /* the domain: its distinct values, as text */
    int n_values;
    /* what the key does, as the dashboard's tooltip shows it; NULL: none */
    const char *description;
} nl_tb_hparam;

/* the experiment as the HParams plugin names it (api.proto Experiment's
 * name and description, markdown); NULL or "": none */
typedef struct {
    const char *name, *description;
} nl_tb_about;

/* the experiment: its name and description (about: NULL none), its
 * hyperparameters (with their domains) and the scalar tags that are its
 * metrics */
void nl_tb_experiment_event(nl_tb_bytes *b, double wall_time, const nl_tb_about *about, const nl_tb_hparam *hparams,
                            int n_hparams, const char *const *metric_tags, int n_metrics);
/* one session (a run): its value of each hyperparameter (values[i] of
 * hparams[i]; "" leaves it out), its group (the runs that differ in the
 * seed alone) and start */
void nl_tb_session_start_event(nl_tb_bytes *b, double wall_time, const nl_tb_hparam *hparams,
                               const char *const *values, int n_hparams, const char *group, double start_time);
void nl_tb_session_end_event(nl_tb_bytes *b, double wall_time, nl_tb_status status, double end_time);

/* ---- a file written as a run trains (train.log.tensorboard) ---- */
typedef struct {
    bool open;
    int fd; /* O_APPEND: a record is one write(2) */
    char path[1100];
    uint8_t record[1024]; /* the record being built: no allocation per scalar */
} nl_tb_writer;

/* The file's name in a run directory: TensorBoard reads files whose name holds "tfevents". */
#define NL_TB_RUN_FILE "events.out.tfevents.normlab"

/* Creates dir/NL_TB_RUN_FILE holding `start` (the version event, and for a
 * resumed run the scalars its CSV files hold), written whole (atomically),
 * then opens it to append to. */
nl_code nl_tb_writer_open(nl_tb_writer *w, const char *dir, const nl_tb_bytes *start, nl_error *err);
nl_code nl_tb_writer_scalar(nl_tb_writer *w, double wall_time, long long step, const char *tag, double value,
                            nl_error *err);
nl_code nl_tb_writer_close(nl_tb_writer *w, nl_error *err);

#endif
