/* The vector elementary functions of core/cpu/vmath.h against libm in
 * double, swept densely over their whole working range: erfc (GELU's erf
 * form) and exp (GELU's tanh form and erf backward), each to a bound in
 * FLT_EPSILON units of relative error a little above what they reach; NaN in
 * a lane stays NaN and leaves the other lanes alone; the clamps give the
 * right limits. And both GELU forms keep their relative accuracy on the
 * negative tail, where 1 + erf and 1 + tanh would cancel; both stay finite
 * far out.
 * (tanh's sweep is test_norm_reference's, through DyT.) */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/isa.h"
#include "cpu/vmath.h"
#include "tfm/reference.h"
#include "testutil.h"

enum { SWEEP = 1 << 21 };

typedef nl_v8 (*vec_fn)(nl_v8);
typedef double (*ref_fn)(double);

/* the largest relative error of f against ref over SWEEP evenly spaced
 * floats in [lo, hi], in FLT_EPSILON units; the worst input in *at */
static double sweep_error(vec_fn f, ref_fn ref, float lo, float hi, float *at)
{
    double worst = 0.0;
    for (long k = 0; k < SWEEP; k += 8) {
        float x[8];
        for (int l = 0; l < 8; l++)
            x[l] = lo + (hi - lo) * (float)((double)(k + l) / (SWEEP - 1));
        const nl_v8 y = f(nl_v8_load(x));
        for (int l = 0; l < 8; l++) {
            const double want = ref(x[l]);
            const double err = fabs(y[l] - want) / fmax(fabs(want), DBL_MIN);
            if (err > worst)
                worst = err, *at = x[l];
        }
    }
    return worst / FLT_EPSILON;
}

/* the same over a geometric range [lo, hi], lo > 0: inputs near 0 */
static double sweep_error_geometric(vec_fn f, ref_fn ref, float lo, float hi, float *at)
{
    double worst = 0.0;
    const double ratio = pow((double)hi / lo, 1.0 / (SWEEP / 64 - 1));
    double v = lo;
    for (long k = 0; k < SWEEP / 64; k += 8) {
        float x[8];
        for (int l = 0; l < 8; l++, v *= ratio)
            x[l] = (float)v;
        const nl_v8 y = f(nl_v8_load(x));
        for (int l = 0; l < 8; l++) {
            const double want = ref(x[l]);
            const double err = fabs(y[l] - want) / fabs(want);
            if (err > worst)
                worst = err, *at = x[l];
        }
    }
    return worst / FLT_EPSILON;
}

/* erfc relative to its value, which falls from 1 to 1e-38 over [0, 9.3]:
 * the fit's own error (1.2e-7) and the rounding of the exponent -a^2 + P,
 * half an ulp of a^2, which grows with it (34 FLT_EPSILON near a = 8.6) */
START_TEST(test_erfc_accuracy)
{
    float at = 0.0f;
    double e = sweep_error(nl_v8_erfc_nonneg, erfc, 0.0f, 2.0f, &at);
    ck_assert_msg(e < 6.0, "erfc on [0, 2]: relative error %.3g FLT_EPSILON at %.9g", e,
                  (double)at);
    e = sweep_error(nl_v8_erfc_nonneg, erfc, 2.0f, 9.2f, &at);
    ck_assert_msg(e < 48.0, "erfc on [2, 9.2]: relative error %.3g FLT_EPSILON at %.9g", e,
                  (double)at);
    e = sweep_error_geometric(nl_v8_erfc_nonneg, erfc, 1e-30f, 1.0f, &at);
    ck_assert_msg(e < 4.0, "erfc near 0: relative error %.3g FLT_EPSILON at %.9g", e, (double)at);
}
END_TEST

START_TEST(test_exp_accuracy)
{
    float at = 0.0f;
    double e = sweep_error(nl_v8_exp, exp, -87.0f, 88.0f, &at);
    ck_assert_msg(e < 1.0, "exp: relative error %.3g FLT_EPSILON at %.9g", e, (double)at);
    e = sweep_error(nl_v8_exp, exp, -1.0f, 1.0f, &at);
    ck_assert_msg(e < 1.0, "exp on [-1, 1]: relative error %.3g FLT_EPSILON at %.9g", e,
                  (double)at);
}
END_TEST

/* NaN in lane 0 stays NaN, the others are the function's values; the
 * limits: erfc is 0 from 9.3 on (below 1.7e-38) and at +inf; exp(-inf)
 * below 1.7e-38 and exp(+inf) huge, neither NaN */
START_TEST(test_special_values)
{
    const float x[8] = {NAN, 0.5f, -0.5f, 0.0f, INFINITY, -INFINITY, 100.0f, -100.0f};
    const float a[8] = {NAN, 0.5f, 1.5f, 0.0f, INFINITY, 9.5f, 100.0f, FLT_MAX};
    const nl_v8 e = nl_v8_erfc_nonneg(nl_v8_load(a)), p = nl_v8_exp(nl_v8_load(x));
    ck_assert_msg(isnan(e[0]) && isnan(p[0]), "NaN gives erfc %g, exp %g", (double)e[0],
                  (double)p[0]);
    for (int l = 1; l < 4; l++) {
        ck_assert(fabs(e[l] - erfc(a[l])) <= 4 * FLT_EPSILON * erfc(a[l]));
        ck_assert(fabs(p[l] - exp(x[l])) <= 2 * FLT_EPSILON * exp(x[l]));
    }
    for (int l = 4; l < 8; l++)
        ck_assert_msg(e[l] == 0.0f, "erfc(%g) = %.9g", (double)a[l], (double)e[l]);
    ck_assert(p[4] > 1e38f && !isinf(p[4]) && p[5] >= 0.0f && p[5] < 1.7e-38f);
}
END_TEST

/* Each GELU form relative to its value on its negative tail, where 1 + erf
 * and 1 + tanh in float would keep no digit. The tanh form, through
 * e^(-2u), keeps all that the float argument 2u allows (its rounding,
 * relative, comes out multiplied by |2u|: up to 17 at -5; below -5 the
 * reference's 1 + tanh in double loses digits too). The erf form,
 * x Phi(x) with Phi = erfc(-x / sqrt 2) / 2, down to -12 where GELU is
 * 2e-32 (below, Phi nears float's smallest normal), with an error that grows
 * with erfc's exponent x^2 / 2 (test_erfc_accuracy). */
static double tail_scale(nl_gelu_kind kind, double x)
{
    if (kind == NL_GELU_TANH)
        return 1 + fabs(2 * 0.7978845608028654 * (x + 0.044715 * pow(x, 3)));
    return 1 + 0.5 * x * x;
}

static const struct {
    nl_gelu_kind kind;
    float lo;     /* the tail swept: [lo, 0) */
    double bound; /* in FLT_EPSILON, of the relative error over tail_scale */
} gelu_tails[] = {{NL_GELU_TANH, -5.0f, 2.0}, {NL_GELU_ERF, -12.0f, 4.0}};
_Static_assert(sizeof gelu_tails / sizeof gelu_tails[0] == NL_GELU_COUNT,
               "a negative-tail row per GELU form");

START_TEST(test_gelu_negative_tail)
{
    enum { COUNT = 12001 };
    const nl_gelu_kind kind = gelu_tails[_i].kind;
    float x[COUNT], y[COUNT];
    for (int i = 0; i < COUNT; i++)
        x[i] = gelu_tails[_i].lo - gelu_tails[_i].lo * (float)i / COUNT;
    nl_backend *be = tu_cpu(1);
    be->ops->gelu_forward(be, kind, COUNT, x, y);
    double worst = 0.0;
    float at = 0.0f;
    for (int i = 0; i < COUNT; i++) {
        const double want = nl_gelu_reference(kind, x[i]);
        const double err = fabs(y[i] - want) / fabs(want) / tail_scale(kind, x[i]);
        if (err > worst)
            worst = err, at = x[i];
    }
    ck_assert_msg(worst < gelu_tails[_i].bound * FLT_EPSILON,
                  "gelu %s(%.9g): relative error %.3g FLT_EPSILON times its tail scale",
                  nl_name_of(&nl_gelu_names, kind), (double)at, worst / FLT_EPSILON);
}
END_TEST

/* GELU far out, where v^3 and e^(-2u) leave float's range: y is x or 0 and
 * the slope 1 or 0 in both forms, never NaN; a NaN stays NaN */
START_TEST(test_gelu_extremes)
{
    const nl_gelu_kind kind = (nl_gelu_kind)_i;
    const float x[8] = {-FLT_MAX, -1e30f, -30.0f, 30.0f, 1e30f, FLT_MAX, INFINITY, NAN};
    const float one[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    float y[8], dx[8];
    nl_backend *be = tu_cpu(1);
    be->ops->gelu_forward(be, kind, 8, x, y);
    be->ops->gelu_backward(be, kind, 8, x, one, dx, false);
    for (int l = 0; l < 7; l++) {
        const bool positive = x[l] > 0;
        ck_assert_msg(positive ? y[l] == x[l] : fabsf(y[l]) < 1e-30f, "gelu %s(%g) = %g",
                      nl_name_of(&nl_gelu_names, kind), (double)x[l], (double)y[l]);
        ck_assert_msg(fabsf(dx[l] - (positive ? 1.0f : 0.0f)) < 1e-30f, "gelu %s'(%g) = %g",
                      nl_name_of(&nl_gelu_names, kind), (double)x[l], (double)dx[l]);
    }
    ck_assert(isnan(y[7]) && isnan(dx[7]));
}
END_TEST

#if defined(__AVX512F__)
/* The 16-float functions (nl_v16_*) against the 8-float ones, bit for bit,
 * over exp's and erfc's whole working ranges and past their clamps, NaN and
 * infinities included: the GELU kernel runs the wide ones where the kernel
 * set has AVX-512 and the narrow ones on its last elements, and the two
 * must not round differently. */
static void expect_widths_agree(const float x[16])
{
    const nl_v16 e16 = nl_v16_exp(nl_v16_load(x)), c16 = nl_v16_erfc_nonneg(nl_v16_load(x));
    for (int half = 0; half < 2; half++) {
        const nl_v8 e8 = nl_v8_exp(nl_v8_load(x + 8 * half));
        const nl_v8 c8 = nl_v8_erfc_nonneg(nl_v8_load(x + 8 * half));
        for (int l = 0; l < 8; l++) {
            const int k = 8 * half + l;
            ck_assert_msg(memcmp(&e16[k], &e8[l], sizeof(float)) == 0,
                          "exp(%.9g): 16 lanes %.9g, 8 lanes %.9g", (double)x[k],
                          (double)e16[k], (double)e8[l]);
            if (!(x[k] < 0.0f)) /* erfc_nonneg's domain */
                ck_assert_msg(memcmp(&c16[k], &c8[l], sizeof(float)) == 0,
                              "erfc(%.9g): 16 lanes %.9g, 8 lanes %.9g", (double)x[k],
                              (double)c16[k], (double)c8[l]);
        }
    }
}

START_TEST(test_widths_agree)
{
    for (long k = 0; k < SWEEP; k += 16) {
        float x[16];
        for (int l = 0; l < 16; l++)
            x[l] = -100.0f + 200.0f * (float)((double)(k + l) / (SWEEP - 1));
        expect_widths_agree(x);
    }
    const float special[16] = {0.0f,      -0.0f,     NAN,      INFINITY, -INFINITY, FLT_MAX,
                               -FLT_MAX,  FLT_MIN,   1e-30f,   9.3f,     87.9f,     -86.9f,
                               88.5f,     -87.5f,    1e30f,    -1e30f};
    expect_widths_agree(special);
}
END_TEST
#endif

/* The GELU kernel's elements in any position round alike: a long call
 * (its body in the widest vectors the kernel set has) against the same
 * elements 8 and then 5 at a time (the 8-float vectors and the tail's
 * buffer), forward and backward, added to dx or not, bit for bit. */
START_TEST(test_gelu_positions_agree)
{
    enum { COUNT = 4096 + 13, PIECE = 13 };
    const nl_gelu_kind kind = (nl_gelu_kind)_i;
    static float x[COUNT], dy[COUNT], y_long[COUNT], y_short[COUNT];
    static float dx_long[COUNT], dx_short[COUNT];
    for (int i = 0; i < COUNT; i++) {
        x[i] = -25.0f + 50.0f * (float)i / COUNT;
        dy[i] = 0.5f + (float)(i % 7) / 8.0f;
    }
    nl_backend *be = tu_cpu(1);
    be->ops->gelu_forward(be, kind, COUNT, x, y_long);
    for (int i = 0; i < COUNT; i += PIECE)
        be->ops->gelu_forward(be, kind, COUNT - i < PIECE ? COUNT - i : PIECE, x + i, y_short + i);
    ck_assert_msg(memcmp(y_long, y_short, sizeof y_long) == 0, "gelu %s: forward differs",
                  nl_name_of(&nl_gelu_names, kind));
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        for (int i = 0; i < COUNT; i++)
            dx_long[i] = dx_short[i] = (float)(i % 5) - 2.0f;
        be->ops->gelu_backward(be, kind, COUNT, x, dy, dx_long, accumulate);
        for (int i = 0; i < COUNT; i += PIECE)
            be->ops->gelu_backward(be, kind, COUNT - i < PIECE ? COUNT - i : PIECE, x + i, dy + i,
                                   dx_short + i, accumulate);
        ck_assert_msg(memcmp(dx_long, dx_short, sizeof dx_long) == 0,
                      "gelu %s: backward (accumulate %d) differs",
                      nl_name_of(&nl_gelu_names, kind), accumulate);
    }
}
END_TEST

int main(void)
{
    /* built once more per kernel set (tests/CMakeLists.txt), since these
     * helpers compile differently with FMA and AVX: skipped where this CPU
     * lacks what this compilation uses */
    if (NL_ISA_COMPILED & ~nl_isa_of_this_cpu()) {
        printf("skipped: this CPU cannot run the instruction set this test was compiled for\n");
        return 77;
    }
    Suite *s = suite_create("vmath");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, test_erfc_accuracy);
    tcase_add_test(tc, test_exp_accuracy);
    tcase_add_test(tc, test_special_values);
    tcase_add_loop_test(tc, test_gelu_negative_tail, 0,
                        (int)(sizeof gelu_tails / sizeof gelu_tails[0]));
    tcase_add_loop_test(tc, test_gelu_extremes, 0, NL_GELU_COUNT);
    tcase_add_loop_test(tc, test_gelu_positions_agree, 0, NL_GELU_COUNT);
#if defined(__AVX512F__)
    tcase_add_test(tc, test_widths_agree);
#endif
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
