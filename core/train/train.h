/* The training loop: SGD steps over the training split, evaluation on the
 * test split in eval mode (and with batch statistics, to show BatchNorm's
 * train/eval gap), divergence detection, the probes (train/probe.h).
 * Results leave through a sink (train/sink.h) as rows; the loop prints
 * nothing. Its parts: the data feeds (train/feed.h), the evaluation pass
 * (train/evaluate.h), the running statistics' fixes
 * (train/recalibrate.h), the loss-scale glue (train/loss_scale.h). */
#ifndef NL_TRAIN_H
#define NL_TRAIN_H

#include <stdatomic.h>

#include "data/data.h"
#include "data/tokens.h"
#include "model/model.h"
#include "results/summary.h" /* nl_run_status */
#include "train/sink.h"
#include "config/train_spec.h"
#include "train/state.h"

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

/* total optimizer steps the spec asks for on a training split of n samples */
long nl_train_total_steps(const nl_train_spec *spec, long n_train);

#endif
