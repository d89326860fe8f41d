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
#include <unistd.h>

#include "base/number.h"
#include "config/flat.h"
#include "log/files.h"
#include "results/files.h"
#include "sweep/sweep.h"

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
            nl_buf_csv_field(b, nl_unquote(nl_sweep_run_value(e, p, r, c), plain, sizeof plain));
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
/* an option's line starts so; a path (relative or absolute) never does */
#define OPTION_MARK "--"

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

nl_code nl_sweep_write_experiment_record(const nl_experiment *e, const char *sweep_dir, nl_error *err)
{
    char exp_real[PATH_MAX], dir_real[PATH_MAX], rel[2 * PATH_MAX], path[1200];
    if (!realpath(e->path, exp_real))
        return nl_fail(err, NL_ERR_IO, "cannot resolve the experiment file %s: %s", e->path, strerror(errno));
    if (!realpath(sweep_dir, dir_real))
        return nl_fail(err, NL_ERR_IO, "cannot resolve %s: %s", sweep_dir, strerror(errno));
    relative_path(dir_real, exp_real, rel, sizeof rel);
    nl_buf b = {0};
    nl_buf_printf(&b, RECORD_HEAD "%s\n", rel);
    nl_buf_printf(&b, OPTIONS_HEAD);
    for (int i = 0; i < e->n_cli_sets; i++) {
        nl_buf_printf(&b, OPTION_MARK "set ");
        escape_option(&b, e->cli_sets[i]);
        nl_buf_printf(&b, "\n");
    }
    if (e->cli_seeds)
        nl_buf_printf(&b, OPTION_MARK "seeds %d\n", e->cli_seeds);
    nl_path_join(path, sizeof path, sweep_dir, NL_SWEEP_EXPERIMENT_FILE);
    /* the same record is left as it is: a sweep resumed writes nothing it need not */
    char *had = NULL;
    nl_error ignored = {0};
    const bool same = !b.failed && nl_path_exists(path) &&
                      nl_read_file_max(path, 64 * 1024, &had, NULL, &ignored) == NL_OK && !strcmp(had, b.data);
    free(had);
    nl_code rc = b.failed ? nl_fail(err, NL_ERR_NOMEM, "out of memory")
                 : same   ? NL_OK
                          : nl_write_atomic(path, b.data, b.len, err);
    nl_buf_free(&b);
    return rc;
}

bool nl_sweep_recorded_experiment(const char *sweep_dir, char *path, size_t size, bool *found)
{
    char record[1200], *text = NULL;
    nl_error ignored = {0};
    *found = false;
    nl_path_join(record, sizeof record, sweep_dir, NL_SWEEP_EXPERIMENT_FILE);
    if (!nl_path_exists(record) || nl_read_file_max(record, 64 * 1024, &text, NULL, &ignored) != NL_OK)
        return false;
    /* the lines but comments: the relative path (records of before it was
     * the only one add the absolute path) */
    char lines[2][PATH_MAX * 2] = {"", ""};
    int n = 0;
    for (const char *line = text; *line && n < 2;) {
        const size_t len = strcspn(line, "\n");
        if (line[0] != '#' && strncmp(line, OPTION_MARK, 2) && len > 0 && len < sizeof lines[0])
            snprintf(lines[n++], sizeof lines[0], "%.*s", (int)len, line);
        line += len + (line[len] == '\n');
    }
    free(text);
    if (n == 0)
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

/* a word as a POSIX shell reads it back: bare when it holds only bytes
 * no shell treats specially, else single-quoted (a quote as '\'') */
static void shell_word(nl_buf *b, const char *word)
{
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
    if (word[0] && strspn(word, plain) == strlen(word)) {
        nl_buf_printf(b, "%s", word);
        return;
    }
    nl_buf_printf(b, "'");
    for (const char *c = word; *c; c++)
        nl_buf_printf(b, "%s", *c == '\'' ? "'\\''" : (char[2]){*c, 0});
    nl_buf_printf(b, "'");
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
    shell_word(out, rel[0] ? rel : experiment && experiment[0] ? experiment : "EXPERIMENT");
    nl_buf_printf(out, " --out ");
    shell_word(out, sweep_dir);
    char record[1200], *text = NULL;
    nl_error ignored = {0};
    nl_path_join(record, sizeof record, sweep_dir, NL_SWEEP_EXPERIMENT_FILE);
    if (!nl_path_exists(record) || nl_read_file_max(record, 64 * 1024, &text, NULL, &ignored) != NL_OK)
        return false;
    const bool known = strstr(text, OPTIONS_HEAD) != NULL;
    /* each option line: "--NAME VALUE", given back as two words */
    for (char *line = text; *line;) {
        const size_t len = strcspn(line, "\n");
        const bool more = line[len] == '\n';
        line[len] = '\0';
        char *space = strchr(line, ' ');
        if (!strncmp(line, OPTION_MARK, 2) && space) {
            *space = '\0';
            unescape_option(space + 1);
            nl_buf_printf(out, " ");
            shell_word(out, line);
            nl_buf_printf(out, " ");
            shell_word(out, space + 1);
        }
        line += len + more;
    }
    free(text);
    return known;
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
