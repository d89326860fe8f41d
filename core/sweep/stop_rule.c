/* The stop rules' decisions (stop.h): pure functions of the runs' curves. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/halving.h"
#include "sweep/stop.h"

const char *nl_stop_rule_name(nl_stop_rule r)
{
    return r == NL_STOP_ASHA ? "asha" : r == NL_STOP_MEDIAN ? "median" : "none";
}

int nl_stop_points(const nl_stop_spec *s, long length, long *points)
{
    int n = 0;
    if (s->rule == NL_STOP_ASHA) {
        n = nl_halving_rungs(s->min_resource, s->eta, length, points, NL_STOP_MAX_POINTS);
    } else if (s->rule == NL_STOP_MEDIAN) {
        for (long r = s->grace; r > 0 && r < length && n < NL_STOP_MAX_POINTS; r += s->every)
            points[n++] = r;
    }
    return n;
}

/* whether a is better than b (NaN worst) */
static bool better(const nl_stop_spec *s, double a, double b)
{
    if (isnan(b))
        return !isnan(a);
    if (isnan(a))
        return false;
    return s->maximize ? a > b : a < b;
}

/* the metric as last logged at or before step `at` (NaN: none) */
static double value_at(const nl_stop_curve *c, long at)
{
    double v = NAN;
    for (int i = 0; i < c->n && c->step[i] <= at; i++)
        v = c->value[i];
    return v;
}

/* the best finite value and the mean of the finite values logged up to
 * `at` (*mean NaN: none) */
static double best_and_mean(const nl_stop_spec *s, const nl_stop_curve *c, long at, double *mean)
{
    double best = NAN, sum = 0.0;
    int n = 0;
    for (int i = 0; i < c->n && c->step[i] <= at; i++) {
        const double v = c->value[i];
        if (!isfinite(v))
            continue;
        if (better(s, v, best))
            best = v;
        sum += v;
        n++;
    }
    *mean = n ? sum / n : NAN;
    return best;
}

static long step_of(const nl_stop_curve *c, long point)
{
    return point * (c->per_point > 0 ? c->per_point : 1);
}

typedef struct {
    const nl_stop_spec *s;
    const double *v;
} rank_ctx;

/* the runs at a rung, best first, ties to the first in the plan */
static void rank(const rank_ctx *c, int *idx, int m)
{
    for (int i = 1; i < m; i++) {
        const int x = idx[i];
        int k = i;
        while (k > 0 && better(c->s, c->v[x], c->v[idx[k - 1]]))
            idx[k] = idx[k - 1], k--;
        idx[k] = x;
    }
}

/* ASHA at rung k over the runs in `at` (reached it, not stopped before) */
static void asha_point(const nl_stop_spec *s, const nl_stop_curve *runs, const int *at, int m, long point,
                       int k, double *v, int *idx, nl_stop_decision *out)
{
    if (m == 0)
        return;
    for (int i = 0; i < m; i++) {
        idx[i] = at[i];
        v[at[i]] = value_at(&runs[at[i]], step_of(&runs[at[i]], point));
    }
    rank(&(rank_ctx){s, v}, idx, m);
    const int keep = nl_halving_keep(m, s->eta); /* the best goes on: a sweep finishes a run */
    const double cutoff = v[idx[keep - 1]];
    for (int r = keep; r < m; r++)
        out[idx[r]] = (nl_stop_decision){.point = k, .value = v[idx[r]], .threshold = cutoff,
                                         .compared = m, .kept = keep};
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the median stopping rule at point k over the runs in `at` */
static void median_point(const nl_stop_spec *s, const nl_stop_curve *runs, const int *at, int m, long point,
                         int k, double *best, double *mean, double *others, nl_stop_decision *out)
{
    for (int i = 0; i < m; i++)
        best[at[i]] = best_and_mean(s, &runs[at[i]], step_of(&runs[at[i]], point), &mean[at[i]]);
    for (int i = 0; i < m; i++) {
        int n = 0;
        for (int j = 0; j < m; j++)
            if (j != i && !isnan(mean[at[j]]))
                others[n++] = mean[at[j]];
        if (n < s->min_runs || n == 0)
            continue;
        qsort(others, (size_t)n, sizeof *others, cmp_double);
        const double median = n % 2 ? others[n / 2] : 0.5 * (others[n / 2 - 1] + others[n / 2]);
        const double b = best[at[i]];
        if (isnan(b) || better(s, median, b))
            out[at[i]] = (nl_stop_decision){.point = k, .value = b, .threshold = median, .compared = n};
    }
}

/* the runs not stopped before point k that reached it; -1 when one that
 * can still reach it has not yet */
static int runs_at(const nl_stop_curve *runs, int n, const nl_stop_decision *out, long point, int *at)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (out[i].point >= 0)
            continue;
        if (runs[i].reach >= step_of(&runs[i], point))
            at[m++] = i;
        else if (!runs[i].ended)
            return -1;
    }
    return m;
}

int nl_stop_decide(const nl_stop_spec *s, const long *points, int n_points, const nl_stop_curve *runs, int n,
                   nl_stop_decision *out)
{
    for (int i = 0; i < n; i++)
        out[i] = (nl_stop_decision){.point = -1, .value = NAN, .threshold = NAN};
    const size_t size = n > 0 ? (size_t)n : 1;
    int *at = malloc(size * sizeof *at), *idx = malloc(size * sizeof *idx);
    double *a = malloc(size * sizeof *a), *b = malloc(size * sizeof *b), *c = malloc(size * sizeof *c);
    int k = 0;
    if (at && idx && a && b && c)
        for (; k < n_points; k++) {
            const int m = runs_at(runs, n, out, points[k], at);
            if (m < 0)
                break;
            if (s->rule == NL_STOP_ASHA)
                asha_point(s, runs, at, m, points[k], k, a, idx, out);
            else if (s->rule == NL_STOP_MEDIAN)
                median_point(s, runs, at, m, points[k], k, a, b, c, out);
        }
    free(at);
    free(idx);
    free(a);
    free(b);
    free(c);
    return k;
}
