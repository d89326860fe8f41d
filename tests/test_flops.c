/* FLOPs per training step (nl_model_flops, core/model/model.c) from the
 * layers' own counts (nl_layer_vtable.flops): against counts written out by
 * hand per layer for an MLP, a CNN, an LM and an LSTM; against the bench
 * README's MLP and CNN numbers; every architecture of the registry with
 * every normalizer it takes reports a count from every layer; and a layer
 * kind without a count is refused at build time, never a silent zero.
 * FLOPs are 2 per multiply-add of a matrix product; a backward is the
 * weight gradients plus the input gradients where a gradient flows. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "arch/registry.h"
#include "bench/bench.h"
#include "model/model.h"
#include "norm/registry.h"
#include "testutil.h"

/* the planned model's counts per sample */
static nl_step_flops plan_flops(const nl_model_spec *spec, int batch)
{
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_plan(spec, batch, batch, 1, &m, &err) == NL_OK, "plan: %s", err.msg);
    nl_step_flops one, many;
    nl_model_flops(m, 1, &one);
    nl_model_flops(m, batch, &many);
    /* a step is `batch` samples' worth */
    ck_assert_double_eq_tol(many.forward, one.forward * batch, 1e-6 * many.forward);
    ck_assert_double_eq_tol(many.backward, one.backward * batch, 1e-6 * many.backward);
    ck_assert_double_eq(nl_model_forward_flops(m), one.forward);
    nl_model_free(m);
    return one;
}

static void image_spec(nl_model_spec *spec, nl_arch arch, nl_norm_kind norm)
{
    nl_model_spec_defaults(spec);
    spec->arch = arch;
    spec->in_c = 1;
    spec->in_h = spec->in_w = 28;
    spec->classes = 10;
    nl_norm_spec_defaults(&spec->norm, norm);
}

/* configs/quickstart-cnn.yaml with arch mlp and widths [256, 256], as
 * experiments/bench/run_e2e.sh runs it: 784 -> 256 -> 256 -> 10, batch norm */
START_TEST(test_mlp_by_hand)
{
    nl_model_spec spec;
    image_spec(&spec, NL_ARCH_MLP, NL_NORM_BATCH);
    spec.widths[0] = spec.widths[1] = 256;
    spec.n_widths = 2;
    /* fc1 784x256 = 200704 multiply-adds; fc2 256x256 = 65536;
     * classifier 256x10 = 2560: forward 2 * 268800 */
    const double forward = 2.0 * (200704 + 65536 + 2560);
    /* weight gradients as large as the forward; input gradients of fc2
     * and the classifier (fc1 reads the data) */
    const double backward = forward + 2.0 * (65536 + 2560);
    const nl_step_flops f = plan_flops(&spec, 32);
    ck_assert_double_eq(f.forward, forward); /* 537600 */
    ck_assert_double_eq(f.backward, backward); /* 673792 */
    ck_assert_msg(f.values > 0, "the normalizers and activations write values");
}
END_TEST

/* configs/quickstart-cnn.yaml: widths [16, 32], batch norm, 3x3 pad 1,
 * 2x2 max pooling after each stage */
START_TEST(test_cnn_by_hand)
{
    nl_model_spec spec;
    image_spec(&spec, NL_ARCH_CNN, NL_NORM_BATCH);
    spec.widths[0] = 16;
    spec.widths[1] = 32;
    spec.n_widths = 2;
    /* conv1 16x1x3x3 at 28x28 = 16*9*784 = 112896 multiply-adds;
     * conv2 32x16x3x3 at 14x14 = 32*16*9*196 = 903168;
     * classifier 32*7*7 = 1568 -> 10 = 15680 */
    const double forward = 2.0 * (112896 + 903168 + 15680);
    /* conv1's input gradient is not needed (the data) */
    const double backward = forward + 2.0 * (903168 + 15680);
    const nl_step_flops f = plan_flops(&spec, 64);
    ck_assert_double_eq(f.forward, forward); /* 2063488 */
    ck_assert_double_eq(f.backward, backward); /* 3901184 */
}
END_TEST

/* the bench's models, as experiments/bench/README.md counts them: MLP
 * 784-256-256-256-10 1.605 MFLOP, CNN widths 32, 64 22.77 MFLOP per sample */
START_TEST(test_bench_readme_numbers)
{
    nl_model_spec spec;
    nl_bench_model_spec(NL_ARCH_MLP, NL_NORM_NONE, 0, &spec);
    nl_step_flops f = plan_flops(&spec, 8);
    /* 3 x 2 x (200704 + 65536 + 65536 + 2560) less fc1's input gradient 2 x 200704 */
    ck_assert_double_eq(f.forward + f.backward, 1604608.0);
    nl_bench_model_spec(NL_ARCH_CNN, NL_NORM_NONE, 0, &spec);
    f = plan_flops(&spec, 8);
    /* conv1 32*9*784 = 225792, conv2 64*32*9*196 = 3612672, fc 3136*10 =
     * 31360: 3 x 2 x 3869824 less conv1's input gradient 2 x 225792 */
    ck_assert_double_eq(f.forward + f.backward, 22767360.0);
}
END_TEST

/* a 2-block LM: d 64, 4 heads, context 16, vocabulary 32, MLP ratio 4,
 * biases, the head tied to the token embedding, pre layer norm */
START_TEST(test_lm_by_hand)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = NL_ARCH_LM;
    spec.classes = 32;
    spec.d_model = 64;
    spec.heads = 4;
    spec.layers = 2;
    spec.context = 16;
    spec.mlp_ratio = 4;
    spec.tie_embeddings = true;
    nl_norm_spec_defaults(&spec.norm, NL_NORM_LAYER);
    spec.norm.placement = NL_PLACE_PRE;
    const double t = 16, d = 64, v = 32, blocks = 2;
    /* per block: q, k, v, proj 4 x T*d*d = 262144 multiply-adds; fc1 and
     * fc2 2 x T*d*4d = 524288; attention q k^T and probs v 2 x T*T*d =
     * 32768 (dense, the causal half included). Head (tied): T*d*V = 32768.
     * The embedding is a lookup: none. */
    const double linear = blocks * (4 * t * d * d + 2 * t * d * 4 * d) + t * d * v;
    const double attention = blocks * 2 * t * t * d;
    ck_assert_double_eq(linear, 1605632.0);
    const double forward = 2.0 * (linear + attention); /* 3342336 */
    /* every linear layer's input depends on the embedding's parameters:
     * its weight and input gradients, each as large as its forward;
     * attention: d(probs), dv, dq, dk, four products of T*T*d */
    const double backward = 2.0 * (2 * linear + blocks * 4 * t * t * d); /* 6684672 */
    const nl_step_flops f = plan_flops(&spec, 4);
    ck_assert_double_eq(f.forward, forward);
    ck_assert_double_eq(f.backward, backward);
}
END_TEST

/* the recurrent cell, as the bench's train_rnn rows count it: an LSTM of
 * 32 over 28 steps of 28 inputs, a linear classifier to 10 */
START_TEST(test_lstm_by_hand)
{
    nl_bench_rnn_case rc = {.cell = NL_RNN_LSTM, .norm = NL_NORM_NONE, .hidden = 32,
                            .layers = 1, .steps = 28};
    nl_model_spec spec;
    nl_bench_rnn_spec(&rc, &spec);
    /* 4 gates x 32 = 128 rows; w_ih over every step: 28*128*28 = 100352
     * multiply-adds; w_hh: 28*128*32 = 114688; classifier 32*10 = 320 */
    const double forward = 2.0 * (100352 + 114688 + 320); /* 430720 */
    /* weight gradients as the forward; the gradient through the steps
     * (w_hh again) and the classifier's input gradient; none into the data */
    const double backward = forward + 2.0 * (114688 + 320); /* 660736 */
    const nl_step_flops f = plan_flops(&spec, 8);
    ck_assert_double_eq(f.forward, forward);
    ck_assert_double_eq(f.backward, backward);
}
END_TEST

/* a small model of every architecture, as test_arch_registry plans them */
static void small_spec(nl_arch a, nl_model_spec *spec)
{
    nl_model_spec_defaults(spec);
    spec->arch = a;
    spec->in_c = 1;
    spec->in_h = spec->in_w = 8;
    spec->classes = 4;
    spec->widths[0] = 4;
    spec->n_widths = 1;
    spec->d_model = 8;
    spec->heads = 2;
    spec->layers = 1;
    spec->context = 4;
    spec->patch = 4;
}

/* the step's counts, and every layer reports something (products or
 * values), so no kind counts as free */
static void check_counts(const nl_model_spec *spec, const char *what)
{
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_plan(spec, 4, 4, 1, &m, &err) == NL_OK, "%s: %s", what, err.msg);
    nl_step_flops f;
    nl_model_flops(m, 4, &f);
    ck_assert_msg(f.forward > 0 && f.backward > 0 && isfinite(f.forward + f.backward),
                  "%s: forward %g, backward %g FLOPs", what, f.forward, f.backward);
    for (int i = 0; i < m->n_layers; i++) {
        const nl_layer *l = m->layers[i];
        nl_layer_flops lf;
        l->vt->flops(l, &lf);
        ck_assert_msg(lf.forward + lf.values > 0, "%s: layer %s (%s) reports 0", what, l->name,
                      l->vt->kind);
    }
    nl_model_free(m);
}

/* Every architecture of the registry with every normalizer it takes, every
 * recurrent cell where it reads model.cell, and dropout where it reads
 * model.dropout.p (the layer kinds these options add). */
START_TEST(test_every_arch_counts)
{
    for (int a = 0; a < NL_ARCH_COUNT; a++) {
        const nl_arch_info *r = nl_arch_info_of((nl_arch)a);
        const int cells = nl_arch_reads_key(r, "model.cell") ? NL_RNN_COUNT : 1;
        const bool drops = nl_arch_reads_key(r, "model.dropout.p");
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            if (!nl_norm_accepts(nl_norm_info_of((nl_norm_kind)k), r->norm_ndim))
                continue;
            for (int c = 0; c < cells; c++) {
                nl_model_spec spec;
                small_spec((nl_arch)a, &spec);
                nl_norm_spec_defaults(&spec.norm, (nl_norm_kind)k);
                spec.norm.placement = r->default_placement;
                spec.norm.groups = 2;
                spec.norm.virtual_batch = 2;
                if (cells > 1)
                    spec.cell = (nl_rnn_cell)c;
                spec.dropout_p = drops ? 0.25f : 0.0f;
                char what[128];
                snprintf(what, sizeof what, "%s with %s, cell %s", r->id.name,
                         nl_name_of(&nl_norm_names, k), nl_name_of(&nl_rnn_cell_names, spec.cell));
                check_counts(&spec, what);
            }
        }
    }
}
END_TEST

static void no_count_forward(nl_layer *self, const nl_pass *pass)
{
    (void)self;
    (void)pass;
}

static const nl_layer_vtable uncounted_vtable = {.kind = "uncounted",
                                                 .forward = no_count_forward,
                                                 .backward = no_count_forward};

static nl_act *uncounted_graph(nl_builder *b, nl_act *input, void *ctx)
{
    (void)ctx;
    nl_layer *l = nl_builder_layer_alloc(b, sizeof *l);
    nl_act *out = nl_builder_act(b, "uncounted", input->shape);
    nl_layer_init(l, &uncounted_vtable, "uncounted", input, NULL, out);
    nl_builder_add(b, l);
    return out;
}

/* a kind that reports no count: the build fails, naming the layer */
START_TEST(test_uncounted_kind_refused)
{
    nl_model_spec spec;
    image_spec(&spec, NL_ARCH_MLP, NL_NORM_NONE);
    nl_model *m = NULL;
    nl_error err = {0};
    const nl_code rc =
        nl_model_build_graph(&spec, tu_cpu(1), 2, 2, 1, uncounted_graph, NULL, &m, &err);
    ck_assert_int_ne(rc, NL_OK);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, "uncounted") && strstr(err.msg, "no FLOP count"), "%s",
                  err.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flops");
    TCase *tc = tcase_create("flops");
    tcase_add_test(tc, test_mlp_by_hand);
    tcase_add_test(tc, test_cnn_by_hand);
    tcase_add_test(tc, test_bench_readme_numbers);
    tcase_add_test(tc, test_lm_by_hand);
    tcase_add_test(tc, test_lstm_by_hand);
    tcase_add_test(tc, test_every_arch_counts);
    tcase_add_test(tc, test_uncounted_kind_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
