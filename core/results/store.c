/* Reading a sweep's pack (store.h): opening and checking it, a run's file
 * out of it byte for byte, and a run directory's path taken to its pack. */
#include "results/store.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/number.h"
#include "results/files.h"
#include "results/store_internal.h"

/* the packs this process has open (a report reads several sweeps) */
#define STORE_CACHE 16
static nl_store *open_stores[STORE_CACHE];

void nl_store_path(const char *sweep_dir, char *out, size_t size)
{
    nl_path_join(out, size, sweep_dir, NL_SWEEP_PACK);
}

bool nl_store_present(const char *sweep_dir)
{
    char path[1200];
    struct stat st;
    nl_store_path(sweep_dir, path, sizeof path);
    return path[0] && lstat(path, &st) == 0;
}

nl_code nl_store_sql_fail(nl_error *err, const char *path, sqlite3 *db, const char *what)
{
    return nl_fail(err, NL_ERR_DATA, "%s: %s: %s (a normlab pack is written whole or not at all; this one "
                   "is damaged or not normlab's: `normlab export csv` cannot read it either)",
                   path, what, db ? sqlite3_errmsg(db) : "cannot open");
}

/* a regular file (not a link, FIFO, directory) that begins as SQLite does */
static nl_code check_file(const char *path, nl_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return nl_fail(err, NL_ERR_DATA, "%s: cannot read it: %s", path, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return nl_fail(err, NL_ERR_DATA, "%s is a symbolic link; a sweep's pack is read only as a file of "
                       "its own: copy the file there instead", path);
    int fd;
    nl_code rc = nl_open_regular(path, false, &fd, err);
    if (rc)
        return rc;
    unsigned char head[100] = {0};
    const ssize_t got = read(fd, head, sizeof head);
    close(fd);
    if (got != (ssize_t)sizeof head || memcmp(head, "SQLite format 3", 16) != 0)
        return nl_fail(err, NL_ERR_DATA, "%s is not an SQLite file (%s); a sweep's pack is the one file "
                       "`normlab pack` writes", path, got < (ssize_t)sizeof head ? "shorter than its header"
                                                                                  : "no SQLite header");
    /* the header's page size and page count (valid where its change counter
     * equals its version-valid-for number, as SQLite writes them) */
    const unsigned page_size = head[16] << 8 | head[17];
    const unsigned long long pages = (unsigned long long)head[28] << 24 | head[29] << 16 | head[30] << 8 | head[31];
    const long long want = (long long)(page_size == 1 ? 65536u : page_size) * (long long)pages;
    if (!memcmp(head + 24, head + 92, 4) && (long long)st.st_size < want)
        return nl_fail(err, NL_ERR_DATA, "%s is cut short: %lld bytes of its %lld (a copy that stopped part "
                       "way?); nothing was read from it", path, (long long)st.st_size, want);
    return NL_OK;
}

/* a single value of `sql` as text into buf; false when there is none */
static bool query_text(sqlite3 *db, const char *sql, char *buf, size_t size)
{
    sqlite3_stmt *st = NULL;
    bool got = false;
    buf[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(buf, size, "%s", t ? (const char *)t : "");
        got = true;
    }
    sqlite3_finalize(st);
    return got;
}

/* whole (every page there: a copy cut short is refused before a read of
 * its missing pages), sound by SQLite's quick check, and normlab's pack of
 * a schema this normlab reads */
static nl_code check_pack(sqlite3 *db, const char *path, int *schema, nl_error *err)
{
    char page_count[32], page_size[32], value[256];
    struct stat st;
    if (!query_text(db, "PRAGMA page_count", page_count, sizeof page_count) ||
        !query_text(db, "PRAGMA page_size", page_size, sizeof page_size) || stat(path, &st) != 0)
        return nl_store_sql_fail(err, path, db, "cannot read its size");
    long long pages = 0, page_bytes = 0;
    if (!nl_parse_ll(page_count, 0, LLONG_MAX / 65536, &pages) ||
        !nl_parse_ll(page_size, 1, 65536, &page_bytes))
        return nl_store_sql_fail(err, path, db, "cannot read its size");
    const long long want = pages * page_bytes;
    if ((long long)st.st_size < want)
        return nl_fail(err, NL_ERR_DATA, "%s is cut short: %lld bytes of its %lld (a copy that stopped part "
                       "way?); nothing was read from it", path, (long long)st.st_size, want);
    if (!query_text(db, "PRAGMA quick_check", value, sizeof value) || strcmp(value, "ok") != 0)
        return nl_fail(err, NL_ERR_DATA, "%s is damaged: SQLite's check says %s", path,
                       value[0] ? value : sqlite3_errmsg(db));
    if (!query_text(db, "SELECT value FROM normlab_pack WHERE key = 'kind'", value, sizeof value) ||
        strcmp(value, NL_STORE_KIND) != 0)
        return nl_fail(err, NL_ERR_DATA, "%s is an SQLite file but not a normlab sweep's pack (no "
                       "normlab_pack table saying '" NL_STORE_KIND "')", path);
    if (!query_text(db, "SELECT value FROM normlab_pack WHERE key = 'schema_version'", value, sizeof value))
        return nl_fail(err, NL_ERR_DATA, "%s: its normlab_pack table has no schema_version", path);
    long long version = 0;
    if (!nl_parse_ll(value, 1, LLONG_MAX, &version))
        return nl_fail(err, NL_ERR_DATA, "%s: schema_version '%s' is not a version", path, value);
    if (version > NL_STORE_SCHEMA_VERSION)
        return nl_fail(err, NL_ERR_DATA, "%s is a pack of schema %lld, newer than this normlab reads (%d): "
                       "read it with the normlab that wrote it", path, version, NL_STORE_SCHEMA_VERSION);
    *schema = (int)version;
    return NL_OK;
}

/* file:PATH?immutable=1, the path's %, ? and # escaped: a pack is written
 * once (a temporary renamed into place), so the reader takes no lock and
 * writes nothing beside it (no journal, no -wal) */
static void store_uri(const char *path, char *uri, size_t size)
{
    size_t n = (size_t)snprintf(uri, size, "file:");
    for (const char *p = path; *p && n + 4 < size; p++)
        n += *p == '%' || *p == '?' || *p == '#' ? (size_t)snprintf(uri + n, size - n, "%%%02X", (unsigned char)*p)
                                                 : (size_t)snprintf(uri + n, size - n, "%c", *p);
    snprintf(uri + n, size - n, "?immutable=1");
}

/* every run's three texts inflated once (tens of milliseconds for
 * thousands of runs): a pack whose compressed bytes were changed is
 * refused before any reader takes a value from it, as one cut short is */
static nl_code check_texts(nl_store *s, nl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT run, config, config_size, summary, summary_size, metrics, metrics_size "
                           "FROM runs", -1, &st, NULL) != SQLITE_OK)
        return nl_store_sql_fail(err, s->path, s->db, "cannot read its runs");
    static const char *const names[] = {NL_RUN_CONFIG_FILE, NL_RUN_SUMMARY_FILE, NL_RUN_METRICS_FILE};
    nl_code rc = NL_OK;
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        for (int k = 0; k < 3 && !rc; k++) {
            const int at = 1 + 2 * k;
            if (sqlite3_column_type(st, at) == SQLITE_NULL)
                continue;
            const void *dict = NULL;
            size_t dict_len = 0;
            char what[1600], *text = NULL;
            const sqlite3_int64 size = sqlite3_column_int64(st, at + 1);
            snprintf(what, sizeof what, "%s: %s of run %s", s->path, names[k], (const char *)sqlite3_column_text(st, 0));
            if (sqlite3_column_type(st, at + 1) != SQLITE_INTEGER || size < 0)
                rc = nl_fail(err, NL_ERR_DATA, "%s: its recorded size is not a size (a normlab pack is written "
                             "whole; this one was changed since)", what);
            if (!rc)
                rc = nl_store_dictionary(s, names[k], &dict, &dict_len, err);
            if (!rc)
                rc = nl_store_inflate(sqlite3_column_blob(st, at), (size_t)sqlite3_column_bytes(st, at), dict,
                                      dict_len, (size_t)size, &text, what, err);
            free(text);
        }
    if (!rc && step != SQLITE_DONE)
        rc = nl_store_sql_fail(err, s->path, s->db, "cannot read its runs");
    sqlite3_finalize(st);
    return rc;
}

nl_code nl_store_open_path(const char *path, const char *sweep_dir, nl_store **out, nl_error *err)
{
    nl_store *s = calloc(1, sizeof *s);
    if (!s)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    nl_copy_string(s->sweep, sizeof s->sweep, sweep_dir);
    nl_copy_string(s->path, sizeof s->path, path);
    char uri[4 * sizeof s->path]; /* every byte escaped, three for one */
    store_uri(s->path, uri, sizeof uri);
    nl_code rc = check_file(s->path, err);
    if (!rc && sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK)
        rc = nl_store_sql_fail(err, s->path, s->db, "cannot open it");
    if (!rc)
        rc = check_pack(s->db, s->path, &s->schema, err);
    if (!rc && s->schema >= 2)
        rc = check_texts(s, err);
    if (rc) {
        nl_store_free(s);
        return rc;
    }
    *out = s;
    return NL_OK;
}

void nl_store_free(nl_store *s)
{
    if (s) {
        for (int i = 0; i < s->n_stmts; i++)
            sqlite3_finalize(s->stmts[i]);
        sqlite3_close(s->db);
        for (int k = 0; k < 3; k++)
            free(s->dict[k]);
        free(s);
    }
}

nl_code nl_store_open(const char *sweep_dir, nl_store **store, nl_error *err)
{
    *store = NULL;
    int free_slot = -1;
    for (int i = 0; i < STORE_CACHE; i++) {
        if (open_stores[i] && !strcmp(open_stores[i]->sweep, sweep_dir)) {
            *store = open_stores[i];
            return NL_OK;
        }
        if (!open_stores[i] && free_slot < 0)
            free_slot = i;
    }
    char path[1200];
    nl_store_path(sweep_dir, path, sizeof path);
    nl_code rc = nl_store_open_path(path, sweep_dir, store, err);
    if (rc)
        return rc;
    if (free_slot < 0) { /* the oldest goes */
        nl_store_free(open_stores[0]);
        memmove(open_stores, open_stores + 1, (STORE_CACHE - 1) * sizeof *open_stores);
        free_slot = STORE_CACHE - 1;
    }
    open_stores[free_slot] = *store;
    return NL_OK;
}

/* ---- a run's files ---- */

/* the value of `sql`'s one row bound to run (and file) into *text: column
 * 0 as it is, or, where the row has a size in column 1 (schema 2), column
 * 0 inflated to it against `dict_file`'s dictionary (a run's config and
 * summary) or against none (files: there the bytes as they are where they
 * are as long as the size); NL_ERR_IO when there is no row or the value is
 * NULL */
/* A query of this pack's (sql a literal), prepared once and kept: a page
 * of a big sweep reads three texts of each of thousands of runs, and
 * preparing the query again each time took an eighth of `compare`'s time
 * (issue 118). Given back by stmt_done. NULL where it cannot be prepared. */
static sqlite3_stmt *store_stmt(nl_store *s, const char *sql)
{
    for (int i = 0; i < s->n_stmts; i++)
        if (s->stmt_sql[i] == sql || !strcmp(s->stmt_sql[i], sql))
            return s->stmts[i];
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    const int cap = (int)(sizeof s->stmts / sizeof s->stmts[0]);
    if (s->n_stmts < cap) {
        s->stmt_sql[s->n_stmts] = sql;
        s->stmts[s->n_stmts++] = st;
    }
    return st;
}

/* a statement of store_stmt's ready for its next use (its bound texts,
 * the caller's, let go), or finalized where it was not kept */
static void stmt_done(nl_store *s, sqlite3_stmt *st)
{
    for (int i = 0; i < s->n_stmts; i++)
        if (s->stmts[i] == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return;
        }
    sqlite3_finalize(st);
}

static nl_code query_blob(nl_store *s, const char *sql, const char *dict_file, const char *run, const char *file,
                          char **text, size_t *len, nl_error *err)
{
    sqlite3_stmt *st = store_stmt(s, sql);
    if (!st)
        return nl_store_sql_fail(err, s->path, s->db, "cannot read it");
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    if (file)
        sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
    const int step = sqlite3_step(st);
    nl_code rc = NL_OK;
    if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const void *data = sqlite3_column_blob(st, 0);
        const size_t n = (size_t)sqlite3_column_bytes(st, 0);
        const bool sized = sqlite3_column_count(st) > 1;
        const sqlite3_int64 size = sized ? sqlite3_column_int64(st, 1) : (sqlite3_int64)n;
        char what[1600];
        snprintf(what, sizeof what, "%s: %s of run %s", s->path, file ? file : dict_file, run);
        if (size < 0 || (sized && sqlite3_column_type(st, 1) != SQLITE_INTEGER)) {
            rc = nl_fail(err, NL_ERR_DATA, "%s: its recorded size is not a size (a normlab pack is written "
                         "whole; this one was changed since)", what);
        } else if (sized && (dict_file || (size_t)size != n)) {
            const void *dict = NULL;
            size_t dict_len = 0;
            rc = dict_file ? nl_store_dictionary(s, dict_file, &dict, &dict_len, err) : NL_OK;
            if (!rc)
                rc = nl_store_inflate(data, n, dict, dict_len, (size_t)size, text, what, err);
            if (!rc && len)
                *len = (size_t)size;
        } else if (!(*text = malloc(n + 1))) {
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
        } else {
            if (n)
                memcpy(*text, data, n);
            (*text)[n] = '\0';
            if (len)
                *len = n;
        }
    } else if (step == SQLITE_ROW || step == SQLITE_DONE) {
        rc = nl_fail(err, NL_ERR_IO, "%s/" NL_SWEEP_RUNS_DIR "/%s/%s: no such file in %s", s->sweep, run,
                     file ? file : dict_file, s->path);
    } else {
        rc = nl_store_sql_fail(err, s->path, s->db, "cannot read it");
    }
    stmt_done(s, st);
    return rc;
}

/* a row of files: its body, inflated where it is compressed (schema 2) */
static nl_code read_file_row(nl_store *s, const char *run, const char *file, char **text, size_t *len,
                             nl_error *err)
{
    return query_blob(s,
                      s->schema < 2 ? "SELECT body FROM files WHERE run_id = (SELECT id FROM runs WHERE run = ?) AND path = ?"
                                    : "SELECT body, size FROM files WHERE run_id = (SELECT id FROM runs WHERE run = ?) AND path = ?",
                      NULL, run, file, text, len, err);
}

nl_code nl_store_dictionary(nl_store *s, const char *name, const void **dict, size_t *len, nl_error *err)
{
    const int k = !strcmp(name, NL_RUN_CONFIG_FILE) ? 0 : !strcmp(name, NL_RUN_SUMMARY_FILE) ? 1 : 2;
    if (!s->dict_read[k]) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, "SELECT body FROM dictionaries WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
            return nl_store_sql_fail(err, s->path, s->db, "cannot read its dictionaries");
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        nl_code rc = NL_OK;
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            const size_t n = (size_t)sqlite3_column_bytes(st, 0);
            if (!(s->dict[k] = malloc(n ? n : 1)))
                rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
            else if (n)
                memcpy(s->dict[k], sqlite3_column_blob(st, 0), n);
            s->dict_len[k] = n;
        }
        sqlite3_finalize(st);
        if (rc)
            return rc;
        s->dict_read[k] = true;
    }
    *dict = s->dict[k];
    *len = s->dict_len[k];
    return NL_OK;
}

/* schema 1's metrics.csv: made again from its rows, or kept whole in files */
static nl_code read_metrics(nl_store *s, const char *run, char **text, size_t *len, nl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT metrics_header, metrics_format FROM runs WHERE run = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return nl_store_sql_fail(err, s->path, s->db, "cannot read it");
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    nl_code rc = NL_OK;
    bool rows = false;
    nl_buf b = {0};
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        rows = true;
        rc = nl_store_metrics_text(s, run, (const char *)sqlite3_column_text(st, 0),
                                   (const char *)sqlite3_column_text(st, 1), &b, err);
    }
    sqlite3_finalize(st);
    if (!rows)
        return read_file_row(s, run, NL_RUN_METRICS_FILE, text, len, err);
    if (!rc && b.failed)
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory");
    if (rc) {
        nl_buf_free(&b);
        return rc;
    }
    if (!b.data && !(b.data = calloc(1, 1)))
        return nl_fail(err, NL_ERR_NOMEM, "out of memory");
    *text = b.data;
    if (len)
        *len = b.len;
    return NL_OK;
}

nl_code nl_store_read(nl_store *s, const char *run, const char *file, char **text, size_t *len, nl_error *err)
{
    *text = NULL;
    const bool v1 = s->schema < 2;
    if (!strcmp(file, NL_RUN_CONFIG_FILE))
        return query_blob(s, v1 ? "SELECT config FROM runs WHERE run = ?" : "SELECT config, config_size FROM runs WHERE run = ?",
                          NL_RUN_CONFIG_FILE, run, NULL, text, len, err);
    if (!strcmp(file, NL_RUN_SUMMARY_FILE))
        return query_blob(s, v1 ? "SELECT summary FROM runs WHERE run = ?" : "SELECT summary, summary_size FROM runs WHERE run = ?",
                          NL_RUN_SUMMARY_FILE, run, NULL, text, len, err);
    if (!strcmp(file, NL_RUN_METRICS_FILE))
        return v1 ? read_metrics(s, run, text, len, err)
                  : query_blob(s, "SELECT metrics, metrics_size FROM runs WHERE run = ?", NL_RUN_METRICS_FILE, run,
                               NULL, text, len, err);
    return read_file_row(s, run, file, text, len, err);
}

/* the count `sql` gives for run (and file) */
static long long query_count(nl_store *s, const char *sql, const char *run, const char *file)
{
    sqlite3_stmt *st = store_stmt(s, sql);
    long long n = 0;
    if (st) {
        sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
        if (file)
            sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        stmt_done(s, st);
    }
    return n;
}

bool nl_store_has(nl_store *s, const char *run, const char *file)
{
    if (!strcmp(file, NL_RUN_CONFIG_FILE))
        return query_count(s, "SELECT count(*) FROM runs WHERE run = ? AND config IS NOT NULL", run, NULL) > 0;
    if (!strcmp(file, NL_RUN_SUMMARY_FILE))
        return query_count(s, "SELECT count(*) FROM runs WHERE run = ? AND summary IS NOT NULL", run, NULL) > 0;
    if (!strcmp(file, NL_RUN_METRICS_FILE) &&
        query_count(s, s->schema < 2 ? "SELECT count(*) FROM runs WHERE run = ? AND metrics_header IS NOT NULL"
                                     : "SELECT count(*) FROM runs WHERE run = ? AND metrics IS NOT NULL",
                    run, NULL) > 0)
        return true;
    return query_count(s, "SELECT count(*) FROM files WHERE run_id = (SELECT id FROM runs WHERE run = ?) AND path = ?", run, file) > 0;
}

bool nl_store_has_run(nl_store *s, const char *run)
{
    return query_count(s, "SELECT count(*) FROM runs WHERE run = ?", run, NULL) > 0;
}

/* calls visit with column 0 of each row of `sql` (bound to run when given) */
static nl_code each_row(nl_store *s, const char *sql, const char *run, nl_store_visit visit, void *ctx,
                        nl_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return nl_store_sql_fail(err, s->path, s->db, "cannot read it");
    if (run)
        sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (visit((const char *)sqlite3_column_text(st, 0), ctx))
            break;
    const nl_code rc = step == SQLITE_ROW || step == SQLITE_DONE ? NL_OK
                                                                 : nl_store_sql_fail(err, s->path, s->db, "cannot read it");
    sqlite3_finalize(st);
    return rc;
}

nl_code nl_store_each_run(nl_store *s, nl_store_visit visit, void *ctx, nl_error *err)
{
    return each_row(s, "SELECT run FROM runs ORDER BY run", NULL, visit, ctx, err);
}

nl_code nl_store_each_file(nl_store *s, const char *run, nl_store_visit visit, void *ctx, nl_error *err)
{
    return each_row(s,
                    s->schema < 2
                        ? "SELECT path FROM (SELECT '" NL_RUN_CONFIG_FILE "' AS path FROM runs WHERE run = ?1 AND "
                          "config IS NOT NULL UNION ALL SELECT '" NL_RUN_SUMMARY_FILE "' FROM runs WHERE run = ?1 AND "
                          "summary IS NOT NULL UNION ALL SELECT '" NL_RUN_METRICS_FILE "' FROM runs WHERE run = ?1 AND "
                          "metrics_header IS NOT NULL UNION ALL SELECT path FROM files WHERE run_id = (SELECT id FROM "
                          "runs WHERE run = ?1)) ORDER BY path"
                        : "SELECT path FROM (SELECT '" NL_RUN_CONFIG_FILE "' AS path FROM runs WHERE run = ?1 AND "
                          "config IS NOT NULL UNION ALL SELECT '" NL_RUN_SUMMARY_FILE "' FROM runs WHERE run = ?1 AND "
                          "summary IS NOT NULL UNION ALL SELECT '" NL_RUN_METRICS_FILE "' FROM runs WHERE run = ?1 AND "
                          "metrics IS NOT NULL UNION ALL SELECT path FROM files WHERE run_id = (SELECT id FROM runs "
                          "WHERE run = ?1)) ORDER BY path",
                    run, visit, ctx, err);
}

/* ---- a run directory's path ---- */

/* SWEEP and RUN of a path SWEEP/runs/RUN that is no directory; false
 * for another path */
static bool split_run_path(const char *run_dir, char *sweep, size_t sweep_size, char *run, size_t run_size)
{
    if (nl_is_dir(run_dir))
        return false;
    char path[1200];
    nl_copy_string(path, sizeof path, run_dir);
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash || !slash[1])
        return false;
    nl_copy_string(run, run_size, slash + 1);
    *slash = '\0';
    const char *runs = strrchr(path, '/');
    if (strcmp(runs ? runs + 1 : path, NL_SWEEP_RUNS_DIR) != 0)
        return false;
    if (runs)
        path[runs - path > 0 ? runs - path : 1] = '\0';
    nl_copy_string(sweep, sweep_size, runs ? path : ".");
    return true;
}

bool nl_run_packed(const char *run_dir, char *sweep_out, size_t sweep_size, char *run_out, size_t run_size)
{
    char sweep[1200], run[256];
    if (!split_run_path(run_dir, sweep, sizeof sweep, run, sizeof run))
        return false;
    nl_store *s;
    nl_error ignored = {0};
    if (!nl_store_present(sweep) || nl_store_open(sweep, &s, &ignored) != NL_OK || !nl_store_has_run(s, run))
        return false;
    if (sweep_out)
        nl_copy_string(sweep_out, sweep_size, sweep);
    if (run_out)
        nl_copy_string(run_out, run_size, run);
    return true;
}

nl_code nl_run_pack_check(const char *run_dir, bool *packed, nl_error *err)
{
    char sweep[1200], run[256];
    *packed = false;
    if (!split_run_path(run_dir, sweep, sizeof sweep, run, sizeof run) || !nl_store_present(sweep))
        return NL_OK;
    nl_store *s;
    nl_code rc = nl_store_open(sweep, &s, err);
    if (rc)
        return rc;
    if (!nl_store_has_run(s, run))
        return nl_fail(err, NL_ERR_USAGE, "%s: the sweep %s is packed and %s holds no run '%s'", run_dir, sweep,
                       s->path, run);
    *packed = true;
    return NL_OK;
}

nl_code nl_run_file_read(const char *run_dir, const char *file, char **text, size_t *len, nl_error *err)
{
    char sweep[1200], run[256];
    if (!nl_run_packed(run_dir, sweep, sizeof sweep, run, sizeof run)) {
        char path[1400];
        nl_path_join(path, sizeof path, run_dir, file);
        return nl_read_file(path, text, len, err);
    }
    nl_store *s;
    const nl_code rc = nl_store_open(sweep, &s, err);
    return rc ? rc : nl_store_read(s, run, file, text, len, err);
}

bool nl_run_file_exists(const char *run_dir, const char *file)
{
    char sweep[1200], run[256];
    if (!nl_run_packed(run_dir, sweep, sizeof sweep, run, sizeof run)) {
        char path[1400];
        nl_path_join(path, sizeof path, run_dir, file);
        return nl_path_exists(path);
    }
    nl_store *s;
    nl_error ignored = {0};
    return nl_store_open(sweep, &s, &ignored) == NL_OK && nl_store_has(s, run, file);
}

bool nl_run_exists(const char *run_dir)
{
    char sweep[1200], run[256];
    return nl_is_dir(run_dir) || nl_run_packed(run_dir, sweep, sizeof sweep, run, sizeof run);
}

nl_code nl_run_csv_read(const char *run_dir, const char *file, nl_csv_table *t, nl_error *err)
{
    char path[1400], *text = NULL;
    nl_path_join(path, sizeof path, run_dir, file);
    if (!nl_run_packed(run_dir, NULL, 0, NULL, 0))
        return nl_csv_table_read(path, t, err);
    nl_code rc = nl_run_file_read(run_dir, file, &text, NULL, err);
    if (!rc)
        rc = nl_csv_table_parse(text, path, t, err);
    free(text);
    return rc;
}
