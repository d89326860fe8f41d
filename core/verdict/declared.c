/* Declarations against runs, from the history (STATS.md "Looks"; declared.h).
 * A sweep that plan.pilots names is a pilot, not a look, only where the
 * history shows the declaration first: the first commit of the experiment
 * file whose plan for the claim names it is a strict ancestor of the first
 * commit that added the pilot's runs. Otherwise (declared with or after
 * its runs, the declaration or the runs never committed, no history to
 * read) it is counted as a look, and --looks says why. The plan itself is
 * held to each look the same way: a plan stated after its decisive look
 * is post hoc, computed but marked. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "results/files.h"
#include "verdict/declared.h"
#include "verdict/git.h"
#include "verdict/verdict.h"

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

/* its plan names pilot `what` */
static bool lk_names_pilot(const nl_claim_set *then, const nl_claim *was, const nl_claim_set *now,
                           const nl_claim *is, const void *what)
{
    (void)now;
    (void)is;
    return lk_plan_names(nl_claim_plan_of(then, was), what);
}

bool lk_same_plan(const nl_claim_set *then, const nl_claim *was, const nl_claim_set *now, const nl_claim *is,
                  const void *what)
{
    (void)what;
    const nl_claim_plan *p = nl_claim_plan_of(then, was), *want = nl_claim_plan_of(now, is);
    return p->kind == want->kind && p->looks == want->looks && !strcmp(p->spending, want->spending);
}

nl_code lk_declared_at(const nl_claim_set *set, lk_declares *declares, const void *what, lk_commit *commit,
                       nl_error *err)
{
    char dir[PATH_MAX], file[PATH_MAX], object[PATH_MAX + 96];
    for (int i = 0; i < set->n; i++)
        commit[i][0] = '\0';
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
        return rc == NL_ERR_USAGE ? (nl_error_clear(err), NL_OK) : rc;
    }
    nl_claim_set *then = malloc(sizeof *then);
    if (!then) {
        free(a.said.text);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    }
    int found = 0;
    for (char *h = a.said.text; rc == NL_OK && *h && found < set->n; h += strcspn(h, "\n"), h += *h == '\n') {
        char hash[72];
        snprintf(hash, sizeof hash, "%.*s", (int)strcspn(h, "\n"), h);
        snprintf(object, sizeof object, "%s:./%s", hash, file);
        const char *const show[] = {"show", object, NULL};
        nl_git_answer v;
        nl_error ignored = {0}; /* a version that does not parse today declares nothing */
        if ((rc = lk_git(dir, show, &v, err)) == NL_OK && v.exited_ok &&
            nl_claims_parse(v.said.text, set->path, then, &ignored) == NL_OK)
            for (int i = 0; i < set->n; i++)
                for (int k = 0; k < then->n && !commit[i][0]; k++)
                    if (!strcmp(then->claims[k].id, set->claims[i].id) &&
                        declares(then, &then->claims[k], set, &set->claims[i], what)) {
                        nl_copy_string(commit[i], sizeof commit[i], hash);
                        found++;
                    }
        free(v.said.text);
    }
    free(then);
    free(a.said.text);
    return rc;
}

/* into out (size size) git's pathspec of the runs of sweep `name` as
 * `source` reads them: a claims file's source: reads run directories
 * (RUNS) or CSV files (TABLE) straight under the directory, with no
 * runs/ (issue 92: sync-bn-mpi-confirm's runs, committed after its plan,
 * were read as never committed, and its plan as declared after it).
 * Glob magic, so that * stays within one path component as source.c's
 * glob does; a {FIELD} of a table's name matches as * does there */
static void lk_source_pathspec(const nl_claim_source *source, const char *name, char *out, size_t size)
{
    char pattern[sizeof source->pattern];
    size_t n = 0;
    for (const char *p = source->pattern; *p && n + 1 < sizeof pattern; p++) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        pattern[n++] = close ? '*' : *p;
        p = close ? close : p;
    }
    pattern[n] = '\0';
    snprintf(out, size, ":(glob)%s/%s%s", name, pattern, source->kind == NL_SOURCE_RUNS ? "/**" : "");
}

/* the first commit that added runs of sweep `name` (under h's parent)
 * into runs, "" none; *in_git false where it is in no git checkout. A
 * sweep's runs are under its runs/ or in its pack (runs.sqlite); where h->source is a claims file's
 * source:, where that reads them too (a pilot may still be a sweep) */
static nl_code lk_runs_added(lk_history *h, const char *name, lk_commit runs, bool *in_git, nl_error *err)
{
    char pathspec[PATH_MAX + 64], packed[PATH_MAX + 64], sourced[PATH_MAX + 320] = "";
    snprintf(pathspec, sizeof pathspec, "%s/%s", name, NL_SWEEP_RUNS_DIR);
    /* or its pack, where its runs were committed packed */
    snprintf(packed, sizeof packed, "%s/%s", name, NL_SWEEP_PACK);
    const bool other = h->source && h->source->kind != NL_SOURCE_SWEEP && h->source->pattern[0];
    if (other)
        lk_source_pathspec(h->source, name, sourced, sizeof sourced);
    /* one ledger of a directory of sweeps asks for sets of both kinds: the answer is the pathspecs' */
    for (int i = 0; i < h->n_added; i++)
        if (!strcmp(h->added[i].name, name) && !strcmp(h->added[i].sourced, sourced)) {
            nl_copy_string(runs, sizeof(lk_commit), h->added[i].runs);
            *in_git = h->added[i].in_git;
            return NL_OK;
        }
    const char *const first[] = {"log", "--no-renames", "--diff-filter=A", "--format=%H", "--reverse", "--",
                                 pathspec, packed, other ? sourced : NULL, NULL};
    nl_git_answer a;
    runs[0] = '\0';
    nl_code rc = lk_git(h->parent, first, &a, err);
    *in_git = rc == NL_OK && a.exited_ok;
    if (rc == NL_ERR_USAGE) {
        nl_error_clear(err);
        rc = NL_OK;
    }
    if (*in_git)
        lk_first_line(&a, runs, sizeof(lk_commit));
    free(a.said.text);
    if (rc == NL_OK && h->n_added < LK_MEMO && strlen(name) < sizeof h->added[0].name &&
        strlen(sourced) < sizeof h->added[0].sourced) {
        nl_copy_string(h->added[h->n_added].name, sizeof h->added[0].name, name);
        nl_copy_string(h->added[h->n_added].sourced, sizeof h->added[0].sourced, sourced);
        nl_copy_string(h->added[h->n_added].runs, sizeof(lk_commit), runs);
        h->added[h->n_added++].in_git = *in_git;
    }
    return rc;
}

/* whether commit `declared` is a strict ancestor of commit `runs` */
static nl_code lk_before(lk_history *h, const char *declared, const char *runs, bool *before, nl_error *err)
{
    *before = false;
    if (!strcmp(declared, runs))
        return NL_OK;
    for (int i = 0; i < h->n_order; i++)
        if (!strcmp(h->order[i].declared, declared) && !strcmp(h->order[i].runs, runs)) {
            *before = h->order[i].before;
            return NL_OK;
        }
    const char *const anc[] = {"merge-base", "--is-ancestor", declared, runs, NULL};
    nl_git_answer a;
    nl_code rc = lk_git(h->parent, anc, &a, err);
    *before = rc == NL_OK && a.exited_ok;
    free(a.said.text);
    if (rc == NL_OK && h->n_order < LK_MEMO) {
        nl_copy_string(h->order[h->n_order].declared, sizeof(lk_commit), declared);
        nl_copy_string(h->order[h->n_order].runs, sizeof(lk_commit), runs);
        h->order[h->n_order++].before = *before;
    }
    return rc;
}

/* the first commit at which the pilot's own file (experiments/NAME.yaml or
 * experiments/claims/NAME.yaml, beside the base's) declares it a pilot of
 * claim c, the same id, in its plan, into declared ("" none). A pilot the
 * schedule prints is registered in a file of its own before any run; its
 * base's plan can name it only once its runs exist (normlab verdict
 * refuses a pilots: entry naming no sweep), so that file's history is
 * where the declaration comes first */
static nl_code lk_declared_by_own_plan(const lk_history *h, const nl_claim_set *set, const nl_claim *c,
                                       const char *name, lk_commit declared, nl_error *err)
{
    char experiments[PATH_MAX], pilot_dir[PATH_MAX], path[PATH_MAX];
    declared[0] = '\0';
    nl_copy_string(experiments, sizeof experiments, set->path);
    char *slash = strrchr(experiments, '/');
    if (!slash)
        return NL_OK;
    *slash = '\0';
    const size_t len = strlen(experiments);
    if (len >= 7 && !strcmp(experiments + len - 7, "/claims"))
        experiments[len - 7] = '\0';
    snprintf(pilot_dir, sizeof pilot_dir, "%s/%s", h->parent, name);
    nl_error ignored = {0}; /* no file of its own, or one that does not load: no declaration of its own */
    if (nl_verdict_find_experiment(pilot_dir, experiments, path, sizeof path, &ignored) != NL_OK)
        return NL_OK;
    nl_claim_set *own = malloc(sizeof *own);
    if (!own)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_code rc = NL_OK;
    if (nl_claims_load(path, own, &ignored) == NL_OK) {
        static lk_commit by_claim[NL_CLAIM_MAX];
        int index = -1;
        for (int i = 0; i < own->n && index < 0; i++)
            index = strcmp(own->claims[i].id, c->id) ? -1 : i;
        if (index >= 0 && (rc = lk_declared_at(own, lk_names_pilot, name, by_claim, err)) == NL_OK)
            nl_copy_string(declared, sizeof(lk_commit), by_claim[index]);
    }
    free(own);
    return rc;
}

nl_code lk_pilot_check(lk_history *h, const nl_claim_set *set, const nl_claim *c, const char *name,
                       lk_pilot *out, nl_error *err)
{
    static lk_commit declared_by_claim[NL_CLAIM_MAX];
    memset(out, 0, sizeof *out);
    lk_commit runs = "";
    const char *declared = declared_by_claim[c - set->claims];
    bool in_git = false;
    nl_code rc = lk_runs_added(h, name, runs, &in_git, err);
    if (rc == NL_OK && !in_git) {
        snprintf(out->why, sizeof out->why, "%.200s is not in a git checkout: nothing shows the declaration came "
                 "before the runs", h->parent);
        return NL_OK;
    }
    if (rc == NL_OK)
        rc = lk_declared_at(set, lk_names_pilot, name, declared_by_claim, err);
    if (rc)
        return rc;
    if (!declared[0]) {
        snprintf(out->why, sizeof out->why, "its declaration in %.200s is not committed: nothing shows it came "
                 "before the runs", set->path);
        return NL_OK;
    }
    if (!runs[0]) {
        snprintf(out->why, sizeof out->why, "declared at %.12s, but its runs were never committed: nothing shows "
                 "the declaration came first", declared);
        return NL_OK;
    }
    if ((rc = lk_before(h, declared, runs, &out->pilot, err)))
        return rc;
    snprintf(out->why, sizeof out->why, "declared at %.12s, %s its runs (first committed at %.12s)", declared,
             out->pilot ? "before" : !strcmp(declared, runs) ? "in the same commit as" : "not before", runs);
    lk_commit own = "";
    if (!out->pilot && (rc = lk_declared_by_own_plan(h, set, c, name, own, err)) == NL_OK && own[0] &&
        (rc = lk_before(h, own, runs, &out->pilot, err)) == NL_OK && out->pilot)
        snprintf(out->why, sizeof out->why, "declared a pilot in its own plan at %.12s, before its runs (first "
                 "committed at %.12s); its base's plan names it at %.12s", own, runs, declared);
    return rc;
}

nl_code lk_plan_against(lk_history *h, const char *declared, const char *name, bool *before, char *why,
                        size_t size, nl_error *err)
{
    lk_commit runs = "";
    bool in_git = false;
    *before = false;
    nl_code rc = declared[0] ? lk_runs_added(h, name, runs, &in_git, err) : NL_OK;
    if (rc == NL_OK && declared[0] && runs[0])
        rc = lk_before(h, declared, runs, before, err);
    if (!declared[0])
        snprintf(why, size, "plan not committed: not before this look");
    else if (!runs[0])
        snprintf(why, size, "plan declared at %.12s; this look's runs never committed", declared);
    else
        snprintf(why, size, "plan declared at %.12s, %s this look", declared, *before ? "before" : "after");
    return rc;
}
