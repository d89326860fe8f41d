/* A claim's `expect:` string: "a > b by 0.05", "a/b ~ 1 within 0.1",
 * "rate(a > 2.9) >= 0.5", "(a - b) - (c - d) > 0", "count(abs(a - b) > 0)
 * == 0" (results/usage.md, "Claims and verdicts"). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/claims.h"

const char *const nl_cell_names[NL_CELL_COUNT] = {"a", "b", "c", "d"};

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
        else if (*s == '<' || *s == '>' || *s == '=')
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
static bool parse_rate(const tokens *t, const bool has[NL_CELL_COUNT], nl_claim *c, char *why, size_t size)
{
    int i = 3;
    /* a rate reads a's seeds alone: another cell would be ignored, as the
     * other forms refuse it */
    for (int k = NL_CELL_B; k < NL_CELL_COUNT; k++)
        if (has[k]) {
            snprintf(why, size, "the claim has a %s: cell%s the expectation does not use (a rate reads a's runs "
                     "alone: drop it)", nl_cell_names[k], k == NL_CELL_B ? " or b_metric:" : "");
            return false;
        }
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
    /* the margin's sign is the side a may lose on: a < b + W, a > b - W */
    const char *margin_sign = c->op == NL_EXPECT_LESS ? "+" : "-";
    if (by_allowed && i + 2 == t->n && !strcmp(t->text[i], margin_sign) && number(t->text[i + 1], &v) && v >= 0) {
        c->threshold = c->op == NL_EXPECT_LESS ? v : -v;
        c->noninferiority = true;
        return true;
    }
    if (!by_allowed || i + 2 != t->n || strcmp(t->text[i], "by") || !number(t->text[i + 1], &v) || v < 0) {
        snprintf(why, size, by_allowed ? "after 'a > b' only 'by D' may follow (a beyond b by D), or a margin a "
                                         "may lose by ('a < b + W', 'a > b - W': no worse than b by more than W), "
                                         "D and W numbers >= 0"
                                       : "nothing may follow the number ('by D' is for 'a > b by D')");
        return false;
    }
    c->threshold = c->op == NL_EXPECT_GREATER ? v : -v;
    return true;
}

/* a > b [by D], a/b OP R, a OP X, each with its ~ within D */
static bool parse_simple(const tokens *t, const bool has[NL_CELL_COUNT], nl_claim *c, char *why, size_t size)
{
    c->op = (nl_expect_op)op_of(t->text[1]);
    const bool ratio = !strcmp(t->text[0], "a/b"), rhs_b = !strcmp(t->text[2], "b");
    if (!rhs_b && !number(t->text[2], &c->threshold)) {
        snprintf(why, size, "after the comparison comes 'b' or a number, not '%s'", t->text[2]);
        return false;
    }
    if (ratio && rhs_b) {
        snprintf(why, size, "a ratio is compared with a number: a/b > 1.5, a/b ~ 1 within 0.1");
        return false;
    }
    if ((ratio || rhs_b) && !has[NL_CELL_B]) {
        snprintf(why, size, "the expectation compares with b, but the claim has no b: cell");
        return false;
    }
    if (!ratio && !rhs_b && has[NL_CELL_B]) {
        snprintf(why, size, "the claim has a b: cell the expectation does not use (write a > b, or drop b:)");
        return false;
    }
    if (has[NL_CELL_C]) {
        snprintf(why, size, "the claim has c: and d: cells: its expectation is an expression of a, b, c and d, "
                 "e.g. (a - b) - (c - d) > 0");
        return false;
    }
    c->effect = ratio ? NL_EFFECT_RATIO : rhs_b ? NL_EFFECT_DIFFERENCE : NL_EFFECT_VALUE;
    return parse_tail(t, 3, c, rhs_b, why, size);
}

/* the cells an expression names are the claim's cells, a among them, and
 * every cell the claim has is named */
static bool check_cells_used(const nl_expr *e, const bool has[NL_CELL_COUNT], char *why, size_t size)
{
    for (int i = 0; i < e->n_names; i++) {
        int cell = -1;
        for (int k = 0; k < NL_CELL_COUNT; k++)
            if (!strcmp(e->names[i], nl_cell_names[k]))
                cell = k;
        if (cell < 0) {
            snprintf(why, size, "'%s' is not a cell: the expression may use a, b, c and d", e->names[i]);
            return false;
        }
        if (!has[cell]) {
            snprintf(why, size, "the expression uses %s, but the claim has no %s: cell", e->names[i], e->names[i]);
            return false;
        }
    }
    for (int k = 0; k < NL_CELL_COUNT; k++)
        if (has[k] && !nl_expr_uses(e, nl_cell_names[k])) {
            snprintf(why, size, "the claim has a %s: cell the expectation does not use", nl_cell_names[k]);
            return false;
        }
    return true;
}

/* "EXPR OP X", "EXPR ~ X within D": the comparison is the first of < > ~
 * (an expression holds none); into e, *op, *x, *within */
static bool parse_comparison(const char *text, const bool has[NL_CELL_COUNT], nl_expr *e, int *op, double *x,
                             double *within, bool *inclusive, char *why, size_t size)
{
    const size_t at = strcspn(text, "<>~");
    char lhs[256];
    if (!text[at] || at >= sizeof lhs) {
        snprintf(why, size, "an expectation compares something with >, <, >=, <= or ~ (e.g. a > b, "
                 "(a - b) - (c - d) > 0, a/b ~ 1 within 0.1)");
        return false;
    }
    memcpy(lhs, text, at);
    lhs[at] = '\0';
    char expr_why[200];
    if (!nl_expr_parse(lhs, e, expr_why, sizeof expr_why)) {
        snprintf(why, size, "the left side: %s", expr_why);
        return false;
    }
    if (!check_cells_used(e, has, why, size))
        return false;
    tokens t;
    if (!tokenize(text + at, &t, why, size))
        return false;
    *op = t.n >= 2 ? op_of(t.text[0]) : -1;
    *inclusive = t.n >= 1 && strlen(t.text[0]) == 2;
    *within = 0;
    if (*op < 0 || !number(t.text[1], x)) {
        snprintf(why, size, "the right side reads OP X, X a number (OP: >, <, >=, <=, ~)");
        return false;
    }
    const bool tail_ok = *op == NL_EXPECT_WITHIN
                             ? t.n == 4 && !strcmp(t.text[2], "within") && number(t.text[3], within) && *within >= 0
                             : t.n == 2;
    if (!tail_ok)
        snprintf(why, size, *op == NL_EXPECT_WITHIN ? "'~ X' needs 'within D', D a number >= 0, and nothing after it"
                                                    : "nothing may follow the number");
    return tail_ok;
}

/* count(EXPR OP X) CMP K: the exact count of units with the outcome */
static bool parse_count(const char *text, const bool has[NL_CELL_COUNT], nl_claim *c, char *why, size_t size)
{
    const char *open = strchr(text, '('), *close = strrchr(text, ')');
    char inner[256];
    if (!open || !close || close < open || (size_t)(close - open - 1) >= sizeof inner) {
        snprintf(why, size, "a count reads count(a > X) >= K, count(abs(a - b) > X) == K, ...");
        return false;
    }
    memcpy(inner, open + 1, (size_t)(close - open - 1));
    inner[close - open - 1] = '\0';
    int op;
    if (!parse_comparison(inner, has, &c->effect_expr, &op, &c->outcome_x, &c->outcome_within,
                          &c->outcome_inclusive, why, size))
        return false;
    c->outcome_op = op;
    tokens t;
    double k;
    if (!tokenize(close + 1, &t, why, size))
        return false;
    const int cmp = t.n == 2 ? (!strcmp(t.text[0], "==") ? NL_EXPECT_WITHIN
                                : !strcmp(t.text[0], ">=") ? NL_EXPECT_GREATER
                                : !strcmp(t.text[0], "<=") ? NL_EXPECT_LESS : -1)
                             : -1;
    if (cmp < 0 || !number(t.text[1], &k) || k < 0 || k != floor(k) || k > 1e6) {
        snprintf(why, size, "count( ) is compared with == K, >= K or <= K, K a whole number >= 0");
        return false;
    }
    c->effect = NL_EFFECT_COUNT;
    c->op = (nl_expect_op)cmp;
    c->count_k = (int)k;
    c->threshold = k;
    return true;
}

bool nl_claim_parse_expect(const char *text, const bool has[NL_CELL_COUNT], nl_claim *c, char *why, size_t size)
{
    c->threshold = c->within = 0;
    c->noninferiority = false;
    while (isspace((unsigned char)*text))
        text++;
    if (!strncmp(text, "count", 5) && strchr(text, '('))
        return parse_count(text, has, c, why, size);
    tokens t;
    const bool simple = tokenize(text, &t, why, size);
    if (simple && t.n >= 1 && !strcmp(t.text[0], "rate"))
        return parse_rate(&t, has, c, why, size);
    if (simple && t.n >= 3 && (!strcmp(t.text[0], "a") || !strcmp(t.text[0], "a/b")) && op_of(t.text[1]) >= 0)
        return parse_simple(&t, has, c, why, size);
    int op;
    bool inclusive;
    if (!parse_comparison(text, has, &c->effect_expr, &op, &c->threshold, &c->within, &inclusive, why, size))
        return false;
    c->effect = NL_EFFECT_EXPR;
    c->op = (nl_expect_op)op;
    return true;
}
