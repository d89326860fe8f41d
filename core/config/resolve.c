/* Config resolution: what a config means once the file and the overrides
 * are read. Derived defaults (those that depend on other keys: the dataset's
 * path, the placement for the architecture, the optimizer's learning rate
 * and weight decay, the normalizer's running statistics), keys that an
 * override made inapplicable, and the cross-key checks of
 * nl_config_validate, each pointing at the key (and line) to change. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/internal.h"
#include "plan/plan.h"
#include "arch/arch.h"
#include "arch/registry.h"
#include "config/schema.h"
#include "data/registry.h"
#include "data/tokens.h"
#include "model/model.h"
#include "norm/registry.h"

/* ---- resolve: derived defaults, applied after the file and the overrides ---- */

nl_code nl_cfg_check_epochs_steps(nl_config *cfg, nl_error *err)
{
    const nl_config_origin *e = nl_config_origin_of(cfg, "train.epochs");
    const nl_config_origin *s = nl_config_origin_of(cfg, "train.steps");
    if (e && s) {
        /* point at whichever was given later */
        const bool steps_later = nl_cfg_from_set(s) || (!nl_cfg_from_set(e) && (s->line > e->line ||
                                                                  (s->line == e->line &&
                                                                   s->column > e->column)));
        const char *later = steps_later ? "train.steps" : "train.epochs";
        const char *first = steps_later ? "train.epochs" : "train.steps";
        char where[800];
        return nl_cfg_key_fail(cfg, err, later,
                               "both train.epochs and train.steps are given (%s at %s); "
                               "give exactly one",
                               first, nl_config_where(cfg, first, where, sizeof where));
    }
    return NL_OK;
}

/* A key that no longer applies because a --set override switched what it
 * depends on (say --set model.arch=mlp on a cnn config with pool: avg) is
 * dropped with a warning; inside one file it stays an error (validate).
 * `resolved_file`: the config is a config.yaml normlab wrote, whose keys a
 * later normlab may no longer apply where they stood (an earlier version
 * wrote eps and affine for every normalizer, though none and dyt never read
 * them). Such a key had no effect when it was written, so it is dropped
 * rather than making the user's finished runs unreadable: with a warning
 * where its value is not the default (at the default it is only the
 * writer's, which wrote every key). */
static nl_code drop_inapplicable(nl_config *cfg, bool resolved_file, nl_error *err)
{
    nl_config *defaults = malloc(sizeof *defaults);
    if (!defaults)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory resolving the config");
    nl_config_defaults(defaults);
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        const nl_config_origin *o = nl_config_origin_of(cfg, def->key);
        nl_key_when failing;
        if (!o || nl_cfg_from_set(o) || !nl_schema_failing_condition(def, cfg, &failing))
            continue;
        const nl_config_origin *on = nl_config_origin_of(cfg, failing.key);
        char when[768];
        /* the --set named by its key alone: a sweep's grid sets it to each
         * of its values, and counts one warning for them all (sweep/plan.c) */
        if (nl_cfg_from_set(on))
            nl_cfg_warn(cfg, "%s:%d:%d: %s: ignored: it applies only when %s, and --set %s "
                        "changed that", o->source, o->line, o->column, def->key,
                        nl_schema_when_text(def, when, sizeof when), failing.key);
        else if (resolved_file && nl_schema_equal(def, cfg, defaults))
            ; /* the writer wrote every key: at its default it is no one's choice */
        else if (resolved_file)
            nl_cfg_warn(cfg, "%s:%d:%d: %s: ignored: it applies only when %s (this resolved "
                        "config was written by an earlier normlab, where it had no effect)",
                        o->source, o->line, o->column, def->key,
                        nl_schema_when_text(def, when, sizeof when));
        else
            continue;
        nl_schema_copy(def, cfg, defaults);
        nl_cfg_drop_origin(cfg, def->key);
    }
    free(defaults);
    return NL_OK;
}

/* A --set that switches data.dataset over a file whose data.path is
 * another dataset's default directory (a run's config.yaml names its
 * dataset's: `eval --data dataset=mnist` on a Fashion-MNIST run): that
 * directory holds the other dataset's files, which would be read under the
 * new name. The switched dataset takes its own default instead (and where
 * it has none, asks for data.path). */
static bool path_of_another_dataset(const nl_config *cfg)
{
    const nl_config_origin *dataset = nl_config_origin_of(cfg, "data.dataset");
    const nl_config_origin *path = nl_config_origin_of(cfg, "data.path");
    if (!nl_cfg_from_set(dataset) || !path || nl_cfg_from_set(path) || !cfg->data.path[0])
        return false;
    for (int k = 0; k < NL_DATA_COUNT; k++)
        if (k != (int)cfg->data.kind && nl_data_default_path((nl_dataset_kind)k)[0] &&
            strcmp(cfg->data.path, nl_data_default_path((nl_dataset_kind)k)) == 0)
            return true;
    return false;
}

/* the defaults that depend on other keys, where the config does not say */
/* A custom normalizer evaluates with running statistics where they stand
 * for a batch the sample is evaluated without (a reduction over the
 * batch), unless the config says; before the rules are read, since
 * momentum's depends on it */
static void derive_eval_stats(nl_config *cfg)
{
    nl_norm_spec *norm = &cfg->model.norm;
    if ((nl_norm_info_of(norm->kind)->keys & NL_NORM_KEY_EVAL_STATS) &&
        !nl_config_origin_of(cfg, "model.norm.eval_stats"))
        norm->eval_stats =
            (norm->reduce & (1u << NL_AXIS_BATCH)) ? NL_STATS_RUNNING : NL_STATS_BATCH;
}

static void derived_defaults(nl_config *cfg)
{
    /* a default in the build directory (the text corpus: its row names it
     * for the docs as <build>/...) differs from checkout to checkout: the
     * resolved config leaves it unnamed (""), which the data layer opens as
     * the build's own, so a config.yaml means the same run in every
     * checkout (and a sweep's committed runs stay finished there). The
     * other defaults are the system's fixed directories. */
    if (path_of_another_dataset(cfg))
        cfg->data.path[0] = '\0';
    if ((!nl_config_origin_of(cfg, "data.path") || !cfg->data.path[0]) &&
        !nl_dataset_info_of(cfg->data.kind)->default_path_doc)
        snprintf(cfg->data.path, sizeof cfg->data.path, "%s", nl_data_default_path(cfg->data.kind));
    if (!nl_config_origin_of(cfg, "model.norm.placement"))
        cfg->model.norm.placement = nl_model_spec_default_placement(&cfg->model);
    /* the optimizer's own defaults (PyTorch's AdamW: lr 0.001, weight decay
     * 0.01, betas [0.9, 0.999]) where the config does not say, and its
     * state in the model plan */
    const nl_optim_info *optim = nl_optim_info_of(cfg->train.optimizer.kind);
    if (!nl_config_origin_of(cfg, "train.optimizer.lr"))
        cfg->train.optimizer.lr = optim->default_lr;
    if (!nl_config_origin_of(cfg, "train.optimizer.weight_decay"))
        cfg->train.optimizer.weight_decay = optim->default_weight_decay;
    if (!nl_config_origin_of(cfg, "train.optimizer.momentum") && (optim->keys & NL_OPTIM_KEY_MOMENTUM))
        cfg->train.optimizer.momentum = optim->default_momentum;
    if (!nl_config_origin_of(cfg, "train.optimizer.betas") && (optim->keys & NL_OPTIM_KEY_BETAS))
        memcpy(cfg->train.optimizer.betas, optim->default_betas, sizeof optim->default_betas);
    cfg->model.optimizer_state_slots = optim->state_slots;
    /* GradScaler's place is fp16, whose range needs it */
    if (!nl_config_origin_of(cfg, "train.loss_scale.enabled"))
        cfg->train.loss_scale.enabled = cfg->train.precision == NL_PRECISION_FP16;
    nl_norm_spec *norm = &cfg->model.norm;
    const nl_norm_info *norm_row = nl_norm_info_of(norm->kind);
    nl_norm_spec norm_defaults;
    nl_norm_spec_defaults(&norm_defaults, norm->kind);
    if (!nl_config_origin_of(cfg, "model.norm.track_running_stats"))
        norm->track_running_stats = norm_defaults.track_running_stats;
    if (!nl_config_origin_of(cfg, "model.norm.groups"))
        norm->groups = norm_defaults.groups;
    /* whether it keeps them, for what reads track_running_stats */
    if (norm_row->keys & NL_NORM_KEY_EVAL_STATS)
        norm->track_running_stats = nl_norm_keeps_running(norm);
}

/* init.from as an absolute path, so that the run's resolved config.yaml and
 * summary.json say which run it started from wherever they are read: a
 * relative value from a config file is relative to that file's directory
 * (a config kept beside its runs names them wherever normlab is started),
 * one from --set to the working directory, as any path typed in a shell.
 * An existing directory is named by its real path (symlinks resolved). A
 * resolved config (a run's config.yaml) holds a relative value only when
 * written before init.from was made absolute, when it was relative to the
 * working directory: read so, a finished run's config is still its own. */
static nl_code absolute_init_from(nl_config *cfg, bool resolved_file, nl_error *err)
{
    char *from = cfg->init_from;
    if (!from[0] || from[0] == '/') {
        char real[PATH_MAX];
        /* absolute already: named by its real path where it exists */
        if (from[0] && realpath(from, real) && strlen(real) < sizeof cfg->init_from)
            nl_copy_string(from, sizeof cfg->init_from, real);
        return NL_OK;
    }
    char joined[2 * sizeof cfg->init_from], cwd[1024] = "";
    const nl_config_origin *o = nl_config_origin_of(cfg, "init.from");
    if (o && !nl_cfg_from_set(o) && !resolved_file && strchr(o->source, '/')) {
        const char *slash = strrchr(o->source, '/');
        snprintf(joined, sizeof joined, "%.*s/%s", (int)(slash - o->source), o->source, from);
    } else {
        nl_copy_string(joined, sizeof joined, from);
    }
    char real[PATH_MAX], abs[sizeof joined + sizeof cwd];
    const char *rel = joined;
    if (realpath(joined, real)) {
        nl_copy_string(abs, sizeof abs, real);
    } else {
        /* not there (the check says so, naming it): absolute all the same */
        if (joined[0] != '/' && !getcwd(cwd, sizeof cwd))
            return nl_cfg_key_fail(cfg, err, "init.from", "%s: the working directory cannot be "
                                   "read to make it absolute; give an absolute path", from);
        while (rel[0] == '.' && rel[1] == '/')
            rel += 2;
        snprintf(abs, sizeof abs, "%s%s%s", cwd, cwd[0] ? "/" : "", rel);
    }
    if (strlen(abs) >= sizeof cfg->init_from)
        return nl_cfg_key_fail(cfg, err, "init.from", "%zu bytes as an absolute path; accepted: "
                               "at most %zu (the value: %s)", strlen(abs),
                               sizeof cfg->init_from - 1, from);
    nl_copy_string(from, sizeof cfg->init_from, abs);
    return NL_OK;
}

/* A config.yaml normlab wrote holds every key that applied; one without a
 * NL_KF_REPLAY_FIRST key that applies now was written before the key
 * applied, and that run had the key's first value (model.layout: nchw,
 * before the plan chose the layout), which it replays */
static void replay_first(nl_config *cfg)
{
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if (!(def->flags & NL_KF_REPLAY_FIRST) || def->type != NL_KT_ENUM ||
            nl_config_origin_of(cfg, def->key) ||
            !nl_schema_applies(def, cfg))
            continue;
        memset((char *)cfg + def->off, 0, def->size);
    }
}

nl_code nl_cfg_resolve(nl_config *cfg, bool resolved_file, nl_error *err)
{
    nl_code code = nl_cfg_check_epochs_steps(cfg, err);
    if (code)
        return code;
    if (nl_config_origin_of(cfg, "train.steps"))
        cfg->train.epochs = 0;
    derive_eval_stats(cfg);
    if ((code = drop_inapplicable(cfg, resolved_file, err)))
        return code;
    if (resolved_file)
        replay_first(cfg);
    derived_defaults(cfg);
    return absolute_init_from(cfg, resolved_file, err);
}

nl_plan_run nl_config_plan_run(const nl_config *cfg, bool fuse_off)
{
    const nl_train_spec *t = &cfg->train;
    return (nl_plan_run){.precision = t->precision, .train_batch = t->batch_size,
                         .capacity = t->batch_size > t->eval_batch_size ? t->batch_size
                                                                        : t->eval_batch_size,
                         .threads = nl_backend_max_threads(cfg->threads),
                         .freezable = t->freeze_bn_after > 0 ||
                                      t->init_bn.policy == NL_BN_POLICY_FREEZE,
                         .traces_activation = t->trace.activation[0] != '\0',
                         .observes_adds = t->log_signal_propagation ||
                                          t->log_probe[NL_PROBE_LOG_blockskip],
                         .fuse_off = fuse_off,
                         .device = cfg->device};
}

/* ---- validation ---- */

static void derive(nl_config *cfg)
{
    nl_data_spec *d = &cfg->data;
    nl_model_spec *m = &cfg->model;
    d->seed = cfg->seed;
    /* the shape and classes the dataset's row plans for; a token model's
     * classes are its vocabulary */
    const nl_dataset_shape planned = nl_dataset_planned_shape(d);
    if (!nl_dataset_kind_is_tokens(d->kind))
        m->in_c = planned.c, m->in_h = planned.h, m->in_w = planned.w;
    m->classes = planned.classes;
    /* a class subset relabels the data 0..k-1: the model has k classes */
    if (!nl_dataset_kind_is_tokens(d->kind) && d->n_classes_subset > 0)
        m->classes = d->n_classes_subset;
    /* the model is checked at the precision it will run in: what blocked
     * convolutions take depends on it (the planned graph's probe, nl_plan_graph) */
    m->product_precision = cfg->train.precision;
}

/* each key's own value, then keys given where they do not apply (derive
 * reads the values, so it comes between) */
static nl_code check_keys(nl_config *cfg, nl_error *err)
{
    char msg[1536], where[800], when[768], value[512];
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if (!nl_schema_check_value(def, cfg, msg, sizeof msg))
            return nl_cfg_key_fail(cfg, err, def->key, "%s", msg);
    }
    derive(cfg);

    /* keys given where they do not apply: the one place that refuses a key
     * by its rule (a sweep's grid value that makes a key inapplicable is
     * left out before this: sweep/plan.c, and drop_inapplicable above) */
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        nl_key_when failing;
        if (!nl_config_origin_of(cfg, def->key) ||
            !nl_schema_failing_condition(def, cfg, &failing))
            continue;
        const nl_key_def *on = nl_schema_find(failing.key);
        nl_config_where(cfg, on->key, where, sizeof where);
        const bool why = failing.why && failing.why[0];
        return nl_cfg_key_fail(cfg, err, def->key,
                               "applies only when %s, but %s is '%s' (%s)%s%s; remove %s "
                               "or change %s",
                               nl_schema_when_text(def, when, sizeof when), on->key,
                               nl_schema_format(on, cfg, value, sizeof value), where,
                               why ? ": " : "", why ? failing.why : "",
                               nl_cfg_last_component(def->key), on->key);
    }

    /* the token datasets' keys together (the chain's branching against its
     * vocabulary, its table's size) */
    if (nl_dataset_kind_is_tokens(cfg->data.kind)) {
        nl_error data_err = {0};
        if (nl_token_spec_check(&cfg->data, &data_err) != NL_OK)
            return nl_cfg_key_fail(cfg, err, data_err.key[0] ? data_err.key : "data.dataset", "%s",
                                   data_err.msg);
    }
    return NL_OK;
}

/* the run's length, the optimizer and the schedule together */
static nl_code check_training(nl_config *cfg, nl_error *err)
{
    char where[800];
    const nl_train_spec *t = &cfg->train;
    if (t->epochs > 0 && t->steps > 0)
        return nl_cfg_key_fail(cfg, err, "train.steps",
                               "both train.epochs (%ld) and train.steps (%ld) are "
                               "set; give exactly one",
                               t->epochs, t->steps);
    if (t->epochs <= 0 && t->steps <= 0)
        return nl_cfg_key_fail(cfg, err, "train.epochs",
                               "neither train.epochs nor train.steps is set; "
                               "give exactly one");

    const nl_optim_spec *o = &t->optimizer;
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
        const bool no_momentum = o->momentum <= 0;
        const char *other = no_momentum ? "train.optimizer.momentum" : "train.optimizer.dampening";
        return nl_cfg_key_fail(cfg, err, "train.optimizer.nesterov",
                               "true needs momentum > 0 and "
                               "dampening 0 (as in PyTorch), but %s is %g (%s)",
                               nl_cfg_last_component(other),
                               no_momentum ? (double)o->momentum : (double)o->dampening,
                               nl_config_where(cfg, other, where, sizeof where));
    }
    const nl_schedule_spec *s = &t->schedule;
    if (s->kind == NL_SCHED_STEP && s->n_milestones == 0)
        return nl_cfg_key_fail(cfg, err, "train.schedule.type",
                               "step needs train.schedule.milestones, "
                               "the steps at which the learning rate is multiplied by gamma");
    if (s->kind == NL_SCHED_COSINE && s->min_lr > o->lr)
        return nl_cfg_key_fail(cfg, err, "train.schedule.min_lr",
                               "%g is above the base learning rate "
                               "train.optimizer.lr %g (%s); cosine decays from lr down to min_lr",
                               (double)s->min_lr, (double)o->lr,
                               nl_config_where(cfg, "train.optimizer.lr", where, sizeof where));
    if (t->steps > 0 && s->warmup_steps >= t->steps)
        nl_cfg_warn(cfg, "train.schedule.warmup_steps %d covers all %ld steps; the run never "
                    "reaches the base learning rate's schedule", s->warmup_steps, t->steps);
    /* milestones past the run's last step: nl_run_check, which knows the
     * run's length also when it is given in epochs */
    return NL_OK;
}

/* the batch against the dataset's size */
static nl_code check_sizes(nl_config *cfg, nl_error *err)
{
    char where[800];
    const nl_train_spec *t = &cfg->train;
    /* token datasets count tokens in train_size and test_size, not samples */
    const bool samples = !nl_dataset_kind_is_tokens(cfg->data.kind);
    if (samples && cfg->data.train_size > 0 && t->batch_size > cfg->data.train_size)
        return nl_cfg_key_fail(cfg, err, "train.batch_size",
                               "%d is larger than data.train_size %ld "
                               "(%s); training drops incomplete batches, so no step would run",
                               t->batch_size, cfg->data.train_size,
                               nl_config_where(cfg, "data.train_size", where, sizeof where));
    /* one class kept is a model that always predicts it: 100% accuracy
     * that measures nothing */
    if (samples && cfg->data.n_classes_subset == 1)
        return nl_cfg_key_fail(cfg, err, "data.classes_subset",
                               "[%d] keeps one class: a model of one class always predicts it "
                               "(accuracy 100%%, loss 0), which measures nothing; accepted: 2 "
                               "or more class ids, or [] for all classes",
                               cfg->data.classes_subset[0]);
    /* the default cut to a small test split; another value past the split
     * is refused (nl_run_check, which knows the split's size) */
    if (samples && t->trace.activation[0] && cfg->data.test_size > 0 &&
        t->trace.samples > cfg->data.test_size &&
        t->trace.samples == NL_TRACE_DEFAULT_SAMPLES)
        nl_cfg_warn(cfg, "train.trace.samples %d is more than data.test_size %ld; the trace uses "
                    "all %ld test samples", t->trace.samples, cfg->data.test_size,
                    cfg->data.test_size);
    return NL_OK;
}

/* token models and token datasets go together */
static nl_code check_tokens_match(nl_config *cfg, nl_error *err)
{
    if (nl_model_spec_tokens(&cfg->model) != nl_dataset_kind_is_tokens(cfg->data.kind)) {
        char token_kinds[128], token_archs[128];
        int used = 0;
        token_kinds[0] = '\0';
        for (int k = 0; k < NL_DATA_COUNT; k++)
            if (nl_dataset_kind_is_tokens((nl_dataset_kind)k))
                used += snprintf(token_kinds + used, sizeof token_kinds - (size_t)used, "%s%s",
                                 used ? " | " : "", nl_name_of(&nl_dataset_names, k));
        if (nl_model_spec_tokens(&cfg->model))
            return nl_cfg_key_fail(cfg, err, "model.arch",
                                   "'%s' reads token sequences, but data.dataset "
                                   "%s has images or feature vectors; accepted datasets: %s",
                                   nl_name_of(&nl_arch_names, cfg->model.arch),
                                   nl_name_of(&nl_dataset_names, cfg->data.kind), token_kinds);
        return nl_cfg_key_fail(cfg, err, "data.dataset",
                               "'%s' yields token sequences, but model.arch "
                               "'%s' takes images or feature vectors; token datasets (%s) need "
                               "model.arch %s",
                               nl_name_of(&nl_dataset_names, cfg->data.kind),
                               nl_name_of(&nl_arch_names, cfg->model.arch), token_kinds,
                               nl_arch_kinds_reading(NL_ARCH_IN_TOKENS, " | ", token_archs, sizeof token_archs));
    }
    return NL_OK;
}

/* a builder message starts "model: ..." or "layer x: ..."; drop the "model: " */
static const char *strip_model(const char *msg)
{
    return strncmp(msg, "model: ", 7) == 0 ? msg + 7 : msg;
}

/* Evaluation that normalizes with its own batch's statistics meets at
 * train.eval_batch_size what training meets at train.batch_size: the
 * model checked at the evaluation batch, and a set of one value there
 * (the normalizer registry's sets, which scale with the batch) refused as
 * it is for training. Else each test sample is normalized to beta alone
 * and the evaluation is at chance (PyTorch refuses BatchNorm with one
 * value per channel when it takes batch statistics). */
static nl_code check_eval_batch(nl_config *cfg, const nl_model *graph, nl_error *err)
{
    const nl_norm_spec *norm = &cfg->model.norm;
    const int eval_batch = cfg->train.eval_batch_size;
    char layer[128], where[800];
    const char *why = NULL;
    /* a batch at least training's has sets at least training's */
    if (eval_batch >= cfg->train.batch_size ||
        !nl_model_eval_batch_degenerate(graph, eval_batch, layer, sizeof layer, &why))
        return NL_OK;
    const bool running_fix = !strcmp(why, "model.norm.eval_stats");
    return nl_cfg_key_fail(cfg, err, "train.eval_batch_size",
                           "%d leaves %s one value per normalized set at evaluation, where model.norm.type "
                           "%s normalizes with the statistics of the batch it is given (%s %s, %s); with one "
                           "value %s, so every test sample gets the same output (an evaluation at chance); "
                           "accepted: train.eval_batch_size of at least 2, or %s %s (PyTorch: 'Expected more "
                           "than 1 value per channel when training')",
                           eval_batch, layer, nl_name_of(&nl_norm_names, norm->kind), why,
                           running_fix ? "batch" : "false", nl_config_where(cfg, why, where, sizeof where),
                           nl_norm_centres(norm) ? "x - mean is 0" : "x / rms(x) is +-1", why,
                           running_fix ? "running" : "true");
}

/* the model's planned graph (nl_plan_graph) */
static nl_code check_model(nl_config *cfg, nl_error *err)
{
    char where[800];
    /* QK-norm puts model.norm.type on each head's query and key: with a
     * kind that adds no layer it would silently do nothing */
    if (cfg->model.qk_norm && !nl_norm_info_of(cfg->model.norm.kind)->adds_layer)
        return nl_cfg_key_fail(
            cfg, err, "model.qk_norm",
            "true needs a normalizer for the queries and "
            "keys, but model.norm.type is %s (%s); name one with model.norm.type "
            "(e.g. layer, as in Wortsman et al. 2023; with model.norm.placement none "
            "it normalizes only q and k), or set model.qk_norm false",
            nl_name_of(&nl_norm_names, cfg->model.norm.kind),
            nl_config_where(cfg, "model.norm.type", where, sizeof where));

    /* the model as a run on the config's device plans it (core/plan): a
     * layout that device cannot run is refused here, as by the run; the
     * decision stays with the config and its graph with the plan, so that
     * the run's check and build take both without planning again */
    nl_error model_err = {0};
    nl_model_spec planned;
    const nl_plan_run run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    nl_code rc = nl_plan_model(&cfg->model, &run, cfg->device, &planned, &model_err);
    nl_model *graph = NULL;
    if (rc == NL_OK) {
        cfg->model.channel_block = planned.channel_block;
        cfg->model.layout_key = planned.layout_key;
        rc = nl_plan_graph(&planned, &run, &graph, &model_err);
    }
    if (rc != NL_OK) {
        const char *key = model_err.key[0] ? model_err.key : "model";
        char prefix[1024];
        if (model_err.key[0])
            nl_cfg_key_prefix(cfg, key, prefix, sizeof prefix);
        else
            snprintf(prefix, sizeof prefix, "%s: model: ", cfg->source[0] ? cfg->source : "config");
        char with[1024];
        nl_code code = nl_fail(err, model_err.code == NL_ERR_NOMEM ? NL_ERR_NOMEM : NL_ERR_CONFIG,
                               "%s%s%s", prefix, strip_model(model_err.msg),
                               nl_config_with_where(cfg, &model_err, with, sizeof with));
        nl_error_key(err, key);
        return code;
    }
    rc = check_eval_batch(cfg, graph, err);
    nl_plan_graph_done(graph);
    return rc;
}

nl_code nl_config_validate(nl_config *cfg, nl_error *err)
{
    nl_code code;
    if ((code = check_keys(cfg, err)) || (code = check_training(cfg, err)) ||
        (code = check_sizes(cfg, err)) || (code = check_tokens_match(cfg, err)))
        return code;
    return check_model(cfg, err);
}
