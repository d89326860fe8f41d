#include "train/final_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "log/files.h"
#include "results/files.h"
#include "results/rundir.h"
#include "results/store.h"
#include "results/summary.h"
#include "train/run_model.h"
#include "train/checkpoint.h"
#include "results/summary_keys.h"

enum { HEADER_BYTES = NL_CHECKPOINT_HEADER_BYTES };

/* format 1's CRC covered the payload alone; it is still read */
const nl_checkpoint_kind nl_final_model_kind = {"final model", {'N', 'L', 'F', 'I', 'N', 'A', 'L', 0},
                                                1, NL_FINAL_MODEL_VERSION,
                                                NL_FINAL_MODEL_WHOLE_CRC_VERSION};

typedef struct {
    int64_t param_floats, state_floats, counters;
} final_sizes;

static final_sizes sizes_of(const nl_model *m)
{
    return (final_sizes){(int64_t)m->param_floats, (int64_t)m->state_floats, m->n_counters};
}

static size_t payload_bytes(const final_sizes *a, size_t keys_len)
{
    return sizeof(int64_t) + keys_len + sizeof *a +
           (size_t)(a->param_floats + a->state_floats) * sizeof(float) +
           (size_t)a->counters * sizeof(int64_t);
}

nl_code nl_final_model_write(const char *dir, const char *config_keys, const nl_model *m,
                             long step, nl_error *err)
{
    const final_sizes a = sizes_of(m);
    const size_t keys_len = strlen(config_keys);
    const size_t payload = payload_bytes(&a, keys_len);
    unsigned char *file = malloc(HEADER_BYTES + payload);
    if (!file)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for a final model of %zu bytes",
                       HEADER_BYTES + payload);
    unsigned char *p = file + HEADER_BYTES;
    const int64_t keys_len64 = (int64_t)keys_len;
    memcpy(p, &keys_len64, sizeof keys_len64);
    p += sizeof keys_len64;
    memcpy(p, config_keys, keys_len);
    p += keys_len;
    memcpy(p, &a, sizeof a);
    p += sizeof a;
    nl_backend *be = m->be;
    be->ops->download(be, p, m->param_arena, (size_t)a.param_floats * sizeof(float));
    p += (size_t)a.param_floats * sizeof(float);
    be->ops->download(be, p, m->state_arena, (size_t)a.state_floats * sizeof(float));
    p += (size_t)a.state_floats * sizeof(float);
    for (int i = 0; i < m->n_counters; i++) {
        const int64_t k = *m->counters[i];
        memcpy(p, &k, sizeof k);
        p += sizeof k;
    }
    nl_checkpoint_put_header(file, &nl_final_model_kind, payload,
                             nl_checkpoint_hash(config_keys, keys_len), step);
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_FINAL_MODEL_FILE);
    nl_code rc = nl_write_atomic(path, file, HEADER_BYTES + payload, err);
    free(file);
    return rc;
}

static nl_code damaged(nl_error *err, const char *path, const char *what)
{
    return nl_fail(err, NL_ERR_DATA, "%s: %s; nothing was read from it", path, what);
}

/* the header's fields, checked against the file's length and checksum */
static nl_code check_header(const char *path, const unsigned char *text, size_t len,
                            uint64_t *hash, int64_t *step, nl_error *err)
{
    nl_checkpoint_header h;
    char what[200];
    const char *wrong = nl_checkpoint_header_check(&nl_final_model_kind, text, len, &h, what, sizeof what);
    if (wrong)
        return damaged(err, path, wrong);
    *hash = h.config_hash;
    *step = h.step;
    if (*step < 0)
        return damaged(err, path, "its step is negative");
    return NL_OK;
}

/* the payload's keys and sizes against the header and this model, then the
 * arrays into the model */
/* The keys the file was written for against the run's config: each key
 * both hold has the same value. A key only one holds is left out (a normlab
 * that added or dropped a key since), and so is the device, which a run
 * given --device holds apart from config.yaml's. */
static nl_code compare_keys(const char *path, const char *keys, size_t keys_len,
                            const nl_flat *config, nl_error *err)
{
    char *text = strndup(keys, keys_len);
    nl_flat saved = {0};
    if (!text)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading %s", path);
    nl_code rc = nl_checkpoint_keys_flat(text, &saved, err);
    free(text);
    char diff[600] = "";
    size_t used = 0;
    int changed = 0;
    for (int i = 0; rc == NL_OK && i < saved.n; i++) {
        const char *key = saved.items[i].key, *was = saved.items[i].value;
        const char *now = nl_flat_get(config, key);
        if (!now || nl_flat_key_outside_run(key) || !strcmp(key, "device") || !strcmp(was, now))
            continue;
        if (changed++ < 4 && used < sizeof diff)
            used += (size_t)snprintf(diff + used, sizeof diff - used, "%s%s: %s -> %s",
                                     used ? "; " : "", key, was, now);
    }
    nl_flat_free(&saved);
    if (rc == NL_OK && changed)
        rc = damaged(err, path, changed > 4 ? "it was written for another config than the run "
                                              "directory's config.yaml (more than 4 keys differ)"
                                            : diff);
    return rc;
}

static nl_code load_payload(const char *path, const unsigned char *text, size_t len,
                            uint64_t hash, const nl_flat *config, nl_model *m, nl_error *err)
{
    const unsigned char *p = text + HEADER_BYTES, *end = text + len;
    int64_t keys_len;
    if ((size_t)(end - p) < sizeof keys_len)
        return damaged(err, path, "its config keys' length is missing");
    memcpy(&keys_len, p, sizeof keys_len);
    p += sizeof keys_len;
    if (keys_len < 0 || keys_len > NL_CHECKPOINT_KEYS_MAX || (uint64_t)keys_len > (size_t)(end - p))
        return damaged(err, path, "its config keys' length is out of range");
    if (memchr(p, '\0', (size_t)keys_len) ||
        nl_checkpoint_hash((const char *)p, (size_t)keys_len) != hash)
        return damaged(err, path, "its config keys do not match its header's hash");
    nl_code rc = config ? compare_keys(path, (const char *)p, (size_t)keys_len, config, err)
                        : NL_OK;
    if (rc)
        return rc;
    p += keys_len;
    final_sizes a;
    const final_sizes want = sizes_of(m);
    if ((size_t)(end - p) < sizeof a)
        return damaged(err, path, "its array sizes are missing");
    memcpy(&a, p, sizeof a);
    p += sizeof a;
    if (memcmp(&a, &want, sizeof a) != 0 || payload_bytes(&a, (size_t)keys_len) != len - HEADER_BYTES)
        return damaged(err, path, "its arrays do not fit the model of the run's config "
                                  "(written by another build?)");
    nl_backend *be = m->be;
    be->ops->upload(be, m->param_arena, p, (size_t)a.param_floats * sizeof(float));
    p += (size_t)a.param_floats * sizeof(float);
    be->ops->upload(be, m->state_arena, p, (size_t)a.state_floats * sizeof(float));
    p += (size_t)a.state_floats * sizeof(float);
    for (int i = 0; i < m->n_counters; i++) {
        int64_t k;
        memcpy(&k, p, sizeof k);
        p += sizeof k;
        *m->counters[i] = (long)k;
    }
    return be->ops->synchronize(be, err); /* the uploads read the file's bytes */
}

nl_code nl_final_model_read(const char *dir, const nl_flat *config, nl_model *m,
                            nl_final_model_info *info, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_FINAL_MODEL_FILE);
    char *text = NULL;
    size_t len = 0;
    bool absent = false;
    nl_code rc;
    if (nl_run_packed(dir, NULL, 0, NULL, 0)) { /* a run of a packed sweep (results/store.h) */
        absent = !nl_run_file_exists(dir, NL_FINAL_MODEL_FILE);
        rc = absent ? NL_OK : nl_run_file_read(dir, NL_FINAL_MODEL_FILE, &text, &len, err);
    } else {
        rc = nl_checkpoint_read_regular(path, &text, &len, &absent, err);
    }
    if (rc)
        return rc;
    if (absent)
        return nl_fail(err, NL_ERR_USAGE, "%s has no final model (%s): the run did not finish, "
                       "or finished before normlab kept one (run it again with --force)",
                       dir, NL_FINAL_MODEL_FILE);
    uint64_t hash = 0;
    int64_t step = 0;
    rc = check_header(path, (const unsigned char *)text, len, &hash, &step, err);
    if (rc == NL_OK)
        rc = load_payload(path, (const unsigned char *)text, len, hash, config, m, err);
    free(text);
    if (rc == NL_OK && info)
        *info = (nl_final_model_info){hash, step};
    return rc;
}

nl_code nl_final_model_check_run(const char *dir, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, dir, NL_RUN_CONFIG_FILE);
    bool packed; /* a run of a packed sweep (results/store.h): written once, read only */
    nl_code rc = nl_run_pack_check(dir, &packed, err);
    if (rc)
        return rc;
    if (!packed && (!nl_is_dir(dir) || !nl_path_exists(path) || !nl_run_dir_is_normlab(dir)))
        return nl_fail(err, NL_ERR_USAGE, "%s is not a run directory (normlab run writes one: "
                       "config.yaml, summary.json, metrics.csv)", dir);
    if (!packed && (rc = nl_run_dir_check_files(dir, err)))
        return rc;
    nl_run_writer w;
    if (!packed && nl_run_dir_busy(dir, &w))
        return nl_fail(err, NL_ERR_USAGE, "%s is still being written (pid %ld): use it once the "
                       "run has finished", dir, w.pid);
    const nl_summary_verdict verdict = nl_summary_read(dir, NULL);
    if (verdict == NL_SUMMARY_TORN) {
        nl_path_join(path, sizeof path, dir, NL_RUN_SUMMARY_FILE);
        return nl_fail(err, NL_ERR_DATA, "%s is torn or unreadable (cut short, not valid JSON, or "
                       "without a status): it says nothing of how the run ended, so its final "
                       "model is not used; `normlab show %s` says how far it got", path, dir);
    }
    if (!nl_summary_finished(verdict))
        return nl_fail(err, NL_ERR_USAGE, "%s holds an unfinished run (%s%s): it has no "
                       "final model; the command that started it resumes it", dir,
                       verdict == NL_SUMMARY_ABSENT ? "no summary.json" : "status ",
                       verdict == NL_SUMMARY_ABSENT ? "" : nl_summary_verdict_name(verdict));
    if (!nl_run_file_exists(dir, NL_FINAL_MODEL_FILE))
        return nl_fail(err, NL_ERR_USAGE, "%s has no final model (%s): the run finished before "
                       "normlab kept one (run it again with --force)", dir, NL_FINAL_MODEL_FILE);
    return NL_OK;
}

void nl_final_model_summary(const char *dir, nl_final_run_summary *out)
{
    *out = (nl_final_run_summary){.final_test_accuracy = NAN};
    char *json = NULL, accuracy[64];
    if (!nl_summary_finished(nl_summary_read(dir, &json))) {
        free(json);
        return;
    }
    nl_json_flat_get(json, NL_SUMMARY_DEVICE, out->device, sizeof out->device);
    if (nl_json_flat_get(json, NL_SUMMARY_FINAL_TEST_ACCURACY, accuracy, sizeof accuracy) &&
        strcmp(accuracy, "null") != 0)
        out->final_test_accuracy = atof(accuracy);
    free(json);
}

nl_code nl_final_model_load(const char *dir, const nl_config *cfg, nl_backend *be, int capacity,
                            nl_model **out, nl_final_model_info *info, nl_error *err)
{
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    return nl_final_model_load_spec(dir, cfg, &spec, be, capacity, out, info, err);
}

nl_code nl_final_model_load_spec(const char *dir, const nl_config *cfg, const nl_model_spec *spec,
                                 nl_backend *be, int capacity, nl_model **out,
                                 nl_final_model_info *info, nl_error *err)
{
    *out = NULL;
    char *text = NULL;
    nl_flat flat = {0};
    nl_buf keys = {0};
    nl_code rc = nl_checkpoint_config(cfg, cfg->device, &text, &flat, &keys, err);
    if (rc == NL_OK)
        rc = nl_model_create(spec, be, capacity, cfg->train.batch_size, cfg->seed, out, err);
    if (rc == NL_OK)
        rc = nl_final_model_read(dir, &flat, *out, info, err);
    free(text);
    nl_flat_free(&flat);
    nl_buf_free(&keys);
    if (rc) {
        nl_model_free(*out);
        *out = NULL;
    }
    return rc;
}
