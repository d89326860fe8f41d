/* Every committed reproduction declares its claims and `normlab verdict`
 * computes them (issue 57): for each committed sweep directory
 * (results/NAME/ with a summary.csv that .gitignore does not name), the
 * experiment file `normlab verdict results/NAME` would read declares at
 * least one claim, the claims compute from the committed runs without a
 * refusal (a key, value or metric no run has, a cell without runs), and
 * every claim reads its metric from at least one seed (a where: that
 * matches no row of a run's file would otherwise pass as an empty claim).
 * The list is the committed directories, so no test keeps one: in the
 * default suite their seeded sample (tu_committed_sample), every one in
 * test_committed_claims_all (label long). In process and reading
 * committed files only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/files.h"
#include "testutil.h"
#include "verdict/ledger.h"
#include "verdict/verdict.h"
#include "verdict/withdrawn.h"

/* experiments/claim_changes.tsv withdraws a claim of experiment `name`
 * (STATS.md: a claim with a look is never deleted, only withdrawn on the
 * record): its sweep may then be left with none */
static bool withdrawn_on_record(const char *name)
{
    char *text = NULL;
    size_t size = 0;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(NORMLAB_SOURCE_DIR "/experiments/claim_changes.tsv", &text, &size, &err) == NL_OK,
                  "%s", err.msg);
    bool found = false;
    /* experiment<TAB>claim<TAB>commit<TAB>change<TAB>reason */
    for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n")) {
        const char *field[4] = {line};
        int n = 1;
        for (char *p = line; *p && n < 4; p++)
            if (*p == '\t') {
                *p = '\0';
                field[n++] = p + 1;
            }
        found = n == 4 && !strcmp(field[0], name) && !strncmp(field[3], "withdrawn\t", 10);
    }
    free(text);
    return found;
}

/* one committed sweep's claims, computed; how many claims (each: values
 * counted) it gave */
static int check_sweep(const char *dir)
{
    char experiment[1200];
    nl_error err = {0};
    ck_assert_msg(nl_verdict_find_experiment(dir, NORMLAB_SOURCE_DIR "/experiments", experiment, sizeof experiment,
                                             &err) == NL_OK,
                  "%s", err.msg);
    static nl_claim_set set;
    ck_assert_msg(nl_claims_load(experiment, &set, &err) == NL_OK, "%s", err.msg);
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    if (set.n == 0 && withdrawn_on_record(name))
        return 0;
    ck_assert_msg(set.n >= 1, "%s declares no claims: for its committed sweep %s (results/usage.md, \"Claims "
                  "and verdicts\"), and experiments/claim_changes.tsv withdraws none of %s", experiment, dir, name);
    const nl_verdict_options opt = {.level = 0.95, .seed = 1, .resamples = 10000};
    nl_verdict_report r;
    ck_assert_msg(nl_verdict_compute(dir, &set, &opt, &r, &err) == NL_OK, "%s", err.msg);
    for (int i = 0; i < r.n; i++)
        ck_assert_msg(r.v[i].n >= 1, "%s: claim %s reads its metric from no seed of %s (%s)", experiment, r.v[i].id,
                      dir, r.v[i].note);
    const int n = r.n;
    nl_verdict_report_free(&r);
    return n;
}

/* check_sweep as a visit: ctx counts the claims */
static void visit_sweep(const char *dir, void *ctx)
{
    *(int *)ctx += check_sweep(dir);
}

START_TEST(test_committed_sweeps_declare_claims)
{
    int claims = 0;
    const int sweeps = tu_committed_sweep_dirs(visit_sweep, &claims);
    /* the committed reproductions are there to be checked */
    ck_assert_int_ge(sweeps, 1);
    ck_assert_int_ge(claims, sweeps);
}
END_TEST

/* results/withdrawn.csv, which the claims page's "Withdrawn runs" is
 * generated from, is what `normlab verdict --withdrawn results` finds in
 * the history now: a commit that removes committed runs fails here until
 * the list (and the page) say so (issue 81: no committed run vanishes
 * unseen) */
START_TEST(test_withdrawn_runs_listed)
{
    nl_withdrawals w;
    nl_error err = {0};
    ck_assert_msg(nl_withdrawals_find(NORMLAB_SOURCE_DIR "/results", &w, &err) == NL_OK, "%s", err.msg);
    if (w.shallow) { /* a shallow clone cannot see the removals before its first commit */
        puts("a shallow clone: results/" NL_WITHDRAWN_FILE " not compared with the history");
        nl_withdrawals_free(&w);
        return;
    }
    nl_buf now = {0};
    nl_withdrawals_csv(&w, &now);
    char *committed = NULL;
    ck_assert_msg(nl_read_file(NORMLAB_SOURCE_DIR "/results/" NL_WITHDRAWN_FILE, &committed, NULL, &err) == NL_OK,
                  "%s", err.msg);
    ck_assert_msg(now.data && !strcmp(committed, now.data),
                  "results/" NL_WITHDRAWN_FILE " is not the history's list of withdrawn runs; regenerate it "
                  "(build/normlab verdict --withdrawn results --force) and the claims page "
                  "(python3 tests/verdict_prose/render.py . --write). The history says:\n%s", now.data);
    free(committed);
    nl_buf_free(&now);
    nl_withdrawals_free(&w);
}
END_TEST

/* results/looks.csv, which the claims page's plan counts and its column
 * "the plan's verdict" are read from, is what `normlab verdict --looks
 * results` computes now: a look, a verdict or a plan: committed without
 * the ledger fails here until it (and the page) say so (issue 81: the
 * page never chooses which look counts). In a shallow clone the history
 * cannot date the plans: not compared. */
START_TEST(test_looks_ledger_listed)
{
    nl_withdrawals w;
    nl_error err = {0};
    ck_assert_int_eq(chdir(NORMLAB_SOURCE_DIR), 0); /* experiment paths as the program writes them */
    ck_assert_msg(nl_withdrawals_find("results", &w, &err) == NL_OK, "%s", err.msg);
    const bool shallow = w.shallow;
    nl_withdrawals_free(&w);
    if (shallow) {
        puts("a shallow clone: results/" NL_LOOKS_FILE " not compared with the history");
        return;
    }
    nl_buf now = {0};
    int rows = 0;
    ck_assert_msg(nl_looks_csv("results", "experiments", true, 0.95, &now, &rows, &err) == NL_OK, "%s", err.msg);
    char *committed = NULL;
    ck_assert_msg(nl_read_file("results/" NL_LOOKS_FILE, &committed, NULL, &err) == NL_OK, "%s", err.msg);
    size_t at = 0; /* the first line that differs, to show */
    for (size_t i = 0; now.data && committed[i] && committed[i] == now.data[i]; i++)
        at = committed[i] == '\n' ? i + 1 : at;
    ck_assert_msg(now.data && !strcmp(committed, now.data),
                  "results/" NL_LOOKS_FILE " is not the plans' ledger as it stands; regenerate it "
                  "(build/normlab verdict --looks results --force) and the claims page "
                  "(python3 tests/verdict_prose/render.py . --write). First difference, committed:\n%.*s\nnow:\n%.*s",
                  (int)strcspn(committed + at, "\n"), committed + at,
                  now.data ? (int)strcspn(now.data + at, "\n") : 0, now.data ? now.data + at : "");
    free(committed);
    nl_buf_free(&now);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("committed_claims");
    /* the sweeps' claims: the seeded sample of them (tu_committed_sample),
     * every one in test_committed_claims_all (label long, CK_RUN_CASE=verdict) */
    TCase *tc = tcase_create("verdict");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_committed_sweeps_declare_claims);
    suite_add_tcase(s, tc);
    /* the ledgers of the whole history: 23 s with one `yes` beside it on 2
     * cores (results/suite-time.md), and the looks' grow with the evidence:
     * their limit is no part of what they check (issue 115) */
    TCase *ledgers = tcase_create("ledgers");
    tcase_set_timeout(ledgers, 600);
    tcase_add_test(ledgers, test_withdrawn_runs_listed);
    tcase_add_test(ledgers, test_looks_ledger_listed);
    suite_add_tcase(s, ledgers);
    return tu_run_suite(s);
}
