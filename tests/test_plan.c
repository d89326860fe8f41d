/* A claim's plan (issue 81, STATS.md "Looks"): plan: parsed with its
 * refusals (exit 2 naming file:line and key, nothing written), and the
 * group-sequential verdict on per-seed effects whose numbers are worked
 * out by hand below. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "verdict/ledger.h"
#include "verdict/looks.h"
#include "verdict/plan.h"

#define CLAIM "  - {id: one, paper: \"p\", metric: final_test_error, a: {model.norm.type: batch}, " \
              "b: {model.norm.type: group}, expect: \"a > b\"%s}\n"

static nl_claim_set set; /* ~5 MB: not on the stack */

/* the claims file with `plan` at the top (NULL none) and `claim_plan` in the claim */
static nl_code parse(const char *plan, const char *claim_plan, nl_error *err)
{
    char text[1024], claim[512];
    snprintf(claim, sizeof claim, CLAIM, claim_plan ? claim_plan : "");
    snprintf(text, sizeof text, "name: t\n%s%s%sclaims:\n%s", plan ? "plan: " : "", plan ? plan : "",
             plan ? "\n" : "", claim);
    memset(err, 0, sizeof *err);
    return nl_claims_parse(text, "exp.yaml", &set, err);
}

#define ck_refused(plan, claim_plan, part)                                                                   \
    do {                                                                                                      \
        nl_error e_;                                                                                          \
        ck_assert_int_eq(parse(plan, claim_plan, &e_), NL_ERR_CONFIG);                                        \
        ck_assert_msg(strstr(e_.msg, part), "'%s' does not say '%s'", e_.msg, part);                         \
    } while (0)

START_TEST(test_plan_parsed)
{
    nl_error err;
    ck_assert_msg(parse("{kind: group-sequential, looks: 3}", NULL, &err) == NL_OK, "%s", err.msg);
    const nl_claim_plan *p = nl_claim_plan_of(&set, &set.claims[0]);
    ck_assert_int_eq(p->kind, NL_PLAN_GROUP_SEQUENTIAL);
    ck_assert_int_eq(p->looks, 3);
    ck_assert_str_eq(p->spending, "obrien-fleming"); /* the default */
    /* a claim's own plan overrides the file's */
    ck_assert_msg(parse("{kind: group-sequential, looks: 3}", ", plan: {kind: first-confirmation, pilots: [x-pilot]}",
                        &err) == NL_OK, "%s", err.msg);
    p = nl_claim_plan_of(&set, &set.claims[0]);
    ck_assert_int_eq(p->kind, NL_PLAN_FIRST_CONFIRMATION);
    ck_assert_int_eq(p->n_pilots, 1);
    ck_assert_str_eq(p->pilots[0], "x-pilot");
    ck_assert_msg(parse(NULL, ", plan: {kind: group-sequential, looks: 2, spending: pocock}", &err) == NL_OK, "%s",
                  err.msg);
    ck_assert_str_eq(nl_claim_plan_of(&set, &set.claims[0])->spending, "pocock");
    ck_assert_int_eq(set.plan.kind, NL_PLAN_NONE);
}
END_TEST

START_TEST(test_plan_refused)
{
    ck_refused("{kind: group-sequential, looks: 3, spending: haybittle}", NULL,
               "exp.yaml:2:52: plan.spending: unknown alpha-spending function 'haybittle'; accepted: obrien-fleming, pocock");
    ck_refused("{kind: group-sequential, looks: 0}", NULL, "exp.yaml:2:39: plan.looks: 0 is out of range");
    ck_refused("{kind: group-sequential, looks: 21}", NULL, "plan.looks: 21 is out of range");
    ck_refused("{kind: sequential, looks: 3}", NULL,
               "plan.kind: 'sequential' is not a plan; accepted: group-sequential, first-confirmation");
    ck_refused("{kind: group-sequential}", NULL, "plan: looks: is missing");
    ck_refused("{looks: 3}", NULL, "plan: kind: is missing");
    ck_refused("{kind: first-confirmation, looks: 2}", NULL, "a first-confirmation plan takes no looks");
    ck_refused("{kind: group-sequential, looks: 2, every: 1}", NULL, "every");
    ck_refused(NULL, ", plan: {kind: group-sequential, looks: 2, spending: nope}",
               "claims[0].plan.spending: unknown alpha-spending function 'nope'");
}
END_TEST

/* normlab verdict refuses a bad plan with exit 2, file:line and key, and writes nothing */
START_TEST(test_plan_refused_by_verdict)
{
    tu_tmp_make("plan");
    char text[1024], claim[512];
    snprintf(claim, sizeof claim, CLAIM, "");
    snprintf(text, sizeof text, "name: t\nplan: {kind: group-sequential, looks: 0}\nclaims:\n%s", claim);
    tu_tmp_write("exp.yaml", text);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir '%s/t'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(tu_normlab("verdict t --experiment exp.yaml --no-registration"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "exp.yaml:2:39: plan.looks: 0 is out of range"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s/t/verdicts.csv", tu_tmp);
    ck_assert_int_ne(access(cmd, F_OK), 0);
    tu_tmp_remove();
}
END_TEST

/* Worked by hand. Look 1: effects 0.9 1.1 1.3 0.7, threshold 0: mean 1,
 * sd sqrt(0.2 / 3), t = 1 / (sd / 2) = sqrt(60) = 7.746 at 3 degrees of
 * freedom; t_cdf by the closed form for 3 df (1/2 + (th + sin th cos th) /
 * pi, th = atan(t / sqrt 3)): one-sided p 0.0022374, z = 2.8426 < 3.7103,
 * O'Brien-Fleming's first of three (two-sided 0.05; Jennison & Turnbull
 * table 2.3's Lan-DeMets values 3.710, 2.511, 1.993): no crossing. Look
 * 2: 0.5 1.5 1.0, pooled with look 1 (7 seeds): mean 1, sum of squares
 * 0.2 + 0.5 = 0.7, sd sqrt(0.7 / 6), t = sqrt(7 * 6 / 0.7) = sqrt(60) at 6
 * df: p 0.00012163, z = 3.6693 >= 2.5114: holds at look 2. Look 2 alone
 * (not pooled) would be t = 1 / (0.5 / sqrt 3) = 3.4641 at 2 df, p
 * 0.037090, z = 1.7855 < 2.5114: undecided; a plan that forgot to pool
 * says so, and fails here. */
static const double look1[] = {0.9, 1.1, 1.3, 0.7}, look2[] = {0.5, 1.5, 1.0}, look3[] = {1.0, 1.2, 0.8};

START_TEST(test_obrien_fleming_three_looks)
{
    nl_claim_plan plan = {.kind = NL_PLAN_GROUP_SEQUENTIAL, .looks = 3, .spending = "obrien-fleming"};
    const double *x[] = {look1, look2, look3};
    const int n[] = {4, 3, 3};
    nl_plan_result r;
    nl_error err = {0};
    ck_assert_msg(nl_plan_sequential(&plan, 0.05, x, n, 1, 0, true, 0, &r, &err) == NL_OK, "%s", err.msg);
    ck_assert_double_eq_tol(r.look[0].t, sqrt(60), 1e-9);
    ck_assert_double_eq_tol(r.look[0].z, 2.842589, 1e-4);
    ck_assert_double_eq_tol(r.look[0].boundary, 3.7103, 2e-3);
    ck_assert_double_eq_tol(r.look[0].fraction, 1.0 / 3, 1e-12);
    ck_assert_int_eq(r.outcome, NL_PLAN_CONTINUE);
    ck_assert_msg(nl_plan_sequential(&plan, 0.05, x, n, 2, 0, true, 0, &r, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(r.look[1].n, 7);
    ck_assert_int_eq(r.look[1].n_new, 3);
    ck_assert_double_eq_tol(r.look[1].t, sqrt(60), 1e-9);
    ck_assert_double_eq_tol(r.look[1].z, 3.669257, 1e-4);
    ck_assert_double_eq_tol(r.look[1].boundary, 2.5114, 2e-3);
    ck_assert_int_eq(r.outcome, NL_PLAN_HOLDS);
    ck_assert_int_eq(r.decided_at, 2);
    /* a third look changes nothing: the plan stopped at the second */
    ck_assert_msg(nl_plan_sequential(&plan, 0.05, x, n, 3, 0, true, 0, &r, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(r.outcome, NL_PLAN_HOLDS);
    ck_assert_int_eq(r.decided_at, 2);
    /* the opposite direction: the same z below -c_2, does not hold at look 2 */
    ck_assert_msg(nl_plan_sequential(&plan, 0.05, x, n, 2, 0, false, 0, &r, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(r.outcome, NL_PLAN_FAILS);
    ck_assert_int_eq(r.decided_at, 2);
    /* a threshold the effects do not clear: no crossing at K, final */
    ck_assert_msg(nl_plan_sequential(&plan, 0.05, x, n, 3, 1.0, true, 0, &r, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(r.outcome, NL_PLAN_FINAL_UNDECIDED);
}
END_TEST

/* a look beyond K is not in the plan; seeds planned give the fractions */
START_TEST(test_looks_beyond_plan)
{
    nl_claim_plan plan = {.kind = NL_PLAN_GROUP_SEQUENTIAL, .looks = 2, .spending = "pocock"};
    const double *x[] = {look1, look2, look3};
    const int n[] = {4, 3, 3};
    nl_plan_result r;
    nl_error err = {0};
    ck_assert_int_eq(nl_plan_sequential(&plan, 0.05, x, n, 3, 0, true, 0, &r, &err), NL_ERR_DATA);
    ck_assert_msg(strstr(err.msg, "look 3 of a plan of 2 looks"), "%s", err.msg);
    ck_assert_msg(nl_plan_sequential(&plan, 0.05, x, n, 2, 0, true, 14, &r, &err) == NL_OK, "%s", err.msg);
    ck_assert_double_eq_tol(r.look[0].fraction, 4.0 / 14, 1e-12);
    ck_assert_double_eq_tol(r.look[1].fraction, 7.0 / 14, 1e-12);
    /* two seeds decide nothing, whatever their t */
    const int two[] = {2};
    ck_assert_msg(nl_plan_sequential(&plan, 0.05, x, two, 1, 0, true, 0, &r, &err) == NL_OK, "%s", err.msg);
    ck_assert(isnan(r.look[0].z));
    ck_assert_int_eq(r.outcome, NL_PLAN_CONTINUE);
}
END_TEST

/* the looks found beside a sweep (t, t-confirm, t-confirm2: the one rule
 * of verdict/looks.h), pooled; a third look under a plan of 2 is refused
 * naming the file, the plan's line and key */
START_TEST(test_looks_found_and_refused)
{
    tu_tmp_make("looks");
    static const char *const dirs[] = {"t", "t-confirm", "t-confirm2", "other"};
    static const char *const rows[] = {"1:1.9 2:2.1 3:2.3", "4:1.5 5:2.5 6:2.0", "7:2 8:2.2 9:1.8", "1:0 2:0 3:0"};
    for (int i = 0; i < 4; i++) {
        char cmd[600], text[512];
        snprintf(cmd, sizeof cmd, "mkdir '%s/%s'", tu_tmp, dirs[i]);
        ck_assert_int_eq(system(cmd), 0);
        snprintf(cmd, sizeof cmd, "%s/verdicts.csv", dirs[i]);
        snprintf(text, sizeof text, "claim,verdict,registered,a_values,b_values\none,holds,pre-registered,%s,%s\n",
                 rows[i], "1:1 2:1 3:1 4:1 5:1 6:1 7:1 8:1 9:1");
        tu_tmp_write(cmd, text);
    }
    nl_error err;
    ck_assert_msg(parse("{kind: group-sequential, looks: 3}", NULL, &err) == NL_OK, "%s", err.msg);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/t", tu_tmp);
    nl_buf out = {0};
    ck_assert_msg(nl_looks_report(dir, &set, 0.95, &out, &err) == NL_OK, "%s", err.msg);
    /* the same effects as test_obrien_fleming_three_looks' first two looks, less 1 */
    ck_assert_msg(strstr(out.data, "look 2: t-confirm: holds (n 3, 6 pooled") && strstr(out.data, "look 3: t-confirm2"),
                  "%s", out.data);
    nl_buf_free(&out);
    ck_assert_msg(parse("{kind: group-sequential, looks: 2}", NULL, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(nl_looks_report(dir, &set, 0.95, &out, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "exp.yaml:2:7: plan.looks: claim one has 3 looks (t, t-confirm, t-confirm2), "
                         "more than the plan's 2"), "%s", err.msg);
    nl_buf_free(&out);
    /* declared a pilot, but outside a git checkout nothing shows the
     * declaration came before t's runs: still a look, so still 3 of 2
     * (test_pilot_declared_after_runs has the history) */
    ck_assert_msg(parse("{kind: group-sequential, looks: 2, pilots: [t]}", NULL, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(nl_looks_report(dir, &set, 0.95, &out, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(out.data, "pilot t: ") && strstr(out.data, "is not in a git checkout") &&
                  strstr(out.data, "not a pilot, counted as a look"), "%s", out.data);
    nl_buf_free(&out);
    tu_tmp_remove();
}
END_TEST

/* the one rule that makes a sweep a look of a claim: each name of
 * tests/verdict_prose/look_names.tsv gives its original and order, as
 * the claims page's confirm_order (render.py's self-test reads the same
 * file) */
START_TEST(test_look_names_shared)
{
    FILE *f = fopen(NORMLAB_SOURCE_DIR "/tests/verdict_prose/look_names.tsv", "r");
    ck_assert_msg(f != NULL, "tests/verdict_prose/look_names.tsv");
    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || !line[0])
            continue;
        char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        ck_assert_msg(tab2 != NULL, "look_names.tsv: '%s' is not NAME<TAB>ORIGINAL<TAB>ORDER", line);
        *tab1 = *tab2 = '\0';
        char base[256];
        const int order = nl_look_base(line, base, sizeof base);
        ck_assert_msg(order == atoi(tab2 + 1) && !strcmp(base, tab1 + 1), "%s: original '%s', order %d; the file says '%s', %s",
                      line, base, order, tab1 + 1, tab2 + 1);
        cases++;
    }
    fclose(f);
    ck_assert_int_ge(cases, 10);
}
END_TEST

/* ---- pilots judged by the history (a scratch repository) ---- */

static void pcommit(const char *msg)
{
    char a[128];
    snprintf(a, sizeof a, "add -A && git -c user.name=t -c user.email=t@t commit -q -m %s", msg);
    tu_git(a);
}

/* sweep `name`: one run in run_dir (named `run` in its summary) and a
 * verdicts.csv with claim one, its verdict and registration */
static void sweep_with_run(const char *name, const char *run_dir, const char *run,
                           const char *verdict, const char *registered)
{
    char cmd[600], path[256], text[256];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/results/%s/%s'", tu_tmp, name, run_dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(path, sizeof path, "results/%s/%s/summary.json", name, run_dir);
    snprintf(text, sizeof text, "{\"run\": \"%s/%s\"}\n", name, run);
    tu_tmp_write(path, text);
    snprintf(path, sizeof path, "results/%s/verdicts.csv", name);
    snprintf(text, sizeof text, "claim,verdict,registered,a_values,b_values\none,%s,%s,1:2 2:2 3:2,1:1 2:1 3:1\n",
             verdict, registered);
    tu_tmp_write(path, text);
}

/* the usual sweep: its run under runs/ */
static void psweep(const char *name, const char *verdict, const char *registered)
{
    sweep_with_run(name, "runs/1", "1", verdict, registered);
}

/* experiments/t.yaml with a first-confirmation plan naming `pilots` ("" none; NULL: no plan) */
static void pexperiment(const char *pilots)
{
    char text[1024], claim[512], plan[300] = "";
    snprintf(claim, sizeof claim, CLAIM, "");
    if (pilots)
        snprintf(plan, sizeof plan, "plan: {kind: first-confirmation%s%s%s}\n", pilots[0] ? ", pilots: [" : "", pilots,
                 pilots[0] ? "]" : "");
    snprintf(text, sizeof text, "name: t\n%sclaims:\n%s", plan, claim);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/experiments'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    tu_tmp_write("experiments/t.yaml", text);
}

/* the claims file at tu_tmp/FILE loaded into set, its pilots checked
 * (check_pilots), and results/NAME's looks reported into out */
static void looks_of(const char *file, const char *name, bool check_pilots, nl_buf *out)
{
    char path[512], dir[512];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, file);
    snprintf(dir, sizeof dir, "%s/results/%s", tu_tmp, name);
    nl_error err = {0};
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    if (check_pilots)
        ck_assert_msg(nl_looks_check_pilots(dir, &set, true, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_looks_report(dir, &set, 0.95, out, &err) == NL_OK, "%s", err.msg);
}

/* experiments/t.yaml loaded into set, its pilots checked, and results/t's
 * looks reported into out */
static void t_looks(nl_buf *out)
{
    looks_of("experiments/t.yaml", "t", true, out);
}

/* C1 declares t-early a pilot (and the plan) and commits t-late's runs;
 * C2 commits t-early's and t-same's runs, t and t-confirm, and declares
 * t-same with them; C3 declares t-late. Only t-early was declared before
 * its runs: t-same (the same commit) and t-late (after) are looks, and
 * --looks says why; a pilot that names no sweep is refused naming
 * file:line and key. t-early, pre-registered, would decide were it a look */
START_TEST(test_pilot_declared_after_runs)
{
    tu_tmp_make("pilots");
    tu_git("init -q");
    pexperiment("t-early");
    psweep("t-late", "holds", "post hoc");
    pcommit("c1");
    psweep("t-early", "holds", "pre-registered");
    psweep("t-same", "holds", "post hoc");
    psweep("t", "inconclusive", "post hoc");
    psweep("t-confirm", "does not hold", "pre-registered");
    pexperiment("t-early, t-same");
    pcommit("c2");
    pexperiment("t-early, t-same, t-late");
    pcommit("c3");
    char path[512], dir[512];
    snprintf(path, sizeof path, "%s/experiments/t.yaml", tu_tmp);
    snprintf(dir, sizeof dir, "%s/results/t", tu_tmp);
    nl_error err = {0};
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_looks_check_pilots(dir, &set, true, &err) == NL_OK, "%s", err.msg);
    nl_buf out = {0};
    ck_assert_msg(nl_looks_report(dir, &set, 0.95, &out, &err) == NL_OK, "%s", err.msg);
    const char *o = out.data;
    ck_assert_msg(strstr(o, "pilot t-early: declared at ") && strstr(o, ", before its runs (first committed at ") &&
                  strstr(o, "): a pilot, not a look"), "%s", o);
    ck_assert_msg(strstr(o, "pilot t-same: declared at ") && strstr(o, "in the same commit as its runs") &&
                  strstr(o, "not before its runs (first committed at "), "%s", o);
    ck_assert_msg(strstr(o, "pilot t-late: declared at "), "%s", o);
    /* counted: t-same and t-late (in plan order) as looks before the original, t-early not at all */
    ck_assert_msg(strstr(o, "look 1: t-same: holds (before the decisive look, not a pilot declared before its runs)") &&
                  strstr(o, "look 2: t-late: holds (before") && strstr(o, "look 3: t: inconclusive (before") &&
                  strstr(o, "look 4: t-confirm: does not hold (decides); plan declared at "), "%s", o);
    /* the plan (C1) came with t-late's runs, before t-confirm's (C2): decided under a plan stated first */
    ck_assert_msg(strstr(o, "look 2: t-late: holds (before the decisive look, not a pilot declared before its runs); "
                         "plan declared at ") && strstr(o, ", after this look\n    look 3") &&
                  strstr(o, ", before this look\n    plan's verdict: does not hold at look 4\n"), "%s", o);
    ck_assert_msg(!strstr(o, ": t-early: "), "t-early counted as a look:\n%s", o);
    int not_pilots = 0;
    for (const char *p = o; (p = strstr(p, "not a pilot, counted as a look")); p++)
        not_pilots++;
    ck_assert_int_eq(not_pilots, 2);
    nl_buf_free(&out);
    /* a name that is no sweep: exit 2's error, file:line:column and key */
    pexperiment("t-early, nosuch");
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(nl_looks_check_pilots(dir, &set, true, &err), NL_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "t.yaml:2:7: plan.pilots: 'nosuch' names no sweep"), "%s", err.msg);
    /* uncommitted, t-early's declaration is still the commit's: the working tree's text is not history */
    pexperiment("t-early");
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_looks_report(dir, &set, 0.95, &out, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(strstr(out.data, "pilot t-early: declared at "), "%s", out.data);
    nl_buf_free(&out);
    tu_tmp_remove();
}
END_TEST

/* experiments/NAME.yaml, a look of t's claim one (or of a claim `id`)
 * whose own plan names `pilots` ("" none) */
static void pown(const char *name, const char *pilots, const char *id)
{
    char text[1024], claim[512], path[300];
    snprintf(claim, sizeof claim, CLAIM, "");
    const char *one = strstr(claim, "id: one");
    ck_assert(one);
    snprintf(text, sizeof text, "name: %s\nplan: {kind: first-confirmation%s%s%s}\nclaims:\n%.*sid: %s%s", name,
             pilots[0] ? ", pilots: [" : "", pilots, pilots[0] ? "]" : "", (int)(one - claim), claim, id,
             one + strlen("id: one"));
    snprintf(path, sizeof path, "experiments/%s.yaml", name);
    tu_tmp_write(path, text);
}

/* a pilot the schedule prints is registered in a file of its own, whose
 * plan names it before any run; its base's plan names it only with its
 * runs (a pilots: entry must name a sweep). C1: t's plan, t's runs, and
 * t-confirm2 and t-confirm3 each naming itself a pilot; C2: their runs,
 * t-confirm4's file naming itself with them, and t's plan naming all
 * three. t-confirm2 is a pilot (its own declaration came first);
 * t-confirm3's own file names it for another claim id, and t-confirm4's
 * own declaration came with its runs: both are looks */
START_TEST(test_pilot_declared_in_its_own_file)
{
    tu_tmp_make("pilots-own");
    tu_git("init -q");
    pexperiment("");
    psweep("t", "inconclusive", "post hoc");
    pown("t-confirm2", "t-confirm2", "one");
    pown("t-confirm3", "t-confirm3", "two");
    pcommit("c1");
    psweep("t-confirm2", "inconclusive", "pre-registered");
    psweep("t-confirm3", "inconclusive", "pre-registered");
    psweep("t-confirm4", "inconclusive", "pre-registered");
    pown("t-confirm4", "t-confirm4", "one");
    pexperiment("t-confirm2, t-confirm3, t-confirm4");
    pcommit("c2");
    nl_buf out = {0};
    t_looks(&out);
    const char *o = out.data;
    ck_assert_msg(strstr(o, "pilot t-confirm2: declared a pilot in its own plan at ") &&
                  strstr(o, ", before its runs (first committed at ") && strstr(o, "its base's plan names it at "),
                  "%s", o);
    ck_assert_msg(strstr(o, "pilot t-confirm3: declared at ") && strstr(o, "pilot t-confirm4: declared at "), "%s", o);
    ck_assert_msg(!strstr(o, ": t-confirm2: "), "t-confirm2 counted as a look:\n%s", o);
    ck_assert_msg(strstr(o, ": t-confirm3: inconclusive") && strstr(o, ": t-confirm4: inconclusive"), "%s", o);
    nl_buf_free(&out);
    tu_tmp_remove();
}
END_TEST

/* first-confirmation (issue 81): the first pre-registered look decides,
 * the original included; a post hoc one does not. C1 commits t's runs
 * (its claim pre-registered), C2 the plan, C3 t-confirm's runs. As
 * committed, t decides (does not hold), its plan declared after it: the
 * verdict is computed and marked post hoc, on the screen and in
 * looks.csv. With t post hoc, t-confirm decides under a plan declared
 * before it. */
START_TEST(test_first_look_decides)
{
    tu_tmp_make("first-look");
    tu_git("init -q");
    pexperiment(NULL);
    psweep("t", "does not hold", "pre-registered");
    pcommit("c1");
    pexperiment("");
    pcommit("c2");
    char plan[64], want[512], path[512], dir[512];
    tu_git_head(plan, sizeof plan, 12);
    psweep("t-confirm", "holds", "pre-registered");
    pcommit("c3");
    snprintf(path, sizeof path, "%s/experiments/t.yaml", tu_tmp);
    snprintf(dir, sizeof dir, "%s/results/t", tu_tmp);
    nl_error err = {0};
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    nl_buf out = {0};
    ck_assert_msg(nl_looks_report(dir, &set, 0.95, &out, &err) == NL_OK, "%s", err.msg);
    snprintf(want, sizeof want, "look 1: t: does not hold (decides); plan declared at %s, after this look\n"
             "    look 2: t-confirm: holds (after the decision); plan declared at %s, before this look\n"
             "    plan's verdict: does not hold at look 1 (post hoc: ", plan, plan);
    ck_assert_msg(strstr(out.data, want), "want:\n%s\ngot:\n%s", want, out.data);
    nl_buf_free(&out);
    /* looks.csv: the same ledger, one row, through normlab verdict --looks RESULTS_DIR */
    ck_assert_int_eq(tu_normlab("verdict --looks results"), 0);
    char *csv = tu_tmp_read("results/looks.csv");
    snprintf(want, sizeof want, "t,one,experiments/t.yaml,first-confirmation,%s,t pre-registered: does not hold; "
             "t-confirm pre-registered: holds,t,does not hold,true\n", plan);
    ck_assert_msg(strstr(csv, want), "want:\n%s\ngot:\n%s", want, csv);
    free(csv);
    /* written again only with --force */
    ck_assert_int_eq(tu_normlab("verdict --looks results"), 2);
    /* t post hoc: not the decisive look; t-confirm, after the plan, decides */
    psweep("t", "does not hold", "post hoc (changed after its runs)");
    ck_assert_msg(nl_looks_report(dir, &set, 0.95, &out, &err) == NL_OK, "%s", err.msg);
    snprintf(want, sizeof want, "look 2: t-confirm: holds (decides); plan declared at %s, before this look\n"
             "    plan's verdict: holds at look 2\n", plan);
    ck_assert_msg(strstr(out.data, "look 1: t: does not hold (before the decisive look") && strstr(out.data, want),
                  "want:\n%s\ngot:\n%s", want, out.data);
    nl_buf_free(&out);
    ck_assert_int_eq(tu_normlab("verdict --looks results --force"), 0);
    csv = tu_tmp_read("results/looks.csv");
    ck_assert_msg(strstr(csv, "t post hoc: does not hold; t-confirm pre-registered: holds,t-confirm,holds,false\n"),
                  "%s", csv);
    free(csv);
    tu_tmp_remove();
}
END_TEST

/* sweep `name` as a claims file's source: reads it (sync-bn-mpi): one run
 * directory straight under it, no runs/, and its verdicts.csv */
static void psourced(const char *name, const char *verdict, const char *registered)
{
    sweep_with_run(name, "bn-seed1", "bn-seed1", verdict, registered);
}

/* experiments/claims/s.yaml reading its runs by source: runs:, with a
 * first-confirmation plan or none */
static void psourced_claims(bool plan)
{
    char text[1024], claim[512], cmd[600];
    snprintf(claim, sizeof claim, CLAIM, "");
    snprintf(text, sizeof text, "name: s\n%ssource:\n  runs: \"*-seed*\"\n  keys: [model.norm.type, seed]\n"
             "claims:\n%s", plan ? "plan: {kind: first-confirmation}\n" : "", claim);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/experiments/claims'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    tu_tmp_write("experiments/claims/s.yaml", text);
}

/* the ledger of s, its claims file as committed, into out */
static void psourced_ledger(nl_buf *out)
{
    looks_of("experiments/claims/s.yaml", "s", false, out);
}

/* Issue 92: a look whose runs a claims file's source: reads (run
 * directories straight under it, no runs/) was read as never committed,
 * so its plan as declared after it: sync-bn-mpi-confirm's two claims were
 * marked post hoc though their plan came first. C1 commits s's runs (post
 * hoc), C2 the plan, C3 s-confirm's runs: s-confirm decides under a plan
 * declared before it. Committed in the plan's own commit the runs are
 * not after it (nothing shows the plan first): post hoc */
START_TEST(test_sourced_runs_after_plan)
{
    tu_tmp_make("sourced");
    tu_git("init -q");
    psourced_claims(false);
    psourced("s", "inconclusive", "post hoc");
    pcommit("c1");
    psourced_claims(true);
    pcommit("c2");
    char plan[64], want[512];
    tu_git_head(plan, sizeof plan, 12);
    psourced("s-confirm", "holds", "pre-registered");
    pcommit("c3");
    nl_buf out = {0};
    psourced_ledger(&out);
    snprintf(want, sizeof want, "look 2: s-confirm: holds (decides); plan declared at %s, before this look\n"
             "    plan's verdict: holds at look 2\n", plan);
    ck_assert_msg(strstr(out.data, want), "want:\n%s\ngot:\n%s", want, out.data);
    ck_assert_msg(strstr(out.data, "look 1: s: inconclusive (before the decisive look") &&
                  strstr(out.data, ", after this look\n    look 2"), "%s", out.data);
    nl_buf_free(&out);
    /* looks.csv, the ledger of a directory of sweeps (the one the claims page counts), says the same */
    ck_assert_int_eq(tu_normlab("verdict --looks results"), 0);
    char *csv = tu_tmp_read("results/looks.csv");
    ck_assert_msg(strstr(csv, ",s-confirm,holds,false\n"), "%s", csv);
    free(csv);
    tu_tmp_remove();
    /* the tie: s-confirm's runs committed with the plan */
    tu_tmp_make("sourced-tie");
    tu_git("init -q");
    psourced_claims(false);
    psourced("s", "inconclusive", "post hoc");
    pcommit("c1");
    psourced_claims(true);
    psourced("s-confirm", "holds", "pre-registered");
    pcommit("c2");
    tu_git_head(plan, sizeof plan, 12);
    psourced_ledger(&out);
    snprintf(want, sizeof want, "look 2: s-confirm: holds (decides); plan declared at %s, after this look\n"
             "    plan's verdict: holds at look 2 (post hoc: ", plan);
    ck_assert_msg(strstr(out.data, want), "want:\n%s\ngot:\n%s", want, out.data);
    nl_buf_free(&out);
    tu_tmp_remove();
}
END_TEST

/* ---- --looks refused alike for one sweep and a directory of sweeps (issue 89) ---- */

/* what lies under tu_tmp: each file with its size and time, each directory
 * by name (.git and the output's out.txt aside): a refusal leaves it as it
 * was, no looks.csv and nothing else */
static char *ptree(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cd '%s' && find . -path ./.git -prune -o -type f ! -name out.txt "
             "-printf '%%p %%s %%T@\\n' -o -type d -printf '%%p/\\n' | sort", tu_tmp);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    nl_buf b = {0};
    char line[1024];
    while (fgets(line, sizeof line, p))
        nl_buf_printf(&b, "%s", line);
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_ptr_nonnull(b.data);
    return b.data;
}

/* `normlab ARGS` exits 2 saying `says`, writes nothing, and returns what it said */
static char *prefused(const char *args, const char *says)
{
    char *before = ptree();
    ck_assert_msg(tu_normlab(args) == 2, "normlab %s: not refused:\n%s", args, tu_normlab_output());
    char *out = tu_normlab_output(), *after = ptree();
    ck_assert_msg(strstr(out, says), "normlab %s: want '%s', got:\n%s", args, says, out);
    ck_assert_msg(!strcmp(before, after), "normlab %s wrote:\nbefore:\n%s\nafter:\n%s", args, before, after);
    free(before);
    free(after);
    return out;
}

/* experiments/NAME.yaml: claim one with its own plan, `plan` (a flow map) */
static void pclaim_plan(const char *name, const char *plan)
{
    char text[1024], claim[600], path[128], extra[256];
    snprintf(extra, sizeof extra, ", plan: %s", plan);
    snprintf(claim, sizeof claim, CLAIM, extra);
    snprintf(text, sizeof text, "name: %s\nclaims:\n%s", name, claim);
    snprintf(path, sizeof path, "experiments/%s.yaml", name);
    tu_tmp_write(path, text);
}

/* Outside a git checkout (a ceiling above the scratch directory, so none
 * is found) --looks RESULTS_DIR is refused as --looks SWEEP is, in the same
 * words, and writes nothing; --no-registration lets both through (the
 * ledger then shows no plan declared); without experiments/ to read the
 * files from, refused rather than an empty ledger written */
START_TEST(test_looks_refused_outside_git)
{
    tu_tmp_make("looks-nogit");
    char ceiling[300];
    nl_copy_string(ceiling, sizeof ceiling, tu_tmp);
    *strrchr(ceiling, '/') = '\0';
    ck_assert_int_eq(setenv("GIT_CEILING_DIRECTORIES", ceiling, 1), 0);
    pexperiment("");
    psweep("t", "holds", "pre-registered");
    const char *nogit = "experiments/t.yaml is not inside a git checkout";
    char *all = prefused("verdict --looks results", nogit);
    ck_assert_msg(strstr(all, "--no-registration"), "%s", all);
    char *one = prefused("verdict results/t --looks", nogit);
    ck_assert_msg(!strcmp(all, one), "the two forms refuse differently:\n%s\n%s", all, one);
    free(all);
    free(one);
    ck_assert_int_eq(tu_normlab("verdict --looks results --no-registration"), 0);
    char *csv = tu_tmp_read("results/looks.csv");
    ck_assert_msg(strstr(csv, "\nt,one,experiments/t.yaml,first-confirmation,,t pre-registered: holds,"), "%s", csv);
    free(csv);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cd '%s' && rm results/looks.csv && mv experiments elsewhere", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    free(prefused("verdict --looks results --no-registration", "experiments/: no such directory; --looks results "
                  "reads each sweep's experiment file from it"));
    ck_assert_int_eq(unsetenv("GIT_CEILING_DIRECTORIES"), 0);
    tu_tmp_remove();
}
END_TEST

/* A pilot that names no sweep, in a claim's plan, refused by --looks
 * RESULTS_DIR as by --looks SWEEP, in the same words (file:line, the key,
 * the name): whether the sweep has a verdicts.csv (t) or not yet (u, once
 * skipped unchecked, so looks.csv was written) */
START_TEST(test_looks_refused_ghost_pilot)
{
    tu_tmp_make("looks-ghost");
    tu_git("init -q");
    pexperiment("");
    psweep("t", "holds", "pre-registered");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/results/u'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    tu_tmp_write("results/u/summary.csv", "run_id,seed\n");
    pclaim_plan("u", "{kind: first-confirmation}");
    pcommit("c1");
    ck_assert_int_eq(tu_normlab("verdict --looks results"), 0); /* as committed: a ledger */
    snprintf(cmd, sizeof cmd, "rm '%s/results/looks.csv'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    static const char *const names[] = {"u", "t"};
    for (int i = 0; i < 2; i++) {
        char file[64], says[256], one[128];
        pclaim_plan(names[i], "{kind: first-confirmation, pilots: [ghost]}");
        snprintf(file, sizeof file, "experiments/%s.yaml", names[i]);
        snprintf(says, sizeof says, "%s:3:", file);
        char *all = prefused("verdict --looks results", says);
        ck_assert_msg(strstr(all, "claims[].plan.pilots: 'ghost' names no sweep: no directory results/ghost"), "%s",
                      all);
        snprintf(one, sizeof one, "verdict results/%s --looks", names[i]);
        char *per = prefused(one, says);
        ck_assert_msg(!strcmp(all, per), "the two forms refuse differently:\n%s\n%s", all, per);
        free(all);
        free(per);
        pclaim_plan(names[i], "{kind: first-confirmation}");
    }
    tu_tmp_remove();
}
END_TEST

/* A directory of sweeps none of which has a verdicts.csv yet: refused
 * naming what is missing and the command that writes it, not "no
 * experiment file names 'fresh'" (the one-sweep form's refusal, which it
 * once fell through to) */
START_TEST(test_looks_refused_without_verdicts)
{
    tu_tmp_make("looks-unjudged");
    tu_git("init -q");
    pexperiment("");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/fresh/t' '%s/fresh/u'", tu_tmp, tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    tu_tmp_write("fresh/t/summary.csv", "run_id,seed\n");
    tu_tmp_write("fresh/u/summary.csv", "run_id,seed\n");
    pcommit("c1");
    char *out = prefused("verdict --looks fresh", "fresh: none of its 2 sweeps has a verdicts.csv, which --looks "
                         "reads each look's verdicts and per-seed effects from; write them first with normlab "
                         "verdict fresh/t fresh/u, then run normlab verdict --looks fresh again");
    ck_assert_msg(!strstr(out, "no experiment file"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, test_plan_parsed);
    tcase_add_test(tc, test_plan_refused);
    tcase_add_test(tc, test_plan_refused_by_verdict);
    tcase_add_test(tc, test_obrien_fleming_three_looks);
    tcase_add_test(tc, test_looks_beyond_plan);
    tcase_add_test(tc, test_looks_found_and_refused);
    tcase_add_test(tc, test_look_names_shared);
    if (system("git --version >/dev/null 2>&1") == 0) {
        tcase_add_test(tc, test_pilot_declared_after_runs);
        tcase_add_test(tc, test_pilot_declared_in_its_own_file);
        tcase_add_test(tc, test_first_look_decides);
        tcase_add_test(tc, test_sourced_runs_after_plan);
        tcase_add_test(tc, test_looks_refused_outside_git);
        tcase_add_test(tc, test_looks_refused_ghost_pilot);
        tcase_add_test(tc, test_looks_refused_without_verdicts);
    }
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
