/* The shared YAML walker (yamldoc.h): loading with screened input and
 * positioned syntax errors, node access, messages, and the scalar readers
 * whose texts `normlab run` and `normlab sweep` both show. */
#include "config/yamldoc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/ident.h"
#include "base/number.h"
#include "config/config.h"

/* ---- loading ---- */

/* per open collection while screening: a mapping whose next scalar is a
 * key, and the last key read (what a NUL error names) */
typedef struct {
    bool mapping, at_key;
    char key[64];
} screen_level;

/* the problem with one event, if any: too deep, a NUL in a scalar, a tag */
static nl_code screen_event(const yaml_event_t *ev, const yaml_char_t *tag, int depth, bool is_key,
                            const screen_level *open, const char *source, const char *setting,
                            nl_error *err)
{
    char where[800];
    if (setting)
        snprintf(where, sizeof where, "--set %s", setting);
    else
        snprintf(where, sizeof where, "%s:%zu:%zu", source, ev->start_mark.line + 1,
                 ev->start_mark.column + 1);
    if (depth > NL_YAML_MAX_DEPTH)
        return nl_fail(err, NL_ERR_CONFIG, "%s: nested more than %d levels deep; a config "
                       "needs a few", where, NL_YAML_MAX_DEPTH);
    if (ev->type == YAML_SCALAR_EVENT &&
        strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length) {
        /* a "\0" escape: every name and key would be read up to it, so
         * "batch\0x" would pass as batch and "data\0x" as data; named
         * by the dotted key it belongs to */
        char path[400] = "";
        for (int d = 1; d <= depth && d <= NL_YAML_MAX_DEPTH; d++)
            if (open[d].mapping && open[d].key[0] && (d < depth || !is_key))
                snprintf(path + strlen(path), sizeof path - strlen(path), "%s%s",
                         path[0] ? "." : "", open[d].key);
        return nl_fail(err, NL_ERR_CONFIG, "%s: %s%s%s contains a NUL character (\\0); "
                       "keys and values are text", where, path, path[0] ? ": " : "",
                       is_key ? "a key" : "the value");
    }
    if (tag) {
        /* shown as written: !!str rather than tag:yaml.org,2002:str */
        const char *shown_tag = (const char *)tag, *core = "tag:yaml.org,2002:";
        const bool short_form = !strncmp(shown_tag, core, strlen(core));
        return nl_fail(err, NL_ERR_CONFIG, "%s: YAML tags such as '%s%.40s' are not "
                       "accepted: a value's type comes from its key (write 16 for a number, "
                       "\"16\" for a string)", where, short_form ? "!!" : "",
                       short_form ? shown_tag + strlen(core) : shown_tag);
    }
    return NL_OK;
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
    screen_level open[NL_YAML_MAX_DEPTH + 2] = {{0}};
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
        code = screen_event(&ev, tag, depth, is_key, open, source, setting, err);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return code;
}


static nl_code syntax_error(const yaml_parser_t *p, const char *source, const char *setting,
                            const char *text, nl_error *err)
{
    char where[800];
    if (p->error == YAML_MEMORY_ERROR)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory while parsing %s", source);
    if (p->error == YAML_READER_ERROR) {
        if (setting)
            return nl_fail(err, NL_ERR_CONFIG, "--set %s: the value is not valid text: %s", setting,
                           p->problem);
        /* the line and column of the offending byte, as every other
         * refusal names its place (the column counts bytes) */
        size_t line = 1, column = 1;
        for (size_t i = 0; text && i < p->problem_offset && text[i]; i++) {
            line += text[i] == '\n';
            column = text[i] == '\n' ? 1 : column + 1;
        }
        return nl_fail(err, NL_ERR_CONFIG, "%s:%zu:%zu: not valid text (byte %zu): %s (configs must be "
                       "UTF-8)", source, line, column, p->problem_offset, p->problem);
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

/* a file is one document: a second one is refused where it starts */
static nl_code no_second_document(yaml_parser_t *parser, const char *source, const char *text,
                                  nl_error *err)
{
    yaml_document_t next;
    if (!yaml_parser_load(parser, &next))
        return syntax_error(parser, source, NULL, text, err);
    nl_code code = NL_OK;
    if (yaml_document_get_root_node(&next))
        code = nl_fail(err, NL_ERR_CONFIG,
                       "%s:%zu:%zu: a second YAML document starts here; a "
                       "config or experiment file is one document",
                       source, next.start_mark.line + 1, next.start_mark.column + 1);
    yaml_document_delete(&next);
    return code;
}

nl_code nl_yaml_doc_load(nl_yaml_doc *d, const char *text, size_t length, const char *source,
                         const char *setting, nl_error *err)
{
    memset(d, 0, sizeof *d);
    d->source = source;
    d->setting = setting;
    d->err = err;
    nl_code code = nl_yaml_screen(text, length, source, setting, err);
    if (code)
        return code;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory while parsing %s",
                       setting ? setting : source);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
    if (!yaml_parser_load(&parser, &d->doc)) {
        code = syntax_error(&parser, source, setting, setting ? NULL : text, err);
        yaml_parser_delete(&parser);
        return code;
    }
    d->loaded = true;
    if (!setting && yaml_document_get_root_node(&d->doc))
        code = no_second_document(&parser, source, text, err);
    yaml_parser_delete(&parser);
    if (code)
        nl_yaml_doc_free(d);
    return code;
}

void nl_yaml_doc_free(nl_yaml_doc *d)
{
    if (d->loaded)
        yaml_document_delete(&d->doc);
    d->loaded = false;
}

/* ---- nodes ---- */

yaml_node_t *nl_yaml_root(nl_yaml_doc *d)
{
    return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

yaml_node_t *nl_yaml_node(const nl_yaml_doc *d, int index)
{
    return yaml_document_get_node((yaml_document_t *)&d->doc, index);
}

int nl_yaml_count(const yaml_node_t *n)
{
    if (n->type == YAML_SEQUENCE_NODE)
        return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (n->type == YAML_MAPPING_NODE)
        return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    return 0;
}

yaml_node_t *nl_yaml_item(const nl_yaml_doc *d, const yaml_node_t *seq, int i)
{
    return nl_yaml_node(d, seq->data.sequence.items.start[i]);
}

yaml_node_t *nl_yaml_key(const nl_yaml_doc *d, const yaml_node_t *map, int i)
{
    return nl_yaml_node(d, map->data.mapping.pairs.start[i].key);
}

yaml_node_t *nl_yaml_value(const nl_yaml_doc *d, const yaml_node_t *map, int i)
{
    return nl_yaml_node(d, map->data.mapping.pairs.start[i].value);
}

int nl_yaml_line(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }
int nl_yaml_column(const yaml_node_t *n) { return (int)n->start_mark.column + 1; }

const char *nl_yaml_scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

bool nl_yaml_is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool nl_yaml_is_null(const yaml_node_t *n)
{
    if (!nl_yaml_is_plain(n))
        return false;
    const char *s = nl_yaml_scalar(n);
    return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

const char *nl_yaml_shown(const char *s, char *buf, size_t size)
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

const char *nl_yaml_describe(const yaml_node_t *n, char *buf, size_t size)
{
    char text[128];
    if (n->type == YAML_MAPPING_NODE)
        snprintf(buf, size, "a mapping");
    else if (n->type == YAML_SEQUENCE_NODE)
        snprintf(buf, size, "a list");
    else if (nl_yaml_is_null(n))
        snprintf(buf, size, "an empty value (null)");
    else if (!nl_yaml_is_plain(n))
        snprintf(buf, size, "the quoted string \"%s\"",
                 nl_yaml_shown(nl_yaml_scalar(n), text, sizeof text));
    else
        snprintf(buf, size, "'%s'", nl_yaml_shown(nl_yaml_scalar(n), text, sizeof text));
    return buf;
}

/* ---- messages ---- */

nl_code nl_yaml_fail(const nl_yaml_doc *d, const yaml_node_t *n, const char *key, const char *fmt,
                     ...)
{
    char where[800], msg[NL_ERROR_MSG_MAX];
    if (d->setting)
        snprintf(where, sizeof where, "--set %s", d->setting);
    else if (n)
        snprintf(where, sizeof where, "%s:%d:%d", d->source, nl_yaml_line(n), nl_yaml_column(n));
    else
        snprintf(where, sizeof where, "%s", d->source);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nl_code code = nl_fail(d->err, NL_ERR_CONFIG, "%s: %s%s%s", where, key ? key : "",
                           key ? ": " : "", msg);
    if (key && d->names_keys) {
        char path[96];
        snprintf(path, sizeof path, "%.*s", (int)strcspn(key, "["), key);
        nl_error_key(d->err, path);
    }
    return code;
}

nl_code nl_yaml_check_mapping(const nl_yaml_doc *d, const yaml_node_t *n, const char *key,
                              const char *what)
{
    char desc[256];
    if (n->type != YAML_MAPPING_NODE)
        return nl_yaml_fail(d, n, key, "expected %s, got %s", what,
                            nl_yaml_describe(n, desc, sizeof desc));
    const int count = nl_yaml_count(n);
    for (int i = 0; i < count; i++) {
        const yaml_node_t *k = nl_yaml_key(d, n, i);
        if (k->type != YAML_SCALAR_NODE)
            return nl_yaml_fail(d, k, key, "keys must be names, got %s",
                                nl_yaml_describe(k, desc, sizeof desc));
        for (int j = 0; j < i; j++) {
            const yaml_node_t *other = nl_yaml_key(d, n, j);
            if (other->type != YAML_SCALAR_NODE || strcmp(nl_yaml_scalar(other), nl_yaml_scalar(k)))
                continue;
            /* a config's sections nest into dotted keys; other files'
             * sections name their keys as "section: key" */
            char full[256];
            snprintf(full, sizeof full, "%s%s%s", key ? key : "",
                     !key ? "" : d->names_keys ? "." : ": ", nl_yaml_scalar(k));
            return nl_yaml_fail(d, k, full, "duplicate key (first given at line %d, column %d); "
                                "each key may appear once", nl_yaml_line(other),
                                nl_yaml_column(other));
        }
    }
    return NL_OK;
}

/* ---- did-you-mean ---- */

const char *nl_yaml_closest(const char *word, const char *const *names, int count)
{
    const char *g = nl_closest_name(word, names, count);
    if (g || strlen(word) < 5)
        return g;
    int best = 3;
    for (int i = 0; i < count; i++) {
        const int dist = nl_edit_distance(word, names[i]);
        if (dist < best) {
            best = dist;
            g = names[i];
        }
    }
    return g;
}

const char *nl_yaml_did_you_mean(const char *guess, char *buf, size_t size)
{
    if (guess)
        snprintf(buf, size, " (did you mean '%s'?)", guess);
    else if (size)
        buf[0] = '\0';
    return buf;
}

const char *nl_yaml_join(const char *const *names, int count, const char *sep, char *buf,
                         size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? sep : "", names[i]);
    return buf;
}

/* ---- scalars ---- */

bool nl_yaml_in_range(const nl_yaml_range *r, double v)
{
    if (!r)
        return true;
    if (r->has_lo && (r->lo_open ? !(v > r->lo) : !(v >= r->lo)))
        return false;
    if (r->has_hi && (r->hi_open ? !(v < r->hi) : !(v <= r->hi)))
        return false;
    return true;
}

bool nl_yaml_scan_float(const char *s, double *out)
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

int nl_yaml_scan_int(const char *s, long long *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    bool digits = isdigit((unsigned char)*p);
    while (isdigit((unsigned char)*p))
        p++;
    /* integer-shaped: the checked parser refuses it only when it overflows */
    if (digits && !*p)
        return nl_parse_ll(s, LLONG_MIN, LLONG_MAX, out) ? NL_YAML_SCAN_OK : NL_YAML_SCAN_OVERFLOW;
    double dv;
    return nl_yaml_scan_float(s, &dv) ? NL_YAML_SCAN_NOT_INTEGER : NL_YAML_SCAN_NOT_NUMBER;
}

/* "; accepted: X", or "" */
static const char *accepted_tail(const char *accepted, char *buf, size_t size)
{
    if (accepted && accepted[0])
        snprintf(buf, size, "; accepted: %s", accepted);
    else
        buf[0] = '\0';
    return buf;
}

/* an integer's text that is no integer, or too large to store */
static nl_code int_scan_error(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                              int scanned, const nl_yaml_range *range, const char *acc,
                              long long max)
{
    char text[128];
    const char *s = nl_yaml_scalar(n);
    if (scanned == NL_YAML_SCAN_NOT_NUMBER)
        return nl_yaml_fail(d, n, label, "expected an integer, got '%s'%s",
                            nl_yaml_shown(s, text, sizeof text), acc);
    if (scanned == NL_YAML_SCAN_NOT_INTEGER) {
        double v = 0;
        nl_yaml_scan_float(s, &v);
        if (isfinite(v) && v == floor(v) && fabs(v) < 9e15)
            return nl_yaml_fail(d, n, label, "%s is not an integer (YAML reads it as a float); "
                                "write %.0f", nl_yaml_shown(s, text, sizeof text), v);
        return nl_yaml_fail(d, n, label, "%s is not an integer%s",
                            nl_yaml_shown(s, text, sizeof text), acc);
    }
    /* the key's own limit, as its range says (the accepted text leaves out
     * seed's int64 ceiling, which only "too large" reads); a negative
     * number is below every key's lower bound */
    if (s[0] == '-' || (range && range->has_hi && range->hi <= (double)max && range->hi < 1e18))
        return nl_yaml_fail(d, n, label, "%s is out of range%s",
                            nl_yaml_shown(s, text, sizeof text), acc);
    return nl_yaml_fail(d, n, label, "%s is too large (at most %lld)",
                        nl_yaml_shown(s, text, sizeof text), max);
}

/* NL_OK when n is an unquoted scalar, else the error that `expected` ("an
 * integer") got something else */
static nl_code plain_scalar(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                            const char *expected, const char *acc)
{
    char what[256];
    if (n->type != YAML_SCALAR_NODE || nl_yaml_is_null(n))
        return nl_yaml_fail(d, n, label, "expected %s, got %s%s", expected,
                            nl_yaml_describe(n, what, sizeof what), acc);
    if (!nl_yaml_is_plain(n))
        return nl_yaml_fail(d, n, label, "expected %s, got %s (remove the quotes)%s", expected,
                            nl_yaml_describe(n, what, sizeof what), acc);
    return NL_OK;
}

nl_code nl_yaml_read_int(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                         const nl_yaml_range *range, const char *accepted, long long max,
                         long long *out)
{
    char acc[600];
    accepted_tail(accepted, acc, sizeof acc);
    const nl_code plain = plain_scalar(d, n, label, "an integer", acc);
    if (plain != NL_OK)
        return plain;
    const char *s = nl_yaml_scalar(n);
    long long v = 0;
    const int scanned = nl_yaml_scan_int(s, &v);
    if (scanned != NL_YAML_SCAN_OK)
        return int_scan_error(d, n, label, scanned, range, acc, max);
    if (!nl_yaml_in_range(range, (double)v))
        return nl_yaml_fail(d, n, label, "%s is out of range%s", s, acc);
    if (v > max)
        return nl_yaml_fail(d, n, label, "%s is too large (at most %lld)", s, max);
    *out = v;
    return NL_OK;
}

nl_code nl_yaml_read_number(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                            const nl_yaml_range *range, const char *accepted, double *out)
{
    char acc[600], text[128];
    accepted_tail(accepted, acc, sizeof acc);
    const nl_code plain = plain_scalar(d, n, label, "a number", acc);
    if (plain != NL_OK)
        return plain;
    const char *s = nl_yaml_shown(nl_yaml_scalar(n), text, sizeof text);
    double v;
    if (!nl_yaml_scan_float(nl_yaml_scalar(n), &v))
        return nl_yaml_fail(d, n, label, "expected a number, got '%s'%s", s, acc);
    if (!isfinite(v))
        return nl_yaml_fail(d, n, label, "%s is not a finite number%s", s, acc);
    if (!nl_yaml_in_range(range, v))
        return nl_yaml_fail(d, n, label, "%s is out of range%s", s, acc);
    *out = v;
    return NL_OK;
}

nl_code nl_yaml_read_bool(const nl_yaml_doc *d, const yaml_node_t *n, const char *label, bool *out)
{
    char what[256];
    if (nl_yaml_is_plain(n)) {
        const char *s = nl_yaml_scalar(n);
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
                return nl_yaml_fail(d, n, label,
                                    "'%s' is not a boolean here (YAML 1.1's yes/no/on/off are not "
                                    "accepted); accepted: true | false",
                                    s);
    }
    return nl_yaml_fail(d, n, label, "expected true or false, got %s; accepted: true | false",
                        nl_yaml_describe(n, what, sizeof what));
}

nl_code nl_yaml_read_string(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                            const char *accepted, const char **out)
{
    char acc[600], what[256];
    accepted_tail(accepted, acc, sizeof acc);
    if (n->type != YAML_SCALAR_NODE || nl_yaml_is_null(n))
        return nl_yaml_fail(d, n, label, "expected a string, got %s%s%s",
                            nl_yaml_describe(n, what, sizeof what),
                            n->type == YAML_SCALAR_NODE ? " (write \"\" for an empty string)" : "",
                            acc);
    const char *s = nl_yaml_scalar(n);
    if (strlen(s) != n->data.scalar.length)
        return nl_yaml_fail(d, n, label, "the string contains a NUL character");
    *out = s;
    return NL_OK;
}

nl_code nl_yaml_read_ident(const nl_yaml_doc *d, const yaml_node_t *n, const char *label, const char *what,
                           bool path, char *out, size_t size)
{
    const char *s = "";
    nl_code rc = nl_yaml_read_string(d, n, label, NULL, &s);
    if (rc)
        return rc;
    /* the limit is the storage's where it is below the identifier's own */
    const size_t longest = size - 1 < NL_IDENT_MAX ? size - 1 : NL_IDENT_MAX, len = strlen(s);
    char shown[300], count[48] = "";
    if ((path ? nl_ident_path_ok(s) : nl_ident_ok(s)) && len <= longest) {
        memcpy(out, s, len + 1);
        return NL_OK;
    }
    if (len > longest)
        snprintf(count, sizeof count, " (%zu characters)", len);
    return nl_yaml_fail(d, n, label, "'%s'%s is not a valid %s; accepted: %s, 1 to %zu characters",
                        nl_yaml_shown(s, shown, sizeof shown), count, what,
                        path ? NL_IDENT_PATH_ACCEPTED : NL_IDENT_ACCEPTED, longest);
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

/* the name in `table` closest to s: by case, by a common other name, by edits */
static const char *guess_name(const nl_name_table *table, const char *s)
{
    char lower[128];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)tolower((unsigned char)s[i]);
    lower[i] = '\0';
    if (nl_name_lookup(table, lower) >= 0)
        return nl_name_of(table, nl_name_lookup(table, lower));
    for (size_t j = 0; j < sizeof synonyms / sizeof synonyms[0]; j++)
        if (!strcmp(lower, synonyms[j].word) && nl_name_lookup(table, synonyms[j].name) >= 0)
            return synonyms[j].name;
    return nl_closest_in_table(table, lower);
}

nl_code nl_yaml_read_name(const nl_yaml_doc *d, const yaml_node_t *n, const char *label,
                          const nl_name_table *table, int *out)
{
    char acc[512], what[256], text[128], hint[160];
    nl_name_choices(table, acc, sizeof acc);
    const char *article = strchr("aeiou", table->what[0]) ? "an" : "a";
    if (n->type != YAML_SCALAR_NODE || nl_yaml_is_null(n))
        return nl_yaml_fail(d, n, label, "expected %s %s, got %s; accepted: %s", article,
                            table->what, nl_yaml_describe(n, what, sizeof what), acc);
    const char *s = nl_yaml_scalar(n);
    const int v = nl_name_lookup(table, s);
    if (v >= 0) {
        *out = v;
        return NL_OK;
    }
    return nl_yaml_fail(d, n, label, "'%s' is not %s %s; accepted: %s%s",
                        nl_yaml_shown(s, text, sizeof text), article, table->what, acc,
                        nl_yaml_did_you_mean(guess_name(table, s), hint, sizeof hint));
}

nl_code nl_yaml_unknown_key(const nl_yaml_doc *d, const yaml_node_t *k, const char *section,
                            const char *const *names, int count)
{
    char accepted[512], hint[160];
    const char *name = nl_yaml_scalar(k);
    return nl_yaml_fail(d, k, section, "unknown key '%s'%s; accepted: %s", name,
                        nl_yaml_did_you_mean(nl_yaml_closest(name, names, count), hint,
                                             sizeof hint),
                        nl_yaml_join(names, count, ", ", accepted, sizeof accepted));
}

static const char *leaf_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

const char *nl_yaml_same_leaf(const char *leaf, const char *except, const char *const *paths,
                              int count, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *matches[4];
    int found = 0;
    for (int pass = 0; pass < 2 && found == 0; pass++) {
        for (int i = 0; i < count && found < 4; i++) {
            if (except && !strcmp(paths[i], except))
                continue;
            const char *other = leaf_of(paths[i]);
            const bool hit = pass == 0 ? !strcmp(other, leaf)
                                       : nl_closest_name(leaf, &other, 1) != NULL &&
                                             strlen(leaf) >= 4;
            if (hit)
                matches[found++] = paths[i];
        }
    }
    size_t used = 0;
    for (int i = 0; i < found && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s'%s'",
                                 i == 0 ? "" : i == found - 1 ? " or " : ", ", matches[i]);
    return buf;
}

const char *nl_yaml_suggest_path(const char *path, const char *const *paths, int count, char *buf,
                                 size_t size)
{
    const char *g = nl_closest_name(path, paths, count);
    if (g) {
        snprintf(buf, size, "'%s'", g);
        return buf;
    }
    return nl_yaml_same_leaf(leaf_of(path), path, paths, count, buf, size);
}

char *nl_yaml_node_text(const char *text, const yaml_node_t *n)
{
    const size_t len = strlen(text);
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t line = 0, column = 0;
    bool keep = false;
    for (size_t i = 0; i < len; i++) {
        const char c = text[i];
        if (((unsigned char)c & 0xC0) != 0x80) {
            /* a character starts here; its continuation bytes follow its fate */
            const bool after_start = line > n->start_mark.line ||
                                     (line == n->start_mark.line && column >= n->start_mark.column);
            const bool before_end = line < n->end_mark.line ||
                                    (line == n->end_mark.line && column < n->end_mark.column);
            keep = after_start && before_end;
            if (c == '\n') {
                line++;
                column = 0;
            } else {
                column++;
            }
        }
        out[i] = c == '\n' || c == '\r' || keep ? c : ' ';
    }
    out[len] = '\0';
    return out;
}
