/* One boundary for every string and path that reaches an interpreter or the
 * disk (issue 69), tried over every subcommand of `normlab --help` (a
 * command the table below does not place fails the test, so a new writer
 * cannot slip past it):
 *  - hostile text in the cells of a sweep's summary.csv, in a run's
 *    metrics.csv and as the name: of runs' config.yaml (line breaks, quotes, gnuplot's backquotes and
 *    system(), a heredoc's EOD, HTML, "..", control and non-UTF-8 bytes)
 *    goes through every reader and writer: nothing runs (no PWNED file),
 *    the command succeeds, prints no escape byte of the input's to the
 *    terminal, every text file it writes is well-formed UTF-8,
 *    its scripts hold no backquote, its CSV files read back whole and its
 *    page holds no markup of the input's;
 *  - run names that would leave the sweep directory ("..", "/", absolute,
 *    names equal but for case) and a symbolic link in an export's logdir
 *    are refused with exit status 2, and nothing is created outside the
 *    command's output directory;
 *  - the escaping functions themselves (gnuplot strings and data cells,
 *    CSV, JSON, HTML) on the same strings.
 * Seeded defects it catches: a gnuplot string printed without pl_q (the
 * backquote reaches the script: script_problem refuses it, the command
 * fails), an HTML cell without rp_esc (the page check), a CSV field
 * written by hand (the read-back), a run name used as a path unchecked
 * (the refusals). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/ident.h"
#include "log/files.h"
#include "plot/common.h"
#include "plot/internal.h"
#include "testutil.h"

/* gnuplot's system() behind a heredoc's end, a backquote, HTML, a path,
 * bytes that are not UTF-8 and a terminal escape, a CSV-breaking mix */
static const char *const hostile[] = {
    "x\nEOD\nprint system(\"touch PWNED\")\n$z << EOD",
    "a`touch PWNED`b",
    "<script>alert(1)</script>\"'&amp;",
    "../../esc",
    "\xff\xfe not utf-8 \x1b[31m red",
    "c1\"x, y\\z\r\n@macro",
};
enum { N_HOSTILE = sizeof hostile / sizeof hostile[0] };

static const char experiment[] =
    "name: sw\n"
    "base:\n"
    "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}\n"
    "  model: {arch: mlp, widths: [8]}\n"
    "  train: {batch_size: 32, steps: 8, eval_every: 4, log_every: 4, optimizer: {lr: 0.1}}\n"
    "grid:\n"
    "  model.norm.type: [none, batch]\n"
    "  seed: [1, 2]\n"
    "claims:\n"
    "  - {id: lower, paper: p, metric: final_test_error, a: {model.norm.type: batch},\n"
    "     b: {model.norm.type: none}, expect: a < b}\n"
    "  - {id: per-seed, paper: p, metric: final_test_error, a: {model.norm.type: batch},\n"
    "     b: {model.norm.type: none}, each: note, expect: a < b}\n";

/* ---- the commands: every one of `normlab --help`, placed here ----
 * args: what it runs against the sweep SW (OUT: its own output directory,
 * made fresh); NULL with why when it reads no sweep or run directory (its
 * inputs are configs and experiment files, checked by the schema). */
typedef struct {
    const char *name;
    const char *args;
    const char *why_not;
} command_row;

static const command_row commands[] = {
    {"run", NULL, "reads a config (the schema checks every key)"},
    {"validate", NULL, "reads configs"},
    {"eval", "eval SW/runs/type-none_seed-1", NULL},
    {"show", "show SW/runs/type-none_seed-1", NULL},
    {"list", NULL, "reads nothing"},
    {"sweep", NULL, "reads an experiment file (its names are checked where parsed: test_sweep)"},
    {"table", "table SW --csv OUT.csv", NULL},
    {"reproduce", NULL, "a sweep, then verdict: both placed here"},
    {"verdict", "verdict SW --experiment exp.yaml --out OUT --no-registration", NULL},
    {"plot", "plot SW --format png,svg", NULL},
    {"compare", "compare SW SW/runs/type-batch_seed-1 --out OUT --format svg", NULL},
    {"export", "export tensorboard SW --out OUT/tb", NULL},
    {"report", "report SW --out OUT.html", NULL},
    {"bench", NULL, "measures kernels; reads no results"},
    /* on a copy, SWP: packing removes the run directories the others read */
    {"pack", "pack SWP", NULL},
    {"search", NULL, "reads a search file and its own --out's candidates.csv, not a sweep: hostile "
     "text, NUL bytes and ids that are no paths in those, test_search_boundary below"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

/* the subcommands `normlab --help` lists: every one has a row above */
START_TEST(test_every_command_is_placed)
{
    tu_tmp_make("boundary-cmds");
    ck_assert_int_eq(tu_normlab("--help"), 0);
    char *out = tu_normlab_output();
    const char *at = strstr(out, "commands:\n");
    ck_assert_ptr_nonnull(at);
    int listed = 0;
    for (const char *line = strchr(at, '\n') + 1; line[0] == ' ' && line[1] == ' '; line = strchr(line, '\n') + 1) {
        char name[64];
        ck_assert_int_eq(sscanf(line, " %63s", name), 1);
        int found = -1;
        for (int c = 0; c < N_COMMANDS; c++)
            if (!strcmp(commands[c].name, name))
                found = c;
        ck_assert_msg(found >= 0, "normlab %s is not placed in test_boundary.c's table of commands", name);
        listed++;
    }
    ck_assert_int_eq(listed, N_COMMANDS);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* ---- the fixture ---- */

static void make_sweep(const char *tag)
{
    tu_tmp_make(tag);
    tu_tmp_write("exp.yaml", experiment);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out SW -j 2"), 0);
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s/tmp", tu_tmp);
    ck_assert_int_eq(mkdir(tmp, 0755), 0);
    setenv("TMPDIR", tmp, 1);
}

static void csv_put(FILE *f, const char *cell, bool last)
{
    fputc('"', f);
    for (const char *c = cell; *c; c++) {
        if (*c == '"')
            fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
    fputc(last ? '\n' : ',', f);
}

/* SW/summary.csv again with hostile text in two key columns before status,
 * and every run's name kept or replaced by rename(i, name) */
static void write_summary(const char *(*rename)(int row, const char *name))
{
    char path[512];
    snprintf(path, sizeof path, "%s/SW/summary.csv", tu_tmp);
    nl_csv_table t;
    nl_error err = {0};
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    const int status = nl_csv_table_col(&t, "status");
    ck_assert_int_gt(status, 0);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int c = 0; c < t.n_cols; c++) {
        if (c == status) {
            csv_put(f, "note", false);
            csv_put(f, "remark", false);
        }
        csv_put(f, t.header[c], c == t.n_cols - 1);
    }
    for (int r = 0; r < t.n_rows; r++)
        for (int c = 0; c < t.n_cols; c++) {
            if (c == status) {
                /* note follows the seed (claims take it as each:, their ids
                 * then hold it), remark the normalizer (labels hold it) */
                csv_put(f, hostile[strstr(t.rows[r][0], "seed-1") ? 0 : 4], false);
                csv_put(f, hostile[strstr(t.rows[r][0], "batch") ? 1 : 2], false);
            }
            csv_put(f, c == 0 && rename ? rename(r, t.rows[r][0]) : t.rows[r][c], c == t.n_cols - 1);
        }
    fclose(f);
    nl_csv_table_free(&t);
}

/* a run's metrics.csv with every hostile string as a split of one row */
static void hostile_metrics(const char *run)
{
    char path[512];
    snprintf(path, sizeof path, "%s/SW/runs/%s/metrics.csv", tu_tmp, run);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    for (int h = 0; h < N_HOSTILE; h++) {
        fprintf(f, "%d,", 100 + h);
        csv_put(f, hostile[h], true);
    }
    fclose(f);
}

/* a run's config.yaml with a hostile name: (YAML's escapes: the text must
 * stay UTF-8 there, so no stray byte) */
static void hostile_config_name(const char *run)
{
    char path[512];
    snprintf(path, sizeof path, "SW/runs/%s/config.yaml", run);
    char *text = tu_tmp_read(path);
    const char *at = strstr(text, "\nname: ");
    ck_assert_ptr_nonnull(at);
    const char *end = strchr(at + 1, '\n');
    ck_assert_ptr_nonnull(end);
    char *out = malloc(strlen(text) + 256);
    ck_assert_ptr_nonnull(out);
    snprintf(out, strlen(text) + 256, "%.*s\nname: \"x\\nEOD\\nprint system(\\\"touch PWNED\\\")\\n`touch PWNED`"
             "<script>alert(1)</script>\\e[31m\"%s", (int)(at - text), text, end);
    tu_tmp_write(path, out);
    free(out);
    free(text);
}

/* ---- what a command left ---- */

typedef struct {
    char **paths;
    int n, cap;
} file_list;

static void list_tree(const char *root, const char *rel, file_list *l)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[1200], full[2400];
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 64;
            l->paths = realloc(l->paths, (size_t)l->cap * sizeof *l->paths);
        }
        l->paths[l->n++] = strdup(sub);
        struct stat st;
        if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode))
            list_tree(root, sub, l);
    }
    closedir(d);
}

static bool listed(const file_list *l, const char *path)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->paths[i], path))
            return true;
    return false;
}

static void list_free(file_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

static bool ends_with(const char *s, const char *tail)
{
    const size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

/* a file normlab wrote: text well-formed, and what its kind forbids absent */
static void check_written(const char *command, const char *rel)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, rel);
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    static const char *const text_kinds[] = {".gp", ".csv", ".html", ".json", ".md", ".svg", ".txt"};
    bool text = false;
    for (size_t k = 0; k < sizeof text_kinds / sizeof text_kinds[0]; k++)
        text |= ends_with(rel, text_kinds[k]);
    if (!text || strstr(rel, "/runs/") || !strncmp(rel, "SW/runs/", 8))
        return; /* the runs' own files: the fixture's input */
    char *data = NULL;
    size_t len = 0;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(path, &data, &len, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(strlen(data) == len, "%s: %s wrote a NUL byte", command, rel);
    for (const char *p = data; *p;) {
        const int n = nl_utf8_len(p);
        ck_assert_msg(n > 0, "%s: %s is not UTF-8 at byte %zu", command, rel, (size_t)(p - data));
        p += n;
    }
    if (ends_with(rel, ".gp"))
        ck_assert_msg(!strchr(data, '`') && !strstr(data, "system(\"touch"), "%s: %s holds a hostile string raw",
                      command, rel);
    if (ends_with(rel, ".html") || ends_with(rel, ".svg"))
        ck_assert_msg(!strstr(data, "<script>alert"), "%s: %s holds the input's markup", command, rel);
    if (ends_with(rel, ".csv") && strncmp(rel, "SW/plots/", 9) && !strstr(rel, "/plots/")) {
        nl_csv_table t;
        ck_assert_msg(nl_csv_table_parse(data, rel, &t, &err) == NL_OK, "%s: %s: %s", command, rel, err.msg);
        ck_assert_msg(t.n_bad == 0, "%s: %s does not read back whole: %s", command, rel, t.bad_why);
        nl_csv_table_free(&t);
    }
    free(data);
}

static bool is_run_command(const command_row *c) { return c->args != NULL; }

/* runs every placed command on SW; returns how many ran. want_status: the
 * exit status every one must give (-1: 0 or 2, a refusal or a success); everything a command creates must lie
 * under OUT or SW/plots (plot's own directory) or SW/eval's place */
static int run_all(int want_status, const char *tag)
{
    int ran = 0;
    for (int c = 0; c < N_COMMANDS; c++) {
        if (!is_run_command(&commands[c]))
            continue;
        char out_dir[64], args[600];
        snprintf(out_dir, sizeof out_dir, "OUT-%s", commands[c].name);
        /* OUT -> OUT-<name> */
        const char *a = commands[c].args;
        size_t k = 0;
        for (; *a && k + 32 < sizeof args; a++) {
            if (!strncmp(a, "OUT", 3)) {
                k += (size_t)snprintf(args + k, sizeof args - k, "%s", out_dir);
                a += 2;
            } else {
                args[k++] = *a;
            }
        }
        args[k] = '\0';
        const bool copy = strstr(args, "SWP") != NULL;
        if (copy) {
            char cmd[1400];
            snprintf(cmd, sizeof cmd, "rm -rf '%s/SWP' && cp -r '%s/SW' '%s/SWP'", tu_tmp, tu_tmp, tu_tmp);
            ck_assert_int_eq(system(cmd), 0);
        }
        file_list before = {0}, after = {0};
        list_tree(tu_tmp, "", &before);
        const int status = tu_normlab(args);
        char *log = tu_normlab_output();
        list_tree(tu_tmp, "", &after);
        const bool eval_on_bad_names = want_status == 2 && !strcmp(commands[c].name, "eval");
        const bool show_reads_run = !strcmp(commands[c].name, "show");
        /* eval and show read one run directory, not summary.csv: its name
         * is the command line's, so they run on every fixture */
        if (want_status < 0 || eval_on_bad_names || (want_status == 2 && show_reads_run))
            ck_assert_msg(status == 0 || status == 2, "%s [%s]: exit %d\n%s", args, tag, status, log);
        else
            ck_assert_msg(status == want_status, "%s [%s]: exit %d, not %d\n%s", args, tag, status, want_status,
                          log);
        /* a bad run name is refused for what it is, not for a later reason
         * (its run directory missing), which a skipped check would leave */
        if (want_status == 2 && !eval_on_bad_names && !show_reads_run)
            ck_assert_msg(strstr(log, "is not a run name (accepted: " NL_RUN_NAME_ACCEPTED) ||
                              strstr(log, "equal but for case"),
                          "%s [%s]: exit 2, but not for the run name:\n%s", args, tag, log);
        ck_assert_msg(access("PWNED", F_OK) != 0, "%s [%s]: a hostile string ran a command", args, tag);
        /* what it printed reaches a terminal: no escape sequence of a file's */
        ck_assert_msg(!strchr(log, '\x1b'), "%s [%s]: printed a file's escape byte\n%s", args, tag, log);
        for (int i = 0; i < after.n; i++) {
            const char *p = after.paths[i];
            if (listed(&before, p))
                continue;
            const bool inside = !strncmp(p, out_dir, strlen(out_dir)) || !strncmp(p, "SW/plots", 8) ||
                                (copy && !strncmp(p, "SWP/", 4)) ||
                                !strncmp(p, "SW/runs/type-none_seed-1/eval", 29) || !strncmp(p, "tmp", 3) ||
                                !strcmp(p, "out.txt");
            ck_assert_msg(inside, "%s [%s]: created %s, outside its output directory", args, tag, p);
            check_written(args, p);
        }
        list_free(&before);
        list_free(&after);
        free(log);
        if (copy) {
            char cmd[1400];
            snprintf(cmd, sizeof cmd, "rm -rf '%s/SWP'", tu_tmp);
            ck_assert_int_eq(system(cmd), 0);
        }
        ran++;
    }
    return ran;
}

/* hostile text in every string a sweep's files hold: every command succeeds,
 * and what it writes is well-formed */
START_TEST(test_hostile_text_through_every_writer)
{
    make_sweep("boundary-text");
    write_summary(NULL);
    hostile_metrics("type-none_seed-1");
    hostile_metrics("type-batch_seed-2");
    ck_assert_int_gt(run_all(0, "hostile text"), 5);
    tu_tmp_remove();
}
END_TEST

/* a run's config.yaml naming the run with hostile text: the name is
 * refused where it is read (2), or what is written of it is clean (0) */
START_TEST(test_hostile_config_name)
{
    make_sweep("boundary-config");
    hostile_config_name("type-none_seed-1");
    hostile_config_name("type-batch_seed-1");
    ck_assert_int_gt(run_all(-1, "hostile config name"), 5);
    tu_tmp_remove();
}
END_TEST

/* a NUL byte in summary.csv and in a run's metrics.csv: refused or read
 * past, never a crash or a cut that writes half a file */
START_TEST(test_nul_bytes)
{
    make_sweep("boundary-nul");
    char path[512];
    snprintf(path, sizeof path, "%s/SW/runs/type-none_seed-1/metrics.csv", tu_tmp);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fwrite("200,tr\0ain,0.5\n", 1, 15, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/SW/summary.csv", tu_tmp);
    f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fwrite("type-none_seed-1\0,none,1,ok\n", 1, 28, f);
    fclose(f);
    ck_assert_int_gt(run_all(-1, "NUL bytes"), 5);
    tu_tmp_remove();
}
END_TEST

/* a run's trace.csv whose column names are hostile: a column's name goes
 * into the trace plot's script (found by fuzz_report: bytes that are not
 * UTF-8 reached trace.gp); refused (2) or written clean (0) */
START_TEST(test_hostile_trace_columns)
{
    make_sweep("boundary-trace");
    for (int h = 0; h < N_HOSTILE; h++) {
        char path[512];
        snprintf(path, sizeof path, "%s/SW/runs/type-none_seed-1/trace.csv", tu_tmp);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("step,p50,", f);
        csv_put(f, hostile[h], true);
        fputs("0,0.5,0.7\n4,0.4,0.6\n", f);
        fclose(f);
        char tag[64];
        snprintf(tag, sizeof tag, "trace column %d", h);
        run_all(-1, tag);
    }
    tu_tmp_remove();
}
END_TEST

static const char *bad_name;
static const char *name_bad(int row, const char *name) { return row == 1 ? bad_name : name; }

/* run names that would make a path out of the sweep: refused by every
 * command that reads summary.csv, and nothing created outside */
START_TEST(test_run_names_never_become_paths)
{
    static const char *const names[] = {"..", "../../esc", "/tmp/normlab-abs", "a/b", ".hidden", "-rf", "",
                                        "TYPE-NONE_SEED-1", "x\ny"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        make_sweep("boundary-names");
        bad_name = names[i];
        write_summary(name_bad);
        char tag[64];
        snprintf(tag, sizeof tag, "run name %zu", i);
        run_all(2, tag);
        ck_assert_msg(access("/tmp/normlab-abs", F_OK) != 0, "an absolute run name was written");
        tu_tmp_remove();
    }
}
END_TEST

/* a link left in a logdir that --force replaces: never written through */
START_TEST(test_export_follows_no_link)
{
    make_sweep("boundary-link");
    ck_assert_int_eq(tu_normlab("export tensorboard SW --out tb"), 0);
    char link_path[512], outside[512];
    snprintf(outside, sizeof outside, "%s/outside", tu_tmp);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    snprintf(link_path, sizeof link_path, "%s/tb/type-none_seed-1", tu_tmp);
    char cmd[1700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && ln -s '%s' '%s'", link_path, outside, link_path);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(tu_normlab("export tensorboard SW --out tb --force"), 2);
    file_list l = {0};
    list_tree(outside, "", &l);
    ck_assert_msg(l.n == 0, "export wrote %s through a link", l.n ? l.paths[0] : "");
    list_free(&l);
    tu_tmp_remove();
}
END_TEST

/* ---- normlab search: its search file and the record it reads back ---- */

static const char search_file[] =
    "base:\n"
    "  data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32}\n"
    "  model: {arch: cnn, widths: [4, 8], norm: {groups: 2}}\n"
    "  train: {batch_size: 8, log_every: 2, optimizer: {lr: 0.05}}\n"
    "start: [\"x\", \"x - mean(x, [batch, spatial])\"]\n"
    "seed: 1\npopulation: 2\ngenerations: 1\nhurdle: {steps: 2, min_accuracy: 0}\n";

/* `normlab search ARGS` exits with want (-1: 0 or 2), runs nothing,
 * prints no escape byte and creates nothing outside S */
static void search_once(const char *args, int want, const char *tag)
{
    file_list before = {0}, after = {0};
    list_tree(tu_tmp, "", &before);
    const int status = tu_normlab(args);
    char *log = tu_normlab_output();
    list_tree(tu_tmp, "", &after);
    ck_assert_msg(want < 0 ? status == 0 || status == 2 : status == want, "%s [%s]: exit %d\n%s", args, tag,
                  status, log);
    ck_assert_msg(access("PWNED", F_OK) != 0, "%s [%s]: a hostile string ran a command", args, tag);
    ck_assert_msg(!strchr(log, '\x1b'), "%s [%s]: printed a file's escape byte\n%s", args, tag, log);
    for (int i = 0; i < after.n; i++)
        ck_assert_msg(listed(&before, after.paths[i]) || !strncmp(after.paths[i], "S/", 2),
                      "%s [%s]: created %s, outside its output directory", args, tag, after.paths[i]);
    list_free(&before);
    list_free(&after);
    free(log);
}

/* S/candidates.csv as the first search wrote it, with cell `col` of row
 * `row` (1-based, every row where 0) replaced by `cell` */
static void rewrite_record(const char *whole, int col, int row, const char *cell)
{
    nl_csv_table t;
    nl_error err = {0};
    ck_assert_msg(nl_csv_table_parse(whole, "candidates.csv", &t, &err) == NL_OK, "%s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/S/candidates.csv", tu_tmp);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int c = 0; c < t.n_cols; c++)
        csv_put(f, t.header[c], c == t.n_cols - 1);
    for (int r = 0; r < t.n_rows; r++)
        for (int c = 0; c < t.n_cols; c++)
            csv_put(f, c == col && (row == 0 || row == r + 1) ? (cell ? cell : hostile[r % N_HOSTILE])
                                                              : t.rows[r][c],
                    c == t.n_cols - 1);
    fclose(f);
    nl_csv_table_free(&t);
}

/* hostile text in the reasons a search reads back (printed per candidate)
 * and ids that would be paths: refused or printed clean, nothing run,
 * nothing created outside its --out; a NUL byte in its search file or its
 * record: refused, nothing written */
START_TEST(test_search_boundary)
{
    tu_tmp_make("boundary-search");
    tu_tmp_write("s.yaml", search_file);
    ck_assert_int_eq(tu_normlab("search s.yaml --out S --quiet"), 0);
    char *whole = tu_tmp_read("S/candidates.csv");
    /* column 9: reason; every row's a hostile string, read back and printed */
    rewrite_record(whole, 9, 0, NULL);
    search_once("search s.yaml --out S", 0, "hostile reasons");
    nl_csv_table t;
    nl_error err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/S/candidates.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(t.n_bad == 0 && t.n_rows > 2, "candidates.csv does not read back whole: %s", t.bad_why);
    nl_csv_table_free(&t);
    /* an id, a parent or an expr that would make a path: refused (2) */
    static const char *const bad[][2] = {{"0", "../../esc"}, {"0", "/tmp/normlab-abs"}, {"2", "../x"},
                                         {"4", "`touch PWNED`"}, {"0", "2\n3"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char tag[64];
        snprintf(tag, sizeof tag, "bad record cell %zu", i);
        rewrite_record(whole, bad[i][0][0] - '0', 2, bad[i][1]);
        search_once("search s.yaml --out S", 2, tag);
        ck_assert_msg(access("/tmp/normlab-abs", F_OK) != 0, "an absolute id was written");
    }
    /* a NUL byte in the record, then in the search file: refused, the
     * record left as it was */
    rewrite_record(whole, 9, 0, "");
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    static const char nul_row[] = "9\0,1,,start,x,,,,hurdle,r,\n";
    fwrite(nul_row, 1, sizeof nul_row - 1, f);
    fclose(f);
    char *kept = tu_tmp_read("S/candidates.csv");
    search_once("search s.yaml --out S", 2, "NUL in the record");
    char *now = tu_tmp_read("S/candidates.csv");
    ck_assert_msg(!strcmp(now, kept), "a refused search changed its record");
    free(now), free(kept);
    snprintf(path, sizeof path, "%s/nul.yaml", tu_tmp);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(search_file, 1, 10, f);
    fwrite("\0", 1, 1, f);
    fputs(search_file + 10, f);
    fclose(f);
    search_once("search nul.yaml --out S/never", 2, "NUL in the search file");
    snprintf(path, sizeof path, "%s/S/never", tu_tmp);
    ck_assert_msg(access(path, F_OK) != 0, "a refused search file wrote S/never");
    free(whole);
    tu_tmp_remove();
}
END_TEST

/* ---- the escaping functions on the same strings ---- */

START_TEST(test_escapers)
{
    for (int h = 0; h < N_HOSTILE; h++) {
        const char *s = hostile[h];
        char q[512], cell[512], csv[512];
        /* gnuplot: one double-quoted string, no backquote, no line break, an
         * inner quote always escaped */
        pl_q(s, q, sizeof q);
        ck_assert_msg(q[0] == '"' && q[strlen(q) - 1] == '"' && !strchr(q, '`') && !strchr(q, '\n') &&
                          !strchr(q, '\r'),
                      "pl_q(%d) = %s", h, q);
        for (const char *p = q + 1; p < q + strlen(q) - 1; p++) {
            if (*p == '\\') {
                p++;
                continue;
            }
            ck_assert_msg(*p != '"', "pl_q(%d) ends its string early: %s", h, q);
        }
        pl_cell_text(s, cell, sizeof cell);
        ck_assert_msg(!strpbrk(cell, ",\"`\n\r\x1b"), "pl_cell_text(%d) = %s", h, cell);
        /* CSV: reads back as one field with the text's UTF-8 */
        ck_assert_uint_lt(nl_csv_field_text(s, csv, sizeof csv), sizeof csv);
        char line[600];
        snprintf(line, sizeof line, "a\n%s\n", csv);
        nl_csv_table t;
        nl_error err = {0};
        ck_assert_int_eq(nl_csv_table_parse(line, "t.csv", &t, &err), NL_OK);
        ck_assert_msg(t.n_rows == 1 && t.n_bad == 0, "CSV field %d does not read back: %s", h, csv);
        if (nl_utf8_len(s) && !strchr(s, '\r') && !strchr(s, '\x1b') && strncmp(s, "\xff", 1))
            ck_assert_str_eq(t.rows[0][0], s);
        nl_csv_table_free(&t);
        /* JSON: quoted, UTF-8, no raw control byte */
        nl_buf j = {0};
        nl_buf_json_string(&j, s);
        for (const char *p = j.data; *p;) {
            const int n = nl_utf8_len(p);
            ck_assert_msg(n > 0 && (unsigned char)*p >= 0x20, "JSON string %d: %s", h, j.data);
            p += n;
        }
        nl_buf_free(&j);
        /* identifiers: none of these is one */
        ck_assert_msg(!nl_ident_ok(s), "'%s' passed as an identifier", s);
    }
    /* a spreadsheet's formula never starts a CSV cell (OWASP's CSV
     * injection guidance), a number stays a number, and every text reads
     * back as it was, the guard's own "'" included */
    static const struct {
        const char *text, *cell;
    } guarded[] = {
        {"=1+2", "'=1+2"},           {"@SUM(A1)", "'@SUM(A1)"}, {"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
        {"-:10674.9", "'-:10674.9"}, {"-", "'-"},               {"\tx", "'\tx"},
        {"'=x", "''=x"},             {"''", "'''"},             {"'a", "'a"},
        {"-0.053", "-0.053"},        {"+1e-05", "+1e-05"},      {"-inf", "-inf"},
        {"a=b", "a=b"},              {"", ""},
    };
    for (size_t g = 0; g < sizeof guarded / sizeof guarded[0]; g++) {
        char csv[64], line[80];
        nl_csv_field_text(guarded[g].text, csv, sizeof csv);
        ck_assert_str_eq(csv, guarded[g].cell);
        snprintf(line, sizeof line, "a,b\n%s,1\n", csv);
        nl_csv_table t;
        nl_error err = {0};
        ck_assert_int_eq(nl_csv_table_parse(line, "t.csv", &t, &err), NL_OK);
        ck_assert_str_eq(t.rows[0][0], guarded[g].text);
        nl_csv_table_free(&t);
    }
    ck_assert(nl_ident_ok("ln-2.5-points") && nl_ident_ok("type-none_seed-1"));
    ck_assert(!nl_ident_ok("..") && !nl_ident_ok(".") && !nl_ident_ok("") && !nl_ident_ok("-x"));
    /* overlong, surrogate and cut-short sequences are not UTF-8 */
    ck_assert_int_eq(nl_utf8_len("\xc0\xaf"), 0);
    ck_assert_int_eq(nl_utf8_len("\xed\xa0\x80"), 0);
    ck_assert_int_eq(nl_utf8_len("\xe2\x82"), 0);
    ck_assert_int_eq(nl_utf8_len("\xe2\x82\xac"), 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("boundary");
    TCase *tc = tcase_create("boundary");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_every_command_is_placed);
    tcase_add_test(tc, test_escapers);
    tcase_add_test(tc, test_hostile_text_through_every_writer);
    tcase_add_test(tc, test_hostile_config_name);
    tcase_add_test(tc, test_nul_bytes);
    tcase_add_test(tc, test_hostile_trace_columns);
    tcase_add_test(tc, test_run_names_never_become_paths);
    tcase_add_test(tc, test_export_follows_no_link);
    tcase_add_test(tc, test_search_boundary);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
