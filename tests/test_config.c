/* Configs: defaults, good configs, a table of bad configs and bad overrides
 * (each error must name the line and say what is accepted), overrides,
 * origins, the resolved-config round trip, the repository's configs and the
 * key table in configs/README.md. */
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/ident.h"
#include "config/config.h"
#include "norm/formula.h"
#include "config/flat.h"
#include "config/schema.h"
#include "config/yamldoc.h"
#include "model/model.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "sweep/sweep.h"
#include "testutil.h"

#define SRC "bad.yaml"

static nl_config *cfg_new(void)
{
    nl_config *cfg = calloc(1, sizeof *cfg);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

/* loads text that must be good */
static nl_config *load_ok(const char *yaml, const char *const *overrides, int n)
{
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    nl_code code = nl_config_load_string(yaml, "good.yaml", overrides, n, cfg, &err);
    ck_assert_msg(code == NL_OK, "expected OK, got %s: %s\n--- config:\n%s", nl_code_name(code),
                  err.msg, yaml);
    return cfg;
}

static void assert_contains(const char *msg, const char *fragment, const char *what)
{
    if (fragment)
        ck_assert_msg(strstr(msg, fragment) != NULL,
                      "%s: message lacks '%s'\n  message: %s", what, fragment, msg);
}

static void round_trip(const nl_config *cfg, const char *what);

/* ---- defaults ---- */

START_TEST(test_defaults)
{
    nl_config *cfg = load_ok("{}\n", NULL, 0);
    ck_assert_str_eq(cfg->name, "good");
    ck_assert_str_eq(cfg->source, "good.yaml");
    ck_assert_uint_eq(cfg->seed, 1);
    ck_assert_int_eq(cfg->device, NL_DEVICE_CPU);
    ck_assert_int_eq(cfg->threads, 0);
    ck_assert_int_eq(cfg->n_origins, 0);
    ck_assert_int_eq(cfg->n_warnings, 0);

    const nl_data_spec *d = &cfg->data;
    ck_assert_int_eq(d->kind, NL_DATA_SYNTHETIC);
    ck_assert_str_eq(d->path, "");
    ck_assert_int_eq(d->train_size, 0);
    ck_assert_int_eq(d->test_size, 0);
    ck_assert(d->standardize);
    ck_assert_int_eq(d->synthetic_c, 1);
    ck_assert_int_eq(d->synthetic_h, 28);
    ck_assert_int_eq(d->synthetic_w, 28);
    ck_assert_int_eq(d->synthetic_classes, 10);
    ck_assert_uint_eq(d->seed, 1);

    const nl_model_spec *m = &cfg->model;
    ck_assert_int_eq(m->arch, NL_ARCH_MLP);
    ck_assert_int_eq(m->n_widths, 2);
    ck_assert_int_eq(m->widths[0], 256);
    ck_assert_int_eq(m->widths[1], 256);
    ck_assert_int_eq(m->activation, NL_ACT_RELU);
    ck_assert_int_eq(m->pool, NL_POOL_MAX);
    ck_assert_int_eq(m->convs_per_stage, 1);
    ck_assert_int_eq(m->blocks_per_stage, 1);
    ck_assert_int_eq(m->stem_width, 0);
    ck_assert_int_eq(m->bias, -1);
    ck_assert_int_eq(m->init, NL_INIT_AUTO);
    ck_assert_int_eq(m->in_c, 1);
    ck_assert_int_eq(m->in_h, 28);
    ck_assert_int_eq(m->in_w, 28);
    ck_assert_int_eq(m->classes, 10);
    ck_assert_int_eq(m->norm.kind, NL_NORM_BATCH);
    ck_assert_int_eq(m->norm.placement, NL_PLACE_BEFORE);
    ck_assert_int_eq(m->norm.groups, 8);
    ck_assert_float_eq(m->norm.eps, 1e-5f);
    ck_assert_float_eq(m->norm.momentum, 0.1f);
    ck_assert(!m->norm.cumulative);
    ck_assert(m->norm.affine);
    ck_assert(m->norm.track_running_stats);

    const nl_train_spec *t = &cfg->train;
    ck_assert_int_eq(t->batch_size, 32);
    ck_assert_int_eq(t->eval_batch_size, 500);
    ck_assert_int_eq(t->epochs, 1);
    ck_assert_int_eq(t->steps, 0);
    ck_assert_float_eq(t->optimizer.lr, 0.05f);
    ck_assert_float_eq(t->optimizer.momentum, 0.9f);
    ck_assert_float_eq(t->optimizer.dampening, 0.0f);
    ck_assert(!t->optimizer.nesterov);
    ck_assert_float_eq(t->optimizer.weight_decay, 0.0f);
    ck_assert(t->optimizer.decay_norm_and_bias);
    ck_assert_int_eq(t->schedule.kind, NL_SCHED_CONSTANT);
    ck_assert_int_eq(t->schedule.warmup_steps, 0);
    ck_assert_int_eq(t->schedule.n_milestones, 0);
    ck_assert_float_eq(t->schedule.gamma, 0.1f);
    ck_assert_float_eq(t->schedule.min_lr, 0.0f);
    ck_assert_int_eq(t->eval_every, 200);
    ck_assert_int_eq(t->log_every, 20);
    ck_assert_float_eq(t->diverge_loss, 1000.0f);
    ck_assert(t->eval_trainmode);
    ck_assert_str_eq(t->trace.activation, "");
    ck_assert_int_eq(t->trace.unit, 0);
    ck_assert_int_eq(t->trace.every, 50);
    ck_assert_int_eq(t->trace.n_percentiles, 3);
    ck_assert_float_eq(t->trace.percentiles[0], 15.0f);
    ck_assert_float_eq(t->trace.percentiles[1], 50.0f);
    ck_assert_float_eq(t->trace.percentiles[2], 85.0f);
    ck_assert_int_eq(t->trace.samples, 1000);
    ck_assert_ptr_null(nl_config_origin_of(cfg, "train.batch_size"));
    free(cfg);

    /* defaults that depend on other keys */
    cfg = load_ok("model: {arch: resnet, widths: [8, 16]}\n", NULL, 0);
    ck_assert_int_eq(cfg->model.norm.placement, NL_PLACE_POST);
    free(cfg);
    cfg = load_ok("model: {arch: cnn, widths: [8], norm: {type: instance}}\n", NULL, 0);
    ck_assert(!cfg->model.norm.track_running_stats);
    ck_assert(cfg->model.norm.affine);
    free(cfg);
    cfg = load_ok("data: {dataset: fashion-mnist}\n", NULL, 0);
    ck_assert_str_eq(cfg->data.path, nl_data_default_path(NL_DATA_FASHION_MNIST));
    ck_assert_int_eq(cfg->model.in_c, 1);
    ck_assert_int_eq(cfg->model.in_h, 28);
    ck_assert_int_eq(cfg->model.classes, 10);
    free(cfg);
    cfg = load_ok("data: {dataset: cifar10, path: /tmp/cifar}\nmodel: {arch: cnn, widths: [8]}\n",
                  NULL, 0);
    ck_assert_int_eq(cfg->model.in_c, 3);
    ck_assert_int_eq(cfg->model.in_h, 32);
    ck_assert_int_eq(cfg->model.in_w, 32);
    free(cfg);
    cfg = load_ok("seed: 7\ndata: {shape: [12], classes: 3}\n", NULL, 0);
    ck_assert_uint_eq(cfg->data.seed, 7); /* the data follow the top-level seed */
    ck_assert_int_eq(cfg->model.in_c, 12);
    ck_assert_int_eq(cfg->model.in_h, 1);
    ck_assert_int_eq(cfg->model.classes, 3);
    free(cfg);
}
END_TEST

START_TEST(test_hand_built_defaults_validate)
{
    nl_config *cfg = cfg_new();
    nl_config_defaults(cfg);
    nl_error err = {0};
    ck_assert_msg(nl_config_validate(cfg, &err) == NL_OK, "%s", err.msg);
    ck_assert_str_eq(cfg->name, "run");

    /* validate re-checks ranges of configs filled in by code */
    cfg->train.batch_size = 0;
    nl_error_clear(&err);
    ck_assert_int_eq(nl_config_validate(cfg, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.msg, "train.batch_size: 0 is out of range; accepted: an integer in [1, 1048576]");
    ck_assert_str_eq(err.key, "train.batch_size");
    cfg->train.batch_size = 16;
    cfg->model.norm.eps = -1;
    nl_error_clear(&err);
    ck_assert_int_eq(nl_config_validate(cfg, &err), NL_ERR_CONFIG);
    assert_contains(err.msg, "model.norm.eps: -1 is out of range; accepted: a number > 0", "eps");
    cfg->model.norm.eps = 1e-5f;
    cfg->train.steps = 10; /* epochs is 1 too */
    nl_error_clear(&err);
    ck_assert_int_eq(nl_config_validate(cfg, &err), NL_ERR_CONFIG);
    assert_contains(err.msg, "give exactly one", "epochs and steps");
    cfg->train.epochs = 0;
    cfg->data.kind = NL_DATA_CIFAR10;
    nl_error_clear(&err);
    ck_assert_int_eq(nl_config_validate(cfg, &err), NL_OK);
    ck_assert_int_eq(cfg->model.in_c, 3); /* derived from the dataset */
    free(cfg);
}
END_TEST

/* ---- good configs ---- */

static const char *const full_config =
    "# every key, none at its default\n"
    "name: full-run_1\n"
    "seed: 123\n"
    "device: cuda\n"
    "threads: 2\n"
    "data:\n"
    "  dataset: synthetic\n"
    "  train_size: 1000\n"
    "  test_size: 200\n"
    "  standardize: false\n"
    "  shape: [3, 16, 16]\n"
    "  classes: 5\n"
    "model:\n"
    "  arch: resnet\n"
    "  widths: [8, 16]\n"
    "  activation: tanh\n"
    "  blocks_per_stage: 2\n"
    "  stem_width: 4\n"
    "  bias: true\n"
    "  init: gaussian\n"
    "  init_std: 0.02\n"
    "  norm:\n"
    "    type: group\n"
    "    placement: pre\n"
    "    groups: 4\n"
    "    eps: 1e-3\n"
    "    affine: false\n"
    "train:\n"
    "  batch_size: 16\n"
    "  eval_batch_size: 100\n"
    "  steps: 300\n"
    "  optimizer:\n"
    "    type: sgd\n"
    "    lr: 0.2\n"
    "    momentum: 0.5\n"
    "    dampening: 0\n"
    "    nesterov: true\n"
    "    weight_decay: 5e-4\n"
    "    decay_norm_and_bias: false\n"
    "  schedule:\n"
    "    type: step\n"
    "    warmup_steps: 10\n"
    "    milestones: [100, 200]\n"
    "    gamma: 0.5\n"
    "  eval_every: 50\n"
    "  log_every: 5\n"
    "  diverge_loss: 50\n"
    "  eval_trainmode: false\n"
    "  trace:\n"
    "    activation: stage1.block1.norm1\n"
    "    unit: 3\n"
    "    every: 10\n"
    "    percentiles: [2.5, 50, 97.5]\n"
    "    samples: 100\n";

START_TEST(test_full_config)
{
    nl_config *cfg = load_ok(full_config, NULL, 0);
    ck_assert_str_eq(cfg->name, "full-run_1");
    ck_assert_uint_eq(cfg->seed, 123);
    ck_assert_uint_eq(cfg->data.seed, 123);
    ck_assert_int_eq(cfg->device, NL_DEVICE_CUDA);
    ck_assert_int_eq(cfg->threads, 2);
    ck_assert_int_eq(cfg->data.train_size, 1000);
    ck_assert_int_eq(cfg->data.test_size, 200);
    ck_assert(!cfg->data.standardize);
    ck_assert_int_eq(cfg->model.in_c, 3);
    ck_assert_int_eq(cfg->model.in_h, 16);
    ck_assert_int_eq(cfg->model.in_w, 16);
    ck_assert_int_eq(cfg->model.classes, 5);
    ck_assert_int_eq(cfg->model.arch, NL_ARCH_RESNET);
    ck_assert_int_eq(cfg->model.activation, NL_ACT_TANH);
    ck_assert_int_eq(cfg->model.blocks_per_stage, 2);
    ck_assert_int_eq(cfg->model.stem_width, 4);
    ck_assert_int_eq(cfg->model.bias, 1);
    ck_assert_int_eq(cfg->model.init, NL_INIT_GAUSSIAN);
    ck_assert_float_eq(cfg->model.init_std, 0.02f);
    ck_assert_int_eq(cfg->model.norm.kind, NL_NORM_GROUP);
    ck_assert_int_eq(cfg->model.norm.placement, NL_PLACE_PRE);
    ck_assert_int_eq(cfg->model.norm.groups, 4);
    ck_assert_float_eq(cfg->model.norm.eps, 1e-3f);
    ck_assert(!cfg->model.norm.affine);
    ck_assert_int_eq(cfg->train.batch_size, 16);
    ck_assert_int_eq(cfg->train.eval_batch_size, 100);
    ck_assert_int_eq(cfg->train.steps, 300);
    ck_assert_int_eq(cfg->train.epochs, 0);
    ck_assert_float_eq(cfg->train.optimizer.lr, 0.2f);
    ck_assert_float_eq(cfg->train.optimizer.momentum, 0.5f);
    ck_assert(cfg->train.optimizer.nesterov);
    ck_assert_float_eq(cfg->train.optimizer.weight_decay, 5e-4f);
    ck_assert(!cfg->train.optimizer.decay_norm_and_bias);
    ck_assert_int_eq(cfg->train.schedule.kind, NL_SCHED_STEP);
    ck_assert_int_eq(cfg->train.schedule.warmup_steps, 10);
    ck_assert_int_eq(cfg->train.schedule.n_milestones, 2);
    ck_assert_int_eq(cfg->train.schedule.milestones[1], 200);
    ck_assert_float_eq(cfg->train.schedule.gamma, 0.5f);
    ck_assert_int_eq(cfg->train.eval_every, 50);
    ck_assert_int_eq(cfg->train.log_every, 5);
    ck_assert_float_eq(cfg->train.diverge_loss, 50.0f);
    ck_assert(!cfg->train.eval_trainmode);
    ck_assert_str_eq(cfg->train.trace.activation, "stage1.block1.norm1");
    ck_assert_int_eq(cfg->train.trace.unit, 3);
    ck_assert_int_eq(cfg->train.trace.every, 10);
    ck_assert_int_eq(cfg->train.trace.n_percentiles, 3);
    ck_assert_float_eq(cfg->train.trace.percentiles[0], 2.5f);
    ck_assert_int_eq(cfg->train.trace.samples, 100);
    ck_assert_int_eq(cfg->n_warnings, 0);
    free(cfg);
}
END_TEST

START_TEST(test_good_variants)
{
    static const struct {
        const char *yaml;
    } good[] = {
        /* momentum: cumulative, null, empty, a number */
        {"model: {norm: {momentum: cumulative}}\n"},
        {"model: {norm: {momentum: null}}\n"},
        {"model:\n  norm:\n    momentum:\n"},
        {"model: {norm: {momentum: 0}}\n"},
        {"model: {norm: {momentum: 1}}\n"},
        /* booleans and bias spellings */
        {"data: {standardize: False}\nmodel: {bias: auto}\n"},
        {"model: {bias: false, norm: {affine: TRUE}}\n"},
        /* a section left empty (every key commented out) */
        {"model:\n  # arch: cnn\ntrain:\n"},
        /* anchors and aliases */
        {"model: {widths: &w [64, 32]}\n"},
        /* feature vectors, images */
        {"data: {shape: [16], classes: 2}\n"},
        {"data: {shape: [3, 8, 8]}\nmodel: {arch: cnn, widths: [4]}\n"},
        /* instance norm with running statistics, layer norm on an mlp */
        {"model: {arch: cnn, widths: [8], norm: {type: instance, track_running_stats: true}}\n"},
        {"model: {norm: {type: layer, placement: after}}\n"},
        {"model: {norm: {type: none}}\n"},
        /* cnn details */
        {"model: {arch: cnn, widths: [8, 16], pool: avg, convs_per_stage: 2}\n"},
        /* cosine with min_lr, nesterov */
        {"train: {schedule: {type: cosine, min_lr: 0.001}, optimizer: {nesterov: true}}\n"},
        /* YAML 1.2 documents with an explicit start and end */
        {"---\nseed: 3\n...\n"},
        /* quoted strings */
        {"name: 'quoted'\ndata: {dataset: mnist, path: \"/tmp/a b/c\"}\n"},
        /* CRLF line ends */
        {"seed: 4\r\ntrain:\r\n  batch_size: 8\r\n"},
        /* two values per normalized set, one short of the degenerate
         * single value the bad cases refuse */
        {"model: {widths: [32], norm: {type: group, groups: 16}}\n"},
        {"model: {widths: [2], norm: {type: layer}}\n"},
        {"model: {widths: [8, 2], norm: {type: rms}}\n"},
        {"train: {batch_size: 2}\n"},
        {"model: {norm: {type: ghost_batch, virtual_batch: 2}}\n"},
        /* one channel per group is fine where each channel has a map */
        {"data: {shape: [3, 8, 8]}\nmodel: {arch: cnn, widths: [4], norm: {type: group, groups: 4}}\n"},
        {"data: {shape: [3, 8, 8]}\nmodel: {arch: cnn, widths: [1, 1, 1], norm: {type: layer}}\n"},
        {"data: {shape: [3, 8, 8]}\nmodel: {arch: cnn, widths: [4, 4, 4], norm: {type: frn}}\n"},
        {"data: {dataset: synthetic_text}\nmodel: {arch: lm, d_model: 2, heads: 1, norm: {type: layer}}\n"},
        {"data: {dataset: synthetic_text}\nmodel: {arch: lm, d_model: 16, heads: 8, qk_norm: true, "
         "norm: {type: layer}}\n"},
        {"data: {dataset: synthetic_text}\nmodel: {arch: lm, d_model: 16, heads: 4, norm: {type: "
         "group, groups: 8}}\n"},
        {"data: {dataset: synthetic_text}\nmodel: {arch: lm, qk_norm: true, norm: {type: dyt, "
         "placement: none}}\n"},
        /* an evaluation batch of 1 where evaluation's sets do not shrink
         * with the batch: running statistics, per-sample statistics, a
         * batch's statistics over an image's pixels */
        {"train: {eval_batch_size: 1}\nmodel: {norm: {type: custom, reduce: [batch], eval_stats: running}}\n"},
        {"train: {eval_batch_size: 1}\nmodel: {norm: {type: custom, reduce: [channels]}}\n"},
        {"train: {eval_batch_size: 1}\nmodel: {norm: {type: batch}}\n"},
        {"data: {shape: [3, 8, 8]}\ntrain: {eval_batch_size: 1}\nmodel: {arch: cnn, widths: [4], norm: {type: "
         "batch, track_running_stats: false}}\n"},
        /* batch norm over one sample of many tokens */
        {"data: {dataset: synthetic_text}\nmodel: {arch: lm}\ntrain: {batch_size: 1}\n"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        free(load_ok(good[i].yaml, NULL, 0));
    nl_config *cfg = load_ok("model:\n  norm:\n    momentum:\n", NULL, 0);
    ck_assert(cfg->model.norm.cumulative);
    free(cfg);
    cfg = load_ok("model: {bias: false}\n", NULL, 0);
    ck_assert_int_eq(cfg->model.bias, 0);
    free(cfg);
    /* feature vectors above the images' 16 channels (issue 29: [32] was refused) */
    for (int d = 17; d <= 65536; d *= 2) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "data: {shape: [%d], classes: 2}\nmodel: {widths: [4]}\n", d);
        cfg = load_ok(yaml, NULL, 0);
        ck_assert_int_eq(cfg->model.in_c, d);
        round_trip(cfg, "feature vectors");
        free(cfg);
    }
    cfg = load_ok("data: {shape: [16], classes: 2}\n", NULL, 0);
    ck_assert_int_eq(cfg->model.in_c, 16);
    ck_assert_int_eq(cfg->model.in_h, 1);
    ck_assert_int_eq(cfg->model.in_w, 1);
    ck_assert_int_eq(cfg->model.classes, 2);
    free(cfg);
}
END_TEST

/* ---- bad configs ---- */

typedef struct {
    const char *yaml;
    const char *where; /* "bad.yaml:3:11: " or another fragment with the position */
    const char *what;  /* the rest of the message, or a fragment of it */
} bad_case;

static const bad_case bad_cases[] = {
    /* unknown keys */
    {"model:\n  norm:\n    tpye: batch\n", SRC ":3:5: model.norm.tpye: ",
     "unknown key (did you mean 'type'?); accepted in model.norm: type | expr | params | name | placement | reduce | "
     "center | scale | train_stats | eval_stats | groups | eps | momentum | affine | "
     "track_running_stats"},
    {"seed: 1\nbatch_size: 64\n", SRC ":2:1: batch_size: ",
     "unknown key (did you mean 'train.batch_size'?); accepted at the top level: name | seed | "
     "device | threads | flush_subnormals | data | model | train"},
    {"train:\n  lr: 0.1\n", SRC ":2:3: train.lr: ", "did you mean 'train.optimizer.lr'?"},
    {"foo: 1\n", SRC ":1:1: foo: ", "unknown key; accepted at the top level"},
    {"data:\n  seed: 3\n", SRC ":2:3: data.seed: ", "not a key: the synthetic data and the data "
     "order come from the top-level seed"},
    {"model:\n  classes: 3\n", SRC ":2:3: model.classes: ", "not a key: the class count comes "
     "from the dataset"},
    {"model:\n  widths: [64]\n  widht: 3\n", SRC ":3:3: model.widht: ", "did you mean 'widths'?"},
    /* wrong types */
    {"train:\n  batch_size: abc\n", SRC ":2:15: train.batch_size: ",
     "expected an integer, got 'abc'; accepted: an integer in [1, 1048576]"},
    {"train:\n  batch_size: 3.5\n", SRC ":2:15: train.batch_size: ",
     "3.5 is not an integer; accepted: an integer in [1, 1048576]"},
    {"train:\n  batch_size: \"32\"\n", SRC ":2:15: train.batch_size: ",
     "expected an integer, got the quoted string \"32\" (remove the quotes)"},
    {"train:\n  steps: 1e4\n", SRC ":2:10: train.steps: ",
     "1e4 is not an integer (YAML reads it as a float); write 10000"},
    {"train:\n  batch_size: [1]\n", SRC ":2:15: train.batch_size: ",
     "expected an integer, got a list; accepted: an integer in [1, 1048576]"},
    {"train:\n  batch_size:\n", SRC ":2:14: train.batch_size: ",
     "expected an integer, got an empty value (null)"},
    {"seed: {a: 1}\n", SRC ":1:7: seed: ", "expected an integer, got a mapping"},
    /* the whole message on a section whose keys stay; the model's keys
     * grow with its architectures, so their case checks the start */
    {"data:\n  markov: 3\n", SRC ":2:11: data.markov: ",
     "expected a mapping of data.markov keys (vocab, order, branching, length), got '3'"},
    {"model: mlp\n", SRC ":1:8: model: ", "expected a mapping of model keys (arch, widths, "},
    {"model:\n  weight_standardization_eps: 1.0e-5\n", SRC ":2:31: model.weight_standardization_eps: ",
     "applies only when model.weight_standardization is true, but model.weight_standardization "
     "is 'false' (default)"},
    {"train:\n  optimizer: sgd\n", SRC ":2:14: train.optimizer: ", "expected a mapping of "
     "train.optimizer keys"},
    {"train:\n  optimizer:\n    lr: fast\n", SRC ":3:9: train.optimizer.lr: ",
     "expected a number, got 'fast'; accepted: a number > 0"},
    {"model:\n  norm:\n    affine: yes\n", SRC ":3:13: model.norm.affine: ",
     "'yes' is not a boolean here (YAML 1.1's yes/no/on/off are not accepted); accepted: true | "
     "false"},
    /* keys a normalizer's registry row does not list: dyt has no statistics
     * to add eps to, none has no scale or shift */
    {"model:\n  norm:\n    type: dyt\n    eps: 0.001\n", SRC ":4:10: model.norm.eps: ",
     ", but model.norm.type is 'dyt' (" SRC ":3:11); remove eps or change model.norm.type"},
    /* a formula takes the kind's keys its text reads, and refuses the
     * others as a built-in does */
    {"model:\n  norm:\n    type: expr\n    expr: \"x / sqrt(var(x, [channels]) + 1e-5)\"\n"
     "    eps: 0.001\n",
     SRC ":5:10: model.norm.eps: ",
     ", but model.norm.expr is '\"x / sqrt(var(x, [channels]) + 1e-5)\"' (" SRC ":4:11): a "
     "formula adds eps where its text names it, and this one does not; remove eps or change "
     "model.norm.expr"},
    {"model:\n  norm:\n    type: expr\n    expr: \"x / sqrt(var(x, [batch]) + eps)\"\n"
     "    momentum: 0.2\n",
     SRC ":5:15: model.norm.momentum: ",
     "and model.norm.expr reads running (or model.norm.type is not expr), but model.norm.expr is "
     "'\"x / sqrt(var(x, [batch]) + eps)\"' (" SRC ":4:11): momentum moves the statistics a "
     "formula keeps with running(...), and this one has none; remove momentum or change "
     "model.norm.expr"},
    {"model:\n  norm:\n    type: none\n    affine: false\n", SRC ":4:13: model.norm.affine: ",
     ", but model.norm.type is 'none' (" SRC ":3:11); remove affine or change model.norm.type"},
    /* switchable (core/norm/switchable.c): images only, no groups, no
     * low-precision statistics; its series only where it is the normalizer */
    {"model:\n  norm:\n    type: switchable\n", SRC ":3:11: model.norm.type: ",
     "layer norm1: normalizer 'switchable' does not apply to (N, D) feature vectors (Switchable "
     "Normalization: per layer, learned softmax weights mix instance, layer and batch statistics "
     "(means and variances apart), then one affine; running batch statistics for eval (images "
     "only)); accepted on features: none | batch | layer | group | rms | batch_renorm | ghost_batch | dyt | scale | mean_only | custom"},
    {"model:\n  arch: cnn\n  norm:\n    type: switchable\n    groups: 4\n",
     SRC ":5:13: model.norm.groups: ",
     "applies only when model.norm.type is group or custom or batch_channel or expr and "
     "model.norm.placement is not none (or model.qk_norm is true) and model.norm.reduce includes "
     "channels (or model.norm.type is not custom) and model.norm.expr reads channels or "
     "model.norm.params reads group (or model.norm.type is not expr), but model.norm.type is 'switchable' (" SRC ":4:11); remove groups or change "
     "model.norm.type"},
    {"model:\n  arch: cnn\n  norm:\n    type: switchable\n    stats_precision: bf16\n",
     SRC ":5:22: model.norm.stats_precision: ",
     ", but model.norm.type is 'switchable' (" SRC ":4:11); remove stats_precision or change "
     "model.norm.type"},
    {"model:\n  arch: cnn\n  norm:\n    type: switchable\n    momentum: 2\n",
     SRC ":5:15: model.norm.momentum: ", "accepted: a number in [0, 1], or cumulative (null)"},
    /* batch_channel (core/norm/batch_channel.c): images only; batch norm's
     * running keys and group norm's groups, none of the other variants' */
    {"model:\n  norm:\n    type: batch_channel\n", SRC ":3:11: model.norm.type: ",
     "layer norm1: normalizer 'batch_channel' does not apply to (N, D) feature vectors "
     "(Batch-Channel Normalization: batch norm over N*H*W per channel (its own affine, running "
     "statistics for eval), then group norm per sample and group (its own affine) (images "
     "only)); accepted on features: none | batch | layer | group | rms | batch_renorm | ghost_batch | dyt | scale | mean_only | custom"},
    {"model:\n  arch: vit\n  norm:\n    type: batch_channel\n", SRC ":4:11: model.norm.type: ",
     "layer blocks.0.norm1: normalizer 'batch_channel' does not apply to token sequences (N, T, "
     "D) (Batch-Channel Normalization: batch norm over N*H*W per channel (its own affine, running "
     "statistics for eval), then group norm per sample and group (its own affine) (images "
     "only)); accepted on tokens: none | batch | layer | group | rms | batch_renorm | dyt | scale "
     "| mean_only | custom"},
    {"model:\n  arch: cnn\n  norm:\n    type: batch_channel\n    groups: 5\n",
     SRC ":5:13: model.norm.groups: ",
     "layer norm1.channel: batch-channel norm with 5 groups does not divide its 256 channels; "
     "valid group counts for this layer: 1, 2, 4, 8, 16, 32, 64, 128, 256"},
    {"model:\n  arch: cnn\n  norm:\n    type: batch_channel\n    sync: true\n",
     SRC ":5:11: model.norm.sync: ",
     ", but model.norm.type is 'batch_channel' (" SRC ":4:11); remove sync or change "
     "model.norm.type"},
    {"model:\n  arch: cnn\n  norm:\n    type: batch_channel\n    virtual_batch: 2\n",
     SRC ":5:20: model.norm.virtual_batch: ",
     ", but model.norm.type is 'batch_channel' (" SRC ":4:11); remove virtual_batch or change "
     "model.norm.type"},
    {"model:\n  arch: cnn\n  norm:\n    type: batch_channel\n    reduce: [batch]\n",
     SRC ":5:13: model.norm.reduce: ",
     ", but model.norm.type is 'batch_channel' (" SRC ":4:11); remove reduce or change "
     "model.norm.type"},
    {"model:\n  arch: cnn\n  norm:\n    type: batch_channel\n    momentum: 2\n",
     SRC ":5:15: model.norm.momentum: ", "accepted: a number in [0, 1], or cumulative (null)"},
    {"train:\n  log:\n    switch_weights: maybe\n", SRC ":3:21: train.log.switch_weights: ",
     "expected true or false, got 'maybe'; accepted: true | false"},
    {"model:\n  arch: cnn\n  norm:\n    type: group\ntrain:\n  log:\n    switch_weights: true\n",
     SRC ":7:21: train.log.switch_weights: ",
     "applies only when model.norm.type is switchable and model.norm.placement is not none (or "
     "model.qk_norm is true), but model.norm.type is 'group' (" SRC ":4:11); remove "
     "switch_weights or change model.norm.type"},
    {"data:\n  standardize: 1\n", SRC ":2:16: data.standardize: ",
     "expected true or false, got '1'"},
    {"name: [a]\n", SRC ":1:7: name: ", "expected a string, got a list"},
    {"name: \"my run\"\n", SRC ":1:7: name: ", "\"my run\" is not a valid run name"},
    /* a formula's name labels legends, tables and CSV cells: its documented
     * characters only (issue 118: "=1+2" reached summary.csv as a
     * spreadsheet formula, a control byte the SVG and the page), and no
     * built-in normalizer's name (its curves joined that normalizer's) */
    {"model:\n  norm:\n    type: expr\n    expr: \"x\"\n    name: \"=1+2\"\n",
     SRC ":5:11: model.norm.name: ",
     "\"=1+2\" is not a normalizer's name (it labels legends, tables and CSV cells); accepted: "
     "a name of 1 to 47 " NL_IDENT_ACCEPTED ", and no built-in normalizer's name"},
    {"model:\n  norm:\n    type: expr\n    expr: \"x\"\n    name: \"@SUM(A1)\"\n",
     SRC ":5:11: model.norm.name: ", "is not a normalizer's name"},
    {"model:\n  norm:\n    type: expr\n    expr: \"x\"\n    name: \"a\\eb\"\n",
     SRC ":5:11: model.norm.name: ", "is not a normalizer's name"},
    {"model:\n  norm:\n    type: expr\n    expr: \"x\"\n    name: -x\n",
     SRC ":5:11: model.norm.name: ", "is not a normalizer's name"},
    {"model:\n  norm:\n    type: expr\n    expr: \"x\"\n    name: layer\n",
     SRC ":5:11: model.norm.name: ",
     "'layer' is the built-in normalizer layer's name: its curves, table rows and legend entries "
     "would be taken for that normalizer's; accepted: a name of 1 to 47 "},
    {"model:\n  norm:\n    type: expr\n    expr: \"x\"\n    name: Batch_Renorm\n",
     SRC ":5:11: model.norm.name: ", "is the built-in normalizer batch_renorm's name"},
    {"model:\n  bias: yes\n", SRC ":2:9: model.bias: ",
     "'yes' is not a bias setting; accepted: auto | true | false"},
    {"? [a]\n: 1\n", SRC ":1:3: ", "keys must be names, got a list"},
    /* lists */
    {"model:\n  widths: 64\n", SRC ":2:11: model.widths: ",
     "expected a list of 1 to 16 integers in [1, 1048576], got the single value 64 (write [64])"},
    {"model:\n  widths: []\n", SRC ":2:11: model.widths: ", "got an empty list"},
    {"model:\n  widths: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n", SRC ":2:11: model.widths: ",
     "expected a list of 1 to 16 integers in [1, 1048576], got 17 items"},
    {"model:\n  widths: [64, 0]\n", SRC ":2:16: model.widths[1]: ",
     "0 is out of range; accepted: an integer in [1, 1048576]"},
    {"data:\n  shape: [3, 32]\n", SRC ":2:10: data.shape: ",
     "expected [c, h, w] (images) or [d] (feature vectors), got 2 items"},
    {"data:\n  shape: [70000]\n", SRC ":2:11: data.shape[0]: ",
     "70000 features is more than the synthetic generator makes (at most 65536)"},
    {"train:\n  trace:\n    percentiles: [15, 101]\n", SRC ":3:23: train.trace.percentiles[1]: ",
     "101 is out of range; accepted: a number in [0, 100]"},
    {"train:\n  trace:\n    percentiles: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n",
     SRC ":3:18: train.trace.percentiles: ", "got 9 items"},
    {"train:\n  schedule:\n    type: step\n    milestones: [100, 50]\n",
     SRC ":4:23: train.schedule.milestones[1]: ",
     "50 is not greater than the item before it (100); accepted: a list of up to 16 increasing "
     "integers in [1, 1000000000]"},
    {"train:\n  schedule:\n    type: step\n    milestones: [0, 50]\n",
     SRC ":4:18: train.schedule.milestones[0]: ",
     "0 is out of range; accepted: an integer in [1, 1000000000]"},
    /* ranges */
    {"train:\n  batch_size: 0\n", SRC ":2:15: train.batch_size: ",
     "0 is out of range; accepted: an integer in [1, 1048576]"},
    {"train:\n  optimizer:\n    lr: 0\n", SRC ":3:9: train.optimizer.lr: ",
     "0 is out of range; accepted: a number > 0"},
    {"train:\n  optimizer:\n    lr: -0.1\n", SRC ":3:9: train.optimizer.lr: ",
     "-0.1 is out of range; accepted: a number > 0"},
    {"model:\n  norm:\n    eps: 0\n", SRC ":3:10: model.norm.eps: ",
     "0 is out of range; accepted: a number > 0"},
    {"model:\n  norm:\n    momentum: 1.5\n", SRC ":3:15: model.norm.momentum: ",
     "1.5 is out of range; accepted: a number in [0, 1], or cumulative (null) for a cumulative "
     "average"},
    {"model:\n  norm:\n    momentum: -0.1\n", SRC ":3:15: model.norm.momentum: ",
     "-0.1 is out of range"},
    {"model:\n  norm:\n    momentum: cumulativ\n", SRC ":3:15: model.norm.momentum: ",
     "(did you mean 'cumulative'?)"},
    {"train:\n  optimizer:\n    momentum: 1\n", SRC ":3:15: train.optimizer.momentum: ",
     "1 is out of range; accepted: a number in [0, 1)"},
    {"train:\n  optimizer:\n    dampening: 2\n", SRC ":3:16: train.optimizer.dampening: ",
     "2 is out of range; accepted: a number in [0, 1]"},
    {"train:\n  schedule:\n    gamma: 0\n", SRC ":3:12: train.schedule.gamma: ",
     "0 is out of range; accepted: a number in (0, 1]"},
    {"seed: -1\n", SRC ":1:7: seed: ", "-1 is out of range; accepted: an integer >= 0"},
    {"seed: 99999999999999999999\n", SRC ":1:7: seed: ", "is too large (at most 9223372036854775807)"},
    /* past the int a key is stored in: the key's own limit, not the int's */
    {"train:\n  batch_size: 3000000000\n", SRC ":2:15: train.batch_size: ",
     "3000000000 is out of range; accepted: an integer in [1, 1048576]"},
    {"train:\n  batch_size: 99999999999999999999\n", SRC ":2:15: train.batch_size: ",
     "99999999999999999999 is out of range; accepted: an integer in [1, 1048576]"},
    {"model:\n  arch: cnn\n  convs_per_stage: 2147483647\n", SRC ":3:20: model.convs_per_stage: ",
     "2147483647 is out of range; accepted: an integer in [1, 1024]"},
    {"model:\n  arch: resnet\n  blocks_per_stage: 99999999999\n",
     SRC ":3:21: model.blocks_per_stage: ", "99999999999 is out of range; accepted: an integer in [1, 1024]"},
    {"seed: -99999999999999999999\n", SRC ":1:7: seed: ",
     "-99999999999999999999 is out of range; accepted: an integer >= 0"},
    {"data:\n  shape: [99999999999999999999, 4, 4]\n", SRC ":2:11: data.shape[0]: ",
     "99999999999999999999 is more than the synthetic generator makes (at most 16)"},
    {"data:\n  shape: [3, 4, 99999999999]\n", SRC ":2:17: data.shape[2]: ",
     "99999999999 is more than the synthetic generator makes (at most 1024)"},
    {"data:\n  shape: [99999999999]\n", SRC ":2:11: data.shape[0]: ",
     "99999999999 features is more than the synthetic generator makes (at most 65536)"},
    {"threads: 99999999999999999999\n", SRC ":1:10: threads: ",
     "99999999999999999999 is out of range; accepted: an integer in [0, 1024]"},
    {"data:\n  classes: 99999999999999999999\n", SRC ":2:12: data.classes: ",
     "99999999999999999999 is out of range; accepted: an integer in [2, 1000]"},
    {"train:\n  optimizer:\n    lr: .nan\n", SRC ":3:9: train.optimizer.lr: ",
     ".nan is not a finite number"},
    {"train:\n  optimizer:\n    lr: 1e-50\n", SRC ":3:9: train.optimizer.lr: ",
     "1e-50 rounds to 0 as a 32-bit float"},
    {"data:\n  classes: 1\n", SRC ":2:12: data.classes: ",
     "1 is out of range; accepted: an integer in [2, 1000]"},
    {"train:\n  trace:\n    activation: "
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
     SRC ":3:17: train.trace.activation: ", "the string is 71 bytes long; accepted: a string of "
     "up to 63 bytes"},
    /* names */
    {"model:\n  norm:\n    type: bach\n", SRC ":3:11: model.norm.type: ",
     "'bach' is not a normalizer; accepted: none | batch | "}, /* the rest: the registry's */
    {"model:\n  arch: resent\n", SRC ":2:9: model.arch: ",
     "'resent' is not an architecture; accepted: mlp | cnn | resnet | "}, /* the rest: the table's */
    {"model:\n  arch: resent\n", SRC ":2:9: model.arch: ", "(did you mean 'resnet'?)"},
    {"data:\n  dataset: fashion_mnist\n", SRC ":2:12: data.dataset: ",
     "(did you mean 'fashion-mnist'?)"},
    {"device: gpu\n", SRC ":1:9: device: ",
     "'gpu' is not a device; accepted: cpu | cuda (did you mean 'cuda'?)"},
    {"model:\n  norm:\n    type: BatchNorm\n", SRC ":3:11: model.norm.type: ",
     "(did you mean 'batch'?)"},
    {"train:\n  optimizer:\n    type: adam\n", SRC ":3:11: train.optimizer.type: ",
     "'adam' is not an optimizer; accepted: sgd"},
    {"train:\n  schedule:\n    type: linear\n", SRC ":3:11: train.schedule.type: ",
     "'linear' is not a schedule; accepted: constant | step | cosine"},
    /* structure */
    {"model:\n  arch: mlp\n  arch: cnn\n", SRC ":3:3: model.arch: ",
     "duplicate key (first given at line 2, column 3); each key may appear once"},
    {"", SRC ": ", "the config is empty; expected a mapping of keys"},
    {"# nothing but a comment\n\n", SRC ": ", "the config is empty"},
    {"[1, 2]\n", SRC ":1:1: ", "expected a mapping of keys at the top level (name:, data:, "
     "model:, train: ...), got a list"},
    {"hello\n", SRC ":1:1: ", "expected a mapping of keys at the top level"},
    {"model: {arch: [}\n", SRC ":1:16: YAML syntax error: ", "did not find expected node content"},
    {"model:\n  arch: cnn\n widths: [8]\n", SRC ":3:2: YAML syntax error: ", ""},
    {"model:\n\tarch: cnn\n", SRC ":2:1: YAML syntax error: ",
     "YAML does not allow tabs for indentation, use spaces"},
    {"seed: 1\n---\nseed: 2\n", SRC ":2:1: ", "a second YAML document starts here"},
    {"name: \"\xff\"\n", SRC ":1:8: not valid text (byte 7)", "configs must be UTF-8"},
    {"seed: 1\nname: \"\xff\"\n", SRC ":2:8: not valid text (byte 15)", "configs must be UTF-8"},
    /* cross-key */
    {"train:\n  epochs: 2\n  steps: 100\n", SRC ":3:10: train.steps: ",
     "both train.epochs and train.steps are given (train.epochs at " SRC ":2:11); give exactly "
     "one"},
    {"train:\n  optimizer:\n    nesterov: true\n    momentum: 0\n",
     SRC ":3:15: train.optimizer.nesterov: ", "true needs momentum > 0 and dampening 0 (as in "
     "PyTorch), but momentum is 0 (" SRC ":4:15)"},
    {"train:\n  optimizer:\n    nesterov: true\n    dampening: 0.5\n",
     SRC ":3:15: train.optimizer.nesterov: ", "but dampening is 0.5 (" SRC ":4:16)"},
    {"train:\n  schedule:\n    type: step\n", SRC ":3:11: train.schedule.type: ",
     "step needs train.schedule.milestones"},
    {"train:\n  schedule:\n    type: cosine\n    min_lr: 1\n", SRC ":4:13: train.schedule.min_lr: ",
     "1 is above the base learning rate train.optimizer.lr 0.05 (default)"},
    {"data:\n  dataset: fashion-mnist\n  shape: [3, 32, 32]\n", SRC ":3:10: data.shape: ",
     "applies only when data.dataset is synthetic, but data.dataset is 'fashion-mnist' (" SRC
     ":2:12); remove shape or change data.dataset"},
    {"data:\n  classes: 5\n  dataset: mnist\n  path: /tmp\n", SRC ":2:12: data.classes: ",
     "applies only when data.dataset is synthetic"},
    /* a path given to generated data was ignored: the run trained on the built-in data */
    {"data:\n  path: /my/mnist\n", SRC ":2:9: data.path: ",
     "applies only when data.dataset is fashion-mnist or mnist or cifar10 or text, but "
     "data.dataset is 'synthetic' (default); remove path or change data.dataset"},
    {"model:\n  arch: mlp\n  pool: avg\n", SRC ":3:9: model.pool: ",
     "applies only when model.arch is cnn, but model.arch is 'mlp' (" SRC ":2:9)"},
    {"model:\n  pool: avg\n", SRC ":2:9: model.pool: ",
     "applies only when model.arch is cnn, but model.arch is 'mlp' (default)"},
    {"model:\n  init_std: 0.1\n", SRC ":2:13: model.init_std: ",
     "applies only when model.init is gaussian"},
    {"model:\n  norm:\n    type: layer\n    momentum: 0.01\n", SRC ":4:15: model.norm.momentum: ",
     "applies only when model.norm.type is batch or instance"},
    {"data:\n  train_size: 10\ntrain:\n  batch_size: 32\n", SRC ":4:15: train.batch_size: ",
     "32 is larger than data.train_size 10 (" SRC ":2:15)"},
    /* the model cannot be built: the error points at the key responsible */
    {"model:\n  arch: cnn\n  widths: [32]\n  norm:\n    type: group\n    groups: 5\n",
     SRC ":6:13: model.norm.groups: ",
     "layer norm1: group norm with 5 groups does not divide its 32 channels; valid group counts "
     "for this layer: 1, 2, 4, 8, 16, 32"},
    {"model:\n  arch: cnn\n  widths: [12]\n  norm:\n    type: group\n",
     "model.norm.groups (default 8): ", "does not divide its 12 channels"},
    {"model:\n  norm:\n    type: instance\n", SRC ":3:11: model.norm.type: ",
     "layer norm1: normalizer 'instance' does not apply to (N, D) feature vectors (InstanceNorm: "
     "statistics per sample and channel over H*W (images only)); accepted on features: none | batch | layer | group | rms | batch_renorm | ghost_batch | dyt | scale | mean_only | custom"},
    /* model.norm.type custom: the axes (core/norm/custom.c) */
    {"model:\n  norm:\n    type: custom\n    reduce: batch\n", SRC ":4:13: model.norm.reduce: ",
     "got the single name batch (write [batch])"},
    {"model:\n  norm:\n    type: custom\n    reduce: [batch, batch]\n",
     SRC ":4:21: model.norm.reduce[1]: ", "batch is given twice"},
    {"model:\n  norm:\n    type: custom\n    reduce: [pixels]\n",
     SRC ":4:14: model.norm.reduce[0]: ", "accepted: batch | channels | spatial | tokens"},
    {"model:\n  norm:\n    type: custom\n    reduce: [batch, spatial]\n",
     SRC ":4:13: model.norm.reduce: ",
     "this layer sees feature vectors (N, D), which have no such axis"},
    {"model:\n  arch: cnn\n  norm:\n    type: custom\n    reduce: [batch, channels, spatial]\n",
     SRC ":5:13: model.norm.reduce: ", "the batch and the channels together"},
    {"model:\n  arch: cnn\n  norm:\n    type: custom\n    reduce: [batch]\n",
     SRC ":5:13: model.norm.reduce: ", "batch statistics per pixel"},
    {"model:\n  arch: cnn\n  norm:\n    type: custom\n    reduce: [channels]\n",
     SRC ":5:13: model.norm.reduce: ", "per-sample statistics per pixel across the channels"},
    {"model:\n  norm:\n    type: custom\n    center: false\n    scale: none\n",
     SRC ":5:12: model.norm.scale: ", "neither centres nor divides"},
    {"model:\n  norm:\n    type: custom\n    reduce: [channels]\n    eval_stats: running\n",
     SRC ":5:17: model.norm.eval_stats: ",
     "applies only when model.norm.type is custom and model.norm.placement is not none (or "
     "model.qk_norm is true) and model.norm.reduce does not include channels"},
    {"model:\n  norm:\n    type: custom\n    eval_stats: running\n",
     SRC ":4:17: model.norm.eval_stats: ", "running statistics are kept per channel"},
    {"model:\n  norm:\n    type: custom\n    scale: none\n    eps: 0.001\n",
     SRC ":5:10: model.norm.eps: ", "scale none divides by nothing"},
    {"model:\n  norm:\n    type: custom\n    reduce: [batch]\n    eval_stats: batch\n"
     "    momentum: 0.2\n",
     SRC ":6:15: model.norm.momentum: ", "momentum moves running statistics"},
    {"model:\n  norm:\n    type: custom\n    reduce: [batch]\n    groups: 2\n",
     SRC ":5:13: model.norm.groups: ", "this reduction takes none"},
    {"model:\n  arch: cnn\n  widths: [12]\n  norm:\n    type: custom\n    reduce: [channels, spatial]\n"
     "    groups: 5\n",
     SRC ":7:13: model.norm.groups: ", "does not divide the layer's 12 channels"},
    {"train:\n  batch_size: 1\nmodel:\n  norm:\n    type: custom\n    reduce: [batch]\n",
     SRC ":2:15: train.batch_size: ", "needs more than one value per channel in training"},
    /* evaluation with the batch's statistics at an evaluation batch of 1: the
     * same single value, at train.eval_batch_size (custom's eval_stats,
     * batch norm without running statistics) */
    {"train:\n  eval_batch_size: 1\nmodel:\n  norm:\n    type: custom\n    reduce: [batch]\n"
     "    eval_stats: batch\n",
     SRC ":2:20: train.eval_batch_size: ",
     "1 leaves layer norm1 one value per normalized set at evaluation, where model.norm.type custom normalizes "
     "with the statistics of the batch it is given (model.norm.eval_stats batch, " SRC ":7:17); with one value "
     "x - mean is 0"},
    {"train:\n  eval_batch_size: 1\nmodel:\n  norm:\n    type: batch\n    track_running_stats: false\n",
     SRC ":2:20: train.eval_batch_size: ",
     "(model.norm.track_running_stats false, " SRC ":6:26); with one value x - mean is 0, so every test sample "
     "gets the same output (an evaluation at chance); accepted: train.eval_batch_size of at least 2, or "
     "model.norm.track_running_stats true"},
    {"train:\n  batch_size: 1\n", SRC ":2:15: train.batch_size: ",
     "layer norm1: model.norm.type batch needs more than one value per channel in training, but "
     "batch size 1 gives 1; with one value x - mean is 0"},
    /* a normalized set of one value: a constant (centring) or a sign (rms) */
    {"model:\n  widths: [32]\n  norm:\n    type: group\n    groups: 32\n",
     SRC ":5:13: model.norm.groups: ",
     "layer norm1: model.norm.type group needs more than one value per group, but 32 features / "
     "32 groups gives 1; with one value x - mean is 0, so the layer outputs beta whatever its "
     "input; valid group counts for this layer: 1, 2, 4, 8, 16"},
    {"model:\n  widths: [1]\n  norm: {type: layer}\n", SRC ":2:11: model.widths: ",
     "layer norm1: model.norm.type layer needs more than one value per sample, but 1 feature "
     "gives 1; with one value x - mean is 0, so the layer outputs beta whatever its input; widen "
     "the layer (model.widths)"},
    {"model:\n  widths: [8, 1]\n  norm: {type: rms}\n", SRC ":2:11: model.widths: ",
     "layer norm2: model.norm.type rms needs more than one value per sample, but 1 feature gives "
     "1; with one value x / rms(x) is +-1, so only the sign of the input survives"},
    {"model: {norm: {type: ghost_batch, virtual_batch: 1}}\n", SRC ":1:50: model.norm.virtual_batch: ",
     "but model.norm.virtual_batch 1 gives 1"},
    /* ghost batch norm's virtual batches must split the training batch evenly */
    {"train: {batch_size: 32}\nmodel: {norm: {type: ghost_batch, virtual_batch: 3}}\n",
     SRC ":2:50: model.norm.virtual_batch: ",
     "layer norm1: model.norm.virtual_batch 3 does not divide train.batch_size 32; use a divisor "
     "of the batch size"},
    {"model: {norm: {type: ghost_batch}}\n", "model.norm.virtual_batch",
     "ghost_batch needs model.norm.virtual_batch, the samples per virtual batch"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, d_model: 1, heads: 1, norm: {type: layer}}\n",
     SRC ":2:28: model.d_model: ",
     "layer blocks.0.norm1: model.norm.type layer needs more than one value per token, but 1 "
     "feature gives 1; with one value x - mean is 0, so the layer outputs beta whatever its input; "
     "raise model.d_model"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, d_model: 16, heads: 4, norm: {type: "
     "group, groups: 16}}\n", SRC ":2:70: model.norm.groups: ",
     "layer blocks.0.norm1: model.norm.type group needs more than one value per group, but 16 "
     "features / 16 groups gives 1"},
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, d_model: 16, heads: 16, qk_norm: true, "
     "norm: {type: layer}}\n", SRC ":2:39: model.heads: ",
     "layer blocks.0.attn.q_norm: model.norm.type layer needs more than one value per token, but 1 "
     "feature gives 1; with one value x - mean is 0, so the layer outputs beta whatever its input; "
     "QK-norm's tokens are single heads, each of d_model / heads features"},
    {"data: {shape: [3, 8, 8]}\nmodel: {arch: vit, patch: 4, d_model: 1, heads: 1, norm: {type: "
     "layer}}\n", SRC ":2:39: model.d_model: ",
     "layer blocks.0.norm1: model.norm.type layer needs more than one value per token"},
    {"data: {shape: [3, 8, 8]}\nmodel: {arch: cnn, widths: [4, 4, 4, 1], norm: {type: layer}}\n",
     SRC ":2:28: model.widths: ",
     "layer norm4: model.norm.type layer needs more than one value per sample, but 1 channel x 1x1 "
     "gives 1"},
    {"data: {shape: [3, 8, 8]}\nmodel: {arch: cnn, widths: [4, 4, 4, 4], norm: {type: instance}}\n",
     SRC ":2:55: model.norm.type: ",
     "layer norm4: model.norm.type instance needs more than one value per channel of each sample, "
     "but a 1x1 map gives 1"},
    {"data: {shape: [3, 8, 8]}\nmodel: {arch: cnn, widths: [4, 4, 4, 4], norm: {type: frn}}\n",
     SRC ":2:55: model.norm.type: ", "but a 1x1 map gives 1; with one value x / rms(x) is +-1"},
    {"data: {shape: [3, 4, 4]}\nmodel: {arch: resnet, widths: [4, 4, 4], norm: {type: group, "
     "groups: 4}}\n", SRC ":2:70: model.norm.groups: ",
     "layer stage3.block1.shortcut.norm: model.norm.type group needs more than one value per "
     "group, but 4 channels / 4 groups x 1x1 gives 1"},
    /* QK-norm without a normalizer would do nothing */
    {"data: {dataset: synthetic_text}\nmodel: {arch: lm, qk_norm: true, norm: {type: none}}\n",
     SRC ":2:28: model.qk_norm: ",
     "true needs a normalizer for the queries and keys, but model.norm.type is none (" SRC
     ":2:47); name one with model.norm.type"},
    {"model:\n  arch: cnn\n  norm:\n    placement: pre\n", SRC ":4:16: model.norm.placement: ",
     "placement 'pre' does not apply to arch 'cnn'"},
    {"model:\n  arch: resnet\n  norm: {placement: before}\n", SRC ":3:21: model.norm.placement: ",
     "placement 'before' does not apply to arch 'resnet'"},
    {"model:\n  arch: cnn\n  widths: [8, 8, 8, 8, 8, 8]\n", SRC ":3:11: model.widths: ",
     "2x2 pooling does not fit its 1x1 input (too many stages for this image size?)"},
    /* issue 29: limits */
    {"model: {widths: [1000000000]}\n", SRC ":1:18: model.widths[0]: ",
     "1000000000 is out of range; accepted: an integer in [1, 1048576]"},
    {"model: {arch: resnet, stem_width: 2000000}\n", SRC ":1:35: model.stem_width: ",
     "2000000 is out of range; accepted: an integer in [0, 1048576]"},
    {"threads: 100000\n", SRC ":1:10: threads: ",
     "100000 is out of range; accepted: an integer in [0, 1024]"},
    {"train:\n  steps: 9223372036854775807\n", SRC ":2:10: train.steps: ",
     "9223372036854775807 is out of range; accepted: an integer in [1, 1000000000]"},
    {"train:\n  epochs: 1000000001\n", SRC ":2:11: train.epochs: ",
     "1000000001 is out of range; accepted: an integer in [1, 1000000000]"},
    {"data: {shape: [65537]}\n", SRC ":1:16: data.shape[0]: ", "65537 features is more than"},
    {"data: {shape: [17, 4, 4]}\n", SRC ":1:16: data.shape[0]: ", "17 channels is more than"},
    /* a type error on the unbounded seed formats its range without overflow */
    {"seed: {a: 1}\n", SRC ":1:7: seed: ", "expected an integer, got a mapping; accepted: an "
     "integer >= 0"},
    {"seed: -1\n", SRC ":1:7: seed: ", "-1 is out of range; accepted: an integer >= 0"},
    /* explicit tags: quoted numbers are errors, so tagged strings are too */
    {"train:\n  batch_size: !!str 16\n", SRC ":2:15: ", "YAML tags such as '!!str' are not "
     "accepted: a value's type comes from its key"},
    {"model: !!map {arch: mlp}\n", SRC ":1:8: ", "YAML tags such as '!!map' are not accepted"},
    {"name: !local x\n", SRC ":1:7: ", "YAML tags such as '!local' are not accepted"},
    /* a "\0" escape would cut a name short: "batch\0x" read as batch, "data\0x" as data */
    {"model: {norm: {type: \"batch\\0x\"}}\n", SRC ":1:22: model.norm.type: ",
     "the value contains a NUL character"},
    {"data: {dataset: \"synthetic\\u0000\"}\n", SRC ":1:17: data.dataset: ",
     "the value contains a NUL character"},
    {"data: {\"classes\\0x\": 3}\n", SRC ":1:8: data: ", "a key contains a NUL character"},
    {"\"train\\0\": {steps: 5}\n", SRC ":1:1: ", "a key contains a NUL character"},
    {"data: {shape: [\"16\\0\"]}\n", SRC ":1:16: data.shape: ",
     "the value contains a NUL character"},
    /* optimizer keys apply per kind (the optimizer table) */
    {"train:\n  optimizer: {type: adamw, momentum: 0.9}\n", SRC ":2:38: train.optimizer.momentum: ",
     "applies only when train.optimizer.type is sgd or rmsprop, but train.optimizer.type is 'adamw'"},
    {"train:\n  optimizer: {eps: 1.0e-6}\n", SRC ":2:20: train.optimizer.eps: ",
     "applies only when train.optimizer.type is adamw or rmsprop, but train.optimizer.type is 'sgd'"},
    {"train:\n  optimizer: {type: adamw, betas: [0.9]}\n", SRC ":2:35: train.optimizer.betas: ",
     "expected a list of 2 numbers in [0, 1), got 1 item"},
    {"train:\n  optimizer: {type: adamw, betas: [0.9, 1.0]}\n", SRC ":2:41: train.optimizer.betas[1]: ",
     "1.0 is out of range; accepted: a number in [0, 1)"},
    {"train:\n  optimizer: {type: adamw, eps: 0}\n", SRC ":2:33: train.optimizer.eps: ",
     "0 is out of range"},
    {"train:\n  optimizer: {type: adam}\n", SRC ":2:21: train.optimizer.type: ",
     "'adam' is not an optimizer; accepted: sgd | adamw"},
    {"train:\n  clip_grad_norm: -1\n", SRC ":2:19: train.clip_grad_norm: ", "-1 is out of range"},
};

START_TEST(test_bad_config)
{
    const bad_case *c = &bad_cases[_i];
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    nl_code code = nl_config_load_string(c->yaml, SRC, NULL, 0, cfg, &err);
    ck_assert_msg(code == NL_ERR_CONFIG, "case %d: expected a config error, got %s (%s)\n%s", _i,
                  nl_code_name(code), err.msg, c->yaml);
    ck_assert_int_eq(nl_code_exit_status(code), 2);
    char what[64];
    snprintf(what, sizeof what, "bad case %d", _i);
    /* the position leads the message; the explanation follows */
    if (strncmp(c->where, SRC, strlen(SRC)) == 0)
        ck_assert_msg(strncmp(err.msg, c->where, strlen(c->where)) == 0,
                      "%s: message does not start with '%s'\n  message: %s", what, c->where, err.msg);
    else
        assert_contains(err.msg, c->where, what);
    assert_contains(err.msg, c->what, what);
    free(cfg);
}
END_TEST

/* a formula that names eps, running(...) and channels takes the keys
 * the bad cases refuse where it does not */
START_TEST(test_formula_keys_read)
{
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    const char *yaml = "model:\n  norm:\n    type: expr\n"
                       "    expr: \"x / sqrt(running(var(x, [batch, channels])) + eps)\"\n"
                       "    eps: 0.001\n    momentum: 0.2\n    groups: 2\n";
    ck_assert_msg(nl_config_load_string(yaml, SRC, NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    ck_assert_float_eq(cfg->model.norm.eps, 0.001f);
    ck_assert_int_eq(cfg->model.norm.groups, 2);
    free(cfg);
    ck_assert(nl_formula_reads("1e-5 * eps", "eps") && !nl_formula_reads("1e-5 + x", "e"));
    ck_assert(!nl_formula_reads("epsilon * x", "eps") && nl_formula_reads("mean(x, [channels])", "channels"));
}
END_TEST

/* model.norm.name takes its documented characters, and the formula kind's
 * own name; every built-in normalizer's name, from the registry, is refused
 * (issue 118) */
START_TEST(test_formula_name_characters)
{
    const char *good[] = {"my-norm.v2", "expr", "x_1", "Batch2", "layer.norm"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        nl_config *cfg = cfg_new();
        nl_error err = {0};
        char yaml[256];
        snprintf(yaml, sizeof yaml, "model:\n  norm:\n    type: expr\n    expr: \"x\"\n    name: %s\n",
                 good[i]);
        ck_assert_msg(nl_config_load_string(yaml, SRC, NULL, 0, cfg, &err) == NL_OK, "%s: %s",
                      good[i], err.msg);
        ck_assert_str_eq(cfg->model.norm.label, good[i]);
        free(cfg);
    }
    int refused = 0;
    for (int k = 0; k < nl_norm_names.count; k++) {
        if (nl_norm_info_of((nl_norm_kind)k)->keys & NL_NORM_KEY_FORMULA)
            continue;
        nl_config *cfg = cfg_new();
        nl_error err = {0};
        char yaml[256];
        snprintf(yaml, sizeof yaml, "model:\n  norm:\n    type: expr\n    expr: \"x\"\n    name: %s\n",
                 nl_name_entry_at(&nl_norm_names, k)->name);
        ck_assert_msg(nl_config_load_string(yaml, SRC, NULL, 0, cfg, &err) == NL_ERR_CONFIG &&
                          strstr(err.msg, "is the built-in normalizer"),
                      "name %s: %s", nl_name_entry_at(&nl_norm_names, k)->name, err.msg);
        refused++;
        free(cfg);
    }
    ck_assert_int_ge(refused, 10);
}
END_TEST

/* the same through files, with the path in the message */
static const struct {
    const char *file, *fragment;
    nl_code code;
} bad_files[] = {
    {"bad-enum.yaml", "bad-enum.yaml:7:11: model.norm.type: 'bach' is not a normalizer; accepted: "
                      "none | batch | ",
     NL_ERR_CONFIG},
    {"tabs.yaml", "tabs.yaml:4:1: YAML syntax error", NL_ERR_CONFIG},
    {"not-a-mapping.yaml", "not-a-mapping.yaml:2:1: expected a mapping of keys at the top level",
     NL_ERR_CONFIG},
    {"groups.yaml", "groups.yaml:8:13: model.norm.groups: layer norm1: group norm with 6 groups", NL_ERR_CONFIG},
    {"empty.yaml", "empty.yaml: the config is empty", NL_ERR_CONFIG},
    {"seed-mapping.yaml", "seed-mapping.yaml:3:7: seed: expected an integer, got a mapping; "
                          "accepted: an integer >= 0", NL_ERR_CONFIG},
    {"missing.yaml", "missing.yaml': No such file or directory", NL_ERR_CONFIG},
};

START_TEST(test_bad_file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/configs/bad/%s", NORMLAB_SOURCE_DIR,
             bad_files[_i].file);
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    nl_code code = nl_config_load(path, NULL, 0, cfg, &err);
    ck_assert_msg(code == bad_files[_i].code, "%s: got %s: %s", bad_files[_i].file,
                  nl_code_name(code), err.msg);
    ck_assert_int_eq(nl_code_exit_status(code), bad_files[_i].code == NL_ERR_IO ? 1 : 2);
    assert_contains(err.msg, bad_files[_i].fragment, bad_files[_i].file);
    if (code == NL_ERR_CONFIG)
        assert_contains(err.msg, path, bad_files[_i].file); /* the whole path, as given */
    free(cfg);
}
END_TEST

START_TEST(test_io_errors)
{
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    /* a missing file or a directory is bad input: exit status 2 */
    ck_assert_int_eq(nl_config_load("/nonexistent/dir/x.yaml", NULL, 0, cfg, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.msg, "cannot read config '/nonexistent/dir/x.yaml': No such file or "
                              "directory");
    nl_error_clear(&err);
    ck_assert_int_eq(nl_config_load(NORMLAB_SOURCE_DIR "/configs", NULL, 0, cfg, &err),
                     NL_ERR_CONFIG);
    assert_contains(err.msg, "it is a directory, not a YAML file", "directory");
    free(cfg);

    /* a writer that cannot write */
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        nl_config *good = load_ok("{}", NULL, 0);
        nl_error_clear(&err);
        ck_assert_int_eq(nl_config_write(good, full, &err), NL_ERR_IO);
        assert_contains(err.msg, "writing the resolved config", "write error");
        fclose(full);
        free(good);
    }
}
END_TEST

/* ---- overrides ---- */

static const struct {
    const char *yaml;
    const char *overrides[3];
    const char *message; /* exact, or a fragment when it starts with '~' */
} bad_overrides[] = {
    {"{}", {"train.batch_size=0"},
     "--set train.batch_size=0: train.batch_size: 0 is out of range; accepted: an integer in "
     "[1, 1048576]"},
    {"{}", {"train.batch_size"},
     "--set train.batch_size: expected key=value, e.g. --set train.batch_size=64 or --set "
     "model.widths=[32,64]"},
    {"{}", {"=5"}, "--set =5: the key before '=' is missing"},
    {"{}", {"model.norm.tpye=batch"},
     "--set model.norm.tpye=batch: model.norm.tpye: unknown key (did you mean 'model.norm.type'?); "
     "see configs/README.md for the keys"},
    {"{}", {"batch_size=3"}, "~--set batch_size=3: batch_size: unknown key (did you mean "
                             "'train.batch_size'?)"},
    {"{}", {"model.widths=[32,"}, "~--set model.widths=[32,: the value is not valid YAML"},
    {"{}", {"model.norm.type=bach"},
     "~--set model.norm.type=bach: model.norm.type: 'bach' is not a normalizer; accepted: none | "
     "batch | "},
    {"{}", {"model.widths=abc"}, "~--set model.widths=abc: model.widths: expected a list"},
    {"{}", {"model.widths=[32, 3.5]"}, "~--set model.widths=[32, 3.5]: model.widths[1]: 3.5 is "
                                       "not an integer"},
    {"{}", {"model=mlp"}, "~--set model=mlp: model: expected a mapping of model keys"},
    {"{}", {"data.seed=3"}, "~--set data.seed=3: data.seed: not a key"},
    {"{}", {"train.epochs=2", "train.steps=10"},
     "~--set train.steps=10: train.steps: both train.epochs and train.steps are given "
     "(train.epochs at --set train.epochs=2)"},
    {"model: {arch: cnn, widths: [32], norm: {type: group}}\n", {"model.norm.groups=5"},
     "--set model.norm.groups=5: model.norm.groups: layer norm1: group norm with 5 groups does not "
     "divide its 32 channels; valid group counts for this layer: 1, 2, 4, 8, 16, 32"},
    /* on feature vectors a group of one channel is one value: 32 is not valid */
    {"model: {arch: mlp, widths: [32], norm: {type: group}}\n", {"model.norm.groups=5"},
     "--set model.norm.groups=5: model.norm.groups: layer norm1: group norm with 5 groups does not "
     "divide its 32 channels; valid group counts for this layer: 1, 2, 4, 8, 16"},
    {"model: {arch: mlp, widths: [1], norm: {type: group}}\n", {"model.norm.groups=2"},
     "--set model.norm.groups=2: model.norm.groups: layer norm1: group norm with 2 groups does not "
     "divide its 1 channels; valid group counts for this layer: none (it holds one value per "
     "sample; widen it)"},
    {"model: {arch: mlp, widths: [32], norm: {type: group}}\n", {"model.norm.groups=32"},
     "--set model.norm.groups=32: model.norm.groups: layer norm1: model.norm.type group needs more "
     "than one value per group, but 32 features / 32 groups gives 1; with one value x - mean is 0, "
     "so the layer outputs beta whatever its input; valid group counts for this layer: 1, 2, 4, "
     "8, 16"},
    {"model: {arch: mlp}\n", {"model.pool=avg"},
     "~--set model.pool=avg: model.pool: applies only when model.arch is cnn, but model.arch is "
     "'mlp' (good.yaml:1:15)"},
    {"{}", {"model.norm={type: group, grops: 2}"},
     "~--set model.norm={type: group, grops: 2}: model.norm.grops: unknown key (did you mean "
     "'groups'?)"},
    {"{}", {"train.optimizer.lr=\"0.1\""}, "~expected a number, got the quoted string \"0.1\""},
    {"{}", {"threads=!!int 3"}, "~--set threads=!!int 3: YAML tags such as '!!int' are not "
     "accepted"},
    {"{}", {"threads=2000"}, "--set threads=2000: threads: 2000 is out of range; accepted: an "
     "integer in [0, 1024]"},
    {"{}", {"model.norm.type=\"batch\\0\""}, "~--set model.norm.type=\"batch\\0\": the value "
     "contains a NUL character"},
};

/* the memory check's estimate is what building the model takes, to the byte */
START_TEST(test_model_plan_matches_build)
{
    const char *yamls[] = {
        "model: {widths: [64, 32], norm: {type: batch}}\ntrain: {eval_batch_size: 100}\n",
        "data: {shape: [3, 16, 16]}\nmodel: {arch: cnn, widths: [8, 16], norm: {type: group, "
        "groups: 4}}\n",
        "data: {shape: [3, 16, 16]}\nmodel: {arch: resnet, widths: [8, 16], norm: {type: layer, "
        "placement: pre}}\ntrain: {batch_size: 4, eval_batch_size: 6}\n",
        "data: {shape: [2, 12, 12]}\nmodel: {arch: cnn, widths: [4], pool: avg, norm: {type: "
        "instance, track_running_stats: true}}\n",
        "model: {widths: [16]}\ntrain: {optimizer: {type: adamw}}\n",
    };
    nl_backend *be = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_backend_open(NL_DEVICE_CPU, NULL, &be, &err), NL_OK);
    for (size_t i = 0; i < sizeof yamls / sizeof yamls[0]; i++) {
        nl_config *cfg = load_ok(yamls[i], NULL, 0);
        const int capacity = cfg->train.eval_batch_size > cfg->train.batch_size
                                 ? cfg->train.eval_batch_size
                                 : cfg->train.batch_size;
        nl_model *plan = NULL, *built = NULL;
        ck_assert_int_eq(nl_model_plan(&cfg->model, capacity, cfg->train.batch_size, be->threads,
                                       &plan, &err), NL_OK);
        ck_assert_int_eq(nl_model_create(&cfg->model, be, capacity, cfg->train.batch_size, 1,
                                        &built, &err), NL_OK);
        ck_assert_msg(plan->planned.total == (double)built->device_bytes,
                      "case %zu: planned %.0f bytes, built %zu", i, plan->planned.total,
                      built->device_bytes);
        /* value, gradient and the optimizer's state */
        ck_assert(plan->planned.parameters == (2.0 + nl_optim_info_of(cfg->train.optimizer.kind)->state_slots) *
                                                  sizeof(float) * (double)built->param_floats);
        ck_assert_ptr_null(plan->param_arena);
        ck_assert_int_eq(plan->n_acts, built->n_acts);
        nl_model_free(plan);
        nl_model_free(built);
        free(cfg);
    }
    nl_backend_close(be);
}
END_TEST

/* libyaml takes tens of seconds on 100k levels of nesting: the screen stops
 * at the 65th, wherever the nesting is */
START_TEST(test_deep_nesting)
{
    const int levels = 100000;
    char *deep = malloc((size_t)levels * 5 + 64); /* "{a: " and "}" per level */
    ck_assert_ptr_nonnull(deep);
    const char *forms[][2] = {{"[", "]"}, {"{a: ", "}"}};
    for (int f = 0; f < 2; f++) {
        size_t used = (size_t)sprintf(deep, "seed: 1\nmodel:\n  widths: ");
        for (int i = 0; i < levels; i++)
            used += (size_t)sprintf(deep + used, "%s", forms[f][0]);
        for (int i = 0; i < levels; i++)
            used += (size_t)sprintf(deep + used, "%s", forms[f][1]);
        nl_config *cfg = cfg_new();
        nl_error err = {0};
        ck_assert_int_eq(nl_config_load_string(deep, SRC, NULL, 0, cfg, &err), NL_ERR_CONFIG);
        /* the top-level mapping and model: are two levels: the 65th is the
         * 63rd opener, at column 11 + 62 * its width */
        char where[64];
        snprintf(where, sizeof where, SRC ":3:%zu: nested more than 64 levels deep",
                 11 + 62 * strlen(forms[f][0]));
        assert_contains(err.msg, where, "deep nesting");
        /* the same through --set */
        const char *set = strstr(deep, "widths: ") + strlen("widths: ");
        char *override = malloc(strlen(set) + 32);
        sprintf(override, "model.widths=%s", set);
        const char *ov[] = {override};
        nl_error_clear(&err);
        ck_assert_int_eq(nl_config_load_string("{}", SRC, ov, 1, cfg, &err), NL_ERR_CONFIG);
        assert_contains(err.msg, "nested more than 64 levels deep", "deep --set");
        ck_assert_msg(strncmp(err.msg, "--set model.widths=", 19) == 0, "%s", err.msg);
        free(override);
        free(cfg);
    }
    /* 64 levels are still parsed (and then refused for the type, not the depth) */
    size_t used = (size_t)sprintf(deep, "model:\n  widths: ");
    for (int i = 0; i < 62; i++)
        used += (size_t)sprintf(deep + used, "[");
    for (int i = 0; i < 62; i++)
        used += (size_t)sprintf(deep + used, "]");
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    ck_assert_int_eq(nl_config_load_string(deep, SRC, NULL, 0, cfg, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "nested") == NULL, "%s", err.msg);
    assert_contains(err.msg, "model.widths[0]: expected an integer, got a list", "64 levels");
    free(cfg);
    free(deep);
}
END_TEST

START_TEST(test_bad_override)
{
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    int n = 0;
    while (n < 3 && bad_overrides[_i].overrides[n])
        n++;
    nl_code code = nl_config_load_string(bad_overrides[_i].yaml, "good.yaml",
                                         bad_overrides[_i].overrides, n, cfg, &err);
    ck_assert_msg(code == NL_ERR_CONFIG, "override case %d: got %s: %s", _i, nl_code_name(code),
                  err.msg);
    ck_assert_int_eq(nl_code_exit_status(code), 2);
    const char *want = bad_overrides[_i].message;
    if (want[0] == '~')
        assert_contains(err.msg, want + 1, "override");
    else
        ck_assert_str_eq(err.msg, want);
    free(cfg);
}
END_TEST

START_TEST(test_overrides)
{
    const char *yaml = "model:\n  arch: cnn\n  widths: [16]\n  pool: avg\n"
                       "train:\n  epochs: 3\n  batch_size: 8\n";
    const char *ov[] = {
        "model.widths=[32,64]",        "model.norm={type: group, groups: 4}",
        "train.batch_size=16",         "train.batch_size = 24", /* the later one wins */
        "train.steps=100",
        "name=sweep-lr=0.1",           "data.dataset=mnist", "data.path=/tmp/x y",
    };
    nl_config *cfg = load_ok(yaml, ov, (int)(sizeof ov / sizeof ov[0]));
    ck_assert_int_eq(cfg->model.n_widths, 2);
    ck_assert_int_eq(cfg->model.widths[1], 64);
    ck_assert_int_eq(cfg->model.norm.kind, NL_NORM_GROUP);
    ck_assert_int_eq(cfg->model.norm.groups, 4);
    ck_assert_int_eq(cfg->train.batch_size, 24);
    /* --set train.steps replaces the file's epochs */
    ck_assert_int_eq(cfg->train.steps, 100);
    ck_assert_int_eq(cfg->train.epochs, 0);
    ck_assert_ptr_null(nl_config_origin_of(cfg, "train.epochs"));
    ck_assert_str_eq(cfg->name, "sweep-lr=0.1");
    ck_assert_str_eq(cfg->data.path, "/tmp/x y");
    ck_assert_int_eq(cfg->model.pool, NL_POOL_AVG);

    const nl_config_origin *o = nl_config_origin_of(cfg, "train.batch_size");
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(o->source, "--set");
    ck_assert_str_eq(o->setting, "train.batch_size = 24");
    ck_assert_int_eq(o->line, 0);
    o = nl_config_origin_of(cfg, "model.norm.groups");
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(o->setting, "model.norm={type: group, groups: 4}");
    char where[256];
    ck_assert_str_eq(nl_config_where(cfg, "model.pool", where, sizeof where), "good.yaml:4:9");
    ck_assert_str_eq(nl_config_where(cfg, "model.widths", where, sizeof where),
                     "--set model.widths=[32,64]");
    ck_assert_str_eq(nl_config_where(cfg, "seed", where, sizeof where), "default");
    free(cfg);

    /* an empty value is null: cumulative momentum */
    const char *momentum[] = {"model.norm.momentum="};
    cfg = load_ok("{}", momentum, 1);
    ck_assert(cfg->model.norm.cumulative);
    free(cfg);

    /* --set switches what a file key applies to: the key is dropped, with a warning */
    const char *arch[] = {"model.arch=mlp"};
    cfg = load_ok(yaml, arch, 1);
    ck_assert_int_eq(cfg->model.pool, NL_POOL_MAX);
    ck_assert_ptr_null(nl_config_origin_of(cfg, "model.pool"));
    ck_assert_int_eq(cfg->n_warnings, 1);
    assert_contains(cfg->warnings[0], "good.yaml:4:9: model.pool: ignored: it applies only when "
                                      "model.arch is cnn, and --set model.arch changed that",
                    "warning");
    free(cfg);
    const char *dataset[] = {"data.dataset=fashion-mnist"};
    cfg = load_ok("data: {shape: [3, 8, 8], classes: 4}\n", dataset, 1);
    ck_assert_int_eq(cfg->n_warnings, 2);
    ck_assert_int_eq(cfg->model.in_c, 1);
    ck_assert_int_eq(cfg->data.synthetic_c, 1);
    free(cfg);
    /* --set train.epochs replaces the file's steps */
    const char *epochs[] = {"train.epochs=2"};
    cfg = load_ok("train: {steps: 10}\n", epochs, 1);
    ck_assert_int_eq(cfg->train.epochs, 2);
    ck_assert_int_eq(cfg->train.steps, 0);
    free(cfg);
}
END_TEST

START_TEST(test_origins)
{
    nl_config *cfg = load_ok("seed: 5\nmodel:\n  norm:\n    type: group\n    groups: 2\n"
                             "train: {batch_size: 16}\n",
                             NULL, 0);
    const nl_config_origin *o = nl_config_origin_of(cfg, "model.norm.type");
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(o->source, "good.yaml");
    ck_assert_int_eq(o->line, 4);
    ck_assert_int_eq(o->column, 11);
    o = nl_config_origin_of(cfg, "seed");
    ck_assert_int_eq(o->line, 1);
    ck_assert_int_eq(o->column, 7);
    o = nl_config_origin_of(cfg, "train.batch_size");
    ck_assert_int_eq(o->line, 6);
    ck_assert_int_eq(o->column, 21);
    ck_assert_ptr_null(nl_config_origin_of(cfg, "model.arch"));
    ck_assert_ptr_null(nl_config_origin_of(cfg, "model.norm.placement"));
    ck_assert_int_eq(cfg->n_origins, 4);
    free(cfg);
}
END_TEST

/* ---- the resolved config round trip ---- */

static char *write_config(const nl_config *cfg)
{
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(mem);
    nl_error err = {0};
    ck_assert_msg(nl_config_write(cfg, mem, &err) == NL_OK, "%s", err.msg);
    fclose(mem);
    return text;
}

/* everything but where it came from */
static void assert_same_config(const nl_config *a, const nl_config *b, const char *what)
{
    ck_assert_msg(!strcmp(a->name, b->name), "%s: name %s vs %s", what, a->name, b->name);
    ck_assert_msg(a->seed == b->seed, "%s: seed", what);
    ck_assert_msg(a->device == b->device, "%s: device", what);
    ck_assert_msg(a->threads == b->threads, "%s: threads", what);
    ck_assert_msg(!memcmp(&a->data, &b->data, sizeof a->data), "%s: data differs", what);
    ck_assert_msg(!memcmp(&a->model, &b->model, sizeof a->model), "%s: model differs", what);
    ck_assert_msg(!memcmp(&a->train, &b->train, sizeof a->train), "%s: train differs", what);
}

/* YAML 1.1 readers (PyYAML) take an exponent float only with a dot in the
 * mantissa; "1e-05" would come back as a string */
static void assert_yaml11_numbers(const char *text, const char *what)
{
    regex_t dotless;
    ck_assert_int_eq(regcomp(&dotless, "(^|[^0-9.a-zA-Z_])[-+]?[0-9]+[eE][-+]?[0-9]", REG_EXTENDED | REG_NEWLINE), 0);
    regmatch_t m;
    const bool found = regexec(&dotless, text, 1, &m, 0) == 0;
    ck_assert_msg(!found, "%s: a number YAML 1.1 reads as a string at \"%.20s\"\n%s", what,
                  found ? text + m.rm_so : "", text);
    regfree(&dotless);
}

/* The resolved config as normlab wrote it before issue 81: every key, a key
 * that does not apply as "# leaf: value  # applies only when ...", a key
 * whose 0 means "not set" as "# leaf: not set" whether it applies or not.
 * The committed runs' config.yaml files before then have this form. */
static char *write_commented_form(const nl_config *cfg)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(out);
    char prev[8][48], cur[8][48], value[2048], when[768];
    int n_prev = 0;
    fprintf(out, "# normlab resolved config%s%s: every key, defaults filled in\n", cfg->source[0] ? " of " : "",
            cfg->source);
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        int n = 0;
        for (const char *k = def->key; *k && n < 8;) {
            const size_t len = strcspn(k, ".");
            snprintf(cur[n++], 48, "%.*s", (int)len, k);
            k += len + (k[len] == '.');
        }
        int common = 0;
        while (common < n - 1 && common < n_prev - 1 && !strcmp(cur[common], prev[common]))
            common++;
        for (int s = common; s < n - 1; s++)
            fprintf(out, "%*s%s:\n", 2 * s, "", cur[s]);
        const int indent = 2 * (n - 1);
        if ((def->flags & NL_KF_ZERO_UNSET) && nl_schema_get_int(def, cfg) == 0)
            fprintf(out, "%*s# %s: not set\n", indent, "", cur[n - 1]);
        else if (!nl_schema_applies(def, cfg))
            fprintf(out, "%*s# %s: %s  # applies only when %s\n", indent, "", cur[n - 1],
                    nl_schema_format(def, cfg, value, sizeof value), nl_schema_when_text(def, when, sizeof when));
        else
            fprintf(out, "%*s%s: %s\n", indent, "", cur[n - 1], nl_schema_format(def, cfg, value, sizeof value));
        memcpy(prev, cur, sizeof cur);
        n_prev = n;
    }
    fclose(out);
    return text;
}

/* a text's lines but its comments (the header included) */
static char *without_comments(const char *text)
{
    char *out = calloc(1, strlen(text) + 1);
    ck_assert_ptr_nonnull(out);
    size_t used = 0;
    for (const char *line = text; *line;) {
        const size_t len = strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n');
        if (line[strspn(line, " ")] != '#') {
            memcpy(out + used, line, len);
            used += len;
        }
        line += len;
    }
    return out;
}

/* The resolved config leaves out the keys that do not apply (issue 81) and
 * reads back exactly as the commented form did: the same uncommented
 * lines, so the same dotted keys and value texts in the same order (what a
 * sweep, a plot, a verdict and a checkpoint compare), and a config whose
 * every key formats the same, those that do not apply included, with the
 * same warnings. */
static void same_as_commented_form(const nl_config *cfg, const char *what)
{
    char *now = write_config(cfg), *then = write_commented_form(cfg);
    ck_assert_msg(!strstr(now, "applies only when"), "%s: a key that does not apply is written:\n%s", what, now);
    char *a = without_comments(now), *b = without_comments(then);
    ck_assert_msg(!strcmp(a, b), "%s: the uncommented lines differ from the commented form's:\n%s\n---\n%s", what, a, b);
    free(a);
    free(b);
    nl_flat fn = {0}, ft = {0};
    nl_error err = {0};
    ck_assert_msg(nl_flat_from_yaml(now, "now", &fn, &err) == NL_OK, "%s: %s", what, err.msg);
    ck_assert_msg(nl_flat_from_yaml(then, "then", &ft, &err) == NL_OK, "%s: %s", what, err.msg);
    ck_assert_int_eq(fn.n, ft.n);
    for (int i = 0; i < fn.n; i++)
        ck_assert_msg(!strcmp(fn.items[i].key, ft.items[i].key) && !strcmp(fn.items[i].value, ft.items[i].value),
                      "%s: %s: %s vs %s: %s", what, fn.items[i].key, fn.items[i].value, ft.items[i].key,
                      ft.items[i].value);
    nl_flat_free(&fn);
    nl_flat_free(&ft);
    nl_config *cn = cfg_new(), *ct = cfg_new();
    ck_assert_msg(nl_config_load_string(now, "now.yaml", NULL, 0, cn, &err) == NL_OK, "%s: %s", what, err.msg);
    ck_assert_msg(nl_config_load_string(then, "now.yaml", NULL, 0, ct, &err) == NL_OK, "%s: %s", what, err.msg);
    ck_assert_int_eq(cn->n_warnings, ct->n_warnings);
    for (int i = 0; i < nl_config_schema_count; i++) {
        char vn[2048], vt[2048];
        const nl_key_def *def = &nl_config_schema[i];
        ck_assert_msg(!strcmp(nl_schema_format(def, cn, vn, sizeof vn), nl_schema_format(def, ct, vt, sizeof vt)),
                      "%s: %s reads back as %s, from the commented form as %s", what, def->key, vn, vt);
    }
    free(cn);
    free(ct);
    free(now);
    free(then);
}

static void round_trip(const nl_config *cfg, const char *what)
{
    same_as_commented_form(cfg, what);
    char *text = write_config(cfg);
    assert_yaml11_numbers(text, what);
    nl_config *back = cfg_new();
    nl_error err = {0};
    nl_code code = nl_config_load_string(text, "resolved.yaml", NULL, 0, back, &err);
    ck_assert_msg(code == NL_OK, "%s: the resolved config does not load: %s\n%s", what, err.msg,
                  text);
    assert_same_config(cfg, back, what);
    ck_assert_int_eq(back->n_warnings, 0);
    /* and writes the same text again (but for the header naming the source) */
    char *again = write_config(back);
    ck_assert_str_eq(strchr(text, '\n'), strchr(again, '\n'));
    free(again);
    free(text);
    free(back);
}

START_TEST(test_round_trip)
{
    static const char *const configs[] = {
        "{}\n",
        "model: {norm: {momentum: cumulative}}\n",
        "model: {arch: resnet, widths: [8, 16], norm: {type: batch, momentum: 0.01}}\n",
        "model: {arch: cnn, widths: [8], pool: avg, norm: {type: instance, affine: false}}\n",
        "data: {shape: [5], classes: 3}\nmodel: {norm: {type: layer}, bias: true, init: xavier}\n",
        "train: {steps: 77, schedule: {type: step, milestones: [10, 20, 30], gamma: 0.3}}\n",
        "train: {optimizer: {lr: 0.1, momentum: 0.95, weight_decay: 3e-7}, "
        "schedule: {type: cosine, min_lr: 1e-4, warmup_steps: 5}}\n",
        "name: a.b_c-d+e=f,g@h\ndata: {dataset: mnist, path: \"/tmp/we\\\"ird \\\\ pa\\u00e9th\\t\"}\n"
        "train: {trace: {activation: \"n\\\"3\", percentiles: [0.1, 33.3333, 99.9]}}\n",
        "model: {init: gaussian, init_std: 0.123456789, norm: {eps: 1.5e-8}}\n"
        "train: {diverge_loss: 3.4e38}\n",
        full_config,
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        nl_config *cfg = load_ok(configs[i], NULL, 0);
        char what[32];
        snprintf(what, sizeof what, "round trip %zu", i);
        round_trip(cfg, what);
        free(cfg);
    }
    /* overrides end up in the resolved config */
    const char *ov[] = {"model.widths=[7]", "train.steps=9", "model.norm.momentum=null"};
    nl_config *cfg = load_ok("model: {widths: [16, 32, 64]}\ntrain: {epochs: 4}\n", ov, 3);
    round_trip(cfg, "overrides");
    char *text = write_config(cfg);
    assert_contains(text, "\n  widths: [7]\n", "written widths");
    assert_contains(text, "\n    momentum: cumulative\n", "written momentum");
    assert_contains(text, "\n  steps: 9\n", "written steps");
    assert_contains(text, "\n  # epochs: not set\n", "written epochs");
    free(text);
    free(cfg);
}
END_TEST

/* A config.yaml an earlier normlab wrote for a none run held eps and affine
 * uncommented (they applied to every kind then, and did nothing for none):
 * such a resolved file still loads, warning about each key it drops that is
 * not at its default, and a sweep still sees the run as the config it wants;
 * the same text without the header is a user's config and is refused. */
START_TEST(test_resolved_config_of_earlier_version)
{
    static const char body[] = "seed: 3\nmodel:\n  norm:\n    type: none\n    eps: 0.001\n"
                               "    affine: true\n";
    char old_text[512];
    snprintf(old_text, sizeof old_text, "# normlab resolved config of x.yaml: every key, "
             "defaults filled in\n%s", body);
    nl_config *cfg = cfg_new();
    nl_error err = {0};
    ck_assert_int_eq(nl_config_load_string(old_text, SRC, NULL, 0, cfg, &err), NL_OK);
    /* eps not at its default warns; affine at its default is only the
     * writer's (it wrote every key) and goes quietly */
    ck_assert_int_eq(cfg->n_warnings, 1);
    assert_contains(cfg->warnings[0], SRC ":6:10: model.norm.eps: ignored: it applies only when ",
                    "eps warning");
    assert_contains(cfg->warnings[0], "written by an earlier normlab", "eps warning");
    ck_assert_ptr_null(nl_config_origin_of(cfg, "model.norm.affine"));
    char *now = write_config(cfg);
    /* neither applies to a none run: left out */
    ck_assert_msg(!strstr(now, "\n    eps:") && !strstr(now, "\n    affine:") && strstr(now, "\n    type: none\n"), "%s", now);
    same_as_commented_form(cfg, "earlier version");

    char path[] = "/tmp/nl-old-resolved-XXXXXX";
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, old_text, strlen(old_text)), (ssize_t)strlen(old_text));
    close(fd);
    char diff[512];
    const int differing = nl_sweep_config_diff(path, now, diff, sizeof diff);
    unlink(path);
    ck_assert_msg(differing == 0, "the sweep sees a changed config: %s", diff);
    free(now);

    ck_assert_int_eq(nl_config_load_string(body, SRC, NULL, 0, cfg, &err), NL_ERR_CONFIG);
    assert_contains(err.msg, SRC ":5:10: model.norm.eps: applies only when", "user's config");
    free(cfg);
}
END_TEST

/* ---- the repository's configs ---- */

START_TEST(test_repository_configs)
{
    const char *dir_path = NORMLAB_SOURCE_DIR "/configs";
    DIR *dir = opendir(dir_path);
    ck_assert_msg(dir != NULL, "cannot open %s: %s", dir_path, strerror(errno));
    int count = 0;
    static const char *const required[] = {"quickstart-cnn.yaml", "mlp-batch.yaml", "cnn-group.yaml",
                                           "resnet-pre-layer.yaml", "mlp-sigmoid-ioffe.yaml",
                                           "synthetic-smoke.yaml"};
    int found[6] = {0};
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
        nl_config *cfg = cfg_new();
        nl_error err = {0};
        ck_assert_msg(nl_config_load(path, NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
        ck_assert_msg(nl_config_validate(cfg, &err) == NL_OK, "%s", err.msg);
        ck_assert_msg(cfg->n_warnings == 0, "%s: %s", e->d_name, cfg->warnings[0]);
        ck_assert_msg(!strncmp(cfg->name, e->d_name, len - 5) && strlen(cfg->name) == len - 5,
                      "%s: name %s", e->d_name, cfg->name);
        /* a one-line comment says what it is */
        FILE *f = fopen(path, "r");
        char first[512] = "";
        ck_assert_ptr_nonnull(fgets(first, sizeof first, f));
        fclose(f);
        ck_assert_msg(first[0] == '#' && strlen(first) > 10, "%s: no leading comment", e->d_name);
        round_trip(cfg, e->d_name);
        for (int i = 0; i < 6; i++)
            found[i] |= !strcmp(e->d_name, required[i]);
        free(cfg);
        count++;
    }
    closedir(dir);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(found[i], "configs/%s is missing", required[i]);
    ck_assert_int_ge(count, 6);
}
END_TEST

/* ---- configs/README.md documents every key ---- */

START_TEST(test_readme_documents_every_key)
{
    char *readme = tu_check_generated_section(
        NORMLAB_SOURCE_DIR "/configs/README.md",
        "<!-- BEGIN KEY TABLE (generated; do not edit by hand) -->\n", "<!-- END KEY TABLE -->",
        nl_config_write_key_table, "the key table (from the config schema)");
    /* and, independently of the generator, every key is named */
    for (int i = 0; i < nl_config_key_count(); i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "`%s`", nl_config_key_name(i));
        ck_assert_msg(strstr(readme, needle), "configs/README.md does not document %s", needle);
    }
    ck_assert_ptr_null(nl_config_key_name(nl_config_key_count()));
    /* the semantics users trip over */
    assert_contains(readme, "running = (1 - m) * running + m * batch", "README momentum");
    assert_contains(readme, "momentum: cumulative", "README cumulative");
    assert_contains(readme, "InstanceNorm2d(affine=False)", "README instance affine");
    assert_contains(readme, "GroupNorm with one group", "README layer norm");
    assert_contains(readme, "--set", "README overrides");
    free(readme);
}
END_TEST

/* The YAML walker configs and experiment files share: positions, the typed
 * readers' messages, did-you-mean for names and for dotted paths. */
START_TEST(test_yaml_walker)
{
    nl_error err = {0};
    nl_yaml_doc y;
    const char *text = "a: 12\nb: \"7\"\nc: 2.5\nd: yes\ne: Batch\nf: [1, 2]\n";
    ck_assert_int_eq(nl_yaml_doc_load(&y, text, strlen(text), "w.yaml", NULL, &err), NL_OK);
    yaml_node_t *root = nl_yaml_root(&y);
    ck_assert_int_eq(nl_yaml_count(root), 6);
    ck_assert_int_eq(nl_yaml_check_mapping(&y, root, NULL, "a mapping"), NL_OK);
    const nl_yaml_range small = {.has_lo = true, .has_hi = true, .lo = 0, .hi = 10};
    long long v = 0;
    ck_assert_int_eq(nl_yaml_read_int(&y, nl_yaml_value(&y, root, 0), "a", &small, "0..10", 100, &v),
                     NL_ERR_CONFIG);
    ck_assert_str_eq(err.msg, "w.yaml:1:4: a: 12 is out of range; accepted: 0..10");
    nl_error_clear(&err);
    ck_assert_int_eq(nl_yaml_read_int(&y, nl_yaml_value(&y, root, 0), "a", NULL, NULL, 100, &v), NL_OK);
    ck_assert_int_eq(v, 12);
    ck_assert_int_eq(nl_yaml_read_int(&y, nl_yaml_value(&y, root, 1), "b", NULL, NULL, 100, &v),
                     NL_ERR_CONFIG);
    ck_assert_str_eq(err.msg, "w.yaml:2:4: b: expected an integer, got the quoted string \"7\" "
                              "(remove the quotes)");
    nl_error_clear(&err);
    ck_assert_int_eq(nl_yaml_read_int(&y, nl_yaml_value(&y, root, 2), "c", NULL, NULL, 100, &v),
                     NL_ERR_CONFIG);
    ck_assert_str_eq(err.msg, "w.yaml:3:4: c: 2.5 is not an integer");
    nl_error_clear(&err);
    double x = 0;
    ck_assert_int_eq(nl_yaml_read_number(&y, nl_yaml_value(&y, root, 2), "c", NULL, NULL, &x), NL_OK);
    ck_assert(x == 2.5);
    bool flag = false;
    ck_assert_int_eq(nl_yaml_read_bool(&y, nl_yaml_value(&y, root, 3), "d", &flag), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "w.yaml:4:4: d: 'yes' is not a boolean here"), "%s", err.msg);
    nl_error_clear(&err);
    int kind = -1;
    ck_assert_int_eq(nl_yaml_read_name(&y, nl_yaml_value(&y, root, 4), "e", &nl_norm_names, &kind),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "w.yaml:5:4: e: 'Batch' is not a normalizer") &&
                      strstr(err.msg, "(did you mean 'batch'?)"), "%s", err.msg);
    nl_error_clear(&err);
    /* err->key only for files whose keys are config keys */
    nl_yaml_fail(&y, nl_yaml_value(&y, root, 5), "f[1]", "x");
    ck_assert_str_eq(err.key, "");
    nl_error_clear(&err);
    y.names_keys = true;
    nl_yaml_fail(&y, nl_yaml_value(&y, root, 5), "f[1]", "x");
    ck_assert_str_eq(err.key, "f");
    nl_error_clear(&err);
    nl_yaml_doc_free(&y);

    const char *dup = "set:\n  k: 1\n  k: 2\n";
    ck_assert_int_eq(nl_yaml_doc_load(&y, dup, strlen(dup), "d.yaml", NULL, &err), NL_OK);
    yaml_node_t *set = nl_yaml_value(&y, nl_yaml_root(&y), 0);
    ck_assert_int_eq(nl_yaml_check_mapping(&y, set, "set", "a mapping"), NL_ERR_CONFIG);
    ck_assert_str_eq(err.msg, "d.yaml:3:3: set: k: duplicate key (first given at line 2, column 3); "
                              "each key may appear once");
    nl_error_clear(&err);
    nl_yaml_doc_free(&y);
    ck_assert_int_eq(nl_yaml_doc_load(&y, "a: [", 4, "s.yaml", NULL, &err), NL_ERR_CONFIG);
    ck_assert_msg(!strncmp(err.msg, "s.yaml:", 7) &&
                      strstr(err.msg, ": YAML syntax error: did not find expected node content"),
                  "%s", err.msg);
    nl_error_clear(&err);

    const char *paths[] = {"model.norm.eps", "train.optimizer.eps", "train.batch_size"};
    char guess[256];
    ck_assert_str_eq(nl_yaml_suggest_path("train.batchsize", paths, 3, guess, sizeof guess),
                     "'train.batch_size'");
    ck_assert_str_eq(nl_yaml_suggest_path("eps", paths, 3, guess, sizeof guess),
                     "'model.norm.eps' or 'train.optimizer.eps'");
    ck_assert_str_eq(nl_yaml_suggest_path("zzz", paths, 3, guess, sizeof guess), "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_hand_built_defaults_validate);
    tcase_add_test(tc, test_full_config);
    tcase_add_test(tc, test_good_variants);
    tcase_add_loop_test(tc, test_bad_config, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_formula_keys_read);
    tcase_add_test(tc, test_formula_name_characters);
    tcase_add_loop_test(tc, test_bad_file, 0, (int)(sizeof bad_files / sizeof bad_files[0]));
    tcase_add_test(tc, test_io_errors);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_model_plan_matches_build);
    tcase_add_loop_test(tc, test_bad_override, 0,
                        (int)(sizeof bad_overrides / sizeof bad_overrides[0]));
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_origins);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_resolved_config_of_earlier_version);
    tcase_add_test(tc, test_repository_configs);
    tcase_add_test(tc, test_readme_documents_every_key);
    tcase_add_test(tc, test_yaml_walker);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
