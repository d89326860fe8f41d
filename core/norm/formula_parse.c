/* model.norm.expr and model.norm.params as text: a recursive-descent
 * parser into the formula's tree (formula_internal.h), every node with its
 * column, so that an error names the key, the column and what is accepted
 * there. Shapes are not known here: the planner checks them on the
 * layer's input (formula_plan.c). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "norm/formula_internal.h"

#define EXPR_KEY "model.norm.expr"
#define PARAMS_KEY "model.norm.params"

/* what a running statistic of each reduction keeps (formula_internal.h) */
static nl_formula_reduce reduce_kind(const char *name)
{
    return !strcmp(name, "var") ? FR_VAR : !strcmp(name, "std") ? FR_STD
           : !strcmp(name, "rms") ? FR_RMS : !strcmp(name, "sum") ? FR_SUM : FR_MEAN;
}

typedef struct {
    nl_formula *f;
    const char *s;
    int pos;
    nl_error *err;
    bool failed;
    unsigned used_params;
    /* a word's formula (derivative or body): the row whose names it binds;
     * NULL for model.norm.expr */
    const nl_formula_word *word;
} parser;

static int column(const parser *P) { return P->pos + 1; }

/* the character at s as a message quotes it: a whole UTF-8 sequence, or
 * \xNN for a control byte or a byte no valid sequence starts with, so
 * that the message stays valid UTF-8 */
static const char *quoted_char(const char *s, char out[16])
{
    const unsigned char c = (unsigned char)s[0];
    const int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool whole = len > 0 && !(len == 1 && (c < 0x20 || c == 0x7F));
    for (int i = 1; whole && i < len; i++)
        whole = ((unsigned char)s[i] & 0xC0) == 0x80;
    if (!whole) {
        snprintf(out, 16, "\\x%02X", c);
        return out;
    }
    memcpy(out, s, (size_t)len);
    out[len] = 0;
    return out;
}

static void skip_space(parser *P)
{
    while (P->s[P->pos] == ' ' || P->s[P->pos] == '\t' || P->s[P->pos] == '\n')
        P->pos++;
}

void nl_formula_fail(nl_error *err, bool *failed, int col, const char *fmt, ...)
{
    /* the prefix goes on this pass's message, never on an earlier one */
    const bool first = !*failed && err->code == NL_OK;
    *failed = true;
    if (!first)
        return;
    va_list ap;
    va_start(ap, fmt);
    nl_vfail(err, NL_ERR_CONFIG, fmt, ap);
    va_end(ap);
    nl_error_prefix(err, "%s, column %d: ", EXPR_KEY, col);
    nl_error_key(err, EXPR_KEY);
}

/* the parser's error at a column (its functions then return -1) */
#define fail_at(P, col, ...) nl_formula_fail((P)->err, &(P)->failed, (col), __VA_ARGS__)

static int add_node(parser *P, nl_formula_tree t)
{
    if (P->failed)
        return -1;
    if (P->f->count >= NL_FORMULA_MAX_TREE)
        return fail_at(P, t.col,
                       "the formula is past its size: at most %d numbers, names and operations",
                       NL_FORMULA_MAX_TREE), -1;
    P->f->tree[P->f->count] = t;
    return P->f->count++;
}

static bool read_name(parser *P, char *name, size_t size)
{
    const char *s = P->s;
    if (!isalpha((unsigned char)s[P->pos]) && s[P->pos] != '_')
        return false;
    size_t len = 0;
    while (isalnum((unsigned char)s[P->pos + len]) || s[P->pos + len] == '_')
        len++;
    snprintf(name, size, "%.*s", (int)len, s + P->pos);
    P->pos += (int)len;
    return true;
}

bool nl_formula_reads(const char *expr, const char *word)
{
    const size_t want = strlen(word);
    for (size_t i = 0; expr && expr[i];) {
        const unsigned char c = (unsigned char)expr[i];
        size_t len = 0;
        if (isalpha(c) || c == '_') {
            while (isalnum((unsigned char)expr[i + len]) || expr[i + len] == '_')
                len++;
            if (len == want && !strncmp(expr + i, word, want))
                return true;
        } else if (isdigit(c) || c == '.') {
            /* a number, its exponent's letter included (1e-5) */
            while (isalnum((unsigned char)expr[i + len]) || expr[i + len] == '.')
                len++;
        } else {
            len = 1;
        }
        i += len;
    }
    return false;
}

static bool read_number(const char *s, int *pos, float *value)
{
    const char *start = s + *pos;
    if (!isdigit((unsigned char)start[0]) && !(start[0] == '.' && isdigit((unsigned char)start[1])))
        return false;
    char *end;
    const double v = strtod(start, &end);
    *value = (float)v;
    *pos += (int)(end - start);
    return true;
}

/* "x, eps, gamma, beta, and the functions sqrt, ..." for an unknown name */
static const char *accepted_names(const nl_formula *f, char *buf, size_t size)
{
    size_t at = (size_t)snprintf(buf, size, "x, eps");
    for (int i = 0; i < f->n_params && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, ", %s", f->params[i].name);
    if (f->n_params == 0 && at < size)
        at += (size_t)snprintf(buf + at, size - at, " (no parameters declared in %s)", PARAMS_KEY);
    if (at < size)
        at += (size_t)snprintf(buf + at, size - at, ", numbers, and the functions");
    for (int i = 0, n = 0; i < nl_formula_word_count && at < size; i++) {
        const nl_formula_word *w = &nl_formula_words[i];
        if (w->kind == NL_WORD_OPERATOR || w->kind == NL_WORD_INTERNAL)
            continue;
        at += (size_t)snprintf(buf + at, size - at, "%s %s%s", n++ ? "," : "", w->name,
                               w->kind == NL_WORD_REDUCTION ? "(u, [axes])" : "(...)");
    }
    return buf;
}

static int parse_sum(parser *P);

static unsigned parse_axes(parser *P)
{
    skip_space(P);
    if (P->s[P->pos] != '[') {
        fail_at(P, column(P),
                "expected the axes as a list, e.g. [channels, spatial]; accepted axes: batch, "
                "channels, spatial, tokens");
        return 0;
    }
    P->pos++;
    unsigned axes = 0;
    for (;;) {
        skip_space(P);
        const int col = column(P);
        char name[32];
        if (!read_name(P, name, sizeof name)) {
            fail_at(P, col, "expected an axis; accepted: batch, channels, spatial, tokens");
            return 0;
        }
        if (P->word && !strcmp(name, "axes")) { /* a word's formula: the call's axes */
            axes |= NL_FORMULA_CALL_AXES;
            skip_space(P);
            if (P->s[P->pos] == ']') {
                P->pos++;
                return axes;
            }
            fail_at(P, column(P), "expected ']' after axes");
            return 0;
        }
        const int axis = nl_name_lookup(&nl_norm_axis_names, name);
        if (axis < 0) {
            fail_at(P, col, "unknown axis '%s'; accepted: batch, channels, spatial, tokens", name);
            return 0;
        }
        if (axes & (1u << axis)) {
            fail_at(P, col, "axis '%s' named twice", name);
            return 0;
        }
        axes |= 1u << axis;
        skip_space(P);
        if (P->s[P->pos] == ',') {
            P->pos++;
            continue;
        }
        if (P->s[P->pos] == ']') {
            P->pos++;
            return axes;
        }
        fail_at(P, column(P), "expected ',' or ']' in the axis list");
        return 0;
    }
}

static bool expect(parser *P, char c, const char *what)
{
    skip_space(P);
    if (P->s[P->pos] == c) {
        P->pos++;
        return true;
    }
    fail_at(P, column(P), "expected %s", what);
    return false;
}

/* whether trees a and b are the same expression (u * u squares u) */
static bool same_tree(const nl_formula *f, int a, int b)
{
    if (a == b)
        return true;
    const nl_formula_tree *s = &f->tree[a], *t = &f->tree[b];
    if (s->kind != t->kind || s->op != t->op || s->reduce != t->reduce || s->axes != t->axes ||
        s->value != t->value || s->param != t->param)
        return false;
    if (s->word != t->word || s->consts[0] != t->consts[0] || s->consts[1] != t->consts[1] ||
        s->exponent != t->exponent)
        return false;
    const bool has_a = s->kind == FT_UNARY || s->kind == FT_BINARY || s->kind == FT_POW ||
                       s->kind == FT_REDUCE || s->kind == FT_RUNNING || s->kind == FT_CALL;
    if (has_a && (s->a < 0) != (t->a < 0))
        return false;
    if (has_a && s->a >= 0 && !same_tree(f, s->a, t->a))
        return false;
    const bool has_b = s->kind == FT_BINARY || (s->kind == FT_CALL && s->b >= 0);
    return !has_b || (t->b >= 0 && same_tree(f, s->b, t->b));
}

float nl_formula_running_default(const nl_formula *f, int r)
{
    const nl_formula_tree *t = &f->tree[r];
    if (t->reduce == FR_VAR || t->reduce == FR_STD || t->reduce == FR_RMS)
        return 1.0f;
    const nl_formula_tree *u = &f->tree[t->a];
    const bool even_power = u->kind == FT_POW && u->value > 0 && fmodf(u->value, 2.0f) == 0;
    const bool square = u->kind == FT_BINARY && u->op == FO_MUL && same_tree(f, u->a, u->b);
    const bool magnitude = u->kind == FT_CALL && !strcmp(nl_formula_words[u->word].name, "abs");
    return even_power || square || magnitude ? 1.0f : 0.0f;
}

/* running(r) or running(r, init=V): r parsed, the parser after it */
static int parse_running(parser *P, int a, int col)
{
    const nl_formula_tree *in = &P->f->tree[a];
    if (in->kind != FT_REDUCE)
        return fail_at(P, col,
                       "running(...) takes a reduction over batch (mean, var, std, rms or "
                       "sum with batch among its axes), e.g. running(var(x, [batch, "
                       "spatial]))"), -1;
    if (!(in->axes & (1u << NL_AXIS_BATCH)))
        return fail_at(P, col,
                       "running(...) around a reduction without the batch axis: running "
                       "statistics average batch statistics over steps; add batch to its "
                       "axes, or drop running"), -1;
    nl_formula_tree t = {.kind = FT_RUNNING, .a = a, .col = col,
                         .value = nl_formula_running_default(P->f, a)};
    skip_space(P);
    if (P->s[P->pos] == ',') {
        P->pos++;
        skip_space(P);
        const int kcol = column(P);
        char key[32];
        if (!read_name(P, key, sizeof key) || strcmp(key, "init"))
            return fail_at(P, kcol, "running(...) takes one keyword after its reduction, init "
                                    "(its start value), e.g. running(mean(x^2, [batch]), "
                                    "init=1)"), -1;
        if (!expect(P, '=', "'=' and a number after init, e.g. init=1"))
            return -1;
        skip_space(P);
        const int vcol = column(P);
        const bool minus = P->s[P->pos] == '-';
        P->pos += minus;
        if (!read_number(P->s, &P->pos, &t.value) || !isfinite(t.value))
            return fail_at(P, vcol, "init takes a finite number (the running statistic's "
                                    "start), e.g. init=1 or init=0"), -1;
        t.value = minus ? -t.value : t.value;
        if (t.value < 0 && nl_formula_running_default(P->f, a) == 1.0f)
            return fail_at(P, vcol, "init=%g: a running %s is never negative; accepted: a "
                                    "number 0 or above", t.value,
                           in->reduce == FR_VAR ? "variance" : in->reduce == FR_MEAN || in->reduce == FR_SUM
                                                                ? "mean of squares" : "deviation"), -1;
        t.init_given = true;
    }
    if (!expect(P, ')', "')' (or ', init=' and a start value): running takes one reduction"))
        return -1;
    if (P->f->n_running >= NL_FORMULA_MAX_RUNNING)
        return fail_at(P, col, "at most %d running statistics", NL_FORMULA_MAX_RUNNING), -1;
    P->f->n_running++;
    return add_node(P, t);
}

/* a constant operand's value: a number, or a negated one */
static bool constant_value(const nl_formula *f, int i, float *v)
{
    const nl_formula_tree *t = &f->tree[i];
    if (t->kind == FT_NUM) {
        *v = t->value;
        return true;
    }
    if (t->kind == FT_UNARY && t->op == FO_NEG && constant_value(f, t->a, v)) {
        *v = -*v;
        return true;
    }
    return false;
}

/* a function's operands after its first: values, then constant numbers */
static bool parse_operands(parser *P, const nl_formula_word *w, nl_formula_tree *call)
{
    const int n = nl_formula_word_operands(w), values = n - w->constants;
    for (int k = 1; k < n; k++) {
        char name[16], what[64];
        nl_formula_word_operand(w, k, name, sizeof name);
        snprintf(what, sizeof what, n == 2 ? "',' and a second value" : "',' and %s", name);
        if (!expect(P, ',', what))
            return false;
        skip_space(P);
        const int col = column(P);
        const int v = parse_sum(P);
        if (v < 0)
            return false;
        if (k < values) {
            call->b = v;
        } else if (!constant_value(P->f, v, &call->consts[k - values])) {
            fail_at(P, col, "%s's %s must be a constant number, e.g. %s", w->name, name,
                    "clamp(x, -3, 3)");
            return false;
        }
    }
    skip_space(P);
    if (n == 1 && P->s[P->pos] == ',')
        return fail_at(P, column(P), "%s takes one value", w->name), false;
    if (!expect(P, ')', "')'"))
        return false;
    /* two constants are a range: clamp's lo, hi */
    if (w->constants == 2 && call->consts[0] > call->consts[1]) {
        char lo[16], hi[16];
        fail_at(P, call->col, "%s's %s (%g) is above its %s (%g): the range is empty; write "
                "%s <= %s", w->name, nl_formula_word_operand(w, n - 2, lo, sizeof lo),
                (double)call->consts[0], nl_formula_word_operand(w, n - 1, hi, sizeof hi),
                (double)call->consts[1], lo, hi);
        return false;
    }
    return true;
}

static int parse_call(parser *P, int word, int col)
{
    const nl_formula_word *w = &nl_formula_words[word];
    P->pos++; /* '(' */
    nl_formula_tree call = {.kind = FT_CALL, .word = word, .a = -1, .b = -1, .col = col};
    if (nl_formula_word_operands(w) == 0)
        return expect(P, ')', "')'") ? add_node(P, call) : -1;
    const int a = parse_sum(P);
    if (a < 0)
        return -1;
    if (w->kind == NL_WORD_REDUCTION) {
        if (!expect(P, ',', "',' and the axes to reduce over, e.g. mean(x, [channels, spatial])"))
            return -1;
        const unsigned axes = parse_axes(P);
        if (P->failed || !expect(P, ')', "')' after the axes"))
            return -1;
        return add_node(P, (nl_formula_tree){.kind = FT_REDUCE, .word = word,
                                             .reduce = reduce_kind(w->name), .axes = axes,
                                             .a = a, .col = col});
    }
    if (!strcmp(w->name, "running"))
        return parse_running(P, a, col);
    call.a = a;
    if (!parse_operands(P, w, &call))
        return -1;
    return add_node(P, call);
}

/* in a word's formula, a name it binds (an operand, g, y, p), or -1 */
static int bound_name(const parser *P, const char *name)
{
    if (!P->word)
        return -1;
    for (int i = 0; i < nl_formula_word_operands(P->word); i++) {
        char op[16];
        if (!strcmp(nl_formula_word_operand(P->word, i, op, sizeof op), name))
            return i;
    }
    return !strcmp(name, "g") ? NL_WVAR_G : !strcmp(name, "y") ? NL_WVAR_Y
           : !strcmp(name, "p") ? NL_WVAR_P : -1;
}

static int parse_primary(parser *P)
{
    skip_space(P);
    const int col = column(P);
    const char c = P->s[P->pos];
    float value;
    if (read_number(P->s, &P->pos, &value)) {
        if (!isfinite(value))
            return fail_at(P, col, "the number is not finite in single precision"), -1;
        return add_node(P, (nl_formula_tree){.kind = FT_NUM, .value = value, .col = col});
    }
    if (c == '(') {
        P->pos++;
        const int a = parse_sum(P);
        if (a < 0 || !expect(P, ')', "')'"))
            return -1;
        return a;
    }
    char name[64];
    if (!read_name(P, name, sizeof name)) {
        if (c == '\0')
            return fail_at(P, col, "the formula ends where a value is expected"), -1;
        char q[16];
        return fail_at(P, col, "unexpected '%s' where a value is expected (a number, a name, "
                               "a function call or a parenthesis)", quoted_char(P->s + P->pos, q)), -1;
    }
    skip_space(P);
    const bool call = P->s[P->pos] == '(';
    const int bound = bound_name(P, name);
    if (bound >= 0 && !call)
        return add_node(P, (nl_formula_tree){.kind = FT_VAR, .param = bound, .col = col});
    const int word = nl_formula_word_find(name, P->word != NULL);
    if (word >= 0) {
        if (!call)
            return fail_at(P, col, "%s is a function: write %s(...)", name, name), -1;
        return parse_call(P, word, col);
    }
    if (call) {
        char buf[1024];
        return fail_at(P, col, "unknown function '%s'; accepted: %s", name,
                       accepted_names(P->f, buf, sizeof buf)), -1;
    }
    if (!strcmp(name, "x") && !P->word)
        return add_node(P, (nl_formula_tree){.kind = FT_X, .col = col});
    if (!strcmp(name, "eps"))
        return add_node(P, (nl_formula_tree){.kind = FT_EPS, .col = col});
    for (int i = 0; i < P->f->n_params; i++)
        if (!strcmp(P->f->params[i].name, name)) {
            P->used_params |= 1u << i;
            return add_node(P, (nl_formula_tree){.kind = FT_PARAM, .param = i, .col = col});
        }
    char buf[1024];
    return fail_at(P, col, "unknown name '%s' (a parameter must be declared in %s); accepted: %s",
                   name, PARAMS_KEY, accepted_names(P->f, buf, sizeof buf)), -1;
}

/* power binds tighter than unary minus, as in Python: -x^2 is -(x^2) */
static int parse_power(parser *P)
{
    const int a = parse_primary(P);
    if (a < 0)
        return -1;
    skip_space(P);
    const char *s = P->s + P->pos;
    const int op_len = s[0] == '^' ? 1 : (s[0] == '*' && s[1] == '*') ? 2 : 0;
    if (!op_len)
        return a;
    P->pos += op_len;
    skip_space(P);
    const int col = column(P);
    bool negative = false;
    if (P->s[P->pos] == '-') {
        negative = true;
        P->pos++;
    }
    if (P->word && !negative && P->s[P->pos] == '(') {
        /* a word's formula: a constant expression of p, e.g. u ^ (p - 1) */
        const int e = parse_primary(P);
        if (e < 0)
            return -1;
        return add_node(P, (nl_formula_tree){.kind = FT_POW, .a = a, .exponent = e, .col = col});
    }
    float value;
    if (!read_number(P->s, &P->pos, &value) || !isfinite(value))
        return fail_at(P, col, "the exponent must be a constant number (a power such as u^2, "
                               "u^0.5 or u^-1); for a learned one write exp(p * log(u))"), -1;
    return add_node(P, (nl_formula_tree){.kind = FT_POW, .a = a,
                                         .value = negative ? -value : value, .col = col});
}

static int parse_unary(parser *P)
{
    skip_space(P);
    if (P->s[P->pos] == '-') {
        const int col = column(P);
        P->pos++;
        const int a = parse_unary(P);
        if (a < 0)
            return -1;
        return add_node(P, (nl_formula_tree){.kind = FT_UNARY, .op = FO_NEG, .a = a, .col = col});
    }
    if (P->s[P->pos] == '+') {
        P->pos++;
        return parse_unary(P);
    }
    return parse_power(P);
}

static int parse_product(parser *P)
{
    int a = parse_unary(P);
    while (a >= 0) {
        skip_space(P);
        const char c = P->s[P->pos];
        if (!((c == '*' && P->s[P->pos + 1] != '*') || c == '/'))
            return a;
        const int col = column(P);
        P->pos++;
        const int b = parse_unary(P);
        if (b < 0)
            return -1;
        a = add_node(P, (nl_formula_tree){.kind = FT_BINARY, .op = c == '*' ? FO_MUL : FO_DIV,
                                          .a = a, .b = b, .col = col});
    }
    return a;
}

static int parse_sum(parser *P)
{
    int a = parse_product(P);
    while (a >= 0) {
        skip_space(P);
        const char c = P->s[P->pos];
        if (c != '+' && c != '-')
            return a;
        const int col = column(P);
        P->pos++;
        const int b = parse_product(P);
        if (b < 0)
            return -1;
        a = add_node(P, (nl_formula_tree){.kind = FT_BINARY, .op = c == '+' ? FO_ADD : FO_SUB,
                                          .a = a, .b = b, .col = col});
    }
    return a;
}

static nl_code params_fail(nl_error *err, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static nl_code params_fail(nl_error *err, int col, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    nl_fail(err, NL_ERR_CONFIG, "%s, column %d: %s; the form: \"gamma = 1 per channel, beta = 0 "
                                "per group, alpha = 0.5\" (a name, its starting value, and per "
                                "channel for one value per channel, per group for one per group "
                                "of model.norm.groups, else one for the layer)",
            PARAMS_KEY, col, what);
    nl_error_key(err, PARAMS_KEY);
    return NL_ERR_CONFIG;
}

/* the names a parameter cannot take: the formula's own words */
static bool reserved(const char *name)
{
    if (!strcmp(name, "x") || !strcmp(name, "eps"))
        return true;
    if (nl_formula_word_find(name, false) >= 0)
        return true;
    return nl_name_lookup(&nl_norm_axis_names, name) >= 0;
}

static nl_code parse_params(nl_formula *f, const char *text, int cols[NL_FORMULA_MAX_PARAMS],
                            nl_error *err)
{
    parser P = {.f = f, .s = text};
    skip_space(&P);
    if (!text[P.pos])
        return NL_OK;
    for (;;) {
        skip_space(&P);
        const int col = column(&P);
        char name[64];
        if (!read_name(&P, name, sizeof name))
            return params_fail(err, col, "expected a parameter's name");
        if (strlen(name) >= sizeof f->params[0].name)
            return params_fail(err, col, "the name '%s' is longer than %zu characters", name,
                               sizeof f->params[0].name - 1);
        if (reserved(name))
            return params_fail(err, col, "'%s' is a word of the formula (x, eps, a function or "
                                         "an axis), not a parameter name", name);
        for (int i = 0; i < f->n_params; i++)
            if (!strcmp(f->params[i].name, name))
                return params_fail(err, col, "parameter '%s' declared twice", name);
        if (f->n_params >= NL_FORMULA_MAX_PARAMS)
            return params_fail(err, col, "at most %d parameters", NL_FORMULA_MAX_PARAMS);
        skip_space(&P);
        if (text[P.pos] != '=')
            return params_fail(err, column(&P), "expected '=' and the starting value after '%s'",
                               name);
        P.pos++;
        skip_space(&P);
        const int value_col = column(&P);
        bool negative = false;
        if (text[P.pos] == '-') {
            negative = true;
            P.pos++;
        }
        float init;
        if (!read_number(text, &P.pos, &init) || !isfinite(init))
            return params_fail(err, value_col, "expected the starting value, a finite number");
        skip_space(&P);
        nl_formula_param_kind kind = NL_PARAM_SCALAR;
        const int per_col = column(&P);
        char word[32];
        if (read_name(&P, word, sizeof word)) {
            char what[32], accepted[96] = "";
            for (int r = 0; r < NL_PARAM_KIND_COUNT; r++)
                if (nl_formula_param_kinds[r].word)
                    snprintf(accepted + strlen(accepted), sizeof accepted - strlen(accepted),
                             "'per %s' or ", nl_formula_param_kinds[r].word);
            skip_space(&P);
            const int what_col = column(&P);
            if (strcmp(word, "per") || !read_name(&P, what, sizeof what))
                return params_fail(err, per_col, "expected %snothing (a scalar) after the "
                                                 "starting value", accepted);
            kind = NL_PARAM_KIND_COUNT;
            for (int r = 0; r < NL_PARAM_KIND_COUNT; r++)
                if (nl_formula_param_kinds[r].word && !strcmp(what, nl_formula_param_kinds[r].word))
                    kind = (nl_formula_param_kind)r;
            if (kind == NL_PARAM_KIND_COUNT)
                return params_fail(err, what_col, "a parameter is %sone scalar for the layer "
                                                  "(nothing); 'per %s' is none of them",
                                   accepted, what);
        }
        nl_formula_param *p = &f->params[f->n_params];
        snprintf(p->name, sizeof p->name, "%s", name);
        p->kind = kind;
        p->init = negative ? -init : init;
        cols[f->n_params++] = col;
        skip_space(&P);
        if (!text[P.pos])
            return NL_OK;
        if (text[P.pos] != ',')
            return params_fail(err, column(&P), "expected ',' before the next parameter");
        P.pos++;
    }
}

nl_code nl_formula_parse(const char *expr, const char *params, nl_formula **out, nl_error *err)
{
    *out = NULL;
    if (strlen(expr) > NL_FORMULA_MAX_TEXT)
        return nl_fail(err, NL_ERR_CONFIG, "%s: the formula is past its size: at most %d "
                                           "characters", EXPR_KEY, NL_FORMULA_MAX_TEXT),
               nl_error_key(err, EXPR_KEY), NL_ERR_CONFIG;
    nl_formula *f = calloc(1, sizeof *f);
    if (!f)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory parsing %s", EXPR_KEY);
    snprintf(f->text, sizeof f->text, "%s", expr);
    int param_cols[NL_FORMULA_MAX_PARAMS];
    nl_code rc = parse_params(f, params ? params : "", param_cols, err);
    if (rc) {
        free(f);
        return rc;
    }
    parser P = {.f = f, .s = f->text, .err = err};
    skip_space(&P);
    if (!f->text[P.pos]) {
        free(f);
        nl_fail(err, NL_ERR_CONFIG, "%s is empty: model.norm.type expr takes the normalizer as a "
                                    "formula, e.g. \"gamma * tanh(alpha * x) + beta\"", EXPR_KEY);
        nl_error_key(err, EXPR_KEY);
        return NL_ERR_CONFIG;
    }
    f->root = parse_sum(&P);
    skip_space(&P);
    if (!P.failed && f->text[P.pos])
    {
        char q[16];
        fail_at(&P, column(&P), "unexpected '%s' after a complete formula (an operator missing?)",
                quoted_char(f->text + P.pos, q));
    }
    if (!P.failed) {
        bool reads_x = false;
        for (int i = 0; i < f->count; i++)
            reads_x |= f->tree[i].kind == FT_X;
        if (!reads_x)
            fail_at(&P, 1, "the formula never reads x: a normalizer is a function of its input");
    }
    if (!P.failed)
        for (int i = 0; i < f->n_params; i++)
            if (!(P.used_params & (1u << i))) {
                params_fail(err, param_cols[i], "parameter '%s' is declared but %s never uses it",
                            f->params[i].name, EXPR_KEY);
                P.failed = true;
                break;
            }
    if (P.failed) {
        free(f);
        return err->code ? err->code : NL_ERR_CONFIG;
    }
    *out = f;
    return NL_OK;
}

nl_code nl_formula_parse_word(int word, int which, nl_formula **out, nl_error *err)
{
    const nl_formula_word *w = &nl_formula_words[word];
    const char *text = which == 2 ? w->body : w->grad[which];
    *out = NULL;
    if (!text)
        return NL_OK;
    nl_formula *f = calloc(1, sizeof *f);
    if (!f)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory parsing %s's formula", w->name);
    snprintf(f->text, sizeof f->text, "%s", text);
    nl_error mine = {0};
    parser P = {.f = f, .s = f->text, .err = &mine, .word = w};
    f->root = parse_sum(&P);
    skip_space(&P);
    if (!P.failed && f->text[P.pos])
        fail_at(&P, column(&P), "unexpected text after a complete formula");
    if (P.failed) {
        free(f);
        /* the table's bug, not the user's formula: named by its row */
        return nl_fail(err, NL_ERR_UNSUPPORTED, "the formula vocabulary's row '%s' "
                       "(core/norm/formula_words.c): its %s \"%s\" does not parse: %s",
                       w->name, which == 2 ? "value" : "derivative", text, mine.msg);
    }
    *out = f;
    return NL_OK;
}

long nl_formula_smallest_reduction(const nl_formula *f, int ndim, int c, int p, int groups,
                                   int train_batch, int *col, unsigned *axes)
{
    long fewest = 0;
    const unsigned positions = ndim == 4 ? 1u << NL_AXIS_SPATIAL : ndim == 3 ? 1u << NL_AXIS_TOKENS : 0;
    for (int i = 0; i < f->count; i++) {
        const nl_formula_tree *t = &f->tree[i];
        const unsigned lacking = t->axes & ~((1u << NL_AXIS_BATCH) | (1u << NL_AXIS_CHANNELS) | positions);
        if (t->kind != FT_REDUCE || lacking)
            continue;
        long values = 1;
        if (t->axes & (1u << NL_AXIS_BATCH))
            values *= train_batch;
        if (t->axes & (1u << NL_AXIS_CHANNELS))
            values *= groups > 1 && c % groups == 0 ? c / groups : c;
        if (t->axes & positions)
            values *= p;
        if (fewest == 0 || values < fewest) {
            fewest = values;
            *col = t->col;
            *axes = t->axes;
        }
    }
    return fewest;
}

void nl_formula_free(nl_formula *f) { free(f); }
int nl_formula_param_count(const nl_formula *f) { return f->n_params; }
const nl_formula_param *nl_formula_param_at(const nl_formula *f, int i) { return &f->params[i]; }
bool nl_formula_has_running(const nl_formula *f) { return f->n_running > 0; }

const char *nl_formula_stops_gradient(const nl_formula *f)
{
    for (int i = 0; i < f->count; i++) {
        if (f->tree[i].kind != FT_CALL)
            continue;
        const nl_formula_word *w = &nl_formula_words[f->tree[i].word];
        const int values = nl_formula_word_operands(w) - w->constants;
        bool zero = values > 0 && w->body;
        for (int k = 0; k < values; k++)
            zero = zero && w->grad[k] && !strcmp(w->grad[k], "0");
        if (zero)
            return w->name;
    }
    return NULL;
}
const char *nl_formula_text(const nl_formula *f) { return f->text; }
