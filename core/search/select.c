/* Selection over several scores (search.h, internal.h): a passed
 * candidate's scores are its test accuracies on rank.models (without
 * rank:, its hurdle accuracy alone), and candidates are compared by Pareto
 * dominance over them, as a search ranked on K models must: no weighting
 * of one model against another is chosen for the user. A candidate that
 * did not pass has no scores and is dominated by every one that did. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/internal.h"

int nl_search_score_count(const nl_search_spec *s)
{
    return s->n_models ? s->n_models : 1;
}

double nl_search_score(const nl_search_spec *s, const nl_search_candidate *c, int k)
{
    return s->n_models ? c->scores[k] : c->accuracy;
}

static bool passed(const nl_search_candidate *c)
{
    return c->stage == NL_STAGE_PASSED;
}

/* a dominates b: passed, and b not; with rank.rungs, trained to a later
 * rung than b (successive halving ranked it better at every rung b
 * reached, and scores after different budgets are not compared); or at
 * least as good on every score and better on one */
static bool dominates(const nl_search_spec *s, const nl_search_candidate *a, const nl_search_candidate *b)
{
    if (!passed(a))
        return false;
    if (!passed(b))
        return true;
    if (s->n_rungs && a->rung != b->rung)
        return a->rung > b->rung;
    bool better = false;
    for (int k = 0; k < nl_search_score_count(s); k++) {
        const double x = nl_search_score(s, a, k), y = nl_search_score(s, b, k);
        if (x < y)
            return false;
        better |= x > y;
    }
    return better;
}

static double mean_score(const nl_search_spec *s, const nl_search_candidate *c)
{
    double sum = 0;
    for (int k = 0; k < nl_search_score_count(s); k++)
        sum += nl_search_score(s, c, k);
    return sum / nl_search_score_count(s);
}

typedef struct {
    long id;
    int front;
    double mean;
} ranked;

static int by_rank(const void *x, const void *y)
{
    const ranked *a = x, *b = y;
    if (a->front != b->front)
        return a->front < b->front ? -1 : 1;
    if (a->mean != b->mean)
        return a->mean > b->mean ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int nl_search_fronts(const nl_search_spec *s, const nl_search_result *r, const long *ids, int n, int *front)
{
    /* fronts by peeling: front f is the non-dominated among those left
     * after fronts 0 .. f-1 (n is a generation's passed few, or a
     * record's passed candidates for the report: n^2 K is cheap) */
    for (int i = 0; i < n; i++)
        front[i] = -1;
    int placed = 0, f = 0;
    for (; placed < n; f++) {
        int in_front = 0;
        for (int i = 0; i < n; i++) {
            if (front[i] >= 0)
                continue;
            bool dominated = false;
            for (int j = 0; j < n && !dominated; j++)
                dominated = j != i && (front[j] < 0 || front[j] >= n) &&
                            dominates(s, &r->candidates[ids[j] - 1], &r->candidates[ids[i] - 1]);
            if (!dominated)
                front[i] = f + n, in_front++; /* marked, placed after the sweep */
        }
        for (int i = 0; i < n; i++)
            if (front[i] >= n)
                front[i] = f;
        placed += in_front;
    }
    return f;
}

int nl_search_rank_ids(const nl_search_spec *s, const nl_search_result *r, long *ids, int n, int max)
{
    ranked *all = malloc((size_t)(n ? n : 1) * sizeof *all);
    int *front = malloc((size_t)(n ? n : 1) * sizeof *front);
    if (!all || !front) {
        free(all), free(front);
        return 0;
    }
    nl_search_fronts(s, r, ids, n, front);
    for (int i = 0; i < n; i++)
        all[i] = (ranked){.id = ids[i], .front = front[i], .mean = mean_score(s, &r->candidates[ids[i] - 1])};
    free(front);
    qsort(all, (size_t)n, sizeof *all, by_rank);
    const int kept = n < max ? n : max;
    for (int i = 0; i < kept; i++)
        ids[i] = all[i].id;
    free(all);
    return kept;
}

int nl_search_best(const nl_search_spec *s, const nl_search_result *r, long *ids, int max)
{
    long *all = malloc((size_t)(r->n ? r->n : 1) * sizeof *all);
    int n = 0;
    for (long i = 0; all && i < r->n; i++)
        if (passed(&r->candidates[i]))
            all[n++] = r->candidates[i].id;
    n = all ? nl_search_rank_ids(s, r, all, n, max < n ? n : max) : 0;
    n = n < max ? n : max;
    for (int i = 0; i < n; i++)
        ids[i] = all[i];
    free(all);
    return n;
}

long nl_search_tournament(const nl_search_spec *s, const nl_search_result *r, const long *pool, int n_pool,
                          nl_rng *rng)
{
    long sample[64];
    const int t = s->tournament < n_pool ? s->tournament : n_pool;
    /* T distinct members of the pool: the first T of a partial shuffle */
    long *order = malloc((size_t)n_pool * sizeof *order);
    if (!order)
        return pool[0];
    memcpy(order, pool, (size_t)n_pool * sizeof *order);
    for (int i = 0; i < t; i++) {
        const int j = i + (int)nl_rng_below(rng, (uint32_t)(n_pool - i));
        const long tmp = order[i];
        order[i] = order[j], order[j] = tmp;
        sample[i] = order[i];
    }
    free(order);
    /* the non-dominated of the sample, in the order drawn; one drawn */
    long front[64];
    int n_front = 0;
    for (int i = 0; i < t; i++) {
        bool dominated = false;
        for (int j = 0; j < t && !dominated; j++)
            dominated = dominates(s, &r->candidates[sample[j] - 1], &r->candidates[sample[i] - 1]);
        if (!dominated)
            front[n_front++] = sample[i];
    }
    return front[nl_rng_below(rng, (uint32_t)n_front)];
}
