/* libFuzzer harness: the experiment-file loader (nl_experiment_parse) and,
 * for grids small enough to expand quickly, the plan (nl_sweep_plan_build),
 * which loads the base config and validates every run's config. The input
 * is the file's text (up to its first NUL byte, which the file loader
 * refuses); it is named as if it were a file in experiments/, so the
 * relative `base:` paths of the seed corpus find the example configs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "sweep/sweep.h"

/* grids up to this many combinations are expanded; a larger one is a
 * legitimate long job (up to NL_SWEEP_MAX_COMBOS configs to validate), not
 * a hang */
#define FUZZ_MAX_PLANNED_COMBOS 64

static long grid_combos(const nl_experiment *e)
{
    long combos = 1;
    for (int i = 0; i < e->n_axes; i++) {
        combos *= e->axes[i].n;
        if (combos > FUZZ_MAX_PLANNED_COMBOS)
            return combos;
    }
    return combos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    nl_experiment *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    nl_error err = {0};
    nl_code rc = nl_experiment_parse(text, NORMLAB_SOURCE_DIR "/experiments/fuzz.yaml", e, &err);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_experiment_parse");
    } else if (grid_combos(e) <= FUZZ_MAX_PLANNED_COMBOS) {
        nl_sweep_plan plan;
        memset(&plan, 0, sizeof plan);
        rc = nl_sweep_plan_build(e, &plan, &err);
        if (rc != NL_OK) {
            fuzz_check_error(rc, &err, "nl_sweep_plan_build");
        } else {
            /* a combination is a run, excluded, or the same run as another
             * once grid keys that do not apply to it are left out */
            FUZZ_REQUIRE(plan.n_runs + plan.n_excluded + plan.n_coinciding == plan.n_combos,
                         "%d runs + %d excluded + %ld coinciding != %ld combinations", plan.n_runs,
                         plan.n_excluded, plan.n_coinciding, plan.n_combos);
            for (int i = 0; i < plan.n_runs; i++)
                FUZZ_REQUIRE(plan.runs[i].dir[0] && plan.runs[i].config_text,
                             "run %d has no directory or config", i);
        }
        nl_sweep_plan_free(&plan);
    }
    nl_experiment_free(e);
    free(e);
    free(text);
    return 0;
}
