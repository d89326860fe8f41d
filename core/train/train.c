#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "model/data_init.h"
#include "train/evaluate.h"
#include "train/feed.h"
#include "train/loss_scale.h"
#include "train/probe.h"
#include "results/summary.h"
#include "results/crash.h"
#include "train/recalibrate.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long nl_train_total_steps(const nl_train_spec *spec, long n_train)
{
    if (spec->steps > 0)
        return spec->steps;
    return spec->epochs * (n_train / spec->batch_size);
}

/* Time left: the remaining steps at the training pace so far plus the
 * remaining evaluations at theirs. The elapsed time over the steps done
 * would count the step-0 evaluation and the set-up against the first few
 * steps, which made the first estimate several times too long. */
static double remaining_seconds(long step, long total, long eval_every, double train_time,
                                double eval_time, long evaluations)
{
    if (step <= 0)
        return NAN;
    /* evaluations still to come: every eval_every steps, and one at the end */
    long evals_left = total / eval_every - step / eval_every;
    if (total % eval_every != 0)
        evals_left++;
    const double per_eval = evaluations > 0 ? eval_time / (double)evaluations : 0.0;
    return train_time / (double)step * (double)(total - step) + per_eval * (double)evals_left;
}

static bool loss_diverged(double loss, float bound) { return !isfinite(loss) || loss > bound; }

/* The training step recorded once on the backend (a CUDA graph:
 * train.cuda_graph) and replayed: the kernels of forward, backward,
 * clipping and the optimizer. The batch and the per-step scalars are
 * uploaded before each replay, so a replayed step computes what the direct
 * one would, bit for bit. A step of another batch size or mode is recorded
 * anew; a step that logs series.csv, or a data-parallel one (it exchanges
 * through the host), runs directly. */
typedef struct {
    bool enabled;
    void *recording;
    int n;       /* the batch and mode it was recorded for */
    nl_mode mode;
    long replays;
} step_recording;

/* the kernels of a step whose host halves (prepare, upload) are done */
static void launch_step(nl_model *m, const nl_train_spec *spec, int n, nl_mode mode)
{
    nl_model_launch_forward(m, n, mode);
    nl_model_backward(m, n);
    if (spec->clip_grad_norm > 0.0f)
        nl_clip_grad_norm(m, spec->clip_grad_norm);
    nl_optim_launch(m, &spec->optimizer);
}

/* replays the step, recording it first when there is no recording for this
 * batch size and mode */
static nl_code replay_step(nl_model *m, const nl_train_spec *spec, step_recording *rec, int n,
                           nl_mode mode, nl_error *err)
{
    nl_backend *be = m->be;
    if (rec->recording && (rec->n != n || rec->mode != mode)) {
        /* no replay of the old recording may still be running when it goes */
        nl_code rc = be->ops->synchronize(be, err);
        if (rc)
            return rc;
        be->ops->record_free(be, rec->recording);
        rec->recording = NULL;
    }
    if (!rec->recording) {
        if (be->ops->record_begin(be)) {
            launch_step(m, spec, n, mode);
            rec->recording = be->ops->record_end(be);
        }
        if (!rec->recording) {
            nl_code rc = be->ops->synchronize(be, err);
            return rc ? rc : nl_fail(err, NL_ERR_RUNTIME, "the training step could not be "
                                     "recorded (train.cuda_graph: off runs it directly)");
        }
        rec->n = n;
        rec->mode = mode;
    }
    be->ops->replay(be, rec->recording);
    rec->replays++;
    return NL_OK;
}

/* What one call of the loop works with: the resumable state, and what this
 * process holds or derives besides. None of the rest goes in a checkpoint:
 * it is set up anew, or follows from the state (trainer_resume). */
typedef struct {
    nl_model *m;
    nl_feed *f;
    const nl_train_spec *spec;
    const nl_train_sink *sink;
    uint64_t seed; /* the training batcher's */
    atomic_int *stop;
    nl_train_result *out;
    nl_error *err;
    nl_train_state state;
    nl_series series;
    nl_probes probes; /* the probes the spec turns on (train/probe.h) */
    step_recording rec;
    int eval_batch;
    bool trainmode; /* also evaluate with batch statistics */
    bool clips;     /* train.clip_grad_norm */
    /* train.loss_scale and series.csv's loss-scaling rows (loss_scale.h) */
    nl_loss_scaling scaling;
    /* A divergence is dated at its step, not at the next train row: where
     * the metric counters are host memory and one process trains, reading
     * them after each step costs a copy of two doubles, and the growth of
     * the window's loss sum is the step's own loss. The first step whose
     * loss is not finite or exceeds train.diverge_loss ends the window (a
     * row) and the run. A GPU's counters would cost a synchronization a
     * step, and the ranks' a collective: there the row's mean decides and
     * the reason names the row's steps. */
    bool dates_each_step;
    long per_epoch, total;
    /* the loss sums are per prediction: one per sample, or one per token */
    double predictions_per_step;
    double start;          /* this process's clock when training began */
    double elapsed_before; /* a resumed run's time before this process */
    double last_progress;  /* since start, when the progress line was last shown */
    long resumed_at;       /* the step a resumed run went on from; -1 when fresh */
    double window_loss_before; /* the window's loss sum before this step */
    double step_loss;          /* the last step's own loss (dates_each_step) */
    /* ranks stop together at the step after any of them saw a signal (the
     * request rode in the step's gradient exchange: no collective of its own) */
    bool ranks_stopping;
    nl_held_affine held; /* init.bn_freeze_affine */
    /* a formula normalizer (model.norm.type expr) in the model: a NaN or
     * infinity it gives can leave the loss finite (a ReLU after it writes
     * 0 for an infinity below 0, the gradient through it does not), so the
     * parameters are checked after each step (each row where steps are
     * not dated) and one not finite ends the run diverged (issue 118) */
    bool checks_params;
    char nonfinite_param[80]; /* the first parameter found not finite */
    /* the first layer whose output was not finite at the step whose loss
     * first was not (dated steps): where a NaN or infinity appeared */
    char nonfinite_layer[96];
} trainer;

void nl_train_result_start(nl_train_result *out)
{
    memset(out, 0, sizeof *out);
    out->status = NL_RUN_RUNNING;
    out->final_test_loss = out->final_test_accuracy = NAN;
    out->best_test_loss = INFINITY;
    out->best_test_accuracy = NAN;
    out->final_trainmode_accuracy = NAN;
    out->unrecalibrated_test_loss = out->unrecalibrated_test_accuracy = NAN;
    out->final_train_loss = NAN;
}

static void trainer_free(trainer *t)
{
    nl_feed_free(t->f);
    nl_series_free(&t->series, t->m);
    nl_probes_close(&t->probes);
    nl_held_affine_free(&t->held);
    nl_loss_scaling_close(&t->scaling, t->m);
}

/* the logged series (train.log.*) and the probes, planned */
static nl_code open_measurements(trainer *t)
{
    const nl_train_spec *spec = t->spec;
    nl_code rc = nl_series_init(&t->series, t->m, spec->log_grad_norms,
                                spec->log_attention_logits, t->err);
    if (rc == NL_OK && spec->log_weight_stats)
        rc = nl_series_plan_weights(&t->series, t->m, t->err);
    if (rc == NL_OK && spec->log_switch_weights)
        rc = nl_series_plan_switch(&t->series, t->m, t->err);
    if (rc == NL_OK) {
        const nl_probe_env env = {.m = t->m, .spec = spec, .feed = t->f, .sink = t->sink,
                                  .eval_batch = t->eval_batch};
        rc = nl_probes_open(&t->probes, &env, t->err);
    }
    return rc;
}

/* Everything the run needs before its first step, checked and allocated
 * here (nothing is allocated while it goes); the state of a fresh run. */
static nl_code trainer_open(trainer *t)
{
    nl_model *m = t->m;
    const nl_train_spec *spec = t->spec;
    const nl_dataset *ds = t->f->images; /* NULL for tokens */
    nl_code rc = nl_feed_check(t->f, spec, t->err);
    if (rc)
        return rc;
    t->eval_batch = spec->eval_batch_size < m->capacity ? spec->eval_batch_size : m->capacity;
    /* train-mode evaluation only tells something when eval mode differs, and
     * needs at least one whole training-size batch of test data (a token
     * split always holds a window, and one window's tokens make a batch) */
    t->trainmode = spec->eval_trainmode && m->n_states > 0 &&
                   (!ds || ds->test.n >= spec->batch_size);
    t->f->trainmode = t->trainmode;
    rc = open_measurements(t);
    if (rc == NL_OK)
        rc = nl_feed_init(t->f, m, spec, t->eval_batch, t->seed, t->err);
    if (rc == NL_OK) {
        t->per_epoch = nl_feed_batches_per_epoch(t->f);
        t->total = spec->steps > 0 ? spec->steps : spec->epochs * t->per_epoch;
        rc = nl_train_check_stats(m, spec, t->total, t->err);
    }
    t->predictions_per_step = (double)spec->batch_size * m->rows_per_sample;
    t->clips = spec->clip_grad_norm > 0.0f;
    t->dates_each_step = m->be->device == NL_DEVICE_CPU && nl_dist_size(m->dist) == 1;
    for (int i = 0; i < m->n_layers; i++)
        t->checks_params |= strcmp(m->layers[i]->vt->kind, "expr") == 0;
    if (rc == NL_OK)
        rc = nl_held_affine_open(&t->held, m, spec, t->err);
    if (rc == NL_OK)
        rc = nl_loss_scaling_open(&t->scaling, m, spec->loss_scale.enabled,
                                  nl_train_logs_loss_scale(spec) && t->sink->series, t->err);
    if (rc) {
        trainer_free(t);
        return rc;
    }
    /* held parameters are written back from host memory, which a recording
     * cannot replay; a scaled step's update waits on the host's reading of
     * the inf flag, which a recording cannot either */
    t->rec = (step_recording){.enabled = spec->cuda_graph == NL_CUDA_GRAPH_AUTO &&
                                         m->be->ops->record_begin && nl_dist_size(m->dist) == 1 &&
                                         t->held.n == 0 && !t->scaling.scales};
    t->start = now_s();
    t->last_progress = -1.0;
    t->resumed_at = -1;
    t->step_loss = NAN;
    /* nothing measured yet: nl_train_result_start's values */
    t->state = (nl_train_state){
        .lr = nl_schedule_lr(&spec->schedule, spec->optimizer.lr, 0, t->total),
        .final_train_loss = NAN, .final_test_loss = NAN, .final_test_accuracy = NAN,
        .best_test_loss = INFINITY, .best_test_accuracy = NAN, .final_trainmode_accuracy = NAN,
        .precision = spec->precision, .ranks = nl_dist_size(m->dist)};
    if (t->scaling.scales)
        nl_loss_scaler_start(&t->state.scaler, &spec->loss_scale);
    return NL_OK;
}

/* The one way back into a checkpoint's state (the model's arrays restored
 * by nl_checkpoint_read): the state as the loop's own, and what of it the
 * model, the batcher and the clock hold while the loop runs given back to
 * them. */
static nl_code trainer_resume(trainer *t, const nl_train_state *resume)
{
    /* the checkpoint's arithmetic was another precision's: its steps would
     * not continue as one run */
    if (resume->precision != (long)t->spec->precision) {
        const bool known = resume->precision >= 0 && resume->precision < NL_PRECISION_COUNT;
        return nl_fail(t->err, NL_ERR_CONFIG,
                       "the checkpoint was written by a run with train.precision %s, and this "
                       "run's train.precision is %s; resume it with %s, or start over (--force)",
                       known ? nl_name_of(&nl_precision_names, (int)resume->precision) : "unknown",
                       nl_name_of(&nl_precision_names, t->spec->precision),
                       known ? nl_name_of(&nl_precision_names, (int)resume->precision) : "its own");
    }
    nl_code rc = nl_feed_seek(t->f, resume, t->err);
    if (rc)
        return rc;
    t->state = *resume;
    /* a checkpoint of a run that did not scale (format 4 and before among
     * them) holds no scaler: it starts at train.loss_scale.init_scale */
    if (t->scaling.scales && !(t->state.scaler.scale > 0.0))
        nl_loss_scaler_start(&t->state.scaler, &t->spec->loss_scale);
    t->resumed_at = resume->step;
    t->elapsed_before = resume->elapsed_s;
    t->window_loss_before = resume->window_sums[0] + resume->model_metrics[0];
    if (t->clips)
        nl_clip_set_norm_sum(t->m, resume->window_sums[2]);
    /* the checkpoint's counters are the ranks' sum (nl_model_read_metrics
     * adds every rank's): rank 0 takes them, the others start from zero */
    const double none[2] = {0.0, 0.0};
    nl_model_write_metrics(t->m, nl_dist_rank(t->m->dist) == 0 ? resume->model_metrics : none);
    return NL_OK;
}

/* trainer_resume's converse: what the model, the batcher and the clock
 * hold, into the state, for a checkpoint */
static void trainer_capture(trainer *t)
{
    nl_train_state *s = &t->state;
    s->window_sums[2] = t->clips ? nl_clip_norm_sum(t->m) : 0.0;
    nl_model_read_metrics(t->m, s->model_metrics);
    s->elapsed_s = t->elapsed_before + now_s() - t->start;
    s->ranks = nl_dist_size(t->m->dist);
    nl_feed_tell(t->f, s);
}

static nl_code emit_row(trainer *t, nl_split_kind split, double loss, double acc,
                        double grad_norm)
{
    const nl_train_state *s = &t->state;
    const nl_metric_row row = {s->step, (double)s->step / (double)t->per_epoch, split, loss, acc,
                               s->lr, t->elapsed_before + now_s() - t->start, grad_norm};
    return t->sink->metric(t->sink->ctx, &row, t->err);
}

/* the progress line, with the last evaluation's accuracy; the untrained
 * model's says nothing about the run */
static void report_progress(trainer *t, double loss)
{
    const nl_train_state *s = &t->state;
    const double elapsed = now_s() - t->start;
    t->last_progress = elapsed;
    nl_progress p = {s->step, t->total, (double)s->step / t->per_epoch, loss,
                     s->last_eval_step > 0 ? s->final_test_accuracy : NAN,
                     s->step * (double)t->spec->batch_size / (s->train_s > 0 ? s->train_s : 1e-9),
                     elapsed, 0.0};
    p.eta_s = remaining_seconds(s->step, t->total, t->spec->eval_every, s->train_s, s->eval_s,
                                s->evaluations);
    t->sink->progress(t->sink->ctx, &p);
}

/* the test rows (eval mode, and batch statistics when asked) of the model
 * as it is now */
static nl_code evaluate_model(trainer *t)
{
    nl_train_state *s = &t->state;
    double loss, acc;
    const double eval_t0 = now_s();
    nl_code rc = nl_feed_evaluate(t->f, t->m, false, &loss, &acc, t->err);
    if (rc == NL_OK)
        rc = emit_row(t, NL_SPLIT_TEST, loss, acc, NAN);
    if (rc)
        return rc;
    s->final_test_loss = loss;
    s->final_test_accuracy = acc;
    if (loss < s->best_test_loss)
        s->best_test_loss = loss;
    if (isnan(s->best_test_accuracy) || acc > s->best_test_accuracy)
        s->best_test_accuracy = acc;
    if (t->trainmode) {
        rc = nl_feed_evaluate(t->f, t->m, true, &loss, &acc, t->err);
        if (rc == NL_OK)
            rc = emit_row(t, NL_SPLIT_TEST_TRAINMODE, loss, acc, NAN);
        if (rc)
            return rc;
        s->final_trainmode_accuracy = acc;
    }
    s->eval_s += now_s() - eval_t0;
    s->evaluations++;
    s->last_eval_step = s->step;
    /* the last line shows the final evaluation, as the result does */
    if (t->sink->progress && s->step == t->total && s->step > 0)
        report_progress(t, s->final_train_loss);
    return NL_OK;
}

/* Between two steps: the evaluation when one is due, and the probes due
 * here. Both run forwards that overwrite the model's metric counters, so
 * the window's sums move off them first. */
static nl_code measure(trainer *t, bool evaluate)
{
    nl_train_state *s = &t->state;
    const nl_probe_at at = {.point = NL_PROBE_BETWEEN_STEPS, .step = s->step,
                            .resumed_at = t->resumed_at, .evaluating = evaluate};
    if (!evaluate && !nl_probes_due(&t->probes, &at))
        return NL_OK;
    nl_model_share_state(t->m);
    if (s->window_steps > 0) {
        double partial[2];
        nl_model_read_metrics(t->m, partial);
        s->window_sums[0] += partial[0];
        s->window_sums[1] += partial[1];
    }
    nl_code rc = evaluate ? evaluate_model(t) : NL_OK;
    if (rc == NL_OK)
        rc = nl_probes_run(&t->probes, &at, t->err);
    if (rc)
        return rc;
    nl_model_reset_metrics(t->m);
    return NL_OK;
}

/* every train.checkpoint_every steps, but at the step a resumed run went
 * on from (its checkpoint is that one) */
static nl_code checkpoint_due(trainer *t)
{
    const long step = t->state.step, every = t->spec->checkpoint_every;
    if (every <= 0 || !t->sink->checkpoint || step % every != 0 || step == 0 ||
        step == t->resumed_at)
        return NL_OK;
    trainer_capture(t);
    return t->sink->checkpoint(t->sink->ctx, &t->state, t->err);
}

/* The sweep's stop rule waits here (nl_train_sink.pause_at): a checkpoint
 * at the step, unless the run went on from one there, and the run ends
 * stopped; started again, it resumes as an uninterrupted run goes on. */
static bool paused(trainer *t, nl_code *rc)
{
    const nl_train_sink *k = t->sink;
    const long at = k->pause_in_epochs ? k->pause_at * t->per_epoch : k->pause_at;
    if (k->pause_at <= 0 || t->state.step != at)
        return false;
    if (k->checkpoint && at != t->resumed_at) {
        trainer_capture(t);
        *rc = k->checkpoint(k->ctx, &t->state, t->err);
    }
    t->out->status = NL_RUN_STOPPED;
    char epoch[48] = "";
    if (k->pause_in_epochs)
        snprintf(epoch, sizeof epoch, " (epoch %ld)", k->pause_at);
    snprintf(t->out->reason, sizeof t->out->reason, "paused at step %ld of %ld%s for the sweep's stop rule", at,
             t->total, epoch);
    return true;
}

/* A signal reaches the ranks at different moments: one process stops at
 * the signal, ranks at the step after any of them saw one, or some would
 * wait for the others forever. */
static bool interrupted(trainer *t)
{
    if (!t->ranks_stopping && !(nl_dist_size(t->m->dist) == 1 && t->stop && *t->stop))
        return false;
    t->out->status = NL_RUN_FAILED;
    snprintf(t->out->reason, sizeof t->out->reason, NL_RUN_INTERRUPTED_REASON " at step %ld of %ld",
             t->state.step, t->total);
    return true;
}

/* The step's gradients, complete over the ranks, unscaled (and the loss
 * scaler moved on), with the rows the step logs of them and the probes
 * due there; *found_inf when the update is to be skipped */
static nl_code gradients_done(trainer *t, nl_probe_at *at, bool series_now, bool *found_inf)
{
    nl_model *m = t->m;
    /* the gradients are complete (over every rank) here; clipping and the
     * update read them */
    t->ranks_stopping = nl_model_reduce_gradients(m, t->stop && *t->stop);
    nl_held_affine_zero_grads(&t->held, m);
    nl_code rc = nl_dist_status(m->dist, t->err);
    /* every rank holds the same summed gradients, so every rank finds the
     * same flag and skips the same steps */
    *found_inf = false;
    const bool scales = t->scaling.scales, zeros_now = series_now && t->scaling.counts_zeros;
    if (rc == NL_OK && (scales || zeros_now))
        nl_loss_scaling_unscale(&t->scaling, m, found_inf);
    const double scale_used = t->state.scaler.scale;
    if (scales)
        nl_loss_scaler_update(&t->state.scaler, &t->spec->loss_scale, *found_inf);
    if (rc == NL_OK && zeros_now)
        rc = nl_loss_scaling_emit(&t->scaling, m, t->sink->series, t->sink->ctx, t->state.step,
                                  scale_used, t->state.scaler.skipped_steps, t->err);
    if (rc == NL_OK && series_now)
        rc = nl_series_emit_step(&t->series, m, t->sink->series, t->sink->ctx, t->state.step,
                                 t->err);
    at->point = NL_PROBE_AFTER_GRADIENTS;
    if (rc == NL_OK)
        rc = nl_probes_run(&t->probes, at, t->err);
    return rc;
}

/* the kernels of a step launched one by one, with the series it logs and
 * the probes due in it */
static nl_code direct_step(trainer *t, nl_probe_at *at, bool series_now)
{
    nl_model *m = t->m;
    nl_model_launch_forward(m, at->mine, at->mode);
    if (series_now && t->series.max_logits)
        nl_series_read_logits(&t->series, m);
    at->point = NL_PROBE_AFTER_FORWARD;
    nl_code rc = nl_probes_run(&t->probes, at, t->err);
    if (rc)
        return rc;
    nl_model_backward(m, at->mine);
    bool found_inf;
    if ((rc = gradients_done(t, at, series_now, &found_inf)))
        return rc;
    if (t->clips)
        nl_clip_grad_norm(m, t->spec->clip_grad_norm);
    const bool weights_now = series_now && t->series.weight_stats && t->sink->series;
    if (weights_now)
        nl_series_weights_before(&t->series, m);
    if (!found_inf)
        nl_optim_launch(m, &t->spec->optimizer);
    nl_held_affine_restore(&t->held, m);
    if (!weights_now)
        return NL_OK;
    nl_series_weights_after(&t->series, m);
    return nl_series_emit_weights(&t->series, m, t->sink->series, t->sink->ctx, t->state.step,
                                  t->err);
}

/* the step just taken's own loss from the window's growth (dates_each_step);
 * true when it diverged */
static bool step_diverged(trainer *t)
{
    double so_far[2];
    nl_model_read_metrics(t->m, so_far);
    const double window_loss = so_far[0] + t->state.window_sums[0];
    t->step_loss = (window_loss - t->window_loss_before) / t->predictions_per_step;
    t->window_loss_before = window_loss;
    return loss_diverged(t->step_loss, t->spec->diverge_loss);
}

/* the first parameter holding a value that is not finite, its name in
 * t->nonfinite_param: true when there is one */
static bool params_nonfinite(trainer *t)
{
    nl_model *m = t->m;
    float chunk[4096];
    for (int k = 0; k < m->n_params; k++) {
        const nl_param *p = m->params[k];
        for (size_t at = 0; at < p->count; at += sizeof chunk / sizeof chunk[0]) {
            const size_t n = p->count - at < sizeof chunk / sizeof chunk[0]
                                 ? p->count - at
                                 : sizeof chunk / sizeof chunk[0];
            m->be->ops->download(m->be, chunk, p->data + at, n * sizeof chunk[0]);
            for (size_t i = 0; i < n; i++)
                if (!isfinite(chunk[i])) {
                    snprintf(t->nonfinite_param, sizeof t->nonfinite_param, "%s", p->name);
                    return true;
                }
        }
    }
    return false;
}

/* The first layer, in forward order, whose output for the step's `mine`
 * samples holds a value that is not finite, named in t->nonfinite_layer
 * (with what is fused into it). The ReLU and max pooling keep a NaN, as
 * torch's do, so one a normalizer gives reaches the loss at the step it
 * appears; looked for only then, so a finite run pays nothing (issue
 * 118). Outputs kept in a 16-bit storage type are passed over. */
static void find_nonfinite_layer(trainer *t, int mine)
{
    nl_model *m = t->m;
    float chunk[4096];
    for (int k = 0; k < m->n_layers; k++) {
        const nl_layer *l = m->layers[k];
        if (!l->out || !l->out->data || l->out->shape.value_store)
            continue;
        const size_t count = (size_t)mine * nl_shape_per_sample(l->out->shape);
        for (size_t at = 0; at < count; at += sizeof chunk / sizeof chunk[0]) {
            const size_t n = count - at < sizeof chunk / sizeof chunk[0] ? count - at : sizeof chunk / sizeof chunk[0];
            m->be->ops->download(m->be, chunk, l->out->data + at, n * sizeof chunk[0]);
            for (size_t i = 0; i < n; i++)
                if (!isfinite(chunk[i])) {
                    snprintf(t->nonfinite_layer, sizeof t->nonfinite_layer, "%.60s%s%.16s%s", l->name,
                             l->fused ? " (" : "", l->fused ? l->fused : "", l->fused ? " fused)" : "");
                    return;
                }
        }
    }
}

/* whether a probe is due inside the step `at` describes (it then runs
 * directly, not replayed) */
static bool probes_due_in_step(const trainer *t, nl_probe_at *at)
{
    at->point = NL_PROBE_AFTER_FORWARD;
    if (nl_probes_due(&t->probes, at))
        return true;
    at->point = NL_PROBE_AFTER_GRADIENTS;
    return nl_probes_due(&t->probes, at);
}

/* one optimizer step; *diverged_now when it is dated as the divergence */
static nl_code train_step(trainer *t, bool *diverged_now)
{
    nl_model *m = t->m;
    const nl_train_spec *spec = t->spec;
    nl_train_state *s = &t->state;
    const long step = s->step;
    const double t0 = now_s();
    const int mine = nl_feed_next(t->f, m);
    if (s->window_steps == 0) {
        nl_model_reset_metrics(m);
        s->window_sums[0] = s->window_sums[1] = 0.0;
        if (t->clips)
            nl_clip_set_norm_sum(m, 0.0);
    }
    s->lr = nl_schedule_lr(&spec->schedule, spec->optimizer.lr, step, t->total);
    m->step = step;
    nl_crash_test_hook(step); /* inert unless NORMLAB_TEST_CRASH is set */
    const nl_mode mode = nl_train_mode_at(spec, step);
    /* where the freezing began, also for a run resumed past it */
    if (mode == NL_MODE_RUNNING_STATS)
        t->out->frozen_from_step = spec->freeze_bn_after;
    /* the series at the logging cadence, from step 0 (the model at
     * initialization) on */
    const bool series_now = (t->series.grad_norms || t->series.max_logits ||
                             t->series.weight_stats || t->series.switch_weights ||
                             t->scaling.counts_zeros) &&
                            step % spec->log_every == 0;
    m->record_max_logit = series_now && t->series.max_logits;
    /* the host halves first: counts and per-step scalars, one upload */
    nl_model_prepare_forward(m, mine, mode);
    /* the optimizer counts the updates it made (Adam's bias correction):
     * a skipped step is none, as in PyTorch, where scaler.step does not
     * call optimizer.step; the schedule goes by the steps taken */
    nl_optim_prepare(m, &spec->optimizer, (float)s->lr, step - s->scaler.skipped_steps);
    nl_model_upload_scalars(m);
    if (t->scaling.scales || (series_now && t->scaling.counts_zeros))
        nl_loss_scaling_prepare(&t->scaling, m, &s->scaler);
    nl_probe_at at = {.step = step, .resumed_at = t->resumed_at, .mine = mine, .mode = mode,
                      .lr = s->lr, .predictions = t->predictions_per_step};
    const nl_code rc = t->rec.enabled && !series_now && !probes_due_in_step(t, &at)
                           ? replay_step(m, spec, &t->rec, mine, mode, t->err)
                           : direct_step(t, &at, series_now);
    if (rc)
        return rc;
    m->record_max_logit = false;
    s->step++;
    s->window_steps++;
    s->train_s += now_s() - t0;
    *diverged_now = t->dates_each_step && step_diverged(t);
    if (*diverged_now && !isfinite(t->step_loss))
        find_nonfinite_layer(t, mine);
    if (t->dates_each_step && !*diverged_now && t->checks_params)
        *diverged_now = params_nonfinite(t);
    return NL_OK;
}

/* why the run diverged at the train row of steps window_first to the
 * current one, whose mean loss is `loss` */
static void divergence_reason(trainer *t, double loss, long window_first, bool diverged_now)
{
    nl_train_result *out = t->out;
    const long step = t->state.step;
    const double bound = t->spec->diverge_loss, step_loss = t->step_loss;
    const double shown = isnan(loss) ? fabs(loss) : loss; /* "nan", not "-nan" */
    if (t->nonfinite_param[0] && diverged_now)
        snprintf(out->reason, sizeof out->reason,
                 "parameter %.60s not finite after step %ld, the first so; the loss (%g) "
                 "stayed finite: a formula value was not",
                 t->nonfinite_param, step, isnan(step_loss) ? fabs(step_loss) : step_loss);
    else if (t->nonfinite_param[0])
        snprintf(out->reason, sizeof out->reason,
                 "parameter %.60s not finite at step %ld, first so in steps %ld to %ld; the "
                 "loss (%g) stayed finite: a formula value was not",
                 t->nonfinite_param, step, window_first, step, shown);
    else if (diverged_now && !isfinite(step_loss))
        snprintf(out->reason, sizeof out->reason,
                 "training loss %g at step %ld, the first step whose loss was not finite%s%s",
                 isnan(step_loss) ? fabs(step_loss) : step_loss, step,
                 t->nonfinite_layer[0] ? "; first not finite in the output of layer " : "", t->nonfinite_layer);
    else if (diverged_now)
        snprintf(out->reason, sizeof out->reason,
                 "training loss %g at step %ld, the first step whose loss exceeded "
                 "train.diverge_loss = %g", step_loss, step, bound);
    else if (!isfinite(loss) && window_first < step)
        snprintf(out->reason, sizeof out->reason,
                 "training loss %g at step %ld, first not finite at one of steps %ld to %ld "
                 "(read every train.log_every steps on this device)",
                 shown, step, window_first, step);
    else
        snprintf(out->reason, sizeof out->reason,
                 "training loss %g at step %ld (mean of steps %ld to %ld; bound "
                 "train.diverge_loss = %g)",
                 shown, step, window_first, step, bound);
}

/* The train row when the window is full, the run's last step is done or
 * the step diverged; a divergence ends the run after an evaluation
 * (*evaluate) that records where it ended. */
static nl_code log_window(trainer *t, bool diverged_now, bool *evaluate)
{
    nl_train_state *s = &t->state;
    const long step = s->step;
    if (s->window_steps != t->spec->log_every && step != t->total && !diverged_now)
        return NL_OK;
    double metrics[2];
    nl_model_read_metrics(t->m, metrics);
    const double predictions = (double)s->window_steps * t->predictions_per_step;
    const double loss = (metrics[0] + s->window_sums[0]) / predictions;
    const double acc = (metrics[1] + s->window_sums[1]) / predictions;
    const double grad_norm = t->clips ? nl_clip_norm_sum(t->m) / (double)s->window_steps : NAN;
    const long window_first = step - s->window_steps + 1;
    t->window_loss_before = 0.0;
    s->window_steps = 0;
    nl_code rc = emit_row(t, NL_SPLIT_TRAIN, loss, acc, grad_norm);
    if (rc)
        return rc;
    s->final_train_loss = loss;
    /* where steps are not dated, the parameters at the row */
    const bool params_bad = !diverged_now && !loss_diverged(loss, t->spec->diverge_loss) &&
                            t->checks_params && !t->dates_each_step && params_nonfinite(t);
    if (diverged_now || params_bad || loss_diverged(loss, t->spec->diverge_loss)) {
        t->out->status = NL_RUN_DIVERGED;
        divergence_reason(t, loss, window_first, diverged_now);
        *evaluate = true;
    }
    /* the last step's line waits for its evaluation (measure) */
    if (t->sink->progress && step < t->total && now_s() - t->start - t->last_progress >= 0.1)
        report_progress(t, loss);
    return NL_OK;
}

/* Steps until the last one, a divergence or a signal, with the
 * evaluations, traces and checkpoints between them. */
static nl_code run_steps(trainer *t)
{
    /* the initial model, so curves start at step 0; a resumed run measured
     * its step before the checkpoint */
    bool evaluate = t->resumed_at < 0;
    for (;;) {
        nl_code rc = measure(t, evaluate);
        if (rc)
            return rc;
        evaluate = false;
        if (t->out->status != NL_RUN_RUNNING || t->state.step >= t->total)
            return NL_OK;
        if ((rc = checkpoint_due(t)))
            return rc;
        if (paused(t, &rc))
            return rc;
        if (interrupted(t))
            return NL_OK;
        bool diverged_now;
        if ((rc = train_step(t, &diverged_now)) || (rc = log_window(t, diverged_now, &evaluate)))
            return rc;
        if (t->state.step % t->spec->eval_every == 0 || t->state.step == t->total)
            evaluate = true;
    }
}

/* train.bn_recalibrate after a finished run: the last evaluation kept as
 * unrecalibrated_*, the running statistics recomputed over training
 * batches, and the model evaluated again into final_test_* (and best_*) */
static nl_code recalibrate_at_end(trainer *t)
{
    nl_train_result *out = t->out;
    if (t->spec->bn_recalibrate_batches <= 0)
        return NL_OK;
    out->unrecalibrated_test_loss = out->final_test_loss;
    out->unrecalibrated_test_accuracy = out->final_test_accuracy;
    nl_code rc = nl_recalibrate(t->m, &t->f->train, t->spec->bn_recalibrate_batches, t->err);
    double loss, acc;
    if (rc == NL_OK)
        rc = nl_evaluate(t->m, &t->f->eval, NL_MODE_EVAL, &loss, &acc, t->err);
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

/* a run that trained to its end: ok, unless its final test loss says
 * otherwise (after train.bn_recalibrate, which changes it) */
static nl_code conclude(trainer *t)
{
    nl_train_result *out = t->out;
    if (out->status == NL_RUN_RUNNING)
        out->status = NL_RUN_OK;
    nl_code rc = NL_OK;
    if (out->status == NL_RUN_OK && t->f->images)
        rc = recalibrate_at_end(t);
    if (rc)
        return rc;
    if (out->status == NL_RUN_OK && loss_diverged(out->final_test_loss, t->spec->diverge_loss)) {
        out->status = NL_RUN_DIVERGED;
        snprintf(out->reason, sizeof out->reason, "test loss %g at the end",
                 isnan(out->final_test_loss) ? fabs(out->final_test_loss) : out->final_test_loss);
    }
    return NL_OK;
}

/* the result's measurements, as the state holds them now */
static void take_measurements(nl_train_result *out, const nl_train_state *s)
{
    out->final_train_loss = s->final_train_loss;
    out->final_test_loss = s->final_test_loss;
    out->final_test_accuracy = s->final_test_accuracy;
    out->best_test_loss = s->best_test_loss;
    out->best_test_accuracy = s->best_test_accuracy;
    out->final_trainmode_accuracy = s->final_trainmode_accuracy;
}

/* the result's counts and times, whatever ended the run, and everything
 * trainer_open took given back; `rc` an error ends it as failed */
static void trainer_close(trainer *t, nl_code rc)
{
    nl_train_result *out = t->out;
    const nl_train_state *s = &t->state;
    out->steps = s->step;
    out->epochs = (double)s->step / (double)t->per_epoch;
    out->wall_s = t->elapsed_before + now_s() - t->start;
    out->train_s = s->train_s;
    out->samples_per_s = s->train_s > 0 ? s->step * (double)t->spec->batch_size / s->train_s : 0.0;
    if (isinf(out->best_test_loss))
        out->best_test_loss = NAN;
    if (t->rec.recording) {
        /* the last replay finishes before its recording goes; an error is
         * the backend's sticky one, which the run reports already */
        nl_error ignored = {0};
        (void)t->m->be->ops->synchronize(t->m->be, &ignored);
        t->m->be->ops->record_free(t->m->be, t->rec.recording);
    }
    out->replayed_steps = t->rec.replays;
    trainer_free(t);
    if (rc != NL_OK && out->status == NL_RUN_RUNNING) {
        out->status = NL_RUN_FAILED;
        nl_copy_string(out->reason, sizeof out->reason, t->err ? t->err->msg : "error");
    }
}

/* model.param_norm.data_init, on a fresh run: from the first training
 * batch, which the batcher then gives the first step as it would have (a
 * fresh image batcher's first batch ends inside its first epoch, so only
 * its position moves). A resumed run's checkpoint holds the result. */
static nl_code param_norm_data_init(nl_model *m, nl_feed *f, nl_error *err)
{
    if (!m->spec.param_norm.data_init || f->tokens)
        return NL_OK;
    const long pos = f->train.pos;
    const nl_code rc = nl_model_param_norm_data_init(m, nl_feed_next(f, m), err);
    f->train.pos = pos;
    return rc;
}

static nl_code train_loop(nl_model *m, nl_feed *f, const nl_train_spec *spec, uint64_t seed,
                          const nl_train_sink *sink, atomic_int *stop,
                          nl_train_result *out, nl_error *err)
{
    nl_train_result_start(out);
    trainer t = {.m = m, .f = f, .spec = spec, .seed = seed, .sink = sink, .stop = stop,
                 .out = out, .err = err};
    nl_code rc = trainer_open(&t);
    if (rc)
        return rc;
    if (sink->resume)
        rc = trainer_resume(&t, sink->resume);
    else {
        rc = param_norm_data_init(m, f, err);
        if (rc == NL_OK && f->images)
            /* a resumed run's checkpoint holds the recalibrated statistics */
            rc = nl_train_recalibrate_at_start(m, &f->images->train, spec, seed, err);
    }
    if (rc == NL_OK)
        rc = run_steps(&t);
    take_measurements(out, &t.state);
    if (rc == NL_OK)
        rc = conclude(&t);
    trainer_close(&t, rc);
    return rc;
}

nl_code nl_train(nl_model *m, const nl_dataset *ds, const nl_train_spec *spec, uint64_t seed,
                 const nl_train_sink *sink, atomic_int *stop, nl_train_result *out,
                 nl_error *err)
{
    nl_feed f = {.images = ds};
    return train_loop(m, &f, spec, seed, sink, stop, out, err);
}

nl_code nl_train_tokens(nl_model *m, const nl_token_dataset *ds, const nl_train_spec *spec,
                        uint64_t seed, const nl_train_sink *sink, atomic_int *stop,
                        nl_train_result *out, nl_error *err)
{
    nl_feed f = {.tokens = ds};
    return train_loop(m, &f, spec, seed, sink, stop, out, err);
}
