// ctest-labels: kernels
/* The recurrent layers (rnn ops, core/layers/rnn.c, the rnn and rnn_lm
 * architectures) against PyTorch's nn.LSTM and nn.GRU
 * (tests/fixtures/rnn_goldens.nlfx: forward, final states, and the
 * gradients of the input and of every weight through all steps, stacked
 * layers chained op by op) and against finite differences; the layer in a
 * model (PyTorch's parameter names and init, a batch below the planned
 * capacity) and the two architectures built from a spec. Each fixture
 * case names its cell and carries its shape, so this file lists no cases. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "arch/registry.h"
#include "model/model.h"
#include "norm/registry.h"
#include "testutil.h"
#include "train/probe_steps.h"
#include "backend/rnn_layout.h"

#define TOL 1e-5

/* the fixture's layer-`layer` parameter `what` (weight_ih, ...) */
static const float *layer_tensor(const tu_fixture *fx, const char *c, const char *what,
                                 int layer)
{
    char key[96];
    snprintf(key, sizeof key, "%s_l%d", what, layer);
    return tu_get_in(fx, c, key)->data;
}

static float *device_floats(nl_backend *be, size_t count)
{
    void *p = NULL;
    nl_error err = {0};
    ck_assert_msg(be->ops->alloc(be, (count ? count : 1) * sizeof(float), &p, &err) == NL_OK,
                  "%s", err.msg);
    return p;
}

static nl_rnn_cell cell_of(const char *case_name)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%.31s", case_name);
    char *cut = strchr(prefix, '_');
    if (cut)
        *cut = '\0';
    const int cell = nl_name_lookup(&nl_rnn_cell_names, prefix);
    ck_assert_msg(cell >= 0, "%s: the fixture names a cell normlab lacks", case_name);
    return (nl_rnn_cell)cell;
}

static const char *const PARAMS[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};

/* One fixture case through the ops: the layers chained forward, then
 * backward from the top with dy and each layer's final-state gradients. */
static void check_case(const tu_fixture *fx, const char *c)
{
    nl_backend *be = tu_cpu(2);
    const nl_rnn_cell cell = cell_of(c);
    const int *shape = tu_get_in(fx, c, "shape")->data;
    const int n = shape[0], t = shape[1], d = shape[2], h = shape[3], layers = shape[4];
    const int g = nl_rnn_gate_count(cell) * h;
    const size_t seq = (size_t)n * t * h, state = (size_t)n * h;
    float *ys[8] = {0}, *saved[8] = {0}, *h_last = device_floats(be, state),
          *c_last = device_floats(be, state);
    ck_assert_int_le(layers, 8);
    size_t ws_bytes = 0;
    for (int l = 0; l < layers; l++) {
        const size_t w = be->ops->rnn_workspace(be, cell, n, t, l ? h : d, h);
        ws_bytes = w > ws_bytes ? w : ws_bytes;
    }
    void *workspace = device_floats(be, ws_bytes / sizeof(float) + 1);
    const float *x = tu_get_in(fx, c, "x")->data;
    char what[160];
    for (int l = 0; l < layers; l++) {
        ys[l] = device_floats(be, seq);
        saved[l] = device_floats(be, be->ops->rnn_saved_bytes(be, cell, n, t, h) / sizeof(float));
        be->ops->rnn_forward(be, cell, n, t, l ? h : d, h, l ? ys[l - 1] : x,
                             layer_tensor(fx, c, "weight_ih", l),
                             layer_tensor(fx, c, "weight_hh", l), layer_tensor(fx, c, "bias_ih", l),
                             layer_tensor(fx, c, "bias_hh", l), ys[l], h_last,
                             cell == NL_RNN_LSTM ? c_last : NULL, saved[l], workspace);
        snprintf(what, sizeof what, "%s h_n of layer %d", c, l);
        tu_assert_close(h_last, tu_getf_in(fx, c, "h_n") + l * state, state, TOL, what);
        if (cell == NL_RNN_LSTM) {
            snprintf(what, sizeof what, "%s c_n of layer %d", c, l);
            tu_assert_close(c_last, tu_getf_in(fx, c, "c_n") + l * state, state, TOL, what);
        }
    }
    snprintf(what, sizeof what, "%s y", c);
    tu_assert_close(ys[layers - 1], tu_get_in(fx, c, "y")->data, seq, TOL, what);

    /* backward from the top: each layer's dx is the dy of the one below */
    float *dys[8], *grads[4];
    for (int l = 0; l < layers; l++)
        dys[l] = device_floats(be, seq);
    memcpy(dys[layers - 1], tu_get_in(fx, c, "dy")->data, seq * sizeof(float));
    float *dx = device_floats(be, (size_t)n * t * d);
    for (int k = 0; k < 4; k++)
        grads[k] = device_floats(be, (size_t)g * (k < 2 ? (k == 0 ? d > h ? d : h : h) : 1));
    for (int l = layers - 1; l >= 0; l--) {
        const int in = l ? h : d;
        /* dx's buffers hold stale floats: written, not added, must not read them */
        float *dinput = l ? dys[l - 1] : dx;
        for (size_t k = 0; k < (size_t)n * t * in; k++)
            dinput[k] = NAN;
        be->ops->rnn_backward(be, cell, n, t, in, h, l ? ys[l - 1] : x,
                              layer_tensor(fx, c, "weight_ih", l),
                              layer_tensor(fx, c, "weight_hh", l), saved[l], dys[l],
                              tu_getf_in(fx, c, "dh_n") + l * state,
                              cell == NL_RNN_LSTM ? tu_getf_in(fx, c, "dc_n") + l * state : NULL,
                              dinput, false, grads[0], grads[1], grads[2], grads[3], workspace);
        const size_t counts[4] = {(size_t)g * in, (size_t)g * h, (size_t)g, (size_t)g};
        for (int k = 0; k < 4; k++) {
            char key[64];
            snprintf(key, sizeof key, "d%s", PARAMS[k]);
            snprintf(what, sizeof what, "%s d%s_l%d", c, PARAMS[k], l);
            tu_assert_close(grads[k], layer_tensor(fx, c, key, l), counts[k], TOL, what);
        }
    }
    snprintf(what, sizeof what, "%s dx", c);
    tu_assert_close(dx, tu_get_in(fx, c, "dx")->data, (size_t)n * t * d, TOL, what);
    for (int l = 0; l < layers; l++) {
        be->ops->release(be, ys[l]);
        be->ops->release(be, dys[l]);
        be->ops->release(be, saved[l]);
    }
    for (int k = 0; k < 4; k++)
        be->ops->release(be, grads[k]);
    be->ops->release(be, dx);
    be->ops->release(be, h_last);
    be->ops->release(be, c_last);
    be->ops->release(be, workspace);
}

START_TEST(test_against_pytorch)
{
    tu_fixture *fx = tu_fixture_load("rnn_goldens.nlfx");
    ck_assert_int_gt(tu_fixture_cases(fx), 0);
    bool seen[NL_RNN_COUNT] = {false};
    for (int i = 0; i < tu_fixture_cases(fx); i++) {
        char key[32], name[64];
        snprintf(key, sizeof key, "case%d", i);
        tu_get_string(fx, key, name, sizeof name);
        seen[cell_of(name)] = true;
        check_case(fx, name);
    }
    for (int c = 0; c < NL_RNN_COUNT; c++)
        ck_assert_msg(seen[c], "no golden case for the %s cell",
                      nl_name_of(&nl_rnn_cell_names, c));
    tu_fixture_free(fx);
}
END_TEST

/* L = sum y*ry + sum h_T*rh (+ sum c_T*rc) for the op at the parameters
 * and input held in `p` (x, w_ih, w_hh, b_ih, b_hh), in double */
typedef struct {
    nl_backend *be;
    nl_rnn_cell cell;
    int n, t, d, h;
    float *p[5];
    size_t count[5];
    float *y, *h_last, *c_last, *saved, *ry, *rh, *rc;
    void *workspace;
} fd_problem;

static double fd_loss(fd_problem *q)
{
    q->be->ops->rnn_forward(q->be, q->cell, q->n, q->t, q->d, q->h, q->p[0], q->p[1], q->p[2],
                            q->p[3], q->p[4], q->y, q->h_last, q->c_last, q->saved, q->workspace);
    double loss = 0.0;
    const size_t seq = (size_t)q->n * q->t * q->h, state = (size_t)q->n * q->h;
    for (size_t k = 0; k < seq; k++)
        loss += (double)q->y[k] * q->ry[k];
    for (size_t k = 0; k < state; k++)
        loss += (double)q->h_last[k] * q->rh[k] +
                (q->c_last ? (double)q->c_last[k] * q->rc[k] : 0.0);
    return loss;
}

static void check_finite_differences(nl_rnn_cell cell, int n, int t, int d, int h)
{
    fd_problem q = {.be = tu_cpu(1), .cell = cell, .n = n, .t = t, .d = d, .h = h};
    nl_backend *be = q.be;
    const int g = nl_rnn_gate_count(cell) * q.h;
    const size_t seq = (size_t)q.n * q.t * q.h, state = (size_t)q.n * q.h;
    const size_t counts[5] = {(size_t)q.n * q.t * q.d, (size_t)g * q.d, (size_t)g * q.h,
                              (size_t)g, (size_t)g};
    float *grad[5];
    for (int k = 0; k < 5; k++) {
        q.count[k] = counts[k];
        q.p[k] = device_floats(be, counts[k]);
        grad[k] = device_floats(be, counts[k]);
        tu_fill_uniform(q.p[k], counts[k], 100 + k, -0.8f, 0.8f);
    }
    q.y = device_floats(be, seq);
    q.ry = device_floats(be, seq);
    q.h_last = device_floats(be, state);
    q.rh = device_floats(be, state);
    q.rc = device_floats(be, state);
    q.c_last = cell == NL_RNN_LSTM ? device_floats(be, state) : NULL;
    tu_fill_uniform(q.ry, seq, 7, -1.0f, 1.0f);
    tu_fill_uniform(q.rh, state, 8, -1.0f, 1.0f);
    tu_fill_uniform(q.rc, state, 9, -1.0f, 1.0f);
    q.saved = device_floats(be, be->ops->rnn_saved_bytes(be, cell, q.n, q.t, q.h) / sizeof(float));
    q.workspace =
        device_floats(be, be->ops->rnn_workspace(be, cell, q.n, q.t, q.d, q.h) / sizeof(float));
    fd_loss(&q);
    be->ops->rnn_backward(be, cell, q.n, q.t, q.d, q.h, q.p[0], q.p[1], q.p[2], q.saved, q.ry,
                          q.rh, q.c_last ? q.rc : NULL, grad[0], false, grad[1], grad[2], grad[3],
                          grad[4], q.workspace);
    static const char *const names[5] = {"x", "weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    const float step = 1e-2f;
    for (int k = 0; k < 5; k++) {
        float *numeric = malloc(counts[k] * sizeof *numeric);
        for (size_t i = 0; i < counts[k]; i++) {
            const float keep = q.p[k][i];
            q.p[k][i] = keep + step;
            const double up = fd_loss(&q);
            q.p[k][i] = keep - step;
            const double down = fd_loss(&q);
            q.p[k][i] = keep;
            numeric[i] = (float)((up - down) / (2.0 * step));
        }
        char what[96];
        snprintf(what, sizeof what, "%s (n %d, hidden %d) d%s against finite differences",
                 nl_name_of(&nl_rnn_cell_names, cell), n, h, names[k]);
        tu_assert_close(grad[k], numeric, counts[k], 2e-3, what);
        free(numeric);
    }
    for (int k = 0; k < 5; k++) {
        be->ops->release(be, q.p[k]);
        be->ops->release(be, grad[k]);
    }
    float *bufs[] = {q.y, q.ry, q.h_last, q.rh, q.rc, q.c_last, q.saved, q.workspace};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++)
        if (bufs[k])
            be->ops->release(be, bufs[k]);
}

/* Two samples and 4 units run the small-batch product and only a partial
 * vector of units; 9 samples and 11 units run sgemm's product with the
 * recurrent bias added in the gates (step 0 without a product) and a whole
 * vector of 8 units followed by a partial one of 3 in every gate kernel. */
START_TEST(test_finite_differences)
{
    for (int c = 0; c < NL_RNN_COUNT; c++) {
        check_finite_differences((nl_rnn_cell)c, 2, 4, 3, 4);
        check_finite_differences((nl_rnn_cell)c, 9, 3, 3, 11);
    }
}
END_TEST

typedef struct {
    nl_rnn_cell cell;
    int t, d, hidden, layers;
} stack_ctx;

/* an (N, 1, T, D) input seen as (N, T, D), the stacked layers, the top
 * one's last state */
static nl_act *build_stack(nl_builder *b, nl_act *input, void *vctx)
{
    const stack_ctx *c = vctx;
    input->needs_grad = 1;
    nl_act *x = nl_view(b, "seq", input,
                        (nl_shape){.n = input->shape.n, .c = c->d, .h = c->t, .w = 1, .ndim = 3});
    const char *module = nl_name_of(&nl_rnn_cell_names, c->cell);
    for (int l = 0; l < c->layers && x; l++)
        x = nl_rnn_layer(b, module, l, x, c->cell, c->hidden, l == c->layers - 1);
    return x;
}

/* The layer in a model: PyTorch's parameter names and init bounds, the
 * stacked case's top h_n from the fixture's weights, and a batch smaller
 * than the capacity giving the same rows. */
START_TEST(test_layer_in_model)
{
    tu_fixture *fx = tu_fixture_load("rnn_goldens.nlfx");
    for (int c = 0; c < NL_RNN_COUNT; c++) {
        char name[64];
        const char *module = nl_name_of(&nl_rnn_cell_names, c);
        snprintf(name, sizeof name, "%s_stacked", module);
        const int *shape = tu_get_in(fx, name, "shape")->data;
        stack_ctx ctx = {(nl_rnn_cell)c, shape[1], shape[2], shape[3], shape[4]};
        const int n = shape[0], h = shape[3];
        nl_model_spec spec;
        nl_model_spec_defaults(&spec);
        spec.in_c = 1;
        spec.in_h = ctx.t;
        spec.in_w = ctx.d;
        nl_model *m = NULL;
        nl_error err = {0};
        nl_backend *be = tu_cpu(2);
        ck_assert_msg(nl_model_build_graph(&spec, be, n, n, 5, build_stack, &ctx, &m, &err) ==
                          NL_OK,
                      "%s: %s", name, err.msg);
        ck_assert_int_eq(m->n_params, 4 * ctx.layers);
        const float bound = 1.0f / sqrtf((float)h);
        for (int l = 0; l < ctx.layers; l++)
            for (int k = 0; k < 4; k++) {
                char pname[96];
                snprintf(pname, sizeof pname, "%s.l%d.%s", module, l, PARAMS[k]);
                nl_param *p = nl_model_param(m, pname);
                ck_assert_msg(p != NULL, "%s: no parameter %s", name, pname);
                float lo = INFINITY, hi = -INFINITY;
                for (size_t i = 0; i < p->count; i++) {
                    lo = fminf(lo, p->data[i]);
                    hi = fmaxf(hi, p->data[i]);
                }
                ck_assert_msg(lo >= -bound && hi <= bound && hi - lo > bound,
                              "%s: %s starts in [%g, %g], not U(-%g, %g)", name, pname, lo, hi,
                              bound, bound);
                const float *want = layer_tensor(fx, name, PARAMS[k], l);
                be->ops->upload(be, p->data, want, p->count * sizeof(float));
            }
        const tu_tensor *x = tu_get_in(fx, name, "x");
        be->ops->upload(be, m->input->data, x->data, x->count * sizeof(float));
        nl_model_forward(m, n, NL_MODE_TRAIN);
        const float *h_top = tu_getf_in(fx, name, "h_n") + (size_t)(ctx.layers - 1) * n * h;
        char what[128];
        snprintf(what, sizeof what, "%s in a model: the top layer's h_n", name);
        tu_assert_close(m->logits->data, h_top, (size_t)n * h, TOL, what);
        /* one sample of the planned batch: its row alone */
        be->ops->fill(be, m->logits->data, NAN, (size_t)n * h);
        nl_model_forward(m, 1, NL_MODE_TRAIN);
        snprintf(what, sizeof what, "%s in a model at batch 1", name);
        tu_assert_close(m->logits->data, h_top, (size_t)h, TOL, what);
        nl_model_free(m);
    }
    tu_fixture_free(fx);
}
END_TEST

/* both architectures build from a spec for both cells, and a step of
 * training moves the loss: rnn on 28x28 images, rnn_lm on tokens */
START_TEST(test_architectures_build_and_train)
{
    const nl_arch archs[] = {NL_ARCH_RNN, NL_ARCH_RNN_LM};
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++)
        for (int c = 0; c < NL_RNN_COUNT; c++) {
            nl_model_spec spec;
            nl_model_spec_defaults(&spec);
            spec.arch = archs[a];
            spec.cell = (nl_rnn_cell)c;
            spec.hidden = 16;
            spec.layers = 2;
            spec.norm.kind = NL_NORM_NONE;
            spec.norm.placement = NL_PLACE_NONE;
            spec.context = 12;
            spec.classes = archs[a] == NL_ARCH_RNN_LM ? 11 : 10;
            const bool tokens = nl_model_spec_tokens(&spec);
            ck_assert_int_eq(tokens, archs[a] == NL_ARCH_RNN_LM);
            nl_model *m = NULL;
            nl_error err = {0};
            const int n = 4;
            ck_assert_msg(nl_model_create(&spec, tu_cpu(2), n, n, 3, &m, &err) == NL_OK, "%s %s: %s",
                          nl_name_of(&nl_arch_names, spec.arch),
                          nl_name_of(&nl_rnn_cell_names, c), err.msg);
            const int rows = m->rows_per_sample;
            ck_assert_int_eq(rows, tokens ? spec.context : 1);
            if (tokens) {
                int32_t toks[4 * 12], targets[4 * 12];
                for (int i = 0; i < n * spec.context; i++) {
                    toks[i] = (i * 7) % spec.classes;
                    targets[i] = (i * 7 + 3) % spec.classes;
                }
                nl_model_load_tokens(m, toks, targets, n);
            } else {
                float images[4 * 28 * 28];
                int32_t labels[4] = {1, 3, 5, 7};
                tu_fill_uniform(images, sizeof images / sizeof images[0], 4, 0.0f, 1.0f);
                nl_model_load_batch(m, images, labels, n);
            }
            double before[2], after[2];
            nl_model_reset_metrics(m);
            nl_model_forward(m, n, NL_MODE_TRAIN);
            nl_model_read_metrics(m, before);
            nl_model_backward(m, n);
            /* a plain gradient step on every parameter, by hand */
            for (int p = 0; p < m->n_params; p++)
                for (size_t i = 0; i < m->params[p]->count; i++)
                    m->params[p]->data[i] -= 0.5f * m->params[p]->grad[i];
            nl_model_reset_metrics(m);
            nl_model_forward(m, n, NL_MODE_TRAIN);
            nl_model_read_metrics(m, after);
            ck_assert_msg(isfinite(before[0]) && after[0] < before[0],
                          "%s %s: loss %g -> %g after a step against the gradient",
                          nl_name_of(&nl_arch_names, spec.arch),
                          nl_name_of(&nl_rnn_cell_names, c), before[0], after[0]);
            nl_model_free(m);
        }
}
END_TEST

/* train.precision bf16 on the recurrent LMs (configs/lstm-kjv.yaml's
 * plain LSTM and the LN-LSTM of lstm-ln-fashion's in-cell placement, at a
 * small size, and the GRU): from the same parameters and tokens the loss
 * and every gradient are finite and differ from fp32's (the products
 * round, core/cpu/rnn.c), and a step against bf16's gradient lowers the
 * loss. */
START_TEST(test_bf16_train_step)
{
    enum { N = 4, T = 12, VOCAB = 11 };
    const struct {
        nl_rnn_cell cell;
        nl_norm_kind norm;
    } rows[] = {{NL_RNN_LSTM, NL_NORM_NONE}, {NL_RNN_LSTM, NL_NORM_LAYER},
                {NL_RNN_GRU, NL_NORM_NONE}};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        nl_backend *be = tu_cpu(2);
        nl_model *m[2];
        for (int k = 0; k < 2; k++) {
            nl_model_spec spec;
            nl_model_spec_defaults(&spec);
            spec.arch = NL_ARCH_RNN_LM;
            spec.cell = rows[r].cell;
            spec.hidden = 16;
            spec.layers = 1;
            spec.context = T;
            spec.classes = VOCAB;
            nl_norm_spec_defaults(&spec.norm, rows[r].norm);
            spec.norm.placement =
                rows[r].norm == NL_NORM_NONE ? NL_PLACE_NONE : NL_PLACE_IN_CELL;
            be->product_precision = k ? NL_PRECISION_BF16 : NL_PRECISION_FP32;
            nl_error err = {0};
            ck_assert_msg(nl_model_create(&spec, be, N, N, 5, &m[k], &err) == NL_OK, "%s",
                          err.msg);
        }
        const char *what = nl_name_of(&nl_rnn_cell_names, rows[r].cell);
        ck_assert_uint_eq(m[0]->param_floats, m[1]->param_floats);
        memcpy(m[1]->param_arena, m[0]->param_arena, m[0]->param_floats * sizeof(float));
        int32_t tokens[N * T], targets[N * T];
        for (int i = 0; i < N * T; i++) {
            tokens[i] = (i * 7 + i / 5) % VOCAB;
            targets[i] = (i * 7 + 3) % VOCAB;
        }
        double loss[2];
        for (int k = 0; k < 2; k++) {
            double metrics[2];
            /* the backend's precision is the one model k was planned for */
            be->product_precision = k ? NL_PRECISION_BF16 : NL_PRECISION_FP32;
            nl_model_load_tokens(m[k], tokens, targets, N);
            nl_model_reset_metrics(m[k]);
            nl_model_forward(m[k], N, NL_MODE_TRAIN);
            nl_model_backward(m[k], N);
            nl_model_read_metrics(m[k], metrics);
            loss[k] = metrics[0];
        }
        ck_assert_msg(isfinite(loss[1]) && loss[1] != loss[0], "%s %s: bf16 loss %.9g, fp32 %.9g",
                      what, nl_name_of(&nl_norm_names, rows[r].norm), loss[1], loss[0]);
        for (int p = 0; p < m[1]->n_params; p++) {
            const nl_param *lo = m[1]->params[p], *hi = m[0]->params[p];
            size_t differ = 0;
            for (size_t i = 0; i < lo->count; i++) {
                ck_assert_msg(isfinite(lo->grad[i]), "%s: d%s[%zu] not finite under bf16", what,
                              lo->name, i);
                differ += lo->grad[i] != hi->grad[i];
            }
            ck_assert_msg(differ > 0, "%s: d%s the same under bf16 as in fp32", what, lo->name);
        }
        for (int p = 0; p < m[1]->n_params; p++)
            for (size_t i = 0; i < m[1]->params[p]->count; i++)
                m[1]->params[p]->data[i] -= 0.5f * m[1]->params[p]->grad[i];
        double after[2];
        nl_model_reset_metrics(m[1]);
        nl_model_forward(m[1], N, NL_MODE_TRAIN);
        nl_model_read_metrics(m[1], after);
        be->product_precision = NL_PRECISION_FP32;
        ck_assert_msg(isfinite(after[0]) && after[0] < loss[1],
                      "%s: bf16 loss %.9g -> %.9g after a step against the gradient", what,
                      loss[1], after[0]);
        for (int k = 0; k < 2; k++)
            nl_model_free(m[k]);
    }
}
END_TEST

/* model.permute_pixels: every sample's pixels in one order, not the
 * identity, the same whatever the run's seed */
START_TEST(test_permuted_pixels)
{
    enum { N = 3, PIXELS = 28 * 28 };
    static float images[N * PIXELS];
    for (int i = 0; i < N * PIXELS; i++)
        images[i] = (float)i; /* every value names its place */
    int32_t labels[N] = {0, 1, 2};
    int32_t first_order[PIXELS];
    for (uint64_t seed = 1; seed <= 2; seed++) {
        nl_model_spec spec;
        nl_model_spec_defaults(&spec);
        spec.arch = NL_ARCH_RNN;
        spec.hidden = 8;
        spec.layers = 1;
        spec.norm.kind = NL_NORM_NONE;
        spec.norm.placement = NL_PLACE_NONE;
        spec.permute_pixels = true;
        nl_model *m = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_model_create(&spec, tu_cpu(1), N, N, seed, &m, &err) == NL_OK, "%s",
                      err.msg);
        nl_model_load_batch(m, images, labels, N);
        nl_model_forward(m, N, NL_MODE_TRAIN);
        nl_model_backward(m, N);
        const float *permuted = nl_model_act(m, "permute")->data;
        bool seen[PIXELS] = {false};
        int moved = 0;
        for (int k = 0; k < PIXELS; k++) {
            const int from = (int)permuted[k];
            ck_assert_msg(from >= 0 && from < PIXELS && !seen[from], "pixel %d taken twice", from);
            seen[from] = true;
            moved += from != k;
            for (int i = 1; i < N; i++)
                ck_assert_int_eq((int)permuted[i * PIXELS + k], i * PIXELS + from);
            if (seed == 1)
                first_order[k] = from;
            else
                ck_assert_int_eq(from, first_order[k]);
        }
        ck_assert_int_gt(moved, PIXELS / 2);
        nl_model_free(m);
    }
}
END_TEST

/* a normalizer that cannot take the cell's feature vectors is a config
 * error naming model.norm and the kinds accepted */
START_TEST(test_normalizer_refused)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_RNN;
    spec.norm.kind = NL_NORM_INSTANCE;
    spec.norm.placement = nl_model_spec_default_placement(&spec);
    nl_error err = {0};
    ck_assert_int_eq(nl_model_check(&spec, 8, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.key, "model.norm");
    ck_assert_msg(strstr(err.msg, "accepted: none") != NULL, "%s", err.msg);
}
END_TEST

/* ---- the cell with normalizers inside it ---- */

typedef struct {
    nl_rnn_cell cell;
    int t, d, hidden;
    nl_rnn_cell_norm norm;
} norm_stack_ctx;

/* an (N, 1, T, D) input seen as (N, T, D), two normalized-cell layers,
 * the lower's every step feeding the upper, whose last state is the output */
static nl_act *build_norm_stack(nl_builder *b, nl_act *input, void *vctx)
{
    const norm_stack_ctx *c = vctx;
    input->needs_grad = 1;
    nl_act *x = nl_view(b, "seq", input,
                        (nl_shape){.n = input->shape.n, .c = c->d, .h = c->t, .w = 1, .ndim = 3});
    const char *module = nl_name_of(&nl_rnn_cell_names, c->cell);
    for (int l = 0; l < 2 && x; l++)
        x = nl_rnn_norm_layer(b, module, l, x, c->cell, c->hidden, l == 1, &c->norm);
    return x;
}

/* a fixture case "<cell>_<kind>[_nocell]": its cell, the normalizers as
 * arch/rnn.c makes them of that kind */
static norm_stack_ctx norm_case_ctx(const tu_fixture *fx, const char *c)
{
    const int *shape = tu_get_in(fx, c, "shape")->data;
    norm_stack_ctx ctx = {.cell = cell_of(c), .t = shape[1], .d = shape[2], .hidden = shape[3]};
    char kind[32];
    snprintf(kind, sizeof kind, "%s", strchr(c, '_') + 1);
    char *cut = strchr(kind, '_');
    if (cut)
        *cut = '\0';
    const int k = nl_name_lookup(&nl_norm_names, kind);
    ck_assert_msg(k >= 0, "%s: no normalizer %s", c, kind);
    const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
    ctx.norm = (nl_rnn_cell_norm){.per_step = row->running_stats, .center = row->center,
                                  .affine = true, .shift = row->learned_shift,
                                  .cell_state = !strstr(c, "_nocell"),
                                  .running_stats = row->running_stats, .eps = 1e-5f,
                                  .momentum = 0.1f, .gain_init = 1.0f};
    return ctx;
}

#define NORM_TOL 1e-4

/* The LN-, RMS- and BN-LSTM (and GRU) against a direct PyTorch cell
 * (tests/fixtures/rnn_norm_goldens.nlfx): the output, the gradients of
 * the input and of every parameter, and for batch norm the per-step
 * running statistics after the pass and the output in eval mode with
 * them. A batch below the capacity gives the same rows in eval mode. */
START_TEST(test_norm_cell_against_pytorch)
{
    tu_fixture *fx = tu_fixture_load("rnn_norm_goldens.nlfx");
    const int cases = *(const int *)tu_get(fx, "cases")->data;
    ck_assert_int_gt(cases, 0);
    for (int i = 0; i < cases; i++) {
        char key[16], c[64] = {0};
        snprintf(key, sizeof key, "case%d", i);
        const tu_tensor *chars = tu_get(fx, key);
        for (size_t k = 0; k < chars->count && k < sizeof c - 1; k++)
            c[k] = (char)((const int *)chars->data)[k];
        norm_stack_ctx ctx = norm_case_ctx(fx, c);
        const int n = ((const int *)tu_get_in(fx, c, "shape")->data)[0], h = ctx.hidden;
        nl_model_spec spec;
        nl_model_spec_defaults(&spec);
        spec.in_c = 1;
        spec.in_h = ctx.t;
        spec.in_w = ctx.d;
        nl_model *m = NULL;
        nl_error err = {0};
        nl_backend *be = tu_cpu(2);
        ck_assert_msg(nl_model_build_graph(&spec, be, n, n, 5, build_norm_stack, &ctx, &m, &err) ==
                          NL_OK,
                      "%s: %s", c, err.msg);
        ck_assert_int_eq(m->n_params, *(const int *)tu_get_in(fx, c, "params")->data);
        for (int p = 0; p < m->n_params; p++) {
            const tu_tensor *want = tu_get_in(fx, c, m->params[p]->name);
            ck_assert_msg(want->count == m->params[p]->count, "%s: %s has %zu values, not %zu", c,
                          m->params[p]->name, m->params[p]->count, want->count);
            be->ops->upload(be, m->params[p]->data, want->data, want->count * sizeof(float));
        }
        const tu_tensor *x = tu_get_in(fx, c, "x");
        be->ops->upload(be, m->input->data, x->data, x->count * sizeof(float));
        nl_model_forward(m, n, NL_MODE_TRAIN);
        char what[160];
        snprintf(what, sizeof what, "%s h_T", c);
        tu_assert_close(m->logits->data, tu_get_in(fx, c, "h_top")->data, (size_t)n * h, NORM_TOL,
                        what);
        for (size_t k = 0; k < x->count; k++)
            m->input->grad[k] = NAN; /* written, not added: must not be read */
        nl_model_backward_from(m, n, tu_get_in(fx, c, "dy")->data);
        snprintf(what, sizeof what, "%s dx", c);
        tu_assert_close(m->input->grad, tu_get_in(fx, c, "dx")->data, x->count, NORM_TOL, what);
        for (int p = 0; p < m->n_params; p++) {
            char gname[128];
            snprintf(gname, sizeof gname, "grad.%s", m->params[p]->name);
            snprintf(what, sizeof what, "%s d%s", c, m->params[p]->name);
            tu_assert_close(m->params[p]->grad, tu_get_in(fx, c, gname)->data,
                            m->params[p]->count, NORM_TOL, what);
        }
        if (ctx.norm.running_stats) {
            int states = 0;
            for (int k = 0; k < m->n_states; k++) {
                const tu_tensor *want = tu_get_in(fx, c, m->states[k]->name);
                ck_assert_int_eq(want->count, m->states[k]->count);
                snprintf(what, sizeof what, "%s %s", c, m->states[k]->name);
                tu_assert_close(m->states[k]->data, want->data, want->count, NORM_TOL, what);
                states++;
            }
            ck_assert_int_eq(states, ctx.cell == NL_RNN_LSTM && ctx.norm.cell_state ? 12 : 8);
            const float *eval = tu_get_in(fx, c, "h_top_eval")->data;
            nl_model_forward(m, n, NL_MODE_EVAL);
            snprintf(what, sizeof what, "%s h_T in eval mode", c);
            tu_assert_close(m->logits->data, eval, (size_t)n * h, NORM_TOL, what);
            be->ops->fill(be, m->logits->data, NAN, (size_t)n * h);
            nl_model_forward(m, 1, NL_MODE_EVAL);
            snprintf(what, sizeof what, "%s h_T in eval mode at batch 1", c);
            tu_assert_close(m->logits->data, eval, (size_t)h, NORM_TOL, what);
        } else {
            /* per-sample statistics: one sample of the planned batch is its row alone */
            const float *want = tu_get_in(fx, c, "h_top")->data;
            be->ops->fill(be, m->logits->data, NAN, (size_t)n * h);
            nl_model_forward(m, 1, NL_MODE_TRAIN);
            snprintf(what, sizeof what, "%s h_T at batch 1", c);
            tu_assert_close(m->logits->data, want, (size_t)h, NORM_TOL, what);
        }
        nl_model_free(m);
    }
    tu_fixture_free(fx);
}
END_TEST

/* Running statistics shared by the steps (model.norm.step_stats: false):
 * training is unchanged (the fixture's output), and the one set is the
 * running average updated by each step in turn from the same batch
 * statistics that the per-step sets took one update of each (the
 * fixture's: from mean 0 and variance 1, per-step running = 0.1 * batch
 * mean and 0.9 + 0.1 * batch variance). */
START_TEST(test_norm_cell_shared_running_stats)
{
    tu_fixture *fx = tu_fixture_load("rnn_norm_goldens.nlfx");
    const char *c = "lstm_batch";
    norm_stack_ctx ctx = norm_case_ctx(fx, c);
    ctx.norm.shared_running = true;
    const int n = ((const int *)tu_get_in(fx, c, "shape")->data)[0], t = ctx.t;
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = 1;
    spec.in_h = ctx.t;
    spec.in_w = ctx.d;
    nl_model *m = NULL;
    nl_error err = {0};
    nl_backend *be = tu_cpu(2);
    ck_assert_msg(nl_model_build_graph(&spec, be, n, n, 5, build_norm_stack, &ctx, &m, &err) ==
                      NL_OK,
                  "%s", err.msg);
    for (int p = 0; p < m->n_params; p++) {
        const tu_tensor *want = tu_get_in(fx, c, m->params[p]->name);
        be->ops->upload(be, m->params[p]->data, want->data, want->count * sizeof(float));
    }
    const tu_tensor *x = tu_get_in(fx, c, "x");
    be->ops->upload(be, m->input->data, x->data, x->count * sizeof(float));
    nl_model_forward(m, n, NL_MODE_TRAIN);
    tu_assert_close(m->logits->data, tu_get_in(fx, c, "h_top")->data, (size_t)n * ctx.hidden,
                    NORM_TOL, "shared running statistics: the training output");
    ck_assert_int_eq(m->n_states, 12);
    for (int k = 0; k < m->n_states; k++) {
        const nl_state *st = m->states[k];
        const tu_tensor *per_step = tu_get_in(fx, c, st->name);
        const size_t width = st->count;
        ck_assert_int_eq(per_step->count, (size_t)t * width);
        const bool var = strstr(st->name, "running_var") != NULL;
        float *want = malloc(width * sizeof *want);
        for (size_t j = 0; j < width; j++) {
            double r = var ? 1.0 : 0.0;
            for (int s = 0; s < t; s++) {
                const double step = ((const float *)per_step->data)[(size_t)s * width + j];
                r = 0.9 * r + (var ? step - 0.9 : step);
            }
            want[j] = (float)r;
        }
        char what[160];
        snprintf(what, sizeof what, "shared %s", st->name);
        tu_assert_close(st->data, want, width, NORM_TOL, what);
        free(want);
    }
    nl_model_free(m);
    tu_fixture_free(fx);
}
END_TEST

/* The architectures with placement in_cell build every kind it takes for
 * both cells and a step against the gradient lowers the loss; a kind
 * without an in-cell form, and batch statistics over a batch of one, are
 * config errors naming their keys. */
START_TEST(test_in_cell_architectures)
{
    static const nl_norm_kind kinds[] = {NL_NORM_LAYER, NL_NORM_RMS, NL_NORM_BATCH};
    const nl_arch archs[] = {NL_ARCH_RNN, NL_ARCH_RNN_LM};
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++)
        for (int c = 0; c < NL_RNN_COUNT; c++)
            for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
                nl_model_spec spec;
                nl_model_spec_defaults(&spec);
                spec.arch = archs[a];
                spec.cell = (nl_rnn_cell)c;
                spec.hidden = 12;
                spec.layers = 2;
                nl_norm_spec_defaults(&spec.norm, kinds[k]);
                spec.norm.placement = NL_PLACE_IN_CELL;
                spec.norm.cell_state = true;
                spec.norm.step_stats = true;
                spec.context = 10;
                spec.classes = archs[a] == NL_ARCH_RNN_LM ? 11 : 10;
                const bool tokens = nl_model_spec_tokens(&spec);
                nl_model *m = NULL;
                nl_error err = {0};
                const int n = 4;
                char what[96];
                snprintf(what, sizeof what, "%s %s %s", nl_name_of(&nl_arch_names, spec.arch),
                         nl_name_of(&nl_rnn_cell_names, c), nl_name_of(&nl_norm_names, kinds[k]));
                ck_assert_msg(nl_model_create(&spec, tu_cpu(2), n, n, 3, &m, &err) == NL_OK,
                              "%s: %s", what, err.msg);
                char gain[64];
                snprintf(gain, sizeof gain, "%s.l1.norm_hh.weight",
                         nl_name_of(&nl_rnn_cell_names, c));
                ck_assert_msg(nl_model_param(m, gain) != NULL, "%s: no %s", what, gain);
                if (tokens) {
                    int32_t toks[4 * 10], targets[4 * 10];
                    for (int i = 0; i < n * spec.context; i++) {
                        toks[i] = (i * 7) % spec.classes;
                        targets[i] = (i * 7 + 3) % spec.classes;
                    }
                    nl_model_load_tokens(m, toks, targets, n);
                } else {
                    float images[4 * 28 * 28];
                    int32_t labels[4] = {1, 3, 5, 7};
                    tu_fill_uniform(images, sizeof images / sizeof images[0], 4, 0.0f, 1.0f);
                    nl_model_load_batch(m, images, labels, n);
                }
                double before[2], after[2];
                nl_model_reset_metrics(m);
                nl_model_forward(m, n, NL_MODE_TRAIN_FROZEN);
                nl_model_read_metrics(m, before);
                nl_model_backward(m, n);
                for (int p = 0; p < m->n_params; p++)
                    for (size_t i = 0; i < m->params[p]->count; i++)
                        m->params[p]->data[i] -= 0.2f * m->params[p]->grad[i];
                nl_model_reset_metrics(m);
                nl_model_forward(m, n, NL_MODE_TRAIN_FROZEN);
                nl_model_read_metrics(m, after);
                ck_assert_msg(isfinite(before[0]) && after[0] < before[0],
                              "%s: loss %g -> %g after a step against the gradient", what,
                              before[0], after[0]);
                nl_model_free(m);
            }
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_RNN;
    nl_norm_spec_defaults(&spec.norm, NL_NORM_DYT);
    spec.norm.placement = NL_PLACE_IN_CELL;
    nl_error err = {0};
    ck_assert_int_eq(nl_model_check(&spec, 8, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.key, "model.norm.type");
    ck_assert_msg(strstr(err.msg, "layer | rms | batch") != NULL, "%s", err.msg);
    nl_norm_spec_defaults(&spec.norm, NL_NORM_BATCH);
    spec.norm.placement = NL_PLACE_IN_CELL;
    err = (nl_error){0};
    ck_assert_int_eq(nl_model_check(&spec, 1, &err), NL_ERR_CONFIG);
    ck_assert_str_eq(err.key, "train.batch_size");
}
END_TEST

/* A BN-LSTM language model rebuilt at 2T (normlab eval --context) from the
 * parameters and running statistics it has at T: in eval mode it equals
 * the same model built with a 2T-row statistics table whose rows T..2T-1
 * are copies of row T-1 (the reuse written out by hand), its table is the
 * trained one's size, and its first T steps are the model's at T. */
START_TEST(test_bn_lstm_past_trained_length)
{
    enum { T = 5, N = 3, CLASSES = 7 };
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_RNN_LM;
    spec.cell = NL_RNN_LSTM;
    spec.hidden = 6;
    spec.layers = 2;
    nl_norm_spec_defaults(&spec.norm, NL_NORM_BATCH);
    spec.norm.placement = NL_PLACE_IN_CELL;
    spec.norm.cell_state = true;
    spec.norm.step_stats = true;
    spec.classes = CLASSES;
    nl_error err = {0};
    nl_model *trained = NULL, *reused = NULL, *by_hand = NULL;
    spec.context = T;
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), N, N, 3, &trained, &err) == NL_OK, "%s",
                  err.msg);
    spec.context = 2 * T;
    spec.norm.stat_steps = T;
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), N, N, 3, &reused, &err) == NL_OK, "%s",
                  err.msg);
    spec.norm.stat_steps = 0;
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), N, N, 3, &by_hand, &err) == NL_OK, "%s",
                  err.msg);
    ck_assert_uint_eq(reused->state_floats, trained->state_floats);
    ck_assert_uint_eq(by_hand->n_states, trained->n_states);
    ck_assert_int_gt(trained->n_states, 0);
    /* the trained model's parameters and running statistics, all in every model */
    tu_fill_uniform(trained->param_arena, trained->param_floats, 11, -0.5f, 0.5f);
    for (int k = 0; k < trained->n_states; k++) {
        nl_state *st = trained->states[k];
        const bool var = strstr(st->name, "running_var") != NULL;
        tu_fill_uniform(st->data, st->count, 20 + (uint64_t)k, var ? 0.3f : -0.4f,
                        var ? 2.0f : 0.4f);
    }
    memcpy(reused->param_arena, trained->param_arena, trained->param_floats * sizeof(float));
    memcpy(by_hand->param_arena, trained->param_arena, trained->param_floats * sizeof(float));
    memcpy(reused->state_arena, trained->state_arena, trained->state_floats * sizeof(float));
    for (int k = 0; k < trained->n_states; k++) {
        const nl_state *from = trained->states[k];
        nl_state *to = by_hand->states[k];
        ck_assert_str_eq(to->name, from->name);
        ck_assert_uint_eq(to->count, 2 * from->count);
        const size_t width = from->count / T;
        for (int s = 0; s < 2 * T; s++)
            memcpy(to->data + (size_t)s * width, from->data + (size_t)(s < T ? s : T - 1) * width,
                   width * sizeof(float));
    }
    int32_t tokens[N * 2 * T], targets[N * 2 * T], short_tokens[N * T], short_targets[N * T];
    for (int i = 0; i < N * 2 * T; i++) {
        tokens[i] = (i * 5 + 2) % CLASSES;
        targets[i] = (i * 3 + 1) % CLASSES;
    }
    for (int n = 0; n < N; n++)
        for (int s = 0; s < T; s++) {
            short_tokens[n * T + s] = tokens[n * 2 * T + s];
            short_targets[n * T + s] = targets[n * 2 * T + s];
        }
    nl_model_load_tokens(reused, tokens, targets, N);
    nl_model_load_tokens(by_hand, tokens, targets, N);
    nl_model_load_tokens(trained, short_tokens, short_targets, N);
    nl_model_forward(reused, N, NL_MODE_EVAL);
    nl_model_forward(by_hand, N, NL_MODE_EVAL);
    nl_model_forward(trained, N, NL_MODE_EVAL);
    const size_t long_logits = (size_t)N * 2 * T * CLASSES;
    tu_assert_close(reused->logits->data, by_hand->logits->data, long_logits, 1e-6,
                    "2T against the last row copied by hand");
    for (int n = 0; n < N; n++)
        tu_assert_close(reused->logits->data + (size_t)n * 2 * T * CLASSES,
                        trained->logits->data + (size_t)n * T * CLASSES, (size_t)T * CLASSES,
                        1e-6, "the first T steps");
    nl_model_free(trained);
    nl_model_free(reused);
    nl_model_free(by_hand);
}
END_TEST

/* The per-step probe (train.log.step_norms) over two batches against the
 * LSTM written out here (PyTorch's gate order i, f, g, o; zero initial
 * state) on the embedding's rows: the mean over the samples of ||h_t|| at
 * every step of a one-layer rnn_lm. */
START_TEST(test_step_norm_probe)
{
    enum { T = 6, N = 3, H = 5, CLASSES = 7, BATCHES = 2 };
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_RNN_LM;
    spec.cell = NL_RNN_LSTM;
    spec.hidden = H;
    spec.layers = 1;
    spec.norm.kind = NL_NORM_NONE;
    spec.norm.placement = NL_PLACE_NONE;
    spec.context = T;
    spec.classes = CLASSES;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, tu_cpu(1), N, N, 3, &m, &err) == NL_OK, "%s", err.msg);
    nl_stepnorm probe;
    ck_assert_msg(nl_stepnorm_open(&probe, m, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(probe.n_layers, 1);
    ck_assert_int_eq(probe.steps, T);
    const float *emb = nl_model_param(m, "embed.weight")->data;
    const float *w_ih = nl_model_param(m, "lstm.l0.weight_ih")->data;
    const float *w_hh = nl_model_param(m, "lstm.l0.weight_hh")->data;
    const float *b_ih = nl_model_param(m, "lstm.l0.bias_ih")->data;
    const float *b_hh = nl_model_param(m, "lstm.l0.bias_hh")->data;
    double want[T] = {0};
    nl_stepnorm_begin(&probe);
    for (int batch = 0; batch < BATCHES; batch++) {
        int32_t tokens[N * T], targets[N * T];
        for (int i = 0; i < N * T; i++) {
            tokens[i] = (i * 5 + 3 * batch + 1) % CLASSES;
            targets[i] = (i + batch) % CLASSES;
        }
        nl_model_load_tokens(m, tokens, targets, N);
        nl_model_forward(m, N, NL_MODE_EVAL);
        nl_stepnorm_add(&probe, m, N);
        for (int n = 0; n < N; n++) {
            double h[H] = {0}, c[H] = {0};
            for (int t = 0; t < T; t++) {
                const float *x = emb + (size_t)tokens[n * T + t] * H;
                double gate[4 * H], h_new[H], norm = 0.0;
                for (int r = 0; r < 4 * H; r++) {
                    double u = (double)b_ih[r] + b_hh[r];
                    for (int j = 0; j < H; j++)
                        u += (double)w_ih[r * H + j] * x[j] + (double)w_hh[r * H + j] * h[j];
                    gate[r] = u;
                }
                for (int j = 0; j < H; j++) {
                    const double i_g = 1 / (1 + exp(-gate[j])), f_g = 1 / (1 + exp(-gate[H + j]));
                    const double g_g = tanh(gate[2 * H + j]), o_g = 1 / (1 + exp(-gate[3 * H + j]));
                    c[j] = f_g * c[j] + i_g * g_g;
                    h_new[j] = o_g * tanh(c[j]);
                    norm += h_new[j] * h_new[j];
                }
                memcpy(h, h_new, sizeof h);
                want[t] += sqrt(norm) / (N * BATCHES);
            }
        }
    }
    nl_stepnorm_finish(&probe, m);
    for (int t = 0; t < T; t++)
        ck_assert_msg(fabs(probe.norm[t] - want[t]) <= 1e-5 * (1 + want[t]),
                      "step %d: probe %.9g, by hand %.9g", t, probe.norm[t], want[t]);
    nl_stepnorm_free(&probe);
    nl_model_free(m);
}
END_TEST

/* sum h_T * r for the model at its current parameters and input */
static double norm_fd_loss(nl_model *m, int n, int h, const float *r)
{
    nl_model_forward(m, n, NL_MODE_TRAIN_FROZEN);
    double loss = 0.0;
    for (int k = 0; k < n * h; k++)
        loss += (double)m->logits->data[k] * r[k];
    return loss;
}

/* the analytic gradients of `values` entries at p (grad beside it)
 * against central differences */
static void check_fd_entries(nl_model *m, int n, int h, const float *r, float *p,
                             const float *grad, size_t count, const char *what)
{
    const float step = 3e-3f;
    float *numeric = malloc(count * sizeof *numeric);
    for (size_t i = 0; i < count; i++) {
        const float keep = p[i];
        p[i] = keep + step;
        const double up = norm_fd_loss(m, n, h, r);
        p[i] = keep - step;
        const double down = norm_fd_loss(m, n, h, r);
        p[i] = keep;
        numeric[i] = (float)((up - down) / (2.0 * step));
    }
    tu_assert_close(grad, numeric, count, 1e-2, what);
    free(numeric);
}

/* The normalized cell's gradients of the input and of every parameter
 * against finite differences, for each kind the in-cell placement takes,
 * both cells, with and without the cell state's normalizer. Batch
 * statistics in the frozen-training mode, so that no running-statistics
 * update moves between the evaluations. */
START_TEST(test_norm_cell_finite_differences)
{
    static const char *const kinds[] = {"layer", "rms", "batch"};
    for (int c = 0; c < NL_RNN_COUNT; c++)
        for (size_t kk = 0; kk < sizeof kinds / sizeof kinds[0]; kk++)
            for (int cell_state = 0; cell_state <= (c == NL_RNN_LSTM); cell_state++) {
                const nl_norm_info *row =
                    nl_norm_info_of((nl_norm_kind)nl_name_lookup(&nl_norm_names, kinds[kk]));
                norm_stack_ctx ctx = {.cell = (nl_rnn_cell)c, .t = 3, .d = 3, .hidden = 3};
                ctx.norm = (nl_rnn_cell_norm){.per_step = row->running_stats,
                                              .center = row->center, .affine = true,
                                              .shift = row->learned_shift,
                                              .cell_state = cell_state, .eps = 1e-5f,
                                              .momentum = 0.1f, .gain_init = 1.0f};
                const int n = 6, h = ctx.hidden;
                nl_model_spec spec;
                nl_model_spec_defaults(&spec);
                spec.in_c = 1;
                spec.in_h = ctx.t;
                spec.in_w = ctx.d;
                nl_model *m = NULL;
                nl_error err = {0};
                ck_assert_msg(nl_model_build_graph(&spec, tu_cpu(1), n, n, 9, build_norm_stack,
                                                   &ctx, &m, &err) == NL_OK,
                              "%s", err.msg);
                for (int p = 0; p < m->n_params; p++)
                    tu_fill_uniform(m->params[p]->data, m->params[p]->count, 30 + p, -0.9f, 0.9f);
                const size_t in_count = (size_t)n * ctx.t * ctx.d;
                tu_fill_uniform(m->input->data, in_count, 3, -1.0f, 1.0f);
                float r[18];
                tu_fill_uniform(r, (size_t)n * h, 4, -1.0f, 1.0f);
                norm_fd_loss(m, n, h, r);
                nl_model_backward_from(m, n, r);
                char what[160];
                const char *cell_name = nl_name_of(&nl_rnn_cell_names, c);
                snprintf(what, sizeof what, "%s %s%s dx", cell_name, kinds[kk],
                         cell_state ? "" : " (cell state plain)");
                float *dx = malloc(in_count * sizeof *dx);
                memcpy(dx, m->input->grad, in_count * sizeof *dx);
                check_fd_entries(m, n, h, r, m->input->data, dx, in_count, what);
                free(dx);
                for (int p = 0; p < m->n_params; p++) {
                    nl_param *prm = m->params[p];
                    float *analytic = malloc(prm->count * sizeof *analytic);
                    memcpy(analytic, prm->grad, prm->count * sizeof *analytic);
                    snprintf(what, sizeof what, "%s %s%s d%s", cell_name, kinds[kk],
                             cell_state ? "" : " (cell state plain)", prm->name);
                    check_fd_entries(m, n, h, r, prm->data, analytic, prm->count, what);
                    free(analytic);
                }
                nl_model_free(m);
            }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rnn");
    TCase *tc = tcase_create("rnn");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_against_pytorch);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_layer_in_model);
    tcase_add_test(tc, test_architectures_build_and_train);
    tcase_add_test(tc, test_bf16_train_step);
    tcase_add_test(tc, test_permuted_pixels);
    tcase_add_test(tc, test_normalizer_refused);
    tcase_add_test(tc, test_norm_cell_against_pytorch);
    tcase_add_test(tc, test_norm_cell_finite_differences);
    tcase_add_test(tc, test_norm_cell_shared_running_stats);
    tcase_add_test(tc, test_in_cell_architectures);
    tcase_add_test(tc, test_bn_lstm_past_trained_length);
    tcase_add_test(tc, test_step_norm_probe);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
