/* Reproducibility: the same seed, model and thread count give bit-identical
 * losses and weights; our own kernels give the same bits for any thread
 * count (OpenBLAS may not: see the README). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "model/model.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "cpu/cpu.h"
#include "testutil.h"

static void train(nl_backend *be, nl_arch arch, nl_norm_kind norm, uint64_t seed, double *losses,
                  int steps, float *final_params, size_t *n_final)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = arch;
    spec.in_c = 1;
    spec.in_h = spec.in_w = 12;
    spec.n_widths = 2;
    spec.widths[0] = arch == NL_ARCH_MLP ? 64 : 8;
    spec.widths[1] = arch == NL_ARCH_MLP ? 32 : 16;
    nl_norm_spec_defaults(&spec.norm, norm);
    spec.norm.groups = 4;
    spec.norm.virtual_batch = 4; /* read by the kinds with that key only */
    if (arch == NL_ARCH_RESNET)
        spec.norm.placement = NL_PLACE_PRE;
    const int batch = 16;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_create(&spec, be, batch, batch, seed, &m, &err) == NL_OK, "%s", err.msg);
    float x[16 * 144];
    int32_t y[16];
    nl_optim_spec sgd;
    nl_optim_spec_defaults(&sgd, NL_OPTIM_SGD);
    sgd.weight_decay = 1e-4f;
    for (int step = 0; step < steps; step++) {
        tu_fill_normal(x, sizeof x / sizeof x[0], 1000 + step, 0.0f, 1.0f);
        for (int i = 0; i < batch; i++)
            y[i] = (i * 7 + step) % 10;
        nl_model_reset_metrics(m);
        nl_model_load_batch(m, x, y, batch);
        nl_model_forward(m, batch, NL_MODE_TRAIN);
        nl_model_backward(m, batch);
        nl_optim_step(m, &sgd, 0.05f, step);
        double metrics[2];
        nl_model_read_metrics(m, metrics);
        losses[step] = metrics[0];
    }
    *n_final = m->param_floats;
    memcpy(final_params, m->param_arena, m->param_floats * sizeof(float));
    nl_model_free(m);
}

static float params_a[1 << 18], params_b[1 << 18];

START_TEST(test_same_seed_same_bits)
{
    nl_backend *be = tu_cpu(2);
    const nl_arch archs[] = {NL_ARCH_MLP, NL_ARCH_CNN, NL_ARCH_RESNET};
    for (int a = 0; a < 3; a++) {
        for (int k = 0; k < NL_NORM_COUNT; k++) {
            const nl_norm_kind norm = (nl_norm_kind)k;
            if (archs[a] == NL_ARCH_MLP && !nl_norm_info_of(norm)->features)
                continue;
            double la[12], lb[12];
            size_t na, nb;
            train(be, archs[a], norm, 3, la, 12, params_a, &na);
            train(be, archs[a], norm, 3, lb, 12, params_b, &nb);
            ck_assert_uint_eq(na, nb);
            ck_assert_msg(memcmp(la, lb, sizeof la) == 0, "%s/%s: losses differ between runs",
                          nl_name_of(&nl_arch_names, archs[a]), nl_name_of(&nl_norm_names, norm));
            ck_assert_msg(memcmp(params_a, params_b, na * sizeof(float)) == 0,
                          "%s/%s: weights differ between runs", nl_name_of(&nl_arch_names, archs[a]),
                          nl_name_of(&nl_norm_names, norm));
            /* and a different seed gives a different run */
            train(be, archs[a], norm, 4, lb, 12, params_b, &nb);
            ck_assert(memcmp(la, lb, sizeof la) != 0);
        }
    }
}
END_TEST

/* the backend's and OpenMP's thread counts, set together */
static void use_threads(nl_backend *be, int threads)
{
    be->threads = threads;
    omp_set_num_threads(threads);
}

/* Our normalization kernels reduce each block on one thread in a fixed
 * order, and pipelined loops sum a block the same way whether or not they
 * also write the one before it, so their bits do not depend on the thread
 * count. The shapes are large enough to be split over threads (3 threads
 * split them differently from 2), with an odd row count for the features'
 * 32-row chunks. */
typedef struct {
    int n, c, hw, groups; /* groups 0: BatchNorm */
} norm_case;

static nl_norm_geom geom_of(const norm_case *k)
{
    return (nl_norm_geom){k->n, k->c, k->hw, k->groups, true, 1e-5f, NL_PRECISION_FP32, 0, {0}};
}

/* the backward of case k, batch or group norm */
static void norm_backward(nl_backend *be, const norm_case *k, const float *x, const float *dy,
                          const float *gamma, const float *mean, const float *rstd, float *dx,
                          bool accumulate_dx, float *dgamma, float *dbeta, void *ws)
{
    const nl_norm_geom g = geom_of(k);
    be->ops->norm_backward(be, &g, x, dy, gamma, mean, rstd, dx, accumulate_dx, dgamma, dbeta, ws);
}

static void run_norm(nl_backend *be, const norm_case *k, const float *x, const float *dy,
                     const float *gamma, const float *beta, float *out, void *ws)
{
    const size_t count = (size_t)k->n * k->c * k->hw;
    const int stats = k->groups ? k->n * k->groups : k->c;
    float *y = out, *dx = y + count, *mean = dx + count, *rstd = mean + stats;
    float *dg = rstd + stats, *db = dg + k->c;
    for (size_t i = 0; i < count; i++)
        dx[i] = 0.25f; /* accumulated into below */
    const nl_norm_geom g = geom_of(k);
    be->ops->norm_forward(be, &g, x, gamma, beta, y, mean, rstd, NULL, NULL, NULL);
    norm_backward(be, k, x, dy, gamma, mean, rstd, dx, true, dg, db, ws);
    /* without an input gradient (a norm on the network's input) the
     * parameter gradients take another path, and must come out the same */
    float *dg_alone = malloc(2 * k->c * sizeof(float)), *db_alone = dg_alone + k->c;
    ck_assert(dg_alone);
    norm_backward(be, k, x, dy, gamma, mean, rstd, NULL, false, dg_alone, db_alone, ws);
    ck_assert_msg(memcmp(dg, dg_alone, 2 * k->c * sizeof(float)) == 0,
                  "(n %d, c %d, hw %d, groups %d): parameter gradients change without dx", k->n,
                  k->c, k->hw, k->groups);
    /* sum(dy * xhat) and sum(dy) do not involve gamma: without it (gamma
     * taken as 1) the kernels run other loops, which must give the same bits */
    float *dx_plain = malloc(count * sizeof(float));
    ck_assert(dx_plain);
    norm_backward(be, k, x, dy, NULL, mean, rstd, dx_plain, false, dg_alone, db_alone, ws);
    ck_assert_msg(memcmp(dg, dg_alone, 2 * k->c * sizeof(float)) == 0,
                  "(n %d, c %d, hw %d, groups %d): parameter gradients change without gamma",
                  k->n, k->c, k->hw, k->groups);
    /* and the input gradient does not depend on whether the parameter
     * gradients are wanted (frozen gamma and beta take other loops) */
    for (size_t i = 0; i < count; i++)
        dx_plain[i] = 0.25f;
    norm_backward(be, k, x, dy, gamma, mean, rstd, dx_plain, true, NULL, NULL, ws);
    ck_assert_msg(memcmp(dx, dx_plain, count * sizeof(float)) == 0,
                  "(n %d, c %d, hw %d, groups %d): dx changes without parameter gradients", k->n,
                  k->c, k->hw, k->groups);
    free(dx_plain);
    free(dg_alone);
}

START_TEST(test_norm_kernels_thread_independent)
{
    const norm_case cases[] = {
        {8, 32, 196, 0}, {8, 32, 196, 1}, {8, 32, 196, 4}, {8, 32, 196, 32},
        {8, 16, 784, 4}, {97, 512, 1, 0}, {97, 512, 1, 1}, {97, 512, 1, 8}, {97, 520, 1, 65},
        {300, 1100, 1, 0}, /* BatchNorm: two row passes, two feature panels */
        /* rows of 1000: the feature loops' 8-wide tail; groups of 125: their
         * scalar tails (where gcc once contracted one copy of a loop into
         * FMAs and not another, so dx moved with the outputs asked for) */
        {64, 1000, 1, 1}, {64, 1000, 1, 8},
    };
    nl_backend *be = tu_cpu(2);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const norm_case *k = &cases[ci];
        const size_t count = (size_t)k->n * k->c * k->hw;
        const size_t stats = k->groups ? (size_t)k->n * k->groups : (size_t)k->c;
        const size_t out_floats = 2 * count + 2 * stats + 2 * (size_t)k->c;
        float *x = malloc(count * sizeof *x), *dy = malloc(count * sizeof *dy);
        float *gamma = malloc(k->c * sizeof *gamma), *beta = malloc(k->c * sizeof *beta);
        float *out[3];
        const nl_norm_geom g = geom_of(k);
        void *ws = malloc(be->ops->norm_backward_workspace(be, &g) + 1);
        ck_assert(x && dy && gamma && beta && ws);
        tu_fill_normal(x, count, 1 + ci, 0.5f, 2.0f);
        tu_fill_normal(dy, count, 20 + ci, 0.0f, 1.0f);
        tu_fill_uniform(gamma, k->c, 3, 0.5f, 1.5f);
        tu_fill_uniform(beta, k->c, 4, -0.5f, 0.5f);
        for (int threads = 1; threads <= 3; threads++) {
            out[threads - 1] = malloc(out_floats * sizeof(float));
            ck_assert(out[threads - 1]);
            use_threads(be, threads);
            run_norm(be, k, x, dy, gamma, beta, out[threads - 1], ws);
        }
        for (int t = 1; t < 3; t++)
            ck_assert_msg(memcmp(out[0], out[t], out_floats * sizeof(float)) == 0,
                          "case %zu (n %d, c %d, hw %d, groups %d): %d threads differ from 1", ci,
                          k->n, k->c, k->hw, k->groups, t + 1);
        for (int t = 0; t < 3; t++)
            free(out[t]);
        free(x);
        free(dy);
        free(gamma);
        free(beta);
        free(ws);
    }
    use_threads(be, 2);
}
END_TEST

/* The linear layer's own kernels (everything but the sgemm paths) also sum
 * each output on one thread in an order fixed by the shapes: the tiled
 * forward, with depth slices past 400 inputs, split by rows of W or by
 * runs of tiles that cut a panel (odd panel counts), and the tiled
 * backward. With the products in OpenBLAS (NORMLAB_GEMM=openblas), where
 * these shapes take the tiles; under auto oneDNN takes some of them. */
START_TEST(test_linear_kernels_thread_independent)
{
    const int cases[][3] = {{37, 410, 29},  {48, 803, 61},  {64, 784, 256},
                            {20, 300, 24},  {128, 784, 256}, {200, 100, 50}};
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_gemm_choose("openblas", &err), NL_OK);
    nl_backend *be = tu_cpu(2);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int n = cases[ci][0], in = cases[ci][1], out = cases[ci][2];
        const size_t xs = (size_t)n * in, ws_ = (size_t)out * in, ys = (size_t)n * out;
        const size_t out_floats = ys + xs + ws_ + out;
        float *x = malloc(xs * sizeof *x), *w = malloc(ws_ * sizeof *w);
        float *bias = malloc(out * sizeof *bias), *dy = malloc(ys * sizeof *dy);
        void *workspace = malloc(be->ops->linear_workspace(be, n, in, out) + 64);
        ck_assert(x && w && bias && dy && workspace);
        ck_assert_msg(be->ops->linear_workspace(be, n, in, out) > 0, "case %zu is not tiled", ci);
        tu_fill_normal(x, xs, 40 + ci, 0.0f, 1.0f);
        tu_fill_normal(w, ws_, 50 + ci, 0.0f, 0.1f);
        tu_fill_normal(bias, out, 60 + ci, 0.0f, 1.0f);
        tu_fill_normal(dy, ys, 70 + ci, 0.0f, 1.0f);
        float *results[3];
        for (int threads = 1; threads <= 3; threads++) {
            float *r = results[threads - 1] = malloc(out_floats * sizeof(float));
            ck_assert(r);
            use_threads(be, threads);
            float *y = r, *dx = y + ys, *dw = dx + xs, *db = dw + ws_;
            be->ops->linear_forward(be, n, in, out, x, w, bias, y, workspace);
            be->ops->linear_backward(be, n, in, out, x, w, dy, dx, false, dw, db, workspace);
            if (threads > 1)
                ck_assert_msg(memcmp(r, results[0], out_floats * sizeof(float)) == 0,
                              "linear %d x %d -> %d: %d threads differ from 1", n, in, out,
                              threads);
        }
        for (int t = 0; t < 3; t++)
            free(results[t]);
        free(x);
        free(w);
        free(bias);
        free(dy);
        free(workspace);
    }
    use_threads(be, 2);
    ck_assert_int_eq(nl_cpu_gemm_choose(NULL, &err), NL_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("repro");
    TCase *tc = tcase_create("repro");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_same_seed_same_bits);
    tcase_add_test(tc, test_norm_kernels_thread_independent);
    tcase_add_test(tc, test_linear_kernels_thread_independent);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
