// ctest-labels: kernels
/* The normalization family on the channel-blocked layout (nl_norm_geom.block,
 * core/cpu/norm_blocked.c) against the plain layout's kernels: every op of
 * the family, on the same values, the blocked run's inputs rearranged to
 * (N, C/B, HW, B) and its outputs rearranged back, agrees to float rounding
 * (the order of the sums differs, nothing else). Batch statistics and
 * per-sample groups (layer, group, instance; centred and RMS), affine none,
 * full and scale only, running statistics where a geometry has them, dx and
 * dskip written and accumulated, the fused ReLU with and without the
 * residual add, the synchronized backward in two steps. And the blocked
 * results repeat bit for bit across B = 8 and B = 16 and across 1 and 2
 * threads, since their sums are taken in an order fixed by the shape. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/shape.h"
#include "norm_blocked_cases.h"
#include "testutil.h"

/* |blocked - plain| <= tol * (1 + |plain|). Forward outputs (y, the
 * statistics, the running statistics) hold to 3e-6 (1e-6 does not: instance
 * statistics of 49 values carry the mean's rounding into y at ~1.6e-6); the
 * backward's to 1e-5: its parameter gradients and sums are sums over N*HW
 * or a group's values, whose float partials, taken in another order,
 * differ by ~5e-6 where the sum cancels to a small result. */
#define TOL_FORWARD 3e-6
#define TOL_BACKWARD 1e-5

typedef struct {
    int n, c, hw;
} shape;

static const int ns[] = {1, 3, 8};
static const int cs[] = {16, 32, 48};
static const int hws[] = {1, 5, 49, 196};
enum { N_SHAPES = 3 * 3 * 4 };

static shape shape_at(int k)
{
    return (shape){ns[k / 12], cs[k / 4 % 3], hws[k % 4]};
}

/* beyond one stack tile of per-(sample, channel) sums (4096 entries) and
 * one panel of 512 channels: several tiles and panels (hw 3: the
 * instance statistics of 2 values normalize to +-1, whose gradient is 0
 * and dx only rounding noise) */
static const shape large = {40, 1040, 3};

static size_t value_count(const shape *s) { return (size_t)s->n * s->c * s->hw; }

/* plain (N, C, HW) to (N, C/B, HW, B) and back, each plane where
 * nl_plane_of puts it */
static void to_blocked(const shape *s, int b, const float *src, float *dst)
{
    for (long nc = 0; nc < (long)s->n * s->c; nc++) {
        const nl_plane_at at = nl_plane_of(s->c, s->hw, b, nc);
        for (int p = 0; p < s->hw; p++)
            dst[at.first + p * at.step] = src[(size_t)nc * s->hw + p];
    }
}

static void from_blocked(const shape *s, int b, const float *src, float *dst)
{
    for (long nc = 0; nc < (long)s->n * s->c; nc++) {
        const nl_plane_at at = nl_plane_of(s->c, s->hw, b, nc);
        for (int p = 0; p < s->hw; p++)
            dst[(size_t)nc * s->hw + p] = src[at.first + p * at.step];
    }
}

/* the inputs, in the plain layout, and the values some ops take as given
 * (from a plain run, so that each op is compared alone) */
typedef struct {
    float *x, *dy, *skip, *dx0, *dskip0, *gamma, *beta;
    float *run_mean, *run_var; /* running statistics before the step */
    float *ref_mean, *ref_rstd, *ref_var, *ref_y_act; /* plain forward's */
    float *ref_sum_dy, *ref_sum_dy_xhat;              /* plain backward_reduce's */
} inputs;

/* every output of one run, in the plain layout, one after the other */
enum { MAX_OUTPUTS = 64 };
typedef struct {
    const char *name[MAX_OUTPUTS];
    size_t at[MAX_OUTPUTS], len[MAX_OUTPUTS];
    int count;
    float *data;
    size_t used, cap;
} results;

static void emit(results *r, const char *name, const float *v, size_t len)
{
    ck_assert_int_lt(r->count, MAX_OUTPUTS);
    if (r->used + len > r->cap) {
        r->cap = 2 * (r->used + len);
        r->data = realloc(r->data, r->cap * sizeof(float));
    }
    memcpy(r->data + r->used, v, len * sizeof(float));
    r->name[r->count] = name;
    r->at[r->count] = r->used;
    r->len[r->count++] = len;
    r->used += len;
}

/* a tensor of values: rearranged back first when the run is blocked */
static void emit_values(results *r, const char *name, const shape *s, int b, const float *v)
{
    const size_t count = value_count(s);
    if (!b) {
        emit(r, name, v, count);
        return;
    }
    float *plain = malloc(count * sizeof(float));
    from_blocked(s, b, v, plain);
    emit(r, name, plain, count);
    free(plain);
}

/* a tensor in the run's layout */
static float *layout_copy(const shape *s, int b, const float *plain)
{
    const size_t count = value_count(s);
    float *v = malloc(count * sizeof(float));
    if (b)
        to_blocked(s, b, plain, v);
    else
        memcpy(v, plain, count * sizeof(float));
    return v;
}

typedef nb_variant variant;

static nl_norm_geom geom_of(const shape *s, const variant *v, int b)
{
    return (nl_norm_geom){.n = s->n, .c = s->c, .hw = s->hw, .groups = v->groups,
                          .center = v->center, .eps = 1e-5f,
                          .stats_precision = NL_PRECISION_FP32, .block = b};
}

/* every op of the family on geometry block b (0: plain), outputs into r */
static void run_all(nl_backend *be, const shape *s, const variant *vr, int b, const inputs *in,
                    results *r)
{
    const nl_ops *ops = be->ops;
    const nl_norm_geom g = geom_of(s, vr, b);
    const size_t count = value_count(s), c = (size_t)s->c;
    const size_t stats = (size_t)nl_norm_stat_groups(&g);
    const float *gamma = vr->affine ? in->gamma : NULL, *beta = vr->affine == 1 ? in->beta : NULL;
    const float momentum = 0.25f;
    float *x = layout_copy(s, b, in->x), *dy = layout_copy(s, b, in->dy);
    float *skip = layout_copy(s, b, in->skip), *y_act = layout_copy(s, b, in->ref_y_act);
    float *y = malloc(count * sizeof(float)), *dx = malloc(count * sizeof(float));
    float *dskip = malloc(count * sizeof(float)), *dy_copy = malloc(count * sizeof(float));
    float *mean = malloc(stats * sizeof(float)), *rstd = malloc(stats * sizeof(float));
    float *var = malloc(stats * sizeof(float));
    float *rm = malloc(c * sizeof(float)), *rv = malloc(c * sizeof(float));
    float *dg = malloc(c * sizeof(float)), *db = malloc(c * sizeof(float));
    void *ws = malloc(ops->norm_backward_workspace(be, &g) + 1);

    /* norm_forward, with the running statistics updated */
    memcpy(rm, in->run_mean, c * sizeof(float));
    memcpy(rv, in->run_var, c * sizeof(float));
    ops->norm_forward(be, &g, x, gamma, beta, y, mean, rstd, vr->running ? rm : NULL,
                      vr->running ? rv : NULL, &momentum);
    emit_values(r, "forward y", s, b, y);
    emit(r, "forward save_mean", mean, stats);
    emit(r, "forward save_rstd", rstd, stats);
    if (vr->running) {
        emit(r, "forward running_mean", rm, c);
        emit(r, "forward running_var", rv, c);
        ops->norm_forward_eval(be, &g, x, gamma, beta, in->run_mean, in->run_var, y);
        emit_values(r, "forward_eval y", s, b, y);
    }

    /* norm_stats, then norm_apply from the plain statistics */
    memcpy(rm, in->run_mean, c * sizeof(float));
    memcpy(rv, in->run_var, c * sizeof(float));
    ops->norm_stats(be, &g, x, mean, var, vr->running ? rm : NULL, vr->running ? rv : NULL,
                    &momentum);
    emit(r, "stats mean", mean, stats);
    emit(r, "stats var", var, stats);
    if (vr->running) {
        emit(r, "stats running_mean", rm, c);
        emit(r, "stats running_var", rv, c);
    }
    ops->norm_apply(be, &g, x, in->ref_mean, in->ref_var, gamma, beta, y, rstd);
    emit_values(r, "apply y", s, b, y);
    emit(r, "apply save_rstd", rstd, stats);

    /* the fused ReLU, without and with the residual add */
    for (int with_skip = 0; with_skip < 2; with_skip++) {
        memcpy(rm, in->run_mean, c * sizeof(float));
        memcpy(rv, in->run_var, c * sizeof(float));
        ops->norm_forward_act(be, &g, x, gamma, beta, with_skip ? skip : NULL, y, mean, rstd,
                              vr->running ? rm : NULL, vr->running ? rv : NULL, &momentum);
        emit_values(r, with_skip ? "forward_act y (skip)" : "forward_act y", s, b, y);
        emit(r, "forward_act save_mean", mean, stats);
        emit(r, "forward_act save_rstd", rstd, stats);
        if (vr->running)
            emit(r, "forward_act running_var", rv, c);
    }

    /* norm_backward from the plain statistics, dx written and accumulated */
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        float *dx_init = layout_copy(s, b, in->dx0);
        memcpy(dx, dx_init, count * sizeof(float));
        free(dx_init);
        ops->norm_backward(be, &g, x, dy, gamma, in->ref_mean, in->ref_rstd, dx, accumulate,
                           gamma ? dg : NULL, beta ? db : NULL, ws);
        emit_values(r, accumulate ? "backward dx accumulated" : "backward dx", s, b, dx);
        if (gamma)
            emit(r, "backward dgamma", dg, c);
        if (beta)
            emit(r, "backward dbeta", db, c);
    }

    /* the fused ReLU's backward from the plain forward_act's y: dx and
     * dskip written or accumulated, and dskip alone (no dx) */
    for (int k = 0; k < 3; k++) {
        const bool accumulate_dx = k == 1, accumulate_dskip = k != 1, no_dx = k == 2;
        float *dx_init = layout_copy(s, b, in->dx0), *dskip_init = layout_copy(s, b, in->dskip0);
        memcpy(dx, dx_init, count * sizeof(float));
        memcpy(dskip, dskip_init, count * sizeof(float));
        memcpy(dy_copy, dy, count * sizeof(float)); /* dy may be overwritten */
        ops->norm_backward_act(be, &g, x, y_act, dy_copy, gamma, in->ref_mean, in->ref_rstd,
                               no_dx ? NULL : dx, accumulate_dx, dskip, accumulate_dskip,
                               gamma ? dg : NULL, beta ? db : NULL, ws);
        if (!no_dx)
            emit_values(r, accumulate_dx ? "backward_act dx accumulated" : "backward_act dx", s,
                        b, dx);
        emit_values(r, accumulate_dskip ? "backward_act dskip accumulated" : "backward_act dskip",
                    s, b, dskip);
        if (gamma)
            emit(r, "backward_act dgamma", dg, c);
        if (beta)
            emit(r, "backward_act dbeta", db, c);
        free(dx_init);
        free(dskip_init);
    }

    /* synchronized batch norm's backward in two steps */
    if (vr->groups == 0) {
        ops->norm_backward_reduce(be, &g, x, dy, in->ref_mean, in->ref_rstd, dg, db);
        emit(r, "backward_reduce sum_dy", dg, c);
        emit(r, "backward_reduce sum_dy_xhat", db, c);
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            float *dx_init = layout_copy(s, b, in->dx0);
            memcpy(dx, dx_init, count * sizeof(float));
            free(dx_init);
            ops->norm_backward_apply(be, &g, x, dy, gamma, in->ref_mean, in->ref_rstd,
                                     in->ref_sum_dy, in->ref_sum_dy_xhat,
                                     (double)s->n * s->hw, dx, accumulate);
            emit_values(r, accumulate ? "backward_apply dx accumulated" : "backward_apply dx", s,
                        b, dx);
        }
    }
    float *all[] = {x, dy, skip, y_act, y, dx, dskip, dy_copy, mean, rstd, var, rm, rv, dg, db};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]);
    free(ws);
}

static inputs make_inputs(const shape *s, uint64_t seed)
{
    const size_t count = value_count(s), c = (size_t)s->c;
    inputs in;
    in.x = malloc(count * sizeof(float));
    in.dy = malloc(count * sizeof(float));
    in.skip = malloc(count * sizeof(float));
    in.dx0 = malloc(count * sizeof(float));
    in.dskip0 = malloc(count * sizeof(float));
    in.ref_y_act = malloc(count * sizeof(float));
    in.gamma = malloc(c * sizeof(float));
    in.beta = malloc(c * sizeof(float));
    in.run_mean = malloc(c * sizeof(float));
    in.run_var = malloc(c * sizeof(float));
    in.ref_sum_dy = malloc(c * sizeof(float));
    in.ref_sum_dy_xhat = malloc(c * sizeof(float));
    const size_t stats = (size_t)s->n * s->c; /* the most statistics groups */
    in.ref_mean = malloc(stats * sizeof(float));
    in.ref_rstd = malloc(stats * sizeof(float));
    in.ref_var = malloc(stats * sizeof(float));
    nb_fill_inputs(seed, count, c, in.x, in.dy, in.skip, in.dx0, in.dskip0, in.gamma, in.beta,
                   in.run_mean, in.run_var);
    return in;
}

static void free_inputs(inputs *in)
{
    float *all[] = {in->x,        in->dy,         in->skip,     in->dx0,
                    in->dskip0,   in->ref_y_act,  in->gamma,    in->beta,
                    in->run_mean, in->run_var,    in->ref_mean, in->ref_rstd,
                    in->ref_var,  in->ref_sum_dy, in->ref_sum_dy_xhat};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]);
}

/* the plain ops' values that the compared runs take as given */
static void make_refs(nl_backend *be, const shape *s, const variant *vr, inputs *in)
{
    const nl_norm_geom g = geom_of(s, vr, 0);
    const float *gamma = vr->affine ? in->gamma : NULL, *beta = vr->affine == 1 ? in->beta : NULL;
    const size_t count = value_count(s);
    const size_t stats = (size_t)s->n * s->c;
    float *y = malloc(count * sizeof(float)), *mean = malloc(stats * sizeof(float));
    float *rstd = malloc(stats * sizeof(float));
    be->ops->norm_forward(be, &g, in->x, gamma, beta, y, in->ref_mean, in->ref_rstd, NULL, NULL,
                          NULL);
    be->ops->norm_stats(be, &g, in->x, mean, in->ref_var, NULL, NULL, NULL);
    be->ops->norm_forward_act(be, &g, in->x, gamma, beta, in->skip, in->ref_y_act, mean, rstd,
                              NULL, NULL, NULL);
    if (vr->groups == 0)
        be->ops->norm_backward_reduce(be, &g, in->x, in->dy, in->ref_mean, in->ref_rstd,
                                      in->ref_sum_dy, in->ref_sum_dy_xhat);
    free(y);
    free(mean);
    free(rstd);
}

static void results_free(results *r) { free(r->data); }

/* plain against blocked: |got - want| <= tol * (1 + |want|), entry by entry */
static void assert_near(const results *want, const results *got, const char *context)
{
    ck_assert_int_eq(got->count, want->count);
    for (int k = 0; k < want->count; k++) {
        ck_assert_str_eq(got->name[k], want->name[k]);
        ck_assert_uint_eq(got->len[k], want->len[k]);
        const float *a = want->data + want->at[k], *b = got->data + got->at[k];
        const double tol = strncmp(want->name[k], "backward", 8) == 0 ? TOL_BACKWARD : TOL_FORWARD;
        for (size_t q = 0; q < want->len[k]; q++) {
            const double d = fabs((double)a[q] - (double)b[q]);
            if (!(d <= tol * (1.0 + fabs((double)a[q])))) /* check records every assert: slow */
                ck_abort_msg("%s: %s [%zu]: blocked %.9g, plain %.9g", context, want->name[k], q,
                             (double)b[q], (double)a[q]);
        }
    }
}

/* blocked against blocked: the same bits */
static void assert_same_bits(const results *want, const results *got, const char *context)
{
    ck_assert_int_eq(got->count, want->count);
    for (int k = 0; k < want->count; k++) {
        ck_assert_uint_eq(got->len[k], want->len[k]);
        if (memcmp(want->data + want->at[k], got->data + got->at[k],
                   want->len[k] * sizeof(float)) != 0)
            ck_abort_msg("%s: %s differs", context, want->name[k]);
    }
}

static void check_shape(const shape *s, uint64_t seed)
{
    nl_backend *be = tu_cpu(2);
    be->threads = 2;
    omp_set_num_threads(2);
    inputs in = make_inputs(s, seed);
    variant vs[64];
    const int nv = nb_variants_of(s->n, s->c, s->hw, vs);
    for (int k = 0; k < nv; k++) {
        const variant *v = &vs[k];
        make_refs(be, s, v, &in);
        results plain = {0};
        run_all(be, s, v, 0, &in, &plain);
        results by_block[2];
        memset(by_block, 0, sizeof by_block);
        for (int bi = 0; bi < 2; bi++) {
            const int b = bi ? 16 : 8;
            char context[160];
            snprintf(context, sizeof context,
                     "(n %d, c %d, hw %d) B %d groups %d center %d affine %d running %d", s->n,
                     s->c, s->hw, b, v->groups, v->center, v->affine, v->running);
            run_all(be, s, v, b, &in, &by_block[bi]);
            assert_near(&plain, &by_block[bi], context);
        }
        char context[160];
        snprintf(context, sizeof context, "(n %d, c %d, hw %d) groups %d center %d affine %d: B 8 "
                 "against B 16", s->n, s->c, s->hw, v->groups, v->center, v->affine);
        assert_same_bits(&by_block[0], &by_block[1], context);
        results_free(&plain);
        results_free(&by_block[0]);
        results_free(&by_block[1]);
    }
    free_inputs(&in);
}

START_TEST(test_blocked_matches_plain)
{
    const shape s = shape_at(_i);
    check_shape(&s, 1000 + 10 * (uint64_t)_i);
}
END_TEST

/* several stack tiles of sums and several panels of channels */
START_TEST(test_blocked_matches_plain_large)
{
    check_shape(&large, 77);
}
END_TEST

/* 1 and 2 threads give the same bits, on shapes large enough to be split
 * over the threads (NL_PARALLEL_MIN) */
START_TEST(test_blocked_threads_same_bits)
{
    const shape shapes[] = {{8, 48, 196}, large};
    nl_backend *be = tu_cpu(2);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const shape *s = &shapes[k];
        inputs in = make_inputs(s, 500 + k);
        const variant vs[] = {{0, true, 1, true}, {1, true, 1, false}, {s->c / 16, false, 2, false},
                              {s->c, true, 1, true}};
        for (size_t q = 0; q < sizeof vs / sizeof vs[0]; q++) {
            be->threads = 2;
            omp_set_num_threads(2);
            make_refs(be, s, &vs[q], &in);
            results by_threads[2];
            memset(by_threads, 0, sizeof by_threads);
            for (int t = 0; t < 2; t++) {
                be->threads = t + 1;
                omp_set_num_threads(t + 1);
                run_all(be, s, &vs[q], 16, &in, &by_threads[t]);
            }
            char context[160];
            snprintf(context, sizeof context, "(n %d, c %d, hw %d) groups %d: 1 against 2 threads",
                     s->n, s->c, s->hw, vs[q].groups);
            assert_same_bits(&by_threads[0], &by_threads[1], context);
            results_free(&by_threads[0]);
            results_free(&by_threads[1]);
        }
        free_inputs(&in);
    }
    be->threads = 2;
    omp_set_num_threads(2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_blocked");
    TCase *tc = tcase_create("cpu");
    tcase_add_loop_test(tc, test_blocked_matches_plain, 0, N_SHAPES);
    tcase_add_test(tc, test_blocked_matches_plain_large);
    tcase_add_test(tc, test_blocked_threads_same_bits);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
