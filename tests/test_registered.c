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

/* `git ARGS` in tu_tmp (the test's directory: no characters a shell reads) */
static void git(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && git -c user.name=t -c user.email=t@t -c commit.gpgsign=false -c init.defaultBranch=main "
             "%s >/dev/null 2>&1",
             tu_tmp, args);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* HEAD's short hash, as runs record it (git describe --abbrev=12) */
static void head(char *hash, size_t size)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && git rev-parse --short=12 HEAD >head.txt 2>/dev/null", tu_tmp);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
    char *text = tu_tmp_read("head.txt");
    text[strcspn(text, "\n")] = '\0';
    nl_copy_string(hash, size, text);
    free(text);
}

static char c1[64], c2[64], c3[64];

/* the repository: exp.yaml at C1, C2 and C3; new.yaml from C2 on; the
 * work tree's exp.yaml is C2's (what the verdict reads today) */
static void make_history(void)
{
    tu_tmp_make("registered");
    git("init -q");
    tu_tmp_write("exp.yaml", file_c1);
    git("add exp.yaml && git -c user.name=t -c user.email=t@t commit -q -m c1");
    head(c1, sizeof c1);
    tu_tmp_write("exp.yaml", file_c2);
    tu_tmp_write("new.yaml", file_c2);
    git("add exp.yaml new.yaml && git -c user.name=t -c user.email=t@t commit -q -m c2");
    head(c2, sizeof c2);
    tu_tmp_write("exp.yaml", file_c3);
    git("add exp.yaml && git -c user.name=t -c user.email=t@t commit -q -m c3");
    head(c3, sizeof c3);
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
    git("add exp.yaml && git -c user.name=t -c user.email=t@t commit -q -m c1");
    head(c1, sizeof c1);
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
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
