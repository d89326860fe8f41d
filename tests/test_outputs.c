/* Every command's outputs as one transaction (nl_outset, core/log/files.h):
 * for each command that writes files (the table `writers`, checked against
 * the subcommand table `normlab --help` prints: a command with no row fails
 * the test), a first run writes its set; each file of the set is then
 * given content of the test's own (so that any rewrite shows, whatever the
 * command would write), and each output in turn is sabotaged (a directory,
 * a FIFO or a symbolic link at its path; a regular file, a FIFO at the
 * path of each output directory) before the command runs again as the
 * first did (--force where it takes one). Each time: exit status 2, a
 * message naming the path, every other output byte-identical (or still
 * absent), no temporary or work directory left anywhere. Then, for the
 * commands that draw, a gnuplot that fails (exit 1, run time): a failure
 * past the checks made before the work, after the other files were
 * staged. A command writing one file of its set in place (verdict's
 * verdicts.csv by nl_write_atomic before its forest plot is drawn) fails
 * here: that file would hold the command's bytes, not the test's. The
 * outset primitive itself at the end. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/files.h"
#include "plot/plot.h"
#include "results/files.h"
#include "testutil.h"

static const char *const experiment =
    "name: sw\n"
    "base:\n"
    "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}\n"
    "  model: {arch: mlp, widths: [8]}\n"
    "  train: {batch_size: 32, steps: 12, eval_every: 6, log_every: 3, optimizer: {lr: 0.1}}\n"
    "threads: 1\n"
    "grid:\n"
    "  model.norm.type: [none, batch]\n"
    "  seed: [1, 2]\n"
    "plots:\n"
    "  - {kind: curves}\n"
    "claims:\n"
    "  - {id: bn, paper: p, metric: final_test_error, a: {model.norm.type: batch},\n"
    "     b: {model.norm.type: none}, expect: \"a < b\"}\n";

#define RUN "sw/runs/type-batch_seed-1"
#define OTHER_RUN "sw/runs/type-none_seed-1"
#define MAX_OUT 12

/* A command and its outputs. A row without args writes no set of files
 * (why says what it writes instead, and where that is tested). Outputs
 * ending in .png or .svg are gnuplot's: left out where it is missing. */
typedef struct {
    const char *command;
    const char *args;
    const char *outputs[MAX_OUT];
    const char *dirs[4]; /* directories it writes into (made when missing) */
    const char *why;
} writer;

static const writer writers[] = {
    {"verdict", "verdict sw --experiment exp.yaml --force --level 0.9 --no-registration",
     {"sw/verdicts.csv", "sw/verdicts.json", "sw/plots/verdicts.gp", "sw/plots/verdicts.png"},
     {"sw/plots"}, NULL},
    {"plot", "plot sw --kind curves --format both",
     {"sw/plots/curves.gp", "sw/plots/curves.csv", "sw/plots/curves.png", "sw/plots/curves.svg"},
     {"sw/plots"}, NULL},
    {"compare", "compare " RUN " " OTHER_RUN " --out out/cmp",
     {"out/cmp/compare.gp", "out/cmp/compare.csv", "out/cmp/compare.png"}, {"out/cmp", "out"}, NULL},
    {"export", "export tensorboard sw --out tb --force",
     {"tb/type-none_seed-1/events.out.tfevents.normlab",
      "tb/type-batch_seed-1/events.out.tfevents.normlab", "tb/type-none_seed-2/events.out.tfevents.normlab",
      "tb/type-batch_seed-2/events.out.tfevents.normlab"},
     {"tb", "tb/type-batch_seed-2"}, NULL},
    {"report", "report sw --out pages/r.html --force --experiment exp.yaml", {"pages/r.html"}, {"pages"}, NULL},
    /* a record is created exclusively (auto-named: test, then test-2)
     * with its row appended to evals.csv: both, or neither */
    {"eval", "eval " RUN " --threads 1",
     {RUN "/eval/evals.csv", RUN "/eval/test.json", RUN "/eval/test-2.json"}, {RUN "/eval"}, NULL},
    {"run", NULL, {NULL}, {NULL}, "a run directory, written as the run goes and resumable (test_checkpoint, test_records)"},
    {"validate", NULL, {NULL}, {NULL}, "writes nothing"},
    {"show", NULL, {NULL}, {NULL}, "prints only"},
    {"list", NULL, {NULL}, {NULL}, "prints only"},
    /* its runs are written as they go, resumably (test_sweep, test_records);
     * run again over finished runs it draws the experiment's plots, each a set */
    {"sweep", "sweep exp.yaml --out sw -j 2",
     {"sw/plots/curves.gp", "sw/plots/curves.csv", "sw/plots/curves.png"}, {"sw/plots"}, NULL},
    /* one file, but the same refusals */
    {"table", "table sw --csv t.csv", {"t.csv"}, {NULL}, NULL},
    {"reproduce", NULL, {NULL}, {NULL}, "a sweep, then verdict's set (tested here as verdict)"},
    {"bench", NULL, {NULL}, {NULL}, "one --csv file of rows"},
    {"pack", NULL, {NULL}, {NULL}, "one file, SWEEP/runs.sqlite, a temporary renamed into place, then the run "
     "directories removed; a link, directory or FIFO at its path, an unfinished run, kill -9: test_store"},
    {"search", NULL, {NULL}, {NULL}, "its --out: candidates.csv, a row appended per candidate and read back "
     "to go on (test_search), and hurdle/cID runs; a link, directory or FIFO in its place, files it did "
     "not write: test_search_outputs below"},
};
enum { N_WRITERS = sizeof writers / sizeof writers[0] };

static bool have_gnuplot;

static void abs_path(char *out, size_t size, const char *rel)
{
    snprintf(out, size, "%s/%s", tu_tmp, rel);
}

static bool is_figure(const char *rel)
{
    const size_t n = strlen(rel);
    return n > 4 && (!strcmp(rel + n - 4, ".png") || !strcmp(rel + n - 4, ".svg"));
}

/* an output of the row this test can have: figures only with gnuplot */
static bool in_play(const char *rel)
{
    return rel && (have_gnuplot || !is_figure(rel));
}

/* the test's own bytes for an output: any rewrite by the command shows */
static void mark(const char *rel)
{
    char text[512];
    snprintf(text, sizeof text, "the previous %s, as the test left it\n", rel);
    tu_tmp_write(rel, text);
}

/* each output's state: its marked text, or NULL when absent */
static void snapshot(const writer *w, char **state)
{
    for (int o = 0; o < MAX_OUT && w->outputs[o]; o++) {
        char path[1200];
        abs_path(path, sizeof path, w->outputs[o]);
        struct stat st;
        state[o] = lstat(path, &st) == 0 && S_ISREG(st.st_mode) ? tu_tmp_read(w->outputs[o]) : NULL;
    }
}

static void free_state(const writer *w, char **state)
{
    for (int o = 0; o < MAX_OUT && w->outputs[o]; o++) {
        free(state[o]);
        state[o] = NULL;
    }
}

/* every output but `skip` as `before` had it */
static void assert_unchanged(const writer *w, char **before, int skip, const char *what)
{
    for (int o = 0; o < MAX_OUT && w->outputs[o]; o++) {
        if (o == skip || !in_play(w->outputs[o]))
            continue;
        char path[1200];
        abs_path(path, sizeof path, w->outputs[o]);
        struct stat st;
        const bool there = lstat(path, &st) == 0;
        if (!before[o]) {
            ck_assert_msg(!there, "%s, %s: %s was made", w->command, what, w->outputs[o]);
            continue;
        }
        ck_assert_msg(there && S_ISREG(st.st_mode), "%s, %s: %s is gone", w->command, what, w->outputs[o]);
        char *now = tu_tmp_read(w->outputs[o]);
        ck_assert_msg(!strcmp(now, before[o]), "%s, %s: %s was rewritten:\n%.300s", w->command, what,
                      w->outputs[o], now);
        free(now);
    }
}

/* no temporary (NAME.tmp.PID.N) and no work directory left under dir */
static void assert_no_temporaries(const char *dir, const char *what)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot list %s", dir);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        ck_assert_msg(!strstr(e->d_name, ".tmp."), "%s: %s/%s left behind", what, dir, e->d_name);
        char path[1400];
        nl_path_join(path, sizeof path, dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            assert_no_temporaries(path, what);
    }
    closedir(d);
}

/* runs the row's command again; it must refuse (exit 2) naming `named` */
static void assert_refused(const writer *w, const char *named, const char *what)
{
    const int status = tu_normlab(w->args);
    char *out = tu_normlab_output();
    ck_assert_msg(status == 2, "%s, %s: exit %d, not 2: %s", w->command, what, status, out);
    ck_assert_msg(strstr(out, named), "%s, %s: the message does not name %s: %s", w->command, what, named, out);
    free(out);
    assert_no_temporaries(tu_tmp, what);
}

enum { AS_DIR, AS_FIFO, AS_LINK, N_KINDS };
static const char *const kind_names[N_KINDS] = {"a directory", "a FIFO", "a symbolic link"};

/* something else at an output's path: a directory (with a file in it, so
 * that no rmdir can pass it), a FIFO, a link to the marked file */
static void put_in_the_way(const char *rel, int kind)
{
    char path[1200], inner[1300];
    abs_path(path, sizeof path, rel);
    unlink(path);
    if (kind == AS_DIR) {
        ck_assert_int_eq(mkdir(path, 0777), 0);
        snprintf(inner, sizeof inner, "%s/keep", path);
        FILE *f = fopen(inner, "w");
        ck_assert(f != NULL);
        fclose(f);
    } else if (kind == AS_FIFO) {
        ck_assert_int_eq(mkfifo(path, 0666), 0);
    } else {
        ck_assert_int_eq(symlink("/dev/null", path), 0);
    }
}

static void take_away(const char *rel, int kind)
{
    char path[1200], inner[1300];
    abs_path(path, sizeof path, rel);
    if (kind == AS_DIR) {
        snprintf(inner, sizeof inner, "%s/keep", path);
        ck_assert_int_eq(unlink(inner), 0);
        ck_assert_int_eq(rmdir(path), 0);
    } else {
        ck_assert_int_eq(unlink(path), 0);
    }
}

/* each output in turn a directory, a FIFO, a link */
static void sabotage_outputs(const writer *w, char **before)
{
    for (int o = 0; o < MAX_OUT && w->outputs[o]; o++) {
        if (!in_play(w->outputs[o]))
            continue;
        for (int kind = 0; kind < N_KINDS; kind++) {
            char what[300];
            snprintf(what, sizeof what, "%s at %s", kind_names[kind], w->outputs[o]);
            put_in_the_way(w->outputs[o], kind);
            assert_refused(w, w->outputs[o], what);
            assert_unchanged(w, before, o, what);
            take_away(w->outputs[o], kind);
            if (before[o])
                tu_tmp_write(w->outputs[o], before[o]);
        }
    }
}

/* each output directory in turn a regular file, then a FIFO (the real one
 * set aside meanwhile) */
static void sabotage_dirs(const writer *w, char **before)
{
    for (int d = 0; d < 4 && w->dirs[d]; d++) {
        char path[1200], aside[1300];
        abs_path(path, sizeof path, w->dirs[d]);
        snprintf(aside, sizeof aside, "%s.aside", path);
        for (int kind = 0; kind < 2; kind++) {
            char what[300];
            snprintf(what, sizeof what, "%s at the directory %s", kind ? "a FIFO" : "a file", w->dirs[d]);
            ck_assert_int_eq(rename(path, aside), 0);
            if (kind)
                ck_assert_int_eq(mkfifo(path, 0666), 0);
            else
                tu_tmp_write(w->dirs[d], "a file of the user's\n");
            assert_refused(w, w->dirs[d], what);
            ck_assert_int_eq(unlink(path), 0);
            ck_assert_int_eq(rename(aside, path), 0);
            assert_unchanged(w, before, -1, what);
        }
    }
}

/* `normlab ARGS` with a gnuplot first on PATH that rejects every script */
static int normlab_with_failing_gnuplot(const char *args)
{
    char bin[1200], path[4096];
    abs_path(bin, sizeof bin, "bin/gnuplot");
    if (!nl_path_exists(bin)) {
        char dir[1200];
        abs_path(dir, sizeof dir, "bin");
        ck_assert_int_eq(mkdir(dir, 0777), 0);
        tu_tmp_write("bin/gnuplot", "#!/bin/sh\necho 'line 1: this gnuplot rejects every script' >&2\nexit 1\n");
        ck_assert_int_eq(chmod(bin, 0755), 0);
    }
    const char *old_path = getenv("PATH");
    char *saved = strdup(old_path ? old_path : "/usr/bin:/bin");
    snprintf(path, sizeof path, "%s/bin:%s", tu_tmp, saved);
    setenv("PATH", path, 1);
    const int status = tu_normlab(args);
    setenv("PATH", saved, 1);
    free(saved);
    return status;
}

/* A failure late in the set, past every check made before the work: a
 * gnuplot on PATH that rejects every script (exit 1: a run-time failure).
 * The files staged before the figures must not have been placed. */
static void gnuplot_fails(const writer *w, char **before)
{
    bool draws = false;
    for (int o = 0; o < MAX_OUT && w->outputs[o]; o++)
        draws |= is_figure(w->outputs[o]);
    if (!draws)
        return;
    const int status = normlab_with_failing_gnuplot(w->args);
    char *out = tu_normlab_output();
    ck_assert_msg(status == 1 && strstr(out, "rejects every script"), "%s, gnuplot failing: exit %d: %s",
                  w->command, status, out);
    free(out);
    assert_unchanged(w, before, -1, "gnuplot failing");
    assert_no_temporaries(tu_tmp, "gnuplot failing");
}

static void make_sweep(const char *tag)
{
    tu_tmp_make(tag);
    tu_tmp_write("exp.yaml", experiment);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw -j 2"), 0);
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s/tmpdir", tu_tmp);
    ck_assert_int_eq(mkdir(tmp, 0755), 0);
    setenv("TMPDIR", tmp, 1); /* report's private directory */
}

START_TEST(test_every_output_fails_alone)
{
    const writer *w = &writers[_i];
    if (!w->args)
        return;
    make_sweep(w->command);
    ck_assert_msg(tu_normlab(w->args) == 0, "%s: %s", w->args, tu_normlab_output());
    /* the previous set, in the test's bytes; outputs the first run did not
     * make (eval's next record) stay absent */
    for (int o = 0; o < MAX_OUT && w->outputs[o]; o++) {
        char path[1200];
        abs_path(path, sizeof path, w->outputs[o]);
        if (in_play(w->outputs[o]) && nl_path_exists(path))
            mark(w->outputs[o]);
    }
    char *before[MAX_OUT] = {0};
    snapshot(w, before);
    sabotage_outputs(w, before);
    sabotage_dirs(w, before);
    gnuplot_fails(w, before);
    /* and with nothing in the way the command writes its set again */
    ck_assert_msg(tu_normlab(w->args) == 0, "%s: %s", w->args, tu_normlab_output());
    free_state(w, before);
    tu_tmp_remove();
}
END_TEST

/* a set that fails removes the directories it made (and compare's marker):
 * nothing is left of a new --out */
START_TEST(test_failed_set_leaves_no_directory)
{
    make_sweep("outputs-newdirs");
    static const char *const args[] = {"compare " RUN " " OTHER_RUN " --out new/cmp",
                                       "verdict sw --experiment exp.yaml --out new/v --no-registration", "plot " RUN};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        ck_assert_int_eq(normlab_with_failing_gnuplot(args[i]), 1);
        char path[1200];
        abs_path(path, sizeof path, i < 2 ? "new" : RUN "/plots");
        ck_assert_msg(!nl_path_exists(path), "%s: %s left behind", args[i], path);
        assert_no_temporaries(tu_tmp, args[i]);
    }
    tu_tmp_remove();
}
END_TEST

/* Every file the commands write into a sweep and its runs has a row in
 * core/results/files.h's table, which says whether a repository keeps it:
 * a new file with no row would be committed or ignored by nobody's
 * decision. The sweep (its lock, markers and logs), verdict, plot (both
 * formats), eval and a report written into the sweep directory. */
static int unclassified(const char *dir, const char *rel, nl_buf *why)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot list %s", dir);
    int bad = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[1400], sub[1400];
        nl_path_join(path, sizeof path, dir, e->d_name);
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        struct stat st;
        ck_assert_int_eq(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode))
            bad += unclassified(path, sub, why);
        else if (!nl_result_file_of(sub)) {
            nl_buf_printf(why, "%s\n", sub);
            bad++;
        }
    }
    closedir(d);
    return bad;
}

START_TEST(test_every_written_file_has_a_row)
{
    make_sweep("outputs-classes");
    static const char *const args[] = {
        "verdict sw --experiment exp.yaml --force --level 0.9 --no-registration",
        "plot sw --kind curves --format both",
        "eval " RUN " --threads 1",
        "report sw --out sw/" NL_REPORT_PAGE " --force --experiment exp.yaml",
    };
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        ck_assert_msg(tu_normlab(args[i]) == 0, "%s: %s", args[i], tu_normlab_output());
    char sw[1200];
    abs_path(sw, sizeof sw, "sw");
    nl_buf why = {0};
    const int bad = unclassified(sw, "", &why);
    ck_assert_msg(bad == 0, "%d files normlab wrote have no row in core/results/files.h's table:\n%.2000s", bad,
                  why.data);
    nl_buf_free(&why);
    /* the walk saw the files it is there for: a run's marker is live state */
    char marker[1200];
    abs_path(marker, sizeof marker, RUN "/" NL_RUN_MARKER);
    const nl_result_file *row = nl_result_file_of(marker);
    ck_assert_msg(nl_path_exists(marker) && row && row->cls == NL_FILE_LIVE, "%s", marker);
    tu_tmp_remove();
}
END_TEST

/* the commands as normlab --help lists them (from its table, commands[]):
 * each has a row here, and each row is a command */
START_TEST(test_every_command_has_a_row)
{
    tu_tmp_make("outputs-commands");
    ck_assert_int_eq(tu_normlab("--help"), 0);
    char *out = tu_normlab_output();
    const char *p = strstr(out, "commands:\n");
    ck_assert_msg(p != NULL, "%s", out);
    int listed = 0;
    for (p += strlen("commands:\n"); *p == ' ';) {
        char name[64];
        ck_assert_int_eq(sscanf(p, " %63s", name), 1);
        int row = 0;
        while (row < N_WRITERS && strcmp(writers[row].command, name))
            row++;
        ck_assert_msg(row < N_WRITERS, "normlab %s has no row in test_outputs.c's writers: give it its "
                      "outputs, or say why it writes no set", name);
        listed++;
        p = strchr(p, '\n');
        ck_assert(p != NULL);
        p++;
    }
    ck_assert_int_eq(listed, N_WRITERS);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* ---- normlab search: a record appended to, and runs of its own ---- */

static const char *const search_file =
    "base:\n"
    "  data: {dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32}\n"
    "  model: {arch: cnn, widths: [4, 8], norm: {groups: 2}}\n"
    "  train: {batch_size: 8, log_every: 2, optimizer: {lr: 0.05}}\n"
    "start: [\"x\", {expr: \"gamma * (x - mean(x, [batch, spatial]))\", params: \"gamma = 1 per channel\"}]\n"
    "seed: 4\npopulation: 2\ngenerations: 1\nhurdle: {steps: 4, min_accuracy: 0, time_limit: 120}\n"
    /* no degeneracy check: x and the mean-only start reach the hurdle, whose runs are what is tested */
    "reject: []\n";

#define SEARCH "search s.yaml --out srch --quiet"
#define RECORD "srch/candidates.csv"

/* `normlab ARGS` refuses (exit 2) naming `named`, leaves the record at
 * `rel` as `record` (NULL: absent) and no temporary anywhere */
static void search_refused(const char *args, const char *named, const char *rel, const char *record,
                           const char *what)
{
    const int status = tu_normlab(args);
    char *out = tu_normlab_output();
    ck_assert_msg(status == 2, "search, %s: exit %d, not 2: %s", what, status, out);
    ck_assert_msg(strstr(out, named), "search, %s: the message does not name %s: %s", what, named, out);
    free(out);
    char path[1200];
    abs_path(path, sizeof path, rel);
    struct stat st;
    if (!record) {
        ck_assert_msg(lstat(path, &st) != 0, "search, %s: %s was made", what, rel);
    } else {
        ck_assert_msg(lstat(path, &st) == 0 && S_ISREG(st.st_mode), "search, %s: %s is gone", what, rel);
        char *now = tu_tmp_read(rel);
        ck_assert_msg(!strcmp(now, record), "search, %s: %s was rewritten:\n%.300s", what, rel, now);
        free(now);
    }
    assert_no_temporaries(tu_tmp, what);
}

/* Its record and its run directories in the way of something else, or
 * something of the user's where it writes: refused before its first
 * write (exit 2, naming the path), its record as it was; then the search
 * goes on as it would have */
START_TEST(test_search_outputs)
{
    tu_tmp_make("outputs-search");
    tu_tmp_write("s.yaml", search_file);
    ck_assert_msg(tu_normlab(SEARCH) == 0, "%s", tu_normlab_output());
    char *record = tu_tmp_read(RECORD);
    /* a directory, a FIFO, a link at candidates.csv */
    for (int kind = 0; kind < N_KINDS; kind++) {
        char what[200];
        snprintf(what, sizeof what, "%s at %s", kind_names[kind], RECORD);
        put_in_the_way(RECORD, kind);
        const int status = tu_normlab(SEARCH);
        char *out = tu_normlab_output();
        ck_assert_msg(status == 2 && strstr(out, RECORD), "search, %s: exit %d: %s", what, status, out);
        free(out);
        assert_no_temporaries(tu_tmp, what);
        take_away(RECORD, kind);
        tu_tmp_write(RECORD, record);
    }
    /* its output directory a file, then a FIFO; its runs' directory a link */
    char srch[1200], aside[1300], hurdle[1200];
    abs_path(srch, sizeof srch, "srch");
    snprintf(aside, sizeof aside, "%s.aside", srch);
    for (int kind = 0; kind < 2; kind++) {
        ck_assert_int_eq(rename(srch, aside), 0);
        if (kind)
            ck_assert_int_eq(mkfifo(srch, 0666), 0);
        else
            tu_tmp_write("srch", "a file of the user's\n");
        const int status = tu_normlab(SEARCH);
        char *out = tu_normlab_output();
        ck_assert_msg(status == 2 && strstr(out, "srch"), "search, %s at srch: exit %d: %s",
                      kind ? "a FIFO" : "a file", status, out);
        free(out);
        ck_assert_int_eq(unlink(srch), 0);
        ck_assert_int_eq(rename(aside, srch), 0);
    }
    abs_path(hurdle, sizeof hurdle, "srch/hurdle");
    snprintf(aside, sizeof aside, "%s/hurdle.aside", tu_tmp);
    ck_assert_int_eq(rename(hurdle, aside), 0);
    ck_assert_int_eq(symlink(aside, hurdle), 0);
    search_refused(SEARCH, "srch/hurdle", RECORD, record, "a link at srch/hurdle");
    ck_assert_int_eq(unlink(hurdle), 0);
    ck_assert_int_eq(rename(aside, hurdle), 0);
    /* the record cut back to its first candidate: the runs of later ones
     * are no leftover of this search's, and nothing replaces them */
    char c3[1200];
    abs_path(c3, sizeof c3, "srch/hurdle/c3");
    ck_assert_msg(nl_path_exists(c3), "the fixture's search ran no hurdle for candidate 3");
    const char *second = strchr(strchr(record, '\n') + 1, '\n') + 1;
    char *cut = strndup(record, (size_t)(second - record));
    tu_tmp_write(RECORD, cut);
    search_refused(SEARCH, "srch/hurdle/c", RECORD, cut, "runs past the record");
    tu_tmp_write(RECORD, record);
    free(cut);
    /* a new --out holding a file of the user's where a run's log goes */
    char fresh[1200];
    abs_path(fresh, sizeof fresh, "fresh");
    ck_assert_int_eq(mkdir(fresh, 0777), 0);
    abs_path(fresh, sizeof fresh, "fresh/hurdle");
    ck_assert_int_eq(mkdir(fresh, 0777), 0);
    tu_tmp_write("fresh/hurdle/c1.log", "the user's\n");
    search_refused("search s.yaml --out fresh --quiet", "fresh/hurdle/c1.log", "fresh/candidates.csv", NULL,
                   "a log of the user's");
    char *log = tu_tmp_read("fresh/hurdle/c1.log");
    ck_assert_str_eq(log, "the user's\n");
    free(log);
    /* nothing in the way: it reads its whole record back, and adds nothing */
    ck_assert_msg(tu_normlab(SEARCH) == 0, "%s", tu_normlab_output());
    char *again = tu_tmp_read(RECORD);
    ck_assert_str_eq(again, record);
    free(again);
    free(record);
    tu_tmp_remove();
}
END_TEST

/* ---- the primitive ---- */

static void file_text(const char *rel, const char *want)
{
    char *text = tu_tmp_read(rel);
    ck_assert_msg(!strcmp(text, want), "%s: %s, not %s", rel, text, want);
    free(text);
}

/* staged files are invisible until commit; a refusal leaves the old
 * files and removes the directories the set made */
START_TEST(test_outset)
{
    tu_tmp_make("outset");
    char a[1200], b[1200], c[1200], dir[1200];
    abs_path(a, sizeof a, "a.txt");
    abs_path(b, sizeof b, "new/deeper/b.txt");
    abs_path(c, sizeof c, "c.txt");
    abs_path(dir, sizeof dir, "new");
    tu_tmp_write("a.txt", "old a\n");
    tu_tmp_write("c.txt", "old c\n");
    nl_error err = {0};
    nl_outset *set = nl_outset_begin(true, NULL);
    ck_assert_int_eq(nl_outset_add(set, a, "new a\n", 6, &err), NL_OK);
    ck_assert_int_eq(nl_outset_add(set, b, "new b\n", 6, &err), NL_OK);
    file_text("a.txt", "old a\n");
    /* a directory in c's place: refused, naming it */
    ck_assert_int_eq(unlink(c), 0);
    ck_assert_int_eq(mkdir(c, 0777), 0);
    ck_assert_int_eq(nl_outset_add(set, c, "new c\n", 6, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "c.txt is a directory"), "%s", err.msg);
    nl_outset_end(set);
    file_text("a.txt", "old a\n");
    ck_assert_msg(!nl_path_exists(dir), "the set's directories are left");
    assert_no_temporaries(tu_tmp, "an aborted set");
    ck_assert_int_eq(rmdir(c), 0);

    /* without force: a file there is refused when staged, and one made
     * between staging and commit at commit, nothing placed */
    set = nl_outset_begin(false, "give --force");
    nl_error e1 = {0}, e2 = {0};
    ck_assert_int_eq(nl_outset_add(set, a, "x", 1, &e1), NL_ERR_USAGE);
    ck_assert_msg(strstr(e1.msg, "a.txt exists; give --force"), "%s", e1.msg);
    ck_assert_int_eq(nl_outset_add(set, b, "new b\n", 6, &e2), NL_OK);
    ck_assert_int_eq(nl_outset_add(set, c, "new c\n", 6, &e2), NL_OK);
    tu_tmp_write("c.txt", "made meanwhile\n");
    bool existed = false;
    ck_assert_int_eq(nl_outset_commit(set, &existed, &e2), NL_ERR_USAGE);
    ck_assert(existed);
    nl_outset_end(set);
    file_text("c.txt", "made meanwhile\n");
    ck_assert_msg(!nl_path_exists(dir), "b was placed, or its directories left");
    assert_no_temporaries(tu_tmp, "a refused commit");

    /* with force, all placed */
    set = nl_outset_begin(true, NULL);
    nl_error e3 = {0};
    ck_assert_int_eq(nl_outset_add(set, a, "new a\n", 6, &e3), NL_OK);
    ck_assert_int_eq(nl_outset_add(set, b, "new b\n", 6, &e3), NL_OK);
    ck_assert_int_eq(nl_outset_commit(set, NULL, &e3), NL_OK);
    nl_outset_end(set);
    file_text("a.txt", "new a\n");
    file_text("new/deeper/b.txt", "new b\n");
    assert_no_temporaries(tu_tmp, "a commit");
    tu_tmp_remove();
}
END_TEST

/* a file in the way of a directory to make is the user's input: exit 2's code */
START_TEST(test_make_dirs_refuses_a_file)
{
    tu_tmp_make("outset-dirs");
    tu_tmp_write("f", "x\n");
    char path[1200];
    abs_path(path, sizeof path, "f/sub");
    nl_error err = {0};
    ck_assert_int_eq(nl_make_dirs(path, &err), NL_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, "is a regular file, not a directory"), "%s", err.msg);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    char gnuplot[1024];
    have_gnuplot = nl_plot_find_gnuplot(gnuplot, sizeof gnuplot);
    Suite *s = suite_create("outputs");
    TCase *tc = tcase_create("outputs");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_every_command_has_a_row);
    tcase_add_loop_test(tc, test_every_output_fails_alone, 0, N_WRITERS);
    tcase_add_test(tc, test_failed_set_leaves_no_directory);
    tcase_add_test(tc, test_every_written_file_has_a_row);
    tcase_add_test(tc, test_search_outputs);
    tcase_add_test(tc, test_outset);
    tcase_add_test(tc, test_make_dirs_refuses_a_file);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
