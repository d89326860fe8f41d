// ctest-labels: kernels
/* Every normalizer against PyTorch (tests/golden/make_goldens.py): forward
 * over three training steps, running statistics, backward (dx, dgamma,
 * dbeta) and eval mode, at normalized error <= 1e-5. The layer is built
 * through the model planner, so the layer glue (modes, momentum, running
 * statistics) is tested along with the kernels. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "model/model.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "norm_space.h"
#include "testutil.h"

#define TOL 1e-5

static void upload(nl_model *m, float *dst, const float *src, size_t count)
{
    m->be->ops->upload(m->be, dst, src, count * sizeof *src);
}

static float *download(nl_model *m, const float *src, size_t count)
{
    float *host = malloc(count * sizeof *host);
    m->be->ops->download(m->be, host, src, count * sizeof *host);
    return host;
}

static void check_case(const tu_fixture *fx, const char *name)
{
    char key[160];
    snprintf(key, sizeof key, "%s.meta", name);
    const int32_t *meta = tu_get(fx, key)->data;
    char kind_name[32];
    snprintf(key, sizeof key, "%s.kind", name);
    const int kind = nl_name_lookup(&nl_norm_names, tu_get_string(fx, key, kind_name, sizeof kind_name));
    ck_assert_msg(kind >= 0, "%s: the fixture names normalizer '%s', which normlab lacks", name,
                  kind_name);
    tu_norm_ctx ctx;
    nl_norm_spec_defaults(&ctx.norm, (nl_norm_kind)kind);
    ctx.ndim = meta[0];
    const int n = meta[1], c = meta[2], h = meta[3], w = meta[4];
    ctx.norm.groups = meta[5];
    ctx.norm.affine = meta[6];
    ctx.norm.track_running_stats = meta[7];
    ctx.norm.cumulative = meta[8];
    const int steps = meta[9];
    snprintf(key, sizeof key, "%s.eps", name);
    ctx.norm.eps = tu_scalar(fx, key);
    snprintf(key, sizeof key, "%s.momentum", name);
    ctx.norm.momentum = tu_scalar(fx, key);
    snprintf(key, sizeof key, "%s.renorm", name);
    const tu_tensor *renorm = tu_find(fx, key);
    if (renorm) { /* r_max, d_max; the ramps [from, to] of each */
        ctx.norm.r_max = ((const float *)renorm->data)[0];
        ctx.norm.d_max = ((const float *)renorm->data)[1];
        snprintf(key, sizeof key, "%s.renorm_ramps", name);
        const int32_t *ramps = tu_get(fx, key)->data;
        memcpy(ctx.norm.r_max_ramp, ramps, sizeof ctx.norm.r_max_ramp);
        memcpy(ctx.norm.d_max_ramp, ramps + 2, sizeof ctx.norm.d_max_ramp);
    }
    snprintf(key, sizeof key, "%s.virtual_batch", name);
    const tu_tensor *virtual_batch = tu_find(fx, key);
    if (virtual_batch)
        ctx.norm.virtual_batch = ((const int32_t *)virtual_batch->data)[0];
    snprintf(key, sizeof key, "%s.alpha", name);
    if (tu_find(fx, key))
        ctx.norm.alpha_init = tu_scalar(fx, key);
    /* custom's keys: reduce (axis bits), center, scale, train_stats,
     * eval_stats, in the enums' order (make_goldens.py's AXES, SCALES,
     * SOURCES) */
    snprintf(key, sizeof key, "%s.point", name);
    const tu_tensor *point = tu_find(fx, key);
    if (point) {
        const int32_t *p = point->data;
        ctx.norm.reduce = (unsigned)p[0];
        ctx.norm.center = p[1];
        ctx.norm.scale = (nl_norm_scale)p[2];
        ctx.norm.train_stats = (nl_stats_source)p[3];
        ctx.norm.eval_stats = (nl_stats_source)p[4];
    }

    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = c;
    spec.in_h = h;
    spec.in_w = w;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_build_graph(&spec, tu_cpu(2), n, n, 1, tu_build_norm, &ctx, &m, &err) ==
                      NL_OK,
                  "%s: %s", name, err.msg);
    const size_t count = (size_t)n * c * h * w;
    nl_param *gamma = nl_model_param(m, "norm.weight"), *beta = nl_model_param(m, "norm.bias");
    /* affine: a scale where the reference has one (mean-only batch norm has
     * beta alone) */
    snprintf(key, sizeof key, "%s.gamma", name);
    ck_assert_msg((gamma != NULL) == (ctx.norm.affine && tu_find(fx, key)), "%s: affine scale",
                  name);
    ck_assert_msg((beta != NULL) == nl_norm_has_shift(&ctx.norm),
                  "%s: affine shift", name);
    if (gamma) {
        snprintf(key, sizeof key, "%s.gamma", name);
        upload(m, gamma->data, tu_getf(fx, key), (size_t)c);
    }
    if (beta) {
        snprintf(key, sizeof key, "%s.beta", name);
        upload(m, beta->data, tu_getf(fx, key), (size_t)c);
    }
    /* the parameters only some kinds have (DyT's alpha, FRN's tau,
     * ScaleNorm's scale): every one the model has, the fixture holds with
     * its gradient under the name after "norm." */
    nl_param *extra[4];
    int n_extra = 0;
    for (int i = 0; i < m->n_params; i++) {
        nl_param *p = m->params[i];
        if (p == gamma || p == beta)
            continue;
        ck_assert_msg(n_extra < 4 && strncmp(p->name, "norm.", 5) == 0, "%s: parameter %s", name,
                      p->name);
        extra[n_extra++] = p;
        snprintf(key, sizeof key, "%s.%s", name, p->name + 5);
        ck_assert_msg(tu_find(fx, key) != NULL, "%s: the fixture lacks %s", name, key);
        upload(m, p->data, tu_getf(fx, key), p->count);
    }
    for (int step = 0; step < steps; step++) {
        snprintf(key, sizeof key, "%s.x%d", name, step);
        upload(m, m->input->data, tu_getf(fx, key), count);
        m->step = step; /* the golden's training step (batch renorm's ramp) */
        nl_model_forward(m, n, NL_MODE_TRAIN);
    }
    char what[200];
    float *y = download(m, m->logits->data, count);
    snprintf(key, sizeof key, "%s.y", name);
    snprintf(what, sizeof what, "%s forward (train)", name);
    tu_assert_close(y, tu_getf(fx, key), count, TOL, what);
    free(y);

    snprintf(key, sizeof key, "%s.dy", name);
    nl_model_backward_from(m, n, tu_getf(fx, key));
    float *dx = download(m, m->input->grad, count);
    snprintf(key, sizeof key, "%s.dx", name);
    snprintf(what, sizeof what, "%s dx", name);
    tu_assert_close(dx, tu_getf(fx, key), count, TOL, what);
    free(dx);
    if (gamma) {
        float *dg = download(m, gamma->grad, (size_t)c);
        snprintf(key, sizeof key, "%s.dgamma", name);
        snprintf(what, sizeof what, "%s dgamma", name);
        tu_assert_close(dg, tu_getf(fx, key), (size_t)c, TOL, what);
        free(dg);
    }
    if (beta) {
        float *db = download(m, beta->grad, (size_t)c);
        snprintf(key, sizeof key, "%s.dbeta", name);
        snprintf(what, sizeof what, "%s dbeta", name);
        tu_assert_close(db, tu_getf(fx, key), (size_t)c, TOL, what);
        free(db);
    }
    for (int e = 0; e < n_extra; e++) {
        float *d = download(m, extra[e]->grad, extra[e]->count);
        snprintf(key, sizeof key, "%s.d%s", name, extra[e]->name + 5);
        snprintf(what, sizeof what, "%s d%s", name, extra[e]->name + 5);
        tu_assert_close(d, tu_getf(fx, key), extra[e]->count, TOL, what);
        free(d);
    }
    nl_state *rm = nl_model_state(m, "norm.running_mean"), *rv = nl_model_state(m, "norm.running_var");
    ck_assert_msg((rm != NULL) == (ctx.norm.track_running_stats != 0), "%s: running stats", name);
    if (rm) {
        float *mean = download(m, rm->data, (size_t)c);
        snprintf(key, sizeof key, "%s.running_mean", name);
        snprintf(what, sizeof what, "%s running_mean after %d steps", name, steps);
        tu_assert_close(mean, tu_getf(fx, key), (size_t)c, TOL, what);
        free(mean);
        /* the running variance where the reference keeps one (mean-only
         * batch norm's stays the unit variance it never divides by) */
        snprintf(key, sizeof key, "%s.running_var", name);
        if (tu_find(fx, key)) {
            float *var = download(m, rv->data, (size_t)c);
            snprintf(what, sizeof what, "%s running_var (unbiased) after %d steps", name, steps);
            tu_assert_close(var, tu_getf(fx, key), (size_t)c, TOL, what);
            free(var);
        }
    }
    snprintf(key, sizeof key, "%s.x_eval", name);
    upload(m, m->input->data, tu_getf(fx, key), count);
    nl_model_forward(m, n, NL_MODE_EVAL);
    float *ye = download(m, m->logits->data, count);
    snprintf(key, sizeof key, "%s.y_eval", name);
    snprintf(what, sizeof what, "%s forward (eval)", name);
    tu_assert_close(ye, tu_getf(fx, key), count, TOL, what);
    free(ye);
    nl_model_free(m);
}

START_TEST(test_norm_case)
{
    tu_fixture *fx = tu_fixture_load("norm_goldens.nlfx");
    ck_assert_int_lt(_i, tu_fixture_cases(fx));
    char key[32], name[128];
    snprintf(key, sizeof key, "case%d", _i);
    check_case(fx, tu_get_string(fx, key, name, sizeof name));
    tu_fixture_free(fx);
}
END_TEST

/* every normalizer that adds a layer has golden cases, on each input it
 * accepts (feature vectors, images) */
START_TEST(test_every_kind_has_goldens)
{
    tu_fixture *fx = tu_fixture_load("norm_goldens.nlfx");
    bool seen[NL_NORM_COUNT][2] = {{false}};
    for (int i = 0; i < tu_fixture_cases(fx); i++) {
        char key[160], name[128], kind_name[32];
        snprintf(key, sizeof key, "case%d", i);
        tu_get_string(fx, key, name, sizeof name);
        snprintf(key, sizeof key, "%s.kind", name);
        const int kind = nl_name_lookup(&nl_norm_names, tu_get_string(fx, key, kind_name, sizeof kind_name));
        snprintf(key, sizeof key, "%s.meta", name);
        if (kind >= 0)
            seen[kind][((const int32_t *)tu_get(fx, key)->data)[0] == 4] = true;
    }
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *info = nl_norm_info_of((nl_norm_kind)k);
        /* a formula's goldens are its text's, PyTorch's autograd on it
         * (test_norm_expr, formula_goldens.nlfx) */
        if (!info->adds_layer || (info->keys & NL_NORM_KEY_FORMULA))
            continue;
        ck_assert_msg(!info->features || seen[k][0], "no golden on features for %s", info->id.name);
        ck_assert_msg(!info->images || seen[k][1], "no golden on images for %s", info->id.name);
    }
    tu_fixture_free(fx);
}
END_TEST

/* The running statistics follow PyTorch's convention exactly, also for a
 * hand-made case: one channel, values {1, 3}: mean 2, biased var 1 (used to
 * normalize), unbiased var 2 (folded in), momentum 0.1. */
START_TEST(test_running_stats_convention)
{
    nl_backend *be = tu_cpu(2);
    const float x[2] = {1.0f, 3.0f};
    float y[2], mean, rstd, running_mean = 0.0f, running_var = 1.0f;
    const nl_norm_geom g = {.n = 2, .c = 1, .hw = 1, .groups = 0, .center = true, .eps = 1e-5f};
    const float momentum = 0.1f;
    be->ops->norm_forward(be, &g, x, NULL, NULL, y, &mean, &rstd, &running_mean, &running_var,
                          &momentum);
    ck_assert_float_eq_tol(mean, 2.0f, 1e-7f);
    ck_assert_float_eq_tol(rstd, 1.0f / sqrtf(1.0f + 1e-5f), 1e-7f);
    ck_assert_float_eq_tol(running_mean, 0.9f * 0.0f + 0.1f * 2.0f, 1e-7f);
    ck_assert_float_eq_tol(running_var, 0.9f * 1.0f + 0.1f * 2.0f, 1e-7f);
    ck_assert_float_eq_tol(y[0], -1.0f / sqrtf(1.0f + 1e-5f), 1e-6f);
}
END_TEST

/* BatchNorm on feature vectors walks more than 256 rows in several passes
 * and more than 1024 features in several panels (core/cpu/batchnorm.c); the
 * golden shapes are far smaller, so this case checks those paths against the
 * same formulas in double: forward with running statistics, then backward
 * with dx added to a gradient already there. Data offset from zero (mean 20,
 * std 0.5), so that the shifted sums matter. */
START_TEST(test_batchnorm_features_passes_and_panels)
{
    enum { N = 300, D = 1100 };
    const float eps = 1e-5f, momentum = 0.1f;
    nl_backend *be = tu_cpu(2);
    float *x = malloc(sizeof(float) * N * D), *dy = malloc(sizeof(float) * N * D);
    float *y = malloc(sizeof(float) * N * D), *dx = malloc(sizeof(float) * N * D);
    float *y_ref = malloc(sizeof(float) * N * D), *dx_ref = malloc(sizeof(float) * N * D);
    float gamma[D], beta[D], mean[D], rstd[D], running_mean[D], running_var[D], dgamma[D],
        dbeta[D];
    float mean_ref[D], rstd_ref[D], running_mean_ref[D], running_var_ref[D], dgamma_ref[D],
        dbeta_ref[D];
    tu_fill_normal(x, (size_t)N * D, 91, 20.0f, 0.5f);
    tu_fill_normal(dy, (size_t)N * D, 92, 0.0f, 1.0f);
    tu_fill_uniform(gamma, D, 93, 0.5f, 1.5f);
    tu_fill_uniform(beta, D, 94, -0.5f, 0.5f);
    for (int j = 0; j < D; j++) {
        running_mean[j] = 0.0f;
        running_var[j] = 1.0f;
    }
    for (size_t i = 0; i < (size_t)N * D; i++)
        dx[i] = dx_ref[i] = 0.5f;
    for (int j = 0; j < D; j++) {
        double sum = 0.0, sum_sq = 0.0;
        for (int i = 0; i < N; i++)
            sum += x[(size_t)i * D + j];
        const double m = sum / N;
        for (int i = 0; i < N; i++) {
            const double v = x[(size_t)i * D + j] - m;
            sum_sq += v * v;
        }
        const double var = sum_sq / N, r = 1.0 / sqrt(var + eps);
        mean_ref[j] = (float)m;
        rstd_ref[j] = (float)r;
        running_mean_ref[j] = (float)(momentum * m);
        running_var_ref[j] = (float)((1.0 - momentum) + momentum * var * N / (N - 1));
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int i = 0; i < N; i++) {
            const size_t at = (size_t)i * D + j;
            const double xhat = (x[at] - m) * r;
            y_ref[at] = (float)(xhat * gamma[j] + beta[j]);
            sum_dy += dy[at];
            sum_dy_xhat += dy[at] * xhat;
        }
        dbeta_ref[j] = (float)sum_dy;
        dgamma_ref[j] = (float)sum_dy_xhat;
        for (int i = 0; i < N; i++) {
            const size_t at = (size_t)i * D + j;
            const double xhat = (x[at] - m) * r;
            dx_ref[at] += (float)(gamma[j] * r / N * (N * (double)dy[at] - sum_dy - xhat * sum_dy_xhat));
        }
    }
    const nl_norm_geom g = {.n = N, .c = D, .hw = 1, .groups = 0, .center = true, .eps = eps};
    be->ops->norm_forward(be, &g, x, gamma, beta, y, mean, rstd, running_mean, running_var,
                          &momentum);
    be->ops->norm_backward(be, &g, x, dy, gamma, mean, rstd, dx, true, dgamma, dbeta, NULL);
    tu_assert_close(y, y_ref, (size_t)N * D, TOL, "y");
    tu_assert_close(mean, mean_ref, D, TOL, "mean");
    tu_assert_close(rstd, rstd_ref, D, TOL, "rstd");
    tu_assert_close(running_mean, running_mean_ref, D, TOL, "running_mean");
    tu_assert_close(running_var, running_var_ref, D, TOL, "running_var");
    tu_assert_close(dx, dx_ref, (size_t)N * D, TOL, "dx (accumulated)");
    tu_assert_close(dgamma, dgamma_ref, D, TOL, "dgamma");
    tu_assert_close(dbeta, dbeta_ref, D, TOL, "dbeta");
    free(x);
    free(dy);
    free(y);
    free(dx);
    free(y_ref);
    free(dx_ref);
}
END_TEST

/* group and layer norm on feature vectors, forward, against the formulas in
 * double: a thread's (row, group) units are pipelined in batches (groupnorm.c),
 * and these shapes end threads' ranges on partial batches, span several
 * batches, and take every batch size from 1 to 16 units */
START_TEST(test_groupnorm_features_batches)
{
    static const struct {
        int n, c, groups;
    } shapes[] = {{37, 1024, 1}, {37, 700, 2}, {29, 96, 3}, {5, 13, 13}, {3, 2100, 1}, {21, 40, 5}};
    const float eps = 1e-5f;
    nl_backend *be = tu_cpu(2);
    const int threads_before = be->threads;
    for (int threads = 1; threads <= 3; threads++) {
        be->threads = threads;
        omp_set_num_threads(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int n = shapes[s].n, c = shapes[s].c, groups = shapes[s].groups,
                      cpg = c / groups;
            const size_t count = (size_t)n * c;
            float *x = malloc(sizeof(float) * count), *y = malloc(sizeof(float) * count);
            float *y_ref = malloc(sizeof(float) * count), *gamma = malloc(sizeof(float) * c);
            float *beta = malloc(sizeof(float) * c);
            float *mean = malloc(sizeof(float) * n * groups), *rstd = malloc(sizeof(float) * n * groups);
            float *mean_ref = malloc(sizeof(float) * n * groups);
            float *rstd_ref = malloc(sizeof(float) * n * groups);
            tu_fill_normal(x, count, 101 + (uint64_t)s, 20.0f, 0.5f);
            tu_fill_uniform(gamma, (size_t)c, 102, 0.5f, 1.5f);
            tu_fill_uniform(beta, (size_t)c, 103, -0.5f, 0.5f);
            for (int affine = 0; affine < 2; affine++) {
                for (int u = 0; u < n * groups; u++) {
                    const float *xu = x + (size_t)u * cpg;
                    double sum = 0.0, sum_sq = 0.0;
                    for (int j = 0; j < cpg; j++)
                        sum += xu[j];
                    const double m = sum / cpg;
                    for (int j = 0; j < cpg; j++)
                        sum_sq += (xu[j] - m) * (xu[j] - m);
                    const double r = 1.0 / sqrt(sum_sq / cpg + eps);
                    mean_ref[u] = (float)m;
                    rstd_ref[u] = (float)r;
                    for (int j = 0; j < cpg; j++) {
                        const int ch = (u % groups) * cpg + j;
                        const double xhat = (xu[j] - m) * r;
                        y_ref[(size_t)u * cpg + j] =
                            (float)(affine ? xhat * gamma[ch] + beta[ch] : xhat);
                    }
                }
                const nl_norm_geom g = {.n = n, .c = c, .hw = 1, .groups = groups,
                                        .center = true, .eps = eps};
                be->ops->norm_forward(be, &g, x, affine ? gamma : NULL, affine ? beta : NULL, y,
                                      mean, rstd, NULL, NULL, NULL);
                tu_assert_close(y, y_ref, count, TOL, "y");
                tu_assert_close(mean, mean_ref, (size_t)n * groups, TOL, "mean");
                tu_assert_close(rstd, rstd_ref, (size_t)n * groups, TOL, "rstd");
            }
            free(x);
            free(y);
            free(y_ref);
            free(gamma);
            free(beta);
            free(mean);
            free(rstd);
            free(mean_ref);
            free(rstd_ref);
        }
    }
    be->threads = threads_before;
    omp_set_num_threads(threads_before);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_golden");
    TCase *tc = tcase_create("pytorch");
    /* the case count comes from the fixture; when it cannot be read, one
     * case runs and fails there with the reason */
    char why[700];
    tu_fixture *fx = tu_fixture_read("norm_goldens.nlfx", why, sizeof why);
    const tu_tensor *count = fx ? tu_find(fx, "cases") : NULL;
    const int cases = count ? ((const int32_t *)count->data)[0] : 1;
    tu_fixture_free(fx);
    tcase_add_loop_test(tc, test_norm_case, 0, cases);
    tcase_add_test(tc, test_every_kind_has_goldens);
    tcase_add_test(tc, test_running_stats_convention);
    tcase_add_test(tc, test_batchnorm_features_passes_and_panels);
    tcase_add_test(tc, test_groupnorm_features_batches);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
