#include "train/checkpoint.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "log/files.h"

static const char magic[8] = {'N', 'L', 'C', 'K', 'P', 'T', 0, 0};
enum { HEADER_BYTES = 48 };

uint64_t nl_checkpoint_hash(const char *text, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* crc32 takes uInt lengths: large arrays go in pieces */
static uint64_t crc_of(const unsigned char *p, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        const uInt piece = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, piece);
        p += piece;
        len -= piece;
    }
    return crc;
}

/* ---- a flat buffer written and read field by field ---- */
typedef struct {
    unsigned char *p;
    size_t len, cap;
    bool short_read; /* the reader ran past the end */
} cursor;

static void put(cursor *c, const void *v, size_t n)
{
    memcpy(c->p + c->len, v, n);
    c->len += n;
}
static void put_i64(cursor *c, int64_t v) { put(c, &v, sizeof v); }
static void put_f64(cursor *c, double v) { put(c, &v, sizeof v); }

static void get(cursor *c, void *v, size_t n)
{
    if (c->short_read || c->len + n > c->cap) {
        c->short_read = true;
        memset(v, 0, n);
        return;
    }
    memcpy(v, c->p + c->len, n);
    c->len += n;
}
static int64_t get_i64(cursor *c)
{
    int64_t v;
    get(c, &v, sizeof v);
    return v;
}
static double get_f64(cursor *c)
{
    double v;
    get(c, &v, sizeof v);
    return v;
}

/* the snapshot's scalars, in one order for writing and reading */
#define SNAPSHOT_I64(X) X(step) X(window_steps) X(evaluations) X(last_eval_step) X(data_epoch) \
    X(data_pos) X(data_n)
#define SNAPSHOT_F64(X) X(lr) X(window_sums[0]) X(window_sums[1]) X(window_sums[2])              \
    X(model_metrics[0]) X(model_metrics[1]) X(final_train_loss) X(final_test_loss)              \
    X(final_test_accuracy) X(best_test_loss) X(best_test_accuracy) X(final_trainmode_accuracy)  \
    X(elapsed_s) X(train_s) X(eval_s)

typedef struct {
    int64_t param_floats, optim_floats, state_floats, counters, order;
} array_sizes;

static array_sizes sizes_of(const nl_model *m, long data_n)
{
    return (array_sizes){(int64_t)m->param_floats,
                         (int64_t)(m->param_floats * (size_t)m->spec.optimizer_state_slots),
                         (int64_t)m->state_floats, m->n_counters, data_n};
}

/* Format 1 (before series.csv) lacks series.csv's length; a run of that
 * version logged no series, so its checkpoints still resume. */
enum { OLDEST_READABLE_VERSION = 1 };

static size_t payload_bytes(const array_sizes *a, uint32_t version)
{
    /* i64s, f64s, output lengths and threads, array sizes */
    const size_t scalars = 7 + 15 + (version >= 2 ? 4 : 3) + 5;
    return scalars * 8 + (version >= 3 ? NL_CHECKPOINT_KERNELS_BYTES : 0) + sizeof(nl_rng) +
           (size_t)(a->param_floats + a->optim_floats + a->state_floats) * sizeof(float) +
           (size_t)a->counters * sizeof(int64_t) + (size_t)a->order * sizeof(int32_t);
}

nl_code nl_checkpoint_write(const char *dir, uint64_t config_hash, const nl_model *m,
                            const nl_train_snapshot *s, const nl_checkpoint_files *files,
                            nl_error *err)
{
    const array_sizes a = sizes_of(m, s->data_n);
    const size_t payload = payload_bytes(&a, NL_CHECKPOINT_VERSION);
    cursor c = {malloc(HEADER_BYTES + payload), 0, HEADER_BYTES + payload, false};
    if (!c.p)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for a checkpoint of %zu bytes",
                       HEADER_BYTES + payload);
    c.len = HEADER_BYTES;
#define PUT_I64(f) put_i64(&c, s->f);
#define PUT_F64(f) put_f64(&c, s->f);
    SNAPSHOT_I64(PUT_I64)
    SNAPSHOT_F64(PUT_F64)
    put(&c, &s->data_rng, sizeof s->data_rng);
    put_i64(&c, files->metrics_bytes);
    put_i64(&c, files->trace_bytes);
    put_i64(&c, files->series_bytes);
    put_i64(&c, m->be->threads);
    char kernels[NL_CHECKPOINT_KERNELS_BYTES] = {0};
    if (m->be->cpu_kernels)
        snprintf(kernels, sizeof kernels, "%s", m->be->cpu_kernels);
    put(&c, kernels, sizeof kernels);
    put(&c, &a, sizeof a);
    nl_backend *be = m->be;
    be->ops->download(be, c.p + c.len, m->param_arena, (size_t)a.param_floats * sizeof(float));
    c.len += (size_t)a.param_floats * sizeof(float);
    be->ops->download(be, c.p + c.len, m->optim_arena, (size_t)a.optim_floats * sizeof(float));
    c.len += (size_t)a.optim_floats * sizeof(float);
    be->ops->download(be, c.p + c.len, m->state_arena, (size_t)a.state_floats * sizeof(float));
    c.len += (size_t)a.state_floats * sizeof(float);
    for (int i = 0; i < m->n_counters; i++)
        put_i64(&c, *m->counters[i]);
    put(&c, s->data_order, (size_t)a.order * sizeof(int32_t));

    const uint32_t version = NL_CHECKPOINT_VERSION, header_bytes = HEADER_BYTES;
    const uint64_t payload_len = payload, crc = crc_of(c.p + HEADER_BYTES, payload);
    const int64_t step = s->step;
    unsigned char *h = c.p;
    memset(h, 0, HEADER_BYTES);
    memcpy(h, magic, 8);
    memcpy(h + 8, &version, 4);
    memcpy(h + 12, &header_bytes, 4);
    memcpy(h + 16, &payload_len, 8);
    memcpy(h + 24, &crc, 8);
    memcpy(h + 32, &config_hash, 8);
    memcpy(h + 40, &step, 8);
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_CHECKPOINT_FILE);
    nl_code rc = nl_write_atomic(path, c.p, c.len, err);
    free(c.p);
    return rc;
}

static nl_code damaged(nl_error *err, const char *path, const char *what)
{
    return nl_fail(err, NL_ERR_DATA,
                   "%s: %s; it is not used and nothing was changed. Remove it to start the run "
                   "over, or run with --force",
                   path, what);
}

/* A sound checksum over a state the training loop could not have written (a
 * writer's bug, or a crafted file) would be refused only once the run had
 * cut its metrics.csv back and rewritten its summary: it is refused here,
 * before anything is written. True, with `what` saying why, when unusable. */
/* a kernel set's name as host.c spells them, NUL-padded (or "") */
static bool kernel_set_name(const char *name)
{
    size_t n = strnlen(name, NL_CHECKPOINT_KERNELS_BYTES);
    if (n == NL_CHECKPOINT_KERNELS_BYTES)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '-' || name[i] == '_'))
            return false;
    for (size_t i = n; i < NL_CHECKPOINT_KERNELS_BYTES; i++)
        if (name[i])
            return false;
    return true;
}

static bool state_unusable(const nl_train_snapshot *r, const nl_checkpoint_files *files,
                           const unsigned char *order, char *what, size_t size)
{
    if (r->step < 1 || r->window_steps < 0 || r->window_steps > r->step)
        snprintf(what, size, "its log window of %ld steps does not fit step %ld", r->window_steps, r->step);
    else if (r->last_eval_step < 0 || r->last_eval_step > r->step || r->evaluations < 0 ||
             r->evaluations > r->step + 1)
        snprintf(what, size, "its %ld evaluations, the last at step %ld, do not fit step %ld", r->evaluations,
                 r->last_eval_step, r->step);
    /* data_n 0: a token run, whose batcher has no order; run.c checks its
     * position against the batcher before anything is written */
    else if (r->data_epoch < 0 || r->data_pos < 0 || (r->data_n > 0 && r->data_pos > r->data_n))
        snprintf(what, size, "its data position (epoch %ld, sample %ld of %ld) is out of range", r->data_epoch,
                 r->data_pos, r->data_n);
    else if (!isfinite(r->lr) || !(r->elapsed_s >= 0 && r->train_s >= 0 && r->eval_s >= 0) ||
             !isfinite(r->elapsed_s + r->train_s + r->eval_s))
        snprintf(what, size, "its learning rate or times are not finite");
    else if (files->metrics_bytes < 0 || files->trace_bytes < 0 || files->series_bytes < 0)
        snprintf(what, size, "its output lengths are negative");
    else if (!kernel_set_name(files->cpu_kernels))
        snprintf(what, size, "its CPU kernel set is not a name");
    else
        what[0] = '\0';
    for (long i = 0; !what[0] && i < r->data_n; i++) {
        int32_t k;
        memcpy(&k, order + (size_t)i * sizeof k, sizeof k); /* the payload need not be aligned */
        if (k < 0 || k >= r->data_n)
            snprintf(what, size, "its data order names sample %ld of %ld", (long)k, r->data_n);
    }
    return what[0] != '\0';
}

nl_code nl_checkpoint_read(const char *dir, uint64_t config_hash, nl_model *m,
                           nl_train_snapshot *s, nl_checkpoint_files *files, int32_t **order_buf,
                           nl_checkpoint_found *found, nl_error *err)
{
    *found = NL_CHECKPOINT_NONE;
    *order_buf = NULL;
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_CHECKPOINT_FILE);
    if (!nl_path_exists(path))
        return NL_OK;
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_read_file(path, &text, &len, err);
    if (rc)
        return rc;
    const unsigned char *h = (const unsigned char *)text;
    uint32_t version = 0, header_bytes = 0;
    uint64_t payload_len = 0, crc = 0, hash = 0;
    char what[200];
    if (len < HEADER_BYTES || memcmp(h, magic, 8) != 0) {
        free(text);
        return damaged(err, path, len < HEADER_BYTES ? "shorter than a checkpoint's header"
                                                     : "not a normlab checkpoint");
    }
    memcpy(&version, h + 8, 4);
    memcpy(&header_bytes, h + 12, 4);
    memcpy(&payload_len, h + 16, 8);
    memcpy(&crc, h + 24, 8);
    memcpy(&hash, h + 32, 8);
    if (version < OLDEST_READABLE_VERSION || version > NL_CHECKPOINT_VERSION ||
        header_bytes != HEADER_BYTES) {
        snprintf(what, sizeof what, "checkpoint format %u, but this normlab reads formats %d to %d",
                 version, OLDEST_READABLE_VERSION, NL_CHECKPOINT_VERSION);
        free(text);
        return damaged(err, path, what);
    }
    if (payload_len != len - HEADER_BYTES) {
        snprintf(what, sizeof what, "%zu bytes, but its header says %llu: truncated or extended",
                 len, (unsigned long long)(payload_len + HEADER_BYTES));
        free(text);
        return damaged(err, path, what);
    }
    if (crc_of(h + HEADER_BYTES, payload_len) != crc) {
        free(text);
        return damaged(err, path, "its checksum does not match its contents (damaged)");
    }
    if (hash != config_hash) {
        free(text);
        *found = NL_CHECKPOINT_OTHER_CONFIG;
        return NL_OK;
    }
    cursor c = {(unsigned char *)text, HEADER_BYTES, len, false};
    nl_train_snapshot r = {0};
#define GET_I64(f) r.f = get_i64(&c);
#define GET_F64(f) r.f = get_f64(&c);
    SNAPSHOT_I64(GET_I64)
    SNAPSHOT_F64(GET_F64)
    get(&c, &r.data_rng, sizeof r.data_rng);
    files->metrics_bytes = get_i64(&c);
    files->trace_bytes = get_i64(&c);
    files->series_bytes = version >= 2 ? get_i64(&c) : 0;
    files->threads = get_i64(&c);
    memset(files->cpu_kernels, 0, sizeof files->cpu_kernels);
    if (version >= 3)
        get(&c, files->cpu_kernels, sizeof files->cpu_kernels);
    array_sizes a;
    get(&c, &a, sizeof a);
    const array_sizes want = sizes_of(m, r.data_n);
    if (c.short_read || memcmp(&a, &want, sizeof a) != 0 || payload_bytes(&a, version) != payload_len) {
        free(text);
        return damaged(err, path, "its arrays do not fit this run's model and data "
                                  "(written by another build?)");
    }
    /* the order is the payload's tail */
    const unsigned char *saved_order = (const unsigned char *)text + len - (size_t)a.order * sizeof(int32_t);
    if (state_unusable(&r, files, saved_order, what, sizeof what)) {
        free(text);
        return damaged(err, path, what);
    }
    int32_t *order = malloc((size_t)(a.order ? a.order : 1) * sizeof *order);
    if (!order) {
        free(text);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", path);
    }
    nl_backend *be = m->be;
    be->ops->upload(be, m->param_arena, c.p + c.len, (size_t)a.param_floats * sizeof(float));
    c.len += (size_t)a.param_floats * sizeof(float);
    be->ops->upload(be, m->optim_arena, c.p + c.len, (size_t)a.optim_floats * sizeof(float));
    c.len += (size_t)a.optim_floats * sizeof(float);
    be->ops->upload(be, m->state_arena, c.p + c.len, (size_t)a.state_floats * sizeof(float));
    c.len += (size_t)a.state_floats * sizeof(float);
    for (int i = 0; i < m->n_counters; i++)
        *m->counters[i] = (long)get_i64(&c);
    get(&c, order, (size_t)a.order * sizeof *order);
    rc = be->ops->synchronize(be, err); /* the uploads read `text` */
    free(text);
    if (rc) {
        free(order);
        return rc;
    }
    r.data_order = order;
    *s = r;
    *order_buf = order;
    *found = NL_CHECKPOINT_LOADED;
    return NL_OK;
}
