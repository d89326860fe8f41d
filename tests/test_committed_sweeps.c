/* The committed reproductions stay finished at HEAD: `normlab sweep E
 * --dry-run` of every experiment whose results are committed plans no run.
 * A change that renames runs (a key that stops applying leaves the run
 * names), changes a resolved config or breaks reading an old one would
 * otherwise make `normlab sweep` on the committed results train again
 * instead of only redrawing their plots, and nothing else would notice.
 * The experiments are the files in experiments/; a sweep directory is
 * committed when it holds a summary.csv and .gitignore does not name it (the
 * quickstart's is the user's own).
 *
 * And what is committed under results/ is evidence (issue 81), by the file
 * table of core/results/files.h: no tracked file there is one the table says
 * is never kept (locks, markers, logs, temporaries, final models), none is a
 * symbolic link, every tracked figure is linked from a tracked page, and
 * results/.gitignore is the one the table generates, and no run names its
 * init.from source by the committing machine's absolute path. Each check
 * also runs on a planted listing, so that a checker that stopped seeing
 * fails here.
 *
 * The dry runs read the default suite's seeded sample of the committed
 * sweeps (tu_committed_sample, which a case here holds to its rule);
 * test_committed_sweeps_all (label long) every one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/files.h"
#include "results/files.h"
#include "results/store.h"
#include "sweep/sweep.h"
#include "testutil.h"

/* one committed sweep: its dry run exits 0 and plans no run (every line's
 * action is a skip) */
static void plans_no_run(const char *experiment, const char *dir, int status, const char *output,
                         void *ctx)
{
    (void)ctx;
    ck_assert_msg(status == 0, "experiments/%s: the dry run exited %d", experiment, status);
    char planned[8192] = "";
    size_t used = 0;
    for (const char *line = output; *line;) {
        const char *end = strchr(line, '\n');
        const size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        char text[4096];
        snprintf(text, sizeof text, "%.*s", (int)len, line);
        /* "   4  NAME  KEY=VALUE ...  ACTION (DETAIL)": any action but skip */
        int index;
        if (sscanf(text, "%d ", &index) == 1 && !strstr(text, "  skip (") &&
            used + strlen(text) < sizeof planned) {
            memcpy(planned + used, text, strlen(text) + 1);
            used += strlen(text);
        }
        line += len;
    }
    ck_assert_msg(!planned[0], "experiments/%s: the committed sweep %s would train again at HEAD:\n%s",
                  experiment, dir, planned);
}

START_TEST(test_committed_sweeps_plan_no_run)
{
    /* the committed reproductions are there to be checked */
    ck_assert_int_ge(tu_committed_sweeps(plans_no_run, NULL), 1);
}
END_TEST

/* ---- results/ holds evidence ---- */

/* the output of `git ARGS` in the source tree, whole: a listing asked for
 * with -z holds NULs, so it is read byte by byte, not as a string */
static nl_buf command_output(const char *cmd);
static nl_buf git_listing(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "git -C '%s' %s", NORMLAB_SOURCE_DIR, args);
    return command_output(cmd);
}

/* the output of the shell command `cmd`, whole; fails the test when it does */
static nl_buf command_output(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p, "%s", cmd);
    nl_buf b = {0};
    int c;
    while ((c = fgetc(p)) != EOF) {
        if (b.len + 2 > b.cap) {
            b.cap = b.cap ? 2 * b.cap : 1 << 20;
            b.data = realloc(b.data, b.cap);
            ck_assert(b.data);
        }
        b.data[b.len++] = (char)c;
        b.data[b.len] = '\0';
    }
    ck_assert_msg(pclose(p) == 0, "%s failed", cmd);
    return b;
}

/* The entries of `git ls-files -s -z` ("MODE BLOB STAGE\tPATH", each ended
 * by a NUL) that must not be committed: a symbolic link, or a file whose
 * row in the table is never kept. Each is a line in `why`; the count. */
static int never_committed(const char *listing, size_t len, nl_buf *why)
{
    int bad = 0;
    for (const char *e = listing; e < listing + len; e += strlen(e) + 1) {
        const char *tab = strchr(e, '\t');
        ck_assert_msg(tab, "not a git ls-files -s entry: %s", e);
        const char *path = tab + 1;
        const nl_result_file *row = nl_result_file_of(path);
        if (!strncmp(e, "120000 ", 7)) {
            nl_buf_printf(why, "%s: a symbolic link (a sweep on a clone would write through it)\n", path);
            bad++;
        } else if (row && nl_result_file_keep(row) == NL_KEEP_NEVER) {
            nl_buf_printf(why, "%s: %s (%s), never committed\n", path, nl_file_class_name(row->cls), row->glob);
            bad++;
        }
    }
    return bad;
}

START_TEST(test_results_hold_no_live_state)
{
    nl_buf listing = git_listing("ls-files -s -z -- results");
    ck_assert_msg(listing.len > 0, "git lists no file under results/");
    nl_buf why = {0};
    const int bad = never_committed(listing.data, listing.len, &why);
    if (bad)
        fprintf(stderr, "%s", why.data);
    ck_assert_msg(bad == 0, "%d tracked files under results/ are not evidence (listed above; git rm "
                  "--cached them, results/.gitignore keeps new ones out)", bad);
    nl_buf_free(&why);
    free(listing.data);

    /* planted: a marker, a shard's lock, a log, a temporary, a link and the
     * sweep's copy of a run's config are found; the evidence beside them (the
     * run's own config.yaml among it) is not */
    static const char planted[] = "100644 0000000000000000000000000000000000000000 0\tresults/x/runs/r/.normlab-run\0"
                                  "100644 0000000000000000000000000000000000000000 0\tresults/x/.lock-shard-1-of-2\0"
                                  "100644 0000000000000000000000000000000000000000 0\tresults/x/runs/r/stderr.txt\0"
                                  "100644 0000000000000000000000000000000000000000 0\tresults/x/summary.csv.tmp.12.0\0"
                                  "120000 0000000000000000000000000000000000000000 0\tresults/x/runs/r/metrics.csv\0"
                                  "100644 0000000000000000000000000000000000000000 0\tresults/x/runs/r/summary.json\0"
                                  "100644 0000000000000000000000000000000000000000 0\tresults/x/configs/r.yaml\0"
                                  "100644 0000000000000000000000000000000000000000 0\tresults/x/runs/r/config.yaml\0";
    nl_buf planted_why = {0};
    ck_assert_int_eq(never_committed(planted, sizeof planted - 1, &planted_why), 6);
    ck_assert_msg(strstr(planted_why.data, "results/x/configs/r.yaml") &&
                      !strstr(planted_why.data, "summary.json") && !strstr(planted_why.data, "config.yaml"),
                  "%s", planted_why.data);
    nl_buf_free(&planted_why);
}
END_TEST

/* the table's rows keep what their class says: evidence always, live state
 * never, and a rebuildable file by a rule of its own */
START_TEST(test_file_table_rows_are_consistent)
{
    for (int i = 0; i < nl_result_file_count; i++) {
        const nl_result_file *row = &nl_result_files[i];
        ck_assert_msg((row->cls == NL_FILE_REBUILDABLE) == (row->keep != NL_KEEP_BY_CLASS),
                      "%s: a rebuildable file names where it is kept, evidence and live state do not", row->glob);
    }
}
END_TEST

/* where `target`, linked from `page`, points: a path from the source root
 * ("" for an outside link), "./" and "../" resolved, "#..." dropped */
static void link_path(const char *page, const char *target, char *out, size_t size)
{
    out[0] = '\0';
    if (strstr(target, "://") || !strncmp(target, "mailto:", 7) || target[0] == '#' || target[0] == '/')
        return;
    char joined[2048];
    const char *slash = strrchr(page, '/');
    snprintf(joined, sizeof joined, "%.*s%.*s", slash ? (int)(slash - page + 1) : 0, page,
             (int)strcspn(target, "#? "), target);
    /* components, with ".." taking back the one before it */
    char *parts[256], *save = NULL;
    int n = 0;
    for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            if (n == 0)
                return; /* outside the repository */
            n--;
        } else if (n < 256)
            parts[n++] = c;
    }
    size_t used = 0;
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "/" : "", parts[i]);
}

/* adds each `](target)` of a page's text, outside code fences, to `links`
 * (one path a line, framed by newlines) */
static void add_links(const char *page, const char *text, nl_buf *links)
{
    bool fenced = false;
    for (const char *c = text; *c; c++) {
        if ((c == text || c[-1] == '\n') && !strncmp(c, "```", 3))
            fenced = !fenced;
        if (fenced || c[0] != ']' || c[1] != '(')
            continue;
        const char *start = c + 2, *close = strchr(start, ')');
        if (!close || memchr(start, '\n', (size_t)(close - start)))
            continue;
        char target[1024], path[1024];
        snprintf(target, sizeof target, "%.*s", (int)(close - start), start);
        link_path(page, target, path, sizeof path);
        if (path[0])
            nl_buf_printf(links, "%s\n", path);
    }
}

/* whether `links` names path f, or, for a figure's script or data (x.gp,
 * x.csv), its figure (x.png or x.svg) */
static bool linked(const char *f, const char *links)
{
    char framed[1100];
    snprintf(framed, sizeof framed, "\n%s\n", f);
    if (strstr(links, framed))
        return true;
    const char *dot = strrchr(f, '.');
    if (!dot || !strcmp(dot, ".png") || !strcmp(dot, ".svg"))
        return false;
    static const char *const figure[] = {".png", ".svg"};
    for (int i = 0; i < 2; i++) {
        snprintf(framed, sizeof framed, "\n%.*s%s\n", (int)(dot - f), f, figure[i]);
        if (strstr(links, framed))
            return true;
    }
    return false;
}

/* the tracked figures and figures' data (NUL-separated paths) that no link
 * names; each a line in `why`; the count */
static int unlinked_figures(const char *figures, size_t len, const char *links, nl_buf *why)
{
    int bad = 0;
    for (const char *f = figures; f < figures + len; f += strlen(f) + 1) {
        const nl_result_file *row = nl_result_file_of(f);
        if (!row || nl_result_file_keep(row) != NL_KEEP_LINKED)
            continue;
        if (!linked(f, links)) {
            nl_buf_printf(why, "%s\n", f);
            bad++;
        }
    }
    return bad;
}

START_TEST(test_committed_figures_are_linked)
{
    nl_buf pages = git_listing("ls-files -z -- '*.md'");
    nl_buf links = {0};
    nl_buf_printf(&links, "\n");
    int n_pages = 0;
    for (const char *p = pages.data; p && p < pages.data + pages.len; p += strlen(p) + 1) {
        char path[1200], *text = NULL;
        nl_error err = {0};
        snprintf(path, sizeof path, "%s/%s", NORMLAB_SOURCE_DIR, p);
        if (nl_read_file(path, &text, NULL, &err) != NL_OK)
            continue; /* deleted in the working tree, not yet in the index */
        add_links(p, text, &links);
        free(text);
        n_pages++;
    }
    ck_assert_msg(n_pages > 10, "only %d tracked pages read", n_pages);
    nl_buf figures = git_listing("ls-files -z -- results");
    nl_buf why = {0};
    const int bad = unlinked_figures(figures.data, figures.len, links.data, &why);
    if (bad)
        fprintf(stderr, "%s", why.data);
    ck_assert_msg(bad == 0, "%d tracked figures under results/ are linked from no tracked page (listed "
                  "above; normlab plot draws them again: git rm --cached them, or link them)", bad);
    nl_buf_free(&why);
    free(figures.data);
    free(pages.data);
    nl_buf_free(&links);

    /* planted: a page links one figure beside it and one up a directory;
     * the third, a .gp and a summary.csv are not links and only the
     * figure among them is reported */
    nl_buf planted_links = {0};
    nl_buf_printf(&planted_links, "\n");
    add_links("results/x/page.md",
              "see ![a](plots/a.png) and [b](../y/plots/b.png#top)\n```\n![c](plots/c.png)\n```\n",
              &planted_links);
    /* a figure's script and data go with its figure: a.gp and a.csv with the
     * linked a.png, c.gp and c.csv not; the forest plot's script is always kept */
    static const char planted[] = "results/x/plots/a.png\0results/y/plots/b.png\0results/x/plots/c.png\0"
                                  "results/x/plots/c.gp\0results/x/summary.csv\0results/x/plots/a.csv\0"
                                  "results/x/plots/c.csv\0results/x/plots/a.gp\0results/x/plots/verdicts.gp\0";
    nl_buf planted_why = {0};
    ck_assert_int_eq(unlinked_figures(planted, sizeof planted - 1, planted_links.data, &planted_why), 3);
    ck_assert_str_eq(planted_why.data, "results/x/plots/c.png\nresults/x/plots/c.gp\nresults/x/plots/c.csv\n");
    nl_buf_free(&planted_why);
    nl_buf_free(&planted_links);
}
END_TEST

START_TEST(test_results_gitignore_is_generated)
{
    char *want = nl_results_ignore_text(), *have = NULL;
    ck_assert(want);
    const char *path = NORMLAB_SOURCE_DIR "/results/.gitignore";
    nl_error err = {0};
    if (getenv("NL_WRITE_IGNORE"))
        ck_assert_msg(nl_write_atomic(path, want, strlen(want), &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_read_file(path, &have, NULL, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(!strcmp(have, want), "results/.gitignore is not the one core/results/files.h's table "
                  "gives; NL_WRITE_IGNORE=1 rewrites it. It has:\n%.1500s\nThe table gives:\n%.1500s", have, want);
    /* the table's live state and final models are in it, its evidence is not */
    ck_assert(strstr(want, "\n" NL_RUN_MARKER "\n") && strstr(want, "\n" NL_RUN_LOG_FILE "\n") &&
              strstr(want, "\n" NL_FINAL_MODEL_FILE "\n"));
    ck_assert(!strstr(want, NL_RUN_SUMMARY_FILE) && !strstr(want, NL_RUN_METRICS_FILE));
    /* the forest plot's script, kept, comes after the wider *.gp that is not */
    const char *gp = strstr(want, "\n*.gp\n"), *forest = strstr(want, "\n!**/" NL_PLOTS_DIR "/" NL_VERDICTS_PLOT ".gp\n");
    ck_assert_msg(gp && forest && forest > gp, "%s", want);
    free(have);
    free(want);
}
END_TEST

/* ---- a committed sweep keeps its experiment's text (issue 93) ---- */

/* the committed sweep directories (their tracked summary.csv's) whose
 * record or kept copy is wrong: no record, no copy, or a copy that is not
 * the text the record's hash names; a line each in why; the count */
static int without_their_experiment(const char *root, const char *listing, size_t len, nl_buf *why)
{
    int bad = 0;
    for (const char *path = listing; path < listing + len; path += strlen(path) + 1) {
        const char *name = strrchr(path, '/');
        if (!name || strcmp(name + 1, NL_SWEEP_SUMMARY_FILE))
            continue;
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/%.*s", root, (int)(name - path), path);
        nl_sweep_experiment_source src;
        nl_sweep_experiment_source_of(dir, &src);
        const char *wrong = !src.recorded       ? "records no experiment file (" NL_SWEEP_EXPERIMENT_FILE ")"
                            : !src.copy[0]      ? "keeps no copy of its experiment's text (" NL_SWEEP_EXPERIMENT_COPY
                                                  ", its hash in " NL_SWEEP_EXPERIMENT_FILE ")"
                            : src.copy_changed ? "keeps a copy that is not the text its record's hash names"
                                               : NULL;
        if (wrong) {
            nl_buf_printf(why, "%s: %s\n", dir, wrong);
            bad++;
        }
    }
    return bad;
}

START_TEST(test_committed_sweeps_keep_their_experiment)
{
    nl_buf listing = git_listing("ls-files -z -- results");
    nl_buf why = {0};
    const int bad = without_their_experiment(NORMLAB_SOURCE_DIR, listing.data, listing.len, &why);
    if (bad)
        fprintf(stderr, "%s", why.data);
    ck_assert_msg(bad == 0, "%d committed sweeps would lose their description and claim texts when copied "
                  "or moved (listed above)", bad);
    nl_buf_free(&why);
    free(listing.data);
    /* planted: a sweep with no record, one with no copy, one whose copy
     * was edited; and one that keeps its text, which passes */
    tu_tmp_make("committed-keep");
    tu_tmp_write("exp.yaml", "name: k\n");
    char made[600];
    nl_error err = {0};
    for (const char *const *d = (const char *const[]){"none", "nocopy", "edited", "kept", NULL}; *d; d++) {
        snprintf(made, sizeof made, "%s/results/%s", tu_tmp, *d);
        ck_assert_msg(nl_make_dirs(made, &err) == NL_OK, "%s", err.msg);
    }
    tu_tmp_write("results/none/" NL_SWEEP_SUMMARY_FILE, "run\n");
    static const char head[] = "# normlab sweep: the experiment file this sweep was run from, relative to this "
                               "directory\n../../exp.yaml\n# its text is kept beside this record in "
                               NL_SWEEP_EXPERIMENT_COPY ", whose FNV-1a 64-bit hash is ";
    char record[600];
    /* FNV-1a 64 of "name: k\n" */
    unsigned long long h = 14695981039346656037ULL;
    for (const char *c = "name: k\n"; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    snprintf(record, sizeof record, "%s%016llx\n", head, h);
    static const char *const dirs[] = {"nocopy", "edited", "kept"};
    for (int i = 0; i < 3; i++) {
        char path[200];
        snprintf(path, sizeof path, "results/%s/" NL_SWEEP_SUMMARY_FILE, dirs[i]);
        tu_tmp_write(path, "run\n");
        snprintf(path, sizeof path, "results/%s/" NL_SWEEP_EXPERIMENT_FILE, dirs[i]);
        tu_tmp_write(path, record);
        snprintf(path, sizeof path, "results/%s/" NL_SWEEP_EXPERIMENT_COPY, dirs[i]);
        if (i > 0)
            tu_tmp_write(path, i == 1 ? "name: k, edited\n" : "name: k\n");
    }
    static const char planted[] = "results/none/" NL_SWEEP_SUMMARY_FILE "\0results/nocopy/" NL_SWEEP_SUMMARY_FILE
                                  "\0results/edited/" NL_SWEEP_SUMMARY_FILE "\0results/kept/" NL_SWEEP_SUMMARY_FILE;
    nl_buf planted_why = {0};
    ck_assert_int_eq(without_their_experiment(tu_tmp, planted, sizeof planted, &planted_why), 3);
    ck_assert_msg(strstr(planted_why.data, "none: records no experiment file") &&
                      strstr(planted_why.data, "nocopy: keeps no copy") &&
                      strstr(planted_why.data, "edited: keeps a copy that is not") && !strstr(planted_why.data, "kept:"),
                  "%s", planted_why.data);
    nl_buf_free(&planted_why);
    tu_tmp_remove();
}
END_TEST

/* A line of `git grep -n` output ("PATH:LINE:TEXT") where a run names its
 * init.from source by an absolute path: config.yaml's `from:` under init:
 * or summary.json's "init_from". normlab writes the absolute path (so that a
 * config names its source wherever it is read), but a committed run's path
 * is the committing machine's: in any other checkout the sweep reads the
 * run as another plan and trains it again (test_committed_sweeps_plan_no_run
 * fails there, not here). A committed source is named relative to the
 * directory the sweep ran in, as finetune-shift's runs are. */
static bool names_a_machine_path(const char *line)
{
    const char *text = strchr(line, ':');
    text = text ? strchr(text + 1, ':') : NULL;
    if (!text)
        return false;
    text++;
    while (*text == ' ')
        text++;
    const char *value = !strncmp(text, "from:", 5) ? text + 5 : !strncmp(text, "\"init_from\":", 12) ? text + 12 : NULL;
    if (!value)
        return false;
    while (*value == ' ' || *value == '"')
        value++;
    return *value == '/';
}

/* the lines of a packed sweep's config.yaml and summary.json files as
 * `git grep -n` prints them ("SWEEP/runs/RUN/FILE:LINE:TEXT"): git greps
 * no text inside a pack's compressed values */
typedef struct {
    nl_store *store;
    const char *sweep;
    nl_buf *out;
} pack_grep;

static int grep_packed_run(const char *run, void *ctx)
{
    pack_grep *g = ctx;
    static const char *const files[] = {"config.yaml", "summary.json"};
    for (size_t f = 0; f < 2; f++) {
        char *text = NULL;
        nl_error err = {0};
        if (nl_store_read(g->store, run, files[f], &text, NULL, &err) != NL_OK)
            continue;
        int n = 1;
        for (char *line = text; line && *line; n++) {
            char *end = strchr(line, '\n');
            if (end)
                *end = '\0';
            nl_buf_printf(g->out, "%s/runs/%s/%s:%d:%s\n", g->sweep, run, files[f], n, line);
            line = end ? end + 1 : NULL;
        }
        free(text);
    }
    return 0;
}

static void grep_packs(nl_buf *out)
{
    nl_buf packs = git_listing("ls-files -- 'results/**/" NL_SWEEP_PACK "'");
    for (char *line = packs.data; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        char sweep[1200], dir[1400];
        snprintf(sweep, sizeof sweep, "%.*s", (int)(strlen(line) - strlen("/" NL_SWEEP_PACK)), line);
        snprintf(dir, sizeof dir, "%s/%s", NORMLAB_SOURCE_DIR, sweep);
        pack_grep g = {.sweep = sweep, .out = out};
        nl_error err = {0};
        ck_assert_msg(nl_store_open(dir, &g.store, &err) == NL_OK, "%s", err.msg);
        ck_assert_msg(nl_store_each_run(g.store, grep_packed_run, &g, &err) == NL_OK, "%s", err.msg);
        line = end ? end + 1 : NULL;
    }
    free(packs.data);
}

START_TEST(test_committed_runs_name_no_machine_path)
{
    nl_buf listing = git_listing("grep -n -e '^ *from: ' -e '\"init_from\": ' -- 'results/**/config.yaml' "
                                 "'results/**/summary.json' || true");
    grep_packs(&listing);
    int bad = 0;
    for (char *line = listing.data; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (names_a_machine_path(line) && bad++ < 5)
            fprintf(stderr, "%s\n", line);
        line = end ? end + 1 : NULL;
    }
    ck_assert_msg(bad == 0, "%d committed run files name their init.from source by this machine's absolute path "
                  "(the first listed above): write it relative to the directory the sweep ran in", bad);
    free(listing.data);
    /* planted: both files' forms found; relative, empty and other keys not */
    static const char *const found[] = {"results/x/runs/r/config.yaml:91:  from: \"/work/c/results/p/runs/s\"",
                                        "results/x/runs/r/config.yaml:91:  from: /work/c/results/p",
                                        "results/x/runs/r/summary.json:46:  \"init_from\": \"/work/c/results/p\","};
    static const char *const passed[] = {"results/x/runs/r/config.yaml:91:  from: \"results/p/runs/s\"",
                                         "results/x/runs/r/config.yaml:91:  from: \"\"",
                                         "results/x/runs/r/summary.json:46:  \"init_from\": \"results/p\",",
                                         "results/x/runs/r/summary.json:47:  \"data_dir\": \"/usr/share\","};
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++)
        ck_assert_msg(names_a_machine_path(found[i]), "not found: %s", found[i]);
    for (size_t i = 0; i < sizeof passed / sizeof passed[0]; i++)
        ck_assert_msg(!names_a_machine_path(passed[i]), "found: %s", passed[i]);
}
END_TEST

/* ---- the sample the default suite reads (issue 115) ---- */

/* tu_committed_sample: TU_SAMPLE_COUNT sweeps (results/ holds more small
 * ones than that), none over TU_SAMPLE_MAX_RUNS runs, in the seeded hash's
 * order, and the very list tests/committed_sample.py (the Python tests'
 * sampler) draws */
START_TEST(test_committed_sample_is_the_rule)
{
    char names[TU_SAMPLE_COUNT][256];
    const int n = tu_committed_sample(names);
    ck_assert_int_eq(n, TU_SAMPLE_COUNT);
    for (int i = 0; i < n; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/results/%.255s/summary.csv", NORMLAB_SOURCE_DIR, names[i]);
        char *text = NULL;
        nl_error err = {0};
        ck_assert_msg(nl_read_file(path, &text, NULL, &err) == NL_OK, "%s", err.msg);
        int lines = 0;
        for (const char *c = text; *c; c++)
            lines += *c == '\n';
        free(text);
        ck_assert_msg(lines - 1 <= TU_SAMPLE_MAX_RUNS, "%s: %d runs in the sample", names[i], lines - 1);
        if (i > 0)
            ck_assert_msg(tu_sample_hash(TU_SAMPLE_SEED, names[i - 1]) < tu_sample_hash(TU_SAMPLE_SEED, names[i]),
                          "%s before %s", names[i - 1], names[i]);
    }
    /* FNV-1a 64 of "issue-115/a", computed by hand from its definition */
    uint64_t h = 14695981039346656037ULL;
    for (const char *c = "issue-115/a"; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    ck_assert(tu_sample_hash("issue-115", "a") == h && tu_sample_hash("issue-115", "b") != h);
    nl_buf python = command_output("python3 '" NORMLAB_SOURCE_DIR "/tests/committed_sample.py' '" NORMLAB_SOURCE_DIR "'");
    nl_buf mine = {0};
    for (int i = 0; i < n; i++)
        nl_buf_printf(&mine, "%s\n", names[i]);
    ck_assert_msg(python.data && !strcmp(python.data, mine.data), "tests/committed_sample.py draws\n%s\nthe C "
                  "sampler\n%s", python.data ? python.data : "(nothing)", mine.data);
    nl_buf_free(&mine);
    free(python.data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("committed_sweeps");
    TCase *tc = tcase_create("dry_run");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_committed_sweeps_plan_no_run);
    suite_add_tcase(s, tc);
    TCase *evidence = tcase_create("evidence");
    tcase_set_timeout(evidence, 120);
    tcase_add_test(evidence, test_results_hold_no_live_state);
    tcase_add_test(evidence, test_file_table_rows_are_consistent);
    tcase_add_test(evidence, test_committed_figures_are_linked);
    tcase_add_test(evidence, test_results_gitignore_is_generated);
    tcase_add_test(evidence, test_committed_sweeps_keep_their_experiment);
    tcase_add_test(evidence, test_committed_runs_name_no_machine_path);
    tcase_add_test(evidence, test_committed_sample_is_the_rule);
    suite_add_tcase(s, evidence);
    return tu_run_suite(s);
}
