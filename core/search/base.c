/* The search's base config with a candidate's formula in it (internal.h):
 * the formula goes in as the overrides a `normlab run --set` would give,
 * so that the config module checks and plans it as it does a user's. */
#include <stdio.h>
#include <string.h>

#include "search/internal.h"

/* key="text": a YAML double-quoted scalar; the formula grammar has no
 * quote or backslash, and a text with one never parsed to get here */
static void quoted(char *buf, size_t size, const char *key, const char *text)
{
    snprintf(buf, size, "%s=\"%s\"", key, text);
}

nl_code nl_search_load_config(const nl_search_spec *s, const char *expr, const char *params,
                              nl_config *cfg, nl_error *err)
{
    return nl_search_load_on(s, &s->base, expr, params, cfg, err);
}

nl_code nl_search_load_on(const nl_search_spec *s, const nl_search_model *m, const char *expr,
                          const char *params, nl_config *cfg, nl_error *err)
{
    char local[2][NL_FORMULA_MAX_TEXT + 64];
    quoted(local[0], sizeof local[0], "model.norm.expr", expr);
    quoted(local[1], sizeof local[1], "model.norm.params", params);
    const char *overrides[] = {"model.norm.type=expr", local[0], local[1]};
    if (m->text)
        return nl_config_load_string(m->text, s->path, overrides, 3, cfg, err);
    return nl_config_load(m->path, overrides, 3, cfg, err);
}

nl_code nl_search_hurdle_config(const nl_search_spec *s, long id, nl_config *cfg, nl_error *err)
{
    cfg->train.steps = s->hurdle_steps;
    cfg->train.epochs = 0;
    snprintf(cfg->name, sizeof cfg->name, "c%ld", id);
    return nl_config_validate(cfg, err);
}

nl_code nl_search_rank_config(long id, int k, long steps, nl_config *cfg, nl_error *err)
{
    if (steps > 0) {
        cfg->train.steps = steps;
        cfg->train.epochs = 0;
        snprintf(cfg->name, sizeof cfg->name, "c%ld-m%d-s%ld", id, k + 1, steps);
        return nl_config_validate(cfg, err);
    }
    snprintf(cfg->name, sizeof cfg->name, "c%ld-m%d", id, k + 1);
    return nl_config_validate(cfg, err);
}

nl_code nl_search_reference_config(const nl_search_spec *s, int k, nl_config *cfg, nl_error *err)
{
    char type[64];
    snprintf(type, sizeof type, "model.norm.type=%s", s->target_norm);
    const char *overrides[] = {type};
    const nl_search_model *m = s->n_models ? &s->models[k] : &s->base;
    nl_code rc = m->text ? nl_config_load_string(m->text, s->path, overrides, 1, cfg, err)
                         : nl_config_load(m->path, overrides, 1, cfg, err);
    if (rc)
        return rc;
    const long steps = !s->n_models ? s->hurdle_steps : s->n_rungs ? s->rung_steps[s->n_rungs - 1] : 0;
    if (steps > 0) {
        cfg->train.steps = steps;
        cfg->train.epochs = 0;
    }
    if (s->n_models)
        snprintf(cfg->name, sizeof cfg->name, "%s-m%d", s->target_norm, k + 1);
    else
        snprintf(cfg->name, sizeof cfg->name, "%s-base", s->target_norm);
    return nl_config_validate(cfg, err);
}
