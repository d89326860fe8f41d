/* The formula's vocabulary: one row per word (formula.h, nl_formula_word).
 * A new word is a row here and nothing else: the parser, `normlab list`,
 * configs/README.md's grammar table, the planner's derivatives and the
 * PyTorch exporter read it from this table. Only a word whose value needs
 * an operation the programs lack (core/backend/formula_program.h) adds one
 * there, with its meaning in nl_formula_apply, the interpreter and the
 * code generator.
 *
 * Derivatives are written the way the planner's hand rules used to build
 * them (the same operations, in the same order and grouping), so that the
 * derived programs keep their bits; the common-subexpression sharing of
 * the planner makes exp(u) in exp's derivative the word's own value. */
#include <stdio.h>
#include <string.h>

#include "norm/formula_internal.h"

const nl_formula_word nl_formula_words[] = {
    /* operators: written as symbols, their rows hold their derivatives */
    {"u + v", NL_WORD_OPERATOR, "u v", 0, "addition", FO_ADD, NULL, {"g", "g"}, "{u} + {v}", true},
    {"u - v", NL_WORD_OPERATOR, "u v", 0, "subtraction", FO_SUB, NULL, {"g", "-g"}, "{u} - {v}", false},
    {"u * v", NL_WORD_OPERATOR, "u v", 0, "multiplication", FO_MUL, NULL, {"g * v", "g * u"},
     "{u} * {v}", true},
    {"u / v", NL_WORD_OPERATOR, "u v", 0, "division", FO_DIV, NULL, {"g / v", "-(g * y / v)"},
     "{u} / {v}", false},
    {"-u", NL_WORD_OPERATOR, "u", 0, "negation", FO_NEG, NULL, {"-g"}, "-{u}", false},
    {"u ^ p", NL_WORD_OPERATOR, "u", 0,
     "a constant power (or u ** p; u ^ 0.5 is sqrt, u ^ -0.5 rsqrt); for a learned one write "
     "exp(p * log(u))",
     FO_POW, NULL, {"g * (p * u ^ (p - 1))"}, "torch.pow({u}, {p})", false},
    /* functions */
    {"sqrt", NL_WORD_FUNCTION, "u", 0, "square root", FO_SQRT, NULL, {"g * 0.5 / y"},
     "torch.sqrt({u})", false},
    {"rsqrt", NL_WORD_FUNCTION, "u", 0, "1 / sqrt", FO_RSQRT, NULL, {"g * -0.5 * (y * (y * y))"},
     "torch.rsqrt({u})", false},
    {"exp", NL_WORD_FUNCTION, "u", 0, "e to the power", FO_EXP, NULL, {"g * exp(u)"},
     "torch.exp({u})", false},
    {"log", NL_WORD_FUNCTION, "u", 0, "natural logarithm", FO_LOG, NULL, {"g / u"},
     "torch.log({u})", false},
    {"tanh", NL_WORD_FUNCTION, "u", 0, "hyperbolic tangent", FO_TANH, NULL,
     {"g * (1 - tanh(u) * tanh(u))"}, "torch.tanh({u})", false},
    {"sigmoid", NL_WORD_FUNCTION, "u", 0, "1 / (1 + exp(-u))", FO_SIGMOID, NULL,
     {"g * (sigmoid(u) * (1 - sigmoid(u)))"}, "torch.sigmoid({u})", false},
    {"erf", NL_WORD_FUNCTION, "u", 0, "the error function", FO_ERF, NULL,
     {"g * (1.1283791670955126 * exp(-(u * u)))"}, "torch.erf({u})", false},
    {"abs", NL_WORD_FUNCTION, "u", 0, "absolute value (gradient 0 at 0, as torch.abs)", FO_ABS,
     NULL, {"g * sign(u)"}, "torch.abs({u})", false},
    {"relu", NL_WORD_FUNCTION, "u", 0, "max(u, 0) (gradient 0 at 0, as torch.relu)", FO_RELU,
     NULL, {"g * step(u)"}, "torch.relu({u})", false},
    {"min", NL_WORD_FUNCTION, "u v", 0,
     "the smaller of two values (a tie's gradient split in half, as torch.minimum)", FO_MIN, NULL,
     {"g * takes_min(u, v)", "g * (1 - takes_min(u, v))"}, "torch.minimum({u}, {v})", true},
    {"max", NL_WORD_FUNCTION, "u v", 0, "the larger of two values (as torch.maximum)", FO_MAX,
     NULL, {"g * takes_min(-u, -v)", "g * (1 - takes_min(-u, -v))"}, "torch.maximum({u}, {v})", true},
    {"softplus", NL_WORD_FUNCTION, "u", 0,
     "log(1 + exp(u)), computed as max(u, 0) + log(1 + exp(-abs(u))) (never overflows; "
     "torch.nn.functional.softplus to float rounding, within 6e-8 of it below u = -16 where "
     "torch's log1p keeps exp(u))",
     -1, "max(u, 0) + log(1 + exp(-abs(u)))", {NULL}, "torch.nn.functional.softplus({u})", false},
    {"clamp", NL_WORD_FUNCTION, "u lo hi", 2,
     "u limited to [lo, hi], two constant numbers, lo <= hi; its gradient passes where "
     "lo <= u <= hi, ends included (as torch.clamp)",
     -1, "min(max(u, lo), hi)", {"g * (1 - step(lo - u)) * (1 - step(u - hi))"},
     "torch.clamp({u}, {lo}, {hi})", false},
    {"detach", NL_WORD_FUNCTION, "u", 0,
     "u, with no gradient through it (a stop-gradient, as torch's .detach())", -1, "u", {"0"},
     "{u}.detach()", false},
    /* reductions over the axes of the call */
    {"mean", NL_WORD_REDUCTION, "u", 0, "mean over the axes", FO_MEAN, NULL, {"g * invcount()"},
     "_nl_mean({u}, {axes})", false},
    {"var", NL_WORD_REDUCTION, "u", 0,
     "biased variance over the axes (two passes: mean((u - mean(u))^2))", -1,
     "mean((u - mean(u, [axes])) * (u - mean(u, [axes])), [axes])", {NULL},
     "_nl_var({u}, {axes})", false},
    {"std", NL_WORD_REDUCTION, "u", 0, "sqrt(var)", -1, "sqrt(var(u, [axes]))", {NULL},
     "_nl_std({u}, {axes})", false},
    {"rms", NL_WORD_REDUCTION, "u", 0, "sqrt(mean(u^2))", -1, "sqrt(mean(u * u, [axes]))", {NULL},
     "_nl_rms({u}, {axes})", false},
    {"sum", NL_WORD_REDUCTION, "u", 0, "sum over the axes", FO_SUM, NULL, {"g"},
     "_nl_sum({u}, {axes})", false},
    {"amax", NL_WORD_REDUCTION, "u", 0,
     "the largest value over the axes; its gradient split evenly among the values that tie "
     "for it (as torch.amax); a NaN is passed over, not propagated",
     FO_AMAX, NULL, {"g * eq(u, y) / ties(eq(u, y))"},
     "torch.amax({u}, dim={axes}, keepdim=True)", false},
    {"amin", NL_WORD_REDUCTION, "u", 0,
     "the smallest value over the axes (its gradient as amax's, as torch.amin)", -1,
     "-amax(-u, [axes])", {NULL}, "torch.amin({u}, dim={axes}, keepdim=True)", false},
    /* the planner lowers running(...) itself: in training the batch's
     * value (its gradient the reduction's), in evaluation a statistic */
    {"running", NL_WORD_RUNNING, "u", 0,
     "around a reduction over batch: the batch's value in training, the running average "
     "(model.norm.momentum) in evaluation; a var kept unbiased as PyTorch's running_var; "
     "starts at 1 for a spread or a mean of squares, else 0, or at running(u, init=V)",
     -1, NULL, {"g"}, NULL, false},
    /* derivatives' own operations: a derivative of theirs is 0 wherever
     * one exists (a step's, a sign's) */
    {"step", NL_WORD_INTERNAL, "u", 0, "1 where u > 0, else 0", FO_STEP, NULL, {"0"}, NULL, false},
    {"sign", NL_WORD_INTERNAL, "u", 0, "the sign of u: -1, 0 or 1", FO_SIGN, NULL, {"0"}, NULL, false},
    {"takes_min", NL_WORD_INTERNAL, "u v", 0,
     "the share of d min(u, v) u takes: 1, 1/2 at a tie (as torch.minimum), 0", FO_TAKES_MIN,
     NULL, {"0", "0"}, NULL, false},
    {"eq", NL_WORD_INTERNAL, "u v", 0, "1 where u == v, else 0", FO_EQ, NULL, {"0", "0"}, NULL, false},
    /* after the user's sum in the table, so that a sum is differentiated as
     * sum's row says */
    {"ties", NL_WORD_INTERNAL, "u", 0,
     "u summed over the axes of the reduction differentiated (an amax's ties counted)", FO_SUM,
     NULL, {"g"}, NULL, false},
    {"invcount", NL_WORD_INTERNAL, "", 0,
     "1 / the count of values the differentiated mean averages", FO_INVCOUNT, NULL, {NULL}, NULL, false},
};
const int nl_formula_word_count = (int)(sizeof nl_formula_words / sizeof nl_formula_words[0]);

const nl_formula_param_kind_row nl_formula_param_kinds[NL_PARAM_KIND_COUNT] = {
    [NL_PARAM_SCALAR] = {NULL, "one scalar", FC_ONE, "1", "1, 1, 1, 1"},
    [NL_PARAM_CHANNEL] = {"channel", "one per channel", FC_ALL, "num_channels", "1, g, c // g, 1"},
    [NL_PARAM_GROUP] = {"group", "one per channel group of model.norm.groups", FC_GROUPS, "groups",
                        "1, g, 1, 1"},
};

int nl_formula_param_size(nl_formula_param_kind kind, int c, int groups)
{
    const nl_formula_input in = {.c = c, .groups = groups < 1 ? 1 : groups};
    return (int)nl_formula_axis_size(&in, 1, 1, nl_formula_param_kinds[kind].channels);
}

int nl_formula_word_find(const char *name, bool internal)
{
    for (int i = 0; i < nl_formula_word_count; i++) {
        const nl_formula_word *w = &nl_formula_words[i];
        if (w->kind == NL_WORD_OPERATOR || (w->kind == NL_WORD_INTERNAL && !internal))
            continue;
        if (!strcmp(w->name, name))
            return i;
    }
    return -1;
}

int nl_formula_word_operands(const nl_formula_word *w)
{
    int n = 0;
    for (const char *s = w->operands; *s;) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        n++;
        while (*s && *s != ' ')
            s++;
    }
    return n;
}

const char *nl_formula_word_operand(const nl_formula_word *w, int i, char *buf, size_t size)
{
    const char *s = w->operands;
    buf[0] = 0;
    for (int k = 0; *s; k++) {
        while (*s == ' ')
            s++;
        const size_t len = strcspn(s, " ");
        if (k == i) {
            snprintf(buf, size, "%.*s", (int)len, s);
            return buf;
        }
        s += len;
    }
    return buf;
}

/* how a user writes the word: sqrt(u), clamp(u, lo, hi), mean(u, [axes]) */
void nl_formula_word_usage(const nl_formula_word *w, char *buf, size_t size)
{
    if (w->kind == NL_WORD_OPERATOR) {
        snprintf(buf, size, "%s", w->name);
        return;
    }
    size_t at = (size_t)snprintf(buf, size, "%s(", w->name);
    const int n = nl_formula_word_operands(w);
    for (int i = 0; i < n && at < size; i++) {
        char name[16];
        at += (size_t)snprintf(buf + at, size - at, "%s%s", i ? ", " : "",
                               nl_formula_word_operand(w, i, name, sizeof name));
    }
    if (at < size)
        snprintf(buf + at, size - at, "%s)", w->kind == NL_WORD_REDUCTION ? ", [axes]" : "");
}

/* a row's derivative as the table's cell says it */
static void derivative_of(const nl_formula_word *w, char *buf, size_t size)
{
    const int values = nl_formula_word_operands(w) - w->constants;
    if (w->kind == NL_WORD_RUNNING) {
        snprintf(buf, size, "training: its reduction's; evaluation: none (a statistic)");
        return;
    }
    if (values == 0) {
        snprintf(buf, size, "none (no operands)");
        return;
    }
    if (!w->grad[0]) {
        snprintf(buf, size, "through its value's formula");
        return;
    }
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < values && at < size; i++) {
        char name[16];
        at += (size_t)snprintf(buf + at, size - at, "%sd%s: `%s`", i ? "; " : "",
                               nl_formula_word_operand(w, i, name, sizeof name), w->grad[i]);
    }
}

void nl_formula_write_words_table(FILE *out)
{
    fprintf(out, "| word | meaning | value | derivative (g: the gradient arriving, y: the "
                 "value) | PyTorch |\n|---|---|---|---|---|\n");
    for (int i = 0; i < nl_formula_word_count; i++) {
        const nl_formula_word *w = &nl_formula_words[i];
        char usage[64], grad[256], value[160], torch[96];
        nl_formula_word_usage(w, usage, sizeof usage);
        derivative_of(w, grad, sizeof grad);
        if (w->body)
            snprintf(value, sizeof value, "`%s`", w->body);
        else
            snprintf(value, sizeof value, "%s", w->kind == NL_WORD_RUNNING
                                                    ? "the batch's value, or a running buffer"
                                                    : "an operation of the programs");
        if (w->torch)
            snprintf(torch, sizeof torch, "`%s`", w->torch);
        else
            snprintf(torch, sizeof torch, "%s", w->kind == NL_WORD_RUNNING
                                                    ? "a buffer updated in training"
                                                    : "none (never exported)");
        fprintf(out, "| `%s`%s | %s | %s | %s | %s |\n", usage,
                w->kind == NL_WORD_INTERNAL ? " (in derivatives only)" : "", w->help, value,
                grad, torch);
    }
}
