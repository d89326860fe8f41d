#include "train/init_from.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "results/files.h"
#include "results/store.h"
#include "train/run_model.h"
#include "data/tokens.h"
#include "device/device.h"
#include "train/checkpoint.h"
#include "train/final_model.h"
#include "train/probe_sigprop.h"

/* the layer named by a parameter or statistic: its name up to the last '.' */
static void layer_of(const char *name, char *layer, size_t size)
{
    const char *dot = strrchr(name, '.');
    snprintf(layer, size, "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
}

/* the layer of `m` called `name`; NULL when none is */
static const nl_layer *layer_named(const nl_model *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i]->name, name))
            return m->layers[i];
    return NULL;
}

/* init.bn_*: what the config alone can contradict */
static nl_code check_bn_policy(const nl_config *cfg, nl_error *err)
{
    const nl_init_bn_spec *bn = &cfg->train.init_bn;
    /* a policy given without init.from is refused by its schema rule, with
     * the other keys that cannot take effect (config/resolve.c) */
    if (!cfg->init_from[0])
        return NL_OK;
    if (bn->policy == NL_BN_POLICY_FREEZE && cfg->train.freeze_bn_after > 0)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.freeze_bn_after",
                                   "%ld: init.bn_policy freeze already trains with the running "
                                   "statistics from step 0 on; remove train.freeze_bn_after (not "
                                   "set: never), or choose another init.bn_policy",
                                   cfg->train.freeze_bn_after);
    const bool to_group = cfg->model.norm.kind == NL_NORM_GROUP;
    if (bn->policy == NL_BN_POLICY_GROUP_NORM && !to_group)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "init.bn_policy",
                                   "group_norm swaps the source's batch norm for this config's "
                                   "group norm, and model.norm.type is %s here; set "
                                   "model.norm.type: group (with model.norm.groups: G)",
                                   nl_name_of(&nl_norm_names, cfg->model.norm.kind));
    return NL_OK;
}

/* whether two paths name one directory (another spelling, a symlink);
 * false when either does not exist */
static bool same_directory(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* the source's final model loaded into the model this config builds, on a
 * CPU backend of its own: what a run's nl_init_from_load would refuse */
static nl_code check_carry(const nl_config *cfg, int vocab, nl_error *err)
{
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    if (vocab > 0)
        spec.classes = vocab; /* as the run sets it once the text is read */
    const nl_backend_options one_thread = {.threads = 1};
    nl_backend *be = NULL;
    nl_model *m = NULL;
    nl_code rc = nl_backend_open(NL_DEVICE_CPU, &one_thread, &be, err);
    /* the arrays do not depend on the batch: planned for the training one
     * alone, not the (often larger) evaluation batch */
    if (rc == NL_OK)
        rc = nl_model_create(&spec, be, cfg->train.batch_size, cfg->train.batch_size, cfg->seed,
                            &m, err);
    char note[1400];
    if (rc == NL_OK)
        rc = nl_init_from_load(cfg, m, NULL, note, sizeof note, err);
    nl_model_free(m);
    if (be)
        nl_backend_close(be);
    return rc;
}

nl_code nl_init_from_check(const nl_config *cfg, int vocab, const char *out_dir, nl_error *err)
{
    nl_code rc = check_bn_policy(cfg, err);
    if (rc || !cfg->init_from[0])
        return rc;
    if (cfg->model.param_norm.data_init)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "model.param_norm.data_init",
                                   "true with init.from %s: the data-dependent initialization "
                                   "would overwrite the gains carried over from it; remove "
                                   "model.param_norm.data_init (or init.from)", cfg->init_from);
    /* a run replaces its directory's model before it would read it */
    if (out_dir && same_directory(cfg->init_from, out_dir))
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "init.from",
                                   "%s is this run's own directory (%s): the run would replace "
                                   "the final model it starts from; write the run elsewhere "
                                   "(--out), or start from another run", cfg->init_from, out_dir);
    nl_error why = {0};
    if (nl_final_model_check_run(cfg->init_from, &why) != NL_OK)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "init.from", "%s", why.msg);
    return check_carry(cfg, vocab, err);
}

/* whether the parameters of `layer` (a parameter's name up to its last
 * '.') are a normalizer's: a normalizer layer's (by name, as the signal
 * propagation probe tells them), or one inside a recurrent cell, which has
 * no layer of its own (lstm.l0.norm_ih) */
static bool is_norm_param(const nl_model *m, const char *layer)
{
    const nl_layer *l = layer_named(m, layer);
    if (l)
        return nl_sigprop_is_norm_layer(l);
    const char *last = strrchr(layer, '.');
    return last && !strncmp(last + 1, "norm", 4);
}

/* Parameters are carried by name, and a normalizer's gamma and beta mean
 * something only under the statistics of its own kind: batch norm's
 * per-channel scale over the batch is not layer norm's over the features.
 * init.bn_policy group_norm is the one policy that says what a batch norm
 * becomes (check_source_bn has matched it to the two kinds). */
static nl_code check_norm_kinds(const nl_config *cfg, const nl_model *src, const nl_model *m,
                                nl_error *err)
{
    const nl_norm_kind had = src->spec.norm.kind, here = m->spec.norm.kind;
    if (had == here || cfg->train.init_bn.policy == NL_BN_POLICY_GROUP_NORM)
        return NL_OK;
    char layer[96];
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *p = m->params[i];
        layer_of(p->name, layer, sizeof layer);
        if (!is_norm_param(m, layer) || !nl_model_param(src, p->name))
            continue;
        const char *had_name = nl_name_of(&nl_norm_names, had);
        const char *swap = had == NL_NORM_BATCH && here == NL_NORM_GROUP
                               ? "; or init.bn_policy: group_norm, which swaps the batch norms "
                                 "for group norms"
                               : "";
        return nl_config_key_error(
            cfg, err, NL_ERR_CONFIG, "model.norm.type",
            "%s: layer %s is a %s norm in %s and a %s norm here, and init.bn_policy %s would "
            "carry its %s into it by name; a normalizer's parameters are carried only into a "
            "layer of its own kind: set model.norm.type: %s (init.bn_policy keep%s)%s",
            nl_name_of(&nl_norm_names, here), layer, had_name, cfg->init_from,
            nl_name_of(&nl_norm_names, here),
            nl_name_of(&nl_bn_policy_names, cfg->train.init_bn.policy), p->name, had_name,
            src->n_states ? ", reset, freeze or recalibrate" : "", swap);
    }
    return NL_OK;
}

/* init.bn_*: what the source's model can contradict, before anything is carried */
static nl_code check_source_bn(const nl_config *cfg, const nl_model *src, const nl_model *m,
                               nl_error *err)
{
    const nl_bn_policy policy = cfg->train.init_bn.policy;
    if (policy == NL_BN_POLICY_KEEP)
        return NL_OK;
    const char *name = nl_name_of(&nl_bn_policy_names, policy);
    const char *src_norm = nl_name_of(&nl_norm_names, src->spec.norm.kind);
    if (policy == NL_BN_POLICY_GROUP_NORM)
        return src->spec.norm.kind == NL_NORM_BATCH
                   ? NL_OK
                   : nl_config_key_error(cfg, err, NL_ERR_CONFIG, "init.bn_policy",
                                         "group_norm swaps batch norm for group norm, and %s "
                                         "has model.norm.type %s; accepted for it: keep",
                                         cfg->init_from, src_norm);
    if (policy == NL_BN_POLICY_RECALIBRATE && m->rows_per_sample > 1)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "init.bn_policy",
                                   "recalibrate: token models take no recalibration of running "
                                   "statistics; accepted for them: keep, reset, freeze");
    if (src->n_states == 0)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "init.bn_policy",
                                   "%s: %s has no batch norm (its model.norm.type is %s, without "
                                   "running statistics); accepted for it: keep", name,
                                   cfg->init_from, src_norm);
    if (src->spec.norm.kind != m->spec.norm.kind)
        return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "model.norm.type",
                                   "%s: init.bn_policy %s keeps the source's normalizer, and %s "
                                   "has %s; set model.norm.type: %s (init.bn_policy group_norm is "
                                   "the one that changes it, from batch to group)",
                                   nl_name_of(&nl_norm_names, m->spec.norm.kind), name,
                                   cfg->init_from, src_norm, src_norm);
    return NL_OK;
}

/* init.bn_policy reset: torch's reset_running_stats, on the carried-over state */
static void reset_stats(nl_model *m, float *out_states)
{
    for (int i = 0; i < m->n_states; i++) {
        const nl_state *s = m->states[i];
        if (s->unit_normal) /* not a running statistic */
            continue;
        float *at = out_states + (s->data - m->state_arena);
        for (size_t k = 0; k < s->count; k++)
            at[k] = s->init_value;
    }
    for (int i = 0; i < m->n_counters; i++)
        *m->counters[i] = 0;
}

/* the layer whose output is the logits (the classifier) */
static const char *head_of(const nl_model *m)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->out == m->logits)
            return m->layers[i]->name;
    return "";
}

static bool same_shape(const nl_param *a, const nl_param *b)
{
    return a->ndim == b->ndim && !memcmp(a->dims, b->dims, (size_t)a->ndim * sizeof a->dims[0]);
}

/* " 64x32" */
static const char *dims_text(const nl_param *p, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < p->ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%d", d ? "x" : "", p->dims[d]);
    return buf;
}

/* A weight is carried only into the parameter normalizer it was trained
 * under: by name alone, weight normalization's v would become a plain
 * model's weight with its gain g dropped, and spectral normalization's
 * unnormalized weight one without its 1 / sigma. */
static nl_code check_param_norms(const nl_config *cfg, const nl_model *src, const nl_model *m,
                                 nl_error *err)
{
    for (int i = 0; i < src->n_layers; i++) {
        nl_layer *from = src->layers[i];
        if (!from->vt->param_norm)
            continue;
        nl_param *bias;
        const nl_param_norm_kind had = nl_param_norm_kind_of(from->vt->param_norm(from, &bias));
        nl_param_norm_kind here = NL_PARAM_NORM_NONE;
        for (int j = 0; j < m->n_layers; j++) {
            nl_layer *to = m->layers[j];
            if (!strcmp(to->name, from->name) && to->vt->param_norm)
                here = nl_param_norm_kind_of(to->vt->param_norm(to, &bias));
        }
        if (had != here)
            return nl_config_key_error(
                cfg, err, NL_ERR_CONFIG, "model.param_norm.type",
                "layer %s: %s trained its weight under parameter normalizer %s, and it is %s "
                "here; a weight is carried only into the one it was trained under: set "
                "model.param_norm.type: %s", from->name, cfg->init_from,
                nl_name_of(&nl_param_norm_names, had), nl_name_of(&nl_param_norm_names, here),
                nl_name_of(&nl_param_norm_names, had));
    }
    return NL_OK;
}

/* the source's host arenas, copied into `m` by name */
static nl_code carry(const nl_config *cfg, const nl_model *src, const float *params,
                     const float *states, nl_model *m, float *out_params, float *out_states,
                     int *kept_head, nl_error *err)
{
    const char *head = head_of(m);
    const bool new_head = src->spec.classes != m->spec.classes;
    char layer[96], a[64], b[64];
    for (int i = 0; i < m->n_params; i++) {
        const nl_param *p = m->params[i];
        const nl_param *q = nl_model_param(src, p->name);
        layer_of(p->name, layer, sizeof layer);
        if (new_head && !strcmp(layer, head)) {
            (*kept_head)++;
            continue;
        }
        if (!q)
            return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "init.from",
                                       "layer %s: %s has no parameter %s (its model is %s with "
                                       "normalizer %s)", layer, cfg->init_from, p->name,
                                       nl_name_of(&nl_arch_names, src->spec.arch),
                                       nl_name_of(&nl_norm_names, src->spec.norm.kind));
        if (!same_shape(p, q))
            return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "init.from",
                                       "layer %s: %s is %s in %s, %s here; the layers a run "
                                       "starts from must have the same shapes (only the "
                                       "classifier may differ, in its class count)", layer,
                                       p->name, dims_text(q, a, sizeof a), cfg->init_from,
                                       dims_text(p, b, sizeof b));
        memcpy(out_params + (p->data - m->param_arena), params + (q->data - src->param_arena),
               p->count * sizeof(float));
    }
    for (int i = 0; i < m->n_states; i++) {
        const nl_state *s = m->states[i];
        const nl_state *t = nl_model_state(src, s->name);
        layer_of(s->name, layer, sizeof layer);
        if (!t || t->count != s->count)
            return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "init.from",
                                       "layer %s: %s %s %s (%zu values here)", layer,
                                       cfg->init_from, t ? "holds another size of" : "has no",
                                       s->name, s->count);
        memcpy(out_states + (s->data - m->state_arena), states + (t->data - src->state_arena),
               s->count * sizeof(float));
    }
    return NL_OK;
}

/* the source run's model: its config's, with a text's vocabulary as the
 * run learnt it from its text (the config alone bounds it at 256), as
 * `normlab eval` builds it */
static nl_code source_model_spec(const nl_config *source_cfg, nl_model_spec *spec,
                                 nl_error *err)
{
    nl_run_model_spec(source_cfg, spec);
    if (!nl_dataset_kind_is_tokens(source_cfg->data.kind))
        return NL_OK;
    nl_token_shape shape;
    nl_error why = {0};
    if (nl_token_dataset_probe(&source_cfg->data, 2, NULL, &shape, &why) != NL_OK)
        return nl_fail(err, NL_ERR_CONFIG, "its text, which gives its model's vocabulary, cannot "
                       "be read: %s", why.msg);
    spec->classes = shape.vocab;
    return NL_OK;
}

/* what `source` records: the path as resolved, the final model's bytes hashed */
static nl_code identify(const nl_config *cfg, const nl_final_model_info *info,
                        nl_init_from_source *source, nl_error *err)
{
    char *bytes = NULL;
    size_t len = 0;
    nl_error why = {0};
    /* from the run's directory, or its sweep's pack (results/store.h) */
    if (nl_run_file_read(cfg->init_from, NL_FINAL_MODEL_FILE, &bytes, &len, &why) != NL_OK)
        return nl_config_key_error(cfg, err, why.code, "init.from", "%s", why.msg);
    nl_copy_string(source->path, sizeof source->path, cfg->init_from);
    source->model_hash = nl_checkpoint_hash(bytes, len);
    source->step = (long long)info->step;
    free(bytes);
    return NL_OK;
}

/* the source run's config.yaml as its record: from its directory, or from
 * its sweep's pack (results/store.h) */
static nl_code load_source_config(const char *dir, const char *path, nl_config *cfg, nl_error *err)
{
    if (!nl_run_packed(dir, NULL, 0, NULL, 0))
        return nl_config_load_record(path, NULL, 0, cfg, err);
    char *text = NULL;
    nl_code rc = nl_run_file_read(dir, NL_RUN_CONFIG_FILE, &text, NULL, err);
    if (!rc)
        rc = nl_config_load_record_string(text, path, cfg, err);
    free(text);
    return rc;
}

nl_code nl_init_from_load(const nl_config *cfg, nl_model *m, nl_init_from_source *source,
                          char *note, size_t note_size, nl_error *err)
{
    note[0] = '\0';
    if (!cfg->init_from[0])
        return NL_OK;
    nl_config *source_cfg = calloc(1, sizeof *source_cfg);
    if (!source_cfg)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    char path[1100];
    nl_path_join(path, sizeof path, cfg->init_from, NL_RUN_CONFIG_FILE);
    nl_model *src = NULL;
    nl_final_model_info info = {0};
    nl_error why = {0};
    nl_code rc = load_source_config(cfg->init_from, path, source_cfg, &why);
    nl_model_spec source_spec;
    if (rc == NL_OK)
        rc = source_model_spec(source_cfg, &source_spec, &why);
    if (rc == NL_OK)
        rc = nl_final_model_load_spec(cfg->init_from, source_cfg, &source_spec, m->be,
                                      source_cfg->train.batch_size, &src, &info, &why);
    free(source_cfg);
    if (rc)
        return nl_config_key_error(cfg, err, rc, "init.from", "%s", why.msg);
    /* the arenas of both, on the host: carried over once, before training */
    const size_t host_floats = src->param_floats + src->state_floats + m->param_floats +
                               m->state_floats + 1;
    float *params = malloc(host_floats * sizeof *params);
    if (!params) {
        nl_model_free(src);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading init.from");
    }
    float *states = params + src->param_floats, *out_params = states + src->state_floats;
    float *out_states = out_params + m->param_floats;
    nl_backend *be = m->be;
    be->ops->download(be, params, src->param_arena, src->param_floats * sizeof(float));
    be->ops->download(be, states, src->state_arena, src->state_floats * sizeof(float));
    be->ops->download(be, out_params, m->param_arena, m->param_floats * sizeof(float));
    be->ops->download(be, out_states, m->state_arena, m->state_floats * sizeof(float));
    rc = be->ops->synchronize(be, err);
    int kept_head = 0;
    if (rc == NL_OK)
        rc = check_source_bn(cfg, src, m, err);
    if (rc == NL_OK)
        rc = check_norm_kinds(cfg, src, m, err);
    if (rc == NL_OK)
        rc = check_param_norms(cfg, src, m, err);
    if (rc == NL_OK)
        rc = carry(cfg, src, params, states, m, out_params, out_states, &kept_head, err);
    if (rc == NL_OK && cfg->train.init_bn.policy == NL_BN_POLICY_RESET)
        reset_stats(m, out_states);
    if (rc == NL_OK && source)
        rc = identify(cfg, &info, source, err);
    if (rc == NL_OK) {
        be->ops->upload(be, m->param_arena, out_params, m->param_floats * sizeof(float));
        be->ops->upload(be, m->state_arena, out_states, m->state_floats * sizeof(float));
        rc = be->ops->synchronize(be, err);
    }
    if (rc == NL_OK)
        snprintf(note, note_size, "starting from %s (its final model, step %lld): %d "
                 "parameters%s carried over%s%s%s", cfg->init_from, (long long)info.step,
                 m->n_params - kept_head, m->n_states ? " and the running statistics" : "",
                 kept_head ? "; a new classifier head for the new class count" : "",
                 cfg->train.init_bn.policy ? "; batch norm policy " : "",
                 cfg->train.init_bn.policy
                     ? nl_name_of(&nl_bn_policy_names, cfg->train.init_bn.policy)
                     : "");
    free(params);
    nl_model_free(src);
    return rc;
}
