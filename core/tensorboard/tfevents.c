/* TFRecord framing and the protocol buffers of TensorBoard's events,
 * encoded by hand (tfevents.h). Field numbers: event.proto (Event),
 * summary.proto (Summary, Summary.Value, SummaryMetadata), tensor.proto,
 * struct.proto (google.protobuf.Value, ListValue), and the HParams
 * plugin's api.proto and plugin_data.proto. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/ident.h"
#include "log/files.h"
#include "tensorboard/tfevents.h"

/* ---- CRC32C, reflected polynomial 0x82F63B78 ---- */
static const uint32_t crc_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
    0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
    0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
    0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
    0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
    0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
    0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
    0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
    0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
    0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
    0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
    0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
    0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
    0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
    0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
    0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
    0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
    0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
    0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
    0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
    0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
    0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
    0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
    0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
    0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
    0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
    0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
    0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
    0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
    0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
    0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
    0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
    0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t nl_tb_crc32c(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

uint32_t nl_tb_masked_crc(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* ---- bytes ---- */

void nl_tb_bytes_free(nl_tb_bytes *b)
{
    if (!b->fixed)
        free(b->data);
    memset(b, 0, sizeof *b);
}

static bool room(nl_tb_bytes *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->len + n <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *grown = b->fixed ? NULL : realloc(b->data, cap);
    if (!grown) {
        b->failed = true;
        return false;
    }
    b->data = grown;
    b->cap = cap;
    return true;
}

static void put(nl_tb_bytes *b, const void *p, size_t n)
{
    if (room(b, n)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

static void put_le(nl_tb_bytes *b, uint64_t v, int bytes)
{
    uint8_t le[8];
    for (int i = 0; i < bytes; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    put(b, le, (size_t)bytes);
}

/* ---- protocol buffers: wire types 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit ---- */

static void varint(nl_tb_bytes *b, uint64_t v)
{
    uint8_t out[10];
    int n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, out, (size_t)n);
}

static void key(nl_tb_bytes *b, int field, int wire) { varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void pb_varint(nl_tb_bytes *b, int field, uint64_t v)
{
    key(b, field, 0);
    varint(b, v);
}

static void pb_double(nl_tb_bytes *b, int field, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    key(b, field, 1);
    put_le(b, bits, 8);
}

static void pb_float(nl_tb_bytes *b, int field, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    key(b, field, 5);
    put_le(b, bits, 4);
}

static void pb_bytes(nl_tb_bytes *b, int field, const void *data, size_t n)
{
    key(b, field, 2);
    varint(b, n);
    put(b, data, n);
}

/* The one way a string enters a record: protobuf's string fields are
 * UTF-8, and TensorBoard refuses a file with a field that is not, so a byte
 * that starts no well-formed sequence is written as U+FFFD (3 bytes) */
static void pb_string(nl_tb_bytes *b, int field, const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p;) {
        const int len = nl_utf8_len(p);
        n += len ? (size_t)len : 3;
        p += len ? len : 1;
    }
    key(b, field, 2);
    varint(b, n);
    for (const char *p = s; *p;) {
        const int len = nl_utf8_len(p);
        if (len)
            put(b, p, (size_t)len);
        else
            put(b, "\xef\xbf\xbd", 3);
        p += len ? len : 1;
    }
}

/* a nested message: its key and 5 bytes kept for its length, which
 * pb_close writes (a varint of up to 35 bits) and moves the body up to */
enum { LENGTH_ROOM = 5 };

static size_t pb_open(nl_tb_bytes *b, int field)
{
    key(b, field, 2);
    static const uint8_t zeros[LENGTH_ROOM] = {0};
    put(b, zeros, LENGTH_ROOM);
    return b->len;
}

static void pb_close(nl_tb_bytes *b, size_t body)
{
    if (b->failed)
        return;
    const size_t n = b->len - body;
    nl_tb_bytes length = {.data = (uint8_t[LENGTH_ROOM]){0}, .cap = LENGTH_ROOM, .fixed = true};
    varint(&length, n);
    uint8_t *at = b->data + body - LENGTH_ROOM;
    memcpy(at, length.data, length.len);
    memmove(at + length.len, b->data + body, n);
    b->len = body - LENGTH_ROOM + length.len + n;
}

/* ---- records ---- */

static size_t record_open(nl_tb_bytes *b)
{
    static const uint8_t header[12] = {0};
    put(b, header, sizeof header);
    return b->len;
}

static void record_close(nl_tb_bytes *b, size_t body)
{
    if (b->failed)
        return;
    const uint64_t n = b->len - body;
    uint8_t *header = b->data + body - 12;
    for (int i = 0; i < 8; i++)
        header[i] = (uint8_t)(n >> (8 * i));
    const uint32_t length_crc = nl_tb_masked_crc(nl_tb_crc32c(header, 8));
    for (int i = 0; i < 4; i++)
        header[8 + i] = (uint8_t)(length_crc >> (8 * i));
    put_le(b, nl_tb_masked_crc(nl_tb_crc32c(b->data + body, (size_t)n)), 4);
}

/* Event: wall_time 1, step 2, file_version 3, summary 5 */
static size_t event_open(nl_tb_bytes *b, double wall_time, long long step)
{
    const size_t record = record_open(b);
    pb_double(b, 1, wall_time);
    if (step)
        pb_varint(b, 2, (uint64_t)step);
    return record;
}

void nl_tb_version_event(nl_tb_bytes *b, double wall_time)
{
    const size_t record = event_open(b, wall_time, 0);
    pb_string(b, 3, "brain.Event:2");
    record_close(b, record);
}

void nl_tb_scalar_event(nl_tb_bytes *b, double wall_time, long long step, const char *tag, float value)
{
    const size_t record = event_open(b, wall_time, step);
    const size_t summary = pb_open(b, 5);
    const size_t item = pb_open(b, 1); /* Summary.value: tag 1, simple_value 2 */
    pb_string(b, 1, tag);
    pb_float(b, 2, value);
    pb_close(b, item);
    pb_close(b, summary);
    record_close(b, record);
}

/* ---- the HParams plugin ---- */

/* google.protobuf.Value of a hyperparameter's value: number_value 2,
 * string_value 3, bool_value 4 */
static void hp_value(nl_tb_bytes *b, int field, nl_tb_hp_type type, const char *text)
{
    const size_t value = pb_open(b, field);
    if (type == NL_TB_HP_FLOAT64)
        pb_double(b, 2, strtod(text, NULL));
    else if (type == NL_TB_HP_BOOL)
        pb_varint(b, 4, !strcmp(text, "true"));
    else
        pb_string(b, 3, text);
    pb_close(b, value);
}

/* The summary value of the plugin's data: tag, metadata (plugin_data:
 * plugin_name "hparams", content HParamsPluginData) and the plugin's null
 * tensor (an empty float vector: dtype 1, shape [0]). Returns where the
 * content's body starts: the caller writes HParamsPluginData's one field
 * (experiment 2, session_start_info 3, session_end_info 4; version 0 is
 * the default, left out) and closes with hparams_close. */
typedef struct {
    size_t record, summary, item, metadata, plugin_data, content;
} hp_marks;

static hp_marks hparams_open(nl_tb_bytes *b, double wall_time, const char *tag)
{
    hp_marks m;
    m.record = event_open(b, wall_time, 0);
    m.summary = pb_open(b, 5);
    m.item = pb_open(b, 1);
    pb_string(b, 1, tag);
    m.metadata = pb_open(b, 9);
    m.plugin_data = pb_open(b, 1);
    pb_string(b, 1, "hparams");
    m.content = pb_open(b, 2);
    return m;
}

static void hparams_close(nl_tb_bytes *b, const hp_marks *m)
{
    static const uint8_t null_tensor[] = {0x08, 0x01, 0x12, 0x02, 0x12, 0x00};
    pb_close(b, m->content);
    pb_close(b, m->plugin_data);
    pb_close(b, m->metadata);
    pb_bytes(b, 8, null_tensor, sizeof null_tensor);
    pb_close(b, m->item);
    pb_close(b, m->summary);
    record_close(b, m->record);
}

void nl_tb_experiment_event(nl_tb_bytes *b, double wall_time, const nl_tb_about *about, const nl_tb_hparam *hparams,
                            int n_hparams, const char *const *metric_tags, int n_metrics)
{
    const hp_marks m = hparams_open(b, wall_time, "_hparams_/experiment");
    const size_t experiment = pb_open(b, 2);
    /* Experiment: description 1, time_created_secs 3, name 6 */
    if (about && about->description && about->description[0])
        pb_string(b, 1, about->description);
    pb_double(b, 3, wall_time); /* time_created_secs */
    for (int i = 0; i < n_hparams; i++) {
        /* HParamInfo: name 1, description 3, type 4, domain_discrete 5 (ListValue: values 1) */
        const size_t info = pb_open(b, 4);
        pb_string(b, 1, hparams[i].name);
        if (hparams[i].description && hparams[i].description[0])
            pb_string(b, 3, hparams[i].description);
        pb_varint(b, 4, (uint64_t)hparams[i].type);
        const size_t domain = pb_open(b, 5);
        for (int v = 0; v < hparams[i].n_values; v++)
            hp_value(b, 1, hparams[i].type, hparams[i].values[v]);
        pb_close(b, domain);
        pb_close(b, info);
    }
    for (int i = 0; i < n_metrics; i++) {
        /* MetricInfo: name 1 (MetricName: group 1, tag 2; the group is the
         * session's own run), display_name 3 */
        const size_t info = pb_open(b, 5);
        const size_t name = pb_open(b, 1);
        pb_string(b, 2, metric_tags[i]);
        pb_close(b, name);
        pb_string(b, 3, metric_tags[i]);
        pb_close(b, info);
    }
    if (about && about->name && about->name[0])
        pb_string(b, 6, about->name);
    pb_close(b, experiment);
    hparams_close(b, &m);
}

void nl_tb_session_start_event(nl_tb_bytes *b, double wall_time, const nl_tb_hparam *hparams,
                               const char *const *values, int n_hparams, const char *group, double start_time)
{
    const hp_marks m = hparams_open(b, wall_time, "_hparams_/session_start_info");
    const size_t start = pb_open(b, 3);
    for (int i = 0; i < n_hparams; i++) {
        if (!values[i][0])
            continue; /* the key does not apply to this run */
        /* SessionStartInfo.hparams 1: a map entry, key 1 and value 2 */
        const size_t entry = pb_open(b, 1);
        pb_string(b, 1, hparams[i].name);
        hp_value(b, 2, hparams[i].type, values[i]);
        pb_close(b, entry);
    }
    pb_string(b, 4, group);
    pb_double(b, 5, start_time);
    pb_close(b, start);
    hparams_close(b, &m);
}

void nl_tb_session_end_event(nl_tb_bytes *b, double wall_time, nl_tb_status status, double end_time)
{
    const hp_marks m = hparams_open(b, wall_time, "_hparams_/session_end_info");
    const size_t end = pb_open(b, 4);
    pb_varint(b, 1, (uint64_t)status);
    pb_double(b, 2, end_time);
    pb_close(b, end);
    hparams_close(b, &m);
}

/* ---- the writer of a training run ---- */

nl_code nl_tb_writer_open(nl_tb_writer *w, const char *dir, const nl_tb_bytes *start, nl_error *err)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    if (start->failed)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory building %s/%s", dir, NL_TB_RUN_FILE);
    nl_path_join(w->path, sizeof w->path, dir, NL_TB_RUN_FILE);
    nl_code rc = nl_write_atomic(w->path, start->data, start->len, err);
    if (rc)
        return rc;
    if ((rc = nl_open_write(w->path, O_WRONLY | O_APPEND, &w->fd, err)))
        return rc;
    w->open = true;
    return NL_OK;
}

nl_code nl_tb_writer_scalar(nl_tb_writer *w, double wall_time, long long step, const char *tag, double value,
                            nl_error *err)
{
    if (!w->open)
        return NL_OK;
    nl_tb_bytes b = {.data = w->record, .cap = sizeof w->record, .fixed = true};
    nl_tb_scalar_event(&b, wall_time, step, tag, (float)value);
    if (b.failed)
        return nl_fail(err, NL_ERR_RUNTIME, "%s: the tag '%.200s' makes a record over %zu bytes", w->path, tag,
                       sizeof w->record);
    const ssize_t wrote = write(w->fd, b.data, b.len);
    if (wrote != (ssize_t)b.len)
        return nl_fail(err, NL_ERR_IO, "cannot write %s: %s", w->path, wrote < 0 ? strerror(errno) : "short write");
    return NL_OK;
}

nl_code nl_tb_writer_close(nl_tb_writer *w, nl_error *err)
{
    if (!w->open)
        return NL_OK;
    w->open = false;
    const int failed = fsync(w->fd) != 0 || close(w->fd) != 0;
    w->fd = -1;
    return failed ? nl_fail(err, NL_ERR_IO, "cannot write %s: %s", w->path, strerror(errno)) : NL_OK;
}
