#include "stats/seq.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "stats/stats.h"

/* P(X >= x) and P(X <= x) for a standard normal X, by erfc so that tails
 * of 1e-10 keep their digits (1 - Phi would round them away) */
static double upper_tail(double x)
{
    return 0.5 * erfc(x / sqrt(2.0));
}

static double lower_tail(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

static double normal_density(double x)
{
    return exp(-0.5 * x * x) / sqrt(2 * M_PI);
}

static double clamp_fraction(double t)
{
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

double nl_seq_spend_obrien_fleming(double t, double alpha)
{
    t = clamp_fraction(t);
    if (t == 0)
        return 0;
    /* 2 - 2 Phi(x) written as 2 P(X >= x): no cancellation for small spends */
    return 2 * upper_tail(nl_stats_normal_quantile(1 - alpha / 2) / sqrt(t));
}

double nl_seq_spend_pocock(double t, double alpha)
{
    return alpha * log1p((M_E - 1) * clamp_fraction(t));
}

const nl_seq_spending nl_seq_spendings[] = {
    {"obrien-fleming", "Lan-DeMets O'Brien-Fleming-type spending", nl_seq_spend_obrien_fleming},
    {"pocock", "Lan-DeMets Pocock-type spending", nl_seq_spend_pocock},
};
const int nl_seq_spending_count = (int)(sizeof nl_seq_spendings / sizeof nl_seq_spendings[0]);

nl_code nl_seq_spending_find(const char *name, const nl_seq_spending **out, nl_error *err)
{
    *out = NULL;
    for (int i = 0; i < nl_seq_spending_count; i++)
        if (name && strcmp(name, nl_seq_spendings[i].name) == 0) {
            *out = &nl_seq_spendings[i];
            return NL_OK;
        }
    /* the accepted names come from the table, so a new row is listed too */
    char accepted[256] = "";
    size_t used = 0;
    for (int i = 0; i < nl_seq_spending_count && used < sizeof accepted; i++)
        used += (size_t)snprintf(accepted + used, sizeof accepted - used, "%s%s", i ? ", " : "",
                                 nl_seq_spendings[i].name);
    return nl_fail(err, NL_ERR_CONFIG, "unknown alpha-spending function '%s'; accepted: %s",
                   name ? name : "(none)", accepted);
}

static nl_code check_fractions(int looks, const double *fraction, nl_error *err)
{
    if (looks < 1)
        return nl_fail(err, NL_ERR_CONFIG, "a sequential plan needs at least 1 look; K is %d", looks);
    if (looks > NL_SEQ_MAX_LOOKS)
        return nl_fail(err, NL_ERR_CONFIG, "a sequential plan has at most %d looks; K is %d",
                       NL_SEQ_MAX_LOOKS, looks);
    if (!fraction)
        return nl_fail(err, NL_ERR_CONFIG, "a sequential plan of %d looks needs their information fractions",
                       looks);
    for (int k = 0; k < looks; k++) {
        /* !(x > 0 && x <= 1) also catches NaN */
        if (!(fraction[k] > 0 && fraction[k] <= 1))
            return nl_fail(err, NL_ERR_CONFIG, "look %d's information fraction %g is outside (0, 1]", k + 1,
                           fraction[k]);
        if (k > 0 && !(fraction[k] > fraction[k - 1]))
            return nl_fail(err, NL_ERR_CONFIG,
                           "information fractions must increase strictly: look %d's %g follows look %d's %g",
                           k + 1, fraction[k], k, fraction[k - 1]);
    }
    return NL_OK;
}

static nl_code check_sides(nl_seq_sides sides, nl_error *err)
{
    if (sides != NL_SEQ_ONE_SIDED && sides != NL_SEQ_TWO_SIDED)
        return nl_fail(err, NL_ERR_CONFIG, "sides is %d: 1 (one-sided) or 2 (two-sided)", (int)sides);
    return NL_OK;
}

nl_code nl_seq_check_plan(int looks, const double *fraction, double alpha, nl_seq_sides sides,
                          const nl_seq_spending *spending, nl_error *err)
{
    nl_code code = check_fractions(looks, fraction, err);
    if (code)
        return code;
    /* alpha >= 0.5 is no test: a one-sided boundary would sit at or below 0 */
    if (!(alpha > 0 && alpha < 0.5))
        return nl_fail(err, NL_ERR_CONFIG, "alpha %g is outside (0, 0.5)", alpha);
    if ((code = check_sides(sides, err)))
        return code;
    if (!spending || !spending->spend)
        return nl_fail(err, NL_ERR_CONFIG, "a sequential plan needs an alpha-spending function");
    return NL_OK;
}

/* ---- the recursive integration (Jennison & Turnbull ch. 19) ----
 *
 * The density of Z_k over the continuation region of looks 1..k-1 is kept
 * on a grid of points with Simpson weights, so that sum_j weight[j]
 * density[j] g(z[j]) is the integral of g against the sub-density of the
 * paths still running. Going from look k-1 to look k:
 *   density_k(z) = sum_j w_j density_{k-1}(z_j) sqrt(t_k / dt)
 *                  phi((z sqrt(t_k) - z_j sqrt(t_{k-1}) - drift dt) / sqrt(dt)),
 * dt = t_k - t_{k-1}: the score S = Z sqrt(t) gains an independent
 * N(drift dt, dt) between looks, and sqrt(t_k) is the Jacobian of S -> Z.
 * The probability of crossing c at look k is the same sum with phi
 * replaced by its tail beyond c, which has a closed form: no grid error
 * from the boundary itself. */

/* J&T's r: the grid has 6r - 1 points before trimming to the continuation
 * region, fine (spacing 3 / (2r)) within 3 sd of the mean and spreading
 * logarithmically to 3 + 4 ln r sd. gsDesign uses r = 18; the boundaries
 * of the tests' designs agree to 1e-6 at r = 16, 32 and 64, and 32 costs
 * little (K <= 20 looks of ~400 points). */
#define GRID_R 32
#define GRID_RAW (6 * GRID_R - 1)
/* the trimmed points plus both ends, and a midpoint between each pair */
#define GRID_MAX (2 * (GRID_RAW + 2) - 1)

typedef struct {
    int count;
    double z[GRID_MAX];
    double weight[GRID_MAX];
    double density[GRID_MAX];
} look_grid;

/* the grid of a look whose Z has mean `mean`, over the open interval
 * (lo, hi) (either end may be infinite): J&T's points trimmed to it, its
 * ends added (cut to the points' span, 16.9 sd from the mean: the mass
 * beyond is below 1e-60),
 * and Simpson's rule on each pair of neighbours with their midpoint */
static void grid_build(look_grid *grid, double mean, double lo, double hi)
{
    double raw[GRID_RAW];
    for (int i = 1; i <= GRID_RAW; i++) {
        double x;
        if (i < GRID_R)
            x = -3 - 4 * log((double)GRID_R / i);
        else if (i <= 5 * GRID_R)
            x = -3 + 3.0 * (i - GRID_R) / (2.0 * GRID_R);
        else
            x = 3 + 4 * log((double)GRID_R / (6 * GRID_R - i));
        raw[i - 1] = mean + x;
    }
    const double lower = fmax(lo, raw[0]), upper = fmin(hi, raw[GRID_RAW - 1]);
    grid->count = 0;
    if (!(lower < upper))
        return; /* no room to continue: every path stopped */
    double nodes[GRID_RAW + 2];
    int n = 0;
    nodes[n++] = lower;
    for (int i = 0; i < GRID_RAW; i++)
        if (raw[i] > lower && raw[i] < upper)
            nodes[n++] = raw[i];
    nodes[n++] = upper;
    for (int i = 0; i < 2 * n - 1; i++) {
        grid->z[i] = i % 2 == 0 ? nodes[i / 2] : 0.5 * (nodes[i / 2] + nodes[i / 2 + 1]);
        grid->weight[i] = 0;
    }
    /* Simpson on [a, b] with midpoint m: (b - a) / 6 * (f(a) + 4 f(m) + f(b)) */
    for (int panel = 0; panel < n - 1; panel++) {
        const double width = nodes[panel + 1] - nodes[panel];
        grid->weight[2 * panel] += width / 6;
        grid->weight[2 * panel + 1] += 4 * width / 6;
        grid->weight[2 * panel + 2] += width / 6;
    }
    grid->count = 2 * n - 1;
}

/* the state before look 1: S = 0 at t = 0 with certainty, one point of
 * weight 1, so that look 1 goes through the same step as the others */
static void grid_start(look_grid *grid)
{
    grid->count = 1;
    grid->z[0] = 0;
    grid->weight[0] = 1;
    grid->density[0] = 1;
}

/* the probability that a path still running at t_prev (grid `prev`)
 * crosses the boundary c at t: Z >= c, or |Z| >= c two-sided */
static double crossing_at(const look_grid *prev, double t_prev, double t, double drift, double boundary,
                          nl_seq_sides sides)
{
    if (isinf(boundary) && boundary > 0)
        return 0;
    const double dt = t - t_prev, sd = sqrt(dt);
    double total = 0;
    for (int j = 0; j < prev->count; j++) {
        const double from = prev->z[j] * sqrt(t_prev) + drift * dt; /* the mean of S_t */
        double p = upper_tail((boundary * sqrt(t) - from) / sd);
        if (sides == NL_SEQ_TWO_SIDED)
            p += lower_tail((-boundary * sqrt(t) - from) / sd);
        total += prev->weight[j] * prev->density[j] * p;
    }
    return total;
}

/* the grid of look t and the density on it of the paths that did not cross
 * `boundary` there */
static void grid_advance(const look_grid *prev, double t_prev, double t, double drift, double boundary,
                         nl_seq_sides sides, look_grid *next)
{
    const double hi = boundary, lo = sides == NL_SEQ_TWO_SIDED ? -boundary : -INFINITY;
    grid_build(next, drift * sqrt(t), lo, hi);
    const double dt = t - t_prev, sd = sqrt(dt);
    for (int i = 0; i < next->count; i++) {
        double density = 0;
        for (int j = 0; j < prev->count; j++) {
            const double from = prev->z[j] * sqrt(t_prev) + drift * dt;
            density +=
                prev->weight[j] * prev->density[j] * normal_density((next->z[i] * sqrt(t) - from) / sd);
        }
        next->density[i] = density * sqrt(t) / sd;
    }
}

nl_code nl_seq_crossing_probabilities(int looks, const double *fraction, const double *boundary,
                                      nl_seq_sides sides, double drift, double *crossing, nl_error *err)
{
    nl_code code = check_fractions(looks, fraction, err);
    if (code || (code = check_sides(sides, err)))
        return code;
    if (!isfinite(drift))
        return nl_fail(err, NL_ERR_CONFIG, "drift %g is not a finite number", drift);
    for (int k = 0; k < looks; k++)
        /* a two-sided boundary below 0 would stop every path twice over */
        if (isnan(boundary[k]) || (sides == NL_SEQ_TWO_SIDED && boundary[k] < 0))
            return nl_fail(err, NL_ERR_CONFIG, "look %d's boundary %g is not a %s boundary", k + 1,
                           boundary[k], sides == NL_SEQ_TWO_SIDED ? "two-sided (>= 0)" : "z");
    look_grid grids[2];
    look_grid *prev = &grids[0], *next = &grids[1];
    grid_start(prev);
    double t_prev = 0;
    for (int k = 0; k < looks; k++) {
        crossing[k] = crossing_at(prev, t_prev, fraction[k], drift, boundary[k], sides);
        if (k + 1 < looks) {
            grid_advance(prev, t_prev, fraction[k], drift, boundary[k], sides, next);
            look_grid *swap = prev;
            prev = next;
            next = swap;
        }
        t_prev = fraction[k];
    }
    return NL_OK;
}

/* the boundary at look t whose crossing probability under H0 is `target`:
 * crossing_at falls as the boundary rises, so bisect. [0, 40] holds it:
 * at 0 a look crosses with probability >= 1/2 - alpha > any one look's
 * spend (alpha < 1/2); at 40 with < 1e-300. */
static nl_code boundary_for(const look_grid *prev, double t_prev, double t, double target, nl_seq_sides sides,
                            int look, double *boundary, nl_error *err)
{
    double lo = 0, hi = 40;
    if (crossing_at(prev, t_prev, t, 0, lo, sides) < target)
        return nl_fail(err, NL_ERR_RUNTIME,
                       "look %d cannot spend %g: no boundary at or above 0 crosses that often", look, target);
    for (int i = 0; i < 200 && hi - lo > 1e-12; i++) {
        const double mid = 0.5 * (lo + hi);
        if (crossing_at(prev, t_prev, t, 0, mid, sides) > target)
            lo = mid;
        else
            hi = mid;
    }
    *boundary = 0.5 * (lo + hi);
    return NL_OK;
}

nl_code nl_seq_design_compute(nl_seq_design *design, int looks, const double *fraction,
                              const nl_seq_spending *spending, double alpha, nl_seq_sides sides,
                              nl_error *err)
{
    memset(design, 0, sizeof *design);
    nl_code code = nl_seq_check_plan(looks, fraction, alpha, sides, spending, err);
    if (code)
        return code;
    design->looks = looks;
    design->sides = sides;
    design->alpha = alpha;
    design->spending = spending;
    look_grid grids[2];
    look_grid *prev = &grids[0], *next = &grids[1];
    grid_start(prev);
    double t_prev = 0, spent_before = 0;
    for (int k = 0; k < looks; k++) {
        const double t = fraction[k];
        design->fraction[k] = t;
        /* two-sided: each side a one-sided test at alpha / 2 (seq.h) */
        design->spent[k] = (int)sides * spending->spend(t, alpha / (int)sides);
        const double target = design->spent[k] - spent_before;
        double boundary = INFINITY; /* nothing to spend here: this look cannot reject */
        if (target > 0 && (code = boundary_for(prev, t_prev, t, target, sides, k + 1, &boundary, err))) {
            memset(design, 0, sizeof *design); /* nothing half-made to use */
            return code;
        }
        design->boundary[k] = boundary;
        design->nominal_p[k] = (int)sides * upper_tail(boundary);
        if (k + 1 < looks) {
            grid_advance(prev, t_prev, t, 0, boundary, sides, next);
            look_grid *swap = prev;
            prev = next;
            next = swap;
        }
        t_prev = t;
        spent_before = design->spent[k];
    }
    return NL_OK;
}

nl_code nl_seq_check_look(const nl_seq_design *design, int look, nl_error *err)
{
    if (look < 1)
        return nl_fail(err, NL_ERR_DATA, "look %d: looks count from 1", look);
    if (look > design->looks)
        return nl_fail(err, NL_ERR_DATA,
                       "look %d is beyond the plan's %d: the plan's alpha covers only the looks it declared",
                       look, design->looks);
    return NL_OK;
}

nl_code nl_seq_decide(const nl_seq_design *design, const double *z, int observed, nl_seq_decision *out,
                      nl_error *err)
{
    *out = (nl_seq_decision){NL_SEQ_CONTINUE, 0, 0};
    nl_code code = nl_seq_check_look(design, observed, err);
    if (code)
        return code;
    for (int k = 0; k < observed; k++)
        if (!isfinite(z[k]))
            return nl_fail(err, NL_ERR_DATA, "look %d's z statistic %g is not a finite number", k + 1, z[k]);
    for (int k = 0; k < observed; k++) {
        const double c = design->boundary[k];
        const int side = z[k] >= c ? 1 : design->sides == NL_SEQ_TWO_SIDED && z[k] <= -c ? -1 : 0;
        if (side) {
            *out = (nl_seq_decision){NL_SEQ_CROSSED, k + 1, side};
            return NL_OK;
        }
    }
    out->outcome = observed == design->looks ? NL_SEQ_FINAL_NOT_CROSSED : NL_SEQ_CONTINUE;
    out->look = observed;
    return NL_OK;
}
