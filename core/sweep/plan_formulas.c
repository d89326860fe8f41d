/* One name, one formula, in a sweep's plan (plan_names.h, issue 114): two
 * formulas of a sweep under one name (config/norm_label.h; equal but for
 * case too) are refused, a grid giving two texts the model.norm.name the
 * base gives, a formulas: entry named as the base's formula: their tables,
 * legends and claims would take them for one normalizer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/names.h"
#include "config/config.h"
#include "config/norm_label.h"
#include "norm/kinds.h"
#include "sweep/plan_names.h"

/* two formula texts are one formula when they differ in spaces only */
static bool same_formula(const char *a, const char *b)
{
    for (;; a++, b++) {
        while (isspace((unsigned char)*a))
            a++;
        while (isspace((unsigned char)*b))
            b++;
        if (*a != *b)
            return false;
        if (!*a)
            return true;
    }
}

/* the last override of key (line 0: none) */
static nl_sweep_pos override_pos(const nl_sweep_override_at *at, const char *key)
{
    nl_sweep_pos pos = {0, 0};
    for (int i = 0; i < at->n; i++)
        if (at->keys[i] && !strcmp(at->keys[i], key) && at->pos[i].line > 0)
            pos = at->pos[i];
    return pos;
}

/* file:line:column where the run's formula is named: its name's override
 * (a formulas: entry, set:, grid:), else the config's line giving the name
 * (the base config's), else where its text or its type is chosen, else the
 * experiment's base: line; *key the key there */
static void where_named(const nl_experiment *e, const nl_config *cfg, const nl_sweep_override_at *at,
                        const char **key, char *buf, size_t size)
{
    static const char *const keys[] = {"model.norm.name", "model.norm.expr", "model.norm.type"};
    for (int k = 0; k < 3; k++) {
        *key = keys[k];
        const nl_sweep_pos pos = override_pos(at, keys[k]);
        if (pos.line > 0) {
            snprintf(buf, size, "%s:%d:%d", e->path, pos.line, pos.column);
            return;
        }
        const nl_config_origin *o = k == 0 && cfg->model.norm.label[0] ? nl_config_origin_of(cfg, keys[k]) : NULL;
        if (o && o->line > 0) {
            snprintf(buf, size, "%s:%d:%d", o->source, o->line, o->column);
            return;
        }
    }
    snprintf(buf, size, "%s:%d:%d", e->path, e->base_pos.line, e->base_pos.column);
}

nl_code nl_sweep_formula_names_check(nl_sweep_formula_names *seen, const nl_experiment *e, const nl_config *cfg,
                                     const char *dir, const nl_sweep_override_at *at, nl_error *err)
{
    if (!nl_norm_type_is_formula(nl_name_of(&nl_norm_names, cfg->model.norm.kind)))
        return NL_OK;
    char label[NL_NORM_LABEL_SIZE];
    nl_norm_label_of_config(cfg, label, sizeof label);
    const char *key;
    char here[1100];
    where_named(e, cfg, at, &key, here, sizeof here);
    for (int i = 0; i < seen->n; i++) {
        const nl_sweep_formula_seen *s = &seen->items[i];
        if (strcasecmp(s->label, label)) /* "Bin" and "bin" would read as one */
            continue;
        if (same_formula(s->expr, cfg->model.norm.expr))
            return NL_OK;
        nl_fail(err, NL_ERR_CONFIG, "%s: %s: run %s: the name '%s' is already another formula's, run %s's (%s): "
                "\"%.200s\" and \"%.200s\"; tables, legends and claims would take the two for one "
                "normalizer; accepted: a name of its own for each formula of the sweep (model.norm.name, or "
                "a formulas: entry each; a formula without a name is expr-<hash of its text>)",
                here, key, dir, label, s->dir, s->where, s->expr, cfg->model.norm.expr);
        nl_error_key(err, key);
        return NL_ERR_CONFIG;
    }
    nl_sweep_formula_seen *grown = realloc(seen->items, (size_t)(seen->n + 1) * sizeof *grown);
    char *expr = strdup(cfg->model.norm.expr);
    if (!grown || !expr) {
        free(expr);
        if (grown)
            seen->items = grown;
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    seen->items = grown;
    nl_sweep_formula_seen *s = &seen->items[seen->n++];
    nl_copy_string(s->label, sizeof s->label, label);
    nl_copy_string(s->dir, sizeof s->dir, dir);
    s->expr = expr;
    nl_copy_string(s->where, sizeof s->where, here);
    return NL_OK;
}

void nl_sweep_formula_names_free(nl_sweep_formula_names *seen)
{
    for (int i = 0; i < seen->n; i++)
        free(seen->items[i].expr);
    free(seen->items);
    memset(seen, 0, sizeof *seen);
}
