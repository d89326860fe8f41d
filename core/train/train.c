#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "train/device_data.h"

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
static void feed_tell(const feed *f, nl_train_snapshot *s)
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

static nl_code feed_seek(feed *f, const nl_train_snapshot *s, nl_error *err)
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

/* Percentiles (linear interpolation, numpy's default) of one unit of the
 * traced activation over the first `samples` test images, in eval mode. */
static nl_code trace_point(nl_model *m, tracer *t, const nl_split *test, int batch, long step,
                           const nl_train_sink *sink, nl_error *err)
{
    const nl_shape s = t->act->shape;
    const size_t per_sample = nl_shape_per_sample(s), positions = (size_t)s.h * s.w;
    size_t count = 0;
    const size_t input_per_sample = (size_t)test->c * test->h * test->w;
    for (int start = 0; start < t->samples; start += batch) {
        int n = t->samples - start < batch ? t->samples - start : batch;
        nl_model_load_batch(m, test->x + (size_t)start * input_per_sample, test->y + start, n);
        nl_model_forward(m, n, NL_MODE_EVAL);
        m->be->ops->download(m->be, t->host, t->act->data, (size_t)n * per_sample * sizeof(float));
        for (int i = 0; i < n; i++)
            for (size_t p = 0; p < positions; p++)
                t->values[count++] = t->host[(size_t)i * per_sample + (size_t)t->spec->unit * positions + p];
    }
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

/* A signal reaches the ranks at different moments: they all stop at the
 * step where any of them saw it, or some would wait for the others forever. */

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

static nl_code train_loop(nl_model *m, feed *f, const nl_train_spec *spec, uint64_t seed,
                          const nl_train_sink *sink, atomic_int *stop,
                          nl_train_result *out, nl_error *err)
{
    nl_train_result_start(out);
    const nl_dataset *ds = f->images; /* NULL for tokens */
    if (ds && ds->train.n / spec->batch_size < 1)
        return nl_fail(err, NL_ERR_CONFIG,
                       "train.batch_size: %d is larger than the %ld training samples, so an epoch "
                       "has no full batch",
                       spec->batch_size, ds->train.n);
    if (f->tokens && (spec->trace.activation[0] || spec->bn_recalibrate_batches > 0))
        return nl_fail(err, NL_ERR_CONFIG, "token models take no activation trace and no "
                       "running-statistics recalibration");
    const int eval_batch = spec->eval_batch_size < m->capacity ? spec->eval_batch_size : m->capacity;
    /* train-mode evaluation only tells something when eval mode differs, and
     * needs at least one whole training-size batch of test data (a token
     * split always holds a window, and one window's tokens make a batch) */
    const bool trainmode = spec->eval_trainmode && m->n_states > 0 &&
                           (!ds || ds->test.n >= spec->batch_size);
    tracer tr = {0};
    if (ds && spec->trace.activation[0]) {
        tr.spec = &spec->trace;
        tr.act = nl_model_act(m, spec->trace.activation);
        if (!tr.act) {
            nl_fail(err, NL_ERR_CONFIG, "train.trace.activation: the model has no activation '%s'",
                    spec->trace.activation);
            nl_error_key(err, "train.trace.activation");
            return NL_ERR_CONFIG;
        }
        if (spec->trace.unit >= tr.act->shape.c) {
            nl_fail(err, NL_ERR_CONFIG,
                    "train.trace.unit: %d is out of range; '%s' has %d features/channels",
                    spec->trace.unit, spec->trace.activation, tr.act->shape.c);
            nl_error_key(err, "train.trace.unit");
            return NL_ERR_CONFIG;
        }
        tr.samples = spec->trace.samples < ds->test.n ? spec->trace.samples : (int)ds->test.n;
        tr.values = malloc((size_t)tr.samples * tr.act->shape.h * tr.act->shape.w * sizeof(float));
        tr.host = malloc((size_t)m->capacity * nl_shape_per_sample(tr.act->shape) * sizeof(float));
        if (!tr.values || !tr.host) {
            free(tr.values);
            free(tr.host);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory for activation tracing");
        }
    }

    f->trainmode = trainmode;
    nl_series series = {0};
    nl_code rc = nl_series_init(&series, m, spec->log_grad_norms, spec->log_attention_logits, err);
    if (rc == NL_OK)
        rc = feed_init(f, m, spec, eval_batch, seed, err);
    if (rc) {
        feed_free(f);
        nl_series_free(&series, m);
        free(tr.values);
        free(tr.host);
        return rc;
    }
    const long per_epoch = feed_batches_per_epoch(f);
    const long total = spec->steps > 0 ? spec->steps : spec->epochs * per_epoch;
    if ((rc = nl_train_check_stats(m, spec, total, err))) {
        feed_free(f);
        nl_series_free(&series, m);
        free(tr.values);
        free(tr.host);
        return rc;
    }

    /* the loss sums are per prediction: one per sample, or one per token */
    const double predictions_per_step = (double)spec->batch_size * m->rows_per_sample;
    const double start = now_s();
    double train_time = 0.0, lr = nl_schedule_lr(&spec->schedule, spec->optimizer.lr, 0, total);
    long step = 0, window_steps = 0;
    double eval_time = 0.0; /* in evaluations, over `evaluations` of them */
    long evaluations = 0, last_eval_step = 0;
    double last_progress = -1.0;
    /* the training window's sums, moved to the host when an evaluation in
     * the middle of a window needs the model's metric counters */
    double window[2] = {0.0, 0.0};
    const bool clips = spec->clip_grad_norm > 0.0f;
    /* A divergence is dated at its step, not at the next train row: where
     * the metric counters are host memory and one process trains, reading
     * them after each step costs a copy of two doubles, and the growth of
     * the window's loss sum is the step's own loss. The first step whose
     * loss is not finite or exceeds train.diverge_loss ends the window (a
     * row) and the run. A GPU's counters would cost a synchronization a
     * step, and the ranks' a collective: there the row's mean decides and
     * the reason names the row's steps. */
    const bool dates_each_step = m->be->device == NL_DEVICE_CPU && nl_dist_size(m->dist) == 1;
    long window_start = 0;          /* the step before the train row's window */
    double window_loss_before = 0.0; /* the window's loss sum before this step */
    double step_loss = NAN;
    step_recording rec = {.enabled = spec->cuda_graph == NL_CUDA_GRAPH_AUTO &&
                                     m->be->ops->record_begin && nl_dist_size(m->dist) == 1};
    double elapsed_before = 0.0; /* a resumed run's time before this process */
    const nl_train_snapshot *resume = sink->resume;
    if (resume && (rc = feed_seek(f, resume, err)))
        goto done;
    if (resume) {
        step = resume->step;
        lr = resume->lr;
        window_steps = resume->window_steps;
        window_start = resume->step - resume->window_steps;
        window_loss_before = resume->window_sums[0] + resume->model_metrics[0];
        window[0] = resume->window_sums[0];
        window[1] = resume->window_sums[1];
        if (clips)
            nl_clip_set_norm_sum(m, resume->window_sums[2]);
        nl_model_write_metrics(m, resume->model_metrics);
        out->final_train_loss = resume->final_train_loss;
        out->final_test_loss = resume->final_test_loss;
        out->final_test_accuracy = resume->final_test_accuracy;
        out->best_test_loss = resume->best_test_loss;
        out->best_test_accuracy = resume->best_test_accuracy;
        out->final_trainmode_accuracy = resume->final_trainmode_accuracy;
        elapsed_before = resume->elapsed_s;
        train_time = resume->train_s;
        eval_time = resume->eval_s;
        evaluations = resume->evaluations;
        last_eval_step = resume->last_eval_step;
    }

    /* emits a metric row */
#define EMIT(split_, loss_, acc_, grad_norm_)                                                      \
    do {                                                                                           \
        nl_metric_row row_ = {step, (double)step / (double)per_epoch, (split_), (loss_), (acc_),   \
                              lr, elapsed_before + now_s() - start, (grad_norm_)};                 \
        if ((rc = sink->metric(sink->ctx, &row_, err)) != NL_OK)                                   \
            goto done;                                                                             \
    } while (0)

    /* the progress line, with the last evaluation's accuracy; the untrained
     * model's says nothing about the run */
#define PROGRESS(loss_)                                                                            \
    do {                                                                                           \
        const double elapsed_ = now_s() - start;                                                   \
        last_progress = elapsed_;                                                                  \
        nl_progress p_ = {step, total, (double)step / per_epoch, (loss_),                          \
                          last_eval_step > 0 ? out->final_test_accuracy : NAN,                     \
                          step * (double)spec->batch_size / (train_time > 0 ? train_time : 1e-9),  \
                          elapsed_, 0.0};                                                          \
        p_.eta_s = remaining_seconds(step, total, spec->eval_every, train_time, eval_time,         \
                                     evaluations);                                                 \
        sink->progress(sink->ctx, &p_);                                                            \
    } while (0)

    /* the initial model, so curves start at step 0; a resumed run measured
     * its step before the checkpoint */
    bool evaluate_now = !resume;
    bool ranks_stopping = false;
    for (;;) {
        const bool traces_now = tr.spec && step % spec->trace.every == 0 &&
                                !(resume && step == resume->step);
        const bool measures_now = evaluate_now || traces_now;
        if (measures_now)
            nl_model_share_state(m);
        if (measures_now && window_steps > 0) {
            double partial[2];
            nl_model_read_metrics(m, partial);
            window[0] += partial[0];
            window[1] += partial[1];
        }
        if (evaluate_now) {
            double loss, acc;
            const double eval_t0 = now_s();
            if ((rc = feed_evaluate(f, m, false, &loss, &acc, err)))
                goto done;
            EMIT(NL_SPLIT_TEST, loss, acc, NAN);
            out->final_test_loss = loss;
            out->final_test_accuracy = acc;
            if (loss < out->best_test_loss)
                out->best_test_loss = loss;
            if (isnan(out->best_test_accuracy) || acc > out->best_test_accuracy)
                out->best_test_accuracy = acc;
            if (trainmode) {
                if ((rc = feed_evaluate(f, m, true, &loss, &acc, err)))
                    goto done;
                EMIT(NL_SPLIT_TEST_TRAINMODE, loss, acc, NAN);
                out->final_trainmode_accuracy = acc;
            }
            eval_time += now_s() - eval_t0;
            evaluations++;
            last_eval_step = step;
            evaluate_now = false;
            /* the last line shows the final evaluation, as the result does */
            if (sink->progress && step == total && step > 0)
                PROGRESS(out->final_train_loss);
        }
        if (traces_now && (rc = trace_point(m, &tr, &ds->test, eval_batch, step, sink, err)))
            goto done;
        if (measures_now)
            nl_model_reset_metrics(m);
        if (out->status != NL_RUN_RUNNING || step >= total)
            break;
        if (spec->checkpoint_every > 0 && sink->checkpoint && step % spec->checkpoint_every == 0 &&
            step > 0 && !(resume && step == resume->step)) {
            nl_train_snapshot s = {
                .step = step, .lr = lr, .window_steps = window_steps,
                .window_sums = {window[0], window[1], clips ? nl_clip_norm_sum(m) : 0.0},
                .final_train_loss = out->final_train_loss,
                .final_test_loss = out->final_test_loss,
                .final_test_accuracy = out->final_test_accuracy,
                .best_test_loss = out->best_test_loss,
                .best_test_accuracy = out->best_test_accuracy,
                .final_trainmode_accuracy = out->final_trainmode_accuracy,
                .elapsed_s = elapsed_before + now_s() - start, .train_s = train_time,
                .eval_s = eval_time, .evaluations = evaluations, .last_eval_step = last_eval_step};
            feed_tell(f, &s);
            nl_model_read_metrics(m, s.model_metrics);
            if ((rc = sink->checkpoint(sink->ctx, &s, err)))
                goto done;
        }
        /* one process stops at the signal; ranks stop together at the
         * step after any of them saw one (the request rode in the step's
         * gradient exchange: no collective of its own) */
        if (ranks_stopping || (nl_dist_size(m->dist) == 1 && stop && *stop)) {
            out->status = NL_RUN_FAILED;
            snprintf(out->reason, sizeof out->reason, "interrupted at step %ld of %ld", step, total);
            break;
        }

        /* one optimizer step */
        const double t0 = now_s();
        const int mine = feed_next(f, m);
        if (window_steps == 0) {
            nl_model_reset_metrics(m);
            window[0] = window[1] = 0.0;
            if (clips)
                nl_clip_set_norm_sum(m, 0.0);
        }
        lr = nl_schedule_lr(&spec->schedule, spec->optimizer.lr, step, total);
        m->step = step;
        const nl_mode mode = nl_train_mode_at(spec, step);
        if (mode == NL_MODE_RUNNING_STATS && !out->frozen_from_step)
            out->frozen_from_step = step;
        /* the series at the logging cadence, from step 0 (the model at
         * initialization) on */
        const bool series_now = (series.grad_norms || series.max_logits) &&
                                step % spec->log_every == 0;
        m->record_max_logit = series_now && series.max_logits;
        /* the host halves first: counts and per-step scalars, one upload */
        nl_model_prepare_forward(m, mine, mode);
        nl_optim_prepare(m, &spec->optimizer, (float)lr, step);
        nl_model_upload_scalars(m);
        if (rec.enabled && !series_now) {
            if ((rc = replay_step(m, spec, &rec, mine, mode, err)))
                goto done;
        } else {
            nl_model_launch_forward(m, mine, mode);
            if (series_now && series.max_logits)
                nl_series_read_logits(&series, m);
            nl_model_backward(m, mine);
            /* the gradients are complete (over every rank) here; clipping
             * and the update read them */
            ranks_stopping = nl_model_reduce_gradients(m, stop && *stop);
            if ((rc = nl_dist_status(m->dist, err)))
                goto done;
            if (series_now && (rc = emit_series(&series, m, sink, step, err)))
                goto done;
            if (clips)
                nl_clip_grad_norm(m, spec->clip_grad_norm);
            nl_optim_launch(m, &spec->optimizer);
        }
        m->record_max_logit = false;
        step++;
        window_steps++;
        train_time += now_s() - t0;
        bool diverged_now = false;
        if (dates_each_step) {
            double so_far[2];
            nl_model_read_metrics(m, so_far);
            const double window_loss = so_far[0] + window[0];
            step_loss = (window_loss - window_loss_before) / predictions_per_step;
            window_loss_before = window_loss;
            diverged_now = loss_diverged(step_loss, spec->diverge_loss);
        }

        if (window_steps == spec->log_every || step == total || diverged_now) {
            double metrics[2];
            nl_model_read_metrics(m, metrics);
            const double predictions = (double)window_steps * predictions_per_step;
            const double loss = (metrics[0] + window[0]) / predictions;
            const double acc = (metrics[1] + window[1]) / predictions;
            const double grad_norm = clips ? nl_clip_norm_sum(m) / (double)window_steps : NAN;
            const long window_first = window_start + 1;
            window_start = step;
            window_loss_before = 0.0;
            window_steps = 0;
            EMIT(NL_SPLIT_TRAIN, loss, acc, grad_norm);
            out->final_train_loss = loss;
            if (diverged_now || loss_diverged(loss, spec->diverge_loss)) {
                out->status = NL_RUN_DIVERGED;
                const double shown = isnan(loss) ? fabs(loss) : loss; /* "nan", not "-nan" */
                if (diverged_now && !isfinite(step_loss))
                    snprintf(out->reason, sizeof out->reason,
                             "training loss %g at step %ld, the first step whose loss was not finite",
                             isnan(step_loss) ? fabs(step_loss) : step_loss, step);
                else if (diverged_now)
                    snprintf(out->reason, sizeof out->reason,
                             "training loss %g at step %ld, the first step whose loss exceeded "
                             "train.diverge_loss = %g", step_loss, step, spec->diverge_loss);
                else if (!isfinite(loss) && window_first < step)
                    snprintf(out->reason, sizeof out->reason,
                             "training loss %g at step %ld, first not finite at one of steps %ld to %ld "
                             "(read every train.log_every steps on this device)",
                             shown, step, window_first, step);
                else
                    snprintf(out->reason, sizeof out->reason,
                             "training loss %g at step %ld (mean of steps %ld to %ld; bound "
                             "train.diverge_loss = %g)",
                             shown, step, window_first, step, spec->diverge_loss);
                evaluate_now = true; /* record where it ended */
            }
            /* the last step's line waits for its evaluation (above) */
            if (sink->progress && step < total && now_s() - start - last_progress >= 0.1)
                PROGRESS(loss);
        }
        if (step % spec->eval_every == 0 || step == total)
            evaluate_now = true;
    }
    if (out->status == NL_RUN_RUNNING)
        out->status = NL_RUN_OK;
    if (out->status == NL_RUN_OK && ds &&
        (rc = nl_train_recalibrate(m, &f->train, &f->eval, spec, out, err)))
        goto done;
    if (out->status == NL_RUN_OK && loss_diverged(out->final_test_loss, spec->diverge_loss)) {
        out->status = NL_RUN_DIVERGED;
        snprintf(out->reason, sizeof out->reason, "test loss %g at the end",
                 isnan(out->final_test_loss) ? fabs(out->final_test_loss) : out->final_test_loss);
    }
    rc = NL_OK;
done:
#undef EMIT
#undef PROGRESS
    out->steps = step;
    out->epochs = (double)step / (double)per_epoch;
    out->wall_s = elapsed_before + now_s() - start;
    out->train_s = train_time;
    out->samples_per_s = train_time > 0 ? step * (double)spec->batch_size / train_time : 0.0;
    if (isinf(out->best_test_loss))
        out->best_test_loss = NAN;
    if (rec.recording) {
        /* the last replay finishes before its recording goes; an error is
         * the backend's sticky one, which the run reports already */
        nl_error ignored = {0};
        (void)m->be->ops->synchronize(m->be, &ignored);
        m->be->ops->record_free(m->be, rec.recording);
    }
    out->replayed_steps = rec.replays;
    feed_free(f);
    nl_series_free(&series, m);
    free(tr.values);
    free(tr.host);
    if (rc != NL_OK && out->status == NL_RUN_RUNNING) {
        out->status = NL_RUN_FAILED;
        nl_copy_string(out->reason, sizeof out->reason, err ? err->msg : "error");
    }
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
