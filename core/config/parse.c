/* Config parsing: YAML text (the shared walker, config/yamldoc.h: every
 * node has its line and column) read against the schema (schema.h), and
 * --set overrides through the same readers. Each key's value is checked as
 * it is read and its origin recorded (file:line:col, or the override), so
 * that errors found later still point at the line. A load then hands the
 * config to resolve.c. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/internal.h"
#include "log/files.h"
#include "config/schema.h"
#include "config/yamldoc.h"

#define MAX_CONFIG_BYTES (16u << 20)

/* a config being read from one YAML document */
typedef struct {
    nl_config *cfg;
    nl_yaml_doc *y;
} loader;

/* ---- scalars, as the schema's key types ---- */

static nl_yaml_range range_of(const nl_key_def *def)
{
    const unsigned f = def->flags;
    return (nl_yaml_range){.has_lo = f & NL_KF_LO, .lo_open = f & NL_KF_LO_OPEN,
                           .has_hi = f & NL_KF_HI, .hi_open = f & NL_KF_HI_OPEN,
                           .lo = def->lo, .hi = def->hi};
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
    char acc[512];
    const nl_yaml_range range = range_of(def);
    return nl_yaml_read_int(L->y, n, label, &range, item_accepted(def, NL_KT_INT, acc, sizeof acc),
                            max, out);
}

/* a number stored as a 32-bit float: in range also once rounded */
static nl_code parse_float(loader *L, const nl_key_def *def, const char *label,
                           const yaml_node_t *n, const char *extra, float *out)
{
    char acc[512], text[128];
    item_accepted(def, NL_KT_FLOAT, acc, sizeof acc);
    if (extra)
        snprintf(acc + strlen(acc), sizeof acc - strlen(acc), "%s", extra);
    const nl_yaml_range range = range_of(def);
    double v;
    nl_code code = nl_yaml_read_number(L->y, n, label, &range, acc, &v);
    if (code)
        return code;
    const char *s = nl_yaml_shown(nl_yaml_scalar(n), text, sizeof text);
    if (fabs(v) > FLT_MAX)
        return nl_yaml_fail(L->y, n, label, "%s is too large for a 32-bit float; accepted: %s", s,
                            acc);
    const float f = (float)v;
    if (!nl_yaml_in_range(&range, f))
        return nl_yaml_fail(L->y, n, label, "%s rounds to %g as a 32-bit float, which is out of "
                            "range; accepted: %s", s, (double)f, acc);
    *out = f;
    return NL_OK;
}

static nl_code parse_string(loader *L, const nl_key_def *def, const char *label,
                            const yaml_node_t *n, char *out)
{
    char acc[512], msg[1536];
    const char *s;
    nl_code code =
        nl_yaml_read_string(L->y, n, label, nl_schema_accepted(def, acc, sizeof acc), &s);
    if (code)
        return code;
    if (!nl_schema_check_string(def, s, msg, sizeof msg))
        return nl_yaml_fail(L->y, n, label, "%s", msg);
    memcpy(out, s, strlen(s) + 1);
    return NL_OK;
}

static nl_code expect_list(loader *L, const nl_key_def *def, const yaml_node_t *n, int min_items,
                           int max_items, const char *what_list)
{
    char what[256];
    if (n->type == YAML_SEQUENCE_NODE) {
        const int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (count < min_items || count > max_items) {
            if (count == 0)
                return nl_yaml_fail(L->y, n, def->key, "expected %s, got an empty list", what_list);
            return nl_yaml_fail(L->y, n, def->key, "expected %s, got %d item%s", what_list, count,
                                count == 1 ? "" : "s");
        }
        return NL_OK;
    }
    if (n->type == YAML_SCALAR_NODE && nl_yaml_is_plain(n) && !nl_yaml_is_null(n)) {
        double d;
        if (nl_yaml_scan_float(nl_yaml_scalar(n), &d))
            return nl_yaml_fail(L->y, n, def->key,
                                "expected %s, got the single value %s (write [%s])", what_list,
                                nl_yaml_scalar(n), nl_yaml_scalar(n));
    }
    return nl_yaml_fail(L->y, n, def->key, "expected %s, got %s", what_list,
                        nl_yaml_describe(n, what, sizeof what));
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
        const yaml_node_t *item = nl_yaml_node(L->y, n->data.sequence.items.start[i]);
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
            return nl_yaml_fail(L->y, item, label,
                                "%s is not greater than the item before it (%g); "
                                "accepted: %s",
                                nl_yaml_scalar(item), prev, acc);
        prev = v;
    }
    memcpy((char *)cfg + def->count_off, &count, sizeof count);
    return NL_OK;
}

/* a list of names, each at most once, into the key's bits; a single name
 * is refused with the list to write instead */
static nl_code parse_name_set(loader *L, const nl_key_def *def, const yaml_node_t *n,
                              nl_config *cfg)
{
    char acc[512], text[128];
    nl_schema_accepted(def, acc, sizeof acc);
    if (n->type == YAML_SCALAR_NODE && !nl_yaml_is_null(n) &&
        nl_name_lookup(def->names, nl_yaml_scalar(n)) >= 0)
        return nl_yaml_fail(L->y, n, def->key, "expected %s, got the single name %s (write [%s])",
                            acc, nl_yaml_shown(nl_yaml_scalar(n), text, sizeof text),
                            nl_yaml_shown(nl_yaml_scalar(n), text, sizeof text));
    nl_code code = expect_list(L, def, n, def->min_items, def->max_items, acc);
    if (code)
        return code;
    const int count = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    unsigned bits = 0;
    for (int i = 0; i < count; i++) {
        const yaml_node_t *item = nl_yaml_node(L->y, n->data.sequence.items.start[i]);
        char label[160];
        snprintf(label, sizeof label, "%s[%d]", def->key, i);
        int v;
        if ((code = nl_yaml_read_name(L->y, item, label, def->names, &v)))
            return code;
        if (bits & (1u << v))
            return nl_yaml_fail(L->y, item, label, "%s is given twice; accepted: %s",
                                nl_name_of(def->names, v), acc);
        bits |= 1u << v;
    }
    memcpy(nl_schema_field(cfg, def), &bits, sizeof bits);
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
        return nl_yaml_fail(L->y, n, def->key,
                            "expected [c, h, w] (images) or [d] (feature vectors), got "
                            "2 items");
    int dims[3] = {1, 1, 1};
    for (int i = 0; i < count; i++) {
        const yaml_node_t *item = nl_yaml_node(L->y, n->data.sequence.items.start[i]);
        char label[160];
        snprintf(label, sizeof label, "%s[%d]", def->key, i);
        nl_key_def dim = *def;
        dim.type = NL_KT_INT;
        dim.flags = NL_KF_LO;
        /* channels (or features) first, then height and width */
        const int most = count == 1 ? NL_SHAPE_MAX_FEATURES : NL_SHAPE_MAX_CHANNELS;
        /* past any integer: the generator's limit, not the storage's */
        long long x;
        if (nl_yaml_is_plain(item) && nl_yaml_scalar(item)[0] != '-' &&
            nl_yaml_scan_int(nl_yaml_scalar(item), &x) == NL_YAML_SCAN_OVERFLOW) {
            char text[128];
            return nl_yaml_fail(L->y, item, label,
                                "%s is more than the synthetic generator makes (at "
                                "most %d); accepted: %s",
                                nl_yaml_shown(nl_yaml_scalar(item), text, sizeof text),
                                i == 0 ? most : NL_SHAPE_MAX_SIDE, acc);
        }
        if ((code = parse_int(L, &dim, label, item, LLONG_MAX, &x)))
            return code;
        if (i == 0 && x > most)
            return nl_yaml_fail(L->y, item, label,
                                "%lld %s is more than the synthetic generator makes "
                                "(at most %d); accepted: %s",
                                x, count == 1 ? "features" : "channels", most, acc);
        if (i > 0 && x > NL_SHAPE_MAX_SIDE)
            return nl_yaml_fail(L->y, item, label,
                                "%lld is more than the synthetic generator makes (at "
                                "most %d); accepted: %s",
                                x, NL_SHAPE_MAX_SIDE, acc);
        dims[i] = (int)x;
    }
    cfg->data.synthetic_c = dims[0];
    cfg->data.synthetic_h = dims[1];
    cfg->data.synthetic_w = dims[2];
    return NL_OK;
}

static nl_code parse_momentum(loader *L, const nl_key_def *def, const yaml_node_t *n,
                              nl_config *cfg)
{
    const char *extra = ", or cumulative (null) for a cumulative average";
    if (nl_yaml_is_null(n) ||
        (n->type == YAML_SCALAR_NODE && !strcmp(nl_yaml_scalar(n), "cumulative"))) {
        cfg->model.norm.cumulative = true;
        return NL_OK;
    }
    if (n->type == YAML_SCALAR_NODE) {
        double d;
        if (!nl_yaml_scan_float(nl_yaml_scalar(n), &d) &&
            nl_edit_distance(nl_yaml_scalar(n), "cumulative") <= 3) {
            char acc[512], text[128];
            item_accepted(def, NL_KT_FLOAT, acc, sizeof acc);
            return nl_yaml_fail(L->y, n, def->key,
                                "'%s' is not a momentum; accepted: %s%s (did you mean "
                                "'cumulative'?)",
                                nl_yaml_shown(nl_yaml_scalar(n), text, sizeof text), acc, extra);
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
    if (n->type == YAML_SCALAR_NODE && !nl_yaml_is_null(n)) {
        const char *s = nl_yaml_scalar(n);
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
        return nl_yaml_fail(L->y, n, def->key,
                            "'%s' is not a bias setting; accepted: auto | true | false",
                            nl_yaml_shown(s, text, sizeof text));
    }
    return nl_yaml_fail(L->y, n, def->key,
                        "expected auto, true or false, got %s; accepted: auto | true | "
                        "false",
                        nl_yaml_describe(n, what, sizeof what));
}

/* the key types that one function reads whole, from the key, the node and the config */
typedef nl_code (*whole_parser)(loader *L, const nl_key_def *def, const yaml_node_t *n,
                                nl_config *cfg);
static const whole_parser whole_parsers[NL_KT_SHAPE + 1] = {
    [NL_KT_BIAS] = parse_bias,         [NL_KT_MOMENTUM] = parse_momentum,
    [NL_KT_INT_LIST] = parse_list,     [NL_KT_FLOAT_LIST] = parse_list,
    [NL_KT_NAME_SET] = parse_name_set, [NL_KT_SHAPE] = parse_shape};

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
        code = nl_yaml_read_bool(L->y, n, def->key, (bool *)nl_schema_field(cfg, def));
        break;
    case NL_KT_STRING:
        code = parse_string(L, def, def->key, n, (char *)nl_schema_field(cfg, def));
        break;
    case NL_KT_ENUM: {
        int v;
        if (!(code = nl_yaml_read_name(L->y, n, def->key, def->names, &v)))
            memcpy(nl_schema_field(cfg, def), &v, sizeof v);
        break;
    }
    case NL_KT_BIAS:
    case NL_KT_MOMENTUM:
    case NL_KT_INT_LIST:
    case NL_KT_FLOAT_LIST:
    case NL_KT_NAME_SET:
    case NL_KT_SHAPE:
        code = whole_parsers[def->type](L, def, n, cfg);
        break;
    }
    if (code)
        return code;
    if (L->y->setting)
        nl_cfg_set_origin(cfg, def->key, "--set", 0, 0, L->y->setting);
    else
        nl_cfg_set_origin(cfg, def->key, L->y->source, nl_yaml_line(n), nl_yaml_column(n), NULL);
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

/* keys elsewhere in the schema whose last component is (close to) `name` */
static void suggest_elsewhere(const char *name, const char *full, char *buf, size_t size)
{
    const char *all[NL_CONFIG_MAX_ORIGINS];
    int n = 0;
    for (int i = 0; i < nl_config_schema_count && n < NL_CONFIG_MAX_ORIGINS; i++)
        all[n++] = nl_config_schema[i].key;
    nl_yaml_same_leaf(name, full, all, n, buf, size);
}

static nl_code unknown_key(loader *L, const yaml_node_t *at, const char *prefix, const char *name,
                           const char *full, bool whole_paths)
{
    for (size_t i = 0; i < sizeof not_keys / sizeof not_keys[0]; i++)
        if (!strcmp(not_keys[i].key, full))
            return nl_yaml_fail(L->y, at, full, "%s", not_keys[i].hint);
    char guess[512] = "";
    if (whole_paths) {
        const char *all[NL_CONFIG_MAX_ORIGINS];
        int n = 0;
        for (int i = 0; i < nl_config_schema_count && n < NL_CONFIG_MAX_ORIGINS; i++)
            all[n++] = nl_config_schema[i].key;
        nl_yaml_suggest_path(full, all, n, guess, sizeof guess);
        return nl_yaml_fail(L->y, at, full, "unknown key%s%s%s; see configs/README.md for the keys",
                            guess[0] ? " (did you mean " : "", guess, guess[0] ? "?)" : "");
    }
    const char *sib[64];
    char sib_buf[64][48];
    const int n = children(prefix, sib_buf, sib, 64);
    const char *g = nl_yaml_closest(name, sib, n);
    char accepted[1024];
    nl_yaml_join(sib, n, " | ", accepted, sizeof accepted);
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
    return nl_yaml_fail(L->y, at, full, "unknown key%s%s%s; accepted %s: %s",
                   guess[0] ? " (did you mean " : "", guess, guess[0] ? "?)" : "", where, accepted);
}

/* a section (model:, train.optimizer:) given something else than a mapping */
static nl_code not_a_section(loader *L, const yaml_node_t *v, const char *full)
{
    const char *sub[64];
    char sub_buf[64][48], keys[1024], what[256];
    const int m = children(full, sub_buf, sub, 64);
    return nl_yaml_fail(L->y, v, full, "expected a mapping of %s keys (%s), got %s", full,
                        nl_yaml_join(sub, m, ", ", keys, sizeof keys),
                        nl_yaml_describe(v, what, sizeof what));
}

static nl_code load_mapping(loader *L, const yaml_node_t *map, const char *prefix, int depth)
{
    nl_code code = nl_yaml_check_mapping(L->y, map, prefix[0] ? prefix : NULL, "a mapping");
    if (code)
        return code;
    const int n = nl_yaml_count(map);
    for (int i = 0; i < n; i++) {
        const yaml_node_t *k = nl_yaml_key(L->y, map, i), *v = nl_yaml_value(L->y, map, i);
        const char *name = nl_yaml_scalar(k);
        char full[256];
        snprintf(full, sizeof full, "%s%s%s", prefix, prefix[0] ? "." : "", name);
        const nl_key_def *def = nl_schema_find(full);
        if (def) {
            code = set_key(L, def, v);
        } else if (name[0] && nl_schema_is_section(full) && depth < 4) {
            if (nl_yaml_is_null(v))
                continue; /* "model:" with every key commented out */
            if (v->type != YAML_MAPPING_NODE)
                return not_a_section(L, v, full);
            code = load_mapping(L, v, full, depth + 1);
        } else {
            code = unknown_key(L, k, prefix, name, full, false);
        }
        if (code)
            return code;
    }
    return NL_OK;
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

    nl_yaml_doc y;
    nl_code code = nl_yaml_doc_load(&y, value, strlen(value), "--set", text, err);
    if (code)
        return code;
    y.names_keys = true;
    loader L = {cfg, &y};
    /* "--set key=" is the empty (null) value */
    yaml_node_t empty;
    memset(&empty, 0, sizeof empty);
    empty.type = YAML_SCALAR_NODE;
    empty.data.scalar.value = (yaml_char_t *)"";
    empty.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
    yaml_node_t *root = nl_yaml_root(&y);
    if (!root)
        root = &empty;

    const nl_key_def *def = nl_schema_find(key);
    if (def) {
        code = set_key(&L, def, root);
    } else if (nl_schema_is_section(key)) {
        char what[256];
        if (root->type != YAML_MAPPING_NODE)
            code = nl_yaml_fail(&y, root, key, "expected a mapping of %s keys (e.g. {a: 1, b: 2}), "
                                "got %s", key, nl_yaml_describe(root, what, sizeof what));
        else
            code = load_mapping(&L, root, key, 1);
    } else {
        code = unknown_key(&L, root, "", key, key, true);
    }
    nl_yaml_doc_free(&y);
    if (code)
        return code;
    /* an override of epochs or steps replaces the other one given in the file */
    static const char *const length_keys[2] = {"train.epochs", "train.steps"};
    for (int i = 0; i < 2; i++) {
        const nl_config_origin *other = nl_config_origin_of(cfg, length_keys[1 - i]);
        if (def && !strcmp(key, length_keys[i]) && other && !nl_cfg_from_set(other)) {
            nl_schema_set_int(nl_schema_find(length_keys[1 - i]), cfg, 0);
            nl_cfg_drop_origin(cfg, length_keys[1 - i]);
        }
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

/* the file's keys into out (which holds the defaults) */
static nl_code load_file_keys(nl_config *out, const char *text, size_t length, const char *source,
                              nl_error *err)
{
    nl_yaml_doc y;
    nl_code code = nl_yaml_doc_load(&y, text, length, source, NULL, err);
    if (code)
        return code;
    y.names_keys = true;
    loader L = {out, &y};
    yaml_node_t *root = nl_yaml_root(&y);
    char what[256];
    if (!root)
        code = nl_fail(err, NL_ERR_CONFIG, "%s: the config is empty; expected a mapping of keys "
                       "such as data:, model: and train: (see configs/README.md)", source);
    else if (root->type != YAML_MAPPING_NODE)
        code = nl_yaml_fail(&y, root, NULL, "expected a mapping of keys at the top level (name:, "
                            "data:, model:, train: ...), got %s",
                            nl_yaml_describe(root, what, sizeof what));
    else
        code = load_mapping(&L, root, "", 0);
    nl_yaml_doc_free(&y);
    return code;
}

/* A run's config.yaml read as the record of what ran, not as a plan for this
 * host: the enum keys outside the run (model.layout) are decisions of the
 * host that ran it (a channel block of 8 on AVX2, 16 on AVX-512), so they go
 * back to their defaults and this host's plan decides them again. Without
 * this a run recorded blocked at widths of 8 could not be compared by a
 * sweep, evaluated or fine-tuned from on a host whose block is 16. */
static void unpin_host_choices(nl_config *cfg)
{
    nl_config *defaults = malloc(sizeof *defaults);
    if (!defaults)
        return; /* the record's own values: the validation then says what fails */
    nl_config_defaults(defaults);
    for (int i = 0; i < nl_config_schema_count; i++) {
        const nl_key_def *def = &nl_config_schema[i];
        if ((def->flags & NL_KF_OUTSIDE_RUN) && def->type == NL_KT_ENUM)
            memcpy((char *)cfg + def->off, (const char *)defaults + def->off, def->size);
    }
    free(defaults);
}

static nl_code load_text(const char *text, size_t length, const char *source,
                         const char *const *overrides, int n_overrides, bool record,
                         nl_config *out, nl_error *err)
{
    nl_config_defaults(out);
    snprintf(out->source, sizeof out->source, "%s", source);
    default_name(source, out->name, sizeof out->name);

    nl_code code = load_file_keys(out, text, length, source, err);
    if (!code)
        code = nl_cfg_check_epochs_steps(out, err);
    for (int i = 0; i < n_overrides && !code; i++)
        code = apply_override(out, overrides[i], err);
    if (!code)
        code = nl_cfg_resolve(
            out,
            length >= sizeof NL_CONFIG_RESOLVED_HEADER - 1 &&
                !memcmp(text, NL_CONFIG_RESOLVED_HEADER, sizeof NL_CONFIG_RESOLVED_HEADER - 1),
            err);
    if (!code && record)
        unpin_host_choices(out);
    if (!code)
        code = nl_config_validate(out, err);
    return code;
}

nl_code nl_config_load_string(const char *text, const char *source, const char *const *overrides,
                              int n_overrides, nl_config *out, nl_error *err)
{
    return load_text(text, strlen(text), source ? source : "<string>", overrides, n_overrides,
                     false, out, err);
}

static nl_code load_path(const char *path, const char *const *overrides, int n_overrides,
                         bool record, nl_config *out, nl_error *err)
{
    /* a path that names nothing readable is bad input (exit 2), like a bad
     * key; only the OS failing a read of a real file is a run-time failure */
    FILE *f;
    nl_error open_err = {0};
    const nl_code open_rc = nl_fopen_regular(path, false, &f, &open_err);
    if (open_rc == NL_ERR_DATA) {
        struct stat st;
        return nl_fail(err, NL_ERR_CONFIG, "cannot read config '%s': it is %s, not a YAML file",
                       path, stat(path, &st) == 0 ? nl_file_kind(st.st_mode) : "not a regular file");
    }
    if (open_rc) {
        const int e = errno;
        const bool bad_input = e == ENOENT || e == ENOTDIR || e == EACCES || e == ENAMETOOLONG ||
                               e == ELOOP;
        return nl_fail(err, bad_input ? NL_ERR_CONFIG : open_rc, "cannot read config '%s': %s",
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
    code = load_text(text, len, path, overrides, n_overrides, record, out, err);
    free(text);
    return code;
}

nl_code nl_config_load(const char *path, const char *const *overrides, int n_overrides,
                       nl_config *out, nl_error *err)
{
    return load_path(path, overrides, n_overrides, false, out, err);
}

nl_code nl_config_load_record(const char *path, const char *const *overrides, int n_overrides,
                              nl_config *out, nl_error *err)
{
    return load_path(path, overrides, n_overrides, true, out, err);
}

nl_code nl_config_load_record_string(const char *text, const char *source, nl_config *out, nl_error *err)
{
    return load_text(text, strlen(text), source, NULL, 0, true, out, err);
}

