/* libFuzzer harness: init.from's source, checked as `normlab validate` and
 * `normlab run` check it (nl_run_check_into, which ends in
 * nl_init_from_check: the run directory, its summary, its config and its
 * final model loaded into the model the config builds).
 *
 * The source is a finished run of fuzz_final_model.h's config, made once per
 * process; each input replaces three of its files. Input: byte 0 the mode
 * (FUZZ_FINAL_FIX_CRC: final.nlck's header made to match its bytes), then
 * two little-endian 16-bit lengths (fuzz_files.h's fuzz_split), then
 * config.yaml, summary.json and final.nlck (the rest). Byte 0's other
 * bits pick the config that starts from the source (fuzz_final_model.h's
 * fuzz_init_from_variants: the same
 * model, a new class count, each batch norm policy, another normalizer),
 * so that every check init.from makes is reached.
 *
 * Properties: never a crash, a hang or a leak; a refusal follows the rules
 * (a message, exit status 2 unless memory or a read failed) and names the
 * key init.from or the source; an accepted source is a finished run
 * directory whose config loads and whose final model has a sound header. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz_final_model.h"
#include "results/summary.h"
#include "train/check.h"
#include "train/checkpoint.h"
#include "train/final_model.h"
#include "train/run.h"
/* fuzz_files.h's dataset helpers go unused here */
#pragma clang diagnostic ignored "-Wunused-function"
#include "fuzz_files.h"

enum { VARIANTS = sizeof fuzz_init_from_variants / sizeof *fuzz_init_from_variants };

/* the source run and the configs that start from it, made once */
static struct {
    char source[512], out_dir[512];
    nl_config *cfg[VARIANTS];
} fixture;

static void setup(void)
{
    const char *dir = fuzz_files_dir();
    snprintf(fixture.source, sizeof fixture.source, "%s/source", dir);
    snprintf(fixture.out_dir, sizeof fixture.out_dir, "%s/fine-tune", dir);
    nl_config *source_cfg = malloc(sizeof *source_cfg);
    FUZZ_REQUIRE(source_cfg != NULL, "out of memory");
    nl_error err = {0};
    FUZZ_REQUIRE(nl_config_load_string(fuzz_final_model_config, "fuzz-final-model.yaml", NULL, 0,
                                       source_cfg, &err) == NL_OK, "config: %s", err.msg);
    const nl_run_options opt = {.out_dir = fixture.source, .threads = 1, .device = -1, .force = true};
    nl_run_outcome outcome;
    FUZZ_REQUIRE(nl_run(source_cfg, &opt, &outcome, &err) == NL_OK, "the source run: %s", err.msg);
    free(source_cfg);
    /* the fine-tuning configs: the source's, init.from and a variant */
    char from[600];
    snprintf(from, sizeof from, "init.from=%s", fixture.source);
    for (int v = 0; v < VARIANTS; v++) {
        const char *sets[4] = {from};
        int n_sets = 1;
        while (n_sets < 4 && fuzz_init_from_variants[v][n_sets - 1])
            sets[n_sets] = fuzz_init_from_variants[v][n_sets - 1], n_sets++;
        fixture.cfg[v] = malloc(sizeof *fixture.cfg[v]);
        FUZZ_REQUIRE(fixture.cfg[v] != NULL, "out of memory");
        FUZZ_REQUIRE(nl_config_load_string(fuzz_final_model_config, "fuzz-init-from.yaml", sets, n_sets,
                                           fixture.cfg[v], &err) == NL_OK,
                     "init.from variant %d: %s", v, err.msg);
    }
}

/* what an accepted source must be, checked apart from the check itself */
static void require_loadable(const uint8_t *model, size_t model_len)
{
    nl_error err = {0};
    FUZZ_REQUIRE(nl_final_model_check_run(fixture.source, &err) == NL_OK,
                 "accepted a source that is not a finished run: %s", err.msg);
    FUZZ_REQUIRE(nl_summary_finished(nl_summary_read(fixture.source, NULL)),
                 "accepted a source whose summary.json says it did not finish");
    nl_config *cfg = malloc(sizeof *cfg);
    FUZZ_REQUIRE(cfg != NULL, "out of memory");
    char path[600];
    snprintf(path, sizeof path, "%s/config.yaml", fixture.source);
    FUZZ_REQUIRE(nl_config_load(path, NULL, 0, cfg, &err) == NL_OK,
                 "accepted a source whose config.yaml does not load: %s", err.msg);
    free(cfg);
    nl_checkpoint_header h;
    char what[200];
    const char *wrong =
        nl_checkpoint_header_check(&nl_final_model_kind, model, model_len, &h, what, sizeof what);
    FUZZ_REQUIRE(wrong == NULL, "accepted a final model whose header is not sound: %s", wrong);
    FUZZ_REQUIRE(h.step >= 0, "accepted a final model of step %lld", (long long)h.step);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { CONFIG, SUMMARY, MODEL, FILES };
    static const char *const names[FILES] = {"config.yaml", "summary.json", NL_FINAL_MODEL_FILE};
    const uint8_t *part[FILES];
    size_t len[FILES];
    if (size < 1 || !fuzz_split(data, size, 1, FILES, part, len))
        return 0;
    if (!fixture.cfg[0])
        setup();
    const nl_config *cfg = fixture.cfg[(data[0] >> 1) % VARIANTS];
    uint8_t *model = malloc(len[MODEL] + 1);
    if (!model)
        return 0;
    memcpy(model, part[MODEL], len[MODEL]);
    if (data[0] & FUZZ_FINAL_FIX_CRC)
        fuzz_final_fix_header(model, len[MODEL]);
    fuzz_write_file(fixture.source, names[CONFIG], part[CONFIG], len[CONFIG], false);
    fuzz_write_file(fixture.source, names[SUMMARY], part[SUMMARY], len[SUMMARY], false);
    fuzz_write_file(fixture.source, names[MODEL], model, len[MODEL], false);

    nl_error err = {0};
    nl_run_plan plan;
    const nl_code rc = nl_run_check_into(cfg, -1, false, fixture.out_dir, NULL, &plan, &err);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_run_check_into");
        FUZZ_REQUIRE(strstr(err.msg, "init.from") || strstr(err.msg, fixture.source),
                     "the refusal names neither init.from nor the source: %s", err.msg);
    } else {
        require_loadable(model, len[MODEL]);
    }
    free(model);
    return 0;
}
