/* Withdrawn runs from the history (verdict/withdrawn.h, issue 81), in a git
 * repository made for the test: sweeps s and t are committed with their
 * runs and s's verdicts.csv; later commits remove one of s's runs (a
 * withdrawal), rename one of t's within t (no withdrawal) and move one of
 * s's into u (a withdrawal whose data is elsewhere). A repository whose
 * .git/config names programs git would run on its own runs none of them.
 * Skipped (77) where git is not installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "verdict/registered.h"
#include "verdict/withdrawn.h"

static void git(const char *args) { tu_git(args); }

static void head(char *hash, size_t size) { tu_git_head(hash, size, 0); }

static void commit(const char *msg, char *hash, size_t size)
{
    char args[256];
    snprintf(args, sizeof args, "add -A && git -c user.name=t -c user.email=t@t commit -q -m %s", msg);
    git(args);
    if (hash)
        head(hash, size);
}

/* a run of sweep `sweep` (its evidence: distinct bytes per run, as runs have) */
static void write_run(const char *sweep, const char *run)
{
    char path[512], text[256];
    snprintf(path, sizeof path, "mkdir -p '%s/results/%s/runs/%s'", tu_tmp, sweep, run);
    ck_assert_int_eq(system(path), 0);
    snprintf(path, sizeof path, "results/%s/runs/%s/summary.json", sweep, run);
    snprintf(text, sizeof text, "{\"run\": \"%s/%s\", \"git_commit\": \"x\"}\n", sweep, run);
    tu_tmp_write(path, text);
    snprintf(path, sizeof path, "results/%s/runs/%s/metrics.csv", sweep, run);
    snprintf(text, sizeof text, "step,loss\n0,%s/%s\n", sweep, run);
    tu_tmp_write(path, text);
}

static char c1[64];

/* C1: sweeps s (3 runs, verdicts.csv) and t (1 run) */
static void make_sweeps(void)
{
    tu_tmp_make("withdrawn");
    git("init -q");
    write_run("s", "seed-1");
    write_run("s", "seed-2");
    write_run("s", "seed-3");
    write_run("t", "seed-1");
    tu_tmp_write("results/s/verdicts.csv", "claim,verdict,n\nbn-worse,holds,3\n\"a, b\",inconclusive,3\n");
    commit("c1", c1, sizeof c1);
}

static nl_withdrawals find(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/results", tu_tmp);
    nl_withdrawals w;
    nl_error err = {0};
    ck_assert_msg(nl_withdrawals_find(dir, &w, &err) == NL_OK, "%s", err.msg);
    return w;
}

/* the removals that withdrew runs */
static int withdrawn(const nl_withdrawals *w)
{
    int n = 0;
    for (int i = 0; i < w->n; i++)
        n += nl_withdrawal_runs(&w->w[i]) > 0;
    return n;
}

/* nothing removed: nothing listed; a run removed: its sweep, the commit,
 * the count and the verdicts before */
START_TEST(test_removed_run_is_listed)
{
    make_sweeps();
    nl_withdrawals w = find();
    ck_assert_int_eq(w.n, 0);
    nl_withdrawals_free(&w);
    /* a commit that changes a run but removes none lists nothing either */
    tu_tmp_write("results/s/runs/seed-1/metrics.csv", "step,loss\n0,9\n");
    commit("c1b", NULL, 0);
    w = find();
    ck_assert_int_eq(w.n, 0);
    nl_withdrawals_free(&w);
    git("rm -q -r results/s/runs/seed-2");
    char c2[64];
    commit("c2", c2, sizeof c2);
    w = find();
    ck_assert_int_eq(w.n, 1);
    ck_assert_int_eq(withdrawn(&w), 1);
    ck_assert_str_eq(w.w[0].sweep, "s");
    ck_assert_str_eq(w.w[0].commit, c2);
    ck_assert_int_eq(w.w[0].runs, 1);
    ck_assert_int_eq(nl_withdrawal_runs(&w.w[0]), 1);
    ck_assert(w.w[0].had_verdicts);
    ck_assert_str_eq(w.w[0].verdicts, "bn-worse: holds; a, b: inconclusive");
    nl_buf text = {0};
    nl_withdrawals_text(&w, "s-confirm2", &text); /* a look of s */
    ck_assert_msg(text.data && strstr(text.data, "withdrawn: s: 1 of its committed runs removed by"), "%s",
                  text.data ? text.data : "(nothing)");
    nl_buf_free(&text);
    nl_withdrawals_text(&w, "t", &text); /* another sweep: not its */
    ck_assert_ptr_null(text.data);
    nl_withdrawals_free(&w);
    tu_tmp_remove();
}
END_TEST

/* a run renamed within its sweep is no withdrawal; one moved to another
 * directory is, with where its data is */
START_TEST(test_renamed_and_moved)
{
    make_sweeps();
    git("mv results/t/runs/seed-1 results/t/runs/seed-01");
    commit("rename", NULL, 0);
    nl_withdrawals w = find();
    ck_assert_int_eq(w.n, 1);
    ck_assert_int_eq(w.w[0].renamed, 1);
    ck_assert_int_eq(withdrawn(&w), 0);
    nl_withdrawals_free(&w);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/results/u/runs'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    git("mv results/s/runs/seed-3 results/u/runs/seed-3");
    char moved[64];
    commit("move", moved, sizeof moved);
    w = find();
    ck_assert_int_eq(withdrawn(&w), 1);
    const nl_withdrawal *x = &w.w[0]; /* newest first */
    ck_assert_str_eq(x->commit, moved);
    ck_assert_str_eq(x->sweep, "s");
    ck_assert_int_eq(x->elsewhere, 1);
    ck_assert_str_eq(x->elsewhere_dirs, "u");
    nl_buf csv = {0};
    nl_withdrawals_csv(&w, &csv);
    ck_assert_msg(strstr(csv.data, "\ns,") && !strstr(csv.data, "\nt,"), "%s", csv.data);
    nl_buf_free(&csv);
    nl_withdrawals_free(&w);
    tu_tmp_remove();
}
END_TEST

/* a commit object with a (fake) signature: log.showSignature would verify it */
static void sign_head(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && git cat-file commit HEAD | awk '/^committer/{print; print \"gpgsig -----BEGIN PGP "
             "SIGNATURE-----\"; print \" iQEzBAABCAAdFiEE\"; print \" -----END PGP SIGNATURE-----\"; next} {print}' "
             ">signed.txt && git update-ref HEAD $(git hash-object -t commit -w signed.txt)",
             tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* .git/config naming a program for each way git starts one on its own */
static void plant_hostile_config(void)
{
    char text[512];
    snprintf(text, sizeof text, "#!/bin/sh\necho \"$0 $*\" >>'%s/ran.txt'\ncat >/dev/null\nexit 1\n", tu_tmp);
    tu_tmp_write("evil.sh", text);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && chmod +x evil.sh && git config log.showSignature true && git config gpg.program '%s/evil.sh' "
             "&& git config core.fsmonitor '%s/evil.sh' && git config diff.external '%s/evil.sh' && git config "
             "core.pager '%s/evil.sh'",
             tu_tmp, tu_tmp, tu_tmp, tu_tmp, tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static bool ran(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ran.txt", tu_tmp);
    return access(path, F_OK) == 0;
}

/* the lookups run nothing a hostile .git/config names; plain git would */
START_TEST(test_hostile_config_runs_nothing)
{
    make_sweeps();
    git("rm -q -r results/s/runs/seed-2");
    write_run("s", "seed-4"); /* added by the signed commit: both lookups' git log shows it */
    tu_tmp_write("exp.yaml", "name: s\nclaims:\n");
    commit("c2", NULL, 0);
    sign_head();
    plant_hostile_config();
    /* the planted program is one git starts: the check below can fail */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cd '%s' && git log --format=%%H >/dev/null 2>&1", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(ran(), "git log did not run the planted gpg.program: the test cannot fail");
    snprintf(cmd, sizeof cmd, "rm '%s/ran.txt'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    nl_withdrawals w = find();
    ck_assert_int_eq(withdrawn(&w), 1);
    nl_withdrawals_free(&w);
    /* the registration lookup's git log of first commits too */
    static nl_claim_set set;
    char path[512];
    snprintf(path, sizeof path, "%s/exp.yaml", tu_tmp);
    nl_error err = {0};
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    nl_registry *reg = NULL;
    ck_assert_msg(nl_registry_open(&set, &reg, &err) == NL_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/results/s", tu_tmp);
    nl_first_runs *first = NULL;
    ck_assert_msg(nl_first_runs_open(reg, path, &first, &err) == NL_OK, "%s", err.msg);
    nl_first_runs_close(first);
    nl_registry_close(reg);
    ck_assert_msg(!ran(), "a program the repository's .git/config names was run");
    tu_tmp_remove();
}
END_TEST

/* normlab verdict --withdrawn: the list written, a second time refused
 * without --force (exit 2, the file as it was), outside git exit 2 and
 * nothing written */
/* a sweep packed (normlab pack: its runs into SWEEP/runs.sqlite, the
 * directories removed) withdraws nothing: its runs are in the pack, byte
 * for byte; a pack whose copy of a run differs from the bytes removed
 * withdraws that run */
START_TEST(test_packed_is_no_withdrawal)
{
    tu_tmp_make("withdrawn-pack");
    git("init -q");
    tu_tmp_write("exp.yaml", "name: sw\n"
                             "base:\n"
                             "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64, test_size: 16}\n"
                             "  model: {arch: mlp, widths: [8]}\n"
                             "  train: {batch_size: 32, steps: 4, eval_every: 4, log_every: 2}\n"
                             "threads: 1\n"
                             "grid:\n"
                             "  model.norm.type: [none, batch]\n"
                             "  seed: [1, 2]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out results/sw -j 1"), 0);
    commit("c1", NULL, 0);
    ck_assert_int_eq(tu_normlab("pack results/sw"), 0);
    char c2[64];
    commit("c2", c2, sizeof c2);
    nl_withdrawals w = find();
    ck_assert_int_eq(withdrawn(&w), 0);
    ck_assert_int_eq(w.n, 1);
    ck_assert_int_eq(w.w[0].runs, 4);
    ck_assert_int_eq(w.w[0].renamed, 4);
    nl_withdrawals_free(&w);
    /* the pack made again from one run's evidence changed (its metrics.csv
     * and summary.json, so no file of it is where its bytes were): that
     * run is withdrawn */
    ck_assert_int_eq(tu_normlab("export csv results/sw --out back"), 0);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cd '%s' && sed -i '$s/,[^,]*$/,9.99/' back/type-none_seed-1/metrics.csv && "
             "sed -i 's/\"wall_s\": [^,]*/\"wall_s\": 99/' back/type-none_seed-1/summary.json && "
             "rm results/sw/runs.sqlite && mv back results/sw/runs", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(tu_normlab("pack results/sw"), 0);
    /* read by a new process: this one keeps the pack it opened */
    ck_assert_int_eq(tu_normlab("verdict --withdrawn results"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "withdrawn: sw: 1 of its committed runs"), "%s", out);
    free(out);
    char *csv = tu_tmp_read("results/" NL_WITHDRAWN_FILE);
    ck_assert_msg(strstr(csv, c2), "%s", csv);
    free(csv);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_cli)
{
    make_sweeps();
    git("rm -q -r results/s/runs/seed-2");
    commit("c2", NULL, 0);
    ck_assert_int_eq(tu_normlab("verdict --withdrawn results"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "withdrawn: s: 1 of its committed runs"), "%s", out);
    free(out);
    char *csv = tu_tmp_read("results/" NL_WITHDRAWN_FILE);
    ck_assert_msg(strstr(csv, "\ns,") && strstr(csv, "bn-worse: holds"), "%s", csv);
    tu_tmp_write("results/" NL_WITHDRAWN_FILE, "mine\n");
    ck_assert_int_eq(tu_normlab("verdict --withdrawn results"), 2);
    char *kept = tu_tmp_read("results/" NL_WITHDRAWN_FILE);
    ck_assert_str_eq(kept, "mine\n");
    ck_assert_int_eq(tu_normlab("verdict --withdrawn results --force"), 0);
    free(kept);
    kept = tu_tmp_read("results/" NL_WITHDRAWN_FILE);
    ck_assert_str_eq(kept, csv);
    free(kept);
    free(csv);
    ck_assert_int_eq(tu_normlab("verdict --withdrawn results results/s"), 2);
    /* outside any checkout */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/.git' && mkdir '%s/plain'", tu_tmp, tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(tu_normlab("verdict --withdrawn plain"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "plain is not inside a git checkout"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s/plain/" NL_WITHDRAWN_FILE, tu_tmp);
    ck_assert_int_ne(access(cmd, F_OK), 0);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    if (system("git --version >/dev/null 2>&1") != 0) {
        puts("git is not installed: skipped");
        return 77;
    }
    Suite *s = suite_create("withdrawn");
    TCase *tc = tcase_create("history");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_removed_run_is_listed);
    tcase_add_test(tc, test_renamed_and_moved);
    tcase_add_test(tc, test_hostile_config_runs_nothing);
    tcase_add_test(tc, test_cli);
    tcase_add_test(tc, test_packed_is_no_withdrawal);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
