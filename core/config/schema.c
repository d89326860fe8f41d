/* The per-key helpers of the config schema (its table is schema_table.c):
 * accepted values, value formatting, range checks, that parsing,
 * validation, the writer and the documentation share. */
#include "base/ident.h"
#include "config/schema.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arch/registry.h"
#include "data/registry.h"
#include "norm/formula.h"
#include "norm/registry.h"
#include "optim/optim.h"

const nl_key_def *nl_schema_find(const char *key)
{
    for (int i = 0; i < nl_config_schema_count; i++)
        if (strcmp(nl_config_schema[i].key, key) == 0)
            return &nl_config_schema[i];
    return NULL;
}

bool nl_schema_is_section(const char *path)
{
    size_t n = strlen(path);
    if (n == 0)
        return true;
    for (int i = 0; i < nl_config_schema_count; i++)
        if (strncmp(nl_config_schema[i].key, path, n) == 0 && nl_config_schema[i].key[n] == '.')
            return true;
    return false;
}

/* ---- field access ---- */

long long nl_schema_get_int(const nl_key_def *def, const nl_config *cfg)
{
    const void *p = nl_schema_cfield(cfg, def);
    if (def->size == sizeof(int)) {
        int v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    if (def->off == offsetof(nl_config, seed))
        return cfg->seed > (uint64_t)INT64_MAX ? -1 : (long long)cfg->seed;
    long v;
    memcpy(&v, p, sizeof v);
    return v;
}

void nl_schema_set_int(const nl_key_def *def, nl_config *cfg, long long value)
{
    void *p = nl_schema_field(cfg, def);
    if (def->size == sizeof(int)) {
        int v = (int)value;
        memcpy(p, &v, sizeof v);
    } else if (def->off == offsetof(nl_config, seed)) {
        cfg->seed = (uint64_t)value;
    } else {
        long v = (long)value;
        memcpy(p, &v, sizeof v);
    }
}

static int get_enum(const nl_key_def *def, const nl_config *cfg)
{
    if (def->type == NL_KT_BOOL) { /* a when_key: false 0, true 1 */
        bool b;
        memcpy(&b, nl_schema_cfield(cfg, def), sizeof b);
        return b;
    }
    int v;
    memcpy(&v, nl_schema_cfield(cfg, def), sizeof v);
    return v;
}

static float get_float(const nl_key_def *def, const nl_config *cfg)
{
    float v;
    memcpy(&v, nl_schema_cfield(cfg, def), sizeof v);
    return v;
}

static unsigned get_set(const nl_key_def *def, const nl_config *cfg)
{
    unsigned v;
    memcpy(&v, nl_schema_cfield(cfg, def), sizeof v);
    return v;
}

/* how many names a set holds */
static int set_size(unsigned bits)
{
    int n = 0;
    for (; bits; bits &= bits - 1)
        n++;
    return n;
}

static int get_count(const nl_key_def *def, const nl_config *cfg)
{
    int n;
    memcpy(&n, (const char *)cfg + def->count_off, sizeof n);
    return n;
}

/* ---- text ---- */

static const char *article(const char *word)
{
    return strchr("aeiouAEIOU", word[0]) ? "an" : "a";
}

static void fmt_bound(double x, bool is_int, char *buf, size_t size)
{
    /* seed's bound is (double)INT64_MAX = 2^63, one past what a long long
     * holds: converting it would be undefined, and %.0f prints it exactly */
    if (is_int && fabs(x) < 9e18)
        snprintf(buf, size, "%lld", (long long)x);
    else if (is_int)
        snprintf(buf, size, "%.0f", x);
    else
        snprintf(buf, size, "%g", x);
}

/* "an integer >= 1", "a number in [0, 1)", ... (noun "an integer" / "a number") */
static const char *range_text(const nl_key_def *def, const char *noun, bool is_int, char *buf,
                              size_t size)
{
    char lo[32], hi[32];
    fmt_bound(def->lo, is_int, lo, sizeof lo);
    fmt_bound(def->hi, is_int, hi, sizeof hi);
    const unsigned f = def->flags;
    /* the int64 ceiling of seed is not worth reading */
    const bool has_hi = (f & NL_KF_HI) && def->hi < 1e18;
    if ((f & NL_KF_LO) && has_hi)
        snprintf(buf, size, "%s in %c%s, %s%c", noun, (f & NL_KF_LO_OPEN) ? '(' : '[', lo, hi,
                 (f & NL_KF_HI_OPEN) ? ')' : ']');
    else if (f & NL_KF_LO)
        snprintf(buf, size, "%s %s %s", noun, (f & NL_KF_LO_OPEN) ? ">" : ">=", lo);
    else if (has_hi)
        snprintf(buf, size, "%s %s %s", noun, (f & NL_KF_HI_OPEN) ? "<" : "<=", hi);
    else
        snprintf(buf, size, "%s", noun);
    return buf;
}

const char *nl_schema_accepted(const nl_key_def *def, char *buf, size_t size)
{
    char inner[256];
    switch (def->type) {
    case NL_KT_INT:
        return range_text(def, "an integer", true, buf, size);
    case NL_KT_FLOAT:
        return range_text(def, "a number", false, buf, size);
    case NL_KT_BOOL:
        snprintf(buf, size, "true | false");
        return buf;
    case NL_KT_STRING:
        if (def->flags & NL_KF_RUN_NAME)
            snprintf(buf, size,
                     "a name of 1 to %zu letters, digits and . _ - + = , @ (not starting with . "
                     "or -)",
                     def->size - 1);
        else if (def->flags & NL_KF_NORM_LABEL)
            snprintf(buf, size,
                     "a name of 1 to %zu %s, and no built-in normalizer's name",
                     def->size - 1, NL_IDENT_ACCEPTED);
        else
            snprintf(buf, size, "a string of up to %zu bytes", def->size - 1);
        return buf;
    case NL_KT_ENUM:
        return nl_name_choices(def->names, buf, (int)size);
    case NL_KT_BIAS:
        snprintf(buf, size, "auto | true | false");
        return buf;
    case NL_KT_MOMENTUM:
        snprintf(buf, size, "%s, or cumulative (null) for a cumulative average",
                 range_text(def, "a number", false, inner, sizeof inner));
        return buf;
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST: {
        const bool is_int = def->type == NL_KT_INT_LIST;
        range_text(def, is_int ? "integers" : "numbers", is_int, inner, sizeof inner);
        char count[64];
        if (def->min_items == 0)
            snprintf(count, sizeof count, "up to %d", def->max_items);
        else if (def->min_items == def->max_items)
            snprintf(count, sizeof count, "%d", def->min_items);
        else
            snprintf(count, sizeof count, "%d to %d", def->min_items, def->max_items);
        snprintf(buf, size, "a list of %s %s%s", count,
                 (def->flags & NL_KF_INCREASING) ? "increasing " : "", inner);
        return buf;
    }
    case NL_KT_NAME_SET: {
        char count[64];
        if (def->min_items == def->max_items)
            snprintf(count, sizeof count, "%d", def->min_items);
        else
            snprintf(count, sizeof count, "%d to %d", def->min_items, def->max_items);
        snprintf(buf, size, "a list of %s of %s, each at most once", count,
                 nl_name_choices(def->names, inner, (int)sizeof inner));
        return buf;
    }
    case NL_KT_SHAPE:
        snprintf(buf, size, "[c, h, w] with c in [%g, %g] and h, w in [1, %d], or [d] with d in "
                 "[1, %d]", def->lo, def->hi, NL_SHAPE_MAX_SIDE, NL_SHAPE_MAX_FEATURES);
        return buf;
    }
    buf[0] = '\0';
    return buf;
}

const char *nl_schema_type_name(const nl_key_def *def)
{
    switch (def->type) {
    case NL_KT_INT:
        return "integer";
    case NL_KT_FLOAT:
        return "number";
    case NL_KT_BOOL:
        return "bool";
    case NL_KT_STRING:
        return "string";
    case NL_KT_ENUM:
        return "name";
    case NL_KT_BIAS:
        return "auto or bool";
    case NL_KT_MOMENTUM:
        return "number or cumulative";
    case NL_KT_INT_LIST:
        return "list of integers";
    case NL_KT_FLOAT_LIST:
        return "list of numbers";
    case NL_KT_NAME_SET:
        return "list of names";
    case NL_KT_SHAPE:
        return "list of integers";
    }
    return "?";
}

/* the enum or bool keys whose value a condition reads as a choice; any
 * other governing key is read as set or not */
static bool is_choice(const nl_key_def *on)
{
    return on->type == NL_KT_ENUM || on->type == NL_KT_BOOL;
}

/* one condition with its registry bits turned into a mask; `ruled` is the
 * key the rule is of (model.arch's mask is the rows that list it) */
static nl_key_when resolve_condition(const char *ruled, const nl_key_when *w)
{
    nl_key_when r = {.key = w->key, .mask = w->mask, .or_key = w->or_key, .or_mask = w->or_mask};
    r.lacks = w->lacks;
    r.reads = w->reads;
    r.or_reads_key = w->or_reads_key;
    r.or_reads = w->or_reads;
    r.why = w->why;
    if (w->or_norm_without) {
        r.or_key = "model.norm.type";
        r.or_mask = ((1u << NL_NORM_COUNT) - 1u) & ~nl_norm_kinds_with_keys(w->or_norm_without);
    }
    if (strcmp(w->key, "model.arch") == 0 && !w->mask)
        r.mask = nl_arch_kinds_with_key(ruled);
    /* the datasets whose rows (core/data/registry.h) list the key */
    else if (strcmp(w->key, "data.dataset") == 0 && !w->mask)
        r.mask = nl_dataset_kinds_with_key(ruled);
    else if (w->norm_keys)
        r.mask = nl_norm_kinds_with_keys(w->norm_keys);
    else if (w->optim_keys)
        r.mask = nl_optim_kinds_with_keys(w->optim_keys);
    return r;
}

int nl_schema_conditions(const nl_key_def *def, nl_key_when out[NL_SCHEMA_MAX_CONDITIONS])
{
    if (!def->when_key)
        return 0;
    const nl_key_when first = {.key = def->when_key,
                               .mask = def->when_mask,
                               .norm_keys = def->when_norm_keys,
                               .optim_keys = def->when_optim_keys};
    int n = 0;
    out[n++] = resolve_condition(def->key, &first);
    for (const nl_key_when *w = def->and_when; w && w->key && n < NL_SCHEMA_MAX_CONDITIONS; w++)
        out[n++] = resolve_condition(def->key, w);
    return n;
}

/* whether key's value has a bit in mask (a set: includes a name in mask,
 * or with `lacks` none of them; a number, list or string: is set) */
static bool key_holds(const char *key, unsigned mask, bool lacks, const nl_config *cfg)
{
    const nl_key_def *on = nl_schema_find(key);
    if (!on)
        return false;
    switch (on->type) {
    case NL_KT_NAME_SET: {
        const unsigned given = get_set(on, cfg);
        return (((given ? given : on->unset_names) & mask) != 0) != lacks;
    }
    case NL_KT_ENUM:
    case NL_KT_BOOL: {
        const int v = get_enum(on, cfg);
        return v >= 0 && v < 32 && (mask & NL_KEY_BIT(v));
    }
    case NL_KT_FLOAT:
        return get_float(on, cfg) != 0.0f;
    case NL_KT_STRING:
        return ((const char *)nl_schema_cfield(cfg, on))[0] != '\0';
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST:
        return get_count(on, cfg) > 0;
    default:
        return nl_schema_get_int(on, cfg) != 0;
    }
}

/* whether the string key's text names the word (a formula reads it) */
static bool key_reads(const char *key, const char *word, const nl_config *cfg)
{
    const nl_key_def *on = nl_schema_find(key);
    return on && on->type == NL_KT_STRING &&
           nl_formula_reads((const char *)nl_schema_cfield(cfg, on), word);
}

bool nl_schema_condition_holds(const nl_key_when *w, const nl_config *cfg)
{
    return (w->reads ? key_reads(w->key, w->reads, cfg) : key_holds(w->key, w->mask, w->lacks, cfg)) ||
           (w->or_reads && key_reads(w->or_reads_key, w->or_reads, cfg)) ||
           (w->or_key && key_holds(w->or_key, w->or_mask, false, cfg));
}

/* "KEY is A or B", "KEY is not C" (every value but one), "KEY is true",
 * "KEY is not 0", "KEY includes A or B", "KEY does not include A" */
static void key_condition_text(const char *key, unsigned mask, bool lacks, char *buf, size_t size)
{
    const nl_key_def *on = nl_schema_find(key);
    buf[0] = '\0';
    if (!on)
        return;
    if (on->type == NL_KT_NAME_SET) {
        int used = snprintf(buf, size, "%s %s ", key, lacks ? "does not include" : "includes");
        int shown = 0;
        for (int v = 0; v < on->names->count && used >= 0 && (size_t)used < size; v++)
            if (mask & NL_KEY_BIT(v))
                used += snprintf(buf + used, size - (size_t)used, "%s%s",
                                 shown++ ? (lacks ? " nor " : " or ") : "", nl_name_of(on->names, v));
        return;
    }
    if (on->type == NL_KT_BOOL) {
        snprintf(buf, size, "%s is %s", key, (mask & NL_KEY_BIT(1)) ? "true" : "false");
        return;
    }
    if (!is_choice(on)) {
        const char *set = on->type == NL_KT_STRING                   ? "is not \"\""
                          : on->type == NL_KT_INT_LIST ||
                                    on->type == NL_KT_FLOAT_LIST      ? "is not []"
                          : (on->flags & NL_KF_ZERO_UNSET)            ? "is set"
                                                                      : "is not 0";
        snprintf(buf, size, "%s %s", key, set);
        return;
    }
    int left_out = -1, n_left_out = 0;
    for (int v = 0; v < on->names->count; v++)
        if (!(mask & NL_KEY_BIT(v))) {
            left_out = v;
            n_left_out++;
        }
    if (n_left_out == 1 && on->names->count > 2) {
        snprintf(buf, size, "%s is not %s", key, nl_name_of(on->names, left_out));
        return;
    }
    int used = snprintf(buf, size, "%s is ", key);
    int shown = 0;
    for (int v = 0; v < on->names->count && used >= 0 && (size_t)used < size; v++)
        if (mask & NL_KEY_BIT(v))
            used += snprintf(buf + used, size - (size_t)used, "%s%s", shown++ ? " or " : "",
                             nl_name_of(on->names, v));
}

const char *nl_schema_condition_text(const nl_key_when *w, char *buf, size_t size)
{
    if (w->reads && w->or_reads)
        snprintf(buf, size, "%s reads %s or %s reads %s", w->key, w->reads, w->or_reads_key,
                 w->or_reads);
    else if (w->reads)
        snprintf(buf, size, "%s reads %s", w->key, w->reads);
    else
        key_condition_text(w->key, w->mask, w->lacks, buf, size);
    if (w->or_key) {
        const size_t used = strlen(buf);
        if (used + 6 < size) {
            memcpy(buf + used, " (or ", 6);
            key_condition_text(w->or_key, w->or_mask, false, buf + used + 5, size - used - 5);
            const size_t end = strlen(buf);
            if (end + 1 < size)
                memcpy(buf + end, ")", 2);
        }
    }
    return buf;
}

const char *nl_schema_when_text(const nl_key_def *def, char *buf, size_t size)
{
    nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
    const int n = nl_schema_conditions(def, conds);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        char one[256];
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " and " : "",
                                 nl_schema_condition_text(&conds[i], one, sizeof one));
    }
    return buf;
}

bool nl_schema_failing_condition(const nl_key_def *def, const nl_config *cfg,
                                 nl_key_when *failing)
{
    nl_key_when conds[NL_SCHEMA_MAX_CONDITIONS];
    const int n = nl_schema_conditions(def, conds);
    for (int i = 0; i < n; i++)
        if (!nl_schema_condition_holds(&conds[i], cfg)) {
            *failing = conds[i];
            return true;
        }
    return false;
}

bool nl_schema_applies(const nl_key_def *def, const nl_config *cfg)
{
    nl_key_when failing;
    return !nl_schema_failing_condition(def, cfg, &failing);
}

const char *nl_format_float(float value, char *buf, size_t size)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)value);
        if (strtof(buf, NULL) == value)
            break;
    }
    /* YAML 1.1 (PyYAML, and readers built on it) takes a float only with a
     * dot in the mantissa: "1e-05" would read as a string, "1.0e-05" as 1e-5 */
    char *e = strchr(buf, 'e');
    const size_t len = strlen(buf);
    if (e && !memchr(buf, '.', (size_t)(e - buf)) && len + 2 < size) {
        memmove(e + 2, e, len - (size_t)(e - buf) + 1);
        e[0] = '.';
        e[1] = '0';
    }
    return buf;
}

const char *nl_format_string(const char *value, char *buf, size_t size)
{
    size_t used = 0;
    if (size < 3) {
        buf[0] = '\0';
        return buf;
    }
    buf[used++] = '"';
    for (const unsigned char *p = (const unsigned char *)value; *p && used + 6 < size; p++) {
        if (*p == '"' || *p == '\\') {
            buf[used++] = '\\';
            buf[used++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            used += (size_t)snprintf(buf + used, size - used, "\\x%02x", *p);
        } else {
            buf[used++] = (char)*p; /* UTF-8 passes through */
        }
    }
    buf[used++] = '"';
    buf[used] = '\0';
    return buf;
}

const char *nl_schema_format(const nl_key_def *def, const nl_config *cfg, char *buf, size_t size)
{
    char num[64];
    switch (def->type) {
    case NL_KT_INT:
        if (def->off == offsetof(nl_config, seed))
            snprintf(buf, size, "%" PRIu64, cfg->seed);
        else
            snprintf(buf, size, "%lld", nl_schema_get_int(def, cfg));
        return buf;
    case NL_KT_FLOAT:
        return nl_format_float(get_float(def, cfg), buf, size);
    case NL_KT_BOOL: {
        bool b;
        memcpy(&b, nl_schema_cfield(cfg, def), sizeof b);
        snprintf(buf, size, "%s", b ? "true" : "false");
        return buf;
    }
    case NL_KT_STRING:
        return nl_format_string((const char *)nl_schema_cfield(cfg, def), buf, size);
    case NL_KT_ENUM:
        snprintf(buf, size, "%s", nl_name_of(def->names, get_enum(def, cfg)));
        return buf;
    case NL_KT_BIAS: {
        const int b = cfg->model.bias;
        snprintf(buf, size, "%s", b < 0 ? "auto" : b ? "true" : "false");
        return buf;
    }
    case NL_KT_MOMENTUM:
        if (cfg->model.norm.cumulative)
            snprintf(buf, size, "cumulative");
        else
            nl_format_float(cfg->model.norm.momentum, buf, size);
        return buf;
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST: {
        const int n = get_count(def, cfg);
        size_t used = (size_t)snprintf(buf, size, "[");
        for (int i = 0; i < n && i < def->max_items && used < size; i++) {
            const char *item;
            if (def->type == NL_KT_INT_LIST) {
                int v;
                memcpy(&v, (const char *)nl_schema_cfield(cfg, def) + (size_t)i * sizeof v,
                       sizeof v);
                snprintf(num, sizeof num, "%d", v);
                item = num;
            } else {
                float v;
                memcpy(&v, (const char *)nl_schema_cfield(cfg, def) + (size_t)i * sizeof v,
                       sizeof v);
                item = nl_format_float(v, num, sizeof num);
            }
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", item);
        }
        if (used < size)
            snprintf(buf + used, size - used, "]");
        return buf;
    }
    case NL_KT_NAME_SET:
        return nl_name_set_text(def->names, get_set(def, cfg), buf, size);
    case NL_KT_SHAPE: {
        const nl_data_spec *d = &cfg->data;
        if (d->synthetic_h == 1 && d->synthetic_w == 1)
            snprintf(buf, size, "[%d]", d->synthetic_c);
        else
            snprintf(buf, size, "[%d, %d, %d]", d->synthetic_c, d->synthetic_h, d->synthetic_w);
        return buf;
    }
    }
    buf[0] = '\0';
    return buf;
}

void nl_schema_copy(const nl_key_def *def, nl_config *dst, const nl_config *src)
{
    switch (def->type) {
    case NL_KT_SHAPE:
        dst->data.synthetic_c = src->data.synthetic_c;
        dst->data.synthetic_h = src->data.synthetic_h;
        dst->data.synthetic_w = src->data.synthetic_w;
        return;
    case NL_KT_MOMENTUM:
        dst->model.norm.momentum = src->model.norm.momentum;
        dst->model.norm.cumulative = src->model.norm.cumulative;
        return;
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST:
        memcpy((char *)dst + def->count_off, (const char *)src + def->count_off, sizeof(int));
        break;
    default:
        break;
    }
    memcpy(nl_schema_field(dst, def), nl_schema_cfield(src, def), def->size);
}

bool nl_schema_equal(const nl_key_def *def, const nl_config *a, const nl_config *b)
{
    char x[2048], y[2048];
    /* the formatted value is exact (floats round-trip, lists only their items) */
    return strcmp(nl_schema_format(def, a, x, sizeof x), nl_schema_format(def, b, y, sizeof y)) == 0;
}

static bool in_range(const nl_key_def *def, double v)
{
    const unsigned f = def->flags;
    if (f & NL_KF_LO) {
        if ((f & NL_KF_LO_OPEN) ? !(v > def->lo) : !(v >= def->lo))
            return false;
    }
    if (f & NL_KF_HI) {
        if ((f & NL_KF_HI_OPEN) ? !(v < def->hi) : !(v <= def->hi))
            return false;
    }
    return true;
}

static bool range_fail(const nl_key_def *def, const char *value, char *msg, size_t size)
{
    char acc[512];
    snprintf(msg, size, "%s is out of range; accepted: %s", value,
             nl_schema_accepted(def, acc, sizeof acc));
    return false;
}

bool nl_schema_check_string(const nl_key_def *def, const char *s, char *msg, size_t size)
{
    char acc[512], val[1024];
    if (strlen(s) >= def->size) {
        snprintf(msg, size, "the string is %zu bytes long; accepted: %s", strlen(s),
                 nl_schema_accepted(def, acc, sizeof acc));
        return false;
    }
    if ((def->flags & NL_KF_RUN_NAME) && !nl_run_name_ok(s)) {
        snprintf(msg, size, "%s is not a valid run name (it names the run directory); accepted: %s",
                 nl_format_string(s, val, sizeof val), nl_schema_accepted(def, acc, sizeof acc));
        return false;
    }
    if ((def->flags & NL_KF_NORM_LABEL) && s[0]) {
        if (!nl_ident_ok(s)) {
            snprintf(msg, size, "%s is not a normalizer's name (it labels legends, tables and CSV "
                     "cells); accepted: %s", nl_format_string(s, val, sizeof val),
                     nl_schema_accepted(def, acc, sizeof acc));
            return false;
        }
        /* the built-ins from the registry: a formula is the kind whose row
         * has NL_NORM_KEY_FORMULA, and takes its own kind's name */
        for (int k = 0; k < nl_norm_names.count; k++) {
            const char *builtin = nl_name_entry_at(&nl_norm_names, k)->name;
            if (!(nl_norm_info_of((nl_norm_kind)k)->keys & NL_NORM_KEY_FORMULA) &&
                !strcasecmp(s, builtin)) {
                snprintf(msg, size, "'%s' is the built-in normalizer %s's name: its curves, "
                         "table rows and legend entries would be taken for that normalizer's; "
                         "accepted: %s", s, builtin, nl_schema_accepted(def, acc, sizeof acc));
                return false;
            }
        }
    }
    return true;
}

/* the steps of nl_schema_check_value, one per key type: true when the
 * value is accepted, else the message in msg */

static bool check_int(const nl_key_def *def, const nl_config *cfg, char *msg, size_t size)
{
    char val[2048];
    bool ok;
    if (def->off == offsetof(nl_config, seed)) {
        /* unsigned: its upper bound, INT64_MAX, is past a long long's compare */
        ok = cfg->seed <= (uint64_t)INT64_MAX;
    } else {
        const long long v = nl_schema_get_int(def, cfg);
        ok = (v == 0 && (def->flags & NL_KF_ZERO_UNSET)) || in_range(def, (double)v);
    }
    return ok || range_fail(def, nl_schema_format(def, cfg, val, sizeof val), msg, size);
}

/* a float key, or model.norm.momentum's number (cumulative has none) */
static bool check_float(const nl_key_def *def, const nl_config *cfg, char *msg, size_t size)
{
    char val[2048];
    if (def->type == NL_KT_MOMENTUM && cfg->model.norm.cumulative)
        return true;
    const float v = def->type == NL_KT_MOMENTUM ? cfg->model.norm.momentum : get_float(def, cfg);
    if (!isfinite(v) || !in_range(def, v))
        return range_fail(def, nl_schema_format(def, cfg, val, sizeof val), msg, size);
    return true;
}

static bool check_string_field(const nl_key_def *def, const nl_config *cfg, char *msg,
                               size_t size)
{
    const char *s = (const char *)nl_schema_cfield(cfg, def);
    if (memchr(s, '\0', def->size) == NULL) {
        snprintf(msg, size, "the value is not terminated within %zu bytes", def->size);
        return false;
    }
    return nl_schema_check_string(def, s, msg, size);
}

static bool check_enum(const nl_key_def *def, const nl_config *cfg, char *msg, size_t size)
{
    const int v = get_enum(def, cfg);
    if (v < 0 || v >= def->names->count) {
        char acc[256];
        snprintf(msg, size, "%d is not %s %s; accepted: %s", v, article(def->names->what),
                 def->names->what, nl_schema_accepted(def, acc, sizeof acc));
        return false;
    }
    return true;
}

static bool check_bias(const nl_config *cfg, char *msg, size_t size)
{
    if (cfg->model.bias < -1 || cfg->model.bias > 1) {
        snprintf(msg, size, "%d is not a bias setting (-1 auto, 0 false, 1 true)", cfg->model.bias);
        return false;
    }
    return true;
}

/* item i of an int or float list key, as a double */
static double list_item(const nl_key_def *def, const nl_config *cfg, int i)
{
    const char *items = (const char *)nl_schema_cfield(cfg, def);
    if (def->type == NL_KT_INT_LIST) {
        int x;
        memcpy(&x, items + (size_t)i * sizeof x, sizeof x);
        return x;
    }
    float x;
    memcpy(&x, items + (size_t)i * sizeof x, sizeof x);
    return x;
}

static bool check_list(const nl_key_def *def, const nl_config *cfg, char *msg, size_t size)
{
    char acc[256], val[2048];
    const int n = get_count(def, cfg);
    if (n < def->min_items || n > def->max_items) {
        snprintf(msg, size, "%d items; accepted: %s", n, nl_schema_accepted(def, acc, sizeof acc));
        return false;
    }
    double prev = -INFINITY;
    for (int i = 0; i < n; i++) {
        const double v = list_item(def, cfg, i);
        if (!isfinite(v) || !in_range(def, v) ||
            ((def->flags & NL_KF_INCREASING) && !(v > prev))) {
            snprintf(msg, size, "%s: item %d (%g) is out of range; accepted: %s",
                     nl_schema_format(def, cfg, val, sizeof val), i, v,
                     nl_schema_accepted(def, acc, sizeof acc));
            return false;
        }
        prev = v;
    }
    return true;
}

/* every bit a name of the table, and as many names as the key takes (0:
 * not given, where the key allows it) */
static bool check_name_set(const nl_key_def *def, const nl_config *cfg, char *msg, size_t size)
{
    char acc[512];
    const unsigned bits = get_set(def, cfg);
    const unsigned names = def->names->count >= 32 ? ~0u : (1u << def->names->count) - 1u;
    const int n = set_size(bits);
    if ((bits & ~names) || ((n < def->min_items || n > def->max_items) &&
                            !(bits == 0 && (def->flags & NL_KF_ZERO_UNSET)))) {
        snprintf(msg, size, "0x%x (%d names) is not a set of %s; accepted: %s", bits, n,
                 def->names->what, nl_schema_accepted(def, acc, sizeof acc));
        return false;
    }
    return true;
}

static bool check_shape(const nl_key_def *def, const nl_config *cfg, char *msg, size_t size)
{
    char val[2048];
    const nl_data_spec *d = &cfg->data;
    /* [d] is stored as d x 1 x 1: feature vectors take the features'
     * limit, not the images' channel limit */
    const bool features = d->synthetic_h == 1 && d->synthetic_w == 1;
    const bool c_ok = features ? d->synthetic_c >= 1 && d->synthetic_c <= NL_SHAPE_MAX_FEATURES
                               : in_range(def, d->synthetic_c);
    if (!c_ok || d->synthetic_h < 1 || d->synthetic_w < 1 || d->synthetic_h > NL_SHAPE_MAX_SIDE ||
        d->synthetic_w > NL_SHAPE_MAX_SIDE)
        return range_fail(def, nl_schema_format(def, cfg, val, sizeof val), msg, size);
    return true;
}

bool nl_schema_check_value(const nl_key_def *def, const nl_config *cfg, char *msg, size_t size)
{
    switch (def->type) {
    case NL_KT_INT:
        return check_int(def, cfg, msg, size);
    case NL_KT_FLOAT:
    case NL_KT_MOMENTUM:
        return check_float(def, cfg, msg, size);
    case NL_KT_BOOL:
        return true;
    case NL_KT_STRING:
        return check_string_field(def, cfg, msg, size);
    case NL_KT_ENUM:
        return check_enum(def, cfg, msg, size);
    case NL_KT_BIAS:
        return check_bias(cfg, msg, size);
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST:
        return check_list(def, cfg, msg, size);
    case NL_KT_NAME_SET:
        return check_name_set(def, cfg, msg, size);
    case NL_KT_SHAPE:
        return check_shape(def, cfg, msg, size);
    }
    return true;
}

/* ---- per-key access for checks outside the config module ---- */

int nl_config_set_integer_keys(const nl_config *cfg, const char **keys, int max)
{
    int n = 0;
    for (int i = 0; i < nl_config_schema_count && n < max; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if ((def->type == NL_KT_INT || def->type == NL_KT_INT_LIST) &&
            nl_config_origin_of(cfg, def->key))
            keys[n++] = def->key;
    }
    return n;
}

bool nl_config_copy_key(nl_config *dst, const nl_config *src, const char *key)
{
    const nl_key_def *def = nl_schema_find(key);
    if (!def)
        return false;
    nl_schema_copy(def, dst, src);
    return true;
}

const char *nl_config_format_key(const nl_config *cfg, const char *key, char *buf, size_t size)
{
    const nl_key_def *def = nl_schema_find(key);
    if (!def) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    return nl_schema_format(def, cfg, buf, size);
}
