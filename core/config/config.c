/* Config loading: YAML (libyaml's document API, so every node carries its
 * line and column) walked against the schema in schema.c; --set overrides
 * through the same parsers; cross-key checks; the resolved-config writer.
 *
 * Order of a load: defaults, the file, the overrides, then resolve (derived
 * defaults such as the run name and the placement for resnet) and validate
 * (cross-key checks, nl_model_check). The first error wins. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config/schema.h"
#include "data/tokens.h"
#include "model/model.h"
#include "norm/registry.h"

#define MAX_CONFIG_BYTES (16u << 20)

/* ---- origins and warnings ---- */

const nl_config_origin *nl_config_origin_of(const nl_config *cfg, const char *key)
{
    for (int i = 0; i < cfg->n_origins; i++)
        if (strcmp(cfg->origins[i].key, key) == 0)
            return &cfg->origins[i];
    return NULL;
}

static bool from_set(const nl_config_origin *o) { return o && strcmp(o->source, "--set") == 0; }

const char *nl_config_where(const nl_config *cfg, const char *key, char *buf, int size)
{
    const nl_config_origin *o = nl_config_origin_of(cfg, key);
    if (!o)
        snprintf(buf, (size_t)size, "default");
    else if (from_set(o))
        snprintf(buf, (size_t)size, "--set %s", o->setting);
    else
        snprintf(buf, (size_t)size, "%s:%d:%d", o->source, o->line, o->column);
    return buf;
}

static void set_origin(nl_config *cfg, const char *key, const char *source, int line, int column,
                       const char *setting)
{
    nl_config_origin *o = (nl_config_origin *)nl_config_origin_of(cfg, key);
    if (!o) {
        if (cfg->n_origins >= NL_CONFIG_MAX_ORIGINS)
            return; /* cannot happen: the schema has far fewer keys */
        o = &cfg->origins[cfg->n_origins++];
    }
    memset(o, 0, sizeof *o);
    snprintf(o->key, sizeof o->key, "%s", key);
    snprintf(o->source, sizeof o->source, "%s", source);
    o->line = line;
    o->column = column;
    snprintf(o->setting, sizeof o->setting, "%s", setting ? setting : "");
}

static void drop_origin(nl_config *cfg, const char *key)
{
    const nl_config_origin *o = nl_config_origin_of(cfg, key);
    if (!o)
        return;
    const int i = (int)(o - cfg->origins);
    memmove(&cfg->origins[i], &cfg->origins[i + 1],
            (size_t)(cfg->n_origins - i - 1) * sizeof cfg->origins[0]);
    cfg->n_origins--;
}

__attribute__((format(printf, 2, 3))) static void add_warning(nl_config *cfg, const char *fmt, ...)
{
    if (cfg->n_warnings >= NL_CONFIG_MAX_WARNINGS)
        return;
    char msg[sizeof cfg->warnings[0]];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (int i = 0; i < cfg->n_warnings; i++)
        if (!strcmp(cfg->warnings[i], msg))
            return; /* validate may run more than once */
    memcpy(cfg->warnings[cfg->n_warnings++], msg, sizeof msg);
}

/* "file:line:col: key: ", "--set key=value: key: " or "key (default V): " */
static const char *key_prefix(const nl_config *cfg, const char *key, char *buf, size_t size)
{
    const nl_config_origin *o = nl_config_origin_of(cfg, key);
    const nl_key_def *def = nl_schema_find(key);
    if (o) {
        char where[800];
        nl_config_where(cfg, key, where, sizeof where);
        snprintf(buf, size, "%s: %s: ", where, key);
    } else if (def && cfg->source[0]) {
        char value[512];
        snprintf(buf, size, "%s (default %s): ", key, nl_schema_format(def, cfg, value, sizeof value));
    } else {
        snprintf(buf, size, "%s: ", key);
    }
    return buf;
}

static nl_code vkey_fail(const nl_config *cfg, nl_error *err, nl_code code, const char *key,
                         const char *fmt, va_list ap)
{
    char prefix[1024], msg[NL_ERROR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    key_prefix(cfg, key, prefix, sizeof prefix);
    nl_fail(err, code, "%s%s", prefix, msg);
    nl_error_key(err, key);
    return code;
}

__attribute__((format(printf, 4, 5))) static nl_code key_fail(const nl_config *cfg, nl_error *err,
                                                             const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nl_code code = vkey_fail(cfg, err, NL_ERR_CONFIG, key, fmt, ap);
    va_end(ap);
    return code;
}

nl_code nl_config_key_error(const nl_config *cfg, nl_error *err, nl_code code, const char *key,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    code = vkey_fail(cfg, err, code, key, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- defaults ---- */

void nl_config_defaults(nl_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "run");
    cfg->seed = 1;
    cfg->device = NL_DEVICE_CPU;
    cfg->threads = 0;
    cfg->flush_subnormals = true;
    nl_data_spec_defaults(&cfg->data);
    cfg->data.seed = cfg->seed;
    nl_model_spec_defaults(&cfg->model);
    nl_train_spec_defaults(&cfg->train);
}

/* ---- the YAML walker ---- */

typedef struct {
    nl_config *cfg;
    yaml_document_t *doc;
    const char *source;  /* the file name, or "--set" */
    const char *setting; /* for --set: the override as given */
    nl_error *err;
} loader;

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n)
{
    if (!is_plain(n))
        return false;
    const char *s = scalar(n);
    return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* a scalar's text for a message: at most 60 characters, control characters escaped */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && used + 8 < size; p++) {
        if (p - (const unsigned char *)s >= 60) {
            used += (size_t)snprintf(buf + used, size - used, "...");
            break;
        }
        if (*p < 0x20 || *p == 0x7f)
            used += (size_t)snprintf(buf + used, size - used, "\\x%02x", *p);
        else
            buf[used++] = (char)*p;
    }
    buf[used] = '\0';
    return buf;
}

/* what a node is, for "expected X, got Y" */
static const char *describe(const yaml_node_t *n, char *buf, size_t size)
{
    char text[128];
    if (n->type == YAML_MAPPING_NODE)
        snprintf(buf, size, "a mapping");
    else if (n->type == YAML_SEQUENCE_NODE)
        snprintf(buf, size, "a list");
    else if (is_null(n))
        snprintf(buf, size, "an empty value (null)");
    else if (!is_plain(n))
        snprintf(buf, size, "the quoted string \"%s\"", shown(scalar(n), text, sizeof text));
    else
        snprintf(buf, size, "'%s'", shown(scalar(n), text, sizeof text));
    return buf;
}

__attribute__((format(printf, 4, 5))) static nl_code fail_at(loader *L, const yaml_node_t *n,
                                                            const char *key, const char *fmt, ...)
{
    char where[800], msg[NL_ERROR_MSG_MAX];
    if (L->setting)
        snprintf(where, sizeof where, "--set %s", L->setting);
    else
        snprintf(where, sizeof where, "%s:%zu:%zu", L->source, n->start_mark.line + 1,
                 n->start_mark.column + 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nl_code code = nl_fail(L->err, NL_ERR_CONFIG, "%s: %s%s%s", where, key ? key : "",
                           key ? ": " : "", msg);
    if (key) {
        /* "model.widths[1]" is about the key model.widths */
        char path[96];
        snprintf(path, sizeof path, "%.*s", (int)strcspn(key, "["), key);
        nl_error_key(L->err, path);
    }
    return code;
}

static yaml_node_t *node_at(loader *L, int index) { return yaml_document_get_node(L->doc, index); }

/* ---- scalar parsers ---- */

static bool scan_float(const char *s, double *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (!strcasecmp(p, ".inf") || !strcasecmp(p, ".nan")) {
        *out = p[1] == 'n' || p[1] == 'N' ? NAN : (*s == '-' ? -INFINITY : INFINITY);
        return true;
    }
    if (!*s || strpbrk(s, "xXpP") || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end)
        return false;
    *out = v;
    return true;
}

enum { SCAN_OK, SCAN_NOT_NUMBER, SCAN_NOT_INTEGER, SCAN_OVERFLOW };

static int scan_int(const char *s, long long *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    bool digits = isdigit((unsigned char)*p);
    while (isdigit((unsigned char)*p))
        p++;
    if (digits && !*p) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE)
            return SCAN_OVERFLOW;
        *out = v;
        return SCAN_OK;
    }
    double d;
    return scan_float(s, &d) ? SCAN_NOT_INTEGER : SCAN_NOT_NUMBER;
}

static bool range_ok(const nl_key_def *def, double v)
{
    const unsigned f = def->flags;
    if ((f & NL_KF_LO) && ((f & NL_KF_LO_OPEN) ? !(v > def->lo) : !(v >= def->lo)))
        return false;
    if ((f & NL_KF_HI) && ((f & NL_KF_HI_OPEN) ? !(v < def->hi) : !(v <= def->hi)))
        return false;
    return true;
}

/* accepted values of one item of a list key (or of the key itself) */
static const char *item_accepted(const nl_key_def *def, nl_key_type type, char *buf, size_t size)
{
    nl_key_def item = *def;
    item.type = type;
    return nl_schema_accepted(&item, buf, size);
}

static nl_code parse_int(loader *L, const nl_key_def *def, const char *label, const yaml_node_t *n,
                         long long max, long long *out)
{
    char acc[512], what[256], text[128];
    item_accepted(def, NL_KT_INT, acc, sizeof acc);
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail_at(L, n, label, "expected an integer, got %s; accepted: %s",
                       describe(n, what, sizeof what), acc);
    if (!is_plain(n))
        return fail_at(L, n, label, "expected an integer, got %s (remove the quotes); accepted: %s",
                       describe(n, what, sizeof what), acc);
    const char *s = scalar(n);
    long long v = 0;
    switch (scan_int(s, &v)) {
    case SCAN_NOT_NUMBER:
        return fail_at(L, n, label, "expected an integer, got '%s'; accepted: %s",
                       shown(s, text, sizeof text), acc);
    case SCAN_NOT_INTEGER: {
        double d = 0;
        scan_float(s, &d);
        if (isfinite(d) && d == floor(d) && fabs(d) < 9e15)
            return fail_at(L, n, label, "%s is not an integer (YAML reads it as a float); write %.0f",
                           shown(s, text, sizeof text), d);
        return fail_at(L, n, label, "%s is not an integer; accepted: %s", shown(s, text, sizeof text),
                       acc);
    }
    case SCAN_OVERFLOW:
        /* the key's own limit, as its range says (the accepted text leaves
         * out seed's int64 ceiling, which only "too large" reads); a
         * negative number is below every key's lower bound */
        if (s[0] == '-' || ((def->flags & NL_KF_HI) && def->hi <= (double)max && def->hi < 1e18))
            return fail_at(L, n, label, "%s is out of range; accepted: %s",
                           shown(s, text, sizeof text), acc);
        return fail_at(L, n, label, "%s is too large (at most %lld)", shown(s, text, sizeof text),
                       max);
    default:
        break;
    }
    if (!range_ok(def, (double)v))
        return fail_at(L, n, label, "%s is out of range; accepted: %s", s, acc);
    if (v > max)
        return fail_at(L, n, label, "%s is too large (at most %lld)", s, max);
    *out = v;
    return NL_OK;
}

static nl_code parse_float(loader *L, const nl_key_def *def, const char *label,
                           const yaml_node_t *n, const char *extra, float *out)
{
    char acc[512], what[256], text[128];
    item_accepted(def, NL_KT_FLOAT, acc, sizeof acc);
    if (extra)
        snprintf(acc + strlen(acc), sizeof acc - strlen(acc), "%s", extra);
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail_at(L, n, label, "expected a number, got %s; accepted: %s",
                       describe(n, what, sizeof what), acc);
    if (!is_plain(n))
        return fail_at(L, n, label, "expected a number, got %s (remove the quotes); accepted: %s",
                       describe(n, what, sizeof what), acc);
    const char *s = shown(scalar(n), text, sizeof text);
    double v;
    if (!scan_float(scalar(n), &v))
        return fail_at(L, n, label, "expected a number, got '%s'; accepted: %s", s, acc);
    if (!isfinite(v))
        return fail_at(L, n, label, "%s is not a finite number; accepted: %s", s, acc);
    if (!range_ok(def, v))
        return fail_at(L, n, label, "%s is out of range; accepted: %s", s, acc);
    if (fabs(v) > FLT_MAX)
        return fail_at(L, n, label, "%s is too large for a 32-bit float; accepted: %s", s, acc);
    const float f = (float)v;
    if (!range_ok(def, f))
        return fail_at(L, n, label, "%s rounds to %g as a 32-bit float, which is out of range; "
                       "accepted: %s", s, (double)f, acc);
    *out = f;
    return NL_OK;
}

static nl_code parse_bool(loader *L, const nl_key_def *def, const char *label, const yaml_node_t *n,
                          bool *out)
{
    (void)def;
    char what[256];
    if (n->type == YAML_SCALAR_NODE && is_plain(n)) {
        const char *s = scalar(n);
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
            *out = true;
            return NL_OK;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
            *out = false;
            return NL_OK;
        }
        static const char *const yaml11[] = {"yes", "no", "on", "off", "y", "n",
                                             "Yes", "No", "On", "Off", "YES", "NO"};
        for (size_t i = 0; i < sizeof yaml11 / sizeof yaml11[0]; i++)
            if (!strcmp(s, yaml11[i]))
                return fail_at(L, n, label,
                               "'%s' is not a boolean here (YAML 1.1's yes/no/on/off are not "
                               "accepted); accepted: true | false",
                               s);
    }
    return fail_at(L, n, label, "expected true or false, got %s; accepted: true | false",
                   describe(n, what, sizeof what));
}

/* common other names, offered as suggestions (never accepted) */
static const struct {
    const char *word, *name;
} synonyms[] = {
    {"gpu", "cuda"},          {"bn", "batch"},          {"batchnorm", "batch"},
    {"ln", "layer"},          {"layernorm", "layer"},   {"gn", "group"},
    {"groupnorm", "group"},   {"in", "instance"},       {"instancenorm", "instance"},
    {"identity", "none"},     {"kaiming", "he"},        {"glorot", "xavier"},
    {"normal", "gaussian"},   {"average", "avg"},       {"mean", "avg"},
    {"multistep", "step"},    {"fmnist", "fashion-mnist"}, {"fashion_mnist", "fashion-mnist"},
    {"fashionmnist", "fashion-mnist"}, {"cifar", "cifar10"}, {"cifar-10", "cifar10"},
    {"preact", "pre"},        {"postact", "post"},      {"relu6", "relu"},
};

/* the enum value named by node n, or a did-you-mean error */
static nl_code parse_name(loader *L, const nl_name_table *table, const char *label,
                          const yaml_node_t *n, int *out)
{
    char acc[512], what[256], text[128], lower[128];
    nl_name_choices(table, acc, sizeof acc);
    const char *article = strchr("aeiou", table->what[0]) ? "an" : "a";
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail_at(L, n, label, "expected %s %s, got %s; accepted: %s", article, table->what,
                       describe(n, what, sizeof what), acc);
    const char *s = scalar(n);
    int v = nl_name_lookup(table, s);
    if (v >= 0) {
        *out = v;
        return NL_OK;
    }
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)tolower((unsigned char)s[i]);
    lower[i] = '\0';
    const char *guess = NULL;
    if (nl_name_lookup(table, lower) >= 0)
        guess = nl_name_of(table, nl_name_lookup(table, lower));
    for (size_t j = 0; !guess && j < sizeof synonyms / sizeof synonyms[0]; j++)
        if (!strcmp(lower, synonyms[j].word) && nl_name_lookup(table, synonyms[j].name) >= 0)
            guess = synonyms[j].name;
    if (!guess)
        guess = nl_closest_in_table(table, lower);
    return fail_at(L, n, label, "'%s' is not %s %s; accepted: %s%s%s%s", shown(s, text, sizeof text),
                   article, table->what, acc, guess ? " (did you mean '" : "", guess ? guess : "",
                   guess ? "'?)" : "");
}

static nl_code parse_string(loader *L, const nl_key_def *def, const char *label,
                            const yaml_node_t *n, char *out)
{
    char acc[512], what[256];
    nl_schema_accepted(def, acc, sizeof acc);
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail_at(L, n, label, "expected a string, got %s%s; accepted: %s",
                       describe(n, what, sizeof what),
                       n->type == YAML_SCALAR_NODE ? " (write \"\" for an empty string)" : "", acc);
    const char *s = scalar(n);
    if (strlen(s) != n->data.scalar.length)
        return fail_at(L, n, label, "the string contains a NUL character");
    char msg[1536];
    if (!nl_schema_check_string(def, s, msg, sizeof msg))
        return fail_at(L, n, label, "%s", msg);
    memcpy(out, s, strlen(s) + 1);
    return NL_OK;
}

/* a list node's items; a scalar that would be a valid item gets a hint */
static nl_code expect_list(loader *L, const nl_key_def *def, const yaml_node_t *n, int min_items,
                           int max_items, const char *what_list)
{
    char what[256];
    if (n->type == YAML_SEQUENCE_NODE) {
        const int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (count < min_items || count > max_items) {
            if (count == 0)
                return fail_at(L, n, def->key, "expected %s, got an empty list", what_list);
            return fail_at(L, n, def->key, "expected %s, got %d item%s", what_list, count,
                           count == 1 ? "" : "s");
        }
        return NL_OK;
    }
    if (n->type == YAML_SCALAR_NODE && is_plain(n) && !is_null(n)) {
        double d;
        if (scan_float(scalar(n), &d))
            return fail_at(L, n, def->key, "expected %s, got the single value %s (write [%s])",
                           what_list, scalar(n), scalar(n));
    }
    return fail_at(L, n, def->key, "expected %s, got %s", what_list, describe(n, what, sizeof what));
}

static nl_code parse_list(loader *L, const nl_key_def *def, const yaml_node_t *n, nl_config *cfg)
{
    char acc[512];
    nl_schema_accepted(def, acc, sizeof acc);
    nl_code code = expect_list(L, def, n, def->min_items, def->max_items, acc);
    if (code)
        return code;
    const int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    char *base = nl_schema_field(cfg, def);
    /* no stale items past the count: a list set twice (file, then --set)
     * must leave the same struct as the list set once */
    memset(base, 0, def->size);
    double prev = -INFINITY;
    for (int i = 0; i < count; i++) {
        const yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        char label[160];
        snprintf(label, sizeof label, "%s[%d]", def->key, i);
        double v;
        if (def->type == NL_KT_INT_LIST) {
            long long x;
            if ((code = parse_int(L, def, label, item, INT_MAX, &x)))
                return code;
            int iv = (int)x;
            memcpy(base + (size_t)i * sizeof iv, &iv, sizeof iv);
            v = (double)x;
        } else {
            float f;
            if ((code = parse_float(L, def, label, item, NULL, &f)))
                return code;
            memcpy(base + (size_t)i * sizeof f, &f, sizeof f);
            v = f;
        }
        if ((def->flags & NL_KF_INCREASING) && !(v > prev))
            return fail_at(L, item, label, "%s is not greater than the item before it (%g); "
                           "accepted: %s", scalar(item), prev, acc);
        prev = v;
    }
    memcpy((char *)cfg + def->count_off, &count, sizeof count);
    return NL_OK;
}

static nl_code parse_shape(loader *L, const nl_key_def *def, const yaml_node_t *n, nl_config *cfg)
{
    char acc[512];
    nl_schema_accepted(def, acc, sizeof acc);
    nl_code code = expect_list(L, def, n, 1, 3, acc);
    if (code)
        return code;
    const int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 2)
        return fail_at(L, n, def->key, "expected [c, h, w] (images) or [d] (feature vectors), got "
                       "2 items");
    int dims[3] = {1, 1, 1};
    for (int i = 0; i < count; i++) {
        const yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        char label[160];
        snprintf(label, sizeof label, "%s[%d]", def->key, i);
        nl_key_def dim = *def;
        dim.type = NL_KT_INT;
        dim.flags = NL_KF_LO;
        /* channels (or features) first, then height and width */
        const int most = count == 1 ? NL_SHAPE_MAX_FEATURES : NL_SHAPE_MAX_CHANNELS;
        /* past any integer: the generator's limit, not the storage's */
        long long x;
        if (is_plain(item) && scalar(item)[0] != '-' &&
            scan_int(scalar(item), &x) == SCAN_OVERFLOW) {
            char text[128];
            return fail_at(L, item, label, "%s is more than the synthetic generator makes (at "
                           "most %d); accepted: %s", shown(scalar(item), text, sizeof text),
                           i == 0 ? most : NL_SHAPE_MAX_SIDE, acc);
        }
        if ((code = parse_int(L, &dim, label, item, LLONG_MAX, &x)))
            return code;
        if (i == 0 && x > most)
            return fail_at(L, item, label, "%lld %s is more than the synthetic generator makes "
                           "(at most %d); accepted: %s", x, count == 1 ? "features" : "channels",
                           most, acc);
        if (i > 0 && x > NL_SHAPE_MAX_SIDE)
            return fail_at(L, item, label, "%lld is more than the synthetic generator makes (at "
                           "most %d); accepted: %s", x, NL_SHAPE_MAX_SIDE, acc);
        dims[i] = (int)x;
    }
    cfg->data.synthetic_c = dims[0];
    cfg->data.synthetic_h = dims[1];
    cfg->data.synthetic_w = dims[2];
    return NL_OK;
}

static nl_code parse_momentum(loader *L, const nl_key_def *def, const yaml_node_t *n, nl_config *cfg)
{
    const char *extra = ", or cumulative (null) for a cumulative average";
    if (is_null(n) || (n->type == YAML_SCALAR_NODE && !strcmp(scalar(n), "cumulative"))) {
        cfg->model.norm.cumulative = true;
        return NL_OK;
    }
    if (n->type == YAML_SCALAR_NODE) {
        double d;
        if (!scan_float(scalar(n), &d) && nl_edit_distance(scalar(n), "cumulative") <= 3) {
            char acc[512], text[128];
            item_accepted(def, NL_KT_FLOAT, acc, sizeof acc);
            return fail_at(L, n, def->key, "'%s' is not a momentum; accepted: %s%s (did you mean "
                           "'cumulative'?)", shown(scalar(n), text, sizeof text), acc, extra);
        }
    }
    float m;
    nl_code code = parse_float(L, def, def->key, n, extra, &m);
    if (code)
        return code;
    cfg->model.norm.momentum = m;
    cfg->model.norm.cumulative = false;
    return NL_OK;
}

static nl_code parse_bias(loader *L, const nl_key_def *def, const yaml_node_t *n, nl_config *cfg)
{
    char what[256];
    if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
        const char *s = scalar(n);
        if (!strcmp(s, "auto")) {
            cfg->model.bias = -1;
            return NL_OK;
        }
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
            cfg->model.bias = 1;
            return NL_OK;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
            cfg->model.bias = 0;
            return NL_OK;
        }
        char text[128];
        return fail_at(L, n, def->key, "'%s' is not a bias setting; accepted: auto | true | false",
                       shown(s, text, sizeof text));
    }
    return fail_at(L, n, def->key, "expected auto, true or false, got %s; accepted: auto | true | "
                   "false", describe(n, what, sizeof what));
}

/* parses node n into cfg for key def and records where it came from */
static nl_code set_key(loader *L, const nl_key_def *def, const yaml_node_t *n)
{
    nl_config *cfg = L->cfg;
    nl_code code = NL_OK;
    switch (def->type) {
    case NL_KT_INT: {
        long long v;
        const long long max = def->size == sizeof(int) ? INT_MAX : LLONG_MAX;
        if (!(code = parse_int(L, def, def->key, n, max, &v)))
            nl_schema_set_int(def, cfg, v);
        break;
    }
    case NL_KT_FLOAT:
        code = parse_float(L, def, def->key, n, NULL, (float *)nl_schema_field(cfg, def));
        break;
    case NL_KT_BOOL:
        code = parse_bool(L, def, def->key, n, (bool *)nl_schema_field(cfg, def));
        break;
    case NL_KT_STRING:
        code = parse_string(L, def, def->key, n, (char *)nl_schema_field(cfg, def));
        break;
    case NL_KT_ENUM: {
        int v;
        if (!(code = parse_name(L, def->names, def->key, n, &v)))
            memcpy(nl_schema_field(cfg, def), &v, sizeof v);
        break;
    }
    case NL_KT_BIAS:
        code = parse_bias(L, def, n, cfg);
        break;
    case NL_KT_MOMENTUM:
        code = parse_momentum(L, def, n, cfg);
        break;
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST:
        code = parse_list(L, def, n, cfg);
        break;
    case NL_KT_SHAPE:
        code = parse_shape(L, def, n, cfg);
        break;
    }
    if (code)
        return code;
    if (L->setting)
        set_origin(cfg, def->key, "--set", 0, 0, L->setting);
    else
        set_origin(cfg, def->key, L->source, (int)n->start_mark.line + 1,
                   (int)n->start_mark.column + 1, NULL);
    return NL_OK;
}

/* ---- unknown keys ---- */

/* names that look like keys but are not, with what to do instead */
static const struct {
    const char *key, *hint;
} not_keys[] = {
    {"data.seed", "not a key: the synthetic data and the data order come from the top-level seed"},
    {"model.in_c", "not a key: the input shape comes from the dataset (data.shape for synthetic)"},
    {"model.in_h", "not a key: the input shape comes from the dataset (data.shape for synthetic)"},
    {"model.in_w", "not a key: the input shape comes from the dataset (data.shape for synthetic)"},
    {"model.classes", "not a key: the class count comes from the dataset (data.classes for "
                      "synthetic)"},
    {"data.kind", "not a key: the dataset is named by data.dataset"},
    {"model.norm.kind", "not a key: the normalizer is named by model.norm.type"},
    {"model.norm.num_groups", "not a key: the group count is model.norm.groups"},
    {"train.optimizer.name", "not a key: the optimizer is named by train.optimizer.type"},
};

/* the direct children of a section: "arch | widths | ... | norm" */
static int children(const char *prefix, char buf[][48], const char **names, int max)
{
    const size_t n = strlen(prefix);
    int count = 0;
    for (int i = 0; i < nl_config_schema_count && count < max; i++) {
        const char *key = nl_config_schema[i].key;
        if (n && (strncmp(key, prefix, n) != 0 || key[n] != '.'))
            continue;
        const char *rest = n ? key + n + 1 : key;
        size_t len = strcspn(rest, ".");
        char name[48];
        snprintf(name, sizeof name, "%.*s", (int)len, rest);
        bool seen = false;
        for (int j = 0; j < count; j++)
            seen = seen || !strcmp(names[j], name);
        if (!seen) {
            snprintf(buf[count], sizeof buf[count], "%s", name);
            names[count] = buf[count];
            count++;
        }
    }
    return count;
}

static const char *last_component(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

/* nl_closest_name, and for longer key names up to two edits ("widht" -> "widths") */
static const char *closest(const char *word, const char *const *names, int count)
{
    const char *g = nl_closest_name(word, names, count);
    if (g || strlen(word) < 5)
        return g;
    int best = 3;
    for (int i = 0; i < count; i++) {
        const int d = nl_edit_distance(word, names[i]);
        if (d < best) {
            best = d;
            g = names[i];
        }
    }
    return g;
}

/* keys elsewhere in the schema whose last component is (close to) `name` */
static void suggest_elsewhere(const char *name, const char *full, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *matches[4];
    int count = 0;
    for (int pass = 0; pass < 2 && count == 0; pass++) {
        for (int i = 0; i < nl_config_schema_count && count < 4; i++) {
            const char *key = nl_config_schema[i].key;
            if (!strcmp(key, full))
                continue;
            const char *leaf = last_component(key);
            const bool hit = pass == 0 ? !strcmp(leaf, name)
                                       : nl_closest_name(name, &leaf, 1) != NULL &&
                                             strlen(name) >= 4;
            if (hit)
                matches[count++] = key;
        }
    }
    size_t used = 0;
    for (int i = 0; i < count && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s'%s'",
                                 i == 0 ? "" : i == count - 1 ? " or " : ", ", matches[i]);
}

static nl_code unknown_key(loader *L, const yaml_node_t *at, const char *prefix, const char *name,
                           const char *full, bool whole_paths)
{
    for (size_t i = 0; i < sizeof not_keys / sizeof not_keys[0]; i++)
        if (!strcmp(not_keys[i].key, full))
            return fail_at(L, at, full, "%s", not_keys[i].hint);
    char guess[512] = "";
    if (whole_paths) {
        const char *all[160];
        int n = 0;
        for (int i = 0; i < nl_config_schema_count && n < 160; i++)
            all[n++] = nl_config_schema[i].key;
        const char *g = nl_closest_name(full, all, n);
        if (g)
            snprintf(guess, sizeof guess, "'%s'", g);
        else
            suggest_elsewhere(last_component(full), full, guess, sizeof guess);
        return fail_at(L, at, full, "unknown key%s%s%s; see configs/README.md for the keys",
                       guess[0] ? " (did you mean " : "", guess, guess[0] ? "?)" : "");
    }
    const char *sib[64];
    char sib_buf[64][48];
    const int n = children(prefix, sib_buf, sib, 64);
    const char *g = closest(name, sib, n);
    char accepted[1024];
    size_t used = 0;
    accepted[0] = '\0';
    for (int i = 0; i < n && used < sizeof accepted; i++)
        used += (size_t)snprintf(accepted + used, sizeof accepted - used, "%s%s", i ? " | " : "",
                                 sib[i]);
    char where[200];
    if (prefix[0])
        snprintf(where, sizeof where, "in %s", prefix);
    else
        snprintf(where, sizeof where, "at the top level");
    if (g) {
        snprintf(guess, sizeof guess, "'%s'", g);
    } else {
        char elsewhere[400];
        suggest_elsewhere(name, full, elsewhere, sizeof elsewhere);
        if (elsewhere[0])
            snprintf(guess, sizeof guess, "%s", elsewhere);
    }
    return fail_at(L, at, full, "unknown key%s%s%s; accepted %s: %s",
                   guess[0] ? " (did you mean " : "", guess, guess[0] ? "?)" : "", where, accepted);
}

static nl_code load_mapping(loader *L, const yaml_node_t *map, const char *prefix, int depth)
{
    const yaml_node_pair_t *start = map->data.mapping.pairs.start;
    const int n = (int)(map->data.mapping.pairs.top - start);
    for (int i = 0; i < n; i++) {
        const yaml_node_t *k = node_at(L, start[i].key), *v = node_at(L, start[i].value);
        char what[256], full[256];
        if (k->type != YAML_SCALAR_NODE)
            return fail_at(L, k, prefix[0] ? prefix : NULL, "keys must be names, got %s",
                           describe(k, what, sizeof what));
        const char *name = scalar(k);
        snprintf(full, sizeof full, "%s%s%s", prefix, prefix[0] ? "." : "", name);
        for (int j = 0; j < i; j++) {
            const yaml_node_t *other = node_at(L, start[j].key);
            if (other->type == YAML_SCALAR_NODE && !strcmp(scalar(other), name))
                return fail_at(L, k, full, "duplicate key (first given at line %zu, column %zu); "
                               "each key may appear once", other->start_mark.line + 1,
                               other->start_mark.column + 1);
        }
        const nl_key_def *def = nl_schema_find(full);
        nl_code code;
        if (def) {
            code = set_key(L, def, v);
        } else if (name[0] && nl_schema_is_section(full) && depth < 4) {
            if (is_null(v))
                continue; /* "model:" with every key commented out */
            if (v->type != YAML_MAPPING_NODE) {
                const char *sub[64];
                char sub_buf[64][48];
                const int m = children(full, sub_buf, sub, 64);
                char keys[1024];
                size_t used = 0;
                keys[0] = '\0';
                for (int j = 0; j < m && used < sizeof keys; j++)
                    used += (size_t)snprintf(keys + used, sizeof keys - used, "%s%s", j ? ", " : "",
                                             sub[j]);
                return fail_at(L, v, full, "expected a mapping of %s keys (%s), got %s", full, keys,
                               describe(v, what, sizeof what));
            }
            code = load_mapping(L, v, full, depth + 1);
        } else {
            code = unknown_key(L, k, prefix, name, full, false);
        }
        if (code)
            return code;
    }
    return NL_OK;
}

/* ---- parsing text ---- */

static nl_code yaml_error(const yaml_parser_t *p, const char *source, const char *setting,
                          const char *text, nl_error *err)
{
    char where[800];
    if (p->error == YAML_MEMORY_ERROR)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory while parsing %s", source);
    if (p->error == YAML_READER_ERROR) {
        if (setting)
            return nl_fail(err, NL_ERR_CONFIG, "--set %s: the value is not valid text: %s", setting,
                           p->problem);
        return nl_fail(err, NL_ERR_CONFIG, "%s: not valid text at byte %zu: %s (configs must be "
                       "UTF-8)", source, p->problem_offset, p->problem);
    }
    if (setting)
        snprintf(where, sizeof where, "--set %s: the value is not valid YAML", setting);
    else
        snprintf(where, sizeof where, "%s:%zu:%zu: YAML syntax error", source,
                 p->problem_mark.line + 1, p->problem_mark.column + 1);
    char context[300] = "";
    if (p->context && !setting)
        snprintf(context, sizeof context, " (%s at line %zu, column %zu)", p->context,
                 p->context_mark.line + 1, p->context_mark.column + 1);
    const char *hint = "";
    if (text && p->problem_mark.index < strlen(text) && text[p->problem_mark.index] == '\t')
        hint = "; YAML does not allow tabs for indentation, use spaces";
    return nl_fail(err, NL_ERR_CONFIG, "%s: %s%s%s", where, p->problem ? p->problem : "?", context,
                   hint);
}

nl_code nl_yaml_screen(const char *text, size_t length, const char *source, const char *setting,
                       nl_error *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory while parsing %s", source);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
    nl_code code = NL_OK;
    int depth = 0;
    /* per open collection: a mapping whose next scalar is a key, and the
     * last key read (what a NUL error names) */
    struct {
        bool mapping, at_key;
        char key[64];
    } open[NL_YAML_MAX_DEPTH + 2] = {{0}};
    for (bool done = false; !done && !code;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev))
            break; /* the loader reports syntax errors with its own context */
        const yaml_char_t *tag = NULL;
        const bool in_map = depth > 0 && depth <= NL_YAML_MAX_DEPTH && open[depth].mapping;
        const bool is_key = in_map && open[depth].at_key;
        if (in_map && (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
                       ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_ALIAS_EVENT))
            open[depth].at_key = !open[depth].at_key;
        switch (ev.type) {
        case YAML_SCALAR_EVENT:
            tag = ev.data.scalar.tag;
            if (is_key)
                snprintf(open[depth].key, sizeof open[depth].key, "%s", ev.data.scalar.value);
            break;
        case YAML_SEQUENCE_START_EVENT:
            tag = ev.data.sequence_start.tag;
            depth++;
            if (depth <= NL_YAML_MAX_DEPTH)
                open[depth].mapping = false;
            break;
        case YAML_MAPPING_START_EVENT:
            tag = ev.data.mapping_start.tag;
            depth++;
            if (depth <= NL_YAML_MAX_DEPTH)
                open[depth].mapping = open[depth].at_key = true, open[depth].key[0] = '\0';
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        char where[800];
        if (setting)
            snprintf(where, sizeof where, "--set %s", setting);
        else
            snprintf(where, sizeof where, "%s:%zu:%zu", source, ev.start_mark.line + 1,
                     ev.start_mark.column + 1);
        if (depth > NL_YAML_MAX_DEPTH)
            code = nl_fail(err, NL_ERR_CONFIG, "%s: nested more than %d levels deep; a config "
                           "needs a few", where, NL_YAML_MAX_DEPTH);
        else if (ev.type == YAML_SCALAR_EVENT &&
                 strlen((const char *)ev.data.scalar.value) != ev.data.scalar.length) {
            /* a "\0" escape: every name and key would be read up to it, so
             * "batch\0x" would pass as batch and "data\0x" as data; named
             * by the dotted key it belongs to */
            char path[400] = "";
            for (int d = 1; d <= depth && d <= NL_YAML_MAX_DEPTH; d++)
                if (open[d].mapping && open[d].key[0] && (d < depth || !is_key))
                    snprintf(path + strlen(path), sizeof path - strlen(path), "%s%s",
                             path[0] ? "." : "", open[d].key);
            code = nl_fail(err, NL_ERR_CONFIG, "%s: %s%s%s contains a NUL character (\\0); "
                           "keys and values are text", where, path, path[0] ? ": " : "",
                           is_key ? "a key" : "the value");
        } else if (tag) {
            /* shown as written: !!str rather than tag:yaml.org,2002:str */
            const char *shown_tag = (const char *)tag, *core = "tag:yaml.org,2002:";
            const bool short_form = !strncmp(shown_tag, core, strlen(core));
            code = nl_fail(err, NL_ERR_CONFIG, "%s: YAML tags such as '%s%.40s' are not "
                           "accepted: a value's type comes from its key (write 16 for a number, "
                           "\"16\" for a string)", where, short_form ? "!!" : "",
                           short_form ? shown_tag + strlen(core) : shown_tag);
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return code;
}

/* ---- overrides ---- */

static nl_code apply_override(nl_config *cfg, const char *text, nl_error *err)
{
    const char *eq = strchr(text, '=');
    if (!eq)
        return nl_fail(err, NL_ERR_CONFIG, "--set %s: expected key=value, e.g. --set "
                       "train.batch_size=64 or --set model.widths=[32,64]", text);
    char key[256];
    const char *k0 = text, *k1 = eq;
    while (k0 < k1 && isspace((unsigned char)*k0))
        k0++;
    while (k1 > k0 && isspace((unsigned char)k1[-1]))
        k1--;
    if (k1 == k0)
        return nl_fail(err, NL_ERR_CONFIG, "--set %s: the key before '=' is missing", text);
    snprintf(key, sizeof key, "%.*s", (int)(k1 - k0), k0);
    const char *value = eq + 1;

    nl_code screened = nl_yaml_screen(value, strlen(value), "--set", text, err);
    if (screened)
        return screened;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory while parsing --set %s", text);
    yaml_parser_set_input_string(&parser, (const unsigned char *)value, strlen(value));
    if (!yaml_parser_load(&parser, &doc)) {
        nl_code code = yaml_error(&parser, "--set", text, NULL, err);
        yaml_parser_delete(&parser);
        return code;
    }
    yaml_parser_delete(&parser);
    loader L = {cfg, &doc, "--set", text, err};
    yaml_node_t empty;
    memset(&empty, 0, sizeof empty);
    empty.type = YAML_SCALAR_NODE;
    empty.data.scalar.value = (yaml_char_t *)"";
    empty.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        root = &empty;

    nl_code code;
    const nl_key_def *def = nl_schema_find(key);
    if (def) {
        code = set_key(&L, def, root);
    } else if (nl_schema_is_section(key)) {
        char what[256];
        if (root->type != YAML_MAPPING_NODE)
            code = fail_at(&L, root, key, "expected a mapping of %s keys (e.g. {a: 1, b: 2}), "
                           "got %s", key, describe(root, what, sizeof what));
        else
            code = load_mapping(&L, root, key, 1);
    } else {
        code = unknown_key(&L, root, "", key, key, true);
    }
    yaml_document_delete(&doc);
    if (code)
        return code;
    /* an override of epochs or steps replaces the other one given in the file */
    static const char *const length_keys[2] = {"train.epochs", "train.steps"};
    for (int i = 0; i < 2; i++) {
        const nl_config_origin *other = nl_config_origin_of(cfg, length_keys[1 - i]);
        if (def && !strcmp(key, length_keys[i]) && other && !from_set(other)) {
            nl_schema_set_int(nl_schema_find(length_keys[1 - i]), cfg, 0);
            drop_origin(cfg, length_keys[1 - i]);
        }
    }
    return NL_OK;
}

/* ---- resolve: derived defaults, applied after the file and the overrides ---- */

static nl_code check_epochs_steps(nl_config *cfg, nl_error *err)
{
    const nl_config_origin *e = nl_config_origin_of(cfg, "train.epochs");
    const nl_config_origin *s = nl_config_origin_of(cfg, "train.steps");
    if (e && s) {
        /* point at whichever was given later */
        const bool steps_later = from_set(s) || (!from_set(e) && (s->line > e->line ||
                                                                  (s->line == e->line &&
                                                                   s->column > e->column)));
        const char *later = steps_later ? "train.steps" : "train.epochs";
        const char *first = steps_later ? "train.epochs" : "train.steps";
        char where[800];
        return key_fail(cfg, err, later, "both train.epochs and train.steps are given (%s at %s); "
                        "give exactly one", first, nl_config_where(cfg, first, where, sizeof where));
    }
    return NL_OK;
}

/* The first line nl_config_write gives a resolved config. */
#define RESOLVED_HEADER "# normlab resolved config"

/* `resolved_file`: the config is a config.yaml normlab wrote, whose keys a
 * later normlab may no longer apply where they stood (an earlier version
 * wrote eps and affine for every normalizer, though none and dyt never read
 * them). Such a key had no effect when it was written, so it is dropped with
 * a warning rather than making the user's finished runs unreadable. */
static nl_code resolve(nl_config *cfg, bool resolved_file, nl_error *err)
{
    nl_code code = check_epochs_steps(cfg, err);
    if (code)
        return code;
    if (nl_config_origin_of(cfg, "train.steps"))
        cfg->train.epochs = 0;

    /* a key that no longer applies because a --set override switched what it
     * depends on (say --set model.arch=mlp on a cnn config with pool: avg) is
     * dropped with a warning; inside one file it stays an error (validate) */
    nl_config *defaults = malloc(sizeof *defaults);
    if (!defaults)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory resolving the config");
    nl_config_defaults(defaults);
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        const nl_config_origin *o = nl_config_origin_of(cfg, def->key);
        if (!def->when_key || !o || from_set(o) || nl_schema_applies(def, cfg))
            continue;
        const nl_config_origin *on = nl_config_origin_of(cfg, def->when_key);
        char when[256];
        if (from_set(on))
            add_warning(cfg, "%s:%d:%d: %s: ignored: it applies only when %s, and --set %s "
                        "changed that", o->source, o->line, o->column, def->key,
                        nl_schema_when_text(def, when, sizeof when), on->setting);
        else if (resolved_file)
            add_warning(cfg, "%s:%d:%d: %s: ignored: it applies only when %s (this resolved "
                        "config was written by an earlier normlab, where it had no effect)",
                        o->source, o->line, o->column, def->key,
                        nl_schema_when_text(def, when, sizeof when));
        else
            continue;
        nl_schema_copy(def, cfg, defaults);
        drop_origin(cfg, def->key);
    }
    free(defaults);

    /* the default text corpus is written into the build directory, which
     * differs from checkout to checkout: the resolved config leaves it
     * unnamed (""), which the data layer opens as the build's own, so a
     * config.yaml means the same run in every checkout (and a sweep's
     * committed runs stay finished there). The image datasets' defaults are
     * the system's fixed directories. */
    if ((!nl_config_origin_of(cfg, "data.path") || !cfg->data.path[0]) &&
        cfg->data.kind != NL_DATA_TEXT)
        snprintf(cfg->data.path, sizeof cfg->data.path, "%s", nl_data_default_path(cfg->data.kind));
    if (!nl_config_origin_of(cfg, "model.norm.placement"))
        cfg->model.norm.placement = nl_model_spec_default_placement(&cfg->model);
    /* the optimizer's own defaults (PyTorch's AdamW: lr 0.001, weight decay
     * 0.01) where the config does not say, and its state in the model plan */
    const nl_optim_info *optim = nl_optim_info_of(cfg->train.optimizer.kind);
    if (!nl_config_origin_of(cfg, "train.optimizer.lr"))
        cfg->train.optimizer.lr = optim->default_lr;
    if (!nl_config_origin_of(cfg, "train.optimizer.weight_decay"))
        cfg->train.optimizer.weight_decay = optim->default_weight_decay;
    cfg->model.optimizer_state_slots = optim->state_slots;
    if (!nl_config_origin_of(cfg, "model.norm.track_running_stats")) {
        nl_norm_spec d;
        nl_norm_spec_defaults(&d, cfg->model.norm.kind);
        cfg->model.norm.track_running_stats = d.track_running_stats;
    }
    return NL_OK;
}

/* the default run name: the source's basename without .yaml, made a valid name */
static void default_name(const char *source, char *name, size_t size)
{
    const char *base = strrchr(source, '/');
    base = base ? base + 1 : source;
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".yaml"))
        len -= 5;
    else if (len > 4 && !strcmp(base + len - 4, ".yml"))
        len -= 4;
    if (len >= size)
        len = size - 1;
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        const char c = base[i];
        const bool ok = isalnum((unsigned char)c) || strchr("._-+=,@", c);
        if (out == 0 && (c == '.' || c == '-' || !ok))
            continue;
        name[out++] = ok ? c : '_';
    }
    name[out] = '\0';
    if (!out)
        snprintf(name, size, "run");
}

static nl_code load_text(const char *text, size_t length, const char *source,
                         const char *const *overrides, int n_overrides, nl_config *out,
                         nl_error *err)
{
    nl_config_defaults(out);
    snprintf(out->source, sizeof out->source, "%s", source);
    default_name(source, out->name, sizeof out->name);

    nl_code screened = nl_yaml_screen(text, length, source, NULL, err);
    if (screened)
        return screened;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory while parsing %s", source);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
    if (!yaml_parser_load(&parser, &doc)) {
        nl_code code = yaml_error(&parser, source, NULL, text, err);
        yaml_parser_delete(&parser);
        return code;
    }
    nl_code code = NL_OK;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        code = nl_fail(err, NL_ERR_CONFIG, "%s: the config is empty; expected a mapping of keys "
                       "such as data:, model: and train: (see configs/README.md)", source);
    } else {
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            code = yaml_error(&parser, source, NULL, text, err);
        } else {
            yaml_node_t *second = yaml_document_get_root_node(&next);
            if (second)
                code = nl_fail(err, NL_ERR_CONFIG, "%s:%zu:%zu: a second YAML document starts "
                               "here; a config is one document", source,
                               next.start_mark.line + 1, next.start_mark.column + 1);
            yaml_document_delete(&next);
        }
    }
    yaml_parser_delete(&parser);
    if (!code && root->type != YAML_MAPPING_NODE) {
        char what[256];
        loader L = {out, &doc, source, NULL, err};
        code = fail_at(&L, root, NULL, "expected a mapping of keys at the top level (name:, "
                       "data:, model:, train: ...), got %s", describe(root, what, sizeof what));
    }
    if (!code) {
        loader L = {out, &doc, source, NULL, err};
        code = load_mapping(&L, root, "", 0);
    }
    yaml_document_delete(&doc);
    if (!code)
        code = check_epochs_steps(out, err);
    for (int i = 0; i < n_overrides && !code; i++)
        code = apply_override(out, overrides[i], err);
    if (!code)
        code = resolve(out, length >= sizeof RESOLVED_HEADER - 1 &&
                                !memcmp(text, RESOLVED_HEADER, sizeof RESOLVED_HEADER - 1),
                      err);
    if (!code)
        code = nl_config_validate(out, err);
    return code;
}

nl_code nl_config_load_string(const char *text, const char *source, const char *const *overrides,
                              int n_overrides, nl_config *out, nl_error *err)
{
    return load_text(text, strlen(text), source ? source : "<string>", overrides, n_overrides,
                     out, err);
}

nl_code nl_config_load(const char *path, const char *const *overrides, int n_overrides,
                       nl_config *out, nl_error *err)
{
    /* a path that names nothing readable is bad input (exit 2), like a bad
     * key; only the OS failing a read of a real file is a run-time failure */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return nl_fail(err, NL_ERR_CONFIG, "cannot read config '%s': it is a directory, not a "
                       "YAML file", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        const int e = errno;
        const bool bad_input = e == ENOENT || e == ENOTDIR || e == EACCES || e == ENAMETOOLONG ||
                               e == ELOOP;
        return nl_fail(err, bad_input ? NL_ERR_CONFIG : NL_ERR_IO, "cannot read config '%s': %s",
                       path, strerror(e));
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    nl_code code = NL_OK;
    while (text) {
        if (len + 1 >= cap) {
            if (cap >= MAX_CONFIG_BYTES) {
                code = nl_fail(err, NL_ERR_CONFIG, "%s: the file is larger than %u MiB; is it "
                               "really a config?", path, MAX_CONFIG_BYTES >> 20);
                break;
            }
            char *bigger = realloc(text, cap * 2);
            if (!bigger) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            cap *= 2;
        }
        size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                code = nl_fail(err, NL_ERR_IO, "cannot read config '%s': %s", path,
                               strerror(errno ? errno : EIO));
            break;
        }
    }
    fclose(f);
    if (!text)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory reading config '%s'", path);
    if (code) {
        free(text);
        return code;
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        return nl_fail(err, NL_ERR_CONFIG, "%s: the file contains NUL bytes; is it really a "
                       "YAML config?", path);
    }
    code = load_text(text, len, path, overrides, n_overrides, out, err);
    free(text);
    return code;
}

/* ---- validation ---- */

static void derive(nl_config *cfg)
{
    nl_data_spec *d = &cfg->data;
    nl_model_spec *m = &cfg->model;
    d->seed = cfg->seed;
    switch (d->kind) {
    case NL_DATA_FASHION_MNIST:
    case NL_DATA_MNIST:
        m->in_c = 1, m->in_h = 28, m->in_w = 28, m->classes = 10;
        break;
    case NL_DATA_CIFAR10:
        m->in_c = 3, m->in_h = 32, m->in_w = 32, m->classes = 10;
        break;
    /* a token model's classes are its vocabulary: a text's characters are
     * known only once it is read (the run sets them), 256 bounds them */
    case NL_DATA_TEXT:
        m->classes = 256;
        break;
    case NL_DATA_SYNTHETIC_TEXT:
        m->classes = d->markov_vocab;
        break;
    case NL_DATA_SYNTHETIC:
    default:
        m->in_c = d->synthetic_c, m->in_h = d->synthetic_h, m->in_w = d->synthetic_w;
        m->classes = d->synthetic_classes;
        break;
    }
}

/* a builder message starts "model: ..." or "layer x: ..."; drop the "model: " */
static const char *strip_model(const char *msg)
{
    return strncmp(msg, "model: ", 7) == 0 ? msg + 7 : msg;
}

nl_code nl_config_validate(nl_config *cfg, nl_error *err)
{
    char msg[1536], where[800], when[256], value[512];
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if (!nl_schema_check_value(def, cfg, msg, sizeof msg))
            return key_fail(cfg, err, def->key, "%s", msg);
    }
    derive(cfg);

    /* keys given where they do not apply */
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if (!def->when_key || !nl_config_origin_of(cfg, def->key) || nl_schema_applies(def, cfg))
            continue;
        const nl_key_def *on = nl_schema_find(def->when_key);
        nl_config_where(cfg, on->key, where, sizeof where);
        return key_fail(cfg, err, def->key, "applies only when %s, but %s is '%s' (%s); remove %s "
                        "or change %s", nl_schema_when_text(def, when, sizeof when), on->key,
                        nl_schema_format(on, cfg, value, sizeof value), where,
                        last_component(def->key), on->key);
    }

    /* the token datasets' keys together (the chain's branching against its
     * vocabulary, its table's size) */
    if (nl_dataset_kind_is_tokens(cfg->data.kind)) {
        nl_error data_err = {0};
        if (nl_token_spec_check(&cfg->data, &data_err) != NL_OK)
            return key_fail(cfg, err, data_err.key[0] ? data_err.key : "data.dataset", "%s",
                            data_err.msg);
    }

    const nl_train_spec *t = &cfg->train;
    if (t->epochs > 0 && t->steps > 0)
        return key_fail(cfg, err, "train.steps", "both train.epochs (%ld) and train.steps (%ld) are "
                        "set; give exactly one", t->epochs, t->steps);
    if (t->epochs <= 0 && t->steps <= 0)
        return key_fail(cfg, err, "train.epochs", "neither train.epochs nor train.steps is set; "
                        "give exactly one");

    const nl_optim_spec *o = &t->optimizer;
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
        const bool no_momentum = o->momentum <= 0;
        const char *other = no_momentum ? "train.optimizer.momentum" : "train.optimizer.dampening";
        return key_fail(cfg, err, "train.optimizer.nesterov", "true needs momentum > 0 and "
                        "dampening 0 (as in PyTorch), but %s is %g (%s)", last_component(other),
                        no_momentum ? (double)o->momentum : (double)o->dampening,
                        nl_config_where(cfg, other, where, sizeof where));
    }
    const nl_schedule_spec *s = &t->schedule;
    if (s->kind == NL_SCHED_STEP && s->n_milestones == 0)
        return key_fail(cfg, err, "train.schedule.type", "step needs train.schedule.milestones, "
                        "the steps at which the learning rate is multiplied by gamma");
    if (s->kind == NL_SCHED_COSINE && s->min_lr > o->lr)
        return key_fail(cfg, err, "train.schedule.min_lr", "%g is above the base learning rate "
                        "train.optimizer.lr %g (%s); cosine decays from lr down to min_lr",
                        (double)s->min_lr, (double)o->lr,
                        nl_config_where(cfg, "train.optimizer.lr", where, sizeof where));
    if (t->steps > 0 && s->warmup_steps >= t->steps)
        add_warning(cfg, "train.schedule.warmup_steps %d covers all %ld steps; the run never "
                    "reaches the base learning rate's schedule", s->warmup_steps, t->steps);
    /* milestones past the run's last step: nl_run_check, which knows the
     * run's length also when it is given in epochs */

    /* token datasets count tokens in train_size and test_size, not samples */
    const bool samples = !nl_dataset_kind_is_tokens(cfg->data.kind);
    if (samples && cfg->data.train_size > 0 && t->batch_size > cfg->data.train_size)
        return key_fail(cfg, err, "train.batch_size", "%d is larger than data.train_size %ld "
                        "(%s); training drops incomplete batches, so no step would run",
                        t->batch_size, cfg->data.train_size,
                        nl_config_where(cfg, "data.train_size", where, sizeof where));
    if (samples && t->trace.activation[0] && cfg->data.test_size > 0 &&
        t->trace.samples > cfg->data.test_size)
        add_warning(cfg, "train.trace.samples %d is more than data.test_size %ld; the trace uses "
                    "all %ld test samples", t->trace.samples, cfg->data.test_size,
                    cfg->data.test_size);

    /* token models and token datasets go together */
    if (nl_model_spec_tokens(&cfg->model) != nl_dataset_kind_is_tokens(cfg->data.kind)) {
        char token_kinds[128];
        int used = 0;
        token_kinds[0] = '\0';
        for (int k = 0; k < NL_DATA_COUNT; k++)
            if (nl_dataset_kind_is_tokens((nl_dataset_kind)k))
                used += snprintf(token_kinds + used, sizeof token_kinds - (size_t)used, "%s%s",
                                 used ? " | " : "", nl_name_of(&nl_dataset_names, k));
        if (nl_model_spec_tokens(&cfg->model))
            return key_fail(cfg, err, "model.arch", "'%s' reads token sequences, but data.dataset "
                            "%s has images or feature vectors; accepted datasets: %s",
                            nl_name_of(&nl_arch_names, cfg->model.arch),
                            nl_name_of(&nl_dataset_names, cfg->data.kind), token_kinds);
        return key_fail(cfg, err, "data.dataset", "'%s' yields token sequences, but model.arch "
                        "'%s' takes images or feature vectors; token datasets (%s) need "
                        "model.arch %s", nl_name_of(&nl_dataset_names, cfg->data.kind),
                        nl_name_of(&nl_arch_names, cfg->model.arch), token_kinds,
                        nl_name_of(&nl_arch_names, NL_ARCH_LM));
    }

    /* QK-norm puts model.norm.type on each head's query and key: with a
     * kind that adds no layer it would silently do nothing */
    if (cfg->model.qk_norm && !nl_norm_info_of(cfg->model.norm.kind)->adds_layer)
        return key_fail(cfg, err, "model.qk_norm", "true needs a normalizer for the queries and "
                        "keys, but model.norm.type is %s (%s); name one with model.norm.type "
                        "(e.g. layer, as in Wortsman et al. 2023; with model.norm.placement none "
                        "it normalizes only q and k), or set model.qk_norm false",
                        nl_name_of(&nl_norm_names, cfg->model.norm.kind),
                        nl_config_where(cfg, "model.norm.type", where, sizeof where));

    nl_error model_err = {0};
    if (nl_model_check(&cfg->model, t->batch_size, &model_err) != NL_OK) {
        const char *key = model_err.key[0] ? model_err.key : "model";
        char prefix[1024];
        if (model_err.key[0])
            key_prefix(cfg, key, prefix, sizeof prefix);
        else
            snprintf(prefix, sizeof prefix, "%s: model: ", cfg->source[0] ? cfg->source : "config");
        nl_code code = nl_fail(err, model_err.code == NL_ERR_NOMEM ? NL_ERR_NOMEM : NL_ERR_CONFIG,
                               "%s%s", prefix, strip_model(model_err.msg));
        nl_error_key(err, key);
        return code;
    }
    return NL_OK;
}

/* ---- writing ---- */

/* number of leading dotted components two keys' sections share */
static int split(const char *key, char parts[][48], int max)
{
    int n = 0;
    while (*key && n < max) {
        size_t len = strcspn(key, ".");
        snprintf(parts[n++], 48, "%.*s", (int)len, key);
        key += len + (key[len] == '.');
    }
    return n;
}

nl_code nl_config_write(const nl_config *cfg, FILE *out, nl_error *err)
{
    char prev[8][48], cur[8][48], value[2048], when[256];
    int n_prev = 0;
    fprintf(out, RESOLVED_HEADER "%s%s: every key, defaults filled in\n",
            cfg->source[0] ? " of " : "", cfg->source);
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        const int n = split(def->key, cur, 8);
        int common = 0;
        while (common < n - 1 && common < n_prev - 1 && !strcmp(cur[common], prev[common]))
            common++;
        for (int s = common; s < n - 1; s++)
            fprintf(out, "%*s%s:\n", 2 * s, "", cur[s]);
        const int indent = 2 * (n - 1);
        const char *leaf = cur[n - 1];
        if ((def->flags & NL_KF_ZERO_UNSET) && nl_schema_get_int(def, cfg) == 0)
            fprintf(out, "%*s# %s: not set\n", indent, "", leaf);
        else if (!nl_schema_applies(def, cfg))
            fprintf(out, "%*s# %s: %s  # applies only when %s\n", indent, "", leaf,
                    nl_schema_format(def, cfg, value, sizeof value),
                    nl_schema_when_text(def, when, sizeof when));
        else
            fprintf(out, "%*s%s: %s\n", indent, "", leaf,
                    nl_schema_format(def, cfg, value, sizeof value));
        memcpy(prev, cur, sizeof cur);
        n_prev = n;
    }
    if (fflush(out) != 0 || ferror(out))
        return nl_fail(err, NL_ERR_IO, "writing the resolved config: %s", strerror(errno));
    return NL_OK;
}

/* ---- documentation ---- */

int nl_config_key_count(void) { return nl_config_schema_count; }

const char *nl_config_key_name(int i)
{
    return i >= 0 && i < nl_config_schema_count ? nl_config_schema[i].key : NULL;
}

/* a table cell: '|' escaped */
static void cell(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputc('\\', out);
        fputc(*p, out);
    }
}

void nl_config_write_key_table(FILE *out)
{
    nl_config *d = malloc(sizeof *d);
    if (!d)
        return;
    nl_config_defaults(d);
    char value[2048], acc[512], when[256];
    fprintf(out, "| key | type | default | accepted | meaning |\n");
    fprintf(out, "|---|---|---|---|---|\n");
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        fprintf(out, "| `%s` | %s | ", def->key, nl_schema_type_name(def));
        if (def->default_doc) {
            cell(out, def->default_doc);
        } else if (def->off == offsetof(nl_config, data.path)) {
            fprintf(out, "the dataset's default (");
            for (int k = 0; k < NL_DATA_COUNT; k++)
                if (nl_data_default_path_doc(k)[0]) {
                    fprintf(out, "%s: `", nl_name_of(&nl_dataset_names, k));
                    cell(out, nl_data_default_path_doc(k));
                    fprintf(out, "`; ");
                }
            fprintf(out, "none for the others)");
        } else {
            fprintf(out, "`");
            cell(out, nl_schema_format(def, d, value, sizeof value));
            fprintf(out, "`");
        }
        fprintf(out, " | ");
        cell(out, nl_schema_accepted(def, acc, sizeof acc));
        fprintf(out, " | ");
        cell(out, def->doc);
        if (def->when_key) {
            fprintf(out, " (only when ");
            cell(out, nl_schema_when_text(def, when, sizeof when));
            fprintf(out, ")");
        }
        fprintf(out, " |\n");
    }
    free(d);
}
