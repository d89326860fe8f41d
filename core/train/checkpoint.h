/* Checkpoints: the whole training state of a run in one file of its run
 * directory, written atomically (a temporary file in the directory, fsync,
 * rename), so that a killed run started again with the same command resumes
 * where the last checkpoint was taken and goes on exactly as an
 * uninterrupted run would.
 *
 * Layout (little endian, this build's float and double): a 48-byte header
 *   "NLCKPT\0\0", u32 format version, u32 header bytes, u64 payload bytes,
 *   u64 CRC-32 of the whole file (the header with these 8 bytes read as
 *   zeros, then the payload; nl_checkpoint_file_crc), u64 hash of the run's
 *   config keys, i64 step,
 * then the payload: the loop's state (nl_train_state, its fields in
 * nl_train_state_fields' order), the byte lengths of metrics.csv, trace.csv
 * and series.csv at the checkpoint, the thread count, the CPU kernel set's
 * name, the config keys' text (i64 length, the bytes), the array sizes,
 * then the parameters, the optimizer state, the running statistics, the
 * layers' counters and this epoch's data order. */
#ifndef NL_CHECKPOINT_H
#define NL_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/flat.h"
#include "log/files.h"
#include "model/model.h"
#include "results/files.h" /* NL_CHECKPOINT_FILE */
#include "train/train.h"

/* 2: series.csv's length after trace.csv's; format 1 (without it) is still
 * read, as a run that logged no series. 3: the CPU kernel set's name after
 * the thread count; formats 1 and 2 read as written by an unknown set. */
/* 4: the header's hash is over the config keys (nl_checkpoint_config_keys),
 * not the resolved config.yaml's text, whose first line holds the config's
 * path as typed; the payload holds the keys, so that a refusal names those
 * that changed. Formats 1 to 3 still resume when the run directory's
 * config.yaml is the one they were written for (nl_checkpoint_origin). */
/* 5: the state holds train.precision and the loss scaler's state
 * (nl_train_state_fields' `since`); formats 1 to 4 read as fp32 runs that
 * did not scale. */
/* 6: the CRC covers every byte of the file, the header's included (the
 * step and the config hash sat outside it); formats 1 to 5 are read as
 * before, their CRC over the payload alone: a changed header byte of theirs
 * is caught only where a field is checked against the payload (the step
 * against the state's, format 4's hash against its keys). */
/* 7: the state holds the rank count the steps ran on (nl_train_state's
 * ranks; MPI runs take checkpoints); formats 1 to 6 read as one rank. */
/* 8: the library the convolutions ran on (be->conv_library,
 * cpu/conv_onednn.h) after the kernel set; formats 1 to 7 read without one
 * (normlab's own convolutions were the only ones, but an MLP's resume
 * should not be told of them). */
/* 9: the products' library (be->products, NORMLAB_GEMM in effect) after
 * the convolutions'; formats 1 to 8 read without one (openblas, or auto on
 * the day oneDNN's sgemm came in: the resume says nothing it cannot know). */
#define NL_CHECKPOINT_VERSION 9
#define NL_CHECKPOINT_WHOLE_CRC_VERSION 6
/* a run's config keys are a few kilobytes: more is a damaged file */
#define NL_CHECKPOINT_KEYS_MAX ((int64_t)1 << 20)
#define NL_CHECKPOINT_KERNELS_BYTES 32
#define NL_CHECKPOINT_CONV_BYTES 96 /* NL_CONV_LIBRARY_RECORD_BYTES */
#define NL_CHECKPOINT_PRODUCTS_BYTES 16

/* what the run's output files held when the checkpoint was taken, and the
 * host threads and CPU kernel set it trained on (another count or set may
 * change the last bits) */
typedef struct {
    int64_t metrics_bytes, trace_bytes, series_bytes;
    /* nl_checkpoint_write takes both from the model's backend; the set is
     * "" on a GPU and in formats before 3 */
    int64_t threads;
    char cpu_kernels[NL_CHECKPOINT_KERNELS_BYTES];
    /* the convolutions' library; "" on a GPU and in formats before 8 */
    char conv_library[NL_CHECKPOINT_CONV_BYTES];
    /* the products' library; "" on a GPU and in formats before 9 */
    char products[NL_CHECKPOINT_PRODUCTS_BYTES];
} nl_checkpoint_files;

/* FNV-1a over a text (a run's config keys): a checkpoint resumes only the
 * config it was written for */
uint64_t nl_checkpoint_hash(const char *text, size_t len);

/* The config a checkpoint is written for, as "key=value" lines (values as
 * nl_flat's flow text, which escapes newlines) appended to *out: every key
 * of the resolved config, flattened (nl_flat_from_config), in its order,
 * but those nl_flat_key_outside_run names. Neither the config's path nor
 * the run directory is a key, so a run started again by another spelling of
 * either, or from another directory, resumes; every other key, logging and
 * checkpoint_every included, is in: a key not known to leave the numbers
 * and the files alone refuses a checkpoint rather than mix two configs. */
void nl_checkpoint_config_keys(const nl_flat *resolved, nl_buf *out);
/* A run's resolved config on `device` (--device overrides the config's):
 * config.yaml's text in *text (malloc'd), flattened in *flat with the
 * device trained on, and the keys a checkpoint is written for in *keys
 * (with the keys a rule newer than the checkpoints leaves out where the
 * older rule listed them: NL_KF_RULE_NEWER, NL_KF_AND_WHEN_NEWER).
 * The caller frees all three, also on an error. */
nl_code nl_checkpoint_config(const nl_config *cfg, nl_device device, char **text, nl_flat *flat,
                             nl_buf *keys, nl_error *err);
/* The lines of nl_checkpoint_config_keys back as a flat config. */
nl_code nl_checkpoint_keys_flat(const char *keys, nl_flat *out, nl_error *err);

/* The header every file a run keeps its model in opens with (checkpoints,
 * final models): magic, format version, header size, payload length, the
 * checksum, the config keys' hash, the step. */
enum { NL_CHECKPOINT_HEADER_BYTES = 48, NL_CHECKPOINT_CRC_AT = 24 };

/* The CRC-32 a header holds for the `len` bytes of `file` (header and
 * payload). `whole` (the formats from checkpoint 6 and final model 2 on):
 * over every byte, the CRC field itself read as zeros, so a changed byte
 * anywhere is caught; else (the older formats) over the payload alone. */
uint64_t nl_checkpoint_file_crc(const void *file, size_t len, bool whole);

/* a kind of model file, as its writer and reader take it */
typedef struct {
    const char *name;         /* "checkpoint", "final model" */
    char magic[8];
    uint32_t oldest, newest;  /* the formats this build reads */
    uint32_t whole_crc_from;  /* the first format whose CRC covers every byte */
} nl_checkpoint_kind;

/* checkpoint.nlck's (final_model.h has the final model's) */
extern const nl_checkpoint_kind nl_checkpoint_file_kind;

/* Writes the header of the newest format of `kind` into file[0..48), the
 * payload being the `payload` bytes after it, with the CRC over every byte. */
void nl_checkpoint_put_header(unsigned char *file, const nl_checkpoint_kind *kind, size_t payload,
                              uint64_t config_hash, int64_t step);

/* a header's fields, once checked */
typedef struct {
    uint32_t version;
    uint64_t payload_len, config_hash;
    int64_t step;
} nl_checkpoint_header;

/* The header of the `len` bytes of `file` checked against its kind, the
 * file's length and its checksum: NULL when sound (*h holds its fields),
 * else `what`, holding what is wrong in words for a message naming the
 * file. One check for every kind, so each says the same of the
 * same damage. */
const char *nl_checkpoint_header_check(const nl_checkpoint_kind *kind, const void *file,
                                       size_t len, nl_checkpoint_header *h, char *what,
                                       size_t size);

/* A file's bytes (malloc'd, NUL-terminated), or *absent when there is none;
 * anything but a regular file is NL_ERR_DATA before a byte is read (a FIFO
 * with no writer is not waited on). The reader of every file a run keeps
 * its model in. */
nl_code nl_checkpoint_read_regular(const char *path, char **text, size_t *len, bool *absent,
                                   nl_error *err);

/* Writes DIR/checkpoint.nlck from the model's arrays and the loop's state;
 * `config_keys` is nl_checkpoint_config_keys' text (its hash goes in the
 * header). */
nl_code nl_checkpoint_write(const char *dir, const char *config_keys, const nl_model *m,
                            const nl_train_state *s, const nl_checkpoint_files *files,
                            nl_error *err);

typedef enum {
    NL_CHECKPOINT_NONE,         /* no checkpoint file */
    NL_CHECKPOINT_OTHER_CONFIG, /* a sound checkpoint of another config: not loaded */
    NL_CHECKPOINT_LOADED,       /* the model and *s hold its state */
} nl_checkpoint_found;

/* the config a checkpoint takes */
typedef struct {
    uint64_t keys_hash; /* format 4: nl_checkpoint_hash of the config keys */
    uint64_t text_hash; /* formats 1 to 3: of the resolved config.yaml's text */
} nl_checkpoint_want;

/* what a sound checkpoint of another config was written for */
typedef struct {
    uint32_t version;
    uint64_t config_hash; /* its header's: given as both hashes, it loads */
    int64_t step;
    char *config_keys;    /* format 4: its config keys (malloc'd, the caller frees); NULL before */
} nl_checkpoint_origin;

/* Reads DIR/checkpoint.nlck into the model (parameters, optimizer state,
 * running statistics, counters) and *s; s->data_order then points into
 * *order_buf (malloc'd, the caller frees). A sound checkpoint of another
 * config is NL_CHECKPOINT_OTHER_CONFIG with *origin saying what it was
 * written for. A damaged, truncated or foreign file, one that is not a
 * regular file (a FIFO is not waited on), or one whose arrays do not fit
 * this model, is NL_ERR_DATA naming the file and what is wrong, and leaves
 * the model as it was. */
nl_code nl_checkpoint_read(const char *dir, const nl_checkpoint_want *want, nl_model *m,
                           nl_train_state *s, nl_checkpoint_files *files, int32_t **order_buf,
                           nl_checkpoint_found *found, nl_checkpoint_origin *origin, nl_error *err);

/* Under MPI, after rank 0 has read the run directory's checkpoint (or
 * found none; *loaded says which, on rank 0): every rank takes what rank 0
 * loaded. Rank 0 sends its checkpoint's bytes as nl_checkpoint_write would
 * write them (from the model and *s it loaded), and every other rank reads
 * them as a checkpoint file of this run's config (`config_keys`, which each
 * rank resolved alike) into its model and *s (s->data_order into
 * *order_buf, malloc'd), and sets *loaded. So the run directory need not be
 * reachable from the other ranks' hosts. A collective: every rank calls it;
 * any rank's failure is every rank's. Nothing on one rank. */
nl_code nl_checkpoint_share(struct nl_dist *d, const char *config_keys, nl_model *m,
                            nl_train_state *s, nl_checkpoint_files *files, int32_t **order_buf,
                            bool *loaded, nl_error *err);

/* The step of DIR's checkpoint for a note (`show`'s "checkpoint at step
 * N"): -1 when there is none, or its header or checksum is not sound. */
long nl_checkpoint_step(const char *dir);

#endif
