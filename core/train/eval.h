/* `normlab eval`: a finished run's final model (final_model.h) evaluated
 * in eval mode (or with batch statistics) on its config's test split (a
 * token model's validation text), or on another dataset given by data.*
 * overrides, optionally with batch norm folded (model/fold.h), at another
 * batch size, or a recurrent language model at another context; and
 * the record of it beside the run: RUN_DIR/eval/<record>.json and a row of
 * RUN_DIR/eval/evals.csv. */
#ifndef NL_TRAIN_EVAL_H
#define NL_TRAIN_EVAL_H

#include <stdbool.h>

#include "base/status.h"
#include "results/files.h" /* NL_EVAL_DIR, NL_EVAL_TABLE */

typedef struct {
    const char *run_dir;
    /* "data.KEY=VALUE" (or "KEY=VALUE", meaning data.KEY) over config.yaml's */
    const char *const *data_overrides;
    int n_data_overrides;
    bool fold_bn;
    int device;  /* >= 0 overrides the device the run trained on (an nl_device) */
    int threads; /* > 0 overrides the config's */
    /* > 0: a token model whose architecture reads any length (rnn_lm)
     * rebuilt at sequences of this many tokens from the final parameters;
     * per-step running statistics past the trained length reuse its last
     * step's */
    int context;
    int batch;        /* > 0: the evaluation batch size (default train.eval_batch_size) */
    /* each batch's own statistics (train-mode evaluation, running statistics
     * untouched) instead of the running ones: where batch size matters */
    bool batch_stats;
} nl_eval_options;

typedef struct {
    double loss, accuracy; /* mean per sample, fraction correct */
    long samples;
    long step;             /* optimizer steps the final model took */
    int folded_layers;     /* batch norms folded (0 without --fold-bn) */
    double eval_s;         /* the evaluation pass alone */
    /* token models: the sequence length evaluated and the one trained at
     * (0 for image models) */
    int context, trained_context;
    int batch;             /* the evaluation batch size used */
    bool tokens;           /* a token model: loss and accuracy per token */
    char device[16], cpu_kernels[32];
    char products[16];     /* the products' library (NORMLAB_GEMM in effect), "" on a GPU */
    char conv_library[96]; /* the convolutions' library (cpu/conv_onednn.h: its record fits), "" on a GPU */
    long conv_fallbacks;   /* convolutions of that library that ran on normlab's path, -1 on a GPU */
    int threads;
    char data[512];        /* the dataset's description */
    char overrides[1024];  /* the data overrides, "; "-joined ("" for none) */
    /* what the run's summary.json says of the same split (NaN when absent) */
    double run_final_test_accuracy;
} nl_eval_result;

/* Loads and evaluates. Nothing is written. Bad input (NL_ERR_USAGE, _CONFIG,
 * _DATA: exit 2) when RUN_DIR is not a finished run directory, its final
 * model is missing, damaged or of another config, an override is not a
 * data key or changes the input shape, class count or vocabulary, the
 * dataset (both splits, loaded whole) exceeds physical memory, --fold-bn
 * meets a layer it cannot fold, --context names a model that cannot read
 * another length, or batch statistics are asked of one-sample batches. */
nl_code nl_eval_run(const nl_eval_options *opt, nl_eval_result *out, nl_error *err);

/* The record's default name: "test", "test-folded", "data" or
 * "data-folded" (with overrides), then "-tN" (context), "-bN" (batch) and
 * "-batchstats" when asked; nl_eval_write_record numbers it -2, -3, ...
 * past the records already there. */
void nl_eval_record_name(const nl_eval_options *opt, char *name, size_t size);

/* Writes RUN_DIR/eval/<name>.json, created exclusively (never replacing a
 * record, also one another eval makes at the same moment), then appends
 * its row to RUN_DIR/eval/evals.csv (shared with concurrent evals: no row
 * is lost). `numbered`: a name taken becomes the first free of name-2,
 * name-3, ..., written back into `name`; else a record of that name is
 * NL_ERR_USAGE, nothing written. `path` receives the JSON file's path. */
nl_code nl_eval_write_record(const char *run_dir, char *name, size_t name_size, bool numbered,
                             const nl_eval_options *opt, const nl_eval_result *r, char *path,
                             size_t path_size, nl_error *err);

/* What nl_eval_write_record checks before it writes, for refusing before
 * the evaluation: RUN_DIR/eval a directory (or absent), its evals.csv a
 * regular file (or absent), and (name not NULL) no record of that name;
 * else NL_ERR_USAGE naming the path and what is there (exit 2). */
nl_code nl_eval_check_outputs(const char *run_dir, const char *name, nl_error *err);

/* Removes the eval records of RUN_DIR (its eval/ directory's records, table
 * and temporaries; eval/ itself when nothing else is in it), for a run
 * started over: they evaluated the model it replaces. *removed: records. */
nl_code nl_eval_remove_records(const char *run_dir, int *removed, nl_error *err);

#endif
