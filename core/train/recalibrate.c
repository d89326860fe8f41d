/* The two fixes for batch norm's train/eval mismatch (Wu & Johnson 2021,
 * Summers & Dinneen 2020): training the last steps with the running
 * statistics frozen (train.freeze_bn_after), and recomputing the running
 * statistics after training from a number of training batches with the
 * weights fixed (train.bn_recalibrate, PyTorch's momentum=None average).
 * The same two, applied before the first step, are init.bn_policy's freeze
 * and recalibrate for a run that starts from another's model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/recalibrate.h"

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
    if (spec->init_bn.policy == NL_BN_POLICY_FREEZE)
        return NL_MODE_RUNNING_STATS;
    return spec->freeze_bn_after > 0 && step >= spec->freeze_bn_after ? NL_MODE_RUNNING_STATS
                                                                      : NL_MODE_TRAIN;
}

nl_code nl_recalibrate(nl_model *m, nl_batcher *train, long batches, nl_error *err)
{
    nl_backend *be = m->be;
    for (int i = 0; i < m->n_states; i++)
        if (!m->states[i]->unit_normal) /* running statistics only */
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

uint64_t nl_init_recalibrate_seed(uint64_t seed)
{
    /* any stream but the training batcher's own (which takes `seed`) */
    return seed ^ 0x5245434131ULL;
}

nl_code nl_train_recalibrate_at_start(nl_model *m, const nl_split *train,
                                      const nl_train_spec *spec, uint64_t seed, nl_error *err)
{
    if (spec->init_bn.policy != NL_BN_POLICY_RECALIBRATE)
        return NL_OK;
    /* batches of its own, so that the training order is the one a run
     * without the policy sees, and a resumed run's stays where it was */
    nl_batcher batches;
    nl_code rc = nl_batcher_init(&batches, train, spec->batch_size, true, true,
                                 nl_init_recalibrate_seed(seed), err);
    if (rc)
        return rc;
    rc = nl_recalibrate(m, &batches, spec->init_bn.recalibrate_batches, err);
    nl_batcher_free(&batches);
    return rc;
}

/* the parameters of a layer that keeps running statistics: its gamma and beta */
static bool of_stats_layer(const nl_model *m, const nl_param *p)
{
    const char *dot = strrchr(p->name, '.');
    const size_t layer = dot ? (size_t)(dot - p->name) : strlen(p->name);
    for (int i = 0; i < m->n_states; i++)
        if (!strncmp(m->states[i]->name, p->name, layer) && m->states[i]->name[layer] == '.')
            return true;
    return false;
}

nl_code nl_held_affine_open(nl_held_affine *h, nl_model *m, const nl_train_spec *spec,
                            nl_error *err)
{
    memset(h, 0, sizeof *h);
    if (spec->init_bn.policy != NL_BN_POLICY_FREEZE || !spec->init_bn.freeze_affine)
        return NL_OK;
    size_t floats = 0;
    h->params = malloc((size_t)m->n_params * sizeof *h->params);
    if (!h->params)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for init.bn_freeze_affine");
    for (int i = 0; i < m->n_params; i++)
        if (of_stats_layer(m, m->params[i])) {
            h->params[h->n++] = m->params[i];
            floats += m->params[i]->count;
        }
    h->values = malloc((floats + 1) * sizeof *h->values);
    if (!h->values) {
        nl_held_affine_free(h);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for init.bn_freeze_affine");
    }
    nl_backend *be = m->be;
    for (int i = 0, at = 0; i < h->n; at += (int)h->params[i]->count, i++)
        be->ops->download(be, h->values + at, h->params[i]->data,
                          h->params[i]->count * sizeof(float));
    return be->ops->synchronize(be, err);
}

void nl_held_affine_zero_grads(const nl_held_affine *h, nl_model *m)
{
    for (int i = 0; i < h->n; i++)
        m->be->ops->fill(m->be, h->params[i]->grad, 0.0f, h->params[i]->count);
}

void nl_held_affine_restore(const nl_held_affine *h, nl_model *m)
{
    /* weight decay and momentum would move them even without a gradient */
    for (int i = 0, at = 0; i < h->n; at += (int)h->params[i]->count, i++)
        m->be->ops->upload(m->be, h->params[i]->data, h->values + at,
                           h->params[i]->count * sizeof(float));
}

void nl_held_affine_free(nl_held_affine *h)
{
    free(h->params);
    free(h->values);
    memset(h, 0, sizeof *h);
}
