/* The experiment file: parsed with libyaml's document API (every node has a
 * position), strictly: unknown keys, wrong types, keys given twice, empty
 * grids and keys that are not config keys are errors naming file:line:col.
 * Config values themselves are checked by the plan, through the config
 * module, with the same messages as `normlab run`. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "base/ident.h"
#include "base/number.h"
#include "config/config.h"
#include "config/flat.h"
#include "config/yamldoc.h"
#include "log/files.h"
#include "sweep/experiment_parser.h"
#include "sweep/sweep.h"
#include "results/claims.h"

typedef nl_experiment_parser parser;

char *nl_experiment_flow_text(parser *P, yaml_node_t *n)
{
    nl_buf b = {0};
    nl_yaml_flow_text(&P->y.doc, n, &b);
    if (b.failed) {
        nl_buf_free(&b);
        return NULL;
    }
    if (!b.data)
        return strdup("");
    return b.data;
}

/* a string of at most size - 1 characters */
static nl_code parse_string(parser *P, const yaml_node_t *n, const char *key, char *out, size_t size)
{
    const char *s;
    nl_code rc = nl_yaml_read_string(&P->y, n, key, NULL, &s);
    if (rc)
        return rc;
    if (strlen(s) >= size)
        return nl_yaml_fail(&P->y, n, key, "too long (at most %zu characters)", size - 1);
    memcpy(out, s, strlen(s) + 1);
    return NL_OK;
}

static nl_code parse_int(parser *P, const yaml_node_t *n, const char *key, int lo, int hi, int *out)
{
    char accepted[64];
    snprintf(accepted, sizeof accepted, "an integer in [%d, %d]", lo, hi);
    const nl_yaml_range range = {.has_lo = true, .has_hi = true, .lo = lo, .hi = hi};
    long long v;
    nl_code rc = nl_yaml_read_int(&P->y, n, key, &range, accepted, hi, &v);
    if (!rc)
        *out = (int)v;
    return rc;
}

/* ---- config keys ---- */

enum { KEY_UNKNOWN, KEY_LEAF, KEY_SECTION };

static int config_key_kind(const char *key)
{
    const size_t len = strlen(key);
    int kind = KEY_UNKNOWN;
    for (int i = 0; i < nl_config_key_count(); i++) {
        const char *k = nl_config_key_name(i);
        if (!strcmp(k, key))
            return KEY_LEAF;
        if (!strncmp(k, key, len) && k[len] == '.')
            kind = KEY_SECTION;
    }
    return kind;
}

/* a key of set/grid/derived/exclude must name a config key or section */
static nl_code check_config_key(parser *P, const yaml_node_t *k, const char *section, bool leaf_only)
{
    const char *key = nl_yaml_scalar(k);
    const int kind = config_key_kind(key);
    if (kind == KEY_LEAF || (kind == KEY_SECTION && !leaf_only))
        return NL_OK;
    if (kind == KEY_SECTION) {
        const char *child = "";
        for (int i = 0; i < nl_config_key_count() && !child[0]; i++)
            if (!strncmp(nl_config_key_name(i), key, strlen(key)) && nl_config_key_name(i)[strlen(key)] == '.')
                child = nl_config_key_name(i);
        return nl_yaml_fail(&P->y, k, section, "'%s' is a section of the config; name one of its keys (e.g. "
                            "'%s')", key, child);
    }
    const int count = nl_config_key_count();
    const char **names = malloc((size_t)count * sizeof *names);
    if (!names)
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < count; i++)
        names[i] = nl_config_key_name(i);
    /* "batch_size" for "train.batch_size": the same last component elsewhere */
    char guess[512];
    nl_yaml_suggest_path(key, names, count, guess, sizeof guess);
    free(names);
    return nl_yaml_fail(&P->y, k, section, "'%s' is not a config key%s%s%s (keys are dotted paths "
                        "such as train.batch_size; see configs/README.md)", key,
                        guess[0] ? " (did you mean " : "", guess, guess[0] ? "?)" : "");
}

static nl_code check_sweep_key(parser *P, const yaml_node_t *k, const char *section)
{
    const char *key = nl_yaml_scalar(k);
    if (!strcmp(key, "name"))
        return nl_yaml_fail(&P->y, k, section, "'name' is set by the sweep: each run is named after its "
                            "directory (the sweep's own name is the top-level name:)");
    if (!strcmp(key, "threads"))
        return nl_yaml_fail(&P->y, k, section, "the thread count of the runs is the experiment's top-level "
                            "'threads:' (or -j); it does not change results");
    return NL_OK;
}

/* ---- sections ---- */

static nl_code parse_base(parser *P, yaml_node_t *n)
{
    nl_experiment *e = P->e;
    char d[128];
    e->base_pos = nl_experiment_pos_of(n);
    if (n->type == YAML_SCALAR_NODE && !nl_yaml_is_null(n)) {
        const char *s = nl_yaml_scalar(n);
        if (s[0] == '/') {
            nl_copy_string(e->base_path, sizeof e->base_path, s);
        } else {
            const char *slash = strrchr(P->path, '/');
            const int dir_len = slash ? (int)(slash - P->path) : 0;
            if (slash)
                snprintf(e->base_path, sizeof e->base_path, "%.*s/%s", dir_len, P->path, s);
            else
                nl_copy_string(e->base_path, sizeof e->base_path, s);
        }
        if (P->base_unchecked)
            return NL_OK;
        if (!nl_path_exists(e->base_path))
            return nl_yaml_fail(&P->y, n, "base", "the config file %s does not exist (a relative base is read "
                                "relative to the experiment file)", e->base_path);
        if (nl_is_dir(e->base_path))
            return nl_yaml_fail(&P->y, n, "base", "%s is a directory; base names a config file (or is an "
                                "inline config)", e->base_path);
        struct stat st;
        if (stat(e->base_path, &st) == 0 && !S_ISREG(st.st_mode)) /* /dev/zero, a FIFO */
            return nl_yaml_fail(&P->y, n, "base", "%s is not a regular file; base names a config file (or is "
                                "an inline config)", e->base_path);
        return NL_OK;
    }
    if (n->type != YAML_MAPPING_NODE)
        return nl_yaml_fail(&P->y, n, "base", "expected a config file name or an inline config (a mapping), "
                            "got %s", nl_yaml_describe(n, d, sizeof d));
    /* the inline config: the experiment text with everything outside the
     * mapping blanked, so the config module's messages point into the
     * experiment file at the right line and column */
    char *text = nl_yaml_node_text(P->text, n);
    if (!text)
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    e->base_text = text;
    return NL_OK;
}

/* a key and its value, with their positions for later messages */
static nl_code read_setting(parser *P, yaml_node_t *k, yaml_node_t *v, nl_sweep_setting *s)
{
    nl_copy_string(s->key, sizeof s->key, nl_yaml_scalar(k));
    s->pos = nl_experiment_pos_of(k);
    s->value_pos = nl_experiment_pos_of(v);
    if (!(s->value = nl_experiment_flow_text(P, v)))
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    return NL_OK;
}

static nl_code parse_set(parser *P, yaml_node_t *n)
{
    nl_experiment *e = P->e;
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "set", "a mapping of config keys to values (e.g. "
                                       "{train.epochs: 3})");
    if (rc)
        return rc;
    const int count = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count > NL_SWEEP_MAX_SETS)
        return nl_yaml_fail(&P->y, n, "set", "at most %d fixed settings", NL_SWEEP_MAX_SETS);
    e->sets = calloc((size_t)count + 1, sizeof *e->sets);
    if (!e->sets)
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nl_yaml_node(&P->y, p->key), *v = nl_yaml_node(&P->y, p->value);
        if ((rc = check_config_key(P, k, "set", false)) || (rc = check_sweep_key(P, k, "set")))
            return rc;
        if ((rc = read_setting(P, k, v, &e->sets[e->n_sets++])))
            return rc;
    }
    return NL_OK;
}

static nl_code parse_grid(parser *P, yaml_node_t *n)
{
    nl_experiment *e = P->e;
    char d[128];
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "grid", "a mapping of config keys to lists of values (e.g. "
                                       "{train.batch_size: [8, 32]})");
    if (rc)
        return rc;
    const int count = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count == 0)
        return nl_yaml_fail(&P->y, n, "grid", "the grid is empty; give at least one key with a list of "
                            "values (e.g. seed: [1, 2, 3])");
    if (count > NL_SWEEP_MAX_AXES)
        return nl_yaml_fail(&P->y, n, "grid", "at most %d grid keys", NL_SWEEP_MAX_AXES);
    e->axes = calloc((size_t)count, sizeof *e->axes);
    if (!e->axes)
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nl_yaml_node(&P->y, p->key), *v = nl_yaml_node(&P->y, p->value);
        if ((rc = check_config_key(P, k, "grid", false)) || (rc = check_sweep_key(P, k, "grid")))
            return rc;
        for (int i = 0; i < e->n_sets; i++)
            if (!strcmp(e->sets[i].key, nl_yaml_scalar(k)))
                return nl_yaml_fail(&P->y, k, nl_yaml_scalar(k), "is both in set: (line %d) and in the grid; give it "
                                    "in one place", e->sets[i].pos.line);
        if (v->type != YAML_SEQUENCE_NODE) {
            if (v->type == YAML_SCALAR_NODE && !nl_yaml_is_null(v))
                return nl_yaml_fail(&P->y, v, nl_yaml_scalar(k), "expected a list of values, got %s (write [%s], or "
                               "put a fixed value under set:)", nl_yaml_describe(v, d, sizeof d), nl_yaml_scalar(v));
            return nl_yaml_fail(&P->y, v, nl_yaml_scalar(k), "expected a list of values, got %s", nl_yaml_describe(v, d, sizeof d));
        }
        const int nv = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (nv == 0)
            return nl_yaml_fail(&P->y, v, nl_yaml_scalar(k), "the list of values is empty");
        if (nv > NL_SWEEP_MAX_VALUES)
            return nl_yaml_fail(&P->y, v, nl_yaml_scalar(k), "%d values; accepted: at most %d values a key "
                           "(and %ld runs in all)", nv, NL_SWEEP_MAX_VALUES, NL_SWEEP_MAX_COMBOS);
        nl_sweep_axis *a = &e->axes[e->n_axes++];
        nl_copy_string(a->key, sizeof a->key, nl_yaml_scalar(k));
        a->pos = nl_experiment_pos_of(k);
        a->values = calloc((size_t)nv, sizeof *a->values);
        a->value_pos = calloc((size_t)nv, sizeof *a->value_pos);
        if (!a->values || !a->value_pos)
            return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
        for (int i = 0; i < nv; i++) {
            yaml_node_t *item = nl_yaml_node(&P->y, v->data.sequence.items.start[i]);
            if (nl_yaml_is_null(item))
                return nl_yaml_fail(&P->y, item, nl_yaml_scalar(k), "value %d is empty", i + 1);
            if (!(a->values[i] = nl_experiment_flow_text(P, item)))
                return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
            a->value_pos[i] = nl_experiment_pos_of(item);
            a->n++;
            for (int j = 0; j < i; j++)
                if (nl_values_equal(a->values[j], a->values[i]))
                    return nl_yaml_fail(&P->y, item, nl_yaml_scalar(k), "%s is given twice (also at line %d); every "
                                   "value makes different runs", a->values[i], a->value_pos[j].line);
        }
    }
    return NL_OK;
}

/* one key of a derived rule into d */
static nl_code parse_rule_key(parser *P, yaml_node_t *rk, yaml_node_t *rv, const char *label,
                              nl_sweep_derived *d)
{
    static const char *const rule_keys[] = {"scale_with", "base_value", "base_at", "power", "round"};
    const char *name = nl_yaml_scalar(rk);
    nl_code rc;
    if (!strcmp(name, "scale_with")) {
        if ((rc = parse_string(P, rv, "scale_with", d->scale_with, sizeof d->scale_with)))
            return rc;
        return check_config_key(P, rv, "scale_with", true);
    }
    if (!strcmp(name, "base_value"))
        return nl_yaml_read_number(&P->y, rv, "base_value", NULL, NULL, &d->base_value);
    if (!strcmp(name, "base_at")) {
        if ((rc = nl_yaml_read_number(&P->y, rv, "base_at", NULL, NULL, &d->base_at)))
            return rc;
        if (!(d->base_at > 0))
            return nl_yaml_fail(&P->y, rv, "base_at", "must be > 0 (the value of scale_with at "
                                "which the key is base_value)");
        return NL_OK;
    }
    if (!strcmp(name, "power"))
        return nl_yaml_read_number(&P->y, rv, "power", NULL, NULL, &d->power);
    if (!strcmp(name, "round"))
        return nl_yaml_read_bool(&P->y, rv, "round", &d->round);
    return nl_yaml_unknown_key(&P->y, rk, label, rule_keys, 5);
}

/* one rule of derived: {scale_with: KEY, base_value: V, base_at: A[, power: P][, round: B]} */
static nl_code parse_rule(parser *P, yaml_node_t *v, const char *label, nl_sweep_derived *d)
{
    nl_code rc = nl_yaml_check_mapping(&P->y, v, label, "a rule {scale_with: KEY, base_value: V, "
                                       "base_at: A}");
    if (rc)
        return rc;
    d->power = 1.0;
    d->base_value = d->base_at = NAN;
    for (int i = 0; i < nl_yaml_count(v); i++)
        if ((rc = parse_rule_key(P, nl_yaml_key(&P->y, v, i), nl_yaml_value(&P->y, v, i), label, d)))
            return rc;
    const char *missing = !d->scale_with[0] ? "scale_with" : isnan(d->base_value) ? "base_value"
                          : isnan(d->base_at) ? "base_at" : NULL;
    if (missing)
        return nl_yaml_fail(&P->y, v, label, "%s is missing; a rule is {scale_with: KEY, base_value: "
                            "V, base_at: A[, power: P][, round: true]}: KEY's value x gives V * (x / "
                            "A)^P", missing);
    if (!strcmp(d->scale_with, d->key))
        return nl_yaml_fail(&P->y, v, label, "scale_with names the derived key itself");
    return NL_OK;
}

static nl_code parse_derived(parser *P, yaml_node_t *n)
{
    nl_experiment *e = P->e;
    nl_code rc = nl_yaml_check_mapping(&P->y, n, "derived", "a mapping of config keys to rules (e.g. "
                                       "{train.optimizer.lr: {scale_with: train.batch_size, "
                                       "base_value: 0.1, base_at: 256}})");
    if (rc)
        return rc;
    const int count = nl_yaml_count(n);
    if (count > NL_SWEEP_MAX_DERIVED)
        return nl_yaml_fail(&P->y, n, "derived", "at most %d derived keys", NL_SWEEP_MAX_DERIVED);
    e->derived = calloc((size_t)count + 1, sizeof *e->derived);
    if (!e->derived)
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    for (int p = 0; p < count; p++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, p), *v = nl_yaml_value(&P->y, n, p);
        if ((rc = check_config_key(P, k, "derived", true)) || (rc = check_sweep_key(P, k, "derived")))
            return rc;
        const char *key = nl_yaml_scalar(k);
        for (int i = 0; i < e->n_sets; i++)
            if (!strcmp(e->sets[i].key, key))
                return nl_yaml_fail(&P->y, k, key, "is derived and also in set: (line %d); give it "
                                    "in one place", e->sets[i].pos.line);
        for (int i = 0; i < e->n_axes; i++)
            if (!strcmp(e->axes[i].key, key))
                return nl_yaml_fail(&P->y, k, key, "is derived and also in the grid (line %d); give "
                                    "it in one place", e->axes[i].pos.line);
        char label[128];
        snprintf(label, sizeof label, "derived %s", key);
        nl_sweep_derived *d = &e->derived[e->n_derived++];
        nl_copy_string(d->key, sizeof d->key, key);
        d->pos = nl_experiment_pos_of(k);
        if ((rc = parse_rule(P, v, label, d)))
            return rc;
    }
    /* scale_with may not be derived itself (one level, no order to follow) */
    for (int i = 0; i < e->n_derived; i++)
        for (int j = 0; j < e->n_derived; j++)
            if (!strcmp(e->derived[i].scale_with, e->derived[j].key))
                return nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: derived %s: scale_with %s is "
                               "derived itself; scale with a grid, set or base key", P->path,
                               e->derived[i].pos.line, e->derived[i].pos.column, e->derived[i].key,
                               e->derived[j].key);
    return NL_OK;
}

static nl_code parse_exclude(parser *P, yaml_node_t *n)
{
    nl_experiment *e = P->e;
    char d[128];
    if (n->type != YAML_SEQUENCE_NODE)
        return nl_yaml_fail(&P->y, n, "exclude", "expected a list of mappings (e.g. - {model.norm.type: "
                       "instance, model.arch: mlp}), got %s", nl_yaml_describe(n, d, sizeof d));
    const int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    e->excludes = calloc((size_t)count + 1, sizeof *e->excludes);
    if (!e->excludes)
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < count; i++) {
        yaml_node_t *m = nl_yaml_node(&P->y, n->data.sequence.items.start[i]);
        nl_code rc = nl_yaml_check_mapping(&P->y, m, "exclude", "a mapping of config keys to values");
        if (rc)
            return rc;
        const int nk = (int)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
        if (nk == 0)
            return nl_yaml_fail(&P->y, m, "exclude", "an empty entry would exclude every run");
        nl_sweep_exclusion *x = &e->excludes[e->n_excludes++];
        x->pos = nl_experiment_pos_of(m);
        x->items = calloc((size_t)nk, sizeof *x->items);
        if (!x->items)
            return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
            yaml_node_t *k = nl_yaml_node(&P->y, p->key), *v = nl_yaml_node(&P->y, p->value);
            if ((rc = check_config_key(P, k, "exclude", false)))
                return rc;
            if ((rc = read_setting(P, k, v, &x->items[x->n++])))
                return rc;
        }
    }
    return NL_OK;
}

/* where: {KEY: VALUE, ...}: the runs a plot draws; checked against the
 * grid by check_plots_apply */
static nl_code parse_plot_where(parser *P, yaml_node_t *v, nl_sweep_plot *pl)
{
    nl_code rc = nl_yaml_check_mapping(&P->y, v, "plots: where", "a mapping of grid keys to values (e.g. "
                                       "{model.dropout.p: 0.5})");
    if (rc)
        return rc;
    if (v->data.mapping.pairs.top == v->data.mapping.pairs.start)
        return nl_yaml_fail(&P->y, v, "plots: where", "an empty where keeps every run; leave it out");
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nl_yaml_node(&P->y, p->key), *value = nl_yaml_node(&P->y, p->value);
        if ((rc = check_config_key(P, k, "plots: where", true)))
            return rc;
        char *text = nl_experiment_flow_text(P, value), msg[512];
        if (!text)
            return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
        const int at = pl->spec.where.n;
        const bool added = nl_plot_where_add(&pl->spec.where, nl_yaml_scalar(k), text, msg, sizeof msg);
        free(text);
        if (!added)
            return nl_yaml_fail(&P->y, k, "plots: where", "%s", msg);
        pl->where_pos[at] = nl_experiment_pos_of(k);
    }
    return NL_OK;
}

static nl_code parse_plots(parser *P, yaml_node_t *n)
{
    nl_experiment *e = P->e;
    char d[128];
    if (n->type != YAML_SEQUENCE_NODE)
        return nl_yaml_fail(&P->y, n, "plots", "expected a list of plots (e.g. - {kind: curves}), got %s",
                            nl_yaml_describe(n, d, sizeof d));
    const int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    e->plots = calloc((size_t)count + 1, sizeof *e->plots);
    if (!e->plots)
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    if (count > NL_PLOT_MAX_OUTPUTS)
        return nl_yaml_fail(&P->y, n, "plots", "at most %d plots", NL_PLOT_MAX_OUTPUTS);
    static const char *const plot_keys[] = {"kind", "metric", "split", "threshold", "name", "x", "color", "panel",
                                            "where"};
    const int n_plot_keys = (int)(sizeof plot_keys / sizeof plot_keys[0]);
    for (int i = 0; i < count; i++) {
        yaml_node_t *m = nl_yaml_node(&P->y, n->data.sequence.items.start[i]);
        nl_code rc = nl_yaml_check_mapping(&P->y, m, "plots", "a plot {kind: K, ...}");
        if (rc)
            return rc;
        nl_sweep_plot *pl = &e->plots[e->n_plots++];
        pl->pos = nl_experiment_pos_of(m);
        nl_plot_spec_init(&pl->spec, NL_PLOT_CURVES);
        bool have_kind = false;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
            yaml_node_t *k = nl_yaml_node(&P->y, p->key), *v = nl_yaml_node(&P->y, p->value);
            const char *name = nl_yaml_scalar(k);
            if (!strcmp(name, "kind")) {
                int kv;
                if ((rc = nl_yaml_read_name(&P->y, v, "plots: kind", &nl_plot_kind_names, &kv)))
                    return rc;
                pl->spec.kind = (nl_plot_kind)kv;
                have_kind = true;
            } else if (!strcmp(name, "metric")) {
                if ((rc = parse_string(P, v, "plots: metric", pl->spec.metric, sizeof pl->spec.metric)))
                    return rc;
            } else if (!strcmp(name, "split")) {
                if ((rc = parse_string(P, v, "plots: split", pl->spec.split, sizeof pl->spec.split)))
                    return rc;
            } else if (!strcmp(name, "threshold")) {
                if ((rc = nl_yaml_read_number(&P->y, v, "plots: threshold", NULL, NULL, &pl->spec.threshold)))
                    return rc;
            } else if (!strcmp(name, "name")) {
                if ((rc = parse_string(P, v, "plots: name", pl->spec.name, sizeof pl->spec.name)))
                    return rc;
                char shown[300];
                if (!nl_ident_ok(pl->spec.name))
                    return nl_yaml_fail(&P->y, v, "plots: name", "'%s' is not a file name; accepted: "
                                        NL_IDENT_ACCEPTED, nl_text_show(pl->spec.name, shown, sizeof shown));
            } else if (!strcmp(name, "x") || !strcmp(name, "color") || !strcmp(name, "panel")) {
                char *field = !strcmp(name, "x") ? pl->spec.x : !strcmp(name, "color") ? pl->spec.color : pl->spec.panel;
                char what[32];
                snprintf(what, sizeof what, "plots: %s", name);
                if ((rc = parse_string(P, v, what, field, sizeof pl->spec.x)))
                    return rc;
            } else if (!strcmp(name, "where")) {
                if ((rc = parse_plot_where(P, v, pl)))
                    return rc;
            } else {
                return nl_yaml_unknown_key(&P->y, k, "plots", plot_keys, n_plot_keys);
            }
        }
        if (!have_kind)
            return nl_yaml_fail(&P->y, m, "plots", "kind is missing; accepted kinds: %s",
                                nl_name_choices(&nl_plot_kind_names, d, sizeof d));
        char msg[512];
        if (!nl_plot_spec_check(&pl->spec, msg, sizeof msg))
            return nl_yaml_fail(&P->y, m, "plots", "%s", msg);
        char mine[64], other[64];
        nl_plot_spec_name(&pl->spec, mine, sizeof mine);
        for (int j = 0; j < e->n_plots - 1; j++)
            if (!strcmp(nl_plot_spec_name(&e->plots[j].spec, other, sizeof other), mine))
                return nl_yaml_fail(&P->y, m, "plots", "a second plot named '%s' (line %d); give one a name:",
                                    mine, e->plots[j].pos.line);
    }
    return NL_OK;
}

/* a plot's where: keys the grid varies (or derives), a grid key's value one
 * of its values */
/* the grid's key with more than one value, NULL when key is none */
static const nl_sweep_axis *varied_axis(const nl_experiment *e, const char *key)
{
    const nl_sweep_axis *axis = NULL;
    for (int a = 0; a < e->n_axes; a++)
        if (!strcmp(e->axes[a].key, key) && e->axes[a].n > 1)
            axis = &e->axes[a];
    return axis;
}

static bool is_derived(const nl_experiment *e, const char *key)
{
    bool derived = false;
    for (int a = 0; a < e->n_derived; a++)
        derived |= !strcmp(e->derived[a].key, key);
    return derived;
}

/* "a, b": the keys the grid varies with more than one value, then the
 * derived ones; "none" when there are none */
static const char *varied_keys(const nl_experiment *e, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < e->n_axes && used < size; a++)
        if (e->axes[a].n > 1)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", e->axes[a].key);
    for (int a = 0; a < e->n_derived && used < size; a++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", e->derived[a].key);
    return used ? buf : "none";
}

static nl_code check_plot_where(parser *P, const nl_sweep_plot *pl)
{
    const nl_experiment *e = P->e;
    for (int w = 0; w < pl->spec.where.n; w++) {
        const char *key = pl->spec.where.items[w].key, *value = pl->spec.where.items[w].value;
        const nl_sweep_pos at = pl->where_pos[w];
        const nl_sweep_axis *axis = varied_axis(e, key);
        char accepted[1024] = "";
        if (!axis && !is_derived(e, key))
            return nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: plots: where: '%s' is not a key the grid varies "
                           "(or derives) with more than one value, so it selects no runs; accepted: %s", P->path,
                           at.line, at.column, key, varied_keys(e, accepted, sizeof accepted));
        if (!axis)
            continue; /* a derived value follows from the grid: the plot finds the runs */
        bool found = false;
        for (int v = 0; v < axis->n && !found; v++)
            found = nl_values_equal(axis->values[v], value);
        size_t used = 0;
        for (int v = 0; v < axis->n && !found && used < sizeof accepted; v++)
            used += (size_t)snprintf(accepted + used, sizeof accepted - used, "%s%s", used ? ", " : "",
                                     axis->values[v]);
        if (!found)
            return nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: plots: where: %s: '%s' is not one of the grid's "
                           "values; accepted: %s", P->path, at.line, at.column, key, value, accepted);
    }
    return NL_OK;
}

/* plots that need a varied key: checked against the grid once it is known */
static nl_code check_plots_apply(parser *P)
{
    nl_experiment *e = P->e;
    for (int i = 0; i < e->n_plots; i++) {
        nl_code rc;
        const nl_plot_kind kind = e->plots[i].spec.kind;
        const char *const *need = nl_plot_kind_info_of(kind)->needs_varied;
        /* a plot's keys (final: x; final and the series kinds: colour and
         * panel) must vary when given */
        const nl_plot_spec *spec = &e->plots[i].spec;
        const char *final_keys[3] = {spec->x, spec->color, spec->panel};
        static const char *const final_names[3] = {"x", "color", "panel"};
        for (int f = 0; f < 3; f++) {
            char accepted[1024];
            if (final_keys[f][0] && !varied_axis(e, final_keys[f]) && !is_derived(e, final_keys[f]))
                return nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: plots: %s: '%s' is not a key the grid varies "
                               "(or derives) with more than one value; accepted: %s", P->path, e->plots[i].pos.line,
                               e->plots[i].pos.column, final_names[f], final_keys[f],
                               varied_keys(e, accepted, sizeof accepted));
        }
        if ((rc = check_plot_where(P, &e->plots[i])))
            return rc;
        for (int k = 0; k < 2 && need[k]; k++)
            if (!varied_axis(e, need[k]) && !is_derived(e, need[k]))
                return nl_fail(P->err, NL_ERR_CONFIG, "%s:%d:%d: plots: a %s plot needs %s in the grid "
                               "(or derived) with more than one value", P->path, e->plots[i].pos.line,
                               e->plots[i].pos.column, nl_name_of(&nl_plot_kind_names, kind), need[k]);
    }
    return NL_OK;
}

static nl_code parse_root(parser *P, yaml_node_t *root)
{
    nl_experiment *e = P->e;
    nl_code rc;
    if (!root)
        return nl_fail(P->err, NL_ERR_CONFIG, "%s: the experiment file is empty; it needs at least "
                       "base: and grid:", P->path);
    if ((rc = nl_yaml_check_mapping(&P->y, root, NULL, "a mapping (name:, base:, set:, grid:, derived:, "
                                    "exclude:, threads:, plots:, claims:, threshold_rule:, power:, plan:, "
                                    "formulas:, stop:)")))
        return rc;
    /* claims:, threshold_rule:, power: and plan: are results/claims.c's (checked by nl_experiment_parse) */
    static const char *const top[] = {"name", "base", "set", "grid", "derived", "exclude", "threads",
                                      "plots", "claims", "threshold_rule", "power", "plan", "formulas", "stop"};
    enum { N_TOP = sizeof top / sizeof top[0] };
    yaml_node_t *found[N_TOP] = {0};
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = nl_yaml_node(&P->y, p->key);
        int which = -1;
        for (int i = 0; i < N_TOP; i++)
            if (!strcmp(nl_yaml_scalar(k), top[i]))
                which = i;
        if (which < 0) {
            /* a config key at the top: probably meant for set: or base: */
            if (config_key_kind(nl_yaml_scalar(k)) != KEY_UNKNOWN && !nl_closest_name(nl_yaml_scalar(k), top, N_TOP))
                return nl_yaml_fail(&P->y, k, NULL, "unknown key '%s': config keys go under set: (or grid:), "
                                    "e.g. set: {%s: ...}", nl_yaml_scalar(k), nl_yaml_scalar(k));
            return nl_yaml_unknown_key(&P->y, k, NULL, top, N_TOP);
        }
        found[which] = nl_yaml_node(&P->y, p->value);
    }
    /* sections in dependency order: set before grid before derived */
    if (found[0]) {
        /* the one reader of a name that becomes a path (as the claims
         * parser's name:): refused, never cut */
        if ((rc = nl_yaml_read_ident(&P->y, found[0], "name", "sweep name", false, e->name, sizeof e->name)))
            return rc;
    }
    if (!found[1])
        return nl_yaml_fail(&P->y, root, NULL, "base: is missing; give the config every run starts from (a "
                            "file relative to the experiment file, or an inline mapping)");
    if ((rc = parse_base(P, found[1])))
        return rc;
    if (found[12] && !nl_yaml_is_null(found[12]) && (rc = nl_experiment_parse_formulas(P, found[12])))
        return rc;
    if (found[2] && !nl_yaml_is_null(found[2]) && (rc = parse_set(P, found[2])))
        return rc;
    if (!found[3])
        return nl_yaml_fail(&P->y, root, NULL, "grid: is missing; give at least one key with a list of values "
                            "(e.g. grid: {seed: [1, 2, 3]})");
    if ((rc = parse_grid(P, found[3])) || (rc = nl_experiment_check_formula_uses(P)))
        return rc;
    if (found[4] && !nl_yaml_is_null(found[4]) && (rc = parse_derived(P, found[4])))
        return rc;
    if (found[5] && !nl_yaml_is_null(found[5]) && (rc = parse_exclude(P, found[5])))
        return rc;
    if (found[6] && (rc = parse_int(P, found[6], "threads", 0, NL_CONFIG_MAX_THREADS, &e->threads)))
        return rc;
    if (found[7] && !nl_yaml_is_null(found[7]) && ((rc = parse_plots(P, found[7])) || (rc = check_plots_apply(P))))
        return rc;
    if (found[13] && !nl_yaml_is_null(found[13]) && (rc = nl_experiment_parse_stop(P, found[13])))
        return rc;
    return NL_OK;
}

/* the file's name without its .yaml or .yml (tiny.v2.yaml: tiny.v2, never
 * cut at its first dot), other characters an identifier cannot hold as
 * '-'; a name too long for the sweep's is refused, never cut */
static nl_code default_sweep_name(const char *path, char *name, size_t size, nl_error *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml")))
        len = (size_t)(dot - base);
    if (len >= size)
        return nl_fail(err, NL_ERR_CONFIG, "%s: a file name too long to name its sweep (at most %zu "
                       "characters before .yaml); give the experiment a name:", path, size - 1);
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        name[k++] = isalnum((unsigned char)base[i]) || strchr("_-.", base[i]) ? base[i] : '-';
    name[k] = '\0';
    if (!nl_ident_ok(name))
        snprintf(name, size, "sweep");
    return NL_OK;
}

/* the claims from the same document: a sweep refuses a file whose claims
 * normlab verdict would refuse, so the mistake is seen before the runs, not
 * after them */
static nl_code parse_claims(parser *P, yaml_node_t *root)
{
    if (!(P->e->claims = malloc(sizeof *P->e->claims)))
        return nl_fail(P->err, NL_ERR_NOMEM, "out of memory");
    return nl_claims_read(&P->y, root, P->path, P->e->claims);
}

nl_code nl_experiment_parse_text(const char *text, const char *path, bool base_needed, nl_experiment *out,
                                 nl_error *err)
{
    memset(out, 0, sizeof *out);
    nl_copy_string(out->path, sizeof out->path, path);
    parser P = {.path = path, .text = text, .e = out, .err = err, .base_unchecked = !base_needed};
    nl_code rc = nl_yaml_doc_load(&P.y, text, strlen(text), path, NULL, err);
    if (rc)
        return rc;
    rc = parse_root(&P, nl_yaml_root(&P.y));
    if (rc == NL_OK)
        rc = parse_claims(&P, nl_yaml_root(&P.y));
    nl_yaml_doc_free(&P.y);
    if (rc == NL_OK && !out->name[0])
        rc = default_sweep_name(path, out->name, sizeof out->name, err);
    if (rc)
        nl_experiment_free(out);
    return rc;
}

nl_code nl_experiment_load(const char *path, nl_experiment *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_read_file_max(path, NL_READ_TEXT_MAX, &text, &len, err);
    if (rc) {
        if (rc == NL_ERR_IO)
            err->code = NL_ERR_USAGE; /* a missing experiment file is a usage error: exit 2 */
        return rc == NL_ERR_IO ? NL_ERR_USAGE : rc;
    }
    if (strlen(text) != len) {
        free(text);
        return nl_fail(err, NL_ERR_CONFIG, "%s: the file contains a NUL byte; is it a YAML file?", path);
    }
    rc = nl_experiment_parse(text, path, out, err);
    free(text);
    return rc;
}

nl_code nl_experiment_set(nl_experiment *e, const char *assignment, nl_error *err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof e->sets[0].key)
        return nl_fail(err, NL_ERR_USAGE, "--set %s: expected KEY=VALUE, e.g. --set train.steps=20",
                       assignment);
    char key[96];
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    /* the runs' thread count is the experiment's top-level threads: (a run's
     * own threads key would be overridden by it): --set threads=N sets that */
    if (!strcmp(key, "threads")) {
        if (!nl_parse_int(eq + 1, 0, NL_CONFIG_MAX_THREADS, &e->threads))
            return nl_fail(err, NL_ERR_USAGE, "--set %s: threads is the thread count of each run; "
                           "accepted: an integer in [0, %d] (0: the cores over -j)", assignment,
                           NL_CONFIG_MAX_THREADS);
        return NL_OK;
    }
    for (int i = 0; i < e->n_axes; i++)
        if (!strcmp(e->axes[i].key, key))
            return nl_fail(err, NL_ERR_USAGE, "--set %s: %s is a grid key of %s (line %d); a --set would "
                           "give every run the same value", assignment, key, e->path, e->axes[i].pos.line);
    for (int i = 0; i < e->n_derived; i++)
        if (!strcmp(e->derived[i].key, key))
            return nl_fail(err, NL_ERR_USAGE, "--set %s: %s is derived in %s (line %d)", assignment, key,
                           e->path, e->derived[i].pos.line);
    char *value = strdup(eq + 1);
    if (!value)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_sweep_setting *s = NULL;
    for (int i = 0; i < e->n_sets && !s; i++)
        if (!strcmp(e->sets[i].key, key))
            s = &e->sets[i];
    if (!s) {
        if (e->n_sets >= NL_SWEEP_MAX_SETS) {
            free(value);
            return nl_fail(err, NL_ERR_USAGE, "--set %s: at most %d fixed settings", assignment,
                           NL_SWEEP_MAX_SETS);
        }
        nl_sweep_setting *grown = realloc(e->sets, (size_t)(e->n_sets + 2) * sizeof *grown);
        if (!grown) {
            free(value);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        }
        e->sets = grown;
        s = &e->sets[e->n_sets++];
        memset(s, 0, sizeof *s);
        nl_copy_string(s->key, sizeof s->key, key);
    }
    free(s->value);
    s->value = value;
    s->pos = s->value_pos = (nl_sweep_pos){0, 0}; /* from the command line: no line to point at */
    return NL_OK;
}

static void free_settings(nl_sweep_setting *s, int n)
{
    for (int i = 0; i < n; i++)
        free(s[i].value);
    free(s);
}

nl_code nl_experiment_set_seeds(nl_experiment *e, int n, nl_error *err)
{
    nl_sweep_axis *axis = NULL;
    for (int i = 0; i < e->n_axes; i++)
        if (!strcmp(e->axes[i].key, "seed"))
            axis = &e->axes[i];
    if (!axis)
        return nl_fail(err, NL_ERR_USAGE, "%s: the grid has no seed: key to give %d seeds", e->path, n);
    if (n < 1 || n > NL_SWEEP_MAX_VALUES)
        return nl_fail(err, NL_ERR_USAGE, "%d seeds: give 1 to %d", n, NL_SWEEP_MAX_VALUES);
    char **values = calloc((size_t)n, sizeof *values);
    nl_sweep_pos *pos = calloc((size_t)n, sizeof *pos);
    for (int j = 0; values && pos && j < n; j++) {
        char text[16];
        snprintf(text, sizeof text, "%d", j + 1);
        pos[j] = axis->value_pos[0]; /* errors about a seed point at the grid's first */
        if (!(values[j] = strdup(text))) {
            for (int k = 0; k < j; k++)
                free(values[k]);
            free(values);
            values = NULL;
        }
    }
    if (!values || !pos) {
        free(values);
        free(pos);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    for (int j = 0; j < axis->n; j++)
        free(axis->values[j]);
    free(axis->values);
    free(axis->value_pos);
    *axis = (nl_sweep_axis){.pos = axis->pos, .n = n, .values = values, .value_pos = pos};
    nl_copy_string(axis->key, sizeof axis->key, "seed");
    return NL_OK;
}

int nl_experiment_seed_prefix(const nl_experiment *e)
{
    for (int i = 0; i < e->n_axes; i++) {
        const nl_sweep_axis *axis = &e->axes[i];
        if (strcmp(axis->key, "seed"))
            continue;
        for (int j = 0; j < axis->n; j++) {
            char expected[16];
            snprintf(expected, sizeof expected, "%d", j + 1);
            if (strcmp(axis->values[j], expected))
                return 0;
        }
        return axis->n;
    }
    return 0;
}

void nl_experiment_free(nl_experiment *e)
{
    free(e->base_text);
    free_settings(e->sets, e->n_sets);
    for (int i = 0; i < e->n_axes; i++) {
        for (int j = 0; j < e->axes[i].n; j++)
            free(e->axes[i].values[j]);
        free(e->axes[i].values);
        free(e->axes[i].value_pos);
    }
    free(e->axes);
    free(e->derived);
    for (int i = 0; i < e->n_excludes; i++)
        free_settings(e->excludes[i].items, e->excludes[i].n);
    free(e->excludes);
    free(e->plots);
    free(e->claims);
    for (int i = 0; i < e->n_formulas; i++) {
        free(e->formulas[i].expr);
        free(e->formulas[i].params);
    }
    free(e->formulas);
    free(e->base_formula_text);
    char path[1024];
    memcpy(path, e->path, sizeof path);
    memset(e, 0, sizeof *e);
    memcpy(e->path, path, sizeof path);
}
