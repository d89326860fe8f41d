/* Claims' arithmetic expressions: a bounded recursive-descent parser into
 * a node array, and its evaluation (results/expr.h). */
#include "results/expr.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OP_NUMBER, OP_NAME, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG, OP_FUNC1, OP_FUNC2 } nl_expr_op;

/* the functions: one argument, then two */
static const struct {
    const char *name;
    int args;
} functions[] = {{"abs", 1}, {"sqrt", 1}, {"log", 1}, {"exp", 1}, {"min", 2}, {"max", 2}};
enum { N_FUNCTIONS = sizeof functions / sizeof functions[0] };

typedef struct {
    const char *text, *p;
    nl_expr *e;
    int depth;
    char *why;
    size_t size;
    bool failed;
} parser;

static int fail(parser *P, const char *what)
{
    if (!P->failed)
        snprintf(P->why, P->size, "%s at character %d of '%s'", what, (int)(P->p - P->text) + 1, P->text);
    P->failed = true;
    return -1;
}

static void skip_space(parser *P)
{
    while (isspace((unsigned char)*P->p))
        P->p++;
}

static int add_node(parser *P, int op, int left, int right)
{
    if (P->e->n == NL_EXPR_MAX_NODES)
        return fail(P, "too long an expression (at most 64 terms)");
    nl_expr_node *n = &P->e->nodes[P->e->n];
    *n = (nl_expr_node){.op = op, .left = left, .right = right, .name = -1, .value = NAN};
    return P->e->n++;
}

static int expression(parser *P);

/* digits [. digits] [e [+-] digits]: at least one digit */
static int number(parser *P)
{
    const char *s = P->p;
    size_t len = strspn(s, "0123456789");
    if (s[len] == '.')
        len += 1 + strspn(s + len + 1, "0123456789");
    if (len == 0 || (len == 1 && s[0] == '.'))
        return fail(P, "expected a number");
    if (s[len] == 'e' || s[len] == 'E') {
        size_t k = len + 1 + (s[len + 1] == '+' || s[len + 1] == '-');
        const size_t digits = strspn(s + k, "0123456789");
        if (!digits)
            return fail(P, "an exponent needs digits");
        len = k + digits;
    }
    char text[64];
    if (len >= sizeof text)
        return fail(P, "too long a number");
    memcpy(text, s, len);
    text[len] = '\0';
    P->p += len;
    const int i = add_node(P, OP_NUMBER, -1, -1);
    if (i >= 0)
        P->e->nodes[i].value = strtod(text, NULL);
    return i;
}

static int name_index(parser *P, const char *name)
{
    for (int i = 0; i < P->e->n_names; i++)
        if (!strcmp(P->e->names[i], name))
            return i;
    if (P->e->n_names == NL_EXPR_MAX_NAMES)
        return fail(P, "too many names (at most 16)");
    snprintf(P->e->names[P->e->n_names], NL_EXPR_NAME_SIZE, "%s", name);
    return P->e->n_names++;
}

/* fn(arg) or fn(arg, arg) */
static int call(parser *P, const char *name)
{
    int f = -1;
    for (int i = 0; i < N_FUNCTIONS; i++)
        if (!strcmp(functions[i].name, name))
            f = i;
    if (f < 0)
        return fail(P, "unknown function (abs, sqrt, log, exp, min, max)");
    P->p++; /* ( */
    const int left = expression(P);
    int right = -1;
    if (left < 0)
        return -1;
    skip_space(P);
    if (functions[f].args == 2) {
        if (*P->p != ',')
            return fail(P, "min and max take two arguments: expected ','");
        P->p++;
        if ((right = expression(P)) < 0)
            return -1;
        skip_space(P);
    }
    if (*P->p != ')')
        return fail(P, "expected ')'");
    P->p++;
    const int i = add_node(P, functions[f].args == 1 ? OP_FUNC1 : OP_FUNC2, left, right);
    if (i >= 0)
        P->e->nodes[i].name = f;
    return i;
}

static int name_or_call(parser *P)
{
    const char *s = P->p;
    size_t len = 1;
    while (isalnum((unsigned char)s[len]) || s[len] == '_' || s[len] == '.')
        len++;
    char name[NL_EXPR_NAME_SIZE];
    if (len >= sizeof name)
        return fail(P, "too long a name");
    memcpy(name, s, len);
    name[len] = '\0';
    P->p += len;
    skip_space(P);
    if (*P->p == '(')
        return call(P, name);
    const int k = name_index(P, name);
    const int i = k < 0 ? -1 : add_node(P, OP_NAME, -1, -1);
    if (i >= 0)
        P->e->nodes[i].name = k;
    return i;
}

static int primary(parser *P)
{
    skip_space(P);
    const char c = *P->p;
    if (c == '(') {
        P->p++;
        const int inner = expression(P);
        skip_space(P);
        if (inner < 0)
            return -1;
        if (*P->p != ')')
            return fail(P, "expected ')'");
        P->p++;
        return inner;
    }
    if (c == '-') {
        if (++P->depth > NL_EXPR_MAX_DEPTH)
            return fail(P, "nested too deep");
        P->p++;
        const int inner = primary(P);
        P->depth--;
        return inner < 0 ? -1 : add_node(P, OP_NEG, inner, -1);
    }
    if (isdigit((unsigned char)c) || c == '.')
        return number(P);
    if (isalpha((unsigned char)c) || c == '_')
        return name_or_call(P);
    return fail(P, c ? "expected a number, a name, '(' or '-'" : "the expression ends too soon");
}

/* a chain of operands joined by the two operators of one precedence level */
static int chain(parser *P, int (*operand)(parser *), char op1, int code1, char op2, int code2)
{
    int left = operand(P);
    for (;;) {
        skip_space(P);
        const char c = *P->p;
        if (left < 0 || (c != op1 && c != op2))
            return left;
        P->p++;
        const int right = operand(P);
        if (right < 0)
            return -1;
        left = add_node(P, c == op1 ? code1 : code2, left, right);
    }
}

static int term(parser *P)
{
    return chain(P, primary, '*', OP_MUL, '/', OP_DIV);
}

static int expression(parser *P)
{
    if (++P->depth > NL_EXPR_MAX_DEPTH)
        return fail(P, "nested too deep");
    const int i = chain(P, term, '+', OP_ADD, '-', OP_SUB);
    P->depth--;
    return i;
}

bool nl_expr_parse(const char *text, nl_expr *e, char *why, size_t size)
{
    memset(e, 0, sizeof *e);
    parser P = {.text = text, .p = text, .e = e, .why = why, .size = size};
    e->root = expression(&P);
    skip_space(&P);
    if (e->root >= 0 && *P.p)
        fail(&P, "unexpected text");
    return !P.failed && e->root >= 0;
}

static double eval_node(const nl_expr *e, int i, nl_expr_lookup lookup, void *ctx)
{
    const nl_expr_node *n = &e->nodes[i];
    if (n->op == OP_NUMBER)
        return n->value;
    if (n->op == OP_NAME)
        return lookup(ctx, e->names[n->name]);
    const double l = eval_node(e, n->left, lookup, ctx);
    const double r = n->right >= 0 ? eval_node(e, n->right, lookup, ctx) : NAN;
    switch (n->op) {
    case OP_ADD:
        return l + r;
    case OP_SUB:
        return l - r;
    case OP_MUL:
        return l * r;
    case OP_DIV:
        return l / r;
    case OP_NEG:
        return -l;
    case OP_FUNC1: {
        static double (*const one[])(double) = {fabs, sqrt, log, exp};
        return one[n->name](l);
    }
    default:
        /* min and max of a NaN are NaN: a missing value is not the other */
        return isnan(l) || isnan(r) ? NAN : !strcmp(functions[n->name].name, "min") ? fmin(l, r) : fmax(l, r);
    }
}

double nl_expr_eval(const nl_expr *e, nl_expr_lookup lookup, void *ctx)
{
    return e->n ? eval_node(e, e->root, lookup, ctx) : NAN;
}

bool nl_expr_uses(const nl_expr *e, const char *name)
{
    for (int i = 0; i < e->n_names; i++)
        if (!strcmp(e->names[i], name))
            return true;
    return false;
}

static bool is_call(const nl_expr *e, int i, const char *function)
{
    return i >= 0 && e->nodes[i].op == OP_FUNC2 && !strcmp(functions[e->nodes[i].name].name, function);
}

static bool is_number(const nl_expr *e, int i, double value)
{
    return i >= 0 && e->nodes[i].op == OP_NUMBER && e->nodes[i].value == value;
}

/* min(1, max(0, X)) in either argument order */
bool nl_expr_is_share(const nl_expr *e)
{
    if (!e->n || !is_call(e, e->root, "min"))
        return false;
    const nl_expr_node *m = &e->nodes[e->root];
    const int clamp = is_number(e, m->left, 1) ? m->right : is_number(e, m->right, 1) ? m->left : -1;
    if (!is_call(e, clamp, "max"))
        return false;
    return is_number(e, e->nodes[clamp].left, 0) || is_number(e, e->nodes[clamp].right, 0);
}
