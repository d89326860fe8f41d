/* Pre-registration from the history (verdict/registered.h), in a git
 * repository made for the test: C1 holds an experiment file with claims
 * "one" and "two"; C2 changes two's expect and adds a second file; C3 holds
 * a version of the file today's parser refuses. Each claim is asked about
 * at each commit, at commits the history lacks, at a "-dirty" one, and
 * outside any checkout. Skipped (77) where git is not installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "verdict/registered.h"
#include "verdict/verdict.h"

#define CLAIM(id, a, expect)                                                                                      \
    "  - {id: " id ", paper: \"p\", metric: final_test_error, a: " a ", b: {model.norm.type: group}, "       \
    "scope: {train.batch_size: 2}, expect: \"" expect "\"}\n"

static const char *file_c1 = "name: t\nclaims:\n" CLAIM("one", "{model.norm.type: batch}", "a > b by 0.05")
    CLAIM("two", "{model.norm.type: layer}", "a < b by 0.2");
/* two's expect weakened after the runs */
static const char *file_c2 = "name: t\nclaims:\n" CLAIM("one", "{model.norm.type: batch}", "a > b by 0.05")
    CLAIM("two", "{model.norm.type: layer}", "a < b");
/* a key today's parser does not know */
static const char *file_c3 = "name: t\nclaims:\n  - {id: one, paper: \"p\", no_such_key: 1}\n";

static void git(const char *args) { tu_git(args); }

static void head(char *hash, size_t size) { tu_git_head(hash, size, 12); }

/* git add PATHS, a commit named MSG, and (hash not NULL) its short hash */
static void commit(const char *paths, const char *msg, char *hash, size_t size)
{
    char args[512];
    snprintf(args, sizeof args, "add %s && git -c user.name=t -c user.email=t@t commit -q -m %s", paths,
             msg);
    git(args);
    if (hash)
        head(hash, size);
}

static char c1[64], c2[64], c3[64];

/* the repository: exp.yaml at C1, C2 and C3; new.yaml from C2 on; the
 * work tree's exp.yaml is C2's (what the verdict reads today) */
static void make_history(void)
{
    tu_tmp_make("registered");
    git("init -q");
    tu_tmp_write("exp.yaml", file_c1);
    commit("exp.yaml", "c1", c1, sizeof c1);
    tu_tmp_write("exp.yaml", file_c2);
    tu_tmp_write("new.yaml", file_c2);
    commit("exp.yaml new.yaml", "c2", c2, sizeof c2);
    tu_tmp_write("exp.yaml", file_c3);
    commit("exp.yaml", "c3", c3, sizeof c3);
    tu_tmp_write("exp.yaml", file_c2);
}

static nl_claim_set set; /* ~5 MB: not on the stack */

static nl_registry *open_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, name);
    nl_error err = {0};
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    ck_assert_int_eq(set.n, 2);
    nl_registry *reg = NULL;
    ck_assert_msg(nl_registry_open(&set, &reg, &err) == NL_OK, "%s", err.msg);
    return reg;
}

static nl_claim_registration ask(nl_registry *reg, int claim, const char *commit)
{
    nl_claim_registration r;
    nl_error err = {0};
    ck_assert_msg(nl_registry_claim(reg, claim, commit, &r, &err) == NL_OK, "%s", err.msg);
    return r;
}

#define ck_registration(r, want, part)                                                                         \
    do {                                                                                                        \
        ck_assert_msg((r).kind == (want), "%s, want %s (%s)", nl_registration_names[(r).kind],                \
                      nl_registration_names[want], (r).why);                                                    \
        ck_assert_msg(strstr((r).why, (part)), "why '%s' does not say '%s'", (r).why, (part));                  \
    } while (0)

/* a claim unchanged since its runs' commit is pre-registered; one whose
 * expect changed after is post hoc, and why says what it was */
START_TEST(test_changed_claim_is_post_hoc)
{
    make_history();
    nl_registry *reg = open_file("exp.yaml");
    ck_registration(ask(reg, 0, c1), NL_REG_PRE, "");
    ck_registration(ask(reg, 1, c1), NL_REG_POST_HOC, "expect was 'a < b by 0.2'");
    ck_registration(ask(reg, 0, c2), NL_REG_PRE, "");
    ck_registration(ask(reg, 1, c2), NL_REG_PRE, "");
    /* asked again: the same answers (from the registry's cache) */
    ck_registration(ask(reg, 1, c1), NL_REG_POST_HOC, "expect was");
    ck_registration(ask(reg, 0, c1), NL_REG_PRE, "");
    /* git describe's form with a tag, and a full hash */
    char described[96];
    snprintf(described, sizeof described, "v1-1-g%s", c2);
    ck_registration(ask(reg, 1, described), NL_REG_PRE, "");
    /* the file at C3 does not parse today: its claims are not those of the runs */
    ck_registration(ask(reg, 0, c3), NL_REG_POST_HOC, "does not parse under today's claims syntax");
    nl_registry_close(reg);
    tu_tmp_remove();
}
END_TEST

/* what the history cannot tell is unknown, never guessed */
START_TEST(test_unknown_commits)
{
    make_history();
    nl_registry *reg = open_file("exp.yaml");
    ck_registration(ask(reg, 0, "0123456789ab"), NL_REG_UNKNOWN, "not in this clone's history");
    char dirty[96];
    snprintf(dirty, sizeof dirty, "%s-dirty", c1);
    ck_registration(ask(reg, 0, dirty), NL_REG_UNKNOWN, "uncommitted changes");
    ck_registration(ask(reg, 0, "unknown"), NL_REG_UNKNOWN, "no commit");
    ck_registration(ask(reg, 0, "--output=x"), NL_REG_UNKNOWN, "no commit");
    ck_registration(ask(reg, 0, ""), NL_REG_UNKNOWN, "no commit");
    nl_claim_registration r;
    nl_error err = {0};
    ck_assert_int_eq(nl_registry_claim(reg, 2, c1, &r, &err), NL_ERR_USAGE);
    nl_registry_close(reg);
    tu_tmp_remove();
}
END_TEST

/* a file that did not exist at the runs' commit: all its claims post hoc */
START_TEST(test_file_absent_at_commit)
{
    make_history();
    nl_registry *reg = open_file("new.yaml");
    ck_registration(ask(reg, 0, c1), NL_REG_POST_HOC, "new.yaml did not exist at");
    ck_registration(ask(reg, 0, c2), NL_REG_PRE, "");
    nl_registry_close(reg);
    /* the one-shot form says the same */
    nl_claim_registration r;
    nl_error err = {0};
    ck_assert_msg(nl_claim_registration_of(&set, 1, c1, &r, &err) == NL_OK, "%s", err.msg);
    ck_registration(r, NL_REG_POST_HOC, "did not exist");
    tu_tmp_remove();
}
END_TEST

/* several commits: pre-registered only where all are, post hoc where any is */
START_TEST(test_several_commits)
{
    make_history();
    nl_registry *reg = open_file("exp.yaml");
    char commits[256], why[256];
    snprintf(commits, sizeof commits, "%s %s", c1, c2);
    ck_assert_int_eq(nl_registration_of_commits(reg, 0, commits, why, sizeof why), NL_REG_PRE);
    ck_assert_int_eq(nl_registration_of_commits(reg, 1, commits, why, sizeof why), NL_REG_POST_HOC);
    ck_assert_msg(strstr(why, "expect was"), "%s", why);
    snprintf(commits, sizeof commits, "%s 0123456789ab", c2);
    ck_assert_int_eq(nl_registration_of_commits(reg, 0, commits, why, sizeof why), NL_REG_UNKNOWN);
    ck_assert_msg(strstr(why, "0123456789ab"), "%s", why);
    snprintf(commits, sizeof commits, "0123456789ab %s", c1);
    ck_assert_int_eq(nl_registration_of_commits(reg, 1, commits, why, sizeof why), NL_REG_POST_HOC);
    ck_assert_int_eq(nl_registration_of_commits(reg, 0, "", why, sizeof why), NL_REG_UNKNOWN);
    ck_assert_msg(strstr(why, "no commit"), "%s", why);
    nl_registry_close(reg);
    tu_tmp_remove();
}
END_TEST

/* what the comparison reads: selectors in another order are the same
 * cell; another scope, metric or each: is another claim */
START_TEST(test_parts_compared)
{
    tu_tmp_make("registered");
    git("init -q");
    tu_tmp_write("exp.yaml", "name: t\nclaims:\n"
                             "  - {id: one, paper: p, metric: final_test_error, a: {model.norm.type: batch, "
                             "train.lr: 0.1}, b: {model.norm.type: group}, expect: a > b}\n"
                             "  - {id: two, paper: p, metric: final_test_error, a: {model.norm.type: batch}, "
                             "b: {model.norm.type: group}, scope: {train.batch_size: [2, 4]}, expect: a > b}\n");
    commit("exp.yaml", "c1", c1, sizeof c1);
    tu_tmp_write("exp.yaml", "name: t\nclaims:\n"
                             "  - {id: one, paper: changed, metric: final_test_error, a: {train.lr: 0.1, "
                             "model.norm.type: batch}, b: {model.norm.type: group}, expect: a > b}\n"
                             "  - {id: two, paper: p, metric: final_test_error, a: {model.norm.type: batch}, "
                             "b: {model.norm.type: group}, scope: {train.batch_size: 2}, expect: a > b}\n");
    nl_registry *reg = open_file("exp.yaml");
    ck_registration(ask(reg, 0, c1), NL_REG_PRE, "");
    ck_registration(ask(reg, 1, c1), NL_REG_POST_HOC, "scope: was {train.batch_size: [2, 4]}");
    nl_registry_close(reg);
    tu_tmp_write("exp.yaml", "name: t\nclaims:\n"
                             "  - {id: one, paper: p, metric: train_error, a: {model.norm.type: batch, "
                             "train.lr: 0.1}, b: {model.norm.type: group}, expect: a > b}\n"
                             "  - {id: two, paper: p, metric: final_test_error, a: {model.norm.type: batch}, "
                             "b: {model.norm.type: group}, scope: {train.batch_size: [2, 4]}, "
                             "each: train.lr, expect: a > b}\n");
    reg = open_file("exp.yaml");
    ck_registration(ask(reg, 0, c1), NL_REG_POST_HOC, "metric was 'final_test_error'");
    ck_registration(ask(reg, 1, c1), NL_REG_POST_HOC, "each: was absent");
    nl_registry_close(reg);
    /* a stop rule named after the runs (sweep/stop.h): the rule would have
     * chosen which seeds its cells keep, which the registration never let it */
    tu_tmp_write("exp.yaml", "name: t\nclaims:\n"
                             "  - {id: one, paper: p, metric: final_test_error, a: {model.norm.type: batch, "
                             "train.lr: 0.1}, b: {model.norm.type: group}, expect: a > b, stop: asha}\n"
                             "  - {id: two, paper: p, metric: final_test_error, a: {model.norm.type: batch}, "
                             "b: {model.norm.type: group}, scope: {train.batch_size: [2, 4]}, expect: a > b}\n");
    reg = open_file("exp.yaml");
    ck_registration(ask(reg, 0, c1), NL_REG_POST_HOC, "stop was '(none)'");
    ck_registration(ask(reg, 1, c1), NL_REG_PRE, "");
    nl_registry_close(reg);
    tu_tmp_remove();
}
END_TEST

/* outside a git checkout, or without git: an error naming the file, no guess */
START_TEST(test_needs_a_checkout)
{
    tu_tmp_make("registered-bare");
    tu_tmp_write("exp.yaml", file_c1);
    char path[512];
    snprintf(path, sizeof path, "%s/exp.yaml", tu_tmp);
    nl_error err = {0};
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    nl_registry *reg = NULL;
    ck_assert_int_eq(nl_registry_open(&set, &reg, &err), NL_ERR_USAGE);
    ck_assert_ptr_null(reg);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "git checkout"), "%s", err.msg);
    nl_claim_registration r;
    nl_error_clear(&err);
    ck_assert_int_eq(nl_claim_registration_of(&set, 0, "0123456789ab", &r, &err), NL_ERR_USAGE);
    /* no git on PATH (check runs each test in its own process) */
    char *path_was = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", "/nonexistent", 1);
    nl_error_clear(&err);
    const nl_code without_git = nl_registry_open(&set, &reg, &err);
    setenv("PATH", path_was, 1); /* tu_tmp_remove runs rm */
    free(path_was);
    ck_assert_int_eq(without_git, NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "git is not installed"), "%s", err.msg);
    tu_tmp_remove();
}
END_TEST

/* ---- runs judged at their first committed version (issue 68's laundering) ---- */

/* `CMD` in tu_tmp (mkdir, cp) */
static void in_tmp(const char *cmd)
{
    char line[1024];
    snprintf(line, sizeof line, "cd '%s' && %s >/dev/null 2>&1", tu_tmp, cmd);
    ck_assert_msg(system(line) == 0, "%s failed", line);
}

static const double errors[2][3] = {{0.50, 0.60, 0.55}, {0.30, 0.35, 0.32}}; /* batch, group */
static const char *const norms[2] = {"batch", "group"};

/* DIR/summary.csv with seeds 1..n_seeds, and each run's summary.json recording `commit` for seeds from..n_seeds
 * (the others' files are left as they are) */
static void write_sweep(const char *dir, int n_seeds, int from, const char *commit)
{
    char csv[2048] = "run,model.norm.type,seed,status,final_test_error\n", path[512], json[512];
    for (int s = 1; s <= n_seeds; s++)
        for (int k = 0; k < 2; k++) {
            char name[64];
            snprintf(name, sizeof name, "type-%s_seed-%d", norms[k], s);
            snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%s,%s,%d,ok,%g\n", name, norms[k], s,
                     errors[k][s - 1]);
            if (s < from)
                continue;
            snprintf(path, sizeof path, "mkdir -p %s/runs/%s", dir, name);
            in_tmp(path);
            snprintf(json, sizeof json, "{\n  \"name\": \"%s\",\n  \"status\": \"ok\",\n  \"git_commit\": \"%s\",\n"
                     "  \"final_test_error\": %g\n}\n", name, commit, errors[k][s - 1]);
            snprintf(path, sizeof path, "%s/runs/%s/summary.json", dir, name);
            tu_tmp_write(path, json);
        }
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    tu_tmp_write(path, csv);
}

#define RUN_CLAIM(id, expect, scope)                                                                             \
    "  - {id: " id ", paper: p, metric: final_test_error, a: {model.norm.type: batch}, "                          \
    "b: {model.norm.type: group}, " scope "expect: \"" expect "\"}\n"
static const char *claims_early = "name: sw\nclaims:\n" RUN_CLAIM("early", "a > b", "");
/* late and late-3 written after sw's first runs */
static const char *claims_late = "name: sw\nclaims:\n" RUN_CLAIM("early", "a > b", "")
    RUN_CLAIM("late", "a > b by 0.1", "") RUN_CLAIM("late-3", "a > b by 0.1", "scope: {seed: 3}, ");
/* the same without late-3 (a sweep without seed 3 has no runs for it) */
static const char *claims_late_only = "name: sw\nclaims:\n" RUN_CLAIM("early", "a > b", "")
    RUN_CLAIM("late", "a > b by 0.1", "");

static char r1[64], r2[64], r3[64], r4[64];

/* exp.yaml's claim `early` (R1); sw's runs of seeds 1-2 made at R1
 * (committed at R2); claims late and late-3 (R3); sw's runs regenerated at
 * R3, the same data (R4); then (with_extension) seed 3 made at R4 and sw2,
 * a new sweep of seeds 1-3 made at R4 (R5) */
static void make_run_history(bool with_extension)
{
    tu_tmp_make("registered-runs");
    git("init -q");
    tu_tmp_write("exp.yaml", claims_early);
    commit("exp.yaml", "r1", r1, sizeof r1);
    write_sweep("sw", 2, 1, r1);
    commit("sw", "r2", r2, sizeof r2);
    tu_tmp_write("exp.yaml", claims_late);
    commit("exp.yaml", "r3", r3, sizeof r3);
    write_sweep("sw", 2, 1, r3);
    commit("sw", "r4", r4, sizeof r4);
    if (!with_extension)
        return;
    write_sweep("sw", 3, 3, r4);
    write_sweep("sw2", 3, 1, r4);
    commit("sw sw2", "r5", NULL, 0);
}

/* claim id's row of dir's verdict over exp.yaml (loaded into set) */
static void verdict_of(const char *dir, nl_verdict_report *r)
{
    char path[512], sweep[512];
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/exp.yaml", tu_tmp);
    snprintf(sweep, sizeof sweep, "%s/%s", tu_tmp, dir);
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    const nl_verdict_options opt = {.level = 0.95, .seed = 1, .resamples = 1000, .registration = true};
    ck_assert_msg(nl_verdict_compute(sweep, &set, &opt, r, &err) == NL_OK, "%s", err.msg);
}

static const nl_verdict *row_of(const nl_verdict_report *r, const char *id)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->v[i].id, id))
            return &r->v[i];
    ck_abort_msg("no row %s", id);
    return NULL;
}

#define ck_row(r, id, want, part)                                                                               \
    do {                                                                                                        \
        const char *got_ = row_of((r), (id))->registered;                                                       \
        ck_assert_msg(!strncmp(got_, (want), strlen(want)) && strstr(got_, (part)), "%s: '%s', want %s ... %s", \
                      (id), got_, (want), (part));                                                              \
    } while (0)

/* a claim written after its runs stays post hoc when the runs are
 * regenerated at a later commit (the same seeds record the new commit) */
START_TEST(test_regenerated_runs_stay_post_hoc)
{
    make_run_history(false);
    tu_tmp_write("exp.yaml", claims_late_only);
    nl_verdict_report r;
    verdict_of("sw", &r);
    char want[160];
    snprintf(want, sizeof want, "its runs of seeds 1-2 were first committed at %s, before this claim", r2);
    ck_row(&r, "late", "post hoc", want);
    ck_row(&r, "late", "post hoc", "no claim 'late' at");
    ck_row(&r, "early", "pre-registered", "");
    /* the commits the runs record now (the regeneration's) are what the verdict reports */
    ck_assert_str_eq(row_of(&r, "late")->commits, r3);
    ck_assert_int_eq(row_of(&r, "late")->n_first, 1);
    ck_assert_str_eq(row_of(&r, "late")->first[0].recorded, r1);
    nl_verdict_report_free(&r);
    tu_tmp_remove();
}
END_TEST

/* seeds added after the claim are judged at their own first commit: a claim
 * over them alone is pre-registered, one over every seed post hoc (its old
 * seeds predate it); a sweep first committed after the claim is
 * pre-registered; a sweep git does not track keeps the commits it records */
START_TEST(test_extension_and_new_sweeps)
{
    make_run_history(true);
    nl_verdict_report r;
    verdict_of("sw", &r);
    ck_row(&r, "late", "post hoc", "its runs of seeds 1-2 were first committed at");
    ck_row(&r, "late-3", "pre-registered", "");
    ck_row(&r, "early", "pre-registered", "");
    nl_verdict_report_free(&r);
    verdict_of("sw2", &r);
    ck_row(&r, "late", "pre-registered", "");
    ck_row(&r, "late-3", "pre-registered", "");
    nl_verdict_report_free(&r);
    in_tmp("cp -r sw2 sw3");
    write_sweep("sw3", 3, 1, r1); /* made at R1, before late: post hoc by the commit it records */
    verdict_of("sw3", &r);
    ck_assert_int_eq(row_of(&r, "late")->n_first, 0);
    ck_row(&r, "late", "post hoc", "no claim 'late' at");
    nl_verdict_report_free(&r);
    tu_tmp_remove();
}
END_TEST

/* a first version that records a dirty tree cannot say; a shallow clone
 * does not hold the first commits: unknown, never guessed */
START_TEST(test_first_commit_unknown)
{
    make_run_history(true);
    char path[512], shallow[512];
    snprintf(path, sizeof path, "%s/exp.yaml", tu_tmp);
    nl_error err = {0};
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    nl_registry *reg = NULL;
    ck_assert_msg(nl_registry_open(&set, &reg, &err) == NL_OK, "%s", err.msg);
    nl_first_run first = {0};
    snprintf(first.added, sizeof first.added, "%s", r4);
    snprintf(first.recorded, sizeof first.recorded, "%.12s-dirty", r3);
    snprintf(first.seeds, sizeof first.seeds, "3 1 2 5");
    char why[256];
    ck_assert_int_eq(nl_registration_of_runs(reg, 1, r4, &first, 1, false, why, sizeof why), NL_REG_UNKNOWN);
    ck_assert_msg(strstr(why, "seeds 1-3, 5") && strstr(why, "uncommitted changes"), "%s", why);
    /* the same runs added before the claim existed: post hoc, whatever their tree */
    snprintf(first.added, sizeof first.added, "%s", r2);
    ck_assert_int_eq(nl_registration_of_runs(reg, 1, r4, &first, 1, false, why, sizeof why), NL_REG_POST_HOC);
    ck_assert_msg(strstr(why, "before this claim"), "%s", why);
    ck_assert_int_eq(nl_registration_of_runs(reg, 0, r4, NULL, 0, true, why, sizeof why), NL_REG_UNKNOWN);
    nl_registry_close(reg);
    /* a shallow clone: the tracked runs' first commits are not in it */
    snprintf(shallow, sizeof shallow, "git clone -q --depth 1 file://%s shallow", tu_tmp);
    in_tmp(shallow);
    snprintf(path, sizeof path, "%s/shallow/exp.yaml", tu_tmp);
    snprintf(shallow, sizeof shallow, "%s/shallow/sw", tu_tmp);
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_registry_open(&set, &reg, &err) == NL_OK, "%s", err.msg);
    nl_first_runs *f = NULL;
    ck_assert_msg(nl_first_runs_open(reg, shallow, &f, &err) == NL_OK, "%s", err.msg);
    const char *added = "x", *recorded = "x";
    ck_assert(nl_first_run_of(f, "runs/type-batch_seed-1/summary.json", &added, &recorded));
    ck_assert_str_eq(added, "");
    ck_assert(!nl_first_run_of(f, "runs/type-batch_seed-9/summary.json", &added, &recorded));
    nl_first_runs_close(f);
    nl_registry_close(reg);
    tu_tmp_remove();
}
END_TEST

/* a sweep committed packed from its start (runs.sqlite, no summary.json
 * in any commit): its runs were first committed with the pack, and the
 * commit each records is the caller's to read; a directory without a
 * pack keeps untracked runs untracked */
START_TEST(test_packed_from_start)
{
    make_run_history(false);
    in_tmp("mkdir -p packed && printf 'a pack' > packed/runs.sqlite");
    char packed_at[64], path[512];
    commit("packed", "r5", packed_at, sizeof packed_at);
    snprintf(path, sizeof path, "%s/exp.yaml", tu_tmp);
    nl_error err = {0};
    ck_assert_msg(nl_claims_load(path, &set, &err) == NL_OK, "%s", err.msg);
    nl_registry *reg = NULL;
    ck_assert_msg(nl_registry_open(&set, &reg, &err) == NL_OK, "%s", err.msg);
    nl_first_runs *f = NULL;
    snprintf(path, sizeof path, "%s/packed", tu_tmp);
    ck_assert_msg(nl_first_runs_open(reg, path, &f, &err) == NL_OK, "%s", err.msg);
    const char *added = "x", *recorded = "x";
    ck_assert(nl_first_run_of(f, "runs/type-batch_seed-1/summary.json", &added, &recorded));
    ck_assert_msg(packed_at[0] && !strncmp(added, packed_at, strlen(packed_at)), "%s, not %s", added, packed_at);
    ck_assert_str_eq(recorded, "");
    nl_first_runs_close(f);
    snprintf(path, sizeof path, "%s/sw", tu_tmp);
    ck_assert_msg(nl_first_runs_open(reg, path, &f, &err) == NL_OK, "%s", err.msg);
    ck_assert(!nl_first_run_of(f, "runs/type-batch_seed-9/summary.json", &added, &recorded));
    nl_first_runs_close(f);
    nl_registry_close(reg);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    if (system("git --version >/dev/null 2>&1") != 0) {
        printf("skipped: git is not installed\n");
        return 77;
    }
    Suite *s = suite_create("registered");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_changed_claim_is_post_hoc);
    tcase_add_test(tc, test_unknown_commits);
    tcase_add_test(tc, test_file_absent_at_commit);
    tcase_add_test(tc, test_several_commits);
    tcase_add_test(tc, test_parts_compared);
    tcase_add_test(tc, test_needs_a_checkout);
    tcase_add_test(tc, test_regenerated_runs_stay_post_hoc);
    tcase_add_test(tc, test_extension_and_new_sweeps);
    tcase_add_test(tc, test_first_commit_unknown);
    tcase_add_test(tc, test_packed_from_start);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
