/* Withdrawn runs from the history of a results directory
 * (verdict/withdrawn.h). Three questions to git, whatever the number of
 * runs: one `git log --raw` of every addition and removal of a run's
 * evidence files (the object id of each), one `git ls-tree` of HEAD (where
 * each object is now), and one `git cat-file` per removal for the
 * verdicts.csv before it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/number.h"
#include "base/sha1.h"
#include "results/files.h"
#include "results/store.h"
#include "results/table.h"
#include "verdict/git.h"
#include "verdict/looks.h"
#include "verdict/withdrawn.h"

/* git's answers about a large results tree (log and ls-tree of thousands
 * of runs: a few MiB today) */
#define WD_ANSWER_MAX ((size_t)256 << 20)

/* one added or removed evidence file of a run, or one at HEAD */
typedef struct {
    int commit;        /* index into the commits (-1: at HEAD) */
    char status;       /* 'A' or 'D' */
    const char *blob;  /* its object id */
    const char *path;  /* relative to the results directory: SWEEP/runs/RUN/FILE */
} wd_file;

typedef struct {
    const char *hash, *date;
} wd_commit;

typedef struct {
    char dir[PATH_MAX];
    char *log_text, *tree_text; /* git's answers, which the entries point into */
    wd_commit *commits;
    int n_commits, cap_commits;
    wd_file *files; /* the log's, newest commit first */
    int n_files, cap_files;
    wd_file *head; /* HEAD's, by object id */
    int n_head, cap_head;
    /* HEAD's packed sweeps (SWEEP/runs.sqlite), and their runs' evidence
     * files by object id, made when a removal first looks (packed[] and
     * its strings owned here) */
    char **packs;
    int n_packs, cap_packs;
    bool packed_read;
    wd_file *packed;
    int n_packed, cap_packed;
} wd_ctx;

static nl_code wd_nomem(nl_error *err) { return nl_fail(err, NL_ERR_NOMEM, "withdrawn runs: out of memory"); }

/* `git -C DIR ARGS...`, its whole stdout; a cut answer is an error */
static nl_code wd_git(const char *dir, const char *const args[], nl_git_answer *ans, nl_error *err)
{
    const char *argv[NL_GIT_MAX_ARGS] = {"-C", dir};
    for (int i = 0; args[i] && i < NL_GIT_MAX_ARGS - 3; i++)
        argv[2 + i] = args[i];
    nl_code rc = nl_git_run(argv, WD_ANSWER_MAX, false, ans, err);
    if (rc == NL_OK && ans->said.cut) {
        free(ans->said.text);
        ans->said.text = NULL;
        rc = nl_fail(err, NL_ERR_RUNTIME, "%s: git's answer about its runs is longer than %zu MiB", dir,
                     WD_ANSWER_MAX >> 20);
    }
    return rc;
}

/* whether path is SWEEP/runs/RUN/FILE with FILE a run's evidence that a
 * withdrawal removes (summary.json, metrics.csv) */
static bool wd_run_file(const char *path)
{
    static const char *const evidence[] = {NL_RUN_SUMMARY_FILE, NL_RUN_METRICS_FILE};
    const char *runs = strstr(path, "/" NL_SWEEP_RUNS_DIR "/");
    const char *base = strrchr(path, '/');
    if (!runs || runs == path || !base || base <= runs + strlen(NL_SWEEP_RUNS_DIR) + 2)
        return false;
    if (memchr(runs + strlen(NL_SWEEP_RUNS_DIR) + 2, '/', (size_t)(base - runs) - strlen(NL_SWEEP_RUNS_DIR) - 2))
        return false; /* runs/RUN/sub/FILE: not a run's own file */
    for (size_t i = 0; i < sizeof evidence / sizeof evidence[0]; i++)
        if (!strcmp(base + 1, evidence[i]))
            return true;
    return false;
}

static nl_code wd_push(wd_file **v, int *n, int *cap, wd_file f, nl_error *err)
{
    wd_file *grown = nl_grow(*v, *n, cap, sizeof *grown, 256);
    if (!grown)
        return wd_nomem(err);
    *v = grown;
    (*v)[(*n)++] = f;
    return NL_OK;
}

static nl_code wd_add_commit(wd_ctx *C, char *line, nl_error *err)
{
    wd_commit *grown = nl_grow(C->commits, C->n_commits, &C->cap_commits, sizeof *grown, 64);
    if (!grown)
        return wd_nomem(err);
    C->commits = grown;
    char *tab = strchr(line, '\t');
    if (tab)
        *tab = '\0';
    C->commits[C->n_commits++] = (wd_commit){.hash = line, .date = tab ? tab + 1 : ""};
    return NL_OK;
}

/* the next line of text at *at ('\0'-ended in place); NULL at the end */
static char *wd_line(char **at)
{
    char *line = *at;
    if (!*line)
        return NULL;
    char *end = strchr(line, '\n');
    *at = end ? end + 1 : line + strlen(line);
    if (end)
        *end = '\0';
    return line;
}

/* the n-th space-separated field of s (0-based), '\0'-ended in place */
static char *wd_field(char *s, int n)
{
    for (int i = 0; i < n && s; i++) {
        s = strchr(s, ' ');
        s = s ? s + 1 : NULL;
    }
    if (s) {
        char *end = strchr(s, ' ');
        if (end)
            *end = '\0';
    }
    return s;
}

/* `git log --raw`'s answer: "\1HASH\tDATE" per commit, then a line
 * ":MODE MODE OLD NEW STATUS\tPATH" per file (OLD the removed object, NEW
 * the added one) */
static nl_code wd_parse_log(wd_ctx *C, nl_error *err)
{
    nl_code rc = NL_OK;
    char *at = C->log_text;
    for (char *line; rc == NL_OK && (line = wd_line(&at));) {
        if (line[0] == '\1') {
            rc = wd_add_commit(C, line + 1, err);
            continue;
        }
        char *tab = strchr(line, '\t');
        if (line[0] != ':' || !tab || !C->n_commits || !wd_run_file(tab + 1))
            continue;
        *tab = '\0';
        const char status = (tab - line > 2) ? tab[-1] : '?';
        if (status != 'A' && status != 'D')
            continue;
        char *old = wd_field(line, 2);
        char *new = old ? wd_field(old + strlen(old) + 1, 0) : NULL;
        if (!old || !new)
            continue;
        const wd_file f = {.commit = C->n_commits - 1, .status = status, .blob = status == 'D' ? old : new,
                           .path = tab + 1};
        rc = wd_push(&C->files, &C->n_files, &C->cap_files, f, err);
    }
    return rc;
}

static int wd_by_blob(const void *a, const void *b)
{
    return strcmp(((const wd_file *)a)->blob, ((const wd_file *)b)->blob);
}

/* `git ls-tree -r HEAD`'s answer: "MODE TYPE OBJECT\tPATH" per file */
static nl_code wd_parse_tree(wd_ctx *C, nl_error *err)
{
    nl_code rc = NL_OK;
    char *at = C->tree_text;
    for (char *line; rc == NL_OK && (line = wd_line(&at));) {
        char *tab = strchr(line, '\t');
        const size_t len = tab ? strlen(tab + 1) : 0;
        if (len > strlen("/" NL_SWEEP_PACK) && !strcmp(tab + 1 + len - strlen("/" NL_SWEEP_PACK), "/" NL_SWEEP_PACK)) {
            tab[1 + len - strlen("/" NL_SWEEP_PACK)] = '\0';
            char **grown = nl_grow(C->packs, C->n_packs, &C->cap_packs, sizeof *grown, 64);
            if (!grown)
                return wd_nomem(err);
            C->packs = grown;
            C->packs[C->n_packs++] = tab + 1;
            continue;
        }
        if (!tab || !wd_run_file(tab + 1))
            continue;
        *tab = '\0';
        char *blob = wd_field(line, 2);
        if (blob)
            rc = wd_push(&C->head, &C->n_head, &C->cap_head, (wd_file){.commit = -1, .blob = blob, .path = tab + 1},
                         err);
    }
    if (rc == NL_OK && C->n_head)
        qsort(C->head, (size_t)C->n_head, sizeof *C->head, wd_by_blob);
    return rc;
}

/* the sweep of a run file's path (SWEEP of SWEEP/runs/RUN/FILE) into out */
static void wd_sweep_of(const char *path, char *out, size_t size)
{
    const char *runs = strstr(path, "/" NL_SWEEP_RUNS_DIR "/");
    snprintf(out, size, "%.*s", (int)(runs - path), path);
}

/* the run of a run file's path (SWEEP/runs/RUN) into out */
static void wd_run_of(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%.*s", (int)(strrchr(path, '/') - path), path);
}

/* where removed file f's bytes are: an identical file the same commit
 * added, else one at HEAD, a file or a packed run's; NULL: nowhere */
static const wd_file *wd_copy_of(const wd_ctx *C, const wd_file *f)
{
    for (int i = 0; i < C->n_files; i++)
        if (C->files[i].commit == f->commit && C->files[i].status == 'A' && !strcmp(C->files[i].blob, f->blob))
            return &C->files[i];
    const wd_file key = {.blob = f->blob};
    const wd_file *at_head =
        C->n_head ? bsearch(&key, C->head, (size_t)C->n_head, sizeof *C->head, wd_by_blob) : NULL;
    if (at_head || !C->n_packed)
        return at_head;
    return bsearch(&key, C->packed, (size_t)C->n_packed, sizeof *C->packed, wd_by_blob);
}

/* "A B" with dir added where it is not there yet (cut short where full) */
static void wd_add_dir(char *dirs, size_t size, const char *dir)
{
    for (const char *p = dirs; (p = strstr(p, dir)); p++)
        if ((p == dirs || p[-1] == ' ') && (!p[strlen(dir)] || p[strlen(dir)] == ' '))
            return;
    const size_t used = strlen(dirs);
    if (used + strlen(dir) + 2 < size)
        snprintf(dirs + used, size - used, "%s%s", used ? " " : "", dir);
}

/* run `run` of a pack: its evidence files' object ids into C->packed */
typedef struct {
    wd_ctx *C;
    nl_store *store;
    const char *sweep;
    nl_code rc;
    nl_error *err;
} wd_pack_walk;

static int wd_pack_run(const char *run, void *ctx)
{
    wd_pack_walk *pw = ctx;
    static const char *const evidence[] = {NL_RUN_SUMMARY_FILE, NL_RUN_METRICS_FILE};
    for (size_t i = 0; pw->rc == NL_OK && i < sizeof evidence / sizeof evidence[0]; i++) {
        char *text = NULL, id[41], path[PATH_MAX];
        size_t len = 0;
        nl_error absent = {0};
        if (nl_store_read(pw->store, run, evidence[i], &text, &len, &absent) != NL_OK)
            continue;
        nl_git_blob_id(text, len, id);
        free(text);
        snprintf(path, sizeof path, "%s/" NL_SWEEP_RUNS_DIR "/%s/%s", pw->sweep, run, evidence[i]);
        char *blob = strdup(id), *kept = strdup(path);
        pw->rc = blob && kept ? wd_push(&pw->C->packed, &pw->C->n_packed, &pw->C->cap_packed,
                                        (wd_file){.commit = -1, .blob = blob, .path = kept}, pw->err)
                              : wd_nomem(pw->err);
        if (pw->rc) {
            free(blob);
            free(kept);
        }
    }
    return pw->rc != NL_OK;
}

/* the object ids of the evidence in HEAD's packs (normlab pack: a sweep's
 * runs in one file), as `git ls-tree` gives them for files: a run packed,
 * or moved into a packed sweep, is where its bytes are */
static nl_code wd_read_packs(wd_ctx *C, nl_error *err)
{
    C->packed_read = true;
    nl_code rc = NL_OK;
    for (int i = 0; rc == NL_OK && i < C->n_packs; i++) {
        char dir[2 * PATH_MAX + 2];
        snprintf(dir, sizeof dir, "%s/%s", C->dir, C->packs[i]);
        wd_pack_walk pw = {.C = C, .sweep = C->packs[i], .err = err};
        if ((rc = nl_store_open(dir, &pw.store, err)) == NL_OK)
            rc = nl_store_each_run(pw.store, wd_pack_run, &pw, err);
        if (rc == NL_OK)
            rc = pw.rc;
    }
    if (rc == NL_OK && C->n_packed)
        qsort(C->packed, (size_t)C->n_packed, sizeof *C->packed, wd_by_blob);
    return rc;
}

/* one run of removal w, whose removed files are files[from .. to - 1] (of
 * that run only): renamed (or packed), elsewhere or gone */
static void wd_count_run(const wd_ctx *C, const wd_file *files, int from, int to, nl_withdrawal *w)
{
    bool same = false;
    char other[256] = "";
    for (int i = from; i < to; i++) {
        const wd_file *copy = wd_copy_of(C, &files[i]);
        char dir[256];
        if (!copy)
            continue;
        wd_sweep_of(copy->path, dir, sizeof dir);
        if (!strcmp(dir, w->sweep))
            same = true;
        else if (!other[0])
            nl_copy_string(other, sizeof other, dir);
    }
    w->runs++;
    if (same) {
        w->renamed++;
    } else if (other[0]) {
        w->elsewhere++;
        wd_add_dir(w->elsewhere_dirs, sizeof w->elsewhere_dirs, other);
    }
}

/* whether files i and j are of the same removal (commit and sweep), and of the same run */
static bool wd_same_removal(const wd_file *a, const wd_file *b)
{
    char sa[256], sb[256];
    wd_sweep_of(a->path, sa, sizeof sa);
    wd_sweep_of(b->path, sb, sizeof sb);
    return a->commit == b->commit && !strcmp(sa, sb);
}

static bool wd_same_run(const wd_file *a, const wd_file *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    wd_run_of(a->path, ra, sizeof ra);
    wd_run_of(b->path, rb, sizeof rb);
    return !strcmp(ra, rb);
}

static int wd_removed_order(const void *a, const void *b)
{
    const wd_file *x = a, *y = b;
    return x->commit != y->commit ? (x->commit < y->commit ? -1 : 1) : strcmp(x->path, y->path);
}

nl_code nl_withdrawal_verdicts_csv(const char *results_dir, const nl_withdrawal *w, char **text, nl_error *err)
{
    *text = NULL;
    char spec[PATH_MAX + 100];
    snprintf(spec, sizeof spec, "%s^:./%s/%s", w->commit, w->sweep, NL_SWEEP_VERDICTS_FILE);
    const char *const args[] = {"cat-file", "blob", spec, NULL};
    nl_git_answer ans;
    nl_code rc = wd_git(results_dir, args, &ans, err);
    if (rc == NL_OK && ans.exited_ok)
        *text = ans.said.text;
    else
        free(ans.said.text);
    return rc;
}

/* the sweep's verdicts.csv at the commit before w's, "CLAIM: VERDICT; ..." */
static nl_code wd_verdicts_before(const wd_ctx *C, nl_withdrawal *w, nl_error *err)
{
    char spec[PATH_MAX + 100];
    snprintf(spec, sizeof spec, "%s^:./%s/%s", w->commit, w->sweep, NL_SWEEP_VERDICTS_FILE);
    const char *const args[] = {"cat-file", "blob", spec, NULL};
    nl_git_answer ans;
    nl_code rc = wd_git(C->dir, args, &ans, err);
    if (rc || !ans.exited_ok) { /* none there (or the first commit): had_verdicts stays false */
        free(ans.said.text);
        return rc;
    }
    nl_csv_table t = {0};
    nl_error ignored = {0};
    if (nl_csv_table_parse(ans.said.text, spec, &t, &ignored) == NL_OK) {
        const int claim = nl_csv_table_col(&t, "claim"), verdict = nl_csv_table_col(&t, "verdict");
        w->had_verdicts = true;
        for (int r = 0; claim >= 0 && verdict >= 0 && r < t.n_rows; r++) {
            const size_t used = strlen(w->verdicts);
            snprintf(w->verdicts + used, sizeof w->verdicts - used, "%s%s: %s", used ? "; " : "",
                     t.rows[r][claim], t.rows[r][verdict]);
        }
        nl_csv_table_free(&t);
    }
    free(ans.said.text);
    return NL_OK;
}

/* the removals of files[], their runs counted, into out */
static nl_code wd_removals(wd_ctx *C, nl_withdrawals *out, nl_error *err)
{
    wd_file *removed = NULL;
    int n = 0, cap = 0;
    nl_code rc = NL_OK;
    for (int i = 0; rc == NL_OK && i < C->n_files; i++)
        if (C->files[i].status == 'D')
            rc = wd_push(&removed, &n, &cap, C->files[i], err);
    if (n)
        qsort(removed, (size_t)n, sizeof *removed, wd_removed_order);
    if (rc == NL_OK && n && C->n_packs && !C->packed_read)
        rc = wd_read_packs(C, err);
    for (int i = 0; rc == NL_OK && i < n;) {
        int end = i;
        while (end < n && wd_same_removal(&removed[i], &removed[end]))
            end++;
        nl_withdrawal *grown = realloc(out->w, (size_t)(out->n + 1) * sizeof *grown);
        if (!grown) {
            rc = wd_nomem(err);
            break;
        }
        out->w = grown;
        nl_withdrawal *w = &out->w[out->n++];
        memset(w, 0, sizeof *w);
        nl_copy_string(w->commit, sizeof w->commit, C->commits[removed[i].commit].hash);
        nl_copy_string(w->date, sizeof w->date, C->commits[removed[i].commit].date);
        wd_sweep_of(removed[i].path, w->sweep, sizeof w->sweep);
        for (int r = i; r < end;) {
            int run_end = r;
            while (run_end < end && wd_same_run(&removed[r], &removed[run_end]))
                run_end++;
            /* wd_count_run reads C->files: removed[] holds copies of its entries */
            wd_count_run(C, removed, r, run_end, w);
            r = run_end;
        }
        if (nl_withdrawal_runs(w) > 0)
            rc = wd_verdicts_before(C, w, err);
        i = end;
    }
    free(removed);
    return rc;
}

nl_code nl_withdrawals_find(const char *results_dir, nl_withdrawals *out, nl_error *err)
{
    memset(out, 0, sizeof *out);
    wd_ctx C = {0};
    nl_copy_string(C.dir, sizeof C.dir, results_dir);
    static const char pathspec_summary[] = "*/" NL_SWEEP_RUNS_DIR "/*/" NL_RUN_SUMMARY_FILE;
    static const char pathspec_metrics[] = "*/" NL_SWEEP_RUNS_DIR "/*/" NL_RUN_METRICS_FILE;
    const char *const top[] = {"rev-parse", "--is-shallow-repository", NULL};
    const char *const log[] = {"-c", "core.quotePath=false", "log", "--no-renames", "--diff-filter=AD",
                               "--no-abbrev", "--raw", "--relative", "--date=short", "--format=%x01%H%x09%ad",
                               "--", pathspec_summary, pathspec_metrics, NULL};
    const char *const tree[] = {"-c", "core.quotePath=false", "ls-tree", "-r", "HEAD", NULL};
    nl_git_answer shallow = {0}, log_ans = {0}, tree_ans = {0};
    nl_code rc = wd_git(C.dir, top, &shallow, err);
    if (rc == NL_OK && !shallow.exited_ok)
        rc = nl_fail(err, NL_ERR_USAGE, "%s is not inside a git checkout: which committed runs were withdrawn is "
                     "read from the repository's history, and is not guessed without one", results_dir);
    out->shallow = rc == NL_OK && !strncmp(shallow.said.text, "true", 4);
    if (rc == NL_OK)
        rc = wd_git(C.dir, log, &log_ans, err);
    if (rc == NL_OK && log_ans.exited_ok) /* fails in a repository without a commit: nothing removed */
        rc = wd_git(C.dir, tree, &tree_ans, err);
    C.log_text = log_ans.said.text;
    C.tree_text = tree_ans.said.text;
    if (rc == NL_OK && log_ans.exited_ok && tree_ans.exited_ok && (rc = wd_parse_log(&C, err)) == NL_OK &&
        (rc = wd_parse_tree(&C, err)) == NL_OK)
        rc = wd_removals(&C, out, err);
    free(shallow.said.text);
    free(log_ans.said.text);
    free(tree_ans.said.text);
    free(C.commits);
    free(C.files);
    free(C.head);
    for (int i = 0; i < C.n_packed; i++) {
        free((char *)C.packed[i].blob);
        free((char *)C.packed[i].path);
    }
    free(C.packed);
    free(C.packs);
    if (rc)
        nl_withdrawals_free(out);
    return rc;
}

void nl_withdrawals_free(nl_withdrawals *w)
{
    free(w->w);
    memset(w, 0, sizeof *w);
}

static const char *const wd_columns[] = {"sweep", "commit", "date", "runs", "withdrawn", "renamed", "elsewhere",
                                         "elsewhere_dirs", "verdicts_before"};

void nl_withdrawals_csv(const nl_withdrawals *w, nl_buf *out)
{
    for (size_t c = 0; c < sizeof wd_columns / sizeof wd_columns[0]; c++)
        nl_buf_printf(out, "%s%s", c ? "," : "", wd_columns[c]);
    nl_buf_printf(out, "\n");
    for (int i = 0; i < w->n; i++) {
        const nl_withdrawal *x = &w->w[i];
        if (nl_withdrawal_runs(x) <= 0)
            continue;
        nl_buf_csv_field(out, x->sweep);
        nl_buf_printf(out, ",%s,%s,%d,%d,%d,%d,", x->commit, x->date, x->runs, nl_withdrawal_runs(x), x->renamed,
                      x->elsewhere);
        nl_buf_csv_field(out, x->elsewhere_dirs);
        nl_buf_printf(out, ",");
        nl_buf_csv_field(out, x->had_verdicts ? x->verdicts : "");
        nl_buf_printf(out, "\n");
    }
}

/* whether removal x is of sweep `only` or one of its looks (the same base) */
static bool wd_concerns(const nl_withdrawal *x, const char *only)
{
    if (!only)
        return true;
    char a[256], b[256];
    nl_look_base(x->sweep, a, sizeof a);
    nl_look_base(only, b, sizeof b);
    if (!strcmp(a, b))
        return true;
    /* or where its runs are now (a copy restored under another name) */
    const size_t len = strlen(only);
    for (const char *p = x->elsewhere_dirs; (p = strstr(p, only)); p++)
        if ((p == x->elsewhere_dirs || p[-1] == ' ') && (!p[len] || p[len] == ' '))
            return true;
    return false;
}

void nl_withdrawals_text(const nl_withdrawals *w, const char *only, nl_buf *out)
{
    for (int i = 0; i < w->n; i++) {
        const nl_withdrawal *x = &w->w[i];
        if (nl_withdrawal_runs(x) <= 0 || !wd_concerns(x, only))
            continue;
        nl_buf_printf(out, "withdrawn: %s: %d of its committed runs removed by %.12s (%s)", x->sweep,
                      nl_withdrawal_runs(x), x->commit, x->date);
        if (x->elsewhere)
            nl_buf_printf(out, "; %d of them are in %s now", x->elsewhere, x->elsewhere_dirs);
        nl_buf_printf(out, "; its verdicts before: %s\n", x->had_verdicts ? x->verdicts : "none committed");
    }
}
