/* Group-sequential boundaries (core/stats/seq.c), checked against:
 *  - the spending functions' own formulas at hand-evaluated points;
 *  - published Lan-DeMets boundaries for equally spaced looks, two-sided
 *    alpha 0.05 (each side a one-sided 0.025 test spending by
 *    f(t; 0.025), the convention of gsDesign's sfLDOF/sfLDPocock with
 *    test.type = 2, of ldbounds' alphas() (alpha / side) and of rpact):
 *      O'Brien-Fleming type K=5: 4.877 3.357 2.680 2.290 2.031, the row
 *      DeMets & Lan (1994, Stat. Med. 13:1341) print to two decimals as
 *      4.88 3.36 2.68 2.29 2.03; Pocock type K=5: 2.438 2.427 2.410 2.397
 *      2.386 (2.44 2.43 2.41 2.40 2.39 there);
 *  - the classic constant boundaries, which are NOT what the spending
 *    functions give: O'Brien & Fleming's c_k = C_B sqrt(K / k) (K=2:
 *    2.797 1.977; K=5: 4.562 3.226 2.634 2.281 2.040) and Pocock's C_P
 *    (K=5: 2.413), Jennison & Turnbull (2000) Tables 2.1 and 2.3; the
 *    engine's crossing probabilities must give them alpha = 0.05;
 *  - for two looks, a direct integral of the bivariate normal with
 *    correlation sqrt(t_1 / t_2), written out here and sharing no code
 *    with the grid recursion;
 *  - a Monte Carlo simulation of the Brownian motion, under H0 and with
 *    drift.
 * And the decisions on hand-made z sequences and every refused input. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/rng.h"
#include "stats/seq.h"
#include "stats/stats.h"
#include "testutil.h"

static double upper_tail(double x)
{
    return 0.5 * erfc(x / sqrt(2.0));
}

static const nl_seq_spending *spending(const char *name)
{
    const nl_seq_spending *found = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_seq_spending_find(name, &found, &err), NL_OK);
    return found;
}

static void equal_fractions(int looks, double *fraction)
{
    for (int k = 0; k < looks; k++)
        fraction[k] = (k + 1.0) / looks;
}

START_TEST(test_spending_values)
{
    /* O'Brien-Fleming type: 2 - 2 Phi(z(1 - alpha/2) / sqrt(t)).
     * t = 0.25, alpha 0.05: z(0.975) / 0.5 = 3.919928, 2 (1 - Phi) = 8.857544e-5;
     * t = 0.5, alpha 0.025: z(0.9875) = 2.241403, / sqrt(0.5) = 3.169867,
     * 2 (1 - Phi) = 1.525323e-3 */
    ck_assert_double_eq_tol(nl_seq_spend_obrien_fleming(0.25, 0.05), 8.857544e-5, 1e-10);
    ck_assert_double_eq_tol(nl_seq_spend_obrien_fleming(0.5, 0.025), 1.525323e-3, 1e-9);
    ck_assert_double_eq_tol(nl_seq_spend_obrien_fleming(1, 0.05), 0.05, 1e-12);
    ck_assert_double_eq(nl_seq_spend_obrien_fleming(0, 0.05), 0);
    /* clamped to [0, 1]: nothing before the first look, alpha after the last */
    ck_assert_double_eq(nl_seq_spend_obrien_fleming(-0.5, 0.05), 0);
    ck_assert_double_eq_tol(nl_seq_spend_obrien_fleming(1.5, 0.05), 0.05, 1e-12);
    /* Pocock type: alpha ln(1 + (e - 1) t); t = 0.5: 0.05 ln(1.859141) = 0.05 * 0.620115 */
    ck_assert_double_eq_tol(nl_seq_spend_pocock(0.5, 0.05), 0.031005725, 1e-9);
    ck_assert_double_eq_tol(nl_seq_spend_pocock(0.3, 0.025), 0.010393381, 1e-9);
    ck_assert_double_eq_tol(nl_seq_spend_pocock(1, 0.05), 0.05, 1e-15);
    ck_assert_double_eq(nl_seq_spend_pocock(0, 0.05), 0);
}
END_TEST

START_TEST(test_spending_lookup)
{
    ck_assert_ptr_eq(spending("obrien-fleming")->spend, nl_seq_spend_obrien_fleming);
    ck_assert_ptr_eq(spending("pocock")->spend, nl_seq_spend_pocock);
    const char *unknown[] = {"obf", "O'Brien-Fleming", "", "pocock "};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        nl_error err = {0};
        const nl_seq_spending *found = &nl_seq_spendings[0];
        ck_assert_int_eq(nl_seq_spending_find(unknown[i], &found, &err), NL_ERR_CONFIG);
        ck_assert_ptr_null(found);
        char named[64];
        snprintf(named, sizeof named, "'%s'", unknown[i]);
        ck_assert_msg(strstr(err.msg, named) && strstr(err.msg, "accepted: obrien-fleming, pocock"), "%s",
                      err.msg);
    }
    nl_error err = {0};
    const nl_seq_spending *found;
    ck_assert_int_eq(nl_seq_spending_find(NULL, &found, &err), NL_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "accepted: obrien-fleming, pocock"));
}
END_TEST

/* one look is the fixed-sample test, whatever the spending function */
START_TEST(test_one_look_is_fixed_sample)
{
    const double whole[1] = {1};
    const struct {
        const char *spending;
        double alpha;
        nl_seq_sides sides;
        double boundary;
    } cases[] = {
        {"obrien-fleming", 0.05, NL_SEQ_TWO_SIDED, 1.959964},
        {"pocock", 0.05, NL_SEQ_TWO_SIDED, 1.959964},
        {"obrien-fleming", 0.025, NL_SEQ_ONE_SIDED, 1.959964},
        {"obrien-fleming", 0.05, NL_SEQ_ONE_SIDED, 1.644854},
        {"pocock", 0.01, NL_SEQ_TWO_SIDED, 2.575829},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nl_seq_design design;
        nl_error err = {0};
        ck_assert_int_eq(nl_seq_design_compute(&design, 1, whole, spending(cases[i].spending), cases[i].alpha,
                                               cases[i].sides, &err),
                         NL_OK);
        ck_assert_msg(fabs(design.boundary[0] - cases[i].boundary) < 2e-6, "case %zu: %.7f", i,
                      design.boundary[0]);
        ck_assert_double_eq_tol(design.nominal_p[0], cases[i].alpha, 1e-9);
        ck_assert_double_eq_tol(design.spent[0], cases[i].alpha, 1e-12);
    }
}
END_TEST

/* equally spaced looks, two-sided 0.05: the published rows (file comment) */
START_TEST(test_published_lan_demets)
{
    static const struct {
        const char *spending;
        int looks;
        double boundary[5];
    } rows[] = {
        {"obrien-fleming", 2, {2.963, 1.969}},
        {"obrien-fleming", 3, {3.710, 2.511, 1.993}},
        {"obrien-fleming", 4, {4.333, 2.963, 2.359, 2.014}},
        {"obrien-fleming", 5, {4.877, 3.357, 2.680, 2.290, 2.031}},
        {"pocock", 5, {2.438, 2.427, 2.410, 2.397, 2.386}},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double fraction[NL_SEQ_MAX_LOOKS];
        equal_fractions(rows[r].looks, fraction);
        nl_seq_design design;
        nl_error err = {0};
        ck_assert_int_eq(nl_seq_design_compute(&design, rows[r].looks, fraction, spending(rows[r].spending),
                                               0.05, NL_SEQ_TWO_SIDED, &err),
                         NL_OK);
        ck_assert_int_eq(design.looks, rows[r].looks);
        for (int k = 0; k < rows[r].looks; k++) {
            /* three printed decimals: half a unit of the last, and a little */
            ck_assert_msg(fabs(design.boundary[k] - rows[r].boundary[k]) < 6e-4,
                          "%s K=%d look %d: %.5f, table %.3f", rows[r].spending, rows[r].looks, k + 1,
                          design.boundary[k], rows[r].boundary[k]);
            ck_assert_double_eq_tol(design.nominal_p[k], 2 * upper_tail(design.boundary[k]), 1e-15);
        }
    }
}
END_TEST

/* the two-sided probability of never crossing the constant boundary
 * `scale` sqrt(K / k) (O'Brien-Fleming) or `scale` (Pocock) */
static double classic_alpha(int looks, double scale, bool obrien_fleming)
{
    double fraction[NL_SEQ_MAX_LOOKS], boundary[NL_SEQ_MAX_LOOKS], crossing[NL_SEQ_MAX_LOOKS];
    equal_fractions(looks, fraction);
    for (int k = 0; k < looks; k++)
        boundary[k] = obrien_fleming ? scale * sqrt((double)looks / (k + 1)) : scale;
    nl_error err = {0};
    ck_assert_int_eq(
        nl_seq_crossing_probabilities(looks, fraction, boundary, NL_SEQ_TWO_SIDED, 0, crossing, &err), NL_OK);
    double total = 0;
    for (int k = 0; k < looks; k++)
        total += crossing[k];
    return total;
}

/* The rows of the task's brief (2.797 1.977; ...; 4.562 3.226 2.634 2.281
 * 2.040) are the classic O'Brien-Fleming boundaries, C_B sqrt(K / k):
 * the spending function only approximates them (4.877 vs 4.562 at the
 * first of 5 looks). The engine must still give them their alpha: solve
 * for the constant that spends 0.05 and compare with the tables. */
START_TEST(test_classic_constants)
{
    static const struct {
        int looks;
        bool obrien_fleming;
        double constant;
    } rows[] = {
        /* Jennison & Turnbull Table 2.3, C_B(K, 0.05) */
        {2, true, 1.977},
        {3, true, 2.004},
        {4, true, 2.024},
        {5, true, 2.040},
        /* Table 2.1, C_P(K, 0.05) */
        {2, false, 2.178},
        {3, false, 2.289},
        {4, false, 2.361},
        {5, false, 2.413},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double lo = 1.5, hi = 3;
        for (int i = 0; i < 60; i++) {
            const double mid = 0.5 * (lo + hi);
            if (classic_alpha(rows[r].looks, mid, rows[r].obrien_fleming) > 0.05)
                lo = mid;
            else
                hi = mid;
        }
        ck_assert_msg(fabs(lo - rows[r].constant) < 6e-4, "%s K=%d: %.5f, table %.3f",
                      rows[r].obrien_fleming ? "C_B" : "C_P", rows[r].looks, lo, rows[r].constant);
    }
    /* and the rows as printed spend 0.05 up to their rounding */
    const double printed[] = {4.562, 3.226, 2.634, 2.281, 2.040}, fraction[] = {0.2, 0.4, 0.6, 0.8, 1};
    double crossing[5], total = 0;
    nl_error err = {0};
    ck_assert_int_eq(nl_seq_crossing_probabilities(5, fraction, printed, NL_SEQ_TWO_SIDED, 0, crossing, &err),
                     NL_OK);
    for (int k = 0; k < 5; k++)
        total += crossing[k];
    ck_assert_msg(fabs(total - 0.05) < 1e-4, "%.6f", total);
}
END_TEST

/* the probability of each look's first crossing, integrated back over the
 * boundaries found, is the spending function's increment, and the total
 * is alpha */
START_TEST(test_spent_per_look)
{
    static const struct {
        const char *spending;
        int looks;
        double fraction[6];
        nl_seq_sides sides;
        double alpha;
    } cases[] = {
        {"obrien-fleming", 3, {0.3, 0.7, 1}, NL_SEQ_TWO_SIDED, 0.05},
        {"pocock", 3, {0.3, 0.7, 1}, NL_SEQ_TWO_SIDED, 0.05},
        {"obrien-fleming", 3, {0.3, 0.7, 1}, NL_SEQ_ONE_SIDED, 0.025},
        {"pocock", 4, {0.1, 0.15, 0.6, 1}, NL_SEQ_ONE_SIDED, 0.1},
        {"obrien-fleming", 6, {0.05, 0.2, 0.21, 0.5, 0.9, 1}, NL_SEQ_TWO_SIDED, 0.01},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const nl_seq_spending *spend = spending(cases[i].spending);
        nl_seq_design design;
        nl_error err = {0};
        ck_assert_int_eq(nl_seq_design_compute(&design, cases[i].looks, cases[i].fraction, spend,
                                               cases[i].alpha, cases[i].sides, &err),
                         NL_OK);
        double crossing[NL_SEQ_MAX_LOOKS], total = 0, before = 0;
        ck_assert_int_eq(nl_seq_crossing_probabilities(cases[i].looks, cases[i].fraction, design.boundary,
                                                       cases[i].sides, 0, crossing, &err),
                         NL_OK);
        for (int k = 0; k < cases[i].looks; k++) {
            /* the increment from the formula, not from design.spent */
            const double sides = cases[i].sides;
            const double spent = sides * spend->spend(cases[i].fraction[k], cases[i].alpha / sides);
            ck_assert_msg(fabs(crossing[k] - (spent - before)) < 1e-8, "case %zu look %d: %.10f vs %.10f", i,
                          k + 1, crossing[k], spent - before);
            ck_assert_double_eq_tol(design.spent[k], spent, 1e-15);
            before = spent;
            total += crossing[k];
        }
        ck_assert_msg(fabs(total - cases[i].alpha) < 1e-6, "case %zu: total %.8f", i, total);
    }
}
END_TEST

/* Two looks by a direct integral (t_2 = 1): Z_1 ~ N(drift sqrt(t_1), 1),
 * and Z_2 | Z_1 = z ~ N(sqrt(t_1) z + drift (1 - t_1), 1 - t_1) (the
 * score gains N(drift dt, dt)), so the first crossing at look 2 is the
 * integral over look 1's continuation region of the density of Z_1 times
 * P(Z_2 beyond c_2 | z); trapezoid on 200000 steps. */
static double second_look_crossing(double t1, double c1, double c2, nl_seq_sides sides, double drift)
{
    const double sd = sqrt(1 - t1);
    const double lo = sides == NL_SEQ_TWO_SIDED ? -c1 : drift * sqrt(t1) - 12;
    const int steps = 200000;
    const double h = (c1 - lo) / steps;
    double sum = 0;
    for (int i = 0; i <= steps; i++) {
        const double z = lo + i * h, mean = sqrt(t1) * z + drift * (1 - t1), z1 = z - drift * sqrt(t1);
        double beyond = upper_tail((c2 - mean) / sd);
        if (sides == NL_SEQ_TWO_SIDED)
            beyond += upper_tail((c2 + mean) / sd);
        sum += (i == 0 || i == steps ? 0.5 : 1) * exp(-0.5 * z1 * z1) / sqrt(2 * M_PI) * beyond;
    }
    return sum * h;
}

START_TEST(test_two_looks_direct)
{
    static const struct {
        const char *spending;
        double t1;
        nl_seq_sides sides;
        double alpha;
    } cases[] = {
        {"obrien-fleming", 0.5, NL_SEQ_TWO_SIDED, 0.05},
        {"obrien-fleming", 0.3, NL_SEQ_TWO_SIDED, 0.05},
        {"pocock", 0.3, NL_SEQ_ONE_SIDED, 0.025},
        {"pocock", 0.8, NL_SEQ_TWO_SIDED, 0.1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const nl_seq_spending *spend = spending(cases[i].spending);
        const double fraction[2] = {cases[i].t1, 1}, sides = cases[i].sides;
        nl_seq_design design;
        nl_error err = {0};
        ck_assert_int_eq(
            nl_seq_design_compute(&design, 2, fraction, spend, cases[i].alpha, cases[i].sides, &err), NL_OK);
        /* look 1's boundary in closed form: 1 - Phi(c_1) = f(t_1; alpha / sides) */
        const double first = spend->spend(cases[i].t1, cases[i].alpha / sides);
        const double c1 = nl_stats_normal_quantile(1 - first);
        ck_assert_msg(fabs(design.boundary[0] - c1) < 1e-8, "case %zu: c1 %.9f vs %.9f", i,
                      design.boundary[0], c1);
        /* what is left to spend at look 2, in the direct integral */
        const double second =
            second_look_crossing(cases[i].t1, design.boundary[0], design.boundary[1], cases[i].sides, 0);
        ck_assert_msg(fabs(second - (cases[i].alpha - sides * first)) < 1e-7, "case %zu: %.9f vs %.9f", i,
                      second, cases[i].alpha - sides * first);
        /* and with drift (the power), through nl_seq_crossing_probabilities */
        const double drifts[2] = {1.5, 4};
        for (int d = 0; d < 2; d++) {
            double crossing[2];
            ck_assert_int_eq(nl_seq_crossing_probabilities(2, fraction, design.boundary, cases[i].sides,
                                                           drifts[d], crossing, &err),
                             NL_OK);
            const double direct = second_look_crossing(cases[i].t1, design.boundary[0], design.boundary[1],
                                                       cases[i].sides, drifts[d]);
            ck_assert_msg(fabs(crossing[1] - direct) < 1e-7, "case %zu drift %g: %.9f vs %.9f", i, drifts[d],
                          crossing[1], direct);
        }
    }
    /* a hand value: OBF, t1 = 0.5, two-sided 0.05: c1 = z(1 - 1.525323e-3) = 2.962588 */
    nl_seq_design design;
    nl_error err = {0};
    const double half[2] = {0.5, 1};
    ck_assert_int_eq(
        nl_seq_design_compute(&design, 2, half, spending("obrien-fleming"), 0.05, NL_SEQ_TWO_SIDED, &err),
        NL_OK);
    ck_assert_double_eq_tol(design.boundary[0], 2.962588, 2e-6);
}
END_TEST

/* Brownian motion simulated (seeded), the crossing frequencies against
 * the integration's probabilities within 4.5 standard errors; with drift
 * the crossing probabilities are the design's power. With one look and
 * drift theta it is 1 - Phi(c - theta) + Phi(-c - theta) by hand. */
START_TEST(test_monte_carlo)
{
    const double fraction[3] = {0.3, 0.7, 1};
    nl_seq_design design;
    nl_error err = {0};
    ck_assert_int_eq(
        nl_seq_design_compute(&design, 3, fraction, spending("obrien-fleming"), 0.05, NL_SEQ_TWO_SIDED, &err),
        NL_OK);
    const double drifts[2] = {0, 2.5};
    for (int d = 0; d < 2; d++) {
        double predicted[3];
        ck_assert_int_eq(nl_seq_crossing_probabilities(3, fraction, design.boundary, NL_SEQ_TWO_SIDED,
                                                       drifts[d], predicted, &err),
                         NL_OK);
        nl_rng rng;
        nl_rng_seed(&rng, 81 + (uint64_t)d, NL_STREAM_TEST);
        const int paths = 400000;
        int crossed[3] = {0, 0, 0};
        for (int p = 0; p < paths; p++) {
            double score = 0, t_prev = 0;
            for (int k = 0; k < 3; k++) {
                const double dt = fraction[k] - t_prev;
                score += drifts[d] * dt + sqrt(dt) * nl_rng_normal(&rng);
                t_prev = fraction[k];
                if (fabs(score / sqrt(fraction[k])) >= design.boundary[k]) {
                    crossed[k]++;
                    break;
                }
            }
        }
        for (int k = 0; k < 3; k++) {
            const double freq = (double)crossed[k] / paths;
            const double se = sqrt(fmax(predicted[k] * (1 - predicted[k]), 1e-6) / paths);
            ck_assert_msg(fabs(freq - predicted[k]) < 4.5 * se,
                          "drift %g look %d: simulated %.5f, integrated %.5f", drifts[d], k + 1, freq,
                          predicted[k]);
        }
    }
    const double whole[1] = {1}, c = 1.959964, theta = 2.5;
    double power;
    ck_assert_int_eq(nl_seq_crossing_probabilities(1, whole, &c, NL_SEQ_TWO_SIDED, theta, &power, &err),
                     NL_OK);
    /* 1 - Phi(-0.540036) + Phi(-4.459964) = 0.7054139 + 0.0000041 */
    ck_assert_double_eq_tol(power, 0.7054139 + 0.0000041, 1e-6);
}
END_TEST

START_TEST(test_decide)
{
    const double thirds[3] = {1.0 / 3, 2.0 / 3, 1};
    nl_seq_design two, one;
    nl_error err = {0};
    ck_assert_int_eq(
        nl_seq_design_compute(&two, 3, thirds, spending("obrien-fleming"), 0.05, NL_SEQ_TWO_SIDED, &err),
        NL_OK);
    ck_assert_int_eq(
        nl_seq_design_compute(&one, 3, thirds, spending("obrien-fleming"), 0.025, NL_SEQ_ONE_SIDED, &err),
        NL_OK);
    /* boundaries 3.710 2.511 1.993, two-sided and one-sided alike (0.025 a side) */
    ck_assert_double_eq_tol(one.boundary[1], two.boundary[1], 1e-9);
    static const struct {
        bool two_sided;
        int observed;
        double z[3];
        nl_seq_outcome outcome;
        int look, side;
    } cases[] = {
        {true, 1, {4.0}, NL_SEQ_CROSSED, 1, 1},
        {true, 1, {3.70}, NL_SEQ_CONTINUE, 1, 0},
        {true, 2, {3.70, 2.52}, NL_SEQ_CROSSED, 2, 1},
        {true, 2, {-3.0, -2.6}, NL_SEQ_CROSSED, 2, -1},
        {false, 2, {-3.0, -2.6}, NL_SEQ_CONTINUE, 2, 0},
        {false, 3, {-5.0, -9.0, -2.0}, NL_SEQ_FINAL_NOT_CROSSED, 3, 0},
        {true, 2, {1.0, 1.0}, NL_SEQ_CONTINUE, 2, 0},
        {true, 3, {1.0, 2.5, 1.99}, NL_SEQ_FINAL_NOT_CROSSED, 3, 0},
        {true, 3, {1.0, 2.5, 2.0}, NL_SEQ_CROSSED, 3, 1},
        {false, 3, {1.0, 2.5, 2.0}, NL_SEQ_CROSSED, 3, 1},
        /* the first crossing decides: later looks change nothing */
        {true, 3, {4.0, -10.0, 0.0}, NL_SEQ_CROSSED, 1, 1},
        /* 3.0 is below look 1's 3.710: look 2's 2.6 decides */
        {true, 3, {3.0, 2.6, 0.0}, NL_SEQ_CROSSED, 2, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nl_seq_decision decision;
        ck_assert_int_eq(
            nl_seq_decide(cases[i].two_sided ? &two : &one, cases[i].z, cases[i].observed, &decision, &err),
            NL_OK);
        ck_assert_msg(decision.outcome == cases[i].outcome && decision.look == cases[i].look &&
                          decision.side == cases[i].side,
                      "case %zu: outcome %d look %d side %d", i, decision.outcome, decision.look,
                      decision.side);
    }
    /* a z exactly on the boundary crosses (p <= the nominal level) */
    nl_seq_decision decision;
    const double on[2] = {1.0, two.boundary[1]}, below[2] = {1.0, nextafter(two.boundary[1], 0)};
    ck_assert_int_eq(nl_seq_decide(&two, on, 2, &decision, &err), NL_OK);
    ck_assert_int_eq(decision.outcome, NL_SEQ_CROSSED);
    ck_assert_int_eq(nl_seq_decide(&two, below, 2, &decision, &err), NL_OK);
    ck_assert_int_eq(decision.outcome, NL_SEQ_CONTINUE);

    /* a look the spending function spends nothing at cannot reject */
    const double early[2] = {1e-4, 1};
    nl_seq_design late;
    ck_assert_int_eq(
        nl_seq_design_compute(&late, 2, early, spending("obrien-fleming"), 0.05, NL_SEQ_TWO_SIDED, &err),
        NL_OK);
    ck_assert(isinf(late.boundary[0]) && late.nominal_p[0] == 0);
    ck_assert_double_eq_tol(late.boundary[1], 1.959964, 1e-5);
    const double huge[2] = {50, 0};
    ck_assert_int_eq(nl_seq_decide(&late, huge, 1, &decision, &err), NL_OK);
    ck_assert_int_eq(decision.outcome, NL_SEQ_CONTINUE);
}
END_TEST

START_TEST(test_looks_beyond_plan)
{
    const double thirds[3] = {1.0 / 3, 2.0 / 3, 1};
    nl_seq_design design;
    nl_error err = {0};
    ck_assert_int_eq(
        nl_seq_design_compute(&design, 3, thirds, spending("pocock"), 0.05, NL_SEQ_TWO_SIDED, &err), NL_OK);
    ck_assert_int_eq(nl_seq_check_look(&design, 3, &err), NL_OK);
    const double z[4] = {0, 0, 0, 5};
    nl_seq_decision decision;
    nl_error beyond = {0};
    ck_assert_int_eq(nl_seq_decide(&design, z, 4, &decision, &beyond), NL_ERR_DATA);
    ck_assert_msg(strstr(beyond.msg, "look 4 is beyond the plan's 3"), "%s", beyond.msg);
    nl_error checked = {0};
    ck_assert_int_eq(nl_seq_check_look(&design, 4, &checked), NL_ERR_DATA);
    ck_assert_str_eq(checked.msg, beyond.msg);
    nl_error none = {0};
    ck_assert_int_eq(nl_seq_decide(&design, z, 0, &decision, &none), NL_ERR_DATA);
    ck_assert_msg(strstr(none.msg, "look 0"), "%s", none.msg);
    nl_error nan_z = {0};
    const double bad[2] = {1, NAN};
    ck_assert_int_eq(nl_seq_decide(&design, bad, 2, &decision, &nan_z), NL_ERR_DATA);
    ck_assert_msg(strstr(nan_z.msg, "look 2's z statistic"), "%s", nan_z.msg);
}
END_TEST

START_TEST(test_bad_plans)
{
    const nl_seq_spending *obf = spending("obrien-fleming");
    const double good[3] = {0.3, 0.7, 1};
    static const struct {
        int looks;
        double fraction[3];
        double alpha;
        int sides;
        bool no_spending;
        const char *message;
    } cases[] = {
        {0, {1}, 0.05, 2, false, "at least 1 look; K is 0"},
        {-3, {1}, 0.05, 2, false, "at least 1 look; K is -3"},
        {21, {1}, 0.05, 2, false, "at most 20 looks; K is 21"},
        {3, {0.5, 0.5, 1}, 0.05, 2, false, "increase strictly: look 2's 0.5 follows look 1's 0.5"},
        {3, {0.6, 0.4, 1}, 0.05, 2, false, "increase strictly: look 2's 0.4 follows look 1's 0.6"},
        {2, {0, 1}, 0.05, 2, false, "look 1's information fraction 0 is outside (0, 1]"},
        {2, {0.5, 1.2}, 0.05, 2, false, "look 2's information fraction 1.2 is outside (0, 1]"},
        {2, {NAN, 1}, 0.05, 2, false, "look 1's information fraction nan is outside (0, 1]"},
        {3, {0.3, 0.7, 1}, 0, 2, false, "alpha 0 is outside (0, 0.5)"},
        {3, {0.3, 0.7, 1}, 0.5, 2, false, "alpha 0.5 is outside (0, 0.5)"},
        {3, {0.3, 0.7, 1}, -0.05, 2, false, "alpha -0.05 is outside (0, 0.5)"},
        {3, {0.3, 0.7, 1}, NAN, 2, false, "alpha nan is outside (0, 0.5)"},
        {3, {0.3, 0.7, 1}, 0.05, 3, false, "sides is 3: 1 (one-sided) or 2 (two-sided)"},
        {3, {0.3, 0.7, 1}, 0.05, 0, false, "sides is 0"},
        {3, {0.3, 0.7, 1}, 0.05, 2, true, "needs an alpha-spending function"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nl_seq_design design;
        design.looks = 99;
        nl_error err = {0};
        const nl_code code = nl_seq_design_compute(&design, cases[i].looks, cases[i].fraction,
                                                   cases[i].no_spending ? NULL : obf, cases[i].alpha,
                                                   (nl_seq_sides)cases[i].sides, &err);
        ck_assert_msg(code == NL_ERR_CONFIG && strstr(err.msg, cases[i].message), "case %zu: %d '%s'", i,
                      code, err.msg);
        ck_assert_int_eq(design.looks, 0); /* nothing half-made to use */
        nl_error checked = {0};
        ck_assert_int_eq(nl_seq_check_plan(cases[i].looks, cases[i].fraction, cases[i].alpha,
                                           (nl_seq_sides)cases[i].sides, cases[i].no_spending ? NULL : obf,
                                           &checked),
                         NL_ERR_CONFIG);
    }
    nl_error err = {0};
    ck_assert_int_eq(nl_seq_check_plan(3, good, 0.05, NL_SEQ_TWO_SIDED, obf, &err), NL_OK);
    /* 20 looks is the most, and still a plan */
    double twenty[20];
    equal_fractions(20, twenty);
    nl_seq_design design;
    ck_assert_int_eq(nl_seq_design_compute(&design, 20, twenty, obf, 0.05, NL_SEQ_TWO_SIDED, &err), NL_OK);
    ck_assert_double_eq_tol(design.spent[19], 0.05, 1e-12);
    /* crossing probabilities refuse what a design would, and NaN boundaries */
    double crossing[3];
    const double boundary[3] = {3, NAN, 2};
    nl_error nan_boundary = {0};
    ck_assert_int_eq(
        nl_seq_crossing_probabilities(3, good, boundary, NL_SEQ_TWO_SIDED, 0, crossing, &nan_boundary),
        NL_ERR_CONFIG);
    ck_assert_msg(strstr(nan_boundary.msg, "look 2's boundary nan"), "%s", nan_boundary.msg);
    nl_error no_looks = {0};
    ck_assert_int_eq(
        nl_seq_crossing_probabilities(0, good, boundary, NL_SEQ_TWO_SIDED, 0, crossing, &no_looks),
        NL_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(no_looks.msg, "K is 0"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stats_seq");
    TCase *tc = tcase_create("stats_seq");
    tcase_add_test(tc, test_spending_values);
    tcase_add_test(tc, test_spending_lookup);
    tcase_add_test(tc, test_one_look_is_fixed_sample);
    tcase_add_test(tc, test_published_lan_demets);
    tcase_add_test(tc, test_classic_constants);
    tcase_add_test(tc, test_spent_per_look);
    tcase_add_test(tc, test_two_looks_direct);
    tcase_add_test(tc, test_monte_carlo);
    tcase_add_test(tc, test_decide);
    tcase_add_test(tc, test_looks_beyond_plan);
    tcase_add_test(tc, test_bad_plans);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
