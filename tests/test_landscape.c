/* train.log.landscape (core/train/probe_landscape.c; Santurkar et al.
 * 2018): the probe's loss band, gradient predictiveness and beta-smoothness
 * equal a forward and backward done here by hand at w - eta*g on the same
 * batch, mode and step (batch norm's batch statistics, dropout's masks);
 * the probe leaves every arena of the model as it found it; a training run
 * with the probe ends with the weights, running statistics, optimizer state
 * and metric rows of the run without it, bit for bit (batch norm with
 * momentum SGD, AdamW, dropout with noisy batch norm); bad keys exit 2
 * naming the key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "config/config.h"
#include "data/data.h"
#include "log/files.h"
#include "model/model.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "train/check.h"
#include "train/probe_landscape.h"
#include "train/train.h"
#include "testutil.h"

enum { N = 8, IN = 6, CLASSES = 3 };

static nl_model *build_mlp(nl_norm_kind norm, float dropout_p)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_MLP;
    spec.in_c = IN;
    spec.in_h = spec.in_w = 1;
    spec.classes = CLASSES;
    spec.widths[0] = 12;
    spec.widths[1] = 10;
    spec.n_widths = 2;
    spec.dropout_p = dropout_p;
    nl_norm_spec_defaults(&spec.norm, norm);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), N, N, 5, &m, &err) == NL_OK, "%s", err.msg);
    float x[N * IN];
    int32_t labels[N];
    tu_fill_normal(x, N * IN, 4, 0.5f, 2.0f);
    for (int i = 0; i < N; i++)
        labels[i] = i % CLASSES;
    nl_model_load_batch(m, x, labels, N);
    return m;
}

static float *read_floats(nl_model *m, const float *device, size_t count)
{
    float *host = malloc((count ? count : 1) * sizeof *host);
    m->be->ops->download(m->be, host, device, count * sizeof *host);
    return host;
}

/* everything a step leaves behind that the probe may touch */
typedef struct {
    float *params, *grads, *optim, *states;
    double metrics[2];
    long counters[16]; /* host counts the layers advance (batch norm's batches tracked) */
} snapshot;

static snapshot take(nl_model *m)
{
    snapshot s;
    s.params = read_floats(m, m->param_arena, m->param_floats);
    s.grads = read_floats(m, m->grad_arena, m->param_floats);
    s.optim = read_floats(m, m->optim_arena, m->param_floats * m->spec.optimizer_state_slots);
    s.states = read_floats(m, m->state_arena, m->state_floats);
    m->be->ops->download(m->be, s.metrics, m->metrics, sizeof s.metrics);
    ck_assert_int_le(m->n_counters, 16);
    for (int i = 0; i < m->n_counters; i++)
        s.counters[i] = *m->counters[i];
    return s;
}

/* the arenas' floats that belong to a parameter or a state (the padding
 * between them holds whatever the allocation held) */
static void assert_same(const snapshot *a, const snapshot *b, const nl_model *m, const char *what)
{
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *p = m->params[i];
        const size_t at = (size_t)(p->data - m->param_arena), bytes = p->count * sizeof(float);
        ck_assert_msg(!memcmp(a->params + at, b->params + at, bytes), "%s: %s", what, p->name);
        ck_assert_msg(!memcmp(a->grads + at, b->grads + at, bytes), "%s: %s's gradient", what, p->name);
        for (int slot = 0; slot < m->spec.optimizer_state_slots; slot++) {
            const size_t in_slot = at + (size_t)slot * m->param_floats;
            ck_assert_msg(!memcmp(a->optim + in_slot, b->optim + in_slot, bytes),
                          "%s: %s's optimizer state %d", what, p->name, slot);
        }
    }
    for (int i = 0; i < m->n_states; i++) {
        const nl_state *st = m->states[i];
        const size_t at = (size_t)(st->data - m->state_arena);
        ck_assert_msg(!memcmp(a->states + at, b->states + at, st->count * sizeof(float)), "%s: %s",
                      what, st->name);
    }
    ck_assert_msg(!memcmp(a->metrics, b->metrics, sizeof a->metrics), "%s: metric counters", what);
    for (int i = 0; i < m->n_counters; i++)
        ck_assert_msg(a->counters[i] == b->counters[i], "%s: layer count %d: %ld, then %ld", what, i,
                      a->counters[i], b->counters[i]);
}

static void release(snapshot *s)
{
    free(s->params);
    free(s->grads);
    free(s->optim);
    free(s->states);
}

/* batch norm; batch norm with dropout; no normalizer */
START_TEST(test_probe_is_the_direct_computation)
{
    const nl_norm_kind norm = _i == 2 ? NL_NORM_NONE : NL_NORM_BATCH;
    nl_model *m = build_mlp(norm, _i == 1 ? 0.3f : 0.0f);
    nl_backend *be = m->be;
    nl_optim_spec opt;
    nl_optim_spec_defaults(&opt, NL_OPTIM_SGD);
    opt.lr = 0.2f;
    opt.momentum = 0.9f;
    nl_landscape_spec spec = {.every = 1, .lr_multiples = {0.5f, 1.0f, 3.0f}, .n_lr_multiples = 3};
    nl_landscape probe;
    nl_error err = {0};
    ck_assert_msg(nl_landscape_open(&probe, &spec, m, &err) == NL_OK, "%s", err.msg);
    /* a first step, so that the optimizer has a velocity and the running
     * statistics have moved; the probe at the second */
    for (long step = 0; step < 2; step++) {
        m->step = step;
        nl_model_reset_metrics(m);
        nl_model_prepare_forward(m, N, NL_MODE_TRAIN);
        nl_optim_prepare(m, &opt, opt.lr, step);
        nl_model_upload_scalars(m);
        nl_model_launch_forward(m, N, NL_MODE_TRAIN);
        nl_model_backward(m, N);
        if (step == 0)
            nl_optim_launch(m, &opt);
    }
    snapshot before = take(m);
    nl_landscape_probe(&probe, m, N, NL_MODE_TRAIN, opt.lr, N);
    snapshot after = take(m);
    assert_same(&before, &after, m, "after the probe");
    release(&after);

    /* by hand: w - eta*g rounded as the probe rounds it (eta*g first), the
     * step's forward and backward again, the norms in double */
    const float *w = before.params, *g = before.grads;
    double g2 = 0.0;
    for (int i = 0; i < m->n_params; i++) {
        const size_t at = (size_t)(m->params[i]->data - m->param_arena);
        for (size_t j = 0; j < m->params[i]->count; j++)
            g2 += (double)g[at + j] * g[at + j];
    }
    ck_assert_msg(fabs(probe.grad_norm - sqrt(g2)) <= 1e-12 * sqrt(g2), "||g|| %.17g, direct %.17g",
                  probe.grad_norm, sqrt(g2));
    float *moved = malloc(m->param_floats * sizeof *moved);
    double loss_min = INFINITY, loss_max = -INFINITY, pred_min = INFINITY, pred_max = -INFINITY,
           beta = -INFINITY;
    for (int k = 0; k < spec.n_lr_multiples; k++) {
        const float eta = spec.lr_multiples[k] * opt.lr;
        ck_assert_msg(probe.step_size[k] == eta, "step size %d: %g, want %g", k, probe.step_size[k], eta);
        memcpy(moved, w, m->param_floats * sizeof *moved);
        for (int i = 0; i < m->n_params; i++) {
            const size_t at = (size_t)(m->params[i]->data - m->param_arena);
            for (size_t j = 0; j < m->params[i]->count; j++) {
                const float step_along = -eta * g[at + j];
                moved[at + j] = step_along + w[at + j];
            }
        }
        be->ops->upload(be, m->param_arena, moved, m->param_floats * sizeof *moved);
        be->ops->upload(be, m->state_arena, before.states, m->state_floats * sizeof(float));
        /* the same step: nl_model_forward's host half draws the same
         * dropout mask from the same step */
        nl_model_reset_metrics(m);
        nl_model_forward(m, N, NL_MODE_TRAIN);
        nl_model_backward(m, N);
        double metrics[2];
        nl_model_read_metrics(m, metrics);
        const double loss = metrics[0] / N;
        float *grad = read_floats(m, m->grad_arena, m->param_floats);
        double d2 = 0.0;
        for (int i = 0; i < m->n_params; i++) {
            const size_t at = (size_t)(m->params[i]->data - m->param_arena);
            for (size_t j = 0; j < m->params[i]->count; j++) {
                const double d = (double)grad[at + j] - g[at + j];
                d2 += d * d;
            }
        }
        free(grad);
        const double change = sqrt(d2);
        ck_assert_msg(change > 1e-6, "eta %g: the gradient did not change", eta);
        ck_assert_msg(fabs(probe.loss[k] - loss) <= 1e-12 * fabs(loss), "eta %g: loss %.17g, direct %.17g",
                      eta, probe.loss[k], loss);
        /* the probe takes the difference in float */
        ck_assert_msg(fabs(probe.grad_change[k] - change) <= 1e-6 * change,
                      "eta %g: ||grad - g|| %.17g, direct %.17g", eta, probe.grad_change[k], change);
        loss_min = fmin(loss_min, loss);
        loss_max = fmax(loss_max, loss);
        pred_min = fmin(pred_min, change);
        pred_max = fmax(pred_max, change);
        beta = fmax(beta, change / (eta * sqrt(g2)));
    }
    ck_assert_msg(loss_max > loss_min, "the loss did not vary along the gradient");
    ck_assert(fabs(probe.loss_min - loss_min) <= 1e-12 * loss_min);
    ck_assert(fabs(probe.loss_max - loss_max) <= 1e-12 * loss_max);
    ck_assert(fabs(probe.grad_pred_min - pred_min) <= 1e-6 * pred_min);
    ck_assert(fabs(probe.grad_pred_max - pred_max) <= 1e-6 * pred_max);
    ck_assert_msg(fabs(probe.beta_smoothness - beta) <= 1e-6 * beta, "beta %.17g, direct %.17g",
                  probe.beta_smoothness, beta);
    free(moved);
    release(&before);
    nl_landscape_free(&probe, m);
    nl_model_free(m);
}
END_TEST

/* the probes a run made */
typedef struct {
    int landscape_rows;
    long last_probe;
} series_seen;

static nl_code keep_nothing(void *ctx, const nl_metric_row *row, nl_error *err)
{
    (void)ctx, (void)row, (void)err;
    return NL_OK;
}

static nl_code count_series(void *ctx, long step, nl_series_kind kind, int layer, const char *name,
                            double value, nl_error *err)
{
    series_seen *seen = ctx;
    (void)layer, (void)name, (void)err;
    if (kind == NL_SERIES_BETA_SMOOTHNESS) {
        ck_assert_msg(isfinite(value) && value > 0.0, "step %ld: beta %g", step, value);
        seen->landscape_rows++;
        seen->last_probe = step;
    }
    return NL_OK;
}

/* trains the config's model in this process (the probe every `every`
 * steps, or off) and returns its final state */
static snapshot train_config(const char *text, long every, series_seen *seen)
{
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(text, "landscape.yaml", NULL, 0, cfg, &err) == NL_OK, "%s",
                  err.msg);
    cfg->train.landscape.every = every;
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    nl_dataset ds = {0};
    ck_assert_msg(nl_dataset_load(&cfg->data, &ds, &err) == NL_OK, "%s", err.msg);
    nl_model *m = NULL;
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), nl_run_capacity(cfg), cfg->train.batch_size,
                                 cfg->seed, &m, &err) == NL_OK, "%s", err.msg);
    nl_train_sink sink = {.ctx = seen, .metric = keep_nothing, .series = count_series};
    nl_train_result result;
    ck_assert_msg(nl_train(m, &ds, &cfg->train, cfg->seed, &sink, NULL, &result, &err) == NL_OK,
                  "%s", err.msg);
    ck_assert_int_eq(result.status, NL_RUN_OK);
    snapshot s = take(m);
    nl_model_free(m);
    nl_dataset_free(&ds);
    free(cfg);
    return s;
}

static const char *const only_observes_configs[] = {
    /* batch norm, momentum SGD with weight decay, clipping */
    "data: {dataset: synthetic, shape: [6], classes: 3, train_size: 96, test_size: 32}\n"
    "model: {arch: mlp, widths: [12, 10], norm: {type: batch}}\n"
    "train: {batch_size: 8, steps: 13, log_every: 3, eval_every: 5, clip_grad_norm: 1.0,\n"
    "        optimizer: {lr: 0.2, momentum: 0.9, weight_decay: 0.001}}\n",
    /* batch norm, AdamW */
    "data: {dataset: synthetic, shape: [6], classes: 3, train_size: 96, test_size: 32}\n"
    "model: {arch: mlp, widths: [12, 10], norm: {type: batch}}\n"
    "train: {batch_size: 8, steps: 13, log_every: 3, eval_every: 5,\n"
    "        optimizer: {type: adamw, lr: 0.01, weight_decay: 0.01}}\n",
    /* a CNN with batch norm, dropout and noisy batch norm */
    "data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 96, test_size: 32}\n"
    "model: {arch: cnn, widths: [4, 6], norm: {type: batch}, dropout: {p: 0.2},\n"
    "        norm_noise: {distribution: gaussian}}\n"
    "train: {batch_size: 8, steps: 13, log_every: 3, eval_every: 5,\n"
    "        optimizer: {lr: 0.05, momentum: 0.9}}\n",
};

START_TEST(test_probe_only_observes)
{
    const char *text = only_observes_configs[_i];
    series_seen off = {0}, on = {0};
    snapshot without = train_config(text, 0, &off);
    snapshot with = train_config(text, 4, &on);
    ck_assert_int_eq(off.landscape_rows, 0);
    ck_assert_int_eq(on.landscape_rows, 4); /* steps 0, 4, 8, 12 */
    ck_assert_int_eq(on.last_probe, 12);
    /* the metric counters are the last window's, restored too */
    nl_model_spec spec;
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(text, "landscape.yaml", NULL, 0, cfg, &err) == NL_OK, "%s",
                  err.msg);
    nl_run_model_spec(cfg, &spec);
    nl_model *shape = NULL;
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), nl_run_capacity(cfg), cfg->train.batch_size,
                                 cfg->seed, &shape, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(shape->state_floats > 0, "no running statistics to compare");
    assert_same(&without, &with, shape, "the run with the probe");
    nl_model_free(shape);
    free(cfg);
    release(&without);
    release(&with);
}
END_TEST

#define RUN_CONFIG(log)                                                                    \
    "data: {dataset: synthetic, shape: [6], classes: 3, train_size: 96, test_size: 32}\n"    \
    "model: {arch: mlp, widths: [12, 10], norm: {type: batch}}\n"                           \
    "train: {batch_size: 8, steps: 10, log_every: 3, eval_every: 5,\n"                       \
    "        optimizer: {lr: 0.2, momentum: 0.9}" log "}\n"

/* normlab run: metrics.csv as without the probe, the rows in series.csv,
 * and the keys' errors */
START_TEST(test_run_and_bad_keys)
{
    tu_tmp_make("landscape");
    tu_tmp_write("l.yaml", RUN_CONFIG(", log: {landscape: {every: 5}}"));
    tu_tmp_write("off.yaml", RUN_CONFIG(""));
    ck_assert_int_eq(tu_normlab("run l.yaml --out on --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("run off.yaml --out off --quiet --threads 1"), 0);
    char *off = tu_metrics_without_time("off"), *on = tu_metrics_without_time("on");
    ck_assert_msg(strchr(off, '\n') && !strcmp(off, on), "without:\n%s\nwith:\n%s", off, on);
    free(off);
    free(on);
    char *series = tu_tmp_read("on/series.csv");
    ck_assert_msg(strstr(series, "\n0,landscape_step_size,0,lr*0.5,0.100000001\n"), "%s", series);
    ck_assert_msg(strstr(series, "\n5,landscape_step_size,3,lr*4,0.800000012\n"), "%s", series);
    static const char *const ranges[] = {"loss_min", "loss_max", "grad_pred_min", "grad_pred_max",
                                         "beta_smoothness"};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        char row[64];
        snprintf(row, sizeof row, "\n5,%s,0,landscape,", ranges[r]);
        ck_assert_msg(strstr(series, row), "no %s row at step 5:\n%s", ranges[r], series);
    }
    /* the plot kind: each probe's ranges as series.csv has them (one run:
     * the means over one seed) */
    ck_assert_int_eq(tu_normlab("plot on --kind landscape"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(!strstr(out, "gnuplot said"), "%.3000s", out);
    free(out);
    char *csv = tu_tmp_read("on/plots/landscape.csv");
    static const char header[] =
        "variant,label,step,loss_min,loss_max,grad_pred_min,grad_pred_max,beta_smoothness,n\n";
    ck_assert_msg(!strncmp(csv, header, sizeof header - 1), "%s", csv);
    int probes = 0;
    for (const char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        long step;
        double v[5];
        int n;
        ck_assert_msg(sscanf(line + 1, "0,%*[^,],%ld,%lf,%lf,%lf,%lf,%lf,%d", &step, &v[0], &v[1], &v[2],
                             &v[3], &v[4], &n) == 7, "%s", line + 1);
        ck_assert_int_eq(n, 1);
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
            char row[64];
            snprintf(row, sizeof row, "\n%ld,%s,0,landscape,", step, ranges[r]);
            const char *at = strstr(series, row);
            ck_assert_msg(at, "%s at %ld", ranges[r], step);
            const double want = atof(at + strlen(row));
            ck_assert_msg(fabs(v[r] - want) <= 1e-5 * fabs(want), "%s at %ld: %g, series.csv %g", ranges[r],
                          step, v[r], want);
        }
        probes++;
    }
    ck_assert_int_eq(probes, 2); /* steps 0 and 5 */
    free(csv);
    char *gp = tu_tmp_read("on/plots/landscape.gp");
    ck_assert_msg(strstr(gp, "lr*0.5, lr*1, lr*2, lr*4") && strstr(gp, "filledcurves"), "%s", gp);
    free(gp);
    /* a run without the probe: the kind names the key that logs it */
    ck_assert_int_eq(tu_normlab("plot off --kind landscape"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "train.log.landscape.every"), "%.3000s", out);
    free(out);
    free(series);

    char *config = tu_tmp_read("on/config.yaml");
    ck_assert_msg(strstr(config, "lr_multiples: [0.5, 1, 2, 4]"), "%s", config);
    free(config);

    static const struct {
        const char *set, *message;
    } bad[] = {
        {"train.log.landscape.every=-3", "train.log.landscape.every: -3 is out of range"},
        {"train.log.landscape.lr_multiples=[2, 1]",
         "train.log.landscape.lr_multiples[1]: 1 is not greater than the item before it"},
        {"train.log.landscape.lr_multiples=[0, 1]", "train.log.landscape.lr_multiples[0]: 0"},
        {"train.log.landscape.steps=[1]", "train.log.landscape.steps"},
    };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        char args[300];
        snprintf(args, sizeof args, "run l.yaml --out refused --quiet --set '%s'", bad[b].set);
        ck_assert_int_eq(tu_normlab(args), 2);
        char *out = tu_normlab_output();
        ck_assert_msg(strstr(out, bad[b].message), "%s: %s", bad[b].set, out);
        free(out);
        char path[600];
        snprintf(path, sizeof path, "%s/refused", tu_tmp);
        ck_assert_msg(!nl_path_exists(path), "%s wrote a run directory", bad[b].set);
    }
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("landscape");
    TCase *tc = tcase_create("landscape");
    tcase_add_loop_test(tc, test_probe_is_the_direct_computation, 0, 3);
    tcase_add_loop_test(tc, test_probe_only_observes, 0,
                        (int)(sizeof only_observes_configs / sizeof only_observes_configs[0]));
    tcase_add_test(tc, test_run_and_bad_keys);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
