#include "train/eval.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "arch/registry.h"
#include "config/config.h"
#include "config/schema.h"
#include "data/data.h"
#include "data/tokens.h"
#include "device/device.h"
#include "norm/registry.h"
#include "plan/plan.h"
#include "log/files.h"
#include "model/fold.h"
#include "model/model.h"
#include "results/files.h"
#include "results/store.h"
#include "train/check.h"
#include "train/run_model.h"
#include "train/final_model.h"
#include "train/evaluate.h"
#include "version_git.h"
#include "results/summary_keys.h"

#define MAX_OVERRIDES 64
#define OVERRIDE_BYTES 1100

/* everything one evaluation holds, freed by eval_close */
typedef struct {
    const nl_eval_options *opt;
    nl_config *run_cfg;  /* config.yaml as the run trained it */
    nl_config *data_cfg; /* the same with the data overrides */
    char (*overrides)[OVERRIDE_BYTES];
    const char *override_ptrs[MAX_OVERRIDES];
    char trained_on[32]; /* summary.json's device */
    nl_backend *be;
    nl_model *model;
    nl_model_spec spec;     /* the model to build: the run's, at the asked context */
    nl_dataset data;
    nl_token_dataset tokens; /* a token model's text */
    /* the samples of the split evaluated on (a token model's: its windows),
     * known once the data is checked: no batch needs to hold more */
    long split_samples;
} eval_state;

static void eval_close(eval_state *st)
{
    nl_dataset_free(&st->data);
    nl_token_dataset_free(&st->tokens);
    nl_model_free(st->model);
    nl_backend_close(st->be);
    free(st->run_cfg);
    free(st->data_cfg);
    free(st->overrides);
}

/* a finished run directory, and what its summary says */
static nl_code check_finished(const char *dir, eval_state *st, nl_eval_result *out,
                              nl_error *err)
{
    nl_code rc = nl_final_model_check_run(dir, err);
    if (rc)
        return rc;
    if (nl_run_packed(dir, NULL, 0, NULL, 0))
        return nl_fail(err, NL_ERR_USAGE, "%s is a run of a packed sweep: eval records its result in the run's "
                       "directory (eval/), and a pack is written once; `normlab export csv` the sweep into a "
                       "directory and evaluate the run there", dir);
    nl_final_run_summary summary;
    nl_final_model_summary(dir, &summary);
    snprintf(st->trained_on, sizeof st->trained_on, "%s", summary.device);
    out->run_final_test_accuracy = summary.final_test_accuracy;
    return NL_OK;
}

/* the overrides as data.KEY=VALUE; a key outside data.* is refused */
static nl_code take_overrides(eval_state *st, nl_eval_result *out, nl_error *err)
{
    const nl_eval_options *opt = st->opt;
    if (opt->n_data_overrides > MAX_OVERRIDES)
        return nl_fail(err, NL_ERR_USAGE, "too many --data options (at most %d)", MAX_OVERRIDES);
    st->overrides = calloc((size_t)(opt->n_data_overrides + 1), sizeof *st->overrides);
    if (!st->overrides)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    size_t used = 0;
    for (int i = 0; i < opt->n_data_overrides; i++) {
        const char *o = opt->data_overrides[i];
        const char *eq = strchr(o, '=');
        const char *dot = memchr(o, '.', eq ? (size_t)(eq - o) : strlen(o));
        if (!eq || eq == o)
            return nl_fail(err, NL_ERR_USAGE, "--data takes KEY=VALUE, e.g. --data dataset=cifar10 "
                           "or --data data.path=DIR; got '%s'", o);
        /* 'data.' may be left out of a dotted key too (shift.invert); a
         * key of another section (model.norm.type) is refused by name */
        char key[OVERRIDE_BYTES];
        snprintf(key, sizeof key, "%.*s", (int)(eq - o), o);
        const bool has_data = !strncmp(o, "data.", 5);
        if (dot && !has_data && nl_schema_find(key))
            return nl_fail(err, NL_ERR_USAGE, "--data %s: only data.* keys choose what to evaluate "
                           "on; the model and its training are the run's", o);
        snprintf(st->overrides[i], OVERRIDE_BYTES, "%s%s", has_data ? "" : "data.", o);
        st->override_ptrs[i] = st->overrides[i];
        used += (size_t)snprintf(out->overrides + used, used < sizeof out->overrides ?
                                 sizeof out->overrides - used : 0, "%s%s", i ? "; " : "",
                                 st->overrides[i]);
    }
    return NL_OK;
}

/* config.yaml as trained, and with the overrides */
static nl_code load_configs(eval_state *st, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, st->opt->run_dir, NL_RUN_CONFIG_FILE);
    st->run_cfg = calloc(1, sizeof *st->run_cfg);
    st->data_cfg = calloc(1, sizeof *st->data_cfg);
    if (!st->run_cfg || !st->data_cfg)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = nl_config_load_record(path, NULL, 0, st->run_cfg, err);
    if (rc == NL_OK &&
        (rc = nl_config_load_record(path, st->override_ptrs, st->opt->n_data_overrides,
                                    st->data_cfg, err)) != NL_OK &&
        !strncmp(err->msg, "--set ", 6)) {
        /* the loader names an override by the option of `normlab run` */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "--data %s", err->msg + 6);
        memcpy(err->msg, msg, sizeof msg);
    }
    return rc;
}

/* the architectures --context can rebuild, from the table */
static const char *any_context_archs(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < NL_ARCH_COUNT && used < size; a++)
        if (nl_arch_info_of((nl_arch)a)->any_context)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                     nl_name_of(&nl_arch_names, a));
    return buf;
}

/* nl_model_eval_batch_degenerate on the run's planned graph (the one its
 * check and build read); false where the run's model does not plan here */
static bool eval_batch_degenerate(const nl_config *cfg, int batch, char *layer, size_t size,
                                  const char **why)
{
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    const nl_plan_run run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    nl_model *graph = NULL;
    nl_error err = {0};
    *why = NULL;
    if (nl_plan_graph(&spec, &run, &graph, &err) != NL_OK)
        return false;
    const bool degenerate = nl_model_eval_batch_degenerate(graph, batch, layer, size, why);
    nl_plan_graph_done(graph);
    return degenerate;
}

/* --context and --batch-stats fit the run's model */
static nl_code check_options(const eval_state *st, nl_error *err)
{
    const nl_eval_options *opt = st->opt;
    const nl_model_spec *model = &st->run_cfg->model;
    const char *arch = nl_name_of(&nl_arch_names, model->arch);
    if (opt->context > 0 && !nl_arch_info_of(model->arch)->any_context) {
        char archs[128];
        return nl_fail(err, NL_ERR_USAGE, "--context %d: %s is a %s model, whose sequence length "
                       "its build fixes (an image's rows, a position table); --context takes "
                       "the recurrent language models: %s", opt->context, opt->run_dir, arch,
                       any_context_archs(archs, sizeof archs));
    }
    if (opt->fold_bn && opt->batch_stats)
        return nl_fail(err, NL_ERR_USAGE, "--fold-bn and --batch-stats together: folding puts "
                       "batch norm's running statistics into the weights, which leaves no batch "
                       "statistics to evaluate with; give one of them");
    const int batch = opt->batch > 0 ? opt->batch : st->run_cfg->train.batch_size;
    const nl_norm_info *norm = nl_norm_info_of(model->norm.kind);
    if (opt->batch_stats && batch < 2 && norm->running_stats && norm->adds_layer &&
        model->norm.placement != NL_PLACE_NONE)
        return nl_fail(err, NL_ERR_USAGE, "--batch-stats with batches of 1: %s's %s takes its "
                       "statistics over the batch, which one sample leaves nothing of (x - mean "
                       "is 0); use --batch 2 or more, or evaluate with the running statistics",
                       opt->run_dir, nl_name_of(&nl_norm_names, model->norm.kind));
    /* eval mode at --batch that leaves one value per set, where the run's
     * normalizer evaluates with the batch's statistics: `validate`'s
     * refusal of train.eval_batch_size, for the option that replaces it */
    char layer[128];
    const char *why = NULL;
    if (!opt->batch_stats && opt->batch > 0 && opt->batch < st->run_cfg->train.batch_size &&
        eval_batch_degenerate(st->run_cfg, opt->batch, layer, sizeof layer, &why))
        return nl_fail(err, NL_ERR_USAGE, "--batch %d leaves %s of %s one value per normalized set: its %s "
                       "normalizes with the statistics of the batch it is given (%s %s), and with one value "
                       "nothing of the sample is left (an evaluation at chance); use --batch 2 or more",
                       opt->batch, layer, opt->run_dir, nl_name_of(&nl_norm_names, model->norm.kind), why,
                       strcmp(why, "model.norm.eval_stats") ? "false" : "batch");
    return NL_OK;
}

/* a token model's text, loaded (as run does) to learn its vocabulary:
 * the text evaluated on must have the run's */
static nl_code load_tokens(eval_state *st, nl_error *err)
{
    const long window = (long)st->spec.context + 1;
    nl_code rc = nl_token_dataset_load(&st->data_cfg->data, window, &st->tokens, err);
    if (rc)
        return rc;
    int vocab = st->tokens.vocab;
    if (st->opt->n_data_overrides) {
        nl_token_shape trained;
        if ((rc = nl_token_dataset_probe(&st->run_cfg->data, 2, NULL, &trained, err)))
            return rc;
        vocab = trained.vocab;
    }
    if (vocab != st->tokens.vocab)
        return nl_fail(err, NL_ERR_CONFIG, "--data gives a text of %d symbols, but the run's "
                       "model reads %d: evaluate on text of the same vocabulary",
                       st->tokens.vocab, vocab);
    st->spec.classes = vocab; /* a text's characters are known now */
    st->split_samples = (st->tokens.valid.length - 1) / st->spec.context;
    return NL_OK;
}

/* the dataset to evaluate on takes the model's input and classes */
static nl_code check_shape(eval_state *st, const nl_model_spec *spec, nl_error *err)
{
    if (nl_model_spec_tokens(spec))
        return load_tokens(st, err);
    nl_dataset_shape shape;
    nl_code rc = nl_dataset_probe(&st->data_cfg->data, &shape, err);
    /* loaded whole before the first batch: one larger than the machine
     * would fail half-way at run time (or swap) rather than be refused */
    if (rc == NL_OK)
        rc = nl_check_dataset_fits(&shape, st->opt->n_data_overrides ? "--data" : "the run's data", err);
    if (rc)
        return rc;
    st->split_samples = shape.test_n;
    if (shape.c == spec->in_c && shape.h == spec->in_h && shape.w == spec->in_w &&
        shape.classes == spec->classes)
        return NL_OK;
    return nl_fail(err, NL_ERR_CONFIG, "--data gives %dx%dx%d inputs in %d classes, but the run's "
                   "model takes %dx%dx%d inputs in %d classes: evaluate on data of the same shape "
                   "and classes", shape.c, shape.h, shape.w, shape.classes, spec->in_c,
                   spec->in_h, spec->in_w, spec->classes);
}

/* the evaluation batch size: --batch, else the run's eval batch (its
 * training batch for batch statistics, as the run's train-mode evaluation);
 * one larger than the split is the whole split, except with an image
 * model's batch statistics, whose batcher refuses it (a short last batch is
 * left out, which would leave nothing) */
static int eval_batch(const eval_state *st, bool tokens)
{
    const nl_train_spec *t = &st->run_cfg->train;
    const int asked = st->opt->batch > 0 ? st->opt->batch
                                         : st->opt->batch_stats ? t->batch_size : t->eval_batch_size;
    const bool drops_short = st->opt->batch_stats && !tokens;
    return !drops_short && st->split_samples > 0 && asked > st->split_samples ? (int)st->split_samples
                                                                               : asked;
}

/* the backend, and the run's model with its final weights; folded when asked */
static nl_code load_model(eval_state *st, nl_eval_result *out, nl_error *err)
{
    const nl_config *cfg = st->run_cfg;
    int device = st->opt->device;
    if (device < 0) {
        device = nl_name_lookup(&nl_device_names, st->trained_on);
        if (device < 0)
            device = (int)cfg->device;
    }
    const nl_backend_options backend_opt = {
        .threads = st->opt->threads > 0 ? st->opt->threads : cfg->threads,
        .keep_subnormals = !cfg->flush_subnormals};
    nl_code rc = nl_backend_open((nl_device)device, &backend_opt, &st->be, err);
    if (rc)
        return rc;
    /* evaluated in the precision it was trained in, set before the model is
     * planned (the product ops' workspaces depend on it) */
    st->be->product_precision = cfg->train.precision;
    snprintf(out->device, sizeof out->device, "%s", nl_name_of(&nl_device_names, device));
    snprintf(out->cpu_kernels, sizeof out->cpu_kernels, "%s",
             st->be->cpu_kernels ? st->be->cpu_kernels : "");
    snprintf(out->products, sizeof out->products, "%s",
             st->be->products ? st->be->products : "");
    snprintf(out->conv_library, sizeof out->conv_library, "%s",
             st->be->conv_library ? st->be->conv_library : "");
    out->threads = st->be->threads;
    /* the model is planned for the run's batches too: its build checks
     * them; never for more samples than the split holds, however large a
     * batch is asked for */
    const int run_capacity = nl_run_capacity(cfg);
    const long asked = eval_batch(st, out->tokens);
    const long batch = st->split_samples > 0 && asked > st->split_samples ? st->split_samples : asked;
    const int capacity = batch > run_capacity ? (int)batch : run_capacity;
    /* eval mode keeps a short last batch: one sample alone, where the
     * model evaluates with its batch's statistics, is normalized over one
     * value (run and validate refuse such a train.eval_batch_size) */
    char layer[128];
    const char *why = NULL;
    if (!st->opt->batch_stats && !out->tokens && st->split_samples > batch && st->split_samples % batch == 1 &&
        eval_batch_degenerate(cfg, 1, layer, sizeof layer, &why))
        return nl_fail(err, NL_ERR_USAGE, "batches of %ld leave the last of the %ld test samples alone in its "
                       "batch, which %s of %s normalizes over one value (%s %s: the statistics of the batch "
                       "it is given); give --batch N that leaves a last batch of 2 or more", batch,
                       st->split_samples, layer, st->opt->run_dir, why,
                       strcmp(why, "model.norm.eval_stats") ? "false" : "batch");
    nl_final_model_info info;
    if ((rc = nl_final_model_load_spec(st->opt->run_dir, cfg, &st->spec, st->be, capacity,
                                       &st->model, &info, err)))
        return rc;
    out->step = (long)info.step;
    if (!st->opt->fold_bn)
        return NL_OK;
    nl_model_spec folded_spec;
    nl_model *folded = NULL;
    rc = nl_fold_bn_spec(st->model, &folded_spec, &out->folded_layers, err);
    if (rc == NL_OK)
        rc = nl_model_create(&folded_spec, st->be, capacity, cfg->train.batch_size, cfg->seed,
                            &folded, err);
    if (rc == NL_OK)
        rc = nl_fold_bn_weights(st->model, folded, err);
    nl_model_free(rc == NL_OK ? st->model : folded);
    if (rc == NL_OK)
        st->model = folded;
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* one pass over the validation text's non-overlapping windows */
static nl_code evaluate_tokens(eval_state *st, nl_mode mode, nl_eval_result *out, nl_error *err)
{
    snprintf(out->data, sizeof out->data, "%s", st->tokens.description);
    nl_window_batcher windows = {0};
    nl_code rc = nl_window_batcher_init(&windows, &st->tokens.valid, out->batch,
                                        st->spec.context, false, 0, err);
    const double t0 = now_s();
    if (rc == NL_OK)
        rc = nl_evaluate_tokens(st->model, &windows, mode, &out->loss, &out->accuracy, err);
    out->eval_s = now_s() - t0;
    out->conv_fallbacks = st->be->cpu_kernels ? st->be->conv_fallbacks : -1;
    out->samples = (st->tokens.valid.length - 1) / st->spec.context;
    nl_window_batcher_free(&windows);
    return rc;
}

/* one pass over the test split, in eval mode or with batch statistics (a
 * short last batch left out, as the run's train-mode evaluation) */
static nl_code evaluate(eval_state *st, nl_eval_result *out, nl_error *err)
{
    const nl_mode mode = st->opt->batch_stats ? NL_MODE_TRAIN_FROZEN : NL_MODE_EVAL;
    out->batch = eval_batch(st, out->tokens);
    if (out->tokens)
        return evaluate_tokens(st, mode, out, err);
    nl_code rc = nl_dataset_load(&st->data_cfg->data, &st->data, err);
    if (rc)
        return rc;
    snprintf(out->data, sizeof out->data, "%s", st->data.description);
    nl_batcher batches = {0};
    rc = nl_batcher_init(&batches, &st->data.test, out->batch, false, st->opt->batch_stats, 0,
                         err);
    const double t0 = now_s();
    if (rc == NL_OK)
        rc = nl_evaluate(st->model, &batches, mode, &out->loss, &out->accuracy, err);
    out->eval_s = now_s() - t0;
    out->conv_fallbacks = st->be->cpu_kernels ? st->be->conv_fallbacks : -1;
    out->samples = st->opt->batch_stats ? st->data.test.n / out->batch * out->batch
                                        : st->data.test.n;
    nl_batcher_free(&batches);
    return rc;
}

/* the model to build: the run's, at the asked context, its per-step
 * statistics kept for the trained one */
static void eval_spec(eval_state *st, nl_eval_result *out)
{
    nl_run_model_spec(st->run_cfg, &st->spec);
    out->tokens = nl_model_spec_tokens(&st->spec);
    if (!out->tokens)
        return;
    out->trained_context = out->context = st->spec.context;
    if (st->opt->context > 0) {
        st->spec.norm.stat_steps = st->spec.context;
        out->context = st->spec.context = st->opt->context;
    }
}

nl_code nl_eval_run(const nl_eval_options *opt, nl_eval_result *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    eval_state st = {.opt = opt};
    nl_code rc = check_finished(opt->run_dir, &st, out, err);
    if (rc == NL_OK)
        rc = take_overrides(&st, out, err);
    if (rc == NL_OK)
        rc = load_configs(&st, err);
    if (rc == NL_OK)
        rc = check_options(&st, err);
    if (rc == NL_OK) {
        eval_spec(&st, out);
        rc = check_shape(&st, &st.spec, err);
    }
    if (rc == NL_OK)
        rc = load_model(&st, out, err);
    if (rc == NL_OK)
        rc = evaluate(&st, out, err);
    eval_close(&st);
    return rc;
}

/* RUN_DIR/eval/<name>.json */
static void record_path(const char *run_dir, const char *name, char *path, size_t size)
{
    char dir[1100], file[300];
    nl_path_join(dir, sizeof dir, run_dir, NL_EVAL_DIR);
    snprintf(file, sizeof file, "%s.json", name);
    nl_path_join(path, size, dir, file);
}

void nl_eval_record_name(const nl_eval_options *opt, char *name, size_t size)
{
    int used = snprintf(name, size, "%s%s", opt->n_data_overrides ? "data" : "test",
                        opt->fold_bn ? "-folded" : "");
    if (opt->context > 0 && (size_t)used < size)
        used += snprintf(name + used, size - (size_t)used, "-t%d", opt->context);
    if (opt->batch > 0 && (size_t)used < size)
        used += snprintf(name + used, size - (size_t)used, "-b%d", opt->batch);
    if (opt->batch_stats && (size_t)used < size)
        snprintf(name + used, size - (size_t)used, "-batchstats");
}

static const char *const csv_columns[] = {
    NL_EVAL_RECORD,         NL_EVAL_LOSS,          NL_EVAL_ACCURACY,           NL_EVAL_SAMPLES,
    NL_EVAL_FOLDED,         NL_EVAL_FOLDED_LAYERS, NL_EVAL_STEP,               NL_EVAL_DATA,
    NL_EVAL_OVERRIDES,      NL_SUMMARY_DEVICE,     NL_SUMMARY_CPU_KERNELS,     NL_SUMMARY_NORMLAB_VERSION,
    NL_SUMMARY_GIT_COMMIT,  NL_EVAL_WRITTEN_AT,    NL_EVAL_CONTEXT,            NL_EVAL_TRAINED_CONTEXT,
    NL_EVAL_BATCH,          NL_EVAL_BATCH_STATS};
enum { N_CSV_COLUMNS = sizeof csv_columns / sizeof csv_columns[0] };

static nl_code append_csv_row(const char *run_dir, const char *name, const nl_eval_options *opt,
                              const nl_eval_result *r, const char *written, nl_error *err)
{
    char path[1400], dir[1100];
    nl_path_join(dir, sizeof dir, run_dir, NL_EVAL_DIR);
    nl_path_join(path, sizeof path, dir, NL_EVAL_TABLE);
    char loss[32], acc[32], samples[32], layers[16], step[32], context[16], trained[16],
        batch[16];
    if (r->tokens) {
        snprintf(context, sizeof context, "%d", r->context);
        snprintf(trained, sizeof trained, "%d", r->trained_context);
    } else {
        context[0] = trained[0] = '\0';
    }
    snprintf(batch, sizeof batch, "%d", r->batch);
    nl_fmt_float(loss, sizeof loss, r->loss);
    nl_fmt_float(acc, sizeof acc, r->accuracy);
    snprintf(samples, sizeof samples, "%ld", r->samples);
    snprintf(layers, sizeof layers, "%d", r->folded_layers);
    snprintf(step, sizeof step, "%ld", r->step);
    const char *fields[N_CSV_COLUMNS] = {name, loss, acc, samples, opt->fold_bn ? "true" : "false",
                                         layers, step, r->data, r->overrides, r->device,
                                         r->cpu_kernels, NORMLAB_VERSION, NORMLAB_GIT_COMMIT,
                                         written, context, trained, batch,
                                         opt->batch_stats ? "true" : "false"};
    /* other evals of this run may append at the same moment */
    return nl_csv_append_shared(path, csv_columns, N_CSV_COLUMNS, fields, err);
}

/* the record named `name` as JSON, into j */
static void record_json(nl_json *j, const char *name, const nl_eval_options *opt,
                        const nl_eval_result *r, const char *written)
{
    nl_json_begin(j);
    nl_json_string(j, NL_EVAL_RECORD, name);
    nl_json_string(j, NL_EVAL_SPLIT, "test");
    nl_json_number(j, NL_EVAL_LOSS, r->loss);
    nl_json_number(j, NL_EVAL_ACCURACY, r->accuracy);
    nl_json_int(j, NL_EVAL_SAMPLES, r->samples);
    nl_json_bool(j, NL_EVAL_FOLDED, opt->fold_bn);
    nl_json_int(j, NL_EVAL_FOLDED_LAYERS, r->folded_layers);
    nl_json_int(j, NL_EVAL_STEP, r->step);
    nl_json_string(j, NL_EVAL_DATA, r->data);
    nl_json_string(j, NL_EVAL_OVERRIDES, r->overrides);
    /* token models: loss and accuracy per token, over windows ("samples")
     * of `context` tokens */
    if (r->tokens) {
        nl_json_int(j, NL_EVAL_CONTEXT, r->context);
        nl_json_int(j, NL_EVAL_TRAINED_CONTEXT, r->trained_context);
    } else {
        nl_json_null(j, NL_EVAL_CONTEXT);
        nl_json_null(j, NL_EVAL_TRAINED_CONTEXT);
    }
    nl_json_int(j, NL_EVAL_BATCH, r->batch);
    nl_json_bool(j, NL_EVAL_BATCH_STATS, opt->batch_stats);
    /* the run's own final evaluation of its test split, for comparison */
    nl_json_number(j, NL_EVAL_RUN_FINAL_TEST_ACCURACY, r->run_final_test_accuracy);
    nl_json_number(j, NL_EVAL_EVAL_S, r->eval_s);
    nl_json_number(j, NL_SUMMARY_SAMPLES_PER_S, r->eval_s > 0 ? (double)r->samples / r->eval_s : NAN);
    nl_json_string(j, NL_SUMMARY_DEVICE, r->device);
    nl_json_string(j, NL_SUMMARY_CPU_KERNELS, r->cpu_kernels);
    nl_json_string(j, NL_SUMMARY_PRODUCTS, r->products);
    nl_json_string(j, NL_SUMMARY_CONV_LIBRARY, r->conv_library);
    if (r->conv_fallbacks >= 0)
        nl_json_int(j, NL_SUMMARY_CONV_LIBRARY_FALLBACKS, r->conv_fallbacks);
    nl_json_int(j, NL_SUMMARY_THREADS, r->threads);
    nl_json_string(j, NL_SUMMARY_NORMLAB_VERSION, NORMLAB_VERSION);
    nl_json_string(j, NL_SUMMARY_GIT_COMMIT, NORMLAB_GIT_COMMIT);
    nl_json_string(j, NL_EVAL_WRITTEN_AT, written);
    nl_json_end(j);
}

#define RECORD_EXISTS "an eval record is never replaced; choose another --name"

/* Creates eval/<name>.json exclusively: a record is never replaced, also
 * by another eval of the run at the same moment. Numbered, an existing name
 * takes the next free suffix; else it is refused. */
static nl_code create_record(const char *run_dir, char *name, size_t name_size, bool numbered,
                             const nl_eval_options *opt, const nl_eval_result *r,
                             const char *written, char *path, size_t path_size, nl_error *err)
{
    char base[256];
    nl_copy_string(base, sizeof base, name);
    for (int k = 2;; k++) {
        record_path(run_dir, name, path, path_size);
        nl_json j;
        record_json(&j, name, opt, r, written);
        if (j.buf.failed) {
            nl_buf_free(&j.buf);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory writing the eval record");
        }
        bool existed = false;
        nl_error exists_err = {0};
        const nl_code rc = nl_write_exclusive(path, j.buf.data, j.buf.len, &existed, &exists_err);
        nl_buf_free(&j.buf);
        if (rc == NL_OK)
            return NL_OK;
        if (!existed) {
            *err = exists_err;
            return rc;
        }
        struct stat st;
        if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) /* a directory, FIFO, link: say so */
            return nl_output_check(path, false, RECORD_EXISTS, err);
        if (!numbered || k > 100000)
            return nl_fail(err, NL_ERR_USAGE, "%s exists: an eval record is never replaced; "
                           "nothing was written: choose another --name", path);
        snprintf(name, name_size, "%s-%d", base, k);
    }
}

nl_code nl_eval_check_outputs(const char *run_dir, const char *name, nl_error *err)
{
    char path[1400], dir[1100];
    nl_path_join(dir, sizeof dir, run_dir, NL_EVAL_DIR);
    nl_path_join(path, sizeof path, dir, NL_EVAL_TABLE);
    /* appended to: there or not, but a regular file; eval/ a directory */
    nl_code rc = nl_output_check(path, true, NULL, err);
    if (rc == NL_OK && name) {
        record_path(run_dir, name, path, sizeof path);
        rc = nl_output_check(path, false, RECORD_EXISTS, err);
    }
    return rc;
}

nl_code nl_eval_write_record(const char *run_dir, char *name, size_t name_size, bool numbered,
                             const nl_eval_options *opt, const nl_eval_result *r, char *path,
                             size_t path_size, nl_error *err)
{
    char dir[1100];
    nl_path_join(dir, sizeof dir, run_dir, NL_EVAL_DIR);
    /* the set holds eval/ when this eval makes it: removed again if the
     * record or its row cannot be written (the record itself is created
     * exclusively, below, not staged: its name may have to move on) */
    nl_outset *set = nl_outset_begin(false, RECORD_EXISTS);
    nl_code rc = set ? nl_outset_make_dirs(set, dir, err) : nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (rc == NL_OK)
        rc = nl_eval_check_outputs(run_dir, NULL, err);
    char written[32];
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(written, sizeof written, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* The record, then its row: no row names a record that is not there.
     * A row that cannot be written takes its record back (this process made
     * it, and nothing else writes that name); a crash between the two
     * leaves a record without its row, which the record's own file still
     * holds in full. */
    if (rc == NL_OK)
        rc = create_record(run_dir, name, name_size, numbered, opt, r, written, path, path_size, err);
    if (rc == NL_OK && (rc = append_csv_row(run_dir, name, opt, r, written, err)) != NL_OK)
        unlink(path);
    if (rc == NL_OK)
        rc = nl_outset_commit(set, NULL, err);
    nl_outset_end(set);
    return rc;
}

/* what eval writes: records, the table, and their temporaries (of an eval
 * killed while writing) */
static bool eval_output(const char *name)
{
    const size_t len = strlen(name);
    return !strcmp(name, NL_EVAL_TABLE) || strstr(name, ".tmp.") ||
           (len > 5 && !strcmp(name + len - 5, ".json"));
}

nl_code nl_eval_remove_records(const char *run_dir, int *removed, nl_error *err)
{
    *removed = 0;
    char dir[1100];
    nl_path_join(dir, sizeof dir, run_dir, NL_EVAL_DIR);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR
                   ? NL_OK
                   : nl_fail(err, NL_ERR_IO, "cannot read %s: %s", dir, strerror(errno));
    nl_code rc = NL_OK;
    struct dirent *e;
    while (rc == NL_OK && (e = readdir(d)) != NULL) {
        char path[1400];
        struct stat st;
        nl_path_join(path, sizeof path, dir, e->d_name);
        if (!eval_output(e->d_name) || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* a user's own file, or a directory: left */
        if (unlink(path) != 0 && errno != ENOENT)
            rc = nl_fail(err, NL_ERR_IO, "cannot remove the old %s: %s", path, strerror(errno));
        else if (strstr(e->d_name, ".json") && !strstr(e->d_name, ".tmp."))
            (*removed)++;
    }
    closedir(d);
    if (rc == NL_OK)
        rmdir(dir); /* kept when something of the user's is left in it */
    return rc;
}
