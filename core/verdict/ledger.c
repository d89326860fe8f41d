/* a claim's ledger: every look at it and its plan's verdict (verdict/ledger.h) */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/number.h"
#include "results/files.h"
#include "results/table.h"
#include "verdict/git.h"
#include "verdict/ledger.h"
#include "verdict/looks.h"
#include "verdict/plan.h"
#include "verdict/withdrawn.h"

#define LK_MAX 24

typedef struct {
    char name[256];
    double order;      /* the base's order; a withdrawn sweep just before its replacement */
    bool withdrawn;
    char commit[16];   /* withdrawn: the removing commit */
    nl_csv_table t;
} lk_look;

typedef struct {
    lk_look look[LK_MAX];
    int n;
} lk_looks;

static int lk_by_order(const void *a, const void *b)
{
    const double x = ((const lk_look *)a)->order, y = ((const lk_look *)b)->order;
    return x < y ? -1 : x > y;
}

static nl_code lk_add(lk_looks *L, const char *name, double order, const char *text, const char *commit,
                      nl_error *err)
{
    if (L->n == LK_MAX)
        return nl_fail(err, NL_ERR_DATA, "%s: more than %d looks", name, LK_MAX);
    lk_look *k = &L->look[L->n];
    memset(k, 0, sizeof *k);
    nl_copy_string(k->name, sizeof k->name, name);
    k->order = order;
    k->withdrawn = commit != NULL;
    nl_copy_string(k->commit, sizeof k->commit, commit ? commit : "");
    nl_code rc = nl_csv_table_parse(text, name, &k->t, err);
    if (rc == NL_OK)
        L->n++;
    return rc;
}

/* the sweeps beside sweep_dir of base `base` with a verdicts.csv */
static nl_code lk_find_present(const char *parent, const char *base, lk_looks *L, nl_error *err)
{
    DIR *d = opendir(parent);
    if (!d)
        return nl_fail(err, NL_ERR_USAGE, "%s: cannot list its sweeps", parent);
    nl_code rc = NL_OK;
    for (struct dirent *e; rc == NL_OK && (e = readdir(d));) {
        char b[256], path[PATH_MAX];
        const int order = nl_look_base(e->d_name, b, sizeof b);
        if (e->d_name[0] == '.' || strcmp(b, base))
            continue;
        snprintf(path, sizeof path, "%s/%s/%s", parent, e->d_name, NL_SWEEP_VERDICTS_FILE);
        char *text = NULL;
        nl_error ignored = {0};
        if (nl_read_file(path, &text, NULL, &ignored) != NL_OK)
            continue;
        rc = lk_add(L, e->d_name, order, text, NULL, err);
        free(text);
    }
    closedir(d);
    return rc;
}

/* ---- pilots declared before their runs (STATS.md "Looks") ----
 * A sweep that plan.pilots names is a pilot, not a look, only where the
 * history shows the declaration first: the first commit of the experiment
 * file whose plan for the claim names it is a strict ancestor of the first
 * commit that added the pilot's runs. Otherwise (declared with or after
 * its runs, the declaration or the runs never committed, no history to
 * read) it is counted as a look, and --looks says why. */

#define LK_GIT_MAX (4u << 20)

/* `git -C dir ARGS...`; NL_ERR_USAGE where git is not installed */
static nl_code lk_git(const char *dir, const char *const args[], nl_git_answer *ans, nl_error *err)
{
    const char *argv[NL_GIT_MAX_ARGS] = {"-C", dir};
    for (int i = 0; args[i] && i < NL_GIT_MAX_ARGS - 3; i++)
        argv[2 + i] = args[i];
    memset(ans, 0, sizeof *ans);
    nl_code rc = nl_git_run(argv, LK_GIT_MAX, false, ans, err);
    if (rc == NL_OK && ans->said.cut)
        ans->exited_ok = false;
    return rc;
}

/* the first line of git's answer (a hash) into out; false where none */
static bool lk_first_line(const nl_git_answer *a, char *out, size_t size)
{
    if (!a->exited_ok || !a->said.text || !a->said.text[0] || a->said.text[0] == '\n')
        return false;
    snprintf(out, size, "%.*s", (int)strcspn(a->said.text, "\n"), a->said.text);
    return true;
}

static bool lk_plan_names(const nl_claim_plan *plan, const char *name)
{
    for (int i = 0; i < plan->n_pilots; i++)
        if (!strcmp(plan->pilots[i], name))
            return true;
    return false;
}

/* the first commit at which set->path's plan for claim `id` names pilot; "" none */
static nl_code lk_declared_at(const nl_claim_set *set, const char *id, const char *pilot, char *commit, size_t size,
                              nl_error *err)
{
    commit[0] = '\0';
    char dir[PATH_MAX], file[PATH_MAX], object[PATH_MAX + 96];
    nl_copy_string(dir, sizeof dir, set->path);
    char *slash = strrchr(dir, '/');
    nl_copy_string(file, sizeof file, slash ? slash + 1 : dir);
    if (slash)
        slash == dir ? (void)(dir[1] = '\0') : (void)(*slash = '\0');
    else
        nl_copy_string(dir, sizeof dir, ".");
    const char *const log[] = {"log", "--format=%H", "--reverse", "--", file, NULL};
    nl_git_answer a;
    nl_code rc = lk_git(dir, log, &a, err);
    if (rc || !a.exited_ok) {
        free(a.said.text);
        return rc;
    }
    nl_claim_set *then = malloc(sizeof *then);
    if (!then) {
        free(a.said.text);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    for (char *h = a.said.text; rc == NL_OK && *h && !commit[0]; h += strcspn(h, "\n"), h += *h == '\n') {
        char hash[72];
        snprintf(hash, sizeof hash, "%.*s", (int)strcspn(h, "\n"), h);
        snprintf(object, sizeof object, "%s:./%s", hash, file);
        const char *const show[] = {"show", object, NULL};
        nl_git_answer v;
        if ((rc = lk_git(dir, show, &v, err)) == NL_OK && v.exited_ok) {
            nl_error ignored = {0}; /* a version that does not parse today declares nothing */
            if (nl_claims_parse(v.said.text, set->path, then, &ignored) == NL_OK)
                for (int i = 0; i < then->n; i++)
                    if (!strcmp(then->claims[i].id, id) && lk_plan_names(nl_claim_plan_of(then, &then->claims[i]), pilot))
                        nl_copy_string(commit, size, hash);
        }
        free(v.said.text);
    }
    free(then);
    free(a.said.text);
    return rc;
}

typedef struct {
    bool pilot;       /* declared before its runs: not a look */
    char why[400];
} lk_pilot;

/* whether pilot `name` (a sweep under parent) of claim c was declared before its runs */
static nl_code lk_pilot_check(const char *parent, const nl_claim_set *set, const nl_claim *c, const char *name,
                              lk_pilot *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    char declared[72] = "", runs[72] = "", pathspec[PATH_MAX + 64];
    snprintf(pathspec, sizeof pathspec, "%s/%s", name, NL_SWEEP_RUNS_DIR);
    const char *const first[] = {"log", "--no-renames", "--diff-filter=A", "--format=%H", "--reverse", "--",
                                 pathspec, NULL};
    nl_git_answer a;
    nl_code rc = lk_git(parent, first, &a, err);
    if (rc == NL_ERR_USAGE || (rc == NL_OK && !a.exited_ok)) {
        nl_error_clear(err);
        free(a.said.text);
        snprintf(out->why, sizeof out->why, "%.200s is not in a git checkout: nothing shows the declaration came "
                 "before the runs", parent);
        return NL_OK;
    }
    const bool have_runs = rc == NL_OK && lk_first_line(&a, runs, sizeof runs);
    free(a.said.text);
    if (rc == NL_OK)
        rc = lk_declared_at(set, c->id, name, declared, sizeof declared, err);
    if (rc)
        return rc;
    if (!declared[0]) {
        snprintf(out->why, sizeof out->why, "its declaration in %.200s is not committed: nothing shows it came "
                 "before the runs", set->path);
        return NL_OK;
    }
    if (!have_runs) {
        snprintf(out->why, sizeof out->why, "declared at %.12s, but its runs were never committed: nothing shows "
                 "the declaration came first", declared);
        return NL_OK;
    }
    bool older = false;
    if (strcmp(declared, runs)) {
        const char *const anc[] = {"merge-base", "--is-ancestor", declared, runs, NULL};
        if ((rc = lk_git(parent, anc, &a, err)))
            return rc;
        older = a.exited_ok;
        free(a.said.text);
    }
    out->pilot = older;
    snprintf(out->why, sizeof out->why, "declared at %.12s, %s its runs (first committed at %.12s)", declared,
             older ? "before" : !strcmp(declared, runs) ? "in the same commit as" : "not before", runs);
    return NL_OK;
}

/* whether parent/name is a directory */
static bool lk_is_dir(const char *parent, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", parent, name);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* the sweep directory's parent and name */
static void lk_split(const char *sweep_dir, char *parent, size_t psize, char *name, size_t nsize)
{
    nl_copy_string(parent, psize, sweep_dir);
    for (size_t len = strlen(parent); len > 1 && parent[len - 1] == '/';)
        parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    nl_copy_string(name, nsize, slash ? slash + 1 : parent);
    if (slash == parent)
        parent[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        nl_copy_string(parent, psize, ".");
}

nl_code nl_looks_check_pilots(const char *sweep_dir, const nl_claim_set *set, bool history, nl_error *err)
{
    char parent[PATH_MAX], name[256];
    lk_split(sweep_dir, parent, sizeof parent, name, sizeof name);
    nl_withdrawals w = {0};
    bool have_w = false;
    nl_code rc = NL_OK;
    for (int p = -1; rc == NL_OK && p < set->n; p++) {
        const nl_claim_plan *plan = p < 0 ? &set->plan : &set->claims[p].plan;
        for (int i = 0; rc == NL_OK && i < plan->n_pilots; i++) {
            const char *pilot = plan->pilots[i];
            if (lk_is_dir(parent, pilot))
                continue;
            if (history && !have_w) {
                rc = nl_withdrawals_find(parent, &w, err);
                if (rc == NL_ERR_USAGE) {
                    nl_error_clear(err);
                    rc = NL_OK;
                }
                have_w = true;
            }
            bool withdrawn = false;
            for (int k = 0; rc == NL_OK && k < w.n && !withdrawn; k++)
                withdrawn = !strcmp(w.w[k].sweep, pilot) && nl_withdrawal_runs(&w.w[k]) > 0;
            if (rc == NL_OK && !withdrawn)
                rc = nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: %s.pilots: '%s' names no sweep: no directory %s/%s%s",
                             set->path, plan->line, plan->column, p < 0 ? "plan" : "claims[].plan", pilot, parent,
                             pilot, history ? ", and no withdrawn sweep of that name in its history" : "");
        }
    }
    nl_withdrawals_free(&w);
    return rc;
}

/* the withdrawn sweeps of base `base` (none where parent is outside git) */
static nl_code lk_find_withdrawn(const char *parent, const char *base, lk_looks *L, nl_error *err)
{
    nl_withdrawals w;
    nl_code rc = nl_withdrawals_find(parent, &w, err);
    if (rc == NL_ERR_USAGE) {
        nl_error_clear(err);
        return NL_OK;
    }
    for (int i = 0; rc == NL_OK && i < w.n; i++) {
        char b[256];
        const int order = nl_look_base(w.w[i].sweep, b, sizeof b);
        char *text = NULL;
        if (nl_withdrawal_runs(&w.w[i]) <= 0 || strcmp(b, base))
            continue;
        if ((rc = nl_withdrawal_verdicts_csv(parent, &w.w[i], &text, err)) == NL_OK && text) {
            char commit[16];
            snprintf(commit, sizeof commit, "%.12s", w.w[i].commit);
            rc = lk_add(L, w.w[i].sweep, order - 0.5, text, commit, err);
        }
        free(text);
    }
    nl_withdrawals_free(&w);
    return rc;
}

/* sweep `name` under parent as a look at `order` (its verdicts.csv, or a
 * withdrawn sweep's from before its removal); nothing where it has none */
static nl_code lk_add_named(const char *parent, const char *name, double order, lk_looks *L, nl_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/%s", parent, name, NL_SWEEP_VERDICTS_FILE);
    char *text = NULL;
    nl_error ignored = {0};
    if (nl_read_file(path, &text, NULL, &ignored) == NL_OK) {
        nl_code rc = lk_add(L, name, order, text, NULL, err);
        free(text);
        return rc;
    }
    nl_withdrawals w;
    nl_code rc = nl_withdrawals_find(parent, &w, err);
    if (rc == NL_ERR_USAGE) {
        nl_error_clear(err);
        return NL_OK;
    }
    for (int i = 0; rc == NL_OK && i < w.n; i++) {
        if (strcmp(w.w[i].sweep, name) || nl_withdrawal_runs(&w.w[i]) <= 0)
            continue;
        if ((rc = nl_withdrawal_verdicts_csv(parent, &w.w[i], &text, err)) == NL_OK && text) {
            char commit[16];
            snprintf(commit, sizeof commit, "%.12s", w.w[i].commit);
            rc = lk_add(L, name, order, text, commit, err);
        }
        free(text);
        text = NULL;
        break;
    }
    nl_withdrawals_free(&w);
    return rc;
}

/* "seed:value ..." -> the value of `seed`; NaN when absent */
static double lk_value_of(const char *values, const char *seed)
{
    const size_t len = strlen(seed);
    for (const char *p = values; *p; p += strcspn(p, " "), p += strspn(p, " "))
        if (!strncmp(p, seed, len) && p[len] == ':')
            return strtod(p + len + 1, NULL);
    return NAN;
}

/* the per-seed effects of claim c's row `id` in look k into x (at most max); -1: no such row or no effect to pool */
static int lk_effects(const nl_claim *c, const lk_look *k, const char *id, double *x, int max)
{
    const nl_csv_table *t = &k->t;
    const int cc = nl_csv_table_col(t, "claim"), ca = nl_csv_table_col(t, "a_values"),
              cb = nl_csv_table_col(t, "b_values");
    if (cc < 0 || ca < 0 || cb < 0 || c->cells_op != NL_CELLS_NONE ||
        (c->effect != NL_EFFECT_DIFFERENCE && c->effect != NL_EFFECT_RATIO && c->effect != NL_EFFECT_VALUE))
        return -1;
    for (int r = 0; r < t->n_rows; r++) {
        if (strcmp(t->rows[r][cc], id))
            continue;
        int n = 0;
        const char *a = t->rows[r][ca];
        for (const char *p = a + strspn(a, " "); *p && n < max; p += strcspn(p, " "), p += strspn(p, " ")) {
            char seed[64];
            snprintf(seed, sizeof seed, "%.*s", (int)strcspn(p, ":"), p);
            const double va = strtod(p + strlen(seed) + 1, NULL);
            const double vb = c->effect == NL_EFFECT_VALUE ? 0 : lk_value_of(t->rows[r][cb], seed);
            const double e = c->effect == NL_EFFECT_RATIO ? va / vb : va - vb;
            if (isfinite(e))
                x[n++] = e;
        }
        return n;
    }
    return -1;
}

/* a look's verdicts.csv column `col` of claim `id` ("" none) */
static const char *lk_cell(const lk_look *k, const char *id, const char *col)
{
    const int cc = nl_csv_table_col(&k->t, "claim"), c = nl_csv_table_col(&k->t, col);
    for (int r = 0; cc >= 0 && c >= 0 && r < k->t.n_rows; r++)
        if (!strcmp(k->t.rows[r][cc], id))
            return k->t.rows[r][c];
    return "";
}

static void lk_look_name(const lk_look *k, char *buf, size_t size)
{
    if (k->withdrawn)
        snprintf(buf, size, "%s (withdrawn by %s)", k->name, k->commit);
    else
        snprintf(buf, size, "%s", k->name);
}

/* first-confirmation: the first pre-registered confirmation's verdict; the
 * looks before it are counted here, declared pilots being left out of L */
static void lk_first_confirmation(const nl_claim *c, const lk_looks *L, nl_buf *out)
{
    int decisive = -1;
    for (int i = 0; i < L->n && decisive < 0; i++)
        if (L->look[i].order >= 1 && !strncmp(lk_cell(&L->look[i], c->id, "registered"), "pre-registered", 14))
            decisive = i;
    for (int i = 0; i < L->n; i++) {
        char name[320];
        lk_look_name(&L->look[i], name, sizeof name);
        const char *v = lk_cell(&L->look[i], c->id, "verdict");
        nl_buf_printf(out, "    look %d: %s: %s%s\n", i + 1, name, v[0] ? v : "(no row)",
                      decisive < 0 || i < decisive ? " (before the decisive look, not a pilot declared before its runs)" : i == decisive ? " (decides)" : " (after the decision)");
    }
    if (decisive < 0)
        nl_buf_printf(out, "    plan's verdict: undecided (no pre-registered confirmation yet)\n");
    else
        nl_buf_printf(out, "    plan's verdict: %s at look %d\n", lk_cell(&L->look[decisive], c->id, "verdict"),
                      decisive + 1);
}

static nl_code lk_sequential(const nl_claim_set *set, const nl_claim *c, const nl_claim_plan *plan,
                             const lk_looks *L, double level, nl_buf *out, nl_error *err)
{
    static double x[LK_MAX][256];
    const double *xs[LK_MAX];
    int n[LK_MAX], m = 0;
    for (int i = 0; i < L->n; i++) {
        const int got = lk_effects(c, &L->look[i], c->id, x[m], 256);
        if (got < 0)
            continue;
        xs[m] = x[m];
        n[m++] = got;
    }
    if (m > plan->looks) {
        char names[1024] = "";
        for (int i = 0; i < L->n; i++) {
            char name[320];
            lk_look_name(&L->look[i], name, sizeof name);
            const size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", name);
        }
        return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: %s.looks: claim %s has %d looks (%s), more than the plan's %d: "
                       "a look beyond K is not in the plan, whose alpha says nothing about it",
                       set->path, plan->line, plan->column, plan == &set->plan ? "plan" : "claims[].plan", c->id, m,
                       names, plan->looks);
    }
    if (m == 0) {
        nl_buf_printf(out, "    no look has per-seed effects to pool (a rate, an expression or a claim over cells)\n");
        return NL_OK;
    }
    nl_plan_result r;
    const int planned = set->power.seeds ? set->power.seeds * plan->looks : 0;
    nl_code rc = nl_plan_sequential(plan, 1 - level, xs, n, m, c->threshold, c->op == NL_EXPECT_GREATER, planned, &r, err);
    if (rc)
        return rc;
    for (int i = 0, k = 0; i < L->n; i++) {
        if (lk_effects(c, &L->look[i], c->id, x[k], 256) < 0)
            continue;
        char name[320];
        lk_look_name(&L->look[i], name, sizeof name);
        const nl_plan_look *l = &r.look[k++];
        nl_buf_printf(out, "    look %d: %s: n %d (%d pooled), t_m %.3g, z %.3f, boundary +-%.3f%s\n", k, name,
                      l->n_new, l->n, l->fraction, l->z, l->boundary,
                      k == r.decided_at && r.outcome <= NL_PLAN_FAILS ? " (crossed: stop)" : "");
    }
    nl_buf_printf(out, "    plan's verdict: %s at look %d of %d\n", nl_plan_outcome_names[r.outcome], r.decided_at,
                  plan->looks);
    return NL_OK;
}

nl_code nl_looks_report(const char *sweep_dir, const nl_claim_set *set, double level, nl_buf *out, nl_error *err)
{
    char parent[PATH_MAX], name[256], base[256];
    nl_copy_string(parent, sizeof parent, sweep_dir);
    for (size_t len = strlen(parent); len > 1 && parent[len - 1] == '/';)
        parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    nl_copy_string(name, sizeof name, slash ? slash + 1 : parent);
    if (slash)
        *slash = '\0';
    else
        nl_copy_string(parent, sizeof parent, ".");
    nl_look_base(name, base, sizeof base);
    static lk_looks all;
    all.n = 0;
    nl_code rc = lk_find_present(parent, base, &all, err);
    if (rc == NL_OK)
        rc = lk_find_withdrawn(parent, base, &all, err);
    qsort(all.look, (size_t)all.n, sizeof all.look[0], lk_by_order);
    static lk_looks extra; /* refused pilots that are not of this base: counted as looks too */
    extra.n = 0;
    for (int i = 0; rc == NL_OK && i < set->n; i++) {
        const nl_claim *c = &set->claims[i];
        const nl_claim_plan *plan = nl_claim_plan_of(set, c);
        if (plan->kind == NL_PLAN_NONE)
            continue;
        nl_buf_printf(out, "looks of %s (%s%s%s):\n", c->id, nl_plan_kind_names[plan->kind],
                      plan->kind == NL_PLAN_GROUP_SEQUENTIAL ? ", " : "",
                      plan->kind == NL_PLAN_GROUP_SEQUENTIAL ? plan->spending : "");
        /* each declared pilot judged by the history: a pilot only if declared before its runs */
        bool pilot[NL_PLAN_MAX_PILOTS] = {0};
        int first_extra = extra.n;
        for (int p = 0; rc == NL_OK && p < plan->n_pilots; p++) {
            lk_pilot st;
            if ((rc = lk_pilot_check(parent, set, c, plan->pilots[p], &st, err)))
                break;
            pilot[p] = st.pilot;
            nl_buf_printf(out, "    pilot %s: %s: %s\n", plan->pilots[p], st.why,
                          st.pilot ? "a pilot, not a look" : "not a pilot, counted as a look");
            bool listed = false;
            for (int k = 0; k < all.n && !listed; k++)
                listed = !strcmp(all.look[k].name, plan->pilots[p]);
            if (!st.pilot && !listed) /* another base's sweep: a look before the original */
                rc = lk_add_named(parent, plan->pilots[p], -1 + 0.01 * p, &extra, err);
        }
        if (rc)
            break;
        static lk_looks L; /* the looks this claim's plan counts: its pilots left out */
        L.n = 0;
        for (int k = first_extra; k < extra.n && L.n < LK_MAX; k++)
            L.look[L.n++] = extra.look[k];
        for (int k = 0; k < all.n && L.n < LK_MAX; k++) {
            bool is_pilot = false;
            for (int p = 0; p < plan->n_pilots; p++)
                is_pilot |= pilot[p] && !strcmp(plan->pilots[p], all.look[k].name);
            if (!is_pilot)
                L.look[L.n++] = all.look[k];
        }
        qsort(L.look, (size_t)L.n, sizeof L.look[0], lk_by_order);
        if (plan->kind == NL_PLAN_FIRST_CONFIRMATION)
            lk_first_confirmation(c, &L, out);
        else
            rc = lk_sequential(set, c, plan, &L, level, out, err);
    }
    for (int k = 0; k < all.n; k++)
        nl_csv_table_free(&all.look[k].t);
    for (int k = 0; k < extra.n; k++)
        nl_csv_table_free(&extra.look[k].t);
    return rc;
}
