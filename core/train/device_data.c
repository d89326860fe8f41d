#include "train/device_data.h"

#include <stdio.h>
#include <string.h>

#include "model/model.h"

static size_t row_words(const nl_split *s) { return (size_t)s->c * s->h * s->w; }

double nl_device_data_bytes(const nl_dataset_shape *shape, int capacity)
{
    const double per_sample = ((double)shape->c * shape->h * shape->w + 1) * 4;
    return ((double)shape->train_n + (double)shape->test_n) * per_sample + (double)capacity * 4;
}

double nl_device_data_token_bytes(const nl_token_shape *shape, int capacity)
{
    return ((double)shape->train_length + (double)shape->valid_length + (double)capacity) * 4;
}

nl_code nl_device_data_decide(nl_device_data_mode mode, nl_backend *be, double bytes,
                              bool *resident, char *why, size_t why_size, nl_error *err)
{
    *resident = false;
    if (why_size)
        why[0] = '\0';
    if (mode == NL_DEVICE_DATA_OFF)
        return NL_OK;
    size_t free_bytes = 0, total_bytes = 0;
    be->ops->memory_info(be, &free_bytes, &total_bytes);
    if (total_bytes == 0) /* the host's memory: the batcher gathers there already */
        return NL_OK;
    const double room = NL_DEVICE_DATA_SHARE * (double)free_bytes;
    if (bytes <= room) {
        *resident = true;
        return NL_OK;
    }
    char text[256];
    snprintf(text, sizeof text, "the dataset takes %.1f MiB on the GPU, more than %g of the "
             "%.1f MiB free once the model is built (%.1f MiB)", bytes / 1048576.0,
             NL_DEVICE_DATA_SHARE, free_bytes / 1048576.0, room / 1048576.0);
    if (mode == NL_DEVICE_DATA_AUTO) {
        snprintf(why, why_size, "%s: batches are uploaded from host memory", text);
        return NL_OK;
    }
    nl_fail(err, NL_ERR_CONFIG, "on: %s; accepted: auto or off (batches uploaded from host "
            "memory), or a smaller data.train_size / data.test_size", text);
    nl_error_key(err, "train.device_data");
    return NL_ERR_CONFIG;
}

static nl_code upload_split(nl_device_split *d, nl_backend *be, const nl_split *s,
                            nl_error *err)
{
    d->host = s;
    const size_t x_bytes = (size_t)s->n * row_words(s) * sizeof(float);
    nl_code rc = be->ops->alloc(be, x_bytes, (void **)&d->x, err);
    if (rc == NL_OK)
        rc = be->ops->alloc(be, (size_t)s->n * sizeof(int32_t), (void **)&d->y, err);
    if (rc)
        return rc;
    be->ops->upload(be, d->x, s->x, x_bytes);
    be->ops->upload(be, d->y, s->y, (size_t)s->n * sizeof(int32_t));
    return NL_OK;
}

static nl_code upload_token_split(nl_device_token_split *d, nl_backend *be,
                                  const nl_token_split *s, nl_error *err)
{
    d->host = s;
    const size_t bytes = (size_t)s->length * sizeof(int32_t);
    nl_code rc = be->ops->alloc(be, bytes, (void **)&d->tokens, err);
    if (rc == NL_OK)
        be->ops->upload(be, d->tokens, s->tokens, bytes);
    return rc;
}

/* the index buffer, then the splits (one of the two datasets) */
static nl_code upload(nl_device_data *dd, nl_backend *be, const nl_dataset *images,
                      const nl_token_dataset *tokens, int capacity, nl_error *err)
{
    memset(dd, 0, sizeof *dd);
    dd->be = be;
    dd->capacity = capacity;
    nl_code rc = be->ops->alloc(be, (size_t)capacity * sizeof(int32_t), (void **)&dd->index, err);
    if (rc == NL_OK && images && (rc = upload_split(&dd->train, be, &images->train, err)) == NL_OK)
        rc = upload_split(&dd->test, be, &images->test, err);
    if (rc == NL_OK && tokens &&
        (rc = upload_token_split(&dd->train_tokens, be, &tokens->train, err)) == NL_OK)
        rc = upload_token_split(&dd->valid_tokens, be, &tokens->valid, err);
    /* a failed copy shows here, not at the first step */
    if (rc == NL_OK)
        rc = be->ops->synchronize(be, err);
    if (rc)
        nl_device_data_free(dd);
    return rc;
}

nl_code nl_device_data_upload(nl_device_data *dd, nl_backend *be, const nl_dataset *ds,
                              int capacity, nl_error *err)
{
    return upload(dd, be, ds, NULL, capacity, err);
}

nl_code nl_device_data_upload_tokens(nl_device_data *dd, nl_backend *be,
                                     const nl_token_dataset *ds, int capacity, nl_error *err)
{
    return upload(dd, be, NULL, ds, capacity, err);
}

void nl_device_data_free(nl_device_data *dd)
{
    if (!dd || !dd->be)
        return;
    void *buffers[] = {dd->index,  dd->train.x, dd->train.y, dd->test.x, dd->test.y,
                       dd->train_tokens.tokens, dd->valid_tokens.tokens};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        if (buffers[i])
            dd->be->ops->release(dd->be, buffers[i]);
    memset(dd, 0, sizeof *dd);
}

const nl_device_split *nl_device_data_find(const nl_device_data *dd, const nl_split *host)
{
    if (!dd || !dd->be || !host)
        return NULL;
    if (dd->train.host == host)
        return &dd->train;
    if (dd->test.host == host)
        return &dd->test;
    return NULL;
}

const nl_device_token_split *nl_device_data_find_tokens(const nl_device_data *dd,
                                                        const nl_token_split *host)
{
    if (!dd || !dd->be || !host)
        return NULL;
    if (dd->train_tokens.host == host)
        return &dd->train_tokens;
    if (dd->valid_tokens.host == host)
        return &dd->valid_tokens;
    return NULL;
}

void nl_device_data_load(const nl_device_data *dd, const nl_device_split *split,
                         struct nl_model *m, const int32_t *index, int n)
{
    nl_backend *be = dd->be;
    be->ops->upload(be, dd->index, index, (size_t)n * sizeof *index);
    be->ops->gather_rows(be, n, row_words(split->host), dd->index, split->x, m->input->data);
    be->ops->gather_rows(be, n, 1, dd->index, split->y, m->labels);
}

void nl_device_data_load_windows(const nl_device_data *dd, const nl_device_token_split *split,
                                 struct nl_model *m, const int32_t *starts, int n)
{
    nl_backend *be = dd->be;
    be->ops->upload(be, dd->index, starts, (size_t)n * sizeof *starts);
    be->ops->gather_windows(be, n, m->rows_per_sample, dd->index, split->tokens,
                            (int32_t *)m->input->data, m->labels);
}
