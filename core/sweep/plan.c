/* The plan: the grid expanded in file order (the first key varies slowest),
 * each combination's config loaded through the config module (base, then
 * set, then the grid values, then the derived values, then the run's name),
 * exclusions matched against the resolved config, run directory names made
 * from the varied values (plan_names.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/flat.h"
#include "config/norm_label.h"
#include "config/schema.h"
#include "results/files.h"
#include "sweep/plan_names.h"
#include "sweep/sweep.h"
#include "train/check.h"

/* ---- loading one combination ---- */

typedef struct {
    const nl_experiment *e;
    nl_config *cfg;
    const char **overrides;
    nl_sweep_pos *override_pos; /* where each override was written (line 0: nowhere) */
    char **override_keys;
    int n;
    char (*texts)[1200];
} override_list;

static nl_code load_with(const nl_experiment *e, const char *const *overrides, int n, nl_config *cfg,
                         nl_error *err)
{
    if (e->base_formula_text) /* a base whose model.norm.type names a formula */
        return nl_config_load_string(e->base_formula_text, e->base_text ? e->path : e->base_path, overrides, n,
                                     cfg, err);
    if (e->base_text)
        return nl_config_load_string(e->base_text, e->path, overrides, n, cfg, err);
    return nl_config_load(e->base_path, overrides, n, cfg, err);
}

/* Loads base + overrides. A fixed setting (set:, the first e->n_sets
 * overrides) or a grid value (the next e->n_axes) that does not apply to
 * this run, say model.norm.groups where the grid chose batch norm, is left
 * out rather than an error, the way the config module drops a file's key
 * that an override made inapplicable: when the load fails on such a key,
 * it is tried again without it, and the key is left out only if the run
 * then loads and the key does not apply (the resolved config leaves it
 * out). dropped[i] marks them. */
static nl_code load(const nl_experiment *e, const override_list *o, int n, nl_config *cfg, nl_error *err,
                    bool *dropped)
{
    const int droppable = e->n_sets + e->n_axes < n ? e->n_sets + e->n_axes : n;
    for (int i = 0; i < droppable; i++)
        dropped[i] = false;
    nl_error first = {0};
    const char *list[NL_SWEEP_MAX_SETS + NL_SWEEP_MAX_AXES + 64 + NL_SWEEP_MAX_DERIVED];
    for (int attempt = 0; attempt <= droppable; attempt++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (i >= droppable || !dropped[i])
                list[m++] = o->overrides[i];
        nl_error this_err = {0};
        if (load_with(e, list, m, cfg, &this_err) == NL_OK) {
            if (attempt == 0)
                return NL_OK;
            /* every key left out must really not apply to this run (the
             * resolved config leaves it out): asked of the schema */
            bool ok = true;
            for (int i = 0; i < droppable && ok; i++) {
                const nl_key_def *def = nl_schema_find(o->override_keys[i]);
                ok = !dropped[i] || (def && !nl_schema_applies(def, cfg));
            }
            if (ok)
                return NL_OK;
            break;
        }
        if (attempt == 0)
            first = this_err;
        int culprit = -1;
        for (int i = 0; i < droppable && this_err.key[0]; i++)
            if (!dropped[i] && !strcmp(o->override_keys[i], this_err.key))
                culprit = i;
        if (culprit < 0)
            break;
        dropped[culprit] = true;
    }
    for (int i = 0; i < droppable; i++)
        dropped[i] = false;
    *err = first;
    return first.code ? first.code : NL_ERR_CONFIG;
}

static nl_code format_derived(const nl_sweep_derived *d, const nl_flat *flat, char *out, size_t size,
                              char *why, size_t why_size)
{
    const char *x = nl_flat_get(flat, d->scale_with);
    char plain[128];
    double v = NAN;
    if (x) {
        nl_unquote(x, plain, sizeof plain);
        char *end;
        v = strtod(plain, &end);
        if (end == plain || *end)
            v = NAN;
    }
    if (!x || !isfinite(v)) {
        snprintf(why, why_size, "derived %s: scale_with %s is %s%s%s, not a number", d->key,
                 d->scale_with, x ? "'" : "not set", x ? x : "", x ? "'" : "");
        return NL_ERR_CONFIG;
    }
    const double value = d->base_value * pow(v / d->base_at, d->power);
    if (!isfinite(value)) {
        snprintf(why, why_size, "derived %s: %g * (%g / %g)^%g is not a finite number", d->key,
                 d->base_value, v, d->base_at, d->power);
        return NL_ERR_CONFIG;
    }
    if (d->round)
        snprintf(out, size, "%.0f", round(value));
    else
        snprintf(out, size, "%.7g", value);
    return NL_OK;
}

static bool entry_matches(const nl_sweep_exclusion *x, const nl_flat *flat)
{
    for (int i = 0; i < x->n; i++) {
        /* a formula's name (of formulas:, or a config's model.norm.name): the
         * runs whose formula goes by it (config/norm_label.h) */
        const char *value = x->items[i].value;
        if (!strcmp(x->items[i].key, "model.norm.type") && nl_norm_label_is_formula(value) &&
            !nl_norm_type_is_formula(value)) {
            char label[NL_NORM_LABEL_SIZE];
            if (!nl_norm_label_of(flat, label, sizeof label) || !nl_values_equal(label, value))
                return false;
            continue;
        }
        nl_flat want = {0};
        nl_error err = {0};
        if (nl_flat_overlay(&want, x->items[i].key, x->items[i].value, &err) != NL_OK) {
            nl_flat_free(&want);
            return false;
        }
        bool ok = want.n > 0;
        for (int j = 0; j < want.n && ok; j++) {
            const char *have = nl_flat_get(flat, want.items[j].key);
            ok = have && nl_values_equal(have, want.items[j].value);
        }
        nl_flat_free(&want);
        if (!ok)
            return false;
    }
    return true;
}

/* the config a combination would have, as far as it can be known without
 * loading it: defaults, the base as written, the overrides */
static nl_code fallback_flat(const nl_flat *base, const override_list *o, int n, nl_flat *out,
                             nl_error *err)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < base->n; i++)
        if (nl_flat_set(out, base->items[i].key, base->items[i].value, err))
            return err->code;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(o->overrides[i], '=');
        nl_error ignored = {0};
        nl_flat_overlay(out, o->override_keys[i], eq + 1, &ignored);
    }
    return NL_OK;
}

static nl_code base_flat(const nl_experiment *e, nl_flat *out, nl_error *err)
{
    nl_config *defaults = malloc(sizeof *defaults);
    if (!defaults)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_config_defaults(defaults);
    nl_code rc = nl_flat_from_config(defaults, out, NULL, err);
    free(defaults);
    if (rc)
        return rc;
    char *text = NULL;
    if (!e->base_text && (rc = nl_read_file_max(e->base_path, NL_READ_TEXT_MAX, &text, NULL, err)))
        return rc;
    nl_flat written = {0};
    nl_error ignored = {0};
    if (nl_flat_from_yaml(e->base_text ? e->base_text : text, e->path, &written, &ignored) == NL_OK)
        for (int i = 0; i < written.n && !rc; i++)
            rc = nl_flat_set(out, written.items[i].key, written.items[i].value, err);
    nl_flat_free(&written);
    free(text);
    return rc;
}

static void add_warning(nl_sweep_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_warning(nl_sweep_plan *p, const char *fmt, ...)
{
    if (p->n_warnings >= NL_SWEEP_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->warnings[p->n_warnings++], sizeof p->warnings[0], fmt, ap);
    va_end(ap);
}

/* "model.norm.type=batch seed=1" */
static void combo_label(const nl_experiment *e, const int *choice, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < e->n_axes && used < size - 1; a++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", a ? " " : "", e->axes[a].key,
                                 e->axes[a].values[choice[a]]);
}

/* the message of a run whose config does not load: where the override that
 * caused it was written, which run, the config module's message */
static nl_code run_error(const nl_experiment *e, const override_list *o, int n, const char *dir,
                         const char *label, nl_error *err)
{
    int at = -1;
    for (int i = 0; i < n && err->key[0]; i++) {
        const char *k = o->override_keys[i];
        const size_t len = strlen(k);
        if (o->override_pos[i].line && (!strcmp(k, err->key) || (!strncmp(err->key, k, len) && err->key[len] == '.')))
            at = i;
    }
    if (at >= 0)
        nl_error_prefix(err, "%s:%d:%d: run %s (%s): ", e->path, o->override_pos[at].line,
                        o->override_pos[at].column, dir, label);
    else if (n > 0) {
        /* nothing the sweep sets: the base config itself */
        const size_t len = strlen(err->msg);
        if (len < sizeof err->msg)
            snprintf(err->msg + len, sizeof err->msg - len, " (in the base config%s%s: every run has it; the "
                     "first is %s)", e->base_text ? "" : " ", e->base_text ? "" : e->base_path, dir);
    }
    err->code = NL_ERR_CONFIG;
    return NL_ERR_CONFIG;
}

/* a message that several runs share, said once with a count and the first run */
typedef struct {
    char text[512];
    char first[160];
    int count;
} plan_note;

static void count_note(plan_note *notes, int *n_notes, const char *text, const char *run)
{
    int u = 0;
    while (u < *n_notes && strcmp(notes[u].text, text))
        u++;
    if (u == *n_notes && *n_notes < NL_SWEEP_MAX_WARNINGS) {
        nl_copy_string(notes[u].text, sizeof notes[u].text, text);
        nl_copy_string(notes[u].first, sizeof notes[u].first, run);
        notes[u].count = 0;
        (*n_notes)++;
    }
    if (u < *n_notes)
        notes[u].count++;
}

/* "KEY=VALUE" of a set: or grid: entry. A relative init.from written in the
 * experiment file is relative to the file's directory, as in a config file
 * (the inline base: is read as one); from --set (no line), to the working
 * directory. The value is a plain or double-quoted scalar of a path. */
static void override_text(const nl_experiment *e, const char *key, const char *value,
                          nl_sweep_pos pos, char *out, size_t size)
{
    const char *slash = strrchr(e->path, '/');
    const bool quoted = value[0] == '"';
    const char *path = value + quoted;
    if (strcmp(key, "init.from") != 0 || pos.line == 0 || !slash || !path[0] || path[0] == '/' ||
        (quoted && strchr(path, '\\')) || (!quoted && strchr("'[{", path[0]))) {
        snprintf(out, size, "%s=%s", key, value);
        return;
    }
    const size_t len = strlen(path) - (quoted && path[strlen(path) - 1] == '"');
    snprintf(out, size, "%s=\"%.*s/%.*s\"", key, (int)(slash - e->path), e->path, (int)len, path);
}

/* A model.norm.type value that names a formula of formulas: (the grid's
 * choice, else set:'s, else the base's) becomes type expr, and the
 * formula's expr, params and name follow the run's name as overrides
 * written where the formula was (so a formula the config module refuses is
 * pointed at in formulas:). Returns the new count; n unchanged without
 * formulas. */
static int formula_overrides(const nl_experiment *e, override_list *o, const int *choice, int n)
{
    if (!e->n_formulas)
        return n;
    int at = -1; /* the override of model.norm.type */
    const nl_sweep_formula *f = NULL;
    for (int i = 0; i < e->n_sets; i++)
        if (!strcmp(e->sets[i].key, "model.norm.type"))
            at = i, f = nl_experiment_formula(e, e->sets[i].value);
    for (int a = 0; a < e->n_axes; a++)
        if (!strcmp(e->axes[a].key, "model.norm.type"))
            at = e->n_sets + a, f = nl_experiment_formula(e, e->axes[a].values[choice[a]]);
    if (at < 0 && e->base_formula)
        f = &e->formulas[e->base_formula - 1];
    if (!f)
        return n;
    if (at >= 0) {
        snprintf(o->texts[at], sizeof o->texts[at], "model.norm.type=expr");
    } else { /* the base's: replaced */
        snprintf(o->texts[n], sizeof o->texts[n], "model.norm.type=expr");
        o->override_keys[n] = "model.norm.type";
        o->override_pos[n++] = f->pos;
    }
    snprintf(o->texts[n], sizeof o->texts[n], "model.norm.expr=%s", f->expr);
    o->override_keys[n] = "model.norm.expr";
    o->override_pos[n++] = f->expr_pos;
    snprintf(o->texts[n], sizeof o->texts[n], "model.norm.params=%s", f->params ? f->params : "\"\"");
    o->override_keys[n] = "model.norm.params";
    o->override_pos[n++] = f->params ? f->params_pos : f->pos;
    snprintf(o->texts[n], sizeof o->texts[n], "model.norm.name=%s", f->name);
    o->override_keys[n] = "model.norm.name";
    o->override_pos[n++] = f->pos;
    return n;
}

/* the overrides of one combination, into o: the set: values, the grid's
 * choices and the run's name; returns how many */
static int combo_overrides(const nl_experiment *e, override_list *o, const int *choice, const char *dir)
{
    int n = 0;
    for (int i = 0; i < e->n_sets; i++, n++) {
        override_text(e, e->sets[i].key, e->sets[i].value, e->sets[i].value_pos, o->texts[n],
                      sizeof o->texts[n]);
        o->override_keys[n] = (char *)e->sets[i].key;
        o->override_pos[n] = e->sets[i].value_pos;
    }
    for (int a = 0; a < e->n_axes; a++, n++) {
        override_text(e, e->axes[a].key, e->axes[a].values[choice[a]],
                      e->axes[a].value_pos[choice[a]], o->texts[n], sizeof o->texts[n]);
        o->override_keys[n] = (char *)e->axes[a].key;
        o->override_pos[n] = e->axes[a].value_pos[choice[a]];
    }
    snprintf(o->texts[n], sizeof o->texts[n], "name=\"%s\"", dir);
    o->override_keys[n] = "name";
    o->override_pos[n] = (nl_sweep_pos){0, 0};
    n++;
    n = formula_overrides(e, o, choice, n);
    for (int i = 0; i < n; i++)
        o->overrides[i] = o->texts[i];
    return n;
}

static nl_code record_excluded(nl_sweep_plan *out, long combo, int exclusion, const char *label, nl_error *err)
{
    nl_sweep_excluded *grown = realloc(out->excluded, (size_t)(out->n_excluded + 1) * sizeof *grown);
    if (!grown)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    out->excluded = grown;
    nl_sweep_excluded *x = &out->excluded[out->n_excluded++];
    x->combo = combo;
    x->exclusion = exclusion;
    nl_copy_string(x->label, sizeof x->label, label);
    return NL_OK;
}

/* what was left out of run `dir`, counted once per message: grid keys and
 * set: keys that do not apply to it, and what the config module dropped (a
 * key that no longer applies once a grid value is set) */
static void note_left_out(const nl_experiment *e, const int *choice, const bool *dropped, const nl_config *cfg,
                          const char *dir, plan_note *notes, int *n_notes)
{
    for (int a = 0; a < e->n_axes; a++) {
        if (choice[a] >= 0)
            continue;
        char text[sizeof notes[0].text];
        snprintf(text, sizeof text, "%.120s:%d:%d: grid: %s does not apply to some runs and is left out "
                 "of their names and summary rows", e->path, e->axes[a].pos.line, e->axes[a].pos.column,
                 e->axes[a].key);
        count_note(notes, n_notes, text, dir);
    }
    for (int i = 0; i < e->n_sets; i++) {
        if (!dropped[i])
            continue;
        char text[sizeof notes[0].text];
        snprintf(text, sizeof text, "%.120s:%d:%d: set: %s=%.60s does not apply to some runs and is left out of "
                 "them", e->path, e->sets[i].pos.line, e->sets[i].pos.column, e->sets[i].key, e->sets[i].value);
        count_note(notes, n_notes, text, dir);
    }
    for (int w = 0; w < cfg->n_warnings; w++)
        count_note(notes, n_notes, cfg->warnings[w], dir);
}

/* a grid key that applies to no run at all is a mistake, not a choice */
static nl_code check_axes_apply(const nl_experiment *e, const int *runs_with_axis, nl_error *err)
{
    for (int a = 0; a < e->n_axes; a++)
        if (runs_with_axis[a] == 0) {
            nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: grid: %s applies to none of the runs (the config "
                    "module ignores it for every one of them); remove it from the grid", e->path,
                    e->axes[a].pos.line, e->axes[a].pos.column, e->axes[a].key);
            nl_error_key(err, e->axes[a].key);
            return NL_ERR_CONFIG;
        }
    return NL_OK;
}

/* names made unique (truncated names could meet), also when case is ignored:
 * a case-insensitive file system would hold one directory for both */
static void unique_names(nl_sweep_plan *out)
{
    for (int i = 0; i < out->n_runs; i++)
        for (int j = 0; j < i; j++)
            if (!strcasecmp(out->runs[i].dir, out->runs[j].dir)) {
                char tail[16];
                snprintf(tail, sizeof tail, "-%d", i);
                out->runs[i].dir[sizeof out->runs[i].dir - strlen(tail) - 1] = '\0';
                strcat(out->runs[i].dir, tail);
            }
}

static void warn_unmatched_excludes(const nl_experiment *e, nl_sweep_plan *out)
{
    for (int x = 0; x < e->n_excludes; x++) {
        int matched = 0;
        for (int i = 0; i < out->n_excluded; i++)
            matched += out->excluded[i].exclusion == x;
        if (matched == 0) {
            char what[512] = "";
            size_t used = 0;
            for (int i = 0; i < e->excludes[x].n && used < sizeof what - 1; i++)
                used += (size_t)snprintf(what + used, sizeof what - used, "%s%s: %s", i ? ", " : "",
                                         e->excludes[x].items[i].key, e->excludes[x].items[i].value);
            add_warning(out, "%s:%d:%d: exclude {%s} matches no run (a misspelled value?)", e->path,
                        e->excludes[x].pos.line, e->excludes[x].pos.column, what);
        }
    }
}

/* ---- building the plan, one combination at a time ---- */

/* what the build keeps from one combination to the next */
typedef struct {
    const nl_experiment *e;
    nl_sweep_plan *out;
    nl_error *err;
    override_list o;
    nl_config *cfg;
    int *choice;          /* the grid's value index per axis (-1: left out) */
    char ***labels;       /* nl_sweep_labels_make */
    nl_flat base;         /* the base config, flat: what a run that does not load has */
    plan_note notes[NL_SWEEP_MAX_WARNINGS];
    int n_notes;
    bool dropped[NL_SWEEP_MAX_SETS + NL_SWEEP_MAX_AXES]; /* load(): overrides left out */
    int *runs_with_axis;  /* per axis: the runs it applies to */
    long coinciding;      /* combinations that are another run once inapplicable grid keys are left out */
    nl_text_memo text_memo; /* a grid over one corpus reads it once, not once a run */
    nl_sweep_formula_names formulas; /* one name, one formula */
} plan_builder;

/* one combination of the grid on its way to being a run */
typedef struct {
    long index;
    char dir[160], label[1024];
    int n;                /* overrides in b->o */
    int n_before_derived;
    char derived[NL_SWEEP_MAX_DERIVED][48];
    char derived_why[512]; /* why a derived value could not be computed */
    bool loaded;           /* its config loaded (and config_text holds it) */
    nl_error load_err;
    nl_flat flat;
} combo;

/* the number of combinations, within NL_SWEEP_MAX_COMBOS */
static nl_code count_combos(const nl_experiment *e, long *combos, nl_error *err)
{
    *combos = 1;
    for (int a = 0; a < e->n_axes; a++) {
        *combos *= e->axes[a].n;
        if (*combos > NL_SWEEP_MAX_COMBOS)
            return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: grid: more than %ld combinations (the "
                           "values of %s and the keys before it); accepted: at most %ld runs, each "
                           "checked before the first starts: split the experiment", e->path,
                           e->axes[a].pos.line, e->axes[a].pos.column, NL_SWEEP_MAX_COMBOS,
                           e->axes[a].key, NL_SWEEP_MAX_COMBOS);
    }
    return NL_OK;
}

/* the plan's columns and run slots, and the builder's lists */
static nl_code builder_init(plan_builder *b, long combos)
{
    const nl_experiment *e = b->e;
    nl_sweep_plan *out = b->out;
    out->n_combos = combos;
    out->n_columns = e->n_axes + e->n_derived;
    out->columns = calloc((size_t)out->n_columns + 1, sizeof *out->columns);
    out->runs = calloc((size_t)combos + 1, sizeof *out->runs);
    if (!out->columns || !out->runs)
        return nl_fail(b->err, NL_ERR_NOMEM, "out of memory");
    for (int a = 0; a < e->n_axes; a++)
        nl_copy_string(out->columns[a], sizeof out->columns[a], e->axes[a].key);
    for (int d = 0; d < e->n_derived; d++)
        nl_copy_string(out->columns[e->n_axes + d], sizeof out->columns[0], e->derived[d].key);
    const int max_overrides = e->n_sets + e->n_axes + e->n_derived + 1 + 4;
    b->o.e = e;
    b->o.overrides = calloc((size_t)max_overrides, sizeof *b->o.overrides);
    b->o.override_pos = calloc((size_t)max_overrides, sizeof *b->o.override_pos);
    b->o.override_keys = calloc((size_t)max_overrides, sizeof *b->o.override_keys);
    b->o.texts = calloc((size_t)max_overrides, sizeof *b->o.texts);
    b->cfg = malloc(sizeof *b->cfg);
    b->choice = calloc((size_t)e->n_axes + 1, sizeof *b->choice);
    b->runs_with_axis = calloc((size_t)e->n_axes + 1, sizeof *b->runs_with_axis);
    if (!b->o.overrides || !b->o.override_pos || !b->o.override_keys || !b->o.texts || !b->cfg ||
        !b->choice || !b->runs_with_axis)
        return nl_fail(b->err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = nl_sweep_labels_make(e, &b->labels, b->err);
    if (!rc && !(rc = base_flat(e, &b->base, b->err)))
        nl_sweep_labels_name_formula(e, &b->base, b->labels);
    return rc;
}

static void builder_free(plan_builder *b)
{
    free(b->o.overrides);
    free(b->o.override_pos);
    free(b->o.override_keys);
    free(b->o.texts);
    free(b->cfg);
    free(b->choice);
    free(b->runs_with_axis);
    nl_sweep_labels_free(b->e, b->labels);
    nl_flat_free(&b->base);
    nl_sweep_formula_names_free(&b->formulas);
}

/* combination `index`: its grid choices, name, label and overrides */
static void combo_begin(plan_builder *b, long index, combo *k)
{
    const nl_experiment *e = b->e;
    memset(k, 0, sizeof *k);
    k->index = index;
    long rest = index;
    for (int a = e->n_axes - 1; a >= 0; a--) {
        b->choice[a] = (int)(rest % e->axes[a].n);
        rest /= e->axes[a].n;
    }
    nl_sweep_dir_name(e, b->labels, b->choice, k->dir, sizeof k->dir);
    combo_label(e, b->choice, k->label, sizeof k->label);
    k->n = combo_overrides(e, &b->o, b->choice, k->dir);
    k->n_before_derived = k->n;
}

/* the derived values, from the grid (and set) values they scale with,
 * appended to the overrides; a value that cannot be computed leaves
 * k->derived_why */
static nl_code combo_derive(plan_builder *b, combo *k)
{
    const nl_experiment *e = b->e;
    override_list *o = &b->o;
    nl_code rc;
    if (load(e, o, k->n, b->cfg, &k->load_err, b->dropped) == NL_OK)
        rc = nl_flat_from_config(b->cfg, &k->flat, NULL, b->err);
    else
        rc = fallback_flat(&b->base, o, k->n, &k->flat, b->err);
    if (rc)
        return rc;
    for (int d = 0; d < e->n_derived && !k->derived_why[0]; d++) {
        if (format_derived(&e->derived[d], &k->flat, k->derived[d], sizeof k->derived[d],
                           k->derived_why, sizeof k->derived_why) != NL_OK)
            break;
        snprintf(o->texts[k->n], sizeof o->texts[k->n], "%s=%s", e->derived[d].key, k->derived[d]);
        o->overrides[k->n] = o->texts[k->n];
        o->override_keys[k->n] = (char *)e->derived[d].key;
        o->override_pos[k->n] = e->derived[d].pos;
        k->n++;
    }
    nl_flat_free(&k->flat);
    return NL_OK;
}

/* the combination's config with every override; k->flat is what it holds
 * (or, when it does not load, what it would) for the exclusions to match */
static nl_code combo_load(plan_builder *b, combo *k)
{
    nl_code rc;
    if (b->e->n_derived && (rc = combo_derive(b, k)))
        return rc;
    if (k->derived_why[0])
        return fallback_flat(&b->base, &b->o, k->n_before_derived, &k->flat, b->err);
    nl_error_clear(&k->load_err);
    if (load(b->e, &b->o, k->n, b->cfg, &k->load_err, b->dropped) != NL_OK)
        return fallback_flat(&b->base, &b->o, k->n, &k->flat, b->err);
    char *text = NULL;
    if ((rc = nl_flat_from_config(b->cfg, &k->flat, &text, b->err)))
        return rc;
    k->loaded = true;
    b->out->runs[b->out->n_runs].config_text = text;
    return NL_OK;
}

/* whether an exclusion matches the combination (then recorded as excluded) */
static nl_code combo_exclude(plan_builder *b, combo *k, bool *excluded)
{
    const nl_experiment *e = b->e;
    int excluded_by = -1;
    for (int x = 0; x < e->n_excludes && excluded_by < 0; x++)
        if (entry_matches(&e->excludes[x], &k->flat))
            excluded_by = x;
    nl_flat_free(&k->flat);
    *excluded = excluded_by >= 0;
    if (!*excluded)
        return NL_OK;
    free(b->out->runs[b->out->n_runs].config_text);
    b->out->runs[b->out->n_runs].config_text = NULL;
    return record_excluded(b->out, k->index, excluded_by, k->label, b->err);
}

/* A finished run of this very config in the sweep's directory is skipped,
 * not run (nl_sweep_prepare's classify): it is not checked again, so that a
 * finished sweep redraws its plots without what its runs read at hand (a
 * dataset, an init.from source whose final model is not kept). */
static bool finished_as_planned(const char *run_dir, const char *config_text)
{
    return run_dir[0] && config_text && nl_sweep_finished_as(run_dir, config_text);
}

/* a run that is kept must run: its derived values computed, its config
 * loaded, and what `normlab run` checks before it writes (the data,
 * memory, the trace unit) passed; a sweep whose runs cannot run does not
 * start */
static nl_code combo_check(plan_builder *b, combo *k)
{
    const nl_experiment *e = b->e;
    if (k->derived_why[0]) {
        int d = 0;
        while (d < e->n_derived &&
               strncmp(k->derived_why + 8, e->derived[d].key, strlen(e->derived[d].key)))
            d++;
        const nl_sweep_pos at = d < e->n_derived ? e->derived[d].pos : (nl_sweep_pos){0, 0};
        return nl_fail(b->err, NL_ERR_CONFIG, "%s:%d:%d: run %s (%s): %s", e->path, at.line,
                       at.column, k->dir, k->label, k->derived_why);
    }
    nl_run_plan run_plan;
    /* the run's directory, so that an init.from naming it is refused: named
     * without the grid keys that do not apply to it (combo_drop_axes) */
    char run_dir[1400] = "", name[sizeof k->dir];
    nl_copy_string(name, sizeof name, k->dir);
    if (k->loaded) {
        int choice[NL_SWEEP_MAX_AXES];
        for (int a = 0; a < e->n_axes; a++)
            choice[a] = b->dropped[e->n_sets + a] ? -1 : b->choice[a];
        nl_sweep_dir_name(e, b->labels, choice, name, sizeof name);
        if (!name[0]) /* no_axis_applies refuses it */
            nl_copy_string(name, sizeof name, k->dir);
    }
    if (e->out_dir[0])
        snprintf(run_dir, sizeof run_dir, "%s/" NL_SWEEP_RUNS_DIR "/%s", e->out_dir, name);
    if (k->loaded && !finished_as_planned(run_dir, b->out->runs[b->out->n_runs].config_text) &&
        nl_run_check_into(b->cfg, -1, false, run_dir[0] ? run_dir : NULL, &b->text_memo,
                          &run_plan, &k->load_err) != NL_OK)
        k->loaded = false;
    if (!k->loaded) {
        *b->err = k->load_err;
        return run_error(e, &b->o, k->n, k->dir, k->label, b->err);
    }
    return NL_OK;
}

/* no grid key applies to the run: it is the base config alone, and would
 * have no name */
static nl_code no_axis_applies(const nl_experiment *e, const char *label, nl_error *err)
{
    nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: grid: no key of the grid applies to the run %s (the "
            "config module ignores %s%s there); remove the key%s or make the base config one %s "
            "applies to", e->path, e->axes[0].pos.line, e->axes[0].pos.column, label,
            e->axes[0].key, e->n_axes > 1 ? " and the others" : "", e->n_axes > 1 ? "s" : "",
            e->n_axes > 1 ? "they" : "it");
    nl_error_key(err, e->axes[0].key);
    return NL_ERR_CONFIG;
}

/* Grid keys that do not apply to this run (groups where the grid chose
 * batch norm) are left out of its name and its summary row, and
 * combinations that then coincide run once (*coincides). */
static nl_code combo_drop_axes(plan_builder *b, combo *k, bool *coincides)
{
    const nl_experiment *e = b->e;
    nl_sweep_plan *out = b->out;
    *coincides = false;
    bool axis_dropped = false;
    for (int a = 0; a < e->n_axes; a++)
        if (b->dropped[e->n_sets + a]) {
            b->choice[a] = -1;
            axis_dropped = true;
        }
    if (!axis_dropped)
        return NL_OK;
    nl_sweep_dir_name(e, b->labels, b->choice, k->dir, sizeof k->dir);
    if (!k->dir[0])
        return no_axis_applies(e, k->label, b->err);
    for (int j = 0; j < out->n_runs && !*coincides; j++)
        *coincides = !memcmp(out->runs[j].choice, b->choice, (size_t)e->n_axes * sizeof *b->choice);
    free(out->runs[out->n_runs].config_text);
    out->runs[out->n_runs].config_text = NULL;
    if (*coincides) {
        b->coinciding++;
        return NL_OK;
    }
    /* the run's name follows its directory: load again with it */
    const int name_at = e->n_sets + e->n_axes;
    snprintf(b->o.texts[name_at], sizeof b->o.texts[name_at], "name=\"%s\"", k->dir);
    nl_error_clear(&k->load_err);
    if (load(e, &b->o, k->n, b->cfg, &k->load_err, b->dropped) != NL_OK) {
        *b->err = k->load_err;
        return run_error(e, &b->o, k->n, k->dir, k->label, b->err);
    }
    char *text = NULL;
    nl_code rc = nl_flat_from_config(b->cfg, &k->flat, &text, b->err);
    if (rc)
        return rc;
    nl_flat_free(&k->flat);
    out->runs[out->n_runs].config_text = text;
    return NL_OK;
}

/* the combination as the plan's next run */
static nl_code combo_add_run(plan_builder *b, combo *k)
{
    const nl_experiment *e = b->e;
    nl_sweep_plan *out = b->out;
    for (int a = 0; a < e->n_axes; a++)
        b->runs_with_axis[a] += b->choice[a] >= 0;
    note_left_out(e, b->choice, b->dropped, b->cfg, k->dir, b->notes, &b->n_notes);
    const nl_sweep_override_at at = {b->o.override_keys, b->o.override_pos, k->n};
    nl_code rc = nl_sweep_formula_names_check(&b->formulas, e, b->cfg, k->dir, &at, b->err);
    if (rc)
        return rc;
    nl_sweep_run *r = &out->runs[out->n_runs++];
    nl_norm_label_of_config(b->cfg, r->norm, sizeof r->norm);
    r->index = out->n_runs - 1;
    r->combo = k->index;
    nl_copy_string(r->dir, sizeof r->dir, k->dir);
    r->choice = malloc((size_t)(e->n_axes + 1) * sizeof *r->choice);
    r->derived = calloc((size_t)e->n_derived + 1, sizeof *r->derived);
    if (!r->choice || !r->derived)
        return nl_fail(b->err, NL_ERR_NOMEM, "out of memory");
    memcpy(r->choice, b->choice, (size_t)e->n_axes * sizeof *b->choice);
    for (int d = 0; d < e->n_derived; d++)
        if (!(r->derived[d] = strdup(k->derived[d])))
            return nl_fail(b->err, NL_ERR_NOMEM, "out of memory");
    return NL_OK;
}

/* one combination: a run of the plan, excluded, or the same run as another */
static nl_code plan_combo(plan_builder *b, long index)
{
    combo k;
    combo_begin(b, index, &k);
    bool excluded, coincides;
    nl_code rc = combo_load(b, &k);
    if (rc || (rc = combo_exclude(b, &k, &excluded)) || excluded)
        return rc;
    if ((rc = combo_check(b, &k)) || (rc = combo_drop_axes(b, &k, &coincides)) || coincides)
        return rc;
    return combo_add_run(b, &k);
}

/* checks of the whole plan, and the warnings its runs share */
static nl_code plan_finish(plan_builder *b)
{
    const nl_experiment *e = b->e;
    nl_sweep_plan *out = b->out;
    if (out->n_runs == 0)
        return nl_fail(b->err, NL_ERR_CONFIG, "%s: every one of the %ld combinations is excluded; "
                       "nothing to run", e->path, out->n_combos);
    nl_code rc = check_axes_apply(e, b->runs_with_axis, b->err);
    if (rc)
        return rc;
    out->n_coinciding = b->coinciding;
    if (b->coinciding > 0)
        add_warning(out, "%s: %ld grid combinations are the same run as another once the grid keys "
                    "that do not apply to them are left out; each such run runs once", e->path,
                    b->coinciding);
    unique_names(out);
    for (int i = 0; i < b->n_notes; i++)
        add_warning(out, "%s (%d run%s, e.g. %s)", b->notes[i].text, b->notes[i].count,
                    b->notes[i].count == 1 ? "" : "s", b->notes[i].first);
    warn_unmatched_excludes(e, out);
    return NL_OK;
}

nl_code nl_sweep_plan_build(const nl_experiment *e, nl_sweep_plan *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    long combos;
    nl_code rc = count_combos(e, &combos, err);
    if (rc)
        return rc;
    plan_builder *b = calloc(1, sizeof *b);
    if (!b)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    b->e = e;
    b->out = out;
    b->err = err;
    rc = builder_init(b, combos);
    for (long c = 0; c < combos && !rc; c++)
        rc = plan_combo(b, c);
    if (!rc)
        rc = plan_finish(b);
    builder_free(b);
    free(b);
    if (rc)
        nl_sweep_plan_free(out);
    return rc;
}

void nl_sweep_plan_free(nl_sweep_plan *p)
{
    for (int i = 0; i < p->n_runs; i++) {
        free(p->runs[i].choice);
        if (p->runs[i].derived)
            for (int d = 0; p->runs[i].derived[d]; d++)
                free(p->runs[i].derived[d]);
        free(p->runs[i].derived);
        free(p->runs[i].config_text);
    }
    /* a run being built when an error struck */
    if (p->runs)
        free(p->runs[p->n_runs].config_text);
    free(p->runs);
    free(p->excluded);
    free(p->columns);
    memset(p, 0, sizeof *p);
}
