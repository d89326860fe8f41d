// ctest-labels: kernels
/* Every CPU normalization path against the plain reference of
 * core/norm/reference.c: the tuned batch-statistics and group kernels
 * behind the norm ops (per-sample groups centred and not), over a table of
 * shapes (odd planes, feature vectors, shapes large enough
 * to split over threads, a mean far from zero), 1 to 3 threads, affine on,
 * off and scale only, running statistics where a geometry has them, dx written and
 * accumulated; and the forward in two steps (norm_stats, norm_apply). The same
 * shapes drive the normalizers without statistics (DyT and FRN's TLU)
 * against their references, and Switchable Normalization's mix and
 * backward (switch_mix, switch_backward) on the image-like ones. */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "norm/reference.h"
#include "testutil.h"

#define TOL 1e-5

typedef struct {
    int n, c, hw;
    float mean; /* of x */
} shape;

static const shape shapes[] = {
    {3, 6, 35, 0.0f},    /* 5x7: odd planes */
    {7, 10, 1, 0.5f},    /* feature vectors */
    {5, 64, 1, 0.0f},    /* features in groups of 8 */
    {300, 40, 1, 0.0f},  /* many rows */
    {4, 300, 4, 0.0f},   /* many channels, tiny planes */
    {2, 8, 4096, 0.0f},  /* few channels, large planes */
    {5, 4, 49, 100.0f},  /* |mean| >> std */
    {1, 3, 12, -3.0f},   /* one sample */
    {16, 32, 225, 0.0f}, /* 15x15, enough work for several threads */
};

typedef struct {
    float *x, *dy, *gamma, *beta, *dx0;
    size_t count;
} inputs;

/* affine: 0 none, 1 gamma and beta, 2 gamma only (a scale without shift) */
static void check(nl_backend *be, const shape *s, const inputs *in, nl_norm_geom g, int affine,
                  bool running, int threads)
{
    char what[200];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what, "ops (%d,%d,%d) groups=%d center=%d affine=%d running=%d "       \
              "threads=%d: %s", s->n, s->c, s->hw, g.groups, g.center, affine, running, threads,  \
              part),                                                                               \
     what)
    const size_t count = in->count, stats = (size_t)nl_norm_stat_groups(&g);
    const float *gamma = affine ? in->gamma : NULL, *beta = affine == 1 ? in->beta : NULL;
    float *y[2], *mean[2], *rstd[2], *rm[2], *rv[2], *dx[2], *dg[2], *db[2];
    for (int k = 0; k < 2; k++) { /* 0: reference, 1: under test */
        y[k] = malloc(count * sizeof(float));
        dx[k] = malloc(count * sizeof(float));
        mean[k] = malloc(stats * sizeof(float));
        rstd[k] = malloc(stats * sizeof(float));
        rm[k] = malloc((size_t)s->c * sizeof(float));
        rv[k] = malloc((size_t)s->c * sizeof(float));
        dg[k] = malloc((size_t)s->c * sizeof(float));
        db[k] = malloc((size_t)s->c * sizeof(float));
        for (int ch = 0; ch < s->c; ch++) {
            rm[k][ch] = 0.1f * (float)ch;
            rv[k][ch] = 1.5f;
        }
    }
    void *ws = malloc(be->ops->norm_backward_workspace(be, &g) + 1);

    nl_norm_reference_forward(&g, in->x, gamma, beta, y[0], mean[0], rstd[0],
                              running ? rm[0] : NULL, running ? rv[0] : NULL, 0.1f);
    const float momentum = 0.1f; /* the CPU backend's device memory is the host's */
    be->ops->norm_forward(be, &g, in->x, gamma, beta, y[1], mean[1], rstd[1],
                          running ? rm[1] : NULL, running ? rv[1] : NULL, &momentum);
    tu_assert_close(y[1], y[0], count, TOL, WHAT("y"));
    tu_assert_close(mean[1], mean[0], stats, TOL, WHAT("save_mean"));
    tu_assert_close(rstd[1], rstd[0], stats, TOL, WHAT("save_rstd"));
    if (running) {
        tu_assert_close(rm[1], rm[0], (size_t)s->c, TOL, WHAT("running_mean"));
        tu_assert_close(rv[1], rv[0], (size_t)s->c, TOL, WHAT("running_var"));
        nl_norm_reference_forward_eval(&g, in->x, gamma, beta, rm[0], rv[0], y[0]);
        be->ops->norm_forward_eval(be, &g, in->x, gamma, beta, rm[0], rv[0], y[1]);
        tu_assert_close(y[1], y[0], count, TOL, WHAT("eval y"));
    }
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        for (int k = 0; k < 2; k++)
            memcpy(dx[k], in->dx0, count * sizeof(float));
        nl_norm_reference_backward(&g, in->x, in->dy, gamma, mean[0], rstd[0], dx[0],
                                   accumulate, dg[0], db[0]);
        /* each backpropagates from the statistics it saved itself */
        be->ops->norm_backward(be, &g, in->x, in->dy, gamma, mean[1], rstd[1], dx[1],
                               accumulate, affine ? dg[1] : NULL, beta ? db[1] : NULL, ws);
        tu_assert_close(dx[1], dx[0], count, TOL, WHAT(accumulate ? "dx accumulated" : "dx"));
        if (affine)
            tu_assert_close(dg[1], dg[0], (size_t)s->c, TOL, WHAT("dgamma"));
        if (beta)
            tu_assert_close(db[1], db[0], (size_t)s->c, TOL, WHAT("dbeta"));
    }
#undef WHAT
    for (int k = 0; k < 2; k++) {
        float *all[] = {y[k], dx[k], mean[k], rstd[k], rm[k], rv[k], dg[k], db[k]};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            free(all[i]);
    }
    free(ws);
}

/* The forward in two steps: norm_stats against the reference's statistics
 * and running statistics, norm_apply (from the reference's statistics)
 * against the reference's apply, and stats then apply against the fused
 * reference forward. */
static void check_split(nl_backend *be, const shape *s, const inputs *in, nl_norm_geom g,
                        int affine, bool running, int threads)
{
    char what[200];
#define WHAT(part)                                                                                 \
    (snprintf(what, sizeof what, "split (%d,%d,%d) groups=%d center=%d affine=%d running=%d "     \
              "threads=%d: %s", s->n, s->c, s->hw, g.groups, g.center, affine, running, threads,  \
              part),                                                                               \
     what)
    const size_t count = in->count, stats = (size_t)nl_norm_stat_groups(&g), c = (size_t)s->c;
    const float *gamma = affine ? in->gamma : NULL, *beta = affine == 1 ? in->beta : NULL;
    float *y[3], *mean[3], *var[3], *rstd[3], *rm[2], *rv[2];
    for (int k = 0; k < 3; k++) { /* 0: reference, 1: under test, 2: fused reference */
        y[k] = malloc(count * sizeof(float));
        mean[k] = malloc(stats * sizeof(float));
        var[k] = malloc(stats * sizeof(float));
        rstd[k] = malloc(stats * sizeof(float));
    }
    for (int k = 0; k < 2; k++) {
        rm[k] = malloc(c * sizeof(float));
        rv[k] = malloc(c * sizeof(float));
        for (size_t ch = 0; ch < c; ch++) {
            rm[k][ch] = 0.1f * (float)ch;
            rv[k][ch] = 1.5f;
        }
    }
    nl_norm_reference_stats(&g, in->x, mean[0], var[0], running ? rm[0] : NULL,
                            running ? rv[0] : NULL, 0.1f);
    const float momentum = 0.1f;
    be->ops->norm_stats(be, &g, in->x, mean[1], var[1], running ? rm[1] : NULL,
                        running ? rv[1] : NULL, &momentum);
    tu_assert_close(mean[1], mean[0], stats, TOL, WHAT("mean"));
    tu_assert_close(var[1], var[0], stats, TOL, WHAT("var"));
    if (running) {
        tu_assert_close(rm[1], rm[0], c, TOL, WHAT("running_mean"));
        tu_assert_close(rv[1], rv[0], c, TOL, WHAT("running_var"));
    }
    nl_norm_reference_apply(&g, in->x, mean[0], var[0], gamma, beta, y[0], rstd[0]);
    be->ops->norm_apply(be, &g, in->x, mean[0], var[0], gamma, beta, y[1], rstd[1]);
    tu_assert_close(y[1], y[0], count, TOL, WHAT("apply y"));
    tu_assert_close(rstd[1], rstd[0], stats, TOL, WHAT("apply rstd"));
    be->ops->norm_apply(be, &g, in->x, mean[0], var[0], gamma, beta, y[1], NULL);
    tu_assert_close(y[1], y[0], count, TOL, WHAT("apply y without rstd"));
    nl_norm_reference_forward(&g, in->x, gamma, beta, y[2], mean[2], rstd[2], NULL, NULL, 0.0f);
    tu_assert_close(y[0], y[2], count, TOL, WHAT("stats + apply = forward: y"));
    tu_assert_close(mean[0], mean[2], stats, TOL, WHAT("stats + apply = forward: mean"));
    tu_assert_close(rstd[0], rstd[2], stats, TOL, WHAT("stats + apply = forward: rstd"));
#undef WHAT
    for (int k = 0; k < 3; k++) {
        free(y[k]);
        free(mean[k]);
        free(var[k]);
        free(rstd[k]);
    }
    for (int k = 0; k < 2; k++) {
        free(rm[k]);
        free(rv[k]);
    }
}

/* a divisor of c strictly between 1 and c, or 0 */
static int middle_groups(int c)
{
    for (int g = 2; g < c; g++)
        if (c % g == 0 && c / g <= 8)
            return g;
    for (int g = 2; g < c; g++)
        if (c % g == 0)
            return g;
    return 0;
}

START_TEST(test_cpu_paths_match_reference)
{
    const shape *s = &shapes[_i];
    nl_backend *be = tu_cpu(3);
    inputs in;
    in.count = (size_t)s->n * s->c * s->hw;
    in.x = malloc(in.count * sizeof(float));
    in.dy = malloc(in.count * sizeof(float));
    in.dx0 = malloc(in.count * sizeof(float));
    in.gamma = malloc((size_t)s->c * sizeof(float));
    in.beta = malloc((size_t)s->c * sizeof(float));
    tu_fill_normal(in.x, in.count, 100 + _i, s->mean, 2.0f);
    tu_fill_normal(in.dy, in.count, 200 + _i, 0.0f, 1.0f);
    tu_fill_normal(in.dx0, in.count, 300 + _i, 0.0f, 1.0f);
    tu_fill_uniform(in.gamma, (size_t)s->c, 400 + _i, 0.5f, 1.5f);
    tu_fill_uniform(in.beta, (size_t)s->c, 500 + _i, -0.5f, 0.5f);
    const int group_counts[] = {1, middle_groups(s->c), s->c};
    for (int threads = 1; threads <= 3; threads++) {
        be->threads = threads;
        omp_set_num_threads(threads);
        for (int affine = 0; affine < 3; affine++) {
            const nl_norm_geom batch = {s->n, s->c, s->hw, 0, true, 1e-5f, NL_PRECISION_FP32, 0, {0}};
            if ((long)s->n * s->hw > 1 && affine < 2) {
                check(be, s, &in, batch, affine, affine, threads);
                check_split(be, s, &in, batch, affine, affine, threads);
            }
            for (int gi = 0; gi < 3; gi++) {
                const int groups = group_counts[gi];
                if (groups == 0 || (gi == 2 && s->hw == 1))
                    continue; /* no middle count; instance statistics of one value */
                const bool instance_running = gi == 2 && affine == 1;
                for (int center = 0; center < 2; center++) {
                    const nl_norm_geom g = {s->n, s->c, s->hw, groups, center, 1e-5f, NL_PRECISION_FP32, 0, {0}};
                    check(be, s, &in, g, affine, center && instance_running, threads);
                    check_split(be, s, &in, g, affine, center && instance_running, threads);
                }
            }
        }
    }
    free(in.x);
    free(in.dy);
    free(in.dx0);
    free(in.gamma);
    free(in.beta);
}
END_TEST

/* The backward of batch statistics in two steps (synchronized batch norm):
 * the ops' reduce against the reference's; then the batch cut in two
 * slices as two ranks hold it: each slice's sums, added, and applied to
 * each slice with the whole batch's count give the whole batch's dx, by
 * the ops and by the reference. */
START_TEST(test_backward_split_matches_whole_batch)
{
    const shape *s = &shapes[_i];
    if (s->n < 2)
        return; /* nothing to cut */
    nl_backend *be = tu_cpu(3);
    const size_t count = (size_t)s->n * s->c * s->hw, plane_floats = (size_t)s->c * s->hw;
    float *x = malloc(count * sizeof(float)), *dy = malloc(count * sizeof(float));
    float *dx0 = malloc(count * sizeof(float)), *want = malloc(count * sizeof(float));
    float *got = malloc(count * sizeof(float)), *gamma = malloc((size_t)s->c * sizeof(float));
    float *mean = malloc((size_t)s->c * sizeof(float)), *rstd = malloc((size_t)s->c * sizeof(float));
    float *y = malloc(count * sizeof(float)), *dg = malloc((size_t)s->c * sizeof(float));
    float *db = malloc((size_t)s->c * sizeof(float));
    float *sums[2][2]; /* [slice][sum_dy, sum_dy_xhat] */
    for (int k = 0; k < 4; k++)
        sums[k / 2][k % 2] = malloc((size_t)s->c * sizeof(float));
    float *total[2] = {malloc((size_t)s->c * sizeof(float)), malloc((size_t)s->c * sizeof(float))};
    tu_fill_normal(x, count, 600 + _i, s->mean, 2.0f);
    tu_fill_normal(dy, count, 700 + _i, 0.0f, 1.0f);
    tu_fill_normal(dx0, count, 800 + _i, 0.0f, 1.0f);
    tu_fill_uniform(gamma, (size_t)s->c, 900 + _i, 0.5f, 1.5f);
    const nl_norm_geom whole = {s->n, s->c, s->hw, 0, true, 1e-5f, NL_PRECISION_FP32, 0, {0}};
    nl_norm_reference_forward(&whole, x, gamma, NULL, y, mean, rstd, NULL, NULL, 0.0f);
    const int cut = s->n / 3 > 0 ? s->n / 3 : 1; /* uneven slices */
    const int rows[2] = {cut, s->n - cut};
    for (int threads = 1; threads <= 3; threads += 2) {
        be->threads = threads;
        omp_set_num_threads(threads);
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            memcpy(want, dx0, count * sizeof(float));
            nl_norm_reference_backward(&whole, x, dy, gamma, mean, rstd, want, accumulate, dg, db);
            /* the whole batch at once: the sums are dgamma and dbeta */
            be->ops->norm_backward_reduce(be, &whole, x, dy, mean, rstd, total[0], total[1]);
            tu_assert_close(total[0], db, (size_t)s->c, TOL, "reduce: sum dy = dbeta");
            tu_assert_close(total[1], dg, (size_t)s->c, TOL, "reduce: sum dy*xhat = dgamma");
            nl_norm_reference_backward_reduce(&whole, x, dy, mean, rstd, total[0], total[1]);
            tu_assert_close(total[0], db, (size_t)s->c, TOL, "reference reduce: sum dy");
            tu_assert_close(total[1], dg, (size_t)s->c, TOL, "reference reduce: sum dy*xhat");
            for (int by_ops = 0; by_ops < 2; by_ops++) {
                memcpy(got, dx0, count * sizeof(float));
                for (int k = 0; k < 2; k++) {
                    const nl_norm_geom slice = {rows[k], s->c, s->hw, 0, true, 1e-5f, NL_PRECISION_FP32, 0, {0}};
                    const size_t at = k ? (size_t)rows[0] * plane_floats : 0;
                    if (by_ops)
                        be->ops->norm_backward_reduce(be, &slice, x + at, dy + at, mean, rstd,
                                                      sums[k][0], sums[k][1]);
                    else
                        nl_norm_reference_backward_reduce(&slice, x + at, dy + at, mean, rstd,
                                                          sums[k][0], sums[k][1]);
                }
                for (int ch = 0; ch < s->c; ch++)
                    for (int j = 0; j < 2; j++)
                        total[j][ch] = sums[0][j][ch] + sums[1][j][ch];
                for (int k = 0; k < 2; k++) {
                    const nl_norm_geom slice = {rows[k], s->c, s->hw, 0, true, 1e-5f, NL_PRECISION_FP32, 0, {0}};
                    const size_t at = k ? (size_t)rows[0] * plane_floats : 0;
                    const double values = (double)s->n * s->hw;
                    if (by_ops)
                        be->ops->norm_backward_apply(be, &slice, x + at, dy + at, gamma, mean,
                                                     rstd, total[0], total[1], values, got + at,
                                                     accumulate);
                    else
                        nl_norm_reference_backward_apply(&slice, x + at, dy + at, gamma, mean,
                                                         rstd, total[0], total[1], values,
                                                         got + at, accumulate);
                }
                tu_assert_close(got, want, count, TOL,
                                by_ops ? "ops: two slices' dx" : "reference: two slices' dx");
            }
        }
    }
    float *all[] = {x, dy, dx0, want, got, gamma, mean, rstd, y, dg, db, total[0], total[1],
                    sums[0][0], sums[0][1], sums[1][0], sums[1][1]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}
END_TEST

/* DyT and the TLU against their references on every shape, 1 to 3 threads,
 * affine on and off, alpha in tanh's linear range and well into saturation,
 * dx written and accumulated; the gradients repeat bit for bit across
 * thread counts */
START_TEST(test_pointwise_match_reference)
{
    const shape *s = &shapes[_i];
    nl_backend *be = tu_cpu(3);
    const size_t count = (size_t)s->n * s->c * s->hw, c = (size_t)s->c;
    float *x = malloc(count * sizeof(float)), *dy = malloc(count * sizeof(float));
    float *dx0 = malloc(count * sizeof(float)), *param = malloc(3 * c * sizeof(float));
    float *y[2], *dx[2], *dg[2], *db[2], first_dalpha = 0.0f;
    for (int k = 0; k < 2; k++) {
        y[k] = malloc(count * sizeof(float));
        dx[k] = malloc(count * sizeof(float));
        dg[k] = malloc(c * sizeof(float));
        db[k] = malloc(c * sizeof(float));
    }
    float *dx_one_thread = malloc(count * sizeof(float));
    tu_fill_normal(x, count, 600 + _i, s->mean / 20.0f, 2.0f);
    tu_fill_normal(dy, count, 700 + _i, 0.0f, 1.0f);
    tu_fill_normal(dx0, count, 800 + _i, 0.0f, 1.0f);
    tu_fill_uniform(param, 3 * c, 900 + _i, -0.5f, 1.5f); /* gamma, beta, tau */
    const float *gamma_all = param, *beta_all = param + c, *tau = param + 2 * c;
    void *ws = malloc(be->ops->dyt_backward_workspace(be, s->c));
    char what[160];
    for (int threads = 1; threads <= 3; threads++) {
        be->threads = threads;
        omp_set_num_threads(threads);
        for (int affine = 0; affine < 2; affine++)
            for (int ai = 0; ai < 2; ai++) {
                const float alpha = ai ? 3.0f : 0.5f;
                const float *gamma = affine ? gamma_all : NULL, *beta = affine ? beta_all : NULL;
                snprintf(what, sizeof what, "dyt (%d,%d,%d) alpha=%g affine=%d threads=%d", s->n,
                         s->c, s->hw, alpha, affine, threads);
                nl_dyt_reference_forward(s->n, s->c, s->hw, alpha, x, gamma, beta, y[0]);
                be->ops->dyt_forward(be, s->n, s->c, s->hw, &alpha, x, gamma, beta, y[1]);
                tu_assert_close(y[1], y[0], count, TOL, what);
                for (int accumulate = 0; accumulate < 2; accumulate++) {
                    float dalpha[2];
                    for (int k = 0; k < 2; k++)
                        memcpy(dx[k], dx0, count * sizeof(float));
                    nl_dyt_reference_backward(s->n, s->c, s->hw, alpha, x, dy, gamma, dx[0],
                                              accumulate, dg[0], db[0], &dalpha[0]);
                    be->ops->dyt_backward(be, s->n, s->c, s->hw, &alpha, x, dy, gamma, dx[1],
                                          accumulate, affine ? dg[1] : NULL,
                                          affine ? db[1] : NULL, &dalpha[1], ws);
                    tu_assert_close(dx[1], dx[0], count, TOL, what);
                    /* dalpha sums terms of both signs, each holding 1 - t^2, which
                     * keeps only the absolute accuracy of t where tanh saturates:
                     * its error is measured against the sum of the terms' sizes */
                    double size = 0.0;
                    for (size_t at = 0; at < count; at++)
                        size += fabs((double)dy[at] * x[at] *
                                     (gamma ? gamma[at / (size_t)s->hw % c] : 1.0f));
                    ck_assert_msg(fabs((double)dalpha[1] - dalpha[0]) <= TOL * size,
                                  "%s: dalpha %.9g, reference %.9g (terms' size %.3g)", what,
                                  (double)dalpha[1], (double)dalpha[0], size);
                    if (affine) {
                        tu_assert_close(dg[1], dg[0], c, TOL, what);
                        tu_assert_close(db[1], db[0], c, TOL, what);
                    }
                    if (affine && ai && accumulate) { /* the same bits on every team */
                        if (threads == 1) {
                            memcpy(dx_one_thread, dx[1], count * sizeof(float));
                            first_dalpha = dalpha[1];
                        }
                        ck_assert_msg(memcmp(dx_one_thread, dx[1], count * sizeof(float)) == 0 &&
                                          first_dalpha == dalpha[1],
                                      "%s: differs from one thread", what);
                    }
                }
            }
        snprintf(what, sizeof what, "tlu (%d,%d,%d) threads=%d", s->n, s->c, s->hw, threads);
        nl_tlu_reference_forward(s->n, s->c, s->hw, x, tau, y[0]);
        be->ops->tlu_forward(be, s->n, s->c, s->hw, x, tau, y[1]);
        ck_assert_msg(memcmp(y[1], y[0], count * sizeof(float)) == 0, "%s: y", what);
        memcpy(y[1], x, count * sizeof(float)); /* in place, as the FRN layer runs it */
        be->ops->tlu_forward(be, s->n, s->c, s->hw, y[1], tau, y[1]);
        ck_assert_msg(memcmp(y[1], y[0], count * sizeof(float)) == 0, "%s: y in place", what);
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            for (int k = 0; k < 2; k++)
                memcpy(dx[k], dx0, count * sizeof(float));
            nl_tlu_reference_backward(s->n, s->c, s->hw, y[0], tau, dy, dx[0], accumulate, dg[0]);
            be->ops->tlu_backward(be, s->n, s->c, s->hw, y[0], tau, dy, dx[1], accumulate, dg[1]);
            ck_assert_msg(memcmp(dx[1], dx[0], count * sizeof(float)) == 0, "%s: dx", what);
            tu_assert_close(dg[1], dg[0], c, TOL, what);
        }
    }
    for (int k = 0; k < 2; k++) {
        free(y[k]);
        free(dx[k]);
        free(dg[k]);
        free(db[k]);
    }
    free(dx_one_thread);
    free(ws);
    free(x);
    free(dy);
    free(dx0);
    free(param);
}
END_TEST

/* the CPU's vector tanh (DyT with alpha 1, no affine) against tanh in
 * double over [-12, 12], across the clamp at |x| = 9.02 */
START_TEST(test_dyt_tanh_accuracy)
{
    enum { COUNT = 48001 };
    float *x = malloc(COUNT * sizeof(float)), *y = malloc(COUNT * sizeof(float));
    for (int k = 0; k < COUNT; k++)
        x[k] = -12.0f + 24.0f * (float)k / (COUNT - 1);
    nl_backend *be = tu_cpu(1);
    const float one = 1.0f;
    be->ops->dyt_forward(be, 1, 1, COUNT, &one, x, NULL, NULL, y);
    double worst = 0.0;
    for (int k = 0; k < COUNT; k++) {
        const double want = tanh((double)x[k]);
        const double err = fabs(y[k] - want) / fmax(fabs(want), 1e-30);
        worst = fmax(worst, err);
    }
    ck_assert_msg(worst < 4.0 * FLT_EPSILON, "tanh: relative error %.3g", worst);
    x[0] = NAN; /* a diverged run's NaN stays a NaN */
    be->ops->dyt_forward(be, 1, 1, 8, &one, x, NULL, NULL, y);
    ck_assert_msg(isnan(y[0]) && !isnan(y[1]), "tanh(NaN) = %g", (double)y[0]);
    free(x);
    free(y);
}
END_TEST

/* the reference itself, on numbers worked by hand: one channel {1, 3} with
 * batch statistics (mean 2, biased var 1, unbiased 2), and the RMS of
 * {3, 4} per sample (mean square 12.5) */
START_TEST(test_reference_by_hand)
{
    const float x[2] = {1.0f, 3.0f};
    float y[2], mean, rstd, rm = 0.0f, rv = 1.0f;
    const nl_norm_geom batch = {2, 1, 1, 0, true, 0.0f, NL_PRECISION_FP32, 0, {0}};
    nl_norm_reference_forward(&batch, x, NULL, NULL, y, &mean, &rstd, &rm, &rv, 0.1f);
    ck_assert_float_eq_tol(mean, 2.0f, 1e-7f);
    ck_assert_float_eq_tol(rstd, 1.0f, 1e-7f);
    ck_assert_float_eq_tol(y[0], -1.0f, 1e-7f);
    ck_assert_float_eq_tol(rm, 0.2f, 1e-7f);
    ck_assert_float_eq_tol(rv, 0.9f + 0.1f * 2.0f, 1e-7f);
    const float x2[2] = {3.0f, 4.0f};
    const nl_norm_geom rms = {1, 2, 1, 1, false, 0.0f, NL_PRECISION_FP32, 0, {0}};
    nl_norm_reference_forward(&rms, x2, NULL, NULL, y, &mean, &rstd, NULL, NULL, 0.0f);
    ck_assert_float_eq(mean, 0.0f);
    ck_assert_float_eq_tol(rstd, 1.0f / sqrtf(12.5f), 1e-7f);
    ck_assert_float_eq_tol(y[1], 4.0f / sqrtf(12.5f), 1e-6f);
}
END_TEST

/* batch renorm's per-channel ops against the reference: r, d clipped on
 * both sides and inside the limits, with and without affine parameters */
START_TEST(test_renorm_ops_match_reference)
{
    enum { C = 40 };
    float mean[C], var[C], rm[C], rv[C], gamma[C], beta[C], dg0[C], db[C];
    tu_fill_normal(mean, C, 601, 0.0f, 2.0f);
    tu_fill_uniform(var, C, 602, 0.0f, 9.0f);
    tu_fill_normal(rm, C, 603, 0.0f, 1.0f);
    tu_fill_uniform(rv, C, 604, 0.2f, 4.0f);
    tu_fill_uniform(gamma, C, 605, 0.5f, 1.5f);
    tu_fill_uniform(beta, C, 606, -0.5f, 0.5f);
    tu_fill_normal(dg0, C, 607, 0.0f, 1.0f);
    tu_fill_normal(db, C, 608, 0.0f, 1.0f);
    nl_backend *be = tu_cpu(1);
    for (int affine = 0; affine < 2; affine++) {
        float out[2][4][C], dg[2][C];
        const float *gm = affine ? gamma : NULL, *bt = affine ? beta : NULL;
        nl_norm_reference_renorm_correction(C, 1e-3f, 1.7f, 0.8f, mean, var, rm, rv, gm, bt,
                                            out[0][0], out[0][1], out[0][2], out[0][3]);
        const float limits[2] = {1.7f, 0.8f}; /* r_max, d_max */
        be->ops->renorm_correction(be, C, 1e-3f, limits, mean, var, rm, rv, gm, bt, out[1][0],
                                   out[1][1], out[1][2], out[1][3]);
        const char *names[4] = {"r", "d", "scale", "shift"};
        for (int k = 0; k < 4; k++)
            tu_assert_close(out[1][k], out[0][k], C, TOL, names[k]);
        int clipped[2] = {0, 0}, inside = 0;
        for (int ch = 0; ch < C; ch++) {
            clipped[0] += out[0][0][ch] == 1.7f || out[0][0][ch] == 1.0f / 1.7f;
            clipped[1] += fabsf(out[0][1][ch]) == 0.8f;
            inside += out[0][0][ch] < 1.7f && out[0][0][ch] > 1.0f / 1.7f;
        }
        ck_assert_msg(clipped[0] && clipped[1] && inside, "the inputs clip r (%d), d (%d) and "
                      "leave some r inside (%d)", clipped[0], clipped[1], inside);
        memcpy(dg[0], dg0, sizeof dg0);
        memcpy(dg[1], dg0, sizeof dg0);
        nl_norm_reference_renorm_param_grads(C, out[0][0], out[0][1], dg[0], db);
        be->ops->renorm_param_grads(be, C, out[1][0], out[1][1], dg[1], db);
        tu_assert_close(dg[1], dg[0], C, TOL, "renorm dgamma");
    }
}
END_TEST

/* Switchable Normalization's ops (switch_mix, switch_backward) against the
 * reference on every image-like shape (more than one value per plane),
 * from the statistics norm_stats takes of x: the batch term's gradient
 * taken (training) and not (the running statistics: constants), affine
 * and not, dx written and accumulated, 1 and 3 threads */
START_TEST(test_switch_ops_match_reference)
{
    const shape *s = &shapes[_i];
    if (s->hw < 2)
        return;
    const int n = s->n, c = s->c, hw = s->hw;
    const size_t count = (size_t)n * c * hw, planes = (size_t)n * c;
    float *x = malloc(count * sizeof(float)), *dy = malloc(count * sizeof(float));
    float *dx0 = malloc(count * sizeof(float)), *gamma = malloc((size_t)c * sizeof(float));
    float *st = malloc((4 * planes + 2 * (size_t)n + 2 * (size_t)c) * sizeof(float));
    float *mean_in = st, *var_in = st + planes, *mean = var_in + planes, *rstd = mean + planes;
    float *mean_ln = rstd + planes, *var_ln = mean_ln + n, *mean_bn = var_ln + n,
          *var_bn = mean_bn + c;
    float *out[2][4], dlambda[2][6], weights[2][6];
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++)
            out[k][j] = malloc((j < 2 ? planes : j == 2 ? count : (size_t)2 * c) * sizeof(float));
    tu_fill_normal(x, count, 1000 + _i, s->mean / 20.0f, 2.0f);
    tu_fill_normal(dy, count, 1100 + _i, 0.0f, 1.0f);
    tu_fill_normal(dx0, count, 1200 + _i, 0.0f, 1.0f);
    tu_fill_uniform(gamma, (size_t)c, 1300 + _i, 0.5f, 1.5f);
    const float lambda[6] = {0.3f, -0.7f, 1.1f, -0.2f, 0.9f, 0.1f};
    char what[160];
    for (int threads = 1; threads <= 3; threads += 2) {
        nl_backend *be = tu_cpu(threads);
        void *ws = malloc(be->ops->switch_backward_workspace(be, n, c));
        for (int groups = 0; groups < 3; groups++) { /* instance, layer, batch */
            const nl_norm_geom g = {.n = n, .c = c, .hw = hw, .groups = groups == 0 ? c : groups == 1 ? 1 : 0,
                                    .center = true, .eps = 1e-5f};
            float *m = groups == 0 ? mean_in : groups == 1 ? mean_ln : mean_bn;
            be->ops->norm_stats(be, &g, x, m, groups == 0 ? var_in : groups == 1 ? var_ln : var_bn,
                                NULL, NULL, NULL);
        }
        nl_switch_reference_mix(n, c, lambda, mean_in, var_in, mean_ln, var_ln, mean_bn, var_bn,
                                out[0][0], out[0][1], weights[0]);
        be->ops->switch_mix(be, n, c, lambda, mean_in, var_in, mean_ln, var_ln, mean_bn, var_bn,
                            out[1][0], out[1][1], weights[1]);
        snprintf(what, sizeof what, "switch_mix (%d,%d,%d) threads %d", n, c, hw, threads);
        tu_assert_close(out[1][0], out[0][0], planes, TOL, what);
        tu_assert_close(out[1][1], out[0][1], planes, TOL, what);
        tu_assert_close(weights[1], weights[0], 6, TOL, what);
        for (size_t p = 0; p < planes; p++) {
            mean[p] = out[0][0][p];
            rstd[p] = 1.0f / sqrtf(out[0][1][p] + 1e-5f);
        }
        for (int variant = 0; variant < 8; variant++) {
            const bool batch = variant & 1, affine = variant & 2, accumulate = variant & 4;
            for (int k = 0; k < 2; k++) {
                memcpy(out[k][2], dx0, count * sizeof(float));
                float *dg = affine ? out[k][3] : NULL, *db = affine ? out[k][3] + c : NULL;
                if (k == 0)
                    nl_switch_reference_backward(n, c, hw, x, dy, affine ? gamma : NULL, mean,
                                                 rstd, weights[0], mean_in, mean_ln, mean_bn,
                                                 var_in, var_ln, var_bn, batch, out[k][2],
                                                 accumulate, dg, db, dlambda[k]);
                else
                    be->ops->switch_backward(be, n, c, hw, x, dy, affine ? gamma : NULL, mean,
                                             rstd, weights[0], mean_in, mean_ln, mean_bn, var_in,
                                             var_ln, var_bn, batch, out[k][2], accumulate, dg, db,
                                             dlambda[k], ws);
            }
            snprintf(what, sizeof what, "switch_backward (%d,%d,%d) batch %d affine %d "
                     "accumulate %d threads %d", n, c, hw, batch, affine, accumulate, threads);
            tu_assert_close(out[1][2], out[0][2], count, TOL, what);
            tu_assert_close(dlambda[1], dlambda[0], 6, TOL, what);
            if (affine)
                tu_assert_close(out[1][3], out[0][3], 2 * (size_t)c, TOL, what);
        }
        free(ws);
    }
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 4; j++)
            free(out[k][j]);
    free(x);
    free(dy);
    free(dx0);
    free(gamma);
    free(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_reference");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_reference_by_hand);
    tcase_add_test(tc, test_renorm_ops_match_reference);
    tcase_add_loop_test(tc, test_cpu_paths_match_reference, 0,
                        (int)(sizeof shapes / sizeof shapes[0]));
    tcase_add_loop_test(tc, test_backward_split_matches_whole_batch, 0,
                        (int)(sizeof shapes / sizeof shapes[0]));
    tcase_add_loop_test(tc, test_pointwise_match_reference, 0,
                        (int)(sizeof shapes / sizeof shapes[0]));
    tcase_add_test(tc, test_dyt_tanh_accuracy);
    tcase_add_loop_test(tc, test_switch_ops_match_reference, 0,
                        (int)(sizeof shapes / sizeof shapes[0]));
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
