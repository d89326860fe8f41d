/* The experiment file's top-level formulas: (issue 114): formula
 * normalizers named once, which a model.norm.type value of the grid, set:
 * or the base names as it names a built-in; the plan (plan.c) turns such a
 * value into type expr with the formula's expr, params and name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/ident.h"
#include "config/flat.h"
#include "config/yamldoc.h"
#include "log/files.h"
#include "norm/kinds.h"
#include "sweep/experiment_parser.h"
#include "sweep/sweep.h"

typedef nl_experiment_parser parser;

/* "batch | layer | ..." and "bin, pono": what a model.norm.type value or a
 * formula's name is checked against (the built-ins from the registry) */
static const char *formula_names(const nl_experiment *e, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < e->n_formulas && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", e->formulas[i].name);
    return buf;
}

static bool is_builtin_norm(const char *name)
{
    return nl_name_lookup(&nl_norm_names, name) >= 0;
}

/* one entry: NAME: {expr: "...", params: "..."} */
static nl_code parse_formula(parser *P, yaml_node_t *k, yaml_node_t *v, nl_sweep_formula *f)
{
    static const char *const keys[] = {"expr", "params"};
    char label[96], d[128], builtins[1024];
    nl_code rc = nl_yaml_read_ident(&P->y, k, "formulas", "formula name", false, f->name, sizeof f->name);
    if (rc)
        return rc;
    f->pos = nl_experiment_pos_of(k);
    /* a built-in's name (in any case: a case-insensitive file system, and
     * legends, would show the two as one) */
    for (int i = 0; i < nl_norm_names.count; i++) {
        const char *builtin = nl_name_entry_at(&nl_norm_names, i)->name;
        if (!strcasecmp(f->name, builtin))
            return nl_yaml_fail(&P->y, k, "formulas", "'%s' is the built-in normalizer %s's name: its runs, "
                                "table rows and legend entries would be taken for that normalizer's; accepted: "
                                "a name of %s, none of the built-ins' (%s)", f->name, builtin,
                                NL_IDENT_ACCEPTED, nl_name_choices(&nl_norm_names, builtins, sizeof builtins));
    }
    for (int i = 0; i < P->e->n_formulas; i++)
        if (!strcasecmp(P->e->formulas[i].name, f->name))
            return nl_yaml_fail(&P->y, k, "formulas", "'%s' and '%s' (line %d) differ only in case; they would "
                                "name one directory on a case-insensitive file system", f->name,
                                P->e->formulas[i].name, P->e->formulas[i].pos.line);
    snprintf(label, sizeof label, "formulas: %s", f->name);
    if (v->type != YAML_MAPPING_NODE)
        return nl_yaml_fail(&P->y, v, label, "expected a formula {expr: \"...\"[, params: \"...\"]}, got %s",
                            nl_yaml_describe(v, d, sizeof d));
    if ((rc = nl_yaml_check_mapping(&P->y, v, label, "a formula {expr: \"...\"[, params: \"...\"]}")))
        return rc;
    for (int i = 0; i < nl_yaml_count(v); i++) {
        yaml_node_t *ek = nl_yaml_key(&P->y, v, i), *ev = nl_yaml_value(&P->y, v, i);
        const char *key = nl_yaml_scalar(ek);
        const bool is_expr = !strcmp(key, "expr");
        if (!is_expr && strcmp(key, "params"))
            return nl_yaml_unknown_key(&P->y, ek, label, keys, 2);
        const char *text;
        if ((rc = nl_yaml_read_string(&P->y, ev, key, "a string (the formula's model.norm.expr or "
                                      "model.norm.params)", &text)))
            return rc;
        char *flow = nl_experiment_flow_text(P, ev);
        if (!flow)
            return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
        /* the text becomes one override of the run's config (plan.c's 1200 bytes) */
        if (strlen(flow) > 1100) {
            free(flow);
            return nl_yaml_fail(&P->y, ev, key, "%zu characters; accepted: a formula of at most 1024 "
                                "characters", strlen(text));
        }
        if (is_expr) {
            f->expr = flow;
            f->expr_pos = nl_experiment_pos_of(ev);
        } else {
            f->params = flow;
            f->params_pos = nl_experiment_pos_of(ev);
        }
    }
    if (!f->expr)
        return nl_yaml_fail(&P->y, v, label, "expr: is missing; a formula is {expr: \"...\"[, params: "
                            "\"...\"]}, as model.norm.expr and model.norm.params of type expr");
    return NL_OK;
}

nl_code nl_experiment_parse_formulas(parser *P, yaml_node_t *n)
{
    nl_experiment *e = P->e;
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "formulas", "a mapping of names to formulas (e.g. "
                                       "{pono: {expr: \"...\", params: \"...\"}})");
    if (rc)
        return rc;
    const int count = nl_yaml_count(n);
    if (count > NL_SWEEP_MAX_FORMULAS)
        return nl_yaml_fail(&P->y, n, "formulas", "%d formulas; accepted: at most %d", count,
                            NL_SWEEP_MAX_FORMULAS);
    if (!(e->formulas = calloc((size_t)count + 1, sizeof *e->formulas)))
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < count; i++) {
        if ((rc = parse_formula(P, nl_yaml_key(&P->y, n, i), nl_yaml_value(&P->y, n, i), &e->formulas[i])))
            return rc;
        e->n_formulas++;
    }
    return NL_OK;
}

const nl_sweep_formula *nl_experiment_formula(const nl_experiment *e, const char *value)
{
    if (!e->n_formulas || !value)
        return NULL;
    char plain[128];
    nl_unquote(value, plain, sizeof plain);
    for (int i = 0; i < e->n_formulas; i++)
        if (!strcmp(e->formulas[i].name, plain))
            return &e->formulas[i];
    return NULL;
}

/* a model.norm.type value of set: or grid: where formulas: is given: a
 * built-in or one of the formulas */
static nl_code check_type_value(parser *P, const char *section, const char *value, nl_sweep_pos at)
{
    const nl_experiment *e = P->e;
    char plain[128], builtins[1024], formulas[1024];
    nl_unquote(value, plain, sizeof plain);
    if (nl_experiment_formula(e, value) || is_builtin_norm(plain))
        return NL_OK;
    nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: %s: model.norm.type: '%s' is neither a built-in normalizer nor "
            "a formula of formulas:; accepted: %s (built-ins), %s (formulas)", P->path, at.line, at.column,
            section, plain, nl_name_choices(&nl_norm_names, builtins, sizeof builtins),
            formula_names(e, formulas, sizeof formulas));
    nl_error_key(P->err, "model.norm.type");
    return NL_ERR_CONFIG;
}

/* the value of model: norm: type: in a config's document, or NULL */
static yaml_node_t *base_type_node(nl_yaml_doc *y)
{
    static const char *const path[] = {"model", "norm", "type"};
    yaml_node_t *n = nl_yaml_root(y);
    for (int depth = 0; depth < 3 && n; depth++) {
        yaml_node_t *next = NULL;
        if (n->type == YAML_MAPPING_NODE)
            for (int i = 0; i < nl_yaml_count(n) && !next; i++)
                if (!strcmp(nl_yaml_scalar(nl_yaml_key(y, n, i)), path[depth]))
                    next = nl_yaml_value(y, n, i);
        n = next;
    }
    return n && n->type == YAML_SCALAR_NODE ? n : NULL;
}

/* The base config's model.norm.type, where it names a formula (read as the
 * plan reads the base: its text, not yet checked): the config module reads
 * a base's value as a normalizer's name, so the plan loads a copy of the
 * base with the value replaced by expr (the formula's keys its overrides) */
static nl_code find_base_formula(parser *P)
{
    nl_experiment *e = P->e;
    char *text = NULL;
    nl_error ignored = {0};
    if (!e->base_text && (P->base_unchecked || nl_read_file_max(e->base_path, NL_READ_TEXT_MAX, &text, NULL,
                                                                &ignored)))
        return NL_OK;
    const char *base = e->base_text ? e->base_text : text;
    nl_yaml_doc y = {0};
    nl_code rc = NL_OK;
    if (nl_yaml_doc_load(&y, base, strlen(base), e->path, NULL, &ignored) == NL_OK) {
        yaml_node_t *n = base_type_node(&y);
        const nl_sweep_formula *f = n ? nl_experiment_formula(e, nl_yaml_scalar(n)) : NULL;
        const size_t from = n ? n->start_mark.index : 0, to = n ? n->end_mark.index : 0;
        if (f && from < to && to <= strlen(base)) {
            e->base_formula = (int)(f - e->formulas) + 1;
            const size_t len = strlen(base);
            if (!(e->base_formula_text = malloc(len + 8)))
                rc = nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
            else
                snprintf(e->base_formula_text, len + 8, "%.*sexpr%s", (int)from, base, base + to);
        }
    }
    nl_yaml_doc_free(&y);
    free(text);
    return rc;
}

/* With formulas: every model.norm.type value of set: and grid: is a
 * built-in or a formula, and where a formula is chosen its keys
 * (model.norm.expr, params, name) come from formulas: alone */
nl_code nl_experiment_check_formula_uses(parser *P)
{
    nl_experiment *e = P->e;
    if (!e->n_formulas)
        return NL_OK;
    nl_code rc;
    const char *used = NULL; /* a formula some run chooses, and where */
    nl_sweep_pos used_at = {0, 0};
    bool type_given = false;
    for (int i = 0; i < e->n_sets; i++)
        if (!strcmp(e->sets[i].key, "model.norm.type")) {
            type_given = true;
            if ((rc = check_type_value(P, "set", e->sets[i].value, e->sets[i].value_pos)))
                return rc;
            if (nl_experiment_formula(e, e->sets[i].value))
                used = nl_experiment_formula(e, e->sets[i].value)->name, used_at = e->sets[i].value_pos;
        }
    for (int a = 0; a < e->n_axes; a++)
        if (!strcmp(e->axes[a].key, "model.norm.type")) {
            type_given = true;
            for (int v = 0; v < e->axes[a].n; v++) {
                if ((rc = check_type_value(P, "grid", e->axes[a].values[v], e->axes[a].value_pos[v])))
                    return rc;
                if (!used && nl_experiment_formula(e, e->axes[a].values[v]))
                    used = nl_experiment_formula(e, e->axes[a].values[v])->name,
                    used_at = e->axes[a].value_pos[v];
            }
        }
    if (!type_given) {
        if ((rc = find_base_formula(P)))
            return rc;
        if (e->base_formula)
            used = e->formulas[e->base_formula - 1].name, used_at = e->base_pos;
    }
    if (!used)
        return NL_OK;
    static const char *const own[] = {"model.norm.expr", "model.norm.params", "model.norm.name"};
    for (int k = 0; k < 3; k++) {
        const nl_sweep_pos *at = NULL;
        const char *section = "set";
        for (int i = 0; i < e->n_sets && !at; i++)
            if (!strcmp(e->sets[i].key, own[k]))
                at = &e->sets[i].pos;
        for (int a = 0; a < e->n_axes && !at; a++)
            if (!strcmp(e->axes[a].key, own[k]))
                at = &e->axes[a].pos, section = "grid";
        if (!at)
            continue;
        nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: %s: %s is given here, and model.norm.type names the formula "
                "'%s' (line %d), whose %s comes from formulas:; give each formula's expr and params under "
                "formulas: (its name is its key there) and drop %s here", P->path, at->line, at->column,
                section, own[k], used, used_at.line, own[k] + strlen("model.norm."), own[k]);
        nl_error_key(P->err, own[k]);
        return NL_ERR_CONFIG;
    }
    return NL_OK;
}
