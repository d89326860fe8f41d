/* The formula's vocabulary as one table (norm/formula.h, nl_formula_words;
 * issue 114): every row's formulas parse; every row a user can write is
 * differentiated as central differences say (iterating the table, the
 * composites too), and a row whose derivative is 0 (detach) sends none;
 * configs/README.md's grammar table is the table's; the new words' own
 * promises: softplus against log1p(exp(u)) as PyTorch computes it, clamp's
 * gradient at its ends and its refusal of an empty range, the exporter's
 * text for each. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "norm/formula.h"
#include "norm/formula_internal.h"
#include "norm/formula_torch.h"
#include "testutil.h"

enum { N = 4, C = 6, COUNT = N * C };

/* a formula planned on feature vectors (N, C), with what one run needs */
typedef struct {
    nl_backend *be;
    nl_formula *f;
    nl_formula_plan *p;
    void *work;
    float *saved, *running[NL_FORMULA_MAX_RUNNING];
} runner;

static bool runner_make(runner *r, const char *expr, nl_error *err)
{
    memset(r, 0, sizeof *r);
    if (nl_formula_parse(expr, "", &r->f, err) != NL_OK)
        return false;
    const nl_formula_input in = {.ndim = 2, .n_capacity = N, .c = C, .p = 1, .groups = 1};
    if (nl_formula_plan_make(r->f, in, 1e-5f, &r->p, err) != NL_OK)
        return false;
    r->be = tu_cpu(1);
    r->work = aligned_alloc(64, (nl_formula_plan_workspace_bytes(r->p) + 63) & ~(size_t)63);
    r->saved = malloc((nl_formula_plan_saved_floats(r->p) + 1) * sizeof(float));
    ck_assert(r->work && r->saved);
    for (int k = 0; k < nl_formula_plan_running_count(r->p); k++) {
        size_t count;
        float init;
        const char *what;
        nl_formula_plan_running_at(r->p, k, &count, &init, &what);
        r->running[k] = malloc(count * sizeof(float));
        for (size_t i = 0; i < count; i++)
            r->running[k][i] = init;
    }
    return true;
}

static void runner_free(runner *r)
{
    for (int k = 0; k < NL_FORMULA_MAX_RUNNING; k++)
        free(r->running[k]);
    free(r->work), free(r->saved);
    nl_formula_plan_free(r->p);
    nl_formula_free(r->f);
}

/* y = the formula on x (training, statistics untouched); with dy, dx too */
static void run(runner *r, const float *x, float *y, const float *dy, float *dx)
{
    nl_formula_io io = {.n = N, .x = x, .y = y, .momentum = 0.1f, .saved = r->saved,
                        .workspace = r->work};
    memcpy(io.running, r->running, sizeof io.running);
    r->be->ops->formula_forward(r->be, r->p, NL_FORMULA_TRAIN_KEEP, &io);
    if (!dy)
        return;
    io.dy = dy;
    io.dx = dx;
    r->be->ops->formula_backward(r->be, r->p, NL_FORMULA_TRAIN_KEEP, &io);
}

/* the inputs: spread over [-1.8, 1.8], none within 0.05 of a kink the
 * table's words have here (0, 0.25 where min(x, 0.5 - x) ties, clamp's
 * -0.6 and 0.9) */
static void inputs(float *x, float *dy)
{
    for (int i = 0; i < COUNT; i++) {
        x[i] = ((float)((i * 7) % COUNT) - 11.5f) * 0.155f;
        dy[i] = sinf((float)i * 1.7f + 0.3f);
    }
}

/* the formula that exercises row w (NULL: none a user can write) */
static const char *exercise(const nl_formula_word *w, bool positive, char *buf, size_t size)
{
    const char *u = positive ? "(x * x + 0.5)" : "x";
    switch (w->kind) {
    case NL_WORD_OPERATOR: { /* the form with u, v, p replaced */
        size_t at = 0;
        for (const char *s = w->name; *s && at + 16 < size; s++)
            at += (size_t)snprintf(buf + at, size - at, "%s",
                                   *s == 'u' ? u : *s == 'v' ? "(x * x + 1)" : *s == 'p' ? "3"
                                                                            : (char[2]){*s, 0});
        return buf;
    }
    case NL_WORD_FUNCTION: {
        const int values = nl_formula_word_operands(w) - w->constants;
        snprintf(buf, size, "%s(%s%s%s)", w->name, u, values == 2 ? ", 0.5 - x" : "",
                 w->constants == 2 ? ", -0.6, 0.9" : "");
        return buf;
    }
    case NL_WORD_REDUCTION:
        snprintf(buf, size, "x * %s(%s, [batch, channels])", w->name, u);
        return buf;
    case NL_WORD_RUNNING:
        snprintf(buf, size, "x - %s(mean(x * x, [batch]))", w->name);
        return buf;
    case NL_WORD_INTERNAL:
        return NULL;
    }
    return NULL;
}

static bool all_finite(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

/* sum(dy * y) in double */
static double objective(runner *r, const float *x, const float *dy)
{
    float y[COUNT];
    run(r, x, y, NULL, NULL);
    double s = 0;
    for (int i = 0; i < COUNT; i++)
        s += (double)dy[i] * y[i];
    return s;
}

/* a row whose every derivative is the constant 0 (detach) */
static bool zero_derivative(const nl_formula_word *w)
{
    const int values = nl_formula_word_operands(w) - w->constants;
    bool zero = values > 0;
    for (int k = 0; k < values; k++)
        zero = zero && w->grad[k] && !strcmp(w->grad[k], "0");
    return zero;
}

/* the derived dx of one formula against central differences (step 1e-2:
 * float leaves errors near 1e-3 of the largest gradient); a zero
 * derivative's formula against exact zeros */
static void check_row(const nl_formula_word *w, const char *expr)
{
    runner r;
    nl_error err = {0};
    ck_assert_msg(runner_make(&r, expr, &err), "%s (row %s): %s", expr, w->name, err.msg);
    float x[COUNT], dy[COUNT], y[COUNT], dx[COUNT];
    inputs(x, dy);
    run(&r, x, y, dy, dx);
    double largest = 1e-3;
    for (int i = 0; i < COUNT; i++)
        largest = fmax(largest, fabs(dx[i]));
    for (int i = 0; i < COUNT; i++) {
        if (zero_derivative(w)) {
            ck_assert_msg(dx[i] == 0.0f, "%s: dx[%d] = %g, its row's derivative is 0", expr, i,
                          dx[i]);
            continue;
        }
        const float keep = x[i];
        x[i] = keep + 1e-2f;
        const double up = objective(&r, x, dy);
        x[i] = keep - 1e-2f;
        const double down = objective(&r, x, dy);
        x[i] = keep;
        const double fd = (up - down) / (2e-2);
        ck_assert_msg(fabs(fd - dx[i]) <= 2e-2 * largest,
                      "%s (row %s): dx[%d] = %.6g, central differences %.6g", expr, w->name, i,
                      dx[i], fd);
    }
    runner_free(&r);
}

/* every row's derivatives and body parse with the row's names */
START_TEST(test_every_row_parses)
{
    for (int i = 0; i < nl_formula_word_count; i++)
        for (int which = 0; which < 3; which++) {
            nl_formula *f = NULL;
            nl_error err = {0};
            ck_assert_msg(nl_formula_parse_word(i, which, &f, &err) == NL_OK, "%s", err.msg);
            nl_formula_free(f);
        }
    /* and a broken one is named by its row (the parser is not lenient) */
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_formula_parse("x * g", "", &f, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "unknown name 'g'"), "%s", err.msg);
    err = (nl_error){0};
    ck_assert_int_eq(nl_formula_parse("x * step(x)", "", &f, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "unknown function 'step'"), "%s", err.msg);
}
END_TEST

/* a row has a value (an operation or a body) and, for each value
 * operand, a derivative (a composite without one: through its body) */
START_TEST(test_every_row_has_a_value_and_derivative)
{
    for (int i = 0; i < nl_formula_word_count; i++) {
        const nl_formula_word *w = &nl_formula_words[i];
        const int values = nl_formula_word_operands(w) - w->constants;
        ck_assert_msg(w->op >= 0 || w->body || w->kind == NL_WORD_RUNNING, "%s: no value",
                      w->name);
        ck_assert_msg(!(w->op >= 0 && w->body), "%s: both an operation and a body", w->name);
        for (int k = 0; k < values; k++)
            ck_assert_msg(w->grad[k] || (w->body && !w->grad[0]), "%s: no derivative by operand %d",
                          w->name, k);
        /* running(...) is a buffer and its update: the exporter's own code */
        ck_assert_msg(w->kind == NL_WORD_INTERNAL || w->kind == NL_WORD_RUNNING || w->torch,
                      "%s: no PyTorch text", w->name);
    }
}
END_TEST

/* central differences over every row a user can write */
START_TEST(test_every_row_against_central_differences)
{
    int checked = 0, internal = 0;
    for (int i = 0; i < nl_formula_word_count; i++) {
        internal += nl_formula_words[i].kind == NL_WORD_INTERNAL;
        const nl_formula_word *w = &nl_formula_words[i];
        char expr[160];
        if (!exercise(w, false, expr, sizeof expr))
            continue;
        /* on all of [-1.8, 1.8] where the word is defined there, else on
         * positive values (log, sqrt, rsqrt) */
        runner r;
        nl_error err = {0};
        ck_assert_msg(runner_make(&r, expr, &err), "%s: %s", expr, err.msg);
        float x[COUNT], dy[COUNT], y[COUNT];
        inputs(x, dy);
        run(&r, x, y, NULL, NULL);
        runner_free(&r);
        if (!all_finite(y, COUNT))
            exercise(w, true, expr, sizeof expr);
        check_row(w, expr);
        checked++;
    }
    ck_assert_int_eq(checked, nl_formula_word_count - internal); /* all but the internal rows */
}
END_TEST

/* softplus against PyTorch's: log1p(exp(u)) below its threshold 20, u
 * above, within 2 ulp and 6e-8 (below u = -16 log(1 + exp(u)) in float
 * loses what log1p keeps: at most 6e-8) */
START_TEST(test_softplus_as_torch)
{
    runner r;
    nl_error err = {0};
    ck_assert_msg(runner_make(&r, "softplus(x)", &err), "%s", err.msg);
    double worst = 0;
    for (int rep = 0; rep < 10; rep++) {
        float x[COUNT], y[COUNT];
        for (int i = 0; i < COUNT; i++)
            x[i] = -40.0f + 80.0f * (float)(rep * COUNT + i) / (10.0f * COUNT - 1);
        run(&r, x, y, NULL, NULL);
        for (int i = 0; i < COUNT; i++) {
            const double ref = x[i] > 20 ? x[i] : log1p(exp((double)x[i]));
            const double err_i = fabs(y[i] - ref);
            worst = fmax(worst, err_i);
            ck_assert_msg(err_i <= 6e-8 + 2.4e-7 * fabs(ref), "softplus(%.9g) = %.9g, torch %.9g",
                          x[i], y[i], ref);
        }
    }
    ck_assert(worst > 0); /* the comparison read values */
    runner_free(&r);
}
END_TEST

/* clamp's gradient passes where lo <= u <= hi, ends included (as
 * torch.clamp); an empty range is refused at the call's column naming both */
START_TEST(test_clamp_ends_and_range)
{
    runner r;
    nl_error err = {0};
    ck_assert_msg(runner_make(&r, "clamp(x, -0.5, 0.5)", &err), "%s", err.msg);
    float x[COUNT], dy[COUNT], y[COUNT], dx[COUNT];
    for (int i = 0; i < COUNT; i++) {
        x[i] = i % 4 == 0 ? -0.5f : i % 4 == 1 ? 0.5f : i % 4 == 2 ? 0.75f : -0.25f;
        dy[i] = 1.0f + (float)i;
    }
    run(&r, x, y, dy, dx);
    for (int i = 0; i < COUNT; i++) {
        ck_assert_float_eq(y[i], fminf(fmaxf(x[i], -0.5f), 0.5f));
        ck_assert_msg(dx[i] == (i % 4 == 2 ? 0.0f : dy[i]), "clamp at %g: dx %g, dy %g", x[i],
                      dx[i], dy[i]);
    }
    runner_free(&r);
    nl_formula *f = NULL;
    err = (nl_error){0};
    ck_assert_int_eq(nl_formula_parse("x + clamp(x, 2, -1)", "", &f, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "model.norm.expr, column 5") && strstr(err.msg, "lo (2)") &&
                      strstr(err.msg, "hi (-1)"),
                  "%s", err.msg);
    err = (nl_error){0};
    ck_assert_int_eq(nl_formula_parse("clamp(x, x, 1)", "", &f, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "column 10") && strstr(err.msg, "constant number"), "%s",
                  err.msg);
}
END_TEST

/* detach: its value is u, no gradient reaches u through it, and the
 * gradient through the rest of the formula still does */
START_TEST(test_detach_stops_the_gradient)
{
    runner r;
    nl_error err = {0};
    ck_assert_msg(runner_make(&r, "x * detach(x)", &err), "%s", err.msg);
    float x[COUNT], dy[COUNT], y[COUNT], dx[COUNT];
    inputs(x, dy);
    run(&r, x, y, dy, dx);
    for (int i = 0; i < COUNT; i++) {
        ck_assert_float_eq(y[i], x[i] * x[i]);
        ck_assert_float_eq(dx[i], dy[i] * x[i]); /* d(x * c)/dx with c = x held */
    }
    runner_free(&r);
    /* which `normlab validate`'s central differences cannot check */
    nl_formula *f = NULL;
    ck_assert_int_eq(nl_formula_parse("softplus(x) + 2 * detach(x * x)", "", &f, &err), NL_OK);
    ck_assert_str_eq(nl_formula_stops_gradient(f), "detach");
    nl_formula_free(f);
    ck_assert_int_eq(nl_formula_parse("softplus(x) + clamp(x, 0, 1)", "", &f, &err), NL_OK);
    ck_assert_ptr_null(nl_formula_stops_gradient(f));
    nl_formula_free(f);
}
END_TEST

/* `normlab validate` on a formula with detach: its gradient check says it
 * does not apply (rather than failing a stop-gradient against central
 * differences), and the rest of the formula still validates */
START_TEST(test_validate_with_detach)
{
    tu_tmp_make("words-validate");
    tu_tmp_write("d.yaml",
                 "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, train_size: 64, "
                 "test_size: 32}\nmodel:\n  arch: cnn\n  widths: [8, 8]\n  norm:\n    type: expr\n"
                 "    expr: \"w * softplus(x - amax(x, [channels, spatial])) + detach(sigmoid(x))\"\n"
                 "    params: \"w = 1 per channel\"\ntrain: {batch_size: 8, steps: 2}\n");
    const int status = tu_normlab("validate d.yaml");
    char *out = tu_normlab_output();
    ck_assert_msg(status == 0 && strstr(out, "not applicable: the formula's detach(...)"),
                  "status %d: %s", status, out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* amax and amin over values that tie: the gradient split evenly among
 * the tied values (torch.amax's, torch.amin's), none to the others */
START_TEST(test_amax_ties_split_evenly)
{
    static const char *const exprs[2] = {"x * 0 + amax(x, [channels])", "x * 0 + amin(x, [channels])"};
    for (int e = 0; e < 2; e++) {
        runner r;
        nl_error err = {0};
        ck_assert_msg(runner_make(&r, exprs[e], &err), "%s", err.msg);
        float x[COUNT], dy[COUNT], y[COUNT], dx[COUNT];
        for (int i = 0; i < COUNT; i++) { /* per sample: three of six channels tie */
            const float top = e == 0 ? 2.0f : -2.0f;
            x[i] = i % C < 3 ? top : 0.25f * (float)(i % C) - 0.5f;
            dy[i] = 1.0f + 0.5f * (float)i;
        }
        run(&r, x, y, dy, dx);
        for (int b = 0; b < N; b++) {
            float total = 0;
            for (int c = 0; c < C; c++)
                total += dy[b * C + c];
            for (int c = 0; c < C; c++) {
                ck_assert_float_eq(y[b * C + c], e == 0 ? 2.0f : -2.0f);
                const float want = c < 3 ? total / 3 : 0.0f;
                ck_assert_msg(fabsf(dx[b * C + c] - want) <= 1e-5f * fabsf(total),
                              "%s: sample %d channel %d: dx %g, want %g", exprs[e], b, c,
                              dx[b * C + c], want);
            }
        }
        runner_free(&r);
    }
}
END_TEST

/* relu keeps a NaN, as torch.relu does (issue 118), and writes +0 for
 * every value <= 0, -0 included: nl_formula_apply (the planner's constants,
 * the CPU's small values, every GPU value) and the interpreter's rows */
START_TEST(test_relu_keeps_nan)
{
    ck_assert(isnan(nl_formula_apply(FO_RELU, NAN, 0, 0)));
    const float zero = nl_formula_apply(FO_RELU, -0.0f, 0, 0);
    ck_assert(zero == 0 && !signbit(zero));
    ck_assert_float_eq(nl_formula_apply(FO_RELU, 1.5f, 0, 0), 1.5f);
    ck_assert_float_eq(nl_formula_apply(FO_RELU, -INFINITY, 0, 0), 0.0f);
    runner r;
    nl_error err = {0};
    ck_assert_msg(runner_make(&r, "relu(x)", &err), "%s", err.msg);
    float x[COUNT], y[COUNT];
    for (int i = 0; i < COUNT; i++)
        x[i] = i % 4 == 0 ? NAN : i % 4 == 1 ? -0.0f : i % 4 == 2 ? -0.5f * (float)i : 0.25f * (float)i;
    run(&r, x, y, NULL, NULL);
    for (int i = 0; i < COUNT; i++)
        ck_assert_msg(isnan(x[i]) ? isnan(y[i])
                      : x[i] <= 0 ? y[i] == 0 && !signbit(y[i])
                                  : y[i] == x[i],
                      "relu(%g) = %g", x[i], y[i]);
    runner_free(&r);
}
END_TEST

/* the exporter writes each new word as its row's PyTorch text */
START_TEST(test_new_words_exported)
{
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_formula_parse("softplus(x) + clamp(x, -3, 2.5) * detach(x) - "
                                      "amax(x, [channels]) + amin(x, [batch])",
                                      "", &f, &err),
                     NL_OK);
    nl_buf out = {0};
    const nl_formula_torch_spec spec = {.name = "words", .eps = 1e-5f, .momentum = 0.1f,
                                        .groups = 1};
    ck_assert_int_eq(nl_formula_torch(f, &spec, &out, NULL, 0, &err), NL_OK);
    ck_assert_msg(strstr(out.data, "torch.nn.functional.softplus(x4)") &&
                      strstr(out.data, "torch.clamp(x4, -3.0, 2.5)") &&
                      strstr(out.data, "x4.detach()") &&
                      strstr(out.data, "torch.amax(x4, dim=_nl_dims(kind, (\"channels\",)), keepdim=True)") &&
                      strstr(out.data, "torch.amin(x4, dim=_nl_dims(kind, (\"batch\",)), keepdim=True)"),
                  "%s", out.data);
    nl_buf_free(&out);
    nl_formula_free(f);
}
END_TEST

/* configs/README.md's grammar table, from the rows */
START_TEST(test_readme_words_table_is_generated)
{
    free(tu_check_generated_section(
        NORMLAB_SOURCE_DIR "/configs/README.md",
        "<!-- BEGIN FORMULA WORDS (generated; do not edit by hand) -->\n",
        "<!-- END FORMULA WORDS -->", nl_formula_write_words_table, "the formula words table"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("formula_words");
    TCase *tc = tcase_create("words");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_row_parses);
    tcase_add_test(tc, test_every_row_has_a_value_and_derivative);
    tcase_add_test(tc, test_every_row_against_central_differences);
    tcase_add_test(tc, test_softplus_as_torch);
    tcase_add_test(tc, test_clamp_ends_and_range);
    tcase_add_test(tc, test_detach_stops_the_gradient);
    tcase_add_test(tc, test_amax_ties_split_evenly);
    tcase_add_test(tc, test_relu_keeps_nan);
    tcase_add_test(tc, test_validate_with_detach);
    tcase_add_test(tc, test_new_words_exported);
    tcase_add_test(tc, test_readme_words_table_is_generated);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
