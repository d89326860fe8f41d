/* Reproducibility: the same seed, model and thread count give bit-identical
 * losses and weights; our own kernels give the same bits for any thread
 * count (OpenBLAS may not: see the README). */
#include <omp.h>
#include <string.h>

#include "model/model.h"
#include "optim/optim.h"
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
    if (arch == NL_ARCH_RESNET)
        spec.norm.placement = NL_PLACE_PRE;
    const int batch = 16;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_build(&spec, be, batch, batch, seed, &m, &err) == NL_OK, "%s", err.msg);
    float x[16 * 144];
    int32_t y[16];
    nl_sgd_spec sgd;
    nl_sgd_spec_defaults(&sgd);
    sgd.weight_decay = 1e-4f;
    for (int step = 0; step < steps; step++) {
        tu_fill_normal(x, sizeof x / sizeof x[0], 1000 + step, 0.0f, 1.0f);
        for (int i = 0; i < batch; i++)
            y[i] = (i * 7 + step) % 10;
        nl_model_reset_metrics(m);
        nl_model_load_batch(m, x, y, batch);
        nl_model_forward(m, batch, NL_MODE_TRAIN);
        nl_model_backward(m, batch);
        nl_sgd_step(m, &sgd, 0.05f, step);
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
    const nl_norm_kind norms[] = {NL_NORM_BATCH, NL_NORM_GROUP, NL_NORM_LAYER, NL_NORM_INSTANCE,
                                  NL_NORM_NONE};
    for (int a = 0; a < 3; a++) {
        for (int k = 0; k < 5; k++) {
            if (archs[a] == NL_ARCH_MLP && norms[k] == NL_NORM_INSTANCE)
                continue;
            double la[12], lb[12];
            size_t na, nb;
            train(be, archs[a], norms[k], 3, la, 12, params_a, &na);
            train(be, archs[a], norms[k], 3, lb, 12, params_b, &nb);
            ck_assert_uint_eq(na, nb);
            ck_assert_msg(memcmp(la, lb, sizeof la) == 0, "%s/%s: losses differ between runs",
                          nl_name_of(&nl_arch_names, archs[a]), nl_name_of(&nl_norm_names, norms[k]));
            ck_assert_msg(memcmp(params_a, params_b, na * sizeof(float)) == 0,
                          "%s/%s: weights differ between runs", nl_name_of(&nl_arch_names, archs[a]),
                          nl_name_of(&nl_norm_names, norms[k]));
            /* and a different seed gives a different run */
            train(be, archs[a], norms[k], 4, lb, 12, params_b, &nb);
            ck_assert(memcmp(la, lb, sizeof la) != 0);
        }
    }
}
END_TEST

/* Our normalization kernels reduce each block on one thread in a fixed
 * order, so their bits do not depend on the thread count. */
START_TEST(test_norm_kernels_thread_independent)
{
    nl_backend *be = tu_cpu(2);
    const int n = 8, c = 16, hw = 49;
    const size_t count = (size_t)n * c * hw;
    static float x[8 * 16 * 49], dy[8 * 16 * 49], y1[8 * 16 * 49], y2[8 * 16 * 49],
        dx1[8 * 16 * 49], dx2[8 * 16 * 49];
    float mean[128], rstd[128], gamma[16], beta[16], dg1[16], dg2[16], db1[16], db2[16];
    static double ws[8 * 16 * 2];
    tu_fill_normal(x, count, 1, 0.5f, 2.0f);
    tu_fill_normal(dy, count, 2, 0.0f, 1.0f);
    tu_fill_uniform(gamma, 16, 3, 0.5f, 1.5f);
    tu_fill_uniform(beta, 16, 4, -0.5f, 0.5f);
    for (int threads = 1; threads <= 2; threads++) {
        be->threads = threads;
        omp_set_num_threads(threads);
        float *y = threads == 1 ? y1 : y2, *dx = threads == 1 ? dx1 : dx2;
        float *dg = threads == 1 ? dg1 : dg2, *db = threads == 1 ? db1 : db2;
        be->ops->batchnorm_forward_train(be, n, c, hw, 1e-5f, x, gamma, beta, y, mean, rstd, NULL,
                                         NULL, 0.1f);
        be->ops->batchnorm_backward(be, n, c, hw, x, dy, gamma, mean, rstd, dx, false, dg, db);
        be->ops->groupnorm_forward(be, n, c, hw, 4, 1e-5f, x, gamma, beta, y + 0, mean, rstd,
                                   NULL, NULL, 0.1f);
        be->ops->groupnorm_backward(be, n, c, hw, 4, x, dy, gamma, mean, rstd, dx, true, dg, db, ws);
    }
    be->threads = 2;
    omp_set_num_threads(2);
    ck_assert(memcmp(y1, y2, sizeof y1) == 0);
    ck_assert(memcmp(dx1, dx2, sizeof dx1) == 0);
    ck_assert(memcmp(dg1, dg2, sizeof dg1) == 0);
    ck_assert(memcmp(db1, db2, sizeof db1) == 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("repro");
    TCase *tc = tcase_create("repro");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_same_seed_same_bits);
    tcase_add_test(tc, test_norm_kernels_thread_independent);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
