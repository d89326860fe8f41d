/* libFuzzer harness: the checkpoint reader, nl_checkpoint_read, as a run
 * resuming fuzz_checkpoint.h's config calls it. Input: byte 0 the mode
 * (FUZZ_CKPT_* bits), then the checkpoint file.
 *
 * The file's CRC-32 covers every byte (format 6; the payload alone before),
 * so almost every mutation of a real checkpoint is refused at the checksum
 * and the parser behind it would never be reached; with FUZZ_CKPT_FIX_CRC
 * the harness writes the payload length, the CRC (as the header's format
 * computes it) and (from format 4) the hash of the config keys the mutated
 * bytes need, as a writer with a bug (or an attacker) would, so every field
 * is fuzzed. Without it the header checks
 * themselves are fuzzed.
 *
 * Properties: an error follows the rules (message, exit status 2) and
 * leaves the model exactly as it was (parameters, optimizer state, running
 * statistics, counters); so does a checkpoint of another config; a loaded
 * one is a state the training loop can go on from: its data position and
 * order fit the training split (nl_batcher_seek accepts them, so nothing
 * refuses it after the run directory has been written to) and its counts
 * and times are in range; another config's says what it was written for
 * (from format 4: keys that read back as a flat config). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "config/config.h"
#include "data/data.h"
#include "device/device.h"
#include "fuzz_checkpoint.h"
#include "fuzz_files.h"
#include "model/model.h"
#include "train/check.h"
#include "train/checkpoint.h"
#include "train/state.h"

enum { HEADER = 48 };

/* the run's model and data, built once per process, and the model's arrays
 * as built, to compare with and to restore after a checkpoint is loaded */
static struct {
    nl_config cfg;
    nl_backend *be;
    nl_dataset data;
    nl_model *model;
    nl_checkpoint_want want; /* what `normlab run` of the config takes */
    float *params, *optim, *state;
    long *counters;
    size_t optim_floats;
} run;

static void setup(void)
{
    nl_error err = {0};
    FUZZ_REQUIRE(nl_config_load_string(fuzz_checkpoint_config, "fuzz-checkpoint.yaml", NULL, 0, &run.cfg,
                                       &err) == NL_OK, "config: %s", err.msg);
    const nl_backend_options opt = {.threads = 1};
    FUZZ_REQUIRE(nl_backend_open(NL_DEVICE_CPU, &opt, &run.be, &err) == NL_OK, "backend: %s", err.msg);
    FUZZ_REQUIRE(nl_dataset_load(&run.cfg.data, &run.data, &err) == NL_OK, "data: %s", err.msg);
    nl_model_spec spec;
    nl_run_model_spec(&run.cfg, &spec);
    const nl_train_spec *t = &run.cfg.train;
    const int capacity = t->eval_batch_size > t->batch_size ? t->eval_batch_size : t->batch_size;
    FUZZ_REQUIRE(nl_model_create(&spec, run.be, capacity, t->batch_size, run.cfg.seed, &run.model, &err) == NL_OK,
                 "model: %s", err.msg);
    /* the hashes `normlab run` gives the config */
    char *text = NULL;
    nl_flat flat = {0};
    nl_buf keys = {0};
    FUZZ_REQUIRE(nl_checkpoint_config(&run.cfg, NL_DEVICE_CPU, &text, &flat, &keys, &err) == NL_OK,
                 "resolved config: %s", err.msg);
    run.want = (nl_checkpoint_want){nl_checkpoint_hash(keys.data, keys.len),
                                    nl_checkpoint_hash(text, strlen(text))};
    free(text);
    nl_flat_free(&flat);
    nl_buf_free(&keys);

    const nl_model *m = run.model;
    run.optim_floats = m->param_floats * (size_t)m->spec.optimizer_state_slots;
    run.params = malloc(m->param_floats * sizeof(float) + 1);
    run.optim = malloc(run.optim_floats * sizeof(float) + 1);
    run.state = malloc(m->state_floats * sizeof(float) + 1);
    run.counters = malloc((size_t)m->n_counters * sizeof(long) + 1);
    FUZZ_REQUIRE(run.params && run.optim && run.state && run.counters, "out of memory");
    run.be->ops->download(run.be, run.params, m->param_arena, m->param_floats * sizeof(float));
    run.be->ops->download(run.be, run.optim, m->optim_arena, run.optim_floats * sizeof(float));
    run.be->ops->download(run.be, run.state, m->state_arena, m->state_floats * sizeof(float));
    for (int i = 0; i < m->n_counters; i++)
        run.counters[i] = *m->counters[i];
}

/* whether one of the model's arrays still holds what it was built with */
static bool same_array(const float *built, const float *arena, size_t n)
{
    float *now = malloc(n * sizeof(float) + 1);
    FUZZ_REQUIRE(now != NULL, "out of memory");
    run.be->ops->download(run.be, now, arena, n * sizeof(float));
    const bool same = memcmp(now, built, n * sizeof(float)) == 0;
    free(now);
    return same;
}

static void require_model_unchanged(const char *after)
{
    const nl_model *m = run.model;
    FUZZ_REQUIRE(same_array(run.params, m->param_arena, m->param_floats), "%s: parameters changed", after);
    FUZZ_REQUIRE(same_array(run.optim, m->optim_arena, run.optim_floats), "%s: optimizer state changed", after);
    FUZZ_REQUIRE(same_array(run.state, m->state_arena, m->state_floats), "%s: running statistics changed",
                 after);
    for (int i = 0; i < m->n_counters; i++)
        FUZZ_REQUIRE(*m->counters[i] == run.counters[i], "%s: counter %d changed", after, i);
}

static void restore_model(void)
{
    const nl_model *m = run.model;
    run.be->ops->upload(run.be, m->param_arena, run.params, m->param_floats * sizeof(float));
    run.be->ops->upload(run.be, m->optim_arena, run.optim, run.optim_floats * sizeof(float));
    run.be->ops->upload(run.be, m->state_arena, run.state, m->state_floats * sizeof(float));
    for (int i = 0; i < m->n_counters; i++)
        *m->counters[i] = run.counters[i];
}

static bool time_ok(double t) { return isfinite(t) && t >= 0; }

/* a loaded state the training loop can go on from */
static void require_resumable(const nl_train_state *s, const nl_checkpoint_files *files)
{
    FUZZ_REQUIRE(s->step >= 1, "step %ld", s->step);
    FUZZ_REQUIRE(s->window_steps >= 0 && s->window_steps <= s->step, "window of %ld steps at step %ld",
                 s->window_steps, s->step);
    FUZZ_REQUIRE(s->last_eval_step >= 0 && s->last_eval_step <= s->step, "last evaluation at step %ld of %ld",
                 s->last_eval_step, s->step);
    FUZZ_REQUIRE(s->evaluations >= 0 && s->evaluations <= s->step + 1, "%ld evaluations in %ld steps",
                 s->evaluations, s->step);
    FUZZ_REQUIRE(isfinite(s->lr), "lr %g", s->lr);
    FUZZ_REQUIRE(time_ok(s->elapsed_s) && time_ok(s->train_s) && time_ok(s->eval_s), "times %g %g %g",
                 s->elapsed_s, s->train_s, s->eval_s);
    FUZZ_REQUIRE(files->metrics_bytes >= 0 && files->trace_bytes >= 0 && files->series_bytes >= 0,
                 "file lengths %lld %lld %lld", (long long)files->metrics_bytes,
                 (long long)files->trace_bytes, (long long)files->series_bytes);
    /* the name is printed in the resume note */
    FUZZ_REQUIRE(memchr(files->cpu_kernels, '\0', sizeof files->cpu_kernels) != NULL,
                 "an unterminated kernel set name");
    for (const char *c = files->cpu_kernels; *c; c++)
        FUZZ_REQUIRE(*c >= ' ' && *c <= '~', "a kernel set name with byte %d", *c);
    nl_batcher b;
    nl_error err = {0};
    FUZZ_REQUIRE(nl_batcher_init(&b, &run.data.train, run.cfg.train.batch_size, true, true, 1, &err) == NL_OK,
                 "batcher: %s", err.msg);
    const nl_code rc = nl_batcher_seek(&b, s->data_epoch, s->data_pos, &s->data_rng, s->data_order, s->data_n,
                                       &err);
    nl_batcher_free(&b);
    FUZZ_REQUIRE(rc == NL_OK, "loaded, but the training loop refuses its data position: %s", err.msg);
}

/* the mode's changes to the file's header */
static void fix_header(uint8_t *file, size_t len, int mode)
{
    if (len < HEADER || !(mode & FUZZ_CKPT_FIX_CRC))
        return;
    /* from format 4: the hash of the config keys the payload holds, after
     * the state, the output lengths (series.csv's from format 2), the
     * thread count, (from format 3) the kernel set and (from format 8) the
     * convolution library (checkpoint.h) */
    uint32_t version;
    memcpy(&version, file + 8, 4);
    const size_t keys_at = HEADER + nl_train_state_bytes(version) + (version >= 2 ? 4 : 3) * 8 +
                           (version >= 3 ? NL_CHECKPOINT_KERNELS_BYTES : 0) +
                           (version >= 8 ? NL_CHECKPOINT_CONV_BYTES : 0);
    int64_t keys_len;
    if (version >= 4 && version <= NL_CHECKPOINT_VERSION && len >= keys_at + 8 &&
        (memcpy(&keys_len, file + keys_at, 8), keys_len >= 0) && (uint64_t)keys_len <= len - keys_at - 8) {
        const uint64_t hash = nl_checkpoint_hash((const char *)file + keys_at + 8, (size_t)keys_len);
        memcpy(file + 32, &hash, 8);
    }
    const uint64_t payload = len - HEADER;
    memcpy(file + 16, &payload, 8);
    /* from format 6 the CRC covers the header too: the fields above first */
    const uint64_t crc = nl_checkpoint_file_crc(file, len, version >= NL_CHECKPOINT_WHOLE_CRC_VERSION);
    memcpy(file + NL_CHECKPOINT_CRC_AT, &crc, 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!run.model)
        setup();
    const int mode = data[0];
    const size_t len = size - 1;
    uint8_t *file = malloc(len + 1);
    if (!file)
        return 0;
    memcpy(file, data + 1, len);
    fix_header(file, len, mode);
    nl_checkpoint_want want = run.want;
    if ((mode & FUZZ_CKPT_OWN_HASH) && len >= HEADER) {
        memcpy(&want.keys_hash, file + 32, 8);
        want.text_hash = want.keys_hash;
    }
    const char *dir = fuzz_files_dir();
    fuzz_write_file(dir, NL_CHECKPOINT_FILE, file, len, false);
    free(file);

    nl_train_state s;
    nl_checkpoint_files files = {0};
    int32_t *order = NULL;
    nl_checkpoint_found found = NL_CHECKPOINT_LOADED;
    nl_error err = {0};
    nl_checkpoint_origin origin;
    const nl_code rc = nl_checkpoint_read(dir, &want, run.model, &s, &files, &order, &found, &origin, &err);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_checkpoint_read");
        FUZZ_REQUIRE(order == NULL, "an error left an order buffer");
        require_model_unchanged("an error");
    } else if (found != NL_CHECKPOINT_LOADED) {
        FUZZ_REQUIRE(found == NL_CHECKPOINT_OTHER_CONFIG, "a file there, but found = %d", (int)found);
        FUZZ_REQUIRE(order == NULL, "no checkpoint loaded, but an order buffer");
        require_model_unchanged("another config's checkpoint");
        /* its keys are printed in the refusal */
        FUZZ_REQUIRE(origin.version >= 4 ? origin.config_keys != NULL : origin.config_keys == NULL,
                     "format %u with%s config keys", origin.version, origin.config_keys ? "" : "out");
        if (origin.config_keys) {
            nl_flat flat;
            FUZZ_REQUIRE(nl_checkpoint_keys_flat(origin.config_keys, &flat, &err) == NL_OK, "keys: %s", err.msg);
            nl_flat_free(&flat);
        }
        free(origin.config_keys);
    } else {
        FUZZ_REQUIRE(order != NULL && s.data_order == order, "loaded without its data order");
        require_resumable(&s, &files);
        restore_model();
    }
    free(order);
    return 0;
}
