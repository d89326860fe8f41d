/* A finished sweep's runs in one SQLite file (issue 115): SWEEP/runs.sqlite
 * (NL_SWEEP_PACK) holds what SWEEP/runs/RUN/ held, every byte, and every
 * reader reads a run inside it by the run directory's path as before.
 *
 * A sweep writes run directories while it runs (each its own process, its
 * own lock, resumable bit for bit after kill -9); `normlab pack SWEEP` turns
 * a finished sweep's runs/ into the one file: one transaction into a
 * temporary beside it, read back and compared byte for byte with every file
 * it replaces, fsync'd and renamed into place, and only then the run
 * directories removed. A pack killed part way leaves the directories (and at
 * worst a temporary to delete); packing again after a kill between the
 * rename and the last removal compares the directories still there with the
 * pack and removes them. `normlab export csv SWEEP --out DIR` writes the
 * run directories back.
 *
 * The schema (NL_STORE_SCHEMA_VERSION 2; packs of schema 1 are read too),
 * opened without normlab by the sqlite3 shell, pandas and DuckDB:
 *   normlab_pack(key, value): schema_version, kind, runs, normlab_version
 *   dictionaries(name, body): 'config.yaml', 'summary.json' and
 *     'metrics.csv', the sweep's first run's files, which every run's copy
 *     is deflated against (a zlib preset dictionary: a resolved config
 *     differs from its neighbour's in a seed and a name, so it packs into
 *     tens of bytes)
 *   runs(id, run, status, config, config_size, summary, summary_size,
 *     metrics, metrics_size): the run's status as summary.json gives it;
 *     config.yaml, summary.json and metrics.csv, each a zlib stream against
 *     the dictionary of its name with its length (NULL where the run had no
 *     such file). Python: zlib.decompressobj(zdict=body).decompress(blob)
 *   files(run_id, path, size, body): every other file of the run (series.csv,
 *     trace.csv, eval/..., a final model), as an SQLite Archive keeps a file:
 *     a zlib stream where that is shorter than size, else the bytes (the
 *     shell's sqlar_uncompress(body, size) reads either)
 * Schema 1 kept config and summary as TEXT, metrics.csv's rows as numbers
 * in a metrics table, and files without size. */
#ifndef NL_RESULTS_STORE_H
#define NL_RESULTS_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "results/table.h"

#define NL_STORE_SCHEMA_VERSION 2
#define NL_STORE_KIND "normlab sweep runs"

typedef struct nl_store nl_store;

/* Opens SWEEP_DIR's pack read-only and checks it: a regular file (not a
 * link), whole (its pages all there), SQLite, normlab's kind and a schema
 * this normlab reads. NL_ERR_DATA naming the file and what is wrong. The
 * handle is kept for the process (later calls for the same sweep return it;
 * a pack is written once, so it stays true); the 16 most recent are kept,
 * so a caller uses it before it opens another sweep's. */
nl_code nl_store_open(const char *sweep_dir, nl_store **store, nl_error *err);
/* whether SWEEP_DIR has a pack (a file at its name, whatever it holds) */
bool nl_store_present(const char *sweep_dir);
/* the pack's path */
void nl_store_path(const char *sweep_dir, char *out, size_t size);

/* The text of `file` (a run directory's relative path: "metrics.csv",
 * "eval/evals.csv") of run `run` as the run directory held it, malloc'd
 * (NUL-terminated, *len its length when len is non-NULL). NL_ERR_IO when
 * the run did not have it; NL_ERR_DATA when the pack cannot be read. */
nl_code nl_store_read(nl_store *store, const char *run, const char *file, char **text, size_t *len,
                      nl_error *err);
bool nl_store_has(nl_store *store, const char *run, const char *file);
/* whether the pack holds run `run` */
bool nl_store_has_run(nl_store *store, const char *run);
/* the runs, in name order: calls visit for each; stops at a non-zero return */
typedef int (*nl_store_visit)(const char *run, void *ctx);
nl_code nl_store_each_run(nl_store *store, nl_store_visit visit, void *ctx, nl_error *err);
/* the files of run `run` (relative paths, in name order) */
nl_code nl_store_each_file(nl_store *store, const char *run, nl_store_visit visit, void *ctx, nl_error *err);

/* ---- a run directory's files, wherever the run is ----
 * RUN_DIR is a run directory's path as readers make it (SWEEP/runs/RUN for
 * a sweep's run). Where that directory is there, its file is read; where it
 * is gone and SWEEP holds a pack, the pack's copy. */
/* the sweep directory and run name of a run directory inside a pack;
 * false when RUN_DIR is a directory or no pack holds it */
bool nl_run_packed(const char *run_dir, char *sweep, size_t sweep_size, char *run, size_t run_size);
/* the same, saying why not where a pack should hold RUN_DIR: a sweep
 * packed whose pack cannot be read (NL_ERR_DATA) or holds no such run
 * (NL_ERR_USAGE); NL_OK with *packed false for any other path */
nl_code nl_run_pack_check(const char *run_dir, bool *packed, nl_error *err);
nl_code nl_run_file_read(const char *run_dir, const char *file, char **text, size_t *len, nl_error *err);
bool nl_run_file_exists(const char *run_dir, const char *file);
/* a run's CSV file (metrics.csv, trace.csv, series.csv) as a table */
nl_code nl_run_csv_read(const char *run_dir, const char *file, nl_csv_table *t, nl_error *err);
/* a run directory there, or a run a pack holds */
bool nl_run_exists(const char *run_dir);

/* ---- packing (store_pack.c) ---- */
typedef struct {
    int runs;            /* runs packed */
    int files;           /* files packed (marker and claim files are not: live state) */
    long long bytes_in;  /* their bytes */
    long long bytes_out; /* the pack's */
    bool resumed;        /* a pack already there: the directories left over were checked and removed */
} nl_store_pack_report;

/* Packs SWEEP_DIR's runs/ (see above). Refuses (NL_ERR_USAGE, nothing
 * written) a directory that is no sweep, a run that is unfinished, being
 * written or holding a checkpoint, a link, a file that is not regular. */
nl_code nl_store_pack(const char *sweep_dir, nl_store_pack_report *rep, nl_error *err);

/* Writes every run of SWEEP_DIR's pack as a run directory OUT/RUN/ (OUT
 * must not exist or be empty): the tree that was packed. *runs: how many. */
nl_code nl_store_export(const char *sweep_dir, const char *out, int *runs, nl_error *err);

#endif
