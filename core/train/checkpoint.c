#include "train/checkpoint.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/alloc.h"
#include "config/schema.h"
#include "dist/dist.h"
#include "log/files.h"

enum { HEADER_BYTES = NL_CHECKPOINT_HEADER_BYTES };

/* Format 1 (before series.csv) lacks series.csv's length; a run of that
 * version logged no series, so its checkpoints still resume. */
const nl_checkpoint_kind nl_checkpoint_file_kind = {
    "checkpoint", {'N', 'L', 'C', 'K', 'P', 'T', 0, 0}, 1, NL_CHECKPOINT_VERSION,
    NL_CHECKPOINT_WHOLE_CRC_VERSION};

uint64_t nl_checkpoint_hash(const char *text, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* a key newer than the checkpoint format at its default value: the run is
 * the one a checkpoint from before the key describes */
static bool newer_key_at_default(const char *key, const char *value, const nl_config *defaults)
{
    const nl_key_def *def = nl_schema_find(key);
    char text[256];
    if (!def || !(def->flags & NL_KF_AFTER_FORMAT4))
        return false;
    /* the flattened config holds a string as its text, unquoted */
    if (def->type == NL_KT_STRING)
        return !strcmp((const char *)nl_schema_cfield(defaults, def), value);
    return !strcmp(nl_schema_format(def, defaults, text, sizeof text), value);
}

void nl_checkpoint_config_keys(const nl_flat *resolved, nl_buf *out)
{
    nl_config *defaults = nl_malloc(sizeof *defaults);
    if (defaults)
        nl_config_defaults(defaults);
    else
        out->failed = true;
    for (int i = 0; i < resolved->n && defaults; i++) {
        const char *key = resolved->items[i].key, *value = resolved->items[i].value;
        if (!nl_flat_key_outside_run(key) && !newer_key_at_default(key, value, defaults))
            nl_buf_printf(out, "%s=%s\n", key, value);
    }
    free(defaults);
}

/* whether a checkpoint written before the key's rule (NL_KF_RULE_NEWER,
 * NL_KF_AND_WHEN_NEWER) listed it under cfg */
static bool listed_by_older_rule(const nl_key_def *def, const nl_config *cfg)
{
    nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
    if (def->flags & NL_KF_RULE_NEWER)
        return true;
    return (def->flags & NL_KF_AND_WHEN_NEWER) && nl_schema_conditions(def, conds) > 0 &&
           nl_schema_condition_holds(&conds[0], cfg);
}

/* whether `key` names a section holding one of the schema keys marked in
 * `back` */
static bool holds_one_of(const char *key, const bool *back)
{
    const size_t len = strlen(key);
    for (int k = 0; k < nl_config_schema_count; k++)
        if (back[k] && !strncmp(nl_config_schema[k].key, key, len) &&
            nl_config_schema[k].key[len] == '.')
            return true;
    return false;
}

/* The resolved flat with the keys an older rule listed (which the writer
 * now leaves out as inapplicable) put back in the schema's order, the order
 * of the flat: the config keys checkpoints and final models were written
 * with. A section the writer left with no key (train.log.landscape, its
 * every not set and lr_multiples out) reads as an empty entry; with a key
 * put back under it, it had one then. */
static nl_code with_older_rules(const nl_config *cfg, const nl_flat *flat, nl_flat *out,
                                nl_error *err)
{
    memset(out, 0, sizeof *out);
    bool *back = nl_calloc((size_t)nl_config_schema_count, sizeof *back);
    if (!back)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int k = 0; k < nl_config_schema_count; k++) {
        const nl_key_def *def = &nl_config_schema[k];
        back[k] = !nl_flat_get(flat, def->key) && !nl_schema_applies(def, cfg) &&
                  listed_by_older_rule(def, cfg);
    }
    nl_code rc = NL_OK;
    int next = 0; /* the next schema key to consider putting back */
    for (int i = 0; i <= flat->n && rc == NL_OK; i++) {
        const nl_key_def *at = i < flat->n ? nl_schema_find(flat->items[i].key) : NULL;
        const int upto = i == flat->n ? nl_config_schema_count
                         : at          ? (int)(at - nl_config_schema)
                                       : next;
        for (; next < upto && rc == NL_OK; next++) {
            char value[1024];
            if (back[next])
                rc = nl_flat_set(out, nl_config_schema[next].key,
                                 nl_schema_format(&nl_config_schema[next], cfg, value,
                                                  sizeof value), err);
        }
        if (i == flat->n || rc != NL_OK ||
            (!flat->items[i].value[0] && holds_one_of(flat->items[i].key, back)))
            continue;
        rc = nl_flat_set(out, flat->items[i].key, flat->items[i].value, err);
    }
    free(back);
    if (rc)
        nl_flat_free(out);
    return rc;
}

nl_code nl_checkpoint_config(const nl_config *cfg, nl_device device, char **text, nl_flat *flat,
                             nl_buf *keys, nl_error *err)
{
    nl_code rc = nl_flat_from_config(cfg, flat, text, err);
    if (rc == NL_OK)
        rc = nl_flat_set(flat, "device", nl_name_of(&nl_device_names, (int)device), err);
    nl_flat listed;
    if (rc == NL_OK)
        rc = with_older_rules(cfg, flat, &listed, err);
    if (rc)
        return rc;
    nl_checkpoint_config_keys(&listed, keys);
    nl_flat_free(&listed);
    if (keys->failed || !keys->data)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory writing the resolved config");
    return NL_OK;
}

/* The keys newer than format 4 that the lines leave out were at their
 * defaults: put them back, so that a changed one reads "fp32 -> bf16"
 * rather than "(not set) -> bf16". Both sides of a comparison get the same
 * keys back, so what compares equal does not change. */
static nl_code restore_newer_defaults(nl_flat *out, nl_error *err)
{
    nl_config *defaults = nl_malloc(sizeof *defaults);
    if (!defaults)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_config_defaults(defaults);
    nl_code rc = NL_OK;
    for (int i = 0; i < nl_config_schema_count && rc == NL_OK; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if (!(def->flags & NL_KF_AFTER_FORMAT4) || nl_flat_get(out, def->key))
            continue;
        char text[256];
        /* as newer_key_at_default reads the default: a string as its text */
        const char *value = def->type == NL_KT_STRING
                                ? (const char *)nl_schema_cfield(defaults, def)
                                : nl_schema_format(def, defaults, text, sizeof text);
        rc = nl_flat_set(out, def->key, value, err);
    }
    free(defaults);
    return rc;
}

nl_code nl_checkpoint_keys_flat(const char *keys, nl_flat *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    for (const char *line = keys; *line;) {
        const char *end = strchr(line, '\n');
        const size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *eq = memchr(line, '=', len);
        /* keys are dotted names: the first '=' ends one */
        if (eq && (size_t)(eq - line) < sizeof out->items[0].key) {
            char key[sizeof out->items[0].key], *value = strndup(eq + 1, len - (size_t)(eq - line) - 1);
            snprintf(key, sizeof key, "%.*s", (int)(eq - line), line);
            nl_code rc = value ? nl_flat_set(out, key, value, err)
                               : nl_fail(err, NL_ERR_NOMEM, "out of memory");
            free(value);
            if (rc) {
                nl_flat_free(out);
                return rc;
            }
        }
        line = end ? end + 1 : line + len;
    }
    nl_code rc = restore_newer_defaults(out, err);
    if (rc)
        nl_flat_free(out);
    return rc;
}

/* crc32 takes uInt lengths: large arrays go in pieces */
static uLong crc_on(uLong crc, const unsigned char *p, size_t len)
{
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

typedef struct {
    int64_t param_floats, optim_floats, state_floats, counters, order;
} array_sizes;

static array_sizes sizes_of(const nl_model *m, long data_n)
{
    return (array_sizes){(int64_t)m->param_floats,
                         (int64_t)(m->param_floats * (size_t)m->spec.optimizer_state_slots),
                         (int64_t)m->state_floats, m->n_counters, data_n};
}

static size_t payload_bytes(const array_sizes *a, uint32_t version, size_t keys_len)
{
    /* output lengths and threads, array sizes, the keys' length */
    const size_t scalars = (version >= 2 ? 4 : 3) + 5 + (version >= 4 ? 1 : 0);
    return nl_train_state_bytes(version) + scalars * 8 + (version >= 3 ? NL_CHECKPOINT_KERNELS_BYTES : 0) +
           (version >= 8 ? NL_CHECKPOINT_CONV_BYTES : 0) +
           (version >= 9 ? NL_CHECKPOINT_PRODUCTS_BYTES : 0) +
           keys_len +
           (size_t)(a->param_floats + a->optim_floats + a->state_floats) * sizeof(float) +
           (size_t)a->counters * sizeof(int64_t) + (size_t)a->order * sizeof(int32_t);
}

/* A checkpoint's bytes, header and payload, into c (malloc'd): what
 * nl_checkpoint_write puts in the file and nl_checkpoint_share sends the
 * ranks. */
static nl_code encode(const char *config_keys, const nl_model *m, const nl_train_state *s,
                      const nl_checkpoint_files *files, cursor *out, nl_error *err)
{
    const array_sizes a = sizes_of(m, s->data_n);
    const size_t keys_len = strlen(config_keys);
    const uint64_t config_hash = nl_checkpoint_hash(config_keys, keys_len);
    const size_t payload = payload_bytes(&a, NL_CHECKPOINT_VERSION, keys_len);
    cursor c = {malloc(HEADER_BYTES + payload), 0, HEADER_BYTES + payload, false};
    if (!c.p)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for a checkpoint of %zu bytes",
                       HEADER_BYTES + payload);
    c.len = HEADER_BYTES;
    nl_train_state_write(s, c.p + c.len);
    c.len += nl_train_state_bytes(NL_CHECKPOINT_VERSION);
    put_i64(&c, files->metrics_bytes);
    put_i64(&c, files->trace_bytes);
    put_i64(&c, files->series_bytes);
    put_i64(&c, m->be->threads);
    char kernels[NL_CHECKPOINT_KERNELS_BYTES] = {0};
    if (m->be->cpu_kernels)
        snprintf(kernels, sizeof kernels, "%s", m->be->cpu_kernels);
    put(&c, kernels, sizeof kernels);
    char conv[NL_CHECKPOINT_CONV_BYTES] = {0};
    if (m->be->conv_library)
        snprintf(conv, sizeof conv, "%s", m->be->conv_library);
    put(&c, conv, sizeof conv);
    char products[NL_CHECKPOINT_PRODUCTS_BYTES] = {0};
    if (m->be->products)
        snprintf(products, sizeof products, "%s", m->be->products);
    put(&c, products, sizeof products);
    put_i64(&c, (int64_t)keys_len);
    put(&c, config_keys, keys_len);
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

    nl_checkpoint_put_header(c.p, &nl_checkpoint_file_kind, payload, config_hash, s->step);
    *out = c;
    return NL_OK;
}

nl_code nl_checkpoint_write(const char *dir, const char *config_keys, const nl_model *m,
                            const nl_train_state *s, const nl_checkpoint_files *files,
                            nl_error *err)
{
    cursor c;
    nl_code rc = encode(config_keys, m, s, files, &c, err);
    if (rc)
        return rc;
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_CHECKPOINT_FILE);
    rc = nl_write_atomic(path, c.p, c.len, err);
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

/* a library's record of `size` bytes: printable text, zeros after it */
static bool library_record(const char *text, size_t size)
{
    size_t n = strnlen(text, size);
    if (n == size)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isprint((unsigned char)text[i]))
            return false;
    for (size_t i = n; i < size; i++)
        if (text[i])
            return false;
    return true;
}

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

/* A sound checksum over a state the training loop could not have written (a
 * writer's bug, or a crafted file) would be refused only once the run had
 * cut its metrics.csv back and rewritten its summary: it is refused here,
 * before anything is written. True, with `what` saying why, when unusable.
 * `counters` points at the layers' counters in the payload, `seen` at
 * data_n zeroed bytes. */
static bool state_unusable(const nl_train_state *r, const nl_checkpoint_files *files,
                           int64_t header_step, const unsigned char *counters, int n_counters,
                           const unsigned char *order, unsigned char *seen, char *what, size_t size)
{
    if (r->step != header_step)
        snprintf(what, size, "its header says step %lld, its state step %ld", (long long)header_step, r->step);
    else if (r->step < 1 || r->window_steps < 0 || r->window_steps > r->step)
        snprintf(what, size, "its log window of %ld steps does not fit step %ld", r->window_steps, r->step);
    else if (r->last_eval_step < 0 || r->last_eval_step > r->step || r->evaluations < 0 ||
             r->evaluations > r->step + 1)
        snprintf(what, size, "its %ld evaluations, the last at step %ld, do not fit step %ld", r->evaluations,
                 r->last_eval_step, r->step);
    /* data_n 0: a token run, whose batcher has no order; resume.c checks its
     * position against the batcher before anything is written */
    else if (r->data_epoch < 0 || r->data_pos < 0 || (r->data_n > 0 && r->data_pos > r->data_n))
        snprintf(what, size, "its data position (epoch %ld, sample %ld of %ld) is out of range", r->data_epoch,
                 r->data_pos, r->data_n);
    /* nl_rng_seed makes the increment odd; the spare is a flag and a number */
    else if (!(r->data_rng.inc & 1u) || (r->data_rng.has_spare != 0 && r->data_rng.has_spare != 1) ||
             (r->data_rng.has_spare && !isfinite(r->data_rng.spare_normal)))
        snprintf(what, size, "its data order's random generator is not one a run can have");
    else if (!isfinite(r->lr) || !(r->elapsed_s >= 0 && r->train_s >= 0 && r->eval_s >= 0) ||
             !isfinite(r->elapsed_s + r->train_s + r->eval_s))
        snprintf(what, size, "its learning rate or times are not finite");
    else if (files->metrics_bytes < 0 || files->trace_bytes < 0 || files->series_bytes < 0)
        snprintf(what, size, "its output lengths are negative");
    else if (r->ranks < 1)
        snprintf(what, size, "its rank count (%ld) is not positive", r->ranks);
    else if (files->threads < 0)
        snprintf(what, size, "its thread count (%lld) is negative", (long long)files->threads);
    else if (!kernel_set_name(files->cpu_kernels))
        snprintf(what, size, "its CPU kernel set is not a name");
    else if (!library_record(files->conv_library, sizeof files->conv_library))
        snprintf(what, size, "its convolution library is not a name");
    else if (!library_record(files->products, sizeof files->products))
        snprintf(what, size, "its product library is not a name");
    else
        what[0] = '\0';
    /* a layer's counter counts its training batches */
    for (int i = 0; !what[0] && i < n_counters; i++) {
        int64_t k;
        memcpy(&k, counters + (size_t)i * sizeof k, sizeof k);
        if (k < 0)
            snprintf(what, size, "its layer counter %d is negative (%lld)", i, (long long)k);
    }
    /* an epoch's order is a permutation of the split (data.c's batcher) */
    for (long i = 0; !what[0] && i < r->data_n; i++) {
        int32_t k;
        memcpy(&k, order + (size_t)i * sizeof k, sizeof k); /* the payload need not be aligned */
        if (k < 0 || k >= r->data_n)
            snprintf(what, size, "its data order names sample %ld of %ld", (long)k, r->data_n);
        else if (seen[k]++)
            snprintf(what, size, "its data order names sample %ld twice", (long)k);
    }
    return what[0] != '\0';
}

/* The file's bytes, or *absent. Anything but a regular file is refused
 * before a byte is read (nl_open_regular: a FIFO with no writer does not
 * hang the run), named for what it is. */
static nl_code read_regular(const char *path, char **text, size_t *len, bool *absent, nl_error *err)
{
    *absent = false;
    *text = NULL;
    int fd;
    nl_error open_err = {0};
    const nl_code open_rc = nl_open_regular(path, true, &fd, &open_err);
    struct stat st;
    if (open_rc == NL_ERR_DATA)
        return nl_fail(err, NL_ERR_DATA, "%s is %s, not a checkpoint; it is not used and nothing "
                       "was changed: remove it to start the run over", path,
                       stat(path, &st) == 0 ? nl_file_kind(st.st_mode) : "not a regular file");
    if (open_rc)
        return nl_fail(err, open_rc, "%s", open_err.msg);
    if (fd < 0) {
        *absent = true;
        return NL_OK;
    }
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        close(fd);
        return nl_fail(err, NL_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    const size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, size);
    }
    size_t got = 0;
    while (got < size) {
        const ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int e = errno;
            free(buf);
            close(fd);
            return nl_fail(err, NL_ERR_IO, "cannot read %s: %s", path, strerror(e));
        }
        if (n == 0)
            break; /* cut while read: the header's length says so */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return NL_OK;
}

/* a checkpoint file being read: its bytes, its header's fields and the
 * cursor over its payload */
typedef struct {
    char path[1100];
    char *text;
    size_t len;
    uint32_t version;
    uint64_t payload_len, hash;
    int64_t header_step;
    const char *keys; /* format 4: the config keys, inside text */
    int64_t keys_len;
    cursor c;
} reading;

/* the header: magic, a format this build reads, the file's length and
 * checksum */
static nl_code read_header(reading *r, nl_error *err)
{
    nl_checkpoint_header h;
    char what[200];
    const char *wrong = nl_checkpoint_header_check(&nl_checkpoint_file_kind, r->text, r->len, &h, what,
                                                   sizeof what);
    if (wrong)
        return damaged(err, r->path, wrong);
    r->version = h.version;
    r->payload_len = h.payload_len;
    r->hash = h.config_hash;
    r->header_step = h.step;
    r->c = (cursor){(unsigned char *)r->text, HEADER_BYTES, r->len, false};
    return NL_OK;
}

/* the loop's state, the output lengths, the thread count and kernel set,
 * and (format 4) the config keys, which the header's hash is of */
static nl_code read_scalars(reading *r, nl_train_state *state, nl_checkpoint_files *files,
                            nl_error *err)
{
    /* the payload holds the state whole: its length was checked above */
    if (r->payload_len < nl_train_state_bytes(r->version))
        return damaged(err, r->path, "shorter than a checkpoint's training state");
    nl_train_state_read(state, r->c.p + r->c.len, r->version);
    r->c.len += nl_train_state_bytes(r->version);
    files->metrics_bytes = get_i64(&r->c);
    files->trace_bytes = get_i64(&r->c);
    files->series_bytes = r->version >= 2 ? get_i64(&r->c) : 0;
    files->threads = get_i64(&r->c);
    /* the formats before the rank count were written by one process */
    if (r->version < 7)
        state->ranks = 1;
    memset(files->cpu_kernels, 0, sizeof files->cpu_kernels);
    if (r->version >= 3)
        get(&r->c, files->cpu_kernels, sizeof files->cpu_kernels);
    memset(files->conv_library, 0, sizeof files->conv_library);
    if (r->version >= 8)
        get(&r->c, files->conv_library, sizeof files->conv_library);
    memset(files->products, 0, sizeof files->products);
    if (r->version >= 9)
        get(&r->c, files->products, sizeof files->products);
    if (r->version < 4)
        return NL_OK;
    r->keys_len = get_i64(&r->c);
    if (r->c.short_read || r->keys_len < 0 || r->keys_len > NL_CHECKPOINT_KEYS_MAX ||
        (uint64_t)r->keys_len > r->len - r->c.len)
        return damaged(err, r->path, "its config keys' length is out of range");
    r->keys = r->text + r->c.len;
    r->c.len += (size_t)r->keys_len;
    if (memchr(r->keys, '\0', (size_t)r->keys_len) ||
        nl_checkpoint_hash(r->keys, (size_t)r->keys_len) != r->hash)
        return damaged(err, r->path, "its config keys do not match its header's hash");
    return NL_OK;
}

/* what a sound checkpoint of another config was written for */
static nl_code tell_origin(const reading *r, nl_checkpoint_origin *origin, nl_error *err)
{
    if (!origin)
        return NL_OK;
    *origin = (nl_checkpoint_origin){r->version, r->hash, r->header_step, NULL};
    if (r->keys && !(origin->config_keys = strndup(r->keys, (size_t)r->keys_len)))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", r->path);
    return NL_OK;
}

/* The arrays' sizes against this model's, the state against what the loop
 * could have written, then the arrays into the model and this epoch's
 * order into *order (malloc'd). */
static nl_code read_arrays(reading *r, const nl_train_state *state,
                           const nl_checkpoint_files *files, nl_model *m, int32_t **order,
                           nl_error *err)
{
    if (state->data_n < 0)
        return damaged(err, r->path, "its data order's length is negative");
    array_sizes a;
    get(&r->c, &a, sizeof a);
    const array_sizes want_sizes = sizes_of(m, state->data_n);
    if (r->c.short_read || memcmp(&a, &want_sizes, sizeof a) != 0 ||
        payload_bytes(&a, r->version, (size_t)r->keys_len) != r->payload_len)
        return damaged(err, r->path, "its arrays do not fit this run's model and data "
                                     "(written by another build?)");
    /* the order is the payload's tail, the counters before it */
    const unsigned char *saved_order =
        (const unsigned char *)r->text + r->len - (size_t)a.order * sizeof(int32_t);
    const unsigned char *saved_counters = saved_order - (size_t)a.counters * sizeof(int64_t);
    unsigned char *seen = calloc((size_t)(a.order ? a.order : 1), 1);
    if (!seen)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", r->path);
    char what[200];
    const bool unusable = state_unusable(state, files, r->header_step, saved_counters,
                                         (int)a.counters, saved_order, seen, what, sizeof what);
    free(seen);
    if (unusable)
        return damaged(err, r->path, what);
    int32_t *loaded = malloc((size_t)(a.order ? a.order : 1) * sizeof *loaded);
    if (!loaded)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", r->path);
    nl_backend *be = m->be;
    be->ops->upload(be, m->param_arena, r->c.p + r->c.len, (size_t)a.param_floats * sizeof(float));
    r->c.len += (size_t)a.param_floats * sizeof(float);
    be->ops->upload(be, m->optim_arena, r->c.p + r->c.len, (size_t)a.optim_floats * sizeof(float));
    r->c.len += (size_t)a.optim_floats * sizeof(float);
    be->ops->upload(be, m->state_arena, r->c.p + r->c.len, (size_t)a.state_floats * sizeof(float));
    r->c.len += (size_t)a.state_floats * sizeof(float);
    for (int i = 0; i < m->n_counters; i++)
        *m->counters[i] = (long)get_i64(&r->c);
    get(&r->c, loaded, (size_t)a.order * sizeof *loaded);
    nl_code rc = be->ops->synchronize(be, err); /* the uploads read the file's bytes */
    if (rc) {
        free(loaded);
        return rc;
    }
    *order = loaded;
    return NL_OK;
}

/* A checkpoint's bytes (r->text, r->len; r->path names them) into the
 * model and *s, or NL_CHECKPOINT_OTHER_CONFIG: nl_checkpoint_read's, after
 * the file is read. */
static nl_code parse(reading *r, const nl_checkpoint_want *want, nl_model *m, nl_train_state *s,
                     nl_checkpoint_files *files, int32_t **order_buf, nl_checkpoint_found *found,
                     nl_checkpoint_origin *origin, nl_error *err)
{
    nl_train_state state;
    nl_code rc = read_header(r, err);
    if (rc == NL_OK)
        rc = read_scalars(r, &state, files, err);
    if (rc == NL_OK && r->hash != (r->version >= 4 ? want->keys_hash : want->text_hash)) {
        *found = NL_CHECKPOINT_OTHER_CONFIG;
        return tell_origin(r, origin, err);
    }
    int32_t *order = NULL;
    if (rc == NL_OK)
        rc = read_arrays(r, &state, files, m, &order, err);
    if (rc)
        return rc;
    state.data_order = order;
    *s = state;
    *order_buf = order;
    *found = NL_CHECKPOINT_LOADED;
    return NL_OK;
}

nl_code nl_checkpoint_read(const char *dir, const nl_checkpoint_want *want, nl_model *m,
                           nl_train_state *s, nl_checkpoint_files *files, int32_t **order_buf,
                           nl_checkpoint_found *found, nl_checkpoint_origin *origin, nl_error *err)
{
    *found = NL_CHECKPOINT_NONE;
    *order_buf = NULL;
    if (origin)
        *origin = (nl_checkpoint_origin){0};
    reading r = {0};
    nl_path_join(r.path, sizeof r.path, dir, NL_CHECKPOINT_FILE);
    bool absent;
    nl_code rc = read_regular(r.path, &r.text, &r.len, &absent, err);
    if (rc || absent)
        return rc;
    rc = parse(&r, want, m, s, files, order_buf, found, origin, err);
    free(r.text);
    return rc;
}

nl_code nl_checkpoint_share(nl_dist *d, const char *config_keys, nl_model *m, nl_train_state *s,
                            nl_checkpoint_files *files, int32_t **order_buf, bool *loaded,
                            nl_error *err)
{
    if (nl_dist_size(d) == 1)
        return NL_OK;
    const bool root = nl_dist_rank(d) == 0;
    cursor c = {0};
    nl_code rc = root && *loaded ? encode(config_keys, m, s, files, &c, err) : NL_OK;
    /* rank 0's outcome first: the others wait for bytes only when it has them */
    if ((rc = nl_dist_agree(d, rc, err))) {
        free(c.p);
        return rc;
    }
    int64_t len = (int64_t)c.len;
    nl_dist_broadcast(d, &len, sizeof len);
    if ((rc = nl_dist_status(d, err)) || len == 0) {
        free(c.p);
        return rc;
    }
    if (!root && !(c.p = malloc((size_t)len)))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory for rank 0's checkpoint (%lld bytes)",
                     (long long)len);
    if ((rc = nl_dist_agree(d, rc, err))) {
        free(c.p);
        return rc;
    }
    nl_dist_broadcast(d, c.p, (size_t)len);
    rc = nl_dist_status(d, err);
    if (rc == NL_OK && !root) {
        /* the bytes rank 0 took, read as a file of this run's config is */
        reading r = {.text = (char *)c.p, .len = (size_t)len};
        snprintf(r.path, sizeof r.path, "rank 0's %s", NL_CHECKPOINT_FILE);
        const uint64_t hash = nl_checkpoint_hash(config_keys, strlen(config_keys));
        const nl_checkpoint_want want = {hash, hash};
        nl_checkpoint_found found = NL_CHECKPOINT_NONE;
        rc = parse(&r, &want, m, s, files, order_buf, &found, NULL, err);
        if (rc == NL_OK && found != NL_CHECKPOINT_LOADED)
            rc = nl_fail(err, NL_ERR_RUNTIME, "rank %d: rank 0's checkpoint was written for "
                         "another config than this rank's", nl_dist_rank(d));
        *loaded = rc == NL_OK;
    }
    free(c.p);
    return nl_dist_agree(d, rc, err);
}

long nl_checkpoint_step(const char *dir)
{
    char path[1100], *text = NULL, what[200];
    nl_path_join(path, sizeof path, dir, NL_CHECKPOINT_FILE);
    size_t len = 0;
    bool absent = true;
    nl_error ignored = {0};
    nl_checkpoint_header h = {0};
    const bool sound = read_regular(path, &text, &len, &absent, &ignored) == NL_OK && !absent &&
                       !nl_checkpoint_header_check(&nl_checkpoint_file_kind, text, len, &h, what,
                                                   sizeof what);
    free(text);
    return sound && h.step >= 0 ? (long)h.step : -1;
}

uint64_t nl_checkpoint_file_crc(const void *file, size_t len, bool whole)
{
    const unsigned char *bytes = file;
    uLong crc = crc32(0L, Z_NULL, 0);
    if (len < HEADER_BYTES)
        return crc;
    if (whole) {
        /* the field cannot hold its own checksum: it is read as zeros */
        unsigned char header[HEADER_BYTES];
        memcpy(header, bytes, HEADER_BYTES);
        memset(header + NL_CHECKPOINT_CRC_AT, 0, 8);
        crc = crc_on(crc, header, HEADER_BYTES);
    }
    return crc_on(crc, bytes + HEADER_BYTES, len - HEADER_BYTES);
}

void nl_checkpoint_put_header(unsigned char *file, const nl_checkpoint_kind *kind, size_t payload,
                              uint64_t config_hash, int64_t step)
{
    const uint32_t header_bytes = HEADER_BYTES, version = kind->newest;
    const uint64_t payload_len = payload;
    memset(file, 0, HEADER_BYTES);
    memcpy(file, kind->magic, 8);
    memcpy(file + 8, &version, 4);
    memcpy(file + 12, &header_bytes, 4);
    memcpy(file + 16, &payload_len, 8);
    memcpy(file + 32, &config_hash, 8);
    memcpy(file + 40, &step, 8);
    const uint64_t crc = nl_checkpoint_file_crc(file, HEADER_BYTES + payload, true);
    memcpy(file + NL_CHECKPOINT_CRC_AT, &crc, 8);
}

const char *nl_checkpoint_header_check(const nl_checkpoint_kind *kind, const void *file,
                                       size_t len, nl_checkpoint_header *h, char *what,
                                       size_t size)
{
    const unsigned char *bytes = file;
    if (len < HEADER_BYTES) {
        snprintf(what, size, "shorter than a %s's header (%zu bytes of %d)", kind->name, len,
                 HEADER_BYTES);
        return what;
    }
    if (memcmp(bytes, kind->magic, 8) != 0) {
        snprintf(what, size, "not a normlab %s", kind->name);
        return what;
    }
    uint32_t header_bytes;
    uint64_t crc;
    memcpy(&h->version, bytes + 8, 4);
    memcpy(&header_bytes, bytes + 12, 4);
    memcpy(&h->payload_len, bytes + 16, 8);
    memcpy(&crc, bytes + NL_CHECKPOINT_CRC_AT, 8);
    memcpy(&h->config_hash, bytes + 32, 8);
    memcpy(&h->step, bytes + 40, 8);
    /* each field its own message: a header size of another value once
     * read "format 1, but this normlab reads format 1" */
    if (h->version < kind->oldest || h->version > kind->newest)
        snprintf(what, size, "%s format %u, but this normlab reads formats %u to %u%s",
                 kind->name, h->version, kind->oldest, kind->newest,
                 h->version > kind->newest ? " (written by a newer normlab?)" : "");
    else if (header_bytes != HEADER_BYTES)
        snprintf(what, size, "its header says it is %u bytes, but a %s's header is %d bytes",
                 header_bytes, kind->name, HEADER_BYTES);
    else if (h->payload_len != len - HEADER_BYTES)
        snprintf(what, size, "%zu bytes, but its header says %llu: truncated or extended", len,
                 (unsigned long long)h->payload_len + HEADER_BYTES);
    else if (nl_checkpoint_file_crc(bytes, len, h->version >= kind->whole_crc_from) != crc)
        snprintf(what, size, "its checksum does not match its contents (damaged)");
    else
        return NULL;
    return what;
}

nl_code nl_checkpoint_read_regular(const char *path, char **text, size_t *len, bool *absent,
                                   nl_error *err)
{
    return read_regular(path, text, len, absent, err);
}
