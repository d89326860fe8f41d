// ctest-labels: kernels
/* The normalizers' statistics in a low precision (model.norm.stats_precision,
 * core/cpu/norm_lowp.c): the kernel against the definition written out
 * plainly here, for the geometry of every kind that takes it and both
 * precisions, bit for bit in the statistics; every registry row that
 * accepts the key passes it to its layer, and the others refuse it; and
 * the two failures the ablation is about, asserted as the kernel defines
 * them: fp16 squares above 65504 make the variance infinite, and a bf16
 * (or fp16) sum over many values near 1 stops growing.
 *
 * No finite-difference check of the low-precision forward: its statistics
 * are rounded, so piecewise constant in x, and differences across a
 * rounding step say nothing about the gradient the backward defines (the
 * fp32 formula at the rounded statistics, norm_lowp.c). That gradient is
 * checked against its formula in double instead (test_backward). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "base/precision.h"
#include "config/config.h"
#include "cpu/norm_lowp.h"
#include "model/model.h"
#include "norm/norm.h"
#include "norm/registry.h"
#include "testutil.h"

static const nl_precision low[] = {NL_PRECISION_BF16, NL_PRECISION_FP16};

/* ---- the definition, written plainly ---- */

static size_t value_index(const nl_norm_geom *g, long s, long k)
{
    if (g->groups == 0) { /* channel s, value k of its n planes in sample order */
        const long i = k / g->hw, j = k % g->hw;
        return ((size_t)i * g->c + (size_t)s) * g->hw + (size_t)j;
    }
    return (size_t)s * (size_t)nl_norm_group_count(g) + (size_t)k;
}

static int channel_of(const nl_norm_geom *g, size_t at)
{
    return (int)((at / (size_t)g->hw) % (size_t)g->c);
}

typedef struct {
    float *mean, *var, *rstd; /* per statistics group */
    float *y;
    float *running_mean, *running_var; /* per channel, updated in place */
} reference;

static void reference_forward(const nl_norm_geom *g, const float *x, const float *gamma,
                              const float *beta, float momentum, reference *r)
{
    const nl_precision p = g->stats_precision;
    const long groups = nl_norm_stat_groups(g), count = nl_norm_group_count(g);
    for (long s = 0; s < groups; s++) {
        float sum = 0.0f, sq = 0.0f, mean = 0.0f;
        if (g->center) {
            for (long k = 0; k < count; k++)
                sum = nl_round_to(p, sum + nl_round_to(p, x[value_index(g, s, k)]));
            mean = nl_round_to(p, (float)((double)sum / (double)count));
        }
        for (long k = 0; k < count; k++) {
            const float d = nl_round_to(p, nl_round_to(p, x[value_index(g, s, k)]) - mean);
            sq = nl_round_to(p, sq + nl_round_to(p, d * d));
        }
        r->mean[s] = mean;
        r->var[s] = nl_round_to(p, (float)((double)sq / (double)count));
        r->rstd[s] = nl_round_to(p, (float)(1.0 / sqrt((double)r->var[s] + (double)g->eps)));
        for (long k = 0; k < count; k++) {
            const size_t at = value_index(g, s, k);
            const int ch = channel_of(g, at);
            const double scale = (double)r->rstd[s] * (gamma ? gamma[ch] : 1.0f);
            r->y[at] = (float)(((double)x[at] - mean) * scale + (beta ? beta[ch] : 0.0f));
        }
    }
    if (!r->running_mean)
        return;
    const int per_channel = g->groups == 0 ? 1 : g->n;
    const double unbias = (double)count / (double)(count - 1);
    for (int ch = 0; ch < g->c; ch++) {
        float mean_sum = 0.0f, var_sum = 0.0f;
        for (int i = 0; i < per_channel; i++) {
            const long s = g->groups == 0 ? ch : (long)i * g->c + ch;
            mean_sum = nl_round_to(p, mean_sum + r->mean[s]);
            var_sum = nl_round_to(p, var_sum + nl_round_to(p, (float)(r->var[s] * unbias)));
        }
        const float bm = nl_round_to(p, (float)((double)mean_sum / per_channel));
        const float bv = nl_round_to(p, (float)((double)var_sum / per_channel));
        r->running_mean[ch] =
            nl_round_to(p, (float)fma(momentum, bm, (1.0 - momentum) * r->running_mean[ch]));
        r->running_var[ch] =
            nl_round_to(p, (float)fma(momentum, bv, (1.0 - momentum) * r->running_var[ch]));
    }
}

/* the kernel's branch-free rounding is nl_round_to, bit for bit: the
 * formats' edges (ties, the largest finite values and the overflow
 * threshold, fp16's subnormals and the flush below them, infinities, NaNs
 * of either sign) and random bit patterns */
START_TEST(test_rounding)
{
    const uint32_t edges[] = {
        0x00000000u, 0x80000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x33000000u,
        0x33000001u, 0x337fffffu, 0x33800000u, 0x38800000u, 0x387fffffu, 0x38801000u,
        0x38802000u, 0x3f800000u, 0x3f808000u, 0x3f818000u, 0x3f801000u, 0x3f803000u,
        0x477fe000u, 0x477fefffu, 0x477ff000u, 0x477ff001u, 0x47800000u, 0x7f7f7fffu,
        0x7f7f8000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u, 0x7f800001u, 0x7fc00000u,
        0xffc00001u, 0xff800001u, 0xc77ff000u, 0xb8801000u};
    uint64_t state = 0x9e3779b97f4a7c15u;
    for (long i = 0; i < (long)(sizeof edges / sizeof edges[0]) + (1l << 20); i++) {
        uint32_t bits;
        if (i < (long)(sizeof edges / sizeof edges[0]))
            bits = edges[i];
        else {
            state = state * 6364136223846793005u + 1442695040888963407u;
            bits = (uint32_t)(state >> 32);
        }
        const float x = nl_bits_float(bits);
        for (size_t p = 0; p < sizeof low / sizeof low[0]; p++) {
            const uint32_t got = nl_float_bits(nl_cpu_norm_lowp_round(low[p], x));
            const uint32_t want = nl_float_bits(nl_round_to(low[p], x));
            if (got != want) /* (check's asserts record every pass: too slow here) */
                ck_abort_msg("%s of 0x%08x: 0x%08x, nl_round_to gives 0x%08x",
                             nl_name_of(&nl_precision_names, low[p]), bits, got, want);
        }
    }
}
END_TEST

/* ---- the kernel against it ---- */

typedef struct {
    const char *kinds; /* the normalizers whose layers run this geometry */
    nl_norm_geom g;
    bool running;
} geom_case;

static const geom_case geoms[] = {
    {"batch, batch_renorm, ghost_batch, mean_only (images)",
     {.n = 5, .c = 3, .hw = 12, .groups = 0, .center = true, .eps = 1e-5f}, true},
    {"batch (features: lane batches and a short last one)",
     {.n = 70, .c = 130, .hw = 1, .groups = 0, .center = true, .eps = 1e-5f}, true},
    {"batch (features, fewer than a lane batch)",
     {.n = 33, .c = 5, .hw = 1, .groups = 0, .center = true, .eps = 1e-5f}, true},
    {"layer", {.n = 4, .c = 6, .hw = 9, .groups = 1, .center = true, .eps = 1e-5f}, false},
    {"group", {.n = 4, .c = 6, .hw = 9, .groups = 3, .center = true, .eps = 1e-5f}, false},
    {"instance", {.n = 4, .c = 6, .hw = 9, .groups = 6, .center = true, .eps = 1e-5f}, true},
    {"rms", {.n = 4, .c = 6, .hw = 9, .groups = 1, .center = false, .eps = 1e-5f}, false},
    {"frn", {.n = 4, .c = 6, .hw = 9, .groups = 6, .center = false, .eps = 1e-5f}, false},
};
#define N_GEOMS (int)(sizeof geoms / sizeof geoms[0])

static void assert_same_bits(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0,
                      "%s [%zu]: %.9g, the definition gives %.9g", what, i, (double)got[i],
                      (double)want[i]);
}

/* the case's input: an offset and spread that leave low bits to round */
static void case_input(const nl_norm_geom *g, float *x, float *gamma, float *beta, uint64_t seed)
{
    tu_fill_normal(x, (size_t)g->n * g->c * g->hw, seed, 3.0f, 2.0f);
    tu_fill_uniform(gamma, (size_t)g->c, seed + 1, 0.5f, 1.5f);
    tu_fill_uniform(beta, (size_t)g->c, seed + 2, -0.5f, 0.5f);
}

START_TEST(test_against_definition)
{
    const geom_case *gc = &geoms[_i / 2];
    nl_norm_geom g = gc->g;
    g.stats_precision = low[_i % 2];
    const char *prec = nl_name_of(&nl_precision_names, g.stats_precision);
    const size_t count = (size_t)g.n * g.c * g.hw, groups = (size_t)nl_norm_stat_groups(&g);
    float *x = malloc(count * sizeof *x), *y = malloc(count * sizeof *y);
    float gamma[256], beta[256], mean[1024], rstd[1024], rm[256], rv[256];
    float ref_mean[1024], ref_var[1024], ref_rstd[1024], ref_rm[256], ref_rv[256];
    float *ref_y = malloc(count * sizeof *ref_y);
    ck_assert(groups <= 1024 && g.c <= 256);
    case_input(&g, x, gamma, beta, 100 + (uint64_t)_i);
    const float momentum = 0.25f;
    for (int ch = 0; ch < g.c; ch++) { /* running statistics from earlier steps */
        ref_rm[ch] = rm[ch] = nl_round_to(g.stats_precision, 0.1f * ch);
        ref_rv[ch] = rv[ch] = nl_round_to(g.stats_precision, 1.0f + 0.3f * ch);
    }
    reference r = {ref_mean, ref_var, ref_rstd, ref_y, gc->running ? ref_rm : NULL,
                   gc->running ? ref_rv : NULL};
    reference_forward(&g, x, gamma, beta, momentum, &r);
    char what[200];
    /* the result may not depend on the thread count */
    for (int threads = 1; threads <= 2; threads++) {
        nl_backend *be = tu_cpu(threads);
        float rm_got[256], rv_got[256];
        memcpy(rm_got, rm, sizeof rm);
        memcpy(rv_got, rv, sizeof rv);
        be->ops->norm_forward(be, &g, x, gamma, beta, y, mean, rstd,
                              gc->running ? rm_got : NULL, gc->running ? rv_got : NULL,
                              &momentum);
        snprintf(what, sizeof what, "%s %s, %d threads: norm_forward", gc->kinds, prec, threads);
        char part[240];
        snprintf(part, sizeof part, "%s mean", what);
        assert_same_bits(mean, ref_mean, groups, part);
        snprintf(part, sizeof part, "%s rstd", what);
        assert_same_bits(rstd, ref_rstd, groups, part);
        tu_assert_close(y, ref_y, count, 1e-6, what);
        if (gc->running) {
            snprintf(part, sizeof part, "%s running mean", what);
            assert_same_bits(rm_got, ref_rm, (size_t)g.c, part);
            snprintf(part, sizeof part, "%s running var", what);
            assert_same_bits(rv_got, ref_rv, (size_t)g.c, part);
        }

        /* in two steps: the statistics, then the apply */
        float var[1024];
        memcpy(rm_got, rm, sizeof rm);
        memcpy(rv_got, rv, sizeof rv);
        be->ops->norm_stats(be, &g, x, mean, var, gc->running ? rm_got : NULL,
                            gc->running ? rv_got : NULL, &momentum);
        snprintf(what, sizeof what, "%s %s, %d threads: norm_stats", gc->kinds, prec, threads);
        snprintf(part, sizeof part, "%s mean", what);
        assert_same_bits(mean, ref_mean, groups, part);
        snprintf(part, sizeof part, "%s var", what);
        assert_same_bits(var, ref_var, groups, part);
        if (gc->running) {
            snprintf(part, sizeof part, "%s running var", what);
            assert_same_bits(rv_got, ref_rv, (size_t)g.c, part);
        }
        be->ops->norm_apply(be, &g, x, mean, var, gamma, beta, y, rstd);
        snprintf(what, sizeof what, "%s %s, %d threads: norm_apply", gc->kinds, prec, threads);
        snprintf(part, sizeof part, "%s rstd", what);
        assert_same_bits(rstd, ref_rstd, groups, part);
        tu_assert_close(y, ref_y, count, 1e-6, what);

        /* eval mode with the (rounded) running statistics */
        if (gc->running) {
            be->ops->norm_forward_eval(be, &g, x, gamma, beta, ref_rm, ref_rv, y);
            for (size_t at = 0; at < count; at++) {
                const int ch = channel_of(&g, at);
                const float rs = nl_round_to(
                    g.stats_precision, (float)(1.0 / sqrt((double)ref_rv[ch] + (double)g.eps)));
                ref_y[at] = (float)(((double)x[at] - ref_rm[ch]) * rs * gamma[ch] + beta[ch]);
            }
            snprintf(what, sizeof what, "%s %s, %d threads: eval", gc->kinds, prec, threads);
            tu_assert_close(y, ref_y, count, 1e-6, what);
            reference_forward(&g, x, gamma, beta, momentum,
                              &(reference){ref_mean, ref_var, ref_rstd, ref_y, NULL, NULL});
        }
    }
    /* and it is not the fp32 kernel: the statistics differ */
    nl_norm_geom fp32 = g;
    fp32.stats_precision = NL_PRECISION_FP32;
    nl_backend *be = tu_cpu(1);
    float fp32_mean[1024], fp32_var[1024];
    be->ops->norm_stats(be, &fp32, x, fp32_mean, fp32_var, NULL, NULL, NULL);
    int differ = 0;
    for (size_t s = 0; s < groups; s++)
        differ += fp32_var[s] != ref_var[s];
    ck_assert_msg(differ > 0, "%s %s: the variances equal fp32's", gc->kinds, prec);
    free(x);
    free(y);
    free(ref_y);
}
END_TEST

/* The backward is the fp32 one at the rounded saved statistics: dx, dgamma
 * and dbeta of y = (x - mean) * rstd * gamma + beta with mean and rstd
 * constants in the centring and scaling terms' usual form, computed here
 * in double. */
START_TEST(test_backward)
{
    nl_norm_geom g = geoms[_i / 2].g;
    g.stats_precision = low[_i % 2];
    const size_t count = (size_t)g.n * g.c * g.hw, groups = (size_t)nl_norm_stat_groups(&g);
    const long per_group = nl_norm_group_count(&g);
    float *x = malloc(count * sizeof *x), *y = malloc(count * sizeof *y);
    float *dy = malloc(count * sizeof *dy), *dx = malloc(count * sizeof *dx);
    float *want_dx = malloc(count * sizeof *want_dx);
    float gamma[256], beta[256], mean[1024], rstd[1024], dgamma[256], dbeta[256];
    case_input(&g, x, gamma, beta, 300 + (uint64_t)_i);
    tu_fill_normal(dy, count, 400 + (uint64_t)_i, 0.0f, 1.0f);
    nl_backend *be = tu_cpu(2);
    void *workspace = malloc(be->ops->norm_backward_workspace(be, &g) + 64);
    be->ops->norm_forward(be, &g, x, gamma, beta, y, mean, rstd, NULL, NULL, NULL);
    be->ops->norm_backward(be, &g, x, dy, gamma, mean, rstd, dx, false, dgamma, dbeta, workspace);
    double want_dgamma[256] = {0}, want_dbeta[256] = {0};
    for (size_t s = 0; s < groups; s++) {
        double sum_g = 0.0, sum_gx = 0.0; /* of dy * gamma, and times xhat */
        for (long k = 0; k < per_group; k++) {
            const size_t at = value_index(&g, (long)s, k);
            const int ch = channel_of(&g, at);
            const double xhat = ((double)x[at] - mean[s]) * rstd[s];
            want_dgamma[ch] += dy[at] * xhat;
            want_dbeta[ch] += dy[at];
            sum_g += (double)dy[at] * gamma[ch];
            sum_gx += (double)dy[at] * gamma[ch] * xhat;
        }
        for (long k = 0; k < per_group; k++) {
            const size_t at = value_index(&g, (long)s, k);
            const int ch = channel_of(&g, at);
            const double xhat = ((double)x[at] - mean[s]) * rstd[s];
            const double centre = g.center ? sum_g / per_group : 0.0;
            want_dx[at] = (float)(rstd[s] * ((double)dy[at] * gamma[ch] - centre -
                                             xhat * sum_gx / per_group));
        }
    }
    char what[160];
    snprintf(what, sizeof what, "%s %s: dx", geoms[_i / 2].kinds,
             nl_name_of(&nl_precision_names, g.stats_precision));
    tu_assert_close(dx, want_dx, count, 1e-5, what);
    float got[2][256], want[2][256];
    for (int ch = 0; ch < g.c; ch++) {
        got[0][ch] = dgamma[ch], want[0][ch] = (float)want_dgamma[ch];
        got[1][ch] = dbeta[ch], want[1][ch] = (float)want_dbeta[ch];
    }
    tu_assert_close(got[0], want[0], (size_t)g.c, 1e-5, "dgamma");
    tu_assert_close(got[1], want[1], (size_t)g.c, 1e-5, "dbeta");
    free(workspace);
    free(x);
    free(y);
    free(dy);
    free(dx);
    free(want_dx);
}
END_TEST

/* ---- the failures, as the kernel defines them ---- */

/* fp16 batch norm of activations of magnitude 300: each square, 90000, is
 * beyond fp16's 65504, so the variance is infinite, rstd 0 and the output
 * beta alone, while the mean (0: the signs alternate) is exact. The sum of
 * the squares overflows as well once it passes 65504, so fp16's variance
 * is infinite wherever count * variance does (a batch, a width): +-100
 * squares to 10000, finite over 6 values, infinite over 64. bf16 has
 * fp32's range: its variance stays finite, near 90000. */
START_TEST(test_fp16_variance_overflow)
{
    enum { N = 8, HW = 8, COUNT = N * HW };
    float x[COUNT], y[COUNT], mean, var, rstd;
    const float gamma = 1.5f, beta = 0.25f;
    nl_backend *be = tu_cpu(1);
    nl_norm_geom g = {.n = N, .c = 1, .hw = HW, .groups = 0, .center = true, .eps = 1e-5f,
                      .stats_precision = NL_PRECISION_FP16};
    for (int k = 0; k < COUNT; k++)
        x[k] = k % 2 ? -300.0f : 300.0f;
    be->ops->norm_stats(be, &g, x, &mean, &var, NULL, NULL, NULL);
    ck_assert_float_eq(mean, 0.0f);
    ck_assert_msg(isinf(var) && var > 0, "fp16 variance of +-300: %g, want +inf", (double)var);
    be->ops->norm_forward(be, &g, x, &gamma, &beta, y, &mean, &rstd, NULL, NULL, NULL);
    ck_assert_float_eq(rstd, 0.0f);
    for (int k = 0; k < COUNT; k++)
        ck_assert_float_eq(y[k], beta);

    for (int k = 0; k < COUNT; k++)
        x[k] = k % 2 ? -100.0f : 100.0f;
    be->ops->norm_stats(be, &g, x, &mean, &var, NULL, NULL, NULL);
    ck_assert_msg(isinf(var), "fp16 variance of 64 values +-100: %g, want +inf", (double)var);
    nl_norm_geom six = g;
    six.n = 1, six.hw = 6;
    be->ops->norm_stats(be, &six, x, &mean, &var, NULL, NULL, NULL);
    ck_assert_msg(isfinite(var) && fabsf(var - 10000.0f) <= 10000.0f / 512,
                  "fp16 variance of 6 values +-100: %g, want about 10000", (double)var);

    for (int k = 0; k < COUNT; k++)
        x[k] = k % 2 ? -300.0f : 300.0f;
    g.stats_precision = NL_PRECISION_BF16;
    be->ops->norm_stats(be, &g, x, &mean, &var, NULL, NULL, NULL);
    /* finite; its sequential sum of 64 squares rounds at 8 bits each step */
    ck_assert_msg(isfinite(var) && fabsf(var - 90000.0f) <= 90000.0f / 8,
                  "bf16 variance of +-300: %g, want about 90000", (double)var);
}
END_TEST

/* A mean over 2^16 values of 1 + noise below the formats' spacing at 1:
 * each value rounds to 1, and the sequential sum stops where its spacing
 * reaches 2 (adding 1 is then a tie that rounds back to even): at 256 in
 * bf16 (8 significand bits), at 2048 in fp16 (11). The mean is that stalled
 * sum over 2^16, and the variance is dominated by the deviations from it.
 * fp32 (a double accumulation) keeps the mean at 1. */
START_TEST(test_sum_stagnates)
{
    enum { COUNT = 1 << 16 };
    float *x = malloc(COUNT * sizeof *x);
    tu_fill_uniform(x, COUNT, 7, 1.0f - 1.0f / 8192, 1.0f + 1.0f / 8192);
    nl_backend *be = tu_cpu(2);
    nl_norm_geom g = {.n = 1, .c = 1, .hw = COUNT, .groups = 1, .center = true, .eps = 1e-5f};
    float mean, var;
    be->ops->norm_stats(be, &g, x, &mean, &var, NULL, NULL, NULL);
    ck_assert_msg(fabsf(mean - 1.0f) < 1e-4f, "fp32 mean %.9g, want about 1", (double)mean);
    const float fp32_var = var;
    const struct {
        nl_precision p;
        float stalled_sum;
    } formats[] = {{NL_PRECISION_BF16, 256.0f}, {NL_PRECISION_FP16, 2048.0f}};
    for (int f = 0; f < 2; f++) {
        g.stats_precision = formats[f].p;
        be->ops->norm_stats(be, &g, x, &mean, &var, NULL, NULL, NULL);
        ck_assert_msg(mean == formats[f].stalled_sum / COUNT, "%s mean %.9g, want %g / %d",
                      nl_name_of(&nl_precision_names, formats[f].p), (double)mean,
                      (double)formats[f].stalled_sum, COUNT);
        ck_assert_msg(var > 1000.0f * fp32_var, "%s variance %g against fp32's %g",
                      nl_name_of(&nl_precision_names, formats[f].p), (double)var,
                      (double)fp32_var);
    }
    free(x);
}
END_TEST

/* ---- through the registry: the layers take the key, or refuse it ---- */

typedef struct {
    nl_norm_spec norm;
} layer_ctx;

static nl_act *build_norm(nl_builder *b, nl_act *input, void *ctx)
{
    layer_ctx *c = ctx;
    return nl_norm(b, "norm", input, &c->norm);
}

/* the layer's training output on a fixed input */
static float *layer_output(nl_norm_kind kind, nl_precision precision, int n, const float *x,
                           size_t count)
{
    layer_ctx ctx;
    nl_norm_spec_defaults(&ctx.norm, kind);
    ctx.norm.stats_precision = precision;
    ctx.norm.virtual_batch = n / 2;
    ctx.norm.groups = 2; /* of the 4 channels */
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.in_c = 4, spec.in_h = 3, spec.in_w = 3;
    nl_model *m = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_model_build_graph(&spec, tu_cpu(1), n, n, 1, build_norm, &ctx, &m, &err) ==
                      NL_OK,
                  "%s: %s", nl_name_of(&nl_norm_names, kind), err.msg);
    m->be->ops->upload(m->be, m->input->data, x, count * sizeof *x);
    nl_model_forward(m, n, NL_MODE_TRAIN);
    float *y = malloc(count * sizeof *y);
    m->be->ops->download(m->be, y, m->logits->data, count * sizeof *y);
    nl_model_free(m);
    return y;
}

START_TEST(test_registry_rows)
{
    enum { N = 8, COUNT = N * 4 * 3 * 3 };
    float x[COUNT];
    tu_fill_normal(x, COUNT, 11, 3.0f, 2.0f);
    char yaml[512], accepted[512] = "";
    int n_accepting = 0;
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const nl_norm_info *row = nl_norm_info_of((nl_norm_kind)k);
        const char *name = nl_name_of(&nl_norm_names, k);
        const bool takes = (row->keys & NL_NORM_KEY_STATS_PRECISION) != 0;
        snprintf(yaml, sizeof yaml,
                 "model:\n  arch: cnn\n  norm:\n    type: %s\n%s    stats_precision: bf16\n"
                 "data:\n  dataset: synthetic\ntrain:\n  steps: 1\n",
                 name, row->keys & NL_NORM_KEY_VIRTUAL_BATCH ? "    virtual_batch: 16\n" : "");
        nl_config *cfg = malloc(sizeof *cfg);
        nl_error err = {0};
        const nl_code code = nl_config_load_string(yaml, "lowp.yaml", NULL, 0, cfg, &err);
        if (takes) {
            ck_assert_msg(code == NL_OK, "%s with stats_precision bf16: %s", name, err.msg);
            snprintf(accepted + strlen(accepted), sizeof accepted - strlen(accepted), "%s%s",
                     n_accepting++ ? " or " : "", name);
        } else {
            ck_assert_msg(code == NL_ERR_CONFIG, "%s took stats_precision bf16", name);
            ck_assert_msg(strstr(err.msg, "model.norm.stats_precision") && strstr(err.msg, name),
                          "%s: the error names neither the key nor the kind: %s", name, err.msg);
        }
        free(cfg);
        if (!takes || !row->adds_layer)
            continue;
        /* the layer passes the precision to the kernels: its output moves */
        float *y32 = layer_output((nl_norm_kind)k, NL_PRECISION_FP32, N, x, COUNT);
        for (size_t p = 0; p < sizeof low / sizeof low[0]; p++) {
            float *y = layer_output((nl_norm_kind)k, low[p], N, x, COUNT);
            int differ = 0;
            for (int i = 0; i < COUNT; i++)
                differ += y[i] != y32[i];
            ck_assert_msg(differ > 0, "%s: stats_precision %s left the output as fp32's", name,
                          nl_name_of(&nl_precision_names, low[p]));
            free(y);
        }
        free(y32);
    }
    ck_assert_int_gt(n_accepting, 0);
    /* a refused kind's error lists the accepting ones, from the rows */
    nl_config *cfg = malloc(sizeof *cfg);
    nl_error err = {0};
    ck_assert_int_eq(nl_config_load_string("model:\n  arch: mlp\n  norm:\n    type: dyt\n"
                                           "    stats_precision: fp16\n",
                                           "lowp.yaml", NULL, 0, cfg, &err),
                     NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, accepted), "the error does not list %s: %s", accepted, err.msg);
    free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_lowp");
    TCase *tc = tcase_create("lowp");
    tcase_add_test(tc, test_rounding);
    tcase_add_loop_test(tc, test_against_definition, 0, 2 * N_GEOMS);
    tcase_add_loop_test(tc, test_backward, 0, 2 * N_GEOMS);
    tcase_add_test(tc, test_fp16_variance_overflow);
    tcase_add_test(tc, test_sum_stagnates);
    tcase_add_test(tc, test_registry_rows);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
