/* Everything a run checks before it writes anything, as one function that
 * `normlab validate`, `normlab run` and the sweep's pre-check all call: a
 * config that cannot run does not validate. */
#ifndef NL_TRAIN_CHECK_H
#define NL_TRAIN_CHECK_H

#include <stdbool.h>

#include "config/config.h"
#include "data/data.h"
#include "data/tokens.h"
#include "layers/tensor.h"
#include "train/run_model.h"

typedef struct {
    nl_dataset_shape data;  /* the samples the run would load (image datasets) */
    bool tokens;            /* a token dataset: `token_data` holds its shape */
    nl_token_shape token_data;
    long total_steps;       /* optimizer steps the run would take */
    double model_bytes;     /* what the model's arenas take (CPU runs; 0 for cuda) */
    double data_bytes;      /* what the loaded dataset takes */
    double machine_bytes;   /* physical memory (sysconf) */
    double available_bytes; /* MemAvailable from /proc/meminfo when asked for; else 0 */
} nl_run_plan;

/* Checks a loaded (so already validated) config for the run it describes:
 *  - the dataset's files (nl_dataset_probe: headers against the files' real
 *    lengths, subsets that fit; nl_token_dataset_probe for token datasets:
 *    a window of the model's context in each split), without loading them;
 *  - the run's length: train.steps, or train.epochs times the batches of an
 *    epoch (token datasets: the split's tokens over batch_size * context,
 *    at least one), at least one step and at most NL_MAX_STEPS;
 *  - each probe the spec turns on against the model's graph and the
 *    splits (nl_probes_check: the probe table's check slots);
 *  - the memory the model (at the larger of the two batch sizes) and the
 *    dataset take against the machine's physical memory: more can never run
 *    here. With `available`, also against MemAvailable now (normlab run,
 *    just before it loads): more would swap or be killed half-way.
 *  - train.device_data: on only with device cuda;
 *  - init.from and init.bn_* (nl_init_from_check): the source run, its
 *    final model loaded into this config's model.
 * `memo` (may be NULL) keeps the text corpus last probed, for callers that
 * check many runs (nl_text_memo). `device` >= 0 overrides the config's. Errors name the key and where it was
 * set; bad input is NL_ERR_CONFIG or NL_ERR_DATA (exit 2), too little memory
 * available now NL_ERR_NOMEM (exit 1). */
nl_code nl_run_check(const nl_config *cfg, int device, bool available, nl_text_memo *memo,
                     nl_run_plan *plan, nl_error *err);
/* The same for a run that would write `out_dir` (NULL: not known): init.from
 * naming that directory (another spelling of it too) is refused, since the
 * run would replace the model it starts from. */
nl_code nl_run_check_into(const nl_config *cfg, int device, bool available, const char *out_dir,
                          nl_text_memo *memo, nl_run_plan *plan, nl_error *err);

/* A dataset of `shape` (both splits: a reader loads both) against this
 * machine's physical memory, as nl_run_check counts it: more can never be
 * loaded here, which is bad input (NL_ERR_CONFIG, exit 2), not a failure
 * at run time. For `normlab eval`, whose --data sizes the dataset without a
 * run's other checks; `what` opens the message. */
nl_code nl_check_dataset_fits(const nl_dataset_shape *shape, const char *what, nl_error *err);

#endif
