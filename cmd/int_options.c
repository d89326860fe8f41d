/* The table of integer options (cmd/int_options.h). Only the table and its
 * lookup live here: tests/test_numbers.c compiles this file in to walk it. */
#include "int_options.h"

#include <limits.h>
#include <string.h>

#include "bench/bench.h"
#include "config/config.h"
#include "search/search.h"
#include "sweep/slurm.h"
#include "sweep/sweep.h"

/* eval's --context and --batch (their bound before the table): 2^24
 * tokens or samples is past any evaluation that fits in memory */
#define EVAL_MAX_SIZE (1 << 24)
/* sweep's parallel runs (-j, --jobs), reproduce's too */
#define SWEEP_MAX_JOBS 256

const nl_cmd_int_option nl_cmd_int_options[] = {
    {"bench", "--threads", 0, NL_CONFIG_MAX_THREADS},
    {"bench", "--busy", 0, NL_CONFIG_MAX_THREADS},
    {"bench", "--reps", 1, NL_BENCH_MAX_REPS},
    {"bench", "--warmup", 0, 100000},
    {"bench", "--groups", 1, 1 << 20},
    {"bench", "--d-model", 1, 1 << 14},
    {"bench", "--heads", 1, 1 << 14},
    {"bench", "--layers", 1, 1024},
    {"bench", "--context", 1, 1 << 16},
    {"bench", "--vocab", 2, 1 << 20},
    {"bench", "--patch", 1, 28},
    /* each size of the comma-separated lists */
    {"bench", "--batch", 1, 1 << 16},
    {"bench", "--hidden", 1, 1 << 16},
    {"bench --run", "--rounds", 1, NL_CMD_BENCH_RUN_MAX_ROUNDS},
    {"bench --run", "--threads", 0, NL_CONFIG_MAX_THREADS},
    {"eval", "--context", 1, EVAL_MAX_SIZE},
    {"eval", "--batch", 1, EVAL_MAX_SIZE},
    {"eval", "--threads", 0, NL_CONFIG_MAX_THREADS},
    {"run", "--threads", 0, NL_CONFIG_MAX_THREADS},
    /* where a sweep's stop rule holds a run (sweep/stop.h); one at or past
     * the run's end is never reached */
    {"run", "--pause-at-step", 1, INT_MAX},
    {"run", "--pause-at-epoch", 1, INT_MAX},
    {"sweep", "-j", 1, SWEEP_MAX_JOBS},
    {"sweep", "--jobs", 1, SWEEP_MAX_JOBS},
    {"sweep", "--array-tasks", 1, NL_SBATCH_MAX_TASKS},
    {"sweep", "--array-throttle", 1, 4096},
    {"sweep", "--cpus-per-task", 1, 4096},
    {"sweep", "--seeds", 1, NL_SWEEP_MAX_VALUES},
    /* reproduce hands these to sweep: checked first so that a bad one names
     * reproduce and makes no output directory name out of it */
    {"reproduce", "--seeds", 1, NL_SWEEP_MAX_VALUES},
    {"reproduce", "-j", 1, SWEEP_MAX_JOBS},
    /* the bootstrap's seed, 64 bits in the options; a long long's range
     * holds any seed worth typing */
    {"verdict", "--seed", 0, LLONG_MAX},
    /* report --watch's seconds between looks at the sweep (and the page's reloads) */
    {"report", "--interval", 1, 3600},
    /* search --funnel's random formulas (a row each in memory) */
    {"search", "--funnel", 1, NL_SEARCH_MAX_CANDIDATES},
    /* search --seed: the file's seed: accepts (exact in a double, as YAML reads it) */
    {"search", "--seed", 0, 1LL << 53},
};
const int nl_cmd_n_int_options = (int)(sizeof nl_cmd_int_options / sizeof nl_cmd_int_options[0]);

const nl_cmd_int_option *nl_cmd_int_option_find(const char *command, const char *option)
{
    for (int i = 0; i < nl_cmd_n_int_options; i++)
        if (!strcmp(nl_cmd_int_options[i].command, command) && !strcmp(nl_cmd_int_options[i].option, option))
            return &nl_cmd_int_options[i];
    return 0;
}
