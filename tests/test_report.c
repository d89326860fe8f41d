/* normlab report and normlab export tensorboard on a small sweep made
 * here: what the page holds (the numbers normlab table computes, a figure
 * per declared plot with ids of its own, each run's config and
 * provenance, nothing fetched from outside), that the results directory
 * is only read, and bad input as table and plot meet it: a directory with
 * no runs, a torn CSV, a run still being written, an output that exists.
 * The event files' framing and CRC32C here; TensorBoard itself reads them
 * in test_tensorboard, a browser the page in test_report_browser. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log/files.h"
#include "plot/plot.h"
#include "results/files.h"
#include "results/results.h"
#include "results/rundir.h"
#include "results/table.h"
#include "tensorboard/tfevents.h"
#include "testutil.h"
#include "train/run.h"

static const char *const experiment =
    "# A report test: no normalization against batch norm, two seeds.\n"
    "#\n"
    "# A second paragraph of the description.\n"
    "name: sw\n"
    "base:\n"
    "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
    "  model: {arch: mlp, widths: [16]}\n"
    "  train: {batch_size: 32, steps: 30, eval_every: 10, log_every: 5, optimizer: {lr: 0.1}}\n"
    "grid:\n"
    "  model.norm.type: [none, batch]\n"
    "  seed: [1, 2]\n"
    "plots:\n"
    "  - {kind: curves}\n"
    "  - {kind: final, x: model.norm.type}\n";

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void make_sweep(const char *tag)
{
    tu_tmp_make(tag);
    tu_tmp_write("exp.yaml", experiment);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw -j 2"), 0);
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s/tmp", tu_tmp);
    ck_assert_int_eq(mkdir(tmp, 0755), 0);
    /* the page's private directory goes here: the test sees it removed */
    setenv("TMPDIR", tmp, 1);
}

/* the names of the files under dir, one a line (recursively) */
static void list_files(const char *dir, nl_buf *out)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot list %s", dir);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[1200];
        nl_path_join(path, sizeof path, dir, e->d_name);
        struct stat st;
        ck_assert_int_eq(lstat(path, &st), 0);
        nl_buf_printf(out, "%s %lld %lld\n", path, (long long)st.st_size, (long long)st.st_mtime);
        if (S_ISDIR(st.st_mode))
            list_files(path, out);
    }
    closedir(d);
}

static char *files_under(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, dir);
    nl_buf b = {0};
    list_files(path, &b);
    return b.data;
}

static bool dir_empty(const char *name)
{
    char *files = files_under(name);
    const bool empty = !files;
    free(files);
    return empty;
}

/* the percent text of a cell's mean, as normlab table computes it */
static void table_mean(const char *cell_key, char *out, size_t size)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/sw", tu_tmp);
    nl_table_spec spec = {.metric = "final_test_error"};
    nl_buf md = {0}, csv = {0};
    nl_error err = {0};
    ck_assert_msg(nl_table_write(dir, &spec, &md, &csv, NULL, &err) == NL_OK, "%s", err.msg);
    const char *row = strstr(csv.data, cell_key);
    ck_assert_msg(row != NULL, "%s", csv.data);
    double mean = 0;
    ck_assert_int_eq(sscanf(row, "cell,%*[^,],%*d,%*d,%lf", &mean), 1);
    snprintf(out, size, ">%.2f<", 100 * mean);
    nl_buf_free(&md);
    nl_buf_free(&csv);
}

START_TEST(test_page)
{
    make_sweep("report");
    char *before = files_under("sw");
    ck_assert_int_eq(tu_normlab("report sw --out r.html --experiment exp.yaml"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "r.html (") && strstr(out, "4 runs, 2 figures"), "%s", out);
    free(out);
    char *after = files_under("sw");
    ck_assert_msg(!strcmp(before, after), "the report changed the sweep directory:\n%s\nthen\n%s", before, after);
    ck_assert_msg(dir_empty("tmp"), "the figures' temporary directory is left behind");
    char *page = tu_tmp_read("r.html");
    /* self-contained: no script, style sheet, font or image from outside */
    ck_assert_msg(!strstr(page, " src=") && !strstr(page, "<link rel=\"stylesheet\"") && !strstr(page, "@import") &&
                      !strstr(page, "url(http") && !strstr(page, "href=\"http"),
                  "the page refers to something outside it");
    ck_assert_msg(strstr(page, "A report test: no normalization against batch norm, two seeds.") &&
                      strstr(page, "A second paragraph"), "the description is missing");
    /* the table over seeds holds normlab table's means */
    char mean[64];
    table_mean("cell,batch,", mean, sizeof mean);
    ck_assert_msg(strstr(page, mean), "batch norm's mean test error %s is not on the page", mean);
    /* a figure per declared plot, each SVG's ids its own */
    ck_assert_int_eq(count(page, "<svg role=\"img\""), 2);
    ck_assert_int_eq(count(page, "id=\"gnuplot_canvas\""), 0);
    ck_assert_int_eq(count(page, "id=\"f1-gnuplot_canvas\""), 1);
    ck_assert_int_eq(count(page, "id=\"f2-gnuplot_canvas\""), 1);
    ck_assert_msg(!strstr(page, "href='#gp") && !strstr(page, "href=\"#gp"), "a figure points at another's shapes");
    /* a caption names its figure once ("lr: lr: ..." repeated the note's own name) */
    for (const char *cap = strstr(page, "<figcaption><code>"); cap; cap = strstr(cap + 1, "<figcaption><code>")) {
        char name[128], again[300];
        ck_assert(sscanf(cap, "<figcaption><code>%127[^<]", name) == 1);
        snprintf(again, sizeof again, "<figcaption><code>%s</code>: %s:", name, name);
        ck_assert_msg(strncmp(cap, again, strlen(again)), "%.200s", cap);
    }
    /* every run, its config's varied keys and provenance */
    static const char *const runs[] = {"type-none_seed-1", "type-none_seed-2", "type-batch_seed-1", "type-batch_seed-2"};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
        ck_assert_msg(strstr(page, runs[i]), "run %s is missing", runs[i]);
    ck_assert_int_eq(count(page, "<details class=\"run\""), 4);
    ck_assert_msg(strstr(page, "<dt>CPU kernel set</dt>") && strstr(page, "<dt>commit</dt>") &&
                      strstr(page, "settings every run shares"), "no provenance or shared settings");
    /* provenance all four runs share is listed once, where the runs were
     * made (500 runs' pages stay within 2 MB); a run at SWEEP/runs/NAME
     * lists no directory (the section's path and its name say it), nor a
     * name row among its keys */
    ck_assert_int_eq(count(page, "<dt>commit</dt>"), 1);
    ck_assert_int_eq(count(page, "<dt>CPU kernel set</dt>"), 1);
    ck_assert_int_eq(count(page, "<dt>directory</dt>"), 0);
    ck_assert_int_eq(count(page, "<tr><td>name</td>"), 0);
    free(page);
    /* an existing page is refused, and left as it was */
    char *first = tu_tmp_read("r.html");
    ck_assert_int_eq(tu_normlab("report sw --out r.html"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "r.html exists; give --force"), "%s", out);
    free(out);
    char *second = tu_tmp_read("r.html");
    ck_assert_str_eq(first, second);
    ck_assert_int_eq(tu_normlab("report sw --out r.html --force"), 0);
    /* one directory's page goes beside its results by default, its
     * experiment found by the sweep's record of it; without the experiment
     * file, every plot kind that applies, and the page says what is missing */
    ck_assert_int_eq(tu_normlab("report sw"), 0);
    page = tu_tmp_read("sw/report.html");
    ck_assert_msg(strstr(page, "A second paragraph") && !strstr(page, "No experiment file"), "%.2000s", page);
    free(page);
    char from[600], to[600];
    snprintf(from, sizeof from, "%s/exp.yaml", tu_tmp);
    snprintf(to, sizeof to, "%s/moved.yaml", tu_tmp);
    ck_assert_int_eq(rename(from, to), 0);
    /* the file gone and the copy the sweep kept of it too (test_experiment_travels reads the copy) */
    char kept_from[600], kept_to[600];
    snprintf(kept_from, sizeof kept_from, "%s/sw/" NL_SWEEP_EXPERIMENT_COPY, tu_tmp);
    snprintf(kept_to, sizeof kept_to, "%s/kept.yaml", tu_tmp);
    ck_assert_int_eq(rename(kept_from, kept_to), 0);
    ck_assert_int_eq(tu_normlab("report sw --force"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "exp.yaml (recorded in sw/" NL_SWEEP_EXPERIMENT_FILE ") not found: descriptions, "
                              "declared plots and claim texts missing; give --experiment FILE (the directory "
                              "keeps no copy of its text, " NL_SWEEP_EXPERIMENT_COPY ")"), "%s", out);
    free(out);
    page = tu_tmp_read("sw/report.html");
    ck_assert_msg(strstr(page, "No experiment file") && strstr(page, "Every plot kind that applies") &&
                      strstr(page, "<div class=\"warn\"") && strstr(page, "claim texts missing"), "%.2000s", page);
    free(page);
    ck_assert_int_eq(rename(to, from), 0);
    ck_assert_int_eq(rename(kept_to, kept_from), 0);
    /* two runs: titled by both names, the kinds that do not apply folded
     * into one line each, and a missing number right-aligned with the others
     * and sorted last (data-v="") rather than a bare text cell */
    ck_assert_int_eq(tu_normlab("report sw/runs/type-none_seed-1 sw/runs/type-batch_seed-1 --out two.html"), 0);
    page = tu_tmp_read("two.html");
    ck_assert_msg(strstr(page, "<title>type-none_seed-1 and type-batch_seed-1"), "%.600s", page);
    ck_assert_msg(!strstr(page, "Not drawn: "), "a line per kind not drawn");
    ck_assert_int_le(count(page, "plot kinds not drawn</summary>"), 2);
    ck_assert_msg(!strstr(page, "<td>–</td>"), "a missing number is a text cell");
    free(page);
    free(first);
    free(second);
    free(before);
    free(after);
    tu_tmp_remove();
}
END_TEST

/* Hover titles: each curve of a figure is titled with its legend label
 * (gnuplot's SVG titles every plot "gnuplot_plot_N"). On a committed
 * sweep's page, the titled plot groups of figure `figure` number at least
 * `min_titled` and each title is one of the sweep's values of key, every
 * value once at least; returns how many groups were titled. */
static int check_hover_titles(const char *sweep, int figure, const char *key, int min_titled)
{
    char args[1400], dir[600], prefix[64];
    /* its experiment file named: from the test's directory normlab would not find it */
    snprintf(args, sizeof args, "report %s/results/%s --experiment %s/experiments/%s.yaml --out hover.html --force",
             NORMLAB_SOURCE_DIR, sweep, NORMLAB_SOURCE_DIR, sweep);
    ck_assert_int_eq(tu_normlab(args), 0);
    char *page = tu_tmp_read("hover.html");
    ck_assert_msg(!strstr(page, "<title>gnuplot_plot_"), "%s: a hover title is gnuplot's own", sweep);
    ck_assert_msg(!strstr(page, "<title>Gnuplot</title>"), "%s: a figure is titled Gnuplot", sweep);
    nl_results r;
    nl_error err = {0};
    snprintf(dir, sizeof dir, "%s/results/%s", NORMLAB_SOURCE_DIR, sweep);
    ck_assert_msg(nl_results_load(dir, &r, &err) == NL_OK, "%s", err.msg);
    int k = 0;
    while (k < r.n_keys && strcmp(r.keys[k], key))
        k++;
    ck_assert_msg(k < r.n_keys, "%s varies no %s", sweep, key);
    const char *labels[64];
    const int n_labels = nl_results_distinct(&r, k, labels, 64);
    int seen[64] = {0}, titled = 0;
    snprintf(prefix, sizeof prefix, "<g id=\"f%d-gnuplot_plot_", figure);
    for (const char *g = strstr(page, prefix); g; g = strstr(g + 1, prefix)) {
        const char *title = strstr(g, "><title>");
        if (!title || title > strchr(g, '\n'))
            continue;
        title += strlen("><title>");
        const size_t len = strcspn(title, "<");
        int i = 0;
        while (i < n_labels && (strlen(labels[i]) != len || strncmp(labels[i], title, len)))
            i++;
        ck_assert_msg(i < n_labels, "%s figure %d: a curve's hover title \"%.*s\" is no legend label", sweep, figure,
                      (int)len, title);
        seen[i]++;
        titled++;
    }
    for (int i = 0; i < n_labels; i++)
        ck_assert_msg(seen[i], "%s figure %d: no curve titled %s", sweep, figure, labels[i]);
    ck_assert_int_ge(titled, min_titled);
    nl_results_free(&r);
    free(page);
    return titled;
}

START_TEST(test_hover_titles)
{
    tu_tmp_make("hover");
    /* the legend in the plot: a key entry per normalizer, its error bars in its group */
    check_hover_titles("wu-he-batch-mlp", 1, "model.norm.type", 4);
    /* two panels without a key and one that draws it: the panels' bands
     * and mean lines (4 groups each) take the key's labels by colour */
    check_hover_titles("rms-lm", 1, "model.norm.type", 10);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_primary_metric_first)
{
    tu_tmp_make("lead");
    /* a language model's table over seeds leads with its loss, an image
     * classifier's with its error */
    static const struct {
        const char *sweep, *first;
    } leads[] = {{"rms-lm", "final_test_loss"}, {"wu-he-batch-mlp", "final_test_error"}};
    for (size_t i = 0; i < sizeof leads / sizeof leads[0]; i++) {
        char args[1400];
        snprintf(args, sizeof args, "report %s/results/%s --out lead.html --force", NORMLAB_SOURCE_DIR,
                 leads[i].sweep);
        ck_assert_int_eq(tu_normlab(args), 0);
        char *page = tu_tmp_read("lead.html"), first[64] = "";
        /* a name's parts are split by <wbr>, its break opportunities */
        char *to = page;
        for (const char *from = page; *from;)
            if (!strncmp(from, "<wbr>", 5))
                from += 5;
            else
                *to++ = *from++;
        *to = '\0';
        const char *th = strstr(page, "<th class=\"num\">final_test_");
        ck_assert_msg(th && sscanf(th, "<th class=\"num\">%63[a-z_]", first) == 1, "%s: no metric column", leads[i].sweep);
        ck_assert_msg(!strcmp(first, leads[i].first), "%s: the first metric column is %s", leads[i].sweep, first);
        free(page);
    }
    tu_tmp_remove();
}
END_TEST

static void make_dir(const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, name);
    ck_assert_int_eq(mkdir(path, 0755), 0);
}

/* appends text to a file under tu_tmp */
static void append(const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, name);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* a finished run's summary.json (under tu_tmp) made to say running, as it
 * does while the run goes on: the rest of the file as it was, whole JSON */
static void say_running(const char *name)
{
    char *json = tu_tmp_read(name);
    static const char ok[] = "\"status\": \"ok\"";
    char *status = strstr(json, ok);
    ck_assert_ptr_nonnull(status);
    nl_buf b = {0};
    nl_buf_printf(&b, "%.*s\"status\": \"running\"%s", (int)(status - json), json, status + strlen(ok));
    tu_tmp_write(name, b.data);
    nl_buf_free(&b);
    free(json);
}

START_TEST(test_bad_input)
{
    make_sweep("report-bad");
    /* neither a sweep nor a run, a sweep without runs: nothing made */
    make_dir("empty");
    make_dir("none");
    make_dir("fifo");
    ck_assert_int_eq(tu_normlab("report empty --out e.html"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "neither a sweep directory"), "%s", out);
    free(out);
    tu_tmp_write("none/summary.csv", "run,model.norm.type,status,final_test_error\n");
    ck_assert_int_eq(tu_normlab("report none --out e.html"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "nothing to report in none: its summary.csv lists no runs"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("export tensorboard none --out tb-none"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "nothing to export in none"), "%s", out);
    free(out);
    ck_assert_msg(access("e.html", F_OK) != 0 && access("tb-none", F_OK) != 0, "something was written");
    /* usage */
    ck_assert_int_eq(tu_normlab("report"), 2);
    ck_assert_int_eq(tu_normlab("report sw sw"), 2);
    ck_assert_int_eq(tu_normlab("report sw --out sw"), 2);
    ck_assert_int_eq(tu_normlab("report sw --bogus"), 2);
    ck_assert_int_eq(tu_normlab("report --help"), 0);
    /* an experiment file named but missing or broken is refused, naming
     * it, rather than a page quietly without it */
    ck_assert_int_eq(tu_normlab("report sw --out e.html --experiment nonexistent.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "--experiment") && strstr(out, "nonexistent.yaml"), "%s", out);
    free(out);
    tu_tmp_write("broken.yaml", "name: sw\nbase: [\n");
    ck_assert_int_eq(tu_normlab("report sw --out e.html --experiment broken.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "broken.yaml"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("report sw/runs/type-none_seed-1 --out e.html --experiment exp.yaml"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "single run"), "%s", out);
    free(out);
    char page_path[600];
    snprintf(page_path, sizeof page_path, "%s/e.html", tu_tmp);
    ck_assert_msg(access(page_path, F_OK) != 0, "a page was written");
    ck_assert_int_eq(tu_normlab("export tensorbord sw --out tb"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "did you mean 'tensorboard'"), "%s", out);
    free(out);

    /* a torn summary.csv row, a torn metrics.csv row and a run still being
     * written (its summary.json says running): a page all the same, each
     * said on screen and on the page */
    append("sw/summary.csv", "type-none_seed-9,none,9,ok,0.4");
    append("sw/runs/type-none_seed-1/metrics.csv", "31,0.9,train,0.5");
    say_running("sw/runs/type-batch_seed-2/summary.json");
    ck_assert_int_eq(tu_normlab("report sw --out torn.html"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "warning: sw: sw/summary.csv line 6: the last line is cut short") &&
                      strstr(out, "type-none_seed-1/metrics.csv line") &&
                      strstr(out, "1 of 4 runs are unfinished"), "%s", out);
    free(out);
    char *page = tu_tmp_read("torn.html");
    /* its summary.json says running, but no process holds the run: killed, not pending */
    ck_assert_msg(strstr(page, "the last line is cut short") && strstr(page, "1 of 4 runs are unfinished (1 killed)") &&
                      strstr(page, "status-killed\">killed") && !strstr(page, "status-pending\">"),
                  "the page does not say what it left out");
    free(page);
    ck_assert_int_eq(tu_normlab("export tensorboard sw --out tb"), 0);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "metrics.csv line") && strstr(out, "1 of 4 runs are unfinished") &&
                      strstr(out, "4 runs,"), "%s", out);
    free(out);
    /* an export into a directory with files is refused, nothing changed */
    char *exported = files_under("tb");
    ck_assert_int_eq(tu_normlab("export tensorboard sw --out tb"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "tb exists and is not empty; give --force"), "%s", out);
    free(out);
    char *again = files_under("tb");
    ck_assert_str_eq(exported, again);
    ck_assert_int_eq(tu_normlab("export tensorboard sw --out tb --force"), 0);
    free(exported);
    free(again);
    /* a FIFO where summary.csv should be is refused without blocking */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/fifo/summary.csv", tu_tmp);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    ck_assert_int_eq(tu_normlab("report fifo --out f.html"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "FIFO"), "%s", out);
    free(out);
    tu_tmp_remove();
}
END_TEST

/* runs a shell command in tu_tmp, NORMLAB naming the program under test */
static int shell(const char *command)
{
    char line[4096];
    snprintf(line, sizeof line, "cd '%s' && NORMLAB='%s' sh -c '%s'", tu_tmp, NORMLAB_BINARY, command);
    const int status = system(line);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* normlab report --watch on a sweep while it runs: the page is written
 * again as runs finish, said live while the sweep runs, and a last time
 * without reloading once it ends; a sweep killed part-way leaves a whole
 * page that no longer reloads, its unfinished runs pending */
START_TEST(test_watch)
{
    tu_tmp_make("report-watch");
    tu_tmp_write("exp.yaml", "name: sw\nbase:\n"
                 "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
                 "  model: {arch: mlp, widths: [16]}\n"
                 "  train: {batch_size: 32, steps: 3000, eval_every: 500, log_every: 50, optimizer: {lr: 0.1}}\n"
                 "grid:\n  model.norm.type: [none, batch]\n  seed: [1, 2]\n");
    /* the sweep in the background; the watch once its summary.csv is there */
    ck_assert_int_eq(shell("$NORMLAB sweep exp.yaml --out sw -j 1 >sweep.txt 2>&1 & "
                           "while [ ! -f sw/summary.csv ]; do sleep 0.02; done; "
                           "$NORMLAB report sw --watch --interval 1 --out w.html >watch.txt 2>&1"), 0);
    char *said = tu_tmp_read("watch.txt");
    ck_assert_msg(strstr(said, "4 runs, 0 figures") || strstr(said, "4 runs, 1 figure"), "%s", said);
    ck_assert_msg(strstr(said, "; live: the sweep runs\n"), "no live page while the sweep ran:\n%s", said);
    const char *last = strrchr(said, ';');
    ck_assert_msg(last && !strcmp(last, "; 4 finished\n"), "the last page is not the finished sweep's:\n%s", said);
    free(said);
    char *page = tu_tmp_read("w.html");
    ck_assert_msg(strstr(page, "<body data-live=\"0\">") && !strstr(page, "class=\"live\"") &&
                      strstr(page, "The sweep finished: 4 of 4 runs finished."), "the last page reloads");
    ck_assert_int_eq(count(page, "status-ok\">ok</span></td>"), 4);
    free(page);
    /* bad input: nothing written */
    ck_assert_int_eq(tu_normlab("report sw --interval 2 --out x.html"), 2);
    ck_assert_int_eq(tu_normlab("report sw --watch --interval 0 --out x.html"), 2);
    ck_assert_int_eq(tu_normlab("report sw --watch --out w.html"), 2); /* exists, no --force */
    char never[600];
    snprintf(never, sizeof never, "%s/x.html", tu_tmp);
    ck_assert_msg(access(never, F_OK) != 0, "a page was written");

    /* killed: the sweep and its runs (a session of their own) */
    ck_assert_int_eq(shell("setsid $NORMLAB sweep exp.yaml --out sk -j 1 --set train.steps=10000000 "
                           ">/dev/null 2>&1 & sweep=$!; "
                           "while [ ! -s sk/runs/type-none_seed-1/metrics.csv ]; do sleep 0.02; done; "
                           "$NORMLAB report sk --watch --interval 1 --out k.html >kill.txt 2>&1 & watch=$!; "
                           "sleep 1.5; kill -KILL -$sweep; wait $watch"), 0);
    said = tu_tmp_read("kill.txt");
    /* a live page while the sweep ran, and a last one that no longer is (how
     * many runs finished before the kill depends on the machine's speed) */
    last = strrchr(said, ';');
    ck_assert_msg(strstr(said, "; live: the sweep runs\n") && last && !strstr(last, "live") &&
                      strstr(said, " finished\n"), "%s", said);
    free(said);
    page = tu_tmp_read("k.html");
    /* the run the kill stopped is killed (neither failed nor running), those
     * not started pending, and no figure says a run is still going */
    ck_assert_msg(strstr(page, "<body data-live=\"0\">") && strstr(page, "status-killed\">killed</span>") &&
                      strstr(page, "status-pending\">") && !strstr(page, "status-running\">") &&
                      !strstr(page, "status-failed\">") && !strstr(page, "still going") &&
                      strstr(page, "state-stopped\" role=\"status\">The sweep stopped: ") &&
                      strstr(page, "</html>\n"), "the killed sweep's page");
    free(page);
    tu_tmp_remove();
}
END_TEST

/* A sweep that runs, for --watch, without training one: a process of this
 * test holds the sweep's .lock as a sweep does (flock, its pid and host
 * written in it) until it is killed. */
static pid_t hold_sweep_lock(const char *rel_dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/" NL_SWEEP_LOCK, tu_tmp, rel_dir);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    const pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        const int fd = open(path, O_RDWR | O_CREAT, 0644);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || !nl_lock_holder_write(fd))
            _exit(1);
        (void)!write(ready[1], "y", 1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char byte = 0;
    ck_assert_msg(read(ready[0], &byte, 1) == 1, "the sweep's lock could not be held");
    close(ready[0]);
    return pid;
}

/* the report's temporary directories left in the test's private TMPDIR */
static int report_tmp_dirs(void)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/tmp", tu_tmp);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot list %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += !strncmp(e->d_name, "normlab-report.", 15);
    closedir(d);
    return n;
}

/* waits (up to 60 s) until tu_tmp's file `rel` holds `text` */
static void wait_for_text(const char *rel, const char *text)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, rel);
    for (int i = 0; i < 6000; i++) {
        char *got = NULL;
        nl_error ignored = {0};
        const bool found = nl_read_file(path, &got, NULL, &ignored) == NL_OK && strstr(got, text);
        free(got);
        if (found)
            return;
        usleep(10000);
    }
    ck_abort_msg("%s never said \"%s\"", rel, text);
}

/* the watch's wait status, once it has ended (up to 60 s after the signal;
 * its interval is longer, so an ended wait is the signal's doing) */
static int watch_status(pid_t pid)
{
    int status = 0;
    for (int i = 0; i < 6000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        usleep(10000);
    }
    killpg(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ck_abort_msg("the watch went on after its signal");
    return status;
}

static void plant_unfinished(const char *run, bool logged);

/* the page the watch left: whole, no longer live, and says it stopped;
 * its state line says, after the time, `then` */
static void assert_stopped_page(const char *rel, const char *signal_name, const char *then)
{
    char *page = tu_tmp_read(rel);
    char said[64];
    snprintf(said, sizeof said, "(%s), while the sweep was still running", signal_name);
    ck_assert_msg(strstr(page, "<body data-live=\"0\">") && !strstr(page, "class=\"live\"") &&
                      !strstr(page, "Live: the sweep is running"), "%s: the stopped watch's page is live", rel);
    ck_assert_msg(strstr(page, "<p class=\"stopped\" role=\"status\">The watch stopped at ") && strstr(page, said),
                  "%s: the page does not say the watch stopped on %s", rel, signal_name);
    ck_assert_msg(strstr(page, "</html>\n"), "%s: not whole", rel);
    /* the body speaks of then, in the past tense, at the banner's time
     * (issue 93, 2): before, it said "The sweep is running" under "The
     * watch stopped" */
    const char *banner = strstr(page, "The watch stopped at "), *body = strstr(page, "When the watch stopped at ");
    ck_assert_msg(body && !strstr(page, "The sweep is running"), "%s: the frozen page speaks in the present", rel);
    banner += strlen("The watch stopped at ");
    body += strlen("When the watch stopped at ");
    ck_assert_msg(!strncmp(banner, body, 16) && !strncmp(body + 16, then, strlen(then)),
                  "%s: the frozen page does not say how the sweep stood when the watch stopped: %.200s", rel, body);
    free(page);
}

/* SIGINT and SIGTERM stop normlab report --watch with a last page: the
 * page being made is finished (its temporary directory removed), the page
 * left says the watch stopped and does not reload, the exit status is the
 * signal's (128 + its number). SIGINT comes while a page's figures are
 * being drawn (gnuplot here waits for the test's word: the temporary
 * directory is there when the signal comes), SIGTERM while the watch waits
 * between pages. Before, either ended the watch at once: the directory
 * stayed in TMPDIR, the page said "Live" and reloaded for ever. */
START_TEST(test_watch_stopped)
{
    make_sweep("report-stop");
    const pid_t holder = hold_sweep_lock("sw");
    char real[600], shim[1600];
    ck_assert_msg(nl_plot_find_gnuplot(real, sizeof real), "gnuplot is not on PATH");
    snprintf(shim, sizeof shim, "#!/bin/sh\n: >'%s/gnuplot-started'\n"
             "while [ ! -e '%s/gnuplot-go' ]; do sleep 0.02; done\nexec '%s' \"$@\"\n", tu_tmp, tu_tmp, real);
    ck_assert_int_eq(mkdir(strcat(strcpy(real, tu_tmp), "/bin"), 0755), 0);
    tu_tmp_write("bin/gnuplot", shim);
    ck_assert_int_eq(chmod(strcat(real, "/gnuplot"), 0755), 0);

    /* SIGINT while the first page's figures are drawn */
    char args[1200];
    snprintf(args, sizeof args, "report sw --watch --interval 600 --out int.html");
    const char *path = getenv("PATH");
    char *saved_path = strdup(path ? path : "/usr/bin:/bin");
    char shim_path[1400];
    snprintf(shim_path, sizeof shim_path, "%s/bin:%s", tu_tmp, saved_path);
    ck_assert_int_eq(setenv("PATH", shim_path, 1), 0);
    pid_t w = tu_normlab_start(args, "int.txt", "int.txt");
    ck_assert_int_eq(setenv("PATH", saved_path, 1), 0);
    free(saved_path);
    wait_for_text("gnuplot-started", "");
    ck_assert_int_eq(report_tmp_dirs(), 1);
    ck_assert_int_eq(kill(w, SIGINT), 0);
    tu_tmp_write("gnuplot-go", "");
    int status = watch_status(w);
    char *said = tu_tmp_read("int.txt");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGINT, "status %#x: %s", status, said);
    /* the page being made when the signal came (live) was not written */
    ck_assert_msg(!strstr(said, "live") && strstr(said, "int.html (") && strstr(said, "; the watch stopped on SIGINT\n"),
                  "%s", said);
    free(said);
    ck_assert_int_eq(report_tmp_dirs(), 0);
    assert_stopped_page("int.html", "SIGINT", " UTC, 4 of 4 runs had finished and the sweep was still running.</p>");

    /* SIGTERM while it waits between pages, a run killed before: the
     * frozen page's warning speaks of then too */
    plant_unfinished("type-batch_seed-2", true);
    w = tu_normlab_start("report sw --watch --interval 600 --out term.html", "term.txt", "term.txt");
    wait_for_text("term.txt", "; live: the sweep runs\n");
    char *page = tu_tmp_read("term.html");
    ck_assert_msg(strstr(page, "class=\"live\""), "the first page is not live");
    free(page);
    ck_assert_int_eq(kill(w, SIGTERM), 0);
    status = watch_status(w);
    said = tu_tmp_read("term.txt");
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM, "status %#x: %s", status, said);
    ck_assert_msg(strstr(said, "; the watch stopped on SIGTERM\n"), "%s", said);
    free(said);
    ck_assert_int_eq(report_tmp_dirs(), 0);
    assert_stopped_page("term.html", "SIGTERM", " UTC, 3 of 4 runs had finished (1 killed) and the sweep was "
                        "still running.</p>");
    page = tu_tmp_read("term.html");
    ck_assert_msg(strstr(page, "1 of 4 runs were unfinished (1 killed)") && !strstr(page, "runs are unfinished"),
                  "the frozen page's warning speaks in the present");
    free(page);

    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    tu_tmp_remove();
}
END_TEST

/* the watch's page rel after a SIGINT: whole, not live, saying it
 * stopped, and no temporary file of it left beside it */
static void assert_interrupted_page(const char *rel, int status, const char *log)
{
    char *said = tu_tmp_read(log);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGINT, "%s: status %#x: %s", rel, status,
                  said ? said : "");
    free(said);
    char *page = tu_tmp_read(rel);
    ck_assert_msg(page && strstr(page, "<body data-live=\"0\">") && !strstr(page, "class=\"live\"") &&
                      strstr(page, "The watch stopped at ") && strstr(page, "</html>\n"),
                  "%s: not a whole page that says the watch stopped", rel);
    free(page);
    char *files = files_under(".");
    ck_assert_msg(!strstr(files, ".tmp."), "a temporary page left: %s", files);
    free(files);
}

/* normlab report --watch interrupted wherever it is (issue 118: a SIGINT
 * while its first page was written, 1 in 40 tries, exited 2, "exists;
 * give --force", and left that page live, reloading for ever). First
 * exactly there: its stdout a full pipe, the page is placed and the line
 * that says so cannot go out until the test reads; the signal comes
 * between. Then at random times from its start on (the signal held back
 * until the watch takes it, as a mask passes through exec): each time
 * exit 130, and a whole page that is not live. */
START_TEST(test_watch_interrupted_anywhere)
{
    make_sweep("report-interrupt");
    const pid_t holder = hold_sweep_lock("sw");
    char fifo[700];
    snprintf(fifo, sizeof fifo, "%s/out.fifo", tu_tmp);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const int rfd = open(fifo, O_RDONLY | O_NONBLOCK), wfd = open(fifo, O_WRONLY | O_NONBLOCK);
    ck_assert(rfd >= 0 && wfd >= 0);
    char junk[4096] = {0};
    while (write(wfd, junk, sizeof junk) > 0)
        ;
    const pid_t w = tu_normlab_start("report sw --watch --interval 600 --out p.html", "out.fifo", "p.err");
    wait_for_text("p.html", "</html>");
    ck_assert_int_eq(kill(w, SIGINT), 0);
    close(wfd);
    int status = 0;
    for (int i = 0; i < 6000 && waitpid(w, &status, WNOHANG) != w; i++) {
        while (read(rfd, junk, sizeof junk) > 0)
            ;
        usleep(10000);
    }
    close(rfd);
    assert_interrupted_page("p.html", status, "p.err");

    sigset_t ints, before;
    sigemptyset(&ints);
    sigaddset(&ints, SIGINT);
    srand(118);
    for (int trial = 0; trial < 8; trial++) {
        char args[200], out[64];
        snprintf(out, sizeof out, "t%d.html", trial);
        snprintf(args, sizeof args, "report sw --watch --interval 600 --out %s", out);
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, &ints, &before), 0);
        const pid_t t = tu_normlab_start(args, "t.txt", "t.txt");
        ck_assert_int_eq(sigprocmask(SIG_SETMASK, &before, NULL), 0);
        usleep((useconds_t)(trial == 0 ? 0 : rand() % 600000));
        ck_assert_int_eq(kill(t, SIGINT), 0);
        assert_interrupted_page(out, watch_status(t), "t.txt");
    }
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    tu_tmp_remove();
}
END_TEST

/* a run of tu_tmp's sweep "sw" made unfinished as a sweep leaves it: its
 * summary.json gone and its summary.csv row pending; with its
 * metrics.csv kept it was killed part way, without it never started */
static void plant_unfinished(const char *run, bool logged)
{
    char path[700];
    snprintf(path, sizeof path, "%s/sw/runs/%s/" NL_RUN_SUMMARY_FILE, tu_tmp, run);
    ck_assert_int_eq(unlink(path), 0);
    snprintf(path, sizeof path, "%s/sw/runs/%s/" NL_RUN_METRICS_FILE, tu_tmp, run);
    ck_assert(logged || unlink(path) == 0);
    char *csv = tu_tmp_read("sw/summary.csv");
    char *row = strstr(csv, run), *status = row ? strstr(row, ",ok,") : NULL;
    ck_assert_ptr_nonnull(status);
    nl_buf b = {0};
    nl_buf_printf(&b, "%.*s,pending,", (int)(status - csv), csv);
    const char *metrics = status + 4, *end = strchr(metrics, '\n');
    for (const char *c = metrics; c < end; c++) /* its metrics empty, as a sweep writes them */
        nl_buf_printf(&b, "%s", *c == ',' ? "," : "");
    nl_buf_printf(&b, "%s", end);
    tu_tmp_write("sw/summary.csv", b.data);
    nl_buf_free(&b);
    free(csv);
}

/* the page's words on where the sweep stands (issue 83, 5): finished,
 * running while a process holds its lock, and stopped once nothing runs
 * with runs left, counted; the figures say where the left runs stand (a
 * killed sweep's runs are not "still going"), and a killed run alone says
 * it stopped too */
START_TEST(test_sweep_state)
{
    make_sweep("report-state");
    ck_assert_int_eq(tu_normlab("report sw --out done.html"), 0);
    char *page = tu_tmp_read("done.html");
    ck_assert_msg(strstr(page, "<p class=\"state state-finished\" role=\"status\">The sweep finished: 4 of 4 runs "
                               "finished.</p>") && !strstr(page, "started with"),
                  "the finished sweep's page does not say so, or names options its sweep was not started with");
    free(page);

    const pid_t holder = hold_sweep_lock("sw");
    ck_assert_int_eq(tu_normlab("report sw --out held.html"), 0);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    page = tu_tmp_read("held.html");
    ck_assert_msg(strstr(page, "state-running\" role=\"status\">The sweep is running: 4 of 4 runs finished."),
                  "a held sweep's page does not say it runs");
    free(page);

    plant_unfinished("type-batch_seed-2", true);
    plant_unfinished("type-batch_seed-1", false);
    ck_assert_int_eq(tu_normlab("report sw --out stopped.html"), 0);
    page = tu_tmp_read("stopped.html");
    ck_assert_msg(strstr(page, "state-stopped\" role=\"status\">The sweep stopped: 2 of 4 runs finished, 1 killed, "
                               "1 pending. Nothing runs now"), "the killed sweep's page does not say it stopped");
    ck_assert_msg(strstr(page, "2 of 4 runs (1 killed, 1 pending); drawn as far as they got") &&
                      strstr(page, "2 unfinished runs left out (1 killed, 1 pending)") &&
                      !strstr(page, "still going") && !strstr(page, "class=\"live\""),
                  "the killed sweep's figures do not say where its runs stand");
    ck_assert_msg(strstr(page, "Nothing runs now: <code class=\"resume\">normlab sweep exp.yaml --out sw</code>") &&
                      !strstr(page, "does not record the --set options"), "the killed sweep's page lacks its command");
    free(page);
    /* a directory recorded before the options were: the command, and that
     * it may lack --set options */
    tu_tmp_write("sw/" NL_SWEEP_EXPERIMENT_FILE, "# normlab sweep: the experiment file this sweep was run from, "
                 "relative to this directory\n../exp.yaml\n");
    ck_assert_int_eq(tu_normlab("report sw --out old.html"), 0);
    page = tu_tmp_read("old.html");
    ck_assert_msg(strstr(page, "<code class=\"resume\">normlab sweep exp.yaml --out sw</code> resumes") &&
                      strstr(page, "does not record the --set options its sweep was started with"),
                  "an older record's page does not say its command may lack options");
    free(page);
    ck_assert_int_eq(tu_normlab("report sw/runs/type-batch_seed-2 --out run.html"), 0);
    page = tu_tmp_read("run.html");
    ck_assert_msg(strstr(page, "state-stopped\" role=\"status\">The run stopped: killed after step 30."),
                  "the killed run's page does not say it stopped");
    free(page);
    tu_tmp_remove();
}
END_TEST

/* A sweep's experiment.txt that is a symbolic link (normlab writes the
 * record itself, following no link) is not read: nothing of the file it
 * points at reaches the page, which travels by mail, or stderr; both name
 * the record as a link (issue 101: a line of the linked file was shown as
 * the experiment's path). The kept copy as a link is not read either. */
START_TEST(test_record_link_not_read)
{
    make_sweep("report-record-link");
    tu_tmp_write("secret.txt", "SECRET-LINE-1\nSECRET-LINE-2\n");
    char record[600], copy[600], secret[600];
    snprintf(record, sizeof record, "%s/sw/" NL_SWEEP_EXPERIMENT_FILE, tu_tmp);
    snprintf(copy, sizeof copy, "%s/sw/" NL_SWEEP_EXPERIMENT_COPY, tu_tmp);
    snprintf(secret, sizeof secret, "%s/secret.txt", tu_tmp);
    ck_assert_int_eq(unlink(record), 0);
    ck_assert_int_eq(symlink(secret, record), 0);
    ck_assert_int_eq(tu_normlab("report sw --out link.html"), 0);
    char *out = tu_normlab_output(), *page = tu_tmp_read("link.html");
    ck_assert_msg(!strstr(out, "SECRET") && !strstr(page, "SECRET"), "the linked file was shown:\n%.2000s", out);
    ck_assert_msg(strstr(out, "is a symbolic link") && strstr(page, "is a symbolic link"),
                  "the record is not named as a link:\n%.2000s", out);
    free(out);
    free(page);
    /* the record a file again, the kept copy a link to the secret */
    ck_assert_int_eq(unlink(record), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw -j 2"), 0);
    ck_assert_int_eq(unlink(copy), 0);
    ck_assert_int_eq(symlink(secret, copy), 0);
    char exp[600];
    snprintf(exp, sizeof exp, "%s/exp.yaml", tu_tmp);
    ck_assert_int_eq(unlink(exp), 0);
    ck_assert_int_eq(tu_normlab("report sw --out copy.html"), 0);
    out = tu_normlab_output();
    page = tu_tmp_read("copy.html");
    ck_assert_msg(!strstr(out, "SECRET") && !strstr(page, "SECRET"), "the linked copy was shown:\n%.2000s", out);
    free(out);
    free(page);
    tu_tmp_remove();
}
END_TEST

/* The table over seeds prints beside an interval its own centre, as
 * normlab table does (issue 83, 8): an error near 0 with two seeds far
 * above (summary.csv's errors planted so) has an arithmetic mean above its
 * logit-scale interval; the page shows the logit mean beside it, inside it */
START_TEST(test_logit_mean_on_the_page)
{
    tu_tmp_make("report-lmean");
    tu_tmp_write("exp.yaml", "name: lm\nbase:\n"
                 "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 64, test_size: 32}\n"
                 "  model: {arch: mlp, widths: [8]}\n  train: {batch_size: 32, steps: 4, log_every: 2}\n"
                 "grid:\n  model.norm.type: [none]\n  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw -j 2"), 0);
    char *summary = tu_tmp_read("sw/summary.csv");
    nl_csv_table t;
    nl_error err = {0};
    ck_assert_msg(nl_csv_table_parse(summary, "summary.csv", &t, &err) == NL_OK, "%s", err.msg);
    free(summary);
    const int c_error = nl_csv_table_col(&t, "final_test_error"), c_acc = nl_csv_table_col(&t, "final_test_accuracy");
    ck_assert(c_error > 0 && c_acc > 0 && t.n_rows == 16);
    nl_buf b = {0};
    for (int c = 0; c < t.n_cols; c++)
        nl_buf_printf(&b, "%s%s", c ? "," : "", t.header[c]);
    for (int r = 0; r < t.n_rows; r++) {
        const double error = r < 14 ? 0.02 + 0.002 * (r % 5 - 2) : 0.9;
        /* the row as it was but its error and accuracy */
        for (int c = 0; c < t.n_cols; c++)
            if (c == c_error || c == c_acc)
                nl_buf_printf(&b, "%s%.9g", c ? "," : "\n", c == c_error ? error : 1 - error);
            else
                nl_buf_printf(&b, "%s%s", c ? "," : "\n", t.rows[r][c]);
    }
    nl_buf_printf(&b, "\n");
    nl_csv_table_free(&t);
    tu_tmp_write("sw/summary.csv", b.data);
    nl_buf_free(&b);

    char dir[600];
    snprintf(dir, sizeof dir, "%s/sw", tu_tmp);
    nl_table_spec spec = {.metric = "final_test_error"};
    nl_buf md = {0}, csv = {0};
    ck_assert_msg(nl_table_write(dir, &spec, &md, &csv, NULL, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_csv_table_parse(csv.data, "the table", &t, &err) == NL_OK, "%s", err.msg);
    const double mean = strtod(t.rows[0][nl_csv_table_col(&t, "final_test_error_mean")], NULL),
                 lo = strtod(t.rows[0][nl_csv_table_col(&t, "final_test_error_ci95_low")], NULL),
                 hi = strtod(t.rows[0][nl_csv_table_col(&t, "final_test_error_ci95_high")], NULL),
                 lmean = strtod(t.rows[0][nl_csv_table_col(&t, "final_test_error_logitmean")], NULL);
    nl_csv_table_free(&t);
    nl_buf_free(&md);
    nl_buf_free(&csv);
    ck_assert_msg(mean > hi && lo < lmean && lmean < hi, "not skewed: mean %g, logit mean %g, %g – %g", mean, lmean,
                  lo, hi);
    ck_assert_int_eq(tu_normlab("report sw --out l.html"), 0);
    char *page = tu_tmp_read("l.html");
    char cells[160];
    snprintf(cells, sizeof cells, ">%.2f</td><td class=\"num\">%.2f – %.2f</td>", 100 * lmean, 100 * lo, 100 * hi);
    ck_assert_msg(strstr(page, "<th class=\"num\">logit mean</th><th class=\"num\">95% interval of the logit "
                               "mean</th>") && strstr(page, cells),
                  "the page shows no logit mean beside the error's interval (%s)", cells);
    free(page);
    tu_tmp_remove();
}
END_TEST

/* The epoch axis is exact (issue 118): a run's epoch column comes as the
 * steps an epoch takes, which the page divides the step by, so runs of
 * other batch sizes that end at one epoch end at one x. The ratio of the
 * last row's 4 decimals, times the step, put 93 steps of 31 at
 * 2.9999999985 and 45 of 15 at 3.0000000015 epochs. */
START_TEST(test_epochs_exact)
{
    tu_tmp_make("report-epochs");
    tu_tmp_write("exp.yaml", "name: ep\nbase:\n"
                 "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 250, test_size: 32}\n"
                 "  model: {arch: mlp, widths: [8]}\n  train: {epochs: 3, log_every: 7, eval_every: 20}\n"
                 "grid:\n  train.batch_size: [8, 16, 24]\n  seed: [1]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw -j 2"), 0);
    ck_assert_int_eq(tu_normlab("report sw --out e.html"), 0);
    char *page = tu_tmp_read("e.html");
    ck_assert(page != NULL);
    /* each run's [axis, ratio, steps per epoch]: its summary's steps over
     * that number are its 3 epochs exactly */
    int triples = 0;
    long pers[64];
    for (const char *p = page; (p = strchr(p, '[')); p++) {
        int axis, used = 0;
        double ratio;
        long per;
        /* other numbers come in threes too: an axis's ratio is 1 / per */
        if (sscanf(p, "[%d,%lf,%ld]%n", &axis, &ratio, &per, &used) == 3 && used > 0 && per > 1 &&
            fabs(ratio * per - 1) < 1e-6 && triples < 64)
            pers[triples++] = per;
    }
    static const int batches[] = {8, 16, 24};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "sw/runs/batch_size-%d_seed-1/summary.json", batches[i]);
        char *summary = tu_tmp_read(path);
        const char *at = summary ? strstr(summary, "\"steps\": ") : NULL;
        ck_assert_msg(at != NULL, "%s: no steps", path);
        const long steps = strtol(at + 9, NULL, 10), per = steps / 3;
        free(summary);
        ck_assert_msg(steps > 0 && steps % 3 == 0, "%s: %ld steps in 3 epochs", path, steps);
        int found = 0;
        for (int k = 0; k < triples; k++)
            found += pers[k] == per;
        ck_assert_msg(found > 0, "batch %d: no epoch axis of %ld steps per epoch (%d such axes)", batches[i], per,
                      triples);
        ck_assert((double)steps / (double)per == 3.0);
    }
    ck_assert_int_ge(triples, 3);
    free(page);
    tu_tmp_remove();
}
END_TEST

/* reads the TFRecord framing back: every record's length and data CRCs */
/* Claims in their own unit (issue 83): a claim over cells counts cells
 * ("2 of 2 cells", its interval "2 – 2 cells"), never numbers on an
 * error's axis; its cells' effects are in points of error (verdicts.csv
 * holds fractions), a loss ratio is a ratio; each forest row names its
 * unit. The page's data hands the script its units, the accuracies and
 * errors in percent as the tables print them, and the table over seeds
 * prints a loss's geometric mean beside its log-scale interval. */
START_TEST(test_claim_units)
{
    tu_tmp_make("report-units");
    tu_tmp_write("exp.yaml",
                 "name: cu\nbase:\n"
                 "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}\n"
                 "  model: {arch: mlp, widths: [16]}\n"
                 "  train: {batch_size: 32, steps: 30, eval_every: 10, log_every: 5, optimizer: {lr: 0.1}}\n"
                 "grid:\n  model.norm.type: [none, batch]\n  train.batch_size: [16, 32]\n  seed: [1, 2, 3]\n"
                 "claims:\n"
                 "  - id: batch-as-none\n    paper: \"a test: batch norm as no norm at each batch size\"\n"
                 "    metric: final_test_error\n    a: {model.norm.type: batch}\n    b: {model.norm.type: none}\n"
                 "    each: train.batch_size\n    cells: all\n    expect: a ~ b within 0.5\n"
                 "  - id: loss-ratio\n    paper: \"a test: the loss ratio\"\n    metric: final_test_loss\n"
                 "    a: {model.norm.type: batch, train.batch_size: 32}\n"
                 "    b: {model.norm.type: none, train.batch_size: 32}\n    expect: a/b < 3\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw -j 2"), 0);
    ck_assert_int_eq(tu_normlab("verdict sw --experiment exp.yaml --no-registration"), 0);
    ck_assert_int_eq(tu_normlab("report sw --out u.html"), 0);
    char *page = tu_tmp_read("u.html");
    /* the row over the two cells: counts of cells */
    const char *iut = strstr(page, "<td class=\"claim\">batch-as-none<");
    ck_assert_msg(iut, "no row of the claim over cells");
    const char *end = strstr(iut, "</tr>");
    char row[4096];
    snprintf(row, sizeof row, "%.*s", (int)(end - iut), iut);
    ck_assert_msg(strstr(row, "data-unit=\"cells\">2 of 2 cells</td>") && strstr(row, " – 2 cells</td>") &&
                      !strstr(row, "points"), "the claim over cells: %s", row);
    /* a cell's row: its effect in points, 100 times verdicts.csv's */
    nl_csv_table t;
    nl_error err = {0};
    char path[600];
    snprintf(path, sizeof path, "%s/sw/verdicts.csv", tu_tmp);
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    int checked = 0;
    for (int r = 0; r < t.n_rows; r++) {
        const char *id = t.rows[r][nl_csv_table_col(&t, "claim")], *effect = t.rows[r][nl_csv_table_col(&t, "effect")];
        char want[128];
        if (!strcmp(id, "batch-as-none[train.batch_size=16]"))
            snprintf(want, sizeof want, "data-unit=\"points\">%.2f points</td>", 100 * strtod(effect, NULL));
        else if (!strcmp(id, "loss-ratio"))
            snprintf(want, sizeof want, "data-unit=\"ratio\">%.4g ratio</td>", strtod(effect, NULL));
        else
            continue;
        ck_assert_msg(strstr(page, want), "%s: no %s", id, want);
        checked++;
    }
    ck_assert_int_eq(checked, 2);
    nl_csv_table_free(&t);
    /* the forest plot: each row labelled with its unit */
    ck_assert_msg(strstr(page, "batch-as-none: cells (holds)") || strstr(page, "batch-as-none: cells (inconclusive)") ||
                      strstr(page, "batch-as-none: cells (does not hold)"), "the forest's row over cells");
    ck_assert_msg(strstr(page, "loss-ratio: ratio ("), "the forest's ratio row");
    /* the data: units beside the metrics and tags; the error in percent */
    ck_assert_msg(strstr(page, "\"units\":[") && strstr(page, "\"tag_units\":[") && strstr(page, "\"%\""),
                  "no units in the page's data");
    /* the metric its views start on: the one the tables lead with, a classifier's error */
    ck_assert_msg(strstr(page, "\"lead\":\"final_test_error\""), "the page's data names no lead metric");
    char *json = tu_tmp_read("sw/runs/type-none_batch_size-16_seed-1/summary.json");
    const char *acc = strstr(json, "\"final_test_accuracy\": ");
    ck_assert_ptr_nonnull(acc);
    char error[64];
    snprintf(error, sizeof error, ",%.4g,", 100 * (1 - strtod(acc + strlen("\"final_test_accuracy\": "), NULL)));
    const char *run = strstr(page, "{\"n\":\"type-none_batch_size-16_seed-1\"");
    ck_assert_msg(run, "the run is not in the page's data");
    const char *m_end = strstr(run, "]}");
    ck_assert_msg(m_end && strstr(run, error) && strstr(run, error) < m_end, "its error %s is not in percent: %.300s",
                  error, run);
    free(json);
    /* the table over seeds: the loss's geometric mean beside its interval */
    ck_assert_msg(strstr(page, "<th class=\"num\">geometric mean</th><th class=\"num\">95% interval of the geometric "
                               "mean</th>"), "no geometric mean beside the loss's interval");
    free(page);
    tu_tmp_remove();
}
END_TEST

/* The experiment found where the sweep ran it from (issue 83): a sweep
 * written with --out under another name, its page made from another
 * directory, has its experiment's description; a run a process holds is
 * running, not pending */
START_TEST(test_experiment_elsewhere)
{
    tu_tmp_make("report-elsewhere");
    make_dir("repo");
    make_dir("repo/experiments");
    make_dir("elsewhere");
    tu_tmp_write("repo/experiments/tour.yaml", experiment);
    ck_assert_int_eq(shell("cd repo && $NORMLAB sweep experiments/tour.yaml --out ../other-name -j 2 >/dev/null 2>&1"),
                     0);
    ck_assert_int_eq(shell("cd elsewhere && $NORMLAB report ../other-name --out p.html >said.txt 2>&1"), 0);
    char *page = tu_tmp_read("elsewhere/p.html");
    ck_assert_msg(strstr(page, "A second paragraph of the description") && strstr(page, "<title>sw ·") &&
                      !strstr(page, "No experiment file"), "the experiment is lost: %.1500s", page);
    free(page);
    /* a run whose process holds its marker is running */
    char marker[600];
    snprintf(marker, sizeof marker, "%s/other-name/runs/type-batch_seed-2/" NL_RUN_MARKER, tu_tmp);
    const int fd = open(marker, O_RDWR);
    ck_assert_int_ge(fd, 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    ck_assert_int_eq(fcntl(fd, F_SETLK, &fl), 0);
    say_running("other-name/runs/type-batch_seed-2/summary.json");
    ck_assert_int_eq(shell("cd elsewhere && $NORMLAB report ../other-name --out q.html >said.txt 2>&1"), 0);
    page = tu_tmp_read("elsewhere/q.html");
    ck_assert_msg(strstr(page, "status-running\">running</span>") && !strstr(page, "status-pending\">") &&
                      strstr(page, "1 of 4 runs are unfinished (1 running)"), "a held run is not running");
    free(page);
    close(fd);
    tu_tmp_remove();
}
END_TEST

/* The experiment travels with its sweep (issue 93): a sweep keeps its
 * experiment file's text beside its record (NL_SWEEP_EXPERIMENT_COPY), so
 * its directory copied elsewhere, or one level deeper, reports with its
 * description and name; an experiment file changed at its recorded path is
 * noticed, and the page reads the text the sweep started from; a sweep
 * started again from the changed file keeps the new text; a file of the
 * user's where the copy goes is refused and left as it was. */
START_TEST(test_experiment_travels)
{
    make_sweep("report-travels");
    char *kept = tu_tmp_read("sw/" NL_SWEEP_EXPERIMENT_COPY);
    ck_assert_str_eq(kept, experiment);
    free(kept);
    /* copied to another directory, and one level deeper: ../exp.yaml is
     * not there, and no experiments/ names the sweep */
    ck_assert_int_eq(shell("mkdir -p far/deeper && cp -r sw far/copy && cp -r sw far/deeper/sw"), 0);
    static const char *const copies[] = {"far/copy", "far/deeper/sw"};
    for (int i = 0; i < 2; i++) {
        char args[200];
        snprintf(args, sizeof args, "report %s --out travelled.html --force", copies[i]);
        ck_assert_int_eq(tu_normlab(args), 0);
        char *page = tu_tmp_read("travelled.html");
        ck_assert_msg(strstr(page, "A report test: no normalization against batch norm") &&
                          strstr(page, "A second paragraph of the description") && strstr(page, "<title>sw ·") &&
                          !strstr(page, "No experiment file") && !strstr(page, "give --experiment"),
                      "%s: the experiment is lost: %.1500s", copies[i], page);
        ck_assert_msg(strstr(page, NL_SWEEP_EXPERIMENT_COPY "</code>, the copy the sweep kept of <code>") &&
                          strstr(page, "exp.yaml</code>, which is not there"),
                      "%s: the page does not say it read the kept copy", copies[i]);
        free(page);
    }
    /* the file at the recorded path changed: noticed; the kept text is read */
    static const char changed[] = "# A changed description.\n";
    const char *body = strstr(experiment, "name: sw");
    char text[4096];
    snprintf(text, sizeof text, "%s%s", changed, body);
    tu_tmp_write("exp.yaml", text);
    ck_assert_int_eq(tu_normlab("report sw --out changed.html"), 0);
    char *page = tu_tmp_read("changed.html");
    ck_assert_msg(strstr(page, "the experiment file sw/../exp.yaml has changed since this sweep started") &&
                      strstr(page, "the page reads the copy the sweep kept") &&
                      strstr(page, "A second paragraph of the description") && !strstr(page, "A changed description"),
                  "the changed experiment file is not noticed: %.3000s", page);
    free(page);
    /* ... and without the kept copy: the file as it is now, said to have changed */
    ck_assert_int_eq(shell("mv sw/" NL_SWEEP_EXPERIMENT_COPY " kept.yaml"), 0);
    ck_assert_int_eq(tu_normlab("report sw --out changed.html --force"), 0);
    page = tu_tmp_read("changed.html");
    ck_assert_msg(strstr(page, "has changed since this sweep started") && strstr(page, "keeps no copy of the text") &&
                      strstr(page, "A changed description"), "%.3000s", page);
    free(page);
    /* a sweep started again from the changed file keeps its text, replacing
     * the copy it kept before (its hash is the record's) */
    ck_assert_int_eq(shell("mv kept.yaml sw/" NL_SWEEP_EXPERIMENT_COPY), 0);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw -j 2"), 0);
    kept = tu_tmp_read("sw/" NL_SWEEP_EXPERIMENT_COPY);
    ck_assert_str_eq(kept, text);
    free(kept);
    ck_assert_int_eq(tu_normlab("report sw --out again.html"), 0);
    page = tu_tmp_read("again.html");
    ck_assert_msg(strstr(page, "A changed description") && !strstr(page, "has changed since"), "%.3000s", page);
    free(page);
    /* a file of the user's where the copy goes: refused, left as it was */
    static const char mine[] = "my own notes, not normlab's\n";
    make_dir("sw2");
    tu_tmp_write("sw2/" NL_SWEEP_EXPERIMENT_COPY, mine);
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw2 -j 2"), 2);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, NL_SWEEP_EXPERIMENT_COPY " exists and is not the copy of its experiment file this "
                              "sweep kept"), "%s", out);
    free(out);
    kept = tu_tmp_read("sw2/" NL_SWEEP_EXPERIMENT_COPY);
    ck_assert_str_eq(kept, mine);
    free(kept);
    tu_tmp_remove();
}
END_TEST

static int records(const unsigned char *data, size_t len, size_t *bad)
{
    int n = 0;
    *bad = 0;
    size_t at = 0;
    while (at + 12 <= len) {
        unsigned long long length = 0;
        unsigned crc = 0, data_crc = 0;
        for (int i = 0; i < 8; i++)
            length |= (unsigned long long)data[at + i] << (8 * i);
        for (int i = 0; i < 4; i++)
            crc |= (unsigned)data[at + 8 + i] << (8 * i);
        if (crc != nl_tb_masked_crc(nl_tb_crc32c(data + at, 8)) || at + 16 + length > len) {
            *bad = at + 1;
            return n;
        }
        for (int i = 0; i < 4; i++)
            data_crc |= (unsigned)data[at + 12 + length + i] << (8 * i);
        if (data_crc != nl_tb_masked_crc(nl_tb_crc32c(data + at + 12, length))) {
            *bad = at + 1;
            return n;
        }
        at += 16 + length;
        n++;
    }
    if (at != len)
        *bad = at + 1;
    return n;
}

START_TEST(test_event_framing)
{
    /* CRC32C's check value (RFC 3720's polynomial) */
    ck_assert_uint_eq(nl_tb_crc32c("123456789", 9), 0xe3069283u);
    ck_assert_uint_eq(nl_tb_crc32c("", 0), 0u);
    nl_tb_bytes b = {0};
    nl_tb_version_event(&b, 1.5);
    nl_tb_scalar_event(&b, 2.0, 7, "train/loss", 0.25f);
    nl_tb_experiment_event(&b, 3.0, NULL, NULL, 0, NULL, 0);
    ck_assert(!b.failed);
    size_t bad;
    ck_assert_int_eq(records(b.data, b.len, &bad), 3);
    ck_assert_uint_eq(bad, 0);
    /* a flipped byte breaks its record's CRC */
    b.data[20] ^= 1;
    records(b.data, b.len, &bad);
    ck_assert_uint_ne(bad, 0);
    nl_tb_bytes_free(&b);
    /* a fixed buffer too small fails, never writes past its end */
    unsigned char small[40];
    memset(small, 0xab, sizeof small);
    nl_tb_bytes fixed = {.data = small, .cap = 32, .fixed = true};
    nl_tb_scalar_event(&fixed, 1.0, 1, "a rather long tag that cannot fit in thirty-two bytes", 1.0f);
    ck_assert(fixed.failed);
    ck_assert_uint_eq(small[32], 0xab);

    /* a run's file, written as it trains, is whole records */
    tu_tmp_make("events");
    ck_assert_int_eq(tu_normlab("run " NORMLAB_SOURCE_DIR "/configs/synthetic-smoke.yaml --out r --quiet "
                                "--set train.log.tensorboard=true --set train.steps=40"), 0);
    char path[600], *text = NULL;
    size_t len = 0;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/r/%s", tu_tmp, NL_TB_RUN_FILE);
    ck_assert_msg(nl_read_file(path, &text, &len, &err) == NL_OK, "%s", err.msg);
    const int n = records((const unsigned char *)text, len, &bad);
    ck_assert_msg(bad == 0 && n > 10, "%d records, a bad one at byte %zu", n, bad);
    free(text);
    /* without the switch, a run started over leaves no old event file */
    ck_assert_int_eq(tu_normlab("run " NORMLAB_SOURCE_DIR "/configs/synthetic-smoke.yaml --out r --quiet --force "
                                "--set train.steps=40"), 0);
    ck_assert_int_ne(access(path, F_OK), 0);
    tu_tmp_remove();
}
END_TEST

/* a sweep whose runs take long enough to stop it after its first: a few
 * hundred milliseconds each */
static const char *const slow_experiment =
    "name: slow\n"
    "base:\n"
    "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 1024, test_size: 64}\n"
    "  model: {arch: mlp, widths: [16]}\n"
    "  train: {batch_size: 32, steps: 20, eval_every: 500, log_every: 100, optimizer: {lr: 0.1}}\n"
    "grid:\n"
    "  seed: [1, 2, 3, 4, 5, 6, 7, 8]\n";

/* the runs of tu_tmp's sweep `dir` that finished */
static int count_ok(const char *dir)
{
    char runs[600];
    snprintf(runs, sizeof runs, "%s/%s/runs", tu_tmp, dir);
    DIR *d = opendir(runs);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char run[1200];
        snprintf(run, sizeof run, "%s/%s", runs, e->d_name);
        n += e->d_name[0] != '.' && nl_run_dir_status(run) == NL_RUN_OK;
    }
    if (d)
        closedir(d);
    return n;
}

/* the resume command a page gives, its HTML escapes undone ("" none) */
static void page_resume_command(const char *rel, char *out, size_t size)
{
    char *page = tu_tmp_read(rel);
    const char *open_tag = "<code class=\"resume\">", *at = strstr(page, open_tag);
    out[0] = '\0';
    if (at) {
        at += strlen(open_tag);
        static const struct {
            const char *entity, c;
        } entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
        size_t n = 0;
        while (*at && strncmp(at, "</code>", 7) && n + 1 < size) {
            size_t k = 0;
            while (k < sizeof entities / sizeof entities[0] &&
                   strncmp(at, entities[k].entity, strlen(entities[k].entity)))
                k++;
            out[n++] = k < sizeof entities / sizeof entities[0] ? entities[k].c : *at;
            at += k < sizeof entities / sizeof entities[0] ? strlen(entities[k].entity) : 1;
        }
        out[n] = '\0';
    }
    free(page);
}

/* The page of a stopped sweep gives the exact command that resumes it
 * (issue 93, 1): its experiment file, --out and the --set options it was
 * started with, quoted for the shell. Before, it said "normlab sweep run
 * again", and typed without --set train.steps=... a sweep planned the
 * finished runs as changed ("needs --force"). The sweep is started with
 * two --set (one needs quoting), stopped by Ctrl-C after its first run; the
 * command the page gives, run as is, skips the finished runs and ends the
 * sweep; the interrupted sweep printed the same command, and a copy of the
 * directory keeps the options. */
START_TEST(test_resume_command)
{
    tu_tmp_make("report-resume");
    tu_tmp_write("exp.yaml", slow_experiment);
    const pid_t pid = tu_normlab_start("sweep exp.yaml --out sw -j 1 --set train.steps=1500 "
                                       "--set 'model.widths=[64, 64]'", "sweep-out.txt", "sweep-err.txt");
    for (int i = 0; i < 6000 && count_ok("sw") < 1; i++)
        usleep(10000);
    ck_assert_int_ge(count_ok("sw"), 1);
    ck_assert_int_eq(kill(-pid, SIGINT), 0); /* Ctrl-C reaches the whole process group */
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x", status);
    const int done = count_ok("sw");
    ck_assert_int_lt(done, 8); /* stopped part way */

    ck_assert_int_eq(tu_normlab("report sw --out stopped.html"), 0);
    char command[2048];
    page_resume_command("stopped.html", command, sizeof command);
    ck_assert_str_eq(command, "normlab sweep exp.yaml --out sw --set train.steps=1500 --set 'model.widths=[64, 64]'");
    /* the interrupted sweep said the same */
    char *err = tu_tmp_read("sweep-err.txt");
    char said[2100];
    snprintf(said, sizeof said, "; to resume: %s\n", command);
    ck_assert_msg(strstr(err, said), "%.3000s", err);
    free(err);
    /* the options matter: without them the finished runs differ */
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out sw --dry-run"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "needs --force"), "%.3000s", out);
    free(out);
    /* a copy of the directory gives its own --out and the same options */
    ck_assert_int_eq(shell("cp -r sw copy && $NORMLAB report copy --out copy.html >/dev/null 2>&1"), 0);
    char copied[2048];
    page_resume_command("copy.html", copied, sizeof copied);
    ck_assert_str_eq(copied, "normlab sweep exp.yaml --out copy --set train.steps=1500 --set 'model.widths=[64, "
                             "64]'");

    /* the command as given, by a shell, with `normlab` found on PATH */
    char bin[600], script[2300];
    snprintf(bin, sizeof bin, "%s/bin", tu_tmp);
    ck_assert_int_eq(mkdir(bin, 0755), 0);
    ck_assert_int_eq(symlink(NORMLAB_BINARY, strcat(bin, "/normlab")), 0);
    snprintf(script, sizeof script, "%s\n", command);
    tu_tmp_write("resume.sh", script);
    char line[1600];
    snprintf(line, sizeof line, "cd '%s' && PATH='%s/bin':\"$PATH\" sh resume.sh >resume.txt 2>&1", tu_tmp, tu_tmp);
    status = system(line);
    char *resumed = tu_tmp_read("resume.txt");
    char before[64];
    snprintf(before, sizeof before, "(%d finished before)", done);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(resumed, before) &&
                      !strstr(resumed, "needs --force") && !strstr(resumed, "to resume"), "%.3000s", resumed);
    free(resumed);
    ck_assert_int_eq(count_ok("sw"), 8);
    ck_assert_int_eq(tu_normlab("report sw --out done.html"), 0);
    char *page = tu_tmp_read("done.html");
    ck_assert_msg(strstr(page, "The sweep finished: 8 of 8 runs finished.</p>") && !strstr(page, "class=\"resume\""),
                  "the resumed sweep's page does not say it finished");
    /* and what ran: the --set options over the file's settings, by its
     * description (whose text may say other values) and in its grid */
    ck_assert_msg(strstr(page, "The sweep was started with <code>--set train.steps=1500 --set ") &&
                      strstr(page, "<tr><td>started with</td><td>--set train.steps=1500 --set "),
                  "the finished page does not say the --set options its sweep ran with");
    free(page);
    tu_tmp_remove();
}
END_TEST

/* whether data holds the n bytes at want */
static bool holds(const char *data, size_t len, const char *want, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(data + i, want, n))
            return true;
    return false;
}

/* whether data holds protobuf string field `field` with text: its tag,
 * length and bytes */
static bool has_string_field(const char *data, size_t len, int field, const char *text)
{
    char want[1024];
    size_t n = 0, value = strlen(text);
    want[n++] = (char)(field << 3 | 2);
    do {
        want[n++] = (char)((value & 0x7f) | (value > 0x7f ? 0x80 : 0));
        value >>= 7;
    } while (value);
    ck_assert_uint_lt(n + strlen(text), sizeof want);
    memcpy(want + n, text, strlen(text));
    return holds(data, len, want, n + strlen(text));
}

/* The HParams plugin's experiment carries the sweep's name and its
 * experiment file's description (its leading comment, a paragraph each):
 * TensorBoard's HParams dashboard named no experiment before (issue 102).
 * Read back from the event file it is in (the first run's), as its
 * Experiment message's description (field 1) and name (field 6). */
START_TEST(test_hparams_description)
{
    make_sweep("report-hparams");
    ck_assert_int_eq(tu_normlab("export tensorboard sw --out tb"), 0);
    int with_experiment = 0;
    static const char *const runs[] = {"type-none_seed-1", "type-none_seed-2", "type-batch_seed-1",
                                       "type-batch_seed-2"};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        const char *run = runs[r];
        char path[600], *text = NULL;
        size_t len = 0;
        nl_error err = {0};
        snprintf(path, sizeof path, "%s/tb/%s/%s", tu_tmp, run, NL_TB_RUN_FILE);
        ck_assert_msg(nl_read_file(path, &text, &len, &err) == NL_OK, "%s", err.msg);
        if (holds(text, len, "_hparams_/experiment", 20)) {
            with_experiment++;
            ck_assert_msg(has_string_field(text, len, 1, "A report test: no normalization against batch norm, two "
                                                         "seeds.\n\nA second paragraph of the description."),
                          "the HParams experiment carries no description in %s", path);
            ck_assert_msg(has_string_field(text, len, 6, "sw"), "the HParams experiment is not named in %s", path);
        }
        free(text);
    }
    ck_assert_int_eq(with_experiment, 1);
    tu_tmp_remove();
}
END_TEST

/* A formula normalizer (model.norm.type expr) is shown by its one name
 * (its model.norm.name, issue 114) in the table over seeds, the runs
 * table, the filters and the curves' data, as the figures' labels name it:
 * the page said "expr" for every formula (issue 102) */
START_TEST(test_formula_name)
{
    tu_tmp_make("report-formula");
    tu_tmp_write("exp.yaml", "name: fx\nbase:\n"
                 "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}\n"
                 "  model:\n    arch: mlp\n    widths: [16]\n"
                 "    norm: {expr: \"x / sqrt(var(x, [channels]) + 1e-5)\", name: rms-ish}\n"
                 "  train: {batch_size: 32, steps: 8, eval_every: 4, log_every: 4, optimizer: {lr: 0.1}}\n"
                 "grid:\n  model.norm.type: [layer, expr]\n  seed: [1, 2]\n");
    ck_assert_int_eq(tu_normlab("sweep exp.yaml --out fx -j 2"), 0);
    ck_assert_int_eq(tu_normlab("report fx --out fx.html --experiment exp.yaml"), 0);
    char *page = tu_tmp_read("fx.html");
    /* a row over seeds and two runs; "expr" shown nowhere as a key's value */
    ck_assert_int_eq(count(page, "<td data-k=\"rms-ish\">rms-ish</td>"), 3);
    ck_assert_int_eq(count(page, "data-k=\"expr\""), 0);
    ck_assert_int_eq(count(page, "<td data-k=\"layer\">layer</td>"), 3);
    /* the filters above the table and above the runs: the name */
    ck_assert_int_eq(count(page, "<option value=\"=rms-ish\">rms-ish</option>"), 2);
    ck_assert_int_eq(count(page, "<option value=\"=expr\">"), 0);
    /* the curves' data: the runs' values as the filters match them, the name */
    ck_assert_int_eq(count(page, "\"v\":[\"rms-ish\","), 2);
    ck_assert_int_eq(count(page, "\"v\":[\"expr\","), 0);
    free(page);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, test_page);
    tcase_add_test(tc, test_hover_titles);
    tcase_add_test(tc, test_primary_metric_first);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_event_framing);
    tcase_add_test(tc, test_watch);
    tcase_add_test(tc, test_watch_stopped);
    tcase_add_test(tc, test_watch_interrupted_anywhere);
    tcase_add_test(tc, test_sweep_state);
    tcase_add_test(tc, test_logit_mean_on_the_page);
    tcase_add_test(tc, test_epochs_exact);
    tcase_add_test(tc, test_claim_units);
    tcase_add_test(tc, test_experiment_elsewhere);
    tcase_add_test(tc, test_experiment_travels);
    tcase_add_test(tc, test_resume_command);
    tcase_add_test(tc, test_record_link_not_read);
    tcase_add_test(tc, test_hparams_description);
    tcase_add_test(tc, test_formula_name);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
