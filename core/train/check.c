#include "backend.h"
#include "train/check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
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
    if (key && nl_config_origin_of(cfg, key))
        return nl_config_key_error(cfg, err, from->code, key, "%s", from->msg);
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
    const long most = 2147483647L;
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

bool nl_trace_accepts(const nl_act *act) { return act->shape.ndim != 3; }

/* the traced activation and unit, against the model's graph */
static nl_code check_trace(const nl_config *cfg, const nl_model *graph, nl_error *err)
{
    const nl_trace_spec *tr = &cfg->train.trace;
    if (!tr->activation[0])
        return NL_OK;
    if (nl_model_spec_tokens(&cfg->model))
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.trace.activation",
                                   "'%s': token models (model.arch %s) take no activation trace; "
                                   "accepted: \"\" (none)", tr->activation,
                                   nl_name_of(&nl_arch_names, cfg->model.arch));
    const nl_act *act = nl_model_act(graph, tr->activation);
    if (!act) {
        /* the names it would accept (a token activation would be refused) */
        char names[1024] = "";
        size_t used = 0;
        const char *example = NULL;
        for (int i = 0; i < graph->n_acts && used < sizeof names - 64; i++)
            if (nl_trace_accepts(graph->acts[i]))
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                                         graph->acts[i]->name);
        for (int i = 0; i < graph->n_layers && !example; i++)
            if (graph->layers[i]->in[0] && nl_trace_accepts(graph->layers[i]->in[0]))
                example = graph->layers[i]->name;
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.trace.activation",
                                   "the model has no activation '%s'; accepted: %s (or <layer>.in "
                                   "for the input of a layer that reads one of them, e.g. %s.in)",
                                   tr->activation, names, example ? example : "input");
    }
    if (!nl_trace_accepts(act)) {
        /* the tracer reads a unit as a channel plane (NCHW); a token row
         * layout (N, T, D) would give it the wrong values */
        char names[1024] = "";
        size_t used = 0;
        for (int i = 0; i < graph->n_acts && used < sizeof names - 64; i++)
            if (nl_trace_accepts(graph->acts[i]))
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                         used ? ", " : "", graph->acts[i]->name);
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.trace.activation",
                                   "'%s' holds tokens (N, T, D), which take no activation trace; "
                                   "accepted: %s", tr->activation, names);
    }
    if (tr->unit >= act->shape.c)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.trace.unit",
                                   "%d is out of range: '%s' has %d %s; accepted: 0 to %d",
                                   tr->unit, tr->activation, act->shape.c,
                                   act->shape.h * act->shape.w > 1 ? "channels" : "features",
                                   act->shape.c - 1);
    return NL_OK;
}

/* MemAvailable from /proc/meminfo, in bytes; < 0 when unknown */
static double mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
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

/* the key a memory error points at: what makes most of the bytes */
static const char *memory_key(const nl_config *cfg, const nl_run_plan *plan,
                              const nl_model_bytes *model)
{
    if (plan->data_bytes > plan->model_bytes)
        return cfg->data.kind == NL_DATA_SYNTHETIC || cfg->data.train_size ? "data.train_size"
                                                                           : "data.dataset";
    if (model->parameters > model->total / 2)
        return nl_model_spec_tokens(&cfg->model) ? "model.d_model" : "model.widths";
    return cfg->train.eval_batch_size > cfg->train.batch_size ? "train.eval_batch_size"
                                                               : "train.batch_size";
}

void nl_run_model_spec(const nl_config *cfg, nl_model_spec *spec)
{
    *spec = cfg->model;
    /* a traced activation must be a tensor: no ReLU folded into a pooling */
    if (cfg->train.trace.activation[0])
        spec->fuse_relu_pool = false;
    spec->norm.freezable = cfg->train.freeze_bn_after > 0;
}

int nl_run_capacity(const nl_config *cfg)
{
    const nl_train_spec *t = &cfg->train;
    return t->batch_size > t->eval_batch_size ? t->batch_size : t->eval_batch_size;
}

static nl_code check_memory(const nl_config *cfg, int device, bool available,
                            const nl_model_bytes *model, nl_run_plan *plan, nl_error *err)
{
    /* a CUDA run keeps its model on the GPU: only the data is in host memory */
    plan->model_bytes = device == NL_DEVICE_CUDA ? 0 : model->total;
    plan->data_bytes = plan->tokens ? nl_token_dataset_bytes(&plan->token_data)
                                    : nl_dataset_bytes(&plan->data);
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    plan->machine_bytes = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    const double need = plan->model_bytes + plan->data_bytes;
    const int capacity = nl_run_capacity(cfg);
    char need_s[32], model_s[32], params_s[32], data_s[32], have_s[32];
    char detail[512];
    snprintf(detail, sizeof detail, "the run needs %s of memory (the model %s, of which "
             "parameters with gradients and momentum %s, the rest activations for batches of %d; "
             "the dataset %s, %ld + %ld %s)", bytes_text(need, need_s, sizeof need_s),
             bytes_text(plan->model_bytes, model_s, sizeof model_s),
             bytes_text(device == NL_DEVICE_CUDA ? 0 : model->parameters, params_s, sizeof params_s),
             capacity, bytes_text(plan->data_bytes, data_s, sizeof data_s), plan->data.train_n,
             plan->data.test_n, plan->tokens ? "tokens" : "samples");
    const char *key = memory_key(cfg, plan, model);
    /* physical memory: a run larger than the machine can never run here,
     * whatever else is running (that is bad input, like a bad value) */
    if (plan->machine_bytes > 0 && need > plan->machine_bytes)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, key, "%s, but this machine has %s "
                                   "(physical memory)", detail,
                                   bytes_text(plan->machine_bytes, have_s, sizeof have_s));
    if (!available)
        return NL_OK;
    /* MemAvailable (what the kernel can give without swapping) when the run
     * starts: more would swap or be killed half-way, after writing */
    const double avail = mem_available();
    plan->available_bytes = avail > 0 ? avail : 0;
    char avail_s[32];
    if (avail > 0 && need > avail)
        return nl_config_key_error(cfg, err, NL_ERR_NOMEM, key, "%s, but only %s of this "
                                   "machine's %s are available now (MemAvailable in "
                                   "/proc/meminfo); wait for other work to finish, or make the "
                                   "run smaller", detail,
                                   bytes_text(avail, avail_s, sizeof avail_s),
                                   bytes_text(plan->machine_bytes, have_s, sizeof have_s));
    return NL_OK;
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
    memset(plan, 0, sizeof *plan);
    nl_code rc;
    if ((rc = check_data(cfg, memo, plan, err)) ||
        (rc = check_device_data(cfg, device >= 0 ? device : (int)cfg->device, err)))
        return rc;
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    nl_model *graph = NULL;
    nl_error model_err = {0};
    if ((rc = nl_model_plan(&spec, nl_run_capacity(cfg), cfg->train.batch_size,
                            nl_backend_max_threads(cfg->threads), &graph, &model_err)))
        return relay(cfg, &model_err, "model", err);
    const nl_model_bytes model = graph->planned;
    rc = check_trace(cfg, graph, err);
    if (rc == NL_OK && (rc = nl_series_check(graph, cfg->train.log_attention_logits,
                                             &model_err)) != NL_OK)
        rc = relay(cfg, &model_err, NULL, err);
    /* memory before the run's length: a huge subset is first of all too big */
    if (rc == NL_OK)
        rc = check_memory(cfg, device >= 0 ? device : (int)cfg->device, available, &model, plan,
                          err);
    if (rc == NL_OK)
        rc = check_length(cfg, plan, err);
    /* freezing and recalibration need running statistics and a step to freeze at */
    if (rc == NL_OK &&
        (rc = nl_train_check_stats(graph, &cfg->train, plan->total_steps, &model_err)) != NL_OK)
        rc = relay(cfg, &model_err, NULL, err);
    nl_model_free(graph);
    return rc;
}
