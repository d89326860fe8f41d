// ctest-labels: cpu
/* A finished sweep packed into one SQLite file (core/results/store.h,
 * issue 115): committed sweeps copied, packed, and every reader's output
 * compared byte for byte with its output on the directories; every value
 * of the metrics table compared bit for bit with the text it came from;
 * export csv giving the tree back; and the bad inputs (a pack cut short,
 * not SQLite, of a newer schema, a link; an unfinished sweep; a pack killed
 * after its rename) refused with nothing written or lost. */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log/files.h"
#include "results/table.h"
#include "testutil.h"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4400];
    snprintf(full, sizeof full, "cd '%s' && %s", tu_tmp, cmd);
    const int rc = system(full);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool exists(const char *rel)
{
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", tu_tmp, rel);
    return lstat(path, &st) == 0;
}

/* results/NAME copied to tu_tmp/s, as run directories (a committed sweep
 * already packed is exported back first), its drawn plots left out */
static void copy_sweep(const char *name)
{
    ck_assert_int_eq(sh("rm -rf s && cp -r '%s/results/%s' s && rm -rf s/plots", NORMLAB_SOURCE_DIR, name), 0);
    if (exists("s/runs.sqlite")) {
        ck_assert_int_eq(tu_normlab("export csv s --out s/runs"), 0);
        ck_assert_int_eq(sh("rm s/runs.sqlite"), 0);
    }
}

/* out.txt of `normlab ARGS` (exit status `want`) kept as tu_tmp/KEEP */
static void keep_output(const char *args, int want, const char *keep)
{
    const int rc = tu_normlab(args);
    char *out = tu_normlab_output();
    ck_assert_msg(rc == want, "normlab %s: exit %d, not %d:\n%s", args, rc, want, out);
    tu_tmp_write(keep, out);
    free(out);
}

/* every reader's output on s, into files with suffix `tag` */
static void read_all(const char *tag, const char *first_run, const char *second_run, const char *by)
{
    char args[600], keep[64];
    snprintf(args, sizeof args, "table s --by %s", by);
    snprintf(keep, sizeof keep, "table.%s", tag);
    keep_output(args, 0, keep);
    snprintf(keep, sizeof keep, "verdict-out.%s", tag);
    keep_output("verdict s --experiment s/experiment.yaml --no-registration --out v", 0, keep);
    ck_assert_int_eq(sh("mv v verdict.%s", tag), 0);
    snprintf(args, sizeof args, "show s/runs/%s", first_run);
    snprintf(keep, sizeof keep, "show.%s", tag);
    keep_output(args, 0, keep);
    snprintf(args, sizeof args, "plot s --format svg");
    snprintf(keep, sizeof keep, "plot-out.%s", tag);
    keep_output(args, 0, keep);
    ck_assert_int_eq(sh("mv s/plots plots.%s", tag), 0);
    snprintf(args, sizeof args, "compare s/runs/%s s/runs/%s --out c", first_run, second_run);
    snprintf(keep, sizeof keep, "compare-out.%s", tag);
    keep_output(args, 0, keep);
    ck_assert_int_eq(sh("mv c compare.%s", tag), 0);
    /* the page, but for its line saying when it was written */
    keep_output("report s --out r.html", 0, "report-out");
    ck_assert_int_eq(sh("grep -v 'class=\"meta\"' r.html > report.%s && rm r.html", tag), 0);
    /* one run's page: its curves from the run's own metrics.csv */
    snprintf(args, sizeof args, "report s/runs/%s --out r.html", first_run);
    keep_output(args, 0, "report-run-out");
    ck_assert_int_eq(sh("grep -v 'class=\"meta\"' r.html > report-run.%s && rm r.html", tag), 0);
}

static void same_tree(const char *a, const char *b)
{
    ck_assert_msg(sh("diff -r %s %s > diff.txt 2>&1", a, b) == 0, "%s and %s differ:\n%s", a, b,
                  tu_tmp_read("diff.txt"));
}

static void pack_and_compare(const char *sweep, const char *first_run, const char *second_run, const char *by)
{
    tu_tmp_make("store");
    copy_sweep(sweep);
    ck_assert_int_eq(sh("cp -r s/runs runs.before"), 0);
    read_all("dirs", first_run, second_run, by);
    keep_output("pack s", 0, "pack-out");
    ck_assert(!exists("s/runs") && exists("s/runs.sqlite"));
    ck_assert_int_ne(sh("ls -a s | grep -q '\\.tmp\\.'"), 0); /* no temporary left */
    read_all("pack", first_run, second_run, by);
    static const char *const outputs[] = {"table",   "verdict-out", "show",        "plot-out", "verdict",
                                          "plots",   "compare-out", "compare",     "report",   "report-run"};
    for (size_t i = 0; i < sizeof outputs / sizeof *outputs; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "%s.dirs", outputs[i]);
        snprintf(b, sizeof b, "%s.pack", outputs[i]);
        same_tree(a, b);
    }
    keep_output("export csv s --out back", 0, "export-out");
    same_tree("runs.before", "back");
    tu_tmp_remove();
}

START_TEST(test_pack_trace_sweep)
{
    pack_and_compare("ioffe-fig1", "type-none_seed-1", "type-batch_seed-1", "model.norm.type");
}
END_TEST

START_TEST(test_pack_series_sweep)
{
    pack_and_compare("signal-propagation-confirm", "type-none_skip_init-false_lr-0.01_seed-101",
                     "type-none_skip_init-false_lr-0.01_seed-102", "model.norm.type");
}
END_TEST

/* a run's value of `sql` (one integer) */
static long long query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

START_TEST(test_pack_keeps_bytes)
{
    tu_tmp_make("store-bits");
    copy_sweep("ioffe-fig1");
    /* one run's metrics.csv edited (two decimals' counts in a column, CRLF)
     * and an eval record added: every byte back all the same */
    ck_assert_int_eq(sh("cd s/runs/type-none_seed-2 && "
                        "sed -i '3s/,0\\.01,/,0.0100,/; 4s/$/\\r/' metrics.csv && mkdir eval && "
                        "printf 'name,x\\nfold,1\\n' > eval/evals.csv && cd ../../.. && cp -r s/runs runs.before"), 0);
    keep_output("pack s", 0, "pack-out");
    char path[1200];
    snprintf(path, sizeof path, "%s/s/runs.sqlite", tu_tmp);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM runs WHERE config IS NOT NULL AND summary IS NOT NULL AND "
                                   "metrics IS NOT NULL"),
                     6);
    /* compact: each run's texts deflated against the first run's (a
     * quarter of a config's or summary's text is far more than a seed and
     * a name's worth); a file of files deflated as an SQLite Archive keeps
     * it where that is shorter, else kept as it is */
    ck_assert(query_int(db, "SELECT sum(length(config)) * 4 < sum(config_size) FROM runs"));
    ck_assert(query_int(db, "SELECT sum(length(summary)) * 4 < sum(summary_size) FROM runs"));
    ck_assert(query_int(db, "SELECT sum(length(metrics)) * 2 < sum(metrics_size) FROM runs"));
    ck_assert(query_int(db, "SELECT length(body) = size FROM files WHERE path = 'eval/evals.csv'"));
    ck_assert(query_int(db, "SELECT count(*) FROM dictionaries") == 3);
    sqlite3_close(db);
    keep_output("export csv s --out back", 0, "export-out");
    same_tree("runs.before", "back");
    tu_tmp_remove();
}
END_TEST

/* `normlab ARGS` exits 2 naming `says` */
static void refused(const char *args, const char *says)
{
    const int rc = tu_normlab(args);
    char *out = tu_normlab_output();
    ck_assert_msg(rc == 2 && strstr(out, says), "normlab %s: exit %d, wanted 2 and '%s':\n%s", args, rc, says, out);
    free(out);
}

static void set_schema_version(const char *version)
{
    char path[1200], sql[200];
    snprintf(path, sizeof path, "%s/s/runs.sqlite", tu_tmp);
    snprintf(sql, sizeof sql, "UPDATE normlab_pack SET value = '%s' WHERE key = 'schema_version'", version);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

START_TEST(test_bad_packs)
{
    tu_tmp_make("store-bad");
    copy_sweep("signal-propagation-confirm");
    keep_output("pack s", 0, "pack-out");
    ck_assert_int_eq(sh("cp s/runs.sqlite good.sqlite"), 0);
    refused("pack s", "packed already");
    refused("show s/runs/no-such-run", "holds no run 'no-such-run'");
    /* cut short */
    ck_assert_int_eq(sh("head -c $(( $(stat -c %%s good.sqlite) / 2 )) good.sqlite > s/runs.sqlite"), 0);
    refused("table s", "runs.sqlite is cut short");
    refused("verdict s --experiment s/experiment.yaml --no-registration --out v", "runs.sqlite is cut short");
    ck_assert(!exists("v"));
    /* not SQLite */
    tu_tmp_write("s/runs.sqlite", "run,status\nx,ok\n");
    refused("table s", "is not an SQLite file");
    refused("export csv s --out back", "is not an SQLite file");
    ck_assert(!exists("back"));
    /* another program's SQLite */
    ck_assert_int_eq(sh("rm s/runs.sqlite"), 0);
    sqlite3 *db;
    char path[1200];
    snprintf(path, sizeof path, "%s/s/runs.sqlite", tu_tmp);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    refused("table s", "not a normlab sweep's pack");
    /* a newer schema */
    ck_assert_int_eq(sh("cp good.sqlite s/runs.sqlite"), 0);
    set_schema_version("3");
    refused("table s", "newer than this normlab reads");
    refused("show s/runs/type-none_skip_init-false_lr-0.01_seed-101", "newer than this normlab reads");
    /* a link */
    ck_assert_int_eq(sh("rm s/runs.sqlite && ln -s ../good.sqlite s/runs.sqlite"), 0);
    refused("table s", "is a symbolic link");
    ck_assert_int_eq(sh("rm s/runs.sqlite && cp good.sqlite s/runs.sqlite"), 0);
    keep_output("table s --by model.norm.type", 0, "table-again");
    /* a compressed value changed: refused naming it, as a damaged pack */
    const char *run = "type-none_skip_init-false_lr-0.01_seed-101";
    char sql[300];
    snprintf(sql, sizeof sql, "UPDATE runs SET summary = substr(summary, 1, length(summary) - 3) WHERE run = '%s'",
             run);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char args[300];
    snprintf(args, sizeof args, "show s/runs/%s", run);
    refused(args, "is damaged");
    refused("export csv s --out back", "is damaged");
    ck_assert(!exists("back"));
    tu_tmp_remove();
}
END_TEST

/* the file `rel` under tu_tmp bound as a blob (text: its bytes) */
static void bind_file(sqlite3_stmt *st, int at, const char *rel)
{
    char *body = tu_tmp_read(rel);
    sqlite3_bind_blob(st, at, body, (int)strlen(body), SQLITE_TRANSIENT);
    free(body);
}

/* run `id`'s metrics.csv into schema 1's runs columns and metrics rows,
 * every cell as its text */
static void metrics_rows_v1(sqlite3 *db, int id, const char *name)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/runs.before/%s/metrics.csv", tu_tmp, name);
    nl_csv_table t;
    nl_error err = {0};
    ck_assert_msg(nl_csv_table_read(path, &t, &err) == NL_OK, "%s", err.msg);
    char header[400] = "", format[100] = "", sql[800];
    for (int c = 0; c < t.n_cols; c++) {
        snprintf(header + strlen(header), sizeof header - strlen(header), "%s%s", c ? "," : "", t.header[c]);
        snprintf(format + strlen(format), sizeof format - strlen(format), "%st", c ? "," : "");
    }
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE runs SET metrics_header = ?, metrics_format = ? WHERE id = ?", -1,
                                        &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, header, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, format, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, id);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    int n = snprintf(sql, sizeof sql, "INSERT INTO metrics(run_id, row");
    for (int c = 0; c < t.n_cols; c++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", \"%s\"", t.header[c]);
    n += snprintf(sql + n, sizeof sql - (size_t)n, ") VALUES (?, ?");
    for (int c = 0; c < t.n_cols; c++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", ?");
    snprintf(sql + n, sizeof sql - (size_t)n, ")");
    for (int r = 0; r < t.n_rows; r++) {
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_int(st, 1, id);
        sqlite3_bind_int(st, 2, r + 1);
        for (int c = 0; c < t.n_cols; c++)
            sqlite3_bind_text(st, 3 + c, t.rows[r][c], -1, SQLITE_TRANSIENT);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
    }
    nl_csv_table_free(&t);
}

/* a pack of schema 1, as the first normlab pack wrote it (config and
 * summary as text, metrics.csv as rows or whole in files), read as it was */
START_TEST(test_reads_schema_1)
{
    tu_tmp_make("store-v1");
    copy_sweep("signal-propagation-confirm");
    ck_assert_int_eq(sh("mv s/runs runs.before && ls runs.before > names.txt"), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/s/runs.sqlite", tu_tmp);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "CREATE TABLE normlab_pack(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO normlab_pack VALUES ('schema_version', '1'), ('kind', 'normlab sweep runs');"
                     "CREATE TABLE runs(id INTEGER PRIMARY KEY, run TEXT NOT NULL UNIQUE, status TEXT, config TEXT, "
                     "summary TEXT, metrics_header TEXT, metrics_format TEXT);"
                     "CREATE TABLE files(run_id INTEGER NOT NULL REFERENCES runs(id), path TEXT NOT NULL, body BLOB "
                     "NOT NULL, PRIMARY KEY (run_id, path)) WITHOUT ROWID;"
                     /* columns without a type, so that a cell bound as text stays text */
                     "CREATE TABLE metrics(run_id INTEGER NOT NULL, row INTEGER NOT NULL, step, epoch, split, loss, "
                     "accuracy, lr, elapsed_s, grad_norm, PRIMARY KEY (run_id, row)) WITHOUT ROWID;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    char *names = tu_tmp_read("names.txt");
    int id = 0;
    char *names_save = NULL;
    for (char *name = strtok_r(names, "\n", &names_save); name; name = strtok_r(NULL, "\n", &names_save)) {
        char rel[600];
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO runs VALUES (?, ?, 'ok', ?, ?, NULL, NULL)", -1, &st,
                                            NULL),
                         SQLITE_OK);
        sqlite3_bind_int(st, 1, ++id);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        snprintf(rel, sizeof rel, "runs.before/%s/config.yaml", name);
        char *config = tu_tmp_read(rel);
        sqlite3_bind_text(st, 3, config, -1, SQLITE_TRANSIENT);
        snprintf(rel, sizeof rel, "runs.before/%s/summary.json", name);
        char *summary = tu_tmp_read(rel);
        sqlite3_bind_text(st, 4, summary, -1, SQLITE_TRANSIENT);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        free(config);
        free(summary);
        /* the first run's metrics.csv as rows (each cell its text: format
         * t), every other run's whole among its files */
        if (id == 1)
            metrics_rows_v1(db, id, name);
        snprintf(rel, sizeof rel, "files-%d.txt", id);
        ck_assert_int_eq(sh("cd runs.before/%s && find . -type f ! -name config.yaml ! -name summary.json %s| "
                            "sed 's|^\\./||' | sort > ../../%s", name, id == 1 ? "! -name metrics.csv " : "", rel),
                         0);
        char *files = tu_tmp_read(rel), *save = NULL;
        for (char *file = strtok_r(files, "\n", &save); file; file = strtok_r(NULL, "\n", &save)) {
            ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO files VALUES (?, ?, ?)", -1, &st, NULL), SQLITE_OK);
            sqlite3_bind_int(st, 1, id);
            sqlite3_bind_text(st, 2, file, -1, SQLITE_TRANSIENT);
            snprintf(rel, sizeof rel, "runs.before/%s/%s", name, file);
            bind_file(st, 3, rel);
            ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
            sqlite3_finalize(st);
        }
        free(files);
    }
    free(names);
    sqlite3_close(db);
    keep_output("table s --by model.norm.type", 0, "table-out");
    keep_output("export csv s --out back", 0, "export-out");
    same_tree("runs.before", "back");
    tu_tmp_remove();
}
END_TEST

START_TEST(test_pack_refuses_and_resumes)
{
    tu_tmp_make("store-refuse");
    copy_sweep("signal-propagation-confirm");
    ck_assert_int_eq(sh("cp -r s/runs runs.before"), 0);
    /* an unfinished run: nothing packed, nothing removed */
    ck_assert_int_eq(sh("cd s/runs/type-none_skip_init-false_lr-0.01_seed-102 && "
                        "sed -i 's/\"status\": \"ok\"/\"status\": \"running\"/' summary.json"), 0);
    refused("pack s", "is not finished");
    ck_assert(!exists("s/runs.sqlite"));
    ck_assert_int_ne(sh("ls -a s | grep -q '\\.tmp\\.'"), 0);
    ck_assert_int_eq(sh("rm -r s/runs && cp -r runs.before s/runs"), 0);
    refused("pack no-such-dir", "not a sweep directory");
    /* a directory, a FIFO, a link where the pack goes: refused, the runs kept */
    static const char *const in_place[] = {"mkdir s/runs.sqlite", "mkfifo s/runs.sqlite",
                                           "ln -s ../elsewhere.sqlite s/runs.sqlite"};
    for (size_t i = 0; i < sizeof in_place / sizeof *in_place; i++) {
        ck_assert_int_eq(sh("%s", in_place[i]), 0);
        refused("pack s", "runs.sqlite");
        same_tree("runs.before", "s/runs");
        ck_assert(!exists("elsewhere.sqlite"));
        ck_assert_int_eq(sh("rm -r s/runs.sqlite"), 0);
    }
    /* killed before the rename: its temporary, of a process gone, removed by
     * the next pack; the sweep's lock it made for itself removed too */
    const pid_t gone = fork();
    if (gone == 0)
        _exit(0);
    ck_assert_int_gt(gone, 0);
    waitpid(gone, NULL, 0);
    char stale[64];
    snprintf(stale, sizeof stale, "s/runs.sqlite.tmp.%ld", (long)gone);
    tu_tmp_write(stale, "half a pack");
    /* killed after the rename: the directories still there are the pack's,
     * checked and removed by packing again */
    keep_output("pack s", 0, "pack-out");
    ck_assert(!exists(stale) && !exists("s/.lock"));
    ck_assert_int_eq(sh("cp -r runs.before s/runs"), 0);
    keep_output("pack s", 0, "pack-again");
    ck_assert(!exists("s/runs"));
    /* ... but one that differs from the pack is kept */
    ck_assert_int_eq(sh("cp -r runs.before s/runs && echo x >> s/runs/type-none_skip_init-false_lr-0.01_seed-102/"
                        "config.yaml"), 0);
    refused("pack s", "differs from the file");
    ck_assert(exists("s/runs/type-none_skip_init-false_lr-0.01_seed-102/config.yaml"));
    tu_tmp_remove();
}
END_TEST

/* the sweep run again on its packed directory finds every run finished with
 * its recorded config: nothing trained, summary.csv the same */
START_TEST(test_sweep_on_pack)
{
    tu_tmp_make("store-sweep");
    copy_sweep("signal-propagation-confirm");
    ck_assert_int_eq(sh("cp s/summary.csv summary.before"), 0);
    keep_output("pack s", 0, "pack-out");
    char args[1200];
    snprintf(args, sizeof args, "sweep %s/experiments/signal-propagation-confirm.yaml --out s -j 1",
             NORMLAB_SOURCE_DIR);
    keep_output(args, 0, "sweep-out");
    char *out = tu_tmp_read("sweep-out");
    ck_assert_msg(strstr(out, "0 to run (5 finished before)"), "%s", out);
    free(out);
    same_tree("summary.before", "s/summary.csv");
    tu_tmp_remove();
}
END_TEST

static const char *const small_experiment =
    "name: sw\n"
    "base:\n"
    "  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}\n"
    "  model: {arch: mlp, widths: [8]}\n"
    "  train: {batch_size: 32, steps: 12, eval_every: 6, log_every: 3, optimizer: {lr: 0.1}}\n"
    "threads: 1\n"
    "grid:\n"
    "  model.norm.type: [none, batch]\n"
    "  seed: [1, 2]\n";

/* a local sweep keeps its final models: packed (byte for byte, as every
 * file), init.from a run inside the pack starts from the same model as
 * from its directory; eval, which records into the run's directory, is
 * refused there */
START_TEST(test_init_from_a_packed_run)
{
    tu_tmp_make("store-init");
    tu_tmp_write("exp.yaml", small_experiment);
    keep_output("sweep exp.yaml --out sw -j 2", 0, "sweep-out");
    ck_assert(exists("sw/runs/type-batch_seed-1/final.nlck"));
    ck_assert_int_eq(sh("cp -r sw/runs runs.before"), 0);
    tu_tmp_write("ft.yaml", "data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}\n"
                            "model: {arch: mlp, widths: [8], norm: {type: batch}}\n"
                            "train: {batch_size: 32, steps: 6, eval_every: 6, log_every: 3}\n");
    keep_output("run ft.yaml --set init.from=runs.before/type-batch_seed-1 --out ft-dirs --quiet --threads 1", 0,
                "ft-dirs-out");
    keep_output("pack sw", 0, "pack-out");
    keep_output("run ft.yaml --set init.from=sw/runs/type-batch_seed-1 --out ft-pack --quiet --threads 1", 0,
                "ft-pack-out");
    char *a = tu_metrics_without_time("ft-dirs"), *b = tu_metrics_without_time("ft-pack");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    refused("eval sw/runs/type-batch_seed-1 --threads 1", "packed sweep");
    ck_assert(!exists("sw/runs"));
    keep_output("export csv sw --out back", 0, "export-out");
    /* every file back but the writers' markers: live state, left out */
    ck_assert_int_eq(sh("rm runs.before/*/.normlab-run"), 0);
    same_tree("runs.before", "back");
    tu_tmp_remove();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_pack_trace_sweep);
    tcase_add_test(tc, test_pack_series_sweep);
    tcase_add_test(tc, test_pack_keeps_bytes);
    tcase_add_test(tc, test_bad_packs);
    tcase_add_test(tc, test_reads_schema_1);
    tcase_add_test(tc, test_pack_refuses_and_resumes);
    tcase_add_test(tc, test_sweep_on_pack);
    tcase_add_test(tc, test_init_from_a_packed_run);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
