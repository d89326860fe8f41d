/* The run directories' names (plan_names.h): each grid value as a
 * "key-value" label, the key cut to the fewest dotted components that tell
 * it from the other keys (a formula's text, model.norm.expr, by the
 * formula's default name instead), and a name too long for a directory cut
 * short with a hash of the whole. */
#include <ctype.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/flat.h"
#include "config/norm_label.h"
#include "results/files.h"
#include "results/store.h"
#include "sweep/plan_names.h"

#define MAX_DIR_NAME 120

/* the last `k` dotted components of key */
static const char *suffix(const char *key, int k)
{
    const char *p = key + strlen(key);
    while (p > key) {
        if (p[-1] == '.' && --k == 0)
            return p;
        p--;
    }
    return key;
}

/* a value as a directory-name fragment: [A-Za-z0-9._-], other runs of
 * characters become one '-' */
static void sanitize(const char *value, char *out, size_t size)
{
    char plain[512];
    nl_unquote(value, plain, sizeof plain);
    size_t k = 0;
    bool dash = false;
    for (const char *p = plain; *p && k + 2 < size; p++) {
        const char c = *p;
        if (isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-') {
            if (dash && k > 0)
                out[k++] = '-';
            dash = false;
            out[k++] = c == '_' ? '_' : c;
        } else {
            dash = true;
        }
    }
    out[k] = '\0';
    if (!k)
        snprintf(out, size, "x");
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

typedef struct {
    const char *text;
    int v;
} label_ref;

static int compare_text(const void *x, const void *y)
{
    return strcmp(((const label_ref *)x)->text, ((const label_ref *)y)->text);
}

nl_code nl_sweep_labels_make(const nl_experiment *e, char ****labels_out, nl_error *err)
{
    nl_code code = NL_OK;
    char ***labels = calloc((size_t)e->n_axes, sizeof *labels);
    if (!labels)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    *labels_out = labels;
    for (int a = 0; a < e->n_axes; a++) {
        const nl_sweep_axis *ax = &e->axes[a];
        /* the shortest key suffix no other axis shares */
        int k = 1;
        for (;; k++) {
            bool clash = false;
            for (int b = 0; b < e->n_axes; b++)
                if (b != a && !strcmp(suffix(e->axes[b].key, k), suffix(ax->key, k)))
                    clash = true;
            if (!clash || suffix(ax->key, k) == ax->key)
                break;
        }
        char keypart[96];
        sanitize(suffix(ax->key, k), keypart, sizeof keypart);
        labels[a] = calloc((size_t)ax->n, sizeof *labels[a]);
        if (!labels[a])
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        /* two values that read the same once sanitized get their position;
         * found by sorting, not by comparing every pair (a key may have
         * NL_SWEEP_MAX_VALUES values) */
        char (*plain)[200] = malloc((size_t)ax->n * sizeof *plain);
        label_ref *order = malloc((size_t)ax->n * sizeof *order);
        bool *clash = calloc((size_t)ax->n, sizeof *clash);
        if (!plain || !order || !clash) {
            free(plain), free(order), free(clash);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        }
        /* a formula by its name, never its text: a grid of formulas gives
         * them none (one name for two is refused), so the name is the
         * default, "expr-1a2b3c4d" (config/norm_label.h) */
        const bool formula = !strcmp(ax->key, "model.norm.expr");
        for (int v = 0; v < ax->n; v++) {
            if (formula)
                nl_norm_default_label(ax->values[v], plain[v], sizeof plain[v]);
            else
                sanitize(ax->values[v], plain[v], sizeof plain[v]);
            order[v] = (label_ref){plain[v], v};
        }
        qsort(order, (size_t)ax->n, sizeof *order, compare_text);
        for (int i = 1; i < ax->n; i++)
            if (!strcmp(order[i - 1].text, order[i].text))
                clash[order[i - 1].v] = clash[order[i].v] = true;
        for (int v = 0; v < ax->n && !code; v++) {
            labels[a][v] = malloc(320);
            if (!labels[a][v])
                code = nl_fail(err, NL_ERR_NOMEM, "out of memory");
            else if (clash[v])
                snprintf(labels[a][v], 320, "%s%s%s-v%d", formula ? "" : keypart, formula ? "" : "-", plain[v],
                         v + 1);
            else
                snprintf(labels[a][v], 320, "%s%s%s", formula ? "" : keypart, formula ? "" : "-", plain[v]);
        }
        free(plain), free(order), free(clash);
        if (code)
            return code;
    }
    return NL_OK;
}

/* whether run name `name` holds `label` among the labels it joins */
static bool name_has_label(const char *name, const char *label)
{
    const size_t len = strlen(label);
    for (const char *p = name; (p = strstr(p, label)); p += len)
        if ((p == name || p[-1] == '_') && (!p[len] || p[len] == '_'))
            return true;
    return false;
}

typedef struct {
    const char *label;
    bool found;
} label_search;

static int visit_packed_run(const char *run, void *ctx)
{
    label_search *ls = ctx;
    ls->found = name_has_label(run, ls->label);
    return ls->found; /* stops at the first */
}

/* does a run of the sweep's (a directory of out_dir/runs, or a run its pack
 * holds) hold `label` among the labels its name joins: a sweep started
 * before names its runs so */
static bool runs_named_with(const nl_experiment *e, const char *label)
{
    char runs[1200];
    snprintf(runs, sizeof runs, "%s/" NL_SWEEP_RUNS_DIR, e->out_dir);
    DIR *d = e->out_dir[0] ? opendir(runs) : NULL;
    bool found = false;
    for (struct dirent *ent; d && !found && (ent = readdir(d));)
        found = name_has_label(ent->d_name, label);
    if (d)
        closedir(d);
    nl_store *store;
    nl_error ignored = {0};
    if (!found && e->out_dir[0] && nl_store_present(e->out_dir) &&
        nl_store_open(e->out_dir, &store, &ignored) == NL_OK) {
        label_search ls = {.label = label};
        nl_store_each_run(store, visit_packed_run, &ls, &ignored);
        found = ls.found;
    }
    return found;
}

/* the setting of key by set:, else by the base config (NULL: neither) */
static const char *given(const nl_experiment *e, const nl_flat *base, const char *key)
{
    for (int i = e->n_sets - 1; i >= 0; i--)
        if (!strcmp(e->sets[i].key, key))
            return e->sets[i].value;
    return nl_flat_get(base, key);
}

void nl_sweep_labels_name_formula(const nl_experiment *e, const nl_flat *base, char ***labels)
{
    int axis = -1;
    for (int a = 0; a < e->n_axes; a++) {
        if (!strcmp(e->axes[a].key, "model.norm.expr") || !strcmp(e->axes[a].key, "model.norm.name"))
            return; /* that axis's labels tell the formulas apart */
        if (!strcmp(e->axes[a].key, "model.norm.type"))
            axis = a;
    }
    for (int v = 0; axis >= 0 && v < e->axes[axis].n; v++) {
        if (!nl_norm_type_is_formula(e->axes[axis].values[v]))
            continue;
        char name[NL_NORM_LABEL_SIZE], label[320];
        nl_norm_label(e->axes[axis].values[v], given(e, base, "model.norm.name"), given(e, base, "model.norm.expr"),
                      name, sizeof name);
        const char *dash = strrchr(labels[axis][v], '-');
        snprintf(label, sizeof label, "%.*s-%s", dash ? (int)(dash - labels[axis][v]) : 0, labels[axis][v], name);
        bool taken = runs_named_with(e, labels[axis][v]); /* the old name stays where the sweep has it */
        for (int w = 0; w < e->axes[axis].n && !taken; w++)
            taken = w != v && !strcasecmp(labels[axis][w], label);
        if (!taken)
            snprintf(labels[axis][v], 320, "%s", label);
    }
}

void nl_sweep_labels_free(const nl_experiment *e, char ***labels)
{
    if (!labels)
        return;
    for (int a = 0; a < e->n_axes; a++) {
        if (labels[a])
            for (int v = 0; v < e->axes[a].n; v++)
                free(labels[a][v]);
        free(labels[a]);
    }
    free(labels);
}

void nl_sweep_dir_name(const nl_experiment *e, char ***labels, const int *choice, char *out, size_t size)
{
    char full[4096];
    size_t used = 0;
    full[0] = '\0';
    for (int a = 0; a < e->n_axes && used < sizeof full - 1; a++)
        if (choice[a] >= 0) /* -1: a grid key that does not apply to this run */
            used += (size_t)snprintf(full + used, sizeof full - used, "%s%s", used ? "_" : "",
                                     labels[a][choice[a]]);
    if (strlen(full) <= MAX_DIR_NAME) {
        nl_copy_string(out, size, full);
        return;
    }
    snprintf(out, size, "%.*s-%08x", MAX_DIR_NAME - 9, full, fnv1a(full));
}
