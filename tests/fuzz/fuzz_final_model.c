/* libFuzzer harness: the final-model reader, nl_final_model_read, as `normlab
 * eval` and init.from call it on fuzz_final_model.h's config. Input: byte 0
 * the mode (FUZZ_FINAL_* bits), then the final.nlck file.
 *
 * The CRC-32 of format 2 covers every byte, so almost every mutation is
 * refused at the checksum; with FUZZ_FINAL_FIX_CRC the harness writes the
 * payload length, the config keys' hash and the CRC (whole-file for format
 * 2, the payload's for format 1) the mutated bytes need, as a writer with a
 * bug (or an attacker) would, so every field is fuzzed. Without it the
 * header checks themselves are.
 *
 * Properties: an error follows the rules (a message, exit status 2 unless
 * memory or a read failed) and leaves the model exactly as it was
 * (parameters, running statistics, counters, and the optimizer state a final
 * model never touches); a file that loads has a header nl_checkpoint_header
 * _check calls sound, in a format this build reads, a step that is not
 * negative, and loads the model's arrays only (the optimizer state as it
 * was). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "config/config.h"
#include "device/device.h"
#include "fuzz_final_model.h"
#include "model/model.h"
#include "train/check.h"
#include "train/checkpoint.h"
#include "train/final_model.h"
/* fuzz_files.h's dataset helpers go unused here */
#pragma clang diagnostic ignored "-Wunused-function"
#include "fuzz_files.h"

/* the run's model and its config keys, built once per process, and the
 * model's arrays as built, to compare with and to restore after a load */
static struct {
    nl_config cfg;
    nl_backend *be;
    nl_model *model;
    nl_flat flat; /* what eval compares the file's keys with */
    float *params, *optim, *state;
    long *counters;
    size_t optim_floats;
} run;

static void setup(void)
{
    nl_error err = {0};
    FUZZ_REQUIRE(nl_config_load_string(fuzz_final_model_config, "fuzz-final-model.yaml", NULL, 0, &run.cfg,
                                       &err) == NL_OK, "config: %s", err.msg);
    const nl_backend_options opt = {.threads = 1};
    FUZZ_REQUIRE(nl_backend_open(NL_DEVICE_CPU, &opt, &run.be, &err) == NL_OK, "backend: %s", err.msg);
    nl_model_spec spec;
    nl_run_model_spec(&run.cfg, &spec);
    const nl_train_spec *t = &run.cfg.train;
    const int capacity = t->eval_batch_size > t->batch_size ? t->eval_batch_size : t->batch_size;
    FUZZ_REQUIRE(nl_model_create(&spec, run.be, capacity, t->batch_size, run.cfg.seed, &run.model, &err) == NL_OK,
                 "model: %s", err.msg);
    char *text = NULL;
    nl_buf keys = {0};
    FUZZ_REQUIRE(nl_checkpoint_config(&run.cfg, NL_DEVICE_CPU, &text, &run.flat, &keys, &err) == NL_OK,
                 "resolved config: %s", err.msg);
    free(text);
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
    FUZZ_REQUIRE(same_array(run.state, m->state_arena, m->state_floats), "%s: running statistics changed",
                 after);
    for (int i = 0; i < m->n_counters; i++)
        FUZZ_REQUIRE(*m->counters[i] == run.counters[i], "%s: counter %d changed", after, i);
}

static void restore_model(void)
{
    const nl_model *m = run.model;
    run.be->ops->upload(run.be, m->param_arena, run.params, m->param_floats * sizeof(float));
    run.be->ops->upload(run.be, m->state_arena, run.state, m->state_floats * sizeof(float));
    for (int i = 0; i < m->n_counters; i++)
        *m->counters[i] = run.counters[i];
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
    if (mode & FUZZ_FINAL_FIX_CRC)
        fuzz_final_fix_header(file, len);
    const char *dir = fuzz_files_dir();
    fuzz_write_file(dir, NL_FINAL_MODEL_FILE, file, len, false);

    nl_error err = {0};
    nl_final_model_info info = {0, -1};
    const nl_flat *config = (mode & FUZZ_FINAL_NO_CONFIG) ? NULL : &run.flat;
    const nl_code rc = nl_final_model_read(dir, config, run.model, &info, &err);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_final_model_read");
        FUZZ_REQUIRE(strstr(err.msg, NL_FINAL_MODEL_FILE), "the refusal does not name the file: %s",
                     err.msg);
        require_model_unchanged("an error");
    } else {
        nl_checkpoint_header h;
        char what[200];
        const char *wrong = nl_checkpoint_header_check(&nl_final_model_kind, file, len, &h, what, sizeof what);
        FUZZ_REQUIRE(wrong == NULL, "loaded a file whose header is not sound: %s", wrong);
        FUZZ_REQUIRE(info.step >= 0 && info.step == h.step, "loaded with step %lld, its header's %lld",
                     (long long)info.step, (long long)h.step);
        FUZZ_REQUIRE(info.config_hash == h.config_hash, "another config hash than its header's");
        FUZZ_REQUIRE(same_array(run.optim, run.model->optim_arena, run.optim_floats),
                     "a final model changed the optimizer state");
        restore_model();
    }
    free(file);
    return 0;
}
