#include "train/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "arch/registry.h"
#include "data/registry.h"
#include "device/device.h"
#include "log/files.h"
#include "model/model.h"
#include "plan/plan.h"
#include "train/init_from.h"
#include "train/probe.h"
#include "train/recalibrate.h"
#include "train/train.h"

/* "1.5 GiB", "3.2 TiB"; huge counts stay readable */
static const char *bytes_text(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (bytes >= 1024 && u < 5) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, u ? (bytes < 1e6 ? "%.1f %s" : "%.3g %s") : "%.0f %s", bytes, units[u]);
    return buf;
}

/* An error from a module that knows no config lines (the data readers, the
 * model planner), led by where its key was set when it names one. */
static nl_code relay(const nl_config *cfg, const nl_error *from, const char *fallback_key,
                     nl_error *err)
{
    const char *key = from->key[0] ? from->key : fallback_key;
    char with[1024];
    if (key && nl_config_origin_of(cfg, key))
        return nl_config_key_error(cfg, err, from->code, key, "%s%s", from->msg,
                                   nl_config_with_where(cfg, from, with, sizeof with));
    *err = *from;
    return from->code;
}

static nl_code check_data(const nl_config *cfg, nl_text_memo *memo, nl_run_plan *plan,
                          nl_error *err)
{
    nl_error data_err = {0};
    plan->tokens = nl_dataset_kind_is_tokens(cfg->data.kind);
    if (plan->tokens) {
        if (nl_token_dataset_probe(&cfg->data, (long)cfg->model.context + 1, memo, &plan->token_data,
                                   &data_err) != NL_OK) {
            const char *key = nl_config_origin_of(cfg, "data.path") ? "data.path" : "data.dataset";
            return relay(cfg, &data_err, key, err);
        }
        plan->data.train_n = plan->token_data.train_length;
        plan->data.test_n = plan->token_data.valid_length;
        return NL_OK;
    }
    if (nl_dataset_probe(&cfg->data, &plan->data, &data_err) != NL_OK) {
        const char *key = nl_config_origin_of(cfg, "data.path") ? "data.path" : "data.dataset";
        return relay(cfg, &data_err, key, err);
    }
    /* the batcher numbers samples with 32-bit indices */
    const long most = NL_MAX_SAMPLES;
    if (plan->data.train_n > most || plan->data.test_n > most) {
        const bool train = plan->data.train_n > most;
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, train ? "data.train_size" :
                                   "data.test_size", "%ld samples; accepted: at most %ld",
                                   train ? plan->data.train_n : plan->data.test_n, most);
    }
    return NL_OK;
}

static nl_code check_length(const nl_config *cfg, nl_run_plan *plan, nl_error *err)
{
    const nl_train_spec *t = &cfg->train;
    const long samples = plan->data.train_n;
    char where[800];
    if (plan->tokens) {
        /* nl_window_batcher's epoch */
        const double windows = (double)t->batch_size * cfg->model.context;
        const long per_epoch = samples / windows >= 1 ? (long)(samples / windows) : 1;
        if (t->steps <= 0 && (double)t->epochs * (double)per_epoch > (double)NL_MAX_STEPS)
            return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.epochs",
                                       "%ld epochs of %ld batches are %.0f steps; accepted: at "
                                       "most %ld steps in all", t->epochs, per_epoch,
                                       (double)t->epochs * (double)per_epoch, NL_MAX_STEPS);
        plan->total_steps = t->steps > 0 ? t->steps : t->epochs * per_epoch;
        return NL_OK;
    }
    if (samples < t->batch_size)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.batch_size",
                                   "%d is larger than the %ld training samples (%s); training "
                                   "drops incomplete batches, so no step would run",
                                   t->batch_size, samples, cfg->data.train_size
                                       ? nl_config_where(cfg, "data.train_size", where, sizeof where)
                                       : "the whole training split");
    if (t->steps > 0) {
        plan->total_steps = t->steps;
        return NL_OK;
    }
    const long per_epoch = samples / t->batch_size;
    if ((double)t->epochs * (double)per_epoch > (double)NL_MAX_STEPS)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.epochs",
                                   "%ld epochs of %ld batches are %.0f steps; accepted: at most "
                                   "%ld steps in all", t->epochs, per_epoch,
                                   (double)t->epochs * (double)per_epoch, NL_MAX_STEPS);
    plan->total_steps = nl_train_total_steps(t, samples);
    return NL_OK;
}


/* train.schedule.milestones against the run's length: the learning rate
 * drops from a milestone's step on (steps count from 0), so one past the
 * run's last step (a typo, or a schedule written for a longer run) would
 * never act */
static nl_code check_schedule(const nl_config *cfg, const nl_run_plan *plan, nl_error *err)
{
    const nl_schedule_spec *s = &cfg->train.schedule;
    if (s->kind != NL_SCHED_STEP)
        return NL_OK;
    const long last = plan->total_steps - 1;
    for (int i = 0; i < s->n_milestones; i++)
        if (s->milestones[i] > last)
            return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.schedule.milestones",
                                       "item %d (%d) is past the run's last step: the run takes "
                                       "%ld steps (0 to %ld), so the learning rate would never "
                                       "drop there; accepted: milestones of at most %ld",
                                       i, s->milestones[i], plan->total_steps, last, last);
    return NL_OK;
}

/* The evaluation's last batch against the normalizer: the test split in
 * batches of train.eval_batch_size ends with the remainder, and where
 * evaluation normalizes with its batch's statistics a last batch of one
 * sample is normalized over one value (each set: the registry's, as for
 * train.eval_batch_size 1 in config/resolve.c), so that sample's
 * prediction says nothing of it. Train-mode evaluation drops its short
 * batch; token windows are many values per sample. The arithmetic of one
 * process: ranks split each batch between them. */
static nl_code check_eval_last_batch(const nl_config *cfg, const nl_run_plan *plan,
                                      const nl_model *graph, nl_error *err)
{
    const long test_n = plan->data.test_n;
    const int batch = cfg->train.eval_batch_size;
    char layer[128], where[800];
    const char *why = NULL;
    if (plan->tokens || test_n <= batch || test_n % batch != 1 ||
        !nl_model_eval_batch_degenerate(graph, 1, layer, sizeof layer, &why))
        return NL_OK;
    /* the nearest batch size of 2 or more that leaves no last batch of 1;
     * one past the split holds it whole, so the search ends */
    long fix = batch;
    for (long d = 1; fix == batch; d++) {
        if (batch - d >= 2 && test_n % (batch - d) != 1)
            fix = batch - d;
        else if (test_n % (batch + d) != 1)
            fix = batch + d;
    }
    return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.eval_batch_size",
                               "%d splits the %ld test samples into batches whose last holds 1 sample, "
                               "which %s normalizes over one value: model.norm.type %s evaluates with the "
                               "statistics of the batch it is given (%s %s, %s), so that sample's output "
                               "says nothing of it; accepted: a batch size that leaves a last batch of 2 or "
                               "more, e.g. %ld", batch, test_n, layer,
                               nl_name_of(&nl_norm_names, cfg->model.norm.kind), why,
                               strcmp(why, "model.norm.eval_stats") ? "false" : "batch",
                               nl_config_where(cfg, why, where, sizeof where), fix);
}

/* MemAvailable from /proc/meminfo, in bytes; < 0 when unknown */
static double mem_available(void)
{
    FILE *f = nl_fopen_system("/proc/meminfo");
    if (!f)
        return -1;
    char line[256];
    double kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1)
            break;
    fclose(f);
    return kib < 0 ? -1 : kib * 1024;
}

/* whether two configs describe the same model at the same batch sizes */
static bool same_model(const nl_config *a, const nl_config *b)
{
    nl_model_spec sa, sb;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    nl_run_model_spec(a, &sa);
    nl_run_model_spec(b, &sb);
    /* padding compares too: at worst a model is planned once more */
    return memcmp(&sa, &sb, sizeof sa) == 0 && nl_run_capacity(a) == nl_run_capacity(b) &&
           a->train.batch_size == b->train.batch_size && a->threads == b->threads;
}

/* the bytes of the model cfg describes, as planned; < 0 when it does not
 * build, with the key the planner blamed in `blocker` (size 96) */
static double planned_model_bytes(const nl_config *cfg, char *blocker)
{
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    nl_model *graph = NULL;
    nl_error plan_err = {0};
    const nl_plan_run run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    if (nl_plan_graph(&spec, &run, &graph, &plan_err) != NL_OK) {
        nl_copy_string(blocker, 96, plan_err.key);
        return -1;
    }
    const double bytes = graph->planned.total;
    nl_plan_graph_done(graph);
    return bytes;
}

/* what a memory error says about the key it names */
typedef struct {
    const char *key;
    /* the key was set, and its default would shrink the model to
     * `model_bytes_at_default` (its default's text in `default_text`) */
    bool set_by_user;
    double model_bytes_at_default;
    char default_text[128];
    /* another key its default needed put back too ("" none): the widths'
     * default with groups that divide it */
    char with_key[96];
    char with_text[128];
} memory_driver;

/* The key a memory error points at. Of the integer keys the config sets
 * (sizes, counts), the one whose default would shrink the model most, when
 * that at least halves it: model.convs_per_stage 1000, say, rather than the
 * batch size the activations are also proportional to. Otherwise what makes
 * most of the bytes: the dataset, the parameters, or the larger batch. */
static memory_driver memory_key(const nl_config *cfg, const nl_run_plan *plan,
                                const nl_model_bytes *model)
{
    memory_driver out = {0};
    if (plan->data_bytes > plan->model_bytes) {
        /* data.train_size when it is set, else the key that sizes this dataset */
        out.key = cfg->data.train_size ? "data.train_size"
                                       : nl_dataset_info_of(cfg->data.kind)->size_key;
        return out;
    }
    const char *keys[NL_CONFIG_MAX_ORIGINS];
    const int n = nl_config_set_integer_keys(cfg, keys, NL_CONFIG_MAX_ORIGINS);
    nl_config *trial = malloc(sizeof *trial), *defaults = malloc(sizeof *defaults);
    if (trial && defaults && n > 0) {
        *trial = *cfg;
        nl_config_defaults(defaults);
        double least = model->total / 2;
        for (int i = 0; i < n; i++) {
            /* data keys size the dataset, checked above; the model's input
             * shape was resolved from them already */
            if (strncmp(keys[i], "data.", 5) == 0)
                continue;
            nl_config_copy_key(trial, defaults, keys[i]);
            char blocker[96] = "", with[96] = "";
            double bytes = same_model(trial, cfg) ? -1 : planned_model_bytes(trial, blocker);
            /* the default does not build with another key the config sets
             * (groups that do not divide the default widths): that one at
             * its default too, once */
            if (bytes < 0 && blocker[0] && strcmp(blocker, keys[i]) != 0 &&
                nl_config_origin_of(cfg, blocker) && nl_config_copy_key(trial, defaults, blocker)) {
                char again[96] = "";
                bytes = planned_model_bytes(trial, again);
                nl_config_copy_key(trial, cfg, blocker);
                nl_copy_string(with, sizeof with, blocker);
            }
            nl_config_copy_key(trial, cfg, keys[i]);
            if (bytes >= 0 && bytes < least) {
                least = bytes;
                out.key = keys[i];
                out.set_by_user = true;
                out.model_bytes_at_default = bytes;
                nl_config_format_key(defaults, keys[i], out.default_text, sizeof out.default_text);
                nl_copy_string(out.with_key, sizeof out.with_key, with);
                nl_config_format_key(defaults, with, out.with_text, sizeof out.with_text);
            }
        }
    }
    free(trial);
    free(defaults);
    if (out.key)
        return out;
    if (model->parameters > model->total / 2)
        out.key = nl_arch_info_of(cfg->model.arch)->size_key;
    else
        out.key = cfg->train.eval_batch_size > cfg->train.batch_size ? "train.eval_batch_size"
                                                                      : "train.batch_size";
    return out;
}



/* physical memory (0 when unknown) */
static double machine_bytes(void)
{
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}

nl_code nl_check_dataset_fits(const nl_dataset_shape *shape, const char *what, nl_error *err)
{
    const double need = nl_dataset_bytes(shape), have = machine_bytes();
    if (have <= 0 || need <= have)
        return NL_OK;
    char need_s[32], have_s[32];
    return nl_fail(err, NL_ERR_CONFIG, "%s: the dataset is %ld + %ld samples, %s of memory, but "
                   "this machine has %s (physical memory): ask for fewer samples "
                   "(data.train_size, data.test_size)", what, shape->train_n, shape->test_n,
                   bytes_text(need, need_s, sizeof need_s), bytes_text(have, have_s, sizeof have_s));
}

static nl_code check_memory(const nl_config *cfg, int device, bool available,
                            const nl_model_bytes *model, nl_run_plan *plan, nl_error *err)
{
    /* a CUDA run keeps its model on the GPU: only the data is in host memory */
    plan->model_bytes = device == NL_DEVICE_CUDA ? 0 : model->total;
    plan->data_bytes = plan->tokens ? nl_token_dataset_bytes(&plan->token_data)
                                    : nl_dataset_bytes(&plan->data);
    plan->machine_bytes = machine_bytes();
    const double need = plan->model_bytes + plan->data_bytes;
    const int capacity = nl_run_capacity(cfg);
    char need_s[32], model_s[32], params_s[32], data_s[32], have_s[32];
    char detail[1024];
    snprintf(detail, sizeof detail, "the run needs %s of memory (the model %s, of which "
             "parameters with gradients and momentum %s, the rest activations for batches of %d; "
             "the dataset %s, %ld + %ld %s)", bytes_text(need, need_s, sizeof need_s),
             bytes_text(plan->model_bytes, model_s, sizeof model_s),
             bytes_text(device == NL_DEVICE_CUDA ? 0 : model->parameters, params_s, sizeof params_s),
             capacity, bytes_text(plan->data_bytes, data_s, sizeof data_s), plan->data.train_n,
             plan->data.test_n, plan->tokens ? "tokens" : "samples");
    /* physical memory: a run larger than the machine can never run here,
     * whatever else is running (that is bad input, like a bad value) */
    const bool too_large = plan->machine_bytes > 0 && need > plan->machine_bytes;
    const double avail = available && !too_large ? mem_available() : -1;
    plan->available_bytes = avail > 0 ? avail : 0;
    if (!too_large && !(avail > 0 && need > avail))
        return NL_OK;
    /* the key to blame, and what its default would take */
    const memory_driver driver = memory_key(cfg, plan, model);
    const char *key = driver.key;
    if (driver.set_by_user) {
        char at_default[32];
        const size_t used = strlen(detail);
        char with[256] = "";
        if (driver.with_key[0])
            snprintf(with, sizeof with, " (and %s at its default %s)", driver.with_key,
                     driver.with_text);
        snprintf(detail + used, sizeof detail - used, "; %s makes most of it: at its default "
                 "%s%s the run would need %s", key, driver.default_text, with,
                 bytes_text(driver.model_bytes_at_default + plan->data_bytes, at_default,
                            sizeof at_default));
    }
    if (too_large)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, key, "%s, but this machine has %s "
                                   "(physical memory)", detail,
                                   bytes_text(plan->machine_bytes, have_s, sizeof have_s));
    /* MemAvailable (what the kernel can give without swapping) when the run
     * starts: more would swap or be killed half-way, after writing */
    char avail_s[32];
    return nl_config_key_error(cfg, err, NL_ERR_NOMEM, key, "%s, but only %s of this machine's %s "
                               "are available now (MemAvailable in /proc/meminfo); wait for other "
                               "work to finish, or make the run smaller", detail,
                               bytes_text(avail, avail_s, sizeof avail_s),
                               bytes_text(plan->machine_bytes, have_s, sizeof have_s));
}

/* train.device_data: on only where a resident dataset exists (whether it
 * fits is known when the GPU is open: nl_device_data_decide) */
static nl_code check_device_data(const nl_config *cfg, int device, nl_error *err)
{
    if (cfg->train.device_data != NL_DEVICE_DATA_ON)
        return NL_OK;
    if (device != NL_DEVICE_CUDA)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.device_data",
                                   "on needs device cuda (device %s gathers its batches in host "
                                   "memory already); accepted here: auto or off",
                                   nl_name_of(&nl_device_names, device));
    return NL_OK;
}

nl_code nl_run_check(const nl_config *cfg, int device, bool available, nl_text_memo *memo,
                     nl_run_plan *plan, nl_error *err)
{
    return nl_run_check_into(cfg, device, available, NULL, memo, plan, err);
}

nl_code nl_run_check_into(const nl_config *cfg, int device, bool available, const char *out_dir,
                          nl_text_memo *memo, nl_run_plan *plan, nl_error *err)
{
    memset(plan, 0, sizeof *plan);
    nl_code rc;
    if ((rc = check_data(cfg, memo, plan, err)) ||
        (rc = check_device_data(cfg, device >= 0 ? device : (int)cfg->device, err)))
        return rc;
    nl_model_spec spec;
    nl_model *graph = NULL;
    nl_error model_err = {0};
    if ((rc = nl_run_model_plan(cfg, device >= 0 ? (nl_device)device : cfg->device, &spec,
                                &model_err)))
        return relay(cfg, &model_err, "model", err);
    const nl_plan_run run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    if ((rc = nl_plan_graph(&spec, &run, &graph, &model_err)))
        return relay(cfg, &model_err, "model", err);
    const nl_model_bytes model = graph->planned;
    const nl_probe_plan probe_plan = {&cfg->train, graph, plan->tokens, plan->data.train_n,
                                      plan->data.test_n};
    if ((rc = nl_probes_check(&probe_plan, &model_err)) != NL_OK ||
        (rc = nl_series_check(graph, cfg->train.log_attention_logits, &model_err)) != NL_OK)
        rc = relay(cfg, &model_err, NULL, err);
    /* memory before the run's length: a huge subset is first of all too big */
    if (rc == NL_OK)
        rc = check_memory(cfg, device >= 0 ? device : (int)cfg->device, available, &model, plan,
                          err);
    if (rc == NL_OK)
        rc = check_length(cfg, plan, err);
    if (rc == NL_OK)
        rc = check_schedule(cfg, plan, err);
    if (rc == NL_OK)
        rc = check_eval_last_batch(cfg, plan, graph, err);
    /* freezing and recalibration need running statistics and a step to freeze at */
    if (rc == NL_OK &&
        (rc = nl_train_check_stats(graph, &cfg->train, plan->total_steps, &model_err)) != NL_OK)
        rc = relay(cfg, &model_err, NULL, err);
    nl_plan_graph_done(graph);
    /* last, as a run loads it: the source against the model all the above accepted */
    if (rc == NL_OK)
        rc = nl_init_from_check(cfg, plan->tokens ? plan->token_data.vocab : 0, out_dir, err);
    return rc;
}
