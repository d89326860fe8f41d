/* A parsed formula's tree written back as text (norm/formula_edit.h): the
 * printer, whose text the parser turns into the same tree, and the
 * canonical form a search hashes to know a formula it has seen. Words are
 * spelled from their rows of nl_formula_words and axes from the axis
 * table, so a new word prints without a change here. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "norm/formula_edit.h"
#include "norm/formula_internal.h"

/* what the grammar binds tighter, loosest first (formula_parse.c's levels) */
enum { P_SUM = 1, P_PRODUCT, P_UNARY, P_POWER, P_PRIMARY };

static int precedence(const nl_formula_tree *t)
{
    switch (t->kind) {
    case FT_BINARY:
        return t->op == FO_ADD || t->op == FO_SUB ? P_SUM : P_PRODUCT;
    case FT_UNARY:
        return P_UNARY;
    case FT_POW:
        return P_POWER;
    default:
        return P_PRIMARY;
    }
}

/* the operator row of a binary op or of unary minus: its symbol is in its
 * name ("u + v", "-u") */
static const nl_formula_word *operator_row(nl_formula_op op, int operands)
{
    for (int i = 0; i < nl_formula_word_count; i++) {
        const nl_formula_word *w = &nl_formula_words[i];
        if (w->kind == NL_WORD_OPERATOR && (int)w->op == (int)op &&
            nl_formula_word_operands(w) == operands)
            return w;
    }
    return NULL;
}

/* the symbol of a binary operator row: "u + v" -> '+' */
static char binary_symbol(nl_formula_op op)
{
    const nl_formula_word *w = operator_row(op, 2);
    return w ? w->name[2] : '?';
}

/* text appended to a fixed buffer; `over` once it did not fit */
typedef struct {
    char *s;
    size_t size, len;
    bool over;
} out_text;

static void put(out_text *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_text *o, const char *fmt, ...)
{
    if (o->over)
        return;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(o->s + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->size - o->len) {
        o->over = true;
        o->s[o->len] = '\0';
        return;
    }
    o->len += (size_t)n;
}

/* a float as the parser reads it back to the same value */
static void put_number(out_text *o, float v) { put(o, "%.9g", (double)v); }

static void print_node(const nl_formula *f, int i, out_text *o);

/* operand a of a node of precedence `level`: in parentheses where the
 * grammar would otherwise bind it differently (`strict`: also at equal
 * precedence, a right operand: a - (b - c)) */
static void print_operand(const nl_formula *f, int a, int level, bool strict, out_text *o)
{
    const int p = precedence(&f->tree[a]);
    const bool parens = p < level || (strict && p == level);
    put(o, "%s", parens ? "(" : "");
    print_node(f, a, o);
    put(o, "%s", parens ? ")" : "");
}

static void print_call(const nl_formula *f, const nl_formula_tree *t, out_text *o)
{
    const nl_formula_word *w = &nl_formula_words[t->word];
    put(o, "%s(", w->name);
    if (t->a >= 0)
        print_node(f, t->a, o);
    if (t->b >= 0) {
        put(o, ", ");
        print_node(f, t->b, o);
    }
    for (int k = 0; k < w->constants; k++) {
        put(o, ", ");
        put_number(o, t->consts[k]);
    }
    put(o, ")");
}

static void print_node(const nl_formula *f, int i, out_text *o)
{
    const nl_formula_tree *t = &f->tree[i];
    char axes[96];
    switch (t->kind) {
    case FT_NUM:
        put_number(o, t->value);
        return;
    case FT_X:
        put(o, "x");
        return;
    case FT_EPS:
        put(o, "eps");
        return;
    case FT_PARAM:
        put(o, "%s", f->params[t->param].name);
        return;
    case FT_UNARY: /* -(-x) rather than --x, which reads as a typo */
        put(o, "-");
        print_operand(f, t->a, P_UNARY, true, o);
        return;
    case FT_BINARY:
        print_operand(f, t->a, precedence(t), false, o);
        put(o, " %c ", binary_symbol(t->op));
        print_operand(f, t->b, precedence(t), true, o);
        return;
    case FT_POW: /* the base is a primary: (a * b)^2, (x^2)^3 */
        print_operand(f, t->a, P_PRIMARY, false, o);
        put(o, "^");
        put_number(o, t->value);
        return;
    case FT_REDUCE:
        put(o, "%s(", nl_formula_words[t->word].name);
        print_node(f, t->a, o);
        put(o, ", %s)", nl_name_set_text(&nl_norm_axis_names, t->axes, axes, sizeof axes));
        return;
    case FT_RUNNING:
        put(o, "running(");
        print_node(f, t->a, o);
        if (t->init_given) {
            put(o, ", init=");
            put_number(o, t->value);
        }
        put(o, ")");
        return;
    case FT_CALL:
        print_call(f, t, o);
        return;
    case FT_VAR: /* a word's own formula, never a user's */
        o->over = true;
        return;
    }
}

/* which parameters the tree under node i reads (bit k: parameter k) */
static unsigned params_read(const nl_formula *f, int i)
{
    const nl_formula_tree *t = &f->tree[i];
    unsigned used = t->kind == FT_PARAM ? 1u << t->param : 0;
    const bool has_a = t->kind == FT_UNARY || t->kind == FT_BINARY || t->kind == FT_POW ||
                       t->kind == FT_REDUCE || t->kind == FT_RUNNING || t->kind == FT_CALL;
    if (has_a && t->a >= 0)
        used |= params_read(f, t->a);
    if ((t->kind == FT_BINARY || t->kind == FT_CALL) && t->b >= 0)
        used |= params_read(f, t->b);
    return used;
}

nl_code nl_formula_print(const nl_formula *f, char *expr, size_t expr_size, char *params,
                         size_t params_size, nl_error *err)
{
    const size_t limit = expr_size < NL_FORMULA_MAX_TEXT + 1 ? expr_size : NL_FORMULA_MAX_TEXT + 1;
    out_text o = {.s = expr, .size = limit};
    expr[0] = '\0';
    print_node(f, f->root, &o);
    out_text p = {.s = params, .size = params_size};
    params[0] = '\0';
    const unsigned used = params_read(f, f->root);
    for (int k = 0, n = 0; k < f->n_params; k++) {
        if (!(used & (1u << k)))
            continue;
        put(&p, "%s%s = ", n++ ? ", " : "", f->params[k].name);
        put_number(&p, f->params[k].init);
        if (nl_formula_param_kinds[f->params[k].kind].word)
            put(&p, " per %s", nl_formula_param_kinds[f->params[k].kind].word);
    }
    if (o.over || p.over)
        return nl_fail(err, NL_ERR_CONFIG, "the formula printed from its tree is past its size: at "
                       "most %d characters of model.norm.expr and %d of model.norm.params",
                       NL_FORMULA_MAX_TEXT, NL_FORMULA_MAX_PARAMS_TEXT);
    return NL_OK;
}

/* ---- the canonical form ---- */

static char *canonical_node(const nl_formula *f, int i);

/* "(a OP b)" or "word(a,b)" of two canonical texts, in order when the
 * word commutes; NULL when out of memory */
static char *canonical_pair(const nl_formula *f, const nl_formula_tree *t, const char *open,
                            const char *mid, bool commutes)
{
    char *a = canonical_node(f, t->a), *b = canonical_node(f, t->b), *s = NULL;
    if (a && b) {
        const bool swap = commutes && strcmp(a, b) > 0;
        const size_t n = strlen(open) + strlen(a) + strlen(mid) + strlen(b) + 2;
        if ((s = malloc(n)))
            snprintf(s, n, "%s%s%s%s)", open, swap ? b : a, mid, swap ? a : b);
    }
    free(a);
    free(b);
    return s;
}

/* "name(a" + tail: a call or reduction of one value operand */
static char *canonical_wrap(const nl_formula *f, int a, const char *head, const char *tail)
{
    char *in = canonical_node(f, a);
    if (!in)
        return NULL;
    const size_t n = strlen(head) + strlen(in) + strlen(tail) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", head, in, tail);
    free(in);
    return s;
}

static char *canonical_leaf(const nl_formula *f, const nl_formula_tree *t)
{
    char buf[64];
    if (t->kind == FT_NUM)
        snprintf(buf, sizeof buf, "%.9g", (double)t->value);
    else if (t->kind == FT_PARAM) { /* a parameter is its name, start and kind: the kind's
                                     * first letter (",c" for per channel, as the search's
                                     * recorded hashes have it), nothing for a scalar */
        const char *word = nl_formula_param_kinds[f->params[t->param].kind].word;
        snprintf(buf, sizeof buf, "%s{%.9g%s%.1s}", f->params[t->param].name,
                 (double)f->params[t->param].init, word ? "," : "", word ? word : "");
    }
    else
        snprintf(buf, sizeof buf, "%s", t->kind == FT_X ? "x" : "eps");
    return strdup(buf);
}

static char *canonical_node(const nl_formula *f, int i)
{
    const nl_formula_tree *t = &f->tree[i];
    char head[64], tail[128], axes[96];
    const nl_formula_word *w = t->kind == FT_CALL || t->kind == FT_REDUCE ? &nl_formula_words[t->word] : NULL;
    switch (t->kind) {
    case FT_BINARY: {
        const nl_formula_word *row = operator_row(t->op, 2);
        snprintf(tail, sizeof tail, "%c", binary_symbol(t->op));
        return canonical_pair(f, t, "(", tail, row && row->commutative);
    }
    case FT_UNARY:
        return canonical_wrap(f, t->a, "(-", ")");
    case FT_POW:
        snprintf(tail, sizeof tail, "^%.9g)", (double)t->value);
        return canonical_wrap(f, t->a, "(", tail);
    case FT_REDUCE:
        snprintf(head, sizeof head, "%s(", w->name);
        snprintf(tail, sizeof tail, ",%s)", nl_name_set_text(&nl_norm_axis_names, t->axes, axes, sizeof axes));
        return canonical_wrap(f, t->a, head, tail);
    case FT_RUNNING: /* the start as the parser resolved it, given or not */
        snprintf(tail, sizeof tail, ",init=%.9g)", (double)t->value);
        return canonical_wrap(f, t->a, "running(", tail);
    case FT_CALL:
        snprintf(head, sizeof head, "%s(", w->name);
        if (t->b >= 0) /* two value operands (min, max) */
            return canonical_pair(f, t, head, ",", w->commutative);
        for (int k = 0, at = 0; k <= w->constants && at < (int)sizeof tail; k++)
            at += k < w->constants ? snprintf(tail + at, sizeof tail - (size_t)at, ",%.9g", (double)t->consts[k])
                                   : snprintf(tail + at, sizeof tail - (size_t)at, ")");
        return canonical_wrap(f, t->a, head, tail);
    case FT_VAR:
        return NULL;
    default:
        return canonical_leaf(f, t);
    }
}

nl_code nl_formula_canonical(const nl_formula *f, char *out, size_t size, nl_error *err)
{
    char *s = canonical_node(f, f->root);
    if (!s)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory writing a formula's canonical form");
    const bool fits = strlen(s) < size;
    snprintf(out, size, "%s", fits ? s : "");
    free(s);
    return fits ? NL_OK : nl_fail(err, NL_ERR_CONFIG, "the formula's canonical form is past %zu "
                                  "characters", size - 1);
}

/* ---- two trees the same ---- */

static bool same_node(const nl_formula *f, int i, const nl_formula *g, int j)
{
    const nl_formula_tree *s = &f->tree[i], *t = &g->tree[j];
    if (s->kind != t->kind || s->op != t->op || s->axes != t->axes || s->word != t->word ||
        s->init_given != t->init_given || memcmp(&s->value, &t->value, sizeof s->value) ||
        memcmp(s->consts, t->consts, sizeof s->consts))
        return false;
    if (s->kind == FT_PARAM)
        return !strcmp(f->params[s->param].name, g->params[t->param].name);
    const bool has_a = s->kind == FT_UNARY || s->kind == FT_BINARY || s->kind == FT_POW ||
                       s->kind == FT_REDUCE || s->kind == FT_RUNNING || s->kind == FT_CALL;
    if (has_a && ((s->a < 0) != (t->a < 0) || (s->a >= 0 && !same_node(f, s->a, g, t->a))))
        return false;
    const bool has_b = s->kind == FT_BINARY || s->kind == FT_CALL;
    return !has_b || ((s->b < 0) == (t->b < 0) && (s->b < 0 || same_node(f, s->b, g, t->b)));
}

bool nl_formula_same(const nl_formula *a, const nl_formula *b)
{
    if (a->n_params != b->n_params || !same_node(a, a->root, b, b->root))
        return false;
    for (int k = 0; k < a->n_params; k++)
        if (strcmp(a->params[k].name, b->params[k].name) ||
            a->params[k].kind != b->params[k].kind ||
            memcmp(&a->params[k].init, &b->params[k].init, sizeof a->params[k].init))
            return false;
    return true;
}
