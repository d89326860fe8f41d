#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "model/data_init.h"
#include "train/device_data.h"
#include "train/loss_scale.h"
#include "train/probe_sigprop.h"
#include "train/probe_landscape.h"
#include "train/probe_steps.h"
#include "train/probe_varshift.h"

static const nl_name_entry status_entries[] = {
    [NL_RUN_RUNNING] = {"running", "in progress, or killed before it could say otherwise"},
    [NL_RUN_OK] = {"ok", "finished"},
    [NL_RUN_DIVERGED] = {"diverged", "stopped: the loss became NaN/inf or exceeded train.diverge_loss"},
    [NL_RUN_FAILED] = {"failed", "stopped by an error or an interruption"},
};
_Static_assert(sizeof status_entries / sizeof status_entries[0] == NL_RUN_STATUS_COUNT, "status");
static const nl_name_table status_names = {"run status", status_entries, NL_RUN_STATUS_COUNT, 0};

const char *nl_run_status_name(nl_run_status status) { return nl_name_of(&status_names, status); }

static const nl_name_entry split_entries[] = {
    [NL_SPLIT_TRAIN] = {"train", "training batches since the previous row (train mode)"},
    [NL_SPLIT_TEST] = {"test", "the test split in eval mode (running statistics)"},
    [NL_SPLIT_TEST_TRAINMODE] = {"test_trainmode", "the test split with batch statistics"},
};
_Static_assert(sizeof split_entries / sizeof split_entries[0] == NL_SPLIT_COUNT, "split");
const nl_name_table nl_split_names = {"split", split_entries, NL_SPLIT_COUNT, 0};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Loads this rank's rows of a batch of n (all of it on one rank); returns
 * how many that is. */
static int load_slice(nl_model *m, const nl_split *split, const float *x, const int32_t *y, int n)
{
    int start, count;
    nl_dist_slice(nl_dist_rank(m->dist), nl_dist_size(m->dist), n, &start, &count);
    const size_t per_sample = (size_t)split->c * split->h * split->w;
    if (count > 0)
        nl_model_load_batch(m, x + (size_t)start * per_sample, y + start, count);
    return count;
}

/* this rank's part of a batch of n (0 when n is): how many, from *start */
static int rank_share(const nl_model *m, int n, int *start)
{
    int count;
    nl_dist_slice(nl_dist_rank(m->dist), nl_dist_size(m->dist), n, start, &count);
    return n > 0 ? count : 0;
}

/* The batcher's next batch into the model: gathered on the device from the
 * resident split when the model has one for the batcher's split, else
 * gathered in host memory and uploaded. Returns the batch's size (0 at the
 * end of an epoch) and in *mine the samples loaded on this rank. */
static int next_batch(nl_model *m, nl_batcher *b, int *mine)
{
    const nl_device_split *resident = nl_device_data_find(m->device_data, b->split);
    if (!resident) {
        const float *x;
        const int32_t *y;
        const int n = nl_batcher_next(b, &x, &y);
        *mine = n > 0 ? load_slice(m, b->split, x, y, n) : 0;
        return n;
    }
    const int32_t *index;
    const int n = nl_batcher_next_index(b, &index);
    int start;
    *mine = rank_share(m, n, &start);
    if (*mine > 0)
        nl_device_data_load(m->device_data, resident, m, index + start, *mine);
    return n;
}

long nl_train_total_steps(const nl_train_spec *spec, long n_train)
{
    if (spec->steps > 0)
        return spec->steps;
    return spec->epochs * (n_train / spec->batch_size);
}

nl_code nl_evaluate(nl_model *m, nl_batcher *batches, nl_mode mode, double *loss,
                    double *accuracy, nl_error *err)
{
    nl_model_reset_metrics(m);
    long seen = 0;
    int n, mine;
    while ((n = next_batch(m, batches, &mine)) > 0) {
        /* eval mode exchanges nothing between ranks, so a rank may sit out
         * a short last batch; batch statistics (train mode) come in whole
         * training-size batches, which every rank shares */
        if (mine > 0)
            nl_model_forward(m, mine, mode);
        seen += n;
    }
    double metrics[2];
    nl_model_read_metrics(m, metrics);
    *loss = seen ? metrics[0] / (double)seen : NAN;
    *accuracy = seen ? metrics[1] / (double)seen : NAN;
    return m->be->ops->synchronize(m->be, err);
}

/* this rank's windows of a token batch of n; returns how many */
static int load_token_slice(nl_model *m, const int32_t *tokens, const int32_t *targets, int n)
{
    int start, count;
    nl_dist_slice(nl_dist_rank(m->dist), nl_dist_size(m->dist), n, &start, &count);
    const size_t at = (size_t)start * m->rows_per_sample;
    if (count > 0)
        nl_model_load_tokens(m, tokens + at, targets + at, count);
    return count;
}

/* next_batch's twin for token windows: cut on the device from the resident
 * split when there is one, else on the host and uploaded */
static int next_windows(nl_model *m, nl_window_batcher *b, int *mine)
{
    const nl_device_token_split *resident = nl_device_data_find_tokens(m->device_data, b->split);
    if (!resident) {
        const int32_t *tokens, *targets;
        const int n = nl_window_batcher_next(b, &tokens, &targets);
        *mine = n > 0 ? load_token_slice(m, tokens, targets, n) : 0;
        return n;
    }
    const int32_t *starts;
    const int n = nl_window_batcher_next_starts(b, &starts);
    int start;
    *mine = rank_share(m, n, &start);
    if (*mine > 0)
        nl_device_data_load_windows(m->device_data, resident, m, starts + start, *mine);
    return n;
}

nl_code nl_evaluate_tokens(nl_model *m, nl_window_batcher *batches, nl_mode mode, double *loss,
                           double *accuracy, nl_error *err)
{
    nl_model_reset_metrics(m);
    long seen = 0;
    int n, mine;
    while ((n = next_windows(m, batches, &mine)) > 0) {
        if (mine > 0)
            nl_model_forward(m, mine, mode);
        seen += n;
    }
    double metrics[2];
    nl_model_read_metrics(m, metrics);
    const double predictions = (double)seen * m->rows_per_sample;
    *loss = seen ? metrics[0] / predictions : NAN;
    *accuracy = seen ? metrics[1] / predictions : NAN;
    return m->be->ops->synchronize(m->be, err);
}

/* What the loop trains and evaluates on: images (or feature vectors) with
 * labels through nl_batcher, or token windows through nl_window_batcher.
 * Exactly one of images and tokens is set; every batcher is made in
 * feed_init, once, so nothing allocates while the run goes. */
typedef struct {
    const nl_dataset *images;
    const nl_token_dataset *tokens;
    bool trainmode; /* also evaluate with batch statistics, in training-size batches */
    nl_batcher train, eval, trainmode_eval;
    nl_window_batcher train_windows, eval_windows, trainmode_windows;
} feed;

static nl_code feed_init(feed *f, const nl_model *m, const nl_train_spec *spec, int eval_batch,
                         uint64_t seed, nl_error *err)
{
    nl_code rc;
    if (f->tokens) {
        const int context = m->rows_per_sample;
        rc = nl_window_batcher_init(&f->train_windows, &f->tokens->train, spec->batch_size,
                                    context, true, seed, err);
        if (rc == NL_OK)
            rc = nl_window_batcher_init(&f->eval_windows, &f->tokens->valid, eval_batch, context,
                                        false, 0, err);
        if (rc == NL_OK && f->trainmode)
            rc = nl_window_batcher_init(&f->trainmode_windows, &f->tokens->valid,
                                        spec->batch_size, context, false, 0, err);
        return rc;
    }
    rc = nl_batcher_init(&f->train, &f->images->train, spec->batch_size, true, true, seed, err);
    if (rc == NL_OK)
        rc = nl_batcher_init(&f->eval, &f->images->test, eval_batch, false, false, 0, err);
    if (rc == NL_OK && f->trainmode)
        rc = nl_batcher_init(&f->trainmode_eval, &f->images->test, spec->batch_size, false, true,
                             0, err);
    return rc;
}

static void feed_free(feed *f)
{
    nl_batcher_free(&f->train);
    nl_batcher_free(&f->eval);
    nl_batcher_free(&f->trainmode_eval);
    nl_window_batcher_free(&f->train_windows);
    nl_window_batcher_free(&f->eval_windows);
    nl_window_batcher_free(&f->trainmode_windows);
}

static long feed_batches_per_epoch(const feed *f)
{
    return f->tokens ? nl_window_batcher_batches(&f->train_windows) : nl_batcher_batches(&f->train);
}

/* loads the next training batch (this rank's slice); returns the samples
 * loaded here */
static int feed_next(feed *f, nl_model *m)
{
    int mine;
    if (f->tokens) {
        if (next_windows(m, &f->train_windows, &mine) == 0) /* epoch boundary */
            next_windows(m, &f->train_windows, &mine);
        return mine;
    }
    if (next_batch(m, &f->train, &mine) == 0) /* epoch boundary: the batcher reshuffles */
        next_batch(m, &f->train, &mine);
    return mine;
}

static nl_code feed_evaluate(feed *f, nl_model *m, bool trainmode, double *loss, double *acc,
                             nl_error *err)
{
    if (f->tokens)
        return trainmode ? nl_evaluate_tokens(m, &f->trainmode_windows, NL_MODE_TRAIN_FROZEN, loss,
                                              acc, err)
                         : nl_evaluate_tokens(m, &f->eval_windows, NL_MODE_EVAL, loss, acc, err);
    return trainmode ? nl_evaluate(m, &f->trainmode_eval, NL_MODE_TRAIN_FROZEN, loss, acc, err)
                     : nl_evaluate(m, &f->eval, NL_MODE_EVAL, loss, acc, err);
}

/* the training batcher's place, for a checkpoint (a token batcher has no
 * order: its windows come from the RNG alone) */
static void feed_tell(const feed *f, nl_train_state *s)
{
    static const int32_t no_order[1];
    if (f->tokens) {
        nl_window_position at;
        nl_window_batcher_tell(&f->train_windows, &at);
        s->data_epoch = at.epoch, s->data_pos = at.pos, s->data_rng = at.rng;
        s->data_order = no_order, s->data_n = 0;
        return;
    }
    s->data_epoch = f->train.epoch, s->data_pos = f->train.pos, s->data_rng = f->train.rng;
    s->data_order = f->train.order, s->data_n = f->train.split->n;
}

static nl_code feed_seek(feed *f, const nl_train_state *s, nl_error *err)
{
    if (f->tokens) {
        const nl_window_position at = {s->data_epoch, s->data_pos, s->data_rng};
        return nl_window_batcher_seek(&f->train_windows, &at, err);
    }
    return nl_batcher_seek(&f->train, s->data_epoch, s->data_pos, &s->data_rng, s->data_order,
                           s->data_n, err);
}

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const nl_trace_spec *spec;
    nl_act *act;
    int samples;
    float *values;  /* one value per sample (and position) */
    float *host;    /* the activation of one batch, downloaded */
} tracer;

/* the traced unit's values in n samples of the traced activation,
 * downloaded and appended to the tracer's values from *count on */
static void trace_collect(nl_model *m, tracer *t, int n, size_t *count)
{
    const nl_shape s = t->act->shape;
    const size_t per_sample = nl_shape_per_sample(s), positions = (size_t)s.h * s.w;
    m->be->ops->download(m->be, t->host, t->act->data, (size_t)n * per_sample * sizeof(float));
    for (int i = 0; i < n; i++)
        for (size_t p = 0; p < positions; p++)
            t->values[(*count)++] =
                t->host[(size_t)i * per_sample + (size_t)t->spec->unit * positions + p];
}

/* Percentiles (linear interpolation, numpy's default) of the count values
 * collected, as the trace's row of `step` */
static nl_code trace_emit(tracer *t, size_t count, long step, const nl_train_sink *sink,
                          nl_error *err)
{
    qsort(t->values, count, sizeof *t->values, compare_float);
    double out[NL_MAX_PERCENTILES];
    for (int k = 0; k < t->spec->n_percentiles; k++) {
        double pos = t->spec->percentiles[k] / 100.0 * (double)(count - 1);
        size_t lo = (size_t)floor(pos), hi = lo + 1 < count ? lo + 1 : lo;
        double frac = pos - (double)lo;
        out[k] = t->values[lo] + frac * (t->values[hi] - t->values[lo]);
    }
    return sink->trace ? sink->trace(sink->ctx, step, out, t->spec->n_percentiles, err) : NL_OK;
}

/* train.trace.mode eval: the traced unit over the first `samples` test
 * images, in eval mode */
static nl_code trace_point(nl_model *m, tracer *t, const nl_split *test, int batch, long step,
                           const nl_train_sink *sink, nl_error *err)
{
    size_t count = 0;
    const size_t input_per_sample = (size_t)test->c * test->h * test->w;
    for (int start = 0; start < t->samples; start += batch) {
        int n = t->samples - start < batch ? t->samples - start : batch;
        nl_model_load_batch(m, test->x + (size_t)start * input_per_sample, test->y + start, n);
        nl_model_forward(m, n, NL_MODE_EVAL);
        trace_collect(m, t, n, &count);
    }
    return trace_emit(t, count, step, sink, err);
}

/* this step's series rows: the gradient norms (measured here, before
 * clipping) and the logits its forward recorded */
static nl_code emit_series(nl_series *series, nl_model *m, const nl_train_sink *sink, long step,
                           nl_error *err)
{
    if (!sink->series)
        return NL_OK;
    nl_code rc = NL_OK;
    if (series->grad_norms)
        nl_series_measure_grads(series, m);
    for (int l = 0; series->grad_norms && l < series->n_layers && rc == NL_OK; l++)
        rc = sink->series(sink->ctx, step, NL_SERIES_GRAD_NORM, l, series->layer_names[l],
                          series->grad_norm[l], err);
    for (int l = 0; series->max_logits && l < series->n_attention && rc == NL_OK; l++)
        rc = sink->series(sink->ctx, step, NL_SERIES_MAX_LOGIT, l, series->attention[l]->name,
                          series->max_logit[l], err);
    return rc;
}

/* this step's weight rows, after its optimizer step: each weight's norm
 * and update ratio, and the ratio once more as the effective learning rate
 * of the scale-invariant ones */
static nl_code emit_weight_series(nl_series *series, nl_model *m, const nl_train_sink *sink,
                                  long step, nl_error *err)
{
    nl_series_weights_after(series, m);
    nl_code rc = NL_OK;
    for (int k = 0; k < series->n_weights && rc == NL_OK; k++) {
        const char *name = m->params[series->weight_param[k]]->name;
        rc = sink->series(sink->ctx, step, NL_SERIES_WEIGHT_NORM, k, name,
                          series->weight_norm[k], err);
        if (rc == NL_OK)
            rc = sink->series(sink->ctx, step, NL_SERIES_UPDATE_RATIO, k, name,
                              series->update_ratio[k], err);
        if (rc == NL_OK && series->scale_invariant[k])
            rc = sink->series(sink->ctx, step, NL_SERIES_EFFECTIVE_LR, k, name,
                              series->update_ratio[k], err);
        if (rc == NL_OK && series->estimator[k])
            rc = sink->series(sink->ctx, step, NL_SERIES_SIGMA_ESTIMATE, k, name,
                              series->estimate[k], err);
        if (rc == NL_OK && series->estimator[k])
            rc = sink->series(sink->ctx, step, NL_SERIES_SIGMA_TRUE, k, name,
                              series->sigma_true[k], err);
    }
    return rc;
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

/* trainer.scale_dev's floats */
enum { SCALE_FACTOR, SCALE_INVERSE, SCALE_SEED_FLAG, SCALE_FOUND_INF, SCALE_FLOATS };

/* What one call of the loop works with: the resumable state, and what this
 * process holds or derives besides. None of the rest goes in a checkpoint:
 * it is set up anew, or follows from the state (trainer_resume). */
typedef struct {
    nl_model *m;
    feed *f;
    const nl_train_spec *spec;
    const nl_train_sink *sink;
    uint64_t seed; /* the training batcher's */
    atomic_int *stop;
    nl_train_result *out;
    nl_error *err;
    nl_train_state state;
    tracer tr;
    nl_series series;
    nl_varshift varshift; /* train.log.variance_shift; n_layers 0: off */
    nl_stepnorm stepnorm; /* train.log.step_norms; n_layers 0: off */
    nl_sigprop sigprop;   /* train.log.signal_propagation; n_sites 0: off */
    nl_landscape landscape; /* train.log.landscape; spec NULL: off */
    step_recording rec;
    int eval_batch;
    bool trainmode; /* also evaluate with batch statistics */
    bool clips;     /* train.clip_grad_norm */
    /* train.loss_scale (loss_scale.h): the loss's gradient scaled, the
     * gradients unscaled and checked, steps with an inf or NaN skipped */
    bool scales;
    /* series.csv's loss-scaling rows (scaling, or a low precision): the
     * gradients' zeros counted on the logged steps */
    bool counts_zeros;
    /* device: SCALE_FLOATS floats (the scaler's per-step scalars), then the
     * scale_check_finite slots of the loss gradient's pass and of the
     * gradients' (NL_UNSCALE_SLOTS doubles each) */
    float *scale_dev;
    double *scale_slots;
    float scale_host[SCALE_FLOATS]; /* the image scale_dev's floats are uploaded from */
    double zero_count;   /* the image the gradients' zero count is cleared from */
    /* the parameters' elements, and the gradient arena's floats between
     * them (always zero): the zero share counts only the former */
    double grad_elements, padding_elements;
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

/* what the feed cannot train on, before anything is allocated */
static nl_code check_feed(const feed *f, const nl_train_spec *spec, nl_error *err)
{
    const nl_dataset *ds = f->images; /* NULL for tokens */
    if (ds && ds->train.n / spec->batch_size < 1)
        return nl_fail(err, NL_ERR_CONFIG,
                       "train.batch_size: %d is larger than the %ld training samples, so an epoch "
                       "has no full batch",
                       spec->batch_size, ds->train.n);
    if (f->tokens && (spec->trace.activation[0] || spec->bn_recalibrate_batches > 0))
        return nl_fail(err, NL_ERR_CONFIG, "token models take no activation trace and no "
                       "running-statistics recalibration");
    return NL_OK;
}

static void tracer_free(tracer *tr)
{
    free(tr->values);
    free(tr->host);
}

/* train.trace: the traced activation and unit, and the buffers of one
 * measurement (none when the spec traces nothing) */
static nl_code tracer_open(tracer *tr, nl_model *m, const nl_dataset *ds,
                           const nl_train_spec *spec, nl_error *err)
{
    if (!ds || !spec->trace.activation[0])
        return NL_OK;
    tr->spec = &spec->trace;
    tr->act = nl_model_act(m, spec->trace.activation);
    if (!tr->act) {
        nl_fail(err, NL_ERR_CONFIG, "train.trace.activation: the model has no activation '%s'",
                spec->trace.activation);
        nl_error_key(err, "train.trace.activation");
        return NL_ERR_CONFIG;
    }
    if (spec->trace.unit >= tr->act->shape.c) {
        nl_fail(err, NL_ERR_CONFIG,
                "train.trace.unit: %d is out of range; '%s' has %d features/channels",
                spec->trace.unit, spec->trace.activation, tr->act->shape.c);
        nl_error_key(err, "train.trace.unit");
        return NL_ERR_CONFIG;
    }
    tr->samples = spec->trace.samples < ds->test.n ? spec->trace.samples : (int)ds->test.n;
    /* train mode collects one training batch, at most the model's capacity */
    const int collected = spec->trace.mode == NL_TRACE_TRAIN ? m->capacity : tr->samples;
    tr->values = malloc((size_t)collected * tr->act->shape.h * tr->act->shape.w * sizeof(float));
    tr->host = malloc((size_t)m->capacity * nl_shape_per_sample(tr->act->shape) * sizeof(float));
    if (!tr->values || !tr->host) {
        tracer_free(tr);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for activation tracing");
    }
    return NL_OK;
}

static void trainer_free(trainer *t)
{
    feed_free(t->f);
    nl_series_free(&t->series, t->m);
    nl_varshift_free(&t->varshift);
    nl_stepnorm_free(&t->stepnorm);
    nl_sigprop_free(&t->sigprop);
    nl_landscape_free(&t->landscape, t->m);
    tracer_free(&t->tr);
    nl_held_affine_free(&t->held);
    nl_backend *be = t->m->be;
    if (t->scale_dev)
        be->ops->release(be, t->scale_dev);
    if (t->scale_slots)
        be->ops->release(be, t->scale_slots);
    t->scale_dev = NULL;
    t->scale_slots = NULL;
    t->m->loss_scale = NULL;
    t->m->loss_scale_flag = NULL;
    t->m->loss_scale_slots = NULL;
}

/* The loss scaler's device memory, and the model's pointers into it */
static nl_code loss_scale_open(trainer *t)
{
    nl_model *m = t->m;
    nl_backend *be = m->be;
    t->scales = t->spec->loss_scale.enabled;
    t->counts_zeros = nl_train_logs_loss_scale(t->spec) && t->sink->series;
    if (!t->scales && !t->counts_zeros)
        return NL_OK;
    nl_code rc = be->ops->alloc(be, SCALE_FLOATS * sizeof(float), (void **)&t->scale_dev, t->err);
    if (rc == NL_OK)
        rc = be->ops->alloc(be, 2 * NL_UNSCALE_SLOTS * sizeof(double), (void **)&t->scale_slots,
                            t->err);
    if (rc)
        return rc;
    const double zeros[2 * NL_UNSCALE_SLOTS] = {0};
    be->ops->upload(be, t->scale_slots, zeros, sizeof zeros);
    if ((rc = be->ops->synchronize(be, t->err)))
        return rc;
    double elements = 0.0;
    for (int i = 0; i < m->n_params; i++)
        elements += (double)m->params[i]->count;
    t->grad_elements = elements;
    t->padding_elements = (double)m->param_floats - elements;
    if (t->scales) {
        m->loss_scale = t->scale_dev + SCALE_FACTOR;
        m->loss_scale_flag = t->scale_dev + SCALE_SEED_FLAG;
        m->loss_scale_slots = t->scale_slots;
    }
    return NL_OK;
}

/* A step's scaler scalars on the device before its kernels: the factor
 * the loss gradient is multiplied by and its inverse (1 when only the
 * zeros are counted), the inf flag and the zero count cleared */
static void loss_scale_prepare(trainer *t)
{
    nl_backend *be = t->m->be;
    const nl_loss_scaler *sc = &t->state.scaler;
    t->scale_host[SCALE_FACTOR] = t->scales ? (float)sc->scale : 1.0f;
    t->scale_host[SCALE_INVERSE] = t->scales ? nl_loss_scaler_inverse(sc) : 1.0f;
    t->scale_host[SCALE_SEED_FLAG] = t->scale_host[SCALE_FOUND_INF] = 0.0f;
    t->zero_count = 0.0;
    be->ops->upload(be, t->scale_dev, t->scale_host, sizeof t->scale_host);
    be->ops->upload(be, t->scale_slots + NL_UNSCALE_SLOTS + NL_UNSCALE_ZEROS, &t->zero_count,
                    sizeof t->zero_count);
}

/* The gradients unscaled (and their zeros counted) after backward and the
 * exchange between ranks, before anything reads them; *found_inf when the
 * step is to be skipped. GradScaler's order: unscale_, then clipping, then
 * a step that skips the optimizer on an inf or NaN. */
static void loss_scale_unscale(trainer *t, bool *found_inf)
{
    nl_model *m = t->m;
    nl_backend *be = m->be;
    be->ops->scale_check_finite(be, m->param_floats, m->grad_arena, t->scale_dev + SCALE_INVERSE,
                                t->scale_dev + SCALE_FOUND_INF, t->scale_slots + NL_UNSCALE_SLOTS);
    *found_inf = false;
    if (t->scales) {
        float flag;
        be->ops->download(be, &flag, t->scale_dev + SCALE_FOUND_INF, sizeof flag);
        *found_inf = flag != 0.0f;
    }
}

/* series.csv's loss-scaling rows of the step just taken: the scale it
 * used, the steps skipped so far with it, the gradients' zero share */
static nl_code emit_loss_scale_series(trainer *t, double scale_used)
{
    nl_backend *be = t->m->be;
    const long step = t->state.step;
    double zeros;
    be->ops->download(be, &zeros, t->scale_slots + NL_UNSCALE_SLOTS + NL_UNSCALE_ZEROS,
                      sizeof zeros);
    const double share = t->grad_elements > 0
                             ? (zeros - t->padding_elements) / t->grad_elements : NAN;
    nl_code rc = NL_OK;
    if (t->scales)
        rc = t->sink->series(t->sink->ctx, step, NL_SERIES_LOSS_SCALE, 0, "model",
                             scale_used, t->err);
    if (rc == NL_OK && t->scales)
        rc = t->sink->series(t->sink->ctx, step, NL_SERIES_SKIPPED_STEPS, 0, "model",
                             (double)t->state.scaler.skipped_steps, t->err);
    if (rc == NL_OK)
        rc = t->sink->series(t->sink->ctx, step, NL_SERIES_GRAD_ZERO_SHARE, 0, "model",
                             share, t->err);
    return rc;
}

/* Everything the run needs before its first step, checked and allocated
 * here (nothing is allocated while it goes); the state of a fresh run. */
static nl_code trainer_open(trainer *t)
{
    nl_model *m = t->m;
    const nl_train_spec *spec = t->spec;
    const nl_dataset *ds = t->f->images; /* NULL for tokens */
    nl_code rc = check_feed(t->f, spec, t->err);
    if (rc)
        return rc;
    t->eval_batch = spec->eval_batch_size < m->capacity ? spec->eval_batch_size : m->capacity;
    /* train-mode evaluation only tells something when eval mode differs, and
     * needs at least one whole training-size batch of test data (a token
     * split always holds a window, and one window's tokens make a batch) */
    t->trainmode = spec->eval_trainmode && m->n_states > 0 &&
                   (!ds || ds->test.n >= spec->batch_size);
    if ((rc = tracer_open(&t->tr, m, ds, spec, t->err)))
        return rc;
    t->f->trainmode = t->trainmode;
    rc = nl_series_init(&t->series, m, spec->log_grad_norms, spec->log_attention_logits, t->err);
    if (rc == NL_OK && spec->log_weight_stats)
        rc = nl_series_plan_weights(&t->series, m, t->err);
    if (rc == NL_OK && spec->log_variance_shift)
        rc = nl_varshift_open(&t->varshift, m, t->err);
    if (rc == NL_OK && spec->log_step_norms)
        rc = nl_stepnorm_open(&t->stepnorm, m, t->err);
    if (rc == NL_OK && spec->log_signal_propagation)
        rc = ds ? nl_sigprop_open(&t->sigprop, m, spec->batch_size, t->err)
                : nl_sigprop_check(m, true, t->err);
    if (rc == NL_OK)
        rc = nl_landscape_open(&t->landscape, &spec->landscape, m, t->err);
    if (rc == NL_OK)
        rc = feed_init(t->f, m, spec, t->eval_batch, t->seed, t->err);
    if (rc == NL_OK) {
        t->per_epoch = feed_batches_per_epoch(t->f);
        t->total = spec->steps > 0 ? spec->steps : spec->epochs * t->per_epoch;
        rc = nl_train_check_stats(m, spec, t->total, t->err);
    }
    if (rc) {
        trainer_free(t);
        return rc;
    }
    t->predictions_per_step = (double)spec->batch_size * m->rows_per_sample;
    t->clips = spec->clip_grad_norm > 0.0f;
    t->dates_each_step = m->be->device == NL_DEVICE_CPU && nl_dist_size(m->dist) == 1;
    if ((rc = nl_held_affine_open(&t->held, m, spec, t->err))) {
        trainer_free(t);
        return rc;
    }
    if ((rc = loss_scale_open(t))) {
        trainer_free(t);
        return rc;
    }
    /* held parameters are written back from host memory, which a recording
     * cannot replay; a scaled step's update waits on the host's reading of
     * the inf flag, which a recording cannot either */
    t->rec = (step_recording){.enabled = spec->cuda_graph == NL_CUDA_GRAPH_AUTO &&
                                         m->be->ops->record_begin && nl_dist_size(m->dist) == 1 &&
                                         t->held.n == 0 && !t->scales};
    t->start = now_s();
    t->last_progress = -1.0;
    t->resumed_at = -1;
    t->step_loss = NAN;
    /* nothing measured yet: nl_train_result_start's values */
    t->state = (nl_train_state){
        .lr = nl_schedule_lr(&spec->schedule, spec->optimizer.lr, 0, t->total),
        .final_train_loss = NAN, .final_test_loss = NAN, .final_test_accuracy = NAN,
        .best_test_loss = INFINITY, .best_test_accuracy = NAN, .final_trainmode_accuracy = NAN,
        .precision = spec->precision};
    if (t->scales)
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
    nl_code rc = feed_seek(t->f, resume, t->err);
    if (rc)
        return rc;
    t->state = *resume;
    /* a checkpoint of a run that did not scale (format 4 and before among
     * them) holds no scaler: it starts at train.loss_scale.init_scale */
    if (t->scales && !(t->state.scaler.scale > 0.0))
        nl_loss_scaler_start(&t->state.scaler, &t->spec->loss_scale);
    t->resumed_at = resume->step;
    t->elapsed_before = resume->elapsed_s;
    t->window_loss_before = resume->window_sums[0] + resume->model_metrics[0];
    if (t->clips)
        nl_clip_set_norm_sum(t->m, resume->window_sums[2]);
    nl_model_write_metrics(t->m, resume->model_metrics);
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
    feed_tell(t->f, s);
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
    nl_code rc = feed_evaluate(t->f, t->m, false, &loss, &acc, t->err);
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
        rc = feed_evaluate(t->f, t->m, true, &loss, &acc, t->err);
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

/* train.log.variance_shift: a pass of its own over the test split in eval
 * mode, each normalizer's running variance against the variance its input
 * has there, one series row per normalizer */
static nl_code probe_variance_shift(trainer *t)
{
    nl_model *m = t->m;
    nl_varshift *v = &t->varshift;
    nl_varshift_begin(v);
    int n, mine;
    while ((n = t->f->tokens ? next_windows(m, &t->f->eval_windows, &mine)
                             : next_batch(m, &t->f->eval, &mine)) > 0)
        if (mine > 0) {
            nl_model_forward(m, mine, NL_MODE_EVAL);
            nl_varshift_add(v, m, mine);
        }
    nl_varshift_finish(v, m);
    nl_code rc = NL_OK;
    for (int l = 0; l < v->n_layers && rc == NL_OK && t->sink->series; l++)
        rc = t->sink->series(t->sink->ctx, t->state.step, NL_SERIES_VARIANCE_SHIFT, l,
                             v->layers[l]->name, v->ratio[l], t->err);
    return rc;
}

/* train.log.step_norms: a pass of its own over the test split in eval
 * mode, one series row per recurrent layer and time step */
static nl_code probe_step_norms(trainer *t)
{
    nl_model *m = t->m;
    nl_stepnorm *p = &t->stepnorm;
    nl_stepnorm_begin(p);
    int n, mine;
    while ((n = t->f->tokens ? next_windows(m, &t->f->eval_windows, &mine)
                             : next_batch(m, &t->f->eval, &mine)) > 0)
        if (mine > 0) {
            nl_model_forward(m, mine, NL_MODE_EVAL);
            nl_stepnorm_add(p, m, mine);
        }
    nl_stepnorm_finish(p, m);
    nl_code rc = NL_OK;
    for (int l = 0; l < p->n_layers && rc == NL_OK && t->sink->series; l++)
        for (int s = 0; s < p->steps && rc == NL_OK; s++)
            rc = t->sink->series(t->sink->ctx, t->state.step, NL_SERIES_STEP_NORM, s,
                                 p->layers[l]->name, p->norm[(size_t)l * p->steps + s], t->err);
    return rc;
}

/* train.log.signal_propagation: at initialization, a pass of its own over
 * the first training batches (train/probe_sigprop.h), one series row per
 * site and statistic */
static nl_code probe_signal_propagation(trainer *t)
{
    static const nl_series_kind kinds[NL_SIGPROP_SITE_KINDS][2] = {
        [NL_SIGPROP_STREAM] = {NL_SERIES_SIGPROP_MEAN_SQ, NL_SERIES_SIGPROP_VAR},
        [NL_SIGPROP_NORM_IN] = {NL_SERIES_SIGPROP_NORM_IN_MEAN_SQ, NL_SERIES_SIGPROP_NORM_IN_VAR}};
    nl_sigprop *v = &t->sigprop;
    nl_sigprop_measure(v, t->m, &t->f->images->train, t->spec->batch_size,
                       t->spec->signal_propagation_batches);
    nl_code rc = NL_OK;
    for (int l = 0; l < v->n_sites && rc == NL_OK && t->sink->series; l++) {
        const nl_series_kind *k = kinds[v->kind[l]];
        rc = t->sink->series(t->sink->ctx, 0, k[0], v->depth[l], v->layers[l]->name,
                             v->mean_sq[l], t->err);
        if (rc == NL_OK)
            rc = t->sink->series(t->sink->ctx, 0, k[1], v->depth[l], v->layers[l]->name,
                                 v->var[l], t->err);
    }
    return rc;
}

/* Between two steps: the evaluation when one is due, and the trace at its
 * cadence (a resumed run measured its first step before the checkpoint).
 * Both run forwards that overwrite the model's metric counters, so the
 * window's sums move off them first. */
static nl_code measure(trainer *t, bool evaluate)
{
    nl_train_state *s = &t->state;
    const bool traces = t->tr.spec && t->spec->trace.mode == NL_TRACE_EVAL &&
                        s->step % t->spec->trace.every == 0 && s->step != t->resumed_at;
    if (!evaluate && !traces)
        return NL_OK;
    nl_model_share_state(t->m);
    if (s->window_steps > 0) {
        double partial[2];
        nl_model_read_metrics(t->m, partial);
        s->window_sums[0] += partial[0];
        s->window_sums[1] += partial[1];
    }
    nl_code rc = evaluate ? evaluate_model(t) : NL_OK;
    if (rc == NL_OK && evaluate && t->varshift.n_layers > 0)
        rc = probe_variance_shift(t);
    if (rc == NL_OK && evaluate && t->stepnorm.n_layers > 0)
        rc = probe_step_norms(t);
    if (rc == NL_OK && s->step == 0 && t->resumed_at < 0 && t->sigprop.n_sites > 0)
        rc = probe_signal_propagation(t);
    if (rc == NL_OK && traces)
        rc = trace_point(t->m, &t->tr, &t->f->images->test, t->eval_batch, s->step, t->sink,
                         t->err);
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

/* A signal reaches the ranks at different moments: one process stops at
 * the signal, ranks at the step after any of them saw one, or some would
 * wait for the others forever. */
static bool interrupted(trainer *t)
{
    if (!t->ranks_stopping && !(nl_dist_size(t->m->dist) == 1 && t->stop && *t->stop))
        return false;
    t->out->status = NL_RUN_FAILED;
    snprintf(t->out->reason, sizeof t->out->reason, "interrupted at step %ld of %ld",
             t->state.step, t->total);
    return true;
}

/* train.log.landscape at this step, on its batch, before the update; one
 * row per step size tried and one per range */
static nl_code probe_landscape(trainer *t, int mine, nl_mode mode)
{
    nl_landscape *p = &t->landscape;
    nl_landscape_probe(p, t->m, mine, mode, t->state.lr, t->predictions_per_step);
    const long step = t->state.step;
    nl_code rc = NL_OK;
    for (int k = 0; k < p->spec->n_lr_multiples && rc == NL_OK; k++) {
        char name[32];
        snprintf(name, sizeof name, "lr*%g", p->spec->lr_multiples[k]);
        rc = t->sink->series(t->sink->ctx, step, NL_SERIES_LANDSCAPE_STEP_SIZE, k, name,
                             p->step_size[k], t->err);
    }
    const struct {
        nl_series_kind kind;
        double value;
    } ranges[] = {{NL_SERIES_LOSS_MIN, p->loss_min}, {NL_SERIES_LOSS_MAX, p->loss_max},
                  {NL_SERIES_GRAD_PRED_MIN, p->grad_pred_min},
                  {NL_SERIES_GRAD_PRED_MAX, p->grad_pred_max},
                  {NL_SERIES_BETA_SMOOTHNESS, p->beta_smoothness}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0] && rc == NL_OK; i++)
        rc = t->sink->series(t->sink->ctx, step, ranges[i].kind, 0, "landscape", ranges[i].value,
                             t->err);
    return rc;
}

/* the kernels of a step launched one by one, with the series it logs */
static nl_code direct_step(trainer *t, int mine, nl_mode mode, bool series_now, bool trace_now)
{
    nl_model *m = t->m;
    nl_model_launch_forward(m, mine, mode);
    if (series_now && t->series.max_logits)
        nl_series_read_logits(&t->series, m);
    nl_code rc = NL_OK;
    if (trace_now) {
        /* train.trace.mode train: the activation as this step's forward left
         * it, before the backward pass may reuse its memory */
        size_t count = 0;
        trace_collect(m, &t->tr, mine, &count);
        rc = trace_emit(&t->tr, count, t->state.step, t->sink, t->err);
    }
    if (rc)
        return rc;
    nl_model_backward(m, mine);
    /* the gradients are complete (over every rank) here; clipping and the
     * update read them */
    t->ranks_stopping = nl_model_reduce_gradients(m, t->stop && *t->stop);
    nl_held_affine_zero_grads(&t->held, m);
    rc = nl_dist_status(m->dist, t->err);
    /* every rank holds the same summed gradients, so every rank finds the
     * same flag and skips the same steps */
    bool found_inf = false;
    const bool zeros_now = series_now && t->counts_zeros;
    if (rc == NL_OK && (t->scales || zeros_now))
        loss_scale_unscale(t, &found_inf);
    const double scale_used = t->state.scaler.scale;
    if (t->scales)
        nl_loss_scaler_update(&t->state.scaler, &t->spec->loss_scale, found_inf);
    if (rc == NL_OK && zeros_now)
        rc = emit_loss_scale_series(t, scale_used);
    if (rc == NL_OK && series_now)
        rc = emit_series(&t->series, m, t->sink, t->state.step, t->err);
    if (rc == NL_OK && t->sink->series && nl_landscape_due(&t->landscape, t->state.step)) {
        /* the probe compares its own backward passes with the step's
         * gradients, which are unscaled by now: its passes go unscaled */
        const float *loss_scale = m->loss_scale;
        m->loss_scale = NULL;
        rc = probe_landscape(t, mine, mode);
        m->loss_scale = loss_scale;
    }
    if (rc)
        return rc;
    if (t->clips)
        nl_clip_grad_norm(m, t->spec->clip_grad_norm);
    const bool weights_now = series_now && t->series.weight_stats && t->sink->series;
    if (weights_now)
        nl_series_weights_before(&t->series, m);
    if (!found_inf)
        nl_optim_launch(m, &t->spec->optimizer);
    nl_held_affine_restore(&t->held, m);
    return weights_now ? emit_weight_series(&t->series, m, t->sink, t->state.step, t->err) : NL_OK;
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

/* one optimizer step; *diverged_now when it is dated as the divergence */
static nl_code train_step(trainer *t, bool *diverged_now)
{
    nl_model *m = t->m;
    const nl_train_spec *spec = t->spec;
    nl_train_state *s = &t->state;
    const long step = s->step;
    const double t0 = now_s();
    const int mine = feed_next(t->f, m);
    if (s->window_steps == 0) {
        nl_model_reset_metrics(m);
        s->window_sums[0] = s->window_sums[1] = 0.0;
        if (t->clips)
            nl_clip_set_norm_sum(m, 0.0);
    }
    s->lr = nl_schedule_lr(&spec->schedule, spec->optimizer.lr, step, t->total);
    m->step = step;
    const nl_mode mode = nl_train_mode_at(spec, step);
    /* where the freezing began, also for a run resumed past it */
    if (mode == NL_MODE_RUNNING_STATS)
        t->out->frozen_from_step = spec->freeze_bn_after;
    /* the series at the logging cadence, from step 0 (the model at
     * initialization) on */
    const bool series_now = (t->series.grad_norms || t->series.max_logits ||
                             t->series.weight_stats || t->counts_zeros) &&
                            step % spec->log_every == 0;
    m->record_max_logit = series_now && t->series.max_logits;
    const bool trace_now = t->tr.spec && spec->trace.mode == NL_TRACE_TRAIN && mine > 0 &&
                           step % spec->trace.every == 0;
    /* the host halves first: counts and per-step scalars, one upload */
    nl_model_prepare_forward(m, mine, mode);
    /* the optimizer counts the updates it made (Adam's bias correction):
     * a skipped step is none, as in PyTorch, where scaler.step does not
     * call optimizer.step; the schedule goes by the steps taken */
    nl_optim_prepare(m, &spec->optimizer, (float)s->lr, step - s->scaler.skipped_steps);
    nl_model_upload_scalars(m);
    if (t->scales || (series_now && t->counts_zeros))
        loss_scale_prepare(t);
    const bool probes_now = t->sink->series && nl_landscape_due(&t->landscape, step);
    const nl_code rc = t->rec.enabled && !series_now && !probes_now && !trace_now
                           ? replay_step(m, spec, &t->rec, mine, mode, t->err)
                           : direct_step(t, mine, mode, series_now, trace_now);
    if (rc)
        return rc;
    m->record_max_logit = false;
    s->step++;
    s->window_steps++;
    s->train_s += now_s() - t0;
    *diverged_now = t->dates_each_step && step_diverged(t);
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
    if (diverged_now && !isfinite(step_loss))
        snprintf(out->reason, sizeof out->reason,
                 "training loss %g at step %ld, the first step whose loss was not finite",
                 isnan(step_loss) ? fabs(step_loss) : step_loss, step);
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
    if (diverged_now || loss_diverged(loss, t->spec->diverge_loss)) {
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
        if (interrupted(t))
            return NL_OK;
        bool diverged_now;
        if ((rc = train_step(t, &diverged_now)) || (rc = log_window(t, diverged_now, &evaluate)))
            return rc;
        if (t->state.step % t->spec->eval_every == 0 || t->state.step == t->total)
            evaluate = true;
    }
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
        rc = nl_train_recalibrate(t->m, &t->f->train, &t->f->eval, t->spec, out, t->err);
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
static nl_code param_norm_data_init(nl_model *m, feed *f, nl_error *err)
{
    if (!m->spec.param_norm.data_init || f->tokens)
        return NL_OK;
    const long pos = f->train.pos;
    const nl_code rc = nl_model_param_norm_data_init(m, feed_next(f, m), err);
    f->train.pos = pos;
    return rc;
}

static nl_code train_loop(nl_model *m, feed *f, const nl_train_spec *spec, uint64_t seed,
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
    feed f = {.images = ds};
    return train_loop(m, &f, spec, seed, sink, stop, out, err);
}

nl_code nl_train_tokens(nl_model *m, const nl_token_dataset *ds, const nl_train_spec *spec,
                        uint64_t seed, const nl_train_sink *sink, atomic_int *stop,
                        nl_train_result *out, nl_error *err)
{
    feed f = {.tokens = ds};
    return train_loop(m, &f, spec, seed, sink, stop, out, err);
}
