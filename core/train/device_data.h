/* A dataset resident in the backend's memory (train.device_data): both
 * splits uploaded once when the run starts, after the model is built (so
 * that its memory is planned first and no step allocates). A step then
 * uploads the batch's sample indices (token data: its window starts), not
 * its samples, and the backend gathers the rows into the model's input and
 * labels (gather_rows; gather_windows for tokens and their targets). The
 * batchers choose the same batches either way, so a resident run repeats a
 * host-fed one bit for bit, checkpoints and resumes included. */
#ifndef NL_DEVICE_DATA_H
#define NL_DEVICE_DATA_H

#include "backend/backend.h"
#include "data/data.h"
#include "data/tokens.h"
#include "config/train_spec.h"

struct nl_model;

typedef struct {
    const nl_split *host; /* the split this one mirrors */
    float *x;             /* device, host->n samples */
    int32_t *y;           /* device, host->n labels */
} nl_device_split;

typedef struct {
    const nl_token_split *host; /* the split this one mirrors */
    int32_t *tokens;            /* device, host->length tokens */
} nl_device_token_split;

/* an image dataset's splits, or a token dataset's */
typedef struct nl_device_data {
    nl_backend *be;
    nl_device_split train, test;
    nl_device_token_split train_tokens, valid_tokens;
    int32_t *index; /* device, `capacity` entries: the batch's sample indices or window starts */
    int capacity;
} nl_device_data;

/* auto and on keep at most this share of the device memory free once the
 * model is built for the data: the rest is headroom for the libraries */
#define NL_DEVICE_DATA_SHARE 0.75

/* the bytes nl_device_data_upload (_tokens) allocates */
double nl_device_data_bytes(const nl_dataset_shape *shape, int capacity);
double nl_device_data_token_bytes(const nl_token_shape *shape, int capacity);

/* Decides from the mode, the backend and the bytes the data would take:
 * *resident true to keep it on the device. off, or a backend whose memory
 * is the host's (the CPU: its batcher gathers there already), keep
 * it on the host; auto keeps it there too when it does not fit (*why says
 * so); on that does not fit is NL_ERR_CONFIG, naming train.device_data and
 * the bytes. */
nl_code nl_device_data_decide(nl_device_data_mode mode, nl_backend *be, double bytes,
                              bool *resident, char *why, size_t why_size, nl_error *err);

/* Allocates and uploads both splits of ds and the index buffer for batches
 * of up to `capacity`. On failure nothing is left allocated. Works on any
 * backend (the CPU's memory is the host's: tests use it there). */
nl_code nl_device_data_upload(nl_device_data *dd, nl_backend *be, const nl_dataset *ds,
                              int capacity, nl_error *err);
nl_code nl_device_data_upload_tokens(nl_device_data *dd, nl_backend *be,
                                     const nl_token_dataset *ds, int capacity, nl_error *err);
void nl_device_data_free(nl_device_data *dd);

/* the resident copy of a host split, or NULL (dd may be NULL) */
const nl_device_split *nl_device_data_find(const nl_device_data *dd, const nl_split *host);

/* n samples of a resident split, by their indices in it (host array), into
 * the model's input and labels */
void nl_device_data_load(const nl_device_data *dd, const nl_device_split *split,
                         struct nl_model *m, const int32_t *index, int n);
/* the resident copy of a host token split, or NULL (dd may be NULL) */
const nl_device_token_split *nl_device_data_find_tokens(const nl_device_data *dd,
                                                        const nl_token_split *host);
/* n windows of a resident token split, by their starts (host array), into
 * the token model's input tokens and targets */
void nl_device_data_load_windows(const nl_device_data *dd, const nl_device_token_split *split,
                                 struct nl_model *m, const int32_t *starts, int n);

#endif
