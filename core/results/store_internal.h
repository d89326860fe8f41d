/* What store.c (reading a pack) and store_pack.c (writing one) share. */
#ifndef NL_RESULTS_STORE_INTERNAL_H
#define NL_RESULTS_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "log/files.h"
#include "results/metrics.h"

/* results/store.h's handle (a typedef repeated: C11 allows it) */
typedef struct nl_store nl_store;

struct nl_store {
    char sweep[1024];
    char path[1200];
    sqlite3 *db;
    int schema; /* the pack's schema_version */
    /* schema 2's dictionaries (config.yaml's, summary.json's, metrics.csv's),
     * read once */
    bool dict_read[3];
    unsigned char *dict[3];
    size_t dict_len[3];
    /* the queries of one run's texts, prepared once (store.c's store_stmt) */
    const char *stmt_sql[12];
    struct sqlite3_stmt *stmts[12];
    int n_stmts;
};

/* the dictionary of `name` (NL_RUN_CONFIG_FILE, NL_RUN_SUMMARY_FILE or
 * NL_RUN_METRICS_FILE); an
 * empty one (NULL, 0) where the pack has none */
nl_code nl_store_dictionary(nl_store *s, const char *name, const void **dict, size_t *len, nl_error *err);

/* ---- the compressed values of schema 2 (store_zip.c) ---- */
/* the zlib stream of `data` deflated against `dict` (NULL: none), malloc'd */
nl_code nl_store_deflate(const void *data, size_t len, const void *dict, size_t dict_len, unsigned char **out,
                         size_t *out_len, nl_error *err);
/* the `size` bytes a zlib stream inflates to (against `dict` where the
 * stream asks for one), malloc'd and NUL-ended; NL_ERR_DATA naming `what`
 * when it is not a whole stream of exactly that length */
nl_code nl_store_inflate(const void *data, size_t len, const void *dict, size_t dict_len, size_t size, char **out,
                         const char *what, nl_error *err);

/* opens and checks the pack at `path` (of sweep `sweep_dir`), not kept
 * for the process: nl_store_free closes it */
nl_code nl_store_open_path(const char *path, const char *sweep_dir, nl_store **out, nl_error *err);
void nl_store_free(nl_store *s);
/* NL_ERR_DATA naming the pack and what SQLite says, after `what` */
nl_code nl_store_sql_fail(nl_error *err, const char *path, sqlite3 *db, const char *what);

/* schema 1's metrics table: each column of metrics.csv's header (its
 * index in nl_metrics_columns) and its print format, one letter and a
 * count: g (the shortest text reading back as the number), f (that many
 * decimals), t (the text) */
typedef struct {
    int n_cols;
    int col[NL_METRICS_COLUMN_COUNT];
    char kind[NL_METRICS_COLUMN_COUNT];
    int decimals[NL_METRICS_COLUMN_COUNT];
} nl_store_metrics_layout;

/* metrics.csv's text again from the metrics rows of `run` */
nl_code nl_store_metrics_text(nl_store *s, const char *run, const char *header, const char *format, nl_buf *out,
                              nl_error *err);

#endif
