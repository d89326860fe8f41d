/* The signal-propagation probe (train.log.signal_propagation) and SkipInit
 * (model.skip_init), the residual gain it is reproduced with.
 * The probe: its sites (every residual add's output, every normalizer's
 * input) and its per-site averages of the channel mean^2 and variance
 * against a direct two-pass computation over the same activations of two
 * batches; the running statistics and batch counts untouched by its pass;
 * a run with it logs metrics.csv exactly as the run without; models with
 * nothing to measure refused, exit 2. SkipInit: alpha = 0 makes a block
 * the identity, finite differences of every parameter (the gains
 * included), and its config key on the architectures that read it. */
// ctest-labels: kernels
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "log/files.h"
#include "model/model.h"
#include "norm/registry.h"
#include "train/probe_sigprop.h"
#include "testutil.h"

enum { C = 3, H = 6, W = 6, CLASSES = 3, BATCH = 8, BATCHES = 2 };

static void resnet_spec(nl_model_spec *spec, nl_norm_kind kind, nl_placement placement)
{
    nl_model_spec_defaults(spec);
    spec->arch = NL_ARCH_RESNET;
    spec->in_c = C;
    spec->in_h = H;
    spec->in_w = W;
    spec->classes = CLASSES;
    spec->widths[0] = 4;
    spec->widths[1] = 6;
    spec->n_widths = 2;
    spec->blocks_per_stage = 2;
    nl_norm_spec_defaults(&spec->norm, kind);
    spec->norm.placement = placement;
    spec->norm.groups = 2;
}

static nl_model *build(const nl_model_spec *spec, int n)
{
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(spec, tu_cpu(1), n, n, 9, &m, &err) == NL_OK, "%s", err.msg);
    return m;
}

/* the probe's sites: names and kinds, input to output */
static const struct {
    const char *layer;
    nl_sigprop_site_kind kind;
} pre_sites[] = {
    {"stage1.block1.norm1", NL_SIGPROP_NORM_IN}, {"stage1.block1.norm2", NL_SIGPROP_NORM_IN},
    {"stage1.block1.add", NL_SIGPROP_STREAM},    {"stage1.block2.norm1", NL_SIGPROP_NORM_IN},
    {"stage1.block2.norm2", NL_SIGPROP_NORM_IN}, {"stage1.block2.add", NL_SIGPROP_STREAM},
    {"stage2.block1.norm1", NL_SIGPROP_NORM_IN}, {"stage2.block1.norm2", NL_SIGPROP_NORM_IN},
    {"stage2.block1.add", NL_SIGPROP_STREAM},    {"stage2.block2.norm1", NL_SIGPROP_NORM_IN},
    {"stage2.block2.norm2", NL_SIGPROP_NORM_IN}, {"stage2.block2.add", NL_SIGPROP_STREAM},
    {"final.norm", NL_SIGPROP_NORM_IN},
};
enum { N_PRE_SITES = sizeof pre_sites / sizeof pre_sites[0] };

static const nl_layer *layer_named(const nl_model *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i]->name, name))
            return m->layers[i];
    return NULL;
}

/* every state array and counter of the model, in one host copy */
static float *states_of(nl_model *m, size_t *floats)
{
    size_t total = 0;
    for (int i = 0; i < m->n_states; i++)
        total += m->states[i]->count;
    float *all = malloc((total + (size_t)m->n_counters) * sizeof *all);
    ck_assert_ptr_nonnull(all);
    size_t at = 0;
    for (int i = 0; i < m->n_states; i++) {
        m->be->ops->download(m->be, all + at, m->states[i]->data,
                             m->states[i]->count * sizeof *all);
        at += m->states[i]->count;
    }
    for (int i = 0; i < m->n_counters; i++)
        all[at++] = (float)*m->counters[i];
    *floats = at;
    return all;
}

/* Loop 0: pre-activation with batch norm (running statistics); 1: group
 * norm; 2: no normalizer (the residual adds alone). The probe over two
 * batches against each site's values read back after the same forwards,
 * per channel by two passes in double. */
START_TEST(test_probe_is_the_direct_computation)
{
    static const nl_norm_kind kinds[] = {NL_NORM_BATCH, NL_NORM_GROUP, NL_NORM_NONE};
    const nl_norm_kind kind = kinds[_i];
    nl_model_spec spec;
    resnet_spec(&spec, kind, NL_PLACE_PRE);
    nl_model *m = build(&spec, BATCH);
    const int per_sample = C * H * W;
    float x[BATCH * BATCHES * C * H * W];
    int32_t y[BATCH * BATCHES];
    /* a shifted, scaled input: the unnormalized stream's mean^2 is far from 0 */
    tu_fill_normal(x, sizeof x / sizeof x[0], 5, 0.7f, 2.0f);
    for (int i = 0; i < BATCH * BATCHES; i++)
        y[i] = i % CLASSES;
    const nl_split split = {.n = BATCH * BATCHES, .c = C, .h = H, .w = W, .x = x, .y = y};

    nl_sigprop v;
    nl_error err = {0};
    ck_assert_msg(nl_sigprop_open(&v, m, BATCH, &err) == NL_OK, "%s", err.msg);
    int expected = 0, streams = 0;
    for (int s = 0; s < N_PRE_SITES; s++) {
        if (kind == NL_NORM_NONE && pre_sites[s].kind == NL_SIGPROP_NORM_IN)
            continue;
        ck_assert_int_lt(expected, v.n_sites);
        ck_assert_str_eq(v.layers[expected]->name, pre_sites[s].layer);
        ck_assert_int_eq(v.kind[expected], pre_sites[s].kind);
        if (pre_sites[s].kind == NL_SIGPROP_STREAM)
            ck_assert_int_eq(v.depth[expected], streams++);
        expected++;
    }
    ck_assert_int_eq(v.n_sites, expected);

    size_t n_before, n_after;
    float *before = states_of(m, &n_before);
    nl_sigprop_measure(&v, m, &split, BATCH, BATCHES);
    float *after = states_of(m, &n_after);
    ck_assert_int_eq(n_before, n_after);
    ck_assert_msg(kind != NL_NORM_BATCH || n_before > 0, "batch norm keeps running statistics");
    ck_assert_msg(!memcmp(before, after, n_before * sizeof *before),
                  "the probe's pass moved running statistics or counts");
    free(before);
    free(after);

    /* the reference: the same two forwards, every site's values kept */
    for (int s = 0; s < v.n_sites; s++) {
        const nl_act *act = v.acts[s];
        const int c = act->shape.c, plane = act->shape.h * act->shape.w;
        const size_t one = (size_t)BATCH * c * plane;
        float *values = malloc(BATCHES * one * sizeof *values);
        ck_assert_ptr_nonnull(values);
        for (int k = 0; k < BATCHES; k++) {
            nl_model_load_batch(m, x + (size_t)k * BATCH * per_sample, y + k * BATCH, BATCH);
            nl_model_forward(m, BATCH, NL_MODE_TRAIN_FROZEN);
            m->be->ops->download(m->be, values + k * one, act->data, one * sizeof *values);
        }
        double mean_sq = 0.0, var = 0.0;
        for (int ch = 0; ch < c; ch++) {
            double sum = 0.0, sq = 0.0;
            const double count = (double)BATCHES * BATCH * plane;
            for (int i = 0; i < BATCHES * BATCH; i++)
                for (int p = 0; p < plane; p++)
                    sum += values[((size_t)i * c + ch) * plane + p];
            const double mean = sum / count;
            for (int i = 0; i < BATCHES * BATCH; i++)
                for (int p = 0; p < plane; p++) {
                    const double d = values[((size_t)i * c + ch) * plane + p] - mean;
                    sq += d * d;
                }
            mean_sq += mean * mean;
            var += sq / count;
        }
        mean_sq /= c;
        var /= c;
        free(values);
        ck_assert_msg(fabs(v.mean_sq[s] - mean_sq) <= 1e-9 + 1e-7 * mean_sq,
                      "%s: mean^2 probe %.10g, direct %.10g", v.layers[s]->name, v.mean_sq[s],
                      mean_sq);
        ck_assert_msg(fabs(v.var[s] - var) <= 1e-7 * var, "%s: variance probe %.10g, direct %.10g",
                      v.layers[s]->name, v.var[s], var);
        ck_assert_msg(var > 1e-3, "%s: a variance of %g tells nothing", v.layers[s]->name, var);
    }
    /* the unnormalized stream's mean^2 grows with depth: the plot's point */
    if (kind == NL_NORM_NONE)
        ck_assert_msg(v.mean_sq[v.n_sites - 1] > v.mean_sq[0], "mean^2 %g at the last block, "
                      "%g at the first", v.mean_sq[v.n_sites - 1], v.mean_sq[0]);
    nl_sigprop_free(&v);
    nl_model_free(m);
}
END_TEST

/* which layers count as normalizers: the names the architectures give */
START_TEST(test_norm_layer_names)
{
    static const struct {
        const char *name;
        bool norm;
    } cases[] = {{"norm1", true},           {"stem.norm", true},
                 {"stage2.block1.shortcut.norm", true}, {"final_norm", true},
                 {"blocks.3.norm2_out", true}, {"blocks.0.attn.q_norm", true},
                 {"norm1_noise", false},    {"stage1.block1.add", false},
                 {"layernorm", false},      {"conv1", false},
                 {"normal", false}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nl_layer l = {0};
        snprintf(l.name, sizeof l.name, "%s", cases[k].name);
        ck_assert_msg(nl_sigprop_is_norm_layer(&l) == cases[k].norm, "%s", cases[k].name);
    }
}
END_TEST

/* The probe only observes: metrics.csv as without it (times aside), one
 * row per site and statistic at step 0; models with nothing to measure are
 * refused before anything is written; an MLP with batch norm has its
 * normalizer sites. */
START_TEST(test_probe_leaves_training_alone)
{
    tu_tmp_make("sigprop");
    tu_tmp_write("r.yaml", "data: {dataset: synthetic, shape: [3, 8, 8], classes: 3, "
                           "train_size: 128, test_size: 64}\n"
                           "model: {arch: resnet, widths: [4, 8], blocks_per_stage: 2}\n"
                           "train: {batch_size: 16, steps: 12, eval_every: 6, log_every: 4}\n"
                           "threads: 1\n");
    ck_assert_int_eq(tu_normlab("run r.yaml --out plain --quiet"), 0);
    ck_assert_int_eq(tu_normlab("run r.yaml --out probed --quiet "
                                "--set train.log.signal_propagation=true "
                                "--set train.log.signal_propagation_batches=3"), 0);
    char *a = tu_metrics_without_time("plain"), *b = tu_metrics_without_time("probed");
    ck_assert_msg(!strcmp(a, b), "the probe changed training:\n%s\nvs\n%s", a, b);
    free(a);
    free(b);
    char *series = tu_tmp_read("probed/series.csv");
    int stream = 0, norm_in = 0;
    for (const char *p = series; (p = strstr(p, "\n0,sigprop_var,")); p++)
        stream++;
    for (const char *p = series; (p = strstr(p, "\n0,sigprop_norm_in_mean_sq,")); p++)
        norm_in++;
    /* post-activation: stem.norm, two per block, the projection's */
    ck_assert_msg(stream == 4 && norm_in == 1 + 2 * 4 + 1, "%d stream, %d normalizer rows:\n%s",
                  stream, norm_in, series);
    ck_assert_msg(strstr(series, "\n0,sigprop_mean_sq,3,stage2.block2.add,"), "%s", series);
    free(series);

    /* skip_init and the probe on an unnormalized network: trains */
    ck_assert_int_eq(tu_normlab("run r.yaml --out skip --quiet --set model.norm.type=none "
                                "--set model.skip_init=true "
                                "--set train.log.signal_propagation=true"), 0);
    char *skip = tu_tmp_read("skip/series.csv");
    ck_assert_msg(!strstr(skip, "norm_in"), "no normalizer, no normalizer rows:\n%s", skip);
    free(skip);

    tu_tmp_write("m.yaml", "data: {dataset: synthetic, shape: [6], classes: 3, "
                           "train_size: 64, test_size: 32}\n"
                           "model: {arch: mlp, widths: [8, 8]}\n"
                           "train: {batch_size: 16, steps: 2}\nthreads: 1\n");
    ck_assert_int_eq(tu_normlab("run m.yaml --out mlp --quiet "
                                "--set train.log.signal_propagation=true"), 0);
    char *mlp = tu_tmp_read("mlp/series.csv");
    ck_assert_msg(strstr(mlp, "\n0,sigprop_norm_in_var,1,norm2,") && !strstr(mlp, ",sigprop_var,"),
                  "%s", mlp);
    free(mlp);
    ck_assert_int_eq(tu_normlab("run m.yaml --out refused --quiet --set model.norm.type=none "
                                "--set train.log.signal_propagation=true"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "train.log.signal_propagation: true: the model has neither a "
                              "residual block nor a normalizer"), "%s", out);
    free(out);
    char path[600];
    snprintf(path, sizeof path, "%s/refused", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "the refused run wrote its directory");
    /* a token model: refused, nothing written */
    ck_assert_int_eq(tu_normlab("run " NORMLAB_SOURCE_DIR "/configs/lm-synthetic.yaml --out lm "
                                "--quiet --set train.log.signal_propagation=true"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "this model reads token ids"), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/lm", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "the refused run wrote its directory");
    /* SkipInit is a ResNet key */
    ck_assert_int_eq(tu_normlab("run m.yaml --out refused --quiet --set model.skip_init=true"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "model.skip_init"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* alpha = 0: every block with an identity shortcut passes its input on
 * unchanged; the gains are parameters named after the blocks */
START_TEST(test_skip_init_starts_as_identity)
{
    nl_model_spec spec;
    resnet_spec(&spec, NL_NORM_NONE, NL_PLACE_PRE);
    spec.skip_init = true;
    nl_model *m = build(&spec, BATCH);
    float x[BATCH * C * H * W];
    int32_t y[BATCH] = {0};
    tu_fill_normal(x, sizeof x / sizeof x[0], 3, 0.0f, 1.0f);
    nl_model_load_batch(m, x, y, BATCH);
    nl_model_forward(m, BATCH, NL_MODE_TRAIN);
    static const char *const blocks[] = {"stage1.block1", "stage1.block2", "stage2.block1",
                                         "stage2.block2"};
    for (int k = 0; k < 4; k++) {
        char name[96];
        snprintf(name, sizeof name, "%s.skip_gain", blocks[k]);
        const nl_param *gain = nl_model_param(m, name);
        ck_assert_msg(gain && gain->count == 1 && gain->data[0] == 0.0f, "%s", name);
        snprintf(name, sizeof name, "%s.add", blocks[k]);
        const nl_layer *add = layer_named(m, name);
        ck_assert_ptr_nonnull(add);
        const size_t count = BATCH * nl_shape_per_sample(add->out->shape);
        ck_assert_msg(!memcmp(add->out->data, add->in[1]->data, count * sizeof(float)),
                      "%s: alpha 0 is not the identity", name);
    }
    nl_model_free(m);
}
END_TEST

/* central differences of every parameter, the gains at a value away from
 * 0 so that the branches' weights have gradients too; loop: pre- and
 * post-activation */
START_TEST(test_skip_init_gradients)
{
    nl_model_spec spec;
    resnet_spec(&spec, NL_NORM_NONE, _i == 0 ? NL_PLACE_PRE : NL_PLACE_POST);
    spec.skip_init = true;
    spec.skip_init_alpha = 0.7f;
    spec.activation = NL_ACT_TANH; /* smooth: central differences exact up to O(h^2) */
    enum { N = 5 };
    nl_model *m = build(&spec, N);
    float x[N * C * H * W];
    int32_t y[N] = {1, 0, 2, 2, 1};
    tu_fill_normal(x, sizeof x / sizeof x[0], 17, 0.2f, 1.0f);
    nl_model_load_batch(m, x, y, N);
    int gains = 0;
    for (int i = 0; i < m->n_params; i++)
        if (strstr(m->params[i]->name, ".skip_gain")) {
            m->params[i]->data[0] = 0.4f + 0.2f * (float)gains++;
        }
    ck_assert_int_eq(gains, 4);
    tu_model_mean_loss(m, N);
    nl_model_backward(m, N);
    const float h = 1e-2f;
    for (int i = 0; i < m->n_params; i++) {
        double max_grad;
        const double max_diff = tu_param_fd_error(m, N, i, 100 + i, h, &max_grad);
        ck_assert_msg(max_diff <= 1e-2 * max_grad + 2e-5, "d %s: |fd - backward| %.3g, max "
                      "|grad| %.3g", m->params[i]->name, max_diff, max_grad);
    }
    nl_model_free(m);
}
END_TEST

/* the signal_propagation plot kind on a sweep of three normalizers: every
 * residual-stream row of each run's series.csv is a point of its variant's
 * line (one seed: mean = min = max = the value) at its depth; a sweep
 * without the probe is refused, naming the key */
START_TEST(test_plot_has_every_row)
{
    tu_tmp_make("sigprop-plot");
    tu_tmp_write("s.yaml", "name: sp\n"
                           "base:\n"
                           "  data: {dataset: synthetic, shape: [3, 8, 8], classes: 3, "
                           "train_size: 64, test_size: 32}\n"
                           "  model: {arch: resnet, widths: [4, 8], blocks_per_stage: 2, "
                           "norm: {placement: pre, groups: 2}}\n"
                           "  train: {batch_size: 16, steps: 1, log.signal_propagation: true}\n"
                           "  threads: 1\n"
                           "grid:\n"
                           "  model.norm.type: [none, batch, group]\n"
                           "plots:\n"
                           "  - {kind: signal_propagation, color: model.norm.type}\n");
    ck_assert_int_eq(tu_normlab("sweep s.yaml -j 1 --out sw"), 0);
    char *csv = tu_tmp_read("sw/plots/signal_propagation.csv");
    static const char header[] = "stat,variant,label,depth,name,mean,min,max,n\n";
    ck_assert_msg(!strncmp(csv, header, sizeof header - 1), "%s", csv);
    static const char *const variants[] = {"none", "batch", "group"};
    int points = 0;
    for (int v = 0; v < 3; v++) {
        char path[128];
        snprintf(path, sizeof path, "sw/runs/type-%s/series.csv", variants[v]);
        char *series = tu_tmp_read(path);
        for (const char *line = strchr(series, '\n'); line && line[1];
             line = strchr(line + 1, '\n')) {
            int depth;
            char kind[64], name[128];
            double value;
            if (sscanf(line + 1, "0,%63[^,],%d,%127[^,],%lf", kind, &depth, name, &value) != 4 ||
                (strcmp(kind, "sigprop_mean_sq") && strcmp(kind, "sigprop_var")))
                continue;
            char want[300];
            snprintf(want, sizeof want, "\n%s,%d,%s,%d,%s,", strcmp(kind, "sigprop_var") ? "mean_sq" : "var", v,
                     variants[v], depth, name);
            const char *row = strstr(csv, want);
            ck_assert_msg(row, "no point %s in\n%s", want + 1, csv);
            const double mean = strtod(row + strlen(want), NULL);
            ck_assert_msg(fabs(mean - value) <= 1e-5 * fabs(value), "%s: %g, series.csv %g",
                          want + 1, mean, value);
            points++;
        }
        free(series);
    }
    ck_assert_msg(points == 3 * 2 * 4, "%d points", points);
    int lines = 0;
    for (const char *p = csv; (p = strchr(p, '\n')); p++)
        lines++;
    ck_assert_int_eq(lines, points + 1);
    free(csv);
    ck_assert_int_eq(tu_normlab("sweep s.yaml -j 1 --out plain "
                                "--set train.log.signal_propagation=false"), 0);
    ck_assert_int_eq(tu_normlab("plot plain --kind signal_propagation"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "set train.log.signal_propagation: true"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* the gains travel by name: a run started from a SkipInit run's final model
 * (init.from) evaluates at step 0 as the source did at its end, which it
 * could not with its gains back at 0 */
START_TEST(test_skip_init_gains_carry_over)
{
    tu_tmp_make("sigprop-init");
    tu_tmp_write("r.yaml", "data: {dataset: synthetic, shape: [3, 8, 8], classes: 3, "
                           "train_size: 128, test_size: 64}\n"
                           "model: {arch: resnet, widths: [4, 8], blocks_per_stage: 2, "
                           "norm: {type: none, placement: pre}, skip_init: true}\n"
                           "train: {batch_size: 16, steps: 8, eval_every: 8, log_every: 4, "
                           "optimizer: {lr: 0.1}}\n"
                           "threads: 1\n");
    ck_assert_int_eq(tu_normlab("run r.yaml --out source --quiet"), 0);
    ck_assert_int_eq(tu_normlab("run r.yaml --out tuned --quiet --set init.from=source "
                                "--set train.steps=1"), 0);
    char *a = tu_tmp_read("source/metrics.csv"), *b = tu_tmp_read("tuned/metrics.csv");
    const char *end = strstr(a, "\n8,");
    while (end && strncmp(strchr(end + 1, ',') + 1, "1.0000,test,", 12) != 0)
        end = strstr(end + 1, "\n8,");
    const char *start = strstr(b, "\n0,0.0000,test,");
    ck_assert_msg(end && start, "%s\n%s", a, b);
    /* step,epoch,split,loss,accuracy: the loss and accuracy fields */
    char want[64], got[64];
    sscanf(strstr(end, ",test,") + 6, "%63[^,]", want);
    sscanf(strstr(start, ",test,") + 6, "%63[^,]", got);
    ck_assert_msg(!strcmp(want, got), "source's final test loss %s, the tuned run's first %s",
                  want, got);
    /* and training moved it: the comparison can tell a fresh start */
    char first[64];
    sscanf(strstr(strstr(a, "\n0,0.0000,test,"), ",test,") + 6, "%63[^,]", first);
    ck_assert_msg(strcmp(first, want) != 0, "the source's test loss did not move: %s", first);
    free(a);
    free(b);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sigprop");
    TCase *tc = tcase_create("sigprop");
    tcase_add_loop_test(tc, test_probe_is_the_direct_computation, 0, 3);
    tcase_add_test(tc, test_norm_layer_names);
    tcase_add_test(tc, test_probe_leaves_training_alone);
    tcase_add_test(tc, test_skip_init_starts_as_identity);
    tcase_add_loop_test(tc, test_skip_init_gradients, 0, 2);
    tcase_add_test(tc, test_plot_has_every_row);
    tcase_add_test(tc, test_skip_init_gains_carry_over);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
