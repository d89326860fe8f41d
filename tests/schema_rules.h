/* Test helpers that derive configs from the schema's applicability rules
 * (nl_key_def's when_key and and_when): values of the governing keys under
 * which a key applies or not, and those settings as a nested YAML file.
 * Shared by test_bounds (a value past a bound, where the key applies) and
 * test_applies (a key set where it does not apply). Header-only: static
 * functions, each test program takes its own copy. */
#ifndef NL_TEST_SCHEMA_RULES_H
#define NL_TEST_SCHEMA_RULES_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "config/config.h"
#include "config/schema.h"
#include "norm/formula.h"
#include "norm/registry.h"

typedef struct {
    char key[96];
    char value[256];
} sr_setting;

/* a formula (model.norm.expr) that parses and names `word`: an axis in a
 * reduction, running(...) around a batch one, or a value */
static const char *sr_formula_reading(const char *word)
{
    static char text[128];
    if (!strcmp(word, "running"))
        snprintf(text, sizeof text, "x - running(mean(x, [batch]))");
    else if (!strcmp(word, "channels") || !strcmp(word, "batch"))
        snprintf(text, sizeof text, "x - mean(x, [%s])", word);
    else
        snprintf(text, sizeof text, "x * %s", word);
    ck_assert_msg(nl_formula_reads(text, word), "the test formula '%s' does not name %s", text, word);
    return text;
}

/* sets the governing key of w to a value under which w holds (`hold`) or
 * fails; the choices of an enum or bool are tried from `from` on; returns
 * the next choice to try, or -1 when there is none */
static int sr_set_condition(const nl_key_when *w, nl_config *cfg, bool hold, int from)
{
    const nl_key_def *on = nl_schema_find(w->key);
    ck_assert_msg(on != NULL, "a rule reads %s, which is not a key", w->key);
    if (on->type == NL_KT_ENUM || on->type == NL_KT_BOOL) {
        const int count = on->type == NL_KT_BOOL ? 2 : on->names->count;
        /* the value the key has now is tried first: a key that governs
         * several rules of one key (the placement, under the cell's rule and
         * under the normalizer's own keys' rule) keeps what the first set */
        int current;
        if (on->type == NL_KT_BOOL) {
            bool b;
            memcpy(&b, nl_schema_field(cfg, on), sizeof b);
            current = b;
        } else {
            memcpy(&current, nl_schema_field(cfg, on), sizeof current);
        }
        if (current < 0 || current >= count)
            current = 0;
        for (int i = from; i < count; i++) {
            const int v = i == 0 ? current : i - 1 < current ? i - 1 : i;
            if (on->type == NL_KT_BOOL) {
                const bool b = v;
                memcpy(nl_schema_field(cfg, on), &b, sizeof b);
            } else {
                memcpy(nl_schema_field(cfg, on), &v, sizeof v);
            }
            if (nl_schema_condition_holds(w, cfg) == hold)
                return i + 1;
        }
        return -1;
    }
    if (on->type == NL_KT_NAME_SET) {
        /* one name at a time: the sets of one name each */
        for (int i = from; i < on->names->count; i++) {
            const unsigned bits = 1u << i;
            memcpy(nl_schema_field(cfg, on), &bits, sizeof bits);
            if (nl_schema_condition_holds(w, cfg) == hold)
                return i + 1;
        }
        return -1;
    }
    if (from > 0)
        return -1;
    /* a number or string: set (a value its own check takes) or not */
    switch (on->type) {
    case NL_KT_STRING:
        if (w->reads) {
            /* a formula that names the word, or one that does not on a
             * normalizer that is a formula (elsewhere the text is not read) */
            snprintf(nl_schema_field(cfg, on), on->size, "%s", hold ? sr_formula_reading(w->reads) : "x");
            if (!hold) {
                const unsigned formulas = nl_norm_kinds_with_keys(NL_NORM_KEY_FORMULA);
                int kind = 0;
                while (kind < NL_NORM_COUNT && !(formulas & (1u << kind)))
                    kind++;
                memcpy(nl_schema_field(cfg, nl_schema_find("model.norm.type")), &kind, sizeof kind);
            }
        } else
            snprintf(nl_schema_field(cfg, on), on->size, "%s", hold ? "x" : "");
        break;
    case NL_KT_FLOAT: {
        float f = 0.0f;
        if (hold)
            f = (on->flags & NL_KF_HI) && on->hi <= 1 ? (float)(on->hi / 2)
                : (on->flags & NL_KF_LO) && on->lo > 0 ? (float)on->lo * 2 : 1.0f;
        memcpy(nl_schema_field(cfg, on), &f, sizeof f);
        break;
    }
    case NL_KT_INT:
        nl_schema_set_int(on, cfg,
                          hold ? ((on->flags & NL_KF_LO) && on->lo > 1 ? (long long)on->lo : 1) : 0);
        break;
    default:
        ck_abort_msg("%s: a rule on a %s key has no test value", w->key,
                     nl_schema_type_name(on));
    }
    ck_assert_msg(nl_schema_condition_holds(w, cfg) == hold, "%s: could not make '%s' %s",
                  w->key, w->key, hold ? "hold" : "fail");
    return 1;
}

static bool sr_make_apply_from(const nl_key_def *def, const nl_key_when *conds, int n, int i,
                               nl_config *cfg, int depth);

/* cfg changed (only in def's governing keys, and theirs) so that def
 * applies; false when no choice of them does */
static bool sr_make_apply(const nl_key_def *def, nl_config *cfg, int depth)
{
    ck_assert_msg(depth < 8, "%s: the rules nest too deep (a cycle?)", def->key);
    nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
    const int n = nl_schema_conditions(def, conds);
    return sr_make_apply_from(def, conds, n, 0, cfg, depth);
}

static bool sr_make_apply_from(const nl_key_def *def, const nl_key_when *conds, int n, int i,
                               nl_config *cfg, int depth)
{
    if (i == n)
        return nl_schema_applies(def, cfg);
    const nl_key_def *on = nl_schema_find(conds[i].key);
    /* a formula's text (model.norm.expr) holds for every normalizer but
     * the formula it fails on: its key is not made to apply, which would
     * make the normalizer the formula and leave the rule's other
     * normalizer-bound keys (custom's scale, reduce) unwritten */
    const bool governing_applies = !conds[i].reads;
    for (int next = 0; (next = sr_set_condition(&conds[i], cfg, true, next)) > 0;)
        if ((!governing_applies || sr_make_apply(on, cfg, depth + 1)) &&
            nl_schema_condition_holds(&conds[i], cfg) &&
            sr_make_apply_from(def, conds, n, i + 1, cfg, depth))
            return true;
    return false;
}

/* the keys def's rule reads, and the keys their rules read, into keys
 * (each once); returns the count */
static int sr_governing_keys(const nl_key_def *def, const char **keys, int n, int max)
{
    nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
    const int c = nl_schema_conditions(def, conds);
    for (int i = 0; i < 2 * c; i++) {
        /* each condition's key, then its alternative's (or_key) */
        const char *key = i < c ? conds[i].key : conds[i - c].or_key;
        bool seen = !key;
        for (int k = 0; k < n && key; k++)
            seen = seen || !strcmp(keys[k], key);
        if (seen || n == max)
            continue;
        keys[n++] = key;
        n = sr_governing_keys(nl_schema_find(key), keys, n, max);
    }
    return n;
}

/* the governing keys of def that apply under cfg, as their values in cfg,
 * then def at `value`; returns the count */
static int sr_settings(const nl_key_def *def, const nl_config *cfg, const char *value,
                       sr_setting *s, int max)
{
    const char *keys[16];
    const int n_keys = sr_governing_keys(def, keys, 0, 16);
    int n = 0;
    for (int k = 0; k < n_keys && n < max - 1; k++) {
        const nl_key_def *on = nl_schema_find(keys[k]);
        /* a key at 0 that means "not set" is left out: given, 0 is refused */
        if (!nl_schema_applies(on, cfg) ||
            ((on->flags & NL_KF_ZERO_UNSET) && nl_schema_get_int(on, cfg) == 0))
            continue;
        char buf[256];
        snprintf(s[n].key, sizeof s[n].key, "%s", on->key);
        snprintf(s[n].value, sizeof s[n].value, "%s", nl_schema_format(on, cfg, buf, sizeof buf));
        n++;
    }
    snprintf(s[n].key, sizeof s[n].key, "%s", def->key);
    snprintf(s[n].value, sizeof s[n].value, "%s", value);
    return n + 1;
}

static int sr_by_key(const void *a, const void *b)
{
    return strcmp(((const sr_setting *)a)->key, ((const sr_setting *)b)->key);
}

/* the settings as nested YAML; returns the line (1-based) of `target` */
static int sr_write_yaml(sr_setting *s, int n, const char *target, char *out, size_t size)
{
    qsort(s, (size_t)n, sizeof *s, sr_by_key);
    size_t used = 0;
    int line = 0, target_line = 0;
    char prev[96] = "";
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        /* the components shared with the key before stay open */
        const char *k = s[i].key;
        int depth = 0;
        const char *p = k, *q = prev;
        while (1) {
            const char *pe = strchr(p, '.'), *qe = strchr(q, '.');
            if (!pe || !qe || pe - p != qe - q || strncmp(p, q, (size_t)(pe - p)) != 0)
                break;
            depth++;
            p = pe + 1;
            q = qe + 1;
        }
        for (const char *dot; (dot = strchr(p, '.')); p = dot + 1, depth++) {
            used += (size_t)snprintf(out + used, size - used, "%*s%.*s:\n", 2 * depth, "",
                                     (int)(dot - p), p);
            line++;
        }
        used += (size_t)snprintf(out + used, size - used, "%*s%s: %s\n", 2 * depth, "", p,
                                 s[i].value);
        line++;
        if (strcmp(k, target) == 0)
            target_line = line;
        nl_copy_string(prev, sizeof prev, k);
    }
    return target_line;
}

#endif
