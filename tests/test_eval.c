// ctest-labels: cpu
/* normlab eval and batch norm folding: a folded model computes what the
 * model with its batch norms computes in eval mode, on every architecture
 * and placement that folds (and the others are refused naming the layer);
 * a finished run's final model evaluates to the run's own final numbers;
 * records are never replaced; bad runs, damaged final models and data of
 * another shape are refused with exit status 2, nothing written. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "arch/registry.h"
#include "log/files.h"
#include "model/fold.h"
#include "model/model.h"
#include "norm/registry.h"
#include "testutil.h"
#include "train/final_model.h"

enum { BATCH = 12 };

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    return worst;
}

/* a small model of architecture a with batch norm at placement p, for
 * images of 3x8x8 in 5 classes */
static void small_spec(nl_arch a, nl_placement p, nl_model_spec *spec)
{
    nl_model_spec_defaults(spec);
    spec->arch = a;
    spec->in_c = 3;
    spec->in_h = spec->in_w = 8;
    spec->classes = 5;
    spec->widths[0] = 6;
    spec->widths[1] = 10;
    spec->n_widths = 2;
    spec->d_model = 16;
    spec->heads = 2;
    spec->layers = 1;
    spec->mlp_ratio = 2;
    spec->patch = 4;
    nl_norm_spec_defaults(&spec->norm, NL_NORM_BATCH);
    spec->norm.placement = p;
}

/* parameters and running statistics far from their initial values, so
 * that a fold that dropped gamma, beta, the mean or the variance shows */
static void randomize(nl_model *m, uint64_t seed)
{
    nl_backend *be = m->be;
    float *params = malloc(m->param_floats * sizeof *params);
    float *states = malloc((m->state_floats + 1) * sizeof *states);
    ck_assert(params && states);
    be->ops->download(be, params, m->param_arena, m->param_floats * sizeof *params);
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *p = m->params[i];
        if (!p->is_norm_or_bias)
            continue;
        float *v = params + (p->data - m->param_arena);
        const size_t len = strlen(p->name);
        const bool scale = len > 7 && !strcmp(p->name + len - 7, ".weight");
        tu_fill_uniform(v, p->count, seed + (uint64_t)i, scale ? 0.5f : -0.5f, scale ? 1.5f : 0.5f);
    }
    for (int i = 0; i < m->n_states; i++) {
        const nl_state *s = m->states[i];
        float *v = states + (s->data - m->state_arena);
        const bool var = strstr(s->name, "running_var") != NULL;
        tu_fill_uniform(v, s->count, seed + 1000 + (uint64_t)i, var ? 0.3f : -0.8f, var ? 2.5f : 0.8f);
        /* every third channel nearly constant, as a dead or saturated unit's: its running
         * variance of the order of eps (1e-5), where a fold that drops eps is off by up to
         * sqrt(2) and one that adds it twice by sqrt(3)/sqrt(2) */
        if (var)
            for (size_t k = 0; k < s->count; k += 3)
                v[k] = 1e-5f * (float)(k % 4);
    }
    be->ops->upload(be, m->param_arena, params, m->param_floats * sizeof *params);
    be->ops->upload(be, m->state_arena, states, m->state_floats * sizeof *states);
    free(params);
    free(states);
}

/* the eval-mode logits of one batch, into logits (BATCH x classes), and its loss */
static double eval_logits(nl_model *m, const float *x, const int32_t *y, float *logits)
{
    nl_model_reset_metrics(m);
    nl_model_load_batch(m, x, y, BATCH);
    nl_model_forward(m, BATCH, NL_MODE_EVAL);
    m->be->ops->download(m->be, logits, m->logits->data,
                         (size_t)BATCH * m->spec.classes * sizeof *logits);
    double metrics[2];
    nl_model_read_metrics(m, metrics);
    return metrics[0] / BATCH;
}

/* Folds model `m`'s batch norms: NL_OK with the folded model's logits equal
 * to the original's to float rounding, or the refusal's code (its message
 * naming the layer) */
static nl_code fold_matches(nl_backend *be, const nl_model_spec *spec, const char *what,
                            int *n_folded)
{
    nl_model *m = NULL, *folded = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(spec, be, BATCH, BATCH, 7, &m, &err) == NL_OK, "%s: %s", what,
                  err.msg);
    randomize(m, 11);
    nl_model_spec folded_spec;
    const nl_code rc = nl_fold_bn_spec(m, &folded_spec, n_folded, &err);
    if (rc != NL_OK) {
        ck_assert_msg(rc == NL_ERR_USAGE && strstr(err.msg, "layer "), "%s: %s", what, err.msg);
        nl_model_free(m);
        return rc;
    }
    ck_assert_msg(nl_model_create(&folded_spec, be, BATCH, BATCH, 8, &folded, &err) == NL_OK,
                  "%s folded: %s", what, err.msg);
    ck_assert_msg(nl_fold_bn_weights(m, folded, &err) == NL_OK, "%s: %s", what, err.msg);
    /* nothing of a batch norm is left to run */
    for (int i = 0; i < folded->n_layers; i++)
        ck_assert_msg(strcmp(folded->layers[i]->vt->kind, "batchnorm") != 0, "%s: %s is left",
                      what, folded->layers[i]->name);
    ck_assert_int_eq(folded->n_states, 0);
    const size_t in = (size_t)BATCH * spec->in_c * spec->in_h * spec->in_w;
    const size_t out = (size_t)BATCH * spec->classes;
    float *x = malloc(in * sizeof *x), *a = malloc(out * sizeof *a), *b = malloc(out * sizeof *b);
    int32_t y[BATCH];
    ck_assert(x && a && b);
    tu_fill_normal(x, in, 3, 0.0f, 1.0f);
    for (int i = 0; i < BATCH; i++)
        y[i] = i % spec->classes;
    const double loss = eval_logits(m, x, y, a), folded_loss = eval_logits(folded, x, y, b);
    double scale = 1.0;
    for (size_t i = 0; i < out; i++)
        scale = fmax(scale, fabs(a[i]));
    ck_assert_msg(max_abs_diff(a, b, out) <= 2e-5 * scale,
                  "%s: folded logits differ by %g (largest logit %g)", what,
                  max_abs_diff(a, b, out), scale);
    ck_assert_msg(fabs(loss - folded_loss) <= 2e-5 * fmax(1.0, loss), "%s: loss %.9g folded %.9g",
                  what, loss, folded_loss);
    free(x);
    free(a);
    free(b);
    nl_model_free(folded);
    nl_model_free(m);
    return NL_OK;
}

/* Every image architecture that takes batch norm, at every placement it
 * accepts: folded where batch norm directly follows a linear or
 * convolution, refused naming the layer where it does not. The MLP, the
 * CNN and the ResNet each fold at their default placement. */
START_TEST(test_fold_every_architecture)
{
    nl_backend *be = tu_cpu(1);
    const nl_norm_info *batch = nl_norm_info_of(NL_NORM_BATCH);
    int folded_archs = 0;
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *r = nl_arch_info_of((nl_arch)a);
        if ((r->inputs & NL_ARCH_IN_TOKENS) || !nl_norm_accepts(batch, r->norm_ndim))
            continue;
        bool folds_default = false;
        for (int p = 0; p < NL_PLACE_COUNT; p++) {
            if (!nl_arch_accepts_placement(r, (nl_placement)p))
                continue;
            nl_model_spec spec;
            small_spec((nl_arch)a, (nl_placement)p, &spec);
            char what[96];
            snprintf(what, sizeof what, "%s, placement %s", r->id.name,
                     nl_name_of(&nl_placement_names, p));
            int n_folded = 0;
            if (fold_matches(be, &spec, what, &n_folded) == NL_OK) {
                ck_assert_msg(n_folded > 0, "%s: nothing folded", what);
                folds_default = folds_default || p == (int)r->default_placement;
            }
        }
        if (a == NL_ARCH_MLP || a == NL_ARCH_CNN || a == NL_ARCH_RESNET) {
            ck_assert_msg(folds_default, "%s does not fold at its default placement", r->id.name);
            folded_archs++;
        }
    }
    ck_assert_int_eq(folded_archs, 3);
    nl_backend_close(be);
}
END_TEST

/* the variants that still fold: no affine parameters, a ResNet with its
 * projection shortcuts, a CNN of two convolutions per stage with average
 * pooling; those that cannot are refused: no running statistics, weight
 * standardization, another normalizer, batch-channel norm (whose group
 * step would be dropped) */
START_TEST(test_fold_variants)
{
    nl_backend *be = tu_cpu(1);
    nl_model_spec spec;
    int n = 0;
    small_spec(NL_ARCH_MLP, NL_PLACE_BEFORE, &spec);
    spec.norm.affine = false;
    ck_assert_int_eq(fold_matches(be, &spec, "mlp without affine", &n), NL_OK);
    ck_assert_int_eq(n, 2);
    small_spec(NL_ARCH_RESNET, NL_PLACE_POST, &spec);
    spec.blocks_per_stage = 2;
    ck_assert_int_eq(fold_matches(be, &spec, "resnet of 2 blocks per stage", &n), NL_OK);
    /* stem, 2 per block, the second stage's shortcut */
    ck_assert_int_eq(n, 1 + 2 * 4 + 1);
    small_spec(NL_ARCH_CNN, NL_PLACE_BEFORE, &spec);
    spec.convs_per_stage = 2;
    spec.pool = NL_POOL_AVG;
    ck_assert_int_eq(fold_matches(be, &spec, "cnn, 2 convs per stage, average pooling", &n), NL_OK);
    ck_assert_int_eq(n, 4);
    small_spec(NL_ARCH_CNN, NL_PLACE_BEFORE, &spec);
    spec.norm_noise.distribution = NL_NOISE_GAUSSIAN; /* training only: eval folds as without */
    ck_assert_int_eq(fold_matches(be, &spec, "cnn with noisy batch norm", &n), NL_OK);
    ck_assert_int_eq(n, 2);

    const struct {
        const char *what, *fragment;
        void (*change)(nl_model_spec *spec);
    } refused[] = {
        {"no running statistics", "track_running_stats", NULL},
        {"weight standardization", "model.weight_standardization", NULL},
        {"group norm", "model.norm.type group", NULL},
        /* its batch step folds, its channel step cannot */
        {"batch-channel norm", "model.norm.type batch_channel", NULL},
    };
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        small_spec(NL_ARCH_CNN, NL_PLACE_BEFORE, &spec);
        if (k == 0)
            spec.norm.track_running_stats = false;
        else if (k == 1)
            spec.weight_standardization = true;
        else {
            nl_norm_spec_defaults(&spec.norm, k == 2 ? NL_NORM_GROUP : NL_NORM_BATCH_CHANNEL);
            spec.norm.groups = 2;
        }
        nl_model *m = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec, be, BATCH, BATCH, 7, &m, &err) == NL_OK, "%s",
                      err.msg);
        nl_model_spec folded;
        ck_assert_int_eq(nl_fold_bn_spec(m, &folded, &n, &err), NL_ERR_USAGE);
        ck_assert_msg(strstr(err.msg, refused[k].fragment), "%s: %s", refused[k].what, err.msg);
        nl_model_free(m);
    }
    nl_backend_close(be);
}
END_TEST

static const char *cnn_config =
    "name: evalcnn\n"
    "seed: 5\n"
    "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, train_size: 256, test_size: 96}\n"
    "model:\n"
    "  arch: cnn\n"
    "  widths: [6, 8]\n"
    "  norm: {type: batch}\n"
    "train:\n"
    "  batch_size: 16\n"
    "  eval_batch_size: 32\n"
    "  steps: 24\n"
    "  eval_every: 24\n"
    "  log_every: 8\n"
    "  optimizer: {lr: 0.05, momentum: 0.9}\n";

static double json_number(const char *rel, const char *key)
{
    char *json = tu_tmp_read(rel), value[64];
    ck_assert_msg(nl_json_flat_get(json, key, value, sizeof value), "%s has no %s", rel, key);
    free(json);
    return atof(value);
}

/* the names under tu_tmp/<rel>, sorted, one a line ("" when it is missing) */
static char *listing(const char *rel)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, rel);
    nl_buf b = {0};
    nl_buf_printf(&b, "%s", "");
    struct dirent **entries;
    const int n = scandir(path, &entries, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        nl_buf_printf(&b, "%s\n", entries[i]->d_name);
        free(entries[i]);
    }
    if (n >= 0)
        free(entries);
    return b.data;
}

/* exit status 2, the message holding `fragment`, and RUN_DIR/eval as it was */
static void refused(const char *args, const char *fragment)
{
    char *before = listing("r/eval"), *csv_before = listing("r");
    ck_assert_int_eq(tu_normlab(args), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, fragment), "normlab %s: no '%s' in:\n%s", args, fragment, out);
    char *after = listing("r/eval"), *csv_after = listing("r");
    ck_assert_msg(!strcmp(before, after) && !strcmp(csv_before, csv_after),
                  "normlab %s wrote something", args);
    free(out);
    free(before);
    free(after);
    free(csv_before);
    free(csv_after);
}

/* a finished run's final model evaluates to the run's own final test
 * loss and accuracy; folded, to the same to float rounding; records are
 * numbered, never replaced, and each has its CSV row */
START_TEST(test_eval_finished_run)
{
    tu_tmp_make("eval");
    tu_tmp_write("cnn.yaml", cnn_config);
    ck_assert_int_eq(tu_normlab("run cnn.yaml --out r --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("eval r --threads 1"), 0);
    const double run_loss = json_number("r/summary.json", "final_test_loss");
    const double run_acc = json_number("r/summary.json", "final_test_accuracy");
    ck_assert_msg(fabs(json_number("r/eval/test.json", "loss") - run_loss) <= 1e-6 * fmax(1, run_loss),
                  "eval loss %.9g, the run's %.9g", json_number("r/eval/test.json", "loss"), run_loss);
    ck_assert_double_eq(json_number("r/eval/test.json", "accuracy"), run_acc);
    ck_assert_double_eq(json_number("r/eval/test.json", "samples"), 96);
    ck_assert_double_eq(json_number("r/eval/test.json", "step"), 24);

    ck_assert_int_eq(tu_normlab("eval r --fold-bn --threads 1"), 0);
    const double folded_loss = json_number("r/eval/test-folded.json", "loss");
    ck_assert_msg(fabs(folded_loss - run_loss) <= 1e-5 * fmax(1, run_loss),
                  "folded loss %.9g, unfolded %.9g", folded_loss, run_loss);
    ck_assert_msg(fabs(json_number("r/eval/test-folded.json", "accuracy") - run_acc) <= 1.0 / 96 + 1e-12,
                  "folded accuracy %g, unfolded %g", json_number("r/eval/test-folded.json", "accuracy"),
                  run_acc);
    ck_assert_double_eq(json_number("r/eval/test-folded.json", "folded_layers"), 2);

    /* a second evaluation is a second record */
    ck_assert_int_eq(tu_normlab("eval r --threads 1"), 0);
    ck_assert_double_eq(json_number("r/eval/test-2.json", "accuracy"), run_acc);
    /* another test split of the same shape */
    ck_assert_int_eq(tu_normlab("eval r --data test_size=40 --name small-test"), 0);
    ck_assert_double_eq(json_number("r/eval/small-test.json", "samples"), 40);
    char *csv = tu_tmp_read("r/eval/evals.csv");
    int rows = 0;
    for (const char *c = csv; (c = strchr(c, '\n')); c++)
        rows++;
    ck_assert_msg(rows == 5 && strstr(csv, "\ntest-folded,") && strstr(csv, "\nsmall-test,") &&
                      strstr(csv, "data.test_size=40"), "%s", csv);
    free(csv);
    /* 'data.' left out of a dotted key (data.shift.invert) as of any other */
    ck_assert_int_eq(tu_normlab("eval r --data shift.invert=true --name inverted --threads 1"), 0);
    csv = tu_tmp_read("r/eval/evals.csv");
    ck_assert_msg(strstr(csv, "\ninverted,") && strstr(csv, "data.shift.invert=true"), "%s", csv);
    free(csv);
    refused("eval r --data shift.bogus=1", "data.shift.bogus");
    char *before = tu_tmp_read("r/eval/test.json");
    refused("eval r --name test", "never replaced");
    char *after = tu_tmp_read("r/eval/test.json");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);

    /* data the model cannot take */
    refused("eval r --data shape=[1,8,8]", "1x8x8 inputs in 4 classes");
    refused("eval r --data classes=3", "in 3 classes");
    refused("eval r --data model.widths=[4]", "only data.* keys");
    refused("eval r --data bogus=1", "data.bogus");
    refused("eval r --device gpu", "not a device");

    /* eval mode at --batch 1 where evaluation takes the batch's statistics
     * (custom, eval_stats batch, over the batch alone on features): one
     * value per set, refused as validate refuses train.eval_batch_size 1 */
    tu_tmp_write("cu.yaml", "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64, test_size: 16}\n"
                            "model: {arch: mlp, widths: [16], norm: {type: custom, reduce: [batch], "
                            "eval_stats: batch}}\ntrain: {batch_size: 16, steps: 4, eval_every: 4, log_every: 2}\n");
    ck_assert_int_eq(tu_normlab("run cu.yaml --out cu --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("eval cu --batch 1 --threads 1"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "--batch 1 leaves layer norm1 of cu one value per normalized set") &&
                      strstr(out, "(model.norm.eval_stats batch)"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("eval cu --batch 2 --threads 1"), 0);
    /* 16 samples in batches of 5: the last alone in its batch */
    ck_assert_int_eq(tu_normlab("eval cu --batch 5 --threads 1"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "batches of 5 leave the last of the 16 test samples alone in its batch, which layer "
                              "norm1 of cu normalizes over one value"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("eval cu --batch 6 --threads 1"), 0);
    tu_tmp_remove();
}
END_TEST

/* not a run, an unfinished run, a missing, damaged or foreign final model,
 * and a model --fold-bn cannot fold: exit 2, nothing written */
START_TEST(test_eval_refusals)
{
    tu_tmp_make("eval-refusals");
    tu_tmp_write("cnn.yaml", cnn_config);
    ck_assert_int_eq(tu_normlab("run cnn.yaml --out r --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("eval"), 2);
    refused("eval .", "is not a run directory");
    refused("eval r/nothing", "is not a run directory");
    /* --data sizing either split past any machine's memory: refused before
     * the load (found by tests/fuzz/fuzz_eval_args.c: it was exit 1, out of
     * memory, or a machine swapping) */
    static const char *const sizes[] = {"train_size", "test_size"};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char args[200];
        snprintf(args, sizeof args, "eval r --data %s=2000000000", sizes[i]);
        refused(args, "(physical memory)");
    }

    /* a record name is one file name, with room for the temporary suffix
     * (found by fuzz_eval_args: 300 characters was exit 1, "File name too
     * long"); 200 is the longest taken */
    static const struct { int length; bool taken; } names[] = {{200, true}, {201, false}, {300, false}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char args[450];
        snprintf(args, sizeof args, "eval r --name %.*s", names[i].length,
                 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
                 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
                 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn");
        if (names[i].taken)
            ck_assert_int_eq(tu_normlab(args), 0);
        else
            refused(args, "is not a record name (up to 200");
    }

    char *model = tu_tmp_read("r/" NL_FINAL_MODEL_FILE);
    char path[600];
    snprintf(path, sizeof path, "%s/r/%s", tu_tmp, NL_FINAL_MODEL_FILE);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    const size_t len = (size_t)sb.st_size;
    nl_error err = {0};
    /* a flipped byte, a cut file, another file, none */
    model[len - 3] ^= 0x40;
    ck_assert_int_eq(nl_write_atomic(path, model, len, &err), NL_OK);
    refused("eval r", "checksum");
    model[len - 3] ^= 0x40;
    ck_assert_int_eq(nl_write_atomic(path, model, len - 9, &err), NL_OK);
    refused("eval r", "truncated");
    static const char foreign[] = "a text file where the final model was, longer than a header";
    ck_assert_int_eq(nl_write_atomic(path, foreign, sizeof foreign - 1, &err), NL_OK);
    refused("eval r", "not a normlab final model");
    unlink(path);
    refused("eval r", "no final model");
    /* the model of another config: the same arrays, another seed */
    tu_tmp_write("other.yaml", cnn_config);
    ck_assert_int_eq(tu_normlab("run other.yaml --set seed=6 --out o --quiet --threads 1"), 0);
    char *other = tu_tmp_read("o/" NL_FINAL_MODEL_FILE);
    ck_assert_int_eq(nl_write_atomic(path, other, len, &err), NL_OK);
    refused("eval r", "seed: 6 -> 5");
    free(other);
    ck_assert_int_eq(nl_write_atomic(path, model, len, &err), NL_OK);
    ck_assert_int_eq(tu_normlab("eval r --name restored"), 0);
    free(model);

    /* a run that did not finish */
    char *summary = tu_tmp_read("r/summary.json");
    char *status = strstr(summary, "\"ok\"");
    ck_assert_ptr_nonnull(status);
    nl_buf failed = {0};
    nl_buf_printf(&failed, "%.*s\"failed\"%s", (int)(status - summary), summary, status + 4);
    tu_tmp_write("r/summary.json", failed.data);
    refused("eval r", "unfinished run (status failed)");
    nl_buf_free(&failed);
    tu_tmp_write("r/summary.json", summary);
    free(summary);
    ck_assert_int_eq(tu_normlab("eval r --name finished-again"), 0);

    /* batch norm after the activation has no weight right before it */
    tu_tmp_write("after.yaml", "name: after\n"
                               "data: {dataset: synthetic, shape: [12], classes: 3, train_size: 64, test_size: 32}\n"
                               "model: {arch: mlp, widths: [8], norm: {type: batch, placement: after}}\n"
                               "train: {batch_size: 16, steps: 2}\n");
    ck_assert_int_eq(tu_normlab("run after.yaml --out a --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("eval a --fold-bn"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "layer norm1 (batch norm) reads the output of act1") &&
                      strstr(out, "placement after"), "%s", out);
    free(out);
    char *listed = listing("a/eval");
    ck_assert_str_eq(listed, "");
    free(listed);
    tu_tmp_remove();
}
END_TEST

/* the test loss and accuracy metrics.csv records at step 0 */
static void step0_test(const char *dir, double *loss, double *accuracy)
{
    char rel[300];
    snprintf(rel, sizeof rel, "%s/metrics.csv", dir);
    char *csv = tu_tmp_read(rel);
    const char *row = strstr(csv, "\n0,0.0000,test,");
    ck_assert_msg(row, "no step-0 test row in %s:\n%s", rel, csv);
    ck_assert_int_eq(sscanf(row + strlen("\n0,0.0000,test,"), "%lf,%lf", loss, accuracy), 2);
    free(csv);
}

/* init.from: a run starts from another's final model: its step-0
 * evaluation is the source's final one; another class count takes a new
 * head; another layer shape, or no finished run, is refused naming it */
START_TEST(test_init_from)
{
    tu_tmp_make("eval-init");
    tu_tmp_write("cnn.yaml", cnn_config);
    ck_assert_int_eq(tu_normlab("run cnn.yaml --out r --quiet --threads 1"), 0);
    nl_buf ft = {0};
    nl_buf_printf(&ft, "%sinit: {from: r}\n", cnn_config);
    tu_tmp_write("ft.yaml", ft.data);
    nl_buf_free(&ft);
    ck_assert_int_eq(tu_normlab("run ft.yaml --out f --threads 1 --set train.steps=8"), 0);
    char *out = tu_normlab_output();
    /* init.from as resolved: the absolute path */
    ck_assert_msg(strstr(out, "/r (its final model, step 24)") &&
                      strstr(out, "and the running statistics carried over"), "%s", out);
    free(out);
    double loss, accuracy;
    step0_test("f", &loss, &accuracy);
    const double run_loss = json_number("r/summary.json", "final_test_loss");
    ck_assert_msg(fabs(loss - run_loss) <= 1e-6 * fmax(1, run_loss), "step 0 %.9g, source %.9g",
                  loss, run_loss);
    ck_assert_double_eq(accuracy, json_number("r/summary.json", "final_test_accuracy"));

    /* 3 classes of the same images: a new head */
    ck_assert_int_eq(tu_normlab("run ft.yaml --out g --threads 1 --set train.steps=8 "
                                "--set data.classes=3"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "a new classifier head"), "%s", out);
    free(out);

    /* another width: refused naming the layer, nothing written */
    ck_assert_int_eq(tu_normlab("run ft.yaml --out h --set model.widths=[6,4]"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "init.from: layer conv2: conv2.weight is 8x6x3x3 in "),
                  "%s", out);
    ck_assert_msg(strstr(out, "/r, 4x6x3x3 here"),
                  "%s", out);
    free(out);
    char *listed = listing("h");
    ck_assert_str_eq(listed, "");
    free(listed);
    ck_assert_int_eq(tu_normlab("run ft.yaml --out h --set init.from=nowhere"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "init.from: /") && strstr(out, "/nowhere is not a run directory"),
                  "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* the column `name` of a CSV row, by the header's names (no quoted fields) */
static void csv_field(const char *header, const char *line, const char *name, char *out,
                      size_t size)
{
    int col = -1, k = 0;
    for (const char *h = header; *h; k++) {
        const size_t len = strcspn(h, ",\n");
        if (len == strlen(name) && !strncmp(h, name, len))
            col = k;
        h += len + (h[len] != '\0');
    }
    ck_assert_msg(col >= 0, "no column %s in %s", name, header);
    const char *f = line;
    for (int i = 0; i < col; i++)
        f += strcspn(f, ",") + 1;
    snprintf(out, size, "%.*s", (int)strcspn(f, ",\n"), f);
}

static const char *lstm_config =
    "name: evallstm\n"
    "seed: 3\n"
    "data: {dataset: synthetic_text}\n"
    "model:\n"
    "  arch: rnn_lm\n"
    "  cell: lstm\n"
    "  hidden: 12\n"
    "  layers: 2\n"
    "  context: 8\n"
    "  norm: {type: batch, placement: in_cell}\n"
    "train:\n"
    "  batch_size: 8\n"
    "  eval_batch_size: 16\n"
    "  steps: 12\n"
    "  eval_every: 12\n"
    "  log_every: 6\n"
    "  optimizer: {type: adamw, lr: 0.01}\n";

/* a recurrent language model (a BN-LSTM) evaluates at its own context to
 * the run's final loss, at any batch size to the same in eval mode, at
 * another context over that many tokens a window, and the record says the
 * context and batch; --context on a model whose length its build fixes,
 * a length or batch below 1, batch statistics of one sample and of a folded
 * model are refused; a batch larger than the split takes the whole split */
START_TEST(test_eval_recurrent_lengths)
{
    tu_tmp_make("eval-lm");
    tu_tmp_write("lstm.yaml", lstm_config);
    tu_tmp_write("cnn.yaml", cnn_config);
    ck_assert_int_eq(tu_normlab("run lstm.yaml --out r --quiet --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("eval r --threads 1"), 0);
    const double run_loss = json_number("r/summary.json", "final_test_loss");
    const double loss = json_number("r/eval/test.json", "loss");
    ck_assert_msg(fabs(loss - run_loss) <= 1e-6 * fmax(1, run_loss), "eval loss %.9g, run's %.9g",
                  loss, run_loss);
    ck_assert_double_eq(json_number("r/eval/test.json", "context"), 8);
    ck_assert_double_eq(json_number("r/eval/test.json", "batch"), 16);

    /* running statistics: the batch size changes nothing */
    ck_assert_int_eq(tu_normlab("eval r --batch 1 --threads 1"), 0);
    ck_assert_msg(fabs(json_number("r/eval/test-b1.json", "loss") - loss) <= 1e-6 * fmax(1, loss),
                  "batch 1: %.9g, batch 16: %.9g", json_number("r/eval/test-b1.json", "loss"), loss);

    ck_assert_int_eq(tu_normlab("eval r --context 16 --batch 3 --threads 1"), 0);
    ck_assert_double_eq(json_number("r/eval/test-t16-b3.json", "context"), 16);
    ck_assert_double_eq(json_number("r/eval/test-t16-b3.json", "trained_context"), 8);
    ck_assert_double_eq(json_number("r/eval/test-t16-b3.json", "batch"), 3);
    ck_assert_double_eq(json_number("r/eval/test-t16-b3.json", "samples"),
                        floor(json_number("r/eval/test.json", "samples") / 2));
    const double long_loss = json_number("r/eval/test-t16-b3.json", "loss");
    ck_assert_msg(isfinite(long_loss) && long_loss != loss, "context 16: %.9g", long_loss);

    ck_assert_int_eq(tu_normlab("eval r --context 32 --batch 4 --batch-stats --threads 1"), 0);
    char *csv = tu_tmp_read("r/eval/evals.csv");
    /* the row's last columns: context, trained_context, batch, batch_stats */
    ck_assert_msg(strstr(csv, "\ntest-t32-b4-batchstats,") && strstr(csv, ",32,8,4,true\n") &&
                      strstr(csv, ",context,trained_context,batch,batch_stats\n"), "%s", csv);
    free(csv);
    char *json = tu_tmp_read("r/eval/test-t32-b4-batchstats.json");
    ck_assert_msg(strstr(json, "\"batch_stats\": true"), "%s", json);
    free(json);

    /* train.log.step_norms: a row per step at each evaluation, training unchanged */
    ck_assert_int_eq(tu_normlab("run lstm.yaml --out s --quiet --threads 1 "
                                "--set train.log.step_norms=true"), 0);
    char *a = tu_metrics_without_time("r"), *b = tu_metrics_without_time("s");
    ck_assert_msg(!strcmp(a, b), "the probe changed training:\n%s\nvs\n%s", a, b);
    free(a);
    free(b);
    char *series = tu_tmp_read("s/series.csv");
    int rows = 0;
    for (const char *c = series; (c = strstr(c, ",step_norm,")); c++)
        rows++;
    /* evaluations at steps 0 and 12, 8 steps of each of the 2 layers */
    ck_assert_msg(rows == 2 * 8 * 2 && strstr(series, "\n12,step_norm,7,lstm.l1,"), "%s", series);
    free(series);

    ck_assert_int_eq(tu_normlab("run cnn.yaml --out c --quiet --threads 1"), 0);
    refused("run cnn.yaml --out c2 --set train.log.step_norms=true", "no recurrent layer");
    refused("eval c --context 16", "--context takes the recurrent language models: rnn_lm");
    refused("eval r --context 0", "--context: '0' is not a whole number from 1");
    refused("eval r --batch -2", "--batch: '-2' is not a whole number from 1");
    refused("eval r --batch-stats --batch 1", "batches of 1");
    /* folding leaves no batch statistics to evaluate with */
    refused("eval c --fold-bn --batch-stats", "--fold-bn and --batch-stats together");

    /* a batch larger than the split is the whole split in one batch, the
     * model planned for no more: 2^24 of these images would not fit in
     * memory; with batch statistics, whose short batch is left out, refused */
    ck_assert_int_eq(tu_normlab("eval c --batch 16777216 --threads 1"), 0);
    ck_assert_double_eq(json_number("c/eval/test-b16777216.json", "batch"), 96);
    ck_assert_double_eq(json_number("c/eval/test-b16777216.json", "samples"), 96);
    ck_assert_int_eq(tu_normlab("eval r --batch 16777216 --threads 1"), 0);
    ck_assert_double_eq(json_number("r/eval/test-b16777216.json", "batch"),
                        json_number("r/eval/test.json", "samples"));
    ck_assert_msg(fabs(json_number("r/eval/test-b16777216.json", "loss") - loss) <= 1e-6 * fmax(1, loss),
                  "the whole split in one batch: %.9g, batch 16: %.9g",
                  json_number("r/eval/test-b16777216.json", "loss"), loss);
    refused("eval c --batch-stats --batch 16777216", "fewer than one batch");
    tu_tmp_remove();
}
END_TEST

/* normlab bench --eval: a row for each model and batch, unfolded and folded;
 * batch 1 too, where training batch norm on features is refused but eval is not */
START_TEST(test_bench_eval)
{
    tu_tmp_make("eval-bench");
    ck_assert_int_eq(tu_normlab("bench --eval --quick --threads 1 --model mlp,cnn --batch 1,4 "
                                "--csv e.csv"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "speed-up"), "%s", out);
    free(out);
    char *csv = tu_tmp_read("e.csv");
    const char *header = csv, *line = strchr(csv, '\n');
    int unfolded = 0, folded = 0;
    for (; line && line[1]; line = strchr(line + 1, '\n')) {
        char section[32], mode[32], kernel[32], sps[64], fraction[64], norm[32];
        csv_field(header, line + 1, "section", section, sizeof section);
        if (strcmp(section, "eval") != 0)
            continue;
        csv_field(header, line + 1, "mode", mode, sizeof mode);
        csv_field(header, line + 1, "kernel", kernel, sizeof kernel);
        csv_field(header, line + 1, "samples_per_s", sps, sizeof sps);
        csv_field(header, line + 1, "fraction", fraction, sizeof fraction);
        csv_field(header, line + 1, "norm", norm, sizeof norm);
        ck_assert_str_eq(kernel, "eval_forward");
        ck_assert_str_eq(norm, "batch");
        ck_assert_msg(atof(sps) > 0 && atof(fraction) > 0, "%s", line + 1);
        unfolded += !strcmp(mode, "unfolded");
        folded += !strcmp(mode, "folded");
    }
    ck_assert_int_eq(unfolded, 4);
    ck_assert_int_eq(folded, 4);
    free(csv);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("eval");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_fold_every_architecture);
    tcase_add_test(tc, test_fold_variants);
    tcase_add_test(tc, test_eval_finished_run);
    tcase_add_test(tc, test_eval_refusals);
    tcase_add_test(tc, test_eval_recurrent_lengths);
    tcase_add_test(tc, test_bench_eval);
    tcase_add_test(tc, test_init_from);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
