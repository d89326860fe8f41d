#include "config/flat.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/number.h"
#include "base/grow.h"
#include "config/schema.h"
#include "config/yamldoc.h"

void nl_flat_free(nl_flat *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->items[i].value);
    free(f->items);
    memset(f, 0, sizeof *f);
}

const char *nl_flat_get(const nl_flat *f, const char *key)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->items[i].key, key) == 0)
            return f->items[i].value;
    return NULL;
}

nl_code nl_flat_set(nl_flat *f, const char *key, const char *value, nl_error *err)
{
    char *copy = strdup(value);
    if (!copy)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->items[i].key, key) == 0) {
            free(f->items[i].value);
            f->items[i].value = copy;
            return NL_OK;
        }
    nl_flat_entry *p = nl_grow(f->items, f->n, &f->cap, sizeof *p, 64);
    if (!p) {
        free(copy);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    f->items = p;
    nl_copy_string(f->items[f->n].key, sizeof f->items[f->n].key, key);
    f->items[f->n].value = copy;
    f->n++;
    return NL_OK;
}

static void remove_under(nl_flat *f, const char *key)
{
    const size_t len = strlen(key);
    int out = 0;
    for (int i = 0; i < f->n; i++) {
        const char *k = f->items[i].key;
        if (strcmp(k, key) == 0 || (strncmp(k, key, len) == 0 && k[len] == '.')) {
            free(f->items[i].value);
            continue;
        }
        f->items[out++] = f->items[i];
    }
    f->n = out;
}

/* ---- YAML text ---- */

static bool plain_needs_quotes(const char *s)
{
    /* a plain scalar that would not read back as the same plain scalar */
    return !s[0] || strpbrk(s, ",[]{}#:\"'\n") != NULL || isspace((unsigned char)s[0]);
}

static void quoted(nl_buf *b, const char *s)
{
    nl_buf_printf(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            nl_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            nl_buf_printf(b, "\\n");
        else if ((unsigned char)*s < 0x20)
            nl_buf_printf(b, "\\x%02x", (unsigned char)*s);
        else
            nl_buf_printf(b, "%c", *s);
    }
    nl_buf_printf(b, "\"");
}

void nl_yaml_flow_text(yaml_document_t *doc, yaml_node_t *n, nl_buf *b)
{
    if (!n) {
        nl_buf_printf(b, "null");
        return;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)n->data.scalar.value;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !plain_needs_quotes(s))
            nl_buf_printf(b, "%s", s);
        else if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !s[0])
            nl_buf_printf(b, "null");
        else
            quoted(b, s);
        break;
    }
    case YAML_SEQUENCE_NODE:
    case YAML_MAPPING_NODE: {
        /* one list between brackets either way; a mapping's items are its
         * pairs, each "key: value" */
        const bool map = n->type == YAML_MAPPING_NODE;
        const yaml_node_pair_t *pairs = map ? n->data.mapping.pairs.start : NULL;
        const yaml_node_item_t *items = map ? NULL : n->data.sequence.items.start;
        const long count = map ? n->data.mapping.pairs.top - pairs : n->data.sequence.items.top - items;
        nl_buf_printf(b, map ? "{" : "[");
        for (long i = 0; i < count; i++) {
            if (i)
                nl_buf_printf(b, ", ");
            if (map) {
                nl_yaml_flow_text(doc, yaml_document_get_node(doc, pairs[i].key), b);
                nl_buf_printf(b, ": ");
            }
            nl_yaml_flow_text(doc, yaml_document_get_node(doc, map ? pairs[i].value : items[i]), b);
        }
        nl_buf_printf(b, map ? "}" : "]");
        break;
    }
    default:
        nl_buf_printf(b, "null");
    }
}

const char *nl_unquote(const char *text, char *buf, size_t size)
{
    size_t len = strlen(text);
    if (len >= 2 && ((text[0] == '"' && text[len - 1] == '"') || (text[0] == '\'' && text[len - 1] == '\''))) {
        size_t k = 0;
        for (size_t i = 1; i + 1 < len && k + 1 < size; i++) {
            if (text[0] == '"' && text[i] == '\\' && i + 2 < len)
                i++;
            buf[k++] = text[i];
        }
        buf[k] = '\0';
        return buf;
    }
    nl_copy_string(buf, size, text);
    return buf;
}

/* ---- flattening ---- */

static nl_code flatten(yaml_document_t *doc, yaml_node_t *n, const char *prefix, nl_flat *out,
                       nl_error *err)
{
    if (n->type == YAML_MAPPING_NODE && prefix[0] == '\0' && n->data.mapping.pairs.start == n->data.mapping.pairs.top)
        return NL_OK;
    if (n->type != YAML_MAPPING_NODE) {
        nl_buf b = {0};
        if (n->type == YAML_SCALAR_NODE)
            nl_buf_printf(&b, "%s", (const char *)n->data.scalar.value);
        else
            nl_yaml_flow_text(doc, n, &b);
        if (b.failed) {
            nl_buf_free(&b);
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        }
        nl_code rc = nl_flat_set(out, prefix, b.data ? b.data : "", err);
        nl_buf_free(&b);
        return rc;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        if (!k || k->type != YAML_SCALAR_NODE || !v)
            continue;
        char key[96];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", (const char *)k->data.scalar.value);
        nl_code rc = flatten(doc, v, key, out, err);
        if (rc)
            return rc;
    }
    return NL_OK;
}

nl_code nl_flat_from_yaml(const char *text, const char *source, nl_flat *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    nl_yaml_doc y;
    nl_code rc = nl_yaml_doc_load(&y, text, strlen(text), source, NULL, err);
    if (rc)
        return rc;
    yaml_node_t *root = nl_yaml_root(&y);
    if (root && root->type == YAML_MAPPING_NODE)
        rc = flatten(&y.doc, root, "", out, err);
    else if (root)
        rc = nl_fail(err, NL_ERR_CONFIG, "%s: expected a mapping at the top", source);
    nl_yaml_doc_free(&y);
    if (rc)
        nl_flat_free(out);
    return rc;
}

nl_code nl_flat_overlay(nl_flat *f, const char *key, const char *value, nl_error *err)
{
    remove_under(f, key);
    nl_yaml_doc y;
    nl_code rc = nl_yaml_doc_load(&y, value, strlen(value), key, NULL, err);
    if (rc)
        return rc;
    yaml_node_t *root = nl_yaml_root(&y);
    if (!root)
        rc = nl_flat_set(f, key, "", err);
    else
        rc = flatten(&y.doc, root, key, f, err);
    nl_yaml_doc_free(&y);
    return rc;
}

nl_code nl_flat_from_config(const nl_config *cfg, nl_flat *out, char **text_out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_config_text(cfg, &text, &len, err);
    if (rc == NL_OK)
        rc = nl_flat_from_yaml(text, "resolved config", out, err);
    if (rc == NL_OK && text_out)
        *text_out = text;
    else
        free(text);
    return rc;
}

/* ---- comparing values ---- */

static bool number(const char *s, double *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return false;
    char *end;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || *end)
        return false;
    *out = v;
    return true;
}

/* an integer as written: an optional sign and digits only */
static bool integer_text(const char *s, long long *value)
{
    return nl_parse_ll(s, LLONG_MIN, LLONG_MAX, value);
}

/* a's unquoted text, whole, in a buffer the caller frees (NULL: out of
 * memory): unquoting never lengthens a text */
static char *unquoted(const char *text)
{
    const size_t size = strlen(text) + 1;
    char *buf = malloc(size);
    if (buf)
        nl_unquote(text, buf, size);
    return buf;
}

static bool plain_scalars_equal(const char *ua, const char *ub)
{
    /* integers (seeds, sizes, steps) exactly: the float tolerance below
     * took seed 1000000 for 1000001 */
    long long i, j;
    if (integer_text(ua, &i) && integer_text(ub, &j))
        return i == j;
    double x, y;
    if (number(ua, &x) && number(ub, &y)) {
        if (x == y)
            return true;
        /* an infinity's scale would take it for every finite number */
        if (!isfinite(x) || !isfinite(y))
            return false;
        const double scale = fmax(fabs(x), fabs(y));
        return fabs(x - y) <= 1e-6 * scale;
    }
    const char *bools[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(ua, bools[i]) || !strcasecmp(ub, bools[i]))
            return strcasecmp(ua, ub) == 0;
    return strcmp(ua, ub) == 0;
}

/* compared whole, whatever their length (issue 118: a fixed buffer took two
 * formulas equal for 511 bytes for one); out of memory, only the same text
 * is the same value */
static bool scalars_equal(const char *a, const char *b)
{
    char *ua = unquoted(a), *ub = unquoted(b);
    const bool same = ua && ub ? plain_scalars_equal(ua, ub) : strcmp(a, b) == 0;
    free(ua), free(ub);
    return same;
}

/* the next top-level item of a flow list's inside; returns its length */
static size_t item_length(const char *s)
{
    int depth = 0;
    bool in_quote = false;
    size_t i = 0;
    for (; s[i]; i++) {
        const char c = s[i];
        if (in_quote) {
            if (c == '\\' && s[i + 1])
                i++;
            else if (c == '"')
                in_quote = false;
        } else if (c == '"') {
            in_quote = true;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == ',' && depth == 0) {
            break;
        }
    }
    return i;
}

static void trim(const char *s, size_t len, char *out, size_t size)
{
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(out, s, len);
    out[len] = '\0';
}

/* ta and tb trimmed, in buffers of their own this may write into */
static bool trimmed_equal(char *ta, char *tb)
{
    const size_t la = strlen(ta), lb = strlen(tb);
    const bool list_a = la >= 2 && ta[0] == '[' && ta[la - 1] == ']';
    const bool list_b = lb >= 2 && tb[0] == '[' && tb[lb - 1] == ']';
    if (list_a != list_b)
        return false;
    if (!list_a)
        return scalars_equal(ta, tb);
    ta[la - 1] = tb[lb - 1] = '\0';
    char *pa = ta + 1, *pb = tb + 1;
    for (;;) {
        const size_t na = item_length(pa), nb = item_length(pb);
        const bool last_a = !pa[na], last_b = !pb[nb];
        pa[na] = pb[nb] = '\0'; /* each item a string of its own */
        if (!nl_values_equal(pa, pb))
            return false;
        if (last_a || last_b)
            return last_a && last_b;
        pa += na + 1;
        pb += nb + 1;
    }
}

bool nl_values_equal(const char *a, const char *b)
{
    const size_t na = strlen(a), nb = strlen(b);
    char *ta = malloc(na + 1), *tb = malloc(nb + 1);
    bool same;
    if (ta && tb) {
        trim(a, na, ta, na + 1);
        trim(b, nb, tb, nb + 1);
        same = trimmed_equal(ta, tb);
    } else {
        same = strcmp(a, b) == 0;
    }
    free(ta), free(tb);
    return same;
}

bool nl_flat_key_outside_run(const char *key)
{
    const nl_key_def *def = nl_schema_find(key);
    return def && (def->flags & NL_KF_OUTSIDE_RUN);
}

bool nl_values_identical(const char *a, const char *b) { return strcmp(a, b) == 0; }

int nl_flat_diff(const nl_flat *old, const nl_flat *now, bool (*ignored)(const char *key),
                 bool (*same)(const char *a, const char *b), char *diff, size_t size)
{
    int count = 0;
    size_t used = 0;
    diff[0] = '\0';
    /* the keys of `now` in its order, then those only `old` has */
    for (int pass = 0; pass < 2; pass++) {
        const nl_flat *a = pass ? old : now, *b = pass ? now : old;
        for (int i = 0; i < a->n; i++) {
            const char *key = a->items[i].key;
            if (ignored && ignored(key))
                continue;
            const char *other = nl_flat_get(b, key);
            if (pass == 1 && other)
                continue; /* compared in the first pass */
            if (other && same(other, a->items[i].value))
                continue;
            const char *was = pass ? a->items[i].value : other;
            const char *is = pass ? other : a->items[i].value;
            count++;
            if (used < size - 1)
                used += (size_t)snprintf(diff + used, size - used, "%s%s: %s -> %s", count > 1 ? "; " : "",
                                         key, was ? was : "(not set)", is ? is : "(not set)");
        }
    }
    return count;
}
