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
#include "verdict/declared.h"
#include "verdict/ledger.h"
#include "verdict/looks.h"
#include "verdict/plan.h"
#include "verdict/registered.h"
#include "verdict/verdict.h"
#include "verdict/withdrawn.h"

#define LK_MAX 24

typedef struct {
    char name[256];
    double order;      /* the base's order; a withdrawn sweep just before its replacement */
    bool withdrawn;
    char commit[16];   /* withdrawn: the removing commit */
    nl_csv_table t;
    /* the claim at hand's plan against this look: declared before its first committed runs, and what --looks says */
    bool plan_before;
    char plan_why[96];
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

/* whether parent/name is a directory */
static bool lk_is_dir(const char *parent, const char *name)
{
    char path[PATH_MAX + 160];
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

static nl_code lk_withdrawals(lk_history *h, nl_error *err)
{
    if (h->have_w)
        return NL_OK;
    nl_code rc = nl_withdrawals_find(h->parent, &h->w, err);
    if (rc == NL_ERR_USAGE) {
        nl_error_clear(err);
        rc = NL_OK;
    }
    h->have_w = rc == NL_OK;
    return rc;
}

/* withdrawal x as look `name` at `order` (its verdicts.csv from before its removal) */
static nl_code lk_add_withdrawn(const char *parent, const nl_withdrawal *x, const char *name, double order,
                                lk_looks *L, nl_error *err)
{
    char *text = NULL, commit[16];
    nl_code rc = nl_withdrawal_verdicts_csv(parent, x, &text, err);
    snprintf(commit, sizeof commit, "%.12s", x->commit);
    if (rc == NL_OK && text)
        rc = lk_add(L, name, order, text, commit, err);
    free(text);
    return rc;
}

/* the withdrawn sweeps of base `base`, each just before the sweep that replaced it */
static nl_code lk_find_withdrawn(lk_history *h, const char *base, lk_looks *L, nl_error *err)
{
    nl_code rc = lk_withdrawals(h, err);
    for (int i = 0; rc == NL_OK && i < h->w.n; i++) {
        char b[256];
        const int order = nl_look_base(h->w.w[i].sweep, b, sizeof b);
        if (nl_withdrawal_runs(&h->w.w[i]) > 0 && !strcmp(b, base))
            rc = lk_add_withdrawn(h->parent, &h->w.w[i], h->w.w[i].sweep, order - 0.5, L, err);
    }
    return rc;
}

/* sweep `name` under parent as a look at `order` (its verdicts.csv, or a
 * withdrawn sweep's from before its removal); nothing where it has none */
static nl_code lk_add_named(lk_history *h, const char *name, double order, lk_looks *L, nl_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/%s", h->parent, name, NL_SWEEP_VERDICTS_FILE);
    char *text = NULL;
    nl_error ignored = {0};
    if (nl_read_file(path, &text, NULL, &ignored) == NL_OK) {
        nl_code rc = lk_add(L, name, order, text, NULL, err);
        free(text);
        return rc;
    }
    nl_code rc = lk_withdrawals(h, err);
    for (int i = 0; rc == NL_OK && i < h->w.n; i++)
        if (!strcmp(h->w.w[i].sweep, name) && nl_withdrawal_runs(&h->w.w[i]) > 0)
            return lk_add_withdrawn(h->parent, &h->w.w[i], name, order, L, err);
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

/* the registration of row `id` in look k, its kind only: "pre-registered",
 * "post hoc", "not checked", "unknown"; NULL where the look has no such row */
static const char *lk_registration(const lk_look *k, const char *id)
{
    static const char *const kinds[] = {"pre-registered", "post hoc", "not checked"};
    const char *v = lk_cell(k, id, "verdict"), *r = lk_cell(k, id, "registered");
    for (size_t i = 0; v[0] && i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strncmp(r, kinds[i], strlen(kinds[i])))
            return kinds[i];
    return v[0] ? "unknown" : NULL;
}

static void lk_look_name(const lk_look *k, char *buf, size_t size)
{
    if (k->withdrawn)
        snprintf(buf, size, "%s (withdrawn by %s)", k->name, k->commit);
    else
        snprintf(buf, size, "%s", k->name);
}

/* one verdicts.csv row of a claim under its plan: what --looks prints and
 * looks.csv holds */
typedef struct {
    const char *id;          /* the row: the claim's id, or id[cell] of a claim over cells */
    char looks[4096];        /* "NAME REGISTRATION: VERDICT; ...", in order */
    char decided_by[320];    /* the deciding look's name; "" none */
    char verdict[96];        /* the plan's */
    bool after_decisive;     /* a look decided, and the plan is not shown declared before its runs */
} lk_row;

/* look k of row r into r's list (`more`: what a plan adds, "" none) and its screen line into out */
static void lk_row_look(lk_row *r, const lk_look *k, int number, const char *more, const char *status, nl_buf *out)
{
    char name[320];
    lk_look_name(k, name, sizeof name);
    const char *reg = lk_registration(k, r->id), *v = lk_cell(k, r->id, "verdict");
    const size_t used = strlen(r->looks);
    if (reg)
        snprintf(r->looks + used, sizeof r->looks - used, "%s%s %s: %s%s", used ? "; " : "", name, reg, v, more);
    else
        snprintf(r->looks + used, sizeof r->looks - used, "%s%s: no row", used ? "; " : "", name);
    nl_buf_printf(out, "    look %d: %s: %s%s%s; %s\n", number, name, reg ? v : "(no row)", more, status, k->plan_why);
}

/* the decision at look k (1-based number), the plan's verdict `verdict` */
static void lk_row_decided(lk_row *r, const lk_look *k, const char *verdict)
{
    lk_look_name(k, r->decided_by, sizeof r->decided_by);
    nl_copy_string(r->verdict, sizeof r->verdict, verdict);
    r->after_decisive = !k->plan_before;
}

/* first-confirmation: the first pre-registered look decides, the original
 * included where its claim was committed before its runs (the claims
 * page's "first pre-registered look"); the looks before it are counted
 * here, declared pilots being left out of L */
static void lk_first_confirmation(const lk_looks *L, lk_row *r, nl_buf *out)
{
    int decisive = -1;
    for (int i = 0; i < L->n && decisive < 0; i++)
        if (lk_registration(&L->look[i], r->id) && !strcmp(lk_registration(&L->look[i], r->id), "pre-registered"))
            decisive = i;
    for (int i = 0; i < L->n; i++)
        lk_row_look(r, &L->look[i], i + 1, "",
                    decisive < 0 || i < decisive ? " (before the decisive look, not a pilot declared before its runs)"
                    : i == decisive ? " (decides)" : " (after the decision)", out);
    if (decisive < 0) {
        nl_copy_string(r->verdict, sizeof r->verdict, "undecided (no pre-registered look yet)");
        nl_buf_printf(out, "    plan's verdict: %s\n", r->verdict);
        return;
    }
    lk_row_decided(r, &L->look[decisive], lk_cell(&L->look[decisive], r->id, "verdict"));
    nl_buf_printf(out, "    plan's verdict: %s at look %d%s\n", r->verdict, decisive + 1,
                  r->after_decisive ? " (post hoc: the plan is not shown declared before this look)" : "");
}

/* claim c's plan: more looks than its K are refused naming them */
static nl_code lk_too_many(const nl_claim_set *set, const nl_claim *c, const nl_claim_plan *plan, const lk_looks *L,
                           int m, nl_error *err)
{
    char names[1024] = "";
    for (int i = 0; i < L->n; i++) {
        char name[320];
        lk_look_name(&L->look[i], name, sizeof name);
        const size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", name);
    }
    return nl_fail(err, NL_ERR_CONFIG, "%s:%d:%d: %s.looks: claim %s has %d looks (%s), more than the plan's %d: "
                   "a look beyond K is not in the plan, whose alpha says nothing about it",
                   set->path, plan->line, plan->column, plan == &set->plan ? "plan" : "claims[].plan", c->id, m, names,
                   plan->looks);
}

static nl_code lk_sequential(const nl_claim_set *set, const nl_claim *c, const nl_claim_plan *plan,
                             const lk_looks *L, double level, lk_row *row, nl_buf *out, nl_error *err)
{
    static double x[LK_MAX][256];
    const double *xs[LK_MAX];
    int n[LK_MAX], m = 0;
    for (int i = 0; i < L->n; i++) {
        const int got = lk_effects(c, &L->look[i], row->id, x[m], 256);
        if (got < 0)
            continue;
        xs[m] = x[m];
        n[m++] = got;
    }
    if (m > plan->looks)
        return lk_too_many(set, c, plan, L, m, err);
    if (m == 0) {
        nl_copy_string(row->verdict, sizeof row->verdict, "undecided (no per-seed effects to pool)");
        nl_buf_printf(out, "    no look has per-seed effects to pool (a rate, an expression or a claim over cells)\n");
        return NL_OK;
    }
    nl_plan_result r;
    const int planned = set->power.seeds ? set->power.seeds * plan->looks : 0;
    nl_code rc = nl_plan_sequential(plan, 1 - level, xs, n, m, c->threshold, c->op == NL_EXPECT_GREATER, planned, &r, err);
    if (rc)
        return rc;
    const bool crossed = r.outcome <= NL_PLAN_FAILS;
    for (int i = 0, k = 0; i < L->n; i++) {
        if (lk_effects(c, &L->look[i], row->id, x[k], 256) < 0)
            continue;
        const nl_plan_look *l = &r.look[k++];
        char more[160];
        snprintf(more, sizeof more, " (n %d, %d pooled, t_m %.3g, z %.3f, boundary +-%.3f)", l->n_new, l->n,
                 l->fraction, l->z, l->boundary);
        lk_row_look(row, &L->look[i], k, more, k == r.decided_at && crossed ? " (crossed: stop)" : "", out);
        if (k == r.decided_at && crossed)
            lk_row_decided(row, &L->look[i], nl_plan_outcome_names[r.outcome]);
    }
    if (!crossed)
        nl_copy_string(row->verdict, sizeof row->verdict, nl_plan_outcome_names[r.outcome]);
    nl_buf_printf(out, "    plan's verdict: %s at look %d of %d%s\n", nl_plan_outcome_names[r.outcome], r.decided_at,
                  plan->looks, row->after_decisive ? " (post hoc: the plan is not shown declared before this look)" : "");
    return NL_OK;
}

/* the plan as looks.csv and --looks name it */
static void lk_plan_text(const nl_claim_plan *plan, char *buf, size_t size)
{
    if (plan->kind == NL_PLAN_GROUP_SEQUENTIAL)
        snprintf(buf, size, "%s (%s, %d looks)", nl_plan_kind_names[plan->kind], plan->spending, plan->looks);
    else
        snprintf(buf, size, "%s", nl_plan_kind_names[plan->kind]);
}

/* the ledger being made: over one sweep's claims (--looks SWEEP) or a
 * directory of sweeps (looks.csv) */
typedef struct {
    lk_history h;
    char base[256];   /* the original's name of the sweep at hand */
    nl_buf *csv;      /* looks.csv's rows; NULL: the screen only */
    nl_buf done;      /* "\nBASE\tROW\n" per row in csv: a confirmation's file repeats its original's claims */
    int rows;
} lk_ledger;

static const char *const lk_columns[] = {"base", "claim", "experiment", "plan", "plan_declared", "looks",
                                         "decided_by", "verdict", "declared_after_decisive"};

/* row r of claim set `set`'s plan `kind` (declared at `declared`) into looks.csv, once per base and row */
static void lk_csv_row(lk_ledger *g, const nl_claim_set *set, const char *kind, const char *declared, const lk_row *r)
{
    char key[600];
    snprintf(key, sizeof key, "\n%s\t%s\n", g->base, r->id);
    if (!g->csv || (g->done.data && strstr(g->done.data, key)))
        return;
    nl_buf_printf(&g->done, "%s", key + (g->done.len ? 1 : 0));
    char short_commit[16];
    snprintf(short_commit, sizeof short_commit, "%.12s", declared);
    const char *const field[] = {g->base, r->id, set->path, kind, short_commit, r->looks, r->decided_by, r->verdict,
                                 r->after_decisive ? "true" : "false"};
    for (size_t i = 0; i < sizeof field / sizeof field[0]; i++) {
        nl_buf_printf(g->csv, "%s", i ? "," : "");
        nl_buf_csv_field(g->csv, field[i]);
    }
    nl_buf_printf(g->csv, "\n");
    g->rows++;
}

/* the looks claim c's plan counts into L: `all` and the pilots not
 * declared before their runs (another base's: added to `extra`), each
 * pilot's judgment into out */
static nl_code lk_claim_looks(lk_history *h, const nl_claim_set *set, const nl_claim *c, const lk_looks *all,
                              lk_looks *extra, lk_looks *L, nl_buf *out, nl_error *err)
{
    const nl_claim_plan *plan = nl_claim_plan_of(set, c);
    bool pilot[NL_PLAN_MAX_PILOTS] = {0};
    const int first_extra = extra->n;
    nl_code rc = NL_OK;
    for (int p = 0; rc == NL_OK && p < plan->n_pilots; p++) {
        lk_pilot st;
        if ((rc = lk_pilot_check(h, set, c, plan->pilots[p], &st, err)))
            break;
        pilot[p] = st.pilot;
        nl_buf_printf(out, "    pilot %s: %s: %s\n", plan->pilots[p], st.why,
                      st.pilot ? "a pilot, not a look" : "not a pilot, counted as a look");
        bool listed = false;
        for (int k = 0; k < all->n && !listed; k++)
            listed = !strcmp(all->look[k].name, plan->pilots[p]);
        if (!st.pilot && !listed) /* another base's sweep: a look before the original */
            rc = lk_add_named(h, plan->pilots[p], -1 + 0.01 * p, extra, err);
    }
    L->n = 0;
    for (int k = first_extra; k < extra->n && L->n < LK_MAX; k++)
        L->look[L->n++] = extra->look[k];
    for (int k = 0; k < all->n && L->n < LK_MAX; k++) {
        bool is_pilot = false;
        for (int p = 0; p < plan->n_pilots; p++)
            is_pilot |= pilot[p] && !strcmp(plan->pilots[p], all->look[k].name);
        if (!is_pilot)
            L->look[L->n++] = all->look[k];
    }
    qsort(L->look, (size_t)L->n, sizeof L->look[0], lk_by_order);
    return rc;
}

#define LK_MAX_ROWS 64

/* the rows of claim `id` in L's looks (id, or id[cell] of a claim over
 * cells) in order of first appearance; id itself where no look has one */
static int lk_row_ids(const lk_looks *L, const char *id, const char *ids[], int max)
{
    int n = 0;
    const size_t len = strlen(id);
    for (int i = 0; i < L->n; i++) {
        const nl_csv_table *t = &L->look[i].t;
        const int cc = nl_csv_table_col(t, "claim");
        for (int r = 0; cc >= 0 && r < t->n_rows && n < max; r++) {
            const char *row = t->rows[r][cc];
            bool skip = strncmp(row, id, len) || (row[len] && row[len] != '['); /* another claim's */
            for (int k = 0; k < n && !skip; k++)
                skip = !strcmp(ids[k], row);
            if (!skip)
                ids[n++] = row;
        }
    }
    if (n == 0)
        ids[n++] = id;
    return n;
}

/* claim c's ledger: its pilots, its looks each against its plan's
 * declaration, and per row the plan's verdict */
static nl_code lk_claim(lk_ledger *g, const nl_claim_set *set, const nl_claim *c, const char *declared,
                        const lk_looks *all, lk_looks *extra, double level, nl_buf *out, nl_error *err)
{
    static lk_looks L; /* the looks this claim's plan counts: its pilots left out */
    const nl_claim_plan *plan = nl_claim_plan_of(set, c);
    char kind[96];
    lk_plan_text(plan, kind, sizeof kind);
    nl_buf_printf(out, "looks of %s (%s; plan %s%.12s):\n", c->id, kind, declared[0] ? "declared at " : "not committed",
                  declared);
    nl_code rc = lk_claim_looks(&g->h, set, c, all, extra, &L, out, err);
    for (int i = 0; rc == NL_OK && i < L.n; i++)
        rc = lk_plan_against(&g->h, declared, L.look[i].name, &L.look[i].plan_before, L.look[i].plan_why,
                             sizeof L.look[i].plan_why, err);
    const char *ids[LK_MAX_ROWS];
    const int n = lk_row_ids(&L, c->id, ids, LK_MAX_ROWS);
    for (int i = 0; rc == NL_OK && i < n; i++) {
        static lk_row row;
        memset(&row, 0, sizeof row);
        row.id = ids[i];
        if (strcmp(ids[i], c->id))
            nl_buf_printf(out, "  %s:\n", ids[i]);
        if (plan->kind == NL_PLAN_FIRST_CONFIRMATION)
            lk_first_confirmation(&L, &row, out);
        else
            rc = lk_sequential(set, c, plan, &L, level, &row, out, err);
        if (rc == NL_OK)
            lk_csv_row(g, set, kind, declared, &row);
    }
    return rc;
}

/* the ledger of the claims of `set` (sweep `name`'s experiment) that have a plan */
static nl_code lk_ledger_sweep(lk_ledger *g, const char *name, const nl_claim_set *set, double level, nl_buf *out,
                               nl_error *err)
{
    static lk_looks all, extra; /* extra: refused pilots that are not of this base, counted as looks too */
    static lk_commit declared[NL_CLAIM_MAX]; /* each claim's plan's first commit */
    all.n = extra.n = 0;
    g->h.source = &set->source; /* where this set's looks keep their runs */
    nl_look_base(name, g->base, sizeof g->base);
    nl_code rc = lk_declared_at(set, lk_same_plan, NULL, declared, err);
    if (rc == NL_OK)
        rc = lk_find_present(g->h.parent, g->base, &all, err);
    if (rc == NL_OK)
        rc = lk_find_withdrawn(&g->h, g->base, &all, err);
    qsort(all.look, (size_t)all.n, sizeof all.look[0], lk_by_order);
    for (int i = 0; rc == NL_OK && i < set->n; i++)
        if (nl_claim_plan_of(set, &set->claims[i])->kind != NL_PLAN_NONE)
            rc = lk_claim(g, set, &set->claims[i], declared[i], &all, &extra, level, out, err);
    for (int k = 0; k < all.n; k++)
        nl_csv_table_free(&all.look[k].t);
    for (int k = 0; k < extra.n; k++)
        nl_csv_table_free(&extra.look[k].t);
    return rc;
}

nl_code nl_looks_report(const char *sweep_dir, const nl_claim_set *set, double level, nl_buf *out, nl_error *err)
{
    char parent[PATH_MAX], name[256];
    lk_split(sweep_dir, parent, sizeof parent, name, sizeof name);
    static lk_ledger g; /* its memo is large */
    memset(&g, 0, sizeof g);
    g.h.parent = parent;
    nl_code rc = lk_ledger_sweep(&g, name, set, level, out, err);
    nl_withdrawals_free(&g.h.w);
    return rc;
}

/* sweeps by their original's name, then their order among its looks */
static int lk_by_base(const void *a, const void *b)
{
    char x[256], y[256];
    const int ox = nl_look_base(a, x, sizeof x), oy = nl_look_base(b, y, sizeof y);
    const int by_base = strcmp(x, y);
    return by_base ? by_base : ox != oy ? (ox > oy) - (ox < oy) : strcmp(a, b);
}

/* a sweep under a directory of sweeps; name first, so lk_by_base orders these too */
typedef struct {
    char name[256];
    bool verdicts; /* it has a verdicts.csv: a look the ledger reads */
} lk_sweep;

/* the sweeps under results_dir, by base and order (malloc'd): each
 * subdirectory with a summary.csv or a verdicts.csv, the directories
 * `normlab verdict DIR` reads. Those without verdicts.csv are listed too:
 * their experiment files are held to the same refusals as the others'
 * (a sweep not yet judged is no excuse for a plan that names no sweep). */
static nl_code lk_sweeps(const char *results_dir, lk_sweep **sweeps, int *n, nl_error *err)
{
    *sweeps = NULL;
    *n = 0;
    DIR *d = opendir(results_dir);
    if (!d)
        return nl_fail(err, NL_ERR_USAGE, "%s: cannot list its sweeps", results_dir);
    int cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char summary[PATH_MAX], verdicts[PATH_MAX];
        snprintf(summary, sizeof summary, "%s/%s/%s", results_dir, e->d_name, NL_SWEEP_SUMMARY_FILE);
        snprintf(verdicts, sizeof verdicts, "%s/%s/%s", results_dir, e->d_name, NL_SWEEP_VERDICTS_FILE);
        const bool has_verdicts = nl_path_exists(verdicts);
        if (e->d_name[0] == '.' || strlen(e->d_name) >= 256 || !(has_verdicts || nl_path_exists(summary)))
            continue;
        if (*n == cap) {
            void *grown = realloc(*sweeps, (size_t)(cap = cap ? 2 * cap : 64) * sizeof **sweeps);
            if (!grown) {
                closedir(d);
                return nl_fail(err, NL_ERR_NOMEM, "out of memory");
            }
            *sweeps = grown;
        }
        nl_copy_string((*sweeps)[*n].name, 256, e->d_name);
        (*sweeps)[(*n)++].verdicts = has_verdicts;
    }
    closedir(d);
    if (*n)
        qsort(*sweeps, (size_t)*n, sizeof **sweeps, lk_by_base);
    return NL_OK;
}

/* Refused where no sweep under results_dir has a verdicts.csv: the ledger
 * is read from them, and without one it would be empty, not "no claim has
 * a plan". Names the sweeps and the command that writes them (a directory
 * of unjudged sweeps used to fall through to the one-sweep form, whose
 * refusal said no experiment file names the directory itself). */
static nl_code lk_need_verdicts(const char *results_dir, const lk_sweep *sweeps, int n, nl_error *err)
{
    char names[700] = "";
    int listed = 0;
    for (int i = 0; i < n; i++) {
        if (sweeps[i].verdicts)
            return NL_OK;
        if (listed < 3) {
            const size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, " %.200s/%s", results_dir, sweeps[i].name);
            listed++;
        }
    }
    return nl_fail(err, NL_ERR_USAGE, "%s: none of its %d sweep%s has a %s, which --looks reads each look's verdicts "
                   "and per-seed effects from; write them first with normlab verdict%s%s, then run normlab verdict "
                   "--looks %s again", results_dir, n, n == 1 ? "" : "s", NL_SWEEP_VERDICTS_FILE, names,
                   n > listed ? " ..." : "", results_dir);
}

nl_code nl_looks_check(const char *sweep_dir, const nl_claim_set *set, bool history, nl_error *err)
{
    if (history) { /* the registration's own refusal, so both forms say what verdict says */
        nl_registry *reg = NULL;
        nl_code rc = nl_registry_open(set, &reg, err);
        nl_registry_close(reg);
        if (rc)
            return rc;
    }
    return nl_looks_check_pilots(sweep_dir, set, history, err);
}

/* sweep `sw` of results_dir into g's ledger: its experiment file (none:
 * not a sweep of claims, skipped) refused as `normlab verdict SWEEP
 * --looks` refuses it, then its ledger where it has a verdicts.csv */
static nl_code lk_csv_sweep(lk_ledger *g, const char *results_dir, const lk_sweep *sw, const char *experiments_dir,
                            bool history, double level, nl_claim_set *set, nl_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", results_dir, sw->name);
    nl_code rc = nl_verdict_find_experiment(dir, experiments_dir, path, sizeof path, err);
    if (rc == NL_ERR_USAGE) { /* a directory no experiment names is not a sweep of claims */
        nl_error_clear(err);
        return NL_OK;
    }
    if (rc == NL_OK && (rc = nl_claims_load(path, set, err)) == NL_OK)
        rc = nl_looks_check(dir, set, history, err);
    if (rc == NL_OK && sw->verdicts) {
        nl_buf screen = {0};
        rc = lk_ledger_sweep(g, sw->name, set, level, &screen, err);
        nl_buf_free(&screen);
    }
    return rc;
}

nl_code nl_looks_csv(const char *results_dir, const char *experiments_dir, bool history, double level, nl_buf *csv,
                     int *rows, nl_error *err)
{
    lk_sweep *sweeps = NULL;
    int n = 0;
    *rows = 0;
    /* without it every sweep would be skipped as named by no experiment: an empty ledger, written as if true */
    if (!nl_is_dir(experiments_dir))
        return nl_fail(err, NL_ERR_USAGE, "%s/: no such directory; --looks %s reads each sweep's experiment file "
                       "from it (run normlab from the repository's top)", experiments_dir, results_dir);
    nl_code rc = lk_sweeps(results_dir, &sweeps, &n, err);
    if (rc == NL_OK)
        rc = lk_need_verdicts(results_dir, sweeps, n, err);
    nl_claim_set *set = rc ? NULL : malloc(sizeof *set);
    if (rc == NL_OK && !set)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < sizeof lk_columns / sizeof lk_columns[0]; c++)
        nl_buf_printf(csv, "%s%s", c ? "," : "", lk_columns[c]);
    nl_buf_printf(csv, "\n");
    static lk_ledger g; /* its memo is large */
    memset(&g, 0, sizeof g);
    g.h.parent = results_dir;
    g.csv = csv;
    for (int i = 0; rc == NL_OK && i < n; i++)
        rc = lk_csv_sweep(&g, results_dir, &sweeps[i], experiments_dir, history, level, set, err);
    *rows = g.rows;
    nl_buf_free(&g.done);
    nl_withdrawals_free(&g.h.w);
    free(set);
    free(sweeps);
    return rc;
}

bool nl_looks_is_results_dir(const char *dir)
{
    char path[PATH_MAX];
    lk_sweep *sweeps = NULL;
    int n = 0;
    nl_error ignored = {0};
    snprintf(path, sizeof path, "%s/%s", dir, NL_SWEEP_SUMMARY_FILE);
    if (nl_path_exists(path))
        return false;
    snprintf(path, sizeof path, "%s/%s", dir, NL_SWEEP_VERDICTS_FILE);
    if (nl_path_exists(path) || lk_sweeps(dir, &sweeps, &n, &ignored))
        return false;
    free(sweeps);
    return n > 0;
}
