/* Every record normlab writes is created exclusively, also under
 * concurrency: for each kind of record (the table `kinds` below) eight
 * writers start at the same moment (forked, then let go together by closing
 * a pipe they wait on) and the result is checked: every writer that exited
 * 0 has its own record and its own row (counts match, no row lost, every
 * JSON parses, every CSV row whole), every other writer exited 2 with a
 * reason, and nothing is torn (whole files, pictures whose every chunk's
 * CRC holds, no temporary left behind).
 *
 * The kinds: eval records auto-named (eight records test, test-2 ...
 * test-8), eval with one --name (one record, seven refusals), eval with
 * names of their own (eight rows in evals.csv), run directories (one run,
 * seven refusals naming the holder), run --force over a finished run with
 * eval records (the records go with the replaced model), a sweep's
 * directory, `normlab plot` of one run and `normlab compare --out` into one
 * new directory (every picture whole, from one writer). */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "log/files.h"
#include "plot/plot.h"
#include "testutil.h"

enum { WRITERS = 8 };

/* a run of a fraction of a second */
static const char *config =
    "name: records\n"
    "seed: 5\n"
    "data: {dataset: synthetic, shape: [3, 8, 8], classes: 4, train_size: 256, test_size: 96}\n"
    "model: {arch: cnn, widths: [6, 8], norm: {type: batch}}\n"
    "train: {batch_size: 16, eval_batch_size: 32, steps: 24, eval_every: 24, log_every: 8,\n"
    "        optimizer: {lr: 0.05, momentum: 0.9}}\n"
    "threads: 1\n";

static const char *experiment = "name: s\nbase: cnn.yaml\nthreads: 1\ngrid:\n  seed: [1, 2]\n";

static bool have_gnuplot;

/* ---- starting eight writers at once ---- */

static bool png_whole(const char *rel, char *msg, size_t size);

/* Starts `normlab ARGS_i` for i < n in tu_tmp, each with its output in
 * w<i>.txt; all wait on one pipe until every one is forked, then go
 * together; their exit statuses into status. While they run, the picture
 * `watch` (when not NULL) is read again and again as a reader would: every
 * view of it must be whole. run_writers_watching: ARGS_i is args_fmt with
 * %d the writer's index. */
static void run_writers_list(char (*const args_of)[1024], int n, const char *watch, int *status)
{
    int gate[2];
    ck_assert(pipe(gate) == 0);
    pid_t pids[WRITERS];
    for (int i = 0; i < n; i++) {
        char log[64];
        const char *args = args_of[i];
        snprintf(log, sizeof log, "w%d.txt", i);
        pids[i] = fork();
        ck_assert(pids[i] >= 0);
        if (pids[i] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            close(gate[1]);
            if (chdir(tu_tmp) != 0 || !freopen(log, "w", stdout) || !freopen(log, "a", stderr))
                _exit(98);
            char byte;
            while (read(gate[0], &byte, 1) < 0) /* EOF once the test closes its end */
                ;
            char cmd[1200];
            snprintf(cmd, sizeof cmd, "exec %s %s", NORMLAB_BINARY, args);
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(97);
        }
    }
    close(gate[0]);
    close(gate[1]); /* the start */
    int torn = 0;
    char why[512] = "";
    for (int left = n; left > 0;) {
        char view[512];
        if (watch && !png_whole(watch, view, sizeof view) && torn++ == 0)
            nl_copy_string(why, sizeof why, view);
        if (watch)
            usleep(1000); /* the writers share the test's 2 cores */
        for (int i = 0; i < n; i++) {
            int st = 0;
            if (pids[i] <= 0 || waitpid(pids[i], &st, watch ? WNOHANG : 0) == 0)
                continue;
            ck_assert_msg(WIFEXITED(st), "writer %d (%s) died of signal %d", i, args_of[i],
                          WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            status[i] = WEXITSTATUS(st);
            pids[i] = 0;
            left--;
        }
    }
    ck_assert_msg(torn == 0, "%s: a reader saw the picture torn %d times, e.g. %s", args_of[0],
                  torn, why);
}

static void run_writers_watching(const char *args_fmt, int n, const char *watch, int *status)
{
    char args[WRITERS][1024];
    for (int i = 0; i < n; i++)
        snprintf(args[i], sizeof args[i], args_fmt, i);
    run_writers_list(args, n, watch, status);
}

static void run_writers(const char *args_fmt, int n, int *status)
{
    run_writers_watching(args_fmt, n, NULL, status);
}

static char *writer_output(int i)
{
    char name[64];
    snprintf(name, sizeof name, "w%d.txt", i);
    return tu_tmp_read(name);
}

/* every writer exited 0, or 2 with one of the reasons (NULL-ended);
 * returns how many exited 0 */
static int check_statuses(const char *what, const int *status, const char *const *reasons)
{
    int ok = 0;
    for (int i = 0; i < WRITERS; i++) {
        char *out = writer_output(i);
        if (status[i] == 0) {
            ok++;
        } else {
            bool known = false;
            for (int r = 0; reasons[r] && !known; r++)
                known = strstr(out, reasons[r]) != NULL;
            ck_assert_msg(status[i] == 2 && known, "%s: writer %d exited %d: %s", what, i,
                          status[i], out);
        }
        free(out);
    }
    return ok;
}

/* ---- what a whole file is ---- */

/* a JSON value (objects, arrays, strings, numbers, literals) at *p */
static bool json_value(const char **p);

static void json_space(const char **p)
{
    while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
        (*p)++;
}

static bool json_string(const char **p)
{
    if (**p != '"')
        return false;
    for ((*p)++; **p && **p != '"'; (*p)++)
        if (**p == '\\' && !*++*p)
            return false;
    return **p == '"' && (*p)++;
}

static bool json_list(const char **p, char open, char close, bool keys)
{
    if (**p != open)
        return false;
    (*p)++;
    json_space(p);
    if (**p == close)
        return (*p)++, true;
    for (;;) {
        json_space(p);
        if (keys) {
            if (!json_string(p))
                return false;
            json_space(p);
            if (*(*p)++ != ':')
                return false;
        }
        if (!json_value(p))
            return false;
        json_space(p);
        if (**p == close)
            return (*p)++, true;
        if (*(*p)++ != ',')
            return false;
    }
}

static bool json_value(const char **p)
{
    json_space(p);
    if (**p == '{')
        return json_list(p, '{', '}', true);
    if (**p == '[')
        return json_list(p, '[', ']', false);
    if (**p == '"')
        return json_string(p);
    for (const char *lit[] = {"true", "false", "null"}, **l = lit; l < lit + 3; l++)
        if (!strncmp(*p, *l, strlen(*l)))
            return *p += strlen(*l), true;
    char *end;
    strtod(*p, &end);
    if (end == *p)
        return false;
    *p = end;
    return true;
}

/* the file parses as one JSON object with nothing after it */
static bool json_parses(const char *text)
{
    const char *p = text;
    if (!json_value(&p))
        return false;
    json_space(&p);
    return *p == '\0' && text[0] == '{';
}

/* fields of one CSV line (quotes respected) */
static int csv_fields(const char *line, size_t len)
{
    int fields = 1;
    bool quoted = false;
    for (size_t i = 0; i < len; i++)
        if (line[i] == '"')
            quoted = !quoted;
        else if (line[i] == ',' && !quoted)
            fields++;
    return fields;
}

/* a CSV written whole: newline-ended, every row the header's field count,
 * the header once; returns its rows, the first field of each into firsts */
static int check_csv(const char *rel, char (*firsts)[64], int max)
{
    char *text = tu_tmp_read(rel);
    const size_t len = strlen(text);
    ck_assert_msg(len > 0 && text[len - 1] == '\n', "%s: torn last row: %s", rel, text);
    const char *line = text, *nl = strchr(line, '\n');
    const int columns = csv_fields(line, (size_t)(nl - line));
    const size_t header_len = (size_t)(nl - line);
    int rows = 0;
    for (line = nl + 1; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        ck_assert_msg(csv_fields(line, (size_t)(nl - line)) == columns, "%s: a row of %d fields, "
                      "the header has %d: %.*s", rel, csv_fields(line, (size_t)(nl - line)),
                      columns, (int)(nl - line), line);
        ck_assert_msg((size_t)(nl - line) != header_len || strncmp(line, text, header_len),
                      "%s: the header again at row %d", rel, rows + 1);
        if (rows < max)
            snprintf(firsts[rows], sizeof firsts[0], "%.*s", (int)strcspn(line, ",\n"), line);
        rows++;
    }
    free(text);
    return rows;
}

/* a PNG whose every chunk's CRC holds, ending at its IEND; else false and
 * why into msg. A file that does not exist is whole (not there yet). */
static bool png_whole(const char *rel, char *msg, size_t size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return true;
    static unsigned char data[1 << 22];
    const size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    if (len <= 8 || memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0) {
        snprintf(msg, size, "%s: %zu bytes, no PNG signature", rel, len);
        return false;
    }
    for (size_t at = 8;;) {
        if (at + 12 > len) {
            snprintf(msg, size, "%s: cut at byte %zu of %zu", rel, at, len);
            return false;
        }
        const uint32_t n = (uint32_t)data[at] << 24 | (uint32_t)data[at + 1] << 16 |
                           (uint32_t)data[at + 2] << 8 | data[at + 3];
        const unsigned char *crc_at = data + at + 8 + n;
        if (at + 12 + n > len || crc32(0, data + at + 4, 4 + n) !=
                                     ((uint32_t)crc_at[0] << 24 | (uint32_t)crc_at[1] << 16 |
                                      (uint32_t)crc_at[2] << 8 | crc_at[3])) {
            snprintf(msg, size, "%s: a chunk cut or failing its CRC at byte %zu of %zu", rel, at,
                     len);
            return false;
        }
        const bool ended = !memcmp(data + at + 4, "IEND", 4);
        at += 12 + n;
        if (ended && at != len)
            snprintf(msg, size, "%s: %zu bytes after IEND", rel, len - at);
        if (ended)
            return at == len;
    }
}

static void check_png(const char *rel)
{
    char why[512];
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, rel);
    ck_assert_msg(nl_path_exists(path), "%s missing", rel);
    ck_assert_msg(png_whole(rel, why, sizeof why), "%s", why);
}

/* the files of a directory: how many end with `suffix`, and none a temporary */
static int count_files(const char *rel_dir, const char *suffix)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", tu_tmp, rel_dir);
    DIR *d = opendir(dir);
    ck_assert_msg(d, "%s missing", rel_dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        ck_assert_msg(!strstr(e->d_name, ".tmp."), "%s: a temporary left: %s", rel_dir, e->d_name);
        const size_t len = strlen(e->d_name), s = strlen(suffix);
        n += len > s && !strcmp(e->d_name + len - s, suffix);
    }
    closedir(d);
    return n;
}

static void finished_run(const char *dir)
{
    char args[256];
    snprintf(args, sizeof args, "run cnn.yaml --out %s --quiet", dir);
    ck_assert_int_eq(tu_normlab(args), 0);
}

/* ---- the kinds ---- */

/* the eval records in r/eval/: one per writer that exited 0, each whole,
 * named as the record it says it is, with exactly one row each */
static int check_eval_records(const char *run, const int *status)
{
    char rel[512], eval_dir[128];
    snprintf(eval_dir, sizeof eval_dir, "%s/eval", run);
    int said = 0;
    char claimed[WRITERS][256];
    for (int i = 0; i < WRITERS; i++) {
        if (status[i] != 0)
            continue;
        char *out = writer_output(i), *rec = strstr(out, "record: ");
        ck_assert_msg(rec, "writer %d names no record: %s", i, out);
        snprintf(claimed[said], sizeof claimed[0], "%.*s", (int)strcspn(rec + 8, "\n"), rec + 8);
        for (int j = 0; j < said; j++)
            ck_assert_msg(strcmp(claimed[j], claimed[said]), "two writers name %s", claimed[j]);
        /* the record is the writer's own: whole, and named for itself */
        char *json = tu_tmp_read(claimed[said]);
        ck_assert_msg(json_parses(json), "%s does not parse: %s", claimed[said], json);
        char name[96], want[300];
        ck_assert(nl_json_flat_get(json, "record", name, sizeof name));
        snprintf(want, sizeof want, "%s/%s.json", eval_dir, name);
        ck_assert_str_eq(claimed[said], want);
        free(json);
        free(out);
        said++;
    }
    ck_assert_int_eq(count_files(eval_dir, ".json"), said);
    char firsts[WRITERS + 4][64];
    snprintf(rel, sizeof rel, "%s/evals.csv", eval_dir);
    const int rows = check_csv(rel, firsts, WRITERS + 4);
    ck_assert_msg(rows == said, "%s: %d rows for %d records", rel, rows, said);
    for (int r = 0; r < rows; r++) {
        char want[256];
        snprintf(want, sizeof want, "%.100s/%.63s.json", eval_dir, firsts[r]);
        bool found = false;
        for (int j = 0; j < said && !found; j++)
            found = !strcmp(claimed[j], want);
        ck_assert_msg(found, "%s: row %d names %s, no writer's record", rel, r + 1, firsts[r]);
        for (int j = 0; j < r; j++)
            ck_assert_msg(strcmp(firsts[j], firsts[r]), "%s: two rows for %s", rel, firsts[r]);
    }
    return said;
}

static const char *const no_reason[] = {NULL};
static const char *const never_replaced[] = {"never replaced", NULL};
static const char *const run_busy[] = {"is being written by another normlab process (pid ",
                                       "already holds a finished run", NULL};

static void eval_auto_named(void)
{
    finished_run("r");
    int status[WRITERS];
    run_writers("eval r --threads 1", WRITERS, status);
    ck_assert_int_eq(check_statuses("eval", status, no_reason), WRITERS);
    ck_assert_int_eq(check_eval_records("r", status), WRITERS);
    char rel[64];
    for (int k = 1; k <= WRITERS; k++) {
        snprintf(rel, sizeof rel, k == 1 ? "r/eval/test.json" : "r/eval/test-%d.json", k);
        free(tu_tmp_read(rel)); /* the numbers taken in order, none skipped */
    }
}

static void eval_same_name(void)
{
    finished_run("r");
    int status[WRITERS];
    run_writers("eval r --threads 1 --name same", WRITERS, status);
    ck_assert_int_eq(check_statuses("eval --name same", status, never_replaced), 1);
    ck_assert_int_eq(check_eval_records("r", status), 1);
}

static void eval_own_names(void)
{
    finished_run("r");
    int status[WRITERS];
    run_writers("eval r --threads 1 --name own-%d", WRITERS, status);
    ck_assert_int_eq(check_statuses("eval --name own-N", status, no_reason), WRITERS);
    ck_assert_int_eq(check_eval_records("r", status), WRITERS);
}

/* the run's files as one writer leaves them: its metrics equal a lone
 * run's, row for row */
static void check_run_dir(const char *rel_dir)
{
    char *want = tu_metrics_without_time("lone"), *got = tu_metrics_without_time(rel_dir);
    ck_assert_msg(!strcmp(want, got), "%s/metrics.csv differs from a lone run's:\n%s\n--\n%s",
                  rel_dir, got, want);
    free(want);
    free(got);
    char rel[256];
    snprintf(rel, sizeof rel, "%s/summary.json", rel_dir);
    char *summary = tu_tmp_read(rel), status[32];
    ck_assert(json_parses(summary) && nl_json_flat_get(summary, "status", status, sizeof status));
    ck_assert_str_eq(status, "ok");
    free(summary);
}

static void run_dirs(void)
{
    finished_run("lone");
    int status[WRITERS];
    run_writers("run cnn.yaml --out R --quiet", WRITERS, status);
    ck_assert_int_eq(check_statuses("run --out R", status, run_busy), 1);
    check_run_dir("R");
}

/* --force over a finished run with eval records: each start over is one
 * writer's (others are refused while one writes), and the records of the
 * replaced model go */
static void run_force(void)
{
    finished_run("lone");
    finished_run("R");
    ck_assert_int_eq(tu_normlab("eval R --threads 1"), 0);
    ck_assert_int_eq(tu_normlab("eval R --threads 1 --fold-bn"), 0);
    int status[WRITERS];
    run_writers("run cnn.yaml --out R --quiet --force", WRITERS, status);
    const int ok = check_statuses("run --force", status, run_busy);
    ck_assert_int_ge(ok, 1);
    check_run_dir("R");
    char path[1024];
    snprintf(path, sizeof path, "%s/R/eval", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "R/eval/ kept the replaced model's records");
    int said = 0;
    for (int i = 0; i < WRITERS; i++) {
        char *out = writer_output(i);
        said += status[i] == 0 && strstr(out, "removed the 2 eval records (eval/)");
        free(out);
    }
    ck_assert_msg(said == 1, "%d writers said they removed the 2 records", said);
}

/* evals and --force starts over of the same run at once: an eval either
 * records the model the directory ends with or is refused (a run holds
 * it), a start over either runs alone or is refused (an eval reads it):
 * never a record of a replaced model beside the new one */
static void eval_while_force(void)
{
    finished_run("lone");
    finished_run("R");
    ck_assert_int_eq(tu_normlab("eval R --threads 1 --name before"), 0);
    char args[WRITERS][1024];
    for (int i = 0; i < WRITERS; i++)
        snprintf(args[i], sizeof args[i], i % 2 ? "run cnn.yaml --out R --quiet --force --set seed=%d"
                                                : "eval R --threads 1 --name e%d", 10 + i);
    int status[WRITERS];
    run_writers_list(args, WRITERS, NULL, status);
    const char *const reasons[] = {"is being read by normlab eval", "is being written by another",
                                   "still being written", NULL};
    check_statuses("eval and run --force", status, reasons);
    char *summary = tu_tmp_read("R/summary.json"), loss[64], seed_line[64];
    ck_assert(nl_json_flat_get(summary, "final_test_loss", loss, sizeof loss));
    free(summary);
    /* every record there is of the model R holds now */
    char eval_dir[1024];
    snprintf(eval_dir, sizeof eval_dir, "%s/R/eval", tu_tmp);
    DIR *d = opendir(eval_dir);
    int records = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (!strstr(e->d_name, ".json"))
            continue;
        char rel[512], record_loss[64];
        snprintf(rel, sizeof rel, "R/eval/%s", e->d_name);
        char *json = tu_tmp_read(rel);
        ck_assert(json_parses(json) && nl_json_flat_get(json, "loss", record_loss, sizeof record_loss));
        ck_assert_msg(fabs(atof(record_loss) - atof(loss)) <= 1e-6 * fmax(1.0, fabs(atof(loss))),
                      "%s: loss %s, of another model than R's (final test loss %s)", rel,
                      record_loss, loss);
        free(json);
        records++;
    }
    if (d)
        closedir(d);
    if (records > 0) {
        char firsts[WRITERS + 2][64];
        ck_assert_int_eq(check_csv("R/eval/evals.csv", firsts, WRITERS + 2), records);
    }
    char *config = tu_tmp_read("R/config.yaml");
    snprintf(seed_line, sizeof seed_line, "seed: 5\n");
    const bool replaced = !strstr(config, seed_line);
    free(config);
    for (int i = 1; i < WRITERS; i += 2)
        ck_assert_msg(status[i] != 0 || replaced, "a start over exited 0, R holds the old model");
}

static void sweep_dir(void)
{
    tu_tmp_write("exp.yaml", experiment);
    int status[WRITERS];
    run_writers("sweep exp.yaml --out S -j 1", WRITERS, status);
    /* the sweep directory's lock holder trains; one that finds the runs
     * done only redraws the plots, exit 0 too */
    const char *const reasons[] = {"is being written by another normlab", "being swept", "lock",
                                   NULL};
    ck_assert_int_ge(check_statuses("sweep --out S", status, reasons), 1);
    char firsts[8][64];
    ck_assert_int_eq(check_csv("S/summary.csv", firsts, 8), 2);
    for (int seed = 1; seed <= 2; seed++) {
        char rel[128];
        snprintf(rel, sizeof rel, "S/runs/seed-%d/metrics.csv", seed);
        char *text = tu_tmp_read(rel);
        ck_assert_msg(strstr(text, "\n24,"), "%s: unfinished: %s", rel, text);
        free(text);
    }
}

/* every figure whole, from one writer; the scripts and their data whole */
static void check_plots(const char *rel_dir, const char *const *figures)
{
    for (int i = 0; figures[i]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "%s/%s.gp", rel_dir, figures[i]);
        char *gp = tu_tmp_read(rel);
        ck_assert_msg(strstr(gp, "unset output\n"), "%s: torn", rel);
        free(gp);
        if (have_gnuplot) {
            snprintf(rel, sizeof rel, "%s/%s.png", rel_dir, figures[i]);
            check_png(rel);
        }
    }
    count_files(rel_dir, ".png");
}

static void plots(void)
{
    finished_run("r");
    const char *const figures[] = {"curves", NULL};
    /* twice: the first draws a new figure, the second replaces one */
    for (int round = 0; round < 2; round++) {
        int status[WRITERS];
        run_writers_watching("plot r --kind curves", WRITERS, have_gnuplot ? "r/plots/curves.png" : NULL,
                             status);
        ck_assert_int_eq(check_statuses("plot", status, no_reason), WRITERS);
        check_plots("r/plots", figures);
    }
}

/* into a directory none of them has made yet: each finds it new, empty,
 * or compare's (marked), never in between */
static void compare_out(void)
{
    finished_run("r");
    finished_run("r2");
    const char *const figures[] = {"compare", NULL};
    int status[WRITERS];
    run_writers_watching("compare r r2 --out new/cmp", WRITERS,
                         have_gnuplot ? "new/cmp/compare.png" : NULL, status);
    ck_assert_int_eq(check_statuses("compare", status, no_reason), WRITERS);
    check_plots("new/cmp", figures);
}

static const struct {
    const char *name;
    void (*check)(void);
} kinds[] = {
    {"eval records, auto-named", eval_auto_named},
    {"eval records, one --name", eval_same_name},
    {"eval records, names of their own (evals.csv rows)", eval_own_names},
    {"run directories", run_dirs},
    {"run --force over eval records", run_force},
    {"evals and run --force at once", eval_while_force},
    {"sweep directories", sweep_dir},
    {"plot", plots},
    {"compare --out", compare_out},
};

START_TEST(test_eight_writers)
{
    char tag[64];
    snprintf(tag, sizeof tag, "records%d", _i);
    tu_tmp_make(tag);
    tu_tmp_write("cnn.yaml", config);
    kinds[_i].check();
    tu_tmp_remove();
}
END_TEST

/* ---- the primitive ---- */

/* nl_write_exclusive: the file whole or not at all; an existing one,
 * whatever it is, refused and left as it was, with nothing beside it */
START_TEST(test_write_exclusive)
{
    tu_tmp_make("exclusive");
    char path[1024];
    snprintf(path, sizeof path, "%s/a.json", tu_tmp);
    nl_error err = {0};
    bool existed = true;
    ck_assert_int_eq(nl_write_exclusive(path, "{}\n", 3, &existed, &err), NL_OK);
    ck_assert(!existed);
    const char *in_the_way[] = {"a.json", "dir", "link", "dangling"};
    ck_assert_int_eq(mkdir(strcat(strcpy(path, tu_tmp), "/dir"), 0777), 0);
    ck_assert_int_eq(symlink("a.json", strcat(strcpy(path, tu_tmp), "/link")), 0);
    ck_assert_int_eq(symlink("nowhere", strcat(strcpy(path, tu_tmp), "/dangling")), 0);
    for (size_t i = 0; i < sizeof in_the_way / sizeof in_the_way[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tu_tmp, in_the_way[i]);
        nl_error e = {0};
        existed = false;
        ck_assert_int_eq(nl_write_exclusive(path, "replaced\n", 9, &existed, &e), NL_ERR_USAGE);
        ck_assert_msg(existed && strstr(e.msg, "never replaces"), "%s: %s", in_the_way[i], e.msg);
    }
    char *a = tu_tmp_read("a.json");
    ck_assert_str_eq(a, "{}\n");
    free(a);
    snprintf(path, sizeof path, "%s/nowhere", tu_tmp);
    ck_assert_msg(!nl_path_exists(path), "a dangling link was followed");
    ck_assert_int_eq(count_files(".", ".json"), 1);
    tu_tmp_remove();
}
END_TEST

/* the table every record gets a row in, not a regular file (a FIFO, a
 * directory): refused at once with exit 2, and the record taken back (no
 * record without its row) */
START_TEST(test_eval_table_not_a_file)
{
    tu_tmp_make("evaltable");
    tu_tmp_write("cnn.yaml", config);
    finished_run("r");
    char path[1024];
    snprintf(path, sizeof path, "%s/r/eval", tu_tmp);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    snprintf(path, sizeof path, "%s/r/eval/evals.csv", tu_tmp);
    for (int kind = 0; kind < 2; kind++) {
        ck_assert_int_eq(kind ? mkdir(path, 0777) : mkfifo(path, 0666), 0);
        ck_assert_int_eq(tu_normlab("eval r --threads 1"), 2);
        char *out = tu_normlab_output();
        ck_assert_msg(strstr(out, "evals.csv") && strstr(out, "not a regular file"), "%s", out);
        free(out);
        ck_assert_int_eq(count_files("r/eval", ".json"), 0);
        ck_assert_int_eq(kind ? rmdir(path) : unlink(path), 0);
    }
    tu_tmp_remove();
}
END_TEST

/* a user's own files are never replaced: templates written for editing
 * are the user's once there (the second --write-templates is refused,
 * nothing written, an edited one kept) */
START_TEST(test_templates_kept)
{
    tu_tmp_make("templates");
    ck_assert_int_eq(tu_normlab("plot --write-templates tpl"), 0);
    tu_tmp_write("tpl/curves.gp", "curve_lw = 5\n");
    ck_assert_int_eq(tu_normlab("plot --write-templates tpl"), 2);
    char *out = tu_normlab_output(), *kept = tu_tmp_read("tpl/curves.gp");
    ck_assert_msg(strstr(out, "never replaced") && strstr(out, "nothing was written"), "%s", out);
    ck_assert_str_eq(kept, "curve_lw = 5\n");
    free(out);
    free(kept);
    count_files("tpl", ".gp"); /* no temporary left */
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    char gnuplot[1024];
    have_gnuplot = nl_plot_find_gnuplot(gnuplot, sizeof gnuplot);
    Suite *s = suite_create("records");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_eight_writers, 0, (int)(sizeof kinds / sizeof kinds[0]));
    tcase_add_test(tc, test_write_exclusive);
    tcase_add_test(tc, test_templates_kept);
    tcase_add_test(tc, test_eval_table_not_a_file);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
