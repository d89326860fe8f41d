/* The search's loop (search.h): candidates made one at a time, in id
 * order, each decided before the next is made. The start formulas are
 * generation 0; every later generation has `population` children, each a
 * mutation (a row of nl_formula_mutations, drawn) of a parent drawn by a
 * tournament of two from the pool: the best `population` candidates of the
 * earlier generations that passed the hurdle (the start formulas while
 * none has). Every draw comes from one generator seeded by the file's
 * seed, and the draws never depend on time or on anything but the
 * outcomes recorded in candidates.csv, so a search that goes on from the
 * file makes the candidates the uninterrupted one made. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/halving.h"
#include "norm/formula_edit.h"
#include "results/files.h"
#include "search/internal.h"

const nl_search_stage_row nl_search_stages[NL_STAGE_COUNT] = {
    [NL_STAGE_DUPLICATE] = {"duplicate", "its canonical form is an earlier candidate's"},
    [NL_STAGE_PLAN] = {"plan", "the base or one of rank.models does not plan with it (a shape, an "
                               "axis, a set too small to normalize)"},
    [NL_STAGE_NUMERICS] = {"numerics", "the probe found a value that is not finite or a "
                                       "gradient past its bound"},
    [NL_STAGE_DEGENERATE] = {"degenerate", "a degeneracy check (reject:) found it no normalizer "
                                           "however it trains"},
    [NL_STAGE_EQUIVALENT] = {"equivalent", "its outputs and gradients on the probe's tensors "
                                           "are an earlier candidate's"},
    [NL_STAGE_HURDLE] = {"hurdle", "its short training run crashed, hung, diverged or stayed "
                                   "under the accuracy floor"},
    [NL_STAGE_RANK] = {"rank", "its training run on one of rank.models crashed, hung or diverged"},
    [NL_STAGE_PASSED] = {"passed", "it passed the hurdle and was trained on every rank.models"},
};

/* the draws a child may take before the search gives up on the pool */
#define CHILD_TRIES 64
/* the most edits of the funnel's random formulas */
#define RANDOM_EDITS 4

/* hashes as the record writes them (16 hex digits, compared as text: a
 * digest is no number to read back), each with the first candidate that
 * had it (open addressing) */
typedef struct {
    char (*keys)[17];
    long *ids;
    size_t cap;
} hash_set;

static uint64_t text_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static size_t set_slot(const hash_set *h, const char *key)
{
    size_t i = text_hash(key) % h->cap;
    while (h->ids[i] && strcmp(h->keys[i], key))
        i = (i + 1) % h->cap;
    return i;
}

static long set_find(const hash_set *h, const char *key)
{
    return h->ids[set_slot(h, key)];
}

static void set_add(hash_set *h, const char *key, long id)
{
    const size_t i = set_slot(h, key);
    if (!h->ids[i]) {
        snprintf(h->keys[i], sizeof h->keys[i], "%s", key);
        h->ids[i] = id;
    }
}

typedef struct {
    const nl_search_spec *s;
    const nl_search_options *opt;
    nl_search_result *r;
    nl_search_probe probe;
    nl_config *cfg;
    nl_rng rng;
    nl_formula_mutate_options mopt;
    hash_set canonical, behaviour;
    nl_csv csv;
    nl_search_candidate *recorded;
    long n_recorded;
    /* the candidates a killed search was deciding, whose runs it may have
     * left (one, or with rank.rungs the generation it was halving); 0: none */
    long leftover_first, leftover_last;
    int lock_fd;      /* OUT/.lock, held while the search runs; -1: none */
    /* the candidates this search decides: the budget, or fewer where the
     * target is reached (with rank.rungs, at the end of a generation) */
    long budget;
    bool have_reference; /* target: the reference's accuracies in r */
    long *pool, *all; /* all: room for every candidate's id */
    int n_pool, pool_generation;
} search;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* this thread's CPU time: a candidate's own cost, which the wall clock of
 * a machine shared with other work overstates whenever it is preempted */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* this process's CPU time and its finished runs' (the hurdle, ranking
 * and reference runs are its children) */
static double search_cpu_s(void)
{
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    const struct timeval t[4] = {self.ru_utime, self.ru_stime, children.ru_utime, children.ru_stime};
    double sum = 0;
    for (int i = 0; i < 4; i++)
        sum += (double)t[i].tv_sec + 1e-6 * (double)t[i].tv_usec;
    return sum;
}

/* successive halving over each generation (rank.rungs); never in the funnel */
static bool halving(const search *S)
{
    return S->s->n_rungs > 0 && !S->opt->funnel;
}

/* the first and the last id of candidate id's generation: the start
 * formulas, or `population` children (the last cut short by the budget) */
static long generation_first(const search *S, long id)
{
    const long n_start = S->s->n_start, pop = S->s->population;
    return id <= n_start ? 1 : n_start + (id - n_start - 1) / pop * pop + 1;
}

static long generation_last(const search *S, long id, long budget)
{
    const long n_start = S->s->n_start, pop = S->s->population;
    const long last = id <= n_start ? n_start : generation_first(S, id) + pop - 1;
    return last < budget ? last : budget;
}

static bool leftover(const search *S, long id)
{
    return S->leftover_first && id >= S->leftover_first && id <= S->leftover_last;
}

/* the parents generation g draws from: the best `population` of the
 * passed candidates before it (nl_search_best's order), else the start
 * formulas */
static void make_pool(search *S, int g)
{
    int earlier = 0;
    for (long i = 0; i < S->r->n; i++)
        if (S->r->candidates[i].stage == NL_STAGE_PASSED && S->r->candidates[i].generation < g)
            S->all[earlier++] = S->r->candidates[i].id;
    const int kept = nl_search_rank_ids(S->s, S->r, S->all, earlier, S->s->population);
    memcpy(S->pool, S->all, (size_t)kept * sizeof *S->pool);
    S->n_pool = kept;
    for (int i = 0; S->n_pool == 0 && i < S->s->n_start; i++)
        S->pool[i] = i + 1;
    if (S->n_pool == 0)
        S->n_pool = S->s->n_start;
    S->pool_generation = g;
}

static long tournament(search *S)
{
    return nl_search_tournament(S->s, S->r, S->pool, S->n_pool, &S->rng);
}

static nl_formula *parsed(const nl_search_candidate *c)
{
    nl_formula *f = NULL;
    nl_error err = {0};
    return nl_formula_parse(c->expr, c->params, &f, &err) == NL_OK ? f : NULL;
}

/* one draw of a child: its parents and mutation into c, its text printed
 * from the mutant's tree; false when the mutation found no site */
static bool try_child(search *S, nl_search_candidate *c, nl_error *err)
{
    const long a = tournament(S), b = tournament(S);
    const int m = (int)nl_rng_below(&S->rng, (uint32_t)nl_formula_mutation_count);
    const bool two = nl_formula_mutations[m].two_parents;
    nl_formula *fa = parsed(&S->r->candidates[a - 1]), *fb = two ? parsed(&S->r->candidates[b - 1]) : NULL;
    nl_formula *child = NULL;
    nl_error merr = {0};
    bool made = fa && (!two || fb) &&
                nl_formula_mutate(m, fa, fb, &S->rng, &S->mopt, &child, &merr) == NL_OK;
    if (made && nl_formula_print(child, c->expr, sizeof c->expr, c->params, sizeof c->params, err))
        made = false;
    c->parents[0] = a;
    c->parents[1] = two ? b : 0;
    c->mutation = m;
    nl_formula_free(fa);
    nl_formula_free(fb);
    nl_formula_free(child);
    return made;
}

/* candidate id (after the start formulas): generation, parents, text */
static nl_code make_child(search *S, long id, nl_search_candidate *c, nl_error *err)
{
    const int g = 1 + (int)((id - S->s->n_start - 1) / S->s->population);
    if (g != S->pool_generation)
        make_pool(S, g);
    c->generation = g;
    for (int tries = 0; tries < CHILD_TRIES; tries++)
        if (try_child(S, c, err))
            return NL_OK;
    return nl_fail(err, NL_ERR_RUNTIME, "candidate %ld: no mutation of the pool's formulas gave a "
                   "formula within the limits in %d draws", id, CHILD_TRIES);
}

/* one line a row: a message's line breaks as spaces */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

static void set_reason(nl_search_candidate *c, nl_search_stage stage, const char *text)
{
    c->stage = stage;
    nl_copy_string(c->reason, sizeof c->reason, text);
    one_line(c->reason);
}

/* the canonical form's hash into c; false (c rejected) when it is not new */
static bool new_form(search *S, nl_search_candidate *c, const nl_formula *f)
{
    char canonical[4 * NL_FORMULA_MAX_TEXT], reason[128];
    nl_error e = {0};
    if (nl_formula_canonical(f, canonical, sizeof canonical, &e)) {
        set_reason(c, NL_STAGE_PLAN, e.msg);
        return false;
    }
    snprintf(c->canonical, sizeof c->canonical, "%016llx", (unsigned long long)text_hash(canonical));
    const long seen = set_find(&S->canonical, c->canonical);
    if (seen) {
        snprintf(reason, sizeof reason, "the canonical form of candidate %ld", seen);
        set_reason(c, NL_STAGE_DUPLICATE, reason);
        return false;
    }
    set_add(&S->canonical, c->canonical, c->id);
    return true;
}

/* the probe (numerics, then the degeneracy checks) and the behaviour's
 * hash; false (c rejected) unless all pass and the behaviour is new */
static bool new_behaviour(search *S, nl_search_candidate *c, const nl_formula *f, nl_error *err)
{
    char reason[512];
    nl_search_stage stage;
    const double t0 = now_s();
    const nl_code rc = nl_search_probe_run(&S->probe, f, S->s->checks, &stage, reason, sizeof reason,
                                           c->behaviour, err);
    S->r->stage_s[NL_STAGE_NUMERICS] += now_s() - t0;
    S->r->stage_entered[NL_STAGE_NUMERICS]++;
    S->r->stage_entered[NL_STAGE_DEGENERATE] += stage != NL_STAGE_NUMERICS;
    if (rc || stage != NL_STAGE_PASSED) {
        set_reason(c, stage, reason);
        return false;
    }
    S->r->stage_entered[NL_STAGE_EQUIVALENT]++;
    const long same = set_find(&S->behaviour, c->behaviour);
    if (same) {
        snprintf(reason, sizeof reason, "the outputs and gradients of candidate %ld on the probe's "
                 "tensors", same);
        set_reason(c, NL_STAGE_EQUIVALENT, reason);
        return false;
    }
    set_add(&S->behaviour, c->behaviour, c->id);
    return true;
}

/* the base and every rank.models plan with it; false (c rejected) when
 * one does not, naming it. S->cfg is left the base's. */
static bool plans(search *S, nl_search_candidate *c)
{
    char reason[600];
    nl_error e = {0};
    const double t0 = now_s();
    S->r->stage_entered[NL_STAGE_PLAN]++;
    bool ok = true;
    for (int m = 0; ok && m < S->s->n_models; m++)
        if (nl_search_load_on(S->s, &S->s->models[m], c->expr, c->params, S->cfg, &e)) {
            snprintf(reason, sizeof reason, "%s: %.500s", S->s->models[m].label, e.msg);
            set_reason(c, NL_STAGE_PLAN, reason);
            ok = false;
        }
    if (ok && nl_search_load_config(S->s, c->expr, c->params, S->cfg, &e)) {
        set_reason(c, NL_STAGE_PLAN, e.msg);
        ok = false;
    }
    S->r->stage_s[NL_STAGE_PLAN] += now_s() - t0;
    return ok;
}

/* the stages before the hurdle, cheapest first; true when c got through */
static bool cheap_stages(search *S, nl_search_candidate *c, nl_error *err)
{
    const double t0 = now_s();
    S->r->stage_entered[NL_STAGE_DUPLICATE]++;
    nl_formula *f = parsed(c);
    bool through = false;
    if (!f)
        set_reason(c, NL_STAGE_PLAN, "the printed formula does not parse");
    const bool fresh = f && new_form(S, c, f);
    S->r->stage_s[NL_STAGE_DUPLICATE] += now_s() - t0;
    if (fresh && plans(S, c))
        through = new_behaviour(S, c, f, err);
    nl_formula_free(f);
    return through;
}

/* each rank.models run of c, which passed the hurdle (steps > 0: a
 * rung's, that many steps); c->stage passed with its scores, or rank at
 * the first model whose run failed */
static nl_code rank(search *S, nl_search_candidate *c, long steps, nl_error *err)
{
    for (int m = 0; m < S->s->n_models && c->stage == NL_STAGE_PASSED; m++) {
        nl_error e = {0};
        if (nl_search_load_on(S->s, &S->s->models[m], c->expr, c->params, S->cfg, &e) ||
            nl_search_rank_config(c->id, m, steps, S->cfg, &e)) {
            c->stage = NL_STAGE_RANK;
            snprintf(c->reason, sizeof c->reason, "%s: %.400s", S->s->models[m].label, e.msg);
            break;
        }
        const nl_code rc = nl_search_rank(S->s, S->opt, m, S->cfg, c, leftover(S, c->id), err);
        if (rc)
            return rc;
    }
    return NL_OK;
}

static int by_id(const void *x, const void *y)
{
    const long a = *(const long *)x, b = *(const long *)y;
    return (a > b) - (a < b);
}

/* Successive halving over the candidates first..last (a generation) that
 * passed the hurdle: each trained on every model at rung 0's steps; of the
 * m that passed every run, the best nl_halving_keep(m, eta) by the Pareto
 * order go on to the next rung, and so on to the last; each candidate's
 * rung and scores at each rung recorded in it. The runs go in id order,
 * so that a search started again runs them as the uninterrupted one did. */
static nl_code halve(search *S, long first, long last, nl_error *err)
{
    nl_search_candidate *all = S->r->candidates;
    long *set = malloc((size_t)(last - first + 1) * sizeof *set);
    if (!set)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    int m = 0;
    for (long id = first; id <= last; id++)
        if (all[id - 1].stage == NL_STAGE_PASSED)
            set[m++] = id;
    nl_code rc = NL_OK;
    for (int r = 0; !rc && r < S->s->n_rungs && m > 0; r++) {
        int kept = 0;
        for (int i = 0; !rc && i < m; i++) {
            nl_search_candidate *c = &all[set[i] - 1];
            c->rung = r;
            c->rung_steps[r] = S->s->rung_steps[r];
            rc = rank(S, c, S->s->rung_steps[r], err);
            memcpy(c->rung_scores[r], c->scores, sizeof c->scores);
            if (c->stage == NL_STAGE_PASSED)
                set[kept++] = set[i];
        }
        if (rc || r + 1 == S->s->n_rungs)
            break;
        m = nl_search_rank_ids(S->s, S->r, set, kept, nl_halving_keep(kept, S->s->eta));
        qsort(set, (size_t)m, sizeof *set, by_id);
    }
    free(set);
    return rc;
}

/* c decided: the cheap stages, then the hurdle and the ranking runs (the
 * funnel stops before the hurdle: c left at stage hurdle, not run) */
static nl_code decide(search *S, nl_search_candidate *c, nl_error *err)
{
    const double t0 = now_s(), cpu0 = cpu_s();
    const bool through = cheap_stages(S, c, err);
    if (err->code)
        return err->code;
    const double took = now_s() - t0;
    S->r->cheap_s += took;
    const double cpu = cpu_s() - cpu0;
    S->r->cheap_max_s = took > S->r->cheap_max_s ? took : S->r->cheap_max_s;
    S->r->cheap_max_cpu_s = cpu > S->r->cheap_max_cpu_s ? cpu : S->r->cheap_max_cpu_s;
    S->r->cheap_decided++;
    if (!through)
        return NL_OK;
    if (S->opt->funnel) {
        set_reason(c, NL_STAGE_HURDLE, "through the stages before the hurdle (the funnel runs no hurdle)");
        return NL_OK;
    }
    nl_error e = {0};
    if (nl_search_hurdle_config(S->s, c->id, S->cfg, &e)) {
        set_reason(c, NL_STAGE_HURDLE, e.msg);
        return NL_OK;
    }
    const double t1 = now_s();
    nl_code rc = nl_search_hurdle(S->s, S->opt, S->cfg, c, leftover(S, c->id), err);
    S->r->hurdle_s += now_s() - t1;
    S->r->hurdle_runs++;
    if (!rc && !halving(S))
        rc = rank(S, c, 0, err); /* with rungs: once its generation is decided (halve) */
    one_line(c->reason);
    return rc;
}

/* A funnel's random formula: a start formula drawn, edited by 1 to
 * RANDOM_EDITS mutations drawn one after another (a crossover's second
 * parent another start formula drawn), as EvoNorm's search starts from
 * random layers; parents[0] the start formula, mutation the last edit */
static nl_code make_random(search *S, nl_search_candidate *c, nl_error *err)
{
    const uint32_t n_start = (uint32_t)S->s->n_start;
    c->parents[0] = 1 + (long)nl_rng_below(&S->rng, n_start);
    nl_search_candidate start = {0}; /* a candidate's room for a start formula's text */
    snprintf(start.expr, sizeof start.expr, "%s", S->s->start[c->parents[0] - 1].expr);
    snprintf(start.params, sizeof start.params, "%s", S->s->start[c->parents[0] - 1].params);
    nl_formula *f = parsed(&start);
    const int edits = 1 + (int)nl_rng_below(&S->rng, RANDOM_EDITS);
    for (int e = 0; f && e < edits; e++)
        for (int tries = 0; tries < CHILD_TRIES; tries++) {
            const int m = (int)nl_rng_below(&S->rng, (uint32_t)nl_formula_mutation_count);
            const nl_search_start *o = &S->s->start[nl_rng_below(&S->rng, n_start)];
            nl_formula *other = NULL, *child = NULL;
            nl_error ignored = {0};
            if (nl_formula_mutations[m].two_parents &&
                nl_formula_parse(o->expr, o->params, &other, &ignored) != NL_OK)
                continue;
            const nl_code rc = nl_formula_mutate(m, f, other, &S->rng, &S->mopt, &child, &ignored);
            nl_formula_free(other);
            if (rc == NL_OK) {
                nl_formula_free(f);
                f = child;
                c->mutation = m;
                break;
            }
        }
    nl_code rc = f ? nl_formula_print(f, c->expr, sizeof c->expr, c->params, sizeof c->params, err)
                   : nl_fail(err, NL_ERR_RUNTIME, "a start formula does not parse");
    nl_formula_free(f);
    return rc;
}

/* candidate id's text and lineage: a start formula, or a child (the
 * funnel's: a random formula) */
static nl_code make(search *S, long id, nl_search_candidate *c, nl_error *err)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    c->accuracy = NAN;
    c->rung = -1;
    for (int m = 0; m < NL_SEARCH_MAX_MODELS; m++) {
        c->scores[m] = NAN;
        for (int r = 0; r < NL_SEARCH_MAX_RUNGS; r++)
            c->rung_scores[r][m] = NAN;
    }
    if (S->opt->funnel)
        return make_random(S, c, err);
    if (id > S->s->n_start)
        return make_child(S, id, c, err);
    const nl_search_start *st = &S->s->start[id - 1];
    nl_formula *f = NULL;
    c->mutation = -1;
    /* the text printed from its tree, as every candidate's is */
    nl_code rc = nl_formula_parse(st->expr, st->params, &f, err);
    if (!rc)
        rc = nl_formula_print(f, c->expr, sizeof c->expr, c->params, sizeof c->params, err);
    nl_formula_free(f);
    return rc;
}

/* a recorded row in c's place: the same candidate, or the file is another search's */
static nl_code take_recorded(search *S, nl_search_candidate *c, nl_error *err)
{
    const nl_search_candidate *rec = &S->recorded[c->id - 1];
    if (strcmp(rec->expr, c->expr) || strcmp(rec->params, c->params) || rec->mutation != c->mutation ||
        rec->parents[0] != c->parents[0] || rec->parents[1] != c->parents[1] ||
        rec->generation != c->generation)
        return nl_fail(err, NL_ERR_DATA, "%s/candidates.csv was written by another search: its candidate "
                       "%ld is \"%s\", this search's is \"%s\" (another search file, seed or budget); give "
                       "another --out", S->opt->out_dir, c->id, rec->expr, c->expr);
    *c = *rec;
    if (c->canonical[0])
        set_add(&S->canonical, c->canonical, c->id);
    if (c->behaviour[0])
        set_add(&S->behaviour, c->behaviour, c->id);
    return NL_OK;
}

/* OUT's lock, held for the search: a second search on the same OUT would
 * append to the one record the first is writing */
static nl_code lock_out(search *S, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, S->opt->out_dir, NL_SWEEP_LOCK);
    nl_code rc = nl_open_write(path, O_RDWR | O_CREAT, &S->lock_fd, err);
    if (rc) {
        S->lock_fd = -1;
        return rc;
    }
    if (flock(S->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        close(S->lock_fd);
        S->lock_fd = -1;
        return nl_fail(err, NL_ERR_USAGE, "a normlab search is running in %s (it holds %s); nothing was written: "
                       "wait for it, or give another --out", S->opt->out_dir, path);
    }
    return NL_OK;
}

/* the candidates this process decides: the search's budget, or the funnel's */
static long budget_of(const search *S)
{
    return S->opt->funnel ? S->opt->funnel : nl_search_budget(S->s);
}

static nl_code open_search(search *S, nl_error *err)
{
    const nl_search_spec *s = S->s;
    const long budget = budget_of(S);
    char path[1100];
    S->budget = budget;
    nl_rng_seed(&S->rng, s->seed, NL_STREAM_SEARCH);
    S->canonical.cap = S->behaviour.cap = (size_t)budget * 2 + 1;
    S->canonical.keys = calloc(S->canonical.cap, sizeof *S->canonical.keys);
    S->canonical.ids = calloc(S->canonical.cap, sizeof(long));
    S->behaviour.keys = calloc(S->behaviour.cap, sizeof *S->behaviour.keys);
    S->behaviour.ids = calloc(S->behaviour.cap, sizeof(long));
    S->r->candidates = calloc((size_t)budget, sizeof *S->r->candidates);
    S->pool = calloc((size_t)(s->population > s->n_start ? s->population : s->n_start), sizeof *S->pool);
    S->all = calloc((size_t)budget, sizeof *S->all);
    S->cfg = malloc(sizeof *S->cfg);
    if (!S->canonical.keys || !S->canonical.ids || !S->behaviour.keys || !S->behaviour.ids ||
        !S->r->candidates || !S->pool || !S->all || !S->cfg)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for a search of %ld candidates", budget);
    nl_code rc = nl_search_load_config(s, s->start[0].expr, s->start[0].params, S->cfg, err);
    if (!rc)
        rc = nl_search_probe_open(S->cfg, &S->probe, err);
    S->mopt.axes = S->probe.axes;
    if (rc || S->opt->funnel)
        return rc; /* the funnel writes nothing */
    /* everything refused before the first write: a link anywhere in OUT,
     * a candidates.csv not a search's, a hurdle file this search did not
     * leave */
    rc = nl_tree_refuse_links(S->opt->out_dir, err);
    nl_path_join(path, sizeof path, S->opt->out_dir, "candidates.csv");
    off_t bytes = -1;
    if (!rc)
        rc = nl_search_records_read(path, &S->recorded, &S->n_recorded, &bytes, err);
    /* with rank.rungs a generation's rows are written together, once it
     * is halved: rows of a generation a killed search was writing are cut
     * off, and the generation decided again */
    if (!rc && bytes > 0 && halving(S) && S->n_recorded > 0) {
        const long whole = generation_first(S, S->n_recorded + 1) - 1;
        if (whole < S->n_recorded && !(rc = nl_search_records_bytes(path, whole, &bytes, err)))
            S->n_recorded = whole;
    }
    /* a target reached within the record: the search ends there (the
     * reference read back where a search wrote it; trained below if not) */
    if (!rc && s->target_norm[0])
        rc = nl_search_reference(s, S->opt, false, S->r, &S->have_reference, err);
    const long reached = S->have_reference ? nl_search_reaching(s, S->r->reference, S->recorded, 1, S->n_recorded) : 0;
    if (!rc && reached)
        S->budget = halving(S) ? generation_last(S, reached, budget) : reached;
    /* the candidates whose run files a killed search may have left: the one
     * it was deciding, or the generation it was halving */
    S->leftover_first = bytes >= 0 ? S->n_recorded + 1 : 0;
    S->leftover_last = !S->leftover_first ? 0 : halving(S) ? generation_last(S, S->leftover_first, S->budget)
                                                           : S->leftover_first;
    if (!rc)
        rc = nl_search_hurdle_check(S->opt->out_dir, S->leftover_last, err);
    /* held-out runs come after the last candidate: only a whole record's */
    char held[1100];
    nl_path_join(held, sizeof held, S->opt->out_dir, "holdout");
    if (!rc && S->n_recorded < S->budget && nl_path_exists(held))
        rc = nl_fail(err, NL_ERR_USAGE, "%s exists, but %s/candidates.csv does not record the whole search "
                     "that would have left it; nothing was written: give another --out, or move it", held,
                     S->opt->out_dir);
    if (!rc)
        rc = nl_make_dirs(S->opt->out_dir, err);
    if (!rc)
        rc = lock_out(S, err);
    if (!rc && s->target_norm[0] && !S->have_reference)
        rc = nl_search_reference(s, S->opt, true, S->r, &S->have_reference, err);
    if (!rc)
        rc = nl_search_records_open(path, bytes, &S->csv, err);
    return rc;
}

static void close_search(search *S)
{
    nl_error ignored = {0};
    if (S->csv.open)
        nl_csv_close(&S->csv, &ignored);
    nl_search_probe_close(&S->probe);
    free(S->canonical.keys), free(S->canonical.ids), free(S->behaviour.keys), free(S->behaviour.ids);
    free(S->pool), free(S->all), free(S->cfg), free(S->recorded);
    if (S->lock_fd >= 0)
        close(S->lock_fd);
}

/* candidates first..last decided: their rows written (not the funnel's,
 * nor those read back), counted and reported */
static nl_code settle(search *S, long first, long last, bool resumed, nl_error *err)
{
    for (long id = first; id <= last; id++) {
        const nl_search_candidate *c = &S->r->candidates[id - 1];
        const nl_code rc = resumed || S->opt->funnel ? NL_OK : nl_search_record(&S->csv, c, err);
        if (rc)
            return rc;
        S->r->resumed += resumed;
        S->r->stage_counts[c->stage]++;
        if (S->opt->on_candidate)
            S->opt->on_candidate(S->opt->ctx, c, resumed);
    }
    return NL_OK;
}

/* the target reached by a candidate of first..last (just settled): the
 * search ends after them, the CPU time until then kept */
static void check_target(search *S, long first, long last, bool resumed)
{
    const long id = nl_search_reaching(S->s, S->r->reference, S->r->candidates, first, last);
    if (!id || S->r->reached)
        return;
    S->r->reached = id;
    S->r->reached_gap = nl_search_target_gap(S->s, S->r->reference, &S->r->candidates[id - 1]);
    S->r->target_cpu_s = search_cpu_s();
    S->r->target_cpu_whole = !resumed && S->n_recorded == 0;
    S->budget = last;
}

nl_code nl_search_run(const nl_search_spec *s, const nl_search_options *opt, nl_search_result *r,
                      nl_error *err)
{
    memset(r, 0, sizeof *r);
    for (int k = 0; k < NL_SEARCH_MAX_MODELS; k++)
        r->reference[k] = NAN;
    search S = {.s = s, .opt = opt, .r = r, .pool_generation = -1, .lock_fd = -1};
    nl_code rc = open_search(&S, err);
    for (long id = 1; !rc && id <= S.budget; id++) {
        nl_search_candidate *c = &r->candidates[id - 1];
        if ((rc = make(&S, id, c, err)))
            break;
        const bool resumed = id <= S.n_recorded;
        rc = resumed ? take_recorded(&S, c, err) : decide(&S, c, err);
        if (rc)
            break;
        r->n = id;
        /* with rank.rungs, a generation's rows wait for its halving */
        if (resumed || !halving(&S)) {
            if (!(rc = settle(&S, id, id, resumed, err)) && !halving(&S))
                check_target(&S, id, id, resumed);
            else if (!rc && id == generation_last(&S, id, S.budget))
                check_target(&S, generation_first(&S, id), id, resumed);
        } else if (id == generation_last(&S, id, S.budget) &&
                   !(rc = halve(&S, generation_first(&S, id), id, err)) &&
                   !(rc = settle(&S, generation_first(&S, id), id, false, err))) {
            check_target(&S, generation_first(&S, id), id, false);
        }
    }
    if (!rc && !opt->funnel && s->target_norm[0]) {
        if (!r->reached) {
            r->target_cpu_s = search_cpu_s();
            r->target_cpu_whole = S.n_recorded == 0;
        }
        char path[1100];
        nl_path_join(path, sizeof path, opt->out_dir, "target.csv");
        /* a record read back whole keeps the file the search that decided it wrote */
        if (S.n_recorded < r->n || !nl_path_exists(path))
            rc = nl_search_target_write(s, opt, r, err);
    }
    /* a whole record read back: holdout runs there are a killed search's */
    if (!rc && !opt->funnel)
        rc = nl_search_conclude(s, opt, r, S.n_recorded >= r->n, err);
    close_search(&S);
    return rc;
}

void nl_search_result_free(nl_search_result *r)
{
    free(r->candidates);
    memset(r, 0, sizeof *r);
}
