/* Checkpoints: the whole training state of a run in one file of its run
 * directory, written atomically (a temporary file in the directory, fsync,
 * rename), so that a killed run started again with the same command resumes
 * where the last checkpoint was taken and goes on exactly as an
 * uninterrupted run would.
 *
 * Layout (little endian, this build's float and double): a 48-byte header
 *   "NLCKPT\0\0", u32 format version, u32 header bytes, u64 payload bytes,
 *   u64 CRC-32 of the payload, u64 hash of the resolved config, i64 step,
 * then the payload: the loop's state (nl_train_snapshot), the byte lengths
 * of metrics.csv, trace.csv and series.csv at the checkpoint, the thread count, the
 * array sizes, then the
 * parameters, the optimizer state, the running statistics, the layers'
 * counters and this epoch's data order. */
#ifndef NL_CHECKPOINT_H
#define NL_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"
#include "train/train.h"

#define NL_CHECKPOINT_FILE "checkpoint.nlck"
/* 2: series.csv's length after trace.csv's; format 1 (without it) is still
 * read, as a run that logged no series. 3: the CPU kernel set's name after
 * the thread count; formats 1 and 2 read as written by an unknown set. */
#define NL_CHECKPOINT_VERSION 3
#define NL_CHECKPOINT_KERNELS_BYTES 32

/* what the run's output files held when the checkpoint was taken, and the
 * host threads and CPU kernel set it trained on (another count or set may
 * change the last bits) */
typedef struct {
    int64_t metrics_bytes, trace_bytes, series_bytes;
    /* nl_checkpoint_write takes both from the model's backend; the set is
     * "" on a GPU and in formats before 3 */
    int64_t threads;
    char cpu_kernels[NL_CHECKPOINT_KERNELS_BYTES];
} nl_checkpoint_files;

/* FNV-1a over a text (the resolved config): a checkpoint resumes only the
 * config it was written for */
uint64_t nl_checkpoint_hash(const char *text, size_t len);

/* Writes DIR/checkpoint.nlck from the model's arrays and the loop's state. */
nl_code nl_checkpoint_write(const char *dir, uint64_t config_hash, const nl_model *m,
                            const nl_train_snapshot *s, const nl_checkpoint_files *files,
                            nl_error *err);

typedef enum {
    NL_CHECKPOINT_NONE,         /* no checkpoint file */
    NL_CHECKPOINT_OTHER_CONFIG, /* a sound checkpoint of another config: not used */
    NL_CHECKPOINT_LOADED,       /* the model and *s hold its state */
} nl_checkpoint_found;

/* Reads DIR/checkpoint.nlck into the model (parameters, optimizer state,
 * running statistics, counters) and *s; s->data_order then points into
 * *order_buf (malloc'd, the caller frees). A damaged, truncated or foreign
 * file, or one whose arrays do not fit this model, is NL_ERR_DATA naming the
 * file and what is wrong, and leaves the model as it was. */
nl_code nl_checkpoint_read(const char *dir, uint64_t config_hash, nl_model *m,
                           nl_train_snapshot *s, nl_checkpoint_files *files, int32_t **order_buf,
                           nl_checkpoint_found *found, nl_error *err);

#endif
