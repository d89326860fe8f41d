/* summary.csv: one row per run of the plan, rebuilt from the run
 * directories' summary.json files (the source of truth) and replaced
 * atomically, so a reader (or a kill -9) never sees half of it. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/number.h"
#include "config/flat.h"
#include "config/norm_label.h"
#include "log/files.h"
#include "results/files.h"
#include "sweep/sweep.h"

const char *nl_sweep_run_formula(const nl_sweep_plan *p, const nl_sweep_run *r, int column, const char *value)
{
    /* a formula by its one name, never "expr" or its text (issue 114) */
    const bool named = value[0] && nl_norm_label_is_formula(r->norm) &&
                       (!strcmp(p->columns[column], "model.norm.type") ||
                        !strcmp(p->columns[column], "model.norm.expr"));
    return named ? r->norm : value;
}

nl_code nl_sweep_summary_text(const nl_experiment *e, const nl_sweep_plan *p,
                              const nl_sweep_result *results, nl_buf *b, nl_error *err)
{
    memset(b, 0, sizeof *b);
    nl_buf_printf(b, NL_SWEEP_RUN_COLUMN);
    for (int c = 0; c < p->n_columns; c++) {
        nl_buf_printf(b, ",");
        nl_buf_csv_field(b, p->columns[c]);
    }
    nl_buf_printf(b, "," NL_SWEEP_STATUS_COLUMN);
    for (int m = 0; m < NL_SWEEP_N_METRICS; m++)
        nl_buf_printf(b, ",%s", nl_sweep_metric_names[m]);
    nl_buf_printf(b, "\n");
    for (int i = 0; i < p->n_runs; i++) {
        const nl_sweep_run *r = &p->runs[i];
        nl_buf_csv_field(b, r->dir);
        for (int c = 0; c < p->n_columns; c++) {
            char plain[1024];
            nl_buf_printf(b, ",");
            nl_unquote(nl_sweep_run_value(e, p, r, c), plain, sizeof plain);
            nl_buf_csv_field(b, nl_sweep_run_formula(p, r, c, plain));
        }
        nl_buf_printf(b, ",%s", nl_sweep_state_name(results[i].state));
        for (int m = 0; m < NL_SWEEP_N_METRICS; m++) {
            nl_buf_printf(b, ",");
            nl_buf_csv_field(b, results[i].metrics[m]);
        }
        nl_buf_printf(b, "\n");
    }
    if (b->failed) {
        nl_buf_free(b);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory writing summary.csv");
    }
    return NL_OK;
}

nl_code nl_sweep_write_summary(const nl_experiment *e, const nl_sweep_plan *p,
                               const nl_sweep_result *results, const char *sweep_dir, nl_error *err)
{
    nl_buf b;
    nl_code rc = nl_sweep_summary_text(e, p, results, &b, err);
    if (rc)
        return rc;
    char path[1200];
    nl_path_join(path, sizeof path, sweep_dir, NL_SWEEP_SUMMARY_FILE);
    rc = nl_write_atomic(path, b.data, b.len, err);
    nl_buf_free(&b);
    return rc;
}

/* the path of `to` relative to the directory `from` (both absolute and
 * resolved): "../" for each of from's components below their common part,
 * then the rest of to */
static void relative_path(const char *from, const char *to, char *out, size_t size)
{
    size_t i = 0, common = 0;
    while (from[i] && from[i] == to[i])
        if (from[i++] == '/')
            common = i;
    if (!from[i] && to[i] == '/')
        common = i + 1; /* from is a whole-component prefix of to */
    size_t used = 0;
    out[0] = '\0';
    for (const char *c = common <= strlen(from) ? from + common : ""; *c && used < size;) {
        used += (size_t)snprintf(out + used, size - used, "../");
        c += strcspn(c, "/");
        c += *c == '/';
    }
    if (used < size)
        snprintf(out + used, size - used, "%s", to + common);
}

/* relative only: an absolute path would put this machine's directories
 * (a home's name) into committed evidence, and differ between clones */
#define RECORD_HEAD "# normlab sweep: the experiment file this sweep was run from, relative to this directory\n"
/* written even when there are none: a record without it is older than the
 * options' record, and its sweep may have been started with some */
#define OPTIONS_HEAD "# and the options it was started with that change its runs (its resume command repeats them)\n"
/* the experiment's text as the sweep started is kept beside the record
 * (NL_SWEEP_EXPERIMENT_COPY); this line gives its hash, 16 hex digits (a
 * comment, so that a reader older than it skips it as it skips the heads;
 * a committed sweep's record given one afterwards says so in a comment) */
#define KEPT_HEAD "# its text is kept beside this record in " NL_SWEEP_EXPERIMENT_COPY ", whose FNV-1a 64-bit hash is "
/* an option's line starts so; a path (relative or absolute) never does */
#define OPTION_MARK "--"

/* whether path is a symbolic link. The record and the kept copy are
 * written by normlab alone, through its writer that follows no link: a
 * link there is someone else's, and what it points at (any file of the
 * reader's) is never read, so none of its lines reaches a page or a
 * message that travels. */
static bool is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* a line of the record holds one option: a value's line break and
 * backslash are escaped (\n, \\), and undone by unescape_option */
static void escape_option(nl_buf *b, const char *value)
{
    for (const char *c = value; *c; c++)
        nl_buf_printf(b, "%s", *c == '\n' ? "\\n" : *c == '\\' ? "\\\\" : (char[2]){*c, 0});
}

static void unescape_option(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++)
        *w++ = r[0] == '\\' && (r[1] == 'n' || r[1] == '\\') ? (*++r == 'n' ? '\n' : '\\') : *r;
    *w = '\0';
}

/* the text's hash, kept in the record: FNV-1a, 64 bits (a check that the
 * file at the recorded path is still the text the sweep kept, not a seal) */
static unsigned long long text_hash(const char *text, size_t len)
{
    unsigned long long h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
    return h;
}

/* A hash as the record writes it: 16 lowercase hex digits. Hashes are
 * compared as this text, never read back as numbers (numbers are read in
 * core/base/number.h alone, and a digest is no number a user types). */
enum { HASH_TEXT = 17 };

static void hash_text(const char *text, size_t len, char out[HASH_TEXT])
{
    snprintf(out, HASH_TEXT, "%016llx", text_hash(text, len));
}

/* the hash a record's text keeps of the experiment's text; false: none (a
 * record older than the kept copy) */
static bool recorded_hash(const char *record, char hash[HASH_TEXT])
{
    const char *at = record ? strstr(record, KEPT_HEAD) : NULL;
    if (!at)
        return false;
    at += strlen(KEPT_HEAD);
    if (strspn(at, "0123456789abcdef") != HASH_TEXT - 1)
        return false;
    memcpy(hash, at, HASH_TEXT - 1);
    hash[HASH_TEXT - 1] = '\0';
    return true;
}

/* whether a file can be read and its text has the hash `want` */
static bool file_has_hash(const char *path, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    nl_error ignored = {0};
    if (!nl_path_exists(path) || nl_read_file_max(path, NL_READ_TEXT_MAX, &text, &len, &ignored) != NL_OK)
        return false;
    char got[HASH_TEXT];
    hash_text(text, len, got);
    free(text);
    return !strcmp(got, want);
}

/* The experiment's text into the directory's kept copy: nothing written
 * when the copy already holds it; replaced when the copy there is the one
 * this sweep kept before (its hash is the one the record had: the
 * experiment file was changed between two starts of the sweep); refused
 * when it is any other file, which is the user's. */
static nl_code keep_copy(const char *copy, const char *text, size_t len, const char *record_path,
                         const char *record, nl_error *err)
{
    if (!nl_path_exists(copy))
        return nl_write_atomic(copy, text, len, err);
    char *had = NULL;
    size_t had_len = 0;
    nl_error why = {0};
    if (nl_read_file_max(copy, NL_READ_TEXT_MAX, &had, &had_len, &why) != NL_OK)
        return nl_fail(err, NL_ERR_USAGE, "%s: the sweep keeps its experiment file's text there, and cannot "
                       "read what is there now (%s); move it away", copy, why.msg);
    char kept[HASH_TEXT], had_hash[HASH_TEXT];
    hash_text(had, had_len, had_hash);
    const bool same = had_len == len && !memcmp(had, text, len);
    const bool ours = recorded_hash(record, kept) && !strcmp(kept, had_hash);
    free(had);
    if (same)
        return NL_OK;
    if (!ours)
        return nl_fail(err, NL_ERR_USAGE, "%s exists and is not the copy of its experiment file this sweep kept "
                       "(%s records no hash of that text, or another): the sweep keeps the experiment's text "
                       "there, and does not replace a file it did not write; move it away", copy, record_path);
    return nl_write_atomic(copy, text, len, err);
}

nl_code nl_sweep_write_experiment_record(const nl_experiment *e, const char *sweep_dir, nl_error *err)
{
    char exp_real[PATH_MAX], dir_real[PATH_MAX], rel[2 * PATH_MAX], path[1200], copy[1200];
    if (!realpath(e->path, exp_real))
        return nl_fail(err, NL_ERR_IO, "cannot resolve the experiment file %s: %s", e->path, strerror(errno));
    if (!realpath(sweep_dir, dir_real))
        return nl_fail(err, NL_ERR_IO, "cannot resolve %s: %s", sweep_dir, strerror(errno));
    char *text = NULL;
    size_t len = 0;
    nl_code rc = nl_read_file_max(e->path, NL_READ_TEXT_MAX, &text, &len, err);
    if (rc)
        return rc;
    relative_path(dir_real, exp_real, rel, sizeof rel);
    nl_buf b = {0};
    nl_buf_printf(&b, RECORD_HEAD "%s\n", rel);
    char hash[HASH_TEXT];
    hash_text(text, len, hash);
    nl_buf_printf(&b, KEPT_HEAD "%s\n", hash);
    nl_buf_printf(&b, OPTIONS_HEAD);
    for (int i = 0; i < e->n_cli_sets; i++) {
        nl_buf_printf(&b, OPTION_MARK "set ");
        escape_option(&b, e->cli_sets[i]);
        nl_buf_printf(&b, "\n");
    }
    if (e->cli_seeds)
        nl_buf_printf(&b, OPTION_MARK "seeds %d\n", e->cli_seeds);
    nl_path_join(path, sizeof path, sweep_dir, NL_SWEEP_EXPERIMENT_FILE);
    nl_path_join(copy, sizeof copy, sweep_dir, NL_SWEEP_EXPERIMENT_COPY);
    /* the same record is left as it is: a sweep resumed writes nothing it need not */
    char *had = NULL;
    nl_error ignored = {0};
    if (nl_path_exists(path) && (is_link(path) || nl_read_file_max(path, 64 * 1024, &had, NULL, &ignored) != NL_OK))
        had = NULL;
    const bool same = !b.failed && had && !strcmp(had, b.data);
    /* the copy before the record that names its hash: a sweep killed
     * between the two leaves a copy the next start finds the same */
    rc = b.failed ? nl_fail(err, NL_ERR_NOMEM, "out of memory") : keep_copy(copy, text, len, path, had, err);
    if (rc == NL_OK && !same)
        rc = nl_write_atomic(path, b.data, b.len, err);
    free(had);
    free(text);
    nl_buf_free(&b);
    return rc;
}

/* the record's text (caller frees): NULL when absent, unreadable or a link */
static char *read_record(const char *sweep_dir)
{
    char record[1200], *text = NULL;
    nl_error ignored = {0};
    nl_path_join(record, sizeof record, sweep_dir, NL_SWEEP_EXPERIMENT_FILE);
    if (!nl_path_exists(record) || is_link(record) ||
        nl_read_file_max(record, 64 * 1024, &text, NULL, &ignored) != NL_OK)
        return NULL;
    return text;
}

/* the record's path lines (comments and options skipped): the relative
 * path, and the absolute one of records from before it was the only one;
 * the record's text into *text (caller frees) when text is not NULL */
static int record_paths(const char *sweep_dir, char lines[2][PATH_MAX * 2], char **text_out)
{
    char *text = read_record(sweep_dir);
    if (!text)
        return -1;
    int n = 0;
    for (const char *line = text; *line && n < 2;) {
        const size_t len = strcspn(line, "\n");
        if (line[0] != '#' && strncmp(line, OPTION_MARK, 2) && len > 0 && len < sizeof lines[0])
            snprintf(lines[n++], sizeof lines[0], "%.*s", (int)len, line);
        line += len + (line[len] == '\n');
    }
    if (text_out)
        *text_out = text;
    else
        free(text);
    return n;
}

bool nl_sweep_recorded_experiment(const char *sweep_dir, char *path, size_t size, bool *found)
{
    char lines[2][PATH_MAX * 2] = {"", ""};
    *found = false;
    if (record_paths(sweep_dir, lines, NULL) <= 0)
        return false;
    char rel[PATH_MAX * 3];
    if (lines[0][0] == '/')
        snprintf(rel, sizeof rel, "%s", lines[0]);
    else
        snprintf(rel, sizeof rel, "%s/%s", sweep_dir, lines[0]);
    const char *candidates[] = {rel, lines[1]};
    for (int c = 0; c < 2 && !*found; c++)
        if (candidates[c][0] && nl_path_exists(candidates[c])) {
            nl_copy_string(path, size, candidates[c]);
            *found = true;
        }
    if (!*found)
        nl_copy_string(path, size, lines[1][0] ? lines[1] : rel);
    return true;
}

void nl_sweep_experiment_source_of(const char *sweep_dir, nl_sweep_experiment_source *out)
{
    memset(out, 0, sizeof *out);
    char record_path[1200];
    nl_path_join(record_path, sizeof record_path, sweep_dir, NL_SWEEP_EXPERIMENT_FILE);
    if ((out->record_is_link = is_link(record_path)))
        return;
    if (!(out->recorded = nl_sweep_recorded_experiment(sweep_dir, out->path, sizeof out->path, &out->path_found)))
        return;
    char lines[2][PATH_MAX * 2] = {"", ""}, *record = NULL;
    record_paths(sweep_dir, lines, &record);
    char kept[HASH_TEXT] = "";
    const bool has_hash = recorded_hash(record, kept);
    free(record);
    if (out->path_found && has_hash)
        out->path_changed = !file_has_hash(out->path, kept);
    char copy[1200];
    nl_path_join(copy, sizeof copy, sweep_dir, NL_SWEEP_EXPERIMENT_COPY);
    if (has_hash && nl_path_exists(copy) && !is_link(copy)) {
        nl_copy_string(out->copy, sizeof out->copy, copy);
        out->copy_changed = !file_has_hash(copy, kept);
    }
    if (out->path_found && !out->path_changed) {
        nl_copy_string(out->read, sizeof out->read, out->path);
        out->from = NL_SWEEP_EXP_AT_PATH;
    } else if (out->copy[0]) {
        nl_copy_string(out->read, sizeof out->read, out->copy);
        out->from = NL_SWEEP_EXP_KEPT;
    } else if (out->path_found) {
        nl_copy_string(out->read, sizeof out->read, out->path);
        out->from = NL_SWEEP_EXP_CHANGED;
    }
}

/* a word as a POSIX shell reads it back: bare when it holds only bytes
 * no shell treats specially and does not start with '-', else
 * single-quoted (a quote as '\'') */
static void shell_word(nl_buf *b, const char *word)
{
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
    if (word[0] && word[0] != '-' && strspn(word, plain) == strlen(word)) {
        nl_buf_printf(b, "%s", word);
        return;
    }
    nl_buf_printf(b, "'");
    for (const char *c = word; *c; c++)
        nl_buf_printf(b, "%s", *c == '\'' ? "'\\''" : (char[2]){*c, 0});
    nl_buf_printf(b, "'");
}

/* a path as one word that no command line takes for an option: a
 * relative one starting with '-' is given as ./-... (normlab, like most
 * commands, reads an operand starting with '-' as an unknown option) */
static void shell_path(nl_buf *b, const char *path)
{
    if (path[0] != '-') {
        shell_word(b, path);
        return;
    }
    nl_buf dotted = {0};
    nl_buf_printf(&dotted, "./%s", path);
    shell_word(b, dotted.failed ? path : dotted.data);
    nl_buf_free(&dotted);
}

/* each option line of the record's text (cut up in place): "--NAME VALUE",
 * given to each as its name and value. Only the options this writer
 * records, --set and --seeds: a record edited or made elsewhere with --out,
 * --force, --shard... would make a pasted command do something else than
 * resume this sweep, and a page say the sweep ran with what it did not */
static int record_options(char *text, void (*each)(void *ctx, const char *name, const char *value), void *ctx)
{
    int n = 0;
    for (char *line = text; *line;) {
        const size_t len = strcspn(line, "\n");
        const bool more = line[len] == '\n';
        line[len] = '\0';
        char *space = strchr(line, ' ');
        if (space && (!strncmp(line, OPTION_MARK "set ", 6) || !strncmp(line, OPTION_MARK "seeds ", 8))) {
            *space = '\0';
            unescape_option(space + 1);
            each(ctx, line, space + 1);
            n++;
        }
        line += len + more;
    }
    return n;
}

/* an option given back as two words, its value quoted for the shell */
static void resume_word(void *ctx, const char *name, const char *value)
{
    nl_buf_printf(ctx, " %s ", name); /* --set or --seeds */
    shell_word(ctx, value);
}

bool nl_sweep_resume_command(const char *experiment, const char *sweep_dir, nl_buf *out)
{
    /* "sw/../exp.yaml" (the record's path joined to the directory's) reads
     * as exp.yaml from here: the same file, as the one who types it would */
    char exp_real[PATH_MAX], cwd_real[PATH_MAX], rel[2 * PATH_MAX] = "";
    if (experiment && experiment[0] && experiment[0] != '/' && realpath(experiment, exp_real) &&
        realpath(".", cwd_real))
        relative_path(cwd_real, exp_real, rel, sizeof rel);
    nl_buf_printf(out, "normlab sweep ");
    shell_path(out, rel[0] ? rel : experiment && experiment[0] ? experiment : "EXPERIMENT");
    nl_buf_printf(out, " --out ");
    shell_path(out, sweep_dir);
    char *text = read_record(sweep_dir);
    if (!text)
        return false;
    const bool known = strstr(text, OPTIONS_HEAD) != NULL;
    record_options(text, resume_word, out);
    free(text);
    return known;
}

int nl_sweep_recorded_options(const char *sweep_dir, nl_buf *out)
{
    char *text = read_record(sweep_dir);
    if (!text)
        return 0;
    const int n = record_options(text, resume_word, out);
    free(text);
    return n;
}

/* "name.tmp.<pid>" of a writer that is no longer alive on this machine */
static bool stale_temp(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t)
        return false;
    long long pid;
    if (!nl_parse_ll(t + 5, 1, INT_MAX, &pid)) /* a pid_t */
        return false;
    /* a zombie (killed, not yet reaped by whoever inherited it) is dead too */
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = nl_fopen_system(path);
    if (f) {
        const size_t got = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[got] = '\0';
        const char *paren = strrchr(stat, ')');
        return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
    }
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int nl_sweep_remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (!stale_temp(entry->d_name))
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        removed += unlink(path) == 0;
    }
    closedir(d);
    return removed;
}
