/* The two fixes for batch norm's train/eval mismatch (Wu & Johnson 2021,
 * Summers & Dinneen 2020): training the last steps with the running
 * statistics frozen (train.freeze_bn_after), and recomputing the running
 * statistics after training from a number of training batches with the
 * weights fixed (train.bn_recalibrate, PyTorch's momentum=None average). */
#include <math.h>

#include "train/train.h"

nl_code nl_train_check_stats(const nl_model *m, const nl_train_spec *spec, long total_steps,
                             nl_error *err)
{
    const bool freeze = spec->freeze_bn_after > 0, recalibrate = spec->bn_recalibrate_batches > 0;
    if (recalibrate && m->rows_per_sample > 1) {
        /* 0 is what "not set" is stored as, not a value the key accepts */
        nl_fail(err, NL_ERR_CONFIG, "%ld: token models take no recalibration of running "
                "statistics; remove the key (not set: no recalibration)",
                spec->bn_recalibrate_batches);
        nl_error_key(err, "train.bn_recalibrate.batches");
        return NL_ERR_CONFIG;
    }
    if ((freeze || recalibrate) && m->n_states == 0) {
        nl_fail(err, NL_ERR_CONFIG, "the model has no normalizer with running statistics to %s "
                "(model.norm.type batch, or instance with track_running_stats: true)",
                freeze ? "freeze" : "recalibrate");
        nl_error_key(err, freeze ? "train.freeze_bn_after" : "train.bn_recalibrate.batches");
        return NL_ERR_CONFIG;
    }
    if (freeze && spec->freeze_bn_after >= total_steps) {
        nl_fail(err, NL_ERR_CONFIG, "%ld is out of range: the run takes %ld steps; accepted: 1 "
                "to %ld", spec->freeze_bn_after, total_steps, total_steps - 1);
        nl_error_key(err, "train.freeze_bn_after");
        return NL_ERR_CONFIG;
    }
    if (freeze && !m->spec.norm.freezable)
        return nl_fail(err, NL_ERR_RUNTIME, "train.freeze_bn_after: the model was built without "
                       "norm.freezable (nl_run_model_spec sets it)");
    return NL_OK;
}

nl_mode nl_train_mode_at(const nl_train_spec *spec, long step)
{
    return spec->freeze_bn_after > 0 && step >= spec->freeze_bn_after ? NL_MODE_RUNNING_STATS
                                                                      : NL_MODE_TRAIN;
}

nl_code nl_recalibrate(nl_model *m, nl_batcher *train, long batches, nl_error *err)
{
    nl_backend *be = m->be;
    for (int i = 0; i < m->n_states; i++)
        be->ops->fill(be, m->states[i]->data, m->states[i]->init_value, m->states[i]->count);
    const float *x;
    const int32_t *y;
    for (long k = 0; k < batches; k++) {
        int n = nl_batcher_next(train, &x, &y);
        if (n == 0) /* epoch boundary: the batcher reshuffles */
            n = nl_batcher_next(train, &x, &y);
        nl_model_load_batch(m, x, y, n);
        nl_model_recalibrate_forward(m, n, k);
    }
    return be->ops->synchronize(be, err);
}

nl_code nl_train_recalibrate(nl_model *m, nl_batcher *train, nl_batcher *eval,
                             const nl_train_spec *spec, nl_train_result *out, nl_error *err)
{
    if (spec->bn_recalibrate_batches <= 0)
        return NL_OK;
    out->unrecalibrated_test_loss = out->final_test_loss;
    out->unrecalibrated_test_accuracy = out->final_test_accuracy;
    nl_code rc = nl_recalibrate(m, train, spec->bn_recalibrate_batches, err);
    double loss, acc;
    if (rc == NL_OK)
        rc = nl_evaluate(m, eval, NL_MODE_EVAL, &loss, &acc, err);
    if (rc != NL_OK)
        return rc;
    out->final_test_loss = loss;
    out->final_test_accuracy = acc;
    if (loss < out->best_test_loss)
        out->best_test_loss = loss;
    if (acc > out->best_test_accuracy)
        out->best_test_accuracy = acc;
    return NL_OK;
}
