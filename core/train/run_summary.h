/* A run's summary.json as nl_run writes it: once at the start (status
 * running), again if a stop reaches rank 0 inside a collective, and last
 * when the run ends, so that it claims "ok" only after everything else is
 * on disk. Beside the result: what the run trained on and how (threads,
 * kernel set, ranks, device, dataset), the version that trained it, and
 * init.from's source. nl_summary_read (results/summary.h) reads it back. */
#ifndef NL_TRAIN_RUN_SUMMARY_H
#define NL_TRAIN_RUN_SUMMARY_H

#include "config/config.h"
#include "model/model.h"
#include "train/init_from.h"
#include "train/train.h"

/* what summary.json records of a run beside its result */
typedef struct {
    nl_device device;             /* trained on: --device, else the config's */
    const char *command_line;     /* NULL: none */
    const char *data_description; /* the loaded dataset's; NULL before it is */
    nl_init_from_source init_source; /* init.from's identity; path "" without one */
    char started[32];             /* UTC, ISO 8601 (nl_run_facts_start) */
    int threads;
    int usable_cores;          /* the CPUs the run may use */
    double busy_cores;         /* of those, busy with other work at the start */
    const char *cpu_kernels;   /* the CPU kernel set, NULL on a GPU */
    const char *openblas_core; /* the core OpenBLAS ran, NULL on a GPU */
    const char *products;      /* the products' library choice, NULL on a GPU */
    const char *conv_library;  /* the convolutions' library (cpu/conv_onednn.h), NULL on a GPU */
    const long *conv_fallbacks; /* of those, how many ran on normlab's path (be->conv_fallbacks), NULL on a GPU */
    const char *conv_kernels;   /* oneDNN's implementations of them (be->conv_kernels), NULL on a GPU */
    /* how the formula layers' passes ran: "compiled", "interpreted: why",
     * or both with counts (norm/formula_compile.h); "" without formulas */
    char formula_kernels[400];
    int ranks, rank_batch;
    double exchange_s; /* rank 0: seconds in the ranks' exchanges while training (0 on one) */
} nl_run_facts;

/* the start's time into f->started */
void nl_run_facts_start(nl_run_facts *f);

/* dir/summary.json, written whole (atomically); `model` NULL before it is
 * built */
nl_code nl_run_summary_write(const char *dir, const nl_config *cfg, const nl_model *model,
                             const nl_run_facts *f, const nl_train_result *r, nl_error *err);

#endif
