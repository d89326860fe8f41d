// ctest-labels: kernels
/* A normalizer written as a formula (model.norm.type expr): every registry
 * row that carries its formula (norm/registry.h) computes, as expr, the
 * built-in's outputs, input gradient, parameter gradients, running
 * statistics and evaluation outputs to float rounding, on every input it
 * accepts, on one thread and two; the derived gradients of formulas no
 * built-in has agree with central differences; and bad formulas are
 * refused at their column. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "model/model.h"
#include "norm/formula.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "norm_space.h"
#include "testutil.h"

#define TOL 2e-5
#define STEPS 3
enum { N = 3 };

static void shape_of(int ndim, int *c, int *h, int *w)
{
    *c = ndim == 3 ? 4 : 6; /* tokens: T */
    *h = ndim == 2 ? 1 : ndim == 3 ? 6 : 5;
    *w = ndim == 4 ? 4 : 1;
}

typedef struct {
    float *y, *dx, *y_eval;
    float *grads[8], *running[4];
    size_t grad_count[8], running_count[4];
    char grad_name[8][80], running_name[4][80];
    int n_grads, n_running;
} outcome;

static float *read_back(nl_backend *be, const float *src, size_t count)
{
    float *host = malloc(count * sizeof *host);
    be->ops->download(be, host, src, count * sizeof *host);
    return host;
}

/* parameters start from `from`'s values of the same name (the built-in's
 * own starts, ScaleNorm's sqrt(C*H*W) among them, then drawn) */
static outcome run_layer(nl_backend *be, const tu_norm_ctx *ctx, nl_model *from, nl_model **keep,
                         const char *what)
{
    int c, h, w;
    shape_of(ctx->ndim, &c, &h, &w);
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = c;
    spec.in_h = h;
    spec.in_w = w;
    nl_model *m = NULL;
    nl_error err = {0};
    tu_norm_ctx copy = *ctx;
    ck_assert_msg(nl_model_build_graph(&spec, be, N, N, 1, tu_build_norm, &copy, &m, &err) == NL_OK,
                  "%s: %s", what, err.msg);
    const size_t count = (size_t)N * c * h * w;
    float *x = malloc(count * sizeof *x), *dy = malloc(count * sizeof *dy);
    outcome o = {0};
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        float *v = malloc(p->count * sizeof *v);
        if (from) {
            nl_param *q = nl_model_param(from, p->name);
            ck_assert_msg(q && q->count == p->count, "%s: parameter %s is the built-in's", what,
                          p->name);
            be->ops->download(be, v, q->data, p->count * sizeof *v);
        } else {
            be->ops->download(be, v, p->data, p->count * sizeof *v);
            for (size_t k = 0; k < p->count; k++) /* off the start, by a draw */
                v[k] += 0.25f * sinf((float)(k + 1) * (float)(i + 3));
        }
        be->ops->upload(be, p->data, v, p->count * sizeof *v);
        free(v);
    }
    for (int step = 0; step < STEPS; step++) {
        tu_fill_normal(x, count, 100 + (uint64_t)step, 1.5f, 2.0f);
        be->ops->upload(be, m->input->data, x, count * sizeof *x);
        m->step = step;
        nl_model_forward(m, N, NL_MODE_TRAIN);
    }
    o.y = read_back(be, m->logits->data, count);
    tu_fill_normal(dy, count, 200, 0.0f, 1.0f);
    nl_model_backward_from(m, N, dy);
    o.dx = read_back(be, m->input->grad, count);
    for (int i = 0; i < m->n_params && o.n_grads < 8; i++) {
        snprintf(o.grad_name[o.n_grads], 80, "%s", m->params[i]->name);
        o.grad_count[o.n_grads] = m->params[i]->count;
        o.grads[o.n_grads++] = read_back(be, m->params[i]->grad, m->params[i]->count);
    }
    for (int i = 0; i < m->n_states && o.n_running < 4; i++) {
        snprintf(o.running_name[o.n_running], 80, "%s", m->states[i]->name);
        o.running_count[o.n_running] = m->states[i]->count;
        o.running[o.n_running++] = read_back(be, m->states[i]->data, m->states[i]->count);
    }
    tu_fill_normal(x, count, 300, 1.5f, 2.0f);
    be->ops->upload(be, m->input->data, x, count * sizeof *x);
    nl_model_forward(m, N, NL_MODE_EVAL);
    o.y_eval = read_back(be, m->logits->data, count);
    free(x);
    free(dy);
    *keep = m;
    return o;
}

static void outcome_free(outcome *o)
{
    free(o->y), free(o->dx), free(o->y_eval);
    for (int i = 0; i < o->n_grads; i++)
        free(o->grads[i]);
    for (int i = 0; i < o->n_running; i++)
        free(o->running[i]);
}

static const float *named(const outcome *o, const char *name, bool running)
{
    const int n = running ? o->n_running : o->n_grads;
    for (int i = 0; i < n; i++)
        if (!strcmp(running ? o->running_name[i] : o->grad_name[i], name))
            return running ? o->running[i] : o->grads[i];
    return NULL;
}

/* the expr spec of `row` on ndim, from the built-in's */
static nl_norm_spec expr_of(const nl_norm_info *row, const nl_norm_spec *builtin, int ndim)
{
    nl_norm_spec s = *builtin;
    nl_norm_spec_defaults(&s, NL_NORM_EXPR);
    s.eps = builtin->eps;
    s.momentum = builtin->momentum;
    s.cumulative = builtin->cumulative;
    s.groups = (row->keys & NL_NORM_KEY_GROUPS) ? builtin->groups : 1;
    snprintf(s.expr, sizeof s.expr, "%s", row->formula[nl_norm_layout_index(ndim)]);
    snprintf(s.params, sizeof s.params, "%s", row->formula_params);
    return s;
}

static int check_rows(nl_backend *be)
{
    int compared = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
        if (!row->formula_params)
            continue;
        for (int ndim = 2; ndim <= 4; ndim++) {
            const char *text = row->formula[nl_norm_layout_index(ndim)];
            ck_assert_msg((text != NULL) == nl_norm_accepts(row, ndim),
                          "%s: a formula on ndim %d exactly where the row accepts it",
                          row->id.name, ndim);
            if (!text)
                continue;
            tu_norm_ctx builtin = {.ndim = ndim};
            nl_norm_spec_defaults(&builtin.norm, (nl_norm_kind)k);
            builtin.norm.affine = true;
            builtin.norm.groups = 2;
            builtin.norm.momentum = 0.3f;
            tu_norm_ctx expr = {.ndim = ndim, .norm = expr_of(row, &builtin.norm, ndim)};
            char what[200];
            snprintf(what, sizeof what, "%s as expr on ndim %d (%d threads)", row->id.name, ndim,
                     be->threads);
            nl_model *mb = NULL, *me = NULL;
            outcome a = run_layer(be, &builtin, NULL, &mb, what);
            outcome b = run_layer(be, &expr, mb, &me, what);
            int c, h, w;
            shape_of(ndim, &c, &h, &w);
            const size_t count = (size_t)N * c * h * w;
            char msg[320];
            snprintf(msg, sizeof msg, "%s: forward (train)", what);
            tu_assert_close(b.y, a.y, count, TOL, msg);
            snprintf(msg, sizeof msg, "%s: dx", what);
            tu_assert_close(b.dx, a.dx, count, TOL, msg);
            ck_assert_msg(a.n_grads == b.n_grads, "%s: %d parameters, built-in %d", what,
                          b.n_grads, a.n_grads);
            for (int i = 0; i < a.n_grads; i++) {
                const float *g = named(&b, a.grad_name[i], false);
                ck_assert_msg(g != NULL, "%s: no parameter %s", what, a.grad_name[i]);
                snprintf(msg, sizeof msg, "%s: gradient of %s", what, a.grad_name[i]);
                tu_assert_close(g, a.grads[i], a.grad_count[i], TOL, msg);
            }
            /* the running statistics the formula keeps are the built-in's
             * (mean-only batch norm also keeps a variance it never reads) */
            for (int i = 0; i < b.n_running; i++) {
                const float *r = named(&a, b.running_name[i], true);
                ck_assert_msg(r != NULL, "%s: the built-in has no %s", what, b.running_name[i]);
                snprintf(msg, sizeof msg, "%s: %s", what, b.running_name[i]);
                tu_assert_close(b.running[i], r, b.running_count[i], TOL, msg);
            }
            ck_assert_msg(b.n_running > 0 || !nl_norm_keeps_running(&builtin.norm),
                          "%s: the built-in keeps running statistics, the formula none", what);
            snprintf(msg, sizeof msg, "%s: forward (eval)", what);
            tu_assert_close(b.y_eval, a.y_eval, count, TOL, msg);
            outcome_free(&a);
            outcome_free(&b);
            nl_model_free(mb);
            nl_model_free(me);
        }
        compared++;
    }
    return compared;
}

/* the case `c` of formula_goldens.nlfx ("case<i>"): its text's fields */
typedef struct {
    char expr[1025], params[257];
    int ndim, groups;
} golden_case;

static golden_case golden_text(const tu_fixture *fx, const char *c)
{
    char name[64], text[1500];
    snprintf(name, sizeof name, "%s.text", c);
    tu_get_string(fx, name, text, sizeof text);
    golden_case g = {0};
    char *tab1 = strchr(text, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
    char *tab3 = tab2 ? strchr(tab2 + 1, '\t') : NULL;
    ck_assert_msg(tab3 != NULL, "%s: text is expr, params, ndim, groups", name);
    *tab1 = *tab2 = *tab3 = '\0';
    snprintf(g.expr, sizeof g.expr, "%.1024s", text);
    snprintf(g.params, sizeof g.params, "%.256s", tab1 + 1);
    g.ndim = atoi(tab2 + 1);
    g.groups = atoi(tab3 + 1);
    return g;
}

/* PyTorch's autograd on the same text (tests/golden/formula_torch.py):
 * one training step's output, input and parameter gradients and running
 * statistics, then the evaluation output, for every built-in's formula
 * and the formulas no built-in has */
START_TEST(test_formulas_against_pytorch)
{
    tu_fixture *fx = tu_fixture_load("formula_goldens.nlfx");
    int cases = 0;
    char c[32];
    for (;; cases++) {
        snprintf(c, sizeof c, "case%d.text", cases);
        if (!tu_find(fx, c))
            break;
    }
    /* NL_FORMULA_CASES_ANY: a fixture of a few cases being tried out */
    const bool any = getenv("NL_FORMULA_CASES_ANY") != NULL;
    ck_assert_int_ge(cases, any ? 1 : 20);
    /* every registry formula has its case: a changed formula asks for
     * the goldens again */
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
        for (int ndim = 2; ndim <= 4 && row->formula_params && !any; ndim++) {
            const char *text = row->formula[nl_norm_layout_index(ndim)];
            bool found = text == NULL;
            for (int i = 0; i < cases && !found; i++) {
                snprintf(c, sizeof c, "case%d", i);
                const golden_case g = golden_text(fx, c);
                found = g.ndim == ndim && !strcmp(g.expr, text) && !strcmp(g.params, row->formula_params);
            }
            ck_assert_msg(found, "%s on ndim %d: its formula has no PyTorch case; run "
                                 "/usr/bin/python3 tests/golden/formula_torch.py",
                          row->id.name, ndim);
        }
    }
    nl_backend *be = tu_cpu(1);
    for (int i = 0; i < cases; i++) {
        snprintf(c, sizeof c, "case%d", i);
        const golden_case g = golden_text(fx, c);
        tu_norm_ctx ctx = {.ndim = g.ndim};
        nl_norm_spec_defaults(&ctx.norm, NL_NORM_EXPR);
        ctx.norm.eps = 1e-5f;
        ctx.norm.momentum = 0.1f;
        ctx.norm.groups = g.groups;
        snprintf(ctx.norm.expr, sizeof ctx.norm.expr, "%s", g.expr);
        snprintf(ctx.norm.params, sizeof ctx.norm.params, "%s", g.params);
        nl_model_spec spec;
        nl_model_spec_defaults(&spec);
        spec.in_c = g.ndim == 4 ? 6 : g.ndim == 3 ? 5 : 6;
        spec.in_h = g.ndim == 4 ? 3 : g.ndim == 3 ? 6 : 1;
        spec.in_w = g.ndim == 4 ? 4 : 1;
        nl_model *m = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_model_build_graph(&spec, be, 6, 6, 1, tu_build_norm, &ctx, &m,
                                           &err) == NL_OK,
                      "%s (%s): %s", c, g.expr, err.msg);
        const int n = 4; /* the fixture's batch, one below the planned capacity */
        const size_t count = (size_t)n * spec.in_c * spec.in_h * spec.in_w;
        be->ops->upload(be, m->input->data, tu_getf_in(fx, c, "x"), count * sizeof(float));
        for (int k = 0; k < m->n_params; k++) {
            char pname[96];
            snprintf(pname, sizeof pname, "param.%s", strchr(m->params[k]->name, '.') + 1);
            const tu_tensor *t = tu_get_in(fx, c, pname);
            ck_assert_uint_eq(t->count, m->params[k]->count);
            be->ops->upload(be, m->params[k]->data, t->data, t->count * sizeof(float));
        }
        nl_model_forward(m, n, NL_MODE_TRAIN);
        char what[1300];
        float *got = read_back(be, m->logits->data, count);
        snprintf(what, sizeof what, "%s (%s): y", c, g.expr);
        tu_assert_close(got, tu_getf_in(fx, c, "y"), count, 1e-5, what);
        free(got);
        nl_model_backward_from(m, n, tu_getf_in(fx, c, "dy"));
        got = read_back(be, m->input->grad, count);
        snprintf(what, sizeof what, "%s (%s): dx", c, g.expr);
        tu_assert_close(got, tu_getf_in(fx, c, "dx"), count, 1e-5, what);
        free(got);
        for (int k = 0; k < m->n_params; k++) {
            char pname[96];
            snprintf(pname, sizeof pname, "dparam.%s", strchr(m->params[k]->name, '.') + 1);
            got = read_back(be, m->params[k]->grad, m->params[k]->count);
            snprintf(what, sizeof what, "%s (%s): %s", c, g.expr, pname);
            tu_assert_close(got, tu_getf_in(fx, c, pname), m->params[k]->count, 1e-5, what);
            free(got);
        }
        for (int k = 0; k < m->n_states; k++) {
            char rname[32];
            snprintf(rname, sizeof rname, "running%d", k);
            const tu_tensor *t = tu_get_in(fx, c, rname);
            ck_assert_uint_eq(t->count, m->states[k]->count);
            got = read_back(be, m->states[k]->data, t->count);
            snprintf(what, sizeof what, "%s (%s): %s", c, g.expr, m->states[k]->name);
            tu_assert_close(got, t->data, t->count, 1e-5, what);
            free(got);
        }
        be->ops->upload(be, m->input->data, tu_getf_in(fx, c, "x_eval"), count * sizeof(float));
        nl_model_forward(m, n, NL_MODE_EVAL);
        got = read_back(be, m->logits->data, count);
        snprintf(what, sizeof what, "%s (%s): y (eval)", c, g.expr);
        tu_assert_close(got, tu_getf_in(fx, c, "y_eval"), count, 1e-5, what);
        free(got);
        nl_model_free(m);
    }
    tu_fixture_free(fx);
}
END_TEST

START_TEST(test_builtins_as_formulas)
{
    /* batch, layer, group, instance, rms, dyt, frn, scale, mean-only */
    ck_assert_int_ge(check_rows(tu_cpu(1)), 9);
    ck_assert_int_ge(check_rows(tu_cpu(2)), 9);
}
END_TEST

/* Each bad formula is refused by validate and run with exit status 2, the
 * file, the line of its key, the column within the formula and what is
 * accepted there, and run writes nothing */
START_TEST(test_bad_formulas_refused_at_their_column)
{
    static const struct {
        const char *expr, *params, *key, *says;
        int line, column;
    } cases[] = {
        {"weight * tanh(alpha * x) + bais", "alpha = 0.5, weight = 1 per channel", "model.norm.expr",
         "unknown name 'bais'", 6, 28},
        {"weight * x / sqrt(mean(x^2, [channels, tokens]) + eps)", "weight = 1 per channel",
         "model.norm.expr", "has no such axis", 6, 19},
        {"x - running(mean(x, [channels, spatial]))", "", "model.norm.expr",
         "without the batch axis", 6, 5},
        {"x * gamma", "gamma = 1 per channel, beta = 0", "model.norm.params",
         "declared but model.norm.expr never uses it", 7, 24},
        {"x * frobnicate(x)", "", "model.norm.expr", "unknown function 'frobnicate'", 6, 5},
        {"mean(x, [channels, spatial])", "", "model.norm.expr", "a normalizer's output has the "
         "input's shape", 6, 1},
        {"x ^ y", "", "model.norm.expr", "the exponent must be a constant number", 6, 5},
        {"(x - 1", "", "model.norm.expr", "expected ')'", 6, 7},
        {"x * w", "w = one per channel", "model.norm.params", "expected the starting value", 7, 5},
    };
    tu_tmp_make("expr-bad");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml,
                 "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, train_size: 64, "
                 "test_size: 32}\nmodel:\n  arch: cnn\n  widths: [8, 8]\n  norm:\n    expr: "
                 "\"%s\"\n    params: \"%s\"\n    type: expr\ntrain: {batch_size: 8, steps: 2}\n",
                 cases[i].expr, cases[i].params);
        tu_tmp_write("bad.yaml", yaml);
        const char *commands[2] = {"validate bad.yaml", "run bad.yaml --out written"};
        for (int c = 0; c < 2; c++) {
            const int status = tu_normlab(commands[c]);
            char *out = tu_normlab_output();
            char where[64], column[32];
            snprintf(where, sizeof where, "bad.yaml:%d:", cases[i].line);
            snprintf(column, sizeof column, "column %d:", cases[i].column);
            ck_assert_msg(status == 2 && strstr(out, where) && strstr(out, cases[i].key) &&
                              strstr(out, column) && strstr(out, cases[i].says),
                          "%s on \"%s\": status %d, wanted 2, %s, %s, %s, '%s'; said: %s",
                          commands[c], cases[i].expr, status, where, cases[i].key, column,
                          cases[i].says, out);
            free(out);
        }
        char path[512];
        snprintf(path, sizeof path, "%s/written", tu_tmp);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f == NULL, "run on \"%s\" wrote %s", cases[i].expr, path);
    }
}
END_TEST

/* A formula that gives NaN or infinity in training ends the run diverged,
 * with a ReLU after it fused or not (issue 118: the ReLU wrote 0 for a NaN,
 * so these trained to "ok" at chance), and validate's gradient check fails
 * it, exit 1, saying what was not finite (its NaN error read as none) */
START_TEST(test_nonfinite_formulas_diverge)
{
    static const char *const formulas[] = {"x * 0 / 0", "log(x)", "sqrt(x - 1)",
                                           "-exp(100 * x)"};
    static const char *const models[] = {
        "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64, test_size: 32}\n"
        "model:\n  arch: mlp\n  widths: [16, 16]\n",
        "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, train_size: 64, "
        "test_size: 32}\nmodel:\n  arch: cnn\n  widths: [8, 8]\n",
        /* the channel-blocked layout, where this device takes it */
        "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, train_size: 64, "
        "test_size: 32}\nmodel:\n  arch: cnn\n  widths: [16, 16]\n  layout: blocked\n"};
    static const char *const model_names[] = {"mlp", "cnn", "cnn blocked"};
    tu_tmp_make("expr-nonfinite");
    for (size_t f = 0; f < sizeof formulas / sizeof formulas[0]; f++)
        for (size_t a = 0; a < sizeof models / sizeof models[0]; a++) {
            char yaml[2048];
            snprintf(yaml, sizeof yaml,
                     "%s  norm:\n    type: expr\n    expr: \"%s\"\n    placement: before\n"
                     "train: {batch_size: 8, steps: 6, log_every: 2, eval_every: 6}\n",
                     models[a], formulas[f]);
            tu_tmp_write("nan.yaml", yaml);
            const int checked = tu_normlab("validate nan.yaml");
            char *out = tu_normlab_output();
            if (a == 2 && checked == 2 && strstr(out, "layout")) {
                free(out); /* refused: this device takes no block */
                continue;
            }
            ck_assert_msg(checked == 1 && strstr(out, "not finite") && !strstr(out, ": ok"),
                          "validate on %s (%s): status %d, wanted 1 and 'not finite'; said: %s",
                          formulas[f], model_names[a], checked, out);
            free(out);
            /* -exp(100 * x) is -inf where x > 0.89, which a ReLU after it
             * maps to 0 as torch.relu does; its gradient there (0 * inf) is
             * the formula path's to make NaN (core/cpu/formula.c) */
            if (strstr(formulas[f], "exp"))
                continue;
            /* the ReLU keeps a NaN, fused into the formula's passes, into
             * the CNN's max pooling or a layer of its own (NORMLAB_FUSE=0),
             * so that it reaches the loss at the step it appears */
            for (int fuse = 0; fuse < 2; fuse++) {
                if (!fuse)
                    setenv("NORMLAB_FUSE", "0", 1);
                const int status = tu_normlab("run nan.yaml --out ran");
                unsetenv("NORMLAB_FUSE");
                out = tu_normlab_output();
                char *summary = tu_tmp_read("ran/summary.json");
                /* at the step it appears, saying where */
                ck_assert_msg(status == 0 && summary && strstr(summary, "\"diverged\"") &&
                                  strstr(summary, "at step 1, the first step whose loss was not "
                                                  "finite; first not finite in the output of layer "),
                              "%s (%s, %s): status %d, wanted a run diverged at step 1 naming "
                              "the layer; said: %s; summary.json: %.600s",
                              formulas[f], model_names[a], fuse ? "fused" : "NORMLAB_FUSE=0",
                              status, out, summary ? summary : "(none)");
                free(out), free(summary);
                char rm[512];
                snprintf(rm, sizeof rm, "rm -rf %s/ran", tu_tmp);
                ck_assert_int_eq(system(rm), 0);
            }
        }
    tu_tmp_remove();
}
END_TEST

/* configs/README.md's table of the built-ins as formulas, from their rows */
START_TEST(test_readme_formula_table_is_generated)
{
    free(tu_check_generated_section(
        NORMLAB_SOURCE_DIR "/configs/README.md",
        "<!-- BEGIN FORMULA TABLE (generated; do not edit by hand) -->\n",
        "<!-- END FORMULA TABLE -->", nl_norm_write_formula_table, "the formula table"));
}
END_TEST

/* a byte string that is valid UTF-8 */
static bool valid_utf8(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        const int len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (!len)
            return false;
        for (int i = 1; i < len; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += len;
    }
    return true;
}

/* issue 118 #8: a message quotes a whole character (a multi-byte one
 * whole, a control byte escaped), and a value that keeps none of the
 * input's axes says so */
START_TEST(test_messages_quote_whole_characters)
{
    static const struct {
        const char *expr, *quoted;
    } cases[] = {
        {"x + \xc3\xa9", "'\xc3\xa9'"},          /* an e acute where a value is expected */
        {"x \xe2\x88\x92 1", "'\xe2\x88\x92'"}, /* a minus sign after a whole formula */
        {"x + \x01", "'\\x01'"},
        {"x + \xff", "'\\xFF'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nl_formula *f = NULL;
        nl_error err = {0};
        ck_assert_int_eq(nl_formula_parse(cases[i].expr, "", &f, &err), NL_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, cases[i].quoted), "case %zu: %s", i, err.msg);
        ck_assert_msg(valid_utf8(err.msg), "case %zu: not UTF-8: %s", i, err.msg);
    }
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_formula_parse("mean(x, [batch, channels, spatial])", "", &f, &err), NL_OK);
    nl_formula_plan *p = NULL;
    const nl_formula_input in = {.ndim = 4, .n_capacity = 2, .c = 4, .p = 9, .groups = 1};
    ck_assert_int_eq(nl_formula_plan_make(f, in, 1e-5f, &p, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "keeps none of the input's axes"), "%s", err.msg);
    nl_formula_free(f);
}
END_TEST

/* issue 114: every word of the vocabulary (its table, nl_formula_words,
 * which `normlab list` prints) has a derivative: a formula using it plans
 * its backward, where a row without one is an error naming the
 * operation, never a silent zero gradient (tests/test_formula_words.c
 * holds each to central differences) */
START_TEST(test_every_word_has_a_derivative)
{
    const nl_formula_input in = {.ndim = 2, .n_capacity = 4, .c = 8, .p = 1, .groups = 1};
    int planned = 0;
    for (int i = 0; i < nl_formula_word_count; i++) {
        const nl_formula_word *w = &nl_formula_words[i];
        const int values = nl_formula_word_operands(w) - w->constants;
        char expr[160];
        if (w->kind == NL_WORD_OPERATOR || w->kind == NL_WORD_INTERNAL)
            continue; /* written as symbols; only in derivatives */
        if (w->kind == NL_WORD_RUNNING)
            snprintf(expr, sizeof expr, "x - %s(mean(x, [batch]))", w->name);
        else if (w->kind == NL_WORD_REDUCTION)
            snprintf(expr, sizeof expr, "x - %s(x, [channels])", w->name);
        else
            snprintf(expr, sizeof expr, "x * %s(x * x + 1%s%s)", w->name,
                     values == 2 ? ", 0.5 * x" : "", w->constants == 2 ? ", -1, 3" : "");
        nl_formula *f = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_formula_parse(expr, "", &f, &err) == NL_OK, "%s: %s", expr, err.msg);
        nl_formula_plan *p = NULL;
        ck_assert_msg(nl_formula_plan_make(f, in, 1e-5f, &p, &err) == NL_OK, "%s: %s", expr, err.msg);
        ck_assert_msg(p->train.has_backward && p->train.backward.output >= 0, "%s: no backward", expr);
        nl_formula_plan_free(p);
        nl_formula_free(f);
        planned++;
    }
    ck_assert_int_ge(planned, 20);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_expr");
    TCase *tc = tcase_create("expr");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_builtins_as_formulas);
    tcase_add_test(tc, test_formulas_against_pytorch);
    tcase_add_test(tc, test_readme_formula_table_is_generated);
    tcase_add_test(tc, test_bad_formulas_refused_at_their_column);
    tcase_add_test(tc, test_nonfinite_formulas_diverge);
    tcase_add_test(tc, test_messages_quote_whole_characters);
    tcase_add_test(tc, test_every_word_has_a_derivative);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
