/* The claims: section of an experiment file, read strictly (unknown keys,
 * wrong types, a malformed expectation are errors naming file:line:col and
 * the key), with the config loader's YAML walker. */
#include "verdict/claims.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/flat.h"
#include "config/yamldoc.h"
#include "log/files.h"

const char *const nl_metric_at_names[NL_AT_COUNT] = {"last", "min", "max", "mean"};

/* ---- the expectation: "a > b by 0.05", "a/b ~ 1 within 0.1", "rate(a > 2.9) >= 0.5" ---- */

typedef struct {
    char text[16][48];
    int n;
} tokens;

static bool tokenize(const char *s, tokens *t, char *why, size_t size)
{
    t->n = 0;
    while (*s) {
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        size_t len;
        if (strchr("()~", *s))
            len = 1;
        else if (*s == '<' || *s == '>')
            len = s[1] == '=' ? 2 : 1;
        else if (isdigit((unsigned char)*s) || strchr("+-.", *s))
            len = strspn(s, "0123456789+-.eE");
        else if (isalpha((unsigned char)*s))
            len = strspn(s, "abcdefghijklmnopqrstuvwxyz/");
        else {
            snprintf(why, size, "unexpected character '%c'", *s);
            return false;
        }
        if (len == 0 || len >= sizeof t->text[0] || t->n == 16) {
            snprintf(why, size, "too long or too many words");
            return false;
        }
        memcpy(t->text[t->n], s, len);
        t->text[t->n++][len] = '\0';
        s += len;
    }
    return true;
}

static bool number(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && !*end && isfinite(*out);
}

/* > >= < <= ~ as an op; -1 when s is none */
static int op_of(const char *s)
{
    if (!strcmp(s, ">") || !strcmp(s, ">="))
        return NL_EXPECT_GREATER;
    if (!strcmp(s, "<") || !strcmp(s, "<="))
        return NL_EXPECT_LESS;
    return !strcmp(s, "~") ? NL_EXPECT_WITHIN : -1;
}

/* rate(a OP X [or diverged]) OP P, or rate(a diverged) OP P */
static bool parse_rate(const tokens *t, nl_claim *c, char *why, size_t size)
{
    int i = 3;
    c->effect = NL_EFFECT_RATE;
    c->outcome_op = -1;
    c->outcome_diverged = false;
    if (t->n < 7 || strcmp(t->text[1], "(") || strcmp(t->text[2], "a")) {
        snprintf(why, size, "a rate reads rate(a > X) >= P, rate(a > X or diverged) >= P or rate(a diverged) >= P");
        return false;
    }
    if (!strcmp(t->text[i], "diverged")) {
        c->outcome_diverged = true;
        i++;
    } else {
        c->outcome_op = op_of(t->text[i]);
        if (c->outcome_op < 0 || c->outcome_op == NL_EXPECT_WITHIN || i + 1 >= t->n ||
            !number(t->text[i + 1], &c->outcome_x)) {
            snprintf(why, size, "the outcome inside rate( ) reads a > X or a < X, X a number");
            return false;
        }
        i += 2;
        if (i + 1 < t->n && !strcmp(t->text[i], "or") && !strcmp(t->text[i + 1], "diverged")) {
            c->outcome_diverged = true;
            i += 2;
        }
    }
    if (i + 3 != t->n || strcmp(t->text[i], ")")) {
        snprintf(why, size, "rate( ) must be followed by >= P or <= P and nothing else");
        return false;
    }
    const int op = op_of(t->text[i + 1]);
    if (op < 0 || op == NL_EXPECT_WITHIN || !number(t->text[i + 2], &c->threshold) || c->threshold < 0 ||
        c->threshold > 1) {
        snprintf(why, size, "a rate is compared with >= P or <= P, P a fraction in [0, 1]");
        return false;
    }
    c->op = (nl_expect_op)op;
    return true;
}

/* the optional tail: "by D" (a direction claim between a and b) or "within D" (~) */
static bool parse_tail(const tokens *t, int i, nl_claim *c, bool by_allowed, char *why, size_t size)
{
    double v = 0;
    if (c->op == NL_EXPECT_WITHIN) {
        if (i + 2 != t->n || strcmp(t->text[i], "within") || !number(t->text[i + 1], &v) || v < 0) {
            snprintf(why, size, "'~' needs 'within D', D a number >= 0, at the end");
            return false;
        }
        c->within = v;
        return true;
    }
    if (i == t->n)
        return true;
    if (!by_allowed || i + 2 != t->n || strcmp(t->text[i], "by") || !number(t->text[i + 1], &v) || v < 0) {
        snprintf(why, size, by_allowed ? "after 'a > b' only 'by D' may follow, D a number >= 0"
                                       : "nothing may follow the number ('by D' is for 'a > b by D')");
        return false;
    }
    c->threshold = c->op == NL_EXPECT_GREATER ? v : -v;
    return true;
}

bool nl_claim_parse_expect(const char *text, bool has_b, nl_claim *c, char *why, size_t size)
{
    tokens t;
    if (!tokenize(text, &t, why, size))
        return false;
    c->threshold = c->within = 0;
    if (t.n >= 1 && !strcmp(t.text[0], "rate"))
        return parse_rate(&t, c, why, size);
    if (t.n < 3 || (strcmp(t.text[0], "a") && strcmp(t.text[0], "a/b")) || op_of(t.text[1]) < 0) {
        snprintf(why, size, "an expectation starts with 'a' or 'a/b', then >, <, >=, <= or ~ "
                 "(or reads rate(a > X) >= P)");
        return false;
    }
    c->op = (nl_expect_op)op_of(t.text[1]);
    const bool ratio = !strcmp(t.text[0], "a/b"), rhs_b = !strcmp(t.text[2], "b");
    if (!rhs_b && !number(t.text[2], &c->threshold)) {
        snprintf(why, size, "after the comparison comes 'b' or a number, not '%s'", t.text[2]);
        return false;
    }
    if (ratio && rhs_b) {
        snprintf(why, size, "a ratio is compared with a number: a/b > 1.5, a/b ~ 1 within 0.1");
        return false;
    }
    if ((ratio || rhs_b) && !has_b) {
        snprintf(why, size, "the expectation compares with b, but the claim has no b: cell");
        return false;
    }
    if (!ratio && !rhs_b && has_b) {
        snprintf(why, size, "the claim has a b: cell the expectation does not use (write a > b, or drop b:)");
        return false;
    }
    c->effect = ratio ? NL_EFFECT_RATIO : rhs_b ? NL_EFFECT_DIFFERENCE : NL_EFFECT_VALUE;
    return parse_tail(&t, 3, c, rhs_b, why, size);
}

/* ---- the YAML ---- */

typedef struct {
    nl_yaml_doc y;
    nl_claim_set *set;
} parser;

static const char *const claim_keys[] = {"id", "paper", "metric", "a", "b", "scope", "each", "expect", "b_metric"};
enum { N_CLAIM_KEYS = 9 };
static const char *const metric_keys[] = {"file", "column", "where", "at"};
enum { N_METRIC_KEYS = 4 };

static nl_code read_text(parser *P, const yaml_node_t *n, const char *key, char *out, size_t size)
{
    const char *s;
    nl_code rc = nl_yaml_read_string(&P->y, n, key, NULL, &s);
    if (rc)
        return rc;
    if (strlen(s) >= size || !s[0])
        return nl_yaml_fail(&P->y, n, key, "%s (1 to %zu characters)", s[0] ? "too long" : "empty", size - 1);
    memcpy(out, s, strlen(s) + 1);
    return NL_OK;
}

/* {key: value, ...}: a cell's selectors */
static nl_code read_selectors(parser *P, yaml_node_t *n, const char *key, nl_claim_select *out, int *count)
{
    nl_code rc = nl_yaml_check_mapping(&P->y, n, key, "a mapping of sweep keys to values, e.g. "
                                       "{model.norm.type: batch, train.batch_size: 2}");
    if (rc)
        return rc;
    if (nl_yaml_count(n) > NL_CLAIM_MAX_SELECT)
        return nl_yaml_fail(&P->y, n, key, "at most %d keys", NL_CLAIM_MAX_SELECT);
    *count = 0;
    for (int i = 0; i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i), *v = nl_yaml_value(&P->y, n, i);
        nl_claim_select *s = &out[(*count)++];
        char label[256];
        snprintf(label, sizeof label, "%s.%s", key, nl_yaml_scalar(k));
        if ((rc = read_text(P, k, key, s->key, sizeof s->key)) || (rc = read_text(P, v, label, s->value, sizeof s->value)))
            return rc;
        s->line = nl_yaml_line(v);
        s->column = nl_yaml_column(v);
    }
    return NL_OK;
}

static nl_code read_at(parser *P, yaml_node_t *v, const char *label, nl_metric_at *out)
{
    char text[16], accepted[64];
    nl_code rc = read_text(P, v, label, text, sizeof text);
    for (int a = 0; rc == NL_OK && a < NL_AT_COUNT; a++)
        if (!strcmp(text, nl_metric_at_names[a])) {
            *out = (nl_metric_at)a;
            return NL_OK;
        }
    return rc ? rc : nl_yaml_fail(&P->y, v, label, "'%s' is not a reduction; accepted: %s", text,
                                  nl_yaml_join(nl_metric_at_names, NL_AT_COUNT, ", ", accepted, sizeof accepted));
}

static nl_code read_metric(parser *P, yaml_node_t *n, const char *key, nl_claim_metric *c)
{
    c->line = nl_yaml_line(n);
    c->column = nl_yaml_column(n);
    if (n->type == YAML_SCALAR_NODE)
        return read_text(P, n, key, c->name, sizeof c->name);
    nl_code rc = nl_yaml_check_mapping(&P->y, n, key, "a summary.csv column (final_test_error) or "
                                       "{file: metrics.csv, column: ..., where: {...}, at: last}");
    if (rc)
        return rc;
    for (int i = 0; i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i), *v = nl_yaml_value(&P->y, n, i);
        const char *name = nl_yaml_scalar(k);
        char label[256];
        snprintf(label, sizeof label, "%s.%s", key, name);
        if (!strcmp(name, "file"))
            rc = read_text(P, v, label, c->file, sizeof c->file);
        else if (!strcmp(name, "column"))
            rc = read_text(P, v, label, c->name, sizeof c->name);
        else if (!strcmp(name, "where"))
            rc = read_selectors(P, v, label, c->where, &c->n_where);
        else if (!strcmp(name, "at"))
            rc = read_at(P, v, label, &c->at);
        else
            rc = nl_yaml_unknown_key(&P->y, k, key, metric_keys, N_METRIC_KEYS);
        if (rc)
            return rc;
    }
    if (!c->file[0] || !c->name[0])
        return nl_yaml_fail(&P->y, n, key, "a metric from a run's file needs file: and column:");
    if (strstr(c->file, "..") || c->file[0] == '/')
        return nl_yaml_fail(&P->y, n, key, "file: '%s' must name a file inside the run directory", c->file);
    return NL_OK;
}

static nl_code read_claim_key(parser *P, nl_claim *c, int which, yaml_node_t *v, const char *label)
{
    switch (which) {
    case 0:
        return read_text(P, v, label, c->id, sizeof c->id);
    case 1:
        return read_text(P, v, label, c->paper, sizeof c->paper);
    case 2:
        return read_metric(P, v, label, &c->metric);
    case 3:
        return read_selectors(P, v, label, c->a, &c->n_a);
    case 4:
        c->has_b = true;
        return read_selectors(P, v, label, c->b, &c->n_b);
    case 5:
        return read_selectors(P, v, label, c->scope, &c->n_scope);
    case 6:
        c->each_line = nl_yaml_line(v);
        c->each_column = nl_yaml_column(v);
        return read_text(P, v, label, c->each, sizeof c->each);
    case 8:
        c->has_b_metric = true;
        return read_metric(P, v, label, &c->b_metric);
    default:
        c->expect_line = nl_yaml_line(v);
        c->expect_column = nl_yaml_column(v);
        return read_text(P, v, label, c->expect, sizeof c->expect);
    }
}

static nl_code read_claim(parser *P, yaml_node_t *n, int index, nl_claim *c)
{
    char key[64];
    snprintf(key, sizeof key, "claims[%d]", index);
    nl_code rc = nl_yaml_check_mapping(&P->y, n, key, "a mapping (id:, paper:, metric:, a:, b:, scope:, each:, "
                                       "expect:, b_metric:)");
    if (rc)
        return rc;
    memset(c, 0, sizeof *c);
    c->line = nl_yaml_line(n);
    c->column = nl_yaml_column(n);
    for (int i = 0; i < nl_yaml_count(n); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, n, i);
        int which = -1;
        for (int j = 0; j < N_CLAIM_KEYS; j++)
            if (!strcmp(nl_yaml_scalar(k), claim_keys[j]))
                which = j;
        if (which < 0)
            return nl_yaml_unknown_key(&P->y, k, key, claim_keys, N_CLAIM_KEYS);
        char label[160];
        snprintf(label, sizeof label, "%s.%s", key, claim_keys[which]);
        if ((rc = read_claim_key(P, c, which, nl_yaml_value(&P->y, n, i), label)))
            return rc;
    }
    static const int required[] = {0, 1, 2, 3, 7};
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
        bool given = false;
        for (int i = 0; i < nl_yaml_count(n); i++)
            given |= !strcmp(nl_yaml_scalar(nl_yaml_key(&P->y, n, i)), claim_keys[required[r]]);
        if (!given)
            return nl_yaml_fail(&P->y, n, key, "%s: is missing; a claim needs id:, paper:, metric:, a: and "
                                "expect: (b:, scope:, each:, b_metric: are optional)", claim_keys[required[r]]);
    }
    c->has_b |= c->has_b_metric;
    char why[256];
    if (!nl_claim_parse_expect(c->expect, c->has_b, c, why, sizeof why)) {
        char label[160];
        snprintf(label, sizeof label, "%s.expect", key);
        for (int i = 0; i < nl_yaml_count(n); i++)
            if (!strcmp(nl_yaml_scalar(nl_yaml_key(&P->y, n, i)), "expect"))
                return nl_yaml_fail(&P->y, nl_yaml_value(&P->y, n, i), label, "'%s': %s", c->expect, why);
    }
    if (!c->has_b_metric)
        c->b_metric = c->metric;
    for (int j = 0; j < index; j++)
        if (!strcmp(P->set->claims[j].id, c->id))
            return nl_yaml_fail(&P->y, n, key, "id '%s' is given twice (also claims[%d])", c->id, j);
    return NL_OK;
}

static nl_code parse_root(parser *P, yaml_node_t *root)
{
    if (!root || root->type != YAML_MAPPING_NODE)
        return NL_OK; /* the experiment loader says what is wrong with such a file */
    for (int i = 0; i < nl_yaml_count(root); i++) {
        yaml_node_t *k = nl_yaml_key(&P->y, root, i), *v = nl_yaml_value(&P->y, root, i);
        if (!strcmp(nl_yaml_scalar(k), "name") && v->type == YAML_SCALAR_NODE)
            nl_copy_string(P->set->name, sizeof P->set->name, nl_yaml_scalar(v));
        if (strcmp(nl_yaml_scalar(k), "claims") || nl_yaml_is_null(v))
            continue;
        if (v->type != YAML_SEQUENCE_NODE)
            return nl_yaml_fail(&P->y, v, "claims", "expected a list of claims, each a mapping (id:, paper:, "
                                "metric:, a:, b:, expect:, ...)");
        if (nl_yaml_count(v) > NL_CLAIM_MAX)
            return nl_yaml_fail(&P->y, v, "claims", "at most %d claims", NL_CLAIM_MAX);
        for (int j = 0; j < nl_yaml_count(v); j++) {
            nl_code rc = read_claim(P, nl_yaml_item(&P->y, v, j), j, &P->set->claims[j]);
            if (rc)
                return rc;
            P->set->n = j + 1;
        }
    }
    return NL_OK;
}

nl_code nl_claims_parse(const char *text, const char *path, nl_claim_set *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    nl_copy_string(out->path, sizeof out->path, path);
    parser P = {.set = out};
    nl_code rc = nl_yaml_doc_load(&P.y, text, strlen(text), path, NULL, err);
    if (rc)
        return rc;
    P.y.err = err;
    rc = parse_root(&P, nl_yaml_root(&P.y));
    nl_yaml_doc_free(&P.y);
    return rc;
}

nl_code nl_claims_load(const char *path, nl_claim_set *out, nl_error *err)
{
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_read_file_max(path, NL_READ_TEXT_MAX, &text, &len, err);
    if (rc)
        return rc == NL_ERR_IO ? (err->code = NL_ERR_USAGE) : rc;
    rc = nl_claims_parse(text, path, out, err);
    free(text);
    return rc;
}
