/* init.bn_policy: what a run started from init.from does with the source's
 * batch norms, each policy's effect read off the model directly: reset
 * leaves mean 0 and variance 1; freeze trains with the running statistics
 * (a training forward equals an eval-mode one) and never changes them, and
 * with init.bn_freeze_affine holds gamma and beta too; recalibrate leaves
 * the plain average of K batches' statistics; group_norm gives group norms
 * with the batch norms' gamma and beta. Every contradiction is refused
 * with exit status 2, naming the key, and nothing written. */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "config/config.h"
#include "log/files.h"
#include "model/model.h"
#include "testutil.h"
#include "train/checkpoint.h"
#include "train/check.h"
#include "train/final_model.h"
#include "train/init_from.h"
#include "train/recalibrate.h"
#include "train/train.h"

/* the source: a CNN with batch norm trained a little on synthetic images */
static const char *source_config =
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
    "  optimizer: {lr: 0.05, momentum: 0.9, weight_decay: 0.01}\n";

/* the fine-tuning: the source's config with seed 9 (other synthetic
 * images), model.norm replaced when `model_norm` is given, started from r */
static char *finetune_text(const char *model_norm, const char *init_keys)
{
    const char *norm = strstr(source_config, "{type: batch}");
    nl_buf b = {0};
    nl_buf_printf(&b, "seed: 9%.*s%s%s", (int)(norm - source_config - strlen("seed: 5")),
                  source_config + strlen("seed: 5"), model_norm ? model_norm : "{type: batch}",
                  norm + strlen("{type: batch}"));
    nl_buf_printf(&b, "init: {from: %s/r%s%s}\n", tu_tmp, init_keys[0] ? ", " : "", init_keys);
    return b.data;
}

static void load_config(const char *text, nl_config *cfg)
{
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(text, "ft.yaml", NULL, 0, cfg, &err) == NL_OK, "%s",
                  err.msg);
    ck_assert_msg(nl_init_from_check(cfg, 0, NULL, &err) == NL_OK, "%s", err.msg);
}

/* the fine-tuning model, built as a run builds it, init.from applied */
static nl_model *finetune_model(nl_backend *be, const nl_config *cfg)
{
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, be, cfg->train.eval_batch_size, cfg->train.batch_size,
                                 cfg->seed, &m, &err) == NL_OK, "%s", err.msg);
    char note[1400];
    ck_assert_msg(nl_init_from_load(cfg, m, NULL, note, sizeof note, &err) == NL_OK, "%s", err.msg);
    return m;
}

/* the final model of run directory tu_tmp/<rel> */
static nl_model *final_model(nl_backend *be, const char *rel)
{
    char dir[700], path[800];
    snprintf(dir, sizeof dir, "%s/%s", tu_tmp, rel);
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    nl_config *cfg = calloc(1, sizeof *cfg);
    nl_error err = {0};
    ck_assert_msg(nl_config_load(path, NULL, 0, cfg, &err) == NL_OK, "%s", err.msg);
    nl_model *m = NULL;
    nl_final_model_info info;
    ck_assert_msg(nl_final_model_load(dir, cfg, be, cfg->train.eval_batch_size, &m, &info, &err) ==
                      NL_OK, "%s", err.msg);
    free(cfg);
    return m;
}

static float *host_copy(nl_backend *be, const float *device, size_t n)
{
    float *host = malloc(n * sizeof *host);
    be->ops->download(be, host, device, n * sizeof *host);
    nl_error err = {0};
    ck_assert_msg(be->ops->synchronize(be, &err) == NL_OK, "%s", err.msg);
    return host;
}

static float *param_of(nl_backend *be, const nl_model *m, const char *name)
{
    const nl_param *p = nl_model_param(m, name);
    ck_assert_msg(p, "no parameter %s", name);
    return host_copy(be, p->data, p->count);
}

static float *state_of(nl_backend *be, const nl_model *m, const char *name)
{
    const nl_state *s = nl_model_state(m, name);
    ck_assert_msg(s, "no state %s", name);
    return host_copy(be, s->data, s->count);
}

static bool same_values(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* the source run r, trained once for every test of the file */
static void make_source(void)
{
    tu_tmp_make("finetune");
    tu_tmp_write("src.yaml", source_config);
    ck_assert_int_eq(tu_normlab("run src.yaml --out r --quiet --threads 1"), 0);
}

/* every state of `m` next to the source's: equal, or (reset) the initial value */
static void check_states(nl_backend *be, const nl_model *m, const nl_model *src, bool reset)
{
    ck_assert_int_gt(m->n_states, 0);
    for (int i = 0; i < m->n_states; i++) {
        const nl_state *s = m->states[i];
        float *got = state_of(be, m, s->name), *source = state_of(be, src, s->name);
        bool source_initial = true;
        for (size_t k = 0; k < s->count; k++) {
            const float want = reset ? s->init_value : source[k];
            ck_assert_msg(got[k] == want, "%s[%zu] = %g, want %g", s->name, k, got[k], want);
            source_initial &= source[k] == s->init_value;
        }
        /* otherwise reset and keep could not be told apart */
        ck_assert_msg(!source_initial, "the source's %s never moved", s->name);
        free(got);
        free(source);
    }
}

START_TEST(test_keep_and_reset)
{
    make_source();
    nl_backend *be = tu_cpu(1);
    nl_model *src = final_model(be, "r");
    for (int reset = 0; reset <= 1; reset++) {
        char *text = finetune_text(NULL, reset ? "bn_policy: reset" : "");
        nl_config *cfg = calloc(1, sizeof *cfg);
        load_config(text, cfg);
        nl_model *m = finetune_model(be, cfg);
        check_states(be, m, src, reset);
        for (int i = 0; i < m->n_counters; i++)
            ck_assert_int_eq(*m->counters[i], 0);
        /* the weights are the source's under either */
        float *w = param_of(be, m, "conv1.weight"), *v = param_of(be, src, "conv1.weight");
        ck_assert(same_values(w, v, nl_model_param(m, "conv1.weight")->count));
        free(w);
        free(v);
        nl_model_free(m);
        free(cfg);
        free(text);
    }
    nl_model_free(src);
    nl_backend_close(be);
    tu_tmp_remove();
}
END_TEST

/* the largest |a - b| over n */
static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* logits of one training batch in `mode` */
static float *logits_in(nl_backend *be, nl_model *m, const nl_dataset *ds, int n, nl_mode mode)
{
    nl_model_load_batch(m, ds->train.x, ds->train.y, n);
    nl_model_forward(m, n, mode);
    return host_copy(be, m->logits->data, (size_t)n * m->spec.classes);
}

/* the parameters of every batch norm layer (those with running statistics) */
static bool is_norm_param(const nl_model *m, const char *name)
{
    for (int i = 0; i < m->n_states; i++) {
        const char *dot = strrchr(m->states[i]->name, '.');
        const size_t layer = (size_t)(dot - m->states[i]->name);
        if (!strncmp(name, m->states[i]->name, layer) && name[layer] == '.')
            return true;
    }
    return false;
}

START_TEST(test_freeze)
{
    make_source();
    nl_backend *be = tu_cpu(1);
    nl_model *src = final_model(be, "r");
    /* the training forward at step 0 is the eval-mode forward */
    char *text = finetune_text(NULL, "bn_policy: freeze");
    nl_config *cfg = calloc(1, sizeof *cfg);
    load_config(text, cfg);
    nl_model *m = finetune_model(be, cfg);
    nl_dataset ds = {0};
    nl_error err = {0};
    ck_assert_msg(nl_dataset_load(&cfg->data, &ds, &err) == NL_OK, "%s", err.msg);
    const int n = cfg->train.batch_size;
    const nl_mode mode = nl_train_mode_at(&cfg->train, 0);
    ck_assert_int_eq(mode, NL_MODE_RUNNING_STATS);
    float *train = logits_in(be, m, &ds, n, mode), *eval = logits_in(be, m, &ds, n, NL_MODE_EVAL);
    float *batch = logits_in(be, m, &ds, n, NL_MODE_TRAIN_FROZEN);
    const size_t count = (size_t)n * m->spec.classes;
    ck_assert_msg(max_diff(train, eval, count) <= 1e-6, "frozen training forward differs from "
                  "eval by %g", max_diff(train, eval, count));
    /* and batch statistics would have given other logits */
    ck_assert_msg(max_diff(batch, eval, count) > 1e-3, "%g", max_diff(batch, eval, count));
    free(train);
    free(eval);
    free(batch);
    nl_dataset_free(&ds);
    nl_model_free(m);
    free(cfg);
    free(text);

    /* trained 8 steps: the statistics stay the source's; gamma and beta
     * move unless held (weight decay and momentum would move them even
     * without a gradient); the convolutions train either way */
    for (int held = 0; held <= 1; held++) {
        text = finetune_text(NULL, held ? "bn_policy: freeze, bn_freeze_affine: true"
                                        : "bn_policy: freeze");
        tu_tmp_write("ft.yaml", text);
        free(text);
        char args[200];
        snprintf(args, sizeof args, "run ft.yaml --out f%d --quiet --threads 1 --set "
                                    "train.steps=8", held);
        ck_assert_int_eq(tu_normlab(args), 0);
        snprintf(args, sizeof args, "f%d", held);
        m = final_model(be, args);
        check_states(be, m, src, false);
        int norm_params = 0;
        for (int i = 0; i < m->n_params; i++) {
            const nl_param *p = m->params[i];
            float *got = param_of(be, m, p->name), *source = param_of(be, src, p->name);
            const bool norm = is_norm_param(m, p->name);
            norm_params += norm;
            if (strcmp(p->name, "fc.weight") && strcmp(p->name, "fc.bias") &&
                nl_model_param(src, p->name)) {
                const bool same = same_values(got, source, p->count);
                ck_assert_msg(same == (norm && held), "%s %s the source's (held: %d)", p->name,
                              same ? "equals" : "differs from", held);
            }
            free(got);
            free(source);
        }
        /* gamma and beta per layer, as its running mean and variance */
        ck_assert_int_eq(norm_params, m->n_states);
        nl_model_free(m);
    }
    nl_model_free(src);
    nl_backend_close(be);
    tu_tmp_remove();
}
END_TEST

/* recalibrate: each running statistic of the first batch norm is the
 * plain mean over K batches of the per-batch mean and unbiased variance
 * of its input, computed here from the input itself */
START_TEST(test_recalibrate)
{
    enum { K = 3 };
    make_source();
    nl_backend *be = tu_cpu(1);
    char *text = finetune_text(NULL, "bn_policy: recalibrate, bn_recalibrate_batches: 3");
    nl_config *cfg = calloc(1, sizeof *cfg);
    load_config(text, cfg);
    nl_model *m = finetune_model(be, cfg);
    nl_dataset ds = {0};
    nl_error err = {0};
    ck_assert_msg(nl_dataset_load(&cfg->data, &ds, &err) == NL_OK, "%s", err.msg);

    /* the norm's input over the same K batches (eval mode: the first
     * norm's input does not depend on any statistics) */
    const nl_act *in = nl_model_act(m, "norm1.in");
    ck_assert_msg(in, "no norm1.in");
    const int c = in->shape.c, hw = in->shape.h * in->shape.w;
    double *mean = calloc((size_t)c, sizeof *mean), *var = calloc((size_t)c, sizeof *var);
    nl_batcher b;
    ck_assert(nl_batcher_init(&b, &ds.train, cfg->train.batch_size, true, true,
                              nl_init_recalibrate_seed(cfg->seed), &err) == NL_OK);
    for (int k = 0; k < K; k++) {
        const float *x;
        const int32_t *y;
        const int n = nl_batcher_next(&b, &x, &y);
        ck_assert_int_eq(n, cfg->train.batch_size);
        nl_model_load_batch(m, x, y, n);
        nl_model_forward(m, n, NL_MODE_EVAL);
        float *a = host_copy(be, in->data, (size_t)n * c * hw);
        for (int ch = 0; ch < c; ch++) {
            double s = 0, ss = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++)
                    s += a[((size_t)i * c + ch) * hw + j];
            const double mu = s / ((double)n * hw);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++) {
                    const double d = a[((size_t)i * c + ch) * hw + j] - mu;
                    ss += d * d;
                }
            mean[ch] += mu / K;
            var[ch] += ss / ((double)n * hw - 1) / K;
        }
        free(a);
    }
    nl_batcher_free(&b);

    float *before = state_of(be, m, "norm1.running_mean");
    ck_assert_msg(nl_train_recalibrate_at_start(m, &ds.train, &cfg->train, cfg->seed, &err) ==
                      NL_OK, "%s", err.msg);
    float *got_mean = state_of(be, m, "norm1.running_mean");
    float *got_var = state_of(be, m, "norm1.running_var");
    for (int ch = 0; ch < c; ch++) {
        ck_assert_msg(fabs(got_mean[ch] - mean[ch]) <= 1e-5 * fmax(1, fabs(mean[ch])),
                      "channel %d: running mean %.7g, direct average %.7g", ch, got_mean[ch],
                      mean[ch]);
        ck_assert_msg(fabs(got_var[ch] - var[ch]) <= 1e-5 * fmax(1, var[ch]),
                      "channel %d: running var %.7g, direct average %.7g", ch, got_var[ch],
                      var[ch]);
        ck_assert_msg(fabs(before[ch] - mean[ch]) > 1e-4, "channel %d: the source's mean was "
                      "already the new data's", ch);
    }
    free(before);
    free(got_mean);
    free(got_var);
    free(mean);
    free(var);
    nl_dataset_free(&ds);
    nl_model_free(m);
    free(cfg);
    free(text);

    /* a run: the step-0 evaluation already uses the recalibrated statistics,
     * and the training steps are the ones a run without the policy takes */
    text = finetune_text(NULL, "bn_policy: recalibrate, bn_recalibrate_batches: 3");
    tu_tmp_write("ft.yaml", text);
    free(text);
    text = finetune_text(NULL, "");
    tu_tmp_write("keep.yaml", text);
    free(text);
    ck_assert_int_eq(tu_normlab("run ft.yaml --out fr --quiet --threads 1 --set train.steps=8"), 0);
    ck_assert_int_eq(tu_normlab("run keep.yaml --out fk --quiet --threads 1 --set train.steps=8"),
                     0);
    char *recal = tu_tmp_read("fr/metrics.csv"), *keep = tu_tmp_read("fk/metrics.csv");
    const char *rt = strstr(recal, "\n8,0.5000,train,"), *kt = strstr(keep, "\n8,0.5000,train,");
    ck_assert_msg(rt && kt, "%s\n%s", recal, keep);
    /* the row up to its last field, elapsed_s */
    const char *kt_end = kt + 1 + strcspn(kt + 1, "\n");
    while (kt_end > kt && *kt_end != ',')
        kt_end--;
    ck_assert_msg(!strncmp(rt, kt, (size_t)(kt_end - kt)), "the training order changed:\n%s\n%s",
                  recal, keep);
    const char *r0 = strstr(recal, "\n0,0.0000,test,"), *k0 = strstr(keep, "\n0,0.0000,test,");
    ck_assert_msg(r0 && k0 && strncmp(r0, k0, 40), "step 0 is the unrecalibrated model's");
    free(recal);
    free(keep);
    nl_backend_close(be);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_group_norm_swap)
{
    make_source();
    nl_backend *be = tu_cpu(1);
    nl_model *src = final_model(be, "r");
    char *text = finetune_text("{type: group, groups: 2}", "bn_policy: group_norm");
    nl_config *cfg = calloc(1, sizeof *cfg);
    load_config(text, cfg);
    nl_model *m = finetune_model(be, cfg);
    ck_assert_int_eq(m->n_states, 0);
    int swapped = 0;
    for (int i = 0; i < src->n_layers; i++) {
        const nl_layer *l = src->layers[i];
        if (strcmp(l->vt->kind, "batchnorm"))
            continue;
        const nl_layer *g = NULL;
        for (int j = 0; j < m->n_layers; j++)
            if (!strcmp(m->layers[j]->name, l->name))
                g = m->layers[j];
        ck_assert_msg(g && !strcmp(g->vt->kind, "groupnorm"), "%s is %s after the swap",
                      l->name, g ? g->vt->kind : "missing");
        for (int which = 0; which < 2; which++) {
            char name[96];
            snprintf(name, sizeof name, "%s.%s", l->name, which ? "bias" : "weight");
            float *got = param_of(be, m, name), *want = param_of(be, src, name);
            ck_assert_msg(same_values(got, want, nl_model_param(m, name)->count),
                          "%s is not the source's", name);
            free(got);
            free(want);
        }
        swapped++;
    }
    ck_assert_int_eq(swapped, 2);
    nl_model_free(m);
    free(cfg);
    free(text);
    /* a run trains it */
    text = finetune_text("{type: group, groups: 2}", "bn_policy: group_norm");
    tu_tmp_write("ft.yaml", text);
    free(text);
    ck_assert_int_eq(tu_normlab("run ft.yaml --out fg --quiet --threads 1 --set train.steps=8"), 0);
    nl_model_free(src);
    nl_backend_close(be);
    tu_tmp_remove();
}
END_TEST

/* exit status 2, the message holding `fragment`, no run directory */
static void refused(const char *yaml, const char *sets, const char *fragment)
{
    tu_tmp_write("bad.yaml", yaml);
    char args[1000];
    snprintf(args, sizeof args, "run bad.yaml --out x --threads 1 %s", sets);
    ck_assert_int_eq(tu_normlab(args), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, fragment), "normlab %s: no '%s' in:\n%s", args, fragment, out);
    free(out);
    char path[700];
    snprintf(path, sizeof path, "%s/x", tu_tmp);
    struct stat st;
    ck_assert_msg(stat(path, &st) != 0, "normlab %s made its run directory", args);
}

START_TEST(test_refusals)
{
    make_source();
    /* a source without batch norm */
    tu_tmp_write("gsrc.yaml", source_config);
    ck_assert_int_eq(tu_normlab("run gsrc.yaml --out g --quiet --threads 1 --set train.steps=8 "
                                "--set model.norm.type=group --set model.norm.groups=2"), 0);
    char *no_from = finetune_text(NULL, "bn_policy: reset");
    /* init: {from: ..., bn_policy: reset} without the from */
    char *from = strstr(no_from, "from: ");
    memmove(from, strstr(from, ", ") + 2, strlen(strstr(from, ", ") + 2) + 1);
    refused(no_from, "", "bad.yaml:14:19: init.bn_policy: applies only when init.from is not \"\"");
    free(no_from);
    char *ft = finetune_text(NULL, "");
    refused(ft, "--set init.bn_policy=freeze --set train.freeze_bn_after=2",
            "train.freeze_bn_after: 2: init.bn_policy freeze already trains with the running "
            "statistics from step 0");
    refused(ft, "--set init.bn_policy=group_norm",
            "init.bn_policy: group_norm swaps the source's batch norm for this config's group "
            "norm, and model.norm.type is batch here");
    refused(ft, "--set init.bn_policy=reset --set model.norm.type=group --set model.norm.groups=2",
            "model.norm.type: group: init.bn_policy reset keeps the source's normalizer");
    refused(ft, "--set init.bn_policy=bogus",
            "'bogus' is not a batch norm policy; accepted: keep | reset | freeze | recalibrate | "
            "group_norm");
    refused(ft, "--set init.bn_freeze_affine=true",
            "init.bn_freeze_affine: applies only when init.bn_policy is freeze");
    refused(ft, "--set init.bn_policy=freeze --set init.bn_recalibrate_batches=4",
            "init.bn_recalibrate_batches: applies only when init.bn_policy is recalibrate");
    char gdir[700];
    snprintf(gdir, sizeof gdir, "--set init.from=%s/g", tu_tmp);
    char sets[1000];
    snprintf(sets, sizeof sets, "%s --set init.bn_policy=reset --set model.norm.type=group "
             "--set model.norm.groups=2", gdir);
    refused(ft, sets, "init.bn_policy: reset: ");
    refused(ft, sets, "has no batch norm (its model.norm.type is group, without running "
                      "statistics); accepted for it: keep");
    snprintf(sets, sizeof sets, "%s --set init.bn_policy=group_norm --set model.norm.type=group "
             "--set model.norm.groups=2", gdir);
    refused(ft, sets, "group_norm swaps batch norm for group norm, and");
    free(ft);
    tu_tmp_remove();
}
END_TEST


/* ---- one check path: run, validate and the sweep refuse alike ---- */

/* the fine-tuning config of the table: the source's with seed 9, its model
 * section `model` (NULL: the source's), started from `from` */
static char *table_config(const char *model, const char *from)
{
    const char *src_model = "  arch: cnn\n  widths: [6, 8]\n  norm: {type: batch}\n";
    const char *at = strstr(source_config, src_model);
    nl_buf b = {0};
    nl_buf_printf(&b, "seed: 9%.*s%s%sinit: {from: \"%s\"}\n",
                  (int)(at - source_config - strlen("seed: 5")), source_config + strlen("seed: 5"),
                  model ? model : src_model, at + strlen(src_model), from);
    return b.data;
}

/* the check's own message in a command's output: the rest of the line
 * after "KEY: ", whatever the surface puts before it (the file and line,
 * a sweep's run) */
static char *message_of(const char *out, const char *key)
{
    char lead[128];
    snprintf(lead, sizeof lead, "%s: ", key);
    const char *at = strstr(out, lead);
    if (!at)
        return NULL;
    at += strlen(lead);
    return strndup(at, strcspn(at, "\n"));
}

/* what a directory holds, as one text: every path under it with its size
 * and modification time (so an added, removed or rewritten file changes it) */
static char *listing(const char *rel)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd '%s' && find '%s' -printf '%%p %%s %%T@\\n' | sort > "
             "listing.txt", tu_tmp, rel);
    ck_assert_int_eq(system(cmd), 0);
    return tu_tmp_read("listing.txt");
}

/* a shell command in tu_tmp, which must succeed */
static void shell(const char *command)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s", tu_tmp, command);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static const char *rnn_in_cell_layer =
    "  arch: rnn\n  hidden: 8\n  norm: {type: layer, placement: in_cell}\n";

/* the sources the table starts from, beside the finished run r */
static void make_bad_sources(void)
{
    shell("mkdir notrun && echo x > notrun/x.txt");
    /* killed while running: its summary.json says so */
    shell("cp -r r unf && printf '{\"name\": \"r\", \"status\": \"running\"}\\n' > "
          "unf/summary.json");
    /* a summary.json cut short */
    shell("cp -r r torn && head -c 12 r/summary.json > torn/summary.json");
    /* a finished run where a sweep of one run, seed-5, would write it, and
     * other spellings of that directory */
    shell("mkdir -p self/runs && cp -r r self/runs/seed-5 && ln -s self/runs/seed-5 link");
    /* a recurrent model with layer norm inside its cells (no layer of
     * their own) */
    const char *cnn = "  arch: cnn\n  widths: [6, 8]\n  norm: {type: batch}\n";
    const char *at = strstr(source_config, cnn);
    nl_buf b = {0};
    nl_buf_printf(&b, "%.*s%s%s", (int)(at - source_config), source_config, rnn_in_cell_layer,
                  at + strlen(cnn));
    tu_tmp_write("rnn.yaml", b.data);
    nl_buf_free(&b);
    ck_assert_int_eq(tu_normlab("run rnn.yaml --out rr --quiet --threads 1 --set train.steps=2"), 0);
}

typedef struct {
    const char *what, *from, *model; /* model: NULL for the source's */
    const char *key, *fragment;      /* fragment: NULL where the message may vary */
    bool itself;                     /* the run would write its source */
} bad_init;

/* Every way init.from's source can be wrong, through each surface that
 * checks a config: `run`, `validate`, `sweep --dry-run` and the sweep's
 * pre-check. Each exits 2 with the same message from the same check and
 * writes nothing (no run directory, no sweep directory; the source as it
 * was). */
START_TEST(test_one_check_path)
{
    make_source();
    make_bad_sources();
    static const bad_init table[] = {
        {"missing directory", "nothere", NULL, "init.from", "is not a run directory", false},
        {"not a run", "notrun", NULL, "init.from", "is not a run directory", false},
        {"unfinished run", "unf", NULL, "init.from", "holds an unfinished run", false},
        {"torn summary.json", "torn", NULL, "init.from", NULL, false},
        {"another architecture", "r", "  arch: mlp\n  widths: [16]\n  norm: {type: batch}\n",
         "init.from", "has no parameter", false},
        {"another width", "r", "  arch: cnn\n  widths: [6, 9]\n  norm: {type: batch}\n",
         "init.from", "the layers a run starts from must have the same shapes", false},
        {"another normalizer kind", "r", "  arch: cnn\n  widths: [6, 8]\n  norm: {type: layer}\n",
         "model.norm.type", "layer norm1 is a batch norm in", false},
        {"another normalizer kind inside a recurrent cell", "rr",
         "  arch: rnn\n  hidden: 8\n  norm: {type: rms, placement: in_cell}\n",
         "model.norm.type", "layer lstm.l0.norm_ih is a layer norm in", false},
        {"itself, through a symlink", "link", NULL, "init.from", "is this run's own directory",
         true},
        {"itself, spelled ./DIR/", "./self/runs/seed-5/", NULL, "init.from",
         "is this run's own directory", true},
    };
    tu_tmp_write("exp.yaml", "name: ex\nbase: bad.yaml\ngrid: {seed: [5]}\n");
    char *self_before = listing("self");
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const bad_init *t = &table[i];
        char *text = table_config(t->model, t->from);
        tu_tmp_write("bad.yaml", text);
        free(text);
        const char *run_out = t->itself ? "self/runs/seed-5" : "x";
        const char *sweep_out = t->itself ? "self" : "sx";
        char cmds[4][300];
        snprintf(cmds[0], sizeof cmds[0], "run bad.yaml --out %s --force --threads 1", run_out);
        snprintf(cmds[1], sizeof cmds[1], "validate bad.yaml --out %s", run_out);
        snprintf(cmds[2], sizeof cmds[2], "sweep exp.yaml --dry-run --force --out %s", sweep_out);
        snprintf(cmds[3], sizeof cmds[3], "sweep exp.yaml --force --out %s", sweep_out);
        char *want = NULL;
        for (int c = 0; c < 4; c++) {
            ck_assert_msg(tu_normlab(cmds[c]) == 2, "%s: normlab %s did not exit 2", t->what,
                          cmds[c]);
            char *out = tu_normlab_output();
            char *got = message_of(out, t->key);
            ck_assert_msg(got, "%s: normlab %s: no '%s: ' in:\n%s", t->what, cmds[c], t->key, out);
            if (c == 0) {
                ck_assert_msg(!t->fragment || strstr(got, t->fragment), "%s: no '%s' in:\n%s",
                              t->what, t->fragment, out);
                want = got;
            } else {
                /* a sweep adds which of its runs it is */
                ck_assert_msg(!strncmp(got, want, strlen(want)),
                              "%s: normlab %s says\n  %s\nand normlab %s\n  %s",
                              t->what, cmds[c], got, cmds[0], want);
                free(got);
            }
            free(out);
            char x[700], sx[700];
            snprintf(x, sizeof x, "%s/x", tu_tmp);
            snprintf(sx, sizeof sx, "%s/sx", tu_tmp);
            ck_assert_msg(!nl_path_exists(x) && !nl_path_exists(sx), "%s: normlab %s wrote %s",
                          t->what, cmds[c], nl_path_exists(x) ? "x" : "sx");
            char *self_now = listing("self");
            ck_assert_msg(!strcmp(self_now, self_before), "%s: normlab %s changed self/:\n%s\n"
                          "was:\n%s", t->what, cmds[c], self_now, self_before);
            free(self_now);
        }
        free(want);
    }
    free(self_before);
    tu_tmp_remove();
}
END_TEST

/* A run started from a source with another class count loads no part of
 * the old head: the classifier's values are a fresh initialization's (the
 * model this config builds from its seed without init.from), every other
 * parameter and statistic the source's final model's. And every surface
 * accepts it. */
START_TEST(test_new_head_is_fresh)
{
    make_source();
    nl_backend *be = tu_cpu(1);
    nl_model *src = final_model(be, "r");
    char *text = finetune_text(NULL, "");
    char *classes = strstr(text, "classes: 4");
    ck_assert_ptr_nonnull(classes);
    classes[strlen("classes: ")] = '3';
    nl_config *cfg = calloc(1, sizeof *cfg);
    load_config(text, cfg);
    nl_model *m = finetune_model(be, cfg);
    /* the same config from its own initialization */
    cfg->init_from[0] = '\0';
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    nl_model *fresh = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, be, cfg->train.eval_batch_size, cfg->train.batch_size,
                                 cfg->seed, &fresh, &err) == NL_OK, "%s", err.msg);
    const char *head = NULL;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->out == m->logits)
            head = m->layers[i]->name;
    ck_assert_ptr_nonnull(head);
    int head_params = 0, carried = 0;
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *p = m->params[i];
        const bool in_head = !strncmp(p->name, head, strlen(head)) && p->name[strlen(head)] == '.';
        float *got = param_of(be, m, p->name);
        float *want = param_of(be, in_head ? fresh : src, p->name);
        ck_assert_msg(same_values(got, want, p->count), "%s is not the %s's", p->name,
                      in_head ? "fresh initialization" : "source");
        if (in_head) {
            /* and the source's head differs there, so the two could be told apart */
            const nl_param *old = nl_model_param(src, p->name);
            ck_assert_ptr_nonnull(old);
            float *old_values = param_of(be, src, p->name);
            const size_t n = old->count < p->count ? old->count : p->count;
            ck_assert_msg(!same_values(got, old_values, n), "%s starts as the source's", p->name);
            free(old_values);
        }
        head_params += in_head;
        carried += !in_head;
        free(got);
        free(want);
    }
    ck_assert_int_eq(head_params, 2);
    ck_assert_int_gt(carried, 4);
    check_states(be, m, src, false);
    nl_model_free(fresh);
    nl_model_free(m);
    free(cfg);
    /* validate, the sweep's check and run take it */
    tu_tmp_write("ft.yaml", text);
    tu_tmp_write("exp.yaml", "name: ex\nbase: ft.yaml\ngrid: {seed: [5]}\n");
    free(text);
    ck_assert_int_eq(tu_normlab("validate ft.yaml"), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run --out sx"), 0);
    ck_assert_int_eq(tu_normlab("run ft.yaml --out f3 --threads 1 --set train.steps=4"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "a new classifier head for the new class count"), "%s", out);
    free(out);
    nl_model_free(src);
    nl_backend_close(be);
    tu_tmp_remove();
}
END_TEST

/* init.from's identity: a relative value in a config file is relative to
 * the file's directory, one from --set to the working directory; the run
 * records the absolute path (config.yaml, summary.json) and its final
 * model's hash (summary.json), and `show` prints both. */
START_TEST(test_init_from_identity)
{
    make_source();
    shell("mkdir sub");
    char *text = table_config(NULL, "../r");
    tu_tmp_write("sub/ft.yaml", text);
    free(text);
    text = table_config(NULL, "r");
    tu_tmp_write("sub/cwd.yaml", text);
    free(text);
    char real[PATH_MAX], dir[700];
    snprintf(dir, sizeof dir, "%s/r", tu_tmp);
    ck_assert(realpath(dir, real));
    /* the file's "../r" from sub/ is tu_tmp/r; its "r" would be sub/r */
    ck_assert_int_eq(tu_normlab("run sub/ft.yaml --out f1 --quiet --threads 1 --set "
                                "train.steps=4"), 0);
    ck_assert_int_eq(tu_normlab("validate sub/cwd.yaml"), 2);
    char *out = tu_normlab_output(), want[PATH_MAX + 200];
    ck_assert_msg(strstr(out, "sub/r is not a run directory"), "%s", out);
    free(out);
    /* --set: the working directory's */
    ck_assert_int_eq(tu_normlab("run sub/cwd.yaml --out f2 --quiet --threads 1 --set "
                                "train.steps=4 --set init.from=r"), 0);
    ck_assert_int_eq(tu_normlab("validate sub/ft.yaml --set init.from=../r"), 2);
    /* a relative value whose absolute path would not fit is refused */
    char long_set[1200];
    snprintf(long_set, sizeof long_set, "validate sub/ft.yaml --set init.from=%01000d", 0);
    ck_assert_int_eq(tu_normlab(long_set), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "as an absolute path") && strstr(out, "accepted: at most 1023"),
                  "%s", out);
    free(out);
    /* an experiment file's set: and grid: as a config file's keys: its
     * directory's; the sweep's --set: the working directory's */
    tu_tmp_write("sub/exp.yaml", "name: ex\nbase: cwd.yaml\nset: {init.from: ../r}\n"
                                 "grid: {seed: [5]}\n");
    ck_assert_int_eq(tu_normlab("sweep sub/exp.yaml --dry-run --out s"), 0);
    ck_assert_int_eq(tu_normlab("sweep sub/exp.yaml --dry-run --out s --set init.from=r"), 0);
    ck_assert_int_eq(tu_normlab("sweep sub/exp.yaml --dry-run --out s --set init.from=../r"), 2);
    tu_tmp_write("sub/exp.yaml", "name: ex\nbase: cwd.yaml\ngrid: {init.from: [\"../r\", r]}\n");
    ck_assert_int_eq(tu_normlab("sweep sub/exp.yaml --dry-run --out s"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "sub/r is not a run directory") && !strstr(out, "sub/../r"), "%s",
                  out);
    free(out);
    /* recorded absolute, with the model's hash, and shown */
    char *model = NULL;
    size_t len = 0;
    char path[800], hash[32];
    snprintf(path, sizeof path, "%s/r/%s", tu_tmp, NL_FINAL_MODEL_FILE);
    nl_error err = {0};
    ck_assert_msg(nl_read_file(path, &model, &len, &err) == NL_OK, "%s", err.msg);
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)nl_checkpoint_hash(model, len));
    free(model);
    for (int f = 1; f <= 2; f++) {
        char rel[64], value[PATH_MAX + 16];
        snprintf(rel, sizeof rel, "f%d/summary.json", f);
        char *json = tu_tmp_read(rel);
        ck_assert(nl_json_flat_get(json, "init_from", value, sizeof value));
        ck_assert_str_eq(value, real);
        ck_assert(nl_json_flat_get(json, "init_from_model_fnv1a64", value, sizeof value));
        ck_assert_str_eq(value, hash);
        free(json);
        snprintf(rel, sizeof rel, "f%d/config.yaml", f);
        char *config = tu_tmp_read(rel);
        snprintf(value, sizeof value, "from: \"%s\"", real);
        ck_assert_msg(strstr(config, value), "no %s in %s", value, rel);
        free(config);
    }
    ck_assert_int_eq(tu_normlab("show f1"), 0);
    out = tu_normlab_output();
    snprintf(want, sizeof want, "started from %s: its final model at step 24, FNV-1a 64 %s\n",
             real, hash);
    ck_assert_msg(strstr(out, want), "no '%s' in:\n%s", want, out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* The sweep checks what it will run: a finished run of the same config is
 * skipped, so its init.from source may be gone (a committed sweep whose
 * source model is not kept still redraws its plots), while a run it would
 * start from that source is refused before anything is written. */
START_TEST(test_finished_sweep_needs_no_source)
{
    make_source();
    char *text = table_config(NULL, "r");
    tu_tmp_write("ft.yaml", text);
    free(text);
    tu_tmp_write("exp.yaml", "name: ex\nbase: ft.yaml\nset: {train.steps: 4}\ngrid: {seed: [5]}\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out s"), 0);
    shell("rm r/final.nlck");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out s --dry-run"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "seed-5") && strstr(out, "skip"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out s"), 0);
    ck_assert_int_eq(tu_normlab("validate exp.yaml --out s"), 0);
    /* a second seed would start from the missing model */
    tu_tmp_write("exp.yaml", "name: ex\nbase: ft.yaml\nset: {train.steps: 4}\ngrid: {seed: [5, 6]}\n");
    char *before = listing("s");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out s"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "seed-6") && strstr(out, "has no final model"), "%s", out);
    free(out);
    char *after = listing("s");
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    tu_tmp_remove();
}
END_TEST

/* A sweep's run is its own source also when its directory's name leaves
 * out a grid key that does not apply to it (groups under batch norm): the
 * check looks at the directory the run will write. */
START_TEST(test_sweep_run_named_without_a_key_is_its_own_source)
{
    make_source();
    shell("mkdir -p sw/runs && cp -r r sw/runs/type-batch_seed-5");
    tu_tmp_write("exp.yaml", "name: ex\nbase: src.yaml\nset: {init.from: sw/runs/type-batch_seed-5}\n"
                             "grid: {model.norm.type: [batch, group], model.norm.groups: [2], "
                             "seed: [5]}\n");
    char *before = listing("sw");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw --dry-run"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "is this run's own directory (sw/runs/type-batch_seed-5)"), "%s",
                  out);
    free(out);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw --force"), 2);
    char *after = listing("sw");
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    tu_tmp_remove();
}
END_TEST

/* A character model's vocabulary comes from its text, not its config (which
 * bounds it at 256): a run starts from another run on the same text, and
 * run, validate and the sweep's check build the source's model with that
 * vocabulary (it was refused as "arrays do not fit"). */
START_TEST(test_text_source)
{
    tu_tmp_make("finetune");
    nl_buf text = {0};
    static const char *const words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog"};
    for (int i = 0; i < 6000; i++)
        nl_buf_printf(&text, "%s%c", words[(i * 7 + i / 5) % 8], i % 13 ? ' ' : '\n');
    tu_tmp_write("text.txt", text.data);
    nl_buf_free(&text);
    tu_tmp_write("lm.yaml", "data: {dataset: text, path: text.txt, vocabulary: chars, "
                            "test_size: 1024}\n"
                            "model: {arch: lm, d_model: 16, heads: 2, layers: 1, context: 16}\n"
                            "train: {batch_size: 4, steps: 3, eval_every: 3, log_every: 3, "
                            "eval_batch_size: 8}\n");
    ck_assert_int_eq(tu_normlab("run lm.yaml --out src --quiet --threads 1"), 0);
    tu_tmp_write("exp.yaml", "name: ex\nbase: lm.yaml\nset: {init.from: src}\ngrid: {seed: [5]}\n");
    ck_assert_int_eq(tu_normlab("validate lm.yaml --set init.from=src"), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --dry-run --out sx"), 0);
    ck_assert_int_eq(tu_normlab("run lm.yaml --out ft --threads 1 --set init.from=src"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "carried over (init.from)"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* the step of the last whole row of tu_tmp/<dir>/metrics.csv (0 before any) */
static long last_logged_step(const char *dir)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s/metrics.csv", tu_tmp, dir);
    char *text = NULL;
    size_t len = 0;
    nl_error err = {0};
    if (nl_read_file(path, &text, &len, &err) != NL_OK)
        return 0;
    long step = 0;
    char *end = len > 0 && text[len - 1] == '\n' ? text + len - 1 : strrchr(text, '\n');
    if (end) {
        *end = '\0';
        const char *line = strrchr(text, '\n');
        step = atol(line ? line + 1 : text);
    }
    free(text);
    return step;
}

/* A recalibrating run killed after its checkpoint and run again resumes
 * without recalibrating a second time: its results are the uninterrupted
 * run's (a second recalibration would replace the running statistics the
 * checkpoint holds, and the evaluation 10 steps later would differ). */
START_TEST(test_resume_keeps_recalibration)
{
    make_source();
    /* long enough to be killed while it runs; evaluated every 10 steps */
    char *text = finetune_text(NULL, "bn_policy: recalibrate, bn_recalibrate_batches: 3");
    const char *old = "  steps: 24\n  eval_every: 24\n", *at = strstr(text, old);
    ck_assert_ptr_nonnull(at);
    nl_buf b = {0};
    nl_buf_printf(&b, "%.*s  steps: 3000\n  eval_every: 10\n%s", (int)(at - text), text,
                  at + strlen(old));
    free(text);
    tu_tmp_write("ft.yaml", b.data);
    nl_buf_free(&b);
    ck_assert_int_eq(tu_normlab("run ft.yaml --out ref --quiet --threads 1 --set "
                                "train.checkpoint_every=50"), 0);
    const pid_t pid = tu_normlab_start("run ft.yaml --out k --quiet --threads 1 --set "
                                       "train.checkpoint_every=50", "killed.txt", "killed.txt");
    char checkpoint[800];
    snprintf(checkpoint, sizeof checkpoint, "%s/k/%s", tu_tmp, NL_CHECKPOINT_FILE);
    const time_t t0 = time(NULL);
    while (!(access(checkpoint, F_OK) == 0 && last_logged_step("k") >= 120) &&
           time(NULL) - t0 < 120)
        usleep(1000);
    int status;
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFSIGNALED(status), "the run ended before the kill (make it longer)");
    ck_assert_int_eq(tu_normlab("run ft.yaml --out k --threads 1 --set "
                                "train.checkpoint_every=50"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "resuming"), "the run did not resume: %s", out);
    free(out);
    char *got = tu_metrics_without_time("k"), *want = tu_metrics_without_time("ref");
    ck_assert_msg(!strcmp(got, want), "the resumed run's metrics differ from the uninterrupted "
                  "run's");
    free(got);
    free(want);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("finetune");
    TCase *tc = tcase_create("finetune");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_keep_and_reset);
    tcase_add_test(tc, test_freeze);
    tcase_add_test(tc, test_recalibrate);
    tcase_add_test(tc, test_group_norm_swap);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_one_check_path);
    tcase_add_test(tc, test_new_head_is_fresh);
    tcase_add_test(tc, test_init_from_identity);
    tcase_add_test(tc, test_finished_sweep_needs_no_source);
    tcase_add_test(tc, test_text_source);
    tcase_add_test(tc, test_sweep_run_named_without_a_key_is_its_own_source);
    tcase_add_test(tc, test_resume_keeps_recalibration);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
