/* A formula's parameters per channel group (model.norm.params
 * `w = 1 per group`, issue 114): PyTorch's parameter of shape [G], each
 * group's C/G channels reading its value. The derived gradient of each of
 * the G values agrees with central differences; the layer gives the bits
 * of the same formula with the values repeated per channel, the G
 * gradients that formulation's summed over each group, on one thread and
 * two alike; one group is a scalar and a group per channel is per
 * channel. The kind prints and compares; a misspelt kind is refused at its
 * column; a config whose groups do not divide a layer's channels is
 * refused at model.norm.groups naming the parameter, and one that reduces
 * over no channels takes model.norm.groups for its per-group parameters;
 * the PyTorch module declares groups values viewed onto the groups. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "norm/formula.h"
#include "norm/formula_edit.h"
#include "norm/formula_torch.h"
#include "testutil.h"

enum { N = 3, C = 6, P = 4, COUNT = N * C * P };

/* EvoNorm-S0 over channel groups: v is inside a sigmoid, so central
 * differences test its gradient off a straight line */
#define S0 "gamma * x * sigmoid(v * x) / sqrt(var(x, [channels, spatial]) + eps) + beta"

/* a formula planned on images (N, C, P positions) in `groups` groups */
typedef struct {
    nl_formula *f;
    nl_formula_plan *p;
    void *work;
    float *saved;
    int n_params, count[NL_FORMULA_MAX_PARAMS];
    float *params[NL_FORMULA_MAX_PARAMS], *dparams[NL_FORMULA_MAX_PARAMS];
} layer;

static void layer_make(layer *L, const char *expr, const char *params, int groups)
{
    memset(L, 0, sizeof *L);
    nl_error err = {0};
    ck_assert_msg(nl_formula_parse(expr, params, &L->f, &err) == NL_OK, "%s: %s", params, err.msg);
    const nl_formula_input in = {.ndim = 4, .n_capacity = N, .c = C, .p = P, .groups = groups};
    ck_assert_msg(nl_formula_plan_make(L->f, in, 1e-5f, &L->p, &err) == NL_OK, "%s: %s", params,
                  err.msg);
    nl_formula_plan_set_threads(L->p, 2);
    L->work = aligned_alloc(64, (nl_formula_plan_workspace_bytes(L->p) + 63) & ~(size_t)63);
    L->saved = malloc((nl_formula_plan_saved_floats(L->p) + 1) * sizeof(float));
    ck_assert(L->work && L->saved);
    L->n_params = nl_formula_param_count(L->f);
    for (int k = 0; k < L->n_params; k++) {
        L->count[k] = nl_formula_param_count_of(L->p, k);
        L->params[k] = malloc((size_t)L->count[k] * sizeof(float));
        L->dparams[k] = malloc((size_t)L->count[k] * sizeof(float));
        ck_assert(L->params[k] && L->dparams[k]);
    }
}

static void layer_free(layer *L)
{
    for (int k = 0; k < L->n_params; k++)
        free(L->params[k]), free(L->dparams[k]);
    free(L->work), free(L->saved);
    nl_formula_plan_free(L->p);
    nl_formula_free(L->f);
}

/* y = the formula on x; with dy, dx and the parameters' gradients too */
static void layer_run(layer *L, nl_backend *be, const float *x, float *y, const float *dy, float *dx)
{
    nl_formula_io io = {.n = N, .x = x, .y = y, .saved = L->saved, .workspace = L->work};
    for (int k = 0; k < L->n_params; k++) {
        io.params[k] = L->params[k];
        io.dparams[k] = L->dparams[k];
    }
    be->ops->formula_forward(be, L->p, NL_FORMULA_TRAIN_KEEP, &io);
    if (!dy)
        return;
    io.dy = dy;
    io.dx = dx;
    be->ops->formula_backward(be, L->p, NL_FORMULA_TRAIN_KEEP, &io);
}

static void inputs(float *x, float *dy)
{
    for (int i = 0; i < COUNT; i++) {
        x[i] = sinf((float)i * 0.73f + 0.2f) * 1.6f + 0.1f * (float)(i % 5);
        dy[i] = cosf((float)i * 1.3f + 0.5f);
    }
}

/* parameter k's value for channel group (or channel) j, off its start */
static float value_of(int k, int j) { return (k == 1 ? 0.0f : 1.0f) + 0.3f * sinf((float)(j + 1) * (float)(k + 2)); }

/* sum(dy * y) in double */
static double objective(layer *L, nl_backend *be, const float *x, const float *dy)
{
    float y[COUNT];
    layer_run(L, be, x, y, NULL, NULL);
    double s = 0;
    for (int i = 0; i < COUNT; i++)
        s += (double)dy[i] * y[i];
    return s;
}

START_TEST(test_group_gradients_against_central_differences)
{
    nl_backend *be = tu_cpu(1);
    float x[COUNT], dy[COUNT], y[COUNT], dx[COUNT];
    inputs(x, dy);
    for (int groups = 2; groups <= 3; groups++) {
        layer L;
        layer_make(&L, S0, "gamma = 1 per group, beta = 0 per group, v = 1 per group", groups);
        for (int k = 0; k < L.n_params; k++) {
            ck_assert_int_eq(L.count[k], groups);
            for (int j = 0; j < groups; j++)
                L.params[k][j] = value_of(k, j);
        }
        layer_run(&L, be, x, y, dy, dx);
        for (int k = 0; k < L.n_params; k++) {
            double largest = 1e-3;
            for (int j = 0; j < groups; j++)
                largest = fmax(largest, fabs(L.dparams[k][j]));
            for (int j = 0; j < groups; j++) {
                const float keep = L.params[k][j], got = L.dparams[k][j];
                L.params[k][j] = keep + 1e-2f;
                const double up = objective(&L, be, x, dy);
                L.params[k][j] = keep - 1e-2f;
                const double down = objective(&L, be, x, dy);
                L.params[k][j] = keep;
                const double fd = (up - down) / 2e-2;
                ck_assert_msg(fabs(fd - got) <= 2e-3 * largest + 1e-4,
                              "groups %d: d%s[%d] = %.6g, central differences %.6g", groups,
                              nl_formula_param_at(L.f, k)->name, j, got, fd);
            }
        }
        layer_free(&L);
    }
}
END_TEST

/* the same formula with each group's value repeated over its channels:
 * the same y and dx bits, each group's gradient that formulation's summed
 * over the group's channels (to float rounding: the plan sums in double),
 * and the bits of one thread on two */
START_TEST(test_group_is_channel_summed_over_the_group)
{
    nl_backend *one = tu_cpu(1), *two = tu_cpu(2);
    float x[COUNT], dy[COUNT], y[COUNT], dx[COUNT], y_c[COUNT], dx_c[COUNT], y2[COUNT], dx2[COUNT];
    inputs(x, dy);
    const int groups = 3, per = C / groups;
    layer G, Ch;
    layer_make(&G, S0, "gamma = 1 per group, beta = 0 per group, v = 1 per group", groups);
    layer_make(&Ch, S0, "gamma = 1 per channel, beta = 0 per channel, v = 1 per channel", groups);
    for (int k = 0; k < G.n_params; k++) {
        ck_assert_int_eq(Ch.count[k], C);
        for (int c = 0; c < C; c++)
            G.params[k][c / per] = Ch.params[k][c] = value_of(k, c / per);
    }
    layer_run(&G, one, x, y, dy, dx);
    layer_run(&Ch, one, x, y_c, dy, dx_c);
    ck_assert_msg(!memcmp(y, y_c, sizeof y) && !memcmp(dx, dx_c, sizeof dx),
                  "per group and the same values per channel give different y or dx");
    for (int k = 0; k < G.n_params; k++)
        for (int g = 0; g < groups; g++) {
            double sum = 0, scale = 1e-3;
            for (int c = g * per; c < (g + 1) * per; c++)
                sum += Ch.dparams[k][c], scale += fabs(Ch.dparams[k][c]);
            ck_assert_msg(fabs(G.dparams[k][g] - sum) <= 1e-6 * scale,
                          "d%s[%d] = %.9g, the per-channel gradients' sum %.9g",
                          nl_formula_param_at(G.f, k)->name, g, G.dparams[k][g], sum);
        }
    float kept[NL_FORMULA_MAX_PARAMS][C];
    for (int k = 0; k < G.n_params; k++)
        memcpy(kept[k], G.dparams[k], (size_t)groups * sizeof(float));
    layer_run(&G, two, x, y2, dy, dx2);
    ck_assert(!memcmp(y, y2, sizeof y) && !memcmp(dx, dx2, sizeof dx));
    for (int k = 0; k < G.n_params; k++)
        ck_assert_msg(!memcmp(kept[k], G.dparams[k], (size_t)groups * sizeof(float)),
                      "d%s differs on two threads", nl_formula_param_at(G.f, k)->name);
    layer_free(&G);
    layer_free(&Ch);
}
END_TEST

/* one group: one value, as a scalar; a group per channel: per channel */
START_TEST(test_one_group_and_a_group_per_channel)
{
    static const struct {
        int groups;
        const char *same;
        int count;
    } cases[] = {{1, "w = 0.5, b = 0.25", 1}, {C, "w = 0.5 per channel, b = 0.25 per channel", C}};
    nl_backend *be = tu_cpu(1);
    float x[COUNT], dy[COUNT], y[COUNT], dx[COUNT], y_s[COUNT], dx_s[COUNT];
    inputs(x, dy);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        layer G, S;
        layer_make(&G, "w * x + b * mean(x, [spatial])", "w = 0.5 per group, b = 0.25 per group",
                   cases[i].groups);
        layer_make(&S, "w * x + b * mean(x, [spatial])", cases[i].same, cases[i].groups);
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(G.count[k], cases[i].count);
            ck_assert_int_eq(S.count[k], cases[i].count);
            for (int j = 0; j < cases[i].count; j++)
                G.params[k][j] = S.params[k][j] = value_of(k, j);
        }
        layer_run(&G, be, x, y, dy, dx);
        layer_run(&S, be, x, y_s, dy, dx_s);
        ck_assert(!memcmp(y, y_s, sizeof y) && !memcmp(dx, dx_s, sizeof dx));
        for (int k = 0; k < 2; k++)
            ck_assert_msg(!memcmp(G.dparams[k], S.dparams[k], (size_t)cases[i].count * sizeof(float)),
                          "groups %d: per group's gradient is not %s's", cases[i].groups, cases[i].same);
        layer_free(&G);
        layer_free(&S);
    }
}
END_TEST

/* the kind prints, reads back and tells formulas apart; a kind that is
 * none is refused at its column, naming the kinds */
START_TEST(test_kind_prints_and_is_refused_misspelt)
{
    nl_formula *g = NULL, *c = NULL, *back = NULL, *bad = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_formula_parse("w * x + b", "w = 2 per group, b = 0 per channel", &g, &err), NL_OK);
    ck_assert_int_eq(nl_formula_parse("w * x + b", "w = 2 per channel, b = 0 per channel", &c, &err), NL_OK);
    ck_assert_int_eq(nl_formula_param_at(g, 0)->kind, NL_PARAM_GROUP);
    ck_assert(!nl_formula_same(g, c));
    char expr[256], params[256], canon_g[512], canon_c[512];
    ck_assert_int_eq(nl_formula_print(g, expr, sizeof expr, params, sizeof params, &err), NL_OK);
    ck_assert_msg(strstr(params, "w = 2 per group") && strstr(params, "b = 0 per channel"), "%s", params);
    ck_assert_int_eq(nl_formula_parse(expr, params, &back, &err), NL_OK);
    ck_assert(nl_formula_same(g, back));
    ck_assert_int_eq(nl_formula_canonical(g, canon_g, sizeof canon_g, &err), NL_OK);
    ck_assert_int_eq(nl_formula_canonical(c, canon_c, sizeof canon_c, &err), NL_OK);
    ck_assert_str_ne(canon_g, canon_c);
    ck_assert_int_ne(nl_formula_parse("w * x", "w = 1 per grop", &bad, &err), NL_OK);
    ck_assert_msg(strstr(err.msg, "model.norm.params, column 11") && strstr(err.msg, "'per group'") &&
                      strstr(err.msg, "'per channel'") && strstr(err.msg, "'per grop'"),
                  "%s", err.msg);
    ck_assert_ptr_null(bad);
    nl_formula_free(g);
    nl_formula_free(c);
    nl_formula_free(back);
}
END_TEST

/* normlab validate on a cnn (widths 8): groups that do not divide the
 * channels are refused at model.norm.groups naming the per-group
 * parameter, nothing written; groups 4 validate (its gradient check
 * perturbs the 4 values); without a per-group parameter a formula that
 * reduces over no channels still refuses model.norm.groups */
START_TEST(test_config_groups_for_group_params)
{
    static const struct {
        const char *params;
        int groups, status;
        const char *says;
    } cases[] = {
        {"w = 1 per group, b = 0 per group", 3, 2, "a parameter declared per group in model.norm.params"},
        {"w = 1 per group, b = 0 per channel", 4, 0, "model.norm.expr gradient check"},
        {"w = 1 per channel, b = 0 per channel", 4, 2, "model.norm.params reads group"},
    };
    tu_tmp_make("formula-group-params");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, train_size: 64, "
                 "test_size: 32}\nmodel:\n  arch: cnn\n  widths: [8, 8]\n  norm:\n    type: expr\n"
                 "    expr: \"w * x + b\"\n    params: \"%s\"\n    groups: %d\n"
                 "train: {batch_size: 8, steps: 2}\n",
                 cases[i].params, cases[i].groups);
        tu_tmp_write("g.yaml", yaml);
        const int status = tu_normlab("validate g.yaml");
        char *out = tu_normlab_output();
        ck_assert_msg(status == cases[i].status && strstr(out, cases[i].says) &&
                          (status == 0 || strstr(out, "g.yaml:9:13")),
                      "%s, groups %d: status %d, wanted %d saying '%s'; said: %s", cases[i].params,
                      cases[i].groups, status, cases[i].status, cases[i].says, out);
        free(out);
    }
}
END_TEST

/* the PyTorch module: groups values, viewed one per group of the input's
 * (N, G, C/G, P) view, the constructor taking groups */
START_TEST(test_group_params_exported)
{
    nl_formula *f = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_formula_parse("w * x + b", "w = 1 per group, b = 0.5 per channel", &f, &err), NL_OK);
    nl_buf out = {0};
    const nl_formula_torch_spec spec = {.name = "grouped", .eps = 1e-5f, .momentum = 0.1f, .groups = 4};
    ck_assert_int_eq(nl_formula_torch(f, &spec, &out, NULL, 0, &err), NL_OK);
    ck_assert_msg(strstr(out.data, "self.w = nn.Parameter(torch.full((groups,), 1.0))") &&
                      strstr(out.data, "self.w.view(1, g, 1, 1)") &&
                      strstr(out.data, "self.b = nn.Parameter(torch.full((num_channels,), 0.5))") &&
                      strstr(out.data, "def __init__(self, num_channels, groups=4)") &&
                      strstr(out.data, "one per channel group") &&
                      strstr(out.data, "groups = 4 (a per-group parameter holds one value for each)"),
                  "%s", out.data);
    nl_buf_free(&out);
    nl_formula_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("formula_params");
    TCase *tc = tcase_create("params");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_group_gradients_against_central_differences);
    tcase_add_test(tc, test_group_is_channel_summed_over_the_group);
    tcase_add_test(tc, test_one_group_and_a_group_per_channel);
    tcase_add_test(tc, test_kind_prints_and_is_refused_misspelt);
    tcase_add_test(tc, test_config_groups_for_group_params);
    tcase_add_test(tc, test_group_params_exported);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
