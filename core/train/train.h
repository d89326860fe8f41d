/* The training loop: SGD steps over the training split, evaluation on the
 * test split in eval mode (and with batch statistics, to show BatchNorm's
 * train/eval gap), divergence detection, activation tracing. Results leave
 * through a sink as rows; the loop prints nothing. */
#ifndef NL_TRAIN_H
#define NL_TRAIN_H

#include <stdatomic.h>

#include "data/data.h"
#include "data/tokens.h"
#include "model/model.h"
#include "train/series.h"
#include "train/spec.h"
#include "train/state.h"

typedef enum {
    NL_RUN_RUNNING,
    NL_RUN_OK,
    NL_RUN_DIVERGED,    /* a result: the loss became NaN/inf or exceeded the bound */
    NL_RUN_FAILED,      /* an error or an interruption: a sweep runs it again */
    NL_RUN_STATUS_COUNT
} nl_run_status;

const char *nl_run_status_name(nl_run_status status);

typedef enum { NL_SPLIT_TRAIN, NL_SPLIT_TEST, NL_SPLIT_TEST_TRAINMODE, NL_SPLIT_COUNT } nl_split_kind;
extern const nl_name_table nl_split_names;

typedef struct {
    long step;        /* optimizer steps done */
    double epoch;     /* epochs done (fractional) */
    nl_split_kind split;
    double loss;      /* mean over the samples of this row */
    double accuracy;  /* fraction correct, 0..1 */
    double lr;        /* learning rate of the last step */
    double elapsed_s; /* since training started */
    /* train rows with train.clip_grad_norm: the mean gradient norm before
     * clipping over the row's steps; NaN otherwise */
    double grad_norm;
} nl_metric_row;

typedef struct {
    long step, total_steps;
    double epoch;
    double train_loss;    /* last logged */
    double test_accuracy; /* last evaluation, NaN before the first */
    double samples_per_s;
    double elapsed_s, eta_s;
} nl_progress;

typedef struct {
    void *ctx;
    nl_code (*metric)(void *ctx, const nl_metric_row *row, nl_error *err);
    /* percentiles of the traced unit (spec order) at `step` */
    nl_code (*trace)(void *ctx, long step, const double *values, int n, nl_error *err);
    void (*progress)(void *ctx, const nl_progress *p); /* may be NULL */
    /* every train.checkpoint_every steps, between two steps (may be NULL) */
    nl_code (*checkpoint)(void *ctx, const nl_train_state *s, nl_error *err);
    /* not NULL: continue from this state, the model's arrays already
     * restored by the caller (nl_checkpoint_read) */
    const nl_train_state *resume;
    /* train.log.*: one value of a series at `step` (the optimizer steps
     * before the measured one), for layer `layer` (0 = nearest the input)
     * named `name`; may be NULL when the spec logs no series */
    nl_code (*series)(void *ctx, long step, nl_series_kind kind, int layer, const char *name,
                      double value, nl_error *err);
} nl_train_sink;

typedef struct {
    nl_run_status status;
    char reason[256];      /* why it diverged or failed */
    long steps;
    double epochs;
    double final_train_loss;
    double final_test_loss, final_test_accuracy;
    double best_test_loss, best_test_accuracy; /* over all evaluations */
    double final_trainmode_accuracy;           /* NaN when not measured */
    /* train.bn_recalibrate: the last evaluation before recalibrating (the
     * final_test_* are after it); NaN without */
    double unrecalibrated_test_loss, unrecalibrated_test_accuracy;
    long frozen_from_step; /* train.freeze_bn_after when training reached it; else 0 */
    long replayed_steps;   /* steps replayed from a recording (train.cuda_graph) */
    double wall_s;         /* everything */
    double train_s;        /* optimizer steps only (no evaluation) */
    double samples_per_s;  /* training samples / train_s */
} nl_train_result;

/* A result before any step or evaluation: running, its losses and
 * accuracies NaN (written as null), so a summary written now claims no
 * measurement that has not been made. */
void nl_train_result_start(nl_train_result *out);

/* Trains `m` on ds->train. `stop` (may be NULL) ends the run early when set
 * (signals): the result is then failed/"interrupted". */
nl_code nl_train(nl_model *m, const nl_dataset *ds, const nl_train_spec *spec, uint64_t seed,
                 const nl_train_sink *sink, atomic_int *stop, nl_train_result *out,
                 nl_error *err);
/* The same for a token model (nl_model_spec_tokens) on a token dataset:
 * random windows of the model's context from ds->train (nl_window_batcher,
 * seeded), evaluation over the validation split's windows in order (the
 * "test" rows). Losses and accuracies are per token (next-token
 * prediction), in nats; samples are windows. No activation tracing and no
 * recalibration (nl_run_check refuses them); train-mode evaluation is not
 * taken. */
nl_code nl_train_tokens(nl_model *m, const nl_token_dataset *ds, const nl_train_spec *spec,
                        uint64_t seed, const nl_train_sink *sink, atomic_int *stop,
                        nl_train_result *out, nl_error *err);

/* ---- recalibrate.c: train.freeze_bn_after and train.bn_recalibrate ---- */
/* Errors (NL_ERR_CONFIG) when the spec freezes or recalibrates a model
 * without running statistics, or freezes at or past its last step; runtime
 * when a frozen run's model was not built freezable. */
nl_code nl_train_check_stats(const nl_model *m, const nl_train_spec *spec, long total_steps,
                             nl_error *err);
/* the mode of the training forward at `step` (0-based) */
nl_mode nl_train_mode_at(const nl_train_spec *spec, long step);
/* Resets the running statistics to their initial values and recomputes
 * them as the plain average over `batches` batches of `train` (forward
 * only, weights fixed). */
nl_code nl_recalibrate(nl_model *m, nl_batcher *train, long batches, nl_error *err);
/* After a finished run: with train.bn_recalibrate, keeps the last
 * evaluation as unrecalibrated_*, recalibrates over the training batches
 * and evaluates again into final_test_* (and best_*). */
nl_code nl_train_recalibrate(nl_model *m, nl_batcher *train, nl_batcher *eval,
                             const nl_train_spec *spec, nl_train_result *out, nl_error *err);

/* init.bn_policy recalibrate, on a fresh (not resumed) run before its first
 * step: nl_recalibrate over init.bn_recalibrate_batches batches of `train`
 * drawn in an order of their own (a batcher seeded nl_init_recalibrate_seed
 * of the run's seed). Nothing for other policies. */
uint64_t nl_init_recalibrate_seed(uint64_t seed);
nl_code nl_train_recalibrate_at_start(nl_model *m, const nl_split *train,
                                      const nl_train_spec *spec, uint64_t seed, nl_error *err);
/* init.bn_freeze_affine: the gamma and beta of every layer with running
 * statistics, held at the values they have when opened. Their gradients
 * are zeroed after backward (left out of clipping, as PyTorch's
 * requires_grad=False leaves them) and their values written back after
 * each update. Opened empty for any other policy. */
typedef struct {
    nl_param **params;
    int n;
    float *values; /* host copy, the params' values one after the other */
} nl_held_affine;
nl_code nl_held_affine_open(nl_held_affine *h, nl_model *m, const nl_train_spec *spec,
                            nl_error *err);
void nl_held_affine_zero_grads(const nl_held_affine *h, nl_model *m);
void nl_held_affine_restore(const nl_held_affine *h, nl_model *m);
void nl_held_affine_free(nl_held_affine *h);

/* total optimizer steps the spec asks for on a training split of n samples */
long nl_train_total_steps(const nl_train_spec *spec, long n_train);

/* Evaluates one pass of an unshuffled batcher (made once by the caller; it
 * rewinds itself at the end of the pass) in `mode`: eval, or batch
 * statistics (then the batcher should drop a short last batch). */
nl_code nl_evaluate(nl_model *m, nl_batcher *batches, nl_mode mode, double *loss,
                    double *accuracy, nl_error *err);
/* The same for a token model over an evaluation window batcher: loss and
 * accuracy per token */
nl_code nl_evaluate_tokens(nl_model *m, nl_window_batcher *batches, nl_mode mode, double *loss,
                           double *accuracy, nl_error *err);

#endif
