/* Pre-registration from the repository's history (verdict/registered.h).
 * git runs as a child process with a fixed argv, no shell: the commit and
 * the path come from files (summary.json, the command line), and a shell
 * would read them as code. Each commit asked about is looked up once
 * (exists? the file's object id there?), each distinct version of the file
 * read and parsed once: a verdict asks for every claim and every commit of
 * its runs, and most commits hold the same version of the file. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/number.h"
#include "log/files.h"
#include "verdict/git.h"
#include "results/summary_keys.h"
#include "results/files.h"
#include "verdict/registered.h"

const char *const nl_registration_names[NL_REG_KIND_COUNT] = {"pre-registered", "post hoc", "unknown"};

/* git's answer to one question */
typedef nl_git_answer rg_answer;

/* one version of the file, by its git object id */
typedef struct {
    char object[72]; /* SHA-1 or SHA-256, hex */
    nl_claim_set *set; /* NULL where it did not parse */
    char parse_error[200];
} rg_version;

/* what one commit says about the whole file */
typedef struct {
    char commit[64]; /* as the runs record it */
    nl_registration kind; /* PRE: the file is there (version), else why */
    char why[256];
    int version;
} rg_commit;

struct nl_registry {
    const nl_claim_set *set;
    char top[PATH_MAX];     /* the work tree's top */
    char relpath[PATH_MAX]; /* the file, relative to it */
    rg_commit *commits;
    int n_commits, cap_commits;
    rg_version *versions;
    int n_versions, cap_versions;
};

/* git's stdout for rev-parse and the like: a line */
#define RG_SHORT_MAX 4096

/* Runs git with argv (argv[0] "git", NULL-ended) through nl_git_run, the
 * repository's configured programs turned off (a cloned repository's
 * .git/config is not ours to run), its stdout (and stderr with stderr_too:
 * git's reason, to quote in an error) into ans, at most max bytes kept;
 * git's messages are not ours to print otherwise. NL_ERR_USAGE when git is
 * not installed; git's own failure is ans->exited_ok false, not an error.
 * The caller frees ans->said.text. */
static nl_code rg_git(const char *const argv[], size_t max, bool stderr_too, rg_answer *ans, nl_error *err)
{
    return nl_git_run(argv + 1, max, stderr_too, ans, err);
}

/* `git -C DIR ARGS...` (args NULL-ended, at most 5), stdout's first line
 * into line; ok false where git failed, said nothing or said too much */
static nl_code rg_git_line(const char *dir, const char *const args[], char *line, size_t size, bool *ok,
                           nl_error *err)
{
    const char *argv[9] = {"git", "-C", dir};
    for (int i = 0; i < 5 && args[i]; i++)
        argv[3 + i] = args[i];
    rg_answer ans;
    nl_code rc = rg_git(argv, RG_SHORT_MAX, false, &ans, err);
    if (rc)
        return rc;
    ans.said.text[strcspn(ans.said.text, "\r\n")] = '\0';
    *ok = ans.exited_ok && !ans.said.cut && ans.said.text[0] && strlen(ans.said.text) < size;
    nl_copy_string(line, size, *ok ? ans.said.text : "");
    free(ans.said.text);
    return NL_OK;
}

/* git's own reason why `git -C DIR rev-parse --show-toplevel` failed (not
 * a repository, a repository another user owns), its first line */
static void rg_git_reason(const char *dir, char *said, size_t size)
{
    const char *argv[] = {"git", "-C", dir, "rev-parse", "--show-toplevel", NULL};
    rg_answer ans;
    nl_error ignored = {0};
    nl_copy_string(said, size, "no reason given");
    if (rg_git(argv, RG_SHORT_MAX, true, &ans, &ignored) != NL_OK)
        return;
    const char *line = ans.said.text;
    if (!strncmp(line, "fatal: ", 7))
        line += 7;
    const size_t len = strcspn(line, "\r\n");
    if (len)
        snprintf(said, size, "%.*s", (int)len, line);
    free(ans.said.text);
}

/* the file's directory and base name, the directory made absolute and
 * free of symbolic links (git's --show-toplevel is) */
static nl_code rg_locate(const char *path, char *dir, char *full, nl_error *err)
{
    char copy[PATH_MAX];
    nl_copy_string(copy, sizeof copy, path);
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    const char *parent = slash ? (slash == copy ? "/" : copy) : ".";
    if (slash)
        *slash = '\0';
    if (!*base)
        return nl_fail(err, NL_ERR_USAGE, "%s: not a file", path);
    if (!realpath(parent, dir))
        return nl_fail(err, NL_ERR_USAGE, "%s: cannot find its directory (%s)", path, strerror(errno));
    if (snprintf(full, PATH_MAX, "%s/%s", strcmp(dir, "/") ? dir : "", base) >= PATH_MAX)
        return nl_fail(err, NL_ERR_USAGE, "%s: too long a path", path);
    return NL_OK;
}

nl_code nl_registry_open(const nl_claim_set *set, nl_registry **out, nl_error *err)
{
    *out = NULL;
    nl_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return nl_fail(err, NL_ERR_NOMEM, "pre-registration lookup: out of memory");
    reg->set = set;
    char dir[PATH_MAX], full[PATH_MAX];
    bool ok = false;
    nl_code rc = rg_locate(set->path, dir, full, err);
    if (rc == NL_OK) {
        const char *const args[] = {"rev-parse", "--show-toplevel", NULL};
        rc = rg_git_line(dir, args, reg->top, sizeof reg->top, &ok, err);
        if (rc == NL_ERR_USAGE) /* git is not installed */
            nl_error_prefix(err, "%s: whether its claims were pre-registered is looked up with git: ",
                            set->path);
    }
    if (rc == NL_OK && !ok) {
        char said[256];
        rg_git_reason(dir, said, sizeof said);
        rc = nl_fail(err, NL_ERR_USAGE,
                     "%s is not inside a git checkout (git: %s): whether its claims were pre-registered is "
                     "looked up in the repository's history, and is not guessed without one (--no-registration marks the claims not checked)",
                     set->path, said);
    }
    const size_t top_len = strlen(reg->top);
    if (rc == NL_OK && (strncmp(full, reg->top, top_len) || full[top_len] != '/'))
        rc = nl_fail(err, NL_ERR_USAGE, "%s is not inside its git checkout's top, %s", set->path, reg->top);
    if (rc) {
        free(reg);
        return rc;
    }
    nl_copy_string(reg->relpath, sizeof reg->relpath, full + top_len + 1);
    *out = reg;
    return NL_OK;
}

void nl_registry_close(nl_registry *reg)
{
    if (!reg)
        return;
    for (int i = 0; i < reg->n_versions; i++)
        free(reg->versions[i].set);
    free(reg->versions);
    free(reg->commits);
    free(reg);
}

/* ---- what one commit holds ---- */

/* appends to buf, cut short (never past size) where it is full */
static void rg_add(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void rg_add(char *buf, size_t size, const char *fmt, ...)
{
    const size_t used = strlen(buf);
    if (used + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

/* why's text: cut short where it does not fit (a reason, not data) */
static void rg_say(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void rg_say(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

/* The hash in what the runs record: "HASH", git describe's "TAG-N-gHASH".
 * False, with why, where it names nothing to look up: "-dirty" (the runs
 * ran a tree with uncommitted changes, whose claims the history does not
 * hold), "unknown" (a build outside git), anything not a hash. */
static bool rg_commit_hash(const char *commit, char *hash, size_t size, char *why, size_t why_size)
{
    static const char dirty[] = "-dirty";
    const size_t len = strlen(commit), dirty_len = sizeof dirty - 1;
    if (len > dirty_len && !strcmp(commit + len - dirty_len, dirty)) {
        rg_say(why, why_size,
                 "the runs were made from %s, a tree with uncommitted changes, whose claims the history does "
                 "not hold",
                 commit);
        return false;
    }
    const char *start = commit;
    for (const char *g = strstr(commit, "-g"); g; g = strstr(g + 1, "-g"))
        start = g + 2;
    const size_t hex = strspn(start, "0123456789abcdef");
    if (hex < 4 || hex > 64 || start[hex] || hex >= size) {
        rg_say(why, why_size, "the runs record no commit to look up ('%.*s')", 64, commit);
        return false;
    }
    nl_copy_string(hash, size, start);
    return true;
}

/* the version of the file with git object id `object`, read and parsed on
 * first use; *index -1 (with why) where the object is not a file */
static nl_code rg_version_of(nl_registry *reg, const char *object, int *index, nl_error *err)
{
    for (*index = 0; *index < reg->n_versions; (*index)++)
        if (!strcmp(reg->versions[*index].object, object))
            return NL_OK;
    rg_version *grown = nl_grow(reg->versions, reg->n_versions, &reg->cap_versions,
                                sizeof *grown, 4);
    if (!grown)
        return nl_fail(err, NL_ERR_NOMEM, "pre-registration lookup: out of memory");
    reg->versions = grown;
    const char *argv[] = {"git", "-C", reg->top, "cat-file", "blob", object, NULL};
    rg_answer ans;
    nl_code rc = rg_git(argv, NL_READ_TEXT_MAX, false, &ans, err);
    if (rc)
        return rc;
    if (!ans.exited_ok) { /* a tree (a directory of that name then), say */
        free(ans.said.text);
        *index = -1;
        return NL_OK;
    }
    rg_version *v = &reg->versions[reg->n_versions];
    memset(v, 0, sizeof *v);
    nl_copy_string(v->object, sizeof v->object, object);
    v->set = ans.said.cut ? NULL : malloc(sizeof *v->set);
    nl_error parse_err = {0};
    if (ans.said.cut)
        rg_say(v->parse_error, sizeof v->parse_error, "longer than an experiment file may be (%zu MiB)",
                 (size_t)NL_READ_TEXT_MAX >> 20);
    else if (!v->set)
        rc = nl_fail(err, NL_ERR_NOMEM, "pre-registration lookup: out of memory");
    else if (nl_claims_parse(ans.said.text, reg->relpath, v->set, &parse_err) != NL_OK) {
        /* an older syntax is an answer (post hoc), not an error */
        nl_copy_string(v->parse_error, sizeof v->parse_error, parse_err.msg);
        free(v->set);
        v->set = NULL;
    }
    free(ans.said.text);
    if (rc)
        return rc;
    *index = reg->n_versions++;
    return NL_OK;
}

/* what commit c holds of the file: a version (kind PRE) or why not */
static nl_code rg_commit_fill(nl_registry *reg, rg_commit *c, nl_error *err)
{
    char hash[72], full[72], spec[PATH_MAX + 80], object[72];
    c->kind = NL_REG_UNKNOWN;
    c->version = -1;
    if (!rg_commit_hash(c->commit, hash, sizeof hash, c->why, sizeof c->why))
        return NL_OK;
    bool ok = false;
    snprintf(spec, sizeof spec, "%s^{commit}", hash);
    const char *const find_commit[] = {"rev-parse", "--verify", "--quiet", spec, NULL};
    nl_code rc = rg_git_line(reg->top, find_commit, full, sizeof full, &ok, err);
    if (rc == NL_OK && !ok) {
        char shallow[16] = "";
        const char *const ask_shallow[] = {"rev-parse", "--is-shallow-repository", NULL};
        rc = rg_git_line(reg->top, ask_shallow, shallow, sizeof shallow, &ok, err);
        rg_say(c->why, sizeof c->why, "commit %s is not in this clone's history%s", hash,
                 !strcmp(shallow, "true") ? " (a shallow clone: git fetch --unshallow)"
                                          : " (or its short hash names several)");
        return rc;
    }
    if (rc == NL_OK) {
        snprintf(spec, sizeof spec, "%s:%s", full, reg->relpath);
        const char *const find_file[] = {"rev-parse", "--verify", "--quiet", spec, NULL};
        rc = rg_git_line(reg->top, find_file, object, sizeof object, &ok, err);
    }
    if (rc == NL_OK && ok)
        rc = rg_version_of(reg, object, &c->version, err);
    if (rc)
        return rc;
    c->kind = c->version >= 0 ? NL_REG_PRE : NL_REG_POST_HOC;
    if (c->version < 0)
        rg_say(c->why, sizeof c->why, ok ? "%.*s was not a file at %s" : "%.*s did not exist at %s", 200,
                 reg->relpath, hash);
    return NL_OK;
}

/* the entry for `commit`, looked up on first use */
static nl_code rg_commit_of(nl_registry *reg, const char *commit, const rg_commit **out, nl_error *err)
{
    for (int i = 0; i < reg->n_commits; i++)
        if (!strcmp(reg->commits[i].commit, commit)) {
            *out = &reg->commits[i];
            return NL_OK;
        }
    rg_commit *grown = nl_grow(reg->commits, reg->n_commits, &reg->cap_commits, sizeof *grown, 8);
    if (!grown)
        return nl_fail(err, NL_ERR_NOMEM, "pre-registration lookup: out of memory");
    reg->commits = grown;
    rg_commit *c = &reg->commits[reg->n_commits];
    memset(c, 0, sizeof *c);
    nl_copy_string(c->commit, sizeof c->commit, commit);
    nl_code rc = rg_commit_fill(reg, c, err);
    if (rc)
        return rc; /* not kept: a failure to run git is not the commit's answer */
    reg->n_commits++;
    *out = c;
    return NL_OK;
}

/* ---- one claim against its text at a commit ---- */

/* {key: value, key: [item, item]} as the file writes them */
static void rg_selectors_text(const nl_claim_select *s, int n, char *buf, size_t size)
{
    nl_copy_string(buf, size, "{");
    for (int i = 0; i < n; i++) {
        rg_add(buf, size, "%s%s: ", i ? ", " : "", s[i].key);
        if (s[i].kind != NL_SELECT_LIST) {
            rg_add(buf, size, "%s", s[i].value[0] ? s[i].value : "\"\"");
            continue;
        }
        const char *item = s[i].value;
        rg_add(buf, size, "[");
        for (int k = 0; *item; k++) {
            const size_t item_len = strcspn(item, "\n");
            rg_add(buf, size, "%s%.*s", k ? ", " : "", (int)item_len, item);
            item += item_len + (item[item_len] == '\n');
        }
        rg_add(buf, size, "]");
    }
    rg_add(buf, size, "}");
}

/* the same selectors, in any order (a mapping's keys are unique) */
static bool rg_selectors_same(const nl_claim_select *now, int n_now, const nl_claim_select *then, int n_then)
{
    if (n_now != n_then)
        return false;
    for (int i = 0; i < n_now; i++) {
        bool found = false;
        for (int j = 0; j < n_then && !found; j++)
            found = now[i].kind == then[j].kind && !strcmp(now[i].key, then[j].key) &&
                    !strcmp(now[i].value, then[j].value);
        if (!found)
            return false;
    }
    return true;
}

/* the same keys, in any order */
static bool rg_keys_same(const char (*now)[96], int n_now, const char (*then)[96], int n_then)
{
    if (n_now != n_then)
        return false;
    for (int i = 0; i < n_now; i++) {
        bool found = false;
        for (int j = 0; j < n_then && !found; j++)
            found = !strcmp(now[i], then[j]);
        if (!found)
            return false;
    }
    return true;
}

static void rg_keys_text(const char (*keys)[96], int n, char *buf, size_t size)
{
    nl_copy_string(buf, size, n ? "[" : "absent");
    for (int i = 0; i < n; i++)
        rg_add(buf, size, "%s%s%s", i ? ", " : "", keys[i], i == n - 1 ? "]" : "");
}

static bool rg_number_same(double now, double then) { return now == then || (isnan(now) && isnan(then)); }

/* a metric's definition: what it reads and how it reduces it; why names
 * the part that differs (`what`: "metric", "b_metric", "vars.x") */
static bool rg_metric_same(const char *what, const nl_claim_metric *now, const nl_claim_metric *then, char *why,
                           size_t size)
{
    char text[200];
    if (now->is_expr != then->is_expr || strcmp(now->name, then->name))
        rg_say(why, size, "%s was '%.*s'", what, 200, then->name);
    else if (strcmp(now->file, then->file))
        rg_say(why, size, "%s's file was '%s'", what, then->file);
    else if (now->at != then->at)
        rg_say(why, size, "%s's at: was %s", what, nl_metric_at_names[then->at]);
    else if (!rg_selectors_same(now->where, now->n_where, then->where, then->n_where)) {
        rg_selectors_text(then->where, then->n_where, text, sizeof text);
        rg_say(why, size, "%s's where: was %s", what, text);
    } else if (now->has_reach != then->has_reach || now->reach_op != then->reach_op ||
               !rg_number_same(now->reach_x, then->reach_x)) {
        if (then->has_reach)
            rg_say(why, size, "%s's reach: was '%s %g'", what, then->reach_op == NL_EXPECT_GREATER ? ">=" : "<=",
                     then->reach_x);
        else
            rg_say(why, size, "%s's reach: was absent", what);
    } else
        return true;
    return false;
}

/* metric:, b_metric:, vars: */
static bool rg_metrics_same(const nl_claim *now, const nl_claim *then, char *why, size_t size)
{
    if (!rg_metric_same("metric", &now->metric, &then->metric, why, size))
        return false;
    if (now->has_b_metric != then->has_b_metric) {
        rg_say(why, size, "b_metric was %s", then->has_b_metric ? then->b_metric.name : "absent");
        return false;
    }
    if (now->has_b_metric && !rg_metric_same("b_metric", &now->b_metric, &then->b_metric, why, size))
        return false;
    if (now->n_vars != then->n_vars) {
        rg_say(why, size, "vars: had %d then", then->n_vars);
        return false;
    }
    for (int i = 0; i < now->n_vars; i++) {
        char what[48];
        snprintf(what, sizeof what, "vars.%s", now->var_names[i]);
        int j = 0;
        while (j < then->n_vars && strcmp(now->var_names[i], then->var_names[j]))
            j++;
        if (j == then->n_vars) {
            rg_say(why, size, "vars: had no '%s'", now->var_names[i]);
            return false;
        }
        if (!rg_metric_same(what, &now->vars[i], &then->vars[j], why, size))
            return false;
    }
    return true;
}

/* a, b, c, d and scope: the runs each side reads */
static bool rg_cells_same(const nl_claim *now, const nl_claim *then, char *why, size_t size)
{
    char text[200];
    for (int k = 0; k < NL_CELL_COUNT; k++) {
        const nl_claim_cell *a = &now->cells[k], *b = &then->cells[k];
        if (a->given != b->given || !rg_selectors_same(a->sel, a->n, b->sel, b->n)) {
            rg_selectors_text(b->sel, b->n, text, sizeof text);
            rg_say(why, size, "%s: was %s", nl_cell_names[k], b->given ? text : "absent");
            return false;
        }
        if (strcmp(a->sweep, b->sweep)) {
            rg_say(why, size, "%s's sweep: was '%s'", nl_cell_names[k], b->sweep);
            return false;
        }
    }
    if (!rg_selectors_same(now->scope, now->n_scope, then->scope, then->n_scope)) {
        rg_selectors_text(then->scope, then->n_scope, text, sizeof text);
        rg_say(why, size, "scope: was %s", then->n_scope ? text : "absent");
        return false;
    }
    return true;
}

/* each:, each_row:, cells: how the claim splits and counts */
static bool rg_grouping_same(const nl_claim *now, const nl_claim *then, char *why, size_t size)
{
    char text[200];
    if (!rg_keys_same(now->each, now->n_each, then->each, then->n_each)) {
        rg_keys_text(then->each, then->n_each, text, sizeof text);
        rg_say(why, size, "each: was %s", text);
    } else if (strcmp(now->each_row, then->each_row))
        rg_say(why, size, "each_row: was '%s'", then->each_row);
    else if (now->cells_op != then->cells_op || now->cells_k != then->cells_k) {
        static const char *const ops[] = {"absent", "all", "", ">= ", "<= "};
        if (then->cells_op == NL_CELLS_NONE || then->cells_op == NL_CELLS_ALL)
            rg_say(why, size, "cells: was %s", ops[then->cells_op]);
        else
            rg_say(why, size, "cells: was '%s%d'", ops[then->cells_op], then->cells_k);
    } else
        return true;
    return false;
}

/* Whether claim `now` is `then` (the same id's, at an older commit): its
 * expectation, the runs it reads, how it splits them. why names the first
 * part that differs and what it was. Keys today's parser adds later are
 * compared here too, where they change what the claim tests. */
static bool rg_claim_same(const nl_claim *now, const nl_claim *then, char *why, size_t size)
{
    if (strcmp(now->expect, then->expect)) {
        rg_say(why, size, "expect was '%s'", then->expect);
        return false;
    }
    if (!rg_number_same(now->threshold, then->threshold)) {
        rg_say(why, size, "threshold was %g", then->threshold);
        return false;
    }
    if (!rg_number_same(now->within, then->within)) {
        rg_say(why, size, "within was %g", then->within);
        return false;
    }
    /* a stop rule lets the outcome choose which seeds a cell keeps: one
     * named after the runs is not the registration's */
    if (strcmp(now->stop, then->stop)) {
        rg_say(why, size, "stop was '%s'", then->stop[0] ? then->stop : "(none)");
        return false;
    }
    return rg_metrics_same(now, then, why, size) && rg_cells_same(now, then, why, size) &&
           rg_grouping_same(now, then, why, size);
}

/* ---- the API ---- */

nl_code nl_registry_claim(nl_registry *reg, int claim_index, const char *commit, nl_claim_registration *out,
                          nl_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = NL_REG_UNKNOWN;
    if (claim_index < 0 || claim_index >= reg->set->n)
        return nl_fail(err, NL_ERR_USAGE, "%s has no claim %d (it has %d)", reg->set->path, claim_index,
                       reg->set->n);
    if (strlen(commit) >= sizeof reg->commits[0].commit) { /* no hash is that long */
        rg_say(out->why, sizeof out->why, "the runs record no commit to look up ('%.64s...')", commit);
        return NL_OK;
    }
    const rg_commit *c = NULL;
    nl_code rc = rg_commit_of(reg, commit, &c, err);
    if (rc)
        return rc;
    out->kind = c->kind;
    nl_copy_string(out->why, sizeof out->why, c->why);
    if (c->kind != NL_REG_PRE)
        return NL_OK;
    const nl_claim_set *then = reg->versions[c->version].set;
    const nl_claim *now = &reg->set->claims[claim_index];
    out->kind = NL_REG_POST_HOC;
    if (!then) {
        rg_say(out->why, sizeof out->why, "the file at %s does not parse under today's claims syntax: %s", commit,
                 reg->versions[c->version].parse_error);
        return NL_OK;
    }
    int j = 0;
    while (j < then->n && strcmp(then->claims[j].id, now->id))
        j++;
    char part[200];
    if (j == then->n)
        rg_say(out->why, sizeof out->why, "no claim '%s' at %s", now->id, commit);
    else if (!rg_claim_same(now, &then->claims[j], part, sizeof part))
        rg_say(out->why, sizeof out->why, "%s at %s", part, commit);
    else
        out->kind = NL_REG_PRE;
    return NL_OK;
}

nl_registration nl_registration_of_commits(nl_registry *reg, int claim_index, const char *commits, char *why,
                                           size_t why_size)
{
    nl_registration kind = NL_REG_PRE;
    nl_copy_string(why, why_size, "");
    int seen = 0;
    for (const char *s = commits; *s;) {
        s += strspn(s, " ");
        const size_t len = strcspn(s, " ");
        if (!len)
            break;
        char commit[128];
        snprintf(commit, sizeof commit, "%.*s", (int)len, s);
        s += len;
        seen++;
        nl_claim_registration one;
        nl_error err = {0};
        if (nl_registry_claim(reg, claim_index, commit, &one, &err) != NL_OK) {
            one.kind = NL_REG_UNKNOWN;
            nl_copy_string(one.why, sizeof one.why, err.msg);
        }
        /* post hoc at any commit decides; the first unknown's reason stands otherwise */
        if (one.kind == NL_REG_POST_HOC && kind != NL_REG_POST_HOC) {
            kind = NL_REG_POST_HOC;
            nl_copy_string(why, why_size, one.why);
        } else if (one.kind == NL_REG_UNKNOWN && kind == NL_REG_PRE) {
            kind = NL_REG_UNKNOWN;
            nl_copy_string(why, why_size, one.why);
        }
    }
    if (!seen) {
        nl_copy_string(why, why_size, "the runs record no commit");
        return NL_REG_UNKNOWN;
    }
    return kind;
}

nl_code nl_claim_registration_of(const nl_claim_set *set, int claim_index, const char *commit,
                                 nl_claim_registration *out, nl_error *err)
{
    nl_registry *reg = NULL;
    nl_code rc = nl_registry_open(set, &reg, err);
    if (rc == NL_OK)
        rc = nl_registry_claim(reg, claim_index, commit, out, err);
    nl_registry_close(reg);
    return rc;
}

/* ---- when a sweep's runs were first committed ---- */

/* one tracked run */
typedef struct {
    char *path;        /* its summary.json, relative to the directory */
    char added[72];    /* the commit that first added it */
    char recorded[64]; /* the git_commit that version records */
} rg_first;

struct nl_first_runs {
    rg_first *runs;
    int n, cap;
    bool shallow;         /* the first commits are not in this clone's history */
    char pack_added[72];  /* the commit that first added the directory's pack ("": none) */
};

/* `git -C DIR ARGS...` (args NULL-ended, at most 12), its whole stdout */
static nl_code rg_git_in(const char *dir, const char *const args[], rg_answer *ans, nl_error *err)
{
    const char *argv[16] = {"git", "-C", dir};
    for (int i = 0; i < 12 && args[i]; i++)
        argv[3 + i] = args[i];
    nl_code rc = rg_git(argv, NL_READ_TEXT_MAX, false, ans, err);
    if (rc == NL_OK && ans->said.cut) {
        free(ans->said.text);
        rc = nl_fail(err, NL_ERR_RUNTIME, "%s: git's list of its runs' first commits is longer than %zu MiB", dir,
                     (size_t)NL_READ_TEXT_MAX >> 20);
    }
    return rc;
}

static rg_first *rg_first_find(const nl_first_runs *f, const char *path)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->runs[i].path, path))
            return &f->runs[i];
    return NULL;
}

/* `git log --diff-filter=A --reverse --name-only`'s answer: a line "\1HASH"
 * per commit, then the files it added; a run's first line wins */
static nl_code rg_first_parse_log(nl_first_runs *f, char *text, nl_error *err)
{
    static const char tail[] = "/" NL_RUN_SUMMARY_FILE;
    const char *commit = "";
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        const size_t len = strlen(line);
        if (line[0] == '\1') {
            commit = line + 1;
            continue;
        }
        if (len < sizeof tail || strcmp(line + len - (sizeof tail - 1), tail) || !commit[0] ||
            strlen(commit) >= sizeof f->runs[0].added || rg_first_find(f, line))
            continue;
        rg_first *grown = nl_grow(f->runs, f->n, &f->cap, sizeof *grown, 64);
        if (!grown)
            return nl_fail(err, NL_ERR_NOMEM, "pre-registration lookup: out of memory");
        f->runs = grown;
        rg_first *r = &f->runs[f->n];
        memset(r, 0, sizeof *r);
        if (!(r->path = strdup(line)))
            return nl_fail(err, NL_ERR_NOMEM, "pre-registration lookup: out of memory");
        nl_copy_string(r->added, sizeof r->added, commit);
        f->n++;
    }
    return NL_OK;
}

/* `git grep -z '"git_commit"' HASH`'s answer ("HASH:PATH\0LINE\n" per
 * file): the recorded commit of each run that HASH first added */
static void rg_first_parse_grep(nl_first_runs *f, const char *hash, const char *text, size_t size)
{
    const size_t hash_len = strlen(hash);
    for (const char *p = text, *end = text + size; p < end;) {
        const char *name = p, *line = name + strlen(name) + 1;
        if (line >= end)
            break;
        const char *eol = strchr(line, '\n');
        p = eol ? eol + 1 : end;
        if (strncmp(name, hash, hash_len) || name[hash_len] != ':')
            continue;
        rg_first *r = rg_first_find(f, name + hash_len + 1);
        if (!r || strcmp(r->added, hash))
            continue;
        const char *v = strstr(line, "\"" NL_SUMMARY_GIT_COMMIT "\"");
        v = v ? strchr(v + 12, ':') : NULL;
        v = v ? v + 1 + strspn(v + 1, " \t") : NULL;
        if (v && *v == '"') { /* null, or nothing: "" (no commit to look up) */
            const size_t len = strcspn(v + 1, "\"\n");
            snprintf(r->recorded, sizeof r->recorded, "%.*s", (int)(len < sizeof r->recorded ? len : 0), v + 1);
        }
    }
}

/* the recorded commits of the runs each distinct adding commit added: one
 * git grep per adding commit */
static nl_code rg_first_read_versions(nl_first_runs *f, const char *dir, nl_error *err)
{
    static const char pathspec[] = "*/" NL_RUN_SUMMARY_FILE;
    for (int i = 0; i < f->n; i++) {
        bool earlier = false;
        for (int j = 0; j < i && !earlier; j++)
            earlier = !strcmp(f->runs[j].added, f->runs[i].added);
        if (earlier)
            continue;
        const char *const args[] = {"grep", "-z", "-F", "-e", "\"" NL_SUMMARY_GIT_COMMIT "\"", f->runs[i].added, "--", pathspec, NULL};
        rg_answer ans;
        nl_code rc = rg_git_in(dir, args, &ans, err);
        if (rc)
            return rc;
        rg_first_parse_grep(f, f->runs[i].added, ans.said.text, ans.said.len);
        free(ans.said.text);
    }
    return NL_OK;
}

nl_code nl_first_runs_open(const nl_registry *reg, const char *dir, nl_first_runs **out, nl_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return nl_fail(err, NL_ERR_NOMEM, "pre-registration lookup: out of memory");
    nl_first_runs *f = *out;
    char top[PATH_MAX], shallow[16] = "";
    bool ok = false;
    const char *const ask_top[] = {"rev-parse", "--show-toplevel", NULL};
    nl_code rc = rg_git_line(dir, ask_top, top, sizeof top, &ok, err);
    if (rc || !ok || strcmp(top, reg->top)) /* not tracked here: each run keeps the commit it records */
        return rc;
    const char *const ask_shallow[] = {"rev-parse", "--is-shallow-repository", NULL};
    rc = rg_git_line(dir, ask_shallow, shallow, sizeof shallow, &ok, err);
    f->shallow = !strcmp(shallow, "true");
    static const char pathspec[] = "*/" NL_RUN_SUMMARY_FILE;
    const char *const log[] = {"-c",       "core.quotePath=false", "log", "--no-renames", "--diff-filter=A",
                               "--reverse", "--relative",          "--format=%x01%H", "--name-only", "--",
                               pathspec,   NULL};
    rg_answer ans = {0};
    if (rc == NL_OK)
        rc = rg_git_in(dir, log, &ans, err);
    if (rc == NL_OK && ans.exited_ok)
        rc = rg_first_parse_log(f, ans.said.text, err);
    if (rc == NL_OK) /* git log failed (a repository without a commit yet): none tracked */
        f->n = ans.exited_ok ? f->n : 0;
    free(ans.said.text);
    if (rc == NL_OK && !f->shallow)
        rc = rg_first_read_versions(f, dir, err);
    /* a sweep committed packed from its start has no summary.json in the
     * history: its runs were first committed with the pack */
    const char *const pack_log[] = {"log", "--diff-filter=A", "--reverse", "--format=%H", "--", NL_SWEEP_PACK, NULL};
    rg_answer pack = {0};
    if (rc == NL_OK && !f->shallow)
        rc = rg_git_in(dir, pack_log, &pack, err);
    if (rc == NL_OK && pack.exited_ok && pack.said.text)
        nl_copy_string(f->pack_added, sizeof f->pack_added, pack.said.text);
    f->pack_added[strcspn(f->pack_added, "\n")] = '\0';
    free(pack.said.text);
    return rc;
}

bool nl_first_run_of(const nl_first_runs *f, const char *rel, const char **added, const char **recorded)
{
    const rg_first *r = f ? rg_first_find(f, rel) : NULL;
    if (!r && f && f->pack_added[0] && !strncmp(rel, NL_SWEEP_RUNS_DIR "/", strlen(NL_SWEEP_RUNS_DIR "/"))) {
        *added = f->pack_added;
        *recorded = ""; /* the pack's version is the run's own: the caller's */
        return true;
    }
    if (!r)
        return false;
    *added = f->shallow ? "" : r->added;
    *recorded = f->shallow ? "" : r->recorded;
    return true;
}

void nl_first_runs_close(nl_first_runs *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++)
        free(f->runs[i].path);
    free(f->runs);
    free(f);
}

/* "1-3, 5" of "1 2 3 5" where every seed is a number, else the list as it is */
static void rg_seed_ranges(const char *seeds, char *out, size_t size)
{
    /* every seed: a list has fewer than one per two characters */
    long long *v = malloc((strlen(seeds) / 2 + 1) * sizeof *v);
    if (!v) {
        nl_copy_string(out, size, seeds);
        return;
    }
    int n = 0;
    for (const char *p = seeds + strspn(seeds, " "); *p;) {
        const size_t len = strcspn(p, " ");
        char token[32] = "";
        if (len < sizeof token)
            memcpy(token, p, len);
        if (len >= sizeof token || !nl_parse_ll(token, 0, LLONG_MAX, &v[n])) {
            nl_copy_string(out, size, seeds);
            free(v);
            return;
        }
        n++;
        p += len + strspn(p + len, " ");
    }
    for (int i = 1; i < n; i++) /* at most a grid's seeds: insertion sort */
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            const long long t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    out[0] = '\0';
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && v[j] < LLONG_MAX && v[j + 1] == v[j] + 1)
            j++;
        if (j > i)
            rg_add(out, size, "%s%lld-%lld", i ? ", " : "", v[i], v[j]);
        else
            rg_add(out, size, "%s%lld", i ? ", " : "", v[i]);
        i = j + 1;
    }
    free(v);
}

nl_registration nl_registration_of_runs(nl_registry *reg, int claim_index, const char *commits,
                                        const nl_first_run *first, int n_first, bool overflow, char *why,
                                        size_t why_size)
{
    nl_registration kind = nl_registration_of_commits(reg, claim_index, commits, why, why_size);
    for (int g = 0; g < n_first && kind != NL_REG_POST_HOC; g++) {
        char ranges[128], seeds[160], hash[16];
        rg_seed_ranges(first[g].seeds, ranges, sizeof ranges);
        /* "-": a sweep without a seed key, one run per cell */
        if (!ranges[0] || !strcmp(ranges, "-"))
            nl_copy_string(seeds, sizeof seeds, "its runs");
        else
            snprintf(seeds, sizeof seeds, "its runs of seed%s %s", strpbrk(ranges, ",- ") ? "s" : "", ranges);
        snprintf(hash, sizeof hash, "%.12s", first[g].added);
        if (!first[g].added[0]) {
            if (kind == NL_REG_PRE)
                rg_say(why, why_size, "%s are tracked, but a shallow clone's history does not "
                       "hold their first commit (git fetch --unshallow)", seeds);
            kind = NL_REG_UNKNOWN;
            continue;
        }
        /* where they were made, then where they were committed: the first post hoc decides */
        const char *at[2] = {first[g].recorded, hash};
        for (int k = 0; k < 2 && kind != NL_REG_POST_HOC; k++) {
            char one_why[256];
            const nl_registration one = nl_registration_of_commits(reg, claim_index, at[k], one_why, sizeof one_why);
            if (one == NL_REG_PRE || (one == NL_REG_UNKNOWN && kind != NL_REG_PRE))
                continue;
            rg_say(why, why_size, "%s were first committed at %s%s: %s", seeds, hash,
                   one == NL_REG_POST_HOC ? ", before this claim" : "", one_why);
            kind = one;
        }
    }
    if (overflow && kind == NL_REG_PRE) {
        rg_say(why, why_size, "its runs were first committed at more commits than the lookup keeps");
        kind = NL_REG_UNKNOWN;
    }
    return kind;
}
