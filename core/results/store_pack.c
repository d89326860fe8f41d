/* Packing a finished sweep's run directories into SWEEP/runs.sqlite
 * (store.h): checked first, written whole into a temporary, read back and
 * compared byte for byte, renamed into place, and only then the directories
 * removed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/ident.h"
#include "base/number.h"
#include "results/files.h"
#include "results/results.h"
#include "results/rundir.h"
#include "results/store.h"
#include "results/store_internal.h"
#include "results/summary.h"

/* a run directory's files: paths relative to it, in name order */
typedef struct {
    char **paths;
    int n, cap;
} file_list;

static void file_list_free(file_list *fl)
{
    for (int i = 0; i < fl->n; i++)
        free(fl->paths[i]);
    free(fl->paths);
    *fl = (file_list){0};
}

static nl_code file_list_add(file_list *fl, const char *path, nl_error *err)
{
    if (fl->n == fl->cap) {
        const int cap = fl->cap ? fl->cap * 2 : 16;
        char **grown = realloc(fl->paths, (size_t)cap * sizeof *grown);
        if (!grown)
            return nl_fail(err, NL_ERR_NOMEM, "out of memory");
        fl->paths = grown;
        fl->cap = cap;
    }
    if (!(fl->paths[fl->n] = strdup(path)))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    fl->n++;
    return NL_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the entries of `dir` but . and .., sorted, into *out */
static nl_code dir_entries(const char *dir, file_list *out, nl_error *err)
{
    *out = (file_list){0};
    DIR *d = opendir(dir);
    if (!d)
        return nl_fail(err, NL_ERR_IO, "cannot read the directory %s: %s", dir, strerror(errno));
    struct dirent *e;
    nl_code rc = NL_OK;
    while (!rc && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            rc = file_list_add(out, e->d_name, err);
    closedir(d);
    if (rc)
        file_list_free(out);
    else if (out->n)
        qsort(out->paths, (size_t)out->n, sizeof *out->paths, compare_names);
    return rc;
}

/* live state a pack leaves out: the writer's marker, a sweep's claim */
static bool live_file(const char *rel)
{
    return !strcmp(rel, NL_RUN_MARKER) || !strcmp(rel, NL_RUN_WORKLOCK);
}

/* every regular file under run_dir/rel, recursively, into fl; anything
 * else (a FIFO, a device) refused: a pack holds files */
static nl_code list_run_files(const char *run_dir, const char *rel, file_list *fl, nl_error *err)
{
    char dir[1400];
    snprintf(dir, sizeof dir, "%s%s%s", run_dir, rel[0] ? "/" : "", rel);
    file_list names;
    nl_code rc = dir_entries(dir, &names, err);
    for (int i = 0; !rc && i < names.n; i++) {
        char sub[600], path[2000];
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", names.paths[i]);
        snprintf(path, sizeof path, "%s/%s", dir, names.paths[i]);
        struct stat st;
        if (lstat(path, &st) != 0)
            rc = nl_fail(err, NL_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        else if (S_ISDIR(st.st_mode))
            rc = list_run_files(run_dir, sub, fl, err);
        else if (!S_ISREG(st.st_mode))
            rc = nl_fail(err, NL_ERR_USAGE, "%s is %s, not a file: a pack holds a run's files; nothing was "
                         "written", path, nl_file_kind(st.st_mode));
        else if (!live_file(sub))
            rc = file_list_add(fl, sub, err);
    }
    file_list_free(&names);
    return rc;
}

/* a run that may go into a pack: finished, not being written, no checkpoint */
static nl_code check_run(const char *run_dir, nl_error *err)
{
    nl_run_writer w;
    if (nl_run_dir_busy(run_dir, &w))
        return nl_run_dir_busy_error(err, run_dir, &w);
    char path[1300];
    nl_path_join(path, sizeof path, run_dir, NL_CHECKPOINT_FILE);
    if (nl_path_exists(path))
        return nl_fail(err, NL_ERR_USAGE, "%s holds a checkpoint (an unfinished run that resumes from it); "
                       "nothing was packed: finish the sweep first", run_dir);
    const nl_summary_verdict v = nl_summary_read(run_dir, NULL);
    if (!nl_summary_finished(v))
        return nl_fail(err, NL_ERR_USAGE, "%s is not finished (its summary.json: %s); nothing was packed: "
                       "finish the sweep (normlab sweep resumes it) first", run_dir, nl_summary_verdict_name(v));
    return NL_OK;
}

/* ---- writing ---- */

/* the run texts a runs row keeps, each deflated against the sweep's first
 * run's text of the same name (its dictionary) */
static const char *const run_texts[] = {NL_RUN_CONFIG_FILE, NL_RUN_SUMMARY_FILE, NL_RUN_METRICS_FILE};
#define RUN_TEXTS ((int)(sizeof run_texts / sizeof *run_texts))

typedef struct {
    sqlite3 *db;
    const char *path;
    sqlite3_stmt *run, *file;
    char *dict[RUN_TEXTS]; /* the first run's texts */
    size_t dict_len[RUN_TEXTS];
} pack_writer;

static const char *const schema_sql =
    "CREATE TABLE normlab_pack(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE dictionaries(name TEXT PRIMARY KEY, body BLOB NOT NULL);"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, run TEXT NOT NULL UNIQUE, status TEXT, config BLOB, "
    "config_size INTEGER, summary BLOB, summary_size INTEGER, metrics BLOB, metrics_size INTEGER);"
    "CREATE TABLE files(run_id INTEGER NOT NULL REFERENCES runs(id), path TEXT NOT NULL, size INTEGER NOT NULL, "
    "body BLOB NOT NULL, PRIMARY KEY (run_id, path)) WITHOUT ROWID;";

static nl_code writer_begin(pack_writer *w, nl_error *err)
{
    if (sqlite3_open_v2(w->path, &w->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK || /* lint: the temporary made above */
        sqlite3_exec(w->db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN", NULL, NULL, NULL) ||
        sqlite3_exec(w->db, schema_sql, NULL, NULL, NULL) ||
        sqlite3_prepare_v2(w->db, "INSERT INTO runs VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &w->run, NULL) ||
        sqlite3_prepare_v2(w->db, "INSERT INTO files VALUES (?, ?, ?, ?)", -1, &w->file, NULL))
        return nl_store_sql_fail(err, w->path, w->db, "cannot write it");
    return NL_OK;
}

static void writer_end(pack_writer *w)
{
    sqlite3_finalize(w->run);
    sqlite3_finalize(w->file);
    sqlite3_close(w->db);
    for (int k = 0; k < RUN_TEXTS; k++)
        free(w->dict[k]);
    *w = (pack_writer){.path = w->path};
}

static nl_code step_done(pack_writer *w, sqlite3_stmt *st, nl_error *err)
{
    const int r = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return r == SQLITE_DONE ? NL_OK : nl_store_sql_fail(err, w->path, w->db, "cannot write it");
}

/* the sweep's dictionaries: the first run's texts (an empty one where it
 * has no such file), which the other runs' differ least from */
static nl_code writer_dictionaries(pack_writer *w, const char *first_run_dir, nl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(w->db, "INSERT INTO dictionaries VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return nl_store_sql_fail(err, w->path, w->db, "cannot write it");
    }
    nl_code rc = NL_OK;
    for (int k = 0; k < RUN_TEXTS && !rc; k++) {
        nl_error ignored = {0};
        if (first_run_dir)
            nl_run_file_read(first_run_dir, run_texts[k], &w->dict[k], &w->dict_len[k], &ignored);
        sqlite3_bind_text(st, 1, run_texts[k], -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 2, w->dict[k] ? w->dict[k] : "", w->dict_len[k], SQLITE_STATIC);
        rc = step_done(w, st, err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* the runs row of `run`: its three texts deflated, each with its length */
static nl_code insert_run(pack_writer *w, const char *run_dir, const char *run, sqlite3_int64 *id, nl_error *err)
{
    char *text[RUN_TEXTS] = {0};
    unsigned char *packed[RUN_TEXTS] = {0};
    nl_code rc = NL_OK;
    sqlite3_bind_text(w->run, 1, run, -1, SQLITE_STATIC);
    sqlite3_bind_text(w->run, 2, nl_summary_verdict_name(nl_summary_read(run_dir, NULL)), -1, SQLITE_TRANSIENT);
    for (int k = 0; k < RUN_TEXTS && !rc; k++) {
        size_t len = 0, packed_len = 0;
        nl_error ignored = {0};
        if (nl_run_file_read(run_dir, run_texts[k], &text[k], &len, &ignored) != NL_OK)
            continue; /* NULL: the run has no such file */
        rc = nl_store_deflate(text[k], len, w->dict[k], w->dict_len[k], &packed[k], &packed_len, err);
        if (!rc) {
            sqlite3_bind_blob64(w->run, 3 + 2 * k, packed[k], packed_len, SQLITE_STATIC);
            sqlite3_bind_int64(w->run, 4 + 2 * k, (sqlite3_int64)len);
        }
    }
    if (!rc)
        rc = step_done(w, w->run, err);
    sqlite3_clear_bindings(w->run); /* the deflated bytes are freed below */
    *id = sqlite3_last_insert_rowid(w->db);
    for (int k = 0; k < RUN_TEXTS; k++) {
        free(text[k]);
        free(packed[k]);
    }
    return rc;
}

/* whether `rel` is one of the texts a runs row keeps */
static bool run_text(const char *rel)
{
    for (int k = 0; k < RUN_TEXTS; k++)
        if (!strcmp(rel, run_texts[k]))
            return true;
    return false;
}

/* run `run`: its runs row and every other file into files */
static nl_code pack_run(pack_writer *w, const char *run_dir, const char *run, const file_list *fl,
                        nl_store_pack_report *rep, nl_error *err)
{
    sqlite3_int64 id;
    nl_code rc = insert_run(w, run_dir, run, &id, err);
    for (int i = 0; !rc && i < fl->n; i++) {
        const char *rel = fl->paths[i];
        if (run_text(rel))
            continue;
        char path[2000], *body = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", run_dir, rel);
        if ((rc = nl_read_file(path, &body, &len, err)))
            break;
        /* deflated where that is shorter, as an SQLite Archive keeps a file */
        unsigned char *packed = NULL;
        size_t packed_len = 0;
        rc = nl_store_deflate(body, len, NULL, 0, &packed, &packed_len, err);
        const bool deflated = !rc && packed_len < len;
        if (!rc) {
            sqlite3_bind_int64(w->file, 1, id);
            sqlite3_bind_text(w->file, 2, rel, -1, SQLITE_STATIC);
            sqlite3_bind_int64(w->file, 3, (sqlite3_int64)len);
            sqlite3_bind_blob64(w->file, 4, deflated ? (const void *)packed : (const void *)body,
                                deflated ? packed_len : len, SQLITE_STATIC);
            rc = step_done(w, w->file, err);
        }
        free(packed);
        free(body);
    }
    rep->files += fl->n;
    return rc;
}

/* ---- the runs ---- */

typedef struct {
    char sweep[1024];
    char runs_dir[1200];
    file_list runs;  /* the run directories' names */
    file_list *files; /* per run */
} pack_job;

static void job_free(pack_job *j)
{
    for (int i = 0; j->files && i < j->runs.n; i++)
        file_list_free(&j->files[i]);
    free(j->files);
    file_list_free(&j->runs);
}

static void run_dir_of(const pack_job *j, int i, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", j->runs_dir, j->runs.paths[i]);
}

/* every run directory, checked, with its files; with `finished` each one
 * must be a finished run */
static nl_code job_read(pack_job *j, bool finished, nl_store_pack_report *rep, nl_error *err)
{
    nl_code rc = nl_tree_refuse_links(j->runs_dir, err);
    if (!rc)
        rc = dir_entries(j->runs_dir, &j->runs, err);
    if (!rc && !(j->files = calloc((size_t)j->runs.n + 1, sizeof *j->files)))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < j->runs.n; i++) {
        char run_dir[1400];
        run_dir_of(j, i, run_dir, sizeof run_dir);
        if (!nl_is_dir(run_dir))
            rc = nl_fail(err, NL_ERR_USAGE, "%s is not a run directory (a sweep's runs/ holds one per run); "
                         "nothing was packed", run_dir);
        else if (!nl_run_name_ok(j->runs.paths[i]))
            rc = nl_fail(err, NL_ERR_USAGE, "%s: '%s' is not a run name; nothing was packed", j->runs_dir,
                         j->runs.paths[i]);
        if (!rc && finished)
            rc = check_run(run_dir, err);
        if (!rc)
            rc = list_run_files(run_dir, "", &j->files[i], err);
        for (int f = 0; !rc && f < j->files[i].n; f++) {
            char path[2000];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", run_dir, j->files[i].paths[f]);
            if (stat(path, &st) == 0)
                rep->bytes_in += st.st_size;
        }
    }
    return rc;
}

/* every run summary.csv names has its directory: a sweep whose runs are
 * all there (a run never started has none) */
static nl_code check_summary_runs(const pack_job *j, nl_error *err)
{
    nl_csv_table t;
    int status;
    nl_code rc = nl_sweep_summary_read(j->sweep, &t, &status, err);
    if (rc) {
        nl_error why = *err;
        *err = (nl_error){0};
        return nl_fail(err, NL_ERR_USAGE, "%s is not a sweep directory normlab can pack (%s); nothing was "
                       "written", j->sweep, why.msg);
    }
    for (int r = 0; !rc && r < t.n_rows; r++) {
        const char *name = t.rows[r][0];
        if (!bsearch(&name, j->runs.paths, (size_t)j->runs.n, sizeof *j->runs.paths, compare_names))
            rc = nl_fail(err, NL_ERR_USAGE, "%s/" NL_SWEEP_RUNS_DIR "/%s, a run of its summary.csv, is not there "
                         "(never started?); nothing was packed: finish the sweep first", j->sweep, name);
    }
    nl_csv_table_free(&t);
    return rc;
}

static nl_code insert_meta(pack_writer *w, const char *key, const char *value, nl_error *err)
{
    char *sql = sqlite3_mprintf("INSERT INTO normlab_pack VALUES (%Q, %Q)", key, value);
    const int r = sql ? sqlite3_exec(w->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return r == SQLITE_OK ? NL_OK : nl_store_sql_fail(err, w->path, w->db, "cannot write it");
}

/* the temporary `tmp`: made here (never through a link), then filled in
 * one transaction */
static nl_code write_pack(const pack_job *j, const char *tmp, nl_store_pack_report *rep, nl_error *err)
{
    int fd;
    nl_code rc = nl_open_write(tmp, O_WRONLY | O_CREAT | O_EXCL, &fd, err);
    if (rc)
        return rc;
    close(fd);
    pack_writer w = {.path = tmp};
    char version[32], count[32];
    snprintf(version, sizeof version, "%d", NL_STORE_SCHEMA_VERSION);
    snprintf(count, sizeof count, "%d", j->runs.n);
    rc = writer_begin(&w, err);
    if (!rc)
        rc = insert_meta(&w, "schema_version", version, err);
    if (!rc)
        rc = insert_meta(&w, "kind", NL_STORE_KIND, err);
    if (!rc)
        rc = insert_meta(&w, "runs", count, err);
    if (!rc)
        rc = insert_meta(&w, "normlab_version", NORMLAB_VERSION, err);
    char first_run[1400];
    if (j->runs.n)
        run_dir_of(j, 0, first_run, sizeof first_run);
    if (!rc)
        rc = writer_dictionaries(&w, j->runs.n ? first_run : NULL, err);
    for (int i = 0; !rc && i < j->runs.n; i++) {
        char run_dir[1400];
        run_dir_of(j, i, run_dir, sizeof run_dir);
        rc = pack_run(&w, run_dir, j->runs.paths[i], &j->files[i], rep, err);
        rep->runs += !rc;
    }
    /* VACUUM: every page filled again, the smallest file */
    if (!rc && (sqlite3_exec(w.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK ||
                sqlite3_exec(w.db, "VACUUM", NULL, NULL, NULL) != SQLITE_OK))
        rc = nl_store_sql_fail(err, tmp, w.db, "cannot write it");
    writer_end(&w);
    return rc;
}

static int count_file(const char *path, void *ctx)
{
    (void)path;
    (*(int *)ctx)++;
    return 0;
}

/* run i's files equal, byte for byte, to the pack's, which holds no other */
static nl_code verify_run(nl_store *s, const pack_job *j, int i, nl_error *err)
{
    const char *run = j->runs.paths[i];
    const file_list *fl = &j->files[i];
    int in_pack = 0;
    nl_code rc = nl_store_each_file(s, run, count_file, &in_pack, err);
    if (!rc && in_pack != fl->n)
        rc = nl_fail(err, NL_ERR_DATA, "%s: run %s has %d files in the pack, %d in its directory; the "
                     "directory was kept", s->path, run, in_pack, fl->n);
    for (int f = 0; !rc && f < fl->n; f++) {
        char path[2000], *disk = NULL, *packed = NULL;
        size_t disk_len = 0, packed_len = 0;
        snprintf(path, sizeof path, "%s/%s/%s", j->runs_dir, run, fl->paths[f]);
        rc = nl_read_file(path, &disk, &disk_len, err);
        if (!rc)
            rc = nl_store_read(s, run, fl->paths[f], &packed, &packed_len, err);
        if (!rc && (disk_len != packed_len || memcmp(disk, packed, disk_len) != 0))
            rc = nl_fail(err, NL_ERR_DATA, "%s: the pack's copy of %s differs from the file (%zu bytes, %zu "
                         "packed); the directory was kept", s->path, path, disk_len, packed_len);
        free(disk);
        free(packed);
    }
    return rc;
}

static nl_code verify_pack(const pack_job *j, const char *path, nl_error *err)
{
    nl_store *s = NULL;
    nl_code rc = nl_store_open_path(path, j->sweep, &s, err);
    for (int i = 0; !rc && i < j->runs.n; i++) {
        if (!nl_store_has_run(s, j->runs.paths[i]))
            rc = nl_fail(err, NL_ERR_USAGE, "%s/%s is not in %s; nothing was removed: `normlab export csv` "
                         "the pack into a new directory and pack that", j->runs_dir, j->runs.paths[i], path);
        if (!rc)
            rc = verify_run(s, j, i, err);
    }
    nl_store_free(s);
    return rc;
}

/* the directory of run i, its files removed (the pack holds them) and its
 * live files; a directory that is not empty then stays, named */
static nl_code remove_run(const pack_job *j, int i, nl_error *err)
{
    char run_dir[1400], path[2000];
    run_dir_of(j, i, run_dir, sizeof run_dir);
    const file_list *fl = &j->files[i];
    for (int f = 0; f < fl->n; f++) {
        snprintf(path, sizeof path, "%s/%s", run_dir, fl->paths[f]);
        unlink(path);
    }
    static const char *const live[] = {NL_RUN_MARKER, NL_RUN_WORKLOCK};
    for (size_t k = 0; k < sizeof live / sizeof *live; k++) {
        nl_path_join(path, sizeof path, run_dir, live[k]);
        unlink(path);
    }
    /* the subdirectories (eval/), deepest first */
    for (int f = fl->n - 1; f >= 0; f--) {
        snprintf(path, sizeof path, "%s/%s", run_dir, fl->paths[f]);
        for (char *slash = strrchr(path, '/'); slash && slash > path + strlen(run_dir);
             slash = strrchr(path, '/')) {
            *slash = '\0';
            rmdir(path);
        }
    }
    if (rmdir(run_dir) != 0)
        return nl_fail(err, NL_ERR_IO, "%s: its files are in the pack, but the directory could not be removed "
                       "(%s): something was added since?", run_dir, strerror(errno));
    return NL_OK;
}

static nl_code remove_runs(const pack_job *j, nl_error *err)
{
    nl_code rc = NL_OK;
    for (int i = 0; i < j->runs.n; i++) {
        nl_error one = {0};
        if (remove_run(j, i, &one) && !rc)
            rc = nl_fail(err, one.code, "%s", one.msg);
    }
    if (!rc && rmdir(j->runs_dir) != 0)
        rc = nl_fail(err, NL_ERR_IO, "%s: every run is packed, but it could not be removed: %s", j->runs_dir,
                     strerror(errno));
    return rc;
}

/* the temporary on disk (fsync), renamed to the pack's name, the rename on disk */
static nl_code publish(const pack_job *j, const char *tmp, const char *path, nl_error *err)
{
    int fd;
    nl_code rc = nl_open_regular(tmp, false, &fd, err);
    if (rc)
        return rc;
    const bool synced = fsync(fd) == 0;
    close(fd);
    if (!synced)
        return nl_fail(err, NL_ERR_IO, "cannot write %s to disk: %s", tmp, strerror(errno));
    if ((rc = nl_rename_into(tmp, path, err)))
        return rc;
    if ((rc = nl_dir_hold(j->sweep, false, &fd, err)))
        return rc;
    fsync(fd);
    close(fd);
    return NL_OK;
}

/* the sweep's lock, held while packing: no sweep runs meanwhile; -1 when
 * the sweep never made one */
static nl_code lock_sweep(const char *sweep, int *fd, bool *created, nl_error *err)
{
    char path[1200];
    nl_path_join(path, sizeof path, sweep, NL_SWEEP_LOCK);
    *created = !nl_path_exists(path);
    nl_code rc = nl_open_write(path, O_RDWR | O_CREAT, fd, err);
    if (rc) {
        *fd = -1;
        return rc;
    }
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return nl_fail(err, NL_ERR_USAGE, "a normlab sweep or pack is running %s (it holds %s); nothing was "
                       "packed: pack it once it has finished", sweep, path);
    }
    return NL_OK;
}

/* the lock let go, and removed where this pack made it */
static void unlock_sweep(const char *sweep, int fd, bool created)
{
    char path[1200];
    nl_path_join(path, sizeof path, sweep, NL_SWEEP_LOCK);
    if (fd >= 0 && created)
        unlink(path);
    if (fd >= 0)
        close(fd);
}

/* the temporaries of packs killed before their rename (PACK.tmp.PID of a
 * process gone): removed, under the sweep's lock */
static void remove_stale_temps(const char *sweep)
{
    file_list names;
    nl_error ignored = {0};
    if (dir_entries(sweep, &names, &ignored))
        return;
    static const char prefix[] = NL_SWEEP_PACK ".tmp.";
    for (int i = 0; i < names.n; i++) {
        const char *name = names.paths[i];
        int pid = 0;
        const bool temporary = !strncmp(name, prefix, sizeof prefix - 1) &&
                               nl_parse_int(name + sizeof prefix - 1, 1, INT_MAX, &pid);
        if (temporary && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char path[1400];
            nl_path_join(path, sizeof path, sweep, name);
            unlink(path);
        }
    }
    file_list_free(&names);
}

static nl_code pack_new(pack_job *j, nl_store_pack_report *rep, nl_error *err)
{
    nl_code rc = job_read(j, true, rep, err);
    if (!rc)
        rc = check_summary_runs(j, err);
    if (rc)
        return rc;
    char path[1200], tmp[1300];
    nl_store_path(j->sweep, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    rc = write_pack(j, tmp, rep, err);
    if (!rc)
        rc = verify_pack(j, tmp, err);
    if (!rc)
        rc = publish(j, tmp, path, err);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    struct stat st;
    rep->bytes_out = stat(path, &st) == 0 ? st.st_size : 0;
    return remove_runs(j, err);
}

nl_code nl_store_pack(const char *sweep_dir, nl_store_pack_report *rep, nl_error *err)
{
    memset(rep, 0, sizeof *rep);
    pack_job j = {0};
    nl_copy_string(j.sweep, sizeof j.sweep, sweep_dir);
    for (size_t n = strlen(j.sweep); n > 1 && j.sweep[n - 1] == '/';)
        j.sweep[--n] = '\0';
    nl_path_join(j.runs_dir, sizeof j.runs_dir, j.sweep, NL_SWEEP_RUNS_DIR);
    const bool packed = nl_store_present(j.sweep);
    if (!nl_is_dir(j.runs_dir))
        return nl_fail(err, NL_ERR_USAGE, packed ? "%s is packed already (" NL_SWEEP_PACK "); nothing was written"
                                                 : "%s is not a sweep directory (no runs/ in it); nothing was written",
                       j.sweep);
    int lock_fd;
    bool lock_created;
    nl_code rc = lock_sweep(j.sweep, &lock_fd, &lock_created, err);
    if (rc)
        return rc;
    remove_stale_temps(j.sweep);
    if (packed) { /* a pack killed between its rename and the last removal */
        char path[1200];
        nl_store_path(j.sweep, path, sizeof path);
        rep->resumed = true;
        rc = job_read(&j, false, rep, err);
        if (!rc)
            rc = verify_pack(&j, path, err);
        if (!rc)
            rc = remove_runs(&j, err);
        rep->runs = rc ? 0 : j.runs.n;
    } else {
        rc = pack_new(&j, rep, err);
    }
    unlock_sweep(j.sweep, lock_fd, lock_created);
    job_free(&j);
    return rc;
}
